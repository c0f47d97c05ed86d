"""The MYRIAD X compile table of ``make bench``: the ncs2 graph in each realization, ONNX rewrite set, output and
compiler option, compiled by the stick's own compiler (:mod:`enet_edge.export.myriad.compiler`, no stick needed).

Each row is one :class:`CompileVariant` of the ncs2 target: its ONNX is made by the export's own freeze and onnx
stages (so it is what ``make export`` would write with that change), then compiled as the export compiles it, with
the I/O the runner asks (:func:`~enet_edge.export.myriad.runner_io.compile_for_runner`). A row reports the
compiler's verdict, executed stages by category (NCE / SHAVE / DMA, injected and special apart), the per-frame
traffic of the non-NCE stages (MiB, from the compiler's dump) and memory (BSS, CMX, blob). A variant the compiler
refuses is a row that says so and names the layer, never a gap.

The ONNX of a variant is kept under ``work_dir/<variant>/`` with the key it was made from (realization, rewrites,
output, size, weights' sha256) and reused while that key holds; a variant that differs only in compiler options
compiles the ONNX of the first variant with its key. The weights are read once per table.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from enet_edge.errors import ConfigError
from enet_edge.export.myriad.compiler import summary_line
from enet_edge.export.myriad.runner_io import compile_for_runner, runner_precisions
from enet_edge.export.targets import TargetSpec


@dataclass(frozen=True)
class CompileVariant:
    """One change to the ncs2 target whose compiled graph the table shows (all defaults: the target as is).

    ``realization``: ``(field, choice)`` pairs of :class:`enet_edge.model.config.Realization`; ``rewrites``: the
    ONNX rewrites in order (None: the target's); ``without``: rewrites left out of the target's own (each must be one
    of them; not with ``rewrites``); ``options``: MYRIAD plugin config ``(key, value)`` pairs for the
    compile; ``class_map``: the output (``int32`` class ids; None: the target's); ``logits``: the element type the
    logits are asked for (None: what enet-edge's runner asks the device for, f16 on MYRIAD); ``size``: (height,
    width) of the input, a size a user may ask (``enet-edge export --height .. --width ..``; None: the table's);
    ``exact``: the graph computes the ncs2 export's class map for every frame (every rewrite and realization here
    is the same arithmetic; False: an approximation, never the one :func:`rank_rows` names to ship)."""

    name: str
    title: str
    realization: Tuple[Tuple[str, str], ...] = ()
    rewrites: Optional[Tuple[str, ...]] = None
    without: Tuple[str, ...] = ()
    options: Tuple[Tuple[str, str], ...] = ()
    class_map: Optional[str] = None
    logits: Optional[str] = None
    size: Optional[Tuple[int, int]] = None
    exact: bool = True

    def __post_init__(self) -> None:
        if not self.name or "/" in self.name or self.name.startswith("."):
            raise ConfigError(f"compile variant name {self.name!r} must be a plain directory name")
        if self.without and self.rewrites is not None:
            raise ConfigError(f"compile variant {self.name}: give the rewrites or those left out (without), not both")
        if self.logits not in (None, "f32", "f16"):
            raise ConfigError(f"compile variant {self.name}: logits={self.logits!r} must be f32 or f16")
        if self.size is not None and (len(self.size) != 2 or not all(isinstance(n, int) and n > 0 for n in self.size)):
            raise ConfigError(f"compile variant {self.name}: size={self.size!r} must be (height, width), positive")

    def target_for(self, base: TargetSpec) -> TargetSpec:
        """``base`` with this variant's changes (checked as a target is: an unknown choice is a ConfigError)."""
        changes = {"realization": dataclasses.replace(base.realization, **dict(self.realization)),
                   "myriad_compiler": {**base.myriad_compiler, **dict(self.options)}}
        if self.rewrites is not None:
            changes["onnx_rewrites"] = tuple(self.rewrites)
        if self.without:
            unknown = sorted(set(self.without) - set(base.onnx_rewrites))
            if unknown:
                raise ConfigError(f"compile variant {self.name}: target {base.name} has no rewrite "
                                  f"{', '.join(unknown)} to leave out; it has {', '.join(base.onnx_rewrites)}")
            changes["onnx_rewrites"] = tuple(r for r in base.onnx_rewrites if r not in self.without)
        if self.class_map is not None:
            changes["class_map"] = self.class_map
        return dataclasses.replace(base, **changes)


COMPILE_VARIANTS: Tuple[CompileVariant, ...] = (
    CompileVariant("ncs2", "ncs2 as `make export` writes it"),
    CompileVariant("tf2onnx", "ONNX as tf2onnx writes it (no rewrites)", rewrites=()),
    CompileVariant("prelu", "rewrites: prelu", rewrites=("prelu",)),
    CompileVariant("interleave", "+ interleave_transpose", rewrites=("prelu", "interleave_transpose")),
    CompileVariant("interleave-fold", "+ interleave_fold",
                   rewrites=("prelu", "interleave_transpose", "interleave_fold")),
    CompileVariant("unpool-broadcast", "+ unpool_broadcast",
                   rewrites=("prelu", "interleave_transpose", "interleave_fold", "unpool_broadcast")),
    CompileVariant("prelu-split", "ncs2 + prelu_split",
                   rewrites=("prelu", "prelu_split", "interleave_transpose", "interleave_fold", "unpool_broadcast",
                             "phase_split")),
    CompileVariant("no-interleave-fold", "ncs2 without interleave_fold", without=("interleave_fold",)),
    CompileVariant("no-unpool-broadcast", "ncs2 without unpool_broadcast", without=("unpool_broadcast",)),
    CompileVariant("no-interleave", "ncs2 without interleave_transpose (nor interleave_fold, which folds into it)",
                   without=("interleave_transpose", "interleave_fold")),
    CompileVariant("ncs2-before", "the ncs2 graph before the time model chose (prelu_split, MYRIAD_HW_DILATION=NO)",
                   rewrites=("prelu", "prelu_split", "interleave_transpose", "interleave_fold", "unpool_broadcast",
                             "phase_split"), options=(("MYRIAD_HW_DILATION", "NO"),)),
    CompileVariant("f32-logits", "logits asked as f32 (what the stick converts when the application asks f32)",
                   logits="f32"),
    CompileVariant("no-hw-dilation", "option MYRIAD_HW_DILATION=NO (the compiler's default: dilated convolutions "
                   "on SHAVEs)", options=(("MYRIAD_HW_DILATION", "NO"),)),
    CompileVariant("class-map", "output: int32 class map (arg-max on the stick)", class_map="int32"),
    CompileVariant("prelu-relu-only", "realization prelu=relu_only", realization=(("prelu", "relu_only"),)),
    CompileVariant("full-resolution", "realization switches=full_resolution",
                   realization=(("switches", "full_resolution"),)),
    CompileVariant("initial-sum", "realization initial=sum", realization=(("initial", "sum"),)),
    CompileVariant("size-256x352", "input 256x352 (export --height 256 --width 352)", size=(256, 352)),
)
"""The rows of ``make bench``'s compile table: the ncs2 export, the steps that led to it (each rewrite added in turn),
the ncs2 export less one rewrite or plus ``prelu_split``, the graph shipped before the time model, and the other
choices (output precision and type, compiler option, realizations, input size)."""


def code_digest() -> str:
    """sha256 (16 hex digits) of the modules that build the ONNX (enet_edge/model/ and enet_edge/export/, their
    subpackages included): a changed rewrite makes a cached ONNX stale even where its key's names are the same."""
    root = Path(__file__).resolve().parents[2]  # enet_edge/
    digest = hashlib.sha256()
    for path in sorted([*(root / "model").rglob("*.py"), *(root / "export").rglob("*.py")]):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _onnx_for(target: TargetSpec, size: Tuple[int, int], request, loaded, directory: Path,
              made: Dict[str, Path], log: Callable[[str], None]) -> Path:
    """The ONNX ``make export`` would write for ``target`` at ``size``, made (or reused) under ``directory``.

    ``loaded``: :func:`~enet_edge.export.pipeline.load_model_weights` of ``request``, read once per table; ``made``:
    the ONNX of each key this table already holds (a variant that differs only in compiler options reuses it)."""
    from enet_edge.export.pipeline import ExportContext, freeze_stage, onnx_stage

    model_weights, base_config, info = loaded
    key = {"realization": target.realization.name, "rewrites": list(target.onnx_rewrites),
           "class_map": target.class_map, "opset": target.onnx_opset, "size": list(size),
           "weights": info.get("sha256") or f"random seed {info.get('seed')}", "code": code_digest()}
    text = json.dumps(key, sort_keys=True)
    if text in made:
        return made[text]
    onnx_path, key_path = directory / "enet.onnx", directory / "key.json"
    if not (onnx_path.is_file() and key_path.is_file() and json.loads(key_path.read_text()) == key):
        shutil.rmtree(directory, ignore_errors=True)
        tmp = directory.with_name(f".{directory.name}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        ctx = ExportContext(dataclasses.replace(request, target=target, out_dir=directory),
                            target.model_config(base_config, *size), model_weights, info, tmp, log)
        freeze_stage(ctx)
        onnx_stage(ctx)
        (tmp / "key.json").write_text(json.dumps(key, indent=2))
        tmp.replace(directory)
    made[text] = onnx_path
    return onnx_path


def compile_table(base: TargetSpec, size: Tuple[int, int], work_dir: Path, weights: Optional[Path] = None,
                  variants: Sequence[CompileVariant] = COMPILE_VARIANTS,
                  log: Callable[[str], None] = print) -> List[Dict[str, object]]:
    """Compile every variant of ``base`` (the ncs2 target) at ``size`` (height, width); one row each.

    A row: ``variant``, ``title``, ``realization`` (name), ``rewrites``, ``options``, ``output``, and the
    compiler's record (:func:`enet_edge.export.myriad.compiler.compile_model`: ``verdict``, ``stages``, ``traffic_mib``,
    ``memory_bytes``, ... or ``reason``/``layer``)."""
    # TensorFlow, only when a table is made (the bench records the versions of what its runs imported)
    from enet_edge.export.pipeline import ExportRequest, load_model_weights

    request = ExportRequest(target=base, out_dir=Path(work_dir), weights=weights, height=size[0], width=size[1])
    loaded = load_model_weights(request, log)
    made: Dict[str, Path] = {}
    rows = []
    for variant in variants:
        target = variant.target_for(base)
        log(f"compile table: {variant.name} ({variant.title})")
        at = tuple(variant.size or size)
        onnx_path = _onnx_for(target, at, request, loaded, Path(work_dir) / variant.name, made, log=lambda m: None)
        record = compile_for_runner(onnx_path, target, log, logits=variant.logits)
        output = runner_precisions(target.device, target.class_map, logits=variant.logits)[1]  # the row's output
        log(f"  {summary_line(record)}")
        rows.append({"variant": variant.name, "title": variant.title, "realization": target.realization.name,
                     "rewrites": list(target.onnx_rewrites), "options": dict(target.myriad_compiler),
                     "output": output, "size": list(at), "exact": variant.exact, **record})
    return rows


def _predicted(row: Dict[str, object]) -> Optional[Tuple[float, float]]:
    """(throughput FPS, sync ms over USB 3) a compiled row's ``predicted`` holds; None where it has none."""
    predicted = row.get("predicted") if row.get("verdict") == "compiled" else None
    if not isinstance(predicted, dict):
        return None
    fps, sync = predicted.get("throughput_fps"), (predicted.get("sync_ms") or {}).get("usb3")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v == v for v in (fps, sync)):
        return None
    return float(fps), float(sync)


def rank_rows(rows: Sequence[Dict[str, object]], size: Tuple[int, int]) -> Dict[str, object]:
    """The rows at ``size`` (the table's; a row of another input size is a different question and is ranked apart)
    by predicted throughput FPS (highest first) and by predicted sync ms over USB 3 (lowest first), ties to the
    earlier row; ``fastest_exact``: the variant with the highest predicted throughput among the exact ones (ties:
    the lower sync ms), the graph the ncs2 target should ship; None where no row has a prediction.

    ``unranked``: rows at ``size`` without a prediction (refused, not run, or compiled before the time model);
    ``other_sizes``: ``{"variant", "size", "throughput_fps", "sync_ms_usb3"}`` of rows at another input size."""
    at, other, unranked = [], [], []
    for index, row in enumerate(rows):
        figures = _predicted(row)
        same = tuple(row.get("size") or size) == tuple(size)
        if figures is None:
            if same:
                unranked.append(row["variant"])
            continue
        entry = {"variant": row["variant"], "size": list(row.get("size") or size), "throughput_fps": figures[0],
                 "sync_ms_usb3": figures[1], "exact": bool(row.get("exact", True)), "index": index}
        (at if same else other).append(entry)
    by_fps = sorted(at, key=lambda e: (-e["throughput_fps"], e["sync_ms_usb3"], e["index"]))
    by_sync = sorted(at, key=lambda e: (e["sync_ms_usb3"], -e["throughput_fps"], e["index"]))
    exact = [e for e in by_fps if e["exact"]]
    strip = lambda entries: [{k: v for k, v in e.items() if k != "index"} for e in entries]  # noqa: E731
    return {"size": list(size), "by_throughput": strip(by_fps), "by_sync": strip(by_sync),
            "fastest_exact": exact[0]["variant"] if exact else None, "unranked": unranked,
            "other_sizes": strip(other)}


def ranking_lines(ranking: Dict[str, object], rows: Sequence[Dict[str, object]]) -> List[str]:
    """Markdown lines of :func:`rank_rows`: the fastest exact graph, both orders, and the rows not ranked."""
    titles = {row["variant"]: row["title"] for row in rows}
    size = "x".join(str(n) for n in ranking["size"])
    by_fps, by_sync = ranking["by_throughput"], ranking["by_sync"]
    if not by_fps:
        return [f"Ranking by predicted time ({size}): none, no row has a prediction of the MYRIAD X time model."]
    best = ranking["fastest_exact"]
    entry = next((e for e in by_fps if e["variant"] == best), None)
    lines = [f"Ranking by predicted time ({size}, MYRIAD X time model): the fastest exact graph is **{best}** "
             f"({titles.get(best, best)}: {entry['throughput_fps']:.1f} FPS throughput, {entry['sync_ms_usb3']:.1f} "
             "ms sync over USB 3)" + ("; the ncs2 target ships it." if best == COMPILE_VARIANTS[0].name else
                                      "; the ncs2 target should ship it.") if entry else
             f"Ranking by predicted time ({size}, MYRIAD X time model): no exact graph has a prediction.", ""]
    if by_sync and by_sync[0]["variant"] != (by_fps[0]["variant"]):
        lines += [f"The lowest sync latency is another row: {by_sync[0]['variant']} "
                  f"({by_sync[0]['sync_ms_usb3']:.1f} ms over USB 3).", ""]
    lines += ["| rank | by throughput | FPS | by sync latency | ms (USB 3) |", "|---:|---|---:|---|---:|"]
    for i, (f, y) in enumerate(zip(by_fps, by_sync), 1):
        mark = lambda e: e["variant"] + ("" if e["exact"] else " (not exact)")  # noqa: E731
        lines.append(f"| {i} | {mark(f)} | {f['throughput_fps']:.1f} | {mark(y)} | {y['sync_ms_usb3']:.1f} |")
    notes = [f"- {e['variant']} at {e['size'][0]}x{e['size'][1]} (another input size, ranked apart): "
             f"{e['throughput_fps']:.1f} FPS, {e['sync_ms_usb3']:.1f} ms sync over USB 3" for e in ranking["other_sizes"]]
    if ranking["unranked"]:
        notes.append(f"- no prediction: {', '.join(ranking['unranked'])}")
    return lines + ([""] + notes if notes else [])


GOAL_FPS = 20.0
"""The goal of the ncs2 export at 360x480 (issue 37): at least this many frames per second in throughput mode, as the
MYRIAD X time model predicts, and the fastest exact graph of the compile table. The stage counts and the non-NCE
traffic that stood in for the stick's time before (issue 29: <= 150 SHAVE stages, <= 300 MiB) are shown, not goals:
the time model weighs them (the ncs2 graph with MYRIAD_HW_DILATION has more traffic and less time)."""


def goal_line(row: Dict[str, object], ranking: Optional[Dict[str, object]] = None) -> str:
    """Whether a compiled row meets the goal (:data:`GOAL_FPS`; with ``ranking``, :func:`rank_rows` of its table,
    also whether it is the fastest exact graph), with the figures and the proxies beside them."""
    if row.get("verdict") != "compiled":
        return f"goal: not measured ({row.get('verdict')})"
    figures = _predicted(row)
    proxies = (f" (proxies, not goals: {row['stages']['SHAVE']} SHAVE stages, "
               f"{row['traffic_mib']['non_nce']:.0f} non-NCE MiB)")
    if figures is None:
        return "goal: not measured (no prediction of the MYRIAD X time model)" + proxies
    parts = [f"predicted {figures[0]:.1f} FPS >= {GOAL_FPS:.0f}: {'met' if figures[0] >= GOAL_FPS else 'NOT met'}"]
    if ranking is not None and ranking.get("fastest_exact") is not None:
        best = ranking["fastest_exact"]
        parts.append("the fastest exact graph of the table: "
                     + ("met" if best == row["variant"] else f"NOT met ({best} is)"))
    return "goal: " + "; ".join(parts) + proxies


def _cell(row: Dict[str, object], *path: str) -> str:
    value: object = row
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    if value is None:
        return "–"
    return f"{value:.0f}" if isinstance(value, float) else str(value)


def render_compile_table(rows: Sequence[Dict[str, object]], size: Tuple[int, int]) -> str:
    """Markdown: one line per row (stages by category, non-NCE traffic per frame, memory); refusals and rows that
    did not run say why below the table."""
    lines = [f"Per {size[0]}x{size[1]} frame (a row of another input size says so), from the MYRIAD X compiler's "
             "own dump (OpenVINO 2021.4.2, VPU_MYRIAD_2480). Executed stages run one after another; injected ones run "
             "in an NCE stage's shadow, special ones never run. Traffic: MiB read and written by the SHAVE, DMA and "
             "injected stages. Predicted: the MYRIAD X time model's sync ms per frame over USB 3 and throughput FPS "
             "(– where a row has no prediction).", "",
             "| variant | verdict | predicted sync ms (USB 3) | predicted FPS | executed | NCE | SHAVE | DMA "
             "| injected | special | non-NCE MiB | NCE MiB | blob KiB | BSS KiB | CMX KiB |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    notes = []
    for row in rows:
        memory = row.get("memory_bytes") or {}
        kib = {k: (f"{memory[k] / 1024:.0f}" if k in memory else "–") for k in ("blob", "BSS", "CMX")}
        figures = _predicted(row)
        predicted = f"{figures[1]:.1f} | {figures[0]:.1f}" if figures else "– | –"
        lines.append(f"| {row['title']} | {row['verdict']} | {predicted} | {_cell(row, 'stages', 'executed')} "
                     f"| {_cell(row, 'stages', 'NCE')} | {_cell(row, 'stages', 'SHAVE')} | {_cell(row, 'stages', 'DMA')} "
                     f"| {_cell(row, 'stages', 'injected')} | {_cell(row, 'stages', 'special')} "
                     f"| {_cell(row, 'traffic_mib', 'non_nce')} | {_cell(row, 'traffic_mib', 'NCE')} "
                     f"| {kib['blob']} | {kib['BSS']} | {kib['CMX']} |")
        if row["verdict"] != "compiled":
            layer = f" at layer `{row['layer']}`" if row.get("layer") else ""
            notes.append(f"- {row['title']}: {row['verdict']}{layer}: {row.get('reason', '')}")
    ranked = rank_rows(rows, size)
    first = next((row for row in rows if row["variant"] == COMPILE_VARIANTS[0].name), None)
    if first is not None:
        notes.insert(0, f"- {first['title']}, {goal_line(first, ranked)}")
    return "\n".join(lines + ([""] + notes if notes else []) + [""] + ranking_lines(ranked, rows))
