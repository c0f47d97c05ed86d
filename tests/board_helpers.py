"""Shared by tests/test_demo_faults.py and tests/test_demo_serve.py: frames read back, a demo process, HTTP helpers."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CLIP_FRAMES = 6


def clip_folder(camvid, folder):
    """``folder`` holding the first CLIP_FRAMES CamVid val frames of one sequence (symlinks)."""
    for path in sorted((camvid / "val").glob("*.png"))[:CLIP_FRAMES]:
        (folder / path.name).symlink_to(path)
    return folder


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


def demo_process(*args):
    return subprocess.Popen([sys.executable, "-m", "enet_edge.cli", "demo", "--no-show", *map(str, args)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=str(REPO)))


def wait_for(predicate, timeout=120.0, what="it"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port, path, timeout=10):
    """(status, body) of GET ``path``."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def stats(port):
    try:
        return json.loads(get(port, "/stats", timeout=5)[1])
    except (OSError, ValueError):
        return None


def stream_socket(port, read=True):
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    if not read:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.sendall(b"GET /stream.mjpg HTTP/1.0\r\n\r\n")
    return sock
