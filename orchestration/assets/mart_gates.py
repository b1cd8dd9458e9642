"""The one mart gate that is not a dbt test: a published mart is never empty without a reason.

Every other rule on a mart (keys, not-null, accepted values, value ranges, formats, keyed hashes) is a
dbt test in the mart's yml, run inside `dbt build` and shown in Dagster as an asset check; a failed one
fails the dbt step, so nothing is published. Whether an empty mart is an error depends on what the site
delivered, which dbt cannot see: that is this check.

One blocking check `has_rows` per mart (one step for all of them, a count each): an empty mart passes
when the site does not deliver the entities its rows come from (crm.yml; site_scope) or delivered only
header-only files of them; otherwise it fails, the publish is skipped, and the run's error names every
empty mart with its upstream load counts (rows in files, loaded, quarantined by reason), so the on-call
engineer sees where the rows vanished.
"""

import dagster as dg

from orchestration import site_scope
from orchestration.assets.checks import load_audit
from orchestration.assets.dbt import crm_dbt_models
from orchestration.assets.resources import WarehouseResource
from orchestration.errors import CrmWarehouseError
from orchestration.raw.zone import RawZone
from orchestration.settings import Settings, connect_duckdb
from orchestration.site import Site, load_site

CHECK_NAME = "has_rows"
MART_KEYS = sorted((k for k in crm_dbt_models.keys if k.path[0] == "marts"), key=lambda k: k.to_user_string())
MARTS = [k.path[-1] for k in MART_KEYS]  # the allow-list of names this module puts into SQL


def mart_row_counts(settings: Settings) -> dict[str, int | None]:
    """Rows of every mart in the work file (None: the dbt build did not create it)."""
    counts: dict[str, int | None] = {}
    with connect_duckdb(settings.work_db, read_only=True, warehouse_dir=settings.warehouse_dir) as con:
        present = {
            name for (name,) in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'marts' "
                "UNION SELECT view_name FROM duckdb_views() WHERE schema_name = 'marts'"
            ).fetchall()
        }
        for model in MARTS:
            counts[model] = (
                con.execute(f'SELECT count(*) FROM marts."{model}"').fetchall()[0][0] if model in present else None
            )
    return counts


def why_empty_is_right(settings: Settings, site: Site, model: str) -> str | None:
    """Why an empty `model` is correct on this site, else None."""
    missing = site_scope.missing_entities(model, site)
    if missing:  # empty by configuration: every entity that makes its rows is not delivered
        return f"marts.{model} is empty: the site does not deliver {', '.join(missing)} ({site.source})"
    own = sorted(site_scope.own_entities(model))
    if own and _rows_delivered(settings, own) == 0:  # delivered, but header-only files: empty is right
        return f"marts.{model} is empty: the site delivered no rows of {', '.join(own)}"
    return None


def _rows_delivered(settings: Settings, entities: list[str]) -> int:
    """Records in every extract file of `entities` so far (the load audit)."""
    audit = load_audit(settings.raw_root)
    return int(audit.loc[audit["entity"].isin(entities), "rows_in_file"].sum())


def upstream_load_summary(settings: Settings, model: str) -> str:
    """Per raw entity upstream of `model`: rows in files, loaded and quarantined by reason (the load audit and
    the quarantine), so an empty mart's gate says where the rows vanished."""
    entities = sorted(site_scope.model_entities(model))
    zone = RawZone(settings.raw_root)
    reasons: dict[str, str] = {}
    with connect_duckdb(warehouse_dir=settings.warehouse_dir) as con:
        con.register("audit", load_audit(settings.raw_root))
        glob = zone.meta_glob("quarantine")
        if zone.has_files(glob):
            rows = con.execute(
                "SELECT entity, reason, count(*) FROM read_parquet($glob, union_by_name = true) "
                "WHERE list_contains($entities, entity) GROUP BY 1, 2 ORDER BY 1, 3 DESC",
                {"glob": glob, "entities": entities},
            ).fetchall()
            for ent, reason, n in rows:
                reasons[ent] = (reasons[ent] + ", " if ent in reasons else "") + f"{reason} {n}"
        totals = {
            e: (f, q, r) for e, f, q, r in con.execute(
                "SELECT entity, sum(rows_in_file), sum(rows_quarantined), sum(rows_loaded) FROM audit "
                "WHERE list_contains($entities, entity) GROUP BY 1",
                {"entities": entities},
            ).fetchall()
        }
    parts = []
    for ent in entities:
        in_file, quarantined, loaded = totals.get(ent, (0, 0, 0))
        detail = f" ({reasons[ent]})" if ent in reasons else ""
        parts.append(f"raw.{ent}: {in_file} rows in files, {loaded} loaded, {quarantined} quarantined{detail}")
    return "; ".join(parts)


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(
            CHECK_NAME, asset=key, blocking=True,
            description="The mart has rows, unless the site does not deliver (or delivered no rows of) the "
            "entities its rows come from; an empty mart's failure names its upstream load counts.",
        )
        for key in MART_KEYS
    ],
    can_subset=True,
    name="marts_have_rows",
)
def marts_have_rows(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource):
    """Reads the row count of every mart in the work file (read-only, after the dbt step), the site
    configuration and the load audit; writes nothing. One check result per mart."""
    settings = warehouse.settings()
    site = load_site(settings.landing_dir)
    counts = mart_row_counts(settings)
    selected = {k.asset_key for k in context.selected_asset_check_keys}
    failures = []
    for key in MART_KEYS:
        if key not in selected:
            continue
        model = key.path[-1]
        rows = counts[model]
        if rows:
            yield dg.AssetCheckResult(asset_key=key, check_name=CHECK_NAME, passed=True, metadata={"rows": rows})
            continue
        if rows is None:
            why = f"marts.{model} is not in the work file {settings.work_db}: the dbt build did not create it"
        else:
            reason = why_empty_is_right(settings, site, model)
            if reason:
                yield dg.AssetCheckResult(asset_key=key, check_name=CHECK_NAME, passed=True,
                                          metadata={"rows": 0, "skipped": reason}, description=f"skipped: {reason}")
                continue
            why = f"marts.{model} is empty; upstream: {upstream_load_summary(settings, model)}"
        context.log.warning(why)
        failures.append(f"{key.to_user_string()}: {why}")
        yield dg.AssetCheckResult(
            asset_key=key, check_name=CHECK_NAME, passed=False, severity=dg.AssetCheckSeverity.ERROR,
            metadata={"rows": rows or 0}, description=why[:2000],
        )
    if failures:
        todo = "fix the extracts (or the dbt model) and re-run; nothing was published"
        if len(failures) == 1:
            raise CrmWarehouseError(f"quality gate {failures[0]}; {todo}")
        raise CrmWarehouseError(
            f"{len(failures)} mart quality gates failed: {failures[0]} (+{len(failures) - 1} more)\n"
            + "\n".join(f"  - quality gate {line}" for line in failures) + f"\n  {todo}"
        )
