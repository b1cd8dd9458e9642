"""Rewrite copies that were already published, keeping publishing's rules (used by `crm-warehouse forget`).

Publishing (publish.py) writes the serving file `crm.duckdb`, hard-links it as `snapshots/<id>.duckdb` and
exports `parquet/<id>/<schema>/<table>.parquet`; each file carries `ops.publish_log` with the row count of
every table. Something that must change rows of those copies afterwards (erasing a person) edits them
here, so that:

* a DuckDB file is edited in a private copy, then copied table by table into a brand-new file (no deleted
  bytes survive in free blocks) that `durable.atomic_write` switches in: a reader sees the old file or the
  new one, never a mix; published files stay read-only (PUBLISHED_FILE_MODE);
* the files that shared an inode (a snapshot that was a hard link of the serving file) become hard links
  of the new file again;
* each copy's own `ops.publish_log` row counts (its newest publish) match what its tables now hold.

Identifiers: table names come from the catalog of the file being edited (`duckdb_tables()`, an allow-list
of what exists there), always quoted; values are parameters.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

import duckdb

from orchestration.durable import atomic_write, temp_path
from orchestration.raw.sqlnames import execute, scalar
from orchestration.serving.layout import PUBLISHED_FILE_MODE, ServingLayout, link_or_copy
from orchestration.settings import connect_duckdb

Editor = Callable[[duckdb.DuckDBPyConnection], None]


def quote_ident(name: str) -> str:
    """A double-quoted identifier (embedded quotes doubled)."""
    return '"' + name.replace('"', '""') + '"'


def table_relation(con: duckdb.DuckDBPyConnection, database: str, name: str) -> str:
    """`"db"."schema"."table"` for `name` ("schema.table"), only if that table exists in `database`."""
    schema, _, table = name.partition(".")
    exists = scalar(con, "SELECT count(*) FROM duckdb_tables() WHERE database_name = $db AND schema_name = $s "
                    "AND table_name = $t", {"db": database, "s": schema, "t": table})
    if not exists:
        raise ValueError(f"{name!r} is not a table of {database}")
    return ".".join(quote_ident(p) for p in (database, schema, table))


# --- where the published copies are ------------------------------------------------------------------

def published_copies(layout: ServingLayout) -> list[list[Path]]:
    """The serving file and every kept snapshot, grouped by inode (hard links together, serving file first)."""
    paths = [layout.serving_db] if layout.serving_db.is_file() else []
    if layout.snapshots_dir.is_dir():
        paths += sorted(p for p in layout.snapshots_dir.glob("*.duckdb") if not p.name.startswith("."))
    groups: dict[tuple[int, int], list[Path]] = {}
    for p in paths:
        st = p.stat()
        groups.setdefault((st.st_dev, st.st_ino), []).append(p)
    return list(groups.values())


def parquet_exports(layout: ServingLayout) -> list[tuple[Path, list[tuple[str, Path]]]]:
    """Every publish folder `parquet/<publish_id>` (links such as `current` are not followed; a `current`
    that a copy turned into a real folder is one more copy) with its files as ("schema.table", path)."""
    if not layout.parquet_dir.is_dir():
        return []
    out = []
    for folder in sorted(layout.parquet_dir.iterdir()):
        if folder.is_symlink() or not folder.is_dir() or folder.name.startswith("."):
            continue
        files = [(f"{p.parent.name}.{p.stem}", p) for p in sorted(folder.glob("*/*.parquet"))
                 if not p.name.startswith(".")]  # e.g. ("marts.fct_orders", parquet/<id>/marts/fct_orders.parquet)
        out.append((folder, files))
    return out


def export_file(folder: Path, name: str) -> Path:
    """The export file of table `name` ("schema.table") in the publish folder `folder`."""
    schema, _, table = name.partition(".")
    return folder / schema / f"{table}.parquet"


# --- rewriting -----------------------------------------------------------------------------------------

def rewrite_duckdb(path: Path, edit: Editor, *, mode: int | None = None) -> None:
    """Apply `edit(con)` to a private copy of the DuckDB file `path` (attached as `src`, the current
    database), then switch in a brand-new file holding the copy's content. `mode`: see atomic_write (by
    default the file keeps its permissions)."""
    private = temp_path(path)
    try:
        shutil.copyfile(path, private)
        private.chmod(0o600)
        with connect_duckdb() as con:
            execute(con, "ATTACH $p AS src", {"p": str(private)})
            con.execute("USE src")
            edit(con)
            con.execute("CHECKPOINT src")

            def copy_into(fresh: Path) -> None:
                execute(con, "ATTACH $p AS dst", {"p": str(fresh)})
                con.execute("COPY FROM DATABASE src TO dst")
                con.execute("DETACH dst")

            atomic_write(path, copy_into, mode=mode)
            con.execute("USE memory")
            con.execute("DETACH src")
    finally:
        for p in (private, Path(f"{private}.wal")):
            p.unlink(missing_ok=True)


def rewrite_published(group: list[Path], edit: Editor, tables: Iterable[str]) -> None:
    """Rewrite the published DuckDB file `group[0]` with `edit` (read-only again afterwards), refresh its
    `ops.publish_log` counts of `tables` ("schema.table"), and make the other paths of `group` (hard
    links of the old file) hard links of the new one."""
    names = sorted(tables)

    def edit_and_recount(con: duckdb.DuckDBPyConnection) -> None:
        edit(con)
        refresh_publish_log(con, "src", names)

    rewrite_duckdb(group[0], edit_and_recount, mode=PUBLISHED_FILE_MODE)
    for other in group[1:]:
        atomic_write(other, lambda tmp: link_or_copy(group[0], tmp))


def refresh_publish_log(con: duckdb.DuckDBPyConnection, database: str, tables: Iterable[str]) -> None:
    """Set the row counts of `tables` in `database`'s own publish (its newest publish_id) to what they hold."""
    names = list(tables)
    if not names or not scalar(con, "SELECT count(*) FROM duckdb_tables() WHERE database_name = $db "
                               "AND schema_name = 'ops' AND table_name = 'publish_log'", {"db": database}):
        return
    log = table_relation(con, database, "ops.publish_log")
    for name in names:
        n = scalar(con, f"SELECT count(*) FROM {table_relation(con, database, name)}")
        execute(con, f"UPDATE {log} SET row_count = $n WHERE table_name = $name "
                f"AND publish_id = (SELECT max(publish_id) FROM {log})", {"n": n, "name": name})


def rewrite_export(con: duckdb.DuckDBPyConnection, query: str, params: dict, path: Path) -> None:
    """Replace one Parquet export file with the result of `query` (atomic, keeps its permissions; the
    same signature as RawZone.write)."""
    atomic_write(path, lambda tmp: execute(
        con, f"COPY ({query}) TO $export_out (FORMAT parquet, COMPRESSION zstd)", {**params, "export_out": str(tmp)}))


def refresh_parquet_publish_log(con: duckdb.DuckDBPyConnection, folder: Path, tables: Iterable[str]) -> None:
    """Set the row counts of `tables` in the folder's `ops/publish_log.parquet` (its newest publish) to
    the rows their export files now hold."""
    log = export_file(folder, "ops.publish_log")
    names = [n for n in tables if export_file(folder, n).is_file()]
    if not log.is_file() or not names:
        return
    counts = [(n, scalar(con, "SELECT count(*) FROM read_parquet($p, hive_partitioning = false)",
                         {"p": str(export_file(folder, n))})) for n in names]
    con.execute("CREATE OR REPLACE TEMP TABLE export_counts (table_name VARCHAR, n BIGINT)")
    con.executemany("INSERT INTO export_counts VALUES (?, ?)", counts)
    rewrite_export(
        con,
        """
        WITH log AS (SELECT *, file_row_number AS _row FROM read_parquet($log, hive_partitioning = false,
                                                                           file_row_number = true)),
        own AS (SELECT max(publish_id) AS publish_id FROM log)
        SELECT log.* EXCLUDE (_row, file_row_number)
               REPLACE (CASE WHEN log.publish_id = own.publish_id AND c.n IS NOT NULL
                             THEN c.n ELSE log.row_count END AS row_count)
        FROM log CROSS JOIN own LEFT JOIN export_counts c ON c.table_name = log.table_name
        ORDER BY log._row
        """,
        {"log": str(log)},
        log,
    )
