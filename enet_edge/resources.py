"""Where the shipped data lives, and loading its tables (op allowlists, realization op sets).

The one definition of every shipped location. In an installed wheel everything is package data under
``enet_edge/data/``; the targets and the shipped weights are kept at the top of the repository
(``export/``, ``weights/``) and mapped into the wheel as ``enet_edge/data/targets`` and
``enet_edge/data/weights`` (pyproject's ``[tool.setuptools.package-dir]``), so a source checkout or
an editable install reads them from their repository folders.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
DATA_DIR = PACKAGE_DIR / "data"


def _mapped_dir(name: str, source: str) -> Path:
    """``enet_edge/data/<name>`` when installed from a wheel, else the repository folder ``<source>``."""
    installed = DATA_DIR / name
    return installed if installed.is_dir() else PACKAGE_DIR.parent / source


RULESET_DIR = DATA_DIR / "rulesets"
"""Op-table rulesets of the compatibility checks (``<name>.toml``)."""
TARGET_DIR = _mapped_dir("targets", "export")
"""Export targets, one ``<name>.toml`` each (``export/`` in the repository)."""
WEIGHTS_DIR = _mapped_dir("weights", "weights")
DEFAULT_WEIGHTS = WEIGHTS_DIR / "enet_camvid.npz"
"""The shipped trained weights (``weights/enet_camvid.npz`` in the repository)."""
DEFAULT_WEIGHTS_CARD = WEIGHTS_DIR / "enet_camvid.json"
"""Their card: training history and the guarded mIoU."""


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
