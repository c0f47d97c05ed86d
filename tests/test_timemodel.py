"""The MYRIAD X time model: per-stage MACs from a real dump, predict() by hand, unmodelled stages, the stored fit
reproduced from the committed CSV, and (slow) one fit-set network's features regenerated with the compiler."""

import importlib.util
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO
from enet_edge.export.myriad import timemodel as tm
from enet_edge.export.myriad.compiler import CompiledGraph, Stage, Tensor, parse_dump

TINY_DUMP = Path(__file__).parent / "data" / "myriad_tiny.dot"
"""A real dump (OpenVINO 2021.4.2 MYRIAD, U8 in, FP16 out) of a tiny ONNX, opset 11: x[1,3,16,16] -> Conv 3->8 3x3
pad 1 -> PRelu 0.25 (fused into the NCE conv) -> Conv 8->8 3x3 dilation 2 (a SHAVE Conv) -> ConvTranspose 8->4 2x2
stride 2 (Upsampling + an NCE conv)."""


def _module(name):
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    return module


# -- the dump's MACs --------------------------------------------------------------------------------------------


def test_a_real_dump_gives_each_convolution_its_macs():
    graph = parse_dump(TINY_DUMP.read_text())
    macs = {(s.category, s.type, s.name): s.macs for s in graph.stages if s.macs}
    assert macs == {
        ("NCE", "MyriadXHwOp", "c1"): 3 * 3 * 4 * 8 * 16 * 16,  # input channels padded 3 -> 4 by the compiler
        ("SHAVE", "Conv", "c2"): 3 * 3 * 8 * 8 * 16 * 16,  # the dilated conv stays on SHAVEs
        # the deconv as upsample + 2x2 conv; its 4 output channels padded to the NCE's 8
        ("NCE", "MyriadXHwOp", "y@UpsampleConv"): 2 * 2 * 8 * 8 * 32 * 32,
    }
    conv = next(s for s in graph.stages if s.name == "c2")
    assert conv.outputs[0] == Tensor((16, 16, 8, 1), "FP16", "Intermediate") and conv.weights[0].dims == (9, 8, 8)
    assert conv.bytes_in == conv.inputs[0].bytes == 16 * 16 * 8 * 2
    nce = next(s for s in graph.stages if s.name == "c1")
    assert nce.attr("hwOpType") == "CONV" and nce.attr("kernelSizeX") == "3"
    assert (graph.memory["input"], graph.memory["output"]) == (16 * 16 * 3, 32 * 32 * 4 * 2)  # U8 in, FP16 out
    assert tm.io_bytes(graph) == (768, 8192)


def test_the_stored_model_prices_every_stage_of_the_real_dump():
    result = tm.predict(parse_dump(TINY_DUMP.read_text()))
    assert result["unmodelled"] == [] and result["compute_ms"] > 0
    assert result["sync_ms"]["usb2"] > result["sync_ms"]["usb3"] > result["compute_ms"]
    assert {t["type"] for t in result["top_stage_types"]} >= {"NCE MyriadXHwOp", "SHAVE Conv", "DMA Copy"}
    stored = tm.load_time_model()
    assert result["model"] == {"version": stored.version, "loo_median_error": stored.loo_median_error}


# -- predict() by hand --------------------------------------------------------------------------------------------


PARAMS = tm.TimeModel(nce_gmacs=100.0, shave_gmacs=10.0, shave_gbs=10.0, shave_act_gbs=1.0, dma_gbs=20.0,
                      stage_us=1000.0, throughput_parallelism=2.0, usb3_mbs=100.0, usb2_mbs=10.0,
                      usb_request_ms=1.0, version="test", loo_median_error=0.5)


def _stage(name, kind, category, bytes_in=0, bytes_out=0, macs=0, index=0, attrs=()):
    return Stage(name, kind, index, category, bytes_in, bytes_out, macs=macs, attrs=attrs)


def synthetic_graph(*extra):
    stages = (
        _stage("conv", "MyriadXHwOp", "NCE", 1000, 1000, macs=10 ** 9),  # 10 ms at 100 GMAC/s
        _stage("dilated", "Conv", "SHAVE", macs=10 ** 8),  # 10 ms at 10 GMAC/s
        _stage("prelu", "PRelu", "SHAVE", 5 * 10 ** 7, 5 * 10 ** 7),  # 1e8 B: 10 ms at 10 GB/s
        _stage("swish", "Swish", "SHAVE", 5 * 10 ** 6, 5 * 10 ** 6),  # 1e7 B: 10 ms at 1 GB/s
        _stage("scale", "Power", "SHAVE", 5 * 10 ** 7, 5 * 10 ** 7, attrs=(("power", "1"),)),  # linear: 10 ms
        _stage("copy", "Copy", "DMA", 10 ** 8, 10 ** 8),  # 2e8 B: 10 ms at 20 GB/s
        _stage("hidden", "Copy", "injected", 10 ** 9, 10 ** 9),  # in the NCE's shadow: 0
        _stage("view", "StubConcat", "special", 10 ** 9, 10 ** 9, index=-1),  # never run: 0
    ) + extra
    return CompiledGraph(stages, {"input": 10 ** 6, "output": 10 ** 6}, 7)


def test_predict_gives_the_hand_computed_times():
    result = tm.predict(synthetic_graph(), PARAMS)
    compute = 6 * 10.0 + 6 * 1.0  # six stages of 10 ms, six dispatches of 1 ms
    assert result["compute_ms"] == pytest.approx(compute)
    assert result["sync_ms"]["usb3"] == pytest.approx(compute + 1.0 + 2e6 / 100e6 * 1e3)  # + 20 ms
    assert result["sync_ms"]["usb2"] == pytest.approx(compute + 1.0 + 2e6 / 10e6 * 1e3)  # + 200 ms
    assert result["throughput_fps"] == pytest.approx(1e3 / max(compute / 2.0, 20.0), rel=1e-4)
    top = {t["type"]: (t["ms"], t["count"]) for t in result["top_stage_types"]}
    assert top["NCE MyriadXHwOp"] == (pytest.approx(11.0), 1) and top["SHAVE Power"] == (pytest.approx(11.0), 1)
    assert "injected Copy" not in top and "special StubConcat" not in top
    assert result["unmodelled"] == [] and result["model"] == {"version": "test", "loo_median_error": 0.5}


def test_the_usb3_link_bounds_throughput():
    graph = CompiledGraph((_stage("conv", "MyriadXHwOp", "NCE", macs=10 ** 8),), {"input": 10 ** 7, "output": 0}, 7)
    assert tm.predict(graph, PARAMS)["throughput_fps"] == pytest.approx(1e3 / 100.0)  # 1e7 B at 100 MB/s


def test_an_unknown_stage_type_is_listed_as_unmodelled_never_a_silent_zero():
    graph = synthetic_graph(_stage("nms", "FooBar", "SHAVE", 10 ** 9, 10 ** 9), _stage("nms2", "FooBar", "SHAVE"))
    result = tm.predict(graph, PARAMS)
    assert result["unmodelled"] == [{"type": "SHAVE FooBar", "count": 2}]
    assert result["compute_ms"] == pytest.approx(66.0 + 2 * 1.0)  # their dispatch only
    assert tm.features(graph)["unmodelled"] == 2


@pytest.mark.parametrize("change", [{"nce_gmacs": -1.0}, {"dma_gbs": 0.0}, {"stage_us": float("nan")},
                                    {"throughput_parallelism": 5.0}, {"throughput_parallelism": 0.5}])
def test_the_time_model_checks_its_parameters(change):
    values = {**PARAMS.parameters(), **change}
    with pytest.raises(ValueError):
        tm.TimeModel(**values)


# -- the fit ----------------------------------------------------------------------------------------------------


def test_nnls_is_exact_on_a_small_problem():
    a = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    assert tm.nnls(a, a @ np.array([2.0, 3.0])) == pytest.approx([2.0, 3.0])
    assert tm.nnls(a, np.array([-1.0, 2.0, 1.0])) == pytest.approx([0.0, 1.5])  # the negative one clipped


def test_refit_from_the_committed_csv_reproduces_the_stored_parameters(tmp_path):
    calibrate = _module("myriad_calibrate")
    out = tmp_path / "model.toml"
    assert calibrate.main(["--from-csv", "--toml", str(out), "--date", "2000-01-01"]) == 0
    refit, stored = tm.load_time_model(out), tm.load_time_model()
    for key, value in stored.parameters().items():
        assert getattr(refit, key) == pytest.approx(value, rel=1e-4), key
    assert refit.loo_median_error == pytest.approx(stored.loo_median_error, abs=1e-4)
    assert stored.loo_median_error <= 0.20


def test_the_rendered_loo_table_lists_every_fit_network_and_the_stored_error():
    loo = _module("myriad_loo")
    table = loo.render_loo_table()
    stored = tm.load_time_model()
    rows = loo.read_features()
    for row in rows:
        assert f"| {row['network']}" in table
    assert f"= {stored.loo_median_error:.1%}" in table
    errors = [float(line.split("|")[5].strip().rstrip("%")) / 100 for line in table.splitlines()
              if line.startswith("| ") and "not in the fit" not in line and "network" not in line]
    assert len(errors) == sum(1 for r in rows if r["in_fit"]) and all(abs(math.log1p(e)) <= math.log(2) for e in errors)


# -- slow: one network regenerated -----------------------------------------------------------------------------


@pytest.mark.slow
def test_a_regenerated_keras_network_gives_its_stored_csv_row(tmp_path):
    """MobileNetV2 at 224 rebuilt by benchmarks/myriad_fitset.py (tf.keras.applications, tf2onnx) and compiled (U8
    input, default output): its features are the committed CSV's row."""
    from enet_edge.export.myriad.compiler import CompilerUnavailable, compiler_python

    try:
        python = compiler_python()
    except CompilerUnavailable as exc:  # CI has pyenv's 3.9/3.8: the compiler is promised there, never skipped
        pytest.fail(f"the MYRIAD X compiler is needed to regenerate a fit-set row: {exc}")
    name = "mobilenet-v2-1.0-224-tf"
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "myriad_fitset.py"), str(tmp_path), "--only",
                           name, "--compiler-python", str(python)], capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    features = tm.features(parse_dump((tmp_path / name / "graph.dot").read_text()))
    row = next(r for r in _module("myriad_loo").read_features() if r["network"] == name)
    for key in ("nce_gmac", "shave_gmac", "shave_gb", "shave_act_gb", "dma_gb", "stages", "unmodelled",
                "input_bytes", "output_bytes"):
        assert features[key] == pytest.approx(row[key], rel=1e-4, abs=1e-9), key
