"""ONNX Runtime: an .onnx file on the CPU execution provider, f32 only (onnxruntime imported when opened).

Opened through :func:`~enet_edge.runtime.adapters.open_adapter`, which checks the file, the device and the precision.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import numpy as np

from enet_edge.errors import ArtifactError, DeviceError
from enet_edge.runtime.adapters.base import InferenceAdapter, TensorSpec, first_line
from enet_edge.runtime.precision import PrecisionRun


class OnnxRuntimeAdapter(InferenceAdapter):
    backend = "onnxruntime"

    def __init__(self, path, device: str = "CPU", threads: Optional[int] = None, precision: Optional[str] = "f32"):
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise DeviceError("ONNX Runtime is not installed: pip install onnxruntime") from exc
        path = Path(path)
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        start = time.perf_counter_ns()
        try:
            self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph/InvalidProtobuf types
            raise ArtifactError(f"ONNX Runtime cannot load {path}: {first_line(exc)}") from exc
        self.load_ms = (time.perf_counter_ns() - start) / 1e6
        self.path, self.device, self.precision = str(path), device, "f32"
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
            raise DeviceError(f"ONNX Runtime inference failed: {first_line(exc)}") from exc

    def properties(self) -> Dict[str, Any]:
        return {"intra_op_num_threads": self._threads or "default", "providers": self._session.get_providers()}


def _static_shape(shape, name: str, path) -> Tuple[int, ...]:
    if not all(isinstance(d, int) and d > 0 for d in shape):
        raise ArtifactError(f"{path}: tensor {name} has a dynamic shape {list(shape)}; enet-edge runs static-shape "
                            f"models only (re-export with --height/--width)")
    return tuple(int(d) for d in shape)


def _ort_dtype(type_name: str) -> str:
    """ONNX Runtime's ``tensor(float)`` -> numpy's ``float32`` (``tensor(int64)`` -> ``int64`` ...)."""
    inner = type_name[len("tensor("):-1] if type_name.startswith("tensor(") else type_name
    return {"float": "float32", "double": "float64"}.get(inner, inner)
