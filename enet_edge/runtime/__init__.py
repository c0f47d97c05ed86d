"""On-device inference: adapters for OpenVINO / ONNX Runtime / TensorFlow. Imports without TensorFlow."""

from .adapters import (  # noqa: F401
    BACKENDS,
    InferenceAdapter,
    LayerCounter,
    OnnxRuntimeAdapter,
    OpenVINOAdapter,
    TensorFlowAdapter,
    TensorSpec,
    open_adapter,
    openvino_devices,
)
