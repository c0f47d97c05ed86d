"""The export pipeline: weights -> frozen graph -> ONNX -> OpenVINO IR, gated and parity-checked.

``export(ExportRequest(...))`` writes into a temporary directory next to the destination and renames
it into place only when every gate and parity check passed: a failed export leaves no half artifact
and does not touch the previous good one.

The pipeline is a list of stages (:data:`STAGES`: freeze, onnx, openvino_ir, quantize, gates, parity,
myriad_compile, write), each a function that reads and extends one :class:`ExportContext`; a target runs the stages
that apply to it (:func:`stages_for`: no ``onnx`` artifact, no onnx stage; no ``[quantization]``,
no quantize stage). Parity (its inputs, rows, comparison and thresholds) is :mod:`enet_edge.export.checks.parity`.

Importing this module imports TensorFlow (the stages build, freeze and convert the network): ``enet-edge
export`` imports it when it runs, ``enet-edge check`` never.

Output directory (default ``build/<target>/``):
  enet_frozen.pb   frozen TensorFlow GraphDef (input ``image``, output ``logits``)
  enet.onnx        ONNX (tf2onnx)                    [targets with an onnx artifact]
  enet.xml/.bin    OpenVINO IR, uint8 BGR NHWC input [targets with an openvino_ir artifact]
  manifest.json    tool versions, I/O specs, classes and palette, sha256, op inventories, checks, parity
  report.md        the same for people (:mod:`enet_edge.export.report`)
  accuracy-check.yml, accuracy-check-meta.json [, enet_edge_accuracy_check.py]
                   Intel's accuracy_check on the IR [targets with an openvino_ir artifact]
                   (:mod:`enet_edge.export.accuracy_check`)
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from enet_edge.class_sets import ClassSet
from enet_edge.errors import ArtifactError, ConfigError
from enet_edge.fileio import sha256_file
from enet_edge.limits import check_size
from enet_edge.model import enet
from enet_edge.model.config import REFERENCE_REALIZATION, ENetConfig, Realization
from enet_edge.model.weights import get_weights, read_weights, set_weights
from enet_edge.resources import DEFAULT_WEIGHTS
from enet_edge.runtime.adapters.tensorflow import write_graph_def
from enet_edge.runtime.precision import MODEL_PRECISION_KEY
from enet_edge.export.accuracy_check import write_accuracy_check
from enet_edge.export.convert.onnx_ir import append_class_map_to_ir, model_info, to_onnx, to_openvino
from enet_edge.export.convert.freeze import freeze_model, unknown_shapes
from enet_edge.export.checks.gates import check_graph, graph_from_graph_def, raise_on_violations, read_graph, ruleset_for
from enet_edge.export.myriad.compiler import raise_if_refused, summary_line
from enet_edge.export.myriad.runner_io import compile_for_runner
from enet_edge.export.outdir import check_out_dir, clean_stale, replace_dir, staging_dir
from enet_edge.export.checks.parity import ParityInputs, parity_inputs, run_parity
from enet_edge.export.checks.preflight import check_data_dir, check_rulesets
from enet_edge.export.convert.quantize import quantize_ir
from enet_edge.export.report import build_manifest, model_classes, render_report
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
    parity_inputs: Optional[ParityInputs] = None  # what parity runs on, listed by export() before building
    classes: Optional[ClassSet] = None  # the model's class set (report.model_classes), resolved by export()
    graph_def: Any = None  # frozen GraphDef (freeze)
    graphs: Dict[str, Any] = field(default_factory=dict)  # kind -> gates.Graph of each artifact written
    inventories: Dict[str, Dict[str, int]] = field(default_factory=dict)  # kind -> op inventory
    fp32_ir: Optional[Path] = None  # the FP32 IR an INT8 target quantizes (openvino_ir -> quantize)
    quantization: Optional[dict] = None  # quantize's record
    reports: Dict[str, Any] = field(default_factory=dict)  # kind -> gates.CheckReport
    parity: Dict[str, dict] = field(default_factory=dict)  # row -> ParityResult.to_dict()
    ran_on: Dict[str, dict] = field(default_factory=dict)  # row -> what ran (or why it was skipped)
    myriad_compiler: Optional[dict] = None  # the MYRIAD X compiler's record (myriad_compile)
    fp16_range: Optional[dict] = None  # largest activations against FP16's range (parity, FP16 targets)
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

    def build(self, realization: Realization, dtype_policy: Optional[str] = None):
        """The network (a Keras model, input (1,H,W,3) BGR 0..255, output (1,H,W,K) logits) at :attr:`config` in
        ``realization`` with the export's weights; ``dtype_policy`` "float16": weights and activations in FP16."""
        model = enet.build_enet(self.config, realization, dtype_policy=dtype_policy)
        set_weights(model, self.weights, self.weights_source)
        return model


# -- weights ---------------------------------------------------------------------------------------


def load_model_weights(request: ExportRequest, log: Callable[[str], None]):
    """(weights dict, base ENetConfig, weights description dict): ``request.weights``, else the shipped
    weights, else seeded random ones (with a warning)."""
    path = request.weights or (DEFAULT_WEIGHTS if DEFAULT_WEIGHTS.is_file() else None)
    if path is not None:
        return _trained_weights(path, request.weights is not None)
    log("WARNING: no trained weights ship yet; exporting RANDOM (seeded) weights: the model segments nothing")
    return _random_weights(request.seed)


def _trained_weights(path, request_weights: bool = True):
    weights, config, meta = read_weights(path, "--weights" if request_weights else "the shipped weights")
    info = {"path": str(path), "sha256": sha256_file(Path(path)), "trained": True, **meta}
    return weights, config, info


def _random_weights(seed: int):
    config = ENetConfig()
    model = enet.build_enet(config.replace(height=96, width=128, batch=2), REFERENCE_REALIZATION)
    enet.randomize_statistics(model, seed)
    info = {"path": None, "trained": False, "seed": seed,
            "note": "UNTRAINED: random weights seeded for reproducibility; not for use"}
    return get_weights(model), config, info


# -- the stages ---------------------------------------------------------------------------------------


def freeze_stage(ctx: ExportContext) -> None:
    """Build the target realization with the weights, freeze it, write ``enet_frozen.pb``."""
    model = ctx.build(ctx.target.realization)
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
    to_onnx(ctx.graph_def, ctx.path("onnx"), ctx.target.onnx_opset, ctx.target.onnx_rewrites, ctx.log,
            ctx.target.class_map)
    ctx.add_graph("onnx", read_graph(ctx.path("onnx")))


def openvino_ir_stage(ctx: ExportContext) -> None:
    """Convert the ONNX model to an OpenVINO IR at the target's precision (INT8: an FP32 IR for quantize)."""
    target = ctx.target
    info = model_info(target.name, ctx.config.to_dict(), {"enet_edge_trained": str(ctx.weights_info["trained"])},
                      classes=ctx.classes)
    if target.inference_precision:  # what the runtime asks for when its caller asks for none (OpenVINOAdapter)
        info[MODEL_PRECISION_KEY[1]] = target.inference_precision  # to_openvino stores info under "model_info"
    if target.quantization is not None:
        ctx.fp32_ir = ctx.tmp / "fp32" / ARTIFACT_FILES["openvino_ir"]
        ctx.fp32_ir.parent.mkdir()
        to_openvino(ctx.path("onnx"), ctx.fp32_ir, "FP32", info)
        return  # the quantize stage writes enet.xml
    to_openvino(ctx.path("onnx"), ctx.path("openvino_ir"), target.ir_precision, info, class_map=target.class_map)
    ctx.add_graph("openvino_ir", read_graph(ctx.path("openvino_ir")))


def quantize_stage(ctx: ExportContext) -> None:
    """INT8 post-training quantization of the FP32 IR (NNCF), gated on mIoU; writes ``enet.xml``."""
    ctx.quantization = quantize_ir(ctx.fp32_ir, ctx.path("openvino_ir"), ctx.target.quantization,
                                   ctx.request.data_dir, ctx.log, classes=ctx.classes)
    shutil.rmtree(ctx.fp32_ir.parent)
    if ctx.target.class_map:  # quantized (and gated) on the logits; the arg-max goes on last
        append_class_map_to_ir(ctx.path("openvino_ir"), ctx.target.class_map)
    ctx.add_graph("openvino_ir", read_graph(ctx.path("openvino_ir")))


def gates_stage(ctx: ExportContext) -> None:
    """Check every artifact against its ruleset; an export-mode target stops on any violation."""
    target = ctx.target
    ctx.reports = {kind: check_graph(ctx.graphs[kind], ruleset_for(kind, name, target, ctx.config.flavour))
                   for kind, name in target.checks.items() if kind in ctx.graphs}
    if target.mode == "export":
        raise_on_violations(list(ctx.reports.values()), target.name)


def myriad_compile_stage(ctx: ExportContext) -> None:
    """Compile the ONNX with the stick's own compiler (OpenVINO 2021.4.2's MYRIAD X graph transformer, no stick
    needed), with the I/O the runner asks of the deployed IR (:func:`compile_for_runner`); a model it refuses fails
    the export naming the layer."""
    target = ctx.target
    ctx.myriad_compiler = compile_for_runner(ctx.path("onnx"), target, ctx.log)
    ctx.log(f"  MYRIAD X compiler: {summary_line(ctx.myriad_compiler)}")
    raise_if_refused(ctx.myriad_compiler, target.name)


def write_stage(ctx: ExportContext) -> None:
    """Write ``manifest.json`` and ``report.md`` beside the finished artifacts, and (an IR) Intel's accuracy_check
    config naming the directory the export is renamed to (:func:`write_accuracy_check`)."""
    ctx.manifest = build_manifest(ctx.target, ctx.config, ctx.classes, ctx.weights_info, ctx.tmp, ctx.inventories,
                                  ctx.reports, ctx.parity, ctx.ran_on, ctx.parity_inputs.names, ctx.quantization, ctx.parameters)
    if ctx.parity_inputs.note:
        ctx.manifest["parity"]["note"] = ctx.parity_inputs.note
    if ctx.myriad_compiler is not None:
        ctx.manifest["myriad_compiler"] = ctx.myriad_compiler
    if ctx.fp16_range is not None:
        ctx.manifest["parity"]["fp16_range"] = ctx.fp16_range
    (ctx.tmp / "manifest.json").write_text(json.dumps(ctx.manifest, indent=2) + "\n")
    (ctx.tmp / "report.md").write_text(render_report(ctx.manifest))
    if "openvino_ir" in ctx.manifest["artifacts"]:
        write_accuracy_check(ctx.tmp, os.path.abspath(ctx.request.out_dir), ctx.manifest)


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
          describe=lambda c: f"convert to OpenVINO IR ({c.target.ir_precision}, uint8 BGR NHWC input)"),
    Stage("quantize", quantize_stage, applies=lambda t: t.quantization is not None,
          describe=lambda c: "INT8 post-training quantization (NNCF), gated on mIoU"),
    Stage("gates", gates_stage,
          describe=lambda c: "compatibility gates: " + ", ".join(f"{k}={v}" for k, v in c.target.checks.items())),
    # parity before the compiler: a model that is wrong stops in seconds, not after the compile (~1 min at 360x480)
    Stage("parity", run_parity, describe=lambda c: "parity against the TensorFlow reference realization"),
    Stage("myriad_compile", myriad_compile_stage, applies=lambda t: t.myriad_compiler is not None,
          describe=lambda c: "compile with the MYRIAD X compiler (OpenVINO 2021.4.2, VPU_MYRIAD_2480, no stick)"),
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
    the memory, data directory and parity inputs, rulesets, weights); the temp directories of killed exports
    to the same destination are removed (and logged) before this one starts."""
    start = time.perf_counter()
    target = request.target
    out_dir = check_out_dir(request.out_dir)
    size = target.model_config(None, request.height, request.width)  # the size rules (multiples of 8) first
    check_size(size.height, size.width, "export")
    inputs = parity_inputs(target, request.data_dir, request.seed)
    check_data_dir(target, request.data_dir)
    check_rulesets(target)
    weights, base_config, weights_info = load_model_weights(request, log)
    config = target.model_config(base_config, size.height, size.width)
    classes = model_classes(weights_info, config)
    clean_stale(out_dir, log)
    with staging_dir(out_dir, request.out_dir) as tmp:
        ctx = ExportContext(request, config, weights, weights_info, tmp, log, inputs, classes)
        run_stages(ctx, stages_for(target))
        replace_dir(tmp, out_dir)
    seconds = time.perf_counter() - start
    return ExportResult(Path(request.out_dir), ctx.manifest, seconds)
