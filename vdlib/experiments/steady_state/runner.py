"""Running the steady-state protocol: the common start, one unit (a setting and a group of chains), and the
whole run, resumable unit by unit and parallel over processes (Dask tasks on a local cluster).

A unit runs ``chains`` chains from the **common start** (one pre-trained network per architecture, so
all chains of all groups share it and the projection directions computed there) through three
stretches: a burn-in (evaluated every few epochs, to show the relaxation), a held-out stretch (weights
kept every epoch; the PCA directions come from its increments) and the window, in which the
projections on all six directions are recorded after **every step** and the full-batch loss, error,
‖∇f‖/√d, ‖θ‖ and Yaida's FDR1 scalars every epoch. Control (b) runs beside SGD chains with the SGD
unit's seeds (its first ``control_b_chains`` chains, bit for bit) and sets its noise every epoch from
their current mini-batch noise trace.

Each finished unit is written atomically (``units/<setting>/<group>.npz``) with the protocol it ran and
its SHA-256 in ``units/manifest.json``. A resumed run checks both and skips what is complete: a killed
run loses at most the units in progress, and each unit is bitwise the same whether or not others ran
(its seeds and its arithmetic depend on nothing else; one thread per process).
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ... import files
from ...lifecycle import RunLock
from ...deep import chains as ch
from .protocol import FORMAT, GROUPS, Setting, SteadyProtocol, chain_seeds, seed_for

UNITS = "units"
MANIFEST = "manifest.json"


# --------------------------------------------------------------------------------------------------
# data and the common start
# --------------------------------------------------------------------------------------------------
def _trajectory_protocol(p: SteadyProtocol, batchnorm: bool):
    from ..trajectory import Protocol

    return Protocol(epochs=2, burn_in=0, chains=1, per_class=p.per_class, pretrain_max_epochs=p.pretrain_max_epochs,
                    model=p.model, dataset=p.dataset, classes=p.classes, batch_size=p.batch_size,
                    pretrain_lr=p.pretrain_lr, controls=("sgd",) if batchnorm else ("nobn",), seed=p.seed,
                    data_seed=p.data_seed)


def load_data(p: SteadyProtocol, root=None):
    """``(X, y, info)``: the class subset, 7×7, as the trajectory experiment loads it."""
    from ..trajectory.pretraining import load_data as load

    return load(_trajectory_protocol(p, True), root)


def common_start(p: SteadyProtocol, X, y, batchnorm: bool) -> dict[str, Any]:
    """Pre-train one network (weight decay 0, the paper's pre-training) and compute the shared directions.

    Returns ``theta`` (d,), the pre-training ``error`` and ``epochs``, and for ``"noise"`` and
    ``"hessian"`` the top-2 eigenvectors (d×2, sign fixed: largest entry positive) and eigenvalues.
    """
    from ..trajectory.pretraining import pretrain

    pre = pretrain(X, y, _trajectory_protocol(p, batchnorm), batchnorm=batchnorm)
    theta = pre["theta"][0].double()
    lay = ch.layout(p.model, len(p.classes), batchnorm=batchnorm)
    out = {"theta": theta, "error": float(pre["error"][0]), "epochs": int(pre["epochs"][0]), "batchnorm": batchnorm}
    for kind in ("noise", "hessian"):
        V, vals = ch.top_directions(X, y, lay, theta.numpy(), kind, k=2, seed=seed_for(p, 5, int(batchnorm)),
                                    batch_size=p.batch_size, noise_batches=p.direction_batches)
        out[kind] = torch.as_tensor(_fix_signs(np.asarray(V)))
        out[kind + "_values"] = torch.as_tensor(np.asarray(vals, dtype=np.float64))
    return out


def _fix_signs(V: np.ndarray) -> np.ndarray:
    """Each column's sign chosen so that its largest-magnitude entry is positive (a fixed convention)."""
    V = np.array(V, dtype=np.float64)
    for j in range(V.shape[1]):
        if V[np.argmax(np.abs(V[:, j])), j] < 0:
            V[:, j] = -V[:, j]
    return V


def _start_path(out: Path, batchnorm: bool) -> Path:
    return out / ("start_bn.pt" if batchnorm else "start_nobn.pt")


def ensure_starts(p: SteadyProtocol, out: Path, X, y, verbose: bool = False) -> None:
    """Compute (or check and keep) the common starts this protocol needs."""
    need = {g != "nobn" for _, g in p.units()}
    for bn in sorted(need):
        path = _start_path(out, bn)
        if path.is_file():
            saved = files.load_torch(path, what="common start of the steady-state runs", fix="delete it and resume (--resume): the common start is computed again, bit for bit")
            if saved.get("protocol") != json.dumps(p.as_dict(), sort_keys=True):
                raise ValueError(f"{path} was written by another protocol: use a fresh --out folder")
            continue
        t = time.time()
        start = common_start(p, X, y, bn)
        start["protocol"] = json.dumps(p.as_dict(), sort_keys=True)
        files.save_torch(path, start)
        if verbose:
            print(f"common start ({'BN' if bn else 'no BN'}): pre-training error {start['error']:.4f} after "
                  f"{start['epochs']} epochs, directions in {time.time() - t:.0f} s", flush=True)


def load_start(out: Path, batchnorm: bool) -> dict[str, Any]:
    return files.load_torch(_start_path(Path(out), batchnorm), what="common start of the steady-state runs",
                            fix="delete it and resume (--resume): the common start is computed again, bit for bit")


# --------------------------------------------------------------------------------------------------
# one unit
# --------------------------------------------------------------------------------------------------
def unit_path(out: Path, s: Setting, group: str) -> Path:
    return Path(out) / UNITS / s.name / f"{group}.npz"


def run_unit(p: SteadyProtocol, s: Setting, group: str, X, y, start: dict[str, Any]) -> dict[str, np.ndarray]:
    """Run one unit and return its arrays (see the module docstring); nothing is written here."""
    if group not in GROUPS:
        raise ValueError(f"group must be one of {', '.join(GROUPS)}, got {group!r}")
    bn = group != "nobn"
    lay = ch.layout(p.model, len(p.classes), batchnorm=bn)
    C = p.n_chains(group)
    theta0 = start["theta"].to(X.dtype)[None]
    mom = 0.0 if group == "momentum0" else p.momentum
    eng = ch.ChainEngine(X, y, theta0, lay, seeds=chain_seeds(p, s, group), lr=s.lr, momentum=mom,
                         weight_decay=s.weight_decay, batch_size=p.batch_size, full_batch=group == "langevin")
    companion = None
    if group == "langevin":
        companion = ch.ChainEngine(X, y, theta0, lay, seeds=chain_seeds(p, s, "sgd")[:C], lr=s.lr, momentum=p.momentum,
                                   weight_decay=s.weight_decay, batch_size=p.batch_size)
    k_setting = [x.name for x in p.settings].index(s.name)
    matched: list[float] = []

    def advance(epoch: int, **kw):
        if companion is not None:  # control (b): SGD's current trace, then one epoch of both
            trace = companion.noise_trace(n_batches=p.noise_batches, seed=seed_for(p, 9, k_setting, epoch))["trace"]
            t = float(trace.mean())
            matched.append(t / lay.d)
            eng.set_noise_std(math.sqrt(t / lay.d))
            companion.run_epoch()
        return eng.run_epoch(**kw)

    def check(ev, epoch):
        bad = ~torch.isfinite(ev["loss"]) | ~torch.isfinite(eng.theta).all(1)
        if bool(bad.any()):
            raise ch.TrajectoryDiverged(f"{s.name}/{group}: chains {torch.nonzero(bad).view(-1).tolist()} diverged at "
                                        f"epoch {epoch}: lower the learning rate", epoch=epoch, group=group,
                                        chains=torch.nonzero(bad).view(-1).tolist(), checkpoint_epoch=None)

    timings = {}
    # burn-in, evaluated every few epochs
    B = p.burn_in_epochs(s, group)
    every = max(1, B // 200)
    burn_epochs, burn_loss, burn_grad, burn_norm = [], [], [], []
    t0 = time.time()
    epoch = 0
    for epoch in range(B + 1):
        if epoch % every == 0 or epoch == B:
            ev = eng.evaluate()
            check(ev, epoch)
            burn_epochs.append(epoch)
            burn_loss.append(ev["loss"].double().numpy())
            burn_grad.append(ev["grad_norm"].double().numpy())
            burn_norm.append(eng.theta.double().norm(dim=1).numpy())
        if epoch < B:
            advance(epoch)
    timings["burn_in"] = time.time() - t0
    # held-out stretch: weights every epoch -> PCA of increments
    t0 = time.time()
    H = p.held_out
    held = np.empty((C, H + 1, lay.d))
    held[:, 0] = eng.theta.double().numpy()
    for h in range(H):
        advance(B + h)
        held[:, h + 1] = eng.theta.double().numpy()
    inc = np.diff(held, axis=1).reshape(-1, lay.d)
    _, _, Vt = np.linalg.svd(inc - inc.mean(0), full_matrices=False)
    V_pca = _fix_signs(Vt[:2].T)
    timings["held_out"] = time.time() - t0
    # the window: projections after every step, full-batch quantities every epoch
    V = torch.as_tensor(np.concatenate([start["noise"].numpy(), start["hessian"].numpy(), V_pca], axis=1))
    W, spe = p.window, eng.steps_per_epoch
    proj = np.empty((C, W * spe + 1, V.shape[1]))
    series = {k: np.empty((C, W + 1)) for k in ("loss", "error", "grad_norm", "weight_norm", "theta_dot_grad")}
    step_series = {k: np.empty((C, W)) for k in ("step_sq", "theta_dot_step_grad")}
    proj[:, 0] = (eng.theta.double() @ V).numpy()
    cursor = [1]

    def on_step(_):
        proj[:, cursor[0]] = (eng.theta.double() @ V).numpy()
        cursor[0] += 1

    t0 = time.time()
    for w in range(W + 1):
        ev = eng.evaluate()
        check(ev, B + H + w)
        th = eng.theta.double().clone()
        series["loss"][:, w] = ev["loss"].double().numpy()
        series["error"][:, w] = ev["error"].double().numpy()
        series["grad_norm"][:, w] = ev["grad_norm"].double().numpy()
        series["weight_norm"][:, w] = th.norm(dim=1).numpy()
        series["theta_dot_grad"][:, w] = (th * ev["grad"].double()).sum(1).numpy()
        if w < W:
            dtheta, g = advance(B + H + w, first_step=True, on_step=on_step)
            step_series["step_sq"][:, w] = dtheta.double().square().sum(1).numpy()
            step_series["theta_dot_step_grad"][:, w] = (th * g.double()).sum(1).numpy()  # θ at the epoch's start
    timings["window"] = time.time() - t0
    if cursor[0] != proj.shape[1]:
        raise RuntimeError(f"recorded {cursor[0]} steps, expected {proj.shape[1]}")
    meta = {"format": FORMAT, "protocol": p.as_dict(), "setting": s.name, "lr": s.lr, "weight_decay": s.weight_decay,
            "group": group, "momentum": mom, "seeds": chain_seeds(p, s, group), "burn_in": B, "held_out": H,
            "window": W, "steps_per_epoch": spe, "d": lay.d, "batchnorm": bn, "timings_s": timings,
            "torch_threads": torch.get_num_threads(), "directions": ["noise1", "noise2", "hessian1", "hessian2",
                                                                     "pca1", "pca2"]}
    return {"projections": proj, **series, **step_series, "V_pca": V_pca,
            "burn_epochs": np.asarray(burn_epochs), "burn_loss": np.stack(burn_loss, 1),
            "burn_grad_norm": np.stack(burn_grad, 1), "burn_weight_norm": np.stack(burn_norm, 1),
            "matched_temperature": np.asarray(matched), "meta": np.asarray(json.dumps(meta))}


def _read_manifest(out: Path) -> dict[str, str]:
    path = Path(out) / UNITS / MANIFEST
    if not path.is_file():
        return {}
    return files.load_json(path, what="manifest of finished units",
                           fix="delete it and resume (--resume): units without a manifest entry are run again")


def unit_is_complete(p: SteadyProtocol, out: Path, s: Setting, group: str) -> bool:
    """True when the unit's file exists, matches its recorded SHA-256 and was run with protocol ``p``."""
    path = unit_path(out, s, group)
    key = f"{s.name}/{group}"
    manifest = _read_manifest(out)
    if not path.is_file() or key not in manifest:  # never finished, or killed before the manifest was written
        return False
    if manifest[key] != files.sha256(path):
        raise files.DamagedFile(path, f"does not match its SHA-256 in {Path(out) / UNITS / MANIFEST} (a damaged or "
                                "foreign file)", "delete it and resume (--resume): the unit is run again")
    meta = json.loads(str(_load_unit_file(path)["meta"]))
    if meta["protocol"] != json.loads(json.dumps(p.as_dict())):
        raise ValueError(f"{path} was run with another protocol: use a fresh --out folder")
    return True


def _worker(args) -> tuple[str, float]:
    import multiprocessing

    p_dict, setting, group, out, threads = args
    if multiprocessing.parent_process() is not None:  # a pool worker: stop if the run's process is killed
        from ...lifecycle import watch_parent

        watch_parent()
    torch.set_num_threads(threads)
    p = SteadyProtocol.from_dict(p_dict)
    s = next(x for x in p.settings if x.name == setting)
    X, y, _ = load_data(p)
    t = time.time()
    arrays = run_unit(p, s, group, X, y, load_start(out, group != "nobn"))
    path = unit_path(out, s, group)
    path.parent.mkdir(parents=True, exist_ok=True)
    files.save_npz(path, compressed=False, **arrays)
    return f"{s.name}/{group}", time.time() - t


def _unit_cost(p: SteadyProtocol, s: Setting, g: str) -> float:
    epochs = p.burn_in_epochs(s, g) + p.held_out + p.window
    return epochs * p.n_chains(g) * (16.0 if g == "langevin" else 1.0)


def run(p: SteadyProtocol, out, *, workers: int = 1, resume: bool = False, stop_after: int | None = None,
        verbose: bool = False) -> Path:
    """Run every unit of ``p`` into ``out`` (``workers`` processes, one thread each: Dask workers of a local
    cluster when ``workers > 1``); returns ``out``.

    ``resume=True`` keeps the complete units already there (checked against the manifest and the
    protocol); without it an existing run in ``out`` is an error. ``stop_after`` stops after that
    many units (a killed run, for the tests).
    """
    out = Path(out)
    with RunLock(out, what="steady-state"):
        return _run_units(p, out, workers=workers, resume=resume, stop_after=stop_after, verbose=verbose)


def _run_units(p: SteadyProtocol, out: Path, *, workers: int, resume: bool, stop_after: int | None,
               verbose: bool) -> Path:
    meta_path = out / "protocol.json"
    if resume and not meta_path.is_file():
        raise FileNotFoundError(f"nothing to resume in {out}: it holds no steady-state run (protocol.json missing); "
                                "run without --resume to start one there")
    if resume:
        files.remove_stale_temporaries(out)  # left by a killed writer; this process holds the run lock
        old = files.load_json(meta_path, what="steady-state protocol", fix="use a fresh --out folder")
    if meta_path.is_file() and not resume:
        raise FileExistsError(f"{out} already holds a run: pass resume=True (--resume) to continue it, or a fresh folder")
    if resume and old != json.loads(json.dumps(p.as_dict())):
        raise ValueError(f"{out} holds a run of another protocol: use a fresh folder")
    out.mkdir(parents=True, exist_ok=True)
    files.write_json(meta_path, p.as_dict())
    X, y, info = load_data(p)
    files.write_json(out / "data.json", info)
    from ...provenance import run_metadata

    files.write_json(out / "meta.json", {**run_metadata("cpu", data=info), "workers": workers,
                                         "torch_threads_per_worker": 1, "resumed": bool(resume)})
    ensure_starts(p, out, X, y, verbose=verbose)
    todo = [(s, g) for s, g in p.units() if not unit_is_complete(p, out, s, g)]
    todo.sort(key=lambda u: -_unit_cost(p, *u))
    if stop_after is not None:
        todo = todo[:stop_after]
    jobs = [(p.as_dict(), s.name, g, str(out), 1) for s, g in todo]
    manifest = _read_manifest(out)

    def done(key, secs):
        s_name, g = key.split("/")
        manifest[key] = files.sha256(out / UNITS / s_name / f"{g}.npz")
        files.write_json(out / UNITS / MANIFEST, manifest)
        if verbose:
            print(f"  {key}: {secs:.0f} s", flush=True)

    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            done(*_worker(job))
    else:  # one Dask task per unit on a local cluster (vdlib.experiments.cluster): its workers end with this process
        from ..cluster import completed, connect

        with connect(min(workers, len(jobs))) as client:
            for f in completed(client, [client.submit(_unit_task, job, pure=False) for job in jobs]):
                done(*f.result())
    return out


def _unit_task(job) -> tuple[str, float]:
    """One unit as a Dask task: :func:`_worker` in a worker that exits if this run's process dies."""
    from ..cluster import task_started

    task_started(job[-1])
    return _worker(job)


def load_unit(out, s: Setting | str, group: str) -> dict[str, Any]:
    """The arrays of one finished unit (``meta`` parsed into a dict)."""
    name = s if isinstance(s, str) else s.name
    path = Path(out) / UNITS / name / f"{group}.npz"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run (or resume) the steady-state experiment first")
    d = _load_unit_file(path)
    d["meta"] = json.loads(str(d["meta"]))
    return d


def _load_unit_file(path: Path) -> dict[str, np.ndarray]:
    d = files.load_npz(path, what="finished steady-state unit",
                       fix="delete it and resume (--resume): the unit is run again")
    if "meta" not in d:
        raise files.DamagedFile(path, "has no 'meta' entry: it is not a steady-state unit",
                                "delete it and resume (--resume): the unit is run again")
    return d
