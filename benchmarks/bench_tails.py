"""Benchmark: the tail index of small-lenet's mini-batch noise across 10 batch sizes (chapter 13).

Run:  .venv/bin/python benchmarks/bench_tails.py  [--n-train 3000] [--draws 10000] [--coords 48]
      [--baseline-draws 40] [--threads 1]

The measurement of chapter 13: per-sample gradients of small-lenet on Fashion-MNIST (else the best
MNIST-like set here, as ``vdlib.deep.data.mnist_choice`` picks) computed once
(``vdlib.deep.persample``), then ``draws`` i.i.d. mini-batches of each of 10 batch sizes
(1, 2, 4, …, 512) drawn from those rows (``vdlib.analysis.tails.tail_index_vs_batch``) and the tail
index of every selected coordinate's noise. Target: ≤ 2 minutes on 2 cores. The network is timed at
its initial weights (the chapter trains it briefly first; the measurement's cost does not depend on
the weights), so the printed α̂ are not the chapter's.

Measured on the project's 2-core machine (1 thread, N = 3,000, 10,000 draws, 48 coordinates):
vdlib route 2.2 s (target met), plain loop 599 s scaled from 40 draws per batch size: 269×.

Against it, the plain loop a reader would write first: for every draw, ``b`` examples through
forward and backward with autograd, the gradient's selected coordinates minus the full gradient's.
Its cost per draw does not depend on the draw, so it is timed on ``--baseline-draws`` draws per
batch size and scaled to ``draws``; the printed ratio is (loop, scaled) / (vdlib route), both
measured in this run on the same network, data and thread count. Both routes produce the same kind
of samples (checked: the loop's noise at b = 1 equals the per-sample rows minus their mean).

No assertions on time: a script, not a test. Prints met/MISSED for the target.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

BATCHES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-train", type=int, default=3000)
    ap.add_argument("--draws", type=int, default=10_000)
    ap.add_argument("--coords", type=int, default=48)
    ap.add_argument("--baseline-draws", type=int, default=40)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)

    import dataclasses

    from vdlib.analysis import tails
    from vdlib.deep import models, persample
    from vdlib.experiments import spectrum

    whole = dataclasses.replace(spectrum.protocol("book"), n_train=None, n_spectrum=None)  # chapter 13's data
    X, Y, _, _, info = spectrum.load_data("small-lenet", whole)
    keep = torch.from_numpy(np.random.default_rng(a.seed).permutation(len(Y))[:a.n_train])
    X, Y = X[keep].contiguous(), Y[keep].contiguous()
    name = info.get("dataset", "?")
    net = models.build("small-lenet", num_classes=info["n_classes"], seed=a.seed)
    loss_each = torch.nn.CrossEntropyLoss(reduction="none")
    print(f"small-lenet, {name}, N = {len(Y):,}, {a.draws:,} draws at each of {len(BATCHES)} batch sizes, "
          f"{a.coords} coordinates, {a.threads} thread(s)")

    # the vdlib route: per-sample gradients once, then mini-batches drawn from the rows
    t0 = time.perf_counter()
    G = persample.per_sample_gradients(net, loss_each, X, Y).numpy()
    rng = np.random.default_rng(a.seed)
    var = G.var(axis=0)
    cols = np.sort(rng.choice(np.flatnonzero(var > 1e-8 * var.max()), a.coords, replace=False))
    alpha = tails.tail_index_vs_batch(G[:, cols], BATCHES, a.draws, rng)
    t_vdlib = time.perf_counter() - t0

    # the plain loop: autograd on every mini-batch, in evaluation mode as the per-sample route
    net.eval()
    params = [p for p in net.parameters() if p.requires_grad]

    def flat_grad(idx):
        net.zero_grad(set_to_none=True)
        loss_each(net(X[idx]), Y[idx]).mean().backward()
        return torch.cat([p.grad.reshape(-1) for p in params]).numpy()

    full = flat_grad(torch.arange(len(Y)))[cols]
    b1 = flat_grad(torch.tensor([0]))[cols] - full
    same = np.allclose(b1, G[0, cols] - G[:, cols].mean(axis=0), rtol=1e-4, atol=1e-6)
    loop_rng = np.random.default_rng(a.seed + 1)
    t_loop = 0.0
    for b in BATCHES:
        t1 = time.perf_counter()
        for _ in range(a.baseline_draws):
            flat_grad(torch.from_numpy(loop_rng.integers(0, len(Y), b)))[cols]
        t_loop += (time.perf_counter() - t1) * a.draws / a.baseline_draws

    print("median α̂ per batch size: " + ", ".join(f"b={b}: {np.median(r):.2f}" for b, r in zip(BATCHES, alpha)))
    print(f"loop's b = 1 noise equals the per-sample rows minus their mean: {same}")
    print(f"vdlib route (per-sample gradients + drawn batches): {t_vdlib:8.1f} s   target ≤ 120 s: "
          f"{'met' if t_vdlib <= 120 else 'MISSED'}")
    print(f"plain autograd loop, scaled from {a.baseline_draws} draws per b: {t_loop:8.1f} s")
    print(f"ratio loop / vdlib: {t_loop / t_vdlib:.1f}x")


if __name__ == "__main__":
    main()
