"""Run OpenVINO 2021.4.2's MYRIAD X graph compiler on one model, with no stick: a script for the compiler's venv.

Not imported by enet_edge: :mod:`enet_edge.export.myriad.compiler` runs this file with the Python of a venv that holds
``openvino==2021.4.2`` (the last PyPI wheels with ``libmyriadPlugin.so``) and ``libusb-package``; it must stay
valid Python 3.6. Usage::

    python driver.py MODEL DUMP_DOT [KEY=VALUE ...] [--input-precision U8] [--output-precision FP16]

``load_network(net, "MYRIAD", {"VPU_MYRIAD_PLATFORM": "VPU_MYRIAD_2480", ...})`` runs every compiler pass and
writes the compiled graph to ``DUMP_DOT`` (``MYRIAD_DUMP_INTERNAL_GRAPH_FILE_NAME``); without a stick it then fails
creating an infer request, which is the sign that the compiler finished. The I/O precisions are set as an
application sets them (``input_info[...].precision``), so the graph has the conversions the deployed IR has.
Prints one JSON object on stdout:
``{"stage": "read"|"compile"|"done", "message": str, "version": str, "device_found": bool}``.
"""

import ctypes
import json
import os
import sys


def _preload_libusb():
    """libmyriadPlugin.so needs libusb-1.0.so.0: load libusb-package's copy (SONAME libusb-1.0.so.0) globally."""
    try:
        import libusb_package
    except ImportError:
        return
    folder = os.path.dirname(libusb_package.__file__)
    for name in sorted(os.listdir(folder)):
        if name.startswith("libusb-1.0") and ".so" in name:
            ctypes.CDLL(os.path.join(folder, name), mode=ctypes.RTLD_GLOBAL)
            return


def main(argv):
    model, dump = argv[1], argv[2]
    config = {"VPU_MYRIAD_PLATFORM": "VPU_MYRIAD_2480", "MYRIAD_DUMP_INTERNAL_GRAPH_FILE_NAME": dump}
    precisions = {}
    rest = list(argv[3:])
    while rest:
        item = rest.pop(0)
        if item in ("--input-precision", "--output-precision"):
            precisions[item] = rest.pop(0)
            continue
        key, _, value = item.partition("=")
        config[key] = value
    _preload_libusb()
    from openvino.inference_engine import IECore, get_version

    result = {"version": get_version(), "stage": "read", "message": "", "device_found": False}
    core = IECore()
    try:
        network = core.read_network(model=model)
    except Exception as exc:  # noqa: BLE001 (the reader's errors are RuntimeError or its own types)
        result["message"] = str(exc)
        print(json.dumps(result))
        return 0
    for name in network.input_info if "--input-precision" in precisions else ():
        network.input_info[name].precision = precisions["--input-precision"]
    for name in network.outputs if "--output-precision" in precisions else ():
        network.outputs[name].precision = precisions["--output-precision"]
    result["stage"] = "compile"
    try:
        core.load_network(network, "MYRIAD", config)
        result.update(stage="done", device_found=True)
    except Exception as exc:  # noqa: BLE001
        message = str(exc)
        result["message"] = message
        if "no available devices" in message or "Can not create infer request" in message:
            result["stage"] = "done"
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
