"""The extract contract as data: every entity, its columns, types, keys and rules.

One source of truth shared by the generator (what it writes), the raw loader (how it parses and
which rows it quarantines), the dbt sources and the docs (`docs/extract_contract.md`).
Identifiers used in SQL anywhere in the project come from this allow-list, never from a file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# ---------------------------------------------------------------------------------------------
# Reason codes: every quarantined row carries exactly one, chosen by this precedence (first wins).
# ---------------------------------------------------------------------------------------------
WRONG_COLUMN_COUNT = "wrong_column_count"  # record has more or fewer fields than the header
UNPARSEABLE_VALUE = "unparseable_value"  # a number / boolean / text that does not parse
BAD_DATE = "bad_date"  # a DATE or TIMESTAMP value that does not parse
MISSING_KEY = "missing_key"  # a key column is empty
CONFLICTING_DUPLICATE_KEY = "conflicting_duplicate_key"  # same key twice in one file, different content
UNKNOWN_CODE = "unknown_code"  # a code column holds a value outside its allowed set
NEGATIVE_AMOUNT = "negative_amount"  # money or quantity below zero
OUT_OF_RANGE = "out_of_range"  # a bounded value outside its bounds (discount 0-1, score 1-5, pct 0-100)
FUTURE_TIMESTAMP = "future_timestamp"  # an event time after the end of the file's extract date
ORPHAN_FK = "orphan_fk"  # a foreign key with no parent row loaded (yet); re-tried every run

REASON_PRECEDENCE = (
    WRONG_COLUMN_COUNT,
    UNPARSEABLE_VALUE,
    BAD_DATE,
    MISSING_KEY,
    CONFLICTING_DUPLICATE_KEY,
    UNKNOWN_CODE,
    NEGATIVE_AMOUNT,
    OUT_OF_RANGE,
    FUTURE_TIMESTAMP,
    ORPHAN_FK,
)

# Field-level defects: the row is kept, the field is nulled and an `ops.data_issues` row is written.
INVALID_EMAIL = "invalid_email"
INVALID_PHONE = "invalid_phone"
IMPOSSIBLE_BIRTH_DATE = "impossible_birth_date"  # parses, but before 1900-01-01 or after the extract date
FIELD_REASONS = (INVALID_EMAIL, INVALID_PHONE, IMPOSSIBLE_BIRTH_DATE)

# Patterns the loader uses for field checks (DuckDB regexp syntax, RE2). Phones are checked after
# full-width digits are folded to ASCII and separators (space, -, ., parentheses) are removed.
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$"
PHONE_PATTERN = r"^\+?[0-9]{7,15}$"
MIN_BIRTH_DATE = "1900-01-01"

# Email local parts of role mailboxes (info@, sales@ ...), shared by different companies: an email made of
# one of these never links two customer rows on its own (identity resolution, a phone + name match must).
# The one list: the dbt macro customer_generic_email_local_parts() is generated from it
# (dbt_project/scripts/gen_sources.py) and the generator plants exactly these.
GENERIC_EMAIL_LOCAL_PARTS: tuple[str, ...] = (
    "info", "sales", "contact", "admin", "service", "support", "hello", "office",
)

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

ENTITIES: tuple[Entity, ...] = (
    Entity(
        "customers",
        DELTA,
        ("customer_id",),
        (
            Column("customer_id", ID, doc="source system customer id"),
            Column("name", TEXT, pii=True, doc="person or company name (Chinese or Latin)"),
            Column("gender", TEXT, codes=("male", "female", "unknown"), required=False),
            Column("birth_date", DATE, pii=True, field_check=IMPOSSIBLE_BIRTH_DATE, required=False),
            Column("occupation", TEXT, required=False),
            Column("phone", TEXT, pii=True, field_check=INVALID_PHONE),
            Column("email", TEXT, pii=True, field_check=INVALID_EMAIL),
            Column("address", TEXT, pii=True, required=False),
            Column("city", TEXT),
            Column("region", TEXT),
            Column("country", TEXT),
            Column("customer_type", TEXT, codes=("individual", "company")),
            Column("source", TEXT, codes=("web", "referral", "event", "ads", "partner", "store", "social")),
            Column("status", TEXT, codes=("prospect", "active", "inactive")),
            Column("created_at", TS, event_time=True),
            *_delta_tail(),
        ),
        doc="one row per customer version",
    ),
    Entity(
        "products",
        SNAPSHOT,
        ("product_id",),
        (
            Column("product_id", ID),
            Column("name", TEXT),
            Column("category", TEXT),
            Column("list_price", MONEY, non_negative=True),
            Column("launched_at", DATE),
        ),
    ),
    Entity(
        "sales_reps",
        SNAPSHOT,
        ("rep_id",),
        (
            Column("rep_id", ID),
            Column("name", TEXT, pii=True),
            Column("region", TEXT),
            Column("team", TEXT),
            Column("hired_at", DATE),
        ),
    ),
    Entity(
        "service_plans",
        SNAPSHOT,
        ("priority", "valid_from"),
        (
            Column("priority", TEXT, codes=PRIORITIES),
            Column("first_response_target_minutes", INT, non_negative=True),
            Column("resolution_target_hours", INT, non_negative=True),
            Column("csat_target", RATE, low=1, high=5),
            Column("valid_from", DATE),
        ),
        doc="SLA plan per ticket priority, effective from valid_from",
    ),
    Entity(
        "fx_rates",
        SNAPSHOT,
        ("currency", "valid_from"),
        (
            Column("currency", TEXT, codes=ISO_4217, doc="ISO 4217 code of the foreign currency"),
            Column("valid_from", DATE, doc="the rate applies to amounts dated from this day until the next"),
            Column("rate_to_site", FX_RATE, non_negative=True,
                   doc="site-currency units per one unit of `currency`"),
        ),
        doc="exchange rates into the site currency; only needed when rows carry another currency (optional)",
    ),
    Entity(
        "campaigns",
        SNAPSHOT,
        ("campaign_id",),
        (
            Column("campaign_id", ID),
            Column("name", TEXT),
            Column("goal", TEXT),
            Column("strategy", TEXT),
            Column("measures", TEXT),
            Column("channel", TEXT, codes=("email", "sms", "social", "ads", "event", "phone")),
            Column("start_date", DATE),
            Column("end_date", DATE),
            Column("budget", MONEY, non_negative=True),
            Column("target_segment", TEXT),
            Column("kpi_metric", TEXT, doc="what the KPI measures, e.g. conversion_rate"),
            Column("kpi_target", RATE, doc="target value of kpi_metric"),
            Column("attribution_days", INT, non_negative=True, doc="attribution window length in days"),
        ),
        doc="marketing campaign plan",
    ),
    Entity(
        "sales_targets",
        SNAPSHOT,
        ("period", "rep_id"),
        (
            Column("period", TEXT, doc="YYYY-MM"),
            Column("rep_id", ID, references="sales_reps"),
            Column("region", TEXT),
            Column("target_amount", MONEY, non_negative=True),
            Column("target_units", INT, non_negative=True),
            Column("budget", MONEY, non_negative=True),
        ),
        doc="sales plan per rep and month",
    ),
    Entity(
        "customer_relationships",
        DELTA,
        ("from_customer_id", "to_customer_id", "relationship_type"),
        (
            Column("from_customer_id", ID, references="customers"),
            Column("to_customer_id", ID, references="customers"),
            Column(
                "relationship_type",
                TEXT,
                codes=("referral", "family", "colleague", "parent_company", "partner"),
            ),
            Column("since", DATE),
            *_delta_tail(),
        ),
    ),
    Entity(
        "communications",
        DELTA,
        ("communication_id",),
        (
            Column("communication_id", ID),
            Column("customer_id", ID, references="customers"),
            Column("channel", TEXT, codes=CHANNELS_COMM),
            Column("direction", TEXT, codes=("inbound", "outbound")),
            Column("occurred_at", TS, event_time=True),
            Column("subject", TEXT),
            Column("content", TEXT, free_text=True),
            Column(
                "outcome",
                TEXT,
                codes=("completed", "no_answer", "follow_up", "interested", "not_interested", "resolved"),
            ),
            Column("rep_id", ID, references="sales_reps"),
            Column("campaign_id", ID, references="campaigns"),
            *_delta_tail(),
        ),
    ),
    Entity(
        "behavior_events",
        DELTA,
        ("event_id",),
        (
            Column("event_id", ID),
            Column("customer_id", ID, references="customers"),
            Column("event_type", TEXT, codes=("visit", "like", "cart", "purchase", "search", "share")),
            Column("occurred_at", TS, event_time=True),
            Column("product_id", ID, references="products"),
            Column("channel", TEXT, codes=("web", "app", "store", "mini_program")),
            *_delta_tail(),
        ),
    ),
    Entity(
        "orders",
        DELTA,
        ("order_id",),
        (
            Column("order_id", ID),
            Column("customer_id", ID, references="customers"),
            Column("rep_id", ID, references="sales_reps"),
            Column("order_date", TS, event_time=True),
            Column("status", TEXT, codes=("completed", "cancelled", "refunded")),
            Column("channel", TEXT, codes=("web", "app", "store", "phone", "partner")),
            Column("currency", TEXT, codes=ISO_4217, doc="ISO 4217; another than the site currency (crm.yml) "
                   "is converted with fx_rates"),
            *_delta_tail(),
        ),
    ),
    Entity(
        "order_items",
        DELTA,
        ("order_id", "line_no"),
        (
            Column("order_id", ID, references="orders"),
            Column("line_no", INT),
            Column("product_id", ID, references="products"),
            Column("quantity", INT, non_negative=True),
            Column("unit_price", MONEY, non_negative=True),
            Column("discount", RATE, low=0, high=1, doc="fraction of the line amount"),
            *_delta_tail(),
        ),
        doc="net = round(quantity * unit_price * (1 - discount), 2)",
    ),
    Entity(
        "opportunities",
        DELTA,
        ("opportunity_id",),
        (
            Column("opportunity_id", ID),
            Column("customer_id", ID, references="customers"),
            Column("rep_id", ID, references="sales_reps"),
            Column("created_at", TS, event_time=True),
            Column(
                "stage",
                TEXT,
                codes=("prospecting", "qualification", "proposal", "negotiation", "closed_won", "closed_lost"),
            ),
            Column("amount", MONEY, non_negative=True),
            Column("close_date", DATE, doc="expected or actual close date (may be in the future)"),
            Column("is_closed", BOOL),
            Column("is_won", BOOL),
            *_delta_tail(),
        ),
    ),
    Entity(
        "campaign_spend",
        DELTA,
        ("campaign_id", "date"),
        (
            Column("campaign_id", ID, references="campaigns"),
            Column("date", DATE),
            Column("spend", MONEY, non_negative=True),
            Column("progress_pct", RATE, low=0, high=100),
            Column("status", TEXT, codes=("planned", "running", "paused", "completed")),
            Column("risk_note", TEXT),
            *_delta_tail(),
        ),
        doc="campaign execution per day",
    ),
    Entity(
        "campaign_members",
        DELTA,
        ("campaign_id", "customer_id"),
        (
            Column("campaign_id", ID, references="campaigns"),
            Column("customer_id", ID, references="customers"),
            Column("group", TEXT, codes=("treatment", "control")),
            Column("assigned_at", TS, event_time=True),
            Column("sent_at", TS, event_time=True),
            Column("opened_at", TS, event_time=True),
            Column("clicked_at", TS, event_time=True),
            Column("responded_at", TS, event_time=True),
            *_delta_tail(),
        ),
    ),
    Entity(
        "service_tickets",
        DELTA,
        ("ticket_id",),
        (
            Column("ticket_id", ID),
            Column("customer_id", ID, references="customers"),
            Column("channel", TEXT, codes=("phone", "email", "chat", "web", "social")),
            Column(
                "category",
                TEXT,
                codes=("billing", "delivery", "product_quality", "account", "technical", "returns", "inquiry"),
            ),
            Column("priority", TEXT, codes=PRIORITIES),
            Column("opened_at", TS, event_time=True),
            Column("first_response_at", TS, event_time=True),
            Column("resolved_at", TS, event_time=True),
            Column("status", TEXT, codes=("new", "open", "pending", "solved", "closed")),
            Column("agent_id", ID),
            Column("satisfaction_score", INT, low=1, high=5),
            Column("feedback_text", TEXT, free_text=True),
            Column("reopened_count", INT, non_negative=True),
            *_delta_tail(),
        ),
    ),
)

ENTITY_BY_NAME: dict[str, Entity] = {e.name: e for e in ENTITIES}

#: The CRM modules and the entities each delivers. A site may deliver only some modules (or some entities of
#: a module): its site configuration (`crm.yml`, orchestration/site.py) says which; the marts of an absent
#: module exist empty and `ops.module_status` says why.
MODULES: dict[str, tuple[str, ...]] = {
    "customer": ("customers", "customer_relationships", "communications", "behavior_events"),
    "sales": ("products", "sales_reps", "sales_targets", "fx_rates", "orders", "order_items", "opportunities"),
    "marketing": ("campaigns", "campaign_spend", "campaign_members"),
    "service": ("service_plans", "service_tickets"),
}
MODULE_OF: dict[str, str] = {e: m for m, ents in MODULES.items() for e in ents}
#: Every site delivers customers: every other entity hangs off them.
ALWAYS_DELIVERED = ("customers",)
#: Delivered only where a site names them in crm.yml `entities` (a module does not imply them, and they do
#: not count for a module's present/partial status): exchange rates matter only for multi-currency data.
OPTIONAL_ENTITIES = ("fx_rates",)
# ENTITIES is already in load order: every parent comes before its children.
LOAD_ORDER: tuple[str, ...] = tuple(e.name for e in ENTITIES)

MANIFEST_NAME = "_manifest.json"
SUPPORTED_ENCODINGS = ("utf-8", "utf-8-sig", "gbk", "gb18030")


def entity(name: str) -> Entity:
    """Look an entity up by name; a name outside the contract is a user error."""
    try:
        return ENTITY_BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown entity {name!r}; the contract has: {', '.join(LOAD_ORDER)}") from None


def _check_load_order() -> None:
    seen: set[str] = set()
    for e in ENTITIES:
        for c in e.foreign_keys:
            assert c.references in seen or c.references == e.name, (e.name, c.name)
        seen.add(e.name)


_check_load_order()
assert sorted(MODULE_OF) == sorted(ENTITY_BY_NAME), "every entity belongs to exactly one module"


def markdown_tables() -> str:
    """The per-entity column tables of `docs/extract_contract.md` (kept in sync by a test)."""
    out = []
    for e in ENTITIES:
        out.append(f"### `{e.name}` ({e.kind}, key: {', '.join(e.key)})\n")
        if e.doc:
            out.append(f"{e.doc}\n")
        out.append("| column | type | rules |\n|---|---|---|")
        for c in e.columns:
            rules = []
            if c.name in e.key:
                rules.append("key")
            if not c.required:
                rules.append("optional column")
            if c.codes is ISO_4217:
                rules.append("an ISO 4217 currency code")
            elif c.codes:
                rules.append("one of " + ", ".join(f"`{v}`" for v in c.codes))
            if c.non_negative:
                rules.append(">= 0")
            if c.low is not None:
                rules.append(f"{c.low:g} to {c.high:g}")
            if c.event_time:
                rules.append("not after the extract date")
            if c.references:
                rules.append(f"references `{c.references}`")
            if c.field_check:
                rules.append(f"field check `{c.field_check}`")
            if c.pii:
                rules.append("personal data")
            if c.free_text:
                rules.append("free text (redacted for BI)")
            if c.doc:
                rules.append(c.doc)
            out.append(f"| `{c.name}` | {c.type} | {'; '.join(rules)} |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":  # python -m orchestration.contract > tables for the docs
    print(markdown_tables())
