"""Fail unless the last book build is complete: every page of _toc.yml built, no execution failure, and
every exercise's solution passes its own check.

Usage: .venv/bin/python scripts/check_build.py [BUILD_DIR]   (default: _build)

jupyter-book writes a report for each notebook whose execution failed to
``<build>/html/reports/``; with ``--keep-going`` a failed chapter can otherwise hide behind later
successes. Every solution cell ends with ``check("chNN-exK", ...)`` on what it computed: in the executed
chapters (``<build>/jupyter_execute/chapters/*.ipynb``) each registered exercise must print "correct" in
its solution, and no check may print "incorrect" or "invalid". .ci/run calls this after the README's
build command.
"""
from __future__ import annotations

import json
import re
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


VERDICT = re.compile(r"^\[(ch\d\d-(?:ex|w)\d+)\] (correct|incorrect|invalid|not attempted)", re.M)


def solution_problems(build: Path, exercise_ids: list[str]) -> list[str]:
    """Exercises whose solution did not print "correct" in the executed chapters, and checks that failed."""
    executed = sorted((build / "jupyter_execute" / "chapters").glob("*.ipynb"))
    if not executed:
        return [f"no executed chapters in {build / 'jupyter_execute' / 'chapters'}"]
    verdicts: dict[str, list[str]] = {}
    for nb in executed:
        for cell in json.loads(nb.read_text(encoding="utf-8")).get("cells", []):
            for out in cell.get("outputs", []):
                text = out.get("text", "")
                for ex_id, status in VERDICT.findall("".join(text) if isinstance(text, list) else text):
                    verdicts.setdefault(ex_id, []).append(status)
    problems = [f"{ex_id}: its solution never printed 'correct' (verdicts: {verdicts.get(ex_id, 'none')})"
                for ex_id in exercise_ids if "correct" not in verdicts.get(ex_id, [])]
    problems += [f"{ex_id}: a check printed '{status}'" for ex_id, found in sorted(verdicts.items())
                 for status in found if status in ("incorrect", "invalid")]
    return problems


if __name__ == "__main__":
    build = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "_build"
    found = build_problems(build)
    if found:
        sys.exit("the book build is incomplete:\n  " + "\n  ".join(found))
    from vdlib.book.exercises import exercise_ids

    wrong = solution_problems(build, exercise_ids())
    if wrong:
        sys.exit("a solution does not pass its own check:\n  " + "\n  ".join(wrong))
    print(f"book build complete: {len(toc_files(ROOT))} pages, no execution failure, "
          f"all {len(exercise_ids())} exercise solutions print 'correct'")
