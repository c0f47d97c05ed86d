"""Per-stage latency statistics of a demo run and its summary (:class:`DemoSummary`)."""

from __future__ import annotations

import random
from array import array
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any, Deque, Dict, Optional, Tuple

import numpy as np

from enet_edge.device.demo.config import STAGES


KEPT_SAMPLES = 10_000
"""Latencies kept per stage for the percentiles: every one up to this many frames, then a uniform reservoir sample of
this size (count, mean and max stay exact), so a run of days holds a bounded amount of memory."""


class StageSeries:
    """One stage's latencies (ns): exact count, sum and max; the samples for percentiles (all of them up to
    ``keep``, then a seeded uniform reservoir of ``keep``) in an ``array('q')``, 8 bytes each."""

    def __init__(self, keep: int = KEPT_SAMPLES):
        self.keep = int(keep)
        self.count = self.total = self.peak = 0
        self.samples = array("q")
        self._rng = random.Random(0)  # reproducible reservoir

    def add(self, ns: int) -> None:
        ns = int(ns)
        self.count += 1
        self.total += ns
        self.peak = max(self.peak, ns)
        if len(self.samples) < self.keep:
            self.samples.append(ns)
        else:
            j = self._rng.randrange(self.count)
            if j < self.keep:
                self.samples[j] = ns

    def summary_ms(self) -> Dict[str, float]:
        """mean, p50, p95, max in ms (mean and max exact; percentiles of the kept samples)."""
        ms = np.frombuffer(self.samples, np.int64).astype(np.float64) / 1e6
        return {"mean": round(self.total / self.count / 1e6, 3), "p50": round(float(np.percentile(ms, 50)), 3),
                "p95": round(float(np.percentile(ms, 95)), 3), "max": round(self.peak / 1e6, 3)}


class StageStats:
    """Per-stage latencies (ns) of every frame (:class:`StageSeries`: bounded memory), rolling means for the HUD,
    and a rolling FPS."""

    def __init__(self, window: int = 30, keep: int = KEPT_SAMPLES):
        self.keep = keep
        self.all: Dict[str, StageSeries] = {s: StageSeries(keep) for s in STAGES}
        self._recent: Dict[str, Deque[int]] = {s: deque(maxlen=window) for s in STAGES}
        self._emitted: Deque[int] = deque(maxlen=window + 1)

    def add(self, stage: str, ns: int) -> None:
        """Record one frame's ``stage`` latency; stages beyond :data:`STAGES` (e.g. ``wait``) are kept too."""
        if stage not in self.all:
            self.all[stage] = StageSeries(self.keep)
            self._recent[stage] = deque(maxlen=self._recent[STAGES[0]].maxlen)
        self.all[stage].add(ns)
        self._recent[stage].append(int(ns))

    def frame_out(self, t_ns: int) -> None:
        self._emitted.append(int(t_ns))

    def recent_ms(self, stage: str) -> Optional[float]:
        values = self._recent[stage]
        return sum(values) / len(values) / 1e6 if values else None

    def fps(self) -> Optional[float]:
        if len(self._emitted) < 2:
            return None
        span = self._emitted[-1] - self._emitted[0]
        return (len(self._emitted) - 1) * 1e9 / span if span > 0 else None

    def summary_ms(self) -> Dict[str, Dict[str, float]]:
        """Per stage: mean, p50, p95 and max in milliseconds (stages with no samples left out).

        ``wait`` (async only): time a frame waited for a free infer request before its inference."""
        return {stage: series.summary_ms() for stage, series in self.all.items() if series.count}


@dataclass(frozen=True)
class DemoSummary:
    """What a run did: frame count, wall time, end-to-end FPS and per-stage latency statistics (ms)."""

    frames: int
    seconds: float
    fps: float
    stages_ms: Dict[str, Dict[str, float]]
    source: str
    model: str
    backend: str
    device: str
    nireq: int
    precision: str = ""  # what ran, with why where it is not what was asked (e.g. "bf16 (CPU's default)")
    output: Optional[str] = None
    output_size: Optional[Tuple[int, int]] = None  # (width, height) of the rendered frames
    in_order: bool = True
    stopped_by: str = "end"  # "end" of the source, "limit", "key", "window", "interrupt" (Ctrl-C), "terminated",
    # "camera-lost" (--camera-timeout spent) or "device-lost" (--device-retries spent, no fallback left)
    warnings: Tuple[str, ...] = ()
    faults: Dict[str, int] = field(default_factory=dict)  # {"camera": n, "device": n}: fault events seen
    recovered: Dict[str, int] = field(default_factory=dict)  # of those, the ones frames came back after
    fallback_device: Optional[str] = None  # the --fallback-device the run went on with, if it had to
    error: Optional[str] = None  # the one line of a camera-lost / device-lost end
    served: Optional[str] = None  # the --serve URL

    @property
    def clean(self) -> bool:
        """Ended by the source, the limit, a key or the window (not a signal, not a lost camera or device)."""
        return self.stopped_by in ("end", "limit", "key", "window")

    def to_dict(self) -> Dict[str, Any]:
        data = asdict(self)
        data["output_size"] = list(self.output_size) if self.output_size else None
        data["warnings"] = list(self.warnings)
        return data

    def format(self) -> str:
        lines = [f"demo: {self.frames} frames in {self.seconds:.2f} s ({self.fps:.1f} FPS end to end), "
                 f"{self.backend} on {self.device}, precision {self.precision or '?'}, nireq {self.nireq}; "
                 f"stopped by {self.stopped_by}"]
        lines.append(f"  {'stage':<11} {'mean':>8} {'p50':>8} {'p95':>8} {'max':>8}   (ms)")
        for stage in list(STAGES) + sorted(set(self.stages_ms) - set(STAGES)):
            s = self.stages_ms.get(stage)
            if s:
                lines.append(f"  {stage:<11} {s['mean']:8.2f} {s['p50']:8.2f} {s['p95']:8.2f} {s['max']:8.2f}")
        if self.output:
            w, h = self.output_size or (0, 0)
            lines.append(f"  output: {self.output} ({w}x{h})")
        if any(self.faults.values()):
            lines.append("  faults: " + ", ".join(f"{kind} {n} ({self.recovered.get(kind, 0)} recovered)"
                                                  for kind, n in sorted(self.faults.items())))
        if self.fallback_device:
            lines.append(f"  fell back to {self.fallback_device}")
        if self.served:
            lines.append(f"  served: {self.served}")
        lines.extend(f"  note: {w}" for w in self.warnings)
        return "\n".join(lines)

