"""The host's arg-max of logits (enet_edge.runtime.segmenter.ChannelArgMax): exactly np.argmax, ties and NaN too."""

import threading

import numpy as np
import pytest

from enet_edge.errors import InputError
from enet_edge.runtime.segmenter import ChannelArgMax, Segmenter


def _logits(rng, k, h, w, dtype, ties):
    """Random logits with forced ties: values drawn from few levels, so most pixels tie between classes."""
    x = rng.integers(0, ties, size=(k, h, w)).astype(dtype) if ties else rng.standard_normal((k, h, w)).astype(dtype)
    if ties:  # some pixels where every class ties, and ties at the maximum between the first and the last class
        x[:, 0, :] = 1
        x[-1, 1, :] = x[0, 1, :] = x[:, 1, :].max(axis=0)
    return x


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.float64])
@pytest.mark.parametrize("ties", [0, 2, 3])
def test_equals_numpy_argmax_nchw_and_nhwc(dtype, ties):
    rng = np.random.default_rng(ties)
    argmax = ChannelArgMax()
    for k, h, w in ((12, 17, 23), (12, 17, 23), (3, 5, 4), (1, 3, 2)):  # the second call reuses the buffers
        x = _logits(rng, k, h, w, dtype, ties)
        expected = np.argmax(x, axis=0).astype(np.uint8)
        got = argmax(x, 0)
        assert got.dtype == np.uint8 and got.shape == (h, w)
        assert np.array_equal(got, expected)
        nhwc = np.ascontiguousarray(np.moveaxis(x, 0, -1))
        assert np.array_equal(argmax(nhwc, 2), expected)
        assert np.array_equal(Segmenter.class_map(x[None], 1), expected)
        assert np.array_equal(Segmenter.class_map(nhwc[None], 3, argmax), expected)


def test_ties_go_to_the_lowest_id_and_results_are_not_reused():
    argmax = ChannelArgMax()
    x = np.zeros((4, 2, 3), np.float32)
    x[2, 0, 0] = x[3, 0, 0] = 5  # tie between 2 and 3
    x[1, 1, 2] = -1  # all others tie at 0
    first = argmax(x, 0)
    assert first.tolist() == [[2, 0, 0], [0, 0, 0]]
    second = argmax(np.flip(x, 0).copy(), 0)
    assert second.tolist() == [[0, 0, 0], [0, 0, 0]] and first[0, 0] == 2  # a new array each call


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_nan_and_inf_as_numpy(dtype):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 4, 6)).astype(dtype)
    x[3, 0, 0] = np.nan  # numpy: the first NaN's index
    x[0, 1, 1] = np.nan
    x[:, 2, 2] = -np.inf
    x[4, 3, 3] = np.inf
    argmax = ChannelArgMax()
    assert np.array_equal(argmax(x, 0), np.argmax(x, axis=0).astype(np.uint8))
    assert np.array_equal(argmax(np.ascontiguousarray(np.moveaxis(x, 0, -1)), 2), np.argmax(x, axis=0))


def test_threads_and_bad_axes():
    argmax = ChannelArgMax()
    rng = np.random.default_rng(2)
    frames = [rng.standard_normal((12, 30, 40)).astype(np.float32) for _ in range(8)]
    results = {}

    def work(i):
        for _ in range(20):
            results[i] = argmax(frames[i], 0)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(frames))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(np.array_equal(results[i], np.argmax(frames[i], 0)) for i in range(len(frames)))
    with pytest.raises(InputError, match="class axis 1"):
        argmax(frames[0], 1)
    with pytest.raises(InputError):
        argmax(frames[0][0], 0)


def test_the_host_share_benchmark_writes_what_the_ncs2_page_reads(tmp_path):
    """benchmarks/myriad_host_share.py: the host's work per frame for both stick outputs, the names doc_facts reads."""
    import json

    from doc_facts import _host_share, benchmark_script

    script = benchmark_script("myriad_host_share")
    assert script.main(["--rounds", "5", "--out-dir", str(tmp_path)]) == 0
    (written,) = tmp_path.glob("*-myriad-host-share-*.json")
    doc = json.loads(written.read_text())
    assert {script.HOST_LOGITS, script.HOST_CLASS_MAP} <= set(doc["steps"]) and _host_share(doc)
    assert doc["size"] == [360, 480] and doc["rounds"] == 5
    assert all(v["median_ms"] > 0 for v in doc["steps"].values())
    assert written.with_suffix(".md").read_text().startswith("# The host's share of a stick frame")
