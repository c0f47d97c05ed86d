"""``enet-edge eval``: metrics through the device runner, at label resolution, for every model form.

Synthetic tests use a fake :class:`InferenceAdapter` on a tiny data directory (hand-computed
numbers); the others run the tiny 32x48 exports of tests/tiny_models.py (fast: the evaluation's mechanics) or
the real 64x96 exports of ``small_exports`` (slow: real-model numbers) on the first CamVid val frames.
"""

import io
import dataclasses
import json
import math
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from enet_edge import metrics
from enet_edge.device import evaluate as ev
from enet_edge.class_sets import CAMVID_CLASSES, NUM_CLASSES
from enet_edge.cli import main
from enet_edge.errors import ConfigError, DataError
from enet_edge.runtime import InferenceAdapter, Segmenter, TensorSpec, read_manifest

from tiny_models import TINY_SIZE

ROAD, SKY, CAR, VOID = 3, 0, 8, 11
N_FRAMES = 2  # real-model tests: first val frames


class FakeAdapter(InferenceAdapter):
    """Model of size (h, w) taking uint8 BGR; predicts ``constant`` everywhere, or the class ``blue // 20``."""

    backend, device, precision, path = "fake", "CPU", "f32", "fake.xml"

    def __init__(self, h, w, constant=None, num_classes=NUM_CLASSES):
        self.constant = constant
        self.input_spec = TensorSpec("image", (1, h, w, 3), "uint8")
        self.output_spec = TensorSpec("logits", (1, h, w, num_classes), "float32")
        self.calls = 0

    def infer(self, tensor):
        tensor = self.check_input(tensor)
        self.calls += 1
        _, h, w, k = self.output_spec.shape
        ids = np.full((h, w), self.constant) if self.constant is not None else np.rint(tensor[0, ..., 0] / 20)
        return np.eye(k, dtype=np.float32)[ids.astype(int).clip(0, k - 1)][None]


def write_split(root, labels, split="val", encode=True):
    """Frames whose blue channel is ``20 * label`` (what FakeAdapter decodes) and their label maps."""
    (root / split).mkdir(parents=True)
    (root / f"{split}annot").mkdir()
    for i, label in enumerate(labels):
        frame = np.zeros((*label.shape, 3), np.uint8)
        if encode:
            frame[..., 0] = label * 20
        cv2.imwrite(str(root / split / f"f{i}.png"), frame)
        cv2.imwrite(str(root / f"{split}annot" / f"f{i}.png"), label.astype(np.uint8))
    return root


def hand_labels():
    """Frame 0 (4x6): 12 Road, 6 Sky, 6 void; frame 1: 24 Car."""
    a = np.full((4, 6), ROAD, np.uint8)
    a[2, :] = SKY
    a[3, :] = VOID
    return [a, np.full((4, 6), CAR, np.uint8)]


def cfg_for(tmp_path, model="fake.xml", **kw):
    kw.setdefault("data_dir", tmp_path / "data")
    kw.setdefault("confusion_path", tmp_path / "cm.png")
    kw.setdefault("progress", False)
    return ev.EvalConfig(model=model, **kw)


# ------------------------------------------------------------------ hand-computed, fake model


def test_constant_prediction_hand_computed(tmp_path):
    write_split(tmp_path / "data", hand_labels())
    segmenter = Segmenter(FakeAdapter(2, 3, constant=ROAD))  # model smaller than the labels
    r = ev.evaluate(cfg_for(tmp_path, json_path=tmp_path / "out" / "m.json"), segmenter=segmenter)
    # Road: TP 12, FP 6 (Sky) + 24 (Car) -> 12/42; Sky and Car: 0; the other 8 classes: absent (NaN)
    assert r.per_class_iou["Road"] == pytest.approx(12 / 42)
    assert r.per_class_iou["Sky"] == 0.0 and r.per_class_iou["Car"] == 0.0
    assert all(math.isnan(r.per_class_iou[c]) for c in ("Building", "Pole", "Bicyclist"))
    assert r.miou == pytest.approx(12 / 42 / 3)
    assert r.pixel_accuracy == pytest.approx(12 / 42)
    assert r.mean_class_accuracy == pytest.approx(1 / 3)
    # counted at label resolution (42 labelled pixels), not at the 2x3 model size
    assert r.confusion.sum() + r.misses.sum() == 42
    assert r.n_images == 2 and r.model_size == (2, 3) and r.label_sizes == ((4, 6),)
    assert segmenter.adapter.calls == 2

    data = json.loads((tmp_path / "out" / "m.json").read_text(), parse_constant=pytest.fail)
    for key in ("model", "split", "n_images", "miou", "per_class_iou", "pixel_accuracy", "mean_class_accuracy"):
        assert key in data
    assert data["split"] == "val" and data["n_images"] == 2 and data["model"] == "fake.xml"
    assert list(data["per_class_iou"]) == list(CAMVID_CLASSES[:11])
    assert data["per_class_iou"]["Building"] is None  # NaN is written as null: strict JSON
    assert data["miou"] == pytest.approx(12 / 42 / 3)
    assert data["confusion_matrix"][SKY][ROAD] == 6 and data["confusion_matrix"][CAR][ROAD] == 24


def test_predicted_void_is_a_miss(tmp_path):
    write_split(tmp_path / "data", hand_labels())
    r = ev.evaluate(cfg_for(tmp_path), segmenter=Segmenter(FakeAdapter(4, 6, constant=VOID)))
    assert r.confusion.sum() == 0 and r.misses[ROAD] == 12 and r.misses.sum() == 42
    assert r.miou == 0.0 and r.pixel_accuracy == 0.0


def test_segmenter_miou_hand_computed_and_closes_the_adapter(tmp_path):
    from enet_edge.camvid import list_split

    pairs = list_split(write_split(tmp_path / "data", hand_labels()), "val")
    adapter = FakeAdapter(2, 3, constant=ROAD)
    closed = []
    adapter.close = lambda: closed.append(True)
    assert metrics.segmenter_miou(Segmenter(adapter), pairs) == pytest.approx(12 / 42 / 3)
    assert closed == [True]
    broken = FakeAdapter(2, 3, constant=ROAD)
    broken.close = lambda: closed.append("after error")
    broken.infer = lambda tensor: 1 / 0
    with pytest.raises(ZeroDivisionError):
        metrics.segmenter_miou(Segmenter(broken), pairs)
    assert closed == [True, "after error"]


def test_resize_to_model_and_back_keeps_labels(tmp_path):
    """A perfect model at half the label size is perfect at label size (2x2 label blocks)."""
    rng = np.random.default_rng(0)
    labels = [np.kron(rng.integers(0, 12, (8, 12)), np.ones((2, 2), int)).astype(np.uint8) for _ in range(3)]
    write_split(tmp_path / "data", labels)
    stream = io.StringIO()
    r = ev.evaluate(cfg_for(tmp_path, limit=2, progress=True), segmenter=Segmenter(FakeAdapter(8, 12)), stream=stream)
    assert r.n_images == 2 and r.label_sizes == ((16, 24),)
    assert r.miou == 1.0 and r.pixel_accuracy == 1.0 and r.mean_class_accuracy == 1.0
    assert r.confusion.sum() == sum(int((l != VOID).sum()) for l in labels[:2])
    assert "eval val [" in stream.getvalue() and "2/2" in stream.getvalue()  # progress bar


def test_confusion_png_next_to_json(tmp_path):
    write_split(tmp_path / "data", hand_labels())
    cfg = cfg_for(tmp_path, json_path=tmp_path / "r" / "x.json", confusion_path=None)
    r = ev.evaluate(cfg, segmenter=Segmenter(FakeAdapter(4, 6, constant=ROAD)))
    png = tmp_path / "r" / "x_confusion.png"
    assert r.confusion_png == str(png)
    image = cv2.imread(str(png))
    assert image is not None and image.shape[0] > 300 and image.shape[1] > 300
    assert json.loads((tmp_path / "r" / "x.json").read_text())["confusion_png"] == str(png)


def test_data_errors_before_the_model_is_opened(tmp_path):
    labels = hand_labels()
    write_split(tmp_path / "data", labels)
    with pytest.raises(DataError, match=r"split 'test' needs .*present in .*: val"):
        ev.evaluate(cfg_for(tmp_path, model=tmp_path / "missing.xml", split="test"))
    cv2.imwrite(str(tmp_path / "data" / "valannot" / "f1.png"), np.zeros((4, 5), np.uint8))
    with pytest.raises(DataError, match=r"size mismatch: .*val/f1\.png"):
        ev.evaluate(cfg_for(tmp_path), segmenter=Segmenter(FakeAdapter(4, 6, constant=ROAD)))


def test_labels_outside_the_models_classes_are_refused(tmp_path):
    """A 5-class model is scored over its own classes (test_class_sets.py); CamVid labels (ids up to 11) do
    not fit it, and that is an error naming the label map, not a silent score."""
    write_split(tmp_path / "data", hand_labels())
    with pytest.raises(DataError, match="contains id 11 > 4"):
        ev.evaluate(cfg_for(tmp_path), segmenter=Segmenter(FakeAdapter(4, 6, 0, num_classes=5),
                                                           classes=list("abcde"), palette_rgb=[(0, 0, 0)] * 5))


@pytest.mark.parametrize("kwargs, match", [
    ({"split": ""}, "split"),
    ({"split": "../val"}, "split"),
    ({"limit": 0}, "limit"),
    ({"limit": 1.5}, "limit"),
    ({"backend": "tensorrt"}, "backend"),
    ({"device": ""}, "device"),
    ({"height": 64}, "both height and width"),
    ({"height": 64, "width": 96}, "fixed input size"),  # not .npz
    ({"model": "w.npz", "height": 60, "width": 96}, "multiple of 8"),
    ({"model": "w.npz", "backend": "openvino"}, "keras backend"),
    ({"precision": "f8"}, "not one of f32, f16, bf16"),
    ({"model": "w.npz", "precision": "bf16"}, "keras backend computes in f32 or f16"),
    ({"model": "m.onnx", "precision": "f16"}, "onnxruntime backend runs f32 only"),
    ({"model": "build/cpu", "backend": "tensorflow", "precision": "bf16"}, "tensorflow backend runs f32 only"),
    ({"model": "m.onnx", "backend": "keras"}, "npz"),
    ({"model": ""}, "path"),
])
def test_eval_config_validation(kwargs, match):
    kwargs = {"model": "build/cpu", **kwargs}
    with pytest.raises(ConfigError, match=match):
        ev.EvalConfig(**kwargs)


def test_eval_config_converts_paths():
    cfg = ev.EvalConfig(model="w.npz", data_dir="d", json_path="o.json", height=64, width=96)
    assert cfg.model.suffix == ".npz" and cfg.data_dir.name == "d" and cfg.json_path.name == "o.json"
    with pytest.raises(AttributeError):
        cfg.split = "train"  # frozen


def test_model_name_and_default_png_path(tmp_path):
    (tmp_path / "cpu").mkdir()
    assert ev.model_name(tmp_path / "cpu") == "cpu"
    assert ev.model_name(tmp_path / "ncs2" / "enet.xml") == "ncs2_enet"
    assert ev.confusion_png_path(ev.EvalConfig(model=tmp_path / "cpu", split="train")) == \
        ev.DEFAULT_OUT_DIR / "cpu_train_confusion.png"
    assert ev.confusion_png_path(ev.EvalConfig(model="m.onnx", json_path="a/b.json")).as_posix() == "a/b_confusion.png"
    assert ev.confusion_png_path(ev.EvalConfig(model="m.onnx", json_path="a/b.json", confusion_path="c.png")).name == "c.png"


def test_row_normalize_hand_computed():
    cm = np.array([[3, 1], [0, 0]])
    norm = ev.row_normalize(cm, np.array([4, 0]))
    np.testing.assert_allclose(norm, [[0.375, 0.125, 0.5], [0.0, 0.0, 0.0]])


def test_format_result_and_nan(tmp_path):
    write_split(tmp_path / "data", hand_labels())
    r = ev.evaluate(cfg_for(tmp_path), segmenter=Segmenter(FakeAdapter(4, 6, constant=ROAD)))
    text = ev.format_result(r)
    assert f"{100 * 12 / 42 / 3:.2f}" in text.splitlines()[-4]  # the mIoU line, in percent
    assert "Building" in text and "n/a" in text
    assert "ms/inference" in text


@pytest.mark.parametrize("split, trained_on_val, noted", [("val", True, True), ("val", False, False),
                                                          ("train", True, False)])
def test_format_result_says_when_val_was_trained_on(tmp_path, split, trained_on_val, noted):
    write_split(tmp_path / "data", hand_labels())
    r = ev.evaluate(cfg_for(tmp_path), segmenter=Segmenter(FakeAdapter(4, 6, constant=ROAD)))
    r = dataclasses.replace(r, split=split, model_info={"kind": "weights", "weights": {"val_trained_on": trained_on_val}})
    assert ("not a held-out score" in ev.format_result(r)) == noted


# ------------------------------------------------------------------ real exports on CamVid val frames


def reference_iou(segmenter, camvid, n):
    """Per-class IoU computed independently: per frame, per class, with boolean masks at label size."""
    from enet_edge import camvid as data

    inter, union = np.zeros(11), np.zeros(11)
    for image_path, label_path in data.list_split(camvid, "val")[:n]:
        label = data.read_label(label_path)
        pred = segmenter.infer(data.read_image_bgr(image_path)).frame_class_map
        assert pred.shape == label.shape
        labelled = label != VOID
        for c in range(11):
            inter[c] += np.sum((pred == c) & (label == c))
            union[c] += np.sum(((pred == c) & labelled) | (label == c))
    return inter, union


def _evaluate_export(export_dir, camvid, out):
    cfg = ev.EvalConfig(model=export_dir, data_dir=camvid, limit=N_FRAMES, progress=False, json_path=out)
    return ev.evaluate(cfg)


def _check_matches_reference(r, export_dir, camvid, size, target):
    assert r.n_images == N_FRAMES and r.model_size == size and r.label_sizes == ((360, 480),)
    assert r.backend == "openvino" and r.model_info["kind"] == "export" and r.model_info["target"] == target
    inter, union = reference_iou(Segmenter.open(export_dir, precision="f32"), camvid, N_FRAMES)  # what eval asks for
    expected = {name: (i / u if u else float("nan")) for name, i, u in zip(CAMVID_CLASSES, inter, union)}
    for name, value in r.per_class_iou.items():
        assert (math.isnan(value) and math.isnan(expected[name])) or value == pytest.approx(expected[name], abs=1e-12)
    assert r.miou == pytest.approx(np.nanmean(list(expected.values())))
    assert Path(r.json_path).is_file() and Path(r.confusion_png).is_file()


@pytest.fixture(scope="module")
def tiny_result(tiny_tf_export_dir, camvid, tmp_path_factory):
    return _evaluate_export(tiny_tf_export_dir, camvid, tmp_path_factory.mktemp("eval") / "tiny.json")


@pytest.fixture(scope="module")
def cpu_result(small_exports, camvid, tmp_path_factory):
    return _evaluate_export(small_exports["cpu"], camvid, tmp_path_factory.mktemp("eval") / "cpu.json")


def test_tiny_export_dir_matches_independent_computation(tiny_result, tiny_tf_export_dir, camvid):
    _check_matches_reference(tiny_result, tiny_tf_export_dir, camvid, TINY_SIZE, "tiny")


def test_export_dir_matches_independent_computation(cpu_result, small_exports, camvid):
    """The real cpu export (trained weights: most classes present, so every IoU term is exercised)."""
    _check_matches_reference(cpu_result, small_exports["cpu"], camvid, (64, 96), "cpu")


FORMS = {"enet.onnx": "onnxruntime", "enet_frozen.pb": "tensorflow", "ncs2": "openvino", "enet.onnx:opencv": "opencv"}
"""Each artifact form eval runs (``file[:backend]`` of the export, or the ncs2 export) -> the backend that runs it."""


@pytest.mark.parametrize("form", FORMS)
def test_every_backend_gives_the_same_number_on_the_tiny_model(form, tiny_result, tiny_tf_export_dir, tiny_ncs2_dir,
                                                                camvid, tmp_path):
    """The same function as ONNX, frozen graph and FP16-weight IR: eval runs each backend to the same confusion."""
    file, _, asked = form.partition(":")
    model = tiny_ncs2_dir if form == "ncs2" else tiny_tf_export_dir / file
    r = ev.evaluate(ev.EvalConfig(model=model, data_dir=camvid, limit=N_FRAMES, progress=False, backend=asked or None,
                                  confusion_path=tmp_path / "cm.png"))
    assert r.backend == FORMS[form]
    assert r.n_images == N_FRAMES and r.model_size == TINY_SIZE
    changed = np.abs(r.confusion - tiny_result.confusion).sum() + np.abs(r.misses - tiny_result.misses).sum()
    assert changed <= 0.01 * tiny_result.confusion.sum()  # argmax flips of near-ties only
    assert abs(r.miou - tiny_result.miou) < 0.005


@pytest.mark.parametrize("form", FORMS)
def test_every_artifact_gives_the_same_number(form, cpu_result, small_exports, camvid, tmp_path):
    """ONNX Runtime, OpenCV DNN, the frozen graph and the NCS2 FP16 IR (on CPU) agree with the CPU IR on real frames
    (class agreement: flat regions have arg-max near-ties)."""
    file, _, asked = form.partition(":")
    model = small_exports["ncs2"] if form == "ncs2" else small_exports["cpu"] / file
    r = ev.evaluate(ev.EvalConfig(model=model, data_dir=camvid, limit=N_FRAMES, progress=False, backend=asked or None,
                                  confusion_path=tmp_path / "cm.png"))
    assert r.backend == FORMS[form]
    assert r.n_images == N_FRAMES and r.model_size == (64, 96)
    changed = np.abs(r.confusion - cpu_result.confusion).sum() + np.abs(r.misses - cpu_result.misses).sum()
    assert changed <= 0.01 * cpu_result.confusion.sum()  # argmax flips of near-ties only
    assert abs(r.miou - cpu_result.miou) < 0.005


def test_npz_weights_give_the_export_number(small_exports, camvid, tmp_path, cpu_result):
    """The weights the cpu export was made from (shipped or seeded random), run in Keras through the same Segmenter."""
    from enet_edge.model import enet
    from enet_edge.model.weights import save_weights, set_weights
    from enet_edge.export.pipeline import ExportRequest, load_model_weights
    from enet_edge.export.targets import load_target

    info = read_manifest(small_exports["cpu"])["weights"]
    if info.get("path"):
        weights_path = info["path"]
    else:
        request = ExportRequest(target=load_target("cpu"), out_dir=tmp_path, seed=info["seed"])
        weights, config, _ = load_model_weights(request, log=lambda m: None)
        model = enet.build_enet(config.replace(height=64, width=96))
        set_weights(model, weights)
        weights_path = save_weights(model, tmp_path / "w.npz", config)
    r = ev.evaluate(ev.EvalConfig(model=weights_path, data_dir=camvid, limit=N_FRAMES, progress=False,
                                  height=64, width=96, confusion_path=tmp_path / "cm.png"))
    assert r.backend == "keras" and r.model_size == (64, 96) and r.model_info["kind"] == "weights"
    changed = np.abs(r.confusion - cpu_result.confusion).sum() + np.abs(r.misses - cpu_result.misses).sum()
    assert changed <= 0.01 * cpu_result.confusion.sum()
    assert abs(r.miou - cpu_result.miou) < 0.005
    # another input size for weights (fully convolutional): runs, and is counted at label size
    r2 = ev.evaluate(ev.EvalConfig(model=weights_path, data_dir=camvid, limit=1, progress=False, height=48, width=64,
                                   confusion_path=tmp_path / "cm2.png"))
    assert r2.model_size == (48, 64) and r2.confusion.sum() + r2.misses.sum() > 0.8 * 360 * 480


def test_cli_eval(tiny_export_dir, camvid, tmp_path, capsys):
    out = tmp_path / "cli.json"
    rc = main(["eval", str(tiny_export_dir), "--split", "val", "--data-dir", str(camvid), "--limit", "1",
               "--json", str(out)])
    captured = capsys.readouterr()
    assert rc == 0
    assert "mIoU (11 classes)" in captured.out
    trained = read_manifest(tiny_export_dir)["weights"].get("trained")
    assert ("UNTRAINED" in captured.out) == (not trained)
    assert "eval val [" in captured.err  # progress bar on stderr
    data = json.loads(out.read_text())
    assert data["n_images"] == 1 and 0.0 <= data["miou"] <= 1.0 and 0.0 <= data["pixel_accuracy"] <= 1.0
    assert (tmp_path / "cli_confusion.png").is_file()


@pytest.mark.parametrize("argv, match", [
    (["eval", "{tmp}/nothing"], "does not exist"),
    (["eval", "{cpu}", "--split", "test"], r"split 'test' needs .*splits present in .*: train, val"),
    (["eval", "{cpu}", "--size", "64", "96"], "fixed input size"),
])
def test_cli_errors_are_one_line(argv, match, tiny_export_dir, camvid, tmp_path, capsys):
    argv = [a.format(tmp=tmp_path, cpu=tiny_export_dir) for a in argv] + ["--data-dir", str(camvid)]
    rc = main(argv)
    err = capsys.readouterr().err.strip()
    assert rc != 0
    assert err.startswith("enet-edge eval: error: ") and "\n" not in err
    assert re.search(match, err)


@pytest.mark.slow  # the trained weights' FP16 robustness (Keras, built twice); the f16 path itself: test_backends
def test_npz_weights_in_fp16_arithmetic_stay_close_to_fp32(camvid_frames):
    """`enet-edge eval weights.npz --precision f16`: the NCS2's FP16 arithmetic, emulated with Keras float16."""
    from enet_edge.runtime import KerasWeightsAdapter

    weights = Path(__file__).resolve().parents[1] / "weights" / "enet_camvid.npz"
    f32 = KerasWeightsAdapter(weights, height=96, width=128)
    f16 = KerasWeightsAdapter(weights, height=96, width=128, precision="f16")
    assert f16.precision == "f16" and f32.precision == "f32"
    x = Segmenter(f32).preprocess(camvid_frames[0])
    a, b = f32.infer(x), f16.infer(x)
    assert b.dtype == np.float32 and not np.array_equal(a, b)  # really computed in another precision
    assert (a.argmax(-1) == b.argmax(-1)).mean() > 0.95
