"""Every identity chapter 02 (SGD as an SDE) displays, asserted with sympy.simplify(lhs - rhs) == 0."""
import numpy as np
import pytest
import sympy as sp

from vdlib.theory import linear
from vdlib.theory import sgd_symbolic as sym

eta, b, N, h, D, mu, T = sym.eta, sym.b, sym.N, sym.h, sym.D1, sym.mu, sym.T


def zero(expr) -> bool:
    if isinstance(expr, sp.MatrixBase):
        return all(sp.simplify(e) == 0 for e in expr)
    return sp.simplify(expr) == 0


@pytest.fixture(scope="module")
def mm():
    return sym.moment_matching()


@pytest.fixture(scope="module")
def lyap():
    return sym.lyapunov_forms()


@pytest.fixture(scope="module")
def one():
    return sym.one_dimensional()


@pytest.fixture(scope="module")
def hb():
    return sym.heavy_ball()


# ------------------------------------------------------------------ moment matching (Lemma 2)
def test_temperature_from_moment_matching(mm):
    assert sp.simplify(mm.temperature - eta / (2 * b)) == 0
    assert zero(mm.sgd_mean - mm.em_mean)
    assert zero(mm.sgd_cov - mm.em_cov.subs(T, mm.temperature))
    assert not zero(mm.sgd_cov - mm.em_cov.subs(T, eta / b))  # the matching is not vacuous


def test_temperature_without_replacement(mm):
    assert sp.simplify(mm.temperature_without_replacement - eta / (2 * b) * (1 - b / N)) == 0


def test_numeric_temperature_agrees_with_symbolic(mm):
    vals = {eta: 0.03, b: 7, N: 50}
    assert np.isclose(float(mm.temperature.subs(vals)), linear.temperature(0.03, 7))
    assert np.isclose(float(mm.temperature_without_replacement.subs(vals)),
                      linear.temperature(0.03, 7, replacement=False, N=50))


# ------------------------------------------------------------------ Lyapunov equations
def test_discrete_equals_minus_eta_times_corrected(lyap):
    assert zero(lyap.discrete + eta * lyap.corrected)


def test_corrected_is_continuous_minus_eta_HSigmaH(lyap):
    assert zero(lyap.corrected - (lyap.continuous - eta * lyap.H * lyap.Sigma * lyap.H))


def test_scaled_equation_tends_to_the_continuous_one(lyap):
    assert zero(lyap.scaled_limit - (lyap.H * lyap.S + lyap.S * lyap.H - lyap.D))
    # and the scaled equation no longer contains b
    assert all(b not in e.free_symbols for e in lyap.scaled_corrected)


# ------------------------------------------------------------------ one dimension
def test_one_dimensional_closed_forms(one):
    assert sp.simplify(one.continuous - eta * D / (2 * b * h)) == 0
    assert sp.simplify(one.discrete - eta * D / (b * h * (2 - eta * h))) == 0
    assert sp.simplify(one.ratio - 1 / (1 - eta * h / 2)) == 0
    assert sp.simplify(one.ratio_series - (1 + eta * h / 2 + (eta * h) ** 2 / 4)) == 0


def test_stability_limit(one):
    assert one.stable_eta_h == sp.Interval.open(0, 2)
    assert sp.simplify(one.eta_max - 2 / h) == 0


def test_one_dimensional_forms_agree_with_the_numerical_solvers(one):
    vals = {h: 3.0, D: 2.0, b: 10, eta: 0.05}
    assert np.isclose(float(one.continuous.subs(vals)), linear.continuous_lyapunov_covariance(3.0, 2.0, 0.05, 10)[0, 0])
    assert np.isclose(float(one.discrete.subs(vals)), linear.discrete_sgd_covariance(3.0, 2.0, 0.05, 10)[0, 0])


# ------------------------------------------------------------------ Euler–Maruyama with dt = eta
def test_em_recursion_at_sgd_scale_is_sgds():
    em = sym.em_recursion()
    assert zero(em.em_at_sgd_scale - em.sgd)
    assert not zero(em.em.subs(sym.dt, eta) - em.sgd)  # it needs the temperature eta/(2b)


# ------------------------------------------------------------------ heavy-ball momentum (E10)
def test_heavy_ball_exact_variance(hb):
    exact = eta * D * (1 + mu) / (b * h * (1 - mu) * (2 * (1 + mu) - eta * h))
    assert sp.simplify(hb.Sxx - exact) == 0


def test_heavy_ball_leading_order_and_temperature(hb):
    assert sp.simplify(hb.leading - eta * D / (2 * b * h * (1 - mu))) == 0
    assert sp.simplify(hb.temperature - eta / (2 * b * (1 - mu))) == 0
    assert sp.simplify(hb.Sxx / hb.leading - 1 / (1 - eta * h / (2 * (1 + mu)))) == 0


def test_heavy_ball_without_momentum_is_plain_sgd(hb, one):
    assert sp.simplify(hb.Sxx.subs(mu, 0) - one.discrete) == 0


def test_heavy_ball_matches_the_numerical_lyapunov_solver(hb):
    vals = {h: 3.0, D: 2.0, b: 10, eta: 0.02, mu: 0.9}
    A = np.array(hb.A.subs(vals), dtype=float)
    Q = np.array(hb.noise.subs(vals), dtype=float)
    S = linear.solve_lyapunov(A, Q, kind="discrete")
    assert np.isclose(S[0, 0], float(hb.Sxx.subs(vals)))
    assert np.isclose(S[0, 1], float(hb.Sxv.subs(vals)))
    assert np.isclose(S[1, 1], float(hb.Svv.subs(vals)))
