"""Theorem 5 of the paper (SGD performs variational inference): the free energy and its decay.

Symbolic derivations (SymPy), each returning both sides of the identities that chapter 05 displays,
so that ``tests/test_ch05_identities.py`` asserts that lhs − rhs is zero
(:func:`vdlib.theory.symbolic.is_zero`) on exactly what the reader sees:

* :func:`free_energy_split`: F = E_ρ[Φ] − β⁻¹H(ρ) = β⁻¹KL(ρ‖ρ^ss) − β⁻¹log Z (pointwise integrands);
* :func:`first_variation`: the Gateaux derivative d/dε F(ρ + εη)|_{ε=0} = ∫(Φ + β⁻¹(log ρ + 1))η;
* :func:`dissipation_identities`: the integration-by-parts steps of dF/dt in 2-D with arbitrary
  functions ρ, Φ, j and a symmetric D(x, y), the stationarity argument for the j-term, the paper's
  route through Assumption 4 and (A5), and the product rule of App. C with the factor β (E2);
* :func:`example19_symbolic`: ∇·j ≠ 0 but ∇·(j e^{−Φ}) = 0 for Example 19 (why E3 matters);
* :func:`degenerate_example`: a rank-one D for which the dissipation vanishes at ρ ≠ ρ^ss;
* :func:`elbo_identity`, :func:`temperatures`: the ELBO reading and Remarks 11–12.

Numerical helpers on a uniform 2-D grid (``indexing="ij"``, central differences):
:func:`log_ratio_gradient`, :func:`dissipation`, :func:`j_term`, :func:`grid_divergence`, :func:`free_energy_grid`,
:func:`kl_grid`, :func:`free_energy_budget`.

Convention (the book's): dx = b dt + √(2β⁻¹D) dW, b = −∇f, Itô FP ∂tρ = ∇·(−bρ + β⁻¹∇·(Dρ)),
matrix divergence row by row (:mod:`vdlib.theory.vector_calculus`), j = −∇f + D∇Φ − β⁻¹∇·D (eq. 8),
ρ^ss = e^{−βΦ}/Z.

Used in: 05_variational_inference, 09_limit_cycles
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp

from . import fokker_planck
from .vector_calculus import divergence, gradient, matrix_divergence

__all__ = [
    "x", "y", "beta", "Z", "eps",
    "COORDS", "grid_divergence",
    "FreeEnergySplit", "free_energy_split",
    "FirstVariation", "first_variation",
    "Dissipation", "dissipation_identities",
    "Example19", "example19_symbolic",
    "Degenerate", "degenerate_example",
    "elbo_identity", "temperatures",
    "gaussian_free_energy", "ou_kl",
    "log_ratio_gradient", "dissipation", "j_term", "free_energy_grid", "kl_grid",
    "FreeEnergyBudget", "free_energy_budget",
]

x, y = sp.symbols("x y", real=True)
beta = sp.Symbol("beta", positive=True)
Z = sp.Symbol("Z", positive=True)
eps = sp.Symbol("epsilon", real=True)
COORDS = (x, y)


# ------------------------------------------------------------------------------------------
# vector calculus: vdlib.theory.vector_calculus, in the coordinates (x, y)
# ------------------------------------------------------------------------------------------
def _dot(a: sp.Matrix, b: sp.Matrix) -> sp.Expr:
    return (a.T * b)[0, 0]


# ------------------------------------------------------------------------------------------
# 1. F = E[Φ] − β⁻¹H = β⁻¹KL − β⁻¹log Z
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FreeEnergySplit:
    """Pointwise integrands of the two forms of F, for a density value ρ > 0 and a potential Φ.

    ``energetic_entropic`` = ρΦ + β⁻¹ρ log ρ (integrates to E_ρ[Φ] − β⁻¹H(ρ));
    ``kl_form`` = β⁻¹ρ log(ρ/ρ^ss) − β⁻¹ρ log Z (integrates to β⁻¹KL − β⁻¹log Z when ∫ρ = 1),
    with ρ^ss = e^{−βΦ}/Z. Used in: 05_variational_inference
    """

    rho: sp.Symbol
    Phi: sp.Symbol
    rho_ss: sp.Expr
    energetic_entropic: sp.Expr
    kl_form: sp.Expr


def free_energy_split() -> FreeEnergySplit:
    """Both integrands of eq. (11) of the paper; their difference expands to 0. Used in: 05_variational_inference"""
    rho = sp.Symbol("rho", positive=True)
    Phi = sp.Symbol("Phi", real=True)
    rho_ss = sp.exp(-beta * Phi) / Z
    ee = rho * Phi + rho * sp.log(rho) / beta
    kl = rho * sp.log(rho / rho_ss) / beta - rho * sp.log(Z) / beta
    return FreeEnergySplit(rho, Phi, rho_ss, ee, kl)


@dataclass(frozen=True)
class FirstVariation:
    """The Gateaux derivative of F at ρ in the direction η (integrands), and δF/δρ.

    ``gateaux`` = d/dε [ (ρ+εη)Φ + β⁻¹(ρ+εη)log(ρ+εη) ] at ε = 0; ``dF`` = gateaux/η.
    Used in: 05_variational_inference
    """

    rho: sp.Expr
    eta: sp.Expr
    Phi: sp.Expr
    gateaux: sp.Expr
    dF: sp.Expr
    expected: sp.Expr


def first_variation() -> FirstVariation:
    """Differentiate F(ρ + εη) under the integral at ε = 0, with ρ, η, Φ functions of x.

    Used in: 05_variational_inference
    """
    rho = sp.Function("rho", positive=True)(x)
    eta = sp.Function("eta")(x)
    Phi = sp.Function("Phi")(x)
    r = rho + eps * eta
    integrand = r * Phi + r * sp.log(r) / beta
    gateaux = sp.simplify(sp.diff(integrand, eps).subs(eps, 0))
    return FirstVariation(rho, eta, Phi, gateaux, sp.simplify(gateaux / eta),
                          Phi + (sp.log(rho) + 1) / beta)


# ------------------------------------------------------------------------------------------
# 2. dF/dt: integration by parts in 2-D with arbitrary functions
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Dissipation:
    """Every pointwise identity behind dF/dt ≤ 0 (2-D, arbitrary smooth functions).

    Fields come in (lhs, rhs) pairs that the chapter displays and the tests assert equal:

    * ``fp_original`` / ``fp_a3``: ∇·(−bρ + β⁻¹∇·(Dρ)) with b = j − D∇Φ + β⁻¹∇·D (eq. 8 solved
      for −∇f) equals ∇·(−jρ + ρD∇μ), μ = δF/δρ (eq. A3);
    * ``ibp_lhs`` / ``ibp_rhs``: μ ∂tρ = ∇·(μV) − ρ∇μᵀD∇μ + jρ·∇μ with V = −jρ + ρD∇μ, so
      dF/dt = ∫μ ∂tρ = −∫ρ∇μᵀD∇μ + ∫jρ·∇μ for no-flux boundaries (∫∇·(μV) = 0);
    * ``mu_ss``: μ at ρ = ρ^ss, a constant (∇μ_ss = 0), hence 0 = ∂tρ^ss = −∇·(jρ^ss);
    * ``jterm_lhs`` / ``jterm_rhs``: with ρ = uρ^ss, jρ·∇μ = β⁻¹∇·(u jρ^ss) − β⁻¹u∇·(jρ^ss);
    * ``prod_lhs`` / ``prod_rhs`` / ``prod_paper``: ∇·(jρ^ss) = ρ^ss(∇·j − βj·∇Φ) and the App. C
      form without β (erratum E2);
    * ``a4_lhs`` / ``a4_rhs``: the paper's route, jρ·∇μ = β⁻¹∇·(ρj) − β⁻¹ρ∇·j + ρ j·∇Φ, which
      integrates to zero when ∇·j = 0 (Assumption 4) and j·∇Φ = 0 (A5).

    Used in: 05_variational_inference
    """

    rho: sp.Expr
    Phi: sp.Expr
    j: sp.Matrix
    D: sp.Matrix
    mu: sp.Expr
    fp_original: sp.Expr
    fp_a3: sp.Expr
    ibp_lhs: sp.Expr
    ibp_rhs: sp.Expr
    dissipation: sp.Expr
    jterm: sp.Expr
    mu_ss: sp.Expr
    jterm_lhs: sp.Expr
    jterm_rhs: sp.Expr
    prod_lhs: sp.Expr
    prod_rhs: sp.Expr
    prod_paper: sp.Expr
    a4_lhs: sp.Expr
    a4_rhs: sp.Expr


def dissipation_identities() -> Dissipation:
    """Build the identities of :class:`Dissipation`. Used in: 05_variational_inference"""
    c = COORDS
    rho = sp.Function("rho", positive=True)(*c)
    Phi = sp.Function("Phi", real=True)(*c)
    j = sp.Matrix([sp.Function("j_1", real=True)(*c), sp.Function("j_2", real=True)(*c)])
    d11, d12, d22 = (sp.Function(n, real=True)(*c) for n in ("D_11", "D_12", "D_22"))
    D = sp.Matrix([[d11, d12], [d12, d22]])
    mu = Phi + (sp.log(rho) + 1) / beta
    gmu = gradient(mu, COORDS)
    drift = j - D * gradient(Phi, COORDS) + matrix_divergence(D, COORDS) / beta
    fp_original = divergence(-drift * rho + matrix_divergence(D * rho, COORDS) / beta, COORDS)
    V = -j * rho + rho * D * gmu
    fp_a3 = divergence(V, COORDS)
    diss = rho * (gmu.T * D * gmu)[0, 0]
    jt = rho * _dot(j, gmu)
    ibp_lhs = mu * fp_a3
    ibp_rhs = divergence(mu * V, COORDS) - diss + jt
    rho_ss = sp.exp(-beta * Phi) / Z
    mu_ss = sp.simplify(sp.expand_log(mu.subs(rho, rho_ss), force=True))
    u = sp.Function("u", positive=True)(*c)
    jt_u = (rho * _dot(j, gmu)).subs(rho, u * rho_ss).doit()
    jterm_rhs = divergence(u * j * rho_ss, COORDS) / beta - u * divergence(j * rho_ss, COORDS) / beta
    prod_lhs = divergence(j * rho_ss, COORDS)
    prod_rhs = rho_ss * (divergence(j, COORDS) - beta * _dot(j, gradient(Phi, COORDS)))
    prod_paper = rho_ss * (divergence(j, COORDS) - _dot(j, gradient(Phi, COORDS)))
    a4_rhs = (divergence(rho * j, COORDS) / beta - rho * divergence(j, COORDS) / beta
              + rho * _dot(j, gradient(Phi, COORDS)))
    return Dissipation(rho, Phi, j, D, mu, fp_original, fp_a3, ibp_lhs, ibp_rhs, diss, jt, mu_ss,
                       jt_u, jterm_rhs, prod_lhs, prod_rhs, prod_paper, jt, a4_rhs)


# ------------------------------------------------------------------------------------------
# Example 19: Assumption 4 fails, stationarity holds
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Example19:
    """Example 19 at β = 1, D = I: Φ, J^ss, j = λe^{Φ}J^ss, ∇·j, j·∇Φ and ∇·(je^{−Φ}).

    ``div_j_closed`` = −λ x y (x² − 2) e^{Φ − r⁴/4} is the closed form of ∇·j.
    Used in: 05_variational_inference
    """

    lam: sp.Symbol
    Phi: sp.Expr
    J_ss: sp.Matrix
    j: sp.Matrix
    div_j: sp.Expr
    j_dot_grad_phi: sp.Expr
    div_j_rho_ss: sp.Expr
    div_j_closed: sp.Expr


def example19_symbolic() -> Example19:
    """The symbolic Example 19. Used in: 05_variational_inference"""
    lam = sp.Symbol("lambda", positive=True)
    Phi = (x**2 - 1) ** 2 / 4 + y**2 / 2
    r4 = (x**2 + y**2) ** 2
    J_ss = sp.exp(-r4 / 4) * sp.Matrix([-y, x])
    j = lam * sp.exp(Phi) * J_ss
    return Example19(lam, Phi, J_ss, j, divergence(j, COORDS), _dot(j, gradient(Phi, COORDS)),
                     divergence(j * sp.exp(-Phi), COORDS),
                     -lam * x * y * (x**2 - 2) * sp.exp(Phi - r4 / 4))


# ------------------------------------------------------------------------------------------
# a degenerate diffusion: zero dissipation away from the steady state
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Degenerate:
    """Φ = (x² + y²)/2, D = diag(1, 0) (rank one), ρ = ρ_x(x) g(y) with ρ_x ∝ e^{−βx²/2}.

    ``dissipation`` = ρ∇μᵀD∇μ for that ρ (zero for every g), ``kl_density`` = ρ log(ρ/ρ^ss)
    (not zero unless g is the Gaussian marginal). Used in: 05_variational_inference
    """

    Phi: sp.Expr
    D: sp.Matrix
    g: sp.Expr
    rho: sp.Expr
    dissipation: sp.Expr
    kl_density: sp.Expr


def degenerate_example() -> Degenerate:
    """Build :class:`Degenerate`. Used in: 05_variational_inference"""
    Phi = (x**2 + y**2) / 2
    D = sp.Matrix([[1, 0], [0, 0]])
    g = sp.Function("g", positive=True)(y)
    rho = sp.exp(-beta * x**2 / 2) * sp.sqrt(beta / (2 * sp.pi)) * g
    mu = Phi + (sp.log(rho) + 1) / beta
    gmu = gradient(sp.expand_log(mu, force=True), COORDS)
    diss = sp.simplify(rho * (gmu.T * D * gmu)[0, 0])
    rho_ss = beta / (2 * sp.pi) * sp.exp(-beta * Phi)
    return Degenerate(Phi, D, g, rho, diss, rho * sp.log(rho / rho_ss))


# ------------------------------------------------------------------------------------------
# 3. the ELBO reading and the temperatures of Remarks 11-12
# ------------------------------------------------------------------------------------------
def elbo_identity():
    """Integrands of E_q[Φ] − β⁻¹H(q) and β⁻¹(E_q[βΦ] + KL(q‖uniform on Ω)) − β⁻¹log|Ω|.

    Returns ``(q, Phi, V, lhs, rhs)`` with V = |Ω| and the uniform prior p = 1/V; lhs − rhs
    expands to 0 pointwise (for ∫q = 1). Used in: 05_variational_inference
    """
    q = sp.Symbol("q", positive=True)
    Phi = sp.Symbol("Phi", real=True)
    V = sp.Symbol("V", positive=True)
    lhs = q * Phi + q * sp.log(q) / beta
    rhs = (beta * q * Phi + q * sp.log(q / (1 / V))) / beta - q * sp.log(V) / beta
    return q, Phi, V, lhs, rhs


def temperatures():
    """β⁻¹ = η/(2b) (with replacement) and β'⁻¹ = η/(2b)(1 − b/N) (without), as SymPy expressions.

    Returns ``(eta, b, N, T_with, T_without)``. Used in: 05_variational_inference
    """
    eta, b, N = sp.symbols("eta b N", positive=True)
    T_with = eta / (2 * b)
    return eta, b, N, T_with, T_with * (1 - b / N)


# ------------------------------------------------------------------------------------------
# exercises: Gaussian free energy and the OU process
# ------------------------------------------------------------------------------------------
def gaussian_free_energy():
    """F(ρ) for ρ = N(m, s²) and Φ = kx²/2 in 1-D, by integration, and β⁻¹KL − β⁻¹log Z.

    Returns ``(m, s, k, F, F_kl)`` where ``F`` = E[Φ] − β⁻¹H and ``F_kl`` is the KL form with
    ρ^ss = N(0, 1/(βk)). Used in: 05_variational_inference
    """
    m = sp.Symbol("m", real=True)
    s, k = sp.symbols("s k", positive=True)
    xx = sp.Symbol("xi", real=True)
    rho = sp.exp(-(xx - m) ** 2 / (2 * s**2)) / sp.sqrt(2 * sp.pi * s**2)
    E_phi = sp.integrate(k * xx**2 / 2 * rho, (xx, -sp.oo, sp.oo))
    H = sp.log(2 * sp.pi * sp.E * s**2) / 2  # entropy of N(m, s²)
    F = sp.simplify(E_phi - H / beta)
    v = 1 / (beta * k)
    kl = sp.log(sp.sqrt(v) / s) + (s**2 + m**2) / (2 * v) - sp.Rational(1, 2)
    Zk = sp.sqrt(2 * sp.pi / (beta * k))
    return m, s, k, F, kl / beta - sp.log(Zk) / beta


def ou_kl():
    """KL(ρ_t‖ρ^ss) for the 1-D OU process dx = −kx dt + √(2β⁻¹) dW from N(m₀, s₀²).

    Returns ``(t, k, m0, s0, kl)`` with m_t = m₀e^{−kt}, s_t² = v + (s₀² − v)e^{−2kt}, v = 1/(βk).
    Used in: 05_variational_inference
    """
    t = sp.Symbol("t", nonnegative=True)
    k, s0 = sp.symbols("k s_0", positive=True)
    m0 = sp.Symbol("m_0", real=True)
    v = 1 / (beta * k)
    m = m0 * sp.exp(-k * t)
    s2 = v + (s0**2 - v) * sp.exp(-2 * k * t)
    kl = (s2 / v - 1 - sp.log(s2 / v) + m**2 / v) / 2
    return t, k, m0, s0, kl


# ------------------------------------------------------------------------------------------
# numerical helpers on a uniform 2-D grid (indexing "ij")
# ------------------------------------------------------------------------------------------
_TINY = 1e-300


def _spacing(x, y):
    x, y = np.asarray(x, float), np.asarray(y, float)
    return x[1] - x[0], y[1] - y[0]


def log_ratio_gradient(rho, rho_ss, x, y):
    """∇ log(ρ/ρ^ss) by second-order central differences (one-sided at the edges).

    β⁻¹ times this is ∇δF/δρ, since δF/δρ = β⁻¹log(ρ/ρ^ss) + const. Used in: 05_variational_inference
    """
    dx, dy = _spacing(x, y)
    L = np.log(np.maximum(rho, _TINY)) - np.log(np.maximum(rho_ss, _TINY))
    gx, gy = np.gradient(L, dx, dy, edge_order=2)
    return gx, gy


def dissipation(rho, rho_ss, D, beta, x, y):
    """The dissipation ∫ρ ∇μᵀD∇μ dx with μ = δF/δρ, D a constant 2×2 matrix (cell sums).

    Used in: 05_variational_inference
    """
    dx, dy = _spacing(x, y)
    gx, gy = log_ratio_gradient(rho, rho_ss, x, y)
    gx, gy = gx / beta, gy / beta
    D = np.asarray(D, float)
    q = D[0, 0] * gx * gx + 2 * D[0, 1] * gx * gy + D[1, 1] * gy * gy
    return float(np.sum(rho * q) * dx * dy)


def j_term(rho, rho_ss, j, beta, x, y, *, absolute=False):
    """The j-term ∫ρ j·∇μ dx of dF/dt, with j = (jx, jy) arrays on the grid (cell sums).

    With ``absolute=True`` return ∫ρ|j·∇μ| instead: the size of the integrand, the scale against
    which the cancellation in the integral is measured. Used in: 05_variational_inference
    """
    dx, dy = _spacing(x, y)
    gx, gy = log_ratio_gradient(rho, rho_ss, x, y)
    integrand = rho * (j[0] * gx + j[1] * gy)
    if absolute:
        integrand = np.abs(integrand)
    return float(np.sum(integrand) * dx * dy / beta)


def grid_divergence(vx, vy, x, y):
    """∇·v by second-order central differences on the grid. Used in: 05_variational_inference"""
    dx, dy = _spacing(x, y)
    return np.gradient(vx, dx, axis=0, edge_order=2) + np.gradient(vy, dy, axis=1, edge_order=2)


def kl_grid(rho, rho_ss, x, y):
    """KL(ρ‖ρ^ss) = ∫ρ log(ρ/ρ^ss) by cell sums (both normalised on the grid). Used in: 05_variational_inference"""
    dx, dy = _spacing(x, y)
    return fokker_planck.kl_divergence(rho, rho_ss, dx * dy)


def free_energy_grid(rho, Phi, beta, x, y):
    """F(ρ) = ∫ρΦ + β⁻¹∫ρ log ρ by cell sums. Used in: 05_variational_inference"""
    dx, dy = _spacing(x, y)
    return fokker_planck.free_energy(rho, Phi, beta, dx * dy)


@dataclass(frozen=True)
class FreeEnergyBudget:
    """The terms of dF/dt along a recorded run: time, KL, F, dissipation, j-term, and dF/dt by
    finite differences of F (at the midpoints ``t_mid``). Used in: 05_variational_inference
    """

    times: np.ndarray
    kl: np.ndarray
    F: np.ndarray
    dissipation: np.ndarray
    j_term: np.ndarray
    t_mid: np.ndarray
    dF_dt: np.ndarray


def free_energy_budget(times, rhos, rho_ss, Phi, j, D, beta, x, y) -> FreeEnergyBudget:
    """Evaluate every term of dF/dt = −dissipation + j-term on each recorded density.

    ``rhos`` has shape (T, nx, ny); ``j`` = (jx, jy) arrays; ``D`` a constant 2×2 matrix.
    Used in: 05_variational_inference
    """
    times = np.asarray(times, float)
    kl = np.array([kl_grid(r, rho_ss, x, y) for r in rhos])
    F = np.array([free_energy_grid(r, Phi, beta, x, y) for r in rhos])
    diss = np.array([dissipation(r, rho_ss, D, beta, x, y) for r in rhos])
    jt = np.array([j_term(r, rho_ss, j, beta, x, y) for r in rhos])
    t_mid = 0.5 * (times[1:] + times[:-1])
    dF = np.diff(F) / np.diff(times)
    return FreeEnergyBudget(times, kl, F, diss, jt, t_mid, dF)
