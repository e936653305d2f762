"""Toy losses, diffusions and drifts used across Part II, with their derivatives (NumPy, vectorised).

Convention (as in :mod:`vdlib.theory.fokker_planck`): the SDE is dx = b(x) dt + √(2β⁻¹D(x)) dW, and for
SGD the drift is b = −∇f. Every function accepts scalars or arrays and broadcasts elementwise.

* ``double_well_1d``: f(x) = (x² − 1)²/4, minima at ±1, a barrier of height 1/4 at 0.
* ``shift_*``: the 1-D example of chapters 04 and 08, f(x) = x²/2 with the state-dependent diffusion
  D(x) = 1 + ½ tanh x (so ½ ≤ D ≤ 3/2); the stationary mode sits at x* = −β⁻¹D′(x*).
* ``example19``: Example 19 of the paper (β = 1, D = I):
  Φ(x, y) = (x² − 1)²/4 + y²/2, J^ss = e^{−(x² + y²)²/4}(−y, x), j = λ e^{Φ} J^ss and the SGD
  drift −∇f = −∇Φ + j, whose stationary density is e^{−Φ}/Z for every λ, because
  ∇·(j e^{−Φ}) = λ ∇·J^ss = 0.

Used in: 03_fokker_planck, 04_potential_and_force, 05_variational_inference, 06_wasserstein_jko,
08_critical_points_move, 09_limit_cycles
"""
from __future__ import annotations

import numpy as np

__all__ = [
    "double_well_1d_f",
    "double_well_1d_grad",
    "shift_f",
    "shift_grad",
    "shift_D",
    "shift_dD",
    "example19_phi",
    "example19_grad_phi",
    "example19_current",
    "example19_j",
    "example19_drift",
]


def _arr(x):
    return np.asarray(x, dtype=float)


# --------------------------------------------------------------------------------------------
# 1-D double well
# --------------------------------------------------------------------------------------------
def double_well_1d_f(x):
    """The double-well loss f(x) = (x² − 1)²/4 (minima at x = ±1, f(0) = 1/4).

    Used in: 06_wasserstein_jko
    """
    x = _arr(x)
    return (x * x - 1.0) ** 2 / 4.0


def double_well_1d_grad(x):
    """f′(x) = x (x² − 1) for the double well f(x) = (x² − 1)²/4.

    Used in: 04_potential_and_force, 06_wasserstein_jko
    """
    x = _arr(x)
    return x * (x * x - 1.0)


# --------------------------------------------------------------------------------------------
# shift_*: quadratic loss with a state-dependent diffusion (chapters 04 and 08)
# --------------------------------------------------------------------------------------------
def shift_f(x):
    """The loss f(x) = x²/2 of the 1-D example.

    Used in: 04_potential_and_force
    """
    x = _arr(x)
    return 0.5 * x * x


def shift_grad(x):
    """f′(x) = x for the 1-D example's loss f(x) = x²/2.

    Used in: 04_potential_and_force
    """
    return _arr(x).copy()


def shift_D(x):
    """The 1-D example's diffusion D(x) = 1 + ½ tanh x (positive: ½ < D < 3/2).

    Used in: 04_potential_and_force
    """
    return 1.0 + 0.5 * np.tanh(_arr(x))


def shift_dD(x):
    """D′(x) = ½ (1 − tanh² x) = ½ sech² x for D(x) = 1 + ½ tanh x.

    Used in: 04_potential_and_force
    """
    t = np.tanh(_arr(x))
    return 0.5 * (1.0 - t * t)


# --------------------------------------------------------------------------------------------
# Example 19 (the paper's double well with limit cycles; β = 1, D = I)
# --------------------------------------------------------------------------------------------
def example19_phi(X, Y):
    """The potential of Example 19: Φ(x, y) = (x² − 1)²/4 + y²/2 (ρ^ss ∝ e^{−Φ} at β = 1).

    Used in: 05_variational_inference
    """
    X, Y = _arr(X), _arr(Y)
    return (X * X - 1.0) ** 2 / 4.0 + 0.5 * Y * Y


def example19_grad_phi(X, Y):
    """∇Φ = (x (x² − 1), y) for Example 19; returns the pair (∂xΦ, ∂yΦ).

    Used in: 05_variational_inference
    """
    X, Y = _arr(X), _arr(Y)
    return X * (X * X - 1.0), Y.copy() + 0.0 * X


def example19_current(X, Y):
    """The stationary current of Example 19, J^ss = e^{−(x² + y²)²/4} (−y, x); returns (Jx, Jy).

    It is divergence-free (a rotation field times a radial weight), so adding λJ^ss to the
    current leaves e^{−Φ} stationary.

    Used in: 05_variational_inference
    """
    X, Y = _arr(X), _arr(Y)
    w = np.exp(-((X * X + Y * Y) ** 2) / 4.0)
    return -Y * w, X * w


def example19_j(X, Y, lam):
    """The residual force of Example 19, j = λ e^{Φ} J^ss; returns (jx, jy).

    Written as λ exp(Φ − r⁴/4)(−y, x) with r² = x² + y², so it never overflows where e^{Φ}
    alone would: Φ − r⁴/4 = 1/4 − x²(1 + y²)/2 + y²/2 − y⁴/4 ≤ 1/2.
    Note ∇·j = j·∇Φ ≠ 0: Example 19 violates Assumption 4 (erratum E4 of the book); only
    ∇·(j e^{−Φ}) = 0 holds.

    Used in: 05_variational_inference
    """
    X, Y = _arr(X), _arr(Y)
    lam = float(lam)
    w = lam * np.exp(example19_phi(X, Y) - ((X * X + Y * Y) ** 2) / 4.0)
    return -Y * w, X * w


def example19_drift(X, Y, lam):
    """The SGD drift of Example 19, −∇f = −∇Φ + j; returns (bx, by).

    Its stationary density at β = 1, D = I is e^{−Φ}/Z for every λ.

    Used in: 05_variational_inference
    """
    gx, gy = example19_grad_phi(X, Y)
    jx, jy = example19_j(X, Y, lam)
    return -gx + jx, -gy + jy


# --------------------------------------------------------------------------------------------
# chapter 09: Example 19's Jacobian, normalising constant and exact stationary bin probabilities
# --------------------------------------------------------------------------------------------
__all__ += [
    "example19_jacobian",
    "example19_partition_function",
    "example19_bin_probabilities",
    "example19_angular_momentum",
]


def example19_jacobian(x, y, lam):
    """The 2×2 Jacobian of the Example 19 drift −∇Φ + j at one point (x, y).

    With w = λ e^{E}, E = Φ − r⁴/4 = 1/4 − x²/2 + y²/2 − x²y²/2 − y⁴/4, and j = w (−y, x):
    ∂(−∇Φ) = diag(1 − 3x², −1), ∂ₓj = w (−y Eₓ, 1 + x Eₓ), ∂ᵧj = w (−1 − y E_y, x E_y),
    with Eₓ = −x(1 + y²) and E_y = y(1 − x² − y²). At the origin it is [[1, −a], [a, −1]],
    a = λ e^{1/4}.

    Used in: 09_limit_cycles
    """
    x, y, lam = float(x), float(y), float(lam)
    w = lam * np.exp(0.25 - 0.5 * x * x + 0.5 * y * y - 0.5 * x * x * y * y - 0.25 * y**4)
    Ex = -x * (1.0 + y * y)
    Ey = y * (1.0 - x * x - y * y)
    return np.array([
        [1.0 - 3.0 * x * x - w * y * Ex, -w * (1.0 + y * Ey)],
        [w * (1.0 + x * Ex), -1.0 + w * x * Ey],
    ])


def _example19_x_weight(s):
    return np.exp(-((np.asarray(s, dtype=float) ** 2 - 1.0) ** 2) / 4.0)


def example19_partition_function():
    """Z = ∫ e^{−Φ} dx dy = √(2π) ∫ e^{−(s² − 1)²/4} ds ≈ 7.62 (β = 1), by adaptive quadrature.

    Used in: 09_limit_cycles
    """
    from scipy.integrate import quad

    zx = quad(_example19_x_weight, -np.inf, np.inf, epsabs=1e-13, epsrel=1e-12)[0]
    return float(np.sqrt(2.0 * np.pi) * zx)


def example19_bin_probabilities(x_edges, y_edges, beta=1.0):
    """Exact probabilities of the bins [x_edges[i], x_edges[i+1]) × [y_edges[k], y_edges[k+1]) under e^{−βΦ}/Z.

    Φ is separable, so each probability is a product: a quadrature of e^{−β(x² − 1)²/4} in x times
    a difference of the normal CDF (variance 1/β) in y. ``beta`` ≠ 1 gives the nearby densities a
    histogram test must be able to tell apart from e^{−Φ}. Returns an array of shape
    (len(x_edges) − 1, len(y_edges) − 1); it sums to the mass inside the box (< 1).

    Used in: 09_limit_cycles
    """
    from scipy.integrate import quad
    from scipy.special import ndtr

    xe, ye = np.asarray(x_edges, dtype=float), np.asarray(y_edges, dtype=float)
    for name, e in (("x_edges", xe), ("y_edges", ye)):
        if e.ndim != 1 or e.size < 2 or not np.all(np.isfinite(e)) or np.any(np.diff(e) <= 0):
            raise ValueError(f"{name} must be a finite, strictly increasing 1-D array of at least 2 edges")
    beta = float(beta)
    if not np.isfinite(beta) or beta <= 0:
        raise ValueError(f"beta must be a positive finite number, got {beta}")

    def wx(s):
        return _example19_x_weight(s) ** beta

    zx = quad(wx, -np.inf, np.inf, epsabs=1e-13, epsrel=1e-12)[0]
    px = np.array([quad(wx, a, b, epsabs=1e-14)[0] for a, b in zip(xe[:-1], xe[1:])]) / zx
    py = np.diff(ndtr(ye * np.sqrt(beta)))
    return px[:, None] * py[None, :]


def example19_angular_momentum(lam):
    """The exact stationary mean angular momentum ⟨x₁ẋ₂ − x₂ẋ₁⟩ = 2πλ/Z of Example 19 (β = 1).

    Only j contributes: ⟨x₁b₂ − x₂b₁⟩ = ∫ λ r² e^{−r⁴/4} dx / Z = 2πλ/Z, because the gradient
    part x₁x₂(x₁² − 2) is odd in x₂.

    Used in: 09_limit_cycles
    """
    return 2.0 * np.pi * float(lam) / example19_partition_function()


def example19_sample(n, rng):
    """``n`` exact draws from e^{−Φ}/Z (β = 1), shape (n, 2): x by inverse CDF on a fine grid, y ~ N(0, 1).

    ``rng`` is a ``numpy.random.Generator``. The x-grid spans [−6, 6] with 24 001 points, so the
    inverse-CDF error is far below any Monte Carlo error.

    Used in: 09_limit_cycles
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer number of samples, got {n!r}")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator (np.random.default_rng(seed)), got {type(rng).__name__}")
    s = np.linspace(-6.0, 6.0, 24_001)
    w = _example19_x_weight(s)
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (w[1:] + w[:-1]) * np.diff(s))])
    cdf /= cdf[-1]
    x = np.interp(rng.random(int(n)), cdf, s)
    return np.column_stack([x, rng.standard_normal(int(n))])


__all__ += ["example19_sample"]


# --------------------------------------------------------------------------------------------
# chapter 08: a 2-D quadratic loss with a state-dependent, non-isotropic diffusion
# --------------------------------------------------------------------------------------------
#: Hessian of the chapter-08 loss f = ½xᵀHx (it does not commute with D(0)).
CH08_H = np.array([[1.0, 0.5], [0.5, 1.0]])
#: D(x) = s·[CH08_D0 + a (tanh x₁ CH08_A1 + tanh x₂ CH08_A2)], with s = CH08_SCALE, a = CH08_AMPLITUDE.
CH08_D0 = np.array([[1.0, 0.0], [0.0, 0.5]])
CH08_A1 = np.array([[1.0, 0.0], [0.0, -1.0]])
CH08_A2 = np.array([[0.0, 1.0], [1.0, 0.0]])
CH08_SCALE = 4.0
CH08_AMPLITUDE = 0.25
#: D(x)/s is SPD for every x exactly when 0 ≤ a < (√17 − 1)/8 ≈ 0.390 (the worst case is
#: tanh x₁ = tanh x₂ = ±1, where det = ½ − a/2 − 2a²).
CH08_MAX_AMPLITUDE = (17**0.5 - 1.0) / 8.0


def _ch08_params(amplitude, scale):
    a, s = float(amplitude), float(scale)
    if not np.isfinite(s) or s <= 0:
        raise ValueError(f"scale must be a positive finite number, got {scale!r}")
    if not np.isfinite(a) or not 0.0 <= a < CH08_MAX_AMPLITUDE:
        raise ValueError(
            f"amplitude must lie in [0, {CH08_MAX_AMPLITUDE:.4f}) so that D(x) stays positive definite, "
            f"got {amplitude!r}; use a smaller amplitude"
        )
    return a, s


def ch08_f(X, Y):
    """The chapter-08 loss f(x) = ½ xᵀHx with H = [[1, ½], [½, 1]] (minimum at the origin).

    Used in: 08_critical_points_move
    """
    X, Y = _arr(X), _arr(Y)
    H = CH08_H
    return 0.5 * (H[0, 0] * X * X + 2 * H[0, 1] * X * Y + H[1, 1] * Y * Y)


def ch08_grad(X, Y):
    """∇f = Hx for the chapter-08 loss; returns the pair (∂₁f, ∂₂f).

    Used in: 08_critical_points_move
    """
    X, Y = _arr(X), _arr(Y)
    H = CH08_H
    return H[0, 0] * X + H[0, 1] * Y, H[1, 0] * X + H[1, 1] * Y


def ch08_drift(X, Y):
    """The SGD drift b = −∇f = −Hx of the chapter-08 example, as (bx, by) for the FP solvers.

    Used in: 08_critical_points_move
    """
    gx, gy = ch08_grad(X, Y)
    return -gx, -gy


def ch08_D(X, Y, amplitude=CH08_AMPLITUDE, scale=CH08_SCALE):
    """The state-dependent, non-isotropic diffusion of chapter 08, shape X.shape + (2, 2).

    D(x) = s·( D0 + a (tanh x₁ A1 + tanh x₂ A2) ) with D0 = diag(1, ½), A1 = diag(1, −1) and
    A2 = [[0, 1], [1, 0]]:

        D = s [[1 + a tanh x₁,  a tanh x₂], [a tanh x₂,  ½ − a tanh x₁]].

    Near the minimum D ≈ s(D0 + a(x₁A1 + x₂A2)) (tanh has no quadratic term), the 2-D analogue of
    the 1-D diffusion 1 + ½ tanh x of :func:`shift_D`; it is smooth, bounded and SPD for every x when
    0 ≤ a < (√17 − 1)/8 (checked: ``ValueError`` otherwise). D(0) = s·D0 does not commute with H.

    Used in: 08_critical_points_move
    """
    a, s = _ch08_params(amplitude, scale)
    X, Y = np.broadcast_arrays(_arr(X), _arr(Y))
    t1, t2 = np.tanh(X), np.tanh(Y)
    out = np.empty(X.shape + (2, 2))
    for i in range(2):
        for k in range(2):
            out[..., i, k] = s * (CH08_D0[i, k] + a * (CH08_A1[i, k] * t1 + CH08_A2[i, k] * t2))
    return out


def ch08_div_D(X, Y, amplitude=CH08_AMPLITUDE, scale=CH08_SCALE):
    """(∇·D)_i = Σ_j ∂_j D_ij of :func:`ch08_D`; returns the pair ((∇·D)₁, (∇·D)₂).

    (∇·D)₁ = ∂₁D₁₁ + ∂₂D₁₂ = s a (sech² x₁ + sech² x₂) and (∇·D)₂ = ∂₁D₂₁ + ∂₂D₂₂ = 0, so
    ∇·D(0) = (2sa, 0).

    Used in: 08_critical_points_move
    """
    a, s = _ch08_params(amplitude, scale)
    X, Y = np.broadcast_arrays(_arr(X), _arr(Y))
    s1, s2 = 1.0 - np.tanh(X) ** 2, 1.0 - np.tanh(Y) ** 2
    return s * a * (s1 + s2), np.zeros_like(X)


__all__ += ["CH08_H", "CH08_D0", "CH08_A1", "CH08_A2", "CH08_SCALE", "CH08_AMPLITUDE", "CH08_MAX_AMPLITUDE",
            "ch08_f", "ch08_grad", "ch08_drift", "ch08_D", "ch08_div_D"]
