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
HISTORY = ("runs/enet_camvid: 300 epochs from scratch on 192x256 crops of CamVid train (best val mIoU 62.19% at epoch "
           "260); runs/enet_camvid_ft: 16 epochs of full 360x480 train frames from it (lr 1e-4, cosine; best 62.52% at "
           "epoch 10); runs/enet_camvid_trainval: from that, 72 epochs of full 360x480 frames of CamVid train+val (468 "
           "frames; lr 2e-4 on a 100-epoch cosine schedule), the recipe and epoch count of its train-only twin "
           "runs/enet_camvid_ft2, chosen on val (epoch 72: 66.41%, 66.02% as the mean of 3 validations; flat at "
           "65.10-66.41% from epoch 62 to 100); val was trained on, so val_miou is not a held-out score (held_out is); "
           "'epoch' counts the epochs of that last run")
HELD_OUT = {"run": "runs/enet_camvid_ft2", "split": "val", "epoch": 72, "val_miou": 0.6641308836141843,
            "note": "the shipped run's train-only twin (same start, recipe and epoch, CamVid train only): the held-out "
                    "estimate of the shipped weights"}


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
    assert card["trained_on"] == meta["trained_on"] and card["val_trained_on"] == bool(meta.get("val_trained_on"))
    readme = (REPO / "README.md").read_text()
    assert f"{100 * card['val_miou']:.2f}%" in readme, "README does not state the shipped weights' val figure"
    if card["val_trained_on"]:  # the number to quote is the held-out one, and the README says which is which
        assert card["held_out"]["val_miou"] < card["val_miou"] and "not a held-out score" in card["val_miou_note"]
        assert f"{100 * card['held_out']['val_miou']:.2f}%" in readme and "train+val" in readme


def write_card(data_dir=None) -> dict:
    from enet_edge.fileio import atomic_write_text, sha256_file
    from enet_edge.model.weights import read_weights

    _, _, meta = read_weights(WEIGHTS)
    trained_on_val = bool(meta.get("val_trained_on"))
    note = "full CamVid val (101 frames), Keras, at training time"
    card = {"weights": WEIGHTS.name, "sha256": sha256_file(WEIGHTS), "history": HISTORY, "epoch": meta["epoch"],
            "trained_on": meta["trained_on"], "val_trained_on": trained_on_val, "val_miou": meta["val_miou"],
            "val_miou_note": note + ("; val was trained on: not a held-out score" if trained_on_val else ""),
            "held_out": HELD_OUT if trained_on_val else None,
            "guard": {"split": "val", "frames": GUARD_FRAMES, "miou": guard_miou(data_dir)}}
    atomic_write_text(CARD, json.dumps(card, indent=2) + "\n")
    return card


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    print(json.dumps(write_card(), indent=2))
