"""Answer checks for every exercise of the book: ``from vdlib.book.exercises import check``.

Every exercise, numbered (``chNN-exK``) or a warm-up concept check (``chNN-wK``), holds a code cell
ending with ``answer = ...`` and ``check("chNN-exK", answer)``. The check never raises (so "Run All"
runs past an unsolved exercise); it prints and returns a :class:`CheckResult` whose ``status`` is "not
attempted", "correct", "incorrect" (with a hint for the exercise's typical mistakes) or "invalid" (wrong
type or shape, with what was expected). An unknown id is "invalid" and the message lists the valid ids.

The package:

* :mod:`~vdlib.book.exercises.kit` — the registry, :func:`check`, and the comparison helpers
  (numeric tolerances, SymPy equivalence, multiple choice);
* ``ch00_01``, ``ch02_03``, … ``ch16_17`` — the checks of each group of chapters, registered on import.

Each reference answer is computed by the vdlib functions the chapter's solution calls (or by the same
few lines of SymPy), never typed in; :func:`reference` returns it. Each numeric tolerance is stated in
the message. Answers that are functions are called on small inputs so that a check stays cheap.
"""
from __future__ import annotations

from . import ch00_01, ch02_03, ch04_05, ch06_07, ch08_09, ch10_12, ch13_15, ch16_17
from .kit import REFERENCES, REGISTRY, STATUSES, CheckResult, check, exercise_ids

__all__ = ["check", "exercise_ids", "reference", "CheckResult", "STATUSES", "REGISTRY", "REFERENCES",
           "CHECK_MODULES"]

CHECK_MODULES = (ch00_01, ch02_03, ch04_05, ch06_07, ch08_09, ch10_12, ch13_15, ch16_17)


def reference(exercise_id: str):
    """The reference answer of a registered exercise (a value, or for function exercises the reference function).

    Some have none, e.g. ch11-ex3: its values come from training runs, and its check tests their form only.
    """
    if exercise_id not in REFERENCES:
        raise KeyError(f"{exercise_id!r} has no computable reference; ids with one: {sorted(REFERENCES)}")
    return REFERENCES[exercise_id]()
