"""Training on several devices or machines with TensorFlow's own engine, ``tf.distribute``.

``--strategy``: ``default`` (one device), ``mirrored`` (:class:`tf.distribute.MirroredStrategy`: every local GPU,
else every logical CPU device), ``multi-worker`` (:class:`tf.distribute.MultiWorkerMirroredStrategy`: the machines of ``TF_CONFIG``),
``auto`` (multi-worker where ``TF_CONFIG`` names a cluster, mirrored where there are several GPUs, else default).

What keeps a distributed run the same run as on one device, for the same global batch and seed:

* the global batch (``--batch``) is split into one contiguous slice per replica (:func:`replica_slices`), so every
  step sees the samples, crops and flips one device would;
* the loss of a replica is its sum of class-weighted cross-entropy over the class weights summed over *all*
  replicas, plus 1/N of the L2 term, so the gradients the optimizer sums across replicas are one device's;
* batch norm computes its moments over the global batch (``synchronized``), not per replica.

Spatial dropout draws its masks per replica, so a model with dropout matches one device in distribution, not
bitwise. Checkpoints are written by the chief (worker 0) alone; resume is unchanged.
"""

from __future__ import annotations

import json
import os
from typing import Tuple

from enet_edge.errors import ConfigError

STRATEGIES: Tuple[str, ...] = ("auto", "default", "mirrored", "multi-worker")


def _tf_config() -> dict:
    text = os.environ.get("TF_CONFIG", "")
    if not text.strip():
        return {}
    try:
        config = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"TF_CONFIG is not JSON ({exc.msg}); it names the cluster and this worker: "
                          '{"cluster": {"worker": ["host1:port", "host2:port"]}, "task": {"type": "worker", '
                          '"index": 0}} (docs/training.md)') from None
    if not isinstance(config, dict) or "cluster" not in config or "task" not in config:
        raise ConfigError("TF_CONFIG needs a cluster and a task: {\"cluster\": {\"worker\": [...]}, "
                          "\"task\": {\"type\": \"worker\", \"index\": 0}} (docs/training.md)")
    return config


def make_strategy(name: str):
    """The ``tf.distribute`` strategy ``name`` (:data:`STRATEGIES`) stands for here."""
    import tensorflow as tf

    if name not in STRATEGIES:
        raise ConfigError(f"strategy={name!r} must be one of {', '.join(STRATEGIES)}")
    cluster = _tf_config()
    if name == "auto":
        workers = len(cluster.get("cluster", {}).get("worker", [])) if cluster else 0
        name = ("multi-worker" if workers > 1 else
                "mirrored" if len(tf.config.list_logical_devices("GPU")) > 1 else "default")
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":  # every GPU; without one, every logical CPU device (one unless configured)
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([d.name for d in devices])
    if not cluster:
        raise ConfigError("--strategy multi-worker needs TF_CONFIG (the cluster's workers and this one's index) in "
                          "the environment of every worker (docs/training.md)")
    return tf.distribute.MultiWorkerMirroredStrategy()


def is_chief(strategy_name: str) -> bool:
    """Whether this process writes the run directory: always, except a worker other than the chief of a
    ``TF_CONFIG`` cluster (the task ``chief``, else worker 0) under the multi-worker (or auto) strategy."""
    if strategy_name not in ("multi-worker", "auto"):
        return True
    config = _tf_config()
    if not config:
        return True
    task, cluster = config.get("task", {}), config.get("cluster", {})
    if "chief" in cluster:
        return task.get("type") == "chief"
    return task.get("type", "worker") == "worker" and int(task.get("index", 0)) == 0


def replica_slices(strategy, make_global, global_batch: int):
    """The distributed dataset of ``make_global()`` (batches of ``global_batch``): each global batch cut into one
    contiguous slice per replica, slice i to replica i (over workers, then their local replicas)."""
    import tensorflow as tf

    replicas = strategy.num_replicas_in_sync
    if global_batch % replicas:
        raise ConfigError(f"--batch {global_batch} does not split over {replicas} replicas: give a multiple of "
                          f"{replicas}")
    if replicas == 1:
        return make_global()
    per_replica = global_batch // replicas

    def per_worker(context: tf.distribute.InputContext):
        ds = make_global().rebatch(per_replica)  # slices in replica order
        return ds.shard(context.num_input_pipelines, context.input_pipeline_id)

    options = tf.distribute.InputOptions(experimental_fetch_to_device=True)
    return strategy.distribute_datasets_from_function(per_worker, options)
