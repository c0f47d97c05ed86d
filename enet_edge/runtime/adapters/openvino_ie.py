"""OpenVINO 2021.4's Inference Engine API (``openvino.inference_engine.IECore``): the pip route to the stick.

PyPI's ``openvino==2021.4.2`` (CPython 3.6-3.9, x86_64) is the last wheel with the MYRIAD plugin and the stick's
firmware; it needs libusb-1.0 (PyPI ``libusb-package`` ships one, loaded here before the plugin). It reads ONNX
and IR v10, not the IR v11 of 2022.1+: an export directory opened there runs its ``enet.onnx`` (the graph the
MYRIAD X compile check compiles, :func:`enet_edge.runtime.manifest.resolve_artifact` picks it), with the u8 frame
and f16 logits the compile check used set on the network (the plugin converts the input; the host widens the
output). :class:`~enet_edge.runtime.adapters.openvino.OpenVINOAdapter` opens models through this class where the
installed OpenVINO has only this API (:func:`~enet_edge.runtime.adapters.openvino_core.openvino_api`).
"""

from __future__ import annotations

import time
from collections import deque
from pathlib import Path
from typing import Any, Deque, Dict, List, Optional

import numpy as np

from enet_edge.errors import ArtifactError, ConfigError, DeviceError
from enet_edge.runtime.adapters.base import InferenceAdapter, InOrderRequests, LayerCounter, TensorSpec
from enet_edge.runtime.adapters.openvino_core import VIRTUAL_DEVICES, ov_message, preload_libusb
from enet_edge.runtime.precision import PrecisionRun, device_output_type, device_precision, normalize_precision

_IE_PRECISIONS = {"FP32": "float32", "FP16": "float16", "U8": "uint8", "I32": "int32", "I64": "int64"}
_IE_TYPES = {"float32": "f32", "float16": "f16", "uint8": "u8", "int32": "i32"}
NO_STICK = ("{device} is not among OpenVINO {version}'s devices ({available}): plug the Neural Compute Stick 2 in, "
            "install its udev rules and libusb-1.0 (pip install libusb-package, or the libusb-1.0-0 package) "
            "(docs/ncs2.md)")


def _spec(name: str, data, dtype: str) -> TensorSpec:
    shape = tuple(int(d) for d in (data.tensor_desc.dims if hasattr(data, "tensor_desc") else data.shape))
    return TensorSpec(name, shape, dtype, "NHWC" if len(shape) == 4 and shape[3] == 3 else "")


class IECoreAdapter(InOrderRequests, InferenceAdapter):
    """An ONNX (or IR v10) file loaded by OpenVINO 2021.4's IECore on ``device`` (CPU, MYRIAD, MULTI:...).

    Options as :class:`~enet_edge.runtime.adapters.openvino.OpenVINOAdapter`'s. ``precision``: CPU f32 or bf16
    (``ENFORCE_BF16``; None: the CPU's default), MYRIAD f16 only. ``hint``: ``PERFORMANCE_HINT`` where the device
    lists it (2021.4 introduced it). The input is set to U8 (the frame as OpenCV reads it); a float output comes
    as the device computes it (f16 on MYRIAD) and is widened to float32."""

    backend = "openvino"

    def __init__(self, path, device: str = "CPU", config: Optional[Dict[str, str]] = None, nireq: int = 1,
                 perf_counters: bool = False, hint: Optional[str] = None, precision: Optional[str] = None,
                 threads: Optional[int] = None, streams: Optional[str] = None):
        preload_libusb()
        from openvino.inference_engine import IECore, get_version

        path, requested = Path(path), normalize_precision(precision)
        self.version = str(get_version())
        release = self.version.split("-")[0]
        core = IECore()
        available = list(core.available_devices)
        head, _, rest = device.partition(":")
        for name in (rest.split(",") if head in VIRTUAL_DEVICES else [device]):
            if name.split(".")[0] not in {d.split(".")[0] for d in available} and name not in available:
                raise DeviceError(NO_STICK.format(device=name, version=release,
                                                  available=", ".join(available) or "none"))
        config = {str(k): str(v) for k, v in (config or {}).items()}
        keys = self._supported(core, head)
        if requested in ("f32", "bf16") and "ENFORCE_BF16" in keys:
            config["ENFORCE_BF16"] = "YES" if requested == "bf16" else "NO"
        elif requested and requested != device_precision(device):
            raise ConfigError(f"OpenVINO {release} on {device} cannot be asked for {requested}")
        if threads and "CPU_THREADS_NUM" in keys:
            config["CPU_THREADS_NUM"] = str(threads)
        if streams and "CPU_THROUGHPUT_STREAMS" in keys:
            config["CPU_THROUGHPUT_STREAMS"] = "CPU_THROUGHPUT_AUTO" if str(streams).upper() == "AUTO" else str(streams)
        if perf_counters:
            config["PERF_COUNT"] = "YES"
        if hint and "PERFORMANCE_HINT" in keys:
            config["PERFORMANCE_HINT"] = hint.upper()
        start = time.perf_counter_ns()
        try:
            net = core.read_network(model=str(path))
        except RuntimeError as exc:
            raise ArtifactError(f"OpenVINO {release} cannot read {path}: {ov_message(exc)} (it reads "
                                "ONNX and IR v10, not the IR v11 of OpenVINO 2022.1+: open the export's enet.onnx)") from exc
        self._in, self._out = next(iter(net.input_info)), next(iter(net.outputs))
        net.input_info[self._in].precision = "U8"
        declared = _IE_PRECISIONS.get(net.outputs[self._out].precision, "float32")
        wanted = device_output_type(device, _IE_TYPES.get(declared, declared))
        if wanted == "f16":
            net.outputs[self._out].precision = "FP16"
        self._widen = np.dtype(declared) if wanted != _IE_TYPES.get(declared) else None
        try:  # num_requests 0: the device's optimal number
            self._exec = core.load_network(net, device, config, num_requests=max(0, int(nireq)))
        except RuntimeError as exc:
            settings = f" with {config}" if config else ""
            raise DeviceError(f"OpenVINO {release} cannot load {path} on {device}{settings}: "
                              f"{ov_message(exc)}") from exc
        self.load_ms = (time.perf_counter_ns() - start) / 1e6
        self.path, self.device, self.config = str(path), device, config
        self.input_spec = _spec(self._in, net.input_info[self._in], "uint8")
        self.output_spec = _spec(self._out, net.outputs[self._out], declared)
        ran = device_precision(device) or ("bf16" if self._config("ENFORCE_BF16") == "YES" else "f32")
        self.precision_run = PrecisionRun(requested, ran, False, device)
        self.precision = self.precision_run.name
        self.capabilities = tuple(self._metric(core, head, "OPTIMIZATION_CAPABILITIES") or ())
        self._requests = list(self._exec.requests)
        self._free: Deque = deque(self._requests)
        self._inflight: Deque = deque()

    @staticmethod
    def _metric(core, device: str, name: str):
        try:
            return core.get_metric(device, name)
        except (RuntimeError, TypeError):
            return None

    def _supported(self, core, device: str) -> tuple:
        return tuple(self._metric(core, device, "SUPPORTED_CONFIG_KEYS") or ())

    def _config(self, name: str):
        try:
            return self._exec.get_config(name)
        except (RuntimeError, TypeError):
            return None

    def _exec_metric(self, name: str):
        try:
            return self._exec.get_metric(name)
        except (RuntimeError, TypeError):
            return None

    def properties(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {"requested": dict(self.config), "api": f"Inference Engine {self.version}"}
        for name in ("OPTIMAL_NUMBER_OF_INFER_REQUESTS",):
            value = self._exec_metric(name)
            if value is not None:
                out[name] = int(value)
        out["OPTIMIZATION_CAPABILITIES"] = list(self.capabilities)
        return out

    def _output(self, request, fetch: bool = True) -> Optional[np.ndarray]:
        if not fetch:
            return None
        return np.array(request.output_blobs[self._out].buffer, dtype=self._widen, copy=True)

    def _run(self, tensor: np.ndarray):
        tensor = self.check_input(tensor)
        request = self._requests[0]
        try:
            request.infer({self._in: tensor})
        except RuntimeError as exc:
            raise DeviceError(f"inference on {self.device} failed: {ov_message(exc)}") from exc
        return request

    def infer(self, tensor: np.ndarray) -> np.ndarray:
        return self._output(self._run(tensor))

    def infer_only(self, tensor: np.ndarray) -> None:
        self._run(tensor)

    @property
    def num_requests(self) -> int:
        return len(self._requests)

    def _complete_oldest(self, block: bool) -> bool:
        request, userdata, callback, fetch = self._inflight[0]
        status = request.wait(-1 if block else 0)
        if not block and status != 0:
            return False
        self._inflight.popleft()
        self._free.append(request)
        if status != 0:
            raise DeviceError(f"inference on {self.device} failed: status {status}")
        self.last_request_ns = int(request.latency * 1e6)
        callback(self._output(request, fetch), userdata)
        return True

    def start_async(self, tensor, userdata, callback, fetch: bool = True) -> None:
        tensor = self.check_input(tensor)
        self.wait_idle()
        request = self._free.popleft()
        try:
            request.async_infer({self._in: tensor})
        except RuntimeError as exc:
            self._free.append(request)
            raise DeviceError(f"inference on {self.device} failed: {ov_message(exc)}") from exc
        self._inflight.append((request, userdata, callback, fetch))

    def per_layer_counters(self) -> List[LayerCounter]:
        counts = self._requests[0].get_perf_counts()
        return [LayerCounter(name, row.get("layer_type", ""), row.get("exec_type", ""), str(row.get("status", "")),
                             float(row.get("real_time", 0)), float(row.get("cpu_time", 0)))
                for name, row in counts.items()]

    def close(self) -> None:
        for request, *_ in self._inflight:
            request.wait(-1)
        self._inflight.clear()
        self._free.clear()
        self._requests = []
        self._exec = None
