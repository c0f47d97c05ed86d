"""Running the demo: open the source, the model, the window and the output (:func:`run_demo`), then the frame
loop (:class:`FrameLoop`): capture -> inference (in order, ``nireq`` frames in flight) -> render -> show/write.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from enet_edge.device.demo.config import DEFAULT_OUTPUT_FPS, STAGE_LABELS, STAGES, DemoConfig, output_kind
from enet_edge.device.demo.faults import DEVICE_FAULTS, Recovery
from enet_edge.device.demo.model import default_model, open_model, precision_label
from enet_edge.device.demo.render import Renderer
from enet_edge.device.demo.serve import FrameServer, parse_serve
from enet_edge.device.demo.sources import FrameSink, FrameSource, open_sink, open_source
from enet_edge.device.demo.stats import DemoSummary, StageStats
from enet_edge.device.demo.window import Display, ViewState, handle_key, quiet_cv2
from enet_edge.errors import ArtifactError, DeviceLost, InputError, SourceLost, Terminated
from enet_edge.fileio import atomic_write_text, check_output_dir, check_output_file
from enet_edge.progress import format_ms

HudLine = Tuple[str, str, Tuple[int, int, int]]
__all__ = ["DemoSession", "FrameLoop", "check_outputs", "default_model", "open_model", "run_demo", "signals_deferred"]


# --------------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------------


@dataclass
class DemoSession:
    """What :func:`run_demo` opened for one run (and closes after it): the frame loop's one argument."""

    config: DemoConfig
    source: FrameSource
    segmenter: Any  # enet_edge.runtime.Segmenter
    artifact: Any  # enet_edge.runtime.Artifact
    device: str
    nireq: int
    display: Optional[Display] = None
    sink: Optional[FrameSink] = None
    server: Optional[FrameServer] = None
    log: Callable[[str], None] = field(default=lambda message: print(message, file=sys.stderr), repr=False)

    @property
    def untrained(self) -> bool:
        manifest = self.artifact.manifest
        return bool(manifest) and not manifest.get("weights", {}).get("trained", True)


def run_demo(config: DemoConfig, log: Optional[Callable[[str], None]] = None) -> DemoSummary:
    """Run the demo as ``config`` says; returns its :class:`DemoSummary` (also written to ``json_path``).

    Raises :class:`EnetEdgeError` subclasses (one-line messages) for a missing camera, an
    unreadable video, an empty folder, a missing model or a window requested without a GUI.
    Ctrl-C, SIGTERM, and a camera or device lost for good (``stopped_by`` ``camera-lost`` / ``device-lost``,
    ``error`` set) stop the run cleanly: the output is finalized, the JSON written and the summary returned.
    """
    log = log or (lambda message: print(message, file=sys.stderr))
    quiet_cv2()
    if config.model is not None and not Path(config.model).exists():
        raise ArtifactError(f"model {config.model} does not exist; give an export directory or an .xml/.onnx/.pb file")
    check_outputs(config)
    display = Display() if config.show else None
    source = sink = segmenter = server = session = None
    finished = False
    try:
        source = open_source(config.source)
        segmenter, artifact, device, nireq = open_model(config, log)
        session = DemoSession(config, source, segmenter, artifact, device, nireq, display, log=log)
        log(f"demo: {source.description} -> {artifact.path} ({artifact.backend} on {device}, precision "
            f"{precision_label(segmenter)}, nireq {nireq})"
            + ("; UNTRAINED weights" if session.untrained else ""))
        if config.serve is not None:
            server = session.server = FrameServer(*parse_serve(config.serve), segmenter.classes,
                                                  segmenter.palette_bgr, title=f"enet-edge demo: {source.description}")
            log(f"demo: serving {server.url} (live overlay; /stats: JSON)")
        fps_out = config.output_fps or source.fps or DEFAULT_OUTPUT_FPS
        sink = session.sink = open_sink(config.output, fps_out) if config.output else None
        summary = FrameLoop(session).run()
        with signals_deferred():  # a SIGTERM now waits until the output and the JSON are whole
            if sink is not None:
                sink.close()  # finalized (also after Ctrl-C, SIGTERM or a lost device: the frames shown so far)
            finished = True
            if config.json_path:
                atomic_write_text(config.json_path, json.dumps(summary.to_dict(), indent=2) + "\n", "--json")
        return summary
    finally:
        if sink is not None and not finished:
            sink.abort()  # a failed run leaves no half-written output
        if server is not None:
            server.stop()
        current = session.segmenter if session is not None else segmenter  # the reopened one after a fault
        if current is not None:
            with contextlib.suppress(*DEVICE_FAULTS):
                current.adapter.close()
        if source is not None:
            source.close()
        if display is not None:
            display.close()


@contextlib.contextmanager
def signals_deferred():
    """While inside, SIGINT and SIGTERM are held: the block (writing a frame and counting it, finalizing the outputs)
    runs to its end, then the first signal that came is handed to the handler that was in place (``Terminated`` /
    ``KeyboardInterrupt`` raised as usual). Main thread only (where Python runs signal handlers); elsewhere a no-op."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: List[int] = []
    previous = {}
    try:
        for signum in (signal.SIGINT, signal.SIGTERM):  # one by one: a signal between the two restores the first
            previous[signum] = signal.signal(signum, lambda got, frame: caught.append(got))
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if caught:
            handler = previous[caught[0]]
            if callable(handler):
                handler(caught[0], None)
            elif handler == signal.SIG_DFL:
                os.kill(os.getpid(), caught[0])


def check_outputs(config: DemoConfig) -> None:
    """:class:`OutputError` now, before the model is opened, where ``--output`` or ``--json`` cannot be written."""
    if config.output:
        if output_kind(config.output) == "folder":
            check_output_dir(config.output, "--output")
        else:
            check_output_file(config.output, "--output")
    if config.json_path:
        check_output_file(config.json_path, "--json")


class FrameLoop(Recovery):
    """The frame loop of one :class:`DemoSession`: frames leave in capture order, keys act between frames.

    ``run()`` reads until the source ends, ``config.limit`` frames were captured, a key or the window
    stops it, or Ctrl-C; then drains the frames still in flight and returns the :class:`DemoSummary`.
    """

    def __init__(self, session: DemoSession):
        from enet_edge.runtime.segmenter import AsyncPipeline

        self.session = session
        config, segmenter = session.config, session.segmenter
        self.stats = StageStats()
        self.renderer = Renderer(segmenter.classes, segmenter.palette_bgr, config.alpha, config.legend)
        self.view = ViewState(mode=config.mode)
        self.pipeline = AsyncPipeline(segmenter) if session.nireq > 1 else None
        self.captured = self.emitted = self.next_index = 0
        self.in_order = True
        self.shown: Optional[Tuple[np.ndarray, np.ndarray]] = None  # last (frame, class map): re-rendered while paused
        self.faults: Dict[str, int] = {"camera": 0, "device": 0}
        self.recovered: Dict[str, int] = {"camera": 0, "device": 0}
        self.fallback_used: Optional[str] = None
        self.model_open = True
        self._device_attempts = 0  # reopen attempts of the current device fault (0: none under way)
        self._set_header()

    def _set_header(self) -> None:
        s = self.session
        self.header = (f"{s.device} {s.artifact.backend} {s.segmenter.adapter.precision}"
                       + (f" x{s.nireq}" if s.nireq > 1 else ""))
        self.precision = precision_label(s.segmenter)

    def live_stats(self, state: str = "running") -> Dict[str, Any]:
        """The figures ``/stats`` serves (JSON-able): frames, rolling FPS and per-stage ms, device, faults."""
        s = self.session
        fps = self.stats.fps()
        stages = {STAGE_LABELS[st]: (None if ms is None else round(ms, 2))
                  for st, ms in ((st, self.stats.recent_ms(st)) for st in STAGES)}
        return {"state": state, "frames": self.emitted, "captured": self.captured,
                "fps": None if fps is None else round(fps, 2), "stages_ms": stages, "device": s.device,
                "backend": s.artifact.backend, "precision": self.precision, "nireq": s.nireq,
                "source": s.source.description, "mode": self.view.mode, "faults": dict(self.faults),
                "recovered": dict(self.recovered), "fallback_device": self.fallback_used}
    # -- view ---------------------------------------------------------------------------------

    def hud_lines(self) -> List[HudLine]:
        if not self.session.config.hud:
            return []
        fps = self.stats.fps()
        rows = [("FPS", f"{fps:.1f}" if fps else "--", (120, 255, 120))]
        for stage in STAGES:
            rows.append((STAGE_LABELS[stage], format_ms(self.stats.recent_ms(stage), missing="--", compact=True),
                         (255, 255, 255)))
        rows.append((self.header, "", (200, 200, 200)))
        paused = self.view.paused
        rows.append((self.view.mode + ("  PAUSED" if paused else ""), "", (0, 220, 255) if paused else (200, 200, 200)))
        if self.session.untrained:
            rows.append(("UNTRAINED WEIGHTS", "", (60, 60, 255)))
        return rows

    def redraw(self) -> None:
        display = self.session.display
        if display is not None and self.shown is not None:
            display.show(self.renderer.render(*self.shown, self.view.mode, self.hud_lines()))

    def poll_keys(self) -> None:
        """Keys while running; blocks here while paused (TAB re-renders the paused frame)."""
        display = self.session.display
        if display is None:
            return
        while True:
            if handle_key(self.view, display.poll(1 if not self.view.paused else 30)):
                self.redraw()
            if display.closed():
                self.view.quit = True
            if self.view.quit or not self.view.paused:
                return

    # -- frames -------------------------------------------------------------------------------

    def capture(self) -> Tuple[Optional[np.ndarray], int]:
        """The next frame (rewound at the end with ``loop``) and the nanoseconds reading it took; None at the end."""
        source, loop = self.session.source, self.session.config.loop
        t0 = time.perf_counter_ns()
        frame = source.read()
        if frame is None and loop and self.captured > 0 and source.rewind():
            t0 = time.perf_counter_ns()
            frame = source.read()
        if frame is None and source.live and self.captured > 0:  # a camera that failed: a fault, not the end
            return self.reconnect_source()
        return frame, time.perf_counter_ns() - t0

    def emit(self, userdata: Tuple[int, np.ndarray, int], seg) -> None:
        """Render one inferred frame, show and/or write it, record its timings, then read the keys."""
        index, frame, capture_ns = userdata
        if index != self.next_index:
            self.in_order = False
        self.next_index = index + 1
        self.stats.add("capture", capture_ns)
        for stage, ns in seg.timings_ns.items():  # preprocess, infer, postprocess (+ wait from AsyncPipeline)
            self.stats.add(stage, ns)
        t0 = time.perf_counter_ns()
        image = self.renderer.render(frame, seg.frame_class_map, self.view.mode, self.hud_lines())
        with signals_deferred():  # a frame written is a frame counted: a SIGTERM waits until both are done
            if self.session.display is not None:
                self.session.display.show(image)
            if self.session.sink is not None:
                self.session.sink.write(image)
            self.emitted += 1
        t1 = time.perf_counter_ns()
        self.stats.add("render", t1 - t0)
        self.stats.frame_out(t1)
        self.shown = (frame, seg.frame_class_map)
        if self._device_attempts:  # the first frame after a device fault
            self.recovered["device"] += 1
            self.session.log(f"demo: {self.session.device} is back: frames go on ({self._device_attempts} reopen "
                             f"attempt(s))")
            self._device_attempts = 0
        if self.session.server is not None:
            self.session.server.publish(image, self.live_stats())
        self.poll_keys()

    def step(self, frame: np.ndarray, capture_ns: int) -> None:
        """Infer ``frame`` (or queue it) and emit every result that is ready, in order."""
        userdata = (self.captured, frame, capture_ns)
        self.captured += 1
        if self.pipeline is not None:
            results = self._submit([userdata])
        else:
            results = [(userdata, self._infer(frame))]
        for ud, seg in results:
            if not self.view.quit:
                self.emit(ud, seg)

    def run(self) -> DemoSummary:
        limit, display = self.session.config.limit, self.session.display
        stopped_by, error = "end", None
        started = time.perf_counter_ns()
        try:
            while not self.view.quit:
                if limit is not None and self.captured >= limit:
                    stopped_by = "limit"
                    break
                frame, capture_ns = self.capture()
                if frame is None:
                    if self.captured == 0:
                        raise InputError(f"{self.session.source.description} delivered no frame (empty, unreadable "
                                         f"or disconnected)")
                    break
                self.step(frame, capture_ns)
            if self.view.quit:
                stopped_by = "window" if display is not None and display.closed() else "key"
            if self.pipeline is not None:
                for ud, seg in self._drain():
                    if stopped_by in ("end", "limit"):
                        self.emit(ud, seg)
        except KeyboardInterrupt as exc:
            stopped_by = "terminated" if isinstance(exc, Terminated) else "interrupt"
        except (SourceLost, DeviceLost) as exc:
            stopped_by, error = ("camera-lost" if isinstance(exc, SourceLost) else "device-lost"), str(exc)
        if self.pipeline is not None and self.model_open and stopped_by not in ("end", "limit", "key", "window"):
            with contextlib.suppress(*DEVICE_FAULTS):
                self.pipeline.drain()  # let the requests in flight end before the model is closed; not shown
        self._state(stopped_by)
        return self.summary(stopped_by, (time.perf_counter_ns() - started) / 1e9, error)

    def summary(self, stopped_by: str, elapsed: float, error: Optional[str] = None) -> DemoSummary:
        s = self.session
        warnings = [] if self.in_order else ["frames came out of capture order"]
        return DemoSummary(
            frames=self.emitted, seconds=round(elapsed, 4),
            fps=round(self.emitted / elapsed, 3) if elapsed > 0 else 0.0, stages_ms=self.stats.summary_ms(),
            source=s.source.description, model=str(s.artifact.path), backend=s.artifact.backend, device=s.device,
            nireq=s.nireq, precision=precision_label(s.segmenter), output=s.config.output,
            output_size=s.sink.size if s.sink is not None else None, in_order=self.in_order,
            stopped_by=stopped_by, warnings=tuple(warnings), faults=dict(self.faults), recovered=dict(self.recovered),
            fallback_device=self.fallback_used, error=error, served=s.server.url if s.server is not None else None)
