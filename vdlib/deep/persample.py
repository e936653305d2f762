"""Per-sample gradients: an own engine for Linear, Conv2d and BatchNorm, ``torch.func`` as fallback.

The diffusion matrix of the paper (Definition 1) is the covariance of the per-sample gradients
g_k = ∇f_k(x). This module computes the N×d matrix ``G`` whose row k is g_k, for a
``torch.nn.Module`` and a per-sample loss, without a loop over examples:

* **own engine** (the fast path). One batched forward and one backward pass; a forward hook on
  every supported layer keeps its input activation ``a``, a tensor hook on its output receives the
  back-propagated output gradient ``δ``, and the per-sample parameter gradients are formed from the
  two and written straight into the rows of the output buffer:

  ==================================  ===========================================================
  layer                               per-sample gradient of example n
  ==================================  ===========================================================
  ``Linear`` (input (n, in))          weight: δ_n a_nᵀ (an outer product); bias: δ_n
  ``Linear`` (input (n, …, in))       weight: Σ_… δ a ᵀ; bias: Σ_… δ
  ``Conv2d`` (any stride, padding,    weight: δ_n (Cout×L) · unfold(a_n)ᵀ (L×Cin·k²), per group;
  dilation, groups, padding mode)     bias: δ_n summed over the L output positions
  ``BatchNorm1d/2d/3d``, eval mode,   weight: Σ_spatial x̂_n ⊙ δ_n with x̂ = (a − μ_run)/√(σ²_run + ε);
  running statistics, affine          bias: Σ_spatial δ_n
  ==================================  ===========================================================

  The layer's own parameters do not take part in autograd during this pass (``requires_grad`` is
  switched off and restored), so no batch-summed weight gradient is computed and thrown away.
* **fallback**: ``torch.func.vmap(torch.func.grad(...))`` over single examples, restricted to the
  parameters no own rule covers (any other module type, parametrised or weight-tied parameters
  shared with such a module, BatchNorm without running statistics). It is also the test oracle
  (``engine="vmap"``). The first time a module type falls back, a ``UserWarning`` names it.

Conventions
-----------
* **Columns.** Column block j of ``G`` is ``list(model.parameters())[j]`` flattened in row-major
  (``p.reshape(-1)``) order, for the parameters with ``requires_grad=True``, in the order
  ``model.parameters()`` yields them (a parameter shared by two modules appears once).
  :func:`parameter_layout` lists the blocks with their names and column ranges.
* **Evaluation mode.** The model is put in ``eval()`` mode for the computation, as the paper did
  (BatchNorm uses its running statistics, dropout is off), and every submodule's ``training`` flag
  is restored afterwards.
* **Loss.** ``loss_fn(outputs, targets)`` must return one loss per example, shape ``(n,)``, e.g.
  ``torch.nn.CrossEntropyLoss(reduction="none")``. Row k of ``G`` is the gradient of that loss
  for example k (not of a batch mean).
* **Independence.** The own engine back-propagates Σ_k f_k once, so it assumes that in eval mode
  example k's output depends only on example k (true for every standard layer in eval mode).

Used in: Part IV-a (gradient-noise spectrum of real networks), via :mod:`vdlib.deep.noise_spectrum`.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import torch
from torch import nn
import torch.nn.functional as F

from ..progress import progress as progress_bar

__all__ = [
    "ParamBlock",
    "parameter_layout",
    "engine_plan",
    "per_sample_gradients",
    "per_sample_gradient_chunks",
    "GradientChunks",
    "CHUNK_MEMORY_BUDGET",
    "auto_chunk_size",
]

#: Temporary memory per forward/backward pass that the automatic ``chunk_size`` aims for
#: (activations, output gradients and unfolded conv inputs of one chunk), in bytes.
CHUNK_MEMORY_BUDGET = 96 * 2**20
#: Bounds of the automatic chunk size (examples per pass).
MIN_AUTO_CHUNK, MAX_AUTO_CHUNK = 16, 4096

ENGINES = ("auto", "own", "vmap")

# module types whose fallback has already been announced (one warning per type per process)
_WARNED_TYPES: set[str] = set()


# --------------------------------------------------------------------------------------------
# layout and plan
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ParamBlock:
    """One parameter's block of columns in ``G``: ``G[:, start:stop]`` is its flattened gradient."""

    name: str
    shape: tuple[int, ...]
    start: int
    stop: int

    @property
    def numel(self) -> int:
        return self.stop - self.start


def _trainable(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    return [(n, p) for n, p in model.named_parameters() if p.requires_grad]


def parameter_layout(model: nn.Module) -> list[ParamBlock]:
    """The column blocks of the per-sample gradient matrix, in ``model.parameters()`` order.

    Only parameters with ``requires_grad=True`` get columns; a shared (tied) parameter appears
    once, under its first name. ``layout[-1].stop`` is d.

    Examples
    --------
    >>> import torch
    >>> [(b.name, b.start, b.stop) for b in parameter_layout(torch.nn.Linear(3, 2))]
    [('weight', 0, 6), ('bias', 6, 8)]
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    blocks, start = [], 0
    for name, p in _trainable(model):
        blocks.append(ParamBlock(name, tuple(p.shape), start, start + p.numel()))
        start += p.numel()
    return blocks


def _is_plain(module: nn.Module, base: type) -> bool:
    """``module`` is a ``base`` whose forward is ``base.forward`` (no overriding subclass)."""
    return isinstance(module, base) and type(module).forward is base.forward


def _rule_for(module: nn.Module) -> tuple[str | None, str]:
    """(rule name, reason) for the module's own parameters; rule None means: fall back."""
    own = dict(module._parameters)
    if not own or all(p is None for p in own.values()):
        return None, "no parameters"
    if "parametrizations" in module._modules:
        return None, "parametrised parameters"
    if _is_plain(module, nn.Linear):
        return "linear", ""
    if _is_plain(module, nn.Conv2d):
        return "conv2d", ""
    if isinstance(module, nn.modules.batchnorm._BatchNorm) and type(module).forward is nn.modules.batchnorm._BatchNorm.forward:
        if module.running_mean is None or module.running_var is None:
            return None, ("BatchNorm without running statistics normalises with batch statistics even in eval "
                          "mode, so the fallback treats each example as its own batch")
        return "batchnorm", ""
    return None, f"no own rule for {type(module).__name__}"


@dataclass
class _Plan:
    layout: list[ParamBlock]
    d: int
    # module -> (rule, {attr name: (param, start, stop)})
    own: dict
    # parameter full name -> (param, start, stop) for the vmap route
    fallback: dict
    fallback_types: dict  # type name -> reason


def _make_plan(model: nn.Module, engine: str) -> _Plan:
    layout = parameter_layout(model)
    d = layout[-1].stop if layout else 0
    by_id = {}
    for (name, p), blk in zip(_trainable(model), layout):
        by_id[id(p)] = (name, p, blk.start, blk.stop)
    # which modules register each trainable parameter
    owners: dict[int, list] = {pid: [] for pid in by_id}
    for mod in model.modules():
        for attr, p in mod._parameters.items():
            if p is not None and id(p) in owners:
                owners[id(p)].append((mod, attr))
    own: dict = {}
    fallback: dict = {}
    fallback_types: dict = {}
    for pid, (name, p, start, stop) in by_id.items():
        mods = owners[pid]
        rules = [_rule_for(m) for m, _ in mods]
        if engine != "vmap" and mods and all(r is not None for r, _ in rules):
            for (mod, attr), (rule, _) in zip(mods, rules):
                own.setdefault(mod, (rule, {}))[1][attr] = (p, start, stop)
        else:
            fallback[name] = (p, start, stop)
            if engine != "vmap":
                for (mod, _), (rule, reason) in zip(mods, rules):
                    if rule is None:
                        fallback_types.setdefault(type(mod).__name__, reason)
                if not mods:  # pragma: no cover - a parameter always has an owner module
                    fallback_types.setdefault("<unowned>", "parameter without an owning module")
    return _Plan(layout, d, own, fallback, fallback_types)


def engine_plan(model: nn.Module, engine: str = "auto") -> dict[str, str]:
    """Which route computes each parameter's per-sample gradient: ``{name: "own:<rule>" | "vmap"}``.

    ``engine`` is ``"auto"`` (own rules where they exist), ``"own"`` (same plan; the computation
    refuses to fall back) or ``"vmap"`` (everything through ``torch.func``).
    """
    engine = _check_engine(engine)
    plan = _make_plan(model, engine)
    routes = {name: "vmap" for name in plan.fallback}
    id_to_name = {id(p): n for n, p in _trainable(model)}
    for _mod, (rule, params) in plan.own.items():
        for _attr, (p, _s, _e) in params.items():
            routes[id_to_name[id(p)]] = f"own:{rule}"
    return {blk.name: routes[blk.name] for blk in plan.layout}


def _check_engine(engine) -> str:
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(map(repr, ENGINES))}, got {engine!r}")
    return engine


# --------------------------------------------------------------------------------------------
# own rules (called from tensor hooks during the backward pass)
# --------------------------------------------------------------------------------------------
def _put(view: torch.Tensor, value: torch.Tensor, first: bool) -> None:
    if first:
        view.copy_(value)
    else:
        view.add_(value)


def _linear_rule(mod, params, a, go, rows, written):
    n = a.shape[0]
    if "weight" in params:
        p, s, e = params["weight"]
        view = rows[:, s:e].view(n, p.shape[0], p.shape[1])
        first = id(p) not in written
        if a.dim() == 2:
            if first:
                torch.mul(go.unsqueeze(2), a.unsqueeze(1), out=view)
            else:
                view.addcmul_(go.unsqueeze(2), a.unsqueeze(1))
        else:
            a2 = a.reshape(n, -1, a.shape[-1])
            g2 = go.reshape(n, -1, go.shape[-1]).transpose(1, 2)
            if first:
                torch.bmm(g2, a2, out=view)
            else:
                view.baddbmm_(g2, a2)
        written.add(id(p))
    if "bias" in params:
        p, s, e = params["bias"]
        val = go if go.dim() == 2 else go.reshape(n, -1, go.shape[-1]).sum(1)
        _put(rows[:, s:e], val, id(p) not in written)
        written.add(id(p))


def _conv2d_rule(mod: nn.Conv2d, params, a, go, rows, written):
    n = a.shape[0]
    if "weight" in params:
        p, s, e = params["weight"]
        padding = mod.padding
        if isinstance(padding, str) or mod.padding_mode != "zeros":
            mode = "constant" if mod.padding_mode == "zeros" else mod.padding_mode
            a = F.pad(a, mod._reversed_padding_repeated_twice, mode=mode)
            padding = 0
        unf = F.unfold(a, mod.kernel_size, dilation=mod.dilation, padding=padding, stride=mod.stride)
        g = mod.groups
        cout = p.shape[0]
        L = unf.shape[-1]
        g3 = go.reshape(n, cout, L)
        first = id(p) not in written
        if g == 1:
            view = rows[:, s:e].view(n, cout, -1)
            if first:
                torch.bmm(g3, unf.transpose(1, 2), out=view)
            else:
                view.baddbmm_(g3, unf.transpose(1, 2))
        else:
            unf_g = unf.view(n, g, -1, L)
            g_g = g3.view(n, g, cout // g, L)
            val = torch.matmul(g_g, unf_g.transpose(-1, -2))  # (n, g, cout/g, cin/g·k²)
            _put(rows[:, s:e].view(n, g, cout // g, -1), val, first)
        written.add(id(p))
    if "bias" in params:
        p, s, e = params["bias"]
        _put(rows[:, s:e], go.sum(dim=(2, 3)), id(p) not in written)
        written.add(id(p))


def _batchnorm_rule(mod, params, a, go, rows, written):
    c = a.shape[1]
    spatial = tuple(range(2, a.dim()))
    if "weight" in params:
        p, s, e = params["weight"]
        shape = (1, c) + (1,) * len(spatial)
        xhat = (a - mod.running_mean.view(shape)) * torch.rsqrt(mod.running_var.view(shape) + mod.eps)
        prod = xhat.mul_(go)
        val = prod.sum(dim=spatial) if spatial else prod
        _put(rows[:, s:e], val, id(p) not in written)
        written.add(id(p))
    if "bias" in params:
        p, s, e = params["bias"]
        val = go.sum(dim=spatial) if spatial else go
        _put(rows[:, s:e], val, id(p) not in written)
        written.add(id(p))


_RULES = {"linear": _linear_rule, "conv2d": _conv2d_rule, "batchnorm": _batchnorm_rule}


# --------------------------------------------------------------------------------------------
# the two routes for one chunk of examples
# --------------------------------------------------------------------------------------------
def _call_loss(loss_fn, outputs, y):
    return loss_fn(outputs) if y is None else loss_fn(outputs, y)


def _check_loss_shape(loss: torch.Tensor, n: int) -> None:
    if not isinstance(loss, torch.Tensor):
        raise TypeError(f"loss_fn must return a tensor, got {type(loss).__name__}")
    if loss.shape != (n,):
        hint = ("a scalar: build the loss with reduction='none' (e.g. torch.nn.CrossEntropyLoss(reduction='none'))"
                if loss.dim() == 0 else
                f"shape {tuple(loss.shape)}: reduce every dimension but the first inside loss_fn")
        raise ValueError(f"loss_fn must return one loss per example, shape ({n},), but returned {hint}")


class _Anchor(torch.autograd.Function):
    """Identity on a layer output that does not require grad, linking it to a dummy leaf.

    The output is returned in place (``mark_dirty``: no copy), so later in-place layers such as
    ``ReLU(inplace=True)`` still work, and a backward pass towards the dummy leaf reaches the
    tensor hook on it. The backward returns a zero scalar for the dummy: no parameter gradient is
    ever formed by autograd.
    """

    @staticmethod
    def forward(ctx, x, dummy):
        ctx.mark_dirty(x)
        return x

    @staticmethod
    def backward(ctx, grad):
        return None, grad.new_zeros(())


def _own_chunk(model, loss_fn, x, y, rows, plan: _Plan):
    written: set[int] = set()
    dummy = torch.zeros((), dtype=rows.dtype, device=rows.device, requires_grad=True)
    anchored = []

    def make_fwd_hook(mod, rule, params):
        fn = _RULES[rule]

        def fwd_hook(module, inputs, output):
            a = inputs[0].detach()
            replaced = None
            if not output.requires_grad:
                if output._is_view():
                    output = output.clone()
                output = _Anchor.apply(output, dummy)
                anchored.append(True)
                replaced = output
            output.register_hook(lambda go: fn(mod, params, a, go.detach(), rows, written))
            return replaced

        return fwd_hook

    handles = [mod.register_forward_hook(make_fwd_hook(mod, rule, params)) for mod, (rule, params) in plan.own.items()]
    try:
        with torch.enable_grad():
            out = model(x)
            loss = _call_loss(loss_fn, out, y)
            _check_loss_shape(loss, x.shape[0])
            if anchored and loss.requires_grad:
                torch.autograd.grad(loss.sum(), [dummy], allow_unused=True)
    finally:
        for h in handles:
            h.remove()
    # parameters the loss did not reach (unused module, or a zero path) have zero gradient
    for _mod, (_rule, params) in plan.own.items():
        for p, s, e in params.values():
            if id(p) not in written:
                rows[:, s:e].zero_()
                written.add(id(p))


def _vmap_chunk(model, loss_fn, x, y, rows, plan: _Plan):
    from torch.func import functional_call, grad, vmap

    if not plan.fallback:
        return
    base = {name: p.detach() for name, p in model.named_parameters()}
    buffers = {name: b.detach() for name, b in model.named_buffers()}
    sub = {name: p.detach() for name, (p, _s, _e) in plan.fallback.items()}

    def one(sub_params, x1, y1):
        params = dict(base)
        params.update(sub_params)
        out = functional_call(model, (params, buffers), (x1.unsqueeze(0),))
        loss = _call_loss(loss_fn, out, None if y1 is None else y1.unsqueeze(0))
        return loss.sum()

    if y is None:
        grads = vmap(grad(lambda sp, x1: one(sp, x1, None)), in_dims=(None, 0))(sub, x)
    else:
        grads = vmap(grad(one), in_dims=(None, 0, 0))(sub, x, y)
    n = x.shape[0]
    for name, (_p, s, e) in plan.fallback.items():
        rows[:, s:e].copy_(grads[name].reshape(n, e - s))


def _warn_fallback(plan: _Plan) -> None:
    for tname, reason in plan.fallback_types.items():
        if tname not in _WARNED_TYPES:
            _WARNED_TYPES.add(tname)
            warnings.warn(
                f"per_sample_gradients: {tname} parameters use the torch.func (vmap) fallback ({reason}); "
                "this is correct but slower than the own engine. Shown once per module type.",
                UserWarning,
                stacklevel=4,
            )


# --------------------------------------------------------------------------------------------
# public entry points
# --------------------------------------------------------------------------------------------
def _validate(model, inputs, targets, chunk_size, engine):
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    engine = _check_engine(engine)
    if not isinstance(inputs, torch.Tensor):
        raise TypeError(f"inputs must be a torch.Tensor with the examples along the first axis, got {type(inputs).__name__}")
    if inputs.dim() == 0:
        raise ValueError("inputs must have a leading example axis, got a 0-d tensor; use inputs[None]")
    N = inputs.shape[0]
    if N == 0:
        raise ValueError("inputs holds no examples (N = 0): pass at least one example")
    if targets is not None:
        if not isinstance(targets, torch.Tensor):
            raise TypeError(f"targets must be a torch.Tensor (or None), got {type(targets).__name__}")
        if targets.dim() == 0 or targets.shape[0] != N:
            got = "a 0-d tensor" if targets.dim() == 0 else f"{targets.shape[0]} targets"
            raise ValueError(f"inputs has {N} examples but targets has {got}: pass one target per example")
    if chunk_size is not None and (isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1):
        raise ValueError(f"chunk_size must be a positive integer (examples per pass) or None (automatic), got {chunk_size!r}")
    plan = _make_plan(model, engine)
    if plan.d == 0:
        raise ValueError(
            f"{type(model).__name__} has no parameters with requires_grad=True, so there is no gradient to compute; "
            "unfreeze some parameters (p.requires_grad_(True))"
        )
    if engine == "own" and plan.fallback:
        names = ", ".join(plan.fallback)
        raise ValueError(
            f"engine='own' has no rule for the parameters {names} ({'; '.join(f'{k}: {v}' for k, v in plan.fallback_types.items())}); "
            "use engine='auto' to compute them with the torch.func fallback"
        )
    if chunk_size is None:
        chunk_size = auto_chunk_size(model, inputs[:1])
    return engine, N, chunk_size, plan


def auto_chunk_size(model: nn.Module, example: torch.Tensor, budget: int = CHUNK_MEMORY_BUDGET) -> int:
    """Examples per pass so that one pass's temporaries stay near ``budget`` bytes.

    A forward pass of one example (eval mode, no grad) counts the floats a pass keeps per example:
    every leaf module's output (activations and, in the backward pass, their gradients, hence ×2)
    plus the unfolded input of every Conv2d (Cin·k²·L). The result is clamped to
    [:data:`MIN_AUTO_CHUNK`, :data:`MAX_AUTO_CHUNK`]. The same network thus runs in large chunks
    when its activations are small (an MLP: all N at once) and in small ones for a CNN.
    """
    floats = [0]

    def hook(mod, inputs, output):
        if isinstance(output, torch.Tensor):
            floats[0] += 2 * output[:1].numel()
        if isinstance(mod, nn.Conv2d) and isinstance(output, torch.Tensor):
            cin_k = mod.in_channels * math.prod(mod.kernel_size)
            floats[0] += cin_k * output.shape[-1] * output.shape[-2]

    leaves = [m for m in model.modules() if not list(m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    try:
        with _EvalAndFrozen(model), torch.no_grad():
            p = next(iter(model.parameters()), None)
            model(example[:1].to(p.device) if p is not None else example[:1])
    finally:
        for h in handles:
            h.remove()
    per_example = max(4 * floats[0], 1)
    return int(min(MAX_AUTO_CHUNK, max(MIN_AUTO_CHUNK, budget // per_example)))


def _new_buffer(shape, dtype, device) -> torch.Tensor:
    """An uninitialised tensor; on the CPU allocated by NumPy and shared with torch.

    NumPy's allocator marks large blocks for transparent huge pages (``madvise``), which makes the
    first write of a fresh N×d buffer about 3× faster than torch's default allocation on Linux
    (fewer page faults). The result is an ordinary tensor.
    """
    if torch.device(device).type == "cpu" and dtype in (torch.float32, torch.float64):
        import numpy as np

        return torch.from_numpy(np.empty(shape, dtype=np.float32 if dtype == torch.float32 else np.float64))
    return torch.empty(shape, dtype=dtype, device=device)


class _EvalAndFrozen:
    """Context: model in eval mode with all parameters frozen; restores both afterwards."""

    def __init__(self, model):
        self.model = model

    def __enter__(self):
        self.modes = [(m, m.training) for m in self.model.modules()]
        self.flags = [(p, p.requires_grad) for p in self.model.parameters()]
        self.model.eval()
        for p, _ in self.flags:
            p.requires_grad_(False)
        return self

    def __exit__(self, *exc):
        for p, flag in self.flags:
            p.requires_grad_(flag)
        for m, mode in self.modes:
            m.training = mode
        return False


class GradientChunks:
    """Iterable over chunks of the per-sample gradient matrix: yields ``(start, G_chunk)``.

    ``G_chunk`` has shape ``(m, d)`` (m ≤ ``chunk_size``) and holds rows ``start:start+m`` of ``G``.
    **The same buffer is reused for every chunk**: copy a chunk if you need it after the next one
    is produced. Attributes ``n`` (N), ``d`` and ``layout`` describe the full matrix. Made by
    :func:`per_sample_gradient_chunks`; consumed by :func:`vdlib.deep.noise_spectrum.diffusion_spectrum`.
    """

    def __init__(self, model, loss_fn, inputs, targets, chunk_size, engine, progress):
        self.model, self.loss_fn, self.inputs, self.targets = model, loss_fn, inputs, targets
        self.engine, self.n, self.chunk_size, self._plan = _validate(model, inputs, targets, chunk_size, engine)
        self.d = self._plan.d
        self.layout = self._plan.layout
        self.progress = progress

    def __len__(self) -> int:
        return math.ceil(self.n / self.chunk_size)

    def _param(self):
        return next(p for p in self.model.parameters() if p.requires_grad)

    def fill(self, out: torch.Tensor) -> torch.Tensor:
        """Write all N rows into ``out`` (shape (N, d)), chunk by chunk; returns ``out``."""
        for start, rows in self._iter(out):
            pass
        return out

    def __iter__(self):
        p = self._param()
        m = min(self.chunk_size, self.n)
        buf = _new_buffer((m, self.d), p.dtype, p.device)
        for start, rows in self._iter(None, buf):
            yield start, rows

    def _iter(self, out, buf=None):
        plan = self._plan
        p = self._param()
        _warn_fallback(plan)
        starts = range(0, self.n, self.chunk_size)
        if self.progress:
            starts = progress_bar(starts, enabled=True, desc="per-sample gradients")
        with _EvalAndFrozen(self.model):
            for start in starts:
                stop = min(start + self.chunk_size, self.n)
                x = self.inputs[start:stop].to(p.device).detach()
                y = None if self.targets is None else self.targets[start:stop].to(p.device).detach()
                rows = out[start:stop] if out is not None else buf[: stop - start]
                if plan.own:
                    _own_chunk(self.model, self.loss_fn, x, y, rows, plan)
                if plan.fallback:
                    if not plan.own:
                        with torch.no_grad():
                            _check_loss_shape(_call_loss(self.loss_fn, self.model(x[:1]), None if y is None else y[:1]), 1)
                    _vmap_chunk(self.model, self.loss_fn, x, y, rows, plan)
                yield start, rows


def per_sample_gradient_chunks(model: nn.Module, loss_fn, inputs: torch.Tensor, targets: torch.Tensor | None,
                               *, chunk_size: int | None = None, engine: str = "auto",
                               progress: bool = False) -> GradientChunks:
    """Stream the per-sample gradient matrix in chunks of rows (for spectra that never hold ``G``).

    Same arguments as :func:`per_sample_gradients`; returns a :class:`GradientChunks` iterable
    yielding ``(start, G[start:start+m])`` with a reused ``(chunk_size, d)`` buffer
    (``chunk_size`` as there: automatic by default).
    """
    return GradientChunks(model, loss_fn, inputs, targets, chunk_size, engine, progress)


def per_sample_gradients(model: nn.Module, loss_fn, inputs: torch.Tensor, targets: torch.Tensor | None,
                         out: torch.Tensor | None = None, *, chunk_size: int | None = None,
                         engine: str = "auto", progress: bool = False) -> torch.Tensor:
    """The N×d matrix of per-sample gradients ``G[k] = ∇_x f_k(x)`` (model in eval mode).

    Parameters
    ----------
    model : torch.nn.Module
        The network. It is evaluated in ``eval()`` mode (BatchNorm running statistics, no dropout,
        as in the paper); training flags and ``requires_grad`` flags are restored on return.
    loss_fn : callable
        ``loss_fn(outputs, targets) -> (n,)`` per-example losses (``reduction="none"``); with
        ``targets=None`` it is called as ``loss_fn(outputs)``.
    inputs : torch.Tensor
        Examples along the first axis, shape ``(N, ...)``.
    targets : torch.Tensor or None
        One target per example, shape ``(N, ...)``.
    out : torch.Tensor, optional
        A preallocated ``(N, d)`` tensor (the parameters' dtype, normally float32, on their
        device) to write into and return; reuse it across calls to avoid allocating N·d floats.
    chunk_size : int, optional
        Examples per forward/backward pass; bounds the temporary memory beyond ``out``. By default
        :func:`auto_chunk_size` picks it from the network's activation size (about
        :data:`CHUNK_MEMORY_BUDGET` bytes of temporaries per pass).
    engine : {"auto", "own", "vmap"}
        ``"auto"``: own rules for Linear, Conv2d and BatchNorm (eval, running statistics), the
        ``torch.func`` fallback for every other parameter, with one warning per module type.
        ``"own"``: refuse instead of falling back. ``"vmap"``: ``torch.func`` only (the oracle).
    progress : bool
        Show a progress bar over chunks (:func:`vdlib.progress.progress`); the caller decides.

    Returns
    -------
    torch.Tensor
        ``G`` of shape ``(N, d)``; columns ordered as in :func:`parameter_layout` (the order of
        ``model.parameters()``, each parameter flattened row-major, trainable ones only).

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Linear(3, 2)
    >>> G = per_sample_gradients(net, torch.nn.CrossEntropyLoss(reduction="none"),
    ...                          torch.randn(5, 3), torch.tensor([0, 1, 1, 0, 1]))
    >>> tuple(G.shape)
    (5, 8)
    """
    chunks = GradientChunks(model, loss_fn, inputs, targets, chunk_size, engine, progress)
    p = chunks._param()
    shape = (chunks.n, chunks.d)
    if out is None:
        out = _new_buffer(shape, p.dtype, p.device)
    else:
        if not isinstance(out, torch.Tensor):
            raise TypeError(
                f"out must be a torch.Tensor of shape {shape}, got {type(out).__name__}; "
                "wrap a NumPy array with torch.from_numpy(array)"
            )
        if tuple(out.shape) != shape or out.dtype != p.dtype or out.device != p.device:
            raise ValueError(
                f"out must have shape {shape}, dtype {p.dtype} and device {p.device} (N examples × d parameters); "
                f"got shape {tuple(out.shape)}, dtype {out.dtype}, device {out.device}; allocate it with "
                f"torch.empty({shape}, dtype={p.dtype})"
            )
        if not out.is_contiguous():
            raise ValueError("out must be a contiguous (row-major) tensor; pass out.contiguous() or a fresh torch.empty buffer")
    return chunks.fill(out)
