"""The five behavioural archetypes (`_truth/segments.csv`) and the rates that make them behave differently.

A customer's segment drives recency (when activity stops), frequency (order rate), monetary value
(quantity, discounts), web behaviour (visits, likes, carts, searches), service load (tickets) and
campaign responsiveness. Each customer also gets log-normal noise on these rates so that segments
overlap: a classifier on behaviour features separates them well, but not perfectly.

An at_risk customer stops (churns) at a time drawn from a planted proportional hazard
(`_truth/churn_hazard.csv`): `hazard(t) = relative_risk x CHURN_SHAPE x t ** (CHURN_SHAPE - 1) /
CHURN_SCALE_DAYS ** CHURN_SHAPE` (a Weibull hazard rising with t, the days since its churn window opened),
with `relative_risk = CHURN_BASE_RISK x service_load ** CHURN_SERVICE_ELASTICITY x tenure_years **
-CHURN_TENURE_ELASTICITY`: service_load is the customer's ticket rate over the at_risk profile's, tenure_years
its tenure when the window opens, so more tickets and a shorter tenure churn sooner (both are features the
churn model sees). The time is that distribution truncated to the window, which ends 150 days before the
first extract (every at_risk customer has stopped by then, as the segment promises). The rising hazard
keeps most churn in the middle and late part of the window, as a uniform draw did before: early churners
live long enough after churning for their residual activity (AFTER_CHURN) to look recent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .common import DAY

SEGMENTS = ("champion", "loyal", "bargain_hunter", "at_risk", "new")
CHAMPION, LOYAL, BARGAIN, AT_RISK, NEW = range(5)


@dataclass(frozen=True)
class Profile:
    share: float  # fraction of persons
    orders: float  # orders per 30 days while active
    quantity: float  # mean extra units per order line (Poisson), before the company boost
    discount: float  # probability an order line carries a discount
    visit: float  # behaviour events per 30 days while active
    like: float
    cart: float
    search: float
    share_rate: float
    tickets: float  # service tickets per 30 days while active
    open: float  # probability a treated campaign member opens
    click: float  # probability an opener clicks


PROFILES: tuple[Profile, ...] = (
    Profile(0.08, 1.10, 0.8, 0.10, 1.60, 0.50, 0.60, 0.34, 0.11, 0.13, 0.50, 0.50),  # champion
    Profile(0.20, 0.45, 0.4, 0.10, 0.60, 0.20, 0.22, 0.22, 0.06, 0.065, 0.35, 0.35),  # loyal
    Profile(0.20, 0.26, 0.2, 0.65, 1.20, 0.14, 0.70, 0.67, 0.03, 0.09, 0.30, 0.45),  # bargain_hunter
    Profile(0.22, 0.28, 0.4, 0.15, 0.45, 0.08, 0.17, 0.17, 0.03, 0.18, 0.15, 0.20),  # at_risk (before churn)
    Profile(0.30, 0.32, 0.4, 0.15, 0.90, 0.20, 0.28, 0.39, 0.06, 0.08, 0.30, 0.35),  # new
)

NOISE_SIGMA = 0.25  # per-customer, per-behaviour log-normal noise (how much segments overlap)
ENGAGEMENT_SIGMA = 0.2  # one shared multiplier per customer on every rate
AFTER_CHURN = 0.05  # at_risk customers keep this fraction of their rates after they churn
NEW_WINDOW_DAYS = 120  # "new" customers sign up within this many days of the end of the timeline
CHURN_SHAPE = 2.0  # Weibull shape of the baseline hazard (> 1: rising with time in the window)
CHURN_SCALE_DAYS = 365.0
CHURN_BASE_RISK = 1.0  # relative risk of an at_risk customer of average service load and one year of tenure
CHURN_SERVICE_ELASTICITY = 2.0  # relative risk ~ service_load ** 2
CHURN_TENURE_ELASTICITY = 1.0  # relative risk ~ tenure_years ** -1
CHURN_TENURE_YEARS = (0.25, 4.0)  # tenure is clipped to this range before it enters the hazard


def profile_array(field: str) -> np.ndarray:
    """One profile field for the five segments, indexable by a segment-code array."""
    return np.array([getattr(p, field) for p in PROFILES], dtype=float)


def noisy(rng: np.random.Generator, base: np.ndarray, engagement: np.ndarray) -> np.ndarray:
    """Per-customer rate: the segment's base rate times the shared engagement times fresh noise."""
    return base * engagement * rng.lognormal(-(NOISE_SIGMA**2) / 2, NOISE_SIGMA, len(base))


def churn_relative_risk(service_load: np.ndarray, tenure_years: np.ndarray) -> np.ndarray:
    """The planted relative churn risk (see the module docstring)."""
    tenure = np.clip(tenure_years, *CHURN_TENURE_YEARS)
    return CHURN_BASE_RISK * service_load**CHURN_SERVICE_ELASTICITY * tenure**-CHURN_TENURE_ELASTICITY


def cumulative_hazard(risk: np.ndarray, days: np.ndarray) -> np.ndarray:
    """H(t) = relative_risk x (t / CHURN_SCALE_DAYS) ** CHURN_SHAPE, t in days since the window opened."""
    return risk * (np.maximum(days, 0.0) / CHURN_SCALE_DAYS) ** CHURN_SHAPE


def churn_times(u: np.ndarray, risk: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """One time in [lo, hi) per element, from uniform draws `u`: the planted hazard's time, conditioned to
    fall in the window (inverse CDF of the truncated distribution, so no draw is rejected or clipped)."""
    mass = -np.expm1(-cumulative_hazard(risk, (hi - lo) / DAY))  # P(an untruncated draw falls in the window)
    days = CHURN_SCALE_DAYS * (-np.log1p(-u * mass) / risk) ** (1 / CHURN_SHAPE)
    return lo + np.minimum(np.round(days * 86400), (hi - lo).astype(np.int64) - 1).astype("timedelta64[s]")


def assign_behaviour(cust, cal, rng: np.random.Generator) -> None:
    """Add per-customer behaviour columns (in place): rates per day, quantity, discount, active window.

    `_from` is when activity can start (sign-up, not before the history), `_churn` when an at_risk
    customer stops (the end of the timeline for everybody else).
    """
    seg = cust["_segment"].to_numpy()
    n = len(seg)
    engagement = rng.lognormal(-(ENGAGEMENT_SIGMA**2) / 2, ENGAGEMENT_SIGMA, n)
    start = np.maximum(cust["created_at"].to_numpy(), cal.t0)
    u_churn = rng.random(n)  # drawn first: the other behaviour draws stay what they were before the hazard
    cust["_from"] = start
    cust["_engage"] = engagement
    for field in ("orders", "visit", "like", "cart", "search", "share_rate", "tickets"):
        cust[f"_{field}"] = noisy(rng, profile_array(field)[seg], engagement) / 30.0
    at_risk = seg == AT_RISK
    lo = np.maximum(start + 60 * DAY, cal.t0 + 90 * DAY)
    hi = np.maximum(cal.day_start(1) - 150 * DAY, lo + DAY)
    cust["_tenure_years"] = (lo - cust["created_at"].to_numpy()) / (365 * DAY)
    cust["_service_load"] = cust["_tickets"].to_numpy() * 30.0 / PROFILES[AT_RISK].tickets
    risk = churn_relative_risk(cust["_service_load"].to_numpy(), cust["_tenure_years"].to_numpy())
    risk = np.where(at_risk, risk, 0.0)  # only at_risk customers churn
    cust["_churn_risk"], cust["_churn_lo"], cust["_churn_hi"] = risk, lo, hi
    churn = churn_times(u_churn, np.where(at_risk, risk, 1.0), lo, hi)
    cust["_churn"] = np.where(at_risk, churn, cal.end)
    # Some new sign-ups are pure prospects: no activity at all (they may be deleted later).
    prospect = (seg == NEW) & (rng.random(n) < 0.1) & (cust["_role"] == "single").to_numpy()
    for field in ("orders", "visit", "like", "cart", "search", "share_rate", "tickets"):
        cust.loc[prospect, f"_{field}"] = 0.0
    cust["_prospect"] = prospect
    cust.loc[prospect, "_engage"] = 0.0  # no calls, opportunities or campaigns either
    company = (cust["customer_type"] == "company").to_numpy()
    cust["_qty"] = profile_array("quantity")[seg] * np.where(company, 4.0, 1.0)
    cust["_disc"] = profile_array("discount")[seg]
    cust["_open"] = profile_array("open")[seg]
    cust["_click"] = profile_array("click")[seg]
