"""The report's prediction sections: churn risk (ml.customer_churn_risk, its calibration and AUC) and
customer lifetime value (ml.customer_lifetime_value and its hold-out check). Query results in
(`queries.py`), a `Section` out, as in `sections.py`."""

from __future__ import annotations

from orchestration.report import charts
from orchestration.report import html as h
from orchestration.report.queries import ReportData
from orchestration.report.sections import _figure, _has_rows, _why_missing


def churn_risk(data: ReportData) -> h.Section:
    s = h.Section("churn-risk", "Churn risk",
                  "Probability that each active customer is churned in 3 months (no order or behaviour event "
                  "for 180 days, the warehouse's churn rule): a logistic model fit on the last 12 month ends "
                  "whose outcome is known (ml.customer_churn_risk). It is checked on the latest of them, "
                  "held out: AUC (1 = perfect ranking, 0.5 = chance), Brier score (lower is better; below the "
                  "base-rate Brier = better than guessing the average) and the reliability curve (points on "
                  "the diagonal = calibrated probabilities).",
                  unavailable=_why_missing(data, "churn_bands", "churn_metrics"))
    bands, metrics = data.get("churn_bands"), data.get("churn_metrics")
    if _has_rows(metrics) and metrics["skipped"].notna().iloc[0]:
        s.unavailable = f"no churn model this run: {metrics['skipped'].iloc[0]}."
        return s
    if _has_rows(metrics):
        m = metrics.iloc[0]
        s.tables.append(h.table(metrics, [
            h.Col("evaluation_cut_off", "held-out cut-off"), h.Col("auc", "AUC", lambda v: h.number(v, 3), True),
            h.Col("brier", "Brier", lambda v: h.number(v, 4), True),
            h.Col("brier_base_rate", "base-rate Brier", lambda v: h.number(v, 4), True),
            h.Col("calibration_error", "calibration error", lambda v: h.number(v, 4), True),
        ], "table-churn-metrics", f"as of {h.day(m['as_of'])}"))
    if _has_rows(bands):
        s.tables.append(h.table(bands, [
            h.Col("risk_band", "risk band"), h.Col("customers", "customers", h.integer, True),
            h.Col("mean_probability", "mean probability", h.pct, True),
        ], "table-churn-bands"))
    calibration = data.get("churn_calibration")
    if _has_rows(calibration):
        s.figures.append(_figure("chart-churn-reliability", "Reliability curve (held-out cut-off)",
                                 "Dot = probability bin, size = customers; dashed = perfectly calibrated.",
                                 lambda: charts.reliability_curve(calibration)))
    reasons = data.get("churn_reasons")
    if _has_rows(reasons):
        s.figures.append(_figure("chart-churn-reasons", "Top reason of the medium and high risks",
                                 "The feature that raises each customer's risk the most; label = share.",
                                 lambda: charts.segment_sizes(reasons, "reason", "top reason")))
    return s


def lifetime_value(data: ReportData) -> h.Section:
    s = h.Section("lifetime-value", "Customer lifetime value",
                  "Expected net revenue of each customer with a completed order over the next 12 months: "
                  "BG/NBD (how many purchases, and whether the customer is still active) times Gamma-Gamma "
                  "(value per purchase), ml.customer_lifetime_value. The chart checks the models on the "
                  "past: refit without the last months, predicted against what each decile really bought.",
                  unavailable=_why_missing(data, "clv_summary", "clv_calibration"))
    summary, deciles = data.get("clv_summary"), data.get("clv_calibration")
    if _has_rows(summary):
        s.tables.append(h.table(summary, [
            h.Col("customers", "customers", h.integer, True),
            h.Col("expected_value_12m", "expected value, 12 months", h.money, True),
            h.Col("expected_purchases_12m", "expected purchases, 12 months", lambda v: h.number(v, 0), True),
            h.Col("mean_probability_alive", "mean P(alive)", h.pct, True),
        ], "table-clv-summary"))
    elif s.unavailable is None:
        s.unavailable = "ml.customer_lifetime_value is empty (too few repeat buyers to fit the models)."
    if _has_rows(deciles):
        s.figures.append(_figure("chart-clv-calibration", "Predicted vs realised value by decile (hold-out)",
                                 "Per customer of the decile, in the hold-out period.",
                                 lambda: charts.predicted_vs_realised(deciles)))
    return s
