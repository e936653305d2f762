"""Local entropy (Baldassi et al.; Entropy-SGD) and the potential Φ on landscapes with a narrow and a wide minimum.

Definition (Entropy-SGD, Chaudhari et al. 2017, with an inverse temperature β; β = 1 is theirs):

    F_γ(x) = β⁻¹ log ∫ exp(−β f(x′) − βγ/2 ‖x − x′‖²) dx′ ,

so that e^{βF_γ} = e^{−βf} * (Gaussian kernel of variance 1/(βγ) per coordinate), up to the constant
(2π/(βγ))^{d/2}. Its gradient is ∇F_γ(x) = −γ(x − ⟨x′⟩), the mean taken under the local Gibbs measure
P(x′ | x) ∝ exp(−βf(x′) − βγ/2 ‖x − x′‖²). Entropy-SGD descends −F_γ.

* :func:`symbolic_1d` derives, in SymPy, the gradient identity for an arbitrary f, the large-γ expansion
  F_γ = −f − (2β)⁻¹log(βγ/2π) + (βf′² − f″)/(2βγ) + O(γ⁻²), and the quadratic closed form
  (same minimiser, curvature hγ/(h + γ)).
* :func:`local_entropy_1d`, :func:`local_entropy_2d`: F_γ on a grid (log-space quadrature / separable
  convolution), and the local Gibbs mean ⟨x′⟩ in 1-D.
* :func:`narrow_wide_1d`, :func:`narrow_wide_2d`: a deep narrow well and a shallow wide one (Gaussian
  wells in a weak quadratic bowl), with a diffusion that is larger where the curvature is (as SGD's is).
* :func:`phi_2d`: Φ = −β⁻¹log ρ^ss of dx = −∇f dt + √(2β⁻¹D(x)) dW (isotropic D(x)) on a grid, from the
  Fokker–Planck solver. In 1-D Φ = ∫f′/D + β⁻¹log D (:func:`vdlib.theory.potential_symbolic.phi_1d`).
* :func:`basin_mass`, :func:`mode_location`: the two summaries of "where the measure sits".

Used in: 17_local_entropy.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import sympy as sp
from scipy.special import logsumexp

from .. import checks

__all__ = ["LocalEntropySymbolic", "symbolic_1d", "local_entropy_1d", "local_gibbs_mean_1d", "local_entropy_2d",
           "Landscape", "narrow_wide_1d", "narrow_wide_2d", "phi_2d", "basin_mass", "mode_location",
           "quadratic_local_entropy", "moreau_envelope_1d"]


# ------------------------------------------------------------------------------------------
# SymPy
# ------------------------------------------------------------------------------------------
@dataclass
class LocalEntropySymbolic:
    """The 1-D derivations; every entry is a SymPy expression (see :func:`symbolic_1d`)."""

    symbols: dict
    F: sp.Expr                 # β⁻¹ log ∫ w dx′ for an arbitrary f (unevaluated integral)
    grad_F: sp.Expr            # d F / dx, differentiated under the integral sign
    grad_identity_rhs: sp.Expr  # −γ(x − ⟨x′⟩) written with the same integrals
    large_gamma_F: sp.Expr     # −f − (2β)⁻¹ log(βγ/2π) + (βf′² − f″)/(2βγ), from the heat-kernel series
    quadratic_F: sp.Expr       # F_γ for f = h(x′ − a)²/2, evaluated
    quadratic_curvature: sp.Expr  # −F_γ″ for the quadratic
    quadratic_minimiser: sp.Expr  # argmax F_γ for the quadratic


def _split_integrals(expr, var):
    """Use linearity: ∫(Σ c_k(x) g_k(x′)) dx′ → Σ c_k(x) ∫g_k(x′) dx′, so that equal integrals cancel."""
    def split(integral):
        body, limits = integral.function, integral.limits
        out = 0
        for term in sp.Add.make_args(sp.expand(body)):
            outside, inside = term.as_independent(var, as_Add=False)
            out += outside * sp.Integral(inside, *limits)
        return out

    return expr.replace(lambda e: isinstance(e, sp.Integral), split)


def symbolic_1d() -> LocalEntropySymbolic:
    """Derive the local-entropy identities in one dimension.

    The gradient: d/dx β⁻¹log∫w = β⁻¹∫∂ₓw/∫w with ∂ₓw = −βγ(x − x′)w, i.e. −γ(x − ⟨x′⟩).
    The large-γ series: e^{βF}(βγ/2π)^{1/2} = E[g(x + Z)], g = e^{−βf}, Z ~ N(0, σ²), σ² = 1/(βγ),
    = g + σ²g″/2 + O(σ⁴), whose logarithm to first order in σ² gives the correction term.

    Used in: 17_local_entropy
    """
    x, xp, a = sp.symbols("x x' a", real=True)
    beta, gamma, h = sp.symbols("beta gamma h", positive=True)
    sigma2 = sp.Symbol("sigma2", positive=True)
    f = sp.Function("f", real=True)
    w = sp.exp(-beta * f(xp)) * sp.exp(-beta * gamma / 2 * (x - xp) ** 2)
    Z = sp.Integral(w, (xp, -sp.oo, sp.oo))
    F = sp.log(Z) / beta
    grad_F = _split_integrals(sp.diff(F, x), xp)
    mean = _split_integrals(sp.Integral(xp * w, (xp, -sp.oo, sp.oo)), xp) / _split_integrals(Z, xp)
    rhs = -gamma * (x - mean)
    # large gamma: log of the heat-kernel series, to first order in sigma^2
    g = sp.exp(-beta * f(x))
    series = sp.log(g + sigma2 / 2 * sp.diff(g, x, 2)) / beta
    first = sp.expand_log(sp.series(series, sigma2, 0, 2).removeO(), force=True)
    large = sp.expand(first.subs(sigma2, 1 / (beta * gamma))) - sp.log(beta * gamma / (2 * sp.pi)) / (2 * beta)
    # quadratic f: the exponent is −A x′² + B x′ − C, and ∫exp(−At² + Bt − C) dt = √(π/A) exp(B²/4A − C)
    fq = h / 2 * (xp - a) ** 2
    c2, c1, c0 = sp.Poly(sp.expand(-beta * fq - beta * gamma / 2 * (x - xp) ** 2), xp).all_coeffs()
    A_, B_, C_ = -c2, c1, -c0
    Fq = sp.simplify((sp.log(sp.pi / A_) / 2 + B_**2 / (4 * A_) - C_) / beta)
    curv = sp.simplify(-sp.diff(Fq, x, 2))
    argmax = sp.solve(sp.diff(Fq, x), x)
    return LocalEntropySymbolic(symbols=dict(x=x, xp=xp, a=a, beta=beta, gamma=gamma, h=h, f=f),
                                F=F, grad_F=grad_F, grad_identity_rhs=rhs, large_gamma_F=large,
                                quadratic_F=Fq, quadratic_curvature=curv, quadratic_minimiser=argmax[0])


def quadratic_local_entropy(x, h: float, gamma: float, beta: float = 1.0, a: float = 0.0):
    """Closed form for f = h(x − a)²/2: F_γ = −(hγ/(h+γ))(x − a)²/2 + (2β)⁻¹log(2π/(β(h + γ))).

    Used in: 17_local_entropy
    """
    h, gamma, beta = checks.positive(h, "h"), checks.positive(gamma, "gamma"), checks.positive(beta, "beta")
    x = np.asarray(x, dtype=float)
    return -0.5 * h * gamma / (h + gamma) * (x - a) ** 2 + np.log(2 * np.pi / (beta * (h + gamma))) / (2 * beta)


# ------------------------------------------------------------------------------------------
# grids
# ------------------------------------------------------------------------------------------
def _grid(xs, name="xs"):
    xs = np.asarray(xs, dtype=float)
    if xs.ndim != 1 or xs.size < 3 or not np.all(np.isfinite(xs)):
        raise ValueError(f"{name} must be a 1-D grid of at least 3 finite points")
    dx = np.diff(xs)
    if np.any(dx <= 0) or not np.allclose(dx, dx[0], rtol=1e-6, atol=0):
        raise ValueError(f"{name} must be increasing and uniformly spaced (use np.linspace)")
    return xs, float(dx[0])


def _values(f, *grids, name="f"):
    vals = np.asarray(f(*np.meshgrid(*grids, indexing="ij")) if len(grids) > 1 else f(grids[0]), dtype=float)
    if vals.shape != tuple(g.size for g in grids):
        raise ValueError(f"{name} must be a vectorised callable returning one value per grid point")
    if not np.all(np.isfinite(vals)):
        raise ValueError(f"{name} returned NaN or infinite values on the grid; restrict the grid")
    return vals


def _log_kernel(xs, dx, gamma, beta):
    diff = xs[:, None] - xs[None, :]
    return -0.5 * beta * gamma * diff**2 + np.log(dx)


def local_entropy_1d(f: Callable, xs, gamma: float, beta: float = 1.0) -> np.ndarray:
    """F_γ(x) = β⁻¹ log ∫ exp(−βf(x′) − βγ/2 (x − x′)²) dx′ at every grid point (quadrature on the same grid).

    The integral runs over the grid only: keep the grid wide enough that e^{−βf} is negligible at its
    ends, and its spacing below the kernel width (βγ)^{-1/2} (else a ValueError says so).

    Used in: 17_local_entropy
    """
    xs, dx = _grid(xs)
    gamma, beta = checks.positive(gamma, "gamma"), checks.positive(beta, "beta")
    if dx > 0.5 / np.sqrt(beta * gamma):
        raise ValueError(f"grid spacing {dx:g} is too coarse for the kernel width (beta*gamma)^-1/2 = "
                         f"{1 / np.sqrt(beta * gamma):g}: use at least 2 points per kernel width")
    fv = _values(f, xs)
    return logsumexp(-beta * fv[None, :] + _log_kernel(xs, dx, gamma, beta), axis=1) / beta


def moreau_envelope_1d(f: Callable, xs, gamma: float) -> np.ndarray:
    """min over the grid of f(x′) + γ/2 (x − x′)²: the β → ∞ limit of −F_γ (Deep Relaxation's inf-convolution).

    Used in: 17_local_entropy
    """
    xs, _ = _grid(xs)
    gamma = checks.positive(gamma, "gamma")
    fv = _values(f, xs)
    return np.min(fv[None, :] + 0.5 * gamma * (xs[:, None] - xs[None, :]) ** 2, axis=1)


def local_gibbs_mean_1d(f: Callable, xs, gamma: float, beta: float = 1.0) -> np.ndarray:
    """⟨x′⟩ under P(x′ | x) ∝ exp(−βf(x′) − βγ/2 (x − x′)²), at every grid point x.

    Used in: 17_local_entropy
    """
    xs, dx = _grid(xs)
    gamma, beta = checks.positive(gamma, "gamma"), checks.positive(beta, "beta")
    logw = -beta * _values(f, xs)[None, :] + _log_kernel(xs, dx, gamma, beta)
    logw -= logw.max(axis=1, keepdims=True)
    wts = np.exp(logw)
    return (wts @ xs) / wts.sum(axis=1)


def local_entropy_2d(f: Callable, xs, ys, gamma: float, beta: float = 1.0) -> np.ndarray:
    """F_γ on the grid ``xs × ys`` (array indexed [i, j] = (xs[i], ys[j])): a separable Gaussian convolution.

    Used in: 17_local_entropy
    """
    xs, dx = _grid(xs, "xs")
    ys, dy = _grid(ys, "ys")
    gamma, beta = checks.positive(gamma, "gamma"), checks.positive(beta, "beta")
    if max(dx, dy) > 0.5 / np.sqrt(beta * gamma):
        raise ValueError(f"grid spacing {max(dx, dy):g} is too coarse for the kernel width "
                         f"{1 / np.sqrt(beta * gamma):g}: use at least 2 points per kernel width")
    logg = -beta * _values(f, xs, ys)
    shift = logg.max()
    W = np.exp(logg - shift)
    Kx = np.exp(_log_kernel(xs, dx, gamma, beta))
    Ky = np.exp(_log_kernel(ys, dy, gamma, beta))
    conv = Kx @ W @ Ky.T
    with np.errstate(divide="ignore"):
        out = (np.log(conv) + shift) / beta
    if not np.all(np.isfinite(out)):
        raise ValueError("e^{-beta f} underflows on part of the grid after smoothing: lower beta or shrink the grid")
    return out


# ------------------------------------------------------------------------------------------
# the narrow-deep / wide-shallow landscapes
# ------------------------------------------------------------------------------------------
@dataclass
class Landscape:
    """A loss f with a narrow deep well and a wide shallow one, its derivatives and a diffusion D.

    ``D`` is 1 + c·(the curvature each well has at its bottom, spread over the well), so that the noise is
    larger in the sharp well, as SGD's noise is where the Hessian is large. ``barrier`` separates the
    basins along the first coordinate (the local maximum of f between the wells, on the axis).
    """

    f: Callable
    grad: Callable
    D: Callable
    dD: Callable | None
    narrow: tuple
    wide: tuple
    barrier: float
    params: dict


def _well(r2, depth, width):
    return -depth * np.exp(-r2 / (2 * width**2))


def _well_parameters(narrow_depth, narrow_width, wide_depth, wide_width, bowl, noise_gain):
    """The checked parameters of :func:`narrow_wide_1d` / :func:`narrow_wide_2d`."""
    An, wn, Aw, ww = (checks.positive(v, n) for v, n in ((narrow_depth, "narrow_depth"), (narrow_width, "narrow_width"),
                                                        (wide_depth, "wide_depth"), (wide_width, "wide_width")))
    bowl = checks.positive(bowl, "bowl")
    c = float(noise_gain)
    if c < 0:
        raise ValueError(f"noise_gain must be >= 0 (0: constant D), got {noise_gain}")
    return An, wn, Aw, ww, bowl, c


def narrow_wide_1d(narrow_depth: float = 1.0, narrow_width: float = 0.1, narrow_at: float = -1.0,
                   wide_depth: float = 0.7, wide_width: float = 0.6, wide_at: float = 1.5,
                   bowl: float = 0.02, noise_gain: float = 0.05) -> Landscape:
    """f(x) = −A_n e^{−(x−a_n)²/2w_n²} − A_w e^{−(x−a_w)²/2w_w²} + bowl·x²/2 and D = 1 + c Σ_k (A_k/w_k²) e^{−(x−a_k)²/2w_k²}.

    Used in: 17_local_entropy
    """
    An, wn, Aw, ww, bowl, c = _well_parameters(narrow_depth, narrow_width, wide_depth, wide_width, bowl, noise_gain)
    if not narrow_width < wide_width:
        raise ValueError("narrow_width must be smaller than wide_width")
    an, aw = float(narrow_at), float(wide_at)

    def f(x):
        x = np.asarray(x, dtype=float)
        return _well((x - an) ** 2, An, wn) + _well((x - aw) ** 2, Aw, ww) + 0.5 * bowl * x**2

    def grad(x):
        x = np.asarray(x, dtype=float)
        return (-_well((x - an) ** 2, An, wn) * (x - an) / wn**2
                - _well((x - aw) ** 2, Aw, ww) * (x - aw) / ww**2 + bowl * x)

    def D(x):
        x = np.asarray(x, dtype=float)
        return 1.0 + c * (An / wn**2 * np.exp(-(x - an) ** 2 / (2 * wn**2)) + Aw / ww**2 * np.exp(-(x - aw) ** 2 / (2 * ww**2)))

    def dD(x):
        x = np.asarray(x, dtype=float)
        return -c * (An / wn**4 * (x - an) * np.exp(-(x - an) ** 2 / (2 * wn**2))
                     + Aw / ww**4 * (x - aw) * np.exp(-(x - aw) ** 2 / (2 * ww**2)))

    from scipy.optimize import minimize_scalar

    lo, hi = sorted((an, aw))
    barrier = float(minimize_scalar(lambda s: -f(s), bounds=(lo, hi), method="bounded",
                                    options=dict(xatol=1e-10)).x)
    return Landscape(f=f, grad=grad, D=D, dD=dD, narrow=(an,), wide=(aw,), barrier=barrier,
                     params=dict(narrow_depth=An, narrow_width=wn, wide_depth=Aw, wide_width=ww, bowl=bowl,
                                 noise_gain=c))


def narrow_wide_2d(narrow_depth: float = 1.0, narrow_width: float = 0.15, narrow_at=(-1.0, 0.0),
                   wide_depth: float = 0.7, wide_width: float = 0.6, wide_at=(1.2, 0.0),
                   bowl: float = 0.05, noise_gain: float = 0.05) -> Landscape:
    """The 2-D analogue of :func:`narrow_wide_1d` with radial wells and isotropic D(x, y)·I.

    ``f(X, Y)``, ``grad(X, Y) -> (fx, fy)`` and ``D(X, Y)`` take arrays of equal shape.

    Used in: 17_local_entropy
    """
    An, wn, Aw, ww, bowl, c = _well_parameters(narrow_depth, narrow_width, wide_depth, wide_width, bowl, noise_gain)
    (nx, ny), (wx, wy) = (tuple(float(v) for v in narrow_at), tuple(float(v) for v in wide_at))

    def f(X, Y):
        X, Y = np.asarray(X, dtype=float), np.asarray(Y, dtype=float)
        return (_well((X - nx) ** 2 + (Y - ny) ** 2, An, wn) + _well((X - wx) ** 2 + (Y - wy) ** 2, Aw, ww)
                + 0.5 * bowl * (X**2 + Y**2))

    def grad(X, Y):
        X, Y = np.asarray(X, dtype=float), np.asarray(Y, dtype=float)
        gn = -_well((X - nx) ** 2 + (Y - ny) ** 2, An, wn) / wn**2
        gw = -_well((X - wx) ** 2 + (Y - wy) ** 2, Aw, ww) / ww**2
        return gn * (X - nx) + gw * (X - wx) + bowl * X, gn * (Y - ny) + gw * (Y - wy) + bowl * Y

    def D(X, Y):
        X, Y = np.asarray(X, dtype=float), np.asarray(Y, dtype=float)
        return 1.0 + c * (An / wn**2 * np.exp(-((X - nx) ** 2 + (Y - ny) ** 2) / (2 * wn**2))
                          + Aw / ww**2 * np.exp(-((X - wx) ** 2 + (Y - wy) ** 2) / (2 * ww**2)))

    from scipy.optimize import minimize_scalar

    lo, hi = sorted((nx, wx))
    barrier = float(minimize_scalar(lambda s: -f(s, 0.0), bounds=(lo, hi), method="bounded",
                                    options=dict(xatol=1e-10)).x)
    return Landscape(f=f, grad=grad, D=D, dD=None, narrow=(nx, ny), wide=(wx, wy), barrier=barrier,
                     params=dict(narrow_depth=An, narrow_width=wn, wide_depth=Aw, wide_width=ww, bowl=bowl,
                                 noise_gain=c))


def phi_2d(land: Landscape, beta: float, xs, ys, *, constant_D: bool = False) -> np.ndarray:
    """Φ = −β⁻¹ log ρ^ss (min 0) of dx = −∇f dt + √(2β⁻¹D) dW, D = D(x, y)·I, on the cell centres ``xs × ys``.

    ``constant_D=True`` uses D = 1 (then Φ = f up to the grid error). Arrays are indexed [i, j] = (xs[i], ys[j]).

    Used in: 17_local_entropy
    """
    from . import fokker_planck as fp

    beta = checks.positive(beta, "beta")
    xs, _ = _grid(xs, "xs")
    ys, _ = _grid(ys, "ys")

    def drift(X, Y):
        gx, gy = land.grad(X, Y)
        return -gx, -gy

    def Dfun(X, Y):
        d = np.ones_like(X) if constant_D else land.D(X, Y)
        return d[..., None, None] * np.eye(2)

    rho = np.asarray(fp.stationary_2d(drift, Dfun, beta, xs, ys)).reshape(xs.size, ys.size)
    with np.errstate(divide="ignore"):
        phi = -np.log(np.maximum(rho, 1e-300)) / beta
    return phi - phi.min()


# ------------------------------------------------------------------------------------------
# summaries
# ------------------------------------------------------------------------------------------
def basin_mass(log_density, xs, barrier: float) -> float:
    """The probability of x > ``barrier`` (first coordinate) under the density ∝ exp(``log_density``) on the grid.

    ``log_density`` is 1-D (over ``xs``) or 2-D (first axis over ``xs``).

    Used in: 17_local_entropy
    """
    xs, _ = _grid(xs)
    L = np.asarray(log_density, dtype=float)
    if L.shape[0] != xs.size or L.ndim not in (1, 2):
        raise ValueError("log_density must have its first axis over xs (1-D or 2-D array)")
    right = xs > barrier
    total = logsumexp(L)
    return float(np.exp(logsumexp(L[right]) - total)) if right.any() else 0.0


def mode_location(log_density, xs, ys=None):
    """The grid point of largest density (1-D: a float, refined by a parabola in log-density; 2-D: (x, y)).

    Used in: 17_local_entropy
    """
    L = np.asarray(log_density, dtype=float)
    xs, dx = _grid(xs)
    if L.ndim == 1:
        if L.shape != xs.shape:
            raise ValueError("log_density and xs must have the same length")
        i = int(np.argmax(L))
        if 0 < i < xs.size - 1:
            y0, y1, y2 = L[i - 1:i + 2]
            den = y0 - 2 * y1 + y2
            return float(xs[i] + (0.0 if den == 0 else 0.5 * (y0 - y2) / den) * dx)
        return float(xs[i])
    if ys is None:
        raise ValueError("a 2-D log_density needs ys")
    ys, _ = _grid(ys, "ys")
    if L.shape != (xs.size, ys.size):
        raise ValueError("log_density must be indexed [i, j] = (xs[i], ys[j])")
    i, j = np.unravel_index(int(np.argmax(L)), L.shape)
    return float(xs[i]), float(ys[j])
