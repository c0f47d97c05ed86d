"""The package works installed from a wheel, away from the repository, and checks need no TensorFlow.

The wheel is built once from a copy of this checkout; then, each from a directory outside the repository:

* export install: the wheel installed (not editable) in a throwaway venv that borrows ``.venv``'s
  packages (TensorFlow, tf2onnx, ...) through a ``.pth`` line, exports ncs2 at 64x96 with the weights
  shipped *in the wheel*;
* runtime install: the wheel with its runtime dependencies only (from PyPI; no TensorFlow, no onnx)
  runs ``check``, ``bench``, ``eval`` and ``demo`` on that export.
"""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from importlib.util import find_spec
from pathlib import Path

import pytest

from conftest import REPO, SMALL_SIZE, camvid_dir

TOP_LEVEL_SKIP = {".git", ".venv", "build", "dist", "runs", ".pytest_cache", ".whl", ".gl"}
TARGETS = ("ncs2", "cpu", "cpu-int8", "ncs1")
ENV = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
ENV["TF_CPP_MIN_LOG_LEVEL"] = "3"


def _run(args, cwd, timeout=300):
    args = [str(a) for a in args]
    proc = subprocess.run(args, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, (f"{' '.join(args)} exited {proc.returncode}\n--- stdout\n{proc.stdout[-4000:]}"
                                  f"\n--- stderr\n{proc.stderr[-4000:]}")
    return proc.stdout


def _venv(path: Path) -> Path:
    """A bare venv (no pip: .venv's pip installs into it with ``--python``); its interpreter."""
    venv.create(path, with_pip=False, clear=True)
    return path / "bin" / "python"


def _pip_install(python: Path, *args, cwd):
    return _run([sys.executable, "-m", "pip", "--python", python, "install", "-q", "--disable-pip-version-check",
                 *args], cwd=cwd, timeout=600)


def _probe(python: Path, code: str, cwd, *args):
    """The JSON that ``code`` prints last."""
    return json.loads(_run([python, "-c", code, *args], cwd=cwd).strip().splitlines()[-1])


# --------------------------------------------------------------------------------------------
# check without TensorFlow (fast: a tiny ncs2-like export with a frozen graph)
# --------------------------------------------------------------------------------------------

BLOCKED_CHECK = """
import io, json, os, sys
from contextlib import redirect_stderr, redirect_stdout
for name in ("tensorflow", "keras", "tf2onnx"):
    sys.modules[name] = None  # any import of them raises ImportError
from enet_edge.cli import main
results = {}
for path in sys.argv[1:]:
    out, err = io.StringIO(), io.StringIO()
    # the MYRIAD X compiler (a Python 3.9 process of its own, ~5 s a model) once, on the directory (its enet.onnx,
    # the same file as the single .onnx)
    compile = [] if os.path.isdir(path) else ["--compile", "no"]
    with redirect_stdout(out), redirect_stderr(err):
        rc = main(["check", path, "--target", "ncs2", *compile])
    results[path] = [rc, out.getvalue(), err.getvalue()]
loaded = sorted(m for m, mod in sys.modules.items() if mod is not None and m.split(".")[0] in ("tensorflow", "keras"))
print(json.dumps({"results": results, "loaded": loaded}))
"""


def test_check_of_ir_onnx_and_export_dir_never_imports_tensorflow(tmp_path):
    pytest.importorskip("tensorflow")  # to write the frozen graph the check must leave alone
    from tiny_models import tiny_export

    exp = tiny_export(tmp_path / "ncs2", target="ncs2", precision="FP16", device="MYRIAD", frozen_graph=True)
    paths = [exp / "enet.xml", exp / "enet.onnx", exp, exp / "enet_frozen.pb"]
    got = _probe(sys.executable, BLOCKED_CHECK, tmp_path, *paths)
    assert got["loaded"] == []
    res = {Path(p): r for p, r in got["results"].items()}
    assert res[exp / "enet.xml"][0] == 0 and "ok against myriad_2022_3" in res[exp / "enet.xml"][1]
    assert res[exp / "enet.onnx"][0] == 0 and "ok against onnx_myriad" in res[exp / "enet.onnx"][1]
    rc, out, _ = res[exp]
    assert rc == 0 and "enet_frozen.pb: not checked (reading a frozen GraphDef needs TensorFlow" in out
    assert "enet.xml: ok" in out and "enet.onnx: ok" in out
    rc, out, err = res[exp / "enet_frozen.pb"]  # asked for explicitly: a one-line error, no traceback
    assert rc == 2 and out == "target ncs2 (--target)\n"  # the header `check` prints first, nothing more
    assert err.strip().count("\n") == 0 and "needs TensorFlow" in err


# --------------------------------------------------------------------------------------------
# the wheel
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The wheel, built from a copy of the checkout (an in-tree build would write build/ and stale
    build/lib files could end up in it)."""
    root = tmp_path_factory.mktemp("wheel")
    src = root / "src"
    shutil.copytree(REPO, src, ignore=lambda d, names: [
        n for n in names if n == "__pycache__" or n.endswith((".pyc", ".egg-info"))
        or (Path(d) == REPO and n in TOP_LEVEL_SKIP)])
    # offline with the build backend in .venv (setuptools; wheel for setuptools < 70.1), else pip fetches it
    offline = ["--no-build-isolation"] if find_spec("setuptools") and find_spec("wheel") else []
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--disable-pip-version-check", *offline,
          src, "-w", root / "dist"], cwd=root)
    (whl,) = (root / "dist").glob("enet_edge-*.whl")
    return whl


@pytest.fixture(scope="module")
def away(tmp_path_factory):
    """A working directory outside the repository."""
    path = tmp_path_factory.mktemp("away")
    assert REPO not in path.resolve().parents
    return path


@pytest.mark.slow
def test_wheel_ships_targets_rulesets_tables_and_weights(wheel):
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        shipped = {
            **{f"enet_edge/data/targets/{p.name}": p for p in (REPO / "export").glob("*.toml")},
            **{f"enet_edge/data/rulesets/{p.name}": p for p in (REPO / "enet_edge/data/rulesets").glob("*.toml")},
            "enet_edge/data/realization_ops.toml": REPO / "enet_edge/data/realization_ops.toml",
            "enet_edge/data/weights/enet_camvid.npz": REPO / "weights/enet_camvid.npz",
            "enet_edge/data/weights/enet_camvid.json": REPO / "weights/enet_camvid.json",
        }
        assert {f"enet_edge/data/targets/{t}.toml" for t in TARGETS} <= set(shipped)
        assert len([n for n in shipped if "/rulesets/" in n]) >= 5
        for name, source in shipped.items():
            assert name in names, f"{name} is missing from {wheel.name}"
            assert zf.read(name) == source.read_bytes(), f"{name} in the wheel differs from {source}"
        assert "enet_edge/runtime/__init__.py" in names
        modules = {p.relative_to(REPO).as_posix() for p in (REPO / "enet_edge").rglob("*.py")}  # every subpackage
        assert not modules - names, f"pyproject's packages miss {sorted(modules - names)}"
        assert not [n for n in names if n.startswith(("export/", "weights/", "tests/"))]


@pytest.mark.slow
def test_wheel_metadata_declares_the_extras(wheel):
    import tomllib

    from packaging.requirements import Requirement

    with zipfile.ZipFile(wheel) as zf:
        (meta,) = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        lines = zf.read(meta).decode().splitlines()
    extras = {line.split(":", 1)[1].strip() for line in lines if line.startswith("Provides-Extra:")}
    assert {"export", "ncs2", "dev"} <= extras
    requires = [Requirement(line.split(":", 1)[1].strip()) for line in lines if line.startswith("Requires-Dist:")]

    def declared(extra):
        return {str(r).split(";")[0].replace(" ", "") for r in requires
                if r.marker is not None and f'extra == "{extra}"' in str(r.marker)}

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert declared("export") == {r.replace(" ", "") for r in project["optional-dependencies"]["export"]}
    ncs2 = {r.name: r for r in requires if r.marker is not None and 'extra == "ncs2"' in str(r.marker)}
    assert set(ncs2) == {"openvino", "numpy", "opencv-python-headless"}
    for r in ncs2.values():  # MYRIAD needs OpenVINO 2022.3: Python 3.7-3.10 wheels only
        assert r.marker.evaluate({"python_version": "3.10", "extra": "ncs2"})
        assert not r.marker.evaluate({"python_version": "3.11", "extra": "ncs2"})
    assert "2022.3.2" in ncs2["openvino"].specifier and "2023.0.0" not in ncs2["openvino"].specifier
    assert "2.0.0" not in ncs2["numpy"].specifier
    base_old = {r.name: r for r in requires if r.marker is not None and "extra" not in str(r.marker)
                and r.marker.evaluate({"python_version": "3.8"})}
    assert "2.0.0" not in base_old["numpy"].specifier and "tomli" in base_old


# --------------------------------------------------------------------------------------------
# installed away from the repository
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def export_venv(wheel, tmp_path_factory, away):
    """The wheel installed non-editable; TensorFlow & co. borrowed from .venv through a .pth line."""
    root = tmp_path_factory.mktemp("export-venv")
    python = _venv(root / "venv")
    _pip_install(python, "--no-deps", wheel, cwd=away)
    site = Path(_probe(python, "import json, sysconfig; print(json.dumps(sysconfig.get_paths()['purelib']))", away))
    borrowed = dict.fromkeys(sysconfig.get_paths()[k] for k in ("purelib", "platlib"))
    # a path line only: .venv's own .pth files (the editable finder) are not processed from it
    (site / "zz_borrow_dev_venv.pth").write_text("".join(f"{p}\n" for p in borrowed))
    return python


@pytest.fixture(scope="module")
def exported(export_venv, away, tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel-export") / "ncs2"
    enet_edge = export_venv.parent / "enet-edge"
    _run([enet_edge, "export", "--target", "ncs2", "--out", out, "--height", SMALL_SIZE[0], "--width", SMALL_SIZE[1],
          "--data-dir", camvid_dir()], cwd=away, timeout=600)
    return out


@pytest.mark.slow
def test_export_from_the_installed_wheel(export_venv, exported, away):
    venv_dir = export_venv.parent.parent
    probe = _probe(export_venv, "import json, sys, enet_edge, tensorflow, enet_edge.resources as t; print(json.dumps("
                   "{'enet_edge': enet_edge.__file__, 'tensorflow': tensorflow.__file__, 'weights': str(t.DEFAULT_WEIGHTS),"
                   " 'targets': str(t.TARGET_DIR), 'editable': [m for m in sys.modules if '__editable__' in m]}))", away)
    assert Path(probe["enet_edge"]).is_relative_to(venv_dir), probe  # the wheel's copy, not the repository's
    assert not Path(probe["tensorflow"]).is_relative_to(venv_dir)  # borrowed from .venv
    assert probe["editable"] == []
    for key in ("weights", "targets"):
        assert Path(probe[key]).is_relative_to(venv_dir / "lib"), probe
    manifest = json.loads((exported / "manifest.json").read_text())
    assert manifest["target"] == "ncs2" and manifest["supported"]
    assert manifest["weights"]["trained"] and Path(manifest["weights"]["path"]).is_relative_to(venv_dir)
    assert all(check["ok"] for check in manifest["checks"].values())
    assert {"enet_frozen.pb", "enet.onnx", "enet.xml", "enet.bin"} <= {p.name for p in exported.iterdir()}


@pytest.fixture(scope="module")
def runtime_venv(wheel, tmp_path_factory, away):
    """The wheel with its runtime dependencies from PyPI, nothing else."""
    python = _venv(tmp_path_factory.mktemp("runtime-venv") / "venv")
    _pip_install(python, wheel, cwd=away)
    return python


@pytest.mark.slow
def test_runtime_install_runs_check_bench_eval_demo(runtime_venv, exported, away):
    venv_dir = runtime_venv.parent.parent
    probe = _probe(runtime_venv, "import importlib.util as u, json, enet_edge; print(json.dumps({'enet_edge': "
                   "enet_edge.__file__, 'missing': [m for m in ('tensorflow', 'keras', 'onnx', 'tf2onnx') "
                   "if u.find_spec(m) is None]}))", away)
    assert Path(probe["enet_edge"]).is_relative_to(venv_dir)
    assert probe["missing"] == ["tensorflow", "keras", "onnx", "tf2onnx"]
    enet_edge, camvid = runtime_venv.parent / "enet-edge", camvid_dir()

    out = _run([enet_edge, "check", exported, "--target", "ncs2"], cwd=away)
    assert "enet.xml: ok against myriad_2022_3" in out and "enet_frozen.pb: not checked" in out
    proc = subprocess.run([str(enet_edge), "check", exported, "--target", "nope"], cwd=away, env=ENV,
                          capture_output=True, text=True)
    assert proc.returncode == 2 and f"available: {', '.join(sorted(TARGETS))}" in proc.stderr

    _run([enet_edge, "bench", exported, "-n", 3, "--warmup", 1, "-q", "--json", away / "bench.json"], cwd=away)
    assert json.loads((away / "bench.json").read_text())

    _run([enet_edge, "eval", exported, "--data-dir", camvid, "--limit", 2, "--no-progress",
          "--json", away / "eval.json"], cwd=away)
    assert json.loads((away / "eval.json").read_text())

    _run([enet_edge, "demo", "--no-show", "--model", exported, "--source", camvid / "val", "--limit", 2,
          "--output", f"{away / 'demo'}/"], cwd=away)
    assert len(list((away / "demo").glob("*.png"))) == 2


@pytest.mark.slow
def test_make_wheel_builds_the_wheel_the_docs_name():
    """`make wheel` (README's stick route) writes dist/enet_edge-<version>-py3-none-any.whl from the tracked files,
    with the package data a device needs."""
    import tomllib

    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    done = subprocess.run(["make", "wheel"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    wheel = REPO / "dist" / f"enet_edge-{version}-py3-none-any.whl"
    assert f"dist/{wheel.name}" in done.stdout.splitlines()  # make wheel names it (a nested make adds its own lines)
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    assert {"enet_edge/cli.py", "enet_edge/data/targets/ncs2.toml", "enet_edge/data/weights/enet_camvid.npz"} <= names
