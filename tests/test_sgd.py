"""vdlib.theory.sgd: many-chain SGD on least squares, its exact covariance, and the SDE counterpart."""
import numpy as np
import pytest
import torch

from vdlib.theory import linear, sgd
from vdlib.theory.regression import make_linear_regression


@pytest.fixture(scope="module")
def hetero():
    return make_linear_regression(N=2000, seed=0)


@pytest.fixture(scope="module")
def homo():
    return make_linear_regression(N=2000, seed=1, noise="homoscedastic")


def _within(est, se, target, k=4.0):
    """|est − target| < k·se entry by entry; returns the z-scores for the message."""
    z = (est - target) / se
    return np.all(np.abs(z) < k), np.round(z, 2)


def test_homoscedastic_sgd_matches_the_discrete_lyapunov_prediction(homo):
    eta, b = 0.02, 50
    H, xs = homo.hessian(), homo.minimiser()
    predicted = linear.discrete_sgd_covariance(H, homo.diffusion(xs), eta, b)
    run = sgd.run_sgd_chains(homo, eta, b, n_steps=2000, n_chains=1000, seed=0, burn_in=500)
    # the test is about the constant-D prediction: the state-dependent correction must be below the MC error
    exact = sgd.exact_sgd_covariance(homo, eta, b).sigma
    assert np.all(np.abs(exact - predicted) < run.cov_se), "choose a smaller eta/b: the constant-D bias is visible"
    ok, z = _within(run.cov, run.cov_se, predicted)
    assert ok, f"SGD vs discrete Lyapunov, z = {z}"
    assert np.all(run.cov_se < 0.02 * np.abs(np.diag(predicted)).min())  # tight enough to mean something
    ok, z = _within(run.mean, run.mean_se, xs)
    assert ok, f"stationary mean is x*, z = {z}"


def test_heteroscedastic_sgd_matches_the_exact_covariance(hetero):
    eta, b = 0.04, 10
    run = sgd.run_sgd_chains(hetero, eta, b, n_steps=1500, n_chains=1000, seed=1, burn_in=500)
    exact = sgd.exact_sgd_covariance(hetero, eta, b).sigma
    ok, z = _within(run.cov, run.cov_se, exact)
    assert ok, f"SGD vs exact least-squares covariance, z = {z}"


@pytest.mark.parametrize("b", [5, 30])  # Floyd's sampler (b <= 16) and the random-key sampler
def test_without_replacement_matches_its_exact_covariance(b):
    small = make_linear_regression(N=40, seed=3, noise="homoscedastic")
    eta = 0.05
    run = sgd.run_sgd_chains(small, eta, b, n_steps=1500, n_chains=600, seed=4, replacement=False, burn_in=300)
    exact_wo = sgd.exact_sgd_covariance(small, eta, b, replacement=False).sigma
    exact_wi = sgd.exact_sgd_covariance(small, eta, b, replacement=True).sigma
    ok, z = _within(run.cov, run.cov_se, exact_wo)
    assert ok, f"without replacement, z = {z}"
    # and the factor (N - b)/(N - 1) is resolved: the with-replacement prediction is far away
    assert np.any(np.abs(run.cov - exact_wi) > 6 * run.cov_se)


def test_batch_sampler_without_replacement_is_uniform_and_distinct():
    gen = torch.Generator().manual_seed(0)
    n, N = 20000, 30
    for b in (4, 20):
        idx = sgd._sample_batches(n, N, b, replacement=False, gen=gen, device="cpu")
        assert idx.shape == (n, b)
        srt = idx.sort(dim=1).values
        assert bool((srt[:, 1:] != srt[:, :-1]).all()), "repeated index within a batch"
        counts = torch.bincount(idx.reshape(-1), minlength=N).double().numpy()
        p = b / N  # each index is in a batch with probability b/N
        se = np.sqrt(n * p * (1 - p))
        assert np.all(np.abs(counts - n * p) < 5 * se)


def test_exact_covariance_solves_its_equation_and_mean_diffusion_is_the_average_of_D(hetero):
    eta, b = 0.04, 10
    ex = sgd.exact_sgd_covariance(hetero, eta, b)
    S, H = ex.sigma, hetero.hessian()
    M = np.eye(2) - eta * H
    assert np.allclose(S, M @ S @ M + eta**2 / b * ex.mean_diffusion, rtol=1e-10, atol=1e-14)
    # D is quadratic in x, so its average over any law with mean x* and covariance S equals its
    # average over the 2d sigma points x* ± sqrt(d λ_i) v_i
    xs = hetero.minimiser()
    lam, V = np.linalg.eigh(S)
    pts = [xs + s * np.sqrt(2 * l) * v for l, v in zip(lam, V.T) for s in (1, -1)]
    avg = np.mean([hetero.diffusion(p) for p in pts], axis=0)
    assert np.allclose(avg, ex.mean_diffusion, rtol=1e-9)
    assert np.linalg.eigvalsh(ex.mean_diffusion - ex.diffusion_at_minimum).min() >= -1e-12  # D grows


def test_exact_tends_to_discrete_as_eta_over_b_shrinks(hetero):
    H, D = hetero.hessian(), hetero.diffusion(hetero.minimiser())
    rel = []
    for b in (10, 100):
        ex = sgd.exact_sgd_covariance(hetero, 0.02, b).sigma
        disc = linear.discrete_sgd_covariance(H, D, 0.02, b)
        rel.append(np.abs(ex - disc).max() / np.abs(disc).max())
    assert rel[1] < rel[0] / 5


def test_diffusion_field_matches_the_per_sample_definition(hetero):
    field = sgd.diffusion_field(hetero)
    rng = np.random.default_rng(0)
    xs = hetero.minimiser() + 0.3 * rng.normal(size=(4, 2))
    batch = field(torch.as_tensor(xs)).numpy()
    for x, Dx in zip(xs, batch):
        assert np.allclose(Dx, hetero.diffusion(x), rtol=1e-10)


def test_sde_with_constant_D_has_the_discrete_covariance(hetero):
    eta, b = 0.04, 10
    H, D = hetero.hessian(), hetero.diffusion(hetero.minimiser())
    run = sgd.run_sde_chains(hetero, eta, b, n_steps=1500, n_chains=1000, seed=2, burn_in=500)
    ok, z = _within(run.cov, run.cov_se, linear.discrete_sgd_covariance(H, D, eta, b))
    assert ok, f"EM with constant D vs discrete Lyapunov, z = {z}"
    assert run.method == "sde-constant"


def test_sde_with_state_dependent_D_has_the_exact_sgd_covariance(hetero):
    eta, b = 0.04, 10
    run = sgd.run_sde_chains(hetero, eta, b, n_steps=1500, n_chains=1000, seed=3, burn_in=500, diffusion="state")
    ok, z = _within(run.cov, run.cov_se, sgd.exact_sgd_covariance(hetero, eta, b).sigma)
    assert ok, f"EM with D(x) vs exact SGD covariance, z = {z}"


def test_seeds_reproduce_and_snapshots(hetero):
    kw = dict(n_steps=60, n_chains=20, burn_in=30)
    a = sgd.run_sgd_chains(hetero, 0.02, 10, seed=7, record_every=20, **kw)
    b = sgd.run_sgd_chains(hetero, 0.02, 10, seed=7, **kw)
    c = sgd.run_sgd_chains(hetero, 0.02, 10, seed=8, **kw)
    assert np.array_equal(a.cov, b.cov) and np.array_equal(a.final, b.final)
    assert not np.array_equal(a.final, c.final)
    assert a.snapshots.shape == (4, 20, 2) and list(a.steps) == [0, 20, 40, 60]
    assert np.array_equal(a.snapshots[-1], a.final)
    assert np.allclose(a.snapshots[0], hetero.minimiser())  # chains start at x* by default
    assert a.per_chain_cov.shape == (20, 2, 2)
    assert a.noise_scale == pytest.approx(0.002)


def test_x0_and_float32(hetero):
    x0 = hetero.minimiser() + 1.0
    r = sgd.run_sgd_chains(hetero, 0.02, 10, 20, 5, seed=0, burn_in=10, x0=x0, record_every=20,
                           dtype=torch.float32)
    assert np.allclose(r.snapshots[0], x0, atol=1e-6)
    with pytest.raises(ValueError, match=r"x0 must have shape \(d,\) = \(2,\) or \(n_chains, d\) = \(5, 2\)"):
        sgd.run_sgd_chains(hetero, 0.02, 10, 20, 5, x0=np.zeros(3))


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(eta=0.0), ValueError, "eta must be a positive"),
        (dict(eta=-1.0), ValueError, "eta must be a positive"),
        (dict(b=0), ValueError, "b must be at least 1"),
        (dict(b=2.5), TypeError, "b must be an integer"),
        (dict(b=3000, replacement=False), ValueError, "exceeds the dataset size N=2000"),
        (dict(n_steps=100, burn_in=100), ValueError, "n_steps=100 must exceed burn_in=100"),
        (dict(n_chains=1), ValueError, "n_chains must be at least 2"),
        (dict(n_steps=0), ValueError, "n_steps must be at least 1"),
        (dict(record_every=0), ValueError, "record_every must be at least 1"),
        (dict(eta=0.6), ValueError, r"mean iterate needs eta < 2/λ_max\(H\) = 0.50"),
        (dict(eta=0.3, b=1), ValueError, "second moment of SGD diverges at eta=0.3, b=1.*lower eta or raise b"),
    ],
)
def test_bad_arguments(hetero, kwargs, exc, match):
    args = dict(eta=0.02, b=10, n_steps=100, n_chains=10)
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        sgd.run_sgd_chains(hetero, args.pop("eta"), args.pop("b"), args.pop("n_steps"), args.pop("n_chains"), **args)


def test_other_errors(hetero):
    with pytest.raises(TypeError, match="LinearRegression"):
        sgd.run_sgd_chains(np.eye(2), 0.02, 10, 100, 10)
    with pytest.raises(ValueError, match="diffusion must be 'constant'"):
        sgd.run_sde_chains(hetero, 0.02, 10, 100, 10, diffusion="isotropic")
    # an unchecked divergent run stops with the step number
    with pytest.raises(FloatingPointError, match=r"SGD diverged at step \d+"):
        sgd.run_sgd_chains(hetero, 0.9, 10, 5000, 4, seed=0, check_stability=False)


def test_second_moment_radius_crosses_one_before_the_mean_limit(hetero):
    eta_mean = linear.max_stable_learning_rate(hetero.hessian())
    assert sgd.second_moment_spectral_radius(hetero, 0.02, 1) < 1
    assert sgd.second_moment_spectral_radius(hetero, 0.5 * eta_mean, 1) > 1  # b = 1: unstable at half the limit
    assert sgd.second_moment_spectral_radius(hetero, 0.5 * eta_mean, 64) < 1  # large b: stable again
