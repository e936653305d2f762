"""Planar vector fields: critical points, noise-free orbits, periods, decay rates, circulation.

The tools of chapter 09 (Lemma 7 and Example 19 of the paper), written for any 2-D field given as
a vectorised NumPy callable ``field(X, Y) -> (U, V)`` (the convention of
:mod:`vdlib.theory.potentials`, e.g. ``lambda X, Y: potentials.example19_drift(X, Y, 1.5)``):

* :func:`critical_points`: all zeros of the field in a box, by Newton-type root finding
  (``scipy.optimize.root``, with the Jacobian) from a grid of starting points, de-duplicated by
  distance and classified by the eigenvalues of the Jacobian (:func:`classify`: saddle, node,
  focus, linear centre; stable or unstable);
* :func:`integrate_orbit`: the noise-free flow ẋ = field(x) with ``scipy.integrate.solve_ivp``
  at tight tolerances, recording the counter-clockwise crossings of a ray; :func:`orbit_periods`
  and :func:`amplitude_decay` turn an orbit into its return times and into the exponent of a
  power-law decay of its amplitude (a log-log least-squares fit);
* :func:`angular_momentum` (from Euler–Maruyama increments) and :func:`angular_momentum_drift`
  (from positions and the drift): the mean angular momentum ⟨x₁ẋ₂ − x₂ẋ₁⟩ of an ensemble;
* :func:`example19_torch_drift`: the drift of Example 19 as a torch function for
  :func:`vdlib.theory.sde.euler_maruyama`, with one λ per particle if wanted.

Symbolic derivations (SymPy), each returning both sides of what the chapter displays so that
``tests/test_ch09_identities.py`` asserts them: :func:`assumption4_family` (j = g(Φ)J∇Φ),
:func:`example19_stream_function`, :func:`example19_weak_focus` (linearisation, conserved
quadratic form and the averaged t^{-1/2} decay) and :func:`momentum_identities` (heavy ball as
underdamped Langevin, its temperature, and the phase-space circulation −2/β).

Used in: 09_limit_cycles
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass, field as dc_field
from typing import Callable, Sequence

import numpy as np

from .. import checks

__all__ = [
    "CriticalPoint",
    "numerical_jacobian",
    "classify",
    "critical_points",
    "Orbit",
    "integrate_orbit",
    "orbit_periods",
    "DecayFit",
    "amplitude_decay",
    "angular_momentum",
    "angular_momentum_drift",
    "example19_torch_drift",
    "Assumption4Family",
    "assumption4_family",
    "StreamFunction",
    "example19_stream_function",
    "WeakFocus",
    "example19_weak_focus",
    "Momentum",
    "momentum_identities",
]

Field = Callable[[np.ndarray, np.ndarray], tuple]

KINDS = (
    "saddle",
    "stable node",
    "unstable node",
    "stable focus",
    "unstable focus",
    "centre (linear)",
    "degenerate",
)


# --------------------------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------------------------
def _check_field(field) -> None:
    if not callable(field):
        raise TypeError(f"field must be a callable field(X, Y) -> (U, V), got {type(field).__name__}")


def _eval(field: Field, x: float, y: float) -> np.ndarray:
    out = field(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    try:
        u, v = out
    except (TypeError, ValueError):
        raise ValueError(
            f"field(X, Y) must return a pair (U, V) of arrays shaped like X, got {type(out).__name__}"
        ) from None
    return np.array([float(np.asarray(u)), float(np.asarray(v))])


def _point(x0, name: str = "x0") -> np.ndarray:
    p = np.asarray(x0, dtype=float)
    if p.shape != (2,):
        raise ValueError(f"{name} must be a point (x, y) of shape (2,), got shape {p.shape}")
    if not np.all(np.isfinite(p)):
        raise ValueError(f"{name} must be finite, got {p}")
    return p


def _bounds(bounds) -> np.ndarray:
    b = np.asarray(bounds, dtype=float)
    if b.shape != (2, 2):
        raise ValueError(f"bounds must be ((xmin, xmax), (ymin, ymax)), got shape {b.shape}")
    if not np.all(np.isfinite(b)) or np.any(b[:, 1] <= b[:, 0]):
        raise ValueError(f"bounds must be finite with xmin < xmax and ymin < ymax, got {b.tolist()}")
    return b


def _real(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"{name} must be a finite real number, got {value!r}")
    return float(value)


# --------------------------------------------------------------------------------------------
# critical points
# --------------------------------------------------------------------------------------------
def numerical_jacobian(field: Field, point, h: float = 1e-6) -> np.ndarray:
    """The 2×2 Jacobian ∂(U, V)/∂(x, y) of ``field`` at ``point`` by central differences (step h).

    Used in: 09_limit_cycles
    """
    _check_field(field)
    p = _point(point, "point")
    h = checks.positive(h, "step h")
    J = np.empty((2, 2))
    for k in range(2):
        e = np.zeros(2)
        e[k] = h
        J[:, k] = (_eval(field, *(p + e)) - _eval(field, *(p - e))) / (2 * h)
    return J


def classify(jacobian, tol: float = 1e-8) -> str:
    """The type of a critical point from the Jacobian of the field there (linear stability).

    With trace τ and determinant δ: δ < 0 is a *saddle*; δ ≈ 0 is *degenerate* (the linearisation
    does not decide); τ ≈ 0 < δ is a *centre (linear)*: purely imaginary eigenvalues, which the
    nonlinear terms may turn into a weakly stable or unstable focus; otherwise a *node* (real
    eigenvalues, τ² ≥ 4δ) or a *focus* (complex eigenvalues), *stable* when τ < 0. "≈ 0" means
    within ``tol`` times the scale of the matrix.

    Used in: 09_limit_cycles
    """
    J = np.asarray(jacobian, dtype=float)
    if J.shape != (2, 2) or not np.all(np.isfinite(J)):
        raise ValueError(f"jacobian must be a finite 2x2 matrix, got shape {J.shape}")
    tol = checks.positive(tol, "tol")
    scale = max(1.0, float(np.abs(J).max()))
    tr, det = float(np.trace(J)), float(np.linalg.det(J))
    if det < -tol * scale**2:
        return "saddle"
    if abs(det) <= tol * scale**2:
        return "degenerate"
    if abs(tr) <= tol * scale:
        return "centre (linear)"
    stability = "stable" if tr < 0 else "unstable"
    shape = "node" if tr * tr >= 4 * det else "focus"
    return f"{stability} {shape}"


@dataclass(frozen=True)
class CriticalPoint:
    """A zero of a planar field with its linearisation.

    ``point`` (2,), ``jacobian`` (2, 2), ``eigenvalues`` (2,) complex, ``kind`` (see
    :func:`classify`) and ``residual`` = |field(point)|.

    Used in: 09_limit_cycles
    """

    point: np.ndarray
    jacobian: np.ndarray
    eigenvalues: np.ndarray
    kind: str
    residual: float

    @property
    def stable(self) -> bool | None:
        """True for stable nodes/foci, False for saddles and unstable ones, None when undecided."""
        if self.kind.startswith("stable"):
            return True
        if self.kind in ("saddle",) or self.kind.startswith("unstable"):
            return False
        return None

    def __str__(self) -> str:
        ev = ", ".join(f"{z.real:+.3f}{z.imag:+.3f}i" for z in self.eigenvalues)
        return f"({self.point[0]:+.4f}, {self.point[1]:+.4f})  {self.kind:<16} eigenvalues {ev}"


def critical_points(
    field: Field,
    bounds=((-2.0, 2.0), (-2.0, 2.0)),
    *,
    jacobian: Callable | None = None,
    n_starts: int = 13,
    tol: float = 1e-10,
    merge_distance: float = 1e-6,
    classify_tol: float = 1e-8,
) -> list[CriticalPoint]:
    """All zeros of a planar field in a box, found from an ``n_starts`` × ``n_starts`` grid of starts.

    An odd ``n_starts`` puts a start exactly at the centre of the box, where symmetric examples
    often have a root that Newton steps from the neighbouring starts would miss.

    Each start runs ``scipy.optimize.root`` (Powell's hybrid method) with ``jacobian(x, y)`` (a
    2×2 array) or, when none is given, central differences. A root is kept when the solver
    converged, |field| < ``tol`` there and it lies in the (closed) box; roots closer than
    ``merge_distance`` are one point. The result is sorted by x, then y. A grid start cannot
    prove that no root was missed: refine ``n_starts`` when roots are close together.

    Used in: 09_limit_cycles
    """
    from scipy.optimize import root

    _check_field(field)
    box = _bounds(bounds)
    n_starts = checks.integer(n_starts, "n_starts", 2)
    tol = checks.positive(tol, "tol")
    merge_distance = checks.positive(merge_distance, "merge_distance")
    if jacobian is not None and not callable(jacobian):
        raise TypeError(f"jacobian must be a callable jacobian(x, y) -> 2x2 array or None, got {type(jacobian).__name__}")

    def F(p):
        return _eval(field, p[0], p[1])

    def Jf(p):
        if jacobian is None:
            return numerical_jacobian(field, p)
        J = np.asarray(jacobian(p[0], p[1]), dtype=float)
        if J.shape != (2, 2):
            raise ValueError(f"jacobian(x, y) must return a 2x2 array, got shape {J.shape}")
        return J

    slack = 1e-9 * float(np.abs(box).max() + 1.0)
    found: list[np.ndarray] = []
    for x0 in np.linspace(*box[0], n_starts):
        for y0 in np.linspace(*box[1], n_starts):
            sol = root(F, np.array([x0, y0]), jac=Jf, method="hybr", options={"xtol": 1e-13})
            p = sol.x
            if not sol.success or not np.all(np.isfinite(p)):
                continue
            if np.any(p < box[:, 0] - slack) or np.any(p > box[:, 1] + slack):
                continue
            if np.linalg.norm(F(p)) >= tol:
                continue
            if all(np.linalg.norm(p - q) >= merge_distance for q in found):
                found.append(p)
    found.sort(key=lambda p: (round(p[0], 8), round(p[1], 8)))
    out = []
    for p in found:
        J = Jf(p)
        out.append(
            CriticalPoint(
                point=p,
                jacobian=J,
                eigenvalues=np.linalg.eigvals(J).astype(complex),
                kind=classify(J, classify_tol),
                residual=float(np.linalg.norm(F(p))),
            )
        )
    return out


# --------------------------------------------------------------------------------------------
# noise-free orbits
# --------------------------------------------------------------------------------------------
@dataclass
class Orbit:
    """A solution of ẋ = field(x) from :func:`integrate_orbit`.

    * ``t`` (n,) and ``x`` (2, n): the solver's steps; ``sol``: its dense output (callable t → (2,));
    * ``crossing_times`` (m,): the times at which the orbit crosses the ray
      {center + s (cos θ, sin θ), s > 0} counter-clockwise (``ray_angle`` θ);
    * ``center``, ``ray_angle``, ``nfev`` (right-hand-side evaluations).

    Used in: 09_limit_cycles
    """

    t: np.ndarray
    x: np.ndarray
    sol: Callable
    crossing_times: np.ndarray
    center: np.ndarray
    ray_angle: float
    nfev: int = 0
    rtol: float = dc_field(default=0.0, repr=False)

    def radius(self, t) -> np.ndarray:
        """|x(t) − center| from the dense output, at the times ``t``."""
        z = self.sol(np.asarray(t, dtype=float))
        return np.hypot(z[0] - self.center[0], z[1] - self.center[1])

    def max_radius(self, t_end: float, window: float, n: int = 2001) -> float:
        """The largest |x − center| over [t_end − window, t_end] (dense output on n points)."""
        t_end, window = float(t_end), checks.positive(window, "window")
        if not (self.t[0] <= t_end - window and t_end <= self.t[-1] + 1e-12):
            raise ValueError(
                f"window [{t_end - window:g}, {t_end:g}] is outside the integrated interval "
                f"[{self.t[0]:g}, {self.t[-1]:g}]; integrate longer or move the window"
            )
        return float(self.radius(np.linspace(t_end - window, t_end, n)).max())


def integrate_orbit(
    field: Field,
    x0,
    t_max: float,
    *,
    rtol: float = 1e-10,
    atol: float = 1e-12,
    method: str = "DOP853",
    center=(0.0, 0.0),
    ray_angle: float = 0.0,
) -> Orbit:
    """Integrate the noise-free flow ẋ = field(x) from ``x0`` over [0, ``t_max``] (solve_ivp).

    Tight default tolerances (an 8th-order Runge–Kutta method, ``rtol=1e-10``) keep the slow drift
    of a weakly stable focus above the integration error over thousands of revolutions. Crossings
    of the ray from ``center`` at angle ``ray_angle`` in the counter-clockwise sense are located
    by event detection; for a clockwise orbit, reverse the field or read the crossings of the
    opposite sense from ``orbit.sol``.

    Used in: 09_limit_cycles
    """
    from scipy.integrate import solve_ivp

    _check_field(field)
    p0 = _point(x0)
    t_max = checks.positive(t_max, "t_max")
    rtol, atol = checks.positive(rtol, "rtol"), checks.positive(atol, "atol")
    c = _point(center, "center")
    th = _real(ray_angle, "ray_angle")
    e_along = np.array([np.cos(th), np.sin(th)])
    e_normal = np.array([-np.sin(th), np.cos(th)])

    def rhs(_t, z):
        return _eval(field, z[0], z[1])

    def cross(_t, z):  # signed distance to the line through the ray; + on the counter-clockwise side
        return float(e_normal @ (z - c))

    cross.direction = 1.0
    sol = solve_ivp(rhs, (0.0, t_max), p0, method=method, rtol=rtol, atol=atol, events=cross, dense_output=True)
    if sol.status < 0:
        raise RuntimeError(f"solve_ivp failed: {sol.message}; loosen rtol/atol or shorten t_max")
    te, ye = sol.t_events[0], sol.y_events[0]
    on_ray = (ye - c) @ e_along > 0 if len(te) else np.zeros(0, dtype=bool)
    return Orbit(t=sol.t, x=sol.y, sol=sol.sol, crossing_times=np.asarray(te)[on_ray], center=c,
                 ray_angle=th, nfev=int(sol.nfev), rtol=rtol)


def orbit_periods(orbit: Orbit) -> tuple[np.ndarray, np.ndarray]:
    """Return times between successive ray crossings: ``(midpoint_times, periods)``.

    Used in: 09_limit_cycles
    """
    tc = np.asarray(orbit.crossing_times)
    if tc.size < 2:
        raise ValueError(
            f"the orbit crossed its ray {tc.size} time(s): at least 2 crossings are needed for a period; "
            "integrate longer (t_max) or choose a ray the orbit actually winds around (center, ray_angle)"
        )
    return 0.5 * (tc[1:] + tc[:-1]), np.diff(tc)


@dataclass(frozen=True)
class DecayFit:
    """A power law A(t) ≈ prefactor · t^exponent fitted to per-revolution amplitudes.

    ``times``, ``amplitudes``: the data (end of each revolution, max radius over it); ``fitted``:
    the boolean mask of the points used in the fit.

    Used in: 09_limit_cycles
    """

    exponent: float
    prefactor: float
    times: np.ndarray
    amplitudes: np.ndarray
    fitted: np.ndarray

    def __call__(self, t):
        return self.prefactor * np.asarray(t, dtype=float) ** self.exponent


def amplitude_decay(orbit: Orbit, t_min: float | None = None, samples_per_revolution: int = 64) -> DecayFit:
    """Fit log(amplitude) = log(prefactor) + exponent · log(t) over revolutions ending after ``t_min``.

    The amplitude of a revolution is the largest distance from ``orbit.center`` between two
    successive ray crossings, from the dense output. ``t_min`` defaults to half the integrated
    time (the asymptotic regime).

    Used in: 09_limit_cycles
    """
    tc = np.asarray(orbit.crossing_times)
    if tc.size < 4:
        raise ValueError(
            f"amplitude_decay needs at least 4 ray crossings, the orbit has {tc.size}; integrate longer"
        )
    samples_per_revolution = checks.integer(samples_per_revolution, "samples_per_revolution", 8)
    amps = np.array([
        orbit.radius(np.linspace(a, b, samples_per_revolution)).max() for a, b in zip(tc[:-1], tc[1:])
    ])
    times = tc[1:]
    if t_min is None:
        t_min = 0.5 * float(orbit.t[-1])
    t_min = _real(t_min, "t_min")
    mask = times >= t_min
    if mask.sum() < 3:
        raise ValueError(
            f"only {int(mask.sum())} revolutions end after t_min={t_min:g}; lower t_min or integrate longer"
        )
    if np.any(amps[mask] <= 0):
        raise ValueError("amplitudes must be positive for a log-log fit (the orbit sits on its center)")
    slope, intercept = np.polyfit(np.log(times[mask]), np.log(amps[mask]), 1)
    return DecayFit(float(slope), float(np.exp(intercept)), times, amps, mask)


# --------------------------------------------------------------------------------------------
# circulation of an ensemble
# --------------------------------------------------------------------------------------------
def _center(center) -> np.ndarray:
    return _point((0.0, 0.0) if center is None else center, "center")


def angular_momentum(snapshots, dt: float, center=None) -> tuple[float, float]:
    """⟨x₁ẋ₂ − x₂ẋ₁⟩ of an ensemble from consecutive snapshots: ``(mean, standard error)``.

    ``snapshots`` has shape (T, n_particles, 2) with a time step ``dt`` between snapshots (e.g.
    ``EMResult.snapshots`` with ``record_every=1``). Each increment contributes
    (x₁Δx₂ − x₂Δx₁)/Δt; for an Itô SDE its mean is ⟨x₁b₂ − x₂b₁⟩ exactly (the noise increment is
    independent of the current position), and the Itô and Stratonovich readings agree because the
    quadratic covariation of x₁ and x₂ is symmetric. With snapshots further apart than one step
    the estimator is the lagged (C₁₂(Δt) − C₂₁(Δt))/Δt, biased by O(Δt). The error bar uses the
    spread over particles of each particle's time average (particles are independent).

    Used in: 09_limit_cycles
    """
    s = np.asarray(snapshots, dtype=float)
    if s.ndim != 3 or s.shape[2] != 2:
        raise ValueError(f"snapshots must have shape (T, n_particles, 2), got {s.shape}")
    if s.shape[0] < 2:
        raise ValueError("angular_momentum needs at least 2 snapshots (one increment); record every step")
    dt = checks.positive(dt, "dt")
    c = _center(center)
    z = s - c
    dz = np.diff(z, axis=0)
    L = (z[:-1, :, 0] * dz[:, :, 1] - z[:-1, :, 1] * dz[:, :, 0]) / dt  # (T-1, n)
    per_particle = L.mean(axis=0)
    n = per_particle.size
    se = per_particle.std(ddof=1) / np.sqrt(n) if n > 1 else float("nan")
    return float(per_particle.mean()), float(se)


def angular_momentum_drift(x, drift: Field, center=None) -> tuple[float, float]:
    """⟨x₁b₂(x) − x₂b₁(x)⟩ over the particles ``x`` (n, 2) or (T, n, 2): ``(mean, standard error)``.

    This is the conditional mean of the increment estimator of :func:`angular_momentum` given the
    positions: the same expectation with far smaller variance (the noise term averages out
    exactly). ``drift(X, Y) -> (U, V)`` is the NumPy drift. With several snapshots (T, n, 2) the
    error bar uses each particle's time average.

    Used in: 09_limit_cycles
    """
    _check_field(drift)
    z = np.asarray(x, dtype=float)
    if z.ndim == 2:
        z = z[None]
    if z.ndim != 3 or z.shape[2] != 2:
        raise ValueError(f"x must have shape (n_particles, 2) or (T, n_particles, 2), got {np.shape(x)}")
    c = _center(center)
    u, v = drift(z[..., 0], z[..., 1])
    L = ((z[..., 0] - c[0]) * np.asarray(v) - (z[..., 1] - c[1]) * np.asarray(u)).mean(axis=0)
    n = L.size
    se = L.std(ddof=1) / np.sqrt(n) if n > 1 else float("nan")
    return float(L.mean()), float(se)


# --------------------------------------------------------------------------------------------
# Example 19 in torch, for vdlib.theory.sde.euler_maruyama
# --------------------------------------------------------------------------------------------
def example19_torch_drift(lam):
    """The drift −∇f = −∇Φ + λ e^{Φ − r⁴/4}(−y, x) of Example 19 as a torch function (n, 2) → (n, 2).

    ``lam`` is a number or a sequence/tensor with one λ per particle (shape (n,)), so one
    Euler–Maruyama ensemble can hold several values of λ side by side. Same formula as
    :func:`vdlib.theory.potentials.example19_drift` (which is NumPy).

    Used in: 09_limit_cycles
    """
    import torch

    if isinstance(lam, torch.Tensor):
        lam_t = lam.detach().clone()
    elif isinstance(lam, numbers.Real) and not isinstance(lam, bool):
        lam_t = torch.tensor(float(lam))
    elif (isinstance(lam, Sequence) and not isinstance(lam, (str, bytes))) or isinstance(lam, np.ndarray):
        lam_t = torch.as_tensor(np.asarray(lam, dtype=float))
    else:
        raise TypeError(f"lam must be a number or a sequence of numbers (one per particle), got {type(lam).__name__}")
    if lam_t.ndim > 1 or not torch.isfinite(lam_t).all():
        raise ValueError("lam must be a finite number or a 1-D sequence with one value per particle")

    def drift(z):
        if z.ndim != 2 or z.shape[1] != 2:
            raise ValueError(f"the Example 19 drift needs particles of shape (n, 2), got {tuple(z.shape)}")
        lt = lam_t.to(dtype=z.dtype, device=z.device)
        if lt.ndim == 1 and lt.shape[0] != z.shape[0]:
            raise ValueError(f"lam has {lt.shape[0]} values but there are {z.shape[0]} particles")
        x, y = z[:, 0], z[:, 1]
        x2, y2 = x * x, y * y
        w = lt * torch.exp(0.25 - 0.5 * x2 + 0.5 * y2 - 0.5 * x2 * y2 - 0.25 * y2 * y2)  # λ e^{Φ − r⁴/4}
        return torch.stack([x - x2 * x - y * w, -y + x * w], dim=1)

    return drift


# --------------------------------------------------------------------------------------------
# symbolic derivations of chapter 09 (SymPy; each returns both sides of what the chapter shows)
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Assumption4Family:
    """j = g(Φ) J∇Φ with J the rotation by +90°, for arbitrary functions Φ(x, y) and g.

    ``div_j``, ``j_dot_grad_phi`` and ``div_j_rho`` (= ∇·(j e^{−βΦ})) all simplify to 0:
    such a j satisfies Assumption 4, (A5) and stationarity of e^{−βΦ} at every β, and
    ``dphi_dt`` = j·∇Φ is the rate of change of Φ along ẋ = j.

    Used in: 09_limit_cycles
    """

    x: object
    y: object
    beta: object
    Phi: object
    g: object
    j: object
    div_j: object
    j_dot_grad_phi: object
    div_j_rho: object


def assumption4_family() -> Assumption4Family:
    """The family j = g(Φ) J∇Φ of forces that satisfy Assumption 4 (see :class:`Assumption4Family`).

    Used in: 09_limit_cycles
    """
    import sympy as sp

    x, y = sp.symbols("x y", real=True)
    beta = sp.Symbol("beta", positive=True)
    Phi = sp.Function("Phi")(x, y)
    g = sp.Function("g")
    j = g(Phi) * sp.Matrix([-sp.diff(Phi, y), sp.diff(Phi, x)])
    div = lambda v: sp.diff(v[0], x) + sp.diff(v[1], y)  # noqa: E731
    rho = sp.exp(-beta * Phi)
    return Assumption4Family(
        x, y, beta, Phi, g, j,
        div_j=div(j),
        j_dot_grad_phi=j[0] * sp.diff(Phi, x) + j[1] * sp.diff(Phi, y),
        div_j_rho=div(j * rho),
    )


@dataclass(frozen=True)
class StreamFunction:
    """Example 19's stationary current as a rotated gradient: J^ss = J∇ψ, ψ = (√π/2) erf(r²/2).

    ``J_ss`` and ``rotated_grad_psi`` are equal; ``div_J`` is 0. Used in: 09_limit_cycles
    """

    x: object
    y: object
    psi: object
    J_ss: object
    rotated_grad_psi: object
    div_J: object


def example19_stream_function() -> StreamFunction:
    """ψ with J^ss = (−∂ᵧψ, ∂ₓψ) for Example 19 (see :class:`StreamFunction`).

    Used in: 09_limit_cycles
    """
    import sympy as sp

    x, y = sp.symbols("x y", real=True)
    r2 = x**2 + y**2
    psi = sp.sqrt(sp.pi) / 2 * sp.erf(r2 / 2)
    J_ss = sp.exp(-(r2**2) / 4) * sp.Matrix([-y, x])
    rot = sp.Matrix([-sp.diff(psi, y), sp.diff(psi, x)])
    return StreamFunction(x, y, psi, J_ss, rot, sp.diff(J_ss[0], x) + sp.diff(J_ss[1], y))


@dataclass(frozen=True)
class WeakFocus:
    """The noise-free flow of Example 19 near the origin, and its averaged amplitude equation.

    * ``a`` = λe^{1/4}; ``A`` the linear part [[1, −a], [a, −1]] (trace 0, det a² − 1); ``N2``
      the quadratic part (zero); ``N3`` the cubic part of the drift (all as functions of x, y, a);
    * ``P`` with H = xᵀPx conserved by the linear flow: ``lyapunov`` = AᵀP + PA (zero matrix);
    * ``omega`` = √(a² − 1) and ``period`` = 2π/ω;
    * ``mean_dH`` = the average of ∇H·N3 over one linear orbit with H = h, which equals
      ``-kappa * h**2`` with ``kappa`` = a/(4(a² − 1));
    * ``prefactor`` = √(1/(κ λ_min(P))) = 2√(1 + 1/a): the largest radius of the orbit behaves
      like prefactor/√t, because h(t) ≈ 1/(κt) and max |x|² on {xᵀPx = h} is h/(a − 1).

    Used in: 09_limit_cycles
    """

    x: object
    y: object
    lam: object
    a: object
    h: object
    A: object
    N2: object
    N3: object
    P: object
    lyapunov: object
    omega: object
    period: object
    mean_dH: object
    kappa: object
    prefactor: object


def _mean_over_circle(poly_expr, c, s):
    """The average over θ ∈ [0, 2π) of a polynomial in c = cos θ, s = sin θ (exact).

    Uses mean(cᵐsⁿ) = (m − 1)!!(n − 1)!!/(m + n)!! for even m, n and 0 otherwise.
    """
    import sympy as sp

    poly = sp.Poly(sp.expand(poly_expr), c, s)
    total = sp.Integer(0)
    for (m, n), coeff in poly.terms():
        if m % 2 == 0 and n % 2 == 0:
            total += coeff * sp.factorial2(m - 1) * sp.factorial2(n - 1) / sp.factorial2(m + n)
    return total


def example19_weak_focus() -> WeakFocus:
    """Linearisation, conserved quadratic form and averaged cubic decay at the origin (λe^{1/4} > 1).

    The drift is expanded to third order by hand-exact algebra: E = Φ − r⁴/4 has only even
    powers, so e^{E(εx)} = e^{E₀}(1 + E₂ε²) + O(ε⁴), and the drift is a polynomial in ε up to
    O(ε⁴). The orbit average uses the exact means of cosᵐθ sinⁿθ.

    Used in: 09_limit_cycles
    """
    import sympy as sp

    x, y, c, s = sp.symbols("x y c s", real=True)
    lam = sp.Symbol("lambda", positive=True)
    a, h, eps = sp.Symbol("a", positive=True), sp.Symbol("h", positive=True), sp.Symbol("epsilon")
    Phi = (x**2 - 1) ** 2 / 4 + y**2 / 2
    E = Phi - (x**2 + y**2) ** 2 / 4
    E_eps = sp.expand(E.subs({x: eps * x, y: eps * y}, simultaneous=True))
    E0, E1, E3 = (E_eps.coeff(eps, k) for k in (0, 1, 3))
    if E1 != 0 or E3 != 0:  # pragma: no cover - a guard on the expansion used below
        raise AssertionError("Phi - r^4/4 must be even")
    exp_E = sp.exp(E0) * (1 + E_eps.coeff(eps, 2) * eps**2)
    grad_eps = [sp.expand(sp.diff(Phi, v).subs({x: eps * x, y: eps * y}, simultaneous=True)) for v in (x, y)]
    drift = [sp.expand(-grad_eps[0] + lam * exp_E * (-eps * y)), sp.expand(-grad_eps[1] + lam * exp_E * (eps * x))]
    to_a = {lam: a * sp.exp(-E0)}
    order = lambda k: sp.Matrix([sp.expand(d.coeff(eps, k).subs(to_a)) for d in drift])  # noqa: E731
    lin, N2, N3 = order(1), order(2), order(3)
    A = sp.Matrix(2, 2, lambda i, k: sp.diff(lin[i], (x, y)[k]))
    P = sp.Matrix([[a, -1], [-1, a]])
    X = sp.Matrix([x, y])
    H = sp.expand((X.T * P * X)[0])
    dH3 = sp.expand(sp.diff(H, x) * N3[0] + sp.diff(H, y) * N3[1])
    omega = sp.sqrt(a**2 - 1)
    u = sp.Matrix([sp.sqrt(h / a), 0])                    # H(u) = h
    orbit = c * u + s * (A * u) / omega                    # the linear orbit through u, θ = ωt
    mean_dH = sp.simplify(_mean_over_circle(dH3.subs({x: orbit[0], y: orbit[1]}, simultaneous=True), c, s))
    kappa = a / (4 * (a**2 - 1))
    return WeakFocus(x, y, lam, a, h, A, N2, N3, P, sp.simplify(A.T * P + P * A), omega, 2 * sp.pi / omega,
                     mean_dH, kappa, 2 * sp.sqrt(1 + 1 / a))


@dataclass(frozen=True)
class Momentum:
    """Heavy-ball momentum as underdamped Langevin dynamics, and its phase-space circulation.

    * heavy ball v ← μv − ηg, x ← x + v, with p = v/√η and one step = √η time units, reads
      p_{k+1} − p_k = −√η(γp_k + g) with γ = (1 − μ)/√η: ``heavy_ball_step`` equals
      ``langevin_step``;
    * the noise: covariance η²D/b per step in v is η D/b in p, i.e. √η D/b per time unit; the
      fluctuation–dissipation relation 2γT = √η D/b (scalar D) gives ``temperature`` = ηD/(2b(1 − μ));
    * in the stationary Gibbs state e^{−β(Φ + p²/2)} of dx = p dt, dp = −(γp + Φ′) dt + √(2γ/β) dW,
      ⟨x p′ − p x′⟩ = −⟨xΦ′⟩ − ⟨p²⟩ − γ⟨xp⟩ = −2/β: the virial identity
      x Φ′ e^{−βΦ} = β⁻¹(e^{−βΦ} − ∂ₓ(x e^{−βΦ})) (``virial_lhs`` = ``virial_rhs``) gives ⟨xΦ′⟩ = 1/β.

    Used in: 09_limit_cycles
    """

    heavy_ball_step: object
    langevin_step: object
    temperature: object
    temperature_expected: object
    virial_lhs: object
    virial_rhs: object
    circulation: object


def momentum_identities() -> Momentum:
    """The identities behind the momentum confound (erratum E10); see :class:`Momentum`.

    Used in: 09_limit_cycles
    """
    import sympy as sp

    eta, b, D = sp.symbols("eta b D", positive=True)
    mu = sp.Symbol("mu", positive=True)
    p, g, x = sp.symbols("p g x", real=True)
    beta = sp.Symbol("beta", positive=True)
    v = sp.sqrt(eta) * p
    heavy = (mu * v - eta * g) / sp.sqrt(eta) - p                     # p_{k+1} − p_k
    gamma = (1 - mu) / sp.sqrt(eta)
    langevin = -sp.sqrt(eta) * (gamma * p + g)
    T = (sp.sqrt(eta) * D / b) / (2 * gamma)
    Phi = sp.Function("Phi")(x)
    w = sp.exp(-beta * Phi)
    virial_lhs = x * sp.diff(Phi, x) * w
    virial_rhs = (w - sp.diff(x * w, x)) / beta
    # Gibbs state: ⟨x Φ′⟩ = 1/β (integrate the virial identity: the total derivative drops out),
    # ⟨p²⟩ from the Maxwell factor e^{−βp²/2}, and ⟨x p⟩ = 0 (x and p are independent, ⟨p⟩ = 0)
    maxwell = sp.exp(-beta * p**2 / 2)
    p2 = sp.simplify(sp.integrate(p**2 * maxwell, (p, -sp.oo, sp.oo)) / sp.integrate(maxwell, (p, -sp.oo, sp.oo)))
    circulation = -1 / beta - p2
    return Momentum(sp.simplify(heavy), sp.expand(langevin), sp.simplify(T), eta * D / (2 * b * (1 - mu)),
                    virial_lhs, virial_rhs, circulation)
