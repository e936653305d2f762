"""The standard tests of an exercise-check module, generated from its table of cases.

A test module writes ``CASES = {id: (solution, mistake, hint, bad, expected)}``:

* ``solution()`` returns the answer the chapter's solution cell computes (it must be "correct");
* ``mistake()`` returns a typical wrong answer, and ``hint`` is a phrase its message must contain;
* ``bad`` is an answer of the wrong type or shape, and ``expected`` a phrase of the "invalid" message;

then ``globals().update(standard_exercise_tests(CASES))`` adds the parametrized tests below.
"""
from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

ODD_INPUTS = ["text", {"a": 1}, float("nan"), np.full(10**6, np.nan), np.zeros((3, 3, 3)), [None], object(),
              sp.Symbol("unrelated"), -1e308, lambda *a, **k: "not a number", lambda *a, **k: np.nan, True]


def standard_exercise_tests(cases: dict) -> dict:
    from vdlib.book.exercises import STATUSES, check

    ids = sorted(cases)

    @pytest.mark.parametrize("ex_id", ids)
    def test_the_chapters_solution_is_correct(ex_id):
        result = check(ex_id, cases[ex_id][0](), quiet=True)
        assert result.status == "correct", result.message

    @pytest.mark.parametrize("ex_id", ids)
    def test_a_typical_mistake_gets_its_hint(ex_id):
        _, wrong, hint, _, _ = cases[ex_id]
        result = check(ex_id, wrong(), quiet=True)
        assert result.status == "incorrect", result.message
        assert hint in result.message, result.message

    @pytest.mark.parametrize("ex_id", ids)
    def test_the_placeholder_is_not_attempted(ex_id, capsys):
        for placeholder in (..., None):
            result = check(ex_id, placeholder)
            assert result.status == "not attempted" and "not attempted yet" in result.message
        assert "not attempted yet" in capsys.readouterr().out

    @pytest.mark.parametrize("ex_id", ids)
    def test_a_wrong_type_is_invalid_and_names_what_was_expected(ex_id):
        _, _, _, bad, expected = cases[ex_id]
        result = check(ex_id, bad, quiet=True)
        assert result.status == "invalid", result.message
        assert expected in result.message, result.message

    @pytest.mark.parametrize("ex_id", ids)
    def test_check_never_raises_on_odd_inputs(ex_id):
        for odd in ODD_INPUTS:
            result = check(ex_id, odd, quiet=True)
            assert result.status in STATUSES and result.status != "correct", (odd, result)

    return {name: fn for name, fn in locals().items() if name.startswith("test_")}
