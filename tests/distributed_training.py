"""A tiny training run under a tf.distribute strategy, as a script (TensorFlow's devices and TF_CONFIG are fixed per
process): ``python distributed_training.py STRATEGY RUN_DIR [LOGICAL_CPUS]``.

Spatial dropout is off (its masks are drawn per replica), so one device and N replicas must give the same
weights for the same global batch and seed."""

import dataclasses
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(strategy: str, run_dir: str, logical_cpus: int = 1) -> None:
    import tensorflow as tf

    if logical_cpus > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * logical_cpus)
    from enet_edge.workstation.train import config as train_config
    from enet_edge.workstation.train.loop import train

    def no_dropout(self, height, width, batch):
        return dataclasses.replace(original(self, height, width, batch), dropout_stage1=0.0, dropout_rest=0.0)

    original = train_config.TrainConfig.model_config
    train_config.TrainConfig.model_config = no_dropout
    cfg = train_config.TrainConfig(run_dir=run_dir, epochs=1, batch=4, crop_height=64, crop_width=96,
                                   limit_train=8, limit_val=1, val_every=1, max_steps=1, seed=3, strategy=strategy,
                                   stage_two_repeat=1)
    state = train(cfg, log=lambda message: print(message, flush=True))
    print(f"done {state['steps']} steps", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 1)
