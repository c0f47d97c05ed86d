"""Each gate rejects graphs with forbidden ops, reporting every offending node."""

import onnx
import pytest
from onnx import TensorProto, helper

from enet_edge.export.checks import gates as checks
from enet_edge.model.config import REFERENCE_REALIZATION
from enet_edge.errors import ArtifactError, CompatibilityError
from enet_edge.export.checks.gates import ruleset_for
from enet_edge.export.targets import load_target

@pytest.fixture(scope="module")
def reference_graph(enet_builds):
    return checks.graph_from_graph_def(enet_builds.frozen(REFERENCE_REALIZATION))  # shared with test_realizations


def test_realization_gate_rejects_argmax_and_scatter(reference_graph):
    ncs2 = load_target("ncs2")
    report = checks.check_graph(reference_graph, ruleset_for("tensorflow", "realization", ncs2))
    bad = {(v.op_type, v.node) for v in report.violations}
    # both pooling layers' MaxPoolWithArgmax and both unpoolings' ScatterNd, each by node name
    assert sum(1 for op, _ in bad if op == "MaxPoolWithArgmax") == 2
    assert sum(1 for op, _ in bad if op == "ScatterNd") == 2
    assert any("bottleneck1_0_downsampling" in node for _, node in bad)
    assert "Conv2DBackpropInput" in {op for op, _ in bad}  # ncs2 uses conv_interleave upsampling


def test_ncsdk_gate_reports_every_blocker(enet_builds):
    graph = checks.graph_from_graph_def(enet_builds.frozen(load_target("ncs1").realization))
    report = checks.check_graph(graph, checks.load_ruleset("ncsdk2_tensorflow"))
    reasons = {}
    for v in report.violations:
        reasons.setdefault(v.op_type, []).append(v)
    dilated = [v for v in reasons["Conv2D"] if "dilations" in v.why]
    assert len(dilated) == 8  # 2, 4, 8, 16 in stages 2 and 3
    assert all("undilated" in v.why for v in dilated)
    assert {"AddV2", "Equal", "SelectV2", "StridedSlice"} <= set(reasons)
    assert not report.ok and "| op type | node |" in report.table()


def _onnx_model(nodes, inputs, outputs, initializers=(), opset=13):
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def test_onnx_gate_rejects_forbidden_ops(tmp_path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 16, 16])
    idx = helper.make_tensor_value_info("idx", TensorProto.INT64, [1, 4, 4, 4])
    nodes = [
        helper.make_node("MaxPool", ["x"], ["p", "idx"], name="pool_with_indices", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("DepthToSpace", ["x"], ["d"], name="d2s", blocksize=2),
        helper.make_node("Relu", ["d"], ["y"], name="relu"),
    ]
    pooled = helper.make_tensor_value_info("p", TensorProto.FLOAT, [1, 4, 4, 4])
    path = tmp_path / "bad.onnx"
    onnx.save(_onnx_model(nodes, [x], [y, idx, pooled]), path)
    report = checks.check_file(path, "onnx_myriad")
    found = {(v.op_type, v.node, v.rule.split(":")[1]) for v in report.violations}
    assert ("MaxPool", "pool_with_indices", "MaxPool.unused_outputs") in found
    assert ("DepthToSpace", "d2s", "blocked.DepthToSpace") in found
    assert checks.check_file(path, "onnx_any").ok


def test_onnx_gate_flags_dynamic_shapes_and_opset(tmp_path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3, 8, 8])
    path = tmp_path / "dyn.onnx"
    onnx.save(_onnx_model([helper.make_node("Relu", ["x"], ["y"], name="r")], [x], [y], opset=18), path)
    report = checks.check_file(path, "onnx_myriad")
    rules = {v.rule for v in report.violations}
    assert "onnx_myriad:static_shapes" in rules and "onnx_myriad:max_opset" in rules


def test_ir_gate_rejects_new_opsets_and_unsupported_ops(tmp_path):
    """The measured failure: an ONNX Pad converts to Pad-12, which OpenVINO 2022.3 cannot read."""
    import openvino as ov

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 16, 16])
    # zero channels appended, like the downsampling bottleneck's shortcut in a naive export
    pads = helper.make_tensor("pads", TensorProto.INT64, [8], [0, 0, 0, 0, 0, 4, 0, 0])
    nodes = [
        helper.make_node("Pad", ["x", "pads"], ["padded"], name="channel_pad"),
        helper.make_node("DepthToSpace", ["padded"], ["y"], name="d2s", blocksize=2),
    ]
    onnx_path = tmp_path / "bad.onnx"
    onnx.save(_onnx_model(nodes, [x], [y], [pads]), onnx_path)
    xml = tmp_path / "bad.xml"
    ov.save_model(ov.convert_model(str(onnx_path)), str(xml))
    report = checks.check_file(xml, "myriad_2022_3")
    by_op = {v.op_type: v for v in report.violations}
    assert "Pad" in by_op and "opset12" in by_op["Pad"].why and "opset10" in by_op["Pad"].why
    assert "DepthToSpace" in by_op
    assert checks.check_file(xml, "openvino_cpu").ok


def test_raise_on_violations_lists_everything(reference_graph):
    report = checks.check_graph(reference_graph, ruleset_for("tensorflow", "realization", load_target("ncs2")))
    with pytest.raises(CompatibilityError) as info:
        checks.raise_on_violations([report], "ncs2")
    assert len(info.value.violations) == len(report.violations) >= 5
    assert str(len(report.violations)) in str(info.value).splitlines()[0]


def test_corrupt_files_are_clear_errors(tmp_path):
    for name, data in [("t.onnx", b"\x08\x07garbage"), ("t.xml", b"<net version='11'><layers>"), ("t.pb", b"\xff" * 20)]:
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(ArtifactError, match="re-export"):
            checks.read_graph(path)
    other = tmp_path / "model.tflite"
    other.write_bytes(b"x")
    with pytest.raises(ArtifactError, match="cannot check"):
        checks.read_graph(other)


def test_every_target_ruleset_exists_and_matches_its_artifact():
    from enet_edge.export.targets import available_targets

    assert {"ncs2", "cpu", "ncs1"} <= set(available_targets())
    formats = {"tensorflow": "tensorflow", "onnx": "onnx", "openvino_ir": "openvino_ir"}
    for name in available_targets():
        target = load_target(name)
        for kind, ruleset in target.checks.items():
            assert ruleset_for(kind, ruleset, target)["format"] == formats[kind]
