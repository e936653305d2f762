"""Heavy-ball SGD near a minimum: the underdamped phase-space model, the exact discrete law, simulation."""
import numpy as np
import pytest

from vdlib.theory import limiting_dynamics as ld
from vdlib.theory.regression import make_linear_regression

PROB = make_linear_regression(2000, seed=0)
ETA, B, MU, LAM = 0.01, 4, 0.9, 0.1


def test_simulation_matches_the_exact_discrete_covariance_within_standard_errors():
    P = ld.exact_heavy_ball_covariance(PROB, ETA, B, MU, LAM)
    est = ld.simulate_heavy_ball(PROB, ETA, B, MU, LAM, n_chains=100, n_steps=2000, burn_in=400, seed=1)
    z = (est.cov - P) / est.cov_se
    assert np.max(np.abs(z[np.triu_indices(4)])) < 4.5


def test_exact_discrete_tends_to_the_underdamped_model_as_eta_to_zero():
    gaps = []
    for eta in (0.004, 0.001):
        P = ld.to_physical_velocity(ld.additive_heavy_ball_covariance(PROB.hessian(), ld.noise_at_minimiser(PROB, B, LAM),
                                                                       eta, MU, LAM), eta)
        M = ld.phase_space_model(PROB.hessian(), ld.noise_at_minimiser(PROB, B, LAM), eta, MU, LAM)
        gaps.append(np.max(np.abs(P[:2, :2] / M.P[:2, :2] - 1)))
    assert gaps[1] < gaps[0] / 3 and gaps[1] < 0.01


def test_model_decomposition_and_commuting_case():
    H, C = np.diag([1.0, 3.0]), np.diag([0.5, 1.5])
    M = ld.phase_space_model(H, C, 0.02, 0.9, 0.0)
    assert np.allclose((M.Dz + M.Q) @ M.U, M.F, atol=1e-8)
    T = 0.02 * C / (2 * 0.1)
    assert np.allclose(M.P[:2, :2], T @ np.linalg.inv(H))
    assert np.allclose(M.P[:2, 2:], 0, atol=1e-12)
    assert M.area_rate(0, 2) == pytest.approx(-2 * M.P[2, 2])


def test_bad_input_says_what_to_change():
    with pytest.raises(ValueError, match="momentum"):
        ld.phase_space_model(np.eye(2), np.eye(2), 0.1, 1.0)
    with pytest.raises(ValueError, match="positive definite"):
        ld.phase_space_model(np.diag([1.0, 0.0]), np.eye(2), 0.1, 0.9)
    with pytest.raises(TypeError, match="LinearRegression"):
        ld.exact_heavy_ball_covariance(np.eye(2), 0.1, 4, 0.9)
    with pytest.raises(ValueError, match="diverges"):
        ld.exact_heavy_ball_covariance(PROB, 0.9, 1, 0.9)
    with pytest.raises(ValueError, match="burn_in"):
        ld.simulate_heavy_ball(PROB, 0.01, 4, 0.9, n_chains=2, n_steps=10, burn_in=10, seed=0)
