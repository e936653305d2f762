"""``python -m vdlib.experiments <command> [options]``: run one of the book's long experiments.

Only the chosen command's module is imported, so one experiment's dependencies never stop another.
"""
from __future__ import annotations

import argparse
import sys

from . import COMMANDS, command_module

PROG = "python -m vdlib.experiments"


def top_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, usage=f"{PROG} [-h] COMMAND [options]",
        description="Run a long experiment of the book and write an artifact folder that the chapters load.",
        epilog=f"commands: {', '.join(COMMANDS)}. Options of one command: {PROG} COMMAND --help",
    )
    parser.add_argument("command", metavar="COMMAND", choices=list(COMMANDS), help=" | ".join(COMMANDS))
    return parser


def command_parser(name: str) -> argparse.ArgumentParser:
    """The parser of one command (its module's ``add_arguments``)."""
    module = command_module(name)
    doc = (module.__doc__ or "").strip().splitlines()
    parser = argparse.ArgumentParser(prog=f"{PROG} {name}", description=doc[0] if doc else None)
    module.add_arguments(parser)
    return parser


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    top = top_parser().parse_args(argv[:1] if argv and not argv[0].startswith("-") else argv)
    args = command_parser(top.command).parse_args(argv[1:])
    args.command, args.argv = top.command, argv  # argv is recorded in the artifacts' metadata
    return int(command_module(top.command).main(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
