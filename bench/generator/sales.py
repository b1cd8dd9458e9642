"""Orders, order lines and opportunities.

Order value is heavy-tailed (log-normal list prices x quantities), ~90 % of orders complete, 6 % are
cancelled and 4 % refunded, most lines carry no discount and some 5-30 %. Line net amounts are computed
exactly as the warehouse does: round(quantity * unit_price * (1 - discount), 2), half away from zero;
prices that would land exactly on a half cent are nudged by one cent so no rounding rule can disagree.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .common import DAY, Calendar, choice, seconds
from .segments import AFTER_CHURN
from .timeline import poisson_events

STATUS_P = {"completed": 0.90, "cancelled": 0.06, "refunded": 0.04}
DISCOUNTS = np.array([500, 1000, 1500, 2000, 2500, 3000])  # 1e-4 units: 0.05 .. 0.30
MEAN_LINES = 3.0  # 1 + Binomial(4, 0.5)
CHANNELS_B2C = (("web", "app", "store", "phone"), (0.35, 0.40, 0.20, 0.05))
CHANNELS_B2B = (("phone", "partner", "web", "store"), (0.40, 0.35, 0.20, 0.05))
OPP_STAGES = ("prospecting", "qualification", "proposal", "negotiation", "closed_won", "closed_lost")


def _week_class(cust: pd.DataFrame) -> np.ndarray:
    return (cust["customer_type"] == "company").to_numpy().astype(np.int64)


def order_frame(
    rng: np.random.Generator, cust: pd.DataFrame, owner: np.ndarray, when: np.ndarray, status=None
) -> pd.DataFrame:
    """Order headers for customers `owner` (row indices) at `when`; status drawn unless given."""
    n = len(owner)
    company = (cust["customer_type"] == "company").to_numpy()[owner]
    channel = np.where(
        company,
        choice(rng, CHANNELS_B2B[0], n, CHANNELS_B2B[1]),
        choice(rng, CHANNELS_B2C[0], n, CHANNELS_B2C[1]),
    )
    if status is None:
        status = choice(rng, tuple(STATUS_P), n, tuple(STATUS_P.values()))
    with_rep = company | np.isin(channel, ("store", "phone"))
    return pd.DataFrame(
        {
            "_cust": owner.astype(np.int64),
            "order_date": when,
            "status": np.asarray(status, dtype=object),
            "channel": channel,
            "rep_id": np.where(with_rep, cust["_rep"].to_numpy()[owner], -1),
            "currency": "CNY",
        }
    )


def organic_orders(rng: np.random.Generator, cust: pd.DataFrame, cal: Calendar) -> pd.DataFrame:
    """Orders each customer places on their own, over the whole timeline (before any campaign)."""
    rate = cust["_orders"].to_numpy()
    lo, churn = cust["_from"].to_numpy(), cust["_churn"].to_numpy()
    cls = _week_class(cust)
    o1, t1 = poisson_events(rng, rate, lo, churn, cls)
    late_lo = np.maximum(churn, lo)
    o2, t2 = poisson_events(rng, rate * AFTER_CHURN, late_lo, np.full(len(rate), cal.end), cls)
    owner, when = np.concatenate([o1, o2]), np.concatenate([t1, t2])
    orders = order_frame(rng, cust, owner, when)
    orders["_origin"] = "organic"
    return orders


def make_items(
    rng: np.random.Generator, cust: pd.DataFrame, order_cust: np.ndarray, products: pd.DataFrame
) -> pd.DataFrame:
    """Order lines for orders whose customers are `order_cust`; `_order` indexes those orders."""
    n_lines = 1 + rng.binomial(4, 0.5, len(order_cust))
    order = np.repeat(np.arange(len(order_cust)), n_lines)
    line_no = np.arange(len(order)) - np.repeat(np.cumsum(n_lines) - n_lines, n_lines) + 1
    owner = order_cust[order]
    product = rng.choice(len(products), size=len(order), p=products["_weight"].to_numpy())
    qty = 1 + rng.poisson(cust["_qty"].to_numpy()[owner])
    price = products["list_price"].to_numpy()[product].astype(np.int64)
    disc = np.where(
        rng.random(len(order)) < cust["_disc"].to_numpy()[owner], DISCOUNTS[rng.integers(0, 6, len(order))], 0
    )
    while True:  # nudge prices off exact half cents
        tie = (qty * price * (10_000 - disc)) % 10_000 == 5_000
        if not tie.any():
            break
        price = price + tie
    return pd.DataFrame(
        {
            "_order": order,
            "line_no": line_no.astype(np.int64),
            "product_id": products["product_id"].to_numpy()[product],
            "quantity": qty.astype(np.int64),
            "unit_price": price,
            "discount": disc.astype(np.int64),
            "_net": line_net(qty, price, disc),
        }
    )


def line_net(qty: np.ndarray, price_cents: np.ndarray, disc_1e4: np.ndarray) -> np.ndarray:
    """round(quantity * unit_price * (1 - discount), 2) in cents, half away from zero."""
    return (qty * price_cents * (10_000 - disc_1e4) + 5_000) // 10_000


def expected_order_value(cust: pd.DataFrame, products: pd.DataFrame) -> np.ndarray:
    """E[net value] (cents) of one order of each customer under `make_items`."""
    mean_price = float((products["_weight"] * products["list_price"]).sum())
    mean_disc = DISCOUNTS.mean() / 10_000
    return (
        MEAN_LINES * (1 + cust["_qty"].to_numpy()) * mean_price * (1 - cust["_disc"].to_numpy() * mean_disc)
    )


def finalise_orders(orders: pd.DataFrame, items: pd.DataFrame, cal: Calendar, rng: np.random.Generator):
    """Sort orders by time, assign order ids (1..n) and updated_at; point items (by `_oid`) to order ids."""
    orders = orders.sort_values(["order_date", "_oid"], kind="stable").reset_index(drop=True)
    orders["order_id"] = np.arange(1, len(orders) + 1, dtype=np.int64)
    lag = np.select(
        [orders["status"] == "cancelled", orders["status"] == "refunded"],
        [rng.uniform(3600, 2 * 86400, len(orders)), rng.uniform(2 * 86400, 10 * 86400, len(orders))],
        rng.uniform(60, 7200, len(orders)),
    )
    day_end = cal.day_start(1) + cal.day_of(orders["order_date"].to_numpy()) * DAY
    orders["updated_at"] = np.minimum(
        orders["order_date"].to_numpy() + seconds(lag), day_end - np.timedelta64(1, "s")
    )
    orders["is_deleted"] = False
    order_id = pd.Series(orders["order_id"].to_numpy(), index=orders["_oid"].to_numpy())
    items = items[items["_oid"].isin(order_id.index)].copy()
    items["order_id"] = order_id.reindex(items["_oid"].to_numpy()).to_numpy()
    items = items.sort_values(["order_id", "line_no"], kind="stable").reset_index(drop=True)
    return orders, items


def add_items(
    rng: np.random.Generator, cust: pd.DataFrame, orders: pd.DataFrame, products: pd.DataFrame, first_oid: int
):
    """Give a batch of new orders ids (`_oid` from `first_oid`), lines and their net value (`_value`, cents)."""
    orders = orders.reset_index(drop=True)
    orders["_oid"] = np.arange(first_oid, first_oid + len(orders), dtype=np.int64)
    items = make_items(rng, cust, orders["_cust"].to_numpy(), products)
    items["_oid"] = orders["_oid"].to_numpy()[items["_order"].to_numpy()]
    orders["_value"] = np.bincount(
        items["_order"].to_numpy(), weights=items["_net"].to_numpy(), minlength=len(orders)
    )
    return orders, items.drop(columns="_order")


def build_opportunities(rng: np.random.Generator, cust: pd.DataFrame, cal: Calendar) -> pd.DataFrame:
    """Sales opportunities (mostly companies); old ones are closed, recent ones still open."""
    company = (cust["customer_type"] == "company").to_numpy()
    rate = np.where(company, 1.5, 0.05) * cust["_engage"].to_numpy() / 540.0
    owner, created = poisson_events(
        rng, rate, cust["_from"].to_numpy(), np.full(len(cust), cal.end), company.astype(np.int64)
    )
    n = len(owner)
    age_days = (cal.day_start(1) - created) / DAY
    closed = rng.random(n) < np.clip(age_days / 120, 0.05, 0.95)
    won = rng.random(n) < 0.4
    stage = np.where(
        closed, np.where(won, "closed_won", "closed_lost"), choice(rng, OPP_STAGES[:4], n, (4, 3, 2, 1))
    )
    amount = (rng.lognormal(np.log(8_000_000), 1.0, n) / 100).round().astype(np.int64) * 100
    close = (created + rng.integers(20, 120, n) * DAY).astype("datetime64[D]").astype("datetime64[s]")
    updated = np.minimum(
        created + seconds(rng.uniform(600, 86400 * 3, n)),
        cal.day_start(1) + cal.day_of(created) * DAY - np.timedelta64(1, "s"),
    )
    opp = pd.DataFrame(
        {
            "_cust": owner,
            "customer_id": cust["customer_id"].to_numpy()[owner],
            "rep_id": cust["_rep"].to_numpy()[owner],
            "created_at": created,
            "stage": stage,
            "amount": amount,
            "close_date": close,
            "is_closed": closed,
            "is_won": closed & (stage == "closed_won"),
            "updated_at": updated,
            "is_deleted": False,
        }
    )
    opp = opp.sort_values("created_at", kind="stable").reset_index(drop=True)
    opp["opportunity_id"] = np.arange(1, len(opp) + 1, dtype=np.int64)
    return opp
