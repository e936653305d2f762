"""Build a PDF of the book: one-page HTML (Sphinx singlehtml), printed by headless Chromium.

Usage: .venv/bin/python scripts/build_pdf.py [--edition instructor|student] [--no-build]
                                             [--book ROOT] [--output PDF]

1. ``jupyter-book build ROOT --builder singlehtml`` (the execution cache of the HTML build in
   ``_build/.jupyter_cache`` is reused, so nothing is executed again when the chapters' code is
   unchanged). The student edition builds into ``_build/student`` (see vdlib.book.editions).
2. Chromium (Playwright, ``$CHROMIUM`` or Debian's ``/usr/bin/chromium``) opens the page, waits
   until MathJax has typeset every formula (``MathJax.startup.promise``), opens every dropdown
   (the solutions of the instructor edition), and prints to ``_build/pdf/book.pdf``
   (``book-student.pdf`` for the student edition).
3. Checks, each failing the script with a message: the page holds every document of ``_toc.yml``
   (its title), MathJax rendered formulas and no raw TeX is left in the text outside code,
   and the PDF's extracted text names every chapter's title.

Why this route: no LaTeX toolchain is needed (Chromium is already what the browser tests use),
and the math in the PDF is the MathJax rendering of the HTML book, so both show the same formulas.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))            # the browser helpers the tests use
from helpers.browser import CHROMIUM_ARGS, CHROMIUM_INSTALL_HINT, find_chromium  # noqa: E402

RAW_TEX = ("$$", "\\frac", "\\begin{", "\\mathbb")

# Runs in the page: wait for MathJax (if the page loads it) to finish typesetting.
WAIT_FOR_MATHJAX_JS = """
async () => {
  const started = Date.now();
  while (!(window.MathJax && MathJax.startup && MathJax.startup.promise)) {
    if (!document.querySelector('script[src*="mathjax"], script[src*="tex-"]')) return 'no-mathjax';
    if (Date.now() - started > 60000) return 'MathJax never started (is its script reachable offline? the book vendors it in _vendor/mathjax)';
    await new Promise(r => setTimeout(r, 100));
  }
  await MathJax.startup.promise;
  return 'typeset';
}
"""
# Runs in the page: open every dropdown (solutions, hidden cells) for print.
EXPAND_JS = """
() => {
  document.querySelectorAll('details').forEach(d => d.open = true);
  document.querySelectorAll('.toggle-hidden').forEach(e => e.classList.remove('toggle-hidden'));
  document.querySelectorAll('.dropdown, .toggle').forEach(e => e.classList.add('toggle-shown'));
}
"""
PRINT_CSS = """
@media print {
  .toggle-hidden, .dropdown .admonition-title ~ * { display: revert !important; visibility: visible !important; }
  button.toggle-button, .toggle-button { display: none !important; }
  .bd-header, .bd-sidebar-primary, .bd-sidebar-secondary, .bd-footer, .header-article, .prev-next-area { display: none !important; }
  .bd-main .bd-content .bd-article-container { max-width: 100% !important; }
  mjx-container { page-break-inside: avoid; }
  pre { white-space: pre-wrap !important; overflow-wrap: anywhere; }   /* long code and output lines wrap, not cut */
  .cell_output, .highlight, div.output { overflow: visible !important; }
}
"""
# Runs in the page: sections of the document, MathJax containers, raw TeX left outside code and math.
INSPECT_JS = """
() => {
  const clone = document.body.cloneNode(true);
  clone.querySelectorAll('pre, code, script, style, mjx-container, .cell_input, .highlight').forEach(e => e.remove());
  return {
    mathjax: document.querySelectorAll('mjx-container').length,
    text: clone.innerText,
  };
}
"""


def chapter_titles(book: Path) -> dict[str, str]:
    """Each ``_toc.yml`` document's first ``# `` heading (the title the PDF must show)."""
    sys.path.insert(0, str(ROOT))
    from vdlib.book import toc_files

    titles = {}
    for entry in toc_files(book):
        path = next((book / f"{entry}{s}" for s in ("", ".md") if (book / f"{entry}{s}").is_file()), None)
        if path is None:
            continue
        heading = next((ln[2:].strip() for ln in path.read_text(encoding="utf-8").splitlines()
                        if ln.startswith("# ")), None)
        if heading:
            titles[entry] = heading
    return titles


def _squash(text: str) -> str:
    """Whitespace dropped, ligatures ("ﬁ" from the PDF's text) split (NFKC), lower case."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).lower()


def _plain_title(title: str) -> str:
    """The part of a title that reads the same on the page and in the PDF: up to its first math,
    role or non-ASCII letter (Greek, dashes: glyphs whose extracted text varies)."""
    title = re.sub(r"\{[a-z:]+\}`([^`<]*)[^`]*`", r"\1", title)
    prefix = re.split(r"[$`{]|[^\x00-\x7f]", title, maxsplit=1)[0].strip()
    if len(prefix) >= 4:
        return prefix
    return next((w for w in title.split() if len(w) >= 4 and w.isascii() and "$" not in w), title)


def text_problems(text: str, titles: list[str], raw_tex: bool = True) -> list[str]:
    """What is wrong with the text of a printed book: a missing title, raw TeX left over."""
    squashed = _squash(text)
    problems = [f"title {t!r} is not in the text" for t in titles if _squash(_plain_title(t)) not in squashed]
    if raw_tex:
        problems += [f"raw TeX {m!r} in the text (MathJax did not typeset it)" for m in RAW_TEX if m in text]
    return problems


def build_singlehtml(book: Path, edition: str) -> Path:
    env = {**os.environ, "VDLIB_EDITION": edition}
    env.pop("MPLBACKEND", None)
    cmd = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(book), "--builder", "singlehtml",
           "-n", "-W", "--keep-going"]
    if edition == "student":
        cmd += ["--path-output", str(book / "_build" / "student")]
        env["VDLIB_JUPYTER_CACHE"] = str(book / "_build" / ".jupyter_cache")
    print("$ " + " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=book, env=env, check=True)
    return singlehtml_index(book, edition)


def singlehtml_index(book: Path, edition: str) -> Path:
    """The one-page HTML (named after the root document; jupyter-book's index.html only redirects)."""
    import yaml

    build = book / "_build" / ("student/_build" if edition == "student" else "")
    root_doc = yaml.safe_load((book / "_toc.yml").read_text())["root"]
    return build / "singlehtml" / f"{root_doc}.html"


def print_pdf(index: Path, pdf: Path, chromium: str) -> dict:
    from playwright.sync_api import sync_playwright

    pdf.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(index.resolve().as_uri(), wait_until="load", timeout=300_000)
            state = page.evaluate(WAIT_FOR_MATHJAX_JS)
            if state not in ("typeset", "no-mathjax"):
                raise RuntimeError(f"{index}: {state}")
            page.evaluate(EXPAND_JS)
            page.add_style_tag(content=PRINT_CSS)
            page.emulate_media(media="print")
            found = page.evaluate(INSPECT_JS)
            page.pdf(path=str(pdf), format="A4", print_background=True,
                     margin={"top": "15mm", "bottom": "15mm", "left": "12mm", "right": "12mm"})
        finally:
            browser.close()
    found["mathjax_state"] = state
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edition", choices=("instructor", "student"), default="instructor")
    parser.add_argument("--book", type=Path, default=ROOT, help="book root (default: this repository)")
    parser.add_argument("--output", type=Path, help="PDF path (default: _build/pdf/book[-student].pdf)")
    parser.add_argument("--no-build", action="store_true", help="print the existing singlehtml build")
    args = parser.parse_args(argv)
    book = args.book.resolve()
    pdf = args.output or book / "_build" / "pdf" / ("book.pdf" if args.edition == "instructor" else "book-student.pdf")

    chromium = find_chromium()
    if chromium is None:
        sys.exit(f"no Chromium to print with: {CHROMIUM_INSTALL_HINT}")
    t0 = time.monotonic()
    index = singlehtml_index(book, args.edition) if args.no_build else build_singlehtml(book, args.edition)
    if not index.is_file():
        sys.exit(f"{index} is missing: build it (drop --no-build)")
    t1 = time.monotonic()
    found = print_pdf(index, pdf, chromium)
    t2 = time.monotonic()

    from pypdf import PdfReader

    reader = PdfReader(pdf)
    text = "\n".join(page.extract_text() or "" for page in reader.pages)
    titles = chapter_titles(book)
    problems = text_problems(text, list(titles.values()), raw_tex=False)
    problems += [f"{entry}: title {title!r} is not in the one-page HTML" for entry, title in titles.items()
                 if _squash(_plain_title(title)) not in _squash(found["text"])]
    problems += [f"raw TeX {m!r} outside code in the page (MathJax did not typeset it)"
                 for m in RAW_TEX if m in found["text"]]
    if found["mathjax_state"] == "typeset" and found["mathjax"] == 0:
        problems.append("MathJax loaded but rendered no formula")
    print(f"{pdf}: {len(reader.pages)} pages, {len(titles)} documents, {found['mathjax']} formulas typeset; "
          f"build {t1 - t0:.0f} s, print {t2 - t1:.0f} s")
    if problems:
        print("PDF check failed:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
