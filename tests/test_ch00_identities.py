"""Every identity chapter 00 (the toolkit) displays, asserted with sympy.simplify(lhs - rhs) == 0 through the
same vdlib functions the chapter calls, and its numerical identities with stated tolerances."""
import numpy as np
import ot
import pytest
import scipy.integrate
import sympy as sp

from vdlib.theory import linear
from vdlib.theory import symbolic as sym
from vdlib.theory import toolkit as tk
from vdlib.theory import transport as tr
from vdlib.theory import vector_calculus as vc

x, y = sp.symbols("x y", real=True)
beta = sp.Symbol("beta", positive=True)
mu, s, theta = sp.symbols("mu s theta", positive=True)
t = sp.Symbol("t", nonnegative=True)
h = sp.Symbol("h", positive=True)


def zero(expr) -> bool:
    if isinstance(expr, sp.MatrixBase):
        return all(sp.simplify(e) == 0 for e in expr)
    return sp.simplify(expr) == 0


# ------------------------------------------------------------------ the Itô integral
@pytest.mark.parametrize("n", [1, 3, 4, 6])
def test_left_point_sum_by_parts_and_its_mean_square_error(n):
    dW = sp.symbols(f"d_1:{n + 1}", real=True)
    left = sum(sum(dW[:i]) * dW[i] for i in range(n))
    assert zero(left - (sum(dW) ** 2 / 2 - sum(d**2 for d in dW) / 2))
    err_sq = sym.gaussian_expectation((sum(d**2 for d in dW) / 2 - n * h / 2) ** 2, dW, h * sp.eye(n))
    assert zero(err_sq - n * h**2 / 2)  # = T²/(2n) with h = T/n


def test_midpoint_error_per_interval():
    a, b = sp.symbols("a b", real=True)
    assert zero(sym.gaussian_expectation(((a**2 - b**2) / 2) ** 2, [a, b], h / 2 * sp.eye(2)) - h**2 / 4)
    # the midpoint sum minus W²/2 on one interval is (a² − b²)/2, with W_{t_i} = w
    w = sp.Symbol("w", real=True)
    assert zero((w + a) * (a + b) - ((w + a + b) ** 2 / 2 - w**2 / 2) - (a**2 - b**2) / 2)


# ------------------------------------------------------------------ Itô's lemma
def test_ito_lemma_is_the_second_order_expansion():
    b = [sp.Function("b_1")(x, y), sp.Function("b_2")(x, y)]
    sig = sp.Matrix(2, 3, lambda i, j: sp.Function(f"sigma_{i + 1}{j + 1}")(x, y))
    F = sp.Function("F")(x, y)
    assert zero(tk.ito_differential(F, b, sig, [x, y])[0] - sym.ito_expansion(F, b, sig, [x, y]).expected_rate)
    prod_dt, prod_dW = tk.ito_differential(x * y, b, sig, [x, y])
    assert zero(prod_dt - (y * b[0] + x * b[1] + (sig * sig.T)[0, 1]))
    assert zero(prod_dW - (y * sig.row(0) + x * sig.row(1)))


def test_ito_lemma_examples():
    gbm_dt, gbm_dW = tk.ito_differential(sp.log(x), [mu * x], [[s * x]], [x])
    assert zero(gbm_dt - (mu - s**2 / 2)) and zero(gbm_dW[0] - s)
    ou_dt, ou_dW = tk.ito_differential(x**2, [-theta * x], [[s]], [x])
    assert zero(ou_dt - (s**2 - 2 * theta * x**2)) and zero(ou_dW[0] - 2 * s * x)


def test_ou_second_moment_ode_solution():
    m, x0 = sp.Function("m"), sp.Symbol("x_0")
    sol = sp.dsolve(sp.Eq(m(t).diff(t), s**2 - 2 * theta * m(t)), m(t), ics={m(0): x0**2}).rhs
    assert zero(sol - (x0**2 * sp.exp(-2 * theta * t) + s**2 / (2 * theta) * (1 - sp.exp(-2 * theta * t))))


def test_exponential_martingale_has_no_drift():
    w = sp.Symbol("W_t", real=True)
    dt_M, dW_M = tk.ito_differential(sp.exp(s * w - s**2 * t / 2), [1, 0], [[0], [1]], [t, w])
    assert zero(dt_M) and zero(dW_M[0] - s * sp.exp(s * w - s**2 * t / 2))
    dt_E, _ = tk.ito_differential(sp.exp(s * w), [1, 0], [[0], [1]], [t, w])
    assert zero(dt_E - s**2 / 2 * sp.exp(s * w))


# ------------------------------------------------------------------ generator and Kolmogorov equations
def test_generator_in_sigma_form_is_the_books_generator():
    b = [sp.Function("b_1")(x, y), sp.Function("b_2")(x, y)]
    sig = sp.Matrix(2, 2, lambda i, j: sp.Function(f"sigma_{i + 1}{j + 1}")(x, y))
    F = sp.Function("F")(x, y)
    assert zero(tk.ito_differential(F, b, sig, [x, y])[0] - sym.generator(F, b, beta * sig * sig.T / 2, beta, [x, y]))


def test_backward_equation_for_the_ou_second_moment():
    u = x**2 * sp.exp(-2 * theta * t) + (1 - sp.exp(-2 * theta * t)) / (beta * theta)
    assert zero(u.diff(t) - sym.generator(u, [-theta * x], 1, beta, [x]))
    assert zero(u.subs(t, 0) - x**2)


def test_adjoint_by_parts_is_the_fokker_planck_operator_of_chapter_3():
    phi, rho, f = (sp.Function(n)(x, y) for n in ("varphi", "rho", "f"))
    D = sp.Matrix(2, 2, lambda i, j: sp.Function(f"D_{min(i, j) + 1}{max(i, j) + 1}")(x, y))
    b = -vc.gradient(f, [x, y])
    L_star = tk.formal_adjoint(sym.generator(phi, b, D, beta, [x, y]), phi, rho, [x, y])
    assert zero(L_star - sym.fp_operator(rho, b, D, beta, [x, y]))
    assert zero(L_star - vc.divergence(vc.gradient(f, [x, y]) * rho
                                       + vc.matrix_divergence(D * rho, [x, y]) / beta, [x, y]))


def test_pairing_identity_in_one_dimension_symbolic_coefficients():
    c, d0, d2, a = sp.symbols("c d_0 d_2 a", positive=True)
    f, D = theta * x**2 / 2 + c * x**4 / 4, d0 + d2 * x**2
    phi, rho = (x + a * x**2) * sp.exp(-x**2 / 2), (1 + x) * sp.exp(-x**2 / 2)
    L = sym.generator(phi, [-f.diff(x)], D, beta, [x])
    Ls = sym.fp_operator(rho, [-f.diff(x)], D, beta, [x])
    lhs = tk.gaussian_weighted_integral(L * rho, [x], [[2]])
    assert zero(lhs - tk.gaussian_weighted_integral(phi * Ls, [x], [[2]]))
    assert zero(lhs - sp.integrate(sp.expand(L * rho), (x, -sp.oo, sp.oo)))  # an independent route


def test_pairing_identity_in_two_dimensions():
    f = x**2 / 2 + x * y / 4 + y**4 / 4
    D = sp.Matrix([[1 + x**2, x * y / 2], [x * y / 2, 1 + y**2]])
    g = sp.exp(-(x**2 + y**2) / 2)
    phi, rho = (x * y + x**2) * g, (1 + x + y**2) * g
    b = -vc.gradient(f, [x, y])
    lhs = tk.gaussian_weighted_integral(sym.generator(phi, b, D, beta, [x, y]) * rho, [x, y], 2 * sp.eye(2))
    rhs = tk.gaussian_weighted_integral(phi * sym.fp_operator(rho, b, D, beta, [x, y]), [x, y], 2 * sp.eye(2))
    assert zero(lhs - rhs)
    # an independent route: numerical quadrature of the integrand at beta = 2
    integrand = sp.lambdify((x, y), (sym.generator(phi, b, D, beta, [x, y]) * rho).subs(beta, 2), "numpy")
    quad, _ = scipy.integrate.dblquad(lambda v, u: integrand(u, v), -9, 9, -9, 9, epsabs=1e-11)
    assert np.isclose(quad, float(lhs.subs(beta, 2)), rtol=1e-7)


def test_ou_transition_density_solves_the_forward_equation():
    x0 = sp.Symbol("x_0", real=True)
    v = (1 - sp.exp(-2 * theta * t)) / (beta * theta)
    rho = sp.exp(-(x - x0 * sp.exp(-theta * t)) ** 2 / (2 * v)) / sp.sqrt(2 * sp.pi * v)
    assert zero(rho.diff(t) / rho - sym.fp_operator(rho, [-theta * x], 1, beta, [x]) / rho)


# ------------------------------------------------------------------ Lyapunov
def test_covariance_ode_from_ito_lemma():
    A = sp.Matrix(2, 2, sp.symbols("A_11 A_12 A_21 A_22", real=True))
    sig = sp.Matrix(2, 2, sp.symbols("s_11 s_12 s_21 s_22", real=True))
    S = sym.symmetric_matrix_symbols(2)
    moments = {x**2: S[0, 0], x * y: S[0, 1], y**2: S[1, 1]}
    xy = [x, y]
    rate = sp.Matrix(2, 2, lambda i, j: sp.expand(
        tk.ito_differential(xy[i] * xy[j], -A * sp.Matrix(xy), sig, xy)[0]).subs(moments))
    assert zero(rate - (-A * S - S * A.T + sig * sig.T))


def test_lyapunov_solution_used_by_the_chapter():
    H = np.array([[2.0, 0.5], [0.5, 1.0]])
    D = np.array([[1.0, 0.6], [0.6, 0.5]])
    S = linear.solve_lyapunov(H, 2 * D)
    assert np.allclose(H @ S + S @ H.T, 2 * D, atol=1e-12)
    dt = 0.01
    S_dt = linear.solve_lyapunov(np.eye(2) - dt * H, dt * 2 * D, kind="discrete")
    assert np.allclose(S_dt, (np.eye(2) - dt * H) @ S_dt @ (np.eye(2) - dt * H).T + 2 * dt * D, atol=1e-12)
    assert np.abs(S_dt - S).max() < 5 * dt * np.abs(S).max()  # the Euler–Maruyama bias is O(dt)


# ------------------------------------------------------------------ Wasserstein
def test_w2_between_diagonal_gaussians_exactly():
    a = sp.symbols("a_1:4", positive=True)
    b = sp.symbols("b_1:4", positive=True)
    m1, m2 = sp.Matrix(sp.symbols("m_1:4", real=True)), sp.Matrix(sp.symbols("n_1:4", real=True))
    root = lambda M: M.applyfunc(sp.sqrt)  # noqa: E731
    S1, S2 = sp.diag(*a), sp.diag(*b)
    w2sq = (m1 - m2).dot(m1 - m2) + (S1 + S2 - 2 * root(root(S2) * S1 * root(S2))).trace()
    assert zero(w2sq - (m1 - m2).dot(m1 - m2) - sum((sp.sqrt(ai) - sp.sqrt(bi)) ** 2 for ai, bi in zip(a, b)))


def test_w2_gaussian_numbers_the_chapter_compares():
    m1, m2 = np.array([0.0, 0.0]), np.array([1.0, -0.5])
    S1, S2 = np.array([[2.0, 0.8], [0.8, 1.0]]), np.array([[0.5, -0.3], [-0.3, 1.5]])
    w2 = tk.w2_gaussian(m1, S1, m2, S2)
    assert np.isclose(w2, ot.gaussian.bures_wasserstein_distance(m1, m2, S1, S2), rtol=1e-10)
    A = tk.gaussian_transport_map(S1, S2)
    cost = np.sum((m2 - m1) ** 2) + np.trace((A - np.eye(2)) @ S1 @ (A - np.eye(2)).T)
    assert np.isclose(cost, w2**2, rtol=1e-10)
    for m1v, s1v, m2v, s2v in ((0.0, 1.0, 1.0, 2.0), (-1.0, 0.5, 2.0, 0.1)):
        assert np.isclose(tk.w2_gaussian([m1v], [[s1v**2]], [m2v], [[s2v**2]]), tr.w2_gaussian_1d(m1v, s1v, m2v, s2v))


def test_ou_w2_to_stationarity_closed_form():
    x0, q = sp.Symbol("x_0", real=True), sp.Symbol("q", positive=True)  # q = exp(-θt)
    v_t, v_inf = (1 - q**2) / (beta * theta), 1 / (beta * theta)
    w2sq = (x0 * q) ** 2 + (sp.sqrt(v_t) - sp.sqrt(v_inf)) ** 2
    assert zero(w2sq - (x0**2 * q**2 + (1 - sp.sqrt(1 - q**2)) ** 2 / (beta * theta)))
    val = tk.w2_gaussian([2.0 * np.exp(-1.0)], [[1 - np.exp(-2.0)]], [0.0], [[1.0]])
    assert np.isclose(val**2, float(w2sq.subs({x0: 2, q: sp.exp(-1), beta: 1, theta: 1})))
