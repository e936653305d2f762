"""vdlib.analysis.irreversibility: calibration (reversible OU rejects at the nominal rate), power
(weakly irreversible OU is detected), exact sign flip under time reversal, the entropy-production
bound against its closed form, the stationarity warning, and bad input.

The processes are exact discretisations of 2- and 3-D Ornstein–Uhlenbeck processes, i.e. AR(1)
chains x' = A x + ξ, ξ ~ N(0, Q), started in their stationary law. With A symmetric and Q
isotropic the chain is reversible (A Σ is symmetric); a rotation in A breaks detailed balance.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import linalg, stats

from vdlib.analysis import (
    NonStationaryWarning,
    entropy_production_bound,
    irreversibility_test,
    stationarity_check,
)
from vdlib.analysis.irreversibility import _pair_kl

ALPHA = 0.05


def rotation(angle):
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s], [s, c]])


def reversible_A(k=2):
    """Symmetric, eigenvalues 0.9 … 0.7 (correlation times 10 and 3 steps), rotated off the axes."""
    eig = np.linspace(0.9, 0.7, k)
    Qr, _ = np.linalg.qr(np.random.default_rng(123).standard_normal((k, k)))
    return Qr @ np.diag(eig) @ Qr.T


def irreversible_A(omega):
    """exp(−B) for B = [[0.1, −ω], [ω, 0.3]]: a weak rotation on top of reversible relaxation."""
    return linalg.expm(-np.array([[0.1, -omega], [omega, 0.3]]))


def simulate(A, chains, T, rng, q=1.0):
    k = A.shape[0]
    Q = q * np.eye(k)
    Sigma = linalg.solve_discrete_lyapunov(A, Q)
    x = rng.multivariate_normal(np.zeros(k), Sigma, size=chains)
    out = np.empty((chains, T, k))
    noise = rng.standard_normal((T, chains, k)) * np.sqrt(q)
    for t in range(T):
        out[:, t] = x
        x = x @ A.T + noise[t]
    return out


def p_values(A, replicates, chains, T, seed, **kw):
    X = simulate(A, replicates * chains, T, np.random.default_rng(seed))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NonStationaryWarning)
        return np.array([irreversibility_test(X[r * chains:(r + 1) * chains], **kw).p_value for r in range(replicates)])


@pytest.mark.parametrize("k, chains, T", [(2, 4, 2000), (3, 4, 2000), (2, 1, 8000)])
def test_calibrated_on_reversible_ou(k, chains, T):
    p = p_values(reversible_A(k), replicates=300, chains=chains, T=T, seed=k * 10 + chains)
    rate = float((p < ALPHA).mean())
    # 300 replicates: binomial sd of the rate at 0.05 is 0.0126; the band is about ±3 sd
    assert 0.015 <= rate <= 0.09, f"rejection rate {rate:.3f} at nominal {ALPHA} (k={k}, chains={chains}, T={T})"
    assert stats.kstest(p, "uniform").pvalue > 1e-3, "p-values are not uniform under the null"


def test_power_against_weak_irreversibility():
    A = irreversible_A(omega=0.03)
    X = simulate(A, 4, 2000, np.random.default_rng(7))
    res = irreversibility_test(X)
    Sigma = linalg.solve_discrete_lyapunov(A, np.eye(2))
    true_a12 = 0.5 * (Sigma @ A.T - A @ Sigma)[0, 1]
    assert abs(res.asym[0, 1] - true_a12) < 4 * res.se[0, 1]
    p = p_values(A, replicates=100, chains=4, T=2000, seed=8)
    assert (p < ALPHA).mean() >= 0.8, f"power {(p < ALPHA).mean():.2f} against ω = 0.03"


def test_time_reversal_flips_the_sign_exactly():
    X = simulate(irreversible_A(0.05), 3, 2000, np.random.default_rng(1))
    fwd, bwd = irreversibility_test(X, blocks=5), irreversibility_test(X[:, ::-1], blocks=5)
    np.testing.assert_allclose(bwd.asym, -fwd.asym, atol=1e-12)
    np.testing.assert_allclose(bwd.per_chain, -fwd.per_chain, atol=1e-12)
    assert bwd.p_value == pytest.approx(fwd.p_value, rel=1e-9)
    assert np.allclose(fwd.asym, -fwd.asym.T)


def test_pooled_asymmetry_matches_plain_estimator_for_one_chain():
    from vdlib.analysis.trajectory import time_reversal_asymmetry

    X = simulate(irreversible_A(0.05), 1, 3000, np.random.default_rng(2))[0]
    np.testing.assert_allclose(irreversibility_test(X, lag=3).asym, time_reversal_asymmetry(X, 3), atol=1e-12)


def test_entropy_production_against_closed_form():
    A = irreversible_A(0.1)
    Sigma = linalg.solve_discrete_lyapunov(A, np.eye(2))
    exact = _pair_kl(Sigma, Sigma @ A.T)  # full state, lag 1: the per-step entropy production
    ep = entropy_production_bound(simulate(A, 4, 50_000, np.random.default_rng(3)), blocks=10)
    assert ep.ci[0] <= exact <= ep.ci[1], f"{ep} does not cover the exact {exact:.4g}"
    assert abs(ep.rate - exact) < 0.15 * exact


def test_entropy_production_vanishes_for_reversible():
    ep = entropy_production_bound(simulate(reversible_A(), 4, 20_000, np.random.default_rng(4)))
    assert ep.ci[0] <= 0.0 <= ep.ci[1] or ep.rate < 1e-4
    assert abs(ep.rate) < 1e-3


def test_exact_pair_kl_is_zero_iff_reversible():
    A = reversible_A()
    Sigma = linalg.solve_discrete_lyapunov(A, np.eye(2))
    assert abs(_pair_kl(Sigma, Sigma @ A.T)) < 1e-12
    assert _pair_kl(Sigma, Sigma @ irreversible_A(0.1).T) > 0


def test_trend_warns_and_stationary_does_not():
    X = simulate(reversible_A(), 4, 2000, np.random.default_rng(5))
    with warnings.catch_warnings():
        warnings.simplefilter("error", NonStationaryWarning)
        res = irreversibility_test(X)
    assert res.stationarity is not None and res.stationarity.stationary
    drift = X + np.linspace(0, 3, 2000)[None, :, None] * np.array([1.0, 0.0])
    with pytest.warns(NonStationaryWarning, match="TREND DETECTED"):
        irreversibility_test(drift)
    check = stationarity_check(drift)
    assert not check.stationary and check.half_difference[0] > 0.5


def test_trend_test_is_calibrated():
    X = simulate(reversible_A(), 300 * 4, 2000, np.random.default_rng(6))
    p = np.array([stationarity_check(X[r * 4:(r + 1) * 4]).p_min for r in range(300)])
    assert (p < 0.01).mean() <= 0.04, f"trend test rejects a stationary OU {(p < 0.01).mean():.3f} of the time at 0.01"


@pytest.mark.parametrize("X, kwargs, match", [
    (np.zeros((100, 1)), {}, "k ≥ 2"),
    (np.zeros((2, 3, 4, 5)), {}, "shape"),
    (np.ones((100, 2)), {}, "constant"),
    (np.r_[np.zeros((50, 2)), [[np.nan, 0]]], {}, "NaN"),
    (np.random.default_rng(0).standard_normal((100, 2)), {"blocks": 20}, "too short"),
    (np.random.default_rng(0).standard_normal((100, 2)), {"lag": 0}, "positive integer"),
    (np.random.default_rng(0).standard_normal((100, 2)), {"lag": 100}, "not shorter"),
    (np.random.default_rng(0).standard_normal((1, 400, 5)), {"blocks": 5}, "cannot test"),
    (np.random.default_rng(0).standard_normal((100, 2)), {"blocks": 0}, "positive integer"),
])
def test_bad_input_is_refused_with_a_fix(X, kwargs, match):
    with pytest.raises(ValueError, match=match):
        irreversibility_test(X, **kwargs)


def test_bad_input_entropy_production():
    with pytest.raises(ValueError, match="level"):
        entropy_production_bound(np.random.default_rng(0).standard_normal((400, 2)), level=1.5)
    with pytest.raises(ValueError, match="k ≥ 2"):
        entropy_production_bound(np.zeros((400, 1)))
