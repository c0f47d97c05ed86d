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

Nothing here sees argparse: :func:`add_cli` / :func:`main` turn arguments into a frozen
:class:`DemoConfig` and call :func:`run_demo`.
"""

from __future__ import annotations

import glob
import json
import math
import os
import re
import sys
import time
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Deque, Dict, List, Optional, Sequence, Tuple

import numpy as np

from enet_edge.errors import ArtifactError, ConfigError, DeviceError, EnetEdgeError, InputError

STAGES = ("capture", "preprocess", "infer", "postprocess", "render")
"""Per-frame stages timed by the demo, in pipeline order."""
STAGE_LABELS = {"capture": "capture", "preprocess": "pre", "infer": "infer", "postprocess": "post", "render": "render"}
MODES = ("overlay", "mask")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
VIDEO_SUFFIXES = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG"}
DEFAULT_MODELS = ("build/ncs2", "build/cpu")
"""Export directories tried, in order, when no model is given (relative to the working directory,
then to the repository root)."""
DEFAULT_OUTPUT_FPS = 15.0
"""Output video frame rate when the source does not say (CamVid frames are 15 fps sequences)."""
KEY_ESC, KEY_TAB, KEY_SPACE = 27, 9, 32
WINDOW = "enet-edge demo"


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoConfig:
    """Everything the demo needs; validated on construction (:class:`ConfigError`).

    ``source``: a camera index (``"0"``), a video file, a folder of images (played in natural
    sort order) or a glob pattern. ``model``: an export directory or an .xml/.onnx/.pb file
    (None: :data:`DEFAULT_MODELS`). ``device``: None picks MYRIAD for an NCS export when an NCS2
    is plugged in, else CPU. ``output``: a video file (.mp4/.m4v/.mov with mp4v, .avi with MJPG),
    a folder (one PNG per frame; an existing directory, a path ending in ``/`` or one without a
    suffix) or a single image (.png/.jpg: the last rendered frame, e.g. a screenshot).
    ``limit``: stop after this many rendered frames. ``json_path``: write the run summary there.
    ``precision``: f32, f16 or bf16 asked of OpenVINO; None runs the device's default. What ran is
    read back and shown in the log, the HUD and the summary.
    """

    source: str = "0"
    model: Optional[str] = None
    backend: Optional[str] = None
    device: Optional[str] = None
    nireq: int = 1
    alpha: float = 0.5
    mode: str = "overlay"
    legend: bool = True
    hud: bool = True
    show: bool = True
    output: Optional[str] = None
    output_fps: Optional[float] = None
    limit: Optional[int] = None
    loop: bool = False
    json_path: Optional[str] = None
    precision: Optional[str] = None

    def __post_init__(self) -> None:
        from enet_edge.runtime.adapters import BACKENDS
        from enet_edge.runtime.precision import normalize_precision

        object.__setattr__(self, "precision", normalize_precision(self.precision))

        if not str(self.source).strip():
            raise ConfigError("source is empty; give a camera index, a video file, an image folder or a glob")
        if self.backend is not None and self.backend not in BACKENDS:
            raise ConfigError(f"backend={self.backend!r} is not one of {', '.join(BACKENDS)}")
        if not isinstance(self.nireq, int) or not 1 <= self.nireq <= 64:
            raise ConfigError(f"nireq={self.nireq} must be an integer within 1..64")
        if not 0.0 <= float(self.alpha) <= 1.0:
            raise ConfigError(f"alpha={self.alpha} must be within 0..1")
        if self.mode not in MODES:
            raise ConfigError(f"mode={self.mode!r} is not one of {', '.join(MODES)}")
        if self.limit is not None and self.limit < 1:
            raise ConfigError(f"limit={self.limit} must be at least 1 frame")
        if self.output_fps is not None and not self.output_fps > 0:
            raise ConfigError(f"output_fps={self.output_fps} must be positive")
        if self.output is not None:
            output_kind(self.output)  # raises ConfigError on an unsupported suffix
        if not self.show and self.loop and self.limit is None:
            raise ConfigError("--loop without a window never ends; add --limit N")


def output_kind(path: str) -> str:
    """``"folder"``, ``"video"`` or ``"image"`` for an output path; :class:`ConfigError` otherwise."""
    p = Path(path)
    if p.is_dir() or str(path).endswith(("/", os.sep)) or not p.suffix:
        return "folder"
    suffix = p.suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        return "video"
    if suffix in IMAGE_SUFFIXES:
        return "image"
    raise ConfigError(f"output {path}: unsupported type '{p.suffix}'; give a video "
                      f"({', '.join(VIDEO_SUFFIXES)}), an image (.png, .jpg) or a folder for PNG frames")


# --------------------------------------------------------------------------------------------
# OpenCV access (quiet, and never highgui unless a window was asked for)
# --------------------------------------------------------------------------------------------


def _cv2():
    """Import OpenCV with its and FFmpeg's warnings silenced: the demo reports errors itself, in one line."""
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET; read at FFmpeg's first use
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    import cv2

    try:
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    except AttributeError:  # very old builds without cv2.utils.logging
        pass
    return cv2


def gui_problem() -> Optional[str]:
    """Why a window cannot be shown here (None if it can), checked without touching highgui."""
    cv2 = _cv2()
    for line in cv2.getBuildInformation().splitlines():
        if line.strip().startswith("GUI:") and line.split(":", 1)[1].strip().upper() == "NONE":
            return ("this OpenCV has no GUI support (opencv-python-headless): run with --no-show --output out.mp4, "
                    "or install opencv-python to get a window")
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return "no display (DISPLAY is not set): run with --no-show --output out.mp4, or start it from a desktop session"
    return None


class Display:
    """An OpenCV window; opening it raises :class:`DeviceError` (one line) where there is no GUI."""

    def __init__(self, title: str = WINDOW):
        problem = gui_problem()
        if problem:
            raise DeviceError(problem)
        self._cv2 = _cv2()
        self.title = title
        try:
            self._cv2.namedWindow(title, self._cv2.WINDOW_AUTOSIZE)
        except self._cv2.error as exc:
            raise DeviceError(f"cannot open a window ({str(exc).strip().splitlines()[0]}); run with --no-show") from exc

    def show(self, image: np.ndarray) -> None:
        """Show a (H, W, 3) uint8 BGR image."""
        self._cv2.imshow(self.title, image)

    def poll(self, delay_ms: int = 1) -> int:
        """Wait up to ``delay_ms`` for a key; its code (0..255), or -1 for none."""
        key = self._cv2.waitKey(max(1, int(delay_ms)))
        return -1 if key < 0 else key & 0xFF

    def closed(self) -> bool:
        try:
            return self._cv2.getWindowProperty(self.title, self._cv2.WND_PROP_VISIBLE) < 1
        except self._cv2.error:
            return True

    def close(self) -> None:
        try:
            self._cv2.destroyWindow(self.title)
            self._cv2.waitKey(1)
        except self._cv2.error:
            pass


@dataclass
class ViewState:
    """What the keys change: view mode, pause, quit (mutable; the demo loop owns it)."""

    mode: str = "overlay"
    paused: bool = False
    quit: bool = False


def handle_key(state: ViewState, key: int) -> bool:
    """Apply one key code: ``q``/ESC quit, space pause/resume, TAB overlay<->mask. True if it changed the view."""
    if key in (ord("q"), ord("Q"), KEY_ESC):
        state.quit = True
        return False
    if key == KEY_SPACE:
        state.paused = not state.paused
        return True
    if key == KEY_TAB:
        state.mode = "mask" if state.mode == "overlay" else "overlay"
        return True
    return False


# --------------------------------------------------------------------------------------------
# Sources
# --------------------------------------------------------------------------------------------


def _natural_key(path: str) -> List[Any]:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", str(path))]


def _image_files(paths: Sequence[str]) -> List[str]:
    return sorted((p for p in paths if Path(p).suffix.lower() in IMAGE_SUFFIXES and Path(p).is_file()),
                  key=_natural_key)


class FrameSource:
    """Frames one by one: ``read()`` -> (H, W, 3) uint8 BGR, or None at the end."""

    description: str = ""
    fps: Optional[float] = None  # frame rate the source reports, if any

    def read(self) -> Optional[np.ndarray]:
        raise NotImplementedError

    def rewind(self) -> bool:
        """Start over (for ``loop``); False where the source cannot (a camera)."""
        return False

    def close(self) -> None:
        """Release the device or file."""


class CaptureSource(FrameSource):
    """A camera index or a video file through ``cv2.VideoCapture``."""

    def __init__(self, target, description: str):
        cv2 = _cv2()
        self._target = target
        self.description = description
        self._cap = cv2.VideoCapture(target)
        if not self._cap.isOpened():
            self._cap.release()
            if isinstance(target, int):
                raise InputError(f"camera {target} not found (cv2.VideoCapture({target}) did not open); check the "
                                 f"index (0 is the first camera) and that no other program holds it, or give a "
                                 f"video file, an image folder or a glob")
            raise InputError(f"cannot read video {target}: OpenCV could not open it (corrupt, not a video, or a "
                             f"codec this OpenCV/FFmpeg lacks)")
        fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps = fps if 0.0 < fps < 1000.0 else None

    def read(self) -> Optional[np.ndarray]:
        ok, frame = self._cap.read()
        if not ok or frame is None:
            return None
        if frame.ndim == 2:
            frame = np.repeat(frame[:, :, None], 3, axis=2)
        return frame[:, :, :3] if frame.shape[2] != 3 else frame

    def rewind(self) -> bool:
        if isinstance(self._target, int):
            return False
        cv2 = _cv2()
        self._cap.release()
        self._cap = cv2.VideoCapture(self._target)
        return self._cap.isOpened()

    def close(self) -> None:
        self._cap.release()


class ImageSource(FrameSource):
    """A list of image files played in order (a CamVid sequence plays as a video)."""

    def __init__(self, files: Sequence[str], description: str):
        self.files = list(files)
        self.description = description
        self._next = 0

    def read(self) -> Optional[np.ndarray]:
        if self._next >= len(self.files):
            return None
        path = self.files[self._next]
        self._next += 1
        frame = _cv2().imread(path, 1)  # IMREAD_COLOR: 8-bit BGR, whatever the file holds
        if frame is None:
            raise InputError(f"cannot read image {path} (corrupt or an unsupported format)")
        return frame

    def rewind(self) -> bool:
        self._next = 0
        return True


def open_source(spec: str) -> FrameSource:
    """Open ``spec``: a camera index, a video file, an image file, a folder of images or a glob.

    Raises :class:`InputError` (one line) for a missing camera, an unreadable video, an empty
    folder or glob, or a path that does not exist.
    """
    spec = str(spec).strip()
    if re.fullmatch(r"\d+", spec):
        return CaptureSource(int(spec), f"camera {spec}")
    path = Path(spec)
    if path.is_dir():
        files = _image_files([str(p) for p in path.iterdir()])
        if not files:
            raise InputError(f"folder {spec} holds no images ({', '.join(IMAGE_SUFFIXES[:3])}, ...)")
        return ImageSource(files, f"{len(files)} images in {spec}")
    if path.is_file():
        if path.suffix.lower() in IMAGE_SUFFIXES:
            return ImageSource([spec], f"image {spec}")
        return CaptureSource(spec, f"video {spec}")
    if glob.has_magic(spec):
        files = _image_files(glob.glob(spec))
        if not files:
            raise InputError(f"glob {spec} matches no images")
        return ImageSource(files, f"{len(files)} images matching {spec}")
    raise InputError(f"source {spec} does not exist; give a camera index (0), a video file, an image folder or a glob")


# --------------------------------------------------------------------------------------------
# Outputs
# --------------------------------------------------------------------------------------------


class FrameSink:
    """Where rendered frames (H, W, 3) uint8 BGR go besides the window."""

    def __init__(self, path: str):
        self.path = path
        self.frames = 0
        self.size: Optional[Tuple[int, int]] = None  # (width, height) of what was written

    def write(self, image: np.ndarray) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Flush and finalize."""


class VideoSink(FrameSink):
    """A video file via ``cv2.VideoWriter`` (fourcc by suffix); every frame resized to the first's size."""

    def __init__(self, path: str, fps: float):
        super().__init__(path)
        self.fps = fps
        self._writer = None
        Path(path).parent.mkdir(parents=True, exist_ok=True)

    def write(self, image: np.ndarray) -> None:
        cv2 = _cv2()
        if self._writer is None:
            self.size = (image.shape[1], image.shape[0])
            fourcc = VIDEO_SUFFIXES[Path(self.path).suffix.lower()]
            self._writer = cv2.VideoWriter(self.path, cv2.VideoWriter_fourcc(*fourcc), self.fps, self.size)
            if not self._writer.isOpened():
                self._writer = None
                raise InputError(f"cannot write video {self.path} (OpenCV VideoWriter, fourcc {fourcc}, failed); "
                                 f"give a folder to write PNG frames instead")
        if (image.shape[1], image.shape[0]) != self.size:
            image = cv2.resize(image, self.size, interpolation=cv2.INTER_AREA)
        self._writer.write(image)
        self.frames += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None


class FolderSink(FrameSink):
    """One PNG per frame: ``frame_000000.png``, ``frame_000001.png``, ..."""

    def __init__(self, path: str):
        super().__init__(path)
        try:
            Path(path).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"cannot create output folder {path}: {exc.strerror}") from exc

    def write(self, image: np.ndarray) -> None:
        target = Path(self.path) / f"frame_{self.frames:06d}.png"
        if not _cv2().imwrite(str(target), image):
            raise InputError(f"cannot write {target}")
        self.size = (image.shape[1], image.shape[0])
        self.frames += 1


class ImageSink(FrameSink):
    """A single image file holding the last rendered frame (written on close): a screenshot."""

    def __init__(self, path: str):
        super().__init__(path)
        self._last: Optional[np.ndarray] = None
        Path(path).parent.mkdir(parents=True, exist_ok=True)

    def write(self, image: np.ndarray) -> None:
        self._last = image
        self.size = (image.shape[1], image.shape[0])
        self.frames += 1

    def close(self) -> None:
        if self._last is not None:
            if not _cv2().imwrite(self.path, self._last):
                raise InputError(f"cannot write {self.path}")
            self._last = None


def open_sink(path: str, fps: float) -> FrameSink:
    kind = output_kind(path)
    if kind == "video":
        return VideoSink(path, fps)
    if kind == "image":
        return ImageSink(path)
    return FolderSink(path)


# --------------------------------------------------------------------------------------------
# Rendering: overlay / mask, legend panel, HUD
# --------------------------------------------------------------------------------------------

_FONT = 0  # cv2.FONT_HERSHEY_SIMPLEX
_FONT_PX = 22.0  # cap height of FONT_HERSHEY_SIMPLEX at scale 1.0, in pixels
_PAD = 8


def _legend_geometry(names: Sequence[str], height: int) -> Tuple[int, int, float, int, int]:
    """(row height, rows per column, font scale, text width, columns) of a legend ``height`` tall."""
    cv2 = _cv2()
    entries = len(names) + 1  # + the title row
    row = int(max(10, min(40, (height - 2 * _PAD) // entries)))
    per_column = max(1, (height - 2 * _PAD) // row)
    scale = 0.5 * row / _FONT_PX
    text_w = max(cv2.getTextSize(str(n), _FONT, scale, 1)[0][0] for n in list(names) + ["classes"])
    columns = int(math.ceil(entries / per_column))
    return row, per_column, scale, text_w, columns


def legend_width(names: Sequence[str], height: int) -> int:
    """Width in pixels of the legend panel drawn beside frames ``height`` pixels tall."""
    row, _, _, text_w, columns = _legend_geometry(names, height)
    return columns * (_PAD + row + _PAD // 2 + text_w + _PAD)


def legend_panel(names: Sequence[str], palette_bgr: np.ndarray, height: int) -> np.ndarray:
    """(height, legend_width, 3) uint8 BGR panel: a title and, per class, a colour swatch and its name."""
    cv2 = _cv2()
    row, per_column, scale, text_w, _ = _legend_geometry(names, height)
    column_w = _PAD + row + _PAD // 2 + text_w + _PAD
    panel = np.full((height, legend_width(names, height), 3), 32, np.uint8)
    entries = [("classes", None)] + [(str(n), tuple(int(c) for c in palette_bgr[i])) for i, n in enumerate(names)]
    for k, (name, colour) in enumerate(entries):
        col, r = divmod(k, per_column)
        x, y = col * column_w + _PAD, _PAD + r * row
        swatch = row - 4
        text_y = y + (row + int(round(_FONT_PX * scale))) // 2
        if colour is None:
            cv2.putText(panel, name, (x, text_y), _FONT, scale, (200, 200, 200), 1, cv2.LINE_AA)
            continue
        cv2.rectangle(panel, (x, y + 2), (x + swatch, y + 2 + swatch), colour, -1)
        cv2.rectangle(panel, (x, y + 2), (x + swatch, y + 2 + swatch), (160, 160, 160), 1)
        cv2.putText(panel, name, (x + row + _PAD // 2, text_y), _FONT, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return panel


def draw_hud(image: np.ndarray, lines: Sequence[Tuple[str, str, Tuple[int, int, int]]]) -> None:
    """Draw ``(label, value, BGR colour)`` rows in a darkened box at the top-left of ``image`` (in place).

    Values are right-aligned in a second column; a row with an empty value spans the box.
    """
    if not lines:
        return
    cv2 = _cv2()
    h, w = image.shape[:2]
    scale = float(np.clip(w / 1000.0, 0.35, 0.8))
    row = int(round(_FONT_PX * scale * 1.5))
    gap = int(round(12 * scale / 0.5))

    def width(text: str) -> int:
        return cv2.getTextSize(text, _FONT, scale, 1)[0][0] if text else 0

    label_w = max([width(label) for label, value, _ in lines if value] or [0])
    value_w = max(width(value) for _, value, _ in lines)
    span_w = max([width(label) for label, value, _ in lines if not value] or [0])
    inner = max(label_w + gap + value_w if value_w else label_w, span_w)
    x0, y0 = _PAD // 2, _PAD // 2
    x1, y1 = min(w, x0 + inner + 2 * _PAD), min(h, y0 + row * len(lines) + _PAD)
    roi = image[y0:y1, x0:x1]
    roi[:] = (roi.astype(np.uint16) * 2 // 5).astype(np.uint8)  # darken to 40 %
    for k, (label, value, colour) in enumerate(lines):
        y = y0 + _PAD // 2 + row * k + (row + int(round(_FONT_PX * scale))) // 2
        cv2.putText(image, label, (x0 + _PAD, y), _FONT, scale, colour, 1, cv2.LINE_AA)
        if value:
            cv2.putText(image, value, (x0 + _PAD + inner - width(value), y), _FONT, scale, colour, 1, cv2.LINE_AA)


def _ms(value: Optional[float]) -> str:
    if value is None:
        return "--"
    return f"{value:.1f} ms" if value >= 10 else f"{value:.2f} ms"


class Renderer:
    """Compose one output image from a frame and its class map.

    ``render(frame, frame_class_map, mode, hud_lines)``: frame (H, W, 3) uint8 BGR and class map
    (H, W) uint8 -> (H, W + legend_width, 3) uint8 BGR (legend on) or (H, W, 3) (legend off).
    """

    def __init__(self, classes: Sequence[str], palette_bgr: np.ndarray, alpha: float = 0.5, legend: bool = True):
        self.classes = tuple(classes)
        self.palette_bgr = np.asarray(palette_bgr, np.uint8)
        self.alpha = float(alpha)
        self.legend = legend
        self._panels: Dict[int, np.ndarray] = {}

    def colorize(self, class_map: np.ndarray) -> np.ndarray:
        """(H, W) uint8 class ids -> (H, W, 3) uint8 BGR palette colours."""
        return self.palette_bgr[np.clip(class_map, 0, len(self.palette_bgr) - 1)]

    def panel(self, height: int) -> np.ndarray:
        if height not in self._panels:
            self._panels[height] = legend_panel(self.classes, self.palette_bgr, height)
        return self._panels[height]

    def render(self, frame: np.ndarray, frame_class_map: np.ndarray, mode: str = "overlay",
               hud_lines: Sequence[Tuple[str, str, Tuple[int, int, int]]] = ()) -> np.ndarray:
        cv2 = _cv2()
        if frame_class_map.shape != frame.shape[:2]:
            frame_class_map = cv2.resize(frame_class_map, (frame.shape[1], frame.shape[0]),
                                         interpolation=cv2.INTER_NEAREST)
        mask = self.colorize(frame_class_map)
        view = mask.copy() if mode == "mask" else cv2.addWeighted(mask, self.alpha, frame, 1.0 - self.alpha, 0.0)
        draw_hud(view, hud_lines)
        if not self.legend:
            return view
        return np.concatenate([view, self.panel(view.shape[0])], axis=1)


# --------------------------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------------------------


class StageStats:
    """Per-stage latencies (ns) of every frame, rolling means for the HUD, and a rolling FPS."""

    def __init__(self, window: int = 30):
        self.all: Dict[str, List[int]] = {s: [] for s in STAGES}
        self._recent: Dict[str, Deque[int]] = {s: deque(maxlen=window) for s in STAGES}
        self._emitted: Deque[int] = deque(maxlen=window + 1)

    def add(self, stage: str, ns: int) -> None:
        """Record one frame's ``stage`` latency; stages beyond :data:`STAGES` (e.g. ``wait``) are kept too."""
        if stage not in self.all:
            self.all[stage] = []
            self._recent[stage] = deque(maxlen=self._recent[STAGES[0]].maxlen)
        self.all[stage].append(int(ns))
        self._recent[stage].append(int(ns))

    def frame_out(self, t_ns: int) -> None:
        self._emitted.append(int(t_ns))

    def recent_ms(self, stage: str) -> Optional[float]:
        values = self._recent[stage]
        return sum(values) / len(values) / 1e6 if values else None

    def fps(self) -> Optional[float]:
        if len(self._emitted) < 2:
            return None
        span = self._emitted[-1] - self._emitted[0]
        return (len(self._emitted) - 1) * 1e9 / span if span > 0 else None

    def summary_ms(self) -> Dict[str, Dict[str, float]]:
        """Per stage: mean, p50, p95 and max in milliseconds (stages with no samples left out).

        ``wait`` (async only): time a frame waited for a free infer request before its inference."""
        out = {}
        for stage, values in self.all.items():
            if values:
                ms = np.asarray(values, np.float64) / 1e6
                out[stage] = {"mean": round(float(ms.mean()), 3), "p50": round(float(np.percentile(ms, 50)), 3),
                              "p95": round(float(np.percentile(ms, 95)), 3), "max": round(float(ms.max()), 3)}
        return out


@dataclass(frozen=True)
class DemoSummary:
    """What a run did: frame count, wall time, end-to-end FPS and per-stage latency statistics (ms)."""

    frames: int
    seconds: float
    fps: float
    stages_ms: Dict[str, Dict[str, float]]
    source: str
    model: str
    backend: str
    device: str
    nireq: int
    precision: str = ""  # what ran, with why where it is not what was asked (e.g. "bf16 (CPU's default)")
    output: Optional[str] = None
    output_size: Optional[Tuple[int, int]] = None  # (width, height) of the rendered frames
    in_order: bool = True
    stopped_by: str = "end"  # "end" of the source, "limit", "key", "window" or "interrupt"
    warnings: Tuple[str, ...] = ()

    def to_dict(self) -> Dict[str, Any]:
        data = asdict(self)
        data["output_size"] = list(self.output_size) if self.output_size else None
        data["warnings"] = list(self.warnings)
        return data

    def format(self) -> str:
        lines = [f"demo: {self.frames} frames in {self.seconds:.2f} s ({self.fps:.1f} FPS end to end), "
                 f"{self.backend} on {self.device}, precision {self.precision or '?'}, nireq {self.nireq}; "
                 f"stopped by {self.stopped_by}"]
        lines.append(f"  {'stage':<11} {'mean':>8} {'p50':>8} {'p95':>8} {'max':>8}   (ms)")
        for stage in list(STAGES) + sorted(set(self.stages_ms) - set(STAGES)):
            s = self.stages_ms.get(stage)
            if s:
                lines.append(f"  {stage:<11} {s['mean']:8.2f} {s['p50']:8.2f} {s['p95']:8.2f} {s['max']:8.2f}")
        if self.output:
            w, h = self.output_size or (0, 0)
            lines.append(f"  output: {self.output} ({w}x{h})")
        lines.extend(f"  note: {w}" for w in self.warnings)
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------


def default_model() -> Path:
    """First of :data:`DEFAULT_MODELS` holding a manifest, in the working directory then the repository."""
    roots = [Path.cwd(), Path(__file__).resolve().parents[1]]
    for rel in DEFAULT_MODELS:
        for root in roots:
            if (root / rel / "manifest.json").is_file():
                return root / rel
    raise ArtifactError(f"no model given and none of {', '.join(DEFAULT_MODELS)} holds an export; run "
                        f"`enet-edge export --target ncs2` (or --target cpu) or pass --model PATH")


def _pick_device(artifact, requested: Optional[str]) -> str:
    if requested:
        return requested
    if artifact.backend != "openvino":
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
    from enet_edge.runtime.manifest import resolve_artifact
    from enet_edge.runtime.segmenter import Segmenter
    from enet_edge.runtime.adapters import open_adapter

    path = Path(config.model) if config.model else default_model()
    artifact = resolve_artifact(path, config.backend)
    device = _pick_device(artifact, config.device)
    options: Dict[str, Any] = {}
    nireq = config.nireq
    if artifact.backend == "openvino":
        options["nireq"] = nireq
    elif nireq > 1:
        log(f"note: --nireq {nireq} needs the openvino backend; {artifact.backend} runs frames one at a time")
        nireq = 1
    adapter = open_adapter(artifact.path, backend=artifact.backend, device=device, precision=config.precision,
                           **options)
    return Segmenter(adapter, artifact.classes, artifact.palette_rgb), artifact, device, nireq


# --------------------------------------------------------------------------------------------
# The loop
# --------------------------------------------------------------------------------------------


@dataclass
class _Shown:
    """The last rendered frame's inputs, kept to re-render while paused (TAB)."""

    frame: Optional[np.ndarray] = None
    class_map: Optional[np.ndarray] = None


def run_demo(config: DemoConfig, log: Optional[Callable[[str], None]] = None) -> DemoSummary:
    """Run the demo as ``config`` says; returns its :class:`DemoSummary` (also written to ``json_path``).

    Raises :class:`EnetEdgeError` subclasses (one-line messages) for a missing camera, an
    unreadable video, an empty folder, a missing model or a window requested without a GUI.
    Ctrl-C stops the run cleanly (the output is finalized and the summary returned).
    """
    log = log or (lambda message: print(message, file=sys.stderr))
    _cv2()
    if config.model is not None and not Path(config.model).exists():
        raise ArtifactError(f"model {config.model} does not exist; give an export directory or an .xml/.onnx/.pb file")
    display = Display() if config.show else None
    source = sink = segmenter = None
    try:
        source = open_source(config.source)
        segmenter, artifact, device, nireq = open_model(config, log)
        untrained = bool(artifact.manifest) and not artifact.manifest.get("weights", {}).get("trained", True)
        log(f"demo: {source.description} -> {artifact.path} ({artifact.backend} on {device}, precision "
            f"{_precision_label(segmenter)}, nireq {nireq})"
            + ("; UNTRAINED weights" if untrained else ""))
        fps_out = config.output_fps or source.fps or DEFAULT_OUTPUT_FPS
        sink = open_sink(config.output, fps_out) if config.output else None
        return _loop(config, source, segmenter, artifact, device, nireq, untrained, display, sink)
    finally:
        if segmenter is not None:
            segmenter.adapter.close()
        if source is not None:
            source.close()
        if sink is not None:
            sink.close()
        if display is not None:
            display.close()


def _precision_label(segmenter) -> str:
    run = segmenter.adapter.precision_run
    return run.label if run is not None else segmenter.adapter.precision


def _loop(config: DemoConfig, source: FrameSource, segmenter, artifact, device: str, nireq: int, untrained: bool,
          display: Optional[Display], sink: Optional[FrameSink]) -> DemoSummary:
    from enet_edge.runtime.segmenter import AsyncPipeline

    stats = StageStats()
    renderer = Renderer(segmenter.classes, segmenter.palette_bgr, config.alpha, config.legend)
    state = ViewState(mode=config.mode)
    shown = _Shown()
    pipeline = AsyncPipeline(segmenter) if nireq > 1 else None
    header = f"{device} {artifact.backend} {segmenter.adapter.precision}" + (f" x{nireq}" if nireq > 1 else "")
    counters = {"captured": 0, "emitted": 0, "next_index": 0}
    order = {"ok": True}
    stopped_by = "end"

    def hud_lines() -> List[Tuple[str, str, Tuple[int, int, int]]]:
        if not config.hud:
            return []
        fps = stats.fps()
        rows = [("FPS", f"{fps:.1f}" if fps else "--", (120, 255, 120))]
        for stage in STAGES:
            rows.append((STAGE_LABELS[stage], _ms(stats.recent_ms(stage)), (255, 255, 255)))
        rows.append((header, "", (200, 200, 200)))
        rows.append((state.mode + ("  PAUSED" if state.paused else ""), "", (0, 220, 255) if state.paused else (200, 200, 200)))
        if untrained:
            rows.append(("UNTRAINED WEIGHTS", "", (60, 60, 255)))
        return rows

    def redraw() -> None:
        if display is not None and shown.frame is not None:
            display.show(renderer.render(shown.frame, shown.class_map, state.mode, hud_lines()))

    def poll_keys() -> None:
        """Keys while running; blocks here while paused (TAB re-renders the paused frame)."""
        if display is None:
            return
        while True:
            if handle_key(state, display.poll(1 if not state.paused else 30)):
                redraw()
            if display.closed():
                state.quit = True
            if state.quit or not state.paused:
                return

    def emit(userdata, seg) -> None:
        index, frame, capture_ns = userdata
        if index != counters["next_index"]:
            order["ok"] = False
        counters["next_index"] = index + 1
        stats.add("capture", capture_ns)
        for stage, ns in seg.timings_ns.items():  # preprocess, infer, postprocess (+ wait from AsyncPipeline)
            stats.add(stage, ns)
        t0 = time.perf_counter_ns()
        image = renderer.render(frame, seg.frame_class_map, state.mode, hud_lines())
        if display is not None:
            display.show(image)
        if sink is not None:
            sink.write(image)
        t1 = time.perf_counter_ns()
        stats.add("render", t1 - t0)
        stats.frame_out(t1)
        shown.frame, shown.class_map = frame, seg.frame_class_map
        counters["emitted"] += 1
        poll_keys()

    started = time.perf_counter_ns()
    try:
        while not state.quit:
            if config.limit is not None and counters["captured"] >= config.limit:
                stopped_by = "limit"
                break
            t0 = time.perf_counter_ns()
            frame = source.read()
            if frame is None and config.loop and counters["captured"] > 0 and source.rewind():
                t0 = time.perf_counter_ns()
                frame = source.read()
            capture_ns = time.perf_counter_ns() - t0
            if frame is None:
                if counters["captured"] == 0:
                    raise InputError(f"{source.description} delivered no frame (empty, unreadable or disconnected)")
                break
            userdata = (counters["captured"], frame, capture_ns)
            counters["captured"] += 1
            if pipeline is not None:
                results = pipeline.submit(frame, userdata)
            else:
                results = [(userdata, segmenter.infer(frame))]
            for ud, seg in results:
                if not state.quit:
                    emit(ud, seg)
        if state.quit:
            stopped_by = "window" if display is not None and display.closed() else "key"
    except KeyboardInterrupt:
        stopped_by = "interrupt"
    if pipeline is not None:
        for ud, seg in pipeline.drain():
            if stopped_by in ("end", "limit"):
                emit(ud, seg)
    elapsed = (time.perf_counter_ns() - started) / 1e9
    warnings = []
    if not order["ok"]:
        warnings.append("frames came out of capture order")
    summary = DemoSummary(
        frames=counters["emitted"], seconds=round(elapsed, 4),
        fps=round(counters["emitted"] / elapsed, 3) if elapsed > 0 else 0.0, stages_ms=stats.summary_ms(),
        source=source.description, model=str(artifact.path), backend=artifact.backend, device=device, nireq=nireq,
        precision=_precision_label(segmenter),
        output=config.output, output_size=sink.size if sink is not None else None, in_order=order["ok"],
        stopped_by=stopped_by, warnings=tuple(warnings))
    if config.json_path:
        Path(config.json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(config.json_path).write_text(json.dumps(summary.to_dict(), indent=2) + "\n")
    return summary


# --------------------------------------------------------------------------------------------
# Command line (argparse stays here; below it only DemoConfig)
# --------------------------------------------------------------------------------------------

HELP = "live segmentation demo: camera/video/images -> overlay + legend + FPS/latency HUD"
KEYS_HELP = "keys (window only): q/ESC quit, space pause, TAB overlay <-> mask only"


def add_arguments(p) -> None:
    """Add the demo's options to an argparse parser."""
    p.add_argument("--source", default="0",
                   help="camera index (0), video file, folder of images (natural order) or glob (quote it); default 0")
    p.add_argument("--model", help="export directory or .xml/.onnx/.pb (default: build/ncs2 if present, else build/cpu)")
    p.add_argument("--backend", choices=("openvino", "onnxruntime", "tensorflow"),
                   help="default: by artifact (an export directory runs its OpenVINO IR)")
    p.add_argument("--device", help="OpenVINO device: CPU, MYRIAD, GPU, AUTO, ... (default: MYRIAD for an NCS "
                                    "export when one is plugged in, else CPU)")
    p.add_argument("--nireq", type=int, default=1,
                   help="inference requests in flight (OpenVINO); 2+ overlaps inference of frame i+1 with "
                        "rendering of frame i, frames stay in order")
    p.add_argument("--alpha", type=float, default=0.5, help="opacity of the class colours over the frame (0..1)")
    p.add_argument("--mask-only", action="store_true", help="start showing the class colours alone (TAB toggles)")
    p.add_argument("--no-legend", action="store_true", help="no legend panel (output is then the frame's size)")
    p.add_argument("--no-hud", action="store_true", help="no FPS/latency HUD")
    p.add_argument("--no-show", action="store_true", help="no window (headless; use with --output and/or --limit)")
    p.add_argument("--output", help="write rendered frames: video (.mp4/.avi), folder of PNGs (a directory or a "
                                    "path ending in /), or one image (.png/.jpg: the last frame, a screenshot)")
    p.add_argument("--output-fps", type=float, help="frame rate of an output video (default: the source's, else 15)")
    p.add_argument("--limit", type=int, help="stop after N frames")
    p.add_argument("--loop", action="store_true", help="restart a video or image sequence at its end")
    p.add_argument("--json", dest="json_path", help="write the run summary (frames, FPS, per-stage ms) as JSON here")
    p.add_argument("--precision", help="f32, f16 or bf16 asked of OpenVINO (default: the device's own; what ran "
                                       "is read back and shown)")


def config_from_args(args) -> DemoConfig:
    return DemoConfig(
        source=args.source, model=args.model, backend=args.backend, device=args.device, nireq=args.nireq,
        alpha=args.alpha, mode="mask" if args.mask_only else "overlay", legend=not args.no_legend,
        hud=not args.no_hud, show=not args.no_show, output=args.output, output_fps=args.output_fps,
        limit=args.limit, loop=args.loop, json_path=args.json_path, precision=args.precision)


def run_from_args(args) -> int:
    summary = run_demo(config_from_args(args))
    print(summary.format())
    return 0


def add_cli(sub) -> None:
    """Register ``enet-edge demo`` on the CLI's subparsers."""
    p = sub.add_parser("demo", help=HELP, description=f"{HELP}. {KEYS_HELP}.")
    add_arguments(p)
    p.set_defaults(func=run_from_args)


def main(argv: Optional[List[str]] = None, prog: str = "camera_demo.py") -> int:
    """Stand-alone entry point (``demo/camera_demo.py``): same options and errors as ``enet-edge demo``."""
    import argparse

    parser = argparse.ArgumentParser(prog=prog, description=f"{HELP}. {KEYS_HELP}.")
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run_from_args(args)
    except EnetEdgeError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return exc.exit_code
