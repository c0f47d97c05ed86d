"""The child process of one CPU kind (:func:`enet_edge.workstation.suite.kinds.run_kind` starts it capped):
``python -m enet_edge.workstation.suite.kind_child CONFIG_JSON OUT_JSON`` runs the suite of ``CONFIG_JSON`` and
writes its document to ``OUT_JSON``.

A module of its own so that :mod:`.kinds` (imported by :mod:`.run`) never imports :mod:`.run` back.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Sequence

from enet_edge.command import run_command
from enet_edge.fileio import atomic_write_text
from enet_edge.workstation.suite.config import config_from_dict
from enet_edge.workstation.suite.run import run_suite


def main(argv: Sequence[str]) -> int:
    """``CONFIG_JSON OUT_JSON``: one kind's suite (the process :func:`.kinds.run_kind` starts, capped)."""
    config_path, out = argv

    def run() -> int:
        config = config_from_dict(json.loads(Path(config_path).read_text()))
        document = run_suite(config, log=lambda m: print(m, flush=True))
        atomic_write_text(Path(out), json.dumps(document) + "\n")
        return 0

    return run_command("make bench, CPU kind", run)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
