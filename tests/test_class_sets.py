"""Any class set: class files, the metric over a model's classes minus its ignore label, and class sets
travelling from weights to manifests, eval and train (CamVid's only where nothing says otherwise)."""

import json

import cv2
import numpy as np
import pytest

from enet_edge import class_sets
from enet_edge.device import evaluate as ev
from enet_edge.device.evaluate import run as eval_run
from enet_edge.class_sets import CAMVID, ClassSet, from_meta, read_class_file
from enet_edge.errors import ConfigError
from enet_edge.metrics import ConfusionAccumulator, accumulator_for
from enet_edge.runtime import InferenceAdapter, Segmenter, TensorSpec

THREE = ClassSet(("background", "person", "car"), ((0, 0, 0), (220, 20, 60), (0, 0, 142)), None)


def test_class_file_json_and_toml(tmp_path):
    toml = tmp_path / "c.toml"
    toml.write_text('ignore_label = 2\n[[classes]]\nname = "bg"\ncolor = [1, 2, 3]\n[[classes]]\nname = "fg"\n'
                    '[[classes]]\nname = "void"\n')
    js = tmp_path / "c.json"
    js.write_text(json.dumps({"ignore_label": 2, "classes": [{"name": "bg", "color": [1, 2, 3]}, "fg", {"name": "void"}]}))
    for path in (toml, js):
        classes = read_class_file(path)
        assert classes.names == ("bg", "fg", "void") and classes.ignore_label == 2
        assert classes.palette_rgb[0] == (1, 2, 3) and len(set(classes.palette_rgb)) == 3
        assert classes.metric_names == ("bg", "fg")


@pytest.mark.parametrize("data, match", [
    ({"classes": []}, "non-empty"),
    ({"classes": [{"name": "a"}, {"name": "a"}]}, "unique"),
    ({"classes": [{"name": "a", "color": [0, 0, 300]}]}, "0..255"),
    ({"classes": [{"name": "a"}], "ignore_label": 1}, "ignore_label 1"),
    ({"classes": [{"color": [0, 0, 0]}]}, "needs a 'name'"),
])
def test_bad_class_files_are_clear_errors(tmp_path, data, match):
    path = tmp_path / "c.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match=match):
        read_class_file(path)


def test_defaults_camvid_for_12_else_generic():
    assert class_sets.default_for(12) == CAMVID
    generic = class_sets.default_for(5)
    assert generic.names == tuple(f"class_{i}" for i in range(5)) and generic.ignore_label is None
    assert len(set(generic.palette_rgb)) == 5
    assert from_meta({}, 12) == CAMVID and from_meta({"classes": THREE.to_dict()}) == THREE
    manifest = {"classes": list(THREE.names), "palette_rgb": [list(c) for c in THREE.palette_rgb], "void_label": None}
    assert from_meta(manifest) == THREE


def test_camvid_accumulator_is_the_old_one(rng):
    labels = rng.integers(0, 12, (50, 60))
    predictions = rng.integers(0, 12, (50, 60))
    new, old = accumulator_for(), ConfusionAccumulator()
    new.update(labels, predictions)
    old.update(labels, predictions)
    assert new.scores() == old.scores()
    assert list(new.scores()["per_class_iou"]) == list(CAMVID.metric_names)


def test_ignore_label_in_the_middle_is_left_out(rng):
    """Label 1 ignored: its pixels are skipped, predicting it is a miss, the other classes keep their names."""
    classes = ClassSet(("a", "void", "b"), ((0, 0, 0), (1, 1, 1), (2, 2, 2)), ignore_label=1)
    acc = accumulator_for(classes)
    labels = np.array([0, 0, 1, 2, 2, 2])
    predictions = np.array([0, 1, 0, 2, 2, 0])
    acc.update(labels, predictions)
    scores = acc.scores()
    assert list(scores["per_class_iou"]) == ["a", "b"]
    # a: TP 1, FN 1 (predicted void), FP 1 (a b pixel) -> 1/3; b: TP 2, FN 1 -> 2/3; the void pixel is skipped
    assert scores["per_class_iou"]["a"] == pytest.approx(1 / 3)
    assert scores["per_class_iou"]["b"] == pytest.approx(2 / 3)
    assert acc.cm.sum() + acc.misses.sum() == 5


class ConstantAdapter(InferenceAdapter):
    backend, device, precision, path = "fake", "CPU", "f32", "fake.xml"

    def __init__(self, h, w, num_classes, constant):
        self.constant = constant
        self.input_spec = TensorSpec("image", (1, h, w, 3), "uint8")
        self.output_spec = TensorSpec("logits", (1, h, w, num_classes), "float32")

    def infer(self, tensor):
        _, h, w, k = self.output_spec.shape
        return np.eye(k, dtype=np.float32)[np.full((h, w), self.constant)][None]


def test_eval_scores_the_models_own_classes(tmp_path):
    root = tmp_path / "data"
    (root / "val").mkdir(parents=True)
    (root / "valannot").mkdir()
    label = np.array([[0, 0, 1], [2, 2, 2]], np.uint8)  # 2 background, 1 person, 3 car
    cv2.imwrite(str(root / "val" / "f0.png"), np.zeros((2, 3, 3), np.uint8))
    cv2.imwrite(str(root / "valannot" / "f0.png"), label)
    segmenter = Segmenter(ConstantAdapter(2, 3, 3, constant=2), THREE.names, THREE.palette_rgb, THREE.ignore_label)
    cfg = ev.EvalConfig(model="fake.xml", data_dir=root, confusion_path=tmp_path / "cm.png", progress=False,
                        json_path=tmp_path / "m.json")
    result = ev.evaluate(cfg, segmenter=segmenter)
    assert result.metric_classes == THREE.names
    assert result.per_class_iou["car"] == pytest.approx(0.5) and result.per_class_iou["person"] == 0.0
    assert result.miou == pytest.approx(0.5 / 3)
    assert "mIoU (3 classes)" in ev.format_result(result)
    assert json.loads((tmp_path / "m.json").read_text())["classes"] == list(THREE.names)


def test_manifest_takes_the_weights_classes():
    from enet_edge.errors import ArtifactError
    from enet_edge.export.report import model_classes
    from enet_edge.model.config import ENetConfig

    assert model_classes({"classes": THREE.to_dict()}, ENetConfig(num_classes=3)) == THREE
    assert model_classes({"trained": True}, ENetConfig()) == CAMVID
    with pytest.raises(ArtifactError, match="the weights name 3 classes but the network has 12 outputs"):
        model_classes({"classes": THREE.to_dict()}, ENetConfig())


def test_one_schema_for_weights_manifest_and_ir():
    """Weights meta, manifest and IR rt_info carry ClassSet.to_dict(); from_meta reads each back (and the
    keys of earlier manifests, written beside it)."""
    entries = THREE.manifest_entries()
    assert entries["class_set"] == THREE.to_dict() == {"names": list(THREE.names), "ignore_label": None,
                                                        "palette_rgb": [list(c) for c in THREE.palette_rgb]}
    assert entries["classes"] == list(THREE.names) and entries["void_label"] is None
    assert entries["palette_rgb"] == [list(c) for c in THREE.palette_rgb]
    info = CAMVID.rt_info()
    assert all(isinstance(v, str) for v in info.values())
    assert info["labels"].split()[3] == "Road" and info["palette_rgb"].split(";")[0] == "128,128,128"
    for container in ({"classes": THREE.to_dict()}, json.loads(json.dumps(entries)), THREE.rt_info(), CAMVID.rt_info()):
        assert from_meta(container) in (THREE, CAMVID)
    assert from_meta(THREE.rt_info()) == THREE and from_meta(CAMVID.rt_info()) == CAMVID
    legacy = {k: v for k, v in entries.items() if k != "class_set"}  # a manifest written before class_set
    assert from_meta(legacy) == THREE
    with pytest.raises(ConfigError, match="is not JSON"):
        from_meta({"class_set": "{names"})


def test_the_artifact_resolves_its_classes_once(tmp_path, tiny_export_dir, monkeypatch):
    """Artifact.classes: the manifest's (an export), the meta's (.npz weights), CamVid's (a bare file); read once."""
    import shutil

    from enet_edge.errors import ArtifactError
    from enet_edge.runtime import manifest as runtime_manifest
    from enet_edge.runtime.manifest import resolve_artifact

    export = tmp_path / "export"
    shutil.copytree(tiny_export_dir, export)
    manifest = json.loads((export / "manifest.json").read_text())
    manifest.update(THREE.manifest_entries())
    (export / "manifest.json").write_text(json.dumps(manifest))
    artifact = resolve_artifact(export)
    calls = []
    monkeypatch.setattr(runtime_manifest, "artifact_classes", lambda a, n: calls.append(a) or THREE)
    assert artifact.classes == THREE and artifact.classes is artifact.classes and len(calls) == 1
    monkeypatch.undo()
    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy(export / "enet.xml", bare / "enet.xml")
    assert resolve_artifact(bare / "enet.xml").classes == CAMVID
    weights = tmp_path / "w.npz"
    np.savez(weights, __enet_meta__=np.array(json.dumps({"classes": THREE.to_dict()})),
             __enet_config__=np.array(json.dumps({"num_classes": 3})))
    assert resolve_artifact(weights).classes == THREE
    manifest["class_set"] = {"names": ["a"]}
    (export / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="class set recorded for .* is damaged"):
        resolve_artifact(export).classes


def test_train_config_takes_a_class_file(tmp_path):
    from enet_edge.workstation.train import TrainConfig, class_weights_for

    path = tmp_path / "c.json"
    path.write_text(json.dumps({"ignore_label": 0, "classes": ["void", "road", "car"]}))
    cfg = TrainConfig(classes_file=str(path), class_weighting="none")
    assert cfg.model_config(64, 64, 1).num_classes == 3 and cfg.class_set.ignore_label == 0
    np.testing.assert_array_equal(class_weights_for(cfg, np.zeros((1, 4, 4), np.uint8)), [0, 1, 1])
    assert TrainConfig(num_classes=5).class_set.names[4] == "class_4"
    with pytest.raises(ConfigError, match="--num-classes 4 but"):
        TrainConfig(classes_file=str(path), num_classes=4)


def test_eval_of_weights_takes_the_classes_of_the_resolved_artifact(tmp_path):
    """An .npz through eval's keras path: the segmenter has the weights meta's classes (Artifact.classes) and its
    artifact, from which eval's model description is read."""
    from enet_edge.model import enet
    from enet_edge.model.config import ENetConfig
    from enet_edge.model.weights import save_weights

    config = ENetConfig(num_classes=3, height=32, width=32, batch=1)
    path = save_weights(enet.build_enet(config), tmp_path / "w.npz", config, {"classes": THREE.to_dict()})
    segmenter = ev.open_segmenter(ev.EvalConfig(model=path, height=32, width=32, progress=False))
    try:
        assert segmenter.class_set == THREE and segmenter.artifact.classes == THREE
        assert segmenter.artifact.path == path and eval_run._model_info(segmenter)["kind"] == "weights"
    finally:
        segmenter.adapter.close()
