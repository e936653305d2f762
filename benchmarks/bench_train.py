"""Benchmark: one SGD epoch with vdlib.deep.train against a plain PyTorch DataLoader loop, side by side.

Run:  .venv/bin/python benchmarks/bench_train.py  [--quick] [--repeats R] [--threads T]

Prints, measured in one run (interleaved, best of ``--repeats``), one epoch over N = 60,000 random
inputs with batch 128, SGD momentum 0.9, for
1. small-lenet on 1×28×28 inputs (13,338 parameters; the anchor A10 "CNN" row: ≤ 50 s on 1 thread);
2. an MLP 784–100–100–10 on flat 28×28 inputs (89,610 parameters; anchor A10 "MLP": ≤ 2 s);
3. small-fc on 49 inputs (3,978 parameters; per-step overhead dominates).
For small-lenet it also times vdlib with ``channels_last=False``, separating the gain of the loop
(in-memory indexing, no DataLoader) from that of the channels-last layout vdlib uses for conv nets.
The plain loop is the textbook one: ``nn.Module`` + ``torch.utils.data.DataLoader(TensorDataset,
batch_size=128, shuffle=True)`` + ``optim.SGD``, summing ``loss.item()`` for a running loss. Both
sides train the same module class from the same initial weights; random tensors are fine for timing.
The ratio printed is plain / vdlib (> 1: vdlib is faster). No assertions: this is a script, not a test.
"""
from __future__ import annotations

import argparse
import platform
import time

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from vdlib.deep import models
from vdlib.deep import train as T


def mlp() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 100), nn.ReLU(), nn.Linear(100, 100), nn.ReLU(),
                         nn.Linear(100, 10))


def plain_epoch(model: nn.Module, X, y, batch_size=128, lr=0.01, seed=0) -> float:
    loader = DataLoader(TensorDataset(X, y), batch_size=batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(seed))
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    model.train()
    t0 = time.perf_counter()
    running = 0.0
    for xb, yb in loader:
        opt.zero_grad()
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
        running += loss.item()
    return time.perf_counter() - t0


def vdlib_epoch(model: nn.Module, X, y, batch_size=128, lr=0.01, seed=0) -> float:
    t0 = time.perf_counter()
    T.train(model, X, y, epochs=1, lr=lr, momentum=0.9, batch_size=batch_size, seed=seed, device="cpu")
    return time.perf_counter() - t0


def vdlib_epoch_nchw(model: nn.Module, X, y, batch_size=128, lr=0.01, seed=0) -> float:
    t0 = time.perf_counter()
    T.train(model, X, y, epochs=1, lr=lr, momentum=0.9, batch_size=batch_size, seed=seed, device="cpu",
            channels_last=False)
    return time.perf_counter() - t0


def case(label, make, X, y, repeats, layouts=False):
    init = make().state_dict()
    fns = {"plain": plain_epoch, "vdlib": vdlib_epoch}
    if layouts:
        fns["vdlib, NCHW"] = vdlib_epoch_nchw
    best = {name: float("inf") for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            model = make()
            model.load_state_dict(init)
            best[name] = min(best[name], fn(model, X, y))
    return label, best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="N = 10,000 instead of 60,000 (times scaled to 60k)")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    N = 10_000 if args.quick else 60_000
    scale = 60_000 / N
    g = torch.Generator().manual_seed(0)
    X = torch.randn(N, 1, 28, 28, generator=g)
    y = torch.randint(0, 10, (N,), generator=g)
    X7 = torch.randn(N, 49, generator=g)

    print(f"python {platform.python_version()} | torch {torch.__version__} | {platform.processor() or platform.machine()}"
          f" | torch threads: {torch.get_num_threads()} | N = {N:,}{' (times scaled to 60k)' if args.quick else ''}"
          f" | batch 128 | best of {args.repeats}")
    rows = [
        case("small-lenet  (d=13,338, 1x28x28)", lambda: models.build("small-lenet", seed=0), X, y, args.repeats,
             layouts=True),
        case("MLP 784-100-100-10 (d=89,610)", mlp, X, y, args.repeats),
        case("small-fc     (d=3,978, 49 inputs)", lambda: models.build("small-fc", seed=0), X7, y, args.repeats),
    ]
    anchors = {0: "CNN <= 50 s", 1: "MLP <= 2 s", 2: "-"}
    print(f"{'one epoch, 60k examples':36s} {'plain DataLoader':>17s} {'vdlib.deep.train':>12s} {'ratio':>7s}  anchor (A10, 1 thread)")
    for i, (label, best) in enumerate(rows):
        plain, ours = best["plain"], best["vdlib"]
        print(f"{label:36s} {plain * scale:15.2f} s {ours * scale:10.2f} s {plain / ours:6.2f}x  {anchors[i]}")
        if "vdlib, NCHW" in best:
            other = best["vdlib, NCHW"]
            print(f"{'  same, vdlib with channels_last=False':36s} {'':17s} {other * scale:10.2f} s {plain / other:6.2f}x"
                  "  (loop alone, without the layout change)")


if __name__ == "__main__":
    main()
