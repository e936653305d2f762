"""The reader-facing layer of the book: what a chapter shows, and the checks of the book itself.

* :mod:`vdlib.book.display` — the display kit every chapter's first cell uses (setup, show,
  check_identity, md_table, sci).
* :mod:`vdlib.book.plotting` — one plotting style, the palette, and small plot helpers.
* :mod:`vdlib.book.figures` — figures of the library's computations (one function per figure).
* :mod:`vdlib.book.widgets` — interactive panels with a static fallback (precomputed frames).
* :mod:`vdlib.book.toc` — the table of contents against ``chapters/`` (``python -m vdlib.book.toc``).
* :mod:`vdlib.book.scoreboard` — what each chapter records about the paper's items when it executes
  (paper's number, book's number, run, data, seed, verdict), and the errata it demonstrates; the
  results and errata pages of the book are built from these records.
* :mod:`vdlib.book.sphinx_notebooks` — the Sphinx hook that offers each chapter as a notebook.

Only this subpackage and :mod:`vdlib.experiments` import matplotlib, ipywidgets or IPython. The
submodules load on first use (``vdlib.book.widgets.panel(...)``).
"""
from __future__ import annotations

import importlib

from .toc import ROOT, TocError, chapter_paths, check_toc, toc_files

_SUBMODULES = ("display", "plotting", "figures", "widgets", "toc", "scoreboard", "sphinx_notebooks")


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'vdlib.book' has no attribute {name!r}")


__all__ = ["ROOT", "TocError", "chapter_paths", "check_toc", "toc_files", *_SUBMODULES]
