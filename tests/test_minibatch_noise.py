"""Unit tests of vdlib.theory.minibatch_noise (Definition 1), the chapter-01 additions to
vdlib.theory.regression, and their figures (vdlib.book.figures).

Monte Carlo tolerances are multiples of the Monte Carlo standard error that the library computes
from the same samples, and every MC test also checks that the *wrong* formula would be rejected.
"""
import itertools
import math

import matplotlib
import numpy as np
import pytest

from vdlib.book import figures
from vdlib.theory import minibatch_noise, regression
from vdlib.config import current

matplotlib.use("Agg")

Z_TOL = 5.0  # |MC - exact| <= Z_TOL standard errors


def random_gradients(N, d, seed):
    rng = np.random.default_rng(seed)
    # a nonzero mean and unequal scales, so that both terms of D matter
    return rng.normal(size=(N, d)) * rng.uniform(0.5, 3.0, size=d) + rng.normal(size=d)


# ------------------------------------------------------------------ the diffusion matrix itself

def test_diffusion_matrix_matches_definition_and_numpy_cov():
    G = random_gradients(40, 3, seed=1)
    N = G.shape[0]
    g = G.mean(axis=0)
    two_terms = sum(np.outer(row, row) for row in G) / N - np.outer(g, g)
    D = minibatch_noise.diffusion_matrix(G)
    np.testing.assert_allclose(D, two_terms, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(D, np.cov(G.T, bias=True), rtol=1e-12, atol=1e-12)
    assert np.linalg.eigvalsh(D).min() > -1e-12


def test_diffusion_is_zero_when_all_gradients_are_equal():
    G = np.tile([1.5, -2.0], (7, 1))
    np.testing.assert_array_equal(minibatch_noise.diffusion_matrix(G), np.zeros((2, 2)))


def test_diffusion_matrix_stderr_is_calibrated():
    """The reported standard error matches the spread of D-hat over independent datasets."""
    rng = np.random.default_rng(3)
    cov = np.array([[1.0, 0.4], [0.4, 2.0]])
    L = np.linalg.cholesky(cov)
    estimates, errors = [], []
    for _ in range(300):
        G = rng.normal(size=(400, 2)) @ L.T
        estimates.append(minibatch_noise.diffusion_matrix(G))
        errors.append(minibatch_noise.diffusion_matrix_stderr(G))
    spread = np.std(estimates, axis=0, ddof=1)
    np.testing.assert_allclose(np.mean(errors, axis=0), spread, rtol=0.15)
    # Gaussian rows: Var(D_ij-hat) ~ (S_ii S_jj + S_ij^2)/N
    theory = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov**2) / 400)
    np.testing.assert_allclose(np.mean(errors, axis=0), theory, rtol=0.1)


# ------------------------------------------------------------------ exact formula vs enumeration

@pytest.mark.parametrize("N,b", [(2, 1), (3, 2), (4, 2), (5, 3), (6, 4), (6, 6), (7, 2)])
@pytest.mark.parametrize("replacement", [True, False])
def test_enumeration_equals_formula(N, b, replacement):
    G = random_gradients(N, 3, seed=N * 10 + b)
    enumerated = minibatch_noise.enumerate_minibatch_covariance(G, b, replacement=replacement)
    formula = minibatch_noise.minibatch_covariance(G, b, replacement=replacement)
    np.testing.assert_allclose(enumerated, formula, rtol=1e-10, atol=1e-12)


def test_enumeration_distinguishes_the_schemes():
    """For 1 < b the two schemes differ, so the enumeration test above could fail."""
    G = random_gradients(5, 2, seed=0)
    with_ = minibatch_noise.enumerate_minibatch_covariance(G, 3, replacement=True)
    without = minibatch_noise.enumerate_minibatch_covariance(G, 3, replacement=False)
    assert not np.allclose(with_, without)
    np.testing.assert_allclose(without, minibatch_noise.without_replacement_factor(3, 5) * with_, rtol=1e-12)


def test_enumeration_visits_every_batch_once():
    N, b = 5, 3
    assert minibatch_noise.number_of_batches(N, b, replacement=True) == len(list(itertools.product(range(N), repeat=b)))
    assert minibatch_noise.number_of_batches(N, b, replacement=False) == math.comb(N, b)


def test_b_equals_N_without_replacement_has_no_noise():
    G = random_gradients(8, 2, seed=5)
    np.testing.assert_array_equal(minibatch_noise.minibatch_covariance(G, 8, replacement=False), np.zeros((2, 2)))
    assert minibatch_noise.without_replacement_factor(8, 8) == 0.0
    samples = minibatch_noise.sample_minibatch_gradients(G, 8, 50, replacement=False, rng=0)
    np.testing.assert_allclose(samples, np.tile(G.mean(axis=0), (50, 1)), rtol=0, atol=1e-12)


@pytest.mark.parametrize("replacement", [True, False])
def test_b_equals_1_gives_D(replacement):
    G = random_gradients(9, 3, seed=2)
    np.testing.assert_allclose(minibatch_noise.minibatch_covariance(G, 1, replacement=replacement),
                               minibatch_noise.diffusion_matrix(G), rtol=1e-12)


def test_without_replacement_factor_values():
    for N in (2, 5, 50):
        for b in range(1, N + 1):
            assert minibatch_noise.without_replacement_factor(b, N) == pytest.approx((N - b) / (N - 1), rel=1e-12, abs=1e-15)


# ------------------------------------------------------------------ Monte Carlo

@pytest.fixture(scope="module")
def reference_gradients():
    """The chapter's R4 setup: N = 50 heteroscedastic regression at x = 0 (not the minimiser)."""
    problem = regression.make_linear_regression(N=50, seed=0)
    return problem.per_sample_gradients(np.zeros(2))


@pytest.mark.parametrize("replacement", [True, False])
def test_monte_carlo_matches_exact_covariance(reference_gradients, replacement):
    G, b = reference_gradients, 10
    draws = current().size("minibatch_mc_draws")
    g = G.mean(axis=0)
    samples = minibatch_noise.sample_minibatch_gradients(G, b, draws, replacement=replacement, rng=123)
    # unbiased: the sample mean is within MC error of g
    mean_se = samples.std(axis=0, ddof=1) / math.sqrt(draws)
    assert np.all(np.abs(samples.mean(axis=0) - g) <= Z_TOL * mean_se)
    C, se = minibatch_noise.empirical_covariance(samples, mean=g)
    exact = minibatch_noise.minibatch_covariance(G, b, replacement=replacement)
    assert np.all(np.abs(C - exact) <= Z_TOL * se), (C, exact, se)
    ratio, ratio_se = minibatch_noise.trace_ratio(samples, exact, mean=g)
    assert abs(ratio - 1) <= Z_TOL * ratio_se
    # power: the other scheme's formula is rejected by the same samples
    wrong = minibatch_noise.minibatch_covariance(G, b, replacement=not replacement)
    wrong_ratio, wrong_se = minibatch_noise.trace_ratio(samples, wrong, mean=g)
    assert abs(wrong_ratio - 1) > Z_TOL * wrong_se


def test_measured_factors_follow_the_exact_curve(reference_gradients):
    G = reference_gradients
    N = G.shape[0]
    batch_sizes = [1, 10, 25, 49]
    draws = current().size("minibatch_mc_draws") // 2
    for replacement in (True, False):
        f, se = minibatch_noise.measured_factors(G, batch_sizes, draws, replacement=replacement, rng=7)
        exact = np.array([1.0 if replacement else minibatch_noise.without_replacement_factor(b, N) for b in batch_sizes])
        assert np.all(np.abs(f - exact) <= Z_TOL * se), (replacement, f, exact, se)


def test_without_replacement_sampler_draws_distinct_uniform_indices():
    """Every batch has b distinct examples and each example appears with frequency b/N."""
    N, b, draws = 12, 5, 20_000
    G = np.eye(N)  # the batch mean reveals the batch: entry i is n_i / b
    samples = minibatch_noise.sample_minibatch_gradients(G, b, draws, replacement=False, rng=11)
    counts = np.rint(samples * b)
    np.testing.assert_allclose(samples * b, counts, atol=1e-9)
    assert set(np.unique(counts)) <= {0.0, 1.0}
    assert np.all(counts.sum(axis=1) == b)
    freq = counts.mean(axis=0)
    se = math.sqrt(b / N * (1 - b / N) / draws)
    assert np.all(np.abs(freq - b / N) <= Z_TOL * se)


def test_empirical_covariance_standard_error_is_calibrated():
    rng = np.random.default_rng(0)
    cov = np.array([[2.0, -0.5], [-0.5, 1.0]])
    L = np.linalg.cholesky(cov)
    M = 2000
    estimates, errors = [], []
    for _ in range(300):
        X = rng.normal(size=(M, 2)) @ L.T
        C, se = minibatch_noise.empirical_covariance(X, mean=np.zeros(2))
        estimates.append(C)
        errors.append(se)
    np.testing.assert_allclose(np.mean(errors, axis=0), np.std(estimates, axis=0, ddof=1), rtol=0.15)
    # without the known mean the estimate is unbiased too (M/(M-1) correction)
    X = rng.normal(size=(200_000, 2)) @ L.T + np.array([3.0, -1.0])
    C, se = minibatch_noise.empirical_covariance(X)
    assert np.all(np.abs(C - cov) <= Z_TOL * se)


def test_trace_ratio_is_the_trace_of_empirical_covariance():
    X = np.random.default_rng(4).normal(size=(1000, 3))
    exact = np.diag([1.0, 2.0, 3.0])
    C, _ = minibatch_noise.empirical_covariance(X, mean=np.zeros(3))
    ratio, _ = minibatch_noise.trace_ratio(X, exact, mean=np.zeros(3))
    assert ratio == pytest.approx(np.trace(C) / 6.0, rel=1e-12)


def test_sampling_is_reproducible_and_chunking_invariant(reference_gradients):
    a = minibatch_noise.sample_minibatch_gradients(reference_gradients, 10, 1000, replacement=True, rng=5)
    b = minibatch_noise.sample_minibatch_gradients(reference_gradients, 10, 1000, replacement=True, rng=5)
    np.testing.assert_array_equal(a, b)
    c = minibatch_noise.sample_minibatch_gradients(reference_gradients, 10, 1000, replacement=True, rng=5, chunk=1000)
    np.testing.assert_array_equal(a, c)


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    "call,exc,match",
    [
        (lambda G: minibatch_noise.diffusion_matrix(G[:, 0]), ValueError, r"N×d matrix.*G\[:, None\]"),
        (lambda G: minibatch_noise.diffusion_matrix(G[:1]), ValueError, "at least two rows"),
        (lambda G: minibatch_noise.diffusion_matrix(np.where(G > 0, np.nan, G)), ValueError, "NaN"),
        (lambda G: minibatch_noise.minibatch_covariance(G, 0), ValueError, "at least 1"),
        (lambda G: minibatch_noise.minibatch_covariance(G, -3, replacement=False), ValueError, "at least 1"),
        (lambda G: minibatch_noise.minibatch_covariance(G, 2.5), TypeError, "must be an integer"),
        (lambda G: minibatch_noise.minibatch_covariance(G, 2.0), TypeError, "must be an integer"),
        (lambda G: minibatch_noise.minibatch_covariance(G, True), TypeError, "must be an integer"),
        (lambda G: minibatch_noise.minibatch_covariance(G, 7, replacement=False), ValueError, "larger than the dataset.*replacement=True"),
        (lambda G: minibatch_noise.without_replacement_factor(7, 6), ValueError, "larger than the dataset"),
        (lambda G: minibatch_noise.without_replacement_factor(1, 1), ValueError, "N must be at least 2"),
        (lambda G: minibatch_noise.sample_minibatch_gradients(G, 2, 0), ValueError, "draws must be at least 1"),
        (lambda G: minibatch_noise.sample_minibatch_gradients(G, 2, -10), ValueError, "draws must be at least 1"),
        (lambda G: minibatch_noise.sample_minibatch_gradients(G, 2, 10.0), TypeError, "draws must be an integer"),
        (lambda G: minibatch_noise.sample_minibatch_gradients(G, 7, 10, replacement=False), ValueError, "larger than the dataset"),
        (lambda G: minibatch_noise.enumerate_minibatch_covariance(G, 6, max_batches=1000), ValueError, "max_batches"),
        (lambda G: minibatch_noise.empirical_covariance(G, mean=np.zeros(3)), ValueError, r"mean must have shape \(2,\)"),
        (lambda G: minibatch_noise.empirical_covariance(G[:1]), ValueError, "at least 2 draws"),
        (lambda G: minibatch_noise.trace_ratio(G, np.eye(3)), ValueError, "exact_cov must be 2×2"),
        (lambda G: minibatch_noise.trace_ratio(G, np.zeros((2, 2))), ValueError, "positive trace"),
    ],
)
def test_bad_input_messages(call, exc, match):
    G = random_gradients(6, 2, seed=0)
    with pytest.raises(exc, match=match):
        call(G)


def test_with_replacement_allows_b_larger_than_N():
    G = random_gradients(4, 2, seed=0)
    np.testing.assert_allclose(minibatch_noise.minibatch_covariance(G, 9, replacement=True), minibatch_noise.diffusion_matrix(G) / 9)


# ------------------------------------------------------------------ linear regression


def test_diffusion_at_minimiser_is_residual_weighted_second_moment():
    for kind in ("heteroscedastic", "homoscedastic"):
        p = regression.make_linear_regression(300, seed=2, noise=kind)
        x_hat = p.minimiser()
        assert np.linalg.norm(p.gradient(x_hat)) < 1e-10
        np.testing.assert_allclose(regression.diffusion_at_minimiser(p), p.diffusion(x_hat), rtol=1e-10)
    # away from the minimiser the g g^T term matters, so the shortcut must differ there
    x = x_hat + np.array([1.0, 1.0])
    r = p.residuals(x)
    uncentred = (p.A * (r**2)[:, None]).T @ p.A / p.N
    assert not np.allclose(uncentred, p.diffusion(x))


def test_population_diffusion_matches_a_large_gaussian_dataset():
    scales, x_star = np.array([1.0, 2.0]), np.array([1.0, -1.0])
    N = current().size("linreg_population_samples")
    p = regression.make_linear_regression(N, seed=3, input_scales=scales, x_true=x_star, noise="homoscedastic")
    for x in (x_star, x_star + np.array([0.5, 0.25]), np.array([-1.0, 0.5])):
        G = p.per_sample_gradients(x)
        D_hat, se = minibatch_noise.diffusion_matrix(G), minibatch_noise.diffusion_matrix_stderr(G)
        D = regression.population_diffusion(x, x_star, np.diag(scales**2), 1.0)
        assert np.all(np.abs(D_hat - D) <= Z_TOL * se), (x, D_hat, D, se)
    # power: dropping the rank-one term Sigma e e^T Sigma is detected at a point far from x*
    x = np.array([-1.0, 0.5])
    e = x - x_star
    S = np.diag(scales**2)
    G = p.per_sample_gradients(x)
    wrong = (1.0 + e @ S @ e) * S
    assert np.any(np.abs(minibatch_noise.diffusion_matrix(G) - wrong) > Z_TOL * minibatch_noise.diffusion_matrix_stderr(G))


def test_population_diffusion_properties():
    rng = np.random.default_rng(0)
    M = rng.normal(size=(3, 3))
    S = M @ M.T + 0.1 * np.eye(3)
    x_star = rng.normal(size=3)
    np.testing.assert_allclose(regression.population_diffusion(x_star, x_star, S, 0.7), 0.7 * S)
    x = x_star + rng.normal(size=3)
    D = regression.population_diffusion(x, x_star, S, 0.7)
    np.testing.assert_allclose(D, D.T)
    assert np.linalg.eigvalsh(D).min() > 0


@pytest.mark.parametrize(
    "args,match",
    [
        ((np.zeros(2), np.zeros(2), np.array([[1.0, 2.0], [0.0, 1.0]]), 1.0), "symmetric"),
        ((np.zeros(2), np.zeros(2), np.array([[1.0, 0.0], [0.0, -1.0]]), 1.0), "positive semi-definite"),
        ((np.zeros(3), np.zeros(2), np.eye(2), 1.0), "shape"),
        ((np.zeros(2), np.zeros(2), np.eye(2), -1.0), "noise_var"),
        ((np.zeros(2), np.zeros(2), np.ones(2), 1.0), "square"),
    ],
)
def test_population_diffusion_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        regression.population_diffusion(*args)


def test_commutator_and_its_relative_norm():
    H = np.diag([1.0, 4.0])
    assert regression.relative_commutator_norm(H, 2.5 * H) == 0.0
    assert regression.relative_commutator_norm(H, np.diag([3.0, 0.1])) == 0.0
    R = np.array([[np.cos(0.5), -np.sin(0.5)], [np.sin(0.5), np.cos(0.5)]])
    D = R @ np.diag([1.0, 0.2]) @ R.T
    C = regression.commutator(H, D)
    np.testing.assert_allclose(C, -C.T)
    assert regression.relative_commutator_norm(H, D) > 0.05
    rng = np.random.default_rng(1)
    for _ in range(50):  # Boettcher-Wenzel bound: ||[A, B]||_F <= sqrt(2) ||A||_F ||B||_F
        A, B = rng.normal(size=(2, 3, 3))
        assert regression.relative_commutator_norm(A, B) <= math.sqrt(2) + 1e-12
    with pytest.raises(ValueError, match="square matrices of equal size"):
        regression.commutator(np.eye(2), np.eye(3))
    with pytest.raises(ValueError, match="undefined"):
        regression.relative_commutator_norm(np.zeros((2, 2)), np.eye(2))


def test_heteroscedastic_noise_breaks_commutation_but_homoscedastic_does_not():
    """Same inputs and noise draws; only the noise scale differs (chapter, last section)."""
    het = regression.make_linear_regression(2000, seed=0)
    hom = regression.make_linear_regression(2000, seed=0, noise="homoscedastic")
    np.testing.assert_array_equal(het.A, hom.A)
    c_het = regression.relative_commutator_norm(het.hessian(), regression.diffusion_at_minimiser(het))
    c_hom = regression.relative_commutator_norm(hom.hessian(), regression.diffusion_at_minimiser(hom))
    # the homoscedastic commutator is sampling noise, O(N^{-1/2}); the heteroscedastic one is O(1)
    assert c_hom < 3 / math.sqrt(het.N)
    assert c_het > 5 * c_hom


# ------------------------------------------------------------------ figures


def test_plot_helpers_return_figures_and_check_input(reference_gradients):
    import matplotlib.pyplot as plt

    fig = figures.plot_factor_curve(50, [1, 10], [1.0, 1.0], [0.01, 0.01], [1.0, 0.8], [0.01, 0.01])
    assert len(fig.axes) == 1 and len(fig.axes[0].lines) >= 2
    plt.close(fig)
    H = np.diag([1.0, 4.0])
    fig = figures.plot_noise_geometry(H, [H, np.eye(2)], ["a", "b"])
    assert len(fig.axes) == 2 and all(len(ax.patches) == 2 for ax in fig.axes)
    plt.close(fig)
    with pytest.raises(ValueError, match="one title per"):
        figures.plot_noise_geometry(H, [H], ["a", "b"])
    with pytest.raises(ValueError, match="2×2"):
        figures.plot_noise_geometry(np.eye(3), [np.eye(3)], ["a"])
