"""vdlib: the tested library behind the book "SGD performs variational inference".

Chapters import it; every function worth testing lives here. The package has five parts, each a
subpackage, layered so that each only imports the parts above it in this table:

===============  ===========================  ===================================================
part             subpackage                   what is there
===============  ===========================  ===================================================
I–III theory     :mod:`vdlib.theory`          closed forms, SymPy derivations, mini-batch noise
                                              (Definition 1), SDE / Fokker–Planck / transport
                                              solvers, least-squares SGD chains
IV networks      :mod:`vdlib.deep`            data sets, models, training, per-sample gradients,
                                              the D-spectrum engine, the many-chain engine
IV statistics    :mod:`vdlib.analysis`        statistics of recorded trajectories: spectra,
                                              autocorrelation, PCA, time-reversal tests, summaries
the book         :mod:`vdlib.book`            what a chapter shows: display kit, plotting style,
                                              figures, widgets, the results scoreboard
long runs        :mod:`vdlib.experiments`     command-line experiments (``python -m
                                              vdlib.experiments``) that write artifacts
===============  ===========================  ===================================================

Beneath them all, at the top level: :mod:`vdlib.config` (run profiles, seeds, devices, threads),
:mod:`vdlib.checks` (input checks), :mod:`vdlib.files` (atomic writes), :mod:`vdlib.progress`
(progress bars a caller switches on), :mod:`vdlib.provenance` (the metadata of a run:
versions, device, threads, data; ``python -m vdlib`` prints it) and :mod:`vdlib.results` (the
committed full-scale results). Only ``book`` and ``experiments`` touch plotting, widgets or
IPython, and ``theory`` never imports ``deep`` or ``analysis`` (``tests/test_layout_rules.py``).

``current``, ``seed_everything`` and ``select_device`` (from :mod:`vdlib.config`) and ``__version__``
are available here; the parts load on first use (``vdlib.theory.sde``, ``vdlib.deep.data``, ...), so
``import vdlib`` stays cheap.
"""
from __future__ import annotations

import importlib

from ._version import __version__
from .config import current, seed_everything, select_device

_SUBMODULES = ("theory", "deep", "analysis", "book", "experiments", "config", "checks", "files", "progress",
               "provenance", "results")


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'vdlib' has no attribute {name!r}")


__all__ = ["__version__", "current", "seed_everything", "select_device", *_SUBMODULES]
