"""Quality gates on the raw extracts: the Great Expectations suites of `expectations/` as blocking Dagster
asset checks. (The marts are gated by their dbt tests, run in `dbt build`, and by `has_rows` in
orchestration/assets/mart_gates.py; GX does not check them a second time.)

One check named `great_expectations` per raw entity asset (`raw/<entity>`). Each check reads pandas
frames with DuckDB and runs each through its suite's GX Checkpoint (`expectations.runner`):

* rows: the entity's rows, all of them up to FULL_FRAME_MAX_ROWS, else a deterministic sample
  (`USING SAMPLE reservoir(SAMPLE_ROWS ROWS) REPEATABLE (SAMPLE_SEED)` on a single-threaded connection,
  since a seeded reservoir is only reproducible without parallel scans);
* files: aggregates computed in DuckDB over every row, one row per extract file (row counts, null and
  duplicate key counts, min/max of bounded columns), joined to the load audit for the quarantine rate and
  to the run's as_of for freshness, named by the `expectations.facts` convention.

A failed expectation fails the check with severity ERROR; the checks are blocking, so Dagster skips every
asset downstream of the checked one: ops tables, dbt and the publish, and BI keeps the previously
published file. The check result carries, from GX's CheckpointResult, the failed expectations with what
the data showed (a few unexpected values and their file/line), GX's own description of them
(`gx_failed_expectations`), the Data Docs page rendered by the Checkpoint's UpdateDataDocsAction and the
offline entry page (`WAREHOUSE/data_docs/summary.html`); the step then fails with a CrmWarehouseError
naming the entity, the expectation, file and line, which the CLI prints and the on-call alert quotes.

Reading: the raw zone with read_parquet over RAW_ROOT. The quarantine rate uses the load audit computed
from the raw zone's metadata by the same function that builds ops.load_audit (`rebuild_ops_tables`), in
memory: the work file's ops.load_audit is rebuilt only after the raw checks pass (ops_load_tables is
downstream of raw/*), so it would still hold the last run's.
"""

import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb

from expectations import facts
from expectations.suites import load_suite
from orchestration import contract
from orchestration.assets.ingest import RAW_KEYS, resolve_as_of
from orchestration.assets.resources import WarehouseResource
from orchestration.errors import CrmWarehouseError
from orchestration.raw.zone import RawZone
from orchestration.settings import Settings, connect_duckdb, load_ops_settings
from orchestration.site import load_site

CHECK_NAME = "great_expectations"
FULL_FRAME_MAX_ROWS = 50_000  # validate every row up to this size ...
SAMPLE_ROWS = 50_000  # ... else a reservoir sample of this many rows
SAMPLE_SEED = 42
DATA_DOCS_DIR = "data_docs"  # under CRM_WAREHOUSE_DIR
LINEAGE = ("_extract_date", "_source_file", "_source_line", "_loaded_at")


def data_docs_dir(settings: Settings) -> Path:
    return settings.warehouse_dir / DATA_DOCS_DIR


# --- frames ---------------------------------------------------------------------------------------

def _columns(con: duckdb.DuckDBPyConnection, relation: str) -> list[str]:
    return [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]


def _rows_frame(con: duckdb.DuckDBPyConnection, relation: str, total: int) -> tuple:
    """All rows, or a reproducible reservoir sample of a big table; (frame, sampled)."""
    if total <= FULL_FRAME_MAX_ROWS:
        return con.execute(f"SELECT * FROM {relation}").df(), False
    threads = con.execute("SELECT current_setting('threads')").fetchall()[0][0]
    con.execute("SET threads = 1")  # a seeded reservoir sample is reproducible only single-threaded
    try:
        df = con.execute(
            f"SELECT * FROM {relation} USING SAMPLE reservoir({SAMPLE_ROWS} ROWS) REPEATABLE ({SAMPLE_SEED})"
        ).df()
    finally:  # back to CRM_DUCKDB_THREADS (RESET would give DuckDB's built-in default, not the config)
        con.execute("SET threads = $n", {"n": threads})
    return df, True


_AUDIT_CACHE: dict[tuple, object] = {}


def load_audit(raw_root: Path):
    """ops.load_audit as of now, computed from the raw zone's metadata (the function that builds the work
    file's table), cached per process until a metadata file changes."""
    from orchestration.raw.ops_tables import rebuild_ops_tables

    meta = raw_root / "_meta"
    stamp = tuple(
        sorted((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in meta.glob("**/*.parquet"))
    ) if meta.is_dir() else ()
    key = (str(raw_root), stamp)
    if key not in _AUDIT_CACHE:
        with connect_duckdb() as con:
            rebuild_ops_tables(con, raw_root)
            audit = con.execute("SELECT * FROM ops.load_audit").df()
        _AUDIT_CACHE.clear()
        _AUDIT_CACHE[key] = audit
    return _AUDIT_CACHE[key]


def raw_frames(settings: Settings, entity: str, as_of: date | None) -> list[tuple[str, object, dict]]:
    """[(suite, frame, info)] for one raw entity: its rows (or a sample) and one row per extract file."""
    ent = contract.entity(entity)  # the name comes from the contract allow-list
    rows_suite, files_suite = f"raw.{entity}", f"raw.{entity}.files"
    zone = RawZone(settings.raw_root)
    glob = zone.entity_glob(entity)
    with connect_duckdb(warehouse_dir=settings.warehouse_dir) as con:
        if zone.has_files(glob):
            # the relation API takes the path as a value (a view cannot hold a prepared parameter)
            con.read_parquet(glob, hive_partitioning=True, union_by_name=True).create_view("raw_files")
            con.execute("CREATE TEMP VIEW raw_rows AS SELECT * EXCLUDE (_batch) FROM raw_files")
        else:  # nothing loaded yet: an empty frame with the contract's columns (the files suite fails)
            cols = ", ".join(f'NULL::{c.type} AS "{c.name}"' for c in ent.columns)
            con.execute(
                f"CREATE TEMP VIEW raw_rows AS SELECT {cols}, NULL::DATE AS _extract_date, "
                "NULL::VARCHAR AS _source_file, NULL::BIGINT AS _source_line, NULL::TIMESTAMP AS _loaded_at "
                "WHERE false"
            )
        total = con.execute("SELECT count(*) FROM raw_rows").fetchall()[0][0]
        rows, sampled = _rows_frame(con, "raw_rows", total)

        con.register("audit", load_audit(settings.raw_root))
        items = facts.select_list(load_suite(files_suite), _columns(con, "raw_rows"))
        files = con.execute(
            f"""
            WITH f AS (
                SELECT _source_file AS file, count(*) AS rows_in_raw{''.join(', ' + i for i in items)}
                FROM raw_rows GROUP BY 1
            ),
            a AS (SELECT * FROM audit WHERE entity = $entity)
            SELECT coalesce(a.file, f.file) AS file, a.extract_date,
                   date_diff('day', a.extract_date, $as_of::DATE) AS age_days,
                   a.rows_in_file, a.rows_loaded, a.rows_quarantined,
                   a.rows_quarantined / greatest(a.rows_in_file, 1) AS quarantine_rate,
                   coalesce(f.rows_in_raw, 0) AS rows_in_raw, f.* EXCLUDE (file, rows_in_raw)
            FROM a FULL JOIN f ON f.file = a.file
            ORDER BY a.extract_date, 1
            """,
            {"entity": entity, "as_of": as_of},
        ).df()
    info = {"as_of": str(as_of), "rows_total": int(total), "sampled": sampled}
    return [(rows_suite, rows, info), (files_suite, files, {"as_of": str(as_of), "files": len(files)})]


# --- validating and reporting ---------------------------------------------------------------------

def _md(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _failed_table(results) -> str:
    from expectations import runner

    lines = ["| suite | expectation | observed | rule |", "|---|---|---|---|"]
    for suite in results:
        for r in runner.failures(suite):
            lines.append(f"| {_md(suite.suite_name)} | {_md(runner.call(r))} | {_md(runner.observation(r))} "
                         f"| {_md(runner.rule(r))} |")
    return "\n".join(lines)


def _gx_failed(results) -> list[dict]:
    """GX's own description of each failed expectation (type, kwargs, result with a few unexpected values
    and the rows they are on), for the check metadata."""
    from expectations import runner

    out = []
    for suite in results:
        for r in runner.failures(suite):
            item = r.describe_dict()
            res = item.get("result") or {}
            for key in ("partial_unexpected_list", "partial_unexpected_index_list", "partial_unexpected_counts"):
                if key in res:
                    res[key] = res[key][: runner.EXAMPLES]
            out.append({"suite": suite.suite_name, "rule": runner.rule(r), **item})
    return out


def run_suites(
    context: dg.AssetCheckExecutionContext, settings: Settings, asset_key: dg.AssetKey, frames, what_to_do: str
) -> Iterator[dg.AssetCheckResult]:
    """Run each (suite, frame) through its GX Checkpoint; yield one check result; raise a one-line
    CrmWarehouseError if any expectation failed (after the result is recorded, so the UI shows it)."""
    from expectations import runner

    start = time.monotonic()
    docs = data_docs_dir(settings)
    validator = runner.get_validator(docs, context.run.run_id,
                                     docs="all" if load_ops_settings().data_docs_all else "failures")
    checkpoints = []
    for suite, frame, _info in frames:
        checkpoint = validator.validate(frame, suite)
        context.log.info(runner.summary(checkpoint))
        checkpoints.append(checkpoint)
    results = [r for c in checkpoints for r in runner.suite_results(c)]
    failing = [r for r in results if not r.success]
    pages = [p for c in checkpoints if not c.success and (p := validator.docs_page(c))]
    info = {k: v for _, _, i in frames for k, v in i.items()}
    metadata = {
        "suites": ", ".join(r.suite_name for r in results),
        "expectations_passed": f"{sum(r.statistics['successful_expectations'] for r in results)}/"
                               f"{sum(r.statistics['evaluated_expectations'] for r in results)}",
        "failed_expectations": sum(len(runner.failures(r)) for r in results),
        "rows_validated": dg.MetadataValue.json({s: len(f) for s, f, _ in frames}),
        "sampled": bool(info.get("sampled", False)),
        "rows_total": int(info.get("rows_total", 0)),
        "as_of": str(info.get("as_of", "")),
        "duration_s": dg.MetadataValue.float(round(time.monotonic() - start, 2)),
        "data_docs_summary": dg.MetadataValue.path(str(validator.entry_page)),
    }
    if pages:
        metadata["data_docs_page"] = dg.MetadataValue.path(pages[0])
    if failing:
        metadata["failures"] = dg.MetadataValue.md(_failed_table(failing))
        metadata["gx_failed_expectations"] = dg.MetadataValue.json(_gx_failed(failing))
    yield dg.AssetCheckResult(
        passed=not failing,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata=metadata,
        description=" || ".join(runner.summary(r) for r in failing)[:2000] if failing else None,
    )
    if failing:
        first = failing[0]
        failed = runner.failures(first)
        also = [r.suite_name for r in failing[1:]]
        raise CrmWarehouseError(
            f"quality gate {asset_key.to_user_string()} failed: suite {first.suite_name}: {runner.describe(failed[0])}"
            + (f" (+{len(failed) - 1} more failed expectations)" if len(failed) > 1 else "")
            + (f"; also failed: {', '.join(also)}" if also else "")
            + f"; {what_to_do}; details: {validator.entry_page}"
        )


def _raw_check(entity: str) -> dg.AssetChecksDefinition:
    key = RAW_KEYS[entity]

    @dg.asset_check(
        asset=key,
        name=CHECK_NAME,
        blocking=True,
        description=f"Great Expectations suites raw.{entity} (rows; sampled when big) and raw.{entity}.files "
        "(per extract file: quarantine rate, freshness vs as_of, reconciliation, keys and bounds over all rows).",
    )
    def _check(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource):
        settings = warehouse.settings()
        site = load_site(settings.landing_dir)
        if not site.delivers(entity):
            yield _not_applicable(f"the site does not deliver {entity} ({site.source})")
            return
        frames = raw_frames(settings, entity, resolve_as_of(warehouse))
        yield from run_suites(
            context, settings, key, frames,
            "fix the extract file and deliver the day again (the refused night is rolled back, no `reload` "
            "needed), or correct the suite in expectations/ if the rule is wrong",
        )

    return _check


def _not_applicable(why: str) -> dg.AssetCheckResult:
    """A gate that has nothing to check on this site passes, and says why (shown in the Dagster UI)."""
    return dg.AssetCheckResult(passed=True, metadata={"skipped": why}, description=f"skipped: {why}")


RAW_CHECKS = [_raw_check(name) for name in contract.LOAD_ORDER]
