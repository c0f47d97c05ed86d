"""Console reporting shared by the commands: a one-line progress bar and the millisecond format.

Standard library only (runs on the device: bench, demo and eval use it, as does training).
"""

from __future__ import annotations

import sys
import time
from typing import Any, Optional, TextIO


def format_ms(ms: Optional[float], missing: str = "-", compact: bool = False) -> str:
    """Milliseconds as text: 2 decimals, or microseconds below 0.1 ms (where ms would read 0.00 or 0.0x).

    ``missing`` stands for None and NaN. ``compact`` (the demo's HUD): 1 decimal from 10 ms on.
    """
    if ms is None or ms != ms:
        return missing
    if abs(ms) < 0.1:
        return f"{ms * 1e3:.1f} us"
    if compact and abs(ms) >= 10:
        return f"{ms:.1f} ms"
    return f"{ms:.2f} ms"


class ProgressBar:
    """A one-line progress bar on ``stream`` (stderr by default); silent when ``enabled`` is False.

    ``update(done, key=value, ...)`` redraws ``prefix [####....] done/total  elapsed s key=value``;
    ``close()`` ends the line.
    """

    def __init__(self, total: int, prefix: str, stream: Optional[TextIO] = None, enabled: bool = True, width: int = 24):
        self.total, self.prefix, self.width, self.enabled = total, prefix, width, enabled
        self.stream = stream if stream is not None else sys.stderr
        self.start = time.perf_counter()

    def update(self, done: int, **fields: Any) -> None:
        """Redraw with ``done`` of ``total`` items and ``key=value`` fields."""
        if not self.enabled:
            return
        elapsed = time.perf_counter() - self.start
        filled = int(self.width * done / max(self.total, 1))
        extra = " ".join(f"{k}={v}" for k, v in fields.items())
        self.stream.write(f"\r{self.prefix} [{'#' * filled}{'.' * (self.width - filled)}] {done}/{self.total} "
                          f"{elapsed:6.1f}s {extra}  ")
        self.stream.flush()
        _OPEN_LINES.add(id(self.stream))

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()
            _OPEN_LINES.discard(id(self.stream))


_OPEN_LINES: set = set()
"""ids of the streams a progress bar left on an unfinished line (it was not closed: an error, Ctrl-C)."""


def end_line(stream: Optional[TextIO] = None) -> None:
    """End the line a progress bar left open on ``stream`` (stderr), so that what follows starts a line."""
    stream = stream if stream is not None else sys.stderr
    if id(stream) in _OPEN_LINES:
        _OPEN_LINES.discard(id(stream))
        stream.write("\n")
        stream.flush()
