"""Small file helpers shared by the commands: atomic writes, hashing, output paths checked before the work
(numpy only)."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Dict, List, Sequence

import numpy as np

from enet_edge.errors import OutputError


def atomic_savez(path, arrays: Dict[str, np.ndarray]) -> Path:
    """``np.savez`` to a temp file beside ``path``, then rename: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=temp_prefix(path.name), suffix=".npz", dir=path.parent)
    os.close(fd)
    try:
        np.savez(tmp, **arrays)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def atomic_write_text(path, text: str, flag: str = "") -> Path:
    """Write ``text`` to a temp file beside ``path``, then rename (:func:`atomic_write_bytes`)."""
    return atomic_write_bytes(path, text.encode(), flag)


def json_safe(value: object) -> object:
    """``value`` with every NaN or infinite float as None (strict JSON has neither), containers copied."""
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def sha256_file(path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# -- output paths: checked before the work, written atomically, created folders removed on failure ---------


def _nearest_existing(path: Path) -> Path:
    """``path`` or its closest ancestor that exists (a broken link or a file in the way stops the walk)."""
    path = Path(os.path.abspath(path))
    while not os.path.lexists(path) and path.parent != path:
        parent = path.parent
        if os.path.lexists(parent) and not parent.is_dir():
            return parent
        path = parent
    return path


def check_output_parent(path, flag: str, folder=None) -> None:
    """:class:`OutputError` unless the folder of output ``path`` (or ``folder``) exists as a writable directory
    or can be created (no file in the way). Nothing is created here."""
    path = Path(path)
    base = _nearest_existing(Path(folder) if folder is not None else path.parent)
    if not base.is_dir():
        raise OutputError(f"cannot write {flag} {path}: {base} is a file, not a directory")
    if not os.access(base, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {flag} {path}: {base} is not writable")
    _probe(base, flag, path)


def _probe(folder: Path, flag: str, path) -> None:
    """Create and remove a temp file in ``folder``: catches what permission bits do not (root, a read-only
    mount, /proc)."""
    try:
        fd, probe = tempfile.mkstemp(prefix=temp_prefix("probe"), dir=folder)
    except OSError as exc:
        raise OutputError(f"cannot write {flag} {path}: {folder} is not writable ({exc.strerror or exc})") from exc
    os.close(fd)
    os.unlink(probe)


def check_output_file(path, flag: str) -> Path:
    """:class:`OutputError` now, before a long run, where output file ``path`` could not be written after it."""
    path = Path(path)
    if str(path).endswith(("/", os.sep)) or path.is_dir():
        raise OutputError(f"{flag} {path} is a directory; give a file name")
    if os.path.lexists(path) and not path.is_file():
        raise OutputError(f"{flag} {path} exists and is not a regular file")
    check_output_parent(path, flag)
    if path.is_file() and not os.access(path, os.W_OK):
        raise OutputError(f"cannot write {flag} {path}: the file is read-only")
    return path


def check_output_dir(path, flag: str) -> Path:
    """:class:`OutputError` unless ``path`` is a writable directory or can be created."""
    path = Path(path)
    if os.path.lexists(path):
        if not path.is_dir():
            raise OutputError(f"{flag} {path} exists and is not a directory")
        if not os.access(path, os.W_OK | os.X_OK):
            raise OutputError(f"cannot write {flag} {path}: the directory is not writable")
        _probe(path, flag, path)
        return path
    check_output_parent(path, flag, folder=path)
    return path


def make_dirs(path, flag: str = "") -> List[Path]:
    """``mkdir -p path``; returns the folders it created (deepest last) for :func:`remove_created`.

    :class:`OutputError` (naming ``flag``) where it cannot."""
    path = Path(path)
    missing = []
    probe = Path(os.path.abspath(path))
    while not os.path.lexists(probe) and probe.parent != probe:
        missing.append(probe)
        probe = probe.parent
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        remove_created(missing[::-1])
        raise OutputError(f"cannot create {flag + ' ' if flag else ''}{path}: {exc.strerror or exc}") from exc
    return missing[::-1]


def remove_created(created: Sequence[Path]) -> None:
    """Remove the folders :func:`make_dirs` created, deepest first, where they are (still) empty."""
    for folder in reversed(list(created)):
        try:
            folder.rmdir()
        except OSError:
            return


def atomic_write_bytes(path, data: bytes, flag: str = "") -> Path:
    """``data`` to a temp file beside ``path``, then rename (parents created): never half a file.

    :class:`OutputError` (naming ``flag``) where it cannot be written; nothing is left behind then."""
    path = Path(path)
    created = make_dirs(path.parent, flag)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-{os.getpid()}-", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
        tmp = None
    except BaseException as exc:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        remove_created(created)
        if isinstance(exc, OSError):
            raise OutputError(f"cannot write {flag + ' ' if flag else ''}{path}: {exc.strerror or exc}") from exc
        raise
    return path


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (on this machine)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by someone else
        return True
    except OSError:
        return False
    return True


def temp_prefix(name: str) -> str:
    """Prefix of the temp files and folders written beside ``name`` by this process: ``.<name>.tmp-<pid>-``.

    The pid lets a later run tell the leftovers of a killed process (:func:`remove_stale`) from a live one's."""
    return f".{name}.tmp-{os.getpid()}-"


def remove_stale(folder, name: str, log=None) -> List[Path]:
    """Remove ``.<name>.tmp-<pid>-*`` files and folders in ``folder`` whose process ``pid`` is gone (killed
    with SIGKILL, or a power cut); returns what was removed and logs each one. Live processes' are kept."""
    import shutil

    folder = Path(folder)
    removed = []
    prefix = f".{name}.tmp-"
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith(prefix):
            continue
        pid_text, sep, _ = entry.name[len(prefix):].partition("-")
        if not sep or not pid_text.isdigit() or pid_alive(int(pid_text)):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            try:
                entry.unlink()
            except OSError:
                pass
        if not os.path.lexists(entry):
            removed.append(entry)
            if log is not None:
                log(f"removed {entry}: left by an enet-edge process ({pid_text}) that did not finish (killed?)")
    return removed
