"""Synthetic frames with known truth, for tests, calibration and the scale benchmark.

Nothing here touches the warehouse; every function is deterministic in `random_state`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

COVARIATES = ["recency_days", "frequency", "monetary", "visits"]

#: archetypes for `simulate_customers`: order rate /month, basket, visits /month, likes, tickets, response, churned
_ARCHETYPES = np.array(
    [
        [1.20, 400.0, 6.0, 2.0, 0.10, 0.30, 0.0],  # high value frequent
        [0.40, 150.0, 2.0, 0.6, 0.05, 0.10, 0.0],  # steady
        [0.35, 120.0, 6.0, 0.4, 0.40, 0.05, 0.0],  # service-heavy browsers
        [0.30, 150.0, 1.0, 0.2, 0.10, 0.02, 1.0],  # dormant
    ]
)


def simulate_customers(n: int, random_state: int = 0, noise: float = 0.35) -> tuple[pd.DataFrame, np.ndarray]:
    """Customers from 4 behavioural archetypes with log-normal noise.

    Returns (features, truth): features indexed by `customer_id` (int) with recency_days, frequency,
    monetary, visits, likes, tickets, campaign_response_rate; truth = archetype code 0..3 per row.
    """
    rng = np.random.default_rng(random_state)
    seg = rng.choice(4, size=n, p=[0.15, 0.35, 0.2, 0.3])
    a = _ARCHETYPES[seg]
    months = 12.0

    def ln():
        return rng.lognormal(-noise**2 / 2, noise, n)

    active = np.where(a[:, 6] == 1, rng.uniform(0.1, 0.4, n), 1.0) * months
    freq = rng.poisson(a[:, 0] * ln() * active)
    monetary = freq * a[:, 1] * ln()
    gap = 30.0 / np.maximum(a[:, 0] * ln(), 1e-3)
    recency = np.where(a[:, 6] == 1, (months - active) * 30 + rng.exponential(20, n), rng.exponential(gap))
    recency = np.where(freq > 0, np.minimum(recency, 365), 365).round()
    feats = pd.DataFrame(
        {
            "recency_days": recency,
            "frequency": freq.astype(float),
            "monetary": monetary.round(2),
            "visits": rng.poisson(a[:, 2] * ln() * 3).astype(float),
            "likes": rng.poisson(a[:, 3] * ln() * 3).astype(float),
            "tickets": rng.poisson(a[:, 4] * ln() * 6).astype(float),
            "campaign_response_rate": np.clip(a[:, 5] * ln(), 0, 1),
        },
        index=pd.Index(np.arange(n, dtype=np.int64), name="customer_id"),
    )
    return feats, seg


def _covariates(rng: np.random.Generator, u: np.ndarray) -> pd.DataFrame:
    """Pre-period covariates driven by a latent engagement u in (0, 1)."""
    n = len(u)
    rate = 0.2 + 1.6 * u
    freq = rng.poisson(rate * 6)
    return pd.DataFrame(
        {
            "recency_days": np.minimum(rng.exponential(40 / rate), 365).round(),
            "frequency": freq.astype(float),
            "monetary": (freq * rng.lognormal(np.log(120), 0.4, n)).round(2),
            "visits": rng.poisson(2 + 10 * u).astype(float),
        }
    )


def simulate_randomised(n: int, random_state: int = 0, p_treat: float = 0.6, effect: float = 0.04,
                        campaign_id: int = 1) -> tuple[pd.DataFrame, dict[str, float]]:
    """One randomised campaign with a heterogeneous effect whose population ATE is known exactly.

    Latent u ~ U(0,1); baseline conversion p0 = 0.08 + 0.24 u; effect τ(u) = effect + 0.06 (u − ½)
    (mean exactly `effect`); revenue = conversion × order value (log-normal, mean 150).
    Returns (members, truth): members has campaign_id, customer_id, treated, conversion, revenue and the
    `COVARIATES`; truth = {"conversion": ATE, "revenue": ATE × 150}.
    """
    rng = np.random.default_rng(random_state)
    u = rng.random(n)
    X = _covariates(rng, u)
    t = (rng.random(n) < p_treat).astype(np.int64)
    p = 0.08 + 0.24 * u + t * (effect + 0.06 * (u - 0.5))
    conv = (rng.random(n) < p).astype(float)
    value = rng.lognormal(np.log(150) - 0.5**2 / 2, 0.5, n)
    members = pd.DataFrame({"campaign_id": campaign_id, "customer_id": np.arange(n), "treated": t,
                            "conversion": conv, "revenue": (conv * value).round(2)})
    return pd.concat([members, X], axis=1), {"conversion": effect, "revenue": effect * 150.0}


def _targeted_parts(rng: np.random.Generator, n: int, strength: float):
    u = rng.random(n)
    X = _covariates(rng, u)
    z = np.log1p(X.to_numpy())
    z = (z - np.array([3.5, 1.5, 5.5, 1.9])) / np.array([1.0, 0.8, 1.5, 0.5])
    # win-back style targeting: long recency, high past spend (observable only)
    e = 1 / (1 + np.exp(-(-1.0 + strength * (1.0 * z[:, 0] + 0.6 * z[:, 2]))))
    p0 = 0.05 + 0.3 / (1 + np.exp(-(0.8 * z[:, 1] - 1.5 * z[:, 0] + 0.3 * z[:, 3])))
    tau = 0.03 + 0.02 * np.tanh(z[:, 3])
    return X, e, p0, tau


def true_att_targeted(strength: float = 1.0, n_mc: int = 2_000_000, random_state: int = 12345) -> float:
    """Population ATT E[e(X) τ(X)] / E[e(X)] of `simulate_targeted` by Monte Carlo (deterministic)."""
    _, e, _, tau = _targeted_parts(np.random.default_rng(random_state), n_mc, strength)
    return float(np.sum(e * tau) / np.sum(e))


def simulate_targeted(n: int, random_state: int = 0, strength: float = 1.0,
                      campaign_id: int = 1) -> pd.DataFrame:
    """A targeted campaign without control: selection depends on observed covariates that also drive
    the outcome (confounding), effect heterogeneous; the truth is `true_att_targeted(strength)`.

    Returns a frame: campaign_id, customer_id, treated (1 targeted, 0 eligible non-targeted),
    conversion and the `COVARIATES`.
    """
    rng = np.random.default_rng(random_state)
    X, e, p0, tau = _targeted_parts(rng, n, strength)
    t = (rng.random(n) < e).astype(np.int64)
    conv = (rng.random(n) < p0 + t * tau).astype(float)
    return pd.concat([pd.DataFrame({"campaign_id": campaign_id, "customer_id": np.arange(n), "treated": t,
                                    "conversion": conv}), X], axis=1)


def simulate_uplift(n: int, random_state: int = 0, p_treat: float = 0.5, campaign_id: int = 1) -> pd.DataFrame:
    """A randomised campaign with a strongly heterogeneous effect (some members respond, some do not,
    some are put off). Returns campaign_id, customer_id, treated, conversion, true_effect, `COVARIATES`.
    """
    rng = np.random.default_rng(random_state)
    u = rng.random(n)
    X = _covariates(rng, u)
    v = np.log1p(X["visits"].to_numpy())
    r = np.log1p(X["recency_days"].to_numpy())
    p0 = 0.05 + 0.3 * u
    tau = 0.16 / (1 + np.exp(-3 * (v - 1.9))) - 0.05 * (r > 4.0) - 0.02
    tau = np.clip(p0 + tau, 0.0, 1.0) - p0
    t = (rng.random(n) < p_treat).astype(np.int64)
    conv = (rng.random(n) < p0 + t * tau).astype(float)
    return pd.concat([pd.DataFrame({"campaign_id": campaign_id, "customer_id": np.arange(n), "treated": t,
                                    "conversion": conv, "true_effect": tau}), X], axis=1)


REGIONS = ("north", "south", "east", "west", "island")
_REGION_BASE = np.array([0.04, 0.10, 0.30, 0.50, 0.20])  # baseline conversion by region: strongly prognostic
_REGION_P = np.array([0.3, 0.25, 0.2, 0.2, 0.05])


def simulate_randomised_categorical(n: int, random_state: int = 0, p_treat: float = 0.5,
                                    effect: float = 0.05, campaign_id: int = 1) -> tuple[pd.DataFrame, float]:
    """A randomised campaign whose baseline conversion depends mostly on a categorical `region` (plus a
    latent engagement seen through the numeric `COVARIATES`); a constant effect `effect` (the true ATE).

    Returns (members, ATE): members has campaign_id, customer_id, treated, conversion, the `COVARIATES`,
    `region` (one of `REGIONS`, strings) and `channel` (an irrelevant categorical with a rare level).
    """
    rng = np.random.default_rng(random_state)
    u = rng.random(n)
    X = _covariates(rng, u)
    region = rng.choice(len(REGIONS), size=n, p=_REGION_P)
    channel = rng.choice(np.array(["email", "sms", "fax"]), size=n, p=[0.6, 0.397, 0.003])
    t = (rng.random(n) < p_treat).astype(np.int64)
    p = _REGION_BASE[region] + 0.05 * u + t * effect
    conv = (rng.random(n) < p).astype(float)
    members = pd.DataFrame({"campaign_id": campaign_id, "customer_id": np.arange(n), "treated": t,
                            "conversion": conv})
    members = pd.concat([members, X], axis=1)
    members["region"] = np.array(REGIONS, dtype=object)[region]
    members["channel"] = channel.astype(object)
    return members, effect
