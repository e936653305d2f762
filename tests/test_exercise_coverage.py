"""Every exercise of the book is tagged and checked, in every chapter (00–17):

* each ``exercise-start`` carries its difficulty as its title: ``warm-up``, ``core`` or ``research``;
* each numbered exercise K of chapter NN holds a code cell calling ``check("chNN-exK", ...)``;
* each chapter has 2–3 warm-up concept checks, unnumbered, labelled ``<chapter>_wK``, calling
  ``check("chNN-wK", ...)`` inside the block;
* every id a chapter calls is registered, every registered id is called by its chapter, and every
  registered id has a case (the solution and a known wrong answer) in a ``tests/test_exercises*.py``;
* no code cell stops "Run All": none raises ``NotImplementedError`` or is tagged ``raises-exception``.
"""
from __future__ import annotations

import re

import jupytext
import pytest

from conftest import ROOT
from vdlib.book import exercises as E

CHAPTERS = sorted((ROOT / "chapters").glob("[01][0-9]_*.md"))
DIFFICULTIES = ("warm-up", "core", "research")
BLOCK = re.compile(r"^```\{exercise-start\}(?P<title>[^\n]*)\n(?P<options>(?::[^\n]*\n)*)```\n(?P<body>.*?)^```\{exercise-end\}",
                   re.S | re.M)


def _blocks(path):
    return [(m.group("title").strip(), m.group("options"), m.group("body")) for m in BLOCK.finditer(path.read_text())]


def test_the_chapters_are_found():
    assert [p.name[:2] for p in CHAPTERS] == [f"{i:02d}" for i in range(18)]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_every_exercise_is_tagged_and_checked(path):
    text = path.read_text()
    blocks = _blocks(path)
    assert len(blocks) == text.count("```{exercise-start}"), f"{path.name}: an exercise block could not be parsed"
    chapter, numbered, warmups, problems = f"ch{path.name[:2]}", 0, 0, []
    for title, options, body in blocks:
        label = re.search(r":label: (\S+)", options)
        where = label.group(1) if label else f"block {title!r}"
        if title not in DIFFICULTIES:
            problems.append(f"{where}: title {title!r} is not a difficulty {DIFFICULTIES}")
        if title == "warm-up":
            warmups += 1
            want = f"{chapter}-w{warmups}"
            if ":nonumber:" not in options:
                problems.append(f"{where}: a warm-up is unnumbered (:nonumber:)")
            if not (label and label.group(1).endswith(f"_w{warmups}")):
                problems.append(f"{where}: warm-up {warmups} is labelled <chapter>_w{warmups}")
        else:
            numbered += 1
            want = f"{chapter}-ex{numbered}"
        if f'check("{want}"' not in body:
            problems.append(f"{where}: no check(\"{want}\", ...) in the exercise")
    if not 2 <= warmups <= 3:
        problems.append(f"{warmups} warm-up concept checks (2–3 per chapter)")
    assert not problems, f"{path.name}:\n  " + "\n  ".join(problems)
    assert "from vdlib.book.exercises import check" in text


def test_every_registered_id_is_called_by_its_chapter_and_vice_versa():
    called = {}
    for path in CHAPTERS:
        for ex_id in re.findall(r'\bcheck\("([^"]+)"', path.read_text()):
            assert ex_id.startswith(f"ch{path.name[:2]}-"), f"{path.name} calls {ex_id}"
            called[ex_id] = path.name
    assert set(called) == set(E.exercise_ids())


def test_every_registered_id_has_a_test_case():
    tests = "".join(p.read_text() for p in (ROOT / "tests").glob("test_exercises*.py"))
    missing = [ex_id for ex_id in E.exercise_ids() if f'"{ex_id}": (' not in tests]
    assert not missing, f"no CASES entry (solution, typical mistake, ...) for {missing}"


def test_every_registered_label_exists_in_its_chapter():
    for ex_id, ex in E.REGISTRY.items():
        path = next(p for p in CHAPTERS if p.name.startswith(ex_id[2:4]))
        assert f":label: {ex.label}" in path.read_text(), (ex_id, ex.label)


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_no_code_cell_stops_run_all(path):
    for cell in jupytext.read(path).cells:
        if cell.cell_type == "code":
            assert "raise NotImplementedError" not in cell.source, f"{path.name}: a stub still raises"
            assert "raises-exception" not in cell.metadata.get("tags", []), f"{path.name}: a cell is tagged raises-exception"
