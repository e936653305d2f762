"""Helpers for the browser tests: build the book, find Chromium (or skip), inspect one built page.

The page inspection runs in the browser (JavaScript below) and returns plain data; the checks on
that data are Python functions that return a list of readable problems (empty = the page is fine).
"""
from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from urllib.parse import urlsplit

WIDGET_VIEW_MIME = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE_MIME = "application/vnd.jupyter.widget-state+json"
LOCAL_SCHEMES = {"file", "data", "blob", "about"}
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
CHROMIUM_INSTALL_HINT = "install Debian's Chromium (`sudo apt-get install chromium`) or point $CHROMIUM at a Chromium/Chrome binary"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Uncaught page errors that are known and harmless; anything else fails the page.
KNOWN_PAGE_ERRORS = {
    "Identifier 'THEBE_JS_URL' has already been declared":
        "sphinx-thebe's config <script> appears twice in every JB1 page; thebe itself only loads on a launch click",
    "Cannot read properties of undefined (reading 'Queue')":
        "@jupyter-widgets/base 8 typesets widget labels with MathJax 2's MathJax.Hub.Queue, absent in MathJax 3; "
        "the label text is still shown",
}
ANSI = re.compile(r"\x1b\[[0-9;]*m")
SCALAR_SLIDERS = {"IntSliderModel", "FloatSliderModel", "FloatLogSliderModel"}


# --------------------------------------------------------------------------------------------
# building the book


def jupyter_book_command() -> list[str]:
    """The jupyter-book console script of this interpreter's environment (else the one on PATH)."""
    here = Path(sys.executable).parent / "jupyter-book"
    if here.exists():
        return [str(here)]
    found = shutil.which("jupyter-book")
    if found:
        return [found]
    raise FileNotFoundError(f"no jupyter-book next to {sys.executable} or on PATH: pip install -e '.[book]'")


def build_book(root: Path, out: Path, log: Path, timeout: int = 1800) -> Path:
    """Build the book at ``root`` (ci profile, static widgets) into ``out``; return the html folder.

    Raises ``RuntimeError`` with the tail of the build log when the build fails.
    """
    env = {**os.environ, "VDLIB_PROFILE": "ci", "VDLIB_STATIC": "1"}
    # A non-inline MPLBACKEND inherited by the kernels would make plt.show() put no figure in the book.
    env.pop("MPLBACKEND", None)
    cmd = [*jupyter_book_command(), "build", str(root), "--path-output", str(out), "-n", "-W", "--keep-going"]
    log.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    with log.open("w") as fh:
        fh.write("$ " + " ".join(cmd) + "\n")
        fh.flush()
        try:
            proc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=root, timeout=timeout)
            rc = proc.returncode
        except subprocess.TimeoutExpired:
            rc = f"timeout after {timeout} s"
    elapsed = time.monotonic() - t0
    html = out / "_build" / "html"
    if rc != 0 or not (html / "index.html").exists():
        lines = [ANSI.sub("", line) for line in log.read_text(errors="replace").splitlines()]
        warnings = [line for line in lines if re.search(r"WARNING:|ERROR:|Error\b|[Ee]xception", line)
                    and not line.startswith("[IPKernelApp]")][:30]
        tail = [line for line in lines[-25:] if line.strip() and not set(line.strip()) <= {"="}]
        raise RuntimeError(
            f"the book build failed (exit status {rc}, {elapsed:.0f} s; full log: {log})\n"
            + ("warnings and errors:\n  " + "\n  ".join(warnings) + "\n" if warnings else "")
            + "end of the log:\n  " + "\n  ".join(tail)
        )
    print(f"\nbook built in {elapsed:.0f} s: {html} (log: {log})")
    return html


# --------------------------------------------------------------------------------------------
# the browser


def find_chromium() -> str | None:
    """$CHROMIUM if set, else the first Debian/Ubuntu/Google binary found."""
    env = os.environ.get("CHROMIUM")
    if env:
        return env if Path(env).exists() else shutil.which(env)
    for c in CHROMIUM_CANDIDATES:
        if Path(c).exists():
            return c
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def skip_or_fail(msg: str):
    """Skip on a machine without a browser; fail where one is required (CI sets VDLIB_REQUIRE_BROWSER=1)."""
    import pytest

    if os.environ.get("VDLIB_REQUIRE_BROWSER") == "1":
        pytest.fail(msg + " (VDLIB_REQUIRE_BROWSER=1 is set)", pytrace=False)
    pytest.skip(msg)


def chromium_or_skip() -> str:
    """Chromium's path, with Playwright importable; otherwise :func:`skip_or_fail` saying what is missing."""
    path = find_chromium()
    if path is None:
        where = f"$CHROMIUM={os.environ['CHROMIUM']} does not exist" if os.environ.get("CHROMIUM") else "no Chromium found"
        skip_or_fail(f"{where}: {CHROMIUM_INSTALL_HINT}")
    try:
        importlib.import_module("playwright.sync_api")
    except ImportError:
        skip_or_fail("the playwright package is missing: pip install -e '.[test]'")
    return path


def is_local(url: str) -> bool:
    return urlsplit(url).scheme.lower() in LOCAL_SCHEMES


# --------------------------------------------------------------------------------------------
# inspecting one page

# Runs in the page after MathJax and the widget manager have finished. Returns plain JSON data.
INSPECT_JS = r"""
() => {
  const root = document.querySelector('article.bd-article') || document.querySelector('main') || document.body;
  const abs = (s) => new URL(s, document.baseURI).href;
  const out = {};
  out.mathjaxScripts = [...document.querySelectorAll('script[src]')].map(s => s.src).filter(s => /mathjax/i.test(s));
  out.widgetScripts = [...document.querySelectorAll('script[src]')].map(s => s.src).filter(s => /embed-amd|require(\.min)?\.js/i.test(s));
  out.mathjaxVersion = (window.MathJax && window.MathJax.version) || null;
  out.mathElements = [...root.querySelectorAll('.math')].map(e => ({
    typeset: !!e.querySelector('mjx-container'),
    text: e.querySelector('mjx-container') ? '' : e.textContent.trim().slice(0, 80),
  }));
  out.mjxContainers = root.querySelectorAll('mjx-container').length;
  // TeX errors: <merror> (e.g. a missing brace) or, with the noundefined package that tex-chtml.js
  // loads, an undefined macro drawn as red text
  out.mathErrors = [];
  if (window.MathJax && MathJax.startup && MathJax.startup.document && MathJax.startup.toMML) {
    for (const item of MathJax.startup.document.math) {
      const mml = MathJax.startup.toMML(item.root);
      const err = mml.match(/data-mjx-error="([^"]*)"/) || mml.match(/<mtext mathcolor="red">(\\[A-Za-z]+)<\/mtext>/);
      if (err || mml.includes('<merror')) {
        out.mathErrors.push(`${err ? (err[1].startsWith('\\') ? 'undefined macro ' + err[1] : err[1]) : 'merror'} in ${JSON.stringify(item.math.trim().slice(0, 80))}`);
      }
    }
  }
  // text of the main content outside code, scripts and typeset math
  // (math elements that MathJax left alone are reported separately, as not typeset)
  const skip = 'pre, code, kbd, samp, script, style, textarea, .highlight, .cell_input, mjx-container, .math';
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const texts = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (n.parentElement && !n.parentElement.closest(skip)) texts.push(n.textContent);
  }
  out.proseText = texts.join(' ');
  // images
  out.images = [...root.querySelectorAll('img')].map(i => ({
    src: i.currentSrc || i.src, loaded: i.complete && i.naturalWidth > 0, inWidget: !!i.closest('.widget-subarea'),
  }));
  // widgets: each view <script> gets a rendered <div class="widget-subarea"> inserted just before it
  const state = document.querySelector('script[type="application/vnd.jupyter.widget-state+json"]');
  out.widgetState = state ? state.textContent : null;
  out.views = [...document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]')].map(s => {
    let modelId = null;
    try { modelId = JSON.parse(s.textContent).model_id; } catch (e) {}
    const area = s.previousElementSibling && s.previousElementSibling.classList.contains('widget-subarea') ? s.previousElementSibling : null;
    return {
      modelId,
      rendered: !!(area && area.children.length),
      sliders: area ? [...area.querySelectorAll('.widget-slider')].map(el => ({
        label: (el.querySelector('.widget-label') || {}).textContent || '',
        readout: (el.querySelector('.widget-readout') || {}).textContent || null,
        track: !!el.querySelector('.noUi-target, input[type=range]'),
      })) : [],
    };
  });
  return out;
}
"""

# true once every widget view has been drawn (or at once when no widget manager loaded: nothing to wait for)
VIEWS_RENDERED_JS = r"""
() => typeof window.require === 'undefined' || [...document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]')].every(s =>
  s.previousElementSibling && s.previousElementSibling.classList.contains('widget-subarea')
  && s.previousElementSibling.children.length > 0)
"""

# \( \) \[ \] $$ and TeX commands such as \frac or \begin: none belongs in the prose of a built page
# after the load event: MathJax's deferred script has run (or failed); wait for its first typeset pass
MATHJAX_DONE_JS = r"""
(ms) => !(window.MathJax && MathJax.startup && MathJax.startup.promise) ? 'not loaded'
  : Promise.race([MathJax.startup.promise.then(() => 'done', (e) => 'failed: ' + e),
                  new Promise(r => setTimeout(() => r('timed out'), ms))])
"""

RAW_TEX = r"\\[()\[\]]|\$\$|\\[A-Za-z]{2,}"


@dataclass
class PageRecord:
    """What happened while a page was open: requests, failures, console errors, page errors."""

    requests: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    websockets: list[str] = field(default_factory=list)

    def attach(self, page) -> None:
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("requestfailed", lambda r: self.failed.append(f"{r.url} ({r.failure})"))
        page.on("console", lambda m: self.console_errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.page_errors.append(str(e).splitlines()[0] if str(e) else repr(e)))
        page.on("websocket", lambda ws: self.websockets.append(ws.url))


def load_problems(rec: PageRecord) -> list[str]:
    """Network requests, failed loads and unknown uncaught script errors."""
    problems = []
    remote = sorted({u for u in rec.requests + rec.websockets if not is_local(u)})
    if remote:
        problems.append("requests to network addresses (the built book must be self-contained):\n      "
                        + "\n      ".join(remote))
    if rec.failed:
        problems.append("failed loads:\n      " + "\n      ".join(sorted(set(rec.failed))))
    load_errors = [m for m in rec.console_errors if "failed to load" in m.lower() or "net::err" in m.lower()]
    if load_errors and not rec.failed:  # the failed requests above already say which file
        problems.append("console reports failed loads:\n      " + "\n      ".join(sorted(set(load_errors))))
    unknown = [e for e in rec.page_errors if not any(k in e for k in KNOWN_PAGE_ERRORS)]
    if unknown:
        problems.append("uncaught script errors:\n      " + "\n      ".join(unknown))
    return problems


def math_problems(info: dict, static_url: str) -> list[str]:
    """Math present => typeset by the vendored MathJax, no TeX errors, no raw TeX left in the prose."""
    problems = []
    has_math = bool(info["mathElements"])
    if has_math or info["mathjaxScripts"]:
        if not info["mathjaxScripts"]:
            problems.append("the page has math but loads no MathJax script")
        bad = [s for s in info["mathjaxScripts"] if not s.startswith(static_url + "mathjax/")]
        if bad:
            problems.append(f"MathJax is not the vendored copy under {static_url}mathjax/: {bad}")
        if not (info["mathjaxVersion"] or "").startswith("3."):  # still the config object: not loaded
            problems.append(f"MathJax 3 did not start (window.MathJax.version = {info['mathjaxVersion']!r})")
    untypeset = [m["text"] for m in info["mathElements"] if not m["typeset"]]
    if untypeset:
        problems.append(f"{len(untypeset)} of {len(info['mathElements'])} math elements were not typeset, e.g. "
                        + "; ".join(repr(t) for t in untypeset[:3]))
    if has_math and not info["mjxContainers"]:
        problems.append("no <mjx-container> in the main content")
    if info["mathErrors"]:
        problems.append("MathJax reported TeX errors: " + "; ".join(info["mathErrors"][:5]))
    text = " ".join(info["proseText"].split())
    hits = [m.start() for m in re.finditer(RAW_TEX, text)]
    if hits:
        snippets, last = [], -100
        for h in hits:
            if h - last > 40:  # one snippet per stretch of raw TeX
                snippets.append(repr(text[max(0, h - 40): h + 40]))
            last = h
        problems.append(f"raw TeX left in the text outside code ({len(hits)} places), e.g.:\n      "
                        + "\n      ".join(snippets[:5]))
    return problems


def _descendants(state: dict, model_id: str) -> list[str]:
    """Model ids reachable from ``model_id`` through IPY_MODEL_ references, depth first (= DOM order)."""
    order: list[str] = []

    def refs(value):
        if isinstance(value, str) and value.startswith("IPY_MODEL_"):
            yield value[len("IPY_MODEL_"):]
        elif isinstance(value, list):
            for v in value:
                yield from refs(v)
        elif isinstance(value, dict):
            for v in value.values():
                yield from refs(v)

    def visit(mid):
        if mid in order or mid not in state:
            return
        order.append(mid)
        s = state[mid].get("state", {})
        # children first, in order, so that the walk follows the rendered layout
        for key in ["children", *[k for k in s if k != "children"]]:
            for ref in refs(s.get(key)):
                visit(ref)

    visit(model_id)
    return order


def _readout_matches(readout: str, value: float) -> bool:
    """True when ``readout`` is ``value`` rounded to the readout's own last digit."""
    try:
        d = Decimal(readout.strip().replace("\u2212", "-"))
    except InvalidOperation:
        return False
    ulp = Decimal(1).scaleb(d.as_tuple().exponent)
    return abs(float(d) - float(value)) <= float(ulp) / 2 * (1 + 1e-9) + 1e-12


def widget_problems(info: dict, static_url: str) -> list[str]:
    """Every widget view rendered, with its sliders showing the values stored in the widget state."""
    problems = []
    bad = [s for s in info["widgetScripts"] if not s.startswith(static_url + "widgets/")]
    if bad:
        problems.append(f"the widget manager is not the vendored copy under {static_url}widgets/: {bad}")
    if not info["widgetState"]:
        return problems + ["the page has widget views but no embedded widget state"]
    state = json.loads(info["widgetState"])["state"]
    n_sliders = 0
    for view in info["views"]:
        mid = view["modelId"]
        if not view["rendered"]:
            problems.append(f"widget view {mid} was not rendered by the html-manager")
            continue
        models = [state[m] for m in _descendants(state, mid)]
        expected = [m for m in models if m.get("model_name", "").endswith("SliderModel")]
        got = view["sliders"]
        n_sliders += len(got)
        if len(got) != len(expected):
            problems.append(f"widget view {mid}: {len(got)} sliders rendered, the state has {len(expected)}")
            continue
        for model, slider in zip(expected, got):
            s = model["state"]
            desc = s.get("description", "")
            where = f"slider {desc!r}"
            if not slider["track"]:
                problems.append(f"{where}: no slider track rendered")
            if desc and "$" not in desc and "<" not in desc and slider["label"].strip() != desc.strip():
                problems.append(f"{where}: label shows {slider['label']!r}")
            if model["model_name"] in SCALAR_SLIDERS and s.get("readout", True):
                if slider["readout"] is None or not _readout_matches(slider["readout"], s["value"]):
                    problems.append(f"{where}: readout shows {slider['readout']!r}, the stored initial value is {s['value']!r}")
    if info["views"] and n_sliders == 0:
        problems.append("no slider was rendered on a page with widgets")
    figures = [i for i in info["images"] if i["loaded"] and not i["inWidget"]]
    if not figures:
        problems.append("no loaded <img> figure (the static fallback drawn at the default values)")
    return problems
