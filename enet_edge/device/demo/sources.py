"""Where frames come from (camera, video, image folder or glob, played in order) and where rendered frames go
(video, PNG folder, one image)."""

from __future__ import annotations

import glob
import os
import re
from pathlib import Path
from typing import Optional, Sequence, Tuple

import numpy as np

from enet_edge.device.demo.config import VIDEO_SUFFIXES, output_kind
from enet_edge.device.demo.window import quiet_cv2
from enet_edge.device.frames import IMAGE_SUFFIXES, PathLike, image_files, is_image_name, read_image
from enet_edge.errors import InputError
from enet_edge.fileio import atomic_write_bytes, make_dirs, remove_created, temp_prefix


class FrameSource:
    """Frames one by one: ``read()`` -> (H, W, 3) uint8 BGR, or None at the end."""

    description: str = ""
    fps: Optional[float] = None  # frame rate the source reports, if any
    live: bool = False  # a camera: a failed read may be a fault to recover from (a file's end is its end)

    def read(self) -> Optional[np.ndarray]:
        raise NotImplementedError

    def rewind(self) -> bool:
        """Start over (for ``loop``); False where the source cannot (a camera)."""
        return False

    def reopen(self) -> bool:
        """Release and open the source again after a failed read (a live camera); True if it opened."""
        return False

    def close(self) -> None:
        """Release the device or file."""


class CaptureSource(FrameSource):
    """A camera index or a video file through ``cv2.VideoCapture``."""

    def __init__(self, target, description: str):
        cv2 = quiet_cv2()
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
        self.live = isinstance(target, int)

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
        cv2 = quiet_cv2()
        self._cap.release()
        self._cap = cv2.VideoCapture(self._target)
        return self._cap.isOpened()

    def reopen(self) -> bool:
        if not self.live:
            return False
        cv2 = quiet_cv2()
        self._cap.release()
        self._cap = cv2.VideoCapture(self._target)
        return self._cap.isOpened()

    def close(self) -> None:
        self._cap.release()


class ImageSource(FrameSource):
    """A list of image files played in order (a CamVid sequence plays as a video)."""

    def __init__(self, files: Sequence[PathLike], description: str):
        self.files = [Path(f) for f in files]
        self.description = description
        self._next = 0

    def read(self) -> Optional[np.ndarray]:
        if self._next >= len(self.files):
            return None
        path = self.files[self._next]
        self._next += 1
        return read_image(path)

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
        files = image_files(path.iterdir())
        if not files:
            raise InputError(f"folder {spec} holds no images ({', '.join(IMAGE_SUFFIXES[:3])}, ...)")
        return ImageSource(files, f"{len(files)} images in {spec}")
    if path.is_file():
        if is_image_name(path):
            return ImageSource([spec], f"image {spec}")
        return CaptureSource(spec, f"video {spec}")
    if glob.has_magic(spec):
        files = image_files(glob.glob(spec))
        if not files:
            raise InputError(f"glob {spec} matches no images")
        return ImageSource(files, f"{len(files)} images matching {spec}")
    raise InputError(f"source {spec} does not exist; give a camera index (0), a video file, an image folder or a glob")


# --------------------------------------------------------------------------------------------
# Outputs
# --------------------------------------------------------------------------------------------


class FrameSink:
    """Where rendered frames (H, W, 3) uint8 BGR go besides the window.

    ``close()`` finalizes what was written (a run that ended, was stopped or interrupted); ``abort()``
    removes it (a run that failed): an output is complete or absent, never half-written."""

    def __init__(self, path: str):
        self.path = path
        self.frames = 0
        self.size: Optional[Tuple[int, int]] = None  # (width, height) of what was written

    def write(self, image: np.ndarray) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Flush and finalize."""

    def abort(self) -> None:
        """Remove what was written so far."""


class VideoSink(FrameSink):
    """A video file via ``cv2.VideoWriter`` (fourcc by suffix); every frame resized to the first's size.

    Frames go to ``.<name>.tmp-<pid>-<n><suffix>`` beside the file, renamed to it by :meth:`close`."""

    def __init__(self, path: str, fps: float):
        super().__init__(path)
        self.fps = fps
        self._writer = None
        self._created = make_dirs(Path(path).parent, "--output")
        target = Path(path)
        self._tmp = target.with_name(f"{temp_prefix(target.name)}0{target.suffix}")

    def write(self, image: np.ndarray) -> None:
        cv2 = quiet_cv2()
        if self._writer is None:
            self.size = (image.shape[1], image.shape[0])
            fourcc = VIDEO_SUFFIXES[Path(self.path).suffix.lower()]
            self._writer = cv2.VideoWriter(str(self._tmp), cv2.VideoWriter_fourcc(*fourcc), self.fps, self.size)
            if not self._writer.isOpened():
                self._writer = None
                self.abort()
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
            os.replace(self._tmp, self.path)
        else:
            remove_created(self._created)

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        Path(self._tmp).unlink(missing_ok=True)
        remove_created(self._created)


class FolderSink(FrameSink):
    """One PNG per frame: ``frame_000000.png``, ``frame_000001.png``, ... (each written whole: temp, rename)."""

    def __init__(self, path: str):
        super().__init__(path)
        self._created = make_dirs(path, "--output")
        self._written = []

    def write(self, image: np.ndarray) -> None:
        target = Path(self.path) / f"frame_{self.frames:06d}.png"
        ok, data = quiet_cv2().imencode(".png", image)
        if not ok:
            raise InputError(f"cannot encode frame {self.frames} as PNG")
        atomic_write_bytes(target, data.tobytes(), "--output")
        self._written.append(target)
        self.size = (image.shape[1], image.shape[0])
        self.frames += 1

    def close(self) -> None:
        if not self._written:
            remove_created(self._created)

    def abort(self) -> None:
        for target in self._written:
            target.unlink(missing_ok=True)
        self._written = []
        remove_created(self._created)


class ImageSink(FrameSink):
    """A single image file holding the last rendered frame (written on close): a screenshot."""

    def __init__(self, path: str):
        super().__init__(path)
        self._last: Optional[np.ndarray] = None

    def write(self, image: np.ndarray) -> None:
        self._last = image
        self.size = (image.shape[1], image.shape[0])
        self.frames += 1

    def close(self) -> None:
        if self._last is not None:
            ok, data = quiet_cv2().imencode(Path(self.path).suffix.lower(), self._last)
            if not ok:
                raise InputError(f"cannot encode the last frame as {self.path}")
            atomic_write_bytes(self.path, data.tobytes(), "--output")
            self._last = None

    def abort(self) -> None:
        self._last = None


def open_sink(path: str, fps: float) -> FrameSink:
    kind = output_kind(path)
    if kind == "video":
        return VideoSink(path, fps)
    if kind == "image":
        return ImageSink(path)
    return FolderSink(path)

