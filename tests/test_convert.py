"""Slice-8 -> StridedSlice-1 rewrite of the OpenVINO IR (enet_edge.export.convert.onnx_ir), on tiny models."""

import itertools
import re

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from enet_edge.export.checks import gates as checks
from enet_edge.export.convert.onnx_ir import slices_to_strided_slices, to_openvino
from enet_edge.errors import CompatibilityError

ov = pytest.importorskip("openvino")
from openvino import opset8  # noqa: E402

INT64_MAX = np.iinfo(np.int64).max
INT64_MIN = np.iinfo(np.int64).min

# (start, stop, step, axes) on a (3, 5, 7, 4) tensor: tf2onnx's patterns plus the corner cases
CASES_4D = [
    ([1], [INT64_MAX], [1], [1]),
    ([0], [2], [1], [3]),
    ([2], [2147483647], [1], [3]),  # tf2onnx's "to the end"
    ([0, 1, 0, 0], [10**9] * 4, [1, 2, 2, 1], [0, 2, 3, 1]),  # axes out of order (the max-pool switches)
    ([-3], [-1], [1], [-1]),
    ([-1], [INT64_MIN], [-1], [2]),  # reverse an axis
    ([4, INT64_MAX], [0, -INT64_MAX], [-2, -3], [1, -2]),
    ([1, -2], [INT64_MAX, -100], [2, -1], [0, 3]),
    ([-100], [100], [3], [2]),
]


def _ops(model):
    return [(op.get_type_name(), op.get_type_info().version_id) for op in model.get_ordered_ops()]


def _infer(model, *inputs):
    compiled = ov.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    result = compiled(list(inputs))
    return [result[out] for out in compiled.outputs]


def _slice_model(shape, cases):
    """One Parameter, one Slice-8 (with constant bounds) per case, each its own Result."""
    data = ov.opset8.parameter(shape, ov.Type.f32, name="x")
    slices = []
    for i, (start, stop, step, axes) in enumerate(cases):
        node = opset8.slice(data, np.array(start, np.int64), np.array(stop, np.int64), np.array(step, np.int64),
                            np.array(axes, np.int64), name=f"slice_{i}")
        node.output(0).set_names({f"out_{i}"})
        slices.append(node)
    return ov.Model([opset8.result(s) for s in slices], [data], "slices")


def _numpy_slice(x, start, stop, step, axes):
    index = [slice(None)] * x.ndim
    for s, e, st, a in zip(start, stop, step, axes):
        index[a] = slice(int(s), int(e), int(st))
    return x[tuple(index)]


def test_rewrite_leaves_only_strided_slice_and_equal_outputs(rng):
    x = rng.standard_normal((3, 5, 7, 4)).astype(np.float32)
    original = _infer(_slice_model([3, 5, 7, 4], CASES_4D), x)
    model = _slice_model([3, 5, 7, 4], CASES_4D)
    assert slices_to_strided_slices(model) == len(CASES_4D)
    kinds = {t for t in _ops(model) if "Slice" in t[0]}
    assert kinds == {("StridedSlice", "opset1")}
    # friendly and tensor names survive, so per-layer reports and outputs keep their names
    assert {op.get_friendly_name() for op in model.get_ordered_ops() if op.get_type_name() == "StridedSlice"} == {
        f"slice_{i}" for i in range(len(CASES_4D))}
    assert [out.get_any_name() for out in model.outputs] == [f"out_{i}" for i in range(len(CASES_4D))]
    rewritten = _infer(model, x)
    for case, before, after in zip(CASES_4D, original, rewritten):
        expected = _numpy_slice(x, *case)
        assert after.shape == expected.shape, case
        assert np.array_equal(after, expected), case
        assert np.array_equal(before, expected), case


@pytest.mark.parametrize("static", [True, False], ids=["static", "dynamic"])
def test_rewrite_matches_numpy_on_every_bound_and_step(static):
    """1-D sweep: starts/stops inside, at and beyond both ends (INT64 sentinels too), steps of both signs."""
    bounds = [INT64_MIN, -100, -7, -3, -1, 0, 2, 6, 7, 100, INT64_MAX]
    cases = [([s], [e], [st], [0]) for s, e, st in itertools.product(bounds, bounds, [-3, -1, 1, 2])
             if len(range(*slice(int(s), int(e), st).indices(7)))]  # non-empty results only
    model = _slice_model([7] if static else [-1], cases)
    assert slices_to_strided_slices(model) == len(cases)
    assert not any(t == "Slice" for t, _ in _ops(model))
    bounds_in_ir = np.concatenate([op.input_value(i).get_node().get_data() for op in model.get_ordered_ops()
                                   if op.get_type_name() == "StridedSlice" for i in (1, 2)])
    if static:  # normalized to the axis: no INT64 sentinel reaches MYRIAD (whose plugin narrows to int32)
        assert bounds_in_ir.min() >= 0 and bounds_in_ir.max() <= 7
    else:
        assert np.abs(bounds_in_ir).max() <= 100
    x = np.arange(7, dtype=np.float32) + 1
    for case, out in zip(cases, _infer(model, x)):
        assert np.array_equal(out, _numpy_slice(x, *case)), case


def test_non_constant_slice_is_a_clear_error():
    data = ov.opset8.parameter([2, 6], ov.Type.f32, name="x")
    stop = ov.opset8.parameter([1], ov.Type.i64, name="stop")
    node = opset8.slice(data, np.array([0], np.int64), stop, np.array([1], np.int64), np.array([1], np.int64),
                        name="dynamic_slice")
    model = ov.Model([opset8.result(node)], [data, stop], "dyn")
    with pytest.raises(CompatibilityError, match=r"'dynamic_slice'.*stop.*not a constant"):
        slices_to_strided_slices(model)


def test_ir_without_slices_passes_myriad_ruleset_which_rejects_slice8(tmp_path):
    case = CASES_4D[3]
    bad = tmp_path / "slice8.xml"
    ov.save_model(_slice_model([3, 5, 7, 4], [case]), str(bad))
    report = checks.check_file(bad, "myriad_2022_3")
    assert [(v.op_type, v.node, v.rule) for v in report.violations] == [
        ("Slice", "slice_0", "myriad_2022_3:blocked.Slice")]
    assert checks.check_file(bad, "openvino_cpu").ok

    model = _slice_model([3, 5, 7, 4], [case])
    slices_to_strided_slices(model)
    good = tmp_path / "strided.xml"
    ov.save_model(model, str(good), compress_to_fp16=True)
    assert checks.check_file(good, "myriad_2022_3").ok


def test_to_openvino_writes_strided_slice_opset1(tmp_path, rng):
    """ONNX Slice (as tf2onnx writes it) -> IR: save_model keeps StridedSlice-1, outputs unchanged."""
    x = helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 6, 8, 3])
    y = helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 3, 4, 1])
    consts = {"starts": [0, 1, 1], "ends": [INT64_MAX, 2147483647, -1], "steps": [2, 2, 1], "axes": [2, 1, -1]}
    inits = [helper.make_tensor(k, TensorProto.INT64, [3], v) for k, v in consts.items()]
    node = helper.make_node("Slice", ["image", "starts", "ends", "axes", "steps"], ["logits"], name="phase")
    model = helper.make_model(helper.make_graph([node], "g", [x], [y], initializer=inits),
                              opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, tmp_path / "m.onnx")

    xml = tmp_path / "m.xml"
    to_openvino(tmp_path / "m.onnx", xml, "FP16")
    text = xml.read_text()
    assert 'type="Slice"' not in text
    assert re.findall(r'type="StridedSlice" version="(\w+)"', text) == ["opset1"]
    assert 'name="logits" type="StridedSlice"' in text  # the ONNX frontend names the op by its output
    assert checks.check_file(xml, "myriad_2022_3").ok

    frame = rng.integers(0, 256, (1, 6, 8, 3), dtype=np.uint8)
    (out,) = _infer(ov.Core().read_model(str(xml)), frame)
    expected = frame.astype(np.float32)[:, 1::2, 0::2, 1:-1]
    assert np.array_equal(out, expected)
