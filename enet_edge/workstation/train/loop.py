"""The resumable training loop: :func:`train` runs epochs until the config says stop, keeping the best weights."""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
from pathlib import Path
from typing import Dict

import numpy as np

from enet_edge.fileio import atomic_write_text, check_output_dir, make_dirs, remove_created, remove_stale
from enet_edge.workstation.run_dir import log_rows_up_to, percent, plot_curve, smoothed_score, val_history
from enet_edge.workstation.train.checkpoints import (append_log, class_log_fields, class_log_row, load_state, prepare_log,
                                                     restore, save_best, save_last)
from enet_edge.workstation.compare_runs import CLASS_LOG
from enet_edge.workstation.train.config import LOG_FIELDS, TrainConfig
from enet_edge.workstation.train.data import TrainData, load_data
from enet_edge.workstation.train.distribute import is_chief
from enet_edge.workstation.train.trainer import Trainer, out_of_steps, train_epoch, validate


def train(cfg: TrainConfig, log=print) -> Dict[str, object]:
    """Train (or resume) per ``cfg``; returns the final state dict. Runs unchanged on CPU or GPU, on one device
    or several (``cfg.strategy``); on a cluster only the chief writes ``cfg.run_dir``."""
    if not is_chief(cfg.strategy):  # another worker of a cluster: the chief writes the run directory
        scratch = tempfile.mkdtemp(prefix="enet-edge-worker-")
        log(f"not the chief of the TF_CONFIG cluster: checkpoints go to {scratch} (removed at the end)")
        try:
            return _train(dataclasses.replace(cfg, run_dir=str(Path(scratch) / "run")), log)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return _train(cfg, log)


def _train(cfg: TrainConfig, log) -> Dict[str, object]:
    from enet_edge.model.weights import read_weights

    run_dir = check_output_dir(cfg.run_dir, "--run-dir")  # every input is checked before the run directory is made
    state = load_state(cfg, run_dir, log)
    if (run_dir / "log.csv").exists():
        log_rows_up_to(run_dir / "log.csv", state["epoch"], LOG_FIELDS)  # a damaged log fails now, not after the build
    if (run_dir / CLASS_LOG).exists():
        log_rows_up_to(run_dir / CLASS_LOG, state["epoch"], class_log_fields(cfg))
    if cfg.init_weights and not (run_dir / "last_weights.npz").exists():
        read_weights(cfg.init_weights, "--init-weights")
    data = load_data(cfg, log)
    trainer = Trainer(cfg, data, state["epoch"])
    if trainer.replicas > 1:
        log(f"tf.distribute: {type(trainer.strategy).__name__}, {trainer.replicas} replicas, global batch "
            f"{trainer.batch} ({trainer.batch // trainer.replicas} per replica)")
    restore(trainer, run_dir, log)
    created = make_dirs(run_dir, "--run-dir")
    for name in ("last_weights.npz", "last_optimizer.npz", "best_weights.npz", "state.json", "curve.png"):
        remove_stale(run_dir, name, log)  # temp files of a killed run
    log_path = run_dir / "log.csv"
    fresh_log = not log_path.exists()
    prepare_log(log_path, state["epoch"])
    prepare_log(run_dir / CLASS_LOG, state["epoch"], class_log_fields(cfg))
    try:
        state = _train_loop(cfg, trainer, data, state, run_dir, log_path, log)
        trainer.barrier()  # a cluster's workers leave together
        return state
    except BaseException:
        if fresh_log and not (run_dir / "state.json").exists():  # no epoch finished: leave nothing behind
            log_path.unlink(missing_ok=True)
            (run_dir / CLASS_LOG).unlink(missing_ok=True)
            remove_created(created)
        raise


def _train_loop(cfg: TrainConfig, trainer: Trainer, data: TrainData, state: dict, run_dir: Path, log_path: Path,
                log) -> Dict[str, object]:

    history = val_history(log_rows_up_to(log_path, state["epoch"], LOG_FIELDS))
    if state["best_score"] < 0 and state["best_epoch"] is not None:  # a run from before smoothed selection
        state["best_score"] = smoothed_score(history, cfg.select_window, state["best_epoch"]) or state["best_miou"]
    while state["epoch"] < cfg.epochs:
        if out_of_steps(cfg, state["steps"]):
            break
        epoch = state["epoch"]
        lr = cfg.learning_rate_at(epoch)
        losses, seconds = train_epoch(trainer, data, state, epoch, lr)
        state["epoch"] = epoch + 1
        row = {"epoch": epoch + 1, "steps": state["steps"], "lr": lr, "train_loss": float(np.mean(losses)),
               "val_miou": "", "val_pixel_accuracy": "", "epoch_seconds": round(seconds, 2),
               "images_per_second": round(len(losses) * trainer.batch / seconds, 3)}
        finished = state["epoch"] >= cfg.epochs or out_of_steps(cfg, state["steps"])
        class_row = None
        if state["epoch"] % cfg.val_every == 0 or finished:
            val = validate(trainer, data)
            class_row = class_log_row(state["epoch"], val)
            row["val_miou"], row["val_pixel_accuracy"] = round(val["miou"], 5), round(val["pixel_accuracy"], 5)
            history.append((state["epoch"], float(val["miou"])))
            score = smoothed_score(history, cfg.select_window)
            log(f"epoch {state['epoch']}: loss {row['train_loss']:.4f}, val mIoU {percent(val['miou'])} "
                f"(mean of the last {min(cfg.select_window, len(history))}: {percent(score)})")
            if score > state["best_score"] or cfg.val_trained_on:  # val was trained on: keep the last epoch
                state["best_score"], state["best_miou"], state["best_epoch"] = score, float(val["miou"]), state["epoch"]
                save_best(trainer, run_dir, state["epoch"], val, score)
        save_last(trainer, run_dir, state["epoch"])
        append_log(log_path, row)
        if class_row is not None:
            append_log(run_dir / CLASS_LOG, class_row, class_log_fields(cfg))
        atomic_write_text(run_dir / "state.json", json.dumps(state, indent=2))
        plot_curve(log_path, run_dir / "curve.png", curve_title(run_dir, cfg), cfg.select_window)
        if out_of_steps(cfg, state["steps"]):
            break
    return state


def curve_title(run_dir: Path, cfg: "TrainConfig") -> str:
    """``enet_camvid_ft2: 360x480 crops, batch 8, lr 2e-04 (cosine), 100 epochs``."""
    return (f"{Path(run_dir).name}: {cfg.crop_height}x{cfg.crop_width} crops, batch {cfg.batch}, "
            f"lr {cfg.learning_rate:.0e} ({cfg.schedule}), {cfg.epochs} epochs")
