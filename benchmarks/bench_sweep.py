"""Benchmark: a sweep's throughput with 1 and 2 Dask workers, and Dask's cost per task.

Run:  .venv/bin/python benchmarks/bench_sweep.py  [--quick] [--repeats R] [--tasks N] [--epochs E]

1. **Scheduling overhead**: a local cluster of 1 and of 2 workers (``vdlib.experiments.cluster.connect``)
   runs ``--empty`` tasks that do nothing; the wall time per task is what Dask adds to every task
   (submit, schedule, run, result), and the cluster's start-up is timed once.
2. **Throughput of a small sweep**: ``vdlib.experiments.sweep.run_sweep`` on the ``ci`` profile's
   trajectory experiment, ``--tasks`` seeds (one group, ``sgd``, ``--epochs`` recorded epochs, each
   task pre-training its own chains), one torch thread per task, with 1 and with 2 workers: tasks/s of
   the task phase (first task sent to last ended) and of the whole call (cluster start-up included),
   and the ratio 2 workers / 1 worker (2 is perfect scaling on 2 cores). Beside them: the cores the
   tasks kept busy (their CPU seconds over the task phase's wall seconds) and the machine's 1-minute
   load average; and, interleaved with them, the same tasks in 1 and 2 plain processes without Dask,
   whose ratio is what the machine allows at that moment (on a shared machine whose load is above its
   core count, a second process gets little more CPU than the first).

3. **Cost of one task** (``--costs``, alone): one task of each experiment and group at the ``ci`` and
   ``book`` profiles (``--cost-profiles``), each in a fresh process (``vdlib.experiments.sweep.run_task``
   called directly, one torch thread): CPU seconds (user + system), wall seconds, peak memory (maximum
   resident set) and the size of the task's folder. Pre-training is part of a trajectory task; the
   common start (pre-training + directions) is part of a steady-state task; training and the spectra
   of D at its snapshots are a spectrum task (``--cases spectrum`` for those alone).

Best of ``--repeats`` (the machine is shared and noisy). No assertions: a script, not a test.
"""
from __future__ import annotations

import argparse
import io
import os
import platform
import tempfile
import time
from pathlib import Path


def nothing(i: int) -> int:
    return i


def overhead_section(n_tasks: int, repeats: int) -> None:
    from distributed import wait

    from vdlib.experiments.cluster import connect

    print(f"\nscheduling overhead: {n_tasks} empty tasks (best of {repeats})")
    for workers in (1, 2):
        best_start, best_per_task = float("inf"), float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            with connect(workers) as client:
                client.wait_for_workers(workers)
                started = time.perf_counter() - t0
                client.submit(nothing, -1, pure=False).result()  # warm: the workers have imported the function
                t1 = time.perf_counter()
                futures = [client.submit(nothing, i, pure=False) for i in range(n_tasks)]
                wait(futures)
                per_task = (time.perf_counter() - t1) / n_tasks
            best_start, best_per_task = min(best_start, started), min(best_per_task, per_task)
        print(f"  {workers} worker{'s' if workers > 1 else ' '}: cluster start-up {best_start:5.2f} s; "
              f"{best_per_task * 1e3:6.2f} ms per empty task ({1 / best_per_task:7.0f} tasks/s)")


_PLAIN_CHILD = """
import json, sys
from vdlib.experiments.sweep import run_task
params, folder = json.loads(sys.argv[1]), sys.argv[2]
for seed in json.loads(sys.argv[3]):
    run_task("trajectory", f"seed={seed}", {**params, "seed": seed}, "ci", f"{folder}/seed={seed}", threads=1)
"""


def _plain(processes: int, params: dict, seeds: list[int], folder: Path) -> float:
    """Wall seconds of the same tasks in ``processes`` plain processes (no Dask), seeds dealt round-robin."""
    import json
    import subprocess
    import sys

    t0 = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", _PLAIN_CHILD, json.dumps(params), str(folder),
                               json.dumps(seeds[i::processes])]) for i in range(processes)]
    if any(p.wait() != 0 for p in procs):
        raise RuntimeError("a plain process failed")
    return time.perf_counter() - t0


def sweep_section(n_tasks: int, epochs: int, repeats: int) -> None:
    from vdlib.experiments import sweep

    grid = {"seed": list(range(n_tasks))}
    params = dict(epochs=epochs, burn_in=2, chains=2, controls=["sgd"], noise_batches=4)
    print(f"\nthroughput: a sweep of {n_tasks} trajectory tasks (ci profile, sgd × 2 chains, {epochs} epochs, "
          f"1 torch thread each; best of {repeats}), and the same tasks in 1 and 2 plain processes (no Dask): "
          "the scaling this machine allows right now")
    best: dict[int, dict] = {}
    plain: dict[int, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench_sweep_") as tmp:
        for r in range(repeats):
            for workers in (1, 2):
                out = Path(tmp) / f"w{workers}-{r}"
                spec = sweep.make_spec({"experiment": "trajectory", "out": str(out), "profile": "ci",
                                        "parameters": params, "grid": grid})
                res = sweep.run_sweep(spec, workers=workers, stream=io.StringIO())
                if not res.ok:
                    raise RuntimeError(f"tasks failed: {res.failed}")
                cpu = sum(r["cpu_seconds"] for r in sweep.load_summary(out))
                m = {"tasks": res.task_seconds, "total": res.seconds, "busy": cpu / res.task_seconds,
                     "load": os.getloadavg()[0]}
                if workers not in best or m["tasks"] < best[workers]["tasks"]:
                    best[workers] = m
                wall = _plain(workers, params, grid["seed"], Path(tmp) / f"plain{workers}-{r}")
                plain[workers] = min(plain.get(workers, float("inf")), wall)
    for workers, m in best.items():
        print(f"  Dask, {workers} worker{'s' if workers > 1 else ' '}: task phase {m['tasks']:6.1f} s -> "
              f"{n_tasks / m['tasks']:5.3f} tasks/s; whole call {m['total']:6.1f} s -> {n_tasks / m['total']:5.3f} tasks/s; "
              f"cores kept busy {m['busy']:.2f} (task CPU s / task-phase s); load average {m['load']:.1f}")
    for k, wall in plain.items():
        print(f"  plain, {k} process{'es' if k > 1 else '  '}: {wall:6.1f} s -> {n_tasks / wall:5.3f} tasks/s "
              "(each process's start and imports included)")
    print(f"  ratio 2 workers / 1 worker: {best[1]['tasks'] / best[2]['tasks']:.2f} (task phase), "
          f"{best[1]['total'] / best[2]['total']:.2f} (whole call); plain processes 2 / 1: {plain[1] / plain[2]:.2f}; "
          "2.00 is perfect scaling on 2 idle cores")


COST_CASES = [("trajectory", "sgd"), ("trajectory", "langevin"), ("trajectory", "nobn"),
              ("steady-state", "sgd"), ("steady-state", "langevin"), ("steady-state", "nobn"),
              ("spectrum", "small-fc"), ("spectrum", "small-lenet")]

_COST_CHILD = """
import json, resource, sys, time
from pathlib import Path
from vdlib.experiments.sweep import run_task
experiment, group, profile, folder = sys.argv[1:5]
t0 = time.perf_counter()
rec = run_task(experiment, "cost", {"run" if experiment == "spectrum" else "group": group}, profile, folder,
               threads=1)
use = resource.getrusage(resource.RUSAGE_SELF)
size = sum(f.stat().st_size for f in Path(folder).rglob("*") if f.is_file())
print(json.dumps({"wall": time.perf_counter() - t0, "cpu": use.ru_utime + use.ru_stime,
                  "rss_mb": use.ru_maxrss / 1024, "size_mb": size / 1e6}))
"""


def costs_section(profiles: list[str], cases: list[str] | None = None) -> None:
    import json
    import subprocess
    import sys

    print("\ncost of one task (fresh process, 1 torch thread; CPU = user + system seconds of the whole process, "
          "imports included)")
    with tempfile.TemporaryDirectory(prefix="bench_sweep_cost_") as tmp:
        for profile in profiles:
            for experiment, group in [c for c in COST_CASES if not cases or c[0] in cases]:
                folder = Path(tmp) / f"{experiment}-{group}-{profile}"
                run = subprocess.run([sys.executable, "-c", _COST_CHILD, experiment, group, profile, str(folder)],
                                     capture_output=True, text=True)
                if run.returncode != 0:
                    print(f"  {profile:4s} {experiment:12s} {group:9s} FAILED: {run.stderr.strip().splitlines()[-1]}")
                    continue
                m = json.loads(run.stdout.strip().splitlines()[-1])
                print(f"  {profile:4s} {experiment:12s} {group:9s} CPU {m['cpu']:7.1f} s  wall {m['wall']:7.1f} s  "
                      f"peak memory {m['rss_mb']:6.0f} MB  folder {m['size_mb']:7.2f} MB", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer and shorter tasks")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--tasks", type=int, default=None, help="tasks of the sweep (default 8; --quick 4)")
    ap.add_argument("--epochs", type=int, default=None, help="recorded epochs per task (default 300; --quick 100)")
    ap.add_argument("--empty", type=int, default=None, help="empty tasks for the overhead (default 500; --quick 200)")
    ap.add_argument("--costs", action="store_true", help="only section 3: the cost of one task of each experiment")
    ap.add_argument("--cost-profiles", default="ci,book", help="profiles of section 3 (default ci,book)")
    ap.add_argument("--cases", default="", help="experiments of section 3 (default: all; e.g. spectrum)")
    args = ap.parse_args()
    if args.costs:
        costs_section([p.strip() for p in args.cost_profiles.split(",") if p.strip()],
                      [c.strip() for c in args.cases.split(",") if c.strip()])
        return
    n_tasks = args.tasks or (4 if args.quick else 8)
    epochs = args.epochs or (100 if args.quick else 300)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"python {platform.python_version()}; load average {os.getloadavg()[0]:.1f} at the start")
    overhead_section(args.empty or (200 if args.quick else 500), args.repeats)
    sweep_section(n_tasks, epochs, args.repeats)


if __name__ == "__main__":
    main()
