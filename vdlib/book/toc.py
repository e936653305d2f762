"""Consistency checks of the book's structure: the table of contents against chapters/.

``python -m vdlib.book.toc`` runs :func:`check_toc` and exits non-zero with the problems found.

Used in: tests/test_book_structure.py.
"""
from __future__ import annotations

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


class TocError(ValueError):
    """The table of contents and the chapter files disagree."""


def _entries(node) -> list[str]:
    files: list[str] = []
    if isinstance(node, dict):
        if "file" in node:
            files.append(node["file"])
        for key in ("parts", "chapters", "sections"):
            for child in node.get(key, []) or []:
                files.extend(_entries(child))
    return files


def toc_files(root: Path | str = ROOT) -> list[str]:
    """Every document named in ``_toc.yml`` (root first), as written there (no extension)."""
    root = Path(root)
    toc_path = root / "_toc.yml"
    if not toc_path.exists():
        raise TocError(f"no table of contents at {toc_path}")
    toc = yaml.safe_load(toc_path.read_text())
    if not isinstance(toc, dict) or "root" not in toc:
        raise TocError(f"{toc_path} must be a jb-book table of contents with a 'root:' entry")
    return [toc["root"], *_entries(toc)]


def _resolve(root: Path, entry: str) -> Path | None:
    for suffix in ("", ".md", ".ipynb"):
        p = root / f"{entry}{suffix}"
        if p.is_file():
            return p
    return None


def chapter_paths(root: Path | str = ROOT) -> list[Path]:
    """The files of the toc entries, in reading order; raises :class:`TocError` on any mismatch."""
    check_toc(root)
    root = Path(root)
    return [_resolve(root, e) for e in toc_files(root)]  # type: ignore[misc]


def check_toc(root: Path | str = ROOT) -> None:
    """Raise :class:`TocError` if a toc entry has no file or a ``chapters/*.md`` is not in the toc."""
    root = Path(root)
    entries = toc_files(root)
    problems = [f"_toc.yml lists {e!r}, but no {e}.md or {e}.ipynb exists" for e in entries if _resolve(root, e) is None]
    listed = {str(Path(e).with_suffix("")) for e in entries}
    for md in sorted((root / "chapters").glob("*.md")):
        rel = str(md.relative_to(root).with_suffix(""))
        if rel not in listed:
            problems.append(f"{rel}.md is not in _toc.yml: add '- file: {rel}' under a part's chapters, or delete it")
    if problems:
        raise TocError("table of contents problems:\n  " + "\n  ".join(problems))


if __name__ == "__main__":  # pragma: no cover
    try:
        check_toc()
    except TocError as e:
        sys.exit(str(e))
    print("toc ok:", ", ".join(toc_files()))
