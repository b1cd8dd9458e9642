"""Quality gates: the Great Expectations suites of `expectations/` as blocking Dagster asset checks.

One check named `great_expectations` per raw entity asset (`raw/<entity>`) and per mart asset that has a
suite (`marts/<model>`). Each check reads pandas frames with DuckDB and validates them with the runner:

* rows: the table's rows, all of them up to FULL_FRAME_MAX_ROWS, else a deterministic sample
  (`USING SAMPLE reservoir(SAMPLE_ROWS ROWS) REPEATABLE (SAMPLE_SEED)` on a single-threaded connection,
  since a seeded reservoir is only reproducible without parallel scans);
* facts: aggregates computed in DuckDB over every row (row counts, null and duplicate key counts,
  min/max of bounded columns; per extract file for raw entities, joined to the load audit for the
  quarantine rate and to the run's as_of for freshness), named by the `expectations.facts` convention.

A failed expectation fails the check with severity ERROR; the checks are blocking, so Dagster skips every
asset downstream of the checked one: a raw failure stops ops tables, dbt and the publish, a mart failure
stops the publish (and anything else reading the mart), and BI keeps the previously published file. The
check result carries the failed expectations with observed values, the Data Docs page and the offline
summary (`WAREHOUSE/data_docs/summary.html`); the step then fails with a CrmWarehouseError naming the
expectation, file and line, which the CLI prints and the on-call alert quotes.

Reading: the raw zone with read_parquet over RAW_ROOT; marts from the work file opened read-only, which
is safe because a check on a dbt asset runs only after the dbt step (and its dbt process) has finished.
The quarantine rate uses the load audit computed from the raw zone's metadata by the same function that
builds ops.load_audit (`rebuild_ops_tables`), in memory: the work file's ops.load_audit is rebuilt only
after the raw checks pass (ops_load_tables is downstream of raw/*), so it would still hold the last run's.
"""

import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb

from expectations import facts
from expectations.runner import load_suite, suite_path
from orchestration import contract, site_scope
from orchestration.assets.dbt import crm_dbt_models
from orchestration.assets.ingest import RAW_KEYS, resolve_as_of
from orchestration.assets.resources import WarehouseResource
from orchestration.errors import CrmWarehouseError
from orchestration.raw.zone import RawZone
from orchestration.settings import Settings, load_ops_settings
from orchestration.site import load_site

CHECK_NAME = "great_expectations"
FULL_FRAME_MAX_ROWS = 50_000  # validate every row up to this size ...
SAMPLE_ROWS = 50_000  # ... else a reservoir sample of this many rows
SAMPLE_SEED = 42
DATA_DOCS_DIR = "data_docs"  # under CRM_WAREHOUSE_DIR
LINEAGE = ("_extract_date", "_source_file", "_source_line", "_loaded_at")

MART_KEYS = sorted((k for k in crm_dbt_models.keys if k.path[0] == "marts"), key=lambda k: k.to_user_string())


def data_docs_dir(settings: Settings) -> Path:
    return settings.warehouse_dir / DATA_DOCS_DIR


# --- frames ---------------------------------------------------------------------------------------

def _columns(con: duckdb.DuckDBPyConnection, relation: str) -> list[str]:
    return [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]


def _rows_frame(con: duckdb.DuckDBPyConnection, relation: str, total: int) -> tuple:
    """All rows, or a reproducible reservoir sample of a big table; (frame, sampled)."""
    if total <= FULL_FRAME_MAX_ROWS:
        return con.execute(f"SELECT * FROM {relation}").df(), False
    con.execute("SET threads = 1")  # a seeded reservoir sample is reproducible only single-threaded
    try:
        df = con.execute(
            f"SELECT * FROM {relation} USING SAMPLE reservoir({SAMPLE_ROWS} ROWS) REPEATABLE ({SAMPLE_SEED})"
        ).df()
    finally:
        con.execute("RESET threads")
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
        with duckdb.connect() as con:
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
    with duckdb.connect() as con:
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


def mart_frames(settings: Settings, model: str) -> list[tuple[str, object, dict]]:
    """[(suite, frame, info)] for one mart: its rows (or a sample) and one row of facts over all rows."""
    if dg.AssetKey(["marts", model]) not in MART_KEYS:  # the name comes from the dbt manifest allow-list
        raise ValueError(f"{model!r} is not a dbt mart model")
    relation = f'marts."{model}"'
    with duckdb.connect(str(settings.work_db), read_only=True) as con:
        found = con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'marts' AND table_name = $t", {"t": model}
        ).fetchall()[0][0] + con.execute(
            "SELECT count(*) FROM duckdb_views() WHERE schema_name = 'marts' AND view_name = $t", {"t": model}
        ).fetchall()[0][0]
        if not found:
            raise CrmWarehouseError(
                f"marts.{model} is not in the work file {settings.work_db}: the dbt build did not create it"
            )
        total = con.execute(f"SELECT count(*) FROM {relation}").fetchall()[0][0]
        rows, sampled = _rows_frame(con, relation, total)
        facts_suite = f"marts.{model}.facts"
        frames = [(f"marts.{model}", rows, {"rows_total": int(total), "sampled": sampled})]
        if suite_path(facts_suite).exists():
            items = facts.select_list(load_suite(facts_suite), _columns(con, relation))
            frames.append((facts_suite, con.execute(f"SELECT {', '.join(items)} FROM {relation}").df(), {}))
    return frames


# --- validating and reporting ---------------------------------------------------------------------

def _md(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _failed_table(outcomes) -> str:
    lines = ["| suite | expectation | observed | rule |", "|---|---|---|---|"]
    for o in outcomes:
        for f in o.failed:
            lines.append(f"| {_md(o.suite)} | {_md(f.call())} | {_md(f.observation())} | {_md(f.rule)} |")
    return "\n".join(lines)


def run_suites(
    context: dg.AssetCheckExecutionContext, settings: Settings, asset_key: dg.AssetKey, frames, what_to_do: str
) -> Iterator[dg.AssetCheckResult]:
    """Validate each (suite, frame); yield one check result; raise a one-line CrmWarehouseError if any
    expectation failed (after the result is recorded, so the UI shows it)."""
    from expectations.runner import get_validator

    start = time.monotonic()
    docs = data_docs_dir(settings)
    validator = get_validator(docs, context.run.run_id, render_passing=load_ops_settings().data_docs_all)
    outcomes = []
    for suite, frame, info in frames:
        outcome = validator.validate(frame, suite, asset=asset_key.to_user_string(), context_info=info)
        context.log.info(outcome.summary())
        outcomes.append(outcome)
    passed = all(o.success for o in outcomes)
    failing = [o for o in outcomes if not o.success]
    page = (failing or outcomes)[0].docs_page
    summary = docs / "summary.html"
    info = {k: v for _, _, i in frames for k, v in i.items()}
    metadata = {
        "suites": ", ".join(o.suite for o in outcomes),
        "expectations_passed": f"{sum(o.successful for o in outcomes)}/{sum(o.evaluated for o in outcomes)}",
        "failed_expectations": len([f for o in outcomes for f in o.failed]),
        "rows_validated": dg.MetadataValue.json({o.suite: o.rows for o in outcomes}),
        "sampled": bool(info.get("sampled", False)),
        "rows_total": int(info.get("rows_total", 0)),
        "as_of": str(info.get("as_of", "")),
        "duration_s": dg.MetadataValue.float(round(time.monotonic() - start, 2)),
        "data_docs_summary": dg.MetadataValue.path(str(summary)),
    }
    if page and page.startswith("/"):
        metadata["data_docs_page"] = dg.MetadataValue.path(page)
    if failing:
        metadata["failures"] = dg.MetadataValue.md(_failed_table(failing))
    yield dg.AssetCheckResult(
        passed=passed,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata=metadata,
        description=None if passed else " || ".join(o.summary() for o in failing)[:2000],
    )
    if not passed:
        first = failing[0]
        more = len(first.failed) - 1
        also = [o.suite for o in failing[1:]]
        raise CrmWarehouseError(
            f"quality gate {asset_key.to_user_string()} failed: suite {first.suite}: {first.failed[0].summary()}"
            + (f" (+{more} more failed expectations)" if more else "")
            + (f"; also failed: {', '.join(also)}" if also else "")
            + f"; {what_to_do}; details: {summary}"
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


def _mart_check(model: str) -> dg.AssetChecksDefinition:
    key = dg.AssetKey(["marts", model])
    has_facts = suite_path(f"marts.{model}.facts").exists()

    @dg.asset_check(
        asset=key,
        name=CHECK_NAME,
        blocking=True,
        description=f"Great Expectations suite marts.{model} (rows; sampled when big)"
        + (f" and marts.{model}.facts (counts, keys, bounds over all rows)." if has_facts else "."),
    )
    def _check(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource):
        settings = warehouse.settings()
        frames = mart_frames(settings, model)
        if frames[0][2]["rows_total"] == 0:
            site = load_site(settings.landing_dir)
            missing = site_scope.missing_entities(model, site)
            if missing:  # empty by configuration: every entity that makes its rows is not delivered
                yield _not_applicable(
                    f"marts.{model} is empty: the site does not deliver {', '.join(missing)} ({site.source})"
                )
                return
            own = sorted(site_scope.own_entities(model))
            if own and _rows_delivered(settings, own) == 0:  # delivered, but header-only files: empty is right
                yield _not_applicable(f"marts.{model} is empty: the site delivered no rows of {', '.join(own)}")
                return
        what_to_do = "fix the dbt model (or the suite in expectations/suites/ if the rule is wrong) and re-run"
        if frames[0][2]["rows_total"] == 0:  # say where the rows vanished
            upstream = upstream_load_summary(settings, model)
            context.log.warning(f"marts.{model} is empty; upstream: {upstream}")
            what_to_do = f"the mart is empty; upstream: {upstream}; {what_to_do}"
        yield from run_suites(context, settings, key, frames, what_to_do)

    return _check


def _not_applicable(why: str) -> dg.AssetCheckResult:
    """A gate that has nothing to check on this site passes, and says why (shown in the Dagster UI)."""
    return dg.AssetCheckResult(passed=True, metadata={"skipped": why}, description=f"skipped: {why}")


def _rows_delivered(settings: Settings, entities: list[str]) -> int:
    """Records in every extract file of `entities` so far (the load audit)."""
    audit = load_audit(settings.raw_root)
    return int(audit.loc[audit["entity"].isin(entities), "rows_in_file"].sum())


def upstream_load_summary(settings: Settings, model: str) -> str:
    """Per raw entity upstream of `model`: rows in files, loaded and quarantined by reason (the load audit and
    the quarantine), so an empty mart's gate says where the rows vanished."""
    entities = sorted(site_scope.model_entities(model))
    audit = load_audit(settings.raw_root)
    parts = []
    zone = RawZone(settings.raw_root)
    with duckdb.connect() as con:
        con.register("audit", audit)
        reasons: dict[str, str] = {}
        glob = zone.meta_glob("quarantine")
        if zone.has_files(glob):
            rows = con.execute(
                "SELECT entity, reason, count(*) FROM read_parquet($glob, union_by_name = true) "
                "WHERE list_contains($entities, entity) GROUP BY 1, 2 ORDER BY 1, 3 DESC",
                {"glob": glob, "entities": entities},
            ).fetchall()
            for ent, reason, n in rows:
                reasons[ent] = (reasons[ent] + ", " if ent in reasons else "") + f"{reason} {n}"
        totals = dict(
            (e, (f, q, r)) for e, f, q, r in con.execute(
                "SELECT entity, sum(rows_in_file), sum(rows_quarantined), sum(rows_loaded) FROM audit "
                "WHERE list_contains($entities, entity) GROUP BY 1",
                {"entities": entities},
            ).fetchall()
        )
    for ent in entities:
        in_file, quarantined, loaded = totals.get(ent, (0, 0, 0))
        detail = f" ({reasons[ent]})" if ent in reasons else ""
        parts.append(f"raw.{ent}: {in_file} rows in files, {loaded} loaded, {quarantined} quarantined{detail}")
    return "; ".join(parts)


def marts_with_suites() -> list[str]:
    return [k.path[-1] for k in MART_KEYS if suite_path(f"marts.{k.path[-1]}").exists()]


def marts_without_suites() -> list[str]:
    return [k.path[-1] for k in MART_KEYS if not suite_path(f"marts.{k.path[-1]}").exists()]


RAW_CHECKS = [_raw_check(name) for name in contract.LOAD_ORDER]
MART_CHECKS = [_mart_check(model) for model in marts_with_suites()]
ASSET_CHECKS = [*RAW_CHECKS, *MART_CHECKS]
