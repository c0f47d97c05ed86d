"""The stick's own compiler in the loop: OpenVINO 2021.4.2's MYRIAD X graph compiler, run without a stick.

PyPI's ``openvino==2021.4.2`` (CPython 3.6-3.9, x86_64) is the last wheel that ships ``libmyriadPlugin.so``. With
``VPU_MYRIAD_PLATFORM=VPU_MYRIAD_2480`` its graph transformer runs every pass with no device attached and dumps the
compiled graph (``MYRIAD_DUMP_INTERNAL_GRAPH_FILE_NAME``, Graphviz dot); it refuses a model it cannot build with the
layer's name (``Failed to compile layer "s": unsupported layer type "ScatterNDUpdate"``). It reads ONNX and IR v10,
not IR v11: the export compiles its ONNX, which 2022.3's MYRIAD plugin would build through the same graph transformer
(docs/ncs2.md).

This module has no TensorFlow or OpenVINO dependency (``enet-edge check`` uses it): the compiler runs in a venv of a
Python <= 3.9 (:func:`compiler_python`), driven by ``driver.py``; :func:`parse_dump` and :func:`summarize`
(:mod:`enet_edge.export.myriad.dump`, re-exported here) read its dump, and
:func:`~enet_edge.export.myriad.timemodel.predict` prices it (``predicted`` of a compiled record).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from enet_edge.errors import CompatibilityError, ConfigError
from enet_edge.export.myriad.dump import (MIB, NOT_NCE_CATEGORIES, CompiledGraph, Stage, Tensor,  # noqa: F401
                                          parse_dump, stage_macs, summarize)
from enet_edge.export.myriad.timemodel import predict

COMPILER_RELEASE = "2021.4.2"
COMPILER_REQUIREMENTS = ("openvino==2021.4.2", "numpy>=1.16.6,<1.20", "libusb-package==1.0.26.3")
"""What the compiler's venv holds: the last openvino wheel with the MYRIAD plugin, its numpy, and a libusb-1.0
(the plugin links it; libusb-package ships one, so no system package is needed)."""
COMPILER_PYTHONS = ("3.9", "3.8")
"""openvino 2021.4.2 has wheels for CPython 3.6-3.9; newest first."""
PYTHON_ENV = "ENET_EDGE_MYRIADX_PYTHON"
"""A Python that already has ``openvino==2021.4.2`` (and libusb): used as is, no venv is made."""
CACHE_ENV = "ENET_EDGE_CACHE"
"""Where the compiler's venv is made (default ``$XDG_CACHE_HOME/enet-edge`` or ``~/.cache/enet-edge``)."""
DRIVER = Path(__file__).with_name("driver.py")
DEFAULT_OPTIONS: Mapping[str, str] = {}

# -- the compiler's Python ------------------------------------------------------------------------------


def find_python(versions: Sequence[str] = COMPILER_PYTHONS) -> Optional[Path]:
    """The first interpreter of ``versions`` (newest first) that starts: pyenv's installs, then PATH; None if none."""
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    for version in versions:
        installed = sorted(root.glob(f"{version}.*/bin/python{version}"),
                           key=lambda p: [int(n) for n in re.findall(r"\d+", p.parts[-3])], reverse=True)
        on_path = shutil.which(f"python{version}")
        for candidate in installed + ([Path(on_path)] if on_path else []):
            try:
                if subprocess.run([str(candidate), "-c", "pass"], capture_output=True, timeout=60).returncode == 0:
                    return candidate
            except (OSError, subprocess.TimeoutExpired):
                continue
    return None


def cache_dir() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "enet-edge"


class CompilerUnavailable(Exception):
    """No compiler can be run here; the message says why (it goes into the report as "not run")."""


def compiler_python(log=None) -> Path:
    """The Python of a venv with OpenVINO 2021.4.2's MYRIAD plugin: ``$ENET_EDGE_MYRIADX_PYTHON``, else a venv under
    :func:`cache_dir` made on first use (from a Python 3.9/3.8, with pip; ~1 min). :class:`CompilerUnavailable`
    says why when there is none."""
    if os.environ.get(PYTHON_ENV):
        python = Path(os.environ[PYTHON_ENV])
        if not python.is_file():
            raise CompilerUnavailable(f"${PYTHON_ENV}={python} is not a file")
        return python
    base = find_python()
    if base is None:
        raise CompilerUnavailable(f"no Python {' or '.join(COMPILER_PYTHONS)} found (OpenVINO {COMPILER_RELEASE}, "
                                  "the last release with the MYRIAD plugin on PyPI, has no wheels for newer ones); "
                                  f"install one (pyenv) or set ${PYTHON_ENV}")
    version = subprocess.run([str(base), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                             capture_output=True, text=True).stdout.strip()
    root = cache_dir() / f"myriadx-{COMPILER_RELEASE}-py{version}"
    python = root / "bin" / "python"
    stamp = root / ".installed"
    wanted = "\n".join(COMPILER_REQUIREMENTS)
    if stamp.is_file() and python.is_file() and stamp.read_text() == wanted:
        return python
    if log is not None:
        log(f"  setting up the MYRIAD X compiler (OpenVINO {COMPILER_RELEASE}, Python {version}) in {root}")
    staging = Path(tempfile.mkdtemp(prefix=f".{root.name}.", dir=_mkdir(root.parent)))
    try:
        steps = ([str(base), "-m", "venv", str(staging)],
                 [str(staging / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                  *COMPILER_REQUIREMENTS])
        for step in steps:
            done = subprocess.run(step, capture_output=True, text=True, timeout=900)
            if done.returncode != 0:
                tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
                raise CompilerUnavailable(f"could not install the MYRIAD X compiler ({' '.join(step[-3:])}): {tail[0]}")
        shutil.rmtree(root, ignore_errors=True)
        staging.rename(root)  # only `python -m` and `python FILE` are used: a moved venv's scripts are not
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CompilerUnavailable(f"could not set up the MYRIAD X compiler in {root}: {exc}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    stamp.write_text(wanted)
    return python


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


# -- compiling ------------------------------------------------------------------------------------------


_LAYER = re.compile(r'layer "([^"]+)"')


def check_options(options: Mapping[str, str]) -> Dict[str, str]:
    """``options`` as a dict; :class:`ConfigError` for a key that is no plugin config key or a value not a string."""
    for key, value in options.items():
        if not re.fullmatch(r"[A-Z][A-Z0-9_]*", str(key)) or not isinstance(value, str):
            raise ConfigError(f"MYRIAD compiler option {key}={value!r}: keys are the plugin's config keys "
                              "(e.g. MYRIAD_HW_DILATION), values strings (e.g. \"YES\")")
        if key in ("VPU_MYRIAD_PLATFORM", "MYRIAD_DUMP_INTERNAL_GRAPH_FILE_NAME"):
            raise ConfigError(f"MYRIAD compiler option {key} is set by enet-edge itself")
    return dict(options)


def not_run(reason: str, model: Optional[Path] = None) -> dict:
    """The record of a compile that could not run here (never a pass)."""
    return {"verdict": "not run", "reason": reason, **({"model": model.name} if model else {})}


IO_PRECISIONS = {"u8": "U8", "f16": "FP16", "f32": "FP32", "i32": "I32", "uint8": "U8", "float16": "FP16",
                 "float32": "FP32", "int32": "I32"}
"""The deployed IR's I/O element types (OpenVINO's or numpy's names) -> the 2021.4 API's precision names."""


def compile_model(model: Path, options: Mapping[str, str] = DEFAULT_OPTIONS, log=None, timeout: int = 600,
                  input_precision: Optional[str] = None, output_precision: Optional[str] = None) -> dict:
    """Compile ``model`` (.onnx, or an IR v10 .xml) with the MYRIAD X compiler; the manifest's record of it.

    ``input_precision``/``output_precision`` (e.g. ``u8``, ``f32``): the I/O element types the deployed IR has, set
    on the compiled network as an application would, so the compiled graph holds the same conversions.

    ``verdict``: ``compiled`` (the numbers of :func:`summarize`, and ``predicted``: the MYRIAD X time model's
    :func:`~enet_edge.export.myriad.timemodel.predict` of the graph), ``refused`` (``reason``: the compiler's message,
    ``layer``: the layer it named), or ``not run`` (``reason``: why not, e.g. no Python <= 3.9 here, or an IR v11
    that 2021.4.2 cannot read)."""
    options = check_options(options)
    model = Path(model)
    if model.suffix.lower() == ".xml":
        version = re.search(r'<net\b[^>]*\bversion="(\d+)"', model.read_text(errors="replace")[:4096])
        if version and version.group(1) != "10":
            return not_run(f"{model.name} is an IR v{version.group(1)}; OpenVINO {COMPILER_RELEASE}'s compiler reads "
                           "ONNX and IR v10 only: compile the export's enet.onnx (the same graph)", model)
    try:
        python = compiler_python(log)
    except CompilerUnavailable as exc:
        return not_run(str(exc), model)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="enet-edge-myriadx-") as tmp:
        dump = Path(tmp) / "graph.dot"
        command = [str(python), str(DRIVER), str(model.resolve()), str(dump)] + [f"{k}={v}" for k, v in options.items()]
        io = {"--input-precision": input_precision, "--output-precision": output_precision}
        for flag, value in io.items():
            if value is not None:
                if value not in IO_PRECISIONS:
                    raise ConfigError(f"{flag[2:]}={value!r}: one of {', '.join(IO_PRECISIONS)}")
                command += [flag, IO_PRECISIONS[value]]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=tmp)
        except subprocess.TimeoutExpired:
            return not_run(f"the MYRIAD X compiler did not finish in {timeout} s", model)
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        if done.returncode != 0 or not lines:
            tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
            return not_run(f"the MYRIAD X compiler's Python failed ({python}): {tail}", model)
        result = json.loads(lines[-1])
        record = {"model": model.name, "compiler": f"OpenVINO {result['version']} MYRIAD plugin",
                  "platform": "VPU_MYRIAD_2480 (Myriad X, NCS2)", "python": str(python),
                  "options": options, "io_precisions": {k[2:]: v for k, v in io.items() if v}, "seconds": round(time.perf_counter() - start, 1)}
        if result["stage"] == "read":
            return {**not_run(f"OpenVINO {COMPILER_RELEASE} cannot read {model.name}: "
                              f"{_first_line(result['message'])} (it reads ONNX and IR v10, not IR v11; "
                              "compile the export's enet.onnx)", model), **record}
        if result["stage"] != "done":
            layer = _LAYER.search(result["message"])
            return {**record, "verdict": "refused", "reason": _first_line(result["message"]),
                    "layer": layer.group(1) if layer else None}
        if not dump.is_file():
            return {**record, **not_run("the compiler finished but wrote no graph dump", model)}
        graph = parse_dump(dump.read_text())
    return {**record, "verdict": "compiled", "device_found": bool(result.get("device_found")), **summarize(graph),
            "predicted": predict(graph)}


def _first_line(message: str) -> str:
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    return re.sub(r"\x1b\[[0-9;]*m", "", lines[-1] if lines else "no message")


def raise_if_refused(record: dict, target: str) -> None:
    """:class:`CompatibilityError` naming the layer when the compiler refused the model."""
    if record.get("verdict") == "refused":
        layer = f" at layer {record['layer']!r}" if record.get("layer") else ""
        raise CompatibilityError(f"target {target}: the MYRIAD X compiler ({record.get('compiler')}) refused "
                                 f"{record.get('model')}{layer}: {record['reason']}")


def summary_line(record: dict) -> str:
    """One line for the export summary and ``check``: the verdict (with the options compiled with), the stages and the
    non-NCE traffic, or the refusal."""
    verdict = record.get("verdict")
    if verdict == "compiled":
        s, t = record["stages"], record["traffic_mib"]
        options = " ".join(f"{k}={v}" for k, v in (record.get("options") or {}).items())
        return (f"compiled{' with ' + options if options else ''}: {s['executed']} executed stages ({s['NCE']} NCE, {s['SHAVE']} SHAVE, {s['DMA']} DMA; "
                f"+{s['injected']} injected, {s['special']} special); non-NCE traffic {t['non_nce']:.0f} MiB/frame")
    if verdict == "refused":
        return f"REFUSED{' at layer ' + repr(record['layer']) if record.get('layer') else ''}: {record['reason']}"
    return f"not run: {record.get('reason')}"


if __name__ == "__main__":  # pragma: no cover - a quick look: python -m enet_edge.export.myriad.compiler MODEL [K=V ...]
    print(json.dumps(compile_model(Path(sys.argv[1]), dict(a.split("=", 1) for a in sys.argv[2:]), print), indent=2))
