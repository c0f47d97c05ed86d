"""Inference backends behind one small interface (OpenVINO, ONNX Runtime, TensorFlow frozen graph).

Task logic (pre/post-processing, benchmark, demo, evaluation) talks to :class:`InferenceAdapter`
only and never imports a concrete backend. Backends import their framework lazily, so this module
imports with numpy alone; OpenVINO is used through calls that exist in 2022.3 and in the current
release (``openvino.runtime.Core`` where the top-level ``openvino.Core`` is missing).

Tensors are NHWC. An adapter's :attr:`input_spec` says what it takes: the OpenVINO IR exported by
enet-edge takes uint8 BGR (1,H,W,3); ONNX and frozen graphs take float32 BGR 0..255 (1,H,W,3).
Every adapter returns logits (1,H,W,K) float32 NHWC.
"""

from __future__ import annotations

import abc
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..errors import ArtifactError, DeviceError, InputError

BACKENDS = ("openvino", "onnxruntime", "tensorflow")


@dataclass(frozen=True)
class TensorSpec:
    """Name, static shape, numpy dtype name and layout of a model input or output."""

    name: str
    shape: Tuple[int, ...]
    dtype: str
    layout: str = "NHWC"

    @property
    def height(self) -> int:
        return int(self.shape[1])

    @property
    def width(self) -> int:
        return int(self.shape[2])


@dataclass(frozen=True)
class LayerCounter:
    """One row of OpenVINO's per-layer profiling counters (times in microseconds)."""

    name: str
    node_type: str
    exec_type: str
    status: str
    real_time_us: float
    cpu_time_us: float


class InferenceAdapter(abc.ABC):
    """One loaded model on one device. Subclasses set the attributes in ``__init__``."""

    backend: str = ""
    device: str = ""
    precision: str = ""  # what actually runs: "f32", "f16", "u8/f32" ...
    path: str = ""
    input_spec: TensorSpec
    output_spec: TensorSpec
    load_ms: float = 0.0  # read + compile, milliseconds

    def check_input(self, tensor: np.ndarray) -> np.ndarray:
        """Validate shape and dtype against :attr:`input_spec`; returns a C-contiguous array."""
        spec = self.input_spec
        if not isinstance(tensor, np.ndarray):
            raise InputError(f"input must be a numpy array, got {type(tensor).__name__}")
        if tuple(tensor.shape) != tuple(spec.shape):
            raise InputError(f"input shape {tuple(tensor.shape)} does not match the model's {tuple(spec.shape)} "
                             f"({spec.layout}); resize frames to {spec.width}x{spec.height}")
        if tensor.dtype != np.dtype(spec.dtype):
            raise InputError(f"input dtype {tensor.dtype} does not match the model's {spec.dtype}")
        return np.ascontiguousarray(tensor)

    @abc.abstractmethod
    def infer(self, tensor: np.ndarray) -> np.ndarray:
        """Synchronous inference: ``tensor`` per :attr:`input_spec` -> logits (1,H,W,K) float32."""

    def start_async(self, tensor: np.ndarray, userdata: Any, callback: Callable[[np.ndarray, Any], None]) -> None:
        """Start an inference; ``callback(logits, userdata)`` runs when it ends. Default: synchronous."""
        callback(self.infer(tensor), userdata)

    def wait_all(self) -> None:
        """Block until every started inference has called back."""

    @property
    def num_requests(self) -> int:
        return 1

    def per_layer_counters(self) -> List[LayerCounter]:
        """Per-layer counters of the last inference (OpenVINO with PERF_COUNT only; else empty)."""
        return []

    def close(self) -> None:
        """Release the device (MYRIAD: two processes cannot share one stick)."""


# --------------------------------------------------------------------------------------------
# OpenVINO
# --------------------------------------------------------------------------------------------


def import_openvino():
    """The OpenVINO module exposing ``Core`` (top level in 2023.1+, ``openvino.runtime`` in 2022.3)."""
    try:
        import openvino as ov
    except ImportError as exc:
        raise DeviceError("OpenVINO is not installed: pip install openvino") from exc
    if hasattr(ov, "Core"):
        return ov
    from openvino import runtime  # 2022.3 API 2.0

    return runtime


def openvino_devices() -> List[str]:
    return list(import_openvino().Core().available_devices)


_OV_TYPES = {"u8": "uint8", "f32": "float32", "f16": "float16", "i32": "int32", "i64": "int64", "boolean": "bool"}


def _ov_spec(port) -> TensorSpec:
    names = port.get_names()
    name = sorted(names)[0] if names else port.get_any_name()
    type_name = port.get_element_type().get_type_name()
    shape = tuple(int(d) for d in port.get_shape())
    return TensorSpec(name, shape, _OV_TYPES.get(type_name, type_name))


class OpenVINOAdapter(InferenceAdapter):
    """An IR (.xml) or ONNX file compiled by OpenVINO for ``device`` (CPU, GPU, NPU, MYRIAD, AUTO, HETERO:...)."""

    backend = "openvino"

    def __init__(self, path, device: str = "CPU", config: Optional[Dict[str, str]] = None, nireq: int = 1,
                 perf_counters: bool = False):
        ov = import_openvino()
        path = Path(path)
        core = ov.Core()
        self._check_device(core, device)
        config = dict(config or {})
        if perf_counters:
            config["PERF_COUNT"] = "YES"
        start = time.perf_counter_ns()
        try:
            model = core.read_model(str(path))
        except RuntimeError as exc:
            raise ArtifactError(f"OpenVINO cannot read {path}: {_first_line(exc)}") from exc
        try:
            self._compiled = core.compile_model(model, device, config)
        except RuntimeError as exc:
            raise DeviceError(f"OpenVINO cannot compile {path} for {device}: {_first_line(exc)}") from exc
        self.load_ms = (time.perf_counter_ns() - start) / 1e6
        self.path, self.device = str(path), device
        self.input_spec = _ov_spec(self._compiled.input(0))
        self.output_spec = _ov_spec(self._compiled.output(0))
        try:
            self.precision = str(self._compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name())
        except (RuntimeError, AttributeError, TypeError):
            self.precision = ""
        self._request = self._compiled.create_infer_request()
        self._queue = None
        self._nireq = max(1, int(nireq))
        self._callbacks: Dict[int, Tuple[Any, Callable]] = {}

    @staticmethod
    def _check_device(core, device: str) -> None:
        available = list(core.available_devices)
        wanted = device.split(":", 1)[1].split(",") if ":" in device else [device]
        for name in wanted:
            base = name.split(".")[0]
            if base in ("AUTO", "HETERO", "MULTI", "BATCH"):
                continue
            if not any(a == name or a.split(".")[0] == base for a in available):
                raise DeviceError(f"device {name} is not available; available_devices: {', '.join(available) or 'none'}")

    def infer(self, tensor: np.ndarray) -> np.ndarray:
        tensor = self.check_input(tensor)
        self._request.infer({0: tensor})
        return np.array(self._request.get_output_tensor(0).data, copy=True)

    @property
    def num_requests(self) -> int:
        return self._nireq

    def start_async(self, tensor, userdata, callback) -> None:
        ov = import_openvino()
        tensor = self.check_input(tensor)
        if self._queue is None:
            self._queue = ov.AsyncInferQueue(self._compiled, self._nireq)

            def done(request, token):
                data, cb = self._callbacks.pop(token)
                cb(np.array(request.get_output_tensor(0).data, copy=True), data)

            self._queue.set_callback(done)
        token = id(userdata) ^ time.perf_counter_ns()
        self._callbacks[token] = (userdata, callback)
        self._queue.start_async({0: tensor}, token)

    def wait_all(self) -> None:
        if self._queue is not None:
            self._queue.wait_all()

    def per_layer_counters(self) -> List[LayerCounter]:
        rows = []
        for info in self._request.get_profiling_info():
            rows.append(LayerCounter(
                info.node_name, info.node_type, info.exec_type, str(info.status).split(".")[-1],
                info.real_time.total_seconds() * 1e6, info.cpu_time.total_seconds() * 1e6))
        return rows

    def close(self) -> None:
        self.wait_all()
        self._queue = None
        self._request = None
        self._compiled = None


# --------------------------------------------------------------------------------------------
# ONNX Runtime
# --------------------------------------------------------------------------------------------


class OnnxRuntimeAdapter(InferenceAdapter):
    backend = "onnxruntime"

    def __init__(self, path, device: str = "CPU", threads: Optional[int] = None):
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise DeviceError("ONNX Runtime is not installed: pip install onnxruntime") from exc
        if device.upper() != "CPU":
            raise DeviceError(f"the onnxruntime backend runs on CPU only here, not {device}")
        path = Path(path)
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        start = time.perf_counter_ns()
        try:
            self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph/InvalidProtobuf types
            raise ArtifactError(f"ONNX Runtime cannot load {path}: {_first_line(exc)}") from exc
        self.load_ms = (time.perf_counter_ns() - start) / 1e6
        self.path, self.device, self.precision = str(path), "CPU", "f32"
        inp, out = self._session.get_inputs()[0], self._session.get_outputs()[0]
        self.input_spec = TensorSpec(inp.name, tuple(int(d) for d in inp.shape), _ort_dtype(inp.type))
        self.output_spec = TensorSpec(out.name, tuple(int(d) for d in out.shape), _ort_dtype(out.type))

    def infer(self, tensor: np.ndarray) -> np.ndarray:
        tensor = self.check_input(tensor)
        return self._session.run([self.output_spec.name], {self.input_spec.name: tensor})[0]


def _ort_dtype(type_name: str) -> str:
    return {"tensor(float)": "float32", "tensor(uint8)": "uint8", "tensor(float16)": "float16"}.get(type_name, type_name)


# --------------------------------------------------------------------------------------------
# TensorFlow frozen graph (only where TensorFlow is installed)
# --------------------------------------------------------------------------------------------


class TensorFlowAdapter(InferenceAdapter):
    backend = "tensorflow"

    def __init__(self, path, device: str = "CPU", input_name: str = "image", output_name: str = "logits"):
        try:
            import tensorflow as tf
        except ImportError as exc:
            raise DeviceError("the tensorflow backend needs TensorFlow: pip install 'enet-edge[export]'") from exc
        from ..freeze_io import parse_graph_def

        if device.upper() != "CPU":
            raise DeviceError(f"the tensorflow backend runs on CPU only here, not {device}")
        start = time.perf_counter_ns()
        graph_def = parse_graph_def(path)

        def _import():
            tf.compat.v1.import_graph_def(graph_def, name="")

        wrapped = tf.compat.v1.wrap_function(_import, [])
        try:
            x = wrapped.graph.get_tensor_by_name(f"{input_name}:0")
            y = wrapped.graph.get_tensor_by_name(f"{output_name}:0")
        except KeyError as exc:
            raise ArtifactError(f"{path} has no '{input_name}'/'{output_name}' node; was it exported by enet-edge?") from exc
        self._fn = wrapped.prune([x], [y])
        self._tf = tf
        self.load_ms = (time.perf_counter_ns() - start) / 1e6
        self.path, self.device, self.precision = str(path), "CPU", "f32"
        self.input_spec = TensorSpec(input_name, tuple(int(d) for d in x.shape), x.dtype.name)
        self.output_spec = TensorSpec(output_name, tuple(int(d) for d in y.shape), y.dtype.name)

    def infer(self, tensor: np.ndarray) -> np.ndarray:
        tensor = self.check_input(tensor)
        return self._fn(self._tf.constant(tensor))[0].numpy()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def open_adapter(path, backend: Optional[str] = None, device: str = "CPU", **options) -> InferenceAdapter:
    """Open ``path`` (.xml, .onnx, .pb) with ``backend`` (default: by file type; .onnx -> onnxruntime)."""
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"model file {path} does not exist")
    suffix = path.suffix.lower()
    if backend is None:
        backend = {".xml": "openvino", ".onnx": "onnxruntime", ".pb": "tensorflow"}.get(suffix)
        if backend is None:
            raise ArtifactError(f"{path}: unknown model type '{suffix}'; give an .xml, .onnx or .pb file")
    if backend == "openvino":
        if suffix not in (".xml", ".onnx"):
            raise ArtifactError(f"the openvino backend reads .xml or .onnx, not {path.name}")
        if suffix == ".xml" and not path.with_suffix(".bin").is_file():
            raise ArtifactError(f"{path.with_suffix('.bin')} is missing next to {path.name}")
        return OpenVINOAdapter(path, device, **options)
    if backend == "onnxruntime":
        if suffix != ".onnx":
            raise ArtifactError(f"the onnxruntime backend reads .onnx, not {path.name}")
        return OnnxRuntimeAdapter(path, device, **options)
    if backend == "tensorflow":
        if suffix != ".pb":
            raise ArtifactError(f"the tensorflow backend reads a frozen .pb, not {path.name}")
        return TensorFlowAdapter(path, device, **options)
    raise DeviceError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
