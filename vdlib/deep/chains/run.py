""":func:`run_network_chains`: groups of chains run in lock-step for many epochs, recorded every epoch, with
atomic checkpoints and an exact resume."""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Mapping

import numpy as np
import torch

from ... import checks, files
from ...progress import progress as progress_bar
from .engine import ChainEngine
from .record import Record, TrajectoryDiverged, _SERIES, _STEP_SERIES

#: The checkpoint format tag (kept from the module's first home, vdlib.deep.chains: old checkpoints resume).
CHECKPOINT_FORMAT = "vdlib.deep.chains/1"
CHECKPOINT_FILE = "checkpoint.pt"


def _alloc(folder: Path | None, name: str, shape, dtype, mode: str):
    if folder is None:
        return np.full(shape, np.nan, dtype=dtype)
    path = folder / f"{name}.npy"
    if mode == "r+":
        arr = np.load(path, mmap_mode="r+")
        if arr.shape != tuple(shape) or arr.dtype != np.dtype(dtype):
            raise ValueError(f"{path} has shape {arr.shape} / {arr.dtype}, expected {tuple(shape)} / {np.dtype(dtype)}: "
                             "it belongs to another run; use a fresh folder")
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
               checkpoint_file: str = CHECKPOINT_FILE) -> dict[str, Record]:
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
        Seconds between checkpoints (one is always written at the end).
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
        record different groups into the same folder each pass their own.

    Returns
    -------
    dict name -> Record
    """
    if not engines:
        raise ValueError("pass at least one engine: run_network_chains({'sgd': engine}, epochs)")
    epochs = checks.integer(epochs, "epochs", minimum=1)
    if not isinstance(checkpoint_file, str) or not checkpoint_file or Path(checkpoint_file).name != checkpoint_file \
            or checkpoint_file in (".", ".."):
        raise ValueError(f"checkpoint_file must be a plain file name (no folder), got {checkpoint_file!r}; "
                         "the folder is folder=")
    folder = Path(folder) if folder is not None else None
    ckpt_path = folder / checkpoint_file if folder is not None else None
    start = 0
    state = None
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        if ckpt_path.is_file():
            if not resume:
                raise FileExistsError(f"{folder} holds a run already ({checkpoint_file}): pass resume=True to continue "
                                      "it, or choose an empty folder")
            state = torch.load(ckpt_path, map_location="cpu", weights_only=True)
            if state.get("format") != CHECKPOINT_FORMAT:
                raise ValueError(f"{ckpt_path} is not a vdlib.deep.chains checkpoint")
            if int(state["epochs"]) != epochs or bool(state["record_fdr"]) != record_fdr or \
                    sorted(state["engines"]) != sorted(engines):
                raise ValueError(f"cannot resume {folder}: it was started with epochs={int(state['epochs'])}, "
                                 f"record_fdr={bool(state['record_fdr'])}, groups {sorted(state['engines'])}; "
                                 "pass the same values")
            for name, eng in engines.items():
                eng.load_state_dict(state["engines"][name])
            start = int(state["epoch"])
    elif resume:
        raise ValueError("resume=True needs folder=<the run's folder>")
    mode = "r+" if state is not None else "w+"
    records = {name: _new_record(folder / name if folder else None, eng, epochs, record_fdr, mode)
               for name, eng in engines.items()}
    for rec in records.values():
        rec.epochs_done = rec.start_epoch = start

    def checkpoint(epoch: int) -> None:
        if folder is None:
            return
        for name, rec in records.items():
            for k in ("weights", *_SERIES, *_STEP_SERIES, "grad", "dtheta"):
                arr = getattr(rec, k)
                if isinstance(arr, np.memmap):
                    arr.flush()
            files.write_json(folder / name / "record.json",
                               {"settings": rec.settings, "epochs_done": epoch, "epochs": epochs})
        files.save_torch(ckpt_path, {"format": CHECKPOINT_FORMAT, "epoch": int(epoch), "epochs": int(epochs),
                                 "record_fdr": bool(record_fdr),
                                 "engines": {n: e.state_dict() for n, e in engines.items()}})

    def record_state(name: str, t: int) -> dict[str, torch.Tensor]:
        eng, rec = engines[name], records[name]
        ev = eng.evaluate()
        bad = ~(torch.isfinite(ev["loss"]) & torch.isfinite(eng.theta).all(1))
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
                f"NaN/inf loss or weights. {kept} Lower the learning rate (e.g. lr={min(eng.lr) / 10:g}){also} "
                "and start a fresh run.", epoch=t, group=name, chains=chains, checkpoint_epoch=last)
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
