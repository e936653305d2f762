"""Toy losses, diffusions and drifts used across Part II, with their derivatives (NumPy, vectorised).

Convention (as in :mod:`vdlib.fokker_planck`): the SDE is dx = b(x) dt + √(2β⁻¹D(x)) dW, and for
SGD the drift is b = −∇f. Every function accepts scalars or arrays and broadcasts elementwise.

* ``double_well_1d``: f(x) = (x² − 1)²/4, minima at ±1, a barrier of height 1/4 at 0.
* ``r7``: the 1-D example of target R7, f(x) = x²/2 with the state-dependent diffusion
  D(x) = 1 + ½ tanh x (so ½ ≤ D ≤ 3/2); the stationary mode sits at x* = −β⁻¹D′(x*).
* ``example19``: Example 19 of the paper (β = 1, D = I):
  Φ(x, y) = (x² − 1)²/4 + y²/2, J^ss = e^{−(x² + y²)²/4}(−y, x), j = λ e^{Φ} J^ss and the SGD
  drift −∇f = −∇Φ + j, whose stationary density is e^{−Φ}/Z for every λ, because
  ∇·(j e^{−Φ}) = λ ∇·J^ss = 0.

Used in: 04_potential_and_force, 05_variational_inference, 06_wasserstein_jko
"""
from __future__ import annotations

import numpy as np

__all__ = [
    "double_well_1d_f",
    "double_well_1d_grad",
    "r7_f",
    "r7_grad",
    "r7_D",
    "r7_dD",
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
# R7: quadratic loss with a state-dependent diffusion
# --------------------------------------------------------------------------------------------
def r7_f(x):
    """The R7 loss f(x) = x²/2.

    Used in: 04_potential_and_force
    """
    x = _arr(x)
    return 0.5 * x * x


def r7_grad(x):
    """f′(x) = x for the R7 loss f(x) = x²/2.

    Used in: 04_potential_and_force
    """
    return _arr(x).copy()


def r7_D(x):
    """The R7 diffusion D(x) = 1 + ½ tanh x (positive: ½ < D < 3/2).

    Used in: 04_potential_and_force
    """
    return 1.0 + 0.5 * np.tanh(_arr(x))


def r7_dD(x):
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
    Note ∇·j = j·∇Φ ≠ 0: Example 19 violates Assumption 4 (erratum E3 in the notes); only
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
