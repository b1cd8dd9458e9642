"""Row-level and field-level rules of the extract contract, as DuckDB SQL built from the contract.

Every rejected row gets exactly one reason code: the first in `contract.REASON_PRECEDENCE` that applies.
Values (code sets, bounds, the extract cutoff, patterns) are bound as parameters; identifiers come from
the contract allow-list (see `sqlnames`).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, timedelta

from orchestration import contract
from orchestration.raw.sqlnames import key_expr, quote

# Parser error types of DuckDB's reject table, mapped to our reason codes.
COLUMN_COUNT_ERRORS = ("MISSING COLUMNS", "TOO MANY COLUMNS")
DATE_TYPES = (contract.DATE, contract.TS)

FULLWIDTH_DIGITS = "０１２３４５６７８９"
ASCII_DIGITS = "0123456789"


def parse_reason(error_type: str, column_type: str | None) -> str:
    """Reason code for a record DuckDB's CSV reader rejected."""
    if error_type in COLUMN_COUNT_ERRORS:
        return contract.WRONG_COLUMN_COUNT
    if error_type == "CAST" and column_type in DATE_TYPES:
        return contract.BAD_DATE
    return contract.UNPARSEABLE_VALUE


def row_rule_sql(
    ent: contract.Entity, extract_date: date, delivered: Collection[str] = contract.LOAD_ORDER
) -> tuple[str, dict]:
    """SQL creating temp table `checked_rows` = parsed rows + `_reason`, `_column` (NULL when clean).

    Orphan checks read temp tables `parent_keys_<entity>` (one `key` column) prepared by the loader; a
    foreign key to an entity the site does not deliver (`delivered`, from crm.yml) is not checked.
    """
    params: dict = {"cutoff": extract_date + timedelta(days=1)}
    cases: list[tuple[str, str, str | None]] = []  # (condition, reason, column)

    for col in ent.key:
        q = quote(ent, col)
        cond = f"{q} IS NULL" + (f" OR trim({q}) = ''" if ent.column(col).type == contract.TEXT else "")
        cases.append((cond, contract.MISSING_KEY, col))
    cases.append(("_conflicting", contract.CONFLICTING_DUPLICATE_KEY, None))
    for i, col in enumerate(c for c in ent.columns if c.codes):
        params[f"codes_{i}"] = [code.lower() for code in col.codes]
        q = quote(ent, col.name)
        cases.append(
            (f"{q} IS NOT NULL AND NOT list_contains($codes_{i}, lower(trim({q})))", contract.UNKNOWN_CODE, col.name)
        )
    for col in ent.columns:
        if col.non_negative:
            cases.append((f"{quote(ent, col.name)} < 0", contract.NEGATIVE_AMOUNT, col.name))
    for i, col in enumerate(c for c in ent.columns if c.low is not None):
        params[f"low_{i}"], params[f"high_{i}"] = col.low, col.high
        q = quote(ent, col.name)
        cases.append((f"{q} < $low_{i} OR {q} > $high_{i}", contract.OUT_OF_RANGE, col.name))
    for col in ent.columns:
        if col.event_time:
            cases.append((f"{quote(ent, col.name)} >= $cutoff", contract.FUTURE_TIMESTAMP, col.name))
    for col in checked_foreign_keys(ent, delivered):
        q = quote(ent, col.name)
        cases.append(
            (
                f"{q} IS NOT NULL AND {q} NOT IN (SELECT key FROM parent_keys_{col.references})",
                contract.ORPHAN_FK,
                col.name,
            )
        )

    reason_sql = "CASE " + " ".join(f"WHEN {c} THEN '{r}'" for c, r, _ in cases) + " END"
    column_sql = "CASE " + " ".join(f"WHEN {c} THEN " + (f"'{col}'" if col else "NULL") for c, _, col in cases)
    column_sql += " END"
    content = "md5(CAST(row(" + ", ".join(quote(ent, c) for c in ent.column_names) + ") AS VARCHAR))"
    key_cols = ", ".join(quote(ent, c) for c in ent.key)
    sql = f"""
        CREATE OR REPLACE TEMP TABLE checked_rows AS
        WITH conflicting_keys AS (
            SELECT {key_cols} FROM parsed_rows
            GROUP BY ALL HAVING count(DISTINCT {content}) > 1
        ),
        flagged AS (
            SELECT p.*, (k.{quote(ent, ent.key[0])} IS NOT NULL) AS _conflicting
            FROM parsed_rows p LEFT JOIN conflicting_keys k USING ({key_cols})
        )
        SELECT * EXCLUDE (_conflicting), {reason_sql} AS _reason, {column_sql} AS _column,
               {key_expr(ent)} AS _key
        FROM flagged
    """
    return sql, params


def checked_foreign_keys(ent: contract.Entity, delivered: Collection[str]) -> list[contract.Column]:
    """The foreign keys whose parent entity the site delivers (the others cannot be checked)."""
    return [c for c in ent.foreign_keys if c.references in delivered]


def field_checks(ent: contract.Entity) -> list[tuple[str, str, str]]:
    """(column, reason, SQL condition that is true when the value is a field-level defect)."""
    checks = []
    for col in ent.columns:
        if not col.field_check:
            continue
        q = quote(ent, col.name)
        if col.field_check == contract.INVALID_EMAIL:
            cond = f"{q} IS NOT NULL AND trim({q}) <> '' AND NOT regexp_full_match(trim({q}), $email_pattern)"
        elif col.field_check == contract.INVALID_PHONE:
            folded = f"regexp_replace(translate({q}, $fullwidth, $ascii), '[\\s\\-\\.\\(\\)]', '', 'g')"
            cond = f"{q} IS NOT NULL AND trim({q}) <> '' AND NOT regexp_full_match({folded}, $phone_pattern)"
        elif col.field_check == contract.IMPOSSIBLE_BIRTH_DATE:
            cond = f"{q} IS NOT NULL AND ({q} < $min_birth_date OR {q} > $extract_date)"
        else:  # pragma: no cover - the contract only uses the three above
            raise ValueError(col.field_check)
        checks.append((col.name, col.field_check, cond))
    return checks


def field_check_params(extract_date: date) -> dict:
    return {
        "email_pattern": contract.EMAIL_PATTERN,
        "phone_pattern": contract.PHONE_PATTERN,
        "fullwidth": FULLWIDTH_DIGITS,
        "ascii": ASCII_DIGITS,
        "min_birth_date": date.fromisoformat(contract.MIN_BIRTH_DATE),
        "extract_date": extract_date,
    }
