"""CamVid loading, validation and class weights (numpy + OpenCV; no TensorFlow).

Layout (see ``shared/camvid/README.md``): ``<root>/<split>/*.png`` colour frames (read as BGR, like OpenCV delivers camera frames) and
``<root>/<split>annot/*.png`` label maps with the same file names, uint8 ids 0..11, 11 = void.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import numpy as np

from enet_edge.class_sets import NUM_CLASSES, VOID_LABEL
from enet_edge.errors import DataError

ENV_VAR = "ENET_EDGE_CAMVID"
_REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CANDIDATES = (_REPO_ROOT.parent / "shared" / "camvid", Path.cwd().parent / "shared" / "camvid")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
"""File endings read as images (lower case), here and by the bench's and the demo's image folders."""


def resolve_data_dir(data_dir: Optional[os.PathLike] = None) -> Path:
    """``data_dir`` if given, else ``$ENET_EDGE_CAMVID``, else ``../shared/camvid`` when it exists."""
    if data_dir is not None:
        path = Path(data_dir)
    elif os.environ.get(ENV_VAR):
        path = Path(os.environ[ENV_VAR])
    else:
        path = next((p for p in DEFAULT_CANDIDATES if p.is_dir()), DEFAULT_CANDIDATES[0])
    if not path.is_dir():
        if data_dir is not None:
            what = "is not a directory" if path.exists() else "does not exist"
            raise DataError(f"CamVid directory {path} (--data-dir) {what}; give the CamVid root folder (with <split>/ and <split>annot/ folders)")
        source = f"${ENV_VAR}" if os.environ.get(ENV_VAR) else "the default"
        raise DataError(f"CamVid directory {path} ({source}) does not exist; pass --data-dir or set {ENV_VAR}")
    return path


def available_splits(data_dir: Path) -> List[str]:
    """Split names with both ``<split>/`` and ``<split>annot/`` folders."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataError(f"CamVid directory {data_dir} does not exist; pass --data-dir or set {ENV_VAR}")
    return sorted(p.name for p in data_dir.iterdir() if p.is_dir() and (data_dir / f"{p.name}annot").is_dir())


def list_split(data_dir: Path, split: str) -> List[Tuple[Path, Path]]:
    """(image, label) path pairs of ``split``, sorted by file name; every frame must have its label."""
    data_dir = Path(data_dir)
    image_dir, label_dir = data_dir / split, data_dir / f"{split}annot"
    if not image_dir.is_dir() or not label_dir.is_dir():
        have = ", ".join(available_splits(data_dir)) or "none"
        raise DataError(f"split {split!r} needs {image_dir} and {label_dir}; splits present in {data_dir}: {have}")
    images = sorted(p for p in image_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise DataError(f"{image_dir} contains no images")
    pairs = []
    for image in images:
        label = label_dir / (image.stem + ".png")
        if not label.is_file():
            raise DataError(f"missing annotation {label} for frame {image}")
        pairs.append((image, label))
    return pairs


def spread(items: Sequence, count: int) -> list:
    """``count`` items evenly spaced over ``items`` (all of them when count is 0 or larger)."""
    if count <= 0 or count >= len(items):
        return list(items)
    step = len(items) / count
    return [items[int(i * step)] for i in range(count)]


def spread_pairs(data_dir: Optional[os.PathLike], split: str, count: int) -> List[Tuple[Path, Path]]:
    """``count`` evenly spaced (image, label) pairs of ``split`` (0: all), the data directory resolved as
    :func:`resolve_data_dir` does: the frames the INT8 gate and the benchmark's mIoU column measure."""
    return spread(list_split(resolve_data_dir(data_dir), split), count)


def read_image_bgr(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 **BGR** (OpenCV order: the network is trained on what a camera delivers)."""
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise DataError(f"cannot read image {path}")
    return image


def read_label(path: Path, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """(H, W) uint8 label ids, checked to be < ``num_classes``."""
    import cv2

    label = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if label is None:
        raise DataError(f"cannot read label map {path}")
    if label.ndim != 2:
        raise DataError(f"label map {path} has shape {label.shape}; expected a single-channel (H, W) image")
    if label.max() >= num_classes:
        raise DataError(f"label map {path} contains id {int(label.max())} > {num_classes - 1}")
    return label.astype(np.uint8)


def read_pair(image_path: Path, label_path: Path, num_classes: int = NUM_CLASSES) -> Tuple[np.ndarray, np.ndarray]:
    """A frame (H, W, 3) uint8 BGR and its label map (H, W) uint8; :class:`DataError` if their sizes differ."""
    image, label = read_image_bgr(image_path), read_label(label_path, num_classes)
    if image.shape[:2] != label.shape:
        raise DataError(f"size mismatch: {image_path} is {image.shape[:2]}, {label_path} is {label.shape}")
    return image, label


def load_split(
    data_dir: Path, split: str, limit: Optional[int] = None, files: Optional[Sequence[str]] = None,
    num_classes: int = NUM_CLASSES,
) -> Tuple[np.ndarray, np.ndarray, List[str]]:
    """Decode a split into memory (label ids checked to be < ``num_classes``, CamVid's 12 by default).

    Returns:
        images: (N, H, W, 3) uint8 BGR; labels: (N, H, W) uint8; names: file stems.
    """
    pairs = list_split(data_dir, split)
    if files is not None:
        wanted = set(files)
        found = {p[0].stem for p in pairs} | {p[0].name for p in pairs}
        missing = sorted(wanted - found)
        if missing:
            raise DataError(f"split {split!r} of {data_dir} has no frame(s) {', '.join(missing)}")
        pairs = [p for p in pairs if p[0].stem in wanted or p[0].name in wanted]
    if limit is not None:
        if limit < 1:
            raise DataError(f"limit={limit} selects no frames of split {split!r}; use a limit >= 1")
        pairs = pairs[:limit]
    if not pairs:
        raise DataError(f"no frames of split {split!r} of {data_dir} selected")
    images, labels = [], []
    shape = None
    for image_path, label_path in pairs:
        image, label = read_pair(image_path, label_path, num_classes)
        if shape is None:
            shape = image.shape
        elif image.shape != shape:
            raise DataError(f"{image_path} is {image.shape[:2]}, other frames are {shape[:2]}; resize the data set first")
        images.append(image)
        labels.append(label)
    return np.stack(images), np.stack(labels), [p[0].stem for p in pairs]


def class_pixel_counts(labels: np.ndarray, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """(num_classes,) int64 pixel count per label id."""
    return np.bincount(labels.reshape(-1), minlength=num_classes)[:num_classes].astype(np.int64)


def class_weights_enet(counts: np.ndarray, c: float = 1.02, void: Optional[int] = VOID_LABEL) -> np.ndarray:
    """ENet weighting ``1 / ln(c + p_class)`` with p over non-void pixels; void gets 0. float32 (K,)."""
    counts = np.asarray(counts, np.float64).copy()
    if void is not None:
        counts[void] = 0
    if counts.sum() <= 0:
        raise DataError("no labelled (non-void) pixels to compute class weights from")
    p = counts / counts.sum()
    weights = 1.0 / np.log(c + p)
    if void is not None:
        weights[void] = 0.0
    return weights.astype(np.float32)


def class_weights_mfb(
    labels: np.ndarray, num_classes: int = NUM_CLASSES, void: Optional[int] = VOID_LABEL
) -> np.ndarray:
    """Median-frequency balancing (Eigen & Fergus; as in kwotsin/TensorFlow-ENet): ``median(freq) / freq_class``.

    freq_class = pixels of class / pixels of the images where the class is present. float32 (K,).
    Classes absent everywhere get 0, as does void.
    """
    labels = labels.reshape(labels.shape[0], -1)
    class_pixels = np.zeros(num_classes, np.float64)
    image_pixels = np.zeros(num_classes, np.float64)
    for row in labels:
        counts = np.bincount(row, minlength=num_classes)[:num_classes]
        class_pixels += counts
        image_pixels += np.where(counts > 0, row.size, 0)
    valid = image_pixels > 0
    if void is not None:
        valid[void] = False
    freq = np.zeros(num_classes)
    freq[valid] = class_pixels[valid] / image_pixels[valid]
    weights = np.zeros(num_classes)
    weights[valid] = np.median(freq[valid]) / freq[valid]
    return weights.astype(np.float32)
