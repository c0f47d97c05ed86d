"""Running one command under the exit-code rule of :mod:`enet_edge.errors` (docs/errors.md): one line on stderr,
the exit code, never a traceback; SIGTERM and Ctrl-C clean up like each other. Used by ``enet-edge`` and by the
demo's own loop."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from typing import Callable, Optional

from enet_edge.errors import (EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_OK, EXIT_TERMINATED, EXIT_USAGE, EnetEdgeError,
                              Terminated)
from enet_edge.progress import end_line


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
