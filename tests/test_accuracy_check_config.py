"""The accuracy_check config an export carries (enet_edge/export/accuracy_check.py), on tiny exports: which adapter
reads which output, the dataset meta from the class set, the paths it names. That accuracy_check itself scores the
real exports as ``enet-edge eval`` does: tests/test_accuracy_check.py (slow, a throwaway venv)."""

import json

import pytest

from enet_edge.errors import ArtifactError
from enet_edge.export.accuracy_check import (AC_CONFIG, AC_META, AC_MODULE, EVALUATOR_SOURCE, accuracy_check_config,
                                             dataset_meta, output_reading, to_yaml, write_accuracy_check)
from enet_edge.runtime.manifest import read_manifest
from tiny_models import tiny_export


def _manifest(directory, **output):
    manifest = read_manifest(directory)
    if output:
        manifest["artifacts"]["openvino_ir"]["outputs"] = [output]
    return manifest


def test_nchw_logits_use_the_copied_evaluator(tmp_path):
    directory = tiny_export(tmp_path / "ncs2", target="ncs2")
    written = write_accuracy_check(directory)
    assert [p.name for p in written] == [AC_CONFIG, AC_META, AC_MODULE]
    assert (directory / AC_MODULE).read_text() == EVALUATOR_SOURCE.read_text()
    config = accuracy_check_config(read_manifest(directory), directory.resolve())
    evaluation = config["evaluations"][0]
    assert evaluation["module"] == "enet_edge_accuracy_check.Evaluator"
    assert evaluation["python_path"] == str(directory.resolve())
    launcher = evaluation["module_config"]["launchers"][0]
    assert launcher["adapter"] == {"type": "segmentation_channels_first"}
    assert launcher["inputs"] == [{"name": "image", "type": "INPUT", "layout": "NHWC"}]
    assert launcher["device_config"] == {"CPU": {"INFERENCE_PRECISION_HINT": "f32"}}
    text = (directory / AC_CONFIG).read_text()
    assert f"accuracy_check -c {directory.resolve() / AC_CONFIG} -m {directory.resolve()} -s DATA" in text
    assert text.endswith(to_yaml(config))


def test_class_map_and_nhwc_logits_use_accuracy_checks_own_adapter(tmp_path):
    directory = tiny_export(tmp_path / "cm")
    size = read_manifest(directory)["model"]
    class_map = _manifest(directory, name="class_map", shape=[1, size["height"], size["width"]], dtype="int32",
                          layout="NHW")
    model = accuracy_check_config(class_map, directory)["models"][0]
    assert model["launchers"][0]["adapter"] == {"type": "segmentation", "make_argmax": False}
    assert [p.name for p in write_accuracy_check(directory, manifest=class_map)] == [AC_CONFIG, AC_META]
    nhwc = accuracy_check_config(read_manifest(tiny_export(tmp_path / "old", layout="NHWC")), tmp_path / "old")
    assert nhwc["models"][0]["launchers"][0]["adapter"] == {"type": "segmentation", "make_argmax": True}


def test_dataset_section_is_camvids_layout_at_the_model_size(tmp_path):
    directory = tiny_export(tmp_path / "t")
    manifest = read_manifest(directory)
    dataset = accuracy_check_config(manifest, tmp_path / "elsewhere")["evaluations"][0]["module_config"]["datasets"][0]
    assert dataset["name"] == "CamVid"
    assert dataset["annotation_conversion"] == {"converter": "common_semantic_segmentation", "images_dir": "val",
                                                "masks_dir": "valannot",
                                                "dataset_meta_file": str(tmp_path / "elsewhere" / AC_META)}
    assert (dataset["data_source"], dataset["segmentation_masks_source"]) == ("val", "valannot")
    resize = dataset["preprocessing"][0]
    assert (resize["dst_height"], resize["dst_width"]) == (manifest["model"]["height"], manifest["model"]["width"])
    assert dataset["metrics"] == [{"type": "mean_iou", "use_argmax": False, "ignore_label": 11}]
    meta = json.loads(json.dumps(dataset_meta(manifest)))
    assert meta["label_map"]["0"] == "Sky" and meta["background_label"] == 11 and len(meta["segmentation_colors"]) == 12


def test_a_users_class_set(tmp_path):
    manifest = read_manifest(tiny_export(tmp_path / "t"))
    manifest["class_set"] = {"names": ["a", "b", "c"], "palette_rgb": [[0, 0, 0], [1, 1, 1], [2, 2, 2]],
                             "ignore_label": None}
    dataset = accuracy_check_config(manifest, tmp_path)["evaluations"][0]["module_config"]["datasets"][0]
    assert dataset["name"] == "enet-edge-classes"
    assert dataset["metrics"] == [{"type": "mean_iou", "use_argmax": False}]
    assert dataset_meta(manifest) == {"label_map": {"0": "a", "1": "b", "2": "c"},
                                      "segmentation_colors": [[0, 0, 0], [1, 1, 1], [2, 2, 2]]}


def test_no_ir_or_an_unknown_output_layout_is_an_error(tmp_path):
    manifest = read_manifest(tiny_export(tmp_path / "t"))
    with pytest.raises(ArtifactError, match="OpenVINO IR"):
        accuracy_check_config({**manifest, "artifacts": {"onnx": manifest["artifacts"]["onnx"]}}, tmp_path)
    with pytest.raises(ArtifactError, match="layout 'CHWN'"):
        output_reading({"outputs": [{"name": "logits", "shape": [1, 2, 3, 4], "layout": "CHWN"}]})
    assert output_reading({"outputs": [{"name": "logits", "shape": [1, 12, 8, 8], "layout": "NCHW"}]}) == "nchw"
    nchw_input = json.loads(json.dumps(manifest))
    nchw_input["artifacts"]["openvino_ir"]["inputs"][0]["layout"] = "NCHW"
    with pytest.raises(ArtifactError, match="not the NHWC frame"):
        accuracy_check_config(nchw_input, tmp_path)


def test_to_yaml():
    assert to_yaml({"a": [{"b": 1, "c": [True, None]}, "x"], "d": {}, "e": "s: t"}) == (
        'a:\n  - b: 1\n    c:\n      - true\n      - null\n  - "x"\nd: {}\ne: "s: t"\n')
