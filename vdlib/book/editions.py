"""Sphinx extension of the book: the student edition (no solutions) and the instructor edition.

One switch, the environment variable ``VDLIB_EDITION`` (``instructor``, the default, or
``student``), or the Sphinx setting ``vdlib_edition``, chooses the edition:

* **instructor** — the book as written: every exercise followed by its solution (a dropdown).
* **student** — every solution is removed from the pages before they are written: the solution's
  text *and* the executed code cells and outputs between ``solution-start`` and ``solution-end``
  (sphinx-exercise merges them into one ``solution_node`` before this runs). The landing page
  says which edition it is. The downloadable sources (``_sources/<page>.md`` and the clean
  ``.ipynb`` of :mod:`vdlib.book.sphinx_notebooks`) are rewritten without the solution blocks too,
  so no solution reaches a student through the download menu or the search index.

The one-page build (``--builder singlehtml``, printed to PDF by ``scripts/build_pdf.py``) gets the
HTML writers of every extension node (see ``_singlehtml_uses_html_handlers``).

The notebooks' code is the same in both editions, so the execution cache can be shared: when
``VDLIB_JUPYTER_CACHE`` names a jupyter-cache folder (and ``_config.yml`` sets none), the build
uses it instead of ``<output>/_build/.jupyter_cache`` (the course map, :mod:`vdlib.book.course`,
reads its execution times from the same variable). ``scripts/build_editions.py`` builds the
student edition into ``_build/student`` with the cache of the main build in ``_build``.

Enabled in ``_config.yml`` under ``sphinx.extra_extensions`` as ``vdlib.book.editions``.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = ["EDITIONS", "DEFAULT_EDITION", "STUDENT_NOTE", "edition_from_environment",
           "strip_solution_blocks", "setup"]

EDITIONS = ("instructor", "student")
DEFAULT_EDITION = "instructor"
STUDENT_NOTE = ("Student edition: the solutions to the exercises are left out. "
                "They are in the instructor edition of the book.")

# A MyST directive fence opening a gated solution block (``` or :::, any length >= 3) and its end.
_FENCE_START = re.compile(r"^(?P<fence>`{3,}|:{3,})\{solution-start\}")
_FENCE_END = re.compile(r"^(?P<fence>`{3,}|:{3,})\{solution-end\}")
_FENCE_SOLUTION = re.compile(r"^(?P<fence>`{3,}|:{3,})\{solution\}")


def edition_from_environment(environ=None) -> str | None:
    """The edition named by ``$VDLIB_EDITION`` (None when unset or empty); a clear error for a typo."""
    value = (os.environ if environ is None else environ).get("VDLIB_EDITION", "").strip().lower()
    if not value:
        return None
    if value not in EDITIONS:
        raise ValueError(f"VDLIB_EDITION={value!r} is not an edition: set it to one of {', '.join(EDITIONS)} "
                         f"(or unset it for the {DEFAULT_EDITION} edition)")
    return value


def strip_solution_blocks(text: str) -> str:
    """MyST Markdown ``text`` without its solutions.

    Removes every gated block from its ``{solution-start}`` fence to the closing fence of its
    ``{solution-end}`` (the code cells in between included), and every one-piece ``{solution}``
    directive. Raises ``ValueError`` when a ``solution-start`` has no ``solution-end``.
    """
    lines = text.splitlines(keepends=True)
    kept: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        start = _FENCE_START.match(line)
        single = _FENCE_SOLUTION.match(line)
        if start:
            j = i + 1
            while j < len(lines) and not _FENCE_END.match(lines[j]):
                j += 1
            if j == len(lines):
                raise ValueError(f"line {i + 1}: {line.strip()!r} has no matching solution-end: "
                                 "close the block with a {solution-end} directive")
            i = _after_closing_fence(lines, j, _FENCE_END.match(lines[j])["fence"])
            continue
        if single:
            i = _after_closing_fence(lines, i, single["fence"])
            continue
        kept.append(line)
        i += 1
    return "".join(kept)


def _after_closing_fence(lines: list[str], opening: int, fence: str) -> int:
    """Index of the line after the fence that closes the directive opened at ``lines[opening]``."""
    for k in range(opening + 1, len(lines)):
        if lines[k].strip() == fence:
            return k + 1
    raise ValueError(f"line {opening + 1}: {lines[opening].strip()!r} is never closed by {fence!r}")


# --------------------------------------------------------------------------------------------
# Sphinx hooks


def _config_inited(app, config) -> None:
    chosen = edition_from_environment()
    if chosen is not None:
        config.vdlib_edition = chosen
    if config.vdlib_edition not in EDITIONS:
        raise ValueError(f"vdlib_edition={config.vdlib_edition!r}: use one of {', '.join(EDITIONS)}")
    shared_cache = os.environ.get("VDLIB_JUPYTER_CACHE", "").strip()
    if shared_cache and "nb_execution_cache_path" in config and not config.nb_execution_cache_path:
        config.nb_execution_cache_path = str(Path(shared_cache).resolve())


def _is_student(app) -> bool:
    return app.config.vdlib_edition == "student"


def _remove_solutions(app, doctree, docname) -> None:
    if not _is_student(app):
        return
    from docutils import nodes
    from sphinx_exercise.nodes import solution_node

    for node in list(doctree.findall(solution_node)):
        node.parent.remove(node)
    if docname == app.config.root_doc:
        note = nodes.note("", nodes.paragraph(text=STUDENT_NOTE), classes=["vdlib-edition-note"])
        sections = list(doctree.findall(nodes.section))
        if sections:
            title_at = next((i for i, c in enumerate(sections[0].children) if isinstance(c, nodes.title)), -1)
            sections[0].insert(title_at + 1, note)
        else:
            doctree.insert(0, note)


def _singlehtml_uses_html_handlers(app) -> None:
    """The one-page build (the PDF) draws every node the HTML build draws.

    Sphinx looks up an extension node's HTML writer under the builder's name and falls back to
    its format ("html") only when *no* extension registered any node for that name; sphinx-exercise
    registers some for "singlehtml", so sphinx-proof's nodes (registered for "html") would have
    none there and the build fails. Copy the missing "html" handlers to "singlehtml".
    """
    if app.builder.name != "singlehtml":
        return
    handlers = app.registry.translation_handlers
    single = handlers.setdefault("singlehtml", {})
    for node_name, visit_depart in handlers.get("html", {}).items():
        single.setdefault(node_name, visit_depart)


def _page_context(app, pagename, templatename, context, doctree) -> None:
    context["vdlib_edition"] = app.config.vdlib_edition


def _strip_downloads(app, exception) -> None:
    """Student edition: the page sources and notebooks offered for download lose their solutions."""
    if exception is not None or not _is_student(app) or app.builder.format != "html":
        return
    import tempfile

    import nbformat

    from vdlib.book.sphinx_notebooks import notebook_from_source

    sources = Path(app.outdir) / "_sources"
    if not sources.is_dir():
        return
    for path in sorted(sources.rglob("*")):
        if path.suffix in (".md", ".txt") and path.is_file():
            text = path.read_text(encoding="utf-8")
            if "{solution" in text:
                path.write_text(strip_solution_blocks(text), encoding="utf-8")
        elif path.suffix == ".ipynb" and path.is_file():
            pagename = path.relative_to(sources).with_suffix("").as_posix()
            if pagename not in app.env.all_docs:
                continue
            source = Path(app.env.doc2path(pagename))
            with tempfile.TemporaryDirectory() as tmp:
                stripped = Path(tmp) / source.name
                stripped.write_text(strip_solution_blocks(source.read_text(encoding="utf-8")), encoding="utf-8")
                nbformat.write(notebook_from_source(stripped), path)


def setup(app):
    app.add_config_value("vdlib_edition", DEFAULT_EDITION, "env")
    app.connect("config-inited", _config_inited, priority=400)
    app.connect("doctree-resolved", _remove_solutions)
    app.connect("builder-inited", _singlehtml_uses_html_handlers)
    app.connect("html-page-context", _page_context)
    # after vdlib.book.sphinx_notebooks writes the notebooks (default priority 500)
    app.connect("build-finished", _strip_downloads, priority=800)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
