"""Column specs of a mapping: how one contract column is filled, parsed and checked from the YAML.

A spec is a source column name, `~` (empty), or a mapping with exactly one base (`from`, `concat`, `value`,
`derive_from`) and options (`sep`, `split`, `format`, `codes`, `default`); see docs/mappings.md. Values
the mapping itself writes (constants, code targets, defaults) must be valid for the contract column.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from orchestration import contract
from orchestration.errors import CrmWarehouseError

SPEC_KEYS = ("from", "concat", "value", "derive_from", "sep", "split", "format", "codes", "default")
BASES = ("from", "concat", "value", "derive_from")
EPOCH_FORMATS = ("epoch_ms", "epoch_s")
TRUE_WORDS = ("true", "t", "1", "yes", "y")
FALSE_WORDS = ("false", "f", "0", "no", "n")


@dataclass(frozen=True)
class ColumnSpec:
    """How one contract column of one source block is filled."""

    column: str  # contract column
    path: str  # key path in the mapping file, for messages
    kind: str  # empty | from | concat | value | derive
    sources: tuple[str, ...] = ()  # source columns (from: first non-empty wins; concat: joined)
    value: str | None = None  # the constant of kind `value`
    derive_from: str | None = None  # contract column of the same block (kind `derive`)
    sep: str = " "  # concat separator
    split: str | None = None  # keep the first item of a list separated by this
    formats: tuple[str, ...] = ()  # strptime formats, or one of EPOCH_FORMATS
    codes: tuple[tuple[str, str | None], ...] | None = None  # lower-cased source value -> contract value
    default: str | None = None  # used when the result is empty (derive: when no code matched)


class Checker:
    """Raises errors prefixed with the mapping file name."""

    def __init__(self, path: Path) -> None:
        self.file = str(path)

    def fail(self, where: str, message: str) -> None:
        raise CrmWarehouseError(f"{self.file}: {where}: {message}")

    def text(self, value: object, where: str) -> str | None:
        """A YAML scalar as contract text (true/false, numbers as written, dates ISO)."""
        if value is None:
            return None
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, datetime | date):
            return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
        if isinstance(value, int | float | str):
            text = str(value).strip()
            return text or None
        self.fail(where, f"expected a single value, got {type(value).__name__}")
        return None  # pragma: no cover

    def names(self, value: object, where: str) -> tuple[str, ...]:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items or not all(isinstance(v, str) and v.strip() for v in items):
            self.fail(where, "expected a source column name or a non-empty list of them")
        return tuple(v.strip() for v in items)

    def keys(self, data: dict, allowed: tuple[str, ...], where: str) -> None:
        for key in data:
            if key not in allowed:
                self.fail(f"{where}.{key}" if where else str(key),
                          f"unknown key; expected one of {', '.join(allowed)}")


def parse_column(ck: Checker, ent: contract.Entity, name: str, raw: object, where: str) -> ColumnSpec:
    col = ent.column(name)
    if raw is None or isinstance(raw, str):
        if raw is None or not raw.strip():
            if name in ent.key:
                ck.fail(where, "a key column cannot be empty; map it to a source column")
            return ColumnSpec(name, where, "empty")
        raw = {"from": raw}
    if not isinstance(raw, dict):
        ck.fail(where, "expected a source column name, ~ (empty) or a spec with one of " + ", ".join(BASES))
    ck.keys(raw, SPEC_KEYS, where)
    bases = [k for k in BASES if k in raw]
    if len(bases) != 1:
        ck.fail(where, f"give exactly one of {', '.join(BASES)}")
    base = bases[0]
    fields: dict = {}
    if base == "from":
        fields.update(kind="from", sources=ck.names(raw["from"], f"{where}.from"))
    elif base == "concat":
        fields.update(kind="concat", sources=ck.names(raw["concat"], f"{where}.concat"))
        if "sep" in raw:
            if not isinstance(raw["sep"], str):
                ck.fail(f"{where}.sep", "expected text, e.g. ' '")
            fields["sep"] = raw["sep"]
    elif base == "value":
        value = ck.text(raw["value"], f"{where}.value")
        fields.update(kind="value" if value is not None else "empty", value=_allowed(ck, col, value, f"{where}.value"))
        if value is None and name in ent.key:
            ck.fail(where, "a key column cannot be empty; map it to a source column")
    else:
        other = raw["derive_from"]
        if other not in ent.column_names or other == name:
            ck.fail(f"{where}.derive_from", f"expected another contract column of {ent.name}")
        if "codes" not in raw:
            ck.fail(where, "derive_from needs codes: which values of the other column give which value")
        fields.update(kind="derive", derive_from=other)
    if "sep" in raw and base != "concat":
        ck.fail(f"{where}.sep", "only applies with concat")
    if "split" in raw:
        if base not in ("from", "concat") or not isinstance(raw["split"], str) or not raw["split"]:
            ck.fail(f"{where}.split", "expected a separator text, with from or concat")
        fields["split"] = raw["split"]
    if "format" in raw:
        fields["formats"] = _formats(ck, col, raw["format"], base, f"{where}.format")
    if "codes" in raw:
        fields["codes"] = _codes(ck, col, raw["codes"], f"{where}.codes")
    if "default" in raw:
        fields["default"] = _allowed(ck, col, ck.text(raw["default"], f"{where}.default"), f"{where}.default")
    return ColumnSpec(name, where, **fields)


def _allowed(ck: Checker, col: contract.Column, value: str | None, where: str) -> str | None:
    """A value the mapping itself writes must be valid for the column (codes, booleans)."""
    if value is None:
        return None
    if col.codes:
        for code in col.codes:
            if code.lower() == value.lower():
                return code
        ck.fail(where, f"{value!r} is not a {col.name} code; expected one of {', '.join(col.codes)}")
    if col.type == contract.BOOL:
        if value.lower() not in ("true", "false"):
            ck.fail(where, f"{value!r} is not a boolean; expected true or false")
        return value.lower()
    return value


def _formats(ck: Checker, col: contract.Column, raw: object, base: str, where: str) -> tuple[str, ...]:
    if col.type not in (contract.DATE, contract.TS):
        ck.fail(where, f"format only applies to DATE and TIMESTAMP columns; {col.name} is {col.type}")
    if base not in ("from", "concat"):
        ck.fail(where, "format applies to values read from the source (from, concat)")
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list) or not items or not all(isinstance(f, str) and f for f in items):
        ck.fail(where, "expected a strptime format (e.g. '%m/%d/%Y %I:%M %p'), a list of them, or epoch_ms / epoch_s")
    if any(f in EPOCH_FORMATS for f in items):
        if len(items) != 1:
            ck.fail(where, "epoch_ms / epoch_s cannot be combined with other formats")
        return tuple(items)
    import duckdb

    with duckdb.connect() as con:
        try:
            con.execute("SELECT try_strptime('2000-01-01', $f)", {"f": items}).fetchall()
        except duckdb.Error as exc:
            ck.fail(where, f"not a valid strptime format ({str(exc).splitlines()[0]})")
    return tuple(items)


def _codes(ck: Checker, col: contract.Column, raw: object, where: str) -> tuple[tuple[str, str | None], ...]:
    if not isinstance(raw, dict) or not raw:
        ck.fail(where, "expected a mapping of source value -> contract value (~ for empty)")
    out: dict[str, str | None] = {}
    for key, value in raw.items():
        k = ck.text(key, where)
        if k is None:
            ck.fail(where, "a source value cannot be empty; use default for empty values")
        if k.lower() in out:
            ck.fail(f"{where}.{k}", "listed twice (source values are compared case-insensitively)")
        out[k.lower()] = _allowed(ck, col, ck.text(value, f"{where}.{k}"), f"{where}.{k}")
    return tuple(out.items())
