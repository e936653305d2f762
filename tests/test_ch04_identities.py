"""Every identity chapter 04 (the potential Φ and the force j) displays, asserted symbolically or
with a stated numerical tolerance, through the same vdlib functions the chapter calls."""
import numpy as np
import pytest
import sympy as sp

from vdlib.theory import linear, potentials
from vdlib.theory import potential_symbolic as ps
from vdlib.theory import symbolic as sym
from vdlib.theory import vector_calculus as vc

x, beta, T = ps.x, ps.beta, ps.T


def zero(expr) -> bool:
    if isinstance(expr, sp.MatrixBase):
        return all(sp.simplify(e) == 0 for e in expr)
    return sp.simplify(expr) == 0


@pytest.fixture(scope="module")
def fi():
    return ps.force_identities()


@pytest.fixture(scope="module")
def one():
    return ps.one_dimensional()


# ------------------------------------------------------------------ vector calculus convention
def test_matrix_divergence_is_row_wise_sum_of_column_derivatives():
    a, b_, c, d = (sp.Function(n)(ps.x, ps.y) for n in "abcd")
    M = sp.Matrix([[a, b_], [c, d]])
    div = vc.matrix_divergence(M, (ps.x, ps.y))
    assert zero(div - sp.Matrix([a.diff(ps.x) + b_.diff(ps.y), c.diff(ps.x) + d.diff(ps.y)]))
    with pytest.raises(ValueError, match="2×2"):
        vc.matrix_divergence(sp.eye(3), (ps.x, ps.y))


# ------------------------------------------------------------------ eq. (7) and eq. (8)
def test_auxiliary_sde_has_zero_flux_at_exp_minus_beta_phi():
    drift, J = ps.auxiliary_flux()
    assert zero(J)
    # not vacuous: the same drift has a nonzero flux at a different density (e^{-2βΦ})
    g = ps.general_2d()
    J_wrong = sym.probability_current(sp.exp(-2 * beta * g.Phi), drift, g.D, beta, g.coords)
    assert not zero(J_wrong)


def test_stationary_current_is_j_times_rho(fi):
    assert zero(fi.J_ss - fi.j_rho)
    assert not zero(fi.j)  # j is not identically zero for general f, D, Φ


def test_fp_equation_in_free_energy_form_a3(fi):
    assert zero(fi.fp_rhs - fi.a3_rhs)


def test_free_energy_gradient_vanishes_at_steady_state(fi):
    assert zero(fi.grad_dF_ss)


def test_divergence_of_j_rho_product_rule_and_erratum_e2(fi):
    assert zero(fi.div_j_rho - fi.div_j_rho_product)
    assert not zero(fi.div_j_rho - fi.div_j_rho_paper)  # App. C misses the factor β


def test_detailed_balance_criterion_a6_is_minus_j(fi):
    assert zero(fi.db_residual - fi.j)


def test_isotropic_constant_diffusion_has_j_zero_with_phi_f_over_c():
    c = sp.Symbol("c", positive=True)
    g0 = ps.general_2d()
    g = ps.General2D(g0.coords, g0.f, g0.f / c, c * sp.eye(2), sp.exp(-beta * g0.f / c), g0.rho)
    F = ps.force_identities(g)
    assert zero(F.j) and zero(F.J_ss)


# ------------------------------------------------------------------ 1-D closed form, E5
def test_one_d_dsolve_solution_has_zero_flux(one):
    assert zero(one.flux)
    assert zero(one.ode.lhs.subs(sp.Function("u")(x), one.D * one.rho_ss).doit()
                - one.ode.rhs.subs(sp.Function("u")(x), one.D * one.rho_ss).doit())


def test_one_d_potential_formula_and_beta_dependence(one):
    assert zero(one.Phi - one.Phi_formula)
    x0 = sp.Symbol("x_0", real=True)
    expected = -(sp.log(one.D) - sp.log(one.D.subs(x, x0))) / beta**2
    assert zero(one.dPhi_dbeta - expected)
    # for the R7 diffusion the β-derivative is nonzero away from x0 = 0
    val = one.dPhi_dbeta.subs(one.D.func, sp.Lambda(x, 1 + sp.tanh(x) / 2))
    val = sp.N(val.doit().subs({x: 1, x0: 0, beta: 2}))
    assert abs(float(val)) > 1e-3


def test_one_d_critical_points(one):
    assert zero(one.dPhi * one.D - one.critical_condition)


def test_critical_point_series_r7_and_leading_term():
    s = ps.critical_point_series(x**2 / 2, 1 + sp.tanh(x) / 2, order=3)
    assert zero(s - (-T / 2 + T**3 / 8))
    # general leading term -T D'(0)/f''(0) for a generic curvature and slope
    k, d = sp.symbols("k d", positive=True)
    s2 = ps.critical_point_series(k * x**2 / 2 + x**3, 1 + d * x, order=1)
    assert zero(s2 + T * d / k)
    with pytest.raises(ValueError, match="critical point"):
        ps.critical_point_series((x - 1) ** 2, 1 + x)


def test_critical_point_series_matches_root_finding():
    for Tv in (0.005, 0.05, 0.2):
        root = ps.critical_point_1d(potentials.shift_grad, potentials.shift_dD, 1 / Tv, (-2.0, 1.0))
        assert abs(root - (-Tv / 2 + Tv**3 / 8)) < 2 * Tv**5  # next term is O(T^5)


# ------------------------------------------------------------------ numerics of the closed form
def test_phi_1d_matches_exact_gaussian_case():
    xs = np.linspace(-6, 6, 4001)
    c = 0.7
    phi = ps.phi_1d(lambda s: 2 * s, lambda s: c + 0 * s, 3.0, xs)  # f = x², D = c: Φ = x²/c
    assert np.max(np.abs(phi - xs**2 / c)) < 1e-5
    rho = ps.rho_closed_form_1d(lambda s: 2 * s, lambda s: c + 0 * s, 3.0, xs)
    exact = np.exp(-3.0 * xs**2 / c)
    exact /= exact.sum() * (xs[1] - xs[0])
    assert np.sum(np.abs(rho - exact)) * (xs[1] - xs[0]) < 1e-6
    with pytest.raises(ValueError):
        ps.phi_1d(np.sin, lambda s: -1 + 0 * s, 1.0, xs)


def test_mode_1d_refines_below_grid_spacing():
    xs = np.linspace(-3, 3, 301)
    rho = np.exp(-((xs - 0.0123) ** 2) / 0.5)
    assert abs(ps.mode_1d(rho, xs) - 0.0123) < 1e-6


def test_stationary_1d_agrees_with_closed_form():
    fp = pytest.importorskip("vdlib.theory.fokker_planck")
    xs = np.linspace(-8, 8, 801)
    for b_ in (1.0, 5.0):
        rho = fp.stationary_1d(potentials.shift_grad, potentials.shift_D, b_, xs)
        cf = ps.rho_closed_form_1d(potentials.shift_grad, potentials.shift_D, b_, xs)
        assert np.sum(np.abs(rho - cf)) * (xs[1] - xs[0]) < 2e-2
        root = ps.critical_point_1d(potentials.shift_grad, potentials.shift_dD, b_, (-2.0, 1.0))
        assert abs(ps.mode_1d(rho, xs) - root) < 2e-2


# ------------------------------------------------------------------ the OU case (Lemma 20)
def test_ou_general_symbolic_force_is_minus_QUx_and_orthogonal():
    h1, h2, h12, d1, d2, d12 = sp.symbols("h1 h2 h12 d1 d2 d12", real=True)
    ou = ps.ou_potential_force(sp.Matrix([[h1, h12], [h12, h2]]), sp.Matrix([[d1, d12], [d12, d2]]))
    assert zero(ou.j - ou.j_QU)
    assert zero(ou.j_dot_gradPhi)
    assert zero(ou.div_j)
    assert zero((ou.D + ou.Q) * ou.U - ou.H)
    assert zero(ou.Q + ou.Q.T)


def test_ou_commuting_case_detailed_balance_phi_not_f():
    h1, h2, d1, d2 = sp.symbols("h1 h2 d1 d2", positive=True)
    H, D = sp.diag(h1, h2), sp.diag(d1, d2)
    ou = ps.ou_potential_force(H, D)
    assert zero(ou.Q) and zero(ou.j)
    assert zero(ou.U - D.inv() * H)


def test_ou_numeric_matches_notes_reference_and_symbolic():
    th = np.pi / 6
    R = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    H, D = np.diag([1.0, 4.0]), R @ np.diag([1.0, 0.1]) @ R.T
    Sigma, U, Q = linear.ou_decomposition(H, D, 2.0)
    assert np.allclose(H @ Sigma + Sigma @ H, D)  # 2β⁻¹D with β = 2
    assert np.allclose((D + Q) @ U, H)
    assert np.allclose(Q, -Q.T)
    assert abs(abs(Q[1, 0]) - 0.2338) < 5e-4  # the notes' independent reference value
    pts = np.random.default_rng(0).normal(size=(100, 2))
    j = -(Q @ U @ pts.T).T
    assert np.max(np.abs(np.sum(j * (U @ pts.T).T, axis=1))) < 1e-12
    assert np.max(np.linalg.norm(j, axis=1)) > 0.1


def test_compact_display_keeps_the_expression_shape():
    g = ps.general_2d()
    drift, _ = ps.auxiliary_flux(g)
    c = ps.compact(drift[0])
    assert not c.atoms(sp.core.function.AppliedUndef) and not c.atoms(sp.Derivative)
    assert len(c.free_symbols) == 7  # D11, D12, ∂xΦ, ∂yΦ, ∂xD11, ∂yD12 and β
    x0 = sp.Symbol("x_0")
    D = sp.Function("D")
    assert ps.compact(D(x0) + D(x)).has(D(x0))  # only functions of the coordinates are shortened


def test_stationary_2d_of_linear_drift_is_exp_minus_beta_phi_with_current_j_rho():
    fp = pytest.importorskip("vdlib.theory.fokker_planck")
    th = np.pi / 6
    R = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    H, D, beta_ = np.diag([1.0, 4.0]), R @ np.diag([1.0, 0.1]) @ R.T, 2.0
    _, U, Q = linear.ou_decomposition(H, D, beta_)
    n = 141
    cx, cy = np.linspace(-2.4, 2.4, n + 1), np.linspace(-1.0, 1.0, n + 1)
    gx, gy = 0.5 * (cx[1:] + cx[:-1]), 0.5 * (cy[1:] + cy[:-1])
    cell = (gx[1] - gx[0]) * (gy[1] - gy[0])
    X, Y = np.meshgrid(gx, gy, indexing="ij")

    def drift(X, Y):
        return -(H[0, 0] * X + H[0, 1] * Y), -(H[1, 0] * X + H[1, 1] * Y)

    rho = fp.stationary_2d(drift, D, beta_, gx, gy)
    g = np.exp(-beta_ * 0.5 * (U[0, 0] * X**2 + 2 * U[0, 1] * X * Y + U[1, 1] * Y**2))
    g /= g.sum() * cell
    assert np.abs(rho - g).sum() * cell < 1e-2
    Jx, Jy = fp.current_2d(rho, drift, D, beta_, gx, gy)
    QU = Q @ U
    jx, jy = -(QU[0, 0] * X + QU[0, 1] * Y) * g, -(QU[1, 0] * X + QU[1, 1] * Y) * g
    assert np.abs(Jx - jx).max() < 2e-2 * np.abs(jx).max()
    assert np.abs(Jy - jy).max() < 2e-2 * np.abs(jy).max()
