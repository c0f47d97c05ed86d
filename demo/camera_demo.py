#!/usr/bin/env python3
"""Live ENet segmentation demo: camera, video, image folder or glob -> overlay + legend + FPS/latency HUD.

Same options as ``enet-edge demo`` (see docs/demo.md); runs without TensorFlow. Examples::

    python demo/camera_demo.py --source 0                        # first camera, window
    python demo/camera_demo.py --source 0 --device MYRIAD --nireq 4
    python demo/camera_demo.py --source ../shared/camvid/val --no-show --output out.mp4 --limit 100
    python demo/camera_demo.py --source 0 --no-show --serve 8080      # headless: http://127.0.0.1:8080/

Keys (window only): q/ESC quit, space pause, TAB overlay <-> mask only.
"""

import sys
from pathlib import Path

try:
    import enet_edge  # noqa: F401  (installed, or run from the repository root)
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from enet_edge.device.demo import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(prog="camera_demo.py"))
