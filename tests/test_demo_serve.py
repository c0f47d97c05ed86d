"""The overlay in a browser (issue #39): ``enet-edge demo --serve``'s page, stream and ``/stats``, with several
viewers and a stalled connection, and the page in Debian's ``chromium`` headless (``.ci/run`` installs it) opened from
a running demo. Tiny exports of tests/tiny_models.py, 360x480 CamVid frames.
"""

import json
import signal
import subprocess
import threading
import time

import numpy as np
import pytest

from board_helpers import clip_folder, demo_process, get, stats, stream_socket, wait_for, free_port
from enet_edge.class_sets import CAMVID_CLASSES, CAMVID_PALETTE_RGB
from enet_edge.device.demo.serve import FrameServer, LatestFrame, page_html, parse_serve
from enet_edge.errors import ConfigError, OutputError

PALETTE_BGR = np.asarray(CAMVID_PALETTE_RGB, np.uint8)[:, ::-1]


@pytest.fixture(scope="module")
def clip(camvid, tmp_path_factory):
    return clip_folder(camvid, tmp_path_factory.mktemp("serve_clip"))


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
        assert get(server.port, "/")[0] == 200
        assert json.loads(get(server.port, "/stats")[1])["frames"] == 1
        status, body = get(server.port, "/frame.jpg")
        assert status == 200 and body[:2] == b"\xff\xd8"
        for path in ("/nope", "/../etc/passwd", "/stats/x", "/index.html", "//etc/passwd"):
            assert get(server.port, path)[0] == 404, path
        first = stream_socket(server.port)
        wait_for(lambda: server.viewers == 1, 10, "the viewer")
        assert get(server.port, "/stream.mjpg")[0] == 503  # max_viewers 1
        first.close()
    finally:
        server.stop()


class _Viewer(threading.Thread):
    def __init__(self, port):
        super().__init__(daemon=True)
        self.sock = stream_socket(port)
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
    port = free_port()
    proc = demo_process("--model", tiny_export_dir, "--source", clip, "--loop", "--serve", f"127.0.0.1:{port}",
                         "--alpha", "1", "--no-hud")
    try:
        wait_for(lambda: proc.poll() is not None or (stats(port) or {}).get("frames", 0) > 0, what="the server")
        assert proc.poll() is None, proc.communicate()[1]
        yield port
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_stats_count_frames_with_viewers_and_a_stalled_connection(served):
    stalled = stream_socket(served, read=False)  # asks for the stream, never reads
    viewers = [_Viewer(served) for _ in range(2)]
    for v in viewers:
        v.start()
    try:
        wait_for(lambda: (stats(served) or {}).get("viewers") == 3, 30, "three viewers")
        before = stats(served)
        time.sleep(2.0)
        after = stats(served)
        assert after["frames"] > before["frames"] + 10, (before, after)  # inference goes on
        assert after["state"] == "running" and after["device"] == "CPU" and after["precision"]
        assert set(after["stages_ms"]) == {"capture", "pre", "infer", "post", "render"}
        assert all(v.parts > 5 for v in viewers), [v.parts for v in viewers]
        for path in ("/nope", "/../../etc/passwd", "/stream.mjpg/x", "/favicon.ico"):
            assert get(served, path)[0] == 404, path
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
