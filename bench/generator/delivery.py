"""Which row versions each nightly extract delivers (delta entities).

Every delta row has a delivery day `_day`: the extract whose date holds its event time (everything up to
day 1 is history and goes into day 1). On top of that natural timeline:

* late arrivals: a few customers created on day k (and a few orders placed on day k) are withheld until
  day k+1 or k+2; their children delivered meanwhile (the customer's events and communications, the
  order's lines) are orphans that the loader releases when the parent arrives (`_release`, `_orphan_col`).
  Withheld customers have no non-leaf children before they arrive, so orphans never chain.
* changes on later days: a new version with a later `updated_at` (customer status/phone/address, order
  refunded, opportunity advanced, member response recorded late, spend corrected, call outcome updated).
* deletions on later days: a version with `is_deleted = true` (orders take their lines with them;
  customers are deleted only when nothing references them).
Each key changes or is deleted at most once, and never twice in one file.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .common import DAY, Calendar, rng_stream, seconds

LEAF_CHILDREN = ("behavior_events", "communications")
NON_LEAF_CHILDREN = ("orders", "service_tickets", "opportunities", "campaign_members")


def _init(df: pd.DataFrame, day: np.ndarray) -> pd.DataFrame:
    """Add the delivery bookkeeping columns (in place: the world's frames are handed over, not copied)."""
    df["_day"] = np.asarray(day, dtype=np.int64)
    df["_release"] = 0
    df["_orphan_col"] = ""
    df["_touched"] = False
    df["_late"] = False
    return df


def _day_end(cal: Calendar, t: np.ndarray) -> np.ndarray:
    return cal.day_start(1) + cal.day_of(t) * DAY - np.timedelta64(1, "s")


def natural_versions(world, cal: Calendar, rng: np.random.Generator) -> dict[str, pd.DataFrame]:
    """Each row once, on the extract day that holds its event time (tickets: one version per change).

    Takes ownership of the world's delta frames (bookkeeping columns are added in place).
    """
    cu = world.customers.copy()
    t = cu["created_at"].to_numpy()
    cu["updated_at"] = np.minimum(t + seconds(rng.uniform(1, 3600, len(cu))), _day_end(cal, t))
    cu["is_deleted"] = False
    orders = world.orders
    items = world.items
    by_order = orders.set_index("order_id")
    items["_cust"] = by_order["_cust"].reindex(items["order_id"].to_numpy()).to_numpy()
    when = by_order["order_date"].reindex(items["order_id"].to_numpy()).to_numpy()
    items["updated_at"] = np.minimum(when + seconds(rng.uniform(1, 60, len(items))), _day_end(cal, when))
    items["is_deleted"] = False
    return {
        "customers": _init(cu, cal.day_of(cu["created_at"].to_numpy())),
        "customer_relationships": _init(
            world.relationships, cal.day_of(world.relationships["updated_at"].to_numpy())
        ),
        "communications": _init(
            world.communications, cal.day_of(world.communications["occurred_at"].to_numpy())
        ),
        "behavior_events": _init(world.events, cal.day_of(world.events["occurred_at"].to_numpy())),
        "orders": _init(orders, cal.day_of(orders["order_date"].to_numpy())),
        "order_items": _init(items, cal.day_of(when)),
        "opportunities": _init(world.opportunities, cal.day_of(world.opportunities["created_at"].to_numpy())),
        "campaign_spend": _init(world.spend, cal.day_of(world.spend["updated_at"].to_numpy())),
        "campaign_members": _init(world.members, cal.day_of(world.members["updated_at"].to_numpy())),
        "service_tickets": _init(
            world.ticket_versions.drop(columns="_day"), world.ticket_versions["_day"].to_numpy()
        ),
    }


def _min_child_day(v: dict[str, pd.DataFrame], n_cust: int) -> np.ndarray:
    """Earliest delivery day of any non-leaf child of each customer (a large number when none)."""
    out = np.full(n_cust, 10**9)
    for name in NON_LEAF_CHILDREN:
        np.minimum.at(out, v[name]["_cust"].to_numpy(), v[name]["_day"].to_numpy())
    rel = v["customer_relationships"]
    for end in ("a", "b"):
        np.minimum.at(out, rel[end].to_numpy(), rel["_day"].to_numpy())
    return out


def withhold_customers(v: dict[str, pd.DataFrame], cal: Calendar, rng: np.random.Generator) -> None:
    """Deliver a few new customers one or two days late; their events/communications become orphans."""
    cu = v["customers"]
    n_cust = len(cu)
    first_child = _min_child_day(v, n_cust)
    created_day = cu["created_at"].to_numpy().astype("datetime64[D]")
    has_leaf = np.zeros((cal.days + 1, n_cust), dtype=bool)
    for name in LEAF_CHILDREN:
        has_leaf[v[name]["_day"].to_numpy(), v[name]["_cust"].to_numpy()] = True
    for k in range(1, cal.days):
        delay = np.minimum(rng.integers(1, 3, n_cust), cal.days - k)
        ok = (
            (cu["_day"].to_numpy() == k)
            & (created_day == np.datetime64(cal.extract_date(k)))
            & (cu["_role"] == "single").to_numpy()
            & (cu["_field_defect"] == "").to_numpy()
            & has_leaf[k]
            & (first_child >= k + delay)
        )
        idx = np.flatnonzero(ok)
        pick = rng.choice(idx, size=min(len(idx), max(1, round(0.0005 * n_cust))), replace=False)
        new_day = np.zeros(n_cust, dtype=np.int64)
        new_day[pick] = k + delay[pick]
        cu.loc[pick, "_day"] = new_day[pick]
        cu.loc[pick, "_late"] = True
        for name in LEAF_CHILDREN:
            child = v[name]
            arrive = new_day[child["_cust"].to_numpy()]
            orphan = (arrive > 0) & (child["_day"].to_numpy() < arrive)
            child.loc[orphan, "_release"] = arrive[orphan]
            child.loc[orphan, "_orphan_col"] = "customer_id"


def withhold_orders(v: dict[str, pd.DataFrame], cal: Calendar, rng: np.random.Generator) -> None:
    """Deliver a few order headers one or two days after their lines (the lines wait as orphans)."""
    orders, items = v["orders"], v["order_items"]
    cust_day = v["customers"]["_day"].to_numpy()
    placed = orders["order_date"].to_numpy().astype("datetime64[D]")
    for k in range(1, cal.days):
        ok = (
            (orders["_day"].to_numpy() == k)
            & (placed == np.datetime64(cal.extract_date(k)))
            & (cust_day[orders["_cust"].to_numpy()] <= k)
            & (orders["_origin"] == "organic").to_numpy()
        )
        idx = np.flatnonzero(ok)
        pick = rng.choice(
            idx, size=min(len(idx), max(1, round(0.005 * (orders["_day"] == k).sum()))), replace=False
        )
        arrive = k + np.minimum(rng.integers(1, 3, len(pick)), cal.days - k)
        orders.loc[pick, "_day"] = arrive
        orders.loc[pick, "_late"] = True
        release = pd.Series(arrive, index=orders["order_id"].to_numpy()[pick])
        rows = items["order_id"].isin(release.index).to_numpy()
        items.loc[rows, "_release"] = release.reindex(items.loc[rows, "order_id"].to_numpy()).to_numpy()
        items.loc[rows, "_orphan_col"] = "order_id"


def _pick(rng: np.random.Generator, mask: np.ndarray, share: float, minimum: int = 1) -> np.ndarray:
    idx = np.flatnonzero(mask)
    n = min(len(idx), max(minimum, int(round(share * len(idx)))))
    return np.sort(rng.choice(idx, size=n, replace=False)) if n else idx[:0]


def _new_versions(
    df: pd.DataFrame, rows: np.ndarray, k: int, cal: Calendar, rng: np.random.Generator
) -> pd.DataFrame:
    """Copies of `rows` delivered on day k with a fresh updated_at inside that day."""
    df.loc[rows, "_touched"] = True
    new = df.loc[rows].copy()
    new["_day"] = k
    new["updated_at"] = cal.day_start(k) + seconds(rng.uniform(7 * 3600, 22 * 3600, len(new)))
    new["_release"] = 0
    new["_orphan_col"] = ""
    new["_late"] = False
    return new


def _open(df: pd.DataFrame, k: int) -> np.ndarray:
    """Rows delivered before day k, never changed before, not withheld."""
    return (df["_day"].to_numpy() < k) & ~df["_touched"].to_numpy() & ~df["_late"].to_numpy()


def changes_and_deletions(v: dict[str, pd.DataFrame], cal: Calendar, seed: int, block: int = 0) -> None:
    """Append the change and deletion versions of every later extract day (in place).

    `block` (the customer block's index) keeps the new phone numbers of two blocks apart."""
    rng = rng_stream(seed, "deltas")
    _late_members(v["campaign_members"], cal, rng)
    has_child = np.zeros(len(v["customers"]), dtype=bool)
    for name in (*NON_LEAF_CHILDREN, *LEAF_CHILDREN):
        has_child[v[name]["_cust"].to_numpy()] = True
    rel = v["customer_relationships"]
    has_child[rel["a"].to_numpy()] = has_child[rel["b"].to_numpy()] = True
    recent = cal.day_start(1) - 2 * DAY  # orders after every campaign window
    first_id = int(v["customers"]["customer_id"].iat[0]) if len(v["customers"]) else 1
    new_phone = iter(range(10**8 + block * 10**5, 10**9))
    for k in range(2, cal.days + 1):
        extra: dict[str, list[pd.DataFrame]] = {name: [] for name in v}
        cu = v["customers"]
        ok = _open(cu, k) & (cu["_field_defect"] == "").to_numpy() & ~cu["is_deleted"].to_numpy()
        rows = _pick(rng, ok, 0.002)
        new = _new_versions(cu, rows, k, cal, rng)
        kind = np.where((new["_role"] == "single").to_numpy(), rng.integers(0, 3, len(new)), 0)
        flip = {"active": "inactive", "inactive": "active", "prospect": "active"}
        new.loc[kind == 0, "status"] = new.loc[kind == 0, "status"].map(flip)
        new.loc[kind == 1, "phone"] = [f"16{next(new_phone)}" for _ in range(int((kind == 1).sum()))]
        donors = rng.integers(0, len(cu), len(new))
        new.loc[kind == 2, "address"] = cu["address"].to_numpy()[donors][kind == 2]
        extra["customers"].append(new)
        single = (cu["_role"] == "single").to_numpy()
        childless = ~has_child[cu["customer_id"].to_numpy() - first_id]
        gone = _pick(rng, ok & single & childless & ~np.isin(np.arange(len(cu)), rows), 0.01)
        extra["customers"].append(_deleted(cu, gone, k, cal, rng))

        o = v["orders"]
        ok = _open(o, k) & (o["order_date"].to_numpy() >= recent)
        rows = _pick(rng, ok & (o["status"] == "completed").to_numpy(), 0.01)
        new = _new_versions(o, rows, k, cal, rng)
        new["status"] = "refunded"
        extra["orders"].append(new)
        gone = _pick(rng, ok & ~o["_touched"].to_numpy(), 0.003)
        dead = _deleted(o, gone, k, cal, rng)
        extra["orders"].append(dead)
        it = v["order_items"]
        lines = np.flatnonzero(it["order_id"].isin(dead["order_id"]).to_numpy())
        dead_lines = _deleted(it, lines, k, cal, rng)
        dead_lines["updated_at"] = (
            dead.set_index("order_id")["updated_at"].reindex(dead_lines["order_id"].to_numpy()).to_numpy()
        )
        extra["order_items"].append(dead_lines)

        op = v["opportunities"]
        ok = _open(op, k) & ~op["is_closed"].to_numpy()
        new = _new_versions(op, _pick(rng, ok, 0.02), k, cal, rng)
        new["stage"] = new["stage"].map(
            {
                "prospecting": "qualification",
                "qualification": "proposal",
                "proposal": "negotiation",
                "negotiation": "closed_won",
            }
        )
        new["is_closed"] = new["stage"] == "closed_won"
        new["is_won"] = new["is_closed"]
        extra["opportunities"].append(new)
        extra["opportunities"].append(_deleted(op, _pick(rng, _open(op, k), 0.0005), k, cal, rng))

        m = v["campaign_members"]
        ok = _open(m, k) & ~np.isnat(m["clicked_at"].to_numpy()) & np.isnat(m["responded_at"].to_numpy())
        new = _new_versions(m, _pick(rng, ok, 0.002), k, cal, rng)
        new["responded_at"] = new["clicked_at"].to_numpy() + seconds(rng.uniform(3600, 3 * 86400, len(new)))
        extra["campaign_members"].append(new)

        sp = v["campaign_spend"]
        ok = _open(sp, k) & (sp["date"].to_numpy() == np.datetime64(cal.extract_date(k - 1), "s"))
        new = _new_versions(sp, _pick(rng, ok, 0.5), k, cal, rng)
        new["spend"] = (new["spend"] * rng.uniform(0.95, 1.05, len(new))).round().astype(np.int64)
        extra["campaign_spend"].append(new)

        cm = v["communications"]
        ok = _open(cm, k) & (cm["outcome"] == "follow_up").to_numpy()
        new = _new_versions(cm, _pick(rng, ok, 0.002), k, cal, rng)
        new["outcome"] = "completed"
        extra["communications"].append(new)
        extra["communications"].append(_deleted(cm, _pick(rng, _open(cm, k), 0.0002), k, cal, rng))

        extra["behavior_events"].append(
            _deleted(v["behavior_events"], _pick(rng, _open(v["behavior_events"], k), 0.0001), k, cal, rng)
        )
        rel = v["customer_relationships"]
        extra["customer_relationships"].append(_deleted(rel, _pick(rng, _open(rel, k), 0.001), k, cal, rng))
        tk = v["service_tickets"]
        single = ~tk["ticket_id"].duplicated(keep=False).to_numpy()
        extra["service_tickets"].append(_deleted(tk, _pick(rng, _open(tk, k) & single, 0.0002), k, cal, rng))
        for name, parts in extra.items():
            if parts:
                v[name] = pd.concat([v[name], *parts], ignore_index=True)


def _deleted(
    df: pd.DataFrame, rows: np.ndarray, k: int, cal: Calendar, rng: np.random.Generator
) -> pd.DataFrame:
    new = _new_versions(df, rows, k, cal, rng)
    new["is_deleted"] = True
    return new


def _late_members(m: pd.DataFrame, cal: Calendar, rng: np.random.Generator) -> None:
    """A few membership rows are back-filled by the source on a later day (new rows in a delta)."""
    if cal.days < 2:
        return
    rows = _pick(rng, m["_day"].to_numpy() == 1, 0.002)
    day = rng.integers(2, cal.days + 1, len(rows))
    m.loc[rows, "_day"] = day
    m.loc[rows, "updated_at"] = np.array(
        [cal.day_start(int(d)) for d in day], dtype="datetime64[s]"
    ) + seconds(rng.uniform(6 * 3600, 20 * 3600, len(rows)))
    m.loc[rows, "_touched"] = True
