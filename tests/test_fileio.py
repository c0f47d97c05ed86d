import hashlib
import os

import numpy as np
import pytest

from enet_edge import fileio


def test_atomic_savez_round_trips_and_leaves_no_temp(tmp_path):
    path = fileio.atomic_savez(tmp_path / "sub" / "w.npz", {"a": np.arange(3, dtype=np.float32)})
    with np.load(path, allow_pickle=False) as data:
        np.testing.assert_array_equal(data["a"], [0, 1, 2])
    assert sorted(os.listdir(path.parent)) == ["w.npz"]


def test_atomic_savez_failure_keeps_the_old_file(tmp_path):
    path = fileio.atomic_savez(tmp_path / "w.npz", {"a": np.zeros(2)})
    before = path.read_bytes()

    class Boom:
        def __array__(self, dtype=None, copy=None):
            raise ValueError("cannot convert")

    with pytest.raises(ValueError, match="cannot convert"):
        fileio.atomic_savez(path, {"a": np.ones(2), "b": Boom()})
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["w.npz"]


def test_atomic_write_text_replaces_whole_file(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("old and long content")
    fileio.atomic_write_text(path, "new")
    assert path.read_text() == "new"
    assert sorted(os.listdir(tmp_path)) == ["t.txt"]


def test_sha256_file_matches_hashlib(tmp_path):
    data = os.urandom(3 << 20)  # more than one 1 MiB chunk
    path = tmp_path / "blob"
    path.write_bytes(data)
    assert fileio.sha256_file(path) == hashlib.sha256(data).hexdigest()
