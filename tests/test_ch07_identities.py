"""Every identity chapter 07 (the linear case, Lemma 20) displays, asserted symbolically
(sympy.simplify(lhs - rhs) == 0) or numerically with the stated tolerance; and the chapter's
R2/R3 reproductions as regression tests on their key scalars under the ci profile."""
import numpy as np
import pytest
import scipy.integrate
import scipy.linalg
import sympy as sp

import vdlib
from vdlib.theory import linear, sgd
from vdlib.theory import potential_symbolic as ps
from vdlib.theory import vector_calculus as vc
from vdlib.theory.regression import LinearRegression, make_linear_regression


def zero(expr) -> bool:
    if isinstance(expr, sp.MatrixBase):
        return all(sp.simplify(e) == 0 for e in expr)
    return sp.simplify(expr) == 0


def rot(theta):
    return np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])


@pytest.fixture(scope="module")
def L():
    return ps.lemma20_symbolic()


H3, BETA3 = np.diag([1.0, 4.0]), 2.0
R30 = rot(np.pi / 6)


# ------------------------------------------------------------------ eq-ou-lyapunov
def test_lyapunov_solution_symbolic(L):
    assert zero(L.H * L.Sigma + L.Sigma * L.H - 2 * L.D / L.beta)
    assert zero(L.lyapunov_residual)
    assert zero(L.Sigma - L.Sigma.T)


def test_lyapunov_integral_representation():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(3, 3))
    H = A + (np.abs(np.linalg.eigvals(A)).max() + 0.5) * np.eye(3)
    G = rng.normal(size=(3, 3))
    D, beta = G @ G.T, 1.7

    def integrand(t):
        E = scipy.linalg.expm(-t * H)
        return (E @ (2 / beta * D) @ E.T).ravel()

    S = scipy.integrate.quad_vec(integrand, 0, np.inf, epsabs=1e-12, epsrel=1e-10)[0].reshape(3, 3)
    assert np.allclose(S, linear.ou_decomposition(H, D, beta).Sigma, rtol=1e-8, atol=1e-10)


# ------------------------------------------------------------------ eq-ou-uq, eq-ou-sylvester, eq-ou-q2x2
def test_decomposition_symbolic(L):
    assert zero((L.D + L.Q) * L.U - L.H)
    assert zero(L.D + L.Q - L.beta * L.H * L.Sigma)
    assert zero(L.U - L.U.T) and zero(L.Q + L.Q.T)
    assert zero(L.U - (L.Sigma.inv() / L.beta))
    assert zero(L.sylvester_residual)
    assert zero(L.H * L.Q + L.Q * L.H - (L.H * L.D - L.D * L.H))
    assert zero(L.Q - L.commutator / L.H.trace())
    assert L.beta not in L.Q.free_symbols  # Q does not depend on β


def test_2x2_symmetric_operator_on_antisymmetric_matrices(L):
    J = sp.Matrix([[0, 1], [-1, 0]])
    assert zero(L.H * J + J * L.H - L.H.trace() * J)


def test_decomposition_numeric_in_6d_non_symmetric_rank_3():
    rng6 = np.random.default_rng(6)  # the chapter's example
    A6 = rng6.normal(size=(6, 6))
    F6 = A6 + (np.abs(np.linalg.eigvals(A6)).max() + 0.5) * np.eye(6)
    G6 = rng6.normal(size=(6, 3))
    D6 = G6 @ G6.T
    S, U, Q = linear.ou_decomposition(F6, D6, 3.0)
    assert np.linalg.matrix_rank(D6) == 3 and np.linalg.eigvalsh(S).min() > 1e-3
    assert np.abs((D6 + Q) @ U - F6).max() < 1e-9
    assert np.abs(F6 @ S + S @ F6.T - 2 * D6 / 3.0).max() < 1e-12
    assert np.abs(F6 @ Q + Q @ F6.T - (F6 @ D6 - D6 @ F6.T)).max() < 1e-9
    # and the force j = -Fx + D U x equals -QUx
    x = rng6.normal(size=6)
    assert np.allclose(-F6 @ x + D6 @ U @ x, -Q @ U @ x)


def test_q_is_independent_of_beta_numerically():
    D = R30 @ np.diag([1.0, 0.1]) @ R30.T
    Qs = [linear.ou_decomposition(H3, D, beta).Q for beta in (0.5, 2.0, 100.0)]
    assert np.allclose(Qs[0], Qs[1]) and np.allclose(Qs[1], Qs[2])


# ------------------------------------------------------------------ eq-ou-db, eq-ou-phi-f, E6, E11
def test_detailed_balance_iff_commuting_in_5d():
    rng5 = np.random.default_rng(5)
    G5 = rng5.normal(size=(5, 5))
    lam5, V5 = np.linalg.eigh(G5 @ G5.T + np.eye(5))
    H5 = V5 @ np.diag(lam5) @ V5.T
    Dc = V5 @ np.diag(rng5.uniform(0.2, 2, 5)) @ V5.T
    S, U, Q = linear.ou_decomposition(H5, Dc, 2.0)
    assert np.abs(Q).max() < 1e-10
    assert np.allclose(S, np.linalg.solve(H5, Dc) / 2.0)  # Σ = β⁻¹H⁻¹D
    assert np.allclose(U, np.linalg.solve(Dc, H5))  # U = D⁻¹H
    assert np.abs(U - H5).max() > 1.0  # E11: equilibrium, Φ ≠ f
    Dg = np.cov(rng5.normal(size=(5, 40)))
    assert np.abs(linear.ou_decomposition(H5, Dg, 2.0).Q).max() > 0.05


def test_phi_equals_f_iff_D_is_identity(L):
    ou = ps.ou_potential_force(L.H, sp.eye(2))
    assert zero(ou.U - L.H) and zero(ou.Q)
    rng = np.random.default_rng(1)
    for _ in range(5):
        G = rng.normal(size=(2, 2))
        D = G @ G.T + 0.1 * np.eye(2)
        U = linear.ou_decomposition(H3, D, 1.0).U
        assert np.abs(U - H3).max() > 1e-3  # any D ≠ I gives U ≠ H


def test_e6_counter_example_constant_anisotropic_D():
    x1, x2 = sp.symbols("x_1 x_2", real=True)
    f, D = x1**2 / 2, sp.diag(1, 2)
    gf = vc.gradient(f, [x1, x2])
    j = -gf + D * gf - vc.matrix_divergence(D, [x1, x2]) / ps.beta
    assert zero(j)
    # and e^{-βf} is stationary for the FP equation with this D
    rho = sp.exp(-ps.beta * f)
    assert vdlib.theory.symbolic.is_stationary(rho, -gf, D, ps.beta, [x1, x2])


# ------------------------------------------------------------------ eq-ou-det (rank-one D)
def test_rank_one_determinant_symbolic(L):
    target = L.kalman**2 / (L.beta**2 * L.H.trace() ** 2 * L.H.det())
    assert zero(L.Sigma_rank_one.det() - target)
    # the substitution D = vvᵀ agrees with solving the Lyapunov equation for vvᵀ directly
    direct = ps.ou_potential_force(L.H, L.v * L.v.T).Sigma
    assert zero(direct - L.Sigma_rank_one)


def test_rank_one_numbers():
    D1 = R30 @ np.diag([1.0, 0.0]) @ R30.T
    S = linear.ou_decomposition(H3, D1, BETA3).Sigma
    assert np.linalg.eigvalsh(S).min() > 0.01
    assert linear.is_controllable(H3, D1) and not linear.is_controllable(H3, np.diag([1.0, 0.0]))


# ------------------------------------------------------------------ eq-ou-area, eq-ou-area-sgd, eq-ou-area-discrete
def test_area_rate_symbolic(L):
    assert zero(L.area_rate - (L.H * L.Sigma - L.Sigma * L.H)[0, 1])
    assert zero(L.area_rate - 2 * L.Q[0, 1] / L.beta)
    assert zero(L.area_rate + 2 * L.Q[1, 0] / L.beta)
    assert zero(L.area_rate - 2 * L.commutator[0, 1] / (L.beta * L.H.trace()))
    # only j contributes: the reversible drift -DUx has zero area rate
    M = L.D * L.U * L.Sigma  # E[(DUx) xᵀ]
    assert zero(M[0, 1] - M[1, 0])
    assert zero(L.lag_one_area - (L.H * L.S - L.S * L.H)[0, 1])


def test_area_rate_sgd_formula_is_linear_in_eta_over_b():
    D = R30 @ np.diag([1.0, 0.1]) @ R30.T
    for eta, b in ((0.02, 10), (0.04, 10), (0.02, 20), (0.1, 4)):
        comm = (H3 @ D - D @ H3)[0, 1]
        assert linear.sgd_area_rate(H3, D, eta, b) == pytest.approx(eta / b * comm / np.trace(H3), rel=1e-10)


def test_lag_one_estimator_forms_agree():
    z = np.random.default_rng(2).normal(size=(50, 2))
    w = lambda a, c: a[:, 0] * c[:, 1] - a[:, 1] * c[:, 0]  # noqa: E731
    plain = w(z[:-1], z[1:])
    assert np.allclose(plain, w(z[:-1], z[1:] - z[:-1]))  # Itô form
    assert np.allclose(plain, w(0.5 * (z[:-1] + z[1:]), z[1:] - z[:-1]))  # midpoint form
    est = linear.area_rate_from_trajectory(z[None].repeat(2, 0), dt=0.5)
    assert est.rate == pytest.approx(plain.mean() / 0.5)


# ------------------------------------------------------------------ R3 (paper-notes Lemma 20 table)
def test_r3_reference_values():
    Dr = R30 @ np.diag([1.0, 0.1]) @ R30.T
    D1 = R30 @ np.diag([1.0, 0.0]) @ R30.T
    assert np.abs(linear.ou_decomposition(H3, np.eye(2), BETA3).Q).max() < 1e-14
    _, U, Q = linear.ou_decomposition(H3, np.diag([1.0, 0.1]), BETA3)
    assert np.abs(Q).max() < 1e-14 and np.allclose(U, np.diag([1.0, 40.0]))
    assert linear.ou_decomposition(H3, Dr, BETA3).Q[1, 0] == pytest.approx(0.2338, abs=5e-5)
    assert linear.ou_decomposition(H3, D1, BETA3).Q[1, 0] == pytest.approx(0.2598, abs=5e-5)
    assert linear.area_rate_theory(H3, Dr, BETA3) == pytest.approx(-0.2338, abs=5e-5)
    assert linear.area_rate_theory(H3, D1, BETA3) == pytest.approx(-0.2598, abs=5e-5)


def _em_chain_rate(H, D, beta, dt):
    M = np.eye(2) - dt * H
    return linear.area_rate_from_covariance(H, linear.solve_lyapunov(M, 2 * dt / beta * D, kind="discrete"))


@pytest.mark.parametrize("seed, lam2", [(2, 0.1), (3, 0.0)])
def test_r3_monte_carlo_under_ci(seed, lam2):
    cfg = vdlib.current("ci")
    D = R30 @ np.diag([1.0, lam2]) @ R30.T
    sim = linear.simulate_ou_area_rate(H3, D, BETA3, 0.005, cfg.size("ou_area_steps"), cfg.size("ou_area_chains"),
                                       seed=seed)
    target = _em_chain_rate(H3, D, BETA3, 0.005)
    assert abs(sim.z_score(target)) < 4
    assert sim.se < 0.02 * abs(target)
    assert abs(target / linear.area_rate_theory(H3, D, BETA3) - 1) < 0.01  # O(dt) gap to the SDE


# ------------------------------------------------------------------ R2 (paper-notes §8.2) under ci
@pytest.fixture(scope="module")
def r2():
    cfg = vdlib.current("ci")
    n, k = cfg.size("sgd_area_chains"), cfg.size("sgd_area_steps")
    problem = make_linear_regression(N=2000, seed=0)
    half = make_linear_regression(N=1000, seed=0, x_true=(1.0, 0.0))
    mirror = LinearRegression(np.vstack([half.A, half.A * [1.0, -1.0]]), np.concatenate([half.y, half.y]))
    out = {}
    for seed, (prob, eta, b) in enumerate([(problem, 0.02, 10), (problem, 0.04, 10), (problem, 0.02, 20),
                                           (mirror, 0.02, 10)]):
        out[(prob is mirror, eta, b)] = (prob, sgd.run_sgd_chains(prob, eta, b, k, n, seed=seed))
    return out


def test_r2_sgd_matches_exact_and_is_near_the_ou_theory(r2):
    for (is_mirror, eta, b), (prob, run) in r2.items():
        exact = sgd.exact_area_rate(prob, eta, b)
        assert abs(run.area_rate - exact) < 4 * run.area_rate_se, (eta, b, run.area_rate, exact)
        if not is_mirror:
            H, D = prob.hessian(), prob.diffusion(prob.minimiser())
            ou = linear.sgd_area_rate(H, D, eta, b)
            assert ou < 0 and abs(exact / ou - 1) < 0.05  # the notes: −1.30e−2, −2.60e−2, −6.51e−3
            assert run.area_rate_se < 0.03 * abs(ou)
    ou_ref = {(0.02, 10): -1.30e-2, (0.04, 10): -2.60e-2, (0.02, 20): -6.51e-3}
    for (eta, b), ref in ou_ref.items():
        prob = r2[(False, eta, b)][0]
        H, D = prob.hessian(), prob.diffusion(prob.minimiser())
        assert linear.sgd_area_rate(H, D, eta, b) == pytest.approx(ref, abs=1e-4)


def test_r2_scaling_and_control(r2):
    base = r2[(False, 0.02, 10)][1]
    for key, expected_ou in (((False, 0.04, 10), 2.0), ((False, 0.02, 20), 0.5)):
        run = r2[key][1]
        q = run.area_rate / base.area_rate
        se = abs(q) * np.hypot(run.area_rate_se / run.area_rate, base.area_rate_se / base.area_rate)
        exact_q = sgd.exact_area_rate(r2[key][0], *key[1:]) / sgd.exact_area_rate(r2[key][0], 0.02, 10)
        assert abs(q - exact_q) < 4 * se
        assert abs(exact_q / expected_ou - 1) < 0.03
    ctrl = r2[(True, 0.02, 10)][1]
    assert abs(ctrl.area_rate) < 4 * ctrl.area_rate_se
    assert ctrl.area_rate_se < 0.05 * abs(base.area_rate)


def test_per_step_rate_scales_like_eta_squared_over_b():
    D = R30 @ np.diag([1.0, 0.1]) @ R30.T
    per_step = {(e, b): e * linear.sgd_area_rate(H3, D, e, b) for e, b in ((0.02, 10), (0.04, 10), (0.02, 20))}
    assert per_step[(0.04, 10)] / per_step[(0.02, 10)] == pytest.approx(4.0)
    assert per_step[(0.02, 20)] / per_step[(0.02, 10)] == pytest.approx(0.5)


# ------------------------------------------------------------------ exercises
def test_exercise_rotation_with_isotropic_noise():
    a, omega, beta = 1.0, 2.0, 2.0
    J = np.array([[0.0, -1.0], [1.0, 0.0]])
    F = a * np.eye(2) - omega * J
    S, U, Q = linear.ou_decomposition(F, np.eye(2), beta)
    assert np.allclose(S, np.eye(2) / (a * beta)) and np.allclose(U, a * np.eye(2))
    assert np.allclose(Q, -omega / a * J)
    assert linear.area_rate_theory(F, np.eye(2), beta) == pytest.approx(2 * omega / (a * beta))


def test_exercise_rank_one_angle():
    th = np.linspace(0.0, np.pi, 181)
    num = [linear.area_rate_theory(H3, np.outer(rot(t)[:, 0], rot(t)[:, 0]), BETA3) for t in th]
    assert np.allclose(num, (1.0 - 4.0) * np.sin(2 * th) / (BETA3 * 5.0), atol=1e-12)
    assert np.rad2deg(th[np.argmax(np.abs(num))]) == pytest.approx(45.0)


def test_exercise_G_form_and_Q_without_Sigma():
    rng4 = np.random.default_rng(44)
    A4 = rng4.normal(size=(4, 4))
    F4 = A4 + (np.abs(np.linalg.eigvals(A4)).max() + 0.5) * np.eye(4)
    D4 = np.cov(rng4.normal(size=(4, 30)))
    _, U, Q = linear.ou_decomposition(F4, D4, 1.0)
    G = D4 + Q
    assert np.abs(G @ F4.T - F4 @ G.T).max() < 1e-12
    Qd = linear.solve_lyapunov(F4, F4 @ D4 - D4 @ F4.T)
    assert np.allclose(Qd, Q, atol=1e-12) and np.allclose(Qd, -Qd.T, atol=1e-12)
    assert np.allclose(np.linalg.solve(D4 + Qd, F4), U, atol=1e-10)
