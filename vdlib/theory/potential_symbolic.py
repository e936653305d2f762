"""The potential Φ and the force j (eqs. (5)–(8), (A3), (A6) of the paper), derived with SymPy.

Each function returns the objects that chapter 04 displays together with both sides of the
identities it derives, so that ``tests/test_ch04_identities.py`` asserts
``sympy.simplify(lhs - rhs) == 0`` on exactly what the reader sees.

Convention (the book's): dx = b dt + √(2β⁻¹D) dW with b = −∇f, Itô Fokker–Planck
∂tρ = ∇·(−bρ + β⁻¹∇·(Dρ)), matrix divergence row by row, (∇·D)_i = Σ_j ∂_j D_ij
(:mod:`vdlib.theory.vector_calculus`).
The probability current is J = bρ − β⁻¹∇·(Dρ) (:func:`vdlib.theory.symbolic.probability_current`),
so ∂tρ = −∇·J.

* :func:`general_2d`: symbolic f(x, y), Φ(x, y) and a symmetric D(x, y) of arbitrary functions;
* :func:`auxiliary_flux`: the current of the reversible SDE (7) at ρ = e^{−βΦ} (it vanishes);
* :func:`force_identities`: j of eq. (8), J^ss = jρ^ss, the FP equation in the form (A3),
  and the product rule ∇·(jρ) = ρ(∇·j − βj·∇Φ) (erratum E2);
* :func:`one_dimensional`: the zero-flux solution ρ^ss ∝ D⁻¹exp(−β∫f′/D) by ``dsolve``, the
  potential Φ = ∫f′/D + β⁻¹log D, its β-dependence (erratum E5) and its critical points;
* :func:`critical_point_series`: the mode x*(β⁻¹) as a power series in the temperature;
* :func:`ou_potential_force`: Φ, j, Q for a linear drift −Hx and constant D (Lemma 20);
* :func:`lemma20_symbolic`: Lemma 20 in closed form for general symmetric 2×2 H and D (its numbers:
  :func:`vdlib.theory.linear.ou_decomposition`);
* numerical companions: :func:`phi_1d`, :func:`rho_closed_form_1d`, :func:`critical_point_1d`,
  :func:`mode_1d`.

Gradients and divergences: :mod:`vdlib.theory.vector_calculus`.

Used in: 04_potential_and_force, 07_linear_case, 08_critical_points_move.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import sympy as sp

from .symbolic import probability_current
from .vector_calculus import divergence, gradient, matrix_divergence

__all__ = [
    "x", "y", "beta", "T",
    "General2D",
    "general_2d",
    "auxiliary_flux",
    "compact",
    "ForceIdentities",
    "force_identities",
    "OneDimensional",
    "one_dimensional",
    "critical_point_series",
    "OUPotential",
    "ou_potential_force",
    "phi_1d",
    "rho_closed_form_1d",
    "mode_1d",
    "critical_point_1d",
    "Lemma20Symbolic",
    "lemma20_symbolic",
]

x, y = sp.symbols("x y", real=True)
beta = sp.Symbol("beta", positive=True)
T = sp.Symbol("T", positive=True)  # a temperature β⁻¹ used as an expansion parameter


# ------------------------------------------------------------------------------------------
# general 2-D setting
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class General2D:
    """Arbitrary smooth f, Φ, a symmetric D of functions of (x, y), and ρ = e^{−βΦ}.

    Used in: 04_potential_and_force
    """

    coords: tuple
    f: sp.Expr
    Phi: sp.Expr
    D: sp.Matrix
    rho_ss: sp.Expr  # e^{−βΦ} (unnormalised)
    rho: sp.Expr  # an arbitrary density ρ(x, y), for the FP identities


def general_2d() -> General2D:
    """The symbols of the general 2-D derivations. Used in: 04_potential_and_force"""
    coords = (x, y)
    f = sp.Function("f")(*coords)
    Phi = sp.Function("Phi")(*coords)
    d11, d12, d22 = (sp.Function(n)(*coords) for n in ("D_11", "D_12", "D_22"))
    D = sp.Matrix([[d11, d12], [d12, d22]])
    rho = sp.Function("rho")(*coords)
    return General2D(coords, f, Phi, D, sp.exp(-beta * Phi), rho)


def compact(expr):
    """For display: write ∂_x F(x, y) as the symbol ∂_x F, F′(x) as F′, and F(x, y) as F.

    Only the printed form changes; the chapter asserts identities on the uncompacted
    expressions. Used in: 04_potential_and_force
    """
    expr = sp.sympify(expr)
    names = {"Phi": r"\Phi", "rho": r"\rho"}

    def name(fn):
        n = fn.func.__name__
        if n.startswith("D_") and len(n) == 4:
            return f"D_{{{n[2:]}}}"
        return names.get(n, n)

    derivs = sorted(expr.atoms(sp.Derivative), key=lambda d: -sp.count_ops(d))
    sub = {}
    for d in derivs:
        if len(d.expr.args) == 1:  # one variable: primes
            sub[d] = sp.Symbol(name(d.expr) + "'" * int(d.derivative_count))
            continue
        wrt = "".join(str(v) for v, k in d.variable_count for _ in range(k))
        sub[d] = sp.Symbol(rf"\partial_{{{wrt}}}{name(d.expr)}")
    expr = expr.xreplace(sub)
    funcs = {fn: sp.Symbol(name(fn)) for fn in expr.atoms(sp.core.function.AppliedUndef)
             if all(a in (x, y) for a in fn.args)}  # keep e.g. D(x_0)
    return expr.xreplace(funcs)


def auxiliary_flux(g: General2D | None = None):
    """Drift and current of the auxiliary SDE (7), dx = (β⁻¹∇·D − D∇Φ)dt + √(2β⁻¹D)dW, at ρ = e^{−βΦ}.

    Returns ``(drift, J)``; the chapter shows that J simplifies to the zero vector for every D and Φ,
    i.e. e^{−βΦ} is a stationary state of (7) in detailed balance. Used in: 04_potential_and_force
    """
    g = g or general_2d()
    drift = matrix_divergence(g.D, g.coords) / beta - g.D * gradient(g.Phi, g.coords)
    return drift, probability_current(g.rho_ss, drift, g.D, beta, g.coords)


@dataclass(frozen=True)
class ForceIdentities:
    """Both sides of the identities of the paper's eqs. (8), (A3) and (A6) (chapter 04).

    * ``j`` = −∇f + D∇Φ − β⁻¹∇·D (eq. 8);
    * ``J_ss`` = bρ − β⁻¹∇·(Dρ) at ρ = e^{−βΦ}, with b = −∇f; identity ``J_ss == j_rho``;
    * ``fp_rhs`` = ∇·(∇f ρ + β⁻¹∇·(Dρ)) for an arbitrary ρ; ``a3_rhs`` = ∇·(−jρ + ρD∇δF/δρ)
      with δF/δρ = Φ + β⁻¹(log ρ + 1); identity ``fp_rhs == a3_rhs`` (for any Φ);
    * ``grad_dF_ss`` = ∇δF/δρ at ρ = e^{−βΦ}/Z (zero), so stationarity ⇔ ∇·(jρ^ss) = 0;
    * ``div_j_rho`` = ∇·(jρ^ss) and ``div_j_rho_product`` = ρ^ss(∇·j − βj·∇Φ) (E2);
    * ``db_residual`` = D∇Φ − β⁻¹∇·D − ∇f, the criterion (A6): zero ⇔ j = 0.

    Used in: 04_potential_and_force
    """

    g: General2D
    j: sp.Matrix
    J_ss: sp.Matrix
    j_rho: sp.Matrix
    fp_rhs: sp.Expr
    a3_rhs: sp.Expr
    dF: sp.Expr
    grad_dF_ss: sp.Matrix
    div_j_rho: sp.Expr
    div_j_rho_product: sp.Expr
    div_j_rho_paper: sp.Expr  # the App. C form without the factor β
    db_residual: sp.Matrix


def force_identities(g: General2D | None = None) -> ForceIdentities:
    """Build j, J^ss, the (A3) form of FP and the product rule for ∇·(jρ). Used in: 04_potential_and_force"""
    g = g or general_2d()
    c = g.coords
    gf, gPhi, divD = gradient(g.f, c), gradient(g.Phi, c), matrix_divergence(g.D, c)
    j = -gf + g.D * gPhi - divD / beta
    J_ss = probability_current(g.rho_ss, -gf, g.D, beta, c)
    rho = g.rho
    fp_rhs = divergence(gf * rho + matrix_divergence(g.D * rho, c) / beta, c)
    dF = g.Phi + (sp.log(rho) + 1) / beta
    a3_rhs = divergence(-j * rho + rho * g.D * gradient(dF, c), c)
    Z = sp.Symbol("Z", positive=True)
    dF_ss = dF.subs(rho, g.rho_ss / Z)
    grad_dF_ss = gradient(dF_ss, c).applyfunc(lambda e: sp.simplify(sp.expand_log(e, force=True)))
    div_j_rho = divergence(j * g.rho_ss, c)
    div_j = divergence(j, c)
    j_dot_gPhi = (j.T * gPhi)[0]
    return ForceIdentities(
        g=g, j=j, J_ss=J_ss, j_rho=j * g.rho_ss, fp_rhs=fp_rhs, a3_rhs=a3_rhs, dF=dF,
        grad_dF_ss=grad_dF_ss, div_j_rho=div_j_rho,
        div_j_rho_product=g.rho_ss * (div_j - beta * j_dot_gPhi),
        div_j_rho_paper=g.rho_ss * (div_j - j_dot_gPhi),
        db_residual=g.D * gPhi - divD / beta - gf,
    )


# ------------------------------------------------------------------------------------------
# one dimension: the closed form and erratum E5
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OneDimensional:
    """The 1-D zero-flux steady state and its potential.

    * ``ode``: the zero-flux condition −f′ρ − β⁻¹(Dρ)′ = 0 written for u = Dρ;
    * ``rho_ss``: the ``dsolve`` solution ρ = u/D ∝ D⁻¹exp(−β∫f′/D);
    * ``flux``: the current of ``rho_ss`` (zero);
    * ``Phi``: −β⁻¹log ρ^ss (without the constant), and ``Phi_formula`` = ∫f′/D + β⁻¹log D;
    * ``dPhi_dbeta``: ∂_β[Φ(x) − Φ(x₀)] = −β⁻²log(D(x)/D(x₀)), nonzero when D varies (E5);
    * ``dPhi``: Φ′, and ``critical_condition`` = f′ + β⁻¹D′, with Φ′ = ``critical_condition``/D.

    Used in: 04_potential_and_force
    """

    f: sp.Expr
    D: sp.Expr
    ode: sp.Eq
    rho_ss: sp.Expr
    flux: sp.Expr
    Phi: sp.Expr
    Phi_formula: sp.Expr
    dPhi_dbeta: sp.Expr
    dPhi: sp.Expr
    critical_condition: sp.Expr


def one_dimensional() -> OneDimensional:
    """Derive the 1-D steady state with no-flux walls (J^ss = 0) by ``dsolve``. Used in: 04_potential_and_force"""
    f = sp.Function("f")(x)
    D = sp.Function("D", positive=True)(x)
    u = sp.Function("u")
    # J = −f′ρ − β⁻¹(Dρ)′ = 0; with u = Dρ: u′ = −β (f′/D) u
    ode = sp.Eq(u(x).diff(x), -beta * f.diff(x) / D * u(x))
    sol = sp.dsolve(ode, u(x)).rhs
    C1 = sp.Symbol("C1")
    sol = sol.subs(C1, 1)
    rho_ss = sol / D
    flux = -f.diff(x) * rho_ss - sp.diff(D * rho_ss, x) / beta
    integral = sp.Integral(f.diff(x) / D, x)
    Phi = sp.expand_log(-sp.log(rho_ss) / beta, force=True)
    Phi_formula = integral + sp.log(D) / beta
    x0 = sp.Symbol("x_0", real=True)
    dPb = sp.diff(Phi_formula, beta)  # the ∫f′/D term does not depend on β
    dPhi = sp.diff(Phi_formula, x)
    return OneDimensional(
        f=f, D=D, ode=ode, rho_ss=rho_ss, flux=flux, Phi=Phi, Phi_formula=Phi_formula,
        dPhi_dbeta=dPb - dPb.subs(x, x0),
        dPhi=dPhi, critical_condition=f.diff(x) + D.diff(x) / beta,
    )


def critical_point_series(f_expr, D_expr, order: int = 3, var=x, temp=T) -> sp.Expr:
    """The root x*(T) of f′(x) + T·D′(x) = 0 near x = 0 as a power series in the temperature T = β⁻¹.

    Requires f′(0) = 0 and f″(0) ≠ 0 (a non-degenerate critical point of f at 0). Solves order
    by order for x* = Σ_{k=1}^{order} a_k T^k; the leading term is −T D′(0)/f″(0).
    Used in: 04_potential_and_force
    """
    fp = sp.diff(f_expr, var)
    if sp.simplify(fp.subs(var, 0)) != 0:
        raise ValueError("critical_point_series expands around a critical point of f at 0: f'(0) must be 0")
    if sp.simplify(sp.diff(fp, var).subs(var, 0)) == 0:
        raise ValueError("f''(0) = 0: the critical point is degenerate and x*(T) is not a power series in T")
    a = sp.symbols(f"a_1:{order + 1}")
    xs = sum(a[k] * temp ** (k + 1) for k in range(order))
    G = fp + temp * sp.diff(D_expr, var)
    expansion = sp.series(G.subs(var, xs), temp, 0, order + 1).removeO()
    sol = {}
    for k in range(1, order + 1):
        coeff = sp.expand(expansion.coeff(temp, k)).subs(sol)
        ak = sp.solve(coeff, a[k - 1])
        if len(ak) != 1:
            raise ValueError(f"order {k}: expected one solution for a_{k}, got {ak}")
        sol[a[k - 1]] = sp.simplify(ak[0])
    return sp.expand(xs.subs(sol))


# ------------------------------------------------------------------------------------------
# the linear (OU) case of Lemma 20
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OUPotential:
    """Φ = ½xᵀUx, j and Q for dx = −Hx dt + √(2β⁻¹D) dW with constant D (symbolic).

    ``Sigma`` solves HΣ + ΣHᵀ = 2β⁻¹D, ``U`` = β⁻¹Σ⁻¹, ``Q`` = (β/2)(HΣ − ΣHᵀ),
    ``j`` = −Hx + DUx (∇·D = 0), ``j_QU`` = −QUx. Used in: 04_potential_and_force
    """

    H: sp.Matrix
    D: sp.Matrix
    Sigma: sp.Matrix
    U: sp.Matrix
    Q: sp.Matrix
    Phi: sp.Expr
    j: sp.Matrix
    j_QU: sp.Matrix
    j_dot_gradPhi: sp.Expr
    div_j: sp.Expr


def ou_potential_force(H: sp.Matrix, D: sp.Matrix) -> OUPotential:
    """Solve the 2×2 (or d×d) Lyapunov equation symbolically and build Φ, j, Q. Used in: 04_potential_and_force"""
    H, D = sp.Matrix(H), sp.Matrix(D)
    n = H.shape[0]
    s = {(i, k): sp.Symbol(f"s_{i}{k}") for i in range(n) for k in range(i, n)}
    S = sp.Matrix(n, n, lambda i, k: s[(min(i, k), max(i, k))])
    eqs = list(H * S + S * H.T - 2 * D / beta)
    sol = sp.solve(eqs, list(s.values()), dict=True)
    if len(sol) != 1:
        raise ValueError("the Lyapunov equation has no unique symbolic solution")
    Sigma = S.subs(sol[0]).applyfunc(sp.simplify)
    U = (Sigma.inv() / beta).applyfunc(sp.simplify)
    Q = (beta / 2 * (H * Sigma - Sigma * H.T)).applyfunc(sp.simplify)
    coords = sp.Matrix(sp.symbols(f"x_1:{n + 1}", real=True))
    Phi = sp.simplify((coords.T * U * coords)[0] / 2)
    gPhi = gradient(Phi, list(coords))
    j = -H * coords + D * gPhi
    return OUPotential(
        H=H, D=D, Sigma=Sigma, U=U, Q=Q, Phi=Phi, j=j, j_QU=-Q * U * coords,
        j_dot_gradPhi=(j.T * gPhi)[0], div_j=divergence(j, list(coords)),
    )


# ------------------------------------------------------------------------------------------
# Lemma 20 for a general symmetric 2×2 pair (the symbolic companion of vdlib.theory.linear)
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Lemma20Symbolic:
    """:func:`lemma20_symbolic`: SymPy expressions for Lemma 20 with general symmetric 2×2 H and D.

    ``H``, ``D`` (entries h_1, h_12, h_2 and d_1, d_12, d_2), ``beta``, ``eta``; ``Sigma``, ``U``,
    ``Q`` from :func:`ou_potential_force`; ``commutator`` = HD − DH;
    ``lyapunov_residual`` = HΣ + ΣH − 2β⁻¹D; ``sylvester_residual`` = HQ + QH − (HD − DH);
    ``area_rate`` = (HΣ − ΣH)₁₂ (the drift's ⟨x₁ẋ₂ − x₂ẋ₁⟩); ``S`` a general symmetric 2×2
    matrix and ``lag_one_area`` = E[z ∧ (I − ηH)z]/η at Cov z = S; ``v`` (v_1, v_2) and
    ``Sigma_rank_one``, the Σ of D = vvᵀ, with ``kalman`` = det[v, Hv].

    Used in: 07_linear_case
    """

    H: object
    D: object
    beta: object
    eta: object
    Sigma: object
    U: object
    Q: object
    commutator: object
    lyapunov_residual: object
    sylvester_residual: object
    area_rate: object
    S: object
    lag_one_area: object
    v: object
    Sigma_rank_one: object
    kalman: object


def lemma20_symbolic() -> Lemma20Symbolic:
    """Lemma 20 in closed form for general symmetric 2×2 H and D (see :class:`Lemma20Symbolic`).

    Used in: 07_linear_case
    """
    h1, h2, h12, d1, d2, d12 = sp.symbols("h_1 h_2 h_12 d_1 d_2 d_12", real=True)
    eta = sp.Symbol("eta", positive=True)
    H = sp.Matrix([[h1, h12], [h12, h2]])
    D = sp.Matrix([[d1, d12], [d12, d2]])
    ou = ou_potential_force(H, D)
    Sigma, U, Q = ou.Sigma, ou.U, ou.Q
    C = H * D - D * H
    s11, s12, s22 = sp.symbols("s_11 s_12 s_22", real=True)
    S = sp.Matrix([[s11, s12], [s12, s22]])
    M = sp.eye(2) - eta * H
    lag = S * M.T  # E[z (Mz)ᵀ] = S Mᵀ
    lag_one_area = sp.expand((lag[0, 1] - lag[1, 0]) / eta)
    v1, v2 = sp.symbols("v_1 v_2", real=True)
    v = sp.Matrix([v1, v2])
    Sigma1 = Sigma.subs({d1: v1**2, d12: v1 * v2, d2: v2**2}).applyfunc(sp.factor)  # D = vvᵀ
    return Lemma20Symbolic(
        H=H, D=D, beta=beta, eta=eta, Sigma=Sigma, U=U, Q=Q, commutator=C,
        lyapunov_residual=(H * Sigma + Sigma * H - 2 * D / beta).applyfunc(sp.cancel),
        sylvester_residual=(H * Q + Q * H - C).applyfunc(sp.cancel),
        area_rate=sp.factor((H * Sigma - Sigma * H)[0, 1]),
        S=S, lag_one_area=lag_one_area, v=v, Sigma_rank_one=Sigma1,
        kalman=sp.Matrix.hstack(v, H * v).det(),
    )


# ------------------------------------------------------------------------------------------
# numerical companions (closed forms evaluated by quadrature)
# ------------------------------------------------------------------------------------------
def _cumtrapz(values: np.ndarray, xs: np.ndarray) -> np.ndarray:
    out = np.zeros_like(values, dtype=float)
    out[1:] = np.cumsum(0.5 * (values[1:] + values[:-1]) * np.diff(xs))
    return out


def phi_1d(grad_f: Callable, D: Callable, beta_value: float, xs) -> np.ndarray:
    """Φ(x) = ∫f′/D dx + β⁻¹log D(x) on a grid (cumulative trapezoid), shifted so that min Φ = 0.

    Used in: 04_potential_and_force
    """
    xs = np.asarray(xs, dtype=float)
    if xs.ndim != 1 or xs.size < 2 or np.any(np.diff(xs) <= 0):
        raise ValueError("xs must be an increasing 1-D grid with at least two points")
    if beta_value <= 0:
        raise ValueError(f"beta must be positive, got {beta_value}")
    d = np.asarray(D(xs), dtype=float) * np.ones_like(xs)
    if np.any(d <= 0):
        raise ValueError("D must be positive on the grid")
    phi = _cumtrapz(np.asarray(grad_f(xs), dtype=float) / d, xs) + np.log(d) / beta_value
    return phi - phi.min()


def rho_closed_form_1d(grad_f: Callable, D: Callable, beta_value: float, xs) -> np.ndarray:
    """ρ^ss = e^{−βΦ}/Z with Φ from :func:`phi_1d`, normalised by cell sums (Σρ·dx = 1, uniform grid).

    Used in: 04_potential_and_force
    """
    xs = np.asarray(xs, dtype=float)
    w = np.exp(-beta_value * phi_1d(grad_f, D, beta_value, xs))
    return w / (w.sum() * (xs[1] - xs[0]))


def critical_point_1d(grad_f: Callable, dD: Callable, beta_value: float, bracket) -> float:
    """The root of f′(x) + β⁻¹D′(x) = 0 in ``bracket`` (Brent's method): a critical point of Φ.

    Used in: 04_potential_and_force
    """
    from scipy.optimize import brentq

    return float(brentq(lambda s: grad_f(s) + dD(s) / beta_value, *bracket, xtol=1e-14))


def mode_1d(rho, xs) -> float:
    """The mode of a gridded density, refined by a parabola through the largest value and its neighbours.

    Used in: 04_potential_and_force
    """
    rho, xs = np.asarray(rho, dtype=float), np.asarray(xs, dtype=float)
    i = int(np.argmax(rho))
    if i == 0 or i == len(xs) - 1:
        return float(xs[i])
    y0, y1, y2 = np.log(rho[i - 1 : i + 2])  # a Gaussian peak is a parabola in log ρ
    denom = y0 - 2 * y1 + y2
    shift = 0.0 if denom == 0 else 0.5 * (y0 - y2) / denom
    return float(xs[i] + shift * (xs[1] - xs[0]))
