"""``python -m vdlib.experiments trajectory``: the command line (options, default process count, main)."""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
from pathlib import Path

from ...deep import chains as ch
from ...lifecycle import FolderInUse
from .protocol import CONTROLS, DATASETS, protocol
from .scheduler import _recorded_in_processes
from .runner import run
from .summary import summarize

# --------------------------------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", choices=("ci", "book", "full"), default=None,
                        help="sizes from vdlib.config.SIZES (default: $VDLIB_PROFILE, else book)")
    parser.add_argument("--out", default=None,
                        help="artifact folder (default: artifacts/trajectory_<profile> in the current folder)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    parser.add_argument("--epochs", type=int, default=None, help="recorded epochs (profile default)")
    parser.add_argument("--burn-in", type=int, default=None, help="epochs of the transient (profile default)")
    parser.add_argument("--chains", type=int, default=None, help="chains of the sgd group (profile default)")
    parser.add_argument("--control-chains", type=int, default=None,
                        help="chains of each control group (profile default)")
    parser.add_argument("--controls", default=None,
                        help=f"comma-separated groups from {','.join(CONTROLS)} (default: all)")
    parser.add_argument("--model", choices=("tiny-fc", "small-fc"), default=None)
    parser.add_argument("--dataset", choices=DATASETS, default=None,
                        help="default auto: MNIST, else Fashion-MNIST, else the 10,000 digits bundled with vdlib "
                             "(the full profile uses those only when named: mnist-10k)")
    parser.add_argument("--classes", default=None, help="comma-separated class labels (default 0,1,2,3)")
    parser.add_argument("--per-class", type=int, default=None, help="training images per class (profile default)")
    parser.add_argument("--data-root", default=None, help="folder with MNIST / Fashion-MNIST files")
    parser.add_argument("--lr", type=float, default=None, help="learning rate of the recorded phase (0.1)")
    parser.add_argument("--momentum", type=float, default=None, help="momentum of the sgd/langevin/nobn groups (0.9)")
    parser.add_argument("--batch-size", type=int, default=None, help="mini-batch size b (128)")
    parser.add_argument("--weight-decay", type=float, default=None, help="weight decay (0)")
    parser.add_argument("--replacement", action="store_true", default=None,
                        help="sample mini-batches with replacement (default: per-epoch permutations)")
    parser.add_argument("--seed", type=int, default=None, help="master seed (0)")
    parser.add_argument("--record-fdr", action=argparse.BooleanOptionalAction, default=None,
                        help="also store the vectors grad f and delta theta per epoch (default: not in full)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads of every recording process (default 1: fastest for these small "
                             "tensors). Part of the recorded protocol: the records are bitwise reproducible for the "
                             "same thread count, torch build and CPU, and --resume needs the count the run started with")
    parser.add_argument("--max-weight-norm", type=float, default=None,
                        help=f"divergence guard: stop when a chain's |theta| exceeds this (default {ch.MAX_WEIGHT_NORM:g}; "
                             "0 turns it off)")
    parser.add_argument("--max-loss", type=float, default=None,
                        help=f"divergence guard: stop when a chain's training cross-entropy exceeds this "
                             f"(default {ch.MAX_LOSS:g}; 0 turns it off)")
    parser.add_argument("--workers", type=int, default=1,
                        help="threads advancing the groups side by side (default 1; the results do not depend on it)")
    parser.add_argument("--processes", type=int, default=None,
                        help="Dask worker processes recording the groups, one task per group (default: with "
                             "--resume, as many as the run was started with, at most the CPU cores; else min(2, CPU "
                             "cores) under the full profile and 1 otherwise); the results do not depend on it")
    parser.add_argument("--scheduler", default=None,
                        help="send the groups' tasks to a running Dask scheduler (tcp://HOST:8786) instead of a "
                             "local cluster of --processes workers")
    parser.add_argument("--device", choices=("cpu", "cuda", "auto"), default=None)
    parser.add_argument("--checkpoint-every", type=float, default=60.0,
                        help="seconds between checkpoints of the long phase (default 60; 0: after every epoch)")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="progress bar (default: on under the full profile)")
    parser.add_argument("--summarize", metavar="FOLDER", default=None,
                        help="do not run: reduce the artifact in FOLDER to the chapters' statistics "
                             "(written to --summary-out; the chapters use artifacts/summaries/trajectory_full "
                             "when present, else the summary committed with vdlib)")
    parser.add_argument("--summary-out", default=None,
                        help="where --summarize writes summary.npz + meta.json "
                             "(default: artifacts/summaries/trajectory_<the artifact's profile>)")


def _default_processes(prof: str, out: Path, resume: bool) -> int:
    """``--processes`` when not given: with ``--resume``, what the run in ``out`` was started with; else
    ``min(2, CPU cores)`` under the full profile and 1 otherwise."""
    meta_path = out / "meta.json"
    if resume and meta_path.is_file():
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError):
            meta = {}
        parts = meta.get("processes")
        if _recorded_in_processes(meta):
            return max(2, min(len(parts), os.cpu_count() or 1))
        if parts or any(out.glob(ch.CHECKPOINT_FILE)):
            return 1
    return min(2, os.cpu_count() or 1) if prof == "full" else 1


def main(args: argparse.Namespace) -> int:
    from ...deep import data as D
    from ...config import profile_name

    if getattr(args, "summarize", None):
        try:
            summ = summarize(args.summarize, out=args.summary_out, data_root=args.data_root,
                             progress=bool(args.progress))
        except (FileNotFoundError, ValueError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        size = (summ.folder / "summary.npz").stat().st_size
        print(f"wrote {summ.folder} ({size / 1e6:.2f} MB; groups {', '.join(summ.groups)}; "
              f"{summ.meta['summary']['seconds']:.1f} s)")
        return 0
    prof = profile_name(args.profile)
    if not (math.isfinite(args.checkpoint_every) and args.checkpoint_every >= 0):
        print(f"error: --checkpoint-every must be a finite number of seconds >= 0 (0: after every epoch), got "
              f"{args.checkpoint_every}: a run that never checkpoints loses everything when it is killed",
              file=sys.stderr)
        return 2
    guard = {}
    for opt, value in (("max_weight_norm", args.max_weight_norm), ("max_loss", args.max_loss)):
        if value is not None:
            if not (math.isfinite(value) and value >= 0):
                print(f"error: --{opt.replace('_', '-')} must be a finite number >= 0 (0 turns the guard off), "
                      f"got {value}", file=sys.stderr)
                return 2
            guard[opt] = value if value > 0 else None
    controls = tuple(c.strip() for c in args.controls.split(",") if c.strip()) if args.controls else None
    try:
        classes = tuple(int(c) for c in args.classes.split(",") if c.strip()) if args.classes else None
        p = protocol(prof, epochs=args.epochs, burn_in=args.burn_in, chains=args.chains, classes=classes,
                     per_class=args.per_class,
                     control_chains=args.control_chains, controls=controls,
                     model=args.model, dataset=args.dataset, lr=args.lr, momentum=args.momentum,
                     batch_size=args.batch_size, weight_decay=args.weight_decay, replacement=args.replacement,
                     seed=args.seed, record_fdr=args.record_fdr, threads=args.threads)
        if guard:
            p = dataclasses.replace(p, **guard)
    except (TypeError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else Path("artifacts") / f"trajectory_{prof}"
    processes = getattr(args, "processes", None)
    if processes is None:
        processes = _default_processes(prof, out, args.resume)
        if args.scheduler and processes == 1:
            processes = len(p.controls)  # a running cluster: one task per group
    print(f"trajectory: profile {prof}, {p.epochs} epochs; chains: "
          f"{', '.join(f'{g} ×{p.n_chains(g)}' for g in p.controls)}; "
          f"{processes} process{'es' if processes != 1 else ''}; -> {out}", flush=True)
    try:
        res = run(p, out=out, resume=args.resume, progress=args.progress, device=args.device,
                  data_root=args.data_root, checkpoint_every=args.checkpoint_every,
                  workers=args.workers, processes=processes, verbose=True, scheduler=args.scheduler,
                  command="python -m vdlib.experiments " + " ".join(getattr(args, "argv", None) or ["trajectory"]))
    except ch.TrajectoryDiverged as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except (FileExistsError, FileNotFoundError, ValueError, D.DataError, FolderInUse) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(res.summary())
    if res.meta["data"]["note"]:
        print(f"note: {res.meta['data']['note']}")
    print(f"wrote {out} ({res.meta['epochs_done']} epochs, "
          f"{res.meta['seconds']['record_phase_this_call']:.1f} s recording)")
    return 0
