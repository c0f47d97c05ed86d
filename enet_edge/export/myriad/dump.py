"""Reading the MYRIAD X compiler's graph dump (``MYRIAD_DUMP_INTERNAL_GRAPH_FILE_NAME``, Graphviz dot): its stages,
their tensors and MACs, and the manifest's numbers of it. Pure Python; :mod:`enet_edge.export.myriad.compiler`
re-exports these names (it runs the compiler), :mod:`enet_edge.export.myriad.timemodel` prices the stages.

How the dump is counted (vpu ``StageNode::category()``): each stage label starts ``[exec_index / id]``; index -1
marks a *special* stage (StubConcat, Split, Reshape, Expand: buffer views, never run). The others run one after
another: ``MyriadXHwOp`` on the NCE, ``Copy`` on DMA, every other type on SHAVEs. A dashed edge labelled
"Injected Stage" puts its child in a HW stage's shadow: counted apart as *injected*. Traffic: the bytes each
executed stage reads (non-constant inputs) and writes, from the data nodes' dims and types, per frame.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

NOT_NCE_CATEGORIES = ("SHAVE", "DMA", "injected")
MIB = 1024 * 1024

_BYTES = {"FP16": 2, "FP32": 4, "S32": 4, "I32": 4, "U8": 1, "I8": 1, "S8": 1, "I64": 8, "S64": 8}
_NODE = re.compile(r'\n    ((?:stage|data)_0x[0-9a-f]+) \[\n(.*?)\n    \];', re.S)
_EDGE = re.compile(r'\n    ((?:stage|data)_0x[0-9a-f]+) -> ((?:stage|data)_0x[0-9a-f]+) \[\n(.*?)\n    \];', re.S)
_LABEL = re.compile(r'label="(.*)"', re.S)


# -- reading the dump ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tensor:
    """A data node of the dump: ``dims`` as the dump lists them (innermost first, e.g. W, H, C, N), element type
    (``FP16``, ``U8``, ...), usage (``Input``, ``Intermediate``, ``Const``, ...)."""

    dims: Tuple[int, ...]
    dtype: str
    usage: str = "Intermediate"

    @property
    def elements(self) -> int:
        size = 1
        for d in self.dims:
            size *= d
        return size

    @property
    def bytes(self) -> int:
        return self.elements * _BYTES.get(self.dtype, 2)


@dataclass(frozen=True)
class Stage:
    """One stage of the compiled graph. ``category``: NCE | SHAVE | DMA | injected | special.

    ``inputs``/``outputs``: its non-constant input and its output tensors (what ``bytes_in``/``bytes_out`` count);
    ``weights``: its constant inputs; ``macs``: multiply-accumulates per frame of a convolution-like stage (NCE
    conv/pool/FC, SHAVE Conv, Deconvolution, FC: :func:`stage_macs`), 0 for the others; ``attrs``: the label's
    scalar ``key = value`` lines (``hwOpType``, ``kernelSizeX``, ...)."""

    name: str
    type: str
    exec_index: int
    category: str
    bytes_in: int
    bytes_out: int
    inputs: Tuple[Tensor, ...] = ()
    outputs: Tuple[Tensor, ...] = ()
    weights: Tuple[Tensor, ...] = ()
    macs: int = 0
    attrs: Tuple[Tuple[str, str], ...] = ()

    @property
    def traffic(self) -> int:
        return self.bytes_in + self.bytes_out

    def attr(self, key: str, default: str = "") -> str:
        return dict(self.attrs).get(key, default)


@dataclass(frozen=True)
class CompiledGraph:
    stages: Tuple[Stage, ...]
    memory: Dict[str, int]  # usedMemory: BSS, CMX, blob, input, output (bytes)
    shaves: Optional[int]  # resources.numSHAVEs


def _label(body: str) -> str:
    match = _LABEL.search(body)
    return match.group(1).replace("\\l", "\n") if match else ""


def _data_bytes(label: str) -> Tuple[str, int]:
    """(usage, bytes) of a data node's label: ``usage = Intermediate``, ``type = FP16``, ``dims = [W : 3, ...]``."""
    usage = re.search(r"^usage = (\w+)", label, re.M)
    kind = re.search(r"^desc = \[\n\s*type = (\w+)", label, re.M)
    dims = re.search(r"^\s*dims = \[([^\]]*)\]", label, re.M)
    size = 1
    for part in (dims.group(1).split(",") if dims and dims.group(1).strip() else []):
        size *= int(part.split(":")[1])
    return (usage.group(1) if usage else "?"), size * _BYTES.get(kind.group(1) if kind else "", 2)


def _tensor(label: str) -> Tensor:
    """A data node's :class:`Tensor` from its label."""
    usage = re.search(r"^usage = (\w+)", label, re.M)
    kind = re.search(r"^desc = \[\n\s*type = (\w+)", label, re.M)
    dims = re.search(r"^\s*dims = \[([^\]]*)\]", label, re.M)
    parts = dims.group(1).split(",") if dims and dims.group(1).strip() else []
    sizes = tuple(int(part.split(":")[1]) for part in parts)
    return Tensor(sizes, kind.group(1) if kind else "", usage.group(1) if usage else "?")


_SHAVE_CONV = ("Conv", "Convolution", "DepthConv", "DepthwiseConvolution", "FullyConnected", "FC", "MatMul", "Gemm")
_SHAVE_DECONV = ("Deconvolution", "Deconv")


def stage_macs(kind: str, attrs: Mapping[str, str], inputs: Sequence[Tensor], outputs: Sequence[Tensor],
               weights: Sequence[Tensor]) -> int:
    """Multiply-accumulates of one stage per frame, from its tensors.

    A convolution (NCE ``hwOpType`` CONV or FC, SHAVE Conv, depthwise conv, FC): every weight is used once per output
    position: elements of the largest constant input (the weights, as the compiler laid them out, padded channels
    included: the work the engine does) x output positions (output elements / output channels: W x H x N; an FC's
    output is [C, N]). A deconvolution: every weight once per *input* position. An NCE pool: output elements x
    kernelSizeX x kernelSizeY. Anything else: 0."""
    def positions(t: Tensor) -> int:
        return t.elements // t.dims[2] if len(t.dims) >= 3 and t.dims[2] else (t.dims[-1] if len(t.dims) > 1 else 1)

    w = max((t.elements for t in weights), default=0)
    if kind == "MyriadXHwOp":
        op = attrs.get("hwOpType", "")
        if op == "POOL" and outputs:
            kernel = int(attrs.get("kernelSizeX", 1)) * int(attrs.get("kernelSizeY", 1))
            return sum(t.elements for t in outputs) * kernel
        if op in ("CONV", "FC", "CONV_POOL") and outputs:
            return w * positions(outputs[0])
        return 0
    if kind in _SHAVE_CONV and outputs:
        return w * positions(outputs[0])
    if kind in _SHAVE_DECONV and inputs:
        return w * positions(inputs[0])
    return 0


def parse_dump(text: str) -> CompiledGraph:
    """The executed, injected and special stages of a MYRIAD dot dump with their bytes in and out.

    Raises :class:`ValueError` when ``text`` is not such a dump (no stage found)."""
    labels = {m.group(1): _label(m.group(2)) for m in _NODE.finditer(text)}
    data = {name: _data_bytes(label) for name, label in labels.items() if name.startswith("data_")}
    tensors = {name: _tensor(label) for name, label in labels.items() if name.startswith("data_")}
    inputs: Dict[str, List[str]] = {}
    outputs: Dict[str, List[str]] = {}
    injected = set()
    for m in _EDGE.finditer(text):
        src, dst, body = m.groups()
        if "Injected Stage" in body:
            injected.add(dst)
        elif src.startswith("data_") and dst.startswith("stage_") and "StageInput" in body:
            inputs.setdefault(dst, []).append(src)
        elif src.startswith("stage_") and dst.startswith("data_") and "StageOutput" in body:
            outputs.setdefault(src, []).append(dst)
    stages = []
    for name, label in labels.items():
        if not name.startswith("stage_"):
            continue
        head = re.match(r"\[(-?\d+) / \d+\] Stage (.*)\ntype = (\w+)", label)
        if head is None:
            continue
        index, stage_name, kind = int(head.group(1)), head.group(2), head.group(3)
        if index < 0:
            category = "special"
        elif name in injected:
            category = "injected"
        else:
            category = {"MyriadXHwOp": "NCE", "Copy": "DMA"}.get(kind, "SHAVE")
        moved = [sum(data[d][1] for d in edges.get(name, ()) if data.get(d, ("Const",))[0] not in ("Const", "Fake"))
                 for edges in (inputs, outputs)]
        ins = [tensors[d] for d in inputs.get(name, ()) if d in tensors]
        outs = tuple(tensors[d] for d in outputs.get(name, ()) if d in tensors and tensors[d].usage not in ("Fake",))
        live = tuple(t for t in ins if t.usage not in ("Const", "Fake"))
        consts = tuple(t for t in ins if t.usage == "Const")
        attrs = tuple(re.findall(r"^\s*(\w+) = ([^\[\n]+)$", label, re.M))
        macs = stage_macs(kind, dict(attrs), live, outs, consts) if index >= 0 else 0
        stages.append(Stage(stage_name, kind, index, category, moved[0], moved[1], live, outs, consts, macs, attrs))
    if not stages:
        raise ValueError("no compiled stage found: not a MYRIAD graph dump")
    graph_label = labels.get("", "") or _label(text[: text.find("\n    data_")])
    memory = {key: int(value) for key, value in re.findall(r"(BSS|CMX|blob|input|output) = (\d+)", graph_label)}
    shaves = re.search(r"numSHAVEs = (\d+)", graph_label)
    stages.sort(key=lambda s: (s.exec_index, s.category == "injected"))
    return CompiledGraph(tuple(stages), memory, int(shaves.group(1)) if shaves else None)


def summarize(graph: CompiledGraph, top: int = 12) -> dict:
    """The manifest's numbers of a compiled graph: stages by category, SHAVE and DMA stage types, traffic (MiB per
    frame) by category and of the non-NCE stages together, memory, and the ``top`` non-NCE stage types by traffic."""
    by_category = Counter(s.category for s in graph.stages)
    executed = [s for s in graph.stages if s.category in ("NCE", "SHAVE", "DMA")]
    traffic = {c: round(sum(s.traffic for s in graph.stages if s.category == c) / MIB, 2)
               for c in ("NCE", "SHAVE", "DMA", "injected")}
    non_nce = [s for s in graph.stages if s.category in NOT_NCE_CATEGORIES]
    by_type: Counter = Counter()
    for s in non_nce:
        by_type[f"{s.category} {s.type}"] += s.traffic
    return {
        "stages": {"executed": len(executed), **{c: by_category.get(c, 0) for c in ("NCE", "SHAVE", "DMA")},
                   "injected": by_category.get("injected", 0), "special": by_category.get("special", 0)},
        "shave_types": dict(Counter(s.type for s in graph.stages if s.category == "SHAVE").most_common()),
        "injected_types": dict(Counter(s.type for s in graph.stages if s.category == "injected").most_common()),
        "traffic_mib": {**traffic, "non_nce": round(sum(s.traffic for s in non_nce) / MIB, 2)},
        "traffic_by_type_mib": {k: round(v / MIB, 2) for k, v in by_type.most_common(top)},
        "memory_bytes": dict(graph.memory),
        "shaves": graph.shaves,
    }
