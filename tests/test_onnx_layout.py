import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from enet_edge.export.rewrite.layout import count_transposes, sink_transposes

NCHW_TO_NHWC = [0, 2, 3, 1]
NHWC_TO_NCHW = [0, 3, 1, 2]


def _model(nodes, inputs, output_shape, initializers=()):
    graph = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, shape) for name, shape in inputs],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, output_shape)],
        initializer=list(initializers),
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    onnx.checker.check_model(model, full_check=True)
    return model


def _run(model, feeds):
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, feeds)[0]


def _switch_like_graph():
    """What tf2onnx leaves around ENet's switches: NCHW tensors compared and concatenated in NHWC."""
    one = numpy_helper.from_array(np.array(1.0, np.float32), "one")
    zero = numpy_helper.from_array(np.array(0.0, np.float32), "zero")
    nodes = [
        helper.make_node("Transpose", ["a"], ["a_t"], perm=NCHW_TO_NHWC),
        helper.make_node("Transpose", ["b"], ["b_t"], perm=NCHW_TO_NHWC),
        helper.make_node("Equal", ["a_t", "b_t"], ["eq"]),
        helper.make_node("Where", ["eq", "one", "zero"], ["mask"]),
        helper.make_node("Sub", ["one", "mask"], ["rest"]),
        helper.make_node("Concat", ["mask", "rest"], ["both"], axis=-1),
        helper.make_node("Mul", ["both", "one"], ["scaled"]),
        helper.make_node("Transpose", ["scaled"], ["out"], perm=NHWC_TO_NCHW),
    ]
    return _model(nodes, [("a", [1, 3, 4, 5]), ("b", [1, 3, 4, 5])], [1, 6, 4, 5], [one, zero])


def test_transposes_around_switches_cancel_and_results_are_identical():
    model = _switch_like_graph()
    sunk = sink_transposes(model)
    assert count_transposes(model) == 3
    assert count_transposes(sunk) == 0
    rng = np.random.default_rng(0)
    a = rng.integers(0, 3, (1, 3, 4, 5)).astype(np.float32)  # small range: many equal elements
    b = rng.integers(0, 3, (1, 3, 4, 5)).astype(np.float32)
    np.testing.assert_array_equal(_run(sunk, {"a": a, "b": b}), _run(model, {"a": a, "b": b}))
    # the Concat axis was remapped from NHWC channels (-1) to NCHW channels (1)
    concat = next(n for n in sunk.graph.node if n.op_type == "Concat")
    assert next(a.i for a in concat.attribute if a.name == "axis") == 1


def test_lower_rank_constants_are_left_alone():
    bias = numpy_helper.from_array(np.arange(3, dtype=np.float32), "bias")
    nodes = [
        helper.make_node("Transpose", ["a"], ["a_t"], perm=NCHW_TO_NHWC),
        helper.make_node("Add", ["a_t", "bias"], ["out"]),  # broadcasts from the right: layout-dependent
    ]
    model = _model(nodes, [("a", [1, 3, 4, 5])], [1, 4, 5, 3], [bias])
    assert sink_transposes(model) is model


def test_mixed_permutations_are_left_alone():
    nodes = [
        helper.make_node("Transpose", ["a"], ["a_t"], perm=NCHW_TO_NHWC),
        helper.make_node("Transpose", ["b"], ["b_t"], perm=[0, 3, 2, 1]),
        helper.make_node("Add", ["a_t", "b_t"], ["out"]),
    ]
    model = _model(nodes, [("a", [1, 3, 4, 5]), ("b", [1, 3, 5, 4])], [1, 4, 5, 3])
    assert sink_transposes(model) is model


def test_full_rank_constants_are_stored_permuted():
    """A (1,H,W,1) NHWC constant (the full-resolution switches' window limits) moves with the Transposes."""
    limit = numpy_helper.from_array(np.arange(20, dtype=np.float32).reshape(1, 4, 5, 1), "limit")
    one = numpy_helper.from_array(np.array(1.0, np.float32), "one")
    zero = numpy_helper.from_array(np.array(0.0, np.float32), "zero")
    nodes = [
        helper.make_node("Transpose", ["a"], ["a_t"], perm=NCHW_TO_NHWC),
        helper.make_node("Less", ["a_t", "limit"], ["less"]),
        helper.make_node("Where", ["less", "one", "zero"], ["mask"]),
        helper.make_node("Transpose", ["mask"], ["out"], perm=NHWC_TO_NCHW),
    ]
    model = _model(nodes, [("a", [1, 3, 4, 5])], [1, 3, 4, 5], [limit, one, zero])
    sunk = sink_transposes(model)
    assert count_transposes(sunk) == 0
    assert [tuple(t.dims) for t in sunk.graph.initializer if t.name.startswith("limit")] == [(1, 1, 4, 5)]
    a = np.random.default_rng(2).integers(0, 20, (1, 3, 4, 5)).astype(np.float32)
    np.testing.assert_array_equal(_run(sunk, {"a": a}), _run(model, {"a": a}))


def test_graph_output_keeps_its_name_and_layout():
    nodes = [
        helper.make_node("Transpose", ["a"], ["a_t"], perm=NCHW_TO_NHWC),
        helper.make_node("Transpose", ["b"], ["b_t"], perm=NCHW_TO_NHWC),
        helper.make_node("Add", ["a_t", "b_t"], ["out"]),
    ]
    model = _model(nodes, [("a", [1, 3, 4, 5]), ("b", [1, 3, 4, 5])], [1, 4, 5, 3])
    sunk = sink_transposes(model)
    assert count_transposes(sunk) == 1  # two became one, after the Add
    assert [o.name for o in sunk.graph.output] == ["out"]
    a = np.random.default_rng(1).normal(size=(1, 3, 4, 5)).astype(np.float32)
    np.testing.assert_array_equal(_run(sunk, {"a": a, "b": a * 2}), _run(model, {"a": a, "b": a * 2}))
