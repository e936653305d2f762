"""Symbolic derivations of chapter 02 (SGD as an SDE), shared by the chapter and its tests.

Each function builds the SymPy objects that the chapter displays and returns them together with
both sides of the identities it derives, so that ``tests/test_ch02_identities.py`` can assert
``sympy.simplify(lhs - rhs) == 0`` on exactly the objects the reader sees.

* :func:`moment_matching`: one SGD step vs one Euler–Maruyama step of eq. (3) with dt = η
  gives the temperature β⁻¹ = η/(2b) (and η/(2b)·(1 − b/N) without replacement);
* :func:`lyapunov_forms`: Σ = MΣMᵀ + (η²/b)D ⇔ HΣ + ΣH − ηHΣH = (η/b)D for general
  symmetric 2×2 H and D, and the continuous equation as its η → 0 limit;
* :func:`one_dimensional`: the 1-D closed forms, their ratio and the stability limit;
* :func:`em_recursion`: Euler–Maruyama of the OU process with dt = η has exactly SGD's
  covariance recursion;
* :func:`heavy_ball`: the stationary variance of heavy-ball SGD on a 1-D quadratic.

Used in: 02_sgd_as_sde.
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from .symbolic import symmetric_matrix_symbols

__all__ = [
    "symmetric_matrix",
    "moment_matching",
    "lyapunov_forms",
    "one_dimensional",
    "em_recursion",
    "heavy_ball",
]

# shared symbols: positive where the chapter assumes it
eta, b, N, dt = sp.symbols("eta b N Delta_t", positive=True)
T = sp.Symbol(r"\beta^{-1}", positive=True)  # the temperature
h, D1 = sp.symbols("h D", positive=True)  # 1-D curvature and gradient-noise variance
mu = sp.Symbol("mu", positive=True)  # momentum


def symmetric_matrix(name: str, d: int = 2) -> sp.Matrix:
    """A general symmetric d×d matrix with entries ``name_ij`` (i ≤ j). Used in: 02_sgd_as_sde"""
    return symmetric_matrix_symbols(d, name)


@dataclass
class MomentMatching:
    """The first two moments of one SGD step and of one EM step, and the matching temperature."""

    grad: sp.Matrix
    D: sp.Matrix
    sgd_mean: sp.Matrix
    sgd_cov: sp.Matrix
    em_mean: sp.Matrix
    em_cov: sp.Matrix
    temperature: sp.Expr  # the solution of sgd_cov = em_cov for β⁻¹
    temperature_without_replacement: sp.Expr


def moment_matching(d: int = 2) -> MomentMatching:
    """Match one SGD step with one Euler–Maruyama step of eq. (3) at dt = η; solve for β⁻¹.

    SGD: Δx = −η∇f − ηξ with E ξ = 0, Cov ξ = D/b, so E Δx = −η∇f and Cov Δx = η²D/b.
    EM:  Δx = −∇f Δt + √Δt σ Z with σσᵀ = 2β⁻¹D, so E Δx = −∇f Δt and Cov Δx = 2β⁻¹D Δt.
    With Δt = η the means agree, and the covariances agree iff β⁻¹ = η/(2b). Without
    replacement Cov ξ = (1 − b/N) D/b (the paper's D, which absorbs N/(N − 1)).

    Used in: 02_sgd_as_sde
    """
    g = sp.Matrix(d, 1, lambda i, _: sp.Symbol(f"g_{i + 1}", real=True))
    D = symmetric_matrix("D", d)
    B_sgd = -eta * sp.eye(d)  # Δx = −η g + B_sgd ξ
    sgd_mean = -eta * g
    sgd_cov = B_sgd * (D / b) * B_sgd.T
    em_mean = (-g * dt).subs(dt, eta)
    em_cov = (dt * 2 * T * D).subs(dt, eta)  # Cov(√Δt σ Z) = Δt σσᵀ
    eqs = [e for e in (sgd_cov - em_cov) if e != 0]
    sol = sp.solve(eqs, T, dict=True)
    if len(sol) != 1:  # pragma: no cover - a change in SymPy's solver would show here
        raise RuntimeError(f"expected one temperature, got {sol}")
    sgd_cov_wo = B_sgd * ((1 - b / N) * D / b) * B_sgd.T
    sol_wo = sp.solve([e for e in (sgd_cov_wo - em_cov) if e != 0], T, dict=True)
    return MomentMatching(
        grad=g, D=D, sgd_mean=sgd_mean, sgd_cov=sgd_cov, em_mean=em_mean, em_cov=em_cov,
        temperature=sp.simplify(sol[0][T]), temperature_without_replacement=sp.factor(sol_wo[0][T]),
    )


@dataclass
class LyapunovForms:
    """Residuals of the Lyapunov equations for symbolic H, D, Σ (each is zero at the solution)."""

    H: sp.Matrix
    D: sp.Matrix
    Sigma: sp.Matrix
    M: sp.Matrix
    discrete: sp.Matrix  # MΣMᵀ + (η²/b)D − Σ
    corrected: sp.Matrix  # HΣ + ΣH − ηHΣH − (η/b)D
    continuous: sp.Matrix  # HΣ + ΣH − (η/b)D
    scaled_corrected: sp.Matrix  # the corrected residual at Σ = (η/b)S, divided by η/b
    scaled_limit: sp.Matrix  # its η → 0 limit: HS + SH − D
    S: sp.Matrix


def lyapunov_forms(d: int = 2) -> LyapunovForms:
    """The discrete and continuous Lyapunov equations for general symmetric d×d H, D, Σ.

    Identity: discrete = −η · corrected, entry by entry, so Σ = MΣMᵀ + (η²/b)D holds iff
    HΣ + ΣH − ηHΣH = (η/b)D. Writing Σ = (η/b)S, the corrected equation reads
    HS + SH − ηHSH = D, whose η → 0 limit is the continuous equation HS + SH = D.

    Used in: 02_sgd_as_sde
    """
    H, D, S = symmetric_matrix("H", d), symmetric_matrix("D", d), symmetric_matrix(r"\Sigma", d)
    M = sp.eye(d) - eta * H
    discrete = (M * S * M.T + eta**2 / b * D - S).applyfunc(sp.expand)
    corrected = (H * S + S * H - eta * H * S * H - eta / b * D).applyfunc(sp.expand)
    continuous = (H * S + S * H - eta / b * D).applyfunc(sp.expand)
    Sn = symmetric_matrix("S", d)
    scaled = ((H * Sn + Sn * H - eta * H * Sn * H) * (eta / b) - eta / b * D) / (eta / b)
    scaled = scaled.applyfunc(sp.expand)
    limit = scaled.applyfunc(lambda e: sp.limit(e, eta, 0))
    return LyapunovForms(
        H=H, D=D, Sigma=S, M=M, discrete=discrete, corrected=corrected, continuous=continuous,
        scaled_corrected=scaled, scaled_limit=limit, S=Sn,
    )


@dataclass
class OneDimensional:
    """1-D stationary variances of the SDE and of SGD, their ratio, and the stability interval."""

    continuous: sp.Expr
    discrete: sp.Expr
    ratio: sp.Expr
    ratio_series: sp.Expr
    stable_eta_h: sp.Set  # the set of ηh for which |1 − ηh| < 1
    eta_max: sp.Expr


def one_dimensional() -> OneDimensional:
    """f = ½hx², constant D: solve 2hσ² = ηD/b and σ² = (1 − ηh)²σ² + η²D/b for σ².

    Used in: 02_sgd_as_sde
    """
    s = sp.Symbol("sigma2", positive=True)
    cont = sp.solve(sp.Eq(2 * h * s, eta * D1 / b), s)[0]
    disc = sp.solve(sp.Eq(s, (1 - eta * h) ** 2 * s + eta**2 * D1 / b), s)[0]
    ratio = sp.simplify(disc / cont)
    series = sp.series(ratio, eta, 0, 3).removeO()
    u = sp.Symbol("u", real=True)  # u = ηh
    stable = sp.solve_univariate_inequality((1 - u) ** 2 < 1, u, relational=False)
    return OneDimensional(
        continuous=sp.simplify(cont), discrete=sp.factor(disc), ratio=ratio, ratio_series=sp.expand(series),
        stable_eta_h=stable, eta_max=stable.sup / h,
    )


@dataclass
class EMRecursion:
    """One step of the covariance recursion: Euler–Maruyama of the OU process vs SGD."""

    em: sp.Matrix  # (I − ΔtH)Σ(I − ΔtH)ᵀ + 2β⁻¹DΔt
    em_at_sgd_scale: sp.Matrix  # the same at Δt = η, β⁻¹ = η/(2b)
    sgd: sp.Matrix  # MΣMᵀ + (η²/b)D


def em_recursion(d: int = 2) -> EMRecursion:
    """Cov of x_{k+1} = (I − ΔtH)x_k + √Δt σ Z_k (σσᵀ = 2β⁻¹D), vs SGD's x_{k+1} = Mx_k − ηξ_k.

    Used in: 02_sgd_as_sde
    """
    H, D, S = symmetric_matrix("H", d), symmetric_matrix("D", d), symmetric_matrix(r"\Sigma", d)
    P = sp.eye(d) - dt * H
    em = P * S * P.T + 2 * T * D * dt
    at = em.subs({dt: eta, T: eta / (2 * b)})
    M = sp.eye(d) - eta * H
    sgd = M * S * M.T + eta**2 / b * D
    return EMRecursion(em=em, em_at_sgd_scale=at, sgd=sgd)


@dataclass
class HeavyBall:
    """Stationary second moments of heavy-ball SGD on f = ½hx² with gradient-noise variance D/b."""

    A: sp.Matrix  # state transition of (x, v)
    noise: sp.Matrix  # per-step noise covariance of (x, v)
    Sxx: sp.Expr
    Sxv: sp.Expr
    Svv: sp.Expr
    leading: sp.Expr  # lim_{η→0} Sxx/η, times η
    temperature: sp.Expr  # effective temperature η/(2b(1 − μ))


def heavy_ball() -> HeavyBall:
    """v_{k+1} = μv_k − η(hx_k + ξ_k), x_{k+1} = x_k + v_{k+1}: solve S = ASAᵀ + Q for S.

    This is ``torch.optim.SGD(momentum=μ)`` (dampening 0, no Nesterov) with the velocity
    rescaled by −η. The leading order in η is Sxx ≈ ηD/(2bh(1 − μ)): the temperature is
    η/(2b(1 − μ)).

    Used in: 02_sgd_as_sde
    """
    sxx, sxv, svv = sp.symbols("S_xx S_xv S_vv", real=True)
    S = sp.Matrix([[sxx, sxv], [sxv, svv]])
    A = sp.Matrix([[1 - eta * h, mu], [-eta * h, mu]])
    Bn = sp.Matrix([-eta, -eta])
    Q = Bn * (D1 / b) * Bn.T
    eqs = list(A * S * A.T + Q - S)
    sol = sp.solve([eqs[0], eqs[1], eqs[3]], [sxx, sxv, svv], dict=True)[0]
    Sxx = sp.factor(sp.simplify(sol[sxx]))
    leading = sp.simplify(sp.limit(Sxx / eta, eta, 0) * eta)
    temp = sp.simplify(leading * h / D1)
    return HeavyBall(
        A=A, noise=Q, Sxx=Sxx, Sxv=sp.factor(sp.simplify(sol[sxv])), Svv=sp.factor(sp.simplify(sol[svv])),
        leading=leading, temperature=temp,
    )
