"""The reader-facing layer of the book: table-of-contents checks and the results scoreboard.

* :mod:`vdlib.book.toc` — the table of contents against ``chapters/`` (``python -m vdlib.book.toc``).
* :mod:`vdlib.book.scoreboard` — what each chapter records about the paper's items when it executes
  (paper's number, book's number, run, data, seed, verdict), and the errata it demonstrates; the
  results and errata pages of the book are built from these records.
"""
from __future__ import annotations

from .toc import ROOT, TocError, chapter_paths, check_toc, toc_files

__all__ = ["ROOT", "TocError", "chapter_paths", "check_toc", "toc_files"]
