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
import contextlib
import importlib
import os
import signal
import sys
import threading
from typing import Callable, List, Optional

from enet_edge.errors import (EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_OK, EXIT_TERMINATED, EXIT_USAGE, EnetEdgeError,
                              Terminated)
from enet_edge.progress import end_line

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

COMMANDS: List[str] = [
    "enet_edge.apps.train",  # train
    "enet_edge.apps.importer",  # import (kwotsin/TensorFlow-ENet checkpoints)
    "enet_edge.export.cli",  # export, check
    "enet_edge.apps.evaluate",  # eval
    "enet_edge.apps.demo",  # demo
    "enet_edge.apps.bench",  # bench
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="enet-edge", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for module in COMMANDS:
        importlib.import_module(module).add_cli(sub)
    return parser


def print_error(prog: str, error) -> None:
    """``<prog>: error: <first line>`` as the LAST line on stderr; further lines of the message (tables of
    violations) go before it, so that a script reading the last line gets one clear sentence."""
    text = str(error).strip() or type(error).__name__
    first, *rest = text.splitlines()
    sys.stdout.flush()
    end_line(sys.stderr)  # a progress bar interrupted mid-line
    if rest:
        print("\n".join(rest), file=sys.stderr)
        first = first.rstrip(": ") + " (details above)"
    print(f"{prog}: error: {first}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def sigterm_as_interrupt():
    """While inside: SIGTERM raises :class:`~enet_edge.errors.Terminated` (a KeyboardInterrupt), so a
    terminated run cleans up (temp dirs) and finalizes its outputs like Ctrl-C. Main thread only."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_command(prog: str, func: Callable[[], Optional[int]]) -> int:
    """Run ``func`` under the exit-code rule of :mod:`enet_edge.errors` (docs/errors.md); returns the code.

    Errors print one line (:func:`print_error`); anything that is not an :class:`EnetEdgeError` is a bug
    and exits 3 with one line too (``ENET_EDGE_DEBUG=1`` re-raises it with its traceback).
    """
    try:
        with sigterm_as_interrupt():
            return int(func() or 0)
    except EnetEdgeError as exc:
        print_error(prog, exc)
        return exc.exit_code
    except Terminated:
        print_error(prog, "terminated (SIGTERM); temporary files were removed, finished outputs kept")
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        print_error(prog, "interrupted (Ctrl-C); temporary files were removed, finished outputs kept")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # output piped into e.g. `head`, which closed early: not an error of ours
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except MemoryError:
        if os.environ.get("ENET_EDGE_DEBUG"):
            raise
        print_error(prog, "out of memory; use a smaller size or close other programs")
        return EXIT_USAGE
    except OSError as exc:  # the environment (disk full, permissions) rather than a bug of ours
        if os.environ.get("ENET_EDGE_DEBUG"):
            raise
        where = f": {exc.filename}" if exc.filename else ""
        print_error(prog, f"{exc.strerror or exc}{where}")
        return EXIT_USAGE
    except Exception as exc:  # noqa: BLE001 - the last line of defence: one line, never a traceback
        if os.environ.get("ENET_EDGE_DEBUG"):
            raise
        detail = (str(exc).strip().splitlines() or [""])[0]
        print_error(prog, f"internal error ({type(exc).__name__}: {detail}); this is a bug in enet-edge, please "
                          f"report it (ENET_EDGE_DEBUG=1 shows the traceback)")
        return EXIT_INTERNAL


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
