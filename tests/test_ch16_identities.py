"""Identities shown in chapter 16 (momentum and the limiting dynamics of SGD)."""
import sympy as sp

from vdlib.theory import limiting_dynamics as ld
from vdlib.theory.limiting_dynamics import C1, eta, h, lam, mu, theta_s, u_s

F = ld.underdamped_symbolic()
T = eta * C1 / (2 * (1 - mu))


def test_stationary_covariance_is_gibbs_in_phase_space():
    assert sp.simplify(F.P[0, 0] - T / (h + lam)) == 0
    assert sp.simplify(F.P[1, 1] - T / F.mass) == 0
    assert sp.simplify(F.P[0, 1]) == 0
    assert sp.simplify(F.temperature - T) == 0


def test_modified_loss_is_the_energy_over_the_temperature():
    energy = (h + lam) * theta_s**2 / 2 + F.mass * u_s**2 / 2
    assert sp.simplify(F.modified_loss - energy / T) == 0


def test_lyapunov_and_decomposition():
    assert sp.simplify(F.F * F.P + F.P * F.F.T - F.noise) == sp.zeros(2, 2)
    U = F.P.inv()
    assert sp.simplify((F.noise / 2 + F.Q) * U - F.F) == sp.zeros(2, 2)


def test_circulation_rate():
    assert sp.simplify(F.area_rate + 2 * C1 / (1 - mu**2)) == 0


def test_discrete_heavy_ball_and_its_limit():
    ratio = sp.simplify(F.discrete[0, 0] / F.P[0, 0])
    assert sp.simplify(ratio - 1 / (1 - eta * (h + lam) / (2 * (1 + mu)))) == 0
    assert sp.simplify(F.discrete_leading - F.P) == sp.zeros(2, 2)
