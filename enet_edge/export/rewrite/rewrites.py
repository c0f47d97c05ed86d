"""Rewrites of the ONNX graph for a target's compiler, in a table keyed by name (a target's ``[onnx] rewrites``).

Each rewrite takes an ``onnx.ModelProto`` (edited in place) and returns how many places it changed. They exist for
the MYRIAD X compiler, which builds what it reads, op by op: OpenVINO 2021.4's ONNX reader keeps
``relu(x) - a * relu(-x)`` as four SHAVE stages (Relu, Power, Relu, ScaleShift, then a Sum), while the Model
Optimizer of 2022+ fuses it into one PReLU when it writes ``enet.xml``.

``prelu``
    ``Sub(Relu(x), Mul(Relu(Neg(x)), a))`` -> ``PRelu(x, a)``. Bit-identical: for x < 0 both give a*x exactly,
    for x >= 0 both give x.
``prelu_split``
    A PReLU between two convolutions, ``Conv2(PRelu(Conv1(x), a))``, becomes ``Conv2'(Relu(Conv1'(x)))`` with
    Conv1' = [W; -W], bias [b; -b] (outputs y and -y) and Conv2' = [V, -V diag(a)]: V relu(y) - V a relu(-y)
    = V prelu(y), padding included (zeros on both halves). The NCE fuses a ReLU into its convolution but never a
    per-channel PReLU, so the PReLU's SHAVE stage goes and the NCE does twice the first convolution's outputs.
    Equal up to float rounding (the second convolution sums twice the terms): parity-checked, not bit-identical.
    Only where both convolutions run on the NCE: the compiler runs a dilated convolution on SHAVEs (unless
    ``MYRIAD_HW_DILATION=YES``), where no ReLU fuses and doubled channels only double the SHAVE's traffic. The ncs2
    target no longer applies it: the MYRIAD X time model predicts the doubled NCE work slower than the PReLU stages
    it saves (the compile table's ``prelu-split`` row, docs/ncs2.md).

The phase rewrites (``interleave_transpose``, ``interleave_fold``, ``unpool_broadcast``, ``phase_split``) are in
:mod:`enet_edge.export.rewrite.phases`.
"""

from __future__ import annotations

from typing import Callable, Dict, Optional

import numpy as np

from enet_edge.export.rewrite import graph as G
from enet_edge.export.rewrite.phases import interleave_fold, interleave_transpose, phase_split, unpool_broadcast


def fuse_prelu(model) -> int:
    """``Sub(Relu(x), Mul(Relu(Neg(x)), a))`` (Mul's inputs in either order) -> ``PRelu(x, a)``, named as the Sub."""
    import onnx

    graph = model.graph
    producers, consumers = G.index(graph)
    inits = G.initializers(graph)
    count = 0
    for sub in [n for n in graph.node if n.op_type == "Sub"]:
        relu, mul = (producers.get(name) for name in sub.input)
        if relu is None or mul is None or relu.op_type != "Relu" or mul.op_type != "Mul":
            continue
        x = relu.input[0]
        slope = next((name for name in mul.input if name in inits), None)
        other = [name for name in mul.input if name != slope]
        if slope is None or len(other) != 1:
            continue
        relu_neg = producers.get(other[0])
        neg = producers.get(relu_neg.input[0]) if relu_neg is not None and relu_neg.op_type == "Relu" else None
        if neg is None or neg.op_type != "Neg" or neg.input[0] != x:
            continue
        if not (G.only_use(consumers, mul.output[0], sub) and G.only_use(consumers, relu_neg.output[0], mul)
                and G.only_use(consumers, neg.output[0], relu_neg) and G.only_use(consumers, relu.output[0], sub)):
            continue
        G.replace(graph, sub, onnx.helper.make_node("PRelu", [x, slope], [sub.output[0]], name=sub.name))
        count += 1
    if count:
        G.prune(graph)
    return count


def _nce_conv(node, inits) -> bool:
    """A plain convolution (:func:`.graph.plain_conv`) without dilation: the MYRIAD X compiler's NCE takes it."""
    return G.plain_conv(node, inits) and all(int(d) == 1 for d in G.attributes(node).get("dilations", (1, 1)))


def split_prelu(model) -> int:
    """``Conv2(PRelu(Conv1(x), a))`` -> ``Conv2'(Relu(Conv1'(x)))`` where Conv1's output feeds only the PReLU, the
    PReLU's only the second convolution, and neither convolution is dilated (see the module docstring)."""
    import onnx
    from onnx import numpy_helper

    graph = model.graph
    producers, consumers = G.index(graph)
    inits = G.initializers(graph)
    count = 0
    for prelu in [n for n in graph.node if n.op_type == "PRelu"]:
        first = producers.get(prelu.input[0])
        users = consumers.get(prelu.output[0], [])
        second = users[0] if len(users) == 1 else None
        if not (_nce_conv(first, inits) and _nce_conv(second, inits) and prelu.input[1] in inits
                and G.only_use(consumers, first.output[0], prelu) and second.input[0] == prelu.output[0]):
            continue
        w = numpy_helper.to_array(inits[first.input[1]])
        b = numpy_helper.to_array(inits[first.input[2]]) if len(first.input) > 2 else np.zeros(w.shape[0], w.dtype)
        v = numpy_helper.to_array(inits[second.input[1]])
        a = numpy_helper.to_array(inits[prelu.input[1]]).reshape(-1)
        channels = w.shape[0]
        if a.size not in (1, channels) or v.shape[1] != channels:
            continue
        a = np.broadcast_to(a, (channels,)).astype(v.dtype)
        new = {
            first.input[1]: np.concatenate([w, -w], axis=0),
            f"{first.name}/split_bias": np.concatenate([b, -b]),
            second.input[1]: np.concatenate([v, -v * a[None, :, None, None]], axis=1),
        }
        for name, value in new.items():
            tensor = numpy_helper.from_array(np.ascontiguousarray(value), f"{name}/prelu_split")
            graph.initializer.append(tensor)
            inits[tensor.name] = tensor  # a convolution can be the second of one PReLU and the first of the next
        first.input[1] = f"{first.input[1]}/prelu_split"
        if len(first.input) > 2:
            first.input[2] = f"{first.name}/split_bias/prelu_split"
        else:
            first.input.append(f"{first.name}/split_bias/prelu_split")
        second.input[1] = f"{second.input[1]}/prelu_split"
        G.replace(graph, prelu, onnx.helper.make_node("Relu", [prelu.input[0]], [prelu.output[0]],
                                                     name=f"{prelu.name}/split_relu"))
        count += 1
    if count:
        G.prune(graph)
    return count




REWRITES: Dict[str, Callable[[object], int]] = {
    "prelu": fuse_prelu,
    "prelu_split": split_prelu,
    "interleave_transpose": interleave_transpose,
    "interleave_fold": interleave_fold,
    "unpool_broadcast": unpool_broadcast,
    "phase_split": phase_split,
}
"""Rewrite name -> function(model) -> places changed, applied in the order a target lists them."""


def apply_rewrites(model, names, log: Optional[Callable[[str], None]] = None) -> Dict[str, int]:
    """Apply the rewrites ``names`` in order; returns name -> places changed."""
    done = {}
    for name in names:
        done[name] = REWRITES[name](model)
        if log is not None:
            log(f"  onnx rewrite {name}: {done[name]} place(s)")
    return done
