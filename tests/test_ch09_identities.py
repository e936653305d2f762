"""Every identity chapter 09 (limit cycles: Lemma 7, Example 19, Fig. 4) displays, asserted with
sympy.simplify(lhs - rhs) == 0, plus the numerical checks of target R5 at (or below) the ci
profile's sizes, with tolerances derived from the Monte Carlo or discretisation error."""
import numpy as np
import pytest
import sympy as sp
import torch
from scipy.integrate import quad

from vdlib.theory import free_energy as fe
from vdlib.theory import linear, sde
from vdlib.theory import potentials as pot
from vdlib.theory import symbolic as sym
from vdlib.theory import vector_fields as vf


def zero(expr):
    d = sp.simplify(expr)
    return d == 0 or (isinstance(d, sp.MatrixBase) and d.is_zero_matrix)


def drift19(lam):
    return lambda X, Y: pot.example19_drift(X, Y, lam)


def jac19(lam):
    return lambda x, y: pot.example19_jacobian(x, y, lam)


# ------------------------------------------------------------------ Lemma 7: the Assumption-4 family
def test_assumption4_family_satisfies_a4_a5_and_stationarity():
    f = vf.assumption4_family()
    assert zero(f.div_j) and zero(f.j_dot_grad_phi) and zero(f.div_j_rho)


def test_a_non_constant_speed_across_level_sets_breaks_assumption4():
    """j = c(x, y) J grad Phi has div j = grad c . J grad Phi, which is not zero in general."""
    f = vf.assumption4_family()
    c = sp.Function("c")(f.x, f.y)
    j = c * sp.Matrix([-sp.diff(f.Phi, f.y), sp.diff(f.Phi, f.x)])
    div = sp.diff(j[0], f.x) + sp.diff(j[1], f.y)
    assert not zero(div)
    assert zero(div - (sp.diff(c, f.x) * j[0] + sp.diff(c, f.y) * j[1]) / c)


def _area(c, one_well):
    x_hi = np.sqrt(1 + 2 * np.sqrt(c))
    x_lo = np.sqrt(1 - 2 * np.sqrt(c)) if one_well else -x_hi
    return quad(lambda s: 2 * np.sqrt(max(2 * (c - (s * s - 1) ** 2 / 4), 0.0)), x_lo, x_hi,
                epsabs=1e-13, epsrel=1e-12, limit=200)[0]


@pytest.mark.parametrize("c, centre", [(0.1, (1.0, 0.0)), (0.6, (0.0, 0.0))])
def test_period_of_the_assumption4_flow_is_the_area_derivative(c, centre):
    """T(c) = A'(c) / g for x' = g J grad Phi (g = 1), Phi conserved along the orbit."""
    def j_a4(X, Y):
        gx, gy = pot.example19_grad_phi(X, Y)
        return -gy, gx

    orb = vf.integrate_orbit(j_a4, (np.sqrt(1 + 2 * np.sqrt(c)), 0.0), 30.0, center=centre)
    T = vf.orbit_periods(orb)[1].mean()
    dA = (_area(c + 1e-5, c < 0.25) - _area(c - 1e-5, c < 0.25)) / 2e-5
    assert abs(T - dA) < 1e-5 * dA   # quadrature ~1e-10 / 2e-5 and O(dc^2) central differences
    assert np.abs(pot.example19_phi(*orb.x) - c).max() < 1e-8


# ------------------------------------------------------------------ stationarity alone: stream function
def test_stream_function_of_example19():
    s = vf.example19_stream_function()
    assert zero(s.rotated_grad_psi - s.J_ss) and zero(s.div_J)


def test_example19_violates_assumption4_e4():
    ex = fe.example19_symbolic()
    assert zero(ex.div_j - ex.j_dot_grad_phi)
    assert zero(ex.div_j_rho_ss)
    assert not zero(ex.div_j)


def test_example19_force_orbits_are_circles_with_the_quadrature_period():
    lam = 1.5
    for r in (0.5, 1.0):
        orb = vf.integrate_orbit(lambda X, Y: pot.example19_j(X, Y, lam), (r, 0.0), 40.0)
        T = vf.orbit_periods(orb)[1].mean()
        T_quad = quad(lambda th: 1 / (lam * np.exp(pot.example19_phi(r * np.cos(th), r * np.sin(th)) - r**4 / 4)),
                      0, 2 * np.pi)[0]
        assert abs(T - T_quad) < 1e-6 * T_quad
        assert np.abs(np.hypot(*orb.x) - r).max() < 1e-8
        assert np.ptp(pot.example19_phi(*orb.x)) > 0.2  # Phi is not conserved: E4


# ------------------------------------------------------------------ E7: quasi-periodic 4-D example
def test_four_dimensional_assumption4_flow_is_not_periodic():
    w2 = np.sqrt(2)
    Q = np.zeros((4, 4))
    Q[0, 1], Q[2, 3] = -1.0, -w2
    Q -= Q.T
    assert np.trace(Q) == 0
    v = np.random.default_rng(0).normal(size=(10, 4))
    assert np.allclose(np.einsum("ni,ij,nj->n", v, Q, v), 0)
    t = np.linspace(1.0, 300.0, 200_001)
    # |x(t) - x0|^2 = 2 sin^2(t/2) + 2 sin^2(w t/2) for x0 = (1, 0, 1, 0)/sqrt(2)
    d_irr = np.sqrt(2 * np.sin(t / 2) ** 2 + 2 * np.sin(w2 * t / 2) ** 2)
    d_rat = np.sqrt(2 * np.sin(t / 2) ** 2 + 2 * np.sin(2 * t / 2) ** 2)
    assert d_rat.min() < 1e-3 and d_irr.min() > 0.01
    # near-returns do happen (recurrence): the best one is far below the typical distance
    assert d_irr.min() < 0.05 < np.median(d_irr)


# ------------------------------------------------------------------ Fig. 4 critical points (R5)
def test_wells_disappear_at_det_a_zero():
    lam_c = np.exp(-0.25)
    def n(lam):
        return len(vf.critical_points(drift19(lam), ((-2, 2), (-2, 2)), jacobian=jac19(lam), n_starts=9))
    assert n(0.5) == 3 and n(0.999 * lam_c) == 3 and n(1.001 * lam_c) == 1 and n(1.5) == 1


# ------------------------------------------------------------------ E8: weak focus
@pytest.fixture(scope="module")
def wf():
    return vf.example19_weak_focus()


def test_linearisation_at_the_origin(wf):
    assert zero(wf.A.trace()) and zero(wf.A.det() - (wf.a**2 - 1))
    assert zero(wf.N2)
    assert zero(wf.lyapunov)
    assert zero(wf.A * wf.A + wf.omega**2 * sp.eye(2))   # A^2 = -omega^2 I: a centre


def test_cubic_terms_match_the_drift_numerically(wf):
    lam = 1.5
    a = lam * np.exp(0.25)
    A = np.array(wf.A.subs(wf.a, a), dtype=float)
    N3 = sp.lambdify((wf.x, wf.y), wf.N3.subs(wf.a, a), "numpy")
    p = np.array([0.6, -0.8])
    for eps in (1e-2, 5e-3):
        b = np.array(drift19(lam)(*(eps * p)))
        remainder = (b - eps * A @ p) / eps**3
        assert np.allclose(remainder, np.ravel(N3(*p)), atol=30 * eps**2)   # next term is O(eps^5)


def test_averaged_decay_rate(wf):
    assert zero(wf.mean_dH + wf.kappa * wf.h**2)
    assert zero(1 / (wf.kappa * (wf.a - 1)) - wf.prefactor**2)
    # numerical average of grad H . N3 over the linear orbit, at a = 1.5 e^{1/4}, h = 0.3
    a, h = 1.5 * np.exp(0.25), 0.3
    dH = sp.lambdify((wf.x, wf.y), (sp.diff((sp.Matrix([wf.x, wf.y]).T * wf.P * sp.Matrix([wf.x, wf.y]))[0], wf.x)
                                    * wf.N3[0] + sp.diff((sp.Matrix([wf.x, wf.y]).T * wf.P
                                                          * sp.Matrix([wf.x, wf.y]))[0], wf.y) * wf.N3[1]).subs(wf.a, a))
    th = np.linspace(0, 2 * np.pi, 4001)[:-1]
    u = np.array([np.sqrt(h / a), 0.0])
    A = np.array([[1, -a], [a, -1]])
    orbit = np.cos(th)[:, None] * u + np.sin(th)[:, None] * (A @ u) / np.sqrt(a * a - 1)
    assert abs(np.mean(dH(orbit[:, 0], orbit[:, 1])) - float(-(wf.kappa * wf.h**2).subs({wf.a: a, wf.h: h}))) < 1e-12


def test_period_and_prefactor_values(wf):
    a = 1.5 * np.exp(0.25)
    assert abs(float(wf.period.subs(wf.a, a)) - 3.8170) < 1e-4
    assert abs(float(wf.prefactor.subs(wf.a, a)) - 2.4651) < 1e-4


def test_noise_free_orbit_r5():
    """R5: period -> 3.817, max radius 0.229 at t = 100 and 0.120 at t = 400, amplitude ~ t^(-1/2)."""
    orbit = vf.integrate_orbit(drift19(1.5), (0.5, 0.0), 400.0)
    t_mid, periods = vf.orbit_periods(orbit)
    fit = vf.amplitude_decay(orbit)
    amp = np.interp(t_mid, fit.times, fit.amplitudes)
    late = t_mid > 100
    period_0 = np.polyfit(amp[late] ** 2, periods[late], 1)[1]
    assert abs(period_0 - 2 * np.pi / np.sqrt(2.25 * np.exp(0.5) - 1)) < 2e-3 * period_0
    assert abs(orbit.max_radius(100, 10) - 0.229) < 0.02 * 0.229
    assert abs(orbit.max_radius(400, 10) - 0.120) < 0.02 * 0.120
    assert abs(fit.exponent + 0.5) < 0.05
    slope = np.polyfit(fit.times[fit.fitted], fit.amplitudes[fit.fitted] ** -2, 1)[0]
    C = 1 / np.sqrt(slope)
    C_theory = 2 * np.sqrt(1 + 1 / (1.5 * np.exp(0.25)))
    assert abs(C - C_theory) < fit.amplitudes[fit.fitted][0] ** 2 * C_theory   # O(r^2) corrections


# ------------------------------------------------------------------ noise: density and circulation
def test_torque_identity_and_closed_form():
    x1, x2, r = sp.symbols("x_1 x_2 r", real=True)
    lam = sp.Symbol("lambda", positive=True)
    Phi = (x1**2 - 1) ** 2 / 4 + x2**2 / 2
    b = sp.Matrix([-sp.diff(Phi, x1), -sp.diff(Phi, x2)]) + lam * sp.exp(Phi - (x1**2 + x2**2) ** 2 / 4) * sp.Matrix([-x2, x1])
    torque = sp.powsimp(sp.expand((x1 * b[1] - x2 * b[0]) * sp.exp(-Phi)))
    grad_part = sp.expand((x1 * (-x2) - x2 * (-sp.diff(Phi, x1))) * sp.exp(-Phi))
    assert zero(torque - grad_part - lam * (x1**2 + x2**2) * sp.exp(-(x1**2 + x2**2) ** 2 / 4))
    assert zero(grad_part.subs(x2, -x2) + grad_part)
    assert zero(sp.integrate(2 * sp.pi * r**3 * sp.exp(-r**4 / 4), (r, 0, sp.oo)) - 2 * sp.pi)
    Z = pot.example19_partition_function()
    assert round(Z, 2) == 7.62 and round(2 * np.pi / Z, 3) == 0.824


@pytest.fixture(scope="module")
def ensemble():
    """ci-sized ensemble: 1000 particles per lambda, dt = 2e-3, t = 3 from the origin, seed 1."""
    lams = np.repeat([0.0, 0.5, 1.5], 1000)
    drift = vf.example19_torch_drift(lams)
    run = sde.euler_maruyama(drift, np.sqrt(2.0), np.zeros((lams.size, 2)), 2e-3, 1500, seed=1)
    return lams, drift, run


def _probs(xe, ye, beta=1.0):
    p = pot.example19_bin_probabilities(xe, ye, beta).ravel()
    return np.append(p, 1 - p.sum())


def _hist(z, xe, ye):
    h = np.histogram2d(z[:, 0], z[:, 1], bins=[xe, ye])[0].ravel() / len(z)
    return np.append(h, 1 - h.sum())


def test_stationary_density_is_exp_minus_phi_for_every_lambda(ensemble):
    lams, _, run = ensemble
    xe, ye = np.arange(-3.0, 3.01, 0.5), np.arange(-3.5, 3.51, 0.5)
    p = _probs(xe, ye)
    rng = np.random.default_rng(0)
    ref = np.abs(rng.multinomial(1000, p, size=4000) / 1000 - p).sum(axis=1)
    for lam in (0.0, 0.5, 1.5):
        assert np.abs(_hist(run.final[lams == lam], xe, ye) - p).sum() < np.quantile(ref, 0.999)
    # power: the pooled histogram rejects e^{-0.7 Phi} and e^{-1.4 Phi}
    ref_pool = np.abs(rng.multinomial(3000, p, size=4000) / 3000 - p).sum(axis=1)
    pooled = _hist(run.final, xe, ye)
    assert np.abs(pooled - p).sum() < np.quantile(ref_pool, 0.999)
    for beta in (0.7, 1.4):
        assert np.abs(pooled - _probs(xe, ye, beta)).sum() > np.quantile(ref_pool, 0.999)


def test_angular_momentum_is_two_pi_lambda_over_z(ensemble):
    lams, drift, run = ensemble
    cont = sde.euler_maruyama(drift, np.sqrt(2.0), run.final, 2e-3, 300, seed=100, record_every=1)
    for lam in (0.0, 0.5, 1.5):
        exact = pot.example19_angular_momentum(lam)
        L, se = vf.angular_momentum(cont.snapshots[:, lams == lam], 2e-3)
        Ld, sed = vf.angular_momentum_drift(cont.snapshots[::50, lams == lam], drift19(lam))
        assert abs(L - exact) < 4 * se and abs(Ld - exact) < 4 * sed
        assert sed < 0.05   # informative: the 0 vs 1.24 jump is many error bars wide
    assert round(pot.example19_angular_momentum(1.5), 3) == 1.236


# ------------------------------------------------------------------ E10: momentum
def test_momentum_identities():
    m = vf.momentum_identities()
    assert zero(m.heavy_ball_step - m.langevin_step)
    assert zero(m.temperature - m.temperature_expected)
    assert zero(m.virial_lhs - m.virial_rhs)
    beta = sp.Symbol("beta", positive=True)
    assert zero(m.circulation + 2 / beta)


def test_underdamped_phase_space_circulation_and_ringing():
    n, gamma, dt = 1000, 1.0, 0.01
    rng = np.random.default_rng(5)
    start = np.hstack([pot.example19_sample(n, rng), rng.standard_normal((n, 2))])

    def underdamped(z):
        x1, x2, p1, p2 = z.unbind(1)
        return torch.stack([p1, p2, -gamma * p1 - x1 * (x1 * x1 - 1), -gamma * p2 - x2], 1)

    sigma = np.zeros((4, 2))
    sigma[2, 0] = sigma[3, 1] = np.sqrt(2 * gamma)
    Zs = sde.euler_maruyama(underdamped, sigma, start, dt, 2000, seed=3, record_every=10,
                            dtype=torch.float64).snapshots
    weight = (Zs[..., 0] * Zs[..., 3] - Zs[..., 1] * Zs[..., 2]).mean(axis=0)
    phase = (Zs[..., 1] * (-gamma * Zs[..., 3] - Zs[..., 1]) - Zs[..., 3] ** 2).mean(axis=0)
    se_w, se_p = weight.std(ddof=1) / np.sqrt(n), phase.std(ddof=1) / np.sqrt(n)
    M = np.eye(2) + dt * np.array([[0.0, 1.0], [-1.0, -gamma]])
    S = linear.solve_lyapunov(M, dt * np.diag([0.0, 2 * gamma]), kind="discrete")
    em_value = -S[0, 0] - S[1, 1] - gamma * S[0, 1]
    assert abs(weight.mean()) < 4 * se_w
    assert abs(phase.mean() + 2) < 4 * se_p + abs(em_value + 2)
    assert se_p < 0.05
    # autocorrelation of x2 against the underdamped oscillator's; its standard error is about
    # 1 / sqrt(n * T / tau_corr) = 1 / sqrt(1000 * 20 / 2) = 0.01, so 0.05 is five of them
    x2 = Zs[:, :, 1]
    lags = np.arange(0, 61)
    acf = np.array([np.mean(x2[: len(x2) - k] * x2[k:]) for k in lags])
    tau = lags * 10 * dt
    w = np.sqrt(1 - gamma**2 / 4)
    exact = np.exp(-gamma * tau / 2) * (np.cos(w * tau) + gamma / (2 * w) * np.sin(w * tau))
    assert np.abs(acf - exact).max() < 0.05
    assert exact.min() < -0.15 and acf.min() < -0.1   # the negative lobe is resolved


# ------------------------------------------------------------------ exercises
def test_exercise_twisted_rotation_period():
    c = sp.Symbol("c", positive=True)
    assert zero(sp.diff(sp.pi * 2 * c, c) / (1 + c) - 2 * sp.pi / (1 + c))
    for cv in (0.5, 2.0):
        orb = vf.integrate_orbit(lambda X, Y: (-(1 + 0.5 * (X * X + Y * Y)) * Y, (1 + 0.5 * (X * X + Y * Y)) * X),
                                 (np.sqrt(2 * cv), 0.0), 20.0)
        assert abs(vf.orbit_periods(orb)[1].mean() - 2 * np.pi / (1 + cv)) < 1e-6


def test_exercise_circulation_grows_as_temperature_drops():
    def circulation(lam, beta):
        zx = quad(lambda s: np.exp(-beta * (s * s - 1) ** 2 / 4), -np.inf, np.inf)[0]
        return 2 * np.pi * lam / (np.sqrt(2 * np.pi / beta) * zx)

    assert abs(circulation(1.5, 1.0) - pot.example19_angular_momentum(1.5)) < 1e-10
    values = [circulation(1.5, b) for b in (0.5, 1.0, 2.0)]
    assert values[0] < values[1] < values[2]


def test_product_rule_with_beta_displayed_for_lemma7():
    """eq-lc-product-rule: div(j rho_ss) = rho_ss (div j - beta j . grad Phi) (E2, from chapter 05)."""
    d = fe.dissipation_identities()
    assert sym.is_zero(d.prod_lhs - d.prod_rhs)
