"""The MYRIAD X time model's prediction (a compiled record's ``predicted``) wherever the compiler is asked: the export
summary, report.md, manifest.json, ``enet-edge check`` (and ``--json``). Records are faked here; the time model
itself is tests/test_timemodel.py."""

import copy
import json
import types
from pathlib import Path

import pytest

from enet_edge import cli
from enet_edge.errors import ConfigError
from enet_edge.export.cli import summarize_export, write_check_json
from enet_edge.export.myriad import runner_io
from enet_edge.export.report import myriad_compiler_section, predicted_text
from tiny_models import tiny_export, tiny_onnx

PREDICTED = {"sync_ms": {"usb3": 45.12, "usb2": 71.33}, "throughput_fps": 27.34, "compute_ms": 40.0,
             "top_stage_types": [{"type": "SHAVE PRelu", "ms": 10.0, "count": 32},
                                 {"type": "NCE MyriadXHwOp", "ms": 8.0, "count": 152}],
             "unmodelled": [{"type": "Foo", "count": 2}], "model": {"version": "1.0", "loo_median_error": 0.123}}
COMPILED = {"verdict": "compiled", "model": "enet.onnx", "compiler": "OpenVINO 2021.4.2 MYRIAD plugin",
            "traffic_mib": {"non_nce": 297.0, "NCE": 140.0, "SHAVE": 250.0, "DMA": 40.0, "injected": 7.0},
            "stages": {"executed": 348, "NCE": 152, "SHAVE": 142, "DMA": 54, "injected": 49, "special": 117},
            "memory_bytes": {"blob": 2048}, "predicted": PREDICTED}
LINE = ("predicted 45.1 ms sync (USB 3) / 71.3 ms (USB 2), 27.3 FPS throughput (time model v1.0, leave-one-out "
        "median error 12%); unmodelled stage types: Foo x2")


def _old(record):
    record = copy.deepcopy(record)
    del record["predicted"]
    return record


def test_predicted_text_and_its_absence():
    assert predicted_text(COMPILED) == LINE
    assert predicted_text(_old(COMPILED)).startswith("no prediction (compiled before the MYRIAD X time model")
    assert predicted_text({"verdict": "refused", "reason": "x"}) == "no prediction (refused)"
    assert predicted_text({"verdict": "not run", "reason": "x"}) == "no prediction (not run)"
    assert predicted_text(None) == "no prediction (not compiled)"
    partial = dict(COMPILED, predicted={"sync_ms": {"usb3": 9.0}, "model": {"version": "myriadx-tm-2026-12-04"}})
    assert predicted_text(partial) == ("predicted 9.0 ms sync (USB 3) / ? ms (USB 2), ? FPS throughput (time model "
                                       "myriadx-tm-2026-12-04, leave-one-out median error ?%)")
    assert "(time model v?," in predicted_text(dict(COMPILED, predicted={"model": {}}))


def test_report_section():
    lines = myriad_compiler_section(COMPILED)
    text = "\n".join(lines)
    assert f"**{LINE}**" in text
    assert "| SHAVE PRelu | 32 | 10.00 | 25.0% |" in lines and "| NCE MyriadXHwOp | 152 | 8.00 | 20.0% |" in lines
    assert "`Foo` (2 stages)" in text
    old = "\n".join(myriad_compiler_section(_old(COMPILED)))
    assert "no prediction (compiled before the MYRIAD X time model" in old
    assert "| stage type | stages | predicted ms" not in old
    refused = myriad_compiler_section({"verdict": "refused", "reason": "r", "layer": "s"})
    assert not any("predicted" in line.lower() for line in refused)


def _manifest(record):
    return {"target": "ncs2", "weights": {"trained": True}, "parity": {"ran_on": {}, "results": {}},
            "artifacts": {}, "checks": {}, "supported": True, "myriad_compiler": record}


def test_export_summary_line():
    lines = summarize_export(_manifest(COMPILED), "build/ncs2", 1.0).splitlines()
    assert f"  MYRIAD X time      {LINE}" in lines
    lines = summarize_export(_manifest(_old(COMPILED)), "build/ncs2", 1.0).splitlines()
    assert any(line.startswith("  MYRIAD X time      no prediction") for line in lines)


def test_the_manifest_keeps_the_prediction(monkeypatch):
    from enet_edge.export import pipeline

    monkeypatch.setattr(pipeline, "compile_for_runner", lambda *args, **kwargs: copy.deepcopy(COMPILED))
    ctx = types.SimpleNamespace(target=types.SimpleNamespace(name="ncs2"), path=lambda kind: Path("enet.onnx"),
                                log=lambda m: None, myriad_compiler=None)
    pipeline.myriad_compile_stage(ctx)
    assert ctx.myriad_compiler["predicted"] == PREDICTED


@pytest.fixture
def fake_compile(monkeypatch):
    records = {}

    def fake(model, options=None, log=None, timeout=600, input_precision=None, output_precision=None):
        return copy.deepcopy(records.get(Path(model).name, COMPILED))

    monkeypatch.setattr(runner_io, "compile_model", fake)
    return records


def test_check_prints_and_writes_the_prediction(tmp_path, fake_compile, capsys):
    export = tiny_export(tmp_path / "ncs2", target="ncs2", precision="FP16", device="MYRIAD")
    out = tmp_path / "out" / "check.json"
    assert cli.main(["check", str(export), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"enet.onnx: MYRIAD X time model {LINE}" in printed and f"wrote {out}" in printed
    document = json.loads(out.read_text())
    assert document == {"file": str(export / "enet.onnx"), "myriad_compiler": COMPILED}
    assert not [p for p in out.parent.iterdir() if p != out]  # atomic: no temp file left

    lone = tiny_onnx(tmp_path / "lone" / "m.onnx")  # any ONNX, a target without [myriad_compiler]: --json compiles
    fake_compile["m.onnx"] = _old(COMPILED)
    assert cli.main(["check", str(lone), "--target", "cpu", "--json", str(out)]) == 0
    assert "m.onnx: MYRIAD X time model no prediction (compiled before" in capsys.readouterr().out
    assert "predicted" not in json.loads(out.read_text())["myriad_compiler"]

    fake_compile["m.onnx"] = {"verdict": "refused", "model": "m.onnx", "reason": "unsupported", "layer": "s"}
    assert cli.main(["check", str(lone), "--target", "ncs2", "--json", str(out)]) == 1  # refused: written, then fails
    assert json.loads(out.read_text())["myriad_compiler"]["verdict"] == "refused"
    assert "time model" not in capsys.readouterr().out


def test_check_json_needs_the_compiler(tmp_path, fake_compile):
    lone = tiny_onnx(tmp_path / "m.onnx")
    args = types.SimpleNamespace(path=str(lone), target="ncs2", compile="no", json_path=str(tmp_path / "x.json"))
    from enet_edge.export.cli import run_check

    with pytest.raises(ConfigError, match="--compile no"):
        run_check(args)
    assert cli.main(["check", str(lone), "--compile", "no", "--json", str(tmp_path / "x.json")]) != 0
    assert cli.main(["check", str(lone), "--json", str(tmp_path)]) != 0  # a directory: refused before compiling


def test_several_files_are_a_list_in_strict_json(tmp_path):
    records = [{"file": "a.onnx", "myriad_compiler": COMPILED}, {"file": "b.xml", "myriad_compiler": _old(COMPILED)}]
    path = write_check_json(tmp_path / "c.json", records)
    assert json.loads(path.read_text()) == records
    odd = copy.deepcopy(COMPILED)
    odd["predicted"].update(throughput_fps=float("inf"), model={"version": "1", "loo_median_error": float("nan")})
    written = json.loads(write_check_json(tmp_path / "d.json", [{"file": "a", "myriad_compiler": odd}]).read_text())
    assert written["myriad_compiler"]["predicted"]["throughput_fps"] is None
    assert written["myriad_compiler"]["predicted"]["model"]["loo_median_error"] is None
    assert "? FPS throughput" not in predicted_text(odd) and "error ?%" in predicted_text(odd)
