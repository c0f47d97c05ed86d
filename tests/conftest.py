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
