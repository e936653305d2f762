"""Every identity chapter 12 (practical consequences) displays, checked against an oracle: the discrete
stationary variance at fixed η/b (eq-scale-discrete-lyapunov) by simulation, the without-replacement
factor (eq-scale-replacement) by enumeration, the heavy-ball stability limit (eq-scale-stability) by
the spectral radius, and the conversion tr Σ_B -> tr D (eq-scale-temperature) on an additive loss."""
import math

import numpy as np
import pytest

from vdlib.theory import minibatch_noise


def test_discrete_variance_at_fixed_eta_over_b_by_simulation():
    h, D = 1.0, 1.0
    r = np.random.default_rng(0)
    for eta, b in ((0.05, 1), (0.8, 16)):
        x = np.zeros(4000)
        for _ in range(3000):
            x = x - eta * (h * x + math.sqrt(D / b) * r.standard_normal(x.size))
        exact = eta * D / (b * h * (2 - eta * h))
        assert abs(x.var() - exact) < 5 * exact * math.sqrt(2 / x.size)
    # along eta/b fixed, discrete/SDE = 2/(2 - eta h)
    assert np.isclose((0.8 / (16 * (2 - 0.8))) / (0.8 / 32), 2 / (2 - 0.8))


@pytest.mark.parametrize("N,b", [(12, 3), (10, 5)])
def test_without_replacement_factor_by_enumeration(N, b):
    G = np.random.default_rng(N).standard_normal((N, 3))
    D = minibatch_noise.diffusion_matrix(G)
    exact_wo = np.asarray(minibatch_noise.enumerate_minibatch_covariance(G, b, replacement=False))
    assert np.allclose(exact_wo, (1 - b / N) * N / (N - 1) * D / b)
    exact_w = np.asarray(minibatch_noise.enumerate_minibatch_covariance(G, 2, replacement=True))
    assert np.allclose(exact_w, D / 2)


def test_trace_conversion_recovers_tr_D():
    """tr D = tr Σ_B · b · (1 − 1/N) / (1 − b/N) for sampling without replacement."""
    N, b = 12, 4
    G = np.random.default_rng(1).standard_normal((N, 5))
    D = minibatch_noise.diffusion_matrix(G)
    tr_sigma = np.trace(np.asarray(minibatch_noise.enumerate_minibatch_covariance(G, b, replacement=False)))
    assert np.isclose(tr_sigma * b * (1 - 1 / N) / (1 - b / N), np.trace(D))


@pytest.mark.parametrize("mu", [0.0, 0.5, 0.9])
def test_heavy_ball_stability_limit(mu):
    def radius(x):  # x = eta * lambda
        return np.abs(np.linalg.eigvals(np.array([[1 + mu - x, -mu], [1.0, 0.0]]))).max()

    limit = 2 * (1 + mu)
    assert radius(0.99 * limit) < 1 < radius(1.01 * limit)
    assert radius(0.01) < 1
