"""Campaign members, the outcome each member produces and the true campaign effects (one customer block).

Campaigns (planned once per run in `campaign_plan.py`) run in 31-day slots before day 1; a customer is
in at most one campaign per slot, so attribution windows of one customer never overlap. Two designs:

* randomised: members are a random sample, 30-50 % held out as `control` (no sent/opened/clicked). When
  the randomised campaigns of a slot want more members than the slot's pool holds (large scales, where
  more campaigns share the slots), they split the pool evenly instead of leaving the last ones empty.
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
from .campaign_plan import (
    N_SLOTS,
    TARGETING,
    CampaignPlan,
    assign_slots,
    campaign_count,
    campaign_rows,
    plan_campaigns,
    slot_starts,
    visit_lifts,
)
from .common import DAY, Calendar, choice, rng_stream, seconds
from .sales import add_items, expected_order_value, order_frame
from .segments import AFTER_CHURN

BASELINE_SHARE = 0.4  # p0 = 1 - exp(-BASELINE_SHARE * order rate * attribution_days)
# tau ∝ rank(driver)^EFFECT_CONCENTRATION among the estimand population (mean = the campaign lift). A milder
# slope (0.3 + 1.4 * rank, the first version) left the heterogeneity far below what ~1 000 members per
# campaign can reveal: even a learner told the driver and the functional form ranked members no better
# than the campaign's average effect (issue 6: uplift Qini vs the true effects at scale 0.1).
EFFECT_CONCENTRATION = 4
# members per campaign as a share of the customers (at least `min_members`): 2 400 at scale 0.1. Half that
# left the uplift signal of a campaign below what its members can reveal (issue 6).
MEMBER_SHARE = 0.24

@dataclass
class CampaignOutput:
    """One block's campaign outcomes; effects carry sums and counts so blocks add up (see `truth.py`)."""

    plan: CampaignPlan  # the run's plan (drawn by the first block)
    campaigns: pd.DataFrame | None  # contract columns + _slot, _design (first block only)
    members: pd.DataFrame  # contract columns (ids as ints) + _cust
    orders: pd.DataFrame  # organic orders outside controlled windows + outcome orders
    items: pd.DataFrame
    effects: pd.DataFrame  # EFFECT_COLUMNS: conversion, revenue
    event_effects: pd.DataFrame  # EFFECT_COLUMNS: behaviour-event outcomes (visits)
    events: pd.DataFrame  # extra visit events of treated members (`activity` columns)
    uplift: pd.DataFrame  # campaign_id, _cust, true_effect


# the true effect of a campaign on an outcome is _sum / _n / _unit over the estimand population
EFFECT_COLUMNS = ["campaign_id", "outcome", "estimand", "design", "_sum", "_n", "_unit"]

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
    plan: CampaignPlan | None = None,
) -> CampaignOutput:
    """Pick members, replace window orders by explicit outcomes, and record the truth (one block).

    The first block draws the run's campaign plan (`plan` None) and the campaigns snapshot; the others
    get the plan and draw their own members for every campaign."""
    rng = rng_stream(seed, "campaigns")
    n_cust = len(cust)
    starts = slot_starts(cal)
    created, prospect = cust["created_at"].to_numpy(), cust["_prospect"].to_numpy()
    members = max(min_members, int(round(MEMBER_SHARE * (created < cal.day_end(1)).sum())))
    vrng = rng_stream(seed, "campaign-visits")
    first = plan is None
    if first:
        eligible_n = np.array([((created < s - DAY) & ~prospect).sum() for s in starts])
        frame = plan_campaigns(rng, campaign_count(scale), scale)
        frame["_slot"] = assign_slots(frame, eligible_n, members)
        plan = CampaignPlan(frame, visit_lifts(vrng, len(frame)))
    ev = events[events["event_type"] == "visit"]
    visits_t, visits_c = ev["occurred_at"].to_numpy(), ev["_cust"].to_numpy()
    value = expected_order_value(cust, products)
    next_oid = int(orders["_oid"].max()) + 1
    member_parts, effect_rows, event_rows, uplift_parts, extra_visits = [], [], [], [], []

    for s in range(N_SLOTS):
        group = plan.plan[plan.plan["_slot"] == s]
        if group.empty:
            continue
        at = starts[s]
        pool = np.flatnonzero((created < at - DAY) & ~prospect)
        rng.shuffle(pool)
        slot = _Slot(at, _standardise(_features(orders, visits_t, visits_c, n_cust, at)), pool)
        # many campaigns share a slot at large scales: they split its pool rather than leave the last empty
        n_random = int((group["_design"] == "randomised").sum())
        share = members if n_random * members <= len(pool) else len(pool) // max(n_random, 1)
        win_lo = np.full(n_cust, np.datetime64("NaT", "s"))
        win_hi = win_lo.copy()
        new_orders, new_items, slot_visits = [], [], []
        for _, camp in group.iterrows():
            randomised = camp["_design"] == "randomised"
            units, treated, member = _units(rng, camp, slot, share if randomised else members)
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
            member_parts.append(
                _member_rows(
                    rng, cust, cid, units[member], treated[member], assigned[member],
                    conversion_at[member], camp["channel"],
                )
            )
            estimand, design, n_est = ("ate" if randomised else "att"), camp["_design"], int(est.sum())
            effect_rows.append((cid, "conversion", estimand, design, tau[est].sum(), n_est, 1))
            revenue = (tau[est] * value[units][est]).sum()  # cents
            effect_rows.append((cid, "revenue", estimand, design, revenue, n_est, 100))
            uplift_parts.append(
                pd.DataFrame({"campaign_id": cid, "_cust": units[member], "true_effect": tau[member]})
            )
            # churned customers hardly come back (their rates fall to AFTER_CHURN, as for orders)
            active = (cust["_from"].to_numpy()[units] <= at) & (cust["_churn"].to_numpy()[units] > at)
            lift_v = float(plan.visit_lift[cid - 1]) * np.where(active, 1.0, AFTER_CHURN)
            extra = vrng.poisson(lift_v[treated])
            owner = np.repeat(units[treated], extra)
            when = np.repeat(assigned[treated], extra) + seconds(vrng.uniform(60, attr * 86400 - 60, len(owner)))
            slot_visits.append(event_frame(vrng, cust, products, owner, when, "visit"))
            event_rows.append((cid, "visits", estimand, design, lift_v[est].sum(), n_est, 1))
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

    return CampaignOutput(
        plan=plan,
        campaigns=campaign_rows(rng, plan.plan, starts, cal) if first else None,
        members=pd.concat(member_parts, ignore_index=True),
        orders=orders,
        items=items,
        effects=pd.DataFrame(effect_rows, columns=EFFECT_COLUMNS),
        event_effects=pd.DataFrame(event_rows, columns=EFFECT_COLUMNS),
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

