"""Student and instructor editions (vdlib.book.editions) and the PDF (scripts/build_pdf.py).

A two-page fixture book (a landing page, and a notebook page with one exercise whose gated
solution holds text and an executed code cell) is built in both editions with the execution
cache of the first build shared by the second; the student HTML must hold no solution text, code
or output, the instructor HTML all three. The PDF test prints the fixture's instructor edition
with headless Chromium and reads the text back.

Environment: VDLIB_REQUIRE_BROWSER=1 fails instead of skipping when Chromium/Playwright is missing.
"""
from __future__ import annotations

import os
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

from conftest import ROOT
from vdlib.book.editions import STUDENT_NOTE, edition_from_environment, strip_solution_blocks

SOLUTION_TEXT = "The answer follows from symmetry"
SOLUTION_OUTPUT = "solution-output-" + "7" * 3          # printed by the solution's code cell
SOLUTION_CODE = "print('solution-output-' + '7' * 3)"
EXERCISE_TEXT = "Compute the fixture quantity"

FIXTURE_CONFIG = """\
title: Editions fixture
author: tests
only_build_toc_files: true
exclude_patterns: [_build]
execute:
  execute_notebooks: cache
parse:
  myst_enable_extensions: [amsmath, colon_fence, dollarmath]
sphinx:
  extra_extensions: [sphinx_proof, sphinx_exercise, vdlib.book.editions]
  config:
    exercise_style: solution_follow_exercise
    html_static_path: ["{vendor}"]        # the book's vendored MathJax: no network needed
    mathjax_path: mathjax/tex-chtml.js
"""
FIXTURE_TOC = """\
format: jb-book
root: intro
chapters:
  - file: exercises
"""
FIXTURE_INTRO = """\
# Fixture landing page

A book of two pages. Inline math $a^2 + b^2 = c^2$ and a display:

$$
\\frac{1}{2} \\int_0^1 x \\, dx = \\frac{1}{4}
$$

```{prf:definition} Fixture definition
:label: fixture-definition

A sphinx-proof block, which the one-page (PDF) build must draw too.
```
"""
FIXTURE_EXERCISES = f"""\
---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
    format_version: 0.13
kernelspec:
  display_name: Python 3 (ipykernel)
  language: python
  name: python3
---

# Exercises page

```{{code-cell}} ipython3
print("main-text-cell")
```

```{{exercise-start}}
:label: fixture_ex1
```

{EXERCISE_TEXT}.

```{{exercise-end}}
```

```{{solution-start}} fixture_ex1
:class: dropdown
```

{SOLUTION_TEXT}.

```{{code-cell}} ipython3
{SOLUTION_CODE}
```

```{{solution-end}}
```

Text after the exercise.
"""


def write_fixture_book(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "_config.yml").write_text(FIXTURE_CONFIG.format(vendor=ROOT / "_vendor"))
    (root / "_toc.yml").write_text(FIXTURE_TOC)
    (root / "intro.md").write_text(FIXTURE_INTRO)
    (root / "exercises.md").write_text(FIXTURE_EXERCISES)
    return root


def jupyter_book() -> str:
    return str(Path(sys.executable).parent / "jupyter-book")


def build(root: Path, out: Path | None, edition: str, cache: Path | None = None, builder: str = "html") -> str:
    env = {**os.environ, "VDLIB_EDITION": edition}
    env.pop("MPLBACKEND", None)
    if cache is not None:
        env["VDLIB_JUPYTER_CACHE"] = str(cache)
    cmd = [jupyter_book(), "build", str(root), "-n", "-W", "--keep-going", "--builder", builder]
    if out is not None:
        cmd += ["--path-output", str(out)]
    proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=900)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{edition} build failed:\n{log[-4000:]}"
    return log


@pytest.fixture(scope="module")
def editions(tmp_path_factory):
    """The fixture book built as instructor (default output) then student (own output, shared cache)."""
    root = write_fixture_book(tmp_path_factory.mktemp("editions") / "book")
    instructor_log = build(root, None, "instructor")
    student_log = build(root, root / "_build" / "student", "student", cache=root / "_build" / ".jupyter_cache")
    return {
        "root": root,
        "instructor": root / "_build" / "html",
        "student": root / "_build" / "student" / "_build" / "html",
        "instructor_log": instructor_log,
        "student_log": student_log,
    }


def test_edition_switch_reads_the_environment():
    assert edition_from_environment({}) is None
    assert edition_from_environment({"VDLIB_EDITION": " Student "}) == "student"
    with pytest.raises(ValueError, match="one of instructor, student"):
        edition_from_environment({"VDLIB_EDITION": "teacher"})


def test_strip_solution_blocks_removes_gated_and_single_solutions():
    stripped = strip_solution_blocks(FIXTURE_EXERCISES + "\n:::{solution} fixture_ex1\nSingle solution.\n:::\nAfter.\n")
    assert SOLUTION_TEXT not in stripped and SOLUTION_CODE not in stripped and "Single solution" not in stripped
    assert EXERCISE_TEXT in stripped and "Text after the exercise." in stripped and "After." in stripped
    assert "main-text-cell" in stripped
    with pytest.raises(ValueError, match="no matching solution-end"):
        strip_solution_blocks("```{solution-start} x\n```\ntext\n")


def test_instructor_edition_has_the_solution(editions):
    page = (editions["instructor"] / "exercises.html").read_text()
    assert SOLUTION_TEXT in page and SOLUTION_OUTPUT in page and "class=\"solution" in page
    assert STUDENT_NOTE not in (editions["instructor"] / "intro.html").read_text()


def test_student_edition_has_no_solution(editions):
    html = editions["student"]
    page = (html / "exercises.html").read_text()
    assert EXERCISE_TEXT in page and "main-text-cell" in page, "the student page lost the exercise or the main text"
    for leaked in (SOLUTION_TEXT, SOLUTION_OUTPUT, "solution-output-", "class=\"solution"):
        assert leaked not in page, f"the student edition shows {leaked!r}"
    assert STUDENT_NOTE in (html / "intro.html").read_text()
    for source in (html / "_sources").rglob("*"):
        if source.is_file():
            text = source.read_text(errors="replace")
            assert SOLUTION_TEXT not in text and "solution-output-" not in text, f"{source} leaks the solution"
    searchindex = (html / "searchindex.js").read_text()
    assert "symmetri" not in searchindex.lower(), "the search index holds words of the solution"


def test_student_edition_reuses_the_execution_cache(editions):
    assert "Executing notebook" in editions["instructor_log"]
    assert "Executing notebook" not in editions["student_log"], "the student build executed the notebook again"
    assert "Using cached notebook" in editions["student_log"]


def test_pdf_of_the_fixture_book(editions):
    from helpers.browser import chromium_or_skip

    chromium_or_skip()
    root = editions["root"]
    build(root, None, "instructor", builder="singlehtml")
    pdf = root / "_build" / "pdf" / "book.pdf"
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_pdf.py"), "--book", str(root),
                           "--no-build", "--output", str(pdf)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    from pypdf import PdfReader

    # NFKC: the PDF's text has typographic ligatures ("ﬁ") where the source has two letters
    text = unicodedata.normalize("NFKC", " ".join(page.extract_text() for page in PdfReader(pdf).pages))
    assert "Fixture landing page" in text and "Exercises page" in text and "Fixture definition" in text
    assert SOLUTION_TEXT in text and SOLUTION_OUTPUT in text, "the instructor PDF lost the (expanded) solution"
    assert "$$" not in text and "\\frac" not in text, "raw TeX in the PDF: MathJax did not typeset"


def test_pdf_check_fails_on_a_missing_chapter(tmp_path):
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import build_pdf
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    problems = build_pdf.text_problems("Fixture landing page only, $$x$$", ["Fixture landing page", "Exercises page"])
    assert any("Exercises page" in p for p in problems) and any("$$" in p for p in problems)
    assert build_pdf.text_problems("Fixture landing page Exercises page", ["Fixture landing page", "Exercises page"]) == []

