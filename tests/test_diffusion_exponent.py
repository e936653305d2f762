"""Calibration of the anomalous-diffusion exponent estimator on processes with a known exponent."""
import numpy as np
import pytest

from vdlib.analysis import diffusion_exponent as de

LAGS = de.log_lags(2, 150, 8)


@pytest.mark.parametrize("make, c_true", [
    (lambda s: de.brownian_paths(40, 300, seed=s), 1.0),
    (lambda s: de.fbm_paths(40, 300, 0.3, seed=s), 0.6),
    (lambda s: de.fbm_paths(40, 300, 0.75, seed=s), 1.5),
])
def test_interval_covers_the_true_exponent_near_the_nominal_rate(make, c_true):
    hits = [de.diffusion_exponent(make(s), LAGS).covers(c_true) for s in range(100)]
    # 95 % nominal; 100 replicates have sd 2.2 %, so 0.87 is 3.5 sd below
    assert np.mean(hits) >= 0.87


def test_detects_ballistic_and_confined_motion():
    assert de.diffusion_exponent(de.ballistic_paths(20, 300, seed=0), LAGS).c == pytest.approx(2.0, abs=1e-9)
    ou = de.diffusion_exponent(de.ou_paths(40, 600, 3.0, seed=1), de.log_lags(30, 300, 8))
    assert abs(ou.c) < 0.1 and ou.ci[1] < 0.5  # saturated: c -> 0 far above the relaxation time
    sub = de.diffusion_exponent(de.fbm_paths(40, 300, 0.3, seed=2), LAGS)
    assert sub.ci[1] < 1.0  # sub-diffusion is told apart from Brownian motion


def test_fbm_increment_covariance_is_exact():
    X = de.fbm_paths(4000, 6, 0.3, seed=3)
    var = (X[:, 1:] ** 2).mean(0)
    assert np.allclose(var, np.arange(1, 6) ** 0.6, rtol=0.1)


def test_sliding_and_fixed_origin_agree_on_a_stationary_increment_process():
    X = de.brownian_paths(50, 400, d=3, seed=4)
    f = de.mean_squared_displacement(X, LAGS, "fixed").mean(0)
    s = de.mean_squared_displacement(X, LAGS, "sliding").mean(0)
    assert np.allclose(f / (3 * LAGS), 1, atol=0.25) and np.allclose(s / (3 * LAGS), 1, atol=0.1)


def test_bad_input_says_what_to_change():
    with pytest.raises(ValueError, match="at least 2"):
        de.diffusion_exponent(np.zeros((1, 10)), [1, 2])
    with pytest.raises(ValueError, match="increasing integers"):
        de.diffusion_exponent(de.brownian_paths(3, 10, seed=0), np.array([1, 20]))
    with pytest.raises(ValueError, match="origin"):
        de.mean_squared_displacement(de.brownian_paths(3, 10, seed=0), np.array([1, 2]), origin="x")
    with pytest.raises(ValueError, match="does not move|do not move"):
        de.diffusion_exponent(np.zeros((3, 10)), np.array([1, 2]))
    with pytest.raises(ValueError, match="hurst"):
        de.fbm_paths(2, 10, 1.2, seed=0)
    with pytest.raises(ValueError, match="NaN"):
        de.diffusion_exponent(np.full((3, 10), np.nan), np.array([1, 2]))
