"""Benchmark: how long every interactive panel of the book takes to redraw after a slider move.

Run:  .venv/bin/python benchmarks/bench_widgets.py  [--profile book] [--repeats 3] [--chapters 02 12]
                                                     [--timeout 900] [--limit 10] [--allow-errors]

A panel is a ``vdlib.book.widgets.panel(fn, ...)`` call in a chapter. For each chapter that has one,
the chapter's code cells are executed in a fresh kernel (cwd ``chapters/``, ``VDLIB_PROFILE`` set to
``--profile``, scoreboard records written to a temporary folder) up to its last panel cell, with
``panel`` replaced by a recorder, so the chapter's own state is built exactly as the book builds it
but no panel draws. Then each recorded experiment function is called as the live widget calls it
on a slider move: at the control values one step away from the defaults (the first slider moved
down one step, then up one step, then the second slider, ...; for a dropdown or checkbox the next
option), and its figure is rendered to PNG at the figure's dpi as the inline backend does. The
redraw time is the median of ``--repeats`` such moves.

Prints one row per panel: chapter, panel function, median seconds per redraw, the slowest move,
and whether the median is at most ``--limit`` seconds (the panel stays usable) on this machine;
then the time it took to set each chapter up. No assertions: this is a script, not a test.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PANEL_CALL = re.compile(r"widgets\.panel\(")
MARK = "VDLIB_BENCH_WIDGETS_JSON:"
ANSI = re.compile(r"\x1b\[[0-9;]*m")

# first cell: record the panels instead of drawing them
RECORDER = """
import vdlib.book.widgets as _bench_widgets
_bench_panels = []
def _bench_record(fn, **kwargs):
    _bench_panels.append((fn, kwargs))
_bench_widgets.panel = _bench_record
"""

# last cell: time each recorded panel on slider moves
TIMER = """
import io as _io, json as _json, statistics as _stat, time as _time
import matplotlib.pyplot as _plt
from vdlib.book.widgets import Control as _Control, MAX_FRAMES as _MAX

_OPTIONS = {"static", "show", "frames", "max_frames", "dpi"}

def _bench_moves(controls, n):
    defaults = {k: c.value for k, c in controls.items()}
    moves = []
    for name, c in controls.items():
        if c.slider:
            for sign in (-1, 1):
                v = c.value + sign * c.step
                if c.min <= v <= c.max:
                    moves.append({**defaults, name: round(v, 12) if c.kind == "float" else v})
        elif c.kind == "bool":
            moves.append({**defaults, name: not c.value})
        elif c.kind == "options":
            values = c.option_values
            moves.append({**defaults, name: values[(values.index(c.value) + 1) % len(values)]})
    return (moves or [defaults]) * (1 + n // max(len(moves), 1))

_bench_out = []
for _fn, _kw in _bench_panels:
    _controls = {k: _Control.from_spec(k, v) for k, v in _kw.items() if k not in _OPTIONS}
    _times = []
    for _values in _bench_moves(_controls, REPEATS)[:REPEATS]:
        _t0 = _time.perf_counter()
        _fig = _fn(**_values)
        _fig.savefig(_io.BytesIO(), format="png", dpi=_fig.dpi)
        _plt.close(_fig)
        _times.append(_time.perf_counter() - _t0)
    _bench_out.append({"panel": getattr(_fn, "__name__", repr(_fn)), "controls": list(_controls),
                       "median": _stat.median(_times), "max": max(_times), "n": len(_times)})
print(MARK + _json.dumps(_bench_out))
"""


def chapters_with_panels(selected: list[str] | None) -> list[Path]:
    found = []
    for path in sorted((ROOT / "chapters").glob("[0-9][0-9]_*.md")):
        if selected and not any(path.name.startswith(s) for s in selected):
            continue
        if PANEL_CALL.search(path.read_text()):
            found.append(path)
    return found


def bench_chapter(path: Path, profile: str, repeats: int, timeout: int,
                  allow_errors: bool = False) -> tuple[list[dict], float, str | None]:
    """(rows, seconds to set the chapter up, error or None) for one chapter."""
    import jupytext
    import nbformat
    from nbclient import NotebookClient

    nb = jupytext.read(path)
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    last_panel = max(i for i in code if PANEL_CALL.search(nb.cells[i].source))
    cells = [c for i, c in enumerate(nb.cells[: last_panel + 1]) if c.cell_type == "code"]
    timer = TIMER.replace("REPEATS", str(repeats)).replace("MARK", repr(MARK))
    nb.cells = [nbformat.v4.new_code_cell(RECORDER), *cells, nbformat.v4.new_code_cell(timer)]
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=allow_errors,
                            resources={"metadata": {"path": str(path.parent)}})
    t0 = time.perf_counter()
    try:
        client.execute()
    except Exception as e:  # a chapter that fails or times out: report it, go on with the others
        last = ANSI.sub("", str(e)).strip().splitlines()[-1]
        return [], time.perf_counter() - t0, f"{type(e).__name__}: {last[:200]}"
    elapsed = time.perf_counter() - t0
    failed = [f"{o['ename']}: {ANSI.sub('', o['evalue'])[:120]}" for c in nb.cells[:-1] for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    for out in nb.cells[-1].get("outputs", []):
        text = out.get("text", "")
        if MARK in text:
            rows = json.loads(text.split(MARK, 1)[1].strip().splitlines()[0])
            return rows, elapsed, ("measured past cell errors: " + "; ".join(failed)) if failed else None
    return [], elapsed, "the timing cell printed nothing"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="book", choices=["ci", "book", "full"])
    ap.add_argument("--repeats", type=int, default=3, help="slider moves timed per panel (median reported)")
    ap.add_argument("--chapters", nargs="*", help="chapter number prefixes, e.g. 02 12 (default: every chapter with a panel)")
    ap.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    ap.add_argument("--allow-errors", action="store_true",
                    help="go on past cells that raise (the panels are still timed; the errors are reported)")
    ap.add_argument("--limit", type=float, default=10.0, help="a redraw slower than this many seconds is flagged")
    args = ap.parse_args()
    if args.repeats < 1:
        ap.error("--repeats must be at least 1")

    results = tempfile.mkdtemp(prefix="bench-widgets-results-")
    os.environ.update({"VDLIB_PROFILE": args.profile, "VDLIB_STATIC": "1", "VDLIB_RESULTS": results})
    os.environ.pop("MPLBACKEND", None)
    print(f"panel redraws, profile {args.profile}, median of {args.repeats} slider moves; "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, "
          f"Python {sys.version.split()[0]}", flush=True)
    rows, setups = [], []
    for path in chapters_with_panels(args.chapters):
        chapter_rows, setup_s, error = bench_chapter(path, args.profile, args.repeats, args.timeout,
                                                       args.allow_errors)
        setups.append((path.stem, setup_s, error))
        for r in chapter_rows:
            rows.append((path.stem, r))
            ok = "yes" if r["median"] <= args.limit else "NO"
            print(f"  {path.stem:32s} {r['panel']:22s} {r['median']:8.2f} s (max {r['max']:.2f} s)  <= {args.limit:g} s: {ok}",
                  flush=True)
        if error:
            print(f"  {path.stem:32s} {'note' if chapter_rows else 'not measured'}: {error}", flush=True)

    print(f"\n| chapter | panel | controls | s per redraw (median) | slowest | ≤ {args.limit:g} s |")
    print("|---|---|---|---:|---:|---|")
    for stem, r in rows:
        ok = "yes" if r["median"] <= args.limit else "**no**"
        print(f"| {stem} | `{r['panel']}` | {', '.join(r['controls'])} | {r['median']:.2f} | {r['max']:.2f} | {ok} |")
    print("\nchapter set-up (cells up to the last panel, one kernel each):")
    for stem, s, error in setups:
        print(f"  {stem:32s} {s:7.1f} s" + (f"  FAILED: {error}" if error else ""))


if __name__ == "__main__":
    main()
