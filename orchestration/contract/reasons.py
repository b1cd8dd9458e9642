"""Row and field rules of the extract contract: quarantine reason codes (with their precedence), the
field checks that null a value and flag it, and the patterns and lists those checks use."""

from __future__ import annotations

# Reason codes: every quarantined row carries exactly one, chosen by this precedence (first wins).
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
