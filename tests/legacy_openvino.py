"""A throwaway venv with an old OpenVINO (2023.0.2: the oldest on Python 3.11, same IR reader
generation as 2022.3, the last MYRIAD release) to prove exported IRs load there.

The venv lives in build/legacy-openvino-<version>/ (git-ignored) and is reused while it works.
``run_legacy(script, *args)`` runs a Python script inside it and returns its stdout.
"""

import os
import subprocess
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LEGACY_VERSION = "2023.0.2"
# numpy 2 breaks OpenVINO 2023.0's compiled bindings; 1.26 is the last 1.x for Python 3.11
LEGACY_REQUIREMENTS = [f"openvino=={LEGACY_VERSION}", "numpy==1.26.4", "opencv-python-headless==4.8.1.78"]


def legacy_python() -> Path:
    """Python of the legacy venv, created on first use (needs PyPI)."""
    root = REPO / "build" / f"legacy-openvino-{LEGACY_VERSION}"
    python = root / "bin" / "python"
    stamp = root / ".ok"
    if stamp.is_file() and python.is_file():
        return python
    venv.EnvBuilder(with_pip=True, clear=True).create(root)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *LEGACY_REQUIREMENTS], check=True)
    check = subprocess.run([str(python), "-c", "import openvino.runtime as ov; print(ov.get_version())"],
                           check=True, capture_output=True, text=True)
    assert LEGACY_VERSION in check.stdout, check.stdout
    stamp.write_text(check.stdout)
    return python


def run_legacy(code: str, *args: str, env=None, timeout: int = 600) -> str:
    """Run ``code`` (a Python source string) in the legacy venv with ``args``; return stdout.

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
