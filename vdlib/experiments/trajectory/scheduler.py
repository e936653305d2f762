"""Recording the groups in several processes: each group (or, in a run being resumed, each bin of groups
recorded together) is one Dask task on a local cluster of ``processes`` workers or on a running Dask
cluster; the tasks are resumable, and their results or errors come back to the main process."""
from __future__ import annotations

import json
import os
import time
import traceback
from pathlib import Path
from typing import Any


from ...deep import chains as ch
from .protocol import Protocol
from .pretraining import load_data
from .engines import _checkpoint_name, _load_pretrained, _make_engines, _noise_trace_end

def _recorded_in_processes(meta: dict[str, Any] | None) -> bool:
    """Whether the run described by ``meta`` (meta.json) was recorded by several processes."""
    meta = meta or {}
    return meta.get("processes") is not None and meta.get("checkpoint_files") != [ch.CHECKPOINT_FILE]


def _resume_partition(folder: Path | None, p: Protocol, resume: bool, processes: int,
                      old_meta: dict[str, Any] | None) -> list[list[str]] | None:
    """Check the folder's checkpoint files against the kind of run asked for; return the partition stored
    in ``meta.json`` when a run of several processes is resumed (None: measure a new one)."""
    if folder is None:
        return None
    found = sorted(f.name for f in folder.glob("checkpoint*.pt")) if folder.is_dir() else []
    old_parts = (old_meta or {}).get("processes")
    old_multi = _recorded_in_processes(old_meta)
    stored = None
    if old_multi:
        flat = [g for b in old_parts for g in b]
        if not all(old_parts) or sorted(flat) != sorted(p.controls):
            raise ValueError(f"{folder / 'meta.json'}: its partition into processes {old_parts} does not hold each "
                             f"group of {list(p.controls)} once; restore it, or use another folder")
        if processes > 1:
            stored = [list(b) for b in old_parts]
    if not found:
        return stored
    if not resume:
        raise FileExistsError(f"{folder} holds checkpoints already ({', '.join(found)}): pass resume=True (--resume) "
                              "to continue that run, or choose another folder (--out)")
    expected = [ch.CHECKPOINT_FILE] if processes == 1 else [_checkpoint_name(b) for b in stored or []]
    stray = [f for f in found if f not in expected]
    if not stray:
        return stored
    if found == [ch.CHECKPOINT_FILE]:
        hint = "it was recorded by one process: pass processes=1 (--processes 1) to resume it"
    elif old_multi and all(f in [_checkpoint_name(b) for b in old_parts] for f in found):
        hint = (f"it was recorded as {len(old_parts)} tasks of several processes "
                f"({' | '.join('+'.join(b) for b in old_parts)}): pass processes=2 or more (--processes N; "
                "any value > 1 reuses those tasks)")
    elif old_multi and all(f.startswith("checkpoint-") for f in found):
        hint = (f"the partition into processes in meta.json ({' | '.join('+'.join(b) for b in old_parts)}) does not "
                "match them: restore it (each file names the groups of one process), or use another folder")
    else:
        hint = "these files do not belong to one run: remove the stray ones, or use another folder"
    uses = (f"a run of one process uses {ch.CHECKPOINT_FILE}" if processes == 1 else
            f"a run of several processes uses {', '.join(expected)}" if expected else
            "a run of several processes uses checkpoint-<groups>.pt files, one per process, and needs its "
            "partition in meta.json")
    raise ValueError(f"cannot resume {folder} with processes={processes}: it holds the checkpoint files "
                     f"{', '.join(found)}, and {uses}; {hint}")


# ---------------------------------------------------------------- several processes: Dask tasks
def _record_bin(protocol: dict[str, Any], groups: list[str], folder: str, data_root, device: str,
                fingerprint: float, stop_after: int | None, checkpoint_every: float, workers: int,
                num_threads: int, progress: bool) -> dict[str, Any]:
    """Record ``groups`` in this (worker) process: what :func:`_run` does with one process, for these groups.

    It continues from the groups' checkpoint when there is one: the run being resumed, or an earlier
    attempt of this task on a worker that died (Dask runs it again). A fresh run starts without any
    checkpoint (:func:`_resume_partition` refuses a folder that holds some), so a checkpoint found here
    is always this run's."""
    p = Protocol.from_dict(protocol)
    folder = Path(folder)
    X, y, info = load_data(p, data_root)
    if info["fingerprint"] != fingerprint:
        raise ValueError(f"the recording process of {'+'.join(groups)} loaded other data than the main process "
                         f"(fingerprint {info['fingerprint']!r} != {fingerprint!r}): the data files changed, or "
                         "data_root points elsewhere")
    pre = _load_pretrained(folder / "pretrained.pt", info)
    engines, _ = _make_engines(p, X, y, pre, json.loads(pre["noise"]), device, groups)
    name = _checkpoint_name(groups)
    t0 = time.perf_counter()
    try:
        records = ch.run_network_chains(engines, p.epochs, folder=folder, resume=(folder / name).is_file(),
                                record_fdr=p.record_fdr, progress=progress, stop_after=stop_after,
                                checkpoint_every=checkpoint_every, workers=workers, checkpoint_file=name,
                                max_weight_norm=p.max_weight_norm, max_loss=p.max_loss)
    except ch.TrajectoryDiverged as err:  # described, not raised: the main process raises it again
        return {"status": "diverged", "message": str(err), "epoch": err.epoch, "group": err.group,
                "chains": list(err.chains), "checkpoint_epoch": err.checkpoint_epoch}
    seconds = time.perf_counter() - t0
    return {"status": "ok", "groups": list(groups), "seconds": seconds, "pid": os.getpid(),
            "epochs_done": {c: r.epochs_done for c, r in records.items()},
            "start_epoch": {c: r.start_epoch for c, r in records.items()},
            "noise_trace_end": _noise_trace_end(p, engines)}


def _record_bin_task(job: dict[str, Any]) -> dict[str, Any]:
    """The Dask task of one bin: :func:`_record_bin`'s result, or a description of its error (with traceback)."""
    from ..cluster import TEST_KILL_ENV, task_started

    task_started(job["num_threads"])
    if os.environ.get(TEST_KILL_ENV):  # test-only: see vdlib.experiments.cluster.TEST_KILL_ENV
        _test_kill_once(job)
    try:
        return _record_bin(**job)
    except Exception as err:  # noqa: BLE001 (reported to the main process, which raises)
        return {"status": "error", "type": type(err).__name__, "message": str(err),
                "traceback": traceback.format_exc()}


def _test_kill_once(job: dict[str, Any]) -> None:
    """Test-only (:data:`vdlib.experiments.cluster.TEST_KILL_ENV`): record half the epochs, then die."""
    from ..cluster import kill_this_worker_once

    p = Protocol.from_dict(job["protocol"])
    kill_this_worker_once("+".join(job["groups"]), lambda: _record_bin(**{**job, "stop_after": max(1, p.epochs // 2),
                                                                          "checkpoint_every": 1e9}))


def _child_error(res: dict[str, Any], groups) -> BaseException:
    import builtins

    if res["status"] == "diverged":
        return ch.TrajectoryDiverged(res["message"], epoch=res["epoch"], group=res["group"], chains=res["chains"],
                                     checkpoint_epoch=res["checkpoint_epoch"])
    msg = (f"the process recording {'+'.join(groups)} failed: {res['type']}: {res['message']}\n"
           f"--- its traceback ---\n{res['traceback']}")
    kind = getattr(builtins, res["type"], None)
    if isinstance(kind, type) and issubclass(kind, Exception) and not issubclass(kind, KeyError):
        try:
            return kind(msg)
        except Exception:  # noqa: BLE001 (an exception type that wants other arguments)
            pass
    return RuntimeError(msg)


def _record_in_processes(p: Protocol, folder: Path, partition: list[list[str]], *, progress: bool,
                         dev, data_root, fingerprint: float, stop_after, checkpoint_every, workers,
                         num_threads: int, processes: int, scheduler: str | None = None) -> list[dict[str, Any]]:
    """Record each bin of ``partition`` as one Dask task, on a local cluster of ``processes`` workers or on
    the cluster at ``scheduler``; their results, in the partition's order.

    A diverged bin raises :class:`vdlib.deep.chains.TrajectoryDiverged` here (the other tasks are
    cancelled); another error in a task raises here with its traceback in the message. A worker that
    dies mid-task is restarted and the task run again from its checkpoint.
    """
    from ..cluster import completed, connect

    bar = next((i for i, b in enumerate(partition) if "sgd" in b), 0)  # the one task with a progress bar
    token = os.urandom(4).hex()  # fresh task keys: a new run never reuses a result the scheduler remembers
    results: dict[int, dict[str, Any]] = {}
    with connect(min(processes, len(partition)), scheduler=scheduler) as client:
        futures = {}
        for i, groups in enumerate(partition):
            job = dict(protocol=p.as_dict(), groups=list(groups), folder=str(Path(folder).resolve()),
                       data_root=None if data_root is None else str(data_root), device=str(dev),
                       fingerprint=fingerprint, stop_after=stop_after,
                       checkpoint_every=checkpoint_every, workers=workers, num_threads=num_threads,
                       progress=bool(progress) and i == bar)
            fut = client.submit(_record_bin_task, job, key=f"trajectory-{'+'.join(groups)}-{token}", pure=False)
            futures[fut] = i
        try:
            for fut in completed(client, list(futures)):
                i = futures[fut]
                if fut.status != "finished":  # the task itself raised (e.g. a worker lost too often)
                    err = fut.exception()
                    res = {"status": "error", "type": type(err).__name__, "message": str(err),
                           "traceback": "".join(traceback.format_tb(fut.traceback()))}
                else:
                    res = fut.result()
                if res["status"] != "ok":
                    raise _child_error(res, partition[i])
                results[i] = res
        finally:
            client.cancel([f for f in futures if not f.done()])
    return [results[i] for i in range(len(partition))]
