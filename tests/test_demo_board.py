"""The demo on a headless board (issue #39): the overlay in a browser, camera and device faults survived, outputs
valid after SIGTERM or a lost device.

Faults are injected with fake sources and adapters (in process); the browser test runs Debian's ``chromium``
headless against a real ``enet-edge demo --serve`` process (``.ci/run`` installs chromium). Everything runs on the
tiny exports of tests/tiny_models.py with 360x480 CamVid frames.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from enet_edge import cli
from enet_edge.class_sets import CAMVID_CLASSES, CAMVID_PALETTE_RGB
from enet_edge.device.demo import DemoConfig, FrameSource, run_demo
from enet_edge.device.demo.serve import FrameServer, LatestFrame, page_html, parse_serve
from enet_edge.errors import ConfigError, DeviceError, OutputError
from enet_edge.runtime.adapters.base import InferenceAdapter

REPO = Path(__file__).resolve().parents[1]
CLIP_FRAMES = 6
FAST = (0.001, 0.01)  # retry_backoff of the in-process runs: first and longest wait, s
PALETTE_BGR = np.asarray(CAMVID_PALETTE_RGB, np.uint8)[:, ::-1]


@pytest.fixture(scope="module")
def clip(camvid, tmp_path_factory):
    folder = tmp_path_factory.mktemp("board_clip")
    for path in sorted((camvid / "val").glob("*.png"))[:CLIP_FRAMES]:
        (folder / path.name).symlink_to(path)
    return folder


@pytest.fixture(scope="module")
def clip_frames(clip):
    import cv2

    return [cv2.imread(str(p)) for p in sorted(clip.glob("*.png"))]


def png_frames(folder):
    import cv2

    return [cv2.imread(str(p)) for p in sorted(Path(folder).glob("frame_*.png"))]


def video_frames(path):
    import cv2

    cap = cv2.VideoCapture(str(path))
    assert cap.isOpened(), path
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames


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
    assert err[-1].startswith("enet-edge demo: error: device CPU lost after 2 frame(s)") and "--device-retries" in err[-1]
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


def _demo_process(*args):
    return subprocess.Popen([sys.executable, "-m", "enet_edge.cli", "demo", "--no-show", *map(str, args)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=str(REPO)))


def _wait_for(predicate, timeout=120.0, what="it"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize("kind", ["video", "folder"])
def test_sigterm_mid_run_leaves_valid_outputs(kind, tiny_export_dir, clip, tmp_path):
    """SIGTERM while frames are written: exit 143, the video plays (OpenCV reads it back), the PNG folder holds
    whole frames only, the JSON says ``terminated``."""
    out = tmp_path / ("out.avi" if kind == "video" else "frames")
    stats = tmp_path / "s.json"
    port = _free_port()
    proc = _demo_process("--model", tiny_export_dir, "--source", clip, "--loop", "--limit", 10 ** 6,
                         "--output", f"{out}/" if kind == "folder" else out, "--json", stats,
                         "--serve", f"127.0.0.1:{port}")
    try:
        _wait_for(lambda: (_stats(port) or {}).get("frames", 0) >= 20, what="20 frames")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, err
    assert err.strip().splitlines()[-1].startswith("enet-edge demo: error: terminated (SIGTERM)")
    summary = json.loads(stats.read_text())
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


# --------------------------------------------------------------------------------------------
# Serving
# --------------------------------------------------------------------------------------------


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(port, path, timeout=10):
    """(status, body) of GET ``path``."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _stats(port):
    try:
        return json.loads(_get(port, "/stats", timeout=5)[1])
    except (OSError, ValueError):
        return None


def test_parse_serve_and_the_page():
    assert parse_serve("8080") == ("127.0.0.1", 8080)
    assert parse_serve("0.0.0.0:8080") == ("0.0.0.0", 8080)
    assert parse_serve("[::1]:9000") == ("::1", 9000)
    assert parse_serve(":0") == ("127.0.0.1", 0)
    for bad in ("", "x", "80800", "host:"):
        with pytest.raises(ConfigError):
            parse_serve(bad)
    page = page_html(CAMVID_CLASSES, PALETTE_BGR, "t<b>")
    assert "/stream.mjpg" in page and "t&lt;b&gt;" in page and "/stats" in page
    for name, (r, g, b) in zip(CAMVID_CLASSES, CAMVID_PALETTE_RGB):
        assert f"rgb({r},{g},{b})" in page and name in page


def test_latest_frame_skips_for_slow_viewers():
    latest = LatestFrame()
    assert latest.newer(0, 0.01) is None
    for k in range(5):
        latest.publish(np.full((8, 8, 3), k * 40, np.uint8))
    seq, jpeg = latest.newer(0, 1.0)
    assert seq == 5 and jpeg[:2] == b"\xff\xd8"  # the latest, not the first: a slow viewer skips frames
    assert latest.newer(5, 0.01) is None
    assert latest.newer(0, 1.0)[1] is jpeg  # encoded once
    latest.close()
    assert latest.newer(0, 1.0) is None


def test_frame_server_in_process():
    server = FrameServer("127.0.0.1", 0, CAMVID_CLASSES, PALETTE_BGR, max_viewers=1)
    try:
        with pytest.raises(OutputError, match="cannot serve on"):
            FrameServer("127.0.0.1", server.port, CAMVID_CLASSES, PALETTE_BGR)
        server.publish(np.zeros((16, 16, 3), np.uint8), {"frames": 1})
        assert _get(server.port, "/")[0] == 200
        assert json.loads(_get(server.port, "/stats")[1])["frames"] == 1
        status, body = _get(server.port, "/frame.jpg")
        assert status == 200 and body[:2] == b"\xff\xd8"
        for path in ("/nope", "/../etc/passwd", "/stats/x", "/index.html", "//etc/passwd"):
            assert _get(server.port, path)[0] == 404, path
        first = _stream_socket(server.port)
        _wait_for(lambda: server.viewers == 1, 10, "the viewer")
        assert _get(server.port, "/stream.mjpg")[0] == 503  # max_viewers 1
        first.close()
    finally:
        server.stop()


def _stream_socket(port, read=True):
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    if not read:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.sendall(b"GET /stream.mjpg HTTP/1.0\r\n\r\n")
    return sock


class _Viewer(threading.Thread):
    def __init__(self, port):
        super().__init__(daemon=True)
        self.sock = _stream_socket(port)
        self.parts = 0
        self.halt = threading.Event()

    def run(self):
        try:
            while not self.halt.is_set():
                data = self.sock.recv(1 << 16)
                if not data:
                    return
                self.parts += data.count(b"--enetedgeframe")
        except OSError:
            return


@pytest.fixture(scope="module")
def served(tiny_export_dir, clip, tmp_path_factory):
    """A running ``enet-edge demo --serve`` on the tiny export (class colours alone, no HUD over them), looping."""
    port = _free_port()
    proc = _demo_process("--model", tiny_export_dir, "--source", clip, "--loop", "--serve", f"127.0.0.1:{port}",
                         "--alpha", "1", "--no-hud")
    try:
        _wait_for(lambda: proc.poll() is not None or (_stats(port) or {}).get("frames", 0) > 0, what="the server")
        assert proc.poll() is None, proc.communicate()[1]
        yield port
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_stats_count_frames_with_viewers_and_a_stalled_connection(served):
    stalled = _stream_socket(served, read=False)  # asks for the stream, never reads
    viewers = [_Viewer(served) for _ in range(2)]
    for v in viewers:
        v.start()
    try:
        _wait_for(lambda: (_stats(served) or {}).get("viewers") == 3, 30, "three viewers")
        before = _stats(served)
        time.sleep(2.0)
        after = _stats(served)
        assert after["frames"] > before["frames"] + 10, (before, after)  # inference goes on
        assert after["state"] == "running" and after["device"] == "CPU" and after["precision"]
        assert set(after["stages_ms"]) == {"capture", "pre", "infer", "post", "render"}
        assert all(v.parts > 5 for v in viewers), [v.parts for v in viewers]
        for path in ("/nope", "/../../etc/passwd", "/stream.mjpg/x", "/favicon.ico"):
            assert _get(served, path)[0] == 404, path
    finally:
        for v in viewers:
            v.halt.set()
            v.sock.close()
        stalled.close()


def chromium_binary():
    import shutil

    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail("Debian's chromium is needed for the browser test: apt-get install -y chromium (.ci/run installs it)")


def test_the_page_in_a_real_browser(served, tmp_path):
    """Headless chromium opens the page: the screenshot holds the overlay (class colours in the stream's area) and the
    legend (every class's exact swatch colour); the DOM names every class."""
    import cv2

    browser = chromium_binary()
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
             f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1000,560", "--virtual-time-budget=4000"]
    shot = tmp_path / "shot.png"
    done = subprocess.run(flags + [f"--screenshot={shot}", f"http://127.0.0.1:{served}/"], capture_output=True,
                          text=True, timeout=120)
    assert shot.is_file(), done.stderr[-2000:]
    image = cv2.imread(str(shot))
    pixels = image.reshape(-1, 3).astype(np.int16)
    for name, colour in zip(CAMVID_CLASSES, PALETTE_BGR.astype(np.int16)):
        assert (np.abs(pixels - colour).max(axis=1) == 0).sum() >= 100, f"legend swatch of {name} missing"
    # the stream's area (left of the legend, below the title): class colours alone (alpha 1), JPEG-approximated
    area = image[60:400, 10:480].reshape(-1, 3).astype(np.int16)
    near = np.min(np.abs(area[:, None, :] - PALETTE_BGR.astype(np.int16)[None]).max(axis=2), axis=1) <= 24
    assert near.mean() > 0.8, f"only {near.mean():.0%} of the stream's area holds class colours"
    dom = subprocess.run(flags + ["--dump-dom", f"http://127.0.0.1:{served}/"], capture_output=True, text=True,
                         timeout=120).stdout
    assert 'src="/stream.mjpg"' in dom and all(name in dom for name in CAMVID_CLASSES)
