"""The steady-state protocol of Part IV: which runs, how long, on which data, with which seeds.

Why weight decay. With BatchNorm the loss does not change when the weights before a BN layer are
scaled, so SGD's noise pushes their norm outwards for ever (the gradient is orthogonal to θ and each
step adds ‖ηg‖² to ‖θ‖²); without weight decay the paper's run is a transient. Weight decay λ pulls
the norm back at the rate 2ηλ/(1 − μ) per step, so the norm, and with it everything else, settles
after a few relaxation times

    τ = (1 − μ) / (2 η λ)  steps.

For scale-invariant weights the steady state depends on η and λ only through ηλ (the effective
angular step), so the paper's η = 10⁻³ with λ = 5·10⁻² relaxes exactly as fast as the code's
η = 0.1 with λ = 5·10⁻⁴; η = 10⁻³ with λ = 5·10⁻⁴ (τ ≈ 10⁴ epochs here) is kept beside them as
what it is, a run whose window is shorter than its relaxation time.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ... import checks

FORMAT = "vdlib.experiments.steady_state/1"

#: group name -> what differs from the paper's setting (the first)
GROUPS: dict[str, str] = {
    "sgd": "SGD: mini-batches of b, momentum 0.9, BatchNorm (the paper's setting, with weight decay)",
    "momentum0": "control (a): the same with momentum 0",
    "langevin": "control (b): full-batch gradient + isotropic Gaussian noise at SGD's trace, matched every epoch",
    "nobn": "control (c): the same as SGD without BatchNorm",
}

#: the direction sets the trajectories are projected on (all shared by every chain of a group)
DIRECTION_SETS: dict[str, str] = {
    "noise": "top-2 eigenvectors of SGD's mini-batch noise covariance (∝ D) at the common start",
    "hessian": "top-2 eigenvectors of the Hessian at the common start",
    "pca": "top-2 principal components of the per-epoch increments on a held-out stretch",
}


@dataclass(frozen=True)
class Setting:
    """One learning rate and weight decay, and whether all groups run it or SGD alone (a transient)."""

    lr: float
    weight_decay: float
    groups: tuple[str, ...]
    burn_in: int | None = None   # this setting's minimum burn-in (default: the protocol's)

    @property
    def name(self) -> str:
        return f"lr{self.lr:g}_wd{self.weight_decay:g}"


@dataclass(frozen=True)
class SteadyProtocol:
    """Every setting of a steady-state run (JSON round trip through :meth:`as_dict` / :meth:`from_dict`)."""

    settings: tuple[Setting, ...]
    chains: int = 24
    control_b_chains: int | None = None  # chains of control (b), the costly group (default: chains)
    burn_in: int = 3000          # at least this many epochs from the common start before any record ...
    relaxations: float = 16.0    # ... and at least this many relaxation times τ of the unit ...
    burn_in_max: int = 10000     # ... but never more than this (a unit that needs more is reported as such)
    held_out: int = 200          # epochs whose increments give the PCA directions (not tested)
    window: int = 1500           # epochs recorded at every step and tested
    per_class: int = 512
    classes: tuple[int, ...] = (0, 1, 2, 3)
    dataset: str = "mnist-10k"
    model: str = "tiny-fc"
    batch_size: int = 128
    momentum: float = 0.9
    pretrain_lr: float = 0.1
    pretrain_max_epochs: int = 2000
    noise_batches: int = 8       # mini-batches per chain for SGD's trace, every epoch (control (b))
    direction_batches: int = 256  # mini-batches for the noise directions at the common start
    seed: int = 0
    data_seed: int = 0
    profile: str = "custom"

    def __post_init__(self):
        for name in ("chains", "window", "per_class", "batch_size", "noise_batches", "direction_batches"):
            checks.integer(getattr(self, name), name, minimum=2 if name != "batch_size" else 1)
        for name in ("burn_in", "burn_in_max", "held_out", "pretrain_max_epochs"):
            checks.integer(getattr(self, name), name, minimum=0)
        if self.held_out < 3:
            raise ValueError(f"held_out = {self.held_out} epochs: the PCA directions need ≥ 3 increments per chain")
        if not self.settings:
            raise ValueError("settings is empty: give at least one (lr, weight_decay) setting")
        for s in self.settings:
            checks.learning_rate(s.lr)
            if s.burn_in is not None:
                checks.integer(s.burn_in, "a setting's burn_in", minimum=0)
            if not (math.isfinite(s.weight_decay) and s.weight_decay >= 0):
                raise ValueError(f"weight_decay must be a finite number ≥ 0, got {s.weight_decay}")
            bad = [g for g in s.groups if g not in GROUPS]
            if bad or not s.groups:
                raise ValueError(f"groups must be names from {', '.join(GROUPS)}, got {list(s.groups)}")
            if "langevin" in s.groups and "sgd" not in s.groups:
                raise ValueError("control (b) is matched to the SGD group of the same setting: run 'sgd' too")
        if len({s.name for s in self.settings}) != len(self.settings):
            raise ValueError("two settings share a learning rate and weight decay")
        if self.control_b_chains is not None:
            checks.integer(self.control_b_chains, "control_b_chains", minimum=2)
            if self.control_b_chains > self.chains:
                raise ValueError(f"control_b_chains = {self.control_b_chains} exceeds chains = {self.chains}: control (b) "
                                 "is matched to the first control_b_chains SGD chains")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum}")

    def n_chains(self, group: str) -> int:
        """Chains of a group: ``control_b_chains`` for control (b), ``chains`` otherwise."""
        return self.control_b_chains if group == "langevin" and self.control_b_chains else self.chains

    def units(self) -> list[tuple[Setting, str]]:
        """Every (setting, group) pair: the unit of work, of parallelism and of resumption."""
        return [(s, g) for s in self.settings for g in s.groups]

    def relaxation_epochs(self, s: Setting, momentum: float | None = None, steps_per_epoch: int | None = None) -> float:
        """τ = (1 − μ)/(2ηλ) steps in epochs: how fast weight decay settles the weight norm (inf for λ = 0)."""
        mu = self.momentum if momentum is None else momentum
        spe = steps_per_epoch or math.ceil(self.per_class * len(self.classes) / self.batch_size)
        if s.weight_decay == 0:
            return math.inf
        return (1 - mu) / (2 * s.lr * s.weight_decay) / spe

    def burn_in_epochs(self, s: Setting, group: str) -> int:
        """The unit's burn-in: ``max(burn_in, relaxations·τ)`` epochs, capped at ``burn_in_max``."""
        base = self.burn_in if s.burn_in is None else s.burn_in
        tau = self.relaxation_epochs(s, momentum=0.0 if group == "momentum0" else None)
        need = base if math.isinf(tau) else max(base, math.ceil(self.relaxations * tau))
        return int(min(need, max(base, self.burn_in_max)))

    def as_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["settings"] = [{"lr": s.lr, "weight_decay": s.weight_decay, "groups": list(s.groups), "burn_in": s.burn_in}
                         for s in self.settings]
        d["classes"] = list(self.classes)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SteadyProtocol":
        d = dict(d)
        d["settings"] = tuple(Setting(float(s["lr"]), float(s["weight_decay"]), tuple(s["groups"]), s.get("burn_in"))
                              for s in d["settings"])
        d["classes"] = tuple(d["classes"])
        return cls(**d)


ALL_GROUPS = tuple(GROUPS)
DEFAULT_SETTINGS = (
    Setting(0.1, 5e-4, ALL_GROUPS),      # the code's learning rate
    Setting(1e-3, 5e-2, ALL_GROUPS, burn_in=10000),  # the paper's learning rate, the same ηλ (slower elsewhere)
    Setting(1e-3, 5e-4, ("sgd",)),       # the paper's learning rate, λ too small to settle: a transient
)

#: sizes per profile: ci (seconds), book (what a chapter affords live), full (the committed run)
SIZES = {
    "ci": dict(chains=4, control_b_chains=3, burn_in=20, burn_in_max=40, held_out=6, window=30, per_class=96, pretrain_max_epochs=30,
               direction_batches=16, noise_batches=4),
    "book": dict(chains=8, burn_in=600, burn_in_max=1200, held_out=50, window=300),
    "full": dict(chains=24, control_b_chains=12, burn_in=3000, held_out=200, window=1500),
}


def protocol(profile: str | None = None, **overrides) -> SteadyProtocol:
    """The protocol of a run profile, with ``overrides`` (e.g. ``settings=...``, ``chains=32``)."""
    from ...config import current

    cfg = current(profile)
    base: dict[str, Any] = dict(settings=DEFAULT_SETTINGS, profile=cfg.profile, **SIZES[cfg.profile])
    if cfg.profile in ("ci", "book"):
        base["settings"] = (Setting(0.1, 5e-4, ("sgd", "langevin")) if cfg.profile == "book"
                            else Setting(0.1, 5e-4, ALL_GROUPS),)
    unknown = set(overrides) - {f.name for f in dataclasses.fields(SteadyProtocol)}
    if unknown:
        raise TypeError(f"unknown protocol settings {sorted(unknown)}; known: "
                        f"{', '.join(f.name for f in dataclasses.fields(SteadyProtocol))}")
    base.update({k: v for k, v in overrides.items() if v is not None})
    if "classes" in base:
        base["classes"] = tuple(int(c) for c in base["classes"])
    return SteadyProtocol(**base)


def seed_for(p: SteadyProtocol, *stream: int) -> int:
    """A seed for one stream of the run (SeedSequence of the protocol seed and the stream's labels)."""
    return int(np.random.SeedSequence([p.seed, *stream]).generate_state(1, np.uint32)[0])


def chain_seeds(p: SteadyProtocol, s: Setting, group: str) -> list[int]:
    """The chains' seeds of a unit. Control (b)'s companion SGD chains use the SGD unit's seeds."""
    k = [x.name for x in p.settings].index(s.name)
    g = list(GROUPS).index(group)
    return [seed_for(p, 7, k, g, i) for i in range(p.n_chains(group))]
