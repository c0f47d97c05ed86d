"""Input sizes that fit: an absolute cap and a memory estimate checked before a model is built (numpy-free).

ENet's largest activations are the stage-1 tensors (64 channels at a quarter of the pixels), the
initial block's (16 channels, plus the int64 switch indices of the reference realization) and the
logits (``num_classes`` channels at full size), all float32. An export holds several of them at once in
TensorFlow, ONNX Runtime and OpenVINO, for every parity frame: measured peak resident memory of
``enet-edge export --target cpu`` grows by about 2.4 KB per input pixel (0.92 GB at 64x96, 1.13 GB at
256x384), over a base of about 0.9 GB of libraries. :func:`check_size` refuses, before anything is
built, a size whose estimate does not fit the memory available now, naming the largest size that does.
"""

from __future__ import annotations

import math
import os
from typing import Optional, Tuple

from enet_edge.errors import ConfigError

MAX_SIDE = 8192
"""Absolute cap on the input height and width (pixels); 8K video is 4320x7680."""
BASE_BYTES = 1 << 30
"""Libraries and graphs, whatever the size (measured ~0.9 GB)."""
BYTES_PER_PIXEL = 4096
"""Peak activation memory per input pixel during an export (measured ~2.4 KB; with margin)."""


def available_memory() -> Optional[int]:
    """Bytes of memory available to a new allocation now: /proc/meminfo MemAvailable, else free
    physical pages (os.sysconf), else all physical pages; None where none of them is known."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    for pages in ("SC_AVPHYS_PAGES", "SC_PHYS_PAGES"):
        try:
            value = os.sysconf(pages) * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            continue
        if value > 0:
            return value
    return None


def estimate_bytes(height: int, width: int, bytes_per_pixel: int = BYTES_PER_PIXEL) -> int:
    """Estimated peak memory of an export at ``height`` x ``width``."""
    return BASE_BYTES + height * width * bytes_per_pixel


def largest_fitting(height: int, width: int, memory: int, bytes_per_pixel: int = BYTES_PER_PIXEL
                    ) -> Tuple[int, int]:
    """The largest (height, width), multiples of 8 at the aspect ratio of ``height`` x ``width``, whose
    estimate fits ``memory`` bytes; (0, 0) where not even 8x8 fits."""
    pixels = max(0, memory - BASE_BYTES) / bytes_per_pixel
    scale = math.sqrt(pixels / (height * width)) if height * width else 0.0
    h, w = int(height * scale) // 8 * 8, int(width * scale) // 8 * 8
    h, w = min(h, MAX_SIDE // 8 * 8), min(w, MAX_SIDE // 8 * 8)
    return (h, w) if h >= 8 and w >= 8 else (0, 0)


def _gb(value: float) -> str:
    return f"{value / 1e12:.1f} TB" if value >= 1e12 else f"{value / 1e9:.1f} GB"


def check_size(height: int, width: int, what: str = "export", memory: Optional[int] = None,
               bytes_per_pixel: int = BYTES_PER_PIXEL) -> None:
    """:class:`ConfigError` where ``height`` x ``width`` exceeds :data:`MAX_SIDE` or its memory estimate
    exceeds the memory available (``memory``; default :func:`available_memory`)."""
    for name, value in (("height", height), ("width", width)):
        if value > MAX_SIDE:
            raise ConfigError(f"{name}={value} exceeds the limit of {MAX_SIDE} pixels per side (an {what} at "
                              f"{height}x{width} cannot fit in memory); use a size up to {MAX_SIDE}x{MAX_SIDE}")
    memory = available_memory() if memory is None else memory
    if memory is None:
        return
    need = estimate_bytes(height, width, bytes_per_pixel)
    if need > memory:
        h, w = largest_fitting(height, width, memory, bytes_per_pixel)
        limit = (f"the largest size that fits is about {h}x{w} at this aspect ratio" if h else
                 "not even 8x8 fits")
        raise ConfigError(f"size {height}x{width} needs about {_gb(need)} of memory for the {what} "
                          f"(~{bytes_per_pixel // 1024} KB per pixel), this machine has {_gb(memory)} available; "
                          f"{limit}")
