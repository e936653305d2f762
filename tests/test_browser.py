"""Build the book and open every page of the table of contents in headless Chromium.

For each page: no request leaves the machine (only file:, data:, blob:, about: URLs), nothing
fails to load, math is typeset by the vendored MathJax with no raw TeX left in the prose, and on
pages with widgets the html-manager draws the sliders at the values stored in the widget state,
next to an ordinary figure (the static fallback). A full-page screenshot of every page is saved
under test-artifacts/screenshots/ for people to look at.

Static widgets: the precomputed panels (``vdlib.book.widgets.panel(frames=...)``, chapters 4, 8, 9)
really move without a kernel (a key press on the range input swaps the embedded frame and updates
the readout), and a panel without frames (chapter 2) shows its sliders disabled.

Environment:
  CHROMIUM=/path/to/chromium    browser binary (default: /usr/bin/chromium, chromium-browser, google-chrome)
  VDLIB_REQUIRE_BROWSER=1       fail instead of skip when no browser is found (CI sets it)
  VDLIB_BOOK_ROOT=/path/to/book build another book root (default: this repository)
  VDLIB_BROWSER_HTML=/path/html check an existing build (its _build/html folder) instead of building

Takes about a minute: the book is executed from scratch under the ci profile.
"""
from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

import pytest

from helpers.browser import (
    CHROMIUM_ARGS,
    WIDGET_VIEW_MIME,
    PageRecord,
    build_book,
    chromium_or_skip,
    is_local,
    load_problems,
    math_problems,
    widget_problems,
    INSPECT_JS,
    MATHJAX_DONE_JS,
    VIEWS_RENDERED_JS,
)
from conftest import ROOT
from vdlib.book import TocError, toc_files

BOOK_ROOT = Path(os.environ.get("VDLIB_BOOK_ROOT") or ROOT).resolve()
ARTIFACTS = ROOT / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
WAIT_MS = 30_000  # MathJax / widget manager; both finish in about a second on a laptop

try:
    ENTRIES = toc_files(BOOK_ROOT)
    TOC_ERROR = None
except TocError as e:  # reported by test_toc_is_readable instead of breaking collection
    ENTRIES, TOC_ERROR = [], str(e)


def test_toc_is_readable():
    assert TOC_ERROR is None, TOC_ERROR
    assert ENTRIES, f"no pages in {BOOK_ROOT / '_toc.yml'}"


@pytest.fixture(scope="session")
def chromium_path():
    return chromium_or_skip()


@pytest.fixture(scope="session")
def built_html(chromium_path, tmp_path_factory) -> Path:
    """The html folder of a fresh build (or of $VDLIB_BROWSER_HTML)."""
    given = os.environ.get("VDLIB_BROWSER_HTML")
    if given:
        html = Path(given).resolve()
        if not (html / "index.html").exists():
            pytest.fail(f"VDLIB_BROWSER_HTML={given} has no index.html", pytrace=False)
        return html
    try:
        return build_book(BOOK_ROOT, tmp_path_factory.mktemp("book"), ARTIFACTS / "book-build.log")
    except (RuntimeError, FileNotFoundError) as e:
        error = str(e)
    pytest.fail(error, pytrace=False)


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        try:
            b = pw.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS)
        except Exception as e:  # a broken or incompatible browser: say which binary
            pytest.fail(f"could not start {chromium_path}: {e}", pytrace=False)
        yield b
        b.close()


@pytest.fixture(scope="session")
def screenshots(request):
    """Paths of the screenshots taken; listed at the end of the run."""
    for old in SCREENSHOTS.glob("*.png"):  # no stale pictures of pages that no longer exist
        old.unlink()
    shots: list[Path] = []
    yield shots
    if shots:
        capman = request.config.pluginmanager.getplugin("capturemanager")
        with capman.global_and_fixture_disabled() if capman else contextlib.nullcontext():
            print(f"\nbrowser screenshots ({len(shots)}):", *(f"  {shot}" for shot in shots), sep="\n")


def page_file(html: Path, entry: str) -> Path:
    return html / f"{entry}.html"


def test_some_page_has_a_widget(built_html):
    """The widget checks below must not pass vacuously."""
    pages = [e for e in ENTRIES if page_file(built_html, e).exists() and WIDGET_VIEW_MIME in page_file(built_html, e).read_text()]
    if not pages:
        pytest.fail(
            f"no page of {BOOK_ROOT} contains a widget view ({WIDGET_VIEW_MIME}), so the widget checks would pass "
            "vacuously; the chapters that call vdlib.book.widgets.panel should embed one (did their cells run?)",
            pytrace=False,
        )


def test_markdown_result_tables_render_as_tables(built_html):
    """Chapters display result tables as Markdown outputs; rendered as CommonMark they would show as
    raw ``| a | b |`` text. Every page must be free of raw separator rows, and the pages that
    display tables must contain HTML tables."""
    raw_row = re.compile(r"\|\s*(?:-{3,}|—)\s*\|")
    with_tables = []
    for entry in ENTRIES:
        page = page_file(built_html, entry)
        if not page.exists():
            continue
        text = page.read_text()
        assert not raw_row.search(text), f"{page} shows a Markdown table as raw text (nb_render_markdown_format)"
        if "<table" in text:
            with_tables.append(entry)
    assert with_tables, "no page has a rendered table, so the check above could pass vacuously"


def test_pages_show_no_python_warnings(built_html):
    """A warning printed by a cell (e.g. matplotlib's "The figure layout has changed to tight" when
    tight_layout() meets the book's constrained layout) is noise in front of a reader."""
    warning = re.compile(r"\b[A-Z]\w*Warning: [^<]{0,80}")
    shown = {}
    for entry in ENTRIES:
        page = page_file(built_html, entry)
        if page.exists():
            found = warning.findall(page.read_text())
            if found:
                shown[entry] = sorted(set(found))
    assert not shown, f"pages print Python warnings: {shown}"


@pytest.mark.parametrize("entry", ENTRIES)
def test_page_in_chromium(entry, built_html, browser, screenshots):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    path = page_file(built_html, entry)
    assert path.exists(), f"{entry}: no built page at {path}"
    source = path.read_text()
    has_widgets = WIDGET_VIEW_MIME in source
    static_url = (built_html / "_static").as_uri() + "/"

    context = browser.new_context(viewport={"width": 1280, "height": 1000}, service_workers="block")
    # block (and record) anything that would leave the machine; local files load as usual
    context.route("**/*", lambda route: route.continue_() if is_local(route.request.url) else route.abort())
    page = context.new_page()
    rec = PageRecord()
    rec.attach(page)
    problems: list[str] = []
    try:
        page.goto(path.as_uri(), wait_until="load", timeout=60_000)
        mathjax = page.evaluate(MATHJAX_DONE_JS, WAIT_MS)  # 'not loaded' is reported by math_problems
        if mathjax not in ("done", "not loaded"):
            problems.append(f"MathJax's first typesetting pass {mathjax} (limit {WAIT_MS // 1000} s)")
        if has_widgets:
            try:
                page.wait_for_function(VIEWS_RENDERED_JS, timeout=WAIT_MS)
            except PlaywrightTimeout:
                problems.append(f"the widget manager did not render every widget view within {WAIT_MS // 1000} s")
        try:
            page.wait_for_load_state("networkidle", timeout=WAIT_MS)  # fonts requested by late CSS
        except PlaywrightTimeout:
            problems.append("the page kept loading resources")
        shot = SCREENSHOTS / (entry.replace("/", "_") + ".png")
        shot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shot), full_page=True)
        screenshots.append(shot)
        info = page.evaluate(INSPECT_JS)
    finally:
        context.close()

    problems += load_problems(rec)
    problems += math_problems(info, static_url)
    if has_widgets:
        problems += widget_problems(info, static_url)
    if problems:
        pytest.fail(f"{entry} ({path}):\n  - " + "\n  - ".join(problems), pytrace=False)


def test_every_chapter_is_offered_as_a_notebook(built_html):
    """Each executable page links a clean .ipynb (written at build time) from its download menu."""
    import nbformat

    notebooks = [e for e in ENTRIES if e.startswith("chapters/")]
    assert notebooks
    for entry in notebooks:
        ipynb = built_html / "_sources" / f"{entry}.ipynb"
        assert ipynb.is_file(), f"{entry}: no downloadable notebook at {ipynb}"
        nb = nbformat.read(ipynb, as_version=4)
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), f"{ipynb} carries outputs"
        page = (built_html / f"{entry}.html").read_text()
        assert f"_sources/{entry}.ipynb" in page and "download-notebook-button" in page, f"{entry}: no download link"
        assert "mybinder.org/v2" not in page, f"{entry}: launch buttons shown without a repository URL"


# --------------------------------------------------------------------------------------------
# static widgets: precomputed panels work without a kernel; controls that cannot act are disabled

FRAMES_PAGES = [e for e in ("chapters/04_potential_and_force", "chapters/08_critical_points_move",
                            "chapters/09_limit_cycles") if e in ENTRIES]
DISABLED_PAGE = "chapters/02_sgd_as_sde"  # a panel without frames: disabled sliders and one figure

# the state of every precomputed panel of the page: its range inputs, readouts and image
FRAMES_STATE_JS = r"""
() => [...document.querySelectorAll('.vdlib-frames')].map(p => {
  const img = p.querySelector('img');
  return {
    ready: p.getAttribute('data-ready') === '1',
    note: (p.querySelector('p') || {}).textContent || '',
    src: img.src, alt: img.alt, loaded: img.complete && img.naturalWidth > 0,
    inputs: [...p.querySelectorAll('input[type=range]')].map(i => ({
      id: i.id, value: +i.value, max: +i.max, disabled: i.disabled,
      readout: (p.querySelector(`output[for="${i.id}"]`) || {}).textContent,
    })),
    labels: JSON.parse(p.querySelector('script[type="application/json"]').textContent).labels,
  };
})
"""


def _open(browser, path: Path):
    """A page opened from the built book, with its requests and errors recorded."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, service_workers="block")
    context.route("**/*", lambda route: route.continue_() if is_local(route.request.url) else route.abort())
    page = context.new_page()
    rec = PageRecord()
    rec.attach(page)
    page.goto(path.as_uri(), wait_until="load", timeout=60_000)
    return context, page, rec


@pytest.mark.parametrize("entry", FRAMES_PAGES)
def test_precomputed_panel_slider_swaps_the_figure(entry, built_html, browser, screenshots):
    """Moving a precomputed slider (keyboard, as a reader would) shows another embedded frame and
    updates its readout; moving it back shows the first frame again. No kernel, no network."""
    path = page_file(built_html, entry)
    assert path.exists(), f"{entry}: no built page at {path}"
    context, page, rec = _open(browser, path)
    try:
        panels = page.evaluate(FRAMES_STATE_JS)
        assert panels, (f"{entry}: no precomputed panel (.vdlib-frames) in the page; did its panel cell run "
                        "with frames=... in static mode?")
        assert all(p["ready"] for p in panels), f"{entry}: the panel's inline script did not run (myst-nb output)"
        first = panels[0]
        assert first["loaded"], f"{entry}: the first frame did not load"
        assert "precomputed on a grid" in first["note"] and "JupyterLab" in first["note"], first["note"]
        assert first["inputs"], f"{entry}: the precomputed panel has no range input"
        for k, before in enumerate(first["inputs"]):
            assert not before["disabled"]
            assert before["readout"] == first["labels"][k][before["value"]]
            handle = page.locator(f'[id="{before["id"]}"]')
            key = "ArrowLeft" if before["value"] == before["max"] else "ArrowRight"
            handle.press(key)
            after = page.evaluate(FRAMES_STATE_JS)[0]
            moved = after["inputs"][k]
            assert moved["value"] == before["value"] + (1 if key == "ArrowRight" else -1), (before, moved)
            assert moved["readout"] == first["labels"][k][moved["value"]] != before["readout"], (before, moved)
            assert after["src"] != first["src"], f"{entry}: moving {before['id']} did not change the figure"
            assert after["loaded"], f"{entry}: the frame shown after moving {before['id']} did not load"
            assert after["alt"] != first["alt"]
            handle.press("ArrowRight" if key == "ArrowLeft" else "ArrowLeft")
            back = page.evaluate(FRAMES_STATE_JS)[0]
            assert back["src"] == first["src"] and back["inputs"][k]["readout"] == before["readout"]
        shot = SCREENSHOTS / (entry.replace("/", "_") + "_frames.png")
        page.locator(".vdlib-frames").first.scroll_into_view_if_needed()
        page.locator(".vdlib-frames").first.screenshot(path=str(shot))
        screenshots.append(shot)
    finally:
        context.close()
    problems = load_problems(rec)
    assert not problems, f"{entry}:\n  - " + "\n  - ".join(problems)


def test_panel_without_frames_shows_disabled_controls(built_html, browser):
    """A static panel that cannot act says so: the html-manager draws its sliders disabled (the
    stored widget state has disabled=true) next to the note and the figure at the defaults."""
    if DISABLED_PAGE not in ENTRIES:
        pytest.skip(f"{DISABLED_PAGE} is not in the table of contents")
    path = page_file(built_html, DISABLED_PAGE)
    context, page, _ = _open(browser, path)
    try:
        page.wait_for_function(VIEWS_RENDERED_JS, timeout=WAIT_MS)
        controls = page.evaluate(r"""() => [...document.querySelectorAll('.widget-subarea')].flatMap(a => [
            ...[...a.querySelectorAll('.widget-slider')].map(s => ({
                kind: 'slider', label: (s.querySelector('.widget-label') || {}).textContent,
                disabled: !!s.querySelector('.noUi-target[disabled], input[type=range][disabled]'),
                readoutEditable: (s.querySelector('.widget-readout') || {}).contentEditable})),
            ...[...a.querySelectorAll('select, input:not([type=range])')].map(e => ({kind: e.tagName, label: e.name, disabled: e.disabled})),
        ])""")
        note = page.evaluate("() => [...document.querySelectorAll('.widget-subarea .widget-html')].map(e => e.textContent).join(' ')")
    finally:
        context.close()
    assert any(c["kind"] == "slider" for c in controls), f"{DISABLED_PAGE}: no slider rendered"
    enabled = [c for c in controls if not c["disabled"] or c.get("readoutEditable") == "true"]
    assert not enabled, f"{DISABLED_PAGE}: controls that look usable in a page without a kernel: {enabled}"
    assert "disabled" in note and "JupyterLab" in note, note
