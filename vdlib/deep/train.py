"""Mini-batch SGD for one network on in-memory tensors, with atomic checkpoints and exact resume.

:func:`train` runs heavy-ball SGD (momentum, weight decay) with cross-entropy on data that sit
in memory as tensors: each step indexes the tensors directly, so there is no ``DataLoader``
and no per-example Python work. An *epoch* is ``ceil(N / b)`` steps (``N // b`` with
``drop_last=True``), sampled in one of two ways:

* ``replacement=False`` (the default, as in the paper's code): one random permutation per epoch,
  cut into consecutive batches; every example is used once per epoch.
* ``replacement=True``: every step draws ``b`` i.i.d. uniform indices (the setting of Definition 1
  and of the mini-batch covariance :math:`D/b`).

Everything random comes from one explicit :class:`torch.Generator` (``generator=`` or ``seed=``)
plus dropout's stream, which runs inside :func:`torch.random.fork_rng` so the caller's global RNG
is untouched. Both states are saved in every checkpoint; together with the model, the optimiser
(momentum buffers), the epoch counter and the history, a resumed run is bit-for-bit the run that
was never interrupted (on the CPU; CUDA kernels may be non-deterministic), provided it runs with the
same number of CPU threads: the rounding of torch's kernels depends on it, and training is chaotic, so
a different count gives a different run. The count (``torch.get_num_threads()``) is recorded in every
checkpoint's settings and a resume with another count is refused.

Checkpoints (``checkpoint_dir=``):

* ``epoch_0010.pt`` at each epoch listed in ``checkpoint_epochs`` (0 = the initial weights),
  kept for later analysis (e.g. the diffusion matrix at 20 %, 40 %, 100 % of training);
* ``last.pt``, the rolling resume point, rewritten every ``resume_every`` epochs.

Each file is written to a temporary file in the same folder and moved into place with
:func:`os.replace`, so a crash never leaves a half-written checkpoint; files are read with
:func:`vdlib.files.load_torch` (``weights_only=True``): a truncated, zeroed or foreign file raises
:class:`vdlib.files.DamagedFile` naming the file and the fix.

A non-finite loss stops training with :class:`TrainingDiverged`; the checkpoints on disk are the
last good ones and the model is reloaded from the newest of them.

The paper's training recipes (§IV of the paper and the authors' ``code/train.py``) are in :data:`RECIPES`; ``train(model, X, y,
**recipe("small-lenet"))`` uses one.

Used in: Part IV-a (networks whose gradient-noise spectrum is measured). The long tiny-fc runs of
Part IV-b use a separate batched engine; this module trains one model at a time.
"""
from __future__ import annotations

import bisect
import math
import numbers
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from .. import checks, files
from ..config import torch_threads
from ..progress import progress as progress_bar

__all__ = [
    "TrainResult",
    "TrainingDiverged",
    "RECIPES",
    "recipe",
    "make_schedule",
    "train",
    "evaluate",
    "save_checkpoint",
    "load_checkpoint",
    "list_checkpoints",
    "latest_checkpoint",
    "CHECKPOINT_FORMAT",
]

CHECKPOINT_FORMAT = "vdlib.deep.train/1"
_EPOCH_FILE = re.compile(r"^epoch_(\d+)\.pt$")
_LAST = "last.pt"

# --------------------------------------------------------------------------------------------------
# the paper's recipes
# --------------------------------------------------------------------------------------------------
#: Training recipes per network: keyword arguments for :func:`train`. Momentum 0.9, batch 128 and
#: the weight decay are from the paper / its code (``code/train.py``). The paper does not state the
#: learning-rate schedule ("appropriate annealing"; the code's default lr is 0.1 with a JSON step
#: schedule on the command line): the step schedules below are our choice, as are
#: the epoch counts of the MNIST networks. small-allcnn: 50 epochs, checkpoints every 10 (the paper
#: uses epochs 10, 20, 50 for Fig. 2). tiny-fc: constant lr, no decay (the Fig. 3 code at e05ed9c);
#: its 10^4–10^5-epoch runs belong to the batched engine of Part IV-b.
RECIPES: dict[str, dict[str, Any]] = {
    "small-lenet": dict(
        epochs=20, lr=[(0, 0.1), (10, 0.01), (15, 0.001)], momentum=0.9, weight_decay=0.0,
        batch_size=128, checkpoint_epochs=(0, 4, 8, 12, 16, 20),
    ),
    "small-fc": dict(
        epochs=20, lr=[(0, 0.1), (10, 0.01), (15, 0.001)], momentum=0.9, weight_decay=0.0,
        batch_size=128, checkpoint_epochs=(0, 4, 8, 12, 16, 20),
    ),
    "tiny-fc": dict(
        epochs=1000, lr=0.1, momentum=0.9, weight_decay=0.0, batch_size=128,
        checkpoint_epochs=(0, 1000),
    ),
    "small-allcnn": dict(
        epochs=50, lr=[(0, 0.1), (25, 0.01), (40, 0.001)], momentum=0.9, weight_decay=1e-4,
        batch_size=128, checkpoint_epochs=(0, 10, 20, 30, 40, 50),
    ),
}


def recipe(name: str, **overrides) -> dict[str, Any]:
    """A copy of ``RECIPES[name]`` with ``overrides`` applied, e.g. ``recipe("small-fc", epochs=2)``."""
    from .models import _spec

    key = _spec(name).name
    out = dict(RECIPES[key])
    out.update(overrides)
    return out


# --------------------------------------------------------------------------------------------------
# learning-rate schedules
# --------------------------------------------------------------------------------------------------
def make_schedule(lr) -> Callable[[int], float]:
    """Turn ``lr`` into a function ``epoch -> learning rate`` (epochs counted from 0).

    Parameters
    ----------
    lr : float, list of (epoch, lr) pairs, or callable
        * a positive number: constant;
        * steps ``[(0, 0.1), (10, 0.01)]``: from epoch ``e`` on, use the paired rate (the first
          step must start at epoch 0; epochs strictly increasing);
        * a callable ``f(epoch) -> lr``, checked each time it is called.

    Every rate must be a positive finite number.
    """
    if callable(lr):
        def checked(epoch: int, _f=lr) -> float:
            value = _f(epoch)
            try:
                return checks.learning_rate(value)
            except (TypeError, ValueError) as err:
                raise ValueError(f"the learning-rate schedule returned {value!r} at epoch {epoch}: {err}") from None

        return checked
    if isinstance(lr, numbers.Real) and not isinstance(lr, bool):
        value = checks.learning_rate(lr)
        return lambda epoch: value
    if isinstance(lr, (list, tuple)):
        if not lr:
            raise ValueError("the learning-rate schedule is empty: give e.g. lr=[(0, 0.1), (10, 0.01)]")
        starts, rates = [], []
        for item in lr:
            if not (isinstance(item, (list, tuple)) and len(item) == 2):
                raise ValueError(f"learning-rate steps are (epoch, lr) pairs, got {item!r}: write lr=[(0, 0.1), (10, 0.01)]")
            e, r = item
            e = checks.integer(e, "schedule epoch", minimum=0)
            if starts and e <= starts[-1]:
                raise ValueError(f"learning-rate step epochs must increase strictly, got {[s for s, _ in lr]}")
            starts.append(e)
            rates.append(checks.learning_rate(r))
        if starts[0] != 0:
            raise ValueError(f"the first learning-rate step must start at epoch 0, got {starts[0]}: prepend (0, lr)")

        def step(epoch: int) -> float:
            return rates[bisect.bisect_right(starts, epoch) - 1]

        return step
    raise TypeError(f"lr must be a number, a list of (epoch, lr) steps or a callable, got {type(lr).__name__}")


# --------------------------------------------------------------------------------------------------
# results and errors
# --------------------------------------------------------------------------------------------------
class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite. ``.epoch``, ``.step``, ``.lr``, ``.checkpoint``, ``.history``."""

    def __init__(self, message: str, *, epoch: int, step: int, lr: float, checkpoint, history):
        super().__init__(message)
        self.epoch, self.step, self.lr, self.checkpoint, self.history = epoch, step, lr, checkpoint, history


@dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes
    ----------
    model : nn.Module
        The trained model (the same object that was passed in), in training mode.
    history : list of dict
        One row per completed epoch: ``epoch`` (1-based count of completed epochs), ``lr``,
        ``sgd_loss`` / ``sgd_error`` (means over the epoch's mini-batches, training mode, before
        each step), ``{name}_loss`` / ``{name}_error`` for each set in ``eval_data`` (eval mode, after
        the epoch; cross-entropy without the weight-decay term), ``seconds`` (wall time of the epoch, including evaluation).
    epochs_done : int
        Completed epochs (equals ``epochs`` unless the run stopped early).
    checkpoints : dict[int, Path]
        The kept per-epoch checkpoints in ``checkpoint_dir`` (``{epoch: path}``).
    resumed_from : int or None
        The epoch the run resumed from, or None for a fresh start.
    generator : torch.Generator
        The sampling generator, in its state after the last epoch.
    """

    model: nn.Module
    history: list[dict[str, Any]]
    epochs_done: int
    checkpoints: dict[int, Path] = field(default_factory=dict)
    resumed_from: int | None = None
    generator: torch.Generator | None = None

    def column(self, key: str) -> list:
        """One history column, e.g. ``result.column("test_error")``."""
        if self.history and key not in self.history[-1]:
            raise KeyError(f"no history column {key!r}; columns: {', '.join(self.history[-1])}")
        return [row[key] for row in self.history]


# --------------------------------------------------------------------------------------------------
# evaluation
# --------------------------------------------------------------------------------------------------
def _model_device(model: nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


@torch.no_grad()
def evaluate(model: nn.Module, X: torch.Tensor, y: torch.Tensor, *, batch_size: int = 1024,
             weight_decay: float = 0.0) -> dict[str, float]:
    """Mean cross-entropy loss and error rate of ``model`` on ``(X, y)``, in eval mode, without gradients.

    Parameters
    ----------
    model : nn.Module
        Evaluated in ``eval()`` mode (BN running statistics, no dropout); its previous mode is restored.
    X, y : torch.Tensor
        Inputs ``(n, *input_shape)`` (float) and integer labels ``(n,)``; on any device (batches are
        moved to the model's device).
    batch_size : int
        Examples per forward pass (memory only; the result does not depend on it beyond rounding).
    weight_decay : float
        If positive, ``loss`` includes ``weight_decay / 2 * ||x||^2`` (the paper's objective);
        ``data_loss`` never does.

    Returns
    -------
    dict
        ``loss``, ``data_loss``, ``error`` (fraction misclassified), ``n``.
    """
    X, y = _check_xy(X, y, "X", "y")
    batch_size = checks.integer(batch_size, "batch_size")
    from .models import check_input

    check_input(model, X)
    _check_labels(model, y, "y")
    device = _model_device(model)
    was_training = model.training
    model.eval()
    try:
        loss_sum = torch.zeros((), dtype=torch.float64, device=device)
        wrong = torch.zeros((), dtype=torch.int64, device=device)
        for i in range(0, X.shape[0], batch_size):
            xb = X[i:i + batch_size].to(device, non_blocking=True)
            yb = y[i:i + batch_size].to(device, non_blocking=True)
            out = model(xb)
            loss_sum += F.cross_entropy(out, yb, reduction="sum").double()
            wrong += (out.argmax(1) != yb).sum()
    finally:
        model.train(was_training)
    n = X.shape[0]
    data_loss = float(loss_sum) / n
    reg = 0.0
    if weight_decay:
        reg = 0.5 * float(weight_decay) * float(sum((p.detach().double() ** 2).sum() for p in model.parameters()))
    return {"loss": data_loss + reg, "data_loss": data_loss, "error": int(wrong) / n, "n": n}


# --------------------------------------------------------------------------------------------------
# checkpoints
# --------------------------------------------------------------------------------------------------
def save_checkpoint(path, payload: Mapping[str, Any]) -> Path:
    """Write ``payload`` with :func:`torch.save` atomically: a temporary file in the same folder, then ``os.replace``."""
    return files.save_torch(path, dict(payload))


_CHECKPOINT_KEYS = ("format", "epoch", "model", "optimizer", "generator", "torch_rng", "history", "settings")


def _damaged_checkpoint_fix(path: Path) -> str:
    """The default ``fix`` of a damaged checkpoint: what to delete so that a resume restarts before it."""
    later = "" if path.name == _LAST else ", the later epoch_NNNN.pt files and last.pt"
    return (f"delete it{later} and resume the training in {path.parent} (resume=True; --resume on the command "
            "line): it restarts from the newest checkpoint left")


def load_checkpoint(path, model: nn.Module | None = None, map_location="cpu", *, fix: str | None = None,
                    keys=None) -> dict[str, Any]:
    """Load a checkpoint written by :func:`train` (``weights_only=True``); optionally load its weights into ``model``.

    Returns the checkpoint dict: ``format``, ``epoch``, ``model`` (state dict), ``optimizer``,
    ``generator``, ``torch_rng``, ``history``, ``settings``. A missing file raises ``FileNotFoundError``;
    a truncated, zeroed, foreign or incomplete one :class:`vdlib.files.DamagedFile` (a ``ValueError``) whose
    message names the file and ``fix`` (default: :func:`_damaged_checkpoint_fix`). ``keys``: the entries it must
    hold (default: ``epoch``, and ``model`` when a model is given; a resume needs them all).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}; list a run's checkpoints with vdlib.deep.train.list_checkpoints(folder)")
    fix = _damaged_checkpoint_fix(path) if fix is None else fix
    what = "vdlib.deep.train checkpoint"
    ckpt = files.load_torch(path, what=what, fix=fix, map_location=map_location)
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        got = ckpt.get("format") if isinstance(ckpt, dict) else type(ckpt).__name__
        raise files.DamagedFile(path, f"is not a {what} (format {got!r}, expected {CHECKPOINT_FORMAT!r})", fix)
    if missing := [k for k in keys or ("epoch", *("model",) * (model is not None)) if k not in ckpt]:
        raise files.DamagedFile(path, f"lacks the entries {', '.join(map(repr, missing))} of a {what}", fix)
    if model is not None:
        try:
            model.load_state_dict(ckpt["model"])
        except RuntimeError:  # torch lists every mismatched tensor: too long, and the cause is one sentence
            name = getattr(model, "model_name", type(model).__name__)
            raise ValueError(
                f"{path} holds the weights of another network ({ckpt.get('settings', {}).get('model', '?')} with "
                f"{ckpt.get('settings', {}).get('n_params', '?')} parameters), not of this {name} with "
                f"{sum(q.numel() for q in model.parameters())}: load it into the network it was trained with, "
                "or train this one in another checkpoint_dir") from None
    return ckpt


def list_checkpoints(folder) -> dict[int, Path]:
    """The kept per-epoch checkpoints ``{epoch: path}`` in ``folder``, sorted by epoch (``last.pt`` excluded)."""
    folder = Path(folder)
    if not folder.is_dir():
        return {}
    found = {}
    for p in folder.iterdir():
        m = _EPOCH_FILE.match(p.name)
        if m:
            found[int(m.group(1))] = p
    return dict(sorted(found.items()))


def latest_checkpoint(folder) -> Path | None:
    """The checkpoint with the most completed epochs in ``folder`` (``last.pt`` or ``epoch_*.pt``), or None."""
    folder = Path(folder)
    candidates = list(list_checkpoints(folder).items())
    last = folder / _LAST
    if last.is_file():
        candidates.append((int(load_checkpoint(last)["epoch"]), last))
    if not candidates:
        return None
    # prefer last.pt on ties: it is written after the per-epoch file of the same epoch
    return max(candidates, key=lambda t: (t[0], t[1].name == _LAST))[1]


# --------------------------------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------------------------------
def _check_xy(X, y, xname: str, yname: str):
    if not isinstance(X, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise TypeError(
            f"{xname} and {yname} must be torch tensors, got {type(X).__name__} and {type(y).__name__}; "
            f"convert with torch.as_tensor({xname}, dtype=torch.float32), torch.as_tensor({yname}, dtype=torch.long)"
        )
    if y.ndim != 1:
        raise ValueError(f"{yname} must be a 1-D tensor of class indices, got shape {tuple(y.shape)}")
    if X.ndim < 2:
        raise ValueError(f"{xname} must be a batch (n, ...) of examples, got shape {tuple(X.shape)}")
    if X.shape[0] != y.shape[0]:
        raise ValueError(
            f"{xname} and {yname} have different lengths: {xname} has {X.shape[0]} examples, "
            f"{yname} has {y.shape[0]} labels; pass one label per example"
        )
    if X.shape[0] == 0:
        raise ValueError(f"{xname} is empty: pass at least one example")
    if not X.is_floating_point():
        raise TypeError(
            f"{xname} has dtype {X.dtype}; the networks take floats: convert and scale, e.g. {xname}.float() / 255"
        )
    if not bool(torch.isfinite(X).all()):
        bad = ~torch.isfinite(X.reshape(X.shape[0], -1))
        rows = torch.nonzero(bad.any(1)).reshape(-1)
        nan = int(torch.isnan(X).sum())
        raise ValueError(
            f"{xname} holds {int(bad.sum()):,} non-finite values ({nan:,} NaN, {int(bad.sum()) - nan:,} ±inf) in "
            f"{len(rows):,} of its {X.shape[0]:,} examples (first: example {int(rows[0])}): check the data (how it was "
            "read, scaled or normalised); the networks cannot train on NaN or inf inputs"
        )
    if y.dtype != torch.long:
        if y.is_floating_point() or y.dtype == torch.bool:
            raise TypeError(f"{yname} must hold integer class indices (torch.long), got {y.dtype}; use {yname}.long()")
        y = y.long()
    return X, y


def _check_labels(model: nn.Module, y: torch.Tensor, name: str) -> None:
    k = getattr(model, "num_classes", None)
    lo, hi = int(y.min()), int(y.max())
    if lo < 0:
        neg = torch.nonzero(y < 0).reshape(-1)
        raise ValueError(
            f"{name} holds {len(neg):,} negative labels (smallest {lo}, first at index {int(neg[0])}): labels are class "
            f"indices 0..K-1{f' (0..{k - 1} for this model)' if k else ''}; relabel the data, e.g. drop or map the "
            "examples marked negative"
        )
    if k is not None and hi >= k:
        raise ValueError(
            f"{name} holds labels in [{lo}, {hi}], but the model has {k} classes (labels 0..{k - 1 if k else '?'}): "
            f"build the model with num_classes={hi + 1} or relabel the data"
        )


def _resolve_device(device) -> torch.device:
    from ..config import select_device

    if device is None or (isinstance(device, str) and device in ("cpu", "cuda", "auto")):
        return torch.device(select_device(device))
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device {device!r}: use 'cpu', 'cuda', 'cuda:1', 'auto' or a torch.device") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        select_device("cuda")  # raises the explanatory error
    return dev


def _fingerprint(X: torch.Tensor) -> float:
    """A cheap data fingerprint (sum over ~1000 examples), to refuse resuming on different data."""
    step = max(1, X.shape[0] // 1000)
    return float(X[::step].double().sum())


def _has_batchnorm(model: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


# --------------------------------------------------------------------------------------------------
# the trainer
# --------------------------------------------------------------------------------------------------
def train(
    model: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    epochs: int,
    lr=0.1,
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    batch_size: int = 128,
    replacement: bool = False,
    drop_last: bool = False,
    seed: int | None = 0,
    generator: torch.Generator | None = None,
    device=None,
    eval_data: Mapping[str, tuple[torch.Tensor, torch.Tensor]] | None = None,
    eval_every: int = 1,
    eval_batch_size: int = 1024,
    checkpoint_dir=None,
    checkpoint_epochs: Iterable[int] = (),
    resume_every: int = 1,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = False,
    on_epoch_end: Callable[[int, dict], None] | None = None,
    num_threads: int | None = None,
    channels_last: bool | None = None,
) -> TrainResult:
    """Train ``model`` with mini-batch SGD (momentum, weight decay) and cross-entropy on ``(X, y)``.

    Parameters
    ----------
    model : nn.Module
        Trained in place; moved to ``device``. Models from :func:`vdlib.deep.models.build` have their
        input shape and class count checked against ``X`` and ``y``.
    X, y : torch.Tensor
        All training inputs ``(N, *input_shape)`` (float) and labels ``(N,)`` (long). They are moved
        to ``device`` once; every step indexes them there.
    epochs : int
        Total number of epochs to have completed when the call returns (a resumed run continues
        up to it, so ``epochs`` may grow between calls).
    lr : float, list of (epoch, lr), or callable
        Learning rate, constant, as steps, or ``f(epoch)``; see :func:`make_schedule`.
    momentum, weight_decay : float
        Heavy-ball momentum in ``[0, 1)`` (:class:`torch.optim.SGD` convention) and the L2
        coefficient (the loss gains ``weight_decay / 2 * ||x||^2``).
    batch_size : int
        Mini-batch size ``b``. Without replacement it must not exceed ``N``.
    replacement : bool
        True: i.i.d. uniform indices each step. False: a fresh random permutation each epoch.
    drop_last : bool
        Without replacement, drop the final partial batch (epochs of ``N // b`` steps).
    seed : int, optional
        Seeds a new sampling generator when ``generator`` is None.
    generator : torch.Generator, optional
        CPU generator for the sampling indices (and the dropout seed); advanced in place.
    device : str or torch.device, optional
        ``"cpu"``, ``"cuda"``, ``"auto"`` or a torch device; default :func:`vdlib.config.select_device`.
    eval_data : dict name -> (X, y), optional
        Sets evaluated after every ``eval_every``-th epoch with :func:`evaluate` (e.g.
        ``{"train": (X, y), "test": (Xt, yt)}``) -> history columns ``train_loss``, ``test_error``, ...
    checkpoint_dir : path, optional
        Where checkpoints go. Without it nothing is written and ``resume`` has nothing to resume.
    checkpoint_epochs : iterable of int
        Epochs whose checkpoint is kept as ``epoch_NNNN.pt`` (0: the initial weights). Epochs beyond
        ``epochs`` are written by a later call that resumes the run further.
    resume_every : int
        Rewrite the resume point ``last.pt`` every this many epochs (and at the end).
    resume : bool
        Continue from the newest checkpoint in ``checkpoint_dir`` if there is one (else start
        fresh). The settings (batch size, sampling, momentum, weight decay, data) must match.
    overwrite : bool
        Start fresh even if ``checkpoint_dir`` holds checkpoints (they are replaced as the run
        reaches them). Without ``resume`` or ``overwrite``, existing checkpoints are an error.
    progress : bool
        Show a progress bar over the epochs (:func:`vdlib.progress.progress`); the caller decides, e.g.
        ``progress=cfg.show_progress`` (on under the ``full`` profile). Default: no bar.
    on_epoch_end : callable, optional
        ``f(epoch, row)`` after each epoch's checkpoint is written.
    num_threads : int, optional
        CPU threads for torch during this call (restored afterwards). Small networks train
        fastest on 1 thread, especially on a busy machine; default: leave torch's setting. The
        count in effect is recorded in the checkpoints; ``resume`` refuses another one while epochs
        remain to be trained.
    channels_last : bool, optional
        Train convolutional networks in the channels-last memory layout (about 1.3× faster on
        the CPU for small-lenet and small-allcnn). Default: on for image batches ``(N, C, H, W)``
        and models with a ``Conv2d``. The model is returned in the default layout either way.

    Returns
    -------
    TrainResult

    Raises
    ------
    TrainingDiverged
        The loss became NaN/inf; the model is reloaded from the newest checkpoint (if any).
    ValueError, TypeError
        Bad input, with the fix in the message; a resume with other settings or another thread count.
    vdlib.files.DamagedFile
        A checkpoint in ``checkpoint_dir`` is truncated or damaged (a ``ValueError``; the message says what to delete).
    """
    if num_threads is not None:
        num_threads = checks.integer(num_threads, "num_threads")
    with torch_threads(num_threads):
        return _train(**locals())


def _train(*, model, X, y, epochs, lr, momentum, weight_decay, batch_size, replacement, drop_last, seed,
           generator, device, eval_data, eval_every, eval_batch_size, checkpoint_dir, checkpoint_epochs,
           resume_every, resume, overwrite, progress, on_epoch_end, channels_last,
           **_ignored) -> TrainResult:
    # ---- validate -------------------------------------------------------------------------------
    from .models import check_input

    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}; build one with vdlib.deep.models.build")
    X, y = _check_xy(X, y, "X", "y")
    N = X.shape[0]
    check_input(model, X)
    _check_labels(model, y, "y")
    epochs = checks.integer(epochs, "epochs", minimum=0)
    schedule = make_schedule(lr)
    if isinstance(lr, (numbers.Real, list, tuple)):
        schedule(0)  # already validated; callables are checked epoch by epoch
    if isinstance(momentum, bool) or not isinstance(momentum, numbers.Real) or not 0.0 <= momentum < 1.0:
        raise ValueError(f"momentum must be in [0, 1), got {momentum!r}; the paper uses momentum=0.9")
    if isinstance(weight_decay, bool) or not isinstance(weight_decay, numbers.Real) or not (
            math.isfinite(weight_decay) and weight_decay >= 0):
        raise ValueError(f"weight_decay must be a finite number >= 0, got {weight_decay!r}")
    b = checks.batch_size(batch_size, N, replacement=bool(replacement))
    steps = N // b if (drop_last and not replacement) else math.ceil(N / b)
    if steps == 0:
        raise ValueError(f"drop_last=True with batch size {b} > N={N} leaves no step: use a smaller batch size")
    last_b = N - (steps - 1) * b if not replacement else b
    if _has_batchnorm(model) and last_b == 1:
        raise ValueError(
            f"N={N} and batch size {b} leave a final batch of 1 example, which BatchNorm cannot train on: "
            "use drop_last=True or another batch size"
        )
    eval_every = checks.integer(eval_every, "eval_every", minimum=1)
    resume_every = checks.integer(resume_every, "resume_every", minimum=1)
    ck_epochs = sorted({checks.integer(e, "checkpoint epoch", minimum=0) for e in checkpoint_epochs})
    eval_sets = {}
    for name, pair in (eval_data or {}).items():
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
            raise TypeError(f"eval_data[{name!r}] must be a pair (X, y)")
        ex, ey = _check_xy(pair[0], pair[1], f"eval_data[{name!r}][0]", f"eval_data[{name!r}][1]")
        check_input(model, ex, f"eval_data[{name!r}] inputs")
        _check_labels(model, ey, f"eval_data[{name!r}] labels")
        eval_sets[str(name)] = (ex, ey)
    if (resume or ck_epochs) and checkpoint_dir is None:
        raise ValueError("resume=True and checkpoint_epochs need checkpoint_dir=<folder>")
    if generator is None:
        if seed is None:
            raise ValueError("pass seed=<int> or generator=torch.Generator(): the run's randomness must be explicit")
        generator = torch.Generator().manual_seed(checks.integer(seed, "seed", minimum=0))
    elif not isinstance(generator, torch.Generator) or generator.device.type != "cpu":
        raise TypeError("generator must be a CPU torch.Generator, e.g. torch.Generator().manual_seed(0)")

    dev = _resolve_device(device)
    if channels_last is None:
        channels_last = X.ndim == 4 and any(isinstance(m, nn.Conv2d) for m in model.modules())
    layout = torch.channels_last if channels_last else torch.contiguous_format
    if channels_last and X.ndim != 4:
        raise ValueError(f"channels_last=True needs image batches (N, C, H, W), got X of shape {tuple(X.shape)}")
    model.to(dev)
    Xd, yd = X.to(dev), y.to(dev)
    if channels_last:
        model.to(memory_format=layout)
        Xd = Xd.contiguous(memory_format=layout)
    optimizer = torch.optim.SGD(model.parameters(), lr=schedule(0), momentum=float(momentum),
                                weight_decay=float(weight_decay), foreach=True)
    settings = {
        "N": int(N), "batch_size": int(b), "replacement": bool(replacement), "drop_last": bool(drop_last),
        "momentum": float(momentum), "weight_decay": float(weight_decay),
        "n_params": int(sum(p.numel() for p in model.parameters())),
        "model": str(getattr(model, "model_name", type(model).__name__)),
        "data_fingerprint": _fingerprint(X),
        "num_threads": int(torch.get_num_threads()),  # rounding depends on it: a resume must use the same
    }

    # ---- fresh start or resume ------------------------------------------------------------------
    folder = Path(checkpoint_dir) if checkpoint_dir is not None else None
    start, history, resumed_from, ckpt = 0, [], None, None
    if folder is not None:
        existing = latest_checkpoint(folder)
        if existing is not None and resume:
            ckpt = load_checkpoint(existing, map_location="cpu", keys=_CHECKPOINT_KEYS)
            _check_settings(ckpt["settings"], settings, existing, training_left=ckpt["epoch"] < epochs)
            if ckpt["epoch"] > epochs:
                raise ValueError(f"{existing} already holds {ckpt['epoch']} epochs, more than epochs={epochs}: "
                                 f"pass epochs >= {ckpt['epoch']} or load that epoch's checkpoint instead")
            model.load_state_dict(ckpt["model"])
            if ckpt["optimizer"] is not None:
                optimizer.load_state_dict(ckpt["optimizer"])
            generator.set_state(ckpt["generator"])
            start = resumed_from = int(ckpt["epoch"])
            history = [dict(r) for r in ckpt["history"]]
        elif existing is not None and not overwrite:
            raise FileExistsError(
                f"{folder} already holds checkpoints (newest: {existing.name}): pass resume=True to continue "
                "that run, overwrite=True to start over, or choose an empty checkpoint_dir"
            )
        elif existing is not None:  # overwrite: remove the old run's files so no stale one is resumed later
            for p in [*list_checkpoints(folder).values(), folder / _LAST]:
                p.unlink(missing_ok=True)

    cuda_devices = [dev.index if dev.index is not None else torch.cuda.current_device()] if dev.type == "cuda" else []
    kept: dict[int, Path] = {e: p for e, p in list_checkpoints(folder).items() if e <= start} if (folder and resume) else {}
    with torch.random.fork_rng(devices=cuda_devices):
        if ckpt is None:
            # dropout's stream: seeded from the explicit generator, so seed= fixes everything
            torch.manual_seed(int(torch.randint(0, 2**62, (1,), generator=generator)))
        else:
            torch.set_rng_state(ckpt["torch_rng"])
            if cuda_devices and ckpt.get("cuda_rng") is not None:
                torch.cuda.set_rng_state(ckpt["cuda_rng"], dev)

        def snapshot(epoch: int) -> dict[str, Any]:
            return {
                "format": CHECKPOINT_FORMAT,
                "epoch": int(epoch),
                "model": {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()},
                "optimizer": _to_cpu(optimizer.state_dict()),
                "generator": generator.get_state(),
                "torch_rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state(dev) if cuda_devices else None,
                "history": [dict(r) for r in history],
                "settings": dict(settings),
            }

        def write(epoch: int, final: bool) -> None:
            if folder is None:
                return
            payload = None
            if epoch in ck_epochs:
                payload = snapshot(epoch)
                kept[epoch] = save_checkpoint(folder / f"epoch_{epoch:04d}.pt", payload)
            if epoch > 0 and (epoch % resume_every == 0 or final):
                save_checkpoint(folder / _LAST, payload or snapshot(epoch))

        if start == 0:
            write(0, final=epochs == 0)

        bar = None
        if progress:
            bar = progress_bar(range(start, epochs), enabled=True, initial=start, total=epochs,
                               desc=settings["model"], unit="epoch")
        model.train()
        try:
            for epoch in (bar if bar is not None else range(start, epochs)):
                t0 = time.perf_counter()
                rate = schedule(epoch)
                for group in optimizer.param_groups:
                    group["lr"] = rate
                if replacement:
                    order = torch.randint(0, N, (steps, b), generator=generator).to(dev, non_blocking=True)
                else:
                    order = torch.randperm(N, generator=generator).to(dev, non_blocking=True)
                loss_sum = torch.zeros((), dtype=torch.float64, device=dev)
                wrong = torch.zeros((), dtype=torch.int64, device=dev)
                seen = 0
                for s in range(steps):
                    idx = order[s] if replacement else order[s * b:(s + 1) * b]
                    xb = Xd[idx] if channels_last else Xd.index_select(0, idx)  # [idx] keeps the layout
                    yb = yd.index_select(0, idx)
                    out = model(xb)
                    loss = F.cross_entropy(out, yb)
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    nb = idx.shape[0]
                    seen += nb
                    loss_sum += loss.detach().double() * nb
                    wrong += (out.detach().argmax(1) != yb).sum()
                    if (s + 1) % 64 == 0 or s == steps - 1:
                        if not bool(torch.isfinite(loss_sum)):
                            _diverged(model, folder, epoch, s, rate, history)
                row = {"epoch": epoch + 1, "lr": float(rate), "sgd_loss": float(loss_sum) / seen,
                       "sgd_error": int(wrong) / seen}
                if eval_sets and ((epoch + 1) % eval_every == 0 or epoch + 1 == epochs):
                    for name, (ex, ey) in eval_sets.items():
                        r = evaluate(model, ex, ey, batch_size=eval_batch_size)
                        row[f"{name}_loss"] = r["data_loss"]
                        row[f"{name}_error"] = r["error"]
                model.train()
                row["seconds"] = time.perf_counter() - t0
                history.append(row)
                write(epoch + 1, final=epoch + 1 == epochs)
                if bar is not None:
                    post = {"loss": f"{row['sgd_loss']:.4f}", "acc": f"{1 - row['sgd_error']:.2%}"}
                    for name in eval_sets:
                        if f"{name}_loss" in row:
                            post[f"{name}_loss"] = f"{row[f'{name}_loss']:.4f}"
                            post[f"{name}_acc"] = f"{1 - row[f'{name}_error']:.2%}"
                    bar.set_postfix(post)
                if on_epoch_end is not None:
                    on_epoch_end(epoch + 1, row)
        finally:
            if bar is not None:
                bar.close()
            if channels_last:
                model.to(memory_format=torch.contiguous_format)
    done = history[-1]["epoch"] if history else start
    return TrainResult(model=model, history=history, epochs_done=done, checkpoints=dict(sorted(kept.items())),
                       resumed_from=resumed_from, generator=generator)


def _to_cpu(obj):
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_to_cpu(v) for v in obj]
    return obj


def _check_settings(saved: Mapping[str, Any], now: Mapping[str, Any], path: Path, training_left: bool = True) -> None:
    old_threads = saved.get("num_threads")  # absent from checkpoints written before it was recorded: unknown
    # a finished run trains no further: reading it back with another count mixes nothing
    if training_left and old_threads is not None and old_threads != now["num_threads"]:
        raise ValueError(
            f"cannot resume from {path}: it was trained with {old_threads} CPU thread(s) and this call uses "
            f"{now['num_threads']}; results depend on the thread count (rounding differs, and training amplifies it), "
            f"so a resumed run would be a hybrid of two runs. Pass num_threads={old_threads} (--threads {old_threads} "
            "on the command line), or overwrite=True / another checkpoint_dir for a new run")
    diffs = []
    for key, value in now.items():
        old = saved.get(key)
        if key == "num_threads":
            continue
        if key == "data_fingerprint":
            if old is None or not math.isclose(old, value, rel_tol=1e-9, abs_tol=1e-6):
                diffs.append("the training data differ")
        elif old != value:
            diffs.append(f"{key}: checkpoint {old!r}, this call {value!r}")
    if diffs:
        raise ValueError(
            f"cannot resume from {path}: it was written with other settings ({'; '.join(diffs)}). "
            "Pass the same settings, or overwrite=True / another checkpoint_dir for a new run"
        )


def _diverged(model, folder, epoch, step, rate, history):
    good = latest_checkpoint(folder) if folder is not None else None
    if good is not None:
        ckpt = load_checkpoint(good, model)
        where = f"The last good checkpoint {good} (epoch {ckpt['epoch']}) is kept and the model was reloaded from it."
    else:
        where = "No checkpoint was written (pass checkpoint_dir= to keep one); the model's weights are not finite."
    raise TrainingDiverged(
        f"training diverged: the loss became NaN or infinite in epoch {epoch + 1} (by step {step + 1}) at "
        f"lr={rate:g}. {where} Lower the learning rate (e.g. lr={rate / 10:g}) and resume or restart.",
        epoch=epoch + 1, step=step + 1, lr=rate, checkpoint=good, history=[dict(r) for r in history],
    )
