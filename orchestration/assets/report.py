"""Report stage: the self-contained HTML report, rebuilt from the published warehouse after each publish."""

import dagster as dg

from orchestration.assets.publish import published_warehouse
from orchestration.assets.resources import WarehouseResource
from orchestration.report import report_path

REPORT_KEY = dg.AssetKey(["report", "index_html"])


@dg.asset(key=REPORT_KEY, group_name="report", deps=[published_warehouse], kinds={"html"})
def report_index_html(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Reads the PUBLISHED file CRM_WAREHOUSE_DIR/crm.duckdb read-only (reports.rpt_customer, rpt_sales,
    rpt_campaign, rpt_service; ml.customer_segments, segment_profiles, campaign_effects when present;
    ops.quarantine, data_issues, load_audit, publish_log) and writes CRM_WAREHOUSE_DIR/report/index.html:
    one self-contained page (inline CSS and SVG charts, no scripts, no network), replaced atomically.
    Aggregates only, so no personal data. Grain: one page per publish; a missing ml table renders as a
    'not available yet' section."""
    from orchestration.report.render import build_report  # imports Altair: only when the report is built

    settings = warehouse.settings()
    result = build_report(settings.published_db, report_path(settings.warehouse_dir))
    context.log.info(
        f"report {result.path}: {len(result.chart_ids)} charts in {result.seconds:.1f} s"
        + (f"; not available yet: {', '.join(result.unavailable)}" if result.unavailable else "")
    )
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(result.path)),
            "url": dg.MetadataValue.url(result.path.resolve().as_uri()),
            "chart_count": len(result.chart_ids),
            "charts": dg.MetadataValue.json(list(result.chart_ids)),
            "not_available": dg.MetadataValue.json(result.unavailable),
            "duration_s": dg.MetadataValue.float(result.seconds),
        }
    )
