"""The forgotten list: keyed hashes of forgotten people's identifiers, applied by the raw loader.

`crm-warehouse forget` (orchestration/privacy/forget.py) erases a person everywhere and adds the keyed
hashes of their identifiers to `RAW/_meta/forgotten/forgotten.parquet`. The raw loader calls
`drop_forgotten_rows` on every extract file right after parsing it, so a later `run`, `reload` or
`--full-refresh` over the same landing files never loads them again (the landing folder is the source
system's delivery and is not rewritten; see docs/operations.md).

The list holds no personal data. One row per identifier:

* `kind`: `customer_id` (trimmed; every source record of the person, so duplicate exports go too),
  `order_id` (trimmed; the person's orders, so their order lines, which carry no customer id, go too) or
  `email` (trimmed, lower-cased; only used to find the person in the raw text of quarantined records);
* `id_hash`: HMAC-SHA256(key = CRM_PII_KEY as UTF-8, message = "<kind>:<value>" as UTF-8), lower-case hex
  (the same HMAC as the dbt model int_customer_pii_tokens, with the kind as a prefix so an order id and a
  customer id never share a hash);
* `key_check`: HMAC(key, KEY_CHECK): a run with a different CRM_PII_KEY would no longer recognise the
  forgotten people, so it stops with a clear message instead of loading them again.

A row dropped at load is accounted for like every row that is not loaded: one quarantine row with reason
`forgotten`, naming only the file and line (no raw text), so rows_in_file = rows_loaded + rows_quarantined
still holds. The extract contract decides what is an identifier (`id_kind`, through
orchestration/column_roles.py): the key of customers or orders, or a column that references them.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from orchestration import contract
from orchestration.column_roles import contract_role
from orchestration.durable import atomic_write
from orchestration.errors import CrmWarehouseError
from orchestration.raw.sqlnames import execute, quote
from orchestration.settings import PII_KEY_ENV, require_pii_key

FORGOTTEN_REASON = "forgotten"  # ops.quarantine reason of a row that belonged to a forgotten person
KINDS = ("customer_id", "order_id", "email")
ID_KINDS = ("customer_id", "order_id")  # kinds matched against identifier columns and raw-text tokens
KEY_CHECK = "crm-warehouse/forgotten-list/key-check"
LIST_RELATIVE = Path("_meta") / "forgotten" / "forgotten.parquet"
# Identifiers inside raw text (ids are letters and digits) and emails (the pii_redact macro's pattern).
TOKEN_PATTERN = r"[A-Za-z0-9]+"
EMAIL_PATTERN = r"[a-z0-9._%+-]+@[a-z0-9-]+(?:[.][a-z0-9-]+)*[.][a-z]{2,}"

SCHEMA = pa.schema(
    [
        ("kind", pa.string()),
        ("id_hash", pa.string()),
        ("key_check", pa.string()),
        ("added_at", pa.timestamp("s")),
    ]
)

# Kinds in SQL as parameters: kind -> its placeholder, and the values to pass.
KIND_PARAMS = {kind: f"$kind_{kind}" for kind in KINDS}
KIND_VALUES = {f"kind_{kind}": kind for kind in KINDS}

# The loader's temp table of dropped record numbers, and its part of the quarantine query.
FORGOTTEN_LINES = "forgotten_lines"
QUARANTINE_SQL = (
    "SELECT $entity, CAST($extract_date AS DATE), $source_file, line, NULL, "
    f"CAST($forgotten_reason AS VARCHAR), NULL, NULL FROM {FORGOTTEN_LINES}"
)
QUARANTINE_PARAMS = {"forgotten_reason": FORGOTTEN_REASON}


def id_kind(ent: contract.Entity, column: str) -> str | None:
    """Which identifier a raw column of `ent` holds, by the contract's roles: customer_id, order_id or None."""
    return contract_role(ent, column).key


def normalise(kind: str, value: str) -> str:
    return value.strip().lower() if kind == "email" else value.strip()


class Hasher:
    """HMAC-SHA256 of identifiers with CRM_PII_KEY, each distinct value hashed once per process."""

    def __init__(self, key: bytes | None = None):
        if key is None:
            require_pii_key()
            key = os.environ[PII_KEY_ENV].encode("utf-8")
        self._key = key
        self._cache: dict[tuple[str, str], str] = {}
        self.key_check = hmac.new(key, KEY_CHECK.encode("utf-8"), hashlib.sha256).hexdigest()

    def __call__(self, kind: str, value: str) -> str:
        k = (kind, value)
        h = self._cache.get(k)
        if h is None:
            h = hmac.new(self._key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()
            self._cache[k] = h
        return h


@dataclass
class ForgottenList:
    path: Path
    hashes: dict[str, set[str]] = field(default_factory=lambda: {k: set() for k in KINDS})
    key_checks: set[str] = field(default_factory=set)

    @property
    def empty(self) -> bool:
        return not any(self.hashes.values())

    def __len__(self) -> int:
        return sum(len(v) for v in self.hashes.values())

    def contains(self, hasher: Hasher, kind: str, value: str | None) -> bool:
        if value is None:
            return False
        value = normalise(kind, value)
        return bool(value) and hasher(kind, value) in self.hashes.get(kind, ())

    def check_key(self, hasher: Hasher) -> None:
        if self.key_checks and self.key_checks != {hasher.key_check}:
            raise CrmWarehouseError(
                f"{self.path}: {PII_KEY_ENV} is not the key this list of forgotten people was written with; "
                "with another key they would be loaded again. Run with the original key (the list holds keyed "
                "hashes only, so it cannot be re-hashed with a new key)"
            )

    def matching(self, hasher: Hasher, kind: str, values: Iterable[str | None]) -> set[str]:
        """The values (normalised) whose hash is on the list."""
        return {normalise(kind, v) for v in values if self.contains(hasher, kind, v)}


def list_path(raw_root: Path) -> Path:
    return raw_root / LIST_RELATIVE


def read_list(raw_root: Path) -> ForgottenList:
    """The forgotten list of this raw zone (empty when nobody was forgotten)."""
    path = list_path(raw_root)
    out = ForgottenList(path)
    if not path.is_file():
        return out
    try:
        rows = pq.read_table(path).to_pylist()
    except (OSError, pa.ArrowException) as exc:
        raise CrmWarehouseError(
            f"{path}: the list of forgotten people cannot be read ({exc}); restore it from a backup before "
            "loading anything, or forgotten people would be loaded again"
        ) from None
    for row in rows:
        out.hashes.setdefault(row["kind"], set()).add(row["id_hash"])
        if row.get("key_check"):
            out.key_checks.add(row["key_check"])
    return out


def add_to_list(raw_root: Path, hasher: Hasher, values: Iterable[tuple[str, str]]) -> int:
    """Add (kind, plaintext value) pairs as hashes; the file is replaced atomically. Returns how many are new."""
    current = read_list(raw_root)
    current.check_key(hasher)
    now = datetime.now().replace(microsecond=0)
    old = pq.read_table(current.path).to_pylist() if current.path.is_file() else []
    new = []
    for kind, value in values:
        value = normalise(kind, value)
        if not value:
            continue
        h = hasher(kind, value)
        if h in current.hashes.setdefault(kind, set()):
            continue
        current.hashes[kind].add(h)
        new.append({"kind": kind, "id_hash": h, "key_check": hasher.key_check, "added_at": now})
    if not new:
        return 0
    rows = sorted(old + new, key=lambda r: (r["kind"], r["id_hash"]))
    current.path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pylist(rows, schema=SCHEMA)
    atomic_write(current.path, lambda tmp: pq.write_table(table, tmp))
    return len(new)


# --- the raw loader's filter -------------------------------------------------------------------------

def _fetch_column(con: duckdb.DuckDBPyConnection, sql: str, params: dict | None = None) -> list:
    return [r[0] for r in execute(con, sql, params).fetchall()]


def drop_forgotten_rows(con: duckdb.DuckDBPyConnection, raw_root: Path, ent: contract.Entity) -> int:
    """Remove the rows of forgotten people from the loader's `parsed_rows` and `parse_rejects` temp tables.

    Always (re)creates the temp table FORGOTTEN_LINES (record numbers dropped; empty when nobody is on
    the list), which the loader's quarantine query turns into `forgotten` rows. A row is dropped when one of
    its identifier columns is on the list, or is the id of an order dropped earlier in the same load (its
    order lines); a record the parser rejected is dropped when its raw text holds such an id or a forgotten
    email. Returns the number of records dropped."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE {FORGOTTEN_LINES} (line BIGINT)")
    forgotten = read_list(raw_root)
    if forgotten.empty:
        return 0
    hasher = Hasher()
    forgotten.check_key(hasher)
    # plaintext ids dropped during this load (one loader connection = one load): children follow parents
    con.execute("CREATE TEMP TABLE IF NOT EXISTS forgotten_session (kind VARCHAR, value VARCHAR)")

    def remember(kind: str, values: Iterable[str]) -> None:
        rows = [(kind, v) for v in values]
        if rows:
            con.executemany("INSERT INTO forgotten_session VALUES (?, ?)", rows)

    id_cols = [(c, id_kind(ent, c)) for c in ent.column_names if id_kind(ent, c)]
    conds = []
    for col, kind in id_cols:
        q = quote(ent, col)
        remember(kind, forgotten.matching(hasher, kind, _fetch_column(
            con, f"SELECT DISTINCT {q} FROM parsed_rows WHERE {q} IS NOT NULL")))
        conds.append(f"trim({q}) IN (SELECT value FROM forgotten_session WHERE kind = {KIND_PARAMS[kind]})")
    if conds:
        execute(con, f"INSERT INTO {FORGOTTEN_LINES} SELECT _source_line FROM parsed_rows WHERE {' OR '.join(conds)}",
                KIND_VALUES)
        key_kind = id_kind(ent, ent.key[0]) if len(ent.key) == 1 else None
        if key_kind:  # e.g. the orders of a forgotten customer: their order lines are dropped too
            q = quote(ent, ent.key[0])
            remember(key_kind, _fetch_column(
                con, f"SELECT DISTINCT trim({q}) FROM parsed_rows WHERE _source_line IN "
                f"(SELECT line FROM {FORGOTTEN_LINES}) AND {q} IS NOT NULL"))

    patterns = {"token_pattern": TOKEN_PATTERN, "email_pattern": EMAIL_PATTERN}
    tokens = _fetch_column(
        con, "SELECT DISTINCT unnest(regexp_extract_all(csv_line, $token_pattern)) FROM parse_rejects", patterns)
    emails = _fetch_column(
        con, "SELECT DISTINCT unnest(regexp_extract_all(lower(csv_line), $email_pattern)) FROM parse_rejects",
        patterns)
    session = set(_fetch_column(con, "SELECT value FROM forgotten_session"))
    hit_tokens = sorted({t for t in tokens if t in session}
                        | set().union(*(forgotten.matching(hasher, k, tokens) for k in ID_KINDS)))
    hit_emails = sorted(forgotten.matching(hasher, "email", emails))
    if hit_tokens or hit_emails:
        execute(
            con,
            f"""
            INSERT INTO {FORGOTTEN_LINES}
            SELECT line FROM parse_rejects
            WHERE list_has_any(regexp_extract_all(csv_line, $token_pattern), $tokens::VARCHAR[])
               OR list_has_any(regexp_extract_all(lower(csv_line), $email_pattern), $emails::VARCHAR[])
            """,
            {**patterns, "tokens": hit_tokens, "emails": hit_emails},
        )
    dropped = con.execute(f"SELECT count(DISTINCT line) FROM {FORGOTTEN_LINES}").fetchall()[0][0]
    if dropped:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {FORGOTTEN_LINES} AS SELECT DISTINCT line FROM {FORGOTTEN_LINES}")
        con.execute(f"DELETE FROM parsed_rows WHERE _source_line IN (SELECT line FROM {FORGOTTEN_LINES})")
        con.execute(f"DELETE FROM parse_rejects WHERE line IN (SELECT line FROM {FORGOTTEN_LINES})")
    return dropped
