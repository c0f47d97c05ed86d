"""Reading a suite document: goals, class-map savings, the recommendation, markdown tables, the files (the plot:
:mod:`.plot`)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from enet_edge.export.myriad.compile_table import render_compile_table
from enet_edge.progress import format_ms
from enet_edge.workstation.suite.plot import render_plot
from enet_edge.workstation.suite.config import (BASELINE, GOALS, PEER_GOALS, README_END, README_START, VARIANTS,
                                                SuiteConfig)


def _result(document: Dict[str, Any], variant: str, size: Sequence[int], mode: str) -> Optional[Dict[str, Any]]:
    for run in document["runs"]:
        if list(run["size"]) == list(size) and run["mode"] == mode:
            for doc in run["results"]:
                if doc["variant"] == variant:
                    return doc
    return None


def measurement(level_name: Optional[str], level_title: Optional[str], cap: str, native: Optional[str],
                cpu_model: str) -> Dict[str, Any]:
    """What a suite document's figures are: ``{"emulated", "kind", "title", "on", "how"}``. A run as a CPU kind
    (``level_name``, its ``level_title``), or any run with oneDNN capped (``cap``: ``ONEDNN_MAX_CPU_ISA`` as set, ""
    for none), is **emulated** on ``cpu_model``: another CPU's kernels on this machine's memory, caches, clock and
    cores, whatever it would measure on a real CPU of that kind. Otherwise it is this machine's ``native`` kind."""
    if level_name or cap:
        kind = level_name or f"capped at {cap}"
        return {"emulated": True, "kind": kind, "title": level_title or kind, "on": cpu_model,
                "how": f"emulated on {cpu_model}: oneDNN capped (ONEDNN_MAX_CPU_ISA={cap or '?'})"}
    return {"emulated": False, "kind": native, "title": native or "below AVX2", "on": cpu_model,
            "how": f"native: measured on {cpu_model} itself"}


def is_emulated(document: Dict[str, Any]) -> bool:
    """Whether ``document``'s figures come from an emulated CPU kind (:func:`measurement`): its ``measurement`` says
    so, or it is a run as a CPU kind (``cpu_kind``; documents saved before ``measurement`` existed)."""
    return bool(document.get("cpu_kind")) or bool((document.get("measurement") or {}).get("emulated"))


def verdict(document: Dict[str, Any], value: Optional[float], met: bool) -> Optional[bool]:
    """The one place a goal gets a verdict: ``met`` where ``value`` was measured natively; None (not measured)
    where it was not measured or only emulated: a goal holds for a real CPU of its kind, which an emulation is not."""
    if value is None or is_emulated(document):
        return None
    return met


def measurement_text(document: Dict[str, Any]) -> str:
    """``native: this machine's own CPU kind (amx), <cpu>; the only figures goals are judged on`` or ``EMULATED CPU
    kind ... : no goal is judged``, for tables and plots (plain text)."""
    m = document.get("measurement") or {}
    if is_emulated(document):
        kind = (document.get("cpu_kind") or {}).get("kind") or m.get("kind") or "?"
        return f"EMULATED CPU kind {kind} on {document['machine'].get('cpu_model', '?')}: no goal is judged"
    kind = m.get("kind") or (document.get("cpu_kinds") or {}).get("native") or "?"
    return (f"native: this machine's own CPU kind ({kind}), {document['machine'].get('cpu_model', '?')}; the only "
            "figures goals are judged on")


def evaluate_goals(document: Dict[str, Any]) -> List[Dict[str, Any]]:
    """Each :data:`GOALS` entry with its measured value (first size, latency mode) and whether it is met (None:
    not measured, or measured on an emulated CPU kind only: :func:`verdict`)."""
    size = document["runs"][0]["size"] if document["runs"] else None
    out = []
    for goal in GOALS:
        value = None
        if goal.metric == "miou_drop":
            a, b = document["miou"].get(goal.variant), document["miou"].get(goal.reference)
            if a is not None and b is not None:
                value = 100 * (b - a)
        elif size is not None:
            a, b = _result(document, goal.variant, size, "latency"), _result(document, goal.reference, size, "latency")
            if a and b and a["latency_ms"]["median"] and b["latency_ms"]["median"]:
                value = a["latency_ms"]["median"] / b["latency_ms"]["median"]
        out.append({"goal": goal.text, "value": value, "limit": goal.limit, "metric": goal.metric,
                    "emulated": is_emulated(document),
                    "met": verdict(document, value, value is not None and value <= goal.limit)})
    return out


CLASS_MAP_PAIRS = (("ov-fp32", "ov-fp32-cm"), ("ov-int8", "ov-int8-cm"), ("ov-bf16", "ov-bf16-cm"))
"""(logits variant, the same export with the arg-max in the IR)."""

RECOMMEND_MAX_MIOU_DROP = 1.0
"""A variant is recommended only within this many mIoU points of the most accurate variant measured."""


def class_map_savings(document: Dict[str, Any]) -> List[Dict[str, Any]]:
    """Per size and :data:`CLASS_MAP_PAIRS` pair (latency mode): what moving the arg-max into the IR saves end to end.

    ``post_ms``: the host's ``postprocess`` stage (arg-max of the logits and resize, or only the resize of the ids).
    """
    out = []
    for run in document["runs"]:
        if run["mode"] != "latency":
            continue
        by_variant = {doc["variant"]: doc for doc in run["results"]}
        for logits, class_map in CLASS_MAP_PAIRS:
            a, b = by_variant.get(logits), by_variant.get(class_map)
            if not a or not b or a["e2e_latency_ms"]["median"] is None or b["e2e_latency_ms"]["median"] is None:
                continue
            post = [(d.get("e2e_stages_ms") or {}).get("postprocess", {}).get("median") for d in (a, b)]
            out.append({"size": run["size"], "logits": logits, "class_map": class_map,
                        "e2e_ms": [a["e2e_latency_ms"]["median"], b["e2e_latency_ms"]["median"]],
                        "infer_ms": [a["latency_ms"]["median"], b["latency_ms"]["median"]],
                        "post_ms": post,
                        "saved_ms": a["e2e_latency_ms"]["median"] - b["e2e_latency_ms"]["median"]})
    return out


def recommend(document: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """The variant to use on this machine: the lowest end-to-end median (first size, latency mode) among the
    variants whose mIoU is within :data:`RECOMMEND_MAX_MIOU_DROP` points of the best measured; None if none."""
    if not document["runs"] or not document["miou"]:
        return None
    size = document["runs"][0]["size"]
    best = max(document["miou"].values())
    candidates = []
    for name, miou in document["miou"].items():
        doc = _result(document, name, size, "latency")
        if doc and doc["e2e_latency_ms"]["median"] and 100 * (best - miou) <= RECOMMEND_MAX_MIOU_DROP:
            candidates.append((doc["e2e_latency_ms"]["median"], name, doc, miou))
    if not candidates:
        return None
    candidates.sort(key=lambda c: c[0])
    e2e, name, doc, miou = candidates[0]
    variant = next(v for v in VARIANTS if v.name == name)
    command = run = None
    if variant.target:
        command = f"enet-edge export --target {variant.target}" + (f" --class-map {variant.class_map}"
                                                                    if variant.class_map else "")
        if variant.precision:  # asked explicitly: the CPU's default may differ (bf16 on BF16 CPUs)
            run = f"--precision {variant.precision}"
    rec = {"variant": name, "title": variant.title, "size": size, "e2e_median_ms": e2e,
           "latency_median_ms": doc["latency_ms"]["median"], "miou": miou, "precision": doc["precision"],
           "export": command, "run_flags": run,
           "rule": f"lowest end-to-end median among variants within {RECOMMEND_MAX_MIOU_DROP:g} mIoU point(s) of the "
                   "most accurate, first size, 1 synchronous request"}
    if len(candidates) > 1:
        rec["runner_up"] = {"variant": candidates[1][1], "e2e_median_ms": candidates[1][0]}
    return rec


def evaluate_peer_goals(document: Dict[str, Any]) -> List[Dict[str, Any]]:
    """Each :data:`PEER_GOALS` entry at every size (latency mode): the peer's end-to-end median over the recommended
    variant's (``value``, the speed-up) and whether it reaches the factor; None where either was not measured or the
    CPU kind was only emulated (:func:`verdict`)."""
    rec = document.get("recommendation")
    ours = rec["variant"] if rec else None
    out = []
    for peer, factor in PEER_GOALS:
        for run in document["runs"]:
            if run["mode"] != "latency":
                continue
            a = _result(document, ours, run["size"], "latency") if ours else None
            b = _result(document, peer, run["size"], "latency")
            value = None
            if a and b and a["e2e_latency_ms"]["median"] and b["e2e_latency_ms"]["median"]:
                value = b["e2e_latency_ms"]["median"] / a["e2e_latency_ms"]["median"]
            out.append({"goal": f"`{ours}` >= {factor:g}x faster than `{peer}` end to end", "peer": peer,
                        "variant": ours, "size": run["size"], "factor": factor, "value": value,
                        "emulated": is_emulated(document),
                        "met": verdict(document, value, value is not None and value >= factor)})
    return out


def peers_text(document: Dict[str, Any]) -> List[str]:
    """Markdown lines: the peers against the recommended variant, per size (latency mode), and the peer goals."""
    peers = {p["name"]: p for p in document.get("peers") or []}
    rec = document.get("recommendation")
    if not peers or not rec:
        return []
    lines = [f"Peers: what a user would run instead, in the same interleaved rounds, against `{rec['variant']}` "
             "(the recommendation below); x ours = the peer's end-to-end median over ours.", "",
             "| size | peer | how it was made | precision | infer median | end-to-end median | x ours | mIoU |",
             "|---|---|---|---|---|---|---|---|"]
    for run in document["runs"]:
        if run["mode"] != "latency":
            continue
        ours = _result(document, rec["variant"], run["size"], "latency")
        for doc in run["results"]:
            if doc["variant"] not in peers:
                continue
            ratio = (doc["e2e_latency_ms"]["median"] / ours["e2e_latency_ms"]["median"]
                     if ours and ours["e2e_latency_ms"]["median"] and doc["e2e_latency_ms"]["median"] else None)
            miou = (document.get("peer_miou") or {}).get(doc["variant"]) \
                if list(run["size"]) == list(document["runs"][0]["size"]) else None
            lines.append(f"| {run['size'][0]}x{run['size'][1]} | `{doc['variant']}` | {peers[doc['variant']]['title']} "
                         f"| {doc['precision'] or ''} | {format_ms(doc['latency_ms']['median'], '–')} "
                         f"| {format_ms(doc['e2e_latency_ms']['median'], '–')} "
                         f"| {'–' if ratio is None else f'{ratio:.2f}x'} "
                         f"| {'–' if miou is None else f'{100 * miou:.2f}%'} |")
    lines += ["", "| goal | size | measured | met |", "|---|---|---|---|"]
    for g in document.get("peer_goals") or []:
        if g["value"] is None:
            measured, met = "–", "not measured"
        elif g["met"] is None:  # emulated: shown, never judged
            measured, met = f"{g['value']:.2f}x emulated", "not measured (emulated CPU kind)"
        else:
            measured = f"{g['value']:.2f}x"
            met = "yes" if g["met"] else f"**NO**: {100 * (1 - g['value'] / g['factor']):.0f}% short"
        lines.append(f"| {g['goal']} | {g['size'][0]}x{g['size'][1]} | {measured} | {met} |")
    return lines + [""]


def limits_text(document: Dict[str, Any]) -> List[str]:
    """Markdown lines: where the recommended variant's time goes at each size (per-layer counters by op type)."""
    limits = document.get("limits") or []
    if not limits:
        return []
    lines = [f"What limits `{limits[0]['variant']}`: OpenVINO's per-layer counters summed by op type and "
             "implementation (a pass of their own after the timed runs; real time per frame, share of the counted "
             "total).", "", "| size | op type | implementation | layers | ms | share |", "|---|---|---|---|---|---|"]
    for limit in limits:
        for row in limit["by_type"]:
            lines.append(f"| {limit['size'][0]}x{limit['size'][1]} | {row['node_type']} | {row['exec_type']} "
                         f"| {row['layers']} | {row['ms']:.3f} | {100 * row['share']:.1f}% |")
    return lines + [""]


def kinds_text(document: Dict[str, Any]) -> List[str]:
    """Markdown lines: the peer goals on every CPU kind measured (this machine's, then the emulated ones, each its own
    interleaved run), each kind's latency table and per-layer counters, and the kinds not measured with why."""
    kinds = document.get("cpu_kinds")
    if not kinds:
        return []
    peers = [peer for peer, _ in PEER_GOALS]
    lines = ["Goals per CPU kind. This machine's own kind is the tables above; every kind below it ran in a process "
             "of its own with oneDNN capped at that kind's instruction set (`ONEDNN_MAX_CPU_ISA`: OpenVINO's variants "
             "and the goals' peers interleaved, latency mode, at the precisions such a CPU runs; docs/bench.md, "
             "\"CPU kinds\"). Memory, caches, clock and cores are this machine's; LiteRT's XNNPACK ignores the cap "
             "and keeps this machine's instructions (its rows favour the peer). *Above the kind*: the share of the "
             "recommended variant's counted time in kernels the cap did not reach. **Emulated kinds are labelled so "
             "and no goal is judged on them**: a goal holds for a real CPU of its kind, whose memory, caches, clock "
             "and kernels an emulation does not have (real CPUs measured short of goals an emulation met); their "
             "goals read \"not measured\" until such a CPU measures them natively.", "",
             "| CPU kind | recommended | size | end-to-end median | "
             + " | ".join(f"x `{p}`" for p in peers) + " | goals | above the kind |",
             "|---|---|---|---|" + "---|" * len(peers) + "---|---|"]
    measured = [(f"this machine ({kinds.get('native') or 'below AVX2'}, native)", document)] + \
        [(f"{k['kind']}: {k['title']}, **emulated** on this machine", k["document"]) for k in kinds.get("runs") or []]
    for label, doc in measured:
        emulated = is_emulated(doc)
        rec = doc.get("recommendation")
        if not rec:
            lines.append(f"| {label} | no recommendation (no mIoU measured) | | |" + " |" * len(peers) + " | |")
            continue
        above = {tuple(limit["size"]): limit.get("above_cap_share") for limit in doc.get("limits") or []}
        for run in doc["runs"]:
            if run["mode"] != "latency":
                continue
            ours = _result(doc, rec["variant"], run["size"], "latency")
            goals = [g for g in doc.get("peer_goals") or [] if list(g["size"]) == list(run["size"])]
            cells = []
            for peer in peers:
                g = next((g for g in goals if g["peer"] == peer), None)
                cells.append("–" if not g or g["value"] is None else
                             f"{g['value']:.2f}x{' emulated' if emulated else ''} (goal {g['factor']:g}x)")
            verdicts = [g for g in goals if g["met"] is not None]
            short = [f"**NO**: {100 * (1 - g['value'] / g['factor']):.0f}% short of `{g['peer']}`"
                     for g in verdicts if not g["met"]]
            verdict = "; ".join(short) if short else ("met" if verdicts else "not measured")
            if emulated:
                verdict = f"not measured: needs a real {doc['cpu_kind']['kind'] if doc.get('cpu_kind') else 'such'} CPU"
            share = above.get(tuple(run["size"]))
            lines.append(f"| {label} | `{rec['variant']}` ({ours['precision'] if ours else '?'}) "
                         f"| {run['size'][0]}x{run['size'][1]} "
                         f"| {format_ms(ours['e2e_latency_ms']['median'] if ours else None, '–')} | "
                         + " | ".join(cells) + f" | {verdict} | {'–' if share is None else f'{100 * share:.1f}%'} |")
    lines.append("")
    lines += faster_kinds_text(document)
    for k in kinds.get("runs") or []:
        doc = k["document"]
        lines += [f"As {k['kind']}, **emulated** (`ONEDNN_MAX_CPU_ISA={k['onednn_cap']}` on this machine; figures not "
                  "judged against the goals; OpenVINO CPU capabilities as such a CPU "
                  f"reports them: {', '.join(doc.get('openvino_cpu_capabilities') or [])}):", "",
                  "| size | variant | precision | infer median | end-to-end median | mIoU |", "|---|---|---|---|---|---|"]
        mious = {**doc.get("miou", {}), **(doc.get("peer_miou") or {})}
        for run in doc["runs"]:
            first = list(run["size"]) == list(doc["runs"][0]["size"])
            for r in run["results"]:
                miou = mious.get(r["variant"]) if first else None
                lines.append(f"| {run['size'][0]}x{run['size'][1]} | `{r['variant']}` | {r['precision'] or ''} "
                             f"| {format_ms(r['latency_ms']['median'], '–')} "
                             f"| {format_ms(r['e2e_latency_ms']['median'], '–')} "
                             f"| {'–' if miou is None else f'{100 * miou:.2f}%'} |")
        lines += [""] + limits_text(doc)
        if doc.get("skipped"):
            lines += [f"Not measured as {k['kind']}: " + "; ".join(f"`{n}`: {why}" for n, why in doc["skipped"].items()),
                      ""]
    for kind, why in (kinds.get("not_run") or {}).items():
        if kind != kinds.get("native"):
            lines.append(f"- CPU kind {kind} not measured: {why}")
    return lines + ([""] if kinds.get("not_run") else [])


def faster_kinds_text(document: Dict[str, Any]) -> List[str]:
    """Markdown lines: the emulated kinds whose recommendation beats this machine's own at the first size (end to
    end): running with fewer instructions can be faster (AMX against AVX-512 for narrow INT8 convolutions)."""
    rec = document.get("recommendation")
    if not rec or not rec.get("e2e_median_ms"):
        return []
    lines = []
    for k in (document.get("cpu_kinds") or {}).get("runs") or []:
        theirs = k["document"].get("recommendation") or {}
        if theirs.get("e2e_median_ms") and theirs.get("size") == rec.get("size") \
                and theirs["e2e_median_ms"] < rec["e2e_median_ms"]:
            lines.append(f"- Faster on this machine than its own recommendation: `{theirs['variant']}` as {k['kind']} "
                         "(emulated: oneDNN capped on this machine, not a real such CPU), "
                         f"{format_ms(theirs['e2e_median_ms'])} against {format_ms(rec['e2e_median_ms'])} end to end "
                         f"at {rec['size'][0]}x{rec['size'][1]} ({theirs['e2e_median_ms'] / rec['e2e_median_ms']:.2f}x; "
                         "separate processes, so confirm it in alternating rounds with `benchmarks/cpu_kinds_ab.py`). "
                         f"A process runs so with `ONEDNN_MAX_CPU_ISA={k['onednn_cap']}` in its environment (for "
                         "every model it loads).")
    return lines + ([""] if lines else [])


def derive(document: Dict[str, Any]) -> Dict[str, Any]:
    """``document`` with its derived parts (goals, class-map savings, recommendation, peer goals) computed from its
    measurements, and those of every CPU kind's document in it."""
    document["goals"] = evaluate_goals(document)
    document["class_map"] = class_map_savings(document)
    document["recommendation"] = recommend(document)
    document["peer_goals"] = evaluate_peer_goals(document)
    for kind in (document.get("cpu_kinds") or {}).get("runs") or []:
        derive(kind["document"])
    return document


def bounds_text(document: Dict[str, Any]) -> List[str]:
    """Markdown lines: how far the recommended variant is from the CPU's compute peak and from a one-pass activation
    stream, per size (latency mode; :mod:`enet_edge.runtime.roofline`)."""
    rec = document.get("recommendation")
    if not rec:
        return []
    lines = []
    for run in document["runs"]:
        doc = _result(document, rec["variant"], run["size"], run["mode"]) if run["mode"] == "latency" else None
        bound = (doc or {}).get("roofline")
        if not bound:
            continue
        lines.append(f"- {run['size'][0]}x{run['size'][1]}: {bound['gmacs_reached']:.1f} GMAC/s at the infer-only "
                     f"median = {100 * bound['compute_share']:.1f}% of the {bound['gmacs_peak']:.0f} GMAC/s "
                     f"{doc['precision']} peak ({bound['cores']} cores x {bound['ghz']:.2f} GHz x "
                     f"{bound['macs_per_cycle_core']} MACs/cycle: {bound['peak_source']}); writing and reading every tensor "
                     f"of its IR once (before fusion) at the {bound['bandwidth_gbs']:.1f} GB/s copy bandwidth measured "
                     f"in the run would take {format_ms(bound['stream_ms'])} = {100 * bound['stream_share']:.1f}% of "
                     f"the median" + (": more than the run took, so the runtime keeps most of them in cache (fused or "
                                      "tiled) and DRAM traffic is not what limits it." if bound["stream_share"] > 1
                                      else "."))
    if not lines:
        return []
    return [f"Bounds of `{rec['variant']}` (docs/bench.md, the roofline): how much is left to gain from compute, "
            "and whether memory traffic could be what limits it.", ""] + lines + [""]


def recommendation_text(rec: Optional[Dict[str, Any]]) -> str:
    """``On this CPU use `ov-int8-cm` ...`` (one markdown paragraph), or why there is no recommendation."""
    if rec is None:
        return "No recommendation: no variant has both a latency and an mIoU measured."
    text = (f"**On this CPU use `{rec['variant']}`** ({rec['title']}; {rec['precision']}): "
            f"{format_ms(rec['e2e_median_ms'])} end-to-end median at {rec['size'][0]}x{rec['size'][1]} "
            f"({format_ms(rec['latency_median_ms'])} infer-only), {100 * rec['miou']:.2f}% mIoU")
    if rec.get("runner_up"):
        text += f"; next: `{rec['runner_up']['variant']}` at {format_ms(rec['runner_up']['e2e_median_ms'])}"
    text += "."
    if rec.get("export"):
        text += f" Get it with `{rec['export']}`"
        text += (f" and run it with `{rec['run_flags']}` (bench, eval, demo)." if rec.get("run_flags") else ".")
    return text + f" (Rule: {rec['rule']}.)"


def render_markdown(document: Dict[str, Any]) -> str:
    """The tables (per size and mode, ratios to the TensorFlow graph), the goals and the machine."""
    m = document["machine"]
    versions = m.get("versions", {})
    lines = [f"Measured {document['created'][:10]} on {m.get('cpu_model', '?')}, {m.get('logical_cores', '?')} "
             f"logical cores (flags: {' '.join(m.get('cpu_flags_of_note') or []) or '?'}), "
             f"{m.get('memory_gb', '?')} GB, {m.get('os', '')}; "
             + ", ".join(f"{k} {v}" for k, v in versions.items() if v) + ".",
             "All variants of a table ran interleaved in one process; ratios are to the TensorFlow frozen graph "
             f"(`{BASELINE}`) of the same table. mIoU: CamVid val ({document['miou_frames']} frames) through the runner, "
             "at the first size; INT8 at the other sizes is calibrated the same way but not gated on mIoU "
             "(upscaled CamVid frames are not the scale the model works at)."
             + (" The weights were trained on val too: the column compares the variants with each other, it is "
                "not a held-out score." if document.get("weights_val_trained_on") else ""),
             ""]
    titles = {v["name"]: v["title"] for v in document["variants"] + (document.get("peers") or [])}
    for run in document["runs"]:
        size, mode = run["size"], run["mode"]
        base = _result(document, BASELINE, size, mode)
        lines += [f"**{size[0]}x{size[1]}, {mode}** "
                  + ("(1 synchronous request)" if mode == "latency" else
                     "(OpenVINO: async requests, THROUGHPUT hint; TensorFlow/ONNX Runtime: synchronous)"), "",
                  "| variant | runs | median | p90 | FPS | x TF latency | x TF FPS | end-to-end median | mIoU "
                  "| params | GMAC | % of peak | stream / median |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for doc in run["results"]:
            lat, e2e = doc["latency_ms"], doc["e2e_latency_ms"]
            ratio = (lat["median"] / base["latency_ms"]["median"]) if base else None
            fps_ratio = (doc["throughput_fps"] / base["throughput_fps"]) if base and base["throughput_fps"] else None
            first = list(size) == list(document["runs"][0]["size"])
            miou = {**document["miou"], **(document.get("peer_miou") or {})}.get(doc["variant"]) if first else None
            bound = doc.get("roofline") or {}
            lines.append(
                f"| `{doc['variant']}` {titles.get(doc['variant'], '')} | {doc['backend']} {doc['precision'] or ''} | "
                f"{format_ms(lat['median'], '–')} | {format_ms(lat['p90'], '–')} | "
                f"{doc['throughput_fps'] or 0:.1f} | "
                f"{'–' if ratio is None else f'{ratio:.2f}x'} | {'–' if fps_ratio is None else f'{fps_ratio:.2f}x'} | "
                f"{format_ms(e2e['median'], '–')} | {'–' if miou is None else f'{100 * miou:.2f}%'} | "
                f"{_complexity_cells(doc)} | "
                + (f"{100 * bound['compute_share']:.1f}% | {100 * bound['stream_share']:.0f}% |" if bound else "– | – |"))
        lines.append("")
    if document.get("class_map"):
        lines += ["Class-map output (latency mode): the arg-max inside the IR against the host's arg-max of the logits.",
                  "", "| size | logits -> class map | end-to-end median | host post-processing | infer-only | saved |",
                  "|---|---|---|---|---|---|"]
        for c in document["class_map"]:
            lines.append(f"| {c['size'][0]}x{c['size'][1]} | `{c['logits']}` -> `{c['class_map']}` | "
                         + " | ".join(f"{format_ms(x, '–')} -> {format_ms(y, '–')}" for x, y in
                                      (c["e2e_ms"], c["post_ms"], c["infer_ms"]))
                         + f" | {format_ms(c['saved_ms'])} |")
        lines.append("")
    if document.get("myriad_compile"):
        compiled = document["myriad_compile"]
        lines += ["MYRIAD X compiler (the ncs2 graph and its variants, compiled for the stick without one):", "",
                  render_compile_table(compiled["rows"], tuple(compiled["size"])), ""]
    lines += [recommendation_text(document.get("recommendation")), ""]
    lines += bounds_text(document) + peers_text(document) + limits_text(document) + kinds_text(document)
    if document["skipped"]:
        lines += ["Not measured:", ""] + [f"- `{k}`: {v}" for k, v in document["skipped"].items()] + [""]
    lines += ["Goals (first size, latency mode; " + measurement_text(document) + "):", "",
              "| goal | measured | met |", "|---|---|---|"]
    for g in document["goals"]:
        value = "–" if g["value"] is None else (f"{g['value']:.2f} points" if g["metric"] == "miou_drop"
                                                  else f"{g['value']:.3f}x")
        met = ("not measured (emulated CPU kind)" if g.get("emulated") and g["value"] is not None else "not measured") \
            if g["met"] is None else ("yes" if g["met"] else "**NO**")
        lines.append(f"| {g['goal']} | {value} | {met} |")
    return "\n".join(lines) + "\n"


def _complexity_cells(doc: Dict[str, Any]) -> str:
    """``372,859 | 1.355``: parameters and GMAC per frame (from the artifact), or dashes."""
    c = doc.get("complexity") or {}
    params = f"{c['parameters']:,}" if c.get("parameters") else "–"
    gmac = f"{c['gmac']:.3f}" if c.get("gmac") is not None else "–"
    return f"{params} | {gmac}"


def result_stem(document: Dict[str, Any]) -> str:
    m = document["machine"]
    slug = re.sub(r"[^a-z0-9]+", "-", str(m.get("cpu_model", "cpu")).lower()).strip("-") or "cpu"
    return f"{document['created'][:10]}-{slug}-{m.get('logical_cores', 0)}c"


def update_readme(readme: Path, markdown: str, png_rel: str) -> bool:
    """Replace the text between the bench markers of ``readme``; False when it has no markers."""
    text = readme.read_text()
    if README_START not in text or README_END not in text:
        return False
    head, rest = text.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    body = f"{README_START}\n{markdown}\n![make bench plot]({png_rel})\n{README_END}"
    from enet_edge.fileio import atomic_write_text

    atomic_write_text(readme, head + body + tail)
    return True


def write_outputs(document: Dict[str, Any], config: SuiteConfig) -> Dict[str, Path]:
    from enet_edge.fileio import atomic_write_text

    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = result_stem(document)
    paths = {"json": out / f"{stem}.json", "md": out / f"{stem}.md", "png": out / f"{stem}.png"}
    atomic_write_text(paths["json"], json.dumps(document, indent=1) + "\n")
    markdown = render_markdown(document)
    atomic_write_text(paths["md"], f"# enet-edge bench, {document['created'][:10]}\n\n{markdown}\n![plot]({stem}.png)\n")
    render_plot(document, paths["png"], measurement_text(document))
    if config.readme is not None and Path(config.readme).is_file():
        rel = Path(paths["png"]).resolve().relative_to(Path(config.readme).resolve().parent) \
            if Path(paths["png"]).resolve().is_relative_to(Path(config.readme).resolve().parent) else paths["png"]
        if update_readme(Path(config.readme), markdown, str(rel)):
            paths["readme"] = Path(config.readme)
    return paths
