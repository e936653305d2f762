"""Optimal transport for the Wasserstein (JKO) view of the Fokker–Planck equation.

Numerics
--------
* 1-D quadratic Wasserstein distances from quantile functions: between two samples
  (:func:`w2_1d_samples`, exact for empirical measures of any sizes), between two densities on a
  uniform grid (:func:`w2_1d_densities`), between Gaussians (:func:`w2_gaussian_1d`).
* A Lagrangian JKO scheme in 1-D (:func:`jko_step_1d`, :func:`jko_flow_1d`) for the free energy
  F(ρ) = ∫ f ρ + β⁻¹ ∫ ρ log ρ. N particles of mass 1/N sit at the quantile levels (i − ½)/N;
  between neighbours the density is 1/(N Δ_i) with Δ_i = x_{i+1} − x_i, so (times N, up to a
  constant) one JKO step minimises over sorted x

      Σ_i (x_i − y_i)² / (2τ) + Σ_i f(x_i) − β⁻¹ Σ_i log Δ_i,

  whose optimality condition, (x_i − y_i)/τ + f′(x_i) + β⁻¹(1/Δ_i − 1/Δ_{i−1}) = 0, is solved by
  damped Newton iterations on the tridiagonal Hessian (in 1-D, sorted order is the optimal
  coupling, so W2²(x, y) = (1/N) Σ (x_i − y_i)²).
* 2-D distances between samples through POT (:func:`w2_2d_samples`, ``ot.emd2``).

Symbolic checks (SymPy)
-----------------------
* :func:`wasserstein_fp_identity`: δF/δρ and ∇·(ρ∇δF/δρ) = ∇·(∇f ρ + β⁻¹∇ρ) (Corollary 8).
* :func:`gaussian_jko_step_symbolic`: one exact JKO step for Gaussians and f = x²/2.
* :func:`stationary_current_constant_d`: the FP current −∇f ρ − β⁻¹ D ∇ρ for constant D, used for
  Lemma 6, the counter-example of erratum E6 and the commuting case of E11.

Used in: 06_wasserstein_jko.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Callable

import numpy as np
import sympy as sp
from scipy.linalg import solve_banded

from .. import checks

__all__ = [
    "w2_1d_samples", "w2_1d_densities", "w2_gaussian_1d", "quantiles_from_density",
    "quantile_discrepancy", "jko_step_1d", "jko_flow_1d", "JKOFlow", "jko_gaussian_step",
    "particle_density", "w2_2d_samples", "wasserstein_fp_identity", "gaussian_jko_step_symbolic",
    "stationary_current_constant_d",
]


# ------------------------------------------------------------------------------------ checks
def _sample_1d(a, name: str) -> np.ndarray:
    a = np.asarray(a, dtype=float)
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim != 1 or a.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D sample, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return a


def _density_on_grid(p, x, name: str):
    x = np.asarray(x, dtype=float)
    p = np.asarray(p, dtype=float)
    if x.ndim != 1 or x.size < 2:
        raise ValueError(f"the grid x must be 1-D with at least 2 points, got shape {x.shape}")
    dx = np.diff(x)
    if np.any(dx <= 0) or not np.allclose(dx, dx[0], rtol=1e-6, atol=0):
        raise ValueError("the grid x must be increasing and uniform (cell centres)")
    if p.shape != x.shape:
        raise ValueError(f"{name} must have the shape of the grid {x.shape}, got {p.shape}")
    if np.any(p < 0) or not np.all(np.isfinite(p)):
        raise ValueError(f"{name} must be finite and non-negative")
    mass = p.sum() * dx[0]
    if mass <= 0:
        raise ValueError(f"{name} has zero mass")
    return p / mass, x, float(dx[0])


# ------------------------------------------------------------------------------ 1-D distances
def w2_1d_samples(a, b, *, squared: bool = False) -> float:
    """W2 between the empirical measures of two 1-D samples (uniform weights), exactly.

    W2² = ∫₀¹ (Q_a(u) − Q_b(u))² du with the piecewise-constant quantile functions of the sorted
    samples; the sizes may differ (the integral is split at the union of the levels i/n, j/m).
    Returns W2, or W2² with ``squared=True``.

    Used in: 06_wasserstein_jko
    """
    a, b = np.sort(_sample_1d(a, "a")), np.sort(_sample_1d(b, "b"))
    n, m = a.size, b.size
    if n == m:
        w2sq = float(np.mean((a - b) ** 2))
    else:
        levels = np.union1d(np.arange(1, n + 1) / n, np.arange(1, m + 1) / m)
        levels[-1] = 1.0
        widths = np.diff(np.concatenate([[0.0], levels]))
        mid = levels - widths / 2
        ia = np.minimum((mid * n).astype(int), n - 1)
        ib = np.minimum((mid * m).astype(int), m - 1)
        w2sq = float(np.sum(widths * (a[ia] - b[ib]) ** 2))
    return w2sq if squared else float(np.sqrt(w2sq))


def quantiles_from_density(p, x, levels) -> np.ndarray:
    """Quantile function of a density on uniform cell centres x, evaluated at ``levels`` in (0, 1).

    The density is piecewise constant on the cells [x_k − dx/2, x_k + dx/2], so its CDF is
    piecewise linear and the inverse is exact linear interpolation.

    Used in: 06_wasserstein_jko
    """
    p, x, dx = _density_on_grid(p, x, "p")
    levels = np.asarray(levels, dtype=float)
    if np.any(levels < 0) or np.any(levels > 1):
        raise ValueError("quantile levels must lie in [0, 1]")
    edges = np.concatenate([[x[0] - dx / 2], x + dx / 2])
    cdf = np.concatenate([[0.0], np.cumsum(p) * dx])
    cdf /= cdf[-1]
    # strictly increasing CDF for interpolation: drop flat stretches (zero-density cells)
    keep = np.concatenate([[True], np.diff(cdf) > 0])
    return np.interp(levels, cdf[keep], edges[keep])


def w2_1d_densities(p, q, x, *, n_levels: int = 4000, squared: bool = False) -> float:
    """W2 between two densities on the same uniform grid x (cell centres), via inverse CDFs.

    W2² = ∫₀¹ (Q_p(u) − Q_q(u))² du by the midpoint rule on ``n_levels`` levels; the densities are
    renormalised to unit mass (cell sums). Returns W2, or W2² with ``squared=True``.

    Used in: 06_wasserstein_jko
    """
    p, x, _ = _density_on_grid(p, x, "p")
    q, _, _ = _density_on_grid(q, x, "q")
    if isinstance(n_levels, bool) or not isinstance(n_levels, numbers.Integral) or n_levels < 1:
        raise ValueError(f"n_levels must be a positive integer, got {n_levels!r}")
    u = (np.arange(n_levels) + 0.5) / n_levels
    w2sq = float(np.mean((quantiles_from_density(p, x, u) - quantiles_from_density(q, x, u)) ** 2))
    return w2sq if squared else float(np.sqrt(w2sq))


def w2_gaussian_1d(m1, s1, m2, s2) -> float:
    """The closed form W2(N(m1, s1²), N(m2, s2²)) = sqrt((m1 − m2)² + (s1 − s2)²).

    Used in: 06_wasserstein_jko
    """
    return float(np.hypot(m1 - m2, s1 - s2))


def quantile_discrepancy(particles, p, x) -> float:
    """sqrt((1/N) Σ_i (x_i − Q_p((i − ½)/N))²) for sorted particles x_1 < … < x_N.

    This is W2 between the particle measure and the N-point midpoint quantisation of the density
    p, the natural error of the Lagrangian JKO scheme (whose particles sit at those levels); it
    has no O(1/N) quantisation floor.

    Used in: 06_wasserstein_jko
    """
    xs = _sample_1d(particles, "particles")
    n = xs.size
    q = quantiles_from_density(p, x, (np.arange(n) + 0.5) / n)
    return float(np.sqrt(np.mean((np.sort(xs) - q) ** 2)))


def particle_density(particles):
    """The density represented by sorted particles: 1/(N Δ_i) at the midpoints of neighbours.

    Returns ``(midpoints, density)``. Used in: 06_wasserstein_jko
    """
    xs = _check_particles(particles)
    gaps = np.diff(xs)
    return (xs[1:] + xs[:-1]) / 2, 1.0 / (xs.size * gaps)


# ----------------------------------------------------------------------------------- 1-D JKO
def _check_particles(particles) -> np.ndarray:
    xs = np.asarray(particles, dtype=float)
    if xs.ndim != 1 or xs.size < 3:
        raise ValueError(f"particles must be a 1-D array of at least 3 positions, got shape {xs.shape}")
    if not np.all(np.isfinite(xs)):
        raise ValueError("particles contain NaN or infinite values")
    gaps = np.diff(xs)
    if np.any(gaps <= 0):
        k = int(np.argmax(gaps <= 0))
        kind = "duplicate" if gaps[k] == 0 else "unsorted"
        raise ValueError(
            f"particles must be strictly increasing: {kind} positions at indices {k}, {k + 1} "
            f"({xs[k]!r}, {xs[k + 1]!r}); sort them (np.sort) and remove duplicates"
        )
    return xs


def _hessian_diag(grad_f, hess_f, xs):
    if hess_f is not None:
        return np.broadcast_to(np.asarray(hess_f(xs), dtype=float), xs.shape)
    h = 1e-5 * (1.0 + np.abs(xs))
    return (np.asarray(grad_f(xs + h), dtype=float) - np.asarray(grad_f(xs - h), dtype=float)) / (2 * h)


def _jko_gradient(xs, ys, grad_f, beta, tau):
    inv = 1.0 / np.diff(xs)
    g = (xs - ys) / tau + np.asarray(grad_f(xs), dtype=float)
    g[:-1] += inv / beta
    g[1:] -= inv / beta
    return g, inv


def jko_step_1d(particles, grad_f: Callable, beta: float, tau: float, *, hess_f: Callable | None = None,
                tol: float = 1e-11, max_iter: int = 100) -> np.ndarray:
    """One JKO step ρ_{k+1} = argmin W2²(ρ, ρ_k)/(2τ) + ∫ f ρ + β⁻¹ ∫ ρ log ρ, with particles.

    ``particles`` are the sorted positions y_1 < … < y_N of ρ_k (mass 1/N each, quantile levels
    (i − ½)/N). The step solves (x_i − y_i)/τ + f′(x_i) + β⁻¹(1/Δ_i − 1/Δ_{i−1}) = 0
    (Δ_i = x_{i+1} − x_i; missing neighbours dropped) by Newton's method on the tridiagonal
    Hessian 1/τ + f″ + β⁻¹(1/Δ_i² + 1/Δ_{i−1}²), off-diagonal −β⁻¹/Δ_i², with step halving that
    keeps the particles ordered and reduces the residual. ``grad_f`` is vectorised; ``hess_f``
    (f″) is optional, else a central difference of ``grad_f`` is used. The scheme is implicit
    Euler in the Wasserstein metric: first order in τ.

    Raises ``ValueError`` for τ ≤ 0, β ≤ 0, unsorted or duplicate particles, and
    ``RuntimeError`` if Newton does not converge (lower τ).

    Used in: 06_wasserstein_jko
    """
    ys = _check_particles(particles)
    beta = checks.positive(beta, "beta (inverse temperature)")
    tau = checks.positive(tau, "tau (JKO time step)")
    if not callable(grad_f):
        raise TypeError("grad_f must be a vectorised callable x -> f'(x)")
    g0 = np.asarray(grad_f(ys), dtype=float)
    if g0.shape != ys.shape or not np.all(np.isfinite(g0)):
        raise ValueError(f"grad_f must return finite values of shape {ys.shape}")
    scale = max(float(np.ptp(ys)), 1e-300)
    xs = ys.copy()
    g, inv = _jko_gradient(xs, ys, grad_f, beta, tau)
    res = float(np.linalg.norm(g))
    for _ in range(max_iter):
        diag = 1.0 / tau + _hessian_diag(grad_f, hess_f, xs)
        inv2 = inv**2 / beta
        diag = diag.copy()
        diag[:-1] += inv2
        diag[1:] += inv2
        ab = np.zeros((3, xs.size))
        ab[0, 1:] = -inv2
        ab[1] = diag
        ab[2, :-1] = -inv2
        step = solve_banded((1, 1), ab, -g)
        alpha = 1.0
        while True:
            trial = xs + alpha * step
            if np.all(np.diff(trial) > 0):
                g_t, inv_t = _jko_gradient(trial, ys, grad_f, beta, tau)
                res_t = float(np.linalg.norm(g_t))
                if res_t < res or alpha * np.max(np.abs(step)) < tol * scale:
                    break
            alpha /= 2
            if alpha < 1e-12:
                raise RuntimeError("JKO Newton line search failed; lower tau")
        xs, g, inv, res = trial, g_t, inv_t, res_t
        if alpha * np.max(np.abs(step)) < tol * scale:
            return xs
    raise RuntimeError(f"JKO Newton iteration did not converge in {max_iter} iterations; lower tau (={tau})")


@dataclass
class JKOFlow:
    """Snapshots of a 1-D JKO flow: ``times`` (T,), ``particles`` (T, N); ``tau``, ``beta``.

    Used in: 06_wasserstein_jko
    """

    times: np.ndarray
    particles: np.ndarray
    tau: float
    beta: float

    @property
    def final(self) -> np.ndarray:
        """The particles at the last recorded time."""
        return self.particles[-1]


def jko_flow_1d(particles, grad_f: Callable, beta: float, tau: float, n_steps: int, *,
                record_every: int = 1, hess_f: Callable | None = None) -> JKOFlow:
    """``n_steps`` JKO steps of size τ from ``particles``; snapshots every ``record_every`` steps.

    The first snapshot is the initial condition (time 0), the last the state at time n_steps·τ.

    Used in: 06_wasserstein_jko
    """
    xs = _check_particles(particles)
    beta = checks.positive(beta, "beta (inverse temperature)")
    tau = checks.positive(tau, "tau (JKO time step)")
    for val, name in ((n_steps, "n_steps"), (record_every, "record_every")):
        if isinstance(val, bool) or not isinstance(val, numbers.Integral) or val < 1:
            raise ValueError(f"{name} must be a positive integer, got {val!r}")
    times, snaps = [0.0], [xs.copy()]
    for k in range(1, n_steps + 1):
        xs = jko_step_1d(xs, grad_f, beta, tau, hess_f=hess_f)
        if k % record_every == 0 or k == n_steps:
            times.append(k * tau)
            snaps.append(xs.copy())
    return JKOFlow(np.array(times), np.array(snaps), tau, beta)


def jko_gaussian_step(m, s, tau, beta):
    """One exact JKO step for f = x²/2 from N(m, s²): returns (m′, s′) of the Gaussian minimiser.

    m′ = m/(1 + τ) and s′ = [s + sqrt(s² + 4(1 + τ)τ/β)] / (2(1 + τ)) (the positive root of
    (1 + τ)s′² − s s′ − τ/β = 0); derived in :func:`gaussian_jko_step_symbolic`.

    Used in: 06_wasserstein_jko
    """
    tau = checks.positive(tau, "tau (JKO time step)")
    beta = checks.positive(beta, "beta (inverse temperature)")
    return m / (1 + tau), (s + np.sqrt(s**2 + 4 * (1 + tau) * tau / beta)) / (2 * (1 + tau))


# ----------------------------------------------------------------------------------- 2-D POT
def w2_2d_samples(a, b, *, squared: bool = False) -> float:
    """W2 between two point clouds in ℝᵈ (uniform weights) by exact OT: ``ot.emd2``.

    ``a`` is (n, d), ``b`` is (m, d); the cost is the squared Euclidean distance. Keep n, m ≲ a few
    thousand (the network simplex is O(n³) in the worst case). Returns W2 or W2².

    Used in: 06_wasserstein_jko
    """
    import ot

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"samples must be 2-D arrays (n, d), got shapes {a.shape} and {b.shape}")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"samples live in different dimensions: a is {a.shape}, b is {b.shape}")
    if a.shape[0] == 0 or b.shape[0] == 0:
        raise ValueError("samples must be non-empty")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise ValueError("samples contain NaN or infinite values")
    wa = np.full(a.shape[0], 1.0 / a.shape[0])
    wb = np.full(b.shape[0], 1.0 / b.shape[0])
    w2sq = max(float(ot.emd2(wa, wb, ot.dist(a, b), numItermax=1_000_000)), 0.0)
    return w2sq if squared else float(np.sqrt(w2sq))


# ------------------------------------------------------------------------------ symbolic part
@dataclass(frozen=True)
class WassersteinFP:
    """SymPy objects of the W2-gradient-flow form of (FP) with D = I in d dimensions.

    ``first_variation`` = ∂/∂ρ of the integrand f ρ + β⁻¹ ρ log ρ; ``gradient_flow`` =
    ∇·(ρ ∇ δF/δρ); ``fokker_planck`` = ∇·(∇f ρ + β⁻¹ ∇ρ). Used in: 06_wasserstein_jko
    """

    xs: tuple
    beta: sp.Symbol
    f: sp.Expr
    rho: sp.Expr
    first_variation: sp.Expr
    gradient_flow: sp.Expr
    fokker_planck: sp.Expr


def wasserstein_fp_identity(d: int = 2) -> WassersteinFP:
    """Derive δF/δρ = f + β⁻¹(log ρ + 1) and the two sides of ∇·(ρ∇δF/δρ) = ∇·(∇f ρ + β⁻¹∇ρ).

    f and ρ are undefined SymPy functions of x_1..x_d. Used in: 06_wasserstein_jko
    """
    xs = sp.symbols(f"x_1:{d + 1}", real=True)
    beta = sp.Symbol("beta", positive=True)
    f = sp.Function("f")(*xs)
    rho = sp.Function("rho", positive=True)(*xs)
    r = sp.Symbol("r", positive=True)  # ρ as a plain variable for the pointwise derivative
    integrand = f * r + r * sp.log(r) / beta
    dF = sp.diff(integrand, r).subs(r, rho)
    flow = sum(sp.diff(rho * sp.diff(dF, xi), xi) for xi in xs)
    fp = sum(sp.diff(sp.diff(f, xi) * rho + sp.diff(rho, xi) / beta, xi) for xi in xs)
    return WassersteinFP(xs, beta, f, rho, sp.expand(dF), flow, fp)


@dataclass(frozen=True)
class GaussianJKO:
    """One JKO step among Gaussians for f = x²/2: the objective and its minimiser.

    ``objective`` = ((m − m0)² + (s − s0)²)/(2τ) + (m² + s²)/2 − β⁻¹ log s (up to a constant);
    ``m_new``, ``s_new`` its stationary point; ``closed_form`` the pair from
    :func:`jko_gaussian_step`. Used in: 06_wasserstein_jko
    """

    m: sp.Symbol
    s: sp.Symbol
    m0: sp.Symbol
    s0: sp.Symbol
    tau: sp.Symbol
    beta: sp.Symbol
    objective: sp.Expr
    m_new: sp.Expr
    s_new: sp.Expr


def gaussian_jko_step_symbolic() -> GaussianJKO:
    """Solve the JKO step from N(m0, s0²) for f = x²/2 over Gaussians N(m, s²), exactly.

    Uses W2²(N(m, s²), N(m0, s0²)) = (m − m0)² + (s − s0)², E f = (m² + s²)/2 and the entropy
    H = log s + const. Among all densities the minimiser is Gaussian here, because the
    optimality condition is linear in x for a Gaussian ansatz. Used in: 06_wasserstein_jko
    """
    m, m0 = sp.symbols("m m_0", real=True)
    s, s0, tau, beta = sp.symbols("s s_0 tau beta", positive=True)
    obj = ((m - m0) ** 2 + (s - s0) ** 2) / (2 * tau) + (m**2 + s**2) / 2 - sp.log(s) / beta
    m_new = sp.solve(sp.diff(obj, m), m)[0]
    roots = sp.solve(sp.diff(obj, s), s)
    s_new = [r for r in roots if r.subs({s0: 1, tau: sp.Rational(1, 10), beta: 1}) > 0][0]
    return GaussianJKO(m, s, m0, s0, tau, beta, obj, sp.simplify(m_new), sp.simplify(s_new))


def stationary_current_constant_d(grad_f, D, rho, xs, beta) -> sp.Matrix:
    """The FP probability current J = −∇f ρ − β⁻¹ D ∇ρ for a constant matrix D (SymPy).

    (FP) reads ∂tρ = −∇·J; a density with J ≡ 0 is stationary and in detailed balance.
    ``grad_f`` is a column of expressions in ``xs``. Used in: 06_wasserstein_jko
    """
    grad_rho = sp.Matrix([sp.diff(rho, xi) for xi in xs])
    return (-sp.Matrix(grad_f) * rho - sp.Matrix(D) * grad_rho / beta).applyfunc(sp.simplify)
