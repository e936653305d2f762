""":func:`run` and :func:`load`: a trajectory run from protocol to artifact folder (data, pre-training,
engines, recording in one process or several, metadata), and the artifact read back."""
from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ... import checks, files, provenance
from ...deep import chains as ch
from ...lifecycle import RunLock
from ...provenance import log
from .protocol import ARTIFACT_FORMAT, CONTROLS, Protocol, _chain_seeds, _init_seeds, _n_init, _seed, protocol
from .pretraining import load_data, pretrain
from .engines import _checkpoint_name, _load_pretrained, _make_engines, _noise_trace_end
from .scheduler import _record_in_processes, _resume_partition

# --------------------------------------------------------------------------------------------------
# results
# --------------------------------------------------------------------------------------------------
@dataclass
class TrajectoryResult:
    """A finished (or loaded) run: ``protocol``, ``records`` (group -> :class:`vdlib.deep.chains.Record`), ``meta``."""

    protocol: Protocol
    records: dict[str, ch.Record]
    meta: dict[str, Any] = field(default_factory=dict)
    folder: Path | None = None

    def record(self, group: str) -> ch.Record:
        if group not in self.records:
            raise KeyError(f"no group {group!r} in this run; groups: {', '.join(self.records)}")
        return self.records[group]

    def trajectory(self, group: str = "sgd", chain: int = 0) -> np.ndarray:
        """The T×d weight trajectory of one chain after the burn-in (feeds :mod:`vdlib.analysis.trajectory`)."""
        return self.record(group).trajectory(chain, start=self.protocol.burn_in)

    def summary(self) -> str:
        lines = [f"trajectory run: {self.protocol.model}, {self.meta.get('data', {}).get('dataset', '?')} "
                 f"N={self.protocol.n_examples}, {self.protocol.epochs} epochs (burn-in {self.protocol.burn_in}), "
                 f"lr={self.protocol.lr}, b={self.protocol.batch_size}"]
        for g, rec in self.records.items():
            t = rec.epochs_done
            s = slice(self.protocol.burn_in, t + 1)
            gn = np.asarray(rec.grad_norm[:, s])
            lines.append(f"  {g:10s} {rec.n_chains} chains, d={rec.d}: |grad f|/sqrt(d) mean {gn.mean():.3g}, "
                         f"loss {np.asarray(rec.loss[:, s]).mean():.3g}, "
                         f"train error {np.asarray(rec.error[:, s]).mean():.3%}")
        return "\n".join(lines)


def _series_npz(path: Path, records: dict[str, ch.Record], extra: dict[str, np.ndarray]) -> None:
    arrays = dict(extra)
    for g, rec in records.items():
        n = rec.epochs_done
        for k in ("loss", "error", "grad_norm", "theta_dot_grad"):
            arrays[f"{g}/{k}"] = np.asarray(getattr(rec, k)[:, :n + 1])
        for k in ("step_sq", "theta_dot_step_grad"):
            arrays[f"{g}/{k}"] = np.asarray(getattr(rec, k)[:, :n])
        arrays[f"{g}/initial_weights"] = np.asarray(rec.weights[:, 0])
        arrays[f"{g}/final_weights"] = np.asarray(rec.weights[:, n])
    files.save_npz(path, compressed=False, **arrays)


# --------------------------------------------------------------------------------------------------
# the run
# --------------------------------------------------------------------------------------------------
def run(p: Protocol | None = None, *, profile: str | None = None, out=None, resume: bool = False,
        progress: bool | None = None, device=None, num_threads: int | None = None, data_root=None,
        stop_after: int | None = None, checkpoint_every: float = 60.0, command: str | None = None,
        workers: int = 1, processes: int = 1, verbose: bool = False,
        scheduler: str | None = None) -> TrajectoryResult:
    """Run the protocol: load data, pre-train, measure the noise trace, record the long phase.

    Parameters
    ----------
    p : Protocol, optional
        Default: :func:`protocol` ``(profile)``.
    out : path, optional
        Artifact folder (memory-mapped arrays, checkpoints, ``meta.json``, ``trajectory.npz``). Without
        it the run stays in memory (fine for the ``ci`` and ``book`` sizes).
    resume : bool
        Continue the run in ``out`` (same protocol); pre-training is not repeated.
    progress : bool, optional
        Progress bar (default: ``full`` profile only).
    device : str, optional
        ``"cpu"`` (default) or ``"cuda"``.
    num_threads : int, optional
        torch CPU threads of every recording process; default ``p.threads`` (1). Given here, it
        replaces ``p.threads`` (the recorded protocol holds what was used). 1 is the default because the
        tensors are small: on a busy 2-core machine a second thread made the run 5–10× *slower*. A run
        resumes only with the thread count it was started with (BLAS rounding depends on it).
    data_root : path, optional
        Where to look for MNIST / Fashion-MNIST first.
    stop_after : int, optional
        Stop after this many recorded epochs (checkpointed): simulates a killed run.
    workers : int
        Threads that advance the groups side by side (:func:`vdlib.deep.chains.run_network_chains`); same results.
    processes : int
        Dask workers (OS processes) that record the groups (default 1: this process, no Dask). The
        results do not depend on it: every group has its own seeds, and the records are bitwise those
        of one process. With ``processes > 1`` (needs ``out``) the data loading, pre-training and noise
        traces happen here, once; then each group is one Dask task (:mod:`vdlib.experiments.cluster`:
        a local cluster of ``processes`` workers, which reload the data and ``pretrained.pt``) that
        records into its group subfolder and its own checkpoint ``checkpoint-<group>.pt``; Dask's
        scheduler hands the next task to the first free worker. A worker that dies mid-task is
        restarted and its task resumed from its checkpoint. ``meta["processes"]`` holds the bins of
        groups (one group each; runs started before Dask may hold bins of several), which ``resume``
        reuses (any ``processes > 1`` then runs it); a folder recorded by one process resumes with
        ``processes=1`` only, and vice versa. Only the task holding ``"sgd"`` (else the first) shows a
        progress bar. Wall time with 1 and 2 processes: see benchmarks/bench_trajectory.py.
    scheduler : str, optional
        With ``processes > 1``: the address of a running Dask scheduler (``tcp://host:8786``) to send
        the tasks to instead of a local cluster; its workers must see ``out`` and the data.
    verbose : bool
        Print the partition into processes when the recording starts (the command line does).
    """
    from ...config import current, select_device, torch_threads

    p = protocol(profile) if p is None else p
    if not isinstance(p, Protocol):
        raise TypeError("p must be a Protocol (vdlib.experiments.trajectory.protocol(...))")
    from ..spectrum import refuse_bundled_at_full_scale

    refuse_bundled_at_full_scale(p.profile, p.dataset, data_root, "trajectory")
    processes = checks.integer(processes, "processes")
    if scheduler is not None and processes == 1:
        raise ValueError(f"scheduler={scheduler!r} runs the groups as Dask tasks, which needs processes > 1 "
                         "(e.g. --processes 2); with one process everything is recorded here")
    if processes > 1 and out is None:
        raise ValueError(f"processes={processes} needs out=<folder>: the recording processes share the run through "
                         "its folder (pretrained.pt, the records); pass out=..., or processes=1")
    dev = select_device(device)
    if num_threads is not None and checks.integer(num_threads, "num_threads") != p.threads:
        p = dataclasses.replace(p, threads=num_threads)
    num_threads = p.threads
    progress = current().show_progress if progress is None else bool(progress)
    if out is not None:
        with RunLock(out, what="trajectory"), torch_threads(num_threads):
            return _run(p, out, resume, progress, dev, data_root, stop_after, checkpoint_every, command, workers,
                        processes, num_threads, verbose)
    with torch_threads(num_threads):
        return _run(p, out, resume, progress, dev, data_root, stop_after, checkpoint_every, command, workers,
                    processes, num_threads, verbose, scheduler)


# ---------------------------------------------------------------- the run
def _run(p: Protocol, out, resume, progress, dev, data_root, stop_after, checkpoint_every, command,
         workers, processes, num_threads, verbose, scheduler=None) -> TrajectoryResult:
    t_start = time.perf_counter()
    folder = Path(out) if out is not None else None
    meta_path = folder / "meta.json" if folder is not None else None
    old_meta, stored_partition = None, None
    if folder is not None:
        if meta_path.is_file() and not resume:
            raise FileExistsError(f"{folder} already holds a trajectory run: pass resume=True (--resume) to "
                                  "continue it, or choose another folder (--out)")
        if resume and not meta_path.is_file():
            raise FileNotFoundError(f"nothing to resume in {folder}: it holds no trajectory run (meta.json missing); "
                                    "run without --resume (resume=False) to start one there")
        if resume:
            old_meta = read_meta(meta_path)
            old = _protocol_of(meta_path, old_meta)
            if old != p:
                diffs = [k for k, v in p.as_dict().items() if old.as_dict().get(k) != v]
                if diffs == ["threads"]:
                    raise ValueError(f"cannot resume {folder}: it was recorded with {old.threads} torch thread(s), "
                                     f"not {p.threads}; BLAS rounding depends on the thread count, so the resumed "
                                     f"epochs would differ from an uninterrupted run. Pass --threads {old.threads}")
                raise ValueError(f"cannot resume {folder}: its protocol differs in {', '.join(diffs)}; pass the "
                                 "same settings, or use another folder")
        stored_partition = _resume_partition(folder, p, resume, processes, old_meta)
        folder.mkdir(parents=True, exist_ok=True)
        if resume:
            files.remove_stale_temporaries(folder)  # left by a killed writer; this process holds the run lock
    elif resume:
        raise ValueError("resume=True needs out=<the run's folder>")

    X, y, data_info = load_data(p, data_root)
    log(f"data: {data_info['N']} images of {data_info['dataset']} (classes {data_info['class_names']}) from "
         f"{data_info['source']}" + (f"; note: {data_info['note']}" if data_info["note"] else ""), verbose)
    meta: dict[str, Any] = {"format": ARTIFACT_FORMAT, "protocol": p.as_dict(),
                            **provenance.run_metadata(dev, data=data_info), "controls": {},
                            "status": "running", "command": command}
    pre_path = folder / "pretrained.pt" if folder is not None else None
    if pre_path is not None and pre_path.is_file():
        pre = _load_pretrained(pre_path, data_info)
    else:
        t0 = time.perf_counter()
        need_bn = any(c != "nobn" for c in p.controls)
        pre = {"bn": None, "nobn": None, "theta_bn": torch.zeros(0), "theta_nobn": torch.zeros(0)}
        if need_bn:
            r = pretrain(X, y, p, batchnorm=True, device=dev)
            pre["theta_bn"] = r.pop("theta")
            pre["bn"] = r
        if "nobn" in p.controls:
            r = pretrain(X, y, p, batchnorm=False, device=dev)
            pre["theta_nobn"] = r.pop("theta")
            pre["nobn"] = r
        pre["seconds"] = time.perf_counter() - t0
        # the matched noise of control (b): tr Σ_B of SGD at each chain's starting point
        noise = {}
        for c in p.controls:
            bn = c != "nobn"
            lay = ch.layout(p.model, len(p.classes), batchnorm=bn)
            probe = ch.ChainEngine(X, y, pre["theta_bn" if bn else "theta_nobn"][:p.n_chains(c)], lay,
                                   seeds=_chain_seeds(p, c),
                                   lr=p.lr, batch_size=p.batch_size, replacement=p.replacement, device=dev)
            nt = probe.noise_trace(p.noise_batches, seed=_seed(p, 4, list(CONTROLS).index(c)))
            noise[c] = {k: (v.tolist() if isinstance(v, torch.Tensor) else v) for k, v in nt.items()}
        pre["noise"] = json.dumps(noise)
        if pre_path is not None:
            files.save_torch(pre_path, {"theta_bn": pre["theta_bn"], "theta_nobn": pre["theta_nobn"],
                                       "noise": pre["noise"], "fingerprint": data_info["fingerprint"],
                                       "json": json.dumps({k: pre[k] for k in ("bn", "nobn", "seconds")})})
    noise = json.loads(pre["noise"])
    meta["pretrain"] = {"bn": pre["bn"], "nobn": pre["nobn"], "seconds": pre["seconds"]}
    for key in ("bn", "nobn"):
        r = pre[key]
        if r is not None and not all(r["reached_zero"]):
            meta["pretrain"][f"{key}_warning"] = (
                f"chains {[i for i, z in enumerate(r['reached_zero']) if not z]} did not reach zero training error "
                f"in {p.pretrain_max_epochs} epochs (best errors {r['error']}); raise pretrain_max_epochs")

    engines, meta["controls"] = _make_engines(p, X, y, pre, noise, dev, p.controls)
    meta["init_seeds"] = _init_seeds(p, max(_n_init(p, True), _n_init(p, False)))
    if processes == 1:
        partition, ckpt_files = [list(p.controls)], [ch.CHECKPOINT_FILE] if folder is not None else []
        log(f"recording {', '.join(p.controls)} in this process", verbose)
    else:
        if stored_partition is not None:
            partition = stored_partition
            how = "reused from meta.json: the run being resumed"
            if "processes_probe_seconds_per_epoch" in old_meta:
                meta["processes_probe_seconds_per_epoch"] = old_meta["processes_probe_seconds_per_epoch"]
        else:
            partition = [[g] for g in p.controls]  # one Dask task per group; the scheduler balances them
            how = "one Dask task per group"
        ckpt_files = [_checkpoint_name(b) for b in partition]
        log(f"recording {len(partition)} tasks on {processes} Dask workers"
            f"{' at ' + scheduler if scheduler else ''}: {' | '.join(', '.join(b) for b in partition)} ({how})", verbose)
    meta["processes"], meta["checkpoint_files"] = partition, ckpt_files
    if folder is not None:
        files.write_json(meta_path, meta)

    t0 = time.perf_counter()
    per_process = None
    try:
        if processes == 1:
            records = ch.run_network_chains(engines, p.epochs, folder=folder, resume=resume and folder is not None and
                                    (folder / ch.CHECKPOINT_FILE).is_file(), record_fdr=p.record_fdr,
                                    progress=progress, stop_after=stop_after, checkpoint_every=checkpoint_every,
                                    workers=workers, max_weight_norm=p.max_weight_norm, max_loss=p.max_loss)
        else:
            results = _record_in_processes(p, folder, partition, progress=progress, dev=dev,
                                           data_root=data_root, fingerprint=data_info["fingerprint"],
                                           stop_after=stop_after, checkpoint_every=checkpoint_every,
                                           workers=workers, num_threads=num_threads or 1, processes=processes,
                                           scheduler=scheduler)
    except ch.TrajectoryDiverged as err:
        if folder is not None:
            meta.update(status="diverged", error=str(err), epochs_done=err.checkpoint_epoch)
            files.write_json(meta_path, meta)
        raise
    seconds = time.perf_counter() - t0
    if processes == 1:
        noise_end = _noise_trace_end(p, engines)
    else:
        noise_end, records = {}, {}
        for res in results:
            noise_end.update(res["noise_trace_end"])
        done_by = {c: n for res in results for c, n in res["epochs_done"].items()}
        start_by = {c: n for res in results for c, n in res["start_epoch"].items()}
        for c in p.controls:
            records[c] = ch.open_record(folder / c, epochs_done=done_by[c])
            records[c].start_epoch = start_by[c]
        per_process = [{"groups": res["groups"], "seconds": res["seconds"], "pid": res["pid"],
                        "epochs_per_second": (min(res["epochs_done"].values()) - min(res["start_epoch"].values()))
                        / res["seconds"] if res["seconds"] > 0 else None} for res in results]
    done = min(r.epochs_done for r in records.values())
    for c in p.controls:
        meta["controls"][c]["noise_trace_end"] = noise_end[c]
    meta.update(status="complete" if done == p.epochs else "stopped", epochs_done=done,
                seconds={"record_phase_this_call": seconds, "total_this_call": time.perf_counter() - t_start,
                         "epochs_per_second": (done - records[p.controls[0]].start_epoch) / seconds
                         if seconds > 0 else None})
    if per_process is not None:
        meta["seconds"]["record_phase_per_process"] = per_process
    if folder is not None:
        extra = {"pretrain/theta_bn": pre["theta_bn"].numpy(), "pretrain/theta_nobn": pre["theta_nobn"].numpy()}
        _series_npz(folder / "trajectory.npz", records, extra)
        files.write_json(meta_path, meta)
    return TrajectoryResult(protocol=p, records=records, meta=meta, folder=folder)


def read_meta(meta_path: Path) -> dict[str, Any]:
    """A trajectory run's ``meta.json``, checked (:class:`vdlib.files.DamagedFile` naming the file otherwise)."""
    fix = ("it cannot be rebuilt from the records: run the experiment again into a fresh --out "
           "(or delete the folder and rerun without --resume)")
    meta = files.load_json(meta_path, what="trajectory run's metadata", fix=fix, keys=("format", "protocol"))
    if meta["format"] != ARTIFACT_FORMAT:
        raise files.DamagedFile(meta_path, f"is not a {ARTIFACT_FORMAT} artifact (format {meta['format']!r})",
                                "point --out at a trajectory run's folder")
    return meta


def _protocol_of(meta_path: Path, meta: dict[str, Any]) -> Protocol:
    try:
        return Protocol.from_dict(meta["protocol"])
    except (TypeError, ValueError, KeyError) as e:
        raise files.DamagedFile(meta_path, f"holds an unreadable protocol ({e})",
                                "run the experiment again into a fresh --out") from None


def load(out) -> TrajectoryResult:
    """Load an artifact folder written by :func:`run` / the command line (weights memory-mapped)."""
    folder = Path(out)
    meta_path = folder / "meta.json"
    if not meta_path.is_file():
        raise FileNotFoundError(
            f"no trajectory artifact in {folder} (meta.json missing): create it with "
            f"`python -m vdlib.experiments trajectory --out {folder}`")
    meta = read_meta(meta_path)
    p = _protocol_of(meta_path, meta)
    records = {c: ch.open_record(folder / c) for c in p.controls if (folder / c / "record.json").is_file()}
    return TrajectoryResult(protocol=p, records=records, meta=meta, folder=folder)
