"""Benchmark: loading Fashion-MNIST from the Debian package, and the vectorised data helpers.

Run:  .venv/bin/python benchmarks/bench_data.py  [--repeats 5] [--zca]

Prints, measured side by side in one run (best of ``--repeats``, 1 torch thread):
1. ``vdlib.deep.data.load("fashion-mnist")`` from Debian's ``dataset-fashion-mnist`` files against the
   floor of just gunzipping the four files, and against the perf-anchor A1 target (≤ 1.5 s).
2. ``vdlib.deep.data.downsample`` of the 60k training images to 7×7 (area, and Pillow-style bilinear)
   against a plain numpy reshape-mean (area only).
3. ``vdlib.deep.data.augment`` (random crop, pad 4, + flip) on a CIFAR-sized batch against a per-sample
   Python loop (timed on a subset and scaled linearly) and against the floor of copying the batch.
4. With ``--zca``: ``zca_fit`` + ``zca_apply`` on 10,000 random 3,072-dim examples (CIFAR's size).
No assertions on time: this is a script, not a test.
"""
from __future__ import annotations

import argparse
import gzip
import math
import platform
import time

import numpy as np
import torch

from vdlib.deep import data


def best_of(fn, repeats):
    best, out = math.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def bench_load(repeats):
    dirs = [d for d in data.debian_fashion_dirs() if d.is_dir()]
    if not dirs:
        print("1. load: skipped, Debian package dataset-fashion-mnist is not installed "
              "(sudo apt-get install -y dataset-fashion-mnist)")
        return
    files = sorted(dirs[0].glob("*-ubyte.gz"))

    def gunzip_only():
        return [gzip.decompress(f.read_bytes()) for f in files]

    t_floor, _ = best_of(gunzip_only, repeats)
    t_load, ds = best_of(lambda: data.load("fashion-mnist"), repeats)
    print(f"1. load Fashion-MNIST 60k+10k: {t_load:.3f} s  (gunzip alone {t_floor:.3f} s, ratio "
          f"{t_load / t_floor:.2f}×; anchor A1 ≤ 1.5 s: {t_load / 1.5:.2f} of it)")
    print(f"   source: {ds.source}")
    return ds


def bench_downsample(ds, repeats):
    x = ds.x_train if ds is not None else np.random.default_rng(0).integers(0, 256, (60_000, 28, 28), np.uint8)
    t_np, ref = best_of(lambda: x.reshape(len(x), 7, 4, 7, 4).mean(axis=(2, 4), dtype=np.float32), repeats)
    t_area, out = best_of(lambda: data.downsample(x, 7), repeats)
    t_bil, _ = best_of(lambda: data.downsample(x, 7, method="bilinear"), repeats)
    err = float(np.abs(out - ref).max())
    print(f"2. downsample {len(x)}×28×28 -> 7×7: area {t_area:.3f} s, bilinear {t_bil:.3f} s, numpy reshape-mean "
          f"{t_np:.3f} s (area / numpy = {t_area / t_np:.2f}×; max |diff| {err:.1e})")


def bench_augment(repeats):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(50_000, 3, 32, 32, generator=g)
    t_vec, _ = best_of(lambda: data.augment(x, seed=1), repeats)
    sub = x[:2_000]

    def loop():
        rng = np.random.default_rng(1)
        out = torch.empty_like(sub)
        for n in range(len(sub)):
            img = torch.from_numpy(np.pad(sub[n].numpy(), ((0, 0), (4, 4), (4, 4)), mode="symmetric"))
            i, j = rng.integers(0, 9, 2)
            crop = img[:, i:i + 32, j:j + 32]
            out[n] = crop.flip(-1) if rng.random() < 0.5 else crop
        return out

    t_loop, _ = best_of(loop, max(1, repeats // 2))
    t_loop_full = t_loop * len(x) / len(sub)
    t_clone, _ = best_of(lambda: x.clone(), repeats)
    print(f"3. augment 50000×3×32×32 (crop pad 4 + flip): {t_vec:.3f} s vs per-sample loop ≈ {t_loop_full:.2f} s "
          f"(scaled from {len(sub)}; speed-up {t_loop_full / t_vec:.1f}×); floor x.clone() {t_clone:.3f} s "
          f"(augment / clone = {t_vec / t_clone:.2f}×)")


def bench_zca():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (10_000, 32, 32, 3), dtype=np.uint8)
    t0 = time.perf_counter()
    g = data.gcn(x)
    t1 = time.perf_counter()
    z = data.zca_fit(g, eps=0.1)
    t2 = time.perf_counter()
    data.zca_apply(g, z)
    t3 = time.perf_counter()
    print(f"4. GCN {t1 - t0:.2f} s, zca_fit {t2 - t1:.2f} s, zca_apply {t3 - t2:.2f} s (10000 × 3072, float64 "
          "covariance)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--zca", action="store_true", help="also time GCN + ZCA at CIFAR's dimension")
    args = ap.parse_args()
    torch.set_num_threads(1)
    print(f"{platform.processor() or platform.machine()} | python {platform.python_version()} | numpy "
          f"{np.__version__} | torch {torch.__version__} (1 thread) | best of {args.repeats}")
    ds = bench_load(args.repeats)
    bench_downsample(ds, args.repeats)
    bench_augment(args.repeats)
    if args.zca:
        bench_zca()


if __name__ == "__main__":
    main()
