"""Every identity chapter 17 shows (local entropy), checked in SymPy or numerically with stated tolerances."""
import numpy as np
import pytest
import sympy as sp
from scipy.integrate import quad

from vdlib.theory import local_entropy as le
from vdlib.theory.potential_symbolic import phi_1d


@pytest.fixture(scope="module")
def S():
    return le.symbolic_1d()


def test_gradient_is_minus_gamma_x_minus_local_mean(S):
    assert sp.simplify(S.grad_F - S.grad_identity_rhs) == 0


def test_gradient_identity_control_a_wrong_factor_does_not_vanish(S):
    gamma = S.symbols["gamma"]
    assert sp.expand(S.grad_F - S.grad_identity_rhs) == 0  # the same zero test the controls fail
    assert sp.expand(S.grad_F - 2 * S.grad_identity_rhs) != 0
    assert sp.expand(S.grad_F - S.grad_identity_rhs / gamma) != 0


def test_large_gamma_expansion(S):
    x, beta, gamma, f = (S.symbols[k] for k in ("x", "beta", "gamma", "f"))
    expected = (-f(x) + (beta * sp.diff(f(x), x) ** 2 - sp.diff(f(x), x, 2)) / (2 * beta * gamma)
                - sp.log(beta * gamma / (2 * sp.pi)) / (2 * beta))
    assert sp.simplify(S.large_gamma_F - expected) == 0


def test_large_gamma_expansion_error_is_second_order_numerically():
    """Quadrature against the expansion for a quartic: the remainder falls ~4x when gamma doubles."""
    beta = 2.0
    f = lambda s: 0.25 * s**4 - s  # noqa: E731
    fp = lambda s: s**3 - 1  # noqa: E731
    fpp = lambda s: 3 * s**2  # noqa: E731
    xs = np.linspace(-3, 3, 3001)
    errs = []
    for g in (100.0, 200.0, 400.0):
        F = le.local_entropy_1d(f, xs, g, beta)
        approx = -f(xs) - np.log(beta * g / (2 * np.pi)) / (2 * beta) + (beta * fp(xs) ** 2 - fpp(xs)) / (2 * beta * g)
        errs.append(np.max(np.abs(F - approx)[np.abs(xs) < 1.0]))
    assert 3.0 < errs[0] / errs[1] < 5.0 and 3.0 < errs[1] / errs[2] < 5.0


def test_quadratic_closed_form(S):
    h, gamma, a = S.symbols["h"], S.symbols["gamma"], S.symbols["a"]
    assert sp.simplify(S.quadratic_curvature - h * gamma / (h + gamma)) == 0
    assert sp.simplify(S.quadratic_minimiser - a) == 0
    assert sp.limit(S.quadratic_curvature, gamma, sp.oo) == h
    assert sp.limit(S.quadratic_curvature / gamma, gamma, 0) == 1  # gamma -> 0: curvature ~ gamma


def test_quadratic_symbolic_matches_library_closed_form(S):
    vals = {S.symbols["h"]: 5.0, S.symbols["gamma"]: 2.0, S.symbols["beta"]: 3.0, S.symbols["a"]: 0.5}
    fn = sp.lambdify(S.symbols["x"], S.quadratic_F.subs(vals))
    xs = np.linspace(-2, 2, 9)
    assert np.allclose(fn(xs), le.quadratic_local_entropy(xs, 5.0, 2.0, 3.0, a=0.5), atol=1e-12)


def test_gaussian_integral_used_for_the_quadratic():
    A, B, C = 1.7, 0.6, -0.3
    num = quad(lambda t: np.exp(-A * t * t + B * t - C), -np.inf, np.inf)[0]
    assert abs(num - np.sqrt(np.pi / A) * np.exp(B * B / (4 * A) - C)) < 1e-10


def test_quadrature_matches_quadratic_closed_form():
    xs = np.linspace(-6, 6, 1201)
    F = le.local_entropy_1d(lambda s: 2.5 * (s - 0.5) ** 2, xs, 2.0, 3.0)
    closed = le.quadratic_local_entropy(xs, 5.0, 2.0, 3.0, a=0.5)
    assert np.max(np.abs(F - closed)[np.abs(xs) < 3]) < 1e-6


def test_gradient_identity_numerically_on_the_toy_loss():
    land = le.narrow_wide_1d()
    xs = np.linspace(-4, 5, 3601)
    for beta, g in ((2.0, 3.0), (10.0, 20.0)):
        F = le.local_entropy_1d(land.f, xs, g, beta)
        fd = np.gradient(F, xs)
        rhs = -g * (xs - le.local_gibbs_mean_1d(land.f, xs, g, beta))
        core = np.abs(xs) < 2.5
        assert np.max(np.abs(fd - rhs)[core]) < 1e-3 * max(1.0, np.max(np.abs(rhs[core])))


def test_total_mass_of_exp_beta_F_is_the_smoothed_mass():
    """Fubini: the integral of e^{beta F} is (2 pi/beta gamma)^{1/2} times the integral of e^{-beta f}."""
    land = le.narrow_wide_1d()
    xs = np.linspace(-25, 25, 3001)  # wide enough that e^{-beta f} is below e^{-12} at the ends
    dx = xs[1] - xs[0]
    beta, g = 2.0, 3.0
    lhs = np.exp(beta * le.local_entropy_1d(land.f, xs, g, beta)).sum() * dx
    rhs = np.sqrt(2 * np.pi / (beta * g)) * np.exp(-beta * land.f(xs)).sum() * dx
    assert abs(lhs / rhs - 1) < 1e-3


def test_zero_temperature_limit_is_the_moreau_envelope():
    land = le.narrow_wide_1d()
    xs = np.linspace(-4, 5, 3601)
    env = le.moreau_envelope_1d(land.f, xs, 10.0)
    gaps = []
    for beta in (10.0, 100.0, 1000.0):
        negF = -le.local_entropy_1d(land.f, xs, 10.0, beta)
        core = np.abs(xs) < 3
        gaps.append(np.max(np.abs((negF - negF[core].min()) - (env - env[core].min()))[core]))
    assert gaps[0] > gaps[1] > gaps[2] and gaps[2] < 0.02
    assert abs(xs[np.argmin(env)] - xs[np.argmin(land.f(xs))]) < 1e-9


def test_phi_with_constant_noise_is_f():
    """D = 1: Phi = f up to the trapezoid rule's error, which falls 16x when the grid is 4x finer."""
    land = le.narrow_wide_1d(noise_gain=0.0)
    errs = []
    for n in (2001, 8001):
        xs = np.linspace(-4, 5, n)
        errs.append(np.max(np.abs(phi_1d(land.grad, land.D, 5.0, xs) - (land.f(xs) - land.f(xs).min()))))
    assert errs[1] < 1e-4 and 12 < errs[0] / errs[1] < 20


def test_phi_2d_constant_D_reproduces_gibbs():
    land = le.narrow_wide_2d()
    xs, ys = np.linspace(-3, 3.5, 131), np.linspace(-3, 3, 121)
    X, Y = np.meshgrid(xs, ys, indexing="ij")
    phi = le.phi_2d(land, 5.0, xs, ys, constant_D=True)
    f = land.f(X, Y) - land.f(X, Y).min()
    core = (np.abs(X) < 2.5) & (np.abs(Y) < 2.5)
    assert np.max(np.abs(phi - f)[core]) < 0.02  # second-order finite volumes, the narrow well spans 3 cells
    assert le.mode_location(-5 * phi, xs, ys) == le.mode_location(-5 * f, xs, ys)
