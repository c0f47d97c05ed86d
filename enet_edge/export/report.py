"""What an export says about itself: ``manifest.json`` (for programs) and ``report.md`` (for people).

The manifest records tool versions, the I/O spec, classes and palette, the sha256 of every artifact,
op inventories, gate reports and parity results; :func:`render_report` renders it as Markdown.
"""

from __future__ import annotations

import dataclasses
import datetime
import platform
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from enet_edge.class_sets import ClassSet, from_meta
from enet_edge.errors import ArtifactError
from enet_edge.export.checks.fp16_range import near_limit_text
from enet_edge.export.myriad.compiler import summary_line
from enet_edge.export.targets import ARTIFACT_FILES, TargetSpec
from enet_edge.fileio import sha256_file
from enet_edge.model.config import REFERENCE_REALIZATION, ENetConfig
from enet_edge.runtime.complexity import ir_complexity

MANIFEST_FORMAT = "enet-edge-manifest/1"


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


def artifact_spec(kind: str, config: ENetConfig, class_map: Optional[str] = None) -> dict:
    """The I/O spec of one artifact kind: the IR takes the OpenCV frame as is, the others float32 pixels; the IR
    and the ONNX give (1,K,H,W) NCHW logits, the TensorFlow graph (1,H,W,K) NHWC.

    ``class_map`` (int32/uint8): the IR and the ONNX output class ids (1,H,W) instead of the logits.
    """
    dtype, note = ("uint8", "OpenCV frame as is") if kind == "openvino_ir" else ("float32", "BGR pixel values 0..255")
    output = {"name": "logits", "shape": list(config.output_shape), "dtype": "float32", "layout": "NHWC",
              "note": "class map = argmax over the last axis"}
    if kind in ("openvino_ir", "onnx"):  # channels-first, as ONNX and OpenVINO's model_api have them
        n, h, w, k = config.output_shape
        output.update(shape=[n, k, h, w], layout="NCHW", note="class map = argmax over axis 1 (the classes)")
    if kind in ("openvino_ir", "onnx") and class_map:
        output = {"name": "class_map", "shape": list(config.output_shape[:3]), "dtype": class_map, "layout": "NHW",
                  "note": "class ids: the arg-max over the classes ran inside the model"}
    return {
        "inputs": [{"name": "image", "shape": list(config.input_shape), "dtype": dtype, "layout": "NHWC",
                    "color": "BGR", "range": [0, 255], "note": note}],
        "outputs": [output],
    }


def _artifact_entry(kind: str, target: TargetSpec, config: ENetConfig, directory: Path, inventory: dict) -> dict:
    path = directory / ARTIFACT_FILES[kind]
    entry = {"file": path.name, "sha256": sha256_file(path), "bytes": path.stat().st_size,
             **artifact_spec(kind, config, target.class_map), "op_inventory": inventory}
    if kind == "openvino_ir":
        bin_path = path.with_suffix(".bin")
        entry.update({"weights_file": bin_path.name, "weights_sha256": sha256_file(bin_path),
                      "weights_bytes": bin_path.stat().st_size, "precision": target.ir_precision,
                      "device": target.device})
        if target.inference_precision:
            entry["inference_precision"] = target.inference_precision
    if kind == "onnx":
        entry["opset"] = target.onnx_opset
    return entry


def build_manifest(target: TargetSpec, config: ENetConfig, classes: ClassSet, weights_info: dict, directory: Path,
                   inventories: Dict[str, dict], reports: dict, parity: Dict[str, dict], ran_on: Dict[str, dict],
                   frame_names: List[str], quantization: Optional[dict] = None,
                   parameters: Optional[int] = None) -> dict:
    """The manifest of the artifacts in ``directory`` (hashed there: call it on the finished files); ``classes``:
    the model's (:func:`model_classes`)."""
    artifacts = {kind: _artifact_entry(kind, target, config, directory, inventories[kind]) for kind in target.artifacts}
    checks = {kind: report.to_dict() for kind, report in reports.items()}
    for entry in checks.values():
        entry["path"] = Path(entry["path"]).name
    manifest = {
        "format": MANIFEST_FORMAT,
        "target": target.name,
        "description": target.description,
        "mode": target.mode,
        "supported": all(r.ok for r in reports.values()),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "weights": weights_info,
        "model": config.to_dict(),
        "realization": target.realization.to_dict(),
        **classes.manifest_entries(),
        "preprocessing_in_graph": (["reverse channels (BGR frame -> RGB)"] if config.flavour_spec.input_rgb else [])
        + ["scale by 1/255"],
        "artifacts": artifacts,
        "checks": checks,
        "parity": {"reference": f"TensorFlow/Keras, flavour {config.flavour}, realization {REFERENCE_REALIZATION.name}"
                                + (" (kwotsin's ops: max_pool_with_argmax + scatter_nd unpooling, conv2d_transpose)"
                                   if config.flavour == "kwotsin" else ""),
                   "inputs": frame_names, "ran_on": ran_on, "results": parity,
                   "thresholds": {k: dataclasses.asdict(v) for k, v in target.thresholds.items()}},
        "tools": tool_versions(),
    }
    if quantization is not None:
        manifest["quantization"] = quantization
    manifest["complexity"] = complexity_entry(directory, target, parameters)
    return manifest


def model_classes(weights_info: dict, config: ENetConfig) -> ClassSet:
    """The class set an export records: the weights' (their meta, :func:`~enet_edge.class_sets.from_meta`),
    CamVid's by default; :class:`ArtifactError` where it does not name one class per output of ``config``."""
    classes = from_meta(weights_info, config.num_classes)
    if classes.num_classes != config.num_classes:
        raise ArtifactError(f"the weights name {classes.num_classes} classes but the network has {config.num_classes} "
                            "outputs; fix the class set in the weights' meta")
    return classes


def complexity_entry(directory: Path, target: TargetSpec, parameters: Optional[int]) -> dict:
    """Parameters of the network and the compute of the IR as realized for this target (GMAC per frame)."""
    entry: dict = {"parameters": parameters}
    if "openvino_ir" in target.artifacts:
        entry.update(ir_complexity(directory / ARTIFACT_FILES["openvino_ir"]).to_dict())
        entry["note"] = ("MACs of the IR's convolutions as realized for this target (elementwise ops, pooling "
                         "and data movement not counted); FLOPs = 2 x MACs")
    return entry


def _metric(value, spec: str) -> str:
    """A parity metric; "–" where it is not measured (a class-map artifact has no logits)."""
    return "–" if value is None else format(value, spec)


def complexity_text(entry: Optional[dict]) -> str:
    """``Complexity: 372,859 parameters; 1.354 GMAC (2.708 GFLOPs) per frame in the IR's convolutions.``"""
    if not entry:
        return "Complexity: not recorded."
    text = f"Complexity: {entry['parameters']:,} parameters" if entry.get("parameters") else "Complexity:"
    if entry.get("gmac") is not None:
        text += (f"; {entry['gmac']:.3f} GMAC ({entry['gflops']:.3f} GFLOPs) per frame in the IR's "
                 f"{entry['counted_layers']} convolutions")
    return text + "."


def render_report(manifest: dict) -> str:
    """A human-readable Markdown report of an export manifest."""
    w = manifest["weights"]
    lines = [f"# enet-edge export: {manifest['target']}", "", manifest["description"], ""]
    if not w.get("trained"):
        lines += ["> **UNTRAINED WEIGHTS.** This export uses random (seeded) weights: it proves the pipeline, "
                  "it does not segment anything.", ""]
    else:
        miou = w.get("val_miou")
        held_out = "" if not w.get("val_trained_on") else "; trained on val too, so not a held-out score"
        lines += [f"Weights: `{w.get('path')}`" + (f" (val mIoU {100 * miou:.1f}%{held_out})" if miou else ""), ""]
    status = "compatible" if manifest["supported"] else "**NOT COMPATIBLE**"
    lines += [f"Mode: {manifest['mode']}; target status: {status}.", "",
              f"Model: {manifest['model']['height']}x{manifest['model']['width']}, "
              f"{len(manifest['classes'])} classes; realization: "
              + ", ".join(f"{k}={v}" for k, v in manifest["realization"].items()), "",
              f"Architecture: flavour {manifest['model'].get('flavour', 'paper')}; in the graph: "
              + ", ".join(manifest.get("preprocessing_in_graph", ["scale by 1/255"]))
              + f"; classes: {', '.join(manifest['classes'])}.", "",
              complexity_text(manifest.get("complexity")), "", "## Artifacts", "",
              "| kind | file | bytes | sha256 |", "|---|---|---|---|"]
    for kind, a in manifest["artifacts"].items():
        lines.append(f"| {kind} | {a['file']} | {a['bytes']} | `{a['sha256'][:16]}…` |")
        if "weights_file" in a:
            lines.append(f"| {kind} weights | {a['weights_file']} | {a['weights_bytes']} | `{a['weights_sha256'][:16]}…` |")
    lines += _checks_section(manifest["checks"])
    lines += myriad_compiler_section(manifest.get("myriad_compiler"))
    lines += _parity_section(manifest)
    lines += _quantization_section(manifest.get("quantization"))
    ir = manifest["artifacts"].get("openvino_ir")
    if ir:
        lines += ["", "## OpenVINO IR op inventory", "", "| op-version | count |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in ir["op_inventory"].items()]
    lines += ["", "## Tools", ""] + [f"- {k} {v}" for k, v in manifest["tools"].items()]
    return "\n".join(lines) + "\n"


def _checks_section(checks: dict) -> List[str]:
    lines = ["", "## Compatibility checks", ""]
    for kind, c in checks.items():
        verdict = "pass" if c["ok"] else f"**{len(c['violations'])} violation(s)**"
        lines.append(f"- {kind} ({c['path']}) against `{c['ruleset']}`: {verdict}")
    for kind, c in checks.items():
        if c["violations"]:
            groups: Dict[Tuple[str, str], int] = {}
            for v in c["violations"]:
                groups[(v["op_type"], v["why"])] = groups.get((v["op_type"], v["why"]), 0) + 1
            lines += ["", f"### {kind} blockers, by kind", "", "| op type | nodes | why not allowed |", "|---|---|---|"]
            lines += [f"| {op} | {n} | {why} |" for (op, why), n in sorted(groups.items(), key=lambda g: -g[1])]
            lines += ["", f"### {kind} violations, every node", "", "| op type | node | why not allowed | rule |",
                      "|---|---|---|---|"]
            lines += [f"| {v['op_type']} | `{v['node']}` | {v['why']} | {v['rule']} |" for v in c["violations"]]
    return lines


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value


def _num(value, spec: str) -> str:
    return format(value, spec) if _is_number(value) else "?"


def model_version(version) -> str:
    """A time model's version as written: ``v1.2`` for a number (``1.2``), a name as it is
    (``myriadx-tm-2026-12-04``); ``v?`` where there is none."""
    text = str(version) if version not in (None, "") else "?"
    return f"v{text}" if text[0].isdigit() or text == "?" else text


def predicted_text(record: Optional[dict]) -> str:
    """One line of a compiled record's ``predicted`` (the MYRIAD X time model's): sync ms over USB 3 and USB 2,
    throughput FPS, the model's version and leave-one-out error, unmodelled stage types; or why there is none
    ("no prediction": a refused or not-run compile, or a record made before the time model)."""
    if not record:
        return "no prediction (not compiled)"
    predicted = record.get("predicted")
    if not isinstance(predicted, dict):
        if record.get("verdict") != "compiled":
            return f"no prediction ({record.get('verdict') or 'not compiled'})"
        return "no prediction (compiled before the MYRIAD X time model: export or check it again)"
    sync, model = predicted.get("sync_ms") or {}, predicted.get("model") or {}
    error = model.get("loo_median_error")
    text = (f"predicted {_num(sync.get('usb3'), '.1f')} ms sync (USB 3) / {_num(sync.get('usb2'), '.1f')} ms "
            f"(USB 2), {_num(predicted.get('throughput_fps'), '.1f')} FPS throughput (time model "
            f"{model_version(model.get('version'))}, leave-one-out median error "
            f"{_num(100 * error if _is_number(error) else None, '.0f')}%)")
    unmodelled = [u for u in predicted.get("unmodelled") or () if isinstance(u, dict)]
    if unmodelled:
        text += "; unmodelled stage types: " + ", ".join(f"{u.get('type')} x{u.get('count')}" for u in unmodelled)
    return text


def predicted_section(record: dict) -> List[str]:
    """report.md's prediction of a compiled record: the line, top stage types by time, unmodelled types."""
    predicted = record.get("predicted")
    lines = ["", f"Predicted time per frame (MYRIAD X time model, no stick): **{predicted_text(record)}**."]
    if not isinstance(predicted, dict):
        return lines
    lines += ["", "Sync: one request at a time, the frame's input and output over USB; throughput: 4 requests in "
                  "flight, the stick's own optimum. The leave-one-out error is the model's median error on the "
                  "published NCS2 measurements it was fitted on, each left out in turn."]
    top = [t for t in predicted.get("top_stage_types") or () if isinstance(t, dict)]
    compute = predicted.get("compute_ms")
    if top:
        lines += ["", f"Where the stick's time goes (compute {_num(compute, '.1f')} ms per frame):", "",
                  "| stage type | stages | predicted ms | share |", "|---|---|---|---|"]
        for t in top:
            share = 100 * t["ms"] / compute if _is_number(t.get("ms")) and _is_number(compute) and compute > 0 else None
            lines.append(f"| {t.get('type')} | {t.get('count', '?')} | {_num(t.get('ms'), '.2f')} | "
                         f"{_num(share, '.1f')}{'%' if share is not None else ''} |")
    unmodelled = [u for u in predicted.get("unmodelled") or () if isinstance(u, dict)]
    lines += ["", ("Unmodelled stage types (the time model has no figure for them; they are named, never counted "
                   "silently as zero): " + ", ".join(f"`{u.get('type')}` ({u.get('count')} stages)" for u in unmodelled)
                   + ".") if unmodelled else "Unmodelled stage types: none."]
    return lines


def myriad_compiler_section(record: Optional[dict]) -> List[str]:
    """report.md's account of the MYRIAD X compile: verdict, stages by category, SHAVE types, traffic, memory."""
    if not record:
        return []
    lines = ["", "## MYRIAD X compiler (the stick's own)", "",
             f"{record.get('compiler', 'OpenVINO 2021.4.2 MYRIAD plugin')}, platform VPU_MYRIAD_2480, on "
             f"`{record.get('model')}`" + (f", options {record['options']}" if record.get("options") else "")
             + (f", I/O {record['io_precisions']} (as enet-edge's runner asks the stick: u8 frames in; float "
                "outputs as f16, the stick's own values, widened on the host)" if record.get("io_precisions") else "")
             + ".", "",
             f"Verdict: **{summary_line(record)}**"]
    if record.get("verdict") != "compiled":
        return lines
    lines += predicted_section(record)
    s, t, m = record["stages"], record["traffic_mib"], record.get("memory_bytes", {})
    lines += ["", "Executed stages run one after another out of the stick's DDR: `MyriadXHwOp` on the NCE, `Copy` "
                  "on DMA, the rest on SHAVEs; injected stages run in an NCE stage's shadow, special ones are buffer "
                  "views that never run. Traffic: bytes each stage reads (non-constant inputs) and writes, per frame.",
              "", "| stages | executed | NCE | SHAVE | DMA | injected | special |", "|---|---|---|---|---|---|---|",
              f"| count | {s['executed']} | {s['NCE']} | {s['SHAVE']} | {s['DMA']} | {s['injected']} | {s['special']} |",
              f"| traffic MiB/frame | {t['NCE'] + t['SHAVE'] + t['DMA']:.1f} | {t['NCE']:.1f} | {t['SHAVE']:.1f} | "
              f"{t['DMA']:.1f} | {t['injected']:.1f} | – |",
              "", f"Non-NCE traffic (SHAVE + DMA + injected): **{t['non_nce']:.1f} MiB per frame**. Memory: "
              + ", ".join(f"{k} {v / 1024 / 1024:.2f} MiB" for k, v in m.items()) + ".",
              "", "| SHAVE stage type | stages |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in record.get("shave_types", {}).items()]
    lines += ["", "| non-NCE stages by type | MiB/frame |", "|---|---|"]
    lines += [f"| {k} | {v:.2f} |" for k, v in record.get("traffic_by_type_mib", {}).items()]
    return lines


def _parity_section(manifest: dict) -> List[str]:
    p = manifest["parity"]
    lines = ["", "## Parity against TensorFlow", "", f"Reference: {p['reference']}. Inputs: {', '.join(p['inputs'])}.", "",
             "| artifact | ran on | max abs/max ref | mean abs/max ref | >2% off | L2 rel | argmax agreement |",
             "|---|---|---|---|---|---|---|"]
    for kind, r in p["results"].items():
        ran = p["ran_on"][kind]
        where = f"{ran['backend']} {ran['device']} {ran['inference_precision']}"
        lines.append(f"| {kind} | {where} | {_metric(r['max_abs_rel'], '.2e')} | {_metric(r['mean_abs_rel'], '.2e')} | "
                     f"{_metric(r['share_off_2pct'], '.3%')} | {_metric(r['l2_rel'], '.2e')} | "
                     f"{100 * r['argmax_agreement']:.3f}% |")
    if p.get("note"):
        lines += ["", f"**Parity inputs:** {p['note']}."]
    if p.get("fp16_range"):
        lines += ["", near_limit_text(p["fp16_range"])]
    skipped = {kind: ran["skipped"] for kind, ran in p["ran_on"].items() if "skipped" in ran}
    if skipped:
        lines += [""] + [f"Not run: {kind}: {why}." for kind, why in skipped.items()]
    if "openvino_ir" in p["ran_on"] and manifest["artifacts"]["openvino_ir"].get("precision") == "FP16":
        lines += ["", "The FP16 IR's `openvino_ir` row asks OpenVINO for f32 arithmetic (read back), so it checks the "
                      "FP16 weights; FP16 arithmetic is checked by `fp16_arithmetic` (emulated) and, on CPUs with "
                      "FP16, by `openvino_ir_f16`. Parity never runs bf16 in place of f32 or f16."]
    return lines


def _quantization_section(q: Optional[dict]) -> List[str]:
    if not q:
        return []
    return ["", "## INT8 quantization", "",
            f"{q['method']} ({q['tool']}, preset {q['preset']}), calibrated on {q['calibration']['frames']} "
            f"{q['calibration']['split']} frames; {q['fake_quantize_ops']} FakeQuantize ops"
            + (f"; kept in float: `{'`, `'.join(q['ignored_patterns'])}`." if q.get("ignored_patterns") else "."),
            "",
            f"| IR | {q['eval']['split']} mIoU ({q['eval']['frames']} frames) |", "|---|---|",
            f"| FP32 | {100 * q['fp32_miou']:.2f}% |", f"| INT8 | {100 * q['int8_miou']:.2f}% |", "",
            f"Drop {q['miou_drop_points']:.2f} points (gate: at most {q['max_miou_drop_points']:.2f})."]
