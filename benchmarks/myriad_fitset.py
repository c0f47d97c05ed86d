"""The MYRIAD X fit set: public networks with published NCS2 timings, as models the stick's graph compiler
(OpenVINO 2021.4.2's MYRIAD plugin, no stick needed) compiles, and their compiled graphs (dot dumps).

    python benchmarks/myriad_fitset.py OUT_DIR [--irs IR_DIR] [--only NAME ...] [--no-build] [--no-compile]
           [--compiler-python PY] [--driver DRIVER]

Writes ``OUT_DIR/<omz-name>/model.onnx`` (or ``model.xml`` + ``model.bin``) and ``OUT_DIR/<omz-name>/graph.dot``
(compiled with a U8 input, output precision left default), ``compile.json`` (the driver's verdict) and prints one
line per network with its executed stages (NCE / SHAVE / DMA). The table of the networks, their published FPS and how
each model is made is ``benchmarks/myriad_fitset.toml``.

- ``keras-app``: ``tf.keras.applications`` with random weights (``weights=None``), converted by tf2onnx (opset 11)
  with an NCHW input; the per-channel Mul/Add tf2onnx leaves after a Conv is folded into it.
- ``keras-by-hand``: the same route for architectures Keras lacks, built layer by layer (:mod:`myriad_fitset_keras`:
  inception-v4, facenet's Inception-ResNet-v1, YOLOv4).
- ``onnx-by-hand``: torchvision architectures written with ``onnx.helper`` (:mod:`myriad_fitset_onnx`).
- ``ir``: a public IR v10 .xml (fetched from GitHub, never committed; ``IR_SOURCES`` says from where: put the file in
  ``--irs`` as ``<omz-name>.xml``) with a synthesized .bin: random floats, integer constants inferred from the
  graph (:mod:`myriad_fitset_ir`), read back with OpenVINO and checked shape by shape against the .xml. An IR v11
  (mobilenet-ssd) is first rewritten as v10. Fetch each with ``git show COMMIT:PATH > IR_DIR/<omz-name>.xml``.

Runs in a Python with TensorFlow, tf2onnx and onnx (the project's ``.venv``); the compiler runs in its own Python.
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
ROOT = HERE.parent

DEFAULT_PYTHON = Path.home() / ".cache/enet-edge/myriadx-2021.4.2-py3.9/bin/python"
DRIVERS = (ROOT / "enet_edge/export/myriad/driver.py", ROOT / "enet_edge/export/myriadx_driver.py")
DEFAULT_DRIVER = next((p for p in DRIVERS if p.exists()), DRIVERS[-1])

# omz name -> (kind, builder or IR source, input size)
KERAS_APPS = {
    "densenet-121-tf2": ("DenseNet121", 224),
    "inception-v3-tf": ("InceptionV3", 299),
    "mobilenet-v2-1.0-224-tf": ("MobileNetV2", 224),
    "resnet-50-tf-keras": ("ResNet50", 224),
    "inception-v4-tf": ("inception_v4", 299),
    "facenet-20180408-102900": ("inception_resnet_v1", 160),
    "yolo_v4-tf": ("yolo_v4", 608),
    "ssd_mobilenet_v1_coco": ("ssd_mobilenet_v1", 300),
}
BY_HAND = {
    "resnet-18-pytorch": ("torchvision_resnet", (18,)),
    "resnet-50-pytorch": ("torchvision_resnet", (50,)),
    "mobilenet-v2-pytorch": ("torchvision_mobilenet_v2", ()),
    "ssd-resnet34-1200-onnx": ("mlperf_ssd_resnet34", ()),
}
# IR v10 files as fetched (repo @ commit : path); their .bin is not in the snapshots and is synthesized.
IR_SOURCES = {
    "resnet-50-tf": "itlab-vision/CV-SUMMER-CAMP-2021 @ 5f1a8ec49213e292e793b748f31edb66ffb3a547 : "
                    "practice/2_classification_SERGEY_OPARIN/public/resnet-50-tf/FP16/resnet-50-tf.xml",
    "yolo-v3-tiny-tf": "itlab-vision/CV-SUMMER-CAMP-2021 @ 0af77f182ad925d79f7c6716511f2c78b206bbbf : "
                       "public/yolo-v3-tiny-tf/FP16/yolo-v3-tiny-tf.xml",
    "ssdlite_mobilenet_v2": "lakshmi-sathi/rosvino @ 4d3635ec932ece8f45da17bd34297ebfe6581c96 : "
                            "models/detection/ssdlite_mobilenet_v2/frozen_inference_graph.xml",
    "mobilenet-ssd": "ojjsaw/ov-objdetect @ f1a9c9e097e983cd9b680fd97d2b83dd58863486 : "
                     "models/mobilenet-ssd/FP16/mobilenet-ssd.xml (IR v11, rewritten as v10 by v11_to_v10)",
    "efficientdet-d0-tf": "lakshmi-sathi/rosvino @ 4d3635ec932ece8f45da17bd34297ebfe6581c96 : "
                          "models/detection/efficientdet-d0-tf/efficientdet-d0-tf.xml",
}


def keras_to_onnx(app, size, path):
    """``tf.keras.applications.<app>`` (random weights, its own classifier and softmax) or a Keras build by hand
    (``myriad_fitset_keras.<app>``) as an NCHW-input ONNX."""
    import onnx
    import tensorflow as tf
    import tf2onnx
    import myriad_fitset_keras
    from myriad_fitset_onnx import fold_conv_affine

    tf.keras.utils.set_random_seed(0)
    if hasattr(myriad_fitset_keras, app):
        model, what = getattr(myriad_fitset_keras, app)(size), "Keras by hand: myriad_fitset_keras.%s" % app
    else:
        model = getattr(tf.keras.applications, app)(weights=None, input_shape=(size, size, 3))
        what = "tf.keras.applications.%s(weights=None)" % app
    spec = (tf.TensorSpec((1, size, size, 3), tf.float32, name="input"),)
    function = tf.function(lambda x: model(x, training=False))
    proto, _ = tf2onnx.convert.from_function(function, input_signature=spec, opset=11, inputs_as_nchw=["input:0"])
    folded = fold_conv_affine(proto)
    tail = getattr(myriad_fitset_keras, "ONNX_TAIL", {}).get(app)
    if isinstance(tail, str):
        import myriad_fitset_onnx

        getattr(myriad_fitset_onnx, tail)(proto)
        what += " + myriad_fitset_onnx.%s" % tail
    elif tail:
        from onnx import helper

        last = proto.graph.output[0]
        proto.graph.node.append(helper.make_node(tail[0], [last.name], [last.name + "_" + tail[0]], **tail[1]))
        last.name = last.name + "_" + tail[0]
        what += " + ONNX %s%s" % tail
    if not isinstance(tail, str):  # the checker knows no org.openvinotoolkit ops
        onnx.checker.check_model(proto)
    onnx.save(proto, str(path))
    return "%s -> tf2onnx opset 11, NCHW input; %d Mul/Add folded into Conv" % (what, folded)


def hand_onnx(builder, args, path):
    import onnx
    import myriad_fitset_onnx

    onnx.save(getattr(myriad_fitset_onnx, builder)(*args), str(path))
    return "onnx.helper: %s%s, opset 11, NCHW" % (builder, args)


def ir_model(name, irs, folder, python):
    """The fetched IR ``irs/<name>.xml`` with a synthesized .bin, as ``folder/model.xml`` + ``model.bin``; raises
    where OpenVINO's shapes of the result differ from the .xml's."""
    import xml.etree.ElementTree as ET

    from myriad_fitset_ir import check, synthesize, v11_to_v10

    source = Path(irs) / (name + ".xml")
    if not source.exists():
        raise FileNotFoundError("%s: fetch %s" % (source, IR_SOURCES[name]))
    if ET.parse(str(source)).getroot().get("version") == "11":
        v11_to_v10(source, folder / "model.v10.xml")
        source = folder / "model.v10.xml"
    notes = synthesize(source, folder / "model.xml", folder / "model.bin")
    checked = check(folder / "model.xml", folder / "model.bin", python)
    if checked.get("count", 1):
        raise ValueError("synthesized %s does not read back as its xml: %s" % (name, checked))
    return "IR %s + synthesized bin (%s; all %d layers' shapes as the xml's)" % (IR_SOURCES[name], notes,
                                                                                 checked["layers"])


def build(name, out, irs, python=DEFAULT_PYTHON):
    folder = Path(out) / name
    folder.mkdir(parents=True, exist_ok=True)
    if name in KERAS_APPS:
        return folder / "model.onnx", keras_to_onnx(*KERAS_APPS[name], folder / "model.onnx")
    if name in BY_HAND:
        return folder / "model.onnx", hand_onnx(*BY_HAND[name], folder / "model.onnx")
    return folder / "model.xml", ir_model(name, irs, folder, python)


def model_file(folder):
    for candidate in ("model.onnx", "model.xml"):
        if (folder / candidate).exists():
            return folder / candidate
    return None


def compile_model(model, python, driver, options=(), timeout=1800):
    """Run the driver on ``model`` (U8 input, output precision left default); the dump goes next to it."""
    dump = model.parent / "graph.dot"
    if dump.exists():
        dump.unlink()
    command = [str(python), str(driver), str(model), str(dump), "--input-precision", "U8", *options]
    run = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    lines = [line for line in run.stdout.splitlines() if line.startswith("{")]
    record = json.loads(lines[-1]) if lines else {"stage": "crash", "message": run.stderr[-2000:]}
    record["compiled"] = record.get("stage") == "done" and not record.get("device_found") and dump.exists()
    (model.parent / "compile.json").write_text(json.dumps(record, indent=1) + "\n")
    return record, dump


def stage_counts(dump):
    """Executed stages of a dump by category: ``[i / id] Stage`` nodes; index -1 special, MyriadXHwOp NCE, Copy
    DMA, others SHAVE; a stage an "Injected Stage" edge points at is injected (runs in an NCE stage's shadow)."""
    import re

    text = Path(dump).read_text()
    injected = set(re.findall(r'-> (stage_0x[0-9a-f]+) \[\n[^\]]*Injected Stage', text))
    counts = {"NCE": 0, "SHAVE": 0, "DMA": 0, "injected": 0, "special": 0}
    for node, index, kind in re.findall(
            r'\n    (stage_0x[0-9a-f]+) \[\n[^\]]*?label="\[(-?\d+) / \d+\] Stage [^\n]*?\\l\s*type = (\w+)', text):
        if int(index) < 0:
            counts["special"] += 1
        elif node in injected:
            counts["injected"] += 1
        else:
            counts[{"MyriadXHwOp": "NCE", "Copy": "DMA"}.get(kind, "SHAVE")] += 1
    counts["executed"] = counts["NCE"] + counts["SHAVE"] + counts["DMA"]
    return counts


def names():
    return list(KERAS_APPS) + list(BY_HAND) + list(IR_SOURCES)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="folder for <omz-name>/model.* and graph.dot")
    parser.add_argument("--irs", default=None, help="folder of fetched IRs, <omz-name>.xml (see IR_SOURCES)")
    parser.add_argument("--only", nargs="*", default=None, help="these networks only")
    parser.add_argument("--no-build", action="store_true", help="compile the models already in OUT")
    parser.add_argument("--no-compile", action="store_true")
    parser.add_argument("--compiler-python", default=os.environ.get("ENET_EDGE_MYRIADX_PYTHON", DEFAULT_PYTHON))
    parser.add_argument("--driver", default=DEFAULT_DRIVER)
    parser.add_argument("--option", action="append", default=[], help="compiler KEY=VALUE")
    args = parser.parse_args(argv)
    irs = args.irs or str(Path(args.out) / "src")
    results = {}
    for name in args.only or names():
        folder = Path(args.out) / name
        row = {"name": name}
        try:
            if args.no_build:
                model = model_file(folder)
                if model is None:
                    raise FileNotFoundError("no model in %s" % folder)
            else:
                model, how = build(name, args.out, irs, args.compiler_python)
                row["how"] = how
                (folder / "how.txt").write_text(how + "\n")
            if not args.no_compile:
                record, dump = compile_model(model, args.compiler_python, args.driver, args.option)
                row["compiled"] = record["compiled"]
                row["message"] = record.get("message", "")[:300]
                if record["compiled"]:
                    row["stages"] = stage_counts(dump)
        except Exception as exc:  # noqa: BLE001 (one network's failure does not stop the others)
            row["error"] = "%s: %s" % (type(exc).__name__, str(exc)[:500])
        results[name] = row
        print(json.dumps(row), flush=True)
    (Path(args.out) / "summary.json").write_text(json.dumps(results, indent=1) + "\n")
    return 0 if all(r.get("compiled", args.no_compile) and "error" not in r for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
