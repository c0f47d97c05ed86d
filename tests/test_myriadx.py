"""The MYRIAD X compiler check: reading its dump (pure), options and verdicts, and the real compiler (slow)."""

import json
from pathlib import Path

import numpy as np
import pytest

from enet_edge import cli
from enet_edge.errors import CompatibilityError, ConfigError
from enet_edge.export.myriad import compiler as myriadx
from enet_edge.export.myriad.compiler import (check_options, compile_model, parse_dump, raise_if_refused, summarize,
                                      summary_line)


def _data(name, usage, kind, dims):
    dims_text = ", ".join(f"{axis} : {size}" for axis, size in dims)
    return (f'    {name} [\n        shape=box\n        label="Data x\\lusage = {usage}\\ldesc = [\\l    type = {kind}'
            f'\\l    dimsOrder = NCHW\\l    dims = [{dims_text}]\\l]\\l"\n    ];\n')


def _stage(name, index, kind):
    return f'    {name} [\n        shape=ellipse\n        label="[{index} / 0] Stage s_{name}\\ltype = {kind}\\l"\n    ];\n'


def _edge(src, dst, label, dashed=False):
    style = "        style=dashed\n" if dashed else ""
    return f'    {src} -> {dst} [\n{style}        label="{label}\\l"\n    ];\n'


DIMS = [("W", 8), ("H", 4), ("C", 2), ("N", 1)]  # 64 elements


def tiny_dump() -> str:
    """A hand-made dump: input (FP16) -> NCE conv (+const weights) -> SHAVE PRelu -> DMA copy; an injected copy in the
    conv's shadow; a special StubConcat; 64-element tensors, FP16 (128 bytes) unless FP32 (256 bytes)."""
    text = ('digraph ie_vpu_model_view {\n    label="Graph g\\lresources = [\\l    numSHAVEs = 7\\l]\\lusedMemory = '
            '[\\l    BSS = 1000\\l    CMX = 2000\\l    blob = 300\\l]\\l"\n')
    text += _data("data_0x1", "Input", "FP32", DIMS) + _data("data_0x2", "Const", "FP16", DIMS)
    text += _data("data_0x3", "Intermediate", "FP16", DIMS) + _data("data_0x4", "Intermediate", "FP16", DIMS)
    text += _data("data_0x5", "Output", "FP16", DIMS) + _data("data_0x6", "Intermediate", "FP16", DIMS)
    text += _stage("stage_0xa", 0, "MyriadXHwOp") + _stage("stage_0xb", 1, "PRelu") + _stage("stage_0xc", 2, "Copy")
    text += _stage("stage_0xd", 0, "Copy") + _stage("stage_0xe", -1, "StubConcat")
    text += _edge("data_0x1", "stage_0xa", "StageInput") + _edge("data_0x2", "stage_0xa", "StageInput")
    text += _edge("stage_0xa", "data_0x3", "StageOutput") + _edge("data_0x3", "stage_0xb", "StageInput")
    text += _edge("stage_0xb", "data_0x4", "StageOutput") + _edge("data_0x4", "stage_0xc", "StageInput")
    text += _edge("stage_0xc", "data_0x5", "StageOutput") + _edge("data_0x3", "stage_0xd", "StageInput")
    text += _edge("stage_0xd", "data_0x6", "StageOutput") + _edge("stage_0xa", "stage_0xd", "Injected Stage", True)
    return text + "}\n"


def test_parse_dump_categories_and_bytes():
    graph = parse_dump(tiny_dump())
    by_name = {s.name: s for s in graph.stages}
    assert {n: s.category for n, s in by_name.items()} == {
        "s_stage_0xa": "NCE", "s_stage_0xb": "SHAVE", "s_stage_0xc": "DMA", "s_stage_0xd": "injected",
        "s_stage_0xe": "special"}
    assert (by_name["s_stage_0xa"].bytes_in, by_name["s_stage_0xa"].bytes_out) == (256, 128)  # const weights not read
    assert by_name["s_stage_0xb"].traffic == 256 and by_name["s_stage_0xd"].traffic == 256
    assert graph.memory == {"BSS": 1000, "CMX": 2000, "blob": 300} and graph.shaves == 7


def test_summarize_counts_executed_apart_from_injected_and_special():
    summary = summarize(parse_dump(tiny_dump()))
    assert summary["stages"] == {"executed": 3, "NCE": 1, "SHAVE": 1, "DMA": 1, "injected": 1, "special": 1}
    assert summary["shave_types"] == {"PRelu": 1} and summary["injected_types"] == {"Copy": 1}
    mib = 1024 * 1024
    assert summary["traffic_mib"]["non_nce"] == round(3 * 256 / mib, 2)
    assert json.loads(json.dumps(summary)) == summary


def test_parse_dump_refuses_what_is_not_a_dump():
    with pytest.raises(ValueError, match="not a MYRIAD graph dump"):
        parse_dump("digraph g {}\n")


@pytest.mark.parametrize("options, match", [({"lower_case": "YES"}, "config keys"), ({"MYRIAD_HW_DILATION": True},
                                            "config keys"), ({"VPU_MYRIAD_PLATFORM": "X"}, "set by enet-edge")])
def test_check_options_names_the_bad_option(options, match):
    with pytest.raises(ConfigError, match=match):
        check_options(options)


def test_verdict_lines_and_refusal_names_the_layer():
    refused = {"verdict": "refused", "model": "m.onnx", "layer": "s", "compiler": "OpenVINO 2021.4.2",
               "reason": 'Failed to compile layer "s": unsupported layer type "ScatterNDUpdate"'}
    assert summary_line(refused).startswith("REFUSED at layer 's'")
    with pytest.raises(CompatibilityError, match="refused m.onnx at layer 's'"):
        raise_if_refused(refused, "ncs2")
    raise_if_refused({"verdict": "not run", "reason": "no Python"}, "ncs2")  # not run is not a refusal...
    assert summary_line({"verdict": "not run", "reason": "no Python"}) == "not run: no Python"  # ...nor a pass
    compiled = {"verdict": "compiled", "stages": {"executed": 5, "NCE": 2, "SHAVE": 2, "DMA": 1, "injected": 0,
                                                  "special": 1}, "traffic_mib": {"non_nce": 1.4}}
    assert summary_line(compiled) == ("compiled: 5 executed stages (2 NCE, 2 SHAVE, 1 DMA; +0 injected, 1 special); "
                                      "non-NCE traffic 1 MiB/frame")
    assert summary_line(dict(compiled, options={"MYRIAD_HW_DILATION": "YES"})).startswith(
        "compiled with MYRIAD_HW_DILATION=YES: 5 executed stages")


def test_no_compiler_here_is_not_run_never_a_pass(tmp_path, monkeypatch):
    monkeypatch.setenv(myriadx.PYTHON_ENV, str(tmp_path / "missing-python"))
    record = compile_model(tmp_path / "m.onnx")
    assert record["verdict"] == "not run" and "missing-python" in record["reason"]


def test_ir_v11_is_not_run_with_the_reason(tmp_path):
    xml = tmp_path / "enet.xml"
    xml.write_text('<?xml version="1.0"?>\n<net name="m" version="11">\n</net>\n')
    record = compile_model(xml)
    assert record["verdict"] == "not run" and "IR v11" in record["reason"] and "enet.onnx" in record["reason"]


def _scatter_nd_onnx(path: Path) -> Path:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 8, 8])
    indices = numpy_helper.from_array(np.array([[0, 1, 2, 3]], np.int64), "indices")
    updates = numpy_helper.from_array(np.array([5.0], np.float32), "updates")
    node = helper.make_node("ScatterND", ["x", "indices", "updates"], ["y"], name="s")
    model = helper.make_model(helper.make_graph([node], "g", [x], [y], [indices, updates]),
                              opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7
    onnx.save(model, str(path))
    return path


def _conv_onnx(path: Path) -> Path:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 16, 16])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 16, 16])
    w = numpy_helper.from_array(np.random.default_rng(0).normal(size=(8, 8, 3, 3)).astype(np.float32), "w")
    slope = numpy_helper.from_array(np.linspace(0.1, 0.8, 8, dtype=np.float32).reshape(1, 8, 1, 1), "a")  # per channel: no leaky ReLU
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("PRelu", ["c", "a"], ["y"], name="act")]
    model = helper.make_model(helper.make_graph(nodes, "g", [x], [y], [w, slope]),
                              opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7
    onnx.save(model, str(path))
    return path


@pytest.mark.slow
def test_the_compiler_refuses_scatter_nd_and_the_check_fails(tmp_path, capsys):
    """The stick's own compiler (OpenVINO 2021.4.2, venv made on first use) refuses ScatterND, naming the layer (by
    its output, as the ONNX reader names layers);
    `enet-edge check --compile yes` then exits 1 with one error line."""
    model = _scatter_nd_onnx(tmp_path / "scatter.onnx")
    record = compile_model(model)
    assert record["verdict"] == "refused", record
    assert record["layer"] == "y" and "ScatterNDUpdate" in record["reason"]  # the ONNX reader names layers by output
    assert record["compiler"].startswith("OpenVINO 2021.4.2")
    assert cli.main(["check", str(model), "--target", "ncs2", "--compile", "yes"]) == 1
    captured = capsys.readouterr()
    assert "REFUSED at layer 'y'" in captured.out and "ScatterND" in captured.out  # and the op table's violation
    assert "refused it at layer 'y'" in captured.err.strip().splitlines()[-1]


@pytest.mark.slow
@pytest.mark.parametrize("version", myriadx.COMPILER_PYTHONS)
def test_the_compiler_builds_a_conv_on_the_nce_and_a_prelu_on_shaves(tmp_path, monkeypatch, version):
    """On every Python the compiler's venv is offered on (COMPILER_REQUIREMENTS install there; a missing one fails)."""
    base = myriadx.find_python((version,))
    assert base is not None, (f"the MYRIAD X compiler's venv is offered on Python {version} (COMPILER_PYTHONS) but no "
                              f"python{version} was found under pyenv or on PATH: install it (pyenv install {version})")
    monkeypatch.delenv(myriadx.PYTHON_ENV, raising=False)
    monkeypatch.setattr(myriadx, "find_python", lambda versions=(): base)  # the venv is made from this one
    record = compile_model(_conv_onnx(tmp_path / "conv.onnx"), input_precision="u8", output_precision="f32")
    assert record["verdict"] == "compiled", record
    assert f"myriadx-{myriadx.COMPILER_RELEASE}-py{version}" in record["python"]
    assert record["stages"]["NCE"] >= 1 and record["shave_types"].get("PRelu") == 1
    assert record["io_precisions"] == {"input-precision": "u8", "output-precision": "f32"}
    assert record["memory_bytes"]["blob"] > 0 and record["traffic_mib"]["non_nce"] > 0
