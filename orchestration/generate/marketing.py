"""Campaigns, their members, the outcome each member produces and the true campaign effects.

Campaigns run in 31-day slots before day 1; a customer is in at most one campaign per slot, so attribution
windows of one customer never overlap. Two designs:

* randomised: members are a random sample, 30-50 % held out as `control` (no sent/opened/clicked).
* observational (targeted, no control): every eligible customer (created more than a day before the
  campaign `start_date` and with some activity) is selected with a propensity that depends only on
  features visible before `start_date` 00:00, computed from the files: recency = days since the last
  completed order (capped at 365, 365 when none), frequency = number of completed orders, monetary =
  their net amount, visits = `visit` events in the 90 days before. All members share one `assigned_at`,
  and the slot holds no other campaign, so eligible non-members with a window starting at that same
  `assigned_at` are a clean comparison group (ATT = mean effect over the members).

Outcomes are generated explicitly. Each controlled customer (member of a randomised campaign, or any
eligible customer in an observational slot) gets baseline probability p0 = 1 - exp(-BASELINE_SHARE *
order rate * attribution_days) and an individual effect tau that depends on an observable feature (so
uplift models can find it: the effect concentrates on the customers ranked high in that feature, tau ∝
rank^EFFECT_CONCENTRATION, so the top fifth of a campaign carries two thirds of its effect). Their organic
orders in [assigned_at, assigned_at + attribution_days) are removed; instead one completed order is placed
in the window with probability p0 + tau (treated) or p0 (untreated), plus an occasional cancelled/refunded
order that never counts. So conversion and revenue as the warehouse defines them hold exactly on the
files; the true effects are the mean tau (conversion) and the mean of tau x the member's expected order
value (revenue).

Visits: most campaigns also bring treated members back to the site. Each treated member of a campaign
with a visit lift v gets Poisson(v_i) extra `visit` events at uniform times in its attribution window,
v_i = v for customers active at the slot start and v x AFTER_CHURN for churned ones (a random stream of
their own, `campaign-visits`, so the order and conversion outcomes above are unchanged), on top of the
organic visits that both arms have. The true effect on `visits` (visit events per unit in the window) is
the mean v_i over the estimand population (members: ATE of a randomised campaign; targeted members: ATT);
it is written to `_truth/campaign_event_effects.csv` (same columns as `campaign_effects.csv`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .activity import event_frame
from .common import DAY, Calendar, choice, rng_stream, seconds
from .sales import add_items, expected_order_value, order_frame
from .segments import AFTER_CHURN

SLOT_DAYS = 31
N_SLOTS = 14
FIRST_SLOT_GAP_DAYS = 33  # the last slot starts this many days before day 1 (windows end before day 1)
FEATURES = ("recency", "frequency", "monetary", "visits")
TARGETING = {  # observational campaigns: coefficients on standardised features
    "win_back": {"recency": 1.2, "monetary": 0.8},
    "vip": {"frequency": 1.0, "monetary": 0.8, "recency": -0.6},
    "browsers": {"visits": 1.2, "frequency": -0.5},
}
BASELINE_SHARE = 0.4  # p0 = 1 - exp(-BASELINE_SHARE * order rate * attribution_days)
# tau ∝ rank(driver)^EFFECT_CONCENTRATION among the estimand population (mean = the campaign lift). A milder
# slope (0.3 + 1.4 * rank, the first version) left the heterogeneity far below what ~1 000 members per
# campaign can reveal: even a learner told the driver and the functional form ranked members no better
# than the campaign's average effect (issue 6: uplift Qini vs the true effects at scale 0.1).
EFFECT_CONCENTRATION = 4
LIFT_POSITIVE = (0.0075, 0.075)  # campaign lift (mean tau, conversion probability points) by effect type
LIFT_NEGATIVE = (-0.03, -0.0075)
# members per campaign as a share of the customers (at least `min_members`): 2 400 at scale 0.1. Half that
# left the uplift signal of a campaign below what its members can reveal (issue 6).
MEMBER_SHARE = 0.24
VISIT_LIFT = (0.2, 1.0)  # extra visits per treated member in the window, campaigns with a visit lift
VISIT_LIFT_SHARE = 0.7  # share of campaigns with a visit lift (the others: none, true effect 0)
CHANNELS = ("email", "sms", "social", "ads", "event", "phone")
_THEMES = (
    "春季焕新",
    "Summer Sale",
    "会员日",
    "Back to School",
    "双11预热",
    "Year-End Thanks",
    "新品首发",
    "Win-back",
)


@dataclass
class CampaignOutput:
    campaigns: pd.DataFrame  # contract columns + _slot, _design
    members: pd.DataFrame  # contract columns (ids as ints) + _cust
    orders: pd.DataFrame  # organic orders outside controlled windows + outcome orders
    items: pd.DataFrame
    effects: pd.DataFrame  # campaign_id, outcome, estimand, true_effect, design
    event_effects: pd.DataFrame  # the same columns for behaviour-event outcomes (visits)
    events: pd.DataFrame  # extra visit events of treated members (`activity` columns)
    uplift: pd.DataFrame  # campaign_id, customer_id, true_effect


def campaign_count(scale: float) -> int:
    """20 campaigns at scale 0.1, slowly more with scale, at least 12."""
    return max(12, int(round(20 + 4 * np.log2(max(scale, 1e-6) / 0.1))))


def _slot_starts(cal: Calendar) -> np.ndarray:
    last = cal.day_start(1) - FIRST_SLOT_GAP_DAYS * DAY
    return last - (N_SLOTS - 1 - np.arange(N_SLOTS)) * SLOT_DAYS * DAY


def _features(
    orders: pd.DataFrame, visits_t: np.ndarray, visits_c: np.ndarray, n: int, at: np.datetime64
) -> pd.DataFrame:
    """Per-customer pre-campaign features as of `at` (see module docstring)."""
    done = orders[(orders["status"] == "completed").to_numpy() & (orders["order_date"].to_numpy() < at)]
    cust = done["_cust"].to_numpy()
    freq = np.bincount(cust, minlength=n)
    monetary = np.bincount(cust, weights=done["_value"].to_numpy(), minlength=n) / 100
    last = pd.Series(done["order_date"].to_numpy()).groupby(cust).max()
    recency = np.full(n, 365.0)
    recency[last.index.to_numpy()] = np.minimum((at - last.to_numpy()) / DAY, 365.0)
    in_window = (visits_t >= at - 90 * DAY) & (visits_t < at)
    visits = np.bincount(visits_c[in_window], minlength=n)
    return pd.DataFrame({"recency": recency, "frequency": freq, "monetary": monetary, "visits": visits})


def _standardise(x: pd.DataFrame) -> pd.DataFrame:
    z = np.log1p(x.astype(float))
    return (z - z.mean()) / z.std(ddof=0).replace(0, 1)


def _propensity(z: pd.DataFrame, style: str, target: float) -> np.ndarray:
    """Selection probabilities from standardised features, intercept solved so they sum to `target`."""
    score = sum(coef * z[f].to_numpy() for f, coef in TARGETING[style].items())
    lo, hi = -20.0, 20.0
    for _ in range(60):
        mid = (lo + hi) / 2
        e = np.clip(1 / (1 + np.exp(-(mid + score))), 0.01, 0.95)
        lo, hi = (mid, hi) if e.sum() < target else (lo, mid)
    return e


def _plan(rng: np.random.Generator, n: int, scale: float) -> pd.DataFrame:
    """Design, effect type, lift, slot-independent parameters of each campaign."""
    n_obs = max(3 if scale < 0.1 else 4, int(round(0.22 * n)))
    design = np.array(["observational"] * n_obs + ["randomised"] * (n - n_obs), dtype=object)
    rng.shuffle(design)
    n_zero, n_neg = int(np.ceil(0.3 * n)), max(1, int(round(0.15 * n)))
    kind = np.array(
        ["zero"] * n_zero + ["negative"] * n_neg + ["positive"] * (n - n_zero - n_neg), dtype=object
    )
    rng.shuffle(kind)
    lift = np.where(
        kind == "positive",
        rng.uniform(*LIFT_POSITIVE, n),
        np.where(kind == "negative", rng.uniform(*LIFT_NEGATIVE, n), 0.0),
    )
    return pd.DataFrame(
        {
            "campaign_id": np.arange(1, n + 1, dtype=np.int64),
            "_design": design,
            "_lift": lift,
            "_driver": choice(rng, FEATURES, n),
            "_style": choice(rng, tuple(TARGETING), n),
            "attribution_days": rng.integers(14, 31, n),
            "channel": choice(rng, CHANNELS, n, (0.35, 0.2, 0.15, 0.1, 0.1, 0.1)),
            "_control": rng.uniform(0.3, 0.5, n),
            "_offset_h": rng.uniform(0, 6, n),
        }
    )


def _assign_slots(plan: pd.DataFrame, eligible: np.ndarray, members: int) -> np.ndarray:
    """Observational campaigns get a slot of their own; randomised ones share the remaining slots."""
    slot = np.full(len(plan), -1)
    obs = np.flatnonzero(plan["_design"] == "observational")
    own = np.unique(np.linspace(1, N_SLOTS - 1, len(obs)).round().astype(int))
    assert len(own) == len(obs), "too many observational campaigns for the slots"
    slot[obs] = own
    free = [s for s in range(N_SLOTS) if s not in set(own)]
    used = {s: 0 for s in free}
    for i in np.flatnonzero(plan["_design"] == "randomised"):
        room = [(int(0.85 * eligible[s]) - (used[s] + 1) * members, -s) for s in free]
        best = -max(room)[1]
        slot[i] = best
        used[best] += 1
    return slot


@dataclass
class _Slot:
    """State shared by the campaigns of one slot."""

    at: np.datetime64  # slot start (campaign start_date 00:00)
    z: pd.DataFrame  # standardised pre-campaign features of every customer
    pool: np.ndarray  # eligible customers, shuffled
    taken: int = 0  # randomised campaigns draw disjoint slices of the pool


def _units(rng: np.random.Generator, camp: pd.Series, slot: _Slot, members: int):
    """Controlled customers of one campaign, who is treated, and who is a member (a written row)."""
    if camp["_design"] == "randomised":
        k = min(members, len(slot.pool) - slot.taken)
        units = np.sort(slot.pool[slot.taken : slot.taken + k])
        slot.taken += k
        treated = np.zeros(len(units), dtype=bool)
        treated[rng.permutation(len(units))[: int(round(len(units) * (1 - camp["_control"])))]] = True
        return units, treated, np.ones(len(units), dtype=bool)
    units = np.sort(slot.pool)  # observational: the whole pool is controlled, members are the treated
    treated = rng.random(len(units)) < _propensity(slot.z.iloc[units], camp["_style"], members * 1.08)
    return units, treated, treated


def _baseline_and_effect(
    camp: pd.Series, cust: pd.DataFrame, units: np.ndarray, est: np.ndarray, slot: _Slot
):
    """p0 from the customer's order rate at the slot start; tau heterogeneous in one observable feature.

    tau ∝ rank^EFFECT_CONCENTRATION of the campaign's driver feature within the estimand population
    (`est`), scaled so its mean there is the campaign lift, then clipped so p0 + tau stays a probability
    (the truth files record the clipped values); it is zero outside the estimand population.
    """
    attr = int(camp["attribution_days"])
    rate = cust["_orders"].to_numpy()[units]
    active = (cust["_from"].to_numpy()[units] <= slot.at) & (cust["_churn"].to_numpy()[units] > slot.at)
    rate = np.where(active, rate, rate * AFTER_CHURN)
    p0 = np.clip(1 - np.exp(-BASELINE_SHARE * rate * attr), 0.0, 0.45)
    rank = pd.Series(slot.z[camp["_driver"]].to_numpy()[units][est]).rank(pct=True).to_numpy()
    h = np.ones(len(units))
    h[est] = rank**EFFECT_CONCENTRATION
    h = h / h[est].mean()
    tau = np.clip(p0 + camp["_lift"] * h, 0.0, 0.95) - p0
    tau[~est] = 0.0
    return p0, tau


def _window_orders(rng, cust, products, units, assigned, attr, p, first_oid):
    """One completed order in the window with probability p, plus rare cancelled/refunded ones."""
    span = attr * 86400 - 60
    converted = rng.random(len(units)) < p
    when = assigned + seconds(rng.uniform(60, span, len(units)))
    conv = order_frame(rng, cust, units[converted], when[converted], status="completed")
    noise = rng.random(len(units)) < 0.01
    when2 = assigned + seconds(rng.uniform(60, span, len(units)))
    status = choice(rng, ("cancelled", "refunded"), int(noise.sum()), (0.6, 0.4))
    noisy = order_frame(rng, cust, units[noise], when2[noise], status=status)
    batch = pd.concat([conv.assign(_origin="conversion"), noisy.assign(_origin="noise")], ignore_index=True)
    orders, items = add_items(rng, cust, batch, products, first_oid)
    return orders, items, np.where(converted, when, np.datetime64("NaT", "s"))


def build_campaigns(
    seed: int,
    scale: float,
    cal: Calendar,
    cust: pd.DataFrame,
    orders: pd.DataFrame,
    items: pd.DataFrame,
    events: pd.DataFrame,
    products: pd.DataFrame,
    min_members: int,
) -> CampaignOutput:
    """Plan campaigns, pick members, replace window orders by explicit outcomes, and record the truth."""
    rng = rng_stream(seed, "campaigns")
    n_cust = len(cust)
    starts = _slot_starts(cal)
    created, prospect = cust["created_at"].to_numpy(), cust["_prospect"].to_numpy()
    eligible_n = np.array([((created < s - DAY) & ~prospect).sum() for s in starts])
    members = max(min_members, int(round(MEMBER_SHARE * (created < cal.day_end(1)).sum())))
    plan = _plan(rng, campaign_count(scale), scale)
    plan["_slot"] = _assign_slots(plan, eligible_n, members)
    ev = events[events["event_type"] == "visit"]
    visits_t, visits_c = ev["occurred_at"].to_numpy(), ev["_cust"].to_numpy()
    vrng = rng_stream(seed, "campaign-visits")
    visit_lift = np.where(
        vrng.random(len(plan)) < VISIT_LIFT_SHARE, vrng.uniform(*VISIT_LIFT, len(plan)), 0.0
    )
    extra_visits, event_rows = [], []
    value = expected_order_value(cust, products)
    next_oid = int(orders["_oid"].max()) + 1
    member_parts, effect_rows, uplift_parts = [], [], []

    for s in range(N_SLOTS):
        group = plan[plan["_slot"] == s]
        if group.empty:
            continue
        at = starts[s]
        pool = np.flatnonzero((created < at - DAY) & ~prospect)
        rng.shuffle(pool)
        slot = _Slot(at, _standardise(_features(orders, visits_t, visits_c, n_cust, at)), pool)
        win_lo = np.full(n_cust, np.datetime64("NaT", "s"))
        win_hi = win_lo.copy()
        new_orders, new_items, slot_visits = [], [], []
        for _, camp in group.iterrows():
            units, treated, member = _units(rng, camp, slot, members)
            randomised = camp["_design"] == "randomised"
            est = member if randomised else treated
            base = at + seconds(3600 * (9 + camp["_offset_h"]))
            # Observational: one assignment time for members and the comparison group alike.
            assigned = base + seconds(
                rng.uniform(0, 7200, len(units)) if randomised else np.zeros(len(units))
            )
            attr = int(camp["attribution_days"])
            win_lo[units], win_hi[units] = assigned, assigned + attr * DAY
            p0, tau = _baseline_and_effect(camp, cust, units, est, slot)
            batch, batch_items, conversion_at = _window_orders(
                rng, cust, products, units, assigned, attr, p0 + np.where(treated, tau, 0.0), next_oid
            )
            next_oid += len(batch)
            new_orders.append(batch)
            new_items.append(batch_items)
            cid = int(camp["campaign_id"])
            mem = _member_rows(
                rng,
                cust,
                cid,
                units[member],
                treated[member],
                assigned[member],
                conversion_at[member],
                camp["channel"],
            )
            member_parts.append(mem)
            estimand = "ate" if randomised else "att"
            revenue = float((tau[est] * value[units][est]).mean() / 100)
            effect_rows.append((cid, "conversion", estimand, float(tau[est].mean()), camp["_design"]))
            effect_rows.append((cid, "revenue", estimand, revenue, camp["_design"]))
            uplift_parts.append(
                pd.DataFrame({"campaign_id": cid, "_cust": units[member], "true_effect": tau[member]})
            )
            # churned customers hardly come back (their rates fall to AFTER_CHURN, as for orders)
            active = (cust["_from"].to_numpy()[units] <= at) & (cust["_churn"].to_numpy()[units] > at)
            lift_v = float(visit_lift[cid - 1]) * np.where(active, 1.0, AFTER_CHURN)
            extra = vrng.poisson(lift_v[treated])
            owner = np.repeat(units[treated], extra)
            when = np.repeat(assigned[treated], extra) + seconds(vrng.uniform(60, attr * 86400 - 60, len(owner)))
            slot_visits.append(event_frame(vrng, cust, products, owner, when, "visit"))
            event_rows.append((cid, "visits", estimand, float(lift_v[est].mean()), camp["_design"]))
        # later slots' targeting sees this slot's extra visits (features computed from the files)
        visits_t = np.concatenate([visits_t, *(v["occurred_at"].to_numpy() for v in slot_visits)])
        visits_c = np.concatenate([visits_c, *(v["_cust"].to_numpy() for v in slot_visits)])
        extra_visits += slot_visits
        # Organic orders inside the controlled windows of this slot give way to the explicit outcomes.
        lo, hi = win_lo[orders["_cust"].to_numpy()], win_hi[orders["_cust"].to_numpy()]
        t = orders["order_date"].to_numpy()
        inside = (orders["_origin"] == "organic").to_numpy() & (t >= lo) & (t < hi)
        orders = pd.concat([orders[~inside], *new_orders], ignore_index=True)
        items = pd.concat([items, *new_items], ignore_index=True)

    effects = pd.DataFrame(
        effect_rows, columns=["campaign_id", "outcome", "estimand", "true_effect", "design"]
    )
    return CampaignOutput(
        campaigns=_campaign_rows(rng, plan, starts, cal),
        members=pd.concat(member_parts, ignore_index=True),
        orders=orders,
        items=items,
        effects=effects,
        event_effects=pd.DataFrame(event_rows, columns=effects.columns),
        events=pd.concat(extra_visits, ignore_index=True) if extra_visits else events.iloc[:0],
        uplift=pd.concat(uplift_parts, ignore_index=True),
    )


def _member_rows(rng, cust, cid, units, treated, assigned, conversion_at, channel) -> pd.DataFrame:
    """campaign_members rows: treated members are sent, some open, click and respond; control has none."""
    n = len(units)
    nat = np.datetime64("NaT", "s")
    sent = np.where(treated, assigned + seconds(rng.uniform(300, 6 * 3600, n)), nat)
    opened_p = cust["_open"].to_numpy()[units] * (0.5 if channel in ("ads", "event") else 1.0)
    opened = treated & (rng.random(n) < opened_p)
    opened_at = np.where(opened, sent + seconds(rng.uniform(60, 2 * 86400, n)), nat)
    clicked = opened & (rng.random(n) < cust["_click"].to_numpy()[units])
    clicked_at = np.where(clicked, opened_at + seconds(rng.uniform(10, 3600, n)), nat)
    responded = treated & ~np.isnat(conversion_at) & (rng.random(n) < 0.8)
    responded_at = np.where(responded, conversion_at, nat)
    latest = assigned.copy()
    for stamp in (sent, opened_at, clicked_at, responded_at):
        later = ~np.isnat(stamp) & (stamp > latest)
        latest[later] = stamp[later]
    return pd.DataFrame(
        {
            "campaign_id": cid,
            "_cust": units,
            "customer_id": cust["customer_id"].to_numpy()[units],
            "group": np.where(treated, "treatment", "control"),
            "assigned_at": assigned,
            "sent_at": sent,
            "opened_at": opened_at,
            "clicked_at": clicked_at,
            "responded_at": responded_at,
            "updated_at": latest + seconds(rng.uniform(1, 600, n)),
            "is_deleted": False,
        }
    )


def _campaign_rows(
    rng: np.random.Generator, plan: pd.DataFrame, starts: np.ndarray, cal: Calendar
) -> pd.DataFrame:
    """The campaigns snapshot (plan text, dates, budget, KPI)."""
    n = len(plan)
    start = starts[plan["_slot"].to_numpy()].astype("datetime64[D]").astype("datetime64[s]")
    run = rng.integers(14, 41, n)
    last_slot = plan["_slot"].to_numpy() == N_SLOTS - 1
    run = np.where(last_slot, np.maximum(run, FIRST_SLOT_GAP_DAYS + 20), run)  # still running on delta days
    theme = choice(rng, _THEMES, n)
    style = np.where(plan["_design"] == "observational", plan["_style"], "random sample")
    return pd.DataFrame(
        {
            "campaign_id": plan["campaign_id"],
            "name": [f"{t} {i:02d}" for t, i in zip(theme, plan["campaign_id"], strict=True)],
            "goal": choice(rng, ("提升复购", "Grow revenue", "Reactivate lapsed customers", "拉新转化"), n),
            "strategy": np.where(
                plan["_design"] == "observational", "targeted: " + style, "randomised test, control held out"
            ),
            "measures": choice(
                rng, ("优惠券, 限时折扣", "Free shipping over 199", "积分翻倍", "Bundle offer"), n
            ),
            "channel": plan["channel"],
            "start_date": start,
            "end_date": start + run * DAY,
            "budget": (rng.lognormal(np.log(5_000_000), 0.5, n) / 100).round().astype(np.int64) * 100,
            "target_segment": np.where(plan["_design"] == "observational", style, "all active customers"),
            "kpi_metric": choice(rng, ("conversion_rate", "revenue_per_member", "click_rate"), n),
            "kpi_target": rng.integers(2, 20, n) * 100,
            "attribution_days": plan["attribution_days"].astype(np.int64),
            "_slot": plan["_slot"],
            "_design": plan["_design"],
        }
    )


def build_spend(rng: np.random.Generator, campaigns: pd.DataFrame, cal: Calendar) -> pd.DataFrame:
    """campaign_spend: one row per campaign and day it runs, up to the last extract date."""
    days = ((campaigns["end_date"] - campaigns["start_date"]).to_numpy() / DAY).astype(np.int64) + 1
    owner = np.repeat(np.arange(len(campaigns)), days)
    offset = np.arange(len(owner)) - np.repeat(np.cumsum(days) - days, days)
    date = campaigns["start_date"].to_numpy()[owner] + offset * DAY
    budget = campaigns["budget"].to_numpy()[owner]
    spend = (budget / days[owner] * rng.uniform(0.6, 1.3, len(owner))).round().astype(np.int64)
    cum = pd.Series(spend).groupby(owner).cumsum().to_numpy()
    progress = np.minimum(cum / budget * 100, 100.0)
    status = np.where(
        offset == days[owner] - 1, "completed", np.where(rng.random(len(owner)) < 0.03, "paused", "running")
    )
    note = np.where(
        rng.random(len(owner)) < 0.05,
        choice(rng, ("素材审核延迟", "CPC above plan, watch budget", "渠道流量下降"), len(owner)),
        None,
    )
    df = pd.DataFrame(
        {
            "campaign_id": campaigns["campaign_id"].to_numpy()[owner],
            "date": date,
            "spend": spend,
            "progress_pct": (progress * 10_000).round().astype(np.int64),
            "status": status,
            "risk_note": note,
            "updated_at": date + seconds(rng.uniform(20 * 3600, 23.5 * 3600, len(owner))),
            "is_deleted": False,
        }
    )
    return df[df["date"].to_numpy() < cal.end].reset_index(drop=True)
