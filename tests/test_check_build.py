"""scripts/check_build.py: a book build counts as complete only with every toc page, no execution report,
and every exercise's solution printing "correct"."""
import importlib.util
import json

from conftest import ROOT
from vdlib.book import toc_files

spec = importlib.util.spec_from_file_location("check_build", ROOT / "scripts" / "check_build.py")
check_build = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_build)


def _fake_build(tmp_path, pages):
    html = tmp_path / "html"
    for page in pages:
        (html / f"{page}.html").parent.mkdir(parents=True, exist_ok=True)
        (html / f"{page}.html").write_text("<html></html>")
    (html / "index.html").write_text("<html></html>")
    return tmp_path


def test_complete_build_passes(tmp_path):
    assert check_build.build_problems(_fake_build(tmp_path, toc_files(ROOT))) == []


def test_missing_page_and_execution_report_fail(tmp_path):
    entries = toc_files(ROOT)
    build = _fake_build(tmp_path, entries[:-1])
    (build / "html" / "reports" / "chapters").mkdir(parents=True)
    (build / "html" / "reports" / "chapters" / "10_x.err.log").write_text("Traceback")
    problems = check_build.build_problems(build)
    assert any(entries[-1] in p for p in problems)
    assert any("execution failed" in p and "10_x.err.log" in p for p in problems)


def test_no_build_at_all(tmp_path):
    (problem,) = check_build.build_problems(tmp_path)
    assert "not built" in problem


def _executed(tmp_path, outputs):
    folder = tmp_path / "jupyter_execute" / "chapters"
    folder.mkdir(parents=True, exist_ok=True)
    cells = [{"cell_type": "code", "outputs": [{"output_type": "stream", "name": "stdout", "text": text}]}
             for text in outputs]
    (folder / "02_x.ipynb").write_text(json.dumps({"cells": cells}))
    return tmp_path


def test_every_solution_must_print_correct(tmp_path):
    build = _executed(tmp_path, ["[ch02-w1] not attempted yet (...)\n",
                                 ["[ch02-w1] correct: factor = 0.333 (reference 0.333,\n", "    tolerance 1e-06)\n"],
                                 "[ch02-ex1] not attempted yet\n"])
    assert check_build.solution_problems(build, ["ch02-w1"]) == []
    (problem,) = check_build.solution_problems(build, ["ch02-w1", "ch02-ex1"])
    assert "ch02-ex1" in problem and "never printed 'correct'" in problem


def test_an_incorrect_or_invalid_verdict_fails(tmp_path):
    build = _executed(tmp_path, ["[ch02-w1] correct: fine\n[ch02-w2] incorrect: off by a factor of 2\n",
                                 "[ch02-w2] correct: fine\n"])
    assert check_build.solution_problems(build, ["ch02-w1", "ch02-w2"]) == ["ch02-w2: a check printed 'incorrect'"]
    assert check_build.solution_problems(tmp_path / "elsewhere", ["ch02-w1"])[0].startswith("no executed chapters")

