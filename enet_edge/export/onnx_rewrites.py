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
"""

from __future__ import annotations

from typing import Callable, Dict, List, Optional

import numpy as np


def _index(graph):
    producers = {out: node for node in graph.node for out in node.output}
    consumers: Dict[str, List] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    for output in graph.output:
        consumers.setdefault(output.name, []).append(None)  # a graph output counts as a use
    return producers, consumers


def _initializers(graph) -> Dict[str, object]:
    return {init.name: init for init in graph.initializer}


def _only_use(consumers, name: str, node) -> bool:
    return consumers.get(name, []) == [node]


def _prune(graph) -> None:
    """Remove nodes whose outputs nobody uses (repeated until none), then unused initializers."""
    while True:
        _, consumers = _index(graph)
        dead = [n for n in graph.node if not any(consumers.get(o) for o in n.output)]
        if not dead:
            break
        for node in dead:
            graph.node.remove(node)
    used = {name for node in graph.node for name in node.input} | {o.name for o in graph.output}
    for init in [i for i in graph.initializer if i.name not in used]:
        graph.initializer.remove(init)


def _replace(graph, old, new) -> None:
    """Put node ``new`` where ``old`` stands in the graph's (topological) node list, and drop ``old``."""
    graph.node.insert(list(graph.node).index(old), new)
    graph.node.remove(old)


def fuse_prelu(model) -> int:
    """``Sub(Relu(x), Mul(Relu(Neg(x)), a))`` (Mul's inputs in either order) -> ``PRelu(x, a)``, named as the Sub."""
    import onnx

    graph = model.graph
    producers, consumers = _index(graph)
    inits = _initializers(graph)
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
        if not (_only_use(consumers, mul.output[0], sub) and _only_use(consumers, relu_neg.output[0], mul)
                and _only_use(consumers, neg.output[0], relu_neg) and _only_use(consumers, relu.output[0], sub)):
            continue
        _replace(graph, sub, onnx.helper.make_node("PRelu", [x, slope], [sub.output[0]], name=sub.name))
        count += 1
    if count:
        _prune(graph)
    return count


def _attributes(node) -> Dict[str, object]:
    import onnx

    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _plain_conv(node, inits) -> bool:
    """A Conv with constant weights (and bias), one group."""
    return (node is not None and node.op_type == "Conv" and node.input[1] in inits
            and (len(node.input) < 3 or node.input[2] in inits) and _attributes(node).get("group", 1) == 1)


def split_prelu(model) -> int:
    """``Conv2(PRelu(Conv1(x), a))`` -> ``Conv2'(Relu(Conv1'(x)))`` where Conv1's output feeds only the PReLU and the
    PReLU's only the second convolution (see the module docstring)."""
    import onnx
    from onnx import numpy_helper

    graph = model.graph
    producers, consumers = _index(graph)
    inits = _initializers(graph)
    count = 0
    for prelu in [n for n in graph.node if n.op_type == "PRelu"]:
        first = producers.get(prelu.input[0])
        users = consumers.get(prelu.output[0], [])
        second = users[0] if len(users) == 1 else None
        if not (_plain_conv(first, inits) and _plain_conv(second, inits) and prelu.input[1] in inits
                and _only_use(consumers, first.output[0], prelu) and second.input[0] == prelu.output[0]):
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
        _replace(graph, prelu, onnx.helper.make_node("Relu", [prelu.input[0]], [prelu.output[0]],
                                                     name=f"{prelu.name}/split_relu"))
        count += 1
    if count:
        _prune(graph)
    return count


def _const(inits, name):
    from onnx import numpy_helper

    return numpy_helper.to_array(inits[name]) if name in inits else None


def _perm(node):
    return tuple(_attributes(node).get("perm", ()))


def _phase_source(node, producers, inits):
    """The packed (1, 4C, h, w) NCHW tensor a half of the slice interleave reads: ``Slice`` of NCHW channels then
    Transpose(0,2,3,1), or ``Slice`` of NHWC channels of Transpose(0,2,3,1)(NCHW); (name, C-half index) or None."""
    first = producers.get(node.input[0])
    sliced = first
    if first is not None and first.op_type == "Transpose" and _perm(first) == (0, 2, 3, 1):
        sliced = producers.get(first.input[0])
        axis = 1
    else:
        axis = 3
    if sliced is None or sliced.op_type != "Slice":
        return None
    starts, axes = _const(inits, sliced.input[1]), _const(inits, sliced.input[3]) if len(sliced.input) > 3 else None
    if starts is None or axes is None or int(axes.reshape(-1)[0]) not in (axis, axis - 4):
        return None
    source = sliced.input[0]
    if axis == 3:  # NHWC source: it must be a Transpose of the NCHW tensor
        back = producers.get(source)
        if back is None or back.op_type != "Transpose" or _perm(back) != (0, 2, 3, 1):
            return None
        source = back.input[0]
    return source, int(starts.reshape(-1)[0])


def interleave_transpose(model) -> int:
    """The 2x2 phase interleave as one Transpose: ``Concat(axis 2)`` of the two channel halves of a packed (1,4C,h,w)
    tensor (each sliced, moved to NHWC and reshaped to (1,h,2w,C)), reshaped to (1,2h,2w,C), becomes
    ``Reshape(2,2,C,h,w) -> Transpose -> Reshape`` of the packed tensor; when a Transpose back to NCHW follows, the
    one Transpose writes NCHW directly. Moves data only: bit-identical. The MYRIAD X compiler built the slice form
    as Permutes plus DMA copies into the concatenation; this is one Permute. A constant per-channel bias added after
    the interleave (the last upsampling's) moves into the packed convolution's bias, four times (one full-size Sum
    less; equal up to the rounding of where the bias is added)."""
    import onnx
    from onnx import numpy_helper

    graph = model.graph
    producers, consumers = _index(graph)
    inits = _initializers(graph)
    count = 0
    for concat in [n for n in graph.node if n.op_type == "Concat" and _attributes(n).get("axis") == 2]:
        users = consumers.get(concat.output[0], [])
        if len(concat.input) != 2 or len(users) != 1 or users[0] is None or users[0].op_type != "Reshape":
            continue
        final = users[0]
        halves = [_phase_source(producers.get(name), producers, inits) if producers.get(name) is not None
                  and producers[name].op_type == "Reshape" else None for name in concat.input]
        if None in halves or halves[0][0] != halves[1][0] or halves[0][1] != 0:
            continue
        source = halves[0][0]
        shape = _const(inits, final.input[1])
        if shape is None or len(shape) != 4 or shape[0] != 1:
            continue
        _, height, width, channels = (int(v) for v in shape)
        if halves[1][1] != 2 * channels:
            continue
        after = consumers.get(final.output[0], [])
        to_nchw = len(after) == 1 and after[0] is not None and after[0].op_type == "Transpose" \
            and _perm(after[0]) == (0, 3, 1, 2)
        perm, out_shape = ((2, 3, 0, 4, 1), (1, channels, height, width)) if to_nchw else \
            ((3, 0, 4, 1, 2), (1, height, width, channels))
        output = after[0].output[0] if to_nchw else final.output[0]
        bias_add = after[0] if len(after) == 1 and after[0] is not None and after[0].op_type == "Add" else None
        conv = producers.get(source)
        bias = _const(inits, bias_add.input[1]) if bias_add is not None else None
        if (bias is not None and bias.size == channels and conv is not None and conv.op_type == "Conv"
                and conv.input[1] in inits and len(consumers.get(source, [])) == 2):
            # a bias added after the interleave is the conv's own bias, once per phase (a full-size Sum less)
            old = _const(inits, conv.input[2]) if len(conv.input) > 2 else np.zeros(4 * channels, np.float32)
            folded = numpy_helper.from_array((old + np.tile(bias.reshape(-1), 4)).astype(np.float32),
                                             f"{conv.name}/interleave_bias")
            graph.initializer.append(folded)
            if len(conv.input) > 2:
                conv.input[2] = folded.name
            else:
                conv.input.append(folded.name)
            output = bias_add.output[0]
            graph.node.remove(bias_add)
        name = f"{concat.name}/interleave"
        split = numpy_helper.from_array(np.array([2, 2, channels, height // 2, width // 2], np.int64), f"{name}/split")
        joined = numpy_helper.from_array(np.array(out_shape, np.int64), f"{name}/shape")
        graph.initializer.extend([split, joined])
        nodes = [onnx.helper.make_node("Reshape", [source, split.name], [f"{name}/phases"], name=f"{name}/split"),
                 onnx.helper.make_node("Transpose", [f"{name}/phases"], [f"{name}/moved"], name=f"{name}/transpose",
                                       perm=list(perm)),
                 onnx.helper.make_node("Reshape", [f"{name}/moved", joined.name], [output], name=f"{name}/join")]
        replaced = after[0] if to_nchw else final
        position = list(graph.node).index(replaced)
        graph.node.remove(replaced)
        if to_nchw:
            graph.node.remove(final)
            position = list(graph.node).index(concat)
        for offset, node in enumerate(nodes):
            graph.node.insert(position + offset, node)
        count += 1
    if count:
        _prune(graph)
    return count


REWRITES: Dict[str, Callable[[object], int]] = {
    "prelu": fuse_prelu,
    "prelu_split": split_prelu,
    "interleave_transpose": interleave_transpose,
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
