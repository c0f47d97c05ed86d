"""Regression guard on the shipped weights (weights/enet_camvid.npz) and their card (enet_camvid.json).

After replacing the weights, re-measure the guard with ``.venv/bin/python tests/test_shipped_weights.py``
(it rewrites ``weights/enet_camvid.json``) and update the README's mIoU table.
"""

import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
WEIGHTS = REPO / "weights" / "enet_camvid.npz"
CARD = REPO / "weights" / "enet_camvid.json"
GUARD_FRAMES = 12  # evenly spaced CamVid val frames: ~3 s through Keras on 2 cores
HISTORY = ("runs/enet_camvid: 300 epochs from scratch on 192x256 crops (best val mIoU 62.19% at epoch 260); "
           "runs/enet_camvid_ft: 16 epochs of full 360x480 frames from it (lr 1e-4, cosine; best 62.52% at epoch 10); "
           "runs/enet_camvid_ft2: 100 epochs of full 360x480 frames from that (lr 2e-4, cosine over 100 epochs, "
           "validated every 2 epochs; kept the epoch whose mean of the last 3 validations was highest: epoch 72, "
           "66.02% smoothed, 66.41% at that validation); selected on CamVid val; 'epoch' counts the epochs of that last run")


def guard_miou(data_dir=None) -> float:
    """mIoU of the shipped weights (Keras, 360x480) on GUARD_FRAMES evenly spaced val frames."""
    from enet_edge.camvid import spread_pairs
    from enet_edge.metrics import segmenter_miou
    from enet_edge.runtime import KerasWeightsAdapter, Segmenter

    return segmenter_miou(Segmenter(KerasWeightsAdapter(WEIGHTS)), spread_pairs(data_dir, "val", GUARD_FRAMES))


@pytest.mark.slow  # full size: Keras ENet at 360x480 on GUARD_FRAMES frames
def test_shipped_weights_reach_the_guarded_miou(camvid):
    card = json.loads(CARD.read_text())
    assert card["guard"]["frames"] == GUARD_FRAMES
    # the same frames, the same weights: only float summation order may differ
    assert guard_miou(camvid) >= card["guard"]["miou"] - 0.002


def test_card_matches_the_weights_and_the_readme():
    from enet_edge.fileio import sha256_file
    from enet_edge.model.weights import read_weights

    card = json.loads(CARD.read_text())
    _, _, meta = read_weights(WEIGHTS)
    assert card["sha256"] == sha256_file(WEIGHTS), "weights changed: re-run tests/test_shipped_weights.py"
    assert card["epoch"] == meta["epoch"] and abs(card["val_miou"] - meta["val_miou"]) < 1e-9
    readme = (REPO / "README.md").read_text()
    assert f"{100 * card['val_miou']:.2f}%" in readme, "README's mIoU table does not state the shipped figure"


def write_card(data_dir=None) -> dict:
    from enet_edge.fileio import atomic_write_text, sha256_file
    from enet_edge.model.weights import read_weights

    _, _, meta = read_weights(WEIGHTS)
    card = {"weights": WEIGHTS.name, "sha256": sha256_file(WEIGHTS), "history": HISTORY, "epoch": meta["epoch"],
            "val_miou": meta["val_miou"], "val_miou_note": "full CamVid val (101 frames), Keras, at training time",
            "guard": {"split": "val", "frames": GUARD_FRAMES, "miou": guard_miou(data_dir)}}
    atomic_write_text(CARD, json.dumps(card, indent=2) + "\n")
    return card


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    print(json.dumps(write_card(), indent=2))
