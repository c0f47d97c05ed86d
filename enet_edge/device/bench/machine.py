"""The machine a benchmark ran on: CPU, cores, memory, OS, Python and runtime versions (JSON-ready)."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

import numpy as np

from enet_edge import __version__


def cpuinfo(path: str = "/proc/cpuinfo") -> Dict[str, Any]:
    """What ``/proc/cpuinfo`` says (Linux; ``{}`` where it cannot be read): ``cpu_model``, ``physical_cores``
    (distinct physical id / core id pairs) and ``flags`` (the first processor's feature flags, x86)."""
    info: Dict[str, Any] = {}
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return info
    cores = set()
    physical = core = None
    for line in text.splitlines():
        key, _, value = (part.strip() for part in line.partition(":"))
        if key in ("model name", "Model", "Hardware", "cpu model") and "cpu_model" not in info and value:
            info["cpu_model"] = value
        elif key == "flags" and "flags" not in info:
            info["flags"] = value.split()
        elif key == "physical id":
            physical = value
        elif key == "core id":
            core = value
        elif not key and physical is not None and core is not None:
            cores.add((physical, core))
            physical = core = None
    if physical is not None and core is not None:
        cores.add((physical, core))
    if cores:
        info["physical_cores"] = len(cores)
    return info


def _package_version(module: str, distributions: Sequence[str]) -> Optional[str]:
    loaded = sys.modules.get(module)
    if loaded is not None and getattr(loaded, "__version__", None):
        return str(loaded.__version__)
    try:
        from importlib import metadata
    except ImportError:  # Python < 3.8
        return None
    for dist in distributions:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return None


def machine_info() -> Dict[str, Any]:
    """CPU model, cores, memory, OS, Python and runtime versions of this machine (JSON-ready)."""
    info: Dict[str, Any] = {"hostname": platform.node(), "os": platform.platform(), "arch": platform.machine(),
                            "python": platform.python_version(), "logical_cores": os.cpu_count()}
    info.update({k: v for k, v in cpuinfo().items() if k != "flags"})
    info.setdefault("cpu_model", platform.processor() or platform.machine())
    if hasattr(os, "sched_getaffinity"):
        info["usable_cores"] = len(os.sched_getaffinity(0))
    if hasattr(os, "getloadavg"):
        info["loadavg"] = [round(v, 2) for v in os.getloadavg()]
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                info["memory_gb"] = round(int(line.split()[1]) / 2 ** 20, 1)
    except (OSError, ValueError, IndexError):
        pass
    versions: Dict[str, Optional[str]] = {"enet_edge": __version__, "numpy": np.__version__}
    try:
        from enet_edge.runtime.adapters import import_openvino
        from enet_edge.runtime.adapters.openvino_core import openvino_api, openvino_devices, openvino_version

        versions["openvino"] = openvino_version()
        if openvino_api() == "ie":  # OpenVINO 2021.4: the Inference Engine API (the pip route to the stick)
            info["openvino_devices"] = {name: "" for name in openvino_devices()}
        else:
            core = import_openvino().Core()
            devices = {}
            for name in core.available_devices:
                try:
                    devices[name] = str(core.get_property(name, "FULL_DEVICE_NAME"))
                except RuntimeError:
                    devices[name] = ""
            info["openvino_devices"] = devices
    except Exception:  # noqa: BLE001 - no or broken OpenVINO: the description just lacks it
        versions["openvino"] = None
    versions["onnxruntime"] = _package_version("onnxruntime", ("onnxruntime", "onnxruntime-openvino", "onnxruntime-gpu"))
    versions["opencv"] = _package_version("cv2", ("opencv-python-headless", "opencv-python",
                                                  "opencv-contrib-python", "opencv-contrib-python-headless"))
    tf = sys.modules.get("tensorflow")
    if tf is not None:  # report TensorFlow only where it was used; never import it here
        versions["tensorflow"] = getattr(tf, "__version__", None)
    info["versions"] = versions
    return info
