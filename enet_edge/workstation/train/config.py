"""What ``enet-edge train`` does: :class:`TrainConfig` (checked in ``__post_init__``), the realization it trains, the
log's fields and the weights' meta.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Optional

from enet_edge.class_sets import NUM_CLASSES, ClassSet, default_for, read_class_file
from enet_edge.errors import ConfigError
from enet_edge.model.config import ENetConfig, Realization
from enet_edge.workstation.run_dir import check_numbers


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
    strategy: str = "default"  # tf.distribute: auto | default | mirrored | multi-worker (workstation/train/distribute)
    train_splits: str = "train"  # train | train+val: the final-weights run also learns from val (selection then
    #                              on val is biased: the last epoch is kept; docs/training.md)
    scale_min: float = 1.0  # random rescale of each frame by a factor in [scale_min, scale_max] before the crop
    scale_max: float = 1.0  # (1, 1: none; a frame scaled below the crop is padded with the ignore label)

    def __post_init__(self) -> None:
        self.class_set  # noqa: B018 - validates num_classes and the class file up front
        for name in ("epochs", "batch", "val_every", "select_window", "crop_height", "crop_width"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("crop_height", "crop_width"):
            if getattr(self, name) % 8:
                raise ConfigError(f"{name}={getattr(self, name)} must be a multiple of 8")
        check_numbers(self)  # learning_rate, weight_decay, seed, limits (workstation/run_dir.py)
        if self.schedule not in ("cosine", "step"):
            raise ConfigError(f"schedule={self.schedule!r} must be cosine or step")
        if self.train_splits not in TRAIN_SPLITS:
            raise ConfigError(f"train_splits={self.train_splits!r} must be one of {', '.join(TRAIN_SPLITS)}")
        if self.strategy not in ("auto", "default", "mirrored", "multi-worker"):
            raise ConfigError(f"strategy={self.strategy!r} must be auto, default, mirrored or multi-worker")
        if not 0.25 <= self.scale_min <= self.scale_max <= 4.0:
            raise ConfigError(f"scale range {self.scale_min:g}..{self.scale_max:g} must satisfy 0.25 <= min <= max "
                              "<= 4 (1 1: no rescaling)")
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

    @property
    def val_trained_on(self) -> bool:
        """The run learns from the val split too: its val mIoU is not a held-out score."""
        return self.train_splits == "train+val"

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


LOG_FIELDS = ["epoch", "steps", "lr", "train_loss", "val_miou", "val_pixel_accuracy", "epoch_seconds",
              "images_per_second"]


META = {"trained_on": "CamVid train", "realization_trained": TRAIN_REALIZATION.name}

TRAIN_SPLITS = ("train", "train+val")
"""What a run learns from: CamVid train, or train and val (the final weights of a recipe chosen on val)."""
