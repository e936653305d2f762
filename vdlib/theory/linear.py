"""Linear (Ornstein–Uhlenbeck) models of SGD: temperatures and stationary covariances.

Near a minimum the loss is quadratic, f(x) = ½ xᵀHx, and the diffusion matrix D is (nearly)
constant. Two models of SGD with learning rate η and batch size b then have Gaussian-like
stationary laws with covariances that solve *Lyapunov equations*:

* the continuous-time SDE of Lemma 2, dx = −Hx dt + √(2β⁻¹D) dW with β⁻¹ = η/(2b):

      H Σ + Σ Hᵀ = 2β⁻¹ D = (η/b) D                                   (continuous Lyapunov)

* discrete SGD itself, x_{k+1} = M x_k − η ξ_k with M = I − ηH and Cov ξ_k = D/b:

      Σ = M Σ Mᵀ + (η²/b) D   ⇔   HΣ + ΣHᵀ − η HΣHᵀ = (η/b) D       (discrete Lyapunov)

The continuous equation is the η → 0 limit of the discrete one at fixed η/b.

Lemma 20 of the paper (the Kwon–Ao–Thouless decomposition) and the area rate:

* :func:`ou_decomposition`: for dx = −Fx dt + √(2β⁻¹D) dW with F stable (symmetric or not) and
  D ⪰ 0 with (F, D) controllable, Σ solves FΣ + ΣFᵀ = 2β⁻¹D, U = β⁻¹Σ⁻¹ (Φ = ½xᵀUx) and
  Q = (β/2)(FΣ − ΣFᵀ) is antisymmetric, with (D + Q)U = F;
* :func:`area_rate_theory`, :func:`area_rate_from_covariance`, :func:`sgd_area_rate`: the
  stationary area (angular-momentum) rate ⟨x₁ẋ₂ − x₂ẋ₁⟩ = (FΣ − ΣFᵀ)₁₂ = 2Q₁₂/β = −2Q₂₁/β;
* :func:`area_rate_from_trajectory`: the same statistic from sampled paths (lag-one wedge
  products x_k ∧ x_{k+1} / Δt), with standard errors from independent chains;
* :func:`simulate_ou_area_rate`: many Euler–Maruyama chains of the OU process
  (:func:`vdlib.theory.sde.euler_maruyama`) reduced to their area rates block by block.

Conventions: ``H`` is the drift matrix (the Hessian for a gradient flow; it may be
non-symmetric for a linearised non-gradient drift), ``D`` the per-sample gradient covariance of
Definition 1, ``b`` the batch size. Sampling without replacement multiplies the temperature by
(1 − b/N), with the paper's ``D`` that absorbs N/(N − 1) (Appendix A.2).

Used in: 02_sgd_as_sde, 04_potential_and_force, 07_linear_case, 08_critical_points_move, 09_limit_cycles.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import scipy.linalg

from .. import checks

__all__ = [
    "temperature",
    "solve_lyapunov",
    "continuous_lyapunov_covariance",
    "discrete_sgd_covariance",
    "max_stable_learning_rate",
    "OUDecomposition",
    "ou_decomposition",
    "is_controllable",
    "area_rate_from_covariance",
    "area_rate_theory",
    "sgd_area_rate",
    "AreaRate",
    "area_rate_from_trajectory",
    "simulate_ou_area_rate",
]


# --------------------------------------------------------------------------------------------
# input checks (shared by the solvers; messages say what to change)
# --------------------------------------------------------------------------------------------
_check_eta = checks.learning_rate
_check_batch = checks.batch_size


def _as_square(name: str, M) -> np.ndarray:
    M = np.asarray(M, dtype=float)
    if M.ndim == 0:
        M = M.reshape(1, 1)
    if M.ndim != 2 or M.shape[0] != M.shape[1]:
        raise ValueError(f"{name} must be a square d×d matrix (or a scalar for d = 1), got shape {M.shape}")
    if not np.all(np.isfinite(M)):
        raise ValueError(f"{name} contains NaN or infinite entries")
    return M


def _check_same_shape(nA: str, A: np.ndarray, nB: str, B: np.ndarray) -> None:
    if A.shape != B.shape:
        raise ValueError(f"{nA} has shape {A.shape} but {nB} has shape {B.shape}: they must be the same d×d size")


def _check_symmetric(name: str, M: np.ndarray, rtol: float = 1e-8) -> None:
    scale = max(1.0, float(np.max(np.abs(M))))
    if not np.allclose(M, M.T, rtol=0.0, atol=rtol * scale):
        err = float(np.max(np.abs(M - M.T)))
        raise ValueError(
            f"{name} must be symmetric (a covariance), but max|{name} − {name}ᵀ| = {err:.3g}; "
            f"symmetrise it with ({name} + {name}.T) / 2 if the asymmetry is round-off"
        )


def _check_psd(name: str, M: np.ndarray, rtol: float = 1e-10) -> None:
    _check_symmetric(name, M)
    vals = np.linalg.eigvalsh((M + M.T) / 2)
    if vals[0] < -rtol * max(1.0, abs(vals[-1])):
        raise ValueError(
            f"{name} must be positive semi-definite (a covariance matrix), but its smallest eigenvalue is "
            f"{vals[0]:.3g}; compute it as a covariance (e.g. vdlib.theory.minibatch_noise.diffusion_matrix) or clip negative "
            "eigenvalues"
        )


# --------------------------------------------------------------------------------------------
# temperature and stability
# --------------------------------------------------------------------------------------------
def temperature(eta, b, replacement: bool = True, N=None) -> float:
    """The temperature β⁻¹ of Lemma 2: η/(2b) with replacement, η/(2b)·(1 − b/N) without.

    Without replacement the paper absorbs N/(N − 1) into its ``D`` and the factor (1 − b/N)
    into the temperature (Appendix A.2), so ``N`` is required then.

    Used in: 02_sgd_as_sde
    """
    eta = _check_eta(eta)
    if not replacement and N is None:
        raise ValueError("without replacement the temperature needs the dataset size: pass N=")
    b = _check_batch(b, N, replacement)
    T = eta / (2.0 * b)
    if not replacement:
        T *= 1.0 - b / N
    return T


def max_stable_learning_rate(H) -> float:
    """The largest η for which the spectral radius of I − ηH is below 1 (supremum, not attained).

    For eigenvalues λ of H with Re λ > 0, ``|1 − ηλ| < 1`` ⇔ ``η < 2 Re λ / |λ|²``; for symmetric H this
    is the familiar η < 2/λ_max(H). Returns 0.0 if some eigenvalue has Re λ ≤ 0 (no η works).

    Used in: 02_sgd_as_sde
    """
    H = _as_square("H", H)
    lam = np.linalg.eigvals(H)
    if np.any(lam.real <= 0):
        return 0.0
    return float(np.min(2.0 * lam.real / np.abs(lam) ** 2))


# --------------------------------------------------------------------------------------------
# Lyapunov equations
# --------------------------------------------------------------------------------------------
def solve_lyapunov(A, Q, kind: str = "continuous") -> np.ndarray:
    """Solve a Lyapunov equation for X and return it (symmetrised when Q is symmetric).

    * ``kind="continuous"``: A X + X Aᵀ = Q;
    * ``kind="discrete"``:   X = A X Aᵀ + Q.

    Only uniqueness is required here (λ_i + λ_j ≠ 0, resp. λ_i λ_j ≠ 1, for eigenvalues of A);
    whether X is a stationary covariance is checked by the callers that need it.

    Used in: 02_sgd_as_sde
    """
    if kind not in ("continuous", "discrete"):
        raise ValueError(f"kind must be 'continuous' or 'discrete', got {kind!r}")
    A = _as_square("A", A)
    Q = _as_square("Q", Q)
    _check_same_shape("A", A, "Q", Q)
    lam = np.linalg.eigvals(A)
    scale = max(1.0, float(np.max(np.abs(lam))))
    if kind == "continuous":
        gap = np.min(np.abs(lam[:, None] + lam[None, :]))
        if gap <= 1e-12 * scale:
            raise ValueError(
                "A X + X Aᵀ = Q has no unique solution: two eigenvalues of A sum to zero "
                f"(eigenvalues {np.round(lam, 6)}); a stationary covariance needs all Re λ(A) > 0"
            )
        X = scipy.linalg.solve_continuous_lyapunov(A, Q)
    else:
        gap = np.min(np.abs(1.0 - lam[:, None] * lam[None, :]))
        if gap <= 1e-12 * scale**2:
            raise ValueError(
                "X = A X Aᵀ + Q has no unique solution: two eigenvalues of A multiply to 1 "
                f"(eigenvalues {np.round(lam, 6)}); a stationary covariance needs spectral radius of A < 1"
            )
        X = scipy.linalg.solve_discrete_lyapunov(A, Q)
    X = np.real_if_close(X)
    if np.allclose(Q, Q.T):
        X = (X + X.T) / 2
    return X


def _prepare(H, D, eta, b, replacement, N):
    H = _as_square("H", H)
    D = _as_square("D", D)
    _check_same_shape("H", H, "D", D)
    _check_psd("D", D)
    T = temperature(eta, b, replacement=replacement, N=N)
    return H, (D + D.T) / 2, float(eta), T


def continuous_lyapunov_covariance(H, D, eta, b, replacement: bool = True, N=None) -> np.ndarray:
    """Stationary covariance of the SDE (3) on f = ½xᵀHx with constant D.

    Solves H Σ + Σ Hᵀ = 2β⁻¹ D with β⁻¹ = :func:`temperature` (η/(2b) with replacement), i.e.
    H Σ + Σ Hᵀ = (η/b) D. ``H`` must be stable: every eigenvalue has a positive real part
    (a minimum, not a saddle or a flat direction).

    Used in: 02_sgd_as_sde
    """
    H, D, eta, T = _prepare(H, D, eta, b, replacement, N)
    lam = np.linalg.eigvals(H)
    if np.any(lam.real <= 0):
        raise ValueError(
            "H is not stable: the eigenvalues "
            f"{np.round(lam[lam.real <= 0], 6)} have non-positive real part, so the process dx = −Hx dt + ... "
            "has no stationary covariance (a saddle or a flat direction); use the Hessian at a strict minimum"
        )
    return solve_lyapunov(H, 2.0 * T * D, kind="continuous")


def discrete_sgd_covariance(H, D, eta, b, replacement: bool = True, N=None) -> np.ndarray:
    """Stationary covariance of discrete SGD on f = ½xᵀHx with constant gradient-noise covariance D/b.

    Solves Σ = M Σ Mᵀ + 2η β⁻¹ D with M = I − ηH, i.e. Σ = MΣMᵀ + (η²/b) D with replacement
    (times (1 − b/N) without). Equivalent to HΣ + ΣHᵀ − η HΣHᵀ = (η/b) D. Requires η below the
    stability limit: spectral radius of I − ηH < 1 (η < 2/λ_max(H) for symmetric H).

    Used in: 02_sgd_as_sde
    """
    H, D, eta, T = _prepare(H, D, eta, b, replacement, N)
    M = np.eye(H.shape[0]) - eta * H
    rho = float(np.max(np.abs(np.linalg.eigvals(M))))
    if rho >= 1.0:
        eta_max = max_stable_learning_rate(H)
        hint = (
            f"use eta < {eta_max:.6g} (the largest stable learning rate, 2/λ_max(H) for symmetric H)"
            if eta_max > 0
            else "no learning rate is stable because H has eigenvalues with non-positive real part"
        )
        raise ValueError(
            f"SGD diverges at eta={eta:g}: the spectral radius of I − ηH is {rho:.4g} ≥ 1, so there is no "
            f"stationary covariance; {hint}"
        )
    return solve_lyapunov(M, 2.0 * eta * T * D, kind="discrete")


# --------------------------------------------------------------------------------------------
# Lemma 20: the Kwon–Ao–Thouless decomposition F = (D + Q)U of a linear drift
# --------------------------------------------------------------------------------------------
class OUDecomposition(NamedTuple):
    """:func:`ou_decomposition`: the stationary covariance and the two matrices of Lemma 20.

    * ``Sigma``: Σ, the stationary covariance, FΣ + ΣFᵀ = 2β⁻¹D;
    * ``U``: symmetric, U = β⁻¹Σ⁻¹, the potential Φ(x) = ½ xᵀUx (ρ^ss ∝ e^{−βΦ});
    * ``Q``: antisymmetric, Q = (β/2)(FΣ − ΣFᵀ); the force is j(x) = −QUx.

    Used in: 07_linear_case
    """

    Sigma: np.ndarray
    U: np.ndarray
    Q: np.ndarray


def _check_beta(beta) -> float:
    if isinstance(beta, bool) or not isinstance(beta, numbers.Real):
        raise TypeError(f"beta (the inverse temperature) must be a real number, got {beta!r}")
    beta = float(beta)
    if not np.isfinite(beta) or beta <= 0:
        raise ValueError(f"beta (the inverse temperature) must be positive and finite, got {beta}; "
                         "for SGD use beta = 2b/eta")
    return beta


def _check_stable(H: np.ndarray, name: str = "H") -> None:
    lam = np.linalg.eigvals(H)
    bad = lam[lam.real <= 0]
    if bad.size:
        raise ValueError(
            f"{name} is not stable: the eigenvalues {np.round(bad, 6)} have non-positive real part, so "
            f"dx = −{name}x dt + √(2β⁻¹D) dW has no stationary law (a saddle, a maximum or a flat direction); "
            f"linearise at a strict minimum, or add a restoring term (e.g. weight decay: {name} + λI with λ > "
            f"{max(0.0, -float(np.min(lam.real))):.3g})"
        )


def _psd_sqrt_np(D: np.ndarray) -> np.ndarray:
    vals, vecs = np.linalg.eigh((D + D.T) / 2)
    return (vecs * np.sqrt(np.clip(vals, 0.0, None))) @ vecs.T


def is_controllable(H, D, rtol: float = 1e-10) -> bool:
    """Kalman's test: is the pair (H, D^{1/2}) controllable, rank [B, HB, …, H^{d−1}B] = d with B = D?

    (D and D^{1/2} have the same column space.) For a stable H this is exactly the condition for
    the stationary covariance Σ of dx = −Hx dt + √(2β⁻¹D) dW to be positive definite: the noise
    reaches every direction, directly or through the drift, even when D is rank-deficient
    (hypoellipticity).

    Used in: 07_linear_case
    """
    H = _as_square("H", H)
    D = _as_square("D", D)
    _check_same_shape("H", H, "D", D)
    d = H.shape[0]
    blocks, B = [], D / max(1.0, float(np.max(np.abs(D))))
    Hn = H / max(1e-300, float(np.max(np.abs(H))))
    for _ in range(d):
        blocks.append(B)
        B = Hn @ B
    s = np.linalg.svd(np.hstack(blocks), compute_uv=False)
    return bool(s.size and s[0] > 0 and s[min(d, s.size) - 1] > rtol * s[0])


def _stable_ou_inputs(H, D, beta):
    """H square and stable, D a PSD matrix of the same shape, β > 0: the inputs of an OU process."""
    H = _as_square("H", H)
    D = _as_square("D", D)
    _check_same_shape("H", H, "D", D)
    _check_psd("D", D)
    beta = _check_beta(beta)
    _check_stable(H)
    return H, D, beta


def ou_decomposition(H, D, beta, rcond: float = 1e-10) -> OUDecomposition:
    """Lemma 20: decompose the drift matrix of dx = −Hx dt + √(2β⁻¹D) dW as H = (D + Q)U.

    Σ solves the Lyapunov equation HΣ + ΣHᵀ = 2β⁻¹D, U = β⁻¹Σ⁻¹ is symmetric and
    Q = (β/2)(HΣ − ΣHᵀ) antisymmetric. Then D + Q = βHΣ, so (D + Q)U = H identically
    (Kwon, Ao & Thouless 2005). The stationary density is e^{−βΦ}/Z with Φ = ½xᵀUx and the force
    is j = −Hx + DUx = −QUx.

    ``H`` may be any stable matrix (every eigenvalue with a positive real part; symmetric for a
    Hessian, non-symmetric for a linearised non-gradient drift). ``D`` must be symmetric positive
    semi-definite; a rank-deficient D is fine as long as (H, D) is controllable, which makes Σ
    positive definite. Otherwise Σ is singular and Φ does not exist: a ``ValueError`` names the
    direction the noise never reaches (Σ's relative smallest eigenvalue below ``rcond``).

    Used in: 04_potential_and_force, 07_linear_case
    """
    H = _as_square("H", H)
    D = _as_square("D", D)
    _check_same_shape("H", H, "D", D)
    _check_psd("D", D)
    D = (D + D.T) / 2
    beta = _check_beta(beta)
    _check_stable(H)
    if not np.any(D):
        raise ValueError("D is zero: without noise there is no stationary density (Σ = 0); pass a non-zero D")
    Sigma = solve_lyapunov(H, 2.0 * D / beta, kind="continuous")
    vals, vecs = np.linalg.eigh(Sigma)
    if vals[0] <= rcond * vals[-1]:
        v = vecs[:, 0]
        raise ValueError(
            "(H, D) is not controllable: the stationary covariance Σ is singular (smallest/largest eigenvalue "
            f"{vals[0] / vals[-1]:.2g}), the noise never reaches the direction v = {np.round(v, 4)}, and "
            "U = β⁻¹Σ⁻¹ does not exist; add noise along v (make D full rank, or rotate D so that its range is "
            "not invariant under H), or restrict H and D to the controllable subspace"
        )
    U = np.linalg.inv(Sigma) / beta
    U = (U + U.T) / 2
    Q = beta / 2.0 * (H @ Sigma - Sigma @ H.T)
    Q = (Q - Q.T) / 2
    err = np.max(np.abs((D + Q) @ U - H)) / max(1.0, float(np.max(np.abs(H))))
    tol = max(1e-9, 1e4 * np.finfo(float).eps * vals[-1] / vals[0])  # inverting Σ costs cond(Σ)·eps
    if not np.isfinite(err) or err > tol:
        raise ValueError(
            f"the decomposition is numerically unreliable: max|(D + Q)U − H| = {err:.2g} (Σ has condition number "
            f"{vals[-1] / vals[0]:.2g}); rescale H and D or increase the noise in the weakly excited directions"
        )
    return OUDecomposition(Sigma=Sigma, U=U, Q=Q)


# --------------------------------------------------------------------------------------------
# the area (angular-momentum) rate
# --------------------------------------------------------------------------------------------
def _check_plane(plane, d: int) -> tuple[int, int]:
    if d < 2:
        raise ValueError(f"an area rate needs at least two coordinates, got d = {d}")
    try:
        i, j = (int(plane[0]), int(plane[1]))
    except (TypeError, ValueError, IndexError):
        raise TypeError(f"plane must be a pair of coordinate indices (i, j), got {plane!r}") from None
    if len(plane) != 2 or not (0 <= i < d and 0 <= j < d) or i == j:
        raise ValueError(f"plane must be two different coordinate indices in 0..{d - 1}, got {plane!r}")
    return i, j


def area_rate_from_covariance(H, Sigma, plane=(0, 1)) -> float:
    """The stationary area rate ⟨x_i ẋ_j − x_j ẋ_i⟩ of a linear drift −Hx at covariance Σ: (HΣ − ΣHᵀ)_ij.

    The noise contributes nothing (it is independent of the current state), so only the drift
    does: ⟨x_i(−Hx)_j − x_j(−Hx)_i⟩ = (HΣ)_ij − (HΣ)_ji. The same formula is exact for the
    discrete chain x_{k+1} = (I − ηH)x_k + noise with the lag-one statistic
    ⟨x_k ∧ x_{k+1}⟩/η, with Σ the chain's own stationary covariance.

    Used in: 07_linear_case
    """
    H = _as_square("H", H)
    Sigma = _as_square("Sigma", Sigma)
    _check_same_shape("H", H, "Sigma", Sigma)
    i, j = _check_plane(plane, H.shape[0])
    C = H @ Sigma - Sigma @ H.T
    return float(C[i, j])


def area_rate_theory(H, D, beta, plane=(0, 1)) -> float:
    """The stationary area rate ⟨x_i ẋ_j − x_j ẋ_i⟩ of dx = −Hx dt + √(2β⁻¹D) dW: 2Q_ij/β.

    For the default plane (0, 1) this is ⟨x₁ẋ₂ − x₂ẋ₁⟩ = 2Q₁₂/β = −2Q₂₁/β, positive for
    counter-clockwise circulation. It only needs Σ, so it is defined even when (H, D) is not
    controllable. Time is the SDE's time (one SGD step is η).

    Used in: 07_linear_case
    """
    H, D, beta = _stable_ou_inputs(H, D, beta)
    Sigma = solve_lyapunov(H, 2.0 * (D + D.T) / 2 / beta, kind="continuous")
    return area_rate_from_covariance(H, Sigma, plane)


def sgd_area_rate(H, D, eta, b, kind: str = "continuous", replacement: bool = True, N=None, plane=(0, 1)) -> float:
    """The area rate of SGD on f = ½xᵀHx with constant gradient-noise covariance D/b, per unit time η.

    * ``kind="continuous"``: the SDE of Lemma 2, −2Q₂₁/β with β⁻¹ = :func:`temperature`;
    * ``kind="discrete"``: the SGD chain itself, (HΣ − ΣHᵀ)₁₂ with Σ from
      :func:`discrete_sgd_covariance` (exact for the lag-one statistic ⟨z_k ∧ z_{k+1}⟩/η).

    Used in: 07_linear_case
    """
    if kind == "continuous":
        T = temperature(eta, b, replacement=replacement, N=N)
        if T == 0:
            return 0.0
        return area_rate_theory(H, D, 1.0 / T, plane)
    if kind == "discrete":
        S = discrete_sgd_covariance(H, D, eta, b, replacement=replacement, N=N)
        return area_rate_from_covariance(H, S, plane)
    raise ValueError(f"kind must be 'continuous' or 'discrete', got {kind!r}")


@dataclass
class AreaRate:
    """An estimated area rate ⟨x_i ẋ_j − x_j ẋ_i⟩ and its Monte Carlo standard error.

    ``per_chain`` holds each independent chain's time average (or, for a single trajectory, the
    means of ``n_batches`` consecutive batches); ``se`` is their standard deviation / √count.

    Used in: 07_linear_case
    """

    rate: float
    se: float
    per_chain: np.ndarray = field(repr=False)
    n_chains: int = 1
    n_steps: int = 0
    dt: float = 1.0

    def z_score(self, target: float) -> float:
        """(rate − target) / se."""
        return (self.rate - target) / self.se


def area_rate_from_trajectory(X, dt: float = 1.0, center=None, plane=(0, 1), n_batches: int = 20) -> AreaRate:
    """The area rate ⟨x_i ẋ_j − x_j ẋ_i⟩ of sampled paths from lag-one wedge products.

    ``X`` is one trajectory, shape (T, d), or independent chains, shape (chains, T, d), sampled
    every ``dt`` time units (for SGD, dt = η: time counts learning-rate units). With
    z = x − ``center`` (default: the origin, so pass the fixed point),

        rate = mean_k (z_{k,i} z_{k+1,j} − z_{k,j} z_{k+1,i}) / dt.

    Since z_k ∧ z_k = 0 this equals z_k ∧ (z_{k+1} − z_k)/dt and also the midpoint (Stratonovich)
    form ((z_k + z_{k+1})/2) ∧ (z_{k+1} − z_k)/dt: the discretisation has no Itô ambiguity.
    With several chains the standard error is the spread of the per-chain averages / √chains;
    for one trajectory it comes from ``n_batches`` consecutive batch means, which assumes each
    batch is much longer than the correlation time.

    Used in: 07_linear_case
    """
    X = np.asarray(X, dtype=float)
    if X.ndim == 2:
        X = X[None]
        single = True
    elif X.ndim == 3:
        single = False
    else:
        raise ValueError(f"X must have shape (T, d) or (chains, T, d), got {X.shape}")
    n, T, d = X.shape
    i, j = _check_plane(plane, d)
    if T < 2:
        raise ValueError(f"a trajectory needs at least 2 time points for a lag-one statistic, got T = {T}")
    if not np.all(np.isfinite(X)):
        raise ValueError("X contains NaN or infinite entries; drop diverged chains or lower the step size")
    if isinstance(dt, bool) or not isinstance(dt, numbers.Real) or not np.isfinite(dt) or dt <= 0:
        raise ValueError(f"dt (the time between samples) must be a positive finite number, got {dt!r}")
    if center is not None:
        c = np.asarray(center, dtype=float)
        if c.shape != (d,):
            raise ValueError(f"center must have shape (d,) = ({d},), got {c.shape}")
        X = X - c
    wedge = (X[:, :-1, i] * X[:, 1:, j] - X[:, :-1, j] * X[:, 1:, i]) / float(dt)  # (n, T − 1)
    if single:
        n_batches = checks.integer(n_batches, "n_batches", 2)
        if T - 1 < 2 * n_batches:
            raise ValueError(
                f"one trajectory of {T} points is too short for {n_batches} batch means; pass more points, "
                "fewer n_batches, or several independent chains as a (chains, T, d) array"
            )
        m = (T - 1) // n_batches
        per = wedge[0, : m * n_batches].reshape(n_batches, m).mean(axis=1)
        return AreaRate(rate=float(wedge.mean()), se=float(per.std(ddof=1) / np.sqrt(n_batches)),
                        per_chain=per, n_chains=1, n_steps=T - 1, dt=float(dt))
    if n < 2:
        raise ValueError("a standard error needs at least 2 independent chains; pass a (T, d) array for one chain")
    per = wedge.mean(axis=1)
    return AreaRate(rate=float(per.mean()), se=float(per.std(ddof=1) / np.sqrt(n)), per_chain=per,
                    n_chains=n, n_steps=T - 1, dt=float(dt))


def simulate_ou_area_rate(
    H,
    D,
    beta,
    dt: float,
    n_steps: int,
    n_chains: int,
    *,
    burn_in: int | None = None,
    seed: int = 0,
    block: int = 250,
    plane=(0, 1),
    dtype=None,
) -> AreaRate:
    """The area rate of dx = −Hx dt + √(2β⁻¹D) dW from ``n_chains`` Euler–Maruyama chains.

    The chains start from the stationary law N(0, Σ), run ``burn_in`` steps (default
    ``n_steps // 10``) and then ``n_steps − burn_in`` steps whose lag-one wedge products enter
    each chain's average (:func:`area_rate_from_trajectory`). The integration is
    :func:`vdlib.theory.sde.euler_maruyama`, called on blocks of ``block`` steps so that only one block
    of paths is held in memory; every block has its own seed, derived from ``seed``.

    ``dtype`` is the torch dtype of the integration (default ``torch.float64``).

    Euler–Maruyama with step Δt is the chain x ← (I − ΔtH)x + noise, whose own area rate is
    (HΣ_Δt − Σ_ΔtHᵀ)₁₂ with Σ_Δt its discrete-Lyapunov covariance: it differs from 2Q₁₂/β at
    order Δt·‖H‖.

    Used in: 07_linear_case
    """
    import torch

    from .sde import euler_maruyama

    H, D, beta = _stable_ou_inputs(H, D, beta)
    d = H.shape[0]
    _check_plane(plane, d)
    if isinstance(dt, bool) or not isinstance(dt, numbers.Real) or not np.isfinite(dt) or dt <= 0:
        raise ValueError(f"time step dt must be a positive finite number, got {dt!r}")
    n_steps = checks.integer(n_steps, "n_steps", 2)
    n_chains = checks.integer(n_chains, "n_chains", 2)
    if burn_in is None:
        burn_in = n_steps // 10
    burn_in = checks.integer(burn_in, "burn_in", 0)
    if burn_in >= n_steps - 1:
        raise ValueError(f"burn_in={burn_in} leaves fewer than 2 steps of n_steps={n_steps}; run more steps")
    block = checks.integer(block, "block", 1)
    seed = checks.integer(seed, "seed", 0)
    radius = float(np.max(np.abs(np.linalg.eigvals(np.eye(d) - dt * H))))
    if radius >= 1:
        raise ValueError(
            f"Euler–Maruyama is unstable at dt={dt:g}: the spectral radius of I − dt·H is {radius:.4g} ≥ 1; "
            f"use dt < {max_stable_learning_rate(H):.4g}"
        )
    dtype = torch.float64 if dtype is None else dtype
    D = (D + D.T) / 2
    sigma = np.sqrt(2.0 / beta) * _psd_sqrt_np(D)
    Sigma = solve_lyapunov(H, 2.0 * D / beta, kind="continuous")
    seeds = np.random.SeedSequence(seed).generate_state(2 + (n_steps - burn_in) // block + 1)
    rng = np.random.default_rng(int(seeds[0]))
    x = rng.standard_normal((n_chains, d)) @ _psd_sqrt_np(Sigma).T
    minus_Ht = torch.as_tensor(-H.T, dtype=dtype).contiguous()

    def drift(z):
        return torch.mm(z, minus_Ht)  # −Hz for every chain (rows)

    if burn_in > 0:
        x = euler_maruyama(drift, sigma, x, dt, burn_in, seed=int(seeds[1]), dtype=dtype).final
    total = np.zeros(n_chains)
    done, k = 0, 2
    while done < n_steps - burn_in:
        m = min(block, n_steps - burn_in - done)
        res = euler_maruyama(drift, sigma, x, dt, m, seed=int(seeds[k]), record_every=1, dtype=dtype)
        paths = np.transpose(res.snapshots, (1, 0, 2))  # (chains, m + 1, d)
        total += area_rate_from_trajectory(paths, dt=dt, plane=plane).per_chain * m
        x = res.final
        done += m
        k += 1
    per = total / done
    return AreaRate(rate=float(per.mean()), se=float(per.std(ddof=1) / np.sqrt(n_chains)), per_chain=per,
                    n_chains=n_chains, n_steps=done, dt=float(dt))
