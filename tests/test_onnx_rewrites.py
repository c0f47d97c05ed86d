"""ONNX rewrites for the MYRIAD X compiler: PReLU as one op (bit-identical), PReLUs between convolutions split."""

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from enet_edge.errors import ConfigError
from enet_edge.export.rewrite.rewrites import REWRITES, apply_rewrites, fuse_prelu, split_prelu
from enet_edge.export.targets import load_target


def _decomposed_prelu(x: str, slope: str, prefix: str):
    """relu(x) - relu(-x) * a, as tf2onnx writes ENet's PReLU."""
    return [helper.make_node("Relu", [x], [f"{prefix}/r"], name=f"{prefix}/Relu"),
            helper.make_node("Neg", [x], [f"{prefix}/n"], name=f"{prefix}/Neg"),
            helper.make_node("Relu", [f"{prefix}/n"], [f"{prefix}/rn"], name=f"{prefix}/Relu_1"),
            helper.make_node("Mul", [f"{prefix}/rn", slope], [f"{prefix}/m"], name=f"{prefix}/Mul"),
            helper.make_node("Sub", [f"{prefix}/r", f"{prefix}/m"], [f"{prefix}/out"], name=f"{prefix}/sub")]


def conv_prelu_conv_model(rng, c=6, padded=True):
    """x (1,4,10,12) -> Conv 3x3 (bias) -> PReLU -> Conv 3x3 -> PReLU -> Conv 1x1 -> y; PReLUs decomposed."""
    inits = [numpy_helper.from_array(rng.normal(size=(c, 4, 3, 3)).astype(np.float32), "w1"),
             numpy_helper.from_array(rng.normal(size=c).astype(np.float32), "b1"),
             numpy_helper.from_array(rng.normal(size=(c, c, 3, 3)).astype(np.float32), "w2"),
             numpy_helper.from_array(rng.normal(size=(5, c, 1, 1)).astype(np.float32), "w3"),
             numpy_helper.from_array(rng.uniform(-0.5, 1.5, (1, c, 1, 1)).astype(np.float32), "a1"),
             numpy_helper.from_array(rng.uniform(-0.5, 1.5, (1, c, 1, 1)).astype(np.float32), "a2")]
    pads = [1, 1, 1, 1] if padded else [0, 0, 0, 0]
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", pads=pads)]
    nodes += _decomposed_prelu("c1", "a1", "act1")
    nodes += [helper.make_node("Conv", ["act1/out", "w2"], ["c2"], name="conv2", pads=pads)]
    nodes += _decomposed_prelu("c2", "a2", "act2")
    nodes += [helper.make_node("Conv", ["act2/out", "w3"], ["y"], name="conv3")]
    h, w = (10, 12) if padded else (6, 8)
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 10, 12])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 5, h, w])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7
    return model


def run(model, x):
    import onnxruntime as ort

    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


def ops(model):
    return sorted(n.op_type for n in model.graph.node)


def test_fuse_prelu_is_bit_identical(rng):
    model = conv_prelu_conv_model(rng)
    x = rng.normal(size=(1, 4, 10, 12)).astype(np.float32)
    before = run(model, x)
    fused = onnx.ModelProto.FromString(model.SerializeToString())
    assert fuse_prelu(fused) == 2
    onnx.checker.check_model(fused, full_check=True)
    assert ops(fused) == ["Conv", "Conv", "Conv", "PRelu", "PRelu"]
    assert [n.name for n in fused.graph.node if n.op_type == "PRelu"] == ["act1/sub", "act2/sub"]  # named as the Sub
    assert np.array_equal(run(fused, x), before)
    assert {i.name for i in fused.graph.initializer} == {"w1", "b1", "w2", "w3", "a1", "a2"}


def test_fuse_prelu_leaves_other_patterns():
    """relu(x) - relu(-y) * a with y != x is no PReLU."""
    slope = numpy_helper.from_array(np.full((1, 2, 1, 1), 0.5, np.float32), "a")
    nodes = [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Neg", ["z"], ["n"]),
             helper.make_node("Relu", ["n"], ["rn"]), helper.make_node("Mul", ["rn", "a"], ["m"]),
             helper.make_node("Sub", ["r", "m"], ["y"])]
    inputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 2, 3, 3]) for n in ("x", "z")]
    graph = helper.make_graph(nodes, "g", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [slope])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    assert fuse_prelu(model) == 0 and len(model.graph.node) == 5


@pytest.mark.parametrize("padded", [True, False])
def test_split_prelu_moves_each_prelu_into_a_relu_on_a_doubled_convolution(rng, padded):
    model = conv_prelu_conv_model(rng, padded=padded)
    x = rng.normal(size=(1, 4, 10, 12)).astype(np.float32)
    before = run(model, x)
    assert apply_rewrites(model, ["prelu", "prelu_split"]) == {"prelu": 2, "prelu_split": 2}
    onnx.checker.check_model(model, full_check=True)
    assert ops(model) == ["Conv", "Conv", "Conv", "Relu", "Relu"]
    shapes = {i.name.split("/")[0]: tuple(i.dims) for i in model.graph.initializer}
    assert shapes == {"w1": (12, 4, 3, 3), "conv1": (12,), "w2": (12, 12, 3, 3), "conv2": (12,), "w3": (5, 12, 1, 1)}
    after = run(model, x)
    np.testing.assert_allclose(after, before, rtol=1e-5, atol=1e-5 * np.abs(before).max())


def test_split_prelu_needs_a_convolution_on_both_sides(rng):
    model = conv_prelu_conv_model(rng)
    fuse_prelu(model)
    model.graph.node[-1].op_type = "Relu"  # conv3 -> not a conv: act2 has no second convolution
    del model.graph.node[-1].input[1:]
    del model.graph.node[-1].attribute[:]
    assert split_prelu(model) == 1  # act1 only


def test_split_prelu_leaves_dilated_convolutions_alone(rng):
    """The compiler runs a dilated convolution on SHAVEs: no ReLU fuses there, so neither PReLU next to one splits."""
    model = conv_prelu_conv_model(rng)
    fuse_prelu(model)
    conv2 = next(n for n in model.graph.node if n.name == "conv2")
    conv2.attribute.extend([helper.make_attribute("dilations", [2, 2])])
    conv2.attribute[0].ints[:] = [2, 2, 2, 2]  # pads grow with the dilation: same output size
    assert split_prelu(model) == 0 and ops(model).count("PRelu") == 2


def test_targets_name_only_known_rewrites(tmp_path):
    assert load_target("ncs2").onnx_rewrites == ("prelu", "interleave_transpose", "interleave_fold",
                                                 "unpool_broadcast", "phase_split")  # prelu_split: predicted slower
    assert set(load_target("ncs2").onnx_rewrites) <= set(REWRITES)
    text = (tmp_path / "t.toml")
    text.write_text('name = "t"\n[onnx]\nrewrites = ["nope"]\n')
    with pytest.raises(ConfigError, match="rewrites.*among prelu, prelu_split, interleave_transpose, interleave_fold"):
        load_target(str(text))
    text.write_text('name = "t"\n[myriad_compiler]\noptions = { MYRIAD_HW_DILATION = 1 }\n')
    with pytest.raises(ConfigError, match="MYRIAD_HW_DILATION.*must be a string"):
        load_target(str(text))
    text.write_text('name = "t"\n[myriad_compiler]\noptions = { MYRIAD_HW_DILATION = "YES" }\n')
    assert load_target(str(text)).myriad_compiler == {"MYRIAD_HW_DILATION": "YES"}


def test_interleave_transpose_is_one_transpose_and_moves_the_bias_into_the_conv(rng):
    """tf2onnx's slice interleave of a packed (1,4C,h,w) conv output (channel block k = 2*dy + dx) plus a bias:
    replaced by Reshape-Transpose-Reshape with the bias in the conv; the same logits as numpy's interleave."""
    c, h, w = 3, 4, 5
    inits = [numpy_helper.from_array(rng.normal(size=(4 * c, 2, 1, 1)).astype(np.float32), "w"),
             numpy_helper.from_array(rng.normal(size=c).astype(np.float32), "bias"),
             numpy_helper.from_array(np.array([1, h, 2 * w, c], np.int64), "half"),
             numpy_helper.from_array(np.array([1, 2 * h, 2 * w, c], np.int64), "full")]
    for name, value in (("s0", 0), ("e0", 2 * c), ("s1", 2 * c), ("e1", 2**31 - 1), ("ax", 1)):
        inits.append(numpy_helper.from_array(np.array([value], np.int64), name))
    nodes = [helper.make_node("Conv", ["x", "w"], ["packed"], name="conv")]
    for i in range(2):
        nodes += [helper.make_node("Slice", ["packed", f"s{i}", f"e{i}", "ax"], [f"sl{i}"], name=f"slice{i}"),
                  helper.make_node("Transpose", [f"sl{i}"], [f"t{i}"], name=f"t{i}", perm=[0, 2, 3, 1]),
                  helper.make_node("Reshape", [f"t{i}", "half"], [f"r{i}"], name=f"r{i}")]
    nodes += [helper.make_node("Concat", ["r0", "r1"], ["cat"], name="concat", axis=2),
              helper.make_node("Reshape", ["cat", "full"], ["joined"], name="join"),
              helper.make_node("Add", ["joined", "bias"], ["y"], name="bias_add")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, h, w])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2 * h, 2 * w, c])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7
    x = rng.normal(size=(1, 2, h, w)).astype(np.float32)
    before = run(model, x)
    packed = np.einsum("oi,nihw->nohw", numpy_helper.to_array(inits[0])[:, :, 0, 0], x)  # (1, 4C, h, w)
    expected = packed.reshape(2, 2, c, h, w).transpose(3, 0, 4, 1, 2).reshape(1, 2 * h, 2 * w, c)
    np.testing.assert_allclose(before, expected + numpy_helper.to_array(inits[1]), rtol=1e-5, atol=1e-5)
    assert apply_rewrites(model, ["interleave_transpose"]) == {"interleave_transpose": 1}
    onnx.checker.check_model(model, full_check=True)
    assert ops(model) == ["Conv", "Reshape", "Reshape", "Transpose"]
    np.testing.assert_allclose(run(model, x), before, rtol=1e-6, atol=1e-6)
