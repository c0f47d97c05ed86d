"""Load the data tables shipped in ``enet_edge/data`` (op allowlists, realization op sets)."""

from __future__ import annotations

import functools
import sys
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"


def read_toml(path):
    """Parse a TOML file (``tomllib`` on Python 3.11+, ``tomli`` before)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on older device Pythons only
        import tomli as tomllib
    with open(path, "rb") as f:
        return tomllib.load(f)


@functools.lru_cache(maxsize=None)
def load_table(name: str) -> dict:
    """The table ``enet_edge/data/<name>.toml`` as a dict (cached; treat as read-only)."""
    return read_toml(DATA_DIR / f"{name}.toml")
