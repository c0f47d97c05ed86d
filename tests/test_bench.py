"""enet-edge bench: statistics, entry syntax, config checks, JSON schema, error paths, real CPU runs."""

import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from enet_edge.device import bench
from enet_edge.device.bench import measure
from enet_edge.device.bench import (
    BenchConfig,
    BenchEntry,
    Stats,
    compare_document,
    parse_entry,
    result_document,
    run_bench,
)
from enet_edge.cli import main
from enet_edge.errors import ConfigError, DeviceError

from conftest import REPO
from tiny_models import TINY_SIZE

STAT_KEYS = {"min", "mean", "median", "p90", "p99", "max"}
FAST = ["-n", "3", "--warmup", "1", "-q"]


@pytest.fixture(scope="module")
def cpu_dir(tiny_export_dir):
    """An FP32 export directory (the tiny IR + ONNX one: bench measures whatever model it is given)."""
    return Path(tiny_export_dir)


@pytest.fixture(scope="module")
def ncs2_dir(tiny_ncs2_dir):
    """An ncs2-like export directory: FP16 IR, manifest precision FP16."""
    return Path(tiny_ncs2_dir)


# --------------------------------------------------------------------------------------------
# statistics and formatting


def test_stats_percentiles_on_known_data():
    ms = Stats.from_ns([i * 1_000_000 for i in range(100, 0, -1)]).ms()  # 1..100 ms, unsorted
    assert ms == pytest.approx({"min": 1.0, "mean": 50.5, "median": 50.5, "p90": 90.1, "p99": 99.01, "max": 100.0})
    odd = Stats.from_ns([5, 1, 3])
    assert (odd.count, odd.min_ns, odd.median_ns, odd.max_ns, odd.mean_ns) == (3, 1, 3, 5, 3)
    assert odd.p90_ns == pytest.approx(4.6)  # 3 + 0.8 * (5 - 3): linear between closest ranks
    one = Stats.from_ns([7_000])
    assert set(one.ms().values()) == {0.007}
    empty = Stats.from_ns([])
    assert empty.count == 0 and set(empty.ms().values()) == {None}


def test_split_rounds():
    assert measure._split(10, 3) == [4, 3, 3]
    assert measure._split(2, 2) == [1, 1]
    assert sum(measure._split(101, 10)) == 101


# --------------------------------------------------------------------------------------------
# entries and config


@pytest.mark.parametrize("spec, expected", [
    ("build/cpu", ("build/cpu", None, "CPU", None)),
    ("build/cpu:openvino:CPU:f32", ("build/cpu", "openvino", "CPU", "f32")),
    ("build/cpu/enet.onnx:onnxruntime", ("build/cpu/enet.onnx", "onnxruntime", "CPU", None)),
    ("build/cpu/enet_frozen.pb:tensorflow", ("build/cpu/enet_frozen.pb", "tensorflow", "CPU", None)),
    ("build/ncs2:openvino:HETERO:MYRIAD,CPU", ("build/ncs2", "openvino", "HETERO:MYRIAD,CPU", None)),
    ("build/ncs2:openvino:HETERO:MYRIAD,CPU:FP16", ("build/ncs2", "openvino", "HETERO:MYRIAD,CPU", "f16")),
    ("build/ncs2:openvino:MYRIAD", ("build/ncs2", "openvino", "MYRIAD", None)),
    ("build/cpu::GPU.1", ("build/cpu", None, "GPU.1", None)),
    ("build/cpu:::bf16", ("build/cpu", None, "CPU", "bf16")),
    ("build/cpu:openvino:f16", ("build/cpu", "openvino", "CPU", "f16")),
    ("build/cpu:openvino:AUTO:", ("build/cpu", "openvino", "AUTO", None)),
    ("C:\\models\\cpu:openvino:NPU", ("C:\\models\\cpu", "openvino", "NPU", None)),
])
def test_parse_entry(spec, expected):
    entry = parse_entry(spec)
    assert (entry.model, entry.backend, entry.device, entry.precision) == expected
    assert entry.label == spec


def test_parse_entry_defaults_and_existing_paths(tmp_path):
    entry = parse_entry("build/cpu", backend="onnxruntime", device="CPU", precision="FP32")
    assert (entry.backend, entry.precision) == ("onnxruntime", "f32")
    odd = tmp_path / "a:b"  # a path that exists as a whole is a path
    odd.mkdir()
    assert parse_entry(str(odd)).model == str(odd)


@pytest.mark.parametrize("spec, message", [
    ("build/cpu:tensorrt", "is not a backend"),
    ("build/cpu:openvino:CPU:f64", "meant as a precision"),
    ("", "empty model entry"),
])
def test_parse_entry_errors(spec, message):
    with pytest.raises(ConfigError, match=message):
        parse_entry(spec)


@pytest.mark.parametrize("kwargs, message", [
    ({"entries": ()}, "nothing to benchmark"),
    ({"mode": "fast"}, "mode"),
    ({"niter": 0}, "niter"),
    ({"niter": 5, "time_s": 1.0}, "not both"),
    ({"time_s": 0}, "time"),
    ({"warmup": -1}, "warmup"),
    ({"nireq": 2}, "applies to --mode throughput"),
    ({"mode": "throughput", "nireq": 0}, "nireq"),
    ({"nstreams": "many"}, "nstreams"),
    ({"hint": "fastest"}, "hint"),
    ({"per_layer": -1}, "per_layer"),
    ({"rounds": 0}, "rounds"),
    ({"threads": 0}, "threads"),
])
def test_config_checks(kwargs, message):
    args = {"entries": (BenchEntry("build/cpu"),)}
    args.update(kwargs)
    with pytest.raises(ConfigError, match=message):
        BenchConfig(**args)


def test_config_defaults():
    one = BenchConfig(entries=[BenchEntry("a")])
    assert one.entries == (BenchEntry("a"),) and one.total_niter == bench.DEFAULT_NITER and one.total_rounds == 1
    assert one.ov_hint == "LATENCY"
    three = BenchConfig(entries=(BenchEntry("a"), BenchEntry("b"), BenchEntry("c")), mode="throughput", niter=4,
                        nstreams="auto", hint="none")
    assert three.total_rounds == 4 and three.nstreams == "AUTO" and three.ov_hint is None
    timed = BenchConfig(entries=(BenchEntry("a"), BenchEntry("b")), time_s=2.0)
    assert timed.total_niter is None and timed.total_rounds == bench.DEFAULT_ROUNDS


# --------------------------------------------------------------------------------------------
# real runs on CPU


def _check_stats(block):
    assert set(block) >= STAT_KEYS
    assert 0 < block["min"] <= block["median"] <= block["p90"] <= block["p99"] <= block["max"]
    assert block["min"] <= block["mean"] <= block["max"]


def test_bench_cli_latency_json_schema(cpu_dir, tmp_path, capsys):
    out = tmp_path / "sub" / "one.json"
    assert main(["bench", str(cpu_dir), "-n", "6", "--warmup", "1", "-q", "--per-layer", "4", "--precision", "f32",
                 "--json", str(out)]) == 0
    text = capsys.readouterr().out
    for needle in ("model load + compile", "first inference", "infer-only", "end-to-end", "preprocess",
                   "postprocess", "per-layer counters, top 4", "machine:", "p90", "p99", "FPS"):
        assert needle in text, needle
    assert " us" in text  # the read stage of in-memory frames is microseconds, not "0.00 ms"
    doc = json.loads(out.read_text())
    required = {"model", "backend", "device", "precision", "mode", "niter", "load_ms", "first_infer_ms",
                "latency_ms", "throughput_fps", "e2e_latency_ms", "machine"}
    assert required <= set(doc)
    assert doc["model"] == str(cpu_dir / "enet.xml") and doc["backend"] == "openvino" and doc["device"] == "CPU"
    assert doc["precision"] == "f32" and doc["mode"] == "latency" and doc["niter"] == 6 and doc["e2e_niter"] == 6
    assert doc["load_ms"] > 0 and doc["first_infer_ms"] > 0 and doc["throughput_fps"] > 0
    _check_stats(doc["latency_ms"])
    _check_stats(doc["e2e_latency_ms"])
    assert set(doc["e2e_stages_ms"]) == {"read", "preprocess", "infer", "postprocess"}
    assert doc["e2e_latency_ms"]["median"] >= doc["e2e_stages_ms"]["infer"]["min"]
    assert doc["artifact"]["verified"] and doc["artifact"]["target"] == "tiny"  # the manifest's target
    assert doc["input"]["source"] == "random" and doc["input"]["tensor"]["shape"] == [1, *TINY_SIZE, 3]
    machine = doc["machine"]
    assert {"cpu_model", "logical_cores", "os", "python", "versions"} <= set(machine)
    assert {"openvino", "onnxruntime", "numpy"} <= set(machine["versions"]) and machine["versions"]["openvino"]
    times = [row["real_time_ms"] for row in doc["per_layer"]]
    assert times == sorted(times, reverse=True) and times[0] > 0
    kinds = doc["per_layer_by_type"]
    assert sum(k["layers"] for k in kinds) == sum(1 for r in doc["per_layer"] if r["status"] != "NOT_RUN" or r["real_time_ms"] > 0)
    assert sum(k["real_time_ms"] for k in kinds) == pytest.approx(sum(times))
    assert any(k["node_type"] == "Convolution" for k in kinds)


def test_per_layer_by_type_hand_computed():
    from enet_edge.runtime.adapters import LayerCounter

    rows = [LayerCounter("a", "Convolution", "jit_avx2_I8", "EXECUTED", 100.0, 90.0),
            LayerCounter("b", "Convolution", "jit_avx2_I8", "EXECUTED", 50.0, 40.0),
            LayerCounter("c", "Convolution", "jit_avx2_1x1_I8", "EXECUTED", 120.0, 100.0),
            LayerCounter("d", "Reshape", "unknown", "NOT_RUN", 0.0, 0.0),
            LayerCounter("e", "MaxPool", "jit_avx2_f32", "EXECUTED", 10.0, 10.0)]
    assert bench.per_layer_by_type(rows) == [
        bench.LayerTypeTotal("Convolution", "jit_avx2_I8", 2, 150.0),
        bench.LayerTypeTotal("Convolution", "jit_avx2_1x1_I8", 1, 120.0),
        bench.LayerTypeTotal("MaxPool", "jit_avx2_f32", 1, 10.0)]
    assert [r.name for r in bench.executed_layers(rows)] == ["a", "b", "c", "e"]


def test_bench_throughput_mode_with_images(cpu_dir, tmp_path, rng, capsys):
    import cv2

    images = tmp_path / "frames"
    images.mkdir()
    for i in range(3):
        cv2.imwrite(str(images / f"{i}.png"), rng.integers(0, 256, (90, 120, 3), dtype=np.uint8))
    (images / "notes.txt").write_text("not an image")
    out = tmp_path / "tp.json"
    assert main(["bench", str(cpu_dir), "--mode", "throughput", "--nireq", "2", "--nstreams", "1", "-n", "8",
                 "--warmup", "2", "-q", "--images", str(images), "--json", str(out)]) == 0
    assert "2 requests in flight, async" in capsys.readouterr().out
    doc = json.loads(out.read_text())
    assert doc["mode"] == "throughput" and doc["nireq"] == 2 and doc["niter"] == 8
    assert doc["input"]["source"] == "images" and doc["input"]["frames"] == 3
    assert {"read", "preprocess", "wait", "infer", "collect", "postprocess"} == set(doc["e2e_stages_ms"])
    assert doc["e2e_stages_ms"]["read"]["min"] > 0
    assert doc["properties"]["requested"]["NUM_STREAMS"] == "1"
    _check_stats(doc["latency_ms"])


def test_bench_time_budget(cpu_dir):
    config = BenchConfig(entries=(parse_entry(str(cpu_dir / "enet.onnx")),), time_s=0.2, warmup=0)
    result = run_bench(config)[0]
    assert result.backend == "onnxruntime" and result.infer.latency.count >= 1
    assert 0.15 < result.infer.wall_ns / 1e9 < 2.0


def test_compare_is_interleaved_and_ratioed(cpu_dir, ncs2_dir, tmp_path, capsys, monkeypatch):
    calls = []
    original = measure._Session.run_infer

    def spy(self, count, seconds):
        calls.append((self.entry.label, count))
        return original(self, count, seconds)

    monkeypatch.setattr(measure._Session, "run_infer", spy)
    entries = [f"{cpu_dir}:openvino:CPU:f32", f"{cpu_dir / 'enet.onnx'}:onnxruntime", f"{ncs2_dir}"]
    out = tmp_path / "cmp.json"
    assert main(["bench", "--compare", *entries, "-n", "4", "--rounds", "2", "--warmup", "1", "-q",
                 "--json", str(out)]) == 0
    timed = [c for c in calls if c[1] == 2]  # warm-up calls run 1 iteration
    assert timed == [(e, 2) for e in entries] * 2  # round 1: A B C, round 2: A B C
    text = capsys.readouterr().out
    assert "3 entries" in text and "2 interleaved round(s)" in text and "ratios to entry 1" in text
    doc = json.loads(out.read_text())
    assert [r["entry"] for r in doc["results"]] == entries
    assert [r["backend"] for r in doc["results"]] == ["openvino", "onnxruntime", "openvino"]
    assert all(r["niter"] == 4 and r["rounds"] == 2 for r in doc["results"])
    assert doc["ratios"][0]["throughput_fps"] == 1.0 and doc["ratios"][0]["latency_median"] == 1.0
    assert doc["results"][2]["model_precision"] == "FP16"
    ratio = doc["results"][1]["throughput_fps"] / doc["results"][0]["throughput_fps"]
    assert doc["ratios"][1]["throughput_fps"] == pytest.approx(ratio)


def test_compare_with_tensorflow_frozen_graph(tiny_tf_export_dir):
    cpu_dir = tiny_tf_export_dir
    entries = (parse_entry(str(cpu_dir)), parse_entry(f"{cpu_dir / 'enet_frozen.pb'}:tensorflow"))
    results = run_bench(BenchConfig(entries=entries, niter=2, warmup=0))
    doc = compare_document(results, {})
    assert [r["backend"] for r in doc["results"]] == ["openvino", "tensorflow"]
    assert doc["results"][1]["per_layer"] is None
    text = bench.format_compare(results, per_layer=5)
    assert "not available for the tensorflow backend" in text
    # the fastest entry end to end is named, in the text and the JSON
    medians = [r["e2e_latency_ms"]["median"] for r in doc["results"]]
    best = medians.index(min(medians))
    assert doc["fastest"]["entry"] == doc["results"][best]["entry"]
    assert f"On this CPU use [{best + 1}] {doc['results'][best]['entry']}" in text
    assert doc["fastest"]["text"] in text


def test_result_document_is_strict_json(cpu_dir):
    result = run_bench(BenchConfig(entries=(parse_entry(str(cpu_dir)),), niter=2, warmup=0))[0]
    doc = result_document(result, bench.machine_info())
    json.dumps(doc, allow_nan=False)
    assert doc["schema"] == bench.SCHEMA and doc["per_layer"] is None
    # the bounds of a CPU result: its compute rate against the peak, the IR's tensors through DRAM once
    bound = doc["roofline"]
    assert bound["gmacs_reached"] > 0 and 0 < bound["compute_share"] and bound["stream_ms"] > 0
    assert bound["gmacs_peak"] == pytest.approx(bound["cores"] * bound["ghz"] * bound["macs_per_cycle_core"], rel=1e-3)
    assert "bounds     " in bench.format_report(result) and "GMAC/s peak" in bench.format_report(result)
    cpu = measure.read_cpu_spec()
    assert measure.roofline_of(dataclasses.replace(result, device="MYRIAD"), cpu, 10.0) is None
    assert measure.roofline_of(dataclasses.replace(result, complexity=None), cpu, 10.0) is None
    assert measure.with_bounds([dataclasses.replace(result, complexity=None, roofline=None)], print)[0].roofline is None


# --------------------------------------------------------------------------------------------
# error paths: one line on stderr, non-zero exit, no traceback


def _copy_ir(src, dst):
    dst.mkdir()
    for name in ("enet.xml", "enet.bin"):
        shutil.copy(src / name, dst / name)
    return dst / "enet.xml"


def _error_cases(cpu_dir, tmp_path):
    import cv2  # noqa: F401  (image errors below need OpenCV present)

    trunc = _copy_ir(cpu_dir, tmp_path / "trunc")
    trunc.write_bytes(trunc.read_bytes()[:trunc.stat().st_size // 2])
    tbin = _copy_ir(cpu_dir, tmp_path / "tbin")
    tbin.with_suffix(".bin").write_bytes(b"\0" * 64)
    garbage = tmp_path / "garbage.xml"
    garbage.write_text("this is not xml")
    garbage.with_suffix(".bin").write_bytes(b"")
    tampered = tmp_path / "tampered"
    shutil.copytree(cpu_dir, tampered)
    with open(tampered / "enet.xml", "r+b") as f:
        f.truncate((tampered / "enet.xml").stat().st_size // 2)
    bad_images = tmp_path / "bad_images"
    bad_images.mkdir()
    (bad_images / "a.png").write_bytes(b"\x89PNG broken")
    empty = tmp_path / "empty"
    empty.mkdir()
    return {
        "missing model": ([str(tmp_path / "nope")], "does not exist"),
        "truncated xml": ([str(trunc)], "OpenVINO cannot read"),
        "truncated bin": ([str(tbin)], "OpenVINO cannot read"),
        "garbage xml": ([str(garbage)], "OpenVINO cannot read"),
        "manifest mismatch": ([str(tampered)], "does not match its manifest sha256"),
        "absent device": ([str(cpu_dir), "-d", "MYRIAD"], "available_devices: CPU"),
        "absent device in entry": (["--compare", str(cpu_dir), f"{cpu_dir}:openvino:HETERO:NPU,CPU"],
                                   "device NPU is not available"),
        "unreadable image": ([str(cpu_dir), "--images", str(bad_images)], "cannot read image"),
        "no images": ([str(cpu_dir), "--images", str(empty)], "holds no images"),
        "not a folder": ([str(cpu_dir), "--images", str(cpu_dir / "enet.xml")], "is not a directory"),
        "wrong backend for file": ([f"{cpu_dir / 'enet.xml'}:onnxruntime"], "reads .onnx"),
        "bad entry": ([f"{cpu_dir}:tensorrt"], "is not a backend"),
        "precision off openvino": ([str(cpu_dir / "enet.onnx"), "--precision", "f16"],
                                   "the onnxruntime backend runs f32 only, not f16"),
        "nothing given": ([], "give a MODEL"),
        "nireq in latency mode": ([str(cpu_dir), "--nireq", "4"], "applies to --mode throughput"),
        "json is a dir": ([str(cpu_dir), "--json", str(tmp_path)], "is a directory"),
    }


def test_error_paths_are_one_line(cpu_dir, tmp_path, capsys):
    for name, (argv, message) in _error_cases(cpu_dir, tmp_path).items():
        code = main(["bench", *argv, *FAST])
        err = capsys.readouterr().err
        assert code == 2, name
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("enet-edge bench: error: "), (name, err)
        assert message in lines[0], (name, lines[0])


def test_wrong_input_shape_and_dtype_models(tmp_path, capsys):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    def model(name, shape, elem):
        x = helper.make_tensor_value_info("x", elem, shape)
        y = helper.make_tensor_value_info("y", elem, shape)
        graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", [x], [y])
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
        m.ir_version = 8
        onnx.save(m, str(tmp_path / name))
        return str(tmp_path / name)

    cases = {model("nchw.onnx", [1, 3, 8, 8], TensorProto.FLOAT): "NHWC",
             model("int.onnx", [1, 8, 8, 3], TensorProto.INT64): "as int64",
             model("dyn.onnx", ["N", 8, 8, 3], TensorProto.FLOAT): "dynamic shape"}
    for path, message in cases.items():
        for backend in ("onnxruntime", "openvino"):
            assert main(["bench", f"{path}:{backend}", *FAST]) == 2
            err = capsys.readouterr().err.strip().splitlines()
            assert len(err) == 1 and message in err[0], err


def test_cli_process_exit_code_without_traceback(tmp_path):
    done = subprocess.run([sys.executable, "-m", "enet_edge.cli", "bench", str(tmp_path / "missing"), "-q"],
                          capture_output=True, text=True, cwd=str(REPO), timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"enet-edge bench: error: model path {tmp_path / 'missing'} does not exist; give an export directory or an "
        f".xml, .onnx, .pb, .tflite or .npz file"]


def test_help_documents_the_entry_syntax(capsys):
    with pytest.raises(SystemExit):
        main(["bench", "--help"])
    text = capsys.readouterr().out
    assert "PATH[:BACKEND[:DEVICE[:PRECISION]]]" in text and "HETERO:MYRIAD,CPU" in text
    assert "build/cpu/enet.onnx:onnxruntime" in text


def test_trained_weights_bench_through_the_keras_backend(monkeypatch):
    """The 'TensorFlow, Keras model' row of `make bench`: .npz weights resolve to the keras backend."""
    entry = parse_entry(str(REPO / "weights" / "enet_camvid.npz"))
    small = dataclasses.replace(entry, options=(("height", 64), ("width", 96)))  # built small: the row is the point
    (result,) = bench.run_bench(BenchConfig(entries=(small,), niter=2, warmup=0))
    assert result.backend == "keras" and result.precision == "f32"
    assert result.infer.latency.count == 2 and result.e2e.latency.count == 2
    assert parse_entry("weights/enet_camvid.npz:keras:CPU:f16").precision == "f16"  # Keras float16 policy
    bf16 = dataclasses.replace(parse_entry(str(REPO / "weights" / "enet_camvid.npz") + ":keras:CPU:bf16"),
                               options=small.options)
    monkeypatch.setattr(measure, "open_artifact", lambda *a, **k: pytest.fail("an entry was loaded"))
    with pytest.raises(DeviceError, match="computes in f32 or f16 .*, not bf16"):  # checked before anything loads
        bench.run_bench(BenchConfig(entries=(small, bf16), niter=2, warmup=0))


def test_int8_export_runs_no_reference_kernels_and_floats_only_in_the_switch_logic(small_exports):
    """The cpu-int8 IR on this CPU: what runs on OpenVINO's reference kernels, and what stays float.

    Allowed: float in the max-pool switch logic (the pooled maximum must equal the element it came from) and
    at its edges (the f32 -> u8 quantization of its input's other consumers, the unpooling multiply by the
    float mask); no reference kernel (the initial block is a sum, not the u8 Concat that ran on one).
    """
    import re

    entry = parse_entry(f"{small_exports['cpu-int8']}:openvino:CPU:f32")
    result = run_bench(BenchConfig(entries=(entry,), niter=2, warmup=1, per_layer=5))[0]
    audit = bench.report.kernel_audit(result)
    assert audit["reference"] == [], audit["reference"]
    switch_logic = re.compile(r".*(_pool_1/|_unpool_1/|fq_input_0$)|Resize__\d+$")
    assert audit["float_in_int8"], "the switch logic runs in float"
    assert all(switch_logic.match(i["name"]) for i in audit["float_in_int8"]), audit["float_in_int8"]
    lines = bench.report.kernel_audit_lines(result)
    assert lines[0].startswith(f"  reference kernels (ref_*): {len(audit['reference'])} layer(s)")
    assert "float layers" in lines[1]


def test_run_request_follows_the_mode():
    entry = parse_entry("build/cpu:openvino:CPU:f16")
    latency = BenchConfig(entries=(entry,), threads=2, nstreams="auto", per_layer=5).run_request(entry)
    assert (latency.precision, latency.nireq, latency.hint, latency.perf_counters) == ("f16", 1, "LATENCY", True)
    assert (latency.threads, latency.streams) == (2, "AUTO")
    throughput = BenchConfig(entries=(entry,), mode="throughput", hint="none").run_request(entry)
    assert (throughput.nireq, throughput.hint, throughput.perf_counters) == (0, None, False)  # 0: the device's optimal
    assert BenchConfig(entries=(entry,), mode="throughput", nireq=3).run_request(entry).nireq == 3


def test_request_devices_are_the_devices_requests_are_spread_over():
    from enet_edge.runtime.adapters.openvino_core import request_devices

    assert request_devices("MULTI:MYRIAD.1.1-ma2480,MYRIAD.1.2-ma2480") == ("MYRIAD.1.1-ma2480", "MYRIAD.1.2-ma2480")
    assert request_devices("AUTO:CPU,GPU") == ("CPU", "GPU") and request_devices("auto:CPU") == ("CPU",)
    assert request_devices("AUTO") == () and request_devices("CPU") == () and request_devices("MYRIAD") == ()
    assert request_devices("HETERO:MYRIAD,CPU") == ()  # splits one request's layers, does not spread requests


def test_bench_on_a_device_list_reports_each_device_alone_and_the_total(cpu_dir, tmp_path, capsys):
    """`bench -d AUTO:CPU --hint cumulative_throughput`: the total, and each listed device alone with its requests."""
    out = tmp_path / "auto.json"
    assert main(["bench", str(cpu_dir), "-d", "AUTO:CPU", "--mode", "throughput", "--hint", "cumulative_throughput",
                 "-n", "6", "--warmup", "1", "-q", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "devices of AUTO:CPU (infer-only, throughput):" in text and "all together" in text
    doc = json.loads(out.read_text())
    assert doc["device"] == "AUTO:CPU" and doc["properties"]["requested"]["PERFORMANCE_HINT"] == "CUMULATIVE_THROUGHPUT"
    (cpu,) = doc["devices"]
    assert cpu["device"] == "CPU" and cpu["requests"] >= 1 and cpu["fps"] > 0
    single = tmp_path / "cpu.json"
    assert main(["bench", str(cpu_dir), "--mode", "throughput", "-n", "2", "--warmup", "0", "-q",
                 "--json", str(single)]) == 0
    assert json.loads(single.read_text())["devices"] == [] and "devices of" not in capsys.readouterr().out
