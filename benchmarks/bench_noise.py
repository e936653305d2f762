"""Benchmark: per-sample gradients (vdlib.deep.persample) and the spectrum of D (vdlib.deep.noise_spectrum).

Run:  .venv/bin/python benchmarks/bench_noise.py  [--quick] [--skip-spectra] [--threads T] [--eig]

Everything runs on ONE thread (torch, OpenBLAS, OpenMP) unless ``--threads`` says otherwise (then
torch and BLAS both get T threads, for every method alike), and every ratio is measured side by side
in this run (interleaved repeats, minimum over repeats), because absolute times on a shared
machine vary by 30–50 %. Anchors: perf-anchors.md §9, A3–A8.

1. MLP 784→100→100→10 (ReLU), d = 89,610, N = 1024, MNIST-shaped random data:
   fwd+bwd of the batch loss, the write bound (``out.fill_`` of the N×d float32 buffer: the least
   any method that writes G must spend), the own engine into a reused buffer and into a fresh one,
   torch.func vmap, and a naive batch-1 loop. Target: own (reused buffer) ≤ 1.5 × write bound.
2. LeNet-style CNN, d = 106,680 (conv5×5 1→20, maxpool2, ReLU, conv5×5 20→50, maxpool2, ReLU,
   FC 800→100, ReLU, FC 100→10: the Caffe LeNet with a 100-unit hidden layer; 520 + 25,050 +
   80,100 + 1,010 parameters), N = 1024. Target: own ≤ 1.5 × fwd+bwd.
3. Peak memory of the engine (out=None, so the N×d result is included) for both networks, each
   in a fresh subprocess. Method: glibc is told to serve every allocation ≥ 64 kB by mmap
   (MALLOC_MMAP_THRESHOLD_=65536), so freed tensors go back to the OS and the resident set tracks
   live memory; the kernel's peak-RSS counter is reset (``echo 5 > /proc/self/clear_refs``) just
   before the call and read (VmHWM) after it; the result is peak − RSS before the call, divided
   by N·d·4 bytes. (tracemalloc cannot see torch's allocator.) Target ≤ 1.6.
4. Full D of small-lenet (d = 13,338; vdlib.deep.models if importable, else an identical local copy):
   the paper's own method (compute_sigma.py: a batch-1 loop, each gradient centred by the full
   gradient and added as a float32 d×d rank-1 update) against vdlib (per_sample_gradient_chunks
   streamed into accumulate_diffusion_matrix: one float64 syrk per block of ≤ 4,096 rows, or
   float32 block products added into the float64 accumulator). N = 4,096 (the fixed costs, a
   1.4 GB accumulator and its final symmetrisation, are paid once; at the real N = 60,000 they
   weigh less). The paper's loop costs the same for every example (one d×d update each), so it
   is timed on a subset and scaled linearly to N; both are checked to produce the same D on that
   subset. Target: ≥ 20× faster.
5. (unless --skip-spectra) Spectrum routes at d = 1e5 on a synthetic N×d float32 G (a mean,
   100 directions with scales 1/i, an isotropic floor 1e-2): Gram route
   N = 1000 (anchor A6 ≤ 5 s) and Lanczos top-20 (A8 ≤ 4 s, rel. err ≤ 1e-5 vs the Gram route).

6. (with --eig, ~8 min) All eigenvalues of a 13,338² symmetric matrix (the size of small-lenet's
   D): vdlib.deep.noise_spectrum.symmetric_eigenvalues (torch's LAPACK, dsyevd) against SciPy's eigh (the
   route's solver before) — the other half of the cost of Fig. 1.

No assertions on time: this is a script, not a test. Prints met/MISSED for each target.
"""
from __future__ import annotations

import os
import sys


def _threads_argument(argv) -> str:
    """``--threads`` read before NumPy is imported: OpenBLAS sizes its thread pool from the environment
    at load time and cannot be raised above it later."""
    for i, arg in enumerate(argv):
        if arg == "--threads" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--threads="):
            return arg.split("=", 1)[1]
    return "1"


for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = _threads_argument(sys.argv)

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from vdlib import config  # noqa: E402
from vdlib.deep import noise_spectrum as noise, persample  # noqa: E402

torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
CE = nn.CrossEntropyLoss(reduction="none")


def mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 100), nn.ReLU(), nn.Linear(100, 100), nn.ReLU(), nn.Linear(100, 10))


def lenet_cnn():
    """LeNet-style CNN with exactly d = 106,680 (see the module docstring)."""
    return nn.Sequential(nn.Conv2d(1, 20, 5), nn.MaxPool2d(2), nn.ReLU(), nn.Conv2d(20, 50, 5), nn.MaxPool2d(2),
                         nn.ReLU(), nn.Flatten(), nn.Linear(800, 100), nn.ReLU(), nn.Linear(100, 10))


def small_lenet():
    """small-lenet (13,338 parameters): vdlib.deep.models.build if available, else the same layers here."""
    try:
        from vdlib.deep import models

        return models.build("small-lenet", seed=0), "vdlib.deep.models"
    except Exception:  # noqa: BLE001 - the models module is optional for this benchmark
        torch.manual_seed(0)
        net = nn.Sequential(
            nn.Conv2d(1, 8, 5), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(3), nn.Dropout(0.1),
            nn.Conv2d(8, 16, 5), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.1), nn.Flatten(),
            nn.Linear(64, 128), nn.BatchNorm1d(128), nn.ReLU(), nn.Dropout(0.1), nn.Linear(128, 10))
        return net, "local copy"


def nparams(m):
    return sum(p.numel() for p in m.parameters())


def timed(fns: dict, repeats: int) -> dict:
    """Interleaved repeats; the minimum per entry (seconds)."""
    res = {k: [] for k in fns}
    for _ in range(repeats):
        for k, f in fns.items():
            t = time.perf_counter()
            f()
            res[k].append(time.perf_counter() - t)
    return {k: min(v) for k, v in res.items()}


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def naive_loop(model, X, y, out):
    model.eval()
    params = [p for p in model.parameters()]
    for i in range(X.shape[0]):
        model.zero_grad(set_to_none=False)
        CE(model(X[i:i + 1]), y[i:i + 1]).sum().backward()
        torch.cat([p.grad.reshape(-1) for p in params], out=out[i])


# ------------------------------------------------------------------------------------------
def bench_engine(name, model, N, repeats, with_baselines):
    torch.manual_seed(0)
    X, y = torch.randn(N, 1, 28, 28), torch.randint(0, 10, (N,))
    d = nparams(model)
    out = torch.empty(N, d)
    out.fill_(0.0)

    def fwd_bwd():
        model.zero_grad()
        CE(model(X), y).mean().backward()

    fns = {
        "fwd+bwd": fwd_bwd,
        "write bound": lambda: out.fill_(0.5),
        "own (reused out)": lambda: persample.per_sample_gradients(model, CE, X, y, out=out),
        "own (fresh out)": lambda: persample.per_sample_gradients(model, CE, X, y),
    }
    t = timed(fns, repeats)
    if with_baselines:  # slow: fewer repeats; vmap in chunks of 64 (its fastest setting here)
        t.update(timed({"vmap": lambda: persample.per_sample_gradients(model, CE, X, y, out=out, engine="vmap",
                                                                        chunk_size=64)}, max(2, repeats // 3)))
        n_loop = min(N, 256)
        t_loop = timed({"loop": lambda: naive_loop(model, X[:n_loop], y[:n_loop], out)}, 1)["loop"]
        t["naive loop"] = t_loop * N / n_loop
    # correctness of what was timed
    G = persample.per_sample_gradients(model, CE, X[:64], y[:64])
    ref = persample.per_sample_gradients(model, CE, X[:64], y[:64], engine="vmap")
    err = (G - ref).abs().max().item() / ref.abs().max().item()
    chunk = persample.auto_chunk_size(model, X[:1])
    print(f"\n[{name}] d = {d:,}, N = {N}, automatic chunk_size = {chunk}, max rel. deviation from vmap {err:.1e}")
    for k, v in t.items():
        print(f"  {k:<18} {v * 1e3:9.1f} ms")
    return t, d


def peak_memory_child(which: str, N: int) -> None:
    """Runs in a fresh subprocess: prints JSON with the extra peak RSS of one engine call."""
    model = mlp() if which == "mlp" else lenet_cnn()
    X, y = torch.randn(N, 1, 28, 28), torch.randint(0, 10, (N,))
    persample.per_sample_gradients(model, CE, X[:32], y[:32])  # warm-up (lazy inits, thread pools)

    def status(key):
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
        raise RuntimeError(key)

    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    before = status("VmRSS")
    G = persample.per_sample_gradients(model, CE, X, y)
    peak = status("VmHWM")
    print(json.dumps({"extra": peak - before, "Nd4": G.numel() * 4}))


def bench_memory(N):
    rows = {}
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536")
    for which in ("mlp", "cnn"):
        r = subprocess.run([sys.executable, __file__, "--memory-child", which, "--n", str(N)], env=env,
                           capture_output=True, text=True, check=False)
        if r.returncode != 0:
            print(f"  memory measurement for {which} failed: {r.stderr.strip()[-300:]}")
            continue
        rows[which] = json.loads(r.stdout.strip().splitlines()[-1])
    return rows


# ------------------------------------------------------------------------------------------
def paper_method(model, X, y, gbar, S):
    """compute_sigma.py: batch-1 loop, S += (g_k − g)(g_k − g)ᵀ / N in float32 (d×d rank-1 updates)."""
    model.eval()
    params = list(model.parameters())
    n = X.shape[0]
    for i in range(n):
        model.zero_grad(set_to_none=False)
        CE(model(X[i:i + 1]), y[i:i + 1]).sum().backward()
        g = torch.cat([p.grad.reshape(-1) for p in params]) - gbar
        S.addr_(g, g, alpha=1.0 / n)
    return S


def bench_full_d(N, n_paper, repeats):
    model, source = small_lenet()
    d = nparams(model)
    torch.manual_seed(1)
    X, y = torch.randn(N, 1, 28, 28), torch.randint(0, 10, (N,))
    print(f"\n[full D of small-lenet] d = {d:,} ({source}), N = {N}; paper's loop timed on {n_paper} examples")
    # ours, on all N
    t_ours = {}
    for gd in ("float64", "float32"):
        best = float("inf")
        for _ in range(repeats):
            t = time.perf_counter()
            D = noise.accumulate_diffusion_matrix(persample.per_sample_gradient_chunks(model, CE, X, y),
                                                  gemm_dtype=gd, full=False)
            best = min(best, time.perf_counter() - t)
            del D
        t_ours[gd] = best
    # the paper's method on a subset (the full gradient ḡ of that subset is given to it for free)
    Xs, ys = X[:n_paper], y[:n_paper]
    gbar = persample.per_sample_gradients(model, CE, Xs, ys).mean(0)
    S = torch.zeros(d, d)
    t = time.perf_counter()
    paper_method(model, Xs, ys, gbar, S)
    t_paper_sub = time.perf_counter() - t
    t_paper = t_paper_sub * N / n_paper
    ours_sub = noise.accumulate_diffusion_matrix(persample.per_sample_gradients(model, CE, Xs, ys))
    err = np.abs(ours_sub - S.numpy()).max() / np.abs(ours_sub).max()
    del S, ours_sub
    print(f"  paper method       {t_paper_sub:8.2f} s for {n_paper} examples -> {t_paper:8.1f} s for N = {N} "
          f"({t_paper_sub / n_paper * 1e3:.1f} ms per example)")
    for gd, v in t_ours.items():
        print(f"  vdlib ({gd} syrk) {v:8.2f} s for N = {N}")
    print(f"  same D on the subset: max |D_vdlib − D_paper| / max |D| = {err:.1e} (paper accumulates in float32)")
    return t_paper, t_ours


def bench_eigensolvers(d=13_338, rank=2_000):
    """All eigenvalues of a d×d PSD matrix shaped like D (low rank + a small floor), one run each."""
    from scipy.linalg import eigh

    rng = np.random.default_rng(2)
    B = rng.standard_normal((rank, d)) / np.arange(1, rank + 1)[:, None]
    A = np.asfortranarray(B.T @ B) + 1e-6 * np.eye(d)
    print(f"\n[eigenvalues] d = {d:,}, float64, upper triangle")
    times = {}
    t = time.perf_counter()
    w_vd = noise.symmetric_eigenvalues(A)
    times["vdlib symmetric_eigenvalues"] = time.perf_counter() - t
    t = time.perf_counter()
    w_sp = eigh(A, lower=False, eigvals_only=True, overwrite_a=True, check_finite=False)
    times["scipy eigh"] = time.perf_counter() - t
    rel = np.abs(np.sort(w_vd) - np.sort(w_sp)).max() / np.abs(w_sp).max()
    for k, v in times.items():
        print(f"  {k:<28} {v:7.1f} s")
    print(f"  max |difference| / λ_max = {rel:.1e}")
    return times


def bench_spectra(N, d, k):
    rng = np.random.default_rng(0)
    # gradient-like data: a mean, 100 directions with scales 1/i (eigenvalues ∝ 1/i², the fast decay
    # of real gradient spectra) and a small isotropic floor
    r = 100
    G = (rng.standard_normal((N, r), dtype=np.float32) / np.arange(1, r + 1, dtype=np.float32)) @ \
        rng.standard_normal((r, d), dtype=np.float32)
    G += 1e-2 * rng.standard_normal((N, d), dtype=np.float32) + rng.standard_normal(d, dtype=np.float32)
    out = {}
    t = time.perf_counter()
    gram = noise.diffusion_spectrum(G, route="gram")
    out["gram float64"] = time.perf_counter() - t
    t = time.perf_counter()
    gram32 = noise.diffusion_spectrum(G, route="gram", gemm_dtype="float32")
    out["gram float32"] = time.perf_counter() - t
    t = time.perf_counter()
    top = noise.diffusion_spectrum(G, k=k)
    out["lanczos"] = time.perf_counter() - t
    rel = np.abs(top.eigenvalues - gram.eigenvalues[:k]).max() / gram.eigenvalues[0]
    rel32 = np.abs(gram32.eigenvalues - gram.eigenvalues).max() / gram.eigenvalues[0]
    print(f"\n[spectra] random G, N = {N}, d = {d:,} (float32, {G.nbytes / 1e6:.0f} MB)")
    for kname, v in out.items():
        print(f"  {kname:<14} {v:7.2f} s")
    print(f"  Lanczos top-{k} vs Gram: max rel. error {rel:.1e}; Gram float32 vs float64: {rel32:.1e}")
    return out, rel


# ------------------------------------------------------------------------------------------
def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats, smaller full-D run")
    ap.add_argument("--skip-spectra", action="store_true", help="skip section 5 (needs ~1 GB and ~20 s)")
    ap.add_argument("--memory-child", choices=("mlp", "cnn"), help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, default=1024, help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=1, help="torch and BLAS threads for every method (default 1)")
    ap.add_argument("--eig", action="store_true", help="also time the 13,338² eigenvalue solvers (~8 min)")
    args = ap.parse_args()
    if args.memory_child:
        peak_memory_child(args.memory_child, args.n)
        return
    with config.torch_threads(args.threads):
        run_all(args)


def run_all(args):
    repeats = 3 if args.quick else 7
    print(f"python {platform.python_version()} | torch {torch.__version__} | numpy {np.__version__} | "
          f"threads: torch {torch.get_num_threads()}, BLAS {args.threads} | THP_MEM_ALLOC_ENABLE="
          f"{os.environ.get('THP_MEM_ALLOC_ENABLE', 'unset')} | load {os.getloadavg()[0]:.1f}")
    results = []

    t, d = bench_engine("MLP 784-100-100-10", mlp(), 1024, repeats, with_baselines=True)
    r = t["own (reused out)"] / t["write bound"]
    results.append(("A3 MLP own / write bound", r, "≤ 1.5", r <= 1.5))
    results.append(("   MLP own / fwd+bwd", t["own (reused out)"] / t["fwd+bwd"], "info", None))
    results.append(("   MLP vmap / own", t["vmap"] / t["own (reused out)"], "info (anchor 528/32 ≈ 16)", None))
    results.append(("   MLP naive loop / own", t["naive loop"] / t["own (reused out)"], "info", None))
    results.append(("   MLP fresh out / reused out", t["own (fresh out)"] / t["own (reused out)"], "info", None))

    t, d = bench_engine("LeNet-style CNN", lenet_cnn(), 1024, max(2, repeats // 2), with_baselines=not args.quick)
    r = t["own (reused out)"] / t["fwd+bwd"]
    results.append(("A4 CNN own / fwd+bwd", r, "≤ 1.5", r <= 1.5))
    if "vmap" in t:
        results.append(("   CNN vmap / own", t["vmap"] / t["own (reused out)"], "info", None))

    print("\n[peak memory] extra peak RSS of per_sample_gradients(out=None), fresh subprocess each")
    for which, row in bench_memory(1024).items():
        r = row["extra"] / row["Nd4"]
        print(f"  {which}: {row['extra'] / 1e6:7.1f} MB vs N·d·4 = {row['Nd4'] / 1e6:7.1f} MB")
        results.append((f"A5 {which.upper()} peak / N·d·4", r, "≤ 1.6", r <= 1.6))

    N_full = 512 if args.quick else 4096
    t_paper, t_ours = bench_full_d(N_full, n_paper=8 if args.quick else 16, repeats=1 if args.quick else 2)
    for gd, v in t_ours.items():
        r = t_paper / v
        results.append((f"full D small-lenet: paper / vdlib ({gd})", r, "≥ 20", r >= 20))

    if not args.skip_spectra:
        out, rel = bench_spectra(1000, 100_000, 20)
        results.append(("A6 Gram route d=1e5 N=1000 (s, float64)", out["gram float64"], "≤ 5 s", out["gram float64"] <= 5))
        results.append(("   Gram route, float32 products (s)", out["gram float32"], "≤ 5 s", out["gram float32"] <= 5))
        results.append(("A8 Lanczos top-20 (s)", out["lanczos"], "≤ 4 s", out["lanczos"] <= 4))
        results.append(("A8 Lanczos rel. error", rel, "≤ 1e-5", rel <= 1e-5))

    if args.eig:
        times = bench_eigensolvers()
        results.append(("eigenvalues 13,338²: scipy / vdlib", times["scipy eigh"] / times["vdlib symmetric_eigenvalues"],
                        "info (> 1: vdlib faster)", None))

    print("\n=== summary (ratios from this run) ===")
    for name, value, target, ok in results:
        mark = "" if ok is None else verdict(ok)
        print(f"  {name:<44} {value:9.3g}   target {target:<26} {mark}")


if __name__ == "__main__":
    main()
