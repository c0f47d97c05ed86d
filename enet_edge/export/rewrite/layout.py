"""Layout clean-up of a tf2onnx graph: sink NHWC<->NCHW Transposes until they cancel.

tf2onnx turns the NHWC TensorFlow graph into NCHW ONNX and wraps what it cannot move in Transposes.
Its optimizer stops at multi-input element-wise ops (``Equal``, ``Where``, ``Mul``) and at channel
``Concat``s, so the argmax-free switches of ENet's pooling leave pairs such as
``Equal(Transpose(a, P), Transpose(b, P))`` ... ``Transpose(.., P^-1) -> DepthToSpace``. Each costs a full
memory pass on the device (measured on the OpenVINO CPU plugin: 13 Transposes, ~8 ms of 47 ms).

:func:`sink_transposes` moves a Transpose below an element-wise op when every non-constant input carries
the same permutation (a constant input must have one element, or the op's rank: it is then stored permuted),
and below a Concat (whose axis it remaps), then
fuses Transpose pairs and drops those that compose to the identity. The rewrite only moves data
movement: every value computed is bit-identical. The result is used only when it has fewer Transposes.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

ELEMENTWISE = frozenset({"Add", "Sub", "Mul", "Div", "Equal", "Greater", "Less", "Where", "Not", "And", "Or",
                         "Relu", "Neg", "Max", "Min", "Sigmoid", "Tanh", "Abs"})
"""Ops that act on every element independently (with numpy broadcasting of their inputs)."""


def _perm(node) -> Tuple[int, ...]:
    for attr in node.attribute:
        if attr.name == "perm":
            return tuple(attr.ints)
    raise ValueError(f"Transpose {node.name} has no perm attribute")


def _compose(inner: Sequence[int], outer: Sequence[int]) -> Tuple[int, ...]:
    """Permutation of ``Transpose(Transpose(x, inner), outer)``: output axis i is input axis inner[outer[i]]."""
    return tuple(inner[p] for p in outer)


def _inverse(perm: Sequence[int]) -> Tuple[int, ...]:
    inv = [0] * len(perm)
    for i, p in enumerate(perm):
        inv[p] = i
    return tuple(inv)


class _Graph:
    """Producer/consumer index over an ``onnx.GraphProto`` that is edited in place."""

    def __init__(self, graph):
        import onnx

        self.graph = graph
        self.helper = onnx.helper
        self.constants: Dict[str, int] = {i.name: _size(i.dims) for i in graph.initializer}
        self.tensors: Dict[str, object] = {i.name: i for i in graph.initializer}
        for node in graph.node:
            if node.op_type == "Constant":
                for attr in node.attribute:
                    if attr.name == "value":
                        self.constants[node.output[0]] = _size(attr.t.dims)
                        self.tensors[node.output[0]] = attr.t
        self.outputs = {o.name for o in graph.output}
        self.counter = 0

    def producers(self) -> Dict[str, object]:
        return {out: node for node in self.graph.node for out in node.output}

    def consumers(self) -> Dict[str, List[object]]:
        users: Dict[str, List[object]] = {}
        for node in self.graph.node:
            for name in node.input:
                users.setdefault(name, []).append(node)
        return users

    def permuted_constant(self, name: str, perm: Sequence[int]) -> str:
        """A new initializer holding constant ``name`` (of rank ``len(perm)``) transposed by the inverse of
        ``perm``, so that ``op(Transpose(a, perm), c) == Transpose(op(a, new), perm)``."""
        from onnx import numpy_helper

        tensor = self.tensors[name]
        value = numpy_helper.to_array(tensor).transpose(_inverse(perm))
        new = numpy_helper.from_array(value.copy(), self.fresh(name))
        self.graph.initializer.append(new)
        self.tensors[new.name] = new
        self.constants[new.name] = _size(new.dims)
        return new.name

    def fresh(self, base: str) -> str:
        self.counter += 1
        return f"{base}__sunk{self.counter}"


def _size(dims) -> int:
    size = 1
    for d in dims:
        size *= int(d)
    return size


def count_transposes(model) -> int:
    return sum(1 for node in model.graph.node if node.op_type == "Transpose")


def _sink_one(g: _Graph) -> bool:
    """One rewrite somewhere in the graph; False when none applies."""
    producers = g.producers()
    for index, node in enumerate(g.graph.node):
        if node.op_type == "Transpose":
            src = producers.get(node.input[0])
            if src is not None and src.op_type == "Transpose":
                perm = _compose(_perm(src), _perm(node))
                if perm == tuple(range(len(perm))):
                    if node.output[0] in g.outputs:
                        # a graph output keeps its name: the pair becomes one Identity
                        g.graph.node.insert(index, g.helper.make_node("Identity", [src.input[0]], list(node.output),
                                                                      name=node.name))
                        g.graph.node.remove(node)
                        return True
                    # identity: the consumers read the inner input directly
                    for user in g.graph.node:
                        for i, name in enumerate(user.input):
                            if name == node.output[0]:
                                user.input[i] = src.input[0]
                    del g.graph.node[index]
                else:
                    node.input[0] = src.input[0]
                    del node.attribute[:]
                    node.attribute.append(g.helper.make_attribute("perm", list(perm)))
                return True
            continue
        if node.op_type not in ELEMENTWISE and node.op_type != "Concat":
            continue
        perm: Optional[Tuple[int, ...]] = None
        inner: List[Optional[str]] = []
        ok = True
        for name in node.input:
            src = producers.get(name)
            if src is not None and src.op_type == "Transpose":
                p = _perm(src)
                if perm is None:
                    perm = p
                elif p != perm:
                    ok = False
                    break
                inner.append(src.input[0])
            elif node.op_type != "Concat" and g.constants.get(name) == 1:
                inner.append(name)  # a one-element constant broadcasts the same in any layout
            elif node.op_type != "Concat" and name in g.tensors:
                inner.append(None)  # a full-rank constant: permuted once the permutation is known
            else:
                ok = False
                break
        if not ok or perm is None:
            continue
        if any(name is None and len(g.tensors[node.input[i]].dims) != len(perm) for i, name in enumerate(inner)):
            continue  # a lower-rank constant broadcasts from the right: its axes do not follow the permutation
        inner = [g.permuted_constant(node.input[i], perm) if name is None else name for i, name in enumerate(inner)]
        attrs = list(node.attribute)
        if node.op_type == "Concat":
            axis = next(a.i for a in attrs if a.name == "axis")
            axis = axis % len(perm)
            attrs = [g.helper.make_attribute("axis", perm[axis])]
        out = node.output[0]
        moved = g.fresh(out)
        new = g.helper.make_node(node.op_type, inner, [moved], name=node.name, domain=node.domain or None)
        new.attribute.extend(attrs)
        transpose = g.helper.make_node("Transpose", [moved], [out], name=g.fresh(node.name), perm=list(perm))
        del g.graph.node[index]
        g.graph.node.insert(index, transpose)
        g.graph.node.insert(index, new)
        return True
    return False


def _drop_dead(g: _Graph) -> None:
    needed = set(g.outputs)
    kept = []
    for node in reversed(list(g.graph.node)):
        if any(o in needed for o in node.output):
            kept.append(node)
            needed.update(node.input)
    kept.reverse()
    del g.graph.node[:]
    g.graph.node.extend(kept)
    unused = [t for t in g.graph.initializer if t.name not in needed]  # constants replaced by permuted copies
    for tensor in unused:
        g.graph.initializer.remove(tensor)


def sink_transposes(model, max_rewrites: int = 10000):
    """Return a copy of the ONNX ``model`` with Transposes sunk and cancelled (see module docstring).

    The copy is returned only when it has fewer Transposes and passes ``onnx.checker``; otherwise the
    original model object is returned unchanged.
    """
    import onnx

    edited = onnx.ModelProto()
    edited.CopyFrom(model)
    g = _Graph(edited.graph)
    for _ in range(max_rewrites):
        if not _sink_one(g):
            break
    _drop_dead(g)
    # drop inferred value_info: shapes of moved tensors changed; ONNX re-infers them
    del edited.graph.value_info[:]
    if count_transposes(edited) >= count_transposes(model):
        return model
    onnx.checker.check_model(edited, full_check=True)
    return edited
