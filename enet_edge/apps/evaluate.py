"""``enet-edge eval``: mIoU and friends of any model form on a CamVid split, through the device runner.

MODEL is an export directory (manifest and sha256 verified), an OpenVINO IR ``.xml``, an ``.onnx``, a
frozen ``.pb`` or trained weights ``.npz``. Every form runs through
:class:`~enet_edge.runtime.Segmenter`, the runner a device uses: a frame (H0, W0, 3) uint8 BGR is
resized to the model's input size, inferred by an :class:`~enet_edge.runtime.InferenceAdapter`, and
its class map is resized back with nearest-neighbour to the frame (= label) size. The confusion
matrix is always accumulated at the label resolution, void (label 11) ignored, so the number printed
for an export is the exported model's number.

This module imports without TensorFlow (a device user evaluates IRs); only ``.npz`` weights import
it, in :class:`~enet_edge.model.keras_adapter.KerasWeightsAdapter`. The confusion-matrix PNG needs matplotlib.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional, Sequence, TextIO, Tuple

import numpy as np

from enet_edge import camvid
from enet_edge.class_sets import CAMVID
from enet_edge.errors import ArtifactError, ConfigError
from enet_edge.fileio import atomic_write_bytes, atomic_write_text, check_output_file
from enet_edge.limits import check_size
from enet_edge.metrics import evaluate_pairs
from enet_edge.progress import ProgressBar
from enet_edge.runtime import BACKENDS, KERAS_BACKEND, Segmenter, open_adapter
from enet_edge.runtime.backends import backend, find_backend
from enet_edge.runtime.manifest import resolve_artifact
from enet_edge.runtime.precision import PRECISIONS, device_precision, normalize_precision, require_exact

EVAL_BACKENDS = BACKENDS
DEFAULT_OUT_DIR = Path("build") / "eval"
METRIC_CLASSES = CAMVID.metric_names
"""CamVid's 11 classes the metric is computed over (void excluded): the default where a model records
no class set; a model's own classes (minus its ignore label) otherwise."""


@dataclass(frozen=True)
class EvalConfig:
    """What to evaluate, on which data, and where the reports go.

    Attributes:
        model: export directory, ``.xml``, ``.onnx``, ``.pb`` or ``.npz`` weights.
        split: a split folder of the data directory (``<split>/`` with ``<split>annot/`` beside it).
        data_dir: CamVid root; None: ``$ENET_EDGE_CAMVID``, then ``../shared/camvid``.
        json_path: write the metrics JSON here (None: no JSON).
        confusion_path: confusion-matrix PNG; None: ``<json stem>_confusion.png`` next to the JSON,
            else ``build/eval/<model name>_<split>_confusion.png``.
        limit: evaluate only the first ``limit`` frames (sorted by name) of the split.
        backend: openvino, onnxruntime, tensorflow (a directory or file) or keras (``.npz``);
            None: by file type (directories: OpenVINO IR first).
        device: inference device, e.g. CPU, MYRIAD, GPU (OpenVINO names; CPU or GPU for ``.npz``).
        height, width: model input size for ``.npz`` weights only (exports have a fixed size);
            None: the size stored with the weights.
        precision: the arithmetic asked for, read back and required (never another in its place):
            ``f32`` (the model's exact number), ``f16`` or ``bf16``; None: f32, or f16 on MYRIAD (the
            stick computes in FP16 only). ``.npz`` weights: f32, or f16 = FP16 weights and activations
            (Keras float16 policy, the NCS2's arithmetic emulated). OpenVINO runs f16/bf16 only where
            the device has that arithmetic; ONNX Runtime and TensorFlow graphs run f32 only.
        progress: draw a progress bar on stderr.
    """

    model: Path
    split: str = "val"
    data_dir: Optional[Path] = None
    json_path: Optional[Path] = None
    confusion_path: Optional[Path] = None
    limit: Optional[int] = None
    backend: Optional[str] = None
    device: str = "CPU"
    height: Optional[int] = None
    width: Optional[int] = None
    precision: Optional[str] = None
    progress: bool = True

    def __post_init__(self) -> None:
        for name in ("model", "data_dir", "json_path", "confusion_path"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Path):
                if not isinstance(value, str) or not value:
                    raise ConfigError(f"{name} must be a path, got {value!r}")
                object.__setattr__(self, name, Path(value))
        if self.model is None:
            raise ConfigError("model is required: an export directory, .xml, .onnx, .pb or .npz weights")
        if not isinstance(self.split, str) or not self.split or any(c in self.split for c in "/\\"):
            raise ConfigError(f"split={self.split!r} must be the name of a split folder, e.g. val")
        if self.limit is not None and (isinstance(self.limit, bool) or not isinstance(self.limit, int) or self.limit < 1):
            raise ConfigError(f"limit={self.limit!r} must be an integer >= 1")
        if self.backend is not None and self.backend not in EVAL_BACKENDS:
            raise ConfigError(f"backend={self.backend!r} is not one of {', '.join(EVAL_BACKENDS)}")
        if not isinstance(self.device, str) or not self.device:
            raise ConfigError(f"device={self.device!r} must be a device name such as CPU or MYRIAD")
        own = find_backend(self.model)  # the backend of this file type (None: a directory)
        is_weights = own is not None and own.name == KERAS_BACKEND
        if is_weights and self.backend not in (None, KERAS_BACKEND):
            raise ConfigError(f"{self.model} is a weights file: it runs with the keras backend, not {self.backend}")
        if not is_weights and self.backend == KERAS_BACKEND:
            raise ConfigError(f"the keras backend runs .npz weights, not {self.model}")
        precision = normalize_precision(self.precision) or device_precision(self.device) or "f32"
        object.__setattr__(self, "precision", precision)
        runs = backend(self.backend) if self.backend else own
        if runs is not None and precision not in runs.precisions:
            if is_weights:
                raise ConfigError(f"precision {precision}: .npz weights run in {' or '.join(runs.precisions)} "
                                  f"(Keras float16 policy)")
            raise ConfigError(f"precision {precision}: the {runs.name} backend runs {' or '.join(runs.precisions)} "
                              f"only; evaluate the IR (or --backend openvino) for {precision}")
        if (self.height is None) != (self.width is None):
            raise ConfigError("give both height and width, or neither")
        if self.height is not None:
            if not is_weights:
                raise ConfigError(f"{self.model} has a fixed input size; height/width apply to .npz weights only "
                                  "(re-export with --height/--width for another size)")
            for name in ("height", "width"):
                value = getattr(self, name)
                if isinstance(value, bool) or not isinstance(value, int) or value < 8 or value % 8:
                    raise ConfigError(f"{name}={value!r} must be a positive multiple of 8")


@dataclass(frozen=True)
class EvalResult:
    """Metrics of one evaluation. Fractions in 0..1; NaN for a class absent from labels and predictions.

    Attributes:
        confusion: (11, 11) int64, rows = ground truth, columns = prediction, void rows left out.
        misses: (11,) int64, pixels of each class predicted as void (or any id outside 0..10).
        model_size: (height, width) the model ran at; label_sizes: distinct (height, width) of the labels.
    """

    model: str
    split: str
    n_images: int
    miou: float
    per_class_iou: Dict[str, float]
    pixel_accuracy: float
    mean_class_accuracy: float
    per_class_accuracy: Dict[str, float]
    confusion: np.ndarray
    misses: np.ndarray
    backend: str
    device: str
    precision: str
    model_size: Tuple[int, int]
    label_sizes: Tuple[Tuple[int, int], ...]
    data_dir: str
    mean_infer_ms: float
    seconds: float
    model_info: Dict[str, Any] = field(default_factory=dict)
    json_path: Optional[str] = None
    confusion_png: Optional[str] = None
    metric_classes: Tuple[str, ...] = METRIC_CLASSES  # the model's classes minus its ignore label

    def to_json(self) -> Dict[str, Any]:
        """A JSON-ready dict (NaN -> null): the headline metrics first, then details."""
        return _nan_to_none({
            "model": self.model,
            "split": self.split,
            "n_images": self.n_images,
            "miou": self.miou,
            "per_class_iou": dict(self.per_class_iou),
            "pixel_accuracy": self.pixel_accuracy,
            "mean_class_accuracy": self.mean_class_accuracy,
            "per_class_accuracy": dict(self.per_class_accuracy),
            "classes": list(self.metric_classes),
            "confusion_matrix": self.confusion.tolist(),
            "predicted_void": self.misses.tolist(),
            "backend": self.backend,
            "device": self.device,
            "precision": self.precision,
            "model_size": list(self.model_size),
            "label_sizes": [list(s) for s in self.label_sizes],
            "data_dir": self.data_dir,
            "mean_infer_ms": self.mean_infer_ms,
            "seconds": self.seconds,
            "model_info": self.model_info,
            "confusion_png": self.confusion_png,
        })


def _nan_to_none(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _nan_to_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_nan_to_none(v) for v in value]
    return value


# --------------------------------------------------------------------------------------------
# Opening a model, running a split
# --------------------------------------------------------------------------------------------


def model_name(path: Path) -> str:
    """Short name for report files: a directory's name; a file's ``<folder>_<stem>`` (``build/ncs2/enet.xml`` -> ``ncs2_enet``)."""
    path = Path(path)
    if path.is_dir() or not path.suffix:
        return path.resolve().name or "model"
    parent = path.resolve().parent.name
    return f"{parent}_{path.stem}" if parent else path.stem


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
    channels = int(out.shape[-1]) if len(out.shape) == 4 else len(classes)  # a class-map output: the manifest's
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


def confusion_png_path(cfg: EvalConfig) -> Path:
    """``--confusion``, else ``<json stem>_confusion.png`` beside the JSON, else ``build/eval/<model>_<split>_confusion.png``."""
    if cfg.confusion_path is not None:
        return cfg.confusion_path
    if cfg.json_path is not None:
        return cfg.json_path.with_name(f"{cfg.json_path.stem}_confusion.png")
    return DEFAULT_OUT_DIR / f"{model_name(cfg.model)}_{cfg.split}_confusion.png"


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


def write_json(result: EvalResult, path: Path) -> Path:
    """Write ``result.to_json()`` to ``path`` (strict JSON: NaN as null); creates the folder."""
    return atomic_write_text(path, json.dumps(result.to_json(), indent=2, allow_nan=False) + "\n", "--json")


# --------------------------------------------------------------------------------------------
# Reports
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Command line (the only place argparse is seen)
# --------------------------------------------------------------------------------------------


def add_cli(sub) -> None:
    """Register ``enet-edge eval`` on an argparse subparsers object."""
    p = sub.add_parser("eval", help="mIoU of weights/.pb/.onnx/IR/export dir on a CamVid split, through the device runner")
    p.add_argument("model", help="export directory, .xml, .onnx, .pb, or .npz weights")
    p.add_argument("--split", default="val", help="a split folder of the data directory (default: val)")
    p.add_argument("--data-dir", help="CamVid root (default: $ENET_EDGE_CAMVID, then ../shared/camvid)")
    p.add_argument("--json", dest="json_path", metavar="PATH", help="write the metrics as JSON here")
    p.add_argument("--confusion", metavar="PATH",
                   help="confusion-matrix PNG (default: <json stem>_confusion.png, else build/eval/<model>_<split>_confusion.png)")
    p.add_argument("--limit", type=int, metavar="N", help="only the first N frames of the split")
    p.add_argument("--backend", choices=EVAL_BACKENDS, help="default: by file type (directories: OpenVINO IR first)")
    p.add_argument("--device", default="CPU", help="inference device: CPU, MYRIAD, GPU, AUTO ... (default: CPU)")
    p.add_argument("--size", type=int, nargs=2, metavar=("H", "W"), help=".npz weights only: input size (default: the weights')")
    p.add_argument("--precision", choices=PRECISIONS,
                   help="arithmetic to measure, required to run as asked (default f32, the model's exact number; "
                        "f16 on MYRIAD); .npz weights: f16 = FP16 weights and activations (Keras float16)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run_cli)


def run_cli(args) -> int:
    """``enet-edge eval``: argparse namespace -> :class:`EvalConfig` -> :func:`evaluate`; prints the table."""
    cfg = EvalConfig(
        model=args.model, split=args.split, data_dir=args.data_dir, json_path=args.json_path,
        confusion_path=args.confusion, limit=args.limit, backend=args.backend, device=args.device,
        height=args.size[0] if args.size else None, width=args.size[1] if args.size else None,
        precision=args.precision, progress=not args.no_progress,
    )
    print(format_result(evaluate(cfg)))
    return 0
