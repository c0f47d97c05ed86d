"""Read and write frozen GraphDefs without importing Keras (TensorFlow protobufs only)."""

from __future__ import annotations

from pathlib import Path

from enet_edge.errors import ArtifactError


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
