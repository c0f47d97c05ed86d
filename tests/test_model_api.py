"""Intel's own client reads our IRs unchanged: OpenVINO's model_api (``SegmentationModel.create_model(xml)``, the
wrapper the Open Model Zoo segmentation demo uses) gives the class maps of enet-edge's runner.

model_api is installed from PyPI in a throwaway venv that borrows ``.venv``'s OpenVINO, numpy and OpenCV (a path
line), so no enet-edge code is on its path: it reads the IR's ``rt_info/model_info`` and output layout alone.
"""

import subprocess
import sysconfig
from pathlib import Path

import numpy as np
import pytest

from helpers import throwaway_venv

MODEL_API = "openvino-model-api==0.4.7"
"""The model_api release the test reads our IRs with (Python >= 3.11, OpenVINO >= 2025.3: .venv's)."""
CLIENT = Path(__file__).with_name("model_api_client.py")


@pytest.fixture(scope="module")
def model_api_python(tmp_path_factory):
    python = throwaway_venv(tmp_path_factory.mktemp("model-api-venv"), MODEL_API, timeout=600)
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    borrowed = dict.fromkeys(sysconfig.get_paths()[k] for k in ("purelib", "platlib"))
    (Path(site) / "zz_borrow_dev_venv.pth").write_text("".join(f"{p}\n" for p in borrowed))
    return python


def _model_api_maps(python, xml, frames, tmp_path):
    np.savez(tmp_path / "frames.npz", frames=frames)
    done = subprocess.run([str(python), str(CLIENT), str(xml), str(tmp_path / "frames.npz"), str(tmp_path / "out.npz")],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    return np.load(tmp_path / "out.npz", allow_pickle=True)


@pytest.mark.parametrize("target", ["ncs2", "cpu", "cpu-int8"])
def test_model_api_gives_our_class_maps(model_api_python, small_exports, camvid_frames, target, tmp_path):
    """No configuration: labels, layout and output come from the IR. Frames at the model's size (model_api's own
    resize is then the identity); enet-edge asks for the precision model_api's CPU ran (model_api asks for none,
    so a BF16 CPU runs bf16 even where the IR's rt_info asks for f32, as the INT8 export's does: docs/model_api.md)."""
    from enet_edge.runtime.precision import normalize_precision
    from enet_edge.runtime.segmenter import Segmenter, resize_to_model

    directory = small_exports[target]
    size = Segmenter.open(directory).model_size
    frames = np.stack([resize_to_model(f, *size) for f in camvid_frames])
    theirs = _model_api_maps(model_api_python, directory / "enet.xml", frames, tmp_path)
    ours = Segmenter.open(directory, precision=normalize_precision(str(theirs["precision"])))
    assert list(theirs["labels"]) == list(ours.classes)
    assert int(theirs["out_channels"]) == len(ours.classes)  # the (1, K, H, W) logits read as K classes
    mine = np.stack([ours.infer(f).frame_class_map for f in frames])
    agreement = float(np.mean(theirs["maps"] == mine))
    assert agreement >= 0.99, f"{target}: model_api agrees with enet-edge on {agreement:.2%} of the pixels"
