"""An evaluation's outputs: the JSON document, the row-normalized confusion matrix and its PNG, the printed table."""

from __future__ import annotations

import io
import json
import math
import sys
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from enet_edge.device.evaluate.config import EvalResult, METRIC_CLASSES
from enet_edge.fileio import atomic_write_bytes, atomic_write_text


def write_json(result: EvalResult, path: Path) -> Path:
    """Write ``result.to_json()`` to ``path`` (strict JSON: NaN as null); creates the folder."""
    return atomic_write_text(path, json.dumps(result.to_json(), indent=2, allow_nan=False) + "\n", "--json")


def row_normalize(cm: np.ndarray, misses: Optional[np.ndarray] = None) -> np.ndarray:
    """(K, K) counts (+ (K,) predicted-void misses) -> (K, K+1) float64 rows summing to 1.

    Row c: how the ground-truth pixels of class c were predicted; the last column is "predicted
    void". Rows without ground truth are all zero.
    """
    cm = np.asarray(cm, np.float64)
    misses = np.zeros(cm.shape[0]) if misses is None else np.asarray(misses, np.float64)
    full = np.concatenate([cm, misses[:, None]], axis=1)
    totals = full.sum(axis=1, keepdims=True)
    return np.divide(full, totals, out=np.zeros_like(full), where=totals > 0)


def plot_confusion(cm: np.ndarray, misses: Optional[np.ndarray], path: Path, title: str = "",
                   classes: Sequence[str] = METRIC_CLASSES) -> Optional[Path]:
    """Row-normalized confusion matrix as a PNG (rows: ground truth, columns: prediction, in %).

    Returns the path, or None (with a note on stderr) where matplotlib is not installed.
    """
    try:
        import matplotlib
    except ImportError:
        print(f"note: matplotlib is not installed; no confusion-matrix PNG ({path})", file=sys.stderr)
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    percent = 100 * row_normalize(cm, misses)  # cells and colour bar in the same unit
    k = percent.shape[0]
    fig, ax = plt.subplots(figsize=(9.5, 8))
    image = ax.imshow(percent, cmap="Blues", vmin=0.0, vmax=100.0)
    for r in range(k):
        for c in range(k + 1):
            if percent[r, c] >= 0.5:
                ax.text(c, r, f"{percent[r, c]:.0f}", ha="center", va="center", fontsize=7,
                        color="white" if percent[r, c] > 50 else "black")
    ax.set_xticks(range(k + 1))
    ax.set_xticklabels(list(classes) + ["(void)"], rotation=45, ha="right")
    ax.set_yticks(range(k))
    ax.set_yticklabels(list(classes))
    ax.set_xlabel("predicted")
    ax.set_ylabel("ground truth")
    ax.set_title(title or "confusion matrix (row-normalized, %)", fontsize=10)
    fig.colorbar(image, ax=ax, fraction=0.04, label="% of the row's ground-truth pixels")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return atomic_write_bytes(path, buffer.getvalue(), "--confusion")


def format_result(result: EvalResult) -> str:
    """A human-readable table (percentages) of ``result``."""
    h, w = result.model_size
    sizes = ", ".join(f"{lh}x{lw}" for lh, lw in result.label_sizes)
    lines = [
        f"model  {result.model} ({result.backend} on {result.device}"
        f"{', ' + result.precision if result.precision else ''}, input {h}x{w})",
        f"split  {result.split}: {result.n_images} images, labels {sizes}; {result.seconds:.1f} s, "
        f"{result.mean_infer_ms:.1f} ms/inference",
    ]
    weights = result.model_info.get("weights") or {}
    if result.model_info.get("kind") == "export" and not weights.get("trained", True):
        lines.append("  !!! UNTRAINED export (random weights): these numbers are meaningless !!!")
    if weights.get("val_trained_on") and result.split == "val":
        lines.append("  note: these weights were trained on val too: a parity check, not a held-out score")
    lines.append(f"{'class':<12} {'IoU %':>7} {'acc %':>7}")
    for name in result.metric_classes:
        lines.append(f"{name:<12} {_pct(result.per_class_iou[name]):>7} {_pct(result.per_class_accuracy[name]):>7}")
    lines += [
        f"{f'mIoU ({len(result.metric_classes)} classes)':<24} {_pct(result.miou):>7}",
        f"{'global pixel accuracy':<24} {_pct(result.pixel_accuracy):>7}",
        f"{'mean class accuracy':<24} {_pct(result.mean_class_accuracy):>7}",
    ]
    if result.confusion_png:
        lines.append(f"confusion matrix: {result.confusion_png}")
    if result.json_path:
        lines.append(f"json: {result.json_path}")
    return "\n".join(lines)


def _pct(value: float) -> str:
    return "n/a" if not math.isfinite(value) else f"{100 * value:.2f}"
