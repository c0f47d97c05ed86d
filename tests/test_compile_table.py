"""The MYRIAD X compile table of ``make bench`` (enet_edge.export.myriad.compile_table)."""

import json
from pathlib import Path

import pytest

from enet_edge.errors import ConfigError
from enet_edge.export.myriad.compile_table import (COMPILE_VARIANTS, CompileVariant, compile_table, goal_line,
                                            rank_rows, render_compile_table)
from enet_edge.export.targets import load_target


def test_variants_change_only_what_they_name():
    base = load_target("ncs2")
    assert COMPILE_VARIANTS[0].target_for(base) == base
    names = [v.name for v in COMPILE_VARIANTS]
    assert len(set(names)) == len(names)
    for variant in COMPILE_VARIANTS:  # every row is a valid target (an unknown choice would raise)
        variant.target_for(base)
    assert base.myriad_compiler == {"MYRIAD_HW_DILATION": "YES"}  # the fastest predicted graph (docs/ncs2.md)
    dilation = CompileVariant("d", "d", options=(("MYRIAD_HW_DILATION", "NO"),)).target_for(base)
    assert dilation.myriad_compiler == {"MYRIAD_HW_DILATION": "NO"} and dilation.onnx_rewrites == base.onnx_rewrites
    default = next(v for v in COMPILE_VARIANTS if v.name == "no-hw-dilation").target_for(base)
    assert default.myriad_compiler == {"MYRIAD_HW_DILATION": "NO"}
    others = [v.target_for(base) for v in COMPILE_VARIANTS if not v.options]  # every other row: the shipped options
    assert all(t.myriad_compiler == base.myriad_compiler for t in others)
    less = {v.name: v.target_for(base).onnx_rewrites for v in COMPILE_VARIANTS if v.without}
    assert less == {"no-interleave-fold": ("prelu", "interleave_transpose", "unpool_broadcast", "phase_split"),
                    "no-unpool-broadcast": ("prelu", "interleave_transpose", "interleave_fold", "phase_split"),
                    "no-interleave": ("prelu", "unpool_broadcast", "phase_split")}
    plus = next(v for v in COMPILE_VARIANTS if v.name == "prelu-split").target_for(base).onnx_rewrites
    at = base.onnx_rewrites.index("prelu") + 1  # 'ncs2 + prelu_split': the target's own list, split after prelu
    assert plus == base.onnx_rewrites[:at] + ("prelu_split",) + base.onnx_rewrites[at:]
    with pytest.raises(ConfigError, match="has no rewrite prelu_split to leave out"):
        CompileVariant("x", "x", without=("prelu_split",)).target_for(base)
    with pytest.raises(ConfigError, match="not both"):
        CompileVariant("x", "x", rewrites=("prelu",), without=("prelu",))
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
    """The goal is the predicted time (>= 20 FPS, the fastest exact row); stage counts and traffic are shown only."""
    ncs2 = _predicted(_row("ncs2"), 21.2, 92.2)
    assert goal_line(ncs2) == ("goal: predicted 21.2 FPS >= 20: met (proxies, not goals: 139 SHAVE stages, "
                               "338 non-NCE MiB)")
    assert goal_line(_predicted(_row("ncs2", shave=151, traffic=299), 19.8, 97.7)).startswith(
        "goal: predicted 19.8 FPS >= 20: NOT met (proxies")
    assert goal_line(_row("ncs2")).startswith("goal: not measured (no prediction of the MYRIAD X time model)")
    assert goal_line(_row("x", "refused")) == "goal: not measured (refused)"
    slower = _predicted(_row("no-hw-dilation"), 19.8, 97.7)
    assert "the fastest exact graph of the table: met" in goal_line(ncs2, rank_rows([ncs2, slower], (360, 480)))
    faster = _predicted(_row("class-map"), 22.0, 90.0)
    assert "the fastest exact graph of the table: NOT met (class-map is)" in goal_line(
        ncs2, rank_rows([ncs2, faster], (360, 480)))
    text = render_compile_table([ncs2, slower, _row("full-resolution", "refused")], (360, 480))
    lines = text.splitlines()
    assert "Per 360x480 frame" in lines[0]
    assert "| title ncs2 | compiled | 92.2 | 21.2 | 359 | 152 | 139 | 68 | 49 | 117 | 338 | 147 | 2 | 4 | – |" in lines
    assert "| title full-resolution | refused | – | – | – | – | – | – | – | – | – | – | – | – | – |" in lines
    assert ("- title ncs2, goal: predicted 21.2 FPS >= 20: met; the fastest exact graph of the table: met (proxies, "
            "not goals: 139 SHAVE stages, 338 non-NCE MiB)") in lines
    assert any(line.startswith("- title full-resolution: refused at layer `s`: unsupported") for line in lines)
    assert "the fastest exact graph is **ncs2** (title ncs2: 21.2 FPS throughput, 92.2 ms sync over USB 3); the " \
           "ncs2 target ships it." in text


def _predicted(row, fps, sync, size=None, exact=True):
    row = dict(row, exact=exact, predicted={"sync_ms": {"usb3": sync, "usb2": sync * 1.5}, "throughput_fps": fps,
                                            "model": {"version": "1", "loo_median_error": 0.1}})
    return dict(row, size=list(size)) if size else row


def test_ranking_by_predicted_time_names_the_fastest_exact_graph():
    rows = [_predicted(_row("ncs2"), 15.0, 70.0), _predicted(_row("prelu-split"), 18.0, 75.0),
            _predicted(_row("hw-dilation"), 18.0, 60.0), _predicted(_row("approx"), 30.0, 40.0, exact=False),
            _row("class-map"),  # compiled before the time model: no prediction, never ranked
            _row("full-resolution", "refused"),
            _predicted(_row("size-256x352"), 40.0, 30.0, size=(256, 352))]
    ranking = rank_rows(rows, (360, 480))
    assert [e["variant"] for e in ranking["by_throughput"]] == ["approx", "hw-dilation", "prelu-split", "ncs2"]
    assert [e["variant"] for e in ranking["by_sync"]] == ["approx", "hw-dilation", "ncs2", "prelu-split"]
    assert ranking["fastest_exact"] == "hw-dilation"  # the FPS tie goes to the lower sync ms; approx is not exact
    assert ranking["unranked"] == ["class-map", "full-resolution"]
    assert ranking["other_sizes"] == [{"variant": "size-256x352", "size": [256, 352], "throughput_fps": 40.0,
                                       "sync_ms_usb3": 30.0, "exact": True}]
    text = render_compile_table(rows, (360, 480))
    assert "| title ncs2 | compiled | 70.0 | 15.0 | 359 |" in text
    assert ("the fastest exact graph is **hw-dilation** (title hw-dilation: 18.0 FPS throughput, 60.0 ms sync over "
            "USB 3); the ncs2 target should ship it.") in text
    assert "| 1 | approx (not exact) | 30.0 | approx (not exact) | 40.0 |" in text
    assert "- size-256x352 at 256x352 (another input size, ranked apart): 40.0 FPS" in text
    assert "- no prediction: class-map, full-resolution" in text
    old = render_compile_table([_row("ncs2"), _row("x", "refused")], (360, 480))  # a table made before the model
    assert "Ranking by predicted time (360x480): none, no row has a prediction" in old
    assert rank_rows([_row("ncs2")], (360, 480))["fastest_exact"] is None


def test_a_size_variant():
    variant = next(v for v in COMPILE_VARIANTS if v.name == "size-256x352")
    assert variant.size == (256, 352) and variant.target_for(load_target("ncs2")) == load_target("ncs2")
    with pytest.raises(ConfigError, match="must be \\(height, width\\)"):
        CompileVariant("s", "s", size=(256,))


def test_compile_table_compiles_and_reuses_the_onnx(tmp_path):
    """Two variants at 64x96 through the export's own stages and the real compiler; the ONNX is made once."""
    variants = (COMPILE_VARIANTS[0], CompileVariant("class-map", "class map", class_map="int32"),
                CompileVariant("option", "option", options=(("MYRIAD_HW_DILATION", "NO"),)),
                CompileVariant("f32", "f32 logits", logits="f32"), CompileVariant("small", "small", size=(32, 48)))
    messages = []
    rows = compile_table(load_target("ncs2"), (64, 96), tmp_path, variants=variants, log=messages.append)
    assert [r["variant"] for r in rows] == ["ncs2", "class-map", "option", "f32", "small"]
    assert rows[0]["size"] == [64, 96] and rows[4]["size"] == [32, 48] and rows[4]["exact"]
    assert json.loads((tmp_path / "small" / "key.json").read_text())["size"] == [32, 48]
    assert rows[0]["options"] == {"MYRIAD_HW_DILATION": "YES"}  # the ncs2 target's own
    assert rows[2]["options"] == {"MYRIAD_HW_DILATION": "NO"} and rows[2]["verdict"] == "compiled"
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
