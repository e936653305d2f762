"""SVAG (Li, Malladi & Arora 2021) on a small network: the scaling test of the SDE approximation.

SVAG with factor l takes steps η/l, l times as many, with the gradient w₁g₁ + w₂g₂ of two
independent mini-batches, (w₁, w₂) = ½(1 ± √(2l − 1)) (:func:`vdlib.theory.discrete_sgd.svag_weights`):
the same drift and noise covariance per unit of SDE time η·steps as SGD (l = 1), converging to the
SDE as l → ∞. A statistic (here the full-batch training loss and error) computed at a fixed SDE
time for l = 1, 2, 4, ... tells whether SGD is already at the limit.

Plain SGD (no momentum, no weight decay), batches drawn with replacement. The networks have
BatchNorm; every batch gradient uses its own batch statistics, and the statistics are evaluated
with BatchNorm on the full training set (batch statistics, not running averages, which would depend
on the number of steps and so on l).

Used in: 14_discrete_time_sgd.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .. import checks
from ..theory.discrete_sgd import steps_for, svag_weights
from . import data as vdata
from . import models

__all__ = ["tiny_task", "SVAGRun", "svag_run"]


def tiny_task(dataset: str = "auto", classes=(0, 1, 2, 3), per_class: int = 256, seed: int = 0, root=None):
    """``(X, y, info)``: a 7×7 class subset of the best MNIST-like data here (X (N, 49) float32 in [0, 1]).

    ``dataset="auto"`` uses :func:`vdlib.deep.data.mnist_choice` (full MNIST, else Fashion-MNIST, else
    the bundled MNIST-10k); ``info`` says which, from where and why.

    Used in: 14_discrete_time_sgd
    """
    name, why = vdata.mnist_choice(dataset, root)
    ds = vdata.load(name, root)
    x, y = ds.split("train")
    xs, ys = vdata.class_subset(x, y, classes, per_class=per_class, seed=seed)
    x7 = vdata.downsample(xs, 7, method="bilinear").reshape(len(ys), 49) / np.float32(255.0)
    X = torch.from_numpy(np.ascontiguousarray(x7, dtype=np.float32))
    Y = torch.from_numpy(np.asarray(ys, dtype=np.int64))
    return X, Y, {"dataset": name, "source": ds.source, "why": why, "N": int(len(Y)), "classes": list(classes)}


@dataclass
class SVAGRun:
    """One SVAG run: the statistics at the end, and the settings that produced them."""

    loss: float  # full-batch training cross-entropy at the final SDE time
    error: float  # full-batch training error
    l: int
    lr: float
    batch_size: int
    sde_time: float
    steps: int
    seed: int


def _full_batch(model, X, y):
    with torch.no_grad():
        out = model(X)
        return float(F.cross_entropy(out, y)), float((out.argmax(1) != y).float().mean())


def svag_run(X, y, *, model: str = "tiny-fc", l: int, lr: float, batch_size: int, sde_time: float, seed: int,
             init_seed: int = 0, progress=None) -> SVAGRun:
    """Train a fresh ``model`` (weights from ``init_seed``) with SVAG(l) for SDE time ``sde_time``.

    ``sde_time · l / lr`` steps of size lr/l (a whole number, else ValueError); batches of ``batch_size`` drawn with replacement
    from a generator seeded with ``seed``. ``l = 1`` is plain SGD with one batch per step.

    Used in: 14_discrete_time_sgd
    """
    if not (torch.is_tensor(X) and torch.is_tensor(y)) or X.ndim != 2 or y.ndim != 1 or len(X) != len(y):
        raise ValueError("X must be a (N, features) tensor and y an (N,) tensor of labels; use tiny_task()")
    l = checks.integer(l, "SVAG factor l")
    lr = checks.learning_rate(lr)
    batch_size = checks.batch_size(batch_size, len(y))
    sde_time = checks.positive(sde_time, "sde_time")
    if sde_time < lr / l:
        raise ValueError(f"sde_time={sde_time} is shorter than one step of lr/l = {lr / l:g}; raise sde_time")
    steps = steps_for(sde_time, lr / l)
    num_classes = int(y.max()) + 1
    net = models.build(model, num_classes, seed=init_seed, n_inputs=X.shape[1])
    net.train()
    params = [p for p in net.parameters() if p.requires_grad]
    gen = torch.Generator().manual_seed(int(seed))
    weights = svag_weights(l) if l > 1 else (1.0,)
    step = lr / l
    it = range(steps)
    if progress is not None:
        it = progress(it)
    for _ in it:
        combined = [torch.zeros_like(p) for p in params]
        for w in weights:
            idx = torch.randint(0, len(y), (batch_size,), generator=gen)
            net.zero_grad(set_to_none=True)
            F.cross_entropy(net(X[idx]), y[idx]).backward()
            for c, p in zip(combined, params):
                c.add_(p.grad, alpha=w)
        with torch.no_grad():
            for c, p in zip(combined, params):
                p.add_(c, alpha=-step)
    loss, err = _full_batch(net, X, y)
    if not np.isfinite(loss):
        raise FloatingPointError(f"SVAG run diverged (lr={lr:g}, l={l}): lower lr")
    return SVAGRun(loss=loss, error=err, l=l, lr=lr, batch_size=batch_size, sde_time=sde_time, steps=steps,
                   seed=int(seed))
