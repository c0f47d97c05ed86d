"""Small readers and editors of an ``onnx.GraphProto`` shared by the ONNX rewrites: who produces and who uses each
tensor, constant values, attributes, pruning. Nodes are edited in place; the node list stays topological."""

from __future__ import annotations

from typing import Dict, List


def index(graph):
    """(producers: tensor -> node, consumers: tensor -> nodes; a graph output's consumers include None)."""
    producers = {out: node for node in graph.node for out in node.output}
    consumers: Dict[str, List] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    for output in graph.output:
        consumers.setdefault(output.name, []).append(None)  # a graph output counts as a use
    return producers, consumers


def initializers(graph) -> Dict[str, object]:
    return {init.name: init for init in graph.initializer}


def only_use(consumers, name: str, node) -> bool:
    return consumers.get(name, []) == [node]


def prune(graph) -> None:
    """Remove nodes whose outputs nobody uses (repeated until none), then unused initializers."""
    while True:
        _, consumers = index(graph)
        dead = [n for n in graph.node if not any(consumers.get(o) for o in n.output)]
        if not dead:
            break
        for node in dead:
            graph.node.remove(node)
    used = {name for node in graph.node for name in node.input} | {o.name for o in graph.output}
    for init in [i for i in graph.initializer if i.name not in used]:
        graph.initializer.remove(init)


def replace(graph, old, new) -> None:
    """Put node ``new`` where ``old`` stands in the graph's (topological) node list, and drop ``old``."""
    graph.node.insert(list(graph.node).index(old), new)
    graph.node.remove(old)


def attributes(node) -> Dict[str, object]:
    import onnx

    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def plain_conv(node, inits) -> bool:
    """A Conv with constant weights (and bias), one group."""
    return (node is not None and node.op_type == "Conv" and node.input[1] in inits
            and (len(node.input) < 3 or node.input[2] in inits) and attributes(node).get("group", 1) == 1)


def const(inits, name):
    from onnx import numpy_helper

    return numpy_helper.to_array(inits[name]) if name in inits else None


def perm(node):
    return tuple(attributes(node).get("perm", ()))


def insert(graph, position: int, nodes) -> None:
    """Insert ``nodes`` in order at ``position`` of the graph's (topological) node list."""
    for offset, node in enumerate(nodes):
        graph.node.insert(position + offset, node)
