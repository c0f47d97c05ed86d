"""Run an IR the way a model_api user does, in the throwaway venv of tests/test_model_api.py (no enet-edge there).

    python model_api_client.py MODEL.xml FRAMES.npz OUT.npz

``SegmentationModel.create_model(xml)`` with no configuration: everything it needs must come from the IR's
rt_info. Writes the class maps of the frames (``maps``), what model_api read (``labels``, ``out_channels``) and the
inference precision the CPU ran (``precision``, e.g. ``bf16``: model_api asks for none).
"""

import sys

import numpy as np
from model_api.models import SegmentationModel


def main(xml: str, frames_path: str, out_path: str) -> None:
    model = SegmentationModel.create_model(xml, device="CPU", preload=True)
    frames = np.load(frames_path)["frames"]
    maps = np.stack([np.asarray(model(frame).resultImage) for frame in frames])
    ran = model.inference_adapter.compiled_model.get_property("INFERENCE_PRECISION_HINT")
    np.savez(out_path, maps=maps, labels=np.array(list(model.params.labels or []), dtype=object),
             out_channels=np.array(model.out_channels), precision=np.array(str(ran.get_type_name())))


if __name__ == "__main__":
    main(*sys.argv[1:4])
