"""Euler–Maruyama for Itô SDEs, vectorised over many independent particles (torch).

The equation is dx = drift(x) dt + σ(x) dW in ℝᵈ, integrated for ``n_particles`` independent
copies at once. One step is

    x ← x + drift(x) Δt + σ(x) √Δt Z,     Z ~ N(0, I_m) independently per particle,

where ``drift`` maps an (n, d) tensor to (n, d), and ``diffusion_sqrt`` gives σ as either one
constant d×m matrix (additive noise) or a batch of n matrices (state-dependent noise). The
diffusion *matrix* of the Fokker–Planck equation is σσᵀ; for the SGD model of Lemma 2,
σσᵀ = 2β⁻¹D.

Used in: 02_sgd_as_sde (through :mod:`vdlib.theory.sgd`), 03_fokker_planck, 06_wasserstein_jko, 07_linear_case,
08_critical_points_move, 09_limit_cycles.
"""
from __future__ import annotations

import contextlib
import numbers
import time
from dataclasses import dataclass, field
from typing import Callable, Union

import numpy as np
import torch

from .. import checks
from ..config import torch_threads

__all__ = ["EMResult", "euler_maruyama"]

Sqrt = Union[Callable[[torch.Tensor], torch.Tensor], torch.Tensor, np.ndarray]


@dataclass
class EMResult:
    """What :func:`euler_maruyama` returns (all arrays are NumPy, float64).

    * ``times``: the times of the snapshots, shape (n_records,);
    * ``snapshots``: the particles at those times, shape (n_records, n_particles, d); the first
      snapshot is the initial condition, the last the final state;
    * ``final``: the particles after ``n_steps`` steps, shape (n_particles, d);
    * ``mean``, ``second_moment``: per-particle time averages of x and x xᵀ over the steps
      ``average_from < k ≤ n_steps`` (``None`` unless ``average_from`` was given), shapes
      (n_particles, d) and (n_particles, d, d). Particles are independent, so their spread gives
      honest Monte Carlo error bars.

    Used in: 02_sgd_as_sde
    """

    times: np.ndarray
    snapshots: np.ndarray
    final: np.ndarray
    dt: float
    n_steps: int
    seed: int
    mean: np.ndarray | None = None
    second_moment: np.ndarray | None = None
    n_averaged: int = 0
    elapsed_s: float = field(default=0.0, repr=False)

    def per_particle_covariance(self, center=None) -> np.ndarray:
        """Each particle's time-averaged covariance, shape (n_particles, d, d).

        With ``center`` (a known stationary mean, shape (d,)) it is the time average of
        (x − c)(x − c)ᵀ; otherwise each particle's own time mean is subtracted.
        """
        if self.second_moment is None:
            raise ValueError("no time averages were accumulated: call euler_maruyama(..., average_from=k)")
        m, S = self.mean, self.second_moment
        if center is None:
            return S - m[:, :, None] * m[:, None, :]
        c = np.asarray(center, dtype=float).reshape(1, -1)
        return S - m[:, :, None] * c[:, None, :] - c[:, :, None] * m[:, None, :] + c[:, :, None] * c[:, None, :]

    def stationary_covariance(self, center=None):
        """Covariance estimate and its standard error from the per-particle time averages.

        Returns ``(cov, se)``: the mean over particles of :meth:`per_particle_covariance` and
        the standard deviation over particles / √n_particles.
        """
        per = self.per_particle_covariance(center)
        return per.mean(axis=0), per.std(axis=0, ddof=1) / np.sqrt(per.shape[0])


@contextlib.contextmanager
def _few_threads(device=None, threads: int = 1):
    """Run a loop of many small tensor operations on one CPU thread, then restore the setting.

    Per-step tensors here hold a few thousand numbers; on a small shared CPU, thread hand-offs cost
    more than they save (measured: one thread was several times faster than two).
    """
    on_cpu = torch.device(device or "cpu").type == "cpu"
    with torch_threads(min(threads, torch.get_num_threads()) if on_cpu else None):
        yield


def _as_tensor(x, dtype, device) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x.to(dtype=dtype, device=device)
    return torch.as_tensor(np.asarray(x, dtype=float), dtype=dtype, device=device)


def euler_maruyama(
    drift: Callable[[torch.Tensor], torch.Tensor],
    diffusion_sqrt: Sqrt,
    x0,
    dt: float,
    n_steps: int,
    *,
    seed: int = 0,
    record_every: int | None = None,
    average_from: int | None = None,
    device: str | None = None,
    dtype: torch.dtype = torch.float32,
) -> EMResult:
    """Integrate dx = drift(x) dt + σ(x) dW for many independent particles by Euler–Maruyama.

    Parameters
    ----------
    drift : callable
        (n, d) tensor → (n, d) tensor.
    diffusion_sqrt : callable or matrix
        σ: a callable (n, d) → a d×m matrix (additive noise) or an (n, d, m) batch; a d×m
        array/tensor is accepted directly as a constant σ.
    x0 : array or tensor
        Initial particles, shape (n, d); a (d,) vector is one particle.
    dt, n_steps : the step size (> 0) and the number of steps (≥ 1).
    seed : seed of the private ``torch.Generator`` that draws the noise (no global RNG is used).
    record_every : keep a snapshot every this many steps (default: only the start and the end).
    average_from : if given, accumulate per-particle time averages of x and x xᵀ over the steps
        after this one (a burn-in), see :class:`EMResult`.
    device, dtype : torch device (default CPU) and float dtype (float32 default, float64 allowed).

    Raises ``FloatingPointError`` naming the step and time at which a particle became NaN/inf.

    Used in: 02_sgd_as_sde
    """
    t0 = time.perf_counter()
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
    if not callable(drift):
        raise TypeError(f"drift must be a callable (n, d) -> (n, d), got {type(drift).__name__}")
    if isinstance(dt, bool) or not isinstance(dt, numbers.Real) or not np.isfinite(dt) or dt <= 0:
        raise ValueError(f"time step dt must be a positive finite number, got {dt!r}; use dt > 0")
    dt = float(dt)
    n_steps = checks.integer(n_steps, "n_steps", 1)
    seed = checks.integer(seed, "seed", 0)
    if record_every is None:
        record_every = n_steps
    record_every = checks.integer(record_every, "record_every", 1)
    if average_from is not None:
        average_from = checks.integer(average_from, "average_from", 0)
        if average_from >= n_steps:
            raise ValueError(
                f"average_from={average_from} must be smaller than n_steps={n_steps}: nothing would be averaged; "
                "lower the burn-in or run more steps"
            )
    device = torch.device(device or "cpu")

    x = _as_tensor(x0, dtype, device)
    if x.ndim == 1:
        x = x.unsqueeze(0)
    if x.ndim != 2:
        raise ValueError(f"x0 must have shape (n_particles, d) or (d,), got {tuple(x.shape)}")
    if not torch.isfinite(x).all():
        raise ValueError("x0 contains NaN or infinite entries")
    x = x.clone()
    n, d = x.shape

    constant_sigma = None
    if not callable(diffusion_sqrt):
        constant_sigma = _as_tensor(diffusion_sqrt, dtype, device)
        if constant_sigma.ndim == 0:
            constant_sigma = constant_sigma * torch.eye(d, dtype=dtype, device=device)
        if constant_sigma.ndim != 2 or constant_sigma.shape[0] != d:
            raise ValueError(
                f"a constant diffusion_sqrt must be a d×m matrix with d={d} rows, got shape {tuple(constant_sigma.shape)}"
            )

    def sigma_of(x):
        if constant_sigma is not None:
            return constant_sigma
        s = diffusion_sqrt(x)
        if not isinstance(s, torch.Tensor):
            s = _as_tensor(s, dtype, device)
        return s

    # validate the shapes of drift and diffusion once, on the initial state
    f0 = drift(x)
    if not isinstance(f0, torch.Tensor) or tuple(f0.shape) != (n, d):
        shape = tuple(f0.shape) if hasattr(f0, "shape") else type(f0).__name__
        raise ValueError(f"drift(x) must return a tensor of shape (n_particles, d) = {(n, d)}, got {shape}")
    s0 = sigma_of(x)
    if s0.ndim == 2 and s0.shape[0] == d:
        m = s0.shape[1]
    elif s0.ndim == 3 and s0.shape[0] == n and s0.shape[1] == d:
        m = s0.shape[2]
    else:
        raise ValueError(
            f"diffusion_sqrt(x) must return a d×m matrix (d={d}) or an (n_particles, d, m) batch with n={n}, "
            f"got shape {tuple(s0.shape)}"
        )

    gen = torch.Generator(device=device).manual_seed(seed)
    sqdt = float(np.sqrt(dt))
    # A constant diagonal σ (scalar noise included) needs no matrix product: z ⊙ diag(σ)√Δt.
    diagonal_noise_scale = None
    if constant_sigma is not None and m == d and torch.count_nonzero(constant_sigma - torch.diag(torch.diagonal(constant_sigma))) == 0:
        diagonal_noise_scale = torch.diagonal(constant_sigma).clone() * sqdt
    times, snaps = [0.0], [x.detach().cpu().double().numpy().copy()]
    acc1 = acc2 = None
    if average_from is not None:
        acc1 = torch.zeros(n, d, dtype=torch.float64, device=device)
        acc2 = torch.zeros(n, d, d, dtype=torch.float64, device=device)

    fx, sx = f0, s0
    with _few_threads(device):
        for k in range(1, n_steps + 1):
            z = torch.randn(n, m, generator=gen, dtype=dtype, device=device)
            if diagonal_noise_scale is not None:
                x = torch.addcmul(x.add(fx, alpha=dt), z, diagonal_noise_scale)
            else:
                if sx.ndim == 2:
                    noise = z @ sx.T
                else:
                    noise = torch.bmm(sx, z.unsqueeze(-1)).squeeze(-1)
                x = x + fx * dt + noise * sqdt
            if not torch.isfinite(x.sum()):  # a NaN or ±inf anywhere makes the sum non-finite
                raise FloatingPointError(
                    f"Euler–Maruyama diverged at step {k} (t = {k * dt:g}): a particle became NaN or infinite; "
                    "reduce dt (explicit schemes are unstable when dt exceeds about 2/|eigenvalue| of the drift "
                    "Jacobian) or check the drift and diffusion"
                )
            if acc1 is not None and k > average_from:
                xd = x.double()
                acc1 += xd
                acc2 += xd[:, :, None] * xd[:, None, :]
            if k % record_every == 0 or k == n_steps:
                times.append(k * dt)
                snaps.append(x.detach().cpu().double().numpy().copy())
            if k < n_steps:
                fx = drift(x)
                sx = sigma_of(x)

    res = EMResult(
        times=np.asarray(times),
        snapshots=np.stack(snaps),
        final=snaps[-1],
        dt=dt,
        n_steps=n_steps,
        seed=seed,
    )
    if acc1 is not None:
        cnt = n_steps - average_from
        res.mean = (acc1 / cnt).cpu().numpy()
        res.second_moment = (acc2 / cnt).cpu().numpy()
        res.n_averaged = cnt
    res.elapsed_s = time.perf_counter() - t0
    return res
