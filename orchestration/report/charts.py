"""Altair chart specs for the report, one function per chart, and `to_svg` to render one offline.

Each function takes the frame(s) of `queries` and returns an Altair chart with labelled axes (units in
the titles: counts, CNY, %, percentage points). `to_svg` renders through vl-convert (a bundled Vega
engine; no browser, no network), so the report embeds finished SVG and needs no JavaScript.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import vl_convert

CURRENCY = "CNY"  # the site currency of the page being rendered (set by render.render from ops.module_status)


def set_currency(code: str) -> None:
    """Label money in charts and tables with the site currency (ISO 4217) of the published warehouse."""
    global CURRENCY
    CURRENCY = code
WIDTH, HEIGHT = 470, 220
MONEY = ",.0f"
PCT = ".0%"
FONT = "DejaVu Sans, Noto Sans CJK SC, Microsoft YaHei, PingFang SC, sans-serif"


def _config(chart: alt.TopLevelMixin) -> alt.TopLevelMixin:
    return chart.configure(font=FONT).configure_view(stroke=None).configure_axis(
        labelFontSize=11, titleFontSize=12, gridColor="#e6e6e6"
    ).configure_legend(labelFontSize=11, titleFontSize=11, orient="bottom", columns=3, labelLimit=0)


def _month_x(title: str = "month") -> alt.X:
    return alt.X("month:T", timeUnit="utcyearmonth", title=title,
                 axis=alt.Axis(format="%Y-%m", labelAngle=-40))


def _months_as_text(df: pd.DataFrame) -> pd.DataFrame:
    """Months as ISO dates (parsed as UTC by Vega, so no month shifts with the machine's time zone)."""
    return df.assign(month=pd.to_datetime(df["month"]).dt.strftime("%Y-%m-%d"))


def _rule(axis: str, value: float) -> alt.Chart:
    """A dashed reference line at `axis` ("x" or "y") = `value` (100% of target, zero effect)."""
    line = alt.Chart(pd.DataFrame({axis: [value]})).mark_rule(color="#e45756", strokeDash=[4, 3])
    return line.encode(**{axis: f"{axis}:Q"})


def to_svg(chart: alt.TopLevelMixin) -> str:
    """The chart as a standalone SVG document (rendered offline by vl-convert)."""
    svg = vl_convert.vegalite_to_svg(_config(chart).to_dict())
    return svg[svg.index("<svg"):]  # drop any XML prolog: the SVG is inlined into HTML


# --- customers ---------------------------------------------------------------------------------------

def customer_trend(monthly: pd.DataFrame) -> alt.Chart:
    labels = {"customers_total": "customers (stock)", "customers_active": "active in the month",
              "customers_churned_total": "churned (stock)"}
    long = _months_as_text(monthly).melt("month", list(labels), var_name="measure", value_name="customers")
    long["measure"] = long["measure"].map(labels)
    return alt.Chart(long).mark_line(point=False, strokeWidth=2).encode(
        _month_x(),
        alt.Y("customers:Q", title="customers (count)", axis=alt.Axis(format=",d")),
        alt.Color("measure:N", title=None, sort=list(labels.values())),
    ).properties(width=WIDTH, height=HEIGHT)


def customer_new_by_source(rows: pd.DataFrame) -> alt.Chart:
    return alt.Chart(_months_as_text(rows)).mark_bar().encode(
        _month_x(),
        alt.Y("sum(customers_new):Q", title="new customers (count)", axis=alt.Axis(format=",d")),
        alt.Color("source:N", title="acquisition source"),
    ).properties(width=WIDTH, height=HEIGHT)


# --- sales -------------------------------------------------------------------------------------------

def sales_by_category(rows: pd.DataFrame) -> alt.Chart:
    return alt.Chart(_months_as_text(rows)).mark_bar().encode(
        _month_x(),
        alt.Y("sum(net_revenue):Q", title=f"net revenue ({CURRENCY})", axis=alt.Axis(format=MONEY)),
        alt.Color("product_category:N", title="product category"),
    ).properties(width=WIDTH, height=HEIGHT)


def sales_by_region(rows: pd.DataFrame) -> alt.LayerChart:
    base = alt.Chart(rows).encode(
        alt.Y("region:N", title="region", sort="-x"),
        alt.X("net_revenue:Q", title=f"net revenue, all months ({CURRENCY})", axis=alt.Axis(format=MONEY)),
    )
    return (base.mark_bar(color="#4c78a8") + base.mark_text(align="left", dx=3, fontSize=10).encode(
        text=alt.Text("net_revenue:Q", format=MONEY)
    )).properties(width=WIDTH - 60, height=alt.Step(22))


def team_attainment(monthly: pd.DataFrame) -> alt.LayerChart:
    """`monthly`: month, target, net_revenue (summed over reps with a target)."""
    df = _months_as_text(monthly).assign(attainment=lambda d: d["net_revenue"] / d["target"])
    line = alt.Chart(df).mark_line(point=True, color="#4c78a8").encode(
        _month_x(), alt.Y("attainment:Q", title="net revenue / target (%)", axis=alt.Axis(format=PCT))
    )
    return (line + _rule("y", 1.0)).properties(width=WIDTH, height=HEIGHT)


def rep_attainment(reps: pd.DataFrame, period: str) -> alt.LayerChart:
    """`reps`: rep_id, target, net_revenue for one month."""
    df = reps.assign(attainment=lambda d: d["net_revenue"] / d["target"])
    base = alt.Chart(df).encode(
        alt.Y("rep_id:N", title="sales rep", sort="-x"),
        alt.X("attainment:Q", title=f"attainment in {period} (% of the rep's monthly target)",
              axis=alt.Axis(format=PCT)),
    )
    bars = base.mark_bar().encode(
        color=alt.condition("datum.attainment >= 1", alt.value("#54a24b"), alt.value("#f58518"))
    )
    text = base.mark_text(align="left", dx=3, fontSize=10).encode(text=alt.Text("attainment:Q", format=PCT))
    return (bars + text + _rule("x", 1.0)).properties(width=WIDTH - 60, height=alt.Step(22))


# --- campaigns ---------------------------------------------------------------------------------------

def campaign_funnel(campaigns: pd.DataFrame) -> alt.Chart:
    labels = {"open_rate": "opened / sent", "click_rate": "clicked / sent",
              "response_rate": "responded / sent"}
    long = campaigns.melt("label", list(labels), var_name="rate", value_name="share")
    long["rate"] = long["rate"].map(labels)
    return alt.Chart(long).mark_bar().encode(
        alt.Y("label:N", title=None, sort=None),
        alt.YOffset("rate:N", sort=list(labels.values())),
        alt.X("share:Q", title="share of sent members (%)", axis=alt.Axis(format=PCT)),
        alt.Color("rate:N", title=None, sort=list(labels.values())),
    ).properties(width=WIDTH - 120, height=alt.Step(8))


def campaign_conversion(campaigns: pd.DataFrame) -> alt.LayerChart:
    labels = {"treatment_conversion_rate": "treatment", "control_conversion_rate": "control (hold-out)"}
    long = campaigns.melt("label", list(labels), var_name="group", value_name="rate").dropna(subset=["rate"])
    long["group"] = long["group"].map(labels)
    base = alt.Chart(long).encode(alt.Y("label:N", title=None, sort=None))
    rule = base.mark_rule(color="#999").encode(x="min(rate):Q", x2="max(rate):Q")
    dots = base.mark_point(filled=True, size=70).encode(
        alt.X("rate:Q", title="members who converted in the attribution window (%)",
              axis=alt.Axis(format=PCT)),
        alt.Color("group:N", title=None, sort=list(labels.values()),
                  scale=alt.Scale(range=["#4c78a8", "#bab0ac"])),
    )
    return (rule + dots).properties(width=WIDTH - 120, height=alt.Step(22))


def _effect_units(outcome: str) -> tuple[float, str, str]:
    """(scale factor, axis title, number format) of an effect on `outcome`."""
    if outcome == "conversion":
        return 100.0, "effect on conversion (percentage points), 95% CI", ".1f"
    if outcome == "revenue":
        return 1.0, f"effect on revenue per member ({CURRENCY}), 95% CI", ",.0f"
    return 1.0, f"effect on {outcome} (outcome units), 95% CI", ",.2f"


def campaign_effects(effects: pd.DataFrame) -> alt.VConcatChart:
    """Primary estimates with their confidence intervals, one panel per outcome, a zero line in each."""
    panels = []
    for outcome, rows in effects.groupby("outcome", sort=True):
        factor, title, fmt = _effect_units(str(outcome))
        df = rows.assign(estimate=rows["estimate"] * factor, ci_low=rows["ci_low"] * factor,
                         ci_high=rows["ci_high"] * factor)
        base = alt.Chart(df).encode(alt.Y("label:N", title=None, sort=None))
        ci = base.mark_rule(strokeWidth=2).encode(
            alt.X("ci_low:Q", title=title, axis=alt.Axis(format=fmt)), x2="ci_high:Q",
            color=alt.Color("design:N", title="design",
                            scale=alt.Scale(domain=["randomised", "observational"])),
        )
        point = base.mark_point(filled=True, size=60, color="black").encode(x="estimate:Q")
        zero = _rule("x", 0.0)
        panels.append((ci + point + zero).properties(width=WIDTH - 120, height=alt.Step(20),
                                                     title=str(outcome)))
    return alt.vconcat(*panels).resolve_scale(x="independent")


# --- segments ----------------------------------------------------------------------------------------

def segment_sizes(sizes: pd.DataFrame, category: str, title: str) -> alt.LayerChart:
    """`sizes`: `category` and customers (count)."""
    df = sizes.assign(share=sizes["customers"] / max(int(sizes["customers"].sum()), 1))
    base = alt.Chart(df).encode(
        alt.Y(f"{category}:N", title=title, sort="-x"),
        alt.X("customers:Q", title="customers (count)", axis=alt.Axis(format=",d")),
    )
    text = base.mark_text(align="left", dx=3, fontSize=10).encode(text=alt.Text("share:Q", format=".1%"))
    return (base.mark_bar(color="#72b7b2") + text).properties(width=WIDTH - 120, height=alt.Step(22))


def segment_profiles(profiles: pd.DataFrame) -> alt.LayerChart:
    """Heat map of the segment centroids (standardised: > 0 above the average customer), raw means as text."""
    z = profiles["centroid_z"].abs()
    profiles = profiles.assign(dark=z > 0.6 * (z.max() if len(z) else 0))  # white text on strong colours
    base = alt.Chart(profiles).encode(
        alt.X("feature:N", title="feature", axis=alt.Axis(labelAngle=-30)),
        alt.Y("segment_name:N", title="segment"),
    )
    cells = base.mark_rect().encode(
        alt.Color("centroid_z:Q", title="centroid (std. units)",
                  scale=alt.Scale(scheme="redblue", reverse=True, domainMid=0)),
    )
    text = base.mark_text(fontSize=10).encode(
        text=alt.Text("mean:Q", format=",.3~s"),
        color=alt.condition("datum.dark", alt.value("white"), alt.value("black")),
    )
    return (cells + text).properties(width=WIDTH, height=alt.Step(28))


def reliability_curve(curve: pd.DataFrame) -> alt.LayerChart:
    """Mean predicted churn probability against the observed churn rate per bin; the diagonal = calibrated."""
    diagonal = alt.Chart(pd.DataFrame({"p": [0.0, 1.0]})).mark_line(color="#e45756", strokeDash=[4, 3]).encode(
        x="p:Q", y="p:Q")
    points = alt.Chart(curve).mark_circle(color="#4c78a8").encode(
        alt.X("mean_predicted:Q", title="mean predicted probability", scale=alt.Scale(domain=[0, 1]),
              axis=alt.Axis(format="%")),
        alt.Y("observed_rate:Q", title="observed churn rate", scale=alt.Scale(domain=[0, 1]),
              axis=alt.Axis(format="%")),
        alt.Size("customers:Q", title="customers"),
    )
    return (diagonal + points).properties(width=WIDTH // 2, height=WIDTH // 2)


def predicted_vs_realised(deciles: pd.DataFrame) -> alt.Chart:
    """Mean predicted and realised value per customer by decile of predicted value (hold-out check)."""
    long = deciles.melt("decile", ["predicted_value", "realised_value"], var_name="measure", value_name="value")
    long["measure"] = long["measure"].map({"predicted_value": "predicted", "realised_value": "realised"})
    return alt.Chart(long).mark_bar().encode(
        alt.X("decile:O", title="decile of predicted value (1 = highest)"),
        alt.Y("value:Q", title=f"net revenue per customer ({CURRENCY})"),
        alt.XOffset("measure:N"),
        alt.Color("measure:N", title=None),
    ).properties(width=WIDTH, height=220)


# --- service -----------------------------------------------------------------------------------------

def service_volume(rows: pd.DataFrame) -> alt.Chart:
    return alt.Chart(_months_as_text(rows)).mark_bar().encode(
        _month_x("month opened"),
        alt.Y("sum(tickets):Q", title="tickets opened (count)", axis=alt.Axis(format=",d")),
        alt.Color("priority:N", title="priority"),
    ).properties(width=WIDTH, height=HEIGHT)


def service_quality(monthly: pd.DataFrame) -> alt.Chart:
    labels = {
        "first_response_breaches_per_ticket": "first-response SLA breaches / tickets",
        "resolution_breaches_per_ticket": "resolution SLA breaches / tickets",
        "one_touch_rate": "one-touch / resolved",
        "csat_share_satisfied": "CSAT (score 4-5 / rated)",
    }
    long = _months_as_text(monthly).melt("month", list(labels), var_name="measure", value_name="rate")
    long["measure"] = long["measure"].map(labels)
    return alt.Chart(long.dropna(subset=["rate"])).mark_line(point=True, strokeWidth=1.5).encode(
        _month_x("month opened"),
        alt.Y("rate:Q", title="rate (%)", axis=alt.Axis(format=PCT), scale=alt.Scale(domain=[0, 1])),
        alt.Color("measure:N", title=None, sort=list(labels.values())),
    ).properties(width=WIDTH, height=HEIGHT)


# --- data quality ------------------------------------------------------------------------------------

def quarantine_by_entity(rows: pd.DataFrame) -> alt.Chart:
    return alt.Chart(rows[rows["quarantined"] > 0]).mark_bar().encode(
        alt.Y("entity:N", title="entity", sort="-x"),
        alt.X("sum(quarantined):Q", title="rows in quarantine (count)", axis=alt.Axis(format=",d")),
        alt.Color("reason:N", title="reason"),
    ).properties(width=WIDTH - 60, height=alt.Step(22))


def quarantine_share(rows: pd.DataFrame) -> alt.LayerChart:
    """`rows`: extract_date, rows_in_file, rows_quarantined (one row per extract day)."""
    df = rows.assign(
        extract_date=pd.to_datetime(rows["extract_date"]).dt.strftime("%Y-%m-%d"),
        share=rows["rows_quarantined"] / rows["rows_in_file"].where(rows["rows_in_file"] > 0),
        label=[f"{int(q):,} of {int(n):,}"
               for q, n in zip(rows["rows_quarantined"], rows["rows_in_file"], strict=True)],
    )
    base = alt.Chart(df).encode(
        alt.X("extract_date:O", title="extract date", sort="ascending", axis=alt.Axis(labelAngle=-40)),
        alt.Y("share:Q", title="rows quarantined (% of rows in the files)", axis=alt.Axis(format=".1%")),
    )
    text = base.mark_text(dy=-6, fontSize=10).encode(text="label:N")
    return (base.mark_bar(color="#e45756") + text).properties(width=WIDTH, height=HEIGHT)
