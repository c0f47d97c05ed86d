"""OpenVINO: an IR (.xml/.bin) or ONNX file compiled for any OpenVINO device (CPU, GPU, NPU, MYRIAD, AUTO ...).

OpenVINO is imported when a model is opened (:mod:`enet_edge.runtime.adapters.openvino_core`: through the
attribute ``enet_edge.runtime.adapters.import_openvino``, which tests replace). Opened through
:func:`~enet_edge.runtime.adapters.open_adapter`, which checks the file, the device and the precision first.
"""

from __future__ import annotations

import dataclasses
import time
from collections import deque
from pathlib import Path
from typing import Any, Deque, Dict, List, Optional

import numpy as np

from enet_edge.errors import ArtifactError, ConfigError, DeviceError
from enet_edge.runtime.adapters.base import InferenceAdapter, InOrderRequests, LayerCounter, TensorSpec
from enet_edge.runtime.adapters.openvino_core import (openvino_api, openvino_module, newer_opset_hint, check_device,
                                                      device_capabilities, ov_message, supported_properties)
from enet_edge.runtime.precision import (MODEL_PRECISION_KEY, PRECISION_PROPERTY, PrecisionRun, device_output_type,
                                         device_precision, normalize_precision, openvino_config, type_name)

_OV_TYPES = {"u8": "uint8", "f32": "float32", "f16": "float16", "i32": "int32", "i64": "int64", "boolean": "bool"}


def declared_precision(model, path="the model") -> Optional[str]:
    """The float precision ``model`` (an ``openvino.Model``) asks for in its rt_info
    (:data:`~enet_edge.runtime.precision.MODEL_PRECISION_KEY`: f32, f16 or bf16); None where it asks for none.

    Raises :class:`ArtifactError` where the rt_info names no known precision.
    """
    key = list(MODEL_PRECISION_KEY)
    try:
        if not model.has_rt_info(key):
            return None
        value = model.get_rt_info(key)
    except (RuntimeError, TypeError, AttributeError):  # an OpenVINO without these calls: nothing declared
        return None
    text = value.astype(str) if hasattr(value, "astype") else str(value)
    try:
        return normalize_precision(text)
    except ConfigError as exc:
        raise ArtifactError(f"{path}: rt_info {'/'.join(key)} = {text!r} is not a precision ({exc}); "
                            f"re-export") from exc


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


class OpenVINOAdapter(InOrderRequests, InferenceAdapter):
    """An IR (.xml) or ONNX file compiled by OpenVINO for ``device`` (CPU, GPU, NPU, MYRIAD, AUTO, HETERO:...).

    ``precision``: f32 | f16 | bf16 asked as ``INFERENCE_PRECISION_HINT`` (checked by ``open_adapter``);
    None: what the model asks for (its rt_info), else the device's default. ``config``: OpenVINO
    properties passed to ``compile_model`` as is. ``streams``: ``NUM_STREAMS``; ``threads``:
    ``INFERENCE_NUM_THREADS``. ``hint``: ``PERFORMANCE_HINT`` (LATENCY, THROUGHPUT,
    CUMULATIVE_THROUGHPUT), applied only where the device lists it among its supported properties.
    ``nireq``: requests of the async queue; 0 takes the compiled model's
    ``OPTIMAL_NUMBER_OF_INFER_REQUESTS``. ``perf_counters``: enable per-layer profiling.
    """

    backend = "openvino"

    def __new__(cls, *args, **kwargs):
        """Where the installed OpenVINO is 2021.4 (the Inference Engine API only; the pip route to the stick), an
        :class:`~enet_edge.runtime.adapters.openvino_ie.IECoreAdapter` with the same arguments."""
        if cls is OpenVINOAdapter and openvino_api() == "ie":
            from enet_edge.runtime.adapters.openvino_ie import IECoreAdapter

            return IECoreAdapter(*args, **kwargs)
        return super().__new__(cls)

    def __init__(self, path, device: str = "CPU", config: Optional[Dict[str, str]] = None, nireq: int = 1,
                 perf_counters: bool = False, hint: Optional[str] = None, precision: Optional[str] = None,
                 threads: Optional[int] = None, streams: Optional[str] = None):
        ov = openvino_module()
        self._ov = ov
        path = Path(path)
        config = {str(k): str(v) for k, v in (config or {}).items()}
        if PRECISION_PROPERTY in config:
            raise ConfigError(f"ask for a precision with precision=..., not config {PRECISION_PROPERTY} "
                              f"(open_adapter turns one into the other)")
        if streams:
            config["NUM_STREAMS"] = str(streams)
        if threads:
            config["INFERENCE_NUM_THREADS"] = str(threads)
        requested = normalize_precision(precision)
        fixed = device_precision(device)  # MYRIAD computes in f16 whatever the IR holds
        if not fixed:
            config.update(openvino_config(requested))
        core = ov.Core()
        check_device(core, device)
        self.capabilities = device_capabilities(core, device)
        if perf_counters:
            config["PERF_COUNT"] = "YES"
        if hint and "PERFORMANCE_HINT" in supported_properties(core, device):
            config["PERFORMANCE_HINT"] = hint.upper()
        start = time.perf_counter_ns()
        try:
            model = core.read_model(str(path))
        except RuntimeError as exc:
            raise ArtifactError(f"OpenVINO cannot read {path}: {ov_message(exc)}{newer_opset_hint(exc)}") from exc
        model, self._widen = _device_output(ov, model, device)
        by_model = False
        if requested is None and not fixed:
            declared = declared_precision(model, path)
            if declared and PRECISION_PROPERTY in supported_properties(core, device):
                requested, by_model = declared, True
                config.update(openvino_config(declared))
        self.config = dict(config)
        try:
            self._compiled = core.compile_model(model, device, config)
        except RuntimeError as exc:
            settings = f" with {config}" if config else ""
            raise DeviceError(f"OpenVINO cannot compile {path} for {device}{settings}: {ov_message(exc)}") from exc
        self.load_ms = (time.perf_counter_ns() - start) / 1e6
        self.path, self.device = str(path), device
        self.input_spec = _ov_spec(self._compiled.input(0), path)
        self.output_spec = _ov_spec(self._compiled.output(0), path)
        if self._widen is not None:  # infer() returns the IR's own type (the device wrote f16)
            self.output_spec = dataclasses.replace(self.output_spec, dtype=self._widen.name)
        ran = self._property(PRECISION_PROPERTY)
        ran = type_name(ran) if ran is not None else fixed
        quantized = any(op.get_type_name() == "FakeQuantize" for op in model.get_ops())
        self.precision_run = PrecisionRun(requested, ran or "", quantized, device, by_model)
        self.precision = self.precision_run.name
        self._request = self._compiled.create_infer_request()
        self._free: Optional[Deque] = None  # idle async requests (created on first use)
        self._inflight: Optional[Deque] = None  # started requests, oldest first
        nireq = int(nireq)
        if nireq <= 0:
            optimal = self._property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")
            nireq = int(optimal) if optimal is not None else 1
        self._nireq = max(1, nireq)

    def _property(self, name: str):
        try:
            return self._compiled.get_property(name)
        except (RuntimeError, TypeError, AttributeError):
            return None

    def properties(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {"requested": dict(self.config)}
        for name in ("PERFORMANCE_HINT", "NUM_STREAMS", "OPTIMAL_NUMBER_OF_INFER_REQUESTS", "INFERENCE_NUM_THREADS",
                     PRECISION_PROPERTY, "EXECUTION_DEVICES"):
            value = self._property(name)
            if value is not None:
                out[name] = type_name(value) if name == PRECISION_PROPERTY else _jsonable(value)
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
        return np.array(self._request.get_output_tensor(0).data, dtype=self._widen, copy=True)

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
        logits = np.array(request.get_output_tensor(0).data, dtype=self._widen, copy=True) if fetch else None
        self.last_request_ns = int(request.latency * 1e6)
        self._free.append(request)
        callback(logits, userdata)
        return True

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


def _device_output(ov, model, device: str):
    """(model, dtype): ``model`` asking ``device`` for its output in :func:`device_output_type` (f16 logits on
    MYRIAD: no FP16->FP32 stage on the stick, half the bytes over USB), and the numpy type ``infer`` widens the
    output to (the IR's own, so callers see the type the IR declares); ``dtype`` None: as the device writes it."""
    declared = type_name(model.output(0).get_element_type())
    wanted = device_output_type(device, declared)
    if wanted == declared:
        return model, None
    preprocess = getattr(ov, "preprocess", None)
    if preprocess is None:  # OpenVINO 2022.3: openvino.preprocess beside openvino.runtime
        from openvino import preprocess
    ppp = preprocess.PrePostProcessor(model)
    ppp.output(0).tensor().set_element_type(getattr(ov.Type, wanted))
    return ppp.build(), np.dtype(_OV_TYPES[declared])


def _jsonable(value):
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if hasattr(value, "name") and isinstance(getattr(value, "name"), str):  # pybind11 enums
        return value.name
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return str(value)
