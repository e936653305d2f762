"""vdlib.theory.sde: the vectorised Euler–Maruyama integrator."""
import numpy as np
import pytest
import torch

from vdlib.theory import sde


def _ou(theta):
    return lambda x: -theta * x


def test_ou_stationary_variance_matches_the_exact_values():
    """1-D OU dx = −θx dt + s dW: EM's stationary variance is s²/(θ(2 − θΔt)) exactly, the SDE's s²/(2θ)."""
    theta, s, dt = 1.0, 0.7, 0.05
    n, n_steps, burn = 2000, 3000, 500  # relaxation time 1/θ = 20 steps: the burn-in is 25 of them
    res = sde.euler_maruyama(_ou(theta), [[s]], np.zeros((n, 1)), dt, n_steps, seed=1, average_from=burn,
                             dtype=torch.float64)
    cov, se = res.stationary_covariance(center=[0.0])
    est, se = cov[0, 0], se[0, 0]
    em_exact = s**2 / (theta * (2 - theta * dt))
    sde_exact = s**2 / (2 * theta)
    assert abs(est - em_exact) < 4 * se, (est, em_exact, se)
    # the SDE's own variance differs by the O(θΔt) discretisation bias, which the test accounts for
    assert abs(est - sde_exact) < 4 * se + (em_exact - sde_exact)
    assert se / est < 0.02  # the test has power: the error bar is small against the signal


def test_ou_multidimensional_matches_discrete_lyapunov():
    from vdlib.theory import linear

    H = np.array([[1.0, 0.3], [0.3, 2.0]])
    sigma = np.array([[0.5, 0.0], [0.4, 0.3]])
    dt = 0.05
    Ht = torch.tensor(H)
    res = sde.euler_maruyama(lambda x: -x @ Ht, sigma, np.zeros((2000, 2)), dt, 2000, seed=2,
                             average_from=500, dtype=torch.float64)
    cov, se = res.stationary_covariance(center=[0.0, 0.0])
    M = np.eye(2) - dt * H
    predicted = linear.solve_lyapunov(M, dt * sigma @ sigma.T, kind="discrete")
    assert np.all(np.abs(cov - predicted) < 4 * se), (cov, predicted, se)


def test_constant_matrix_callable_and_batch_give_the_same_path():
    n, d = 50, 2
    S = torch.tensor([[0.3, 0.1], [0.0, 0.2]])
    x0 = np.ones((n, d))
    drift = lambda x: -x  # noqa: E731
    a = sde.euler_maruyama(drift, S, x0, 0.01, 100, seed=5)
    b = sde.euler_maruyama(drift, lambda x: S, x0, 0.01, 100, seed=5)
    c = sde.euler_maruyama(drift, lambda x: S.expand(x.shape[0], d, d), x0, 0.01, 100, seed=5)
    assert np.allclose(a.final, b.final) and np.allclose(a.final, c.final, atol=1e-6)


@pytest.mark.parametrize("sigma", [0.7, [[0.3, 0.0], [0.0, 0.2]]])
def test_diagonal_fast_path_matches_the_matrix_product(sigma):
    """A constant scalar/diagonal σ skips the matrix product; the path must equal the general route's."""
    n, d = 64, 2
    S = torch.as_tensor(np.asarray(sigma, dtype=float) * (np.eye(d) if np.ndim(sigma) == 0 else 1.0), dtype=torch.float32)
    drift = lambda x: -x + 0.3 * x.flip(1)  # noqa: E731
    x0 = np.ones((n, d))
    fast = sde.euler_maruyama(drift, sigma, x0, 0.01, 200, seed=11)
    general = sde.euler_maruyama(drift, lambda x: S, x0, 0.01, 200, seed=11)  # a callable takes the z σᵀ route
    assert np.allclose(fast.final, general.final, atol=1e-5)
    assert not np.allclose(fast.final, x0)  # the noise and drift did act


def test_seeds_reproduce_and_differ():
    args = (_ou(1.0), [[1.0]], np.zeros((100, 1)), 0.01, 200)
    r1, r2, r3 = (sde.euler_maruyama(*args, seed=s) for s in (3, 3, 4))
    assert np.array_equal(r1.final, r2.final)
    assert not np.array_equal(r1.final, r3.final)


def test_snapshots_and_times():
    res = sde.euler_maruyama(_ou(1.0), [[1.0]], np.zeros((10, 1)), 0.1, 25, record_every=10)
    assert res.snapshots.shape == (4, 10, 1)  # t = 0, 1, 2 and the final 2.5
    assert np.allclose(res.times, [0.0, 1.0, 2.0, 2.5])
    assert np.array_equal(res.snapshots[-1], res.final)
    assert np.all(res.snapshots[0] == 0)
    one = sde.euler_maruyama(_ou(1.0), [[1.0]], [0.0], 0.1, 5)  # a single particle given as (d,)
    assert one.final.shape == (1, 1)


def test_float64_is_allowed_and_float16_is_not():
    r = sde.euler_maruyama(_ou(1.0), [[1.0]], np.zeros((5, 1)), 0.1, 3, dtype=torch.float64)
    assert r.final.dtype == np.float64
    with pytest.raises(ValueError, match="dtype must be torch.float32 or torch.float64"):
        sde.euler_maruyama(_ou(1.0), [[1.0]], np.zeros((5, 1)), 0.1, 3, dtype=torch.float16)


def test_divergence_names_the_step():
    """Noise-free explosive drift: x_k = 1001^k in float32 overflows at a step we can compute."""
    rate, dt = 1000.0, 1.0
    first_inf = int(np.floor(np.log(np.finfo(np.float32).max) / np.log(1 + rate * dt))) + 1
    with pytest.raises(FloatingPointError, match=rf"diverged at step {first_inf} \(t = {first_inf:g}\).*reduce dt"):
        sde.euler_maruyama(lambda x: rate * x, [[0.0]], np.ones((3, 1)), dt, 100)


@pytest.mark.parametrize("dt", [0.0, -0.1, float("nan"), float("inf")])
def test_bad_dt(dt):
    with pytest.raises(ValueError, match="dt must be a positive finite number"):
        sde.euler_maruyama(_ou(1.0), [[1.0]], np.zeros((5, 1)), dt, 10)


def test_bad_shapes_and_arguments():
    x0 = np.zeros((5, 2))
    with pytest.raises(ValueError, match=r"drift\(x\) must return a tensor of shape \(n_particles, d\) = \(5, 2\)"):
        sde.euler_maruyama(lambda x: x[:, :1], np.eye(2), x0, 0.1, 10)
    with pytest.raises(ValueError, match="constant diffusion_sqrt must be a d×m matrix with d=2 rows"):
        sde.euler_maruyama(lambda x: -x, np.eye(3), x0, 0.1, 10)
    with pytest.raises(ValueError, match=r"diffusion_sqrt\(x\) must return a d×m matrix"):
        sde.euler_maruyama(lambda x: -x, lambda x: torch.ones(4, 2, 2), x0, 0.1, 10)
    with pytest.raises(ValueError, match=r"x0 must have shape \(n_particles, d\)"):
        sde.euler_maruyama(lambda x: -x, np.eye(2), np.zeros((2, 2, 2)), 0.1, 10)
    with pytest.raises(ValueError, match="x0 contains NaN"):
        sde.euler_maruyama(lambda x: -x, np.eye(2), np.full((5, 2), np.nan), 0.1, 10)
    with pytest.raises(ValueError, match="n_steps must be at least 1"):
        sde.euler_maruyama(lambda x: -x, np.eye(2), x0, 0.1, 0)
    with pytest.raises(ValueError, match="average_from=10 must be smaller than n_steps=10"):
        sde.euler_maruyama(lambda x: -x, np.eye(2), x0, 0.1, 10, average_from=10)
    with pytest.raises(TypeError, match="drift must be a callable"):
        sde.euler_maruyama(np.eye(2), np.eye(2), x0, 0.1, 10)
    res = sde.euler_maruyama(lambda x: -x, np.eye(2), x0, 0.1, 10)
    with pytest.raises(ValueError, match="average_from"):
        res.stationary_covariance()


def test_thread_setting_is_restored():
    before = torch.get_num_threads()
    sde.euler_maruyama(_ou(1.0), [[1.0]], np.zeros((5, 1)), 0.1, 3)
    assert torch.get_num_threads() == before
