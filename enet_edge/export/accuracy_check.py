"""``accuracy-check.yml`` in every export: Intel's accuracy_check scores the IR with nothing else to write.

``accuracy_check -c DIR/accuracy-check.yml -m DIR -s DATA`` (PyPI ``openvino-dev==2023.3.0``; the last release that
carries it) reads the export's ``enet.xml``, the frames of ``DATA/val/*.png`` and their label maps in ``DATA/valannot/``
(CamVid's layout: ``enet-edge eval``'s ``--data-dir``) and prints the mean IoU over the export's classes less its
ignore label. Files written beside the IR (:func:`write_accuracy_check`):

  accuracy-check.yml         the config (block YAML; accuracy_check's launcher, reader, pre- and post-processing)
  accuracy-check-meta.json   the dataset meta: label map, ignore (background) label, colours (the manifest's class set)
  enet_edge_accuracy_check.py  logits IRs with NCHW logits only: the custom evaluator that reads channels-first
                             logits (:mod:`enet_edge.export.ac_evaluator`, copied)

How the output is read (:func:`output_reading`): a class-map IR (``class_map`` (1,H,W) ids) and an earlier export's
NHWC logits with accuracy_check's own ``segmentation`` adapter (a ``models:`` config, nothing of enet-edge's runs);
NCHW logits with ``segmentation_channels_first`` from the copied module (an ``evaluations:`` config), because the
stock adapter takes the output's layout from the input's (NHWC frames in). accuracy_check resolves a dataset's files
against ``-s`` and a module only through ``python_path``, so the config names the export directory by its absolute
path (``location``): an export moved elsewhere is re-exported or given :func:`write_accuracy_check` again.

The pipeline works as ``enet-edge eval``'s does: frames resized bilinearly to the model size, the class map resized
back to the label size by nearest neighbour, CPU inference asked for f32 (``INFERENCE_PRECISION_HINT``; a BF16 CPU
would otherwise run bf16). One difference: accuracy_check drops pixels *predicted* as the ignore label (it zeroes
that column of the confusion matrix), ``eval`` counts them as misses of their true class (docs/intel_tools.md).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

from enet_edge.class_sets import CAMVID, from_meta
from enet_edge.errors import ArtifactError
from enet_edge.fileio import atomic_write_text
from enet_edge.runtime.manifest import read_manifest

AC_CONFIG = "accuracy-check.yml"
AC_META = "accuracy-check-meta.json"
AC_MODULE = "enet_edge_accuracy_check.py"
EVALUATOR_SOURCE = Path(__file__).with_name("ac_evaluator.py")
OPENVINO_DEV = "openvino-dev==2023.3.0"
"""The accuracy_check release the configs are written for and tested with (tests/test_accuracy_check.py)."""
SPLIT = "val"
"""The split the config evaluates: ``DATA/val/`` frames, ``DATA/valannot/`` label maps (edit the YAML for another)."""


def output_reading(entry: dict) -> str:
    """How accuracy_check reads an IR's output, from its manifest entry (``outputs[0]``): ``"class_map"`` ((1,H,W)
    class ids), ``"nchw"`` ((1,K,H,W) logits, the exports since model_api) or ``"nhwc"`` ((1,H,W,K) logits, earlier
    exports); :class:`ArtifactError` for anything else."""
    outputs = entry.get("outputs") or [{}]
    output = outputs[0]
    if output.get("name") == "class_map" or len(output.get("shape") or ()) == 3:
        return "class_map"
    layout = str(output.get("layout", "NHWC")).upper()
    if layout in ("NCHW", "NHWC"):
        return layout.lower()
    raise ArtifactError(f"the IR's output {output.get('name')!r} has layout {layout!r}; accuracy_check's config needs "
                        "NCHW or NHWC logits or a class map: re-export")


def _input_name(entry: dict) -> str:
    """The IR's frame input (``image``), declared NHWC to accuracy_check; :class:`ArtifactError` where the manifest
    records another layout."""
    spec = (entry.get("inputs") or [{}])[0]
    if str(spec.get("layout", "NHWC")).upper() != "NHWC":
        raise ArtifactError(f"the IR's input {spec.get('name')!r} is {spec.get('layout')}, not the NHWC frame "
                            "accuracy_check's config declares: re-export")
    return spec.get("name", "image")


def _dataset(manifest: dict, meta_path: Path) -> dict:
    """The dataset section: CamVid's layout under ``-s``, the frames resized to the model, the class map back."""
    classes = from_meta(manifest)
    model = manifest.get("model") or {}
    metric: Dict[str, Any] = {"type": "mean_iou", "use_argmax": False}
    if classes.ignore_label is not None:
        metric["ignore_label"] = classes.ignore_label
    return {
        "name": "CamVid" if classes == CAMVID else "enet-edge-classes",
        "annotation_conversion": {"converter": "common_semantic_segmentation", "images_dir": SPLIT,
                                  "masks_dir": f"{SPLIT}annot", "dataset_meta_file": str(meta_path)},
        "data_source": SPLIT,
        "segmentation_masks_source": f"{SPLIT}annot",
        "reader": "opencv_imread",
        "preprocessing": [{"type": "resize", "dst_height": int(model["height"]), "dst_width": int(model["width"]),
                           "interpolation": "LINEAR"}],
        "postprocessing": [{"type": "resize_segmentation_mask", "apply_to": "prediction"}],
        "metrics": [metric],
    }


def accuracy_check_config(manifest: dict, location: Path) -> dict:
    """The accuracy_check config (a dict, :func:`to_yaml` writes it) of the export whose ``manifest`` is given, to be
    read from the directory ``location`` (absolute: the dataset meta and, for NCHW logits, the module live there)."""
    entry = (manifest.get("artifacts") or {}).get("openvino_ir")
    if not entry:
        raise ArtifactError(f"export {location} has no OpenVINO IR (target {manifest.get('target')}); accuracy_check's "
                            "config reads enet.xml: export a target with an IR")
    reading = output_reading(entry)
    adapter = ({"type": "segmentation_channels_first"} if reading == "nchw"
               else {"type": "segmentation", "make_argmax": reading == "nhwc"})
    launcher = {"framework": "openvino", "device": "CPU",
                "device_config": {"CPU": {"INFERENCE_PRECISION_HINT": "f32"}},
                "model": entry["file"], "weights": entry.get("weights_file", Path(entry["file"]).stem + ".bin"),
                "adapter": adapter, "inputs": [{"name": _input_name(entry), "type": "INPUT", "layout": "NHWC"}]}
    body = {"launchers": [launcher], "datasets": [_dataset(manifest, Path(location) / AC_META)]}
    name = f"enet-edge-{manifest.get('target', 'export')}"
    if reading != "nchw":
        return {"models": [{"name": name, **body}]}
    return {"evaluations": [{"name": name, "module": f"{Path(AC_MODULE).stem}.Evaluator",
                             "python_path": str(location), "module_config": body}]}


def dataset_meta(manifest: dict) -> dict:
    """accuracy_check's dataset meta of the export's class set: ``label_map`` (id -> name), ``background_label``
    (the ignore label, where there is one), ``segmentation_colors`` (RGB)."""
    classes = from_meta(manifest)
    meta: Dict[str, Any] = {"label_map": {str(i): name for i, name in enumerate(classes.names)},
                            "segmentation_colors": [list(rgb) for rgb in classes.palette_rgb]}
    if classes.ignore_label is not None:
        meta["background_label"] = classes.ignore_label
    return meta


def write_accuracy_check(directory, location=None, manifest: Optional[dict] = None) -> List[Path]:
    """Write :data:`AC_CONFIG`, :data:`AC_META` and (NCHW logits) :data:`AC_MODULE` into the export ``directory``
    (its ``manifest.json`` read unless ``manifest`` is given); the config names ``location`` (default: the directory,
    absolute), where the files will be read from. Returns the paths written."""
    directory = Path(directory)
    manifest = read_manifest(directory) if manifest is None else manifest
    location = Path(os.path.abspath(location if location is not None else directory))
    config = accuracy_check_config(manifest, location)
    command = f"accuracy_check -c {location / AC_CONFIG} -m {location} -s DATA"
    header = (f"# Intel's accuracy_check ({OPENVINO_DEV}) on this export, written by enet-edge export:\n#   {command}\n"
              f"# DATA: CamVid's layout ({SPLIT}/*.png frames, {SPLIT}annot/*.png label ids). docs/intel_tools.md\n")
    written = [atomic_write_text(directory / AC_CONFIG, header + to_yaml(config)),
               atomic_write_text(directory / AC_META, json.dumps(dataset_meta(manifest), indent=2) + "\n")]
    if "evaluations" in config:
        shutil.copyfile(EVALUATOR_SOURCE, directory / AC_MODULE)
        written.append(directory / AC_MODULE)
    return written


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(str(value))  # a double-quoted JSON string is a YAML scalar


def _lines(value: Any, indent: int) -> Iterator[str]:
    pad = " " * indent
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                yield f"{pad}{key}:"
                yield from _lines(item, indent + 2)
            else:
                yield f"{pad}{key}: {_scalar(item) if not isinstance(item, (dict, list)) else json.dumps(item)}"
        return
    for item in value:
        if isinstance(item, (dict, list)) and item:
            nested = list(_lines(item, indent + 2))
            yield f"{pad}- {nested[0][indent + 2:]}"
            yield from nested[1:]
        else:
            yield f"{pad}- {_scalar(item) if not isinstance(item, (dict, list)) else json.dumps(item)}"


def to_yaml(value: Any) -> str:
    """Block YAML of nested dicts (string keys) and lists of strings, numbers, booleans and None; strings
    double-quoted (JSON), so no value is read as another type."""
    return "\n".join(_lines(value, 0)) + "\n"
