"""The paper's networks, with their exact parameter counts, and a factory ``build(name)``.

Chaudhari & Soatto (ICLR 2018, §IV) use deliberately small networks, so that the diffusion
matrix :math:`D\\in\\mathbb R^{d\\times d}` can be formed and diagonalised. The architectures follow
the authors' ``code/models.py``; the counts below are what
:func:`count_parameters` returns for the modules built here (learnable parameters only; BatchNorm
running statistics are buffers, not parameters):

================  =====================  ==============  =========================================
name              input (one example)    classes         parameters ``d``
================  =====================  ==============  =========================================
``small-lenet``   ``1×28×28`` (MNIST)    10              13,338
``small-fc``      49 values (7×7 image)  10              3,978
``tiny-fc``       49 values (7×7 image)  5 (default) / 4  917 / 900
``small-allcnn``  ``3×32×32`` (CIFAR)    10 / 100        26,982 / 29,412
================  =====================  ==============  =========================================

Layer by layer (BN = BatchNorm with affine weight and bias, every conv and linear layer has a bias):

* **small-lenet**: conv5×5(1→8)–BN–ReLU–maxpool3–dropout; conv5×5(8→16)–BN–ReLU–maxpool2–dropout;
  flatten (16·2·2 = 64); FC 64→128–BN–ReLU–dropout; FC 128→K. Spatial sizes 28→24→8→4→2.
  Dropout probability 0.1 (argument ``dropout``).
* **small-fc**: flatten(49) → FC 49→64–BN–ReLU → FC 64→K.
* **tiny-fc**: flatten(49) → FC 49→16–BN–ReLU → FC 16→K (the Fig. 3 network).
* **small-allcnn** (All-CNN-C of Springenberg et al. with BN, dropout 0): each conv is
  conv–BN–ReLU with padding 1 for 3×3 kernels: 3→12, 12→12, 12→12 stride 2 (32→16), 12→24,
  24→24, 24→24 stride 2 (16→8), 24→24, 24→24, 1×1 conv 24→K, then average-pool 8 → K logits.

The fully connected networks flatten whatever follows the batch dimension, so inputs of shape
``(n, 49)``, ``(n, 7, 7)`` and ``(n, 1, 7, 7)`` all work. :func:`check_input` gives the clear
error for anything else. Every model carries ``input_shape`` and ``num_classes`` attributes.

All models are plain :class:`torch.nn.Module` objects with fixed parameter names and order, so
``torch.func.functional_call`` (and ``vmap`` over stacked weights) applies to them unchanged.

Used in: Part IV (gradient-noise spectrum of real networks, long SGD trajectories).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from .. import checks

__all__ = [
    "SmallLeNet",
    "SmallFC",
    "TinyFC",
    "SmallAllCNN",
    "ModelSpec",
    "REGISTRY",
    "names",
    "build",
    "count_parameters",
    "input_shape",
    "check_input",
]


def _dropout_p(p) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= float(p) < 1.0:
        raise ValueError(f"dropout must be a probability in [0, 1), got {p!r}; use e.g. dropout=0.1 (or 0 for none)")
    return float(p)


class SmallLeNet(nn.Module):
    """small-lenet (code class ``lenets``, c1=8, c2=16, c3=128): 13,338 parameters for 10 classes.

    Parameters
    ----------
    num_classes : int
        Number of output logits ``K`` (10 for MNIST).
    dropout : float
        Dropout probability after each block (the paper: 0.1).

    Input ``(n, 1, 28, 28)``, output ``(n, K)`` logits.
    """

    input_shape = (1, 28, 28)

    def __init__(self, num_classes: int = 10, dropout: float = 0.1):
        super().__init__()
        self.num_classes = checks.integer(num_classes, "num_classes", minimum=2)
        p = _dropout_p(dropout)
        c1, c2, c3 = 8, 16, 128
        self.features = nn.Sequential(
            nn.Conv2d(1, c1, kernel_size=5),  # 28 -> 24
            nn.BatchNorm2d(c1),
            nn.ReLU(),
            nn.MaxPool2d(3, 3),  # 24 -> 8
            nn.Dropout(p),
            nn.Conv2d(c1, c2, kernel_size=5),  # 8 -> 4
            nn.BatchNorm2d(c2),
            nn.ReLU(),
            nn.MaxPool2d(2, 2),  # 4 -> 2
            nn.Dropout(p),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(c2 * 2 * 2, c3),
            nn.BatchNorm1d(c3),
            nn.ReLU(),
            nn.Dropout(p),
            nn.Linear(c3, self.num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class _FC(nn.Module):
    """flatten(49) → FC 49→hidden–BN–ReLU → FC hidden→K."""

    input_shape = (49,)

    def __init__(self, num_classes: int, hidden: int, n_inputs: int = 49):
        super().__init__()
        self.num_classes = checks.integer(num_classes, "num_classes", minimum=2)
        self.hidden = checks.integer(hidden, "hidden", minimum=1)
        n_inputs = checks.integer(n_inputs, "n_inputs", minimum=1)
        self.input_shape = (n_inputs,)
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(n_inputs, self.hidden),
            nn.BatchNorm1d(self.hidden),
            nn.ReLU(),
            nn.Linear(self.hidden, self.num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class SmallFC(_FC):
    """small-fc (code class ``fclenets``, c=64): 3,978 parameters for 10 classes on 7×7 inputs.

    Parameters
    ----------
    num_classes : int
        Number of output logits (10; the authors' loader ``halfmnist(opt, sz=7, nc=2)`` keeps
        only the digits below ``nc`` = 2 by default, so their run may have used 2 classes).
    hidden : int
        Width of the hidden layer (64).

    Input ``(n, 49)`` or ``(n, 7, 7)`` or ``(n, 1, 7, 7)``: a 7×7 down-sampled image.
    """

    def __init__(self, num_classes: int = 10, hidden: int = 64, n_inputs: int = 49):
        super().__init__(num_classes, hidden, n_inputs)


class TinyFC(_FC):
    """tiny-fc (code class ``fclenett``, c=16): 917 parameters for 5 classes, 900 for 4.

    The network of the long-trajectory experiment (Fig. 3). Input as for :class:`SmallFC`.
    """

    def __init__(self, num_classes: int = 5, hidden: int = 16, n_inputs: int = 49):
        super().__init__(num_classes, hidden, n_inputs)


def _conv_bn_relu(c_in: int, c_out: int, k: int, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, k, stride=stride, padding=k // 2), nn.BatchNorm2d(c_out), nn.ReLU()]


class SmallAllCNN(nn.Module):
    """small-allcnn (code class ``allcnns``, c1=12, c2=24): 26,982 parameters for 10 classes, 29,412 for 100.

    Parameters
    ----------
    num_classes : int
        10 (CIFAR-10) or 100 (CIFAR-100); any K >= 2 works.
    dropout : float
        Dropout after each stride-2 block; the paper uses 0 (then no dropout module is created).

    Input ``(n, 3, 32, 32)``, output ``(n, K)`` logits.
    """

    input_shape = (3, 32, 32)

    def __init__(self, num_classes: int = 10, dropout: float = 0.0):
        super().__init__()
        self.num_classes = checks.integer(num_classes, "num_classes", minimum=2)
        p = _dropout_p(dropout)
        c1, c2 = 12, 24
        drop = [nn.Dropout(p)] if p > 0 else []
        layers: list[nn.Module] = [
            *_conv_bn_relu(3, c1, 3),
            *_conv_bn_relu(c1, c1, 3),
            *_conv_bn_relu(c1, c1, 3, stride=2),  # 32 -> 16
            *drop,
            *_conv_bn_relu(c1, c2, 3),
            *_conv_bn_relu(c2, c2, 3),
            *_conv_bn_relu(c2, c2, 3, stride=2),  # 16 -> 8
            *drop,
            *_conv_bn_relu(c2, c2, 3),
            *_conv_bn_relu(c2, c2, 3),
            *_conv_bn_relu(c2, self.num_classes, 1),
            nn.AvgPool2d(8),  # 8 -> 1
            nn.Flatten(),
        ]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


@dataclass(frozen=True)
class ModelSpec:
    """One registry entry: how to build a paper network and what it expects."""

    name: str
    factory: Callable[..., nn.Module]
    input_shape: tuple[int, ...]
    default_classes: int
    data: str
    description: str


REGISTRY: dict[str, ModelSpec] = {
    s.name: s
    for s in (
        ModelSpec("small-lenet", SmallLeNet, (1, 28, 28), 10, "MNIST 28×28",
                  "conv5(8)-BN-ReLU-pool3-drop, conv5(16)-BN-ReLU-pool2-drop, FC128-BN-ReLU-drop, FC K"),
        ModelSpec("small-fc", SmallFC, (49,), 10, "MNIST down-sampled to 7×7",
                  "FC 49→64-BN-ReLU, FC K"),
        ModelSpec("tiny-fc", TinyFC, (49,), 5, "MNIST 7×7, a few classes (Fig. 3)",
                  "FC 49→16-BN-ReLU, FC K"),
        ModelSpec("small-allcnn", SmallAllCNN, (3, 32, 32), 10, "CIFAR-10/100, GCN + ZCA",
                  "All-CNN-C with BN: 3×3 convs 12,12,12/2,24,24,24/2,24,24, 1×1 K, avgpool 8"),
    )
}


def names() -> list[str]:
    """The registered model names, e.g. ``['small-lenet', 'small-fc', 'tiny-fc', 'small-allcnn']``."""
    return list(REGISTRY)


def _spec(name: str) -> ModelSpec:
    if not isinstance(name, str):
        raise TypeError(f"model name must be a string, got {name!r}; choose one of {', '.join(REGISTRY)}")
    key = name.strip().lower().replace("_", "-")
    if key not in REGISTRY:
        raise ValueError(f"unknown model {name!r}: choose one of {', '.join(REGISTRY)}")
    return REGISTRY[key]


def build(name: str, num_classes: int | None = None, *, seed: int | None = None, **kwargs) -> nn.Module:
    """Build a paper network by name.

    Parameters
    ----------
    name : str
        One of :func:`names` (``"small-lenet"``, ``"small-fc"``, ``"tiny-fc"``, ``"small-allcnn"``;
        underscores are accepted for dashes).
    num_classes : int, optional
        Number of output logits; default from the registry (10, 10, 5, 10).
    seed : int, optional
        When given, the initial weights are drawn under ``torch.random.fork_rng`` seeded with it,
        so the same seed gives the same network and the global RNG is left untouched.
    **kwargs
        Passed to the model class (``dropout=``, ``hidden=``).

    Returns
    -------
    torch.nn.Module
        In training mode, on the CPU, float32, with ``input_shape`` and ``num_classes`` attributes.
    """
    spec = _spec(name)
    k = spec.default_classes if num_classes is None else num_classes
    if seed is None:
        model = spec.factory(num_classes=k, **kwargs)
    else:
        seed = checks.integer(seed, "seed", minimum=0)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = spec.factory(num_classes=k, **kwargs)
    model.model_name = spec.name
    return model


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """The number of learnable scalars ``d``: ``sum(p.numel())`` (BN running stats excluded)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def input_shape(model_or_name) -> tuple[int, ...]:
    """The shape of one example, e.g. ``(1, 28, 28)``, for a model or a registered name."""
    if isinstance(model_or_name, str):
        return _spec(model_or_name).input_shape
    shape = getattr(model_or_name, "input_shape", None)
    if shape is None:
        raise ValueError(
            f"{type(model_or_name).__name__} has no input_shape attribute: set model.input_shape = (C, H, W) "
            "or build the model with vdlib.deep.models.build"
        )
    return tuple(shape)


def check_input(model: nn.Module, X: torch.Tensor, name: str = "X") -> None:
    """Raise a clear ``ValueError`` when ``X`` (a batch, first axis = examples) does not fit ``model``.

    A model without an ``input_shape`` attribute is not checked. Fully connected models accept any
    trailing shape with the right number of values (``(n, 49)``, ``(n, 7, 7)``, ``(n, 1, 7, 7)``).
    """
    shape = getattr(model, "input_shape", None)
    if shape is None:
        return
    shape = tuple(shape)
    got = tuple(X.shape[1:])
    if X.ndim < 2:
        raise ValueError(f"{name} must be a batch of shape (n, {', '.join(map(str, shape))}), got shape {tuple(X.shape)}")
    if len(shape) == 1:
        ok = math.prod(got) == shape[0]
    else:
        ok = got == shape
    if not ok:
        label = getattr(model, "model_name", type(model).__name__)
        hint = ""
        if len(shape) == 1 and math.prod(got) != shape[0] and shape[0] == 49:
            hint = " (down-sample the images to 7×7 first, e.g. F.adaptive_avg_pool2d(x, 7))"
        elif len(shape) == 3 and len(got) == 2 and got == shape[1:]:
            hint = f" (add the channel axis: {name}.unsqueeze(1))"
        elif len(shape) == 3 and len(got) == 3 and got[-1] == shape[0] and got[:2] == shape[1:]:
            hint = f" (channels last: use {name}.permute(0, 3, 1, 2))"
        raise ValueError(
            f"{name} has examples of shape {got}, but {label} expects {shape}" + hint
        )
