"""The import contract of docs/architecture.md, every row of its table, and the 500-line cap on the repo's Python.

Each row names the modules it holds, the packages they never import and where TensorFlow may be imported. Checked
twice: statically over every import statement (AST, function bodies included, ``if TYPE_CHECKING:`` blocks left
out), and by importing the device side in a process where the workstation packages and TensorFlow cannot be
imported. The table in docs/architecture.md must list the same rows (test below), so the doc and the check are one
fact.
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


def imports(path: Path):
    """(imported module, line, inside a function?) for every import statement of ``path`` outside TYPE_CHECKING."""
    tree = ast.parse(path.read_text(), str(path))
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    functions = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    lazy = {id(node) for f in functions for node in ast.walk(f)}
    typing_only = {id(node) for n in ast.walk(tree) if isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test)
                   for node in ast.walk(n)}
    for node in ast.walk(tree):
        if id(node) in typing_only:
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
                yield (f"{target}.{alias.name}" if target == "enet_edge" else target), node.lineno, id(node) in lazy


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
    assert found == {"runtime/_contract_probe_tmp.py:2 imports enet_edge.model",
                     "runtime/_contract_probe_tmp.py:3 imports tensorflow at module level",
                     "runtime/_contract_probe_tmp.py:8 imports enet_edge.export"}


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
