"""Checks an export makes before it builds anything: the CamVid it was asked for (or its INT8 calibration
needs), the rulesets its target names; and where the parity frames come from when no CamVid is found."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from enet_edge import camvid
from enet_edge.errors import DataError
from enet_edge.export.targets import TargetSpec


def parity_pairs(data_dir: Optional[Path]) -> list:
    """CamVid val (image, label) pairs of ``data_dir`` or ``$ENET_EDGE_CAMVID`` (asked for: errors raised), else
    of the default CamVid (``../shared/camvid``) where it exists, else none."""
    if data_dir is not None or os.environ.get(camvid.ENV_VAR):  # asked for: must be there
        return camvid.list_split(camvid.resolve_data_dir(data_dir), "val")
    try:
        return camvid.list_split(camvid.resolve_data_dir(None), "val")
    except DataError:
        return []


def parity_note(target: TargetSpec, data_dir: Optional[Path]) -> str:
    """Why parity runs on random frames only (no --data-dir given and no default CamVid found), else ""."""
    if not target.parity_frames or parity_pairs(data_dir):
        return ""
    return (f"no CamVid frames (no --data-dir or $ENET_EDGE_CAMVID given, and no CamVid at the default "
            f"places): parity ran on "
            f"{target.parity_frames + target.parity_random} random frames only")


def check_data_dir(target: TargetSpec, data_dir: Optional[Path]) -> None:
    """:class:`DataError` now, before the export, where a ``data_dir`` asked for (or the CamVid an INT8
    target's calibration needs) is missing or lacks the splits used."""
    if target.parity_frames:
        parity_pairs(data_dir)
    if target.quantization is not None:
        root = camvid.resolve_data_dir(data_dir)
        for split in {target.quantization.calibration_split, target.quantization.eval_split}:
            camvid.list_split(root, split)
    elif data_dir is not None:
        camvid.resolve_data_dir(data_dir)


def check_rulesets(target: TargetSpec) -> None:
    """:class:`ConfigError` now, not at the gates stage, for a ruleset the target's ``[checks]`` names that is not there."""
    from enet_edge.export.gates import load_ruleset

    for name in target.checks.values():
        if name != "realization":
            load_ruleset(name)
