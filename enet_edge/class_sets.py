"""Class sets: names, palette and ignore label of a model's classes (numpy only; device-safe), and CamVid's.

A model carries its class set in one schema, :meth:`ClassSet.to_dict` (``names``, ``palette_rgb``,
``ignore_label``): a weights file in its meta (``classes`` entry) and card, an export in its manifest
(``class_set``; :meth:`ClassSet.manifest_entries` also writes the ``classes``, ``palette_rgb`` and
``void_label`` that earlier readers read) and an IR in its ``rt_info/model_info`` (``class_set``, as JSON;
:meth:`ClassSet.rt_info` also writes model_api's ``labels`` and ``palette_rgb``). :func:`from_meta` reads
them all. CamVid's (:data:`CAMVID`) is the default only where nothing says otherwise.

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

from enet_edge.errors import ConfigError

RGB = Tuple[int, int, int]

CAMVID_CLASSES = (
    "Sky",
    "Building",
    "Pole",
    "Road",
    "Pavement",
    "Tree",
    "SignSymbol",
    "Fence",
    "Car",
    "Pedestrian",
    "Bicyclist",
    "Unlabelled",
)
"""CamVid's label ids 0..11; id 11 (Unlabelled) is void: weight 0 in the loss and ignored in mIoU."""

VOID_LABEL = 11
NUM_CLASSES = len(CAMVID_CLASSES)

CAMVID_PALETTE_RGB: Tuple[RGB, ...] = (  # the usual SegNet/ENet CamVid palette, RGB, one row per label id
    (128, 128, 128),  # Sky
    (128, 0, 0),  # Building
    (192, 192, 128),  # Pole
    (128, 64, 128),  # Road
    (60, 40, 222),  # Pavement
    (128, 128, 0),  # Tree
    (192, 128, 128),  # SignSymbol
    (64, 64, 128),  # Fence
    (64, 0, 128),  # Car
    (64, 64, 0),  # Pedestrian
    (0, 128, 192),  # Bicyclist
    (0, 0, 0),  # Unlabelled
)


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
        """The class schema of weights meta, manifest and IR: ``names`` (K str), ``palette_rgb`` (K [r, g, b]
        ints 0..255), ``ignore_label`` (int or None)."""
        return {"names": list(self.names), "palette_rgb": [list(c) for c in self.palette_rgb],
                "ignore_label": self.ignore_label}

    def manifest_entries(self) -> Dict[str, Any]:
        """An export manifest's class entries: ``class_set`` (:meth:`to_dict`) and, for readers of earlier
        manifests, ``classes`` (the names), ``palette_rgb`` and ``void_label`` (the ignore label)."""
        schema = self.to_dict()
        return {"classes": schema["names"], "void_label": schema["ignore_label"], "palette_rgb": schema["palette_rgb"],
                "class_set": schema}

    def rt_info(self) -> Dict[str, str]:
        """An IR's ``rt_info/model_info`` class entries, strings: ``class_set`` (:meth:`to_dict` as JSON) and
        model_api's ``labels`` (names, spaces as underscores, space-separated) and ``palette_rgb``
        (``r,g,b;r,g,b...``)."""
        return {"labels": " ".join(name.replace(" ", "_") for name in self.names),
                "palette_rgb": ";".join(",".join(str(c) for c in rgb) for rgb in self.palette_rgb),
                "class_set": json.dumps(self.to_dict())}

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
    """The class set a weights meta, manifest or IR ``rt_info/model_info`` records; CamVid's (or generic for
    ``num_classes`` other than 12) where it records none.

    Reads the schema (:meth:`ClassSet.to_dict`) under ``class_set`` (a manifest; an IR's as JSON) or
    ``classes`` (weights meta), and the form of earlier manifests (``classes`` list, ``palette_rgb``,
    ``void_label``).
    """
    meta = meta or {}
    entry = meta.get("class_set", meta.get("classes"))
    if isinstance(entry, str):  # an IR's rt_info: JSON
        try:
            entry = json.loads(entry)
        except ValueError as exc:
            raise ConfigError(f"class_set {entry[:40]!r} is not JSON ({exc})") from None
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
