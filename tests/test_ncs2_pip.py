"""The pip route to the stick on x86: OpenVINO 2021.4.2 from PyPI (the last wheel with the MYRIAD plugin) in a venv
made from ``requirements-ncs2-pip.txt`` as docs/ncs2.md tells users to, on EVERY Python the route is promised on
(3.9 and 3.8: each test runs on both; a promised Python missing here fails, it is not skipped). enet-edge's bench,
eval and demo run an ncs2 export there end to end on the CPU plugin (it reads the export's enet.onnx: 2021.4 cannot
read IR v11), libusb-package's libusb-1.0 lets the MYRIAD plugin load, and ``-d MYRIAD`` without a stick ends in one
line that says what is missing."""

import json
import os
import subprocess

import numpy as np
import pytest

from legacy_openvino import PIP_ROUTE_PYTHONS, PIP_ROUTE_REQUIREMENTS, REPO, pip_route_python, run_cli


@pytest.fixture(scope="module", params=PIP_ROUTE_PYTHONS, ids=lambda version: f"py{version}")
def pip_python(request):
    return pip_route_python(request.param)


def test_the_pins_are_the_same_in_the_requirements_the_extra_and_the_compiler():
    """requirements-ncs2-pip.txt, pyproject's ncs2-pip extra and the MYRIAD X compiler's venv pin one libusb-package
    and one openvino (the file adds tomli; the compiler needs no OpenCV)."""
    from packaging.requirements import Requirement

    from enet_edge.export.myriad.compiler import COMPILER_REQUIREMENTS

    try:
        import tomllib
    except ImportError:  # Python < 3.11
        import tomli as tomllib

    lines = [line.split("#")[0].strip() for line in PIP_ROUTE_REQUIREMENTS.read_text().splitlines()]
    in_file = {r.name: r for r in map(Requirement, filter(None, lines))}
    extra = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]["ncs2-pip"]
    in_extra = {r.name: r for r in map(Requirement, extra)}
    compiler = {r.name: r for r in map(Requirement, COMPILER_REQUIREMENTS)}
    assert set(in_file) == set(in_extra) | {"tomli"} and set(compiler) == set(in_extra) - {"opencv-python-headless"}
    for name, requirement in in_extra.items():
        assert str(requirement) == str(in_file[name])
        assert name not in compiler or requirement.specifier == compiler[name].specifier
        for version in PIP_ROUTE_PYTHONS:  # the markers keep every promised Python
            assert requirement.marker is None or requirement.marker.evaluate({"python_version": version})


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


@pytest.mark.slow
@pytest.mark.parametrize("preload", ["runtime", "compiler"])
def test_libusb_package_lets_the_myriad_plugin_load(pip_python, preload):
    """enet-edge's preload (the runtime's, and the MYRIAD X compiler driver's) maps libusb-package's libusb-1.0.so,
    and with it 2021.4.2's MYRIAD plugin loads (without it: "Cannot load library ... libmyriadPlugin.so")."""
    load = {"runtime": "from enet_edge.runtime.adapters.openvino_core import preload_libusb\n"
                       "preload_libusb()\n",
            "compiler": "import importlib.util\n"
                        "spec = importlib.util.spec_from_file_location('driver', sys.argv[1])\n"
                        "driver = importlib.util.module_from_spec(spec)\n"
                        "spec.loader.exec_module(driver)\n"
                        "driver._preload_libusb()\n"}[preload]
    code = ("import json, sys\n" + load +
            "import libusb_package\n"
            "from openvino.inference_engine import IECore\n"
            "mapped = sorted({line.split()[-1] for line in open('/proc/self/maps') if 'libusb-1.0' in line})\n"
            "plugin = IECore().get_versions('MYRIAD')['MYRIAD']\n"
            "print(json.dumps({'mapped': mapped, 'package': libusb_package.__file__, 'plugin': plugin.description, "
            "'build': plugin.build_number}))\n")
    driver = REPO / "enet_edge" / "export" / "myriad" / "driver.py"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run([str(pip_python), "-c", code, str(driver)], capture_output=True, text=True, env=env,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    info = json.loads(done.stdout.strip().splitlines()[-1])
    package = os.path.dirname(info["package"])
    assert info["mapped"] and all(os.path.dirname(path) == package for path in info["mapped"]), info
    assert info["plugin"] == "myriadPlugin" and info["build"].startswith("2021.4.2"), info
