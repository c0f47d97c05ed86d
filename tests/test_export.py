"""The export pipeline end to end: artifacts, manifest, gates, parity, atomicity, old OpenVINO."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from enet_edge import cli
from enet_edge.errors import ArtifactError, ParityError
from enet_edge.export.pipeline import ExportRequest, export
from enet_edge.fileio import sha256_file
from enet_edge.runtime import resolve_artifact, verify_artifact
from enet_edge.export.checks.thresholds import ParityResult
from enet_edge.export.targets import available_targets, load_target
from conftest import small_target
from tiny_models import tiny_cpu_only_ir
from legacy_openvino import LEGACY_SERIES, legacy_version, run_legacy

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", [t for t in available_targets() if load_target(t).mode == "export"])
def test_every_export_target_passes_its_parity_gates(small_exports, name):
    """The registry loop: each export target's artifacts are within its declared parity thresholds."""
    target = small_target(name)
    manifest = json.loads((small_exports[name] / "manifest.json").read_text())
    assert manifest["supported"] and set(manifest["artifacts"]) == set(target.artifacts)
    results, ran_on = manifest["parity"]["results"], manifest["parity"]["ran_on"]
    measured = {kind for kind in target.thresholds if "skipped" not in ran_on.get(kind, {})}
    assert set(target.artifacts) <= measured <= set(results)  # only hardware-dependent rows may be skipped
    for kind in measured:
        assert limits_ok(target.thresholds[kind], results[kind]), kind
    backends = {"tensorflow": "tensorflow", "onnx": "onnxruntime", "openvino_ir": "openvino"}
    for kind in target.artifacts:
        assert resolve_artifact(small_exports[name], backends[kind]).kind == kind  # and its hash verifies


def limits_ok(limits, result) -> bool:
    return limits.failures(ParityResult(**result)) == {}


def test_int8_target_records_its_quantization(small_exports):
    manifest = json.loads((small_exports["cpu-int8"] / "manifest.json").read_text())
    q = manifest["quantization"]
    assert q["method"] == "nncf.quantize" and q["fake_quantize_ops"] > 40
    assert q["ignored_patterns"] and q["preset"] == "performance"
    assert q["activation_zero_points"] == 0  # AMX CPUs run zero-point convolutions on older kernels
    # the switch logic stays float (exact switches); the convolutions around it are quantized
    import openvino as ov

    ops = ov.Core().read_model(str(small_exports["cpu-int8"] / "enet.xml")).get_ordered_ops()

    def fed_by_fake_quantize(op):
        return any(i.get_source_output().get_node().get_type_name() == "FakeQuantize" for i in op.inputs())

    # full-resolution switches, one set per downsampling pool: Equal, the window code's depthwise conv, Less,
    # and the nearest upsamplings tf2onnx named outside the scope (found by graph: q["ignored_nodes"])
    by_type = {t: [op for op in ops if op.get_type_name() == t] for t in ("Equal", "Less", "GroupConvolution")}
    pools = [op for op in ops if op.get_type_name() == "MaxPool" and "downsampling" in op.get_friendly_name()]
    upsamplings = [op for op in ops if op.get_friendly_name() in q["ignored_nodes"]]
    assert [len(by_type[t]) for t in ("Equal", "Less", "GroupConvolution")] == [2, 2, 2] and len(pools) == 2
    assert len(upsamplings) == 4 and {op.get_type_name() for op in upsamplings} == {"Interpolate"}
    switch_logic = [op for group in by_type.values() for op in group] + pools + upsamplings
    assert not [op.get_friendly_name() for op in switch_logic if fed_by_fake_quantize(op)]
    assert [op for op in ops if op.get_type_name() == "Convolution" and fed_by_fake_quantize(op)]
    assert q["miou_drop_points"] == pytest.approx(100 * (q["fp32_miou"] - q["int8_miou"]))
    assert "## INT8 quantization" in (small_exports["cpu-int8"] / "report.md").read_text()
    assert manifest["parity"]["ran_on"]["openvino_ir"]["inference_precision"] == "i8+f32"  # float layers asked f32
    assert q["eval"]["float_precision"] == "f32"
    # the IR asks for f32 float parts itself (a BF16 CPU's default, bf16, would tie near-equal pooling values)
    from enet_edge.runtime.adapters.openvino import declared_precision

    assert declared_precision(ov.Core().read_model(str(small_exports["cpu-int8"] / "enet.xml"))) == "f32"
    assert manifest["artifacts"]["openvino_ir"]["inference_precision"] == "f32"
    assert declared_precision(ov.Core().read_model(str(small_exports["cpu"] / "enet.xml"))) is None


def test_manifest_describes_and_hashes_every_artifact(small_exports):
    out = small_exports["ncs2"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["target"] == "ncs2" and manifest["supported"]
    assert set(manifest["artifacts"]) == {"tensorflow", "onnx", "openvino_ir"}
    for kind, entry in manifest["artifacts"].items():
        assert sha256_file(out / entry["file"]) == entry["sha256"]
        nchw = kind in ("onnx", "openvino_ir")  # ONNX and IR: NCHW logits (model_api's); TensorFlow: NHWC
        assert entry["outputs"][0]["shape"] == ([1, 12, 64, 96] if nchw else [1, 64, 96, 12])
        assert entry["outputs"][0]["layout"] == ("NCHW" if nchw else "NHWC")
    ir = manifest["artifacts"]["openvino_ir"]
    assert sha256_file(out / ir["weights_file"]) == ir["weights_sha256"]
    assert ir["inputs"][0]["dtype"] == "uint8" and ir["inputs"][0]["color"] == "BGR"
    assert ir["precision"] == "FP16"
    assert manifest["classes"][0] == "Sky" and len(manifest["palette_rgb"]) == 12
    for tool in ("tensorflow", "tf2onnx", "onnx", "openvino", "numpy"):
        assert manifest["tools"][tool]
    assert all(check["ok"] for check in manifest["checks"].values())
    # the IR holds only op versions OpenVINO 2022.3 reads
    assert all(int(k.rsplit("opset", 1)[1]) <= 10 for k in ir["op_inventory"])
    assert not {"ConvolutionBackpropData-opset1", "ScatterNDUpdate-opset4"} & set(ir["op_inventory"])
    report = (out / "report.md").read_text()
    assert "UNTRAINED" in report or "val mIoU" in report


@pytest.mark.parametrize("trained_on_val", [True, False])
def test_report_says_when_the_weights_were_trained_on_val(small_exports, trained_on_val):
    from enet_edge.export.report import render_report
    from enet_edge.runtime.manifest import read_manifest

    manifest = read_manifest(small_exports["ncs2"])
    manifest["weights"] = {"path": "w.npz", "trained": True, "val_miou": 0.7712, "val_trained_on": trained_on_val}
    report = render_report(manifest)
    assert "(val mIoU 77.1%" in report and ("not a held-out score" in report) == trained_on_val


def test_ir_describes_itself_in_rt_info(small_exports):
    import openvino as ov

    model = ov.Core().read_model(str(small_exports["ncs2"] / "enet.xml"))
    assert model.get_rt_info(["model_info", "model_type"]).astype(str) == "Segmentation"
    assert model.get_rt_info(["model_info", "labels"]).astype(str).split()[3] == "Road"
    assert model.get_rt_info(["model_info", "color_space"]).astype(str) == "BGR"


def test_tampered_artifact_fails_verification(tiny_export_dir, tmp_path):
    out = tmp_path / "copy"
    shutil.copytree(tiny_export_dir, out)
    resolve_artifact(out)  # verifies
    with open(out / "enet.bin", "r+b") as f:
        f.seek(100)
        f.write(b"\x00\x01\x02\x03")
    with pytest.raises(ArtifactError, match="sha256"):
        resolve_artifact(out)
    manifest = json.loads((out / "manifest.json").read_text())
    with pytest.raises(ArtifactError, match="sha256"):
        verify_artifact(out, manifest["artifacts"]["openvino_ir"])


def _perturbing_to_onnx(original):
    def perturbed(graph_def, path, *args, **kwargs):
        import onnx
        from onnx import numpy_helper

        model = original(graph_def, path, *args, **kwargs)
        biggest = max(model.graph.initializer, key=lambda t: int(np.prod(t.dims)))
        biggest.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(biggest) * 1.5, biggest.name))
        onnx.save(model, str(path))
        return model

    return perturbed


def test_parity_catches_a_perturbed_model_and_keeps_the_previous_export(small_exports, tmp_path, monkeypatch):
    from enet_edge.export import pipeline

    out = tmp_path / "ncs2"
    shutil.copytree(small_exports["ncs2"], out)
    before = {p.name: sha256_file(p) for p in out.iterdir()}
    monkeypatch.setattr(pipeline, "to_onnx", _perturbing_to_onnx(pipeline.to_onnx))  # the onnx stage's converter
    compiled = []
    monkeypatch.setattr(pipeline, "compile_for_runner", lambda *args: compiled.append(args))
    request = ExportRequest(target=load_target("ncs2"), out_dir=out, height=64, width=96)
    with pytest.raises(ParityError, match="onnx.*argmax_agreement|onnx.*mean_abs_rel"):
        export(request, log=lambda m: None)
    assert compiled == []  # parity stopped it before the MYRIAD X compiler
    assert {p.name: sha256_file(p) for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["ncs2"]  # no temp dir left behind


def test_check_cli_accepts_good_and_rejects_cross_target(tiny_ncs2_dir, tmp_path, capsys):
    # FP16 IR (u8 input, decompression) + ONNX. The gates only: the MYRIAD X compiler (~5 s) accepts the same tiny
    # ncs2 export in test_wheel's check without TensorFlow; the compiler itself: test_myriadx (slow)
    assert cli.main(["check", str(tiny_ncs2_dir), "--target", "ncs2", "--compile", "no"]) == 0
    out = capsys.readouterr().out
    assert "enet.xml: ok against myriad_2022_3" in out and "enet.onnx: ok against onnx_myriad" in out
    # the cpu realization's DepthToSpace and ConvolutionBackpropData: not for the stick
    xml = tiny_cpu_only_ir(tmp_path / "cpu" / "enet.xml")
    assert cli.main(["check", str(xml), "--target", "ncs2"]) == 1
    assert cli.main(["check", str(xml), "--target", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "DepthToSpace" in out and "ConvolutionBackpropData" in out and "| op type | node |" in out
    assert "2 violation(s) against myriad_2022_3" in out and "ok against openvino_cpu" in out


def test_check_cli_truncated_ir_is_one_line_error(tiny_ncs2_dir, tmp_path, capsys):
    xml = tmp_path / "enet.xml"
    xml.write_bytes((tiny_ncs2_dir / "enet.xml").read_bytes()[:500])
    assert cli.main(["check", str(xml), "--target", "ncs2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "re-export" in err[0] and "Traceback" not in err[0]


def test_export_cli_bad_target_is_one_line_error(capsys):
    assert cli.main(["export", "--target", "ncs3"]) == 2
    err = capsys.readouterr().err.strip()
    assert "unknown target 'ncs3'" in err and "ncs2" in err and "\n" not in err


@pytest.mark.slow  # a real export through TensorFlow (the ncsdk2 gate itself is tested fast in test_checks)
def test_ncs1_is_reported_honestly(tmp_path):
    request = ExportRequest(target=load_target("ncs1"), out_dir=tmp_path / "ncs1", height=64, width=96)
    result = export(request, log=lambda m: None)
    assert not result.manifest["supported"]
    assert list(result.manifest["artifacts"]) == ["tensorflow"]
    report = (tmp_path / "ncs1" / "report.md").read_text()
    assert "NOT COMPATIBLE" in report and "undilated" in report and "AddV2" in report


LEGACY_CLASS_MAP = """
import sys, numpy as np
from openvino.runtime import Core
core = Core()
compiled = core.compile_model(core.read_model(sys.argv[1]), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
request = compiled.create_infer_request()
frames = np.load(sys.argv[2])
maps = []
for frame in frames:
    request.infer({0: frame[None]})
    maps.append(request.get_output_tensor(0).data[0].argmax(0))
np.save(sys.argv[3], np.stack(maps).astype(np.uint8))
print("ok")
"""


def _current_class_maps(xml, frames):
    import openvino as ov

    compiled = ov.Core().compile_model(str(xml), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})  # bf16 on BF16 CPUs
    request = compiled.create_infer_request()
    maps = []
    for frame in frames:
        request.infer({0: frame[None]})
        maps.append(request.get_output_tensor(0).data[0].argmax(0))
    return np.stack(maps).astype(np.uint8)


def _legacy_vs_current(xml, frames, tmp_path):
    np.save(tmp_path / "frames.npy", frames)
    assert "ok" in run_legacy(LEGACY_CLASS_MAP, str(xml), str(tmp_path / "frames.npy"), str(tmp_path / "legacy.npy"))
    return np.load(tmp_path / "legacy.npy"), _current_class_maps(xml, frames)


@pytest.mark.slow
def test_small_ncs2_ir_runs_in_openvino_2022_3(small_exports, camvid, tmp_path):
    files = sorted((camvid / "val").glob("*.png"))[:2]
    frames = np.stack([cv2.resize(cv2.imread(str(f)), (96, 64)) for f in files])
    legacy, current = _legacy_vs_current(small_exports["ncs2"] / "enet.xml", frames, tmp_path)
    assert np.mean(legacy == current) >= 0.999


LEGACY_RUNNER = """
import json, sys, numpy as np, cv2
for name in ("tensorflow", "keras", "onnx", "tf2onnx"):
    sys.modules[name] = None  # the device has none of them
from enet_edge.cli import main
from enet_edge.runtime import Segmenter
out, frames = sys.argv[1], sys.argv[2:]
assert main(["check", out, "--target", "ncs2"]) == 0
assert main(["bench", out, "-n", "3", "--warmup", "1", "-q"]) == 0
segmenter = Segmenter.open(out, precision="f32")
maps = [segmenter.infer(cv2.imread(f)).class_map for f in frames]
np.save(out + "/legacy_runner.npy", np.stack(maps))
print(json.dumps({"python": "%d.%d" % sys.version_info[:2], "numpy": np.__version__}))
"""


def _docs_io_is_the_exports(out):
    """The I/O that README.md and docs/export.md quote (their generated ``io`` block, tests/doc_facts.py) is the
    manifest's, and the manifest's is what the IR and the ONNX really have: names, shapes, element types."""
    import onnx
    import openvino as ov

    from enet_edge.export.report import artifact_spec
    from enet_edge.export.targets import load_target

    import re

    table = (REPO / "docs" / "export.md").read_text().split("| file | what |", 1)[1].split("\n\n", 1)[0]
    named = {f for cell in re.findall(r"^\| ([^|]+) \|", table, re.M) for f in re.findall(r"`([^`]+)`", cell)}
    assert named == {p.name for p in out.iterdir()}, "docs/export.md's file table is not the export's files"
    readme = (REPO / "README.md").read_text().split("## Two commands", 1)[1].split("## A first path", 1)[0]
    assert all(f"`{name}`" in readme or f"{name}`" in readme for name in named)
    manifest = json.loads((out / "manifest.json").read_text())["artifacts"]
    config = load_target("ncs2").model_config()
    for kind in ("tensorflow", "onnx", "openvino_ir"):
        spec = artifact_spec(kind, config, None)
        assert {k: manifest[kind][k] for k in ("inputs", "outputs")} == spec, kind
    ir = ov.Core().read_model(str(out / "enet.xml"))
    io = manifest["openvino_ir"]
    for ports, tensors in ((ir.inputs, io["inputs"]), (ir.outputs, io["outputs"])):
        assert [p.get_any_name() for p in ports] == [t["name"] for t in tensors]
        assert [list(p.get_shape()) for p in ports] == [t["shape"] for t in tensors]
        assert [p.get_element_type().to_dtype().name for p in ports] == [t["dtype"] for t in tensors]
    graph = onnx.load(str(out / "enet.onnx")).graph
    io = manifest["onnx"]
    for values, tensors in ((graph.input, io["inputs"]), (graph.output, io["outputs"])):
        assert [v.name for v in values] == [t["name"] for t in tensors]
        assert [[d.dim_value for d in v.type.tensor_type.shape.dim] for v in values] == [t["shape"] for t in tensors]


@pytest.mark.slow
def test_full_size_make_export_runs_in_the_ncs2_runtime_stack(camvid, tmp_path):
    """`enet-edge export` (what `make export` runs) at 360x480, then, in the NCS2 user's stack (OpenVINO 2022.3 on
    Python 3.8-3.10 from requirements-ncs2.txt, no TensorFlow): the IR through OpenVINO's own API, and enet-edge's
    check, bench and runner; class maps equal to the current OpenVINO's."""
    out = tmp_path / "ncs2"
    done = subprocess.run([sys.executable, "-m", "enet_edge.cli", "export", "--target", "ncs2", "--out", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "exported target ncs2" in done.stdout and "MYRIAD X compiler  compiled with MYRIAD_HW_DILATION=YES:" in done.stdout
    # the stick's own compiler built what the stick gets: PReLU as one op, then on the NCE where it sits between convs
    compiled = json.loads((out / "manifest.json").read_text())["myriad_compiler"]
    assert compiled["verdict"] == "compiled" and compiled["compiler"].startswith("OpenVINO 2021.4.2")
    assert compiled["stages"]["NCE"] >= 137, compiled["stages"]
    # the dilated convolutions on the NCE too (MYRIAD_HW_DILATION), given to the stick again at load (the manifest);
    # the goal of issue 37: >= 20 FPS predicted in throughput mode (it replaced issue 29's proxies, <= 150 SHAVE
    # stages and <= 300 MiB of non-NCE traffic: the time model weighs them, and prelu_split, which served them, went)
    assert compiled["options"] == {"MYRIAD_HW_DILATION": "YES"}
    assert compiled["predicted"]["throughput_fps"] >= 20, compiled["predicted"]
    # as enet-edge's MYRIAD runner asks: u8 frames in, the logits as the stick's own f16 (widened on the host)
    assert compiled["io_precisions"] == {"input-precision": "u8", "output-precision": "f16"}
    assert "## MYRIAD X compiler" in (out / "report.md").read_text()
    _docs_io_is_the_exports(out)
    import onnx

    assert not {"Neg", "Sub"} & {n.op_type for n in onnx.load(str(out / "enet.onnx")).graph.node
                                 if "_act" in n.name or "_out" in n.name}  # no decomposed PReLU
    assert legacy_version().startswith(LEGACY_SERIES)
    files = sorted((camvid / "val").glob("*.png"))[:2]
    frames = np.stack([cv2.imread(str(f)) for f in files])
    legacy, current = _legacy_vs_current(out / "enet.xml", frames, tmp_path)
    assert legacy.shape == (2, 360, 480)
    assert np.mean(legacy == current) >= 0.999
    stack = json.loads(run_legacy(LEGACY_RUNNER, str(out), *map(str, files)).strip().splitlines()[-1])
    assert stack["python"] in ("3.8", "3.9", "3.10") and stack["numpy"].startswith("1.")
    runner = np.load(out / "legacy_runner.npy")
    assert runner.shape == (2, 360, 480) and np.mean(runner == current) >= 0.999


@pytest.mark.slow
def test_fp16_overflow_is_named_before_fp16_parity(tmp_path):
    """Weights whose logits leave FP16's range stop the ncs2 export with one line naming the layer, not NaN parity."""
    from enet_edge.model.weights import read_weights, write_weights
    from enet_edge.resources import DEFAULT_WEIGHTS

    weights, config, meta = read_weights(DEFAULT_WEIGHTS)
    weights = {k: (v * 1e5 if k.startswith("fullconv/") else v) for k, v in weights.items()}
    loud = write_weights(tmp_path / "loud.npz", weights, config, meta)
    request = ExportRequest(target=load_target("ncs2"), out_dir=tmp_path / "ncs2", weights=loud, height=64, width=96)
    with pytest.raises(ParityError) as caught:
        export(request, log=lambda m: None)
    message = str(caught.value)
    assert "\n" not in message and "'fullconv'" in message and "65504" in message
    assert not (tmp_path / "ncs2").exists()
