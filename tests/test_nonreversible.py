"""vdlib.theory.nonreversible and vdlib.analysis.ess: closed forms against simulations, the optimal
non-reversible drift against brute force, the ESS estimators calibrated on AR(1), and clear errors."""
import numpy as np
import pytest
import scipy.integrate
import scipy.linalg

from vdlib.analysis import ess
from vdlib.theory import nonreversible as nr


def random_spd(d, rng, cond=20.0):
    Q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    return Q @ np.diag(np.geomspace(1.0, cond, d)) @ Q.T


def random_antisym(d, rng, scale=2.0):
    G = rng.normal(scale=scale, size=(d, d))
    return (G - G.T) / 2


# ------------------------------------------------------------------------------------------------
# the linear case
def test_gap_lies_between_the_reversible_gap_and_the_mean_eigenvalue():
    rng = np.random.default_rng(0)
    for _ in range(200):
        d = int(rng.integers(2, 7))
        A = random_spd(d, rng, cond=float(rng.uniform(1.5, 50)))
        J = random_antisym(d, rng, scale=float(rng.uniform(0.1, 5)))
        lo, tr = np.linalg.eigvalsh(A)[0], np.trace(A) / d
        assert abs(nr.spectral_gap(A) - lo) < 1e-10 * tr
        assert lo - 1e-9 * tr <= nr.spectral_gap(A, J) <= tr + 1e-9 * tr
        assert abs(np.linalg.eigvals(nr.drift_matrix(A, J)).real.sum() - d * tr) < 1e-8 * d * tr


def test_asymptotic_variance_never_increases_and_matches_its_closed_form():
    rng = np.random.default_rng(1)
    for _ in range(100):
        d = int(rng.integers(2, 6))
        A, J = random_spd(d, rng), random_antisym(d, rng)
        c = rng.normal(size=d)
        G = rng.normal(size=(d, d))
        M = G + G.T
        u = np.linalg.solve(A, c)
        closed = 2 * u @ np.linalg.solve(np.eye(d) - J @ J, u)
        assert nr.asymptotic_variance(A, J, c) == pytest.approx(closed, rel=1e-9)
        assert nr.asymptotic_variance(A, None, c) == pytest.approx(2 * u @ u, rel=1e-9)
        assert nr.asymptotic_variance(A, J, c) <= nr.asymptotic_variance(A, None, c) * (1 + 1e-10)
        assert nr.asymptotic_variance(A, J, M=M) <= nr.asymptotic_variance(A, None, M=M) * (1 + 1e-10)
        # a larger multiple of the same J never does worse on linear observables (only J² enters)
        assert nr.asymptotic_variance(A, 2 * J, c) <= nr.asymptotic_variance(A, J, c) * (1 + 1e-10)


def test_quadratic_variance_equals_the_integral_of_its_autocovariance():
    rng = np.random.default_rng(2)
    A, J = random_spd(2, rng, cond=4.0), random_antisym(2, rng, scale=1.0)
    M = np.array([[1.0, 0.3], [0.3, -0.5]])
    S, B = np.linalg.inv(A), nr.drift_matrix(A, J)

    def cov(t):
        E = scipy.linalg.expm(-B * t)
        return 2 * np.trace(M @ S @ E.T @ M @ E @ S)

    integral = 2 * scipy.integrate.quad(cov, 0, np.inf, limit=200)[0]
    assert nr.asymptotic_variance(A, J, M=M) == pytest.approx(integral, rel=1e-6)


def test_euler_chain_variance_linear_is_h_free_and_quadratic_converges():
    rng = np.random.default_rng(3)
    A, J = random_spd(3, rng, cond=5.0), random_antisym(3, rng)
    c, M = rng.normal(size=3), np.diag([1.0, 0.0, -1.0])
    for h in (1e-3, 1e-2, 0.5 * nr.stability_limit(A, J)):
        assert nr.asymptotic_variance(A, J, c, h=h) == pytest.approx(nr.asymptotic_variance(A, J, c), rel=1e-8)
    errs = [abs(nr.asymptotic_variance(A, J, M=M, h=h) / nr.asymptotic_variance(A, J, M=M) - 1)
            for h in (1e-2, 1e-3, 1e-4)]
    assert errs[0] > errs[1] > errs[2] and errs[2] < 1e-3


@pytest.mark.parametrize("J_on", [False, True])
def test_simulated_time_average_variance_matches_the_euler_closed_form(J_on):
    A = np.array([[3.0, 1.0], [1.0, 1.0]])
    J = np.array([[0.0, 1.5], [-1.5, 0.0]]) if J_on else None
    h, n, chains = 0.01, 10_000, 300
    for c, M in ((np.array([1.0, 0.0]), None), (None, np.diag([1.0, 0.0]))):
        sim = nr.simulate_ou_time_averages(A, J, h, n, chains, seed=11, c=c, M=M)
        exact = nr.asymptotic_variance(A, J, c, M, h=h)
        # finite-T bias is O(τ/T) ≈ 1 %; the statistical s.e. ≈ 8 %
        assert abs(sim.variance_T - exact) < 4 * sim.se + 0.03 * exact


def test_simulation_detects_the_variance_reduction():
    A = np.array([[3.0, 1.0], [1.0, 1.0]])
    J = np.array([[0.0, 2.0], [-2.0, 0.0]])
    c = np.array([1.0, 0.0])
    plain = nr.simulate_ou_time_averages(A, None, 0.01, 10_000, 300, seed=5, c=c)
    skew = nr.simulate_ou_time_averages(A, J, 0.01, 10_000, 300, seed=6, c=c)
    assert skew.variance_T + 4 * np.hypot(skew.se, plain.se) < plain.variance_T


def test_euler_stationary_covariance_converges_and_refuses_unstable_steps():
    rng = np.random.default_rng(4)
    A, J = random_spd(3, rng), random_antisym(3, rng)
    errs = [np.abs(nr.euler_stationary_covariance(A, J, h) - np.linalg.inv(A)).max() for h in (1e-2, 1e-3)]
    assert errs[1] < errs[0] / 5
    limit = nr.stability_limit(A, J)
    with pytest.raises(ValueError, match="stability limit"):
        nr.euler_stationary_covariance(A, J, 1.01 * limit)
    # a small J may even enlarge the stable step, a large one shrinks it (|μ| grows, Re μ stays bounded)
    assert nr.stability_limit(A, 10 * J) < nr.stability_limit(A)


def test_step_for_bias_inverts_the_covariance_bias():
    A = np.array([[3.0, 1.0], [1.0, 1.0]])
    J = np.array([[0.0, 2.0], [-2.0, 0.0]])
    target = nr.covariance_bias(A, None, 0.05)
    h = nr.step_for_bias(A, J, target)
    assert nr.covariance_bias(A, J, h) == pytest.approx(target, rel=1e-8)
    assert h < 0.05  # the skew term costs bias: equal bias needs a smaller step
    assert nr.covariance_bias(A, J, 1e-4) < nr.covariance_bias(A, J, 1e-3) < nr.covariance_bias(A, J, 1e-2)
    with pytest.raises(ValueError, match="no step"):
        nr.step_for_bias(A, J, 1e6)


# ------------------------------------------------------------------------------------------------
# the optimal perturbation
@pytest.mark.parametrize("d", [2, 3, 4, 6, 10])
def test_lnp_construction_puts_every_real_part_at_the_mean_eigenvalue(d):
    rng = np.random.default_rng(d)
    A = random_spd(d, rng, cond=30.0)
    Psi = nr.equal_diagonal_basis(A)
    assert np.allclose(Psi.T @ Psi, np.eye(d), atol=1e-12)
    assert np.allclose(np.diag(Psi.T @ A @ Psi), np.trace(A) / d, atol=1e-10)
    J = nr.optimal_nonreversible_J(A)
    assert np.allclose(J, -J.T)
    re = np.linalg.eigvals(nr.drift_matrix(A, J)).real
    assert np.allclose(re, np.trace(A) / d, rtol=1e-8)


@pytest.mark.parametrize("d", [2, 3])
def test_brute_force_search_finds_the_same_optimum(d):
    A = random_spd(d, np.random.default_rng(10 + d), cond=10.0)
    opt = nr.optimize_gap(A, restarts=3, seed=0)
    assert opt.gap == pytest.approx(opt.bound, rel=1e-6)
    assert opt.gap <= opt.bound * (1 + 1e-8)


# ------------------------------------------------------------------------------------------------
# the Bayesian model and the sampler
@pytest.fixture(scope="module")
def post():
    X, y, _ = nr.make_logistic_data(100, 2, seed=0, correlation=0.9)
    return nr.LogisticPosterior(X, y, prior_var=10.0)


def test_gradient_matches_finite_differences_and_minibatches_are_unbiased(post):
    rng = np.random.default_rng(0)
    th = rng.normal(size=(3, 2))
    eps = 1e-6
    for k in range(2):
        e = np.zeros(2)
        e[k] = eps
        fd = (post.potential(th + e) - post.potential(th - e)) / (2 * eps)
        assert np.allclose(post.grad(th)[:, k], fd, rtol=1e-6, atol=1e-6)
    idx = np.argsort(rng.random((20_000, post.n)), axis=1)[:, :10]
    g = post.grad(np.tile(th[0], (20_000, 1)), idx)
    se = g.std(0) / np.sqrt(len(g))
    assert np.all(np.abs(g.mean(0) - post.grad(th[:1])[0]) < 4 * se)
    emp = np.cov(g.T)
    assert np.allclose(emp, post.gradient_noise(th[0], 10), rtol=0.1)


def test_small_step_langevin_samples_the_quadrature_posterior(post):
    mean, cov = nr.posterior_moments_2d(post, grid=201)
    J = np.array([[0.0, 1.0], [-1.0, 0.0]])
    run = nr.run_langevin(post, [np.zeros((2, 2)), J], h=0.002, n_steps=12_000, chains=16, seed=3, burn_in=2_000)
    for k in range(2):
        flat = run.theta[k].reshape(-1, 2)
        n_eff = ess.effective_sample_size(run.theta[k][:, :, 0]).sum()
        se = np.sqrt(cov[0, 0] / n_eff)
        assert abs(flat[:, 0].mean() - mean[0]) < 5 * se + 0.01
        assert np.allclose(np.cov(flat.T), cov, atol=0.03)


def test_sampler_refuses_a_step_beyond_its_stability_limit(post):
    J = 8 * np.array([[0.0, 1.0], [-1.0, 0.0]])
    limit = nr.stability_limit(post.hessian(post.mode()), J)
    with pytest.raises(ValueError, match=f"stability limit {limit:.4g}"):
        nr.run_langevin(post, [J], h=1.01 * limit, n_steps=10, chains=2, seed=0)
    nr.run_langevin(post, [J], h=0.5 * limit, n_steps=10, chains=2, seed=0)  # below it: runs
    with pytest.raises(ValueError, match="one per J"):
        nr.run_langevin(post, [J, J], h=[0.001], n_steps=10, chains=2, seed=0)


def test_per_J_steps_equal_separate_runs(post):
    J = np.array([[0.0, 1.0], [-1.0, 0.0]])
    both = nr.run_langevin(post, [np.zeros((2, 2)), J], h=[0.01, 0.004], n_steps=50, chains=3, seed=4)
    alone = nr.run_langevin(post, [J], h=0.004, n_steps=50, chains=3, seed=4)
    assert np.allclose(both.theta[1], alone.theta[0])


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="positive definite"):
        nr.spectral_gap(np.diag([1.0, -1.0]))
    with pytest.raises(ValueError, match="antisymmetric"):
        nr.spectral_gap(np.eye(2), np.ones((2, 2)))
    with pytest.raises(ValueError, match="same size"):
        nr.spectral_gap(np.eye(2), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="observable"):
        nr.asymptotic_variance(np.eye(2))
    with pytest.raises(ValueError, match="distinct positive"):
        nr.optimal_nonreversible_J(np.eye(3), weights=[1, 1, 2])
    with pytest.raises(ValueError, match="labels 0 and 1"):
        nr.LogisticPosterior(np.ones((3, 2)), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="d = 2"):
        nr.posterior_moments_2d(nr.LogisticPosterior(*nr.make_logistic_data(20, 3)[:2]))
    with pytest.raises(ValueError, match="at least 16"):
        ess.effective_sample_size(np.ones(5))
    with pytest.raises(ValueError, match="constant series"):
        ess.effective_sample_size(np.ones(100))
    with pytest.raises(ValueError, match="rho"):
        ess.ar1(1.0, 100)


# ------------------------------------------------------------------------------------------------
# ESS calibration on AR(1), whose ESS is n(1 − ρ)/(1 + ρ)
@pytest.mark.parametrize("rho", [0.0, 0.5, 0.9, -0.5])
def test_ess_estimators_recover_the_ar1_value(rho):
    n = 20_000
    x = ess.ar1(rho, n, chains=100, seed=7)
    truth = n * (1 - rho) / (1 + rho)
    assert ess.effective_sample_size(x).mean() == pytest.approx(truth, rel=0.05)
    assert ess.batch_means_ess(x).mean() == pytest.approx(truth, rel=0.12)


def test_ess_gives_nominal_coverage_of_the_mean():
    """Null: the interval mean ± 1.96 sd/√ESS covers the true mean 0 at ≈ 95 %; a naive n covers far less."""
    x = ess.ar1(0.9, 5_000, chains=400, seed=8)
    half = 1.96 * x.std(axis=1) / np.sqrt(ess.effective_sample_size(x))
    cover = np.mean(np.abs(x.mean(axis=1)) < half)
    assert 0.91 < cover < 0.98  # binomial s.d. at 400 chains ≈ 1.1 %
    naive = np.mean(np.abs(x.mean(axis=1)) < 1.96 * x.std(axis=1) / np.sqrt(x.shape[1]))
    assert naive < 0.5
