"""A .bin for a public IR v10 .xml whose .bin is not at hand: each Const layer's bytes at its own offset.

Float constants get small random values (the MYRIAD X compiler builds the same graph whatever they are), except
where a value decides the graph: a one-element PReLU slope is 0.1 (the leaky ReLU of YOLO and Darknet, which the
NCE fuses since 1/0.1 is an integer) and the float constants of an Interpolate's scale computation. Integer
constants are inferred from the IR's own port dims: Reshape shapes, Transpose orders, Squeeze/Unsqueeze/ReduceMean
axes, Interpolate sizes/scales/axes, and the shape computations of Model Optimizer's TF front end (ShapeOf ->
Gather NCHW->NHWC -> StridedSlice -> H, W, times a factor). :func:`check` reads the result with OpenVINO and
compares every layer's output shape with the .xml's.
"""

import itertools
import shutil
import xml.etree.ElementTree as ET

import numpy as np

DTYPES = {"f16": np.float16, "f32": np.float32, "i64": np.int64, "i32": np.int32, "u8": np.uint8, "i8": np.int8,
          "boolean": np.uint8, "u64": np.uint64, "u32": np.uint32}


def _dims(port):
    return [int(d.text) for d in port.findall("dim")]


class IR:
    def __init__(self, path):
        self.root = ET.parse(str(path)).getroot()
        self.layers = {layer.get("id"): layer for layer in self.root.find("layers")}
        self.producer, self.consumers = {}, {}
        for edge in self.root.find("edges"):
            src, dst = (edge.get("from-layer"), edge.get("from-port")), (edge.get("to-layer"), edge.get("to-port"))
            self.producer[dst] = src
            self.consumers.setdefault(src[0], []).append(dst)
        self.values = {}  # const layer id -> array

    def type(self, lid):
        return self.layers[lid].get("type")

    def in_dims(self, lid, port):
        for p in self.layers[lid].find("input") or []:
            if p.get("id") == str(port):
                return _dims(p)
        return None

    def out_dims(self, lid, index=0):
        return _dims(list(self.layers[lid].find("output"))[index])

    def input_value(self, lid, port):
        """The value of a shape computation reaching ``lid``'s input ``port``, or None where unknown."""
        src = self.producer.get((lid, str(port)))
        return None if src is None else self.value(src[0])

    def value(self, lid):
        kind, data = self.type(lid), self.layers[lid].find("data")
        if kind == "Const":
            return self.values.get(lid)
        if kind == "ShapeOf":
            return np.array(self.in_dims(lid, 0), np.int64)
        if kind not in ("Gather", "StridedSlice", "Convert", "Multiply", "Divide", "Add", "Concat"):
            return None
        args = [self.input_value(lid, p) for p in range(len(self.layers[lid].find("input")))]
        if any(a is None for a in args):
            return None
        if kind == "Gather":
            return np.take(args[0], args[1].astype(np.int64), axis=int(args[2]))
        if kind == "StridedSlice":
            return args[0][int(args[1][0]):int(args[2][0]):int(args[3][0])]
        if kind == "Convert":
            return args[0].astype(DTYPES.get(data.get("destination_type"), np.float32))
        if kind in ("Multiply", "Divide", "Add"):
            return {"Multiply": np.multiply, "Divide": np.divide, "Add": np.add}[kind](args[0], args[1])
        if kind == "Concat":
            return np.concatenate(args, axis=int(data.get("axis")))
        return None

    def spatial_of_shape(self, lid):
        """H, W of the tensor whose ShapeOf is upstream of ``lid`` (None where there is none)."""
        seen = [lid]
        while seen:
            cur = seen.pop()
            if self.type(cur) == "ShapeOf":
                return self.in_dims(cur, 0)[2:]
            seen.extend(src for (dst, _), (src, _) in self.producer.items() if dst == cur)
        return None


def _perm(src, dst):
    """The order ``o`` with dst[i] == src[o[i]], equal dims taken in their original order."""
    used, order = set(), []
    for d in dst:
        i = next(i for i, s in enumerate(src) if s == d and i not in used)
        used.add(i)
        order.append(i)
    return order


def _removed_axes(big, small):
    """Axes (of ``big``, all of size 1) whose removal leaves ``small``."""
    ones = [i for i, d in enumerate(big) if d == 1]
    for axes in itertools.combinations(ones, len(big) - len(small)):
        if [d for i, d in enumerate(big) if i not in axes] == list(small):
            return list(axes)
    raise ValueError("no axes turn %s into %s" % (big, small))


def _interp_axes(ir, lid):
    data_in, out = ir.in_dims(lid, 0), ir.out_dims(lid)
    return [i for i, (a, b) in enumerate(zip(data_in, out)) if a != b] or [2, 3]


def infer(ir, lid, consumer, port, count, dtype):
    """The value of integer (or shape-deciding float) Const ``lid`` feeding ``consumer``'s input ``port``."""
    kind, name = ir.type(consumer), ir.layers[lid].get("name", "")
    data = ir.layers[consumer].find("data")
    if kind == "Reshape" and port == 1:
        return ir.out_dims(consumer)
    if kind == "Transpose" and port == 1:
        return _perm(ir.in_dims(consumer, 0), ir.out_dims(consumer))
    if kind == "Squeeze" and port == 1:
        return _removed_axes(ir.in_dims(consumer, 0), ir.out_dims(consumer))
    if kind == "Unsqueeze" and port == 1:
        return _removed_axes(ir.out_dims(consumer), ir.in_dims(consumer, 0))
    if kind in ("ReduceMean", "ReduceMax", "ReduceSum") and port == 1:
        src, out = ir.in_dims(consumer, 0), ir.out_dims(consumer)
        if len(src) == len(out):
            return [i for i, (a, b) in enumerate(zip(src, out)) if a != b] or list(range(2, len(src)))[:count]
        return _removed_axes(src, out)
    if kind == "Interpolate":
        axes = _interp_axes(ir, consumer)
        src, out = ir.in_dims(consumer, 0), ir.out_dims(consumer)
        if port == 3:
            return axes
        if port == 1:
            return [out[a] for a in axes]
        if port == 2:
            return [out[a] / src[a] for a in axes]
    if kind == "Gather" and port == 2:
        return 0
    if kind == "Gather" and port == 1:
        if count == 4 and "NHWCtoNCHW" in name:
            return [0, 3, 1, 2]
        if count == 4:
            return [0, 2, 3, 1]
        return list(range(4 - count, 4))
    if kind == "StridedSlice" and port in (1, 2, 3):
        vector = ir.input_value(consumer, 0)
        spatial = ir.spatial_of_shape(consumer)
        length = ir.out_dims(consumer)[0] if ir.out_dims(consumer) else 1
        begin = 2 if vector is None else 0
        if vector is not None and spatial is not None:
            begin = next((b for b in range(len(vector) - length + 1)
                          if list(vector[b:b + length]) == list(spatial[:length])), len(vector) - length)
        return [begin, begin + length, 1][port - 1:port] * count
    if kind in ("Multiply", "Divide"):
        return _shape_factor(ir, lid, consumer, port, count)
    if kind == "PReLU" and port == 1 and count == 1:
        return [0.1]
    return None


def _shape_factor(ir, lid, consumer, port, count):
    """A Const in the arithmetic between a shape and an Interpolate's sizes or scales (through Converts only): the
    value that gives the Interpolate's own output sizes or output/input ratio. None while the other operand is
    unknown or where no Interpolate is reached."""
    other = ir.input_value(consumer, 1 - port)
    if other is None:
        return None
    targets, stack = [], [consumer]
    while stack:
        for dst, dport in ir.consumers.get(stack.pop(), []):
            if ir.type(dst) == "Convert":
                stack.append(dst)
            elif ir.type(dst) == "Interpolate":
                targets.append((dst, dport))
    if not targets:
        return None
    dst, dport = targets[0]
    axes, src, out = _interp_axes(ir, dst), ir.in_dims(dst, 0), ir.out_dims(dst)
    target = np.array([out[a] if dport == "1" else out[a] / src[a] for a in axes], np.float64)
    other = np.asarray(other, np.float64)
    if ir.type(consumer) == "Multiply":
        return list(target / other)
    return list(target * other) if port == 0 else list(other / target)


def synthesize(xml, out_xml, out_bin, seed=0):
    """Write ``out_xml`` (a copy of ``xml``) and ``out_bin``; return a short note of what was inferred."""
    ir = IR(xml)
    rng = np.random.default_rng(seed)
    consts = [lid for lid in ir.layers if ir.type(lid) == "Const"]
    size = max(int(ir.layers[c].find("data").get("offset")) + int(ir.layers[c].find("data").get("size"))
               for c in consts)
    blob = bytearray(size)
    inferred, unresolved = 0, []
    # consts read by shape computations are resolved in dependency order: repeat until nothing changes
    pending = list(consts)
    for _ in range(8):
        left = []
        for lid in pending:
            data = ir.layers[lid].find("data")
            dtype = DTYPES[data.get("element_type")]
            shape = [int(s) for s in data.get("shape").split(",") if s.strip()] if data.get("shape") else []
            count = int(np.prod(shape)) if shape else 1
            value = None
            for consumer, port in ir.consumers.get(lid, []):
                value = infer(ir, lid, consumer, int(port), count, dtype)
                if value is not None:
                    break
            is_int = np.issubdtype(dtype, np.integer)
            if value is None and (is_int or any(ir.type(c) in ("Divide",) for c, _ in ir.consumers.get(lid, []))):
                left.append(lid)
                continue
            if value is None:
                array = (rng.standard_normal(count) * 0.05).astype(dtype)
            else:
                array = np.resize(np.asarray(value, np.float64), count)
                array = (np.rint(array) if is_int else array).astype(dtype)
                inferred += 1
            ir.values[lid] = array.reshape(shape)
        if len(left) == len(pending):
            break
        pending = left
    for lid in pending:  # what stayed unknown: ones for integers (safe for strides), small values else
        data = ir.layers[lid].find("data")
        shape = [int(s) for s in data.get("shape").split(",") if s.strip()] if data.get("shape") else []
        ir.values[lid] = np.ones(shape or [1], DTYPES[data.get("element_type")]).reshape(shape)
        unresolved.append("%s %s->%s" % (ir.layers[lid].get("name"), data.get("element_type"),
                                         [ir.type(c) for c, _ in ir.consumers.get(lid, [])]))
    conflicts = _reconcile(ir, consts)
    for lid in consts:
        data = ir.layers[lid].find("data")
        raw = np.ascontiguousarray(ir.values[lid]).tobytes()
        offset, length = int(data.get("offset")), int(data.get("size"))
        assert len(raw) == length, (ir.layers[lid].get("name"), len(raw), length)
        blob[offset:offset + length] = raw
    shutil.copyfile(str(xml), str(out_xml))
    with open(str(out_bin), "wb") as handle:
        handle.write(bytes(blob))
    note = "%d constants inferred from the graph" % inferred
    note += "; %d shared offsets reconciled" % conflicts[0] if conflicts[0] else ""
    note += "; CONFLICTING shared constants: %s" % conflicts[1] if conflicts[1] else ""
    return note + ("; unresolved (ones): " + ", ".join(unresolved) if unresolved else "")


def _reconcile(ir, consts):
    """Constants the Model Optimizer stored once (same offset) must get one value. Reshape shapes that differ
    between their users become the form MO wrote: 0 (copy the input dim, special_zero) where each user's output dim
    equals its input dim, -1 in the one place left. Returns (reconciled, [names still conflicting])."""
    groups = {}
    for lid in consts:
        data = ir.layers[lid].find("data")
        groups.setdefault((data.get("offset"), data.get("size")), []).append(lid)
    done, bad = 0, []
    for members in groups.values():
        values = [ir.values[m] for m in members]
        if all(np.array_equal(values[0], v) for v in values[1:]):
            continue
        users = [ir.consumers.get(m, [(None, None)])[0] for m in members]
        if all(u and ir.type(u) == "Reshape" for u, _ in users):
            rank = len(values[0])
            shape = []
            for i in range(rank):
                column = {int(v[i]) for v in values}
                ins = [ir.in_dims(u, 0) for u, _ in users]
                if len(column) == 1:
                    shape.append(column.pop())
                elif all(len(d) > i and d[i] == int(v[i]) for d, v in zip(ins, values)):
                    shape.append(0)
                else:
                    shape.append(-1)
            if shape.count(-1) <= 1:
                for m in members:
                    ir.values[m] = np.array(shape, ir.values[m].dtype)
                done += 1
                continue
        if np.issubdtype(values[0].dtype, np.integer):
            bad.append(ir.layers[members[0]].get("name"))
        for m in members[1:]:
            ir.values[m] = values[0]
    return done, bad


CHECK = r"""
import sys, json, ctypes, os, xml.etree.ElementTree as ET
from openvino.inference_engine import IECore
import ngraph as ng
net = IECore().read_network(model=sys.argv[1], weights=sys.argv[2])
func = ng.function_from_cnn(net)
root = ET.parse(sys.argv[1]).getroot()
want = {}
for layer in root.find('layers'):
    out = layer.find('output')
    if out is not None:
        want[layer.get('name')] = [[int(d.text) for d in p.findall('dim')] for p in out]
bad = []
for op in func.get_ordered_ops():
    name = op.get_friendly_name()
    if name in want:
        got = [list(op.get_output_shape(i)) for i in range(op.get_output_size())]
        if got != want[name]:
            bad.append((name, got, want[name]))
print(json.dumps({"layers": len(want), "mismatched": bad[:10], "count": len(bad)}))
"""


def check(xml, bin_path, python):
    """Read ``xml``/``bin_path`` with OpenVINO (``python``: the compiler's) and compare output shapes with the xml."""
    import json
    import subprocess

    run = subprocess.run([str(python), "-c", CHECK, str(xml), str(bin_path)], capture_output=True, text=True)
    lines = [line for line in run.stdout.splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if lines else {"error": run.stderr[-1500:]}


def v11_to_v10(xml, out_xml):
    """An IR v11 (OpenVINO 2022.1+) as the IR v10 that 2021.4 reads, for the ops of mobilenet-ssd: version 10,
    no rt_info or tensor names, f16 constants without their decompression Convert (as a v10 FP16 IR stores them),
    DetectionOutput-8 as DetectionOutput-1 (num_classes from its input sizes), SoftMax-8 as SoftMax-1."""
    tree = ET.parse(str(xml))
    root = tree.getroot()
    root.set("version", "10")
    layers_el, edges_el = root.find("layers"), root.find("edges")
    for layer in layers_el:
        for rt in layer.findall("rt_info"):
            layer.remove(rt)
        for port in layer.iter("port"):
            port.attrib.pop("names", None)
    layers = {layer.get("id"): layer for layer in layers_el}
    edges = list(edges_el)
    incoming = {(e.get("to-layer"), e.get("to-port")): e for e in edges}
    for lid, layer in list(layers.items()):
        if layer.get("type") == "Convert" and layer.find("data").get("destination_type") == "f32":
            src = incoming.get((lid, "0"))
            if src is None or layers[src.get("from-layer")].get("type") != "Const":
                continue
            for e in edges:
                if e.get("from-layer") == lid:
                    e.set("from-layer", src.get("from-layer"))
                    e.set("from-port", src.get("from-port"))
            edges_el.remove(src)
            edges.remove(src)
            layers_el.remove(layer)
    for layer in layers_el:
        kind = layer.get("type")
        if kind == "DetectionOutput" and layer.get("version") == "opset8":
            ports = [_dims(p) for p in layer.find("input")]
            layer.find("data").set("num_classes", str(ports[1][1] // (ports[0][1] // 4)))
            layer.set("version", "opset1")
        if kind == "SoftMax" and layer.get("version") == "opset8":
            axis = int(layer.find("data").get("axis"))
            rank = len(_dims(layer.find("input")[0]))
            layer.find("data").set("axis", str(axis % rank))
            layer.set("version", "opset1")
        if kind == "Parameter" and layer.find("data").get("element_type") == "f32":
            layer.find("data").set("element_type", "f16")
        for port in layer.iter("port"):
            if port.get("precision") == "FP32":
                port.set("precision", "FP16")
    tree.write(str(out_xml))
