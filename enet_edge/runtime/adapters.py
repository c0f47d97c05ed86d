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
import re
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple

import numpy as np

from enet_edge.errors import ArtifactError, DeviceError, InputError
from enet_edge.runtime.precision import PrecisionRun, normalize_precision, openvino_config, type_name

KERAS_BACKEND = "keras"
"""Backend of :class:`KerasWeightsAdapter`: trained ``.npz`` weights built into the Keras model (needs TensorFlow)."""
BACKENDS = ("openvino", "onnxruntime", "tensorflow", KERAS_BACKEND)


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
    precision: str = ""  # what actually runs: "f32", "f16", "bf16", "i8+f32" (a quantized IR, float parts in f32) ...
    precision_run: Optional[PrecisionRun] = None  # what was asked and what ran (OpenVINO: read back)
    path: str = ""
    input_spec: TensorSpec
    output_spec: TensorSpec
    load_ms: float = 0.0  # read + compile, milliseconds
    last_request_ns: int = 0  # start-to-completion time of the inference whose callback runs now

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

    def infer_only(self, tensor: np.ndarray) -> None:
        """Synchronous inference whose output is not fetched (benchmark timing). Default: :meth:`infer`."""
        self.infer(tensor)

    def start_async(self, tensor: np.ndarray, userdata: Any, callback: Callable[[Optional[np.ndarray], Any], None],
                    fetch: bool = True) -> None:
        """Start an inference; ``callback(logits, userdata)`` runs once it has ended (``logits`` is None
        when ``fetch`` is False), on the caller's thread, in submission order: within a later
        ``start_async``, ``wait_idle`` or ``wait_all``. Blocks while all :attr:`num_requests` are
        busy. During the callback, :attr:`last_request_ns` is that inference's own duration.
        Default: synchronous."""
        start = time.perf_counter_ns()
        logits = self.infer(tensor)
        self.last_request_ns = time.perf_counter_ns() - start
        callback(logits if fetch else None, userdata)

    def wait_idle(self) -> None:
        """Block until :meth:`start_async` can start without waiting for a busy request."""

    def wait_all(self) -> None:
        """Block until every started inference has called back."""

    @property
    def num_requests(self) -> int:
        return 1

    def per_layer_counters(self) -> List[LayerCounter]:
        """Per-layer counters of the last inference (OpenVINO with PERF_COUNT only; else empty)."""
        return []

    def properties(self) -> Dict[str, Any]:
        """Backend settings in effect (OpenVINO: read back from the compiled model), for reports."""
        return {}

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
    try:
        from openvino import runtime  # 2022.3 API 2.0
    except ImportError as exc:
        raise DeviceError(f"this OpenVINO has no 2.0 API (openvino.runtime); install openvino>=2022.3 ({exc})") from exc
    return runtime


def openvino_version() -> str:
    """OpenVINO's build string, e.g. ``2023.0.2-11065-...``; raises :class:`DeviceError` when not installed."""
    return str(import_openvino().get_version())


def openvino_devices() -> List[str]:
    return list(import_openvino().Core().available_devices)


VIRTUAL_DEVICES = ("AUTO", "HETERO", "MULTI", "BATCH")
MYRIAD_HELP = ("; the Neural Compute Stick 2 (MYRIAD) needs OpenVINO 2022.3 LTS, the last release with the MYRIAD "
               "plugin (this is OpenVINO {version}): on Python 3.8-3.10, pip install 'enet-edge[ncs2]', plug in the "
               "stick and install its udev rules (README: 'Running on a Neural Compute Stick 2')")
_OV_TYPES = {"u8": "uint8", "f32": "float32", "f16": "float16", "i32": "int32", "i64": "int64", "boolean": "bool"}
# OpenVINO prefixes its messages with source locations ("Exception from src/...:84:", "Check '...' failed at ...:")
_OV_NOISE = re.compile(r"^(Exception from \S+:\d+:?|Check '.*' failed at \S+:\d+:?|Loading input model|Converting input model)$")


def ov_message(exc: BaseException) -> str:
    """The informative part of an OpenVINO exception message, on one line."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    useful = [line for line in lines if not _OV_NOISE.match(line)]
    text = "; ".join(useful or lines)
    return text or type(exc).__name__


def _ov_spec(port, path) -> TensorSpec:
    names = port.get_names()
    name = sorted(names)[0] if names else port.get_any_name()
    type_name = port.get_element_type().get_type_name()
    partial = port.get_partial_shape()
    if not partial.is_static:
        raise ArtifactError(f"{path}: tensor {name} has a dynamic shape {partial}; enet-edge runs static-shape "
                            f"models only (re-export with --height/--width)")
    shape = tuple(int(d) for d in port.get_shape())
    return TensorSpec(name, shape, _OV_TYPES.get(type_name, type_name))


class OpenVINOAdapter(InferenceAdapter):
    """An IR (.xml) or ONNX file compiled by OpenVINO for ``device`` (CPU, GPU, NPU, MYRIAD, AUTO, HETERO:...).

    ``config``: OpenVINO properties passed to ``compile_model`` as is (``NUM_STREAMS``,
    ``INFERENCE_PRECISION_HINT``, ``INFERENCE_NUM_THREADS`` ...). ``hint``: ``PERFORMANCE_HINT``
    (LATENCY, THROUGHPUT, CUMULATIVE_THROUGHPUT), applied only where the device lists it among its
    supported properties. ``nireq``: requests of the async queue; 0 takes the compiled model's
    ``OPTIMAL_NUMBER_OF_INFER_REQUESTS``. ``perf_counters``: enable per-layer profiling.
    """

    backend = "openvino"

    def __init__(self, path, device: str = "CPU", config: Optional[Dict[str, str]] = None, nireq: int = 1,
                 perf_counters: bool = False, hint: Optional[str] = None, precision: Optional[str] = None):
        ov = import_openvino()
        self._ov = ov
        path = Path(path)
        config = {str(k): str(v) for k, v in (config or {}).items()}
        requested = normalize_precision(precision or config.pop("INFERENCE_PRECISION_HINT", None))
        if requested and device.split(".")[0] == "MYRIAD":
            if requested != "f16":
                raise DeviceError(f"MYRIAD computes in FP16 only; it cannot run {requested} (ask for f16 or none)")
        else:
            config.update(openvino_config(requested))
        core = ov.Core()
        self._check_device(core, device)
        self.capabilities = self._capabilities(core, device)
        if perf_counters:
            config["PERF_COUNT"] = "YES"
        if hint and "PERFORMANCE_HINT" in self._supported_properties(core, device):
            config["PERFORMANCE_HINT"] = hint.upper()
        self.config = dict(config)
        start = time.perf_counter_ns()
        try:
            model = core.read_model(str(path))
        except RuntimeError as exc:
            raise ArtifactError(f"OpenVINO cannot read {path}: {ov_message(exc)}") from exc
        try:
            self._compiled = core.compile_model(model, device, config)
        except RuntimeError as exc:
            settings = f" with {config}" if config else ""
            raise DeviceError(f"OpenVINO cannot compile {path} for {device}{settings}: {ov_message(exc)}") from exc
        self.load_ms = (time.perf_counter_ns() - start) / 1e6
        self.path, self.device = str(path), device
        self.input_spec = _ov_spec(self._compiled.input(0), path)
        self.output_spec = _ov_spec(self._compiled.output(0), path)
        ran = self._property("INFERENCE_PRECISION_HINT")
        if ran is not None:
            ran = type_name(ran)
        elif device.split(".")[0] == "MYRIAD":
            ran = "f16"  # MYRIAD computes in FP16 whatever the IR holds
        quantized = any(op.get_type_name() == "FakeQuantize" for op in model.get_ops())
        self.precision_run = PrecisionRun(requested, ran or "", quantized, device)
        self.precision = self.precision_run.name
        self._request = self._compiled.create_infer_request()
        self._free: Optional[Deque] = None  # idle async requests (created on first use)
        self._inflight: Optional[Deque] = None  # started requests, oldest first
        nireq = int(nireq)
        if nireq <= 0:
            optimal = self._property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")
            nireq = int(optimal) if optimal is not None else 1
        self._nireq = max(1, nireq)

    @staticmethod
    def _check_device(core, device: str) -> None:
        available = list(core.available_devices)
        if not device:
            raise DeviceError(f"no device given; available_devices: {', '.join(available) or 'none'}")
        head, _, rest = device.partition(":")
        wanted = rest.split(",") if head in VIRTUAL_DEVICES else [device]
        for name in wanted:
            base = name.split(".")[0]
            if not name or base in VIRTUAL_DEVICES:
                continue
            if not any(a == name or (a.split(".")[0] == base and "." not in name) for a in available):
                raise DeviceError(f"device {name} is not available; available_devices: {', '.join(available) or 'none'}"
                                  + (MYRIAD_HELP.format(version=openvino_version().split("-")[0]) if base == "MYRIAD" else ""))

    @staticmethod
    def _capabilities(core, device: str) -> Tuple[str, ...]:
        """The device's OPTIMIZATION_CAPABILITIES (FP32, FP16, BF16, INT8 ...); () where it reports none."""
        try:
            return tuple(str(c) for c in core.get_property(device.partition(":")[0], "OPTIMIZATION_CAPABILITIES"))
        except (RuntimeError, TypeError):
            return ()

    @staticmethod
    def _supported_properties(core, device: str) -> Tuple[str, ...]:
        try:
            return tuple(core.get_property(device.partition(":")[0], "SUPPORTED_PROPERTIES"))
        except (RuntimeError, TypeError):
            return ()

    def _property(self, name: str):
        try:
            return self._compiled.get_property(name)
        except (RuntimeError, TypeError, AttributeError):
            return None

    def properties(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {"requested": dict(self.config)}
        for name in ("PERFORMANCE_HINT", "NUM_STREAMS", "OPTIMAL_NUMBER_OF_INFER_REQUESTS", "INFERENCE_NUM_THREADS",
                     "INFERENCE_PRECISION_HINT", "EXECUTION_DEVICES"):
            value = self._property(name)
            if value is not None:
                out[name] = type_name(value) if name == "INFERENCE_PRECISION_HINT" else _jsonable(value)
        out["OPTIMIZATION_CAPABILITIES"] = list(self.capabilities)
        return out

    def _run_sync(self, tensor: np.ndarray) -> None:
        tensor = self.check_input(tensor)
        try:
            # a shared-memory tensor and start+wait: no input copy, and no output copy as infer() makes
            self._request.set_input_tensor(self._ov.Tensor(tensor, shared_memory=True))
            self._request.start_async()
            self._request.wait()
        except RuntimeError as exc:
            raise DeviceError(f"inference on {self.device} failed: {ov_message(exc)}") from exc

    def infer(self, tensor: np.ndarray) -> np.ndarray:
        self._run_sync(tensor)
        return np.array(self._request.get_output_tensor(0).data, copy=True)

    def infer_only(self, tensor: np.ndarray) -> None:
        self._run_sync(tensor)

    @property
    def num_requests(self) -> int:
        return self._nireq

    # Async requests run without Python callbacks on OpenVINO's threads: an OpenVINO worker that
    # needs the GIL (to call or to release a Python callback) while the main thread destroys the
    # compiled model deadlocks (seen with 2026.4). Completed requests are collected, oldest first,
    # on the caller's thread in start_async / wait_idle / wait_all; the request's own ``latency``
    # (start to completion, measured by OpenVINO) is what :attr:`last_request_ns` reports.

    def _ensure_pool(self) -> None:
        if self._free is None:
            self._free = deque(self._compiled.create_infer_request() for _ in range(self._nireq))
            self._inflight = deque()

    def _complete_oldest(self, block: bool) -> bool:
        request, userdata, callback, fetch, _tensor = self._inflight[0]
        try:
            if not block and not request.wait_for(0):
                return False
            request.wait()
        except RuntimeError as exc:
            self._inflight.popleft()
            self._free.append(request)
            raise DeviceError(f"inference on {self.device} failed: {ov_message(exc)}") from exc
        self._inflight.popleft()
        logits = np.array(request.get_output_tensor(0).data, copy=True) if fetch else None
        self.last_request_ns = int(request.latency * 1e6)
        self._free.append(request)
        callback(logits, userdata)
        return True

    def _collect_done(self) -> None:
        while self._inflight and self._complete_oldest(block=False):
            pass

    def start_async(self, tensor, userdata, callback, fetch: bool = True) -> None:
        tensor = self.check_input(tensor)
        self.wait_idle()
        request = self._free.popleft()
        try:
            request.set_input_tensor(self._ov.Tensor(tensor, shared_memory=True))
            request.start_async()
        except RuntimeError as exc:
            self._free.append(request)
            raise DeviceError(f"inference on {self.device} failed: {ov_message(exc)}") from exc
        self._inflight.append((request, userdata, callback, fetch, tensor))  # tensor: its memory is shared

    def wait_idle(self) -> None:
        self._ensure_pool()
        self._collect_done()
        if not self._free:
            self._complete_oldest(block=True)

    def wait_all(self) -> None:
        while self._inflight:
            self._complete_oldest(block=True)

    def per_layer_counters(self) -> List[LayerCounter]:
        rows = []
        for info in self._request.get_profiling_info():
            rows.append(LayerCounter(
                info.node_name, info.node_type, info.exec_type, str(info.status).split(".")[-1],
                info.real_time.total_seconds() * 1e6, info.cpu_time.total_seconds() * 1e6))
        return rows

    def close(self) -> None:
        for request, *_ in self._inflight or ():
            request.wait()
        self._inflight = self._free = None
        self._request = None
        self._compiled = None


def _jsonable(value):
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if hasattr(value, "name") and isinstance(getattr(value, "name"), str):  # pybind11 enums
        return value.name
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return str(value)


# --------------------------------------------------------------------------------------------
# ONNX Runtime
# --------------------------------------------------------------------------------------------


class OnnxRuntimeAdapter(InferenceAdapter):
    backend = "onnxruntime"

    def __init__(self, path, device: str = "CPU", threads: Optional[int] = None, precision: Optional[str] = None):
        _require_f32(self.backend, precision)
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
        self.precision_run = PrecisionRun("f32", "f32")
        self._threads = threads
        inp, out = self._session.get_inputs()[0], self._session.get_outputs()[0]
        self.input_spec = TensorSpec(inp.name, _static_shape(inp.shape, inp.name, path), _ort_dtype(inp.type))
        self.output_spec = TensorSpec(out.name, _static_shape(out.shape, out.name, path), _ort_dtype(out.type))

    def infer(self, tensor: np.ndarray) -> np.ndarray:
        tensor = self.check_input(tensor)
        try:
            return self._session.run([self.output_spec.name], {self.input_spec.name: tensor})[0]
        except Exception as exc:  # onnxruntime's own exception types
            raise DeviceError(f"ONNX Runtime inference failed: {_first_line(exc)}") from exc

    def properties(self) -> Dict[str, Any]:
        return {"intra_op_num_threads": self._threads or "default", "providers": self._session.get_providers()}


def _require_f32(backend: str, precision: Optional[str]) -> None:
    if normalize_precision(precision) not in (None, "f32"):
        raise DeviceError(f"the {backend} backend runs f32 only, not {precision}; use the OpenVINO IR for "
                          f"{precision}")


def _static_shape(shape, name: str, path) -> Tuple[int, ...]:
    if not all(isinstance(d, int) and d > 0 for d in shape):
        raise ArtifactError(f"{path}: tensor {name} has a dynamic shape {list(shape)}; enet-edge runs static-shape "
                            f"models only (re-export with --height/--width)")
    return tuple(int(d) for d in shape)


def _ort_dtype(type_name: str) -> str:
    """ONNX Runtime's ``tensor(float)`` -> numpy's ``float32`` (``tensor(int64)`` -> ``int64`` ...)."""
    inner = type_name[len("tensor("):-1] if type_name.startswith("tensor(") else type_name
    return {"float": "float32", "double": "float64"}.get(inner, inner)


# --------------------------------------------------------------------------------------------
# TensorFlow frozen graph (only where TensorFlow is installed)
# --------------------------------------------------------------------------------------------


class TensorFlowAdapter(InferenceAdapter):
    backend = "tensorflow"

    def __init__(self, path, device: str = "CPU", input_name: str = "image", output_name: str = "logits",
                 precision: Optional[str] = None):
        _require_f32(self.backend, precision)
        try:
            import tensorflow as tf
        except ImportError as exc:
            raise DeviceError("the tensorflow backend needs TensorFlow: pip install 'enet-edge[export]'") from exc
        from enet_edge.runtime.graph_def import parse_graph_def

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
        self.precision_run = PrecisionRun("f32", "f32")
        self.input_spec = TensorSpec(input_name, tuple(int(d) for d in x.shape), x.dtype.name)
        self.output_spec = TensorSpec(output_name, tuple(int(d) for d in y.shape), y.dtype.name)

    def infer(self, tensor: np.ndarray) -> np.ndarray:
        tensor = self.check_input(tensor)
        return self._fn(self._tf.constant(tensor))[0].numpy()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# --------------------------------------------------------------------------------------------
# .npz weights as an InferenceAdapter (the only TensorFlow path)
# --------------------------------------------------------------------------------------------


class KerasWeightsAdapter(InferenceAdapter):
    """Trained weights (``.npz`` from ``enet-edge train``) built into Keras ENet, behind the device interface.

    Input: (1, H, W, 3) float32 BGR 0..255, like the ONNX and frozen-graph artifacts; output: logits
    (1, H, W, K) float32 NHWC. H, W default to the size stored with the weights. Built with the
    ``depth_to_space`` realization (the fastest on CPU; every realization computes the same function).
    ``precision`` "f16": Keras float16 dtype policy, weights and activations in FP16 (the NCS2's
    arithmetic, emulated where the hardware has no FP16).
    """

    backend = KERAS_BACKEND

    def __init__(self, path, device: str = "CPU", height: Optional[int] = None, width: Optional[int] = None,
                 precision: Optional[str] = "f32"):
        path = Path(path)
        precision = normalize_precision(precision) or "f32"
        if precision not in ("f32", "f16"):
            raise DeviceError(f"the keras backend computes in f32 or f16 (float16 policy), not {precision}")
        if not path.is_file():
            raise ArtifactError(f"weights file {path} does not exist")
        device = device.upper()
        if device not in ("CPU", "GPU"):
            raise DeviceError(f"the keras backend (.npz weights) runs on CPU or GPU, not {device}")
        try:
            import tensorflow as tf
        except ImportError as exc:
            raise DeviceError("evaluating .npz weights needs TensorFlow (pip install 'enet-edge[export]'); "
                              "on a device, evaluate an export directory instead") from exc
        from enet_edge.model.config import Realization
        from enet_edge.model.enet import load_enet

        if not tf.config.list_logical_devices(device):
            raise DeviceError(f"TensorFlow sees no {device} here")
        start = time.perf_counter_ns()
        self._device = f"/{device}:0"
        with tf.device(self._device):
            model, config, meta = load_enet(path, realization=Realization(shuffle="depth_to_space"),
                                            height=height, width=width, batch=1,
                                            dtype_policy="float16" if precision == "f16" else None)
        self._fn = tf.function(lambda x: model(x, training=False), jit_compile=False)
        self._tf = tf
        self.meta = meta
        self.path, self.device, self.precision = str(path), device, precision
        self.precision_run = PrecisionRun(precision, precision, device=device)
        self.input_spec = TensorSpec("image", tuple(config.input_shape), "float32")
        self.output_spec = TensorSpec("logits", tuple(config.output_shape), "float32")
        self.load_ms = (time.perf_counter_ns() - start) / 1e6

    def infer(self, tensor: np.ndarray) -> np.ndarray:
        """(1, H, W, 3) float32 BGR 0..255 -> logits (1, H, W, K) float32."""
        tensor = self.check_input(tensor)
        with self._tf.device(self._device):
            return np.asarray(self._fn(self._tf.constant(tensor)).numpy(), np.float32)


def open_adapter(path, backend: Optional[str] = None, device: str = "CPU", **options) -> InferenceAdapter:
    """Open ``path`` (.xml, .onnx, .pb, .npz) with ``backend`` (default: by file type; .onnx -> onnxruntime).

    ``options``: OpenVINO ``config``/``nireq``/``hint``/``perf_counters``; ONNX Runtime ``threads``;
    keras ``height``/``width`` (the weights' size by default).
    """
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"model file {path} does not exist")
    suffix = path.suffix.lower()
    if backend is None:
        backend = {".xml": "openvino", ".onnx": "onnxruntime", ".pb": "tensorflow", ".npz": KERAS_BACKEND}.get(suffix)
        if backend is None:
            raise ArtifactError(f"{path}: unknown model type '{suffix}'; give an .xml, .onnx, .pb or .npz file")
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
    if backend == KERAS_BACKEND:
        if suffix != ".npz":
            raise ArtifactError(f"the keras backend reads trained .npz weights, not {path.name}")
        return KerasWeightsAdapter(path, device, **options)
    raise DeviceError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
