"""The protocol of a trajectory run: every setting in :class:`Protocol` (JSON round trip), its values per
run profile (:func:`protocol`), the groups it can hold (:data:`CONTROLS`) and the seeds of its chains."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ... import checks
from ...deep import chains as ch

ARTIFACT_FORMAT = "vdlib.experiments.trajectory/1"

#: The groups a run can hold: what differs from the paper's setting ``"sgd"``.
CONTROLS: dict[str, str] = {
    "sgd": "the paper's setting: SGD, momentum 0.9, BatchNorm, mini-batches",
    "momentum0": "control (a): momentum 0",
    "langevin": "control (b): full-batch gradient + isotropic Gaussian noise of matched trace (reversible)",
    "nobn": "control (c): no BatchNorm",
}


#: ``Protocol.dataset`` values: "auto" (:func:`vdlib.deep.data.mnist_choice`) or a set asked for by name.
DATASETS = ("auto", "mnist", "fashion-mnist", "mnist-10k")


@dataclass(frozen=True)
class Protocol:
    """Every setting of a trajectory run (JSON round-trips through :meth:`as_dict` / :meth:`from_dict`).

    ``threads`` (torch CPU threads of every recording process, default 1) is part of the protocol: the
    records are bitwise reproducible for the same thread count, torch build and CPU, and a run resumes
    only with the count it was started with. ``max_weight_norm`` / ``max_loss`` are the divergence
    guard of :func:`vdlib.deep.chains.run_network_chains` (None turns one off). Protocols recorded
    before these fields existed read back with their defaults.
    """

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
    threads: int = 1
    max_weight_norm: float | None = ch.MAX_WEIGHT_NORM
    max_loss: float | None = ch.MAX_LOSS

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
        checks.integer(self.threads, "threads")
        for name in ("max_weight_norm", "max_loss"):
            if getattr(self, name) is not None:
                checks.positive(getattr(self, name), name)

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
    from ...config import current

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
