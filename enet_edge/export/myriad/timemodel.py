"""A MYRIAD X time model: the milliseconds of a frame on the Neural Compute Stick 2, from the compiler's dump.

Every executed stage of :func:`~enet_edge.export.myriad.compiler.parse_dump`'s graph runs one after another on the
stick (vpu's serialized stage list), so one request's compute time is the sum of its stages' times:

- NCE (``MyriadXHwOp``: conv, pool, FC): ``macs / nce_gmacs`` (the MACs the engine does: weights as the compiler
  laid them out, padded channels and tile junk included, x output positions);
- SHAVE compute stages (Conv, Deconvolution, depthwise conv, FC on SHAVEs): ``macs / shave_gmacs``;
- SHAVE memory stages (Sum, PRelu, Permute, Convert, Pad, ReLU, ...): ``bytes moved / shave_gbs``; SHAVE
  activations that evaluate a transcendental per element (Swish, Mish, Sigmoid, Tanh, Exp, SoftMax, Power, ...):
  ``bytes moved / shave_act_gbs``;
- DMA (``Copy``): ``bytes moved / dma_gbs``;
- every executed stage: ``stage_us`` of dispatch. Injected stages run in an NCE stage's shadow: no time of their own.
- A SHAVE stage type the model cannot price (e.g. DetectionOutput: a sort, neither MACs nor bytes) gets its dispatch
  cost only and is listed in ``unmodelled`` by name with its count: never a silent zero.

A synchronous request adds the USB transfer of its actual input and output tensors (usedMemory ``input``/``output``
of the dump: the precisions set on the compiled network) at ``usb3_mbs`` or ``usb2_mbs`` plus ``usb_request_ms``.
Throughput mode (4 requests in flight, the stick's optimum) hides the USB link behind the stick's work, and the
plugin's streams overlap part of two requests' stages: a frame every ``compute_ms / throughput_parallelism``, and
never faster than the USB 3 link moves its bytes.

The parameters live in ``enet_edge/data/myriad_time_model.toml`` (:func:`load_time_model`), written by
``benchmarks/myriad_calibrate.py`` with :func:`fit` (non-negative least squares on relative error, exact active-set
search, pure numpy) and :func:`leave_one_out`. No TensorFlow or OpenVINO here.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from enet_edge.export.myriad.dump import CompiledGraph, Stage

TIME_MODEL_FILE = "myriad_time_model.toml"
THROUGHPUT_REQUESTS = 4
"""Requests in flight in throughput mode: the MYRIAD plugin's optimal number for one NCS2."""

SHAVE_COMPUTE_TYPES = frozenset({"Conv", "Convolution", "DepthConv", "DepthwiseConvolution", "Deconvolution",
                                 "Deconv", "FullyConnected", "FC", "MatMul", "Gemm"})
"""SHAVE stages priced by MACs."""
SHAVE_MEMORY_TYPES = frozenset({
    "Sum", "Prod", "Sub", "Div", "Max", "Min", "Eltwise", "Squared_diff", "Pow", "Floor_mod",
    "Relu", "LeakyRelu", "PRelu", "Clamp", "Elu", "Sigmoid", "Tanh", "Swish", "Mish", "Gelu", "HSwish", "SoftPlus",
    "Exp", "Log", "Floor", "Ceiling", "Abs", "Erf", "Power", "ScaleShift", "Scale", "Bias", "Convert", "Copy",
    "Permute", "Pad", "Crop", "StridedSlice", "Tile", "Concat", "Split", "Reshape", "Resample", "Interp", "Interpolate",
    "SoftMax", "LogSoftMax", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceSum", "ReduceAnd", "ReduceProd",
    "Normalize", "MVN", "Gather", "Select", "Equal", "Greater", "GreaterEqual", "Less", "LessEqual", "NotEqual",
    "Logical_AND", "Logical_OR", "Logical_NOT", "RegionYolo", "ReorgYolo", "Upsampling", "CTCDecoder", "Pooling",
    "Pool", "TopK", "ArgMax", "Broadcast", "Clip", "Ceil", "Round", "Sqrt", "Neg", "ScatterUpdate", "Sign"})
"""SHAVE stages priced by bytes moved (memory-bound: a few operations per element)."""
SHAVE_ACTIVATION_TYPES = frozenset({"Swish", "Mish", "Sigmoid", "Tanh", "Exp", "SoftMax", "LogSoftMax", "Elu", "Gelu",
                                    "HSwish", "SoftPlus", "Power", "Pow", "Log", "Erf", "Sqrt"})
"""SHAVE memory stages that evaluate a transcendental per element: priced by bytes at ``shave_act_gbs`` (a Power
stage with ``power = 1`` is a linear scaling: a memory stage)."""

PARAMETER_UNITS = {
    "nce_gmacs": "GMAC/s: NCE multiply-accumulates per second",
    "shave_gmacs": "GMAC/s: SHAVE convolution multiply-accumulates per second",
    "shave_gbs": "GB/s: bytes a SHAVE memory stage reads and writes per second",
    "shave_act_gbs": "GB/s: bytes a SHAVE transcendental activation (Swish, Sigmoid, ...) reads and writes per second",
    "dma_gbs": "GB/s: bytes a DMA copy reads and writes per second",
    "stage_us": "us: dispatch cost of every executed stage",
    "throughput_parallelism": "requests computed at once in throughput mode (1 = none; the plugin's 2 streams: <= 2)",
    "usb3_mbs": "MB/s: effective USB 3 bulk bandwidth",
    "usb2_mbs": "MB/s: effective USB 2 bulk bandwidth",
    "usb_request_ms": "ms: fixed USB/plugin cost of one synchronous request",
}
FITTED = ("nce_gmacs", "shave_gbs", "shave_act_gbs", "dma_gbs", "stage_us")
"""The parameters :func:`fit` estimates, in the order of :data:`FEATURES`' columns."""
FEATURES = ("nce_gmac", "shave_gb", "shave_act_gb", "dma_gb", "stages")
"""A network's aggregated features (:func:`features`): NCE GMAC, SHAVE memory-stage GB, SHAVE activation GB, DMA GB,
executed stages.
``shave_gmac`` (SHAVE convolution GMAC) is priced with the prior ``shave_gmacs`` (none in the fit set)."""


@dataclass(frozen=True)
class TimeModel:
    """The time model's parameters (units: :data:`PARAMETER_UNITS`) and the record of their fit."""

    nce_gmacs: float
    shave_gmacs: float
    shave_gbs: float
    shave_act_gbs: float
    dma_gbs: float
    stage_us: float
    throughput_parallelism: float
    usb3_mbs: float
    usb2_mbs: float
    usb_request_ms: float
    version: str = "unfitted"
    loo_median_error: float = float("nan")

    def __post_init__(self):
        for f in fields(self):
            if f.name in ("version", "loo_median_error"):
                continue
            value = getattr(self, f.name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or math.isnan(value) or value < 0:
                raise ValueError(f"time model parameter {f.name}={value!r}: a number >= 0 ({PARAMETER_UNITS[f.name]})")
            if value == 0 and f.name not in ("stage_us", "usb_request_ms"):
                raise ValueError(f"time model parameter {f.name}=0: a rate must be > 0 (inf: costs nothing)")
        if not 1 <= self.throughput_parallelism <= THROUGHPUT_REQUESTS:
            raise ValueError(f"throughput_parallelism={self.throughput_parallelism}: between 1 and "
                             f"{THROUGHPUT_REQUESTS} (the requests in flight)")

    def parameters(self) -> Dict[str, float]:
        return {k: v for k, v in asdict(self).items() if k in PARAMETER_UNITS}


def load_time_model(path: Optional[Path] = None) -> TimeModel:
    """The stored parameters (``enet_edge/data/myriad_time_model.toml``, or ``path``)."""
    from enet_edge.resources import DATA_DIR, read_toml

    table = read_toml(path or DATA_DIR / TIME_MODEL_FILE)
    fit_record = table.get("fit", {})
    return TimeModel(**{k: float(v) for k, v in table["parameters"].items()}, version=str(table.get("version", "?")),
                     loo_median_error=float(fit_record.get("loo_median_error", float("nan"))))


# -- one stage ------------------------------------------------------------------------------------------


def stage_kind(stage: Stage) -> str:
    """How a stage is priced: ``nce``, ``shave_compute``, ``shave_memory``, ``dma``, ``hidden`` (injected),
    ``shave_activation``, ``none`` (special: never run) or ``unmodelled``."""
    if stage.category == "special":
        return "none"
    if stage.category == "injected":
        return "hidden"
    if stage.category == "NCE":
        return "nce" if stage.macs > 0 else "unmodelled"
    if stage.category == "DMA":
        return "dma"
    if stage.type in SHAVE_COMPUTE_TYPES and stage.macs > 0:
        return "shave_compute"
    if stage.type in SHAVE_ACTIVATION_TYPES and not _linear_power(stage):
        return "shave_activation"
    if stage.type in SHAVE_MEMORY_TYPES:
        return "shave_memory"
    return "unmodelled"


def _linear_power(stage: Stage) -> bool:
    """A Power stage with ``power = 1``: ``scale * x + shift``, a linear scaling (memory-bound), no transcendental."""
    if stage.type not in ("Power", "Pow"):
        return False
    try:
        return float(stage.attr("power", "nan")) == 1.0
    except ValueError:
        return False


def stage_ms(stage: Stage, params: TimeModel) -> float:
    """The predicted milliseconds of one stage (0 for special and injected stages)."""
    kind = stage_kind(stage)
    if kind in ("none", "hidden"):
        return 0.0
    work = {"nce": stage.macs / params.nce_gmacs / 1e6, "shave_compute": stage.macs / params.shave_gmacs / 1e6,
            "shave_memory": stage.traffic / params.shave_gbs / 1e6,
            "shave_activation": stage.traffic / params.shave_act_gbs / 1e6, "dma": stage.traffic / params.dma_gbs / 1e6}
    return work.get(kind, 0.0) + params.stage_us / 1e3


def features(graph: CompiledGraph) -> Dict[str, float]:
    """A graph's aggregated features: :data:`FEATURES`, ``shave_gmac``, its I/O bytes, and ``unmodelled`` stages."""
    out = {"nce_gmac": 0.0, "shave_gmac": 0.0, "shave_gb": 0.0, "shave_act_gb": 0.0, "dma_gb": 0.0, "stages": 0,
           "unmodelled": 0}
    for stage in graph.stages:
        kind = stage_kind(stage)
        if kind in ("none", "hidden"):
            continue
        out["stages"] += 1
        if kind == "nce":
            out["nce_gmac"] += stage.macs / 1e9
        elif kind == "shave_compute":
            out["shave_gmac"] += stage.macs / 1e9
        elif kind == "shave_memory":
            out["shave_gb"] += stage.traffic / 1e9
        elif kind == "shave_activation":
            out["shave_act_gb"] += stage.traffic / 1e9
        elif kind == "dma":
            out["dma_gb"] += stage.traffic / 1e9
        else:
            out["unmodelled"] += 1
    out["input_bytes"], out["output_bytes"] = io_bytes(graph)
    return out


def io_bytes(graph: CompiledGraph) -> Tuple[int, int]:
    """Bytes of the request's input and output tensors as they cross USB: the dump's usedMemory ``input``/``output``
    (the precisions set on the network), else its Input/Output data nodes."""
    if "input" in graph.memory and "output" in graph.memory:
        return graph.memory["input"], graph.memory["output"]
    ins = {t for s in graph.stages for t in s.inputs if t.usage == "Input"}
    outs = {t for s in graph.stages for t in s.outputs if t.usage == "Output"}
    return sum(t.bytes for t in ins), sum(t.bytes for t in outs)


# -- a request ----------------------------------------------------------------------------------------------


def usb_ms(n_bytes: float, mbs: float) -> float:
    return n_bytes / mbs / 1e3


def frame_times(compute_ms: float, in_bytes: float, out_bytes: float, params: TimeModel) -> dict:
    """Sync ms (USB 3, USB 2) and throughput FPS of a request of ``compute_ms`` moving these I/O bytes."""
    moved = in_bytes + out_bytes
    sync = {link: compute_ms + params.usb_request_ms + usb_ms(moved, getattr(params, f"{link}_mbs"))
            for link in ("usb3", "usb2")}
    frame_ms = max(compute_ms / params.throughput_parallelism, usb_ms(moved, params.usb3_mbs))
    return {"sync_ms": sync, "throughput_fps": 1e3 / frame_ms if frame_ms > 0 else float("inf")}


def predict(graph: CompiledGraph, params: Optional[TimeModel] = None) -> dict:
    """The predicted time of one compiled graph: ``sync_ms`` (``usb3``, ``usb2``), ``throughput_fps``,
    ``compute_ms``, ``top_stage_types`` (up to 8 ``{type, ms, count}`` by time), ``unmodelled`` (``{type, count}``),
    ``model`` (``version``, ``loo_median_error``)."""
    params = params or load_time_model()
    by_type: Dict[str, float] = defaultdict(float)
    counts: Counter = Counter()
    unmodelled: Counter = Counter()
    for stage in graph.stages:
        kind = stage_kind(stage)
        if kind in ("none", "hidden"):
            continue
        key = f"{stage.category} {stage.type}"
        by_type[key] += stage_ms(stage, params)
        counts[key] += 1
        if kind == "unmodelled":
            unmodelled[key] += 1
    compute = sum(by_type.values())
    times = frame_times(compute, *io_bytes(graph), params)
    top = sorted(by_type, key=lambda k: (-by_type[k], k))[:8]
    return {"sync_ms": {k: round(v, 3) for k, v in times["sync_ms"].items()},
            "throughput_fps": round(times["throughput_fps"], 3), "compute_ms": round(compute, 3),
            "top_stage_types": [{"type": k, "ms": round(by_type[k], 3), "count": counts[k]} for k in top],
            "unmodelled": [{"type": k, "count": n} for k, n in sorted(unmodelled.items())],
            "model": {"version": params.version, "loo_median_error": params.loo_median_error}}


def compute_ms_from_features(row: Mapping[str, float], params: TimeModel) -> float:
    """One request's compute ms from aggregated :func:`features` (the same sum as :func:`predict`)."""
    return (1e3 * (row["nce_gmac"] / params.nce_gmacs + row.get("shave_gmac", 0.0) / params.shave_gmacs
                   + row["shave_gb"] / params.shave_gbs + row["shave_act_gb"] / params.shave_act_gbs
                   + row["dma_gb"] / params.dma_gbs)
            + row["stages"] * params.stage_us / 1e3)


def throughput_fps_from_features(row: Mapping[str, float], params: TimeModel) -> float:
    compute = compute_ms_from_features(row, params)
    return frame_times(compute, row.get("input_bytes", 0), row.get("output_bytes", 0), params)["throughput_fps"]


# -- the fit --------------------------------------------------------------------------------------------------


def nnls(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """min ||a x - b|| subject to x >= 0, exactly, by trying every active set (fine for the few columns here:
    2^n least-squares solves; the optimum's free set solves its unconstrained problem with x > 0)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    n = a.shape[1]
    if n > 12:
        raise ValueError(f"nnls: {n} columns; the exhaustive search is for a few parameters")
    best, best_cost = np.zeros(n), float(b @ b)
    for size in range(1, n + 1):
        for cols in itertools.combinations(range(n), size):
            sub = a[:, cols]
            x_sub, *_ = np.linalg.lstsq(sub, b, rcond=None)
            if np.any(x_sub <= 0):
                continue
            cost = float(np.sum((sub @ x_sub - b) ** 2))
            if cost < best_cost - 1e-15:
                best, best_cost = np.zeros(n), cost
                best[list(cols)] = x_sub
    return best


def fit(feature_rows: Sequence[Mapping[str, float]], measured_fps: Sequence[float], prior: TimeModel,
        sync_anchor: Optional[Tuple[Sequence[int], float]] = None) -> TimeModel:
    """The :data:`FITTED` parameters that minimize the squared relative error of the throughput frame time
    (``1000 / fps``) over the rows, non-negative; the others from ``prior``.

    The fit sees throughput frames only: it fits the rates in units of ``compute_ms / throughput_parallelism``.
    ``sync_anchor`` = (row indices, one request's measured compute ms): sets ``throughput_parallelism`` to the
    measured compute ms over the geometric mean of those rows' fitted throughput frame ms (clipped to [1, 4])
    and scales the rates to one request's time. None: ``prior.throughput_parallelism`` is kept."""
    x = np.array([[row[f] for f in FEATURES] for row in feature_rows], float)
    y = 1e3 / np.asarray(measured_fps, float)
    p0 = prior.throughput_parallelism
    # SHAVE convolutions (prior rate) are known time: take them off the target, in throughput units
    known = np.array([1e3 * row.get("shave_gmac", 0.0) / prior.shave_gmacs for row in feature_rows]) / p0
    scale = np.array([1e3, 1e3, 1e3, 1e3, 1e-3])  # GMAC / (GMAC/s) -> ms, GB / (GB/s) -> ms, stages * us -> ms
    coef = nnls((x * scale) / y[:, None], (y - known) / y)  # ms per unit, in throughput units
    parallelism = p0
    if sync_anchor is not None:
        rows, sync_ms = sync_anchor
        frames = (x[list(rows)] * scale) @ coef + known[list(rows)]
        parallelism = float(np.clip(sync_ms / np.exp(np.mean(np.log(frames))), 1.0, THROUGHPUT_REQUESTS))
    physical = coef * parallelism  # one request's ms per unit
    rates = {name: (1.0 / float(c) if c > 0 else float("inf")) for name, c in zip(FITTED[:4], physical[:4])}
    return replace(prior, **rates, stage_us=float(physical[4]), throughput_parallelism=parallelism)


def leave_one_out(feature_rows: Sequence[Mapping[str, float]], measured_fps: Sequence[float], prior: TimeModel,
                  sync_anchor: Optional[Tuple[Sequence[int], float]] = None) -> List[float]:
    """Each row's predicted throughput FPS by the parameters fitted on the other rows."""
    predicted = []
    for i in range(len(feature_rows)):
        keep = [j for j in range(len(feature_rows)) if j != i]
        anchor = None
        if sync_anchor is not None:
            kept = [keep.index(j) for j in sync_anchor[0] if j != i]
            anchor = (kept, sync_anchor[1]) if kept else None
        params = fit([feature_rows[j] for j in keep], [measured_fps[j] for j in keep],
                     prior, anchor)
        predicted.append(throughput_fps_from_features(feature_rows[i], params))
    return predicted


def median_error(predicted: Sequence[float], measured: Sequence[float]) -> float:
    """Median of |predicted / measured - 1|."""
    return float(np.median(np.abs(np.asarray(predicted, float) / np.asarray(measured, float) - 1)))
