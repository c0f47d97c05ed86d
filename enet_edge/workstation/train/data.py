"""CamVid for training: the split's frames and labels in memory, class weights, random crops and flips in a ``tf.data``
pipeline.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Tuple

import numpy as np

from enet_edge import camvid
from enet_edge.errors import ConfigError
from enet_edge.workstation.train.config import TrainConfig


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
    if cfg.val_trained_on:  # the final-weights run: val joins the training frames (and is no held-out score)
        more, more_labels, _ = camvid.load_split(data_dir, "val", num_classes=n)
        images, labels = np.concatenate([images, more]), np.concatenate([labels, more_labels])
        log(f"training on train+val: {len(images)} frames; val mIoU below is not a held-out score")
    height, width = images.shape[1:3]
    if cfg.crop_height > height or cfg.crop_width > width:
        raise ConfigError(f"crop {cfg.crop_height}x{cfg.crop_width} is larger than the frames ({height}x{width})")
    if cfg.class_set.ignore_label is None and (cfg.crop_height > round(height * cfg.scale_min)
                                               or cfg.crop_width > round(width * cfg.scale_min)):
        raise ConfigError(f"--scale {cfg.scale_min:g} makes {height}x{width} frames smaller than the crop "
                          f"{cfg.crop_height}x{cfg.crop_width}, and the class set has no ignore label to pad with: "
                          "raise the minimum scale or give a class file with an ignore label")
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


def _rescale(image, label, seed: int, scale_min: float, scale_max: float, crop_height: int, crop_width: int,
             pad_label: int):
    """``image`` (H,W,3) and ``label`` (H,W) rescaled by one random factor in [scale_min, scale_max] (bilinear and
    nearest), then padded at the bottom and right to at least the crop (image 0, label ``pad_label``)."""
    import tensorflow as tf

    s = tf.random.stateless_uniform((), seed=tf.stack([tf.cast(seed, tf.int64), tf.constant(7, tf.int64)]),
                                    minval=scale_min, maxval=scale_max)
    hw = tf.cast(tf.shape(image)[:2], tf.float32)
    size = tf.cast(tf.round(hw * s), tf.int32)
    image = tf.image.resize(tf.cast(image, tf.float32), size, method="bilinear")
    label = tf.image.resize(label[..., None], size, method="nearest")[..., 0]
    pad_h, pad_w = tf.maximum(crop_height - size[0], 0), tf.maximum(crop_width - size[1], 0)
    image = tf.pad(image, [[0, pad_h], [0, pad_w], [0, 0]])
    label = tf.pad(label, [[0, pad_h], [0, pad_w]], constant_values=tf.cast(pad_label, label.dtype))
    return tf.cast(tf.round(image), tf.uint8), label


def make_dataset(cfg: TrainConfig, data: TrainData, batch: int, epoch: int):
    """The training batches of ``epoch``: shuffled, rescaled (``cfg.scale_min``..``scale_max``; none at 1..1),
    cropped and flipped with a seed per (run seed, epoch)."""
    import tensorflow as tf

    seed = cfg.seed * 100003 + epoch
    ds = tf.data.Dataset.from_tensor_slices((data.images, data.labels)).shuffle(len(data.images), seed=seed)
    if (cfg.scale_min, cfg.scale_max) != (1.0, 1.0):
        ignore = cfg.class_set.ignore_label
        ds = ds.enumerate().map(lambda i, pair: _rescale(
            *pair, seed=seed * 7919 + i, scale_min=cfg.scale_min, scale_max=cfg.scale_max,
            crop_height=cfg.crop_height, crop_width=cfg.crop_width, pad_label=0 if ignore is None else ignore),
            num_parallel_calls=1)
    augment = functools.partial(_augment, seed=seed, crop_height=cfg.crop_height, crop_width=cfg.crop_width)
    return ds.map(augment, num_parallel_calls=1).batch(batch, drop_remainder=True).prefetch(2)
