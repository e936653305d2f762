"""The results scoreboard: recording (vdlib.book.scoreboard.chapter / result / erratum), the pages built
from the records (reference/results.md, reference/errata.md), and the order in which a book build
executes them (after every chapter, on every build)."""
import json
import math
import os
import re
import shutil
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import jupytext
import numpy as np
import pytest
from nbclient import NotebookClient

from vdlib.book import scoreboard

from conftest import ROOT

HEADER = """---
# front matter comment, not a heading
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
"""
RESULT = dict(item="Fig. 1a: rank of D", paper="1.8 %", book="2.07 %", verdict="partially", run="live cell",
              data="Fashion-MNIST", seed=42)


@pytest.fixture
def results(tmp_path, monkeypatch):
    """An empty records folder, used by every record this test writes."""
    folder = tmp_path / "results"
    monkeypatch.setenv(scoreboard.ENV_RESULTS, str(folder))
    return folder


def _saved(board) -> dict:
    return json.loads(board.path.read_text())


# --------------------------------------------------------------------------------------------- recording

def test_a_result_is_written_with_its_provenance(results):
    board = scoreboard.chapter("chapters/10_spectrum", "Spectrum", profile="ci")
    assert board.path == results / "chapters__10_spectrum.json"
    board.result("fig1a-rank", **RESULT, note="MNIST is not on disk", section="sec-rank")
    saved = _saved(board)
    assert saved["chapter"] == "chapters/10_spectrum" and saved["profile"] == "ci" and saved["written"]
    (r,) = saved["results"]
    assert (r["paper"], r["book"], r["verdict"], r["seed"], r["profile"], r["section"]) == (
        "1.8 %", "2.07 %", "partially", 42, "ci", "sec-rank")


@pytest.mark.parametrize("verdict", ["Reproduced", "ok", "", None])
def test_an_unknown_verdict_is_refused(results, verdict):
    board = scoreboard.chapter("chapters/x", "X", profile="ci")
    with pytest.raises(ValueError, match="is not one of reproduced, partially, contradicted, not run here"):
        board.result("k", **{**RESULT, "verdict": verdict})


@pytest.mark.parametrize("key", ["fig 1a", "", "-x", "a/b", 3, None])
def test_a_bad_key_is_refused(results, key):
    board = scoreboard.chapter("chapters/x", "X", profile="ci")
    with pytest.raises(ValueError, match="result key .*use letters, digits"):
        board.result(key, **RESULT)


@pytest.mark.parametrize("value", [float("nan"), math.inf, -math.inf, np.float64("nan"), np.float32("inf")])
def test_a_non_finite_number_is_refused(results, value):
    board = scoreboard.chapter("chapters/x", "X", profile="ci")
    with pytest.raises(ValueError, match="record a finite number"):
        board.result("k", **{**RESULT, "book": value})


@pytest.mark.parametrize("field", ["item", "run", "data"])
@pytest.mark.parametrize("value", [3, None, "", "   ", ["a"]])
def test_text_fields_must_be_non_empty_strings(results, field, value):
    board = scoreboard.chapter("chapters/x", "X", profile="ci")
    with pytest.raises(ValueError, match=f"{field} must be a non-empty string"):
        board.result("k", **{**RESULT, field: value})


def test_numbers_must_be_scalars_and_numpy_scalars_are_converted(results):
    board = scoreboard.chapter("chapters/x", "X", profile="ci")
    with pytest.raises(TypeError, match="must be a string or a number, got list"):
        board.result("k", **{**RESULT, "book": [1, 2]})
    r = board.result("k", **{**RESULT, "book": np.float32(0.5), "seed": (np.int64(1), 2)})
    assert r["book"] == 0.5 and type(r["book"]) is float and r["seed"] == [1, 2]
    assert _saved(board)["results"][0]["seed"] == [1, 2]


def test_recording_a_key_again_replaces_it(results):
    board = scoreboard.chapter("chapters/x", "X", profile="ci")
    board.result("a", **RESULT)
    board.result("b", **RESULT)
    board.result("a", **{**RESULT, "book": "3.1 %", "verdict": "reproduced"})
    saved = _saved(board)["results"]
    assert [r["key"] for r in saved] == ["a", "b"]
    assert (saved[0]["book"], saved[0]["verdict"]) == ("3.1 %", "reproduced")


def test_opening_a_chapter_empties_its_record(results):
    board = scoreboard.chapter("chapters/x", "X", profile="ci")
    board.result("a", **RESULT)
    board.erratum("E3", evidence="dF/dt = -0.2", holds=True)
    again = scoreboard.chapter("chapters/x", "X", profile="ci")
    assert again.path == board.path
    saved = _saved(again)
    assert saved["results"] == [] and saved["errata"] == []


@pytest.mark.parametrize("key", ["E0", "E12", "e3", "3", "E03", None])
def test_erratum_keys_are_those_of_the_errata_page(results, key):
    board = scoreboard.chapter("chapters/x", "X", profile="ci")
    with pytest.raises(ValueError, match="use the errata page's numbering"):
        board.erratum(key, evidence="x", holds=True)


def test_erratum_needs_evidence_and_a_boolean(results):
    board = scoreboard.chapter("chapters/x", "X", profile="ci")
    with pytest.raises(ValueError, match="evidence must be a sentence"):
        board.erratum("E3", evidence="  ", holds=True)
    with pytest.raises(TypeError, match="holds must be True or False"):
        board.erratum("E3", evidence="x", holds=np.bool_(True))
    board.erratum("E3", evidence="x", holds=False, section="sec-a")
    assert _saved(board)["errata"] == [{"key": "E3", "evidence": "x", "holds": False, "section": "sec-a",
                                         "profile": "ci"}]


@pytest.mark.parametrize("docname", ["../x", "chapters/a b", "", "/abs/../x"])
def test_a_bad_chapter_name_is_refused(results, docname):
    with pytest.raises(ValueError, match="chapter docname"):
        scoreboard.chapter(docname, "X", profile="ci")


def test_the_records_folder(tmp_path, monkeypatch):
    monkeypatch.setenv(scoreboard.ENV_RESULTS, str(tmp_path / "env"))
    assert scoreboard.results_dir() == tmp_path / "env"
    monkeypatch.delenv(scoreboard.ENV_RESULTS)
    (tmp_path / "book" / "chapters").mkdir(parents=True)
    (tmp_path / "book" / "_toc.yml").write_text("root: intro\n")
    monkeypatch.chdir(tmp_path / "book" / "chapters")
    assert scoreboard.results_dir() == (tmp_path / "book" / "_build" / ".jupyter_cache" / "vdlib-results").resolve()
    monkeypatch.setenv(scoreboard.ENV_RESULTS, "records")  # relative: from the book's root, wherever the kernel runs
    assert scoreboard.results_dir() == (tmp_path / "book" / "records").resolve()
    monkeypatch.delenv(scoreboard.ENV_RESULTS)
    monkeypatch.chdir(tmp_path)
    assert scoreboard.results_dir() == tmp_path.resolve() / "vdlib-results"


def test_an_unreadable_record_is_a_clear_error(tmp_path):
    (tmp_path / "chapters__x.json").write_text("{not json")
    with pytest.raises(ValueError, match="not a readable chapter record.*jupyter-book build --all"):
        scoreboard.load_records(tmp_path)
    assert scoreboard.load_records(tmp_path / "missing") == []


# ------------------------------------------------------------------------------ the pages (rendering)

def _book(root: Path, chapters: dict[str, str]) -> Path:
    """A minimal book: ``_toc.yml`` with the given chapters (name -> MyST body) and the reference pages."""
    (root / "chapters").mkdir(parents=True, exist_ok=True)
    toc = ["format: jb-book", "root: intro", "chapters:"]
    for name, body in chapters.items():
        (root / "chapters" / f"{name}.md").write_text(HEADER + textwrap.dedent(body))
        toc.append(f"  - file: chapters/{name}")
    (root / "intro.md").write_text("(intro)=\n# Intro\n")
    (root / "_toc.yml").write_text("\n".join(toc) + "\n")
    return root


CH_A = '''\
(ch-a)=
# Chapter A

(sec-a-rank)=
## The rank of $D$

```{code-cell} ipython3
board = scoreboard.chapter("chapters/01_a", "Chapter A")
# a comment that looks like a heading
```
'''
CH_B = '''\
# Chapter B

The paper's Example 19 violates Assumption 4 (erratum E4).

```{code-cell} ipython3
from vdlib.book.display import setup

rng, gen, cfg, board = setup("chapters/02_b", "Chapter B", data="none")
```
'''
CH_C = "# Chapter C\n\nNo record here.\n"


@pytest.fixture
def book(tmp_path, results):
    root = _book(tmp_path / "book", {"01_a": CH_A, "02_b": CH_B, "03_c": CH_C})
    a = scoreboard.chapter("chapters/01_a", "Chapter A", profile="ci")
    a.result("fig1a-rank", **{**RESULT, "book": 2.0734, "verdict": "partially"}, section="sec-a-rank",
             note="rule: partially when the data set differs")
    a.result("thm5", item="Theorem 5", paper="F decreases", book="max dF/dt = -1.2e-05 | all t",
             verdict="reproduced", run="live cell", data="grid <b>", seed=[0, 1], section="sec-typo")
    a.result("fig2", item="Fig. 2a", paper="0.34 %", book="CIFAR-10 not on disk", verdict="not run here",
             run="python -m vdlib.experiments.spectrum", data="CIFAR-10", seed=42)
    a.erratum("E3", evidence="dF/dt ≤ 0 at every step with ∇·j ≠ 0", holds=True, section="sec-a-rank")
    a.erratum("E8", evidence="the amplitude decays like t^-0.9", holds=False)
    stray = scoreboard.chapter("chapters/99_gone", "Gone", profile="ci")
    stray.result("x", **RESULT)
    return root


def test_book_chapters_are_read_from_the_sources(book):
    chapters = scoreboard.book_chapters(book)
    assert [c.docname for c in chapters] == ["chapters/01_a", "chapters/02_b", "chapters/03_c"]
    assert [c.title for c in chapters] == ["Chapter A", "Chapter B", "Chapter C"]
    assert [c.opens_record for c in chapters] == [True, True, False]
    assert chapters[0].labels == {"ch-a": "Chapter A", "sec-a-rank": "The rank of $D$"}
    assert scoreboard.label_index(book)["sec-a-rank"] == ("chapters/01_a", "The rank of $D$")


def test_verdict_counts_and_summary(book):
    records = scoreboard.load_records()
    summary = scoreboard.summary_markdown(records, root=book)
    for line in ("| reproduced | 1 |", "| partially | 1 |", "| contradicted | 0 |", "| not run here | 1 |",
                 "| **total** | **3** |"):
        assert line in summary
    assert "3 paper items recorded by 1 of the book's 3 chapters" in summary
    assert "Run profile: `ci` (every chapter)" in summary
    assert "Gone" not in summary  # a record of a page that is not in the book is not counted
    empty = scoreboard.summary_markdown([], root=book)
    assert "No chapter has recorded results" in empty and "jupyter-book build --all" in empty


def test_results_table_holds_the_computed_values(book):
    page = scoreboard.results_markdown(root=book)
    assert "**[Chapter A](../chapters/01_a.md)** — 3 items, profile `ci`" in page
    assert "| 1 | Fig. 1a: rank of D | 1.8 % | 2.0734 | partially | [The rank of $D$](#sec-a-rank) |" in page
    assert r"max dF/dt = -1.2e-05 \| all t" in page  # a '|' in a value does not split the cell
    assert "grid &lt;b>" in page  # nor does '<' start an HTML tag
    assert "| 2 | live cell | ci | grid &lt;b> | 0, 1 |" in page
    assert "[Chapter A](../chapters/01_a.md) (no section labelled `sec-typo` in this book)" in page
    assert "| 3 | Fig. 2a | 0.34 % | CIFAR-10 not on disk | not run here |" in page
    assert "- 1: rule: partially when the data set differs" in page
    assert "Gone" not in page


def test_a_chapter_that_changes_its_number_changes_the_page(book):
    before = scoreboard.results_markdown(root=book)
    a = scoreboard.chapter("chapters/01_a", "Chapter A", profile="ci")
    a.result("fig1a-rank", **{**RESULT, "book": 1.9}, section="sec-a-rank")
    after = scoreboard.results_markdown(root=book)
    assert "2.0734" in before and "2.0734" not in after and "| 1.9 |" in after
    assert "| partially | 1 |" in scoreboard.summary_markdown(root=book)


def test_missing_records_are_reported_with_the_fix(book):
    text = scoreboard.missing_markdown(root=book)
    assert "Chapters without a record: 1** ([Chapter B](../chapters/02_b.md))" in text
    assert "jupyter-book build --all ." in text and "jupyter-book clean --all ." in text
    assert "Chapters that record no paper items: [Chapter C](../chapters/03_c.md)." in text
    assert "`chapters/99_gone`" in text
    (scoreboard.results_dir() / "chapters__99_gone.json").unlink()
    scoreboard.chapter("chapters/02_b", "Chapter B", profile="ci")
    text = scoreboard.missing_markdown(root=book)
    assert text.startswith("All 2 chapters that record results have a record in this build.")
    assert "gone" not in text


def test_errata_evidence_comes_from_the_records(book):
    e3 = scoreboard.erratum_markdown("E3", root=book)
    assert "[Chapter A](../chapters/01_a.md), section [The rank of $D$](#sec-a-rank)" in e3
    assert "dF/dt ≤ 0 at every step with ∇·j ≠ 0. **The correction holds**" in e3
    e8 = scoreboard.erratum_markdown("E8", root=book)
    assert "t^-0.9. **The correction is not borne out** by this execution." in e8
    overview = scoreboard.errata_overview_markdown(root=book)
    assert "| [E3](#erratum-e3) | [Chapter A](../chapters/01_a.md) | yes |" in overview
    assert "| [E8](#erratum-e8) | [Chapter A](../chapters/01_a.md) | **no** |" in overview
    assert "| [E1](#erratum-e1) | no record in this build | — |" in overview
    with pytest.raises(ValueError, match="the errata page lists E1"):
        scoreboard.erratum_markdown("E12", root=book)


def test_an_erratum_without_record_is_reported_as_missing(book):
    e4 = scoreboard.erratum_markdown("E4", root=book)  # discussed in chapter B, which has no record
    assert e4.startswith("**No chapter recorded a computation for E4 in this build.**")
    assert "It is discussed in [Chapter B](../chapters/02_b.md)" in e4 and "jupyter-book build --all" in e4
    e9 = scoreboard.erratum_markdown("E9", root=book)
    assert "No chapter of the book discusses it." in e9 and "E1" not in e9.replace("E9", "")


# ----------------------------------------------------------- the chapters' records point at real targets

def _record_calls(path: Path):
    """(kind, erratum key, section) of every ``board.result`` / ``board.erratum`` call in the code cells,
    for the arguments written as literals (None where an argument is computed)."""
    import ast

    for cell in jupytext.read(path).cells:
        if cell.cell_type != "code":
            continue
        code = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in cell.source.splitlines())
        with warnings.catch_warnings():  # a chapter's own SyntaxWarnings are not this test's business
            warnings.simplefilter("ignore")
            tree = ast.parse(code)
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("result", "erratum") and isinstance(node.func.value, ast.Name)
                    and node.func.value.id == "board"):
                key = node.args[0].value if node.args and isinstance(node.args[0], ast.Constant) else None
                section = next((k.value.value for k in node.keywords
                                if k.arg == "section" and isinstance(k.value, ast.Constant)), None)
                yield node.func.attr, key, section


def test_chapter_records_name_existing_sections_and_errata():
    """A label named in ``section=`` must exist (else the pages cannot link it); erratum keys are E1–E11."""
    labels = scoreboard.label_index(ROOT)
    problems = []
    for chapter in scoreboard.book_chapters(ROOT):
        for kind, key, section in _record_calls(chapter.path):
            if section and section not in labels:
                problems.append(f"{chapter.docname}: section={section!r} is not a (label)= of the book")
            if kind == "erratum" and key is not None and key not in scoreboard.ERRATA:
                problems.append(f"{chapter.docname}: erratum {key!r} is not one of E1–E11")
    assert not problems, "\n".join(problems)


def test_the_errata_page_has_one_labelled_section_per_erratum():
    text = (ROOT / "reference" / "errata.md").read_text()
    for key in scoreboard.ERRATA:
        label = f"(erratum-{key.lower()})="
        assert text.count(label) == 1, f"{label} missing or repeated"
        after = text.split(label, 1)[1]
        assert after.lstrip().startswith(f"## {key}:"), f"{label} does not precede the heading of {key}"
        section = after.lstrip().split("\n## ", 1)[0]
        assert f'erratum_markdown("{key}", records)' in section, f"{key}: no cell prints its records"


def test_the_pages_re_execute_on_every_build():
    for page in scoreboard.SCOREBOARD_PAGES:
        meta = jupytext.read(ROOT / f"{page}.md").metadata
        assert meta.get("mystnb", {}).get("execution_mode") == "force", f"{page}: not forced (jupyter-cache)"
        assert meta.get("kernelspec", {}).get("name") == "python3"


# --------------------------------------------------------------------------- the Sphinx extension

class _Cfg:
    vdlib_scoreboard_pages = list(scoreboard.SCOREBOARD_PAGES)


class _App:
    config = _Cfg()


class _Env:
    found_docs = {"intro", "chapters/01_a", "reference/results", "reference/errata", "reference/glossary"}


def test_the_extension_rereads_the_pages_and_reads_them_last():
    assert scoreboard._outdated(_App(), _Env(), set(), set(), set()) == ["reference/results", "reference/errata"]
    order = sorted(["reference/errata", "chapters/01_a", "reference/results", "intro", "zz/after"])
    scoreboard._read_last(_App(), _Env(), order)
    assert order == ["chapters/01_a", "intro", "zz/after", "reference/results", "reference/errata"]
    order = ["chapters/01_a"]
    scoreboard._read_last(_App(), _Env(), order)
    assert order == ["chapters/01_a"]


# ------------------------------------------------- integration: a chapter executes, then the two pages

TIMEOUT = int(os.environ.get("NB_TIMEOUT", "300"))


def _execute(path: Path) -> list[str]:
    """Execute a MyST notebook in a fresh kernel, in its own folder (as the book does); its outputs' text."""
    nb = jupytext.read(path)
    NotebookClient(nb, timeout=TIMEOUT, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    texts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            texts.append(data.get("text/markdown") or data.get("text/plain") or out.get("text", ""))
    return texts


TINY = '''\
(ch-tiny)=
# A tiny chapter

(sec-tiny-number)=
## A number

```{code-cell} ipython3
from vdlib.book import scoreboard

board = scoreboard.chapter("chapters/01_tiny", "A tiny chapter")
value = sum(k * k for k in range(1, 8)) / 7
board.result("tiny-mean-square", item="Eq. (0): the mean of k² for k = 1 … 7", paper=20, book=value,
             verdict="reproduced" if value == 20 else "contradicted", run="live cell", data="the integers",
             seed="none (exact)", section="sec-tiny-number")
board.erratum("E3", evidence=f"the mean square is {value:.4f}", holds=value == 20, section="sec-tiny-number")
```
'''


def _chapter_cases():
    yield pytest.param("synthetic", id="synthetic-chapter")
    ch01 = ROOT / "chapters" / "01_minibatch_noise.md"
    records = ch01.is_file() and "board.result(" in ch01.read_text()
    yield pytest.param("chapters/01_minibatch_noise", id="chapter-01",
                       marks=pytest.mark.skipif(not records, reason="chapter 01 records nothing yet"))


@pytest.mark.parametrize("case", list(_chapter_cases()))
def test_pages_show_what_the_chapter_just_recorded(case, tmp_path, results):
    if case == "synthetic":
        root = _book(tmp_path / "book", {"01_tiny": TINY})
        shutil.copytree(ROOT / "reference", root / "reference")
        chapter = root / "chapters" / "01_tiny.md"
    else:
        root, chapter = ROOT, ROOT / f"{case}.md"
    _execute(chapter)
    (record,) = scoreboard.load_records(results)
    assert record["results"], f"{chapter.name} recorded no paper item"
    results_page = "\n".join(_execute(root / "reference" / "results.md"))
    for r in record["results"]:
        assert scoreboard._cell(r["book"]) in results_page, f"{r['key']}: the book's number is not on the page"
        assert scoreboard._cell(r["paper"]) in results_page
    assert f"{scoreboard._n(len(record['results']), 'paper item')} recorded by 1 of the book's" in results_page
    errata_page = "\n".join(_execute(root / "reference" / "errata.md"))
    for e in record["errata"]:
        assert scoreboard._inline(e["evidence"]) in errata_page, f"{e['key']}: the evidence is not on the page"
    missing = [k for k in scoreboard.ERRATA if k not in {e["key"] for e in record["errata"]}]
    assert f"No chapter recorded a computation for {missing[0]} in this build" in errata_page


# ------------------------------------------------------- a real (incremental) build of a two-page book

BUILD_CONFIG = """\
title: scoreboard test
only_build_toc_files: true
execute:
  execute_notebooks: cache
  timeout: 300
sphinx:
  extra_extensions: [vdlib.book.scoreboard]
  config:
    nb_render_markdown_format: myst
"""
PAGE = HEADER.replace("---\n", "---\nmystnb:\n  execution_mode: force\n", 1)[len("---\n"):]
PAGE = "---\n" + PAGE + """\
(ref-results)=
# Results

```{code-cell} ipython3
from IPython.display import Markdown
from vdlib.book import scoreboard
Markdown(scoreboard.results_markdown())
```
"""


def _build(root: Path) -> str:
    jb = Path(sys.executable).with_name("jupyter-book")
    proc = subprocess.run([str(jb), "build", str(root), "-n", "-W", "--keep-going"], capture_output=True,
                          text=True, timeout=600)
    out = re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout)  # no colour codes
    assert proc.returncode == 0, out[-3000:] + proc.stderr[-3000:]
    return out


def test_an_incremental_build_re_executes_the_page_after_the_changed_chapter(tmp_path, results):
    """Jupyter-book re-reads only changed pages and serves unchanged code from its cache: the extension
    and ``execution_mode: force`` make the results page follow a chapter whose number changed."""
    root = _book(tmp_path / "book", {"01_tiny": TINY})
    (root / "_config.yml").write_text(BUILD_CONFIG)
    (root / "reference").mkdir()
    (root / "reference" / "results.md").write_text(PAGE)
    (root / "_toc.yml").write_text((root / "_toc.yml").read_text() + "  - file: reference/results\n")
    html = root / "_build" / "html" / "reference" / "results.html"
    log = _build(root)
    assert re.findall(r"reading sources\.\.\. \[ *\d+%\] (\S+)", log) == [
        "chapters/01_tiny", "intro", "reference/results"], log
    row = html.read_text().split("Eq. (0)", 1)[1].split("</tr>")[0]
    assert "<p>20</p>" in row and "reproduced" in row
    chapter = root / "chapters" / "01_tiny.md"
    chapter.write_text(chapter.read_text().replace("range(1, 8)) / 7", "range(1, 8)) / 8"))
    log = _build(root)
    assert re.findall(r"reading sources\.\.\. \[ *\d+%\] (\S+)", log) == [
        "chapters/01_tiny", "reference/results"], log  # the page is re-read although its file did not change
    row = html.read_text().split("Eq. (0)", 1)[1].split("</tr>")[0]
    assert "<p>17.5</p>" in row and "contradicted" in row


def test_the_pages_work_outside_a_book(tmp_path, results, monkeypatch):
    """A page downloaded as a notebook runs where there is no _toc.yml: it shows the records it finds."""
    monkeypatch.chdir(tmp_path)
    board = scoreboard.chapter("chapters/01_a", "Chapter A", profile="ci")
    board.result("k", **RESULT, section="sec-x")
    board.erratum("E2", evidence="the factor is 2.0", holds=True)
    assert "| 1 | Fig. 1a: rank of D | 1.8 % | 2.07 % | partially |" in scoreboard.results_markdown()
    assert "1 paper item recorded by 1 of the book's 1 chapter." in scoreboard.summary_markdown()
    assert "the factor is 2.0. **The correction holds**" in scoreboard.erratum_markdown("E2")
    assert "No chapter recorded a computation for E3" in scoreboard.erratum_markdown("E3")
    assert "has a record" in scoreboard.missing_markdown()
