"""Train ENet on CamVid: weighted cross-entropy, Adam + L2, crops at full scale, resumable.

A run directory holds:
  ``state.json``               epoch, best mIoU, history pointer, the frozen TrainConfig
  ``last_weights.npz``         weights after the last finished epoch (resume point)
  ``last_optimizer.npz``       Adam state after the last finished epoch (git-ignored: 3.1 MB)
  ``best_weights.npz``         weights with the best validation mIoU so far (what we ship)
  ``log.csv``                  one row per epoch; ``curve.png`` the training curve
  ``val_classes.csv``          per-class val IoU at each validation (``enet-edge runs`` compares runs by it)
Interrupt at any time: the next ``enet-edge train --run-dir`` with the same directory resumes.

Modules: :mod:`.config`, :mod:`.data`, :mod:`.trainer`, :mod:`.checkpoints`, :mod:`.loop`, :mod:`.cli`. Everything public is importable from here.
"""

from enet_edge.workstation.train.checkpoints import (append_log, load_state, prepare_log, restore, save_best,
                                                     save_last, weights_meta)
from enet_edge.workstation.train.cli import add_cli, run_train
from enet_edge.workstation.train.config import LOG_FIELDS, META, TRAIN_REALIZATION, TrainConfig
from enet_edge.workstation.train.data import TrainData, class_weights_for, load_data, make_dataset
from enet_edge.workstation.train.loop import curve_title, train
from enet_edge.workstation.train.trainer import Trainer, train_epoch, validate

__all__ = ["LOG_FIELDS", "META", "TRAIN_REALIZATION", "TrainConfig", "TrainData", "Trainer", "add_cli", "append_log",
    "class_weights_for", "curve_title", "load_data", "load_state", "make_dataset", "prepare_log", "restore",
    "run_train", "save_best", "save_last", "train", "train_epoch", "validate", "weights_meta"]
