"""Every error path of every command is clean (docs/errors.md): a battery of bad inputs and faults.

Each case is data: argv, a setup function (files it needs in a fresh temp dir, the working directory),
the expected exit code and a regex the error line must match. Every case asserts:

* the exit code (0 only where the input is acceptable and the result correct);
* a failure's last stderr line is ONE line ``enet-edge <cmd>: error: ...`` matching the regex;
* no "Traceback" anywhere in stdout or stderr;
* nothing stray on disk: a failure leaves the temp dir byte-identical (no half files, no ``.tmp-``
  dirs, a previous export untouched); a success creates only what it should.

Fast cases run in-process through ``enet_edge.cli.main(argv)`` (the same code path as the console
script: it never raises); signal cases, and the few that run a real export or training (``slow``), run
``python -m enet_edge.cli`` as a subprocess. Models are the tiny export of tests/tiny_models.py
(32x48, three ops, no TensorFlow).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from typing import Dict, Optional

import numpy as np
import pytest

from enet_edge import cli

from error_cases import (CAMVID, Case, Ctx, Run, SHIPPED_WEIGHTS, Signal, bad_frame_in_imgs, bench_json_finalized,
                         cpu_only_ir, demo_outputs_finalized, failing_mkdtemp, files, flip_first_byte, garbage,
                         ir_only, manifest_edit, no_gui, no_proc, npz, previous_export, seq, small_memory, snapshot,
                         state, temp_dirs, tiny_copy, toml)


def export_killed_then_next_cleans(ctx: Ctx, run: Run) -> None:
    """After kill -9 at parity: the previous export is intact and the temp dir is there; the next export
    removes it (and says so), finishes, and leaves no temp dir."""
    stale = temp_dirs(ctx.tmp)
    assert len(stale) == 1 and stale[0].startswith(".out.tmp-"), stale
    again = run_subprocess(ctx, ["export", "--target", "cpu", "--height", "64", "--width", "96", "--out", "out"],
                           timeout=300)
    assert again.code == 0, again.err
    assert re.search(r"removed .*\.out\.tmp-\d+-\w+: left by an enet-edge process \(\d+\) that did not finish",
                     again.err), again.err
    assert temp_dirs(ctx.tmp) == []
    assert json.loads((ctx.tmp / "out" / "manifest.json").read_text())["target"] == "cpu"
    assert "Traceback" not in again.out + again.err


# --------------------------------------------------------------------------------------------
# the cases
# --------------------------------------------------------------------------------------------

T = "{tiny}"
BENCH = ("-n", "3", "--warmup", "0", "-q")
DEMO = ("--model", T, "--source", "imgs", "--no-show")
TRAIN = ("--run-dir", "run", "--data-dir", "{camvid}", "--epochs", "1", "--batch", "1", "--crop", "64", "96",
         "--limit-train", "1", "--limit-val", "1", "--max-steps", "1")
SMALL = ("--height", "64", "--width", "96")
BAD_TOML_HEIGHT = 'name = "x"\n[input]\nheight = "tall"\n'
IMPOSSIBLE_GATES = ('name = "cpu-on-myriad"\n[realization]\nshuffle = "depth_to_space"\n[checks]\n'
                    'openvino_ir = "myriad_2022_3"\n[parity]\nframes = 0\nrandom = 1\n')


def C(id, argv, code, message="", **kw):  # noqa: N802 - a table of cases reads better with a short name
    return Case(id, tuple(argv), code, message, **kw)


CASES = [
    # -- check ---------------------------------------------------------------------------------
    C("check-export-dir-manifest-target", ["check", T], 0, r"target cpu \(the target of .*manifest.json\)"),
    C("check-file-beside-manifest", ["check", T + "/enet.xml"], 0, r"enet.xml: ok against openvino_cpu"),
    C("check-unknown-target", ["check", T, "--target", "nope"], 2, r"unknown target 'nope'; available: .*ncs2"),
    C("check-toml-wrong-type", ["check", T, "--target", "t.toml"], 2, r"\[input\] height = 'tall' must be an integer",
      setup=toml(BAD_TOML_HEIGHT)),
    C("check-toml-unknown-key", ["check", T, "--target", "t.toml"], 2, r"unknown \[input\] key\(s\) heigth",
      setup=toml('name = "x"\n[input]\nheigth = 64\n')),
    C("check-toml-syntax", ["check", T, "--target", "t.toml"], 2, r"is not valid TOML", setup=toml('name = "x\n')),
    C("check-toml-not-utf8", ["check", T, "--target", "t.toml"], 2, r"is not valid TOML",
      setup=files(**{"t.toml": b"\xff\xfe\x00"})),
    C("check-toml-table-type", ["check", T, "--target", "t.toml"], 2, r"\[input\] = 'abc' must be a table",
      setup=toml('name = "x"\ninput = "abc"\n')),
    C("check-missing-path", ["check", "nope.xml"], 2, r"nope.xml does not exist"),
    C("check-empty-dir", ["check", "empty"], 2, r"empty holds none of the artifacts target ncs2 checks \(enet_frozen.pb, enet.onnx, enet.xml\)"),
    C("check-garbage-onnx", ["check", "g.onnx"], 2, r"is not a readable ONNX model", setup=garbage("g.onnx")),
    C("check-garbage-xml", ["check", "g.xml"], 2, r"is not a readable OpenVINO IR", setup=garbage("g.xml")),
    C("check-empty-xml", ["check", "e.xml"], 2, r"is not a readable OpenVINO IR", setup=garbage("e.xml", b"")),
    C("check-xml-without-bin", ["check", "xo/enet.xml", "--target", "cpu"], 2, r"enet.bin is missing next to enet.xml",
      setup=ir_only),
    C("check-garbage-pb", ["check", "g.pb", "--target", "cpu"], 2, r"is not a readable frozen GraphDef",
      setup=garbage("g.pb")),
    C("check-unknown-suffix", ["check", "g.txt"], 2, r"cannot check a '.txt' file", setup=garbage("g.txt")),
    C("check-garbage-manifest", ["check", "gm"], 2, r"manifest.json is not readable JSON",
      setup=tiny_copy("gm", lambda d: (d / "manifest.json").write_text("{bad"))),
    C("check-manifest-artifacts-not-object", ["check", "gm"], 2, r"manifest.json is damaged: 'artifacts' is not",
      setup=tiny_copy("gm", manifest_edit(lambda m: m.update(artifacts=[1, 2])))),
    C("check-manifest-unknown-target", ["check", "gm"], 2, r"names target 'tiny', which is not one of .*--target",
      setup=tiny_copy("gm", manifest_edit(lambda m: m.update(target="tiny")))),
    C("check-corrupt-sha256", ["check", "bad"], 2, r"enet.bin does not match its manifest sha256",
      setup=tiny_copy("bad", lambda d: flip_first_byte(d / "enet.bin"))),
    C("check-violations-exit-1", ["check", "cpuonly/enet.xml", "--target", "ncs2"], 1,
      r"target ncs2 does not accept 1 of 1 artifact\(s\): enet.xml: 2 violation\(s\) of myriad_2022_3 \(tables above\)", setup=cpu_only_ir),

    # -- export: refused before anything is built ------------------------------------------------
    C("export-toml-wrong-type", ["export", "--target", "t.toml", "--out", "out"], 2,
      r"\[input\] height = 'tall' must be an integer", setup=toml(BAD_TOML_HEIGHT)),
    C("export-unknown-target", ["export", "--target", "nope"], 2, r"unknown target 'nope'"),
    C("export-size-over-cap", ["export", "--height", "65536", "--width", "65536", "--out", "out"], 2,
      r"height=65536 exceeds the limit of 8192 pixels per side"),
    C("export-size-over-memory", ["export", "--height", "4096", "--width", "4096", "--out", "out"], 2,
      r"size 4096x4096 needs about 69.8 GB of memory .* 8.6 GB available; the largest size that fits is about "
      r"1352x1352 at this aspect ratio", setup=small_memory),
    C("export-height-zero", ["export", "--height", "0", "--width", "96", "--out", "out"], 2,
      r"height=0 must be a positive multiple of 8"),
    C("export-height-not-multiple", ["export", "--height", "65", "--width", "96", "--out", "out"], 2,
      r"height=65 must be a positive multiple of 8"),
    C("export-height-negative", ["export", "--height", "-8", "--width", "96", "--out", "out"], 2, r"height=-8"),
    C("export-height-not-int", ["export", "--height", "tall"], 2, r"argument --height: invalid int value: 'tall'"),
    C("export-seed-negative", ["export", *SMALL, "--seed", "-1", "--out", "out"], 2, r"seed=-1 must be an integer"),
    C("export-data-dir-missing", ["export", *SMALL, "--data-dir", "/nonexistent", "--out", "out"], 2,
      r"CamVid directory /nonexistent \(--data-dir\) does not exist", setup=previous_export()),
    C("export-data-dir-not-camvid", ["export", *SMALL, "--data-dir", "empty", "--out", "out"], 2,
      r"split 'val' needs .*empty/val"),
    C("export-weights-missing", ["export", *SMALL, "--weights", "w.npz", "--out", "out"], 2,
      r"--weights w.npz does not exist"),
    C("export-weights-text", ["export", *SMALL, "--weights", "w.npz", "--out", "out"], 2,
      r"cannot read weights: --weights w.npz is not an .npz file", setup=garbage("w.npz", b"hello\n")),
    C("export-weights-empty", ["export", *SMALL, "--weights", "w.npz", "--out", "out"], 2,
      r"--weights w.npz is not an .npz file", setup=garbage("w.npz", b"")),
    C("export-weights-pickled", ["export", *SMALL, "--weights", "w.npz", "--out", "out"], 2,
      r"--weights w.npz holds pickled Python objects", setup=npz("w.npz", a=np.array([None], dtype=object))),
    C("export-weights-no-config", ["export", *SMALL, "--weights", "w.npz", "--out", "out"], 2,
      r"--weights w.npz has no ENet config entry", setup=npz("w.npz", a=np.zeros(3))),
    C("export-weights-bad-config", ["export", *SMALL, "--weights", "w.npz", "--out", "out"], 2,
      r"--weights w.npz: its ENet config is invalid \(height must be an integer",
      setup=npz("w.npz", a=np.zeros(3), __enet_config__=np.array('{"height": "x"}'))),
    C("export-out-under-a-file", ["export", *SMALL, "--out", "afile/out"], 2,
      r"cannot write --out afile/out: .*afile is a file, not a directory"),
    C("export-out-is-a-file", ["export", *SMALL, "--out", "afile"], 2, r"--out afile exists and is not a directory"),
    C("export-out-not-an-export", ["export", *SMALL, "--out", "imgs"], 2,
      r"--out imgs is a folder with files but no manifest.json"),
    C("export-out-is-cwd", ["export", *SMALL, "--out", "."], 2, r"--out \. holds the working directory"),
    C("export-out-unwritable", ["export", *SMALL, "--out", "new/out"], 2,
      r"cannot write --out new/out: Permission denied", setup=failing_mkdtemp),
    C("export-out-unwritable-mount", ["export", *SMALL, "--out", "/proc/enet-out"], 2,
      r"cannot write --out /proc/enet-out: /proc is not writable", skip=no_proc),
    C("export-toml-unknown-ruleset", ["export", "--target", "t.toml", *SMALL, "--out", "out"], 2,
      r"unknown ruleset 'nope'", setup=toml('name = "x"\n[checks]\nonnx = "nope"\n')),
    # a read-only directory is "export-out-unwritable" (what mkdtemp raises there) and "-mount" (a real one):
    # chmod'ed directories do not stop root, who runs CI

    # -- eval ----------------------------------------------------------------------------------------
    C("eval-ok", ["eval", T, "--data-dir", "{camvid}", "--limit", "1", "--json", "r/m.json", "--no-progress"], 0,
      r"mIoU \(11 classes\)", creates=("r", "r/m.json", "r/m_confusion.png")),
    C("eval-json-under-a-file", ["eval", T, "--limit", "1", "--json", "afile/m.json"], 2,
      r"cannot write --json afile/m.json: .*afile is a file, not a directory"),
    C("eval-json-is-a-dir", ["eval", T, "--limit", "1", "--json", "empty"], 2, r"--json empty is a directory"),
    C("eval-confusion-under-a-file", ["eval", T, "--limit", "1", "--confusion", "afile/c.png"], 2,
      r"cannot write --confusion afile/c.png"),
    C("eval-json-unwritable", ["eval", T, "--limit", "1", "--json", "/proc/m.json"], 2,
      r"cannot write --json /proc/m.json: /proc is not writable", skip=no_proc),
    C("eval-size-over-cap", ["eval", "{shipped}", "--size", "65536", "64"], 2, r"height=65536 exceeds the limit"),
    C("eval-keras-backend-on-export", ["eval", T, "--backend", "keras"], 2, r"the keras backend runs .npz weights"),
    C("eval-data-dir-is-a-file", ["eval", T, "--data-dir", "afile"], 2, r"CamVid directory afile \(--data-dir\) is not a"),
    C("eval-limit-zero", ["eval", T, "--limit", "0"], 2, r"limit=0 must be an integer >= 1"),
    C("eval-limit-not-int", ["eval", T, "--limit", "x"], 2, r"argument --limit: invalid int value"),
    C("eval-unknown-split", ["eval", T, "--split", "nope", "--data-dir", "{camvid}"], 2, r"split 'nope' needs"),
    C("eval-data-dir-missing", ["eval", T, "--data-dir", "/nonexistent"], 2,
      r"CamVid directory /nonexistent \(--data-dir\) does not exist"),
    C("eval-missing-model", ["eval", "nope", "--limit", "1"], 2, r"model path nope does not exist"),
    C("eval-garbage-onnx", ["eval", "g.onnx", "--limit", "1"], 2, r"ONNX Runtime cannot load", setup=garbage("g.onnx")),
    C("eval-garbage-xml", ["eval", "g.xml", "--limit", "1"], 2, r"OpenVINO cannot read",
      setup=files(**{"g.xml": "not xml", "g.bin": ""})),
    C("eval-xml-without-bin", ["eval", "xo/enet.xml", "--limit", "1"], 2, r"enet.bin is missing next to enet.xml",
      setup=ir_only),
    C("eval-garbage-npz", ["eval", "w.npz", "--limit", "1"], 2, r"cannot read weights: .*w.npz is not an .npz file",
      setup=garbage("w.npz")),
    C("eval-garbage-manifest", ["eval", "gm", "--limit", "1"], 2, r"manifest.json is not readable JSON",
      setup=tiny_copy("gm", lambda d: (d / "manifest.json").write_text("[1, 2"))),
    C("eval-bad-palette", ["eval", "gm", "--limit", "1"], 2, r"'palette_rgb' is not one \[r, g, b\]",
      setup=tiny_copy("gm", manifest_edit(lambda m: m.update(palette_rgb=[["x"]] * 12)))),
    C("eval-corrupt-sha256", ["eval", "bad", "--limit", "1"], 2, r"enet.xml does not match its manifest sha256",
      setup=tiny_copy("bad", lambda d: (d / "enet.xml").write_text((d / "enet.xml").read_text() + " "))),
    C("eval-unknown-device", ["eval", T, "--limit", "1", "--device", "NOPE"], 2, r"device NOPE is not available"),
    C("eval-precision-off-backend", ["eval", T + "/enet.onnx", "--precision", "f16"], 2,
      r"precision f16: the onnxruntime backend runs f32 only"),
    C("eval-size-on-export", ["eval", T, "--size", "64", "96"], 2, r"has a fixed input size"),
    C("eval-unknown-precision", ["eval", T, "--precision", "f64"], 2, r"argument --precision: invalid choice"),

    # -- bench ---------------------------------------------------------------------------------------
    C("bench-ok-json", ["bench", T, *BENCH, "--json", "r/b.json"], 0, r"spread: p90/median infer-only",
      creates=("r", "r/b.json")),
    C("bench-json-under-a-file", ["bench", T, *BENCH, "--json", "afile/b.json"], 2,
      r"cannot write --json afile/b.json: .*afile is a file, not a directory"),
    C("bench-json-is-a-dir", ["bench", T, *BENCH, "--json", "empty"], 2, r"--json empty is a directory"),
    C("bench-niter-zero", ["bench", T, "-n", "0"], 2, r"niter=0 must be >= 1"),
    C("bench-niter-negative", ["bench", T, "-n", "-3"], 2, r"niter=-3 must be >= 1"),
    C("bench-time-zero", ["bench", T, "-t", "0"], 2, r"time=0.0 must be > 0"),
    C("bench-time-nan", ["bench", T, "-t", "nan"], 2, r"time=nan must be > 0"),
    C("bench-time-inf", ["bench", T, "-t", "inf"], 2, r"time=inf must be > 0 and at most 86400 seconds"),
    C("bench-warmup-negative", ["bench", T, "--warmup", "-1"], 2, r"warmup=-1 must be within 0\.\.10000000"),
    C("bench-niter-huge", ["bench", T, "-n", "100000000000"], 2, r"niter=100000000000 must be >= 1 and at most"),
    C("bench-json-unwritable", ["bench", T, *BENCH, "--json", "/proc/b.json"], 2,
      r"cannot write --json /proc/b.json: /proc is not writable", skip=no_proc),
    C("bench-nireq-zero", ["bench", T, "-m", "throughput", "--nireq", "0"], 2, r"nireq=0 must be within 1..64"),
    C("bench-nireq-huge", ["bench", T, "-m", "throughput", "--nireq", "100000"], 2, r"nireq=100000 must be within"),
    C("bench-nstreams-text", ["bench", T, "--nstreams", "x"], 2, r"nstreams='x' must be AUTO or a positive integer"),
    C("bench-threads-zero", ["bench", T, "--threads", "0"], 2, r"threads=0 must be >= 1"),
    C("bench-rounds-zero", ["bench", T, "--rounds", "0"], 2, r"rounds=0 must be >= 1"),
    C("bench-per-layer-negative", ["bench", T, "--per-layer", "-1"], 2, r"per_layer=-1 must be >= 0"),
    C("bench-seed-negative", ["bench", T, "--seed", "-1"], 2, r"seed=-1 must be within"),
    C("bench-unknown-mode", ["bench", T, "-m", "fast"], 2, r"argument -m/--mode: invalid choice"),
    C("bench-unknown-device", ["bench", T, *BENCH, "-d", "NOPE"], 2, r"device NOPE is not available"),
    C("bench-unknown-precision", ["bench", T, *BENCH, "--precision", "f64"], 2, r"precision 'f64' is not one of"),
    C("bench-unknown-backend-in-entry", ["bench", T + ":tensorrt", *BENCH], 2, r"'tensorrt' is not a backend"),
    C("bench-missing-model", ["bench", "nope", *BENCH], 2, r"model path nope does not exist"),
    C("bench-garbage-onnx", ["bench", "g.onnx", *BENCH], 2, r"ONNX Runtime cannot load", setup=garbage("g.onnx")),
    C("bench-xml-without-bin", ["bench", "xo/enet.xml", *BENCH], 2, r"enet.bin is missing", setup=ir_only),
    C("bench-empty-dir", ["bench", "empty", *BENCH], 2, r"has no manifest.json and no .xml"),
    C("bench-corrupt-sha256", ["bench", "bad", *BENCH], 2, r"does not match its manifest sha256",
      setup=tiny_copy("bad", lambda d: (d / "enet.bin").write_bytes(b"\0" * 10))),
    C("bench-images-missing", ["bench", T, *BENCH, "-i", "nope"], 2, r"--images nope is not a directory"),
    C("bench-images-empty", ["bench", T, *BENCH, "-i", "empty"], 2, r"--images empty holds no images"),
    C("bench-images-broken", ["bench", T, *BENCH, "-i", "imgs"], 2, r"cannot read image .*zzz_broken.png",
      setup=bad_frame_in_imgs),
    C("bench-nothing-given", ["bench", *BENCH], 2, r"give a MODEL"),

    # -- demo ----------------------------------------------------------------------------------------
    C("demo-ok-outputs", ["demo", *DEMO, "--output", "r/o.mp4", "--json", "r/s.json"], 0, r"demo: 2 frames",
      creates=("r", "r/o.mp4", "r/s.json")),
    C("demo-ok-frames-folder", ["demo", *DEMO, "--output", "r/frames/"], 0, r"output: r/frames/",
      creates=("r", "r/frames", "r/frames/frame_000000.png", "r/frames/frame_000001.png")),
    C("demo-output-video-under-a-file", ["demo", *DEMO, "--output", "afile/o.mp4"], 2,
      r"cannot write --output afile/o.mp4: .*afile is a file, not a directory"),
    C("demo-output-image-under-a-file", ["demo", *DEMO, "--output", "afile/o.png"], 2, r"cannot write --output"),
    C("demo-output-folder-under-a-file", ["demo", *DEMO, "--output", "afile/frames/"], 2, r"cannot write --output"),
    C("demo-output-unknown-type", ["demo", *DEMO, "--output", "o.xyz"], 2, r"unsupported type '.xyz'"),
    C("demo-json-under-a-file", ["demo", *DEMO, "--json", "afile/s.json"], 2, r"cannot write --json afile/s.json"),
    C("demo-json-is-a-dir", ["demo", *DEMO, "--json", "empty"], 2, r"--json empty is a directory"),
    C("demo-output-unwritable", ["demo", *DEMO, "--output", "/proc/o.mp4"], 2,
      r"cannot write --output /proc/o.mp4: /proc is not writable", skip=no_proc),
    C("demo-model-xml-without-bin", ["demo", "--model", "xo/enet.xml", "--source", "imgs", "--no-show"], 2,
      r"enet.bin is missing", setup=ir_only),
    C("demo-nireq-zero", ["demo", *DEMO, "--nireq", "0"], 2, r"nireq=0 must be an integer within 1..64"),
    C("demo-alpha-range", ["demo", *DEMO, "--alpha", "2"], 2, r"alpha=2.0 must be within 0..1"),
    C("demo-alpha-nan", ["demo", *DEMO, "--alpha", "nan"], 2, r"alpha=nan must be within 0..1"),
    C("demo-limit-zero", ["demo", *DEMO, "--limit", "0"], 2, r"limit=0 must be at least 1 frame"),
    C("demo-output-fps-zero", ["demo", *DEMO, "--output-fps", "0"], 2, r"output_fps=0.0 must be > 0"),
    C("demo-output-fps-inf", ["demo", *DEMO, "--output-fps", "inf", "--output", "o.mp4"], 2,
      r"output_fps=inf must be > 0 and at most 1000"),
    C("demo-unknown-precision", ["demo", *DEMO, "--precision", "f64"], 2, r"precision 'f64' is not one of"),
    C("demo-unknown-device", ["demo", *DEMO, "--device", "NOPE"], 2, r"device NOPE is not available"),
    C("demo-unknown-backend", ["demo", *DEMO, "--backend", "nope"], 2, r"argument --backend: invalid choice"),
    C("demo-source-missing", ["demo", "--model", T, "--source", "nope", "--no-show"], 2, r"source nope does not exist"),
    C("demo-source-empty-folder", ["demo", "--model", T, "--source", "empty", "--no-show"], 2,
      r"folder empty holds no images"),
    C("demo-source-not-a-video", ["demo", "--model", T, "--source", "g.mp4", "--no-show"], 2,
      r"cannot read video g.mp4", setup=garbage("g.mp4")),
    C("demo-source-broken-image", ["demo", "--model", T, "--source", "g.png", "--no-show"], 2,
      r"cannot read image g.png", setup=garbage("g.png")),
    C("demo-broken-frame-mid-run-leaves-no-output", ["demo", *DEMO, "--output", "r/o.mp4", "--json", "r/s.json"], 2,
      r"cannot read image .*zzz_broken.png", setup=bad_frame_in_imgs),
    C("demo-broken-frame-mid-run-no-frames-left", ["demo", *DEMO, "--output", "r/frames/"], 2,
      r"cannot read image .*zzz_broken.png", setup=bad_frame_in_imgs),
    C("demo-model-missing", ["demo", "--model", "nope", "--source", "imgs", "--no-show"], 2, r"model nope does not exist"),
    C("demo-model-garbage-onnx", ["demo", "--model", "g.onnx", "--source", "imgs", "--no-show"], 2,
      r"ONNX Runtime cannot load", setup=garbage("g.onnx")),
    C("demo-model-garbage-manifest", ["demo", "--model", "gm", "--source", "imgs", "--no-show"], 2,
      r"manifest.json is not readable JSON", setup=tiny_copy("gm", lambda d: (d / "manifest.json").write_text(""))),
    C("demo-window-without-gui", ["demo", "--model", T, "--source", "imgs"], 2, r"no GUI support.*--no-show",
      skip=no_gui),

    # -- train (refused before TensorFlow builds anything) ----------------------------------------
    C("train-state-truncated", ["train", *TRAIN], 2, r"run/state.json is damaged .*delete it",
      setup=state('{"epoch": 3,')),
    C("train-state-not-object", ["train", *TRAIN], 2, r"run/state.json is not a JSON object", setup=state("[1, 2]")),
    C("train-state-wrong-type", ["train", *TRAIN], 2, r"run/state.json: epoch='x' is not a valid value",
      setup=state('{"epoch": "x"}')),
    C("train-init-weights-missing", ["train", *TRAIN, "--init-weights", "w.npz"], 2,
      r"--init-weights w.npz does not exist"),
    C("train-init-weights-text", ["train", *TRAIN, "--init-weights", "w.npz"], 2,
      r"cannot read weights: --init-weights w.npz is not an .npz file \(not a zip archive", setup=garbage("w.npz")),
    C("train-run-dir-under-a-file", ["train", *TRAIN[2:], "--run-dir", "afile/run"], 2,
      r"cannot write --run-dir afile/run: .*afile is a file, not a directory"),
    C("train-run-dir-is-a-file", ["train", *TRAIN[2:], "--run-dir", "afile"], 2,
      r"--run-dir afile exists and is not a directory"),
    C("train-lr-nan", ["train", *TRAIN, "--lr", "nan"], 2, r"learning_rate must be a finite number > 0, got nan"),
    C("train-lr-inf", ["train", *TRAIN, "--lr", "inf"], 2, r"learning_rate must be a finite number > 0, got inf"),
    C("train-lr-negative", ["train", *TRAIN, "--lr", "-1"], 2, r"learning_rate must be a finite number > 0"),
    C("train-weight-decay-negative", ["train", *TRAIN, "--weight-decay", "-1"], 2, r"weight_decay must be a finite"),
    C("train-max-steps-zero", ["train", *TRAIN, "--max-steps", "0"], 2, r"--max-steps 0 must be >= 1"),
    C("train-limit-val-zero", ["train", *TRAIN, "--limit-val", "0"], 2, r"--limit-val 0 must be >= 1"),
    C("train-seed-negative", ["train", *TRAIN, "--seed", "-1"], 2, r"seed must be within"),
    C("train-epochs-zero", ["train", *TRAIN, "--epochs", "0"], 2, r"epochs must be >= 1, got 0"),
    C("train-batch-zero", ["train", *TRAIN, "--batch", "0"], 2, r"batch must be >= 1, got 0"),
    C("train-crop-not-multiple", ["train", *TRAIN, "--crop", "63", "96"], 2, r"crop_height=63 must be a multiple of 8"),
    C("train-crop-larger-than-frames", ["train", *TRAIN, "--crop", "1000", "96"], 2,
      r"crop 1000x96 is larger than the frames \(360x480\)"),
    C("train-data-dir-missing", ["train", *TRAIN, "--data-dir", "/nonexistent"], 2,
      r"CamVid directory /nonexistent \(--data-dir\) does not exist"),
    C("train-run-dir-unwritable", ["train", *TRAIN[2:], "--run-dir", "/proc/enet-run"], 2,
      r"cannot write --run-dir /proc/enet-run: /proc is not writable", skip=no_proc),
    C("train-log-damaged", ["train", *TRAIN], 2, r"run/log.csv is damaged",
      setup=files(**{"run/state.json": '{"epoch": 1}', "run/log.csv": "epoch,steps\nx,1\n"})),
    C("train-classes-file-garbage", ["train", *TRAIN, "--classes", "c.json"], 2, r"class file c.json is not valid JSON",
      setup=garbage("c.json", b"{garbage")),
    C("train-num-classes-zero", ["train", *TRAIN, "--num-classes", "0"], 2, r"num_classes must be within 1..256"),
    C("train-num-classes-huge", ["train", *TRAIN, "--num-classes", "99999999999999999999"], 2,
      r"num_classes must be within 1..256"),
    C("train-unknown-schedule", ["train", *TRAIN, "--schedule", "linear"], 2, r"argument --schedule: invalid choice"),
    C("runs-not-a-run-dir", ["runs", "nowhere"], 2, r"nowhere is not a training run directory \(no log.csv\)"),
    C("runs-window-zero", ["runs", "run", "--window", "0"], 2, r"--window 0 must be >= 1"),
    C("runs-log-damaged", ["runs", "run"], 2, r"run/log.csv is damaged \(no column val_miou\); give the --run-dir of a run written by enet-edge train",
      setup=files(**{"run/log.csv": "epoch,steps\n1,1\n"})),
    C("runs-no-validation-yet", ["runs", "run", "--epoch", "1"], 2, r"run has no validation up to epoch 1",
      setup=files(**{"run/log.csv": "epoch,val_miou\n1,\n2,0.5\n"})),

    # -- empty values: never "not given" (that would fall back silently) ---------------------------
    C("export-empty-weights", ["export", "--weights", "", "--out", "out"], 2, r"argument --weights: empty value"),
    C("check-empty-path", ["check", ""], 2, r"argument PATH: empty value"),
    C("eval-empty-data-dir", ["eval", T, "--data-dir", " "], 2, r"argument --data-dir: empty value"),
    C("bench-empty-images", ["bench", T, "-i", ""], 2, r"argument --images: empty value"),
    C("demo-empty-model", ["demo", "--model", "", "--source", "imgs", "--no-show"], 2, r"argument --model: empty value"),
    C("train-empty-init-weights", ["train", *TRAIN, "--init-weights", ""], 2, r"argument --init-weights: empty value"),

    # -- signals (subprocesses) -----------------------------------------------------------------
    # each delay starts once the model is loaded (bench: 5 warm-up iterations of ~0.1 ms, then the timed runs; demo:
    # ~10 ms a frame), so 1 s leaves the process well inside the state the case interrupts, even on a loaded machine
    C("bench-sigint-finalizes-json", ["bench", T, "-t", "60", "--json", "b.json"], 130,
      r"interrupted \(Ctrl-C\) during the timed runs; the statistics above and --json hold",
      signal=Signal(signal.SIGINT, r"bench: loading", 1.0), post=bench_json_finalized, creates=("b.json",)),
    C("demo-sigint-finalizes-outputs", ["demo", *DEMO, "--loop", "--limit", "1000000", "--output", "o.mp4",
                                        "--json", "s.json"], 130,
      r"interrupted \(Ctrl-C\) after \d+ frame\(s\); the output and summary were finalized",
      signal=Signal(signal.SIGINT, r"demo: 2 images", 1.0), post=demo_outputs_finalized, creates=("o.mp4", "s.json")),
    C("demo-sigterm-exits-143", ["demo", *DEMO, "--loop", "--limit", "1000000", "--json", "s.json"], 143,
      r"terminated \(SIGTERM\) after \d+ frame\(s\)", signal=Signal(signal.SIGTERM, r"demo: 2 images", 1.0),
      creates=("s.json",)),
    C("eval-sigint-writes-nothing", ["eval", T, "--split", "train", "--data-dir", "{camvid}", "--json", "r/m.json"], 130,
      r"^enet-edge eval: error: interrupted \(Ctrl-C\)", signal=Signal(signal.SIGINT, r"eval train \[", 0.3)),
    C("bench-cli-subprocess-error-line", ["bench", "nope", "-q"], 2, r"model path nope does not exist", subprocess=True),

    # -- slow: a real export or training ---------------------------------------------------------
    C("export-sigkill-at-parity-then-next-cleans", ["export", "--target", "cpu", *SMALL, "--out", "out"], -9, "",
      setup=previous_export(), signal=Signal(signal.SIGKILL, r"\[5/5\] parity"), post=export_killed_then_next_cleans,
      slow=True),
    C("export-gate-fails-previous-untouched", ["export", "--target", "t.toml", *SMALL, "--out", "out"], 1,
      r"op\(s\) not accepted by target cpu-on-myriad \(details above\)",
      setup=seq(previous_export(), toml(IMPOSSIBLE_GATES)), slow=True, subprocess=True),
    C("train-sigint-in-first-epoch-keeps-nothing", ["train", *TRAIN[:-6], "--limit-train", "60", "--limit-val", "1"],
      130, r"interrupted \(Ctrl-C\); no epoch finished, nothing was kept",
      signal=Signal(signal.SIGINT, r"epoch 1/1 \[", 0.3), slow=True),
    C("train-optimizer-random-bytes", ["train", *TRAIN, "--epochs", "2"], 2,
      r"run/last_optimizer.npz is not an .npz file \(damaged or truncated\); delete it",
      setup=seq(files(**{"run/state.json": '{"epoch": 1, "steps": 1, "best_miou": 0.1, "best_epoch": 1}',
                         "run/last_optimizer.npz": os.urandom(2048)}),
                lambda ctx: shutil.copy(SHIPPED_WEIGHTS, ctx.tmp / "run" / "last_weights.npz")),
      slow=True, subprocess=True),
]

# slow cases run as subprocesses; so do the signal cases
CASES = [dataclasses.replace(c, subprocess=c.subprocess or c.slow or c.signal is not None) for c in CASES]


# --------------------------------------------------------------------------------------------
# running a case
# --------------------------------------------------------------------------------------------


def run_in_process(ctx: Ctx, argv, capsys) -> Run:
    capsys.readouterr()
    try:
        code = cli.main([ctx.fmt(a) for a in argv])
    except SystemExit as exc:  # argparse usage errors
        code = exc.code if isinstance(exc.code, int) else 2
    out, err = capsys.readouterr()
    return Run(code, out, err)


def _restore_sigint():
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # a shell may start us with SIGINT ignored; the CLI must see it


def run_subprocess(ctx: Ctx, argv, timeout: float = 300.0, sig: Optional[Signal] = None) -> Run:
    out_path, err_path = ctx.tmp.parent / f"{ctx.tmp.name}.out", ctx.tmp.parent / f"{ctx.tmp.name}.err"
    with open(out_path, "w") as out, open(err_path, "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "enet_edge.cli", *[ctx.fmt(a) for a in argv]], cwd=ctx.tmp,
                                stdout=out, stderr=err, preexec_fn=_restore_sigint)
        try:
            if sig is not None:
                deadline = time.monotonic() + timeout
                while not re.search(sig.after, err_path.read_text()):
                    assert proc.poll() is None, f"ended before {sig.after!r}: {err_path.read_text()[-2000:]}"
                    assert time.monotonic() < deadline, f"no {sig.after!r} in time"
                    time.sleep(0.05)
                time.sleep(sig.delay)
                proc.send_signal(sig.sig)
            proc.wait(timeout=timeout)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return Run(proc.returncode, out_path.read_text(), err_path.read_text())


def check_run(case: Case, ctx: Ctx, run: Run, before: Dict[str, str]) -> None:
    command = case.argv[0]
    both = run.out + run.err
    assert run.code == case.code, f"exit {run.code}, expected {case.code}\nstdout: {run.out[-3000:]}\nstderr: {run.err[-3000:]}"
    assert "Traceback" not in both, both[-3000:]
    if case.code not in (0, -9):
        lines = [line for line in run.err.splitlines() if line.strip()]
        assert lines, "no error line on stderr"
        last = lines[-1]
        assert last.startswith(f"enet-edge {command}: error: "), last
        assert re.search(case.message, last), f"{case.message!r} not in {last!r}"
    elif case.message:
        assert re.search(case.message, run.out), run.out[-3000:]
    after = snapshot(ctx.tmp)
    stray = sorted(p for p in after if ".tmp-" in p or ".old-" in p)
    if case.code != -9:
        assert not stray, stray
    allowed = lambda p: any(p == c or p.startswith(c + os.sep) for c in case.creates)  # noqa: E731
    killed = case.code == -9  # SIGKILL: its temp dir stays (the next export removes it: see the case's post)
    changed = sorted(p for p in set(before) | set(after)
                     if before.get(p) != after.get(p) and not allowed(p) and not (killed and ".tmp-" in p))
    assert not changed, f"stray, missing or changed on disk: {changed}"
    for path in case.creates if case.code == 0 else ():
        assert (ctx.tmp / path).exists(), f"{path} was not created"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    from tiny_models import tiny_export

    return tiny_export(tmp_path_factory.mktemp("pristine") / "tiny", target="cpu")


def _params():
    for case in CASES:
        marks = [pytest.mark.slow] if case.slow else []
        yield pytest.param(case, id=case.id, marks=marks)


@pytest.mark.parametrize("case", list(_params()))
def test_error_battery(case: Case, pristine, tmp_path, monkeypatch, capsys):
    reason = case.skip() if case.skip else None
    if reason:
        pytest.skip(reason)
    if not (CAMVID / "val").is_dir():
        pytest.fail(f"CamVid not found at {CAMVID}")
    root = tmp_path / "cwd"
    root.mkdir()
    ctx = Ctx(root, pristine, monkeypatch)
    if case.setup:
        case.setup(ctx)
    before = snapshot(root)
    if case.subprocess:
        run = run_subprocess(ctx, case.argv, case.timeout, case.signal)
    else:
        monkeypatch.chdir(root)
        run = run_in_process(ctx, case.argv, capsys)
    check_run(case, ctx, run, before)
    if case.post:
        case.post(ctx, run)


def test_battery_size():
    """At least 60 cases over the seven subcommands, most of them fast."""
    commands = {c.argv[0] for c in CASES}
    assert commands == {"check", "export", "eval", "bench", "demo", "train", "runs"}
    assert len(CASES) >= 60 and sum(not c.slow for c in CASES) >= 60
    assert len({c.id for c in CASES}) == len(CASES)
