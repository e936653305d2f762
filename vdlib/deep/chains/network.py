"""The fully connected network of the chain engine: the flat-vector :class:`Layout` of one chain's
weights, the matching ``nn.Module`` (:func:`fc_module`, built by :func:`vdlib.deep.models.build`), and
conversions between the two."""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Sequence

import torch
from torch import nn

from ... import checks

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

    With BatchNorm this is :func:`vdlib.deep.models.build` (``"tiny-fc"``/``"small-fc"`` are the same
    class with another width). Without, a Linear–ReLU–Linear net whose two Linear layers get the
    *same* initial weights as the BN net built with the same ``seed`` (the BN weights are simply left
    out), so the no-BN control starts where the BN run starts.
    """
    from .. import models

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
