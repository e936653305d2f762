"""Theorem 22: the A-type form of the SGD diffusion, and how far the most likely point moves.

Convention (the book's): dx = b dt + √(2β⁻¹D) dW, Itô Fokker–Planck ∂tρ = −∇·J with the current
J = bρ − β⁻¹∇·(Dρ), matrix divergence row by row, (∇·M)_i = Σ_j ∂_j M_ij
(:mod:`vdlib.theory.vector_calculus`). For SGD b = −∇f and
β⁻¹ = T = η/(2b).

Symbolic part (SymPy):

* :func:`a_type_identities`: for arbitrary f, Φ, a symmetric D and an antisymmetric Q in 2-D,
  the Itô drift of the A-type SDE, its current at e^{−βΦ} (= β⁻¹∇·(Qρ), divergence-free), the
  Ma–Chen–Fox "complete recipe" drift with H = βΦ, D/β, Q/β (the same drift), the equivalence
  residual ρ[(D+Q)∇Φ − β⁻¹∇·(D+Q) − ∇f] = J^ss − β⁻¹∇·(Qρ), and the stream-function
  construction of Q;
* :func:`first_order_shift`: the small-temperature expansion Φ = Φ₀ + TΦ₁ + …, Q = Q₀ + TQ₁ + …
  of eq. (19) around a non-degenerate minimum of f (d = 1 or 2), solved order by order as Taylor
  polynomials; returns x* = T v + O(T²) with v = −H⁻¹∇·(D + Q₀)(x_f);
* :func:`ch08_symbolic`: the chapter-08 example of :mod:`vdlib.theory.potentials` as SymPy objects.

Numerical part:

* :func:`mode_grid`: the mode of a density on a grid (1-D or 2-D) with sub-cell refinement;
* :func:`edgeworth_mode`, :class:`MomentSums`: the mode to first order in the temperature from the
  first three moments, x* ≈ μ − ½ κ:Σ⁻¹ (κ the third central moment tensor);
* :func:`gaussian_box`: a grid box sized from a covariance (k standard deviations per axis);
* :func:`run_moment_chains`: long Euler–Maruyama / SGD-like ensembles with state-dependent noise
  through :func:`vdlib.theory.sde.euler_maruyama`, reduced to moment sums per independent group of
  chains;
* :func:`fit_through_origin`: weighted least squares y = c₁x + c₂x² + … with standard errors.

Used in: 08_critical_points_move
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import sympy as sp

from .. import checks
from .symbolic import probability_current
from .vector_calculus import divergence, gradient, matrix_divergence

__all__ = [
    "x1", "x2", "beta", "T",
    "AType",
    "a_type_identities",
    "FirstOrderShift",
    "first_order_shift",
    "ch08_symbolic",
    "mode_grid",
    "edgeworth_mode",
    "MomentSums",
    "gaussian_box",
    "ChainResult",
    "run_moment_chains",
    "fit_through_origin",
]

x1, x2 = sp.symbols("x_1 x_2", real=True)
beta = sp.Symbol("beta", positive=True)
T = sp.Symbol("T", positive=True)  # the temperature β⁻¹ = η/(2b) as an expansion parameter


# ------------------------------------------------------------------------------------------
# the A-type SDE, eq. (19), and the complete recipe
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AType:
    """Both sides of the Theorem-22 identities for arbitrary f, Φ, D = Dᵀ, Q = −Qᵀ in 2-D.

    * ``drift_A`` = −(D+Q)∇Φ + β⁻¹∇·(D+Q): the Itô drift of the A-type SDE (18);
    * ``J_A`` its current at ρ = e^{−βΦ}, identity ``J_A == J_A_expected`` = β⁻¹∇·(Qρ);
      ``div_J_A`` = ∇·J_A (zero: e^{−βΦ} is stationary for every antisymmetric Q);
    * ``fp_plain_ito``: ∇·J at e^{−βΦ} for the drift −(D+Q)∇Φ alone (18 read naively as Itô); not
      zero in general, it equals ``fp_plain_ito_expected`` = β⁻¹∇·(ρ∇·(D+Q));
    * ``drift_recipe``: the Ma–Chen–Fox drift −(D̃+Q̃)∇H̃ + Γ, Γ_i = Σ_j ∂_j(D̃+Q̃)_ij, with
      H̃ = βΦ, D̃ = D/β, Q̃ = Q/β; identity ``drift_recipe == drift_A``; its noise 2D̃ = 2β⁻¹D;
    * ``residual_19`` = (D+Q)∇Φ − β⁻¹∇·(D+Q) − ∇f (eq. (19) is ``residual_19 == 0``);
      identities ``drift_A − (−∇f) == −residual_19`` (the two Itô SDEs have the same drift iff (19))
      and ``rho * residual_19 == J_sgd − β⁻¹∇·(Qρ)`` with J_sgd the SGD current at e^{−βΦ};
    * ``J_stream``: β⁻¹∇·(Qρ) for Q = [[0, q], [−q, 0]], q = βψ/ρ, which equals
      ``J_stream_expected`` = (∂_yψ, −∂_xψ): every divergence-free current is of this form.

    Used in: 08_critical_points_move
    """

    coords: tuple
    f: sp.Expr
    Phi: sp.Expr
    D: sp.Matrix
    Q: sp.Matrix
    rho: sp.Expr
    drift_A: sp.Matrix
    J_A: sp.Matrix
    J_A_expected: sp.Matrix
    div_J_A: sp.Expr
    fp_plain_ito: sp.Expr
    fp_plain_ito_expected: sp.Expr
    drift_recipe: sp.Matrix
    noise_recipe: sp.Matrix
    residual_19: sp.Matrix
    drift_difference: sp.Matrix
    J_sgd: sp.Matrix
    rho_residual_19: sp.Matrix
    J_sgd_minus_Q: sp.Matrix
    J_stream: sp.Matrix
    J_stream_expected: sp.Matrix


def a_type_identities() -> AType:
    """Build the Theorem-22 identities with SymPy for arbitrary functions of (x, y).

    Used in: 08_critical_points_move
    """
    x, y = sp.symbols("x y", real=True)
    c = (x, y)
    f = sp.Function("f")(*c)
    Phi = sp.Function("Phi")(*c)
    d11, d12, d22, q = (sp.Function(n)(*c) for n in ("D_11", "D_12", "D_22", "q"))
    D = sp.Matrix([[d11, d12], [d12, d22]])
    Q = sp.Matrix([[0, q], [-q, 0]])
    rho = sp.exp(-beta * Phi)
    M = D + Q

    drift_A = -M * gradient(Phi, c) + matrix_divergence(M, c) / beta
    J_A = probability_current(rho, drift_A, D, beta, c)
    J_A_expected = matrix_divergence(Q * rho, c) / beta
    plain = -M * gradient(Phi, c)
    fp_plain = -divergence(probability_current(rho, plain, D, beta, c), c)  # ∂tρ = −∇·J
    fp_plain_expected = divergence(matrix_divergence(M, c) * rho, c) / beta
    # H̃ = βΦ, D̃ = D/β, Q̃ = Q/β
    Dt, Qt, Ht = D / beta, Q / beta, beta * Phi
    drift_recipe = -(Dt + Qt) * gradient(Ht, c) + matrix_divergence(Dt + Qt, c)
    residual = M * gradient(Phi, c) - matrix_divergence(M, c) / beta - gradient(f, c)
    J_sgd = probability_current(rho, -gradient(f, c), D, beta, c)
    psi = sp.Function("psi")(*c)
    rho_any = sp.Function("rho", positive=True)(*c)
    Qs = sp.Matrix([[0, beta * psi / rho_any], [-beta * psi / rho_any, 0]])
    return AType(
        coords=c, f=f, Phi=Phi, D=D, Q=Q, rho=rho,
        drift_A=drift_A, J_A=J_A, J_A_expected=J_A_expected, div_J_A=divergence(J_A, c),
        fp_plain_ito=fp_plain, fp_plain_ito_expected=fp_plain_expected,
        drift_recipe=drift_recipe, noise_recipe=2 * Dt,
        residual_19=residual, drift_difference=drift_A - (-gradient(f, c)),
        J_sgd=J_sgd, rho_residual_19=rho * residual, J_sgd_minus_Q=J_sgd - J_A_expected,
        J_stream=matrix_divergence(Qs * rho_any, c) / beta,
        J_stream_expected=sp.Matrix([sp.diff(psi, y), -sp.diff(psi, x)]),
    )


# ------------------------------------------------------------------------------------------
# the first-order shift of the most likely point
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FirstOrderShift:
    """The small-temperature solution of eq. (19) around a minimum of f (translated to 0).

    * ``H`` = ∇²f(0), ``D0`` = D(0); ``U`` = ∇²Φ₀(0) and ``Q00`` = Q₀(0) solve (D0 + Q00)U = H
      (Lemma 20; via HS + SHᵀ = 2D0, U = S⁻¹, Q00 = (HS − SHᵀ)/2);
    * ``Phi0`` = ½xᵀUx + cubic terms, ``Q0`` = Q00 + linear terms (d = 2; zero for d = 1), the
      Taylor polynomials that solve the order-T⁰ equation ∇f = (D + Q₀)∇Φ₀ up to O(|x|³);
      ``order0_residual`` is that residual with f and D Taylor-expanded to second/first order
      (its terms of degree ≤ 2 vanish);
    * ``div_D`` = ∇·D(0), ``div_Q0`` = ∇·Q₀(0);
    * ``grad_Phi1`` = ∇Φ₁(0) = (D0 + Q00)⁻¹∇·(D + Q₀)(0) from the order-T¹ equation at x = 0;
    * ``v`` = −U⁻¹ ∇Φ₁(0) = −H⁻¹∇·(D + Q₀)(0): the most likely point is x* = T v + O(T²);
    * ``v_naive`` = −H⁻¹∇·D(0): the same formula without Q₀.

    Used in: 08_critical_points_move
    """

    coords: tuple
    H: sp.Matrix
    D0: sp.Matrix
    U: sp.Matrix
    Q00: sp.Matrix
    Phi0: sp.Expr
    Q0: sp.Matrix
    order0_residual: sp.Matrix
    div_D: sp.Matrix
    div_Q0: sp.Matrix
    grad_Phi1: sp.Matrix
    v: sp.Matrix
    v_naive: sp.Matrix


def _taylor(expr, coords, order: int):
    """Taylor polynomial of ``expr`` at 0 up to total degree ``order``."""
    t = sp.Symbol("_t")
    scaled = expr.subs({c: t * c for c in coords}, simultaneous=True)
    return sp.expand(sp.series(scaled, t, 0, order + 1).removeO().subs(t, 1))


def first_order_shift(f, D, coords) -> FirstOrderShift:
    """Solve eq. (19) to first order in T = β⁻¹ around a non-degenerate minimum of f at 0.

    ``f`` is a SymPy expression in ``coords`` (one or two symbols) with ∇f(0) = 0 and a positive
    definite Hessian there; ``D`` a symmetric d×d SymPy matrix of expressions, positive definite
    at 0. Expanding Φ = Φ₀ + TΦ₁ + …, Q = Q₀ + TQ₁ + … in (19),

        T⁰:  ∇f = (D + Q₀)∇Φ₀,        T¹:  (D + Q₀)∇Φ₁ + Q₁∇Φ₀ = ∇·(D + Q₀);

    at x = 0 (∇Φ₀ = 0) the second gives ∇Φ₁(0), and ∇Φ(x*) = 0 gives x* = −T U⁻¹∇Φ₁(0) + O(T²)
    = −T H⁻¹∇·(D + Q₀)(0) + O(T²), using (D0 + Q00)U = H. ∇·Q₀(0) needs Q₀ to linear order, hence
    Φ₀ to cubic order: both follow from the degree-2 terms of the T⁰ equation, a square linear
    system (6 unknowns in 2-D, 1 in 1-D).

    Raises ``ValueError`` (with what to change) for d ∉ {1, 2}, a non-critical or degenerate
    point, or a D that is not symmetric positive definite at 0.

    Used in: 08_critical_points_move
    """
    coords = tuple(coords)
    d = len(coords)
    if d not in (1, 2):
        raise ValueError(f"first_order_shift handles d = 1 or 2 coordinates, got {d}; in d ≥ 3 Q is not fixed "
                         "by the Taylor equations at this order")
    D = sp.Matrix(D)
    if D.shape != (d, d):
        raise ValueError(f"D must be a {d}×{d} matrix for {d} coordinates, got shape {D.shape}")
    if any(sp.simplify(D[i, k] - D[k, i]) != 0 for i in range(d) for k in range(i + 1, d)):
        raise ValueError("D must be symmetric: D_ij == D_ji")
    zero = {c: 0 for c in coords}
    X = sp.Matrix(coords)
    gradf = gradient(f, coords)
    if any(sp.simplify(g.subs(zero)) != 0 for g in gradf):
        raise ValueError("the expansion point x = 0 must be a critical point of f: ∇f(0) = 0; translate f first")
    H = sp.hessian(f, coords).subs(zero).applyfunc(sp.nsimplify)
    D0 = D.subs(zero).applyfunc(sp.nsimplify)
    # numeric data are checked here; symbolic entries are assumed to satisfy the conditions
    if not H.free_symbols and np.linalg.eigvalsh(np.array(H, dtype=float)).min() <= 0:
        raise ValueError(f"the Hessian of f at 0 must be positive definite (a non-degenerate minimum), got {H.tolist()}")
    if not D0.free_symbols and np.linalg.eigvalsh(np.array(D0, dtype=float)).min() <= 0:
        raise ValueError(f"D(0) must be positive definite, got {D0.tolist()}")
    if H.det() == 0:
        raise ValueError("the Hessian of f at 0 is singular: the critical point is degenerate")
    # order 1 in x: Lemma 20 with T = 1
    s = {(i, k): sp.Symbol(f"s_{i}{k}") for i in range(d) for k in range(i, d)}
    S = sp.Matrix(d, d, lambda i, k: s[(min(i, k), max(i, k))])
    sol = sp.solve(list(H * S + S * H.T - 2 * D0), list(s.values()), dict=True)
    S = S.subs(sol[0])
    U = S.inv().applyfunc(sp.simplify)
    Q00 = ((H * S - S * H.T) / 2).applyfunc(sp.simplify)
    # order 2 in x: cubic Φ₀, linear Q₀
    cubic = sorted((m for m in sp.itermonomials(coords, 3) if sp.Poly(m, *coords).total_degree() == 3),
                   key=sp.default_sort_key)
    cs = sp.symbols(f"c_1:{len(cubic) + 1}")
    Phi0 = (X.T * U * X)[0] / 2 + sum(ci * m for ci, m in zip(cs, cubic))
    unknowns = list(cs)
    if d == 2:
        qx, qy = sp.symbols("q_1 q_2")
        q = Q00[0, 1] + qx * coords[0] + qy * coords[1]
        Q0 = sp.Matrix([[0, q], [-q, 0]])
        unknowns += [qx, qy]
    else:
        Q0 = sp.zeros(1, 1)
    D1 = D.applyfunc(lambda e: _taylor(e, coords, 1))
    gf2 = gradf.applyfunc(lambda e: _taylor(e, coords, 2))
    res = (gf2 - (D1 + Q0) * gradient(Phi0, coords)).applyfunc(sp.expand)
    eqs = []
    for r in res:
        for mon, co in sp.Poly(r, *coords).terms():
            if sum(mon) == 2:
                eqs.append(co)
    sol2 = sp.solve(eqs, unknowns, dict=True)
    if len(sol2) != 1 or len(sol2[0]) != len(unknowns):  # pragma: no cover - generic 2-D data is regular
        raise ValueError("the degree-2 equations for Φ₀ and Q₀ have no unique solution for this f and D")
    Phi0 = sp.expand(Phi0.subs(sol2[0]))
    Q0 = Q0.subs(sol2[0]).applyfunc(sp.expand)
    resid = (gf2 - (D1 + Q0) * gradient(Phi0, coords)).applyfunc(sp.expand)
    div_D = matrix_divergence(D, coords).subs(zero).applyfunc(sp.simplify)
    div_Q0 = matrix_divergence(Q0, coords).subs(zero).applyfunc(sp.simplify)
    grad_Phi1 = ((D0 + Q00).inv() * (div_D + div_Q0)).applyfunc(sp.simplify)
    v = (-U.inv() * grad_Phi1).applyfunc(sp.simplify)
    return FirstOrderShift(
        coords=coords, H=H, D0=D0, U=U, Q00=Q00, Phi0=Phi0, Q0=Q0, order0_residual=resid,
        div_D=div_D, div_Q0=div_Q0, grad_Phi1=grad_Phi1, v=v,
        v_naive=(-H.inv() * div_D).applyfunc(sp.simplify),
    )


def ch08_symbolic(amplitude=None, scale=None):
    """The chapter-08 example of :mod:`vdlib.theory.potentials` as ``(f, D, (x1, x2))`` in SymPy.

    ``amplitude`` and ``scale`` default to ``CH08_AMPLITUDE`` and ``CH08_SCALE``; numbers are
    converted to exact rationals (``nsimplify``), symbols are kept.

    Used in: 08_critical_points_move
    """
    from . import potentials as pot

    a = sp.nsimplify(pot.CH08_AMPLITUDE if amplitude is None else amplitude)
    s = sp.nsimplify(pot.CH08_SCALE if scale is None else scale)
    M = lambda A: sp.Matrix(A).applyfunc(sp.nsimplify)  # noqa: E731
    X = sp.Matrix([x1, x2])
    f = (X.T * M(pot.CH08_H) * X)[0] / 2
    D = s * (M(pot.CH08_D0) + a * (sp.tanh(x1) * M(pot.CH08_A1) + sp.tanh(x2) * M(pot.CH08_A2)))
    return sp.expand(f), D, (x1, x2)


# ------------------------------------------------------------------------------------------
# modes of densities
# ------------------------------------------------------------------------------------------
def _axis(v, name):
    v = np.asarray(v, dtype=float)
    if v.ndim != 1 or v.size < 3:
        raise ValueError(f"{name} must be a 1-D grid of at least 3 cell centres, got shape {v.shape}")
    h = np.diff(v)
    if np.any(h <= 0) or not np.allclose(h, h[0], rtol=1e-6, atol=0):
        raise ValueError(f"{name} must be increasing and uniformly spaced")
    return v, float(h[0])


def mode_grid(rho, x, y=None):
    """The mode of a grid density, refined below the cell size.

    1-D (``y`` None): a parabola through log ρ at the arg-max cell and its two neighbours.
    2-D (ρ of shape (len(x), len(y)), "ij" indexing): a quadratic through log ρ on the 3×3 block
    around the arg-max (centred first and second differences), then one Newton step. Exact for a
    Gaussian; for a smooth density the error is O(h²). Returns a float (1-D) or an array (x*, y*).

    Raises ``ValueError`` when the maximum sits on the edge of the grid (enlarge the box) or the
    density is not positive around it.

    Used in: 08_critical_points_move
    """
    rho = np.asarray(rho, dtype=float)
    x, hx = _axis(x, "x")
    if y is None:
        if rho.shape != x.shape:
            raise ValueError(f"rho must have the shape of x, {x.shape}, got {rho.shape}")
        i = int(np.argmax(rho))
        if i in (0, x.size - 1):
            raise ValueError("the maximum of rho is on the edge of the grid; enlarge the box")
        if np.any(rho[i - 1:i + 2] <= 0):
            raise ValueError("rho must be positive around its maximum")
        l0, l1, l2 = np.log(rho[i - 1:i + 2])
        den = l0 - 2 * l1 + l2
        if den >= 0:
            raise ValueError("log rho is not concave around its maximum; refine the grid")
        return float(x[i] + 0.5 * (l0 - l2) / den * hx)
    y, hy = _axis(y, "y")
    if rho.shape != (x.size, y.size):
        raise ValueError(f"rho must have shape (len(x), len(y)) = {(x.size, y.size)}, got {rho.shape}")
    i, j = np.unravel_index(int(np.argmax(rho)), rho.shape)
    if i in (0, x.size - 1) or j in (0, y.size - 1):
        raise ValueError("the maximum of rho is on the edge of the grid; enlarge the box")
    blk = rho[i - 1:i + 2, j - 1:j + 2]
    if np.any(blk <= 0):
        raise ValueError("rho must be positive around its maximum")
    L = np.log(blk)
    g = np.array([(L[2, 1] - L[0, 1]) / (2 * hx), (L[1, 2] - L[1, 0]) / (2 * hy)])
    hxx = (L[2, 1] - 2 * L[1, 1] + L[0, 1]) / hx**2
    hyy = (L[1, 2] - 2 * L[1, 1] + L[1, 0]) / hy**2
    hxy = (L[2, 2] - L[2, 0] - L[0, 2] + L[0, 0]) / (4 * hx * hy)
    A = np.array([[hxx, hxy], [hxy, hyy]])
    if np.linalg.eigvalsh(A).max() >= 0:
        raise ValueError("log rho is not concave around its maximum; refine the grid")
    return np.array([x[i], y[j]]) - np.linalg.solve(A, g)


def _edgeworth_from_central(mu, Sigma, kappa):
    Sinv = np.linalg.inv(Sigma)
    return mu - 0.5 * np.einsum("ijk,jk->i", kappa, Sinv)


def edgeworth_mode(points, weights=None):
    """The mode to first order in the temperature: μ − ½ Σ_jk κ_ijk (Σ⁻¹)_jk.

    ``points`` has shape (n, d) (or (n,) for d = 1); ``weights`` (n,) are non-negative (default
    equal), e.g. ρ·cell for a grid density. μ, Σ and κ are the weighted mean, covariance and third
    central moment tensor. For ρ ∝ exp(−Φ₀/T − Φ₁) the true mode is this value + O(T²) (first-order
    Edgeworth expansion); applied to samples it has a much smaller variance than a histogram peak.
    Returns an array of shape (d,).

    Used in: 08_critical_points_move
    """
    P = np.asarray(points, dtype=float)
    if P.ndim == 1:
        P = P[:, None]
    if P.ndim != 2 or P.shape[0] < P.shape[1] + 2:
        raise ValueError(f"points must have shape (n, d) with n > d + 1, got {np.shape(points)}")
    if weights is None:
        w = np.full(P.shape[0], 1.0 / P.shape[0])
    else:
        w = np.asarray(weights, dtype=float).ravel()
        if w.shape[0] != P.shape[0]:
            raise ValueError(f"weights must have one entry per point ({P.shape[0]}), got {w.shape[0]}")
        if np.any(w < 0) or not np.isfinite(w).all() or w.sum() <= 0:
            raise ValueError("weights must be finite, non-negative and not all zero")
        w = w / w.sum()
    mu = w @ P
    Z = P - mu
    Sigma = np.einsum("n,ni,nj->ij", w, Z, Z)
    kappa = np.einsum("n,ni,nj,nk->ijk", w, Z, Z, Z)
    return _edgeworth_from_central(mu, Sigma, kappa)


@dataclass
class MomentSums:
    """Running raw-moment sums Σx, Σxxᵀ, Σx⊗x⊗x of samples (float64), for long chains.

    ``add(samples)`` takes (n, d) arrays; ``mean()``, ``cov()`` and ``mode()`` (the
    :func:`edgeworth_mode` of everything added) read them out.

    Used in: 08_critical_points_move
    """

    d: int
    n: int = 0
    s1: np.ndarray = field(default=None, repr=False)
    s2: np.ndarray = field(default=None, repr=False)
    s3: np.ndarray = field(default=None, repr=False)

    def __post_init__(self):
        self.d = checks.integer(self.d, "d", 1)
        if self.s1 is None:
            self.s1 = np.zeros(self.d)
            self.s2 = np.zeros((self.d, self.d))
            self.s3 = np.zeros((self.d, self.d, self.d))

    def add(self, samples) -> None:
        X = np.asarray(samples, dtype=float).reshape(-1, self.d)
        self.n += X.shape[0]
        self.s1 += X.sum(0)
        self.s2 += X.T @ X
        P = (X[:, :, None] * X[:, None, :]).reshape(X.shape[0], self.d * self.d)
        self.s3 += (P.T @ X).reshape(self.d, self.d, self.d)

    def _central(self):
        if self.n < self.d + 2:
            raise ValueError("MomentSums: add more samples before reading moments")
        m = self.s1 / self.n
        M2 = self.s2 / self.n
        M3 = self.s3 / self.n
        C = M2 - np.outer(m, m)
        K = (M3 - np.einsum("i,jk->ijk", m, M2) - np.einsum("j,ik->ijk", m, M2)
             - np.einsum("k,ij->ijk", m, M2) + 2 * np.einsum("i,j,k->ijk", m, m, m))
        return m, C, K

    def mean(self) -> np.ndarray:
        return self._central()[0]

    def cov(self) -> np.ndarray:
        return self._central()[1]

    def mode(self) -> np.ndarray:
        return _edgeworth_from_central(*self._central())


def gaussian_box(Sigma, n: int, k: float = 4.5):
    """Cell centres of an n-cell grid per axis covering ±k standard deviations of ``Sigma``.

    ``Sigma`` is a d×d covariance (or a positive variance for d = 1); returns a list of d arrays.
    Keep k ≲ 4.5 with :func:`vdlib.theory.fokker_planck.stationary_2d`: on larger boxes at small
    temperature its pinned-cell heuristic can pick a corner cell whose density underflows.

    Used in: 08_critical_points_move
    """
    n = checks.integer(n, "n", 3)
    k = checks.positive(k, "k")
    S = np.atleast_2d(np.asarray(Sigma, dtype=float))
    if S.shape[0] != S.shape[1] or np.any(np.diag(S) <= 0):
        raise ValueError("Sigma must be a square covariance with positive diagonal")
    out = []
    for s in np.sqrt(np.diag(S)):
        e = np.linspace(-k * s, k * s, n + 1)
        out.append(0.5 * (e[1:] + e[:-1]))
    return out


# ------------------------------------------------------------------------------------------
# long ensembles of the SDE (small dt) and of SGD (dt = η)
# ------------------------------------------------------------------------------------------
def _cholesky_small(Dm: np.ndarray) -> np.ndarray:
    """Lower Cholesky factors of a batch (n, d, d) of SPD matrices; closed form for d ≤ 2."""
    d = Dm.shape[-1]
    if d == 1:
        if np.any(Dm <= 0):
            raise ValueError("D(x) must be positive at every particle")
        return np.sqrt(Dm)
    if d == 2:
        a, b, c = Dm[:, 0, 0], Dm[:, 1, 0], Dm[:, 1, 1]
        if np.any(a <= 0) or np.any(a * c - b * b <= 0):
            raise ValueError("D(x) must be symmetric positive definite at every particle")
        L = np.zeros_like(Dm)
        L[:, 0, 0] = np.sqrt(a)
        L[:, 1, 0] = b / L[:, 0, 0]
        L[:, 1, 1] = np.sqrt(c - L[:, 1, 0] ** 2)
        return L
    return np.linalg.cholesky(Dm)


@dataclass
class ChainResult:
    """Per-group moment sums of a long ensemble, and optionally a histogram of all groups.

    ``groups`` is a list of :class:`MomentSums` (independent groups of chains); ``modes`` their
    :meth:`MomentSums.mode`; ``hist`` the counts on ``edges`` (or ``None``).

    Used in: 08_critical_points_move
    """

    groups: list
    T: float
    dt: float
    n_chains: int
    n_steps: int
    hist: np.ndarray | None = None
    edges: list | None = None

    @property
    def modes(self) -> np.ndarray:
        return np.array([g.mode() for g in self.groups])

    def mode(self):
        """Mean of the group modes and its standard error (groups are independent)."""
        m = self.modes
        return m.mean(0), m.std(0, ddof=1) / np.sqrt(m.shape[0])

    def mean(self):
        """Mean position over all samples and its standard error from the groups."""
        m = np.array([g.mean() for g in self.groups])
        return m.mean(0), m.std(0, ddof=1) / np.sqrt(m.shape[0])


def run_moment_chains(grad_f: Callable, D: Callable, T: float, dt: float, *, n_chains: int, n_steps: int,
               burn_in: int, n_groups: int = 10, record_every: int = 5, seed: int = 0,
               x0=None, edges: Sequence | None = None, segment: int = 500) -> ChainResult:
    """Run dx = −∇f dt + √(2T D(x)) dW with :func:`vdlib.theory.sde.euler_maruyama` and collect moments.

    ``grad_f(X) -> (n, d)`` and ``D(X) -> (n, d, d)`` act on NumPy arrays of shape (n, d)
    (d = 1: ``D`` may return (n,), (n, 1) or (n, 1, 1)). The noise factor is the Cholesky factor
    σ(x) = chol(2T D(x)). With ``dt = η`` and T = η/(2b) one Euler–Maruyama step is exactly the
    SGD-like update x ← x − η∇f + √(η²D(x)/b) z, so the same call runs "SGD" (dt = η) and the SDE
    (small dt). Steps after ``burn_in`` are sampled every ``record_every`` steps; chains are split
    into ``n_groups`` independent groups whose moment sums give the error bars. The run is done in
    segments of ``segment`` steps (seeds ``seed``, ``seed + 1``, …) so that memory stays small.

    Used in: 08_critical_points_move
    """
    import torch

    from .sde import euler_maruyama

    T = checks.positive(T, "temperature T")
    dt = checks.positive(dt, "dt")
    n_chains = checks.integer(n_chains, "n_chains", 2)
    n_steps = checks.integer(n_steps, "n_steps", 1)
    burn_in = checks.integer(burn_in, "burn_in", 0)
    n_groups = checks.integer(n_groups, "n_groups", 2)
    record_every = checks.integer(record_every, "record_every", 1)
    segment = checks.integer(segment, "segment", 1)
    seed = checks.integer(seed, "seed", 0)
    segment = max(record_every, segment // record_every * record_every)  # keep the sampling grid aligned
    if n_groups > n_chains:
        raise ValueError(f"n_groups={n_groups} exceeds n_chains={n_chains}; use at most one group per chain")
    if burn_in >= n_steps:
        raise ValueError(f"burn_in={burn_in} must be smaller than n_steps={n_steps}; nothing would be sampled")
    if x0 is None:
        raise ValueError("x0 is required: a (d,) starting point (e.g. the minimum of f) or (n_chains, d) array")
    x = np.asarray(x0, dtype=float)
    if x.ndim == 1:
        x = np.tile(x, (n_chains, 1))
    if x.shape[0] != n_chains:
        raise ValueError(f"x0 must have shape (d,) or (n_chains, d), got {x.shape}")
    d = x.shape[1]

    def drift(t):
        return torch.from_numpy(-np.asarray(grad_f(t.double().numpy()), dtype=float).reshape(t.shape[0], d))

    def sigma(t):
        Dm = 2.0 * T * np.asarray(D(t.double().numpy()), dtype=float).reshape(t.shape[0], d, d)
        return torch.from_numpy(_cholesky_small(Dm))

    groups = [MomentSums(d) for _ in range(n_groups)]
    gid = np.arange(n_chains) * n_groups // n_chains
    hist = None
    if edges is not None:
        edges = [np.asarray(e, dtype=float) for e in edges]
        if len(edges) != d:
            raise ValueError(f"edges must list one array of bin edges per dimension ({d})")
        hist = np.zeros([len(e) - 1 for e in edges])
    done, k = 0, 0
    while done < n_steps:
        m = min(segment, n_steps - done)
        res = euler_maruyama(drift, sigma, x, dt, m, seed=seed + k, record_every=record_every, dtype=torch.float64)
        steps = done + np.round(res.times / dt).astype(int)
        x = res.final
        keep = (steps > burn_in) & (steps % record_every == 0) & (steps > done)
        snaps = res.snapshots[keep]  # (r, n, d)
        if snaps.size:
            for g in range(n_groups):
                groups[g].add(snaps[:, gid == g, :])
            if hist is not None:
                flat = snaps.reshape(-1, d)
                if d == 1:
                    hist += np.histogram(flat[:, 0], bins=edges[0])[0]
                else:
                    hist += np.histogramdd(flat, bins=edges)[0]
        done += m
        k += 1
    return ChainResult(groups=groups, T=T, dt=dt, n_chains=n_chains, n_steps=n_steps, hist=hist, edges=edges)


def fit_through_origin(x, y, se, degree: int = 1):
    """Weighted least squares y = Σ_{k=1}^{degree} c_k x^k (no constant; weights 1/se²).

    Returns ``(coef, coef_se, chi2, dof)``: the coefficients c_1 … c_degree, their standard errors
    from the weights, the χ² of the fit and its degrees of freedom (len(x) − degree).

    Used in: 08_critical_points_move
    """
    x, y, se = (np.asarray(a, dtype=float).ravel() for a in (x, y, se))
    degree = checks.integer(degree, "degree", 1)
    if not (x.shape == y.shape == se.shape) or x.size < degree:
        raise ValueError(f"x, y and se must be 1-D arrays of one length, at least degree={degree}")
    if np.any(se <= 0) or not np.all(np.isfinite(se)):
        raise ValueError("standard errors se must be positive and finite")
    A = np.column_stack([x ** k for k in range(1, degree + 1)]) / se[:, None]
    b = y / se
    cov = np.linalg.inv(A.T @ A)
    coef = cov @ A.T @ b
    chi2 = float(np.sum((A @ coef - b) ** 2))
    return coef, np.sqrt(np.diag(cov)), chi2, x.size - degree
