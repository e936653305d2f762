"""Run a grid of an experiment's parameters as Dask tasks, on a local cluster or any Dask cluster; resumable.

``python -m vdlib.experiments sweep SPEC`` runs them on a local cluster by default or on any running
Dask cluster, resumable and bitwise reproducible.

A spec (TOML or YAML, :mod:`.spec`) names the experiment, the grid and the output folder. Each grid
point is one task (:mod:`.tasks`) that writes its own subfolder ``OUT/<key=value,...>/``: the
experiment's arrays and ``meta.json`` (seed, versions, device, data source, protocol), then
``task.json`` (parameters, torch threads, headline numbers) last, as its "finished" mark. Every
task holds its folder's run lock while it writes; the sweep holds the lock of ``OUT``.

* **Resumable.** A re-run skips the finished tasks and resumes the others from their checkpoints;
  killing the client loses no finished task. ``OUT/summary.csv`` gathers every finished task's
  headline numbers (:func:`load_summary`).
* **Reproducible.** A task's records depend on its parameters only: not on the number of workers,
  their order, or a worker that died and had its task run again (tests/test_sweep.py checks it bit
  for bit).
* **Engine** (:mod:`vdlib.experiments.cluster`, :mod:`.engine`). ``--workers N`` worker processes of a
  ``LocalCluster`` (default: CPU cores / threads per task), one task at a time each; ``--scheduler
  tcp://host:8786`` or ``--scheduler-file FILE`` sends the same tasks to a running cluster (e.g.
  started on Slurm with dask-jobqueue; GPU workers started with ``--resources GPU=1`` take the tasks
  of a spec with ``resources = {GPU = 1}``). Worker processes end with the client, even when it is
  killed.

Exit status: 0 when every task finished, 1 when some failed (each reported with its parameters and
traceback, while the others went on), 2 for bad input (unknown experiment or parameter, an empty
grid, a folder that cannot be written, an unreachable scheduler), found before any task starts.
"""
from __future__ import annotations

import argparse
import sys

from .engine import SUMMARY_FILE, SWEEP_FILE, SweepOutcome, load_summary, run_sweep
from .spec import Spec, SpecError, Task, load_spec, make_spec, task_name
from .tasks import EXPERIMENTS, TASK_FILE, read_task, run_task

__all__ = ["EXPERIMENTS", "Spec", "SpecError", "Task", "SweepOutcome", "load_spec", "make_spec", "task_name",
           "run_sweep", "run_task", "read_task", "load_summary", "TASK_FILE", "SUMMARY_FILE", "SWEEP_FILE",
           "add_arguments", "main"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", metavar="SPEC", help="the sweep's spec: a .toml or .yaml file")
    parser.add_argument("--out", default=None, help="output folder (default: the spec's out)")
    parser.add_argument("--workers", type=int, default=None,
                        help="worker processes of the local cluster (default: CPU cores / threads per task)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads per task (default: the spec's threads, else 1)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="a running Dask scheduler (tcp://host:8786) instead of a local cluster")
    where.add_argument("--scheduler-file", default=None, metavar="FILE",
                       help="the scheduler file of a running Dask cluster (dask scheduler --scheduler-file FILE)")
    parser.add_argument("--connect-timeout", type=float, default=10.0,
                        help="seconds to wait for --scheduler before giving up (default 10)")


def main(args: argparse.Namespace) -> int:
    from ...lifecycle import FolderInUse
    from ..cluster import DistributedMissing, SchedulerUnreachable

    if args.workers is not None and args.workers < 1:
        print(f"error: --workers must be at least 1, got {args.workers}", file=sys.stderr)
        return 2
    try:
        spec = load_spec(args.spec, out=args.out, threads=args.threads)
        outcome = run_sweep(spec, workers=args.workers, scheduler=args.scheduler, scheduler_file=args.scheduler_file,
                            timeout=args.connect_timeout)
    except (SpecError, SchedulerUnreachable, DistributedMissing, FolderInUse) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: the finished tasks are kept; run the same command again to resume the others",
              file=sys.stderr)
        return 130
    if not outcome.ok:
        print(f"error: {len(outcome.failed)} task(s) failed: {', '.join(outcome.failed)}; the others are in "
              f"{outcome.folder}. Fix the cause and run the same command again: finished tasks are kept",
              file=sys.stderr)
        return 1
    return 0
