"""vdlib.theory.local_entropy: grids, landscapes, summaries, and clear errors for bad input."""
import numpy as np
import pytest

from vdlib.theory import local_entropy as le


def test_local_gibbs_mean_of_a_quadratic_is_known():
    """Calibration: for f = h(x - a)^2/2 the local mean is (h a + gamma x)/(h + gamma)."""
    h, a, g, beta = 4.0, 0.3, 2.0, 1.5
    xs = np.linspace(-6, 6, 2401)
    mean = le.local_gibbs_mean_1d(lambda s: 0.5 * h * (s - a) ** 2, xs, g, beta)
    core = np.abs(xs) < 3
    assert np.max(np.abs(mean - (h * a + g * xs) / (h + g))[core]) < 1e-8


def test_2d_local_entropy_of_a_separable_loss_is_the_sum_of_1d_ones():
    fx = lambda s: 0.5 * (s - 0.2) ** 2 + 0.1 * s**4  # noqa: E731
    fy = lambda s: 2.0 * s**2  # noqa: E731
    xs, ys = np.linspace(-4, 4, 161), np.linspace(-3, 3, 121)
    F2 = le.local_entropy_2d(lambda X, Y: fx(X) + fy(Y), xs, ys, 3.0, 2.0)
    F1 = le.local_entropy_1d(fx, xs, 3.0, 2.0)[:, None] + le.local_entropy_1d(fy, ys, 3.0, 2.0)[None, :]
    assert np.max(np.abs(F2 - F1)[40:121, 30:91]) < 1e-10


def test_landscape_derivatives_match_finite_differences():
    land = le.narrow_wide_1d()
    xs = np.linspace(-3, 3, 60001)
    assert np.max(np.abs(land.grad(xs) - np.gradient(land.f(xs), xs))) < 1e-3
    assert np.max(np.abs(land.dD(xs) - np.gradient(land.D(xs), xs))) < 1e-2
    assert land.f(land.barrier) > land.f(land.barrier - 1e-3) and land.f(land.barrier) > land.f(land.barrier + 1e-3)
    land2 = le.narrow_wide_2d()
    e = 1e-6
    for x, y in ((-0.9, 0.05), (0.3, -0.4), (1.4, 0.7)):
        gx, gy = land2.grad(np.array(x), np.array(y))
        assert abs(gx - (land2.f(x + e, y) - land2.f(x - e, y)) / (2 * e)) < 1e-5
        assert abs(gy - (land2.f(x, y + e) - land2.f(x, y - e)) / (2 * e)) < 1e-5


def test_noise_is_larger_in_the_sharp_well():
    land = le.narrow_wide_1d(noise_gain=0.05)
    assert land.D(-1.0) > 4 * land.D(1.5)
    assert np.allclose(le.narrow_wide_1d(noise_gain=0.0).D(np.linspace(-3, 3, 7)), 1.0)


def test_summaries_on_known_densities():
    xs = np.linspace(-5, 5, 1001)
    logp = -0.5 * (xs - 0.3137) ** 2 / 0.4
    assert abs(le.mode_location(logp, xs) - 0.3137) < 1e-9  # the parabola refinement is exact for a Gaussian
    assert abs(le.basin_mass(-0.5 * xs**2, xs, 0.0) - 0.5) < 0.01  # symmetric: half the mass (one cell at 0)
    assert le.basin_mass(-0.5 * (xs + 3) ** 2 / 0.01, xs, 0.0) < 1e-12
    X, Y = np.meshgrid(xs, xs[:501], indexing="ij")
    assert le.mode_location(-((X - 1) ** 2 + (Y + 2) ** 2), xs, xs[:501]) == (pytest.approx(1.0), pytest.approx(-2.0))


@pytest.mark.parametrize("call, match", [
    (lambda: le.local_entropy_1d(lambda s: s**2, np.array([0.0, 1.0, 3.0]), 1.0), "uniformly spaced"),
    (lambda: le.local_entropy_1d(lambda s: s**2, np.linspace(-1, 1, 11), 1e4), "too coarse"),
    (lambda: le.local_entropy_1d(lambda s: s**2, np.linspace(-1, 1, 11), -1.0), "gamma"),
    (lambda: le.local_entropy_1d(lambda s: np.ones(3), np.linspace(-1, 1, 11), 1.0), "one value per grid point"),
    (lambda: le.local_entropy_1d(lambda s: s / 0.0, np.linspace(-1, 1, 11), 1.0), "NaN or infinite"),
    (lambda: le.narrow_wide_1d(narrow_width=1.0, wide_width=0.5), "narrow_width must be smaller"),
    (lambda: le.narrow_wide_1d(noise_gain=-1.0), "noise_gain"),
    (lambda: le.mode_location(np.zeros((3, 3)), np.linspace(0, 1, 3)), "needs ys"),
    (lambda: le.basin_mass(np.zeros(4), np.linspace(0, 1, 5), 0.5), "first axis"),
])
def test_bad_input_says_what_to_change(call, match):
    with np.errstate(divide="ignore", invalid="ignore"):
        with pytest.raises((ValueError, TypeError), match=match):
            call()
