"""OpenVINO: an IR (.xml/.bin) or ONNX file compiled for any OpenVINO device (CPU, GPU, NPU, MYRIAD, AUTO ...).

OpenVINO is imported when a model is opened, through calls that exist in 2022.3 and in the current
release (``openvino.runtime.Core`` where the top-level ``openvino.Core`` is missing). Every import
goes through the attribute ``enet_edge.runtime.adapters.import_openvino``, looked up at call time, so
tests substitute a simulated OpenVINO there (tests/simulated_cpu.py).
"""

from __future__ import annotations

import re
import time
from collections import deque
from pathlib import Path
from typing import Any, Deque, Dict, List, Optional, Tuple

import numpy as np

from enet_edge.errors import ArtifactError, ConfigError, DeviceError
from enet_edge.runtime.adapters.base import InferenceAdapter, LayerCounter, TensorSpec
from enet_edge.runtime.backends import backend as _backend
from enet_edge.runtime.precision import MODEL_PRECISION_KEY, PrecisionRun, normalize_precision, openvino_config, type_name


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


def _import_openvino():
    """``enet_edge.runtime.adapters.import_openvino()``, looked up now (tests replace that attribute)."""
    from enet_edge.runtime import adapters

    return adapters.import_openvino()


def openvino_version() -> str:
    """OpenVINO's build string, e.g. ``2023.0.2-11065-...``; raises :class:`DeviceError` when not installed."""
    return str(_import_openvino().get_version())


def openvino_devices() -> List[str]:
    return list(_import_openvino().Core().available_devices)


def openvino_capabilities(device: str = "CPU") -> Tuple[str, ...]:
    """``device``'s OPTIMIZATION_CAPABILITIES as OpenVINO reports them, e.g. ``("FP32", "BF16", "INT8", ...)``.

    What decides which precisions a CPU computes in (BF16 on Zen 4 / Sapphire Rapids, FP16 with AMX-FP16);
    () where the device reports none. Raises :class:`DeviceError` when OpenVINO is not installed.
    """
    return OpenVINOAdapter._capabilities(_import_openvino().Core(), device)


VIRTUAL_DEVICES = ("AUTO", "HETERO", "MULTI", "BATCH")
MYRIAD_HELP = ("; the Neural Compute Stick 2 (MYRIAD) needs OpenVINO 2022.3 LTS, the last release with the MYRIAD "
               "plugin (this is OpenVINO {version}): on Python 3.8-3.10, the OpenVINO 2022.3 archive (PyPI's openvino "
               "wheels never included the MYRIAD plugin) with its setupvars.sh sourced, the stick plugged in and its udev "
               "rules installed (docs/ncs2.md)")
MYRIAD_NO_PLUGIN = ("; this OpenVINO {version} has no MYRIAD plugin: PyPI's openvino wheels never included it (its licence "
                    "differs). Install the OpenVINO 2022.3 archive and source its setupvars.sh, so that its Python API "
                    "(with the plugin) is the one imported (docs/ncs2.md)")
MYRIAD_NO_STICK = ("; OpenVINO {version} has the MYRIAD plugin but finds no stick: plug the Neural Compute Stick 2 in "
                   "and install its udev rules (docs/ncs2.md)")


def myriad_help(core, version: str) -> str:
    """Why MYRIAD is not among ``core``'s devices: OpenVINO >= 2023.0 (no plugin at all), a 2022.3 without the
    plugin (the PyPI wheels), or a plugin that finds no stick."""
    if not version.startswith(("2022.", "2021.")):
        return MYRIAD_HELP.format(version=version)
    try:
        core.get_versions("MYRIAD")  # loads the plugin: raises where it is not registered or not loadable
    except (RuntimeError, TypeError, AttributeError):
        return MYRIAD_NO_PLUGIN.format(version=version)
    return MYRIAD_NO_STICK.format(version=version)


_OV_TYPES = {"u8": "uint8", "f32": "float32", "f16": "float16", "i32": "int32", "i64": "int64", "boolean": "bool"}
# OpenVINO prefixes its messages with source locations ("Exception from src/...:84:", "Check '...' failed at ...:")
_OV_NOISE = re.compile(r"^(Exception from \S+:\d+:?|Check '.*' failed at \S+:\d+:?|Loading input model|Converting input model)$")


def ov_message(exc: BaseException) -> str:
    """The informative part of an OpenVINO exception message, on one line."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    useful = [line for line in lines if not _OV_NOISE.match(line)]
    text = "; ".join(useful or lines)
    return text or type(exc).__name__


def _newer_opset_hint(exc: BaseException) -> str:
    """Where an IR uses an opset this OpenVINO predates (a cpu export read by OpenVINO 2022.3, say): what to do."""
    found = re.search(r"unsupported opset: (opset\d+)", str(exc))
    if not found:
        return ""
    return (f" (this OpenVINO, {openvino_version().split('-')[0]}, predates {found.group(1)}: run the IR with a newer "
            f"OpenVINO, or use an ncs2 export, whose IR keeps to opset10 and runs on OpenVINO 2022.3 on CPU and MYRIAD)")


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
        ov = _import_openvino()
        self._ov = ov
        path = Path(path)
        config = {str(k): str(v) for k, v in (config or {}).items()}
        requested = _backend(self.backend).check_precision(precision or config.pop("INFERENCE_PRECISION_HINT", None))
        myriad = device.split(".")[0] == "MYRIAD"
        if requested and myriad:
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
        start = time.perf_counter_ns()
        try:
            model = core.read_model(str(path))
        except RuntimeError as exc:
            raise ArtifactError(f"OpenVINO cannot read {path}: {ov_message(exc)}{_newer_opset_hint(exc)}") from exc
        by_model = False
        if requested is None and not myriad:
            declared = declared_precision(model, path)
            if declared and "INFERENCE_PRECISION_HINT" in self._supported_properties(core, device):
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
        ran = self._property("INFERENCE_PRECISION_HINT")
        if ran is not None:
            ran = type_name(ran)
        elif myriad:
            ran = "f16"  # MYRIAD computes in FP16 whatever the IR holds
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
                                  + (myriad_help(core, openvino_version().split("-")[0]) if base == "MYRIAD" else ""))

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
