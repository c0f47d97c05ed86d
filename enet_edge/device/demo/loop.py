"""Running the demo: open the source, the model, the window and the output (:func:`run_demo`), then the frame
loop (:class:`FrameLoop`): capture -> inference (in order, ``nireq`` frames in flight) -> render -> show/write.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, List, Optional, Tuple

import numpy as np

from enet_edge.device.demo.config import DEFAULT_MODELS, DEFAULT_OUTPUT_FPS, STAGE_LABELS, STAGES, DemoConfig, output_kind
from enet_edge.device.demo.render import Renderer
from enet_edge.device.demo.sources import FrameSink, FrameSource, open_sink, open_source
from enet_edge.device.demo.stats import DemoSummary, StageStats
from enet_edge.device.demo.window import Display, ViewState, handle_key, quiet_cv2
from enet_edge.errors import ArtifactError, DeviceError, InputError, Terminated
from enet_edge.fileio import atomic_write_text, check_output_dir, check_output_file
from enet_edge.progress import format_ms
from enet_edge.resources import PACKAGE_DIR

HudLine = Tuple[str, str, Tuple[int, int, int]]


# --------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------


def default_model() -> Path:
    """First of :data:`DEFAULT_MODELS` holding a manifest, in the working directory then the repository."""
    roots = [Path.cwd(), PACKAGE_DIR.parent]
    for rel in DEFAULT_MODELS:
        for root in roots:
            if (root / rel / "manifest.json").is_file():
                return root / rel
    raise ArtifactError(f"no model given and none of {', '.join(DEFAULT_MODELS)} holds an export; run "
                        f"`enet-edge export --target ncs2` (or --target cpu) or pass --model PATH")


def _pick_device(artifact, requested: Optional[str]) -> str:
    """``requested``, else MYRIAD for an NCS export where a stick is plugged in and the backend runs there, else CPU."""
    from enet_edge.runtime.backends import backend

    if requested:
        return requested
    if not backend(artifact.backend).runs_on("MYRIAD"):
        return "CPU"
    target = (artifact.manifest or {}).get("target", "")
    if str(target).startswith("ncs"):
        from enet_edge.runtime.adapters import openvino_devices

        try:
            if any(d.startswith("MYRIAD") for d in openvino_devices()):
                return "MYRIAD"
        except (DeviceError, RuntimeError):
            return "CPU"
    return "CPU"


def open_model(config: DemoConfig, log: Callable[[str], None]):
    """Resolve and open the model: (Segmenter, artifact, device, effective nireq)."""
    from enet_edge.runtime.adapters import open_artifact
    from enet_edge.runtime.backends import TABLE, RunRequest, adapter_options, backend
    from enet_edge.runtime.manifest import resolve_artifact
    from enet_edge.runtime.segmenter import Segmenter

    path = Path(config.model) if config.model else default_model()
    artifact = resolve_artifact(path, config.backend)
    device = _pick_device(artifact, config.device)
    nireq = config.nireq
    if nireq > 1 and not backend(artifact.backend).async_queue:
        queued = " or ".join(row.name for row in TABLE if row.async_queue)
        log(f"note: --nireq {nireq} needs the {queued} backend; {artifact.backend} runs frames one at a time")
        nireq = 1
    options = adapter_options(artifact.backend, RunRequest(precision=config.precision, nireq=nireq, hint=config.hint))
    adapter = open_artifact(artifact, device=device, **options)
    try:
        segmenter = Segmenter.for_artifact(adapter, artifact)  # the model's classes (CamVid's by default)
    except BaseException:
        adapter.close()
        raise
    return segmenter, artifact, device, nireq


def _precision_label(segmenter) -> str:
    run = segmenter.adapter.precision_run
    return run.label if run is not None else segmenter.adapter.precision


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

    @property
    def untrained(self) -> bool:
        manifest = self.artifact.manifest
        return bool(manifest) and not manifest.get("weights", {}).get("trained", True)


def run_demo(config: DemoConfig, log: Optional[Callable[[str], None]] = None) -> DemoSummary:
    """Run the demo as ``config`` says; returns its :class:`DemoSummary` (also written to ``json_path``).

    Raises :class:`EnetEdgeError` subclasses (one-line messages) for a missing camera, an
    unreadable video, an empty folder, a missing model or a window requested without a GUI.
    Ctrl-C stops the run cleanly (the output is finalized and the summary returned).
    """
    log = log or (lambda message: print(message, file=sys.stderr))
    quiet_cv2()
    if config.model is not None and not Path(config.model).exists():
        raise ArtifactError(f"model {config.model} does not exist; give an export directory or an .xml/.onnx/.pb file")
    check_outputs(config)
    display = Display() if config.show else None
    source = sink = segmenter = None
    finished = False
    try:
        source = open_source(config.source)
        segmenter, artifact, device, nireq = open_model(config, log)
        session = DemoSession(config, source, segmenter, artifact, device, nireq, display)
        log(f"demo: {source.description} -> {artifact.path} ({artifact.backend} on {device}, precision "
            f"{_precision_label(segmenter)}, nireq {nireq})"
            + ("; UNTRAINED weights" if session.untrained else ""))
        fps_out = config.output_fps or source.fps or DEFAULT_OUTPUT_FPS
        sink = session.sink = open_sink(config.output, fps_out) if config.output else None
        summary = FrameLoop(session).run()
        if sink is not None:
            sink.close()  # finalized (also after Ctrl-C: the frames shown so far)
        finished = True
        if config.json_path:
            atomic_write_text(config.json_path, json.dumps(summary.to_dict(), indent=2) + "\n", "--json")
        return summary
    finally:
        if sink is not None and not finished:
            sink.abort()  # a failed run leaves no half-written output
        if segmenter is not None:
            segmenter.adapter.close()
        if source is not None:
            source.close()
        if display is not None:
            display.close()


def check_outputs(config: DemoConfig) -> None:
    """:class:`OutputError` now, before the model is opened, where ``--output`` or ``--json`` cannot be written."""
    if config.output:
        if output_kind(config.output) == "folder":
            check_output_dir(config.output, "--output")
        else:
            check_output_file(config.output, "--output")
    if config.json_path:
        check_output_file(config.json_path, "--json")


class FrameLoop:
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
        self.header = (f"{session.device} {session.artifact.backend} {segmenter.adapter.precision}"
                       + (f" x{session.nireq}" if session.nireq > 1 else ""))
        self.captured = self.emitted = self.next_index = 0
        self.in_order = True
        self.shown: Optional[Tuple[np.ndarray, np.ndarray]] = None  # last (frame, class map): re-rendered while paused

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
        if self.session.display is not None:
            self.session.display.show(image)
        if self.session.sink is not None:
            self.session.sink.write(image)
        t1 = time.perf_counter_ns()
        self.stats.add("render", t1 - t0)
        self.stats.frame_out(t1)
        self.shown = (frame, seg.frame_class_map)
        self.emitted += 1
        self.poll_keys()

    def step(self, frame: np.ndarray, capture_ns: int) -> None:
        """Infer ``frame`` (or queue it) and emit every result that is ready, in order."""
        userdata = (self.captured, frame, capture_ns)
        self.captured += 1
        if self.pipeline is not None:
            results = self.pipeline.submit(frame, userdata)
        else:
            results = [(userdata, self.session.segmenter.infer(frame))]
        for ud, seg in results:
            if not self.view.quit:
                self.emit(ud, seg)

    def run(self) -> DemoSummary:
        limit, display = self.session.config.limit, self.session.display
        stopped_by = "end"
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
        except KeyboardInterrupt as exc:
            stopped_by = "terminated" if isinstance(exc, Terminated) else "interrupt"
        if self.pipeline is not None:
            for ud, seg in self.pipeline.drain():
                if stopped_by in ("end", "limit"):
                    self.emit(ud, seg)
        return self.summary(stopped_by, (time.perf_counter_ns() - started) / 1e9)

    def summary(self, stopped_by: str, elapsed: float) -> DemoSummary:
        s = self.session
        warnings = [] if self.in_order else ["frames came out of capture order"]
        return DemoSummary(
            frames=self.emitted, seconds=round(elapsed, 4),
            fps=round(self.emitted / elapsed, 3) if elapsed > 0 else 0.0, stages_ms=self.stats.summary_ms(),
            source=s.source.description, model=str(s.artifact.path), backend=s.artifact.backend, device=s.device,
            nireq=s.nireq, precision=_precision_label(s.segmenter), output=s.config.output,
            output_size=s.sink.size if s.sink is not None else None, in_order=self.in_order,
            stopped_by=stopped_by, warnings=tuple(warnings))
