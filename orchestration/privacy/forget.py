"""`crm-warehouse forget CUSTOMER_ID`: erase one person from every copy of the data the warehouse keeps.

Who: the requested source customer id, every source record the identity map resolves to the same master
customer (duplicate exports of the same person; `customer_id_map` / `int_customer_id_map` and any table
holding both customer_id and master_customer_id), and their orders (so the order lines, which carry no
customer id, go too). Their keyed hashes are added to the forgotten list first
(orchestration/privacy/suppress.py): from then on no run loads them again, and a forget interrupted half
way is completed by running it again.

Where, in this order (what BI sees first, the private copies last), each place matched against the whole
forgotten list by hashing its identifier values (so it is idempotent and also finishes earlier, interrupted
forgets):

1. the published file `crm.duckdb` and every kept snapshot: rows whose customer_id / *_customer_id /
   order_id / *_order_id column (or `ops.data_issues.key` of a customer or order) is forgotten are deleted in
   a private copy, which is then copied table by table into a brand-new file (so no deleted bytes survive in
   free blocks) and `os.replace`d over the original: a reader sees the old or the new file, never a mix. The
   file's own `ops.publish_log` row counts are updated; a snapshot that was a hard link of the serving file
   becomes a hard link of the new one;
2. the Parquet exports `parquet/<publish_id>/<schema>/<table>.parquet`: each affected file is rewritten
   (new file + `os.replace`), then the folder's `ops/publish_log.parquet` row counts;
3. the raw zone: accepted, released and orphan rows are rewritten out of their Parquet files; quarantined
   records whose raw text holds a forgotten id or email are removed; every record of an extract file that
   is now neither loaded nor quarantined gets a `forgotten` quarantine row (file and line only), data issues
   and orphan releases of those lines are removed, and the audit counts are recomputed, so
   rows_in_file = rows_loaded + rows_quarantined still holds;
4. the work file: the same deletes in every table of every schema (staging views read the raw zone), the
   ops tables rebuilt from the raw zone, `ops.forget_log` rebuilt, and the whole file copied into a new one;
5. text files the runs leave (data docs, the HTML report, run logs): the ids and emails are replaced by
   `[forgotten]`; transcoded extract copies left in the scratch folder are deleted.

The landing folder is the source system's delivery and is not rewritten (its manifests hold checksums
and row counts; raw lineage points at its line numbers). With `--landing` its files are scanned and the
lines still holding the person are counted, so the source system can be asked to purge them; the
forgotten list keeps them out of every later load.

Every forget leaves one record `WAREHOUSE/ops/forget_log/<id>.parquet`, rebuilt into the work file's
`ops.forget_log` (published with the next run): when, a keyed hash of the requested id, how many source
records and orders, and the rows removed per place. No personal data.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from orchestration import contract
from orchestration.durable import fsync
from orchestration.errors import CrmWarehouseError
from orchestration.lock import warehouse_lock
from orchestration.privacy.suppress import (
    EMAIL_PATTERN,
    FORGOTTEN_REASON,
    ID_KINDS,
    KINDS,
    TOKEN_PATTERN,
    ForgottenList,
    Hasher,
    add_to_list,
    id_kind,
    read_list,
)
from orchestration.raw.ops_tables import rebuild_ops_tables
from orchestration.raw.sqlnames import execute
from orchestration.serving import run_history
from orchestration.serving.publish import NEW_FILE_PREFIX, ServingLayout
from orchestration.settings import Settings, require_pii_key

REDACTED = "[forgotten]"
TEXT_SUFFIXES = {".html", ".htm", ".json", ".log", ".txt", ".csv", ".md", ".xml"}
TEXT_SKIP_DIRS = {"raw", "parquet", "snapshots"}
WORK_REBUILT_TABLES = {("ops", "quarantine"), ("ops", "data_issues"), ("ops", "load_audit"), ("ops", "forget_log")}
TMP_MARK = ".forget-"

LOG_SCHEMA = pa.schema(
    [
        ("forget_id", pa.string()),
        ("forgotten_at", pa.timestamp("s")),
        ("customer_hash", pa.string()),  # HMAC-SHA256(CRM_PII_KEY, "customer_id:<requested id>")
        ("status", pa.string()),  # forgotten | already_forgotten
        ("source_records", pa.int64()),  # source customer records of the person (duplicates included)
        ("orders", pa.int64()),
        ("rows_published", pa.int64()),  # crm.duckdb
        ("rows_snapshots", pa.int64()),
        ("snapshot_files", pa.int64()),
        ("rows_parquet", pa.int64()),
        ("parquet_files", pa.int64()),
        ("rows_raw", pa.int64()),  # accepted, released and orphan rows of the raw zone
        ("raw_quarantine_rows", pa.int64()),  # quarantined records holding the person's ids or emails
        ("raw_forgotten_rows", pa.int64()),  # `forgotten` quarantine rows added
        ("raw_files", pa.int64()),
        ("rows_work", pa.int64()),
        ("text_files", pa.int64()),
        ("scratch_files", pa.int64()),
        ("landing_lines_remaining", pa.int64()),  # null when the landing folder was not scanned
        ("detail", pa.string()),  # JSON: place -> table -> rows removed
        ("seconds", pa.float64()),
    ]
)

# ops.forget_log as a DuckDB comment at publish (orchestration/serving/comments.py): (table, columns).
FORGET_LOG_DESCRIPTION: tuple[str, dict[str, str]] = (
    "One row per `crm-warehouse forget` (right to be forgotten): when, a keyed hash of the id, and how many "
    "rows and files were scrubbed where. Holds no personal data.",
    {
        "forget_id": "forget id: forget-<UTC time YYYYmmddTHHMMSS>-<process id>",
        "forgotten_at": "when the forget ran: wall clock of the warehouse machine in UTC (TIMESTAMP without "
                        "time zone, UTC)",
        "customer_hash": "HMAC-SHA256 (key CRM_PII_KEY) of the requested customer id, hex",
        "status": "forgotten, or already_forgotten (nothing left to remove)",
        "source_records": "source customer records of the person, duplicates included (count)",
        "orders": "orders of the person (count)",
        "rows_published": "rows removed from the serving file crm.duckdb (count)",
        "rows_snapshots": "rows removed from the kept snapshots (count)",
        "snapshot_files": "snapshot files rewritten (count)",
        "rows_parquet": "rows removed from the Parquet exports (count)",
        "parquet_files": "Parquet files rewritten (count)",
        "rows_raw": "accepted, released and orphan rows removed from the raw zone (count)",
        "raw_quarantine_rows": "quarantined records holding the person's ids or emails removed (count)",
        "raw_forgotten_rows": "`forgotten` quarantine rows added (count)",
        "raw_files": "raw-zone files rewritten (count)",
        "rows_work": "rows removed from the work file (count)",
        "text_files": "text files (logs, reports) redacted (count)",
        "scratch_files": "scratch files removed (count)",
        "landing_lines_remaining": "lines of the landing folder still holding the person (count); NULL when "
                                   "the landing folder was not scanned",
        "detail": "JSON: place -> table -> rows removed",
        "seconds": "duration of the forget (seconds)",
    },
)

def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# --- who ----------------------------------------------------------------------------------------------

@dataclass
class Person:
    requested: str
    customer_ids: list[str]
    order_ids: list[str]
    emails: list[str]

    @property
    def found(self) -> bool:
        return bool(self.customer_ids)


def _raw_files(raw_root: Path, entity: str, orphans: bool = True) -> list[str]:
    files = sorted((raw_root / entity).glob("*/*.parquet"))
    if orphans:
        files += sorted((raw_root / "_meta" / "orphans" / entity).glob("*/*.parquet"))
    return [str(p) for p in files if not p.name.startswith(".")]


def _work_tables_with(con: duckdb.DuckDBPyConnection, database: str, *columns: str) -> list[str]:
    rows = execute(
        con,
        """
        SELECT c.schema_name, c.table_name
        FROM duckdb_columns() c
        JOIN duckdb_tables() t  -- tables only: views (staging) read the raw zone, which is searched directly
          ON t.database_name = c.database_name AND t.schema_name = c.schema_name AND t.table_name = c.table_name
        WHERE c.database_name = $db AND list_contains($cols, c.column_name)
        GROUP BY ALL HAVING count(DISTINCT c.column_name) = $n ORDER BY 1, 2
        """,
        {"db": database, "cols": list(columns), "n": len(columns)},
    ).fetchall()
    return [f"{_ident(database)}.{_ident(s)}.{_ident(t)}" for s, t in rows]


def resolve(settings: Settings, requested: str) -> Person:
    """The person behind `requested`: all their source customer ids, their order ids and emails."""
    cid = requested.strip()
    ids: set[str] = set()
    with duckdb.connect() as con:
        if settings.work_db.is_file():
            execute(con, "ATTACH $p AS work (READ_ONLY)", {"p": str(settings.work_db)})
            maps = _work_tables_with(con, "work", "customer_id", "master_customer_id")
            for rel in maps:
                masters = [r[0] for r in execute(
                    con, f"SELECT DISTINCT master_customer_id FROM {rel} "
                    "WHERE trim(customer_id) = $id OR trim(master_customer_id) = $id", {"id": cid}).fetchall()]
                if masters:
                    ids.add(cid)
                    ids.update(m.strip() for m in masters if m)
            for rel in maps:
                ids.update(r[0].strip() for r in execute(
                    con, f"SELECT DISTINCT customer_id FROM {rel} WHERE trim(master_customer_id) IN "
                    "(SELECT unnest($ids::VARCHAR[])) AND customer_id IS NOT NULL", {"ids": sorted(ids)}).fetchall())
        raw_customers = _raw_files(settings.raw_root, "customers", orphans=False)
        if not ids:
            # not (yet) in the identity map: a source record in the raw zone, or only referenced by other rows
            for ent in contract.ENTITIES:
                cols = [c.name for c in ent.columns if id_kind(c.name) == "customer_id"]
                files = _raw_files(settings.raw_root, ent.name)
                if not cols or not files:
                    continue
                cond = " OR ".join(f'trim("{c}") = $id' for c in cols)
                hit = execute(con, f"SELECT count(*) FROM read_parquet($f, hive_partitioning = false, "
                              f"union_by_name = true) WHERE {cond}", {"f": files, "id": cid}).fetchall()[0][0]
                if hit:
                    ids.add(cid)
                    break
        orders: set[str] = set()
        emails: set[str] = set()
        if ids:
            id_list = sorted(ids)
            order_files = _raw_files(settings.raw_root, "orders")
            if order_files:
                orders.update(r[0] for r in execute(
                    con, "SELECT DISTINCT trim(order_id) FROM read_parquet($f, hive_partitioning = false, "
                    "union_by_name = true) WHERE trim(customer_id) IN (SELECT unnest($ids::VARCHAR[])) "
                    "AND order_id IS NOT NULL", {"f": order_files, "ids": id_list}).fetchall())
            if settings.work_db.is_file():
                for rel in _work_tables_with(con, "work", "customer_id", "order_id"):
                    orders.update(r[0] for r in execute(
                        con, f"SELECT DISTINCT trim(order_id) FROM {rel} WHERE trim(customer_id) IN "
                        "(SELECT unnest($ids::VARCHAR[])) AND order_id IS NOT NULL", {"ids": id_list}).fetchall())
            if raw_customers:
                emails.update(r[0] for r in execute(
                    con, "SELECT DISTINCT lower(trim(email)) FROM read_parquet($f, hive_partitioning = false, "
                    "union_by_name = true) WHERE trim(customer_id) IN (SELECT unnest($ids::VARCHAR[])) "
                    "AND email LIKE '%@%'", {"f": raw_customers, "ids": id_list}).fetchall())
    return Person(cid, sorted(ids), sorted(o for o in orders if o), sorted(e for e in emails if e))


# --- matching -----------------------------------------------------------------------------------------

class Sweeper:
    """Finds the forgotten values of each place by hashing its identifier values against the list, and
    remembers them (plaintext, in memory only) to delete rows with plain SQL equality."""

    def __init__(self, hasher: Hasher, forgotten: ForgottenList, person: Person):
        self.hasher = hasher
        self.forgotten = forgotten
        self.matched: dict[str, set[str]] = {k: set() for k in KINDS}
        self.matched["customer_id"].update(person.customer_ids)
        self.matched["order_id"].update(person.order_ids)
        self.matched["email"].update(person.emails)

    def learn(self, con: duckdb.DuckDBPyConnection, kind: str, sql: str, params: dict | None = None) -> None:
        values = [r[0] for r in execute(con, sql, params).fetchall()]
        known = self.matched[kind]
        self.matched[kind] |= self.forgotten.matching(self.hasher, kind, (v for v in values if v not in known))

    def learn_tokens(self, con: duckdb.DuckDBPyConnection, tokens_sql: str, emails_sql: str,
                     params: dict | None = None) -> None:
        tokens = [r[0] for r in execute(con, tokens_sql, params).fetchall()]
        for kind in ID_KINDS:
            self.matched[kind] |= self.forgotten.matching(self.hasher, kind, tokens)
        self.learn(con, "email", emails_sql, params)

    def load_into(self, con: duckdb.DuckDBPyConnection) -> None:
        """Temp table `forget_values(kind, value)` in `con` with everything matched so far."""
        con.execute("CREATE OR REPLACE TEMP TABLE forget_values (kind VARCHAR, value VARCHAR)")
        rows = [(k, v) for k, values in self.matched.items() for v in sorted(values)]
        if rows:
            con.executemany("INSERT INTO forget_values VALUES (?, ?)", rows)

    def id_tokens(self) -> list[str]:
        return sorted(self.matched["customer_id"] | self.matched["order_id"])

    def emails(self) -> list[str]:
        return sorted(self.matched["email"])


def _in_values(expr: str, kind: str) -> str:
    assert kind in KINDS
    return f"trim(CAST({expr} AS VARCHAR)) IN (SELECT value FROM forget_values WHERE kind = '{kind}')"


@dataclass(frozen=True)
class Target:
    """A table (or Parquet file) with identifier columns."""

    name: str  # schema.table
    relation: str  # SQL: a qualified table name or read_parquet(...)
    id_columns: tuple[tuple[str, str], ...]  # (column, kind)
    entity_key: bool  # has `entity` + `key` columns (ops.data_issues): key is a customer or order id

    def predicate(self) -> str:
        parts = [_in_values(_ident(c), kind) for c, kind in self.id_columns]
        if self.entity_key:
            parts.append(f"(entity = 'customers' AND {_in_values('key', 'customer_id')})")
            parts.append(f"(entity = 'orders' AND {_in_values('key', 'order_id')})")
        return "(" + " OR ".join(parts) + ")"

    def learn(self, con: duckdb.DuckDBPyConnection, sweeper: Sweeper, params: dict | None = None) -> None:
        for col, kind in self.id_columns:
            q = _ident(col)
            sweeper.learn(con, kind, f"SELECT DISTINCT trim(CAST({q} AS VARCHAR)) FROM {self.relation} "
                          f"WHERE {q} IS NOT NULL", params)
        if self.entity_key:
            for entity, kind in (("customers", "customer_id"), ("orders", "order_id")):
                sweeper.learn(con, kind, f"SELECT DISTINCT trim(key) FROM {self.relation} "
                              f"WHERE entity = '{entity}' AND key IS NOT NULL", params)

    def count(self, con: duckdb.DuckDBPyConnection, params: dict | None = None) -> int:
        return execute(con, f"SELECT count(*) FROM {self.relation} WHERE {self.predicate()}", params).fetchall()[0][0]


def _target(name: str, relation: str, columns: Iterable[tuple[str, str]]) -> Target | None:
    cols = list(columns)
    names = {c for c, _ in cols}
    id_cols = tuple((c, id_kind(c)) for c, t in cols if id_kind(c) and t.upper() == "VARCHAR")
    entity_key = {"entity", "key"} <= names
    if not id_cols and not entity_key:
        return None
    return Target(name, relation, id_cols, entity_key)


def _db_targets(con: duckdb.DuckDBPyConnection, database: str, skip: set[tuple[str, str]] = frozenset()) -> list[Target]:
    rows = execute(
        con,
        """
        SELECT c.schema_name, c.table_name, list(c.column_name ORDER BY c.column_index),
               list(c.data_type ORDER BY c.column_index)
        FROM duckdb_columns() c
        JOIN duckdb_tables() t
          ON t.database_name = c.database_name AND t.schema_name = c.schema_name AND t.table_name = c.table_name
        WHERE c.database_name = $db
        GROUP BY ALL ORDER BY 1, 2
        """,
        {"db": database},
    ).fetchall()
    out = []
    for schema, table, cols, types in rows:
        if (schema, table) in skip:
            continue
        relation = f"{_ident(database)}.{_ident(schema)}.{_ident(table)}"
        t = _target(f"{schema}.{table}", relation, zip(cols, types, strict=True))
        if t:
            out.append(t)
    return out


def _parquet_target(con: duckdb.DuckDBPyConnection, path: Path, name: str) -> Target | None:
    cols = execute(con, "DESCRIBE SELECT * FROM read_parquet($path, hive_partitioning = false)",
                   {"path": str(path)}).fetchall()
    return _target(name, "read_parquet($path, hive_partitioning = false)", [(c[0], c[1]) for c in cols])


# --- files ----------------------------------------------------------------------------------------------

def _tmp_name(path: Path, tag: str) -> Path:
    if path.name == "crm.duckdb":  # a killed forget's copy is also cleaned up by the next publish
        return path.with_name(f"{NEW_FILE_PREFIX}forget-{tag}-{os.getpid()}")
    return path.with_name(f".{path.name}{TMP_MARK}{tag}-{os.getpid()}")


def remove_leftovers(warehouse: Path) -> list[Path]:
    """Temporary files of an interrupted forget (they may hold the person). Call under the lock."""
    removed = []
    for p in list(warehouse.rglob(f".*{TMP_MARK}*")) + list(warehouse.glob(f"{NEW_FILE_PREFIX}forget-*")):
        if p.is_file() or p.is_symlink():
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed


def _rewrite_parquet(con: duckdb.DuckDBPyConnection, path: Path, select_sql: str, params: dict) -> None:
    """Write `select_sql` to a new file next to `path` and os.replace it in (same mode)."""
    tmp = _tmp_name(path, "p")
    mode = path.stat().st_mode & 0o777
    execute(con, f"COPY ({select_sql}) TO $tmp_out (FORMAT parquet, COMPRESSION zstd)",
            {**params, "tmp_out": str(tmp)})
    os.chmod(tmp, mode)
    fsync(tmp)
    os.replace(tmp, path)


def _scrub_parquet_file(con: duckdb.DuckDBPyConnection, sweeper: Sweeper, path: Path, name: str) -> int:
    """Rewrite one Parquet file without forgotten rows; returns the rows removed."""
    params = {"path": str(path)}
    target = _parquet_target(con, path, name)
    if target is None:
        return 0
    target.learn(con, sweeper, params)
    sweeper.load_into(con)
    removed = target.count(con, params)
    if removed:
        _rewrite_parquet(
            con, path,
            f"SELECT * FROM read_parquet($path, hive_partitioning = false) WHERE NOT coalesce({target.predicate()}, false)",
            params,
        )
    return removed


@dataclass
class FileOutcome:
    removed: dict[str, int] = field(default_factory=dict)  # schema.table -> rows
    rewritten: bool = False

    @property
    def rows(self) -> int:
        return sum(self.removed.values())


def _scrub_duckdb(
    path: Path,
    sweeper: Sweeper,
    *,
    published: bool,
    skip: set[tuple[str, str]] = frozenset(),
    force: bool = False,
    extra: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
    plan_only: bool = False,
) -> FileOutcome:
    """Delete forgotten rows from every table of a DuckDB file, into a brand-new file switched in with
    os.replace. Nothing is written when nothing matches (and not `force`)."""
    out = FileOutcome()
    with duckdb.connect() as con:
        execute(con, "ATTACH $p AS src (READ_ONLY)", {"p": str(path)})
        targets = _db_targets(con, "src", skip)
        for t in targets:
            t.learn(con, sweeper)
        sweeper.load_into(con)
        for t in targets:
            n = t.count(con)
            if n:
                out.removed[t.name] = n
    if plan_only or (not out.removed and not force):
        return out
    changed = [t for t in targets if t.name in out.removed]
    work_copy, fresh = _tmp_name(path, "a"), _tmp_name(path, "b")
    for p in (work_copy, fresh):
        p.unlink(missing_ok=True)
    try:
        shutil.copyfile(path, work_copy)
        os.chmod(work_copy, 0o600)
        with duckdb.connect() as con:
            execute(con, "ATTACH $p AS src", {"p": str(work_copy)})
            con.execute("USE src")
            sweeper.load_into(con)
            for t in changed:
                con.execute(f"DELETE FROM {t.relation} WHERE {t.predicate()}")
            if published and changed:
                _update_publish_log(con, "src", {t.name: t.relation for t in changed})
            if extra:
                extra(con)
            con.execute("CHECKPOINT src")
            execute(con, "ATTACH $p AS dst", {"p": str(fresh)})
            con.execute("COPY FROM DATABASE src TO dst")
            con.execute("USE memory")
            con.execute("DETACH src")
            con.execute("DETACH dst")
        os.chmod(fresh, 0o444 if published else (path.stat().st_mode & 0o777))
        fsync(fresh)
        os.replace(fresh, path)
        fsync(path.parent)
    finally:
        for p in (work_copy, Path(f"{work_copy}.wal"), fresh, Path(f"{fresh}.wal")):
            p.unlink(missing_ok=True)
    out.rewritten = True
    return out


def _update_publish_log(con: duckdb.DuckDBPyConnection, database: str, relations: dict[str, str]) -> None:
    """Set this file's own publish (its newest publish_id) row counts to what the tables now hold."""
    has_log = execute(
        con,
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = $db AND schema_name = 'ops' "
        "AND table_name = 'publish_log'",
        {"db": database},
    ).fetchall()[0][0]
    if not has_log:
        return
    log = f"{_ident(database)}.ops.publish_log"
    for name, relation in relations.items():
        n = con.execute(f"SELECT count(*) FROM {relation}").fetchall()[0][0]
        execute(con, f"UPDATE {log} SET row_count = $n WHERE table_name = $name "
                f"AND publish_id = (SELECT max(publish_id) FROM {log})", {"n": n, "name": name})


# --- places -------------------------------------------------------------------------------------------

@dataclass
class PlaceCounts:
    rows: int = 0
    files: int = 0
    detail: dict[str, dict[str, int]] = field(default_factory=dict)  # file -> table -> rows


def scrub_published(layout: ServingLayout, sweeper: Sweeper, say) -> tuple[PlaceCounts, PlaceCounts]:
    """The serving file and every snapshot (files sharing an inode are scrubbed once and re-linked)."""
    serving, snapshots = PlaceCounts(), PlaceCounts()
    paths = [layout.serving_db] if layout.serving_db.is_file() else []
    if layout.snapshots_dir.is_dir():
        paths += sorted(p for p in layout.snapshots_dir.glob("*.duckdb") if not p.name.startswith("."))
    groups: dict[tuple[int, int], list[Path]] = {}
    for p in paths:
        st = p.stat()
        groups.setdefault((st.st_dev, st.st_ino), []).append(p)
    for group in groups.values():
        first, links = group[0], group[1:]
        outcome = _scrub_duckdb(first, sweeper, published=True)
        if outcome.rewritten:
            for other in links:
                tmp = _tmp_name(other, "l")
                tmp.unlink(missing_ok=True)
                try:
                    os.link(first, tmp)
                except OSError:
                    shutil.copy2(first, tmp)
                os.replace(tmp, other)
        for p in group:
            place = serving if p == layout.serving_db else snapshots
            place.rows += outcome.rows
            place.files += int(outcome.rewritten)
            if outcome.removed:
                place.detail[p.name] = dict(outcome.removed)
                say(f"{p}: removed {outcome.rows} rows ({len(outcome.removed)} tables)")
    return serving, snapshots


def scrub_parquet_exports(layout: ServingLayout, sweeper: Sweeper, say) -> PlaceCounts:
    """Every `parquet/<publish_id>/<schema>/<table>.parquet` (links such as `current` are not followed)."""
    counts = PlaceCounts()
    if not layout.parquet_dir.is_dir():
        return counts
    with duckdb.connect() as con:
        for folder in sorted(layout.parquet_dir.iterdir()):
            if folder.is_symlink() or not folder.is_dir() or folder.name.startswith("."):
                continue
            changed: dict[str, int] = {}
            for path in sorted(folder.glob("*/*.parquet")):
                if path.name.startswith("."):
                    continue
                name = f"{path.parent.name}.{path.stem}"
                removed = _scrub_parquet_file(con, sweeper, path, name)
                if removed:
                    changed[name] = removed
                    counts.rows += removed
                    counts.files += 1
            if changed:
                counts.detail[folder.name] = changed
                _update_parquet_publish_log(con, folder, changed)
                say(f"{folder}: removed {sum(changed.values())} rows from {len(changed)} files")
    return counts


def _update_parquet_publish_log(con: duckdb.DuckDBPyConnection, folder: Path, changed: dict[str, int]) -> None:
    log = folder / "ops" / "publish_log.parquet"
    if not log.is_file():
        return
    rows = []
    for name in changed:
        schema, table = name.split(".", 1)
        n = execute(con, "SELECT count(*) FROM read_parquet($p, hive_partitioning = false)",
                    {"p": str(folder / schema / f"{table}.parquet")}).fetchall()[0][0]
        rows.append((name, n))
    con.execute("CREATE OR REPLACE TEMP TABLE forget_counts (table_name VARCHAR, n BIGINT)")
    con.executemany("INSERT INTO forget_counts VALUES (?, ?)", rows)
    params = {"path": str(log)}
    _rewrite_parquet(
        con, log,
        """
        WITH log AS (SELECT *, file_row_number AS _row FROM read_parquet($path, hive_partitioning = false,
                                                                           file_row_number = true)),
        own AS (SELECT max(publish_id) AS publish_id FROM log)
        SELECT log.* EXCLUDE (_row, file_row_number)
               REPLACE (CASE WHEN log.publish_id = own.publish_id AND c.n IS NOT NULL
                             THEN c.n ELSE log.row_count END AS row_count)
        FROM log CROSS JOIN own LEFT JOIN forget_counts c ON c.table_name = log.table_name
        ORDER BY log._row
        """,
        params,
    )


@dataclass
class RawCounts:
    rows: int = 0  # accepted, released, orphan rows
    quarantine_removed: int = 0
    forgotten_added: int = 0
    data_issues_removed: int = 0
    releases_removed: int = 0
    files: int = 0
    detail: dict[str, int] = field(default_factory=dict)  # entity -> rows


def scrub_raw_zone(raw_root: Path, sweeper: Sweeper, say) -> RawCounts:
    counts = RawCounts()
    if not raw_root.is_dir():
        return counts
    meta = raw_root / "_meta"
    with duckdb.connect() as con:
        # 1. rows: accepted and released files, orphans awaiting a parent
        for ent in contract.ENTITIES:
            for f in _raw_files(raw_root, ent.name):
                removed = _scrub_parquet_file(con, sweeper, Path(f), ent.name)
                if removed:
                    counts.rows += removed
                    counts.files += 1
                    counts.detail[ent.name] = counts.detail.get(ent.name, 0) + removed
        # 2. quarantine: records whose raw text holds a forgotten id or email; `forgotten` rows for the gaps
        q_files = sorted(p for p in meta.glob("quarantine/*/*.parquet") if not p.name.startswith("."))
        if q_files:
            params = {"files": [str(p) for p in q_files]}
            src = "read_parquet($files, hive_partitioning = false, union_by_name = true)"
            sweeper.learn_tokens(
                con,
                f"SELECT DISTINCT unnest(regexp_extract_all(raw_text, '{TOKEN_PATTERN}')) FROM {src}",
                f"SELECT DISTINCT unnest(regexp_extract_all(lower(raw_text), '{EMAIL_PATTERN}')) FROM {src}",
                params,
            )
        forgotten_lines: list[tuple[str, str, int]] = []
        for ent in contract.ENTITIES:
            for audit in sorted(meta.glob(f"audit/*/{ent.name}.parquet")):
                batch = audit.parent.name
                _reconcile_file(con, sweeper, raw_root, ent.name, batch, audit, counts, forgotten_lines)
        # 3. orphan releases of forgotten lines (recomputed by every run from the orphans anyway)
        con.execute("CREATE OR REPLACE TEMP TABLE forget_lines (entity VARCHAR, file VARCHAR, line BIGINT)")
        if forgotten_lines:
            con.executemany("INSERT INTO forget_lines VALUES (?, ?, ?)", forgotten_lines)
        for rel in sorted(meta.glob("releases/*.parquet")):
            if rel.name.startswith("."):
                continue
            params = {"path": str(rel)}
            src = "read_parquet($path, hive_partitioning = false)"
            n = execute(con, f"SELECT count(*) FROM {src} r SEMI JOIN forget_lines f "
                        "ON f.entity = r.entity AND f.file = r.file AND f.line = r.line", params).fetchall()[0][0]
            if n:
                _rewrite_parquet(con, rel, f"SELECT r.* FROM {src} r ANTI JOIN forget_lines f "
                                 "ON f.entity = r.entity AND f.file = r.file AND f.line = r.line", params)
                counts.releases_removed += n
                counts.files += 1
    if counts.rows or counts.quarantine_removed or counts.forgotten_added:
        say(f"{raw_root}: removed {counts.rows} rows and {counts.quarantine_removed} quarantined records; "
            f"{counts.forgotten_added} lines quarantined as {FORGOTTEN_REASON!r}")
    return counts


def _reconcile_file(
    con: duckdb.DuckDBPyConnection,
    sweeper: Sweeper,
    raw_root: Path,
    entity: str,
    batch: str,
    audit: Path,
    counts: RawCounts,
    forgotten_lines: list[tuple[str, str, int]],
) -> None:
    """One extract file: drop quarantined records of forgotten people, give every record that is now
    neither loaded nor quarantined a `forgotten` row, drop its data issues, recompute the audit counts."""
    meta = raw_root / "_meta"
    a = execute(con, "SELECT file, extract_date, rows_in_file, rows_accepted, rows_quarantined_at_load "
                "FROM read_parquet($p, hive_partitioning = false)", {"p": str(audit)}).fetchall()
    if not a:
        return
    file, extract_date, rows_in_file, rows_accepted, rows_q_at_load = a[0]
    accepted_path = raw_root / entity / batch / f"{entity}.parquet"
    q_path = meta / "quarantine" / batch / f"{entity}.parquet"
    issues_path = meta / "data_issues" / batch / f"{entity}.parquet"
    params = {"file": file, "entity": entity, "extract_date": extract_date, "records": rows_in_file,
              "acc": str(accepted_path), "q": str(q_path), "tokens": sweeper.id_tokens(), "emails": sweeper.emails(),
              "reason": FORGOTTEN_REASON}
    accepted_sql = ("SELECT _source_line AS line FROM read_parquet($acc, hive_partitioning = false) "
                    "WHERE _source_file = $file") if accepted_path.is_file() else "SELECT NULL::BIGINT AS line WHERE false"
    if q_path.is_file():
        matches = (
            f"(reason IS DISTINCT FROM $reason AND (list_has_any(regexp_extract_all(raw_text, '{TOKEN_PATTERN}'), "
            f"$tokens::VARCHAR[]) OR list_has_any(regexp_extract_all(lower(raw_text), '{EMAIL_PATTERN}'), "
            "$emails::VARCHAR[])))"
        )
        kept_sql = f"SELECT * FROM read_parquet($q, hive_partitioning = false) WHERE NOT coalesce({matches}, false)"
        removed = execute(con, f"SELECT count(*) FROM read_parquet($q, hive_partitioning = false) WHERE {matches}",
                          params).fetchall()[0][0]
    else:
        kept_sql = ("SELECT NULL::VARCHAR AS entity, NULL::DATE AS extract_date, NULL::VARCHAR AS file, "
                    "NULL::BIGINT AS line, NULL::VARCHAR AS \"column\", NULL::VARCHAR AS reason, "
                    "NULL::VARCHAR AS detail, NULL::VARCHAR AS raw_text WHERE false")
        removed = 0
    gaps_sql = f"""
        SELECT r.range AS line FROM range(2, $records + 2) r
        WHERE r.range NOT IN (SELECT line FROM ({accepted_sql}) WHERE line IS NOT NULL)
          AND r.range NOT IN (SELECT line FROM ({kept_sql}) WHERE line IS NOT NULL)
    """
    added = execute(con, f"SELECT count(*) FROM ({gaps_sql})", params).fetchall()[0][0]
    if removed or added:
        _rewrite_parquet(
            con, q_path,
            f"""
            SELECT * FROM ({kept_sql})
            UNION ALL
            SELECT CAST($entity AS VARCHAR), CAST($extract_date AS DATE), CAST($file AS VARCHAR), line::BIGINT,
                   NULL::VARCHAR, CAST($reason AS VARCHAR), NULL::VARCHAR, NULL::VARCHAR
            FROM ({gaps_sql})
            ORDER BY line
            """,
            params,
        )
        counts.quarantine_removed += removed
        counts.forgotten_added += added
        counts.files += 1
    lines = [r[0] for r in execute(
        con, "SELECT line FROM read_parquet($q, hive_partitioning = false) WHERE reason = $reason",
        params).fetchall()] if q_path.is_file() else []
    forgotten_lines.extend((entity, file, ln) for ln in lines)
    if lines and issues_path.is_file():
        iparams = {"path": str(issues_path), "lines": lines, "file": file}
        n = execute(con, "SELECT count(*) FROM read_parquet($path, hive_partitioning = false) "
                    "WHERE file = $file AND list_contains($lines::BIGINT[], line)", iparams).fetchall()[0][0]
        if n:
            _rewrite_parquet(con, issues_path, "SELECT * FROM read_parquet($path, hive_partitioning = false) "
                             "WHERE NOT (file = $file AND list_contains($lines::BIGINT[], line))", iparams)
            counts.data_issues_removed += n
            counts.files += 1
    accepted_now = execute(con, f"SELECT count(*) FROM ({accepted_sql})", params).fetchall()[0][0]
    if accepted_now != rows_accepted:
        _rewrite_parquet(
            con, audit,
            "SELECT * REPLACE (CAST($acc_n AS BIGINT) AS rows_accepted, CAST($q_n AS BIGINT) AS rows_quarantined_at_load) "
            "FROM read_parquet($p, hive_partitioning = false)",
            {"p": str(audit), "acc_n": accepted_now, "q_n": rows_in_file - accepted_now},
        )
        counts.files += 1


def scrub_work(settings: Settings, sweeper: Sweeper, force: bool, forget_log_dir: Path,
               before_write: Callable[[int, dict[str, int]], None], say) -> FileOutcome:
    """Delete forgotten rows from every table of the work file, rebuild its ops tables from the raw zone
    and `ops.forget_log`, into a brand-new file. `before_write(rows, detail)` writes the forget's log record
    (it needs the counts) before the log table is rebuilt."""
    work = settings.work_db
    if not work.is_file():
        before_write(0, {})
        return FileOutcome()
    plan = _scrub_duckdb(work, sweeper, published=False, skip=WORK_REBUILT_TABLES, plan_only=True)
    before_write(plan.rows, plan.removed)

    def rebuild(con: duckdb.DuckDBPyConnection) -> None:
        rebuild_ops_tables(con, settings.raw_root)
        build_forget_log_table(con, forget_log_dir)

    if plan.removed or force:
        outcome = _scrub_duckdb(work, sweeper, published=False, skip=WORK_REBUILT_TABLES, force=True, extra=rebuild)
        say(f"{work}: removed {outcome.rows} rows ({len(outcome.removed)} tables); ops tables rebuilt")
        return outcome
    with duckdb.connect(str(work)) as con:  # nothing personal to delete: only the log table changes
        build_forget_log_table(con, forget_log_dir)
    return plan


def build_forget_log_table(con: duckdb.DuckDBPyConnection, forget_log_dir: Path) -> None:
    """`ops.forget_log` in `con`'s current database from the forget records."""
    con.execute("CREATE SCHEMA IF NOT EXISTS ops")
    files = log_files(forget_log_dir)
    if files:
        execute(con, "CREATE OR REPLACE TABLE ops.forget_log AS SELECT * FROM read_parquet($files, "
                "union_by_name = true) ORDER BY forgotten_at, forget_id", {"files": [str(p) for p in files]})
    else:
        cols = ", ".join(f"NULL::{_duck_type(f.type)} AS {f.name}" for f in LOG_SCHEMA)
        con.execute(f"CREATE OR REPLACE TABLE ops.forget_log AS SELECT {cols} WHERE false")


def _duck_type(t: pa.DataType) -> str:
    if t == pa.string():
        return "VARCHAR"
    if t == pa.int64():
        return "BIGINT"
    if t == pa.float64():
        return "DOUBLE"
    return "TIMESTAMP"


def log_files(forget_log_dir: Path) -> list[Path]:
    if not forget_log_dir.is_dir():
        return []
    return sorted(p for p in forget_log_dir.glob("*.parquet") if not p.name.startswith("."))


def _value_pattern(sweeper: Sweeper) -> re.Pattern | None:
    ids = sweeper.id_tokens()
    emails = sweeper.emails()
    parts = []
    if ids:
        parts.append(r"(?<![A-Za-z0-9])(?:" + "|".join(re.escape(v) for v in ids) + r")(?![A-Za-z0-9])")
    if emails:
        parts.append("(?:" + "|".join(re.escape(v) for v in emails) + ")")
    return re.compile("|".join(parts), re.IGNORECASE) if parts else None


def redact_text_files(warehouse: Path, sweeper: Sweeper, say) -> int:
    """Replace forgotten ids and emails in the text files runs leave (data docs, report, logs)."""
    pattern = _value_pattern(sweeper)
    if pattern is None:
        return 0
    changed = 0
    for root, dirs, files in os.walk(warehouse):
        here = Path(root)
        if here == warehouse:
            dirs[:] = [d for d in dirs if d not in TEXT_SKIP_DIRS]
        for name in files:
            path = here / name
            if path.suffix.lower() not in TEXT_SUFFIXES or name.startswith(".") or path.is_symlink():
                continue
            try:
                text = path.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue
            new, n = pattern.subn(REDACTED, text)
            if n:
                tmp = _tmp_name(path, "t")
                tmp.write_text(new, encoding="utf-8")
                os.chmod(tmp, path.stat().st_mode & 0o777)
                os.replace(tmp, path)
                changed += 1
                say(f"{path}: {n} mentions replaced by {REDACTED}")
    return changed


def remove_scratch(settings: Settings) -> int:
    """Transcoded UTF-8 copies of extract files a killed run may have left (they hold raw extract text)."""
    n = 0
    if settings.scratch_dir.is_dir():
        for p in settings.scratch_dir.iterdir():
            if p.is_file():
                p.unlink(missing_ok=True)
                n += 1
    return n


def scan_landing(landing_dir: Path, sweeper: Sweeper) -> dict[str, int]:
    """Lines of each landing extract file that still hold a forgotten id or email (read-only)."""
    from orchestration.raw import landing as landing_mod

    pattern = _value_pattern(sweeper)
    out: dict[str, int] = {}
    if pattern is None or not landing_dir.is_dir():
        return out
    import gzip

    for d in landing_mod.complete_extract_dates(landing_dir):
        for f in landing_mod.read_extract(landing_dir, d).files:
            opener = gzip.open if f.path.name.endswith(".gz") else open
            encoding = "utf-8-sig" if f.encoding.startswith("utf-8") else f.encoding
            n = 0
            with opener(f.path, "rt", encoding=encoding, errors="replace", newline="") as fh:
                for line in fh:
                    if pattern.search(line):
                        n += 1
            if n:
                out[f.relative_name] = n
    return out


# --- the command ----------------------------------------------------------------------------------------

@dataclass
class ForgetResult:
    requested: str
    customer_hash: str
    status: str  # forgotten | already_forgotten
    source_records: int
    orders: int
    published: PlaceCounts
    snapshots: PlaceCounts
    parquet: PlaceCounts
    raw: RawCounts
    work: FileOutcome
    text_files: int
    scratch_files: int
    landing: dict[str, int] | None
    record: Path | None
    seconds: float


def forget_log_dir(settings: Settings) -> Path:
    return settings.warehouse_dir / "ops" / "forget_log"


def forget(settings: Settings, customer_id: str, *, landing_dir: Path | None = None, log=None) -> ForgetResult:
    """Erase one person (all their source records) everywhere; see the module docstring."""
    try:
        return _forget(settings, customer_id, landing_dir=landing_dir, log=log)
    except (duckdb.Error, OSError, pa.ArrowException) as exc:
        raise CrmWarehouseError(
            f"{settings.warehouse_dir}: forget stopped: {type(exc).__name__}: {str(exc).splitlines()[0]}; every file "
            "is switched atomically, so nothing is half-written: fix the cause and run the same forget again to finish"
        ) from exc


def _forget(settings: Settings, customer_id: str, *, landing_dir: Path | None, log) -> ForgetResult:
    t0 = time.perf_counter()
    say = log or (lambda msg: None)
    require_pii_key()
    requested = customer_id.strip()
    if not requested:
        raise CrmWarehouseError("forget: the customer id is empty")
    if not settings.warehouse_dir.is_dir():
        raise CrmWarehouseError(f"{settings.warehouse_dir}: no warehouse here (--warehouse)")
    with warehouse_lock(settings.lock_file, "crm-warehouse forget"):
        for p in remove_leftovers(settings.warehouse_dir):
            say(f"removed leftover of an interrupted forget: {p}")
        hasher = Hasher()
        forgotten = read_list(settings.raw_root)
        forgotten.check_key(hasher)
        person = resolve(settings, requested)
        if not person.found:
            if not forgotten.contains(hasher, "customer_id", requested):
                raise CrmWarehouseError(
                    f"customer id {requested!r}: not in the warehouse {settings.warehouse_dir} (identity map, raw "
                    "zone) nor among the forgotten; check the id (nothing was changed)"
                )
            status = "already_forgotten"
            say(f"customer {requested} was already forgotten; checking that nothing of them is left")
        else:
            status = "forgotten"
            add_to_list(
                settings.raw_root, hasher,
                [("customer_id", v) for v in person.customer_ids] + [("order_id", v) for v in person.order_ids]
                + [("email", v) for v in person.emails],
            )
            forgotten = read_list(settings.raw_root)
        sweeper = Sweeper(hasher, forgotten, person)
        layout = ServingLayout(settings.published_db)

        published, snapshots = scrub_published(layout, sweeper, say)
        parquet = scrub_parquet_exports(layout, sweeper, say)
        raw = scrub_raw_zone(settings.raw_root, sweeper, say)
        text_files = redact_text_files(settings.warehouse_dir, sweeper, say)
        scratch_files = remove_scratch(settings)
        landing = scan_landing(landing_dir, sweeper) if landing_dir is not None else None

        record: dict = {}
        now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)  # UTC, naive (forgotten_at)
        forget_id = f"forget-{now:%Y%m%dT%H%M%S}-{os.getpid()}"
        log_dir = forget_log_dir(settings)

        def write_record(work_rows: int, work_detail: dict[str, int]) -> None:
            detail = {
                "published": published.detail, "snapshots": snapshots.detail, "parquet": parquet.detail,
                "raw": {**raw.detail, "_quarantine_removed": raw.quarantine_removed,
                        "_forgotten_added": raw.forgotten_added, "_data_issues_removed": raw.data_issues_removed,
                        "_releases_removed": raw.releases_removed},
                "work": work_detail,
            }
            record.update(
                forget_id=forget_id,
                forgotten_at=now,
                customer_hash=hasher("customer_id", requested),
                status=status,
                source_records=len(person.customer_ids),
                orders=len(person.order_ids),
                rows_published=published.rows,
                rows_snapshots=snapshots.rows,
                snapshot_files=snapshots.files,
                rows_parquet=parquet.rows,
                parquet_files=parquet.files,
                rows_raw=raw.rows,
                raw_quarantine_rows=raw.quarantine_removed,
                raw_forgotten_rows=raw.forgotten_added,
                raw_files=raw.files,
                rows_work=work_rows,
                text_files=text_files,
                scratch_files=scratch_files,
                landing_lines_remaining=None if landing is None else sum(landing.values()),
                detail=json.dumps(detail, sort_keys=True),
                seconds=round(time.perf_counter() - t0, 3),
            )
            log_dir.mkdir(parents=True, exist_ok=True)
            tmp = log_dir / f".{forget_id}.parquet.tmp"
            pq.write_table(pa.Table.from_pylist([record], schema=LOG_SCHEMA), tmp)
            os.replace(tmp, log_dir / f"{forget_id}.parquet")

        raw_changed = bool(raw.rows or raw.quarantine_removed or raw.forgotten_added or raw.data_issues_removed)
        work = scrub_work(settings, sweeper, raw_changed, log_dir, write_record, say)
        run_history.write(
            settings.run_history_dir,
            run_history.RunRecord(
                record_id=forget_id,
                kind="forget",
                status=status,
                reason="crm-warehouse forget",
                message=(f"{status.replace('_', ' ')}: customer {record['customer_hash'][:12]}… "
                         f"({record['source_records']} source records, {record['orders']} orders); rows removed: "
                         f"published {published.rows}, snapshots {snapshots.rows}, parquet {parquet.rows}, "
                         f"raw {raw.rows}, work {work.rows}"),
                recorded_at=now,
            ),
        )
    return ForgetResult(
        requested=requested,
        customer_hash=record["customer_hash"],
        status=status,
        source_records=len(person.customer_ids),
        orders=len(person.order_ids),
        published=published,
        snapshots=snapshots,
        parquet=parquet,
        raw=raw,
        work=work,
        text_files=text_files,
        scratch_files=scratch_files,
        landing=landing,
        record=log_dir / f"{forget_id}.parquet",
        seconds=round(time.perf_counter() - t0, 1),
    )


__all__ = ["ForgetResult", "Person", "forget", "resolve"]
