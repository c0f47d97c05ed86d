"""TensorFlow frozen graph (.pb), f32 on the CPU; the only runtime module that imports TensorFlow, and only
inside its functions (a device install has none). Also reads and writes frozen GraphDefs for the export
side and ``enet-edge check`` (TensorFlow protobufs only, no Keras). Opened through
:func:`~enet_edge.runtime.adapters.open_adapter`, which checks the file, the device and the precision."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import numpy as np

from enet_edge.errors import ArtifactError, DeviceError
from enet_edge.runtime.adapters.base import InferenceAdapter, TensorSpec
from enet_edge.runtime.precision import PrecisionRun


class TensorFlowAdapter(InferenceAdapter):
    backend = "tensorflow"

    def __init__(self, path, device: str = "CPU", input_name: str = "image", output_name: str = "logits",
                 precision: Optional[str] = "f32"):
        try:
            import tensorflow as tf
        except ImportError as exc:
            raise DeviceError("the tensorflow backend needs TensorFlow: pip install 'enet-edge[export]'") from exc
        start = time.perf_counter_ns()
        graph_def = parse_graph_def(path)

        def _import():
            tf.compat.v1.import_graph_def(graph_def, name="")

        wrapped = tf.compat.v1.wrap_function(_import, [])
        try:
            x = wrapped.graph.get_tensor_by_name(f"{input_name}:0")
            y = wrapped.graph.get_tensor_by_name(f"{output_name}:0")
        except KeyError as exc:
            raise ArtifactError(f"{path} has no '{input_name}'/'{output_name}' node; was it exported by enet-edge?") from exc
        self._fn = wrapped.prune([x], [y])
        self._tf = tf
        self.load_ms = (time.perf_counter_ns() - start) / 1e6
        self.path, self.device, self.precision = str(path), device, "f32"
        self.precision_run = PrecisionRun("f32", "f32")
        self.input_spec = TensorSpec(input_name, tuple(int(d) for d in x.shape), x.dtype.name)
        self.output_spec = TensorSpec(output_name, tuple(int(d) for d in y.shape), y.dtype.name)

    def infer(self, tensor: np.ndarray) -> np.ndarray:
        tensor = self.check_input(tensor)
        return self._fn(self._tf.constant(tensor))[0].numpy()


def parse_graph_def(path):
    """Parse a binary frozen GraphDef (.pb); corrupt or truncated files raise :class:`ArtifactError`."""
    try:
        from tensorflow.core.framework import graph_pb2
    except ImportError as exc:
        raise ArtifactError(f"reading {path} needs TensorFlow: pip install 'enet-edge[export]'") from exc
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"frozen graph {path} does not exist")
    graph_def = graph_pb2.GraphDef()
    try:
        graph_def.ParseFromString(path.read_bytes())
    except Exception as exc:  # DecodeError or RuntimeError, depending on the protobuf backend
        raise ArtifactError(f"{path} is not a readable frozen GraphDef ({type(exc).__name__}); re-export it") from exc
    if not graph_def.node:
        raise ArtifactError(f"{path} contains no nodes; re-export it")
    return graph_def


def write_graph_def(graph_def, path) -> Path:
    path = Path(path)
    path.write_bytes(graph_def.SerializeToString())
    return path
