"""vdlib.analysis.trajectory: statistics of long trajectories, checked against processes with known answers."""
import numpy as np
import pytest

from vdlib.analysis import trajectory as tj
from vdlib.theory import linear


def _ar1_chains(M, S_chol, n_chains, T, seed, burn=200):
    """x_{t+1} = M x_t + L z (independent chains started from 0, burn-in dropped)."""
    rng = np.random.default_rng(seed)
    k = M.shape[0]
    x = np.zeros((n_chains, k))
    out = np.empty((n_chains, T, k))
    for t in range(burn + T):
        x = x @ M.T + rng.standard_normal((n_chains, k)) @ S_chol.T
        if t >= burn:
            out[:, t - burn] = x
    return out


M_ROT = np.array([[0.9, -0.15], [0.1, 0.8]])          # non-normal drift: detailed balance broken
M_SYM = np.array([[0.9, 0.05], [0.05, 0.8]])          # symmetric drift + isotropic noise: reversible


def _exact_asymmetry(M, S, lag):
    Sigma = linear.solve_lyapunov(M, S, kind="discrete")
    C = Sigma @ np.linalg.matrix_power(M, lag).T       # C(τ) = E[x_t x_{t+τ}ᵀ] = Σ (M^τ)ᵀ
    return 0.5 * (C - C.T)


@pytest.mark.parametrize("lag", [1, 3])
def test_asymmetry_matches_the_exact_ar1_value(lag):
    L = np.array([[0.3, 0.0], [0.1, 0.2]])
    X = _ar1_chains(M_ROT, L, n_chains=200, T=2000, seed=lag)
    est = np.array([tj.time_reversal_asymmetry(x, lag)[0, 1] for x in X])
    exact = _exact_asymmetry(M_ROT, L @ L.T, lag)[0, 1]
    se = est.std(ddof=1) / np.sqrt(len(est))
    assert abs(est.mean() - exact) < 4 * se + 0.01 * abs(exact), (est.mean(), exact, se)
    assert abs(exact) > 10 * se  # the test has power to see the asymmetry


def test_asymmetry_vanishes_for_a_reversible_process():
    X = _ar1_chains(M_SYM, 0.3 * np.eye(2), n_chains=200, T=2000, seed=7)
    est = np.array([tj.time_reversal_asymmetry(x, 2)[0, 1] for x in X])
    se = est.std(ddof=1) / np.sqrt(len(est))
    assert abs(est.mean()) < 4 * se
    A = tj.time_reversal_asymmetry(X[0], 2)
    assert np.allclose(A, -A.T) and np.allclose(np.diag(A), 0)


def test_area_rate_sign_and_value_on_a_circle():
    w, dt = 0.1, 0.5
    t = np.arange(4000) * dt
    Y = np.c_[np.cos(w * t), np.sin(w * t)]              # counter-clockwise
    est = tj.area_rate(Y, dt=dt)
    # mean of (y1_t y2_{t+1} − y2_t y1_{t+1}) / dt = sin(w dt) / dt on the unit circle
    assert est.mean == pytest.approx(np.sin(w * dt) / dt, rel=2e-3)
    assert tj.area_rate(Y[:, ::-1], dt=dt).mean == pytest.approx(-est.mean, rel=1e-12)


def test_area_rate_with_chains_and_a_projection_basis():
    L = np.array([[0.3, 0.0], [0.1, 0.2]])
    X2 = _ar1_chains(M_ROT, L, n_chains=100, T=1500, seed=3)
    Q = np.linalg.qr(np.random.default_rng(0).standard_normal((5, 5)))[0]
    X5 = np.concatenate([X2, np.zeros((100, 1500, 3))], axis=2) @ Q.T   # embed in 5-D, rotate
    direct = tj.area_rate(X2)
    projected = tj.area_rate(X5, basis=Q[:, :2])
    assert np.allclose(direct.per_chain, projected.per_chain)
    exact = 2 * _exact_asymmetry(M_ROT, L @ L.T, 1)[0, 1]
    assert abs(direct.mean - exact) < 4 * direct.se + 0.01 * abs(exact)


def test_increment_spectrum_is_flat_for_a_random_walk_and_not_for_a_confined_process():
    rng = np.random.default_rng(1)
    s = 0.3
    walk = np.cumsum(s * rng.standard_normal((8192, 40)), axis=0)
    spec = tj.increment_spectrum(walk)
    inner = slice(1, -1)                                  # zero frequency and Nyquist are real-valued bins
    assert np.mean(spec.mean[inner] ** 2) == pytest.approx(s**2 * np.pi / 4, rel=0.03)
    lo, hi = spec.mean[1:200].mean(), spec.mean[-200:].mean()
    assert lo / hi == pytest.approx(1.0, abs=0.06)
    # a confined (OU-like) process: increments of a stationary AR(1) are suppressed at low frequency
    x = np.zeros(40)
    ou = np.empty((8192, 40))
    for t in range(8192):
        x = 0.95 * x + s * rng.standard_normal(40)
        ou[t] = x
    spec_ou = tj.increment_spectrum(ou)
    # E A²(ω) = s² |1 − e^{−iω}|² / |1 − 0.95 e^{−iω}|² ≈ 0.02 s² over the lowest ten bins; the
    # unwindowed periodogram leaks some power into them, so only the order of magnitude is tested
    assert spec_ou.mean[1:11].mean() < 0.3 * spec_ou.mean[-200:].mean()
    assert len(tj.increment_spectrum(walk, n_bins=100).freq) == 100


def test_autocorrelation_matches_the_direct_sum_and_white_noise_stays_in_the_band():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((3000, 20))
    ac = tj.autocorrelation(X, lags=[0, 1, 5, 50])
    Y = X - X.mean(axis=0)
    direct = np.array([[np.sum(Y[: 3000 - l, i] * Y[l:, i]) / np.sum(Y[:, i] ** 2) for i in range(20)]
                       for l in [0, 1, 5, 50]])
    assert np.allclose(ac.per_coordinate, direct, atol=1e-12)
    assert np.allclose(ac.mean[0], 1.0)
    assert np.mean(np.abs(ac.per_coordinate[1:]) < ac.band99) > 0.95
    assert ac.band95 == pytest.approx(1.96 / np.sqrt(3000), rel=1e-3)
    default = tj.autocorrelation(X[:, :2])
    assert len(default.lags) == 100 and default.lags[0] == 0


def test_ewma_matches_the_definition():
    rng = np.random.default_rng(3)
    x = rng.standard_normal(300)
    com = 10.0
    a = com / (1 + com)
    direct = np.array([np.sum(a ** np.arange(t, -1, -1) * x[: t + 1]) / np.sum(a ** np.arange(t + 1))
                       for t in range(300)])
    assert np.allclose(tj.ewma(x, com), direct)
    assert np.allclose(tj.ewma(x, 0.0), x)


def test_pca_recovers_the_long_axis():
    rng = np.random.default_rng(4)
    u = np.array([3.0, 4.0]) / 5.0
    X = rng.standard_normal((5000, 1)) * 3.0 * u + rng.standard_normal((5000, 2)) * 0.3
    p = tj.pca(X, 2)
    assert abs(p.components[0] @ u) > 0.999
    assert p.ratio[0] > 0.95 and p.ratio.sum() == pytest.approx(1.0)
    assert np.allclose(p.scores @ p.components + p.mean, X)


def _heavy_ball(n_chains, T, eta, mu, seed, start=0.0, burn=2000):
    rng = np.random.default_rng(seed)
    H = np.diag([1.0, 3.0])
    th = np.full((n_chains, 2), start)
    v = np.zeros((n_chains, 2))
    rec = {k: np.empty((n_chains, T, 2)) for k in ("theta", "grad", "dtheta")}
    for t in range(burn + T):
        grad = th @ H
        g = grad + 0.5 * rng.standard_normal((n_chains, 2))
        v = mu * v - eta * g
        new = th + v
        if t >= burn:
            i = t - burn
            rec["theta"][:, i], rec["grad"][:, i], rec["dtheta"][:, i] = th, grad, new - th
        th = new
    return rec


def test_fdr1_holds_at_stationarity_and_fails_in_a_transient():
    eta, mu = 0.05, 0.9
    r = _heavy_ball(100, 3000, eta, mu, seed=5)
    f = tj.fdr1(r["theta"], r["grad"], r["dtheta"], eta, mu)
    assert abs(f.lhs - f.rhs) < 4 * np.hypot(f.lhs_se, f.rhs_se), f
    assert f.ratio == pytest.approx(1.0, abs=0.05)
    # started far away and recorded from the start: not stationary, the relation fails
    r = _heavy_ball(100, 50, eta, mu, seed=6, start=5.0, burn=0)
    f = tj.fdr1(r["theta"], r["grad"], r["dtheta"], eta, mu)
    assert abs(f.lhs - f.rhs) > 10 * np.hypot(f.lhs_se, f.rhs_se)


@pytest.mark.parametrize(
    "call, err, match",
    [
        (lambda: tj.time_reversal_asymmetry(np.zeros((10, 2)), 10), ValueError, "lag=10 must be smaller"),
        (lambda: tj.time_reversal_asymmetry(np.zeros((1, 2)), 0), ValueError, "at least 2 time points"),
        (lambda: tj.time_reversal_asymmetry(np.zeros((10, 2)), 1.5), TypeError, "lag must be an integer"),
        (lambda: tj.time_reversal_asymmetry(np.zeros((2, 2, 2, 2)), 1), ValueError, "T×k array"),
        (lambda: tj.time_reversal_asymmetry(np.array([[0.0], [np.nan]]), 0), ValueError, "NaN"),
        (lambda: tj.autocorrelation(np.ones((10, 2))), ValueError, "constant"),
        (lambda: tj.area_rate(np.zeros((10, 3))), ValueError, "pass basis="),
        (lambda: tj.area_rate(np.zeros((10, 2)), dt=0), ValueError, "dt"),
        (lambda: tj.fdr1(np.zeros((5, 2)), np.zeros((5, 2)), np.zeros((5, 2)), eta=-0.1), ValueError, "eta > 0"),
        (lambda: tj.fdr1(np.zeros((5, 2)), np.zeros((5, 2)), np.zeros((5, 2)), eta=0.1, momentum=1.0), ValueError, "momentum"),
        (lambda: tj.fdr1(np.zeros((5, 2)), np.zeros((4, 2)), np.zeros((5, 2)), eta=0.1), ValueError, "same shape"),
        (lambda: tj.ewma([], 1.0), ValueError, "non-empty"),
        (lambda: tj.pca(np.zeros((10, 2)), 3), ValueError, "exceeds"),
    ],
)
def test_bad_input(call, err, match):
    with pytest.raises(err, match=match):
        call()
