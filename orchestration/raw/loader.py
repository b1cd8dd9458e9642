"""Load complete, not-yet-loaded extracts into the raw zone: parse, apply the contract, quarantine.

For each extract day (oldest first) every file is checked before anything of that day is written
(manifest, encoding, header, unchanged-if-already-loaded), then loaded entity by entity in contract
load order, so parents are present before their children are checked for orphans. After loading,
orphan rows whose parent has arrived are released (recomputed from the whole raw zone each run).

Reconciliation per file: rows_in_file = rows_loaded + rows_quarantined (released rows count as loaded).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from orchestration import contract
from orchestration.errors import CrmWarehouseError
from orchestration.privacy import suppress  # forgotten people (crm-warehouse forget) are never loaded
from orchestration.raw import landing, nights, parse, rules, transcode
from orchestration.raw.sqlnames import execute, key_expr, quote, scalar
from orchestration.raw.zone import RawZone
from orchestration.settings import connect_duckdb
from orchestration.site import Site, load_site

log = logging.getLogger("crm_warehouse.ingest")

QUARANTINE_COLUMNS = (
    "entity VARCHAR, extract_date DATE, file VARCHAR, line BIGINT, \"column\" VARCHAR, reason VARCHAR, "
    "detail VARCHAR, raw_text VARCHAR"
)


@dataclass
class FileResult:
    extract_date: date
    entity: str
    file: str
    rows_in_file: int
    rows_accepted: int
    rows_quarantined: int
    skipped: bool = False
    extra_columns: tuple[str, ...] = ()  # kept in the raw column extra_fields
    missing_columns: tuple[str, ...] = ()  # optional contract columns the file lacks (loaded as NULL)

    def schema_warnings(self) -> list[str]:
        """One line per schema difference of this file from the contract (the CLI prints them)."""
        lines = []
        if self.extra_columns:
            lines.append(f"{self.file}: column(s) not in the contract kept in {self.entity}.extra_fields: "
                         f"{', '.join(self.extra_columns)}")
        if self.missing_columns:
            lines.append(f"{self.file}: optional column(s) missing from the header, loaded as NULL: "
                         f"{', '.join(self.missing_columns)}")
        return lines


@dataclass
class LoadSummary:
    loaded: list[FileResult] = field(default_factory=list)
    skipped: list[FileResult] = field(default_factory=list)
    released: int = 0
    rolled_back: list[date] = field(default_factory=list)  # days of an earlier run that never passed the gates

    @property
    def dates_loaded(self) -> list[date]:
        return sorted({r.extract_date for r in self.loaded})


ProgressFn = Callable[[str], None]


def _connect() -> duckdb.DuckDBPyConnection:
    con = connect_duckdb()  # CRM_DUCKDB_* limits, spilling into the run's temp folder
    con.execute("SET preserve_insertion_order = true")
    con.execute("SET TimeZone = 'UTC'")
    return con


def _audit_sha(con: duckdb.DuckDBPyConnection, zone: RawZone, entity: str, d: date) -> str | None:
    path = zone.meta("audit", entity, d)
    if not path.is_file():
        return None
    return scalar(con, "SELECT sha256 FROM read_parquet($p)", {"p": str(path)})


def _prepare_parent_keys(
    con: duckdb.DuckDBPyConnection, zone: RawZone, ent: contract.Entity, delivered: tuple[str, ...]
) -> None:
    """Temp tables parent_keys_<parent>: every key of the parent loaded so far (any batch)."""
    for parent_name in sorted({c.references for c in rules.checked_foreign_keys(ent, delivered)}):
        parent = contract.entity(parent_name)
        table = f"parent_keys_{parent.name}"
        con.execute(f"DROP TABLE IF EXISTS {table}")
        files = sorted((zone.root / parent.name).glob("*/*.parquet"))
        if files:
            con.execute(
                f"CREATE TEMP TABLE {table} AS SELECT DISTINCT {quote(parent, parent.key[0])} AS key "
                f"FROM read_parquet($files, union_by_name = true) WHERE {quote(parent, parent.key[0])} IS NOT NULL",
                {"files": [str(f) for f in files]},
            )
        else:
            con.execute(f"CREATE TEMP TABLE {table} (key VARCHAR)")


def _load_file(
    con: duckdb.DuckDBPyConnection,
    zone: RawZone,
    f: landing.ExtractFile,
    prepared: transcode.PreparedFile,
    names: list[str],
    loaded_at: datetime,
    delivered: tuple[str, ...] = contract.LOAD_ORDER,
) -> FileResult:
    ent = contract.entity(f.entity)
    display = str(f.path)
    parsed = parse.parse_file(con, prepared, ent, names)
    if f.expected_rows is not None and f.expected_rows != parsed.records:
        raise CrmWarehouseError(
            f"{display}: the manifest promises {f.expected_rows} rows but the file holds {parsed.records} "
            "records (truncated or unbalanced quotes?); nothing of it was loaded"
        )
    # Privacy: rows of forgotten people are dropped here and quarantined as `forgotten` (file, line only).
    suppress.drop_forgotten_rows(con, zone.root, ent)
    _prepare_parent_keys(con, zone, ent, delivered)
    sql, params = rules.row_rule_sql(ent, f.extract_date, delivered)
    execute(con, sql, params)

    # Field-level defects: null the field, keep the row, report it.
    checks = rules.field_checks(ent)
    fparams = rules.field_check_params(f.extract_date)
    cleaned_cols = []
    for c in ent.column_names:
        check = next((cond for col, _, cond in checks if col == c), None)
        cleaned_cols.append(f"CASE WHEN {check} THEN NULL ELSE {quote(ent, c)} END AS {quote(ent, c)}"
                            if check else quote(ent, c))
    lineage = (
        "CAST($extract_date AS DATE) AS _extract_date, CAST($source_file AS VARCHAR) AS _source_file, "
        "_source_line, CAST($loaded_at AS TIMESTAMP) AS _loaded_at"
    )
    lparams = {"extract_date": f.extract_date, "source_file": f.relative_name, "loaded_at": loaded_at}
    cleaned_query = f"SELECT {', '.join(cleaned_cols)}, {parse.EXTRA_FIELDS}, {lineage} FROM checked_rows"

    q = {**fparams, **lparams}
    execute(con, f"CREATE OR REPLACE TEMP TABLE accepted_rows AS {cleaned_query} WHERE _reason IS NULL", q)
    execute(
        con,
        f"CREATE OR REPLACE TEMP TABLE orphan_rows AS {cleaned_query} WHERE _reason = $orphan",
        {**q, "orphan": contract.ORPHAN_FK},
    )
    issue_parts = [
        f"SELECT $entity AS entity, _key AS key, '{col}' AS \"column\", '{reason}' AS reason, "
        f"CAST($source_file AS VARCHAR) AS file, _source_line AS line, CAST($extract_date AS DATE) AS extract_date "
        f"FROM checked_rows WHERE _reason IS NULL AND ({cond})"
        for col, reason, cond in checks
    ]
    issues_query = " UNION ALL ".join(issue_parts) if issue_parts else (
        "SELECT NULL::VARCHAR AS entity, NULL::VARCHAR AS key, NULL::VARCHAR AS \"column\", NULL::VARCHAR AS reason, "
        "NULL::VARCHAR AS file, NULL::BIGINT AS line, NULL::DATE AS extract_date WHERE false"
    )
    row_text = "CAST(row(" + ", ".join(quote(ent, c) for c in ent.column_names) + ") AS VARCHAR)"
    rej_case = " ".join(
        f"WHEN error_type = 'CAST' AND column_name = '{c.name}' THEN '"
        + rules.parse_reason("CAST", c.type) + "'"
        for c in ent.columns
    )
    quarantine_query = f"""
        SELECT CAST($entity AS VARCHAR) AS entity, CAST($extract_date AS DATE) AS extract_date,
               CAST($source_file AS VARCHAR) AS file, line::BIGINT AS line,
               CASE WHEN error_type IN ('MISSING COLUMNS', 'TOO MANY COLUMNS') THEN NULL ELSE column_name END
                   AS "column",
               CASE WHEN error_type IN ('MISSING COLUMNS', 'TOO MANY COLUMNS') THEN $wrong_count
                    {rej_case} ELSE $unparseable END AS reason,
               error_message AS detail, csv_line AS raw_text
        FROM parse_rejects
        UNION ALL
        SELECT $entity, CAST($extract_date AS DATE), $source_file, _source_line, _column, _reason,
               NULL, {row_text}
        FROM checked_rows WHERE _reason IS NOT NULL
        UNION ALL
        {suppress.QUARANTINE_SQL}
        ORDER BY line
    """
    qparams = {
        "entity": ent.name,
        "extract_date": f.extract_date,
        "source_file": f.relative_name,
        "wrong_count": contract.WRONG_COLUMN_COUNT,
        "unparseable": contract.UNPARSEABLE_VALUE,
        **suppress.QUARANTINE_PARAMS,
    }
    # Write data files first and the audit row last: the audit row is the commit marker.
    zone.write(con, "SELECT * FROM accepted_rows ORDER BY _source_line", {}, zone.accepted(ent.name, f.extract_date))
    zone.write(con, "SELECT * FROM orphan_rows ORDER BY _source_line", {}, zone.meta("orphans", ent.name, f.extract_date))
    zone.write(con, issues_query + " ORDER BY line, \"column\"", {**fparams, "entity": ent.name,
               "source_file": f.relative_name, "extract_date": f.extract_date},
               zone.meta("data_issues", ent.name, f.extract_date))
    zone.write(con, quarantine_query, qparams, zone.meta("quarantine", ent.name, f.extract_date))
    accepted = scalar(con, "SELECT count(*) FROM accepted_rows")
    quarantined = parsed.records - accepted
    zone.write(
        con,
        """
        SELECT CAST($extract_date AS DATE) AS extract_date, CAST($entity AS VARCHAR) AS entity,
               CAST($source_file AS VARCHAR) AS file, CAST($sha AS VARCHAR) AS sha256,
               CAST($encoding AS VARCHAR) AS encoding, CAST($records AS BIGINT) AS rows_in_file,
               CAST($accepted AS BIGINT) AS rows_accepted, CAST($quarantined AS BIGINT) AS rows_quarantined_at_load,
               CAST($extra AS VARCHAR[]) AS extra_columns, CAST($missing AS VARCHAR[]) AS missing_columns,
               CAST($loaded_at AS TIMESTAMP) AS loaded_at
        """,
        {
            "extract_date": f.extract_date, "entity": ent.name, "source_file": f.relative_name,
            "sha": prepared.sha256, "encoding": f.encoding, "records": parsed.records, "accepted": accepted,
            "quarantined": quarantined, "extra": list(parsed.extra_columns),
            "missing": list(parsed.missing_columns), "loaded_at": loaded_at,
        },
        zone.meta("audit", ent.name, f.extract_date),
    )
    result = FileResult(f.extract_date, ent.name, f.relative_name, parsed.records, accepted, quarantined,
                        extra_columns=parsed.extra_columns, missing_columns=parsed.missing_columns)
    for line in result.schema_warnings():
        log.warning("%s", line)
    return result


def _preflight(
    con: duckdb.DuckDBPyConnection, zone: RawZone, extract: landing.Extract, scratch: Path, reload: bool
) -> list[tuple[landing.ExtractFile, transcode.PreparedFile | None, list[str]]]:
    """Check every file of one extract before writing anything; return what still needs loading."""
    plan = []
    for f in extract.files:
        prepared = transcode.prepare(f.path, f.encoding, scratch)
        if f.expected_sha256 and f.expected_sha256.lower() != prepared.sha256:
            raise CrmWarehouseError(
                f"{f.path}: sha256 {prepared.sha256} differs from the manifest's {f.expected_sha256}; "
                "the file changed after the manifest was written"
            )
        names = parse.header_columns(prepared, contract.entity(f.entity), str(f.path))
        loaded_sha = None if reload else _audit_sha(con, zone, f.entity, f.extract_date)
        if loaded_sha is not None and loaded_sha != prepared.sha256:
            raise CrmWarehouseError(
                f"{f.path}: this extract file was already loaded with different content (sha256 {loaded_sha[:12]}… "
                f"now {prepared.sha256[:12]}…); to replace the day on purpose run "
                f"`crm-warehouse reload --date {f.extract_date.isoformat()}`"
            )
        plan.append((f, None if loaded_sha else prepared, names))
    return plan


def load_new_extracts(
    landing_dir: Path,
    raw_root: Path,
    scratch_dir: Path,
    as_of: date | None = None,
    reload_dates: tuple[date, ...] = (),
    progress: ProgressFn | None = None,
) -> LoadSummary:
    """Load every complete extract up to `as_of` that is not loaded yet; re-load `reload_dates` on purpose."""
    zone = RawZone(raw_root)
    summary = LoadSummary(rolled_back=nights.rollback(raw_root))  # a run that died before its gates passed
    dates = [d for d in landing.complete_extract_dates(landing_dir) if as_of is None or d <= as_of]
    for d in reload_dates:
        if d not in dates:
            raise CrmWarehouseError(f"{landing_dir / d.isoformat()}: no complete extract to reload for {d}")
    site = load_site(landing_dir)
    delivered = site.entities
    con = _connect()
    try:
        for d in dates:
            extract = landing.read_extract(landing_dir, d)
            _check_delivered(extract, site)
            reload = d in reload_dates
            plan = _preflight(con, zone, extract, scratch_dir, reload)
            if reload or any(prepared is not None for _, prepared, _ in plan):
                nights.begin(zone, d, reload)  # before the first byte of the day: rolled back unless the gates pass
            if reload:
                zone.remove_batch(d)
            loaded_at = datetime.now(UTC).replace(tzinfo=None, microsecond=0)  # UTC, naive (TIMESTAMP)
            for f, prepared, names in plan:
                if prepared is None:
                    summary.skipped.append(FileResult(d, f.entity, f.relative_name, 0, 0, 0, skipped=True))
                    continue
                if progress:
                    progress(f"loading {f.relative_name}")
                result = _load_file(con, zone, f, prepared, names, loaded_at, delivered)
                log.info(
                    "%s: %d rows, %d loaded, %d quarantined", result.file, result.rows_in_file,
                    result.rows_accepted, result.rows_quarantined,
                )
                summary.loaded.append(result)
                if prepared.readable != prepared.source:
                    prepared.readable.unlink(missing_ok=True)
            _write_empty_for_absent(con, zone, extract)
        summary.released = release_orphans(con, zone, delivered)
    finally:
        con.close()
    return summary


def _check_delivered(extract: landing.Extract, site: Site) -> None:
    """A file of an entity the site configuration says it does not deliver is a configuration error."""
    for f in extract.files:
        if not site.delivers(f.entity):
            raise CrmWarehouseError(
                f"{f.path}: the site configuration ({site.source}) does not list {f.entity!r} among the "
                "entities this site delivers; add it to `entities`/`modules` in crm.yml or leave the file out"
            )


def _write_empty_for_absent(con: duckdb.DuckDBPyConnection, zone: RawZone, extract: landing.Extract) -> None:
    """An entity without a file in this extract gets an empty raw file with the columns of a loaded one
    (contract columns, extra_fields, lineage), so every source is readable and globs have one schema."""
    present = {f.entity for f in extract.files}
    for ent in contract.ENTITIES:
        target = zone.accepted(ent.name, extract.extract_date)
        if ent.name in present or target.exists():
            continue
        cols = ", ".join(f"CAST(NULL AS {c.type}) AS {quote(ent, c.name)}" for c in ent.columns)
        zone.write(
            con,
            f"SELECT {cols}, NULL::MAP(VARCHAR, VARCHAR) AS {parse.EXTRA_FIELDS}, NULL::DATE AS _extract_date, "
            "NULL::VARCHAR AS _source_file, "
            "NULL::BIGINT AS _source_line, NULL::TIMESTAMP AS _loaded_at WHERE false",
            {},
            target,
        )


def release_orphans(
    con: duckdb.DuckDBPyConnection, zone: RawZone, delivered: tuple[str, ...] = contract.LOAD_ORDER
) -> int:
    """Recompute which orphan rows have their parents now, and (re)write them as released rows.

    A row is released in the batch of the day its last missing parent arrived. Entities are processed in
    load order so a released parent (an order) can release its own children (its items).
    """
    total = 0
    for ent in contract.ENTITIES:
        if not ent.foreign_keys:
            continue
        for old in zone.root.glob(f"{ent.name}/*/released.parquet"):
            old.unlink()
        release_file = zone.releases(ent.name)
        orphan_files = sorted((zone.root / "_meta" / "orphans" / ent.name).glob("*/*.parquet"))
        if not orphan_files:
            release_file.unlink(missing_ok=True)
            continue
        con.execute("DROP TABLE IF EXISTS orphans")
        con.execute(
            "CREATE TEMP TABLE orphans AS SELECT * EXCLUDE (_batch) FROM read_parquet($files, hive_partitioning = true, union_by_name = true)",
            {"files": [str(p) for p in orphan_files]},
        )
        joins, conds, dates = [], [], ["o._extract_date"]
        checked = rules.checked_foreign_keys(ent, delivered)
        for i, col in enumerate(checked):
            parent = contract.entity(col.references)
            files = sorted((zone.root / parent.name).glob("*/*.parquet"))
            pk = quote(parent, parent.key[0])
            if files:
                src = (
                    f"SELECT {pk} AS key, min(_batch) AS available_on FROM read_parquet($files_{i}, "
                    f"hive_partitioning = true, union_by_name = true) GROUP BY 1"
                )
            else:
                src = "SELECT NULL::VARCHAR AS key, NULL::DATE AS available_on WHERE false"
            joins.append(f"LEFT JOIN ({src}) p{i} ON p{i}.key = o.{quote(ent, col.name)}")
            conds.append(f"(o.{quote(ent, col.name)} IS NULL OR p{i}.available_on IS NOT NULL)")
            dates.append(f"coalesce(CAST(p{i}.available_on AS DATE), o._extract_date)")
        params = {
            f"files_{i}": [str(p) for p in sorted((zone.root / contract.entity(c.references).name).glob("*/*.parquet"))]
            for i, c in enumerate(checked)
        }
        params = {k: v for k, v in params.items() if v}
        execute(
            con,
            f"""
            CREATE OR REPLACE TEMP TABLE released_rows AS
            SELECT o.*, greatest({", ".join(dates)}) AS _released_on
            FROM orphans o {" ".join(joins)}
            WHERE {" AND ".join(conds) or "true"}
            """,
            params,
        )
        batches = [r[0] for r in con.execute("SELECT DISTINCT _released_on FROM released_rows ORDER BY 1").fetchall()]
        for b in batches:
            zone.write(
                con, "SELECT * EXCLUDE (_released_on) FROM released_rows WHERE _released_on = $b ORDER BY "
                "_extract_date, _source_line", {"b": b}, zone.released(ent.name, b),
            )
        zone.write(
            con,
            f"SELECT CAST($entity AS VARCHAR) AS entity, _source_file AS file, _source_line AS line, "
            f"{key_expr(ent)} AS key, _released_on AS released_on FROM released_rows ORDER BY file, line",
            {"entity": ent.name},
            release_file,
        )
        total += scalar(con, "SELECT count(*) FROM released_rows")
    return total
