"""Build the instructor and the student edition of the book, and check them.

Usage: .venv/bin/python scripts/build_editions.py [--only instructor|student] [--all]

* instructor (with the solutions): ``jupyter-book build . -n -W --keep-going`` into ``_build/html``
  — the README's build, unchanged.
* student (no solutions): the same build with ``VDLIB_EDITION=student`` into
  ``_build/student/_build/html``, executing nothing again: ``VDLIB_JUPYTER_CACHE`` points it at the
  instructor build's cache ``_build/.jupyter_cache`` (the notebooks' code is the same in both).

Then, for each edition built: every page of ``_toc.yml`` was built and no chapter failed
(``scripts/check_build.py``); the instructor pages hold one solution block per solution in the
chapter sources, the student pages none, and the student landing page says which edition it is.
Exits non-zero with the problems when a check fails. ``--all`` rebuilds every page (as README's
``--all`` after a change to ``vdlib/``).
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from check_build import build_problems  # noqa: E402
from vdlib.book import toc_files  # noqa: E402
from vdlib.book.editions import STUDENT_NOTE  # noqa: E402

SOLUTION_BLOCK = re.compile(r'class="[^"]*\bsolution\b[^"]*admonition')
SOLUTION_SOURCE = re.compile(r"^(`{3,}|:{3,})\{solution(-start)?\}", re.M)
BUILD_DIRS = {"instructor": ROOT / "_build", "student": ROOT / "_build" / "student" / "_build"}


def build(edition: str, rebuild_all: bool = False) -> float:
    env = {**os.environ, "VDLIB_EDITION": edition}
    cmd = [str(Path(sys.executable).parent / "jupyter-book"), "build", "."]
    if edition == "student":
        cmd += ["--path-output", str(ROOT / "_build" / "student")]
        env["VDLIB_JUPYTER_CACHE"] = str(ROOT / "_build" / ".jupyter_cache")
    cmd += ["-n", "-W", "--keep-going"] + (["--all"] if rebuild_all else [])
    print(f"$ VDLIB_EDITION={edition} " + " ".join(cmd), flush=True)
    t0 = time.monotonic()
    subprocess.run(cmd, cwd=ROOT, env=env, check=True)
    return time.monotonic() - t0


def solution_counts(html: Path) -> dict[str, tuple[int, int]]:
    """Per page of _toc.yml: (solutions in the source, solution blocks in the built page)."""
    counts = {}
    for entry in toc_files(ROOT):
        source = next((ROOT / f"{entry}{s}" for s in ("", ".md") if (ROOT / f"{entry}{s}").is_file()), None)
        page = html / f"{entry}.html"
        if source is None or not page.is_file():
            continue
        counts[entry] = (len(SOLUTION_SOURCE.findall(source.read_text(encoding="utf-8"))),
                         len(SOLUTION_BLOCK.findall(page.read_text(encoding="utf-8"))))
    return counts


def edition_problems(edition: str) -> list[str]:
    build_dir = BUILD_DIRS[edition]
    problems = build_problems(build_dir)
    if problems:
        return problems
    html = build_dir / "html"
    counts = solution_counts(html)
    if edition == "instructor":
        problems += [f"{entry}: {built} solution blocks in the page, {written} in the source"
                     for entry, (written, built) in counts.items() if built != written]
        if not any(written for written, _ in counts.values()):
            problems.append("no page has a solution: the instructor check would be empty")
    else:
        problems += [f"{entry}: the student page shows {built} solution block(s)"
                     for entry, (_, built) in counts.items() if built]
        landing = html / f"{toc_files(ROOT)[0]}.html"
        if STUDENT_NOTE not in landing.read_text(encoding="utf-8"):
            problems.append(f"{landing} does not say it is the student edition")
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=tuple(BUILD_DIRS))
    parser.add_argument("--all", action="store_true", help="rebuild every page")
    parser.add_argument("--check-only", action="store_true", help="check the existing builds, build nothing")
    args = parser.parse_args(argv)
    editions = [args.only] if args.only else list(BUILD_DIRS)
    failed = False
    for edition in editions:
        seconds = None if args.check_only else build(edition, args.all)
        problems = edition_problems(edition)
        took = "" if seconds is None else f" (built in {seconds:.0f} s)"
        if problems:
            failed = True
            print(f"{edition} edition: FAILED{took}\n  " + "\n  ".join(problems), file=sys.stderr)
        else:
            html = BUILD_DIRS[edition] / "html"
            print(f"{edition} edition: {html}/index.html{took}, checks passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
