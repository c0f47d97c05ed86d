"""An export's output directory: checked before the work, written in a temp directory, swapped in whole.

``export --out DIR`` writes into ``.<DIR name>.tmp-<pid>-<random>/`` beside ``DIR`` and renames it to
``DIR`` only when every stage passed; the previous ``DIR`` is moved to ``.<DIR name>.old-<pid>`` for
the instant of the swap. A failed or interrupted export removes its temp directory; one killed with
SIGKILL cannot, so the next export to the same ``DIR`` removes the temp directories whose process is
gone (and puts back a previous export that a kill left in ``.old-<pid>``), saying so in its log.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from enet_edge.errors import OutputError
from enet_edge.fileio import check_output_parent, make_dirs, pid_alive, remove_created, remove_stale, temp_prefix
from enet_edge.runtime.manifest import MANIFEST


def check_out_dir(out_dir: Path) -> Path:
    """:class:`OutputError` unless ``out_dir`` can be written and replaced: absent, or a previous export
    (a folder holding ``manifest.json``), or an empty folder; never a file, the working directory or
    one of its ancestors. Returns the absolute path."""
    out = Path(os.path.abspath(out_dir))
    if out.parent == out:
        raise OutputError(f"--out {out_dir} is the file system root; give a folder to export into")
    cwd = Path.cwd().resolve()
    if out.exists() and (out.resolve() == cwd or out.resolve() in cwd.parents):
        raise OutputError(f"--out {out_dir} holds the working directory; export replaces --out whole: give "
                          f"a new folder, e.g. build/<target>")
    if os.path.lexists(out) and not out.is_dir():
        raise OutputError(f"--out {out_dir} exists and is not a directory")
    if out.is_dir() and not (out / MANIFEST).is_file() and any(out.iterdir()):
        raise OutputError(f"--out {out_dir} is a folder with files but no {MANIFEST} (not an enet-edge export); "
                          f"export replaces --out whole: give a new folder or a previous export's")
    check_output_parent(out_dir, "--out")
    return out


def clean_stale(out_dir: Path, log: Callable[[str], None]) -> None:
    """Remove the temp directories of killed exports to ``out_dir``; restore a previous export that a kill
    left in ``.<name>.old-<pid>`` while ``out_dir`` itself is missing (else remove it)."""
    out_dir = Path(out_dir)
    if not out_dir.parent.is_dir():
        return
    remove_stale(out_dir.parent, out_dir.name, log)
    prefix = f".{out_dir.name}.old-"
    for entry in sorted(out_dir.parent.iterdir()):
        pid = entry.name[len(prefix):]
        if not entry.name.startswith(prefix) or not pid.isdigit() or pid_alive(int(pid)) or not entry.is_dir():
            continue
        if not os.path.lexists(out_dir):
            os.replace(entry, out_dir)
            log(f"restored the previous export {out_dir} from {entry.name} (an export was killed while replacing it)")
        else:
            shutil.rmtree(entry, ignore_errors=True)
            log(f"removed {entry}: the previous export an export killed while replacing it had set aside")


@contextmanager
def staging_dir(out_dir: Path, shown=None) -> Iterator[Path]:
    """A temp directory ``.<name>.tmp-<pid>-<random>`` beside ``out_dir`` (parents created); removed, with
    the parents it created, when the block raises (or is interrupted). Errors name ``shown`` (``--out`` as given)."""
    out_dir = Path(out_dir)
    shown = out_dir if shown is None else shown
    created = make_dirs(out_dir.parent, "--out")
    try:
        tmp = Path(tempfile.mkdtemp(prefix=temp_prefix(out_dir.name), dir=out_dir.parent))
    except OSError as exc:
        remove_created(created)
        raise OutputError(f"cannot write --out {shown}: {exc.strerror or exc} (in {out_dir.parent})") from exc
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        remove_created(created)
        raise


def replace_dir(new: Path, dest: Path) -> None:
    """Move ``new`` to ``dest``; an existing ``dest`` is replaced only after ``new`` is complete."""
    old = None
    if os.path.lexists(dest):
        old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
        os.replace(dest, old)
    try:
        os.replace(new, dest)
    except OSError:
        if old is not None:
            os.replace(old, dest)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
