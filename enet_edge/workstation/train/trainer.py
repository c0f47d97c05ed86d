"""The model, optimizer and compiled steps of one run (:class:`Trainer`); one epoch of training, validation mIoU."""

from __future__ import annotations

import time
from typing import Dict, Tuple

import numpy as np

from enet_edge.progress import ProgressBar
from enet_edge.workstation.train.config import TRAIN_REALIZATION, TrainConfig
from enet_edge.workstation.train.data import TrainData, make_dataset


class Trainer:
    """The TensorFlow side of a run: the training model (crop size) and Adam under the ``tf.distribute`` strategy
    (:mod:`~enet_edge.workstation.train.distribute`), the validation model (frame size, batch 1, one device), and
    the compiled training and prediction steps. ``batch`` is the global batch, split over the replicas."""

    val_batch = 1

    def __init__(self, cfg: TrainConfig, data: TrainData, epoch: int):
        import tensorflow as tf

        from enet_edge.model.enet import build_enet
        from enet_edge.workstation.train.distribute import is_chief, make_strategy

        self.cfg, self._tf = cfg, tf
        self.strategy = make_strategy(cfg.strategy)
        self.replicas = self.strategy.num_replicas_in_sync
        self.chief = is_chief(cfg.strategy)
        tf.keras.utils.set_random_seed(cfg.seed)
        self.batch = min(cfg.batch, len(data.images))
        self.model_cfg = cfg.model_config(cfg.crop_height, cfg.crop_width, self.batch // self.replicas)
        with self.strategy.scope():
            self.model = build_enet(self.model_cfg, TRAIN_REALIZATION)
            if self.replicas > 1:  # batch-norm moments over the global batch, as on one device
                for layer in self.model.layers:
                    if isinstance(layer, tf.keras.layers.BatchNormalization):
                        layer.synchronized = True
            self.optimizer = tf.keras.optimizers.Adam(learning_rate=cfg.learning_rate_at(epoch))
            self.optimizer.build(self.model.trainable_variables)
        height, width = data.frame_size
        self.val_model = build_enet(cfg.model_config(height, width, self.val_batch), TRAIN_REALIZATION)
        # what the weights files record: the model at full frame size, batch 1, whatever the crop
        self.save_config = self.model_cfg.replace(height=height, width=width, batch=1)
        self._weight_table = tf.constant(data.class_weights)
        self._kernels = [v for v in self.model.trainable_variables if v.path.endswith("kernel")]
        self._replica_step = self._train_step
        self.train_step = tf.function(self._distributed_step, jit_compile=False)
        self.predict = tf.function(self._predict, jit_compile=False)

    def _train_step(self, x, y):
        """One Adam step of one replica on class-weighted cross-entropy + L2 on the kernels; returns its share of
        the weighted loss. The class weights are summed over all replicas and the L2 term split N ways, so the
        gradients the optimizer sums across replicas are those of one device on the global batch."""
        tf, model = self._tf, self.model
        context = tf.distribute.get_replica_context()
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            y_int = tf.cast(y, tf.int32)
            ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y_int, logits=logits)
            w = tf.gather(self._weight_table, y_int)
            total_w = tf.reduce_sum(w)
            if self.replicas > 1:
                total_w = context.all_reduce(tf.distribute.ReduceOp.SUM, total_w)
            loss = tf.reduce_sum(ce * w) / tf.maximum(total_w, 1e-6)
            l2 = tf.add_n([tf.reduce_sum(tf.square(k)) for k in self._kernels]) * (0.5 * self.cfg.weight_decay)
            total = loss + l2 / self.replicas
        grads = tape.gradient(total, model.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    def _distributed_step(self, x, y):
        """:meth:`_train_step` on every replica; the global batch's weighted loss."""
        if self.replicas == 1:
            return self._replica_step(x, y)
        losses = self.strategy.run(self._replica_step, args=(x, y))
        return self.strategy.reduce(self._tf.distribute.ReduceOp.SUM, losses, axis=None)

    def barrier(self) -> None:
        """Wait until every worker of a cluster has got here (one collective), so that none exits while another
        still needs it; nothing on one machine."""
        tf = self._tf
        if isinstance(self.strategy, tf.distribute.MultiWorkerMirroredStrategy):
            self.strategy.reduce(tf.distribute.ReduceOp.SUM, self.strategy.run(lambda: tf.constant(1.0)), axis=None)

    def dataset(self, data: TrainData, epoch: int):
        """The training batches of ``epoch``, each global batch split over the replicas."""
        from enet_edge.workstation.train.distribute import replica_slices

        return replica_slices(self.strategy, lambda: make_dataset(self.cfg, data, self.batch, epoch), self.batch)

    def _predict(self, x):
        tf = self._tf
        return tf.argmax(self.val_model(x, training=False), axis=-1, output_type=tf.int32)


def out_of_steps(cfg: TrainConfig, steps: int) -> bool:
    return cfg.max_steps is not None and steps >= cfg.max_steps


def train_epoch(trainer: Trainer, data: TrainData, state: dict, epoch: int, lr: float) -> Tuple[list, float]:
    """Train one epoch at learning rate ``lr`` (stops early at ``max_steps``); counts ``state["steps"]``.

    Returns (the loss of every step, seconds).
    """
    cfg, batch = trainer.cfg, trainer.batch
    trainer.optimizer.learning_rate.assign(lr)
    steps_per_epoch = len(data.images) // batch
    progress = ProgressBar(steps_per_epoch, f"epoch {epoch + 1}/{cfg.epochs}")
    start = time.perf_counter()
    losses = []
    for step, (x, y) in enumerate(trainer.dataset(data, epoch)):
        losses.append(float(trainer.train_step(x, y)))
        state["steps"] += 1
        rate = (step + 1) * batch / (time.perf_counter() - start)
        progress.update(step + 1, loss=f"{np.mean(losses):.4f}", img_s=f"{rate:.1f}")
        if out_of_steps(cfg, state["steps"]):
            break
    progress.close()
    return losses, time.perf_counter() - start


def validate(trainer: Trainer, data: TrainData) -> Dict[str, object]:
    """Scores (mIoU, pixel accuracy, per-class IoU) of the current weights on the validation frames."""
    from enet_edge.metrics import accumulator_for
    from enet_edge.model.weights import get_weights, set_weights

    import tensorflow as tf

    val_batch = trainer.val_batch
    set_weights(trainer.val_model, get_weights(trainer.model))
    acc = accumulator_for(trainer.cfg.class_set)
    for i in range(0, len(data.val_images), val_batch):
        pred = trainer.predict(tf.constant(data.val_images[i : i + val_batch].astype(np.float32))).numpy()
        acc.update(data.val_labels[i : i + val_batch], pred)
    return acc.scores()
