"""Rendering: the class map over the frame (or alone), the legend panel beside it, the HUD in its corner."""

from __future__ import annotations

import math
from typing import Dict, Sequence, Tuple

import numpy as np

from enet_edge.device.demo.window import quiet_cv2
from enet_edge.runtime.segmenter import colorize, overlay, resize_labels

_FONT = 0  # cv2.FONT_HERSHEY_SIMPLEX
_FONT_PX = 22.0  # cap height of FONT_HERSHEY_SIMPLEX at scale 1.0, in pixels
_PAD = 8


def _legend_geometry(names: Sequence[str], height: int) -> Tuple[int, int, float, int, int]:
    """(row height, rows per column, font scale, text width, columns) of a legend ``height`` tall."""
    cv2 = quiet_cv2()
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
    cv2 = quiet_cv2()
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
    cv2 = quiet_cv2()
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

    def panel(self, height: int) -> np.ndarray:
        if height not in self._panels:
            self._panels[height] = legend_panel(self.classes, self.palette_bgr, height)
        return self._panels[height]

    def render(self, frame: np.ndarray, frame_class_map: np.ndarray, mode: str = "overlay",
               hud_lines: Sequence[Tuple[str, str, Tuple[int, int, int]]] = ()) -> np.ndarray:
        if mode == "mask":
            view = colorize(resize_labels(frame_class_map, frame.shape[:2]), self.palette_bgr)
        else:
            view = overlay(frame, frame_class_map, self.palette_bgr, self.alpha)
        draw_hud(view, hud_lines)
        if not self.legend:
            return view
        return np.concatenate([view, self.panel(view.shape[0])], axis=1)

