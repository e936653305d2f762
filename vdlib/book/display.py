"""The display kit: what every chapter's code cells show, in one place.

A chapter's first cell is::

    from vdlib.book.display import check_identity, md_table, setup, show

    rng, gen, cfg, board = setup("chapters/05_variational_inference",
                                 "SGD performs variational inference (Theorem 5)",
                                 data="none (symbolic densities; no random numbers)")

and its derivation cells then call

* :func:`show` — LaTeX rows as one aligned block (the chapter writes the rows: the derivation stays
  in the chapter);
* :func:`aligned` — ``lhs = rhs`` steps, SymPy objects typeset;
* :func:`check_identity` — assert ``lhs = rhs`` with the library's symbolic zero test and say so;
* :func:`md_table` — a Markdown table (:func:`markdown_table` gives its text);
* :func:`sci` — a number to a few significant digits.

:func:`setup` does the setup every chapter did by hand: seed Python, NumPy and torch, resolve the run
profile and print it, apply the plotting style, make SymPy print as LaTeX, optionally fix torch's CPU
threads and print the versions, print the data the chapter uses, and open the chapter's record on
the results scoreboard (:func:`vdlib.book.scoreboard.chapter`).
"""
from __future__ import annotations

import textwrap
import time
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

__all__ = ["ChapterSetup", "setup", "show", "aligned", "check_identity", "markdown_table", "md_table", "sci"]


def _display(obj) -> None:
    from IPython.display import display

    display(obj)


# ---------------------------------------------------------------------------------------------------
# the setup cell
# ---------------------------------------------------------------------------------------------------


@dataclass
class ChapterSetup:
    """What :func:`setup` hands a chapter; unpacks as ``rng, gen, cfg, board``.

    ``rng`` is the seeded ``numpy.random.Generator``, ``gen`` the seeded ``torch.Generator``, ``cfg``
    the run configuration (:class:`vdlib.config.Config`), ``board`` the chapter's scoreboard record
    (:class:`vdlib.book.scoreboard.ChapterRecord`); ``started`` is ``time.perf_counter()`` at setup.
    """

    rng: Any
    gen: Any
    cfg: Any
    board: Any
    started: float = field(default_factory=time.perf_counter)

    def __iter__(self) -> Iterator[Any]:
        return iter((self.rng, self.gen, self.cfg, self.board))

    def elapsed(self) -> float:
        """Seconds since :func:`setup` ran."""
        return time.perf_counter() - self.started


def setup(docname: str, title: str, *, data: str, seed: int = 0, data_label: str = "data",
          torch_threads: int | None = None, sympy: bool = True, versions: bool = False) -> ChapterSetup:
    """Set a chapter up and say how it runs; returns a :class:`ChapterSetup` (``rng, gen, cfg, board``).

    In order: seed Python, NumPy and torch with ``seed`` (:func:`vdlib.config.seed_everything`);
    print the run profile and device (``vdlib 0.1.0 | profile: book | device: cpu``); with
    ``versions=True`` also print the vdlib and torch versions; apply the book's plotting style; with
    ``sympy=True`` print SymPy results as LaTeX; with ``torch_threads=n`` run torch on ``n`` CPU
    threads (small networks: one thread is fastest, and much faster on a busy machine); open the
    chapter's scoreboard record ``docname`` / ``title``; print ``"{data_label}: {data}"``.

    ``docname`` is the chapter's path without suffix, e.g. ``"chapters/01_minibatch_noise"``;
    ``data`` says which data the chapter uses (a dataset and its source, or "none (synthetic ...)").
    """
    from ..config import current, seed_everything
    from . import scoreboard

    if not isinstance(docname, str) or not docname.strip():
        raise ValueError(f"setup: docname must be the chapter's path without suffix, e.g. "
                         f"'chapters/01_minibatch_noise', got {docname!r}")
    if not isinstance(title, str) or not title.strip():
        raise ValueError(f"setup: title must be the chapter's title (a non-empty string), got {title!r}")
    if not isinstance(data, str) or not data.strip():
        raise ValueError("setup: data= must say which data the chapter uses, e.g. "
                         f"data='none (synthetic least squares, seed 0)', got {data!r}")
    if not isinstance(data_label, str) or not data_label.strip():
        raise ValueError(f"setup: data_label must be a non-empty string, got {data_label!r}")
    if torch_threads is not None and (isinstance(torch_threads, bool) or not isinstance(torch_threads, int)
                                      or torch_threads < 1):
        raise ValueError(f"setup: torch_threads must be a positive integer or None, got {torch_threads!r}")

    rng, gen = seed_everything(seed)
    cfg = current(verbose=True)
    if versions:
        import torch

        from .. import __version__

        print(f"vdlib {__version__}, torch {torch.__version__}, profile {cfg.profile}, device {cfg.device}")
    _book_style()
    if sympy:
        import sympy as sp

        sp.init_printing(use_latex="mathjax")
    if torch_threads is not None:
        import torch

        torch.set_num_threads(torch_threads)
    board = scoreboard.chapter(docname, title, profile=cfg.profile)
    print(f"{data_label}: {data}")
    return ChapterSetup(rng=rng, gen=gen, cfg=cfg, board=board)


def _book_style() -> None:
    from . import plotting

    plotting.book_style()


# ---------------------------------------------------------------------------------------------------
# equations and symbolic checks
# ---------------------------------------------------------------------------------------------------


def _rows(rows, what: str) -> list:
    rows = list(rows)
    if not rows:
        raise ValueError(f"{what}: give at least one row")
    return rows


def show(*rows: str) -> None:
    r"""Display LaTeX rows as one aligned block (rows joined by ``\\``; align them with ``&``)."""
    rows = _rows(rows, "show")
    bad = [r for r in rows if not isinstance(r, str)]
    if bad:
        raise TypeError(f"show: every row must be a LaTeX string, got {type(bad[0]).__name__} {bad[0]!r}; "
                        "typeset SymPy objects with sympy.latex first, or use aligned([(lhs, expr), ...])")
    from IPython.display import Math

    _display(Math(r"\begin{aligned}" + r"\\".join(rows) + r"\end{aligned}"))


def aligned(rows: Sequence[tuple[str, Any]]):
    """``IPython.display.Math`` of short derivation steps, one ``lhs = rhs`` per line.

    ``rows`` is a list of ``(lhs_latex, rhs)`` where ``rhs`` is a SymPy object or a LaTeX string;
    display it with ``display(aligned(rows))``.
    """
    rows = _rows(rows, "aligned")
    import sympy as sp
    from IPython.display import Math

    lines = []
    for row in rows:
        if not (isinstance(row, (tuple, list)) and len(row) == 2 and isinstance(row[0], str)):
            raise TypeError(f"aligned: each row must be a pair (lhs LaTeX string, rhs), got {row!r}")
        lhs, rhs = row
        lines.append(f"{lhs} &= {rhs if isinstance(rhs, str) else sp.latex(rhs)}")
    return Math(r"\begin{aligned}" + r" \\ ".join(lines) + r"\end{aligned}")


def check_identity(lhs, rhs, name: str, *, quiet: bool = False) -> None:
    """Assert ``lhs = rhs`` symbolically and print ``checked symbolically: name``.

    Uses the library's zero test (:func:`vdlib.theory.symbolic.assert_identity`), the same the tests
    use; a failing identity raises ``AssertionError`` naming it. ``quiet=True`` checks without
    printing.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"check_identity: name the identity (a non-empty string), got {name!r}")
    from ..theory.symbolic import assert_identity

    assert_identity(lhs, rhs, name)
    if not quiet:
        print(textwrap.fill(f"checked symbolically: {name}", 76, subsequent_indent="    "))


# ---------------------------------------------------------------------------------------------------
# tables and numbers
# ---------------------------------------------------------------------------------------------------


def markdown_table(header: Sequence[Any], rows: Sequence[Sequence[Any]]) -> str:
    """The text of a Markdown table: ``header`` is a list of column titles, ``rows`` a list of rows
    with one cell per column (cells are turned into text with ``str``)."""
    if isinstance(header, str) or not isinstance(header, Sequence) or not header:
        raise TypeError(f"markdown_table: header must be a non-empty list of column titles, got {header!r}")
    rows = [list(r) for r in rows]
    for i, row in enumerate(rows):
        if len(row) != len(header):
            raise ValueError(f"markdown_table: row {i} has {len(row)} cells but the header has "
                             f"{len(header)} columns: {row!r}")
    for cell in [*header, *(c for r in rows for c in r)]:
        if "|" in str(cell):  # a bare | splits the row: the table would be printed as a paragraph
            raise ValueError(f"markdown_table: the cell {str(cell)!r} contains '|', which splits a Markdown table "
                             "row; write \\vert or \\lVert ... \\rVert in math, or another character in text")
    lines = ["| " + " | ".join(map(str, header)) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(map(str, r)) + " |" for r in rows]
    return "\n".join(lines)


def md_table(header: Sequence[Any], rows: Sequence[Sequence[Any]], *, title: str | None = None) -> None:
    """Display a Markdown table (:func:`markdown_table`), under a bold ``title`` if given."""
    from IPython.display import Markdown

    text = markdown_table(header, rows)
    if title is not None:
        text = f"**{title}**\n\n{text}"
    _display(Markdown(text))


def sci(x: float, digits: int = 3) -> str:
    """``x`` to ``digits`` significant digits (``%g`` style: 0.00123, 1.23e+05)."""
    if isinstance(digits, bool) or not isinstance(digits, int) or digits < 1:
        raise ValueError(f"sci: digits must be a positive integer, got {digits!r}")
    return f"{x:.{digits}g}"
