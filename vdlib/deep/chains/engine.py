""":class:`ChainEngine`: C independent heavy-ball SGD chains of one network on in-memory data (mini-batches,
full-batch gradient with matched isotropic noise, per-chain settings and generators), and
:func:`matched_noise_std`."""
from __future__ import annotations

import json
import math
import numbers
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from ... import checks
from .batched import _gather, _onehot, forward_backward
from .network import Layout, fc_module, load_vector

_CHUNK_ELEMENTS = 1 << 18  # full-batch evaluation: chains per chunk = this // (N · hidden)


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
            raise TypeError("lay must be a vdlib.deep.chains.Layout; build one with vdlib.deep.chains.layout('tiny-fc', num_classes)")
        if not isinstance(X, torch.Tensor) or not isinstance(y, torch.Tensor):
            raise TypeError("X and y must be torch tensors (use vdlib.deep.data.to_tensors / torch.as_tensor)")
        if not X.is_floating_point():
            raise TypeError(f"X must be a floating-point tensor, got {X.dtype}; convert with X.float()")
        if X.ndim < 2 or X[0].numel() != lay.n_inputs:
            raise ValueError(f"X must hold N examples of {lay.n_inputs} values each (e.g. (N, 49) or (N, 7, 7)), "
                             f"got shape {tuple(X.shape)}; down-sample with vdlib.deep.data.downsample(x, 7)")
        if y.ndim != 1 or y.shape[0] != X.shape[0] or y.dtype != torch.int64:
            raise ValueError(f"y must be an int64 vector with one label per example ({X.shape[0]}), "
                             f"got {y.dtype} of shape {tuple(y.shape)}")
        if y.numel() and (int(y.min()) < 0 or int(y.max()) >= lay.num_classes):
            raise ValueError(f"labels must lie in 0..{lay.num_classes - 1}, got {int(y.min())}..{int(y.max())}: "
                             "relabel the classes (vdlib.deep.data.class_subset does) or raise num_classes")
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

    def set_noise_std(self, noise_std) -> None:
        """Change σ (one value or one per chain) between steps: a control matched to SGD at every epoch."""
        self._sigma, self.noise_std = _per_chain(noise_std, self.C, "noise_std", _nonneg("noise_std"))
        if isinstance(self._sigma, torch.Tensor):
            self._sigma = self._sigma.to(self.device, self.theta.dtype)

    def run_epoch(self, first_step: bool = False, on_step=None):
        """One epoch of ``steps_per_epoch`` steps. With ``first_step=True`` return ``(Δθ, g)`` of its first step.

        ``on_step(s)``, when given, is called after step ``s`` (0-based) with the updated ``self.theta``:
        recording at the time scale of a step.
        """
        out = None
        if self.full_batch:
            for s in range(self.steps_per_epoch):
                if s == 0 and first_step:
                    before = self.theta.clone()
                    g = self.step()
                    out = (self.theta - before, g)
                else:
                    self.step()
                if on_step is not None:
                    on_step(s)
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
                if on_step is not None:
                    on_step(s)
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
