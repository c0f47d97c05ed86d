"""LiteRT (``ai-edge-litert``, formerly TensorFlow Lite): a .tflite file on the CPU with XNNPACK, f32 only.

A peer that ``make bench`` measures against enet-edge's exports (what a user converting the Keras model with
``TFLiteConverter`` would run). The interpreter is imported when a model is opened. Opened through
:func:`~enet_edge.runtime.adapters.open_adapter`, which checks the file, the device and the precision.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Dict, Optional

import numpy as np

from enet_edge.errors import ArtifactError, DeviceError
from enet_edge.runtime.adapters.base import InferenceAdapter, TensorSpec, first_line
from enet_edge.runtime.precision import PrecisionRun


class LiteRTAdapter(InferenceAdapter):
    """Input and output as the .tflite holds them (the Keras model's: (1, H, W, 3) float32 BGR 0..255 -> (1, H, W,
    K) float32 logits). ``threads``: XNNPACK's threads (None: this machine's usable cores)."""

    backend = "litert"

    def __init__(self, path, device: str = "CPU", threads: Optional[int] = None, precision: Optional[str] = "f32"):
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as exc:
            raise DeviceError("LiteRT is not installed: pip install ai-edge-litert") from exc
        path = Path(path)
        usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        self._threads = threads or usable
        start = time.perf_counter_ns()
        try:
            self._interpreter = Interpreter(model_path=str(path), num_threads=self._threads)
            self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ArtifactError(f"LiteRT cannot load {path}: {first_line(exc)}") from exc
        self.load_ms = (time.perf_counter_ns() - start) / 1e6
        inp, out = self._interpreter.get_input_details()[0], self._interpreter.get_output_details()[0]
        self._in, self._out = inp["index"], out["index"]
        self.input_spec = TensorSpec(inp["name"], tuple(int(d) for d in inp["shape"]), np.dtype(inp["dtype"]).name)
        self.output_spec = TensorSpec(out["name"], tuple(int(d) for d in out["shape"]), np.dtype(out["dtype"]).name)
        self.path, self.device, self.precision = str(path), device, "f32"
        self.precision_run = PrecisionRun("f32", "f32")

    def infer(self, tensor: np.ndarray) -> np.ndarray:
        """One frame in the input spec's shape and dtype -> the output tensor (a copy)."""
        tensor = self.check_input(tensor)
        try:
            self._interpreter.set_tensor(self._in, tensor)
            self._interpreter.invoke()
            return self._interpreter.get_tensor(self._out).copy()
        except (ValueError, RuntimeError) as exc:
            raise DeviceError(f"LiteRT inference failed: {first_line(exc)}") from exc

    def properties(self) -> Dict[str, Any]:
        return {"num_threads": self._threads, "delegate": "XNNPACK (the interpreter's default CPU delegate)"}
