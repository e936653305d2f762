"""Benchmark: 2-D stationary Fokker–Planck solves and an Euler–Maruyama ensemble.

Run:  .venv/bin/python benchmarks/bench_fokker_planck.py  [--quick]

Prints, measured in one run:
1. vdlib.theory.fokker_planck.stationary_2d on 64², 128², 256² grids for a Gibbs case (exact answer
   e^{−βf}/Z): wall time (best of 3), L1 error, observed convergence order log2(e_h / e_{h/2}).
   Issue targets: 256² in ≤ 1.5 s with L1 ≤ 5e-4.
2. vdlib.theory.sde.euler_maruyama on 1e5 particles × 1e3 steps in 2-D (Example 19 drift, λ = 1.5)
   against a plain torch float32 loop written here, and against pure Python on a small subset
   (extrapolated linearly in particles; best of the same repeats). vdlib runs its loop on one
   CPU thread, so the baselines are timed on one thread too (--all-threads adds torch's default
   thread count, which on a small shared CPU is much slower). Targets: within 1.2× of plain torch, ≥ 30× faster
   than pure Python.
No assertions on time: this is a script, not a test.
"""
from __future__ import annotations

import argparse
import math
import platform
import random
import time

import numpy as np
import torch

from vdlib.theory import fokker_planck as fp
from vdlib.theory import potentials as pt
from vdlib.theory import sde


# --------------------------------------------------------------------------------------------
# 1. stationary FP
# --------------------------------------------------------------------------------------------
def _f(X, Y):
    return pt.double_well_1d_f(X) + 0.5 * Y**2 + 0.3 * X * Y


def _grad_f(X, Y):
    return pt.double_well_1d_grad(X) + 0.3 * Y, Y + 0.3 * X


def fp_case(D, beta, n, L=4.0, repeats=3):
    h = 2 * L / n
    x = -L + (np.arange(n) + 0.5) * h
    X, Y = np.meshgrid(x, x, indexing="ij")

    def drift(X, Y):  # b = −D∇f: the stationary law is e^{−βf}/Z for constant SPD D
        gx, gy = _grad_f(X, Y)
        return -(D[0, 0] * gx + D[0, 1] * gy), -(D[1, 0] * gx + D[1, 1] * gy)

    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        rho = fp.stationary_2d(drift, D, beta, x, x)
        best = min(best, time.perf_counter() - t0)
    w = np.exp(-beta * (_f(X, Y) - _f(X, Y).min()))
    exact = w / (w.sum() * h * h)
    return best, float(np.abs(rho - exact).sum() * h * h)


def bench_fp():
    print("== 1. stationary_2d, Gibbs case f = (x²−1)²/4 + y²/2 + 0.3xy on [−4, 4]², β = 1, b = −D∇f ==")
    cases = [("D = I", np.eye(2)), ("D = [[1, .5], [.5, .8]] (cross terms)", np.array([[1.0, 0.5], [0.5, 0.8]]))]
    for name, D in cases:
        print(f"-- {name}")
        prev = None
        for n in (64, 128, 256):
            t, err = fp_case(D, 1.0, n)
            order = "" if prev is None else f"  observed order {math.log2(prev / err):.2f}"
            flag = ""
            if n == 256:
                flag = f"   [target ≤ 1.5 s: {'met' if t <= 1.5 else 'MISSED'}; L1 ≤ 5e-4: {'met' if err <= 5e-4 else 'MISSED'}]"
            print(f"   {n:4d}²: time {t:7.3f} s   L1 error {err:.3e}{order}{flag}")
            prev = err


# --------------------------------------------------------------------------------------------
# 2. Euler–Maruyama ensemble
# --------------------------------------------------------------------------------------------
LAM = 1.5


def drift_torch(x):
    """Example 19 drift −∇Φ + λ e^{Φ − r⁴/4}(−y, x) on an (n, 2) tensor."""
    a, b = x[:, 0], x[:, 1]
    r2 = a * a + b * b
    phi = (a * a - 1) ** 2 / 4 + b * b / 2
    w = LAM * torch.exp(phi - r2 * r2 / 4)
    return torch.stack([-a * (a * a - 1) - b * w, -b + a * w], dim=1)


def plain_torch_loop(x0, dt, n_steps, seed):
    """The baseline: the obvious float32 loop, same drift and noise, no checks or bookkeeping."""
    gen = torch.Generator().manual_seed(seed)
    x = x0.clone()
    s = math.sqrt(2.0 * dt)
    for _ in range(n_steps):
        x = x + drift_torch(x) * dt + s * torch.randn(x.shape, generator=gen)
    return x


def plain_torch_loop_matrix(x0, sigma, dt, n_steps, seed):
    """The same loop with a general constant σ matrix, noise z σᵀ √dt (the math vdlib does)."""
    gen = torch.Generator().manual_seed(seed)
    x = x0.clone()
    sq = math.sqrt(dt)
    for _ in range(n_steps):
        x = x + drift_torch(x) * dt + (torch.randn(x.shape, generator=gen) @ sigma.T) * sq
    return x


def pure_python(n_particles, n_steps, dt, seed):
    rng = random.Random(seed)
    s = math.sqrt(2.0 * dt)
    out = []
    for _ in range(n_particles):
        a, b = 0.5, 0.0
        for _ in range(n_steps):
            r2 = a * a + b * b
            w = LAM * math.exp((a * a - 1) ** 2 / 4 + b * b / 2 - r2 * r2 / 4)
            da = -a * (a * a - 1) - b * w
            db = -b + a * w
            a += da * dt + s * rng.gauss(0.0, 1.0)
            b += db * dt + s * rng.gauss(0.0, 1.0)
        out.append((a, b))
    return out


def _single_thread(fn):
    def run():
        old = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            fn()
        finally:
            torch.set_num_threads(old)
    return run


def _time_interleaved(fns, repeats):
    """Best-of-``repeats`` wall time of each callable, the repeats interleaved (fairer under load)."""
    best = {k: math.inf for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            best[k] = min(best[k], time.perf_counter() - t0)
    return best


def bench_em(n_particles, n_steps, py_particles, repeats, all_threads=False):
    dt = 1e-3
    print(f"\n== 2. Euler–Maruyama, Example 19 drift (λ = {LAM}), 2-D, {n_particles:.0e} particles × "
          f"{n_steps:.0e} steps, dt = {dt}, float32, CPU ==")
    x0 = torch.zeros(n_particles, 2)
    x0[:, 0] = 0.5
    sigma = math.sqrt(2.0) * torch.eye(2)
    threads = torch.get_num_threads()
    fns = {
        "vdlib": lambda: sde.euler_maruyama(drift_torch, sigma, x0, dt, n_steps, seed=0),
        "plain_scalar_1t": _single_thread(lambda: plain_torch_loop(x0, dt, n_steps, 0)),
        "plain_matrix_1t": _single_thread(lambda: plain_torch_loop_matrix(x0, sigma, dt, n_steps, 0)),
    }
    # warm-up (first-call costs of torch kernels and of the vdlib import path), untimed
    xw = x0[:1000]
    sde.euler_maruyama(drift_torch, sigma, xw, dt, 10, seed=1)
    plain_torch_loop(xw, dt, 10, 1)
    plain_torch_loop_matrix(xw, sigma, dt, 10, 1)
    t = _time_interleaved(fns, repeats)
    t_py = _time_interleaved({"py": lambda: pure_python(py_particles, n_steps, dt, 0)}, repeats)["py"]
    t_py *= n_particles / py_particles
    t_vd = t["vdlib"]
    print(f"   vdlib.theory.sde.euler_maruyama (runs on 1 CPU thread)   {t_vd:8.3f} s   (best of {repeats}, interleaved)")
    for key, label in (("plain_matrix_1t", "plain torch, noise z σᵀ, 1 thread"), ("plain_scalar_1t", "plain torch, noise √2·z, 1 thread")):
        r = t_vd / t[key]
        print(f"   {label:<38s}     {t[key]:8.3f} s   ratio vdlib/plain = {r:.2f}  "
              f"[target ≤ 1.2: {'met' if r <= 1.2 else 'MISSED'}]")
    if all_threads:
        t_pl_all = _time_interleaved({"all": lambda: plain_torch_loop(x0, dt, n_steps, 0)}, 1)["all"]
        print(f"   plain torch, noise √2·z, {threads} threads (1 run)  {t_pl_all:8.3f} s   "
              f"ratio vdlib/plain = {t_vd / t_pl_all:.2f}")
    print(f"   pure Python (extrapolated from {py_particles} particles)  {t_py:8.1f} s   speed-up = {t_py / t_vd:.0f}× "
          f"[target ≥ 30×: {'met' if t_py / t_vd >= 30 else 'MISSED'}]")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller EM ensemble (1e4 × 1e2) for a smoke run")
    ap.add_argument("--all-threads", action="store_true",
                    help="also time the plain loop with torch's default thread count (slow on a small shared CPU)")
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} torch threads, numpy {np.__version__}")
    bench_fp()
    if args.quick:
        bench_em(10_000, 100, 20, 1, args.all_threads)
    else:
        bench_em(100_000, 1_000, 100, 3, args.all_threads)


if __name__ == "__main__":
    main()
