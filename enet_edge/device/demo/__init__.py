"""Live segmentation demo: frames from a camera, video, image folder or glob -> overlay, legend and HUD.

Run as ``enet-edge demo``, ``python demo/camera_demo.py`` or ``make demo DEMO_ARGS=...``. Imports
without TensorFlow (numpy, OpenCV and the model's backend only) so it runs on the device.

Frames are OpenCV BGR uint8 ``(H, W, 3)``, any size. A rendered frame is the frame with the
colorized class map blended over it (or the class map alone, ``mask`` mode), a HUD with FPS and
per-stage latency in its top-left corner and, unless ``legend=False``, a legend panel
``(H, legend_width(H), 3)`` to its right: rendered frames are ``(H, W + legend_width, 3)`` uint8.

Stages timed per frame with :func:`time.perf_counter_ns` (reported in ms): ``capture`` (read the
frame), ``preprocess``, ``infer`` and ``postprocess`` (from :class:`Segmentation.timings_ns`) and
``render`` (compose overlay/legend/HUD and hand the image to the window and/or output).

With ``nireq >= 2`` (OpenVINO) frames go through :class:`AsyncPipeline`: inference of frame i+1
runs while frame i is rendered; frames still come out in capture order.

Nothing but :mod:`.cli` sees argparse: :func:`add_cli` / :func:`main` turn arguments into a frozen
:class:`DemoConfig` and call :func:`run_demo`.

On a headless board: ``serve`` shows the overlay, legend and HUD to browsers (:class:`FrameServer`); a live camera
that stops and an inference or device error are recovered from (:mod:`.faults`), each counted in the summary.

Modules: :mod:`.config` (:class:`DemoConfig`), :mod:`.window` (OpenCV window, keys), :mod:`.sources`
(frame sources and sinks), :mod:`.render` (legend, HUD, :class:`Renderer`), :mod:`.stats` (per-stage
statistics, :class:`DemoSummary`), :mod:`.model` (which model, opened), :mod:`.faults` (camera and device
recovery), :mod:`.serve` (the browser view), :mod:`.loop` (:func:`run_demo`), :mod:`.cli`. Everything public is
importable from here.
"""

from enet_edge.device.demo.cli import HELP, KEYS_HELP, add_arguments, add_cli, config_from_args, main, run_from_args
from enet_edge.device.demo.config import (DEFAULT_MODELS, DEFAULT_OUTPUT_FPS, MODES, STAGE_LABELS, STAGES,
                                        VIDEO_SUFFIXES, DemoConfig, output_kind)
from enet_edge.device.demo.loop import DemoSession, FrameLoop, default_model, open_model, run_demo, signals_deferred
from enet_edge.device.demo.serve import FrameServer, LatestFrame, page_html, parse_serve
from enet_edge.device.demo.render import Renderer, draw_hud, legend_panel, legend_width
from enet_edge.device.demo.sources import (CaptureSource, FolderSink, FrameSink, FrameSource, ImageSink, ImageSource,
                                         VideoSink, open_sink, open_source)
from enet_edge.device.demo.stats import DemoSummary, StageStats
from enet_edge.device.demo.window import Display, ViewState, gui_problem, handle_key

__all__ = [
    "DEFAULT_MODELS", "DEFAULT_OUTPUT_FPS", "HELP", "KEYS_HELP", "MODES", "STAGES", "STAGE_LABELS",
    "VIDEO_SUFFIXES", "CaptureSource", "DemoConfig", "DemoSession", "DemoSummary", "Display", "FolderSink",
    "FrameLoop", "FrameServer", "FrameSink", "FrameSource", "ImageSink", "ImageSource", "LatestFrame", "Renderer",
    "StageStats", "VideoSink", "ViewState", "add_arguments", "add_cli", "config_from_args", "default_model",
    "draw_hud", "gui_problem", "handle_key", "legend_panel", "legend_width", "main", "open_model", "open_sink",
    "open_source", "output_kind", "page_html", "parse_serve", "run_demo", "run_from_args", "signals_deferred",
]
