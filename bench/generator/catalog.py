"""Reference (snapshot) entities: products, sales reps, service plans and monthly sales targets.

Snapshots are delivered in full every night. Products change a little on later days (a few price
changes, one new product per day), so the warehouse sees snapshot churn.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .common import DAY, Calendar, choice, rng_stream
from .pools import ZH_CITIES, Pools

CATEGORIES = ("electronics", "home", "apparel", "beauty", "food", "office", "outdoor", "baby")
_BRANDS = ("Aurora", "北辰", "Lumi", "青木", "Nordik", "星河", "Vela", "和光", "Orbis", "云杉")
_NOUNS = {
    "electronics": ("耳机", "Speaker", "充电宝", "Monitor"),
    "home": ("台灯", "Kettle", "收纳盒", "Pillow"),
    "apparel": ("T恤", "Jacket", "运动鞋", "Scarf"),
    "beauty": ("面霜", "Serum", "口红", "Cleanser"),
    "food": ("绿茶", "Coffee Beans", "坚果礼盒", "Honey"),
    "office": ("签字笔", "Notebook", "文件夹", "Desk Mat"),
    "outdoor": ("帐篷", "Water Bottle", "登山杖", "Backpack"),
    "baby": ("奶瓶", "Stroller", "湿巾", "Blanket"),
}
TEAMS = ("enterprise", "smb", "inside_sales", "key_accounts")
PRIORITY_PLAN = {  # priority: (first response minutes, resolution hours, csat target x 10000)
    "urgent": (15, 4, 45000),
    "high": (60, 24, 43000),
    "normal": (240, 72, 40000),
    "low": (1440, 168, 38000),
}


def build_products(n: int, cal: Calendar, seed: int) -> pd.DataFrame:
    """Product catalogue with log-normal list prices (cents) and Zipf-like popularity (`_weight`)."""
    rng = rng_stream(seed, "products")
    category = choice(rng, CATEGORIES, n)
    noun = np.array([_NOUNS[cat][i % 4] for i, cat in enumerate(category)], dtype=object)
    model = np.strings.add("-", (rng.integers(100, 999, n)).astype(str)).astype(object)
    price = np.clip(rng.lognormal(np.log(12_000), 1.0, n), 500, 2_000_000).round().astype(np.int64)
    weight = 1.0 / (rng.permutation(n) + 1.0) ** 0.8
    return pd.DataFrame(
        {
            "product_id": np.arange(1, n + 1, dtype=np.int64),
            "name": choice(rng, _BRANDS, n) + " " + noun + model,
            "category": category,
            "list_price": price,
            "launched_at": (cal.t0 - rng.integers(30, 1500, n) * DAY)
            .astype("datetime64[D]")
            .astype("datetime64[s]"),
            "_weight": weight / weight.sum(),
        }
    )


def build_reps(n: int, cal: Calendar, seed: int, pools: Pools) -> pd.DataFrame:
    """Sales reps with a region and a team."""
    rng = rng_stream(seed, "reps")
    latin = rng.random(n) < 0.2
    en = choice(rng, pools.en_first, n) + " " + choice(rng, pools.en_last, n)
    return pd.DataFrame(
        {
            "rep_id": np.arange(1, n + 1, dtype=np.int64),
            "name": np.where(latin, en, choice(rng, pools.zh_names, n)).astype(object),
            "region": choice(rng, [r for _, r in ZH_CITIES], n),
            "team": choice(rng, TEAMS, n, (0.25, 0.35, 0.25, 0.15)),
            "hired_at": (cal.t0 - rng.integers(0, 2500, n) * DAY)
            .astype("datetime64[D]")
            .astype("datetime64[s]"),
        }
    )


def build_service_plans(cal: Calendar) -> pd.DataFrame:
    """SLA per priority: one plan in force before the history, a tighter one from mid-history."""
    rows = []
    for version, valid_from in enumerate((cal.t0 - 365 * DAY, cal.t0 + 200 * DAY)):
        for priority, (minutes, hours, csat) in PRIORITY_PLAN.items():
            factor = 1.0 if version == 0 else 0.75
            rows.append(
                (priority, int(minutes * factor), int(hours * factor), csat + 1000 * version, valid_from)
            )
    df = pd.DataFrame(
        rows,
        columns=[
            "priority",
            "first_response_target_minutes",
            "resolution_target_hours",
            "csat_target",
            "valid_from",
        ],
    )
    df["valid_from"] = df["valid_from"].astype("datetime64[s]")
    return df


def build_sales_targets(
    reps: pd.DataFrame, cal: Calendar, seed: int, rep_months: list[pd.DataFrame]
) -> pd.DataFrame:
    """Monthly target per rep from the first history month to the month after the last extract.

    Plans are set the way sales managers set them: around the rep's typical month (mean completed net
    revenue and units per active month of the rep's orders) times a stretch factor (median +5 %, spread
    ~25 %), so attainment lands around 60-140 % at every scale; budget is 3-8 % of the target.
    `rep_months` holds each customer block's `rep_month_totals`."""
    rng = rng_stream(seed, "targets")
    months = pd.period_range(
        pd.Timestamp(cal.start), pd.Timestamp(cal.end) + pd.offsets.MonthBegin(1), freq="M"
    )
    period = np.repeat(months.strftime("%Y-%m").to_numpy(dtype=object), len(reps))
    rep = np.tile(reps["rep_id"].to_numpy(), len(months))
    region = np.tile(reps["region"].to_numpy(), len(months))
    n = len(period)
    typical_cents, typical_units = _typical_rep_month(rep_months, reps["rep_id"].to_numpy())
    stretch = rng.lognormal(np.log(1.05), 0.25, n)
    # money in cents, as everywhere in the generator; targets are rounded to 100 CNY
    amount = np.maximum((np.tile(typical_cents, len(months)) * stretch / 10_000).round(), 1).astype(np.int64) * 10_000
    units = np.maximum((np.tile(typical_units, len(months)) * stretch).round(), 1).astype(np.int64)
    return pd.DataFrame(
        {
            "period": period,
            "rep_id": rep,
            "region": region,
            "target_amount": amount,
            "target_units": units,
            "budget": (amount * rng.uniform(0.03, 0.08, n)).round().astype(np.int64),
        }
    )


def rep_month_totals(orders: pd.DataFrame, items: pd.DataFrame) -> pd.DataFrame:
    """Completed net cents (`_net`) and units (`quantity`) per (rep_id, month) of one block's orders."""
    done = orders.loc[orders["status"] == "completed", ["order_id", "rep_id", "order_date"]]
    lines = items[["order_id", "_net", "quantity"]].merge(done, on="order_id")
    lines["month"] = pd.to_datetime(lines["order_date"]).dt.to_period("M")
    return lines.groupby(["rep_id", "month"])[["_net", "quantity"]].sum()


def _typical_rep_month(rep_months: list[pd.DataFrame], rep_ids: np.ndarray):
    """(net cents, units) of each rep's average active month of completed orders, in `rep_ids` order;
    reps without orders get the median rep's figures."""
    totals = rep_months[0] if len(rep_months) == 1 else pd.concat(rep_months).groupby(level=[0, 1]).sum()
    per_month = totals.groupby("rep_id").mean()
    per_month = per_month.reindex(rep_ids)
    per_month = per_month.fillna(per_month.median()).fillna(1.0)
    return per_month["_net"].to_numpy(dtype=float), per_month["quantity"].to_numpy(dtype=float)


def product_snapshots(products: pd.DataFrame, cal: Calendar, seed: int) -> list[pd.DataFrame]:
    """The products file of each extract day: a few price changes and one launch per later day."""
    rng = rng_stream(seed, "product-snapshots")
    days = [products.drop(columns="_weight")]
    for k in range(2, cal.days + 1):
        prev = days[-1].copy()
        changed = rng.random(len(prev)) < 0.01
        prev.loc[changed, "list_price"] = (
            prev.loc[changed, "list_price"] * rng.uniform(0.85, 1.1, int(changed.sum()))
        ).round()
        new = prev.iloc[[int(rng.integers(0, len(prev)))]].copy()
        new["product_id"] = prev["product_id"].max() + 1
        new["name"] = new["name"] + " Pro"
        new["launched_at"] = np.datetime64(cal.extract_date(k), "s")
        days.append(pd.concat([prev, new], ignore_index=True))
    for df in days:
        df["list_price"] = df["list_price"].astype(np.int64)
    return days
