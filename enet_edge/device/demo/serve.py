"""The overlay in a browser (``enet-edge demo --serve [HOST:]PORT``): a page, an MJPEG stream, a still and ``/stats``.

Standard library only (:class:`http.server.ThreadingHTTPServer`, Python 3.7+), so it runs wherever the device runner
runs. The frame loop hands each rendered frame ((H, W, 3) uint8 BGR, not copied: the renderer makes a new array per
frame) and a JSON-able stats dict to :meth:`FrameServer.publish`, which only swaps a reference under a lock and
notifies: no viewer can slow inference. Each viewer's thread waits for a newer frame than the one it sent, so a slow
or stalled viewer skips frames (it gets the latest one when it is ready again) and never builds a queue. A frame is
JPEG-encoded (``cv2.imencode``) at most once, by the first viewer that wants it, on that viewer's thread.

Served paths (anything else: 404; methods other than GET and HEAD: 501):

=================  ===================================================================================
``/``              the page: the live stream, the legend (class names and colours) and the HUD figures
``/stream.mjpg``   ``multipart/x-mixed-replace`` JPEG frames (MJPEG): every browser shows it in an ``<img>``
``/frame.jpg``     the latest frame, one JPEG
``/stats``         the run's figures as JSON (frames, FPS, per-stage ms, device, precision, faults, viewers)
=================  ===================================================================================
"""

from __future__ import annotations

import html
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, Optional, Sequence, Set, Tuple
from urllib.parse import urlsplit

import numpy as np

from enet_edge.errors import ConfigError, OutputError

DEFAULT_HOST = "127.0.0.1"
MAX_VIEWERS = 8
"""Streams served at once; one more gets 503 (each stream is one thread)."""
JPEG_QUALITY = 80
SOCKET_TIMEOUT_S = 30.0
"""A viewer that reads nothing for this long (a stalled connection) is dropped; so is a request that never comes."""
BOUNDARY = "enetedgeframe"


def parse_serve(spec: str) -> Tuple[str, int]:
    """``"[HOST:]PORT"`` -> (host, port); host defaults to 127.0.0.1 (this machine only), ``[::1]:8080`` is IPv6.

    Port 0 asks the system for a free port (the demo logs the one it got). :class:`ConfigError` otherwise."""
    text = str(spec).strip()
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = DEFAULT_HOST, text
    host = host.strip("[]") or DEFAULT_HOST
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"serve={spec!r}: give [HOST:]PORT with a port within 0..65535 (e.g. 8080 or "
                          f"0.0.0.0:8080 to be seen from other machines)")
    return host, int(port)


class LatestFrame:
    """The newest rendered frame and its sequence number; JPEG-encoded once, on demand, for every viewer."""

    def __init__(self, quality: int = JPEG_QUALITY):
        self.quality = int(quality)
        self._cond = threading.Condition()
        self._encode = threading.Lock()
        self._image: Optional[np.ndarray] = None
        self._seq = 0
        self._jpeg: Tuple[int, bytes] = (0, b"")
        self.closed = False

    def publish(self, image: np.ndarray) -> None:
        """Make ``image`` ((H, W, 3) uint8 BGR; kept, not copied: do not change it afterwards) the latest frame."""
        with self._cond:
            self._image = image
            self._seq += 1
            self._cond.notify_all()

    def close(self) -> None:
        """Wake every waiting viewer; :meth:`newer` returns None from now on."""
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    def newer(self, seq: int, timeout: float) -> Optional[Tuple[int, bytes]]:
        """(sequence, JPEG bytes) of a frame newer than ``seq``, waiting up to ``timeout`` s; None if none came
        (or closed)."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._seq > seq or self.closed, timeout) or self.closed:
                return None
            image, current = self._image, self._seq
        with self._encode:
            if self._jpeg[0] != current:
                import cv2

                ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
                if not ok:
                    return None
                self._jpeg = (current, data.tobytes())
            return self._jpeg


def page_html(classes: Sequence[str], palette_bgr: np.ndarray, title: str) -> str:
    """The page ``/`` serves: the stream, the legend (one swatch per class, exact palette colours) and the HUD
    (filled from ``/stats`` once a second by a few lines of JavaScript; without JavaScript the stream still plays)."""
    rows = "\n".join(
        f'<li><span class="sw" style="background:rgb({int(c[2])},{int(c[1])},{int(c[0])})"></span>'
        f"{html.escape(str(name))}</li>" for name, c in zip(classes, np.asarray(palette_bgr)))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ background:#202020; color:#eee; font:14px sans-serif; margin:8px; }}
#wrap {{ display:flex; gap:12px; align-items:flex-start; flex-wrap:wrap; }}
#live {{ max-width:100%; background:#000; }}
ul {{ list-style:none; padding:0; margin:0; }} li {{ margin:2px 0; }}
.sw {{ display:inline-block; width:22px; height:16px; margin-right:6px; vertical-align:middle; border:1px solid #999; }}
table {{ border-collapse:collapse; margin-top:10px; }} td {{ padding:1px 8px 1px 0; }} td.v {{ text-align:right; }}
</style></head>
<body><h3>{html.escape(title)}</h3>
<div id="wrap"><img id="live" src="/stream.mjpg" alt="live overlay">
<div><div id="legend"><b>classes</b><ul>
{rows}
</ul></div>
<table id="hud"><tbody><tr><td>FPS</td><td class="v" id="fps">--</td></tr></tbody></table></div></div>
<script>
function row(k, v) {{ return "<tr><td>" + k + "</td><td class=v>" + v + "</td></tr>"; }}
function tick() {{
  fetch("/stats").then(function (r) {{ return r.json(); }}).then(function (s) {{
    var h = row("FPS", s.fps === null ? "--" : s.fps.toFixed(1));
    for (var k in s.stages_ms) {{ var v = s.stages_ms[k]; h += row(k, v === null ? "--" : v.toFixed(1) + " ms"); }}
    h += row("device", s.device + " (" + s.backend + ")") + row("precision", s.precision);
    h += row("frames", s.frames) + row("viewers", s.viewers);
    var f = s.faults || {{}}; h += row("faults", "camera " + (f.camera || 0) + ", device " + (f.device || 0));
    document.querySelector("#hud tbody").innerHTML = h;
  }}).catch(function () {{}});
}}
tick(); setInterval(tick, 1000);
</script></body></html>
"""


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"
    timeout = SOCKET_TIMEOUT_S
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
        """Quiet: a demo running for days logs faults, not requests."""

    def _send(self, code: int, body: bytes, content_type: str, head: bool = False) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def do_HEAD(self) -> None:  # noqa: N802 (http.server's naming)
        self._route(head=True)

    def do_GET(self) -> None:  # noqa: N802
        self._route(head=False)

    def _route(self, head: bool) -> None:
        owner: FrameServer = self.server.owner
        path = urlsplit(self.path).path
        if path == "/":
            self._send(200, owner.page, "text/html; charset=utf-8", head)
        elif path == "/stats":
            self._send(200, owner.stats_json(), "application/json", head)
        elif path == "/frame.jpg":
            got = owner.latest.newer(0, 5.0)
            if got is None:
                self._send(503, b"no frame yet\n", "text/plain", head)
            else:
                self._send(200, got[1], "image/jpeg", head)
        elif path == "/stream.mjpg":
            self._stream(owner, head)
        else:
            self._send(404, b"not found\n", "text/plain", head)

    def _stream(self, owner: "FrameServer", head: bool) -> None:
        if not owner.add_viewer(self.connection):
            self._send(503, f"at most {owner.max_viewers} viewers at once\n".encode(), "text/plain", head)
            return
        try:
            self.send_response(200)
            self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Connection", "close")
            self.end_headers()
            if head:
                return
            seq = 0
            while not owner.stopping:
                got = owner.latest.newer(seq, 1.0)
                if got is None:
                    continue
                seq, jpeg = got
                self.wfile.write(f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
                                 .encode() + jpeg + b"\r\n")
                self.wfile.flush()
                owner.count_sent()
        except (OSError, ValueError):  # the viewer went away, timed out (stalled), or the server closed it
            pass
        finally:
            owner.remove_viewer(self.connection)


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # never joined, never listed: a run of days does not collect finished threads
    allow_reuse_address = True
    owner: "FrameServer"

    def handle_error(self, request, client_address) -> None:
        """A viewer's broken connection is not an error of the demo: no traceback on stderr."""


class _Server6(_Server):
    address_family = socket.AF_INET6


class FrameServer:
    """Serves :class:`LatestFrame` and the stats on ``host:port`` from a daemon thread until :meth:`stop`.

    ``classes`` / ``palette_bgr`` ((K, 3) uint8 BGR) make the page's legend. Binding fails with
    :class:`OutputError` (one line: the port is taken, or the host is not this machine's)."""

    def __init__(self, host: str, port: int, classes: Sequence[str], palette_bgr: np.ndarray,
                 title: str = "enet-edge demo", max_viewers: int = MAX_VIEWERS):
        self.latest = LatestFrame()
        self.max_viewers = int(max_viewers)
        self.page = page_html(classes, palette_bgr, title).encode()
        self.stopping = False
        self._lock = threading.Lock()
        self._stats: Dict[str, Any] = {"frames": 0, "fps": None, "stages_ms": {}, "state": "starting"}
        self._viewers: Set[socket.socket] = set()
        self._sent = 0
        self._started = time.monotonic()
        cls = _Server6 if ":" in host else _Server
        try:
            self._httpd = cls((host, port), _Handler)
        except OSError as exc:
            raise OutputError(f"cannot serve on {host}:{port}: {exc.strerror or exc}; choose another port "
                              f"(--serve PORT) or free this one") from exc
        self._httpd.owner = self
        self.host, self.port = self._httpd.server_address[:2]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.5},
                                        name="enet-edge-serve", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    @property
    def viewers(self) -> int:
        with self._lock:
            return len(self._viewers)

    def add_viewer(self, conn: socket.socket) -> bool:
        with self._lock:
            if len(self._viewers) >= self.max_viewers or self.stopping:
                return False
            self._viewers.add(conn)
            return True

    def remove_viewer(self, conn: socket.socket) -> None:
        with self._lock:
            self._viewers.discard(conn)

    def count_sent(self) -> None:
        with self._lock:
            self._sent += 1

    def publish(self, image: np.ndarray, stats: Dict[str, Any]) -> None:
        """The frame loop's one call per frame: the rendered image ((H, W, 3) uint8 BGR) and the run's figures."""
        with self._lock:
            self._stats = stats
        self.latest.publish(image)

    def set_state(self, state: str) -> None:
        with self._lock:
            self._stats = dict(self._stats, state=state)

    def stats_json(self) -> bytes:
        with self._lock:
            data = dict(self._stats, viewers=len(self._viewers), frames_sent=self._sent,
                        served_s=round(time.monotonic() - self._started, 1))
        return (json.dumps(data) + "\n").encode()

    def stop(self) -> None:
        """Stop serving: viewers are disconnected (a stalled one too), the listening socket closed, the thread ended."""
        self.stopping = True
        self.latest.close()
        self._httpd.shutdown()
        with self._lock:
            viewers = list(self._viewers)
        for conn in viewers:  # unblock a send to a stalled viewer
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._httpd.server_close()
        self._thread.join(timeout=5.0)
