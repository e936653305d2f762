"""Many independent SGD chains of tiny-fc / small-fc at once: the engine behind the long trajectories (Fig. 3).

The paper's Fig. 3 runs SGD on tiny-fc (49 → 16–BN–ReLU → K, d = 900 for K = 4) for 10⁵ epochs. The
network is so small that a textbook loop (``nn.Module`` + ``DataLoader`` + optimiser) spends nearly
all its time in Python and per-call overhead. :class:`ChainEngine` instead

* keeps the training set in memory and gathers each epoch's mini-batches with one index operation;
* stacks the weights of ``C`` independent chains in one ``(C, d)`` tensor (chain ``c`` is row ``c``,
  laid out exactly like ``torch.nn.utils.parameters_to_vector(model.parameters())`` of the module);
* runs the forward pass with batched matrix products, BatchNorm with **per-chain batch statistics**
  (training mode, biased variance, ``eps = 1e-5``, as ``nn.BatchNorm1d``), and the backward pass
  written out by hand (``backend="manual"``, the default; ``backend="autograd"`` differentiates the
  same forward pass with autograd and is used as the test oracle);
* applies PyTorch's heavy-ball update (``torch.optim.SGD``: ``g ← ∇ + λθ``, ``v ← μv + g``,
  ``θ ← θ − ηv``, with ``v = g`` at the first step) to all chains in a few fused tensor operations.

Learning rate η, momentum μ, weight decay λ and the injected noise σ may differ from chain to chain
(pass a sequence), so controls run side by side in one batched run. Every chain has its own
:class:`torch.Generator` for its mini-batches (and one for its noise), seeded from its ``seed``: a
chain's batches do not depend on which other chains run beside it.

**Mini-batches.** ``replacement=False`` (default, the paper's code): each epoch every chain draws
its own permutation of the ``N`` examples and cuts it into ``ceil(N / b)`` batches (the last one
smaller when ``b`` does not divide ``N``). ``replacement=True``: every step draws ``b`` i.i.d.
uniform indices, ``ceil(N / b)`` steps per epoch.

**Full-batch mode and the matched isotropic noise (control (b) of chapter 11, reversible).** With
``full_batch=True`` every step uses the full-batch gradient ∇f(θ) (training mode: BatchNorm with the
statistics of all ``N`` examples) and adds isotropic Gaussian noise to it,

    g_t = ∇f(θ_t) + λθ_t + σ ζ_t,   ζ_t ~ N(0, I_d),

followed by the same heavy-ball update. An epoch has the same number of steps as SGD's
(``ceil(N / b)``), so one recorded epoch is the same amount of "time" ``η × steps`` in both.
The noise is *matched in trace* to SGD's mini-batch noise: SGD's step uses g_B = ∇f + ξ_B, whose
noise covariance Σ_B = Cov(g_B) has trace tr Σ_B (≈ tr D / b with replacement,
``(1 − b/N) N/(N − 1) tr D / b`` without). Choosing

    σ² = tr Σ_B / d      gives      E‖η σ ζ‖² = η² tr Σ_B,

the same mean squared noise displacement per step as SGD's −η ξ_B, but spread evenly over all d
directions. :meth:`ChainEngine.noise_trace` measures tr Σ_B at the current weights from
``n_batches`` mini-batch gradients drawn with the run's own sampling scheme and batch size
(unbiased sample covariance of the g_B); :func:`matched_noise_std` turns it into σ. Full-batch
gradient descent with isotropic Gaussian noise is a discretised Langevin equation (underdamped with
momentum) for the potential f: its stationary law obeys detailed balance (up to O(η) discretisation
effects), so it is the reversible reference. (SGD with BN also differs in its mean drift: E g_B ≠ ∇f
because of the batch statistics; :meth:`ChainEngine.noise_trace` reports that bias too.)

**Recording** (:func:`run_chains`): once per epoch, for every chain, the weights θ_t (float32), the
full-batch objective f(θ_t) = CE + λ/2‖θ‖², its gradient norm ‖∇f(θ_t)‖/√d, the training error, and
for Yaida's FDR1 the scalars θ_t·∇f(θ_t) and ‖Δθ_t‖² of the first step of the next epoch
(optionally the vectors ∇f(θ_t) and Δθ_t). Row 0 is the state before the first recorded epoch, so
``T`` epochs give ``T + 1`` rows. With a ``folder`` the arrays are memory-mapped ``.npy`` files and
the run checkpoints atomically (temporary file + :func:`os.replace`, read back with
``torch.load(weights_only=True)``, generator states included); ``resume=True`` continues a killed run
with no lost or duplicated epoch. The outputs feed :mod:`vdlib.trajectory` directly:
``Record.weights[c]`` is the T×d array of chain ``c``; :meth:`Record.fdr1` builds Yaida's check.

A chain whose loss or weights become NaN/inf stops the run with :class:`TrajectoryDiverged`; the last
checkpoint on disk is left as it was.

**Speed** (``benchmarks/bench_trajectory.py``, tiny-fc, N = 2,048, b = 128, 1 torch thread, measured
side by side on the project's 2-core machine while it was busy, load ≈ 4.5). Against the textbook loop
(``nn.Module`` + ``DataLoader`` + ``torch.optim.SGD``, 867 steps/s): one chain 3,700 steps/s (4.3×);
4 chains 10,300 chain-steps/s (12×); 16 chains 17,400 (20×); 64 chains 35,000 (40×). The autograd
backend reaches 1.4× / 16× (C = 1 / 16), ``torch.func.vmap`` 5.3× (C = 16). Activations are laid out
(chain, unit, example), so BatchNorm is one ``native_batch_norm`` call on a (1, C·hidden, n) view and
the full-batch first layer is one matrix product; ``argmax``/``index_select``/``softmax`` over a last
axis of 4 are avoided because they are 10–100× slower than the alternatives used here on the CPU.
Recorded runs (:func:`run_chains`, incl. the per-epoch full-batch gradient): 4 chains of the paper's
setting 90 epochs/s (10⁵ epochs ≈ 19 min); one chain of full-batch + noise 72 epochs/s (each of its
16 steps is a full-batch gradient). A group costs ~7 ms per epoch almost regardless of its chain
count, so many chains per group are nearly free.

Used in: Part IV-b (long SGD trajectories on tiny-fc); ``python -m vdlib.experiments trajectory``.
"""
from __future__ import annotations

import functools
import json
import math
import numbers
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from . import checks, files
from .progress import progress as progress_bar

__all__ = [
    "Layout",
    "layout",
    "fc_module",
    "module_vector",
    "load_vector",
    "init_weights",
    "forward_backward",
    "ChainEngine",
    "matched_noise_std",
    "Record",
    "TrajectoryDiverged",
    "run_chains",
    "open_record",
    "CHECKPOINT_FORMAT",
]

CHECKPOINT_FORMAT = "vdlib.chains/1"
_CHUNK_ELEMENTS = 1 << 18  # full-batch evaluation: chains per chunk = this // (N · hidden)
BN_EPS = 1e-5  # nn.BatchNorm1d's default


# --------------------------------------------------------------------------------------------------
# the network: parameter layout, modules, flat vectors
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Layout:
    """Where each parameter of the FC network lives in the flat vector of one chain.

    The order is the module's parameter order: ``W1 (hidden×n_inputs), b1, [gamma, beta,] W2
    (K×hidden), b2``, each flattened row-major, as ``parameters_to_vector`` writes them.
    """

    n_inputs: int
    hidden: int
    num_classes: int
    batchnorm: bool

    @property
    def names(self) -> tuple[str, ...]:
        return ("W1", "b1", "gamma", "beta", "W2", "b2") if self.batchnorm else ("W1", "b1", "W2", "b2")

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        H, I, K = self.hidden, self.n_inputs, self.num_classes
        s = {"W1": (H, I), "b1": (H,), "gamma": (H,), "beta": (H,), "W2": (K, H), "b2": (K,)}
        return {n: s[n] for n in self.names}

    @property
    def slices(self) -> dict[str, slice]:
        out, o = {}, 0
        for n, shp in self.shapes.items():
            k = math.prod(shp)
            out[n] = slice(o, o + k)
            o += k
        return out

    @property
    def d(self) -> int:
        """The number of parameters (900 for tiny-fc with 4 classes, 917 with 5, 3,978 for small-fc)."""
        return sum(math.prod(s) for s in self.shapes.values())

    @functools.cached_property
    def _parts(self) -> tuple[tuple[str, tuple[slice, tuple[int, ...]]], ...]:
        shapes = self.shapes
        return tuple((n, (sl, shapes[n])) for n, sl in self.slices.items())

    def as_dict(self) -> dict[str, Any]:
        return {"n_inputs": self.n_inputs, "hidden": self.hidden, "num_classes": self.num_classes,
                "batchnorm": self.batchnorm, "d": self.d}


_HIDDEN = {"tiny-fc": 16, "small-fc": 64}


def layout(model: str = "tiny-fc", num_classes: int = 4, *, batchnorm: bool = True, hidden: int | None = None,
           n_inputs: int = 49) -> Layout:
    """The :class:`Layout` of ``"tiny-fc"`` (hidden 16) or ``"small-fc"`` (hidden 64), with or without BN."""
    key = str(model).strip().lower().replace("_", "-")
    if key not in _HIDDEN:
        raise ValueError(f"the chain engine runs the fully connected nets only: model must be one of "
                         f"{', '.join(_HIDDEN)}, got {model!r}")
    if not isinstance(batchnorm, bool):
        raise TypeError(f"batchnorm must be True or False, got {batchnorm!r}")
    return Layout(n_inputs=checks.integer(n_inputs, "n_inputs"),
                  hidden=checks.integer(_HIDDEN[key] if hidden is None else hidden, "hidden"),
                  num_classes=checks.integer(num_classes, "num_classes", minimum=2), batchnorm=batchnorm)


class _NoBN(nn.Module):
    """flatten(n_inputs) → FC → ReLU → FC: the fully connected net without BatchNorm (control (c))."""

    def __init__(self, lay: Layout):
        super().__init__()
        self.input_shape = (lay.n_inputs,)
        self.num_classes = lay.num_classes
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(lay.n_inputs, lay.hidden), nn.ReLU(),
                                 nn.Linear(lay.hidden, lay.num_classes))

    def forward(self, x):
        return self.net(x)


def fc_module(lay: Layout, seed: int | None = None) -> nn.Module:
    """A plain ``nn.Module`` with the layout ``lay``, PyTorch's default initialisation.

    With BatchNorm this is :func:`vdlib.models.build` (``"tiny-fc"``/``"small-fc"`` are the same
    class with another width). Without, a Linear–ReLU–Linear net whose two Linear layers get the
    *same* initial weights as the BN net built with the same ``seed`` (the BN weights are simply left
    out), so the no-BN control starts where the BN run starts.
    """
    from . import models

    model = models.build("tiny-fc", num_classes=lay.num_classes, seed=seed, hidden=lay.hidden,
                         n_inputs=lay.n_inputs)
    if lay.batchnorm:
        return model
    plain = _NoBN(lay)
    with torch.no_grad():
        plain.net[1].load_state_dict(model.net[1].state_dict())
        plain.net[3].load_state_dict(model.net[4].state_dict())
    return plain


def module_vector(model: nn.Module) -> torch.Tensor:
    """The flat parameter vector of ``model`` (detached copy), in the engine's layout."""
    return torch.nn.utils.parameters_to_vector([p.detach() for p in model.parameters()]).clone()


def load_vector(model: nn.Module, vec) -> nn.Module:
    """Copy a flat vector (one chain's weights) into ``model``'s parameters; returns ``model``."""
    vec = torch.as_tensor(vec)
    n = sum(p.numel() for p in model.parameters())
    if vec.ndim != 1 or vec.numel() != n:
        raise ValueError(f"expected a flat vector of {n} weights for this model, got shape {tuple(vec.shape)}")
    with torch.no_grad():  # copy (vector_to_parameters would make the parameters views of ``vec``)
        o = 0
        for p in model.parameters():
            p.copy_(vec[o:o + p.numel()].view_as(p))
            o += p.numel()
    return model


def init_weights(lay: Layout, seeds: Sequence[int]) -> torch.Tensor:
    """``(len(seeds), d)`` initial weights: row ``c`` is :func:`fc_module` ``(lay, seeds[c])`` flattened."""
    return torch.stack([module_vector(fc_module(lay, checks.integer(s, "seed", minimum=0))) for s in seeds])


# --------------------------------------------------------------------------------------------------
# batched forward and backward
# --------------------------------------------------------------------------------------------------
def _views(theta: torch.Tensor, lay: Layout) -> dict[str, torch.Tensor]:
    C = theta.shape[0]
    return {n: theta[:, sl].view(C, *shp) for n, (sl, shp) in lay._parts}


def _onehot(y: torch.Tensor, C: int, K: int, dtype) -> torch.Tensor:
    """(C, K, n) one-hot labels from (C, n) or shared (n,) labels."""
    oh = torch.nn.functional.one_hot(y, K).to(dtype)  # (..., n, K)
    oh = oh.transpose(-1, -2)
    return oh.unsqueeze(0).expand(C, K, y.shape[0]) if y.dim() == 1 else oh


def _forward(theta, x, lay: Layout, track: bool):
    """Logits ``z (C, K, n)`` and what the backward pass needs; activations are laid out (C, hidden, n).

    ``x`` is (C, n, I) (one batch per chain) or (n, I) (one batch shared by all chains: then the first
    layer is a single matrix product). BatchNorm in training mode normalises each (chain, unit) over the
    n examples of the batch: ``native_batch_norm`` on the (1, C·hidden, n) view does exactly that.
    ``track=True`` builds the autograd graph (the oracle); else the saved statistics are kept for the
    hand-written backward pass.
    """
    p = _views(theta, lay)
    C = theta.shape[0]
    if x.dim() == 2:
        a = torch.matmul(p["W1"], x.t())  # (C, H, I) @ (I, n): one GEMM
        a = a + p["b1"].unsqueeze(2)
    else:
        a = torch.baddbmm(p["b1"].unsqueeze(2), p["W1"], x.transpose(1, 2))  # (C, H, n)
    n = a.shape[2]
    cache = {"x": x, "n": n}
    if lay.batchnorm:
        flat = a.view(1, C * lay.hidden, n)
        gamma, beta = p["gamma"].reshape(-1), p["beta"].reshape(-1)
        if track:
            h = torch.nn.functional.batch_norm(flat, None, None, gamma, beta, training=True, eps=BN_EPS)
        else:
            h, mean, invstd = torch.native_batch_norm(flat, gamma, beta, None, None, True, 0.0, BN_EPS)
            cache.update(a=flat, gamma=gamma, mean=mean, invstd=invstd)
        h = h.view(C, lay.hidden, n)
    else:
        h = a
    r = h.clamp_min(0)
    z = torch.baddbmm(p["b2"].unsqueeze(2), p["W2"], r)  # (C, K, n)
    cache.update(r=r, p=p)
    return z, cache


def _wrong(logp: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """Misclassified examples per chain: the true class's log-probability is below the largest.

    (``argmax`` over the short class axis is ~100× slower than ``amax`` on the CPU; exact ties, which
    argmax would break by index, have probability zero.)"""
    return (true < logp.amax(1)).sum(1)


def _gather(X: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """``X[idx]`` for a flat index vector (``F.embedding`` is several times faster than advanced indexing)."""
    if X.ndim == 2:
        return torch.nn.functional.embedding(idx, X)
    return X.index_select(0, idx)


def forward_backward(theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor, lay: Layout, *,
                     need_loss: bool = True, backend: str = "manual", onehot: torch.Tensor | None = None):
    """Per-chain mean cross-entropy, error count and gradient for a batch of chains.

    Parameters
    ----------
    theta : (C, d) tensor
        The weights of C chains in the layout ``lay``.
    x : (C, n, n_inputs) or (n, n_inputs) tensor
        Each chain's batch, or one batch shared by all chains (the full-batch gradient).
    y : (C, n) or (n,) int64 tensor
        Labels in ``0 .. K-1``.
    lay : Layout
    need_loss : bool
        Compute the loss and error count (the SGD step does not need them).
    backend : {"manual", "autograd"}
        The hand-written backward pass, or autograd through the same forward pass (the oracle).
    onehot : (C, K, n) tensor, optional
        The labels one-hot encoded (the engine prepares them once per epoch).

    Returns
    -------
    loss : (C,) tensor or None
        Mean cross-entropy over the n examples, per chain (BatchNorm in training mode, batch statistics).
    wrong : (C,) int64 tensor or None
        Misclassified examples per chain.
    grad : (C, d) tensor
        The gradient of each chain's own loss with respect to its own weights.
    """
    C = theta.shape[0]
    if backend not in ("manual", "autograd"):
        raise ValueError(f"backend must be 'manual' or 'autograd', got {backend!r}")
    if onehot is None:
        onehot = _onehot(y, C, lay.num_classes, theta.dtype)
    if backend == "autograd":
        with torch.enable_grad():
            th = theta.detach().requires_grad_(True)
            z, cache = _forward(th, x, lay, track=True)
            logp = torch.log_softmax(z, 1)
            true = (logp * onehot).sum(1)
            loss = -true.mean(1)
            (grad,) = torch.autograd.grad(loss.sum(), th)
        return loss.detach(), _wrong(logp.detach(), true.detach()), grad
    z, cache = _forward(theta, x, lay, track=False)
    n, p, r = cache["n"], cache["p"], cache["r"]
    loss = wrong = None
    if need_loss:
        logp = torch.log_softmax(z, 1)
        true = (logp * onehot).sum(1)  # (C, n)
        loss = -true.mean(1)
        wrong = _wrong(logp, true)
        dz = logp.exp_()
    else:
        dz = torch.softmax(z, 1)
    dz.sub_(onehot).mul_(1.0 / n)  # d(mean CE)/dz, (C, K, n)
    dW2 = torch.bmm(dz, r.transpose(1, 2))  # (C, K, H)
    db2 = dz.sum(2)
    dh = torch.ops.aten.threshold_backward(torch.bmm(p["W2"].transpose(1, 2), dz), r, 0)  # (C, H, n)
    if lay.batchnorm:
        da, dgamma, dbeta = torch.ops.aten.native_batch_norm_backward(
            dh.view(1, C * lay.hidden, n), cache["a"], cache["gamma"], None, None, cache["mean"], cache["invstd"],
            True, BN_EPS, [True, True, True])
        da = da.view(C, lay.hidden, n)
    else:
        da = dh
    x = cache["x"]
    dW1 = torch.matmul(da, x)  # (C, H, n) @ (C, n, I) or shared (n, I): (C, H, I)
    db1 = da.sum(2)
    parts = [dW1.reshape(C, -1), db1]
    if lay.batchnorm:
        parts += [dgamma.view(C, -1), dbeta.view(C, -1)]
    parts += [dW2.reshape(C, -1), db2]
    return loss, wrong, torch.cat(parts, 1)


# --------------------------------------------------------------------------------------------------
# the engine
# --------------------------------------------------------------------------------------------------
def _per_chain(value, C: int, name: str, check) -> tuple[Any, list[float]]:
    """A scalar (same for all chains) or a length-C sequence → (float or (C,1) tensor, list of floats)."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().tolist()
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        if len(value) != C:
            raise ValueError(f"{name} has {len(value)} values but there are {C} chains: pass one value or one per chain")
        vals = [check(v) for v in value]
    else:
        vals = [check(value)] * C
    if all(v == vals[0] for v in vals):
        return vals[0], vals
    return torch.tensor(vals, dtype=torch.float64).view(C, 1), vals


def _momentum(m) -> float:
    if isinstance(m, bool) or not isinstance(m, numbers.Real) or not (0.0 <= float(m) < 1.0):
        raise ValueError(f"momentum must be in [0, 1), got {m!r}; the paper uses momentum=0.9 (0 for control (a))")
    return float(m)


def _nonneg(name):
    def check(v):
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not (math.isfinite(v) and v >= 0):
            raise ValueError(f"{name} must be a finite number >= 0, got {v!r}")
        return float(v)
    return check


def _seed_int(seed: int, stream: int) -> int:
    """A 63-bit generator seed for stream ``stream`` of chain seed ``seed`` (independent streams)."""
    return int(np.random.SeedSequence([int(seed), int(stream)]).generate_state(1, np.uint64)[0] >> np.uint64(1))


class ChainEngine:
    """``C`` independent heavy-ball SGD chains of one fully connected network on in-memory data.

    Parameters
    ----------
    X : (N, n_inputs) float tensor, or (N, 7, 7) / (N, 1, 7, 7) images (flattened)
    y : (N,) int64 tensor
        Labels in ``0 .. lay.num_classes - 1``.
    theta0 : (C, d), (1, d) or (d,) tensor
        Initial weights (a single vector is copied to all ``len(seeds)`` chains).
    lay : Layout
        The network (:func:`layout`).
    seeds : sequence of int
        One seed per chain: its mini-batch and noise generators. The number of chains is ``len(seeds)``.
    lr, momentum, weight_decay, noise_std : float or sequence of C floats
        η (> 0), μ in [0, 1), λ >= 0 and σ >= 0 (isotropic Gaussian noise added to the gradient) per chain.
    batch_size : int
        b; also sets the steps per epoch ``ceil(N / b)`` in full-batch mode.
    replacement : bool
        Sample batches with replacement (i.i.d. indices) instead of per-epoch permutations.
    full_batch : bool
        Use the full-batch gradient at every step (control (b) with ``noise_std > 0``).
    backend : {"manual", "autograd"}
    device : str or torch.device, optional
        Default: the device of ``X``.

    Attributes
    ----------
    theta, velocity : (C, d) tensors
        The weights and momentum buffers (updated in place).
    epoch, steps_done : int
        Completed epochs and steps.
    """

    def __init__(self, X, y, theta0, lay: Layout, *, seeds: Sequence[int], lr, momentum=0.0, weight_decay=0.0,
                 noise_std=0.0, batch_size: int = 128, replacement: bool = False, full_batch: bool = False,
                 backend: str = "manual", device=None):
        if not isinstance(lay, Layout):
            raise TypeError("lay must be a vdlib.chains.Layout; build one with vdlib.chains.layout('tiny-fc', num_classes)")
        if not isinstance(X, torch.Tensor) or not isinstance(y, torch.Tensor):
            raise TypeError("X and y must be torch tensors (use vdlib.data.to_tensors / torch.as_tensor)")
        if not X.is_floating_point():
            raise TypeError(f"X must be a floating-point tensor, got {X.dtype}; convert with X.float()")
        if X.ndim < 2 or X[0].numel() != lay.n_inputs:
            raise ValueError(f"X must hold N examples of {lay.n_inputs} values each (e.g. (N, 49) or (N, 7, 7)), "
                             f"got shape {tuple(X.shape)}; down-sample with vdlib.data.downsample(x, 7)")
        if y.ndim != 1 or y.shape[0] != X.shape[0] or y.dtype != torch.int64:
            raise ValueError(f"y must be an int64 vector with one label per example ({X.shape[0]}), "
                             f"got {y.dtype} of shape {tuple(y.shape)}")
        if y.numel() and (int(y.min()) < 0 or int(y.max()) >= lay.num_classes):
            raise ValueError(f"labels must lie in 0..{lay.num_classes - 1}, got {int(y.min())}..{int(y.max())}: "
                             "relabel the classes (vdlib.data.class_subset does) or raise num_classes")
        if backend not in ("manual", "autograd"):
            raise ValueError(f"backend must be 'manual' or 'autograd', got {backend!r}")
        self.lay, self.backend = lay, backend
        self.device = torch.device(device) if device is not None else X.device
        self.N = N = int(X.shape[0])
        self.X = X.reshape(N, -1).to(self.device)
        self.y = y.to(self.device)
        seeds = [checks.integer(s, "seed", minimum=0) for s in seeds]
        if not seeds:
            raise ValueError("seeds is empty: pass one seed per chain, e.g. seeds=range(4)")
        self.seeds = seeds
        C = self.C = len(seeds)
        theta0 = torch.as_tensor(theta0)
        if theta0.ndim == 1:
            theta0 = theta0.unsqueeze(0)
        if theta0.ndim == 2 and theta0.shape[0] == 1:
            theta0 = theta0.expand(C, -1)  # one start for all chains
        if theta0.shape != (C, lay.d):
            raise ValueError(f"theta0 must have shape ({C}, {lay.d}) (chains × parameters) or ({lay.d},), "
                             f"got {tuple(theta0.shape)}")
        self.theta = theta0.to(self.device, self.X.dtype).clone().contiguous()
        self._onehot_all = _onehot(self.y, 1, lay.num_classes, self.theta.dtype)[0].contiguous()  # (K, N)
        self.velocity = torch.zeros_like(self.theta)
        self.replacement, self.full_batch = bool(replacement), bool(full_batch)
        self.batch_size = b = checks.batch_size(batch_size, N, replacement=self.replacement or self.full_batch)
        self.steps_per_epoch = math.ceil(N / b)
        last = N - (self.steps_per_epoch - 1) * b if not (self.replacement or self.full_batch) else b
        if lay.batchnorm and not self.full_batch and (b == 1 or last == 1):
            raise ValueError(f"N={N} and batch size b={b} give a mini-batch of 1 example, on which BatchNorm cannot "
                             "train: choose another batch size")
        if lay.batchnorm and N < 2:
            raise ValueError("BatchNorm needs at least 2 training examples")
        self._lr, self.lr = _per_chain(lr, C, "lr", checks.learning_rate)
        self._mom, self.momentum = _per_chain(momentum, C, "momentum", _momentum)
        self._wd, self.weight_decay = _per_chain(weight_decay, C, "weight_decay", _nonneg("weight_decay"))
        self._sigma, self.noise_std = _per_chain(noise_std, C, "noise_std", _nonneg("noise_std"))
        for name in ("_lr", "_mom", "_wd", "_sigma"):
            v = getattr(self, name)
            if isinstance(v, torch.Tensor):
                setattr(self, name, v.to(self.device, self.theta.dtype))
        self._neg_lr = -self._lr
        self.batch_gens = [torch.Generator().manual_seed(_seed_int(s, 0)) for s in seeds]
        self.noise_gens = [torch.Generator().manual_seed(_seed_int(s, 1)) for s in seeds]
        self.epoch = 0
        self.steps_done = 0

    # ---------------------------------------------------------------- properties
    @property
    def d(self) -> int:
        return self.lay.d

    @property
    def has_noise(self) -> bool:
        return any(s > 0 for s in self.noise_std)

    def cost(self) -> float:
        """Relative work of one epoch (example-passes × chains × hidden width), for scheduling groups."""
        per_step = self.N if self.full_batch else self.batch_size
        return float(self.C * (per_step + self.N / self.steps_per_epoch) * self.steps_per_epoch * self.lay.hidden)

    def settings(self) -> dict[str, Any]:
        """The run's settings (JSON-ready): what a resumed run must match."""
        return {"layout": self.lay.as_dict(), "N": self.N, "n_chains": self.C, "seeds": list(self.seeds),
                "lr": list(self.lr), "momentum": list(self.momentum), "weight_decay": list(self.weight_decay),
                "noise_std": list(self.noise_std), "batch_size": self.batch_size,
                "replacement": self.replacement, "full_batch": self.full_batch,
                "steps_per_epoch": self.steps_per_epoch}

    # ---------------------------------------------------------------- sampling
    def epoch_batches(self) -> torch.Tensor:
        """Draw one epoch of mini-batch indices: ``(C, steps_per_epoch * b)`` (with replacement) or
        ``(C, N)`` (one permutation per chain); step ``s`` uses columns ``s*b : (s+1)*b``."""
        if self.replacement:
            rows = [torch.randint(0, self.N, (self.steps_per_epoch * self.batch_size,), generator=g)
                    for g in self.batch_gens]
        else:
            rows = [torch.randperm(self.N, generator=g) for g in self.batch_gens]
        return torch.stack(rows).to(self.device)

    # ---------------------------------------------------------------- gradients
    def gradients(self, idx: torch.Tensor | None = None, theta: torch.Tensor | None = None, need_loss=False):
        """``(loss, wrong, grad)`` of the data loss: on mini-batches ``idx`` (C, n), or full-batch when None.

        ``theta`` defaults to the current weights; it may hold any number of rows when ``idx`` is None.
        The weight-decay term is not included.
        """
        th = self.theta if theta is None else theta
        if idx is None:  # full batch: chains in chunks, so the (chunk, hidden, N) intermediates stay in cache
            step = max(1, _CHUNK_ELEMENTS // (self.N * self.lay.hidden))
            K = self.lay.num_classes

            def fb(t):
                return forward_backward(t, self.X, self.y, self.lay, need_loss=need_loss, backend=self.backend,
                                        onehot=self._onehot_all.expand(t.shape[0], K, self.N))

            if th.shape[0] <= step:
                return fb(th)
            outs = [fb(th[i:i + step]) for i in range(0, th.shape[0], step)]
            cat = [None if o[0] is None else torch.cat(o) for o in zip(*outs)]
            return tuple(cat)
        C, n = idx.shape
        flat = idx.reshape(-1)
        x = _gather(self.X, flat).view(C, n, -1)
        yy = self.y[flat].view(C, n)
        return forward_backward(th, x, yy, self.lay, need_loss=need_loss, backend=self.backend)

    def evaluate(self) -> dict[str, torch.Tensor]:
        """Full-batch quantities at the current weights, training mode (BN with the statistics of all N).

        Returns ``loss`` (C,) = CE + λ/2‖θ‖², ``error`` (C,), ``grad`` (C, d) = ∇CE + λθ and
        ``grad_norm`` (C,) = ‖grad‖/√d.
        """
        loss, wrong, grad = self.gradients(None, need_loss=True)
        wd = self._wd
        if isinstance(wd, torch.Tensor) or wd:
            grad = grad + self.theta * wd
            loss = loss + 0.5 * (self.theta.square().sum(1, keepdim=True) * wd).view(-1)
        return {"loss": loss, "error": wrong.to(loss.dtype) / self.N, "grad": grad,
                "grad_norm": grad.norm(dim=1) / math.sqrt(self.d)}

    # ---------------------------------------------------------------- the update
    def _update(self, grad: torch.Tensor) -> None:
        wd, mom, sig = self._wd, self._mom, self._sigma
        if isinstance(wd, torch.Tensor):
            grad.addcmul_(self.theta, wd)
        elif wd:
            grad.add_(self.theta, alpha=wd)
        if self.has_noise:
            z = torch.stack([torch.randn(self.d, generator=g, dtype=self.theta.dtype) for g in self.noise_gens])
            if isinstance(sig, torch.Tensor):
                grad.addcmul_(z.to(self.device), sig)
            else:
                grad.add_(z.to(self.device), alpha=sig)
        v = self.velocity
        if isinstance(mom, torch.Tensor):
            v.mul_(mom).add_(grad)
        elif mom:
            v.mul_(mom).add_(grad)
        else:
            v.copy_(grad)
        if isinstance(self._neg_lr, torch.Tensor):
            self.theta.addcmul_(v, self._neg_lr)
        else:
            self.theta.add_(v, alpha=self._neg_lr)

    def step(self, idx: torch.Tensor | None = None) -> torch.Tensor:
        """One heavy-ball step of every chain on batch ``idx`` (C, n) (None in full-batch mode).

        Returns the gradient that was applied (data gradient + λθ + noise), (C, d).
        """
        if self.full_batch:
            if idx is not None:
                raise ValueError("this engine runs full-batch steps: call step() without indices")
            _, _, grad = self.gradients(None)
        else:
            if idx is None or idx.ndim != 2 or idx.shape[0] != self.C:
                raise ValueError(f"step() needs mini-batch indices of shape ({self.C}, n)")
            _, _, grad = self.gradients(idx)
        self._update(grad)
        self.steps_done += 1
        return grad

    def run_epoch(self, first_step: bool = False):
        """One epoch of ``steps_per_epoch`` steps. With ``first_step=True`` return ``(Δθ, g)`` of its first step."""
        out = None
        if self.full_batch:
            for s in range(self.steps_per_epoch):
                if s == 0 and first_step:
                    before = self.theta.clone()
                    g = self.step()
                    out = (self.theta - before, g)
                else:
                    self.step()
        else:
            idx = self.epoch_batches()
            n_cols, b = idx.shape[1], self.batch_size
            flat = idx.reshape(-1)
            xs = _gather(self.X, flat).view(self.C, n_cols, -1)  # one gather per epoch
            ys = self.y[flat].view(self.C, n_cols)
            oh = _onehot(ys, self.C, self.lay.num_classes, self.theta.dtype).contiguous()  # (C, K, n_cols)
            for s in range(self.steps_per_epoch):
                lo, hi = s * b, min((s + 1) * b, n_cols)
                if s == 0 and first_step:
                    before = self.theta.clone()
                _, _, grad = forward_backward(self.theta, xs[:, lo:hi], ys[:, lo:hi], self.lay,
                                              need_loss=False, backend=self.backend, onehot=oh[:, :, lo:hi])
                self._update(grad)
                self.steps_done += 1
                if s == 0 and first_step:
                    out = (self.theta - before, grad)
        self.epoch += 1
        return out

    # ---------------------------------------------------------------- mini-batch noise
    def noise_trace(self, n_batches: int = 64, seed: int = 0) -> dict[str, torch.Tensor]:
        """tr Σ_B: the trace of the covariance of mini-batch gradients at each chain's current weights.

        Draws ``n_batches`` mini-batches of the run's size ``b`` with the run's sampling scheme (one
        permutation per batch without replacement, i.e. a uniformly random b-subset; i.i.d. indices
        with replacement) from a separate generator seeded by ``seed`` (the chains' own streams are
        not touched), computes all ``C × n_batches`` mini-batch gradients in one batched call
        (training-mode BN with each batch's statistics, as SGD sees them), and returns per chain

        * ``trace``: Σ_i of the unbiased sample variance of coordinate i over the batches;
        * ``bias_sq``: ‖mean_B g_B − ∇f‖² − trace / n_batches, an unbiased estimate of the squared bias
          ‖E g_B − ∇f‖² of the mini-batch gradient (non-zero with BN, whose batch statistics make
          E g_B differ from the full-batch gradient; may come out slightly negative when it is ~0);
        * ``full_grad_sq``: ‖∇f‖².
        """
        M = checks.integer(n_batches, "n_batches", minimum=2)
        gen = torch.Generator().manual_seed(_seed_int(checks.integer(seed, "seed", minimum=0), 2))
        b, N, C = self.batch_size, self.N, self.C
        if self.replacement:
            idx = torch.randint(0, N, (C * M, b), generator=gen)
        else:
            idx = torch.argsort(torch.rand(C * M, N, generator=gen), dim=1)[:, :b]
        th = self.theta.repeat_interleave(M, dim=0)
        _, _, G = self.gradients(idx.to(self.device), theta=th)
        G = G.view(C, M, -1).double()
        _, _, full = self.gradients(None)
        mean = G.mean(1)
        trace = G.var(1, unbiased=True).sum(1)
        bias_sq = (mean - full.double()).square().sum(1) - trace / M
        return {"trace": trace.cpu(), "bias_sq": bias_sq.cpu(),
                "full_grad_sq": full.double().square().sum(1).cpu(), "n_batches": M}

    # ---------------------------------------------------------------- export and state
    def module(self, chain: int = 0) -> nn.Module:
        """Chain ``chain`` as a plain ``nn.Module`` (:func:`fc_module`), on the CPU.

        BatchNorm's running statistics are set to the full-batch statistics of the training set at
        these weights (what eval mode needs; the engine itself always runs in training mode).
        """
        chain = checks.integer(chain, "chain", minimum=0)
        if chain >= self.C:
            raise ValueError(f"chain={chain} but the engine has {self.C} chains (0..{self.C - 1})")
        model = load_vector(fc_module(self.lay), self.theta[chain].cpu())
        if self.lay.batchnorm:
            with torch.no_grad():
                a = self.X.cpu().to(model.net[1].weight.dtype) @ model.net[1].weight.T + model.net[1].bias
                model.net[2].running_mean.copy_(a.mean(0))
                model.net[2].running_var.copy_(a.var(0, unbiased=True))
        return model

    def state_dict(self) -> dict[str, Any]:
        """Weights, momentum buffers, generator states and counters (tensors only: ``weights_only`` safe)."""
        return {"theta": self.theta.cpu().clone(), "velocity": self.velocity.cpu().clone(),
                "batch_gens": torch.stack([g.get_state() for g in self.batch_gens]),
                "noise_gens": torch.stack([g.get_state() for g in self.noise_gens]),
                "epoch": int(self.epoch), "steps_done": int(self.steps_done),
                "settings": json.dumps(self.settings(), sort_keys=True)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        saved = json.loads(state["settings"])
        if saved != json.loads(json.dumps(self.settings(), sort_keys=True)):
            diffs = [k for k in saved if saved[k] != self.settings().get(k)]
            raise ValueError(f"the saved state was written with other settings ({', '.join(diffs)}): "
                             "pass the same settings, or start a fresh run")
        self.theta.copy_(state["theta"].to(self.device, self.theta.dtype))
        self.velocity.copy_(state["velocity"].to(self.device, self.theta.dtype))
        for g, s in zip(self.batch_gens, state["batch_gens"]):
            g.set_state(s.clone())
        for g, s in zip(self.noise_gens, state["noise_gens"]):
            g.set_state(s.clone())
        self.epoch, self.steps_done = int(state["epoch"]), int(state["steps_done"])


def matched_noise_std(trace, d: int) -> torch.Tensor:
    """σ = √(tr Σ_B / d): isotropic noise with E‖σζ‖² = tr Σ_B (so E‖ησζ‖² = η² tr Σ_B per step)."""
    d = checks.integer(d, "d")
    t = torch.as_tensor(trace, dtype=torch.float64)
    if not bool(torch.all(torch.isfinite(t) & (t >= 0))):
        raise ValueError(f"the noise trace must be finite and >= 0, got {t.tolist()}")
    return (t / d).sqrt()


# --------------------------------------------------------------------------------------------------
# recording long runs, with checkpoints
# --------------------------------------------------------------------------------------------------
class TrajectoryDiverged(RuntimeError):
    """A chain's loss or weights became NaN/inf. ``.epoch``, ``.group``, ``.chains``, ``.checkpoint_epoch``."""

    def __init__(self, message, *, epoch, group, chains, checkpoint_epoch):
        super().__init__(message)
        self.epoch, self.group, self.chains, self.checkpoint_epoch = epoch, group, chains, checkpoint_epoch


_SERIES = ("loss", "error", "grad_norm", "theta_dot_grad")  # (C, T+1): at the recorded states
_STEP_SERIES = ("step_sq", "theta_dot_step_grad")  # (C, T): the first step after each recorded state


@dataclass
class Record:
    """The recorded arrays of one group of chains (numpy; memory-mapped when written to a folder).

    Attributes
    ----------
    weights : (C, T+1, d) float32
        θ after 0, 1, …, T recorded epochs; ``weights[c]`` is chain c's trajectory (rows = epochs).
    loss, error, grad_norm, theta_dot_grad : (C, T+1) float64
        Full-batch objective, training error, ‖∇f‖/√d and θ·∇f at the same states.
    step_sq, theta_dot_step_grad : (C, T) float64
        ‖Δθ‖² of the first step after state t and θ_t·g_t for the gradient g_t that step applied.
    grad : (C, T+1, d) float32 or None
        ∇f(θ_t) (with ``record_fdr=True``).
    dtheta : (C, T, d) float32 or None
        Δθ of the first step after state t (with ``record_fdr=True``).
    settings : dict
        The engine's settings (lr, momentum, ... per chain).
    epochs_done : int
        Rows ``0 .. epochs_done`` hold data.
    start_epoch : int
        Where the call that produced this record started (0, or the checkpoint it resumed from).
    """

    weights: np.ndarray
    loss: np.ndarray
    error: np.ndarray
    grad_norm: np.ndarray
    theta_dot_grad: np.ndarray
    step_sq: np.ndarray
    theta_dot_step_grad: np.ndarray
    grad: np.ndarray | None = None
    dtheta: np.ndarray | None = None
    settings: dict = field(default_factory=dict)
    epochs_done: int = 0
    start_epoch: int = 0

    @property
    def n_chains(self) -> int:
        return self.weights.shape[0]

    @property
    def d(self) -> int:
        return self.weights.shape[2]

    def trajectory(self, chain: int = 0, start: int = 0) -> np.ndarray:
        """Chain ``chain``'s weights from row ``start`` to the last completed row: a T×d array."""
        return np.asarray(self.weights[chain, start:self.epochs_done + 1])

    def fdr1(self, start: int = 0):
        """Yaida's FDR1 ⟨θ·∇f⟩ = (1 + μ)/(2η)⟨‖Δθ‖²⟩ over rows ``start ..`` (pass the burn-in).

        Uses the full gradient ∇f(θ_t) and the one-step Δθ_t recorded each epoch; the error bars come
        from the independent chains (:func:`vdlib.trajectory.fdr1` with the same conventions). All chains
        must share η and μ.
        """
        from . import trajectory as tj

        lr, mom = set(self.settings["lr"]), set(self.settings["momentum"])
        if len(lr) != 1 or len(mom) != 1:
            raise ValueError("fdr1 needs chains that share lr and momentum; select them first")
        eta, mu = lr.pop(), mom.pop()
        end = self.epochs_done
        if not 0 <= start < end:
            raise ValueError(f"start={start} must be below the {end} completed epochs")
        if self.grad is not None and self.dtheta is not None:
            return tj.fdr1(self.weights[:, start:end], self.grad[:, start:end], self.dtheta[:, start:end],
                           eta=eta, momentum=mu)
        lhs = tj.chain_estimate(self.theta_dot_grad[:, start:end].mean(1))
        rhs = tj.chain_estimate((1 + mu) / (2 * eta) * self.step_sq[:, start:end].mean(1))
        return tj.FDR1(lhs=lhs.mean, lhs_se=lhs.se, rhs=rhs.mean, rhs_se=rhs.se)


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


def open_record(folder, epochs_done: int | None = None) -> Record:
    """Open a group folder written by :func:`run_chains` (arrays memory-mapped read-only)."""
    folder = Path(folder)
    meta_path = folder / "record.json"
    if not meta_path.is_file():
        raise FileNotFoundError(f"no recorded chains in {folder} (record.json missing): run the experiment first")
    meta = json.loads(meta_path.read_text())
    arrays = {}
    for k in ("weights", *_SERIES, *_STEP_SERIES, "grad", "dtheta"):
        p = folder / f"{k}.npy"
        arrays[k] = np.load(p, mmap_mode="r") if p.is_file() else None
    done = meta["epochs_done"] if epochs_done is None else epochs_done
    return Record(**arrays, settings=meta["settings"], epochs_done=int(done))


CHECKPOINT_FILE = "checkpoint.pt"


def run_chains(engines: Mapping[str, ChainEngine], epochs: int, *, folder=None, resume: bool = False,
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
        raise ValueError("pass at least one engine: run_chains({'sgd': engine}, epochs)")
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
                raise ValueError(f"{ckpt_path} is not a vdlib.chains checkpoint")
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
