"""Running a sweep on Dask: skip the finished tasks, submit the others, report each as it ends (a failed
one with its parameters and traceback, while the others go on), and gather every finished task's
headline numbers into ``summary.csv``."""
from __future__ import annotations

import csv
import io
import os
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ... import files
from .spec import Spec, SpecError, Task
from .tasks import TaskFailed, read_task, run_task

SUMMARY_FILE = "summary.csv"
SWEEP_FILE = "sweep.json"

__all__ = ["SweepOutcome", "run_sweep", "load_summary", "check_writable", "SUMMARY_FILE", "SWEEP_FILE"]


@dataclass
class SweepOutcome:
    """What a sweep did: the tasks skipped (finished before), run now, and failed (name -> message)."""

    folder: Path
    skipped: list[str] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0        # the whole sweep, the cluster's start included
    task_seconds: float = 0.0   # from the first task sent to the last one ended

    @property
    def ok(self) -> bool:
        return not self.failed


def check_writable(folder: Path) -> None:
    """Create ``folder`` and check that files can be written there (a clear error otherwise)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-check-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as err:
        raise SpecError(f"cannot write to the output folder {folder} ({err.strerror or err}): choose a folder "
                        "you can write to (out = ... in the spec, or --out)") from None


def _check_finished(spec: Spec, task: Task, profile: str, folder: Path) -> bool:
    rec = read_task(folder)
    if rec is None:
        return False
    if (rec["experiment"], rec["parameters"], rec["profile"]) != (spec.experiment, task.parameters, profile):
        raise SpecError(f"{folder} holds a finished task of other settings (experiment {rec['experiment']}, "
                        f"profile {rec['profile']}, parameters {rec['parameters']}): use another output folder, "
                        "or remove that task's folder")
    return True


def run_sweep(spec: Spec, *, workers: int | None = None, scheduler: str | None = None, scheduler_file=None,
              stream=None, timeout: float = 10.0) -> SweepOutcome:
    """Run every unfinished task of ``spec`` as a Dask task; return what happened.

    ``workers``: processes of the local cluster (default: CPU cores / ``spec.threads``); ``scheduler``
    or ``scheduler_file``: a running cluster instead. Bad input (a non-writable folder, an unreachable
    scheduler, a folder holding other tasks) raises before any task starts; a failed task does not stop
    the others and is listed in :attr:`SweepOutcome.failed`.
    """
    from ...config import profile_name
    from ...lifecycle import RunLock
    from ..cluster import connect, default_workers

    stream = sys.stdout if stream is None else stream

    def say(msg: str) -> None:
        print(msg, file=stream, flush=True)

    out = spec.out
    check_writable(out)
    profile = profile_name(spec.profile)
    outcome = SweepOutcome(folder=out)
    t0 = time.perf_counter()
    with RunLock(out, what="sweep"):
        files.remove_stale_temporaries(out)
        tasks = spec.tasks()
        todo = []
        for task in tasks:
            if _check_finished(spec, task, profile, out / task.name):
                outcome.skipped.append(task.name)
            else:
                todo.append(task)
        files.write_json(out / SWEEP_FILE, {"spec": spec.as_dict(), "profile": profile,
                                            "tasks": [t.name for t in tasks]})
        say(f"sweep {spec.experiment} ({profile} profile): {len(tasks)} tasks, {len(outcome.skipped)} finished "
            f"before, {len(todo)} to run -> {out}")
        if todo:
            n = workers if workers is not None else default_workers(spec.threads)
            with connect(n, scheduler=scheduler, scheduler_file=scheduler_file,
                         resources=spec.resources or None, timeout=timeout) as client:
                _run_on(client, spec, todo, profile, outcome, say,
                        where=scheduler or scheduler_file or f"a local cluster of {n} worker{'s' if n != 1 else ''}")
        write_summary(out, tasks)
    outcome.seconds = time.perf_counter() - t0
    say(f"sweep done in {outcome.seconds:.1f} s ({outcome.task_seconds:.1f} s of tasks): {len(outcome.finished)} run, "
        f"{len(outcome.skipped)} skipped, {len(outcome.failed)} failed; summary: {out / SUMMARY_FILE}")
    return outcome


def _run_on(client, spec: Spec, todo: list[Task], profile: str, outcome: SweepOutcome, say, where: str) -> None:
    from ..cluster import WorkersLost, completed, dashboard_link

    t0 = time.perf_counter()
    token = os.urandom(4).hex()  # fresh keys: a re-run never gets a result the scheduler still remembers
    link = dashboard_link(client)
    say(f"running on {where}" + (f"; progress on Dask's dashboard: {link}" if link else
                                  " (Dask's dashboard needs bokeh: pip install bokeh)"))
    if spec.resources:
        offered = [w.get("resources", {}) for w in client.scheduler_info().get("workers", {}).values()]
        if not any(all(r.get(k, 0) >= v for k, v in spec.resources.items()) for r in offered):
            say(f"warning: no worker yet offers the resources {spec.resources} that each task needs; the tasks wait "
                "for one (start workers with e.g. `dask worker ADDRESS --resources GPU=1`)")
    futures = {}
    for task in todo:
        fut = client.submit(run_task, spec.experiment, task.name, task.parameters, profile,
                            str((spec.out / task.name).resolve()), spec.threads, key=f"{task.name}-{token}",
                            pure=False, resources=spec.resources or None)
        futures[fut] = task
    done = 0
    try:
        for fut in completed(client, list(futures)):
            done += 1
            _report(fut, futures[fut], done, len(todo), outcome, say)
    except WorkersLost as err:
        for fut, task in futures.items():
            if task.name not in outcome.finished and task.name not in outcome.failed:
                outcome.failed[task.name] = str(err)
        say(f"error: {err}")
    outcome.task_seconds = time.perf_counter() - t0


def _report(fut, task: Task, done: int, total: int, outcome: SweepOutcome, say) -> None:
    """Print one ended task and record it in ``outcome``: its headline numbers, or its parameters and traceback."""
    if fut.status == "finished":
        rec = fut.result()
        outcome.finished.append(task.name)
        heads = ", ".join(f"{k} {v:.4g}" for k, v in list(rec["headline"].items())[:4])
        say(f"[{done}/{total}] {task.name}: done in {rec['seconds']:.1f} s ({heads})")
    else:
        err = fut.exception()
        if isinstance(err, TaskFailed):  # the task's own error, with its traceback in the message
            text = str(err)
        else:  # Dask's (e.g. a worker lost more often than distributed.scheduler.allowed-failures)
            text = "".join(traceback.format_exception(type(err), err, fut.traceback()))
        outcome.failed[task.name] = text.splitlines()[0] if text else type(err).__name__
        say(f"[{done}/{total}] {task.name}: FAILED with parameters {task.parameters}\n{text.rstrip()}")


def write_summary(out: Path, tasks: list[Task]) -> Path:
    """``summary.csv``: one row per finished task (its grid values, status, seconds and headline numbers)."""
    rows, heads, grid_keys = [], [], []
    for task in tasks:
        for k in task.grid_values:
            if k not in grid_keys:
                grid_keys.append(k)
        rec = read_task(out / task.name)
        row: dict[str, Any] = {"task": task.name, **task.grid_values}
        if rec is None:
            row["status"] = "unfinished"
        else:
            row.update(status="complete", seconds=rec["seconds"], cpu_seconds=rec.get("cpu_seconds"),
                       threads=rec["threads"])
            for k, v in rec["headline"].items():
                row[k] = v
                if k not in heads:
                    heads.append(k)
        rows.append(row)
    columns = ["task", *grid_keys, "status", "seconds", "cpu_seconds", "threads", *heads]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    with files.atomic_open(out / SUMMARY_FILE, "w") as fh:
        fh.write(buf.getvalue())
    return out / SUMMARY_FILE


def load_summary(folder) -> list[dict[str, Any]]:
    """The rows of a sweep's ``summary.csv`` (numbers as floats where they parse)."""
    path = Path(folder) / SUMMARY_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run `python -m vdlib.experiments sweep SPEC` first")

    def value(v: str):
        try:
            return float(v)
        except ValueError:
            return v

    with open(path, newline="") as fh:
        return [{k: value(v) for k, v in row.items()} for row in csv.DictReader(fh)]
