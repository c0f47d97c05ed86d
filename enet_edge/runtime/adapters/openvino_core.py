"""OpenVINO, the install: imported through calls that exist in 2022.3 and in the current release, its
version, devices and their capabilities, and its messages made readable (numpy-free).

``openvino.runtime.Core`` is used where the top-level ``openvino.Core`` is missing; OpenVINO 2021.4 (only the
Inference Engine API) is run by :mod:`enet_edge.runtime.adapters.openvino_ie`. Every import goes
through the attribute ``enet_edge.runtime.adapters.import_openvino``, looked up at call time, so tests
substitute a simulated OpenVINO there (tests/simulated_cpu.py).
"""

from __future__ import annotations

import ctypes
import importlib.util
import re
from pathlib import Path
from typing import List, Optional, Tuple

from enet_edge.errors import DeviceError


def import_openvino():
    """The OpenVINO module exposing ``Core`` (top level in 2023.1+, ``openvino.runtime`` in 2022.3)."""
    try:
        import openvino as ov
    except ImportError as exc:
        raise DeviceError("OpenVINO is not installed: pip install openvino") from exc
    if hasattr(ov, "Core"):
        return ov
    try:
        from openvino import runtime  # 2022.3 API 2.0
    except ImportError as exc:
        raise DeviceError(f"this OpenVINO has no 2.0 API (openvino.runtime): install openvino>=2022.3, or for "
                          f"OpenVINO 2021.4 open the model with enet-edge's commands, which run it ({exc})") from exc
    return runtime


def openvino_api() -> Optional[str]:
    """Which OpenVINO API is installed: ``"2.0"`` (``openvino.Core`` or ``openvino.runtime``, 2022.1+), ``"ie"``
    (``openvino.inference_engine`` only: 2021.4, the last PyPI wheel with the MYRIAD plugin), None (no OpenVINO)."""
    try:
        import openvino
    except ImportError:
        return None
    if hasattr(openvino, "Core") or importlib.util.find_spec("openvino.runtime") is not None:
        return "2.0"
    return "ie" if importlib.util.find_spec("openvino.inference_engine") is not None else None


def preload_libusb() -> None:
    """Load PyPI libusb-package's libusb-1.0 where it is installed, so that OpenVINO 2021.4's MYRIAD plugin finds
    it without the system package; nothing otherwise (the system's is used)."""
    try:
        import libusb_package
    except ImportError:
        return
    library = Path(libusb_package.__file__).parent / "libusb-1.0.so"
    if library.is_file():
        ctypes.CDLL(str(library), mode=ctypes.RTLD_GLOBAL)


def openvino_module():
    """``enet_edge.runtime.adapters.import_openvino()``, looked up now (tests replace that attribute)."""
    from enet_edge.runtime import adapters

    return adapters.import_openvino()


def openvino_version() -> str:
    """OpenVINO's build string, e.g. ``2023.0.2-11065-...``; raises :class:`DeviceError` when not installed."""
    if openvino_api() == "ie":
        from openvino.inference_engine import get_version

        return str(get_version())
    return str(openvino_module().get_version())


def openvino_devices() -> List[str]:
    if openvino_api() == "ie":
        preload_libusb()
        from openvino.inference_engine import IECore

        return list(IECore().available_devices)
    return list(openvino_module().Core().available_devices)


def openvino_capabilities(device: str = "CPU") -> Tuple[str, ...]:
    """``device``'s OPTIMIZATION_CAPABILITIES as OpenVINO reports them, e.g. ``("FP32", "BF16", "INT8", ...)``.

    What decides which precisions a CPU computes in (BF16 on Zen 4 / Sapphire Rapids, FP16 with AMX-FP16);
    () where the device reports none. Raises :class:`DeviceError` when OpenVINO is not installed.
    """
    return device_capabilities(openvino_module().Core(), device)


VIRTUAL_DEVICES = ("AUTO", "HETERO", "MULTI", "BATCH")
MYRIAD_HELP = ("; the Neural Compute Stick 2 (MYRIAD) needs OpenVINO 2022.3 LTS, the last release with the MYRIAD "
               "plugin (this is OpenVINO {version}): on Python 3.8-3.10, the OpenVINO 2022.3 archive (PyPI's openvino "
               "wheels never included the MYRIAD plugin) with its setupvars.sh sourced, the stick plugged in and its udev "
               "rules installed (docs/ncs2.md)")
MYRIAD_NO_PLUGIN = ("; this OpenVINO {version} has no MYRIAD plugin: PyPI's openvino wheels never included it (its licence "
                    "differs). Install the OpenVINO 2022.3 archive and source its setupvars.sh, so that its Python API "
                    "(with the plugin) is the one imported (docs/ncs2.md)")
MYRIAD_NO_STICK = ("; OpenVINO {version} has the MYRIAD plugin but finds no stick: plug the Neural Compute Stick 2 in "
                   "and install its udev rules (docs/ncs2.md)")


def request_devices(device: str) -> Tuple[str, ...]:
    """The devices an ``AUTO:``/``MULTI:`` name spreads whole inference requests over, in its order
    (``MULTI:MYRIAD.1.1-ma2480,MYRIAD.1.2-ma2480`` -> both sticks); () for one device, for a bare ``AUTO`` (it
    picks) and for ``HETERO:``/``BATCH:`` (they split or batch each request, not spread requests)."""
    head, _, rest = str(device).partition(":")
    if head.upper() not in ("AUTO", "MULTI") or not rest:
        return ()
    return tuple(name.strip() for name in rest.split(",") if name.strip())


def myriad_help(core, version: str) -> str:
    """Why MYRIAD is not among ``core``'s devices: OpenVINO >= 2023.0 (no plugin at all), a 2022.3 without the
    plugin (the PyPI wheels), or a plugin that finds no stick."""
    if not version.startswith(("2022.", "2021.")):
        return MYRIAD_HELP.format(version=version)
    try:
        core.get_versions("MYRIAD")  # loads the plugin: raises where it is not registered or not loadable
    except (RuntimeError, TypeError, AttributeError):
        return MYRIAD_NO_PLUGIN.format(version=version)
    return MYRIAD_NO_STICK.format(version=version)


# OpenVINO prefixes its messages with source locations ("Exception from src/...:84:", "Check '...' failed at ...:")
_OV_NOISE = re.compile(r"^(Exception from \S+:\d+:?|Check '.*' failed at \S+:\d+:?|Loading input model|Converting input model)$")


def ov_message(exc: BaseException) -> str:
    """The informative part of an OpenVINO exception message, on one line."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    useful = [line for line in lines if not _OV_NOISE.match(line)]
    text = "; ".join(useful or lines)
    return text or type(exc).__name__


def newer_opset_hint(exc: BaseException) -> str:
    """Where an IR uses an opset this OpenVINO predates (a cpu export read by OpenVINO 2022.3, say): what to do."""
    found = re.search(r"unsupported opset: (opset\d+)", str(exc))
    if not found:
        return ""
    return (f" (this OpenVINO, {openvino_version().split('-')[0]}, predates {found.group(1)}: run the IR with a newer "
            f"OpenVINO, or use an ncs2 export, whose IR keeps to opset10 and runs on OpenVINO 2022.3 on CPU and MYRIAD)")


def check_device(core, device: str) -> None:
    """:class:`DeviceError` unless ``core`` has ``device`` (each device of an AUTO/HETERO/MULTI/BATCH list);
    the message lists the available devices, and for MYRIAD says why it is missing."""
    available = list(core.available_devices)
    if not device:
        raise DeviceError(f"no device given; available_devices: {', '.join(available) or 'none'}")
    head, _, rest = device.partition(":")
    wanted = rest.split(",") if head in VIRTUAL_DEVICES else [device]
    for name in wanted:
        base = name.split(".")[0]
        if not name or base in VIRTUAL_DEVICES:
            continue
        if not any(a == name or (a.split(".")[0] == base and "." not in name) for a in available):
            raise DeviceError(f"device {name} is not available; available_devices: {', '.join(available) or 'none'}"
                              + (myriad_help(core, openvino_version().split("-")[0]) if base == "MYRIAD" else ""))


def device_capabilities(core, device: str) -> Tuple[str, ...]:
    """The device's OPTIMIZATION_CAPABILITIES (FP32, FP16, BF16, INT8 ...); () where it reports none."""
    try:
        return tuple(str(c) for c in core.get_property(device.partition(":")[0], "OPTIMIZATION_CAPABILITIES"))
    except (RuntimeError, TypeError):
        return ()


def supported_properties(core, device: str) -> Tuple[str, ...]:
    """The properties ``device`` lists as supported (SUPPORTED_PROPERTIES); () where it lists none."""
    try:
        return tuple(core.get_property(device.partition(":")[0], "SUPPORTED_PROPERTIES"))
    except (RuntimeError, TypeError):
        return ()
