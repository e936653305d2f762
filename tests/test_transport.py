"""vdlib.theory.transport: 1-D and 2-D W2, the particle JKO scheme, and its input checks."""
import numpy as np
import ot
import pytest
from scipy.stats import norm

from vdlib.theory import fokker_planck as fp
from vdlib.theory import potentials
from vdlib.theory import transport as tr


def quantile_particles(m, s, n):
    return m + s * norm.ppf((np.arange(n) + 0.5) / n)


# ------------------------------------------------------------------------------ 1-D distances
@pytest.mark.parametrize("m1,s1,m2,s2", [(0.0, 1.0, 1.5, 0.5), (-1.0, 0.3, -1.0, 2.0), (2.0, 1.0, 2.0, 1.0)])
def test_w2_of_gaussian_densities_matches_closed_form(m1, s1, m2, s2):
    x = np.linspace(-12, 12, 6001)
    num = tr.w2_1d_densities(norm.pdf(x, m1, s1), norm.pdf(x, m2, s2), x)
    exact = np.hypot(m1 - m2, s1 - s2)
    assert exact == pytest.approx(tr.w2_gaussian_1d(m1, s1, m2, s2))
    assert num == pytest.approx(exact, abs=2e-3)


def test_w2_of_gaussian_samples_matches_closed_form_within_mc_error():
    rng = np.random.default_rng(1)
    n = 40_000
    a, b = rng.normal(0.0, 1.0, n), rng.normal(1.0, 2.0, n)
    # the error of the empirical W2 is dominated by the fluctuation of the sample moments
    assert tr.w2_1d_samples(a, b) == pytest.approx(np.sqrt(2.0), abs=0.05)


@pytest.mark.parametrize("n,m", [(50, 50), (37, 80), (101, 13)])
def test_sorting_agrees_with_pot_wasserstein_1d(n, m):
    rng = np.random.default_rng(n + m)
    a, b = rng.normal(size=n), rng.gamma(2.0, size=m)
    ours = tr.w2_1d_samples(a, b, squared=True)
    assert ours == pytest.approx(float(ot.wasserstein_1d(a, b, p=2)), rel=1e-10)
    assert ours == pytest.approx(tr.w2_2d_samples(a[:, None], b[:, None], squared=True), rel=1e-8)
    assert tr.w2_1d_samples(a, b) == pytest.approx(np.sqrt(ours))


def test_w2_samples_is_a_metric_on_simple_cases():
    a = np.array([0.0, 1.0, 2.0])
    assert tr.w2_1d_samples(a, a[::-1]) == 0.0
    assert tr.w2_1d_samples(a, a + 0.7) == pytest.approx(0.7)


def test_quantiles_from_density_invert_the_cdf():
    x = np.linspace(-6, 6, 2401)
    u = np.array([0.01, 0.25, 0.5, 0.9])
    q = tr.quantiles_from_density(norm.pdf(x, 1.0, 0.8), x, u)
    assert q == pytest.approx(norm.ppf(u, 1.0, 0.8), abs=2e-3)


def test_quantile_discrepancy_vanishes_for_exact_quantiles():
    x = np.linspace(-8, 8, 8001)
    xs = quantile_particles(0.5, 1.2, 300)
    assert tr.quantile_discrepancy(xs, norm.pdf(x, 0.5, 1.2), x) < 1e-3
    assert tr.quantile_discrepancy(xs + 0.1, norm.pdf(x, 0.5, 1.2), x) == pytest.approx(0.1, abs=1e-3)


# ----------------------------------------------------------------------------------- JKO
def test_one_particle_jko_step_matches_the_gaussian_closed_form():
    xs0 = quantile_particles(1.0, 0.3, 2000)
    xs1 = tr.jko_step_1d(xs0, lambda x: x, 2.0, 0.2)
    m1, s1 = tr.jko_gaussian_step(1.0, 0.3, 0.2, 2.0)
    assert xs1.mean() == pytest.approx(m1, abs=1e-10)
    # particles carry the quantile levels of N(m1, s1^2): compare with those, not with s1
    assert np.sqrt(np.mean((xs1 - quantile_particles(m1, s1, 2000)) ** 2)) < 2e-3


def test_jko_step_satisfies_its_optimality_condition():
    xs0 = quantile_particles(0.2, 0.4, 100)
    beta, tau = 3.0, 0.1
    x = tr.jko_step_1d(xs0, potentials.double_well_1d_grad, beta, tau)
    inv = 1 / np.diff(x)
    g = (x - xs0) / tau + potentials.double_well_1d_grad(x)
    g[:-1] += inv / beta
    g[1:] -= inv / beta
    assert np.max(np.abs(g)) * tau < 1e-8


def test_jko_flow_converges_to_the_gaussian_stationary_law():
    beta = 2.0
    flow = tr.jko_flow_1d(quantile_particles(1.5, 0.3, 400), lambda x: x, beta, 0.5, 60, record_every=10)
    assert flow.times[0] == 0 and flow.times[-1] == pytest.approx(30.0)
    assert flow.particles.shape == (7, 400)
    target = quantile_particles(0.0, 1 / np.sqrt(beta), 400)
    assert np.sqrt(np.mean((flow.final - target) ** 2)) < 5e-3
    assert abs(flow.final.mean()) < 1e-8


def test_jko_flow_error_for_the_quadratic_is_first_order_in_tau():
    beta, m0, s0, t = 2.0, 1.5, 0.3, 1.0
    m_ou = m0 * np.exp(-t)
    s_ou = np.sqrt(s0**2 * np.exp(-2 * t) + (1 - np.exp(-2 * t)) / beta)
    target = quantile_particles(m_ou, s_ou, 400)
    taus = np.array([0.2, 0.1, 0.05, 0.025])
    errs = np.array([np.sqrt(np.mean((tr.jko_flow_1d(quantile_particles(m0, s0, 400), lambda x: x, beta, tau,
                                                   int(round(t / tau))).final - target) ** 2))
                     for tau in taus])
    ratios = errs[:-1] / errs[1:]
    assert np.all((ratios > 1.8) & (ratios < 2.2)), ratios
    assert errs[-1] < 0.01


def test_jko_converges_to_the_fp_solution_of_a_double_well():
    grad = potentials.double_well_1d_grad
    beta, t = 4.0, 1.0
    edges = np.linspace(-3, 3, 801)
    x = (edges[:-1] + edges[1:]) / 2
    rho = fp.evolve_1d(grad, 1.0, beta, x, norm.pdf(x, 0.1, 0.25), t, dt=2.5e-4, record_every=10**9).rho[-1]
    x0 = quantile_particles(0.1, 0.25, 200)
    errs = [tr.quantile_discrepancy(tr.jko_flow_1d(x0, grad, beta, tau, int(round(t / tau))).final, rho, x)
            for tau in (0.1, 0.05, 0.025)]
    assert errs[0] / errs[1] > 1.7 and errs[1] / errs[2] > 1.7, errs
    assert errs[-1] < 0.01


def test_particle_density_integrates_to_the_inner_mass():
    xs = quantile_particles(0.0, 1.0, 50)
    mid, dens = tr.particle_density(xs)
    assert np.sum(dens * np.diff(xs)) == pytest.approx(49 / 50)
    assert mid.shape == dens.shape == (49,)


@pytest.mark.parametrize("kwargs,match", [
    (dict(tau=0.0), "tau"), (dict(tau=-0.1), "tau"), (dict(beta=0.0), "beta"),
    (dict(beta=-1.0), "beta"), (dict(beta=np.inf), "beta"),
])
def test_jko_step_rejects_bad_parameters(kwargs, match):
    args = dict(particles=np.array([0.0, 1.0, 2.0]), grad_f=lambda x: x, beta=1.0, tau=0.1) | kwargs
    with pytest.raises(ValueError, match=match):
        tr.jko_step_1d(**args)


@pytest.mark.parametrize("particles,match", [
    ([0.0, 2.0, 1.0], "unsorted"), ([0.0, 1.0, 1.0, 2.0], "duplicate"), ([0.0, 1.0], "at least 3"),
    ([0.0, np.nan, 1.0], "NaN"), (np.zeros((3, 2)), "1-D"),
])
def test_jko_step_rejects_bad_particles(particles, match):
    with pytest.raises(ValueError, match=match):
        tr.jko_step_1d(particles, lambda x: x, 1.0, 0.1)


def test_jko_flow_rejects_bad_step_counts():
    with pytest.raises(ValueError, match="n_steps"):
        tr.jko_flow_1d([0.0, 1.0, 2.0], lambda x: x, 1.0, 0.1, 0)


def test_jko_step_rejects_a_gradient_of_the_wrong_shape():
    with pytest.raises(ValueError, match="grad_f"):
        tr.jko_step_1d([0.0, 1.0, 2.0], lambda x: 1.0, 1.0, 0.1)


def test_density_inputs_are_checked():
    x = np.linspace(0, 1, 11)
    with pytest.raises(ValueError, match="shape"):
        tr.w2_1d_densities(np.ones(11), np.ones(10), x)
    with pytest.raises(ValueError, match="uniform"):
        tr.w2_1d_densities(np.ones(3), np.ones(3), np.array([0.0, 1.0, 3.0]))
    with pytest.raises(ValueError, match="non-negative"):
        tr.w2_1d_densities(-np.ones(11), np.ones(11), x)


# ----------------------------------------------------------------------------------- 2-D POT
def test_w2_2d_of_a_translation_is_the_shift():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(200, 2))
    assert tr.w2_2d_samples(a, a + np.array([0.3, -0.4])) == pytest.approx(0.5, rel=1e-8)
    assert tr.w2_2d_samples(a, a[::-1]) == pytest.approx(0.0, abs=1e-7)


def test_w2_2d_between_gaussian_samples_approaches_the_closed_form():
    rng = np.random.default_rng(4)
    n = 800
    a = rng.normal(size=(n, 2)) * [1.0, 0.5]
    b = rng.normal(size=(n, 2)) * [1.0, 0.5] + [2.0, 0.0]
    # W2 = 2 for the populations; the sample distance exceeds it by a floor of order n^(-1/2)
    assert 2.0 - 0.05 < tr.w2_2d_samples(a, b) < 2.0 + 0.1


def test_w2_2d_rejects_shape_mismatch():
    with pytest.raises(ValueError, match="different dimensions"):
        tr.w2_2d_samples(np.zeros((5, 2)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match=r"\(n, d\)"):
        tr.w2_2d_samples(np.zeros(5), np.zeros((5, 1)))
