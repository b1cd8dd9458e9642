"""Identifiers for SQL come from the contract allow-list only, never from a file or a user."""

from __future__ import annotations

import re

from orchestration import contract


def quote(ent: contract.Entity, column: str) -> str:
    """A double-quoted column identifier, after checking the column belongs to the entity's contract."""
    if column not in ent.column_names:
        raise ValueError(f"{column!r} is not a contract column of {ent.name}")
    return '"' + column + '"'


def key_expr(ent: contract.Entity, prefix: str = "") -> str:
    """The entity key as one text value: composite keys joined with '|' (as in the truth files)."""
    parts = [f"coalesce(CAST({prefix}{quote(ent, c)} AS VARCHAR), '')" for c in ent.key]
    return parts[0] if len(parts) == 1 else "concat_ws('|', " + ", ".join(parts) + ")"


_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


def execute(con, sql: str, params: dict | None = None):
    """Run `sql` with only the named parameters it references (DuckDB rejects unused ones)."""
    used = set(_PARAM.findall(sql))
    return con.execute(sql, {k: v for k, v in (params or {}).items() if k in used})


def scalar(con, sql: str, params: dict | None = None):
    """The single value of a one-row, one-column query (fully fetched, so the connection is free again)."""
    rows = execute(con, sql, params).fetchall()
    return rows[0][0] if rows else None
