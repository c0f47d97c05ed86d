"""ONNX rewrites of the 2x2 phase shuffles: each gives ONNX Runtime's numbers of the graph it replaces (bit-identical
where only data moves), with the ops the MYRIAD X compiler builds cheaper."""

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from enet_edge.export.rewrite.phases import interleave_fold, phase_split, unpool_broadcast

C, H, W = 3, 4, 6  # channels; the low-resolution (phase) height and width


def _model(nodes, inputs, output_shape, inits):
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, output_shape)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7
    onnx.checker.check_model(model, full_check=True)
    return model


def _const(value, name, dtype=np.int64):
    return numpy_helper.from_array(np.asarray(value, dtype), name)


def run(model, feeds):
    import onnxruntime as ort

    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, feeds)[0]


def ops(model):
    return sorted(n.op_type for n in model.graph.node)


def upsampling_model(rng, tail=("Mul", "Add", "Relu", "Transpose")):
    """x (1,2,h,w) -> packed Conv (4C channels, block k = 2*dy + dx) -> interleave to NHWC (1,2h,2w,C) -> ``tail``
    (batch norm as Mul/Add per channel, ReLU, back to NCHW): ENet's upsampling conv2 as interleave_transpose left it."""
    inits = [numpy_helper.from_array(rng.normal(size=(4 * C, 2, 1, 1)).astype(np.float32), "w"),
             numpy_helper.from_array(rng.normal(size=4 * C).astype(np.float32), "b"),
             numpy_helper.from_array(rng.uniform(0.5, 2, C).astype(np.float32), "scale"),
             numpy_helper.from_array(rng.normal(size=C).astype(np.float32), "shift"),
             _const([2, 2, C, H, W], "split"), _const([1, 2 * H, 2 * W, C], "join")]
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["packed"], name="conv"),
             helper.make_node("Reshape", ["packed", "split"], ["phases"], name="split"),
             helper.make_node("Transpose", ["phases"], ["moved"], name="interleave", perm=[3, 0, 4, 1, 2]),
             helper.make_node("Reshape", ["moved", "join"], ["t0"], name="join")]
    args = {"Mul": ["scale"], "Add": ["shift"], "Relu": [], "Transpose": []}
    for i, op in enumerate(tail):
        extra = {"perm": [0, 3, 1, 2]} if op == "Transpose" else {}
        nodes.append(helper.make_node(op, [f"t{i}"] + args[op], [f"t{i + 1}"], name=f"tail{i}", **extra))
    nodes[-1].output[0] = "y"
    shape = [1, C, 2 * H, 2 * W] if tail[-1] == "Transpose" else [1, 2 * H, 2 * W, C]
    return _model(nodes, [("x", [1, 2, H, W])], shape, inits)


def test_interleave_fold_puts_the_batch_norm_and_relu_in_the_convolution(rng):
    model = upsampling_model(rng)
    x = rng.normal(size=(1, 2, H, W)).astype(np.float32)
    before = run(model, {"x": x})
    assert interleave_fold(model) == 1
    onnx.checker.check_model(model, full_check=True)
    assert ops(model) == ["Conv", "Relu", "Reshape", "Reshape", "Transpose"]  # no Mul, Add or second Transpose
    assert [n.op_type for n in model.graph.node][:2] == ["Conv", "Relu"]
    np.testing.assert_allclose(run(model, {"x": x}), before, rtol=1e-5, atol=1e-5)


def test_interleave_fold_needs_the_chain_to_end_in_nchw(rng):
    """Without the Transpose back to NCHW the interleave's output layout is the graph's: left as it is."""
    model = upsampling_model(rng, tail=("Mul", "Add", "Relu"))
    assert interleave_fold(model) == 0 and ops(model).count("Mul") == 1


def unpool_model():
    """y (1,C,h,w) and the switches (1,4C,h,w) -> Concat(y,y,y,y) * switches -> interleave to NCHW (1,C,2h,2w)."""
    inits = [_const([2, 2, C, H, W], "split"), _const([1, C, 2 * H, 2 * W], "join")]
    nodes = [helper.make_node("Concat", ["v"] * 4, ["tiled"], name="tile", axis=1),
             helper.make_node("Mul", ["tiled", "switches"], ["placed"], name="place"),
             helper.make_node("Reshape", ["placed", "split"], ["phases"], name="split"),
             helper.make_node("Transpose", ["phases"], ["moved"], name="interleave", perm=[2, 3, 0, 4, 1]),
             helper.make_node("Reshape", ["moved", "join"], ["y"], name="join")]
    return _model(nodes, [("v", [1, C, H, W]), ("switches", [1, 4 * C, H, W])], [1, C, 2 * H, 2 * W], inits)


def test_unpool_broadcast_is_bit_identical_without_the_concat(rng):
    model = unpool_model()
    feeds = {"v": rng.normal(size=(1, C, H, W)).astype(np.float32),
             "switches": (rng.random((1, 4 * C, H, W)) < 0.25).astype(np.float32)}
    before = run(model, feeds)
    assert unpool_broadcast(model) == 1
    onnx.checker.check_model(model, full_check=True)
    assert "Concat" not in ops(model)
    assert np.array_equal(run(model, feeds), before)


def pool_phases_model(phases):
    """x (1,C,2h,2w) -> the strided Slices of ``phases`` as tf2onnx writes them (axes listed NHWC-first, ends as
    "to the end" sentinels) -> Concat on channels."""
    inits = [_const([0, 2, 3, 1], "axes"), _const([1, 2, 2, 1], "steps"), _const([10**9] * 4, "ends")]
    nodes = []
    for dy, dx in phases:
        inits.append(_const([0, dy, dx, 0], f"start{dy}{dx}"))
        nodes.append(helper.make_node("Slice", ["x", f"start{dy}{dx}", "ends", "axes", "steps"], [f"p{dy}{dx}"],
                                      name=f"slice{dy}{dx}"))
    nodes.append(helper.make_node("Concat", [f"p{dy}{dx}" for dy, dx in phases], ["y"], name="cat", axis=1))
    return _model(nodes, [("x", [1, C, 2 * H, 2 * W])], [1, len(phases) * C, H, W], inits)


@pytest.mark.parametrize("phases", [[(0, 0), (1, 0), (0, 1)], [(1, 1), (0, 0), (0, 1), (1, 0)]])
def test_phase_split_takes_every_phase_in_one_transpose(rng, phases):
    model = pool_phases_model(phases)
    x = rng.normal(size=(1, C, 2 * H, 2 * W)).astype(np.float32)
    before = run(model, {"x": x})
    expected = np.concatenate([x[:, :, dy::2, dx::2] for dy, dx in phases], axis=1)
    assert np.array_equal(before, expected)
    assert phase_split(model) == 1
    onnx.checker.check_model(model, full_check=True)
    assert ops(model) == ["Concat", "Reshape", "Reshape", "Split", "Transpose"]
    split = next(n for n in model.graph.node if n.op_type == "Split")
    assert len(split.input) == 1 and len(split.output) == 4  # equal parts: OpenVINO's Split-1, the MYRIAD row
    assert np.array_equal(run(model, {"x": x}), before)


def test_phase_split_leaves_other_slices(rng):
    """A slice that is not a 2x2 phase (a step of 1, or one not to the end) stays a Slice."""
    model = pool_phases_model([(0, 0), (1, 1)])
    steps = next(i for i in model.graph.initializer if i.name == "steps")
    steps.CopyFrom(_const([1, 1, 2, 1], "steps"))
    assert phase_split(model) == 0 and ops(model).count("Slice") == 2
