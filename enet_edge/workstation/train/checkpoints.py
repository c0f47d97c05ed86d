"""A run directory's files: the state, last and best weights (atomically written), the optimizer, the log."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path
from typing import Dict, Sequence, Tuple

from enet_edge.fileio import atomic_savez
from enet_edge.workstation.run_dir import log_rows_up_to, percent, read_state, restore_optimizer
from enet_edge.workstation.train.config import LOG_FIELDS, META, TrainConfig
from enet_edge.workstation.train.trainer import Trainer


def weights_meta(trainer: Trainer, **extra) -> dict:
    """What a weights file of this run records: :data:`META`, the class set (names, palette, ignore label)."""
    classes = trainer.cfg.class_set
    splits = trainer.cfg.train_splits
    trained_on = f"CamVid {splits}" if trainer.cfg.classes_file is None else f"{splits} of the run's data"
    return {**META, "trained_on": trained_on, "val_trained_on": trainer.cfg.val_trained_on,
            "classes": classes.to_dict(), **extra}


def load_state(cfg: TrainConfig, run_dir: Path, log=print) -> Dict[str, object]:
    """A fresh state, or the one ``state.json`` records (resume); the config is always ``cfg``'s."""
    state = {"epoch": 0, "best_miou": -1.0, "best_epoch": None, "best_score": -1.0, "steps": 0,
             "config": dataclasses.asdict(cfg)}
    state_path = run_dir / "state.json"
    if state_path.exists():
        state.update(read_state(state_path))
        log(f"resuming {run_dir} at epoch {state['epoch']} (best val mIoU {percent(state['best_miou'])})")
    state["config"] = dataclasses.asdict(cfg)
    return state


def restore(trainer: Trainer, run_dir: Path, log=print) -> None:
    """Resume the weights and Adam state of the last finished epoch, or start from ``init_weights``."""
    from enet_edge.model.weights import read_weights, set_weights

    last_weights, last_opt = run_dir / "last_weights.npz", run_dir / "last_optimizer.npz"
    optimizer = trainer.optimizer
    if last_weights.exists():
        weights, _, _ = read_weights(last_weights, "the run directory's")
        set_weights(trainer.model, weights, str(last_weights))
        if trainer.cfg.init_weights:
            log(f"note: resuming {run_dir}: --init-weights {trainer.cfg.init_weights} applies to new runs only")
        if last_opt.exists():
            restore_optimizer(last_opt, optimizer.variables)
        else:
            log(f"{last_opt} is missing: resuming with fresh Adam moments (kept out of git: > 3 MB)")
    elif trainer.cfg.init_weights:
        weights, _, _ = read_weights(trainer.cfg.init_weights, "--init-weights")
        set_weights(trainer.model, weights, trainer.cfg.init_weights)


def save_best(trainer: Trainer, run_dir: Path, epoch: int, val: Dict[str, object], score: float) -> None:
    from enet_edge.model.weights import save_weights

    save_weights(trainer.model, run_dir / "best_weights.npz", trainer.save_config,
                 meta=weights_meta(trainer, epoch=epoch, val_miou=float(val["miou"]), per_class_iou=val["per_class_iou"],
                                   val_miou_smoothed=score, selection=_selection(trainer.cfg)))


def _selection(cfg: TrainConfig) -> str:
    if cfg.val_trained_on:
        return "the last validated epoch (val was trained on: its mIoU is no held-out score, so no selection on it)"
    return f"mean of the last {cfg.select_window} validations"


def save_last(trainer: Trainer, run_dir: Path, epoch: int) -> None:
    """The resume point: weights and Adam state after the last finished epoch."""
    from enet_edge.model.weights import save_weights

    save_weights(trainer.model, run_dir / "last_weights.npz", trainer.save_config, meta=weights_meta(trainer, epoch=epoch))
    atomic_savez(run_dir / "last_optimizer.npz", {f"v{i}": v.numpy() for i, v in enumerate(trainer.optimizer.variables)})


def prepare_log(log_path: Path, epoch: int, fields: Sequence[str] = tuple(LOG_FIELDS)) -> None:
    """Create ``log.csv`` (or another per-epoch CSV with columns ``fields``), or keep only its rows up to ``epoch``
    (the resume point)."""
    if not log_path.exists():
        with open(log_path, "w", newline="") as f:
            csv.writer(f).writerow(fields)
        return
    # an interruption between appending a row and writing state.json leaves a row of an epoch
    # that will be trained again: drop rows past the resume point
    rows = log_rows_up_to(log_path, epoch, fields)
    with open(log_path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(fields))
        writer.writeheader()
        writer.writerows(rows)


def append_log(log_path: Path, row: dict, fields: Sequence[str] = tuple(LOG_FIELDS)) -> None:
    with open(log_path, "a", newline="") as f:
        csv.DictWriter(f, fieldnames=list(fields)).writerow(row)


def class_log_fields(cfg: TrainConfig) -> Tuple[str, ...]:
    """The columns of :data:`CLASS_LOG`: ``epoch``, then the scored classes' names (the ignore label left out)."""
    return ("epoch",) + tuple(cfg.class_set.metric_names)


def class_log_row(epoch: int, val: Dict[str, object]) -> Dict[str, object]:
    """One :data:`CLASS_LOG` row: the epoch and each class's val IoU (fraction, 5 decimals; empty where undefined)."""
    return {"epoch": epoch, **{name: ("" if iou != iou else round(iou, 5)) for name, iou in val["per_class_iou"].items()}}
