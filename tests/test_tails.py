"""vdlib.analysis.tails: the log-of-block-sums tail-index estimator, calibrated on laws of known α,
its documented failure modes (finite variance, batch means, pooling), mini-batch noise, bad input."""
import math

import numpy as np
import pytest
from scipy.stats import levy_stable

from vdlib.analysis import tails
from vdlib.theory.levy import stable_rvs

N_CAL = 200_000


@pytest.fixture(scope="module")
def stable_samples():
    """2·10⁵ seeded draws of scipy's symmetric α-stable law at three α (about 0.1 s each)."""
    return {a: levy_stable.rvs(a, 0.0, size=N_CAL, random_state=100 + int(10 * a)) for a in (1.1, 1.5, 1.9)}


@pytest.mark.parametrize("alpha", [1.1, 1.5, 1.9])
def test_within_a_tenth_of_alpha_on_stable_samples(stable_samples, alpha):
    est = tails.tail_index_estimate(stable_samples[alpha])
    assert abs(est.alpha - alpha) < 0.1
    assert abs(est.alpha - alpha) < 4 * est.se  # the reported error is of the right size
    assert est.block == math.isqrt(N_CAL) and est.n_blocks == N_CAL // est.block


def test_gaussian_gives_two():
    x = np.random.default_rng(1).standard_normal(N_CAL)
    assert abs(tails.tail_index(x) - 2.0) < 0.1


def test_scale_free_and_sign_free(stable_samples):
    x = stable_samples[1.5]
    a = tails.tail_index(x)
    for c in (1e-6, 3.0, -2.0, 1e6):
        assert tails.tail_index(c * x) == pytest.approx(a, rel=1e-9)


def test_interval_covers_inverse_alpha_at_the_nominal_rate():
    """Null calibration: on Gaussian samples 1/α = 1/2 exactly (sums of Gaussians are Gaussian), and the
    95 % interval from the i.i.d. block terms must cover it about 95 % of the time."""
    rng = np.random.default_rng(7)
    hits = []
    for _ in range(400):
        est = tails.tail_index_estimate(rng.standard_normal(2500))
        hits.append(abs(est.inv_alpha - 0.5) < 1.96 * est.inv_alpha_se)
    assert 0.91 <= np.mean(hits) <= 0.985


def test_columns_match_one_at_a_time(stable_samples):
    X = np.column_stack([stable_samples[1.1][:40_000], stable_samples[1.9][:40_000]])
    cols = tails.tail_index_columns(X)
    assert cols == pytest.approx([tails.tail_index(X[:, 0]), tails.tail_index(X[:, 1])], rel=1e-12)


def test_explicit_block_length():
    x = np.random.default_rng(2).standard_normal(10_000)
    est = tails.tail_index_estimate(x, block=50)
    assert est.block == 50 and est.n_blocks == 200 and abs(est.alpha - 2) < 0.3


# ---- failure modes: documented and shown ----------------------------------------------------------

@pytest.mark.parametrize("nu", [3, 4])
def test_student_t_reports_alpha_below_two_as_predicted(nu):
    """Finite variance, yet α̂ < 2: the estimate sits where the finite-variance limit puts it."""
    x = np.random.default_rng(10 + nu).standard_t(nu, N_CAL)
    est = tails.tail_index_estimate(x)
    pred = tails.finite_variance_limit(tails.student_t_log_gap(nu), est.block)
    assert est.alpha < 1.93
    assert pred < 1.9
    assert abs(est.alpha - pred) < 0.08


def test_batch_means_move_to_two_for_finite_variance_but_not_for_stable():
    rng = np.random.default_rng(3)
    n = 40_000
    t_1 = tails.tail_index(rng.standard_t(4, n))
    t_64 = tails.tail_index(rng.standard_t(4, (n, 64)).mean(axis=1))
    s_1 = tails.tail_index(stable_rvs(1.5, n, rng))
    s_64 = tails.tail_index(stable_rvs(1.5, (n, 64), rng).mean(axis=1))
    assert t_1 < 1.9 and abs(t_64 - 2) < 0.12
    assert abs(s_1 - 1.5) < 0.12 and abs(s_64 - 1.5) < 0.12


def test_pooling_gaussian_coordinates_of_different_scales_looks_heavy_tailed():
    rng = np.random.default_rng(4)
    scales = np.exp(rng.normal(0, 1, 100))
    X = rng.standard_normal((2000, 100)) * scales
    assert abs(np.median(tails.tail_index_columns(X)) - 2) < 0.1
    assert tails.tail_index(rng.permutation(X.ravel())) < 1.8


def test_crossover_formula():
    k1 = 400
    b = tails.clt_crossover_batch(60.0, k1, tolerance=0.1)
    assert b == pytest.approx(60.0 / (0.3 * math.log(k1)))
    # at b* the first-order prediction 2 − κ/(3 b log K1) equals 2 − δ
    assert 2 - 60.0 / (3 * b * math.log(k1)) == pytest.approx(1.9)
    assert tails.clt_crossover_batch(-1.0, k1) == 0.0  # lighter than Gaussian: no crossover needed


def test_student_t_mean_log_abs_matches_simulation():
    x = np.random.default_rng(5).standard_t(5, 1_000_000)
    assert np.log(np.abs(x)).mean() == pytest.approx(tails.student_t_mean_log_abs(5), abs=0.005)
    z = np.random.default_rng(6).standard_normal(1_000_000)
    assert np.log(np.abs(3 * z)).mean() == pytest.approx(tails.gaussian_mean_log_abs(3.0), abs=0.005)


# ---- mini-batch noise -----------------------------------------------------------------------------

def test_minibatch_noise_has_mean_zero_and_covariance_d_over_b():
    rng = np.random.default_rng(8)
    G = rng.standard_normal((50, 3)) @ np.array([[1.0, 0.5, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.2]]) + 1.0
    D = np.cov(G.T, bias=True)
    b = 5
    noise = tails.minibatch_noise(G, b, 200_000, rng=9, max_bytes=10_000)  # small chunks exercised
    assert np.abs(noise.mean(axis=0)).max() < 4 * np.sqrt(D.diagonal().max() / b / 200_000)
    assert np.cov(noise.T, bias=True) == pytest.approx(D / b, rel=0.03, abs=2e-3)


def test_minibatch_noise_is_reproducible_and_batch_one_draws_rows():
    G = np.arange(12.0).reshape(6, 2) ** 1.5
    a = tails.minibatch_noise(G, 1, 50, rng=1)
    assert np.array_equal(a, tails.minibatch_noise(G, 1, 50, rng=1))
    rows = G - G.mean(axis=0)
    assert all(any(np.allclose(r, q) for q in rows) for r in a)


def test_tail_index_vs_batch_shape_and_trend():
    rng = np.random.default_rng(11)
    G = rng.standard_t(3, (4000, 4))
    A = tails.tail_index_vs_batch(G, (1, 64), 4900, rng=12)
    assert A.shape == (2, 4)
    assert np.median(A[1]) > np.median(A[0])


# ---- bad input ------------------------------------------------------------------------------------

@pytest.mark.parametrize("bad, match", [
    (np.ones(50), "at least 100"),
    (np.r_[np.random.default_rng(0).standard_normal(200), np.nan], "NaN or infinite"),
    (np.r_[np.random.default_rng(0).standard_normal(200), np.inf], "NaN or infinite"),
    (np.full(500, 2.5), "constant"),
    (np.r_[np.random.default_rng(0).standard_normal(200), 0.0], "exact zero"),
    (np.ones((200, 2)), "1-D"),
])
def test_bad_samples_are_refused_with_a_clear_error(bad, match):
    with pytest.raises(ValueError, match=match):
        tails.tail_index(bad)


def test_bad_blocks_and_types():
    x = np.random.default_rng(0).standard_normal(1000)
    with pytest.raises(ValueError, match="block"):
        tails.tail_index(x, block=1)
    with pytest.raises(ValueError, match="block"):
        tails.tail_index(x, block=600)
    with pytest.raises(TypeError, match="integer"):
        tails.tail_index(x, block=2.5)
    with pytest.raises(TypeError, match="1-D array of numbers"):
        tails.tail_index(["a", "b"])
    with pytest.raises(ValueError, match="2-D"):
        tails.tail_index_columns(x)
    with pytest.raises(ValueError, match="constant"):
        tails.tail_index_columns(np.column_stack([x, np.ones_like(x)]))


def test_bad_arguments_of_the_helpers():
    with pytest.raises(ValueError, match="nu > 2"):
        tails.student_t_log_gap(2)
    with pytest.raises(ValueError, match="finite fourth moment"):
        tails.clt_crossover_batch(float("inf"), 100)
    with pytest.raises(ValueError, match="tolerance"):
        tails.clt_crossover_batch(3.0, 100, tolerance=0)
    with pytest.raises(ValueError, match="block"):
        tails.finite_variance_limit(0.1, 1)
    with pytest.raises(ValueError, match="sigma"):
        tails.gaussian_mean_log_abs(0)
    with pytest.raises(ValueError, match="N ≥ 2"):
        tails.minibatch_noise(np.ones(5), 2, 10)
    with pytest.raises(ValueError, match="batch_size"):
        tails.minibatch_noise(np.ones((5, 2)), 0, 10)
    with pytest.raises(ValueError, match="NaN"):
        tails.minibatch_noise(np.array([[1.0, np.nan], [0.0, 1.0]]), 1, 10)
    with pytest.raises(ValueError, match="empty"):
        tails.tail_index_vs_batch(np.ones((5, 2)), (), 10)
