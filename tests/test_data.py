"""CamVid loader: directory resolution, clear errors naming the file, BGR frames, class weights."""

import cv2
import numpy as np
import pytest

from enet_edge import camvid as data
from enet_edge.class_sets import NUM_CLASSES, VOID_LABEL
from enet_edge.errors import DataError


def make_split(root, split="train", n=2, size=(8, 12), labels=None, seed=0):
    """Write ``n`` random BGR frames and label maps (ids 0..11) as ``<root>/<split>{,annot}/f{i}.png``."""
    rng = np.random.default_rng(seed)
    (root / split).mkdir(parents=True, exist_ok=True)
    (root / f"{split}annot").mkdir(parents=True, exist_ok=True)
    for i in range(n):
        frame = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
        label = labels[i] if labels is not None else rng.integers(0, NUM_CLASSES, size, dtype=np.uint8)
        assert cv2.imwrite(str(root / split / f"f{i}.png"), frame)
        assert cv2.imwrite(str(root / f"{split}annot" / f"f{i}.png"), label)
    return root


# ------------------------------------------------------------------ directory resolution


def test_resolve_data_dir_argument_then_env(tmp_path, monkeypatch):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    monkeypatch.setenv(data.ENV_VAR, str(b))
    assert data.resolve_data_dir(a) == a
    assert data.resolve_data_dir(None) == b


def test_resolve_data_dir_default_is_shared_camvid(monkeypatch, camvid):
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    resolved = data.resolve_data_dir(None)
    assert resolved.resolve() == camvid.resolve()


def test_resolve_data_dir_missing_is_clear(tmp_path, monkeypatch):
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    missing = tmp_path / "nowhere"
    with pytest.raises(DataError, match="nowhere.*--data-dir"):
        data.resolve_data_dir(missing)
    monkeypatch.setenv(data.ENV_VAR, str(missing))
    with pytest.raises(DataError, match="ENET_EDGE_CAMVID"):
        data.resolve_data_dir(None)


# ------------------------------------------------------------------ splits and loader errors


def test_available_splits_need_both_folders(tmp_path):
    make_split(tmp_path, "train")
    make_split(tmp_path, "test")
    (tmp_path / "val").mkdir()  # no valannot: not a split
    assert data.available_splits(tmp_path) == ["test", "train"]
    with pytest.raises(DataError, match="does not exist"):
        data.available_splits(tmp_path / "nowhere")


def test_missing_split_names_the_splits_present(tmp_path):
    make_split(tmp_path, "train")
    with pytest.raises(DataError, match=r"split 'val' needs .*val.*valannot.*present.*: train$"):
        data.list_split(tmp_path, "val")


def test_empty_split_dir(tmp_path):
    (tmp_path / "val").mkdir()
    (tmp_path / "valannot").mkdir()
    with pytest.raises(DataError, match=r"val contains no images"):
        data.list_split(tmp_path, "val")


def test_missing_annotation_names_the_file(tmp_path):
    make_split(tmp_path, "train", n=3)
    (tmp_path / "trainannot" / "f1.png").unlink()
    with pytest.raises(DataError, match=r"missing annotation .*trainannot/f1\.png for frame .*train/f1\.png"):
        data.list_split(tmp_path, "train")


def test_list_split_pairs_sorted_by_name(tmp_path):
    make_split(tmp_path, "train", n=3)
    pairs = data.list_split(tmp_path, "train")
    assert [(i.name, l.parent.name) for i, l in pairs] == [("f0.png", "trainannot"), ("f1.png", "trainannot"),
                                                          ("f2.png", "trainannot")]


def test_label_above_void_names_file_and_id(tmp_path):
    labels = [np.full((8, 12), 3, np.uint8), np.full((8, 12), 3, np.uint8)]
    labels[1][2, 5] = 12
    make_split(tmp_path, "train", labels=labels)
    with pytest.raises(DataError, match=r"trainannot/f1\.png contains id 12 > 11"):
        data.load_split(tmp_path, "train")
    # the first frame alone is fine: the error is per file
    images, labels_out, names = data.load_split(tmp_path, "train", limit=1)
    assert names == ["f0"] and labels_out.shape == (1, 8, 12)


def test_colour_label_map_is_rejected(tmp_path):
    make_split(tmp_path, "train", n=1)
    cv2.imwrite(str(tmp_path / "trainannot" / "f0.png"), np.zeros((8, 12, 3), np.uint8))
    with pytest.raises(DataError, match=r"f0\.png has shape \(8, 12, 3\).*single-channel"):
        data.read_label(tmp_path / "trainannot" / "f0.png")


def test_size_mismatch_names_both_files(tmp_path):
    make_split(tmp_path, "train", n=2)
    cv2.imwrite(str(tmp_path / "trainannot" / "f1.png"), np.zeros((8, 10), np.uint8))
    with pytest.raises(DataError, match=r"size mismatch: .*train/f1\.png is \(8, 12\), .*trainannot/f1\.png is \(8, 10\)"):
        data.load_split(tmp_path, "train")
    with pytest.raises(DataError, match="size mismatch"):
        data.read_pair(tmp_path / "train" / "f1.png", tmp_path / "trainannot" / "f1.png")


def test_frames_of_different_sizes(tmp_path):
    make_split(tmp_path, "train", n=1, size=(8, 12))
    rng = np.random.default_rng(1)
    cv2.imwrite(str(tmp_path / "train" / "f1.png"), rng.integers(0, 255, (16, 12, 3), dtype=np.uint8))
    cv2.imwrite(str(tmp_path / "trainannot" / "f1.png"), np.zeros((16, 12), np.uint8))
    with pytest.raises(DataError, match=r"f1\.png is \(16, 12\), other frames are \(8, 12\)"):
        data.load_split(tmp_path, "train")


def test_unreadable_files(tmp_path):
    make_split(tmp_path, "train", n=1)
    (tmp_path / "train" / "f0.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match=r"cannot read image .*train/f0\.png"):
        data.read_image_bgr(tmp_path / "train" / "f0.png")
    (tmp_path / "trainannot" / "f0.png").write_bytes(b"")
    with pytest.raises(DataError, match=r"cannot read label map .*trainannot/f0\.png"):
        data.read_label(tmp_path / "trainannot" / "f0.png")


def test_load_split_selection_errors(tmp_path):
    make_split(tmp_path, "train", n=3)
    with pytest.raises(DataError, match="has no frame.*nope"):
        data.load_split(tmp_path, "train", files=["f1", "nope"])
    with pytest.raises(DataError, match="limit=0"):
        data.load_split(tmp_path, "train", limit=0)
    with pytest.raises(DataError, match="no frames"):
        data.load_split(tmp_path, "train", files=[])


def test_load_split_reads_bgr_uint8(tmp_path):
    make_split(tmp_path, "train", n=3)
    frame = np.zeros((8, 12, 3), np.uint8)
    frame[..., 0] = 255  # blue in OpenCV's BGR order
    cv2.imwrite(str(tmp_path / "train" / "f2.png"), frame)
    label = np.arange(96, dtype=np.uint8).reshape(8, 12) % NUM_CLASSES
    cv2.imwrite(str(tmp_path / "trainannot" / "f2.png"), label)
    images, labels, names = data.load_split(tmp_path, "train", files=["f2.png", "f0"])
    assert names == ["f0", "f2"]
    assert images.shape == (2, 8, 12, 3) and images.dtype == np.uint8
    assert labels.shape == (2, 8, 12) and labels.dtype == np.uint8
    assert images[1, 0, 0].tolist() == [255, 0, 0]  # BGR, not swapped to RGB
    np.testing.assert_array_equal(labels[1], label)


def test_camvid_train_counts_match_readme(camvid):
    """All 367 training label maps read cleanly and their pixel counts are the README's."""
    readme = (camvid / "README.md").read_text().splitlines()
    line = readme[next(i for i, l in enumerate(readme) if l.startswith("Pixel counts")) + 1]
    expected = [int(v) for v in line.split(",")]
    counts = np.zeros(NUM_CLASSES, np.int64)
    for _, label_path in data.list_split(camvid, "train"):
        counts += data.class_pixel_counts(data.read_label(label_path))
    assert counts.tolist() == expected


# ------------------------------------------------------------------ class weights


def test_class_pixel_counts():
    labels = np.array([[[0, 0, 1], [11, 11, 3]], [[3, 3, 3], [0, 11, 11]]], np.uint8)
    assert data.class_pixel_counts(labels).tolist() == [3, 1, 0, 4, 0, 0, 0, 0, 0, 0, 0, 4]


def test_class_weights_enet_hand_computed():
    # 6 px of class 0, 2 px of class 1, 4 px void -> p = 0.75, 0.25 over the 8 labelled pixels
    counts = np.array([6, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4])
    w = data.class_weights_enet(counts)
    assert w.dtype == np.float32 and w.shape == (NUM_CLASSES,)
    assert w[0] == pytest.approx(1.75138, abs=1e-5)  # 1 / ln(1.02 + 0.75)
    assert w[1] == pytest.approx(4.18380, abs=1e-5)  # 1 / ln(1.02 + 0.25)
    assert w[2] == pytest.approx(50.4983, abs=1e-3)  # absent class: 1 / ln(1.02)
    assert w[VOID_LABEL] == 0.0
    # the number of void pixels does not change the other weights
    np.testing.assert_allclose(data.class_weights_enet(np.r_[counts[:11], 1000]), w)


def test_class_weights_enet_without_labelled_pixels():
    with pytest.raises(DataError, match="no labelled"):
        data.class_weights_enet(np.r_[np.zeros(11, int), 5])


def test_class_weights_mfb_hand_computed():
    # image A: 2 px class 0, 1 px class 1, 1 px void; image B: 1 px class 0, 3 px class 2
    labels = np.array([[[0, 0], [1, 11]], [[0, 2], [2, 2]]], np.uint8)
    # freq: class 0 = 3 px / 8 px (both images) = .375; class 1 = 1/4 = .25; class 2 = 3/4 = .75
    # median(.375, .25, .75) = .375 -> weights 1.0, 1.5, 0.5; absent classes and void: 0
    w = data.class_weights_mfb(labels)
    expected = np.zeros(NUM_CLASSES, np.float32)
    expected[:3] = [1.0, 1.5, 0.5]
    assert w.dtype == np.float32
    np.testing.assert_allclose(w, expected, rtol=1e-6)
