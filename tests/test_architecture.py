"""The import contract of docs/architecture.md, every row of its table, one-way imports (no cycles), its tree of
every module, and the 500-line cap on the repo's Python.

Each row names the modules it holds, the packages they never import and where TensorFlow may be imported. Checked
twice: statically over every import statement (AST, function bodies included, ``if TYPE_CHECKING:`` blocks left
out), and by importing the device side in a process where the workstation packages and TensorFlow cannot be
imported. The table in docs/architecture.md must list the same rows (test below), so the doc and the check are one
fact. The import graph (every import, ``TYPE_CHECKING`` and lazy ones too) has no cycle (:func:`test_no_import_cycles`
says which imports count), and the doc's tree names every module of enet_edge and nothing else
(:func:`documented_tree` says how it is read).
"""

import ast
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Tuple

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "enet_edge"
TENSORFLOW = ("tensorflow", "keras", "tf2onnx", "nncf")
MAX_LINES = 500
RUNTIME, DEVICE, MODEL, EXPORT, WORKSTATION, CLI = (f"enet_edge.{p}" for p in
                                                    ("runtime", "device", "model", "export", "workstation", "cli"))


@dataclass(frozen=True)
class Row:
    """One row of the table: ``doc`` (the names in its first cell), ``members`` (paths under enet_edge/),
    ``never`` (packages they never import), ``tensorflow`` (``never``, ``lazy`` (inside functions of ``lazy_in``
    only) or ``yes``)."""

    doc: Tuple[str, ...]
    members: Tuple[str, ...]
    never: Tuple[str, ...]
    tensorflow: str = "never"
    lazy_in: Tuple[str, ...] = ()


BASE = ("errors", "fileio", "class_sets", "camvid", "metrics", "progress", "resources", "limits", "command")
ROWS = (
    Row(tuple(f"`{m}`" for m in BASE), tuple(f"{m}.py" for m in BASE) + ("__init__.py",),
        (RUNTIME, DEVICE, MODEL, EXPORT, WORKSTATION, CLI)),
    Row(("`runtime/`",), ("runtime",), (DEVICE, MODEL, EXPORT, WORKSTATION, CLI), "lazy",
        ("runtime/adapters/tensorflow.py",)),
    Row(("`device/`",), ("device",), (MODEL, EXPORT, WORKSTATION, CLI)),
    Row(("`model/`",), ("model",), (EXPORT, DEVICE, WORKSTATION, CLI), "yes"),
    Row(("`export/`",), ("export",), (DEVICE, WORKSTATION, CLI), "yes"),
    Row(("`workstation/`",), ("workstation",), (CLI,), "yes"),
    Row(("`cli`",), ("cli.py",), (), "never"),
)


def members(row: Row):
    for entry in row.members:
        path = PACKAGE / entry
        yield from ([path] if path.is_file() else sorted(path.rglob("*.py")))


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str) -> bool:
    """``name`` (dotted) is a module or package of enet_edge."""
    path = PACKAGE.parent.joinpath(*name.split("."))
    return name.startswith("enet_edge") and (path.with_suffix(".py").is_file() or (path / "__init__.py").is_file())


def imports(path: Path, typing_too: bool = False):
    """(imported module, line, inside a function?) for every import statement of ``path`` outside TYPE_CHECKING
    (``typing_too``: inside too). ``from package import name`` imports the module ``package.name`` where that is one
    of enet_edge's modules, else ``package``."""
    tree = ast.parse(path.read_text(), str(path))
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    functions = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    lazy = {id(node) for f in functions for node in ast.walk(f)}
    typing_only = {id(node) for n in ast.walk(tree) if isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test)
                   for node in ast.walk(n)}
    for node in ast.walk(tree):
        if id(node) in typing_only and not typing_too:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno, id(node) in lazy
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:  # `from enet_edge import model` imports the subpackage
                name = f"{target}.{alias.name}"
                yield (name if is_module(name) else target), node.lineno, id(node) in lazy


def _under(name: str, prefixes) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def violations(path: Path, row: Row):
    relative = str(path.relative_to(PACKAGE))
    for name, line, lazy in imports(path):
        if _under(name, row.never):
            yield f"{relative}:{line} imports {name}"
        if _under(name, TENSORFLOW) and row.tensorflow != "yes":
            if not (row.tensorflow == "lazy" and lazy and relative in row.lazy_in):
                yield f"{relative}:{line} imports {name}" + ("" if lazy else " at module level")


CASES = [(row, path) for row in ROWS for path in members(row)]


@pytest.mark.parametrize("row, path", CASES, ids=[str(p.relative_to(PACKAGE)) for _, p in CASES])
def test_every_module_keeps_its_row(row, path):
    bad = list(violations(path, row))
    assert not bad, "\n".join(bad)


def test_every_module_is_in_exactly_one_row():
    counted = [path for _, path in CASES]
    assert sorted(counted) == sorted(PACKAGE.rglob("*.py")) and len(set(counted)) == len(counted)


def test_the_doc_table_lists_the_same_rows():
    text = (REPO / "docs" / "architecture.md").read_text()
    table = text.split("## Who may import what", 1)[1].split("\n\n", 2)[1]
    cells = [line.split("|")[1].strip() for line in table.splitlines()[2:] if line.startswith("|")]
    assert [tuple(re.findall(r"`[^`]+`", cell)) for cell in cells] == [row.doc for row in ROWS]


def test_the_contract_checker_sees_violations():
    """The AST scan itself: catches relative, absolute and function-level imports of forbidden modules, and skips
    TYPE_CHECKING blocks."""
    fake = PACKAGE / "runtime" / "_contract_probe_tmp.py"
    fake.write_text("from typing import TYPE_CHECKING\nfrom ..model import enet\nimport tensorflow as tf\n"
                    "if TYPE_CHECKING:\n    from enet_edge.device import bench\n\n"
                    "def f():\n    from enet_edge.export import gates\n")
    try:
        found = set(violations(fake, ROWS[1]))
    finally:
        fake.unlink()
    assert found == {"runtime/_contract_probe_tmp.py:2 imports enet_edge.model.enet",
                     "runtime/_contract_probe_tmp.py:3 imports tensorflow at module level",
                     "runtime/_contract_probe_tmp.py:8 imports enet_edge.export"}


# -- one-way imports ------------------------------------------------------------------------------------------------


def import_graph():
    """Module name -> {imported enet_edge module: the first line importing it} over every import statement of every
    module: module level, inside functions and under ``if TYPE_CHECKING:`` alike. A package is its ``__init__``."""
    graph = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        edges = {}
        for name, line, _ in imports(path, typing_too=True):
            while name and not is_module(name):  # `import enet_edge.a.b` of a name that is no module: its module
                name = name.rpartition(".")[0]
            if name and name != module_name(path):
                edges.setdefault(name, line)
        graph[module_name(path)] = edges
    return graph


def cycles(graph, packages):
    """The import cycles of ``graph`` (module -> {imported module: line}): for each set of modules that import each
    other (a strongly connected component), its imports among themselves as ``(module, line, imported)``, sorted.

    Left out: a set of one module and packages it is in (``packages``: their ``__init__``). That module reaches its
    own package's face, which re-exports the module's own names (``runtime/adapters/openvino_core.py`` looks
    ``import_openvino`` up through ``enet_edge.runtime.adapters`` at call time, so that tests can replace it), and no
    second module takes part."""
    index, low, stack, found = {}, {}, [], []

    def connect(node):  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph.get(node, {}):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            members = {stack.pop()}
            while node not in members:
                members.add(stack.pop())
            leaves = [m for m in members if m not in packages]
            own_package = len(leaves) == 1 and all(leaves[0].startswith(m + ".") for m in members - set(leaves))
            if len(members) > 1 and not own_package:
                found.append(sorted((m, line, nxt) for m in members for nxt, line in graph[m].items()
                                    if nxt in members))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def test_no_import_cycles():
    """No module imports a module that imports it back, directly or through others (every import counts: lazy ones
    in functions and ``TYPE_CHECKING`` ones too). The graph's edges are the import statements as written; a
    submodule's implicit import of its parent packages (Python runs ``pkg/__init__.py`` first) is no edge, else every
    package that re-exports its modules would be a cycle. A package's ``__init__`` counts as a module: a cycle
    through it is one, unless it closes on a single module and the packages it is in (see :func:`cycles`)."""
    found = cycles(import_graph(), {module_name(p) for p in PACKAGE.rglob("__init__.py")})
    shown = "\n\n".join("\n".join(f"  {m}:{line} imports {nxt}" for m, line, nxt in cycle) for cycle in found)
    assert not found, f"import cycles (move the shared piece to a third module, or pass it in):\n{shown}"


def test_the_cycle_check_sees_cycles():
    graph = {"p": {"p.a": 1}, "p.a": {"p": 9, "q": 2}, "q": {"r": 3}, "r": {"q": 4, "s": 5}, "s": {}}
    assert cycles(graph, {"p"}) == [[("q", 3, "r"), ("r", 4, "q")]]  # p.a -> p -> p.a: its own package's face
    graph["s"] = {"p.a": 6}
    assert cycles(graph, {"p"}) == [[("p", 1, "p.a"), ("p.a", 2, "q"), ("p.a", 9, "p"), ("q", 3, "r"), ("r", 4, "q"),
                                     ("r", 5, "s"), ("s", 6, "p.a")]]


# -- the tree of docs/architecture.md -----------------------------------------------------------------------------


TREE_ENTRY = re.compile(r"^(?P<indent> *)(?P<name>\{[a-z0-9_,]+\}\.py|[a-z0-9_]+\.py|[a-z0-9_]+/)(?: {2,}\S.*)?$")
CONTINUED = 10
"""Tree lines indented by this many spaces or more continue the description of the entry above."""


def documented_tree():
    """The paths (relative to enet_edge/; folders end in ``/``) that docs/architecture.md's tree names, in order.

    The tree is the first fenced block. Its lines: ``enet_edge/`` at the left edge opens the package; each entry
    below is indented two spaces per level under its folder's line, and is ``name.py``, ``name/`` or ``{a,b}.py``
    (several modules of one folder), then two spaces and its description; lines indented :data:`CONTINUED` spaces
    or more continue a description. Other lines at the left edge (``export/*.toml``, ``weights/``) are the
    repository's, not the package's. Any other line fails."""
    text = (REPO / "docs" / "architecture.md").read_text()
    block = text.split("```\n", 2)[1]
    folders, named, inside = [], [], False
    for number, line in enumerate(block.splitlines(), 1):
        indent = len(line) - len(line.lstrip(" "))
        if not line.strip() or indent >= CONTINUED:
            continue
        if indent == 0:
            inside = line.split()[0] == "enet_edge/"
            folders = []
            continue
        entry = TREE_ENTRY.match(line)
        assert inside and entry and indent % 2 == 0 and indent // 2 <= len(folders) + 1, \
            f"docs/architecture.md tree line {number} is no entry of enet_edge/: {line!r}"
        depth = indent // 2
        folders = folders[: depth - 1]
        name = entry.group("name")
        parent = "".join(folders)
        if name.endswith("/"):
            folders.append(name)
            named.append(parent + name)
        else:
            names = name[1:-4].split(",") if name.startswith("{") else [name[:-3]]
            named += [f"{parent}{n}.py" for n in names]
    return named


def test_the_doc_tree_names_every_module_and_only_modules():
    named = documented_tree()
    assert len(named) == len(set(named)), sorted(n for n in named if named.count(n) > 1)
    missing = [n for n in named if not ((PACKAGE / n).is_dir() if n.endswith("/") else (PACKAGE / n).is_file())]
    assert not missing, f"docs/architecture.md's tree names what enet_edge/ does not hold: {missing}"
    modules = {p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py") if p.name != "__init__.py"}
    packages = {p.parent.relative_to(PACKAGE).as_posix() + "/" for p in PACKAGE.rglob("__init__.py")
                if p.parent != PACKAGE}
    undocumented = sorted((modules | packages) - set(named))
    assert not undocumented, f"add to docs/architecture.md's tree (a line each, under its folder): {undocumented}"


BLOCKER = """
import importlib.abc, sys
BLOCKED = {blocked!r}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if any(name == b or name.startswith(b + ".") for b in BLOCKED):
            raise ImportError(f"blocked by the import contract: {{name}}")
        return None
sys.meta_path.insert(0, Block())
{imports}
leaked = sorted(m for m in sys.modules if any(m == b or m.startswith(b + ".") for b in BLOCKED))
print(leaked)
"""


@pytest.mark.parametrize("blocked, imports", [
    (TENSORFLOW + (MODEL, EXPORT, WORKSTATION),
     "import enet_edge.runtime, enet_edge.device.bench, enet_edge.device.demo, enet_edge.device.evaluate"),
    # the whole command line builds without TensorFlow (check, eval, bench and demo run on a device)
    (TENSORFLOW, "import enet_edge.cli; enet_edge.cli.build_parser()"),
], ids=["device-code", "cli"])
def test_imports_without_tensorflow_or_workstation_code(blocked, imports):
    code = BLOCKER.format(blocked=list(blocked), imports=imports)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"


PYTHON = sorted(p for folder in ("enet_edge", "benchmarks", "tests", "demo") for p in (REPO / folder).rglob("*.py"))


@pytest.mark.parametrize("path", PYTHON, ids=lambda p: str(p.relative_to(REPO)))
def test_no_module_is_too_large(path):
    assert len(path.read_text().splitlines()) <= MAX_LINES, f"{path.relative_to(REPO)}: split it"
