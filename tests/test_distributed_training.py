"""``enet-edge train --strategy``: tf.distribute gives the run one device would, for the same global batch and seed.

Each run is a process of its own (TensorFlow fixes its devices and cluster per process): one device, MirroredStrategy
over two logical CPU devices, and two workers on loopback under MultiWorkerMirroredStrategy (TF_CONFIG). A tiny
ENet, no dropout (its masks are drawn per replica), one Adam step on 64x96 crops of CamVid frames.
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from enet_edge.errors import ConfigError
from enet_edge.workstation.train import distribute

SCRIPT = Path(__file__).with_name("distributed_training.py")
ENV = {k: v for k, v in os.environ.items() if k not in ("TF_CONFIG", "PYTHONPATH")}
ENV["TF_CPP_MIN_LOG_LEVEL"] = "2"


def _start(strategy, run_dir, *extra, tf_config=None):
    env = dict(ENV, **({"TF_CONFIG": json.dumps(tf_config)} if tf_config else {}))
    return subprocess.Popen([sys.executable, str(SCRIPT), strategy, str(run_dir), *map(str, extra)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finish(process, timeout=600):
    out, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, out[-4000:]
    return out


def _trained(run_dir):
    weights = np.load(Path(run_dir) / "last_weights.npz")
    names = [k for k in weights.files if not k.startswith("__") and weights[k].dtype.kind == "f"]
    return {k: weights[k] for k in names}


def _loss(out):
    return float(out.split("epoch 1: loss ")[1].split(",")[0])


def _same_run(one, other):
    """Equal up to float rounding. Adam's first step is lr * g / (|g| + eps): where a gradient is at rounding level
    the step's sign or size follows the rounding, so a few weights may differ by up to 2 lr; the rest agree."""
    trainable = [k for k in one if not k.endswith(("moving_mean", "moving_variance"))]
    diff = np.abs(np.concatenate([one[k].ravel() - other[k].ravel() for k in trainable]))
    assert np.median(diff) < 1e-6 and np.quantile(diff, 0.99) < 2e-4 and diff.max() <= 2 * 5e-4 + 1e-5
    for k in set(one) - set(trainable):  # batch-norm statistics of the global batch (synchronized)
        np.testing.assert_allclose(other[k], one[k], rtol=2e-3, atol=1e-5)


@pytest.fixture(scope="module")
def one_device(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("one") / "run"
    out = _finish(_start("default", run_dir))
    return run_dir, _loss(out)


@pytest.mark.slow
def test_mirrored_over_two_devices_is_the_one_device_run(one_device, tmp_path):
    out = _finish(_start("mirrored", tmp_path / "run", 2))
    assert "tf.distribute: MirroredStrategy, 2 replicas, global batch 4 (2 per replica)" in out
    assert _loss(out) == pytest.approx(one_device[1], rel=1e-5)
    _same_run(_trained(one_device[0]), _trained(tmp_path / "run"))


@pytest.mark.slow
def test_two_workers_on_loopback_are_the_one_device_run(one_device, tmp_path):
    sockets = [socket.socket() for _ in range(2)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    workers = [_start("multi-worker", tmp_path / "run", tf_config={"cluster": cluster,
                                                                   "task": {"type": "worker", "index": i}})
               for i in (1, 0)]
    outs = [_finish(w) for w in workers]
    assert "not the chief" in outs[0] and "not the chief" not in outs[1]
    assert "2 replicas, global batch 4 (2 per replica)" in outs[1]  # one per worker
    assert (tmp_path / "run" / "state.json").is_file()  # the chief's run directory; the other wrote a scratch one
    assert _loss(outs[1]) == pytest.approx(one_device[1], rel=1e-5)
    _same_run(_trained(one_device[0]), _trained(tmp_path / "run"))


def test_strategies_and_tf_config_are_checked(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ConfigError, match="strategy='tpu' must be one of auto, default, mirrored, multi-worker"):
        distribute.make_strategy("tpu")
    with pytest.raises(ConfigError, match="--strategy multi-worker needs TF_CONFIG"):
        distribute.make_strategy("multi-worker")
    assert distribute.is_chief("multi-worker") and distribute.is_chief("default")
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ConfigError, match="TF_CONFIG is not JSON"):
        distribute.is_chief("auto")
    cluster = {"worker": ["a:1", "b:2"]}
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 1}}))
    assert not distribute.is_chief("multi-worker") and distribute.is_chief("default")
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {**cluster, "chief": ["c:3"]},
                                                "task": {"type": "worker", "index": 0}}))
    assert not distribute.is_chief("multi-worker")
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster}))
    with pytest.raises(ConfigError, match="TF_CONFIG needs a cluster and a task"):
        distribute.is_chief("multi-worker")


def test_the_global_batch_must_split_over_the_replicas():
    class Three:
        num_replicas_in_sync = 3

    with pytest.raises(ConfigError, match="--batch 8 does not split over 3 replicas"):
        distribute.replica_slices(Three(), lambda: None, 8)
    assert distribute.replica_slices(type("One", (), {"num_replicas_in_sync": 1})(), lambda: "ds", 8) == "ds"
