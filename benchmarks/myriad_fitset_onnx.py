"""ONNX graphs written by hand for the MYRIAD X fit set: torchvision's ResNet-18, ResNet-50 and MobileNetV2 layer by
layer (NCHW, opset 11, eval mode: batch norms folded into the convolutions as ``torch.onnx.export`` writes them),
and a pass that folds tf2onnx's per-channel Mul/Add after a Conv into the Conv (what the Model Optimizer does).

Weights are random: the MYRIAD X compiler builds the same graph whatever the weight values.
"""

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 11


class Graph:
    """A growing list of ONNX nodes and initializers with fresh names."""

    def __init__(self, seed=0, tag=""):
        self.nodes, self.inits, self.count, self.tag = [], [], 0, tag
        self.rng = np.random.default_rng(seed)

    def name(self, prefix):
        self.count += 1
        return "%s%s_%d" % (self.tag, prefix, self.count)

    def const(self, array, prefix="c"):
        name = self.name(prefix)
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def op(self, op_type, inputs, **attrs):
        out = self.name(op_type.lower())
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], name=out, **attrs))
        return out

    def conv(self, x, cin, cout, k, stride=1, pad=0, groups=1):
        w = self.const((self.rng.standard_normal((cout, cin // groups, k, k)) * 0.05).astype(np.float32), "w")
        b = self.const((self.rng.standard_normal(cout) * 0.01).astype(np.float32), "b")
        return self.op("Conv", [x, w, b], kernel_shape=[k, k], strides=[stride, stride], pads=[pad] * 4,
                       group=groups, dilations=[1, 1])

    def relu6(self, x):
        return self.op("Clip", [x, self.const(np.float32(0.0)), self.const(np.float32(6.0))])

    def classifier(self, x, features, classes=1000):
        x = self.op("GlobalAveragePool", [x])
        x = self.op("Flatten", [x], axis=1)
        w = self.const((self.rng.standard_normal((classes, features)) * 0.01).astype(np.float32), "fc_w")
        b = self.const(np.zeros(classes, np.float32), "fc_b")
        return self.op("Gemm", [x, w, b], alpha=1.0, beta=1.0, transB=1)

    def model(self, x_name, size, y, classes=1000):
        graph = helper.make_graph(
            self.nodes, "fitset",
            [helper.make_tensor_value_info(x_name, TensorProto.FLOAT, [1, 3, size, size])],
            [helper.make_tensor_value_info(y, TensorProto.FLOAT, [1, classes])], self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="fitset")
        model.ir_version = 6
        onnx.checker.check_model(model)
        return model


def torchvision_resnet(depth, size=224):
    """torchvision ``resnet18`` / ``resnet50`` (v1.5: a bottleneck's stride is on its 3x3 convolution)."""
    blocks = {18: ("basic", [2, 2, 2, 2]), 50: ("bottleneck", [3, 4, 6, 3])}[depth]
    g = Graph(depth)
    x = g.op("Relu", [g.conv("input", 3, 64, 7, 2, 3)])
    x = g.op("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    inplanes, expansion = 64, (1 if blocks[0] == "basic" else 4)
    for stage, (planes, count) in enumerate(zip([64, 128, 256, 512], blocks[1])):
        for i in range(count):
            stride = 2 if (stage > 0 and i == 0) else 1
            identity = x
            if blocks[0] == "basic":
                y = g.op("Relu", [g.conv(x, inplanes, planes, 3, stride, 1)])
                y = g.conv(y, planes, planes, 3, 1, 1)
            else:
                y = g.op("Relu", [g.conv(x, inplanes, planes, 1)])
                y = g.op("Relu", [g.conv(y, planes, planes, 3, stride, 1)])
                y = g.conv(y, planes, planes * 4, 1)
            if stride != 1 or inplanes != planes * expansion:
                identity = g.conv(x, inplanes, planes * expansion, 1, stride)
            x = g.op("Relu", [g.op("Add", [y, identity])])
            inplanes = planes * expansion
    return g.model("input", size, g.classifier(x, inplanes))


def _basic_stages(g, x, inplanes, plan):
    """torchvision BasicBlock stages: ``plan`` = [(planes, blocks, first stride)]."""
    for planes, count, first in plan:
        for i in range(count):
            stride = first if i == 0 else 1
            y = g.conv(g.op("Relu", [g.conv(x, inplanes, planes, 3, stride, 1)]), planes, planes, 3, 1, 1)
            identity = g.conv(x, inplanes, planes, 1, stride) if (stride != 1 or inplanes != planes) else x
            x = g.op("Relu", [g.op("Add", [y, identity])])
            inplanes = planes
    return x


def mlperf_ssd_resnet34(size=1200, classes=81):
    """MLPerf inference's SSD-ResNet34 1200 (``ssd_r34.py``, OMZ ``ssd-resnet34-1200-onnx``): torchvision ResNet34 up
    to layer3 with layer3's stride 1 (256 x 150 x 150), five extra blocks (1x1 conv + ReLU, 3x3 conv + ReLU: strides
    2, 2, 2, 2 without padding, 1 without padding), 3x3 stride-3 box and class heads (4, 6, 6, 6, 4, 4 defaults) on
    the six maps (50, 25, 13, 7, 3, 3), each reshaped to (1, 4, -1) / (1, 81, -1) and concatenated, and the class
    softmax. Not written: the box decoding and per-class NMS after it (``decode_batch_with_nms_trace``)."""
    g = Graph(34)
    x = g.op("Relu", [g.conv("input", 3, 64, 7, 2, 3)])
    x = g.op("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    x = _basic_stages(g, x, 64, [(64, 3, 1), (128, 4, 2), (256, 6, 1)])
    maps, cin = [x], 256
    for mid, out, stride, pad in [(256, 512, 2, 1), (256, 512, 2, 1), (128, 256, 2, 1), (128, 256, 2, 0),
                                  (128, 256, 1, 0)]:
        x = g.op("Relu", [g.conv(x, cin, mid, 1)])
        x = g.op("Relu", [g.conv(x, mid, out, 3, stride, pad)])
        maps.append(x)
        cin = out
    locs, confs = [], []
    for m, channels, defaults in zip(maps, [256, 512, 512, 256, 256, 256], [4, 6, 6, 6, 4, 4]):
        for parts, width in ((locs, 4), (confs, classes)):
            head = g.conv(m, channels, defaults * width, 3, 3, 1)
            parts.append(g.op("Reshape", [head, g.const(np.array([1, width, -1], np.int64))]))
    loc = g.op("Concat", locs, axis=2)
    conf = g.op("Softmax", [g.op("Transpose", [g.op("Concat", confs, axis=2)], perm=[0, 2, 1])], axis=2)
    graph = helper.make_graph(
        g.nodes, "ssd_resnet34", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info(loc, TensorProto.FLOAT, [1, 4, 15130]),
         helper.make_tensor_value_info(conf, TensorProto.FLOAT, [1, 15130, classes])], g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="fitset")
    model.ir_version = 6
    onnx.checker.check_model(model)
    return model


def torchvision_mobilenet_v2(size=224):
    """torchvision ``mobilenet_v2`` (width 1.0): ReLU6 as Clip(0, 6), dropout gone in eval mode."""
    g = Graph(2)
    x = g.relu6(g.conv("input", 3, 32, 3, 2, 1))
    cin = 32
    for t, c, n, s in [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                       (6, 320, 1, 1)]:
        for i in range(n):
            stride = s if i == 0 else 1
            hidden = cin * t
            y = g.relu6(g.conv(x, cin, hidden, 1)) if t != 1 else x
            y = g.relu6(g.conv(y, hidden, hidden, 3, stride, 1, groups=hidden))
            y = g.conv(y, hidden, c, 1)
            x = g.op("Add", [x, y]) if (stride == 1 and cin == c) else y
            cin = c
    x = g.relu6(g.conv(x, cin, 1280, 1))
    return g.model("input", size, g.classifier(x, 1280))


def _per_channel(array, channels):
    """``array`` as a vector of ``channels`` if it broadcasts along NCHW's channel axis only, else None."""
    if array.size == 1:
        return np.full(channels, float(array.reshape(-1)[0]), np.float32)
    if array.size == channels and array.ndim >= 3 and array.shape[-1] == 1 and array.shape[-2] == 1:
        return array.reshape(-1).astype(np.float32)
    return None


def fold_conv_affine(model):
    """Fold each constant per-channel Mul or Add that is the only consumer of a Conv's output into that Conv (the
    Model Optimizer's fusion of a batch norm tf2onnx left after a depthwise convolution). Returns the count folded."""
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    folded = 0
    changed = True
    while changed:
        changed = False
        consumers = {}
        for node in graph.node:
            for name in node.input:
                consumers.setdefault(name, []).append(node)
        producer = {o: n for n in graph.node for o in n.output}
        outputs = {o.name for o in graph.output}
        for node in list(graph.node):
            if node.op_type not in ("Mul", "Add") or len(node.input) != 2:
                continue
            data = [i for i in node.input if i not in inits]
            consts = [i for i in node.input if i in inits]
            if len(data) != 1 or len(consts) != 1 or data[0] not in producer:
                continue
            conv = producer[data[0]]
            if conv.op_type != "Conv" or len(consumers.get(data[0], [])) != 1 or data[0] in outputs:
                continue
            if any(i not in inits for i in conv.input[1:]):
                continue
            weight = numpy_helper.to_array(inits[conv.input[1]]).astype(np.float32)
            factor = _per_channel(numpy_helper.to_array(inits[consts[0]]), weight.shape[0])
            if factor is None:
                continue
            bias = (numpy_helper.to_array(inits[conv.input[2]]).astype(np.float32) if len(conv.input) > 2
                    else np.zeros(weight.shape[0], np.float32))
            if node.op_type == "Mul":
                weight, bias = weight * factor.reshape(-1, 1, 1, 1), bias * factor
            else:
                bias = bias + factor
            w_name, b_name = conv.name + "_fw%d" % folded, conv.name + "_fb%d" % folded
            for name, array in ((w_name, weight), (b_name, bias)):
                tensor = numpy_helper.from_array(array.astype(np.float32), name)
                graph.initializer.append(tensor)
                inits[name] = tensor
            del conv.input[1:]
            conv.input.extend([w_name, b_name])
            conv.output[0] = node.output[0]
            graph.node.remove(node)
            folded += 1
            changed = True
            break
    used = {i for n in graph.node for i in n.input}
    for init in [i for i in graph.initializer if i.name not in used]:
        graph.initializer.remove(init)
    return folded


def ssd_postprocess(model, classes=91, size=300):
    """Append to a TF OD API SSD's ONNX (outputs: box then class predictor tensors, NHWC) what the Model Optimizer
    writes after them: each output Reshape'd to (1, -1, 4) / (1, -1, classes), Concat, sigmoid on the classes,
    flattened; a PriorBoxClustered per map (OpenVINO's ONNX domain ``org.openvinotoolkit``: ShapeOf, StridedSlice,
    PriorBoxClustered, Unsqueeze once read), Concat, DetectionOutput with the attributes of MO's ssd_v2_support."""
    graph = model.graph
    outs = [o.name for o in graph.output]
    half = len(outs) // 2
    producer = {o: n for n in graph.node for o in n.output}
    image = graph.input[0].name
    g = Graph(tag="ssd_post/")
    flat = {}
    for kind, names, last in (("box", outs[:half], 4), ("cls", outs[half:], classes)):
        parts = [g.op("Reshape", [n, g.const(np.array([1, -1, last], np.int64))]) for n in names]
        x = g.op("Concat", parts, axis=1)
        if kind == "cls":
            x = g.op("Sigmoid", [x])
        flat[kind] = g.op("Reshape", [x, g.const(np.array([1, -1], np.int64))])
    priors = []
    scales = np.linspace(0.2, 0.95, half)
    for i, name in enumerate(outs[:half]):
        # the NCHW tensor before tf2onnx's Transpose to NHWC (a Reshape where the map is 1x1)
        nchw = producer[name].input[0] if producer[name].op_type in ("Transpose", "Reshape") else name
        count = 3 if i == 0 else 6
        sizes = list(np.linspace(0.1 if i == 0 else scales[i], scales[i] * 1.5, count) * size)
        node = g.name("priorbox")
        g.nodes.append(helper.make_node("PriorBoxClustered", [nchw, image], [node], name=node,
                                        domain="org.openvinotoolkit", width=sizes, height=sizes[::-1], clip=0,
                                        step_w=0.0, step_h=0.0, offset=0.5, variance=[0.1, 0.1, 0.2, 0.2]))
        priors.append(node)
    prior = g.op("Concat", priors, axis=2)
    out = "detection_out"
    g.nodes.append(helper.make_node(
        "DetectionOutput", [flat["box"], flat["cls"], prior], [out], name=out, domain="org.openvinotoolkit",
        num_classes=classes, background_label_id=0, top_k=100, keep_top_k=100, nms_threshold=0.6,
        confidence_threshold=0.3, code_type="caffe.PriorBoxParameter.CENTER_SIZE", share_location=1,
        variance_encoded_in_target=0, normalized=1, clip_after_nms=1, clip_before_nms=0))
    graph.node.extend(g.nodes)
    graph.initializer.extend(g.inits)
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info(out, TensorProto.FLOAT, None))
    model.opset_import.append(helper.make_opsetid("org.openvinotoolkit", 1))
    return model
