"""The case type, its context, the composable setups and post-checks of tests/test_errors.py."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Callable, Dict, Optional, Sequence, Tuple

import numpy as np


REPO = Path(__file__).resolve().parents[1]
CAMVID = Path(os.environ.get("ENET_EDGE_CAMVID") or REPO.parent / "shared" / "camvid")
SHIPPED_WEIGHTS = REPO / "weights" / "enet_camvid.npz"


# --------------------------------------------------------------------------------------------
# the case type and its context
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Signal:
    """Send ``sig`` once stderr matches ``after`` (then ``delay`` s more); ``post`` checks the aftermath."""

    sig: int
    after: str
    delay: float = 0.0


@dataclasses.dataclass(frozen=True)
class Case:
    id: str
    argv: Tuple[str, ...]
    code: int
    message: str = ""  # regex searched in the error line (exit != 0) or in stdout (exit 0)
    setup: Optional[Callable[["Ctx"], None]] = None
    creates: Tuple[str, ...] = ()  # paths (relative to the temp dir) a success may create or replace
    slow: bool = False
    subprocess: bool = False
    signal: Optional[Signal] = None
    post: Optional[Callable[["Ctx", "Run"], None]] = None  # extra checks (after the standard ones)
    skip: Optional[Callable[[], Optional[str]]] = None  # a reason to skip here, or None
    timeout: float = 300.0


@dataclasses.dataclass
class Run:
    code: int
    out: str
    err: str


class Ctx:
    """A case's temp dir (also its working directory) with the usual inputs: ``tiny/`` (a tiny export, target
    cpu), ``afile`` (a file where a folder is expected), ``empty/``, ``imgs/`` (two CamVid frames)."""

    def __init__(self, tmp: Path, pristine: Path, monkeypatch=None):
        self.tmp, self.monkeypatch = tmp, monkeypatch
        self.tiny = tmp / "tiny"
        shutil.copytree(pristine, self.tiny)
        (tmp / "afile").write_text("a file, not a folder\n")
        (tmp / "empty").mkdir()
        (tmp / "imgs").mkdir()
        for frame in sorted((CAMVID / "val").glob("*.png"))[:2]:
            shutil.copy(frame, tmp / "imgs" / frame.name)

    def fmt(self, arg: str) -> str:
        return arg.format(tmp=self.tmp, tiny=self.tiny, camvid=CAMVID, shipped=SHIPPED_WEIGHTS)

    def write(self, name: str, data) -> Path:
        path = self.tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data if isinstance(data, bytes) else data.encode())
        return path


def snapshot(root: Path) -> Dict[str, str]:
    """relative path -> sha256 (files) or 'dir' (folders), symlinks not followed."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            out[os.path.relpath(os.path.join(dirpath, name), root)] = "dir"
        for name in filenames:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, root)] = hashlib.sha256(f.read()).hexdigest()
    return out


def command_of(argv: Sequence[str]) -> str:
    return argv[0]


# --------------------------------------------------------------------------------------------
# setups (composable)
# --------------------------------------------------------------------------------------------


def files(**contents) -> Callable[[Ctx], None]:
    """Write files: ``files(**{"g.onnx": "garbage"})``."""
    return lambda ctx: [ctx.write(name, data) for name, data in contents.items()]


def seq(*setups) -> Callable[[Ctx], None]:
    def run(ctx):
        for setup in setups:
            setup(ctx)
    return run


def garbage(name: str, data: bytes = b"this is not a model\n") -> Callable[[Ctx], None]:
    return files(**{name: data})


def tiny_copy(name: str, change: Optional[Callable[[Path], None]] = None) -> Callable[[Ctx], None]:
    """A copy of the tiny export at ``name``, then ``change(path)``."""
    def run(ctx):
        shutil.copytree(ctx.tiny, ctx.tmp / name)
        if change:
            change(ctx.tmp / name)
    return run


def manifest_edit(edit: Callable[[dict], None]) -> Callable[[Path], None]:
    def run(directory: Path):
        manifest = json.loads((directory / "manifest.json").read_text())
        edit(manifest)
        (directory / "manifest.json").write_text(json.dumps(manifest))
    return run


def flip_first_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[0] ^= 0xFF
    path.write_bytes(bytes(data))


def ir_only(ctx):
    (ctx.tmp / "xo").mkdir()
    shutil.copy(ctx.tiny / "enet.xml", ctx.tmp / "xo" / "enet.xml")


def cpu_only_ir(ctx):
    from tiny_models import tiny_cpu_only_ir

    tiny_cpu_only_ir(ctx.tmp / "cpuonly" / "enet.xml")


def toml(text: str) -> Callable[[Ctx], None]:
    return files(**{"t.toml": text})


def npz(name: str, **arrays) -> Callable[[Ctx], None]:
    def run(ctx):
        np.savez(ctx.tmp / name, **arrays)
    return run


def small_memory(ctx):
    ctx.monkeypatch.setattr("enet_edge.limits.available_memory", lambda: 8 << 30)


def state(text: str) -> Callable[[Ctx], None]:
    return files(**{"run/state.json": text})


def bad_frame_in_imgs(ctx):
    ctx.write("imgs/zzz_broken.png", b"\x89PNG broken")


def no_gui() -> Optional[str]:
    from enet_edge.device.demo import gui_problem

    return None if gui_problem() is not None else "this OpenCV can open windows"


def no_proc() -> Optional[str]:
    return None if os.path.isdir("/proc/self") else "no /proc here"


def failing_mkdtemp(ctx):
    """mkdtemp beside --out fails (a read-only directory, for root too)."""
    def mkdtemp(*args, **kwargs):
        raise PermissionError(13, "Permission denied", kwargs.get("dir"))
    ctx.monkeypatch.setattr("enet_edge.export.outdir.tempfile.mkdtemp", mkdtemp)


def previous_export(name: str = "out") -> Callable[[Ctx], None]:
    """A previous export at ``name`` (the tiny one: a folder with manifest.json)."""
    return tiny_copy(name)


# --------------------------------------------------------------------------------------------
# post-checks of the signal and slow cases
# --------------------------------------------------------------------------------------------


def bench_json_finalized(ctx: Ctx, run: Run) -> None:
    doc = json.loads((ctx.tmp / "b.json").read_text())
    assert doc["interrupted"] is True and doc["niter"] > 0
    assert any("interrupted" in w for w in doc["warnings"])


def demo_outputs_finalized(ctx: Ctx, run: Run) -> None:
    summary = json.loads((ctx.tmp / "s.json").read_text())
    assert summary["stopped_by"] == "interrupt" and summary["frames"] > 0
    assert (ctx.tmp / "o.mp4").stat().st_size > 0
    assert "stopped by interrupt" in run.out


def temp_dirs(root: Path) -> list:
    return sorted(p.name for p in root.iterdir() if ".tmp-" in p.name or ".old-" in p.name)
