"""Parity of an export against the TensorFlow reference (like NCSDK's mvNCCheck): its inputs, its rows, the
comparison and the thresholds; :func:`run_parity` is the export's parity stage.

Inputs (:func:`parity_inputs`, listed once before the export builds anything and kept on its context):
CamVid val frames resized to the model size, then seeded random ones; without CamVid (none asked for and
none at the default places) random frames only, and the manifest's note says so.

Rows (:func:`parity_rows`): every artifact run on the CPU through the device runner, plus for FP16 targets
:data:`FP16_ARITHMETIC` (the target realization in FP16, Keras float16 policy) and :data:`OPENVINO_IR_F16`
(the FP16 IR in f16, where the CPU has FP16 arithmetic). An FP16 target's activations are first audited
against FP16's range (:mod:`enet_edge.export.checks.fp16_range`).

Metrics, all relative to ``max |ref|`` so they read the same for any logit scale:
  max_abs_rel       max |out - ref| / max |ref|
  mean_abs_rel      mean |out - ref| / max |ref|
  share_off_2pct    share of elements with |out - ref| > 0.02 * max |ref|
  l2_rel            ||out - ref||_2 / ||ref||_2
  argmax_agreement  share of pixels whose class (argmax over the last axis) is the same

A class-map artifact (class ids (N,H,W) instead of logits) is compared on the class map alone
(:func:`compare_class_map`): its logit metrics are None, "not measured", and no threshold applies to them.

The metrics and the thresholds a target sets are :mod:`enet_edge.export.checks.thresholds`. Importing this module
imports no TensorFlow; the models parity runs are built by the export's context (:class:`ParityContext`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Protocol, Tuple

import numpy as np

from enet_edge import camvid
from enet_edge.errors import ConfigError, DataError, ParityError
from enet_edge.export.checks.fp16_range import activation_ranges, fp16_range_record, raise_on_overflow
from enet_edge.export.checks.thresholds import ParityResult
from enet_edge.model.config import REFERENCE_REALIZATION
from enet_edge.runtime.adapters import open_adapter
from enet_edge.runtime.backends import RunRequest, adapter_options, kind_backend
from enet_edge.runtime.precision import has_arithmetic, require_exact
from enet_edge.runtime.segmenter import is_class_map, resize_to_model

if TYPE_CHECKING:  # targets never imports this module (its thresholds are in .thresholds)
    from enet_edge.export.targets import TargetSpec


class ParityContext(Protocol):
    """What parity reads from and writes to an export's context (the pipeline's ``ExportContext`` is one; parity
    never imports the pipeline, which imports parity).

    Reads ``target``, ``config`` (``height``, ``width``), ``parity_inputs``, ``log``, :meth:`path` (an artifact
    kind's file) and :meth:`build` (the network in a realization with the export's weights: a Keras model, input
    (1,H,W,3) float32 BGR 0..255, output (1,H,W,K) logits); writes ``parity``, ``ran_on`` and ``fp16_range``."""

    target: "TargetSpec"
    config: Any
    parity_inputs: Optional["ParityInputs"]
    log: Callable[[str], None]
    parity: Dict[str, dict]
    ran_on: Dict[str, dict]
    fp16_range: Optional[dict]

    def path(self, kind: str) -> Path: ...

    def build(self, realization: Any, dtype_policy: Optional[str] = None) -> Any: ...


def as_nhwc(out: np.ndarray, ref_shape) -> np.ndarray:
    """Logits ``out`` in the reference's (N,H,W,K) NHWC layout: (N,K,H,W) NCHW ones (the ONNX and IR exports')
    transposed, NHWC ones as they are."""
    out = np.asarray(out)
    if out.ndim == 4 and out.shape != tuple(ref_shape) and out.transpose(0, 2, 3, 1).shape == tuple(ref_shape):
        return out.transpose(0, 2, 3, 1)
    return out


def compare(out: np.ndarray, ref: np.ndarray) -> ParityResult:
    """Parity of logits ``out`` ((N,K,H,W) NCHW or (N,H,W,K) NHWC, float) against ``ref`` (N,H,W,K) NHWC."""
    out = as_nhwc(np.asarray(out, np.float64), np.shape(ref))
    ref = np.asarray(ref, np.float64)
    if out.shape != ref.shape:
        raise ConfigError(f"parity: output shape {out.shape} differs from the reference {ref.shape}")
    diff = np.abs(out - ref)
    scale = max(float(np.abs(ref).max()), 1e-12)
    return ParityResult(
        max_abs_rel=float(diff.max() / scale),
        mean_abs_rel=float(diff.mean() / scale),
        share_off_2pct=float(np.mean(diff > 0.02 * scale)),
        l2_rel=float(np.linalg.norm(out - ref) / max(np.linalg.norm(ref), 1e-12)),
        argmax_agreement=float(np.mean(out.argmax(-1) == ref.argmax(-1))),
        n_elements=int(ref.size),
    )


def compare_class_map(ids: np.ndarray, ref: np.ndarray) -> ParityResult:
    """Parity of class ids ``ids`` (N,H,W) against the class map of reference logits ``ref`` (N,H,W,K)."""
    ids = np.asarray(ids)
    if ids.shape != ref.shape[:-1]:
        raise ConfigError(f"parity: class map shape {ids.shape} differs from the reference's {ref.shape[:-1]}")
    agreement = float(np.mean(ids.astype(np.int64) == np.asarray(ref).argmax(-1)))
    return ParityResult(None, None, None, None, agreement, int(ids.size))


# -- the inputs ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParityInputs:
    """What parity runs on, listed once before the export builds anything (:func:`parity_inputs`).

    ``camvid``: CamVid val image paths, evenly spaced over the split; ``random``: how many seeded random
    frames follow them; ``seed``: their seed; ``note``: why parity runs on random frames only, else "".
    """

    camvid: Tuple[Path, ...]
    random: int
    seed: int = 0
    note: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "camvid", tuple(Path(p) for p in self.camvid))
        if isinstance(self.random, bool) or not isinstance(self.random, int) or self.random < 0:
            raise ConfigError(f"random={self.random!r} parity frames must be an integer >= 0")
        if not self.camvid and not self.random:
            raise ConfigError("parity needs at least one frame: give CamVid frames or random > 0")

    @property
    def names(self) -> List[str]:
        """``camvid:<file name>`` for each CamVid frame, then ``random:<i>``: the manifest's parity inputs."""
        return [f"camvid:{p.name}" for p in self.camvid] + [f"random:{i}" for i in range(self.random)]

    def frames(self, height: int, width: int) -> List[np.ndarray]:
        """uint8 BGR (1, height, width, 3) frames in :attr:`names` order: the CamVid images resized to the model
        size (bilinear, :func:`~enet_edge.runtime.segmenter.resize_to_model`), then the seeded random ones."""
        frames = [resize_to_model(camvid.read_image_bgr(p), height, width)[None] for p in self.camvid]
        rng = np.random.default_rng(self.seed)
        frames += [rng.integers(0, 256, (1, height, width, 3), dtype=np.uint8) for _ in range(self.random)]
        return frames


def camvid_val_pairs(data_dir: Optional[Path]) -> List[Tuple[Path, Path]]:
    """CamVid val (image, label) pairs of ``data_dir`` or ``$ENET_EDGE_CAMVID`` (asked for: :class:`DataError`
    where it is not CamVid), else of the default CamVid (``../shared/camvid``) where it exists, else none."""
    if data_dir is not None or os.environ.get(camvid.ENV_VAR):  # asked for: must be there
        return camvid.list_split(camvid.resolve_data_dir(data_dir), "val")
    try:
        return camvid.list_split(camvid.resolve_data_dir(None), "val")
    except DataError:
        return []


def parity_inputs(target: "TargetSpec", data_dir: Optional[Path], seed: int) -> ParityInputs:
    """The target's parity inputs: ``target.parity_frames`` CamVid val frames evenly spaced over the split
    (:func:`camvid_val_pairs`; the ones missing are replaced by random frames), then ``target.parity_random``
    random frames seeded with ``seed``. Raises :class:`DataError` where a CamVid asked for is not there."""
    pairs = camvid_val_pairs(data_dir) if target.parity_frames else []
    step = max(1, len(pairs) // max(target.parity_frames, 1))
    images = tuple(image for image, _ in pairs[::step][: target.parity_frames])
    note = ""
    if target.parity_frames and not pairs:
        note = (f"no CamVid frames (no --data-dir or $ENET_EDGE_CAMVID given, and no CamVid at the default "
                f"places): parity ran on {target.parity_frames + target.parity_random} random frames only")
    return ParityInputs(images, target.parity_random + target.parity_frames - len(images), seed, note)


# -- the rows -----------------------------------------------------------------------------------------


OPENVINO_IR_F16 = "openvino_ir_f16"
"""Parity row of FP16 targets on a CPU with FP16 arithmetic (OPTIMIZATION_CAPABILITIES lists FP16):
the FP16 IR run by OpenVINO in f16, as the device computes. Elsewhere the row is left out (and the
report says why): OpenVINO would run bf16 or f32 in its place."""


FP16_ARITHMETIC = "fp16_arithmetic"
"""Parity row of FP16 targets: the target realization with weights *and activations* in FP16
(Keras float16 policy), standing in for the device's FP16 arithmetic where the CPU has none."""


def _run_artifact(kind: str, path: Path, frames: List[np.ndarray], precision: str = "f32"):
    """Outputs of one artifact on every parity frame, plus what ran (asked for and read back).

    OpenVINO IRs run with ``precision`` asked for explicitly (f32: an FP16 IR's row then checks its
    FP16 weights); the row is refused when the CPU runs something else (:func:`require_exact`), so
    parity never measures bf16 in place of f32 or f16.
    """
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


def _run_fp16_emulation(ctx: ParityContext, frames: List[np.ndarray]):
    """Outputs of the target realization in FP16 (weights and activations, Keras float16 policy) as float32."""
    model = ctx.build(ctx.target.realization, dtype_policy="float16")
    outputs = [np.asarray(model(f.astype(np.float32), training=False), np.float32) for f in frames]
    ran = {"backend": "tensorflow", "device": "CPU", "inference_precision": "f16 (Keras float16 policy)",
           "requested_precision": "f16"}
    return outputs, ran, ()


def parity_rows(ctx: ParityContext, frames: List[np.ndarray]) -> List[Tuple[str, Callable[[], tuple]]]:
    """(row name, run) for every artifact, plus the FP16 arithmetic rows of FP16 targets; ``run()`` returns
    (outputs, what ran, the CPU's capabilities)."""
    target = ctx.target
    rows = [(kind, lambda kind=kind: _run_artifact(kind, ctx.path(kind), frames)) for kind in target.artifacts]
    if target.ir_precision == "FP16":
        rows.append((FP16_ARITHMETIC, lambda: _run_fp16_emulation(ctx, frames)))
        rows.append((OPENVINO_IR_F16, lambda: _run_artifact("openvino_ir", ctx.path("openvino_ir"), frames, "f16")))
    return rows


def fp16_range_audit(ctx: ParityContext, frames: List[np.ndarray]) -> None:
    """Before FP16 parity: every layer's largest |activation| at f32 on the parity frames (``ctx.fp16_range``);
    the export stops naming the first layer beyond FP16's range (65504), where FP16 parity would only report NaN."""
    ctx.fp16_range = fp16_range_record(activation_ranges(ctx.build(ctx.target.realization), frames))
    raise_on_overflow(ctx.fp16_range, ctx.target.name)


# -- the stage ----------------------------------------------------------------------------------------


def run_parity(ctx: ParityContext) -> None:
    """The parity stage: every row on ``ctx.parity_inputs`` against the TensorFlow reference realization
    (``ctx.parity``, ``ctx.ran_on``); :class:`ParityError` past the target's thresholds."""
    target, inputs = ctx.target, ctx.parity_inputs
    frames = inputs.frames(ctx.config.height, ctx.config.width)
    if inputs.note:
        ctx.log(f"note: {inputs.note}")
    reference = ctx.build(REFERENCE_REALIZATION)
    refs = np.concatenate([reference(f.astype(np.float32), training=False).numpy() for f in frames])
    if target.ir_precision == "FP16":
        fp16_range_audit(ctx, frames)
    failures = {}
    capabilities: Tuple[str, ...] = ()
    for kind, run in parity_rows(ctx, frames):
        if kind == OPENVINO_IR_F16 and not has_arithmetic("f16", capabilities):
            ctx.ran_on[kind] = {"skipped": "this CPU has no FP16 arithmetic (OpenVINO CPU capabilities: "
                                           f"{', '.join(capabilities) or 'none'}); the fp16_arithmetic row "
                                           "emulates it instead"}
            continue
        outputs, ctx.ran_on[kind], caps = run()
        capabilities = tuple(caps) or capabilities
        output = np.concatenate(outputs)
        result = compare_class_map(output, refs) if is_class_map(output) else compare(output, refs)
        ctx.parity[kind] = result.to_dict()
        limits = target.thresholds.get(kind)
        bad = limits.failures(result) if limits is not None else {}
        if bad:
            failures[kind] = bad
    if failures:
        details = "; ".join(f"{k}: " + ", ".join(f"{m} {v}" for m, v in bad.items()) for k, bad in failures.items())
        raise ParityError(f"target {target.name}: parity against TensorFlow failed ({details})")
