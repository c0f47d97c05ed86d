"""The pip route to the stick on x86: OpenVINO 2021.4.2 from PyPI (the last wheel with the MYRIAD plugin) in a
Python 3.9/3.8 venv made from ``requirements-ncs2-pip.txt`` as docs/ncs2.md tells users to. enet-edge's bench, eval
and demo run an ncs2 export there end to end on the CPU plugin (it reads the export's enet.onnx: 2021.4 cannot read
IR v11), and ``-d MYRIAD`` without a stick ends in one line that says what is missing."""

import json
import os
import subprocess

import numpy as np
import pytest

from legacy_openvino import REPO, pip_route_python, run_cli


@pytest.fixture(scope="module")
def pip_python():
    return pip_route_python()


def test_bench_eval_demo_run_on_openvino_2021_4(pip_python, small_exports, camvid, tmp_path):
    export = small_exports["ncs2"]
    done = run_cli(pip_python, "bench", str(export), "-n", "3", "--warmup", "1", "--json", str(tmp_path / "b.json"))
    assert done.returncode == 0, done.stderr[-3000:]
    doc = json.loads((tmp_path / "b.json").read_text())
    assert doc["model"].endswith("enet.onnx") and doc["backend"] == "openvino" and doc["niter"] == 3
    assert doc["properties"]["api"].startswith("Inference Engine 2021.4")
    assert doc["input"]["tensor"]["dtype"] == "uint8"  # the frame as OpenCV reads it; the plugin converts
    done = run_cli(pip_python, "bench", str(export), "-m", "throughput", "--nireq", "2", "-n", "4", "--warmup", "0")
    assert done.returncode == 0 and "2 requests in flight" in done.stdout, done.stderr[-3000:]
    done = run_cli(pip_python, "eval", str(export), "--data-dir", str(camvid), "--limit", "2", "--precision", "f32",
                   "--json", str(tmp_path / "e.json"))
    assert done.returncode == 0, done.stderr[-3000:]
    assert 0.0 < json.loads((tmp_path / "e.json").read_text())["miou"] <= 1.0
    done = run_cli(pip_python, "demo", "--model", str(export), "--source", str(camvid / "val" / "*.png"), "--no-show",
                   "--limit", "3", "--output", str(tmp_path / "frames"))
    assert done.returncode == 0 and "3 frames" in done.stdout, done.stderr[-3000:]
    assert len(list((tmp_path / "frames").glob("*.png"))) == 3


def test_myriad_without_a_stick_is_one_line(pip_python, small_exports, camvid):
    frames = str(camvid / "val" / "*.png")
    for command in (["bench", str(small_exports["ncs2"]), "-d", "MYRIAD", "-n", "1"],
                    ["demo", "--model", str(small_exports["ncs2"]), "-d", "MYRIAD", "--source", frames, "--no-show"]):
        done = run_cli(pip_python, *command)
        assert done.returncode != 0 and "Traceback" not in done.stderr
        (line,) = [ln for ln in done.stderr.splitlines() if ln.startswith("enet-edge")]
        assert "MYRIAD is not among OpenVINO 2021.4.2's devices" in line and "plug the Neural Compute Stick 2 in" in line


def test_the_pip_route_runs_what_the_current_openvino_runs(pip_python, small_exports, camvid, tmp_path):
    """The same class maps from the export's ONNX on 2021.4's CPU plugin and on the current OpenVINO (both f32)."""
    import cv2

    from enet_edge.runtime.segmenter import Segmenter

    files = sorted((camvid / "val").glob("*.png"))[:2]
    current = Segmenter.open(small_exports["ncs2"] / "enet.onnx", backend="openvino", precision="f32")
    ours = np.stack([current.infer(cv2.imread(str(f))).frame_class_map for f in files])
    code = ("import sys, json, cv2, numpy as np\n"
            "from enet_edge.runtime.segmenter import Segmenter\n"
            "s = Segmenter.open(sys.argv[1], precision='f32')\n"
            "np.save(sys.argv[2], np.stack([s.infer(cv2.imread(f)).frame_class_map for f in sys.argv[3:]]))\n"
            "print(json.dumps({'path': s.adapter.path, 'precision': s.adapter.precision}))\n")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run([str(pip_python), "-c", code, str(small_exports["ncs2"]), str(tmp_path / "m.npy"),
                           *map(str, files)], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    info = json.loads(done.stdout.strip().splitlines()[-1])
    assert info["path"].endswith("enet.onnx") and info["precision"] == "f32"
    assert np.mean(np.load(tmp_path / "m.npy") == ours) >= 0.999
