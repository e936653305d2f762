"""Symmetric α-stable noise and exit times from a double well: Gaussian (Kramers) against Lévy.

Şimşekli, Sagun & Gürbüzbalaban (ICML 2019) model SGD as an SDE driven by α-stable Lévy noise.
The difference from the Brownian SDE of Parts I–IV shows in the time it takes to leave a basin:

* **Brownian noise** ``dX = −U'(X) dt + ε dW``: the mean exit time grows exponentially with the
  barrier height ΔU (Kramers): ``T ≈ π / sqrt(U''(a)|U''(s)|) · exp(2ΔU/ε²)``;
  :func:`gaussian_mean_exit_time` gives it exactly by quadrature, :func:`kramers_exit_time` the
  asymptotic form.
* **α-stable noise** ``dX = −U'(X) dt + ε dL^α``: for small ε the process leaves by one large jump,
  whose rate is the Lévy measure of the jumps that clear the basin. For a basin that reaches a
  distance ``w`` to its right (and is unbounded to its left) the mean exit time is
  ``T ≈ α w^α / (c_α ε^α)`` (Imkeller & Pavlyukevich 2006), polynomial in the width and free of the
  height: :func:`levy_exit_time`.

The potential is the double well ``U(x) = h ((x/w)² − 1)²`` with minima at ±w, barrier height h at
the saddle x = 0, continued to the left of −w by the parabola of the same curvature, so that the
drift is linear there and the Euler scheme stays stable after a long jump to the left
(:func:`double_well_drift`). A particle starts at −w and has exited when it reaches x ≥ 0.

Stable variates: :func:`stable_rvs` (Chambers–Mallows–Stuck) draws the standard symmetric law with
characteristic function ``exp(−|t|^α)``, the same law as ``scipy.stats.levy_stable(α, 0)``. Its
Lévy measure is ``c_α |y|^(−1−α) dy`` with ``c_α = Γ(1+α) sin(πα/2)/π`` (:func:`levy_constant`).

Used in: chapter 13 (is gradient noise heavy-tailed?).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..progress import progress as progress_bar

__all__ = ["stable_rvs", "levy_constant", "double_well", "double_well_drift", "kramers_exit_time",
           "gaussian_mean_exit_time", "levy_exit_time", "ExitTimes", "simulate_exit_times"]


def _alpha(alpha, lo: float = 0.0, hi: float = 2.0) -> float:
    try:
        a = float(alpha)
    except (TypeError, ValueError):
        raise TypeError(f"alpha must be a number in ({lo}, {hi}], got {alpha!r}") from None
    if not (lo < a <= hi):
        raise ValueError(f"alpha must lie in ({lo}, {hi}] (α = 2 is the Gaussian), got {alpha!r}")
    return a


def _positive(value, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a positive number, got {value!r}") from None
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return v


def stable_rvs(alpha, size, rng=None) -> np.ndarray:
    """Standard symmetric α-stable variates (characteristic function ``exp(−|t|^α)``), by the
    Chambers–Mallows–Stuck formula: with V uniform on (−π/2, π/2) and W ~ Exp(1),

    ``X = sin(αV) / cos(V)^(1/α) · (cos((1−α)V) / W)^((1−α)/α)``.

    α = 2 gives N(0, 2) (the Gaussian with that characteristic function), α = 1 the Cauchy law.
    """
    a = _alpha(alpha)
    rng = np.random.default_rng(rng)
    V = rng.uniform(-np.pi / 2, np.pi / 2, size)
    W = rng.exponential(1.0, size)
    if a == 1.0:
        return np.tan(V)
    return np.sin(a * V) / np.cos(V) ** (1 / a) * (np.cos((1 - a) * V) / W) ** ((1 - a) / a)


def levy_constant(alpha) -> float:
    """``c_α = Γ(1+α) sin(πα/2)/π``: the Lévy measure of the standard symmetric α-stable law is
    ``c_α |y|^(−1−α) dy``, so ``P(|X| > x) ≈ 2 c_α x^(−α)/α`` for large x (0 < α < 2)."""
    a = _alpha(alpha, hi=2.0 - 1e-12)
    return math.gamma(1 + a) * math.sin(math.pi * a / 2) / math.pi


def double_well(x, height, width):
    """``U(x) = h ((x/w)² − 1)²`` for x ≥ −w, continued by ``4h/w² (x + w)²`` (the same curvature
    ``8h/w²`` at the minimum) for x < −w. Minima at ±w, barrier height h at x = 0."""
    h, w = _positive(height, "height"), _positive(width, "width")
    x = np.asarray(x, dtype=float)
    u = x / w
    return np.where(x >= -w, h * (u ** 2 - 1) ** 2, 4 * h / w ** 2 * (x + w) ** 2)


def double_well_drift(x, height, width):
    """``−U'(x)`` of :func:`double_well` (height and width may be arrays broadcast against x)."""
    x = np.asarray(x, dtype=float)
    h, w = np.asarray(height, dtype=float), np.asarray(width, dtype=float)
    u = x / w
    return np.where(x >= -w, -4 * h / w * u * (u ** 2 - 1), -8 * h / w ** 2 * (x + w))


def kramers_exit_time(height, width, eps) -> float:
    """Kramers' asymptotic mean time from the minimum −w to the saddle 0 under ``ε dW``:
    ``π / sqrt(U''(−w)|U''(0)|) · exp(2h/ε²)`` with ``U''(−w) = 8h/w²``, ``|U''(0)| = 4h/w²``."""
    h, w, e = _positive(height, "height"), _positive(width, "width"), _positive(eps, "eps")
    return math.pi * w ** 2 / (math.sqrt(32.0) * h) * math.exp(2 * h / e ** 2)


def gaussian_mean_exit_time(height, width, eps, n_grid: int = 200_001) -> float:
    """The exact mean first-passage time from −w to 0 of ``dX = −U'(X) dt + ε dW``:

    ``T = (2/ε²) ∫_{−w}^{0} e^{2U(y)/ε²} ∫_{−∞}^{y} e^{−2U(z)/ε²} dz dy``,

    by the trapezoidal rule on a grid that reaches 14 standard deviations of the left well's
    stationary law beyond −w.
    """
    h, w, e = _positive(height, "height"), _positive(width, "width"), _positive(eps, "eps")
    sd_left = e * w / math.sqrt(16 * h)  # e^{-2U/ε²} on the parabola is Gaussian with this sd
    x = np.linspace(-w - 14 * sd_left, 0.0, int(n_grid))
    U = double_well(x, h, w)
    inner = np.exp(-2 * U / e ** 2)
    cum = np.concatenate([[0.0], np.cumsum((inner[1:] + inner[:-1]) / 2 * np.diff(x))])
    outer = np.exp(2 * (U - h) / e ** 2) * cum  # scaled by e^{-2h/ε²} against overflow
    keep = x >= -w
    xs, fs = x[keep], outer[keep]
    return float(2 / e ** 2 * np.sum((fs[1:] + fs[:-1]) / 2 * np.diff(xs)) * math.exp(2 * h / e ** 2))


def levy_exit_time(width, eps, alpha) -> float:
    """Imkeller–Pavlyukevich small-noise mean exit time ``α w^α / (c_α ε^α)`` of
    ``dX = −U'(X) dt + ε dL^α`` from a basin reaching a distance w to the right (and unbounded to the
    left): the inverse rate of jumps longer than w. It does not depend on the barrier height."""
    w, e, a = _positive(width, "width"), _positive(eps, "eps"), _alpha(alpha, hi=2.0 - 1e-12)
    return a * w ** a / (levy_constant(a) * e ** a)


@dataclass(frozen=True)
class ExitTimes:
    """Exit times of :func:`simulate_exit_times`.

    ``times`` holds each particle's exit time, ``inf`` where it had not exited by ``max_time``
    (censored). ``mean`` is the exponential-law maximum-likelihood mean with censoring (total time
    observed / exits), ``se`` its standard error (mean / sqrt(exits)).
    """

    times: np.ndarray
    max_time: float
    dt: float

    @property
    def exits(self) -> int:
        return int(np.isfinite(self.times).sum())

    @property
    def censored(self) -> int:
        return int(self.times.size - self.exits)

    @property
    def mean(self) -> float:
        if self.exits == 0:
            return float("inf")
        return float(np.minimum(self.times, self.max_time).sum() / self.exits)

    @property
    def se(self) -> float:
        return self.mean / math.sqrt(max(self.exits, 1))


def simulate_exit_times(height, width, *, noise: str, eps, alpha=None, n_particles: int = 1000, dt=None,
                        steps_per_relaxation: int = 10, max_time=None, rng=None, progress: bool = False,
                        chunk: int = 64) -> ExitTimes:
    """Exit times from the left well of :func:`double_well`, started at −w, by an Euler scheme.

    ``noise="gaussian"``: ``X += −U'(X) dt + ε sqrt(dt) Z``, with the Brownian-bridge correction
    (a step between x₀ < 0 and x₁ < 0 crossed 0 with probability ``exp(−2 x₀ x₁/(ε² dt))``), so that
    crossings between grid times are not missed. ``noise="stable"``: ``X += −U'(X) dt +
    ε dt^(1/α) S`` with S from :func:`stable_rvs`. The time step defaults to the relaxation time
    ``w²/(8h)`` of the well divided by ``steps_per_relaxation``. ``max_time`` (default: 6 times
    the Kramers or Imkeller–Pavlyukevich prediction) censors the slowest particles;
    :class:`ExitTimes` accounts for them.
    """
    h, w, e = _positive(height, "height"), _positive(width, "width"), _positive(eps, "eps")
    if noise not in ("gaussian", "stable"):
        raise ValueError(f"noise must be 'gaussian' or 'stable', got {noise!r}")
    if noise == "stable":
        if alpha is None:
            raise ValueError("noise='stable' needs alpha= (the tail index, 0 < α < 2)")
        a = _alpha(alpha, hi=2.0 - 1e-12)
    n = int(n_particles)
    if n < 1:
        raise ValueError(f"n_particles must be a positive integer, got {n_particles!r}")
    relax = w ** 2 / (8 * h)
    step = relax / int(steps_per_relaxation) if dt is None else _positive(dt, "dt")
    if step * 8 * h / w ** 2 >= 1.0:
        raise ValueError(f"dt = {step:g} is too large for this well (Euler needs dt < w²/(8h) = {relax:g}): "
                         "lower dt or raise steps_per_relaxation")
    if max_time is None:
        guess = kramers_exit_time(h, w, e) if noise == "gaussian" else levy_exit_time(w, e, a)
        max_time = 6 * guess
    t_max = _positive(max_time, "max_time")
    rng = np.random.default_rng(rng)
    n_steps = int(math.ceil(t_max / step))
    x = np.full(n, -w)
    alive = np.arange(n)
    times = np.full(n, np.inf)
    noise_scale = e * math.sqrt(step) if noise == "gaussian" else e * step ** (1 / a)
    bar = progress_bar(total=n_steps, enabled=progress, desc=f"exit times ({noise})")
    k = 0
    while k < n_steps and alive.size:
        m = min(chunk, n_steps - k)
        kicks = (rng.standard_normal((m, alive.size)) if noise == "gaussian"
                 else stable_rvs(a, (m, alive.size), rng)) * noise_scale
        uniforms = rng.random((m, alive.size)) if noise == "gaussian" else None
        out = np.zeros(alive.size, dtype=bool)
        for j in range(m):
            x_new = x + double_well_drift(x, h, w) * step + kicks[j]
            crossed = x_new >= 0
            if noise == "gaussian":  # Brownian bridge between two points below the saddle
                below = ~crossed & ~out
                p = np.exp(-2 * x[below] * x_new[below] / (e ** 2 * step))
                crossed[below] = uniforms[j][below] < p
            new = crossed & ~out
            times[alive[new]] = (k + j + 1) * step
            out |= new
            x = np.where(out, 0.0, x_new)
        k += m
        bar.update(m)
        x, alive = x[~out], alive[~out]
    bar.close()
    return ExitTimes(times=times, max_time=n_steps * step, dt=step)
