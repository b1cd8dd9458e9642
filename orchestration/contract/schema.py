"""The building blocks of the extract contract: extract kinds, column types, the `Column` and `Entity`
records, and the code sets several entities share."""

from __future__ import annotations

from dataclasses import dataclass, field

SNAPSHOT = "snapshot"  # full list every extract; a key missing from a later snapshot is deleted
DELTA = "delta"  # new and changed rows with updated_at / is_deleted; latest version wins

# Column types (DuckDB names). Money is DECIMAL(18,2) end to end.
ID = "VARCHAR"
TEXT = "VARCHAR"
MONEY = "DECIMAL(18,2)"
RATE = "DECIMAL(9,4)"
FX_RATE = "DECIMAL(18,8)"  # site-currency units per unit of another currency
INT = "INTEGER"
DATE = "DATE"
TS = "TIMESTAMP"
BOOL = "BOOLEAN"


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    required: bool = True  # must appear in the header (a value may still be empty unless key)
    codes: tuple[str, ...] | None = None  # allowed values (case-sensitive), empty allowed
    non_negative: bool = False  # NEGATIVE_AMOUNT when < 0
    low: float | None = None  # OUT_OF_RANGE when outside [low, high]
    high: float | None = None
    event_time: bool = False  # FUTURE_TIMESTAMP when after the end of the extract date
    references: str | None = None  # parent entity whose key this column holds (ORPHAN_FK)
    pii: bool = False  # personal data: hashed/masked before it reaches a BI-facing table
    free_text: bool = False  # may hold phones/emails: redacted before it reaches a BI-facing table
    field_check: str | None = None  # one of FIELD_REASONS: nulled + flagged, row kept
    doc: str = ""


@dataclass(frozen=True)
class Entity:
    name: str
    kind: str  # SNAPSHOT or DELTA
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    doc: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}")

    @property
    def foreign_keys(self) -> list[Column]:
        return [c for c in self.columns if c.references]

    @property
    def file_name(self) -> str:
        return f"{self.name}.csv"


def _delta_tail() -> tuple[Column, ...]:
    """The two columns every delta entity ends with."""
    return (
        Column("updated_at", TS, event_time=True, doc="when the source system last changed the row"),
        Column("is_deleted", BOOL, doc="true when the row was deleted in the source system"),
    )


def _iso_4217() -> tuple[str, ...]:
    """ISO 4217 currency codes (Babel ships the list; it is a dbt dependency and declared in pyproject)."""
    from babel.numbers import list_currencies

    return tuple(sorted(list_currencies()))


ISO_4217 = _iso_4217()

CHANNELS_COMM = ("phone", "email", "social", "sms", "chat", "in_person")
PRIORITIES = ("urgent", "high", "normal", "low")
