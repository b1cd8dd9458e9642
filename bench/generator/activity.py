"""Behaviour events: visits, likes, carts, searches and shares per customer, plus purchases from orders.

Every customer who signs up during the history also produces a short sign-up session (1-2 visits within
half an hour of `created_at`), so a brand-new customer always has events on the day it appears.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .common import DAY, Calendar, choice, seconds
from .segments import AFTER_CHURN
from .timeline import poisson_events

EVENT_TYPES = ("visit", "like", "cart", "search", "share")
RATE_FIELD = {
    "visit": "_visit",
    "like": "_like",
    "cart": "_cart",
    "search": "_search",
    "share": "_share_rate",
}
CHANNELS = (("web", "app", "store", "mini_program"), (0.35, 0.40, 0.05, 0.20))
WITH_PRODUCT = {"visit": 0.6, "like": 1.0, "cart": 1.0, "search": 0.0, "share": 1.0, "purchase": 1.0}


def event_frame(rng, cust, products, owner, when, event_type: str) -> pd.DataFrame:
    """Events of `event_type` for customers `owner` (positions) at `when`: product, channel."""
    n = len(owner)
    product = products["product_id"].to_numpy()[
        rng.choice(len(products), size=n, p=products["_weight"].to_numpy())
    ]
    return pd.DataFrame(
        {
            "_cust": owner.astype(np.int64),
            "occurred_at": when,
            "event_type": event_type,
            "product_id": np.where(rng.random(n) < WITH_PRODUCT[event_type], product, -1),
            "channel": choice(rng, CHANNELS[0], n, CHANNELS[1]),
        }
    )


def build_events(
    rng: np.random.Generator, cust: pd.DataFrame, cal: Calendar, products: pd.DataFrame
) -> pd.DataFrame:
    """All non-purchase behaviour events of the timeline (purchases come from `purchase_events`)."""
    lo, churn, end = cust["_from"].to_numpy(), cust["_churn"].to_numpy(), np.full(len(cust), cal.end)
    parts = []
    for event_type in EVENT_TYPES:
        rate = cust[RATE_FIELD[event_type]].to_numpy()
        for r, a, b in ((rate, lo, churn), (rate * AFTER_CHURN, np.maximum(churn, lo), end)):
            owner, when = poisson_events(rng, r, a, b)
            parts.append(event_frame(rng, cust, products, owner, when, event_type))
    created = cust["created_at"].to_numpy()
    signup = np.flatnonzero((created >= cal.t0) & ~cust["_prospect"].to_numpy())
    owner = np.repeat(signup, rng.integers(1, 3, len(signup)))
    when = created[owner] + seconds(rng.uniform(5, 1800, len(owner)))
    when = np.minimum(when, cal.day_start(1) + cal.day_of(created[owner]) * DAY - np.timedelta64(1, "s"))
    parts.append(event_frame(rng, cust, products, owner, when, "visit"))
    return pd.concat(parts, ignore_index=True)


def purchase_events(
    rng: np.random.Generator, orders: pd.DataFrame, items: pd.DataFrame, cal: Calendar
) -> pd.DataFrame:
    """One `purchase` event per web/app order, seconds after the order, for its first line's product."""
    online = orders.index[orders["channel"].isin(["web", "app"]).to_numpy()]
    first = items.drop_duplicates("order_id").set_index("order_id")["product_id"]
    o = orders.loc[online]
    when = o["order_date"].to_numpy() + seconds(rng.uniform(1, 120, len(o)))
    when = np.minimum(
        when, cal.day_start(1) + cal.day_of(o["order_date"].to_numpy()) * DAY - np.timedelta64(1, "s")
    )
    return pd.DataFrame(
        {
            "_cust": o["_cust"].to_numpy(),
            "occurred_at": when,
            "event_type": "purchase",
            "product_id": first.reindex(o["order_id"].to_numpy()).to_numpy(),
            "channel": np.where(
                o["channel"] == "web", "web", choice(rng, ("app", "mini_program"), len(o), (0.7, 0.3))
            ),
        }
    )


def finalise_events(
    events: pd.DataFrame, cust: pd.DataFrame, cal: Calendar, rng: np.random.Generator
) -> pd.DataFrame:
    """Sort by time, assign event ids, customer ids and updated_at (= occurred_at + a few seconds)."""
    events = events.sort_values("occurred_at", kind="stable").reset_index(drop=True)
    events["event_id"] = np.arange(1, len(events) + 1, dtype=np.int64)
    events["customer_id"] = cust["customer_id"].to_numpy()[events["_cust"].to_numpy()]
    t = events["occurred_at"].to_numpy()
    day_end = cal.day_start(1) + cal.day_of(t) * DAY - np.timedelta64(1, "s")
    events["updated_at"] = np.minimum(t + seconds(rng.uniform(0, 30, len(events))), day_end)
    events["is_deleted"] = False
    return events
