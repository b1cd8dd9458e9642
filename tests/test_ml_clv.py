"""ml/clv.py: the BG/NBD and Gamma-Gamma likelihoods against their definitions, parameter recovery on data
simulated with the published CDNOW estimates (Fader, Hardie & Lee 2005: r = 0.243, alpha = 4.414,
a = 0.793, b = 2.426 in weeks; Gamma-Gamma p = 6.25, q = 3.74, gamma = 15.44), and predicted against
realised hold-out purchases, in total and by decile of the prediction."""

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from ml.clv import (
    BgNbdParams,
    GammaGammaParams,
    bgnbd_log_likelihood,
    customer_lifetime_value,
    expected_purchases,
    fit_bgnbd,
    fit_gamma_gamma,
    gamma_gamma_log_likelihood,
    probability_alive,
    simulate_bgnbd,
    summary_frame,
)

CDNOW = BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
CDNOW_GG = GammaGammaParams(p=6.25, q=3.74, gamma=15.44)


@pytest.fixture(scope="module")
def customers() -> pd.DataFrame:
    """20 000 customers who made their first purchase in a 12-week window, observed to week 39, with a
    39-week hold-out (the CDNOW design)."""
    T = np.random.default_rng(7).uniform(27, 39, 20_000)
    return simulate_bgnbd(CDNOW, 20_000, T, seed=11, holdout=39.0)


@pytest.mark.parametrize("x, t_x, T", [(0, 0.0, 30.0), (1, 12.5, 30.0), (4, 28.0, 38.0)])
def test_bgnbd_likelihood_is_the_mixture_of_the_individual_likelihood(x, t_x, T):
    """Equation (6) equals the individual likelihood integrated over Gamma(r, alpha) x Beta(a, b)."""
    # the individual likelihood (1-p)^x lam^x e^(-lam T) + [x > 0] p (1-p)^(x-1) lam^x e^(-lam t_x)
    # factorises in p and lam: each term is a product of two one-dimensional integrals
    def over_p(f):
        return integrate.quad(lambda p: f(p) * stats.beta.pdf(p, CDNOW.a, CDNOW.b), 0, 1, limit=200)[0]

    def over_lam(t):
        density = stats.gamma(CDNOW.r, scale=1 / CDNOW.alpha).pdf
        return integrate.quad(lambda lam: lam ** x * np.exp(-lam * t) * density(lam), 0, np.inf, limit=200)[0]

    numeric = over_p(lambda p: (1 - p) ** x) * over_lam(T)
    if x > 0:
        numeric += over_p(lambda p: p * (1 - p) ** (x - 1)) * over_lam(t_x)
    closed = np.exp(bgnbd_log_likelihood(CDNOW, [x], [t_x], [T]))[0]
    assert closed == pytest.approx(numeric, rel=1e-4)


def test_gamma_gamma_likelihood_is_the_mixture_of_gamma_values():
    """The mean m of x values z ~ Gamma(p, nu) is Gamma(p x, nu x); nu ~ Gamma(q, gamma): integrate."""
    x, m = 3, 42.0
    p, q, g = CDNOW_GG.p, CDNOW_GG.q, CDNOW_GG.gamma

    def joint(nu):
        return stats.gamma.pdf(m, p * x, scale=1 / (nu * x)) * stats.gamma.pdf(nu, q, scale=1 / g)

    numeric, _ = integrate.quad(joint, 0, 5, epsabs=1e-14, limit=200)
    closed = np.exp(gamma_gamma_log_likelihood(CDNOW_GG, [x], [m]))[0]
    assert closed == pytest.approx(numeric, rel=1e-6)


def test_bgnbd_recovers_the_published_parameters(customers):
    fitted = fit_bgnbd(customers)
    assert fitted.r == pytest.approx(CDNOW.r, rel=0.10)
    assert fitted.alpha == pytest.approx(CDNOW.alpha, rel=0.15)
    assert fitted.a == pytest.approx(CDNOW.a, rel=0.30)
    assert fitted.b == pytest.approx(CDNOW.b, rel=0.35)
    # the maximum: the published parameters fit the simulated data no better than the estimate
    ll = lambda params: bgnbd_log_likelihood(params, customers.frequency, customers.recency, customers["T"]).sum()  # noqa: E731
    assert ll(fitted) >= ll(CDNOW)


def test_predicted_hold_out_purchases_match_the_realised_ones_by_decile(customers):
    fitted = fit_bgnbd(customers)
    predicted = expected_purchases(fitted, 39.0, customers.frequency, customers.recency, customers["T"])
    realised = customers.holdout_purchases.to_numpy()
    assert predicted.sum() == pytest.approx(realised.sum(), rel=0.05)
    deciles = pd.qcut(pd.Series(predicted).rank(method="first"), 10, labels=False)
    by_decile = pd.DataFrame({"predicted": predicted, "realised": realised, "decile": deciles}).groupby("decile").mean()
    top = by_decile.iloc[-3:]  # where the purchases are
    assert np.allclose(top.predicted, top.realised, rtol=0.12), by_decile
    assert np.all(np.abs(by_decile.predicted - by_decile.realised) < 0.12 + 0.12 * by_decile.realised), by_decile
    assert by_decile.realised.is_monotonic_increasing or by_decile.realised.iloc[-1] > 5 * by_decile.realised.iloc[0]


def test_probability_alive_is_one_without_repeat_and_falls_with_silence():
    params = CDNOW
    assert probability_alive(params, [0], [0.0], [30.0])[0] == 1.0
    p = probability_alive(params, [3, 3, 3], [29.0, 20.0, 5.0], [30.0, 30.0, 30.0])
    assert 1 > p[0] > p[1] > p[2] > 0


def test_gamma_gamma_recovers_the_published_parameters_and_value():
    rng = np.random.default_rng(5)
    n = 20_000
    nu = rng.gamma(CDNOW_GG.q, 1 / CDNOW_GG.gamma, n)
    x = rng.integers(1, 8, n)
    m = np.array([rng.gamma(CDNOW_GG.p, 1 / nu[i], x[i]).mean() for i in range(n)])
    summary = pd.DataFrame({"frequency": x, "recency": 1.0, "T": 2.0, "monetary_value": m})
    fitted = fit_gamma_gamma(summary)
    # p and q/gamma are weakly identified separately; the population mean value p gamma / (q - 1) is not
    assert fitted.p == pytest.approx(CDNOW_GG.p, rel=0.15)
    mean_value = lambda g: g.p * g.gamma / (g.q - 1)  # noqa: E731
    assert mean_value(fitted) == pytest.approx(mean_value(CDNOW_GG), rel=0.05)
    value = customer_lifetime_value(summary, CDNOW, fitted, 52.0)
    true_mean = CDNOW_GG.p / nu  # a customer's true mean spend per purchase (nu is a rate)
    assert stats.spearmanr(value.expected_value_per_purchase, true_mean).statistic > 0.9
    # shrinkage: the estimate lies between the customer's own mean and the population mean
    population = mean_value(fitted)
    between = (np.minimum(m, population) - 1e-9 <= value.expected_value_per_purchase) & (
        value.expected_value_per_purchase <= np.maximum(m, population) + 1e-9)
    assert between.all()


def test_summary_frame_counts_purchase_days_after_the_first():
    purchases = pd.DataFrame({
        "customer_id": ["A", "A", "A", "A", "B", "C"],
        "purchase_date": ["2025-01-01", "2025-01-01", "2025-01-15", "2025-02-12", "2025-02-01", "2025-04-01"],
        "net_amount": [10.0, 5.0, 20.0, 40.0, 7.0, 1.0],
    })
    s = summary_frame(purchases, pd.Timestamp("2025-03-12"), time_unit_days=7.0)
    assert list(s.index) == ["A", "B"]  # C bought after the end
    a = s.loc["A"]
    assert (a.frequency, a.recency, a["T"], a.monetary_value) == (2, 6.0, 10.0, 30.0)
    assert s.loc["B"].frequency == 0 and s.loc["B"].monetary_value == 0.0
