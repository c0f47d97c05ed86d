"""The export pipeline: weights -> frozen graph -> ONNX -> OpenVINO IR, gated and parity-checked.

``export(ExportRequest(...))`` writes into a temporary directory next to the destination and renames
it into place only when every gate and parity check passed: a failed export leaves no half artifact
and does not touch the previous good one.

Output directory (default ``build/<target>/``):
  enet_frozen.pb   frozen TensorFlow GraphDef (input ``image``, output ``logits``)
  enet.onnx        ONNX (tf2onnx)                    [targets with an onnx artifact]
  enet.xml/.bin    OpenVINO IR, uint8 BGR NHWC input [targets with an openvino_ir artifact]
  manifest.json    tool versions, I/O specs, classes and palette, sha256, op inventories, checks, parity
  report.md        the same for people
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import platform
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

from enet_edge.classes import CAMVID_CLASSES, CAMVID_PALETTE_RGB, VOID_LABEL
from enet_edge.model.config import REFERENCE_REALIZATION, ENetConfig
from enet_edge.errors import ArtifactError, DataError, ParityError
from enet_edge.fileio import sha256_file  # noqa: F401 (part of this module's API)
from enet_edge.runtime.precision import has_arithmetic
from enet_edge.resources import DEFAULT_WEIGHTS  # noqa: F401 (the shipped weights; part of this module's API)
from enet_edge.export.targets import ARTIFACT_FILES, TargetSpec

MANIFEST_FORMAT = "enet-edge-manifest/1"


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


@dataclass(frozen=True)
class ExportResult:
    out_dir: Path
    manifest: dict
    seconds: float


def tool_versions() -> Dict[str, str]:
    versions = {"python": platform.python_version()}
    for module in ("enet_edge", "numpy", "tensorflow", "keras", "tf2onnx", "onnx", "onnxruntime", "openvino", "cv2"):
        try:
            mod = __import__(module)
            versions[module] = str(getattr(mod, "__version__", "?"))
        except ImportError:
            continue
    try:
        import openvino as ov

        versions["openvino"] = ov.get_version()
    except (ImportError, AttributeError):
        pass
    return versions


def _load_model_weights(request: ExportRequest, log: Callable[[str], None]):
    """(weights dict, base ENetConfig, weights description dict)."""
    from enet_edge.model import enet

    path = request.weights or (DEFAULT_WEIGHTS if DEFAULT_WEIGHTS.is_file() else None)
    if path is not None:
        weights, config_dict, meta = enet.read_weights(path)
        info = {"path": str(path), "sha256": sha256_file(Path(path)), "trained": True, **meta}
        return weights, ENetConfig.from_dict(config_dict), info
    log("WARNING: no trained weights ship yet; exporting RANDOM (seeded) weights: the model segments nothing")
    config = ENetConfig()
    model = enet.build_enet(config.replace(height=96, width=128, batch=2), REFERENCE_REALIZATION)
    enet.randomize_statistics(model, request.seed)
    info = {"path": None, "trained": False, "seed": request.seed,
            "note": "UNTRAINED: random weights seeded for reproducibility; not for use"}
    return enet.get_weights(model), config, info


def parity_inputs(target: TargetSpec, config: ENetConfig, data_dir: Optional[Path], seed: int
                  ) -> Tuple[List[np.ndarray], List[str]]:
    """uint8 BGR (1,H,W,3) frames: CamVid val frames resized to the model size, then random ones."""
    import cv2

    from enet_edge import camvid

    frames, names = [], []
    if target.parity_frames:
        try:
            root = camvid.resolve_data_dir(data_dir)
            pairs = camvid.list_split(root, "val")
        except DataError:
            pairs = []
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


def _ruleset_for(kind: str, name: str, target: TargetSpec) -> dict:
    from enet_edge.export.gates import ruleset_for  # it lives there: `enet-edge check` must not import this module

    return ruleset_for(kind, name, target)


def _artifact_spec(kind: str, config: ENetConfig) -> dict:
    dtype, note = ("uint8", "OpenCV frame as is") if kind == "openvino_ir" else ("float32", "BGR pixel values 0..255")
    return {
        "inputs": [{"name": "image", "shape": list(config.input_shape), "dtype": dtype, "layout": "NHWC",
                    "color": "BGR", "range": [0, 255], "note": note}],
        "outputs": [{"name": "logits", "shape": list(config.output_shape), "dtype": "float32", "layout": "NHWC",
                     "note": "class map = argmax over the last axis"}],
    }


def _run_artifact(kind: str, path: Path, frames: List[np.ndarray], precision: str = "f32"):
    """Outputs of one artifact on every parity frame, plus what ran (asked for and read back).

    OpenVINO IRs run with ``precision`` asked for explicitly (f32: an FP16 IR's row then checks its
    FP16 weights); the row is refused when the CPU runs something else (:func:`require_exact`), so
    parity never measures bf16 in place of f32 or f16.
    """
    from enet_edge.runtime.adapters import open_adapter
    from enet_edge.runtime.precision import require_exact

    backend = {"tensorflow": "tensorflow", "onnx": "onnxruntime", "openvino_ir": "openvino"}[kind]
    options = {"precision": precision} if backend == "openvino" else {}
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


def _run_fp16_emulation(config: ENetConfig, target: TargetSpec, weights, frames: List[np.ndarray]):
    from enet_edge.model import enet

    model = enet.build_enet(config, target.realization, dtype_policy="float16")
    enet.set_weights(model, weights, "weights")
    outputs = [np.asarray(model(f.astype(np.float32), training=False), np.float32) for f in frames]
    ran = {"backend": "tensorflow", "device": "CPU", "inference_precision": "f16 (Keras float16 policy)",
           "requested_precision": "f16"}
    return outputs, ran, ()


def export(request: ExportRequest, log: Callable[[str], None] = print) -> ExportResult:
    """Run the whole pipeline for ``request.target``; see the module docstring."""
    from enet_edge.model import enet
    from enet_edge.export.gates import check_graph, graph_from_graph_def, raise_on_violations, read_graph
    from enet_edge.export.convert import model_info, to_onnx, to_openvino
    from enet_edge.export.freeze import freeze_model, op_inventory, unknown_shapes, write_graph_def
    from enet_edge.export.parity import compare

    start = time.perf_counter()
    target = request.target
    weights, base_config, weights_info = _load_model_weights(request, log)
    config = target.model_config(base_config, request.height, request.width)
    out_dir = Path(request.out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        stages = ["freeze"] + [k for k in ("onnx", "openvino_ir") if k in target.artifacts]
        stages += (["quantize"] if target.quantization else []) + ["gates", "parity"]
        step = _Steps(stages, log)
        step("freeze", f"freeze {target.realization.name} at {config.height}x{config.width}")
        model = enet.build_enet(config, target.realization)
        enet.set_weights(model, weights, "weights")
        graph_def = freeze_model(model, config)
        dynamic = unknown_shapes(graph_def)
        if dynamic:
            raise ArtifactError(f"frozen graph has tensors without a static shape: {dynamic[:5]}")
        write_graph_def(graph_def, tmp / ARTIFACT_FILES["tensorflow"])
        graphs = {"tensorflow": graph_from_graph_def(graph_def, ARTIFACT_FILES["tensorflow"])}
        inventories = {"tensorflow": op_inventory(graph_def)}
        quantization = None

        if "onnx" in target.artifacts:
            step("onnx", f"convert to ONNX (opset {target.onnx_opset})")
            to_onnx(graph_def, tmp / ARTIFACT_FILES["onnx"], target.onnx_opset)
            graphs["onnx"] = read_graph(tmp / ARTIFACT_FILES["onnx"])
        if "openvino_ir" in target.artifacts:
            step("openvino_ir", f"convert to OpenVINO IR ({target.precision}, uint8 BGR NHWC input)")
            info = model_info(target.name, config.to_dict(), {"enet_edge_trained": str(weights_info["trained"])})
            ir_path = tmp / ARTIFACT_FILES["openvino_ir"]
            if target.quantization is not None:
                from enet_edge.export.quantize import quantize_ir

                fp32_path = tmp / "fp32" / ARTIFACT_FILES["openvino_ir"]
                fp32_path.parent.mkdir()
                to_openvino(tmp / ARTIFACT_FILES["onnx"], fp32_path, "FP32", info)
                step("quantize", "INT8 post-training quantization (NNCF), gated on mIoU")
                quantization = quantize_ir(fp32_path, ir_path, target.quantization, request.data_dir, log)
                shutil.rmtree(fp32_path.parent)
            else:
                to_openvino(tmp / ARTIFACT_FILES["onnx"], ir_path, target.precision, info)
            graphs["openvino_ir"] = read_graph(ir_path)
        for kind, graph in graphs.items():
            inventories[kind] = graph.inventory()

        step("gates", "compatibility gates: " + ", ".join(f"{k}={v}" for k, v in target.checks.items()))
        reports = {kind: check_graph(graphs[kind], _ruleset_for(kind, name, target))
                   for kind, name in target.checks.items() if kind in graphs}
        if target.mode == "export":
            raise_on_violations(list(reports.values()), target.name)

        step("parity", "parity against the TensorFlow reference realization")
        reference = enet.build_enet(config, REFERENCE_REALIZATION)
        enet.set_weights(reference, weights, "weights")
        frames, frame_names = parity_inputs(target, config, request.data_dir, request.seed)
        refs = [reference(f.astype(np.float32), training=False).numpy() for f in frames]
        parity, ran_on = {}, {}
        failures = {}
        capabilities: Tuple[str, ...] = ()
        runs = [(kind, lambda kind=kind: _run_artifact(kind, tmp / ARTIFACT_FILES[kind], frames))
                for kind in target.artifacts]
        if target.precision == "FP16":
            runs.append((FP16_ARITHMETIC, lambda: _run_fp16_emulation(config, target, weights, frames)))
            runs.append((OPENVINO_IR_F16, lambda: _run_artifact("openvino_ir", tmp / ARTIFACT_FILES["openvino_ir"],
                                                                  frames, "f16")))
        for kind, run in runs:
            if kind == OPENVINO_IR_F16 and not has_arithmetic("f16", capabilities):
                ran_on[kind] = {"skipped": "this CPU has no FP16 arithmetic (OpenVINO CPU capabilities: "
                                           f"{', '.join(capabilities) or 'none'}); the fp16_arithmetic row "
                                           "emulates it instead"}
                continue
            outputs, ran_on[kind], caps = run()
            capabilities = tuple(caps) or capabilities
            result = compare(np.concatenate(outputs), np.concatenate(refs))
            parity[kind] = result.to_dict()
            limits = target.thresholds.get(kind)
            if limits is not None:
                bad = limits.failures(result)
                if bad:
                    failures[kind] = bad
        if failures:
            details = "; ".join(f"{k}: " + ", ".join(f"{m} {v}" for m, v in bad.items()) for k, bad in failures.items())
            raise ParityError(f"target {target.name}: parity against TensorFlow failed ({details})")

        manifest = _manifest(target, config, weights_info, tmp, inventories, reports, parity, ran_on, frame_names)
        if quantization is not None:
            manifest["quantization"] = quantization
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        (tmp / "report.md").write_text(render_report(manifest))
        _replace_dir(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    seconds = time.perf_counter() - start
    return ExportResult(out_dir, manifest, seconds)


class _Steps:
    """Logs ``[i/n] message`` for the named pipeline stages of one export."""

    def __init__(self, names, log: Callable[[str], None]):
        self.names, self.log = list(names), log

    def __call__(self, name: str, message: str) -> None:
        self.log(f"[{self.names.index(name) + 1}/{len(self.names)}] {message}")


def _replace_dir(new: Path, dest: Path) -> None:
    """Move ``new`` to ``dest``; an existing ``dest`` is replaced only after ``new`` is complete."""
    old = None
    if dest.exists():
        old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
        os.replace(dest, old)
    try:
        os.replace(new, dest)
    except OSError:
        if old is not None:
            os.replace(old, dest)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _manifest(target, config, weights_info, directory, inventories, reports, parity, ran_on, frame_names) -> dict:
    artifacts = {}
    for kind in target.artifacts:
        path = directory / ARTIFACT_FILES[kind]
        entry = {"file": path.name, "sha256": sha256_file(path), "bytes": path.stat().st_size,
                 **_artifact_spec(kind, config), "op_inventory": inventories[kind]}
        if kind == "openvino_ir":
            bin_path = path.with_suffix(".bin")
            entry.update({"weights_file": bin_path.name, "weights_sha256": sha256_file(bin_path),
                          "weights_bytes": bin_path.stat().st_size, "precision": target.precision,
                          "device": target.device})
        if kind == "onnx":
            entry["opset"] = target.onnx_opset
        artifacts[kind] = entry
    checks = {kind: report.to_dict() for kind, report in reports.items()}
    for entry in checks.values():
        entry["path"] = Path(entry["path"]).name
    return {
        "format": MANIFEST_FORMAT,
        "target": target.name,
        "description": target.description,
        "mode": target.mode,
        "supported": all(r.ok for r in reports.values()),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "weights": weights_info,
        "model": config.to_dict(),
        "realization": target.realization.to_dict(),
        "classes": list(CAMVID_CLASSES),
        "void_label": VOID_LABEL,
        "palette_rgb": [list(c) for c in CAMVID_PALETTE_RGB],
        "artifacts": artifacts,
        "checks": checks,
        "parity": {"reference": f"TensorFlow/Keras, realization {REFERENCE_REALIZATION.name}",
                   "inputs": frame_names, "ran_on": ran_on, "results": parity,
                   "thresholds": {k: dataclasses.asdict(v) for k, v in target.thresholds.items()}},
        "tools": tool_versions(),
    }


def render_report(manifest: dict) -> str:
    """A human-readable Markdown report of an export manifest."""
    w = manifest["weights"]
    lines = [f"# enet-edge export: {manifest['target']}", "", manifest["description"], ""]
    if not w.get("trained"):
        lines += ["> **UNTRAINED WEIGHTS.** This export uses random (seeded) weights: it proves the pipeline, "
                  "it does not segment anything.", ""]
    else:
        miou = w.get("val_miou")
        lines += [f"Weights: `{w.get('path')}`" + (f" (val mIoU {100 * miou:.1f}%)" if miou else ""), ""]
    status = "compatible" if manifest["supported"] else "**NOT COMPATIBLE**"
    lines += [f"Mode: {manifest['mode']}; target status: {status}.", "",
              f"Model: {manifest['model']['height']}x{manifest['model']['width']}, "
              f"{len(manifest['classes'])} classes; realization: "
              + ", ".join(f"{k}={v}" for k, v in manifest["realization"].items()), "", "## Artifacts", "",
              "| kind | file | bytes | sha256 |", "|---|---|---|---|"]
    for kind, a in manifest["artifacts"].items():
        lines.append(f"| {kind} | {a['file']} | {a['bytes']} | `{a['sha256'][:16]}…` |")
        if "weights_file" in a:
            lines.append(f"| {kind} weights | {a['weights_file']} | {a['weights_bytes']} | `{a['weights_sha256'][:16]}…` |")
    lines += ["", "## Compatibility checks", ""]
    for kind, c in manifest["checks"].items():
        verdict = "pass" if c["ok"] else f"**{len(c['violations'])} violation(s)**"
        lines.append(f"- {kind} ({c['path']}) against `{c['ruleset']}`: {verdict}")
    for kind, c in manifest["checks"].items():
        if c["violations"]:
            groups: Dict[Tuple[str, str], int] = {}
            for v in c["violations"]:
                groups[(v["op_type"], v["why"])] = groups.get((v["op_type"], v["why"]), 0) + 1
            lines += ["", f"### {kind} blockers, by kind", "", "| op type | nodes | why not allowed |", "|---|---|---|"]
            lines += [f"| {op} | {n} | {why} |" for (op, why), n in sorted(groups.items(), key=lambda g: -g[1])]
            lines += ["", f"### {kind} violations, every node", "", "| op type | node | why not allowed | rule |",
                      "|---|---|---|---|"]
            lines += [f"| {v['op_type']} | `{v['node']}` | {v['why']} | {v['rule']} |" for v in c["violations"]]
    p = manifest["parity"]
    lines += ["", "## Parity against TensorFlow", "", f"Reference: {p['reference']}. Inputs: {', '.join(p['inputs'])}.", "",
              "| artifact | ran on | max abs/max ref | mean abs/max ref | >2% off | L2 rel | argmax agreement |",
              "|---|---|---|---|---|---|---|"]
    for kind, r in p["results"].items():
        ran = p["ran_on"][kind]
        where = f"{ran['backend']} {ran['device']} {ran['inference_precision']}"
        lines.append(f"| {kind} | {where} | {r['max_abs_rel']:.2e} | {r['mean_abs_rel']:.2e} | "
                     f"{100 * r['share_off_2pct']:.3f}% | {r['l2_rel']:.2e} | {100 * r['argmax_agreement']:.3f}% |")
    skipped = {kind: ran["skipped"] for kind, ran in p["ran_on"].items() if "skipped" in ran}
    if skipped:
        lines += [""] + [f"Not run: {kind}: {why}." for kind, why in skipped.items()]
    if "openvino_ir" in p["ran_on"] and manifest["artifacts"]["openvino_ir"].get("precision") == "FP16":
        lines += ["", "The FP16 IR's `openvino_ir` row asks OpenVINO for f32 arithmetic (read back), so it checks the "
                      "FP16 weights; FP16 arithmetic is checked by `fp16_arithmetic` (emulated) and, on CPUs with "
                      "FP16, by `openvino_ir_f16`. Parity never runs bf16 in place of f32 or f16."]
    q = manifest.get("quantization")
    if q:
        lines += ["", "## INT8 quantization", "",
                  f"{q['method']} ({q['tool']}, preset {q['preset']}), calibrated on {q['calibration']['frames']} "
                  f"{q['calibration']['split']} frames; {q['fake_quantize_ops']} FakeQuantize ops"
                  + (f"; kept in float: `{'`, `'.join(q['ignored_patterns'])}`." if q.get("ignored_patterns") else "."),
                  "",
                  f"| IR | {q['eval']['split']} mIoU ({q['eval']['frames']} frames) |", "|---|---|",
                  f"| FP32 | {100 * q['fp32_miou']:.2f}% |", f"| INT8 | {100 * q['int8_miou']:.2f}% |", "",
                  f"Drop {q['miou_drop_points']:.2f} points (gate: at most {q['max_miou_drop_points']:.2f})."]
    ir = manifest["artifacts"].get("openvino_ir")
    if ir:
        lines += ["", "## OpenVINO IR op inventory", "", "| op-version | count |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in ir["op_inventory"].items()]
    lines += ["", "## Tools", ""] + [f"- {k} {v}" for k, v in manifest["tools"].items()]
    return "\n".join(lines) + "\n"
