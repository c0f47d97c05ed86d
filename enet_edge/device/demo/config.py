"""Demo configuration: :class:`DemoConfig` (frozen, validated), output kinds and the demo's constants."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
import math
from typing import Optional, Tuple

from enet_edge.device.frames import IMAGE_SUFFIXES
from enet_edge.errors import ConfigError

STAGES = ("capture", "preprocess", "infer", "postprocess", "render")
"""Per-frame stages timed by the demo, in pipeline order."""
STAGE_LABELS = {"capture": "capture", "preprocess": "pre", "infer": "infer", "postprocess": "post", "render": "render"}
MODES = ("overlay", "mask")
VIDEO_SUFFIXES = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG"}
DEFAULT_MODELS = ("build/ncs2", "build/cpu")
"""Export directories tried, in order, when no model is given (relative to the working directory,
then to the repository root)."""
DEFAULT_OUTPUT_FPS = 15.0
MAX_OUTPUT_FPS = 1000.0
"""Output video frame rate when the source does not say (CamVid frames are 15 fps sequences)."""
DEFAULT_CAMERA_TIMEOUT_S = 60.0
"""How long a live camera that stopped delivering frames is reopened before the run ends (``--camera-timeout``)."""
MAX_CAMERA_TIMEOUT_S = 7 * 86400.0
DEFAULT_DEVICE_RETRIES = 5
"""Reopen attempts of the model after a device fault before the run ends or falls back (``--device-retries``)."""
MAX_DEVICE_RETRIES = 1000
RETRY_BACKOFF_S = (0.5, 8.0)
"""Seconds between reopen attempts (camera and device): the first wait, doubled per attempt up to the second."""
KEY_ESC, KEY_TAB, KEY_SPACE = 27, 9, 32
WINDOW = "enet-edge demo"


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
    read back and shown in the log, the HUD and the summary. ``serve``: ``"[HOST:]PORT"`` to serve the overlay
    in a browser (host 127.0.0.1 unless given). ``camera_timeout``: seconds a live camera that stopped is reopened
    (with ``retry_backoff`` between attempts) before the run ends. ``device_retries``: reopen attempts of the model
    per device fault; then ``fallback_device`` (if given) takes over, else the run ends.
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
    hint: Optional[str] = None  # OpenVINO PERFORMANCE_HINT: latency, throughput, cumulative_throughput
    serve: Optional[str] = None  # "[HOST:]PORT": the overlay, legend, HUD and /stats in a browser
    camera_timeout: float = DEFAULT_CAMERA_TIMEOUT_S  # a live camera that stops: reopen for this long, then stop
    device_retries: int = DEFAULT_DEVICE_RETRIES  # reopen attempts per device fault before the run ends
    fallback_device: Optional[str] = None  # device (list) to go on with once device_retries are spent
    retry_backoff: Tuple[float, float] = RETRY_BACKOFF_S  # (first, longest) wait between reopen attempts, s

    def __post_init__(self) -> None:
        from enet_edge.runtime.backends import BACKENDS, HINTS
        from enet_edge.runtime.precision import normalize_precision

        object.__setattr__(self, "precision", normalize_precision(self.precision))
        if self.hint is not None:
            object.__setattr__(self, "hint", str(self.hint).upper())
            if self.hint not in HINTS:
                raise ConfigError(f"hint={self.hint.lower()!r} must be one of {', '.join(h.lower() for h in HINTS)}")

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
        if self.output_fps is not None and not 0 < self.output_fps <= MAX_OUTPUT_FPS:
            raise ConfigError(f"output_fps={self.output_fps} must be > 0 and at most {MAX_OUTPUT_FPS:g}")
        if self.output is not None:
            output_kind(self.output)  # raises ConfigError on an unsupported suffix
        if not self.show and self.loop and self.limit is None and self.serve is None:
            raise ConfigError("--loop without a window never ends; add --limit N (or --serve PORT to watch it)")
        if self.serve is not None:
            from enet_edge.device.demo.serve import parse_serve

            parse_serve(self.serve)  # raises ConfigError
        if not (isinstance(self.camera_timeout, (int, float)) and math.isfinite(self.camera_timeout)
                and 0 < self.camera_timeout <= MAX_CAMERA_TIMEOUT_S):
            raise ConfigError(f"camera_timeout={self.camera_timeout} must be > 0 and at most "
                              f"{MAX_CAMERA_TIMEOUT_S:g} s")
        if not isinstance(self.device_retries, int) or not 0 <= self.device_retries <= MAX_DEVICE_RETRIES:
            raise ConfigError(f"device_retries={self.device_retries} must be an integer within 0..{MAX_DEVICE_RETRIES}")
        if self.fallback_device is not None and not str(self.fallback_device).strip():
            raise ConfigError("fallback_device is empty; give a device or device list (CPU, MULTI:MYRIAD,CPU, ...)")
        first, longest = (tuple(self.retry_backoff) + (None, None))[:2]
        if not all(isinstance(v, (int, float)) and math.isfinite(v) and v >= 0 for v in (first, longest)) \
                or first > longest:
            raise ConfigError(f"retry_backoff={self.retry_backoff} must be (first, longest) seconds, 0 <= first <= "
                              f"longest")


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
