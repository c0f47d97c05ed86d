"""The demo survives a camera and a device that fail (issue #39), and leaves valid outputs after SIGTERM or a lost
device. Faults are injected with fake sources and adapters, in process, on the tiny exports of tests/tiny_models.py
with 360x480 CamVid frames; SIGTERM goes to a real ``enet-edge demo`` process.
"""

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from board_helpers import (CLIP_FRAMES, REPO, clip_folder, demo_process, free_port, png_frames, stats, video_frames,
                           wait_for)
from enet_edge import cli
from enet_edge.device.demo import DemoConfig, FrameSource, run_demo
from enet_edge.device.demo.sources import FrameSink
from enet_edge.errors import ConfigError, DeviceError
from enet_edge.runtime.adapters.base import InferenceAdapter

FAST = (0.001, 0.01)  # retry_backoff of the in-process runs: first and longest wait, s


@pytest.fixture(scope="module")
def clip(camvid, tmp_path_factory):
    return clip_folder(camvid, tmp_path_factory.mktemp("board_clip"))


@pytest.fixture(scope="module")
def clip_frames(clip):
    import cv2

    return [cv2.imread(str(p)) for p in sorted(clip.glob("*.png"))]


# --------------------------------------------------------------------------------------------
# Fakes
# --------------------------------------------------------------------------------------------


class FlakyCamera(FrameSource):
    """A live camera of ``frames`` (repeated) that stops delivering at read ``fail_at`` and comes back after
    ``back_after`` reopen attempts (None: never); frames that passed while it was away are missed, as a real camera's
    (``missed`` of them)."""

    live = True

    def __init__(self, frames, fail_at, back_after=None, missed=0, total=None):
        self.frames, self.fail_at, self.back_after, self.missed, self.total = frames, fail_at, back_after, missed, total
        self.description = "camera 7 (fake)"
        self.clock = 0  # index of the next frame
        self.down = False
        self.failed = False
        self.reopens = 0
        self.delivered = []  # clock index of every frame delivered

    def read(self):
        if self.down:
            return None
        if self.clock == self.fail_at and not self.failed:
            self.failed = self.down = True
            self.clock += self.missed
            return None
        if self.total is not None and len(self.delivered) >= self.total:
            self.down = True
            return None
        self.delivered.append(self.clock)
        frame = self.frames[self.clock % len(self.frames)]
        self.clock += 1
        return frame

    def reopen(self):
        self.reopens += 1
        if self.back_after is not None and self.reopens >= self.back_after:
            self.down = False
            return True
        return False


class FaultyAdapters:
    """Stands in for ``open_adapter``: real adapters wrapped so that inference calls ``fail_at`` raise like a stick
    that reset (OpenVINO's error, as the adapters raise it); ``dead_after`` makes every later call fail too, and
    ``refuse_opens`` makes that many reopen attempts fail (the stick still away)."""

    def __init__(self, real_open, fail_at=(), dead_after=None, refuse_opens=0, dead_devices=()):
        self.real_open = real_open
        self.fail_at, self.dead_after, self.refuse_opens = set(fail_at), dead_after, refuse_opens
        self.dead_devices = set(dead_devices)
        self.calls = self.opens = self.closes = 0
        self.devices = []

    def __call__(self, path, backend=None, device="CPU", **options):
        self.opens += 1
        if self.opens > 1 and self.refuse_opens > 0:
            self.refuse_opens -= 1
            raise DeviceError(f"{device} is not among OpenVINO's devices (fake: still unplugged)")
        self.devices.append(device)
        inner = self.real_open(path, backend=backend, device="CPU", **options)
        return _Faulty(inner, self, device)


class _Faulty(InferenceAdapter):
    def __init__(self, inner, owner, device):
        self.inner, self.owner = inner, owner
        for name in ("backend", "precision", "precision_run", "path", "input_spec", "output_spec"):
            setattr(self, name, getattr(inner, name))
        self.device = device

    def infer(self, tensor):
        o = self.owner
        n = o.calls
        o.calls += 1
        if n in o.fail_at or (o.dead_after is not None and n >= o.dead_after) or self.device in o.dead_devices:
            raise DeviceError(f"inference on {self.device} failed: Device reset (fake, call {n})")
        return self.inner.infer(tensor)

    def close(self):
        self.owner.closes += 1
        self.inner.close()


@pytest.fixture
def faulty(monkeypatch):
    """``faulty(**kwargs)`` installs a :class:`FaultyAdapters` as ``open_adapter`` and returns it."""
    import enet_edge.runtime.adapters as adapters

    real = adapters.open_adapter

    def install(**kwargs):
        fake = FaultyAdapters(real, **kwargs)
        monkeypatch.setattr(adapters, "open_adapter", fake)
        return fake

    return install


def fake_source(monkeypatch, source):
    import enet_edge.device.demo.loop as loop

    monkeypatch.setattr(loop, "open_source", lambda spec: source)


# --------------------------------------------------------------------------------------------
# Camera faults
# --------------------------------------------------------------------------------------------


def test_camera_that_fails_and_returns_is_reopened(tiny_export_dir, clip_frames, tmp_path, monkeypatch):
    """Fails at frame 3, back after 3 reopen attempts with 4 frames missed: the run goes on, one fault recovered."""
    camera = FlakyCamera(clip_frames, fail_at=3, back_after=3, missed=4)
    fake_source(monkeypatch, camera)
    lines = []
    config = DemoConfig(model=str(tiny_export_dir), source="7", show=False, output=f"{tmp_path}/frames/",
                        retry_backoff=FAST, camera_timeout=5.0, json_path=str(tmp_path / "s.json"), limit=10)
    summary = run_demo(config, log=lines.append)
    assert summary.stopped_by == "limit" and summary.error is None
    assert summary.frames == 10 and summary.in_order
    assert summary.faults == {"camera": 1, "device": 0} and summary.recovered == {"camera": 1, "device": 0}
    assert camera.reopens == 3 and camera.delivered == [0, 1, 2] + list(range(7, 14))
    assert len(png_frames(tmp_path / "frames")) == 10
    assert sum("reopening it" in line for line in lines) == 1 and sum("is back" in line for line in lines) == 1
    saved = json.loads((tmp_path / "s.json").read_text())
    assert saved["faults"]["camera"] == 1 and saved["recovered"]["camera"] == 1


def test_camera_that_never_returns_ends_with_one_line(tiny_export_dir, clip_frames, tmp_path, monkeypatch, capfd):
    """The bound (--camera-timeout): one line, exit 2, the video written so far plays, the JSON says why."""
    fake_source(monkeypatch, FlakyCamera(clip_frames, fail_at=5))
    out, stats = tmp_path / "out.mp4", tmp_path / "s.json"
    started = time.monotonic()
    code = cli.main(["demo", "--no-show", "--model", str(tiny_export_dir), "--source", "7", "--camera-timeout",
                     "0.3", "--output", str(out), "--json", str(stats)])
    assert code == 2 and time.monotonic() - started < 30
    err = capfd.readouterr().err.strip().splitlines()
    assert "Traceback" not in "\n".join(err)
    assert err[-1].startswith("enet-edge demo: error: camera 7 (fake) lost: no frame for 0.3 s after 5 frame(s)")
    assert "--camera-timeout" in err[-1]
    assert len(video_frames(out)) == 5
    summary = json.loads(stats.read_text())
    assert summary["stopped_by"] == "camera-lost" and summary["faults"]["camera"] == 1
    assert summary["recovered"]["camera"] == 0 and "lost" in summary["error"]


def test_a_file_end_is_the_end_not_a_fault(tiny_export_dir, clip, tmp_path):
    summary = run_demo(DemoConfig(model=str(tiny_export_dir), source=str(clip), show=False, retry_backoff=FAST),
                       log=lambda m: None)
    assert summary.stopped_by == "end" and summary.frames == CLIP_FRAMES and summary.faults["camera"] == 0


# --------------------------------------------------------------------------------------------
# Device faults
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("nireq", [1, 2])
def test_device_fault_reopens_the_model_and_loses_no_frame(nireq, tiny_export_dir, clip, tmp_path, faulty):
    """Inference 3 and 4 raise (a stick that reset, then failed once more), one reopen is refused: every frame
    comes out, in order, identical to a clean run's."""
    clean = run_demo(DemoConfig(model=str(tiny_export_dir), source=str(clip), show=False, nireq=nireq, hud=False,
                                output=f"{tmp_path}/clean/"), log=lambda m: None)
    fake = faulty(fail_at={3, 4}, refuse_opens=1)
    lines = []
    summary = run_demo(DemoConfig(model=str(tiny_export_dir), source=str(clip), show=False, nireq=nireq, hud=False,
                                  output=f"{tmp_path}/faulty/", retry_backoff=FAST, device_retries=5),
                       log=lines.append)
    assert summary.stopped_by == "end" and summary.frames == clean.frames == CLIP_FRAMES and summary.in_order
    assert summary.faults["device"] == 1 and summary.recovered["device"] == 1
    assert fake.closes >= 2 and fake.opens == 4  # first open, 1 refused, 2 reopens (a fault on the fresh model)
    faulted = [line for line in lines if "device fault" in line]
    assert len(faulted) == 1 and "Device reset" in faulted[0] and "fault 1" in faulted[0]
    a, b = png_frames(tmp_path / "clean"), png_frames(tmp_path / "faulty")
    assert len(a) == len(b) == CLIP_FRAMES
    for i, (x, y) in enumerate(zip(a, b)):
        assert np.array_equal(x, y), f"frame {i} differs after the device fault"


def test_device_that_stays_away_ends_with_one_line(tiny_export_dir, clip, tmp_path, faulty, capfd):
    """Every inference from the 3rd on fails: --device-retries 1 spent, one line, exit 2, the output is whole."""
    faulty(dead_after=2)
    stats = tmp_path / "s.json"
    code = cli.main(["demo", "--no-show", "--model", str(tiny_export_dir), "--source", str(clip), "--device-retries",
                     "1", "--output", f"{tmp_path}/frames/", "--json", str(stats)])
    assert code == 2
    err = capfd.readouterr().err.strip().splitlines()
    assert err[-1].startswith("enet-edge demo: error: device CPU lost after 2 frame(s)")
    assert "--device-retries" in err[-1]
    assert sum("device fault" in line for line in err) == 1
    summary = json.loads(stats.read_text())
    assert summary["stopped_by"] == "device-lost" and summary["faults"]["device"] == 1
    assert summary["recovered"]["device"] == 0 and summary["frames"] == 2
    assert len(png_frames(tmp_path / "frames")) == 2
    assert not [p for p in (tmp_path / "frames").iterdir() if not p.name.startswith("frame_")]  # no temp file


def test_fallback_device_takes_over(tiny_export_dir, clip, faulty):
    fake = faulty(dead_devices={"MYRIAD"})
    lines = []
    summary = run_demo(DemoConfig(model=str(tiny_export_dir), source=str(clip), show=False, device="MYRIAD",
                                  device_retries=2, fallback_device="CPU", retry_backoff=FAST), log=lines.append)
    assert summary.stopped_by == "end" and summary.frames == CLIP_FRAMES
    assert summary.device == "CPU" and summary.fallback_device == "CPU"
    assert summary.faults["device"] == 1 and summary.recovered["device"] == 1
    assert fake.devices == ["MYRIAD", "MYRIAD", "MYRIAD", "CPU"]
    assert sum("--fallback-device CPU" in line for line in lines) == 1


def test_unfinished_frames_of_a_pipeline_come_back_in_order(tiny_export_dir, camvid_frames):
    from enet_edge.runtime.segmenter import AsyncPipeline, Segmenter

    segmenter = Segmenter.open(tiny_export_dir, nireq=2)
    try:
        pipeline = AsyncPipeline(segmenter)
        pipeline._pending.update({5: ("e", None, {}, 0), 3: ("c", None, {}, 0)})
        pipeline._done[4] = ("d", None)
        assert pipeline.unfinished() == ["c", "d", "e"]
        assert pipeline.unfinished() == [] and pipeline.drain() == []
    finally:
        segmenter.adapter.close()


def test_fault_options_are_checked():
    for bad in (dict(camera_timeout=0), dict(camera_timeout=float("nan")), dict(device_retries=-1),
                dict(fallback_device=" "), dict(retry_backoff=(2.0, 1.0)), dict(serve="host:99999"),
                dict(serve="nope")):
        with pytest.raises(ConfigError):
            DemoConfig(**bad)
    DemoConfig(show=False, loop=True, serve="8080")  # a served loop needs no --limit: a service
    with pytest.raises(ConfigError, match="--serve"):
        DemoConfig(show=False, loop=True)


# --------------------------------------------------------------------------------------------
# SIGTERM
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["video", "folder"])
def test_sigterm_mid_run_leaves_valid_outputs(kind, tiny_export_dir, clip, tmp_path):
    """SIGTERM while frames are written: exit 143, the video plays (OpenCV reads it back), the PNG folder holds
    whole frames only, the JSON says ``terminated``."""
    out = tmp_path / ("out.avi" if kind == "video" else "frames")
    summary_path = tmp_path / "s.json"
    port = free_port()
    proc = demo_process("--model", tiny_export_dir, "--source", clip, "--loop", "--limit", 10 ** 6,
                         "--output", f"{out}/" if kind == "folder" else out, "--json", summary_path,
                         "--serve", f"127.0.0.1:{port}")
    try:
        wait_for(lambda: (stats(port) or {}).get("frames", 0) >= 20, what="20 frames")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, err
    assert err.strip().splitlines()[-1].startswith("enet-edge demo: error: terminated (SIGTERM)")
    summary = json.loads(summary_path.read_text())
    assert summary["stopped_by"] == "terminated" and summary["frames"] >= 20
    if kind == "video":
        frames = video_frames(out)
        assert len(frames) == summary["frames"]
        assert (frames[0].shape[1], frames[0].shape[0]) == tuple(summary["output_size"])
        assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]
    else:
        names = sorted(p.name for p in out.iterdir())
        assert names == [f"frame_{i:06d}.png" for i in range(summary["frames"])]  # no temp file, none missing
        assert all(f is not None for f in png_frames(out))


SIGNALS_DEFERRED_CHILD = """
import os, signal, time
from enet_edge.command import sigterm_as_interrupt
from enet_edge.device.demo import signals_deferred
from enet_edge.errors import Terminated

finished = []
try:
    with sigterm_as_interrupt():
        with signals_deferred():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)
            finished.append(True)
        time.sleep(1.0)  # delivered here at the latest
except Terminated:
    print("terminated after the block" if finished == [True] else "terminated inside the block")
else:
    print("not terminated")
"""


class InterruptingSink(FrameSink):
    """Records each frame it is given; at frame ``at`` a SIGINT arrives inside ``write``, after the frame is down:
    the moment a SIGTERM to a busy demo can land (CI once counted 22 frames in a video of 23)."""

    def __init__(self, at: int):
        super().__init__("in memory")
        self.at = at

    def write(self, image):
        self.frames += 1
        self.size = (image.shape[1], image.shape[0])
        if self.frames == self.at:
            signal.raise_signal(signal.SIGINT)  # Python's own handler: KeyboardInterrupt, in this process


def test_a_signal_during_a_write_still_counts_the_frame(tiny_export_dir, clip, tmp_path, monkeypatch):
    """A frame written is a frame in the summary: the signal waits until the frame is counted, then stops the run."""
    import enet_edge.device.demo.loop as loop

    sink = InterruptingSink(at=5)
    monkeypatch.setattr(loop, "open_sink", lambda path, fps: sink)
    summary = run_demo(DemoConfig(model=str(tiny_export_dir), source=str(clip), show=False,
                                  output=str(tmp_path / "out.avi"), loop=True, limit=1000), log=lambda line: None)
    assert summary.stopped_by == "interrupt"
    assert sink.frames == 5 and summary.frames == 5


def test_signals_wait_while_outputs_are_finalized():
    """Inside ``signals_deferred`` a SIGTERM waits: the block finishes, then Terminated is raised (POSIX). In a child
    process: a SIGTERM to the whole test process (its TensorFlow and OpenVINO threads) once crashed the suite."""
    done = subprocess.run([sys.executable, "-c", SIGNALS_DEFERRED_CHILD], capture_output=True, text=True, timeout=120,
                          cwd=REPO)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "terminated after the block"


def test_only_a_live_camera_is_reopened(clip, tmp_path):
    from enet_edge.device.demo import open_source

    images = open_source(str(clip))
    assert not images.live and not images.reopen()
    video = tmp_path / "v.avi"
    import cv2

    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 15, (48, 32))
    writer.write(np.zeros((32, 48, 3), np.uint8))
    writer.release()
    source = open_source(str(video))
    try:
        assert not source.live and not source.reopen()  # a file's end is its end
    finally:
        source.close()
