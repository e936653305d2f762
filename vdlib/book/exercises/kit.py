"""The machinery of :mod:`vdlib.book.exercises`: the registry, :func:`check` and the comparison helpers.

Every exercise stub ends with ``answer = ...`` and a call to :func:`check`. The check never raises,
so "Run All" runs past an unsolved exercise. It prints one of

* ``not attempted yet`` (the placeholder ``...``, ``None``, or a stub function that returns nothing),
* ``correct`` (the reference answer is computed by the same vdlib functions the chapter's solution calls),
* ``incorrect`` with a hint when the answer matches a typical mistake of that exercise,
* ``invalid`` when the answer has the wrong type or shape (the message says what was expected),

and returns a :class:`CheckResult`. Symbolic answers are compared by ``sympy.simplify(a - b) == 0`` after
the answer's symbols are renamed to the exercise's (by name, so ``sp.Symbol("eta")`` works whatever its
assumptions); numeric answers with the tolerance each check states in its message. Answers that are
functions are called on small inputs, so that every check stays cheap (well under two seconds).
"""
from __future__ import annotations

import math
import textwrap
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
import sympy as sp

#: The verdicts a check returns, as ``CheckResult.status``.
STATUSES = ("not attempted", "correct", "incorrect", "invalid")
PRINT_WIDTH = 72  # characters per printed line of a verdict (what the HTML output area shows unscrolled)


@dataclass(frozen=True)
class CheckResult:
    """What :func:`check` found: ``status`` (one of :data:`~vdlib.book.exercises.kit.STATUSES`) and the printed ``message``."""

    exercise: str
    status: str
    message: str

    def __bool__(self) -> bool:
        return self.status == "correct"


@dataclass(frozen=True)
class Exercise:
    """A registered exercise: its id, the chapter label, what ``answer`` holds, and the checking function."""

    id: str
    label: str
    expects: str
    checker: Callable


class _Invalid(Exception):
    """The answer has the wrong type or shape."""


class _NotAttempted(Exception):
    """A stub function returned nothing."""


class _Wrong(Exception):
    """A wrong answer, with its hint."""


REGISTRY: dict[str, Exercise] = {}


def _register(ex_id: str, label: str, expects: str):
    def deco(fn):
        REGISTRY[ex_id] = Exercise(ex_id, label, expects, fn)
        return fn
    return deco


def exercise_ids() -> list[str]:
    """The registered exercise ids, in chapter order."""
    return sorted(REGISTRY)


def check(exercise_id, answer=..., *, quiet: bool = False) -> CheckResult:
    """Check ``answer`` to exercise ``exercise_id`` (e.g. ``"ch02-ex1"``); print and return the verdict.

    Never raises: an unknown id, a wrong type, or an error inside a submitted function all become a
    message. ``quiet=True`` returns the result without printing it.
    """
    try:
        result = _check(exercise_id, answer)
    except Exception as err:  # the promise: never stop "Run All"
        result = CheckResult(str(exercise_id), "invalid", f"invalid: the check could not evaluate this answer ({_describe_error(err)})")
    if not quiet:
        print(_wrapped(f"[{result.exercise}] {result.message}"))
    return result


def _wrapped(text: str, width: int = PRINT_WIDTH) -> str:
    """The message broken into lines of at most ``width`` characters (a notebook's output area does not wrap)."""
    return "\n".join(textwrap.fill(line, width, subsequent_indent="    ", break_long_words=False,
                                    break_on_hyphens=False) if len(line) > width else line
                      for line in text.splitlines())


def _check(exercise_id, answer) -> CheckResult:
    ex = REGISTRY.get(exercise_id) if isinstance(exercise_id, str) else None
    if ex is None:
        return CheckResult(str(exercise_id), "invalid",
                           f"invalid: unknown exercise id {exercise_id!r}; valid ids: {', '.join(exercise_ids())}")
    if answer is None or answer is Ellipsis:
        return CheckResult(ex.id, "not attempted", f"not attempted yet (the answer should be {ex.expects})")
    try:
        msg = ex.checker(answer)
    except _NotAttempted as why:
        return CheckResult(ex.id, "not attempted", f"not attempted yet: {why}")
    except _Invalid as why:
        return CheckResult(ex.id, "invalid", f"invalid: {why} (expected {ex.expects})")
    except _Wrong as why:
        return CheckResult(ex.id, "incorrect", f"incorrect: {why}")
    except Exception as err:
        return CheckResult(ex.id, "invalid", f"invalid: evaluating your answer raised {_describe_error(err)} "
                                             f"(expected {ex.expects})")
    return CheckResult(ex.id, "correct", f"correct: {msg}")


def _describe_error(err: Exception) -> str:
    text = str(err).splitlines()[0][:200] if str(err) else ""
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


# ------------------------------------------------------------------------------------------------
# helpers: types, tolerances, symbols


def _kind(x) -> str:
    if isinstance(x, (list, tuple)):
        return f"a {type(x).__name__} of {len(x)}"
    if isinstance(x, np.ndarray):
        return f"an array of shape {x.shape}"
    if isinstance(x, sp.MatrixBase):
        return f"a SymPy matrix of shape {x.shape}"
    if callable(x):
        return "a function"
    name = type(x).__name__
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"


def _float(x, what: str) -> float:
    if isinstance(x, (bool, str, bytes, dict)) or x is None:
        raise _Invalid(f"expected a float ({what}), got {_kind(x)}")
    try:
        arr = np.asarray(x, dtype=float)
    except Exception:
        raise _Invalid(f"expected a float ({what}), got {_kind(x)}") from None
    if arr.size != 1:
        raise _Invalid(f"expected a float ({what}), got {_kind(x)}")
    value = float(arr.reshape(-1)[0])
    if not math.isfinite(value):
        raise _Invalid(f"expected a finite float ({what}), got {value}")
    return value


def _array(x, shape: tuple, what: str) -> np.ndarray:
    if isinstance(x, (bool, str, bytes, dict)) or x is None or callable(x):
        raise _Invalid(f"expected an array of shape {shape} ({what}), got {_kind(x)}")
    try:
        arr = np.asarray(np.array(x, dtype=float) if not isinstance(x, sp.MatrixBase) else np.array(x.evalf(), dtype=float))
    except Exception:
        raise _Invalid(f"expected an array of shape {shape} ({what}), got {_kind(x)}") from None
    if arr.shape != shape and arr.size == int(np.prod(shape)) and max(shape) == arr.size:
        arr = arr.reshape(shape)  # a column or row vector for a vector
    if arr.shape != shape:
        raise _Invalid(f"expected an array of shape {shape} ({what}), got {_kind(arr)}")
    if not np.all(np.isfinite(arr)):
        raise _Invalid(f"expected finite numbers ({what}), got NaN or inf")
    return arr


def _close(a, b, rtol: float, atol: float = 0.0) -> bool:
    return bool(np.all(np.abs(np.asarray(a, float) - np.asarray(b, float))
                       <= atol + rtol * np.abs(np.asarray(b, float))))


def _numeric_verdict(value, ref, rtol: float, atol: float, hints, what: str) -> str:
    """'correct' message, or raise _Wrong with the first matching hint (checked at the same tolerance)."""
    tol = f"tolerance {rtol:g} relative" + (f" + {atol:g} absolute" if atol else "")
    if _close(value, ref, rtol, atol):
        return f"{what} = {_fmt(value)} (reference {_fmt(ref)}, {tol})"
    for candidate, hint in hints:
        if candidate is not None and _close(value, candidate, rtol, atol):
            raise _Wrong(f"{hint} [{what}: yours {_fmt(value)}, reference {_fmt(ref)}; {tol}]")
    raise _Wrong(f"{what} = {_fmt(value)} is not within the {tol} of the reference; "
                 "compare your steps with the hints in the exercise")


def _fmt(x) -> str:
    arr = np.asarray(x, dtype=float)
    return f"{float(arr):.6g}" if arr.ndim == 0 else np.array2string(arr, precision=5)


def _symbolic(x, symbols: dict[str, sp.Symbol], what: str):
    """SymPy object of x with its symbols renamed (by name, ignoring '_' and case) to the exercise's."""
    if isinstance(x, (str, bytes, dict, bool)) or callable(x) or x is None:
        raise _Invalid(f"expected a SymPy expression ({what}), got {_kind(x)}")
    if np.size(x) > 64 if isinstance(x, (list, tuple, np.ndarray)) else False:
        raise _Invalid(f"expected a SymPy expression ({what}), got {_kind(x)}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a Matrix of non-expressions is deprecated: treat it as invalid
            expr = sp.Matrix(x) if isinstance(x, (list, tuple, np.ndarray)) else sp.sympify(x, strict=True)
    except Exception:
        raise _Invalid(f"expected a SymPy expression ({what}), got {_kind(x)}") from None
    key = {name.replace("_", "").lower(): s for name, s in symbols.items()}
    free = getattr(expr, "free_symbols", set())
    unknown = sorted(str(s) for s in free if str(s).replace("_", "").lower() not in key)
    if unknown:
        raise _Invalid(f"your expression uses symbols {unknown}; the exercise's are {sorted(symbols)} ({what})")
    return expr.xreplace({s: key[str(s).replace("_", "").lower()] for s in free})


def _equal(a, b) -> bool:
    if isinstance(a, sp.MatrixBase) or isinstance(b, sp.MatrixBase):
        if not (isinstance(a, sp.MatrixBase) and isinstance(b, sp.MatrixBase)) or a.shape != b.shape:
            return False
        return all(sp.simplify(u - v) == 0 for u, v in zip(a, b))
    return sp.simplify(a - b) == 0


def _symbolic_verdict(expr, ref, hints, what: str) -> str:
    if _equal(expr, ref):
        return f"{what} = {sp.sstr(sp.simplify(ref))} (SymPy: simplify(answer − reference) = 0)"
    for candidate, hint in hints:
        if _equal(expr, candidate):
            raise _Wrong(hint)
    raise _Wrong(f"{what} = {sp.sstr(expr)} is not equivalent to the reference (simplify(answer − reference) ≠ 0)")


def _call(fn, what: str, *args, **kwargs):
    """Call a submitted function; a stub that returns None/... is 'not attempted'."""
    if not callable(fn):
        raise _Invalid(f"expected a function ({what}), got {_kind(fn)}")
    try:
        out = fn(*args, **kwargs)
    except NotImplementedError:
        raise _NotAttempted("the function still raises NotImplementedError") from None
    except Exception as err:
        raise _Invalid(f"calling your function raised {_describe_error(err)}") from None
    if out is None or out is Ellipsis:
        raise _NotAttempted(f"your function returns nothing yet; it should return {what}")
    return out



def _choice(answer, options: dict[str, str], correct, hints: dict[str, str], what: str) -> str:
    """Verdict on a multiple-choice answer: a letter such as ``"b"`` (any case), or, when ``correct`` is a
    set of letters ("select all that apply"), a string or collection of letters such as ``"ac"``.

    ``options`` maps each letter to its statement; ``hints`` maps a wrong letter to the misconception it
    reveals (for a set: a letter wrongly included or wrongly left out).
    """
    menu = ", ".join(f'"{k}"' for k in options)
    if isinstance(answer, str):
        letters = [c for c in answer.lower() if not c.isspace() and c not in ",;()"]
    elif isinstance(answer, (list, tuple, set, frozenset)) and all(isinstance(a, str) for a in answer):
        letters = [c.strip().lower() for c in answer]
    else:
        raise _Invalid(f"expected a letter among {menu} ({what}), got {_kind(answer)}")
    unknown = sorted(set(letters) - set(options))
    if unknown or not letters:
        raise _Invalid(f"expected a letter among {menu} ({what}), got {answer!r}")
    if isinstance(correct, str):
        if len(letters) != 1:
            raise _Invalid(f"expected one letter among {menu} ({what}), got {answer!r}")
        (letter,) = letters
        if letter == correct:
            return f"({letter}) {options[letter]}"
        raise _Wrong(hints.get(letter, f"({letter}) is not right; reread the section and try again"))
    chosen, want = set(letters), set(correct)
    if chosen == want:
        return "(" + ", ".join(sorted(want)) + "): " + "; ".join(options[k] for k in sorted(want))
    for letter in sorted(chosen ^ want):
        if letter in hints:
            raise _Wrong(hints[letter])
    raise _Wrong(f"{len(want)} statements are true; you chose {len(chosen)}: reread the section and try again")


# ------------------------------------------------------------------------------------------------
# reference answers: exercise id -> a function computing the reference (a value, or a reference function)

REFERENCES: dict = {}


def _reference(ex_id: str):
    def deco(fn):
        REFERENCES[ex_id] = fn
        return fn
    return deco


# ------------------------------------------------------------------------------------------------
# answer forms shared by several chapters' checks


def _matrix_symbolic(answer, symbols: dict, shape: tuple, what: str) -> sp.Matrix:
    """A SymPy matrix of the given shape (a row vector is accepted for a column vector)."""
    expr = _symbolic(answer, symbols, what)
    if not isinstance(expr, sp.MatrixBase):
        raise _Invalid(f"expected a {shape[0]}×{shape[1]} SymPy matrix ({what}), got a scalar")
    if expr.shape != shape and shape[1] == 1 and expr.shape == (1, shape[0]):
        expr = expr.T
    if expr.shape != shape:
        raise _Invalid(f"expected a {shape[0]}×{shape[1]} SymPy matrix ({what}), got shape {expr.shape}")
    return expr


def _no_matrix(expr, what: str):
    if isinstance(expr, sp.MatrixBase):
        raise _Invalid(f"got a SymPy matrix of shape {expr.shape}; {what} is a single expression")
    return expr


def _no_number(answer, what: str):
    if isinstance(answer, (int, float, np.floating, np.integer)) and not isinstance(answer, bool):
        raise _Invalid(f"got the number {answer}; the exercise asks for {what}")


def _number(answer, what: str) -> float:
    """A float answer; a SymPy number (e.g. 6*pi) is accepted too."""
    if isinstance(answer, sp.Basic):
        if answer.free_symbols:
            raise _Invalid(f"expected a number ({what}), got an expression in {sorted(map(str, answer.free_symbols))}")
        answer = float(answer)
    return _float(answer, what)


def _number_verdict(value, ref, hints, what, rtol=1e-6):
    return _numeric_verdict(value, ref, rtol, 1e-12, hints, what)
