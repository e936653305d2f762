"""Linear least-squares regression: the book's exactly solvable model of mini-batch noise.

f_k(x) = ½ (a_kᵀx − y_k)²,  f(x) = (1/N) Σ_k f_k(x),  g_k(x) = a_k (a_kᵀx − y_k).

The Hessian H = AᵀA/N is constant, and the per-sample gradients are affine in x, so D(x)
is a quadratic function of x that can be written in closed form.

Used in: 01_minibatch_noise, 02_sgd_as_sde, 07_linear_case (and by :mod:`vdlib.theory.sgd`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .minibatch_noise import diffusion_matrix


@dataclass(frozen=True)
class LinearRegression:
    """A dataset (A: N×d inputs, y: N targets) with the loss f(x) = (1/2N) ‖Ax − y‖²."""

    A: np.ndarray
    y: np.ndarray
    description: str = ""

    def __post_init__(self) -> None:
        A, y = np.asarray(self.A, dtype=float), np.asarray(self.y, dtype=float)
        if A.ndim != 2:
            raise ValueError(f"A must be an N×d matrix of inputs, got shape {A.shape}")
        if y.shape != (A.shape[0],):
            raise ValueError(f"y must have shape (N,) = ({A.shape[0]},) to match A, got {y.shape}")
        object.__setattr__(self, "A", A)
        object.__setattr__(self, "y", y)

    @property
    def N(self) -> int:
        return self.A.shape[0]

    @property
    def d(self) -> int:
        return self.A.shape[1]

    def _x(self, x) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        if x.shape != (self.d,):
            raise ValueError(f"x must be a parameter vector of shape ({self.d},), got {x.shape}")
        return x

    def residuals(self, x) -> np.ndarray:
        return self.A @ self._x(x) - self.y

    def loss(self, x) -> float:
        return 0.5 * float(np.mean(self.residuals(x) ** 2))

    def per_sample_gradients(self, x) -> np.ndarray:
        """The N×d matrix G with rows g_k = a_k (a_kᵀx − y_k)."""
        return self.A * self.residuals(x)[:, None]

    def gradient(self, x) -> np.ndarray:
        return self.A.T @ self.residuals(x) / self.N

    def hessian(self) -> np.ndarray:
        return self.A.T @ self.A / self.N

    def minimiser(self) -> np.ndarray:
        return np.linalg.lstsq(self.A, self.y, rcond=None)[0]

    def diffusion(self, x) -> np.ndarray:
        """D(x) from the per-sample gradients (Definition 1)."""
        return diffusion_matrix(self.per_sample_gradients(x))


def make_linear_regression(
    N: int = 2000,
    *,
    seed: int = 0,
    input_scales=(1.0, 2.0),
    x_true=(1.0, -1.0),
    noise: str = "heteroscedastic",
    noise_angle: float = 0.6,
) -> LinearRegression:
    """The 2-D regression problem of chapters 01, 02 and 07 (SGD's covariance and area rate).

    Inputs a_k ~ N(0, diag(input_scales)²). Labels y_k = a_kᵀ x_true + σ_k ε_k with ε_k ~ N(0, 1):
    ``noise="homoscedastic"`` uses σ_k = 1; ``"heteroscedastic"`` uses
    σ_k = 0.2 + 2 |a_kᵀu| / mean|aᵀu| with u = (cos θ, sin θ), θ = ``noise_angle``, which makes
    D(x*) fail to commute with H (broken detailed balance, Lemma 20).
    """
    if isinstance(N, bool) or not isinstance(N, (int, np.integer)) or N < 2:
        raise ValueError(f"N must be an integer >= 2, got {N!r}")
    scales = np.asarray(input_scales, dtype=float)
    x_true = np.asarray(x_true, dtype=float)
    if scales.shape != x_true.shape or scales.ndim != 1:
        raise ValueError(f"input_scales {scales.shape} and x_true {x_true.shape} must be 1-D of equal length")
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(N, scales.size)) * scales
    eps = rng.normal(size=N)
    if noise == "homoscedastic":
        sigma = np.ones(N)
    elif noise == "heteroscedastic":
        if scales.size != 2:
            raise ValueError("heteroscedastic noise is defined for d = 2 inputs")
        u = np.array([np.cos(noise_angle), np.sin(noise_angle)])
        proj = np.abs(A @ u)
        sigma = 0.2 + 2.0 * proj / proj.mean()
    else:
        raise ValueError(f"noise must be 'homoscedastic' or 'heteroscedastic', got {noise!r}")
    y = A @ x_true + sigma * eps
    return LinearRegression(A, y, description=f"{noise} 2-D linear regression, N={N}, seed={seed}")


def diffusion_at_minimiser(problem: LinearRegression) -> np.ndarray:
    """D(x*) = (1/N) Σ_k r_k² a_k a_kᵀ with r_k = a_kᵀx* − y_k, the residuals at the least-squares minimiser.

    At x* the normal equations Σ_k a_k r_k = 0 make the full gradient vanish, so the g gᵀ term of
    Definition 1 drops out. Computed from this formula (not from :func:`vdlib.theory.minibatch_noise.diffusion_matrix`),
    so comparing the two checks the identity.

    Used in: 01_minibatch_noise
    """
    r = problem.residuals(problem.minimiser())
    return (problem.A * (r**2)[:, None]).T @ problem.A / problem.N


def _symmetric_psd(cov, name: str) -> np.ndarray:
    cov = np.asarray(cov, dtype=float)
    if cov.ndim != 2 or cov.shape[0] != cov.shape[1]:
        raise ValueError(f"{name} must be a square d×d matrix, got shape {cov.shape}")
    if not np.allclose(cov, cov.T, rtol=1e-10, atol=1e-12):
        raise ValueError(f"{name} must be symmetric")
    if np.linalg.eigvalsh(cov).min() < -1e-10 * max(1.0, np.abs(cov).max()):
        raise ValueError(f"{name} must be positive semi-definite (it is a covariance)")
    return cov


def population_diffusion(x, x_star, cov_a, noise_var: float) -> np.ndarray:
    """Closed-form D(x) for the Gaussian design a ~ N(0, Σ_a), y = aᵀx* + ε, ε ~ N(0, σ²) independent of a.

        D(x) = (σ² + eᵀΣ_a e) Σ_a + Σ_a e eᵀ Σ_a,   e = x − x*,

    the population limit (N → ∞) of the per-sample-gradient covariance of f_k = ½(a_kᵀx − y_k)².
    The Hessian is H = Σ_a, so D(x*) = σ² H. Derived with Isserlis' theorem in
    :func:`vdlib.theory.symbolic.gaussian_design_moments`.

    Used in: 01_minibatch_noise
    """
    cov_a = _symmetric_psd(cov_a, "cov_a")
    d = cov_a.shape[0]
    x, x_star = np.asarray(x, dtype=float), np.asarray(x_star, dtype=float)
    if x.shape != (d,) or x_star.shape != (d,):
        raise ValueError(f"x and x_star must have shape ({d},) to match cov_a, got {x.shape} and {x_star.shape}")
    if not np.isfinite(noise_var) or noise_var < 0:
        raise ValueError(f"noise_var is the label-noise variance σ² and must be >= 0, got {noise_var!r}")
    e = x - x_star
    s_e = cov_a @ e
    return (noise_var + e @ s_e) * cov_a + np.outer(s_e, s_e)


def commutator(A, B) -> np.ndarray:
    """[A, B] = AB − BA for two square matrices of the same size.

    Used in: 01_minibatch_noise
    """
    A, B = np.asarray(A, dtype=float), np.asarray(B, dtype=float)
    if A.ndim != 2 or A.shape[0] != A.shape[1] or A.shape != B.shape:
        raise ValueError(f"commutator needs two square matrices of equal size, got shapes {A.shape} and {B.shape}")
    return A @ B - B @ A


def relative_commutator_norm(A, B) -> float:
    """‖[A, B]‖_F / (‖A‖_F ‖B‖_F): a scale-free measure of how far A and B are from commuting.

    It is 0 exactly when A and B commute (share eigenvectors, for symmetric A, B) and at most √2.

    Used in: 01_minibatch_noise
    """
    C = commutator(A, B)
    scale = np.linalg.norm(A) * np.linalg.norm(B)
    if scale == 0:
        raise ValueError("relative_commutator_norm is undefined when one of the matrices is zero")
    return float(np.linalg.norm(C) / scale)
