"""enet_edge.device.frames and the two frame sources on it: the bench's indexed frames, the demo's sequence."""

from pathlib import Path

import numpy as np
import pytest

from enet_edge import camvid
from enet_edge.device import frames
from enet_edge.device.bench.measure import FrameSource as BenchFrames
from enet_edge.device.demo.sources import ImageSource, open_source
from enet_edge.errors import ConfigError, InputError
from enet_edge.runtime.segmenter import resize_to_model

cv2 = pytest.importorskip("cv2")


def write_images(folder: Path, names, size=(6, 8)):
    """Tiny PNG/JPG files whose pixels all hold their index (to tell them apart when read back)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        assert cv2.imwrite(str(folder / name), np.full((size[0], size[1], 3), 10 * (i + 1), np.uint8))
    return folder


@pytest.fixture
def folder(tmp_path):
    root = write_images(tmp_path / "frames", ["f10.png", "f2.png", "F1.PNG", "f3.jpg"])
    (root / "notes.txt").write_text("not an image")
    (root / "sub.png").mkdir()  # a folder named like an image is not one
    return root


def test_one_list_of_image_endings():
    assert frames.IMAGE_SUFFIXES is camvid.IMAGE_SUFFIXES
    assert {".png", ".jpg", ".jpeg", ".bmp"} <= set(frames.IMAGE_SUFFIXES)
    assert frames.is_image_name("a/B.JPEG") and not frames.is_image_name("a/b.txt")


def test_natural_order():
    names = ["f10.png", "f2.png", "F1.png", "0016E5_07959.png", "0016E5_08001.png"]
    assert sorted(names, key=frames.natural_key) == ["0016E5_07959.png", "0016E5_08001.png", "F1.png", "f2.png",
                                                    "f10.png"]


def test_image_files_filters_and_sorts(folder):
    files = frames.image_files(folder.iterdir())
    assert [p.name for p in files] == ["F1.PNG", "f2.png", "f3.jpg", "f10.png"]
    assert all(isinstance(p, Path) for p in files)
    assert frames.image_files([str(folder / "f2.png"), str(folder / "missing.png")]) == [folder / "f2.png"]


def test_read_image_is_bgr_uint8_or_a_clear_error(tmp_path):
    grey = tmp_path / "grey.png"
    cv2.imwrite(str(grey), np.full((4, 5), 7, np.uint8))
    image = frames.read_image(grey)
    assert image.shape == (4, 5, 3) and image.dtype == np.uint8 and (image == 7).all()
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    with pytest.raises(InputError, match=r"cannot read image .*broken\.png"):
        frames.read_image(broken)


def test_bench_frames_index_a_folder(folder):
    source = BenchFrames.from_dir(folder)
    assert source.kind == "images" and len(source) == 4
    assert int(source.read(0)[0, 0, 0]) == 30  # F1.PNG, the third written
    assert np.array_equal(source.read(4), source.read(0))  # indices cycle


def test_bench_frames_errors_and_random_frames(tmp_path, folder):
    with pytest.raises(InputError, match="is not a directory"):
        BenchFrames.from_dir(folder / "f2.png")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="holds no images"):
        BenchFrames.from_dir(tmp_path / "empty")
    with pytest.raises(ConfigError):
        BenchFrames()
    a, b = BenchFrames(size=(6, 8), seed=3), BenchFrames(size=(6, 8), seed=3)
    assert a.kind == "random" and a.read(1).shape == (6, 8, 3)
    assert np.array_equal(a.read(1), b.read(1)) and not np.array_equal(a.read(0), a.read(1))


def test_demo_source_plays_a_folder_then_rewinds(folder):
    source = open_source(str(folder))
    assert isinstance(source, ImageSource) and source.description == f"4 images in {folder}"
    values = [int(source.read()[0, 0, 0]) for _ in range(4)]
    assert values == [30, 20, 40, 10]  # F1, f2, f3, f10
    assert source.read() is None
    assert source.rewind() and int(source.read()[0, 0, 0]) == 30


def test_demo_source_glob_file_and_errors(folder, tmp_path):
    assert [p.name for p in open_source(f"{folder}/f*.png").files] == ["f2.png", "f10.png"]
    single = open_source(str(folder / "f3.jpg"))
    assert single.description == f"image {folder / 'f3.jpg'}" and single.read().shape == (6, 8, 3)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="holds no images"):
        open_source(str(tmp_path / "empty"))
    with pytest.raises(InputError, match="matches no images"):
        open_source(f"{tmp_path}/*.png")
    with pytest.raises(InputError, match="does not exist"):
        open_source(str(tmp_path / "nowhere"))
    (folder / "zz.png").write_bytes(b"broken")
    source = open_source(f"{folder}/zz.png")
    with pytest.raises(InputError, match="cannot read image"):
        source.read()


def test_resize_to_model_is_the_runner_resize():
    frame = np.arange(6 * 8 * 3, dtype=np.uint8).reshape(6, 8, 3)
    assert resize_to_model(frame, 6, 8) is frame
    resized = resize_to_model(frame, 3, 4)
    assert resized.shape == (3, 4, 3) and resized.dtype == np.uint8
    assert np.array_equal(resized, cv2.resize(frame, (4, 3), interpolation=cv2.INTER_LINEAR))
