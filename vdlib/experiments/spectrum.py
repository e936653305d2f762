"""The gradient-noise spectrum of real networks (Part IV-a, Figs. 1–2 of the paper; chapter 10).

The protocol (§IV of the paper and the authors' ``code/models.py``, ``train.py``, ``compute_sigma.py``,
``plot_D.py``), with every choice in :class:`Protocol`:

1. **Data.** small-lenet sees 28×28 images, small-fc the same images down-sampled to 7×7 (Pillow-style
   bilinear, as the authors' loader), pixels in [0, 1]. Which set stands in for the paper's MNIST is
   :func:`vdlib.deep.data.mnist_choice`'s decision: MNIST when a local copy exists (``data_root`` or
   ``$VDLIB_DATA``), else **Fashion-MNIST** (e.g. Debian's package), else the 10,000 MNIST digits
   bundled with vdlib (``"mnist-10k"``, 8,000 for training). The ``full`` profile refuses the bundled
   digits unless they are asked for by name (``dataset="mnist-10k"``, ``--dataset mnist-10k``): 8,000
   images are not the paper's 60,000. ``meta.json`` records which data and from where, and every summary
   line carries the dataset's name; sizes beyond the training split are refused. The small-allcnn runs
   (Fig. 2) need CIFAR-10/100 (GCN + ZCA, :mod:`vdlib.deep.data`); without a local copy they are *skipped*
   with a message saying how to provide it, never replaced by other data.
2. **Training.** :func:`vdlib.deep.train.train` with the paper's recipe (:data:`vdlib.deep.train.RECIPES`:
   momentum 0.9, batch 128, seed 42), checkpoints at 20 %, 40 % and 100 % of the epochs (the paper's
   snapshots: files 1, 2, 5 of six). Checkpoints live in a work folder and a killed run resumes from them.
3. **D at each snapshot.** The network in evaluation mode (BN running statistics, no dropout), the
   per-sample gradients of all ``n_spectrum`` training examples (:mod:`vdlib.deep.persample`), and
   D = (1/N) Σ (g_k − ḡ)(g_k − ḡ)ᵀ. The ``full`` profile takes all 60,000 examples and the d×d route
   (float64 ``syrk`` accumulation, :func:`vdlib.deep.noise_spectrum.symmetric_eigenvalues`: 13,338² for small-lenet,
   3,978² for small-fc); smaller profiles use the N×N Gram route (same non-zero eigenvalues). Each
   snapshot's eigenvalues are written as soon as they are computed, so a killed run resumes at the next
   missing piece.
4. **Rank against N.** At the last snapshot, the rank of D from nested random subsets of n examples
   (:func:`vdlib.deep.noise_spectrum.rank_vs_n`): the rank of a centred covariance of n gradients is at most n − 1.
5. **Augmentation (Fig. 2c).** ``small-allcnn-cifar10-augment`` reuses the network trained without
   augmentation and applies a random flip + pad-4 crop to every sample while D is computed.
6. **Threads.** ``Protocol.threads`` (``--threads``, default 1): CPU threads of torch and BLAS. Their
   rounding differs with the count and training is chaotic (a probe of the full profile: small-lenet's
   λ_max 125.5 with 2 threads, 86.8 with 1), so results are bitwise reproducible only for the same thread
   count, torch/BLAS build and CPU, not across machines or thread counts. The count is recorded (protocol,
   training checkpoints) and a resume with another is refused. Older records load with the ``--threads N``
   of their ``command`` (the committed full run: 1), else ``threads=None`` (unknown).

Artifact (``out`` folder, default ``artifacts/spectrum/<profile>``, one writer at a time): ``meta.json``
(protocol, seed, versions, device, data sources, timings, per run and snapshot the summary numbers) and
``<run>/snapshot_EEEE.npz`` (eigenvalues, float64, descending, compressed) plus ``<run>/rank_vs_n.npz``.
No per-sample gradients and no d×d matrices. The full-profile result the book shows is committed as
package data (``vdlib/results/spectrum/full``); the chapters find it, or a run of your own in
``artifacts/spectrum/full``, with :func:`vdlib.results.committed_result`.

Command line (exit status 1 when a requested piece was skipped or training diverged, 2 for bad input)::

    python -m vdlib.experiments spectrum --profile full [--runs small-fc,small-lenet] [--out DIR] [--resume]

Python::

    res = vdlib.experiments.spectrum.run(profile="ci")          # in memory, seconds
    res = vdlib.experiments.spectrum.load(vdlib.results.committed_result("spectrum/full").path)
    res.summary_rows()                                           # ranks, mean ± sd per run and snapshot

Used in: chapter 10 (the gradient-noise spectrum, Figs. 1–2, Remarks 13–15).
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import json
import math
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import checks, files, provenance
from ..lifecycle import FolderInUse, RunLock
from ..provenance import log

__all__ = ["RUNS", "PAPER", "DATASETS", "refuse_bundled_at_full_scale", "Protocol", "protocol", "SpectrumResult", "Snapshot", "load_data", "snapshot_epochs",
           "lr_schedule", "paper_statistics", "temperature", "run", "load", "default_out", "add_arguments",
           "main", "ARTIFACT_FORMAT", "DataUnavailable"]

ARTIFACT_FORMAT = "vdlib.experiments.spectrum/1"

#: The runs: model, dataset family and whether D is computed with augmentation.
RUNS: dict[str, dict[str, Any]] = {
    "small-lenet": dict(model="small-lenet", data="mnist", inputs="28x28", augment=False, figure="1a"),
    "small-fc": dict(model="small-fc", data="mnist", inputs="7x7", augment=False, figure="1b"),
    "small-allcnn-cifar10": dict(model="small-allcnn", data="cifar10", inputs="gcn+zca", augment=False, figure="2a"),
    "small-allcnn-cifar100": dict(model="small-allcnn", data="cifar100", inputs="gcn+zca", augment=False,
                                  figure="2b"),
    "small-allcnn-cifar10-augment": dict(model="small-allcnn", data="cifar10", inputs="gcn+zca", augment=True,
                                         figure="2c", trained_as="small-allcnn-cifar10"),
}

#: The paper's reported numbers (captions of Figs. 1–2): rank in % of d, mean ± sd of λ(D).
PAPER: dict[str, dict[str, Any]] = {
    "small-lenet": dict(figure="1a", dataset="MNIST", d=13_338, rank_pct=1.8, mean=0.3e-3, sd=2.11e-3),
    "small-fc": dict(figure="1b", dataset="MNIST", d=3_978, rank_pct=0.6, mean=0.9e-3, sd=18.5e-3),
    "small-allcnn-cifar10": dict(figure="2a", dataset="CIFAR-10", d=26_982, rank_pct=0.34, mean=0.27, sd=0.84),
    "small-allcnn-cifar100": dict(figure="2b", dataset="CIFAR-100", d=29_412, rank_pct=0.47, mean=0.98, sd=2.16),
    "small-allcnn-cifar10-augment": dict(figure="2c", dataset="CIFAR-10 + augmentation", d=26_982, rank_pct=0.32,
                                         mean=0.43, sd=1.32),
}

SNAPSHOT_FRACTIONS = (0.2, 0.4, 1.0)

#: ``Protocol.dataset`` values: "auto" (:func:`vdlib.deep.data.mnist_choice`) or a set asked for by name.
DATASETS = ("auto", "mnist", "fashion-mnist", "mnist-10k")


class DataUnavailable(RuntimeError):
    """A run's dataset (CIFAR) is not available locally; the message says how to provide it."""


# --------------------------------------------------------------------------------------------------
# protocol
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Protocol:
    """Every setting of a spectrum run (see the module docstring).

    Attributes
    ----------
    runs : tuple of str
        Keys of :data:`RUNS`.
    n_train : int or None
        Training examples (a seeded random subset); None: the whole training split.
    n_spectrum : int or None
        Examples whose per-sample gradients form D (the first ones of the training subset); None: all.
    epochs : int or None
        Training epochs; None: the recipe's (20 for the MNIST nets, 50 for small-allcnn).
    route : str
        ``"dxd"``, ``"gram"`` or ``"auto"`` (:func:`vdlib.deep.noise_spectrum.diffusion_spectrum`).
    rank_vs_n : tuple of int
        Subset sizes n for the rank-against-N curve at the last snapshot (empty: skip).
    threads : int or None
        CPU threads of torch and BLAS (default 1; results depend on it). None: not recorded (old records).
    """

    runs: tuple[str, ...] = ("small-fc", "small-lenet")
    dataset: str = "auto"
    n_train: int | None = None
    n_spectrum: int | None = None
    epochs: int | None = None
    snapshot_fractions: tuple[float, ...] = SNAPSHOT_FRACTIONS
    seed: int = 42
    route: str = "auto"
    gemm_dtype: str = "float64"
    rank_vs_n: tuple[int, ...] = ()
    downsample: str = "bilinear"
    augment_seed: int = 1
    profile: str = "custom"
    threads: int | None = 1

    def __post_init__(self):
        unknown = [r for r in self.runs if r not in RUNS]
        if unknown or not self.runs:
            raise ValueError(f"unknown runs {unknown}; choose from {', '.join(RUNS)}")
        if self.dataset not in DATASETS:
            raise ValueError(f"dataset must be one of {', '.join(repr(d) for d in DATASETS)} (for the MNIST nets), "
                             f"got {self.dataset!r}")
        for name in ("n_train", "n_spectrum", "epochs"):
            v = getattr(self, name)
            if v is not None:
                checks.integer(v, name, minimum=2 if name != "epochs" else 1)
        if self.n_train is not None and self.n_spectrum is not None and self.n_spectrum > self.n_train:
            raise ValueError(f"n_spectrum={self.n_spectrum} exceeds n_train={self.n_train}: D is computed from "
                             "training examples; lower n_spectrum or raise n_train")
        if not self.snapshot_fractions or any(not 0 < f <= 1 for f in self.snapshot_fractions):
            raise ValueError(f"snapshot_fractions must be fractions in (0, 1], got {self.snapshot_fractions}")
        if self.route not in ("auto", "dxd", "gram"):
            raise ValueError(f"route must be 'auto', 'dxd' or 'gram' (all eigenvalues), got {self.route!r}")
        if self.gemm_dtype not in ("float64", "float32"):
            raise ValueError(f"gemm_dtype must be 'float64' or 'float32', got {self.gemm_dtype!r}")
        for n in self.rank_vs_n:
            checks.integer(n, "rank_vs_n size", minimum=2)
        for name in ("seed", "augment_seed") + (("threads",) if self.threads is not None else ()):  # None: unknown
            checks.integer(getattr(self, name), name, minimum=1 if name == "threads" else 0)

    def as_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Protocol":
        kw = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()
              if k in {f.name for f in dataclasses.fields(cls)}}
        kw.setdefault("threads", None)  # a record from before it was recorded: unknown
        return cls(**kw)


def protocol(profile: str | None = None, **overrides) -> Protocol:
    """The protocol of a run profile (sizes from :data:`vdlib.config.SIZES`), with ``overrides``.

    ``ci``: a few hundred examples, two epochs (seconds); ``book``: a few thousand examples and a few
    epochs (about a minute); ``full``: the paper's scale (60,000 images, the recipe's epochs, d×d route).
    """
    from ..config import current

    cfg = current(profile)
    base = dict(n_train=cfg.size("spectrum_n_train"), n_spectrum=cfg.size("spectrum_n_spectrum"),
                epochs=cfg.size("spectrum_epochs"), route="dxd" if cfg.profile == "full" else "auto",
                rank_vs_n=tuple(cfg.size("spectrum_rank_vs_n")), profile=cfg.profile)
    fields = {f.name for f in dataclasses.fields(Protocol)}
    unknown = set(overrides) - fields
    if unknown:
        raise TypeError(f"unknown protocol settings {sorted(unknown)}; known: {', '.join(sorted(fields))}")
    base.update({k: v for k, v in overrides.items() if v is not None})
    for k in ("runs", "snapshot_fractions", "rank_vs_n"):
        if k in base:
            base[k] = tuple(base[k])
    return Protocol(**base)


def _recipe_epochs(run_name: str) -> int:
    from ..deep.train import RECIPES

    return RECIPES[RUNS[run_name]["model"]]["epochs"]


def snapshot_epochs(epochs: int, fractions=SNAPSHOT_FRACTIONS) -> list[int]:
    """The epochs at the given fractions of training (rounded, at least 1, distinct, increasing).

    >>> snapshot_epochs(20), snapshot_epochs(50)
    ([4, 8, 20], [10, 20, 50])
    """
    epochs = checks.integer(epochs, "epochs")
    return sorted({max(1, min(epochs, int(round(f * epochs)))) for f in fractions})


def lr_schedule(run_name: str, epochs: int) -> list[tuple[int, float]]:
    """The recipe's step schedule, stretched to ``epochs`` (the recipe's own at its epoch count)."""
    from ..deep.train import RECIPES

    rec = RECIPES[RUNS[run_name]["model"]]
    E0 = rec["epochs"]
    steps = rec["lr"] if isinstance(rec["lr"], list) else [(0, rec["lr"])]
    out: dict[int, float] = {}
    for e, r in steps:
        out.setdefault(int(round(e * epochs / E0)), float(r))
    out = dict(sorted((e, r) for e, r in out.items() if e < epochs or e == 0))
    return list(out.items())


# --------------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------------
def load_data(run_name: str, p: Protocol, root=None):
    """``(X, y, X_test, y_test, info)`` for one run: tensors in the model's input shape and a dict with the
    dataset name, source, note and the number of classes.

    Raises :class:`DataUnavailable` for the CIFAR runs when CIFAR is not found locally, and ``ValueError``
    when ``n_train`` or ``n_spectrum`` exceeds the training split.
    """
    import torch

    from ..deep import data as D

    spec = RUNS[run_name]
    note = ""
    if spec["data"] == "mnist":
        name, why = D.mnist_choice(p.dataset, root)
        note = "" if name == "mnist" else why
        ds = D.load(name, root)
        X, Y = D.to_tensors(ds, "train", normalise="unit")
        Xt, Yt = D.to_tensors(ds, "test", normalise="unit")
        if spec["inputs"] == "7x7":
            X = D.downsample(X, 7, method=p.downsample).reshape(len(X), 49).contiguous()
            Xt = D.downsample(Xt, 7, method=p.downsample).reshape(len(Xt), 49).contiguous()
    else:
        name = spec["data"]
        if not D.available(name, root):
            raise DataUnavailable(
                f"{run_name} needs {name.upper()} (the paper's Fig. {spec['figure']}), which was not found locally; "
                f"put the python version of the dataset (e.g. cifar-10-python.tar.gz extracted) under $VDLIB_DATA or "
                f"pass --data-root DIR, or fetch it once with vdlib.deep.data.fetch('{name}'). Searched: "
                + "; ".join(D.search_paths(name, root)))
        ds = D.load(name, root)
        X, Y = D.to_tensors(ds, "train", normalise=None)
        Xt, Yt = D.to_tensors(ds, "test", normalise=None)
        Xg, Xtg = D.gcn(X.numpy()), D.gcn(Xt.numpy())
        zca = D.zca_fit(Xg)
        X = torch.from_numpy(D.zca_apply(Xg, zca)).reshape(X.shape)
        Xt = torch.from_numpy(D.zca_apply(Xtg, zca)).reshape(Xt.shape)
    # the dataset's number of classes (10 or 100), not max label + 1: a copy whose training labels miss the
    # last class would build a network with too few outputs (CIFAR-100: d below 29,412)
    n_classes = D.REGISTRY[ds.name].n_classes
    for key, asked in (("n_train", p.n_train), ("n_spectrum", p.n_spectrum)):  # the protocol records what is used
        if asked is not None and asked > len(Y):
            raise ValueError(f"{key}={asked:,} exceeds the {len(Y):,} images of the {ds.title} training split "
                             f"({ds.source}): use --{key.replace('_', '-')} ≤ {len(Y):,}, or omit it to use all")
    if p.n_train is not None and p.n_train < len(Y):
        perm = torch.from_numpy(np.random.default_rng(p.seed).permutation(len(Y))[:p.n_train])
        X, Y = X[perm].contiguous(), Y[perm].contiguous()
    info = {"dataset": name, "title": ds.title if hasattr(ds, "title") else name, "source": ds.source,
            "note": note, "n_classes": n_classes, "N": int(len(Y)), "n_test": int(len(Yt)),
            "n_train_requested": p.n_train, "n_spectrum_used": int(min(len(Y), p.n_spectrum or len(Y))),
            "fingerprint": float(X.double().sum()) + 1e-3 * float((X.double() ** 2).sum())}
    return X, Y, Xt, Yt, info


# --------------------------------------------------------------------------------------------------
# statistics
# --------------------------------------------------------------------------------------------------
def paper_statistics(eigenvalues, dim: int | None = None) -> dict[str, float]:
    """The paper's summary of a spectrum (the authors' ``code/plot_D.py``).

    Eigenvalues are clipped from below at the paper's threshold λ_max·d·ε_float32; the mean and the
    (sample) standard deviation are taken over all d clipped eigenvalues, as ``DataFrame(eig).clip(lower=
    thresh).describe()`` does. Also returned: the unclipped mean tr D / d, the rank at the paper's
    threshold and its share of d.
    """
    from ..deep.noise_spectrum import numerical_rank, paper_rank_threshold

    ev = np.asarray(eigenvalues, dtype=np.float64).reshape(-1)
    d = ev.size if dim is None else checks.integer(dim, "dim")
    if ev.size != d:
        raise ValueError(f"paper_statistics needs all d={d} eigenvalues, got {ev.size}; use a complete spectrum")
    lmax = float(ev.max())
    thr = paper_rank_threshold(lmax, d)
    clipped = np.maximum(ev, thr)
    rank = numerical_rank(ev, rtol="paper")
    return {"mean": float(clipped.mean()), "sd": float(clipped.std(ddof=1)), "mean_unclipped": float(ev.mean()),
            "lambda_max": lmax, "threshold": thr, "rank": int(rank), "rank_pct": 100.0 * rank / d, "d": d}


def temperature(lr: float, batch_size: int, trace: float, dim: int) -> float:
    """Remark 15's noise level (η/b)·tr(D)/d: the learning-rate-to-batch ratio times the mean eigenvalue of D."""
    lr = checks.learning_rate(lr)
    b = checks.batch_size(batch_size)
    dim = checks.integer(dim, "dim")
    if not (math.isfinite(trace) and trace >= 0):
        raise ValueError(f"tr D must be a finite number ≥ 0, got {trace!r}")
    return lr / b * trace / dim


# --------------------------------------------------------------------------------------------------
# results
# --------------------------------------------------------------------------------------------------
@dataclass
class Snapshot:
    """One snapshot's spectrum: ``eigenvalues`` (float64, descending, all d), ``trace`` = tr D, sizes, timing."""

    run: str
    epoch: int
    fraction: float
    eigenvalues: np.ndarray
    trace: float
    n_samples: int
    dim: int
    route: str
    seconds: float
    train_error: float | None = None
    test_error: float | None = None

    @property
    def stats(self) -> dict[str, float]:
        """:func:`paper_statistics` of this spectrum."""
        return paper_statistics(self.eigenvalues, self.dim)

    def rank(self, rtol="paper") -> int:
        from ..deep.noise_spectrum import numerical_rank

        return numerical_rank(self.eigenvalues, rtol=rtol, dim=self.dim)


@dataclass
class SpectrumResult:
    """Spectra of every run and snapshot (``snapshots[run]`` sorted by epoch), rank-vs-N curves, metadata."""

    protocol: Protocol
    snapshots: dict[str, list[Snapshot]]
    rank_vs_n: dict[str, dict[str, np.ndarray]]
    meta: dict[str, Any]
    folder: Path | None = None

    def dataset_label(self, run: str) -> str:
        """The dataset a run really used, e.g. ``"Fashion-MNIST"`` (never the paper's name when it differs)."""
        info = self.meta.get("data", {}).get(run, {})
        return {"fashion-mnist": "Fashion-MNIST", "mnist": "MNIST", "mnist-10k": "MNIST-10k (bundled)",
                "cifar10": "CIFAR-10", "cifar100": "CIFAR-100"}.get(info.get("dataset"), str(info.get("dataset", "?")))

    def summary_rows(self) -> list[dict[str, Any]]:
        """One dict per run and snapshot: epoch, fraction, N, d, rank (paper threshold) and its %, the
        clipped mean ± sd, tr D/d, ranks at 1e-2/1e-3/1e-4·λ_max, errors, seconds, dataset label."""
        from ..deep.noise_spectrum import RELATIVE_RANK_TOLERANCES

        rows = []
        for run, snaps in self.snapshots.items():
            for s in snaps:
                st = s.stats
                row = {"run": run, "dataset": self.dataset_label(run), "epoch": s.epoch, "fraction": s.fraction,
                       "N": s.n_samples, "d": s.dim, "rank": st["rank"], "rank_pct": st["rank_pct"],
                       "mean": st["mean"], "sd": st["sd"], "trace_over_d": s.trace / s.dim,
                       "lambda_max": st["lambda_max"], "train_error": s.train_error, "test_error": s.test_error,
                       "seconds": s.seconds, "route": s.route}
                for r in RELATIVE_RANK_TOLERANCES:
                    row[f"rank@{r:g}"] = s.rank(r)
                rows.append(row)
        return rows

    def summary(self) -> str:
        lines = [f"spectrum ({self.protocol.profile} profile, seed {self.protocol.seed})"]
        for r in self.summary_rows():
            lines.append(f"  {r['run']:<14} [{r['dataset']}] epoch {r['epoch']:>3} ({100 * r['fraction']:.0f} %): "
                         f"N={r['N']}, d={r['d']}, rank {r['rank']} ({r['rank_pct']:.2f} %), λ = "
                         f"({r['mean']:.3g} ± {r['sd']:.3g}), {r['seconds']:.0f} s")
        for run, why in self.meta.get("skipped", {}).items():
            lines.append(f"  {run}: skipped ({why})")
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# snapshot files
# --------------------------------------------------------------------------------------------------
def _snapshot_path(folder: Path, run: str, epoch: int) -> Path:
    return folder / run / f"snapshot_{epoch:04d}.npz"


_FIX = "delete it and rerun with --resume: it is recomputed from the training checkpoint"
_SNAPSHOT_INFO = ("epoch", "fraction", "trace", "n_samples", "dim", "route", "seconds", "train_error", "test_error")


def _load_npz(path: Path, what: str) -> dict[str, np.ndarray]:
    """:func:`vdlib.files.load_npz`, after checking the zip header (numpy reads a .npy there as one array)."""
    if path.is_file() and path.stat().st_size and path.read_bytes()[:4] != b"PK\x03\x04":
        raise files.DamagedFile(path, f"is not an .npz archive (no zip header; a {what} was expected)", _FIX)
    return {k: np.asarray(v) for k, v in files.load_npz(path, what=what, fix=_FIX).items()}


def _read_snapshot(path: Path, run: str) -> Snapshot:
    z = _load_npz(path, f"spectrum snapshot of {run}")
    try:
        info = json.loads(str(z["info"]))
        return Snapshot(run=run, eigenvalues=z["eigenvalues"].astype(np.float64), **{k: info[k] for k in _SNAPSHOT_INFO})
    except (json.JSONDecodeError, TypeError, KeyError):
        raise files.DamagedFile(path, f"lacks the arrays or the 'info' record of a snapshot of {run}", _FIX) from None


def _read_meta(folder: Path) -> tuple[dict[str, Any], Protocol]:
    """``meta.json`` of an artifact folder and its protocol; a damaged one raises :class:`vdlib.files.DamagedFile`."""
    path, fix = folder / "meta.json", (f"move {folder} aside (or delete it) and rerun with the same settings: the "
                                       "training checkpoints in its work folder are reused when their settings match")
    meta = files.load_json(path, what="spectrum run's metadata", fix=fix, keys=("format", "protocol"))
    try:
        if meta["format"] != ARTIFACT_FORMAT:
            raise ValueError(f"format {meta['format']!r}, not {ARTIFACT_FORMAT!r}")
        p = Protocol.from_dict(meta["protocol"])
    except (TypeError, ValueError, AttributeError) as err:
        raise files.DamagedFile(path, f"holds a damaged protocol ({err})", fix) from None
    m = re.search(r"--threads[= ](\d+)", str(meta.get("command")))  # older records: the count of their command
    return meta, p if p.threads is not None or m is None else dataclasses.replace(p, threads=int(m.group(1)))


def _write_snapshot(path: Path, s: Snapshot) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    info = {k: getattr(s, k) for k in _SNAPSHOT_INFO}
    files.save_npz(path, eigenvalues=np.asarray(s.eigenvalues, dtype=np.float64), info=np.array(json.dumps(info)))


def default_out(profile: str) -> Path:
    """``artifacts/spectrum/<profile>`` (relative to the current folder; the chapters look there first, then
    at the committed copy shipped with vdlib: :func:`vdlib.results.committed_result`)."""
    return Path("artifacts") / "spectrum" / profile


# --------------------------------------------------------------------------------------------------
# the run
# --------------------------------------------------------------------------------------------------
def refuse_bundled_at_full_scale(profile: str, dataset: str, data_root, command: str) -> None:
    """Raise :class:`vdlib.deep.data.DataNotFoundError` when a ``full``-profile run would fall back to the bundled
    10,000 digits without being asked to (``dataset="auto"`` and neither MNIST nor Fashion-MNIST found)."""
    from ..deep import data as D

    if profile != "full" or dataset != "auto":
        return
    name, _ = D.mnist_choice("auto", data_root)
    if name != D.BUNDLED:
        return
    tried = "; ".join(dict.fromkeys(D.search_paths("mnist", data_root) + D.search_paths("fashion-mnist", data_root)))
    raise D.DataNotFoundError(
        "the full profile reproduces the paper at full scale, but neither MNIST nor Fashion-MNIST was found, only "
        "the 10,000 MNIST digits bundled with vdlib, whose 8,000 training images are not the paper's 60,000: "
        f"nothing was run (searched: {tried}). Provide the data: MNIST (--data-root DIR or $VDLIB_DATA with the "
        "four IDX files, or vdlib.deep.data.fetch('mnist')) or Fashion-MNIST (sudo apt-get install dataset-fashion-mnist); "
        f"or run on the bundled digits on purpose: python -m vdlib.experiments {command} --profile full "
        "--dataset mnist-10k (recorded as such in meta.json)")


def run(p: Protocol | None = None, *, profile: str | None = None, out=None, work=None, resume: bool = False,
        progress: bool | None = None, device=None, num_threads: int | None = None, data_root=None,
        verbose: bool = False, command: str | None = None) -> SpectrumResult:
    """Train the runs' networks, snapshot them and compute D's spectrum at each snapshot.

    Parameters
    ----------
    p : Protocol, optional
        Default: :func:`protocol` ``(profile)``.
    out : path, optional
        Artifact folder (``meta.json`` + eigenvalues). Without it the run stays in memory.
    work : path, optional
        Folder for the training checkpoints (default: ``<out>_work``, a sibling of the artifact folder,
        e.g. ``artifacts/spectrum/full_work``; a temporary folder when ``out`` is None). Kept so that a
        run resumes.
    resume : bool
        Continue the run in ``out`` (same protocol, thread count included): finished snapshots are loaded,
        not recomputed, and training continues from its checkpoints. Temporary files a killed run left in
        ``out`` and ``work`` are removed first.
    num_threads : int, optional
        Replaces ``p.threads`` (CPU threads of torch and BLAS during the call, recorded; default 1).
    data_root : path, optional
        Where to look for MNIST / Fashion-MNIST / CIFAR first.
    verbose : bool
        Print one timestamped line per step (the command line does).

    Runs whose data are not available (CIFAR) are skipped and listed in ``meta["skipped"]`` with the reason.
    Under the ``full`` profile with ``dataset="auto"``, a machine that has neither MNIST nor Fashion-MNIST
    (only the bundled 10,000 digits) raises :class:`vdlib.deep.data.DataNotFoundError` before anything runs.
    ``out`` is locked while it is written (:class:`vdlib.lifecycle.RunLock`; in use: ``FolderInUse``).
    """
    from ..config import current, select_device, torch_threads
    from ..deep.data import check_root

    p = protocol(profile) if p is None else p
    if not isinstance(p, Protocol):
        raise TypeError("p must be a Protocol (vdlib.experiments.spectrum.protocol(...))")
    check_root(data_root)  # before anything is written
    if any(RUNS[r]["data"] == "mnist" for r in p.runs):
        refuse_bundled_at_full_scale(p.profile, p.dataset, data_root, "spectrum")
    dev = select_device(device)
    if num_threads is not None:
        p = dataclasses.replace(p, threads=checks.integer(num_threads, "num_threads"))
    if p.threads is None:
        raise ValueError("p.threads is None (a record's unknown count): pass threads=N to protocol(), or num_threads=N")
    progress = current().show_progress if progress is None else bool(progress)
    with torch_threads(p.threads):
        if work is None and out is None:
            with tempfile.TemporaryDirectory(prefix="vdlib-spectrum-") as tmp:
                return _run(p, None, Path(tmp), resume, progress, dev, data_root, verbose, command)
        folder = Path(out) if out is not None else None
        if work is None:
            work = folder.parent / f"{folder.name}_work"
        with RunLock(folder, what="vdlib.experiments spectrum") if folder is not None else contextlib.nullcontext():
            return _run(p, folder, Path(work), resume, progress, dev, data_root, verbose, command)


def _run(p, folder, work, resume, progress, dev, data_root, verbose, command) -> SpectrumResult:
    import torch

    from ..deep import models as M
    from ..deep import train as T
    from ..deep.data import augment
    from ..deep.noise_spectrum import diffusion_spectrum, rank_vs_n
    from ..deep.persample import per_sample_gradient_chunks, per_sample_gradients

    t_start = time.perf_counter()
    meta_path = folder / "meta.json" if folder is not None else None
    meta: dict[str, Any] = {"format": ARTIFACT_FORMAT, "protocol": p.as_dict(), **provenance.run_metadata(dev),
                            "command": command, "data": {}, "training": {}, "skipped": {}, "seconds": {},
                            "status": "running",
                            "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    if folder is not None:
        if meta_path.exists():
            if not resume:
                raise FileExistsError(f"{folder} already holds a spectrum run: pass resume=True (--resume) to "
                                      "continue it, or choose another folder (--out)")
            old, old_p = _read_meta(folder)
            if dataclasses.replace(old_p, threads=p.threads) != p:
                diffs = [k for k, v in p.as_dict().items() if k != "threads" and old["protocol"].get(k) != v]
                raise ValueError(f"cannot resume {folder}: its protocol differs in {', '.join(diffs)}; pass the "
                                 "same settings, or use another folder")
            if old_p.threads not in (None, p.threads):
                raise ValueError(f"cannot resume {folder}: it was started with --threads {old_p.threads} and this "
                                 f"call asks for --threads {p.threads}; results depend on the thread count, so the "
                                 f"resumed run would mix two runs. Pass --threads {old_p.threads}, or use a fresh --out")
            if old_p.threads is None:
                meta["threads_note"] = f"the part before a resume with --threads {p.threads} did not record its count"
            for k in ("data", "training", "seconds"):
                meta[k].update(old.get(k, {}))
            meta["started"] = old.get("started", meta["started"])
        for stale in [*files.remove_stale_temporaries(folder), *files.remove_stale_temporaries(work)] if resume else []:
            log(f"removed {stale}, a temporary file of an interrupted run", verbose)
        folder.mkdir(parents=True, exist_ok=True)
    elif resume:
        raise ValueError("resume=True needs out=<the run's folder>")

    def save_meta():
        if meta_path is not None:
            meta["updated"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
            files.write_json(meta_path, meta)

    snapshots: dict[str, list[Snapshot]] = {}
    curves: dict[str, dict[str, np.ndarray]] = {}
    loss_fn = torch.nn.CrossEntropyLoss(reduction="none")
    trained: dict[str, Any] = {}
    for run_name in p.runs:
        spec = RUNS[run_name]
        try:
            X, Y, Xt, Yt, info = load_data(run_name, p, data_root)
        except DataUnavailable as err:
            meta["skipped"][run_name] = str(err)
            log(f"{run_name}: skipped: {err}", verbose)
            save_meta()
            continue
        meta["data"][run_name] = info
        log(f"{run_name}: {info['N']} training images of {info['dataset']} from {info['source']}"
             + (f"; note: {info['note']}" if info["note"] else ""), verbose)
        epochs = p.epochs or _recipe_epochs(run_name)
        snaps = snapshot_epochs(epochs, p.snapshot_fractions)
        train_as = spec.get("trained_as", run_name)
        rec = T.recipe(spec["model"], epochs=epochs, lr=lr_schedule(run_name, epochs),
                       checkpoint_epochs=sorted({0, *snaps}))
        model = M.build(spec["model"], num_classes=info["n_classes"], seed=p.seed)
        ckdir = work / train_as
        if train_as not in trained:
            t0 = time.perf_counter()
            log(f"{run_name}: training {spec['model']} (d={M.count_parameters(model)}) on {info['N']} "
                 f"{info['dataset']} images for {epochs} epochs -> {ckdir}", verbose)
            res = T.train(model, X, Y, **rec, seed=p.seed, device=dev, checkpoint_dir=ckdir, resume=True,
                          eval_data={"test": (Xt, Yt)}, progress=progress)
            trained[train_as] = res.history
            hist = res.history
            meta["training"][train_as] = {
                "recipe": {k: v for k, v in rec.items() if k != "checkpoint_epochs"} | {"seed": p.seed},
                "final_sgd_error": hist[-1]["sgd_error"], "final_test_error": hist[-1]["test_error"],
                "epoch_seconds": [h["seconds"] for h in hist],
                "threads": T.load_checkpoint(T.latest_checkpoint(ckdir))["settings"].get("num_threads"),
                "seconds_this_call": time.perf_counter() - t0}
            save_meta()
            log(f"{run_name}: trained; test error {hist[-1]['test_error']:.4f}", verbose)
        hist = trained[train_as]
        Xs, Ys = (X[:p.n_spectrum], Y[:p.n_spectrum]) if p.n_spectrum is not None else (X, Y)
        if spec["augment"]:
            Xs = augment(Xs, p.augment_seed)
        snapshots[run_name] = []
        for e in snaps:
            path = _snapshot_path(folder, run_name, e) if folder is not None else None
            if path is not None and path.exists():
                s = _read_snapshot(path, run_name)
                log(f"{run_name}: epoch {e}: loaded {path}", verbose)
            else:
                _load_trained(ckdir, e, model)
                model.to(dev)
                t0 = time.perf_counter()
                log(f"{run_name}: epoch {e}: D from {len(Ys)} per-sample gradients (route {p.route})", verbose)
                chunks = per_sample_gradient_chunks(model, loss_fn, Xs.to(dev), Ys.to(dev), progress=progress)
                sp = diffusion_spectrum(chunks, route=p.route, gemm_dtype=p.gemm_dtype)
                row = hist[e - 1] if len(hist) >= e else {}
                s = Snapshot(run=run_name, epoch=e, fraction=e / epochs, eigenvalues=sp.eigenvalues,
                             trace=sp.trace, n_samples=sp.n_samples, dim=sp.dim, route=sp.route,
                             seconds=time.perf_counter() - t0, train_error=row.get("sgd_error"),
                             test_error=row.get("test_error"))
                if path is not None:
                    _write_snapshot(path, s)
                log(f"{run_name}: epoch {e}: rank {s.stats['rank']} of {s.dim}, {s.seconds:.0f} s", verbose)
            snapshots[run_name].append(s)
            meta["seconds"][f"{run_name}/epoch_{e}"] = s.seconds
            save_meta()
        if p.rank_vs_n and min(p.rank_vs_n) > len(Y):
            meta["skipped"][f"{run_name}/rank_vs_n"] = (
                f"every subset size in rank_vs_n {list(p.rank_vs_n)} exceeds the {len(Y)} training examples; "
                f"pass sizes ≤ {len(Y)}")
            save_meta()
        elif p.rank_vs_n:
            cpath = folder / run_name / "rank_vs_n.npz" if folder is not None else None
            if cpath is not None and cpath.exists():
                curves[run_name] = _load_npz(cpath, f"rank-against-N curve of {run_name}")
            else:
                t0 = time.perf_counter()
                ns = [n for n in p.rank_vs_n if n <= len(Y)]
                idx = torch.from_numpy(np.random.default_rng(p.seed + 1).permutation(len(Y))[:max(ns)])
                Xn = augment(X[idx], p.augment_seed) if spec["augment"] else X[idx]
                _load_trained(ckdir, snaps[-1], model)
                model.to(dev)
                cur = rank_vs_n(per_sample_gradients(model, loss_fn, Xn.to(dev), Y[idx].to(dev)).cpu().numpy(), ns,
                                gemm_dtype=p.gemm_dtype)  # the N×d gradients are freed on return
                curves[run_name] = {"rank_paper" if k == "paper" else k if isinstance(k, str) else f"rank@{k:g}":
                                    np.asarray(v) for k, v in cur.items()}
                curves[run_name]["epoch"] = np.array(snaps[-1])
                meta["seconds"][f"{run_name}/rank_vs_n"] = time.perf_counter() - t0
                if cpath is not None:
                    files.save_npz(cpath, **curves[run_name])
                save_meta()
    meta["status"] = "complete"
    meta["seconds"]["total_this_call"] = time.perf_counter() - t_start
    save_meta()
    return SpectrumResult(protocol=p, snapshots=snapshots, rank_vs_n=curves, meta=meta, folder=folder)


def _load_trained(ckdir: Path, epoch: int, model) -> None:
    """Load the training checkpoint of ``epoch`` into ``model``; a missing or damaged one says what to delete."""
    from ..deep.train import load_checkpoint

    path, fix = ckdir / f"epoch_{epoch:04d}.pt", (f"delete it, the later epoch_NNNN.pt files and last.pt in {ckdir}, "
                                                  "then rerun with --resume: training restarts from the newest left")
    if not path.exists():
        raise files.DamagedFile(path, "is missing (the training checkpoint of this snapshot)", fix)
    load_checkpoint(path, model, fix=fix)


def load(out) -> SpectrumResult:
    """Load an artifact folder written by :func:`run` / the command line (all snapshots found so far).

    A damaged ``meta.json``, snapshot or curve raises :class:`vdlib.files.DamagedFile` (a ``ValueError``) naming
    the file and the fix. ``protocol.threads`` of a record that did not note it comes from its command
    (``--threads N``), else None.
    """
    folder = Path(out)
    if not (folder / "meta.json").is_file():
        raise FileNotFoundError(f"no spectrum artifact in {folder} (meta.json missing): create it with "
                                f"`python -m vdlib.experiments spectrum --profile full --out {folder}`")
    meta, p = _read_meta(folder)
    snapshots, curves = {}, {}
    for run_name in p.runs:
        found = sorted((folder / run_name).glob("snapshot_*.npz"))
        if found:
            snapshots[run_name] = [_read_snapshot(f, run_name) for f in found]
        c = folder / run_name / "rank_vs_n.npz"
        if c.exists():
            curves[run_name] = _load_npz(c, f"rank-against-N curve of {run_name}")
    return SpectrumResult(protocol=p, snapshots=snapshots, rank_vs_n=curves, meta=meta, folder=folder)


# --------------------------------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------------------------------
def _count(minimum: int, maximum: int = 2**63, what: str = "a count"):
    """An argparse ``type``: a whole number in [minimum, maximum]; anything else exits 2 saying what to pass."""
    def parse(text: str) -> int:
        if not re.fullmatch(r"[+-]?\d+", text.strip()) or not minimum <= int(text) <= maximum:
            bound = f"from {minimum} to {maximum}" if maximum < 2**63 else f"≥ {minimum}"
            raise argparse.ArgumentTypeError(f"got {text!r}: pass a whole number {bound} ({what})")
        return int(text)
    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", choices=("ci", "book", "full"), default=None,
                        help="sizes from vdlib.config.SIZES (default: $VDLIB_PROFILE, else book)")
    parser.add_argument("--runs", default=None,
                        help=f"comma-separated runs from {','.join(RUNS)} (default: small-fc,small-lenet)")
    parser.add_argument("--out", default=None,
                        help="artifact folder (default: artifacts/spectrum/<profile>; the chapters use "
                             "artifacts/spectrum/full when present, else the result committed with vdlib)")
    parser.add_argument("--work", default=None,
                        help="folder for training checkpoints (default: <out>_work)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out (finished pieces are kept)")
    parser.add_argument("--n-train", type=_count(2, what="at most the training split's size"),
                        help="training examples, 2 to the split's size (profile default; full: all)")
    parser.add_argument("--n-spectrum", type=_count(2, what="at most --n-train"),
                        help="examples forming D, 2 to --n-train (profile default; full: all)")
    parser.add_argument("--epochs", type=_count(1, what="epochs"), help="training epochs (default: the recipe's)")
    parser.add_argument("--route", choices=("auto", "dxd", "gram"), default=None)
    parser.add_argument("--gemm-dtype", choices=("float64", "float32"), default=None)
    parser.add_argument("--dataset", choices=DATASETS, default=None,
                        help="data of the MNIST nets (default auto: MNIST, else Fashion-MNIST, else the 10,000 "
                             "digits bundled with vdlib; the full profile uses those only when named: mnist-10k)")
    parser.add_argument("--data-root", default=None, help="folder with MNIST / CIFAR files (else $VDLIB_DATA)")
    parser.add_argument("--seed", type=_count(0, 2**32 - 1, "the seed"), help="seed (default 42, the paper's)")
    parser.add_argument("--threads", type=_count(1, 1024, "CPU threads"),
                        help="CPU threads for torch and BLAS (default 1; recorded, and a resume must use the run's). "
                             "Results are bitwise reproducible only for the same thread count, torch/BLAS build and "
                             "CPU, not across machines or thread counts")
    parser.add_argument("--device", choices=("cpu", "cuda", "auto"), default=None)
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None)


def main(args: argparse.Namespace) -> int:
    from ..config import profile_name
    from ..deep.data import DataError
    from ..deep.train import TrainingDiverged

    prof = profile_name(args.profile)
    runs = tuple(r.strip() for r in args.runs.split(",") if r.strip()) if args.runs else None
    try:
        p = protocol(prof, runs=runs, n_train=args.n_train, n_spectrum=args.n_spectrum, epochs=args.epochs,
                     route=args.route, gemm_dtype=args.gemm_dtype, dataset=args.dataset, seed=args.seed,
                     threads=args.threads)
    except (TypeError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else default_out(prof)
    work = Path(args.work) if args.work else None
    print(f"spectrum: profile {prof}, runs {','.join(p.runs)} -> {out}", flush=True)
    try:
        res = run(p, out=out, work=work, resume=args.resume, progress=args.progress, device=args.device,
                  data_root=args.data_root, verbose=True,
                  command="python -m vdlib.experiments " + " ".join(getattr(args, "argv", None) or ["spectrum"]))
    except (FileExistsError, ValueError, DataError, FolderInUse, TrainingDiverged) as err:  # DamagedFile: ValueError
        print(f"error: {err}", file=sys.stderr)
        return 1 if isinstance(err, TrainingDiverged) else 2
    print(res.summary())
    for run_name, info in res.meta["data"].items():
        if info.get("note"):
            print(f"note ({run_name}): {info['note']}")
    print(f"wrote {out} ({res.meta['seconds']['total_this_call']:.0f} s this call)")
    if res.meta["skipped"]:  # a requested piece is missing: not a success
        print(f"error: skipped: {', '.join(res.meta['skipped'])} (reasons above). Provide what they need (CIFAR: "
              "--data-root DIR or $VDLIB_DATA; rank-against-N: sizes ≤ the training examples), then rerun with "
              f"--resume --out {out}: the finished pieces are kept", file=sys.stderr)
    return 1 if res.meta["skipped"] else 0
