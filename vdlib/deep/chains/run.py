""":func:`run_network_chains`: groups of chains run in lock-step for many epochs, recorded every epoch, with
atomic checkpoints and an exact resume."""
from __future__ import annotations

import hashlib
import math
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Mapping

import numpy as np
import torch

from ... import checks, files
from ...lifecycle import RunLock
from ...progress import progress as progress_bar
from .engine import ChainEngine
from .record import Record, TrajectoryDiverged, _SERIES, _STEP_SERIES

#: The checkpoint format tag (kept from the module's first home, vdlib.deep.chains: old checkpoints resume).
CHECKPOINT_FORMAT = "vdlib.deep.chains/1"
CHECKPOINT_FILE = "checkpoint.pt"


#: Divergence guard defaults: a chain whose ‖θ‖ or full-batch cross-entropy passes these stops the run while
#: still finite (NaN/inf always stops it). Far above anything a converging run of these nets reaches.
MAX_WEIGHT_NORM = 1e4
MAX_LOSS = 1e3

_STATE_ARRAYS = ("weights", *_SERIES, "grad")  # rows 0..epoch at a checkpoint of epoch `epoch`
_ALL_ARRAYS = ("weights", *_SERIES, *_STEP_SERIES, "grad", "dtheta")


def _rows_at(name: str, epoch: int) -> int:
    """How many rows of record array ``name`` a checkpoint at ``epoch`` completed epochs holds."""
    return epoch + 1 if name in _STATE_ARRAYS else epoch


def _rows_sha256(arr, a: int, b: int) -> str:
    return hashlib.sha256(np.ascontiguousarray(arr[:, a:b]).tobytes()).hexdigest()


def _unrecoverable(folder: Path) -> str:
    return (f"the epochs it recorded cannot be recovered: delete {folder} and rerun without --resume "
            "(resume=False), or run into a fresh folder")


def _alloc(folder: Path | None, name: str, shape, dtype, mode: str):
    if folder is None:
        return np.full(shape, np.nan, dtype=dtype)
    path = folder / f"{name}.npy"
    if mode == "r+":
        fix = _unrecoverable(folder.parent)
        shape_f, dtype_f, _, need = files.npy_layout(path, what=f"record array ({name})", fix=fix)
        if tuple(shape_f) != tuple(shape) or np.dtype(dtype_f) != np.dtype(dtype):
            raise ValueError(f"{path} has shape {tuple(shape_f)} / {np.dtype(dtype_f)}, expected {tuple(shape)} / "
                             f"{np.dtype(dtype)}: it belongs to another run; use a fresh folder")
        size = path.stat().st_size
        if size != need:  # np.load(mmap_mode="r+") would pad a short file with zeros: refuse instead
            raise files.DamagedFile(path, f"is {'truncated' if size < need else 'too long'}: {size:,} bytes where a "
                                    f"{tuple(shape)} {np.dtype(dtype)} record needs {need:,}", fix)
        arr = np.load(path, mmap_mode="r+")
        return arr
    arr = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=tuple(shape))
    return arr


def _new_record(folder, engine: ChainEngine, epochs: int, record_fdr: bool, mode: str) -> Record:
    C, d, T = engine.C, engine.d, epochs
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    arrays = {"weights": _alloc(folder, "weights", (C, T + 1, d), np.float32, mode)}
    for k in _SERIES:
        arrays[k] = _alloc(folder, k, (C, T + 1), np.float64, mode)
    for k in _STEP_SERIES:
        arrays[k] = _alloc(folder, k, (C, T), np.float64, mode)
    if record_fdr:
        arrays["grad"] = _alloc(folder, "grad", (C, T + 1, d), np.float32, mode)
        arrays["dtheta"] = _alloc(folder, "dtheta", (C, T, d), np.float32, mode)
    return Record(**arrays, settings=engine.settings())


def run_network_chains(engines: Mapping[str, ChainEngine], epochs: int, *, folder=None, resume: bool = False,
               record_fdr: bool = False, checkpoint_every: float = 60.0, progress: bool = False,
               stop_after: int | None = None, workers: int = 1,
               checkpoint_file: str = CHECKPOINT_FILE, max_weight_norm: float | None = MAX_WEIGHT_NORM,
               max_loss: float | None = MAX_LOSS) -> dict[str, Record]:
    """Run groups of chains in lock-step for ``epochs`` epochs, recording every epoch.

    Parameters
    ----------
    engines : dict name -> ChainEngine
        The groups (e.g. ``{"sgd": ..., "momentum0": ..., "langevin": ..., "nobn": ...}``); each is
        recorded in its own :class:`Record` (and subfolder ``folder/name``).
    epochs : int
        Epochs to record (rows 0..epochs).
    folder : path, optional
        Where to write memory-mapped arrays and the checkpoint (``checkpoint_file``). Without it
        everything stays in memory.
    resume : bool
        Continue the run in ``folder`` from its checkpoint (settings must match). Without ``resume`` an
        existing checkpoint in ``folder`` is an error.
    record_fdr : bool
        Also store the vectors ∇f(θ_t) and Δθ_t (doubles / triples the storage).
    checkpoint_every : float
        Seconds between checkpoints, finite and >= 0 (0: after every epoch; one is always written at the end).
    progress : bool
        A progress bar (:func:`vdlib.progress.progress`) with loss, ‖∇f‖/√d and epochs/s of the first
        group; the caller decides (``progress=cfg.show_progress``: on under the ``full`` profile).
        Default: no bar.
    stop_after : int, optional
        Stop (after checkpointing) once this many epochs are done: simulates a killed run in tests.
    workers : int
        Run the groups of an epoch in this many threads (each group stays on one thread; torch
        kernels release the GIL). The results do not depend on it.
    checkpoint_file : str
        The checkpoint's file name inside ``folder`` (default ``checkpoint.pt``): processes that
        record different groups into the same folder each pass their own. The process holds a lock
        (``.<checkpoint_file>.lock``) for the whole call: a second writer of the same checkpoint is refused.
    max_weight_norm, max_loss : float or None
        The divergence guard: a chain whose ‖θ‖ or full-batch cross-entropy (the loss without the
        weight-decay term) exceeds these stops the run with
        :class:`TrajectoryDiverged` while still finite, keeping the last checkpoint (default
        :data:`MAX_WEIGHT_NORM`, :data:`MAX_LOSS`; None turns that half off). NaN/inf always stops it.

    Resuming is checked: every record file must have its full size, and the rows the checkpoint
    completed must match the SHA-256 checksums it keeps of them (:class:`vdlib.files.DamagedFile`
    otherwise, naming the file and the fix); the torch thread count must be the one the run was
    started with; ``resume=True`` on a folder without a checkpoint is an error, not a fresh start.

    Returns
    -------
    dict name -> Record
    """
    if not engines:
        raise ValueError("pass at least one engine: run_network_chains({'sgd': engine}, epochs)")
    epochs = checks.integer(epochs, "epochs", minimum=1)
    if isinstance(checkpoint_every, bool) or not isinstance(checkpoint_every, (int, float)) or \
            not math.isfinite(checkpoint_every) or checkpoint_every < 0:
        raise ValueError(f"checkpoint_every must be a finite number of seconds >= 0 (0: after every epoch), got "
                         f"{checkpoint_every!r}; a run that never checkpoints loses everything when it is killed")
    if not isinstance(checkpoint_file, str) or not checkpoint_file or Path(checkpoint_file).name != checkpoint_file \
            or checkpoint_file in (".", ".."):
        raise ValueError(f"checkpoint_file must be a plain file name (no folder), got {checkpoint_file!r}; "
                         "the folder is folder=")
    folder = Path(folder) if folder is not None else None
    max_weight_norm = None if max_weight_norm is None else checks.positive(max_weight_norm, "max_weight_norm")
    max_loss = None if max_loss is None else checks.positive(max_loss, "max_loss")
    if folder is None:
        if resume:
            raise ValueError("resume=True needs folder=<the run's folder>")
        return _run(engines, epochs, None, None, None, record_fdr, checkpoint_every, progress, stop_after, workers,
                    max_weight_norm, max_loss)
    folder.mkdir(parents=True, exist_ok=True)
    with RunLock(folder, what=f"recording {'+'.join(engines)}", name=f".{checkpoint_file}.lock"):
        return _run(engines, epochs, folder, folder / checkpoint_file, resume, record_fdr, checkpoint_every,
                    progress, stop_after, workers, max_weight_norm, max_loss)


def _verify_rows(records: dict[str, Record], state: dict, folder: Path) -> None:
    """Refuse to resume when a record's completed rows differ from the checksums in the checkpoint."""
    sums = state.get("row_sha256")
    if sums is None:  # a checkpoint written before checksums were kept: sizes were checked, rows cannot be
        return
    for name, rec in records.items():
        for k, segments in sums.get(name, {}).items():
            arr = getattr(rec, k)
            for a, b, digest in segments:
                if _rows_sha256(arr, a, b) != digest:
                    raise files.DamagedFile(folder / name / f"{k}.npy",
                                            f"was changed or damaged after it was checkpointed: epochs {a}..{b - 1} "
                                            "no longer match their checksum in the checkpoint",
                                            _unrecoverable(folder))


def _run(engines, epochs, folder, ckpt_path, resume, record_fdr, checkpoint_every, progress, stop_after, workers,
         max_weight_norm, max_loss) -> dict[str, Record]:
    start = 0
    state = None
    threads = torch.get_num_threads()
    if folder is not None:
        name = ckpt_path.name
        for stale in [*folder.glob(f".{name}.*.tmp"), *(q for g in engines for q in (folder / g).glob(".*.tmp"))]:
            stale.unlink(missing_ok=True)  # left by a killed writer; this process holds the lock
        if ckpt_path.is_file():
            if not resume:
                raise FileExistsError(f"{folder} holds a run already ({name}): pass resume=True to continue "
                                      "it, or choose an empty folder")
            state = files.load_torch(ckpt_path, what="checkpoint of recorded chains", fix=_unrecoverable(folder))
            if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
                raise files.DamagedFile(ckpt_path, f"is not a vdlib.deep.chains checkpoint (format {CHECKPOINT_FORMAT})",
                                        "choose the run's own folder, or a fresh one")
            if int(state["epochs"]) != epochs or bool(state["record_fdr"]) != record_fdr or \
                    sorted(state["engines"]) != sorted(engines):
                raise ValueError(f"cannot resume {folder}: it was started with epochs={int(state['epochs'])}, "
                                 f"record_fdr={bool(state['record_fdr'])}, groups {sorted(state['engines'])}; "
                                 "pass the same values")
            started = state.get("torch_threads")
            if started is not None and int(started) != threads:
                raise ValueError(f"cannot resume {folder}: it was recorded with {int(started)} torch thread(s) and this "
                                 f"process has {threads}; BLAS rounding depends on the thread count, so the resumed "
                                 f"epochs would differ from an uninterrupted run. Resume with --threads {int(started)} "
                                 f"(torch.set_num_threads({int(started)})), or start a fresh folder")
            for g, eng in engines.items():
                eng.load_state_dict(state["engines"][g])
            start = int(state["epoch"])
        elif resume:
            raise FileNotFoundError(f"nothing to resume in {folder}: it holds no checkpoint ({name}); run without "
                                    "--resume (resume=False) to start a fresh run there")
    mode = "r+" if state is not None else "w+"
    records = {g: _new_record(folder / g if folder else None, eng, epochs, record_fdr, mode)
               for g, eng in engines.items()}
    if state is not None:
        _verify_rows(records, state, folder)
    row_sums: dict[str, dict[str, list]] = state.get("row_sha256", {}) if state is not None else {}
    if state is not None and "row_sha256" not in state:  # an older checkpoint: its rows are trusted from here on
        row_sums = {g: {k: [[0, _rows_at(k, start), _rows_sha256(getattr(records[g], k), 0, _rows_at(k, start))]]
                        for k in _ALL_ARRAYS if getattr(records[g], k) is not None} for g in engines}
    for rec in records.values():
        rec.epochs_done = rec.start_epoch = start

    def checkpoint(epoch: int) -> None:
        if folder is None:
            return
        for g, rec in records.items():
            sums = row_sums.setdefault(g, {})
            for k in _ALL_ARRAYS:
                arr = getattr(rec, k)
                if arr is None:
                    continue
                if isinstance(arr, np.memmap):
                    arr.flush()
                segs = sums.setdefault(k, [])
                a = segs[-1][1] if segs else 0
                b = _rows_at(k, epoch)
                if b > a:
                    segs.append([a, b, _rows_sha256(arr, a, b)])
            files.write_json(folder / g / "record.json",
                             {"settings": rec.settings, "epochs_done": epoch, "epochs": epochs})
        files.save_torch(ckpt_path, {"format": CHECKPOINT_FORMAT, "epoch": int(epoch), "epochs": int(epochs),
                                     "record_fdr": bool(record_fdr), "torch_threads": threads,
                                     "row_sha256": row_sums,
                                     "engines": {n: e.state_dict() for n, e in engines.items()}})

    def record_state(name: str, t: int) -> dict[str, torch.Tensor]:
        eng, rec = engines[name], records[name]
        ev = eng.evaluate()
        bad = ~(torch.isfinite(ev["loss"]) & torch.isfinite(eng.theta).all(1))
        norm = eng.theta.double().norm(dim=1)
        guard = []
        if max_weight_norm is not None and bool((norm > max_weight_norm).any()):
            guard.append(f"|theta| up to {float(norm.max()):.3g} > max_weight_norm={max_weight_norm:g}")
        wd = torch.tensor(eng.weight_decay, dtype=torch.float64, device=norm.device)
        data_loss = ev["loss"].double() - 0.5 * wd * norm.square()  # the cross-entropy, without λ/2‖θ‖²
        if max_loss is not None and bool((data_loss > max_loss).any()):
            guard.append(f"training cross-entropy up to {float(data_loss.max()):.3g} > max_loss={max_loss:g}")
        if guard and not bool(bad.any()):
            bad = (norm > (max_weight_norm or math.inf)) | (data_loss > (max_loss or math.inf))
        if bool(bad.any()):
            chains = torch.nonzero(bad).view(-1).tolist()
            last = int(state_epoch[0]) if folder is not None and ckpt_path.is_file() else None
            kept = (f"The last good checkpoint ({ckpt_path}, epoch {last}) is kept." if last is not None
                    else "No checkpoint was written yet." if folder is not None
                    else "Nothing was checkpointed (pass folder= to keep one).")
            decay = [eng.weight_decay[c] for c in chains]
            also = f", or the weight decay ({decay})" if any(w > 0 for w in decay) else ""
            raise TrajectoryDiverged(
                f"group {name!r} diverged at epoch {t}: chains {chains} (lr {[eng.lr[c] for c in chains]}) have "
                + ("; ".join(guard) + " (the divergence guard)" if guard else "NaN/inf loss or weights")
                + f". {kept} Lower the learning rate (e.g. lr={min(eng.lr) / 10:g}){also} and start a fresh run"
                + (" (or raise the guard's limit if this growth is expected)." if guard else "."),
                epoch=t, group=name, chains=chains, checkpoint_epoch=last)
        rec.weights[:, t] = eng.theta.detach().cpu().float().numpy()
        rec.loss[:, t] = ev["loss"].double().cpu().numpy()
        rec.error[:, t] = ev["error"].double().cpu().numpy()
        rec.grad_norm[:, t] = ev["grad_norm"].double().cpu().numpy()
        rec.theta_dot_grad[:, t] = (eng.theta.double() * ev["grad"].double()).sum(1).cpu().numpy()
        if rec.grad is not None:
            rec.grad[:, t] = ev["grad"].cpu().float().numpy()
        return ev

    def advance(name: str, t: int) -> dict[str, torch.Tensor]:
        """Epoch t+1 of one group, then its record at row t+1."""
        eng, rec = engines[name], records[name]
        th = eng.theta.double()  # θ_t (a copy)
        dth, g = eng.run_epoch(first_step=True)
        rec.step_sq[:, t] = dth.double().square().sum(1).cpu().numpy()
        rec.theta_dot_step_grad[:, t] = (th * g.double()).sum(1).cpu().numpy()
        if rec.dtheta is not None:
            rec.dtheta[:, t] = dth.cpu().float().numpy()
        return record_state(name, t + 1)

    state_epoch = [start]
    bar = None
    if progress:
        bar = progress_bar(total=epochs, initial=start, enabled=True, unit="epoch", desc="chains")
    first = next(iter(engines))
    workers = checks.integer(workers, "workers")
    pool = ThreadPoolExecutor(min(workers, len(engines))) if workers > 1 and len(engines) > 1 else None
    by_cost = sorted(engines, key=lambda n: -engines[n].cost())
    try:
        if start == 0:
            for name in engines:
                record_state(name, 0)
        last_ckpt = time.perf_counter()
        t_bar, e_bar = time.perf_counter(), start
        for t in range(start, epochs):
            if pool is None:
                evs = {name: advance(name, t) for name in engines}
            else:  # groups are independent: run them in threads (torch releases the GIL inside its kernels)
                futures = {name: pool.submit(advance, name, t) for name in by_cost}  # most expensive first
                evs = {name: futures[name].result() for name in engines}
            for rec in records.values():
                rec.epochs_done = t + 1
            now = time.perf_counter()
            done = t + 1 == epochs or (stop_after is not None and t + 1 >= stop_after)
            if done or now - last_ckpt >= checkpoint_every:
                checkpoint(t + 1)
                state_epoch[0] = t + 1
                last_ckpt = now
            if bar is not None:
                bar.update(1)
                if now - t_bar > 0.5 or done:
                    ev = evs[first]
                    bar.set_postfix({"loss": f"{float(ev['loss'].mean()):.4g}",
                                     "|grad|/sqrt(d)": f"{float(ev['grad_norm'].mean()):.3g}",
                                     "epochs/s": f"{(t + 1 - e_bar) / (now - t_bar):.1f}"}, refresh=False)
                    t_bar, e_bar = now, t + 1
            if done:
                break
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
        if bar is not None:
            bar.close()
    return records
