"""Identities displayed in chapters/03_fokker_planck.md, checked with the same vdlib functions."""
import numpy as np
import pytest
import sympy as sp
import torch

from vdlib.theory import fokker_planck as fp
from vdlib.theory import potentials as pot
from vdlib.theory import sde
from vdlib.theory import symbolic as sym
from vdlib.theory import vector_calculus as vc

x, y = sp.symbols("x y", real=True)
XY = [x, y]
beta = sp.Symbol("beta", positive=True)


def general_2d():
    phi = sp.Function("varphi")(x, y)
    rho = sp.Function("rho")(x, y)
    b = [sp.Function("b_1")(x, y), sp.Function("b_2")(x, y)]
    D = sp.Matrix(2, 2, lambda i, j: sp.Function(f"D_{min(i, j) + 1}{max(i, j) + 1}")(x, y))
    return phi, rho, b, D


def test_ito_lemma_1d_and_2d():
    phi1, b1, s1 = sp.Function("varphi")(x), sp.Function("b")(x), sp.Function("sigma")(x)
    ie = sym.ito_expansion(phi1, [b1], [[s1]], [x])
    expected = b1 * phi1.diff(x) + s1**2 * phi1.diff(x, 2) / 2
    assert sp.simplify(ie.expected_rate - expected) == 0
    phi2, _, b2, _ = general_2d()
    sigma = sp.Matrix(2, 2, lambda i, j: sp.Function(f"sigma_{i + 1}{j + 1}")(x, y))
    ie2 = sym.ito_expansion(phi2, b2, sigma, XY)
    gen = sym.generator(phi2, b2, beta * sigma * sigma.T / 2, beta, XY)
    assert sp.simplify(ie2.expected_rate - gen) == 0


def test_ito_expansion_drops_higher_orders():
    # phi = x^4 with constant coefficients: E[dphi]/dt = 4 b x^3 + 6 s^2 x^2 exactly
    b, s = sp.symbols("b s", real=True)
    ie = sym.ito_expansion(x**4, [b], [[s]], [x])
    # the expansion is second order in dx, so the rate is b phi' + s^2 phi''/2
    assert sp.simplify(ie.expected_rate - (4 * b * x**3 + 6 * s**2 * x**2)) == 0


def test_green_identity_1d_2d():
    phi1, rho1 = sp.Function("varphi")(x), sp.Function("rho")(x)
    b1, D1 = sp.Function("b")(x), sp.Function("D")(x)
    lhs = rho1 * sym.generator(phi1, [b1], D1, beta, [x]) - phi1 * sym.fp_operator(rho1, [b1], D1, beta, [x])
    B = sym.adjoint_boundary_flux(phi1, rho1, [b1], D1, beta, [x])[0]
    assert sp.simplify(lhs - sp.diff(B, x)) == 0
    phi, rho, b, D = general_2d()
    lhs2 = rho * sym.generator(phi, b, D, beta, XY) - phi * sym.fp_operator(rho, b, D, beta, XY)
    assert sp.simplify(lhs2 - vc.divergence(sym.adjoint_boundary_flux(phi, rho, b, D, beta, XY), XY)) == 0


def test_adjoint_integrals_concrete():
    b, D = -x, 1 + x**2 / 2
    phi, rho = x * sp.exp(-x**2), (1 + x) * sp.exp(-x**2 / 2)
    lhs = sp.integrate(sym.generator(phi, [b], D, beta, [x]) * rho, (x, -sp.oo, sp.oo))
    rhs = sp.integrate(phi * sym.fp_operator(rho, [b], D, beta, [x]), (x, -sp.oo, sp.oo))
    assert sp.simplify(lhs - rhs) == 0
    assert sp.simplify(lhs) != 0  # the identity is not trivially 0 = 0


def test_fp_operator_is_paper_form():
    _, rho, b, D = general_2d()
    f = sp.Function("f")(x, y)
    grad_f = vc.gradient(f, XY)
    paper = vc.divergence(grad_f * rho + vc.matrix_divergence(D * rho, XY) / beta, XY)
    assert sp.simplify(sym.fp_operator(rho, -grad_f, D, beta, XY) - paper) == 0
    expanded = -vc.divergence(sp.Matrix(b) * rho, XY) + sum(
        sp.diff(D[i, j] * rho, XY[i], XY[j]) for i in range(2) for j in range(2)) / beta
    assert sp.simplify(sym.fp_operator(rho, b, D, beta, XY) - expanded) == 0


def test_matrix_divergence_convention_and_product_rule():
    M = sp.Matrix([[x * y, x**2], [y**3, x + y]])
    assert vc.matrix_divergence(M, XY) == sp.Matrix([y + 0, 0 + 1])  # (div M)_i = sum_j d_j M_ij
    _, rho, _, D = general_2d()
    lhs = vc.matrix_divergence(D * rho, XY)
    rhs = vc.matrix_divergence(D, XY) * rho + D * vc.gradient(rho, XY)
    assert sym.is_zero(lhs - rhs)


def test_stratonovich_correction():
    Dp = sp.Function("D", positive=True)(x)
    c = sym.stratonovich_correction([[sp.sqrt(2 * Dp / beta)]], [x])[0]
    assert sp.simplify(c - Dp.diff(x) / (2 * beta)) == 0
    # diagonal state-dependent noise in 2-D: c = (1/2) beta^-1 div D
    D1, D2 = sp.Function("D_1", positive=True)(x, y), sp.Function("D_2", positive=True)(x, y)
    sigma = sp.diag(sp.sqrt(2 * D1 / beta), sp.sqrt(2 * D2 / beta))
    c2 = sym.stratonovich_correction(sigma, XY)
    assert sym.is_zero(c2 - vc.matrix_divergence(sp.diag(D1, D2), XY) / (2 * beta))


@pytest.mark.parametrize("shift,power", [(0, 1), (sp.Rational(1, 2), sp.Rational(1, 2)), (1, 0)])
def test_zero_current_densities_1d(shift, power):
    Dp, f = sp.Function("D", positive=True)(x), sp.Function("f")(x)
    rho = sp.exp(-beta * sp.Integral(f.diff(x) / Dp, x)) / Dp**power
    J = sym.probability_current(rho, [-f.diff(x) + shift * Dp.diff(x) / beta], Dp, beta, [x])[0]
    assert sym.is_zero(J)
    # and the wrong power is not stationary
    wrong = sp.exp(-beta * sp.Integral(f.diff(x) / Dp, x)) / Dp**(power + 1)
    J_wrong = sym.probability_current(wrong, [-f.diff(x) + shift * Dp.diff(x) / beta], Dp, beta, [x])[0]
    assert not sym.is_zero(J_wrong)


def test_gibbs_detailed_balance_and_anisotropic_failure():
    f = sp.Function("f")(x, y)
    gibbs = sp.exp(-beta * f)
    assert sym.is_zero(sym.probability_current(gibbs, -vc.gradient(f, XY), sp.eye(2), beta, XY))
    assert sym.is_stationary(gibbs, -vc.gradient(f, XY), sp.eye(2), beta, XY)
    f_dw = (x**2 - 1)**2 / 4 + y**2 / 2
    D_aniso = sp.Matrix([[1, sp.Rational(1, 2)], [sp.Rational(1, 2), 1]])
    assert not sym.is_stationary(sp.exp(-beta * f_dw), -vc.gradient(f_dw, XY), D_aniso, beta, XY)


def test_example19_stationary_with_current():
    lam = sp.Symbol("lambda", real=True)
    Phi = (x**2 - 1)**2 / 4 + y**2 / 2
    Jss = sp.exp(-(x**2 + y**2)**2 / 4) * sp.Matrix([-y, x])
    b = -vc.gradient(Phi, XY) + lam * sp.exp(Phi) * Jss
    assert sym.is_stationary(sp.exp(-Phi), b, sp.eye(2), 1, XY)
    J = sym.probability_current(sp.exp(-Phi), b, sp.eye(2), 1, XY)
    assert sym.is_zero(J - lam * Jss)
    assert sym.is_zero(vc.divergence(Jss, XY))
    # the numerical version in vdlib.theory.potentials agrees with the symbolic current
    jx, jy = pot.example19_current(0.3, -0.7)
    Jn = Jss.subs({x: 0.3, y: -0.7}).evalf()
    assert np.allclose([jx, jy], [float(Jn[0]), float(Jn[1])])


def test_ou_exercise_and_e6_exercise():
    A = sp.Matrix([[1, -1], [1, 2]])
    D = sp.diag(1, sp.Rational(1, 2))
    s11, s12, s22 = sp.symbols("s11 s12 s22")
    S = sp.Matrix([[s11, s12], [s12, s22]])
    S = S.subs(sp.solve(list(A * S + S * A.T - 2 * D / beta), [s11, s12, s22], dict=True)[0])
    X = sp.Matrix(XY)
    rho = sp.exp(-(X.T * S.inv() * X)[0] / 2)
    assert sym.is_stationary(rho, -A * X, D, beta, XY)
    assert not sym.is_zero(sym.probability_current(rho, -A * X, D, beta, XY))
    f = x**2 / 2
    assert sym.is_zero(sym.probability_current(sp.exp(-beta * f), -vc.gradient(f, XY), sp.diag(1, 2), beta, XY))
    R = sp.Matrix([[1, -1], [1, 1]]) / sp.sqrt(2)
    assert not sym.is_stationary(sp.exp(-beta * f), -vc.gradient(f, XY), R * sp.diag(1, 2) * R.T, beta, XY)


def test_first_variation_of_free_energy():
    rho, Phi = sp.Function("rho")(x, y), sp.Function("Phi")(x, y)
    dF = sym.first_variation(sym.free_energy_density(rho, Phi, beta), rho, XY)
    assert sp.simplify(dF - (Phi + (sp.log(rho) + 1) / beta)) == 0
    # a gradient term gives the Laplacian: delta/delta rho of |grad rho|^2 / 2 is -Laplacian rho
    dG = sym.first_variation(sum(sp.diff(rho, v)**2 for v in XY) / 2, rho, XY)
    assert sp.simplify(dG + sp.diff(rho, x, 2) + sp.diff(rho, y, 2)) == 0


def test_fp_operator_and_generator_validate_shapes():
    with pytest.raises(ValueError):
        sym.generator(x * y, [x], sp.eye(2), beta, XY)
    with pytest.raises(ValueError):
        sym.fp_operator(x * y, [x, y], sp.eye(3), beta, XY)


def test_grid_matches_closed_form_1d():
    """The Ito closed form rho ∝ D^-1 exp(-beta ∫ f'/D) vs the grid solver used by the chapter."""
    beta_v = 1.0
    edges = np.linspace(-6, 6, 1201)
    xg = 0.5 * (edges[:-1] + edges[1:])
    h = xg[1] - xg[0]
    rho = fp.stationary_1d(pot.shift_grad, pot.shift_D, beta_v, xg)
    integrand = pot.shift_grad(xg) / pot.shift_D(xg)
    U = np.concatenate([[0], np.cumsum(0.5 * (integrand[1:] + integrand[:-1]) * h)])
    closed = np.exp(-beta_v * U) / pot.shift_D(xg)
    closed /= closed.sum() * h
    assert np.abs(rho - closed).sum() * h < 1e-3


def test_sde_histogram_matches_grid_within_mc_error():
    beta_v, n, dt, steps = 1.0, 4000, 0.005, 1500
    edges = np.linspace(-6, 6, 1201)
    xg = 0.5 * (edges[:-1] + edges[1:])
    h = xg[1] - xg[0]
    p = (fp.stationary_1d(pot.shift_grad, pot.shift_D, beta_v, xg) * h).reshape(-1, 20).sum(axis=1)
    em = sde.euler_maruyama(lambda z: -z,
                            lambda z: torch.sqrt(2 / beta_v * (1 + 0.5 * torch.tanh(z))).unsqueeze(-1),
                            np.zeros((n, 1)), dt, steps, seed=3, dtype=torch.float64)
    p_hat = np.histogram(em.final[:, 0], bins=edges[::20])[0] / n
    rng = np.random.default_rng(0)
    d_mc = np.abs(rng.multinomial(n, p / p.sum(), size=3000) / n - p / p.sum()).sum(axis=1)
    l1 = np.abs(p_hat - p).sum()
    assert l1 < np.quantile(d_mc, 0.999)
    # the Stratonovich grid is detectably different
    ps = (fp.stationary_1d(lambda z: pot.shift_grad(z) - 0.5 * pot.shift_dD(z), pot.shift_D, beta_v, xg) * h
          ).reshape(-1, 20).sum(axis=1)
    assert np.abs(p_hat - ps).sum() > np.quantile(d_mc, 0.999)


def test_widget_corners_stay_positive():
    """The slider corners of the chapter's widget give a valid (non-negative) grid density."""
    wx, wy = np.linspace(-2.2, 2.2, 80), np.linspace(-2.6, 2.6, 96)

    def drift(X, Y):
        gx, gy = pot.example19_grad_phi(X, Y)
        return -gx, -gy

    for tilt in (0.0, 30.0, 45.0, 60.0, 90.0):
        t = np.deg2rad(tilt)
        R = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
        rho = fp.stationary_2d(drift, R @ np.diag([1.0, 0.2]) @ R.T, 4.0, wx, wy)
        assert rho.min() >= 0 and np.isclose(rho.sum() * (wx[1] - wx[0]) * (wy[1] - wy[0]), 1.0)


def test_fickian_form_has_the_noise_induced_drift_with_a_minus_sign():
    # eq-fp-fick: L* rho = div(-(b - beta^-1 div D) rho + beta^-1 D grad rho) for a general symmetric D(x, y)
    _, rho, b, D = general_2d()
    drift = sp.Matrix(b) - vc.matrix_divergence(D, XY) / beta
    fick = vc.divergence(-drift * rho + D * vc.gradient(rho, XY) / beta, XY)
    assert sp.simplify(fick - sym.fp_operator(rho, b, D, beta, XY)) == 0
    wrong = vc.divergence(-(sp.Matrix(b) + vc.matrix_divergence(D, XY) / beta) * rho
                          + D * vc.gradient(rho, XY) / beta, XY)
    assert sp.simplify(wrong - sym.fp_operator(rho, b, D, beta, XY)) != 0
