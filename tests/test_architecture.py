"""The import contract (docs/architecture.md): device code never reaches the workstation side.

runtime/, the bench and the demo run on a board with numpy, OpenCV and an OpenVINO runtime only:
they never import enet_edge.model, enet_edge.export or enet_edge.workstation.train, and TensorFlow (or
Keras) only inside a function of the optional TensorFlow backend. Checked twice: statically over
every import statement (AST, function bodies included) and by importing the modules in a process
where those packages cannot be imported.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "enet_edge"
DEVICE_CODE = ("runtime", "device", "progress.py", "errors.py", "fileio.py",
               "class_sets.py", "resources.py", "metrics.py")
FORBIDDEN = ("enet_edge.model", "enet_edge.export", "enet_edge.workstation.train")
TENSORFLOW = ("tensorflow", "keras", "tf2onnx", "nncf")
LAZY_TENSORFLOW_ALLOWED = ("runtime/adapters/tensorflow.py",)  # the frozen-graph backend
MAX_LINES = 500


def device_modules():
    for entry in DEVICE_CODE:
        path = PACKAGE / entry
        if path.is_file():
            yield path
        elif path.is_dir():
            yield from sorted(path.rglob("*.py"))


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path):
    """(imported module, line, inside a function?) for every import statement of ``path``."""
    tree = ast.parse(path.read_text(), str(path))
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    functions = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    lazy = {id(node) for f in functions for node in ast.walk(f)}
    for node in ast.walk(tree):
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
                yield (f"{target}.{alias.name}" if target in ("enet_edge", "enet_edge.device", "enet_edge.workstation") else target), \
                    node.lineno, id(node) in lazy


def _under(name: str, prefixes) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


@pytest.mark.parametrize("path", list(device_modules()), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_device_code_never_imports_the_workstation_side(path):
    relative = str(path.relative_to(PACKAGE))
    bad = []
    for name, line, lazy in imports(path):
        if _under(name, FORBIDDEN):
            bad.append(f"{relative}:{line} imports {name}")
        if _under(name, TENSORFLOW) and not (lazy and relative in LAZY_TENSORFLOW_ALLOWED):
            bad.append(f"{relative}:{line} imports {name}" + (" at module level" if not lazy else ""))
    assert not bad, "\n".join(bad)


def test_the_contract_checker_sees_violations(tmp_path):
    """The AST scan itself: catches relative, absolute and function-level imports of forbidden modules."""
    fake = PACKAGE / "runtime" / "_contract_probe_tmp.py"
    fake.write_text("from ..model import enet\nimport tensorflow as tf\n\ndef f():\n    from enet_edge.export import gates\n")
    try:
        found = {(name, lazy) for name, _, lazy in imports(fake)}
    finally:
        fake.unlink()
    assert ("enet_edge.model", False) in found or ("enet_edge.model.enet", False) in found
    assert ("tensorflow", False) in found and ("enet_edge.export", True) in found


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
    (TENSORFLOW + FORBIDDEN, "import enet_edge.runtime, enet_edge.device.bench, enet_edge.device.demo"),
    # the whole command line builds without TensorFlow (check, eval, bench and demo run on a device)
    (TENSORFLOW, "import enet_edge.cli; enet_edge.cli.build_parser()"),
], ids=["device-code", "cli"])
def test_imports_without_tensorflow_or_workstation_code(blocked, imports):
    code = BLOCKER.format(blocked=list(blocked), imports=imports)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_is_too_large(path):
    assert len(path.read_text().splitlines()) <= MAX_LINES, f"{path.relative_to(PACKAGE)}: split it"
