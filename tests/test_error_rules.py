"""The pieces of the error rule (docs/errors.md): exit codes from errors.py, the one error line, output paths
checked before the work, stale temp directories of killed exports, the memory limit, parity without CamVid,
the benchmark's noise warnings, train's percentages. All fast: no export runs TensorFlow here."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from enet_edge import command, errors
from enet_edge.errors import (EXIT_FAILED, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_TERMINATED, EXIT_USAGE, ArtifactError,
                              CheckFailed, CompatibilityError, ConfigError, OutputError, Terminated)


def _dead_pid() -> int:
    """The pid of a process that has ended."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# -- exit codes and the one line ---------------------------------------------------------------


def test_errors_py_is_the_single_source_of_the_exit_codes():
    assert (errors.EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_TERMINATED) == \
        (0, 1, 2, 3, 130, 143)
    for cls in (errors.CompatibilityError, errors.ParityError, errors.AccuracyError, CheckFailed):
        assert cls.exit_code == EXIT_FAILED and issubclass(cls, errors.GateError)
    for cls in (ConfigError, ArtifactError, OutputError, errors.DeviceError, errors.InputError, errors.DataError):
        assert cls.exit_code == EXIT_USAGE
    assert errors.Interrupted.exit_code == EXIT_INTERRUPTED and issubclass(Terminated, KeyboardInterrupt)


@pytest.mark.parametrize("raised, code, line", [
    (ConfigError("height=65 must be a multiple of 8"), 2, "x: error: height=65 must be a multiple of 8"),
    (CompatibilityError("2 op(s) not accepted by target ncs2:\n| op | node |\n| A | b |"), 1,
     "x: error: 2 op(s) not accepted by target ncs2 (details above)"),
    (KeyboardInterrupt(), 130, "x: error: interrupted (Ctrl-C); temporary files were removed, finished outputs kept"),
    (Terminated(), 143, "x: error: terminated (SIGTERM); temporary files were removed, finished outputs kept"),
    (OSError(28, "No space left on device", "out.json"), 2, "x: error: No space left on device: out.json"),
    (ValueError("boom\nsecond line"), 3, "x: error: internal error (ValueError: boom); this is a bug in enet-edge"),
], ids=["config", "gate-multiline", "ctrl-c", "sigterm", "oserror", "bug"])
def test_run_command_prints_one_last_line(raised, code, line, capsys, monkeypatch):
    monkeypatch.delenv("ENET_EDGE_DEBUG", raising=False)

    def fail():
        raise raised

    assert command.run_command("x", fail) == code
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(line) and "Traceback" not in "\n".join(err)
    if isinstance(raised, CompatibilityError):
        assert err[:-1] == ["| op | node |", "| A | b |"]  # the table above the line


def test_debug_env_shows_the_bug(monkeypatch):
    monkeypatch.setenv("ENET_EDGE_DEBUG", "1")
    with pytest.raises(ZeroDivisionError):
        command.run_command("x", lambda: 1 / 0)


SIGTERM_PROBE = """
import signal, sys, time
from enet_edge import command

def body():
    before = signal.getsignal(signal.SIGTERM)
    signal.raise_signal(signal.SIGTERM)
    time.sleep(5)
    return 0

code = command.run_command("x", body)
assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # restored after the command
sys.exit(code)
"""


def test_sigterm_raises_terminated_inside_run_command():
    """In a process of its own: a library loaded earlier in this one (TensorFlow's absl) may handle SIGTERM too."""
    done = subprocess.run([sys.executable, "-c", SIGTERM_PROBE], capture_output=True, text=True, timeout=120)
    assert done.returncode == EXIT_TERMINATED, done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("x: error: terminated (SIGTERM)")


# -- output paths -------------------------------------------------------------------------------


def test_output_checks_name_the_problem(tmp_path):
    from enet_edge.fileio import check_output_dir, check_output_file

    (tmp_path / "afile").write_text("x")
    with pytest.raises(OutputError, match=r"cannot write --json .*afile/deeper/m.json: .*afile is a file"):
        check_output_file(tmp_path / "afile" / "deeper" / "m.json", "--json")
    with pytest.raises(OutputError, match="is a directory; give a file name"):
        check_output_file(tmp_path, "--json")
    with pytest.raises(OutputError, match="exists and is not a directory"):
        check_output_dir(tmp_path / "afile", "--run-dir")
    check_output_file(tmp_path / "new" / "sub" / "m.json", "--json")  # creatable: fine, and nothing created
    check_output_dir(tmp_path / "new" / "run", "--run-dir")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_atomic_writes_leave_no_half_file_and_remove_created_folders(tmp_path, monkeypatch):
    from enet_edge import fileio

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fileio.os, "replace", broken_replace)
    with pytest.raises(OutputError, match="cannot write --json .*a/b/m.json: No space left on device"):
        fileio.atomic_write_text(tmp_path / "a" / "b" / "m.json", "{}", "--json")
    assert list(tmp_path.iterdir()) == []


# -- stale temp directories of killed exports -------------------------------------------------------


def test_clean_stale_removes_dead_processes_temp_dirs_only(tmp_path):
    from enet_edge.export.outdir import clean_stale

    out = tmp_path / "cpu"
    out.mkdir()
    (out / "manifest.json").write_text("{}")
    dead, alive = _dead_pid(), os.getpid()
    for name in (f".cpu.tmp-{dead}-abc", f".cpu.tmp-{alive}-def", ".cpu.tmp-legacy", f".other.tmp-{dead}-x",
                 f".cpu.old-{dead}"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "enet.xml").write_text("half")
    lines = []
    clean_stale(out, lines.append)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted(["cpu", f".cpu.tmp-{alive}-def", ".cpu.tmp-legacy", f".other.tmp-{dead}-x"])
    assert any(f".cpu.tmp-{dead}-abc: left by an enet-edge process ({dead}) that did not finish" in m for m in lines)
    assert any(f".cpu.old-{dead}" in m for m in lines)


def test_clean_stale_restores_a_previous_export_set_aside_by_a_kill(tmp_path):
    from enet_edge.export.outdir import clean_stale

    dead = _dead_pid()
    old = tmp_path / f".cpu.old-{dead}"
    old.mkdir()
    (old / "manifest.json").write_text('{"artifacts": {}}')
    lines = []
    clean_stale(tmp_path / "cpu", lines.append)
    assert (tmp_path / "cpu" / "manifest.json").is_file() and not old.exists()
    assert "restored the previous export" in lines[0]


def _fake_stages(fail_at=None):
    """Export stages without TensorFlow: write a manifest (or fail at ``fail_at``)."""
    from enet_edge.export.pipeline import Stage

    def write(ctx):
        (ctx.tmp / "manifest.json").write_text(json.dumps({"artifacts": {}, "new": True}))
        ctx.manifest = {"new": True}

    def fail(ctx):
        (ctx.tmp / "enet.xml").write_text("half")
        raise ConfigError("stage failed")

    return (Stage("fail", fail),) if fail_at else (Stage("write", write),)


@pytest.fixture
def previous(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "manifest.json").write_text('{"artifacts": {}, "old": true}')
    return out


def _request(out, **kw):
    from enet_edge.export.pipeline import ExportRequest
    from enet_edge.export.targets import load_target

    target = dataclasses.replace(load_target("cpu"), parity_frames=0, parity_random=1)
    return ExportRequest(target=target, out_dir=out, height=64, width=96, **kw)


def test_export_cleans_stale_dirs_and_keeps_the_previous_export_on_failure(previous, monkeypatch):
    from enet_edge.export import pipeline

    stale = previous.parent / f".out.tmp-{_dead_pid()}-zz"
    stale.mkdir()
    lines = []
    monkeypatch.setattr(pipeline, "STAGES", _fake_stages(fail_at="fail"))
    with pytest.raises(ConfigError, match="stage failed"):
        pipeline.export(_request(previous), log=lines.append)
    assert sorted(p.name for p in previous.parent.iterdir()) == ["out"]  # stale removed, own temp removed
    assert json.loads((previous / "manifest.json").read_text())["old"]
    assert any("removed" in m and stale.name in m for m in lines)
    monkeypatch.setattr(pipeline, "STAGES", _fake_stages())
    pipeline.export(_request(previous), log=lines.append)
    assert json.loads((previous / "manifest.json").read_text())["new"]
    assert sorted(p.name for p in previous.parent.iterdir()) == ["out"]


def test_export_unwritable_out_is_one_error_and_no_created_folders(tmp_path, monkeypatch):
    from enet_edge.export import outdir, pipeline

    def mkdtemp(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(outdir.tempfile, "mkdtemp", mkdtemp)
    monkeypatch.setattr(pipeline, "STAGES", _fake_stages())
    with pytest.raises(OutputError, match="cannot write --out .*new/deeper/out: Permission denied"):
        pipeline.export(_request(tmp_path / "new" / "deeper" / "out"), log=lambda m: None)
    assert list(tmp_path.iterdir()) == []


def test_export_refuses_what_it_would_destroy(tmp_path, monkeypatch):
    from enet_edge.export import pipeline

    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("mine")
    with pytest.raises(OutputError, match="folder with files but no manifest.json"):
        pipeline.export(_request(tmp_path / "notes"), log=lambda m: None)
    monkeypatch.chdir(tmp_path / "notes")
    with pytest.raises(OutputError, match="holds the working directory"):
        pipeline.export(_request(tmp_path), log=lambda m: None)
    assert (tmp_path / "notes" / "todo.txt").read_text() == "mine"


# -- data, sizes ------------------------------------------------------------------------------------


def test_parity_without_camvid_only_when_none_was_asked_for(tmp_path, monkeypatch):
    from enet_edge import camvid
    from enet_edge.errors import DataError
    from enet_edge.export.checks.parity import parity_inputs
    from enet_edge.export.targets import load_target

    target = load_target("cpu")
    monkeypatch.delenv(camvid.ENV_VAR, raising=False)
    monkeypatch.setattr(camvid, "DEFAULT_CANDIDATES", (tmp_path / "none",))  # no CamVid at the default places
    inputs = parity_inputs(target, None, 0)
    assert "no CamVid frames" in inputs.note and "4 random frames only" in inputs.note
    assert inputs.names == ["random:0", "random:1", "random:2", "random:3"]
    frames = inputs.frames(32, 48)
    assert [f.shape for f in frames] == [(1, 32, 48, 3)] * 4 and all(f.dtype == np.uint8 for f in frames)
    assert all(np.array_equal(a, b) for a, b in zip(frames, inputs.frames(32, 48)))  # seeded
    with pytest.raises(DataError, match=r"--data-dir\) does not exist"):
        parity_inputs(target, tmp_path / "asked", 0)
    monkeypatch.setenv(camvid.ENV_VAR, str(tmp_path / "env"))  # the environment asks too
    with pytest.raises(DataError, match=r"\$ENET_EDGE_CAMVID\) does not exist"):
        parity_inputs(target, None, 0)


def test_parity_inputs_spread_over_camvid_val_then_random(camvid):
    from enet_edge.export.checks.parity import camvid_val_pairs, parity_inputs
    from enet_edge.export.targets import load_target

    pairs = camvid_val_pairs(camvid)
    inputs = parity_inputs(dataclasses.replace(load_target("cpu"), parity_frames=3, parity_random=2), camvid, 7)
    step = len(pairs) // 3
    assert inputs.camvid == tuple(image for image, _ in pairs[::step][:3]) and inputs.note == ""
    assert inputs.names == [f"camvid:{p.name}" for p in inputs.camvid] + ["random:0", "random:1"]
    frames = inputs.frames(64, 96)
    assert [f.shape for f in frames] == [(1, 64, 96, 3)] * 5
    assert frames[0].std() > 0 and not np.array_equal(frames[3], inputs.frames(64, 96)[4])


def test_size_limit_names_the_largest_size_that_fits():
    from enet_edge.limits import MAX_SIDE, check_size, largest_fitting

    with pytest.raises(ConfigError, match=f"limit of {MAX_SIDE} pixels per side"):
        check_size(65536, 65536, memory=1 << 40)
    with pytest.raises(ConfigError, match=r"needs about 12.4 GB .* has 4.3 GB available; .* about 768x1024 at this aspect ratio"):
        check_size(1440, 1920, memory=4 << 30)
    check_size(360, 480, memory=4 << 30)
    h, w = largest_fitting(1440, 1920, 4 << 30)
    assert h % 8 == 0 and w % 8 == 0 and abs(h / w - 0.75) < 0.01


def test_model_config_keeps_zero_instead_of_the_default():
    from enet_edge.export.targets import load_target

    with pytest.raises(ConfigError, match="height=0 must be a positive multiple of 8"):
        load_target("cpu").model_config(height=0, width=96)


# -- weights files ----------------------------------------------------------------------------------


@pytest.mark.parametrize("content, message", [
    (b"hello, world\n", "is not an .npz file \\(not a zip archive"),
    (b"", "is not an .npz file"),
], ids=["text", "empty"])
def test_weights_errors_name_the_flag_and_the_file(tmp_path, content, message):
    from enet_edge.model.weights import read_weights

    path = tmp_path / "w.npz"
    path.write_bytes(content)
    with pytest.raises(ArtifactError, match=f"cannot read weights: --init-weights {path} {message}"):
        read_weights(path, "--init-weights")
    with pytest.raises(ArtifactError, match=f"--init-weights {tmp_path / 'missing.npz'} does not exist"):
        read_weights(tmp_path / "missing.npz", "--init-weights")


def test_pickled_weights_are_refused_by_name(tmp_path):
    from enet_edge.model.weights import read_weights

    np.savez(tmp_path / "w.npz", a=np.array([None], dtype=object))
    with pytest.raises(ArtifactError, match="holds pickled Python objects"):
        read_weights(tmp_path / "w.npz")


# -- train: percentages, damaged run directories -----------------------------------------------------


def test_train_prints_miou_in_percent(tmp_path):
    from enet_edge.workstation.run_dir import percent
    from enet_edge.workstation.train import TrainConfig, load_state

    assert percent(0.0248) == "2.48%" and percent(0.6244) == "62.44%" and percent(-1.0) == "none yet"
    (tmp_path / "state.json").write_text(json.dumps({"epoch": 4, "best_miou": 0.5123, "best_epoch": 4, "steps": 9}))
    lines = []
    state = load_state(TrainConfig(run_dir=str(tmp_path)), tmp_path, lines.append)
    assert state["epoch"] == 4 and lines == [f"resuming {tmp_path} at epoch 4 (best val mIoU 51.23%)"]


def test_damaged_optimizer_state_is_one_error(tmp_path):
    from enet_edge.workstation.run_dir import restore_optimizer

    path = tmp_path / "last_optimizer.npz"
    path.write_bytes(os.urandom(1000))
    with pytest.raises(ArtifactError, match="last_optimizer.npz is not an .npz file .*delete it"):
        restore_optimizer(path, [])


def test_optimizer_with_missing_key(tmp_path):
    from enet_edge.workstation.run_dir import restore_optimizer

    path = tmp_path / "last_optimizer.npz"
    np.savez(path, w0=np.zeros(2))
    with pytest.raises(ArtifactError, match="is damaged \\(KeyError"):
        restore_optimizer(path, [object()])


# -- bench: the spread and its warnings -------------------------------------------------------------


def test_bench_warns_when_infer_only_is_slower_than_end_to_end(tiny_export_dir):
    from enet_edge.device.bench import BenchConfig, format_report, parse_entry, result_document, run_bench
    from enet_edge.device.bench.results import PhaseResult, Stats

    result = run_bench(BenchConfig(entries=(parse_entry(str(tiny_export_dir)),), niter=4, warmup=0))[0]
    assert result.spread()["infer_p90_over_median"] >= 1.0
    busy = dataclasses.replace(
        result, infer=PhaseResult(Stats.from_ns([5_000_000, 5_100_000, 5_000_000, 12_000_000]), 1),
        e2e=PhaseResult(Stats.from_ns([2_000_000] * 4), 1))
    warnings = busy.warnings()
    assert any("infer-only median (5.050 ms) exceeds the end-to-end median (2.000 ms)" in w for w in warnings)
    assert any("infer-only p90 is 1.97x its median" in w for w in warnings)
    text = format_report(busy)
    assert "spread: p90/median infer-only 1.97, end-to-end 1.00" in text and "WARNING: infer-only median" in text
    doc = result_document(busy, {})
    assert doc["warnings"] == list(warnings) and doc["spread"]["infer_p90_over_median"] == 1.966
    json.dumps(doc, allow_nan=False)
