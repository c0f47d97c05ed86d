"""Train ENet on CamVid: weighted cross-entropy, Adam + L2, crops at full scale, resumable.

A run directory holds:
  ``state.json``               epoch, best mIoU, history pointer, the frozen TrainConfig
  ``last_weights.npz``         weights after the last finished epoch (resume point)
  ``last_optimizer.npz``       Adam state after the last finished epoch (git-ignored: 3.1 MB)
  ``best_weights.npz``         weights with the best validation mIoU so far (what we ship)
  ``log.csv``                  one row per epoch; ``curve.png`` the training curve
Interrupt at any time: the next ``enet-edge train --run-dir`` with the same directory resumes.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional

import numpy as np

from enet_edge.classes import NUM_CLASSES, VOID_LABEL
from enet_edge.model.config import ENetConfig, Realization
from enet_edge.errors import ConfigError
from enet_edge.fileio import atomic_savez, atomic_write_text
from enet_edge import camvid

TRAIN_REALIZATION = Realization(prelu="native", switches="argmax_free", shuffle="depth_to_space")


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on (stored in the run directory for resume)."""

    run_dir: str = "runs/enet_camvid"
    data_dir: Optional[str] = None
    epochs: int = 300
    batch: int = 8
    crop_height: int = 176
    crop_width: int = 240
    learning_rate: float = 5e-4
    weight_decay: float = 2e-4
    schedule: str = "cosine"  # cosine | step
    step_epochs: int = 100  # step schedule: x0.1 every step_epochs
    class_weighting: str = "enet"  # enet | mfb | none
    val_every: int = 5
    seed: int = 0
    limit_train: Optional[int] = None  # smoke runs: use only the first N training frames
    limit_val: Optional[int] = None
    max_steps: Optional[int] = None  # smoke runs: stop after N optimizer steps in total
    init_weights: Optional[str] = None  # start (not resume) from these weights
    stage_two_repeat: int = 2
    skip_connections: bool = False
    num_initial_blocks: int = 1

    def __post_init__(self) -> None:
        for name in ("epochs", "batch", "val_every", "crop_height", "crop_width"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("crop_height", "crop_width"):
            if getattr(self, name) % 8:
                raise ConfigError(f"{name}={getattr(self, name)} must be a multiple of 8")
        if self.learning_rate <= 0:
            raise ConfigError(f"learning_rate must be > 0, got {self.learning_rate}")
        if self.schedule not in ("cosine", "step"):
            raise ConfigError(f"schedule={self.schedule!r} must be cosine or step")
        if self.class_weighting not in ("enet", "mfb", "none"):
            raise ConfigError(f"class_weighting={self.class_weighting!r} must be enet, mfb or none")

    def model_config(self, height: int, width: int, batch: int) -> ENetConfig:
        return ENetConfig(
            num_classes=NUM_CLASSES, height=height, width=width, batch=batch,
            stage_two_repeat=self.stage_two_repeat, skip_connections=self.skip_connections,
            num_initial_blocks=self.num_initial_blocks,
        )

    def learning_rate_at(self, epoch: float) -> float:
        """Learning rate at a (fractional) epoch."""
        if self.schedule == "step":
            return self.learning_rate * (0.1 ** int(epoch // self.step_epochs))
        return 0.5 * self.learning_rate * (1.0 + math.cos(math.pi * min(epoch / self.epochs, 1.0)))


class _Progress:
    """A one-line progress bar on stderr (no dependency)."""

    def __init__(self, total: int, prefix: str, stream=None):
        self.total, self.prefix, self.stream = total, prefix, stream or sys.stderr
        self.start = time.perf_counter()

    def update(self, done: int, **fields) -> None:
        elapsed = time.perf_counter() - self.start
        width = 24
        filled = int(width * done / max(self.total, 1))
        extra = " ".join(f"{k}={v}" for k, v in fields.items())
        self.stream.write(f"\r{self.prefix} [{'#' * filled}{'.' * (width - filled)}] {done}/{self.total} "
                          f"{elapsed:6.1f}s {extra}   ")
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")
        self.stream.flush()


def train(cfg: TrainConfig, log=print) -> Dict[str, object]:
    """Train (or resume) per ``cfg``; returns the final state dict. Runs unchanged on CPU or GPU."""
    import tensorflow as tf

    from enet_edge.model.enet import build_enet, get_weights, read_weights, save_weights, set_weights

    run_dir = Path(cfg.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    state_path = run_dir / "state.json"
    state = {"epoch": 0, "best_miou": -1.0, "best_epoch": None, "steps": 0, "config": dataclasses.asdict(cfg)}
    if state_path.exists():
        previous = json.loads(state_path.read_text())
        state.update({k: previous[k] for k in ("epoch", "best_miou", "best_epoch", "steps") if k in previous})
        log(f"resuming {run_dir} at epoch {state['epoch']} (best val mIoU {state['best_miou']:.4f})")
    state["config"] = dataclasses.asdict(cfg)

    data_dir = camvid.resolve_data_dir(cfg.data_dir)
    images, labels, _ = camvid.load_split(data_dir, "train", limit=cfg.limit_train)
    val_images, val_labels, _ = camvid.load_split(data_dir, "val", limit=cfg.limit_val)
    height, width = images.shape[1:3]
    if cfg.crop_height > height or cfg.crop_width > width:
        raise ConfigError(f"crop {cfg.crop_height}x{cfg.crop_width} is larger than the frames ({height}x{width})")
    counts = camvid.class_pixel_counts(labels)
    if cfg.class_weighting == "enet":
        class_weights = camvid.class_weights_enet(counts)
    elif cfg.class_weighting == "mfb":
        class_weights = camvid.class_weights_mfb(labels)
    else:
        class_weights = np.where(np.arange(NUM_CLASSES) == VOID_LABEL, 0.0, 1.0).astype(np.float32)
    log("class weights: " + " ".join(f"{w:.2f}" for w in class_weights))

    tf.keras.utils.set_random_seed(cfg.seed)
    batch = min(cfg.batch, len(images))
    model_cfg = cfg.model_config(cfg.crop_height, cfg.crop_width, batch)
    model = build_enet(model_cfg, TRAIN_REALIZATION)
    val_batch = 1
    val_model = build_enet(cfg.model_config(height, width, val_batch), TRAIN_REALIZATION)
    optimizer = tf.keras.optimizers.Adam(learning_rate=cfg.learning_rate_at(state["epoch"]))
    optimizer.build(model.trainable_variables)

    last_weights, last_opt = run_dir / "last_weights.npz", run_dir / "last_optimizer.npz"
    if last_weights.exists():
        weights, _, _ = read_weights(last_weights)
        set_weights(model, weights, str(last_weights))
        if last_opt.exists():
            with np.load(last_opt, allow_pickle=False) as opt:
                if len(opt.files) != len(optimizer.variables):
                    raise ConfigError(f"{last_opt} holds {len(opt.files)} optimizer variables, this model needs "
                                      f"{len(optimizer.variables)}: the run directory belongs to another model config")
                for i, var in enumerate(optimizer.variables):
                    value = opt[f"v{i}"]
                    if tuple(value.shape) != tuple(var.shape):
                        raise ConfigError(f"{last_opt}: optimizer variable {i} has shape {value.shape}, "
                                          f"the model needs {tuple(var.shape)}; use a new --run-dir")
                    var.assign(value)
        else:
            log(f"{last_opt} is missing: resuming with fresh Adam moments (kept out of git: > 3 MB)")
    elif cfg.init_weights:
        weights, _, _ = read_weights(cfg.init_weights)
        set_weights(model, weights, cfg.init_weights)

    weight_table = tf.constant(class_weights)
    kernels = [v for v in model.trainable_variables if v.path.endswith("kernel")]

    @tf.function(jit_compile=False)
    def train_step(x, y):
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            y_int = tf.cast(y, tf.int32)
            ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y_int, logits=logits)
            w = tf.gather(weight_table, y_int)
            loss = tf.reduce_sum(ce * w) / tf.maximum(tf.reduce_sum(w), 1e-6)
            l2 = tf.add_n([tf.reduce_sum(tf.square(k)) for k in kernels]) * (0.5 * cfg.weight_decay)
            total = loss + l2
        grads = tape.gradient(total, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    @tf.function(jit_compile=False)
    def predict(x):
        return tf.argmax(val_model(x, training=False), axis=-1, output_type=tf.int32)

    def make_dataset(epoch: int):
        seed = cfg.seed * 100003 + epoch
        ds = tf.data.Dataset.from_tensor_slices((images, labels)).shuffle(len(images), seed=seed)

        def augment(image, label):
            stacked = tf.concat([image, label[..., None]], axis=-1)
            s = tf.random.uniform((), 0, 2**31 - 1, dtype=tf.int64, seed=seed)
            crop = tf.image.stateless_random_crop(
                stacked, (cfg.crop_height, cfg.crop_width, 4), seed=tf.stack([s, tf.constant(seed, tf.int64)]))
            crop = tf.image.stateless_random_flip_left_right(crop, seed=tf.stack([s + 1, tf.constant(seed, tf.int64)]))
            return tf.cast(crop[..., :3], tf.float32), crop[..., 3]

        return ds.map(augment, num_parallel_calls=1).batch(batch, drop_remainder=True).prefetch(2)

    from enet_edge.metrics import ConfusionAccumulator

    def validate() -> Dict[str, object]:
        set_weights(val_model, get_weights(model))
        acc = ConfusionAccumulator()
        for i in range(0, len(val_images), val_batch):
            pred = predict(tf.constant(val_images[i : i + val_batch].astype(np.float32))).numpy()
            acc.update(val_labels[i : i + val_batch], pred)
        return acc.scores()

    log_path = run_dir / "log.csv"
    fields = ["epoch", "steps", "lr", "train_loss", "val_miou", "val_pixel_accuracy", "epoch_seconds", "images_per_second"]
    if not log_path.exists():
        with open(log_path, "w", newline="") as f:
            csv.writer(f).writerow(fields)
    else:
        # an interruption between appending a row and writing state.json leaves a row of an epoch
        # that will be trained again: drop rows past the resume point
        with open(log_path, newline="") as f:
            rows = [r for r in csv.DictReader(f) if int(r["epoch"]) <= state["epoch"]]
        with open(log_path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)

    steps_per_epoch = len(images) // batch
    meta = {"trained_on": "CamVid train", "realization_trained": TRAIN_REALIZATION.name}
    while state["epoch"] < cfg.epochs:
        if cfg.max_steps is not None and state["steps"] >= cfg.max_steps:
            break
        epoch = state["epoch"]
        lr = cfg.learning_rate_at(epoch)
        optimizer.learning_rate.assign(lr)
        progress = _Progress(steps_per_epoch, f"epoch {epoch + 1}/{cfg.epochs}")
        start = time.perf_counter()
        losses = []
        for step, (x, y) in enumerate(make_dataset(epoch)):
            losses.append(float(train_step(x, y)))
            state["steps"] += 1
            rate = (step + 1) * batch / (time.perf_counter() - start)
            progress.update(step + 1, loss=f"{np.mean(losses):.4f}", img_s=f"{rate:.1f}")
            if cfg.max_steps is not None and state["steps"] >= cfg.max_steps:
                break
        progress.close()
        seconds = time.perf_counter() - start
        state["epoch"] = epoch + 1
        row = {"epoch": epoch + 1, "steps": state["steps"], "lr": lr, "train_loss": float(np.mean(losses)),
               "val_miou": "", "val_pixel_accuracy": "", "epoch_seconds": round(seconds, 2),
               "images_per_second": round(len(losses) * batch / seconds, 3)}
        finished = state["epoch"] >= cfg.epochs or (cfg.max_steps is not None and state["steps"] >= cfg.max_steps)
        if state["epoch"] % cfg.val_every == 0 or finished:
            val = validate()
            row["val_miou"], row["val_pixel_accuracy"] = round(val["miou"], 5), round(val["pixel_accuracy"], 5)
            log(f"epoch {state['epoch']}: loss {row['train_loss']:.4f}, val mIoU {val['miou']:.4f}")
            if val["miou"] > state["best_miou"]:
                state["best_miou"], state["best_epoch"] = float(val["miou"]), state["epoch"]
                save_weights(model, run_dir / "best_weights.npz", model_cfg.replace(height=height, width=width, batch=1),
                             meta={**meta, "epoch": state["epoch"], "val_miou": float(val["miou"]),
                                   "per_class_iou": val["per_class_iou"]})
        save_weights(model, last_weights, model_cfg.replace(height=height, width=width, batch=1),
                     meta={**meta, "epoch": state["epoch"]})
        atomic_savez(last_opt, {f"v{i}": v.numpy() for i, v in enumerate(optimizer.variables)})
        with open(log_path, "a", newline="") as f:
            csv.DictWriter(f, fieldnames=fields).writerow(row)
        atomic_write_text(state_path, json.dumps(state, indent=2))
        plot_curve(log_path, run_dir / "curve.png")
        if cfg.max_steps is not None and state["steps"] >= cfg.max_steps:
            break
    return state


def plot_curve(log_path: Path, png_path: Path) -> None:
    """Training loss and validation mIoU against epoch, from ``log.csv``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(log_path) as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return
    epochs = [int(r["epoch"]) for r in rows]
    loss = [float(r["train_loss"]) for r in rows]
    val = [(int(r["epoch"]), float(r["val_miou"])) for r in rows if r["val_miou"]]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(epochs, loss, color="tab:blue", label="train loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("weighted cross-entropy", color="tab:blue")
    if val:
        ax2 = ax.twinx()
        ax2.plot([v[0] for v in val], [100 * v[1] for v in val], "o-", color="tab:red", label="val mIoU")
        ax2.set_ylabel("val mIoU (%)", color="tab:red")
    ax.set_title("ENet on CamVid")
    fig.tight_layout()
    tmp = png_path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, png_path)
