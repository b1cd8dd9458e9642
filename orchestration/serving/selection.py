"""Which tables a publish copies: the published schemas (`restricted` only on explicit opt-in), the
columns withheld, the tables publishing writes itself, and the keep-previous patterns (`schema`,
`schema.table`, `schema.prefix*`) naming the tables copied from the current serving file instead of the
work file after a failed domain."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import duckdb

from orchestration.errors import CrmWarehouseError
from orchestration.raw.sqlnames import execute

PUBLISHED_SCHEMAS = ("marts", "ml", "reports", "ops")
RESTRICTED_SCHEMA = "restricted"  # full personal data: published only with CRM_PUBLISH_RESTRICTED=1
# Columns that may hold raw extract text (and so personal data) never leave the work file.
WITHHELD_COLUMNS = {("ops", "quarantine"): ("raw_text", "detail")}
# Tables publishing writes itself; a work-file table of the same name is ignored.
PUBLISH_OWN_TABLES = {("ops", "publish_log"), ("ops", "run_history")}

_PATTERN = re.compile(r"^(?P<schema>[a-z_]+)(?:\.(?P<table>[A-Za-z0-9_]+)(?P<star>\*)?)?$")


def check_patterns(patterns: Iterable[str]) -> tuple[str, ...]:
    """Validate keep-previous patterns: `schema`, `schema.table` or `schema.prefix*`."""
    out = []
    for p in patterns:
        m = _PATTERN.match(p.strip())
        if not m or m["schema"] not in PUBLISHED_SCHEMAS:
            raise CrmWarehouseError(
                f"keep-previous pattern {p!r}: expected SCHEMA, SCHEMA.TABLE or SCHEMA.PREFIX* with SCHEMA one of "
                f"{', '.join(PUBLISHED_SCHEMAS)}"
            )
        out.append(p.strip())
    return tuple(out)


def matches(schema: str, table: str, patterns: Sequence[str]) -> bool:
    if (schema, table) in PUBLISH_OWN_TABLES:
        return False
    for p in patterns:
        m = _PATTERN.match(p)
        if not m or m["schema"] != schema:
            continue
        if m["table"] is None or (table.startswith(m["table"]) if m["star"] else table == m["table"]):
            return True
    return False


def published_schemas() -> tuple[str, ...]:
    """The schemas a publish copies: PUBLISHED_SCHEMAS, plus `restricted` (plaintext personal data) only
    with the explicit opt-in CRM_PUBLISH_RESTRICTED=1."""
    from orchestration.settings import publish_restricted

    return PUBLISHED_SCHEMAS + ((RESTRICTED_SCHEMA,) if publish_restricted() else ())


def ident(name: str) -> str:
    """Quote an identifier read from our own files' catalogs."""
    return '"' + name.replace('"', '""') + '"'


def published_tables(con: duckdb.DuckDBPyConnection, database: str) -> list[tuple[str, str, list[str]]]:
    """(schema, table, columns) of every TABLE (not view) of the published schemas in `database`."""
    rows = execute(
        con,
        """
        SELECT c.schema_name, c.table_name, list(c.column_name ORDER BY c.column_index)
        FROM duckdb_columns() c
        JOIN duckdb_tables() t
          ON t.database_name = c.database_name AND t.schema_name = c.schema_name AND t.table_name = c.table_name
        WHERE c.database_name = $db AND list_contains($schemas, c.schema_name)
        GROUP BY ALL ORDER BY 1, 2
        """,
        {"db": database, "schemas": list(published_schemas())},
    ).fetchall()
    return [(s, t, cols) for s, t, cols in rows]
