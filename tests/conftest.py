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


@pytest.hookimpl(tryfirst=True)  # before -m "not slow" deselects
def pytest_collection_modifyitems(config, items):
    """Every test on the real-pipeline exports (``small_exports``, directly or through another fixture) is slow:
    building them runs TensorFlow, tf2onnx, OpenVINO and NNCF for minutes. ``make test-fast`` skips them."""
    for item in items:
        if "small_exports" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session", autouse=True)
def _copy_bandwidth_once():
    """Every in-process bench measures this machine's copy bandwidth for its bounds (``with_bounds``: 2 x 256 MiB
    touched and copied, ~0.5 s a run, 15 runs in the fast tests); the session measures it for real once and its
    benches share that figure. ``measure_bandwidth_gbs`` itself: test_roofline."""
    import functools

    from enet_edge.device.bench import measure

    real = measure.measure_bandwidth_gbs
    measure.measure_bandwidth_gbs = functools.lru_cache(maxsize=None)(real)
    yield
    measure.measure_bandwidth_gbs = real


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def enet_builds():
    """ENet at 48x64 with seeded random weights, built and frozen once per realization for the whole session
    (tests/helpers.py ENetBuilds; test_realizations, test_checks, test_pipeline and test_model share it)."""
    from enet_edge.model.config import ENetConfig
    from helpers import ENetBuilds

    return ENetBuilds(ENetConfig(height=48, width=64))


SMALL_SIZE = (64, 96)  # (height, width) of the real-pipeline small exports (slow tests; fast ones use tiny_models)


SMALL_QUANTIZATION = dict(calibration_frames=6, eval_frames=6, max_miou_drop=100.0, accuracy_control=False,
                          fast_bias_correction=True)
"""Test-size INT8 settings: the mIoU gate itself is tested in test_quantize with known mIoUs. The fast bias correction
(NNCF's default) saves ~16 s per 64x96 export over the full one that export/cpu-int8.toml asks for: the full one runs
on the tiny IR in test_quantize (the same call with the other flag; the graph it gives is the same)."""


def small_target(name):
    """The export target ``name``, with test-size quantization settings for INT8 targets."""
    from enet_edge.export.targets import load_target

    target = load_target(name)
    if target.quantization is not None:
        # At 64x96 the trained model's class margins are thin (it sees objects at an unusual scale), so INT8
        # flips more argmaxes than at full size (measured: 60% agreement here, 84% at 360x480).
        target = target.with_quantization(ir_argmax_agreement=0.45, **SMALL_QUANTIZATION)
    return target


@pytest.fixture(scope="session")
def small_exports(tmp_path_factory):
    """Export directories of every export-mode target at 64x96 (the shipped weights), by target name.

    Built once per test session through the real pipeline (``enet_edge.export.export``), ~15 s each (minutes in
    all), so every test using it is marked slow (``pytest_collection_modifyitems`` above). Tests that only need
    some export directory use ``tiny_export_dir``/``tiny_ncs2_dir``/``tiny_tf_export_dir`` below.
    """
    from enet_edge.export.pipeline import ExportRequest, export
    from enet_edge.export.targets import available_targets

    root = tmp_path_factory.mktemp("exports")
    dirs = {}
    for name in available_targets():
        target = small_target(name)
        if target.mode != "export":
            continue
        request = ExportRequest(target=target, out_dir=root / name, height=SMALL_SIZE[0], width=SMALL_SIZE[1])
        dirs[name] = export(request, log=lambda m: None).out_dir
    return dirs


@pytest.fixture(scope="session")
def tiny_export_dir(tmp_path_factory):
    """A tiny export directory (IR + ONNX + manifest; 32x48, 12 classes) built without TensorFlow in ~0.1 s.

    For runtime, bench, demo and eval mechanics; its segmentations mean nothing. Treat as read-only.
    """
    from tiny_models import tiny_export

    return tiny_export(tmp_path_factory.mktemp("tiny") / "tiny")


@pytest.fixture(scope="session")
def tiny_ncs2_dir(tmp_path_factory):
    """The tiny export shaped like an ncs2 one: FP16 IR weights, manifest target ncs2, precision FP16, device MYRIAD."""
    from tiny_models import tiny_export

    return tiny_export(tmp_path_factory.mktemp("tiny") / "ncs2", target="ncs2", precision="FP16", device="MYRIAD")


@pytest.fixture(scope="session")
def tiny_tf_export_dir(tmp_path_factory):
    """The tiny export plus its frozen graph (enet_frozen.pb, same function): for the tensorflow backend. Imports
    TensorFlow (a few seconds, once per session)."""
    pytest.importorskip("tensorflow")
    from tiny_models import tiny_export

    return tiny_export(tmp_path_factory.mktemp("tiny") / "tf", frozen_graph=True)
