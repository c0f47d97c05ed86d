"""Class-map output: the arg-max inside the IR (TopK k=1) and the ONNX (ArgMax), class ids (1,H,W) instead of logits."""

import json

import numpy as np
import pytest

from enet_edge.errors import ConfigError
from enet_edge.export.checks.parity import compare, compare_class_map
from enet_edge.export.checks.thresholds import ParityThresholds
from enet_edge.runtime import Segmenter

from tiny_models import TINY_SIZE, tiny_onnx


@pytest.fixture(scope="module")
def tiny_irs(tmp_path_factory):
    """The tiny model as logits IR and as int32 / uint8 class-map IRs."""
    from enet_edge.export.convert.onnx_ir import to_openvino

    root = tmp_path_factory.mktemp("class_map")
    onnx_path = tiny_onnx(root / "m.onnx")
    irs = {"logits": root / "logits.xml", "int32": root / "int32.xml", "uint8": root / "uint8.xml"}
    to_openvino(onnx_path, irs["logits"], "FP32")
    for dtype in ("int32", "uint8"):
        to_openvino(onnx_path, irs[dtype], "FP16" if dtype == "int32" else "FP32", {"x": "y"}, class_map=dtype)
    return irs


def _run(xml, frame):
    import openvino as ov

    compiled = ov.Core().compile_model(str(xml), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    return compiled({0: frame})[compiled.output(0)], compiled.output(0)


@pytest.mark.parametrize("dtype", ["int32", "uint8"])
def test_class_map_ir_equals_the_argmax_of_the_logits(tiny_irs, dtype):
    frame = np.random.default_rng(3).integers(0, 256, (1, *TINY_SIZE, 3), dtype=np.uint8)
    logits, _ = _run(tiny_irs["logits"], frame)
    ids, port = _run(tiny_irs[dtype], frame)
    assert ids.shape == (1, *TINY_SIZE) and ids.dtype == np.dtype(dtype)
    assert "class_map" in port.get_names()
    np.testing.assert_array_equal(ids, logits.argmax(1))


@pytest.mark.parametrize("dtype", ["int32", "uint8"])
def test_onnx_class_map_is_the_argmax_and_converts_from_its_logits(tmp_path, tiny_irs, dtype):
    """The ONNX ends in ArgMax + Cast (ties to the lowest id); its IR is the logits IR's, plus its own TopK."""
    import onnx
    import onnxruntime as ort

    from enet_edge.export.convert.onnx_ir import append_onnx_class_map, to_openvino
    from enet_edge.export.checks.gates import check_graph, load_ruleset, read_graph

    model = onnx.load(str(tiny_onnx(tmp_path / "m.onnx")))
    append_onnx_class_map(model, dtype)
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(tmp_path / "cm.onnx"))
    frame = np.random.default_rng(5).integers(0, 256, (1, *TINY_SIZE, 3)).astype(np.float32)
    frame[0, :2, :2] = 7.0  # a flat patch: equal logits, the lowest class id wins
    session = ort.InferenceSession(str(tmp_path / "cm.onnx"), providers=["CPUExecutionProvider"])
    ids = session.run(["class_map"], {"image": frame})[0]
    logits = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"]).run(
        None, {"image": frame})[0]
    assert ids.shape == (1, *TINY_SIZE) and ids.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(ids, logits.argmax(1))
    to_openvino(tmp_path / "cm.onnx", tmp_path / "cm.xml", "FP32", class_map=dtype)
    u8 = frame.astype(np.uint8)
    np.testing.assert_array_equal(_run(tmp_path / "cm.xml", u8)[0], _run(tiny_irs[dtype], u8)[0])
    to_openvino(tmp_path / "cm.onnx", tmp_path / "logits.xml", "FP32")  # e.g. the FP32 IR that INT8 quantizes
    np.testing.assert_array_equal(_run(tmp_path / "logits.xml", u8)[0], _run(tiny_irs["logits"], u8)[0])
    report = check_graph(read_graph(tmp_path / "cm.onnx"), load_ruleset("onnx_myriad"))
    assert report.ok, report.violations
    with pytest.raises(ConfigError, match="class map dtype 'int8'"):
        append_onnx_class_map(onnx.load(str(tmp_path / "m.onnx")), "int8")


def test_onnx_myriad_allows_a_cast_only_of_the_argmax(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    from enet_edge.export.checks.gates import check_graph, load_ruleset, read_onnx

    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["r"], name="relu"),
         helper.make_node("Cast", ["r"], ["y"], name="stray_cast", to=TensorProto.INT32)],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.INT32, [1, 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.save(model, str(tmp_path / "cast.onnx"))
    report = check_graph(read_onnx(tmp_path / "cast.onnx"), load_ruleset("onnx_myriad"))
    assert [(v.node, v.op_type) for v in report.violations] == [("stray_cast", "Cast")]


def test_class_map_ops_are_in_the_myriad_table_for_int32_only(tiny_irs):
    from enet_edge.export.checks.gates import check_graph, load_ruleset, read_graph

    ruleset = load_ruleset("myriad_2022_3")
    assert check_graph(read_graph(tiny_irs["int32"]), ruleset).ok  # TopK-3 + Squeeze, no Convert
    report = check_graph(read_graph(tiny_irs["uint8"]), ruleset)  # u8 needs a Convert of a computed tensor
    assert not report.ok and {v.op_type for v in report.violations} == {"Convert"}


def test_the_rt_info_describes_the_output(tiny_irs):
    import openvino as ov

    info = ov.Core().read_model(str(tiny_irs["int32"])).get_rt_info("model_info")
    assert str(info["output"]).startswith("class_map (1,H,W) int32")


@pytest.mark.parametrize("dtype", ["int32", "uint8"])
def test_segmenter_takes_class_ids_as_they_come(tiny_irs, dtype):
    frame = np.random.default_rng(4).integers(0, 256, (90, 120, 3), dtype=np.uint8)
    with_ids = Segmenter.open(tiny_irs[dtype])
    with_logits = Segmenter.open(tiny_irs["logits"])
    a, b = with_ids.infer(frame), with_logits.infer(frame)
    np.testing.assert_array_equal(a.class_map, b.class_map)
    np.testing.assert_array_equal(a.frame_class_map, b.frame_class_map)
    assert a.class_map.dtype == np.uint8 and a.frame_class_map.shape == (90, 120)


def test_compare_class_map_and_thresholds():
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(2, 4, 5, 12))
    ids = ref.argmax(-1).astype(np.int32)
    ids[0, 0, 0] = (ids[0, 0, 0] + 1) % 12
    result = compare_class_map(ids, ref)
    assert result.argmax_agreement == pytest.approx(1 - 1 / 40) and result.max_abs_rel is None
    limits = ParityThresholds(max_abs_rel=0.1, mean_abs_rel=0.01, argmax_agreement=0.9)
    assert limits.failures(result) == {}  # the logit metrics are not measured, so not gated
    assert ParityThresholds(argmax_agreement=0.99).failures(result) == {"argmax_agreement": "0.975 < 0.99"}
    assert compare(ref, ref).max_abs_rel == 0.0
    with pytest.raises(ConfigError, match="class map shape"):
        compare_class_map(ids[:, :3], ref)


def test_target_class_map_option(tmp_path):
    from enet_edge.export.targets import load_target

    assert load_target("ncs2").class_map is None
    assert load_target("ncs2").with_class_map("int32").class_map == "int32"
    text = (load_target("cpu").source and open(load_target("cpu").source).read())
    good = tmp_path / "cm.toml"
    good.write_text(text.replace('name = "cpu"', 'name = "cm"') + '\n[output]\nclass_map = "uint8"\n')
    assert load_target(str(good)).class_map == "uint8"
    bad = tmp_path / "bad.toml"
    bad.write_text(text + '\n[output]\nclass_map = "int8"\n')
    with pytest.raises(ConfigError, match="class_map='int8' must be int32 or uint8"):
        load_target(str(bad))


def test_ncs2_class_map_export(tmp_path, camvid):
    """The real pipeline at 64x96: gates pass, the manifest describes the class-map output, parity on class maps."""
    from enet_edge.export.pipeline import ExportRequest, export
    from enet_edge.export.targets import load_target

    target = load_target("ncs2").with_class_map("int32")
    out = export(ExportRequest(target=target, out_dir=tmp_path / "ncs2", height=64, width=96, data_dir=camvid),
                 log=lambda m: None).out_dir
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["supported"]
    assert manifest["artifacts"]["openvino_ir"]["outputs"][0] == {
        "name": "class_map", "shape": [1, 64, 96], "dtype": "int32", "layout": "NHW",
        "note": "class ids: the arg-max over the classes ran inside the model"}
    ir = manifest["parity"]["results"]["openvino_ir"]
    assert ir["max_abs_rel"] is None and ir["argmax_agreement"] > 0.98
    assert "TopK-opset3" in manifest["artifacts"]["openvino_ir"]["op_inventory"]
    # the ONNX ends in the same arg-max, and that is what the stick's compiler built
    assert manifest["artifacts"]["onnx"]["outputs"][0]["name"] == "class_map"
    assert manifest["parity"]["results"]["onnx"]["argmax_agreement"] > 0.999
    assert manifest["myriad_compiler"]["verdict"] == "compiled"
    assert "ArgMax" in manifest["artifacts"]["onnx"]["op_inventory"]


test_ncs2_class_map_export = pytest.mark.slow(test_ncs2_class_map_export)
