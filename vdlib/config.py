"""Run profiles, seeding and device selection: the one place that decides problem sizes.

A *profile* names a scale for every experiment in the book:

========  =====================================  ==========================================
profile   used by                                 scale
========  =====================================  ==========================================
``ci``    pytest, pull-request builds             seconds per chapter; every code path runs
``book``  the published build (the default)       minutes per chapter on CPU
``full``  run by hand (GPU or long CPU runs)      the paper's scale; writes artifacts
========  =====================================  ==========================================

The profile comes from the ``profile=`` argument, else from the ``VDLIB_PROFILE``
environment variable, else ``book``. Sizes are looked up by name in :data:`SIZES`, so a
chapter never hard-codes a problem size: ``current().size("minibatch_mc_draws")``.

Used in: every chapter (setup cell).
"""
from __future__ import annotations

import contextlib
import os
import random
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

PROFILES = ("ci", "book", "full")
DEFAULT_PROFILE = "book"
ENV_PROFILE = "VDLIB_PROFILE"
ENV_DEVICE = "VDLIB_DEVICE"

# Problem sizes per experiment and profile.  Keys are "<chapter topic>_<quantity>".
SIZES: dict[str, dict[str, Any]] = {
    # chapter 01: mini-batch gradient noise
    "minibatch_mc_draws": {"ci": 20_000, "book": 200_000, "full": 2_000_000},
    "linreg_population_samples": {"ci": 20_000, "book": 200_000, "full": 2_000_000},
    # chapter 02: SGD as an SDE (stationary covariance of SGD against the OU / Lyapunov prediction)
    "sgd_chains": {"ci": 1_000, "book": 4_000, "full": 20_000},
    "sgd_steps": {"ci": 3_000, "book": 6_000, "full": 20_000},
    "widget_chains": {"ci": 200, "book": 500, "full": 2_000},
    "widget_steps": {"ci": 600, "book": 1_500, "full": 4_000},
    "sgd_sweep_chains": {"ci": 200, "book": 1_000, "full": 4_000},
    # chapter 04: the potential and the force (1-D grid for the FP solver and the closed form)
    "potential_grid_1d": {"ci": 801, "book": 2_001, "full": 8_001},
    "potential_grid_2d": {"ci": 141, "book": 201, "full": 301},
    # chapter 06: Wasserstein gradient flow and JKO (Corollary 8)
    "jko_particles": {"ci": 200, "book": 600, "full": 2_000},
    "jko_n_tau": {"ci": 4, "book": 6, "full": 7},
    "jko_fp_grid": {"ci": 800, "book": 1_600, "full": 3_200},
    "jko_fp_steps_per_unit": {"ci": 2_000, "book": 8_000, "full": 16_000},
    "jko_sde_particles": {"ci": 300, "book": 800, "full": 1_000},
    # chapter 03: the Fokker-Planck equation (SDE ensemble vs grid solution)
    "fokker_planck_particles": {"ci": 4_000, "book": 20_000, "full": 200_000},
    "fokker_planck_steps": {"ci": 1_500, "book": 3_000, "full": 10_000},
    # chapter 05: free energy along the Fokker-Planck flow (Theorem 5 on Example 19)
    "free_energy_grid": {"ci": 48, "book": 96, "full": 160},
    "free_energy_steps": {"ci": 400, "book": 800, "full": 2_000},
    # chapter 09: limit cycles (Example 19, Fig. 4): SDE ensemble per λ, noise-free orbit, widget, momentum
    "limit_cycles_particles": {"ci": 1_000, "book": 4_000, "full": 20_000},
    "limit_cycles_steps_per_unit": {"ci": 500, "book": 1_000, "full": 1_000},  # dt = 1/this
    "limit_cycles_relax_time": {"ci": 3.0, "book": 4.0, "full": 10.0},
    "limit_cycles_measure_steps": {"ci": 300, "book": 1_000, "full": 10_000},
    "limit_cycles_orbit_time": {"ci": 400.0, "book": 1_000.0, "full": 40_000.0},
    "limit_cycles_widget_particles": {"ci": 300, "book": 1_000, "full": 4_000},
    "limit_cycles_momentum_particles": {"ci": 1_000, "book": 4_000, "full": 20_000},
    # chapter 07: the linear case (Lemma 20): sgd_area_* the SGD area-rate chains on the linear
    # regression, ou_area_* the OU Euler-Maruyama area-rate chains, widget
    "sgd_area_chains": {"ci": 1_000, "book": 4_000, "full": 4_000},
    "sgd_area_steps": {"ci": 2_000, "book": 6_000, "full": 20_000},
    "ou_area_chains": {"ci": 500, "book": 1_000, "full": 8_000},
    "ou_area_steps": {"ci": 2_000, "book": 4_000, "full": 20_000},
    "ou_widget_chains": {"ci": 200, "book": 400, "full": 2_000},
    "ou_widget_steps": {"ci": 1_000, "book": 2_000, "full": 8_000},
    # chapter 08: critical points move (Theorem 22): FP grids, 1-D and 2-D SGD / SDE ensembles
    "shift_grid_1d": {"ci": 801, "book": 2_001, "full": 8_001},
    "shift_grid_2d": {"ci": 101, "book": 161, "full": 241},
    "shift_chains_1d": {"ci": 1_000, "book": 6_000, "full": 32_000},
    "shift_steps_1d": {"ci": 600, "book": 2_000, "full": 12_000},
    "shift_chains_2d": {"ci": 1_000, "book": 4_000, "full": 16_000},
    "shift_steps_2d": {"ci": 600, "book": 2_000, "full": 12_000},
    # Part IV-b: long SGD trajectories on tiny-fc (vdlib.deep.chains, vdlib.experiments.trajectory; Fig. 3)
    "trajectory_epochs": {"ci": 40, "book": 1_000, "full": 100_000},
    "trajectory_burn_in": {"ci": 10, "book": 100, "full": 1_000},
    "trajectory_chains": {"ci": 2, "book": 4, "full": 4},
    "trajectory_control_chains": {"ci": 1, "book": 1, "full": 1},
    "trajectory_per_class": {"ci": 64, "book": 512, "full": 512},
    "trajectory_pretrain_epochs": {"ci": 30, "book": 1_000, "full": 3_000},
    "trajectory_noise_batches": {"ci": 16, "book": 64, "full": 256},
    # Part IV-b, chapter 12 (practical consequences, Remarks 11 and 15): epochs and chains per (eta, b) setting
    "scaling_epochs": {"ci": 30, "book": 400, "full": 2_000},
    "scaling_burn_in": {"ci": 10, "book": 100, "full": 500},
    "scaling_chains": {"ci": 2, "book": 6, "full": 8},
    "scaling_per_class": {"ci": 64, "book": 512, "full": 512},
    # chapter 11 widget: epochs of the short live run
    "trajectory_widget_epochs": {"ci": 30, "book": 150, "full": 150},
    # Part IV-a: the gradient-noise spectrum of small-lenet / small-fc (vdlib.experiments.spectrum; Figs. 1-2)
    "spectrum_n_train": {"ci": 512, "book": 4_000, "full": None},  # None: all 60,000 training images
    "spectrum_n_spectrum": {"ci": 256, "book": 1_000, "full": None},
    "spectrum_epochs": {"ci": 2, "book": 4, "full": None},  # None: the recipe's 20 epochs
    "spectrum_rank_vs_n": {"ci": (16, 64, 128, 256), "book": (50, 100, 200, 500, 1_000),
                           "full": (100, 300, 1_000, 3_000, 6_000)},
}


class ProfileError(ValueError):
    """An unknown profile name or size key."""


def _check_profile_name(name: str) -> str:
    if name not in PROFILES:
        raise ProfileError(
            f"unknown run profile {name!r}: choose one of {', '.join(PROFILES)} "
            f"(argument profile= or environment variable {ENV_PROFILE})"
        )
    return name


@dataclass(frozen=True)
class Config:
    """A resolved run configuration: the profile name and the torch device to use."""

    profile: str
    device: str = "cpu"
    sizes: Mapping[str, Mapping[str, Any]] = field(default_factory=lambda: SIZES, repr=False)

    def __post_init__(self) -> None:
        _check_profile_name(self.profile)

    def size(self, key: str) -> Any:
        """The problem size ``key`` under this profile, e.g. ``cfg.size("sgd_chains")``."""
        try:
            per_profile = self.sizes[key]
        except KeyError:
            known = ", ".join(sorted(self.sizes))
            raise ProfileError(f"no problem size named {key!r} in vdlib.config.SIZES; known: {known}") from None
        return per_profile[self.profile]

    def choose(self, **by_profile: Any) -> Any:
        """Pick a value by profile name, e.g. ``cfg.choose(ci=10, book=100, full=1000)``."""
        missing = [p for p in PROFILES if p not in by_profile]
        unknown = [p for p in by_profile if p not in PROFILES]
        if missing or unknown:
            raise ProfileError(
                f"choose() needs exactly the keywords {', '.join(PROFILES)}; "
                f"missing {missing or 'none'}, unknown {unknown or 'none'}"
            )
        return by_profile[self.profile]

    @property
    def show_progress(self) -> bool:
        """Progress bars only where a person waits: the ``full`` profile."""
        return self.profile == "full"

    def __str__(self) -> str:
        from ._version import __version__

        return f"vdlib {__version__} | profile: {self.profile} | device: {self.device}"


def profile_name(profile: str | None = None) -> str:
    """The profile chosen by argument, else by ``$VDLIB_PROFILE``, else ``book``."""
    if profile is None:
        profile = os.environ.get(ENV_PROFILE, "").strip() or DEFAULT_PROFILE
    return _check_profile_name(profile)


def select_device(prefer: str | None = None) -> str:
    """The torch device to run on: ``"cuda"`` only when asked for *and* present, else ``"cpu"``.

    ``prefer`` is ``"cpu"``, ``"cuda"`` or ``"auto"`` (CUDA when available); by default it is
    read from ``$VDLIB_DEVICE`` and falls back to ``"cpu"``: the book's toy experiments are
    faster on the CPU, and paper-scale runs ask for the GPU explicitly.
    """
    if prefer is None:
        prefer = os.environ.get(ENV_DEVICE, "").strip() or "cpu"
    if prefer not in ("cpu", "cuda", "auto"):
        raise ValueError(f"unknown device preference {prefer!r}: use 'cpu', 'cuda' or 'auto' (also via ${ENV_DEVICE})")
    if prefer == "cpu":
        return "cpu"
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if prefer == "cuda":
        raise RuntimeError(
            "CUDA was asked for (device='cuda' or VDLIB_DEVICE=cuda) but torch.cuda.is_available() is False: "
            "install a CUDA build of torch (see README, 'Using a GPU') or use device='cpu'"
        )
    return "cpu"


def current(profile: str | None = None, device: str | None = None, verbose: bool = False) -> Config:
    """Resolve the run configuration; with ``verbose=True`` print it (chapters do)."""
    cfg = Config(profile=profile_name(profile), device=select_device(device))
    if verbose:
        print(cfg)
    return cfg


def seed_everything(seed: int):
    """Seed Python, NumPy and torch; return ``(numpy Generator, torch Generator)`` for explicit use.

    Experiments take these generators (or a ``seed=``) as arguments; nothing relies on hidden
    global state. On a GPU the cuDNN flags are set for deterministic kernels.
    """
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    import torch

    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    gen = torch.Generator().manual_seed(seed)
    return np.random.default_rng(seed), gen


@contextlib.contextmanager
def torch_threads(n: int | None):
    """Run a block with ``n`` CPU threads for torch and for the BLAS libraries NumPy and SciPy load
    (OpenBLAS's ``syrk`` of the noise spectra, via ``threadpoolctl``), restoring the previous
    settings afterwards (``None``: leave them alone)."""
    import torch
    from threadpoolctl import threadpool_limits

    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        with threadpool_limits(limits=n, user_api="blas"):
            yield
    finally:
        torch.set_num_threads(before)
