"""Frozen GraphDef -> ONNX (tf2onnx) -> OpenVINO IR (``openvino.convert_model`` + PrePostProcessor).

ONNX model: input ``image`` (1,H,W,3) float32 NHWC BGR 0..255, output ``logits`` (1,K,H,W) float32 **NCHW**
(the TensorFlow graph's NHWC logits; tf2onnx writes them channels-first, the ONNX convention and what OpenVINO's
model_api and the Open Model Zoo demos read). OpenVINO IR: preprocessing baked in, so the device takes an OpenCV
frame as is: input ``image`` (1,H,W,3) **uint8** NHWC BGR; output ``logits`` (1,K,H,W) float32 NCHW. The runner
computes the class map (argmax over the classes) on the host, unless the target asks for a class map: then both
end in the arg-max and output ``class_map`` (1,H,W) class ids. The IR's ``rt_info/model_info`` describes it for
model_api (:func:`model_info`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Optional

from enet_edge.class_sets import CAMVID, ClassSet
from enet_edge.errors import ArtifactError, CompatibilityError, ConfigError
from enet_edge.export.rewrite.layout import sink_transposes
from enet_edge.export.rewrite.rewrites import apply_rewrites
from enet_edge.model.enet import INPUT_NAME, OUTPUT_NAME


def _select_as_where(ctx, node, name, args):
    """tf2onnx handler: keep TF Select as ONNX Where.

    tf2onnx's default rewrites a float Select into Cast(cond)*x + Cast(Not(cond))*y, which puts
    Cast/Convert and Not into the graph; MYRIAD has a row for Select but none for Convert.
    """
    node.type = "Where"


def to_onnx(graph_def, path, opset: int = 13, rewrites=(), log=None, class_map: Optional[str] = None):
    """Convert a frozen ENet GraphDef to ONNX at ``path``; returns the ``onnx.ModelProto``.

    The model passes ``onnx.checker`` (full check, with shape inference). The layout Transposes that
    tf2onnx leaves around the argmax-free switches are sunk and cancelled
    (:func:`enet_edge.export.rewrite.layout.sink_transposes`; bit-identical results); then the target's
    ``rewrites`` (:data:`enet_edge.export.rewrite.rewrites.REWRITES` names) run in order. ``class_map``
    (``int32``/``uint8``): the model ends in the arg-max (:func:`append_onnx_class_map`).
    """
    import onnx
    import tf2onnx

    model, _ = tf2onnx.convert.from_graph_def(
        graph_def,
        input_names=[f"{INPUT_NAME}:0"],
        output_names=[f"{OUTPUT_NAME}:0"],
        opset=opset,
        custom_op_handlers={"SelectV2": (_select_as_where, []), "Select": (_select_as_where, [])},
        tensors_to_rename={f"{INPUT_NAME}:0": INPUT_NAME, f"{OUTPUT_NAME}:0": OUTPUT_NAME},
        outputs_as_nchw=[f"{OUTPUT_NAME}:0"],  # its optimizer cancels the Transpose against its own NCHW->NHWC
    )
    model.producer_name = "enet-edge"
    model = sink_transposes(model)
    if rewrites:
        apply_rewrites(model, rewrites, log)
    if class_map:
        append_onnx_class_map(model, class_map)
    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError as exc:
        raise ArtifactError(f"tf2onnx produced an invalid ONNX model: {exc}") from exc
    onnx.save(model, str(path))
    return model


ONNX_CLASS_MAP_TYPES = {"int32": 6, "uint8": 2}  # onnx.TensorProto.INT32, .UINT8
CLASS_AXIS = 1
"""The classes' axis of the exported logits (1, K, H, W)."""


def append_onnx_class_map(model, dtype: str = "int32"):
    """Edit the ONNX ``model`` in place so that its (1,K,H,W) ``logits`` become ``class_map`` (1,H,W) of ``dtype``.

    ``ArgMax`` (axis 1, keepdims 0; ties go to the lowest class id, as numpy's argmax) gives int64 ids, which a
    ``Cast`` makes ``dtype``; the logits stay in the graph as the tensor ``logits``, which :func:`to_openvino` cuts
    back to. Returns ``model``.
    """
    from onnx import helper

    if dtype not in ONNX_CLASS_MAP_TYPES:
        raise ConfigError(f"class map dtype {dtype!r} must be one of {', '.join(ONNX_CLASS_MAP_TYPES)}")
    graph = model.graph
    logits = graph.output[0]
    dims = [d.dim_value for d in logits.type.tensor_type.shape.dim]
    graph.node.append(helper.make_node("ArgMax", [logits.name], ["class_ids"], name="class_ids",
                                       axis=CLASS_AXIS, keepdims=0))
    graph.node.append(helper.make_node("Cast", ["class_ids"], ["class_map"], name="class_map",
                                       to=ONNX_CLASS_MAP_TYPES[dtype]))
    graph.output.remove(logits)
    graph.output.append(helper.make_tensor_value_info("class_map", ONNX_CLASS_MAP_TYPES[dtype],
                                                      dims[:CLASS_AXIS] + dims[CLASS_AXIS + 1:]))
    return model


def _cut_to_logits(model):
    """An OpenVINO model converted from an ONNX that ends in the class map, cut back to its ``logits`` output
    (the IR appends its own arg-max, :func:`append_class_map`, after pre/post-processing and quantization)."""
    result = model.get_results()[0]
    if OUTPUT_NAME in result.output(0).get_names():
        return model
    for node in model.get_ordered_ops():
        for output in node.outputs():
            if OUTPUT_NAME in output.get_names():
                result.input(0).replace_source_output(output)
                model.validate_nodes_and_infer_types()
                result.output(0).get_tensor().set_names({OUTPUT_NAME})
                return model
    raise ArtifactError(f"the ONNX model has no tensor named {OUTPUT_NAME!r} to convert; export it with enet-edge")


def model_info(target: str, config: dict, extra: Optional[Dict[str, str]] = None,
               classes: ClassSet = CAMVID) -> Dict[str, str]:
    """Self-description stored in the IR's ``rt_info/model_info`` (strings), in the keys OpenVINO's model_api reads
    (``SegmentationModel.create_model(xml)`` needs no other configuration) and enet-edge's own.

    model_api: ``model_type``; ``labels`` (:meth:`~enet_edge.class_sets.ClassSet.rt_info`); ``resize_type``
    standard (a plain resize to the model size, as enet-edge's runner does); ``reverse_input_channels`` False (the
    IR takes BGR, as OpenCV reads frames); no ``mean_values``/``scale_values`` (the scaling is in the graph);
    ``blur_strength`` -1 (the class map is the arg-max of the logits, no blur or threshold). The IR's input keeps
    its NHWC layout in the graph, which model_api reads."""
    info = {
        "model_type": "Segmentation",
        **classes.rt_info(),
        "resize_type": "standard",
        "reverse_input_channels": "False",
        "blur_strength": "-1",
        "input_layout": "NHWC",
        "color_space": "BGR",
        "input_dtype": "u8",
        "output_layout": "NCHW",
        "output": "logits (1,K,H,W) NCHW float32; class map = argmax over axis 1",
        "enet_edge_target": target,
        "enet_edge_config": ";".join(f"{k}={v}" for k, v in sorted(config.items())),
    }
    info.update(extra or {})
    return info


def to_openvino(onnx_path, xml_path, precision: str = "FP32", info: Optional[Dict[str, str]] = None,
                class_map: Optional[str] = None):
    """Convert ONNX to an OpenVINO IR with uint8 BGR NHWC input; returns the ``openvino.Model``.

    An ONNX that ends in the class map (:func:`append_onnx_class_map`) is converted from its logits.

    ``class_map`` (``int32`` or ``uint8``): the IR ends in the arg-max over the classes
    (:func:`append_class_map`) and outputs ``class_map`` (1,H,W) class ids instead of the logits.

    Every Slice-8 (what OpenVINO's ONNX frontend makes of ONNX Slice) is rewritten into StridedSlice-1
    (:func:`slices_to_strided_slices`) for every target: the OpenVINO 2022.3 MYRIAD layer table names
    StridedSlice, not Slice-8; the results are bit-identical and the CPU latency is unchanged.

    Args:
        precision: ``FP32`` or ``FP16`` (weights stored as FP16, as the 2022.3 Model Optimizer does).
    """
    import openvino as ov

    model = _cut_to_logits(ov.convert_model(str(onnx_path)))
    slices_to_strided_slices(model)
    ppp = ov.preprocess.PrePostProcessor(model)
    ppp.input().tensor().set_element_type(ov.Type.u8).set_layout(ov.Layout("NHWC"))
    ppp.input().model().set_layout(ov.Layout("NHWC"))
    ppp.input().preprocess().convert_element_type(ov.Type.f32)
    ppp.output().tensor().set_element_type(ov.Type.f32)
    ppp.output().model().set_layout(ov.Layout("NCHW"))
    model = ppp.build()
    if class_map:
        model = append_class_map(model, class_map)
        info = {**(info or {}), "output": f"class_map (1,H,W) {class_map} class ids (arg-max inside the model)",
                "output_layout": "NHW"}
    for key, value in (info or {}).items():
        model.set_rt_info(value, ["model_info", key])
    ov.save_model(model, str(xml_path), compress_to_fp16=(precision == "FP16"))
    return model


CLASS_MAP_DTYPES = {"int32": "i32", "uint8": "u8"}


def append_class_map(model, dtype: str = "int32"):
    """The model with its (1,K,H,W) logits replaced by ``class_map`` (1,H,W) class ids of ``dtype``.

    The arg-max is TopK (opset3, k=1, mode max) over the class axis, whose index output has the
    requested element type where it is int32 (no Convert); uint8 adds a Convert. opset10 has no ArgMax
    op, and TopK is in the OpenVINO 2022.3 MYRIAD table (Convert from a computed tensor is not, so
    an ncs2 class map is int32). Ties go to the lowest class id, as numpy's argmax.
    """
    import numpy as np
    import openvino as ov
    import openvino.opset1 as op1
    import openvino.opset3 as op3

    if dtype not in CLASS_MAP_DTYPES:
        raise ConfigError(f"class map dtype {dtype!r} must be one of {', '.join(CLASS_MAP_DTYPES)}")
    result = model.get_results()[0]
    logits = result.input_value(0)  # the node output feeding the Result
    axis = CLASS_AXIS
    topk = op3.topk(logits, op1.constant(np.array(1, np.int64)), axis, "max", "index", "i32")
    ids = op1.squeeze(topk.output(1), op1.constant(np.array([axis], np.int64)))
    if dtype != "int32":
        ids = op1.convert(ids, CLASS_MAP_DTYPES[dtype])
    logits.get_tensor().set_names(set())  # the logits are internal now; the output is named class_map
    result.set_layout(ov.Layout())  # the logits' NCHW is not the class map's
    result.input(0).replace_source_output(ids.output(0))
    ids.set_friendly_name("class_map")
    ids.output(0).get_tensor().set_names({"class_map"})
    model.validate_nodes_and_infer_types()
    result.output(0).get_tensor().set_names({"class_map"})  # the Result keeps the names it had
    return model


def append_class_map_to_ir(xml_path, dtype: str = "int32") -> None:
    """Rewrite the IR at ``xml_path`` (and its .bin) so that it ends in the arg-max (:func:`append_class_map`)."""
    import openvino as ov

    xml_path = Path(xml_path)
    model = append_class_map(ov.Core().read_model(str(xml_path)), dtype)
    model.set_rt_info(f"class_map (1,H,W) {dtype} class ids (arg-max inside the model)", ["model_info", "output"])
    model.set_rt_info("NHW", ["model_info", "output_layout"])
    tmp = xml_path.with_name(f".class_map_{xml_path.name}")
    ov.save_model(model, str(tmp), compress_to_fp16=False)
    tmp.replace(xml_path)
    tmp.with_suffix(".bin").replace(xml_path.with_suffix(".bin"))


_INT32_LIMIT = 2**31  # begin/end beyond +-2^31 are "to the end" sentinels (tf2onnx, ONNX INT64_MAX/MIN)


def _constant_values(node, port: int, what: str):
    import numpy as np

    source = node.input_value(port).get_node()
    if source.get_type_name() != "Constant":
        raise CompatibilityError(
            f"Slice {node.get_friendly_name()!r}: its {what} input comes from a {source.get_type_name()} "
            f"({source.get_friendly_name()!r}), not a constant, so it cannot be rewritten into the StridedSlice "
            "that MYRIAD supports; make the slice bounds constants in the TensorFlow graph (static shapes)")
    return [int(v) for v in np.asarray(source.get_data()).reshape(-1)]


def _strided_slice_axis(start: int, stop: int, step: int, dim):
    """One Slice-8 axis as StridedSlice-1 ``(begin, end, stride, begin_mask, end_mask)``.

    ONNX/Slice-8 and TF/StridedSlice-1 share numpy's semantics (negative = from the end, clamped), except
    that StridedSlice has no value meaning "before index 0" for a negative stride: that is ``end_mask``.
    With a static ``dim`` the bounds are normalized to in-range values (no INT64_MAX reaches the IR; the
    MYRIAD plugin converts int64 constants to int32); with a dynamic one, sentinels become masks.
    """
    if dim is not None:
        start, stop, step = slice(start, stop, step).indices(dim)
        if len(range(start, stop, step)) == 0:
            return 0, 0, 1, 0, 0
        if step > 0:
            return start, stop, step, 0, 0
        return start, max(stop, 0), step, 0, int(stop < 0)  # stop == -1: through index 0
    begin_mask = int(start <= -_INT32_LIMIT if step > 0 else start >= _INT32_LIMIT)
    end_mask = int(stop >= _INT32_LIMIT if step > 0 else stop <= -_INT32_LIMIT)
    return (0 if begin_mask else start), (0 if end_mask else stop), step, begin_mask, end_mask


def slices_to_strided_slices(model) -> int:
    """Rewrite every Slice-8 of ``model`` (in place) into an equivalent StridedSlice-1; returns how many.

    The start/stop/step/axes inputs must be constants and the data rank static; otherwise
    :class:`~enet_edge.errors.CompatibilityError` (the IR would keep an op that MYRIAD does not list).
    Axes not sliced get ``begin_mask``/``end_mask`` = 1. The friendly name and output tensor names of each
    Slice move to its StridedSlice, so per-layer reports keep the TensorFlow names.
    """
    import numpy as np

    try:
        from openvino import opset1
    except ImportError:  # OpenVINO < 2023.1
        from openvino.runtime import opset1

    count = 0
    for node in model.get_ordered_ops():
        if node.get_type_name() != "Slice":
            continue
        name = node.get_friendly_name()
        shape = node.get_input_partial_shape(0)
        if shape.rank.is_dynamic:
            raise CompatibilityError(f"Slice {name!r}: its data input has a dynamic rank; "
                                     "export with static shapes")
        rank = shape.rank.get_length()
        starts = _constant_values(node, 1, "start")
        stops = _constant_values(node, 2, "stop")
        steps = _constant_values(node, 3, "step")
        axes = _constant_values(node, 4, "axes") if node.get_input_size() > 4 else list(range(len(starts)))
        if not len(starts) == len(stops) == len(steps) == len(axes) or 0 in steps:
            raise CompatibilityError(f"Slice {name!r}: start/stop/step/axes {starts}/{stops}/{steps}/{axes} "
                                     "are inconsistent (lengths differ or a step is 0)")
        begin, end, strides = [0] * rank, [0] * rank, [1] * rank
        begin_mask, end_mask = [1] * rank, [1] * rank
        for start, stop, step, axis in zip(starts, stops, steps, axes):
            axis = axis + rank if axis < 0 else axis
            dim = shape[axis].get_length() if shape[axis].is_static else None
            begin[axis], end[axis], strides[axis], begin_mask[axis], end_mask[axis] = \
                _strided_slice_axis(start, stop, step, dim)
        replacement = opset1.strided_slice(
            node.input_value(0), np.array(begin, np.int64), np.array(end, np.int64), np.array(strides, np.int64),
            begin_mask=begin_mask, end_mask=end_mask, name=name)
        # new_axis/shrink_axis/ellipsis masks stay empty (= all 0): OpenVINO's GroupedStridedSliceOptimizer
        # only merges StridedSlices with empty ones, so the CPU plugin still turns the channel-half pairs into
        # one Split, as it did with Slice-8; the MYRIAD parser reads an empty mask as 0.
        if not replacement.get_output_partial_shape(0).compatible(node.get_output_partial_shape(0)):
            raise RuntimeError(  # a bug here, not a user error
                f"Slice {name!r}: the StridedSlice rewrite has shape {replacement.get_output_partial_shape(0)}, "
                f"not {node.get_output_partial_shape(0)}")
        names = node.output(0).get_names()
        node.output(0).replace(replacement.output(0))
        replacement.output(0).set_names(names)
        count += 1
    if count:
        model.validate_nodes_and_infer_types()
    return count
