"""The table of contents, the chapter files and their headers agree."""
import re
import shutil

import jupytext
import pytest

from vdlib import book

from conftest import ROOT

EXPECTED_HEADER = {
    "jupytext": {"text_representation": {"extension": ".md", "format_name": "myst", "format_version": 0.13}},
    "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
}


def test_every_toc_entry_exists_and_every_chapter_is_listed():
    book.check_toc(ROOT)
    entries = book.toc_files(ROOT)
    assert entries[0] == "intro"
    assert len(entries) == len(set(entries)), "a document is listed twice in _toc.yml"


def test_a_chapter_missing_from_the_toc_is_a_clear_error(tmp_path):
    shutil.copy(ROOT / "_toc.yml", tmp_path / "_toc.yml")
    for entry in book.toc_files(ROOT):
        (tmp_path / f"{entry}.md").parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / f"{entry}.md").write_text("# x\n")
    book.check_toc(tmp_path)
    (tmp_path / "chapters" / "99_orphan.md").write_text("# orphan\n")
    with pytest.raises(book.TocError, match="chapters/99_orphan.md is not in _toc.yml"):
        book.check_toc(tmp_path)
    (tmp_path / "chapters" / "99_orphan.md").unlink()
    (tmp_path / "chapters" / "01_minibatch_noise.md").unlink()
    with pytest.raises(book.TocError, match="no chapters/01_minibatch_noise.md"):
        book.check_toc(tmp_path)


@pytest.mark.parametrize("path", sorted((ROOT / "chapters").glob("*.md")), ids=lambda p: p.name)
def test_chapter_header_is_the_book_header(path):
    meta = jupytext.read(path).metadata
    rep = meta.get("jupytext", {}).get("text_representation", {})
    assert "jupytext_version" not in rep, "drop jupytext_version (jupytext.toml filters it)"
    assert rep == EXPECTED_HEADER["jupytext"]["text_representation"]
    assert meta.get("kernelspec") == EXPECTED_HEADER["kernelspec"]


@pytest.mark.parametrize("path", sorted((ROOT / "chapters").glob("*.md")), ids=lambda p: p.name)
def test_chapter_follows_the_template(path):
    text = path.read_text()
    for heading in ("## Learning objectives", "## Overview", "## Summary", "## Exercises", "{bibliography}"):
        assert heading in text, f"{path.name} lacks {heading!r}"
    assert text.count("```{exercise-start}") + text.count("```{exercise}") >= 3, f"{path.name}: fewer than 3 exercises"
    assert re.search(rf'setup\(\s*"chapters/{path.stem}"', text), \
        f"{path.name}: no setup cell (vdlib.book.display.setup seeds, prints the profile and the data)"


def _bib_keys():
    import re

    return set(re.findall(r"^@\w+\{([^,\s]+),", (ROOT / "references.bib").read_text(), re.M))


def test_citations_use_the_page_prefix_and_exist_in_references_bib():
    """Each page lists its own references (`:keyprefix:`), so the same entry on two pages is no duplicate."""
    import re

    keys, prefixes = _bib_keys(), {}
    for entry in book.toc_files(ROOT):
        text = (ROOT / f"{entry}.md").read_text()
        cites = [k.strip() for group in re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", text) for k in group.split(",")]
        if not cites:
            continue
        m = re.search(r"```\{bibliography\}\n(?::[^\n]*\n)*?:keyprefix: (\S+)", text)
        assert m, f"{entry}.md cites but has no {{bibliography}} with a :keyprefix:"
        prefix = m.group(1)
        assert prefix not in prefixes.values(), f"{entry}.md reuses the key prefix {prefix!r}"
        prefixes[entry] = prefix
        for key in cites:
            assert key.startswith(prefix), f"{entry}.md: citation {key!r} lacks the page prefix {prefix!r}"
            assert key[len(prefix):] in keys, f"{entry}.md: {key[len(prefix):]!r} is not in references.bib"
