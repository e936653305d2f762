"""Linear least-squares regression: the book's exactly solvable model of mini-batch noise.

f_k(x) = ½ (a_kᵀx − y_k)²,  f(x) = (1/N) Σ_k f_k(x),  g_k(x) = a_k (a_kᵀx − y_k).

The Hessian H = AᵀA/N is constant, and the per-sample gradients are affine in x, so D(x)
is a quadratic function of x that can be written in closed form.

Used in: 01_minibatch_noise, 02_sgd_as_sde.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .noise import diffusion_matrix


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
    """The 2-D regression problem of the paper-notes reference checks (R1, R2).

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
