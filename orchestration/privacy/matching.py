"""Which values are forgotten: the Sweeper hashes the identifier values a place holds against the
forgotten list and remembers the matches (plaintext, in memory only, for the length of one forget).

Reads: identifier values through SQL the caller passes (constant text, values as parameters).
Writes: temp tables FORGET_VALUE_TABLES in a connection (`load_into`), one `value` column each, which the
row predicates of `targets.Target` read; nothing on disk.
"""

from __future__ import annotations

import re

import duckdb

from orchestration.privacy.suppress import (
    EMAIL_PATTERN,
    ID_KINDS,
    KINDS,
    TOKEN_PATTERN,
    ForgottenList,
    Hasher,
)
from orchestration.raw.sqlnames import execute

# kind -> temp table of its forgotten values (fixed identifiers, never built from data)
FORGET_VALUE_TABLES = {"customer_id": "forget_customer_ids", "order_id": "forget_order_ids", "email": "forget_emails"}
# The patterns raw text is split with, as query parameters ($token_pattern, $email_pattern).
PATTERN_PARAMS = {"token_pattern": TOKEN_PATTERN, "email_pattern": EMAIL_PATTERN}


class Sweeper:
    """The forgotten values found so far, by kind (customer_id, order_id, email)."""

    def __init__(self, hasher: Hasher, forgotten: ForgottenList, customer_ids=(), order_ids=(), emails=()):
        self.hasher = hasher
        self.forgotten = forgotten
        self.matched: dict[str, set[str]] = {k: set() for k in KINDS}
        self.matched["customer_id"].update(customer_ids)
        self.matched["order_id"].update(order_ids)
        self.matched["email"].update(emails)

    def learn(self, con: duckdb.DuckDBPyConnection, kind: str, sql: str, params: dict | None = None) -> None:
        """Hash the values `sql` returns (one column) as `kind`; remember those on the list."""
        values = [r[0] for r in execute(con, sql, params).fetchall()]
        known = self.matched[kind]
        self.matched[kind] |= self.forgotten.matching(self.hasher, kind, (v for v in values if v not in known))

    def learn_tokens(self, con: duckdb.DuckDBPyConnection, tokens_sql: str, emails_sql: str,
                     params: dict | None = None) -> None:
        """Tokens of raw text (`tokens_sql`) may be customer or order ids; `emails_sql` returns emails."""
        tokens = [r[0] for r in execute(con, tokens_sql, params).fetchall()]
        for kind in ID_KINDS:
            self.matched[kind] |= self.forgotten.matching(self.hasher, kind, tokens)
        self.learn(con, "email", emails_sql, params)

    def load_into(self, con: duckdb.DuckDBPyConnection) -> None:
        """The temp tables FORGET_VALUE_TABLES in `con` with everything matched so far."""
        for kind, table in FORGET_VALUE_TABLES.items():
            con.execute(f"CREATE OR REPLACE TEMP TABLE {table} (value VARCHAR)")
            rows = [(v,) for v in sorted(self.matched[kind])]
            if rows:
                con.executemany(f"INSERT INTO {table} VALUES (?)", rows)

    def id_tokens(self) -> list[str]:
        return sorted(self.matched["customer_id"] | self.matched["order_id"])

    def emails(self) -> list[str]:
        return sorted(self.matched["email"])

    def text_pattern(self) -> re.Pattern | None:
        """A regular expression finding the forgotten ids (as whole tokens) and emails in text; None when
        nothing is forgotten."""
        parts = []
        if self.id_tokens():
            parts.append(r"(?<![A-Za-z0-9])(?:" + "|".join(re.escape(v) for v in self.id_tokens()) + r")(?![A-Za-z0-9])")
        if self.emails():
            parts.append("(?:" + "|".join(re.escape(v) for v in self.emails()) + ")")
        return re.compile("|".join(parts), re.IGNORECASE) if parts else None


def in_forgotten(expr: str, kind: str) -> str:
    """SQL: `expr` (a quoted column) trimmed is a forgotten value of `kind`."""
    return f"trim(CAST({expr} AS VARCHAR)) IN (SELECT value FROM {FORGET_VALUE_TABLES[kind]})"


# Quarantined records whose raw text holds a forgotten id or email ($tokens, $emails: Sweeper lists).
RAW_TEXT_MATCHES = (
    "list_has_any(regexp_extract_all(raw_text, $token_pattern), $tokens::VARCHAR[]) "
    "OR list_has_any(regexp_extract_all(lower(raw_text), $email_pattern), $emails::VARCHAR[])"
)


def raw_text_params(sweeper: Sweeper) -> dict:
    return {**PATTERN_PARAMS, "tokens": sweeper.id_tokens(), "emails": sweeper.emails()}
