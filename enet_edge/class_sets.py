"""Class sets: names, palette and ignore label of a model's classes (numpy only; device-safe).

A model carries its class set: a weights file in its meta (``classes`` entry) and card, an export in
its manifest (``classes``, ``palette_rgb``, ``void_label``). CamVid's (:mod:`enet_edge.classes`) is
the default only where nothing says otherwise.

Class file (``--classes FILE`` of ``enet-edge train`` and ``enet-edge import``), JSON or TOML, one entry
per label id in order; ``color`` (RGB) is optional (a palette is generated), ``ignore_label`` too
(a label id left out of the loss and the metric, e.g. void; absent: every label counts)::

    # classes.toml                                 // classes.json
    ignore_label = 3                               {"ignore_label": 3,
    [[classes]]                                     "classes": [{"name": "background", "color": [0, 0, 0]},
    name = "background"                                         {"name": "person", "color": [220, 20, 60]},
    color = [0, 0, 0]                                           {"name": "car"},
    [[classes]]                                                 {"name": "void"}]}
    name = "person"
    color = [220, 20, 60]
    [[classes]]
    name = "car"
    [[classes]]
    name = "void"
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

from enet_edge.classes import CAMVID_CLASSES, CAMVID_PALETTE_RGB, VOID_LABEL
from enet_edge.errors import ConfigError

RGB = Tuple[int, int, int]


@dataclass(frozen=True)
class ClassSet:
    """The classes a model predicts: label id i is ``names[i]``, drawn in ``palette_rgb[i]``.

    ``ignore_label``: a label id that is not a class to learn or score (CamVid's void, 11), or None.
    """

    names: Tuple[str, ...]
    palette_rgb: Tuple[RGB, ...]
    ignore_label: Optional[int] = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", tuple(str(n) for n in self.names))
        object.__setattr__(self, "palette_rgb", tuple(tuple(int(c) for c in rgb) for rgb in self.palette_rgb))
        if not self.names:
            raise ConfigError("a class set needs at least one class")
        if len(set(self.names)) != len(self.names):
            raise ConfigError(f"class names must be unique, got {list(self.names)}")
        if len(self.palette_rgb) != len(self.names):
            raise ConfigError(f"{len(self.names)} classes but {len(self.palette_rgb)} palette colours")
        for rgb in self.palette_rgb:
            if len(rgb) != 3 or not all(0 <= c <= 255 for c in rgb):
                raise ConfigError(f"palette colour {list(rgb)} must be three integers 0..255 (RGB)")
        if self.ignore_label is not None and not 0 <= int(self.ignore_label) < len(self.names):
            raise ConfigError(f"ignore_label {self.ignore_label} is not a label id 0..{len(self.names) - 1}")

    @property
    def num_classes(self) -> int:
        return len(self.names)

    @property
    def metric_ids(self) -> Tuple[int, ...]:
        """Label ids the metric scores: every class but the ignore label."""
        return tuple(i for i in range(self.num_classes) if i != self.ignore_label)

    @property
    def metric_names(self) -> Tuple[str, ...]:
        return tuple(self.names[i] for i in self.metric_ids)

    def to_dict(self) -> Dict[str, Any]:
        return {"names": list(self.names), "palette_rgb": [list(c) for c in self.palette_rgb],
                "ignore_label": self.ignore_label}

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "ClassSet":
        try:
            return cls(tuple(data["names"]), tuple(tuple(c) for c in data["palette_rgb"]), data.get("ignore_label"))
        except (KeyError, TypeError) as exc:
            raise ConfigError(f"class set entry {data!r} needs names and palette_rgb lists ({exc})") from None


CAMVID = ClassSet(CAMVID_CLASSES, CAMVID_PALETTE_RGB, VOID_LABEL)
"""CamVid's 12 labels (11 classes + void), the default wherever a model does not say."""


def generated_palette(n: int) -> Tuple[RGB, ...]:
    """``n`` distinct RGB colours, deterministic (golden-ratio hues, alternating brightness)."""
    import colorsys

    colours = []
    for i in range(n):
        hue = (i * 0.618033988749895) % 1.0
        r, g, b = colorsys.hsv_to_rgb(hue, 0.65 + 0.35 * (i % 2), 0.95 - 0.3 * ((i // 2) % 2))
        colours.append((int(round(255 * r)), int(round(255 * g)), int(round(255 * b))))
    return tuple(colours)


def generic(num_classes: int, ignore_label: Optional[int] = None) -> ClassSet:
    """``class_0`` .. ``class_{n-1}`` with a generated palette."""
    if num_classes < 1:
        raise ConfigError(f"num_classes must be >= 1, got {num_classes}")
    return ClassSet(tuple(f"class_{i}" for i in range(num_classes)), generated_palette(num_classes), ignore_label)


def read_class_file(path) -> ClassSet:
    """A class file (JSON or TOML; format in this module's docstring)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"class file {path} does not exist")
    try:
        if path.suffix.lower() == ".toml":
            from enet_edge.resources import read_toml

            data = read_toml(path)
        else:
            data = json.loads(path.read_text())
    except ValueError as exc:
        raise ConfigError(f"class file {path} is not valid {'TOML' if path.suffix == '.toml' else 'JSON'}: "
                          f"{exc}") from None
    entries = data.get("classes") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"class file {path} needs a non-empty 'classes' list of {{name, color}} entries")
    names, colours = [], []
    for i, entry in enumerate(entries):
        entry = {"name": entry} if isinstance(entry, str) else entry
        if not isinstance(entry, dict) or "name" not in entry:
            raise ConfigError(f"class file {path}: entry {i} needs a 'name'")
        names.append(str(entry["name"]))
        colours.append(entry.get("color"))
    fill = iter(generated_palette(len(names)))
    palette = tuple(tuple(c) if c is not None else next(fill) for c in colours)
    try:
        return ClassSet(tuple(names), palette, data.get("ignore_label"))
    except ConfigError as exc:
        raise ConfigError(f"class file {path}: {exc}") from None


def default_for(num_classes: int, class_file=None) -> ClassSet:
    """The class file's set (checked against ``num_classes``), else CamVid's for 12, else generic names."""
    if class_file is not None:
        classes = read_class_file(class_file)
        if classes.num_classes != num_classes:
            raise ConfigError(f"class file {class_file} lists {classes.num_classes} classes; the model has "
                              f"{num_classes} outputs")
        return classes
    return CAMVID if num_classes == CAMVID.num_classes else generic(num_classes)


def from_meta(meta: Optional[dict], num_classes: Optional[int] = None) -> ClassSet:
    """The class set a weights meta / manifest records; CamVid's (or generic) where it records none.

    Reads the weights meta form (``{"classes": {"names", "palette_rgb", "ignore_label"}}``) and the
    manifest form (``classes`` list, ``palette_rgb``, ``void_label``).
    """
    meta = meta or {}
    entry = meta.get("classes")
    if isinstance(entry, dict):
        return ClassSet.from_dict(entry)
    if isinstance(entry, (list, tuple)) and entry:
        palette = meta.get("palette_rgb") or generated_palette(len(entry))
        return ClassSet(tuple(entry), tuple(tuple(c) for c in palette), meta.get("void_label"))
    n = num_classes if num_classes is not None else CAMVID.num_classes
    return default_for(n)


def weights_classes(path) -> ClassSet:
    """The class set of an enet-edge ``.npz`` weights file (its meta; numpy only, no TensorFlow)."""
    import numpy as np

    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["__enet_meta__"])) if "__enet_meta__" in data.files else {}
        config = json.loads(str(data["__enet_config__"])) if "__enet_config__" in data.files else {}
    return from_meta(meta, config.get("num_classes"))


def artifact_classes(artifact, num_classes: int) -> ClassSet:
    """The class set of a resolved model (:class:`enet_edge.runtime.manifest.Artifact`): its manifest's,
    a weights file's meta, else CamVid's (a bare model file says nothing; the segmenter then checks that
    its logits have CamVid's 12 channels)."""
    if artifact.manifest:
        return from_meta(artifact.manifest, num_classes)
    if artifact.is_weights:
        return weights_classes(artifact.path)
    return CAMVID
