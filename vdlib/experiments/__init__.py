"""Long-running experiments of the book, runnable from the command line and loadable by the chapters.

``python -m vdlib.experiments <command> [options]``; ``python -m vdlib.experiments --help`` lists the
commands. Each command is a module of this package registered in :data:`COMMANDS`; it provides

* ``add_arguments(parser)``: its command-line options (an :class:`argparse.ArgumentParser`);
* ``main(args) -> int``: run it from the parsed options (exit status);
* a Python API (``run(...)``, ``load(folder)``) that the chapters call directly.

Each experiment writes an artifact folder (npz arrays + ``meta.json`` with the seed, versions, device,
data source and protocol: :func:`vdlib.provenance.run_metadata`) that chapters load instead of
recomputing. A run's progress bar is on under the ``full`` profile unless ``--progress`` /
``--no-progress`` says otherwise; the computation it calls only takes ``progress=True/False``.

Commands:

* ``trajectory``: long SGD runs on tiny-fc with controls (Part IV-b, Fig. 3): :mod:`vdlib.experiments.trajectory`
  (a package: protocol, pre-training, engines, Dask tasks of several processes, runner, summary, command line);
* ``spectrum``: the gradient-noise spectrum of real networks (Part IV-a, Figs. 1–2):
  :mod:`vdlib.experiments.spectrum`;
* ``steady-state``: SGD on tiny-fc in a real steady state, matched controls and the calibrated
  irreversibility test (Part IV-b decided): :mod:`vdlib.experiments.steady_state`;
* ``fig1-checks``: Fig. 1 re-examined (data set, two classes, evaluation vs training mode):
  :mod:`vdlib.experiments.fig1_checks`;
* ``sweep``: a grid of an experiment's parameters (learning rates, batch sizes, seeds, groups) as Dask
  tasks on a local cluster or any Dask cluster, resumable: :mod:`vdlib.experiments.sweep` (the
  clusters: :mod:`vdlib.experiments.cluster`).
"""
from __future__ import annotations

import importlib

#: command name -> module (``vdlib.experiments.<module>``). Add a line to register a new command.
COMMANDS: dict[str, str] = {
    "trajectory": "trajectory",
    "spectrum": "spectrum",
    "steady-state": "steady_state",
    "fig1-checks": "fig1_checks",
    "sweep": "sweep",
}


def command_module(name: str):
    """The module implementing command ``name`` (imported on first use)."""
    if name not in COMMANDS:
        raise ValueError(f"unknown experiment {name!r}: choose one of {', '.join(COMMANDS)}")
    return importlib.import_module(f".{COMMANDS[name]}", __name__)


def __getattr__(name):
    if name in COMMANDS:
        return command_module(name)
    raise AttributeError(f"module 'vdlib.experiments' has no attribute {name!r}")


__all__ = ["COMMANDS", "command_module", *COMMANDS]
