"""The live demo, headless: CamVid val frames in, rendered video/PNGs out, per-stage timings reported.

No display and no camera here: every run uses ``--no-show`` with ``--output`` and ``--limit``, on
the tiny 32x48 exports of tests/tiny_models.py (frames stay 360x480; the class map is resized back to them).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from enet_edge import cli
from enet_edge.class_sets import CAMVID_CLASSES, CAMVID_PALETTE_RGB
from enet_edge.device.demo import (
    STAGES,
    DemoConfig,
    Renderer,
    ViewState,
    handle_key,
    legend_width,
    open_source,
    output_kind,
)
from enet_edge.errors import ConfigError
from board_helpers import CLIP_FRAMES, REPO, clip_folder, png_frames, video_frames

FRAME_H, FRAME_W = 360, 480


@pytest.fixture(scope="module")
def clip(camvid, tmp_path_factory):
    """A folder with the first CLIP_FRAMES CamVid val frames of one sequence (symlinks)."""
    return clip_folder(camvid, tmp_path_factory.mktemp("clip"))


def run_cli(*args):
    return cli.main(["demo", "--no-show", *map(str, args)])


def test_headless_video_has_all_frames_and_timings(tiny_export_dir, clip, tmp_path, capfd):
    out, stats = tmp_path / "out.mp4", tmp_path / "stats.json"
    limit = CLIP_FRAMES - 1
    assert run_cli("--model", tiny_export_dir, "--source", clip, "--output", out, "--limit", limit,
                   "--json", stats) == 0
    stdout = capfd.readouterr().out
    frames = video_frames(out)
    expected_w = FRAME_W + legend_width(CAMVID_CLASSES, FRAME_H)
    assert len(frames) == limit
    assert {f.shape for f in frames} == {(FRAME_H, expected_w, 3)}
    summary = json.loads(stats.read_text())
    assert summary["frames"] == limit and summary["stopped_by"] == "limit" and summary["in_order"]
    assert summary["output_size"] == [expected_w, FRAME_H]
    assert summary["fps"] > 0
    for stage in STAGES:  # capture, preprocess, infer, postprocess, render
        assert summary["stages_ms"][stage]["mean"] >= 0, stage
        assert stage in stdout, stage  # the printed summary table
    assert summary["stages_ms"]["infer"]["mean"] > 0


def test_nireq2_keeps_order_and_matches_sync_run(tiny_ncs2_dir, clip, tmp_path):
    """Async (2 requests in flight) renders exactly the frames the synchronous run renders, in order."""
    outputs = {}
    for nireq in (1, 2):
        out, stats = tmp_path / f"n{nireq}", tmp_path / f"n{nireq}.json"
        assert run_cli("--model", tiny_ncs2_dir, "--source", f"{clip}/*.png", "--output", f"{out}/",
                       "--nireq", nireq, "--no-hud", "--no-legend", "--json", stats) == 0
        summary = json.loads(stats.read_text())
        assert summary["nireq"] == nireq and summary["in_order"] and summary["frames"] == CLIP_FRAMES
        outputs[nireq] = png_frames(out)
    sync, pipelined = outputs[1], outputs[2]
    assert len(sync) == len(pipelined) == CLIP_FRAMES
    assert sync[0].shape == (FRAME_H, FRAME_W, 3)  # no legend, no HUD: the frame's own size
    for i, (a, b) in enumerate(zip(sync, pipelined)):
        assert np.array_equal(a, b), f"frame {i} differs between nireq 1 and 2"
    assert not np.array_equal(sync[0], sync[-1])  # distinct frames, so a reordering would show


def test_screenshot_mask_mode_and_loop(tiny_export_dir, clip, tmp_path):
    """A .png output keeps the last frame; --loop replays the clip; mask mode shows palette colours only."""
    shot = tmp_path / "shot.png"
    limit = CLIP_FRAMES + 2
    assert run_cli("--model", tiny_export_dir, "--source", clip, "--output", shot, "--limit", limit, "--loop",
                   "--mask-only", "--no-hud", "--json", tmp_path / "s.json") == 0
    import cv2

    image = cv2.imread(str(shot))
    assert image.shape == (FRAME_H, FRAME_W + legend_width(CAMVID_CLASSES, FRAME_H), 3)
    assert json.loads((tmp_path / "s.json").read_text())["frames"] == limit
    palette = {tuple(int(c) for c in rgb[::-1]) for rgb in CAMVID_PALETTE_RGB}
    colours = {tuple(int(c) for c in px) for px in image[:, :FRAME_W].reshape(-1, 3)}
    assert colours <= palette


def test_script_runs_without_tensorflow(tiny_ncs2_dir, clip, tmp_path):
    """demo/camera_demo.py from the repository root, with TensorFlow made unimportable."""
    out = tmp_path / "frames"
    code = ("import runpy, sys; sys.modules['tensorflow'] = None; "
            "sys.argv = ['demo/camera_demo.py'] + sys.argv[1:]; "
            "runpy.run_path('demo/camera_demo.py', run_name='__main__')")
    done = subprocess.run(
        [sys.executable, "-c", code, "--model", str(tiny_ncs2_dir), "--source", str(clip), "--no-show",
         "--output", f"{out}/", "--limit", "2"],
        cwd=REPO, capture_output=True, text=True, timeout=300, env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert done.returncode == 0, done.stderr
    assert len(png_frames(out)) == 2
    assert "render" in done.stdout


def _broken_video(tmp_path):
    path = tmp_path / "broken.mp4"
    path.write_bytes(b"this is not a video" * 10)
    return path


def _empty_folder(tmp_path):
    path = tmp_path / "empty"
    path.mkdir()
    (path / "notes.txt").write_text("no images here")
    return path


@pytest.mark.parametrize("case, make_args, expected", [
    ("camera", lambda tmp, exp, clip: ["--model", exp, "--source", "99"], "camera 99 not found"),
    ("video", lambda tmp, exp, clip: ["--model", exp, "--source", _broken_video(tmp)], "cannot read video"),
    ("folder", lambda tmp, exp, clip: ["--model", exp, "--source", _empty_folder(tmp)], "holds no images"),
    ("glob", lambda tmp, exp, clip: ["--model", exp, "--source", f"{tmp}/*.png"], "matches no images"),
    ("model", lambda tmp, exp, clip: ["--model", tmp / "nope", "--source", clip], "does not exist"),
    ("alpha", lambda tmp, exp, clip: ["--model", exp, "--source", clip, "--alpha", "2"], "alpha=2.0"),
])
def test_errors_are_one_line(case, make_args, expected, tiny_export_dir, clip, tmp_path, capfd):
    args = [str(a) for a in make_args(tmp_path, tiny_export_dir, clip)]
    assert run_cli(*args, "--output", tmp_path / "o.mp4") != 0
    err = capfd.readouterr().err.strip()
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    assert err.startswith("enet-edge demo: error:") and expected in err, err
    assert not (tmp_path / "o.mp4").exists()


def test_window_without_gui_is_one_line(tiny_export_dir, clip, capfd):
    """opencv-python-headless here: asking for a window says to use --no-show (and never calls highgui)."""
    from enet_edge.device.demo import gui_problem

    if gui_problem() is None:
        pytest.skip("this OpenCV can open windows")
    assert cli.main(["demo", "--model", str(tiny_export_dir), "--source", str(clip), "--limit", "1"]) != 0
    err = capfd.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--no-show" in err, err


def test_config_validation_and_sources(clip, tmp_path):
    with pytest.raises(ConfigError):
        DemoConfig(nireq=0)
    with pytest.raises(ConfigError):
        DemoConfig(limit=0)
    with pytest.raises(ConfigError):
        DemoConfig(output=str(tmp_path / "out.xyz"))
    with pytest.raises(ConfigError):
        DemoConfig(show=False, loop=True)
    assert output_kind(str(tmp_path / "a.mp4")) == "video"
    assert output_kind(str(tmp_path / "shot.png")) == "image"
    assert output_kind(f"{tmp_path}/frames/") == "folder"
    source = open_source(str(clip))
    names = [Path(f).name for f in source.files]
    assert names == sorted(names) and len(names) == CLIP_FRAMES  # one sequence, in frame order
    assert source.read().shape == (FRAME_H, FRAME_W, 3)


def test_keys_and_renderer():
    state = ViewState()
    assert handle_key(state, 9) and state.mode == "mask"  # TAB
    assert handle_key(state, 9) and state.mode == "overlay"
    assert handle_key(state, 32) and state.paused  # space
    assert not handle_key(state, -1) and not state.quit
    handle_key(state, ord("q"))
    assert state.quit
    state = ViewState()
    handle_key(state, 27)  # ESC
    assert state.quit

    palette_bgr = np.asarray(CAMVID_PALETTE_RGB, np.uint8)[:, ::-1]
    renderer = Renderer(CAMVID_CLASSES, palette_bgr, alpha=1.0)
    frame = np.full((120, 160, 3), 200, np.uint8)
    cmap = np.full((30, 40), 3, np.uint8)  # Road, at a smaller size: resized (nearest) to the frame
    lines = [("FPS", "30.0", (255, 255, 255)), ("infer", "12.0 ms", (255, 255, 255))]
    out = renderer.render(frame, cmap, "overlay", lines)
    assert out.shape == (120, 160 + legend_width(CAMVID_CLASSES, 120), 3) and out.dtype == np.uint8
    assert tuple(out[-1, 159]) == tuple(palette_bgr[3])  # alpha 1: the class colour, outside the HUD
    assert tuple(out[8, 8]) != tuple(palette_bgr[3])  # the HUD box darkens the corner


class FakeDisplay:
    """Stands in for the OpenCV window: records shown images, replays key codes (-1: none)."""

    keys = []

    def __init__(self, title="enet-edge demo"):
        self.shown = []
        self._keys = list(self.keys)
        FakeDisplay.last = self

    def show(self, image):
        self.shown.append(image.copy())

    def poll(self, delay_ms=1):
        return self._keys.pop(0) if self._keys else -1

    def closed(self):
        return False

    def close(self):
        pass


def test_window_keys_drive_the_loop(tiny_export_dir, clip, monkeypatch):
    """TAB -> mask only, space pauses (TAB re-renders the paused frame), space resumes, q quits."""
    import enet_edge.device.demo as demo

    monkeypatch.setattr(demo.loop, "Display", FakeDisplay)  # where run_demo looks it up
    FakeDisplay.keys = [9, 32, 9, 32, ord("q")]
    config = DemoConfig(model=str(tiny_export_dir), source=str(clip), show=True, alpha=0.5)
    summary = demo.run_demo(config, log=lambda m: None)
    assert summary.stopped_by == "key" and summary.frames == 3
    shown = FakeDisplay.last.shown
    # frame 0, TAB redraw (mask), frame 1, pause redraw, TAB redraw (overlay), resume redraw, frame 2
    assert len(shown) == 7
    palette = {tuple(int(c) for c in rgb[::-1]) for rgb in CAMVID_PALETTE_RGB}
    bottom = lambda img: {tuple(int(c) for c in px) for px in img[-40:, :FRAME_W].reshape(-1, 3)}  # below the HUD
    assert not bottom(shown[0]) <= palette  # overlay: frame pixels blended in
    assert bottom(shown[1]) <= palette and bottom(shown[2]) <= palette  # mask only
    assert not bottom(shown[4]) <= palette  # TAB while paused: back to overlay
    assert np.array_equal(shown[3][-40:], shown[2][-40:])  # paused: same frame re-rendered


def test_demo_takes_openvino_hints_for_device_lists(tiny_export_dir):
    from enet_edge.device.demo import DemoConfig
    from enet_edge.device.demo.loop import open_model

    config = DemoConfig(model=str(tiny_export_dir), device="AUTO:CPU", hint="cumulative_throughput", nireq=4)
    assert config.hint == "CUMULATIVE_THROUGHPUT"
    segmenter, _, device, nireq = open_model(config, log=lambda m: None)
    try:
        assert device == "AUTO:CPU" and nireq == 4
        assert segmenter.adapter.properties()["requested"]["PERFORMANCE_HINT"] == "CUMULATIVE_THROUGHPUT"
    finally:
        segmenter.adapter.close()
    assert DemoConfig().hint is None
    with pytest.raises(ConfigError, match="hint='fastest' must be one of latency, throughput, cumulative_throughput"):
        DemoConfig(hint="fastest")


def test_stage_stats_hold_bounded_memory():
    """A run of days keeps at most ``keep`` samples per stage; count, mean and max stay exact, percentiles close."""
    from enet_edge.device.demo import StageStats

    exact = StageStats(keep=1000)
    values = [(i % 100) * 1_000_000 for i in range(1, 501)]  # 0..99 ms, under the cap: every sample kept
    for v in values:
        exact.add("infer", v)
    ms = np.asarray(values) / 1e6
    assert exact.summary_ms()["infer"] == {"mean": round(ms.mean(), 3), "p50": round(float(np.percentile(ms, 50)), 3),
                                           "p95": round(float(np.percentile(ms, 95)), 3), "max": 99.0}
    stats = StageStats(keep=1000)
    for i in range(20_000):
        stats.add("infer", (i % 100) * 1_000_000)
    series = stats.all["infer"]
    assert series.count == 20_000 and len(series.samples) == 1000  # bounded
    summary = stats.summary_ms()["infer"]
    assert summary["mean"] == 49.5 and summary["max"] == 99.0
    assert abs(summary["p50"] - 49.5) < 6 and abs(summary["p95"] - 94) < 4
    assert "render" not in stats.summary_ms()  # stages without samples left out
