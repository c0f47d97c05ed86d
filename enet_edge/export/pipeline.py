"""The export pipeline: weights -> frozen graph -> ONNX -> OpenVINO IR, gated and parity-checked.

``export(ExportRequest(...))`` writes into a temporary directory next to the destination and renames
it into place only when every gate and parity check passed: a failed export leaves no half artifact
and does not touch the previous good one.

The pipeline is a list of stages (:data:`STAGES`: freeze, onnx, openvino_ir, quantize, gates, parity,
write), each a function that reads and extends one :class:`ExportContext`; a target runs the stages
that apply to it (:func:`stages_for`: no ``onnx`` artifact, no onnx stage; no ``[quantization]``,
no quantize stage).

Output directory (default ``build/<target>/``):
  enet_frozen.pb   frozen TensorFlow GraphDef (input ``image``, output ``logits``)
  enet.onnx        ONNX (tf2onnx)                    [targets with an onnx artifact]
  enet.xml/.bin    OpenVINO IR, uint8 BGR NHWC input [targets with an openvino_ir artifact]
  manifest.json    tool versions, I/O specs, classes and palette, sha256, op inventories, checks, parity
  report.md        the same for people (:mod:`enet_edge.export.report`)
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from enet_edge.model.config import REFERENCE_REALIZATION, ENetConfig
from enet_edge.errors import ArtifactError, ParityError
from enet_edge.fileio import sha256_file  # noqa: F401 (part of this module's API)
from enet_edge.runtime.precision import MODEL_PRECISION_KEY, has_arithmetic
from enet_edge.resources import DEFAULT_WEIGHTS  # noqa: F401 (the shipped weights; part of this module's API)
from enet_edge.export.outdir import check_out_dir, clean_stale, replace_dir, staging_dir
from enet_edge.export.preflight import check_data_dir, check_rulesets, parity_note, parity_pairs
from enet_edge.export.report import build_manifest, render_report
from enet_edge.export.targets import ARTIFACT_FILES, TargetSpec


@dataclass(frozen=True)
class ExportRequest:
    """What to export. ``weights=None`` takes the shipped weights, or seeded random ones if none ship."""

    target: TargetSpec
    out_dir: Path
    weights: Optional[Path] = None
    height: Optional[int] = None
    width: Optional[int] = None
    data_dir: Optional[Path] = None
    seed: int = 0

    def __post_init__(self) -> None:
        from enet_edge.errors import ConfigError

        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed < 2**32:
            raise ConfigError(f"seed={self.seed!r} must be an integer in 0..{2**32 - 1}")
        for name in ("height", "width"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise ConfigError(f"{name}={value!r} must be an integer")


@dataclass(frozen=True)
class ExportResult:
    out_dir: Path
    manifest: dict
    seconds: float


@dataclass
class ExportContext:
    """What one export carries from stage to stage. Every file is written under ``tmp``."""

    request: ExportRequest
    config: ENetConfig  # the target's model config at the requested size
    weights: Dict[str, np.ndarray]
    weights_info: dict  # the manifest's "weights" entry
    tmp: Path
    log: Callable[[str], None] = print
    graph_def: Any = None  # frozen GraphDef (freeze)
    graphs: Dict[str, Any] = field(default_factory=dict)  # kind -> gates.Graph of each artifact written
    inventories: Dict[str, Dict[str, int]] = field(default_factory=dict)  # kind -> op inventory
    fp32_ir: Optional[Path] = None  # the FP32 IR an INT8 target quantizes (openvino_ir -> quantize)
    quantization: Optional[dict] = None  # quantize's record
    reports: Dict[str, Any] = field(default_factory=dict)  # kind -> gates.CheckReport
    frame_names: List[str] = field(default_factory=list)  # parity inputs
    parity: Dict[str, dict] = field(default_factory=dict)  # row -> ParityResult.to_dict()
    ran_on: Dict[str, dict] = field(default_factory=dict)  # row -> what ran (or why it was skipped)
    myriad_compiler: Optional[dict] = None  # the MYRIAD X compiler's record (myriad_compile)
    fp16_range: Optional[dict] = None  # largest activations against FP16's range (parity, FP16 targets)
    parity_note: str = ""  # where the parity frames came from when they are not CamVid's (parity)
    parameters: Optional[int] = None  # trainable parameters of the network (freeze)
    manifest: Optional[dict] = None  # write

    @property
    def target(self) -> TargetSpec:
        return self.request.target

    def path(self, kind: str) -> Path:
        """Where the artifact ``kind`` is written."""
        return self.tmp / ARTIFACT_FILES[kind]

    @property
    def weights_source(self) -> str:
        """How errors name the weights: their file, or the seeded random weights."""
        return self.weights_info.get("path") or f"the random weights (seed {self.weights_info.get('seed')})"

    def add_graph(self, kind: str, graph) -> None:
        self.graphs[kind] = graph
        self.inventories[kind] = graph.inventory()


# -- weights and parity inputs -----------------------------------------------------------------------


def load_model_weights(request: ExportRequest, log: Callable[[str], None]):
    """(weights dict, base ENetConfig, weights description dict): ``request.weights``, else the shipped
    weights, else seeded random ones (with a warning)."""
    path = request.weights or (DEFAULT_WEIGHTS if DEFAULT_WEIGHTS.is_file() else None)
    if path is not None:
        return _trained_weights(path, request.weights is not None)
    log("WARNING: no trained weights ship yet; exporting RANDOM (seeded) weights: the model segments nothing")
    return _random_weights(request.seed)


def _trained_weights(path, request_weights: bool = True):
    from enet_edge.model.weights import read_weights

    weights, config, meta = read_weights(path, "--weights" if request_weights else "the shipped weights")
    info = {"path": str(path), "sha256": sha256_file(Path(path)), "trained": True, **meta}
    return weights, config, info


def _random_weights(seed: int):
    from enet_edge.model import enet
    from enet_edge.model.weights import get_weights

    config = ENetConfig()
    model = enet.build_enet(config.replace(height=96, width=128, batch=2), REFERENCE_REALIZATION)
    enet.randomize_statistics(model, seed)
    info = {"path": None, "trained": False, "seed": seed,
            "note": "UNTRAINED: random weights seeded for reproducibility; not for use"}
    return get_weights(model), config, info


def parity_inputs(target: TargetSpec, config: ENetConfig, data_dir: Optional[Path], seed: int
                  ) -> Tuple[List[np.ndarray], List[str]]:
    """uint8 BGR (1,H,W,3) frames: CamVid val frames resized to the model size, then random ones.

    A ``data_dir`` that was asked for must be CamVid (:class:`DataError` otherwise); without one, the
    default CamVid (``$ENET_EDGE_CAMVID``, ``../shared/camvid``) is used where it exists, else the
    CamVid frames are replaced by random ones (:func:`parity_note` says so)."""
    import cv2

    from enet_edge import camvid

    frames, names = [], []
    if target.parity_frames:
        pairs = parity_pairs(data_dir)
        step = max(1, len(pairs) // max(target.parity_frames, 1))
        for image_path, _ in pairs[::step][: target.parity_frames]:
            image = camvid.read_image_bgr(image_path)
            if image.shape[:2] != (config.height, config.width):
                image = cv2.resize(image, (config.width, config.height), interpolation=cv2.INTER_LINEAR)
            frames.append(image[None])
            names.append(f"camvid:{image_path.name}")
    rng = np.random.default_rng(seed)
    for i in range(target.parity_random + (target.parity_frames - len(names))):
        frames.append(rng.integers(0, 256, (1, config.height, config.width, 3), dtype=np.uint8))
        names.append(f"random:{i}")
    return frames, names


def _ruleset_for(kind: str, name: str, target: TargetSpec, flavour: str = "paper") -> dict:
    from enet_edge.export.gates import ruleset_for  # it lives there: `enet-edge check` must not import this module

    return ruleset_for(kind, name, target, flavour)


# -- running one artifact for parity ----------------------------------------------------------------


def _run_artifact(kind: str, path: Path, frames: List[np.ndarray], precision: str = "f32"):
    """Outputs of one artifact on every parity frame, plus what ran (asked for and read back).

    OpenVINO IRs run with ``precision`` asked for explicitly (f32: an FP16 IR's row then checks its
    FP16 weights); the row is refused when the CPU runs something else (:func:`require_exact`), so
    parity never measures bf16 in place of f32 or f16.
    """
    from enet_edge.runtime.adapters import open_adapter
    from enet_edge.runtime.backends import RunRequest, adapter_options, kind_backend
    from enet_edge.runtime.precision import require_exact

    backend = kind_backend(kind).name
    options = adapter_options(backend, RunRequest(precision=precision))
    adapter = open_adapter(path, backend=backend, device="CPU", **options)
    try:
        run = adapter.precision_run
        require_exact(run, f"parity of {path.name}")
        outputs = [adapter.infer(f if adapter.input_spec.dtype == "uint8" else f.astype(np.float32)) for f in frames]
        ran = {"backend": backend, "device": "CPU", "inference_precision": run.name,
               "requested_precision": run.requested, "capabilities": list(getattr(adapter, "capabilities", ()))}
        return outputs, ran, getattr(adapter, "capabilities", ())
    finally:
        adapter.close()


OPENVINO_IR_F16 = "openvino_ir_f16"
"""Parity row of FP16 targets on a CPU with FP16 arithmetic (OPTIMIZATION_CAPABILITIES lists FP16):
the FP16 IR run by OpenVINO in f16, as the device computes. Elsewhere the row is left out (and the
report says why): OpenVINO would run bf16 or f32 in its place."""


FP16_ARITHMETIC = "fp16_arithmetic"
"""Parity row of FP16 targets: the target realization with weights *and activations* in FP16
(Keras float16 policy), standing in for the device's FP16 arithmetic where the CPU has none."""


def _run_fp16_emulation(config: ENetConfig, target: TargetSpec, weights, frames: List[np.ndarray],
                        source: str = "weights"):
    from enet_edge.model import enet
    from enet_edge.model.weights import set_weights

    model = enet.build_enet(config, target.realization, dtype_policy="float16")
    set_weights(model, weights, source)
    outputs = [np.asarray(model(f.astype(np.float32), training=False), np.float32) for f in frames]
    ran = {"backend": "tensorflow", "device": "CPU", "inference_precision": "f16 (Keras float16 policy)",
           "requested_precision": "f16"}
    return outputs, ran, ()


# -- the stages ---------------------------------------------------------------------------------------


def freeze_stage(ctx: ExportContext) -> None:
    """Build the target realization with the weights, freeze it, write ``enet_frozen.pb``."""
    from enet_edge.model import enet
    from enet_edge.model.weights import set_weights
    from enet_edge.export.freeze import freeze_model, unknown_shapes, write_graph_def
    from enet_edge.export.gates import graph_from_graph_def

    model = enet.build_enet(ctx.config, ctx.target.realization)
    set_weights(model, ctx.weights, ctx.weights_source)
    ctx.parameters = enet.count_parameters(model)
    graph_def = freeze_model(model, ctx.config)
    dynamic = unknown_shapes(graph_def)
    if dynamic:
        raise ArtifactError(f"frozen graph has tensors without a static shape: {dynamic[:5]}")
    write_graph_def(graph_def, ctx.path("tensorflow"))
    ctx.graph_def = graph_def
    ctx.add_graph("tensorflow", graph_from_graph_def(graph_def, ARTIFACT_FILES["tensorflow"]))


def onnx_stage(ctx: ExportContext) -> None:
    """Convert the frozen graph to ONNX (tf2onnx), write ``enet.onnx``."""
    from enet_edge.export.convert import to_onnx
    from enet_edge.export.gates import read_graph

    to_onnx(ctx.graph_def, ctx.path("onnx"), ctx.target.onnx_opset, ctx.target.onnx_rewrites, ctx.log,
            ctx.target.class_map)
    ctx.add_graph("onnx", read_graph(ctx.path("onnx")))


def openvino_ir_stage(ctx: ExportContext) -> None:
    """Convert the ONNX model to an OpenVINO IR at the target's precision (INT8: an FP32 IR for quantize)."""
    from enet_edge.export.convert import model_info, to_openvino
    from enet_edge.export.gates import read_graph

    target = ctx.target
    from enet_edge.class_sets import from_meta

    info = model_info(target.name, ctx.config.to_dict(), {"enet_edge_trained": str(ctx.weights_info["trained"])},
                      classes=from_meta(ctx.weights_info, ctx.config.num_classes))
    if target.inference_precision:  # what the runtime asks for when its caller asks for none (OpenVINOAdapter)
        info[MODEL_PRECISION_KEY[1]] = target.inference_precision  # to_openvino stores info under "model_info"
    if target.quantization is not None:
        ctx.fp32_ir = ctx.tmp / "fp32" / ARTIFACT_FILES["openvino_ir"]
        ctx.fp32_ir.parent.mkdir()
        to_openvino(ctx.path("onnx"), ctx.fp32_ir, "FP32", info)
        return  # the quantize stage writes enet.xml
    to_openvino(ctx.path("onnx"), ctx.path("openvino_ir"), target.precision, info, class_map=target.class_map)
    ctx.add_graph("openvino_ir", read_graph(ctx.path("openvino_ir")))


def quantize_stage(ctx: ExportContext) -> None:
    """INT8 post-training quantization of the FP32 IR (NNCF), gated on mIoU; writes ``enet.xml``."""
    from enet_edge.export.gates import read_graph
    from enet_edge.export.quantize import quantize_ir

    from enet_edge.class_sets import from_meta

    ctx.quantization = quantize_ir(ctx.fp32_ir, ctx.path("openvino_ir"), ctx.target.quantization,
                                   ctx.request.data_dir, ctx.log,
                                   classes=from_meta(ctx.weights_info, ctx.config.num_classes))
    shutil.rmtree(ctx.fp32_ir.parent)
    if ctx.target.class_map:  # quantized (and gated) on the logits; the arg-max goes on last
        from enet_edge.export.convert import append_class_map_to_ir

        append_class_map_to_ir(ctx.path("openvino_ir"), ctx.target.class_map)
    ctx.add_graph("openvino_ir", read_graph(ctx.path("openvino_ir")))


def gates_stage(ctx: ExportContext) -> None:
    """Check every artifact against its ruleset; an export-mode target stops on any violation."""
    from enet_edge.export.gates import check_graph, raise_on_violations

    target = ctx.target
    ctx.reports = {kind: check_graph(ctx.graphs[kind], _ruleset_for(kind, name, target, ctx.config.flavour))
                   for kind, name in target.checks.items() if kind in ctx.graphs}
    if target.mode == "export":
        raise_on_violations(list(ctx.reports.values()), target.name)


def myriad_compile_stage(ctx: ExportContext) -> None:
    """Compile the ONNX with the stick's own compiler (OpenVINO 2021.4.2's MYRIAD X graph transformer, no stick
    needed), with the deployed IR's I/O precisions; a model it refuses fails the export naming the layer."""
    from enet_edge.export.myriadx import compile_model, raise_if_refused, summary_line

    target = ctx.target
    output = target.class_map or "f32"  # what enet.xml's Result holds (its PrePostProcessor set f32 logits)
    ctx.myriad_compiler = compile_model(ctx.path("onnx"), target.myriad_compiler, ctx.log,
                                        input_precision="u8", output_precision=output)
    ctx.log(f"  MYRIAD X compiler: {summary_line(ctx.myriad_compiler)}")
    raise_if_refused(ctx.myriad_compiler, target.name)


def _parity_rows(ctx: ExportContext, frames: List[np.ndarray]) -> List[Tuple[str, Callable[[], tuple]]]:
    """(row name, run) for every artifact, plus the FP16 arithmetic rows of FP16 targets."""
    target = ctx.target
    rows = [(kind, lambda kind=kind: _run_artifact(kind, ctx.tmp / ARTIFACT_FILES[kind], frames))
            for kind in target.artifacts]
    if target.precision == "FP16":
        rows.append((FP16_ARITHMETIC, lambda: _run_fp16_emulation(ctx.config, target, ctx.weights, frames, ctx.weights_source)))
        rows.append((OPENVINO_IR_F16, lambda: _run_artifact("openvino_ir", ctx.tmp / ARTIFACT_FILES["openvino_ir"],
                                                              frames, "f16")))
    return rows


def _fp16_range_audit(ctx: ExportContext, frames: List[np.ndarray]) -> None:
    """Before FP16 parity: every layer's largest |activation| at f32 on the parity frames; the export stops naming
    the first layer beyond FP16's range (65504), where FP16 parity would only report NaN."""
    from enet_edge.model import enet
    from enet_edge.model.weights import set_weights
    from enet_edge.export.fp16_range import activation_ranges, fp16_range_record, raise_on_overflow

    model = enet.build_enet(ctx.config, ctx.target.realization)
    set_weights(model, ctx.weights, ctx.weights_source)
    ctx.fp16_range = fp16_range_record(activation_ranges(model, frames))
    raise_on_overflow(ctx.fp16_range, ctx.target.name)


def parity_stage(ctx: ExportContext) -> None:
    """Run every artifact on the parity inputs against the TensorFlow reference; fail past the thresholds."""
    from enet_edge.model import enet
    from enet_edge.model.weights import set_weights
    from enet_edge.export.parity import compare, compare_class_map
    from enet_edge.runtime.segmenter import is_class_map

    target = ctx.target
    reference = enet.build_enet(ctx.config, REFERENCE_REALIZATION)
    set_weights(reference, ctx.weights, ctx.weights_source)
    frames, ctx.frame_names = parity_inputs(target, ctx.config, ctx.request.data_dir, ctx.request.seed)
    ctx.parity_note = parity_note(target, ctx.request.data_dir)
    if ctx.parity_note:
        ctx.log(f"note: {ctx.parity_note}")
    refs = [reference(f.astype(np.float32), training=False).numpy() for f in frames]
    if target.precision == "FP16":
        _fp16_range_audit(ctx, frames)
    failures = {}
    capabilities: Tuple[str, ...] = ()
    for kind, run in _parity_rows(ctx, frames):
        if kind == OPENVINO_IR_F16 and not has_arithmetic("f16", capabilities):
            ctx.ran_on[kind] = {"skipped": "this CPU has no FP16 arithmetic (OpenVINO CPU capabilities: "
                                           f"{', '.join(capabilities) or 'none'}); the fp16_arithmetic row "
                                           "emulates it instead"}
            continue
        outputs, ctx.ran_on[kind], caps = run()
        capabilities = tuple(caps) or capabilities
        output = np.concatenate(outputs)
        reference = np.concatenate(refs)
        result = compare_class_map(output, reference) if is_class_map(output) else compare(output, reference)
        ctx.parity[kind] = result.to_dict()
        limits = target.thresholds.get(kind)
        if limits is not None:
            bad = limits.failures(result)
            if bad:
                failures[kind] = bad
    if failures:
        details = "; ".join(f"{k}: " + ", ".join(f"{m} {v}" for m, v in bad.items()) for k, bad in failures.items())
        raise ParityError(f"target {target.name}: parity against TensorFlow failed ({details})")


def write_stage(ctx: ExportContext) -> None:
    """Write ``manifest.json`` and ``report.md`` beside the finished artifacts."""
    ctx.manifest = build_manifest(ctx.target, ctx.config, ctx.weights_info, ctx.tmp, ctx.inventories, ctx.reports,
                                  ctx.parity, ctx.ran_on, ctx.frame_names, ctx.quantization, ctx.parameters)
    if ctx.parity_note:
        ctx.manifest["parity"]["note"] = ctx.parity_note
    if ctx.myriad_compiler is not None:
        ctx.manifest["myriad_compiler"] = ctx.myriad_compiler
    if ctx.fp16_range is not None:
        ctx.manifest["parity"]["fp16_range"] = ctx.fp16_range
    (ctx.tmp / "manifest.json").write_text(json.dumps(ctx.manifest, indent=2) + "\n")
    (ctx.tmp / "report.md").write_text(render_report(ctx.manifest))


@dataclass(frozen=True)
class Stage:
    """One pipeline stage: ``run(ctx)`` for the targets it ``applies`` to; ``describe(ctx)`` is its
    ``[i/n]`` progress line (``None``: the stage is not announced)."""

    name: str
    run: Callable[[ExportContext], None]
    applies: Callable[[TargetSpec], bool] = lambda target: True
    describe: Optional[Callable[[ExportContext], str]] = None


STAGES: Tuple[Stage, ...] = (
    Stage("freeze", freeze_stage,
          describe=lambda c: f"freeze {c.target.realization.name} at {c.config.height}x{c.config.width}"),
    Stage("onnx", onnx_stage, applies=lambda t: "onnx" in t.artifacts,
          describe=lambda c: f"convert to ONNX (opset {c.target.onnx_opset})"),
    Stage("openvino_ir", openvino_ir_stage, applies=lambda t: "openvino_ir" in t.artifacts,
          describe=lambda c: f"convert to OpenVINO IR ({c.target.precision}, uint8 BGR NHWC input)"),
    Stage("quantize", quantize_stage, applies=lambda t: t.quantization is not None,
          describe=lambda c: "INT8 post-training quantization (NNCF), gated on mIoU"),
    Stage("gates", gates_stage,
          describe=lambda c: "compatibility gates: " + ", ".join(f"{k}={v}" for k, v in c.target.checks.items())),
    Stage("myriad_compile", myriad_compile_stage, applies=lambda t: t.myriad_compiler is not None,
          describe=lambda c: "compile with the MYRIAD X compiler (OpenVINO 2021.4.2, VPU_MYRIAD_2480, no stick)"),
    Stage("parity", parity_stage, describe=lambda c: "parity against the TensorFlow reference realization"),
    Stage("write", write_stage),
)


def stages_for(target: TargetSpec, stages: Optional[Sequence[Stage]] = None) -> List[Stage]:
    """The stages (of :data:`STAGES` by default) that apply to ``target``, in order."""
    return [stage for stage in (STAGES if stages is None else stages) if stage.applies(target)]


def run_stages(ctx: ExportContext, stages: Sequence[Stage]) -> None:
    """Run ``stages`` in order on ``ctx``, logging ``[i/n] description`` for the announced ones."""
    announced = sum(1 for stage in stages if stage.describe is not None)
    done = 0
    for stage in stages:
        if stage.describe is not None:
            done += 1
            ctx.log(f"[{done}/{announced}] {stage.describe(ctx)}")
        stage.run(ctx)


# -- the export ---------------------------------------------------------------------------------------


def export(request: ExportRequest, log: Callable[[str], None] = print) -> ExportResult:
    """Run the whole pipeline for ``request.target``; see the module docstring.

    Everything that can be checked without building is checked first (output directory, size against
    the memory, data directory, weights); the temp directories of killed exports to the same
    destination are removed (and logged) before this one starts."""
    from enet_edge.limits import check_size

    start = time.perf_counter()
    target = request.target
    out_dir = check_out_dir(request.out_dir)
    height = target.height if request.height is None else request.height
    width = target.width if request.width is None else request.width
    ENetConfig(height=height, width=width)  # the size rules (multiples of 8), before the memory estimate
    check_size(height, width, "export")
    check_data_dir(request.target, request.data_dir)
    check_rulesets(target)
    weights, base_config, weights_info = load_model_weights(request, log)
    config = target.model_config(base_config, request.height, request.width)
    clean_stale(out_dir, log)
    with staging_dir(out_dir, request.out_dir) as tmp:
        ctx = ExportContext(request, config, weights, weights_info, tmp, log)
        run_stages(ctx, stages_for(target))
        replace_dir(tmp, out_dir)
    seconds = time.perf_counter() - start
    return ExportResult(Path(request.out_dir), ctx.manifest, seconds)


_replace_dir = replace_dir  # the name earlier versions used
