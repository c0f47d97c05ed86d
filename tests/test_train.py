"""Training: config validation, schedules, and a two-step smoke run on two CamVid frames (with resume).

The smoke run costs about a minute on two CPU cores, almost all of it TensorFlow tracing the
gradient of ENet once; it runs once per module.
"""

import csv
import json
import math

import numpy as np
import pytest

from enet_edge.class_sets import CAMVID
from enet_edge.cli import main
from enet_edge.errors import ConfigError
from enet_edge.workstation.train import TrainConfig, train

SMOKE_ARGS = ["--epochs", "1", "--batch", "1", "--crop", "64", "96", "--val-every", "1", "--limit-train", "2",
              "--limit-val", "1", "--max-steps", "2"]


@pytest.mark.parametrize("kwargs, match", [
    ({"crop_height": 60}, "multiple of 8"),
    ({"batch": 0}, "batch"),
    ({"epochs": 0}, "epochs"),
    ({"learning_rate": 0.0}, "learning_rate"),
    ({"schedule": "linear"}, "schedule"),
    ({"class_weighting": "inverse"}, "class_weighting"),
    ({"select_window": 0}, "select_window"),
    ({"train_splits": "val"}, "train_splits='val' must be one of train, train\\+val"),
    ({"strategy": "tpu"}, "strategy='tpu' must be auto, default, mirrored or multi-worker"),
    ({"scale_min": 1.5, "scale_max": 1.0}, "scale range 1.5..1 must satisfy"),
    ({"scale_min": 0.1}, "scale range 0.1..1"),
])
def test_train_config_validation(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        TrainConfig(**kwargs)


def test_learning_rate_schedules():
    cosine = TrainConfig(epochs=100, learning_rate=1e-3)
    assert cosine.learning_rate_at(0) == pytest.approx(1e-3)
    assert cosine.learning_rate_at(50) == pytest.approx(5e-4)
    assert cosine.learning_rate_at(100) == pytest.approx(0.0, abs=1e-12)
    assert cosine.learning_rate_at(150) == pytest.approx(0.0, abs=1e-12)
    step = TrainConfig(epochs=300, learning_rate=1e-3, schedule="step", step_epochs=100)
    assert [step.learning_rate_at(e) for e in (0, 99, 100, 250)] == pytest.approx([1e-3, 1e-3, 1e-4, 1e-5])


def test_crop_larger_than_frames(tmp_path, camvid):
    cfg = TrainConfig(run_dir=str(tmp_path / "run"), data_dir=str(camvid), crop_height=368, limit_train=1, limit_val=1)
    with pytest.raises(ConfigError, match=r"crop 368x240 is larger than the frames \(360x480\)"):
        train(cfg, log=lambda m: None)


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory, camvid):
    """``enet-edge train`` for two steps (batch 1, two frames, 64x96 crops, one val frame)."""
    run_dir = tmp_path_factory.mktemp("train") / "run"
    argv = ["train", "--run-dir", str(run_dir), "--data-dir", str(camvid)] + SMOKE_ARGS
    assert main(argv) == 0
    return run_dir


def _rows(run_dir):
    with open(run_dir / "log.csv") as f:
        return list(csv.DictReader(f))


def test_selection_follows_the_smoothed_curve_not_one_peak():
    from enet_edge.workstation.run_dir import smoothed_score, val_history

    rows = [{"epoch": "1", "val_miou": ""}, {"epoch": "2", "val_miou": "0.60"}, {"epoch": "4", "val_miou": "0.66"},
            {"epoch": "6", "val_miou": "0.61"}, {"epoch": "8", "val_miou": "0.63"}, {"epoch": "10", "val_miou": "0.64"},
            {"epoch": "12", "val_miou": "0.645"}]
    history = val_history(rows)
    assert history[0] == (2, 0.60) and len(history) == 6
    scores = {e: smoothed_score(history, 3, e) for e, _ in history}
    assert scores[2] == pytest.approx(0.60) and scores[4] == pytest.approx(0.63)  # fewer than 3 so far: their mean
    assert max(scores, key=scores.get) == 12  # the lone 0.66 spike at epoch 4 does not win
    assert max(history, key=lambda h: h[1])[0] == 4
    assert smoothed_score(history, 1) == pytest.approx(0.645) and smoothed_score([], 3) is None


def test_curve_shows_the_selection_curve(tmp_path):
    from enet_edge.workstation.run_dir import plot_curve
    from enet_edge.workstation.train import LOG_FIELDS

    log = tmp_path / "log.csv"
    with open(log, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=LOG_FIELDS)
        writer.writeheader()
        for epoch in range(1, 7):
            writer.writerow({"epoch": epoch, "steps": epoch * 10, "lr": 1e-4, "train_loss": 1.0 / epoch,
                             "val_miou": 0.5 + 0.01 * epoch if epoch % 2 == 0 else "", "val_pixel_accuracy": "",
                             "epoch_seconds": 1, "images_per_second": 1})
    plot_curve(log, tmp_path / "curve.png", "run: test", select_window=3)
    assert (tmp_path / "curve.png").stat().st_size > 5000


@pytest.mark.slow  # a real training run: TensorFlow traces ENet's gradient (about a minute)
def test_smoke_run_writes_the_run_directory(smoke_run):
    from enet_edge.model.weights import read_weights

    for name in ("state.json", "log.csv", "curve.png", "best_weights.npz", "last_weights.npz", "last_optimizer.npz"):
        assert (smoke_run / name).is_file(), name
    state = json.loads((smoke_run / "state.json").read_text())
    assert state["epoch"] == 1 and state["steps"] == 2 and state["best_epoch"] == 1
    assert 0.0 <= state["best_miou"] <= 1.0
    assert state["config"]["limit_train"] == 2 and state["config"]["crop_width"] == 96
    rows = _rows(smoke_run)
    assert len(rows) == 1
    assert rows[0]["steps"] == "2" and math.isfinite(float(rows[0]["train_loss"]))
    assert float(rows[0]["val_miou"]) == pytest.approx(state["best_miou"], abs=1e-5)
    with open(smoke_run / "val_classes.csv") as f:  # per-class IoU of the validation, one column per scored class
        class_rows = list(csv.DictReader(f))
    assert len(class_rows) == 1 and list(class_rows[0]) == ["epoch", *CAMVID.metric_names]
    assert class_rows[0]["epoch"] == "1"
    weights, config, meta = read_weights(smoke_run / "best_weights.npz")
    # saved for inference at full frame size, batch 1, whatever the training crop was
    assert (config.height, config.width, config.batch) == (360, 480, 1)
    assert meta["epoch"] == 1 and meta["val_miou"] == pytest.approx(state["best_miou"])
    logged = {k: float(v) for k, v in class_rows[0].items() if k != "epoch" and v}
    assert logged == pytest.approx({k: v for k, v in meta["per_class_iou"].items() if k in logged}, abs=1e-5)
    assert meta["val_miou_smoothed"] == pytest.approx(state["best_score"])  # one validation: its own mean
    assert meta["selection"] == "mean of the last 3 validations"
    assert all(np.isfinite(v).all() for v in weights.values())
    with np.load(smoke_run / "last_optimizer.npz") as opt:
        assert int(opt["v0"]) == 2  # Adam's iteration count: two steps


@pytest.mark.slow  # a real training run: TensorFlow traces ENet's gradient (about a minute)
def test_resume_picks_up_where_it_stopped(smoke_run, camvid):
    """Run again with the same directory: state, weights and optimizer are restored, nothing is redone."""
    before = (smoke_run / "best_weights.npz").read_bytes()
    messages = []
    cfg = TrainConfig(run_dir=str(smoke_run), data_dir=str(camvid), epochs=1, batch=1, crop_height=64, crop_width=96,
                      val_every=1, limit_train=2, limit_val=1, max_steps=2)
    state = train(cfg, log=messages.append)
    assert any(m.startswith(f"resuming {smoke_run} at epoch 1") for m in messages)
    assert state["epoch"] == 1 and state["steps"] == 2
    assert len(_rows(smoke_run)) == 1  # the finished epoch is not trained or logged again
    assert (smoke_run / "val_classes.csv").read_text().count("\n") == 2  # header and epoch 1, once
    assert (smoke_run / "best_weights.npz").read_bytes() == before


@pytest.mark.slow  # a real training run: TensorFlow traces ENet's gradient (about a minute)
def test_best_weights_evaluate_to_the_logged_miou(smoke_run, camvid, tmp_path):
    """``enet-edge eval`` on the best weights reproduces training's own validation number."""
    from enet_edge.device.evaluate import EvalConfig, evaluate

    state = json.loads((smoke_run / "state.json").read_text())
    result = evaluate(EvalConfig(model=smoke_run / "best_weights.npz", data_dir=camvid, limit=1, progress=False,
                                 confusion_path=tmp_path / "cm.png"))
    assert result.miou == pytest.approx(state["best_miou"], abs=1e-4)


def test_train_plus_val_learns_from_both_and_says_so(camvid):
    """The final-weights recipe: val joins the training frames; the weights card records it, and the kept weights
    are the last epoch's (a score on frames trained on selects nothing)."""
    from types import SimpleNamespace

    from enet_edge.workstation.train.checkpoints import _selection, weights_meta
    from enet_edge.workstation.train.data import load_data

    both = TrainConfig(data_dir=str(camvid), limit_train=2, limit_val=1, train_splits="train+val")
    data = load_data(both, log=lambda m: None)
    assert len(data.images) == 2 + len(list((camvid / "val").glob("*.png"))) == len(data.labels)
    assert len(data.val_images) == 1 and both.val_trained_on and not TrainConfig().val_trained_on
    meta = weights_meta(SimpleNamespace(cfg=both))
    assert meta["trained_on"] == "CamVid train+val" and meta["val_trained_on"] is True
    assert weights_meta(SimpleNamespace(cfg=TrainConfig()))["trained_on"] == "CamVid train"
    assert _selection(both).startswith("the last validated epoch (val was trained on")


def _scaled_batches(scale, epoch=0, num_classes=None, classes_file=None):
    from enet_edge.workstation.train import TrainData, make_dataset

    rng = np.random.default_rng(0)
    images = rng.integers(1, 255, (4, 40, 64, 3), dtype=np.uint8)  # never 0: padding is
    labels = rng.integers(0, 11, (4, 40, 64), dtype=np.uint8)  # never 11 (void): padding is
    data = TrainData(images, labels, images[:1], labels[:1], np.ones(12, np.float32))
    cfg = TrainConfig(crop_height=32, crop_width=48, scale_min=scale[0], scale_max=scale[1], num_classes=num_classes,
                      classes_file=classes_file)
    return [(x.numpy(), y.numpy()) for x, y in make_dataset(cfg, data, 2, epoch)]


def test_scale_augmentation_rescales_pads_with_the_ignore_label_and_is_seeded():
    """``--scale``: each frame is rescaled by a random factor before the crop; a frame smaller than the crop is
    padded with image 0 and the ignore label (the loss weighs it 0); the same epoch draws the same batches."""
    small = _scaled_batches((0.5, 0.5))
    for x, y in small:  # 40x64 -> 20x32, padded to the 32x48 crop: 640 of 1536 pixels are the frame's
        assert x.shape == (2, 32, 48, 3) and y.shape == (2, 32, 48)
        assert ((y == 11).sum(axis=(1, 2)) == 1536 - 640).all()
        assert ((x == 0).all(axis=-1) == (y == 11)).all()
    large = _scaled_batches((2.0, 2.0))
    assert all((y < 11).all() and (x > 0).all() for x, y in large)  # upscaled: every pixel from the frame
    plain = _scaled_batches((1.0, 1.0))
    assert all(set(np.unique(y)) <= set(range(11)) for _, y in plain)
    again, other = _scaled_batches((0.6, 1.8)), _scaled_batches((0.6, 1.8), epoch=1)
    assert all((a[0] == b[0]).all() for a, b in zip(again, _scaled_batches((0.6, 1.8))))
    assert any((a[1] != b[1]).any() for a, b in zip(again, other))


def test_scale_below_the_crop_needs_an_ignore_label(tmp_path, camvid):
    from enet_edge.workstation.train.data import load_data

    cfg = TrainConfig(data_dir=str(camvid), limit_train=1, limit_val=1, crop_height=360, crop_width=480,
                      scale_min=0.75, scale_max=1.25, num_classes=13)  # generic classes: no ignore label
    with pytest.raises(ConfigError, match="no ignore label to pad with"):
        load_data(cfg, log=lambda m: None)
    assert load_data(TrainConfig(data_dir=str(camvid), limit_train=1, limit_val=1, crop_height=360, crop_width=480,
                                 scale_min=0.75, scale_max=1.25), log=lambda m: None).images.shape[0] == 1


def test_train_cli_takes_the_scale_range(tmp_path, monkeypatch):
    from enet_edge.workstation.train import cli as train_cli

    seen = {}
    monkeypatch.setattr(train_cli, "train", lambda cfg: seen.setdefault("cfg", cfg) and {})
    main(["train", "--run-dir", str(tmp_path / "run"), "--scale", "0.75", "1.5"])
    assert (seen["cfg"].scale_min, seen["cfg"].scale_max) == (0.75, 1.5)
