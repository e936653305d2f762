"""Fail unless the last book build is complete: every page of _toc.yml built, no execution failure.

Usage: .venv/bin/python scripts/check_build.py [BUILD_DIR]   (default: _build)

jupyter-book writes a report for each notebook whose execution failed to
``<build>/html/reports/``; with ``--keep-going`` a failed chapter can otherwise hide behind later
successes. .ci/run calls this after the README's build command.
"""
from __future__ import annotations

import sys
from pathlib import Path

from vdlib.book import ROOT, toc_files


def build_problems(build: Path) -> list[str]:
    html = build / "html"
    if not (html / "index.html").is_file():
        return [f"{html}/index.html is missing: the book was not built (run the README's build command)"]
    problems = [f"{entry}: no page {html / entry}.html" for entry in toc_files(ROOT)
                if not (html / f"{entry}.html").is_file()]
    reports = sorted((html / "reports").rglob("*.log")) if (html / "reports").is_dir() else []
    problems += [f"execution failed, report: {log} (after fixing the chapter, delete the report and rebuild)"
                 for log in reports]
    return problems


if __name__ == "__main__":
    build = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "_build"
    found = build_problems(build)
    if found:
        sys.exit("the book build is incomplete:\n  " + "\n  ".join(found))
    print(f"book build complete: {len(toc_files(ROOT))} pages, no execution failure")
