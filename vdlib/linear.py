"""Linear (Ornstein–Uhlenbeck) models of SGD: temperatures and stationary covariances.

Near a minimum the loss is quadratic, f(x) = ½ xᵀHx, and the diffusion matrix D is (nearly)
constant. Two models of SGD with learning rate η and batch size b then have Gaussian-like
stationary laws with covariances that solve *Lyapunov equations*:

* the continuous-time SDE of Lemma 2, dx = −Hx dt + √(2β⁻¹D) dW with β⁻¹ = η/(2b):

      H Σ + Σ Hᵀ = 2β⁻¹ D = (η/b) D                                   (continuous Lyapunov)

* discrete SGD itself, x_{k+1} = M x_k − η ξ_k with M = I − ηH and Cov ξ_k = D/b:

      Σ = M Σ Mᵀ + (η²/b) D   ⇔   HΣ + ΣHᵀ − η HΣHᵀ = (η/b) D       (discrete Lyapunov)

The continuous equation is the η → 0 limit of the discrete one at fixed η/b.

Conventions: ``H`` is the drift matrix (the Hessian for a gradient flow; it may be
non-symmetric for a linearised non-gradient drift), ``D`` the per-sample gradient covariance of
Definition 1, ``b`` the batch size. Sampling without replacement multiplies the temperature by
(1 − b/N), with the paper's ``D`` that absorbs N/(N − 1) (Appendix A.2).

Used in: 02_sgd_as_sde.
"""
from __future__ import annotations


import numpy as np
import scipy.linalg

from . import checks

__all__ = [
    "temperature",
    "solve_lyapunov",
    "continuous_lyapunov_covariance",
    "discrete_sgd_covariance",
    "max_stable_learning_rate",
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
            f"{vals[0]:.3g}; compute it as a covariance (e.g. vdlib.noise.diffusion_matrix) or clip negative "
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

    For eigenvalues λ of H with Re λ > 0, |1 − ηλ| < 1 ⇔ η < 2 Re λ / |λ|²; for symmetric H this
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
