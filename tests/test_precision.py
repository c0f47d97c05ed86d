"""Precision is explicit: asked for, read back, labelled, and exact where it must be, on every CPU kind.

The CPU kinds are simulated (tests/simulated_cpu.py): OpenVINO reports the kind's capabilities and
read-back precision while this machine computes, so no test depends on which x86 CPU runs it.
"""

import dataclasses
import json

import numpy as np
import pytest

from enet_edge.errors import ConfigError, DeviceError
from enet_edge.runtime import open_adapter
from enet_edge.runtime.precision import (
    MODEL_PRECISION_KEY,
    PrecisionRun,
    has_arithmetic,
    normalize_precision,
    openvino_config,
    require_exact,
    type_name,
)

from simulated_cpu import CPU_KINDS, simulate


def tiny_ir(tmp_path, classes=12, size=(8, 16), declares=None):
    """A few-op IR shaped like an export: u8 (1,H,W,3) NHWC in, f32 (1,H,W,K) NHWC logits out.

    ``declares``: the inference precision its rt_info asks for (as INT8 exports do), or None."""
    import openvino as ov
    import openvino.opset8 as ops

    rng = np.random.default_rng(0)
    image = ops.parameter([1, *size, 3], ov.Type.u8, name="image")
    x = ops.transpose(ops.convert(image, "f32"), ops.constant(np.array([0, 3, 1, 2], np.int64)))
    w = ops.constant(rng.normal(size=(classes, 3, 3, 3)).astype(np.float32))
    y = ops.convolution(x, w, [1, 1], [1, 1], [1, 1], [1, 1])
    logits = ops.transpose(y, ops.constant(np.array([0, 2, 3, 1], np.int64)))
    logits.output(0).get_tensor().set_names({"logits"})
    model = ov.Model([logits], [image], "tiny")
    if declares is not None:
        model.set_rt_info(declares, list(MODEL_PRECISION_KEY))
    path = tmp_path / "tiny.xml"
    ov.save_model(model, str(path), compress_to_fp16=False)
    return path


# -- the policy itself -----------------------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [("FP16", "f16"), ("fp32", "f32"), ("bfloat16", "bf16"), ("", None),
                                            (None, None), ("f16", "f16")])
def test_normalize_precision(text, expected):
    assert normalize_precision(text) == expected


def test_normalize_precision_refuses_unknown():
    with pytest.raises(ConfigError, match="not one of f32, f16, bf16"):
        normalize_precision("int4")


def test_openvino_config_and_capabilities():
    assert openvino_config(None) == {} and openvino_config("FP16") == {"INFERENCE_PRECISION_HINT": "f16"}
    assert has_arithmetic("bf16", CPU_KINDS["avx512_bf16"].capabilities)
    assert not has_arithmetic("f16", CPU_KINDS["avx512_bf16"].capabilities)
    assert has_arithmetic("f16", CPU_KINDS["amx_fp16"].capabilities)
    assert type_name("bfloat16") == "bf16" and type_name("f32") == "f32"


def test_precision_run_labels():
    default = PrecisionRun(None, "bf16")
    assert (default.name, default.substituted, default.label) == ("bf16", False, "bf16 (CPU's default)")
    swapped = PrecisionRun("f16", "bf16")
    assert swapped.substituted and swapped.label == "bf16 (asked f16, CPU runs bf16: this CPU has BF16 but no FP16 arithmetic)"
    assert PrecisionRun("bf16", "f32").note == "asked bf16, CPU runs f32: this device has no BF16 arithmetic"
    exact = PrecisionRun("f32", "f32", quantized=True)
    assert (exact.name, exact.label, exact.note) == ("i8+f32", "i8+f32", "")
    assert PrecisionRun("f16", "bf16").to_dict()["substituted"] is True


def test_require_exact():
    require_exact(PrecisionRun("f32", "f32"), "x")
    with pytest.raises(DeviceError, match="asked f16, CPU runs bf16.*--precision bf16"):
        require_exact(PrecisionRun("f16", "bf16"), "eval")
    with pytest.raises(DeviceError, match="no precision was asked"):
        require_exact(PrecisionRun(None, "bf16"), "eval")


# -- what the OpenVINO adapter asks and reads back, per CPU kind -------------------------------------

EXPECTED = {  # kind -> {asked: ran}
    "avx2": {None: "f32", "f32": "f32", "f16": "f32", "bf16": "f32"},
    "avx512_bf16": {None: "bf16", "f32": "f32", "f16": "bf16", "bf16": "bf16"},
    "amx_fp16": {None: "bf16", "f32": "f32", "f16": "f16", "bf16": "bf16"},
}


@pytest.mark.parametrize("kind", sorted(EXPECTED))
@pytest.mark.parametrize("asked", [None, "f32", "f16", "bf16"])
def test_openvino_adapter_reads_back_what_runs(tmp_path, monkeypatch, kind, asked):
    simulate(monkeypatch, kind)
    adapter = open_adapter(tiny_ir(tmp_path), precision=asked)
    try:
        run = adapter.precision_run
        assert (run.requested, run.ran) == (asked, EXPECTED[kind][asked])
        assert adapter.precision == EXPECTED[kind][asked]
        assert adapter.config.get("INFERENCE_PRECISION_HINT") == asked  # asked explicitly, or not at all
        assert run.substituted == (asked is not None and asked != EXPECTED[kind][asked])
        assert "FP32" in adapter.properties()["OPTIMIZATION_CAPABILITIES"]
        out = adapter.infer(np.zeros((1, 8, 16, 3), np.uint8))
        assert out.shape == (1, 8, 16, 12)
    finally:
        adapter.close()


@pytest.mark.parametrize("kind", sorted(EXPECTED))
@pytest.mark.parametrize("asked", [None, "bf16"])
def test_an_ir_that_asks_for_f32_gets_it_unless_the_caller_asks(tmp_path, monkeypatch, kind, asked):
    """INT8 exports declare f32 for their float parts: every CPU kind then runs f32 by default, and a caller
    who asks for something else gets that."""
    simulate(monkeypatch, kind)
    adapter = open_adapter(tiny_ir(tmp_path, declares="f32"), precision=asked)
    try:
        run = adapter.precision_run
        if asked is None:
            assert (run.requested, run.ran, run.by_model) == ("f32", "f32", True)
            assert run.label == "f32 (the model asks for f32)" and run.to_dict()["asked_by"] == "model"
            assert adapter.config["INFERENCE_PRECISION_HINT"] == "f32"
        else:
            assert (run.requested, run.ran, run.by_model) == ("bf16", EXPECTED[kind]["bf16"], False)
            assert run.to_dict()["asked_by"] == "caller"
    finally:
        adapter.close()


def test_an_ir_that_declares_no_known_precision_is_refused(tmp_path):
    from enet_edge.errors import ArtifactError

    with pytest.raises(ArtifactError, match="inference_precision = 'int4' is not a precision.*re-export"):
        open_adapter(tiny_ir(tmp_path, declares="int4"))


def test_declared_precision_labels():
    run = PrecisionRun("f32", "f32", quantized=True, by_model=True)
    assert (run.name, run.label, run.substituted) == ("i8+f32", "i8+f32 (the model asks for f32)", False)
    assert PrecisionRun(None, "bf16").to_dict()["asked_by"] == "nobody"


def test_config_hint_counts_as_asked(tmp_path, monkeypatch):
    simulate(monkeypatch, "avx512_bf16")
    adapter = open_adapter(tiny_ir(tmp_path), config={"INFERENCE_PRECISION_HINT": "FP16"})
    assert adapter.precision_run.requested == "f16" and adapter.precision_run.ran == "bf16"
    adapter.close()


def test_float_only_backends_refuse_other_precisions(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Identity", ["image"], ["logits"])], "g",
                              [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 8, 8, 3])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 8, 8, 3])])
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8), str(path))
    assert open_adapter(path, precision="f32").precision_run == PrecisionRun("f32", "f32")
    with pytest.raises(DeviceError, match="onnxruntime backend runs f32 only"):
        open_adapter(path, precision="bf16")


def test_myriad_needs_fp16_and_names_the_release(tmp_path):
    with pytest.raises(DeviceError, match="MYRIAD computes in f16 only"):
        open_adapter(tiny_ir(tmp_path), device="MYRIAD", precision="f32")
    with pytest.raises(DeviceError, match="OpenVINO 2022.3 LTS, the last release with the MYRIAD plugin"):
        open_adapter(tiny_ir(tmp_path), device="MYRIAD")


# -- export parity, eval, bench and demo on each CPU kind (eval, bench, demo: on the tiny export) -------------


@pytest.fixture(scope="module")
def fp16_export_inputs(tmp_path_factory):
    """The ncs2 target at 64x96 with seeded random weights: the export request to run per CPU kind. Without its MYRIAD
    X compile stage (~12 s each, nothing to do with the CPU's precision; tested in test_myriadx and test_export)."""
    from enet_edge.export.pipeline import ExportRequest
    from enet_edge.export.targets import load_target

    target = dataclasses.replace(load_target("ncs2"), myriad_compiler=None)
    root = tmp_path_factory.mktemp("precision_exports")
    return lambda name: ExportRequest(target=target, out_dir=root / name, height=64, width=96)


@pytest.mark.slow  # a real ncs2 export (TensorFlow, tf2onnx, OpenVINO conversion) per CPU kind
@pytest.mark.parametrize("kind", ["avx512_bf16", "amx_fp16"])
def test_fp16_export_parity_never_measures_bf16(monkeypatch, fp16_export_inputs, kind):
    from enet_edge.export.pipeline import export

    simulate(monkeypatch, kind)
    manifest = export(fp16_export_inputs(kind), log=lambda m: None).manifest
    ran = manifest["parity"]["ran_on"]
    assert ran["openvino_ir"]["requested_precision"] == "f32" and ran["openvino_ir"]["inference_precision"] == "f32"
    assert ran["fp16_arithmetic"]["requested_precision"] == "f16"
    if kind == "amx_fp16":  # true FP16 arithmetic: its own row, gated by its own thresholds
        assert ran["openvino_ir_f16"]["inference_precision"] == "f16"
        assert "openvino_ir_f16" in manifest["parity"]["results"]
    else:
        assert "no FP16 arithmetic" in ran["openvino_ir_f16"]["skipped"]
        assert "openvino_ir_f16" not in manifest["parity"]["results"]
    assert "bf16" not in json.dumps(manifest["parity"]["results"])


@pytest.mark.slow  # a real ncs2 export up to its parity stage
def test_export_parity_refuses_a_device_that_ignores_the_hint(monkeypatch, fp16_export_inputs):
    from enet_edge.export.pipeline import export

    simulate(monkeypatch, "ignores_hints")
    request = fp16_export_inputs("ignored")
    with pytest.raises(DeviceError, match="asked f32, CPU runs bf16"):
        export(request, log=lambda m: None)
    assert not request.out_dir.exists()


@pytest.mark.parametrize("kind, asked, ran", [
    ("avx512_bf16", None, "f32"), ("avx512_bf16", "bf16", "bf16"), ("amx_fp16", "f16", "f16"), ("avx2", None, "f32"),
])
def test_eval_runs_exactly_what_it_asks(monkeypatch, tiny_export_dir, camvid, kind, asked, ran):
    from enet_edge.device.evaluate import EvalConfig, evaluate

    simulate(monkeypatch, kind)
    cfg = EvalConfig(model=tiny_export_dir, data_dir=camvid, limit=1, progress=False, precision=asked)
    assert evaluate(cfg).precision == ran


@pytest.mark.parametrize("kind, asked, ran", [("avx512_bf16", "f16", "bf16"), ("avx2", "f16", "f32"),
                                              ("avx2", "bf16", "f32")])
def test_eval_refuses_a_substituted_precision(monkeypatch, tiny_export_dir, camvid, kind, asked, ran):
    from enet_edge.device.evaluate import EvalConfig, evaluate

    simulate(monkeypatch, kind)
    cfg = EvalConfig(model=tiny_export_dir, data_dir=camvid, limit=1, progress=False, precision=asked)
    with pytest.raises(DeviceError, match=f"asked {asked}, CPU runs {ran}"):
        evaluate(cfg)


def test_eval_default_precision_per_device():
    from enet_edge.device.evaluate import EvalConfig

    assert EvalConfig(model="build/cpu").precision == "f32"
    assert EvalConfig(model="build/ncs2", device="MYRIAD").precision == "f16"


@pytest.mark.parametrize("kind, asked, label", [
    ("avx512_bf16", None, "bf16 (CPU's default)"),
    ("avx512_bf16", "f16", "bf16 (asked f16, CPU runs bf16: this CPU has BF16 but no FP16 arithmetic)"),
    ("amx_fp16", "f16", "f16"),
    ("avx2", None, "f32 (CPU's default)"),
])
def test_bench_labels_what_ran(monkeypatch, tiny_export_dir, kind, asked, label):
    from enet_edge.device import bench

    simulate(monkeypatch, kind)
    entry = bench.BenchEntry(str(tiny_export_dir), precision=asked)
    config = bench.BenchConfig(entries=(entry,), niter=2, warmup=0)
    result = bench.run_bench(config)[0]
    assert bench.precision_label(result) == label
    assert f"precision {label}" in bench.format_report(result)
    doc = bench.result_document(result, {})
    assert doc["precision"] == label.split()[0] and doc["precision_requested"] == (asked or "default")
    assert doc["precision_note"] == result.precision_run.note


def test_demo_shows_what_ran(monkeypatch, tiny_export_dir, camvid, tmp_path):
    from enet_edge.device.demo import DemoConfig, run_demo

    simulate(monkeypatch, "avx512_bf16")
    config = DemoConfig(source=str(camvid / "val"), model=str(tiny_export_dir), show=False, limit=1,
                        precision="f16")
    summary = run_demo(config, log=lambda m: None)
    assert summary.precision.startswith("bf16 (asked f16")
    assert "precision bf16 (asked f16" in summary.format()


def test_target_inference_precision_option():
    """cpu-int8 asks for f32 float parts; the value is checked where the target is loaded."""
    import dataclasses

    from enet_edge.export.targets import load_target

    assert load_target("cpu-int8").inference_precision == "f32"
    assert load_target("cpu").inference_precision is None and load_target("ncs2").inference_precision is None
    with pytest.raises(ConfigError, match="inference_precision='FP32' must be one of f32, f16, bf16"):
        dataclasses.replace(load_target("cpu"), inference_precision="FP32")
    with pytest.raises(ConfigError, match="MYRIAD computes in f16 only"):
        dataclasses.replace(load_target("ncs2"), inference_precision="f32")
    assert dataclasses.replace(load_target("ncs2"), inference_precision="f16").inference_precision == "f16"


def test_device_precision_is_the_one_place_myriad_means_f16():
    from enet_edge.runtime.precision import check_device_precision, device_precision

    assert device_precision("MYRIAD") == device_precision("MYRIAD.1.2-ma2480") == device_precision("myriad") == "f16"
    assert device_precision("CPU") is None and device_precision("GPU.1") is None
    assert device_precision("HETERO:MYRIAD,CPU") is None  # a device list chooses per layer
    assert check_device_precision("MYRIAD", "FP16") == "f16" and check_device_precision("MYRIAD", None) is None
    assert check_device_precision("CPU", "bf16") == "bf16"
    with pytest.raises(DeviceError, match=r"MYRIAD computes in f16 only; it cannot run bf16 \(ask for f16 or none\)"):
        check_device_precision("MYRIAD", "bf16")


def test_a_device_that_computes_in_f16_is_asked_for_f16_float_outputs():
    """MYRIAD's float outputs come as f16 (no FP16->FP32 stage on the stick, half the USB bytes); ids stay ids."""
    from enet_edge.runtime.precision import device_output_type

    assert device_output_type("MYRIAD", "f32") == device_output_type("MYRIAD.1.2-ma2480", "f32") == "f16"
    assert device_output_type("MYRIAD", "i32") == "i32" and device_output_type("MYRIAD", "u8") == "u8"
    assert device_output_type("CPU", "f32") == "f32" and device_output_type("HETERO:MYRIAD,CPU", "f32") == "f32"


def test_the_openvino_adapter_widens_what_an_f16_device_writes(tiny_ncs2_dir, rng):
    """The adapter asks MYRIAD for f16 logits and hands callers the IR's f32 (run here on CPU with the same model)."""
    import openvino as ov

    from enet_edge.runtime.adapters.openvino import _device_output

    model = ov.Core().read_model(str(tiny_ncs2_dir / "enet.xml"))
    asked, widen = _device_output(ov, model, "MYRIAD")
    assert asked.output(0).get_element_type() == ov.Type.f16 and widen == np.float32
    same, none = _device_output(ov, ov.Core().read_model(str(tiny_ncs2_dir / "enet.xml")), "CPU")
    assert none is None and same.output(0).get_element_type() == ov.Type.f32
    frame = rng.integers(0, 256, tuple(model.input(0).get_shape()), dtype=np.uint8)
    core = ov.Core()
    f16 = core.compile_model(asked, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})(frame)[0]
    f32 = core.compile_model(same, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})(frame)[0]
    assert f16.dtype == np.float16
    np.testing.assert_array_equal(f16, f32.astype(np.float16))


def test_the_widened_output_is_the_irs_type_sync_and_async(tiny_ncs2_dir, rng, monkeypatch):
    """As on MYRIAD (simulated: the CPU is asked for f16 outputs too): infer() and the async callbacks both hand back
    float32, the device's f16 values widened, and the output spec says float32."""
    from enet_edge.runtime.adapters import openvino as adapter_module
    from enet_edge.runtime.adapters import open_adapter

    monkeypatch.setattr(adapter_module, "device_output_type", lambda device, ir_type: "f16")
    adapter = open_adapter(tiny_ncs2_dir / "enet.xml", backend="openvino", device="CPU", precision="f32", nireq=2)
    plain = open_adapter(tiny_ncs2_dir / "enet.xml", backend="openvino", device="CPU", precision="f32")
    try:
        frame = rng.integers(0, 256, adapter.input_spec.shape, dtype=np.uint8)
        assert adapter.output_spec.dtype == "float32"
        sync = adapter.infer(frame)
        got = []
        adapter.start_async(frame, None, lambda logits, _: got.append(logits))
        adapter.wait_all()
        expected = plain.infer(frame).astype(np.float16).astype(np.float32)
        for out in (sync, got[0]):
            assert out.dtype == np.float32
            np.testing.assert_array_equal(out, expected)
    finally:
        adapter.close()
        plain.close()
