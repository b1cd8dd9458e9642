"""Facts columns: aggregates computed in DuckDB over a whole table, named so the suite says what they are.

A facts suite (`*.files`, `*.facts`) expects columns like `null_count__order_id`; this module turns
those names back into SQL (`count(*) - count("order_id")`), so the suite is the single place that says
which facts are computed. Column names inside a fact are checked against the table's real columns
(an allow-list) before they are quoted into SQL.

| fact column                         | SQL over the rows of the group                      |
|-------------------------------------|-----------------------------------------------------|
| `row_count`                         | `count(*)`                                          |
| `null_count__<col>`                 | `count(*) - count(col)`                             |
| `duplicate_count__<a>__<b>...`      | `count(*) - count(DISTINCT (a, b, ...))` (rows with |
|                                     | a NULL key part are counted by null_count instead)  |
| `conflict_count__<a>__<b>...`       | `count(DISTINCT content) - count(DISTINCT key)`:    |
|                                     | versions beyond one per key, where content is every |
|                                     | column not starting with `_` (lineage); identical   |
|                                     | duplicate rows count 0, like the loader's           |
|                                     | conflicting_duplicate_key rule (NULL keys skipped)  |
| `min__<col>` / `max__<col>`         | `min(col)` / `max(col)`                             |
| `not_hash_count__<col>`             | values that are not 64 lowercase hex digits         |

Format checks on columns that might hold personal data (e.g. a `*_hash` column that should never hold
plaintext) are facts, not row expectations: a failing row expectation shows unexpected values in Data Docs
and check metadata, a count shows none.
"""

from __future__ import annotations

from collections.abc import Iterable

SEP = "__"
KINDS = ("null_count", "duplicate_count", "conflict_count", "min", "max", "not_hash_count")
KEY_KINDS = ("duplicate_count", "conflict_count")  # facts over a (compound) key
HASH_PATTERN = "^[0-9a-f]{64}$"  # HMAC-SHA256 as hex


def columns_of(suite: dict) -> list[str]:
    """Every column a suite's expectations name (column, column_A/B, column_list), in order, once."""
    out: list[str] = []
    for exp in suite.get("expectations", []):
        kw = exp.get("kwargs", {})
        names = [kw.get("column"), kw.get("column_A"), kw.get("column_B"), *(kw.get("column_list") or [])]
        for name in names:
            if name and name not in out:
                out.append(name)
    return out


def parse(name: str) -> tuple[str, list[str]] | None:
    """`null_count__x` -> ("null_count", ["x"]); `row_count` -> ("row_count", []); other names -> None."""
    if name == "row_count":
        return "row_count", []
    kind, _, rest = name.partition(SEP)
    if kind not in KINDS or not rest:
        return None
    cols = rest.split(SEP)
    if kind not in KEY_KINDS and len(cols) != 1:
        return None
    return kind, cols


def quote(name: str, allowed: Iterable[str]) -> str:
    if name not in set(allowed):
        raise ValueError(f"column {name!r} is not a column of the table (known: {', '.join(sorted(allowed))})")
    return '"' + name.replace('"', '""') + '"'


def select_list(suite: dict, allowed: Iterable[str]) -> list[str]:
    """SQL select items (`<aggregate> AS "<fact>"`) for every fact column the suite names."""
    allowed = list(allowed)
    items = []
    for name in columns_of(suite):
        parsed = parse(name)
        if parsed is None:
            continue
        kind, cols = parsed
        q = [quote(c, allowed) for c in cols]
        if kind == "row_count":
            expr = "count(*)"
        elif kind == "null_count":
            expr = f"count(*) - count({q[0]})"
        elif kind == "duplicate_count":
            not_null = " AND ".join(f"{c} IS NOT NULL" for c in q)
            distinct = f"({', '.join(q)})" if len(q) > 1 else q[0]
            expr = f"count(*) FILTER (WHERE {not_null}) - count(DISTINCT {distinct}) FILTER (WHERE {not_null})"
        elif kind == "conflict_count":
            not_null = " AND ".join(f"{c} IS NOT NULL" for c in q)
            content = [quote(c, allowed) for c in allowed if not c.startswith("_")]
            expr = (f"count(DISTINCT row({', '.join(content)})) FILTER (WHERE {not_null}) "
                    f"- count(DISTINCT row({', '.join(q)})) FILTER (WHERE {not_null})")
        elif kind == "not_hash_count":
            expr = f"count(*) FILTER (WHERE NOT regexp_full_match(CAST({q[0]} AS VARCHAR), '{HASH_PATTERN}'))"
        else:
            expr = f"{kind}({q[0]})"
        items.append(f'{expr} AS "{name}"')
    return items
