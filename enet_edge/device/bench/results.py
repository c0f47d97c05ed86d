"""What the bench measured: duration statistics (:class:`Stats`), phases and per-entry results."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np

from enet_edge.device.bench.config import BenchEntry
from enet_edge.runtime.adapters import LayerCounter
from enet_edge.runtime.complexity import Complexity
from enet_edge.runtime.precision import PrecisionRun


@dataclass(frozen=True)
class Stats:
    """Summary of duration samples, in nanoseconds. Percentiles interpolate linearly between the
    closest ranks (numpy's default): for the samples 1..100, median = 50.5, p90 = 90.1, p99 = 99.01."""

    count: int
    min_ns: float
    mean_ns: float
    median_ns: float
    p90_ns: float
    p99_ns: float
    max_ns: float

    @classmethod
    def from_ns(cls, samples: Sequence[int]) -> "Stats":
        data = np.asarray(samples, dtype=np.float64)
        if data.size == 0:
            nan = float("nan")
            return cls(0, nan, nan, nan, nan, nan, nan)
        median, p90, p99 = (float(v) for v in np.percentile(data, [50.0, 90.0, 99.0]))
        return cls(int(data.size), float(data.min()), float(data.mean()), median, p90, p99, float(data.max()))

    def ms(self) -> Dict[str, Optional[float]]:
        """{"min", "mean", "median", "p90", "p99", "max"} in milliseconds (None where there are no samples)."""
        values = {"min": self.min_ns, "mean": self.mean_ns, "median": self.median_ns, "p90": self.p90_ns,
                  "p99": self.p99_ns, "max": self.max_ns}
        return {k: (None if self.count == 0 else round(v / 1e6, 6)) for k, v in values.items()}


@dataclass(frozen=True)
class PhaseResult:
    """One timed phase (infer-only or end-to-end) of one model, all rounds together."""

    latency: Stats
    wall_ns: int  # summed wall time of the phase's chunks
    stages: Dict[str, Stats] = field(default_factory=dict)  # end-to-end only: the STAGES present

    @property
    def fps(self) -> float:
        return self.latency.count / (self.wall_ns / 1e9) if self.wall_ns > 0 else float("nan")


@dataclass(frozen=True)
class BenchResult:
    """Everything measured for one entry; :func:`result_document` turns it into the JSON document."""

    entry: BenchEntry
    model: str  # the model file that ran
    backend: str
    device: str
    precision: str  # what runs (OpenVINO's INFERENCE_PRECISION_HINT read back), e.g. bf16, i8+f32
    model_precision: Optional[str]  # what the file holds (manifest), e.g. FP16
    mode: str
    nireq: int
    properties: Dict[str, Any]
    input: Dict[str, Any]
    artifact: Dict[str, Any]
    verify_ms: float
    load_ms: float
    first_infer_ms: float
    infer: PhaseResult
    e2e: PhaseResult
    rounds: int
    per_layer: Optional[Tuple[LayerCounter, ...]] = None  # averaged counters, sorted by real time (all layers)
    infer_samples_ns: Tuple[int, ...] = ()  # the infer-only latencies themselves, in the order measured
    precision_run: Optional[PrecisionRun] = None  # what was asked and what ran, with its note
    interrupted: bool = False  # Ctrl-C stopped the timed phases: the samples measured before it
    devices: Tuple[Dict[str, Any], ...] = ()  # AUTO:/MULTI: lists in throughput mode: each device alone

    def spread(self) -> Dict[str, Optional[float]]:
        """p90 / median of each phase (1.0: no spread; None: no samples): how far to trust the medians."""
        def ratio(stats: Stats) -> Optional[float]:
            if not stats.count or not stats.median_ns > 0:
                return None
            return round(stats.p90_ns / stats.median_ns, 3)

        return {"infer_p90_over_median": ratio(self.infer.latency), "e2e_p90_over_median": ratio(self.e2e.latency)}

    def warnings(self) -> Tuple[str, ...]:
        """Why the numbers may not be trusted: a busy machine (spread, infer-only slower than end-to-end) or an
        interrupted run."""
        from enet_edge.device.bench.config import NOISY_P90_OVER_MEDIAN

        out = []
        infer, e2e = self.infer.latency, self.e2e.latency
        if (self.mode == "latency" and infer.count and e2e.count and infer.median_ns > e2e.median_ns):
            out.append(f"infer-only median ({infer.median_ns / 1e6:.3f} ms) exceeds the end-to-end median "
                       f"({e2e.median_ns / 1e6:.3f} ms), which includes it: the machine was busy; rerun on an idle "
                       f"machine (or with more --niter / --time)")
        for phase, value in (("infer-only", self.spread()["infer_p90_over_median"]),
                             ("end-to-end", self.spread()["e2e_p90_over_median"])):
            if value is not None and value > NOISY_P90_OVER_MEDIAN:
                out.append(f"{phase} p90 is {value:.2f}x its median (over {NOISY_P90_OVER_MEDIAN}x): too noisy to "
                           f"trust; rerun on an idle machine")
        if self.interrupted:
            out.append("interrupted (Ctrl-C): statistics of the iterations measured before it")
        return tuple(out)
    complexity: Optional[Complexity] = None  # MACs per layer of the model file (.xml/.onnx read by OpenVINO)
    parameters: Optional[int] = None  # trainable parameters of the network (from the export's manifest)
    roofline: Optional[Dict[str, Any]] = None  # compute peak and activation stream (enet_edge.runtime.roofline)
    predicted: Optional[Dict[str, Any]] = None  # the export manifest's myriad_compiler.predicted (MYRIAD X time model)
