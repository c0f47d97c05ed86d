import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

REPO = Path(__file__).resolve().parents[1]


def camvid_dir():
    env = os.environ.get("ENET_EDGE_CAMVID")
    path = Path(env) if env else REPO.parent / "shared" / "camvid"
    return path


@pytest.fixture(scope="session")
def camvid():
    path = camvid_dir()
    if not (path / "val").is_dir():
        pytest.fail(f"CamVid not found at {path}: set ENET_EDGE_CAMVID or put shared/camvid beside the checkout")
    return path


@pytest.fixture(scope="session")
def camvid_frames(camvid):
    """Two CamVid val frames, BGR uint8 (360, 480, 3)."""
    import cv2

    files = sorted((camvid / "val").glob("*.png"))[:2]
    return [cv2.imread(str(f)) for f in files]


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


SMALL_SIZE = (64, 96)  # (height, width) of the small exports used by runtime/bench/demo/eval tests


@pytest.fixture(scope="session")
def small_exports(tmp_path_factory):
    """Export directories of the cpu and ncs2 targets at 64x96 (seeded random weights), by target name.

    Built once per test session through the real pipeline (``enet_edge.export.export``), ~15 s each.
    """
    from enet_edge.export import ExportRequest, export
    from enet_edge.targets import load_target

    root = tmp_path_factory.mktemp("exports")
    dirs = {}
    for name in ("cpu", "ncs2"):
        request = ExportRequest(target=load_target(name), out_dir=root / name, height=SMALL_SIZE[0],
                                width=SMALL_SIZE[1], weights=None)
        dirs[name] = export(request, log=lambda m: None).out_dir
    return dirs
