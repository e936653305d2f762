"""Recording the groups in several OS processes: a split of the groups into bins of about equal time per
epoch, the recording processes (each resumable), and their results or errors."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import torch

from ...deep import chains as ch
from .protocol import Protocol
from .pretraining import load_data
from .engines import _checkpoint_name, _load_pretrained, _make_engines, _noise_trace_end

def _partition(costs: dict[str, float], order, processes: int) -> list[list[str]]:
    """Greedy longest-processing-time split of the groups into at most ``processes`` bins (groups kept
    in ``order`` inside a bin; bins ordered by their first group)."""
    order = list(order)
    bins: list[list[str]] = [[] for _ in range(min(processes, len(costs)))]
    load = [0.0] * len(bins)
    for g in sorted(costs, key=lambda g: (-costs[g], order.index(g))):
        i = min(range(len(bins)), key=lambda i: (load[i], i))
        bins[i].append(g)
        load[i] += costs[g]
    bins = [sorted(b, key=order.index) for b in bins if b]
    return sorted(bins, key=lambda b: order.index(b[0]))


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
        hint = (f"it was recorded by {len(old_parts)} processes ({' | '.join('+'.join(b) for b in old_parts)}): "
                f"pass processes={len(old_parts)} (--processes {len(old_parts)}; any value > 1 reuses that partition)")
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


# ---------------------------------------------------------------- several processes
def _record_bin(protocol: dict[str, Any], groups: list[str], folder: str, data_root, device: str,
                fingerprint: float, resume: bool, stop_after: int | None, checkpoint_every: float, workers: int,
                num_threads: int, progress: bool) -> dict[str, Any]:
    """Record ``groups`` in this (child) process: what :func:`_run` does with one process, for these groups."""
    from ...lifecycle import watch_parent

    watch_parent()  # a killed parent (SIGKILL, docker stop, scancel) must not leave this process writing
    torch.set_num_threads(num_threads)
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
        records = ch.run_network_chains(engines, p.epochs, folder=folder, resume=resume and (folder / name).is_file(),
                                record_fdr=p.record_fdr, progress=progress, stop_after=stop_after,
                                checkpoint_every=checkpoint_every, workers=workers, checkpoint_file=name,
                                max_weight_norm=p.max_weight_norm, max_loss=p.max_loss)
    except ch.TrajectoryDiverged as err:  # described, not pickled: the parent raises it again
        return {"status": "diverged", "message": str(err), "epoch": err.epoch, "group": err.group,
                "chains": list(err.chains), "checkpoint_epoch": err.checkpoint_epoch}
    seconds = time.perf_counter() - t0
    return {"status": "ok", "groups": list(groups), "seconds": seconds, "pid": os.getpid(),
            "epochs_done": {c: r.epochs_done for c, r in records.items()},
            "start_epoch": {c: r.start_epoch for c, r in records.items()},
            "noise_trace_end": _noise_trace_end(p, engines)}


def _record_bin_main(conn, job: dict[str, Any]) -> None:
    """Entry point of a recording process: send :func:`_record_bin`'s result, or a description of its error."""
    try:
        result = _record_bin(**job)
    except BaseException as err:  # noqa: BLE001 (reported to the parent, which raises)
        import traceback

        result = {"status": "error", "type": type(err).__name__, "message": str(err),
                  "traceback": traceback.format_exc()}
    try:
        conn.send(result)
    finally:
        conn.close()


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


def _record_in_processes(p: Protocol, folder: Path, partition: list[list[str]], *, resume: bool, progress: bool,
                         dev, data_root, fingerprint: float, stop_after, checkpoint_every, workers,
                         num_threads: int) -> list[dict[str, Any]]:
    """Record each bin of ``partition`` in its own process ("spawn"); their results, in the partition's order.

    A diverged bin raises :class:`vdlib.deep.chains.TrajectoryDiverged` here (the other processes are stopped);
    another error in a process raises here with its traceback in the message.
    """
    import multiprocessing as mp
    from multiprocessing.connection import wait

    ctx = mp.get_context("spawn")
    bar = next((i for i, b in enumerate(partition) if "sgd" in b), 0)  # the one process with a progress bar
    procs, results, ok = [], {}, False
    try:
        for i, groups in enumerate(partition):
            job = dict(protocol=p.as_dict(), groups=list(groups), folder=str(folder),
                       data_root=None if data_root is None else str(data_root), device=str(dev),
                       fingerprint=fingerprint, resume=bool(resume), stop_after=stop_after,
                       checkpoint_every=checkpoint_every, workers=workers, num_threads=num_threads,
                       progress=bool(progress) and i == bar)
            recv, send = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_record_bin_main, args=(send, job), daemon=True,
                               name=f"vdlib-trajectory-{'+'.join(groups)}")
            proc.start()
            send.close()  # the child holds the write end: its exit makes recv readable (EOF)
            procs.append((i, proc, recv))
        pending = {recv: (i, proc) for i, proc, recv in procs}
        while pending:
            for conn in wait(list(pending)):
                i, proc = pending.pop(conn)
                try:
                    res = conn.recv()
                except EOFError:
                    proc.join()
                    res = {"status": "error", "type": "RuntimeError", "traceback": "(none: the process died)\n",
                           "message": f"it ended without a result (exit code {proc.exitcode})"}
                if res["status"] != "ok":
                    raise _child_error(res, partition[i])
                results[i] = res
        ok = True
    finally:
        for _, proc, recv in procs:
            if not ok and proc.is_alive():
                proc.terminate()
            proc.join()
            recv.close()
    return [results[i] for i in range(len(partition))]
