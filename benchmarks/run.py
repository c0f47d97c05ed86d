#!/usr/bin/env python3
"""``make bench``: ENet on every runtime and precision of this machine, interleaved in one run.

The suite lives in :mod:`enet_edge.workstation.suite` (variants, measuring, report); this entry runs it with the
repository's ``build/bench/`` and ``benchmarks/results/`` as default paths. ``--help`` lists the options.
"""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from enet_edge.workstation.suite.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], REPO))
