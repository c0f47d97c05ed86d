"""Evaluating one model: the segmenter it runs through (classes checked against the metric's), the frames of a CamVid
split, the confusion matrix at the label resolution.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any, Dict, Optional, TextIO

import numpy as np

from enet_edge import camvid
from enet_edge.device.evaluate.config import EvalConfig, EvalResult, confusion_png_path, model_name
from enet_edge.device.evaluate.report import plot_confusion, write_json
from enet_edge.errors import ArtifactError
from enet_edge.fileio import check_output_file
from enet_edge.limits import check_size
from enet_edge.metrics import evaluate_pairs
from enet_edge.progress import ProgressBar
from enet_edge.runtime import KERAS_BACKEND, Segmenter, open_adapter
from enet_edge.runtime.backends import backend, find_backend
from enet_edge.runtime.manifest import resolve_artifact
from enet_edge.runtime.precision import require_exact


def open_segmenter(cfg: EvalConfig) -> Segmenter:
    """A :class:`Segmenter` for ``cfg.model`` (weights through the keras backend) with the model's classes
    (the resolved artifact's)."""
    if find_backend(cfg.model) is backend(KERAS_BACKEND):
        adapter = open_adapter(cfg.model, KERAS_BACKEND, cfg.device, height=cfg.height, width=cfg.width,
                               precision=cfg.precision)
        try:
            segmenter = Segmenter.for_artifact(adapter, resolve_artifact(cfg.model, KERAS_BACKEND))
        except BaseException:
            adapter.close()
            raise
    else:
        segmenter = Segmenter.open(cfg.model, backend=cfg.backend, device=cfg.device, precision=cfg.precision)
    try:
        require_exact(segmenter.adapter.precision_run, f"eval of {cfg.model}")
        check_model_classes(segmenter)
    except BaseException:
        segmenter.adapter.close()
        raise
    return segmenter


def check_model_classes(segmenter: Segmenter) -> None:
    """Raise :class:`ArtifactError` unless the model's logits have one channel per class of its class set
    (the metric runs over the model's classes minus its ignore label, CamVid's by default)."""
    classes = tuple(segmenter.classes)
    out = segmenter.adapter.output_spec
    channels = int(out.shape[segmenter.class_axis]) if len(out.shape) == 4 else len(classes)  # class map: the manifest's
    if channels != len(classes):
        raise ArtifactError(f"{segmenter.adapter.path} predicts {channels} channels but names {len(classes)} classes "
                            f"{list(classes)}; its manifest or weights card does not describe it")


def _model_info(segmenter: Segmenter) -> Dict[str, Any]:
    """What the model is: target and weights description from an export manifest, or the weights' meta."""
    adapter = segmenter.adapter
    if adapter.backend == KERAS_BACKEND:
        meta = {k: v for k, v in adapter.meta.items() if k != "per_class_iou"}
        return {"kind": "weights", "weights": meta}
    manifest = segmenter.artifact.manifest if segmenter.artifact is not None else None
    if not manifest:
        return {"kind": Path(adapter.path).suffix.lstrip(".")}
    return {"kind": "export", "target": manifest.get("target"), "weights": manifest.get("weights", {})}


def evaluate(cfg: EvalConfig, segmenter: Optional[Segmenter] = None, stream: Optional[TextIO] = None) -> EvalResult:
    """Evaluate ``cfg.model`` (or an already opened ``segmenter``) on ``cfg.split``; write the JSON and PNG.

    The data directory and split are checked before the model is loaded. A segmenter opened here is
    closed at the end; one passed in is left open. ``stream`` takes the progress bar (default stderr).
    """
    if cfg.json_path is not None:  # output paths before the work, not after it
        check_output_file(cfg.json_path, "--json")
    check_output_file(confusion_png_path(cfg), "--confusion")
    if cfg.height is not None:
        check_size(cfg.height, cfg.width, "evaluation")
    data_dir = camvid.resolve_data_dir(cfg.data_dir)
    pairs = camvid.list_split(data_dir, cfg.split)
    if cfg.limit is not None:
        pairs = pairs[: cfg.limit]
    owned = segmenter is None
    if segmenter is None:
        segmenter = open_segmenter(cfg)
    else:
        check_model_classes(segmenter)
    start = time.perf_counter()
    try:
        progress = ProgressBar(len(pairs), f"eval {cfg.split}", stream=stream, enabled=cfg.progress)
        acc, sizes, infer_ms = evaluate_pairs(segmenter, pairs, progress)
        progress.close()
        adapter = segmenter.adapter
        info = _model_info(segmenter)
        backend, device, precision = adapter.backend, adapter.device, adapter.precision
    finally:
        if owned:
            segmenter.adapter.close()
    seconds = time.perf_counter() - start
    s = acc.scores()
    gt = acc.cm.sum(axis=1) + acc.misses
    with np.errstate(invalid="ignore", divide="ignore"):
        class_acc = np.where(gt > 0, np.diag(acc.cm) / gt, np.nan)
    result = EvalResult(
        model=str(cfg.model), split=cfg.split, n_images=len(pairs), miou=s["miou"],
        per_class_iou=dict(s["per_class_iou"]), pixel_accuracy=s["pixel_accuracy"],
        mean_class_accuracy=s["mean_class_accuracy"],
        per_class_accuracy={n: float(v) for n, v in zip(acc.class_names, class_acc)},
        confusion=acc.cm.copy(), misses=acc.misses.copy(), backend=backend, device=device, precision=precision,
        model_size=segmenter.model_size, label_sizes=tuple(sizes), data_dir=str(data_dir),
        mean_infer_ms=infer_ms, seconds=seconds, model_info=info, metric_classes=tuple(acc.class_names),
    )
    png = confusion_png_path(cfg)
    title = (f"{model_name(cfg.model)} on {cfg.split} ({len(pairs)} images), {result.backend} {result.device} "
             f"{result.precision}: mIoU {100 * result.miou:.1f}%")
    written = plot_confusion(result.confusion, result.misses, png, title=title, classes=result.metric_classes)
    result = dataclasses.replace(result, confusion_png=str(written) if written else None)
    if cfg.json_path is not None:
        result = dataclasses.replace(result, json_path=str(cfg.json_path))
        try:
            write_json(result, cfg.json_path)
        except BaseException:
            if written:  # both reports or neither
                Path(written).unlink(missing_ok=True)
            raise
    return result
