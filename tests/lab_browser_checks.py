"""JupyterLab in a real browser: every chapter runs top to bottom, a slider redraws, MyST blocks render.

JupyterLab is started the way ``scripts/lab.sh`` starts it (the repository's jupyter-config:
``.md`` chapters open as Jupytext notebooks) on a free port with a known token, in a temporary
book root: a copy of the chapters plus links to everything else, so nothing JupyterLab or the
kernel writes (checkpoints, workspaces, settings, scoreboard records) lands in the repository, and
autosave is off. Kernels run under the ``ci`` profile.

Headless Chromium (Playwright) opens every chapter (0–17) as a notebook, runs all cells
(``notebook:run-all-cells``) and waits until the kernel is idle and every code cell has an execution
count, with no error output anywhere (Run All stops at the first error, so an exercise stub that
raises fails here). In every chapter the theorem-like and exercise blocks must be rendered by
jupyterlab-myst (none left as raw directive text). Each chapter is closed and its kernel shut down
before the next, except chapter 2, run last and left open: its panel's ``eta`` slider is moved with
the keyboard, and the figure must change and the panel show "computing…" while it redraws.
Screenshots: ``test-artifacts/screenshots/lab_*.png``.

Skips without Chromium or Playwright unless ``VDLIB_REQUIRE_BROWSER=1``. About 10 minutes.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT
from helpers.browser import CHROMIUM_ARGS, chromium_or_skip

SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHAPTERS = tuple(sorted(p.name for p in (ROOT / "chapters").glob("[01][0-9]_*.md")))
SLIDER_CHAPTER = "02_sgd_as_sde.md"  # run last and left open for the slider test
TOKEN = "vdlib-lab-browser-test"
START_S = 120       # JupyterLab server and front-end start
RUN_ALL_S = 300     # one chapter's Run All under the ci profile (about 30-60 s on a busy 2-core machine)
REDRAW_S = 120      # one panel redraw after a slider move
NOT_COPIED = {"chapters", ".git", ".venv", ".ipynb_checkpoints", "test-artifacts"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_settings(folder: Path) -> None:
    """User settings for this server only: no autosave (it would rewrite the .md), every cell in the DOM."""
    for plugin, values in {
        "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
        "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    }.items():
        path = folder / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


@pytest.fixture(scope="module")
def chromium():
    return chromium_or_skip()


@pytest.fixture(scope="module")
def lab(chromium, tmp_path_factory):
    """(base URL, book root) of a JupyterLab server started by scripts/lab.sh on a temporary book root."""
    tmp = tmp_path_factory.mktemp("lab-browser")
    book = tmp / "book"
    (book / "chapters").mkdir(parents=True)
    for entry in ROOT.iterdir():
        if entry.name not in NOT_COPIED:
            (book / entry.name).symlink_to(entry)
    originals = {}
    for name in CHAPTERS:
        shutil.copy2(ROOT / "chapters" / name, book / "chapters" / name)
        originals[name] = (ROOT / "chapters" / name).read_bytes()
    _write_settings(tmp / "settings")
    port = _free_port()
    args = [str(ROOT / "scripts/lab.sh"), "--no-browser", f"--port={port}", f"--ServerApp.token={TOKEN}",
            "--ServerApp.open_browser=False", f"--ServerApp.root_dir={book}", "--LabApp.expose_app_in_browser=True"]
    if os.geteuid() == 0:
        args.append("--allow-root")
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"), "JUPYTERLAB_SETTINGS_DIR": str(tmp / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "workspaces"), "VDLIB_PROFILE": "ci",
           "VDLIB_RESULTS": str(tmp / "results")}
    env.pop("VDLIB_STATIC", None)  # the kernels must build live widgets
    env.pop("MPLBACKEND", None)    # the inline backend puts the figures in the output area
    log = tmp / "lab.log"
    with log.open("w") as fh:
        proc = subprocess.Popen(args, stdout=fh, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_S
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={TOKEN}", timeout=2)
                break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail(f"JupyterLab exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
                if time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not answer within {START_S} s:\n{log.read_text()[-3000:]}")
                time.sleep(0.5)
        yield base, book
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        # only the copies were served (the repository's chapters cannot be saved over); autosave is off,
        # so the copies must be untouched too
        changed = [n for n, data in originals.items() if (book / "chapters" / n).read_bytes() != data]
        shutil.rmtree(tmp, ignore_errors=True)
        assert not changed, f"the served copies of {changed} were saved (autosave should be off)"


@pytest.fixture(scope="module")
def page(chromium, lab):
    from playwright.sync_api import sync_playwright

    base, _ = lab
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            pg = browser.new_page(viewport={"width": 1400, "height": 1000})
            errors: list[str] = []
            pg.on("pageerror", lambda e: errors.append(str(e).splitlines()[0] if str(e) else repr(e)))
            pg.goto(f"{base}/lab?token={TOKEN}", timeout=START_S * 1000)
            pg.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell", timeout=START_S * 1000)
            pg.evaluate("() => window.jupyterapp.started")
            yield pg
        finally:
            browser.close()


# the current notebook's state: kernel status, code cells run, error outputs
NOTEBOOK_STATE_JS = r"""
() => {
  const nb = window.jupyterapp.shell.currentWidget;
  const code = nb.content.widgets.filter(c => c.model.type === 'code');
  const kernel = nb.sessionContext.session && nb.sessionContext.session.kernel;
  const errors = [];
  code.forEach((c, i) => {
    for (const o of c.model.outputs.toJSON()) {
      const text = o.output_type === 'error' ? `${o.ename}: ${o.evalue}`
        : o.output_type === 'stream' && o.name === 'stderr' && /Traceback|Error\b/.test(o.text) ? o.text : null;
      if (text) errors.push(`code cell ${i + 1}: ${text.slice(0, 400)}`);
    }
  });
  const shown = [...nb.node.querySelectorAll('.jp-OutputArea-output')].map(e => e.textContent)
    .filter(t => /Traceback \(most recent call last\)/.test(t));
  return {status: kernel ? kernel.status : 'no kernel', n: code.length,
          done: code.filter(c => c.model.executionCount !== null).length,
          pending: code.findIndex(c => c.model.executionCount === null) + 1,
          errors, tracebacksShown: shown.length};
}
"""

# theorem-like and exercise blocks as jupyterlab-myst renders them, per markdown cell
MYST_BLOCKS_JS = r"""
() => {
  const nb = window.jupyterapp.shell.currentWidget;
  return nb.content.widgets.filter(c => c.model.type === 'markdown').map(c => {
    const rendered = c.node.querySelector('.myst');
    return {
      source: c.model.sharedModel.getSource(),
      proofs: rendered ? [...rendered.querySelectorAll('aside.myst-proof')].map(a => ({
        title: (a.querySelector('.myst-proof-title') || {}).textContent || '',
        body: (a.querySelector('.myst-proof-body') || {}).textContent || ''})) : null,
      exercises: rendered ? [...rendered.querySelectorAll('.myst-exercise')].map(a => ({
        id: a.id, title: (a.querySelector('.myst-exercise-title') || {}).textContent || '',
        body: (a.querySelector('.myst-exercise-body') || {}).textContent || ''})) : null,
      text: rendered ? rendered.textContent : null,
    };
  });
}
"""

PANEL_IMAGES_JS = r"""
() => [...window.jupyterapp.shell.currentWidget.node.querySelectorAll('.widget-output img, .jupyter-widgets-output-area img')]
        .map(i => i.src)
"""

# records whether "computing…" shows up anywhere in the current notebook from now on
WATCH_COMPUTING_JS = r"""
() => {
  window.__vdlibComputingSeen = false;
  const seen = () => { if (/computing…/.test(document.body.innerText)) window.__vdlibComputingSeen = true; };
  window.__vdlibObserver = new MutationObserver(seen);
  window.__vdlibObserver.observe(document.body, {subtree: true, childList: true, characterData: true});
}
"""


def _dismiss_dialogs(page) -> None:
    """Accept a dialog (e.g. a kernel choice) if one is open."""
    dialog = page.locator(".jp-Dialog .jp-mod-accept")
    if dialog.count():
        dialog.first.click()


def _open(page, name: str) -> None:
    page.evaluate(
        """async (path) => {
             const w = await window.jupyterapp.commands.execute('docmanager:open', {path, factory: 'Jupytext Notebook'});
             await w.context.ready; await w.sessionContext.ready;
             window.jupyterapp.shell.activateById(w.id);
           }""",
        f"chapters/{name}",
    )


def _run_all(page, name: str) -> list[str]:
    """Run all cells of the open chapter; the problems found (errors, a stall), empty when it ran to the end."""
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    deadline = time.monotonic() + RUN_ALL_S
    state = {}
    while time.monotonic() < deadline:
        _dismiss_dialogs(page)
        state = page.evaluate(NOTEBOOK_STATE_JS)
        if state["errors"] or state["tracebacksShown"]:
            break
        if state["n"] and state["done"] == state["n"] and state["status"] == "idle":
            break
        time.sleep(2)
    page.screenshot(path=str(SCREENSHOTS / f"lab_{Path(name).stem}.png"), full_page=False)
    problems = list(state.get("errors", []))
    if state.get("tracebacksShown"):
        problems.append(f"{state['tracebacksShown']} output areas show a traceback")
    if not state.get("n"):
        problems.append("the notebook has no code cell")
    elif not problems and not (state["done"] == state["n"] and state["status"] == "idle"):
        problems.append(f"Run All did not reach the last cell within {RUN_ALL_S} s: {state['done']} of {state['n']} "
                        f"code cells ran (first not run: code cell {state['pending']}), kernel {state['status']}")
    return problems


PRF_DIRECTIVE = re.compile(r"^\s*(?:`{3,}|:{3,})\{prf:", re.M)
EXERCISE_LABEL = re.compile(r"^```\{exercise-start\}[^\n]*\n(?::[^\n]*\n)*?:label: (\S+)", re.M)


def _myst_problems(cells: list[dict]) -> list[str]:
    """Theorem-like and exercise blocks that jupyterlab-myst did not render (or rendered without title or body)."""
    problems = []
    for c in cells:
        n_src = len(PRF_DIRECTIVE.findall(c["source"]))  # directives only, not {prf:ref} roles
        if not n_src:
            continue
        if c["proofs"] is None:
            problems.append(f"not rendered by jupyterlab-myst: {c['source'][:60]!r}")
        elif len(c["proofs"]) < n_src or not all(p["title"].strip() and p["body"].strip() for p in c["proofs"]):
            problems.append(f"{n_src} prf blocks in the source, rendered: {c['proofs']} ({c['source'][:60]!r})")
    for c in cells:
        if "{exercise-start}" not in c["source"]:
            continue
        labels = EXERCISE_LABEL.findall(c["source"])  # the exercises' labels, not those of prf blocks in the cell
        if c["exercises"] is None:
            problems.append(f"not rendered by jupyterlab-myst: {c['source'][:60]!r}")
            continue
        # a gated exercise split over cells renders as "Start of Exercise N" (or "Exercise" when unnumbered)
        # with its statement as body
        ids = {e["id"] for e in c["exercises"] if "Exercise" in e["title"] and e["body"].strip()}
        if not {label.replace("_", "-") for label in labels} <= ids:
            problems.append(f"exercises {labels}: rendered blocks {c['exercises']}")
    for c in cells:
        if c["text"] and ("{prf:" in c["text"] or "{exercise-start}" in c["text"]):
            problems.append(f"a directive is shown as raw text: {c['text'][:80]!r}")
    return problems


CLOSE_JS = """async () => {
  const w = window.jupyterapp.shell.currentWidget;
  await w.sessionContext.shutdown();
  w.context.model.dirty = false;
  w.dispose();
}"""


@pytest.fixture(scope="module")
def ran_chapters(page):
    """{chapter: (Run All problems, MyST rendering problems, whether the chapter has prf/exercise blocks)}.

    Each chapter is opened, run to the end, checked and closed with its kernel shut down; chapter 2
    goes last and stays open, for the slider test."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for old in SCREENSHOTS.glob("lab_*.png"):
        old.unlink()
    record = {}
    for name in [n for n in CHAPTERS if n != SLIDER_CHAPTER] + [SLIDER_CHAPTER]:
        _open(page, name)
        started = time.monotonic()
        run = _run_all(page, name)
        cells = page.evaluate(MYST_BLOCKS_JS)
        blocks = any(PRF_DIRECTIVE.search(c["source"]) or "{exercise-start}" in c["source"] for c in cells)
        record[name] = (run, _myst_problems(cells), blocks)
        print(f"{name}: Run All {time.monotonic() - started:.0f} s, {len(run)} problems", flush=True)
        if name != SLIDER_CHAPTER:
            page.evaluate(CLOSE_JS)
    return record


@pytest.mark.parametrize("name", CHAPTERS)
def test_run_all_cells_reaches_the_last_cell_without_errors(ran_chapters, name):
    problems = ran_chapters[name][0]
    assert not problems, f"{name}: Run All in JupyterLab:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("name", CHAPTERS)
def test_theorems_and_exercises_render_with_jupyterlab_myst(ran_chapters, name):
    _, problems, blocks = ran_chapters[name]
    assert blocks, f"{name} should have theorem-like or exercise blocks to check"
    assert not problems, f"{name}:\n" + "\n".join(problems)


def test_the_open_chapter_shows_its_blocks(page, ran_chapters):
    page.locator("aside.myst-proof").first.scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "lab_02_myst_blocks.png"))
    assert page.locator("aside.myst-proof").count() and page.locator(".myst-exercise").count()


def test_slider_redraws_the_figure_and_shows_computing(page, ran_chapters):
    before = page.evaluate(PANEL_IMAGES_JS)
    assert before, "chapter 2's panel shows no figure after Run All"
    current = page.evaluate("() => window.jupyterapp.shell.currentWidget.id")
    slider = page.locator(f'[id="{current}"] .widget-slider').filter(has_text="eta").first
    readout = slider.locator(".widget-readout")
    value_before = readout.text_content()
    page.evaluate(WATCH_COMPUTING_JS)
    slider.scroll_into_view_if_needed()
    handle = slider.locator(".noUi-handle")
    handle.focus()
    page.keyboard.press("ArrowLeft")  # one step down: one redraw
    deadline = time.monotonic() + REDRAW_S
    after = before
    while time.monotonic() < deadline:
        after = page.evaluate(PANEL_IMAGES_JS)
        if after and after != before and not page.evaluate("() => /computing…/.test(document.body.innerText)"):
            break
        time.sleep(0.5)
    seen = page.evaluate("() => { window.__vdlibObserver.disconnect(); return window.__vdlibComputingSeen; }")
    slider.scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "lab_02_slider_moved.png"))
    assert readout.text_content() != value_before, f"the eta readout still shows {value_before} after a key press"
    assert after and after != before, f"the figure did not change within {REDRAW_S} s of moving the slider"
    assert seen, "the panel never showed 'computing…' while it redrew"
    state = page.evaluate(NOTEBOOK_STATE_JS)
    assert not state["errors"], state["errors"]


def test_live_panel_shows_computing_while_it_redraws():
    """Without a browser: the status line reads "computing…" during the experiment and is cleared after."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from vdlib.book import widgets

    seen = []

    def fn(eta):
        seen.append(holder[0].status.value if holder else "not built yet")
        return plt.figure()

    holder: list = []
    panel = widgets.panel(fn, static=False, show=False, eta=(0.01, 0.1, 0.01, 0.02))
    holder.append(panel)
    assert panel.status in panel.box().children
    panel.show()
    panel.controls["eta"].value = 0.05
    assert seen[-2:] == [widgets.COMPUTING, widgets.COMPUTING]
    assert panel.status.value == ""

    def broken(eta):
        raise RuntimeError("experiment failed")

    bad = widgets.panel(broken, static=False, show=False, eta=(0.01, 0.1, 0.01, 0.02))
    with contextlib.suppress(RuntimeError):
        bad._redraw()
    assert bad.status.value == "", "a failed redraw must not leave 'computing…' on screen"
