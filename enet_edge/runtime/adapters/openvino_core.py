"""OpenVINO, the install: imported through calls that exist in 2022.3 and in the current release, its
version, devices and their capabilities, and its messages made readable (numpy-free).

``openvino.runtime.Core`` is used where the top-level ``openvino.Core`` is missing. Every import goes
through the attribute ``enet_edge.runtime.adapters.import_openvino``, looked up at call time, so tests
substitute a simulated OpenVINO there (tests/simulated_cpu.py).
"""

from __future__ import annotations

import re
from typing import List, Tuple

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
        raise DeviceError(f"this OpenVINO has no 2.0 API (openvino.runtime); install openvino>=2022.3 ({exc})") from exc
    return runtime


def openvino_module():
    """``enet_edge.runtime.adapters.import_openvino()``, looked up now (tests replace that attribute)."""
    from enet_edge.runtime import adapters

    return adapters.import_openvino()


def openvino_version() -> str:
    """OpenVINO's build string, e.g. ``2023.0.2-11065-...``; raises :class:`DeviceError` when not installed."""
    return str(openvino_module().get_version())


def openvino_devices() -> List[str]:
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
