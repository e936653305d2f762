"""Every identity chapter 05 (SGD performs variational inference) displays, asserted with
lhs - rhs == 0 (through vdlib.theory.symbolic.is_zero), plus the numerical checks of
target R6 on a small grid."""
import numpy as np
import pytest
import sympy as sp

from vdlib.theory import fokker_planck as fp
from vdlib.theory import free_energy as fe
from vdlib.theory import potentials as pot
from vdlib.theory import symbolic as sym

beta = fe.beta
Z_ = fe.Z


@pytest.fixture(scope="module")
def diss():
    return fe.dissipation_identities()


# ------------------------------------------------------------------ F and its first variation
def test_free_energy_split():
    s = fe.free_energy_split()
    assert sym.is_zero(s.energetic_entropic - s.kl_form)
    # the log Z term matters: without it the two integrands differ
    assert not sym.is_zero(s.energetic_entropic - (s.kl_form + s.rho * sp.log(Z_) / beta))



def test_first_variation():
    v = fe.first_variation()
    assert sp.simplify(v.dF - v.expected) == 0
    assert sp.simplify(v.gateaux - v.expected * v.eta) == 0


def test_first_variation_is_linear_term_numerically():
    """(F(ρ + εη) − F(ρ))/ε → ∫δF/δρ η on a 1-D grid."""
    xs = np.linspace(-4, 4, 801)
    dx = xs[1] - xs[0]
    phi = xs**2 / 2 + 0.3 * np.sin(xs)
    rho = np.exp(-(xs - 0.5) ** 2)
    eta = np.cos(xs) * np.exp(-xs**2 / 2)
    b = 2.0
    F = lambda r: np.sum(r * phi + r * np.log(r) / b) * dx  # noqa: E731
    e = 1e-6
    fd = (F(rho + e * eta) - F(rho - e * eta)) / (2 * e)
    lin = np.sum((phi + (np.log(rho) + 1) / b) * eta) * dx
    assert abs(fd - lin) < 1e-6 * max(1.0, abs(lin))


# ------------------------------------------------------------------ dF/dt
def test_fp_equals_a3_form(diss):
    assert sym.is_zero(diss.fp_original - diss.fp_a3)


def test_integration_by_parts(diss):
    assert sym.is_zero(diss.ibp_lhs - diss.ibp_rhs)
    # dropping the j-term breaks the identity (j is an arbitrary function)
    assert not sym.is_zero(diss.ibp_lhs - (diss.ibp_rhs - diss.jterm))


def test_chemical_potential_constant_at_steady_state(diss):
    assert all(sp.simplify(sp.diff(diss.mu_ss, c)) == 0 for c in fe.COORDS)
    assert sp.simplify(diss.mu_ss - (1 - sp.log(fe.Z)) / beta) == 0


def test_jterm_by_stationarity(diss):
    assert sym.is_zero(diss.jterm_lhs - diss.jterm_rhs)


def test_product_rule_e2(diss):
    assert sym.is_zero(diss.prod_lhs - diss.prod_rhs)
    # the App. C form without beta is wrong unless beta = 1
    wrong = diss.prod_lhs - diss.prod_paper
    assert not sym.is_zero(wrong)
    assert sym.is_zero(wrong.subs(beta, 1))


def test_paper_route_a4(diss):
    assert sym.is_zero(diss.a4_lhs - diss.a4_rhs)


# ------------------------------------------------------------------ Example 19 and E3
def test_example19_violates_assumption4_but_is_stationary():
    e = fe.example19_symbolic()
    assert sp.simplify(e.div_j_rho_ss) == 0
    assert sp.simplify(e.div_j - e.div_j_closed) == 0
    assert sp.simplify(e.div_j - e.j_dot_grad_phi) == 0
    val = e.div_j.subs({fe.x: 1, fe.y: 1, e.lam: 1})
    assert abs(float(val)) > 0.1


def test_example19_numeric_divergence_matches_closed_form():
    x = np.linspace(-2, 2, 161)
    X, Y = np.meshgrid(x, x, indexing="ij")
    jx, jy = pot.example19_j(X, Y, 1.5)
    num = fe.grid_divergence(jx, jy, x, x)
    e = fe.example19_symbolic()
    closed = sp.lambdify((fe.x, fe.y, e.lam), e.div_j_closed, "numpy")(X, Y, 1.5)
    inner = (slice(2, -2), slice(2, -2))
    assert np.max(np.abs(num - closed)[inner]) < 1e-2 * np.max(np.abs(closed))
    rho = np.exp(-pot.example19_phi(X, Y))
    div_jr = fe.grid_divergence(jx * rho, jy * rho, x, x)
    assert np.max(np.abs(div_jr)[inner]) < 1e-2 * np.max(np.abs(num)[inner])


def test_degenerate_dissipation_zero_off_equilibrium():
    g = fe.degenerate_example()
    assert sp.simplify(g.dissipation) == 0
    # with g(y) = uniform-ish non-Gaussian density, the KL density is not zero
    kl = g.kl_density.subs(g.g, sp.exp(-fe.y**4)).doit()
    assert abs(float(kl.subs({fe.x: 0, fe.y: 0, beta: 1}))) > 0.1


# ------------------------------------------------------------------ ELBO, temperatures, exercises
def test_elbo_identity():
    q, Phi, V, lhs, rhs = fe.elbo_identity()
    assert sym.is_zero(lhs - rhs)


def test_temperatures():
    eta, b, N, T_with, T_without = fe.temperatures()
    k = sp.Symbol("k", positive=True)
    assert sp.simplify(T_with.subs({eta: k * eta, b: k * b}) - T_with) == 0
    assert sp.simplify(T_without / T_with - (1 - b / N)) == 0


def test_gaussian_free_energy():
    m, s, k, F, F_kl = fe.gaussian_free_energy()
    assert sym.is_zero(F - F_kl)
    sol = sp.solve([sp.diff(F, m), sp.diff(F, s)], [m, s], dict=True)
    assert sol == [{m: 0, s: 1 / sp.sqrt(beta * k)}]


def test_ou_kl_rate():
    t, k, m0, s0, kl = fe.ou_kl()
    assert sp.simplify(kl.subs(t, 0) - (s0**2 * beta * k - 1 - sp.log(s0**2 * beta * k)
                                         + m0**2 * beta * k) / 2) == 0
    rate = sp.limit(-sp.diff(sp.log(kl), t).subs({k: 2, beta: 1, m0: 1, s0: 1}), t, sp.oo)
    assert rate == 4  # 2k


# ------------------------------------------------------------------ R6 numerically (ci size)
@pytest.fixture(scope="module")
def run():
    n, lam, b = 40, 1.5, 1.0
    x = np.linspace(-3, 3, n + 1)
    x = 0.5 * (x[1:] + x[:-1])
    y = np.linspace(-3.5, 3.5, n + 1)
    y = 0.5 * (y[1:] + y[:-1])
    X, Y = np.meshgrid(x, y, indexing="ij")
    rho0 = np.exp(-((X - 1.5) ** 2 + (Y - 1.5) ** 2) / (2 * 0.35**2))
    ev = fp.evolve_2d(lambda X, Y: pot.example19_drift(X, Y, lam), np.eye(2), b, x, y, rho0, 6.0,
                      dt=6.0 / 200, record_every=2)
    Phi = pot.example19_phi(X, Y)
    # the solver's own steady state: the budget is then consistent down to KL = 0
    bud = fe.free_energy_budget(ev.times, ev.rho, ev.stationary, Phi, pot.example19_j(X, Y, lam),
                                np.eye(2), b, x, y)
    rss = np.exp(-Phi)
    rss /= rss.sum() * ev.cell
    kl_exact = np.array([fe.kl_grid(r, rss, x, y) for r in ev.rho])
    return ev, bud, kl_exact


def test_kl_monotone_and_small(run):
    ev, bud, kl_exact = run
    assert np.all(np.diff(bud.kl) < 0)
    assert bud.kl[-1] < 1e-4 * bud.kl[0]
    np.testing.assert_allclose(bud.kl, ev.kl, rtol=1e-8, atol=1e-12)
    # against the exact e^{-Phi}: monotone until the discretisation floor
    assert kl_exact[-1] < 1e-3 * kl_exact[0]
    assert np.all(np.diff(kl_exact[kl_exact > 1e-3]) < 0)


def test_jterm_small_against_dissipation(run):
    ev, bud, _ = run
    assert np.all(bud.dissipation >= 0)
    assert np.max(np.abs(bud.j_term)) < 1e-2 * np.max(bud.dissipation)


def test_dFdt_matches_minus_dissipation(run):
    ev, bud, _ = run
    mid = 0.5 * (bud.dissipation[1:] + bud.dissipation[:-1])
    jmid = 0.5 * (bud.j_term[1:] + bud.j_term[:-1])
    late = bud.t_mid > 0.5
    assert np.all(bud.dF_dt < 0)
    # backward Euler (O(dt)) and the grid (O(h^2)): a few per cent
    assert np.max(np.abs(bud.dF_dt[late] + mid[late] - jmid[late]) / mid[late]) < 0.05


def test_free_energy_grid_matches_kl(run):
    ev, bud, kl_exact = run
    # F - KL(rho || e^{-Phi}/Z_h) = -log Z_h (beta = 1), Z_h the grid sum of e^{-Phi}
    X, Y = np.meshgrid(np.linspace(-3, 3, 41)[:-1] + 0.075, np.linspace(-3.5, 3.5, 41)[:-1] + 0.0875,
                       indexing="ij")
    log_Zh = np.log(np.exp(-pot.example19_phi(X, Y)).sum() * ev.cell)
    np.testing.assert_allclose(bud.F - kl_exact, -log_Zh, atol=1e-9)


# ------------------------------------------------------------------ grid helpers against closed forms
def test_grid_helpers_on_gaussians():
    """rho = N(m, s^2 I), rho_ss = N(0, I), beta = 1/2, D = diag(1, 3): closed forms for all terms."""
    x = np.linspace(-7, 7, 281)
    X, Y = np.meshgrid(x, x, indexing="ij")
    cell = (x[1] - x[0]) ** 2
    m, s, b = np.array([0.7, -0.4]), 0.8, 0.5
    rho = np.exp(-((X - m[0]) ** 2 + (Y - m[1]) ** 2) / (2 * s**2))
    rho /= rho.sum() * cell
    ss = np.exp(-(X**2 + Y**2) / 2)
    ss /= ss.sum() * cell
    D = np.diag([1.0, 3.0])
    # grad log(rho/ss) = -(x - m)/s^2 + x; E over rho of its square, coordinate by coordinate
    c = 1 - 1 / s**2
    e2 = [(c * mi + mi / s**2) ** 2 + c**2 * s**2 for mi in m]  # E[(c x_i + m_i/s^2)^2]
    diss_exact = (D[0, 0] * e2[0] + D[1, 1] * e2[1]) / b**2
    assert abs(fe.dissipation(rho, ss, D, b, x, x) - diss_exact) < 1e-3 * diss_exact
    kl_exact = s**2 - 1 - 2 * np.log(s) + m @ m / 2
    assert abs(fe.kl_grid(rho, ss, x, x) - kl_exact) < 1e-4
    Phi = (X**2 + Y**2) / (2 * b)  # rho_ss = e^{-b Phi}
    F = fe.free_energy_grid(rho, Phi, b, x, x)
    assert abs(F - (kl_exact - np.log(2 * np.pi)) / b) < 1e-3
    j = (-Y, X)  # rotation: div(j ss) = 0
    jt = fe.j_term(rho, ss, j, b, x, x)
    ja = fe.j_term(rho, ss, j, b, x, x, absolute=True)
    assert ja > 0.1 and abs(jt) < 1e-3 * ja
    # a gradient field in place of j does not cancel
    assert abs(fe.j_term(rho, ss, (X, Y), b, x, x)) > 0.1
