"""On-device inference: adapters for OpenVINO / ONNX Runtime / TensorFlow (frozen graph, Keras weights), and the task logic on top.

Imports without TensorFlow (numpy and OpenCV only; each backend imports its framework when used).
The backends are one table, :mod:`enet_edge.runtime.backends`.
"""

from enet_edge.runtime.adapters import (
    BACKENDS,
    KERAS_BACKEND,
    InferenceAdapter,
    LayerCounter,
    OnnxRuntimeAdapter,
    OpenVINOAdapter,
    TensorFlowAdapter,
    TensorSpec,
    open_adapter,
    openvino_devices,
)
from enet_edge.runtime.backends import Backend, backend, backend_for  # noqa: F401
from enet_edge.runtime.manifest import Artifact, read_manifest, resolve_artifact, verify_artifact  # noqa: F401
from enet_edge.runtime.segmenter import AsyncPipeline, Segmentation, Segmenter  # noqa: F401


def __getattr__(name):
    """``KerasWeightsAdapter`` lives on the workstation side (it builds the Keras model): imported on first use."""
    if name == "KerasWeightsAdapter":
        return backend(KERAS_BACKEND).load()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
