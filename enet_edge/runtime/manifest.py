"""Read an export's ``manifest.json`` and pick the artifact a backend needs (numpy-free, TF-free).

An export directory holds ``manifest.json`` listing each artifact with its sha256; opening a
directory verifies the hashes of the files it will use, so a corrupt or swapped file is a clear
error instead of wrong segmentations.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional

from enet_edge.class_sets import CAMVID_CLASSES, CAMVID_PALETTE_RGB, ClassSet, artifact_classes
from enet_edge.errors import ArtifactError, ConfigError
from enet_edge.fileio import sha256_file
from enet_edge.runtime.backends import (BACKENDS, KINDS, OPENVINO_BACKEND, WEIGHTS_KIND, backend_for, kind_backend,
                                       model_types)
from enet_edge.runtime.backends import backend as _backend

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Artifact:
    """A model file to run, with its backend and self-description."""

    path: Path
    backend: str
    kind: str
    manifest: Optional[dict] = None
    entry: Optional[dict] = None  # this file's record in manifest["artifacts"] (sha256, precision, device ...)

    @property
    def is_weights(self) -> bool:
        """A trained weights file (``.npz``, the keras backend's kind), whose meta holds its classes; not an export."""
        return self.kind == WEIGHTS_KIND

    def device_config(self, device: str) -> Dict[str, str]:
        """The plugin config its export compiled and predicted with, for ``device``: on MYRIAD (``MYRIAD``,
        ``MYRIAD.1.2-ma2480``), the manifest's ``myriad_compiler.options`` (e.g. ``{"MYRIAD_HW_DILATION": "YES"}``),
        which the stick's compiler must get again at load to build the graph the export checked; else ``{}``
        (CPU, virtual devices such as AUTO or MULTI, a file without a manifest, an export compiled with none)."""
        if str(device).upper().split(".")[0] != "MYRIAD":
            return {}
        return compiled_options(self.manifest, f"the manifest beside {self.path}") or {}

    @functools.cached_property
    def classes(self) -> ClassSet:
        """The model's class set, resolved once: its manifest's, a ``.npz`` weights file's meta, else CamVid's
        (:func:`~enet_edge.class_sets.artifact_classes`). Read when first asked for, after the adapter opened
        the file, so an unreadable weights file is reported by the reader that knows it."""
        try:
            return artifact_classes(self, None)
        except ConfigError as exc:
            raise ArtifactError(f"the class set recorded for {self.path} is damaged ({exc}); re-export it") from None


def compiled_options(manifest: Optional[dict], where: str) -> Optional[Dict[str, str]]:
    """The MYRIAD plugin config an export was compiled (and predicted) with, ``manifest["myriad_compiler"]["options"]``
    (``{}``: the plugin's defaults); None where the manifest records no compile. :class:`ArtifactError` (naming
    ``where``) for a value that is no table of config keys and string values."""
    record = (manifest or {}).get("myriad_compiler")
    if not isinstance(record, dict) or "options" not in record:
        return None
    options = record["options"]
    if not isinstance(options, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in options.items()):
        raise ArtifactError(f"{where} has myriad_compiler.options {options!r}, not a table of config keys and string "
                            "values; re-export")
    return dict(options)


def read_manifest(directory: Path) -> dict:
    path = Path(directory) / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ArtifactError(f"{path} is missing; is {directory} an enet-edge export directory?") from exc
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"{path} is not readable JSON ({exc}); re-export") from exc
    if not isinstance(manifest, dict) or "artifacts" not in manifest:
        raise ArtifactError(f"{path} is not an enet-edge manifest (no 'artifacts')")
    _check_manifest(manifest, path)
    return manifest


def _check_manifest(manifest: dict, path: Path) -> None:
    """:class:`ArtifactError` where the fields readers rely on have the wrong shape (a hand-edited or
    damaged manifest is an error, not a traceback)."""
    def bad(what: str) -> ArtifactError:
        return ArtifactError(f"{path} is damaged: {what}; re-export")

    artifacts = manifest["artifacts"]
    if not isinstance(artifacts, dict):
        raise bad("'artifacts' is not an object")
    for kind, entry in artifacts.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("file"), str) or not entry["file"]:
            raise bad(f"artifact {kind!r} has no file name")
        if Path(entry["file"]).name != entry["file"]:
            raise bad(f"artifact {kind!r} names {entry['file']!r}, not a file in the export directory")
        for key in ("weights_file",):
            if key in entry and (not isinstance(entry[key], str) or Path(entry[key]).name != entry[key]):
                raise bad(f"artifact {kind!r} has a bad {key}")
    if "target" in manifest and not isinstance(manifest["target"], str):
        raise bad("'target' is not a string")
    classes = manifest.get("classes", CAMVID_CLASSES)
    if not isinstance(classes, (list, tuple)) or not classes or not all(isinstance(c, str) for c in classes):
        raise bad("'classes' is not a list of names")
    palette = manifest.get("palette_rgb", CAMVID_PALETTE_RGB)
    if (not isinstance(palette, (list, tuple)) or len(palette) < len(classes)
            or not all(isinstance(rgb, (list, tuple)) and len(rgb) == 3
                       and all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in rgb)
                       for rgb in palette)):
        raise bad("'palette_rgb' is not one [r, g, b] (0..255) per class")
    for key in ("weights", "model"):
        if key in manifest and not isinstance(manifest[key], dict):
            raise bad(f"{key!r} is not an object")


def verify_artifact(directory: Path, entry: dict) -> None:
    """Check sha256 of an artifact entry's file(s); raise :class:`ArtifactError` on any mismatch."""
    for file_key, hash_key in (("file", "sha256"), ("weights_file", "weights_sha256")):
        if file_key not in entry:
            continue
        path = Path(directory) / entry[file_key]
        if not path.is_file():
            raise ArtifactError(f"{path} listed in the manifest is missing; re-export")
        actual = sha256_file(path)
        if actual != entry.get(hash_key):
            raise ArtifactError(f"{path} does not match its manifest sha256 ({actual[:12]}… != "
                                f"{str(entry.get(hash_key))[:12]}…): corrupt or replaced; re-export")


def resolve_artifact(path, backend: Optional[str] = None, verify: bool = True) -> Artifact:
    """Turn a path (export directory or model file) and an optional backend into an :class:`Artifact`.

    A directory: the manifest picks the file (OpenVINO IR first, then ONNX, then the frozen graph,
    or the first one the backend reads) and its sha256 is verified. A file: used as is; a
    ``manifest.json`` beside it, if any, supplies the classes and the hash to verify.
    """
    path = Path(path)
    if backend is not None and backend not in BACKENDS:
        raise ArtifactError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if path.is_dir() and not (path / MANIFEST).is_file():
        return _resolve_bare_directory(path, backend)
    if path.is_dir():
        manifest = read_manifest(path)
        kinds = _backend(backend).kinds if backend else KINDS
        for kind in kinds:
            entry = manifest["artifacts"].get(kind)
            if entry is not None:
                break
        else:
            have = ", ".join(manifest["artifacts"]) or "none"
            raise ArtifactError(f"{path} has no artifact for backend {backend}; it has {have}")
        if kind == "openvino_ir" and "onnx" in manifest["artifacts"] and _openvino_reads_onnx_only():
            # OpenVINO 2021.4 (the pip route to the stick) reads ONNX and IR v10, not the IR v11 we write
            kind, entry, backend = "onnx", manifest["artifacts"]["onnx"], backend or OPENVINO_BACKEND
        if verify:
            verify_artifact(path, entry)
        return Artifact(path / entry["file"], backend or kind_backend(kind).name, kind, manifest, entry)
    if not path.exists():
        raise ArtifactError(f"model path {path} does not exist; give an export directory or {model_types()}")
    kind = backend_for(path).kind
    if not path.is_file():
        raise ArtifactError(f"model path {path} is not a regular file")
    manifest, entry = None, None
    if (path.parent / MANIFEST).is_file():
        manifest = read_manifest(path.parent)
        entry = next((e for e in manifest["artifacts"].values() if e.get("file") == path.name), None)
        if entry is not None and verify:
            verify_artifact(path.parent, entry)
    return Artifact(path, backend or kind_backend(kind).name, kind, manifest, entry)


def _openvino_reads_onnx_only() -> bool:
    """The installed OpenVINO has only the 2021.4 Inference Engine API (it cannot read the IR v11 of exports)."""
    from enet_edge.runtime.adapters.openvino_core import openvino_api

    return openvino_api() == "ie"


def _resolve_bare_directory(path: Path, backend: Optional[str]) -> Artifact:
    """A directory without manifest.json: the one model file of the first kind the backend reads."""
    kinds = _backend(backend).kinds if backend else KINDS
    suffix_of = {kind: kind_backend(kind).suffixes[0] for kind in kinds}
    for kind in kinds:
        files = sorted(path.glob(f"*{suffix_of[kind]}"))
        if len(files) > 1:
            raise ArtifactError(f"{path} has no {MANIFEST} and several {suffix_of[kind]} files "
                                f"({', '.join(f.name for f in files)}); name the file")
        if files:
            return Artifact(files[0], backend or kind_backend(kind).name, kind)
    wanted = ", ".join(suffix_of[k] for k in kinds)
    raise ArtifactError(f"{path} has no {MANIFEST} and no {wanted} model file; give an export directory or a model file")
