"""Benchmark: the steady-state protocol of Part IV (``python -m vdlib.experiments steady-state --profile full``)
on 2 CPU cores, against the plain PyTorch loop, measured in one run.

Run:  .venv/bin/python benchmarks/bench_steady_state.py [--epochs E]

1. **plain**: the textbook loop on tiny-fc (``nn.Module`` + ``DataLoader`` + ``torch.optim.SGD``), one
   chain, epochs/s (from ``bench_trajectory.py``);
2. **units**: every unit of the full protocol (``run_unit``: its chains, the per-step projections, the
   per-epoch full-batch evaluation, control (b)'s matching every epoch) for a short stretch of ``E``
   burn-in + ``E`` held-out + ``E`` window epochs, one thread: chain-epochs/s and the ratio to plain;
3. **the full protocol**: each unit's measured cost per epoch × its epochs, scheduled longest-first on 2
   worker processes (as ``--workers 2`` does): the predicted wall time, against the 60-minute target.

Real data (the bundled MNIST digits, 4 classes × 512). No assertions: a script, not a test.
"""
from __future__ import annotations

import argparse
import dataclasses
import heapq
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_trajectory import plain_steps  # noqa: E402

from vdlib.experiments import steady_state as ss  # noqa: E402
from vdlib.experiments.steady_state import runner  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=30, help="epochs per stretch of each timed unit (default 30)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    full = ss.protocol("full")
    short = ss.protocol("full", settings=tuple(dataclasses.replace(s, burn_in=None) for s in full.settings),
                        burn_in=args.epochs, burn_in_max=args.epochs, held_out=max(3, args.epochs), window=args.epochs)
    X, y, info = runner.load_data(short)
    print(f"data: {info['dataset']} ({info['N']} examples), torch {torch.__version__}, 1 thread per process")
    starts = {bn: runner.common_start(short, X, y, bn) for bn in (True, False)}

    t = time.perf_counter()
    plain_epochs = 20
    plain_steps(X, y, plain_epochs)
    plain = plain_epochs / (time.perf_counter() - t)
    print(f"plain loop (1 chain): {plain:7.1f} epochs/s")

    per_epoch = {}
    for s, g in short.units():
        t = time.perf_counter()
        runner.run_unit(short, s, g, X, y, starts[g != "nobn"])
        secs = time.perf_counter() - t
        epochs = short.burn_in_epochs(s, g) + short.held_out + short.window
        per_epoch[(s.name, g)] = secs / epochs
        rate = short.n_chains(g) * epochs / secs
        print(f"  {s.name:16s} {g:10s} {rate:8.1f} chain-epochs/s  ({rate / plain:5.1f}× plain)")

    jobs = sorted(((per_epoch[(s.name, g)] * (full.burn_in_epochs(s, g) + full.held_out + full.window)
                    * full.n_chains(g) / short.n_chains(g), f"{s.name}/{g}") for s, g in full.units()), reverse=True)
    workers = [0.0, 0.0]
    heapq.heapify(workers)
    for cost, _ in jobs:
        heapq.heappush(workers, heapq.heappop(workers) + cost)
    total = sum(c for c, _ in jobs)
    wall = max(workers)
    print(f"full protocol ({full.chains} chains/unit, {full.n_chains('langevin')} in control (b), window {full.window} epochs): {total / 60:.1f} core-min; "
          f"on 2 workers ≈ {wall / 60:.1f} min wall (target ≤ 60 min: {'met' if wall <= 3600 else 'NOT met'})")
    print("  the plain loop would need ≈ "
          f"{sum(full.n_chains(g) * (full.burn_in_epochs(s, g) + full.held_out + full.window) * (16 if g == 'langevin' else 1) for s, g in full.units()) / plain / 3600 / 2:.1f} h "
          "on 2 cores for the same chain-epochs (control (b) counted as 16 full-batch steps per epoch)")


if __name__ == "__main__":
    main()
