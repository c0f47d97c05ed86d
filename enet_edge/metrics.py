"""Segmentation metrics from a confusion matrix, and the one loop that measures a model with them.

numpy only (runs on the device too); :func:`evaluate_pairs` reads CamVid files (OpenCV) and runs
anything with a :class:`~enet_edge.runtime.Segmenter`'s ``infer``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from enet_edge.class_sets import CAMVID, CAMVID_CLASSES, VOID_LABEL, ClassSet
from enet_edge.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from enet_edge.progress import ProgressBar
    from enet_edge.runtime.segmenter import Segmenter


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


class _RemappedAccumulator(ConfusionAccumulator):
    """An accumulator for a class set whose ignore label is not the last id: ids are remapped (the
    ignore label last, the others keep their order) before counting, like CamVid's void."""

    def __init__(self, lut: np.ndarray, **kwargs):
        super().__init__(**kwargs)
        self.lut = lut

    def update(self, labels: np.ndarray, predictions: np.ndarray) -> None:
        labels, predictions = np.asarray(labels), np.asarray(predictions)
        remap = lambda a: np.where((a >= 0) & (a < len(self.lut)), self.lut[np.clip(a, 0, len(self.lut) - 1)], a)  # noqa: E731
        super().update(remap(labels.astype(np.int64)), remap(predictions.astype(np.int64)))


def accumulator_for(classes: Optional[ClassSet] = None) -> ConfusionAccumulator:
    """The metric's accumulator for a model's class set (default CamVid's): every class but the ignore
    label is scored; pixels labelled ignore are skipped; predicting the ignore label is a miss (FN of
    the pixel's class, FP of none). No ignore label: every class is scored."""
    classes = classes or CAMVID
    k, ignore = classes.num_classes, classes.ignore_label
    if ignore is None:
        return ConfusionAccumulator(num_classes=k, ignore=None, class_names=classes.names)
    if ignore == k - 1:
        return ConfusionAccumulator(num_classes=k - 1, ignore=ignore, class_names=classes.metric_names)
    lut = np.array([i if i < ignore else (k - 1 if i == ignore else i - 1) for i in range(k)], np.int64)
    return _RemappedAccumulator(lut, num_classes=k - 1, ignore=k - 1, class_names=classes.metric_names)


# --------------------------------------------------------------------------------------------
# Measuring a model: the loop `enet-edge eval`, the INT8 gate and the benchmark's mIoU column share
# --------------------------------------------------------------------------------------------


class Evaluation(NamedTuple):
    """What :func:`evaluate_samples` accumulated: the confusion (11 classes, void ignored), the distinct
    label sizes [(H, W)] in the order met, and the mean inference time in milliseconds."""

    accumulator: ConfusionAccumulator
    label_sizes: List[Tuple[int, int]]
    mean_infer_ms: float


Predict = Callable[[Any, Tuple[int, int]], Tuple[np.ndarray, int]]
"""``predict(input, label_size)`` -> (class map (H, W) at ``label_size``, inference nanoseconds)."""


def evaluate_samples(samples: Iterable[Tuple[Any, np.ndarray]], predict: Predict,
                     progress: Optional["ProgressBar"] = None, classes: Optional[ClassSet] = None) -> Evaluation:
    """Accumulate the metric over (input, label) samples, at each label's resolution.

    ``predict`` turns an input (a frame, a pre-made tensor) into a class map at the label's size;
    ``progress`` is redrawn after every sample with the running mIoU and inference time. ``classes``:
    the model's class set (:func:`accumulator_for`; default CamVid's, void ignored).
    """
    acc = accumulator_for(classes)
    sizes: List[Tuple[int, int]] = []
    infer_ns = 0
    count = 0
    for count, (inputs, label) in enumerate(samples, start=1):
        class_map, ns = predict(inputs, label.shape)
        acc.update(label, class_map)
        infer_ns += ns
        if label.shape not in sizes:
            sizes.append(tuple(label.shape))
        if progress is not None:
            progress.update(count, mIoU=f"{100 * acc.scores()['miou']:.1f}%", ms=f"{infer_ns / 1e6 / count:.1f}")
    return Evaluation(acc, sizes, infer_ns / 1e6 / max(count, 1))


def evaluate_pairs(segmenter: "Segmenter", pairs: Sequence[Tuple[Path, Path]],
                   progress: Optional["ProgressBar"] = None) -> Evaluation:
    """Run ``segmenter`` over (frame, label) files; the frame's class map (resized back to the frame, nearest)
    is scored against its label. The mean inference time counts the adapter call only."""
    from enet_edge import camvid

    def predict(image: np.ndarray, _size: Tuple[int, int]) -> Tuple[np.ndarray, int]:
        result = segmenter.infer(image)
        return result.frame_class_map, result.timings_ns.get("infer", 0)

    classes = getattr(segmenter, "class_set", None)
    n = classes.num_classes if classes is not None else None
    samples = (camvid.read_pair(image, label, *([n] if n else [])) for image, label in pairs)
    return evaluate_samples(samples, predict, progress, classes)


def segmenter_miou(segmenter: "Segmenter", pairs: Sequence[Tuple[Path, Path]]) -> float:
    """mIoU (fraction in 0..1, 11 classes, void ignored) of ``segmenter`` over (frame, label) files.

    Closes ``segmenter.adapter`` afterwards, also on error: for one-shot measurements (INT8 gate, benchmark
    accuracy column, the shipped weights' regression guard).
    """
    try:
        acc = evaluate_pairs(segmenter, pairs).accumulator
    finally:
        segmenter.adapter.close()
    return float(acc.scores()["miou"])
