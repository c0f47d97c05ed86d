"""Tiny models and a tiny export directory, built in milliseconds without TensorFlow.

They have the interface of a real enet-edge export (uint8 BGR NHWC frame in, (1,12,H,W) float32 NCHW
logits out, or (1,H,W,12) NHWC as exports made before the NCHW output had them; a manifest with sha256, classes and palette) but only a few ops, so runtime, bench, demo
and eval tests run in well under a second each. Their segmentations mean nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Tuple

import numpy as np

from enet_edge.class_sets import CAMVID_CLASSES, CAMVID_PALETTE_RGB, VOID_LABEL
from enet_edge.fileio import sha256_file

TINY_SIZE = (32, 48)  # (height, width)
CLASSES = len(CAMVID_CLASSES)


def _weights(classes: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 0.05, size=(classes, 3, 3, 3)).astype(np.float32)


def tiny_ir(path: Path, size: Tuple[int, int] = TINY_SIZE, classes: int = CLASSES, input_type: str = "u8",
            fp16: bool = False, layout: str = "NCHW") -> Path:
    """An OpenVINO IR: ``image`` (1,H,W,3) uint8 (or f32) NHWC -> 3x3 conv -> ``logits`` (1,K,H,W) f32 NCHW
    (``layout="NHWC"``: (1,H,W,K), as earlier exports).

    ``fp16``: weights stored as FP16 (decompressed by a Convert), as in the ncs2 target's FP16 IR.
    """
    import openvino as ov
    import openvino.opset8 as ops

    element = ov.Type.u8 if input_type == "u8" else ov.Type.f32
    image = ops.parameter([1, *size, 3], element, name="image")
    x = ops.convert(image, "f32") if input_type == "u8" else image
    x = ops.transpose(x, ops.constant(np.array([0, 3, 1, 2], np.int64)))
    y = ops.convolution(x, ops.constant(_weights(classes)), [1, 1], [1, 1], [1, 1], [1, 1])
    logits = ops.transpose(y, ops.constant(np.array([0, 2, 3, 1], np.int64))) if layout == "NHWC" else y
    logits.output(0).get_tensor().set_names({"logits"})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ov.save_model(ov.Model([logits], [image], "tiny"), str(path), compress_to_fp16=fp16)
    return path


def tiny_cpu_only_ir(path: Path, size: Tuple[int, int] = TINY_SIZE, classes: int = CLASSES) -> Path:
    """A tiny IR holding DepthToSpace and ConvolutionBackpropData (what the cpu target's realization uses and the
    NCS2 rulesets block): ``image`` (1,H,W,3) u8 -> (1,K,2H,2W) f32 logits, the sum of both upsamplings."""
    import openvino as ov
    import openvino.opset8 as ops

    image = ops.parameter([1, *size, 3], ov.Type.u8, name="image")
    x = ops.transpose(ops.convert(image, "f32"), ops.constant(np.array([0, 3, 1, 2], np.int64)))
    wide = ops.convolution(x, ops.constant(np.tile(_weights(classes), (4, 1, 1, 1))), [1, 1], [1, 1], [1, 1], [1, 1])
    shuffled = ops.depth_to_space(wide, "depth_first", 2)
    deconv_w = np.random.default_rng(1).normal(0, 0.05, size=(3, classes, 2, 2)).astype(np.float32)
    transposed = ops.convolution_backprop_data(x, ops.constant(deconv_w), [2, 2])
    logits = ops.add(shuffled, transposed)
    logits.output(0).get_tensor().set_names({"logits"})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ov.save_model(ov.Model([logits], [image], "tiny_cpu_only"), str(path), compress_to_fp16=False)
    return path


def tiny_frozen_pb(path: Path, size: Tuple[int, int] = TINY_SIZE, classes: int = CLASSES) -> Path:
    """The same function as a frozen TensorFlow GraphDef: ``image`` (1,H,W,3) float32 -> ``logits`` (needs TensorFlow)."""
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default():
        image = tf.compat.v1.placeholder(tf.float32, [1, *size, 3], name="image")
        kernel = tf.constant(_weights(classes).transpose(2, 3, 1, 0))  # (K, C, kh, kw) -> (kh, kw, C, K)
        tf.identity(tf.nn.conv2d(image, kernel, strides=1, padding="SAME"), name="logits")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(graph.as_graph_def().SerializeToString())
    return path


def tiny_onnx(path: Path, size: Tuple[int, int] = TINY_SIZE, classes: int = CLASSES, layout: str = "NCHW") -> Path:
    """The same function in ONNX: ``image`` (1,H,W,3) float32 BGR 0..255 -> ``logits`` (1,K,H,W) float32 NCHW
    (``layout="NHWC"``: (1,H,W,K))."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes = [
        helper.make_node("Transpose", ["image"], ["nchw"], perm=[0, 3, 1, 2]),
        helper.make_node("Conv", ["nchw", "w"], ["y" if layout == "NHWC" else "logits"], pads=[1, 1, 1, 1]),
    ] + ([helper.make_node("Transpose", ["y"], ["logits"], perm=[0, 2, 3, 1])] if layout == "NHWC" else [])
    shape = [1, *size, classes] if layout == "NHWC" else [1, classes, *size]
    graph = helper.make_graph(
        nodes, "tiny", [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, *size, 3])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, shape)],
        initializer=[numpy_helper.from_array(_weights(classes), "w")])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8), str(path))
    return path


def tiny_export(directory: Path, size: Tuple[int, int] = TINY_SIZE, target: str = "tiny", precision: str = "FP32",
                device: str = "CPU", frozen_graph: bool = False, layout: str = "NCHW") -> Path:
    """An export directory like ``enet-edge export`` writes: enet.xml/.bin, enet.onnx and manifest.json.

    ``layout``: of the IR's and ONNX's logits (``NHWC``: an export made before the NCHW output).

    ``precision="FP16"`` stores the IR's weights in FP16 (with ``target="ncs2", device="MYRIAD"``: an ncs2-like
    export); ``frozen_graph`` adds enet_frozen.pb (building it imports TensorFlow).
    """
    directory = Path(directory)
    xml = tiny_ir(directory / "enet.xml", size, fp16=precision == "FP16", layout=layout)
    onnx_path = tiny_onnx(directory / "enet.onnx", size, layout=layout)
    shape_in = [1, *size, 3]
    shape_out = [1, *size, CLASSES] if layout == "NHWC" else [1, CLASSES, *size]
    io = {"outputs": [{"name": "logits", "shape": shape_out, "dtype": "float32", "layout": layout}]}
    float_in = {"inputs": [{"name": "image", "shape": shape_in, "dtype": "float32", "layout": "NHWC", "color": "BGR"}],
                **io}
    artifacts = {}
    if frozen_graph:
        pb = tiny_frozen_pb(directory / "enet_frozen.pb", size)
        artifacts["tensorflow"] = {"file": pb.name, "sha256": sha256_file(pb), "bytes": pb.stat().st_size,
                                   **float_in, "outputs": [{"name": "logits", "shape": [1, *size, CLASSES],
                                                             "dtype": "float32", "layout": "NHWC"}]}
    artifacts.update({
        "onnx": {"file": onnx_path.name, "sha256": sha256_file(onnx_path), "bytes": onnx_path.stat().st_size,
                 **float_in},
        "openvino_ir": {"file": xml.name, "sha256": sha256_file(xml), "bytes": xml.stat().st_size,
                        "weights_file": xml.with_suffix(".bin").name,
                        "weights_sha256": sha256_file(xml.with_suffix(".bin")),
                        "precision": precision, "device": device,
                        "inputs": [{"name": "image", "shape": shape_in, "dtype": "uint8", "layout": "NHWC",
                                    "color": "BGR"}], **io},
    })
    manifest = {"format": "enet-edge-manifest/1", "target": target, "mode": "export", "supported": True,
                "weights": {"trained": True, "note": "tiny test model: three ops, meaningless segmentations"},
                "model": {"height": size[0], "width": size[1], "num_classes": CLASSES},
                "classes": list(CAMVID_CLASSES), "void_label": VOID_LABEL,
                "palette_rgb": [list(c) for c in CAMVID_PALETTE_RGB], "artifacts": artifacts}
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return directory
