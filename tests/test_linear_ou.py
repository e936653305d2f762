"""vdlib.theory.linear (Lemma 20): the decomposition H = (D + Q)U, area rates, and their input checks;
and the area rates that vdlib.theory.sgd.run_sgd_chains accumulates."""
import numpy as np
import pytest
import torch

from vdlib.theory import linear, sgd
from vdlib.theory.regression import LinearRegression, make_linear_regression


def _rot(theta):
    return np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])


def _random_spd(rng, d, low=0.5, high=4.0):
    Q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    return Q @ np.diag(rng.uniform(low, high, size=d)) @ Q.T


def _random_stable(rng, d):
    """A non-symmetric matrix with every eigenvalue in the right half-plane."""
    A = rng.normal(size=(d, d))
    return A + (np.max(np.abs(np.linalg.eigvals(A))) + 0.5) * np.eye(d)


H4 = np.diag([1.0, 4.0])
R30 = _rot(np.pi / 6)


def _check_decomposition(H, D, beta, dec):
    Sigma, U, Q = dec
    assert np.allclose(H @ Sigma + Sigma @ H.T, 2 / beta * D, atol=1e-12)
    assert np.allclose(U, U.T, atol=0) and np.allclose(Q, -Q.T, atol=0)
    assert np.linalg.eigvalsh(U).min() > 0
    assert np.allclose((D + Q) @ U, H, atol=1e-9)
    assert np.allclose(D + Q, beta * H @ Sigma, atol=1e-9)
    # Q solves its own Lyapunov-type equation, without Σ: HQ + QHᵀ = HD − DHᵀ
    assert np.allclose(H @ Q + Q @ H.T, H @ D - D @ H.T, atol=1e-9)


# ------------------------------------------------------------------ the decomposition
@pytest.mark.parametrize("d", [2, 3, 6])
@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("rank", ["full", "deficient"])
def test_decomposition_in_any_dimension(d, symmetric, rank):
    rng = np.random.default_rng(100 * d + 10 * symmetric + (rank == "deficient"))
    H = _random_spd(rng, d) if symmetric else _random_stable(rng, d)
    r = d if rank == "full" else max(1, d // 2)  # rank 1 for d = 2, 3; rank 3 for d = 6
    G = rng.normal(size=(d, r))
    D = G @ G.T + (0.1 * np.eye(d) if rank == "full" else 0.0)
    assert linear.is_controllable(H, D)  # a generic low-rank D: (H, D) controllable
    beta = 3.0
    dec = linear.ou_decomposition(H, D, beta)
    assert isinstance(dec, linear.OUDecomposition) and dec._fields == ("Sigma", "U", "Q")
    _check_decomposition(H, D, beta, dec)
    assert np.linalg.matrix_rank(D) == r and np.linalg.eigvalsh(dec.Sigma).min() > 0


def test_notes_reference_values_for_r3():
    """paper-notes Lemma 20 table: H = diag(1, 4), β = 2, D rotated by 30°."""
    for lam2, q21 in ((0.1, 0.2338), (0.0, 0.2598)):
        D = R30 @ np.diag([1.0, lam2]) @ R30.T
        dec = linear.ou_decomposition(H4, D, 2.0)
        assert abs(dec.Q[1, 0] - q21) < 5e-5
        assert linear.area_rate_theory(H4, D, 2.0) == pytest.approx(-2 * dec.Q[1, 0] / 2.0, rel=1e-12)


def test_detailed_balance_iff_commuting_and_phi_equals_f_iff_isotropic():
    rng = np.random.default_rng(5)
    d = 5
    lam, V = np.linalg.eigh(_random_spd(rng, d))
    H = V @ np.diag(lam) @ V.T
    D_comm = V @ np.diag(rng.uniform(0.2, 2.0, d)) @ V.T  # shares eigenvectors with H
    dec = linear.ou_decomposition(H, D_comm, 2.0)
    assert np.abs(dec.Q).max() < 1e-10
    assert np.allclose(dec.U, np.linalg.solve(D_comm, H))  # U = D⁻¹H ≠ H: equilibrium, Φ ≠ f
    assert not np.allclose(dec.U, H)
    dec_iso = linear.ou_decomposition(H, np.eye(d), 2.0)
    assert np.allclose(dec_iso.U, H) and np.abs(dec_iso.Q).max() < 1e-10
    D_non = _random_spd(rng, d)
    assert np.abs(linear.ou_decomposition(H, D_non, 2.0).Q).max() > 1e-2


def test_two_by_two_closed_form_Q_is_commutator_over_trace():
    rng = np.random.default_rng(9)
    for _ in range(5):
        H, D = _random_spd(rng, 2), _random_spd(rng, 2)
        Q = linear.ou_decomposition(H, D, 7.0).Q
        assert np.allclose(Q, (H @ D - D @ H) / np.trace(H))


def test_rank_one_sigma_determinant_matches_kalman_determinant():
    beta = 2.0
    for th in (0.2, np.pi / 6, 1.0):
        v = _rot(th)[:, 0]
        S = linear.ou_decomposition(H4, np.outer(v, v), beta).Sigma
        kal = np.linalg.det(np.column_stack([v, H4 @ v]))
        assert np.isclose(np.linalg.det(S), kal**2 / (beta**2 * np.trace(H4) ** 2 * np.linalg.det(H4)))


def test_controllability():
    assert linear.is_controllable(H4, R30 @ np.diag([1.0, 0.0]) @ R30.T)
    assert not linear.is_controllable(H4, np.diag([1.0, 0.0]))  # noise along an eigenvector of H
    assert not linear.is_controllable(np.eye(2), R30 @ np.diag([1.0, 0.0]) @ R30.T)  # isotropic H
    assert linear.is_controllable(np.eye(3), np.eye(3))
    assert not linear.is_controllable(np.eye(2), np.zeros((2, 2)))


# ------------------------------------------------------------------ errors that say what to change
@pytest.mark.parametrize(
    "H, D, beta, exc, match",
    [
        (np.diag([1.0, -1.0]), np.eye(2), 1.0, ValueError, "H is not stable.*strict minimum.*H \\+ λI"),
        (np.diag([1.0, 0.0]), np.eye(2), 1.0, ValueError, "H is not stable"),
        (np.array([[0.0, 1.0], [-1.0, 0.0]]), np.eye(2), 1.0, ValueError, "H is not stable"),  # a centre
        (H4, np.array([[1.0, 0.5], [0.0, 1.0]]), 1.0, ValueError, "D must be symmetric.*symmetrise"),
        (H4, np.diag([1.0, -0.1]), 1.0, ValueError, "positive semi-definite"),
        (H4, np.diag([1.0, 0.0]), 1.0, ValueError, r"not controllable.*v = \[0\. 1\.\].*add noise along v"),
        (H4, np.zeros((2, 2)), 1.0, ValueError, "D is zero"),
        (H4, np.eye(2), 0.0, ValueError, "beta .* must be positive"),
        (H4, np.eye(2), -2.0, ValueError, "beta .* must be positive"),
        (H4, np.eye(2), float("nan"), ValueError, "beta .* must be positive and finite"),
        (H4, np.eye(2), "2", TypeError, "beta .* must be a real number"),
        (H4, np.eye(3), 1.0, ValueError, "same d×d size"),
        (np.array([[1.0, np.nan], [0.0, 1.0]]), np.eye(2), 1.0, ValueError, "NaN or infinite"),
        (np.ones((2, 3)), np.eye(2), 1.0, ValueError, "H must be a square"),
    ],
)
def test_bad_input_to_the_decomposition(H, D, beta, exc, match):
    with pytest.raises(exc, match=match):
        linear.ou_decomposition(H, D, beta)


def test_no_silent_nan_near_an_uncontrollable_pair():
    # rotating a rank-one D towards an eigenvector of H: fine until Σ is numerically singular, then an error
    for th in (1e-2, 1e-4):
        D = np.outer(_rot(th)[:, 0], _rot(th)[:, 0])
        dec = linear.ou_decomposition(H4, D, 2.0)
        assert all(np.all(np.isfinite(m)) for m in dec)
    with pytest.raises(ValueError, match="not controllable"):
        linear.ou_decomposition(H4, np.outer(_rot(1e-7)[:, 0], _rot(1e-7)[:, 0]), 2.0)


# ------------------------------------------------------------------ area rates: theory
def test_area_rate_is_linear_in_eta_over_b_and_equals_commutator_formula():
    rng = np.random.default_rng(2)
    H, D = _random_spd(rng, 2), _random_spd(rng, 2)
    r = {(e, b): linear.sgd_area_rate(H, D, e, b) for e, b in ((0.02, 10), (0.04, 10), (0.02, 20))}
    assert r[(0.04, 10)] == pytest.approx(2 * r[(0.02, 10)], rel=1e-10)
    assert r[(0.02, 20)] == pytest.approx(0.5 * r[(0.02, 10)], rel=1e-10)
    comm = (H @ D - D @ H)[0, 1]
    assert r[(0.02, 10)] == pytest.approx(0.02 / 10 * comm / np.trace(H), rel=1e-10)


def test_discrete_area_rate_tends_to_continuous_at_first_order():
    rng = np.random.default_rng(4)
    H, D = _random_spd(rng, 2), _random_spd(rng, 2)
    gaps = []
    for eta in (0.04, 0.004):
        c = linear.sgd_area_rate(H, D, eta, 10)
        d = linear.sgd_area_rate(H, D, eta, 10, kind="discrete")
        gaps.append(abs(d / c - 1))
    assert 8 < gaps[0] / gaps[1] < 12


def test_area_rate_planes_and_errors():
    rng = np.random.default_rng(6)
    H, D = _random_spd(rng, 3), _random_spd(rng, 3)
    Q = linear.ou_decomposition(H, D, 2.0).Q
    for i, j in ((0, 1), (0, 2), (2, 1)):
        assert linear.area_rate_theory(H, D, 2.0, plane=(i, j)) == pytest.approx(2 * Q[i, j] / 2.0)
    with pytest.raises(ValueError, match="at least two coordinates"):
        linear.area_rate_theory(2.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="two different coordinate indices in 0..2"):
        linear.area_rate_theory(H, D, 2.0, plane=(1, 1))
    with pytest.raises(ValueError, match="two different coordinate indices"):
        linear.area_rate_theory(H, D, 2.0, plane=(0, 3))
    with pytest.raises(ValueError, match="kind must be 'continuous' or 'discrete'"):
        linear.sgd_area_rate(H, D, 0.01, 10, kind="exact")
    with pytest.raises(ValueError, match="H is not stable"):
        linear.area_rate_theory(-H, D, 2.0)


def test_area_rate_theory_needs_no_controllability():
    assert linear.area_rate_theory(H4, np.diag([1.0, 0.0]), 2.0) == 0.0


# ------------------------------------------------------------------ area rates: from paths
def test_trajectory_estimator_on_a_rotation_has_the_right_sign_and_value():
    k = np.arange(401)
    omega, dt = 0.05, 0.1
    radii = np.array([1.0, 2.0, 3.0])
    X = radii[:, None, None] * np.stack([np.cos(omega * k), np.sin(omega * k)], -1)[None]
    est = linear.area_rate_from_trajectory(X, dt=dt)
    per = radii**2 * np.sin(omega) / dt  # counter-clockwise: positive
    assert np.allclose(est.per_chain, per)
    assert est.rate == pytest.approx(per.mean())
    assert est.se == pytest.approx(per.std(ddof=1) / np.sqrt(3))
    assert est.n_chains == 3 and est.n_steps == 400
    cw = linear.area_rate_from_trajectory(X[..., ::-1], dt=dt)  # swapping the axes reverses the sense
    assert cw.rate == pytest.approx(-est.rate)
    single = linear.area_rate_from_trajectory(X[1] + 5.0, dt=dt, center=[5.0, 5.0])
    assert single.rate == pytest.approx(per[1]) and single.se == pytest.approx(0.0, abs=1e-12)
    assert single.n_chains == 1 and single.per_chain.shape == (20,)


@pytest.mark.parametrize(
    "X, kwargs, match",
    [
        (np.zeros(5), {}, r"shape \(T, d\) or \(chains, T, d\)"),
        (np.zeros((1, 2)), {}, "at least 2 time points"),
        (np.zeros((10, 1)), {}, "at least two coordinates"),
        (np.full((10, 2), np.nan), {}, "NaN or infinite"),
        (np.zeros((100, 2)), dict(dt=0.0), "dt .* positive finite"),
        (np.zeros((100, 2)), dict(center=[0.0]), r"center must have shape \(d,\) = \(2,\)"),
        (np.zeros((30, 2)), {}, "too short for 20 batch means"),
        (np.zeros((1, 30, 2)), {}, "at least 2 independent chains"),
    ],
)
def test_trajectory_estimator_errors(X, kwargs, match):
    with pytest.raises(ValueError, match=match):
        linear.area_rate_from_trajectory(X, **kwargs)


def _em_chain_rate(H, D, beta, dt):
    """The exact lag-one area rate of the Euler–Maruyama chain with step dt."""
    M = np.eye(len(H)) - dt * H
    S = linear.solve_lyapunov(M, 2 * dt / beta * D, kind="discrete")
    return linear.area_rate_from_covariance(H, S)


def test_simulated_ou_area_rate_matches_the_chain_and_the_control_is_zero():
    D = R30 @ np.diag([1.0, 0.1]) @ R30.T
    dt = 0.01
    est = linear.simulate_ou_area_rate(H4, D, 2.0, dt, 1500, 600, seed=1)
    target = _em_chain_rate(H4, D, 2.0, dt)
    assert abs(est.z_score(target)) < 4, (est.rate, est.se, target)
    assert est.se < 0.02 * abs(target)  # tight enough to mean something
    assert abs(target - linear.area_rate_theory(H4, D, 2.0)) < 0.03 * abs(target)  # O(dt) from the SDE
    control = linear.simulate_ou_area_rate(H4, np.diag([1.0, 0.1]), 2.0, dt, 1500, 600, seed=2)
    assert abs(control.rate) < 4 * control.se
    again = linear.simulate_ou_area_rate(H4, D, 2.0, dt, 1500, 600, seed=1)
    assert again.rate == est.rate


def test_simulation_errors():
    with pytest.raises(ValueError, match="unstable at dt=1.*use dt < 0.5"):
        linear.simulate_ou_area_rate(H4, np.eye(2), 2.0, 1.0, 100, 10)
    with pytest.raises(ValueError, match="burn_in=99 leaves fewer than 2 steps"):
        linear.simulate_ou_area_rate(H4, np.eye(2), 2.0, 0.01, 100, 10, burn_in=99)
    with pytest.raises(ValueError, match="n_chains must be at least 2"):
        linear.simulate_ou_area_rate(H4, np.eye(2), 2.0, 0.01, 100, 1)


# ------------------------------------------------------------------ SGD chains accumulate the area rate
@pytest.fixture(scope="module")
def hetero():
    return make_linear_regression(N=2000, seed=0)


def test_sgd_area_rate_matches_the_exact_least_squares_value(hetero):
    eta, b = 0.04, 10
    run = sgd.run_sgd_chains(hetero, eta, b, n_steps=1500, n_chains=1000, seed=11, burn_in=500)
    exact = sgd.exact_area_rate(hetero, eta, b)
    z = (run.area_rate - exact) / run.area_rate_se
    assert abs(z) < 4, z
    assert run.area_rate_se < 0.03 * abs(exact)
    assert np.allclose(run.area, -run.area.T) and run.per_chain_area.shape == (1000, 2, 2)
    # and the OU theory −2Q₂₁/β is within a few percent (the rest is discreteness and D(x))
    H, D = hetero.hessian(), hetero.diffusion(hetero.minimiser())
    assert abs(exact / linear.sgd_area_rate(H, D, eta, b) - 1) < 0.05


def test_sgd_area_rate_of_a_mirror_symmetric_control_is_zero(hetero):
    # a data set invariant under x₂ → −x₂: H and D(x*) are both diagonal, so they commute exactly
    base = make_linear_regression(N=1000, seed=0, x_true=(1.0, 0.0))
    control = LinearRegression(np.vstack([base.A, base.A * [1.0, -1.0]]), np.concatenate([base.y, base.y]))
    H, D = control.hessian(), control.diffusion(control.minimiser())
    assert abs(linear.sgd_area_rate(H, D, 0.04, 10)) < 1e-15
    eta, b = 0.04, 10
    run = sgd.run_sgd_chains(control, eta, b, n_steps=1500, n_chains=1000, seed=12, burn_in=500)
    assert abs(sgd.exact_area_rate(control, eta, b)) < 1e-15
    assert abs(run.area_rate) < 4 * run.area_rate_se
    assert run.area_rate_se < 0.03 * abs(sgd.exact_area_rate(hetero, eta, b))  # the zero is resolved


def test_exact_area_rate_is_the_lag_one_identity(hetero):
    eta, b = 0.02, 10
    S = sgd.exact_sgd_covariance(hetero, eta, b).sigma
    H = hetero.hessian()
    M = np.eye(2) - eta * H
    lag = S @ M.T  # E[z_k z_{k+1}ᵀ]
    assert sgd.exact_area_rate(hetero, eta, b) == pytest.approx((lag[0, 1] - lag[1, 0]) / eta, rel=1e-10)


def test_moment_and_residual_gradient_paths_agree(hetero, monkeypatch):
    kw = dict(n_steps=200, n_chains=50, seed=3, burn_in=100)
    fast = sgd.run_sgd_chains(hetero, 0.03, 7, **kw)
    fast32 = sgd.run_sgd_chains(hetero, 0.03, 7, dtype=torch.float32, **kw)
    wo = sgd.run_sgd_chains(hetero, 0.03, 7, replacement=False, **kw)
    monkeypatch.setattr(sgd, "_MOMENT_PATH_MAX_D", 0)
    slow = sgd.run_sgd_chains(hetero, 0.03, 7, **kw)
    slow_wo = sgd.run_sgd_chains(hetero, 0.03, 7, replacement=False, **kw)
    assert np.allclose(fast.final, slow.final, rtol=0, atol=1e-10)
    assert np.allclose(fast.area, slow.area, rtol=1e-8, atol=1e-12)
    assert np.allclose(wo.final, slow_wo.final, rtol=0, atol=1e-10)
    assert np.allclose(fast32.final, slow.final, rtol=0, atol=1e-4)


def test_sde_results_have_no_area_rate(hetero):
    run = sgd.run_sde_chains(hetero, 0.02, 10, 50, 4, burn_in=10)
    with pytest.raises(ValueError, match="no area rates.*simulate_ou_area_rate"):
        run.area_rate
