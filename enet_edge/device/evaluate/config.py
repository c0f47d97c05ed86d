"""What ``enet-edge eval`` measures and returns: :class:`EvalConfig` (checked in ``__post_init__``) and
:class:`EvalResult`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import numpy as np

from enet_edge.class_sets import CAMVID
from enet_edge.errors import ConfigError, DeviceError
from enet_edge.runtime import BACKENDS, KERAS_BACKEND
from enet_edge.runtime.backends import backend, find_backend
from enet_edge.runtime.precision import device_precision, normalize_precision


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
        if runs is not None:
            try:  # the table's check and message, before any data is read
                runs.check_precision(precision)
            except DeviceError as exc:
                raise ConfigError(f"precision {precision}: {exc}") from None
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


def model_name(path: Path) -> str:
    """Short name for report files: a directory's name; a file's ``<folder>_<stem>`` (``build/ncs2/enet.xml`` -> ``ncs2_enet``)."""
    path = Path(path)
    if path.is_dir() or not path.suffix:
        return path.resolve().name or "model"
    parent = path.resolve().parent.name
    return f"{parent}_{path.stem}" if parent else path.stem


def confusion_png_path(cfg: EvalConfig) -> Path:
    """``--confusion``, else ``<json stem>_confusion.png`` beside the JSON, else ``build/eval/<model>_<split>_confusion.png``."""
    if cfg.confusion_path is not None:
        return cfg.confusion_path
    if cfg.json_path is not None:
        return cfg.json_path.with_name(f"{cfg.json_path.stem}_confusion.png")
    return DEFAULT_OUT_DIR / f"{model_name(cfg.model)}_{cfg.split}_confusion.png"
