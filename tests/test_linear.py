"""vdlib.theory.linear: temperatures, Lyapunov solvers and their input checks."""
import numpy as np
import pytest

from vdlib.theory import linear


def _random_spd(rng, d, low=0.5, high=4.0):
    Q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    return Q @ np.diag(rng.uniform(low, high, size=d)) @ Q.T


def _random_psd(rng, d, rank=None):
    G = rng.normal(size=(d, rank or d))
    return G @ G.T


@pytest.mark.parametrize("d", [1, 2, 5])
def test_continuous_solution_satisfies_its_equation(d):
    rng = np.random.default_rng(d)
    H, D = _random_spd(rng, d), _random_psd(rng, d)
    eta, b = 0.03, 7
    S = linear.continuous_lyapunov_covariance(H, D, eta, b)
    assert np.allclose(H @ S + S @ H, eta / b * D, rtol=1e-10, atol=1e-14)
    assert np.allclose(S, S.T)
    assert np.linalg.eigvalsh(S).min() > 0


@pytest.mark.parametrize("d", [1, 2, 5])
def test_discrete_solution_satisfies_both_forms(d):
    rng = np.random.default_rng(10 + d)
    H, D = _random_spd(rng, d), _random_psd(rng, d)
    eta, b = 0.1, 4
    S = linear.discrete_sgd_covariance(H, D, eta, b)
    M = np.eye(d) - eta * H
    assert np.allclose(S, M @ S @ M.T + eta**2 / b * D, rtol=1e-10, atol=1e-14)
    assert np.allclose(H @ S + S @ H - eta * H @ S @ H, eta / b * D, rtol=1e-9, atol=1e-14)


def test_non_symmetric_stable_drift_and_rank_one_noise():
    F = np.array([[1.0, 2.0], [-0.5, 3.0]])  # eigenvalues with positive real parts, not symmetric
    D = np.array([[1.0, 0.0], [0.0, 0.0]])  # rank one
    S = linear.continuous_lyapunov_covariance(F, D, 0.02, 10)
    assert np.allclose(F @ S + S @ F.T, 0.02 / 10 * D, atol=1e-14)
    assert np.linalg.eigvalsh(S).min() > 0  # (F, D^1/2) controllable: full rank although D is not


def test_discrete_tends_to_continuous_linearly_in_eta():
    rng = np.random.default_rng(3)
    H, D = _random_spd(rng, 3), _random_psd(rng, 3)
    b = 5
    gaps = []
    for eta in (0.04, 0.004):
        Sc = linear.continuous_lyapunov_covariance(H, D, eta, b) / (eta / b)
        Sd = linear.discrete_sgd_covariance(H, D, eta, b) / (eta / b)
        gaps.append(np.linalg.norm(Sd - Sc) / np.linalg.norm(Sc))
    assert gaps[1] < gaps[0]
    assert 8 < gaps[0] / gaps[1] < 12  # first order: ten times smaller eta, ten times smaller gap


def test_one_dimensional_closed_forms():
    h, D, eta, b = 3.0, 2.5, 0.05, 8
    assert np.isclose(linear.continuous_lyapunov_covariance(h, D, eta, b)[0, 0], eta * D / (2 * b * h))
    disc = linear.discrete_sgd_covariance(h, D, eta, b)[0, 0]
    assert np.isclose(disc, eta * D / (b * h * (2 - eta * h)))
    assert np.isclose(disc / (eta * D / (2 * b * h)), 1 / (1 - eta * h / 2))


def test_temperature_with_and_without_replacement():
    assert linear.temperature(0.02, 10) == pytest.approx(0.02 / 20)
    assert linear.temperature(0.02, 10, replacement=False, N=40) == pytest.approx(0.02 / 20 * (1 - 10 / 40))
    assert linear.temperature(0.02, 40, replacement=False, N=40) == 0.0  # full batch: no noise
    S_wo = linear.discrete_sgd_covariance(2.0, 1.0, 0.1, 10, replacement=False, N=40)
    S_wi = linear.discrete_sgd_covariance(2.0, 1.0, 0.1, 10)
    assert np.isclose(S_wo[0, 0] / S_wi[0, 0], 1 - 10 / 40)


def test_general_solver_both_kinds():
    rng = np.random.default_rng(7)
    A = rng.normal(size=(3, 3))
    Q = _random_psd(rng, 3)
    X = linear.solve_lyapunov(A + 3 * np.eye(3), Q, kind="continuous")
    assert np.allclose((A + 3 * np.eye(3)) @ X + X @ (A + 3 * np.eye(3)).T, Q)
    Ad = 0.2 * A / np.max(np.abs(np.linalg.eigvals(A)))
    Xd = linear.solve_lyapunov(Ad, Q, kind="discrete")
    assert np.allclose(Xd, Ad @ Xd @ Ad.T + Q)


def test_max_stable_learning_rate_is_the_boundary():
    rng = np.random.default_rng(11)
    for H in (_random_spd(rng, 3), np.array([[1.0, 2.0], [-0.5, 3.0]])):
        eta_max = linear.max_stable_learning_rate(H)
        radius = lambda e: np.max(np.abs(np.linalg.eigvals(np.eye(len(H)) - e * H)))  # noqa: E731
        assert radius(0.999 * eta_max) < 1 <= radius(1.001 * eta_max)
    sym = _random_spd(rng, 4)
    assert np.isclose(linear.max_stable_learning_rate(sym), 2 / np.linalg.eigvalsh(sym).max())
    assert linear.max_stable_learning_rate(np.diag([1.0, -1.0])) == 0.0


# ---------------------------------------------------------------- errors that say what to change
H2, D2 = np.diag([1.0, 4.0]), np.eye(2)


@pytest.mark.parametrize(
    "H, D, match",
    [
        (np.ones((2, 3)), np.eye(2), "H must be a square"),
        (H2, np.eye(3), "same d×d size"),
        (H2, np.array([[1.0, 0.5], [0.0, 1.0]]), "D must be symmetric"),
        (H2, np.diag([1.0, -0.5]), "positive semi-definite"),
        (H2, np.array([[1.0, np.nan], [np.nan, 1.0]]), "NaN or infinite"),
    ],
)
def test_bad_matrices(H, D, match):
    for fn in (linear.continuous_lyapunov_covariance, linear.discrete_sgd_covariance):
        with pytest.raises(ValueError, match=match):
            fn(H, D, 0.02, 10)


def test_unstable_H_for_the_continuous_equation():
    with pytest.raises(ValueError, match="H is not stable.*non-positive real part"):
        linear.continuous_lyapunov_covariance(np.diag([1.0, -2.0]), D2, 0.02, 10)
    with pytest.raises(ValueError, match="H is not stable"):
        linear.continuous_lyapunov_covariance(np.diag([1.0, 0.0]), D2, 0.02, 10)


def test_discrete_beyond_the_stability_limit_names_the_largest_stable_eta():
    eta_max = 2 / 4.0
    with pytest.raises(ValueError, match=rf"spectral radius of I − ηH is .* use eta < {eta_max:.6g}"):
        linear.discrete_sgd_covariance(H2, D2, 0.6, 10)
    with pytest.raises(ValueError, match="no learning rate is stable"):
        linear.discrete_sgd_covariance(np.diag([1.0, -1.0]), D2, 0.1, 10)


@pytest.mark.parametrize(
    "eta, b, exc, match",
    [
        (0.0, 10, ValueError, "eta must be a positive"),
        (-0.1, 10, ValueError, "eta must be a positive"),
        (float("inf"), 10, ValueError, "eta must be a positive finite"),
        ("0.1", 10, TypeError, "eta must be a real number"),
        (0.1, 0, ValueError, "b must be at least 1"),
        (0.1, -3, ValueError, "b must be at least 1"),
        (0.1, 2.5, TypeError, "b must be an integer"),
        (0.1, 10.0, TypeError, "b must be an integer"),
        (0.1, True, TypeError, "b must be an integer"),
    ],
)
def test_bad_eta_and_b(eta, b, exc, match):
    with pytest.raises(exc, match=match):
        linear.temperature(eta, b)
    with pytest.raises(exc, match=match):
        linear.discrete_sgd_covariance(H2, D2, eta, b)


def test_without_replacement_needs_N_and_b_at_most_N():
    with pytest.raises(ValueError, match="pass N="):
        linear.temperature(0.1, 10, replacement=False)
    with pytest.raises(ValueError, match="exceeds the dataset size N=5.*b <= N"):
        linear.temperature(0.1, 10, replacement=False, N=5)


def test_general_solver_errors():
    with pytest.raises(ValueError, match="kind must be"):
        linear.solve_lyapunov(H2, D2, kind="sylvester")
    with pytest.raises(ValueError, match="no unique solution: two eigenvalues of A sum to zero"):
        linear.solve_lyapunov(np.diag([1.0, -1.0]), D2)
    with pytest.raises(ValueError, match="no unique solution: two eigenvalues of A multiply to 1"):
        linear.solve_lyapunov(np.diag([0.5, 2.0]), D2, kind="discrete")
