"""INT8 post-training quantization of an exported FP32 IR with NNCF, gated on CamVid mIoU.

The FP32 IR (input ``image`` (1,H,W,3) uint8 BGR NHWC) is calibrated on CamVid frames fed exactly as the
runner feeds them, quantized with ``nncf.quantize``, and both IRs are evaluated on a labelled split through
the runner (:class:`enet_edge.runtime.Segmenter` on OpenVINO CPU). When the plain quantization loses more
than the allowed mIoU, ``nncf.quantize_with_accuracy_control`` keeps the most sensitive layers in FP32.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from enet_edge import camvid
from enet_edge.class_sets import CAMVID
from enet_edge.errors import AccuracyError
from enet_edge.export.targets import QuantizationSpec
from enet_edge.metrics import evaluate_samples, segmenter_miou
from enet_edge.runtime.precision import require_exact
from enet_edge.runtime.segmenter import Segmenter, logits_class_axis, resize_to_model


def model_frame(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """(H0,W0,3) uint8 BGR -> (1,height,width,3) uint8, resized as the runner does (:func:`resize_to_model`)."""
    return np.ascontiguousarray(resize_to_model(image, height, width)[None])


def calibration_frames(data_dir: Optional[Path], split: str, count: int, height: int, width: int
                       ) -> List[np.ndarray]:
    """``count`` evenly spaced frames of a CamVid split as IR inputs: (1,H,W,3) uint8 BGR NHWC."""
    return [model_frame(camvid.read_image_bgr(image), height, width)
            for image, _ in camvid.spread_pairs(data_dir, split, count)]


GATE_PRECISION = "f32"
"""Precision of the float layers while the mIoU gate measures the FP32 and INT8 IRs."""


def ir_miou(xml_path: Path, pairs: Sequence[Tuple[Path, Path]], classes=None) -> float:
    """Val mIoU (fraction, 11 classes, void ignored) of an IR on OpenVINO CPU through the runner.

    ``classes``: the model's :class:`~enet_edge.class_sets.ClassSet` (None: CamVid's); the metric runs over
    its classes minus its ignore label.

    Float layers run in f32, asked for and read back: on a BF16 CPU OpenVINO's default would be bf16.
    """
    segmenter = Segmenter.open(xml_path, backend="openvino", device="CPU", precision=GATE_PRECISION)
    if classes is not None:
        segmenter = Segmenter(segmenter.adapter, classes.names, classes.palette_rgb, classes.ignore_label)
    try:
        require_exact(segmenter.adapter.precision_run, f"mIoU of {Path(xml_path).name}")
    except BaseException:
        segmenter.adapter.close()
        raise
    return segmenter_miou(segmenter, pairs)


class _IgnoredOpNotes(logging.Filter):
    """Drops NNCF's one INFO line per op of the ignored scope (the manifest records the patterns)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Not adding activation input quantizer")


@contextlib.contextmanager
def _without_ignored_op_notes():
    logger, notes = logging.getLogger("nncf"), _IgnoredOpNotes()
    logger.addFilter(notes)
    try:
        yield
    finally:
        logger.removeFilter(notes)


COPY_OPS = frozenset({"Interpolate", "Transpose", "Reshape", "Squeeze", "Unsqueeze", "Concat", "StridedSlice",
                      "Split", "VariadicSplit", "SpaceToDepth", "DepthToSpace", "Tile"})
"""OpenVINO op types whose outputs only copy or move input values."""


def ignored_node_names(model, patterns: Sequence[str]) -> List[str]:
    """Names of the nodes of ``model`` (an ``ov.Model``) outside ``patterns`` that NNCF must leave in float too.

    ``patterns`` (``re.fullmatch`` on friendly names) name the switch logic's scope. A data-movement op
    (:data:`COPY_OPS`) whose every non-constant input comes from an ignored node is ignored as well: tf2onnx
    names the nearest upsampling inside the full-resolution switches ``Resize__15``, outside the scope, and a
    quantized copy of the pooled maximum would no longer equal the element it came from.
    """
    import re

    compiled = [re.compile(p) for p in patterns]
    ignored: List[str] = []
    names = set()
    for op in model.get_ordered_ops():
        name = op.get_friendly_name()
        if op.get_type_name() in ("Constant", "Parameter", "Result"):
            continue
        if any(p.fullmatch(name) for p in compiled):
            names.add(name)
            continue
        sources = [i.get_source_output().get_node() for i in op.inputs()]
        sources = [n for n in sources if n.get_type_name() != "Constant"]
        if op.get_type_name() in COPY_OPS and sources and all(n.get_friendly_name() in names for n in sources):
            names.add(name)
            ignored.append(name)
    return ignored


def activation_zero_points(model) -> List[str]:
    """Names of the activation FakeQuantize ops of ``model`` (an ``ov.Model``) whose grid has a zero point.

    An activation FakeQuantize (its data input is not a constant) maps to unsigned levels without a zero
    point when its input range starts at 0, and to signed levels without one when it is symmetric
    (``input_low = -input_high * (levels/2) / (levels/2 - 1)``, NNCF's symmetric quantizer); any other range
    needs a zero point. On CPUs with AMX, OpenVINO's CPU plugin gives a convolution whose input has a zero point
    legacy post-ops, which have no brgemm kernel for a fused PReLU: such convolutions run the older, slower
    ``jit_avx512_amx`` kernels.
    """
    names = []
    for op in model.get_ordered_ops():
        if op.get_type_name() != "FakeQuantize":
            continue
        if op.input(0).get_source_output().get_node().get_type_name() in ("Constant", "Convert"):
            continue  # weights (a constant, or NNCF's compressed weights decompressed by a Convert)
        low, high = (op.input(i).get_source_output().get_node() for i in (1, 2))
        if low.get_type_name() != "Constant" or high.get_type_name() != "Constant":
            names.append(op.get_friendly_name())
            continue
        low, high = (np.asarray(n.get_data(), np.float64) for n in (low, high))
        half = op.get_attributes()["levels"] // 2
        symmetric = np.allclose(-low, high * half / (half - 1), rtol=1e-4, atol=0.0)
        if not (np.all(low == 0) or symmetric):
            names.append(op.get_friendly_name())
    return names


def _miou_of_compiled(compiled, pairs_data: Sequence[Tuple[np.ndarray, np.ndarray]], classes=None) -> float:
    """mIoU of an ``ov.CompiledModel`` on pre-read (frame tensor, label) pairs; NNCF's validation_fn."""
    request = compiled.create_infer_request()

    def predict(tensor: np.ndarray, size: Tuple[int, int]) -> Tuple[np.ndarray, int]:
        logits = np.asarray(request.infer({0: tensor})[compiled.output(0)])
        axis = logits_class_axis(logits.shape, len((classes or CAMVID).names),
                                 tuple(tensor.shape[1:3]))
        return Segmenter.resize_labels(Segmenter.class_map(logits, axis or 3), size), 0

    return float(evaluate_samples(pairs_data, predict, classes=classes).accumulator.scores()["miou"])


def quantize_ir(fp32_xml: Path, int8_xml: Path, spec: QuantizationSpec, data_dir: Optional[Path],
                log: Callable[[str], None] = print, classes=None) -> Dict[str, object]:
    """Quantize ``fp32_xml`` to ``int8_xml``; returns the record that goes into the manifest.

    ``classes``: the model's class set (None: CamVid's); the gate's mIoU runs over its classes.

    Raises:
        AccuracyError: INT8 loses more than ``spec.max_miou_drop`` points of mIoU on ``spec.eval_split``.
        DataError: the CamVid data for calibration or evaluation is missing.
    """
    import nncf
    import openvino as ov

    start = time.perf_counter()
    core = ov.Core()
    model = core.read_model(str(fp32_xml))
    shape = tuple(model.input(0).get_partial_shape().to_shape())
    height, width = int(shape[1]), int(shape[2])
    frames = calibration_frames(data_dir, spec.calibration_split, spec.calibration_frames, height, width)
    pairs = camvid.spread_pairs(data_dir, spec.eval_split, spec.eval_frames)
    log(f"      NNCF {nncf.__version__}: calibrating on {len(frames)} {spec.calibration_split} frames "
        f"(preset {spec.preset})")
    preset = nncf.QuantizationPreset.PERFORMANCE if spec.preset == "performance" else nncf.QuantizationPreset.MIXED
    common = dict(preset=preset, subset_size=len(frames))
    followers = ignored_node_names(model, spec.ignored_patterns) if spec.ignored_patterns else []
    if spec.ignored_patterns:
        common["ignored_scope"] = nncf.IgnoredScope(patterns=list(spec.ignored_patterns), names=followers)
    with _without_ignored_op_notes():
        quantized = nncf.quantize(model, nncf.Dataset(frames), fast_bias_correction=spec.fast_bias_correction,
                                  **common)
    ov.save_model(quantized, str(int8_xml), compress_to_fp16=False)
    # CamVid's classes are ir_miou's default; another class set is passed on
    measure = ir_miou if classes is None or classes == CAMVID else functools.partial(ir_miou, classes=classes)
    fp32_miou = measure(fp32_xml, pairs)
    int8_miou = measure(int8_xml, pairs)
    method = "nncf.quantize"
    drop = 100 * (fp32_miou - int8_miou)
    log(f"      {spec.eval_split} mIoU ({len(pairs)} frames): FP32 {100 * fp32_miou:.2f}%, INT8 "
        f"{100 * int8_miou:.2f}% (drop {drop:.2f} points, allowed {spec.max_miou_drop:.2f})")
    if drop > spec.max_miou_drop and spec.accuracy_control:
        log("      drop too large: nncf.quantize_with_accuracy_control")
        n = classes.num_classes if classes is not None else camvid.NUM_CLASSES
        validation = [(model_frame(image, height, width), label)
                      for image, label in (camvid.read_pair(i, lab, n) for i, lab in pairs)]
        with _without_ignored_op_notes():
            quantized = nncf.quantize_with_accuracy_control(
                model, nncf.Dataset(frames), nncf.Dataset(validation),
                validation_fn=functools.partial(_miou_of_compiled, classes=classes),
                max_drop=spec.max_miou_drop / 100, drop_type=nncf.DropType.ABSOLUTE, **common)
        ov.save_model(quantized, str(int8_xml), compress_to_fp16=False)
        int8_miou = measure(int8_xml, pairs)
        method = "nncf.quantize_with_accuracy_control"
        drop = 100 * (fp32_miou - int8_miou)
        log(f"      with accuracy control: INT8 {100 * int8_miou:.2f}% (drop {drop:.2f} points)")
    int8_model = core.read_model(str(int8_xml))
    record = {
        "tool": f"nncf {nncf.__version__}",
        "method": method,
        "preset": spec.preset,
        "fast_bias_correction": spec.fast_bias_correction,
        "calibration": {"split": spec.calibration_split, "frames": len(frames)},
        "ignored_patterns": list(spec.ignored_patterns),
        "ignored_nodes": followers,
        "eval": {"split": spec.eval_split, "frames": len(pairs), "float_precision": GATE_PRECISION},
        "fp32_miou": fp32_miou,
        "int8_miou": int8_miou,
        "miou_drop_points": drop,
        "max_miou_drop_points": spec.max_miou_drop,
        "fake_quantize_ops": sum(1 for op in int8_model.get_ops() if op.get_type_name() == "FakeQuantize"),
        "activation_zero_points": len(activation_zero_points(int8_model)),
        "seconds": round(time.perf_counter() - start, 1),
    }
    if drop > spec.max_miou_drop:
        raise AccuracyError(f"INT8 loses {drop:.2f} mIoU points on {spec.eval_split} (FP32 {100 * fp32_miou:.2f}%, "
                            f"INT8 {100 * int8_miou:.2f}%), more than the allowed {spec.max_miou_drop:.2f}; raise "
                            f"[quantization] calibration_frames, use preset = \"mixed\" (zero points: slower on AMX "
                            f"CPUs), or relax max_miou_drop")
    return record
