"""vdlib: the tested library behind the book "SGD performs variational inference".

Chapters import it; every function worth testing lives here. Submodules load on first use
(``vdlib.noise``, ``vdlib.symbolic``, ...), so ``import vdlib`` stays cheap.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

from .config import current, seed_everything, select_device  # noqa: E402

_SUBMODULES = ("book", "chains", "config", "critical_shift", "data", "files", "fokker_planck", "free_energy", "linear", "models", "noise", "persample", "plotting", "potential_symbolic", "potentials", "regression", "sde", "sgd", "sgd_symbolic", "symbolic", "train", "trajectory", "transport", "vector_fields", "widgets", "experiments")


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'vdlib' has no attribute {name!r}")


__all__ = ["__version__", "current", "seed_everything", "select_device", *_SUBMODULES]
