"""The prerequisites of the book, computed: Brownian motion, the Itô integral, Itô's lemma, the generator
and its adjoint, Lyapunov equations and Wasserstein distances.

Simulation (NumPy, seeded through a ``numpy.random.Generator``)
---------------------------------------------------------------
* :func:`brownian_paths`: Brownian paths on a uniform grid of [0, T].
* :func:`variations`: the quadratic variation Σ(ΔW)² and the total variation Σ|ΔW| of the same
  paths on coarser meshes (every 2^k-th grid point), with their exact means and standard deviations.
* :func:`stochastic_sums`: the Riemann sums Σ W(t_i + λh)(W_{t_{i+1}} − W_{t_i}) of ∫W dW for the
  left point (λ = 0, Itô), the midpoint (λ = ½, Stratonovich) and the right point (λ = 1).
* :func:`euler_maruyama_1d` and :func:`simulate_linear_sde`: Euler–Maruyama for a scalar SDE and for
  the linear SDE dx = −A x dt + σ dW (many independent chains, final states).

Symbolic (SymPy)
----------------
* :func:`ito_differential`: df(X) = (∇f·b + ½ tr(σσᵀ∇²f)) dt + ∇fᵀσ dW.
* :func:`formal_adjoint`: the adjoint of a linear differential operator, read off its action on a
  generic function φ and moved onto ρ by integration by parts, (c ∂^α)* ρ = (−1)^|α| ∂^α(cρ).
* :func:`gaussian_weighted_integral`: ∫ p(x) exp(−½ xᵀPx) dx over ℝᵈ exactly, for a polynomial p.

Wasserstein distances
---------------------
* :func:`wasserstein_1d`: W_p between two 1-D empirical measures by the quantile formula.
* :func:`w2_gaussian`: the closed form W₂² = |m₁ − m₂|² + tr(Σ₁ + Σ₂ − 2(Σ₂^½Σ₁Σ₂^½)^½);
  :func:`gaussian_transport_map`: Brenier's map between the two Gaussians.
* :func:`best_matching_cost`: the optimal assignment cost by trying every permutation (tiny n).

Conventions are those of :mod:`vdlib.theory.symbolic` (generator, Fokker–Planck operator) and
:mod:`vdlib.theory.transport` (W₂ in 1-D). Used in: 00_toolkit.
"""
from __future__ import annotations

import itertools
import numbers
from dataclasses import dataclass
from typing import Callable

import numpy as np
import sympy as sp

from .vector_calculus import as_vector, coordinates, gradient

__all__ = [
    "brownian_paths", "Variations", "variations", "StochasticSums", "stochastic_sums", "euler_maruyama_1d",
    "simulate_linear_sde", "ito_differential", "formal_adjoint", "gaussian_weighted_integral",
    "wasserstein_1d", "w2_gaussian", "gaussian_transport_map", "best_matching_cost",
]


# ------------------------------------------------------------------------------------------ checks
def _positive_int(n, name: str) -> int:
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"{name} must be a positive integer, got {n!r}")
    return int(n)


def _positive(x, name: str) -> float:
    if isinstance(x, bool) or not isinstance(x, numbers.Real) or not np.isfinite(x) or x <= 0:
        raise ValueError(f"{name} must be a finite positive number, got {x!r}")
    return float(x)


def _rng(rng) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator (np.random.default_rng(seed)), got {type(rng).__name__}")
    return rng


def _paths(W) -> np.ndarray:
    W = np.asarray(W, dtype=float)
    if W.ndim != 2 or W.shape[1] < 2:
        raise ValueError(f"W must be an array (n_paths, n_steps + 1) of Brownian paths, got shape {W.shape}")
    if not np.all(np.isfinite(W)):
        raise ValueError("W contains NaN or infinite values")
    return W


# ------------------------------------------------------------------------ Brownian motion, sums
def brownian_paths(n_paths: int, n_steps: int, t_end: float, rng) -> tuple[np.ndarray, np.ndarray]:
    """``n_paths`` Brownian paths on the grid t_i = i·T/n_steps: returns ``(t, W)``, W of shape
    (n_paths, n_steps + 1) with W[:, 0] = 0 and independent N(0, T/n_steps) increments.

    Used in: 00_toolkit
    """
    n_paths, n_steps = _positive_int(n_paths, "n_paths"), _positive_int(n_steps, "n_steps")
    t_end = _positive(t_end, "t_end")
    h = t_end / n_steps
    dW = _rng(rng).normal(0.0, np.sqrt(h), size=(n_paths, n_steps))
    W = np.concatenate([np.zeros((n_paths, 1)), np.cumsum(dW, axis=1)], axis=1)
    return np.linspace(0.0, t_end, n_steps + 1), W


@dataclass(frozen=True)
class Variations:
    """Quadratic and total variation of Brownian paths on meshes h = T/n.

    Arrays are indexed by mesh (coarsest first): ``n`` intervals, ``quadratic`` and ``total`` have
    shape (n_meshes, n_paths). ``quadratic_sd`` = T√(2/n) and ``total_mean`` = √(2Tn/π) are the exact
    standard deviation of Σ(ΔW)² (whose mean is T) and the exact mean of Σ|ΔW|.
    """

    t_end: float
    n: np.ndarray
    quadratic: np.ndarray
    total: np.ndarray

    @property
    def quadratic_sd(self) -> np.ndarray:
        return self.t_end * np.sqrt(2.0 / self.n)

    @property
    def total_mean(self) -> np.ndarray:
        return np.sqrt(2.0 * self.t_end * self.n / np.pi)


def _coarsen_levels(n_steps: int) -> list[int]:
    if n_steps & (n_steps - 1):
        raise ValueError(f"the paths need 2^K steps to be coarsened by halving, got {n_steps} steps")
    return [2**k for k in range(n_steps.bit_length() - 1, -1, -1)]  # strides, coarsest mesh first


def variations(W, t_end: float) -> Variations:
    """Σ(ΔW)² and Σ|ΔW| of each path on every mesh obtained by keeping every 2^k-th point of the
    grid (the paths must have 2^K steps), from n = 1 interval up to the full grid.

    Used in: 00_toolkit
    """
    W = _paths(W)
    t_end = _positive(t_end, "t_end")
    strides = _coarsen_levels(W.shape[1] - 1)
    quad, tot, ns = [], [], []
    for s in strides:
        dW = np.diff(W[:, ::s], axis=1)
        quad.append(np.sum(dW**2, axis=1))
        tot.append(np.sum(np.abs(dW), axis=1))
        ns.append(dW.shape[1])
    return Variations(t_end, np.array(ns), np.array(quad), np.array(tot))


@dataclass(frozen=True)
class StochasticSums:
    """Riemann sums of ∫₀ᵀ W dW on meshes of n intervals, for every path: ``left`` (Itô),
    ``mid`` (W at the midpoint time, Stratonovich) and ``right``; shape (n_meshes, n_paths).
    ``W_T`` is the endpoint of each path."""

    t_end: float
    n: np.ndarray
    left: np.ndarray
    mid: np.ndarray
    right: np.ndarray
    W_T: np.ndarray

    @property
    def ito_limit(self) -> np.ndarray:
        """(W_T² − T)/2, the Itô integral."""
        return (self.W_T**2 - self.t_end) / 2

    @property
    def stratonovich_limit(self) -> np.ndarray:
        """W_T²/2, the Stratonovich integral."""
        return self.W_T**2 / 2


def stochastic_sums(W, t_end: float) -> StochasticSums:
    """Left-point, midpoint and right-point sums Σ W(τ_i)(W_{t_{i+1}} − W_{t_i}) of ∫W dW.

    The meshes are every 2^k-th grid point for k ≥ 1 (the midpoint of a coarse interval is then a
    grid point), so the finest mesh has half the grid's steps. Used in: 00_toolkit
    """
    W = _paths(W)
    t_end = _positive(t_end, "t_end")
    strides = [s for s in _coarsen_levels(W.shape[1] - 1) if s >= 2]
    if not strides:
        raise ValueError("the paths need at least 2 steps (midpoints must be grid points)")
    left, mid, right, ns = [], [], [], []
    for s in strides:
        coarse = W[:, ::s]
        dW = np.diff(coarse, axis=1)
        left.append(np.sum(coarse[:, :-1] * dW, axis=1))
        mid.append(np.sum(W[:, s // 2::s] * dW, axis=1))
        right.append(np.sum(coarse[:, 1:] * dW, axis=1))
        ns.append(dW.shape[1])
    return StochasticSums(t_end, np.array(ns), np.array(left), np.array(mid), np.array(right), W[:, -1].copy())


def euler_maruyama_1d(drift: Callable, sigma: Callable, x0: float, t_end: float, n_steps: int, *,
                      n_paths: int | None = None, rng=None, dW=None) -> np.ndarray:
    """Euler–Maruyama X_{k+1} = X_k + b(X_k)h + σ(X_k)ΔW_k for a scalar SDE; returns X_T per path.

    ``drift`` and ``sigma`` act elementwise on arrays. Pass either ``dW`` (n_paths, n_steps) — to
    reuse the increments of given Brownian paths — or ``n_paths`` and ``rng``. Used in: 00_toolkit
    """
    t_end, n_steps = _positive(t_end, "t_end"), _positive_int(n_steps, "n_steps")
    h = t_end / n_steps
    if dW is None:
        if n_paths is None or rng is None:
            raise ValueError("give dW (the Brownian increments), or n_paths and rng to draw them")
        dW = _rng(rng).normal(0.0, np.sqrt(h), size=(_positive_int(n_paths, "n_paths"), n_steps))
    dW = np.asarray(dW, dtype=float)
    if dW.ndim != 2 or dW.shape[1] != n_steps:
        raise ValueError(f"dW must have shape (n_paths, n_steps={n_steps}), got {dW.shape}")
    x = np.full(dW.shape[0], float(x0))
    for k in range(n_steps):
        x = x + drift(x) * h + sigma(x) * dW[:, k]
    return x


def simulate_linear_sde(A, sigma, x0, dt: float, n_steps: int, n_chains: int, rng) -> np.ndarray:
    """Final states (n_chains, d) of Euler–Maruyama for dx = −A x dt + σ dW from x0.

    σ is d×m. The chains are independent, so their covariance at a time much longer than the
    relaxation time 1/min Re λ(A) estimates the stationary covariance (that of the Euler–Maruyama
    chain, which differs from the SDE's by O(dt)). Used in: 00_toolkit
    """
    A, sigma = np.atleast_2d(np.asarray(A, dtype=float)), np.atleast_2d(np.asarray(sigma, dtype=float))
    d = A.shape[0]
    if A.shape != (d, d) or sigma.shape[0] != d:
        raise ValueError(f"A must be d×d and sigma d×m, got shapes {A.shape} and {sigma.shape}")
    dt = _positive(dt, "dt")
    n_steps, n_chains = _positive_int(n_steps, "n_steps"), _positive_int(n_chains, "n_chains")
    rng = _rng(rng)
    x = np.tile(np.asarray(x0, dtype=float).reshape(1, d), (n_chains, 1))
    step, noise = np.eye(d) - dt * A, np.sqrt(dt) * sigma
    for _ in range(n_steps):
        x = x @ step.T + rng.standard_normal((n_chains, sigma.shape[1])) @ noise.T
    return x


# ------------------------------------------------------------------------------------ symbolic
def _sigma_matrix(sigma, d: int) -> sp.Matrix:
    sigma = sp.Matrix(sigma) if isinstance(sigma, (list, tuple, sp.MatrixBase)) else sp.Matrix([[sigma]])
    if sigma.rows != d:
        raise ValueError(f"sigma must have {d} rows (one per coordinate), got shape {sigma.shape}")
    return sigma


def ito_differential(f, drift, sigma, xs) -> tuple[sp.Expr, sp.Matrix]:
    """Itô's lemma for dX = b dt + σ dW: returns ``(dt_coefficient, dW_coefficients)`` of

        df(X) = (∇f·b + ½ tr(σσᵀ ∇²f)) dt + ∇fᵀσ dW,

    the second a 1×m row (one entry per Brownian component); σ is d×m. Used in: 00_toolkit
    """
    xs = coordinates(xs)
    d = len(xs)
    b, s = as_vector(drift, d, "drift"), _sigma_matrix(sigma, d)
    g = gradient(f, xs)
    hess = sp.hessian(f, xs)
    dt_part = (g.T * b)[0] + (s * s.T * hess).trace() / 2
    return sp.expand(dt_part), (g.T * s).applyfunc(sp.expand)


def formal_adjoint(L_phi, phi, rho, xs) -> sp.Expr:
    """The formal adjoint L*ρ of the linear differential operator L given by its action ``L_phi`` on
    the undefined function ``phi`` (e.g. ``symbolic.generator(phi, b, D, beta, xs)``).

    L φ is written Σ_α c_α ∂^αφ (the coefficients c_α are read off L φ); integrating
    ∫ (c_α ∂^αφ) ρ by parts |α| times moves every derivative onto c_α ρ, with no boundary terms for
    functions that decay, so L*ρ = Σ_α (−1)^|α| ∂^α(c_α ρ). Used in: 00_toolkit
    """
    xs = coordinates(xs)
    expr = sp.expand(L_phi)
    derivs = sorted(expr.atoms(sp.Derivative), key=sp.default_sort_key)
    derivs = [dv for dv in derivs if dv.expr == phi]
    stand_ins = {dv: sp.Dummy(f"dphi{k}") for k, dv in enumerate(derivs)}
    u = sp.Dummy("phi")
    linear = expr.subs(stand_ins).subs(phi, u)
    terms = list(stand_ins.items()) + [(None, u)]
    poly = sp.Poly(linear, *[s for _, s in terms])
    if poly.total_degree() > 1 or poly.coeff_monomial(1) != 0:
        raise ValueError("L_phi must be linear and homogeneous in phi and its derivatives")
    out = sp.Integer(0)
    for dv, s in terms:
        coeff = poly.coeff_monomial(s)
        if coeff == 0:
            continue
        if dv is None:
            out += coeff * rho
            continue
        orders = [(v, n) for v, n in dv.variable_count]
        if any(v not in xs for v, _ in orders):
            raise ValueError(f"{dv} differentiates with respect to a variable outside xs = {xs}")
        order = sum(n for _, n in orders)
        out += (-1) ** order * sp.diff(coeff * rho, *[v for v, n in orders for _ in range(n)])
    return out


def gaussian_weighted_integral(integrand, xs, precision) -> sp.Expr:
    """∫_{ℝᵈ} p(x) exp(−½ xᵀPx) dx exactly, for ``integrand`` = p(x)·exp(−½ xᵀPx) with a polynomial p
    (other symbols are constants) and a symmetric positive definite P.

    The Gaussian factor is divided out (the remainder must be a polynomial in ``xs``) and the
    integral is (2π)^{d/2} det(P)^{-1/2} E[p(Z)], Z ~ N(0, P⁻¹), by Isserlis' theorem
    (:func:`vdlib.theory.symbolic.gaussian_expectation`). Used in: 00_toolkit
    """
    from .symbolic import gaussian_expectation

    xs = coordinates(xs)
    P = sp.Matrix(precision)
    if P.shape != (len(xs), len(xs)) or not (P - P.T).is_zero_matrix:
        raise ValueError(f"precision must be a symmetric {len(xs)}×{len(xs)} matrix, got {P.shape}")
    v = sp.Matrix(xs)
    quad = (v.T * P * v)[0] / 2
    poly = sp.expand(sp.powsimp(sp.expand(sp.sympify(integrand) * sp.exp(quad)), combine="exp"))
    poly = sp.expand(sp.simplify(poly)) if not poly.is_polynomial(*xs) else poly
    if not poly.is_polynomial(*xs):
        raise ValueError(f"the integrand is not a polynomial times exp(-x'Px/2) for P = {P.tolist()}: "
                         f"after dividing the Gaussian factor out, {poly} remains")
    moment = gaussian_expectation(poly, xs, P.inv())
    return sp.simplify((2 * sp.pi) ** sp.Rational(len(xs), 2) / sp.sqrt(P.det()) * moment)


# ------------------------------------------------------------------------------------ Wasserstein
def _sample(a, name: str) -> np.ndarray:
    a = np.asarray(a, dtype=float)
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim != 1 or a.size == 0 or not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be a non-empty finite 1-D sample, got shape {a.shape}")
    return np.sort(a)


def wasserstein_1d(a, b, p: float = 2.0) -> float:
    """W_p between the empirical measures of two 1-D samples (uniform weights, any sizes):

        W_p^p = ∫₀¹ |F⁻¹(u) − G⁻¹(u)|^p du,

    with the piecewise-constant quantile functions, integrated exactly by splitting [0, 1] at the
    levels i/n and j/m. Returns W_p (p ≥ 1). Used in: 00_toolkit
    """
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not p >= 1:
        raise ValueError(f"p must be a number >= 1 (W_p is a metric for p >= 1), got {p!r}")
    a, b = _sample(a, "a"), _sample(b, "b")
    n, m = a.size, b.size
    levels = np.union1d(np.arange(1, n + 1) / n, np.arange(1, m + 1) / m)
    levels[-1] = 1.0
    widths = np.diff(np.concatenate([[0.0], levels]))
    mid = levels - widths / 2
    ia = np.minimum((mid * n).astype(int), n - 1)
    ib = np.minimum((mid * m).astype(int), m - 1)
    return float(np.sum(widths * np.abs(a[ia] - b[ib]) ** p) ** (1.0 / p))


def _gaussian(m, S, name: str) -> tuple[np.ndarray, np.ndarray]:
    m = np.atleast_1d(np.asarray(m, dtype=float))
    S = np.atleast_2d(np.asarray(S, dtype=float))
    if m.ndim != 1 or S.shape != (m.size, m.size):
        raise ValueError(f"{name}: the mean must be a d-vector and the covariance d×d, got {m.shape} and {S.shape}")
    if not np.allclose(S, S.T, atol=1e-12 * max(1.0, np.abs(S).max())):
        raise ValueError(f"{name}: the covariance must be symmetric")
    if np.linalg.eigvalsh(S).min() < -1e-12 * max(1.0, np.abs(S).max()):
        raise ValueError(f"{name}: the covariance must be positive semi-definite")
    return m, (S + S.T) / 2


def _psd_sqrt(S: np.ndarray) -> np.ndarray:
    lam, V = np.linalg.eigh(S)
    return (V * np.sqrt(np.clip(lam, 0.0, None))) @ V.T


def w2_gaussian(m1, S1, m2, S2, *, squared: bool = False) -> float:
    """W₂ between N(m₁, Σ₁) and N(m₂, Σ₂):
    W₂² = |m₁ − m₂|² + tr(Σ₁ + Σ₂ − 2(Σ₂^½ Σ₁ Σ₂^½)^½). Returns W₂, or W₂² with ``squared=True``.

    Used in: 00_toolkit
    """
    m1, S1 = _gaussian(m1, S1, "first Gaussian")
    m2, S2 = _gaussian(m2, S2, "second Gaussian")
    if m1.size != m2.size:
        raise ValueError(f"the Gaussians live in different dimensions: {m1.size} and {m2.size}")
    r2 = _psd_sqrt(S2)
    cross = _psd_sqrt(r2 @ S1 @ r2)
    w2sq = max(float(np.sum((m1 - m2) ** 2) + np.trace(S1 + S2 - 2 * cross)), 0.0)
    return w2sq if squared else float(np.sqrt(w2sq))


def gaussian_transport_map(S1, S2) -> np.ndarray:
    """The symmetric positive definite A = Σ₁^{-½}(Σ₁^½ Σ₂ Σ₁^½)^½ Σ₁^{-½} of Brenier's map
    T(x) = m₂ + A(x − m₁), which pushes N(m₁, Σ₁) to N(m₂, Σ₂) (AΣ₁A = Σ₂); Σ₁ must be
    positive definite. Used in: 00_toolkit
    """
    _, S1 = _gaussian(np.zeros(np.atleast_2d(S1).shape[0]), S1, "Sigma1")
    _, S2 = _gaussian(np.zeros(np.atleast_2d(S2).shape[0]), S2, "Sigma2")
    if S1.shape != S2.shape:
        raise ValueError(f"Sigma1 and Sigma2 must have the same shape, got {S1.shape} and {S2.shape}")
    if np.linalg.eigvalsh(S1).min() <= 0:
        raise ValueError("Sigma1 must be positive definite for the map to exist")
    r1 = _psd_sqrt(S1)
    r1_inv = np.linalg.inv(r1)
    A = r1_inv @ _psd_sqrt(r1 @ S2 @ r1) @ r1_inv
    return (A + A.T) / 2


def best_matching_cost(a, b, p: float = 2.0) -> tuple[float, tuple]:
    """min over permutations π of (1/n) Σ_i |a_i − b_π(i)|^p by trying all n! of them (n ≤ 8):
    the optimal transport cost between two n-point empirical measures (a coupling of two uniform
    n-point measures can be taken to be a permutation, Birkhoff). Returns (cost, π).

    Used in: 00_toolkit
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.ndim != 1 or a.shape != b.shape or a.size == 0:
        raise ValueError(f"a and b must be 1-D samples of the same size, got {a.shape} and {b.shape}")
    if a.size > 8:
        raise ValueError(f"n = {a.size} is too many for brute force (n! permutations); use n <= 8")
    best, arg = np.inf, None
    for perm in itertools.permutations(range(a.size)):
        cost = float(np.mean(np.abs(a - b[list(perm)]) ** p))
        if cost < best:
            best, arg = cost, perm
    return best, arg
