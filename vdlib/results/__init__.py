"""The full-scale results the book shows, shipped with vdlib, and a reader's own runs that replace them.

The long runs of Part IV (the spectrum of D at 60,000 examples, the 10⁵-epoch trajectories) take
half an hour or more on a 2-core CPU. Their small results are package data of vdlib, in this folder,
so that a chapter finds them wherever it executes: in the repository, or as a downloaded notebook
beside an installed wheel. Each lives under the name it would have as a run of the experiments'
command line in ``artifacts/``:

* ``spectrum/full``: ``python -m vdlib.experiments spectrum --profile full`` (Figs. 1a/1b);
* ``spectrum/recompute_threads2``: two re-runs of small-lenet's spectra from that run's checkpoints
  on 2 threads, ``float64/`` and ``float32/`` block products;
* ``spectrum/fig1_checks``: ``python -m vdlib.experiments fig1-checks --profile full`` (Fig. 1 re-examined:
  data set, two classes, evaluation vs training mode; one ``summary.json``);
* ``summaries/trajectory_full``: ``python -m vdlib.experiments trajectory --profile full`` reduced by
  ``--summarize`` (Fig. 3 and its controls);
* ``steady_state/full``: ``python -m vdlib.experiments steady-state --profile full`` (the steady-state
  protocol of chapter 11: summary, protocol, data and machine; the per-step records stay in artifacts/).

:func:`committed_result` is the one way the chapters find them: a run of the reader's own in
``artifacts/<name>`` (in the current folder or a folder above it) wins, and the copy shipped here is
the fallback; the returned sentence says which was used. The experiments still write to
``artifacts/`` (their default output folders), never here. The origin of each result (command,
machine, date, data) is in its ``meta.json``; see also ``README.md`` in this folder.

Not to be confused with ``$VDLIB_RESULTS``, where :mod:`vdlib.book.scoreboard` writes the chapters'
verdicts on the paper's items.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import NamedTuple

__all__ = ["COMMITTED", "Located", "committed_result", "packaged_path"]

#: Name -> (file that marks a complete result folder, command that creates a run of one's own).
COMMITTED: dict[str, tuple[str, str]] = {
    "spectrum/full": ("meta.json", "python -m vdlib.experiments spectrum --profile full --threads 2"),
    "spectrum/recompute_threads2": (
        "float64/meta.json",
        "python -m vdlib.experiments spectrum --profile full --runs small-lenet --threads 2 "
        "--work artifacts/spectrum/full_work --out artifacts/spectrum/recompute_threads2/float64 "
        "(and --gemm-dtype float32 --out .../float32)"),
    "spectrum/fig1_checks": (
        "summary.json",
        "python -m vdlib.experiments fig1-checks --profile full --threads 1 --out artifacts/spectrum/fig1_checks"),
    "steady_state/full": (
        "summary.json",
        "python -m vdlib.experiments steady-state --profile full --workers 2 (writes artifacts/steady_state/full)"),
    "summaries/trajectory_full": (
        "summary.npz",
        "python -m vdlib.experiments trajectory --profile full --out artifacts/trajectory_full, then "
        "python -m vdlib.experiments trajectory --summarize artifacts/trajectory_full"),
}


class Located(NamedTuple):
    """Where a result was found: ``path`` (None if nowhere), ``origin`` and a sentence for the reader.

    ``origin`` is ``"own run"`` (``artifacts/<name>`` above the current folder), ``"committed"`` (the
    copy shipped with vdlib) or ``"missing"``.
    """

    path: Path | None
    origin: str
    message: str


def packaged_path(name: str) -> Path:
    """The folder of the committed copy of ``name`` inside the installed vdlib (it may be missing)."""
    _check_name(name)
    return Path(str(resources.files(__name__).joinpath(*name.split("/"))))


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not name or name.startswith("/") or ".." in name.split("/") or "\\" in name:
        raise ValueError(f"result name {name!r}: give it as in artifacts/, e.g. 'spectrum/full'")


def committed_result(name: str, start=None) -> Located:
    """Find result ``name`` (e.g. ``"spectrum/full"``): the reader's own run first, else the committed copy.

    Parameters
    ----------
    name : str
        The result's path under ``artifacts/``; the known ones are the keys of :data:`COMMITTED`.
    start : path, optional
        Where the search for ``artifacts/<name>`` starts (default: the current folder); the folders
        above it are searched too, so a chapter executed in ``chapters/`` finds a run written by the
        command line at the repository's root.

    Returns
    -------
    Located
        ``(path, origin, message)``; ``path`` is None and ``origin`` ``"missing"`` when neither exists
        (a damaged installation), and the message says how to fix that.
    """
    _check_name(name)
    marker, command = COMMITTED.get(name, ("meta.json", "the experiment's command line"))
    here = Path(start if start is not None else Path.cwd()).resolve()
    for folder in (here, *here.parents):
        own = folder / "artifacts" / name
        if (own / marker).is_file():
            return Located(own, "own run",
                           f"{name}: your own run in {own} (a run found in artifacts/ replaces the result "
                           "committed with vdlib; delete or rename that folder to see the committed one)")
    packaged = packaged_path(name)
    if (packaged / marker).is_file():
        from .. import __version__

        return Located(packaged, "committed",
                       f"{name}: the result committed with vdlib {__version__}, read from {packaged}; a run of your "
                       f"own written to artifacts/{name} would replace it")
    return Located(None, "missing",
                   f"{name}: no result found: neither artifacts/{name} above {here} nor the copy shipped with vdlib "
                   f"({packaged}) exists. Reinstall vdlib (or `git checkout -- vdlib/results` in the repository), "
                   f"or create it: {command}")
