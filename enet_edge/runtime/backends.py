"""The inference backends in one table: what each reads, which artifact it runs, where, in which precision.

Every other module asks this table (``open_adapter``, the manifest resolver, export parity, ``check``,
bench, eval, demo) instead of writing its own suffix or kind map. The table imports nothing heavy:
each row names its adapter class as a dotted path (``"module:Class"``) imported with :mod:`importlib`
only when a model is opened, so reading it needs neither a framework nor TensorFlow.

Artifact kinds are the keys of an export manifest's ``artifacts`` (and :attr:`Artifact.kind`): each
backend owns one kind, with one file name in an export directory (``enet.xml``, ``enet.onnx``,
``enet_frozen.pb``); the keras backend owns ``weights`` (trained ``.npz`` files, not part of an export). A backend
may own none and run other backends' kinds only (opencv runs the ``onnx`` of onnxruntime): it is never the default
of a file type and is chosen by name (``--backend opencv``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

from enet_edge.errors import ArtifactError, ConfigError, DeviceError
from enet_edge.runtime.precision import PRECISIONS, normalize_precision

HINTS: Tuple[str, ...] = ("LATENCY", "THROUGHPUT", "CUMULATIVE_THROUGHPUT")
"""OpenVINO PERFORMANCE_HINT values a run may ask for."""


@dataclass(frozen=True)
class RunRequest:
    """What a caller asks of a run, whatever the backend; :func:`adapter_options` keeps what the backend takes.

    ``precision``: f32 | f16 | bf16 (aliases normalized); None: the backend's (or device's) default.
    ``nireq``: inference requests in flight (0: the compiled model's optimal number). ``hint``: a
    PERFORMANCE_HINT (:data:`HINTS`, any case) or None. ``perf_counters``: per-layer profiling.
    ``threads``: inference threads (None: the backend's default). ``streams``: NUM_STREAMS, AUTO or a
    positive integer as text (None: the device's default).
    """

    precision: Optional[str] = None
    nireq: int = 1
    hint: Optional[str] = None
    perf_counters: bool = False
    threads: Optional[int] = None
    streams: Optional[str] = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "precision", normalize_precision(self.precision))
        if isinstance(self.nireq, bool) or not isinstance(self.nireq, int) or self.nireq < 0:
            raise ConfigError(f"nireq={self.nireq!r} must be an integer >= 0 (0: the device's optimal number)")
        if self.hint is not None:
            object.__setattr__(self, "hint", str(self.hint).upper())
            if self.hint not in HINTS:
                raise ConfigError(f"hint={self.hint!r} must be one of {', '.join(HINTS)} or none")
        if self.threads is not None and (isinstance(self.threads, bool) or not isinstance(self.threads, int)
                                         or self.threads < 1):
            raise ConfigError(f"threads={self.threads!r} must be an integer >= 1")
        if self.streams is not None:
            object.__setattr__(self, "streams", str(self.streams).upper())
            if self.streams != "AUTO" and not (self.streams.isdigit() and int(self.streams) >= 1):
                raise ConfigError(f"streams={self.streams!r} must be AUTO or a positive integer")


@dataclass(frozen=True)
class Backend:
    """One row of :data:`TABLE`.

    Attributes:
        name: the backend's name (``--backend``, bench entries, reports).
        suffixes: model file types it reads; the first is its own where it owns a kind: :func:`backend_for`
            picks this backend for it (``.onnx`` -> onnxruntime, though openvino and opencv read it too).
        kind: the artifact kind it owns (``weights`` for keras); None: it owns none, runs :attr:`also_runs` only,
            and is never a file type's default.
        artifact_file: that kind's file name in an export directory; None: not an export artifact.
        also_runs: other artifact kinds it runs, searched after its own in an export directory.
        devices: device names it runs on; None: any (OpenVINO's names, checked against the machine).
        precisions: the precisions one may ask for.
        default_precision: what runs when none is asked; None: the device's default.
        needs_tensorflow: opening a model imports TensorFlow.
        factory: the adapter class, ``"module:Class"``, imported only by :meth:`load`; called as
            ``Class(path, device, precision=..., **options)`` with file, device and precision checked.
        reads: how messages name the files it reads.
        sidecar: (suffix, companion suffix) that must lie beside the model file (.xml -> .bin).
        options: the keyword options its adapter takes besides ``precision``; those named like a
            :class:`RunRequest` field are filled by :func:`adapter_options` (``nireq``: it has an async queue).
        note: what the docs' backend tables say beside it (limits of devices and precisions), "" for none.
    """

    name: str
    suffixes: Tuple[str, ...]
    kind: Optional[str]
    artifact_file: Optional[str]
    factory: str
    reads: str
    also_runs: Tuple[str, ...] = ()
    devices: Optional[Tuple[str, ...]] = ("CPU",)
    precisions: Tuple[str, ...] = ("f32",)
    default_precision: Optional[str] = "f32"
    needs_tensorflow: bool = False
    sidecar: Optional[Tuple[str, str]] = None
    options: Tuple[str, ...] = ()
    device_message: str = "the {name} backend runs on CPU only here, not {device}"
    precision_message: str = "the {name} backend runs f32 only, not {precision}; use the OpenVINO IR for {precision}"
    note: str = ""

    @property
    def kinds(self) -> Tuple[str, ...]:
        """Artifact kinds it runs, in the order an export directory is searched."""
        return ((self.kind,) if self.kind else ()) + self.also_runs

    @property
    def async_queue(self) -> bool:
        """It keeps several inference requests in flight (takes ``nireq``); others run one frame at a time."""
        return "nireq" in self.options

    def runs_on(self, device: str) -> bool:
        """Whether it may run on ``device`` (a backend of any device: checked against the machine when opened)."""
        return self.devices is None or device.upper() in self.devices

    def reads_file(self, path) -> bool:
        """Whether it reads ``path``, by suffix."""
        return Path(path).suffix.lower() in self.suffixes

    def load(self):
        """The adapter class (imports its module, never its framework: adapters import that when opened)."""
        module, _, attr = self.factory.partition(":")
        return getattr(importlib.import_module(module), attr)

    def check_file(self, path) -> Path:
        """Raise :class:`ArtifactError` unless this backend reads ``path`` (suffix, and sidecar file)."""
        path = Path(path)
        if not self.reads_file(path):
            raise ArtifactError(f"the {self.name} backend reads {self.reads}, not {path.name}")
        if self.sidecar and path.suffix.lower() == self.sidecar[0] and not path.with_suffix(self.sidecar[1]).is_file():
            raise ArtifactError(f"{path.with_suffix(self.sidecar[1])} is missing next to {path.name}: the model is "
                                f"both files; copy both or re-export")
        return path

    def check_precision(self, precision: Optional[str]) -> Optional[str]:
        """``precision`` normalized (None: :attr:`default_precision`); :class:`DeviceError` where it cannot run."""
        asked = normalize_precision(precision)
        if asked is not None and asked not in self.precisions:
            raise DeviceError(self.precision_message.format(name=self.name, precision=asked))
        return asked or self.default_precision

    def check_device(self, device: str) -> str:
        """``device`` as this backend names it; :class:`DeviceError` where it does not run there."""
        if self.devices is None:
            return device
        if not self.runs_on(device):
            raise DeviceError(self.device_message.format(name=self.name, device=device))
        return device.upper()


OPENVINO_BACKEND = "openvino"
"""OpenVINO: IRs and ONNX files on any OpenVINO device (what measures MACs and compiles for MYRIAD reads)."""
LITERT_BACKEND = "litert"
"""LiteRT (TensorFlow Lite) with XNNPACK: the .tflite peers ``make bench`` measures (not an export artifact)."""
OPENCV_BACKEND = "opencv"
"""OpenCV's own DNN (``cv2.dnn``) on an .onnx: CPU, or MYRIAD through a cv2 built with OpenVINO."""
KERAS_BACKEND = "keras"
"""Trained ``.npz`` weights built into the Keras model (needs TensorFlow)."""
WEIGHTS_KIND = "weights"
"""The keras backend's artifact kind: a trained weights file (its classes in its meta), not an export artifact."""

TABLE: Tuple[Backend, ...] = (
    Backend(OPENVINO_BACKEND, (".xml", ".onnx"), "openvino_ir", "enet.xml",
            "enet_edge.runtime.adapters.openvino:OpenVINOAdapter", ".xml or .onnx", also_runs=("onnx",),
            devices=None, precisions=PRECISIONS, default_precision=None, sidecar=(".xml", ".bin"),
            options=("nireq", "hint", "perf_counters", "threads", "streams", "config")),
    Backend("onnxruntime", (".onnx",), "onnx", "enet.onnx",
            "enet_edge.runtime.adapters.onnxruntime:OnnxRuntimeAdapter", ".onnx", options=("threads",)),
    Backend("tensorflow", (".pb",), "tensorflow", "enet_frozen.pb",
            "enet_edge.runtime.adapters.tensorflow:TensorFlowAdapter", "a frozen .pb", needs_tensorflow=True,
            options=("input_name", "output_name")),
    Backend(LITERT_BACKEND, (".tflite",), "tflite", None, "enet_edge.runtime.adapters.litert:LiteRTAdapter",
            "a .tflite", options=("threads",)),
    Backend(OPENCV_BACKEND, (".onnx",), None, None, "enet_edge.runtime.adapters.opencv_dnn:OpenCVDNNAdapter",
            ".onnx", also_runs=("onnx",), devices=("CPU", "MYRIAD"), precisions=("f32", "f16"),
            default_precision=None,
            device_message="the {name} backend (OpenCV DNN) runs on CPU or MYRIAD (a cv2 built with OpenVINO), "
                           "not {device}",
            precision_message="the {name} backend (OpenCV DNN) computes in f32 or f16, not {precision}",
            note="OpenCV's own DNN (OpenCV >= 4.8), asked by name (`.onnx` runs onnxruntime by default); f16 only "
                 "where cv2 lists `DNN_TARGET_CPU_FP16`, MYRIAD only in a cv2 built with OpenVINO (pip's is not)"),
    Backend(KERAS_BACKEND, (".npz",), WEIGHTS_KIND, None,
            "enet_edge.model.keras_adapter:KerasWeightsAdapter", "trained .npz weights",
            devices=("CPU", "GPU"), precisions=("f32", "f16"), needs_tensorflow=True, options=("height", "width"),
            device_message="the {name} backend (.npz weights) runs on CPU or GPU, not {device}",
            precision_message="the {name} backend computes in f32 or f16 (float16 policy), not {precision}"),
)
"""Every backend, in the order an export directory is searched (OpenVINO IR first)."""

BACKENDS: Tuple[str, ...] = tuple(row.name for row in TABLE)
KINDS: Tuple[str, ...] = tuple(row.kind for row in TABLE if row.kind)
"""Artifact kinds in the order an export directory is searched."""
ARTIFACT_FILES: Dict[str, str] = {row.kind: row.artifact_file for row in TABLE if row.artifact_file}
"""Export artifact kind -> its file name in an export directory."""

_BY_NAME = {row.name: row for row in TABLE}
_BY_KIND = {row.kind: row for row in TABLE if row.kind}
_BY_SUFFIX = {row.suffixes[0]: row for row in TABLE if row.kind}  # a row owning no kind is no file type's default


def backend(name: str) -> Backend:
    """The row of backend ``name``; :class:`DeviceError` naming the backends otherwise."""
    row = _BY_NAME.get(name)
    if row is None:
        raise DeviceError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    return row


def find_backend(path) -> Optional[Backend]:
    """The backend that reads ``path`` by default (by suffix), or None."""
    return _BY_SUFFIX.get(Path(path).suffix.lower())


def model_types() -> str:
    """``an .xml, .onnx, .pb or .npz file``: the model files messages ask for."""
    suffixes = list(_BY_SUFFIX)
    return f"an {', '.join(suffixes[:-1])} or {suffixes[-1]} file"


def backend_for(path) -> Backend:
    """The backend that reads ``path`` by default (by suffix); :class:`ArtifactError` listing the suffixes otherwise."""
    row = find_backend(path)
    if row is None:
        path = Path(path)
        raise ArtifactError(f"{path}: unknown model type '{path.suffix}'; give {model_types()}")
    return row


def kind_backend(kind: str) -> Backend:
    """The backend that owns artifact kind ``kind`` (openvino_ir -> openvino, onnx -> onnxruntime ...)."""
    row = _BY_KIND.get(kind)
    if row is None:
        raise ArtifactError(f"unknown artifact kind {kind!r}; one of {', '.join(KINDS)}")
    return row


def artifact_file(kind: str) -> str:
    """The file name of export artifact kind ``kind`` in an export directory (``onnx`` -> ``enet.onnx``)."""
    name = kind_backend(kind).artifact_file
    if name is None:
        raise ArtifactError(f"{kind} is not an export artifact; export artifacts: {', '.join(ARTIFACT_FILES)}")
    return name


def export_kind(path) -> Optional[str]:
    """The export artifact kind of a model file, by its suffix; None for any other file."""
    row = find_backend(path)
    return row.kind if row is not None and row.artifact_file else None


_REQUEST_FIELDS = tuple(f.name for f in fields(RunRequest))


def adapter_options(name: str, request: RunRequest) -> Dict[str, Any]:
    """The options of backend ``name``'s adapter for ``request``: its ``precision`` and the request fields
    the backend takes (:attr:`Backend.options`: openvino all of them, onnxruntime ``threads``, others none);
    pass them to :func:`~enet_edge.runtime.adapters.open_adapter`."""
    row = backend(name)
    return {"precision": request.precision,
            **{key: getattr(request, key) for key in _REQUEST_FIELDS if key in row.options}}
