"""One task of a sweep: one experiment at one grid point, run into its own folder, resumable, with
``task.json`` written last as its "finished" marker and record of headline numbers.

Each experiment that sweeps can run is an :class:`Experiment` in :data:`EXPERIMENTS`: its parameters
(what a spec may name), ``check`` (builds the protocol: a bad value fails before any task starts) and
``run`` (runs one grid point into a folder and returns its headline numbers).

* ``trajectory``: :func:`vdlib.experiments.trajectory.run` with the protocol's fields as parameters,
  plus ``group`` (one group per task: ``controls = (group,)``), ``device``, ``data_root`` and
  ``checkpoint_every``. A task resumes from its checkpoint.
* ``spectrum``: :func:`vdlib.experiments.spectrum.run` (Figs. 1–2) with its protocol's fields, plus
  ``run`` (one network per task: ``runs = (run,)``), ``device`` and ``data_root``; training
  checkpoints in the task's ``work/``, finished snapshots kept. A run whose data are missing (CIFAR)
  fails the task with the reason.
* ``steady-state``: one unit of the Part IV protocol (:mod:`vdlib.experiments.steady_state`): ``lr``,
  ``weight_decay`` and ``group`` choose it, the protocol's fields size it. Control (b) is matched to
  the SGD chains of its own setting (its companion chains run inside the task). The common start is
  saved first, and the unit is written atomically: a re-run redoes at most the unit in progress.
"""
from __future__ import annotations

import dataclasses
import os
import socket
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

TASK_FILE = "task.json"
TASK_FORMAT = "vdlib.experiments.sweep.task/1"

__all__ = ["Experiment", "EXPERIMENTS", "TaskFailed", "TASK_FILE", "TASK_FORMAT", "run_task", "read_task"]


class TaskFailed(RuntimeError):
    """A task's error, sent back to the client as its type, message and traceback in text."""


@dataclass(frozen=True)
class Experiment:
    name: str
    parameters: dict[str, str]            # name -> what it sets
    check: Callable[[dict[str, Any], str | None], Any]
    run: Callable[[dict[str, Any], str | None, Path, int], dict[str, float]]  # params, profile, folder, threads


# --------------------------------------------------------------------------------------------------
# trajectory
# --------------------------------------------------------------------------------------------------
_TRAJECTORY_EXTRA = {
    "group": "one group per task (sgd, momentum0, langevin, nobn): controls = (group,)",
    "device": "cpu (default), cuda or auto",
    "data_root": "folder with MNIST / Fashion-MNIST files",
    "checkpoint_every": "seconds between checkpoints (default 60)",
}


def _trajectory_fields() -> dict[str, str]:
    from ..trajectory import Protocol

    return {f.name: "trajectory protocol field" for f in dataclasses.fields(Protocol) if f.name != "profile"}


def _trajectory_protocol(params: dict[str, Any], profile: str | None):
    from .. import trajectory as T

    kw = {k: v for k, v in params.items() if k not in _TRAJECTORY_EXTRA}
    if "group" in params:
        if "controls" in params:
            raise ValueError("give group (one per task) or controls (all in each task), not both")
        kw["controls"] = (params["group"],)
    if "controls" in kw and isinstance(kw["controls"], str):
        kw["controls"] = tuple(c.strip() for c in kw["controls"].split(",") if c.strip())
    return T.protocol(profile, **kw)


def _run_trajectory(params: dict[str, Any], profile: str | None, folder: Path, threads: int) -> dict[str, float]:
    from .. import trajectory as T
    from ..cluster import kill_this_worker_once

    p = _trajectory_protocol(params, profile)
    kw = dict(device=params.get("device"), data_root=params.get("data_root"), num_threads=threads,
              checkpoint_every=float(params.get("checkpoint_every", 60.0)), progress=False,
              command="python -m vdlib.experiments sweep")

    def half():  # test-only (cluster.TEST_KILL_ENV): a checkpointed first half, then the worker dies
        T.run(p, out=folder, resume=(folder / "meta.json").is_file(), stop_after=max(1, p.epochs // 2),
              **{**kw, "checkpoint_every": 1e9})

    kill_this_worker_once(folder.name, half)
    res = T.run(p, out=folder, resume=(folder / "meta.json").is_file(), **kw)
    if res.meta["status"] != "complete":
        raise RuntimeError(f"the trajectory run in {folder} ended with status {res.meta['status']!r}")
    head: dict[str, float] = {"epochs": res.meta["epochs_done"]}
    s = slice(p.burn_in, p.epochs + 1)
    for g, rec in res.records.items():
        head[f"{g}/grad_norm"] = float(np.asarray(rec.grad_norm[:, s]).mean())
        head[f"{g}/loss"] = float(np.asarray(rec.loss[:, s]).mean())
        head[f"{g}/error"] = float(np.asarray(rec.error[:, s]).mean())
    return head


# --------------------------------------------------------------------------------------------------
# steady-state (Part IV): one unit per task
# --------------------------------------------------------------------------------------------------
_STEADY_EXTRA = {
    "lr": "learning rate of the unit's setting (default 0.1)",
    "weight_decay": "weight decay of the unit's setting (default 5e-4)",
    "group": "sgd (default), momentum0, langevin or nobn",
}


def _steady_fields() -> dict[str, str]:
    from ..steady_state import SteadyProtocol

    return {f.name: "steady-state protocol field" for f in dataclasses.fields(SteadyProtocol)
            if f.name not in ("settings", "profile")}


def _steady_protocol(params: dict[str, Any], profile: str | None):
    from ..steady_state import GROUPS, Setting, protocol

    group = params.get("group", "sgd")
    if group not in GROUPS:
        raise ValueError(f"group must be one of {', '.join(GROUPS)}, got {group!r}")
    # control (b) is matched to the SGD chains of its setting: they run beside it in the same task
    groups = ("sgd", group) if group == "langevin" else (group,)
    setting = Setting(float(params.get("lr", 0.1)), float(params.get("weight_decay", 5e-4)), groups)
    kw = {k: v for k, v in params.items() if k not in _STEADY_EXTRA}
    return protocol(profile, settings=(setting,), **kw), setting, group


def _run_steady(params: dict[str, Any], profile: str | None, folder: Path, threads: int) -> dict[str, float]:
    from ... import files, provenance
    from ..steady_state import runner as R

    p, s, group = _steady_protocol(params, profile)
    X, y, info = R.load_data(p)
    R.ensure_starts(p, folder, X, y)
    path = R.unit_path(folder, s, group)
    if not path.is_file():
        arrays = R.run_unit(p, s, group, X, y, R.load_start(folder, group != "nobn"))
        files.save_npz(path, compressed=False, **arrays)
    files.write_json(folder / "meta.json", {**provenance.run_metadata("cpu", data=info), "protocol": p.as_dict(),
                                            "setting": s.name, "group": group, "unit": str(path.relative_to(folder)),
                                            "sha256": files.sha256(path)})
    with np.load(path) as z:
        return {"loss": float(z["loss"].mean()), "error": float(z["error"].mean()),
                "grad_norm": float(z["grad_norm"].mean()), "weight_norm": float(z["weight_norm"].mean()),
                "burn_in": int(z["burn_epochs"][-1])}


# --------------------------------------------------------------------------------------------------
# spectrum (Figs. 1–2): one network per task
# --------------------------------------------------------------------------------------------------
_SPECTRUM_EXTRA = {
    "run": "one network per task (small-fc, small-lenet, small-allcnn-cifar10, ...): runs = (run,)",
    "device": "cpu (default), cuda or auto",
    "data_root": "folder with MNIST / Fashion-MNIST / CIFAR files",
}


def _spectrum_fields() -> dict[str, str]:
    from ..spectrum import Protocol

    return {f.name: "spectrum protocol field" for f in dataclasses.fields(Protocol) if f.name != "profile"}


def _spectrum_protocol(params: dict[str, Any], profile: str | None):
    from .. import spectrum as S

    kw = {k: v for k, v in params.items() if k not in _SPECTRUM_EXTRA}
    if "run" in params:
        if "runs" in params:
            raise ValueError("give run (one per task) or runs (all in each task), not both")
        kw["runs"] = (params["run"],)
    return S.protocol(profile, **kw)


def _run_spectrum(params: dict[str, Any], profile: str | None, folder: Path, threads: int) -> dict[str, float]:
    from .. import spectrum as S

    p = _spectrum_protocol(params, profile)
    res = S.run(p, out=folder, work=folder / "work", resume=(folder / "meta.json").is_file(), progress=False,
                num_threads=threads,
                device=params.get("device"), data_root=params.get("data_root"),
                command="python -m vdlib.experiments sweep")
    if res.meta.get("skipped"):
        raise RuntimeError("; ".join(f"{run} skipped: {why}" for run, why in res.meta["skipped"].items()))
    head: dict[str, float] = {}
    for run, snaps in res.snapshots.items():
        for snap in snaps:
            stats = snap.stats
            head[f"{run}/epoch{snap.epoch}/rank_pct"] = stats["rank_pct"]
            head[f"{run}/epoch{snap.epoch}/mean"] = stats["mean"]
    return head


EXPERIMENTS: dict[str, Experiment] = {}


def _register() -> None:
    EXPERIMENTS["trajectory"] = Experiment("trajectory", {**_trajectory_fields(), **_TRAJECTORY_EXTRA},
                                           _trajectory_protocol, _run_trajectory)
    EXPERIMENTS["spectrum"] = Experiment("spectrum", {**_spectrum_fields(), **_SPECTRUM_EXTRA},
                                         _spectrum_protocol, _run_spectrum)
    EXPERIMENTS["steady-state"] = Experiment("steady-state", {**_steady_fields(), **_STEADY_EXTRA},
                                             lambda params, profile: _steady_protocol(params, profile)[0],
                                             _run_steady)


_register()


# --------------------------------------------------------------------------------------------------
# a task, as Dask runs it
# --------------------------------------------------------------------------------------------------
def read_task(folder) -> dict[str, Any] | None:
    """The finished task's record in ``folder`` (``task.json``), or None while it is not finished."""
    import json

    path = Path(folder) / TASK_FILE
    if not path.is_file():
        return None
    try:
        rec = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return rec if rec.get("format") == TASK_FORMAT and rec.get("status") == "complete" else None


def run_task(experiment: str, name: str, parameters: dict[str, Any], profile: str, folder: str,
             threads: int = 1) -> dict[str, Any]:
    """Run one grid point into ``folder`` (holding its run lock), write ``task.json`` last, return it.

    Runs in a Dask worker (or directly: the tests do). ``threads`` torch/BLAS threads for the task."""
    from ... import files, provenance
    from ...config import select_device, torch_threads
    from ...lifecycle import RunLock
    from ..cluster import task_started

    task_started(threads)
    folder = Path(folder)
    t0, cpu0 = time.perf_counter(), time.process_time()
    with RunLock(folder, what=f"sweep task {name}"):
        files.remove_stale_temporaries(folder)
        try:
            with torch_threads(threads):
                headline = EXPERIMENTS[experiment].run(dict(parameters), profile, folder, threads)
        except Exception as err:  # noqa: BLE001 (sent back as text: not every exception type unpickles)
            raise TaskFailed(f"{type(err).__name__}: {err}\n--- the task's traceback ---\n"
                             f"{traceback.format_exc()}") from None
        record = {"format": TASK_FORMAT, "status": "complete", "experiment": experiment, "name": name,
                  "parameters": parameters, "profile": profile, "threads": threads, "headline": headline,
                  "seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - cpu0, "host": socket.gethostname(), "pid": os.getpid(),
                  **provenance.run_metadata(select_device(parameters.get("device")))}
        files.write_json(folder / TASK_FILE, record)
    return record
