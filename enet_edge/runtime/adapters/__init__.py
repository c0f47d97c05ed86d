"""Inference backends behind one small interface (OpenVINO, ONNX Runtime, TensorFlow frozen graph, Keras weights).

Task logic (pre/post-processing, benchmark, demo, evaluation) talks to :class:`InferenceAdapter`
only and never imports a concrete backend: :func:`open_adapter` looks the backend up in the table
(:mod:`enet_edge.runtime.backends`), checks file, device and precision there, and only then imports
the backend's adapter class. Backends import their framework when a model is opened, so this
package imports with numpy alone.

Tensors are NHWC. An adapter's :attr:`input_spec` says what it takes: the OpenVINO IR exported by
enet-edge takes uint8 BGR (1,H,W,3); ONNX and frozen graphs take float32 BGR 0..255 (1,H,W,3).
Every adapter returns logits (1,H,W,K) float32 NHWC.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from enet_edge.errors import ArtifactError
from enet_edge.runtime.adapters.base import InferenceAdapter, LayerCounter, TensorSpec
from enet_edge.runtime.adapters.onnxruntime import OnnxRuntimeAdapter
from enet_edge.runtime.adapters.openvino import (
    MYRIAD_HELP,
    VIRTUAL_DEVICES,
    OpenVINOAdapter,
    import_openvino,
    openvino_capabilities,
    openvino_devices,
    openvino_version,
    ov_message,
)
from enet_edge.runtime.adapters.tensorflow import TensorFlowAdapter
from enet_edge.runtime.backends import BACKENDS, KERAS_BACKEND, backend, backend_for

__all__ = [
    "BACKENDS", "KERAS_BACKEND", "MYRIAD_HELP", "VIRTUAL_DEVICES", "InferenceAdapter", "LayerCounter",
    "OnnxRuntimeAdapter", "OpenVINOAdapter", "TensorFlowAdapter", "TensorSpec", "import_openvino", "open_adapter",
    "openvino_capabilities", "openvino_devices", "openvino_version", "ov_message",
]


def open_adapter(path, backend: Optional[str] = None, device: str = "CPU", **options) -> InferenceAdapter:
    """Open ``path`` (.xml, .onnx, .pb, .npz) with ``backend`` (default: by file type; .onnx -> onnxruntime).

    ``options``: OpenVINO ``config``/``nireq``/``hint``/``perf_counters``; ONNX Runtime ``threads``;
    keras ``height``/``width`` (the weights' size by default); every backend ``precision``.
    """
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"model file {path} does not exist")
    row = backend_for(path) if backend is None else _backend(backend)
    row.check_file(path)
    row.check_precision(options.get("precision"))
    row.check_device(device)
    return row.load()(path, device, **options)


_backend = backend  # open_adapter's parameter shadows the table's function
