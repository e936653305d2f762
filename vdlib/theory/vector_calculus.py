"""Vector calculus on SymPy expressions, with the one convention the whole book uses.

Coordinates ``xs`` are a list or tuple of SymPy symbols (a single symbol in 1-D); vectors are column
vectors (a ``sympy.Matrix``, or a list/tuple of components); a matrix field is a d×d ``sympy.Matrix``
(a scalar is allowed in 1-D).

* :func:`gradient`: ∇φ, the column vector (∂_1φ, …, ∂_dφ);
* :func:`divergence`: ∇·v = Σ_i ∂_i v_i;
* :func:`matrix_divergence`: the divergence of a matrix field, taken **row by row**:

      (∇·M)_i = Σ_j ∂_j M_ij ,

  i.e. component i is the divergence of row i of M, the derivative index running along the
  columns. This is the convention of Part II of the paper, of the Itô Fokker–Planck equation
  ∂tρ = ∇·(−bρ + β⁻¹∇·(Dρ)) and of the force j = −∇f + D∇Φ − β⁻¹∇·D (eq. 8). For a symmetric M
  (a diffusion matrix D) the other convention, Σ_j ∂_j M_ji, gives the same vector.

Every symbolic module of :mod:`vdlib.theory` (:mod:`~vdlib.theory.symbolic`,
:mod:`~vdlib.theory.potential_symbolic`, :mod:`~vdlib.theory.free_energy`,
:mod:`~vdlib.theory.critical_shift`) differentiates through these three functions.

Used in: 03_fokker_planck, 05_variational_inference, 07_linear_case, 08_critical_points_move.
"""
from __future__ import annotations

import sympy as sp

__all__ = ["gradient", "divergence", "matrix_divergence", "coordinates", "as_vector", "as_matrix"]


def coordinates(xs) -> list:
    """``xs`` as a list of coordinates (a single symbol becomes ``[xs]``); at least one is needed."""
    if isinstance(xs, sp.Symbol):
        return [xs]
    xs = list(xs)
    if not xs:
        raise ValueError("xs must name at least one coordinate")
    return xs


def as_vector(v, d: int, what: str = "v") -> sp.Matrix:
    """``v`` (a SymPy matrix, a list/tuple of components, or a scalar in 1-D) as a d×1 column vector."""
    v = sp.Matrix([v]) if not isinstance(v, (list, tuple, sp.MatrixBase)) else sp.Matrix(v)
    v = v.reshape(len(v), 1)
    if v.rows != d:
        raise ValueError(f"{what} must have {d} components (one per coordinate), got {v.rows}")
    return v


def as_matrix(M, d: int, what: str = "M") -> sp.Matrix:
    """``M`` (a SymPy matrix, nested lists, or a scalar in 1-D) as a d×d matrix."""
    M = sp.Matrix([[M]]) if not isinstance(M, (list, tuple, sp.MatrixBase)) else sp.Matrix(M)
    if M.shape != (d, d):
        raise ValueError(f"{what} must be a {d}×{d} matrix (one row and column per coordinate), got shape {M.shape}")
    return M


def gradient(expr, xs) -> sp.Matrix:
    """∇expr as a column vector (∂_1 expr, …, ∂_d expr)."""
    return sp.Matrix([sp.diff(expr, x) for x in coordinates(xs)])


def divergence(v, xs) -> sp.Expr:
    """∇·v = Σ_i ∂_i v_i for a vector field ``v`` with one component per coordinate."""
    xs = coordinates(xs)
    v = as_vector(v, len(xs), "v")
    return sum((sp.diff(v[i], x) for i, x in enumerate(xs)), sp.Integer(0))


def matrix_divergence(M, xs) -> sp.Matrix:
    """The matrix divergence taken row by row, (∇·M)_i = Σ_j ∂_j M_ij (the book's convention, see the module
    docstring), as a column vector."""
    xs = coordinates(xs)
    M = as_matrix(M, len(xs), "M")
    return sp.Matrix([sum((sp.diff(M[i, j], xs[j]) for j in range(len(xs))), sp.Integer(0))
                      for i in range(len(xs))])
