"""Segmentation metrics from a confusion matrix (numpy only; runs on the device too)."""

from __future__ import annotations

from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from enet_edge.classes import CAMVID_CLASSES, VOID_LABEL
from enet_edge.errors import InputError


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int = VOID_LABEL,
                     ignore: Optional[int] = VOID_LABEL) -> Tuple[np.ndarray, np.ndarray]:
    """Returns ``(cm, misses)``: cm is (num_classes, num_classes) int64, rows = ground truth,
    columns = prediction; misses is (num_classes,) int64.

    Pixels whose label is ``ignore`` (void), negative or >= ``num_classes`` are skipped; predictions outside
    0..num_classes-1 (e.g. a predicted void) count as wrong for their row but get no column.
    """
    labels = np.asarray(labels).reshape(-1).astype(np.int64)
    predictions = np.asarray(predictions).reshape(-1).astype(np.int64)
    if labels.shape != predictions.shape:
        raise InputError(f"labels {labels.shape} and predictions {predictions.shape} differ in size")
    keep = (labels >= 0) & (labels < num_classes)
    if ignore is not None:
        keep &= labels != ignore
    labels, predictions = labels[keep], predictions[keep]
    in_range = (predictions >= 0) & (predictions < num_classes)
    cm = np.bincount(labels[in_range] * num_classes + predictions[in_range], minlength=num_classes * num_classes)
    cm = cm.reshape(num_classes, num_classes)
    # out-of-range predictions are misses of their row: they add to FN but to no class's FP
    misses = np.bincount(labels[~in_range], minlength=num_classes)
    return cm, misses


def scores(cm: np.ndarray, misses: Optional[np.ndarray] = None,
           class_names: Sequence[str] = CAMVID_CLASSES[:VOID_LABEL]) -> Dict[str, object]:
    """mIoU, per-class IoU, global pixel accuracy and mean class accuracy (fractions 0..1).

    IoU_c = TP / (TP + FP + FN). Classes with no ground truth and no prediction are left out of the
    mean (and reported as NaN).
    """
    cm = np.asarray(cm, np.float64)
    misses = np.zeros(cm.shape[0]) if misses is None else np.asarray(misses, np.float64)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or misses.shape != (cm.shape[0],) or len(class_names) != cm.shape[0]:
        raise InputError(f"confusion matrix {cm.shape}, misses {misses.shape} and {len(class_names)} class names "
                         "do not fit: need (K, K), (K,) and K names")
    tp = np.diag(cm)
    gt = cm.sum(axis=1) + misses
    pred = cm.sum(axis=0)
    union = gt + pred - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, tp / union, np.nan)
        class_acc = np.where(gt > 0, tp / gt, np.nan)
    total = gt.sum()
    return {
        "miou": float(np.nanmean(iou)) if np.isfinite(iou).any() else float("nan"),
        "per_class_iou": {name: float(v) for name, v in zip(class_names, iou)},
        "pixel_accuracy": float(tp.sum() / total) if total else float("nan"),
        "mean_class_accuracy": float(np.nanmean(class_acc)) if np.isfinite(class_acc).any() else float("nan"),
    }


class ConfusionAccumulator:
    """Accumulate a confusion matrix over batches of (labels, predictions)."""

    def __init__(self, num_classes: int = VOID_LABEL, ignore: Optional[int] = VOID_LABEL,
                 class_names: Optional[Sequence[str]] = None):
        self.num_classes = num_classes
        self.ignore = ignore
        if class_names is None:
            class_names = CAMVID_CLASSES[:num_classes] if num_classes <= len(CAMVID_CLASSES) else [
                f"class_{i}" for i in range(num_classes)]
        self.class_names = tuple(class_names)
        self.cm = np.zeros((num_classes, num_classes), np.int64)
        self.misses = np.zeros(num_classes, np.int64)

    def update(self, labels: np.ndarray, predictions: np.ndarray) -> None:
        cm, misses = confusion_matrix(labels, predictions, self.num_classes, self.ignore)
        self.cm += cm
        self.misses += misses

    def scores(self) -> Dict[str, object]:
        return scores(self.cm, self.misses, self.class_names)
