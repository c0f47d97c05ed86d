"""``enet-edge`` command line: converts arguments into frozen configs and calls the pipeline stages.

Nothing below the subcommand modules sees argparse. Errors raised on purpose (:class:`EnetEdgeError`)
print as one line on stderr with a non-zero exit; no traceback.

Every subcommand lives in a module with ``add_cli(sub)``, which adds its parser(s) with
``set_defaults(func=...)``. :data:`COMMANDS` lists those modules in ``--help`` order; they are imported
when the parser is built and import no TensorFlow themselves, so ``check``, ``eval``, ``demo`` and
``bench`` run without it.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import List, Optional

from enet_edge.command import print_error, run_command
from enet_edge.errors import EXIT_USAGE

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

COMMANDS: List[str] = [
    "enet_edge.workstation.train",  # train
    "enet_edge.workstation.importer",  # import (kwotsin/TensorFlow-ENet checkpoints)
    "enet_edge.export.cli",  # export, check
    "enet_edge.device.evaluate",  # eval
    "enet_edge.device.demo",  # demo
    "enet_edge.device.bench",  # bench
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="enet-edge", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for module in COMMANDS:
        importlib.import_module(module).add_cli(sub)
    return parser


def empty_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> List[str]:
    """The options (or positionals) of ``args.command`` given as an empty string: never meant, and read as
    "not given" they would fall back silently (the shipped weights, the current directory, the default data)."""
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[args.command]
    empty = []
    for action in sub._actions:
        value = getattr(args, action.dest, None)
        values = value if isinstance(value, (list, tuple)) else [value]
        if any(isinstance(v, str) and not v.strip() for v in values):
            flags = action.option_strings
            empty.append(next((f for f in flags if f.startswith("--")), flags[0]) if flags else action.dest.upper())
    return empty


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    prog = f"enet-edge {args.command}"
    empty = empty_arguments(parser, args)
    if empty:
        print_error(prog, f"argument {empty[0]}: empty value; give a value or leave the option out")
        return EXIT_USAGE
    return run_command(prog, lambda: args.func(args))


if __name__ == "__main__":
    sys.exit(main())
