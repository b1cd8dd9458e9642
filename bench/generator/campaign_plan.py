"""The campaign plan, shared by every customer block: design, slot, lift and parameters of each campaign,
the campaigns snapshot and the daily campaign spend.

Campaigns run in 31-day slots before day 1 (see `marketing.py` for members and outcomes). The plan is
drawn once per run (by the first block, from the run's seed and scale); every block then draws its own
members for every campaign, so a campaign's members, outcomes and true effects are the union over blocks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .common import DAY, Calendar, choice, seconds

SLOT_DAYS = 31
N_SLOTS = 14
FIRST_SLOT_GAP_DAYS = 33  # the last slot starts this many days before day 1 (windows end before day 1)
FEATURES = ("recency", "frequency", "monetary", "visits")
TARGETING = {  # observational campaigns: coefficients on standardised features
    "win_back": {"recency": 1.2, "monetary": 0.8},
    "vip": {"frequency": 1.0, "monetary": 0.8, "recency": -0.6},
    "browsers": {"visits": 1.2, "frequency": -0.5},
}
LIFT_POSITIVE = (0.0075, 0.075)  # campaign lift (mean tau, conversion probability points) by effect type
LIFT_NEGATIVE = (-0.03, -0.0075)
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
class CampaignPlan:
    """What every block of a run shares about the campaigns."""

    plan: pd.DataFrame  # campaign_id, _design, _lift, _driver, _style, attribution_days, channel, ... _slot
    visit_lift: np.ndarray  # planted extra visits per treated member, per campaign (0: none)


def campaign_count(scale: float) -> int:
    """20 campaigns at scale 0.1, slowly more with scale, at least 12."""
    return max(12, int(round(20 + 4 * np.log2(max(scale, 1e-6) / 0.1))))


def slot_starts(cal: Calendar) -> np.ndarray:
    last = cal.day_start(1) - FIRST_SLOT_GAP_DAYS * DAY
    return last - (N_SLOTS - 1 - np.arange(N_SLOTS)) * SLOT_DAYS * DAY


def plan_campaigns(rng: np.random.Generator, n: int, scale: float) -> pd.DataFrame:
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


def visit_lifts(rng: np.random.Generator, n: int) -> np.ndarray:
    """The planted visit lift of each of n campaigns (0 for the campaigns without one)."""
    return np.where(rng.random(n) < VISIT_LIFT_SHARE, rng.uniform(*VISIT_LIFT, n), 0.0)


def assign_slots(plan: pd.DataFrame, eligible: np.ndarray, members: int) -> np.ndarray:
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


def campaign_rows(
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
