"""On-device inference: adapters for OpenVINO / ONNX Runtime / TensorFlow (frozen graph, Keras weights), and the task logic on top.

Imports without TensorFlow (numpy and OpenCV only; each backend imports its framework when used).
"""

from enet_edge.runtime.adapters import (
    BACKENDS,
    KERAS_BACKEND,
    InferenceAdapter,
    KerasWeightsAdapter,
    LayerCounter,
    OnnxRuntimeAdapter,
    OpenVINOAdapter,
    TensorFlowAdapter,
    TensorSpec,
    open_adapter,
    openvino_devices,
)
from enet_edge.runtime.manifest import Artifact, read_manifest, resolve_artifact, verify_artifact  # noqa: F401
from enet_edge.runtime.segmenter import AsyncPipeline, Segmentation, Segmenter  # noqa: F401
