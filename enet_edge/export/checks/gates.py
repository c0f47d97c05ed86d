"""Compatibility gates: check a graph (.pb, .onnx, .xml) against a target's op table.

Every graph format is read into the same list of :class:`GraphNode` records, then one rule engine
checks them against a *ruleset* loaded from ``enet_edge/data/rulesets/<name>.toml``. A check
reports **every** offending node (op type, node name, why, which rule), never only the first.

Ruleset format (TOML)::

    name = "myriad_2022_3"
    format = "openvino_ir"            # or "onnx", "tensorflow"
    max_opset = 10                    # IR: highest opsetN any op version may name; ONNX: default-domain opset
    ir_versions = [10, 11]            # IR only
    static_shapes = true
    source = "where the table comes from"
    [ops.MaxPool]                     # one table per allowed op type ("*" allows any op type)
    versions = ["opset1", "opset8"]   # IR only: op versions this runtime reads
    unused_outputs = [1]              # these output ports must have no consumer
    inputs_from = ["Parameter", "Const"]  # every input must come from these op types
    attrs = { dilations = [1, 1, 1, 1] }  # attributes that must have exactly these values
    rank = 4                          # every output must have this rank
    reason = "shown when a condition fails"
    [blocked.ArgMax]                  # explicitly refused op types, with the reason
    reason = "..."

This module imports no TensorFlow; reading a ``.pb`` needs TensorFlow's protobuf classes and
imports them only then (and a ``.onnx`` the ``onnx`` package), as does the ``realization`` ruleset.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from enet_edge.errors import ArtifactError, CompatibilityError, ConfigError
from enet_edge.resources import RULESET_DIR, read_toml
from enet_edge.runtime.backends import export_kind, kind_backend


@dataclass(frozen=True)
class GraphNode:
    """One node of any graph format, reduced to what rules look at."""

    name: str
    op_type: str
    version: str = ""  # IR: "opset8"; empty elsewhere
    attrs: Dict[str, Any] = field(default_factory=dict)
    input_types: Tuple[str, ...] = ()  # op type of the producer of each input
    used_outputs: Tuple[int, ...] = ()  # output ports with at least one consumer
    output_shapes: Tuple[Optional[Tuple[int, ...]], ...] = ()  # None = unknown; -1 = dynamic dim


@dataclass(frozen=True)
class Graph:
    """A graph read from a file: its format, nodes and format-level facts."""

    format: str  # "tensorflow" | "onnx" | "openvino_ir"
    path: str
    nodes: Tuple[GraphNode, ...]
    opset: Optional[int] = None  # ONNX default-domain opset
    ir_version: Optional[int] = None  # OpenVINO IR version

    def inventory(self) -> Dict[str, int]:
        counts: Dict[str, int] = {}
        for node in self.nodes:
            key = f"{node.op_type}-{node.version}" if node.version else node.op_type
            counts[key] = counts.get(key, 0) + 1
        return dict(sorted(counts.items()))


@dataclass(frozen=True)
class Violation:
    op_type: str
    node: str
    why: str
    rule: str

    def to_dict(self) -> Dict[str, str]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class CheckReport:
    ruleset: str
    format: str
    path: str
    inventory: Dict[str, int]
    violations: Tuple[Violation, ...]

    @property
    def ok(self) -> bool:
        return not self.violations

    def to_dict(self) -> Dict[str, Any]:
        return {"ruleset": self.ruleset, "format": self.format, "path": self.path, "ok": self.ok,
                "inventory": self.inventory, "violations": [v.to_dict() for v in self.violations]}

    def table(self) -> str:
        """Markdown table of the violations (empty string when there are none)."""
        if self.ok:
            return ""
        lines = ["| op type | node | why not allowed | rule |", "|---|---|---|---|"]
        for v in self.violations:
            lines.append(f"| {v.op_type} | `{v.node}` | {v.why} | {v.rule} |")
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Readers
# --------------------------------------------------------------------------------------------


def read_tensorflow(path) -> Graph:
    """Read a binary frozen GraphDef (.pb)."""
    from enet_edge.runtime.adapters.tensorflow import parse_graph_def  # TensorFlow protobufs, imported only here

    graph_def = parse_graph_def(path)
    return graph_from_graph_def(graph_def, str(path))


def graph_from_graph_def(graph_def, path: str = "<GraphDef>") -> Graph:
    producers = {n.name: n.op for n in graph_def.node}
    used: Dict[str, set] = {}
    for n in graph_def.node:
        for inp in n.input:
            if inp.startswith("^"):
                continue
            src, _, port = inp.partition(":")
            used.setdefault(src, set()).add(int(port or 0))
    nodes = []
    for n in graph_def.node:
        attrs = {}
        for key, value in n.attr.items():
            kind = value.WhichOneof("value")
            if kind == "list":
                attrs[key] = list(value.list.i) or [x.decode() for x in value.list.s] or list(value.list.f)
            elif kind in ("i", "f", "b"):
                attrs[key] = getattr(value, kind)
            elif kind == "s":
                attrs[key] = value.s.decode(errors="replace")
        shapes = []
        for shape in n.attr["_output_shapes"].list.shape if "_output_shapes" in n.attr else []:
            shapes.append(None if shape.unknown_rank else tuple(d.size for d in shape.dim))
        inputs = tuple(producers.get(i.partition(":")[0], "?") for i in n.input if not i.startswith("^"))
        nodes.append(GraphNode(n.name, n.op, attrs=attrs, input_types=inputs,
                               used_outputs=tuple(sorted(used.get(n.name, ()))), output_shapes=tuple(shapes)))
    return Graph("tensorflow", path, tuple(nodes))


def read_onnx(path) -> Graph:
    """Read an ONNX model; shapes come from ONNX shape inference."""
    try:
        import onnx
    except ImportError as exc:
        raise ArtifactError(f"reading {path} needs the onnx package: pip install 'enet-edge[export]'") from exc

    path = Path(path)
    try:
        model = onnx.load(str(path))
        model = onnx.shape_inference.infer_shapes(model)
    except Exception as exc:  # onnx raises DecodeError / ValidationError / google.protobuf errors
        raise ArtifactError(f"{path} is not a readable ONNX model ({type(exc).__name__}); re-export it") from exc
    graph = model.graph
    if not graph.node:
        raise ArtifactError(f"{path} contains no nodes; re-export it")
    producer: Dict[str, Tuple[str, int]] = {}
    for init in graph.initializer:
        producer[init.name] = ("Initializer", 0)
    for inp in graph.input:
        producer.setdefault(inp.name, ("Parameter", 0))
    for node in graph.node:
        for port, out in enumerate(node.output):
            producer[out] = (node.op_type, port)
    consumers: Dict[str, int] = {}
    for node in graph.node:
        for inp in node.input:
            consumers[inp] = consumers.get(inp, 0) + 1
    for out in graph.output:
        consumers[out.name] = consumers.get(out.name, 0) + 1
    shapes = {}
    for vi in list(graph.value_info) + list(graph.output) + list(graph.input):
        t = vi.type.tensor_type
        if t.HasField("shape"):
            shapes[vi.name] = tuple(d.dim_value if d.HasField("dim_value") else -1 for d in t.shape.dim)
    nodes = []
    for node in graph.node:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in attrs.items()
                 if isinstance(v, (int, float, bytes, str, list))}
        used = tuple(p for p, out in enumerate(node.output) if out and consumers.get(out))
        nodes.append(GraphNode(
            node.name or node.output[0], node.op_type, attrs=attrs,
            input_types=tuple(producer.get(i, ("?", 0))[0] for i in node.input if i),
            used_outputs=used, output_shapes=tuple(shapes.get(o) for o in node.output)))
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    return Graph("onnx", str(path), tuple(nodes), opset=opset)


def read_openvino_ir(path) -> Graph:
    """Read an OpenVINO IR .xml with the XML parser (no OpenVINO needed: versions as written)."""
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as exc:
        raise ArtifactError(f"{path} is not a readable OpenVINO IR .xml ({exc}); re-export it") from exc
    if root.tag != "net":
        raise ArtifactError(f"{path} is XML but not an OpenVINO IR (root <{root.tag}>)")
    layers = {layer.get("id"): layer for layer in root.iter("layer")}
    producer_of: Dict[Tuple[str, str], str] = {}
    used: Dict[str, set] = {}
    for edge in root.iter("edge"):
        src = layers.get(edge.get("from-layer"))
        producer_of[(edge.get("to-layer"), edge.get("to-port"))] = src.get("type") if src is not None else "?"
        used.setdefault(edge.get("from-layer"), set()).add(edge.get("from-port"))
    nodes = []
    for lid, layer in layers.items():
        data = layer.find("data")
        attrs = dict(data.attrib) if data is not None else {}
        in_ports = [p.get("id") for p in layer.findall("./input/port")]
        out_ports = layer.findall("./output/port")
        shapes = []
        for port in out_ports:
            dims = []
            for d in port.findall("dim"):
                text = (d.text or "").strip()
                dims.append(int(text) if text.lstrip("-").isdigit() else -1)
            shapes.append(tuple(dims))
        used_ports = tuple(i for i, p in enumerate(out_ports) if p.get("id") in used.get(lid, ()))
        nodes.append(GraphNode(
            layer.get("name", lid), layer.get("type", "?"), version=layer.get("version", ""), attrs=attrs,
            input_types=tuple(producer_of.get((lid, pid), "?") for pid in in_ports),
            used_outputs=used_ports, output_shapes=tuple(shapes)))
    ir_version = int(root.get("version")) if (root.get("version") or "").isdigit() else None
    return Graph("openvino_ir", str(path), tuple(nodes), ir_version=ir_version)


READERS: Dict[str, Callable[[Any], Graph]] = {
    "tensorflow": read_tensorflow,
    "onnx": read_onnx,
    "openvino_ir": read_openvino_ir,
}
"""Export artifact kind -> its graph reader; a file's kind comes from its suffix (the backend table)."""


READER_PACKAGES: Dict[str, Tuple[str, str]] = {
    "tensorflow": ("tensorflow", "reading a frozen GraphDef needs TensorFlow"),
    "onnx": ("onnx", "reading ONNX needs the onnx package"),
}
"""Artifact kind -> (package its reader imports, why), for files that the runtime-only install cannot read."""


def unreadable_here(path) -> Optional[str]:
    """Why ``path`` cannot be read in this install (its reader's package is missing), else None.

    Looks the package up without importing it (importing TensorFlow takes seconds).
    """
    package, why = READER_PACKAGES.get(export_kind(path), (None, ""))
    if package is None:
        return None
    try:
        found = importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):  # a broken or half-imported package
        found = False
    return None if found else f"{why}: pip install 'enet-edge[export]'"


def read_graph(path) -> Graph:
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"{path} does not exist")
    reader = READERS.get(export_kind(path))
    if reader is None:
        readable = [kind_backend(kind).suffixes[0] for kind in READERS]
        raise ArtifactError(f"{path}: cannot check a '{path.suffix}' file; give a {', '.join(readable[:-1])} "
                            f"or {readable[-1]}")
    return reader(path)


# --------------------------------------------------------------------------------------------
# Rules
# --------------------------------------------------------------------------------------------


def load_ruleset(name: str) -> Dict[str, Any]:
    """A ruleset by name (``enet_edge/data/rulesets/<name>.toml``) or by path."""
    path = Path(name)
    if not path.suffix:
        path = RULESET_DIR / f"{name}.toml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in RULESET_DIR.glob("*.toml")))
        raise ConfigError(f"unknown ruleset {name!r}; known: {known}")
    table = read_toml(path)
    table.setdefault("name", path.stem)
    return table


def ruleset_for(kind: str, name: str, target, flavour: str = "paper") -> Dict[str, Any]:
    """The ruleset a target's ``[checks]`` names for artifact ``kind``.

    ``"realization"`` (frozen GraphDefs) is the declared TF op set of the target's realization for a
    model of architecture ``flavour``; it comes from :mod:`enet_edge.export.convert.freeze`, so it needs
    TensorFlow. Every other name is a ruleset file.
    """
    if name != "realization":
        return load_ruleset(name)
    try:
        from enet_edge.export.convert.freeze import realization_allowlist
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] not in ("tensorflow", "keras"):
            raise
        raise ArtifactError(f"checking a frozen GraphDef against realization {target.realization.name} needs "
                            "TensorFlow: pip install 'enet-edge[export]'") from exc
    return {"name": f"realization:{target.name}", "format": "tensorflow", "static_shapes": False,
            "unlisted_reason": f"not in the declared op set of realization {target.realization.name}",
            "ops": {op: {} for op in sorted(realization_allowlist(target.realization, flavour))}}


def _opset_number(version: str) -> Optional[int]:
    digits = version[len("opset"):] if version.startswith("opset") else ""
    return int(digits) if digits.isdigit() else None


def _check_versions(node: GraphNode, rule: dict, ruleset: dict) -> Optional[str]:
    if not node.version:
        return None
    number = _opset_number(node.version)
    ceiling = ruleset.get("max_opset")
    if ceiling is not None and number is not None and number > ceiling:
        return f"version {node.version} is newer than opset{ceiling}, the newest this runtime reads"
    versions = rule.get("versions")
    if versions and node.version not in versions:
        return f"version {node.version} not in the versions this runtime reads ({', '.join(versions)})"
    return None


def _check_unused_outputs(node: GraphNode, rule: dict, ruleset: dict) -> Optional[str]:
    ports = sorted(set(rule.get("unused_outputs", ())) & set(node.used_outputs))
    if ports:
        return f"output port(s) {ports} are used; " + rule.get("reason", "that output is not supported")
    return None


def _check_inputs_from(node: GraphNode, rule: dict, ruleset: dict) -> Optional[str]:
    allowed = rule.get("inputs_from")
    if allowed is None:
        return None
    bad = [t for t in node.input_types if t not in allowed]
    if bad:
        return f"input from {', '.join(sorted(set(bad)))}; " + rule.get("reason", f"only from {', '.join(allowed)}")
    return None


def _normalize(value):
    if isinstance(value, (list, tuple)):
        return [_normalize(v) for v in value]
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(",")]
        if all(p.lstrip("-").isdigit() for p in parts if p):
            return [int(p) for p in parts if p] if len(parts) > 1 else int(parts[0])
    return value


def _check_attrs(node: GraphNode, rule: dict, ruleset: dict) -> Optional[str]:
    for key, expected in rule.get("attrs", {}).items():
        actual = node.attrs.get(key)
        if actual is None:
            continue  # attribute absent = its default, which the rule's author allows
        if _normalize(actual) != _normalize(expected):
            return f"{key}={actual} (needs {expected}); " + rule.get("reason", "")
    return None


def _check_rank(node: GraphNode, rule: dict, ruleset: dict) -> Optional[str]:
    rank = rule.get("rank")
    if rank is None:
        return None
    bad = [s for s in node.output_shapes if s is not None and len(s) != rank]
    if bad:
        return f"output rank {len(bad[0])}, needs rank {rank}; " + rule.get("reason", "")
    return None


def _check_never(node: GraphNode, rule: dict, ruleset: dict) -> Optional[str]:
    return rule.get("reason") if rule.get("never") else None


# Condition name -> check; each returns None when the node satisfies it, else why not.
CONDITIONS: Dict[str, Callable[[GraphNode, dict, dict], Optional[str]]] = {
    "versions": _check_versions,
    "unused_outputs": _check_unused_outputs,
    "inputs_from": _check_inputs_from,
    "attrs": _check_attrs,
    "rank": _check_rank,
    "never": _check_never,
}


def check_graph(graph: Graph, ruleset: Dict[str, Any]) -> CheckReport:
    """Check every node of ``graph`` against ``ruleset``; returns all violations."""
    name = ruleset["name"]
    if ruleset.get("format") and ruleset["format"] != graph.format:
        raise ConfigError(f"ruleset {name} checks {ruleset['format']} graphs, not {graph.format} ({graph.path})")
    ops = ruleset.get("ops", {})
    blocked = ruleset.get("blocked", {})
    violations: List[Violation] = []
    if graph.format == "openvino_ir" and ruleset.get("ir_versions") and graph.ir_version not in ruleset["ir_versions"]:
        violations.append(Violation("<net>", graph.path, f"IR version {graph.ir_version} is not one of "
                                    f"{ruleset['ir_versions']}", f"{name}:ir_version"))
    if graph.format == "onnx" and ruleset.get("max_opset") and (graph.opset or 0) > ruleset["max_opset"]:
        violations.append(Violation("<model>", graph.path, f"ONNX opset {graph.opset} > {ruleset['max_opset']}",
                                    f"{name}:max_opset"))
    for node in graph.nodes:
        if node.op_type in blocked:
            violations.append(Violation(node.op_type, node.name, blocked[node.op_type].get("reason", "blocked"),
                                        f"{name}:blocked.{node.op_type}"))
            continue
        rule = ops.get(node.op_type, ops.get("*"))
        if rule is None:
            violations.append(Violation(node.op_type, node.name,
                                        ruleset.get("unlisted_reason", "op type not in the target's table"),
                                        f"{name}:unlisted"))
            continue
        for condition, check in CONDITIONS.items():
            if condition == "versions" or condition in rule:
                why = check(node, rule, ruleset)
                if why:
                    violations.append(Violation(node.op_type, node.name, why.strip("; "), f"{name}:{node.op_type}.{condition}"))
        if ruleset.get("static_shapes"):
            for shape in node.output_shapes:
                if shape is None or any(d < 0 for d in shape):
                    violations.append(Violation(node.op_type, node.name, f"dynamic or unknown output shape {shape}",
                                                f"{name}:static_shapes"))
                    break
    return CheckReport(name, graph.format, graph.path, graph.inventory(), tuple(violations))


def check_file(path, ruleset_name: str) -> CheckReport:
    return check_graph(read_graph(path), load_ruleset(ruleset_name))


def raise_on_violations(reports: Sequence[CheckReport], target: str) -> None:
    """Raise :class:`CompatibilityError` listing every violation of every report."""
    bad = [r for r in reports if not r.ok]
    if not bad:
        return
    count = sum(len(r.violations) for r in bad)
    tables = "\n\n".join(f"{r.path} against {r.ruleset}:\n{r.table()}" for r in bad)
    raise CompatibilityError(
        f"{count} op(s) not accepted by target {target}:\n{tables}",
        violations=[v for r in bad for v in r.violations],
    )
