"""vdlib.book.course: the course map's facts are read correctly from sources and from jupyter-cache."""
import re
import textwrap

import pytest

from conftest import ROOT
from vdlib.book import course

CHAPTER = textwrap.dedent('''\
    ---
    jupytext:
      text_representation:
        extension: .md
    ---

    (sec-demo)=
    # A demo chapter

    One two three four five, with $x^2$ inline.

    $$
    a = b + c + d
    $$

    ```{code-cell} ipython3
    words_in_code = "not counted at all here"
    ```

    See {ref}`the noise <sec-noise>` and {doc}`01_first` and [the SDE](02_second.md#sec-sde).

    ```{exercise-start}
    :label: demo_ex1
    ```

    Six seven.

    ```{exercise-end}
    ```

    :::{exercise}
    :label: demo_ex2
    Eight.
    :::
    ''')


def test_exercise_difficulties_are_read_from_the_directive_title():
    text = ("```{exercise-start} warm-up\n:label: a_w1\n:nonumber:\n```\nq\n```{exercise-end}\n```\n"
            "```{exercise-start} research\n:label: a_ex1\n```\nq\n```{exercise-end}\n```\n"
            "```{exercise-start}\n:label: a_ex2\n```\nq\n```{exercise-end}\n```\n")
    assert course.exercise_blocks(text) == [("a_w1", "warm-up"), ("a_ex1", "research"), ("a_ex2", "")]
    assert course._assignment(course.exercise_blocks(text)) == "research: `a_ex1` · untagged: `a_ex2` · warm-up: 1 concept check"


def test_exercise_labels_in_order_and_unlabelled_exercises_refused():
    assert course.exercise_labels(CHAPTER) == ["demo_ex1", "demo_ex2"]
    with pytest.raises(ValueError, match="no :label:"):
        course.exercise_labels("```{exercise-start}\n:class: dropdown\n```\ntext\n")


def test_prose_words_leave_out_code_math_header_and_directive_lines():
    # the heading 3 words; "One two three four five, with x inline." 8 (inline math reads as one);
    # "See the noise and 01_first and the SDE." 8 (roles and links read as their text);
    # "Six seven." 2; "Eight." 1
    assert course.prose_words(CHAPTER) == 3 + 8 + 8 + 2 + 1
    assert course.prose_words(CHAPTER + "\nnine ten\n") == course.prose_words(CHAPTER) + 2


def test_reading_minutes():
    assert course.reading_minutes(400) == 2.0
    assert course.reading_minutes(300, wpm=100) == 3.0
    for bad in (-1, 2.5, True):
        with pytest.raises(ValueError, match="words"):
            course.reading_minutes(bad)
    with pytest.raises(ValueError, match="wpm"):
        course.reading_minutes(10, wpm=0)


def test_prerequisites_follow_references_to_earlier_chapters_only():
    sources = {
        "01_first": "(sec-noise)=\n# First\nSee {doc}`03_third` later.\n",
        "02_second": "(sec-sde)=\n# Second\n```{math}\n:label: eq-sde\nx\n```\n",
        "03_third": "# Third\n{eq}`eq-sde` and {ref}`sec-noise` and {ref}`unknown-label`\n",
    }
    assert course.prerequisites(sources) == {"01_first": [], "02_second": [], "03_third": ["01_first", "02_second"]}
    needs = course.prerequisites({**sources, "04_demo": CHAPTER})
    assert needs["04_demo"] == ["01_first", "02_second"]


def test_plan_problems_finds_each_kind_of_mistake():
    needs = {"01_a": [], "02_b": ["01_a"]}
    assert course.plan_problems([(1, ("01_a",), ""), (2, ("02_b",), "")], needs, ["01_a", "02_b"]) == []
    problems = course.plan_problems([(1, ("02_b", "09_x"), ""), (2, ("01_a", "02_b"), "")], needs, ["01_a", "02_b", "03_c"])
    text = "\n".join(problems)
    for expected in ("02_b is scheduled twice", "03_c is in no week", "09_x (week 1) is not a chapter",
                     "02_b (week 1) needs 01_a, scheduled later (week 2)"):
        assert expected in text, problems


def test_the_books_plan_covers_every_chapter_after_its_prerequisites():
    paths = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.md"))
    sources = {p.stem: p.read_text() for p in paths}
    assert course.plan_problems(course.WEEKS, course.prerequisites(sources), list(sources)) == []
    assert 12 <= len(course.WEEKS) <= 14
    # every chapter's exercises are labelled, so each week can be assigned by label
    assert all(course.exercise_labels(text) for text in sources.values())


def test_execution_seconds_read_from_a_real_jupyter_cache(tmp_path):
    import jupytext
    import nbformat
    from jupyter_cache import get_cache
    from jupyter_cache.executors import load_executor

    nb_path = tmp_path / "tiny.md"
    other = tmp_path / "never_run.md"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import time\ntime.sleep(0.3)\nx = 1")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    jupytext.write(nb, nb_path, fmt="md:myst")
    jupytext.write(nb, other, fmt="md:myst")
    cache_dir = tmp_path / "cache"
    assert course.execution_seconds(cache_dir, [nb_path]) == {nb_path.resolve(): None}
    assert not cache_dir.exists(), "reading must not create a cache"
    cache = get_cache(cache_dir)
    # the reader myst-nb registers and passes when the book build caches a MyST notebook
    cache.add_nb_to_project(str(nb_path), read_data={"name": "myst_nb_md", "type": "plugin"})
    result = load_executor("local-serial", cache).run_and_cache(timeout=120)
    assert not result.errored, result
    seconds = course.execution_seconds(cache_dir, [nb_path, other])
    assert seconds[other.resolve()] is None
    assert seconds[nb_path.resolve()] is not None and seconds[nb_path.resolve()] >= 0.3  # the cell sleeps 0.3 s
    # an edited source has no recorded run
    nb_path.write_text(nb_path.read_text().replace("x = 1", "x = 2"))
    assert course.execution_seconds(cache_dir, [nb_path])[nb_path.resolve()] is None


def test_course_tables_of_this_book(tmp_path):
    tables = course.course_tables(ROOT, cache_dir=tmp_path / "no-cache",
                                  records=[{"chapter": "chapters/02_sgd_as_sde", "profile": "book"}])
    weeks = tables["weeks"].splitlines()
    assert len(weeks) == 2 + len(course.WEEKS)
    assert "{numref}`%s <sgd_as_sde_ex1>`" in tables["weeks"]  # shown as "2.1", linked
    assert "sgd_as_sde_w1" not in tables["weeks"]  # the warm-ups are counted, not listed
    assert "{numref}`toolkit %s <toolkit_ex1>`" in tables["weeks"]  # chapter 0 is unnumbered: "toolkit 1"
    rows = tables["chapters"].splitlines()[2:-1]
    assert len(rows) == len(list((ROOT / "chapters").glob("[0-9][0-9]_*.md")))
    assert all(course.PROFILE_NOTE in r for r in rows)  # no cache: nothing measured
    row2 = next(r for r in rows if r.startswith("| 2. "))
    assert row2.rstrip().endswith("| book |")
    words = int(re.search(r"\| ([\d,]+) \|", row2).group(1).replace(",", ""))
    assert words == course.prose_words((ROOT / "chapters/02_sgd_as_sde.md").read_text())
