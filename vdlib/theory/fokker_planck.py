"""Conservative finite-volume Fokker–Planck solvers (1-D and 2-D, no-flux walls, SciPy sparse).

Convention (shared by Part II). The SDE is dx = b(x) dt + √(2β⁻¹D(x)) dW (for SGD b = −∇f),
and its Itô Fokker–Planck equation is

    ∂tρ = −∇·(bρ) + β⁻¹ Σ_ij ∂i∂j(D_ij ρ) = −∇·𝒥,   𝒥 = bρ − β⁻¹∇·(Dρ),

with the matrix divergence taken row by row, (∇·(Dρ))_i = Σ_j ∂_j(D_ij ρ). Here 𝒥 is the
*probability current* (the paper's J^ss at stationarity, so that j = 𝒥/ρ^ss); the "flux" of the
opposite sign convention, J = −bρ + β⁻¹∇·(Dρ) with ∂tρ = ∇·J, is −𝒥.

Discretisation. Cell centres on a uniform grid; ρ_k is the density (cell average) of cell k.
The walls of the box are no-flux (𝒥·n = 0), so total mass is conserved exactly.

* 1-D. The current 𝒥 = bρ − β⁻¹(Dρ)′ is written with u = Dρ as 𝒥 = −β⁻¹(u′ − β(b/D)u) and
  discretised by the Scharfetter–Gummel (exponential fitting) flux on each face,

      𝒥_{k+½} = (β⁻¹/h) [B(−P) u_k − B(P) u_{k+1}],   P = β h (b/D)(x_{k+½}),   B(z) = z/(eᶻ − 1),

  which is exact when b/D is constant on the face, upwinds automatically when |P| is large,
  and makes the generator an M-matrix (non-negative off-diagonal rates). The discrete stationary
  density agrees with ρ ∝ D⁻¹exp(−β∫ f′/D) (Gibbs e^{−βf}/Z for constant D) to second order in h.
* 2-D. With w = D⁻¹(b − β⁻¹∇·D) the current is 𝒥 = −β⁻¹D(∇ρ − βwρ) =: −β⁻¹D G. Each
  component of G is exponentially fitted on its own faces, G^x_{i+½,j} = (1/h_x)[B(P)ρ_{i+1,j} −
  B(−P)ρ_{i,j}] with P = βh_x w_x(face) (likewise G^y), and

      𝒥_x = −β⁻¹[D_xx G^x + D_xy ⟨G^y⟩],   𝒥_y = −β⁻¹[D_yy G^y + D_xy ⟨G^x⟩],

  where ⟨·⟩ is the centred average of the (up to four) neighbouring faces of the other family.
  ∇·D of a callable D is taken by centred differences (step h/2). The diagonal part keeps the
  M-matrix structure; for w = −∇Φ (e.g. b = −D∇f with constant D) every G vanishes on the
  sampled Gibbs profile up to O(h²), so the Gibbs law is reproduced to second order even with
  cross terms. **Positivity caveat:** the cross terms D_xy ⟨·⟩ break the M-matrix property. For a
  strongly anisotropic D (|D_xy| comparable to √(D_xx D_yy)) combined with a non-gradient w on
  a coarse grid, the discrete solution can become negative in the tails. The solvers check:
  round-off negatives ≥ −1e-12·max ρ are clipped and the density renormalised; anything worse
  raises ``ValueError`` suggesting a finer grid or weaker anisotropy.

Stationary states are null vectors of the generator (one equation replaced by a pin, then the
result normalised); time stepping is backward Euler with the matrix I − Δt L factorised once
(SuperLU), which is unconditionally stable and, without cross terms, positivity preserving.

All returned densities are normalised: ``rho.sum() * cell == 1`` with ``cell`` = Δx (1-D) or
Δx Δy (2-D).

Used in: 03_fokker_planck, 04_potential_and_force, 05_variational_inference, 06_wasserstein_jko,
08_critical_points_move
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .. import checks

__all__ = [
    "FPEvolution",
    "bernoulli",
    "generator_1d",
    "generator_2d",
    "stationary_1d",
    "evolve_1d",
    "stationary_2d",
    "evolve_2d",
    "current_2d",
    "kl_divergence",
    "entropy",
    "free_energy",
]

_NEG_TOL = 1e-12


# --------------------------------------------------------------------------------------------
# result container
# --------------------------------------------------------------------------------------------
@dataclass
class FPEvolution:
    """A Fokker–Planck run (what :func:`evolve_1d` and :func:`evolve_2d` return).

    * ``times``: snapshot times, shape (T,); the first is 0, the last ``t_end``;
    * ``rho``: the normalised densities at those times, shape ``(T, *grid)``;
    * ``stationary``: the discrete stationary density of the same scheme, shape grid;
    * ``kl``: KL(ρ_t ‖ ρ^ss) at the snapshot times, shape (T,);
    * ``free_energy``: F(ρ_t) = E_ρ[Φ] − β⁻¹H(ρ_t) with Φ = −β⁻¹ log ρ^ss (so F = β⁻¹ KL here;
      pass another Φ to :func:`free_energy` to shift it by a constant), shape (T,);
    * ``cell``: the cell volume (Δx or Δx Δy); ``dt``: the step used; ``beta``: β.

    Used in: 05_variational_inference, 06_wasserstein_jko
    """

    times: np.ndarray
    rho: np.ndarray
    stationary: np.ndarray
    kl: np.ndarray
    cell: float
    free_energy: np.ndarray = field(default=None, repr=False)
    dt: float = 0.0
    beta: float = 1.0

    @property
    def mass(self) -> np.ndarray:
        """Total mass Σρ·cell of each snapshot (1 up to round-off)."""
        axes = tuple(range(1, self.rho.ndim))
        return self.rho.sum(axis=axes) * self.cell


# --------------------------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------------------------
def _grid(x, name: str = "x") -> tuple[np.ndarray, float]:
    x = np.asarray(x, dtype=float)
    if x.ndim != 1:
        raise ValueError(f"grid {name} must be a 1-D array of cell centres, got shape {x.shape}")
    if x.size < 3:
        raise ValueError(f"grid {name} needs at least 3 points, got {x.size}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"grid {name} contains NaN or infinite entries")
    d = np.diff(x)
    if np.any(d <= 0):
        k = int(np.argmax(d <= 0))
        raise ValueError(
            f"grid {name} must be strictly increasing, but {name}[{k + 1}] = {x[k + 1]:g} <= {name}[{k}] = {x[k]:g}; "
            f"use e.g. np.linspace"
        )
    h = (x[-1] - x[0]) / (x.size - 1)
    if np.max(np.abs(d - h)) > 1e-6 * h:
        raise ValueError(
            f"grid {name} must be uniform (equal spacing): spacings range from {d.min():.6g} to {d.max():.6g}; "
            "use np.linspace(a, b, n) or cell centres a + (k + ½)h"
        )
    return x, float(h)


def _finite(arr, what: str) -> np.ndarray:
    arr = np.asarray(arr, dtype=float)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{what} returned NaN or infinite values on the grid; check it or shrink the box")
    return arr


def _rho0(rho0, shape) -> np.ndarray:
    r = np.asarray(rho0, dtype=float)
    if r.shape != tuple(shape):
        raise ValueError(f"rho0 must have the grid's shape {tuple(shape)}, got {r.shape}")
    if not np.all(np.isfinite(r)):
        raise ValueError("rho0 contains NaN or infinite entries")
    if np.any(r < 0):
        raise ValueError(f"rho0 must be non-negative (a density), but its minimum is {r.min():.3g}")
    if r.sum() <= 0:
        raise ValueError("rho0 has zero total mass; give a density with positive mass")
    return r


def _steps(t_end, dt) -> tuple[int, float]:
    t_end = checks.positive(t_end, "t_end")
    dt = checks.positive(dt, "dt")
    n = max(1, int(math.ceil(t_end / dt - 1e-9)))
    return n, t_end / n


def _clip_normalise(rho: np.ndarray, cell: float, what: str, hint: str) -> np.ndarray:
    if not np.all(np.isfinite(rho)):
        raise FloatingPointError(f"{what}: the density became NaN or infinite; {hint}")
    m = float(np.max(rho))
    if m <= 0:
        raise ValueError(f"{what}: the density has no positive entries; {hint}")
    lo = float(np.min(rho))
    if lo < -_NEG_TOL * m:
        raise ValueError(
            f"{what}: the density has negative values (min/max = {lo / m:.3g}), beyond round-off. "
            f"{hint}"
        )
    rho = np.clip(rho, 0.0, None)
    return rho / (rho.sum() * cell)


_POS_HINT_2D = (
    "The centred cross-diffusion terms (D_xy ≠ 0) break the discrete maximum principle when the "
    "anisotropy is strong relative to the grid; refine the grid, reduce |D_xy|/√(D_xx D_yy), or "
    "rotate coordinates so that D is closer to diagonal (see the positivity caveat in "
    "vdlib.theory.fokker_planck)"
)


# --------------------------------------------------------------------------------------------
# Scharfetter–Gummel pieces
# --------------------------------------------------------------------------------------------
def bernoulli(z):
    """The Bernoulli function B(z) = z/(eᶻ − 1), with B(0) = 1, evaluated stably.

    B(z) − B(−z) = −z and B(z) > 0; B(z) → 0 as z → +∞ and B(z) ≈ −z as z → −∞.

    Used in: 04_potential_and_force, 05_variational_inference, 06_wasserstein_jko
    """
    z = np.asarray(z, dtype=float)
    out = np.ones_like(z)
    small = np.abs(z) < 1e-6
    with np.errstate(over="ignore"):
        zz = z[~small]
        out[~small] = zz / np.expm1(zz)
    zs = z[small]
    out[small] = 1.0 - zs / 2.0 + zs * zs / 12.0
    return out


def _sg_coefficients(v_face, D_left, D_right, beta, h):
    """Rates g (from the left cell to the right) and r (right to left) across faces.

    The current through a face is 𝒥·h⁻¹ = g ρ_left − r ρ_right in density per time units.
    """
    P = beta * h * v_face
    c = 1.0 / (beta * h * h)
    g = c * bernoulli(-P) * D_left
    r = c * bernoulli(P) * D_right
    return g, r


def _sg_triplets(g, r, left, right):
    """COO triplets for ∂tρ from face rates: −g ρ_L + r ρ_R on the left, +g ρ_L − r ρ_R on the right."""
    rows = np.concatenate([left, left, right, right])
    cols = np.concatenate([left, right, left, right])
    vals = np.concatenate([-g, r, g, -r])
    return rows, cols, vals


# --------------------------------------------------------------------------------------------
# 1-D
# --------------------------------------------------------------------------------------------
def _D_1d(D, x):
    if callable(D):
        Dx = _finite(np.broadcast_to(np.asarray(D(x), dtype=float), x.shape), "D(x)")
    else:
        Dx = np.broadcast_to(np.asarray(D, dtype=float), x.shape).astype(float)
        if not np.all(np.isfinite(Dx)):
            raise ValueError("D contains NaN or infinite entries")
    if np.any(Dx <= 0):
        k = int(np.argmin(Dx))
        raise ValueError(f"D must be positive everywhere, but D({x[k]:g}) = {Dx[k]:.3g}; a diffusion coefficient is > 0")
    return Dx


def _faces_1d(grad_f, D, beta, x):
    x, h = _grid(x)
    beta = checks.positive(beta, "beta")
    if not callable(grad_f):
        raise TypeError(f"grad_f must be a vectorised callable x -> f'(x), got {type(grad_f).__name__}")
    xf = 0.5 * (x[:-1] + x[1:])
    Dc = _D_1d(D, x)
    Df = _D_1d(D, xf)
    b = -_finite(np.broadcast_to(np.asarray(grad_f(xf), dtype=float), xf.shape), "grad_f(x)")
    return x, h, beta, Dc, Df, b


def generator_1d(grad_f, D, beta, x) -> sp.csc_matrix:
    """The sparse generator L of the 1-D scheme: dρ/dt = L ρ (columns sum to 0, off-diagonals ≥ 0).

    Drift b = −f′, state-dependent D > 0, Scharfetter–Gummel fluxes, no-flux walls.

    Used in: 04_potential_and_force, 06_wasserstein_jko
    """
    x, h, beta, Dc, Df, b = _faces_1d(grad_f, D, beta, x)
    n = x.size
    g, r = _sg_coefficients(b / Df, Dc[:-1], Dc[1:], beta, h)
    k = np.arange(n - 1)
    rows, cols, vals = _sg_triplets(g, r, k, k + 1)
    return sp.csc_matrix((vals, (rows, cols)), shape=(n, n))


def stationary_1d(grad_f, D, beta, x) -> np.ndarray:
    """Stationary density of dx = −f′(x) dt + √(2β⁻¹D(x)) dW on the cell centres ``x``.

    Parameters: ``grad_f`` and ``D`` are vectorised callables of x (``D`` may also be a positive
    constant), ``beta`` > 0, ``x`` increasing uniform cell centres (≥ 3). The box has no-flux walls.

    In 1-D the discrete stationary state has zero current on every face, so the null vector of
    :func:`generator_1d` is obtained exactly by the recursion u_{k+1} = u_k e^{P_k} for
    u = Dρ (computed in log space, so large β cannot overflow). The result approximates
    ρ ∝ D⁻¹ exp(−β∫ f′/D) to second order in Δx and is normalised: ``rho.sum() * dx == 1``.

    Used in: 04_potential_and_force, 06_wasserstein_jko
    """
    x, h, beta, Dc, Df, b = _faces_1d(grad_f, D, beta, x)
    P = beta * h * b / Df
    logu = np.concatenate([[0.0], np.cumsum(P)])
    logrho = logu - np.log(Dc)
    rho = np.exp(logrho - logrho.max())
    return rho / (rho.sum() * h)


def _evolve(L, rho0, stationary, cell, t_end, dt, record_every, beta, grid_shape, what, hint):
    n_steps, dt = _steps(t_end, dt)
    record_every = checks.integer(record_every, "record_every", 1)
    r = rho0.ravel() / (rho0.sum() * cell)
    N = r.size
    A = (sp.identity(N, format="csc") - dt * L).tocsc()
    lu = spla.splu(A)
    phi = -np.log(np.where(stationary > 0, stationary, np.finfo(float).tiny)) / beta
    times, rhos = [0.0], [r.reshape(grid_shape).copy()]
    for k in range(1, n_steps + 1):
        r = lu.solve(r)
        if not np.all(np.isfinite(r)):
            raise FloatingPointError(
                f"{what}: NaN or infinite density at step {k} (t = {k * dt:g}); try a smaller dt "
                f"(got dt = {dt:g}) or check the drift and diffusion"
            )
        if k % record_every == 0 or k == n_steps:
            m = float(r.max())
            if r.min() < -_NEG_TOL * m:
                raise ValueError(
                    f"{what}: negative density at step {k} (t = {k * dt:g}, min/max = {r.min() / m:.3g}). {hint}"
                )
            r = np.clip(r, 0.0, None)
            r = r / (r.sum() * cell)
            times.append(k * dt)
            rhos.append(r.reshape(grid_shape).copy())
    rho = np.stack(rhos)
    kl = np.array([kl_divergence(p, stationary, cell) for p in rho])
    F = np.array([free_energy(p, phi.reshape(grid_shape), beta, cell) for p in rho])
    return FPEvolution(times=np.asarray(times), rho=rho, stationary=stationary, kl=kl, cell=cell,
                       free_energy=F, dt=dt, beta=beta)


def evolve_1d(grad_f, D, beta, x, rho0, t_end, *, dt, record_every=1) -> FPEvolution:
    """Evolve ρ from ``rho0`` to time ``t_end`` by backward Euler on the 1-D scheme.

    ``rho0`` (shape of ``x``, non-negative) is normalised first, so any positive multiple of a
    density may be given. The number of steps is ⌈t_end/dt⌉ and the step is shrunk to
    t_end/⌈t_end/dt⌉ so that the last snapshot is exactly at ``t_end``; a snapshot is kept every
    ``record_every`` steps (and at the end). Mass is conserved to round-off and, the matrix
    I − Δt L being an M-matrix, ρ stays non-negative for every Δt.

    Used in: 06_wasserstein_jko
    """
    L = generator_1d(grad_f, D, beta, x)
    x, h = _grid(x)
    r0 = _rho0(rho0, x.shape)
    st = stationary_1d(grad_f, D, beta, x)
    return _evolve(L, r0, st, h, t_end, dt, record_every, float(beta), x.shape, "evolve_1d",
                   "try a smaller dt")


# --------------------------------------------------------------------------------------------
# 2-D
# --------------------------------------------------------------------------------------------
def _D_2d(D, X, Y):
    if callable(D):
        Dm = np.asarray(D(X, Y), dtype=float)
        if Dm.shape != X.shape + (2, 2):
            raise ValueError(f"D(X, Y) must return an array of shape {X.shape + (2, 2)}, got {Dm.shape}")
        _finite(Dm, "D(X, Y)")
    else:
        Dm = np.asarray(D, dtype=float)
        if Dm.shape != (2, 2):
            raise ValueError(f"a constant D must be a 2×2 matrix, got shape {Dm.shape}")
        if not np.all(np.isfinite(Dm)):
            raise ValueError("D contains NaN or infinite entries")
        Dm = np.broadcast_to(Dm, X.shape + (2, 2))
    dxx, dxy, dyx, dyy = Dm[..., 0, 0], Dm[..., 0, 1], Dm[..., 1, 0], Dm[..., 1, 1]
    scale = max(1.0, float(np.max(np.abs(Dm))))
    if np.max(np.abs(dxy - dyx)) > 1e-10 * scale:
        raise ValueError("D must be symmetric (D_xy == D_yx); symmetrise it with (D + Dᵀ)/2")
    det = dxx * dyy - dxy * dyx
    if np.any(dxx <= 0) or np.any(det <= 0):
        bad = np.unravel_index(int(np.argmin(np.minimum(dxx, det))), X.shape)
        raise ValueError(
            "D must be symmetric positive definite at every grid point, but at "
            f"(x, y) = ({X[bad]:g}, {Y[bad]:g}) D = {np.array(Dm[bad]).round(6).tolist()}; "
            "a diffusion matrix needs D_xx > 0 and det D > 0"
        )
    return np.ascontiguousarray(dxx), np.ascontiguousarray(0.5 * (dxy + dyx)), np.ascontiguousarray(dyy)


def _drift_2d(drift, X, Y):
    if not callable(drift):
        raise TypeError(f"drift must be a callable (X, Y) -> (bx, by), got {type(drift).__name__}")
    out = drift(X, Y)
    try:
        bx, by = out
    except (TypeError, ValueError):
        raise ValueError("drift(X, Y) must return a pair (bx, by) of arrays shaped like X") from None
    bx = np.broadcast_to(np.asarray(bx, dtype=float), X.shape)
    by = np.broadcast_to(np.asarray(by, dtype=float), X.shape)
    return _finite(bx, "drift"), _finite(by, "drift")


def _avg_matrix(n: int) -> sp.csr_matrix:
    """Average of neighbouring cells onto the n − 1 interior faces, shape (n − 1, n)."""
    return sp.diags([np.full(n - 1, 0.5), np.full(n - 1, 0.5)], [0, 1], shape=(n - 1, n), format="csr")


def _face_to_cell_avg(n: int) -> sp.csr_matrix:
    """Average of the interior faces k − ½, k + ½ onto cell k (the one face at a wall), shape (n, n − 1)."""
    A = sp.diags([np.full(n - 1, 0.5), np.full(n - 1, 0.5)], [-1, 0], shape=(n, n - 1), format="lil")
    A[0, 0] = 1.0
    A[n - 1, n - 2] = 1.0
    return A.tocsr()


def _diff_matrix(n: int) -> sp.csr_matrix:
    """Face-to-cell difference with zero wall fluxes: (F_{k+½} − F_{k−½}) for k = 0..n−1, shape (n, n − 1)."""
    return sp.diags([-np.ones(n - 1), np.ones(n - 1)], [-1, 0], shape=(n, n - 1), format="csr")


def _sg_gradient(P, h, nx, ny, axis):
    """Sparse operator ρ ↦ G = ∂ρ − βwρ on the faces of ``axis`` by exponential fitting.

    G_{k+½} = (1/h)[B(P) ρ_{k+1} − B(−P) ρ_k] with P = β h w(face): exact when w is constant
    across the face, so G vanishes on a local Gibbs profile ρ ∝ e^{β∫w}.
    """
    idx = np.arange(nx * ny).reshape(nx, ny)
    if axis == 0:
        left, right = idx[:-1, :].ravel(), idx[1:, :].ravel()
    else:
        left, right = idx[:, :-1].ravel(), idx[:, 1:].ravel()
    P = P.ravel()
    m = P.size
    rows = np.concatenate([np.arange(m), np.arange(m)])
    cols = np.concatenate([right, left])
    vals = np.concatenate([bernoulli(P), -bernoulli(-P)]) / h
    return sp.csr_matrix((vals, (rows, cols)), shape=(m, nx * ny))


def _div_D(D, X, Y, hx, hy):
    """(∇·D)_i = Σ_j ∂_j D_ij at the points (X, Y), by centred differences of the callable D (step h/2)."""
    if not callable(D):
        return 0.0, 0.0
    ex, ey = 0.5 * hx, 0.5 * hy
    Dxp, Dxm = np.asarray(D(X + ex, Y), dtype=float), np.asarray(D(X - ex, Y), dtype=float)
    Dyp, Dym = np.asarray(D(X, Y + ey), dtype=float), np.asarray(D(X, Y - ey), dtype=float)
    dx_ = (Dxp - Dxm) / (2 * ex)
    dy_ = (Dyp - Dym) / (2 * ey)
    return _finite(dx_[..., 0, 0] + dy_[..., 0, 1], "D"), _finite(dx_[..., 1, 0] + dy_[..., 1, 1], "D")


def _effective_velocity(drift, D, beta, X, Y, hx, hy):
    """w = D⁻¹(b − β⁻¹∇·D) at the points (X, Y), so that 𝒥 = −β⁻¹D(∇ρ − βwρ); also returns D there."""
    dxx, dxy, dyy = _D_2d(D, X, Y)
    bx, by = _drift_2d(drift, X, Y)
    cx, cy = _div_D(D, X, Y, hx, hy)
    ax, ay = bx - cx / beta, by - cy / beta
    det = dxx * dyy - dxy * dxy
    return (dyy * ax - dxy * ay) / det, (-dxy * ax + dxx * ay) / det, (dxx, dxy, dyy)


def _assemble_2d(drift, D, beta, x, y):
    """Assemble the 2-D generator and the face-current operators.

    On x-faces 𝒥_x = −β⁻¹[D_xx G^x + D_xy ⟨G^y⟩], on y-faces 𝒥_y = −β⁻¹[D_yy G^y + D_xy ⟨G^x⟩],
    where G = ∇ρ − βwρ is exponentially fitted on its own faces (see :func:`_sg_gradient`) and
    ⟨·⟩ averages the (up to) four neighbouring faces of the other family.
    """
    x, hx = _grid(x, "x")
    y, hy = _grid(y, "y")
    beta = checks.positive(beta, "beta")
    nx, ny = x.size, y.size
    X, Y = np.meshgrid(x, y, indexing="ij")
    _D_2d(D, X, Y)  # SPD check on the cell centres
    Xf, Yf = np.meshgrid(0.5 * (x[:-1] + x[1:]), y, indexing="ij")  # x-faces (i+½, j)
    Xg, Yg = np.meshgrid(x, 0.5 * (y[:-1] + y[1:]), indexing="ij")  # y-faces (i, j+½)
    wxf, _, (Dxx_f, Dxy_f, _) = _effective_velocity(drift, D, beta, Xf, Yf, hx, hy)
    _, wyg, (_, Dxy_g, Dyy_g) = _effective_velocity(drift, D, beta, Xg, Yg, hx, hy)
    Gx = _sg_gradient(beta * hx * wxf, hx, nx, ny, 0)
    Gy = _sg_gradient(beta * hy * wyg, hy, nx, ny, 1)
    Fx = sp.diags(-Dxx_f.ravel() / beta) @ Gx
    Fy = sp.diags(-Dyy_g.ravel() / beta) @ Gy
    cross = bool(np.any(Dxy_f != 0) or np.any(Dxy_g != 0))
    if cross:
        # y-faces → x-faces: average over i' ∈ {i, i+1} (cells either side) and j' ∈ {j−½, j+½}
        Ayx = sp.kron(_avg_matrix(nx), _face_to_cell_avg(ny))
        Axy = sp.kron(_face_to_cell_avg(nx), _avg_matrix(ny))
        Fx = Fx + sp.diags(-Dxy_f.ravel() / beta) @ (Ayx @ Gy)
        Fy = Fy + sp.diags(-Dxy_g.ravel() / beta) @ (Axy @ Gx)
    Ix, Iy = sp.identity(nx, format="csr"), sp.identity(ny, format="csr")
    L = -(1.0 / hx) * (sp.kron(_diff_matrix(nx), Iy) @ Fx) - (1.0 / hy) * (sp.kron(Ix, _diff_matrix(ny)) @ Fy)
    return dict(L=L.tocsc(), x=x, y=y, hx=hx, hy=hy, beta=beta, Fx=Fx.tocsr(), Fy=Fy.tocsr(), cross=cross,
                shape=(nx, ny))


def generator_2d(drift, D, beta, x, y) -> sp.csc_matrix:
    """The sparse generator L of the 2-D scheme on the "ij" tensor grid (ρ flattened in C order).

    Used in: 04_potential_and_force, 05_variational_inference, 06_wasserstein_jko
    """
    return _assemble_2d(drift, D, beta, x, y)["L"]


def _pin_row(L: sp.csc_matrix, pin: int) -> sp.csc_matrix:
    """L with row ``pin`` replaced by e_pin (the equation ρ_pin = 1). The rows of L add up to the
    zero row (mass conservation), so the dropped equation is implied by the others."""
    Lr = L.tocsr(copy=True)
    start, end = Lr.indptr[pin], Lr.indptr[pin + 1]
    cols = Lr.indices[start:end]
    if pin not in cols:  # pragma: no cover - every generator row has a diagonal entry
        raise RuntimeError("internal error: the generator has no diagonal entry")
    Lr.data[start:end] = np.where(cols == pin, 1.0, 0.0)
    return Lr.tocsc()


def _stationary_from(asm) -> np.ndarray:
    L = asm["L"]
    nx, ny = asm["shape"]
    cell = asm["hx"] * asm["hy"]
    N = L.shape[0]
    # Pin at the interior cell with the smallest total outflow rate −L_kk (a cheap guess at the
    # mode). If that cell carries a negligible density (far from the mode its value underflows
    # and the pinned system is numerically singular), the solution is dominated by the null
    # vector at a huge scale, of either sign: re-pin at the largest |ρ| and solve again.
    out = (-L.diagonal()).reshape(nx, ny)
    inner = out[1:-1, 1:-1]
    i, j = np.unravel_index(int(np.argmin(inner)), inner.shape)
    pin = (i + 1) * ny + (j + 1)
    for _ in range(3):
        rhs = np.zeros(N)
        rhs[pin] = 1.0
        with np.errstate(all="ignore"):
            rho = spla.spsolve(_pin_row(L, pin), rhs, permc_spec="MMD_AT_PLUS_A")
        finite = np.all(np.isfinite(rho))
        top = float(np.max(np.abs(rho))) if finite else np.inf
        if finite and top < 1e6:
            break
        pin = int(np.nanargmax(np.where(np.isfinite(rho), np.abs(rho), -np.inf)))
    return _clip_normalise(rho.reshape(nx, ny), cell, "stationary_2d", _POS_HINT_2D)


def stationary_2d(drift, D, beta, x, y) -> np.ndarray:
    """Stationary density of dx = b dt + √(2β⁻¹D) dW on the tensor grid x × y ("ij" indexing).

    ``drift(X, Y) -> (bx, by)`` on ``np.meshgrid(x, y, indexing="ij")`` (any drift: gradient or
    not); ``D`` a constant 2×2 SPD matrix or a callable (X, Y) -> array of shape X.shape + (2, 2),
    SPD everywhere; ``beta`` > 0; x, y increasing uniform cell centres. No-flux walls.

    The null vector of :func:`generator_2d` is found by one sparse LU solve with one equation
    replaced by ρ_k = 1, then normalised so that ``rho.sum() * dx * dy == 1``. Round-off negatives
    (≥ −1e-12·max) are clipped; larger negative values raise ``ValueError`` (see the positivity
    caveat of the module docstring).

    Used in: 04_potential_and_force, 05_variational_inference, 06_wasserstein_jko
    """
    return _stationary_from(_assemble_2d(drift, D, beta, x, y))


def evolve_2d(drift, D, beta, x, y, rho0, t_end, *, dt, record_every=1) -> FPEvolution:
    """Evolve ρ from ``rho0`` (shape (len(x), len(y)), non-negative; normalised first) to ``t_end``.

    Backward Euler with I − Δt L factorised once; the step is shrunk to t_end/⌈t_end/dt⌉. Mass
    is conserved to round-off. Without cross diffusion (D_xy = 0) ρ stays non-negative for any
    Δt; with it, negative values beyond round-off raise ``ValueError``.

    Used in: 05_variational_inference
    """
    asm = _assemble_2d(drift, D, beta, x, y)
    r0 = _rho0(rho0, asm["shape"])
    st = _stationary_from(asm)
    return _evolve(asm["L"], r0, st, asm["hx"] * asm["hy"], t_end, dt, record_every, asm["beta"], asm["shape"],
                   "evolve_2d", "try a smaller dt; " + _POS_HINT_2D)


def current_2d(rho, drift, D, beta, x, y):
    """The probability current 𝒥 = bρ − β⁻¹∇·(Dρ) of the 2-D scheme, on the cell centres.

    The face currents of the discretisation (zero on the walls) are averaged onto the cells;
    returns (Jx, Jy), each of shape (len(x), len(y)). At the stationary state 𝒥 = j ρ^ss (the
    paper's J^ss); for a reversible (detailed-balance) case it vanishes up to discretisation error.

    Used in: 04_potential_and_force
    """
    asm = _assemble_2d(drift, D, beta, x, y)
    nx, ny = asm["shape"]
    rho = np.asarray(rho, dtype=float)
    if rho.shape != (nx, ny):
        raise ValueError(f"rho must have shape {(nx, ny)}, got {rho.shape}")
    Fx = (asm["Fx"] @ rho.ravel()).reshape(nx - 1, ny)
    Fy = (asm["Fy"] @ rho.ravel()).reshape(nx, ny - 1)
    zx = np.zeros((1, ny))
    zy = np.zeros((nx, 1))
    Fxf = np.concatenate([zx, Fx, zx], axis=0)
    Fyf = np.concatenate([zy, Fy, zy], axis=1)
    return 0.5 * (Fxf[:-1, :] + Fxf[1:, :]), 0.5 * (Fyf[:, :-1] + Fyf[:, 1:])


# --------------------------------------------------------------------------------------------
# functionals
# --------------------------------------------------------------------------------------------
def kl_divergence(p, q, cell) -> float:
    """KL(p ‖ q) = Σ p log(p/q) · cell for densities on the same grid (0 log 0 = 0).

    Returns ``inf`` if p > 0 where q = 0. The densities are used as given (not renormalised).

    Used in: 05_variational_inference, 06_wasserstein_jko
    """
    p = np.asarray(p, dtype=float)
    q = np.asarray(q, dtype=float)
    if p.shape != q.shape:
        raise ValueError(f"p and q must have the same shape, got {p.shape} and {q.shape}")
    cell = checks.positive(cell, "cell")
    if np.any(p < 0) or np.any(q < 0):
        raise ValueError("p and q must be non-negative densities")
    pos = p > 0
    if np.any(q[pos] == 0):
        return float("inf")
    return float(np.sum(p[pos] * np.log(p[pos] / q[pos])) * cell)


def entropy(rho, cell) -> float:
    """Differential entropy H(ρ) = −Σ ρ log ρ · cell (0 log 0 = 0).

    Used in: 05_variational_inference, 06_wasserstein_jko
    """
    rho = np.asarray(rho, dtype=float)
    cell = checks.positive(cell, "cell")
    if np.any(rho < 0):
        raise ValueError("rho must be a non-negative density")
    pos = rho > 0
    return float(-np.sum(rho[pos] * np.log(rho[pos])) * cell)


def free_energy(rho, Phi, beta, cell) -> float:
    """The free energy F(ρ) = E_ρ[Φ] − β⁻¹H(ρ) = Σ ρΦ·cell + β⁻¹ Σ ρ log ρ·cell (Theorem 5).

    With ρ^ss = e^{−βΦ}/Z this equals β⁻¹ KL(ρ ‖ ρ^ss) − β⁻¹ log Z.

    Used in: 05_variational_inference, 06_wasserstein_jko
    """
    rho = np.asarray(rho, dtype=float)
    Phi = np.asarray(Phi, dtype=float)
    if rho.shape != Phi.shape:
        raise ValueError(f"rho and Phi must have the same shape, got {rho.shape} and {Phi.shape}")
    beta = checks.positive(beta, "beta")
    return float(np.sum(rho * Phi) * checks.positive(cell, "cell") - entropy(rho, cell) / beta)
