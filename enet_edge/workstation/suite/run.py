"""Exports (made or reused under ``build/bench/<H>x<W>/``), measuring in interleaved rounds, the mIoU column and the
MYRIAD X compile table: :func:`run_suite` returns the suite document."""

from __future__ import annotations

import dataclasses
import datetime
import os
import re
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from enet_edge import camvid
from enet_edge.device import bench
from enet_edge.errors import ConfigError, EnetEdgeError
from enet_edge.export.myriad.compile_table import COMPILE_VARIANTS, compile_table, rank_rows
from enet_edge.export.targets import load_target
from enet_edge.runtime.backends import OPENVINO_BACKEND
from enet_edge.runtime.isa import (ISA_CAP_VARIABLE, IsaLevel, capped_flags, capped_level, isa_level, native_level,
                                   share_above)
from enet_edge.workstation.suite.config import (BASELINE, SCALING_INT8, SCHEMA, VARIANTS, SuiteConfig, Variant,
                                                config_to_dict)
from enet_edge.workstation.suite.exports import ensure_export, weights_meta, weights_path
from enet_edge.workstation.suite.kinds import run_kinds
from enet_edge.workstation.suite.peers import PEERS, ensure_peer
from enet_edge.workstation.suite.report import derive, measurement

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


def peer_entries(size: Tuple[int, int], config: SuiteConfig, skipped: Dict[str, str],
                 log: Callable[[str], None], level: Optional[IsaLevel] = None) -> List[bench.BenchEntry]:
    """The bench entries of the peers (:mod:`.peers`) at ``size``, made or reused; a peer that cannot be made or run
    here goes to ``skipped`` with why. Peers run at the CPU's default precision, as a user would run them (as CPU
    kind ``level``: that kind's default, asked explicitly; the capped OpenVINO would pick this machine's)."""
    entries = []
    for peer in PEERS:
        if peer.name not in config.peers:
            continue
        precision = level.precision_for(None) if level is not None and peer.backend == OPENVINO_BACKEND else None
        try:
            path = ensure_peer(peer, weights_path(config), size, config.build_dir, log)
            entries.append(bench.BenchEntry(str(path), peer.backend, "CPU", precision, label=peer.name))
        except EnetEdgeError as exc:
            skipped[f"{peer.name}@{size[0]}x{size[1]}"] = str(exc)
    return entries


LIMIT_ROWS = 8
"""Op types (by implementation) listed in "what limits" the recommended variant."""


def limits_of(entries: Dict[Tuple[int, int], bench.BenchEntry], config: SuiteConfig,
              log: Callable[[str], None], level: Optional[IsaLevel] = None) -> List[Dict[str, Any]]:
    """Where the time of one variant goes, per size: OpenVINO's per-layer counters summed by op type and
    implementation (the :data:`LIMIT_ROWS` largest), in a pass of its own after the timed runs, so that the counters
    never slow what was timed. ``entries``: the variant's bench entry per size (OpenVINO entries only). As CPU kind
    ``level``, each size also gets ``above_cap_share``: the counted time in kernels beyond that kind."""
    out = []
    for size, entry in entries.items():
        log(f"per-layer counters of {entry.label} at {size[0]}x{size[1]}")
        result = bench.run_bench(bench.BenchConfig(entries=(entry,), niter=bench.PER_LAYER_RUNS, warmup=config.warmup,
                                                   per_layer=LIMIT_ROWS), log=lambda m: log("  " + m))[0]
        totals = bench.per_layer_by_type(result.per_layer or ())
        total_us = sum(t.real_time_us for t in totals) or 1.0
        out.append({"size": list(size), "variant": entry.label, "total_ms": round(total_us / 1e3, 3),
                    "by_type": [{"node_type": t.node_type, "exec_type": t.exec_type, "layers": t.layers,
                                 "ms": round(t.real_time_us / 1e3, 3), "share": round(t.real_time_us / total_us, 4)}
                                for t in totals[:LIMIT_ROWS]]})
        if level is not None:
            out[-1]["above_cap_share"] = round(share_above(level, ((t.exec_type, t.real_time_us) for t in totals)), 4)
    return out


def run_suite(config: SuiteConfig, log: Callable[[str], None] = print) -> Dict[str, Any]:
    """Export what is missing, measure every variant, and return the suite document (not yet written)."""
    started = time.perf_counter()
    weights_path(config)  # fail now, not after the first exports
    level = isa_level(config.cpu_kind) if config.cpu_kind else None
    if level is not None and capped_level(os.environ) is not level:  # refused before OpenVINO loads uncapped
        raise ConfigError(f"a run as CPU kind {level.name} needs {ISA_CAP_VARIABLE}={level.onednn_cap} set before "
                          "OpenVINO loads; the suite's CPU kinds (.kinds) start it so")
    caps = cpu_capabilities()
    if level is not None:
        caps = level.capabilities(caps)
    variants = [v for v in VARIANTS if v.name in config.variants]
    skipped: Dict[str, str] = {}
    for v in variants:
        if v.needs and v.needs not in caps:
            skipped[v.name] = (f"this CPU has no {v.needs} arithmetic (OpenVINO CPU capabilities: "
                               f"{', '.join(caps)}); OpenVINO would fall back to f32")
    runs: List[Dict[str, Any]] = []
    entries_at: Dict[Tuple[int, int], Dict[str, bench.BenchEntry]] = {}
    miou: Dict[str, Optional[float]] = {}
    peer_miou: Dict[str, Optional[float]] = {}
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
        peers = peer_entries(size, config, skipped, log, level)
        if index == 0 and config.miou_frames >= 0:
            pairs = camvid.spread_pairs(config.data_dir, "val", config.miou_frames)
            log(f"mIoU on {len(pairs)} CamVid val frames at {size[0]}x{size[1]}")
            for entry in entries:
                miou[entry.label] = measure_miou(entry, pairs, log)
            for entry in peers:
                peer_miou[entry.label] = measure_miou(entry, pairs, log)
        entries += peers
        entries_at[tuple(size)] = {entry.label: entry for entry in entries}
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
        compiled = {"size": list(size), "rows": rows, "ranking": rank_rows(rows, size)}
    machine = bench.machine_info()  # after the runs: versions of what was imported (TensorFlow) are known
    machine["cpu_flags_of_note"] = list(capped_flags(cpu_flags_of_note(), level))
    native = native_level(bench.cpuinfo().get("flags", []))
    document = {
        "schema": SCHEMA,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine,
        "openvino_cpu_capabilities": list(caps),
        "config": config_to_dict(config),
        "cpu_kind": None if level is None else {"kind": level.name, "title": level.title,
                                                "onednn_cap": level.onednn_cap, "emulated": True},
        "measurement": measurement(level and level.name, level and level.title,
                                   os.environ.get(ISA_CAP_VARIABLE, "").strip(), native and native.name,
                                   str(machine.get("cpu_model", "?"))),
        "baseline": BASELINE,
        "variants": [dataclasses.asdict(v) for v in variants],
        "peers": [{"name": p.name, "title": p.title, "converter": p.converter,
                   "realization": p.resolved_realization().name} for p in PEERS if p.name in config.peers],
        "peer_miou": peer_miou,
        "skipped": skipped,
        "miou": miou,
        "miou_frames": None if config.miou_frames < 0 else (config.miou_frames or "all"),
        "weights_val_trained_on": bool(weights_meta(config).get("val_trained_on")),
        "int8_at_scaling_sizes": SCALING_INT8,
        "runs": runs,
        "myriad_compile": compiled,
    }
    derive(document)
    rec = document["recommendation"]
    counted = {size: by_label[rec["variant"]] for size, by_label in entries_at.items()
               if rec and rec["variant"] in by_label and by_label[rec["variant"]].backend == OPENVINO_BACKEND}
    document["limits"] = limits_of(counted, config, log, level) if config.limits else []
    if level is None and config.cpu_kinds:
        document["cpu_kinds"] = run_kinds(config, bench.cpuinfo().get("flags", []), log)
    document["seconds"] = round(time.perf_counter() - started, 1)
    return document
