"""vdlib.theory.toolkit: Brownian sums, Euler–Maruyama, Itô's lemma, the formal adjoint, Gaussian integrals
and Wasserstein distances — each against an independent route or a known law, and bad input refused."""
import numpy as np
import ot
import pytest
import sympy as sp

from vdlib.theory import linear
from vdlib.theory import symbolic as sym
from vdlib.theory import toolkit as tk
from vdlib.theory import transport as tr

x, y, z = sp.symbols("x y z", real=True)
beta = sp.Symbol("beta", positive=True)


# --------------------------------------------------------------------------- Brownian motion
def test_brownian_paths_start_at_zero_with_increments_of_variance_h():
    t, W = tk.brownian_paths(3000, 64, 2.0, np.random.default_rng(0))
    assert t.shape == (65,) and W.shape == (3000, 65) and np.all(W[:, 0] == 0)
    inc = np.diff(W, axis=1).ravel()
    h = 2.0 / 64
    se = h * np.sqrt(2 / inc.size)  # s.e. of the sample variance of N(0, h)
    assert abs(inc.var() - h) < 5 * se
    assert abs(W[:, -1].var() - 2.0) < 5 * 2.0 * np.sqrt(2 / 3000)


def test_variations_match_their_exact_laws():
    T = 1.5
    _, W = tk.brownian_paths(4000, 256, T, np.random.default_rng(1))
    v = tk.variations(W, T)
    assert list(v.n) == [1, 2, 4, 8, 16, 32, 64, 128, 256]
    q_mean, q_sd = v.quadratic.mean(axis=1), v.quadratic.std(axis=1, ddof=1)
    assert np.all(np.abs(q_mean - T) < 5 * q_sd / np.sqrt(4000))
    assert np.allclose(q_sd, v.quadratic_sd, rtol=0.1)
    tv_se = v.total.std(axis=1, ddof=1) / np.sqrt(4000)
    assert np.all(np.abs(v.total.mean(axis=1) - v.total_mean) < 5 * tv_se)
    assert np.all(np.diff(v.total.mean(axis=1)) > 0)  # the total variation grows with n


def test_variations_refuse_grids_that_cannot_be_halved():
    _, W = tk.brownian_paths(2, 6, 1.0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="2\\^K steps"):
        tk.variations(W, 1.0)
    with pytest.raises(ValueError, match="n_paths, n_steps"):
        tk.variations(np.zeros(5), 1.0)


def test_stochastic_sums_converge_to_ito_and_stratonovich_at_the_predicted_rates():
    T = 1.0
    _, W = tk.brownian_paths(3000, 512, T, np.random.default_rng(2))
    s = tk.stochastic_sums(W, T)
    qv = tk.variations(W, T).quadratic[:-1]
    assert np.allclose(s.left, s.W_T**2 / 2 - qv / 2, atol=1e-10)  # summation by parts, exactly
    assert np.allclose(s.right - s.left, qv, atol=1e-10)
    rms_left = np.sqrt(np.mean((s.left - s.ito_limit[None]) ** 2, axis=1))
    rms_mid = np.sqrt(np.mean((s.mid - s.stratonovich_limit[None]) ** 2, axis=1))
    assert np.allclose(rms_left, T / np.sqrt(2 * s.n), rtol=0.1)
    assert np.allclose(rms_mid, T / (2 * np.sqrt(s.n)), rtol=0.1)
    gap = s.mid[-1] - s.left[-1]
    assert abs(gap.mean() - T / 2) < 5 * gap.std(ddof=1) / np.sqrt(gap.size)


def test_brownian_inputs_are_checked():
    with pytest.raises(ValueError, match="n_paths"):
        tk.brownian_paths(0, 4, 1.0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="t_end"):
        tk.brownian_paths(2, 4, -1.0, np.random.default_rng(0))
    with pytest.raises(TypeError, match="default_rng"):
        tk.brownian_paths(2, 4, 1.0, 0)


# --------------------------------------------------------------------------- Euler–Maruyama
def test_euler_maruyama_1d_reuses_the_given_increments():
    dW = np.random.default_rng(3).normal(0, 0.1, size=(50, 20))
    out = tk.euler_maruyama_1d(lambda v: 0 * v, lambda v: 1 + 0 * v, 0.5, 1.0, 20, dW=dW)
    assert np.allclose(out, 0.5 + dW.sum(axis=1))
    with pytest.raises(ValueError, match="n_paths and rng"):
        tk.euler_maruyama_1d(lambda v: v, lambda v: v, 0.0, 1.0, 20)
    with pytest.raises(ValueError, match="shape"):
        tk.euler_maruyama_1d(lambda v: v, lambda v: v, 0.0, 1.0, 10, dW=dW)


def test_linear_sde_chains_have_the_discrete_lyapunov_covariance():
    A = np.array([[1.5, 0.4], [-0.2, 1.0]])
    sigma = np.array([[1.0, 0.0], [0.5, 0.8]])
    dt, n = 0.02, 6000
    X = tk.simulate_linear_sde(A, sigma, [1.0, 1.0], dt, 600, n, np.random.default_rng(4))
    S = np.cov(X.T)
    S_dt = linear.solve_lyapunov(np.eye(2) - dt * A, dt * sigma @ sigma.T, kind="discrete")
    se = np.sqrt((np.outer(np.diag(S_dt), np.diag(S_dt)) + S_dt**2) / n)
    assert np.all(np.abs(S - S_dt) < 5 * se)
    assert np.all(np.abs(X.mean(axis=0)) < 5 * np.sqrt(np.diag(S_dt) / n))
    with pytest.raises(ValueError, match="d×d"):
        tk.simulate_linear_sde(np.ones((2, 3)), sigma, [0, 0], dt, 10, 10, np.random.default_rng(0))


# --------------------------------------------------------------------------- symbolic
def test_ito_differential_of_a_cubic_in_one_dimension():
    b, s = sp.Function("b")(x), sp.Function("s")(x)
    dt_part, dW_part = tk.ito_differential(x**3, [b], [[s]], [x])
    assert sp.simplify(dt_part - (3 * x**2 * b + 3 * x * s**2)) == 0
    assert sp.simplify(dW_part[0] - 3 * x**2 * s) == 0
    with pytest.raises(ValueError, match="rows"):
        tk.ito_differential(x * y, [0, 0], [[1, 0, 0]], [x, y])


def test_ito_differential_matches_the_second_order_expansion_in_three_dimensions():
    xs = [x, y, z]
    b = [sp.Function(f"b{i}")(*xs) for i in range(3)]
    s = sp.Matrix(3, 2, lambda i, j: sp.Function(f"s{i}{j}")(*xs))
    F = sp.Function("F")(*xs)
    assert sp.simplify(tk.ito_differential(F, b, s, xs)[0] - sym.ito_expansion(F, b, s, xs).expected_rate) == 0


@pytest.mark.parametrize("d", [1, 2, 3])
def test_formal_adjoint_is_the_fokker_planck_operator(d):
    xs = sp.symbols(f"x_1:{d + 1}", real=True)
    phi, rho = sp.Function("phi")(*xs), sp.Function("rho")(*xs)
    b = [sp.Function(f"b{i}")(*xs) for i in range(d)]
    D = sp.Matrix(d, d, lambda i, j: sp.Function(f"D{min(i, j)}{max(i, j)}")(*xs))
    L = sym.generator(phi, b, D, beta, xs)
    assert sp.simplify(tk.formal_adjoint(L, phi, rho, xs) - sym.fp_operator(rho, b, D, beta, xs)) == 0


def test_formal_adjoint_of_odd_orders_and_a_potential_term():
    phi, rho, c, V = sp.Function("phi")(x), sp.Function("rho")(x), sp.Function("c")(x), sp.Function("V")(x)
    L = c * phi.diff(x, 3) + V * phi
    assert sp.simplify(tk.formal_adjoint(L, phi, rho, [x]) - (-(c * rho).diff(x, 3) + V * rho)) == 0
    # the adjoint's defining property on decaying functions, with the integrals done by SymPy
    cc, phi_c, rho_c = 1 + x**2, x * sp.exp(-x**2 / 2), (1 + x**3) * sp.exp(-x**2 / 2)
    Lc = cc * phi_c.diff(x, 3) + x * phi_c
    Lsc = tk.formal_adjoint(c * phi.diff(x, 3) + x * phi, phi, rho, [x]).subs(c, cc).subs(rho, rho_c).doit()
    assert sp.simplify(sp.integrate(Lc * rho_c, (x, -sp.oo, sp.oo)) - sp.integrate(phi_c * Lsc, (x, -sp.oo, sp.oo))) == 0


def test_formal_adjoint_refuses_nonlinear_operators():
    phi, rho = sp.Function("phi")(x), sp.Function("rho")(x)
    with pytest.raises(ValueError, match="linear"):
        tk.formal_adjoint(phi.diff(x) ** 2, phi, rho, [x])
    with pytest.raises(ValueError, match="linear"):
        tk.formal_adjoint(phi.diff(x) + 1, phi, rho, [x])


def test_gaussian_weighted_integral_agrees_with_sympy_integrate():
    a = sp.Symbol("a", positive=True)
    integrand = (x**4 + a * x + 3) * sp.exp(-x**2)
    assert sp.simplify(tk.gaussian_weighted_integral(integrand, [x], [[2]])
                       - sp.integrate(integrand, (x, -sp.oo, sp.oo))) == 0
    P = sp.Matrix([[2, 1], [1, 3]])
    g2 = (x**2 * y**2 + x) * sp.exp(-(P[0, 0] * x**2 + 2 * P[0, 1] * x * y + P[1, 1] * y**2) / 2)
    direct = sp.integrate(sp.integrate(g2, (x, -sp.oo, sp.oo)), (y, -sp.oo, sp.oo))
    assert sp.simplify(tk.gaussian_weighted_integral(g2, [x, y], P) - direct) == 0


def test_gaussian_weighted_integral_refuses_other_integrands():
    with pytest.raises(ValueError, match="not a polynomial"):
        tk.gaussian_weighted_integral(sp.exp(-x**2 / 2), [x], [[2]])
    with pytest.raises(ValueError, match="symmetric"):
        tk.gaussian_weighted_integral(x, [x, y], [[1, 0], [1, 1]])


# --------------------------------------------------------------------------- Wasserstein
@pytest.mark.parametrize("p", [1, 2, 3])
def test_quantile_formula_is_exact_optimal_transport(p):
    rs = np.random.default_rng(10 + p)
    a, b = rs.normal(size=70), rs.exponential(size=110)
    cost = np.abs(a[:, None] - b[None, :]) ** p
    lp = ot.emd2(np.full(70, 1 / 70), np.full(110, 1 / 110), cost) ** (1 / p)
    assert np.isclose(tk.wasserstein_1d(a, b, p), lp, rtol=1e-9)


def test_wasserstein_1d_on_known_distributions():
    rs = np.random.default_rng(5)
    a = rs.normal(size=200)
    assert tk.wasserstein_1d(a, a, 2) == 0
    assert np.isclose(tk.wasserstein_1d(a, a + 0.7, 1), 0.7) and np.isclose(tk.wasserstein_1d(a, a - 0.7, 3), 0.7)
    assert np.isclose(tk.wasserstein_1d(a, rs.permutation(a) * 1.0, 2), 0)
    big = 200_000
    w2 = tk.wasserstein_1d(rs.normal(size=big), rs.normal(1.0, 2.0, size=big), 2)
    assert abs(w2 - np.sqrt(2.0)) < 0.02  # closed form sqrt((m1-m2)^2 + (s1-s2)^2)
    assert np.isclose(tk.wasserstein_1d(a, a[:150], 2), tr.w2_1d_samples(a, a[:150]))


def test_wasserstein_1d_refuses_bad_input():
    with pytest.raises(ValueError, match="p must be"):
        tk.wasserstein_1d([0.0], [1.0], 0.5)
    with pytest.raises(ValueError, match="finite"):
        tk.wasserstein_1d([0.0, np.nan], [1.0], 1)
    with pytest.raises(ValueError, match="non-empty"):
        tk.wasserstein_1d([], [1.0], 1)


def test_w2_gaussian_against_pot_and_the_1d_formula():
    rs = np.random.default_rng(6)
    for _ in range(5):
        G1, G2 = rs.normal(size=(3, 3)), rs.normal(size=(3, 3))
        S1, S2 = G1 @ G1.T + 0.1 * np.eye(3), G2 @ G2.T
        m1, m2 = rs.normal(size=3), rs.normal(size=3)
        assert np.isclose(tk.w2_gaussian(m1, S1, m2, S2), ot.gaussian.bures_wasserstein_distance(m1, m2, S1, S2))
        A = tk.gaussian_transport_map(S1, S2)
        assert np.allclose(A @ S1 @ A, S2) and np.linalg.eigvalsh(A).min() >= -1e-10
        cost = np.sum((m1 - m2) ** 2) + np.trace((A - np.eye(3)) @ S1 @ (A - np.eye(3)).T)
        assert np.isclose(cost, tk.w2_gaussian(m1, S1, m2, S2, squared=True))
    assert np.isclose(tk.w2_gaussian([1.0], [[4.0]], [-1.0], [[0.25]]), tr.w2_gaussian_1d(1.0, 2.0, -1.0, 0.5))
    assert tk.w2_gaussian([0, 0], np.eye(2), [0, 0], np.eye(2)) == 0


def test_w2_gaussian_refuses_bad_covariances():
    with pytest.raises(ValueError, match="semi-definite"):
        tk.w2_gaussian([0, 0], [[1, 0], [0, -1]], [0, 0], np.eye(2))
    with pytest.raises(ValueError, match="symmetric"):
        tk.w2_gaussian([0, 0], [[1, 1], [0, 1]], [0, 0], np.eye(2))
    with pytest.raises(ValueError, match="different dimensions"):
        tk.w2_gaussian([0], [[1]], [0, 0], np.eye(2))
    with pytest.raises(ValueError, match="positive definite"):
        tk.gaussian_transport_map([[1, 0], [0, 0]], np.eye(2))


def test_best_matching_is_the_sorted_matching_in_one_dimension():
    rs = np.random.default_rng(7)
    for p in (1, 2, 3):
        a, b = rs.normal(size=6), rs.normal(size=6)
        cost, _ = tk.best_matching_cost(a, b, p)
        assert np.isclose(cost, np.mean(np.abs(np.sort(a) - np.sort(b)) ** p))
        assert np.isclose(cost ** (1 / p), tk.wasserstein_1d(a, b, p))
    with pytest.raises(ValueError, match="n <= 8"):
        tk.best_matching_cost(np.zeros(9), np.zeros(9))


def test_w2_gaussian_for_commuting_covariances_is_the_distance_of_the_square_roots():
    rs = np.random.default_rng(8)
    Q, _ = np.linalg.qr(rs.normal(size=(3, 3)))
    a, b = rs.uniform(0.2, 3.0, size=3), rs.uniform(0.2, 3.0, size=3)
    S1, S2 = Q @ np.diag(a) @ Q.T, Q @ np.diag(b) @ Q.T
    assert np.isclose(tk.w2_gaussian(np.zeros(3), S1, np.ones(3), S2, squared=True),
                      3.0 + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2))
