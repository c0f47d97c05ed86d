"""Compute cost of an OpenVINO model: multiply-accumulates per layer and weight count (like mvNCProfile's MFLOPs).

Counted from the IR itself, so any export (or any IR) can be described without TensorFlow:

* MACs of the layers that do the arithmetic: Convolution ``N*Cout*Hout*Wout * Cin*kh*kw``,
  GroupConvolution ``N*Cout*Hout*Wout * (Cin/G)*kh*kw``, ConvolutionBackpropData
  ``N*Cin*Hin*Win * Cout*kh*kw``, MatMul ``M*N*K``. Element-wise ops, pooling and data movement
  are not counted (they are memory-bound: their time shows in the per-layer counters, not here).
  FLOPs = 2 x MACs.
* weights: elements of the floating-point constants (f32/f16/bf16), i.e. the parameters as the IR
  holds them (batch norm already folded into the convolutions, so fewer than the trained model's).
* activations: elements of every tensor the model computes from its input (the outputs of all nodes but
  constants, constant-only subgraphs such as weight decompression, and views: Reshape, Squeeze, Unsqueeze,
  ShapeOf, Result), each counted once: what a one-pass memory stream would move (:mod:`enet_edge.runtime.roofline`).

The counts need static shapes; enet-edge exports have them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, Optional, Tuple

import numpy as np

from enet_edge.errors import ArtifactError

_FLOAT_TYPES = ("f32", "f16", "bf16", "f64")


@dataclass(frozen=True)
class LayerCost:
    """MACs of one IR node (``name`` is its friendly name, as OpenVINO's per-layer counters report it)."""

    name: str
    op_type: str
    macs: int

    @property
    def mflops(self) -> float:
        return 2 * self.macs / 1e6


@dataclass(frozen=True)
class Complexity:
    """Total MACs, the float weights the IR holds, the activation elements, and the MACs of every counted layer."""

    macs: int
    weights: int
    layers: Tuple[LayerCost, ...] = ()
    activations: int = 0

    @property
    def gmac(self) -> float:
        return self.macs / 1e9

    def by_name(self) -> Dict[str, LayerCost]:
        return {layer.name: layer for layer in self.layers}

    def to_dict(self) -> Dict[str, float]:
        """The summary for manifests and JSON documents (no per-layer list)."""
        return {"gmac": round(self.gmac, 4), "macs": self.macs, "gflops": round(2 * self.gmac, 4),
                "ir_weights": self.weights, "counted_layers": len(self.layers),
                "activation_elements": self.activations}


def _shape(port) -> Tuple[int, ...]:
    partial = port.get_partial_shape()
    if not partial.is_static:
        raise ArtifactError(f"cannot count MACs of a dynamic shape {partial}; complexity needs static shapes")
    return tuple(int(d) for d in port.get_shape())


def node_macs(op_type: str, inputs: Tuple[Tuple[int, ...], ...], output: Tuple[int, ...]) -> int:
    """MACs of one node from its input shapes (data, weights) and output shape; 0 for uncounted op types."""
    if op_type == "Convolution":  # weights (Cout, Cin, kh, kw), output (N, Cout, H, W)
        return int(np.prod(output, dtype=np.int64)) * int(np.prod(inputs[1][1:], dtype=np.int64))
    if op_type == "GroupConvolution":  # weights (G, Cout/G, Cin/G, kh, kw)
        return int(np.prod(output, dtype=np.int64)) * int(np.prod(inputs[1][2:], dtype=np.int64))
    if op_type == "ConvolutionBackpropData":  # data (N, Cin, H, W), weights (Cin, Cout, kh, kw)
        return int(np.prod(inputs[0], dtype=np.int64)) * int(np.prod(inputs[1][1:], dtype=np.int64))
    if op_type == "MatMul":  # output (..., M, N) * K; K = the contracted size of the first input
        k = inputs[0][-1] if len(inputs[0]) else 1
        return int(np.prod(output, dtype=np.int64)) * int(k)
    return 0


COUNTED = ("Convolution", "GroupConvolution", "ConvolutionBackpropData", "MatMul")
VIEWS = ("Reshape", "Squeeze", "Unsqueeze", "ShapeOf", "Result")
"""Node types whose output is a view of their input (or no tensor at all): not activations of their own."""


def model_complexity(model) -> Complexity:
    """:class:`Complexity` of an ``openvino.Model`` (read, not compiled)."""
    layers = []
    weights = activations = 0
    constant = set()  # nodes computed from constants only (weight decompression, folded shapes)
    for op in model.get_ordered_ops():
        op_type = op.get_type_name()
        if op_type == "Constant":
            constant.add(op.get_name())
            if op.get_output_element_type(0).get_type_name() in _FLOAT_TYPES:
                weights += int(np.prod(_shape(op.output(0)), dtype=np.int64))
            continue
        sources = [op.input_value(i).get_node().get_name() for i in range(op.get_input_size())]
        if sources and all(name in constant for name in sources):
            constant.add(op.get_name())
            continue
        if op_type not in VIEWS:
            activations += sum(int(np.prod(_shape(out), dtype=np.int64)) for out in op.outputs())
        if op_type not in COUNTED:
            continue
        inputs = tuple(_shape(op.input_value(i)) for i in range(op.get_input_size()))
        macs = node_macs(op_type, inputs, _shape(op.output(0)))
        layers.append(LayerCost(op.get_friendly_name(), op_type, macs))
    return Complexity(sum(layer.macs for layer in layers), weights, tuple(layers), activations)


def ir_complexity(path) -> Complexity:
    """:class:`Complexity` of an IR (.xml) or ONNX file, read with OpenVINO."""
    from enet_edge.runtime import adapters

    ov = adapters.import_openvino()
    try:
        model = ov.Core().read_model(str(Path(path)))
    except RuntimeError as exc:
        raise ArtifactError(f"OpenVINO cannot read {path}: {adapters.ov_message(exc)}") from exc
    return model_complexity(model)


def share_table(costs: Dict[str, LayerCost], times_us: Iterable[Tuple[str, float]]
                ) -> Dict[str, Tuple[Optional[float], Optional[float]]]:
    """Per layer name: (share of the counted MACs, share of the time), both in 0..1.

    ``times_us``: (layer name, real time in µs) of the executed layers, e.g. OpenVINO's counters. A
    layer without counted MACs (pooling, element-wise, reorders) gets None as its compute share.
    """
    times = list(times_us)
    total_time = sum(t for _, t in times) or 1.0
    total_macs = sum(c.macs for c in costs.values()) or 1
    return {name: (costs[name].macs / total_macs if name in costs else None, t / total_time) for name, t in times}
