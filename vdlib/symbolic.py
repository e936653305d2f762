"""SymPy helpers shared by the derivation chapters.

Used in: 01_minibatch_noise, 02_sgd_as_sde.
"""
from __future__ import annotations

import sympy as sp


def setup() -> None:
    """Print SymPy results as MathJax-typeset LaTeX in notebooks and in the HTML book."""
    sp.init_printing(use_latex="mathjax")


def is_zero(expr) -> bool:
    """True when ``expr`` simplifies to exactly zero (scalars or matrices)."""
    expr = sp.simplify(expr)
    if isinstance(expr, sp.MatrixBase):
        return all(sp.simplify(e) == 0 for e in expr)
    return expr == 0


def assert_identity(lhs, rhs, name: str = "identity") -> None:
    """Raise ``AssertionError`` naming the identity unless ``simplify(lhs - rhs) == 0``."""
    if not is_zero(sp.Matrix(lhs) - sp.Matrix(rhs) if isinstance(lhs, sp.MatrixBase) else lhs - rhs):
        raise AssertionError(f"{name} does not hold: lhs - rhs simplifies to {sp.simplify(lhs - rhs)}")
