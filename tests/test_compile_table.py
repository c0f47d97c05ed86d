"""The MYRIAD X compile table of ``make bench`` (enet_edge.export.myriad.compile_table)."""

import json
from pathlib import Path

import pytest

from enet_edge.errors import ConfigError
from enet_edge.export.myriad.compile_table import (COMPILE_VARIANTS, CompileVariant, compile_table, goal_line,
                                            render_compile_table)
from enet_edge.export.targets import load_target


def test_variants_change_only_what_they_name():
    base = load_target("ncs2")
    assert COMPILE_VARIANTS[0].target_for(base) == base
    names = [v.name for v in COMPILE_VARIANTS]
    assert len(set(names)) == len(names)
    for variant in COMPILE_VARIANTS:  # every row is a valid target (an unknown choice would raise)
        variant.target_for(base)
    dilation = CompileVariant("d", "d", options=(("MYRIAD_HW_DILATION", "YES"),)).target_for(base)
    assert dilation.myriad_compiler == {"MYRIAD_HW_DILATION": "YES"} and dilation.onnx_rewrites == base.onnx_rewrites
    bare = CompileVariant("b", "b", rewrites=(), realization=(("initial", "sum"),), class_map="int32").target_for(base)
    assert bare.onnx_rewrites == () and bare.realization.initial == "sum" and bare.class_map == "int32"
    assert bare.realization.switches == base.realization.switches
    with pytest.raises(ConfigError):
        CompileVariant("x", "x", realization=(("prelu", "sigmoid"),)).target_for(base)
    with pytest.raises(ConfigError, match="plain directory name"):
        CompileVariant("../x", "x")
    with pytest.raises(ConfigError, match="logits='bf16' must be f32 or f16"):
        CompileVariant("x", "x", logits="bf16")


def _row(name, verdict="compiled", shave=139, traffic=337.7):
    row = {"variant": name, "title": f"title {name}", "verdict": verdict}
    if verdict == "compiled":
        row.update(stages={"executed": 359, "NCE": 152, "SHAVE": shave, "DMA": 68, "injected": 49, "special": 117},
                   traffic_mib={"non_nce": traffic, "NCE": 146.6}, memory_bytes={"blob": 2048, "BSS": 4096})
    else:
        row.update(reason="unsupported layer type \"ScatterNDUpdate\"", layer="s")
    return row


def test_goal_line_and_table():
    assert goal_line(_row("ncs2")) == "goal: SHAVE stages 139 <= 150: met; non-NCE MiB 338 <= 300: NOT met"
    assert goal_line(_row("ncs2", shave=151, traffic=299)) == (
        "goal: SHAVE stages 151 <= 150: NOT met; non-NCE MiB 299 <= 300: met")
    assert goal_line(_row("x", "refused")) == "goal: not measured (refused)"
    text = render_compile_table([_row("ncs2"), _row("full-resolution", "refused")], (360, 480))
    lines = text.splitlines()
    assert "Per 360x480 frame" in lines[0]
    assert "| title ncs2 | compiled | 359 | 152 | 139 | 68 | 49 | 117 | 338 | 147 | 2 | 4 | – |" in lines
    assert "| title full-resolution | refused | – | – | – | – | – | – | – | – | – | – | – |" in lines
    assert "- title ncs2, goal: SHAVE stages 139 <= 150: met; non-NCE MiB 338 <= 300: NOT met" in lines
    assert any(line.startswith("- title full-resolution: refused at layer `s`: unsupported") for line in lines)


def test_compile_table_compiles_and_reuses_the_onnx(tmp_path):
    """Two variants at 64x96 through the export's own stages and the real compiler; the ONNX is made once."""
    variants = (COMPILE_VARIANTS[0], CompileVariant("class-map", "class map", class_map="int32"),
                CompileVariant("option", "option", options=(("MYRIAD_HW_DILATION", "YES"),)),
                CompileVariant("f32", "f32 logits", logits="f32"))
    messages = []
    rows = compile_table(load_target("ncs2"), (64, 96), tmp_path, variants=variants, log=messages.append)
    assert [r["variant"] for r in rows] == ["ncs2", "class-map", "option", "f32"]
    assert rows[2]["options"] == {"MYRIAD_HW_DILATION": "YES"} and rows[2]["verdict"] == "compiled"
    assert not (tmp_path / "option").exists()  # only the compiler options differ: the ncs2 ONNX is compiled again
    assert all(r["verdict"] == "compiled" for r in rows), [r.get("reason") for r in rows]
    assert rows[0]["output"] == "f16" and rows[1]["output"] == "int32" and rows[3]["output"] == "f32"
    assert rows[3]["stages"]["SHAVE"] == rows[0]["stages"]["SHAVE"] + 1  # the stick's FP16->FP32 Convert
    assert rows[0]["stages"]["SHAVE"] > 0 and rows[0]["traffic_mib"]["non_nce"] > 0
    key = json.loads((tmp_path / "ncs2" / "key.json").read_text())
    assert key["size"] == [64, 96] and key["rewrites"] == list(load_target("ncs2").onnx_rewrites)
    stamp = (tmp_path / "ncs2" / "enet.onnx").stat().st_mtime_ns
    compile_table(load_target("ncs2"), (64, 96), tmp_path, variants=variants[:1], log=messages.append)
    assert (tmp_path / "ncs2" / "enet.onnx").stat().st_mtime_ns == stamp
    assert not list(tmp_path.glob(".*.tmp"))


test_compile_table_compiles_and_reuses_the_onnx = pytest.mark.slow(test_compile_table_compiles_and_reuses_the_onnx)


def test_a_cached_onnx_is_stale_when_the_code_that_made_it_changes(monkeypatch):
    from enet_edge.export.myriad import compile_table as table

    first = table.code_digest()
    assert first == table.code_digest() and len(first) == 16
    real = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: real(self) + (b"#" if self.name == "rewrites.py" else b""))
    assert table.code_digest() != first
