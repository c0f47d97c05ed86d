"""One compile path (enet_edge.export.myriad.runner_io): the export's compile stage, ``make bench``'s compile table and
``enet-edge check`` all compile through :func:`compile_for_runner` with the I/O the runner asks (u8 in, f16 logits
on MYRIAD). The MYRIAD X compiler is faked here; its real runs are tests/test_myriadx.py and test_compile_table.py
(slow)."""

import types
from pathlib import Path

import pytest

from enet_edge import cli
from enet_edge.export.myriad import runner_io
from enet_edge.export.myriad.runner_io import model_io, runner_precisions
from enet_edge.export.targets import load_target
from tiny_models import tiny_export, tiny_ir, tiny_onnx


@pytest.fixture
def compiles(monkeypatch):
    """Every compile_model call made through runner_io: (file name, options, input, output precision). A caller that
    compiled by another path would not show up here."""
    calls = []

    def fake(model, options=None, log=None, timeout=600, input_precision=None, output_precision=None):
        calls.append((Path(model).name, dict(options or {}), input_precision, output_precision))
        return {"verdict": "compiled", "model": Path(model).name, "traffic_mib": {"non_nce": 1.0},
                "stages": {"executed": 3, "NCE": 1, "SHAVE": 1, "DMA": 1, "injected": 0, "special": 0}}

    monkeypatch.setattr(runner_io, "compile_model", fake)
    return calls


def test_runner_precisions():
    assert runner_precisions("MYRIAD") == ("u8", "f16")  # logits: the stick's own f16
    assert runner_precisions("MYRIAD", "float32") == runner_precisions("MYRIAD", "f32") == ("u8", "f16")
    assert runner_precisions("MYRIAD", "int32") == ("u8", "int32")  # a class map as it is
    assert runner_precisions("CPU", "float32") == ("u8", "f32")
    assert runner_precisions("MYRIAD", logits="f32") == ("u8", "f32")  # the compile table's f32-logits row
    assert runner_precisions("MYRIAD", "uint8", logits="f32") == ("u8", "uint8")  # no logits to ask for
    assert runner_precisions("MYRIAD", image_input=False) == (None, "f16")
    assert runner_precisions("MYRIAD", "other") == ("u8", None)  # a type the compiler's API has no name for


def test_the_export_the_compile_table_and_check_compile_alike(tmp_path, compiles, monkeypatch, capsys):
    from enet_edge.export import pipeline
    from enet_edge.export.myriad import compile_table as table

    ncs2 = load_target("ncs2")
    onnx_path = tiny_onnx(tmp_path / "export" / "enet.onnx")
    ctx = types.SimpleNamespace(target=ncs2, path=lambda kind: onnx_path, log=lambda m: None, myriad_compiler=None)
    pipeline.myriad_compile_stage(ctx)  # the export's stage

    monkeypatch.setattr(pipeline, "load_model_weights", lambda request, log: (None, None, {}))
    monkeypatch.setattr(table, "_onnx_for", lambda *args, **kwargs: onnx_path)
    rows = table.compile_table(ncs2, (32, 48), tmp_path / "table", variants=table.COMPILE_VARIANTS[:1],
                               log=lambda m: None)  # make bench's ncs2 row

    export = tiny_export(tmp_path / "ncs2", target="ncs2", precision="FP16", device="MYRIAD")
    assert cli.main(["check", str(export)]) == 0  # the ncs2 target's [myriad_compiler]: compiled by default
    assert "enet.onnx: MYRIAD X compiler compiled: 3 executed stages" in capsys.readouterr().out  # (the fake's record)

    same = ("enet.onnx", dict(ncs2.myriad_compiler), "u8", "f16")
    assert compiles == [same, same, same]
    assert rows[0]["output"] == "f16" and ctx.myriad_compiler["verdict"] == "compiled"


def test_check_compiles_an_export_with_the_options_it_was_compiled_with(tmp_path, compiles, capsys):
    """An export's manifest records the options of its compile (myriad_compiler.options): check compiles with those,
    not with whatever the target says today; --target asks for the target's own."""
    import json

    export = tiny_export(tmp_path / "ncs2", target="ncs2", precision="FP16", device="MYRIAD")
    manifest = json.loads((export / "manifest.json").read_text())
    manifest["myriad_compiler"] = {"verdict": "compiled", "options": {"MYRIAD_HW_DILATION": "NO"}}
    (export / "manifest.json").write_text(json.dumps(manifest))
    assert cli.main(["check", str(export)]) == 0
    assert cli.main(["check", str(export), "--target", "ncs2"]) == 0
    assert [c[1] for c in compiles] == [{"MYRIAD_HW_DILATION": "NO"}, dict(load_target("ncs2").myriad_compiler)]
    manifest["myriad_compiler"]["options"] = {"MYRIAD_HW_DILATION": True}  # a damaged record: one line, no compile
    (export / "manifest.json").write_text(json.dumps(manifest))
    assert cli.main(["check", str(export)]) == 2
    assert "myriad_compiler.options {'MYRIAD_HW_DILATION': True}" in capsys.readouterr().err
    assert len(compiles) == 2


def test_check_takes_the_output_from_the_manifest_or_the_model(tmp_path, compiles):
    import json

    export = tiny_export(tmp_path / "ncs2", target="ncs2", precision="FP16", device="MYRIAD")
    manifest = json.loads((export / "manifest.json").read_text())
    manifest["artifacts"]["onnx"]["outputs"] = [{"name": "class_map", "shape": [1, 32, 48], "dtype": "int32"}]
    (export / "manifest.json").write_text(json.dumps(manifest))
    assert cli.main(["check", str(export / "enet.onnx")]) == 0  # a file beside a manifest: the export's output
    lone = tiny_onnx(tmp_path / "lone" / "m.onnx")
    assert cli.main(["check", str(lone), "--target", "ncs2"]) == 0  # no manifest: what the model declares
    assert cli.main(["check", str(lone), "--target", "cpu", "--compile", "yes"]) == 0  # the target's device
    assert [c[2:] for c in compiles] == [("u8", "int32"), ("u8", "f16"), ("u8", "f32")]


def test_model_io_reads_inputs_and_output(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    onnx_io = model_io(tiny_onnx(tmp_path / "m.onnx"))
    assert onnx_io.inputs == ((1, 32, 48, 3),) and onnx_io.output == "f32" and onnx_io.image_input
    ir_io = model_io(tiny_ir(tmp_path / "m.xml"))
    assert ir_io.inputs == ((1, 32, 48, 3),) and ir_io.output == "f32" and ir_io.image_input
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.INT64, [1, 4, 8, 8])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(tmp_path / "f.onnx"))
    features = model_io(tmp_path / "f.onnx")
    assert features.inputs == ((1, 4, 8, 8),) and features.output == "other" and not features.image_input
