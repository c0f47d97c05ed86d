#!/usr/bin/env python3
"""``make bench``: ENet on every runtime and precision of this machine, interleaved in one run.

Variants (one table row each; see :data:`VARIANTS`): TensorFlow (the Keras model from the trained weights
and the frozen graph), ONNX Runtime FP32, OpenVINO FP32 / BF16 / FP16 (the last two only where the CPU
computes in them), the ncs2 FP16 IR run on the CPU (FP16 weights, f32 arithmetic: the price of
Movidius-safety next to the cpu realization), OpenVINO INT8 (``cpu-int8``), and the class-map exports
(the arg-max inside the IR) of FP32, BF16 and INT8.

For every input size, the artifacts are exported (or reused when they were exported from the same
weights, realization, quantization settings and output) under ``build/bench/<H>x<W>/<target>/``; then, per
mode (latency: 1 synchronous request; throughput: asynchronous requests, OpenVINO THROUGHPUT hint), all
variants are measured in interleaved rounds by :func:`enet_edge.apps.bench.run_bench`, so that machine
drift hits every variant alike. The mIoU column is measured on CamVid val through the same runner at the
first size.

Writes ``benchmarks/results/<date>-<cpu>.json`` (everything), ``.md`` (tables with ratios to the
TensorFlow graph) and ``.png`` (latency distributions, latency vs mIoU, scaling with input size), and
puts the markdown between the ``<!-- bench:start -->`` / ``<!-- bench:end -->`` markers of
benchmarks/results/README.md (the latest results, linked from the top README).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import math
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from enet_edge import camvid  # noqa: E402
from enet_edge.apps import bench  # noqa: E402
from enet_edge.errors import ConfigError, EnetEdgeError  # noqa: E402
from enet_edge.export.compile_table import COMPILE_VARIANTS, compile_table, render_compile_table  # noqa: E402
from enet_edge.export.targets import load_target  # noqa: E402
from enet_edge.progress import format_ms  # noqa: E402
from enet_edge.runtime.backends import artifact_file  # noqa: E402

SCHEMA = "enet-edge-bench-suite/1"
README_START, README_END = "<!-- bench:start -->", "<!-- bench:end -->"


@dataclass(frozen=True)
class Variant:
    """One way to run ENet: an export target's artifact (or the trained weights) on a backend."""

    name: str
    title: str
    target: Optional[str]  # export target whose artifact runs; None: the trained weights (.npz)
    backend: str
    file: Optional[str] = None  # the artifact file in the export directory; None: the directory (its IR)
    precision: Optional[str] = None  # OpenVINO INFERENCE_PRECISION_HINT
    needs: Optional[str] = None  # an OpenVINO CPU OPTIMIZATION_CAPABILITIES entry this variant requires
    class_map: Optional[str] = None  # the IR ends in the arg-max and outputs class ids of this dtype

    @property
    def export_name(self) -> Optional[str]:
        """The directory under ``build/bench/<H>x<W>/`` holding this variant's export."""
        if self.target is None:
            return None
        return f"{self.target}-classmap-{self.class_map}" if self.class_map else self.target


VARIANTS: Tuple[Variant, ...] = (
    Variant("tf-keras", "TensorFlow, Keras model (trained weights)", None, "keras"),
    Variant("tf-graph", "TensorFlow, frozen graph (cpu realization)", "cpu", "tensorflow", artifact_file("tensorflow")),
    Variant("ort-fp32", "ONNX Runtime FP32 (cpu)", "cpu", "onnxruntime", artifact_file("onnx")),
    Variant("ov-fp32", "OpenVINO FP32 (cpu)", "cpu", "openvino", precision="f32"),
    Variant("ov-bf16", "OpenVINO BF16 (cpu)", "cpu", "openvino", precision="bf16", needs="BF16"),
    Variant("ov-fp16", "OpenVINO FP16 arithmetic (cpu)", "cpu", "openvino", precision="f16", needs="FP16"),
    Variant("ov-ncs2-fp16ir", "OpenVINO, ncs2 FP16 IR emulated on CPU (FP16 weights, f32 math)", "ncs2", "openvino",
            precision="f32"),
    Variant("ov-int8", "OpenVINO INT8 (cpu-int8)", "cpu-int8", "openvino"),
    Variant("ov-fp32-cm", "OpenVINO FP32 (cpu), class-map output: arg-max in the IR", "cpu", "openvino",
            precision="f32", class_map="int32"),
    Variant("ov-int8-cm", "OpenVINO INT8 (cpu-int8), class-map output: arg-max in the IR", "cpu-int8", "openvino",
            class_map="int32"),
    Variant("ov-bf16-cm", "OpenVINO BF16 (cpu), class-map output: arg-max in the IR", "cpu", "openvino",
            precision="bf16", needs="BF16", class_map="int32"),
)
VARIANT_NAMES = tuple(v.name for v in VARIANTS)
COMPILE_VARIANT_NAMES = tuple(v.name for v in COMPILE_VARIANTS)
BASELINE = "tf-graph"
"""Ratios are to the TensorFlow frozen graph (the fastest TensorFlow form)."""


@dataclass(frozen=True)
class Goal:
    """A speed or accuracy goal: ``variant``'s metric at most ``limit`` x ``reference``'s (or points, for mIoU)."""

    text: str
    variant: str
    reference: str
    limit: float
    metric: str = "latency"  # latency: ratio of medians (latency mode, first size); miou_drop: points


GOALS = (
    Goal("cpu-int8 latency <= 0.5x the OpenVINO FP32 cpu IR", "ov-int8", "ov-fp32", 0.5),
    Goal("cpu-int8 faster than OpenVINO BF16 (CPUs with BF16 only)", "ov-int8", "ov-bf16", 1.0),
    Goal("cpu-int8 latency <= 0.15x the TensorFlow graph", "ov-int8", "tf-graph", 0.15),
    Goal("cpu-int8 latency <= 0.5x ONNX Runtime FP32", "ov-int8", "ort-fp32", 0.5),
    Goal("cpu-int8 loses <= 1 mIoU point against OpenVINO FP32", "ov-int8", "ov-fp32", 1.0, "miou_drop"),
    Goal("cpu FP32 latency <= 0.35x the TensorFlow graph", "ov-fp32", "tf-graph", 0.35),
)


@dataclass(frozen=True)
class SuiteConfig:
    """What ``make bench`` measures. ``time_s``/``niter``: per variant, phase and mode (one of them)."""

    sizes: Tuple[Tuple[int, int], ...] = ((360, 480), (720, 960))
    modes: Tuple[str, ...] = ("latency", "throughput")
    variants: Tuple[str, ...] = VARIANT_NAMES
    time_s: Optional[float] = 6.0
    niter: Optional[int] = None
    warmup: int = 5
    miou_frames: int = 0  # CamVid val frames for the mIoU column (0: all; -1: no mIoU)
    build_dir: Path = REPO / "build" / "bench"
    out_dir: Path = REPO / "benchmarks" / "results"
    weights: Optional[Path] = None
    data_dir: Optional[Path] = None
    readme: Optional[Path] = REPO / "benchmarks" / "results" / "README.md"
    render: Optional[Path] = None  # re-render this saved document instead of measuring
    compile_variants: Tuple[str, ...] = COMPILE_VARIANT_NAMES  # rows of the MYRIAD X compile table (first size)

    def __post_init__(self) -> None:
        if not self.sizes:
            raise ConfigError("give at least one size")
        for h, w in self.sizes:
            if h % 8 or w % 8 or h < 8 or w < 8:
                raise ConfigError(f"size {h}x{w}: height and width must be positive multiples of 8")
        for mode in self.modes:
            if mode not in bench.MODES:
                raise ConfigError(f"mode {mode!r} must be one of {', '.join(bench.MODES)}")
        unknown = set(self.variants) - set(VARIANT_NAMES)
        if unknown or not self.variants:
            raise ConfigError(f"unknown variant(s) {sorted(unknown)}; choose from {', '.join(VARIANT_NAMES)}")
        if (self.time_s is None) == (self.niter is None):
            raise ConfigError("give exactly one of --time or --niter")
        unknown = set(self.compile_variants) - set(COMPILE_VARIANT_NAMES)
        if unknown:
            raise ConfigError(f"unknown compile variant(s) {sorted(unknown)}; choose from "
                              f"{', '.join(COMPILE_VARIANT_NAMES)}")
        if self.miou_frames < -1:
            raise ConfigError("--miou-frames must be >= -1 (-1: skip, 0: the whole val split)")


# --------------------------------------------------------------------------------------------
# Artifacts
# --------------------------------------------------------------------------------------------


def weights_path(config: SuiteConfig) -> Path:
    from enet_edge.resources import DEFAULT_WEIGHTS

    path = Path(config.weights or DEFAULT_WEIGHTS)
    if not path.is_file():
        raise ConfigError(f"weights {path} not found; train (make train) or pass --weights")
    return path


SCALING_INT8 = {"max_miou_drop": 100.0, "accuracy_control": False, "eval_frames": 10}
"""INT8 settings at the scaling sizes (not the first): CamVid frames upscaled to 720x960 are not the scale
the model was trained and gated at, so the mIoU gate applies at the first size only; speed is what the
other sizes measure."""


def bench_target(target: str, gated: bool, class_map: Optional[str] = None):
    """The export target ``target`` (with ``class_map``); INT8 targets get :data:`SCALING_INT8` when not ``gated``."""
    from enet_edge.export.targets import load_target

    spec = load_target(target).with_class_map(class_map)
    if gated or spec.quantization is None:
        return spec
    return spec.with_quantization(ir_argmax_agreement=0.5, **SCALING_INT8)


def quantization_matches(manifest: Dict[str, Any], spec) -> bool:
    """Whether an export's manifest was quantized as ``spec`` (a ``TargetSpec``) says: the same NNCF preset,
    bias correction, ignored scope and calibration (an FP32 spec matches a manifest without quantization)."""
    wanted, done = spec.quantization, manifest.get("quantization")
    if wanted is None or done is None:
        return wanted is None and done is None
    return (done.get("preset") == wanted.preset
            and done.get("fast_bias_correction") == wanted.fast_bias_correction
            and tuple(done.get("ignored_patterns", ())) == wanted.ignored_patterns
            and done.get("calibration") == {"split": wanted.calibration_split, "frames": wanted.calibration_frames})


def ensure_export(variant: Variant, size: Tuple[int, int], config: SuiteConfig, log: Callable[[str], None],
                  gated: bool = True) -> Path:
    """``build/bench/<H>x<W>/<export name>``, exported now unless it holds an export of the same weights, size,
    realization, quantization and output."""
    from enet_edge.export.pipeline import ExportRequest, export
    from enet_edge.fileio import sha256_file

    weights = weights_path(config)
    target = variant.export_name
    out = Path(config.build_dir) / f"{size[0]}x{size[1]}" / target
    manifest_path = out / "manifest.json"
    spec = bench_target(variant.target, gated, variant.class_map)
    if manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text())
        outputs = manifest.get("artifacts", {}).get("openvino_ir", {}).get("outputs") or [{}]
        same = (manifest.get("weights", {}).get("sha256") == sha256_file(weights)
                and (manifest["model"]["height"], manifest["model"]["width"]) == tuple(size)
                and manifest.get("realization") == spec.realization.to_dict()
                and quantization_matches(manifest, spec)
                and (outputs[0].get("name") == "class_map") == bool(variant.class_map))
        if same:
            return out
    log(f"exporting {target} at {size[0]}x{size[1]} to {out}")
    request = ExportRequest(target=spec, out_dir=out, weights=weights, height=size[0], width=size[1],
                            data_dir=config.data_dir)
    export(request, log=lambda m: log("  " + m))
    return out


def cpu_flags_of_note() -> List[str]:
    """The x86 flags that decide CNN speed (AVX2, AVX-512, VNNI, AMX, FP16/BF16), from /proc/cpuinfo."""
    flags = bench.cpuinfo().get("flags", [])
    wanted = re.compile(r"^(avx2|fma|f16c|avx512f|avx512_vnni|avx_vnni|avx512_bf16|avx512_fp16|amx_\w+)$")
    return sorted(f for f in flags if wanted.match(f))


def cpu_capabilities() -> Tuple[str, ...]:
    """OpenVINO's CPU OPTIMIZATION_CAPABILITIES (through the runtime's OpenVINO import, which tests simulate)."""
    from enet_edge.runtime.adapters import openvino_capabilities

    return openvino_capabilities("CPU")


def entry_for(variant: Variant, size: Tuple[int, int], export_dirs: Dict[str, Optional[Path]], config: SuiteConfig
              ) -> bench.BenchEntry:
    if variant.target is None:
        path = weights_path(config)
        options = (("height", size[0]), ("width", size[1]))
    else:
        path = export_dirs[variant.export_name] / variant.file if variant.file else export_dirs[variant.export_name]
        options = ()
    return bench.BenchEntry(str(path), variant.backend, "CPU", variant.precision, label=variant.name, options=options)


# --------------------------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------------------------


def measure_miou(entry: bench.BenchEntry, pairs, log: Callable[[str], None]) -> float:
    """Val mIoU (fraction) of one variant through the runner (:func:`enet_edge.metrics.segmenter_miou`)."""
    from enet_edge.metrics import segmenter_miou
    from enet_edge.runtime import Segmenter

    options = dict(entry.options)
    miou = segmenter_miou(Segmenter.open(entry.model, entry.backend, device=entry.device, precision=entry.precision,
                                         **options), pairs)
    log(f"  mIoU {entry.label}: {100 * miou:.2f}%")
    return miou


def run_suite(config: SuiteConfig, log: Callable[[str], None] = print) -> Dict[str, Any]:
    """Export what is missing, measure every variant, and return the suite document (not yet written)."""
    started = time.perf_counter()
    weights_path(config)  # fail now, not after the first exports
    caps = cpu_capabilities()
    variants = [v for v in VARIANTS if v.name in config.variants]
    skipped: Dict[str, str] = {}
    for v in variants:
        if v.needs and v.needs not in caps:
            skipped[v.name] = (f"this CPU has no {v.needs} arithmetic (OpenVINO CPU capabilities: "
                               f"{', '.join(caps)}); OpenVINO would fall back to f32")
    runs: List[Dict[str, Any]] = []
    miou: Dict[str, Optional[float]] = {}
    for index, size in enumerate(config.sizes):
        export_dirs: Dict[str, Optional[Path]] = {}
        for variant in variants:
            name = variant.export_name
            if name is None or name in export_dirs or variant.name in skipped:
                continue
            try:
                export_dirs[name] = ensure_export(variant, size, config, log, gated=index == 0)
            except EnetEdgeError as exc:
                export_dirs[name] = None
                for v in variants:
                    if v.export_name == name:
                        skipped.setdefault(f"{v.name}@{size[0]}x{size[1]}", f"export failed: {exc}")
        entries = [entry_for(v, size, export_dirs, config) for v in variants
                   if v.name not in skipped and (v.target is None or export_dirs.get(v.export_name))]
        if index == 0 and config.miou_frames >= 0:
            pairs = camvid.spread_pairs(config.data_dir, "val", config.miou_frames)
            log(f"mIoU on {len(pairs)} CamVid val frames at {size[0]}x{size[1]}")
            for entry in entries:
                miou[entry.label] = measure_miou(entry, pairs, log)
        for mode in config.modes:
            log(f"{size[0]}x{size[1]} {mode}: {', '.join(e.label for e in entries)}")
            bench_config = bench.BenchConfig(entries=tuple(entries), mode=mode, niter=config.niter,
                                             time_s=config.time_s, warmup=config.warmup)
            results = bench.run_bench(bench_config, log=lambda m: log("  " + m))
            documents = []
            for result in results:
                doc = bench.result_document(result, {})
                doc.pop("machine")
                doc["variant"] = result.entry.label
                doc["samples_ms"] = [round(ns / 1e6, 4) for ns in result.infer_samples_ns]
                documents.append(doc)
            runs.append({"size": list(size), "mode": mode, "results": documents})
    compiled = None
    if config.compile_variants:
        size = config.sizes[0]
        rows = compile_table(load_target("ncs2"), size, config.build_dir / f"{size[0]}x{size[1]}" / "myriadx",
                             weights_path(config), [v for v in COMPILE_VARIANTS if v.name in config.compile_variants],
                             log=log)
        compiled = {"size": list(size), "rows": rows}
    machine = bench.machine_info()  # after the runs: versions of what was imported (TensorFlow) are known
    machine["cpu_flags_of_note"] = cpu_flags_of_note()
    document = {
        "schema": SCHEMA,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine,
        "openvino_cpu_capabilities": list(caps),
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(config).items()},
        "baseline": BASELINE,
        "variants": [dataclasses.asdict(v) for v in variants],
        "skipped": skipped,
        "miou": miou,
        "miou_frames": None if config.miou_frames < 0 else (config.miou_frames or "all"),
        "int8_at_scaling_sizes": SCALING_INT8,
        "runs": runs,
        "myriad_compile": compiled,
        "seconds": round(time.perf_counter() - started, 1),
    }
    document["goals"] = evaluate_goals(document)
    document["class_map"] = class_map_savings(document)
    document["recommendation"] = recommend(document)
    return document


# --------------------------------------------------------------------------------------------
# Reading the document
# --------------------------------------------------------------------------------------------


def _result(document: Dict[str, Any], variant: str, size: Sequence[int], mode: str) -> Optional[Dict[str, Any]]:
    for run in document["runs"]:
        if list(run["size"]) == list(size) and run["mode"] == mode:
            for doc in run["results"]:
                if doc["variant"] == variant:
                    return doc
    return None


def evaluate_goals(document: Dict[str, Any]) -> List[Dict[str, Any]]:
    """Each :data:`GOALS` entry with its measured value (first size, latency mode) and whether it is met."""
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
                    "met": None if value is None else value <= goal.limit})
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
             "(upscaled CamVid frames are not the scale the model works at).",
             ""]
    titles = {v["name"]: v["title"] for v in document["variants"]}
    for run in document["runs"]:
        size, mode = run["size"], run["mode"]
        base = _result(document, BASELINE, size, mode)
        lines += [f"**{size[0]}x{size[1]}, {mode}** "
                  + ("(1 synchronous request)" if mode == "latency" else
                     "(OpenVINO: async requests, THROUGHPUT hint; TensorFlow/ONNX Runtime: synchronous)"), "",
                  "| variant | runs | median | p90 | FPS | x TF latency | x TF FPS | end-to-end median | mIoU "
                  "| params | GMAC |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for doc in run["results"]:
            lat, e2e = doc["latency_ms"], doc["e2e_latency_ms"]
            ratio = (lat["median"] / base["latency_ms"]["median"]) if base else None
            fps_ratio = (doc["throughput_fps"] / base["throughput_fps"]) if base and base["throughput_fps"] else None
            miou = document["miou"].get(doc["variant"]) if list(size) == list(document["runs"][0]["size"]) else None
            lines.append(
                f"| `{doc['variant']}` {titles.get(doc['variant'], '')} | {doc['backend']} {doc['precision'] or ''} | "
                f"{format_ms(lat['median'], '–')} | {format_ms(lat['p90'], '–')} | "
                f"{doc['throughput_fps'] or 0:.1f} | "
                f"{'–' if ratio is None else f'{ratio:.2f}x'} | {'–' if fps_ratio is None else f'{fps_ratio:.2f}x'} | "
                f"{format_ms(e2e['median'], '–')} | {'–' if miou is None else f'{100 * miou:.2f}%'} | "
                f"{_complexity_cells(doc)} |")
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
    if document["skipped"]:
        lines += ["Not measured:", ""] + [f"- `{k}`: {v}" for k, v in document["skipped"].items()] + [""]
    lines += ["Goals (first size, latency mode):", "", "| goal | measured | met |", "|---|---|---|"]
    for g in document["goals"]:
        value = "–" if g["value"] is None else (f"{g['value']:.2f} points" if g["metric"] == "miou_drop"
                                                  else f"{g['value']:.3f}x")
        met = "not measured" if g["met"] is None else ("yes" if g["met"] else "**NO**")
        lines.append(f"| {g['goal']} | {value} | {met} |")
    return "\n".join(lines) + "\n"


def _complexity_cells(doc: Dict[str, Any]) -> str:
    """``372,859 | 1.355``: parameters and GMAC per frame (from the artifact), or dashes."""
    c = doc.get("complexity") or {}
    params = f"{c['parameters']:,}" if c.get("parameters") else "–"
    gmac = f"{c['gmac']:.3f}" if c.get("gmac") is not None else "–"
    return f"{params} | {gmac}"


def render_plot(document: Dict[str, Any], path: Path) -> Path:
    """PNG: latency distribution per variant, accuracy against latency, and throughput per input size.

    Linear axes with plain tick labels; every variant is numbered the same way in all three panels.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    first = document["runs"][0]["size"]
    latency = [r for r in document["runs"] if r["mode"] == "latency"]
    throughput = [r for r in document["runs"] if r["mode"] == "throughput"] or latency
    fig, axes = plt.subplots(1, 3, figsize=(18, 5.6))
    if latency:
        docs = latency[0]["results"]
        names = [d["variant"] for d in docs]
        colors = {name: plt.cm.tab10(i % 10) for i, name in enumerate(names)}
        ax = axes[0]
        box = ax.boxplot([d["samples_ms"] or [float("nan")] for d in docs], orientation="horizontal",
                         showfliers=True, tick_labels=names, patch_artist=True)
        for patch, name in zip(box["boxes"], names):
            patch.set_facecolor(colors[name])
            patch.set_alpha(0.6)
        ax.set_xlim(left=0)
        ax.set_xlabel("infer-only latency, ms")
        ax.set_title(f"latency, {first[0]}x{first[1]}, 1 synchronous request")
        ax.invert_yaxis()
        ax.grid(axis="x", alpha=0.3)
        _accuracy_panel(axes[1], docs, document["miou"], colors)
        ax = axes[2]
        width = 0.8 / max(len(throughput), 1)
        for i, run in enumerate(throughput):
            values = []
            for name in names:
                doc = next((d for d in run["results"] if d["variant"] == name), None)
                values.append(doc["throughput_fps"] or 0 if doc else 0)
            bars = ax.barh([j + i * width for j in range(len(names))], values, height=width,
                           label=f"{run['size'][0]}x{run['size'][1]}", alpha=0.85)
            ax.bar_label(bars, fmt="%.1f", fontsize=7, padding=2)
        ax.set_yticks([j + width * (len(throughput) - 1) / 2 for j in range(len(names))], names)
        ax.invert_yaxis()
        ax.set_xlim(0, 1.15 * max([b.get_width() for b in ax.patches] or [1]))
        ax.set_xlabel("frames per second (infer-only)")
        mode = "async requests" if throughput is not latency else "1 synchronous request"
        ax.set_title(f"throughput by input size ({mode})")
        ax.legend(title="input", loc="upper right")
        ax.grid(axis="x", alpha=0.3)
    m = document["machine"]
    fig.suptitle(f"enet-edge bench {document['created'][:10]}: {m.get('cpu_model', '?')}, "
                 f"{m.get('logical_cores', '?')} cores; all variants interleaved in one process")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    tmp.replace(path)
    return path


def _accuracy_panel(ax, docs: List[Dict[str, Any]], miou: Dict[str, Optional[float]], colors) -> None:
    """mIoU against median latency; points are numbered and named in a legend (no labels to overlap)."""
    points = [(d["variant"], d["latency_ms"]["median"], 100 * miou[d["variant"]]) for d in docs
              if miou.get(d["variant"]) is not None and d["latency_ms"]["median"] is not None]
    for i, (name, ms, value) in enumerate(points, 1):
        ax.scatter(ms, value, s=60, color=colors[name], label=f"{i}  {name}: {value:.2f}%, {ms:.1f} ms", zorder=3)
        ax.annotate(str(i), (ms, value), fontsize=8, xytext=(5, 5), textcoords="offset points")
    if points:
        values = [p[2] for p in points]
        low = math.floor(min(values) - 1.0)  # a floor near the data, never 0: the differences are tenths
        ax.set_ylim(low, max(math.ceil(max(values) + 0.5), low + 2))
        ax.set_xlim(0, 1.1 * max(p[1] for p in points))
        ax.legend(fontsize=7, loc="lower right")
    ax.set_xlabel("median infer-only latency, ms")
    ax.set_ylabel("CamVid val mIoU, % (axis from " + (f"{ax.get_ylim()[0]:.0f}%)" if points else "-)"))
    ax.set_title("accuracy against latency (up and left is better)")
    ax.grid(alpha=0.3)


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
    render_plot(document, paths["png"])
    if config.readme is not None and Path(config.readme).is_file():
        rel = Path(paths["png"]).resolve().relative_to(Path(config.readme).resolve().parent) \
            if Path(paths["png"]).resolve().is_relative_to(Path(config.readme).resolve().parent) else paths["png"]
        if update_readme(Path(config.readme), markdown, str(rel)):
            paths["readme"] = Path(config.readme)
    return paths


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------


def _size(text: str) -> Tuple[int, int]:
    match = re.fullmatch(r"(\d+)x(\d+)", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"size {text!r} must look like 360x480")
    return int(match.group(1)), int(match.group(2))


def parse_args(argv: Optional[Sequence[str]] = None) -> SuiteConfig:
    p = argparse.ArgumentParser(prog="benchmarks/run.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=_size, nargs="+", default=[(360, 480), (720, 960)], metavar="HxW")
    p.add_argument("--modes", nargs="+", default=["latency", "throughput"], choices=bench.MODES)
    p.add_argument("--variants", nargs="+", default=list(VARIANT_NAMES), metavar="NAME",
                   help="subset of: " + ", ".join(VARIANT_NAMES))
    group = p.add_mutually_exclusive_group()
    group.add_argument("--time", type=float, help="seconds per variant, phase and mode (default 6)")
    group.add_argument("--niter", type=int, help="iterations per variant, phase and mode")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--miou-frames", type=int, default=0, help="CamVid val frames for mIoU (0: all; -1: skip)")
    p.add_argument("--build-dir", type=Path, default=SuiteConfig.build_dir)
    p.add_argument("--out-dir", type=Path, default=SuiteConfig.out_dir)
    p.add_argument("--weights", type=Path)
    p.add_argument("--data-dir", type=Path)
    p.add_argument("--no-readme", action="store_true", help="do not update benchmarks/results/README.md")
    p.add_argument("--compile-variants", nargs="*", default=list(COMPILE_VARIANT_NAMES), metavar="NAME",
                   help="rows of the MYRIAD X compile table (none: no table); subset of: "
                        + ", ".join(COMPILE_VARIANT_NAMES))
    p.add_argument("--render", type=Path, metavar="JSON",
                   help="measure nothing: re-derive tables, goals and plot from a saved results JSON")
    a = p.parse_args(argv)
    time_s = a.time if a.time is not None else (None if a.niter is not None else 6.0)
    return SuiteConfig(sizes=tuple(a.sizes), modes=tuple(a.modes), variants=tuple(a.variants), time_s=time_s,
                       niter=a.niter, warmup=a.warmup, miou_frames=a.miou_frames, build_dir=a.build_dir,
                       out_dir=a.out_dir, weights=a.weights, data_dir=a.data_dir,
                       readme=None if a.no_readme else SuiteConfig.readme, render=a.render,
                       compile_variants=tuple(a.compile_variants))


def rerender(path: Path) -> Dict[str, Any]:
    """A saved suite document with its derived parts (goals, class-map savings, recommendation) recomputed."""
    try:
        document = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"--render {path}: not a readable results JSON ({exc})") from exc
    if not isinstance(document, dict) or document.get("schema") != SCHEMA:
        raise ConfigError(f"--render {path}: not a {SCHEMA} document")
    document["goals"] = evaluate_goals(document)
    document["class_map"] = class_map_savings(document)
    document["recommendation"] = recommend(document)
    return document


def main(argv: Optional[Sequence[str]] = None) -> int:
    try:
        config = parse_args(argv)
        if config.render is not None:
            document = rerender(config.render)
        else:
            document = run_suite(config, log=lambda m: print(m, file=sys.stderr, flush=True))
        paths = write_outputs(document, config)
    except EnetEdgeError as exc:
        print(f"benchmarks/run.py: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("benchmarks/run.py: interrupted", file=sys.stderr)
        return 130
    print(render_markdown(document))
    for kind, path in paths.items():
        print(f"{kind}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
