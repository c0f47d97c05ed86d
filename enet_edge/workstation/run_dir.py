"""A training run directory read defensively: ``state.json`` and ``last_optimizer.npz`` as written by
``enet-edge train``, or a one-line :class:`~enet_edge.errors.ArtifactError` saying what to do; and the
numeric checks of :class:`~enet_edge.workstation.train.TrainConfig` (numpy only; no TensorFlow).
"""

from __future__ import annotations

import csv
import io
import json
import math
import zipfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from enet_edge.errors import ArtifactError, ConfigError
from enet_edge.fileio import atomic_write_bytes

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
    kinds = {"epoch": int, "steps": int, "best_miou": (int, float), "best_epoch": (int, type(None)),
             "best_score": (int, float)}
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


DAMAGED_LOG_FIX = "delete it (the log then restarts at this epoch) or give a new --run-dir"
"""What to do about a damaged log when resuming a run (the default advice of :func:`read_log`)."""


def read_log(path: Path, *, required: Sequence[str] = ("epoch",), allowed: Optional[Sequence[str]] = None,
             up_to: Optional[int] = None, fix: str = DAMAGED_LOG_FIX) -> List[Dict[str, str]]:
    """The rows of a run's csv log (``log.csv``, ``val_classes.csv``) up to epoch ``up_to`` (default: all), as
    ``{column: text}``; every row must have an integer epoch.

    The header must hold every ``required`` column and, when ``allowed`` is given, nothing else. A missing,
    unreadable or malformed log raises :class:`ArtifactError` naming the file, what is wrong and ``fix``.
    """
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            header = reader.fieldnames or []
            missing = [c for c in required if c not in header]
            extra = [c for c in header if allowed is not None and c not in allowed]
            if missing:
                raise ValueError(f"no column {', '.join(missing)}")
            if extra:
                raise ValueError(f"its header {header} is not {','.join(allowed)}")
            rows = list(reader)
            epochs = [int(r["epoch"]) for r in rows]  # a row without an integer epoch: a damaged log
            return [r for r, e in zip(rows, epochs) if up_to is None or e <= up_to]
    except (OSError, ValueError, TypeError, csv.Error, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{path} is damaged ({exc}); {fix}") from exc


def log_rows_up_to(log_path: Path, epoch: int, fields) -> list:
    """The rows of ``log.csv`` (or ``val_classes.csv``) up to ``epoch``, the resume point, whose header must be
    within ``fields``; :class:`ArtifactError` for a damaged log, with the advice for a resume."""
    return read_log(log_path, allowed=fields, up_to=epoch)


def val_history(rows) -> List[Tuple[int, float]]:
    """``(epoch, val mIoU)`` of the ``log.csv`` rows (:func:`log_rows_up_to`) that have a validation."""
    return [(int(r["epoch"]), float(r["val_miou"])) for r in rows if r.get("val_miou")]


def smoothed_score(history: Sequence[Tuple[int, float]], window: int, epoch: Optional[int] = None) -> Optional[float]:
    """Mean val mIoU of the last ``window`` validations up to ``epoch`` (default: the last one); None if none.

    A run keeps the weights where this trailing mean peaks, not where one noisy validation does: on CamVid's
    101 val frames, consecutive validations of a converged run differ by a point or more.
    """
    values = [miou for e, miou in history if epoch is None or e <= epoch]
    if not values:
        return None
    recent = values[-window:]
    return sum(recent) / len(recent)


def plot_curve(log_path: Path, png_path: Path, title: str = "ENet on CamVid", select_window: int = 3) -> None:
    """Training loss, validation mIoU and its trailing mean over ``select_window`` validations (what
    selects ``best_weights.npz``) against epoch, from ``log.csv``; ``title`` names the run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(log_path) as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return
    epochs = [int(r["epoch"]) for r in rows]
    loss = [float(r["train_loss"]) for r in rows]
    val = [(int(r["epoch"]), float(r["val_miou"])) for r in rows if r["val_miou"]]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(epochs, loss, color="tab:blue", label="train loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("weighted cross-entropy", color="tab:blue")
    if val:
        ax2 = ax.twinx()
        ax2.plot([v[0] for v in val], [100 * v[1] for v in val], "o-", color="tab:red", alpha=0.5, label="val mIoU")
        if select_window > 1:
            smooth = [100 * smoothed_score(val, select_window, e) for e, _ in val]
            ax2.plot([v[0] for v in val], smooth, "-", color="darkred", lw=2,
                     label=f"mean of last {select_window} (selects the weights)")
        lines = ax.get_lines() + ax2.get_lines()  # one legend for both axes
        ax2.legend(lines, [line.get_label() for line in lines], loc="lower right", fontsize=8)
        ax2.set_ylabel("val mIoU (%)", color="tab:red")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    atomic_write_bytes(png_path, buffer.getvalue())
