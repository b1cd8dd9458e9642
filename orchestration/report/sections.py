"""The report's sections, one function each: query results in, a `Section` (charts, tables, or a
'not available yet' note naming what the published file lacks) out. Also the header and headline figures.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from orchestration.report import charts
from orchestration.report import html as h
from orchestration.report.queries import ReportData


def _has_rows(*frames: pd.DataFrame | None) -> bool:
    return all(f is not None and not f.empty for f in frames)


def _figure(chart_id: str, title: str, caption: str, build: Callable[[], object]) -> h.Figure:
    return h.Figure(chart_id, title, charts.to_svg(build()), caption)


def _why_missing(data: ReportData, *names: str) -> str | None:
    reasons = sorted({data.missing[n] for n in names if n in data.missing})
    return "; ".join(reasons) + "." if reasons else None


def site_currency(data: ReportData) -> str:
    """The site currency (ops.module_status), CNY for a file published before it existed."""
    status = data.get("module_status")
    return str(status["currency"].iloc[0]) if _has_rows(status) else "CNY"


def _module_absent(data: ReportData, module: str, what: str) -> str | None:
    """'no <what> data: ...' when the site does not deliver `module` at all (ops.module_status), else None."""
    status = data.get("module_status")
    if not _has_rows(status):
        return None
    row = status[status["module"] == module]
    if len(row) and row["status"].iloc[0] == "absent":
        return (f"no {what} data: this site ({row['site'].iloc[0]}) does not deliver the {module} module "
                "(see crm.yml and ops.module_status).")
    return None


def _last_months(df: pd.DataFrame, n: int = 12) -> pd.DataFrame:
    return df.sort_values("month", ascending=False).head(n)


def _campaign_labels(data: ReportData) -> dict[str, str]:
    """campaign_id -> "id name" for chart axes (ids alone where rpt_campaign is missing)."""
    camps = data.get("campaigns")
    if not _has_rows(camps):
        return {}
    return {str(r.campaign_id): f"{r.campaign_id} {r.campaign_name or ''}".strip()
            for r in camps.itertuples()}


# --- customers ---------------------------------------------------------------------------------------

def customers(data: ReportData) -> h.Section:
    s = h.Section("customers", "Customers",
                  "Resolved customers (duplicates merged) by month and acquisition source, from "
                  "reports.rpt_customer. Churned = no completed order or behaviour event in the 180 days "
                  "ending on the period end.",
                  unavailable=_why_missing(data, "customer_monthly"))
    monthly, by_source = data.get("customer_monthly"), data.get("customer_new_by_source")
    if _has_rows(monthly):
        s.figures.append(_figure("chart-customer-trend", "Customers, active and churned",
                                 "Counts at each month end (the current month: at as_of).",
                                 lambda: charts.customer_trend(monthly)))
    if _has_rows(by_source):
        s.figures.append(_figure("chart-customer-new-by-source", "New customers by acquisition source", "",
                                 lambda: charts.customer_new_by_source(by_source)))
    if _has_rows(monthly):
        s.tables.append(h.table(_last_months(monthly), [
            h.Col("month", "month", h.month),
            h.Col("customers_total", "customers", h.integer, True),
            h.Col("customers_new", "new", h.integer, True),
            h.Col("customers_active", "active", h.integer, True),
            h.Col("customers_churned", "newly churned", h.integer, True),
            h.Col("customers_churned_total", "churned (stock)", h.integer, True),
        ], "table-customers", "Last 12 months"))
    return s


# --- sales -------------------------------------------------------------------------------------------

def _attainment_month(reps: pd.DataFrame, as_of) -> pd.Timestamp:
    """The newest month with targets that is complete at as_of (else simply the newest)."""
    months = sorted(pd.to_datetime(reps["month"]).unique())
    if as_of is not None:
        complete = [m for m in months if m < pd.Timestamp(as_of).replace(day=1)]
        if complete:
            return complete[-1]
    return months[-1]


def sales(data: ReportData) -> h.Section:
    s = h.Section("sales", "Sales",
                  f"Net revenue = completed orders after discounts ({charts.CURRENCY}), from "
                  "reports.rpt_sales (by order month); attainment = a rep's revenue (net of orders completed "
                  "in the month, reports.rpt_sales_rep_month) over the rep's monthly revenue target.",
                  unavailable=_module_absent(data, "sales", "sales") or _why_missing(data, "sales_monthly"))
    if _module_absent(data, "sales", "sales"):
        return s
    by_cat, by_region = data.get("sales_by_category"), data.get("sales_by_region")
    monthly, reps = data.get("sales_monthly"), data.get("rep_attainment")
    if _has_rows(by_cat):
        s.figures.append(_figure("chart-sales-monthly", "Net revenue by month and product category", "",
                                 lambda: charts.sales_by_category(by_cat)))
    if _has_rows(by_region):
        s.figures.append(_figure("chart-sales-region", "Net revenue by region",
                                 "Orders without a rep (web, app) have no region.",
                                 lambda: charts.sales_by_region(by_region)))
    if _has_rows(reps):
        team = reps.groupby("month", as_index=False)[["target", "net_revenue"]].sum()
        s.figures.append(_figure("chart-sales-attainment-trend", "Team attainment of the monthly targets",
                                 "Reps with a target; dashed line = 100%.",
                                 lambda: charts.team_attainment(team)))
        chosen = _attainment_month(reps, latest_as_of(data))
        period = chosen.strftime("%Y-%m")
        one = reps[pd.to_datetime(reps["month"]) == chosen]
        s.figures.append(_figure("chart-sales-attainment-reps", f"Attainment by rep, {period}",
                                 "The newest month complete at as_of; green = target met.",
                                 lambda: charts.rep_attainment(one, period)))
    if _has_rows(monthly):
        s.tables.append(h.table(_last_months(monthly), [
            h.Col("month", "month", h.month),
            h.Col("net_amount", "ordered (net of discounts)", h.money, True),
            h.Col("discount_amount", "discounts", h.money, True),
            h.Col("net_revenue", "net revenue (completed)", h.money, True),
            h.Col("net_units", "units sold", h.integer, True),
        ], "table-sales", "Last 12 months"))
    return s


# --- campaigns and their effects ---------------------------------------------------------------------

def campaigns(data: ReportData) -> h.Section:
    s = h.Section("campaigns", "Campaigns",
                  "Reach, funnel and conversions per campaign, from reports.rpt_campaign. Attributed revenue "
                  "and ROI are NOT causal (last touch: each order of a treated member goes to its most recent "
                  "campaign, including orders that would have happened anyway); see the campaign "
                  "effects below for causal estimates.",
                  unavailable=_module_absent(data, "marketing", "campaign") or _why_missing(data, "campaigns"))
    camps = data.get("campaigns")
    if not _has_rows(camps) or _module_absent(data, "marketing", "campaign"):
        return s
    camps = camps.assign(label=camps["campaign_id"].astype(str).map(_campaign_labels(data)))
    s.figures.append(_figure("chart-campaign-funnel", "Funnel: opened, clicked, responded",
                             "Shares of the members a message was sent to.",
                             lambda: charts.campaign_funnel(camps)))
    s.figures.append(_figure("chart-campaign-conversion", "Conversion: treatment vs control",
                             "Control = the hold-out group (observational campaigns have none).",
                             lambda: charts.campaign_conversion(camps)))
    s.tables.append(h.table(camps, [
        h.Col("campaign_id", "campaign"), h.Col("campaign_name", "name"), h.Col("channel", "channel"),
        h.Col("design", "design"), h.Col("start_date", "start", h.day),
        h.Col("members", "members", h.integer, True), h.Col("sent", "sent", h.integer, True),
        h.Col("cost", "cost", h.money, True),
        h.Col("attributed_revenue", "attributed revenue*", h.money, True),
        h.Col("attributed_roi", "attributed ROI*", h.pct, True),
    ], "table-campaigns", "* non-causal attribution"))
    return s


def _effect_text(outcome: str, v) -> str:
    """An effect in its outcome's units: percentage points of conversion, CNY of revenue per member."""
    if pd.isna(v):
        return h.DASH
    if outcome == "conversion":
        return f"{100 * float(v):+.2f} pp"
    if outcome == "revenue":
        return f"{charts.CURRENCY} {float(v):+,.2f}"
    return f"{float(v):+,.3f}"


def campaign_effects(data: ReportData) -> h.Section:
    s = h.Section("campaign-effects", "Campaign effects (causal)",
                  "Estimated effect of each campaign on its members' conversion and revenue, with 95% "
                  "confidence intervals (ml.campaign_effects; the primary method per campaign and outcome: "
                  "regression-adjusted for randomised campaigns, AIPW for observational ones). An interval "
                  "crossing the dashed zero line is not significant.",
                  unavailable=_module_absent(data, "marketing", "campaign")
                  or _why_missing(data, "campaign_effects"))
    effects = data.get("campaign_effects")
    if effects is None or _module_absent(data, "marketing", "campaign"):
        return s
    primary = effects[effects["is_primary"].fillna(False).astype(bool)].copy()
    if primary.empty:
        s.unavailable = "ml.campaign_effects has no primary estimates yet."
        return s
    labels = _campaign_labels(data)
    primary["label"] = primary["campaign_id"].map(lambda c: labels.get(c, c))
    s.figures.append(_figure("chart-campaign-effects", "Effect per campaign with 95% CI",
                             "Point = estimate; bar = confidence interval; colour = design.",
                             lambda: charts.campaign_effects(primary)))
    outcomes = primary["outcome"].astype(str)
    primary["effect"] = [_effect_text(o, v) for o, v in zip(outcomes, primary["estimate"], strict=True)]
    primary["ci"] = [f"{_effect_text(o, lo)} … {_effect_text(o, hi)}"
                     for o, lo, hi in zip(outcomes, primary["ci_low"], primary["ci_high"], strict=True)]
    s.tables.append(h.table(primary, [
        h.Col("label", "campaign"), h.Col("outcome", "outcome"), h.Col("design", "design"),
        h.Col("method", "method"), h.Col("effect", "effect", numeric=True),
        h.Col("ci", "95% CI", numeric=True),
        h.Col("p_value", "p-value", lambda v: h.number(v, 3), True),
        h.Col("lift_pct", "lift %", lambda v: h.number(v, 1), True),
        h.Col("n_treated", "treated", h.integer, True), h.Col("n_control", "control", h.integer, True),
    ], "table-campaign-effects"))
    return s


# --- segments ----------------------------------------------------------------------------------------

def segments(data: ReportData) -> h.Section:
    s = h.Section("segments", "Customer segments",
                  "Customers per behavioural segment (k-means, ml.customer_segments) and per RFM segment; "
                  "the heat map shows each segment's centroid in standard units (red = above the average "
                  "customer) with the segment's mean as text.",
                  unavailable=_why_missing(data, "segment_sizes", "segment_profiles"))
    sizes, rfm, profiles = data.get("segment_sizes"), data.get("rfm_sizes"), data.get("segment_profiles")
    if _has_rows(sizes):
        s.figures.append(_figure("chart-segment-sizes", "Customers per segment",
                                 "Label = share of customers.",
                                 lambda: charts.segment_sizes(sizes, "segment_name", "segment")))
    if _has_rows(rfm):
        s.figures.append(_figure("chart-segment-rfm", "Customers per RFM segment",
                                 "Recency, frequency, monetary scores.",
                                 lambda: charts.segment_sizes(rfm, "rfm_segment", "RFM segment")))
    if _has_rows(profiles):
        s.figures.append(_figure("chart-segment-profiles", "Segment profiles", "",
                                 lambda: charts.segment_profiles(profiles)))
    return s


# --- service -----------------------------------------------------------------------------------------

def service(data: ReportData) -> h.Section:
    s = h.Section("service", "Customer service",
                  "Tickets by month opened, from reports.rpt_service. Breaches are counted per ticket "
                  "opened; resolution times are over solved tickets only (the unsolved ones are counted "
                  "beside them); CSAT = share of rated tickets scoring 4 or 5; the satisfaction target "
                  "(1-5) is compared with the mean 1-5 score.",
                  unavailable=_module_absent(data, "service", "service") or _why_missing(data, "service_monthly"))
    if _module_absent(data, "service", "service"):
        return s
    by_prio, monthly = data.get("service_by_priority"), data.get("service_monthly")
    latest = data.get("service_latest")
    if _has_rows(by_prio):
        s.figures.append(_figure("chart-service-volume", "Tickets opened by priority", "",
                                 lambda: charts.service_volume(by_prio)))
    if _has_rows(monthly):
        s.figures.append(_figure("chart-service-quality", "SLA breaches, one-touch resolution and CSAT", "",
                                 lambda: charts.service_quality(monthly)))
    if _has_rows(latest):
        s.tables.append(h.table(latest, [
            h.Col("category", "category"), h.Col("priority", "priority"),
            h.Col("tickets", "tickets", h.integer, True),
            h.Col("unresolved_tickets", "unsolved", h.integer, True),
            h.Col("first_response_hours_median", "first reply, median (h)", h.number, True),
            h.Col("first_response_hours_p90", "first reply, p90 (h)", h.number, True),
            h.Col("full_resolution_hours_median_solved", "resolution, median (h, solved only)", h.number, True),
            h.Col("full_resolution_hours_p90_solved", "resolution, p90 (h, solved only)", h.number, True),
            h.Col("avg_satisfaction_score", "mean score (1-5)", h.number, True),
            h.Col("avg_satisfaction_score_target", "score target (1-5)", h.number, True),
        ], "table-service", f"Response times, tickets opened in {h.month(latest['month'].iloc[0])}"))
    return s


# --- data quality and freshness ----------------------------------------------------------------------

def _reconciled(n) -> str:
    return "all files reconcile" if int(n) == 0 else f"{int(n)} file(s) do NOT reconcile"


def data_quality(data: ReportData) -> h.Section:
    s = h.Section("data-quality", "Data quality",
                  "Rows of the extract files that were quarantined (with the reason; never silently "
                  "dropped), data issues flagged on loaded rows, and the load reconciliation: rows in file "
                  "= rows loaded + rows quarantined, per extract day.",
                  unavailable=_why_missing(data, "quarantine", "data_issues", "reconciliation"))
    quarantine, issues, recon = data.get("quarantine"), data.get("data_issues"), data.get("reconciliation")
    if _has_rows(quarantine) and quarantine["quarantined"].sum() > 0:
        s.figures.append(_figure("chart-dq-quarantine", "Rows in quarantine by entity and reason", "",
                                 lambda: charts.quarantine_by_entity(quarantine)))
    if _has_rows(recon):
        s.figures.append(_figure("chart-dq-reconciliation", "Share of rows quarantined per extract day",
                                 "Label: rows quarantined of rows in the files (newest 31 days).",
                                 lambda: charts.quarantine_share(recon.head(31))))
        s.tables.append(h.table(recon.head(14), [
            h.Col("extract_date", "extract date", h.day), h.Col("files", "files", h.integer, True),
            h.Col("rows_in_file", "rows in files", h.integer, True),
            h.Col("rows_loaded", "loaded", h.integer, True),
            h.Col("rows_quarantined", "quarantined", h.integer, True),
            h.Col("rows_released", "released (late arrivals)", h.integer, True),
            h.Col("files_not_reconciled", "reconciliation", _reconciled),
        ], "table-dq-reconciliation", "Load reconciliation (newest 14 extract days)"))
    if _has_rows(quarantine):
        by_reason = quarantine.groupby("reason", as_index=False)[["quarantined", "released"]].sum()
        counts = [h.Col("quarantined", "quarantined", h.integer, True),
                  h.Col("released", "released", h.integer, True)]
        s.tables.append(h.table(by_reason.sort_values(["quarantined", "reason"], ascending=[False, True]),
                                [h.Col("reason", "reason"), *counts], "table-dq-quarantine",
                                "Quarantine by reason"))
        detail = h.table(quarantine, [h.Col("entity", "entity"), h.Col("reason", "reason"), *counts],
                         "table-dq-quarantine-detail")
        s.tables.append(h.collapsed("Quarantine by entity and reason", detail))
    if issues is not None:
        s.tables.append(h.table(issues, [
            h.Col("entity", "entity"), h.Col("reason", "reason"), h.Col("issues", "rows", h.integer, True),
        ], "table-dq-issues", "Data issues (loaded rows flagged)" + ("" if len(issues) else ": none")))
    return s


def freshness(data: ReportData) -> h.Section:
    s = h.Section("freshness", "Freshness",
                  "The published warehouse's logical date (as_of), the newest extract loaded and the last "
                  "publishes (ops.publish_log).",
                  unavailable=_why_missing(data, "publishes", "extracts"))
    extracts, pubs = data.get("extracts"), data.get("publishes")
    if _has_rows(extracts):
        s.tables.append(h.table(extracts, [
            h.Col("newest_extract", "newest extract", h.day), h.Col("first_extract", "first extract", h.day),
            h.Col("extract_days", "extract days loaded", h.integer, True),
            h.Col("last_loaded_at", "last loaded at", h.timestamp),
        ], "table-extracts", "Extracts"))
    if _has_rows(pubs):
        s.tables.append(h.table(pubs, [
            h.Col("publish_id", "publish"), h.Col("as_of", "as_of", h.day),
            h.Col("published_at", "published at", h.timestamp),
            h.Col("tables", "tables", h.integer, True), h.Col("rows", "rows", h.integer, True),
        ], "table-publishes", "Last publishes"))
    return s


# --- header and headline figures ---------------------------------------------------------------------

def latest_as_of(data: ReportData):
    """as_of of the newest publish (None before the first)."""
    pubs = data.get("publishes")
    return pubs["as_of"].iloc[0] if _has_rows(pubs) else None


def header(data: ReportData) -> list[tuple[str, str]]:
    """Freshness facts for the page header: as_of, publish time, newest extract, publish id."""
    pubs, extracts = data.get("publishes"), data.get("extracts")
    out = []
    if _has_rows(pubs):
        out += [("as_of", h.day(pubs["as_of"].iloc[0])),
                ("published", h.timestamp(pubs["published_at"].iloc[0]))]
    if _has_rows(extracts):
        out.append(("newest extract", h.day(extracts["newest_extract"].iloc[0])))
    if _has_rows(pubs):
        out.append(("publish", str(pubs["publish_id"].iloc[0])))
    return out


def headline(data: ReportData) -> list[tuple[str, str, str]]:
    """(label, value, note) tiles at the top of the page."""
    items = []
    cust, sales_m = data.get("customer_monthly"), data.get("sales_monthly")
    camps, svc, q = data.get("campaigns"), data.get("service_monthly"), data.get("quarantine")
    if _has_rows(cust):
        last = cust.sort_values("month").iloc[-1]
        total = int(last["customers_total"])
        items.append(("customers", h.integer(total),
                      f"active this month: {h.integer(last['customers_active'])}"))
        items.append(("churned", h.pct(last["customers_churned_total"] / total if total else None),
                      f"{h.integer(last['customers_churned_total'])} customers"))
    if _has_rows(sales_m):
        last12 = sales_m.sort_values("month").tail(12)
        items.append(("net revenue, last 12 months", h.money(last12["net_revenue"].sum()),
                      f"{h.month(last12['month'].iloc[0])} to {h.month(last12['month'].iloc[-1])}"))
    if _has_rows(camps):
        items.append(("campaigns", h.integer(len(camps)), f"total cost {h.money(camps['cost'].sum())}"))
    if _has_rows(svc):
        last = svc.sort_values("month").iloc[-1]
        items.append((f"tickets, {h.month(last['month'])}", h.integer(last["tickets"]),
                      f"CSAT {h.pct(last['csat_share_satisfied'])} satisfied (score 4-5)"))
    if q is not None:
        items.append(("rows in quarantine", h.integer(q["quarantined"].sum()),
                      f"released (late arrivals): {h.integer(q['released'].sum())}"))
    return items
