"""The interface every backend implements: :class:`InferenceAdapter`, with its tensor and counter records.

Imports numpy alone. Inputs are NHWC; every adapter returns the model's output: logits (1,K,H,W) NCHW or (1,H,W,K)
float32 NHWC, or, for a class-map export, class ids (1,H,W) int32/uint8 (the arg-max ran in the model).
"""

from __future__ import annotations

import abc
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from enet_edge.errors import InputError
from enet_edge.runtime.precision import PrecisionRun


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


def c_strided(array: np.ndarray) -> np.ndarray:
    """``array`` as a C-contiguous array whose strides are the C-order ones, in every dimension.

    NumPy calls ``frame[None]`` C-contiguous although its new axis has stride 0 (a size-1 axis may have any
    stride). OpenVINO 2022.3, the NCS2 release, refuses such a tensor when it wraps the memory
    (``Tensor(..., shared_memory=True)``: "Stride in 0-th dimension is not valid"); newer releases accept it.
    Zero-copy when the data is already contiguous and writeable (current OpenVINO wraps writeable memory only).
    """
    array = np.ascontiguousarray(array)
    if not array.flags.writeable:
        array = array.copy()
    strides, step = [], array.itemsize
    for size in reversed(array.shape):
        strides.append(step)
        step *= size
    strides = tuple(reversed(strides))
    if array.strides == strides:
        return array
    return np.lib.stride_tricks.as_strided(array, shape=array.shape, strides=strides)


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
        """Validate shape and dtype against :attr:`input_spec`; returns a C-contiguous array with C strides."""
        spec = self.input_spec
        if not isinstance(tensor, np.ndarray):
            raise InputError(f"input must be a numpy array, got {type(tensor).__name__}")
        if tuple(tensor.shape) != tuple(spec.shape):
            raise InputError(f"input shape {tuple(tensor.shape)} does not match the model's {tuple(spec.shape)} "
                             f"({spec.layout}); resize frames to {spec.width}x{spec.height}")
        if tensor.dtype != np.dtype(spec.dtype):
            raise InputError(f"input dtype {tensor.dtype} does not match the model's {spec.dtype}")
        return c_strided(tensor)

    @abc.abstractmethod
    def infer(self, tensor: np.ndarray) -> np.ndarray:
        """Synchronous inference: ``tensor`` per :attr:`input_spec` -> the output per :attr:`output_spec`: logits
        (1,K,H,W) NCHW or (1,H,W,K) NHWC float32, or class ids (1,H,W)."""

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


class InOrderRequests:
    """Completion of an adapter's async requests in submission order (the OpenVINO adapters' queue). The adapter
    holds ``_free`` and ``_inflight`` (deques; None before its pool exists), makes its pool in ``_ensure_pool`` and
    completes the oldest request in ``_complete_oldest(block)`` (False where it is not done yet and not ``block``)."""

    _free: Any = None
    _inflight: Any = None

    def _ensure_pool(self) -> None:
        """Create the request pool where it is made lazily; nothing by default."""

    def _complete_oldest(self, block: bool) -> bool:
        raise NotImplementedError

    def wait_idle(self) -> None:
        """Collect what has ended; block for the oldest request while none is free."""
        self._ensure_pool()
        while self._inflight and self._complete_oldest(block=False):
            pass
        if not self._free:
            self._complete_oldest(block=True)

    def wait_all(self) -> None:
        while self._inflight:
            self._complete_oldest(block=True)


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (a framework's multi-line error as one line), else its type."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
