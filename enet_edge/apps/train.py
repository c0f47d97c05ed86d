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
import functools
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional, Tuple

import numpy as np

from enet_edge.class_sets import NUM_CLASSES, ClassSet, default_for, read_class_file
from enet_edge.model.config import ENetConfig, Realization
from enet_edge.apps.run_dir import (check_numbers, log_rows_up_to, percent, plot_curve, read_state,
                                    restore_optimizer, smoothed_score, val_history)
from enet_edge.errors import EXIT_TERMINATED, ConfigError, Interrupted, Terminated
from enet_edge.fileio import (atomic_savez, atomic_write_text, check_output_dir, make_dirs,
                              remove_created, remove_stale)
from enet_edge.progress import ProgressBar
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
    select_window: int = 3  # best_weights: where the mean of the last N validations peaks (1: the single best one)
    seed: int = 0
    limit_train: Optional[int] = None  # smoke runs: use only the first N training frames
    limit_val: Optional[int] = None
    max_steps: Optional[int] = None  # smoke runs: stop after N optimizer steps in total
    init_weights: Optional[str] = None  # start (not resume) from these weights
    stage_two_repeat: int = 2
    skip_connections: bool = False
    num_initial_blocks: int = 1
    num_classes: Optional[int] = None  # None: the class file's count, else CamVid's 12
    classes_file: Optional[str] = None  # names, palette, ignore label (enet_edge.class_sets); None: CamVid's

    def __post_init__(self) -> None:
        self.class_set  # noqa: B018 - validates num_classes and the class file up front
        for name in ("epochs", "batch", "val_every", "select_window", "crop_height", "crop_width"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("crop_height", "crop_width"):
            if getattr(self, name) % 8:
                raise ConfigError(f"{name}={getattr(self, name)} must be a multiple of 8")
        check_numbers(self)  # learning_rate, weight_decay, seed, limits (apps/run_dir.py)
        if self.schedule not in ("cosine", "step"):
            raise ConfigError(f"schedule={self.schedule!r} must be cosine or step")
        if self.class_weighting not in ("enet", "mfb", "none"):
            raise ConfigError(f"class_weighting={self.class_weighting!r} must be enet, mfb or none")

    @functools.cached_property
    def class_set(self) -> ClassSet:
        """The classes trained: the class file's, else CamVid's for 12 classes, else generic names (no ignore)."""
        if self.num_classes is not None and (isinstance(self.num_classes, bool) or not 1 <= self.num_classes <= 256):
            raise ConfigError(f"num_classes must be within 1..256 (uint8 label maps), got {self.num_classes}")
        if self.classes_file is not None:
            classes = read_class_file(self.classes_file)
            if self.num_classes is not None and self.num_classes != classes.num_classes:
                raise ConfigError(f"--num-classes {self.num_classes} but {self.classes_file} lists "
                                  f"{classes.num_classes} classes")
            return classes
        return default_for(NUM_CLASSES if self.num_classes is None else self.num_classes)

    def model_config(self, height: int, width: int, batch: int) -> ENetConfig:
        return ENetConfig(
            num_classes=self.class_set.num_classes, height=height, width=width, batch=batch,
            stage_two_repeat=self.stage_two_repeat, skip_connections=self.skip_connections,
            num_initial_blocks=self.num_initial_blocks,
        )

    def learning_rate_at(self, epoch: float) -> float:
        """Learning rate at a (fractional) epoch."""
        if self.schedule == "step":
            return self.learning_rate * (0.1 ** int(epoch // self.step_epochs))
        return 0.5 * self.learning_rate * (1.0 + math.cos(math.pi * min(epoch / self.epochs, 1.0)))


# -- data ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainData:
    """The frames of one run (uint8 BGR (N,H,W,3), labels (N,H,W)) and the class weights of the loss."""

    images: np.ndarray
    labels: np.ndarray
    val_images: np.ndarray
    val_labels: np.ndarray
    class_weights: np.ndarray

    @property
    def frame_size(self) -> Tuple[int, int]:
        return tuple(self.images.shape[1:3])


def class_weights_for(cfg: TrainConfig, labels: np.ndarray) -> np.ndarray:
    """Loss weight per class: ENet's 1/ln(1.02 + p), median frequency balancing, or 1 (the ignore label
    of the class set, CamVid's void, always 0)."""
    classes = cfg.class_set
    n, ignore = classes.num_classes, classes.ignore_label
    if cfg.class_weighting == "enet":
        return camvid.class_weights_enet(camvid.class_pixel_counts(labels, n), void=ignore)
    if cfg.class_weighting == "mfb":
        return camvid.class_weights_mfb(labels, n, void=ignore)
    return np.where(np.arange(n) == (-1 if ignore is None else ignore), 0.0, 1.0).astype(np.float32)


def load_data(cfg: TrainConfig, log=print) -> TrainData:
    """CamVid train and val (limited per ``cfg``); the crop must fit the frames."""
    data_dir = camvid.resolve_data_dir(cfg.data_dir)
    n = cfg.class_set.num_classes
    images, labels, _ = camvid.load_split(data_dir, "train", limit=cfg.limit_train, num_classes=n)
    val_images, val_labels, _ = camvid.load_split(data_dir, "val", limit=cfg.limit_val, num_classes=n)
    height, width = images.shape[1:3]
    if cfg.crop_height > height or cfg.crop_width > width:
        raise ConfigError(f"crop {cfg.crop_height}x{cfg.crop_width} is larger than the frames ({height}x{width})")
    class_weights = class_weights_for(cfg, labels)
    log("class weights: " + " ".join(f"{w:.2f}" for w in class_weights))
    return TrainData(images, labels, val_images, val_labels, class_weights)


def _augment(image, label, seed: int, crop_height: int, crop_width: int):
    """One random crop (image and label together) and a random horizontal flip, seeded per epoch."""
    import tensorflow as tf

    stacked = tf.concat([image, label[..., None]], axis=-1)
    s = tf.random.uniform((), 0, 2**31 - 1, dtype=tf.int64, seed=seed)
    crop = tf.image.stateless_random_crop(
        stacked, (crop_height, crop_width, 4), seed=tf.stack([s, tf.constant(seed, tf.int64)]))
    crop = tf.image.stateless_random_flip_left_right(crop, seed=tf.stack([s + 1, tf.constant(seed, tf.int64)]))
    return tf.cast(crop[..., :3], tf.float32), crop[..., 3]


def make_dataset(cfg: TrainConfig, data: TrainData, batch: int, epoch: int):
    """The training batches of ``epoch``: shuffled, cropped and flipped with a seed per (run seed, epoch)."""
    import tensorflow as tf

    seed = cfg.seed * 100003 + epoch
    ds = tf.data.Dataset.from_tensor_slices((data.images, data.labels)).shuffle(len(data.images), seed=seed)
    augment = functools.partial(_augment, seed=seed, crop_height=cfg.crop_height, crop_width=cfg.crop_width)
    return ds.map(augment, num_parallel_calls=1).batch(batch, drop_remainder=True).prefetch(2)


# -- the model, its optimizer and its compiled steps ------------------------------------------------------


class Trainer:
    """The TensorFlow side of a run: the training model (crop size), the validation model (frame size,
    batch 1), Adam, and the compiled training and prediction steps."""

    val_batch = 1

    def __init__(self, cfg: TrainConfig, data: TrainData, epoch: int):
        import tensorflow as tf

        from enet_edge.model.enet import build_enet

        self.cfg, self._tf = cfg, tf
        tf.keras.utils.set_random_seed(cfg.seed)
        self.batch = min(cfg.batch, len(data.images))
        self.model_cfg = cfg.model_config(cfg.crop_height, cfg.crop_width, self.batch)
        self.model = build_enet(self.model_cfg, TRAIN_REALIZATION)
        height, width = data.frame_size
        self.val_model = build_enet(cfg.model_config(height, width, self.val_batch), TRAIN_REALIZATION)
        self.optimizer = tf.keras.optimizers.Adam(learning_rate=cfg.learning_rate_at(epoch))
        self.optimizer.build(self.model.trainable_variables)
        # what the weights files record: the model at full frame size, batch 1, whatever the crop
        self.save_config = self.model_cfg.replace(height=height, width=width, batch=1)
        self._weight_table = tf.constant(data.class_weights)
        self._kernels = [v for v in self.model.trainable_variables if v.path.endswith("kernel")]
        self.train_step = tf.function(self._train_step, jit_compile=False)
        self.predict = tf.function(self._predict, jit_compile=False)

    def _train_step(self, x, y):
        """One Adam step on class-weighted cross-entropy + L2 on the kernels; returns the weighted loss."""
        tf, model = self._tf, self.model
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            y_int = tf.cast(y, tf.int32)
            ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y_int, logits=logits)
            w = tf.gather(self._weight_table, y_int)
            loss = tf.reduce_sum(ce * w) / tf.maximum(tf.reduce_sum(w), 1e-6)
            l2 = tf.add_n([tf.reduce_sum(tf.square(k)) for k in self._kernels]) * (0.5 * self.cfg.weight_decay)
            total = loss + l2
        grads = tape.gradient(total, model.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    def _predict(self, x):
        tf = self._tf
        return tf.argmax(self.val_model(x, training=False), axis=-1, output_type=tf.int32)


# -- one epoch, validation --------------------------------------------------------------------------------


def _out_of_steps(cfg: TrainConfig, steps: int) -> bool:
    return cfg.max_steps is not None and steps >= cfg.max_steps


def train_epoch(trainer: Trainer, data: TrainData, state: dict, epoch: int, lr: float) -> Tuple[list, float]:
    """Train one epoch at learning rate ``lr`` (stops early at ``max_steps``); counts ``state["steps"]``.

    Returns (the loss of every step, seconds).
    """
    cfg, batch = trainer.cfg, trainer.batch
    trainer.optimizer.learning_rate.assign(lr)
    steps_per_epoch = len(data.images) // batch
    progress = ProgressBar(steps_per_epoch, f"epoch {epoch + 1}/{cfg.epochs}")
    start = time.perf_counter()
    losses = []
    for step, (x, y) in enumerate(make_dataset(cfg, data, batch, epoch)):
        losses.append(float(trainer.train_step(x, y)))
        state["steps"] += 1
        rate = (step + 1) * batch / (time.perf_counter() - start)
        progress.update(step + 1, loss=f"{np.mean(losses):.4f}", img_s=f"{rate:.1f}")
        if _out_of_steps(cfg, state["steps"]):
            break
    progress.close()
    return losses, time.perf_counter() - start


def validate(trainer: Trainer, data: TrainData) -> Dict[str, object]:
    """Scores (mIoU, pixel accuracy, per-class IoU) of the current weights on the validation frames."""
    from enet_edge.metrics import accumulator_for
    from enet_edge.model.weights import get_weights, set_weights

    import tensorflow as tf

    val_batch = trainer.val_batch
    set_weights(trainer.val_model, get_weights(trainer.model))
    acc = accumulator_for(trainer.cfg.class_set)
    for i in range(0, len(data.val_images), val_batch):
        pred = trainer.predict(tf.constant(data.val_images[i : i + val_batch].astype(np.float32))).numpy()
        acc.update(data.val_labels[i : i + val_batch], pred)
    return acc.scores()


# -- the run directory: state, checkpoints, log -----------------------------------------------------------

LOG_FIELDS = ["epoch", "steps", "lr", "train_loss", "val_miou", "val_pixel_accuracy", "epoch_seconds",
              "images_per_second"]
META = {"trained_on": "CamVid train", "realization_trained": TRAIN_REALIZATION.name}


def weights_meta(trainer: Trainer, **extra) -> dict:
    """What a weights file of this run records: :data:`META`, the class set (names, palette, ignore label)."""
    classes = trainer.cfg.class_set
    trained_on = META["trained_on"] if trainer.cfg.classes_file is None else "train split of the run's data"
    return {**META, "trained_on": trained_on, "classes": classes.to_dict(), **extra}


def load_state(cfg: TrainConfig, run_dir: Path, log=print) -> Dict[str, object]:
    """A fresh state, or the one ``state.json`` records (resume); the config is always ``cfg``'s."""
    state = {"epoch": 0, "best_miou": -1.0, "best_epoch": None, "best_score": -1.0, "steps": 0,
             "config": dataclasses.asdict(cfg)}
    state_path = run_dir / "state.json"
    if state_path.exists():
        state.update(read_state(state_path))
        log(f"resuming {run_dir} at epoch {state['epoch']} (best val mIoU {percent(state['best_miou'])})")
    state["config"] = dataclasses.asdict(cfg)
    return state


def restore(trainer: Trainer, run_dir: Path, log=print) -> None:
    """Resume the weights and Adam state of the last finished epoch, or start from ``init_weights``."""
    from enet_edge.model.weights import read_weights, set_weights

    last_weights, last_opt = run_dir / "last_weights.npz", run_dir / "last_optimizer.npz"
    optimizer = trainer.optimizer
    if last_weights.exists():
        weights, _, _ = read_weights(last_weights, "the run directory's")
        set_weights(trainer.model, weights, str(last_weights))
        if trainer.cfg.init_weights:
            log(f"note: resuming {run_dir}: --init-weights {trainer.cfg.init_weights} applies to new runs only")
        if last_opt.exists():
            restore_optimizer(last_opt, optimizer.variables)
        else:
            log(f"{last_opt} is missing: resuming with fresh Adam moments (kept out of git: > 3 MB)")
    elif trainer.cfg.init_weights:
        weights, _, _ = read_weights(trainer.cfg.init_weights, "--init-weights")
        set_weights(trainer.model, weights, trainer.cfg.init_weights)


def save_best(trainer: Trainer, run_dir: Path, epoch: int, val: Dict[str, object], score: float) -> None:
    from enet_edge.model.weights import save_weights

    save_weights(trainer.model, run_dir / "best_weights.npz", trainer.save_config,
                 meta=weights_meta(trainer, epoch=epoch, val_miou=float(val["miou"]), per_class_iou=val["per_class_iou"],
                                   val_miou_smoothed=score, selection=f"mean of the last {trainer.cfg.select_window} "
                                                                     "validations"))


def save_last(trainer: Trainer, run_dir: Path, epoch: int) -> None:
    """The resume point: weights and Adam state after the last finished epoch."""
    from enet_edge.model.weights import save_weights

    save_weights(trainer.model, run_dir / "last_weights.npz", trainer.save_config, meta=weights_meta(trainer, epoch=epoch))
    atomic_savez(run_dir / "last_optimizer.npz", {f"v{i}": v.numpy() for i, v in enumerate(trainer.optimizer.variables)})


def prepare_log(log_path: Path, epoch: int) -> None:
    """Create ``log.csv``, or keep only its rows up to ``epoch`` (the resume point)."""
    if not log_path.exists():
        with open(log_path, "w", newline="") as f:
            csv.writer(f).writerow(LOG_FIELDS)
        return
    # an interruption between appending a row and writing state.json leaves a row of an epoch
    # that will be trained again: drop rows past the resume point
    rows = log_rows_up_to(log_path, epoch, LOG_FIELDS)
    with open(log_path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=LOG_FIELDS)
        writer.writeheader()
        writer.writerows(rows)


def append_log(log_path: Path, row: dict) -> None:
    with open(log_path, "a", newline="") as f:
        csv.DictWriter(f, fieldnames=LOG_FIELDS).writerow(row)


# -- the run ----------------------------------------------------------------------------------------------


def train(cfg: TrainConfig, log=print) -> Dict[str, object]:
    """Train (or resume) per ``cfg``; returns the final state dict. Runs unchanged on CPU or GPU."""
    from enet_edge.model.weights import read_weights

    run_dir = check_output_dir(cfg.run_dir, "--run-dir")  # every input is checked before the run directory is made
    state = load_state(cfg, run_dir, log)
    if (run_dir / "log.csv").exists():
        log_rows_up_to(run_dir / "log.csv", state["epoch"], LOG_FIELDS)  # a damaged log fails now, not after the build
    if cfg.init_weights and not (run_dir / "last_weights.npz").exists():
        read_weights(cfg.init_weights, "--init-weights")
    data = load_data(cfg, log)
    trainer = Trainer(cfg, data, state["epoch"])
    restore(trainer, run_dir, log)
    created = make_dirs(run_dir, "--run-dir")
    for name in ("last_weights.npz", "last_optimizer.npz", "best_weights.npz", "state.json", "curve.png"):
        remove_stale(run_dir, name, log)  # temp files of a killed run
    log_path = run_dir / "log.csv"
    fresh_log = not log_path.exists()
    prepare_log(log_path, state["epoch"])
    try:
        return _train_loop(cfg, trainer, data, state, run_dir, log_path, log)
    except BaseException:
        if fresh_log and not (run_dir / "state.json").exists():  # no epoch finished: leave nothing behind
            log_path.unlink(missing_ok=True)
            remove_created(created)
        raise


def _train_loop(cfg: TrainConfig, trainer: Trainer, data: TrainData, state: dict, run_dir: Path, log_path: Path,
                log) -> Dict[str, object]:

    history = val_history(log_rows_up_to(log_path, state["epoch"], LOG_FIELDS))
    if state["best_score"] < 0 and state["best_epoch"] is not None:  # a run from before smoothed selection
        state["best_score"] = smoothed_score(history, cfg.select_window, state["best_epoch"]) or state["best_miou"]
    while state["epoch"] < cfg.epochs:
        if _out_of_steps(cfg, state["steps"]):
            break
        epoch = state["epoch"]
        lr = cfg.learning_rate_at(epoch)
        losses, seconds = train_epoch(trainer, data, state, epoch, lr)
        state["epoch"] = epoch + 1
        row = {"epoch": epoch + 1, "steps": state["steps"], "lr": lr, "train_loss": float(np.mean(losses)),
               "val_miou": "", "val_pixel_accuracy": "", "epoch_seconds": round(seconds, 2),
               "images_per_second": round(len(losses) * trainer.batch / seconds, 3)}
        finished = state["epoch"] >= cfg.epochs or _out_of_steps(cfg, state["steps"])
        if state["epoch"] % cfg.val_every == 0 or finished:
            val = validate(trainer, data)
            row["val_miou"], row["val_pixel_accuracy"] = round(val["miou"], 5), round(val["pixel_accuracy"], 5)
            history.append((state["epoch"], float(val["miou"])))
            score = smoothed_score(history, cfg.select_window)
            log(f"epoch {state['epoch']}: loss {row['train_loss']:.4f}, val mIoU {percent(val['miou'])} "
                f"(mean of the last {min(cfg.select_window, len(history))}: {percent(score)})")
            if score > state["best_score"]:
                state["best_score"], state["best_miou"], state["best_epoch"] = score, float(val["miou"]), state["epoch"]
                save_best(trainer, run_dir, state["epoch"], val, score)
        save_last(trainer, run_dir, state["epoch"])
        append_log(log_path, row)
        atomic_write_text(run_dir / "state.json", json.dumps(state, indent=2))
        plot_curve(log_path, run_dir / "curve.png", curve_title(run_dir, cfg), cfg.select_window)
        if _out_of_steps(cfg, state["steps"]):
            break
    return state


def curve_title(run_dir: Path, cfg: "TrainConfig") -> str:
    """``enet_camvid_ft2: 360x480 crops, batch 8, lr 2e-04 (cosine), 100 epochs``."""
    return (f"{Path(run_dir).name}: {cfg.crop_height}x{cfg.crop_width} crops, batch {cfg.batch}, "
            f"lr {cfg.learning_rate:.0e} ({cfg.schedule}), {cfg.epochs} epochs")


def add_cli(sub) -> None:
    """``enet-edge train``."""
    p = sub.add_parser("train", help="train ENet on CamVid (resumable)")
    p.add_argument("--data-dir", help="CamVid root (default: $ENET_EDGE_CAMVID, then ../shared/camvid)")
    p.add_argument("--run-dir", default="runs/enet_camvid", help="checkpoints, log.csv, curve.png (resumes if present)")
    p.add_argument("--epochs", type=int, default=300)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--crop", type=int, nargs=2, metavar=("H", "W"), default=(192, 256),
                   help="random crop at full scale (multiples of 8)")
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--weight-decay", type=float, default=2e-4)
    p.add_argument("--schedule", choices=("cosine", "step"), default="cosine")
    p.add_argument("--class-weighting", choices=("enet", "mfb", "none"), default="enet")
    p.add_argument("--val-every", type=int, default=5)
    p.add_argument("--select-window", type=int, default=3,
                   help="best_weights.npz: the epoch where the mean of the last N val mIoUs peaks (1: the top one)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit-train", type=int, help="use only the first N training frames (smoke runs)")
    p.add_argument("--limit-val", type=int, help="use only the first N validation frames (smoke runs)")
    p.add_argument("--max-steps", type=int, help="stop after N optimizer steps in total (smoke runs)")
    p.add_argument("--init-weights", help="start a new run from these weights (.npz)")
    p.add_argument("--num-classes", type=int, help="classes of your data set (default: the class file's, else 12)")
    p.add_argument("--classes", help="class file: names, colours, ignore_label (JSON or TOML; docs/import.md); "
                                     "default: CamVid's classes")
    p.set_defaults(func=run_train)


def run_train(args) -> int:
    cfg = TrainConfig(
        run_dir=args.run_dir, data_dir=args.data_dir, epochs=args.epochs, batch=args.batch,
        crop_height=args.crop[0], crop_width=args.crop[1], learning_rate=args.lr, weight_decay=args.weight_decay,
        schedule=args.schedule, class_weighting=args.class_weighting, val_every=args.val_every,
        select_window=args.select_window, seed=args.seed,
        limit_train=args.limit_train, limit_val=args.limit_val, max_steps=args.max_steps,
        init_weights=args.init_weights, num_classes=args.num_classes, classes_file=args.classes,
    )
    try:
        state = train(cfg)
    except KeyboardInterrupt as exc:
        kept = (f"{cfg.run_dir} holds the last finished epoch: run the same command to resume"
                if (Path(cfg.run_dir) / "state.json").is_file() else "no epoch finished, nothing was kept")
        error = Interrupted(f"{'terminated' if isinstance(exc, Terminated) else 'interrupted (Ctrl-C)'}; {kept}")
        if isinstance(exc, Terminated):
            error.exit_code = EXIT_TERMINATED
        raise error from None
    print(f"done: epoch {state['epoch']}; kept epoch {state['best_epoch']} (val mIoU {percent(state['best_miou'])}, "
          f"mean of the last {cfg.select_window} validations {percent(state['best_score'])}) in "
          f"{cfg.run_dir}/best_weights.npz")
    return 0
