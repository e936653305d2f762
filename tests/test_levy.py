"""vdlib.theory.levy: stable variates against SciPy, the Lévy constant, exit-time formulas against the
simulator (Gaussian: exact first-passage time; α-stable: Imkeller–Pavlyukevich), bad input."""
import math

import numpy as np
import pytest
from scipy import stats

from vdlib.theory import levy


@pytest.mark.parametrize("alpha", [1.1, 1.5, 1.9])
def test_stable_rvs_has_scipys_law(alpha):
    ours = levy.stable_rvs(alpha, 20_000, rng=1)
    theirs = stats.levy_stable.rvs(alpha, 0.0, size=20_000, random_state=2)
    assert stats.ks_2samp(ours, theirs).pvalue > 1e-3


def test_stable_rvs_special_cases():
    g = levy.stable_rvs(2.0, 200_000, rng=3)
    assert np.var(g) == pytest.approx(2.0, rel=0.02)  # exp(-t²) is N(0, 2)
    c = levy.stable_rvs(1.0, 20_000, rng=4)
    assert stats.kstest(c, "cauchy").pvalue > 1e-3


def test_levy_constant_gives_the_tail():
    """P(X > x) ≈ c_α x^{-α}/α far out: against SciPy's survival function."""
    for alpha in (1.2, 1.5, 1.8):
        x = 200.0
        tail = stats.levy_stable.sf(x, alpha, 0.0)
        assert tail == pytest.approx(levy.levy_constant(alpha) * x ** -alpha / alpha, rel=0.03)


def test_double_well_shape():
    h, w = 1.7, 0.8
    x = np.array([-2.0, -w, 0.0, w])
    U = levy.double_well(x, h, w)
    assert U[1] == 0 and U[3] == 0 and U[2] == pytest.approx(h)
    # the drift is −U′ on both pieces (central differences)
    xs = np.array([-1.5, -0.9, -0.3, 0.4, 1.1])
    num = -(levy.double_well(xs + 1e-6, h, w) - levy.double_well(xs - 1e-6, h, w)) / 2e-6
    assert levy.double_well_drift(xs, h, w) == pytest.approx(num, rel=1e-5, abs=1e-6)


def test_exact_first_passage_time_tends_to_kramers():
    ratios = [levy.gaussian_mean_exit_time(h, 1.0, 1.0) / levy.kramers_exit_time(h, 1.0, 1.0) for h in (2.0, 5.0, 10.0)]
    assert abs(ratios[2] - 1) < abs(ratios[1] - 1) < abs(ratios[0] - 1)
    assert abs(ratios[2] - 1) < 0.06


def test_gaussian_simulation_matches_the_exact_first_passage_time():
    for i, (h, w) in enumerate(((0.75, 1.0), (1.5, 1.4))):
        r = levy.simulate_exit_times(h, w, noise="gaussian", eps=1.0, n_particles=800, rng=20 + i)
        exact = levy.gaussian_mean_exit_time(h, w, 1.0)
        assert abs(r.mean - exact) < 4 * r.se + 0.05 * exact  # 5 %: the Euler scheme's bias


def test_levy_simulation_matches_imkeller_pavlyukevich_and_ignores_the_height():
    means = {}
    for i, h in enumerate((0.5, 2.0)):
        r = levy.simulate_exit_times(h, 1.0, noise="stable", alpha=1.5, eps=0.1, n_particles=600,
                                     steps_per_relaxation=5, rng=30 + i)
        means[h] = r
        ip = levy.levy_exit_time(1.0, 0.1, 1.5)
        assert abs(r.mean - ip) < 4 * r.se + 0.1 * ip  # 10 %: a small-noise limit
    assert abs(means[0.5].mean - means[2.0].mean) < 4 * math.hypot(means[0.5].se, means[2.0].se)


def test_censoring_is_accounted_for():
    r = levy.simulate_exit_times(1.0, 1.0, noise="gaussian", eps=1.0, n_particles=300, max_time=0.5, rng=5)
    assert r.censored > 0 and r.exits > 0
    assert r.mean > 0.5  # total observed time / exits exceeds the cut when most are censored
    assert np.isinf(r.times).sum() == r.censored


def test_levy_exit_time_scales_like_width_to_the_alpha():
    assert levy.levy_exit_time(2.0, 0.1, 1.5) / levy.levy_exit_time(1.0, 0.1, 1.5) == pytest.approx(2 ** 1.5)
    assert levy.levy_exit_time(1.0, 0.2, 1.5) / levy.levy_exit_time(1.0, 0.1, 1.5) == pytest.approx(2 ** -1.5)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="alpha"):
        levy.stable_rvs(2.5, 10)
    with pytest.raises(ValueError, match="alpha"):
        levy.levy_constant(2.0)
    with pytest.raises(ValueError, match="height"):
        levy.double_well(0.0, -1.0, 1.0)
    with pytest.raises(ValueError, match="noise"):
        levy.simulate_exit_times(1.0, 1.0, noise="cauchy", eps=1.0)
    with pytest.raises(ValueError, match="alpha="):
        levy.simulate_exit_times(1.0, 1.0, noise="stable", eps=0.1)
    with pytest.raises(ValueError, match="too large"):
        levy.simulate_exit_times(1.0, 1.0, noise="gaussian", eps=1.0, dt=0.5)
    with pytest.raises(ValueError, match="n_particles"):
        levy.simulate_exit_times(1.0, 1.0, noise="gaussian", eps=1.0, n_particles=0)
    with pytest.raises(TypeError, match="eps"):
        levy.kramers_exit_time(1.0, 1.0, "big")
