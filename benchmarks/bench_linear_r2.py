"""Benchmark: target R2 (broken detailed balance in SGD) at the reference settings of paper-notes §8.2.

Run:  .venv/bin/python benchmarks/bench_linear_r2.py  [--quick] [--float32] [--no-control]

The reference setup: the heteroscedastic 2-D linear regression ``make_linear_regression(N=2000,
seed=0)``; 4000 independent SGD chains × 6000 steps, batches drawn with replacement, averages
over the steps after 3000; (η, b) = (0.02, 10), (0.04, 10), (0.02, 20); plus, unless
``--no-control``, the mirror-symmetric control of chapter 07 (H and D(x*) commute exactly, so the
exact area rate is 0). ``--quick`` uses the ``ci`` sizes of ``vdlib.config`` instead.

Prints, for each run: the wall time of ``vdlib.theory.sgd.run_sgd_chains`` (vectorised over chains:
one Python loop over steps, none over chains) and the stationary area rate ⟨z₁ż₂ − z₂ż₁⟩
(time unit η) with its standard error over chains, against the OU theory −2Q₂₁/β, the
discrete-chain value with constant D(x*), the exact least-squares value, and the reference
values of the notes. Issue target: the three reference runs in under 30 s on a 2-core CPU.
No assertions on time: this is a script, not a test.
"""
from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import torch

import vdlib
from vdlib.theory import linear, sgd
from vdlib.theory.regression import LinearRegression, make_linear_regression

NOTES = {(0.02, 10): (-1.32e-2, -1.30e-2), (0.04, 10): (-2.69e-2, -2.60e-2), (0.02, 20): (-6.59e-3, -6.51e-3)}


def mirror_control() -> LinearRegression:
    half = make_linear_regression(N=1000, seed=0, x_true=(1.0, 0.0))
    return LinearRegression(np.vstack([half.A, half.A * [1.0, -1.0]]), np.concatenate([half.y, half.y]),
                            description="mirror-symmetric control, N=2000")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="ci sizes instead of the reference 4000 x 6000")
    ap.add_argument("--float32", action="store_true", help="run the chains in float32 (accumulators stay float64)")
    ap.add_argument("--no-control", action="store_true", help="skip the mirror-symmetric control run")
    args = ap.parse_args()

    if args.quick:
        cfg = vdlib.current("ci")
        n_chains, n_steps = cfg.size("sgd_area_chains"), cfg.size("sgd_area_steps")
    else:
        n_chains, n_steps = 4000, 6000
    dtype = torch.float32 if args.float32 else torch.float64
    print(f"python {platform.python_version()} | torch {torch.__version__} | {torch.get_num_threads()} threads "
          f"available (the SGD loop uses one) | {platform.processor() or platform.machine()}")
    print(f"R2: {n_chains} chains x {n_steps} steps, burn-in {n_steps // 2}, with replacement, {dtype}")

    problem = make_linear_regression(N=2000, seed=0)
    configs = [(problem, 0.02, 10), (problem, 0.04, 10), (problem, 0.02, 20)]
    if not args.no_control:
        configs.append((mirror_control(), 0.02, 10))

    head = (f"{'(eta, b)':<18}{'time s':>8}  {'SGD ± s.e.':>22}  {'OU -2Q21/beta':>14}  {'discrete':>11}  "
            f"{'exact':>11}  {'z exact':>8}  notes (SGD / OU)")
    print(head)
    print("-" * len(head))
    total_ref = 0.0
    rates = {}
    for seed, (prob, eta, b) in enumerate(configs):
        H, D = prob.hessian(), prob.diffusion(prob.minimiser())
        t0 = time.perf_counter()
        run = sgd.run_sgd_chains(prob, eta, b, n_steps, n_chains, seed=seed, dtype=dtype)
        wall = time.perf_counter() - t0
        is_control = prob is not problem
        if not is_control:
            total_ref += wall
            rates[(eta, b)] = run.area_rate
        ou = linear.sgd_area_rate(H, D, eta, b)
        disc = linear.sgd_area_rate(H, D, eta, b, kind="discrete")
        exact = sgd.exact_area_rate(prob, eta, b)
        notes = "" if is_control else "{:+.2e} / {:+.2e}".format(*NOTES[(eta, b)])
        label = f"({eta}, {b})" + (" control" if is_control else "")
        print(f"{label:<18}{wall:8.2f}  {run.area_rate:+11.3e} ± {run.area_rate_se:8.1e}  {ou:+14.3e}  "
              f"{disc:+11.3e}  {exact:+11.3e}  {(run.area_rate - exact) / run.area_rate_se:+8.1f}  {notes}")
    print("-" * len(head))
    print(f"three reference runs: {total_ref:.1f} s (target < 30 s)")
    print(f"ratio eta doubled: {rates[(0.04, 10)] / rates[(0.02, 10)]:.3f} (OU: 2); "
          f"b doubled: {rates[(0.02, 20)] / rates[(0.02, 10)]:.3f} (OU: 0.5)")


if __name__ == "__main__":
    main()
