"""Parity's metrics, each result and the limits a target sets on them (``[parity.thresholds.<row>]``).

Every metric is relative to ``max |ref|`` (the TensorFlow reference's logits) so it reads the same for any logit
scale: ``max_abs_rel``, ``mean_abs_rel``, ``share_off_2pct``, ``l2_rel`` (lower is better) and ``argmax_agreement``
(higher is better); :mod:`enet_edge.export.checks.parity` measures them. Apart from parity so that
:mod:`enet_edge.export.targets` reads :class:`ParityThresholds` without importing what parity runs: numpy-free,
no TensorFlow.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Dict, Optional

from enet_edge.errors import ConfigError

METRICS = ("max_abs_rel", "mean_abs_rel", "share_off_2pct", "l2_rel", "argmax_agreement")
HIGHER_IS_BETTER = {"argmax_agreement"}


@dataclass(frozen=True)
class ParityResult:
    """One row's metrics over all parity frames (floats in 0..1); the logit metrics are None for a class map (not
    measured); ``n_elements``: the reference's element count."""

    max_abs_rel: Optional[float]
    mean_abs_rel: Optional[float]
    share_off_2pct: Optional[float]
    l2_rel: Optional[float]
    argmax_agreement: float
    n_elements: int

    def to_dict(self) -> Dict[str, float]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class ParityThresholds:
    """Limits for one artifact kind; ``None`` = not gated."""

    max_abs_rel: Optional[float] = None
    mean_abs_rel: Optional[float] = None
    share_off_2pct: Optional[float] = None
    l2_rel: Optional[float] = None
    argmax_agreement: Optional[float] = None

    def __post_init__(self) -> None:
        for name in METRICS:
            value = getattr(self, name)
            if value is not None and not 0 <= value <= 1:
                raise ConfigError(f"parity threshold {name}={value} must be within 0..1")

    def failures(self, result: ParityResult) -> Dict[str, str]:
        """Metric -> 'value vs limit' for every metric outside its threshold."""
        bad = {}
        for name in METRICS:
            limit = getattr(self, name)
            if limit is None:
                continue
            value = getattr(result, name)
            if value is None:  # not measured (a class-map artifact has no logits)
                continue
            ok = value >= limit if name in HIGHER_IS_BETTER else value <= limit
            if not ok:
                bad[name] = f"{value:.3g} {'<' if name in HIGHER_IS_BETTER else '>'} {limit:.3g}"
        return bad
