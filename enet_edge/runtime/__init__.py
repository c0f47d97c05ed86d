"""On-device inference: adapters for OpenVINO / ONNX Runtime / TensorFlow (frozen graph, Keras weights), and the task logic on top.

Imports without TensorFlow (numpy and OpenCV only; each backend imports its framework when used).
The backends are one table, :mod:`enet_edge.runtime.backends`.
"""

from enet_edge.runtime.adapters import (  # noqa: F401
    BACKENDS,
    KERAS_BACKEND,
    InferenceAdapter,
    LayerCounter,
    TensorSpec,
    open_adapter,
    openvino_devices,
)
from enet_edge.runtime.backends import Backend, RunRequest, adapter_options, backend, backend_for  # noqa: F401
from enet_edge.runtime.manifest import Artifact, read_manifest, resolve_artifact, verify_artifact  # noqa: F401
from enet_edge.runtime.segmenter import AsyncPipeline, Segmentation, Segmenter  # noqa: F401


def __getattr__(name):
    """The adapter classes (``OpenVINOAdapter``, ``KerasWeightsAdapter`` ...) load through the backend table on
    first use (``KerasWeightsAdapter`` lives on the workstation side: it builds the Keras model)."""
    from enet_edge.runtime import adapters

    return getattr(adapters, name)
