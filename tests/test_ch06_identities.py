"""Every identity chapter 06 (Wasserstein gradient flow, JKO, Lemma 6) displays, asserted with
sympy.simplify(lhs - rhs) == 0 through the same vdlib functions the chapter calls."""
import numpy as np
import pytest
import sympy as sp

from vdlib.theory import fokker_planck as fp
from vdlib.theory import transport as tr

x1, x2 = sp.symbols("x_1 x_2", real=True)
beta, c = sp.symbols("beta c", positive=True)


def zero(expr) -> bool:
    if isinstance(expr, sp.MatrixBase):
        return all(sp.simplify(e) == 0 for e in expr)
    return sp.simplify(expr) == 0


def grad(g):
    return [sp.diff(g, x1), sp.diff(g, x2)]


# ------------------------------------------------------------------ Corollary 8
@pytest.mark.parametrize("d", [1, 2, 3])
def test_first_variation_and_wasserstein_flow_equals_fp(d):
    w = tr.wasserstein_fp_identity(d)
    assert zero(w.first_variation - (w.f + (sp.log(w.rho) + 1) / w.beta))
    assert zero(w.gradient_flow - w.fokker_planck)


def test_wasserstein_flow_differs_from_a_wrong_fp():
    w = tr.wasserstein_fp_identity(2)
    wrong = sum(sp.diff(sp.diff(w.f, xi) * w.rho + 2 * sp.diff(w.rho, xi) / w.beta, xi) for xi in w.xs)
    assert not zero(w.gradient_flow - wrong)


# ------------------------------------------------------------------ Gaussian JKO step
def test_gaussian_jko_step_symbolic():
    g = tr.gaussian_jko_step_symbolic()
    assert zero(g.m_new - g.m0 / (1 + g.tau))
    assert zero((1 + g.tau) * g.s_new**2 - g.s0 * g.s_new - g.tau / g.beta)
    # stationary point of the objective, and a minimum (positive Hessian)
    sub = {g.m: g.m_new, g.s: g.s_new}
    assert zero(sp.diff(g.objective, g.m).subs(sub)) and zero(sp.diff(g.objective, g.s).subs(sub))
    assert zero(sp.diff(g.objective, g.s, 2) - (1 / g.tau + 1 + 1 / (g.beta * g.s**2)))
    first = sp.series(g.s_new, g.tau, 0, 2).removeO()
    assert zero(first - (g.s0 + g.tau * (1 / (g.beta * g.s0) - g.s0)))
    # N(0, 1/beta) is a fixed point for every tau
    fixed = 1 / sp.sqrt(g.beta)
    assert zero((1 + g.tau) * fixed**2 - fixed * fixed - g.tau / g.beta)
    vals = {g.s0: 1 / np.sqrt(2.0), g.tau: 0.3, g.beta: 2.0}
    assert float(g.s_new.subs(vals)) == pytest.approx(1 / np.sqrt(2.0), rel=1e-12)


@pytest.mark.parametrize("m0,s0,tau,b", [(1.0, 0.3, 0.2, 2.0), (-2.0, 1.5, 0.05, 0.5)])
def test_numeric_gaussian_step_matches_symbolic(m0, s0, tau, b):
    g = tr.gaussian_jko_step_symbolic()
    vals = {g.m0: m0, g.s0: s0, g.tau: tau, g.beta: b}
    m1, s1 = tr.jko_gaussian_step(m0, s0, tau, b)
    assert m1 == pytest.approx(float(g.m_new.subs(vals)))
    assert s1 == pytest.approx(float(g.s_new.subs(vals)))


def test_gaussian_w2_from_quantile_functions():
    z = sp.Symbol("z", real=True)
    m1, m2 = sp.symbols("m_1 m_2", real=True)
    s1, s2 = sp.symbols("s_1 s_2", positive=True)
    phi = sp.exp(-z**2 / 2) / sp.sqrt(2 * sp.pi)
    w2sq = sp.integrate(((m1 + s1 * z) - (m2 + s2 * z)) ** 2 * phi, (z, -sp.oo, sp.oo))
    assert zero(w2sq - ((m1 - m2) ** 2 + (s1 - s2) ** 2))
    assert tr.w2_gaussian_1d(0.3, 1.0, -0.1, 2.5) == pytest.approx(np.sqrt(0.16 + 2.25))


# ------------------------------------------------------------------ Lemma 6, E6, E11
def test_isotropic_diffusion_gives_phi_equal_f_over_c():
    f = sp.Function("f")(x1, x2)
    J = tr.stationary_current_constant_d(grad(f), c * sp.eye(2), sp.exp(-beta * f / c), (x1, x2), beta)
    assert zero(J)
    J_wrong = tr.stationary_current_constant_d(grad(f), c * sp.eye(2), sp.exp(-beta * f), (x1, x2), beta)
    assert not zero(J_wrong)


@pytest.mark.parametrize("D22", [2, 3, sp.Symbol("a", positive=True)])
def test_e6_counterexample_current_vanishes(D22):
    f = x1**2 / 2
    J = tr.stationary_current_constant_d(grad(f), sp.diag(1, D22), sp.exp(-beta * f), (x1, x2), beta)
    assert zero(J)


def test_e6_fails_when_the_noise_is_along_the_gradient():
    f = x1**2 / 2
    J1 = tr.stationary_current_constant_d(grad(f), sp.diag(3, 1), sp.exp(-beta * f), (x1, x2), beta)
    assert zero(J1 - sp.Matrix([2 * x1 * sp.exp(-beta * x1**2 / 2), 0]))
    J3 = tr.stationary_current_constant_d(grad(f), sp.diag(3, 1), sp.exp(-beta * f / 3), (x1, x2), beta)
    assert zero(J3)


def test_e6_numerically_with_the_fp_solver():
    e = np.linspace(-3, 3, 41)
    x = (e[:-1] + e[1:]) / 2
    X, _ = np.meshgrid(x, x, indexing="ij")
    for D, scale in ((np.diag([1.0, 2.0]), 1.0), (np.diag([2.0, 1.0]), 2.0)):
        rho = fp.stationary_2d(lambda X, Y: (-X, np.zeros_like(Y)), D, 2.0, x, x)
        g = np.exp(-2.0 * X**2 / 2 / scale)
        g /= g.sum() * (x[1] - x[0]) ** 2
        assert np.abs(rho - g).max() / g.max() < 1e-8


def test_e11_commuting_h_and_d_give_equilibrium_with_phi_not_f():
    h1, h2, d1, d2 = sp.symbols("h_1 h_2 d_1 d_2", positive=True)
    xv = sp.Matrix([x1, x2])
    H, D = sp.diag(h1, h2), sp.diag(d1, d2)
    f = (xv.T * H * xv)[0] / 2
    Phi = (xv.T * D.inv() * H * xv)[0] / 2
    J = tr.stationary_current_constant_d(H * xv, D, sp.exp(-beta * Phi), (x1, x2), beta)
    j = -H * xv + D * sp.Matrix(grad(Phi))
    assert zero(J) and zero(j)
    gap = sum(sp.Rational(1, 2) * hi * (1 / di - 1) * xi**2 for hi, di, xi in ((h1, d1, x1), (h2, d2, x2)))
    assert zero(Phi - f - gap)
    assert not zero(Phi - f)
    assert zero((Phi - f).subs({d1: 1, d2: 1}))
    # with rho = exp(-beta f) the current does not vanish unless D = I
    J_f = tr.stationary_current_constant_d(H * xv, D, sp.exp(-beta * f), (x1, x2), beta)
    assert not zero(J_f) and zero(J_f.subs({d1: 1, d2: 1}))
