"""INT8 quantization stage: calibration data, the mIoU gate, the manifest record."""

import dataclasses
import logging

import numpy as np
import pytest

from enet_edge.export.convert import quantize
from enet_edge.errors import AccuracyError, ConfigError, DataError
from enet_edge.export.targets import QuantizationSpec

SPEC = QuantizationSpec(calibration_frames=4, eval_frames=3, accuracy_control=False)


def test_spread_takes_evenly_spaced_items():
    from enet_edge.camvid import spread

    assert spread(list(range(10)), 5) == [0, 2, 4, 6, 8]
    assert spread([1, 2], 0) == [1, 2]
    assert spread([1, 2], 9) == [1, 2]


def test_calibration_frames_are_runner_inputs(camvid):
    frames = quantize.calibration_frames(camvid, "train", 3, 64, 96)
    assert len(frames) == 3
    assert all(f.shape == (1, 64, 96, 3) and f.dtype == np.uint8 for f in frames)


def test_missing_data_is_a_data_error(tmp_path):
    with pytest.raises(DataError):
        quantize.calibration_frames(tmp_path / "nowhere", "train", 3, 64, 96)


def test_spec_validation():
    with pytest.raises(ConfigError, match="preset"):
        QuantizationSpec(preset="fast")
    with pytest.raises(ConfigError, match="calibration_frames"):
        QuantizationSpec(calibration_frames=0)
    with pytest.raises(ConfigError, match="max_miou_drop"):
        QuantizationSpec(max_miou_drop=-1)
    with pytest.raises(ConfigError, match="ignored_patterns entry '\\(unclosed'"):
        QuantizationSpec(ignored_patterns=["(unclosed"])
    assert QuantizationSpec(ignored_patterns=["a.*"]).ignored_patterns == ("a.*",)  # hashable, frozen


def test_with_quantization_changes_only_what_it_names():
    from enet_edge.export.targets import load_target

    int8 = load_target("cpu-int8")
    small = int8.with_quantization(ir_argmax_agreement=0.4, calibration_frames=6)
    assert small.quantization.calibration_frames == 6
    assert small.quantization.max_miou_drop == int8.quantization.max_miou_drop
    assert small.thresholds["openvino_ir"].argmax_agreement == 0.4
    assert small.thresholds["openvino_ir"].max_abs_rel == int8.thresholds["openvino_ir"].max_abs_rel
    assert int8.thresholds["openvino_ir"].argmax_agreement != 0.4  # the loaded spec is untouched
    with pytest.raises(ConfigError, match="no \\[quantization\\]"):
        load_target("cpu").with_quantization(calibration_frames=6)
    with pytest.raises(ConfigError, match="calibration_frames"):
        int8.with_quantization(calibration_frames=0)


def _fake_miou(values):
    def ir_miou(xml_path, pairs):
        return values["int8" if "int8" in str(xml_path) else "fp32"]
    return ir_miou


@pytest.mark.parametrize("fast_bias_correction", [True, False])  # False: export/cpu-int8.toml's full correction
def test_gate_passes_and_records(fast_bias_correction, tiny_export_dir, camvid, tmp_path, monkeypatch):
    """On the tiny IR (one convolution; NNCF takes a second): the record, and a really quantized IR."""
    import openvino as ov

    monkeypatch.setattr(quantize, "ir_miou", _fake_miou({"fp32": 0.600, "int8": 0.595}))
    spec = dataclasses.replace(SPEC, fast_bias_correction=fast_bias_correction)
    record = quantize.quantize_ir(tiny_export_dir / "enet.xml", tmp_path / "int8.xml", spec, camvid,
                                  log=lambda m: None)
    assert record["fast_bias_correction"] is fast_bias_correction
    assert record["miou_drop_points"] == pytest.approx(0.5)
    assert record["calibration"] == {"split": "train", "frames": 4}
    assert record["eval"] == {"split": "val", "frames": 3, "float_precision": "f32"}
    assert (tmp_path / "int8.bin").is_file()
    ops = ov.Core().read_model(str(tmp_path / "int8.xml")).get_ops()
    assert record["fake_quantize_ops"] == sum(op.get_type_name() == "FakeQuantize" for op in ops) >= 1
    assert record["activation_zero_points"] == 0  # SPEC's default preset: symmetric activations
    (conv,) = [op for op in ops if op.get_type_name() == "Convolution"]
    upstream, node = [], conv  # the convolution's activation path back to the input
    while node.get_type_name() != "Parameter":
        node = node.input(0).get_source_output().get_node()
        upstream.append(node.get_type_name())
    assert "FakeQuantize" in upstream, upstream  # its activations are quantized


def test_gate_rejects_a_large_drop(tiny_export_dir, camvid, tmp_path, monkeypatch):
    monkeypatch.setattr(quantize, "ir_miou", _fake_miou({"fp32": 0.60, "int8": 0.55}))
    with pytest.raises(AccuracyError, match="loses 5.00 mIoU points"):
        quantize.quantize_ir(tiny_export_dir / "enet.xml", tmp_path / "int8.xml",
                             dataclasses.replace(SPEC, max_miou_drop=1.0), camvid, log=lambda m: None)


def test_ir_miou_matches_the_eval_path(tiny_export_dir, camvid):
    """The gate's mIoU is the runner's mIoU (the number `enet-edge eval` prints)."""
    from enet_edge.camvid import spread_pairs
    from enet_edge.metrics import evaluate_pairs
    from enet_edge.runtime.segmenter import Segmenter

    pairs = spread_pairs(camvid, "val", 2)
    segmenter = Segmenter.open(tiny_export_dir / "enet.xml", precision=quantize.GATE_PRECISION)  # not bf16 on BF16 CPUs
    acc, _, _ = evaluate_pairs(segmenter, pairs)
    assert quantize.ir_miou(tiny_export_dir / "enet.xml", pairs) == pytest.approx(acc.scores()["miou"])


def test_accuracy_control_validation_measures_the_gate_number(tiny_export_dir, camvid):
    """NNCF's validation_fn (pre-resized tensors on a compiled IR) scores as the gate does (files through the runner)."""
    import openvino as ov

    from enet_edge import camvid as data

    xml = tiny_export_dir / "enet.xml"
    pairs = data.spread_pairs(camvid, "val", 2)
    compiled = ov.Core().compile_model(str(xml), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    height, width = (int(d) for d in compiled.input(0).get_shape()[1:3])
    samples = [(quantize.model_frame(image, height, width), label)
               for image, label in (data.read_pair(i, lab) for i, lab in pairs)]
    assert quantize._miou_of_compiled(compiled, samples) == pytest.approx(quantize.ir_miou(xml, pairs))


def test_nncf_ignored_scope_notes_are_dropped_only_inside_quantization():
    logger = logging.getLogger("nncf")
    with quantize._without_ignored_op_notes():
        assert not quantize._IgnoredOpNotes().filter(logging.LogRecord(
            "nncf", logging.INFO, __file__, 1, "Not adding activation input quantizer for operation: 9 x", None, None))
        assert logger.filters
    assert not [f for f in logger.filters if isinstance(f, quantize._IgnoredOpNotes)]
    assert quantize._IgnoredOpNotes().filter(logging.LogRecord("nncf", logging.INFO, __file__, 1, "Statistics", None, None))


def test_converter_named_followers_of_ignored_nodes_are_ignored_too():
    """tf2onnx names the switches' nearest upsampling ``Resize__N``: outside the scope patterns, yet it must stay
    float (a quantized copy of the pooled maximum no longer equals the element it came from)."""
    import openvino as ov
    import openvino.opset10 as ops

    x = ops.parameter([1, 4, 8, 8], np.float32, name="x")
    pooled = ops.max_pool(x, [2, 2], [1, 1], [0, 0], [0, 0], [2, 2], name="net/b1_pool/MaxPool2d").output(0)

    def up(t, name):
        return ops.interpolate(t, np.array([8, 8], np.int64), np.array([2.0, 2.0], np.float32), "nearest", "sizes",
                               axes=np.array([2, 3], np.int64), coordinate_transformation_mode="asymmetric",
                               nearest_mode="floor", name=name)

    equal = ops.equal(x, up(pooled, "Resize__15"), name="net/b1_pool/Equal")
    conv = ops.convolution(pooled, np.ones((4, 4, 1, 1), np.float32), [1, 1], [0, 0], [0, 0], [1, 1], name="Conv__7")
    branch = up(conv, "Resize__16")  # fed by a quantizable conv: NNCF may quantize it
    model = ov.Model([ops.result(equal), ops.result(branch)], [x])
    assert quantize.ignored_node_names(model, [r".*_pool/.*"]) == ["Resize__15"]
    assert quantize.ignored_node_names(model, []) == []


def _fake_quantize_model(low, high, levels=256, weights=False):
    """x (1,4,8,8) f32 -> FakeQuantize(x or a constant, low, high, low, high) -> Convolution; an ``ov.Model``."""
    import openvino as ov
    from openvino import opset10 as ops

    x = ops.parameter([1, 4, 8, 8], np.float32, name="x")
    data = ops.constant(np.ones((4, 4, 1, 1), np.float32)) if weights else x
    bounds = [ops.constant(np.float32(v)) for v in (low, high, low, high)]
    fq = ops.fake_quantize(data, bounds[0], bounds[1], bounds[2], bounds[3], levels, name="fq")
    conv = ops.convolution(x, fq, [1, 1], [0, 0], [0, 0], [1, 1]) if weights else \
        ops.convolution(fq, ops.constant(np.ones((4, 4, 1, 1), np.float32)), [1, 1], [0, 0], [0, 0], [1, 1])
    return ov.Model([conv], [x])


@pytest.mark.parametrize("low, high, levels, expected", [
    (0.0, 2.0, 256, []),                    # unsigned, from 0: no zero point
    (-2.0 * 128 / 127, 2.0, 256, []),       # NNCF's symmetric signed grid
    (-1.0 * 8 / 7, 1.0, 16, []),            # symmetric at another level count
    (-0.1, 2.0, 256, ["fq"]),               # asymmetric (the "mixed" preset on a PReLU output)
    (-2.0, 2.0, 256, ["fq"]),               # symmetric range but an odd grid: zero falls between levels
])
def test_activation_zero_points(low, high, levels, expected):
    assert quantize.activation_zero_points(_fake_quantize_model(low, high, levels)) == expected


def test_activation_zero_points_skips_weights():
    assert quantize.activation_zero_points(_fake_quantize_model(-0.1, 2.0, weights=True)) == []
