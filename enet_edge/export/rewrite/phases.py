"""ONNX rewrites of the 2x2 phase shuffles (pooling switches, unpooling, upsampling interleaves) for the MYRIAD X
compiler, which builds each Slice, Concat and Transpose it reads as its own SHAVE stage or DMA copy. Each rewrite
takes an ``onnx.ModelProto`` (edited in place) and returns how many places it changed; the table is in
:mod:`enet_edge.export.rewrite.rewrites`.
"""

from __future__ import annotations

import numpy as np

from enet_edge.export.rewrite import graph as G


def _phase_source(node, producers, inits):
    """The packed (1, 4C, h, w) NCHW tensor a half of the slice interleave reads: ``Slice`` of NCHW channels then
    Transpose(0,2,3,1), or ``Slice`` of NHWC channels of Transpose(0,2,3,1)(NCHW); (name, C-half index) or None."""
    first = producers.get(node.input[0])
    sliced = first
    if first is not None and first.op_type == "Transpose" and G.perm(first) == (0, 2, 3, 1):
        sliced = producers.get(first.input[0])
        axis = 1
    else:
        axis = 3
    if sliced is None or sliced.op_type != "Slice":
        return None
    starts, axes = G.const(inits, sliced.input[1]), G.const(inits, sliced.input[3]) if len(sliced.input) > 3 else None
    if starts is None or axes is None or int(axes.reshape(-1)[0]) not in (axis, axis - 4):
        return None
    source = sliced.input[0]
    if axis == 3:  # NHWC source: it must be a Transpose of the NCHW tensor
        back = producers.get(source)
        if back is None or back.op_type != "Transpose" or G.perm(back) != (0, 2, 3, 1):
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
    producers, consumers = G.index(graph)
    inits = G.initializers(graph)
    count = 0
    for concat in [n for n in graph.node if n.op_type == "Concat" and G.attributes(n).get("axis") == 2]:
        users = consumers.get(concat.output[0], [])
        if len(concat.input) != 2 or len(users) != 1 or users[0] is None or users[0].op_type != "Reshape":
            continue
        final = users[0]
        halves = [_phase_source(producers.get(name), producers, inits) if producers.get(name) is not None
                  and producers[name].op_type == "Reshape" else None for name in concat.input]
        if None in halves or halves[0][0] != halves[1][0] or halves[0][1] != 0:
            continue
        source = halves[0][0]
        shape = G.const(inits, final.input[1])
        if shape is None or len(shape) != 4 or shape[0] != 1:
            continue
        _, height, width, channels = (int(v) for v in shape)
        if halves[1][1] != 2 * channels:
            continue
        after = consumers.get(final.output[0], [])
        to_nchw = len(after) == 1 and after[0] is not None and after[0].op_type == "Transpose" \
            and G.perm(after[0]) == (0, 3, 1, 2)
        perm, out_shape = ((2, 3, 0, 4, 1), (1, channels, height, width)) if to_nchw else \
            ((3, 0, 4, 1, 2), (1, height, width, channels))
        output = after[0].output[0] if to_nchw else final.output[0]
        bias_add = after[0] if len(after) == 1 and after[0] is not None and after[0].op_type == "Add" else None
        conv = producers.get(source)
        bias = G.const(inits, bias_add.input[1]) if bias_add is not None else None
        if (bias is not None and bias.size == channels and conv is not None and conv.op_type == "Conv"
                and conv.input[1] in inits and len(consumers.get(source, [])) == 2):
            # a bias added after the interleave is the conv's own bias, once per phase (a full-size Sum less)
            old = G.const(inits, conv.input[2]) if len(conv.input) > 2 else np.zeros(4 * channels, np.float32)
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
        G.insert(graph, position, nodes)
        count += 1
    if count:
        G.prune(graph)
    return count


def _compose_nchw(perm, channels: int, height: int, width: int):
    """The Transpose of the (2, 2, C, h, w) phases that writes NCHW (1, C, 2h, 2w) directly, when ``perm`` wrote NHWC
    (1, 2h, 2w, C) by way of a join Reshape: NHWC's axes (h, dy, w, dx, C) are the phases' ``perm``; NCHW wants
    (C, h, dy, w, dx)."""
    if tuple(perm) != (3, 0, 4, 1, 2):
        return None
    return (2, 3, 0, 4, 1), (1, channels, height, width)


def interleave_fold(model) -> int:
    """Per-channel work after an upsampling interleave moves in front of it: ``Conv -> interleave (Reshape, Transpose,
    Reshape to NHWC) -> Mul(s) -> Add(t) -> Relu -> Transpose(0,3,1,2)`` becomes ``Conv' -> Relu -> interleave to
    NCHW``, with the batch norm folded into the packed convolution (W' = W * s, b' = b * s + t, each of the four
    phase blocks) and the two Transposes composed into one. The interleave only moves values, so a per-channel op
    after it is the same op on each phase block before it. The MYRIAD X compiler ran the Mul, the Add+ReLU and the
    second Transpose as three full-size SHAVE stages; now the NCE runs the batch norm and ReLU in the convolution.
    Equal up to the rounding of the folded batch norm (as OpenVINO folds every other one)."""
    import onnx
    from onnx import numpy_helper

    graph = model.graph
    producers, consumers = G.index(graph)
    inits = G.initializers(graph)
    count = 0
    for transpose in [n for n in graph.node if n.op_type == "Transpose"]:
        split = producers.get(transpose.input[0])
        conv = producers.get(split.input[0]) if split is not None else None
        users = consumers.get(transpose.output[0], [])
        join = users[0] if len(users) == 1 else None
        if (split is None or split.op_type != "Reshape" or not G.plain_conv(conv, inits) or join is None
                or join.op_type != "Reshape" or not G.only_use(consumers, conv.output[0], split)):
            continue
        shape = G.const(inits, split.input[1])
        if shape is None or len(shape) != 5 or tuple(shape[:2]) != (2, 2):
            continue
        channels, height, width = int(shape[2]), 2 * int(shape[3]), 2 * int(shape[4])
        composed = _compose_nchw(G.perm(transpose), channels, height, width)
        if composed is None:
            continue
        scale, shift, relu, tail, last = np.ones(channels), np.zeros(channels), None, [], join
        while True:
            after = consumers.get(last.output[0], [])
            node = after[0] if len(after) == 1 else None
            if node is None:
                break
            value = G.const(inits, node.input[1]) if node.op_type in ("Mul", "Add") and len(node.input) == 2 else None
            if value is not None and value.size == channels and relu is None:
                value = value.reshape(-1).astype(np.float64)
                if node.op_type == "Mul":
                    scale, shift = scale * value, shift * value
                else:
                    shift = shift + value
            elif node.op_type == "Relu" and relu is None:
                relu = node
            elif node.op_type == "Transpose" and G.perm(node) == (0, 3, 1, 2):
                tail.append(node)
                last = node
                break
            else:
                break
            tail.append(node)
            last = node
        if not tail or tail[-1].op_type != "Transpose":
            continue  # only a chain that ends back in NCHW (the next convolution's input) is rewritten
        w = numpy_helper.to_array(inits[conv.input[1]]).astype(np.float64)
        b = numpy_helper.to_array(inits[conv.input[2]]).astype(np.float64) if len(conv.input) > 2 \
            else np.zeros(w.shape[0])
        s4, t4 = np.tile(scale, 4), np.tile(shift, 4)  # packed channel k*C + c is phase k of channel c
        folded_w = numpy_helper.from_array((w * s4[:, None, None, None]).astype(np.float32), f"{conv.name}/fold_w")
        folded_b = numpy_helper.from_array((b * s4 + t4).astype(np.float32), f"{conv.name}/fold_b")
        graph.initializer.extend([folded_w, folded_b])
        conv.input[1] = folded_w.name
        if len(conv.input) > 2:
            conv.input[2] = folded_b.name
        else:
            conv.input.append(folded_b.name)
        source = conv.output[0]
        if relu is not None:
            relu_out = f"{conv.name}/fold_relu"
            graph.node.insert(list(graph.node).index(conv) + 1,
                              onnx.helper.make_node("Relu", [source], [relu_out], name=f"{relu.name}/folded"))
            split.input[0] = relu_out
        perm, out_shape = composed
        del transpose.attribute[:]
        transpose.attribute.extend([onnx.helper.make_attribute("perm", list(perm))])
        nchw = numpy_helper.from_array(np.array(out_shape, np.int64), f"{join.name}/nchw")
        graph.initializer.append(nchw)
        join.input[1] = nchw.name
        output = tail[-1].output[0]
        for node in tail:
            graph.node.remove(node)
        join.output[0] = output
        count += 1
    if count:
        G.prune(graph)
    return count


def unpool_broadcast(model) -> int:
    """The unpooling's product without copies: ``Mul(Concat(y, y, y, y), switches)`` reshaped to the (2, 2, C, h, w)
    phases becomes ``Mul(Reshape(y, (1, 1, C, h, w)), Reshape(switches, (2, 2, C, h, w)))``, a broadcast product that
    writes the phases directly. The same products: bit-identical. The MYRIAD X compiler built the Concat as four DMA
    copies of y and the product over the copies."""
    import onnx
    from onnx import numpy_helper

    graph = model.graph
    producers, consumers = G.index(graph)
    inits = G.initializers(graph)
    count = 0
    for mul in [n for n in graph.node if n.op_type == "Mul" and len(n.input) == 2]:
        concat = producers.get(mul.input[0])
        users = consumers.get(mul.output[0], [])
        split = users[0] if len(users) == 1 else None
        if (concat is None or concat.op_type != "Concat" or len(concat.input) != 4 or len(set(concat.input)) != 1
                or G.attributes(concat).get("axis") not in (1, -3) or split is None or split.op_type != "Reshape"
                or not G.only_use(consumers, concat.output[0], mul) or mul.input[1] in inits):
            continue
        shape = G.const(inits, split.input[1])
        if shape is None or len(shape) != 5 or tuple(int(v) for v in shape[:2]) != (2, 2):
            continue
        one = numpy_helper.from_array(np.array([1, 1, *(int(v) for v in shape[2:])], np.int64), f"{mul.name}/one_phase")
        graph.initializer.append(one)
        nodes = [onnx.helper.make_node("Reshape", [concat.input[0], one.name], [f"{mul.name}/y"], name=f"{mul.name}/y"),
                 onnx.helper.make_node("Reshape", [mul.input[1], split.input[1]], [f"{mul.name}/switches"],
                                       name=f"{mul.name}/switches"),
                 onnx.helper.make_node("Mul", [f"{mul.name}/y", f"{mul.name}/switches"], [split.output[0]],
                                       name=f"{mul.name}/broadcast")]
        position = list(graph.node).index(mul)
        G.insert(graph, position, nodes)
        graph.node.remove(split)
        count += 1
    if count:
        G.prune(graph)
    return count


def _phase_slice(node, inits, shape):
    """(dy, dx) of a Slice that takes one 2x2 phase of its NCHW input of ``shape`` (steps 2 from dy, dx on H and W
    to the end, all of N and C), else None. tf2onnx writes ``x[:, dy::2, dx::2, :]`` of the NHWC graph so."""
    if node.op_type != "Slice" or len(node.input) < 5 or len(shape) != 4 or 0 in shape:
        return None
    starts, ends, axes, steps = (G.const(inits, name) for name in node.input[1:5])
    if any(v is None for v in (starts, ends, axes, steps)):
        return None
    by_axis = {int(a) % 4: (int(s), int(e), int(t)) for a, s, e, t in zip(axes, starts, ends, steps)}
    for axis in range(4):
        start, end, step = by_axis.get(axis, (0, shape[axis], 1))
        wanted_step = 2 if axis >= 2 else 1
        if step != wanted_step or end < shape[axis] or start not in ((0, 1) if axis >= 2 else (0,)):
            return None
    return by_axis[2][0], by_axis[3][0]


def phase_split(model) -> int:
    """The 2x2 phases of a pooled tensor in one pass: the strided Slices ``x[:, :, dy::2, dx::2]`` of one NCHW
    (1, C, H, W) tensor become ``Reshape(C, h, 2, w, 2) -> Transpose -> Reshape(1, 4C, h, w) -> Split`` (phase
    2*dy + dx is channel block k, a buffer view). Moves data only: bit-identical. The MYRIAD X compiler ran each
    Slice as a SHAVE stage reading the whole tensor; now one Permute reads it once."""
    import onnx
    import onnx.shape_inference
    from onnx import numpy_helper

    graph = model.graph
    producers, consumers = G.index(graph)
    inits = G.initializers(graph)
    if not any(node.op_type == "Slice" for node in graph.node):
        return 0
    inferred = onnx.shape_inference.infer_shapes(model).graph
    shapes = {vi.name: [d.dim_value for d in vi.type.tensor_type.shape.dim]
              for vi in list(inferred.value_info) + list(inferred.input)}
    groups = {}
    for node in graph.node:
        phase = _phase_slice(node, inits, shapes.get(node.input[0], []) if node.input else [])
        if phase is not None:
            groups.setdefault(node.input[0], []).append((phase, node))
    count = 0
    for source, slices in groups.items():
        shape = shapes.get(source, [])
        phases = {phase for phase, _ in slices}
        if (len(shape) != 4 or shape[0] != 1 or 0 in shape or shape[2] % 2 or shape[3] % 2
                or len(phases) != len(slices)):
            continue
        _, channels, height, width = shape
        name = f"{slices[0][1].name}/phases"
        fold = numpy_helper.from_array(np.array([channels, height // 2, 2, width // 2, 2], np.int64), f"{name}/fold")
        packed = numpy_helper.from_array(np.array([1, 4 * channels, height // 2, width // 2], np.int64),
                                         f"{name}/packed_shape")
        graph.initializer.extend([fold, packed])
        outputs = [f"{name}/{k}" for k in range(4)]
        for (dy, dx), node in slices:
            outputs[2 * dy + dx] = node.output[0]
        nodes = [onnx.helper.make_node("Reshape", [source, fold.name], [f"{name}/folded"], name=f"{name}/fold"),
                 onnx.helper.make_node("Transpose", [f"{name}/folded"], [f"{name}/moved"], name=f"{name}/transpose",
                                       perm=[2, 4, 0, 1, 3]),  # (C, h, dy, w, dx) -> (dy, dx, C, h, w)
                 onnx.helper.make_node("Reshape", [f"{name}/moved", packed.name], [f"{name}/packed"],
                                       name=f"{name}/pack"),
                 onnx.helper.make_node("Split", [f"{name}/packed"], outputs, name=f"{name}/split", axis=1)]
        # equal parts without a sizes input: OpenVINO's ONNX reader makes Split-1 of it (the MYRIAD table's row)
        position = min(list(graph.node).index(node) for _, node in slices)
        for _, node in slices:
            graph.node.remove(node)
        G.insert(graph, position, nodes)
        count += 1
    if count:
        G.prune(graph)
    return count
