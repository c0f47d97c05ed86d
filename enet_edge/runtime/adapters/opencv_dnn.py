"""OpenCV DNN: an .onnx file run by OpenCV's own DNN module (``cv2.dnn.readNetFromONNX``), cv2 imported when opened.

On the CPU it runs OpenCV's own kernels (``DNN_BACKEND_OPENCV``) in f32, or in f16 where the installed cv2 lists
``DNN_TARGET_CPU_FP16`` among its CPU targets (OpenCV >= 4.8 on CPUs with FP16 arithmetic, such as ARMv8.2; not
pip's x86 builds). ``-d MYRIAD`` asks for the Inference Engine backend (``DNN_BACKEND_INFERENCE_ENGINE``,
``DNN_TARGET_MYRIAD``, f16), which only a cv2 built with OpenVINO has (the OpenVINO archives' cv2, never pip's
opencv-python): where the build lacks it, a one-line :class:`DeviceError` says what to change. What ran is the
target set, checked against ``cv2.dnn.getAvailableTargets`` before the net is made, since OpenCV falls back to
its CPU target silently otherwise.

Input and output specs are read from the ONNX file itself (:func:`read_onnx_io`, protobuf wire format, no onnx
package): the export's ``image`` (1,H,W,3) float32 NHWC BGR 0..255 and ``logits`` (1,K,H,W) float32 NCHW (or
``class_map`` (1,H,W) int32). OpenCV 4.5 cannot read the export's ONNX (it has no ``Where``): a one-line
:class:`ArtifactError` names the node and the OpenCV that reads it (4.8 does). Opened through
:func:`~enet_edge.runtime.adapters.open_adapter`, which checks the file, the device and the precision.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import numpy as np

from enet_edge.errors import ArtifactError, DeviceError
from enet_edge.runtime.adapters.base import InferenceAdapter, TensorSpec, first_line
from enet_edge.runtime.precision import PrecisionRun

DNN_PLAN: Dict[Tuple[str, str], Tuple[str, str]] = {
    ("CPU", "f32"): ("DNN_BACKEND_OPENCV", "DNN_TARGET_CPU"),
    ("CPU", "f16"): ("DNN_BACKEND_OPENCV", "DNN_TARGET_CPU_FP16"),
    ("MYRIAD", "f16"): ("DNN_BACKEND_INFERENCE_ENGINE", "DNN_TARGET_MYRIAD"),
}
"""(device, precision) -> (cv2.dnn backend, cv2.dnn target) names."""
DEVICE_PRECISION = {"CPU": "f32", "MYRIAD": "f16"}
"""What a device runs when no precision is asked."""

ONNX_DTYPES = {1: "float32", 2: "uint8", 3: "int8", 5: "int16", 6: "int32", 7: "int64", 9: "bool", 10: "float16",
               11: "float64"}
"""ONNX ``TensorProto.DataType`` -> numpy dtype name."""


def import_cv2():
    """The cv2 module with its DNN; :class:`DeviceError` saying what to install otherwise."""
    try:
        import cv2
    except ImportError as exc:
        raise DeviceError("OpenCV is not installed: pip install opencv-python-headless") from exc
    if not hasattr(cv2, "dnn") or not hasattr(cv2.dnn, "readNetFromONNX"):
        raise DeviceError(f"this OpenCV ({cv2.__version__}) has no DNN module with an ONNX reader; "
                          f"pip install 'opencv-python-headless>=4.8'")
    return cv2


def dnn_targets(cv2, backend_name: str) -> Tuple[str, ...]:
    """The ``DNN_TARGET_*`` names the installed cv2 lists for ``backend_name`` (a ``DNN_BACKEND_*`` name); () where
    the build does not know that backend."""
    dnn = cv2.dnn
    if not hasattr(dnn, backend_name):
        return ()
    names = {getattr(dnn, n): n for n in dir(dnn) if n.startswith("DNN_TARGET_")}
    try:
        ids = dnn.getAvailableTargets(getattr(dnn, backend_name))
    except cv2.error:  # a backend the build was made without
        return ()
    return tuple(names.get(int(t), f"DNN_TARGET_{int(t)}") for t in ids)


def dnn_plan(cv2, device: str, precision: Optional[str]) -> Tuple[str, str, str]:
    """(backend name, target name, precision) to run ``device`` in ``precision`` (None: the device's) with this
    cv2; :class:`DeviceError`, one line saying what to change, where the build does not offer it."""
    device = device.upper()
    precision = precision or DEVICE_PRECISION.get(device, "f32")
    plan = DNN_PLAN.get((device, precision))
    if plan is None:
        raise DeviceError(f"the opencv backend runs CPU (f32, f16 where the build has it) or MYRIAD (f16), not "
                          f"{device} in {precision}; use --backend openvino for it")
    backend_name, target = plan
    available = dnn_targets(cv2, backend_name)
    if target in available:
        return backend_name, target, precision
    version = f"OpenCV {cv2.__version__}"
    if device == "MYRIAD":
        raise DeviceError(f"MYRIAD is not among {version}'s DNN targets ({backend_name}: "
                          f"{', '.join(available) or 'none'}): pip's opencv-python has no OpenVINO inside; use the "
                          f"cv2 of the OpenVINO 2022.3 archive (source setupvars.sh) with the stick plugged in, or "
                          f"--backend openvino -d MYRIAD")
    raise DeviceError(f"{version} has no {target} on this CPU (its CPU targets: {', '.join(available) or 'none'}): "
                      f"ask for f32 (or no precision), or run {precision} with --backend openvino")


class OpenCVDNNAdapter(InferenceAdapter):
    """An .onnx on OpenCV's DNN. ``device``: CPU or MYRIAD; ``precision``: f32 | f16 | None (the device's own).
    Input and output as the ONNX file holds them (the export's: (1,H,W,3) float32 NHWC BGR 0..255 -> (1,K,H,W)
    float32 NCHW logits)."""

    backend = "opencv"

    def __init__(self, path, device: str = "CPU", precision: Optional[str] = None):
        cv2 = import_cv2()
        path = Path(path)
        backend_name, target, ran = dnn_plan(cv2, device, precision)
        inputs, outputs = read_onnx_io(path)
        if len(inputs) != 1 or not outputs:
            raise ArtifactError(f"{path} has {len(inputs)} inputs and {len(outputs)} outputs; the opencv backend "
                                f"runs models with one input (enet-edge's exports)")
        self.input_spec, self.output_spec = inputs[0], outputs[0]
        start = time.perf_counter_ns()
        self._cv2, self._dnn = cv2, (backend_name, target)
        with _quiet(cv2):  # OpenCV's own log lines (errors come back as one line)
            self._net = _read_net(cv2, path, classic=backend_name != "DNN_BACKEND_OPENCV")
            self._net.setPreferableBackend(getattr(cv2.dnn, backend_name))
            self._net.setPreferableTarget(getattr(cv2.dnn, target))
            try:  # OpenCV builds the net on the first forward: load time includes it, as OpenVINO's compile
                self._forward(np.zeros(self.input_spec.shape, self.input_spec.dtype))
            except DeviceError as exc:
                raise ArtifactError(f"OpenCV {cv2.__version__}'s DNN cannot run {path}: {exc}") from None
        self.load_ms = (time.perf_counter_ns() - start) / 1e6
        self.path, self.device, self.precision = str(path), device.upper(), ran
        self.precision_run = PrecisionRun(precision, ran, device=self.device)  # requested None: the device's own

    def infer(self, tensor: np.ndarray) -> np.ndarray:
        """One frame per :attr:`input_spec` -> the output per :attr:`output_spec` (its shape and dtype)."""
        return self._forward(self.check_input(tensor))

    def _forward(self, tensor: np.ndarray) -> np.ndarray:
        spec = self.output_spec
        try:
            self._net.setInput(tensor)
            out = np.asarray(self._net.forward(spec.name))
        except self._cv2.error as exc:
            raise DeviceError(f"OpenCV DNN inference failed: {cv2_message(exc)}") from exc
        if out.size != int(np.prod(spec.shape)):
            raise DeviceError(f"OpenCV DNN returned {spec.name} {out.shape}, not the model's {spec.shape}")
        return out.reshape(spec.shape).astype(spec.dtype, copy=False)

    def properties(self) -> Dict[str, Any]:
        return {"opencv": self._cv2.__version__, "dnn_backend": self._dnn[0], "dnn_target": self._dnn[1],
                "threads": int(self._cv2.getNumThreads())}


@contextlib.contextmanager
def _quiet(cv2) -> Iterator[None]:
    """OpenCV's log silenced for the block: cv2.utils.logging where the build has it (OpenCV >= 4.6), else the
    process's stderr (file descriptor 2) sent to /dev/null meanwhile (OpenCV 4.5 logs there from C++)."""
    logging = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging is None:
        sys.stderr.flush()
        saved = os.dup(2)
        try:
            with open(os.devnull, "wb") as null:
                os.dup2(null.fileno(), 2)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        return
    level = logging.getLogLevel()
    logging.setLogLevel(logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        logging.setLogLevel(level)


def _read_net(cv2, path: Path, classic: bool):
    """cv2.dnn's net of ``path``. ``classic``: OpenCV 5's classic engine (its new one runs OpenCV's CPU backend
    only); older OpenCV have the classic one alone."""
    try:
        if classic and hasattr(cv2.dnn, "ENGINE_CLASSIC"):
            return cv2.dnn.readNetFromONNX(str(path), cv2.dnn.ENGINE_CLASSIC)
        return cv2.dnn.readNetFromONNX(str(path))
    except cv2.error as exc:
        raise ArtifactError(f"OpenCV {cv2.__version__}'s DNN cannot read {path}: {cv2_message(exc)}; OpenCV >= 4.8 "
                            f"reads enet-edge's exports (pip install 'opencv-python-headless>=4.8'), or use "
                            f"--backend openvino") from None


_NODE = re.compile(r"Node \[([^\]]+)\]:\(([^)]*)\)\s*(?:parse error: )?(.*)")
_PREFIX = re.compile(r"^OpenCV\([^)]*\)\s+\S+:\s*error:\s*\([^)]*\)\s*")


def cv2_message(exc: BaseException) -> str:
    """A cv2.error as one line: the ONNX node it failed at (``node Where 'name'``) where it names one, else its
    first line without OpenCV's source location."""
    text = str(exc)
    node = _NODE.search(text)
    if node:
        op, name, rest = node.group(1).split("@")[0], node.group(2), _PREFIX.sub("", node.group(3).strip())
        rest = re.sub(r"\s*in function '[^']*'$", "", rest)
        return f"node {op} {name!r}" + (f": {rest}" if rest and not rest.startswith("in function") else "")
    for line in text.strip().splitlines():
        line = _PREFIX.sub("", line.strip().lstrip("> "))
        if line:
            return line
    return first_line(exc)


# ------------------------------------------------------------------------------------------------------------
# the graph's inputs and outputs, from the ONNX protobuf's wire format (no onnx package on a device)

def _varint(buf: bytes, i: int) -> Tuple[int, int]:
    value = shift = 0
    while True:
        if i >= len(buf):
            raise ValueError("truncated varint")
        byte = buf[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, i
        shift += 7


def _fields(buf: bytes, start: int = 0, end: Optional[int] = None) -> Iterator[Tuple[int, Any]]:
    """(field number, value) of a protobuf message in ``buf[start:end]``: an int for varints and fixed fields, a
    (start, end) pair for length-delimited ones."""
    i, end = start, len(buf) if end is None else end
    while i < end:
        key, i = _varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 2:
            size, i = _varint(buf, i)
            value, i = (i, i + size), i + size
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            value, i = int.from_bytes(buf[i:i + size], "little"), i + size
        else:
            raise ValueError(f"wire type {wire}")
        if i > end:
            raise ValueError("truncated message")
        yield number, value


def _value_info(buf: bytes, span: Tuple[int, int]) -> Tuple[str, Optional[int], List[Any]]:
    """ValueInfoProto -> (name, elem_type, dims: int or a dim_param string or None)."""
    name, elem, dims = "", None, []
    for number, value in _fields(buf, *span):
        if number == 1:
            name = bytes(buf[value[0]:value[1]]).decode("utf-8")
        elif number == 2:  # TypeProto
            for n2, tensor in _fields(buf, *value):
                if n2 != 1:  # tensor_type
                    continue
                for n3, v3 in _fields(buf, *tensor):
                    if n3 == 1:
                        elem = v3
                    elif n3 == 2:  # TensorShapeProto
                        for n4, dim in _fields(buf, *v3):
                            if n4 != 1:
                                continue
                            size: Any = None
                            for n5, v5 in _fields(buf, *dim):
                                size = v5 if n5 == 1 else bytes(buf[v5[0]:v5[1]]).decode("utf-8") if n5 == 2 \
                                    else size
                            dims.append(size)
    return name, elem, dims


def read_onnx_io(path) -> Tuple[List[TensorSpec], List[TensorSpec]]:
    """The graph inputs (initializers left out) and outputs of an .onnx file as :class:`TensorSpec` (static shapes,
    numpy dtype names; inputs NHWC as enet-edge exports them). :class:`ArtifactError` for a file that is not an ONNX
    model, a dynamic shape or an element type numpy has no name for."""
    path = Path(path)
    buf = path.read_bytes()
    try:
        graph = next((value for number, value in _fields(buf) if number == 7), None)
        if graph is None:
            raise ValueError("no graph")
        raw_inputs, raw_outputs, initializers = [], [], set()
        for number, value in _fields(buf, *graph):
            if number == 11:
                raw_inputs.append(_value_info(buf, value))
            elif number == 12:
                raw_outputs.append(_value_info(buf, value))
            elif number == 5:  # TensorProto: its name is field 8
                initializers.update(bytes(buf[v[0]:v[1]]).decode("utf-8") for n, v in _fields(buf, *value) if n == 8)
    except (ValueError, UnicodeDecodeError, TypeError) as exc:
        raise ArtifactError(f"{path} is not a readable ONNX model ({exc}): truncated or another format; re-export")
    specs = []
    for kind, raw in (("input", [r for r in raw_inputs if r[0] not in initializers]), ("output", raw_outputs)):
        specs.append([_spec(path, kind, *r) for r in raw])
    return specs[0], specs[1]


def _spec(path: Path, kind: str, name: str, elem: Optional[int], dims: List[Any]) -> TensorSpec:
    if not dims or not all(isinstance(d, int) and d > 0 for d in dims):
        raise ArtifactError(f"{path}: {kind} {name} has a dynamic shape {dims}; enet-edge runs static-shape models "
                            f"only (re-export with --height/--width)")
    if elem not in ONNX_DTYPES:
        raise ArtifactError(f"{path}: {kind} {name} has ONNX element type {elem}, which the opencv backend does not "
                            f"run")
    return TensorSpec(name, tuple(dims), ONNX_DTYPES[elem])
