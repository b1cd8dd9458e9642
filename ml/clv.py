"""Customer lifetime value: BG/NBD (purchase count and P(alive)) + Gamma-Gamma (spend per purchase).

The likelihoods are the published ones, implemented with scipy (the `lifetimes` package that made them
popular is unmaintained; its maintained successors pull in PyMC):

- BG/NBD: Fader, Hardie & Lee (2005), "Counting your customers the easy way", Marketing Science 24(2),
  equations (6) (likelihood), (10) (expected purchases in (T, T + t]) and P(alive) (Fader, Hardie & Lee,
  "Computing P(alive) using the BG/NBD model", 2008). While alive, a customer buys as a Poisson process
  with rate lambda ~ Gamma(r, alpha); after each repeat purchase they drop out with probability
  p ~ Beta(a, b).
- Gamma-Gamma: Fader, Hardie & Lee (2005), "RFM and CLV: using iso-value curves", JMR 42(4), and Fader &
  Hardie, "The Gamma-Gamma model of monetary value" (2013), equation (1) (the likelihood of the mean of x
  transaction values) and (5) (E[M | p, q, gamma, m_x, x]). Assumes spend is independent of frequency.

Inputs per customer (`summary_frame`): `frequency` = repeat purchases (purchase days after the first),
`recency` = time from the first to the last purchase, `T` = time from the first purchase to the end of the
observation period (all in `time_unit_days` units), `monetary_value` = mean net value of the repeat
purchases (0 without one). Customers without a purchase are not in the frame (no first purchase, no clock).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, special

#: columns of the per-customer summary the models read
SUMMARY_COLUMNS = ("frequency", "recency", "T", "monetary_value")


@dataclass(frozen=True)
class BgNbdParams:
    r: float
    alpha: float
    a: float
    b: float


@dataclass(frozen=True)
class GammaGammaParams:
    p: float
    q: float
    gamma: float


def summary_frame(purchases: pd.DataFrame, observation_end: pd.Timestamp, time_unit_days: float = 7.0,
                  customer_col: str = "customer_id", date_col: str = "purchase_date",
                  value_col: str = "net_amount") -> pd.DataFrame:
    """frequency / recency / T / monetary_value per customer from one row per purchase (several purchases on
    one day count as one, as in the papers' day-level data). Purchases after `observation_end` are ignored."""
    frame = purchases[[customer_col, date_col, value_col]].copy()
    frame[date_col] = pd.to_datetime(frame[date_col]).dt.normalize()
    frame = frame[frame[date_col] <= pd.Timestamp(observation_end)]
    days = frame.groupby([customer_col, date_col], sort=True)[value_col].sum().reset_index()
    first = days.groupby(customer_col)[date_col].transform("min")
    days["is_repeat"] = days[date_col] > first
    grouped = days.groupby(customer_col)
    unit = pd.Timedelta(days=time_unit_days)
    out = pd.DataFrame({
        "frequency": grouped["is_repeat"].sum().astype("int64"),
        "recency": (grouped[date_col].max() - grouped[date_col].min()) / unit,
        "T": (pd.Timestamp(observation_end).normalize() - grouped[date_col].min()) / unit,
    })
    repeat = days[days["is_repeat"]].groupby(customer_col)[value_col].mean()
    out["monetary_value"] = repeat.reindex(out.index).fillna(0.0).astype("float64")
    out.index.name = customer_col
    return out


# ------------------------------------------------------------------------------------------------------
# BG/NBD
# ------------------------------------------------------------------------------------------------------
def bgnbd_log_likelihood(params: BgNbdParams, frequency, recency, T) -> np.ndarray:
    """Per-customer log-likelihood, FHL (2005) equation (6), computed in logs for stability."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x, t_x, T = (np.asarray(v, dtype="float64") for v in (frequency, recency, T))
    log_a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    log_a2 = special.betaln(a, b + x) - special.betaln(a, b)
    log_a3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_a4 = np.where(x > 0, np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + t_x),
                          -np.inf)
    return log_a1 + log_a2 + np.logaddexp(log_a3, log_a4)


def _fit(negative_ll, n_params: int, start: np.ndarray | None = None) -> np.ndarray:
    """Minimise over log-parameters (all parameters are positive); Nelder-Mead polish after L-BFGS-B."""
    x0 = np.zeros(n_params) if start is None else np.log(start)
    first = optimize.minimize(negative_ll, x0, method="L-BFGS-B")
    best = optimize.minimize(negative_ll, first.x, method="Nelder-Mead",
                             options={"xatol": 1e-7, "fatol": 1e-9, "maxiter": 20_000})
    return np.exp(best.x if best.fun <= first.fun else first.x)


def fit_bgnbd(summary: pd.DataFrame, penalizer: float = 0.0) -> BgNbdParams:
    """Maximum-likelihood BG/NBD parameters for a summary frame; `penalizer` adds an L2 penalty on the
    parameters (0 = plain maximum likelihood, as in the paper)."""
    x, t_x, T = (summary[c].to_numpy("float64") for c in ("frequency", "recency", "T"))

    def negative_ll(log_params: np.ndarray) -> float:
        p = np.exp(log_params)
        ll = bgnbd_log_likelihood(BgNbdParams(*p), x, t_x, T).sum()
        return -(ll - penalizer * float(np.sum(p ** 2))) / len(x)

    return BgNbdParams(*(float(v) for v in _fit(negative_ll, 4, np.array([1.0, 1.0, 1.0, 1.0]))))


def _non_alive_odds(params: BgNbdParams, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """delta(x > 0) * a / (b + x - 1) * ((alpha + T) / (alpha + t_x))^(r + x): odds of having dropped out."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    with np.errstate(divide="ignore", invalid="ignore"):
        odds = a / (b + x - 1) * np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + t_x)))
    return np.where(x > 0, odds, 0.0)


def probability_alive(params: BgNbdParams, frequency, recency, T) -> np.ndarray:
    """P(still active at T | x, t_x, T)."""
    x, t_x, T = (np.asarray(v, dtype="float64") for v in (frequency, recency, T))
    return 1.0 / (1.0 + _non_alive_odds(params, x, t_x, T))


def expected_purchases(params: BgNbdParams, t: float, frequency, recency, T) -> np.ndarray:
    """E[purchases in (T, T + t] | x, t_x, T], FHL (2005) equation (10)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x, t_x, T = (np.asarray(v, dtype="float64") for v in (frequency, recency, T))
    hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
    numerator = (a + b + x - 1) / (a - 1) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp)
    return numerator / (1.0 + _non_alive_odds(params, x, t_x, T))


# ------------------------------------------------------------------------------------------------------
# Gamma-Gamma
# ------------------------------------------------------------------------------------------------------
def gamma_gamma_log_likelihood(params: GammaGammaParams, frequency, monetary_value) -> np.ndarray:
    """Per-customer log-likelihood of the mean value m of x purchases (x > 0), Fader & Hardie (2013) (1)."""
    p, q, g = params.p, params.q, params.gamma
    x, m = (np.asarray(v, dtype="float64") for v in (frequency, monetary_value))
    return (special.gammaln(p * x + q) - special.gammaln(p * x) - special.gammaln(q) + q * np.log(g)
            + (p * x - 1) * np.log(m) + p * x * np.log(x) - (p * x + q) * np.log(g + m * x))


def fit_gamma_gamma(summary: pd.DataFrame) -> GammaGammaParams:
    """Maximum-likelihood Gamma-Gamma parameters from the customers with repeat purchases of value > 0."""
    repeat = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
    if len(repeat) < 10:
        raise ValueError(f"Gamma-Gamma needs customers with repeat purchases: only {len(repeat)}")
    x, m = repeat["frequency"].to_numpy("float64"), repeat["monetary_value"].to_numpy("float64")

    def negative_ll(log_params: np.ndarray) -> float:
        return -gamma_gamma_log_likelihood(GammaGammaParams(*np.exp(log_params)), x, m).sum() / len(x)

    return GammaGammaParams(*(float(v) for v in _fit(negative_ll, 3, np.array([1.0, 1.0, float(np.mean(m))]))))


def expected_average_value(params: GammaGammaParams, frequency, monetary_value) -> np.ndarray:
    """E[value per purchase | x, m]: p (gamma + x m) / (p x + q - 1), the population mean p gamma / (q - 1)
    for a customer without a repeat purchase."""
    p, q, g = params.p, params.q, params.gamma
    x, m = (np.asarray(v, dtype="float64") for v in (frequency, monetary_value))
    return p * (g + x * m) / (p * x + q - 1)


# ------------------------------------------------------------------------------------------------------
# per-customer value
# ------------------------------------------------------------------------------------------------------
def customer_lifetime_value(summary: pd.DataFrame, bgnbd: BgNbdParams, gamma_gamma: GammaGammaParams,
                            horizon: float) -> pd.DataFrame:
    """Per customer: probability_alive, expected_purchases over `horizon` time units after T, expected
    value per purchase and expected_value = expected_purchases * expected value per purchase (undiscounted)."""
    x, t_x, T, m = (summary[c].to_numpy("float64") for c in SUMMARY_COLUMNS)
    purchases = expected_purchases(bgnbd, horizon, x, t_x, T)
    per_purchase = expected_average_value(gamma_gamma, x, m)
    return pd.DataFrame({
        "probability_alive": probability_alive(bgnbd, x, t_x, T),
        "expected_purchases": purchases,
        "expected_value_per_purchase": per_purchase,
        "expected_value": purchases * per_purchase,
    }, index=summary.index)


def simulate_bgnbd(params: BgNbdParams, n_customers: int, T: float | np.ndarray, seed: int,
                   holdout: float = 0.0) -> pd.DataFrame:
    """Customers drawn from the BG/NBD story (for tests and calibration): frequency / recency / T in the
    calibration period and `holdout_purchases` in (T, T + holdout]."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(params.r, 1.0 / params.alpha, n_customers)
    drop = rng.beta(params.a, params.b, n_customers)
    ends = np.broadcast_to(np.asarray(T, dtype="float64"), (n_customers,))
    rows = []
    for i in range(n_customers):
        t, alive, times = 0.0, True, []
        while alive:
            t += rng.exponential(1.0 / lam[i])
            if t > ends[i] + holdout:
                break
            times.append(t)
            alive = rng.random() >= drop[i]
        calibration = [s for s in times if s <= ends[i]]
        rows.append((len(calibration), calibration[-1] if calibration else 0.0, ends[i],
                     len(times) - len(calibration)))
    return pd.DataFrame(rows, columns=["frequency", "recency", "T", "holdout_purchases"])
