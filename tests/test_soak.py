"""benchmarks/soak.py's pieces (the soak itself is a benchmark of an hour, not a test): the verdict, /proc samples,
the looping video."""

import os
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

import soak  # noqa: E402


def _samples(rss, fds=6, threads=9):
    return [{"frames": 1000 * (i + 1), "rss_kib": r, "fds": fds + 2 * (i % 2), "threads": threads + 2 * (i % 2),
             "viewers": 2 * (i % 2)} for i, r in enumerate(rss)]


def test_analyse_flat_and_growing_runs():
    flat = soak.analyse(_samples([200_000, 201_000] + [202_000] * 10), warmup=2000)
    assert flat["ok"] and flat["rss_growth_mib"] == 0.98 and flat["fds_threads_flat"]
    assert flat["spread_by_viewers"] == {"0": {"fds": 0, "threads": 0}, "2": {"fds": 0, "threads": 0}}
    growing = soak.analyse(_samples([200_000 + 1024 * i for i in range(12)]), warmup=2000)
    assert not growing["ok"] and growing["rss_growth_mib"] == 10.0
    leaky = _samples([200_000] * 12)
    leaky[-1]["fds"] += 2
    assert not soak.analyse(leaky, warmup=2000)["fds_threads_flat"]
    assert not soak.analyse(_samples([1]), warmup=5000)["ok"]


def test_proc_sample_of_this_process():
    s = soak.proc_sample(os.getpid())
    assert s["rss_kib"] > 1000 and s["threads"] >= 1 and s["fds"] >= 3


def test_make_video_writes_once(tmp_path):
    import cv2

    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(3):
        cv2.imwrite(str(frames / f"f{i}.png"), np.full((32, 48, 3), 60 * i, np.uint8))
    out = soak.make_video(frames, tmp_path / "v" / "loop.mp4")
    cap = cv2.VideoCapture(str(out))
    count = 0
    while cap.read()[0]:
        count += 1
    cap.release()
    assert count == 3
    mtime = out.stat().st_mtime_ns
    assert soak.make_video(frames, out) == out and out.stat().st_mtime_ns == mtime
