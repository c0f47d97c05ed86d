"""The window: quiet OpenCV access (highgui only when a window is asked for), keys and the view state."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Optional

import numpy as np

from enet_edge.device.demo.config import KEY_ESC, KEY_SPACE, KEY_TAB, WINDOW
from enet_edge.errors import DeviceError


def quiet_cv2():
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
    cv2 = quiet_cv2()
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
        self._cv2 = quiet_cv2()
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

