"""vdlib.theory.discrete_sgd: finite-η covariances against simulation, SVAG's limit, KL along Markov chains."""
import math

import numpy as np
import pytest

from vdlib.theory import discrete_sgd as ds

A2 = np.diag([1.0, 0.25])


# ---------------------------------------------------------------- closed forms
def test_additive_covariance_solves_the_discrete_equation_and_tends_to_the_sde():
    rng = np.random.default_rng(1)
    Q = np.linalg.qr(rng.standard_normal((3, 3)))[0]
    H = Q @ np.diag([2.0, 1.0, 0.3]) @ Q.T
    B = rng.standard_normal((3, 3))
    C = B @ B.T
    for eta in (0.01, 0.3, 0.9):
        S = ds.additive_covariance(H, C, eta)
        assert np.allclose(H @ S + S @ H - eta * H @ S @ H, eta * C, atol=1e-12)
    # relative difference to the SDE is O(η): it shrinks tenfold when η does
    rel = [np.linalg.norm(ds.additive_covariance(H, C, e) - ds.additive_covariance(H, C, e, "sde"))
           / np.linalg.norm(ds.additive_covariance(H, C, e, "sde")) for e in (1e-2, 1e-3)]
    assert 8 < rel[0] / rel[1] < 12


def test_label_noise_covariance_solves_its_matrix_equation_in_any_basis():
    rng = np.random.default_rng(2)
    Q = np.linalg.qr(rng.standard_normal((3, 3)))[0]
    A = Q @ np.diag([1.5, 0.7, 0.2]) @ Q.T
    for l in (1, 3):
        Sig = ds.label_noise_covariance(A, 0.3, 4, 0.5, svag_l=l)
        lam, mult = 0.3 / l, l
        rhs = lam * mult / 4 * (A @ Sig @ A + np.trace(A @ Sig) * A + 0.5 * A)
        assert np.allclose(A @ Sig + Sig @ A - lam * A @ Sig @ A, rhs, atol=1e-12)
    sde = ds.label_noise_covariance(A, 0.3, 4, 0.5, model="sde")
    rhs = 0.3 / 4 * (A @ sde @ A + np.trace(A @ sde) * A + 0.5 * A)
    assert np.allclose(A @ sde + sde @ A, rhs, atol=1e-12)


def test_label_noise_1d_stability_limit_is_2S_over_S_plus_2():
    for batch in (1, 2, 8):
        assert ds.label_noise_stability_limit([[1.0]], batch) == pytest.approx(2 * batch / (batch + 2), rel=1e-9)
        with pytest.raises(ValueError, match="diverges"):
            ds.label_noise_covariance([[1.0]], 2 * batch / (batch + 2) * 1.001, batch, 1.0)


def test_svag_weights_keep_the_mean_and_multiply_the_variance_by_l():
    for l in (1, 2, 5, 64):
        w1, w2 = ds.svag_weights(l)
        assert w1 + w2 == pytest.approx(1.0)
        assert w1**2 + w2**2 == pytest.approx(l)


def test_svag_converges_to_the_sde_at_rate_one_over_l():
    P0 = np.eye(2)
    limit = ds.label_noise_sde_second_moment(A2, 0.5, 2, 1.0, P0, 4.0)
    err = [np.linalg.norm(ds.label_noise_second_moment_path(A2, 0.5, 2, 1.0, P0, 4.0, svag_l=l) - limit)
           for l in (8, 16, 32)]
    assert 1.7 < err[0] / err[1] < 2.3 and 1.7 < err[1] / err[2] < 2.3
    stat = [ds.label_noise_covariance(A2, 0.5, 2, 1.0, svag_l=l) for l in (64, 128)]
    sde = ds.label_noise_covariance(A2, 0.5, 2, 1.0, model="sde")
    assert np.linalg.norm(stat[1] - sde) < 0.6 * np.linalg.norm(stat[0] - sde)


def test_sde_second_moment_matches_a_fine_euler_solution():
    P0 = np.diag([2.0, 0.5])
    P = P0.copy()
    dt = 1e-4
    for _ in range(int(1.0 / dt)):
        dP = -A2 @ P - P @ A2 + 0.5 / 2 * (A2 @ P @ A2 + np.trace(A2 @ P) * A2 + A2)
        P = P + dt * dP
    assert np.allclose(ds.label_noise_sde_second_moment(A2, 0.5, 2, 1.0, P0, 1.0), P, rtol=1e-3)


# ---------------------------------------------------------------- estimator calibration
def test_simulated_covariance_passes_its_null_at_the_nominal_rate_and_detects_the_sde_error():
    H, C, eta = np.diag([1.0, 0.5]), np.array([[1.0, 0.3], [0.3, 0.5]]), 1.0
    exact = ds.additive_covariance(H, C, eta)
    z = []
    for seed in range(12):
        est = ds.simulate_additive_sgd(H, C, eta, n_chains=200, n_steps=600, burn_in=100, seed=seed)
        z.extend(est.z_scores(exact)[np.triu_indices(2)])
    z = np.array(z)
    assert np.mean(np.abs(z) < 1.96) > 0.8  # 36 z-scores; nominal 95 %
    assert np.all(np.abs(z) < 4.5)
    big = ds.simulate_additive_sgd(H, C, eta, n_chains=400, n_steps=1000, burn_in=100, seed=99)
    assert big.z_scores(ds.additive_covariance(H, C, eta, "sde"))[0, 0] > 8  # the SDE is off by ηh/2 = 50 %


def test_label_noise_simulation_matches_the_exact_covariance_for_sgd_and_svag():
    for l, eta in ((1, 0.5), (4, 0.5)):
        exact = ds.label_noise_covariance(A2, eta, 2, 1.0, svag_l=l)
        est = ds.simulate_label_noise_sgd(A2, eta, 2, 1.0, n_chains=300, n_steps=800 * l, burn_in=100 * l,
                                          seed=l, svag_l=l)
        assert np.all(np.abs(est.z_scores(exact)[np.diag_indices(2)]) < 4.5)
    # the constant-D SDE is detectably wrong at η = 0.5, S = 2
    est = ds.simulate_label_noise_sgd(A2, 0.5, 2, 1.0, n_chains=300, n_steps=800, burn_in=100, seed=7)
    assert est.z_scores(ds.label_noise_covariance(A2, 0.5, 2, 1.0, model="sde_constant"))[0, 0] > 8


def test_simulated_svag_finite_time_moment_matches_the_exact_path():
    z0 = np.array([1.0, 1.0])
    exact = ds.label_noise_second_moment_path(A2, 0.5, 2, 1.0, np.outer(z0, z0), 2.0, svag_l=2)
    est = ds.simulate_label_noise_sgd(A2, 0.5, 2, 1.0, n_chains=4000, n_steps=8, burn_in=7, seed=3,
                                      svag_l=2, z0=z0)
    sample = np.einsum("ni,nj->ij", est.final, est.final) / est.n_chains
    se = np.sqrt(np.var(est.final[:, 0] ** 2, ddof=1) / est.n_chains)
    assert abs(sample[0, 0] - exact[0, 0]) < 4.5 * se


# ---------------------------------------------------------------- KL
def _random_chain(n, seed):
    r = np.random.default_rng(seed)
    P = r.random((n, n)) ** 3
    return P / P.sum(axis=1, keepdims=True)


def test_kl_to_the_invariant_law_never_increases_and_data_processing_holds():
    for seed in range(5):
        P = _random_chain(6, seed)
        pi = ds.stationary_distribution(P)
        assert np.allclose(pi @ P, pi)
        kl = ds.markov_kl_path(P, np.eye(6)[seed], 40)
        assert np.all(np.diff(kl) <= 1e-12) and kl[-1] < 1e-3 * kl[0]
        r = np.random.default_rng(100 + seed)
        for _ in range(20):
            mu, nu = r.dirichlet(np.ones(6)), r.dirichlet(np.ones(6))
            assert ds.kl_categorical(mu @ P, nu @ P) <= ds.kl_categorical(mu, nu) + 1e-12


def test_kl_to_a_law_that_is_not_invariant_can_increase():
    P = _random_chain(6, 0)
    pi = ds.stationary_distribution(P)
    nu = np.full(6, 1 / 6)
    kl = ds.markov_kl_path(P, pi, 5, reference=nu)  # starts at the invariant law: stays there
    assert np.allclose(kl, kl[0])
    kl2 = ds.markov_kl_path(P, nu, 30, reference=nu)  # starts at nu: KL to nu rises from 0
    assert kl2[0] == 0 and kl2[-1] > 0.01


def test_gaussian_kl_matches_monte_carlo_and_decreases_along_the_sgd_chain():
    m0, S0 = np.array([0.5, -1.0]), np.array([[1.0, 0.4], [0.4, 0.8]])
    m1, S1 = np.zeros(2), np.diag([0.5, 2.0])
    x = np.random.default_rng(0).multivariate_normal(m0, S0, size=200_000)

    def logpdf(x, m, S):
        d = x - m
        return -0.5 * (np.einsum("ni,ij,nj->n", d, np.linalg.inv(S), d) + np.linalg.slogdet(2 * np.pi * S)[1])

    vals = logpdf(x, m0, S0) - logpdf(x, m1, S1)
    assert abs(vals.mean() - ds.kl_gaussian(m0, S0, m1, S1)) < 4 * vals.std() / math.sqrt(len(vals))
    H, C, eta = np.diag([2.0, 0.5]), np.array([[1.0, 0.5], [0.5, 1.0]]), 0.6
    M, Q = np.eye(2) - eta * H, eta**2 * C
    Sinf = ds.additive_covariance(H, C, eta)
    means, covs = ds.gaussian_chain_moments(M, Q, [3.0, -2.0], 0.1 * np.eye(2), 30)
    kl = [ds.kl_gaussian(mu, S, np.zeros(2), Sinf) for mu, S in zip(means, covs)]
    assert np.all(np.diff(kl) < 0)


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("call, match", [
    (lambda: ds.additive_covariance(np.diag([1.0, 4.0]), np.eye(2), 0.5), "stability"),
    (lambda: ds.additive_covariance(np.diag([1.0, -1.0]), np.eye(2), 0.1), "positive definite"),
    (lambda: ds.additive_covariance(np.eye(2), np.eye(3), 0.1), "same shape"),
    (lambda: ds.additive_covariance(np.eye(2), np.eye(2), 0.1, model="ode"), "'sgd' or 'sde'"),
    (lambda: ds.label_noise_covariance([[1.0, 2.0], [0.0, 1.0]], 0.1, 2, 1.0), "symmetric"),
    (lambda: ds.label_noise_covariance(np.eye(2), 0.1, 2, 1.0, model="x"), "model must be"),
    (lambda: ds.label_noise_covariance(np.eye(2), 0.1, 2, -1.0), "positive"),
    (lambda: ds.simulate_additive_sgd(np.eye(2), np.eye(2), 0.1, n_chains=5, n_steps=10, burn_in=10, seed=0),
     "no recorded steps"),
    (lambda: ds.simulate_label_noise_sgd(np.eye(2), 0.1, 2, 1.0, n_chains=5, n_steps=10, burn_in=1, seed=0,
                                         z0=[1.0]), "z0 must have shape"),
    (lambda: ds.stationary_distribution(np.eye(3)), "several invariant laws"),
    (lambda: ds.markov_kl_path(np.array([[0.5, 0.6], [0.5, 0.5]]), [1.0, 0.0], 3), "rows summing to 1"),
    (lambda: ds.kl_categorical([0.5, 0.6], [0.5, 0.5]), "probability vector"),
    (lambda: ds.kl_gaussian([0.0], np.eye(2), [0.0, 0.0], np.eye(2)), "shapes disagree"),
])
def test_bad_input_is_a_clear_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_svag_factor_must_be_a_positive_integer():
    with pytest.raises(ValueError, match="at least 1"):
        ds.svag_weights(0)
    with pytest.raises(TypeError, match="integer"):
        ds.svag_weights(2.5)


def test_a_diverging_chain_says_so():
    with pytest.raises(FloatingPointError, match="diverged"):
        ds.simulate_label_noise_sgd([[1.0]], 5.0, 1, 1.0, n_chains=50, n_steps=5000, burn_in=1, seed=0)


def test_an_sde_time_that_is_not_a_whole_number_of_steps_is_refused():
    assert ds.steps_for(6.0, 0.6) == 10 and ds.steps_for(6.0, 0.05 / 8) == 960
    with pytest.raises(ValueError, match="whole number of steps"):
        ds.label_noise_second_moment_path(A2, 0.6, 2, 1.0, np.eye(2), 4.0)
