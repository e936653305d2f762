"""``python -m vdlib.experiments steady-state``: Part IV decided. SGD on tiny-fc in a real steady state
(weight decay with BatchNorm), many chains from one common start, controls matched at every epoch, and
the calibrated irreversibility test with its positive control.

* :mod:`.protocol` — :class:`SteadyProtocol`, the settings and groups, sizes per profile, seeds;
* :mod:`.runner` — the common start, one unit (setting × group), the resumable parallel run;
* :mod:`.summary` — the statistics (stationarity, FDR1, irreversibility per direction set, power
  against the Ornstein–Uhlenbeck positive control, verdicts) as one small JSON file.
"""
from __future__ import annotations

from .protocol import DIRECTION_SETS, GROUPS, Setting, SteadyProtocol, protocol
from .runner import load_unit, run, run_unit
from .summary import summarise, load_summary, verdict_sentence

__all__ = ["DIRECTION_SETS", "GROUPS", "Setting", "SteadyProtocol", "protocol", "run", "run_unit", "load_unit",
           "summarise", "load_summary", "verdict_sentence", "add_arguments", "main"]


def add_arguments(parser) -> None:
    import argparse

    parser.add_argument("--profile", choices=("ci", "book", "full"), default=None,
                        help="sizes (default: $VDLIB_PROFILE, else book); full is the committed run")
    parser.add_argument("--out", default=None, help="artifact folder (default: artifacts/steady_state/<profile>)")
    parser.add_argument("--resume", action="store_true", help="keep the finished units in --out and run the rest")
    parser.add_argument("--chains", type=int, default=None, help="chains per unit (profile default)")
    parser.add_argument("--window", type=int, default=None, help="epochs recorded at every step (profile default)")
    parser.add_argument("--burn-in", type=int, default=None, help="minimum burn-in epochs (profile default)")
    parser.add_argument("--seed", type=int, default=None, help="master seed (0)")
    parser.add_argument("--workers", type=int, default=None,
                        help="processes, one thread each (default: min(2, CPU cores)); the results do not depend on it")
    parser.add_argument("--reps", type=int, default=None,
                        help="simulations per point of the power curve (default 100; 40 below the full profile)")
    parser.add_argument("--summarize", metavar="FOLDER", default=None,
                        help="only reduce the finished run in FOLDER to summary.json")
    parser.add_argument("--quiet", action=argparse.BooleanOptionalAction, default=False)


def main(args) -> int:
    import os
    import sys
    from pathlib import Path

    from ... import files
    from ...config import current
    from ...lifecycle import FolderInUse

    for opt in ("workers", "reps", "chains", "window"):
        value = getattr(args, opt)
        if value is not None and value < 1:
            print(f"error: --{opt} must be at least 1, got {value}", file=sys.stderr)
            return 2
    workers = args.workers or min(2, os.cpu_count() or 1)
    try:
        if args.summarize:
            res = summarise(args.summarize, reps=args.reps or 100, workers=workers)
            for setting, groups in res["units"].items():
                for g, s in groups.items():
                    print(s["verdict"])
            return 0
        p = protocol(args.profile, chains=args.chains, window=args.window, burn_in=args.burn_in, seed=args.seed)
        out = Path(args.out or f"artifacts/steady_state/{current(args.profile).profile}")
        run(p, out, workers=workers, resume=args.resume, verbose=not args.quiet)
        res = summarise(out, reps=args.reps or (100 if p.profile == "full" else 40), workers=workers)
    except (FileExistsError, FileNotFoundError, TypeError, ValueError, FolderInUse, files.DamagedFile) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for setting, groups in res["units"].items():
        for g, s in groups.items():
            print(s["verdict"])
    print(f"summary: {out / 'summary.json'}")
    return 0
