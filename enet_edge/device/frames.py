"""Image files as frames, for the bench (an indexed folder) and the demo (a folder or glob played in order).

A frame is what OpenCV delivers: (H, W, 3) uint8 BGR. Image files are recognised by their ending
(:data:`~enet_edge.camvid.IMAGE_SUFFIXES`, case-insensitive) and ordered naturally (``f2.png`` before
``f10.png``; zero-padded CamVid names sort as plain text does). numpy and OpenCV only.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterable, List, Union

import numpy as np

from enet_edge.camvid import IMAGE_SUFFIXES
from enet_edge.errors import InputError

__all__ = ["IMAGE_SUFFIXES", "image_files", "is_image_name", "natural_key", "read_image"]

PathLike = Union[str, Path]


def natural_key(path: PathLike) -> List[Any]:
    """Sort key: digit runs compare as numbers, the rest case-insensitively."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", str(path))]


def is_image_name(path: PathLike) -> bool:
    """Whether ``path`` ends like an image file (:data:`IMAGE_SUFFIXES`)."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def image_files(paths: Iterable[PathLike]) -> List[Path]:
    """The image files among ``paths`` (existing files with an image ending), in natural order."""
    return sorted((Path(p) for p in paths if is_image_name(p) and Path(p).is_file()), key=natural_key)


def read_image(path: PathLike) -> np.ndarray:
    """(H, W, 3) uint8 BGR, whatever the file holds (grey or alpha included); :class:`InputError` if
    OpenCV cannot decode it."""
    import cv2

    frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if frame is None:
        raise InputError(f"cannot read image {path} (corrupt or not an image)")
    return frame
