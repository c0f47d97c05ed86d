"""A training run directory read defensively: ``state.json`` and ``last_optimizer.npz`` as written by
``enet-edge train``, or a one-line :class:`~enet_edge.errors.ArtifactError` saying what to do; and the
numeric checks of :class:`~enet_edge.apps.train.TrainConfig` (numpy only; no TensorFlow).
"""

from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path
from typing import Any, Dict

import numpy as np

from enet_edge.errors import ArtifactError, ConfigError

START_OVER = "delete it (with last_weights.npz and last_optimizer.npz) to restart from the last best weights, or give a new --run-dir"


def check_numbers(cfg: Any) -> None:
    """:class:`ConfigError` for a numeric TrainConfig field out of range (the integer and choice checks are the
    config's own)."""
    if not (math.isfinite(cfg.learning_rate) and cfg.learning_rate > 0):
        raise ConfigError(f"learning_rate must be a finite number > 0, got {cfg.learning_rate}")
    if not (math.isfinite(cfg.weight_decay) and cfg.weight_decay >= 0):
        raise ConfigError(f"weight_decay must be a finite number >= 0, got {cfg.weight_decay}")
    if not 0 <= cfg.seed < 2**32:
        raise ConfigError(f"seed must be within 0..{2**32 - 1}, got {cfg.seed}")
    for name, flag in (("limit_train", "--limit-train"), ("limit_val", "--limit-val"), ("max_steps", "--max-steps")):
        value = getattr(cfg, name)
        if value is not None and value < 1:
            raise ConfigError(f"{flag} {value} must be >= 1 (leave it out for no limit)")
    if cfg.step_epochs < 1:
        raise ConfigError(f"step_epochs must be >= 1, got {cfg.step_epochs}")


def read_state(path: Path) -> Dict[str, Any]:
    """The resume fields of ``state.json`` (epoch, best_miou, best_epoch, steps), type-checked."""
    try:
        previous = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:  # JSONDecodeError, UnicodeDecodeError
        raise ArtifactError(f"{path} is damaged ({exc}); {START_OVER}") from exc
    if not isinstance(previous, dict):
        raise ArtifactError(f"{path} is not a JSON object; {START_OVER}")
    kinds = {"epoch": int, "steps": int, "best_miou": (int, float), "best_epoch": (int, type(None))}
    state = {}
    for key, kind in kinds.items():
        if key not in previous:
            continue
        value = previous[key]
        if isinstance(value, bool) or not isinstance(value, kind) or (key in ("epoch", "steps") and value < 0):
            raise ArtifactError(f"{path}: {key}={value!r} is not a valid value; {START_OVER}")
        state[key] = value
    return state


def restore_optimizer(path: Path, variables) -> None:
    """Assign the Adam state saved in ``last_optimizer.npz`` (``v0``, ``v1``, ...) to ``variables``."""
    if not zipfile.is_zipfile(path):
        raise ArtifactError(f"{path} is not an .npz file (damaged or truncated); delete it to resume with fresh "
                            f"Adam moments")
    try:
        with np.load(path, allow_pickle=False) as opt:
            if len(opt.files) != len(variables):
                raise ConfigError(f"{path} holds {len(opt.files)} optimizer variables, this model needs "
                                  f"{len(variables)}: the run directory belongs to another model config")
            values = [opt[f"v{i}"] for i in range(len(variables))]
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ArtifactError(f"{path} is damaged ({type(exc).__name__}: {exc}); delete it to resume with fresh "
                            f"Adam moments") from exc
    for i, (var, value) in enumerate(zip(variables, values)):
        if tuple(value.shape) != tuple(var.shape):
            raise ConfigError(f"{path}: optimizer variable {i} has shape {value.shape}, "
                              f"the model needs {tuple(var.shape)}; use a new --run-dir")
        var.assign(value)


def percent(miou: float) -> str:
    """``62.44%``, or ``none yet`` before the first validation (best mIoU -1)."""
    return "none yet" if miou is None or miou < 0 else f"{100 * miou:.2f}%"


def log_rows_up_to(log_path: Path, epoch: int, fields) -> list:
    """The rows of ``log.csv`` up to ``epoch`` (the resume point); :class:`ArtifactError` for a damaged log."""
    import csv

    try:
        with open(log_path, newline="") as f:
            reader = csv.DictReader(f)
            if not reader.fieldnames or not set(reader.fieldnames) <= set(fields) or "epoch" not in reader.fieldnames:
                raise ValueError(f"its header {reader.fieldnames} is not {','.join(fields)}")
            return [r for r in reader if int(r["epoch"]) <= epoch]
    except (OSError, ValueError, TypeError, csv.Error, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{log_path} is damaged ({exc}); delete it (the log then restarts at this epoch) "
                            f"or give a new --run-dir") from exc
