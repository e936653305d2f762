"""Every identity chapter 14 (SGD in discrete time) displays, asserted with sympy.simplify(lhs - rhs) == 0,
or numerically with the tolerance stated."""
import math

import numpy as np
import pytest
import sympy as sp

from vdlib.theory import discrete_sgd as ds

eta, h, C, lam, m, S, s2 = ds.eta, ds.h, ds.C1, ds.lam, ds.m, ds.S, ds.sigma2
a, l = sp.symbols("a l", positive=True)


def zero(expr) -> bool:
    if isinstance(expr, sp.MatrixBase):
        return all(sp.simplify(e) == 0 for e in expr)
    return sp.simplify(expr) == 0


@pytest.fixture(scope="module")
def add():
    return ds.additive_symbolic()


@pytest.fixture(scope="module")
def lab():
    return ds.label_noise_symbolic()


# ------------------------------------------------------------------ additive noise
def test_discrete_lyapunov_is_minus_eta_times_the_rearranged_form(add):
    assert zero(add.discrete + eta * add.rearranged)


def test_rearranged_form_at_eta_to_zero_is_the_sde_lyapunov_equation(add):
    sde = add.H * add.Sigma + add.Sigma * add.H - eta * add.C
    assert zero(add.rearranged - sde + eta * add.H * add.Sigma * add.H)


def test_one_dimensional_closed_forms(add):
    assert zero(add.var_sgd - eta * C / (h * (2 - eta * h)))
    assert zero(add.var_sde - eta * C / (2 * h))
    assert zero(add.ratio - 1 / (1 - eta * h / 2))
    assert zero((1 - add.var_sde / add.var_sgd) - eta * h / 2)  # the SDE's relative error


def test_stability_interval_and_divergence_at_the_limit(add):
    assert add.stable_eta_h == sp.Interval.open(0, 2)
    u = sp.Symbol("u", positive=True)
    assert sp.limit(add.ratio.subs(eta, u / h), u, 2, dir="-") == sp.oo


# ------------------------------------------------------------------ label noise
def test_label_noise_solution_equals_the_closed_form(lab):
    assert zero(lab.solved - lab.closed_form)
    assert lab.solved[0, 1] == 0


def test_label_noise_one_dimensional_forms(lab):
    a_ = sp.Symbol("a", positive=True)
    assert zero(lab.var_1d - lam * s2 / (S * (2 - lam * a_ * (1 + 2 / S))))
    assert zero(lab.var_1d_sde - lam * s2 / (S * (2 - lam * a_ * 2 / S)))
    assert zero(lab.var_1d_sde_constant - lam * s2 / (2 * S))


def test_label_noise_closed_form_reduces_to_the_1d_form(lab):
    a1 = sorted(lab.A.free_symbols, key=str)[0]
    G = 2 - lam * (1 + 1 / S) * a1
    one_d = (lam * s2 / S) / (1 - lam * (a1 / G) / S) / G
    a_ = sp.Symbol("a", positive=True)
    assert zero(one_d - lab.var_1d.subs(a_, a1))


def test_svag_closed_form_tends_to_the_state_dependent_sde(lab):
    a1, a2 = sorted(lab.A.free_symbols, key=str)
    svag = lab.closed_form.subs({lam: eta / l, m: l})
    G = sp.diag(2 - eta / S * a1, 2 - eta / S * a2)
    kappa = (lab.A * G.inv()).trace()
    sde = (eta * s2 / S) / (1 - eta * kappa / S) * G.inv()
    assert zero(svag.applyfunc(lambda e: sp.limit(e, l, sp.oo)) - sde)


def test_svag_weights_sum_to_one_and_their_squares_to_l():
    r = sp.sqrt(2 * l - 1)
    w1, w2 = (1 + r) / 2, (1 - r) / 2
    assert zero(w1 + w2 - 1)
    assert zero(w1**2 + w2**2 - l)
    for k in (1, 2, 4, 16):
        n1, n2 = ds.svag_weights(k)
        assert abs(n1 - float(w1.subs(l, k))) < 1e-12 and abs(n2 - float(w2.subs(l, k))) < 1e-12


def test_numeric_label_noise_matches_the_symbolic_closed_form(lab):
    a1, a2 = sorted(lab.A.free_symbols, key=str)
    vals = {a1: 1.0, a2: 0.25, lam: 0.5, m: 1, S: 2, s2: 1.0}
    sym = np.array(lab.closed_form.subs(vals).evalf(), dtype=float)
    assert np.allclose(ds.label_noise_covariance(np.diag([1.0, 0.25]), 0.5, 2, 1.0), sym, rtol=1e-12)


# ------------------------------------------------------------------ KL: the Gaussian formula and data processing
def test_gaussian_kl_is_the_1d_formula():
    v0, v1, m0, m1 = 0.7, 1.9, 0.3, -0.4
    exact = 0.5 * (v0 / v1 + (m1 - m0) ** 2 / v1 - 1 + math.log(v1 / v0))
    assert abs(ds.kl_gaussian([m0], [[v0]], [m1], [[v1]]) - exact) < 1e-14


def test_data_processing_for_the_gaussian_chain():
    """KL(μP‖νP) ≤ KL(μ‖ν) for one step of x' = Mx + ζ, on 200 random pairs (tolerance 1e-12)."""
    r = np.random.default_rng(0)
    M, Q = np.array([[0.4, 0.3], [-0.2, 0.7]]), np.array([[0.2, 0.05], [0.05, 0.1]])
    for _ in range(200):
        B0, B1 = r.standard_normal((2, 2)), r.standard_normal((2, 2))
        S0, S1 = B0 @ B0.T + 0.05 * np.eye(2), B1 @ B1.T + 0.05 * np.eye(2)
        m0, m1 = r.standard_normal(2), r.standard_normal(2)
        before = ds.kl_gaussian(m0, S0, m1, S1)
        after = ds.kl_gaussian(M @ m0, M @ S0 @ M.T + Q, M @ m1, M @ S1 @ M.T + Q)
        assert after <= before + 1e-12
