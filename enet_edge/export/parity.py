"""Parity of an exported artifact against the TensorFlow reference (like NCSDK's mvNCCheck).

Metrics, all relative to ``max |ref|`` so they read the same for any logit scale:
  max_abs_rel       max |out - ref| / max |ref|
  mean_abs_rel      mean |out - ref| / max |ref|
  share_off_2pct    share of elements with |out - ref| > 0.02 * max |ref|
  l2_rel            ||out - ref||_2 / ||ref||_2
  argmax_agreement  share of pixels whose class (argmax over the last axis) is the same

A class-map artifact (class ids (N,H,W) instead of logits) is compared on the class map alone
(:func:`compare_class_map`): its logit metrics are None, "not measured", and no threshold applies to them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Dict, Optional

import numpy as np

from enet_edge.errors import ConfigError

METRICS = ("max_abs_rel", "mean_abs_rel", "share_off_2pct", "l2_rel", "argmax_agreement")
HIGHER_IS_BETTER = {"argmax_agreement"}


@dataclass(frozen=True)
class ParityResult:
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


def compare(out: np.ndarray, ref: np.ndarray) -> ParityResult:
    """Parity of logits ``out`` against ``ref``, both (N,H,W,K) float, NHWC."""
    out = np.asarray(out, np.float64)
    ref = np.asarray(ref, np.float64)
    if out.shape != ref.shape:
        raise ConfigError(f"parity: output shape {out.shape} differs from the reference {ref.shape}")
    diff = np.abs(out - ref)
    scale = max(float(np.abs(ref).max()), 1e-12)
    return ParityResult(
        max_abs_rel=float(diff.max() / scale),
        mean_abs_rel=float(diff.mean() / scale),
        share_off_2pct=float(np.mean(diff > 0.02 * scale)),
        l2_rel=float(np.linalg.norm(out - ref) / max(np.linalg.norm(ref), 1e-12)),
        argmax_agreement=float(np.mean(out.argmax(-1) == ref.argmax(-1))),
        n_elements=int(ref.size),
    )


def compare_class_map(ids: np.ndarray, ref: np.ndarray) -> ParityResult:
    """Parity of class ids ``ids`` (N,H,W) against the class map of reference logits ``ref`` (N,H,W,K)."""
    ids = np.asarray(ids)
    if ids.shape != ref.shape[:-1]:
        raise ConfigError(f"parity: class map shape {ids.shape} differs from the reference's {ref.shape[:-1]}")
    agreement = float(np.mean(ids.astype(np.int64) == np.asarray(ref).argmax(-1)))
    return ParityResult(None, None, None, None, agreement, int(ids.size))
