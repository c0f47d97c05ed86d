"""The NCS2 user's runtime stack in a throwaway venv: OpenVINO 2022.3 (the last release with the MYRIAD
plugin, whose IR reader and op versions the stick's plugin shares) on a Python 3.8-3.10, installed from
``requirements-ncs2.txt`` exactly as docs/ncs2.md tells users to.

OpenVINO 2022.3 has no wheels for Python >= 3.11, so the venv is made from another interpreter: the newest
of python3.10 / python3.9 / python3.8 under pyenv (``$PYENV_ROOT/versions/3.X.*``) or on PATH. The venv lives
in build/ncs2-runtime-py3.X/ (git-ignored) and is reused while it works.
``run_legacy(script, *args)`` runs a Python script inside it (the repository on PYTHONPATH) and returns its
stdout.
"""

import os
import shutil
import subprocess
from pathlib import Path
from typing import Optional

from enet_edge.export.myriad.compiler import find_python as _find_python  # the MYRIAD X compiler's venv is found the same way

REPO = Path(__file__).resolve().parents[1]
REQUIREMENTS = REPO / "requirements-ncs2.txt"
LEGACY_SERIES = "2022.3"
PYTHONS = ("3.10", "3.9", "3.8")


def find_python(versions=PYTHONS) -> Optional[Path]:
    """The first working interpreter of ``versions`` (newest first): pyenv's installs, then PATH; None if none."""
    return _find_python(versions)


def _venv_python(requirements: Path, pythons, prefix: str, probe: str, series: str, why: str) -> Path:
    """Python of the venv ``build/<prefix>-py3.X`` holding ``requirements`` (made from the newest of ``pythons``
    found, on first use; needs PyPI) whose OpenVINO, as ``probe`` prints it, starts with ``series``."""
    base = find_python(pythons)
    if base is None:
        raise AssertionError(why)
    version = subprocess.run([str(base), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    root = REPO / "build" / f"{prefix}-py{version}"
    python = root / "bin" / "python"
    stamp = root / ".ok"
    if stamp.is_file() and python.is_file() and stamp.read_text() == requirements.read_text():
        return python
    shutil.rmtree(root, ignore_errors=True)
    subprocess.run([str(base), "-m", "venv", str(root)], check=True)
    done = subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "-r",
                           str(requirements)], capture_output=True, text=True)
    if done.returncode != 0:  # e.g. "No matching distribution found for ..." (a pin without wheels for this Python)
        errors = [line for line in (done.stderr + done.stdout).splitlines() if "ERROR" in line] or ["no output"]
        raise AssertionError(f"pip install -r {requirements.name} failed on Python {version} ({base}):\n"
                             + "\n".join(errors[-5:]))
    check = subprocess.run([str(python), "-c", probe], check=True, capture_output=True, text=True)
    assert check.stdout.startswith(series), check.stdout
    stamp.write_text(requirements.read_text())
    return python


def legacy_python() -> Path:
    """Python of the NCS2-runtime venv (OpenVINO 2022.3 from ``requirements-ncs2.txt``), created on first use."""
    return _venv_python(REQUIREMENTS, PYTHONS, "ncs2-runtime", "import openvino.runtime as ov; print(ov.get_version())",
                        LEGACY_SERIES, "the NCS2 runtime checks need a Python 3.8-3.10 (OpenVINO 2022.3 has no wheels "
                        "for newer ones): put python3.10 on PATH or install it with pyenv")


def legacy_version() -> str:
    """The OpenVINO build string of the venv, e.g. ``2022.3.2-9279-...``."""
    return run_legacy("import openvino.runtime as ov; print(ov.get_version())").strip()


def run_legacy(code: str, *args: str, env=None, timeout: int = 600) -> str:
    """Run ``code`` (a Python source string) in the NCS2-runtime venv with ``args``; return stdout.

    The enet_edge package is put on PYTHONPATH so the runner itself can be tested there.
    """
    python = legacy_python()
    environment = dict(os.environ if env is None else env)
    environment["PYTHONPATH"] = str(REPO)
    done = subprocess.run([str(python), "-c", code, *args], capture_output=True, text=True, env=environment,
                          timeout=timeout)
    if done.returncode != 0:
        raise AssertionError(f"legacy OpenVINO run failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout


PIP_ROUTE_REQUIREMENTS = REPO / "requirements-ncs2-pip.txt"
PIP_ROUTE_SERIES = "2021.4"
PIP_ROUTE_PYTHONS = ("3.9", "3.8")
"""Every Python the pip route is promised on (requirements-ncs2-pip.txt, docs/ncs2.md): each is tested."""


def pip_route_python(version: str) -> Path:
    """Python of the pip-route venv on Python ``version`` (one of :data:`PIP_ROUTE_PYTHONS`): OpenVINO 2021.4.2 from
    ``requirements-ncs2-pip.txt``, the last PyPI wheel with the MYRIAD plugin, created in build/ncs2-pip-py3.X/ on
    first use (needs PyPI; ~10 s with pip's cache warm) and reused while the file is unchanged. No such Python here
    is a failure, never a skip: the route is promised on each of them."""
    python = _venv_python(PIP_ROUTE_REQUIREMENTS, (version,), "ncs2-pip",
                          "from openvino.inference_engine import get_version; print(get_version())", PIP_ROUTE_SERIES,
                          f"the pip route to the stick is promised on Python {version} (requirements-ncs2-pip.txt, "
                          f"docs/ncs2.md) but no python{version} was found under pyenv or on PATH: install it "
                          f"(pyenv install {version}) to test the route there")
    assert python.parent.parent.name == f"ncs2-pip-py{version}", python
    return python


def run_cli(python: Path, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """``enet-edge ARGS`` in the venv of ``python`` (the repository on PYTHONPATH, no TensorFlow there)."""
    environment = dict(os.environ)
    environment["PYTHONPATH"] = str(REPO)
    return subprocess.run([str(python), "-m", "enet_edge.cli", *args], capture_output=True, text=True,
                          env=environment, timeout=timeout)
