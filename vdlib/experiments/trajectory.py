"""Long SGD trajectories on tiny-fc with controls (Part IV-b, Fig. 3 and Remarks 11, 15, 17–18 of the paper).

The protocol (§IV of the paper, the authors' ``code/prob_current.py`` at ``e05ed9c`` and
``code/plot_current.py``; chapter 11), with every choice in :class:`Protocol`:

1. **Data.** 4 classes × 512 training images, down-sampled to 7×7 (the authors' run at commit
   ``e05ed9c``: ``nc=4``, N = 2,048). Which set stands in for the paper's MNIST is
   :func:`vdlib.data.mnist_choice`'s decision: MNIST when a local copy exists, else Fashion-MNIST
   (e.g. Debian's package), else the 10,000 MNIST digits bundled with vdlib (``"mnist-10k"``; its
   8,000-image training split has 690–902 images per class). The ``full`` profile refuses the
   bundled digits unless they are asked for by name (``--dataset mnist-10k``); ``meta.json`` records
   which data were used and from where. Pixels are
   scaled to [0, 1]; the 7×7 images use Pillow-style bilinear shrinking, as the authors' loader did
   (:func:`vdlib.data.downsample`).
2. **Pre-training to zero training error.** Each chain's network is trained with SGD (momentum 0.9,
   batch 128, ``pretrain_lr``) until its full-batch training error is zero (a snapshot is taken at the
   first epoch it is, and training stops when all chains have one; a chain that never gets there keeps
   its best snapshot, and the metadata say so). Chain ``i`` of every control starts from the same
   initial weights (seed-derived), so the controls are paired; the no-BN net shares the Linear layers
   of the BN net's initialisation.
3. **The recorded phase.** ``epochs`` epochs from zero velocity, all groups in lock-step, recorded once
   per epoch (weights, full-batch loss, training error, ‖∇f‖/√d in training mode with full-batch BN
   statistics, and the FDR1 scalars; see :mod:`vdlib.chains`). The first ``burn_in`` epochs are
   recorded but belong to the transient: analyses start at row ``burn_in`` (the code's ``if e > 1000``).
4. **Controls** (chapter 11), each a group of ``control_chains`` chains run beside the ``chains`` chains of the
   paper's setting ``"sgd"`` (momentum 0.9, BN, mini-batches of 128):

   * ``"momentum0"``, control (a): the same without momentum;
   * ``"langevin"``, control (b): full-batch gradient + isotropic Gaussian noise with the trace of
     SGD's mini-batch noise, σ² = tr Σ_B / d measured per chain at the start of the recorded phase from
     ``noise_batches`` mini-batch gradients (:meth:`vdlib.chains.ChainEngine.noise_trace`), then
     heavy-ball with the same η and μ: a reversible (detailed-balance) reference;
   * ``"nobn"``, control (c): tiny-fc without BatchNorm (d = 868 for 4 classes), pre-trained itself.

**Learning rate (our reading).** The paper says the lr is held at 10⁻³ after burn-in; the code at
``e05ed9c`` has no schedule and defaults to 0.1. We use the code's constant 0.1 by default: it gives
‖∇f‖/√d of order 10⁻³, the range of Fig. 3c. ``lr=`` changes it.

Cost (2-core machine under load, 1 thread; ``benchmarks/bench_trajectory.py``): the ``sgd`` group of
4 chains records ~90 epochs/s (10⁵ epochs ≈ 19 min), momentum0 + nobn (1 chain each) ~70 epochs/s,
langevin (1 chain, a full-batch gradient at every step) ~72 epochs/s; all four groups in one process
~26 epochs/s (10⁵ epochs ≈ 1 h). On these tiny nets the per-step Python overhead, not the arithmetic,
sets the time, and the threads of one process (``workers``) share one interpreter; ``processes=2``
(``--processes 2``, the default of the ``full`` profile on a machine with 2 or more cores) records
the groups in two OS processes instead, split by a short timing probe into bins of about equal time
per epoch (the split is in ``meta.json``, ``"processes"``), with bitwise the same records as one
process. Measured on the quiet 2-core machine (``--profile full``, 2 processes, split sgd+momentum0 |
langevin+nobn): 10⁵ epochs in 1,319 s of recording (76 epochs/s), 1,349 s with pre-training; the
records were bitwise those of a one-process run. See also benchmarks/bench_trajectory.py.
Pre-training to zero error takes 700–2,900 epochs with BN (~20 s for 4 chains); without BN the error
stays at 0.05–1 % after 3,000 epochs (recorded in ``meta.json``).

Artifact (``out`` folder): ``meta.json`` (protocol, seeds, versions, device, data source, noise traces,
pre-training outcome, timings, status), ``trajectory.npz`` (the small per-epoch series of every group:
``"<group>/loss"``, ``"<group>/grad_norm"``, ...), one subfolder per group with memory-mapped
``weights.npy`` (chains × (epochs+1) × d, float32) and the series, ``pretrained.pt`` and the rolling
``checkpoint.pt`` (with several processes, one ``checkpoint-<group>+<group>.pt`` per process).
``--resume`` continues a killed run with no lost or duplicated epoch (in one process or several, as it
was started; a run of several processes reuses its split).

Command line::

    python -m vdlib.experiments trajectory --profile full [--out DIR] [--resume] [--processes N]
    python -m vdlib.experiments trajectory --summarize DIR [--summary-out OUT]   # -> summary.npz + meta.json

Python::

    res = vdlib.experiments.trajectory.run(profile="ci")      # in memory, seconds
    res = vdlib.experiments.trajectory.load("artifacts/trajectory_full")   # a run of your own (2.5 GB)
    X = res.records["sgd"].trajectory(chain=0, start=res.protocol.burn_in)   # T×d, feeds vdlib.trajectory
    s = vdlib.experiments.trajectory.summarize(res)       # the chapters' statistics (a few MB), see summarize
    s = vdlib.experiments.trajectory.load_summary(vdlib.results.committed_result("summaries/trajectory_full").path)

The summary of the full-profile run the book shows is committed as package data
(``vdlib/results/summaries/trajectory_full``); :func:`vdlib.results.committed_result` finds it, or a
summary of your own in ``artifacts/summaries/trajectory_full`` (``--summarize``'s default output).

Used in: Part IV-b chapters (Fig. 3 and its controls).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..deep import chains as ch
from .. import checks, files
from ..progress import progress as progress_bar

__all__ = ["CONTROLS", "DATASETS", "Protocol", "protocol", "TrajectoryResult", "load_data", "pretrain", "run", "load",
           "add_arguments", "main", "ARTIFACT_FORMAT", "summarize", "load_summary", "TrajectorySummary",
           "SUMMARY_FORMAT", "PLANES"]

ARTIFACT_FORMAT = "vdlib.experiments.trajectory/1"

#: The groups a run can hold: what differs from the paper's setting ``"sgd"``.
CONTROLS: dict[str, str] = {
    "sgd": "the paper's setting: SGD, momentum 0.9, BatchNorm, mini-batches",
    "momentum0": "control (a): momentum 0",
    "langevin": "control (b): full-batch gradient + isotropic Gaussian noise of matched trace (reversible)",
    "nobn": "control (c): no BatchNorm",
}


#: ``Protocol.dataset`` values: "auto" (:func:`vdlib.data.mnist_choice`) or a set asked for by name.
DATASETS = ("auto", "mnist", "fashion-mnist", "mnist-10k")


@dataclass(frozen=True)
class Protocol:
    """Every setting of a trajectory run (JSON round-trips through :meth:`as_dict` / :meth:`from_dict`)."""

    epochs: int
    burn_in: int
    chains: int
    control_chains: int | None = None
    per_class: int = 512
    pretrain_max_epochs: int = 2000
    noise_batches: int = 64
    model: str = "tiny-fc"
    dataset: str = "auto"
    classes: tuple[int, ...] = (0, 1, 2, 3)
    downsample: str = "bilinear"
    lr: float = 0.1
    momentum: float = 0.9
    batch_size: int = 128
    weight_decay: float = 0.0
    replacement: bool = False
    pretrain_lr: float = 0.1
    controls: tuple[str, ...] = ("sgd", "momentum0", "langevin", "nobn")
    seed: int = 0
    data_seed: int = 0
    record_fdr: bool = False
    profile: str = "custom"

    def __post_init__(self):
        checks.integer(self.epochs, "epochs", minimum=1)
        checks.integer(self.burn_in, "burn_in", minimum=0)
        if self.burn_in >= self.epochs:
            raise ValueError(f"burn_in={self.burn_in} must be smaller than epochs={self.epochs}: "
                             "nothing would be left after the burn-in")
        checks.integer(self.chains, "chains", minimum=1)
        if self.control_chains is not None:
            checks.integer(self.control_chains, "control_chains", minimum=1)
        checks.integer(self.per_class, "per_class", minimum=1)
        checks.integer(self.pretrain_max_epochs, "pretrain_max_epochs", minimum=0)
        checks.integer(self.noise_batches, "noise_batches", minimum=2)
        checks.learning_rate(self.lr)
        checks.positive(self.pretrain_lr, "pretrain_lr")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum}")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ValueError(f"weight_decay must be a finite number >= 0, got {self.weight_decay}")
        checks.integer(self.batch_size, "batch size b")
        unknown = [c for c in self.controls if c not in CONTROLS]
        if unknown or not self.controls or len(set(self.controls)) != len(self.controls):
            raise ValueError(f"controls must be distinct names from {', '.join(CONTROLS)}, got {list(self.controls)}")
        if self.dataset not in DATASETS:
            raise ValueError(f"dataset must be one of {', '.join(repr(d) for d in DATASETS)}, got {self.dataset!r}")
        ch.layout(self.model, len(self.classes))  # validates the model name

    def n_chains(self, group: str) -> int:
        """Chains in ``group``: ``chains`` for ``"sgd"``, ``control_chains`` (default ``chains``) for the controls."""
        if group == "sgd" or self.control_chains is None:
            return self.chains
        return self.control_chains

    @property
    def n_examples(self) -> int:
        return self.per_class * len(self.classes)

    def as_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["classes"], d["controls"] = list(self.classes), list(self.controls)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Protocol":
        d = dict(d)
        d["classes"], d["controls"] = tuple(d["classes"]), tuple(d["controls"])
        return cls(**d)


def protocol(profile: str | None = None, **overrides) -> Protocol:
    """The protocol of a run profile (sizes from :data:`vdlib.config.SIZES`), with ``overrides``.

    ``ci``: seconds (tests); ``book``: what a chapter affords; ``full``: 10⁵ epochs at the paper's scale.
    """
    from ..config import current

    cfg = current(profile)
    base = dict(epochs=cfg.size("trajectory_epochs"), burn_in=cfg.size("trajectory_burn_in"),
                chains=cfg.size("trajectory_chains"), control_chains=cfg.size("trajectory_control_chains"),
                per_class=cfg.size("trajectory_per_class"),
                pretrain_max_epochs=cfg.size("trajectory_pretrain_epochs"),
                noise_batches=cfg.size("trajectory_noise_batches"),
                record_fdr=cfg.profile != "full", profile=cfg.profile)
    unknown = set(overrides) - {f.name for f in dataclasses.fields(Protocol)}
    if unknown:
        raise TypeError(f"unknown protocol settings {sorted(unknown)}; known: "
                        f"{', '.join(f.name for f in dataclasses.fields(Protocol))}")
    base.update({k: v for k, v in overrides.items() if v is not None})
    if "classes" in base:
        base["classes"] = tuple(int(c) for c in base["classes"])
    if "controls" in base:
        base["controls"] = tuple(base["controls"])
    return Protocol(**base)


# --------------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------------
def load_data(p: Protocol, root=None):
    """``(X, y, info)``: the 7×7 class subset as tensors (X (N, 49) float32 in [0, 1], y int64) and a dict
    with the dataset name, source, note and a fingerprint."""
    from ..deep import data as D

    name, why = D.mnist_choice(p.dataset, root)
    note = "" if name == "mnist" else why
    ds = D.load(name, root)
    x, y = ds.split("train")
    xs, ys = D.class_subset(x, y, p.classes, per_class=p.per_class, seed=p.data_seed)
    x7 = D.downsample(xs, 7, method=p.downsample).reshape(len(ys), 49) / np.float32(255.0)
    X = torch.from_numpy(np.ascontiguousarray(x7, dtype=np.float32))
    Y = torch.from_numpy(np.asarray(ys, dtype=np.int64))
    info = {"dataset": name, "source": ds.source, "note": note, "classes": list(p.classes),
            "class_names": [ds.classes[c] for c in p.classes], "N": int(len(Y)),
            "fingerprint": float(X.double().sum()) + 1e-3 * float((X.double() ** 2).sum())}
    return X, Y, info


# --------------------------------------------------------------------------------------------------
# seeds
# --------------------------------------------------------------------------------------------------
def _seed(p: Protocol, *stream: int) -> int:
    return int(np.random.SeedSequence([p.seed, *stream]).generate_state(1, np.uint32)[0])


def _n_init(p: Protocol, batchnorm: bool) -> int:
    groups = [g for g in p.controls if (g != "nobn") == batchnorm]
    return max((p.n_chains(g) for g in groups), default=0)


def _init_seeds(p: Protocol, n: int | None = None) -> list[int]:
    return [_seed(p, 1, i) for i in range(p.chains if n is None else n)]


def _chain_seeds(p: Protocol, control: str) -> list[int]:
    k = list(CONTROLS).index(control)
    return [_seed(p, 2, k, i) for i in range(p.n_chains(control))]


# --------------------------------------------------------------------------------------------------
# pre-training
# --------------------------------------------------------------------------------------------------
def pretrain(X, y, p: Protocol, batchnorm: bool, device=None, check_every: int = 5) -> dict[str, Any]:
    """Train fresh networks (as many as the largest group with this architecture) to zero training error.

    The error is checked every ``check_every`` epochs (and at the last). Returns ``theta`` (chains, d):
    each chain's weights at the first check with zero error (else at its lowest error), ``epochs`` (that
    epoch per chain), ``error`` (the training error there) and ``reached_zero`` (bool per chain).
    """
    lay = ch.layout(p.model, len(p.classes), batchnorm=batchnorm)
    n = max(1, _n_init(p, batchnorm))
    theta0 = ch.init_weights(lay, _init_seeds(p, n))
    eng = ch.ChainEngine(X, y, theta0, lay, seeds=[_seed(p, 3, int(batchnorm), i) for i in range(n)],
                         lr=p.pretrain_lr, momentum=0.9, weight_decay=p.weight_decay, batch_size=p.batch_size,
                         replacement=p.replacement, device=device)
    ev = eng.evaluate()
    best = eng.theta.clone()
    best_err = ev["error"].clone()
    best_epoch = torch.zeros(n, dtype=torch.int64)
    done = best_err == 0
    for e in range(1, p.pretrain_max_epochs + 1):
        if bool(done.all()):
            break
        eng.run_epoch()
        if e % check_every and e != p.pretrain_max_epochs:
            continue
        ev = eng.evaluate()
        if not bool(torch.isfinite(ev["loss"]).all()):
            raise ch.TrajectoryDiverged(
                f"pre-training diverged at epoch {e} (lr={p.pretrain_lr}): lower pretrain_lr", epoch=e,
                group="pretrain", chains=torch.nonzero(~torch.isfinite(ev["loss"])).view(-1).tolist(),
                checkpoint_epoch=None)
        better = (~done) & (ev["error"] < best_err)
        best[better] = eng.theta[better]
        best_err[better] = ev["error"][better]
        best_epoch[better] = e
        done = done | (ev["error"] == 0)
    return {"theta": best.cpu(), "epochs": best_epoch.tolist(), "error": best_err.double().cpu().tolist(),
            "reached_zero": (best_err == 0).tolist(), "d": lay.d}


# --------------------------------------------------------------------------------------------------
# results
# --------------------------------------------------------------------------------------------------
@dataclass
class TrajectoryResult:
    """A finished (or loaded) run: ``protocol``, ``records`` (group -> :class:`vdlib.chains.Record`), ``meta``."""

    protocol: Protocol
    records: dict[str, ch.Record]
    meta: dict[str, Any] = field(default_factory=dict)
    folder: Path | None = None

    def record(self, group: str) -> ch.Record:
        if group not in self.records:
            raise KeyError(f"no group {group!r} in this run; groups: {', '.join(self.records)}")
        return self.records[group]

    def trajectory(self, group: str = "sgd", chain: int = 0) -> np.ndarray:
        """The T×d weight trajectory of one chain after the burn-in (feeds :mod:`vdlib.trajectory`)."""
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


def _versions() -> dict[str, str]:
    from .. import __version__

    return {"vdlib": __version__, "python": platform.python_version(), "numpy": np.__version__,
            "torch": torch.__version__}


def _device_info(device) -> str:
    dev = torch.device(device)
    if dev.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(dev)}"
    return f"cpu: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}"


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
def _log(msg: str, verbose: bool) -> None:
    if verbose:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def run(p: Protocol | None = None, *, profile: str | None = None, out=None, resume: bool = False,
        progress: bool | None = None, device=None, num_threads: int | None = 1, data_root=None,
        stop_after: int | None = None, checkpoint_every: float = 60.0, command: str | None = None,
        workers: int = 1, processes: int = 1, verbose: bool = False) -> TrajectoryResult:
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
    num_threads : int or None
        torch CPU threads during the run (restored afterwards). Default 1: the tensors are small, and
        on a busy 2-core machine a second thread made the run 5–10× *slower* (thread hand-offs);
        None leaves torch's setting. With ``processes > 1`` every recording process uses
        ``num_threads`` threads (1 when None).
    data_root : path, optional
        Where to look for MNIST / Fashion-MNIST first.
    stop_after : int, optional
        Stop after this many recorded epochs (checkpointed): simulates a killed run.
    workers : int
        Threads that advance the groups side by side (:func:`vdlib.deep.chains.run_network_chains`); same results.
    processes : int
        OS processes that record the groups (default 1). The results do not depend on it: every group
        has its own seeds, and the records are bitwise those of one process. With ``processes > 1``
        (needs ``out``) the data loading, pre-training and noise traces happen here, once; then the
        groups are split into at most ``processes`` bins, balanced by their measured time per epoch (a
        few epochs of a throwaway copy of each group: on these tiny nets the per-step Python overhead,
        not the arithmetic, sets the cost), and each bin is recorded by its own process (started with
        "spawn"; it reloads the data and ``pretrained.pt``) into the group subfolders and its own
        checkpoint ``checkpoint-<group>+<group>.pt``. ``meta["processes"]`` holds the partition, which
        ``resume`` reuses (any ``processes > 1`` then runs it); a folder recorded by one process resumes
        with ``processes=1`` only, and vice versa. Only the process holding ``"sgd"`` (else the first)
        shows a progress bar. Wall time with 1 and 2 processes: see benchmarks/bench_trajectory.py.
    verbose : bool
        Print the partition into processes when the recording starts (the command line does).
    """
    from ..config import current, select_device, torch_threads

    p = protocol(profile) if p is None else p
    if not isinstance(p, Protocol):
        raise TypeError("p must be a Protocol (vdlib.experiments.trajectory.protocol(...))")
    from .spectrum import refuse_bundled_at_full_scale

    refuse_bundled_at_full_scale(p.profile, p.dataset, data_root, "trajectory")
    processes = checks.integer(processes, "processes")
    if processes > 1 and out is None:
        raise ValueError(f"processes={processes} needs out=<folder>: the recording processes share the run through "
                         "its folder (pretrained.pt, the records); pass out=..., or processes=1")
    dev = select_device(device)
    if num_threads is not None:
        num_threads = checks.integer(num_threads, "num_threads")
    progress = current().show_progress if progress is None else bool(progress)
    with torch_threads(num_threads):
        return _run(p, out, resume, progress, dev, data_root, stop_after, checkpoint_every, command, workers,
                    processes, num_threads, verbose)


# ---------------------------------------------------------------- pieces shared by one and several processes
def _load_pretrained(pre_path: Path, data_info: dict[str, Any]) -> dict[str, Any]:
    pre = torch.load(pre_path, map_location="cpu", weights_only=True)
    if abs(pre["fingerprint"] - data_info["fingerprint"]) > 1e-6 * abs(data_info["fingerprint"]):
        raise ValueError(f"{pre_path} was made from other data: use another folder")
    return json.loads(pre["json"]) | {"theta_bn": pre["theta_bn"], "theta_nobn": pre["theta_nobn"],
                                      "noise": pre["noise"]}


def _make_engines(p: Protocol, X, y, pre: dict[str, Any], noise: dict[str, Any], dev,
                  groups) -> tuple[dict[str, ch.ChainEngine], dict[str, dict[str, Any]]]:
    """The engines of ``groups`` at the start of the recorded phase, and their ``meta["controls"]`` entries."""
    engines, info = {}, {}
    for c in groups:
        bn = c != "nobn"
        lay = ch.layout(p.model, len(p.classes), batchnorm=bn)
        kw = dict(seeds=_chain_seeds(p, c), lr=p.lr, momentum=p.momentum, weight_decay=p.weight_decay,
                  batch_size=p.batch_size, replacement=p.replacement, device=dev)
        sigma = [0.0] * p.n_chains(c)
        if c == "momentum0":
            kw["momentum"] = 0.0
        if c == "langevin":
            sigma = ch.matched_noise_std(noise[c]["trace"], lay.d).tolist()
            kw.update(full_batch=True, noise_std=sigma)
        # chain i of every group starts from pre-trained network i: the groups are paired
        engines[c] = ch.ChainEngine(X, y, pre["theta_bn" if bn else "theta_nobn"][:p.n_chains(c)], lay, **kw)
        info[c] = {"description": CONTROLS[c], "d": lay.d, "batchnorm": bn,
                   "momentum": kw["momentum"], "full_batch": c == "langevin", "noise_std": sigma,
                   "noise_trace_start": noise[c]["trace"], "noise_bias_sq_start": noise[c]["bias_sq"],
                   "full_grad_sq_start": noise[c]["full_grad_sq"], "seeds": kw["seeds"],
                   "steps_per_epoch": engines[c].steps_per_epoch}
    return engines, info


def _noise_trace_end(p: Protocol, engines: dict[str, ch.ChainEngine]) -> dict[str, list[float]]:
    return {c: eng.noise_trace(p.noise_batches, seed=_seed(p, 5, list(CONTROLS).index(c)))["trace"].tolist()
            for c, eng in engines.items()}


def _checkpoint_name(groups) -> str:
    """The checkpoint file of the process that records ``groups``."""
    return f"checkpoint-{'+'.join(groups)}.pt"


def _probe_seconds(p: Protocol, X, y, pre, noise, dev, epochs: int = 3, repeats: int = 2) -> dict[str, float]:
    """Seconds per recorded epoch of each group (an epoch + the full-batch evaluation), best of ``repeats``
    runs of ``epochs`` epochs after one warm-up epoch, on throwaway engines (the real ones never move)."""
    out = {}
    for c in p.controls:
        eng = _make_engines(p, X, y, pre, noise, dev, [c])[0][c]
        eng.run_epoch(first_step=True)
        eng.evaluate()
        best = math.inf
        for _ in range(repeats):
            t0 = time.perf_counter()
            for _ in range(epochs):
                eng.run_epoch(first_step=True)
                eng.evaluate()
            best = min(best, (time.perf_counter() - t0) / epochs)
        out[c] = best
    return out


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
                                checkpoint_every=checkpoint_every, workers=workers, checkpoint_file=name)
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

    A diverged bin raises :class:`vdlib.chains.TrajectoryDiverged` here (the other processes are stopped);
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


# ---------------------------------------------------------------- the run
def _run(p: Protocol, out, resume, progress, dev, data_root, stop_after, checkpoint_every, command,
         workers, processes, num_threads, verbose) -> TrajectoryResult:
    t_start = time.perf_counter()
    folder = Path(out) if out is not None else None
    meta_path = folder / "meta.json" if folder is not None else None
    old_meta, stored_partition = None, None
    if folder is not None:
        if meta_path.is_file() and not resume:
            raise FileExistsError(f"{folder} already holds a trajectory run: pass resume=True (--resume) to "
                                  "continue it, or choose another folder (--out)")
        if resume and meta_path.is_file():
            old_meta = json.loads(meta_path.read_text())
            old = Protocol.from_dict(old_meta["protocol"])
            if old != p:
                diffs = [k for k, v in p.as_dict().items() if old.as_dict().get(k) != v]
                raise ValueError(f"cannot resume {folder}: its protocol differs in {', '.join(diffs)}; pass the "
                                 "same settings, or use another folder")
        stored_partition = _resume_partition(folder, p, resume, processes, old_meta)
        folder.mkdir(parents=True, exist_ok=True)
    elif resume:
        raise ValueError("resume=True needs out=<the run's folder>")

    X, y, data_info = load_data(p, data_root)
    _log(f"data: {data_info['N']} images of {data_info['dataset']} (classes {data_info['class_names']}) from "
         f"{data_info['source']}" + (f"; note: {data_info['note']}" if data_info["note"] else ""), verbose)
    meta: dict[str, Any] = {"format": ARTIFACT_FORMAT, "protocol": p.as_dict(), "data": data_info,
                            "versions": _versions(), "device": _device_info(dev), "controls": {},
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
        _log(f"recording {', '.join(p.controls)} in this process", verbose)
    else:
        if stored_partition is not None:
            partition = stored_partition
            how = "reused from meta.json: the run being resumed"
            if "processes_probe_seconds_per_epoch" in old_meta:
                meta["processes_probe_seconds_per_epoch"] = old_meta["processes_probe_seconds_per_epoch"]
        else:
            probe_s = _probe_seconds(p, X, y, pre, noise, dev)
            partition = _partition(probe_s, p.controls, processes)
            meta["processes_probe_seconds_per_epoch"] = probe_s
            how = "balanced by a timing probe: " + ", ".join(f"{g} {s * 1e3:.1f}" for g, s in probe_s.items()) + \
                  " ms/epoch"
        ckpt_files = [_checkpoint_name(b) for b in partition]
        _log(f"recording in {len(partition)} processes: {' | '.join(', '.join(b) for b in partition)} ({how})",
             verbose)
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
                                    workers=workers)
        else:
            results = _record_in_processes(p, folder, partition, resume=resume, progress=progress, dev=dev,
                                           data_root=data_root, fingerprint=data_info["fingerprint"],
                                           stop_after=stop_after, checkpoint_every=checkpoint_every,
                                           workers=workers, num_threads=num_threads or 1)
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
        per_process = [{"groups": res["groups"], "seconds": res["seconds"],
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


def load(out) -> TrajectoryResult:
    """Load an artifact folder written by :func:`run` / the command line (weights memory-mapped)."""
    folder = Path(out)
    meta_path = folder / "meta.json"
    if not meta_path.is_file():
        raise FileNotFoundError(
            f"no trajectory artifact in {folder} (meta.json missing): create it with "
            f"`python -m vdlib.experiments trajectory --out {folder}`")
    meta = json.loads(meta_path.read_text())
    if meta.get("format") != ARTIFACT_FORMAT:
        raise ValueError(f"{meta_path} is not a {ARTIFACT_FORMAT} artifact")
    p = Protocol.from_dict(meta["protocol"])
    records = {c: ch.open_record(folder / c) for c in p.controls if (folder / c / "record.json").is_file()}
    return TrajectoryResult(protocol=p, records=records, meta=meta, folder=folder)


# --------------------------------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", choices=("ci", "book", "full"), default=None,
                        help="sizes from vdlib.config.SIZES (default: $VDLIB_PROFILE, else book)")
    parser.add_argument("--out", default=None,
                        help="artifact folder (default: artifacts/trajectory_<profile> in the current folder)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    parser.add_argument("--epochs", type=int, default=None, help="recorded epochs (profile default)")
    parser.add_argument("--burn-in", type=int, default=None, help="epochs of the transient (profile default)")
    parser.add_argument("--chains", type=int, default=None, help="chains of the sgd group (profile default)")
    parser.add_argument("--control-chains", type=int, default=None,
                        help="chains of each control group (profile default)")
    parser.add_argument("--controls", default=None,
                        help=f"comma-separated groups from {','.join(CONTROLS)} (default: all)")
    parser.add_argument("--model", choices=("tiny-fc", "small-fc"), default=None)
    parser.add_argument("--dataset", choices=DATASETS, default=None,
                        help="default auto: MNIST, else Fashion-MNIST, else the 10,000 digits bundled with vdlib "
                             "(the full profile uses those only when named: mnist-10k)")
    parser.add_argument("--classes", default=None, help="comma-separated class labels (default 0,1,2,3)")
    parser.add_argument("--per-class", type=int, default=None, help="training images per class (profile default)")
    parser.add_argument("--data-root", default=None, help="folder with MNIST / Fashion-MNIST files")
    parser.add_argument("--lr", type=float, default=None, help="learning rate of the recorded phase (0.1)")
    parser.add_argument("--momentum", type=float, default=None, help="momentum of the sgd/langevin/nobn groups (0.9)")
    parser.add_argument("--batch-size", type=int, default=None, help="mini-batch size b (128)")
    parser.add_argument("--weight-decay", type=float, default=None, help="weight decay (0)")
    parser.add_argument("--replacement", action="store_true", default=None,
                        help="sample mini-batches with replacement (default: per-epoch permutations)")
    parser.add_argument("--seed", type=int, default=None, help="master seed (0)")
    parser.add_argument("--record-fdr", action=argparse.BooleanOptionalAction, default=None,
                        help="also store the vectors grad f and delta theta per epoch (default: not in full)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1: fastest for these small tensors)")
    parser.add_argument("--workers", type=int, default=1,
                        help="threads advancing the groups side by side (default 1; the results do not depend on it)")
    parser.add_argument("--processes", type=int, default=None,
                        help="OS processes recording the groups, split by a short timing probe (default: with "
                             "--resume, as the run was started, reusing its split; else min(2, CPU cores) under "
                             "the full profile and 1 otherwise); the results do not depend on it")
    parser.add_argument("--device", choices=("cpu", "cuda", "auto"), default=None)
    parser.add_argument("--checkpoint-every", type=float, default=60.0,
                        help="seconds between checkpoints of the long phase (default 60)")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="progress bar (default: on under the full profile)")
    parser.add_argument("--summarize", metavar="FOLDER", default=None,
                        help="do not run: reduce the artifact in FOLDER to the chapters' statistics "
                             "(written to --summary-out; the chapters use artifacts/summaries/trajectory_full "
                             "when present, else the summary committed with vdlib)")
    parser.add_argument("--summary-out", default=None,
                        help="where --summarize writes summary.npz + meta.json "
                             "(default: artifacts/summaries/trajectory_<the artifact's profile>)")


def _default_processes(prof: str, out: Path, resume: bool) -> int:
    """``--processes`` when not given: with ``--resume``, what the run in ``out`` was started with; else
    ``min(2, CPU cores)`` under the full profile and 1 otherwise."""
    meta_path = out / "meta.json"
    if resume and meta_path.is_file():
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError):
            meta = {}
        parts = meta.get("processes")
        if _recorded_in_processes(meta):
            return max(2, len(parts))
        if parts or any(out.glob(ch.CHECKPOINT_FILE)):
            return 1
    return min(2, os.cpu_count() or 1) if prof == "full" else 1


def main(args: argparse.Namespace) -> int:
    from ..deep import data as D
    from ..config import profile_name

    if getattr(args, "summarize", None):
        try:
            summ = summarize(args.summarize, out=args.summary_out, data_root=args.data_root,
                             progress=bool(args.progress))
        except (FileNotFoundError, ValueError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        size = (summ.folder / "summary.npz").stat().st_size
        print(f"wrote {summ.folder} ({size / 1e6:.2f} MB; groups {', '.join(summ.groups)}; "
              f"{summ.meta['summary']['seconds']:.1f} s)")
        return 0
    prof = profile_name(args.profile)
    controls = tuple(c.strip() for c in args.controls.split(",") if c.strip()) if args.controls else None
    try:
        classes = tuple(int(c) for c in args.classes.split(",") if c.strip()) if args.classes else None
        p = protocol(prof, epochs=args.epochs, burn_in=args.burn_in, chains=args.chains, classes=classes,
                     per_class=args.per_class,
                     control_chains=args.control_chains, controls=controls,
                     model=args.model, dataset=args.dataset, lr=args.lr, momentum=args.momentum,
                     batch_size=args.batch_size, weight_decay=args.weight_decay, replacement=args.replacement,
                     seed=args.seed, record_fdr=args.record_fdr)
    except (TypeError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else Path("artifacts") / f"trajectory_{prof}"
    processes = getattr(args, "processes", None)
    if processes is None:
        processes = _default_processes(prof, out, args.resume)
    print(f"trajectory: profile {prof}, {p.epochs} epochs; chains: "
          f"{', '.join(f'{g} ×{p.n_chains(g)}' for g in p.controls)}; "
          f"{processes} process{'es' if processes != 1 else ''}; -> {out}", flush=True)
    try:
        res = run(p, out=out, resume=args.resume, progress=args.progress, device=args.device,
                  num_threads=args.threads, data_root=args.data_root, checkpoint_every=args.checkpoint_every,
                  workers=args.workers, processes=processes, verbose=True,
                  command="python -m vdlib.experiments " + " ".join(getattr(args, "argv", None) or ["trajectory"]))
    except ch.TrajectoryDiverged as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except (FileExistsError, ValueError, D.DataError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(res.summary())
    if res.meta["data"]["note"]:
        print(f"note: {res.meta['data']['note']}")
    print(f"wrote {out} ({res.meta['epochs_done']} epochs, "
          f"{res.meta['seconds']['record_phase_this_call']:.1f} s recording)")
    return 0


# --------------------------------------------------------------------------------------------------
# summary: the statistics the chapters plot, small enough to commit
# --------------------------------------------------------------------------------------------------
SUMMARY_FORMAT = "vdlib.experiments.trajectory.summary/1"
PLANES = ("pc", "noise", "hessian")


@dataclass
class TrajectorySummary:
    """What :func:`summarize` computed: ``arrays`` (``"<group>/<statistic>"`` -> numpy array) and ``meta``.

    ``meta`` holds the artifact's metadata (seed, versions, device, data source, protocol, date) under
    ``"artifact"`` and the summary's own settings under ``"summary"``. ``groups`` lists the groups.
    """

    arrays: dict[str, np.ndarray]
    meta: dict[str, Any]
    folder: Path | None = None

    @property
    def groups(self) -> list[str]:
        return list(self.meta["summary"]["groups"])

    @property
    def protocol(self) -> Protocol:
        return Protocol.from_dict(self.meta["artifact"]["protocol"])

    def __getitem__(self, key: str) -> np.ndarray:
        if key not in self.arrays:
            raise KeyError(f"no statistic {key!r} in this summary; keys look like 'sgd/spectrum_mean' "
                           f"(groups: {', '.join(self.groups)})")
        return self.arrays[key]

    def get(self, group: str, name: str) -> np.ndarray:
        return self[f"{group}/{name}"]

    def label(self) -> str:
        """``profile …, seed …, <dataset> (<source>)``: what the chapters print beside every number."""
        a = self.meta["artifact"]
        data = a.get("data", {})
        return (f"profile {a['protocol']['profile']}, seed {a['protocol']['seed']}, "
                f"{data.get('dataset', '?')} ({data.get('source', '?')})")


def _log_points(T: int, n: int) -> np.ndarray:
    """About ``n`` distinct row indices 0..T, log-spaced (plus 0 and T)."""
    pts = np.unique(np.concatenate([[0, T], np.round(np.geomspace(1, max(T, 1), n)).astype(int)]))
    return pts[pts <= T]


def _spectrum_acf_pcs(W: np.ndarray, n_bins: int, lags: np.ndarray, k_pc: int, chunk: int):
    """Increment spectrum and autocorrelation (mean/sd over coordinates) and the top PCs of one
    chain's T×d trajectory, processed in blocks of ``chunk`` coordinates (memory ~ T·chunk)."""
    T, d = W.shape
    n = T - 1
    nb = min(n_bins, n // 2 + 1)
    s1 = np.zeros(nb)
    s2 = np.zeros(nb)
    a1 = np.zeros(len(lags))
    a2 = np.zeros(len(lags))
    nfft = 1 << int(np.ceil(np.log2(2 * T)))
    mean = np.zeros(d)
    cov = np.zeros((d, d)) if T > 2 * d else None
    cols_used = 0
    for j0 in range(0, d, chunk):
        Xc = np.asarray(W[:, j0:j0 + chunk], dtype=np.float64)
        amp = np.abs(np.fft.rfft(np.diff(Xc, axis=0), axis=0)[:nb]) / np.sqrt(n)
        s1 += amp.sum(1)
        s2 += (amp ** 2).sum(1)
        Y = Xc - Xc.mean(0)
        mean[j0:j0 + Xc.shape[1]] = Xc.mean(0)
        var = np.einsum("ti,ti->i", Y, Y)
        ok = var > 0
        if ok.any():
            F = np.fft.rfft(Y[:, ok], n=nfft, axis=0)
            r = np.fft.irfft(F * np.conj(F), n=nfft, axis=0)[lags] / var[ok]
            a1 += r.sum(1)
            a2 += (r ** 2).sum(1)
            cols_used += int(ok.sum())
    if T <= 2 * d:  # short series: SVD of the centred T×d data (T²d) instead of the d×d covariance (d³)
        _, sv, Vt = np.linalg.svd(np.asarray(W, dtype=np.float64) - mean, full_matrices=False)
        ev = np.zeros(d)
        ev[:len(sv)] = sv ** 2 / max(T - 1, 1)
        V = Vt[:k_pc].T
        if V.shape[1] < k_pc:  # fewer rows than components: pad with zero directions
            V = np.hstack([V, np.zeros((d, k_pc - V.shape[1]))])
    else:  # the d×d covariance in blocks of rows (time)
        for t0 in range(0, T, 8192):
            Y = np.asarray(W[t0:t0 + 8192], dtype=np.float64) - mean
            cov += Y.T @ Y
        cov /= max(T - 1, 1)
        ev, V = np.linalg.eigh(cov)
        V = V[:, ::-1][:, :k_pc]
        ev = ev[::-1]
    sign = np.sign(V[np.argmax(np.abs(V), axis=0), np.arange(V.shape[1])])
    V = V * np.where(sign == 0, 1.0, sign)
    sp_mean = s1 / d
    sp_sd = np.sqrt(np.maximum(s2 - d * sp_mean ** 2, 0) / max(d - 1, 1))
    m = max(cols_used, 1)
    ac_mean = a1 / m
    ac_sd = np.sqrt(np.maximum(a2 - m * ac_mean ** 2, 0) / max(m - 1, 1))
    return sp_mean, sp_sd, ac_mean, ac_sd, V, ev, mean


def _asymmetry_stats(Y: np.ndarray, lags, n_blocks: int):
    """For a T×2 projection: the normalised antisymmetric lagged covariance a(τ) = A₁₂(τ)/√(C₁₁C₂₂)
    at each lag, over the whole series and over ``n_blocks`` contiguous blocks (NaN where a block is
    too short), with A = :func:`vdlib.trajectory.time_reversal_asymmetry`."""
    from .. import trajectory as tj

    def one(Z):
        Z = Z - Z.mean(0)
        v = np.sqrt(np.prod(np.einsum("ti,ti->i", Z, Z) / len(Z)))
        out = np.full(len(lags), np.nan)
        for i, lag in enumerate(lags):
            if lag < len(Z) - 1 and v > 0:
                out[i] = tj.time_reversal_asymmetry(Z, int(lag))[0, 1] / v
        return out

    whole = one(Y)
    blocks = np.stack([one(B) for B in np.array_split(Y, n_blocks)]) if len(Y) >= 4 * n_blocks else \
        np.full((n_blocks, len(lags)), np.nan)
    return whole, blocks


def summarize(source, out=None, *, n_bins: int = 1000, n_lags: int = 100, n_points: int = 400,
              com: float = 100.0, area_lags=(1, 2, 5, 10, 100, 1000), n_blocks: int = 4, k_pc: int = 10,
              planes=PLANES, chunk: int = 64, data_root=None, progress: bool = False) -> TrajectorySummary:
    """Reduce a trajectory artifact to the statistics the Part IV-b chapters plot (a few MB at most).

    Parameters
    ----------
    source : path or TrajectoryResult
        An artifact folder written by :func:`run` (weights read memory-mapped, a block of coordinates
        at a time), or a result in memory.
    out : path, optional
        Write ``summary.npz`` and ``meta.json`` there (default for a folder:
        ``artifacts/summaries/trajectory_<profile>``; for a result in memory: nothing is written).
    n_bins : int
        Increment-spectrum bins kept (the paper plotted the first 1000).
    n_lags : int
        Autocorrelation lags ``arange(0, T, T // n_lags)`` (the paper's 100). Coordinates that never
        move (e.g. the weights of a dead ReLU unit) have no autocorrelation and are left out of its
        mean and sd (the spectrum keeps them: their increments are zero).
    n_points : int
        Log-spaced epochs at which the series (EWMA of ‖∇f‖/√d, loss, error, ‖θ‖) are stored.
    com : float
        Centre of mass of the EWMA of ‖∇f‖/√d (the paper's 100).
    area_lags : sequence of int
        Lags τ (epochs) of the time-reversal asymmetry of the 2-D projections (those ≥ T are dropped).
    n_blocks : int
        Contiguous blocks per chain for a within-chain spread (the only spread for a one-chain group).
    k_pc : int
        Principal components kept per chain (explained variances, and the top-k subspace asymmetry).
    planes : subset of ("pc", "noise", "hessian")
        2-D projections: top-2 PCs of each chain's trajectory; top-2 eigenvectors of SGD's mini-batch
        noise covariance (∝ D) or of the Hessian, both at the chain's last recorded weights.

    Returns
    -------
    TrajectorySummary
        Arrays per group ``g`` (``C`` chains; all after the burn-in unless said otherwise):
        ``g/spectrum_freq`` (bins), ``g/spectrum_mean``, ``g/spectrum_sd`` (C × bins: mean/sd over the
        coordinates); ``g/acf_lags``, ``g/acf_mean``, ``g/acf_sd`` (C × lags), ``g/acf_band95``,
        ``g/acf_band99``; ``g/epochs`` (log-spaced rows from 0, burn-in included, as Fig. 3c) with
        ``g/grad_norm_ewma``, ``g/grad_norm``, ``g/loss``, ``g/error``, ``g/weight_norm`` (C × points);
        ``g/loss_mean``, ``g/loss_sd``, ``g/grad_norm_mean``, ``g/weight_norm_start``/``_end`` (C);
        ``g/fdr1_lhs``, ``g/fdr1_rhs`` (C: ⟨θ·∇f⟩ and (1+μ)/(2η)⟨‖Δθ‖²⟩), ``g/fdr1_lhs_step`` (C: ⟨θ·g⟩
        with the gradient the step applied), ``g/norm_sq_growth_per_step`` (C: (‖θ_end‖² − ‖θ_burn-in‖²)
        per step), ``g/start_weights``/``g/final_weights`` (C × d: rows burn-in and last), ``g/steps_per_epoch``, ``g/lr``, ``g/momentum``; ``g/pc_variance`` (C × k_pc);
        ``g/area_lags``; for each plane P: ``g/asym_P`` (C × lags: A₁₂(τ)/√(C₁₁(0)C₂₂(0)) of the
        projection), ``g/asym_P_blocks`` (C × n_blocks × lags), ``g/area_rate_P`` (C: ⟨y₁ẏ₂ − y₂ẏ₁⟩
        per epoch, :func:`vdlib.trajectory.area_rate`) and ``g/area_rate_P_norm`` (the same divided by
        √(C₁₁C₂₂)), ``g/top_eigenvalues_P`` (C × 2, noise and hessian planes); ``g/asym_subspace`` (C × lags: ‖A(τ)‖_F / ‖C(0)‖_F in the top-k_pc PC subspace).
    """
    from .. import trajectory as tj

    if isinstance(source, TrajectoryResult):
        res = source
    else:
        res = load(source)
    p = res.protocol
    unknown = [pl for pl in planes if pl not in PLANES]
    if unknown:
        raise ValueError(f"planes must be chosen from {PLANES}, got {unknown}")
    checks.integer(n_bins, "n_bins", minimum=1)
    checks.integer(n_lags, "n_lags", minimum=1)
    checks.integer(n_points, "n_points", minimum=2)
    checks.integer(n_blocks, "n_blocks", minimum=1)
    checks.integer(k_pc, "k_pc", minimum=2)
    t_start = time.perf_counter()
    need_data = any(pl != "pc" for pl in planes)
    X = y = None
    if need_data:
        X, y, info = load_data(p, data_root)
        want = res.meta.get("data", {}).get("fingerprint")
        if want is not None and abs(info["fingerprint"] - want) > 1e-6 * abs(want):
            raise ValueError("the data found now differ from the artifact's (fingerprint mismatch): pass the "
                             "artifact's data_root, or planes=('pc',)")
    arrays: dict[str, np.ndarray] = {}
    groups = [g for g in p.controls if g in res.records]
    if not groups:
        raise ValueError("the artifact has no recorded group yet: wait for the run to write its first checkpoint")
    it = groups
    if progress:
        it = progress_bar(groups, enabled=True, desc="summarize")
    for g in it:
        rec = res.records[g]
        done = rec.epochs_done
        b0 = p.burn_in
        if done - b0 < 4:
            raise ValueError(f"group {g!r} has {done} recorded epochs, burn-in {b0}: too few to summarise")
        T = done - b0 + 1
        lags = np.arange(0, T, max(1, T // n_lags))
        alags = np.array([l for l in area_lags if 0 < l < T - 1], dtype=int)
        C = rec.n_chains
        lay = ch.layout(p.model, len(p.classes), batchnorm=(g != "nobn"))
        sp_m, sp_s, ac_m, ac_s, pcv = [], [], [], [], []
        asym = {pl: [] for pl in planes}
        asym_b = {pl: [] for pl in planes}
        rate = {pl: [] for pl in planes}
        rate_n = {pl: [] for pl in planes}
        top_vals = {pl: [] for pl in planes if pl != "pc"}
        sub = []
        for c in range(C):
            W = rec.weights[c, b0:done + 1]
            sm, ss, am, asd, V, ev, mu = _spectrum_acf_pcs(W, n_bins, lags, min(k_pc, lay.d), chunk)
            sp_m.append(sm), sp_s.append(ss), ac_m.append(am), ac_s.append(asd)
            pcv.append(ev[:k_pc])
            # projections onto the top-k PCs (T × k), in blocks of time
            P = np.concatenate([(np.asarray(W[t0:t0 + 8192], dtype=np.float64) - mu) @ V
                                for t0 in range(0, T, 8192)])
            c0 = np.einsum("ti,tj->ij", P, P) / T
            sub.append([np.linalg.norm(tj.time_reversal_asymmetry(P, int(l))) / np.linalg.norm(c0) for l in alags])
            last = np.asarray(rec.weights[c, done], dtype=np.float64)
            for pl in planes:
                if pl == "pc":
                    Y = P[:, :2]
                else:
                    B, vals = ch.top_directions(X, y, lay, last, pl, k=2, seed=_seed(p, 6, c),
                                                batch_size=p.batch_size, replacement=p.replacement,
                                                noise_batches=p.noise_batches)
                    top_vals[pl].append(vals)
                    Y = np.concatenate([(np.asarray(W[t0:t0 + 8192], dtype=np.float64) - mu) @ B
                                        for t0 in range(0, T, 8192)])
                a, ab = _asymmetry_stats(Y, alags, n_blocks)
                asym[pl].append(a), asym_b[pl].append(ab)
                r = tj.area_rate(Y).mean
                Z = Y - Y.mean(0)
                rate[pl].append(r)
                rate_n[pl].append(r / np.sqrt(np.prod(np.einsum("ti,ti->i", Z, Z) / len(Z))))
        freq = np.fft.rfftfreq(T - 1)[:len(sp_m[0])]
        arrays.update({f"{g}/spectrum_freq": freq, f"{g}/spectrum_mean": np.array(sp_m),
                       f"{g}/spectrum_sd": np.array(sp_s), f"{g}/spectrum_n_increments": np.array(T - 1),
                       f"{g}/acf_lags": lags, f"{g}/acf_mean": np.array(ac_m), f"{g}/acf_sd": np.array(ac_s),
                       f"{g}/acf_band95": np.array(tj.Z95 / np.sqrt(T)),
                       f"{g}/acf_band99": np.array(tj.Z99 / np.sqrt(T)),
                       f"{g}/pc_variance": np.array(pcv), f"{g}/area_lags": alags,
                       f"{g}/asym_subspace": np.array(sub)})
        for pl in planes:
            arrays[f"{g}/asym_{pl}"] = np.array(asym[pl])
            arrays[f"{g}/asym_{pl}_blocks"] = np.array(asym_b[pl])
            arrays[f"{g}/area_rate_{pl}"] = np.array(rate[pl])
            arrays[f"{g}/area_rate_{pl}_norm"] = np.array(rate_n[pl])
            if pl != "pc":
                arrays[f"{g}/top_eigenvalues_{pl}"] = np.array(top_vals[pl])
        # series at log-spaced epochs (burn-in included, as Fig. 3c)
        pts = _log_points(done, n_points)
        gn = np.asarray(rec.grad_norm[:, :done + 1], dtype=np.float64)
        arrays[f"{g}/epochs"] = pts
        arrays[f"{g}/grad_norm_ewma"] = tj.ewma(gn.T, com).T[:, pts]
        arrays[f"{g}/grad_norm"] = gn[:, pts]
        arrays[f"{g}/loss"] = np.asarray(rec.loss[:, pts], dtype=np.float64)
        arrays[f"{g}/error"] = np.asarray(rec.error[:, pts], dtype=np.float64)
        arrays[f"{g}/weight_norm"] = np.stack([np.linalg.norm(np.asarray(rec.weights[c, pts], dtype=np.float64),
                                                              axis=1) for c in range(C)])
        post = slice(b0, done + 1)
        loss = np.asarray(rec.loss[:, post], dtype=np.float64)
        arrays[f"{g}/loss_mean"] = loss.mean(1)
        arrays[f"{g}/loss_sd"] = loss.std(1, ddof=1)
        arrays[f"{g}/grad_norm_mean"] = gn[:, post].mean(1)
        arrays[f"{g}/weight_norm_start"] = np.linalg.norm(np.asarray(rec.weights[:, b0], dtype=np.float64), axis=1)
        arrays[f"{g}/weight_norm_end"] = np.linalg.norm(np.asarray(rec.weights[:, done], dtype=np.float64), axis=1)
        arrays[f"{g}/start_weights"] = np.asarray(rec.weights[:, b0], dtype=np.float32)
        arrays[f"{g}/final_weights"] = np.asarray(rec.weights[:, done], dtype=np.float32)
        eta = np.asarray(rec.settings["lr"], dtype=np.float64)
        mom = np.asarray(rec.settings["momentum"], dtype=np.float64)
        arrays[f"{g}/fdr1_lhs"] = np.asarray(rec.theta_dot_grad[:, b0:done], dtype=np.float64).mean(1)
        arrays[f"{g}/fdr1_rhs"] = (1 + mom) / (2 * eta) * np.asarray(rec.step_sq[:, b0:done], dtype=np.float64).mean(1)
        arrays[f"{g}/fdr1_lhs_step"] = np.asarray(rec.theta_dot_step_grad[:, b0:done], dtype=np.float64).mean(1)
        spe = int(rec.settings["steps_per_epoch"])
        arrays[f"{g}/steps_per_epoch"] = np.array(spe)
        arrays[f"{g}/lr"], arrays[f"{g}/momentum"] = eta, mom
        arrays[f"{g}/norm_sq_growth_per_step"] = (arrays[f"{g}/weight_norm_end"] ** 2
                                                  - arrays[f"{g}/weight_norm_start"] ** 2) / ((done - b0) * spe)
    meta_art = {k: res.meta.get(k) for k in ("format", "protocol", "data", "versions", "device", "command",
                                             "status", "epochs_done", "init_seeds", "pretrain", "seconds",
                                             "started", "finished", "date")
                if k in res.meta}
    meta_art["protocol"] = p.as_dict()
    meta_art["controls"] = {g: {k: v for k, v in d.items() if k != "seeds"}
                            for g, d in res.meta.get("controls", {}).items()}
    if res.folder is not None:
        mp = Path(res.folder) / "meta.json"
        if mp.is_file():
            meta_art["meta_json_modified"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(mp.stat().st_mtime))
    meta = {"format": SUMMARY_FORMAT, "artifact": meta_art,
            "summary": {"groups": groups, "n_bins": n_bins, "n_lags": n_lags, "n_points": n_points, "com": com,
                        "area_lags": list(map(int, area_lags)), "n_blocks": n_blocks, "k_pc": k_pc,
                        "planes": list(planes),
                        "plane_weights": "noise/hessian planes: eigenvectors at each chain's last recorded weights",
                        "source": str(res.folder) if res.folder is not None else "in memory",
                        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                        "seconds": time.perf_counter() - t_start, "versions": _versions()}}
    summary = TrajectorySummary(arrays=arrays, meta=meta)
    if out is None and res.folder is not None:
        out = Path("artifacts") / "summaries" / f"trajectory_{p.profile}"
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        files.save_npz(out / "summary.npz", **arrays)
        files.write_json(out / "meta.json", meta)
        summary.folder = out
    return summary


def load_summary(folder) -> TrajectorySummary:
    """Load a summary folder written by :func:`summarize` (``summary.npz`` + ``meta.json``)."""
    folder = Path(folder)
    if not (folder / "summary.npz").is_file() or not (folder / "meta.json").is_file():
        raise FileNotFoundError(f"no trajectory summary in {folder}: create it with "
                                "`python -m vdlib.experiments trajectory --summarize ARTIFACT_FOLDER`")
    meta = json.loads((folder / "meta.json").read_text())
    if meta.get("format") != SUMMARY_FORMAT:
        raise ValueError(f"{folder / 'meta.json'} is not a {SUMMARY_FORMAT} summary")
    with np.load(folder / "summary.npz") as z:
        arrays = {k: z[k] for k in z.files}
    return TrajectorySummary(arrays=arrays, meta=meta, folder=folder)
