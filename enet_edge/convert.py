"""Frozen GraphDef -> ONNX (tf2onnx) -> OpenVINO IR (``openvino.convert_model`` + PrePostProcessor).

ONNX model: input ``image`` (1,H,W,3) float32 NHWC BGR 0..255, output ``logits`` (1,H,W,K) float32 NHWC
(the TensorFlow signature). OpenVINO IR: preprocessing baked in, so the device takes an OpenCV frame
as is: input ``image`` (1,H,W,3) **uint8** NHWC BGR; output ``logits`` (1,H,W,K) float32 NHWC.
The runner computes the class map (argmax over the last axis) on the host.
"""

from __future__ import annotations

from typing import Dict, Optional

from .classes import CAMVID_CLASSES, CAMVID_PALETTE_RGB
from .errors import ArtifactError
from .model import INPUT_NAME, OUTPUT_NAME


def _select_as_where(ctx, node, name, args):
    """tf2onnx handler: keep TF Select as ONNX Where.

    tf2onnx's default rewrites a float Select into Cast(cond)*x + Cast(Not(cond))*y, which puts
    Cast/Convert and Not into the graph; MYRIAD has a row for Select but none for Convert.
    """
    node.type = "Where"


def to_onnx(graph_def, path, opset: int = 13):
    """Convert a frozen ENet GraphDef to ONNX at ``path``; returns the ``onnx.ModelProto``.

    The model passes ``onnx.checker`` (full check, with shape inference). The layout Transposes that
    tf2onnx leaves around the argmax-free switches are sunk and cancelled
    (:func:`enet_edge.onnx_layout.sink_transposes`; bit-identical results).
    """
    import onnx
    import tf2onnx

    from .onnx_layout import sink_transposes

    model, _ = tf2onnx.convert.from_graph_def(
        graph_def,
        input_names=[f"{INPUT_NAME}:0"],
        output_names=[f"{OUTPUT_NAME}:0"],
        opset=opset,
        custom_op_handlers={"SelectV2": (_select_as_where, []), "Select": (_select_as_where, [])},
        tensors_to_rename={f"{INPUT_NAME}:0": INPUT_NAME, f"{OUTPUT_NAME}:0": OUTPUT_NAME},
    )
    model.producer_name = "enet-edge"
    model = sink_transposes(model)
    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError as exc:
        raise ArtifactError(f"tf2onnx produced an invalid ONNX model: {exc}") from exc
    onnx.save(model, str(path))
    return model


def model_info(target: str, config: dict, extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """Self-description stored in the IR's ``rt_info/model_info`` (model_api convention: strings)."""
    info = {
        "model_type": "Segmentation",
        "labels": " ".join(CAMVID_CLASSES),
        "palette_rgb": ";".join(",".join(str(c) for c in rgb) for rgb in CAMVID_PALETTE_RGB),
        "input_layout": "NHWC",
        "color_space": "BGR",
        "input_dtype": "u8",
        "output": "logits NHWC float32; class map = argmax over the last axis",
        "enet_edge_target": target,
        "enet_edge_config": ";".join(f"{k}={v}" for k, v in sorted(config.items())),
    }
    info.update(extra or {})
    return info


def to_openvino(onnx_path, xml_path, precision: str = "FP32", info: Optional[Dict[str, str]] = None):
    """Convert ONNX to an OpenVINO IR with uint8 BGR NHWC input; returns the ``openvino.Model``.

    Args:
        precision: ``FP32`` or ``FP16`` (weights stored as FP16, as the 2022.3 Model Optimizer does).
    """
    import openvino as ov

    model = ov.convert_model(str(onnx_path))
    ppp = ov.preprocess.PrePostProcessor(model)
    ppp.input().tensor().set_element_type(ov.Type.u8).set_layout(ov.Layout("NHWC"))
    ppp.input().model().set_layout(ov.Layout("NHWC"))
    ppp.input().preprocess().convert_element_type(ov.Type.f32)
    ppp.output().tensor().set_element_type(ov.Type.f32)
    model = ppp.build()
    for key, value in (info or {}).items():
        model.set_rt_info(value, ["model_info", key])
    ov.save_model(model, str(xml_path), compress_to_fp16=(precision == "FP16"))
    return model
