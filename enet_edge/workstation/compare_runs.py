"""``enet-edge runs``: training runs side by side, by their val curves (csv and json only; no TensorFlow).

A run is judged by the mean of its last ``window`` validations (up to an epoch, so that runs of different
lengths compare at the same point), the smoothing that selects ``best_weights.npz``: one validation on CamVid's
101 val frames swings by a point. Per-class IoU comes from the run's ``val_classes.csv`` (runs started before it
existed have only the mIoU).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple

from enet_edge.errors import ArtifactError, ConfigError
from enet_edge.workstation.run_dir import read_log, smoothed_score, val_history

NOT_A_RUN_LOG = "give the --run-dir of a run written by enet-edge train"

CLASS_LOG = "val_classes.csv"
"""Per-class val IoU at every validation of a run (columns: epoch, the class names); ``log.csv`` has the mIoU."""


@dataclass(frozen=True)
class RunSummary:
    """A run's val scores averaged over ``epochs`` (its last validations up to the asked epoch).

    ``miou`` and ``per_class`` are fractions 0..1; ``per_class`` is empty for a run without ``val_classes.csv``.
    ``recipe`` names what sets the run apart (class weighting, scale range, splits, crop, learning rate).
    """

    name: str
    epochs: Tuple[int, ...]
    miou: float
    per_class: Dict[str, float] = field(default_factory=dict)
    recipe: str = ""


def _recipe(run_dir: Path) -> str:
    try:
        config = json.loads((run_dir / "state.json").read_text()).get("config") or {}
    except (OSError, ValueError):
        return ""
    parts = [f"{config.get('class_weighting', 'enet')} weights"]
    if (config.get("scale_min"), config.get("scale_max")) not in ((None, None), (1.0, 1.0)):
        parts.append(f"scale {config['scale_min']:g}-{config['scale_max']:g}")
    parts.append(f"crop {config.get('crop_height')}x{config.get('crop_width')}")
    if config.get("learning_rate") is not None:
        parts.append(f"lr {config['learning_rate']:g}")
    parts.append(config.get("train_splits") or "train")
    return ", ".join(parts)


def summarize_run(run_dir, window: int = 3, epoch: Optional[int] = None) -> RunSummary:
    """The mean val mIoU (and per-class IoU) of ``run_dir``'s last ``window`` validations up to ``epoch``
    (default: its last). :class:`ArtifactError` for a directory without a readable ``log.csv`` or without a
    validation by then."""
    if window < 1:
        raise ConfigError(f"--window {window} must be >= 1")
    run_dir = Path(run_dir)
    log_path = run_dir / "log.csv"
    if not log_path.is_file():
        raise ArtifactError(f"{run_dir} is not a training run directory (no log.csv); give the --run-dir of "
                            "an enet-edge train run")
    rows = read_log(log_path, required=("epoch", "val_miou"), fix=NOT_A_RUN_LOG)
    try:
        history = val_history(rows)
    except ValueError as exc:
        raise ArtifactError(f"{log_path} holds a value that is not a number ({exc}); {NOT_A_RUN_LOG}") from exc
    epochs = tuple(e for e, _ in history if epoch is None or e <= epoch)[-window:]
    if not epochs:
        raise ArtifactError(f"{run_dir} has no validation" + (f" up to epoch {epoch}" if epoch is not None else "")
                            + "; train it further or ask for a later --epoch")
    miou = smoothed_score(history, window, epochs[-1])
    per_class: Dict[str, float] = {}
    if (run_dir / CLASS_LOG).is_file():
        try:
            class_rows = {int(r["epoch"]): r for r in read_log(run_dir / CLASS_LOG, fix=NOT_A_RUN_LOG)}
            if all(e in class_rows for e in epochs):
                names = [n for n in class_rows[epochs[0]] if n != "epoch"]
                for name in names:
                    values = [float(class_rows[e][name]) for e in epochs if class_rows[e].get(name)]
                    if values:
                        per_class[name] = sum(values) / len(values)
        except ValueError as exc:
            raise ArtifactError(f"{run_dir / CLASS_LOG} holds a value that is not a number ({exc}); "
                                f"{NOT_A_RUN_LOG}") from exc
    return RunSummary(run_dir.name, epochs, miou, per_class, _recipe(run_dir))


def compare_markdown(summaries: Sequence[RunSummary], classes: Optional[Sequence[str]] = None) -> str:
    """A Markdown table, one row per run: its recipe, the validations averaged, mIoU and per-class IoU (%), and
    the mIoU difference to the first run (in points); ``classes`` picks the class columns (default: every class
    any run has)."""
    if classes is None:
        classes = list(dict.fromkeys(n for s in summaries for n in s.per_class))
    else:
        known = {n for s in summaries for n in s.per_class}
        unknown = [c for c in classes if c not in known]
        if unknown and known:
            raise ConfigError(f"--classes {', '.join(unknown)}: not a class of these runs ({', '.join(sorted(known))})")

    def pct(value: Optional[float]) -> str:
        return "–" if value is None or not math.isfinite(value) else f"{100 * value:.2f}"

    head = ["run", "recipe", "epochs averaged", "mIoU", "Δ mIoU"] + list(classes)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * 3 + "---:|" * (len(head) - 3)]
    first = summaries[0].miou if summaries else 0.0
    for s in summaries:
        delta = f"{100 * (s.miou - first):+.2f}"
        cells = [s.name, s.recipe, ", ".join(map(str, s.epochs)), pct(s.miou), delta]
        lines.append("| " + " | ".join(cells + [pct(s.per_class.get(c)) for c in classes]) + " |")
    return "\n".join(lines)
