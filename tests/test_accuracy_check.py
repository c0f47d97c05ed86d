"""Intel's evaluator scores our exports as ``enet-edge eval`` does: accuracy_check (``openvino-dev==2023.3.0``, its last
release) runs each export's own ``accuracy-check.yml`` unchanged, ``accuracy_check -c DIR/accuracy-check.yml -m DIR -s
CAMVID``, on the CamVid val frames, for the ncs2 export (NCHW logits: the copied custom evaluator; and its class map:
accuracy_check's own segmentation adapter) and the cpu export, within 0.1 mIoU points of ``enet-edge eval``.

accuracy_check is installed from PyPI with every dependency pinned (tests/requirements-accuracy-check.txt) in a
throwaway venv: OpenVINO 2023.3 of its own, no enet-edge code on its path. The exports are 72x96 (the shipped weights):
360x480 labels are exactly 5x that size, so both tools' nearest-neighbour resizes of the class map back to the label
size (OpenCV's in eval, PIL's in accuracy_check) pick the same pixels. The fast tests of the config writer:
tests/test_accuracy_check_config.py.
"""

import re
import subprocess
from pathlib import Path

import pytest

from helpers import throwaway_venv

REQUIREMENTS = Path(__file__).with_name("requirements-accuracy-check.txt")
SIZE = (72, 96)
EXPORTS = {"ncs2": ("ncs2", None), "ncs2-class-map": ("ncs2", "int32"), "cpu": ("cpu", None)}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def accuracy_check_bin(tmp_path_factory):
    python = throwaway_venv(tmp_path_factory.mktemp("accuracy-check-venv"), "-r", str(REQUIREMENTS))
    return python.with_name("accuracy_check")


@pytest.fixture(scope="module")
def ac_exports(tmp_path_factory):
    """72x96 exports of ncs2 (logits), ncs2 with ``--class-map int32`` and cpu, by name."""
    from conftest import small_target
    from enet_edge.export.pipeline import ExportRequest, export

    root = tmp_path_factory.mktemp("ac-exports")
    dirs = {}
    for name, (target, class_map) in EXPORTS.items():
        spec = small_target(target).with_class_map(class_map)
        request = ExportRequest(target=spec, out_dir=root / name, height=SIZE[0], width=SIZE[1])
        dirs[name] = export(request, log=lambda m: None).out_dir
    return dirs


def accuracy_check_miou(binary: Path, directory: Path, data: Path, cwd: Path) -> float:
    """The ``mean_iou: XX.XX%`` accuracy_check prints for the export ``directory``, as a fraction."""
    done = subprocess.run([str(binary), "-c", str(directory / "accuracy-check.yml"), "-m", str(directory), "-s",
                           str(data)], capture_output=True, text=True, timeout=900, cwd=cwd)
    found = re.findall(r"^mean_iou: ([0-9.]+)%", done.stdout, re.M)
    assert done.returncode == 0 and len(found) == 1, (done.stdout + done.stderr)[-4000:]
    return float(found[0]) / 100


@pytest.mark.parametrize("name", list(EXPORTS))
def test_accuracy_check_scores_like_eval(accuracy_check_bin, ac_exports, camvid, name, tmp_path):
    from enet_edge.device.evaluate import EvalConfig, evaluate

    directory = ac_exports[name]
    theirs = accuracy_check_miou(accuracy_check_bin, directory, camvid, tmp_path)
    ours = evaluate(EvalConfig(model=directory, split="val", data_dir=camvid, progress=False,
                           confusion_path=tmp_path / "confusion.png")).miou
    print(f"{name}: accuracy_check {100 * theirs:.2f}%, enet-edge eval {100 * ours:.4f}%")
    assert abs(theirs - ours) <= 0.001, f"{name}: accuracy_check {100 * theirs:.2f}%, enet-edge eval {100 * ours:.2f}%"


def test_config_reads_the_export_it_names(ac_exports):
    """The logits export names the copied module, the class-map export accuracy_check's own adapter."""
    logits, class_map = (ac_exports[n] / "accuracy-check.yml" for n in ("ncs2", "ncs2-class-map"))
    assert "segmentation_channels_first" in logits.read_text() and (ac_exports["ncs2"] / "enet_edge_accuracy_check.py").is_file()
    assert 'type: "segmentation"' in class_map.read_text()
    assert not (ac_exports["ncs2-class-map"] / "enet_edge_accuracy_check.py").exists()
