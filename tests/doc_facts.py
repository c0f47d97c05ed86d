"""What README.md and docs/*.md may state, checked against where each fact lives (tests/test_docs.py).

- **Generated blocks**: ``<!-- generated: NAME -->`` ... ``<!-- end generated: NAME -->`` hold text rendered by
  :data:`RENDERERS` from its source (the latest ``benchmarks/results/*.json``, the weights card, the I/O spec the
  export writes into every manifest). ``python tests/doc_facts.py --write`` (``make docs``) renders them again;
  the test fails while a block differs from its rendering.
- **Measured figures** outside generated blocks (``66.41%``, ``11.5 ms``, ``297 MiB``, ``1.90x``, ``348 stages``,
  ``20 FPS``, ``1139 tests``) must name their source file in the same paragraph (or, for a table, in the paragraph
  just before it), and a number of that file must round to the figure (as is, or times 100 for a fraction).
  Goals and limits (``goal 0.5x``, ``<= 300 MiB``, ``at most 150 stages``) are not measurements.
- **Shapes** with the export's default size (``(1,12,360,480)``) may appear only as the generated ``io`` block
  writes them.

Dated pages under ``benchmarks/results/`` are sources, never checked: past figures live there.
"""

from __future__ import annotations

import functools
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Tuple

REPO = Path(__file__).resolve().parents[1]
DOCS = (REPO / "README.md",) + tuple(sorted((REPO / "docs").glob("*.md"))) + (REPO / "benchmarks" / "README.md",)
RESULTS = REPO / "benchmarks" / "results"
WEIGHTS_CARD = REPO / "weights" / "enet_camvid.json"

BLOCK = re.compile(r"<!-- generated: (?P<name>[\w-]+) -->\n(?P<body>.*?)<!-- end generated: (?P=name) -->\n",
                   re.DOTALL)
FIGURE = re.compile(r"(?<![\w.,/-])(?P<num>\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)"
                    r"(?:\s?(?P<unit>%|ms\b|MiB\b|GMAC\b|FPS\b|(?:executed )?stages\b|tests\b|passed\b)|(?P<x>[×x])(?![\w×]))")
NOT_MEASURED = re.compile(r"(goal|target|limit|threshold|promise|≤|≥|<=|>=|at most|at least|under|within|up to|"
                          r"beyond|moonshot|more than|less than|over|above|below)\W*(\w+\W+){0,3}$", re.IGNORECASE)
SOURCE = re.compile(r"(?:\.\./)*((?:benchmarks/results|runs|weights)/[\w./+-]+\.(?:md|json|csv))")
SHAPE = re.compile(r"\(1, ?\d+, ?\d+(?:, ?\d+)?\)|1×\d+×\d+(?:×\d+)?")


def _whole_run(doc: dict) -> bool:
    return bool(doc.get("recommendation")) and bool(doc.get("peer_goals"))


def latest_results(needs: Callable[[dict], bool] = _whole_run) -> Path:
    """The newest ``make bench`` document (benchmarks/results/<date>-<cpu>.json, the latest date, then name) that
    ``needs`` accepts: by default a whole run (a recommendation and its peers), not a compile-table-only run."""
    files = sorted(RESULTS.glob("20??-??-??-*.json"), key=lambda p: (p.name[:10], p.name))
    return [p for p in files if needs(json.loads(p.read_text()))][-1]


def _compiled(doc: dict) -> bool:
    return bool((doc.get("myriad_compile") or {}).get("rows"))


def _ranked(doc: dict) -> bool:
    return bool((doc.get("myriad_compile") or {}).get("ranking", {}).get("by_throughput"))


def _host_share(doc: dict) -> bool:
    """A benchmarks/myriad_host_share.py document."""
    return benchmark_script("myriad_host_share").HOST_LOGITS in (doc.get("steps") or {})


def _rel(path: Path) -> str:
    return str(path.relative_to(REPO))


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


# ---- renderers: name -> (text of the block) ----------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def render_io() -> str:
    """The default export's I/O (``make export``: target ncs2 at its size), from the spec every manifest records."""
    from enet_edge.export.report import artifact_spec
    from enet_edge.export.targets import ARTIFACT_FILES, load_target

    target = load_target("ncs2")
    config = target.model_config()
    lines = [f"I/O of `build/ncs2/` as `make export` writes it (target `ncs2`, {config.height}x{config.width}; "
             "the same as its `manifest.json` `artifacts.*.inputs/outputs`; source: `artifact_spec` in "
             "`enet_edge/export/report.py`):", "",
             "| file | input | output |", "|---|---|---|"]

    def tensor(t: dict) -> str:
        return f"`{t['name']}` ({','.join(map(str, t['shape']))}) {t['dtype']} {t['layout']}"

    kinds = [k for k in ("tensorflow", "onnx", "openvino_ir") if k in target.artifacts]
    for kind in kinds:
        spec = artifact_spec(kind, config, target.class_map)
        (inp,), (out,) = spec["inputs"], spec["outputs"]
        files = f"`{ARTIFACT_FILES[kind]}`" + (" / `.bin`" if kind == "openvino_ir" else "")
        lines.append(f"| {files} | {tensor(inp)}, {inp['color']} {inp['range'][0]}..{inp['range'][1]} | "
                     f"{tensor(out)}: {out['note']} |")
    spec = artifact_spec("openvino_ir", config, "int32")
    lines += ["", f"With `--class-map int32` the ONNX and the IR end in the arg-max: output "
                  f"{tensor(spec['outputs'][0])} ({spec['outputs'][0]['note']})."]
    return "\n".join(lines) + "\n"


def _row(doc: dict, variant: str, size=(360, 480), mode="latency") -> dict:
    for run in doc["runs"]:
        if tuple(run["size"]) == tuple(size) and run["mode"] == mode:
            for result in run["results"]:
                if result["entry"] == variant:
                    return result
    raise KeyError(f"{variant} at {size} {mode}")


@functools.lru_cache(maxsize=None)
def render_results() -> str:
    """README's one results table: the latest ``make bench`` page and the weights card."""
    path = latest_results()
    doc = json.loads(path.read_text())
    card = json.loads(WEIGHTS_CARD.read_text())
    machine = doc["machine"]
    rec = doc["recommendation"]
    md = path.with_suffix(".md")
    lines = [f"Measured {doc['created'][:10]} by `make bench` on {machine['cpu_model']}, "
             f"{machine['logical_cores']} logical cores (source: [{_rel(md)}]({_rel(md)}), "
             f"[{_rel(WEIGHTS_CARD)}]({_rel(WEIGHTS_CARD)})); other machines differ: run `make bench` on yours.", "",
             "| what | figure |", "|---|---|",
             f"| shipped weights, held-out estimate (CamVid val mIoU of the train-only twin, "
             f"`{card['held_out']['run']}`) | {_pct(card['held_out']['val_miou'])} |",
             f"| shipped weights on CamVid val, which they trained on ({card['trained_on']}): a parity check of the "
             f"exports, not a score | {_pct(card['val_miou'])} |",
             f"| variant `make bench` recommends on this CPU | `{rec['variant']}`: "
             f"{rec['e2e_median_ms']:.2f} ms end to end at {rec['size'][0]}x{rec['size'][1]}, "
             f"mIoU {_pct(rec['miou'])} |"]
    for name in ("ov-fp32", "ov-int8", "ov-ncs2-fp16ir"):
        if name in doc["miou"]:
            r = _row(doc, name)
            lines.append(f"| `{name}` latency median at 360x480 | {r['latency_ms']['median']:.2f} ms |")
    for goal in doc.get("peer_goals", []):
        if tuple(goal["size"]) == (360, 480):
            lines.append(f"| `{goal['variant']}` vs `{goal['peer']}` end to end (360x480) | {goal['value']:.2f}x |")
    ranked = latest_results(_ranked)  # the newest compile table, which may be a compile-table-only run
    compiled = next(r for r in json.loads(ranked.read_text())["myriad_compile"]["rows"] if r["variant"] == "ncs2")
    predicted, stages = compiled["predicted"], compiled["stages"]
    lines.append(f"| ncs2 export on a stick, predicted by the MYRIAD X time model (360x480; source: "
                 f"[{_rel(ranked.with_suffix('.md'))}]({_rel(ranked.with_suffix('.md'))})) | "
                 f"{predicted['throughput_fps']:.1f} FPS throughput, {predicted['sync_ms']['usb3']:.1f} ms sync over "
                 f"USB 3; {stages['executed']} stages ({stages['NCE']} NCE, {stages['SHAVE']} SHAVE, "
                 f"{stages['DMA']} DMA) |")
    return "\n".join(lines) + "\n"


@functools.lru_cache(maxsize=None)
def render_compile_table() -> str:
    """docs/ncs2.md's MYRIAD X compile table: every row of the latest ``make bench`` compile table."""
    path = latest_results(_compiled)
    doc = json.loads(path.read_text())
    table = doc["myriad_compile"]
    h, w = table["size"]
    md = path.with_suffix(".md")
    lines = [f"The MYRIAD X compile table of the latest `make bench` ({doc['created'][:10]}, source: "
             f"[{_rel(md)}](../{_rel(md)})), {h}x{w}, u8 frame in:", "",
             "| variant | what | output | executed | NCE | SHAVE | DMA | non-NCE MiB/frame |",
             "|---|---|---|---|---|---|---|---|"]
    for r in table["rows"]:
        if r.get("verdict") != "compiled":
            lines.append(f"| `{r['variant']}` | {r['title']} | {r.get('output', '')} | {r.get('verdict')} | | | | |")
            continue
        s, t = r["stages"], r["traffic_mib"]
        lines.append(f"| `{r['variant']}` | {r['title']} | {r['output']} | {s['executed']} | {s['NCE']} | "
                     f"{s['SHAVE']} | {s['DMA']} | {t['non_nce']:.0f} |")
    return "\n".join(lines) + "\n"


@functools.lru_cache(maxsize=None)
def render_compile_traffic() -> str:
    """docs/ncs2.md: where the ncs2 row's non-NCE traffic goes, by stage type (MiB per frame, largest first)."""
    path = latest_results(_compiled)
    row = next(r for r in json.loads(path.read_text())["myriad_compile"]["rows"] if r["variant"] == "ncs2")
    lines = [f"(source: [{_rel(path)}](../{_rel(path)}), `myriad_compile`, row `ncs2`)", "",
             "| stage type | MiB/frame |", "|---|---|"]
    lines += [f"| {name} | {mib:.1f} |" for name, mib in sorted(row["traffic_by_type_mib"].items(),
                                                                 key=lambda kv: -kv[1])]
    lines.append(f"| all non-NCE | {row['traffic_mib']['non_nce']:.1f} |")
    return "\n".join(lines) + "\n"


@functools.lru_cache(maxsize=None)
def render_backends() -> str:
    """The backend table of bench, eval and demo (``--backend``): ``TABLE`` in enet_edge/runtime/backends.py."""
    from enet_edge.runtime.backends import TABLE

    lines = ["`--backend` (source: `TABLE` in `enet_edge/runtime/backends.py`; default: by the model's file type, an "
             "export directory runs its OpenVINO IR first):", "",
             "| `--backend` | reads | devices | precisions | needs TensorFlow | note |", "|---|---|---|---|---|---|"]
    for b in TABLE:
        devices = "any OpenVINO device (`-d`)" if b.devices is None else ", ".join(b.devices)
        lines.append(f"| `{b.name}` | {b.reads} ({', '.join(f'`{x}`' for x in b.suffixes)}) | {devices} | "
                     f"{', '.join(b.precisions)} | {'yes' if b.needs_tensorflow else 'no'} | {b.note} |")
    return "\n".join(lines) + "\n"


@functools.lru_cache(maxsize=None)
def benchmark_script(name: str):
    """``benchmarks/NAME.py`` imported by path, once (benchmarks/ is no package): myriad_loo (the MYRIAD X time
    model's tables), myriad_host_share (its step names)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _myriad_loo():
    return benchmark_script("myriad_loo")


@functools.lru_cache(maxsize=None)
def render_myriad_loo() -> str:
    """The MYRIAD X time model's leave-one-out table (benchmarks/myriad_loo.py, from the committed CSV and TOML)."""
    return _myriad_loo().render_loo_table()


@functools.lru_cache(maxsize=None)
def render_myriad_params() -> str:
    """The MYRIAD X time model's stored parameters (enet_edge/data/myriad_time_model.toml)."""
    return _myriad_loo().render_parameters()


@functools.lru_cache(maxsize=None)
def render_compile_ranking() -> str:
    """docs/ncs2.md: the compile table's rows ranked by the MYRIAD X time model's predicted throughput, where the
    shipped graph's time goes, and how far the choice between it and the first-ranked graph rests on ``shave_gmacs``
    (an assumed parameter)."""
    path = latest_results(_ranked)
    doc = json.loads(path.read_text())
    table = doc["myriad_compile"]
    ranking, rows = table["ranking"], {r["variant"]: r for r in table["rows"]}
    h, w = ranking["size"]
    lines = [f"Ranked by the time model's prediction ({doc['created'][:10]}, source: [{_rel(path)}](../{_rel(path)}), "
             f"`myriad_compile.ranking`; {h}x{w}, u8 in):", "",
             "| rank | variant | predicted FPS (throughput) | predicted ms (sync, USB 3) | predicted ms (sync, USB 2) |",
             "|---|---|---:|---:|---:|"]
    for rank, e in enumerate(ranking["by_throughput"], 1):
        p = rows[e["variant"]]["predicted"]
        lines.append(f"| {rank} | `{e['variant']}` | {p['throughput_fps']:.1f} | {p['sync_ms']['usb3']:.1f} | "
                     f"{p['sync_ms']['usb2']:.1f} |")
    for e in ranking.get("other_sizes", []):
        p = rows[e["variant"]]["predicted"]
        lines.append(f"| (at {e['size'][0]}x{e['size'][1]}) | `{e['variant']}` | {p['throughput_fps']:.1f} | "
                     f"{p['sync_ms']['usb3']:.1f} | {p['sync_ms']['usb2']:.1f} |")
    shipped = rows["ncs2"]["predicted"]
    lines += ["", f"Where the shipped graph's (`ncs2`) predicted {shipped['compute_ms']:.1f} ms of stick compute go:", "",
              "| stage type | stages | predicted ms |", "|---|---:|---:|"]
    lines += [f"| {t['type']} | {t['count']} | {t['ms']:.1f} |" for t in shipped["top_stage_types"]]
    first = ranking["fastest_exact"]
    from enet_edge.export.myriad.timemodel import load_time_model  # the model of this page's predictions

    g = load_time_model().shave_gmacs

    def shave_conv(row):
        return next((t for t in row["predicted"]["top_stage_types"] if t["type"] == "SHAVE Conv"), None)

    def break_even(more, fewer) -> float:
        """shave_gmacs (GMAC/s) at and above which ``more`` (more SHAVE convolution time at ``g``) computes faster than
        ``fewer``: both rows' SHAVE convolutions scale as g / shave_gmacs, the rest of their time stays."""
        c_more, c_fewer = (shave_conv(r)["ms"] if shave_conv(r) else 0.0 for r in (more, fewer))
        rest_more = more["predicted"]["compute_ms"] - c_more
        rest_fewer = fewer["predicted"]["compute_ms"] - c_fewer
        return (c_more - c_fewer) * g / (rest_fewer - rest_more) if rest_fewer > rest_more else float("inf")

    if first and first != "ncs2" and shave_conv(rows["ncs2"]):
        conv = shave_conv(rows["ncs2"])
        lines += ["", f"The first-ranked exact graph is `{first}`, not the shipped `ncs2`. The shipped graph's "
                      f"{conv['count']} SHAVE convolutions (its dilated ones) take {conv['ms']:.1f} ms at the assumed "
                      f"`shave_gmacs` = {g:g} GMAC/s; at {break_even(rows['ncs2'], rows[first]):.1f} GMAC/s or more the "
                      "shipped graph is the faster one."]
    elif first == "ncs2" and "no-hw-dilation" in rows and shave_conv(rows["no-hw-dilation"]):
        rival = rows["no-hw-dilation"]
        conv, rank = shave_conv(rival), 1 + [e["variant"] for e in ranking["by_throughput"]].index("no-hw-dilation")
        lines += ["", f"The shipped `ncs2` ranks first. The compiler's default, `no-hw-dilation` (rank {rank}), runs the "
                      f"{conv['count']} dilated convolutions on SHAVEs: {conv['ms']:.1f} ms at the assumed `shave_gmacs` "
                      f"= {g:g} GMAC/s. It would be the faster graph only if SHAVEs convolve at "
                      f"{break_even(rival, rows['ncs2']):.1f} GMAC/s or more: the choice rests on that one assumed "
                      "parameter, which the two `bench -d MYRIAD` lines asked for below settle."]
    return "\n".join(lines) + "\n"


def render_host_share() -> str:
    """docs/ncs2.md: a synchronous frame with the host's part, the shipped logits against the class map: the stick's
    predicted sync time (the ranked compile table) plus the host's measured work on what the stick sends back
    (benchmarks/myriad_host_share.py)."""
    share_path, rank_path = latest_results(_host_share), latest_results(_ranked)
    share, table = json.loads(share_path.read_text()), json.loads(rank_path.read_text())["myriad_compile"]
    rows, steps = {r["variant"]: r for r in table["rows"]}, share["steps"]
    m = share["machine"]
    lines = [f"A synchronous frame: the stick's predicted time (source: [{_rel(rank_path)}](../{_rel(rank_path)})) "
             f"plus the host's measured work on what the stick sends back (source: [{_rel(share_path)}]"
             f"(../{_rel(share_path)}): {m.get('cpu_model')}, {m.get('logical_cores')} logical cores, "
             f"{share['created'][:10]}), per {share['size'][0]}x{share['size'][1]} frame:", "",
             "| stick output | variant | stick ms (USB 3) | stick ms (USB 2) | host ms | frame ms (USB 3) | "
             "frame ms (USB 2) |", "|---|---|---:|---:|---:|---:|---:|"]
    names = benchmark_script("myriad_host_share")
    for label, variant, step in (("f16 logits", "ncs2", names.HOST_LOGITS),
                                 ("int32 class map", "class-map", names.HOST_CLASS_MAP)):
        sync, host = rows[variant]["predicted"]["sync_ms"], steps[step]["median_ms"]
        lines.append(f"| {label} | `{variant}` | {sync['usb3']:.1f} | {sync['usb2']:.1f} | {host:.1f} | "
                     f"{sync['usb3'] + host:.1f} | {sync['usb2'] + host:.1f} |")
    widen, ours = steps[names.WIDEN]["median_ms"], steps[names.ARGMAX]["median_ms"]
    lines += ["", f"The logits' host part is the widening copy of the stick's f16 ({widen:.1f} ms) and the arg-max "
                  f"({ours:.1f} ms with `ChannelArgMax`; numpy's `np.argmax` of the same logits took "
                  f"{steps[names.NP_ARGMAX]['median_ms']:.1f} ms, same ids)."]
    return "\n".join(lines) + "\n"


RENDERERS: Dict[str, Callable[[], str]] = {
    "host-share": render_host_share,
    "compile-ranking": render_compile_ranking,
    "myriad-loo": render_myriad_loo,
    "myriad-params": render_myriad_params,
    "backends": render_backends,
    "compile-traffic": render_compile_traffic,
    "io": render_io,
    "results": render_results,
    "compile-table": render_compile_table,
}


def blocks(text: str) -> Iterator[Tuple[str, str, Tuple[int, int]]]:
    for m in BLOCK.finditer(text):
        yield m.group("name"), m.group("body"), m.span()


def regenerate(text: str) -> str:
    """``text`` with every generated block rendered again."""
    return BLOCK.sub(lambda m: f"<!-- generated: {m.group('name')} -->\n{RENDERERS[m.group('name')]()}"
                               f"<!-- end generated: {m.group('name')} -->\n", text)


# ---- figures ------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Figure:
    doc: str
    line: int
    text: str
    value: float
    decimals: int
    unit: str


def _strip_generated(text: str) -> str:
    return BLOCK.sub(lambda m: "\n" * m.group(0).count("\n"), text)


def _strip_code(text: str) -> str:
    """Fenced code blocks and inline code blanked (commands, literals and sample output are checked elsewhere, or
    are not claims); line numbers kept."""
    return re.sub(r"```.*?```", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.DOTALL)


def paragraphs(text: str) -> Iterator[Tuple[int, str, str]]:
    """(first line number, paragraph, context): context is the paragraph itself, or for a table the paragraph
    before it too (its caption)."""
    previous = ""
    start, buf = 1, []
    for number, line in enumerate(text.splitlines() + [""], 1):
        if line.strip():
            if not buf:
                start = number
            buf.append(line)
            continue
        if buf:
            para = "\n".join(buf)
            is_table = buf[0].lstrip().startswith("|")
            yield start, para, (previous + "\n" + para) if is_table else para
            previous = para
            buf = []


def figures(path: Path) -> Iterator[Tuple[Figure, str]]:
    """Every measured figure of ``path`` outside generated and code blocks, with its paragraph's context."""
    text = _strip_code(_strip_generated(path.read_text()))
    for start, para, context in paragraphs(text):
        flat = re.sub(r"`[^`]+`", lambda c: re.sub(r"[^\n]", " ", c.group(0)), para)  # literals, not claims
        for m in FIGURE.finditer(flat):
            if NOT_MEASURED.search(flat[: m.start()].replace("\n", " ")):
                continue
            num = m.group("num").replace(",", "")
            decimals = len(num.split(".")[1]) if "." in num else 0
            line = start + flat[: m.start()].count("\n")
            fig = Figure(_rel(path), line, m.group(0), float(num), decimals, m.group("unit") or "x")
            yield fig, context


def source_numbers(path: Path) -> List[float]:
    """Every number of a source file: as written, and with thousands separators (372,859) read as one number."""
    text = path.read_text()
    number = r"-?\d+(?:\.\d+)?(?:[eE]-?\d+)?"
    grouped = re.sub(r"(?<=\d),(?=\d{3}(?!\d))", "", text)
    return sorted({float(n) for t in (text, grouped) for n in re.findall(number, t)})


def sources(context: str) -> List[Path]:
    found = []
    for rel in SOURCE.findall(context):
        path = REPO / rel
        if path.is_file() and path not in found:
            found.append(path)
    return found


def matches(fig: Figure, numbers: List[float]) -> bool:
    tolerance = 0.5 * 10 ** -fig.decimals + 1e-9
    return any(abs(v - fig.value) <= tolerance or abs(100 * v - fig.value) <= tolerance for v in numbers)


def figure_problems(path: Path) -> List[str]:
    """One line per measured figure of ``path`` that names no source or that its sources do not hold."""
    problems = []
    cache: Dict[Path, List[float]] = {}
    for fig, context in figures(path):
        found = sources(context)
        if not found:
            problems.append(f"{fig.doc}:{fig.line}: {fig.text!r} names no source file in its paragraph "
                            "(a benchmarks/results, runs or weights file), and is not in a generated block")
            continue
        if not any(matches(fig, cache.setdefault(s, source_numbers(s))) for s in found):
            problems.append(f"{fig.doc}:{fig.line}: {fig.text!r} is not in {', '.join(_rel(s) for s in found)}")
    return problems


def shape_problems(path: Path) -> List[str]:
    """Outside code blocks, a shape with the export's default size may be quoted only as the generated ``io`` block
    states it, and a logits shape (its 12 classes) only inside that block: where a page needs the I/O, it includes
    the block."""
    text = _strip_code(path.read_text())
    io = render_io()
    allowed = {s.replace(" ", "").replace("×", ",") for s in SHAPE.findall(io)}
    problems = []
    for number, line in enumerate(_strip_generated(text).splitlines(), 1):
        for shape in SHAPE.findall(line):
            norm = shape.replace(" ", "").replace("×", ",")
            if "360" not in norm:
                continue
            if norm not in allowed or ",12," in norm or norm.endswith(",12)"):
                problems.append(f"{_rel(path)}:{number}: shape {shape}: quote the export's I/O with the generated io "
                                "block (<!-- generated: io -->), whose source is the manifest's I/O spec")
    return problems


def main(argv: List[str]) -> int:
    if argv[1:] != ["--write"]:
        print("usage: python tests/doc_facts.py --write   (renders every generated block of README.md and docs/)")
        return 2
    for path in DOCS:
        if path.is_file():
            text = path.read_text()
            new = regenerate(text)
            if new != text:
                path.write_text(new)
                print(f"rewrote {_rel(path)}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main(sys.argv))
