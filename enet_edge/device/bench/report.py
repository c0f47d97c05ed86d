"""Bench output: the JSON documents, the text report and comparison table, the per-layer counters."""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from enet_edge.device.bench.config import PER_LAYER_RUNS, SCHEMA, STAGES
from enet_edge.device.bench.results import BenchResult, Stats
from enet_edge.fileio import atomic_write_text, check_output_file, json_safe
from enet_edge.progress import format_ms
from enet_edge.runtime.adapters import LayerCounter
from enet_edge.runtime.backends import backend
from enet_edge.runtime.complexity import share_table


def result_document(result: BenchResult, machine: Dict[str, Any]) -> Dict[str, Any]:
    """The JSON document of one result (schema ``enet-edge-bench/1``); times in milliseconds."""
    e2e_stages = {stage: stats.ms() for stage, stats in result.e2e.stages.items()}
    costs = result.complexity.by_name() if result.complexity is not None else {}  # MACs per layer name, once
    doc: Dict[str, Any] = {
        "schema": SCHEMA,
        "entry": result.entry.label,
        "model": result.model,
        "backend": result.backend,
        "device": result.device,
        "precision": result.precision,
        "precision_requested": (result.precision_run.requested if result.precision_run else result.entry.precision)
                               or "default",
        "precision_note": result.precision_run.note if result.precision_run else "",
        "model_precision": result.model_precision,
        "mode": result.mode,
        "niter": result.infer.latency.count,
        "e2e_niter": result.e2e.latency.count,
        "nireq": result.nireq,
        "rounds": result.rounds,
        "verify_ms": result.verify_ms,
        "load_ms": result.load_ms,
        "first_infer_ms": result.first_infer_ms,
        "latency_ms": result.infer.latency.ms(),
        "throughput_fps": _finite(result.infer.fps),
        "e2e_latency_ms": result.e2e.latency.ms(),
        "e2e_throughput_fps": _finite(result.e2e.fps),
        "e2e_stages_ms": e2e_stages,
        "spread": result.spread(),
        "warnings": list(result.warnings()),
        "interrupted": result.interrupted,
        "devices": [dict(row) for row in result.devices],
        "notes": {
            "latency_ms": "infer-only: pre-processed tensors back to back, output not fetched "
                          "(async mode: start to completion of each request)",
            "e2e_latency_ms": "read + preprocess + infer + postprocess (argmax class map at frame size) per frame",
        },
        "input": result.input,
        "artifact": result.artifact,
        "properties": result.properties,
        "complexity": complexity_document(result),
        "roofline": result.roofline,
        "myriad_time_model": time_model_document(result, machine),
        "kernel_audit": kernel_audit(result),
        "per_layer": None if result.per_layer is None else [
            {"name": r.name, "node_type": r.node_type, "exec_type": r.exec_type, "status": r.status,
             "real_time_ms": r.real_time_us / 1e3, "cpu_time_ms": r.cpu_time_us / 1e3,
             "mflops": _mflops(costs.get(r.name))} for r in result.per_layer],
        "per_layer_by_type": None if result.per_layer is None else [
            {"node_type": r.node_type, "exec_type": r.exec_type, "layers": r.layers,
             "real_time_ms": r.real_time_us / 1e3} for r in per_layer_by_type(result.per_layer)],
        "machine": machine,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    return doc


def is_myriad(device: str) -> bool:
    """A MYRIAD device or a device list naming one (``MYRIAD``, ``MYRIAD.1.2-ma2480``, ``HETERO:MYRIAD,CPU``)."""
    return any(part.strip().upper().startswith("MYRIAD") for part in device.replace(":", ",").split(","))


def _version(version: Any) -> str:
    """``v1.2`` for a number, a name as it is (``myriadx-tm-2026-12-04``), ``v?`` for none."""
    text = str(version) if version not in (None, "") else "?"
    return f"v{text}" if text[0].isdigit() or text == "?" else text


def _number(value: Any, spec: str) -> str:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value == value
    return format(value, spec) if ok else "?"


def time_model_line(result: BenchResult, machine: Dict[str, Any]) -> Optional[str]:
    """One line to send us from a run on a stick: the MYRIAD X time model's prediction (the export manifest's
    ``myriad_compiler.predicted``) next to what was measured, with the versions and the input size; None for a run
    on no MYRIAD device.

    ``MYRIAD X time model v1: predicted 45.1 ms sync (USB 3) / 27.3 FPS throughput; measured 47.9 ms median /
    20.9 FPS infer-only, 1 request sync (enet-edge 0.1.0, OpenVINO 2022.3.0, MYRIAD, 360x480, target ncs2,
    MYRIAD_HW_DILATION=YES)``: the last items are the plugin config the export compiled with and the stick was given."""
    if not is_myriad(result.device):
        return None
    predicted = result.predicted
    if predicted:
        model = predicted.get("model") or {}
        head = (f"MYRIAD X time model {_version(model.get('version'))}: predicted "
                f"{_number((predicted.get('sync_ms') or {}).get('usb3'), '.1f')} ms sync (USB 3) / "
                f"{_number(predicted.get('throughput_fps'), '.1f')} FPS throughput")
    else:
        head = ("MYRIAD X time model: no prediction (no myriad_compiler.predicted in an export manifest beside the "
                "model: export it again)")
    median = result.infer.latency.ms().get("median")
    how = "1 request sync" if result.mode == "latency" else f"{result.nireq} requests async"
    versions = machine.get("versions") or {}
    shape = result.input.get("tensor", {}).get("shape") or []
    size = f"{shape[1]}x{shape[2]}" if len(shape) == 4 else "?"
    where = [f"enet-edge {versions.get('enet_edge') or '?'}", f"OpenVINO {versions.get('openvino') or '?'}",
             result.device, size] + ([f"target {result.artifact['target']}"] if result.artifact.get("target") else [])
    where += [f"{k}={v}" for k, v in (result.artifact.get("device_config") or {}).items()]  # as compiled and predicted
    return (f"{head}; measured {_number(median, '.1f')} ms median / {_number(_finite(result.infer.fps), '.1f')} FPS "
            f"infer-only, {how} ({', '.join(where)})")


def time_model_document(result: BenchResult, machine: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """The JSON of :func:`time_model_line`: the line, the prediction and the measured figures; None off MYRIAD."""
    line = time_model_line(result, machine)
    if line is None:
        return None
    return {"line": line, "predicted": json_safe(result.predicted),
            "measured": {"mode": result.mode, "nireq": result.nireq,
                         "latency_median_ms": result.infer.latency.ms().get("median"),
                         "throughput_fps": _finite(result.infer.fps),
                         "e2e_latency_median_ms": result.e2e.latency.ms().get("median")}}


def _finite(value: float) -> Optional[float]:
    return None if value != value else value  # NaN -> null (JSON has no NaN)


def _ratio(value: Optional[float], base: Optional[float]) -> Optional[float]:
    if value is None or base is None or not base or value != value or base != base:
        return None
    return value / base


def _by_e2e_median(results: Sequence[BenchResult]) -> List[Tuple[float, int]]:
    """``(end-to-end median ms, index)`` of the results that have one, fastest first (ties: earlier entry)."""
    medians = [(r.e2e.latency.ms().get("median"), i) for i, r in enumerate(results)]
    return sorted((m, i) for m, i in medians if m is not None and m == m)


def fastest(results: Sequence[BenchResult]) -> Optional[int]:
    """Index of the result with the lowest end-to-end median (what an application sees per frame); None if
    none has one. Ties go to the earlier entry."""
    ranked = _by_e2e_median(results)
    return ranked[0][1] if ranked else None


def fastest_text(results: Sequence[BenchResult]) -> Optional[str]:
    """``On this CPU use [2] build/cpu-int8 (openvino, i8+f32): ...``; None with fewer than two entries."""
    ranked = _by_e2e_median(results)
    if not ranked or len(results) < 2:
        return None
    best_ms, index = ranked[0]
    best = results[index]
    where = best.device if len({r.device for r in results}) == 1 else "machine"
    text = (f"On this {where} use [{index + 1}] {best.entry.label} ({best.backend}, {precision_label(best)}): "
            f"the lowest end-to-end median, {format_ms(best_ms)}")
    if len(ranked) > 1:
        ms, i = ranked[1]
        text += f", {ms / best_ms:.2f}x faster than the next, [{i + 1}] {results[i].entry.label}"
    return text + ". Speed only: `enet-edge eval` measures what each costs in mIoU."


def compare_document(results: Sequence[BenchResult], machine: Dict[str, Any]) -> Dict[str, Any]:
    """``{"results": [document, ...], "ratios": [...]}`` in the order given; ratios are to the first entry."""
    docs = [result_document(r, machine) for r in results]
    base = docs[0]
    ratios = []
    for doc in docs:
        ratios.append({
            "entry": doc["entry"],
            "latency_median": _ratio(doc["latency_ms"]["median"], base["latency_ms"]["median"]),
            "throughput_fps": _ratio(doc["throughput_fps"], base["throughput_fps"]),
            "e2e_latency_median": _ratio(doc["e2e_latency_ms"]["median"], base["e2e_latency_ms"]["median"]),
            "e2e_throughput_fps": _ratio(doc["e2e_throughput_fps"], base["e2e_throughput_fps"]),
        })
    index = fastest(results)
    return {"schema": SCHEMA, "results": docs, "ratios": ratios, "baseline": base["entry"],
            "fastest": None if index is None else {"entry": docs[index]["entry"], "by": "e2e_latency_ms.median",
                                                   "text": fastest_text(results)},
            "interleaved_rounds": results[0].rounds, "machine": machine}


def write_json(document: Dict[str, Any], path) -> Path:
    """Write ``document`` as indented JSON to ``path`` (parents created; temp file, then rename)."""
    return atomic_write_text(path, json.dumps(document, indent=2, allow_nan=False) + "\n", "--json")


def check_writable(path: Path) -> None:
    """:class:`OutputError` now, before a long run, where ``--json path`` could not be written after it."""
    check_output_file(path, "--json")


def _fps(value: Optional[float]) -> str:
    return "-" if value is None or value != value else f"{value:.1f}"


def _mode_text(result: BenchResult) -> str:
    if result.mode == "latency":
        return "latency (1 request, sync)"
    if not backend(result.backend).async_queue:
        return f"throughput (the {result.backend} backend has no async queue: 1 request, sync)"
    return f"throughput ({result.nireq} request{'s' * (result.nireq != 1)} in flight, async)"


def _stats_row(name: str, stats: Stats, fps: Optional[float] = None) -> str:
    ms = stats.ms()
    cells = [format_ms(ms[k]) for k in ("min", "mean", "median", "p90", "p99", "max")]
    row = f"  {name:<16}{stats.count:>7}" + "".join(f"{c:>11}" for c in cells)
    return row + (f"{_fps(fps):>9}" if fps is not None else "")


def devices_text(result: BenchResult) -> List[str]:
    """The per-device lines of an AUTO:/MULTI: run in throughput mode: each device alone (requests in flight,
    infer-only FPS), their sum and the total of all together; [] for one device."""
    if not result.devices:
        return []
    total = result.infer.fps
    alone = sum(row["fps"] for row in result.devices)
    lines = ["", f"  devices of {result.device} (infer-only, throughput):"]
    lines += [f"    {row['device']:<24} alone {row['requests']:>3} requests {_fps(row['fps']):>9} FPS"
              for row in result.devices]
    lines.append(f"    {'all together':<24}       {result.nireq:>3} requests {_fps(total):>9} FPS"
                 + (f"  ({total / alone:.2f}x the sum of the devices alone)" if alone > 0 else ""))
    return lines


def format_report(result: BenchResult, per_layer: int = 0) -> str:
    """Human-readable report of one result; ``per_layer``: show the top N per-layer counters."""
    props = result.properties
    lines = [
        f"model      {result.model}  ({result.artifact['kind']}"
        + (f", target {result.artifact['target']}" if result.artifact.get("target") else "")
        + (", sha256 verified" if result.artifact.get("verified") else "") + ")",
        f"backend    {result.backend} on {result.device}, precision {precision_label(result)}"
        + (f"; model file {result.model_precision}" if result.model_precision else ""),
        f"mode       {_mode_text(result)}"
        + (f", hint {props['PERFORMANCE_HINT']}" if props.get("PERFORMANCE_HINT") else "")
        + (f", streams {props['NUM_STREAMS']}" if props.get("NUM_STREAMS") is not None else ""),
        f"input      {result.input['source']}"
        + (f" ({result.input['frames']} images from {result.input['directory']})" if result.input["directory"] else "")
        + f"; tensor {result.input['tensor']['name']} {tuple(result.input['tensor']['shape'])} "
          f"{result.input['tensor']['dtype']} {result.input['tensor']['layout']}",
    ]
    compute = complexity_text(result)
    if compute:
        lines.append(f"compute    {compute}")
    bounds = roofline_text(result.roofline)
    if bounds:
        lines.append(f"bounds     {bounds}")
    if result.artifact.get("trained") is False:
        lines.append("           (untrained export: timings are valid, segmentations are not)")
    lines += [
        "",
        f"  {'model load + compile':<30}{format_ms(result.load_ms):>12}",
        f"  {'first inference':<30}{format_ms(result.first_infer_ms):>12}",
        "",
        f"  {'':<16}{'n':>7}" + "".join(f"{h:>11}" for h in ("min", "mean", "median", "p90", "p99", "max")) + f"{'FPS':>9}",
        _stats_row("infer-only", result.infer.latency, result.infer.fps),
        _stats_row("end-to-end", result.e2e.latency, result.e2e.fps),
    ]
    for stage in STAGES:
        stats = result.e2e.stages.get(stage)
        if stats is not None and stats.count:
            lines.append(_stats_row(f"  {stage}", stats))
    lines += devices_text(result)
    lines += [
        "",
        "  infer-only = pre-processed tensors back to back, output not fetched (what benchmark_app measures);",
        "  end-to-end = read + preprocess + infer + postprocess (argmax class map resized to the frame), per frame.",
    ]
    spread = result.spread()
    lines.append("  spread: p90/median " + ", ".join(
        f"{name} {'-' if value is None else f'{value:.2f}'}"
        for name, value in (("infer-only", spread["infer_p90_over_median"]),
                            ("end-to-end", spread["e2e_p90_over_median"]))))
    lines += [f"  WARNING: {w}" for w in result.warnings()]
    if per_layer:
        lines += [""] + format_per_layer(result, per_layer)
    return "\n".join(lines)


@dataclass(frozen=True)
class LayerTypeTotal:
    """Per-layer counters summed by (op type, implementation): where the time goes, kernel by kernel."""

    node_type: str
    exec_type: str
    layers: int
    real_time_us: float


def executed_layers(rows: Sequence[LayerCounter]) -> List[LayerCounter]:
    """The rows that ran (OpenVINO lists fused-away and constant layers as NOT_RUN with no time)."""
    return [r for r in rows if r.status != "NOT_RUN" or r.real_time_us > 0]


def per_layer_by_type(rows: Sequence[LayerCounter]) -> List[LayerTypeTotal]:
    """Executed rows summed by (node_type, exec_type), largest real time first (ties by type names)."""
    totals: Dict[Tuple[str, str], List[float]] = {}
    for row in executed_layers(rows):
        acc = totals.setdefault((row.node_type, row.exec_type), [0, 0.0])
        acc[0] += 1
        acc[1] += row.real_time_us
    out = [LayerTypeTotal(t, e, int(n), us) for (t, e), (n, us) in totals.items()]
    return sorted(out, key=lambda r: (-r.real_time_us, r.node_type, r.exec_type))


def complexity_document(result: BenchResult) -> Optional[Dict[str, Any]]:
    """Parameters, GMAC per frame and the compute rate at the infer-only median (None where unknown)."""
    if result.complexity is None and result.parameters is None:
        return None
    doc: Dict[str, Any] = {"parameters": result.parameters}
    if result.complexity is not None:
        doc.update(result.complexity.to_dict())
        median_ms = result.infer.latency.ms().get("median")
        doc["gflops_per_s"] = round(2 * result.complexity.gmac / (median_ms / 1e3), 2) if median_ms else None
    return doc


def complexity_text(result: BenchResult) -> Optional[str]:
    """``372,859 parameters; 1.354 GMAC (2.708 GFLOPs) per frame; 87.3 GFLOP/s at the median``."""
    doc = complexity_document(result)
    if doc is None:
        return None
    parts = [f"{doc['parameters']:,} parameters"] if doc.get("parameters") else []
    if doc.get("gmac") is not None:
        parts.append(f"{doc['gmac']:.3f} GMAC ({doc['gflops']:.3f} GFLOPs) per frame in {doc['counted_layers']} "
                     "convolutions")
        if doc.get("gflops_per_s"):
            parts.append(f"{doc['gflops_per_s']:.1f} GFLOP/s at the median")
    return "; ".join(parts)


def roofline_text(doc: Optional[Dict[str, Any]]) -> Optional[str]:
    """``41.2 GMAC/s = 9.0% of the 460 GMAC/s peak (...); every IR tensor through DRAM once (before fusion) takes
    1.10 ms = 5.9% of the median at 21.3 GB/s``, or None."""
    if not doc:
        return None
    return (f"{doc['gmacs_reached']:.1f} GMAC/s = {100 * doc['compute_share']:.1f}% of the {doc['gmacs_peak']:.0f} GMAC/s "
            f"peak ({doc['cores']} cores x {doc['ghz']:.2f} GHz x {doc['macs_per_cycle_core']} MACs/cycle); every IR "
            f"tensor through DRAM once (before fusion) takes {format_ms(doc['stream_ms'])} = "
            f"{100 * doc['stream_share']:.1f}% of the median "
            f"at {doc['bandwidth_gbs']:.1f} GB/s")


def _mflops(cost) -> Optional[float]:
    return round(cost.mflops, 3) if cost is not None else None


NOT_COMPUTE = frozenset({"Reorder", "Input", "Output", "Parameter", "Result", "Const"})
"""Executed node types that move or hold data; their precision says nothing about the model's arithmetic."""


def kernel_audit(result: BenchResult) -> Optional[Dict[str, Any]]:
    """Layers on reference kernels (exec type ``ref*``: OpenVINO's fallback C++ loops) and, in an INT8 model,
    layers computing in float, each ``{name, node_type, exec_type, real_time_ms}``; None without counters."""
    if result.per_layer is None:
        return None
    rows = executed_layers(result.per_layer)

    def item(r: LayerCounter) -> Dict[str, Any]:
        return {"name": r.name, "node_type": r.node_type, "exec_type": r.exec_type, "real_time_ms": r.real_time_us / 1e3}

    floats = [item(r) for r in rows if result.model_precision == "INT8" and r.node_type not in NOT_COMPUTE
              and r.exec_type.rsplit("_", 1)[-1].lower() in ("f32", "bf16", "f16")]
    return {"reference": [item(r) for r in rows if r.exec_type.startswith("ref")],
            "float_in_int8": floats if result.model_precision == "INT8" else None,
            "total_ms": sum(r.real_time_us for r in rows) / 1e3}


def kernel_audit_lines(result: BenchResult, show: int = 6) -> List[str]:
    """Two summary lines of :func:`kernel_audit` (none without per-layer counters)."""
    audit = kernel_audit(result)
    if audit is None:
        return []
    total = audit["total_ms"] or 1.0
    lines = []
    for key, what in (("reference", "reference kernels (ref_*)"), ("float_in_int8", "float layers in this INT8 model")):
        items = audit[key]
        if items is None:
            continue
        ms = sum(i["real_time_ms"] for i in items)
        names = ", ".join(f"{i['name']} ({i['exec_type']})" for i in items[:show]) + (" ..." if len(items) > show else "")
        lines.append(f"  {what}: {len(items)} layer(s), {format_ms(ms)} ({100 * ms / total:.1f}% of the time)"
                     + (f": {names}" if items else ""))
    return lines


def format_per_layer(result: BenchResult, top: int) -> List[str]:
    if result.per_layer is None:
        return [f"  per-layer counters: not available for the {result.backend} backend (OpenVINO only)"]
    rows = executed_layers(result.per_layer)
    total = sum(r.real_time_us for r in rows) or 1.0
    costs = result.complexity.by_name() if result.complexity is not None else {}
    shares = share_table(costs, [(r.name, r.real_time_us) for r in rows])
    by_type = per_layer_by_type(rows)
    summary = [f"  by op type and implementation ({len(by_type)} kinds):",
               f"       {'type':<48}{'exec type':<26}{'layers':>7}{'real time':>15}{'share':>8}"]
    for row in by_type[:top]:
        summary.append(f"       {row.node_type[:47]:<48}{row.exec_type[:25]:<26}{row.layers:>7}"
                       f"{format_ms(row.real_time_us / 1e3):>15}{100 * row.real_time_us / total:>7.1f}%")
    lines = [f"  per-layer counters, top {min(top, len(rows))} of {len(rows)} executed layers by real time "
             f"(mean of {PER_LAYER_RUNS} sync runs; sum {format_ms(total / 1e3)}); MFLOPs and compute share of "
             f"the convolutions (2 x MACs), as mvNCProfile reports them:",
             f"  {'#':>3}  {'layer':<48}{'type':<26}{'exec type':<22}{'real time':>11}{'time':>8}"
             f"{'MFLOPs':>9}{'compute':>9}"]
    for i, row in enumerate(rows[:top], 1):
        name = row.name if len(row.name) <= 47 else "..." + row.name[-44:]
        cost = costs.get(row.name)
        compute = shares[row.name][0]
        lines.append(f"  {i:>3}  {name:<48}{row.node_type[:25]:<26}{row.exec_type[:21]:<22}"
                     f"{format_ms(row.real_time_us / 1e3):>11}{100 * row.real_time_us / total:>7.1f}%"
                     f"{(f'{cost.mflops:.1f}' if cost else '-'):>9}"
                     f"{(f'{100 * compute:.1f}%' if compute is not None else '-'):>9}")
    return lines + [""] + summary + kernel_audit_lines(result)


def format_compare(results: Sequence[BenchResult], per_layer: int = 0) -> str:
    """One table for several results, with ratios to the first (x latency: lower is faster; x FPS: higher is)."""
    base = results[0]
    head = (f"{'#':>2}  {'entry':<34}{'backend':<12}{'device':<10}{'prec':<6}{'load':>10}{'first':>10}"
            f"{'median':>11}{'p90':>11}{'FPS':>8}{'x lat':>7}{'x FPS':>7}"
            f"{'e2e med':>11}{'e2e FPS':>9}{'x FPS':>7}")
    lines = [f"{len(results)} entries, {_mode_text(base)}; infer-only n={base.infer.latency.count}, "
             f"end-to-end n={base.e2e.latency.count} each, {base.rounds} interleaved round(s); ratios to entry 1",
             "", head]
    for i, r in enumerate(results, 1):
        label = r.entry.label if len(r.entry.label) <= 33 else "..." + r.entry.label[-30:]
        lat = r.infer.latency.ms()
        e2e = r.e2e.latency.ms()
        x_lat = _ratio(lat["median"], base.infer.latency.ms()["median"])
        x_fps = _ratio(r.infer.fps, base.infer.fps)
        x_e2e = _ratio(r.e2e.fps, base.e2e.fps)
        lines.append(
            f"{i:>2}  {label:<34}{r.backend:<12}{r.device[:9]:<10}{(r.precision or '?')[:5]:<6}"
            f"{format_ms(r.load_ms):>10}{format_ms(r.first_infer_ms):>10}{format_ms(lat['median']):>11}"
            f"{format_ms(lat['p90']):>11}{_fps(r.infer.fps):>8}{_x(x_lat):>7}{_x(x_fps):>7}"
            f"{format_ms(e2e['median']):>11}{_fps(r.e2e.fps):>9}{_x(x_e2e):>7}")
    lines += ["", "median/p90/FPS: infer-only (tensors back to back, output not fetched); "
                  "e2e: read + preprocess + infer + postprocess per frame."]
    pick = fastest_text(results)
    if pick:
        lines += [pick]
    notes = [f"[{i}] precision {precision_label(r)}" for i, r in enumerate(results, 1)
             if r.precision_run is not None and r.precision_run.note]
    if notes:
        lines += ["precision: what ran, read back from the device:"] + [f"  {n}" for n in notes]
    lines += [f"[{i}] WARNING: {w}" for i, r in enumerate(results, 1) for w in r.warnings()]
    if per_layer:
        for i, r in enumerate(results, 1):
            lines += ["", f"[{i}] {r.entry.label}"] + format_per_layer(r, per_layer)
    return "\n".join(lines)


def precision_label(result: BenchResult) -> str:
    """What ran and why, e.g. ``bf16 (asked f16, CPU runs bf16: this CPU has BF16 but no FP16 arithmetic)``."""
    if result.precision_run is not None:
        return result.precision_run.label
    return result.precision or "?"


def _x(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.2f}"

