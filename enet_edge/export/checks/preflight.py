"""Checks an export makes before it builds anything: the CamVid it was asked for (or its INT8 calibration
needs) and the rulesets its target names. (The parity inputs are listed then too: :mod:`enet_edge.export.checks.parity`.)"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from enet_edge import camvid
from enet_edge.export.checks.gates import load_ruleset
from enet_edge.export.targets import TargetSpec


def check_data_dir(target: TargetSpec, data_dir: Optional[Path]) -> None:
    """:class:`DataError` now, before the export, where a ``data_dir`` asked for (or the CamVid an INT8
    target's calibration needs) is missing or lacks the splits used (the parity split: ``parity_inputs``)."""
    if target.quantization is not None:
        root = camvid.resolve_data_dir(data_dir)
        for split in {target.quantization.calibration_split, target.quantization.eval_split}:
            camvid.list_split(root, split)
    elif data_dir is not None:
        camvid.resolve_data_dir(data_dir)


def check_rulesets(target: TargetSpec) -> None:
    """:class:`ConfigError` now, not at the gates stage, for a ruleset the target's ``[checks]`` names that is not there."""
    for name in target.checks.values():
        if name != "realization":
            load_ruleset(name)
