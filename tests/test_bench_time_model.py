"""``enet-edge bench -d MYRIAD``: measured next to the MYRIAD X time model's prediction from the export's manifest,
in one line (and in --json). No stick here: a CPU run of the tiny export, relabelled as a MYRIAD result."""

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from enet_edge.cli import main
from enet_edge.device import bench
from enet_edge.device.bench import BenchConfig, is_myriad, parse_entry, result_document, run_bench, time_model_line
from enet_edge.device.bench import cli as bench_cli
from enet_edge.device.bench.measure import manifest_prediction

PREDICTED = {"sync_ms": {"usb3": 45.12, "usb2": 71.3}, "throughput_fps": 27.34, "compute_ms": 40.0,
             "top_stage_types": [], "unmodelled": [], "model": {"version": "1.0", "loo_median_error": 0.12}}
MACHINE = {"versions": {"enet_edge": "0.1.0", "openvino": "2022.3.0"}}


@pytest.fixture(scope="module")
def cpu_result(tiny_export_dir):
    return run_bench(BenchConfig(entries=(parse_entry(str(tiny_export_dir)),), niter=3, warmup=0))[0]


def _stick(result, predicted=PREDICTED, device="MYRIAD", **changes):
    return dataclasses.replace(result, device=device, predicted=predicted, **changes)


def test_is_myriad():
    assert is_myriad("MYRIAD") and is_myriad("MYRIAD.1.2-ma2480") and is_myriad("HETERO:MYRIAD,CPU")
    assert is_myriad("MULTI:CPU,MYRIAD") and not is_myriad("CPU") and not is_myriad("AUTO:GPU,CPU")


def test_the_line(cpu_result):
    result = _stick(cpu_result)
    median = cpu_result.infer.latency.ms()["median"]
    h, w = cpu_result.input["tensor"]["shape"][1:3]
    assert time_model_line(result, MACHINE) == (
        f"MYRIAD X time model v1.0: predicted 45.1 ms sync (USB 3) / 27.3 FPS throughput; measured {median:.1f} ms "
        f"median / {cpu_result.infer.fps:.1f} FPS infer-only, 1 request sync (enet-edge 0.1.0, OpenVINO 2022.3.0, "
        f"MYRIAD, {h}x{w}, target {cpu_result.artifact['target']})")
    assert time_model_line(cpu_result, MACHINE) is None  # a CPU run: no line
    line = time_model_line(_stick(cpu_result, None, "HETERO:MYRIAD,CPU", mode="throughput", nireq=4), {})
    assert line.startswith("MYRIAD X time model: no prediction (") and "4 requests async" in line
    assert "(enet-edge ?, OpenVINO ?, HETERO:MYRIAD,CPU" in line
    assert cpu_result.artifact["device_config"] == {}  # a CPU run: the export's MYRIAD options are not given
    compiled = dataclasses.replace(result, artifact=dict(result.artifact, device_config={"MYRIAD_HW_DILATION": "YES"}))
    assert time_model_line(compiled, MACHINE).endswith(f"target {cpu_result.artifact['target']}, MYRIAD_HW_DILATION=YES)")
    named = dict(PREDICTED, model={"version": "myriadx-tm-2026-12-04"})
    assert time_model_line(_stick(cpu_result, named), MACHINE).startswith("MYRIAD X time model myriadx-tm-2026-12-04: ")


def test_the_json(cpu_result):
    doc = result_document(_stick(cpu_result), MACHINE)
    json.dumps(doc, allow_nan=False)
    model = doc["myriad_time_model"]
    assert model["line"] == time_model_line(_stick(cpu_result), MACHINE) and model["predicted"] == PREDICTED
    assert model["measured"]["latency_median_ms"] == doc["latency_ms"]["median"]
    assert model["measured"]["mode"] == "latency" and model["measured"]["nireq"] == 1
    assert result_document(cpu_result, MACHINE)["myriad_time_model"] is None
    odd = {**PREDICTED, "throughput_fps": float("inf"), "model": {"version": "1", "loo_median_error": float("nan")}}
    doc = result_document(_stick(cpu_result, odd), MACHINE)  # a manifest's NaN/inf: null in strict JSON
    json.dumps(doc, allow_nan=False)
    assert doc["myriad_time_model"]["predicted"]["throughput_fps"] is None


def test_the_prediction_comes_from_the_manifest(tiny_export_dir, tmp_path):
    export = tmp_path / "export"
    shutil.copytree(tiny_export_dir, export)
    manifest = json.loads((export / "manifest.json").read_text())
    manifest["myriad_compiler"] = {"verdict": "compiled", "predicted": PREDICTED}
    (export / "manifest.json").write_text(json.dumps(manifest))
    for model in (export, export / "enet.xml"):  # an export directory, or a file beside its manifest
        result = run_bench(BenchConfig(entries=(parse_entry(str(model)),), niter=1, warmup=0))[0]
        assert result.predicted == PREDICTED

    assert manifest_prediction({"myriad_compiler": {"verdict": "compiled", "predicted": PREDICTED}}) == PREDICTED
    assert manifest_prediction({"myriad_compiler": {"verdict": "compiled"}}) is None  # made before the time model
    assert manifest_prediction({"myriad_compiler": {"verdict": "refused", "reason": "x"}}) is None
    assert manifest_prediction({}) is None and manifest_prediction(None) is None


def test_bench_prints_the_line_after_its_results(cpu_result, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(bench_cli, "run_bench", lambda config, log=None: [_stick(cpu_result)])
    monkeypatch.setattr(bench_cli, "machine_info", lambda: {**MACHINE, "os": "Linux", "python": "3.x",
                                                            "versions": {**MACHINE["versions"], "numpy": "1"}})
    out = tmp_path / "b.json"
    assert main(["bench", cpu_result.model, "-d", "MYRIAD", "-q", "--json", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith("MYRIAD X time model v1.0: predicted 45.1 ms"))
    machine_line = next(i for i, line in enumerate(lines) if line.startswith("machine:"))
    assert "calibration points" in lines[index - 1] and machine_line < index
    assert json.loads(Path(out).read_text())["myriad_time_model"]["predicted"] == PREDICTED
