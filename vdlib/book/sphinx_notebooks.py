"""Sphinx extension of the book: chapters to take away, and launch buttons only where they can work.

* **Downloadable notebooks.** Every executable page (a MyST notebook with a ``kernelspec``) is
  converted with jupytext to a clean ``.ipynb`` (no outputs) at build time, written to
  ``_sources/<page>.ipynb`` in the HTML output, and offered in the page's download menu (the
  theme's ".ipynb" entry). A first Markdown cell says what the notebook needs (``pip install vdlib``).
* **Launch buttons.** ``_config.yml`` configures Binder and Colab once (``launch_buttons``); they are
  switched on only when ``repository.url`` is set to the book's own repository. Without it (the
  default) jupyter-book would point them at its own repository, so they are removed. Colab opens
  ``.ipynb`` files only, so its button is pointed at the notebook this extension writes, as
  published on the branch named by ``vdlib_pages_branch`` (``gh-pages``, what ``ghp-import``
  publishes).

Enabled in ``_config.yml`` under ``sphinx.extra_extensions`` as ``vdlib.book.sphinx_notebooks``.
"""
from __future__ import annotations

from pathlib import Path

__all__ = ["setup", "notebook_from_source", "launch_buttons_enabled"]

JUPYTER_BOOK_DEFAULT_REPOSITORY = "https://github.com/executablebooks/jupyter-book"
LAUNCH_PROVIDERS = ("binderhub_url", "jupyterhub_url", "colab_url", "deepnote_url", "jupyterlite_url", "thebe")

TAKE_AWAY_NOTE = (
    "*This notebook is a chapter of the book \"SGD performs variational inference: an executable "
    "companion\", converted from `{source}`. It needs the book's library `vdlib`: install it with "
    "`pip install vdlib` from the book's repository (`pip install .` in a checkout, or the wheel "
    "`pip wheel --no-deps .` makes), which brings the bundled data and the committed results the "
    "chapters load.*"
)


def launch_buttons_enabled(repository_url: str | None) -> bool:
    """True when ``repository.url`` names the book's own repository (not empty, not jupyter-book's default)."""
    url = (repository_url or "").strip().rstrip("/")
    return bool(url) and url != JUPYTER_BOOK_DEFAULT_REPOSITORY


def notebook_from_source(source: Path | str):
    """The page at ``source`` (MyST Markdown notebook) as an nbformat notebook without outputs."""
    import jupytext
    import nbformat

    source = Path(source)
    nb = jupytext.read(source)
    nb.metadata.pop("jupytext", None)  # a plain .ipynb, not paired with the .md
    note = nbformat.v4.new_markdown_cell(TAKE_AWAY_NOTE.format(source=source.name))
    nb.cells.insert(0, note)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nbformat.validate(nb)
    return nb


def _is_notebook_page(app, pagename: str) -> bool:
    return "kernelspec" in app.env.metadata.get(pagename, {})


def _config_inited(app, config) -> None:
    options = config.html_theme_options or {}
    launch = options.get("launch_buttons")
    if launch and not launch_buttons_enabled(options.get("repository_url")):
        options["launch_buttons"] = {k: v for k, v in launch.items() if k not in LAUNCH_PROVIDERS}
        options["repository_url"] = ""


def _offer_notebook(app, pagename, templatename, context, doctree) -> None:
    if doctree is None or not _is_notebook_page(app, pagename):
        return
    context["ipynb_source"] = f"{pagename}.ipynb"
    app.env.vdlib_notebook_pages = getattr(app.env, "vdlib_notebook_pages", set()) | {pagename}


def _point_colab_at_notebook(app, pagename, templatename, context, doctree) -> None:
    """Colab cannot open a MyST .md: link it to the published .ipynb of this page instead."""
    if doctree is None or not _is_notebook_page(app, pagename):
        return
    options = app.config.html_theme_options or {}
    url = (options.get("repository_url") or "").rstrip("/")
    colab = (options.get("launch_buttons") or {}).get("colab_url", "").rstrip("/")
    if not (colab and launch_buttons_enabled(url) and url.startswith("https://github.com/")):
        return
    org_repo = url.removeprefix("https://github.com/")
    target = f"{colab}/github/{org_repo}/blob/{app.config.vdlib_pages_branch}/_sources/{pagename}.ipynb"
    for group in context.get("header_buttons", []):
        for button in group.get("buttons", []) if isinstance(group, dict) else []:
            if button.get("text") == "Colab":
                button["url"] = target


def _write_notebooks(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    import nbformat

    for pagename in sorted(getattr(app.env, "vdlib_notebook_pages", set())):
        target = Path(app.outdir) / "_sources" / f"{pagename}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook_from_source(app.env.doc2path(pagename)), target)


def setup(app):
    app.add_config_value("vdlib_pages_branch", "gh-pages", "html")
    app.connect("config-inited", _config_inited, priority=900)
    app.connect("html-page-context", _offer_notebook, priority=400)
    app.connect("html-page-context", _point_colab_at_notebook, priority=600)
    app.connect("build-finished", _write_notebooks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
