"""``enet-edge bench``: latency/throughput of exported models, infer-only and end-to-end.

Imports without TensorFlow (numpy, OpenCV and an inference runtime only). The command line part
(:func:`add_cli`) turns arguments into a frozen :class:`BenchConfig`; :func:`run_bench` measures and
returns :class:`BenchResult` objects; formatting happens only at output (:func:`format_report`,
:func:`format_compare`, :func:`result_document`).

Two timed phases per model, each ``niter`` iterations (or ``time_s`` seconds):

* **infer-only**: pre-processed input tensors (1, H, W, 3) NHWC fed back to back, output not
  fetched; what OpenVINO's ``benchmark_app`` measures.
* **end-to-end**: read a frame (an image file from ``--images`` or an in-memory random frame),
  pre-process (resize to the model, dtype), infer, post-process (argmax class map, resized back
  to the frame size).

Latency mode runs one request synchronously; throughput mode keeps ``nireq`` requests in flight
(OpenVINO ``AsyncInferQueue``; other backends run synchronously). With several entries
(``--compare``) every model is loaded first, then the timed iterations run in interleaved rounds
(round 1: A, B, C; round 2: A, B, C; ...), so that machine drift affects all entries alike.

All samples are ``time.perf_counter_ns`` integers; statistics are computed on nanoseconds and
converted to milliseconds only for output.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from enet_edge import __version__
from enet_edge.errors import ConfigError, InputError
from enet_edge.runtime.adapters import BACKENDS, VIRTUAL_DEVICES, InferenceAdapter, LayerCounter, open_adapter
from enet_edge.runtime.manifest import Artifact, resolve_artifact
from enet_edge.runtime.precision import PrecisionRun, normalize_precision
from enet_edge.runtime.segmenter import AsyncPipeline, Segmenter

SCHEMA = "enet-edge-bench/1"
MODES = ("latency", "throughput")
HINTS = ("auto", "latency", "throughput", "cumulative_throughput", "none")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
DEFAULT_NITER = 100
DEFAULT_ROUNDS = 10
PER_LAYER_RUNS = 10
MAX_INFER_TENSORS = 8  # distinct pre-processed inputs cycled through in the infer-only phase
RANDOM_FRAMES = 4
STAGES = ("read", "preprocess", "wait", "infer", "collect", "postprocess")

ENTRY_SYNTAX = """\
model / compare entry syntax:  PATH[:BACKEND[:DEVICE[:PRECISION]]]
  PATH       an export directory (manifest.json sha256-verified) or one .xml / .onnx / .pb file
  BACKEND    openvino | onnxruntime | tensorflow  (default --backend, else by file type:
             .xml -> openvino, .onnx -> onnxruntime, .pb -> tensorflow; a directory -> its IR)
  DEVICE     OpenVINO device: CPU, GPU, GPU.1, NPU, MYRIAD, AUTO, HETERO:MYRIAD,CPU ...  (default --device)
  PRECISION  f32 | f16 | bf16: OpenVINO INFERENCE_PRECISION_HINT  (default --precision, else the device's)
  Empty fields take the defaults (build/cpu::GPU, build/cpu:::f16).
examples:
  enet-edge bench build/cpu
  enet-edge bench build/ncs2 -d MYRIAD --mode throughput --nireq 4 --time 20 --json ncs2.json
  enet-edge bench build/cpu --per-layer 15 --images ../shared/camvid/val
  enet-edge bench --compare build/cpu:openvino:CPU:f32 build/ncs2:openvino:CPU \\
      build/cpu/enet.onnx:onnxruntime build/cpu/enet_frozen.pb:tensorflow --niter 200 --json compare.json
"""


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BenchEntry:
    """One model to benchmark: artifact path, backend (None: by file type), device, precision hint."""

    model: str
    backend: Optional[str] = None
    device: str = "CPU"
    precision: Optional[str] = None  # f32 | f16 | bf16 (OpenVINO INFERENCE_PRECISION_HINT); None: the device's
    label: str = ""
    options: Tuple[Tuple[str, Any], ...] = ()  # extra adapter options, e.g. (("height", 720), ("width", 960)) for keras

    def __post_init__(self) -> None:
        if not self.model:
            raise ConfigError("an entry needs a model path")
        if self.backend is not None and self.backend not in BACKENDS:
            raise ConfigError(f"unknown backend {self.backend!r} in {self.label or self.model}; "
                              f"choose one of {', '.join(BACKENDS)}")
        if not self.device:
            raise ConfigError(f"empty device in {self.label or self.model}")
        head = self.device.partition(":")[0]
        if ":" in self.device and head not in VIRTUAL_DEVICES:
            raise ConfigError(f"device {self.device!r}: only {', '.join(VIRTUAL_DEVICES)} take a ':' device list "
                              f"(is {self.device.rpartition(':')[2]!r} meant as a precision? use f32, f16 or bf16)")
        object.__setattr__(self, "precision", normalize_precision(self.precision))
        allowed = {"onnxruntime": ("f32",), "tensorflow": ("f32",), "keras": ("f32", "f16")}.get(self.backend)
        if self.precision and allowed and self.precision not in allowed:
            raise ConfigError(f"{self.label or self.model}: the {self.backend} backend runs {' or '.join(allowed)} "
                              f"only, not {self.precision}")
        if not self.label:
            object.__setattr__(self, "label", self.model)


def parse_entry(spec: str, backend: Optional[str] = None, device: str = "CPU",
                precision: Optional[str] = None) -> BenchEntry:
    """Parse ``PATH[:BACKEND[:DEVICE[:PRECISION]]]``; empty or absent fields take the given defaults.

    DEVICE may itself hold colons (``HETERO:MYRIAD,CPU``); a last field that names a precision is
    the precision. A spec that exists as a path as a whole is a path.
    """
    if not spec:
        raise ConfigError("empty model entry")
    if Path(spec).exists():
        return BenchEntry(spec, backend, device, precision, label=spec)
    parts = spec.split(":")
    if len(parts) > 1 and len(parts[0]) == 1 and parts[0].isalpha() and parts[1][:1] in ("\\", "/"):
        parts = [parts[0] + ":" + parts[1]] + parts[2:]  # Windows drive letter
    path, rest = parts[0], parts[1:]
    if rest and rest[0]:
        if rest[0] not in BACKENDS:
            raise ConfigError(f"entry {spec!r}: {rest[0]!r} is not a backend ({', '.join(BACKENDS)}); "
                              f"syntax PATH[:BACKEND[:DEVICE[:PRECISION]]]")
        backend = rest[0]
    fields = rest[1:]
    if fields and (_is_precision(fields[-1]) or (fields[-1] == "" and len(fields) > 1)):
        precision = fields[-1] or precision
        fields = fields[:-1]
    if fields and ":".join(fields):
        device = ":".join(fields)
    return BenchEntry(path, backend, device, precision, label=spec)


def _is_precision(text: str) -> bool:
    try:
        return normalize_precision(text) is not None
    except ConfigError:
        return False


@dataclass(frozen=True)
class BenchConfig:
    """What to measure. ``niter`` and ``time_s`` are per model and per phase (infer-only, end-to-end).

    ``nireq`` None: 1 in latency mode, the device's optimal number in throughput mode.
    ``nstreams``: OpenVINO NUM_STREAMS ("AUTO" or a positive integer as text). ``hint``: "auto"
    takes the mode's PERFORMANCE_HINT. ``per_layer``: top N OpenVINO per-layer counters (0: off).
    ``rounds``: interleaved rounds (None: 1 for one entry, else up to 10). ``images``: a folder of
    frames (read in sorted order, cycled); None: seeded random frames at the model size.
    """

    entries: Tuple[BenchEntry, ...]
    mode: str = "latency"
    niter: Optional[int] = None
    time_s: Optional[float] = None
    warmup: int = 5
    images: Optional[str] = None
    nireq: Optional[int] = None
    nstreams: Optional[str] = None
    hint: str = "auto"
    threads: Optional[int] = None
    per_layer: int = 0
    rounds: Optional[int] = None
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "entries", tuple(self.entries))
        if not self.entries:
            raise ConfigError("nothing to benchmark: give a MODEL or --compare entries")
        if not all(isinstance(e, BenchEntry) for e in self.entries):
            raise ConfigError("entries must be BenchEntry objects (see parse_entry)")
        if self.mode not in MODES:
            raise ConfigError(f"mode {self.mode!r} must be one of {', '.join(MODES)}")
        if self.niter is not None and self.time_s is not None:
            raise ConfigError("give --niter or --time, not both")
        if self.niter is not None and self.niter < 1:
            raise ConfigError(f"niter={self.niter} must be >= 1")
        if self.time_s is not None and not self.time_s > 0:
            raise ConfigError(f"time={self.time_s} must be > 0 seconds")
        if self.warmup < 0:
            raise ConfigError(f"warmup={self.warmup} must be >= 0")
        if self.nireq is not None:
            if self.nireq < 1:
                raise ConfigError(f"nireq={self.nireq} must be >= 1")
            if self.mode == "latency" and self.nireq != 1:
                raise ConfigError("--nireq applies to --mode throughput (latency mode runs 1 request synchronously)")
        if self.nstreams is not None:
            text = str(self.nstreams).upper()
            if text != "AUTO" and not (text.isdigit() and int(text) >= 1):
                raise ConfigError(f"nstreams={self.nstreams!r} must be AUTO or a positive integer")
            object.__setattr__(self, "nstreams", text)
        if self.hint not in HINTS:
            raise ConfigError(f"hint {self.hint!r} must be one of {', '.join(HINTS)}")
        if self.threads is not None and self.threads < 1:
            raise ConfigError(f"threads={self.threads} must be >= 1")
        if self.per_layer < 0:
            raise ConfigError(f"per_layer={self.per_layer} must be >= 0")
        if self.rounds is not None and self.rounds < 1:
            raise ConfigError(f"rounds={self.rounds} must be >= 1")

    @property
    def total_niter(self) -> Optional[int]:
        """Timed iterations per model and phase; None when the run is bounded by ``time_s``."""
        if self.time_s is not None:
            return None
        return self.niter if self.niter is not None else DEFAULT_NITER

    @property
    def total_rounds(self) -> int:
        if self.rounds is not None:
            rounds = self.rounds
        else:
            rounds = 1 if len(self.entries) == 1 else DEFAULT_ROUNDS
        return max(1, min(rounds, self.total_niter or rounds))

    @property
    def ov_hint(self) -> Optional[str]:
        """The OpenVINO PERFORMANCE_HINT to request, or None."""
        if self.hint == "none":
            return None
        if self.hint == "auto":
            return self.mode.upper()
        return self.hint.upper()


# --------------------------------------------------------------------------------------------
# Statistics and results
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------


class FrameSource:
    """Frames for the end-to-end phase: image files read with OpenCV on every call, or random frames.

    ``read(i)`` -> (H0, W0, 3) uint8 BGR. Random frames are generated once (seeded) at ``size``
    (the model size), so their "read" stage costs next to nothing.
    """

    def __init__(self, files: Sequence[Path] = (), size: Optional[Tuple[int, int]] = None, seed: int = 0):
        self.files = tuple(files)
        self._frames: List[np.ndarray] = []
        if not self.files:
            if size is None:
                raise ConfigError("random frames need a size")
            rng = np.random.default_rng(seed)
            self._frames = [rng.integers(0, 256, (size[0], size[1], 3), dtype=np.uint8) for _ in range(RANDOM_FRAMES)]

    @classmethod
    def from_dir(cls, directory) -> "FrameSource":
        directory = Path(directory)
        if not directory.is_dir():
            raise InputError(f"--images {directory} is not a directory")
        files = sorted(p for p in directory.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not files:
            raise InputError(f"--images {directory} holds no images ({', '.join(IMAGE_SUFFIXES)})")
        return cls(files)

    def __len__(self) -> int:
        return len(self.files) or len(self._frames)

    @property
    def kind(self) -> str:
        return "images" if self.files else "random"

    def read(self, index: int) -> np.ndarray:
        if not self.files:
            return self._frames[index % len(self._frames)]
        import cv2

        path = self.files[index % len(self.files)]
        frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if frame is None:
            raise InputError(f"cannot read image {path} (corrupt or not an image)")
        return frame


# --------------------------------------------------------------------------------------------
# Measurement
# --------------------------------------------------------------------------------------------


def _adapter_options(entry: BenchEntry, backend: str, config: BenchConfig) -> Dict[str, Any]:
    return {**_backend_options(entry, backend, config), **dict(entry.options)}


def _backend_options(entry: BenchEntry, backend: str, config: BenchConfig) -> Dict[str, Any]:
    if backend == "openvino":
        properties: Dict[str, str] = {}
        if config.nstreams:
            properties["NUM_STREAMS"] = config.nstreams
        if config.threads:
            properties["INFERENCE_NUM_THREADS"] = str(config.threads)
        nireq = 1 if config.mode == "latency" else (config.nireq or 0)
        return {"config": properties, "nireq": nireq, "perf_counters": config.per_layer > 0, "hint": config.ov_hint,
                "precision": entry.precision}
    if backend == "onnxruntime":
        return {"precision": entry.precision, **({"threads": config.threads} if config.threads else {})}
    return {"precision": entry.precision}


class _Session:
    """One loaded entry, its inputs and its accumulating samples."""

    def __init__(self, entry: BenchEntry, config: BenchConfig, source: Optional[FrameSource],
                 artifact: Artifact, verify_ms: float, log):
        self.entry, self.config = entry, config
        self.artifact, self.verify_ms = artifact, verify_ms
        log(f"loading {entry.label}: {artifact.path} ({artifact.backend}, {entry.device})")
        self.adapter: InferenceAdapter = open_adapter(artifact.path, backend=artifact.backend, device=entry.device,
                                                      **_adapter_options(entry, artifact.backend, config))
        try:
            self.segmenter = Segmenter(self.adapter, artifact.classes, artifact.palette_rgb)
            self.source = source if source is not None else FrameSource(size=self.segmenter.model_size,
                                                                         seed=config.seed)
            self.tensors = [self.segmenter.preprocess(self.source.read(i))
                            for i in range(min(len(self.source), MAX_INFER_TENSORS))]
            start = time.perf_counter_ns()
            self.adapter.infer_only(self.tensors[0])
            self.first_infer_ms = (time.perf_counter_ns() - start) / 1e6
        except BaseException:
            self.adapter.close()
            raise
        self.throughput = config.mode == "throughput"
        self.infer_ns: List[int] = []
        self.infer_wall = 0
        self.e2e_ns: List[int] = []
        self.e2e_wall = 0
        self.stage_ns: Dict[str, List[int]] = {s: [] for s in STAGES}
        self.counter = 0
        self.per_layer: Optional[Tuple[LayerCounter, ...]] = None

    # -- warm-up ------------------------------------------------------------------------------

    def warm_up(self, iterations: int) -> None:
        """Run both phases ``iterations`` times, then forget the samples."""
        if iterations > 0:
            self.run_infer(iterations, None)
            self.run_e2e(iterations, None)
        self.infer_ns, self.e2e_ns = [], []
        self.infer_wall = self.e2e_wall = 0
        self.stage_ns = {s: [] for s in STAGES}

    # -- timed phases -------------------------------------------------------------------------

    def run_infer(self, count: Optional[int], seconds: Optional[float]) -> None:
        """Infer-only: pre-made tensors back to back; samples are per-request latencies."""
        tensors, adapter = self.tensors, self.adapter
        deadline = None if seconds is None else time.perf_counter_ns() + int(seconds * 1e9)
        samples = self.infer_ns
        start = time.perf_counter_ns()
        i = 0
        if not self.throughput:
            while _more(i, count, deadline):
                t0 = time.perf_counter_ns()
                adapter.infer_only(tensors[i % len(tensors)])
                samples.append(time.perf_counter_ns() - t0)
                i += 1
        else:
            def done(_logits, _token):
                samples.append(adapter.last_request_ns)  # the request's own start-to-completion time

            while _more(i, count, deadline):
                adapter.start_async(tensors[i % len(tensors)], i, done, fetch=False)
                i += 1
            adapter.wait_all()
        self.infer_wall += time.perf_counter_ns() - start

    def run_e2e(self, count: Optional[int], seconds: Optional[float]) -> None:
        """End-to-end: read + pre-process + infer + post-process per frame; samples are per-frame latencies."""
        deadline = None if seconds is None else time.perf_counter_ns() + int(seconds * 1e9)
        source, segmenter = self.source, self.segmenter
        start = time.perf_counter_ns()
        i = 0
        if not self.throughput:
            while _more(i, count, deadline):
                t0 = time.perf_counter_ns()
                frame = source.read(self.counter)
                t1 = time.perf_counter_ns()
                result = segmenter.infer(frame)
                t2 = time.perf_counter_ns()
                self._record_e2e(t2 - t0, t1 - t0, result.timings_ns)
                self.counter += 1
                i += 1
        else:
            pipeline = AsyncPipeline(segmenter)

            def collect(results) -> None:
                for (t0, read_ns), seg in results:
                    self._record_e2e(seg.finished_ns - t0, read_ns, seg.timings_ns)

            while _more(i, count, deadline):
                t0 = time.perf_counter_ns()
                frame = source.read(self.counter)
                read_ns = time.perf_counter_ns() - t0
                collect(pipeline.submit(frame, (t0, read_ns)))
                self.counter += 1
                i += 1
            collect(pipeline.drain())
        self.e2e_wall += time.perf_counter_ns() - start

    def _record_e2e(self, total_ns: int, read_ns: int, timings: Dict[str, int]) -> None:
        self.e2e_ns.append(total_ns)
        self.stage_ns["read"].append(read_ns)
        for stage in STAGES[1:]:
            if stage in timings:
                self.stage_ns[stage].append(timings[stage])

    def collect_per_layer(self, runs: int) -> None:
        """Average OpenVINO per-layer counters over ``runs`` extra synchronous inferences."""
        if not self.adapter.per_layer_counters():
            self.per_layer = None
            return
        totals: Dict[str, List[Any]] = {}
        for i in range(runs):
            self.adapter.infer_only(self.tensors[i % len(self.tensors)])
            for row in self.adapter.per_layer_counters():
                acc = totals.setdefault(row.name, [row, 0.0, 0.0])
                acc[1] += row.real_time_us
                acc[2] += row.cpu_time_us
        rows = [LayerCounter(r.name, r.node_type, r.exec_type, r.status, real / runs, cpu / runs)
                for r, real, cpu in totals.values()]
        self.per_layer = tuple(sorted(rows, key=lambda r: (-r.real_time_us, r.name)))

    def result(self) -> BenchResult:
        artifact, adapter = self.artifact, self.adapter
        entry_info = artifact.entry or {}
        manifest = artifact.manifest or {}
        input_info = {"source": self.source.kind, "frames": len(self.source),
                      "directory": str(self.source.files[0].parent) if self.source.files else None,
                      "tensor": {"name": adapter.input_spec.name, "shape": list(adapter.input_spec.shape),
                                 "dtype": adapter.input_spec.dtype, "layout": adapter.input_spec.layout}}
        artifact_info = {"path": str(artifact.path), "kind": artifact.kind,
                         "sha256": entry_info.get("sha256"), "verified": bool(entry_info),
                         "target": manifest.get("target"),
                         "trained": (manifest.get("weights") or {}).get("trained") if manifest else None}
        stages = {s: Stats.from_ns(v) for s, v in self.stage_ns.items() if v}
        return BenchResult(
            entry=self.entry, model=str(artifact.path), backend=artifact.backend, device=self.entry.device,
            precision=adapter.precision or (self.entry.precision or ""), precision_run=adapter.precision_run,
            model_precision=entry_info.get("precision") or ("FP32" if artifact.kind in ("onnx", "tensorflow") else None),
            mode=self.config.mode, nireq=adapter.num_requests if self.throughput else 1,
            properties=adapter.properties(), input=input_info, artifact=artifact_info, verify_ms=self.verify_ms,
            load_ms=adapter.load_ms, first_infer_ms=self.first_infer_ms,
            infer=PhaseResult(Stats.from_ns(self.infer_ns), self.infer_wall),
            e2e=PhaseResult(Stats.from_ns(self.e2e_ns), self.e2e_wall, stages),
            rounds=self.config.total_rounds, per_layer=self.per_layer, infer_samples_ns=tuple(self.infer_ns))

    def close(self) -> None:
        self.adapter.close()


def _resolve(entry: BenchEntry) -> Tuple[Artifact, float]:
    """The entry's artifact (manifest sha256 verified) and the milliseconds that took."""
    t0 = time.perf_counter_ns()
    artifact = resolve_artifact(entry.model, entry.backend)
    verify_ms = (time.perf_counter_ns() - t0) / 1e6
    runs = {"openvino": None, "keras": ("f32", "f16")}.get(artifact.backend, ("f32",))
    if entry.precision and runs is not None and entry.precision not in runs:
        raise ConfigError(f"{entry.label}: precision {entry.precision} needs the openvino backend; "
                          f"{artifact.backend} runs {' or '.join(runs)}")
    return artifact, verify_ms


def _more(done: int, count: Optional[int], deadline: Optional[int]) -> bool:
    if count is not None:
        return done < count
    return done == 0 or time.perf_counter_ns() < deadline


def _split(total: int, parts: int) -> List[int]:
    """``total`` iterations over ``parts`` rounds, as evenly as possible (earlier rounds get the extra)."""
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def run_bench(config: BenchConfig, log: Optional[Callable[[str], None]] = None) -> List[BenchResult]:
    """Load every entry, warm up, then run the timed phases in interleaved rounds.

    Returns one :class:`BenchResult` per entry, in the order of ``config.entries``.
    """
    log = log or (lambda message: None)
    source = FrameSource.from_dir(config.images) if config.images else None
    resolved = [_resolve(entry) for entry in config.entries]  # every path error before any (slow) load
    sessions: List[_Session] = []
    try:
        for entry, (artifact, verify_ms) in zip(config.entries, resolved):
            sessions.append(_Session(entry, config, source, artifact, verify_ms, log))
        for session in sessions:
            session.warm_up(config.warmup)
        rounds = config.total_rounds
        counts = _split(config.total_niter, rounds) if config.total_niter is not None else [None] * rounds
        seconds = None if config.time_s is None else config.time_s / rounds
        for r, count in enumerate(counts):
            if rounds > 1:
                log(f"round {r + 1}/{rounds}")
            for session in sessions:
                session.run_infer(count, seconds)
                session.run_e2e(count, seconds)
        if config.per_layer:
            for session in sessions:
                session.collect_per_layer(PER_LAYER_RUNS)
        return [session.result() for session in sessions]
    finally:
        for session in sessions:
            session.close()


# --------------------------------------------------------------------------------------------
# Machine description
# --------------------------------------------------------------------------------------------


def _cpuinfo() -> Dict[str, Any]:
    info: Dict[str, Any] = {}
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return info
    cores = set()
    physical = core = None
    for line in text.splitlines():
        key, _, value = (part.strip() for part in line.partition(":"))
        if key in ("model name", "Model", "Hardware", "cpu model") and "cpu_model" not in info and value:
            info["cpu_model"] = value
        elif key == "physical id":
            physical = value
        elif key == "core id":
            core = value
        elif not key and physical is not None and core is not None:
            cores.add((physical, core))
            physical = core = None
    if physical is not None and core is not None:
        cores.add((physical, core))
    if cores:
        info["physical_cores"] = len(cores)
    return info


def _package_version(module: str, distributions: Sequence[str]) -> Optional[str]:
    loaded = sys.modules.get(module)
    if loaded is not None and getattr(loaded, "__version__", None):
        return str(loaded.__version__)
    try:
        from importlib import metadata
    except ImportError:  # Python < 3.8
        return None
    for dist in distributions:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return None


def machine_info() -> Dict[str, Any]:
    """CPU model, cores, memory, OS, Python and runtime versions of this machine (JSON-ready)."""
    info: Dict[str, Any] = {"hostname": platform.node(), "os": platform.platform(), "arch": platform.machine(),
                            "python": platform.python_version(), "logical_cores": os.cpu_count()}
    info.update(_cpuinfo())
    info.setdefault("cpu_model", platform.processor() or platform.machine())
    if hasattr(os, "sched_getaffinity"):
        info["usable_cores"] = len(os.sched_getaffinity(0))
    if hasattr(os, "getloadavg"):
        info["loadavg"] = [round(v, 2) for v in os.getloadavg()]
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                info["memory_gb"] = round(int(line.split()[1]) / 2 ** 20, 1)
    except (OSError, ValueError, IndexError):
        pass
    versions: Dict[str, Optional[str]] = {"enet_edge": __version__, "numpy": np.__version__}
    try:
        from enet_edge.runtime.adapters import import_openvino

        ov = import_openvino()
        versions["openvino"] = str(ov.get_version())
        core = ov.Core()
        devices = {}
        for name in core.available_devices:
            try:
                devices[name] = str(core.get_property(name, "FULL_DEVICE_NAME"))
            except RuntimeError:
                devices[name] = ""
        info["openvino_devices"] = devices
    except Exception:  # noqa: BLE001 - no or broken OpenVINO: the description just lacks it
        versions["openvino"] = None
    versions["onnxruntime"] = _package_version("onnxruntime", ("onnxruntime", "onnxruntime-openvino", "onnxruntime-gpu"))
    versions["opencv"] = _package_version("cv2", ("opencv-python-headless", "opencv-python",
                                                  "opencv-contrib-python", "opencv-contrib-python-headless"))
    tf = sys.modules.get("tensorflow")
    if tf is not None:  # report TensorFlow only where it was used; never import it here
        versions["tensorflow"] = getattr(tf, "__version__", None)
    info["versions"] = versions
    return info


# --------------------------------------------------------------------------------------------
# Documents and text output
# --------------------------------------------------------------------------------------------


def result_document(result: BenchResult, machine: Dict[str, Any]) -> Dict[str, Any]:
    """The JSON document of one result (schema ``enet-edge-bench/1``); times in milliseconds."""
    e2e_stages = {stage: stats.ms() for stage, stats in result.e2e.stages.items()}
    doc: Dict[str, Any] = {
        "schema": SCHEMA,
        "entry": result.entry.label,
        "model": result.model,
        "backend": result.backend,
        "device": result.device,
        "precision": result.precision,
        "precision_requested": (result.precision_run.requested if result.precision_run else result.entry.precision)
                               or "default",
        "precision_note": result.precision_run.note if result.precision_run else "",
        "model_precision": result.model_precision,
        "mode": result.mode,
        "niter": result.infer.latency.count,
        "e2e_niter": result.e2e.latency.count,
        "nireq": result.nireq,
        "rounds": result.rounds,
        "verify_ms": result.verify_ms,
        "load_ms": result.load_ms,
        "first_infer_ms": result.first_infer_ms,
        "latency_ms": result.infer.latency.ms(),
        "throughput_fps": _finite(result.infer.fps),
        "e2e_latency_ms": result.e2e.latency.ms(),
        "e2e_throughput_fps": _finite(result.e2e.fps),
        "e2e_stages_ms": e2e_stages,
        "notes": {
            "latency_ms": "infer-only: pre-processed tensors back to back, output not fetched "
                          "(async mode: start to completion of each request)",
            "e2e_latency_ms": "read + preprocess + infer + postprocess (argmax class map at frame size) per frame",
        },
        "input": result.input,
        "artifact": result.artifact,
        "properties": result.properties,
        "per_layer": None if result.per_layer is None else [
            {"name": r.name, "node_type": r.node_type, "exec_type": r.exec_type, "status": r.status,
             "real_time_ms": r.real_time_us / 1e3, "cpu_time_ms": r.cpu_time_us / 1e3} for r in result.per_layer],
        "per_layer_by_type": None if result.per_layer is None else [
            {"node_type": r.node_type, "exec_type": r.exec_type, "layers": r.layers,
             "real_time_ms": r.real_time_us / 1e3} for r in per_layer_by_type(result.per_layer)],
        "machine": machine,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    return doc


def _finite(value: float) -> Optional[float]:
    return None if value != value else value  # NaN -> null (JSON has no NaN)


def _ratio(value: Optional[float], base: Optional[float]) -> Optional[float]:
    if value is None or base is None or not base or value != value or base != base:
        return None
    return value / base


def compare_document(results: Sequence[BenchResult], machine: Dict[str, Any]) -> Dict[str, Any]:
    """``{"results": [document, ...], "ratios": [...]}`` in the order given; ratios are to the first entry."""
    docs = [result_document(r, machine) for r in results]
    base = docs[0]
    ratios = []
    for doc in docs:
        ratios.append({
            "entry": doc["entry"],
            "latency_median": _ratio(doc["latency_ms"]["median"], base["latency_ms"]["median"]),
            "throughput_fps": _ratio(doc["throughput_fps"], base["throughput_fps"]),
            "e2e_latency_median": _ratio(doc["e2e_latency_ms"]["median"], base["e2e_latency_ms"]["median"]),
            "e2e_throughput_fps": _ratio(doc["e2e_throughput_fps"], base["e2e_throughput_fps"]),
        })
    return {"schema": SCHEMA, "results": docs, "ratios": ratios, "baseline": base["entry"],
            "interleaved_rounds": results[0].rounds, "machine": machine}


def write_json(document: Dict[str, Any], path) -> Path:
    """Write ``document`` as indented JSON to ``path`` (parents created)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(document, indent=2, allow_nan=False) + "\n")
    except OSError as exc:
        raise ConfigError(f"cannot write --json {path}: {exc.strerror or exc}") from exc
    return path


def _check_writable(path: Path) -> None:
    if path.is_dir():
        raise ConfigError(f"--json {path} is a directory; give a file name")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot write --json {path}: {exc.strerror or exc}") from exc
    if not os.access(path.parent, os.W_OK):
        raise ConfigError(f"cannot write --json {path}: {path.parent} is not writable")


def format_ms(ms: Optional[float]) -> str:
    """Milliseconds with 2 decimals, or microseconds below 0.1 ms (where ms would read 0.00 or 0.0x)."""
    if ms is None or ms != ms:
        return "-"
    if abs(ms) < 0.1:
        return f"{ms * 1e3:.1f} us"
    return f"{ms:.2f} ms"


def _fps(value: Optional[float]) -> str:
    return "-" if value is None or value != value else f"{value:.1f}"


def _mode_text(result: BenchResult) -> str:
    if result.mode == "latency":
        return "latency (1 request, sync)"
    if result.backend != "openvino":
        return f"throughput (the {result.backend} backend has no async queue: 1 request, sync)"
    return f"throughput ({result.nireq} request{'s' * (result.nireq != 1)} in flight, async)"


def _stats_row(name: str, stats: Stats, fps: Optional[float] = None) -> str:
    ms = stats.ms()
    cells = [format_ms(ms[k]) for k in ("min", "mean", "median", "p90", "p99", "max")]
    row = f"  {name:<16}{stats.count:>7}" + "".join(f"{c:>11}" for c in cells)
    return row + (f"{_fps(fps):>9}" if fps is not None else "")


def format_report(result: BenchResult, per_layer: int = 0) -> str:
    """Human-readable report of one result; ``per_layer``: show the top N per-layer counters."""
    props = result.properties
    lines = [
        f"model      {result.model}  ({result.artifact['kind']}"
        + (f", target {result.artifact['target']}" if result.artifact.get("target") else "")
        + (", sha256 verified" if result.artifact.get("verified") else "") + ")",
        f"backend    {result.backend} on {result.device}, precision {precision_label(result)}"
        + (f"; model file {result.model_precision}" if result.model_precision else ""),
        f"mode       {_mode_text(result)}"
        + (f", hint {props['PERFORMANCE_HINT']}" if props.get("PERFORMANCE_HINT") else "")
        + (f", streams {props['NUM_STREAMS']}" if props.get("NUM_STREAMS") is not None else ""),
        f"input      {result.input['source']}"
        + (f" ({result.input['frames']} images from {result.input['directory']})" if result.input["directory"] else "")
        + f"; tensor {result.input['tensor']['name']} {tuple(result.input['tensor']['shape'])} "
          f"{result.input['tensor']['dtype']} {result.input['tensor']['layout']}",
    ]
    if result.artifact.get("trained") is False:
        lines.append("           (untrained export: timings are valid, segmentations are not)")
    lines += [
        "",
        f"  {'model load + compile':<30}{format_ms(result.load_ms):>12}",
        f"  {'first inference':<30}{format_ms(result.first_infer_ms):>12}",
        "",
        f"  {'':<16}{'n':>7}" + "".join(f"{h:>11}" for h in ("min", "mean", "median", "p90", "p99", "max")) + f"{'FPS':>9}",
        _stats_row("infer-only", result.infer.latency, result.infer.fps),
        _stats_row("end-to-end", result.e2e.latency, result.e2e.fps),
    ]
    for stage in STAGES:
        stats = result.e2e.stages.get(stage)
        if stats is not None and stats.count:
            lines.append(_stats_row(f"  {stage}", stats))
    lines += [
        "",
        "  infer-only = pre-processed tensors back to back, output not fetched (what benchmark_app measures);",
        "  end-to-end = read + preprocess + infer + postprocess (argmax class map resized to the frame), per frame.",
    ]
    if per_layer:
        lines += [""] + format_per_layer(result, per_layer)
    return "\n".join(lines)


@dataclass(frozen=True)
class LayerTypeTotal:
    """Per-layer counters summed by (op type, implementation): where the time goes, kernel by kernel."""

    node_type: str
    exec_type: str
    layers: int
    real_time_us: float


def executed_layers(rows: Sequence[LayerCounter]) -> List[LayerCounter]:
    """The rows that ran (OpenVINO lists fused-away and constant layers as NOT_RUN with no time)."""
    return [r for r in rows if r.status != "NOT_RUN" or r.real_time_us > 0]


def per_layer_by_type(rows: Sequence[LayerCounter]) -> List[LayerTypeTotal]:
    """Executed rows summed by (node_type, exec_type), largest real time first (ties by type names)."""
    totals: Dict[Tuple[str, str], List[float]] = {}
    for row in executed_layers(rows):
        acc = totals.setdefault((row.node_type, row.exec_type), [0, 0.0])
        acc[0] += 1
        acc[1] += row.real_time_us
    out = [LayerTypeTotal(t, e, int(n), us) for (t, e), (n, us) in totals.items()]
    return sorted(out, key=lambda r: (-r.real_time_us, r.node_type, r.exec_type))


def format_per_layer(result: BenchResult, top: int) -> List[str]:
    if result.per_layer is None:
        return [f"  per-layer counters: not available for the {result.backend} backend (OpenVINO only)"]
    rows = executed_layers(result.per_layer)
    total = sum(r.real_time_us for r in rows) or 1.0
    by_type = per_layer_by_type(rows)
    summary = [f"  by op type and implementation ({len(by_type)} kinds):",
               f"       {'type':<48}{'exec type':<26}{'layers':>7}{'real time':>15}{'share':>8}"]
    for row in by_type[:top]:
        summary.append(f"       {row.node_type[:47]:<48}{row.exec_type[:25]:<26}{row.layers:>7}"
                       f"{format_ms(row.real_time_us / 1e3):>15}{100 * row.real_time_us / total:>7.1f}%")
    lines = [f"  per-layer counters, top {min(top, len(rows))} of {len(rows)} executed layers by real time "
             f"(mean of {PER_LAYER_RUNS} sync runs; sum {format_ms(total / 1e3)}):",
             f"  {'#':>3}  {'layer':<48}{'type':<26}{'exec type':<22}{'real time':>11}{'share':>8}"]
    for i, row in enumerate(rows[:top], 1):
        name = row.name if len(row.name) <= 47 else "..." + row.name[-44:]
        lines.append(f"  {i:>3}  {name:<48}{row.node_type[:25]:<26}{row.exec_type[:21]:<22}"
                     f"{format_ms(row.real_time_us / 1e3):>11}{100 * row.real_time_us / total:>7.1f}%")
    return lines + [""] + summary


def format_compare(results: Sequence[BenchResult], per_layer: int = 0) -> str:
    """One table for several results, with ratios to the first (x latency: lower is faster; x FPS: higher is)."""
    base = results[0]
    head = (f"{'#':>2}  {'entry':<34}{'backend':<12}{'device':<10}{'prec':<6}{'load':>10}{'first':>10}"
            f"{'median':>11}{'p90':>11}{'FPS':>8}{'x lat':>7}{'x FPS':>7}"
            f"{'e2e med':>11}{'e2e FPS':>9}{'x FPS':>7}")
    lines = [f"{len(results)} entries, {_mode_text(base)}; infer-only n={base.infer.latency.count}, "
             f"end-to-end n={base.e2e.latency.count} each, {base.rounds} interleaved round(s); ratios to entry 1",
             "", head]
    for i, r in enumerate(results, 1):
        label = r.entry.label if len(r.entry.label) <= 33 else "..." + r.entry.label[-30:]
        lat = r.infer.latency.ms()
        e2e = r.e2e.latency.ms()
        x_lat = _ratio(lat["median"], base.infer.latency.ms()["median"])
        x_fps = _ratio(r.infer.fps, base.infer.fps)
        x_e2e = _ratio(r.e2e.fps, base.e2e.fps)
        lines.append(
            f"{i:>2}  {label:<34}{r.backend:<12}{r.device[:9]:<10}{(r.precision or '?')[:5]:<6}"
            f"{format_ms(r.load_ms):>10}{format_ms(r.first_infer_ms):>10}{format_ms(lat['median']):>11}"
            f"{format_ms(lat['p90']):>11}{_fps(r.infer.fps):>8}{_x(x_lat):>7}{_x(x_fps):>7}"
            f"{format_ms(e2e['median']):>11}{_fps(r.e2e.fps):>9}{_x(x_e2e):>7}")
    lines += ["", "median/p90/FPS: infer-only (tensors back to back, output not fetched); "
                  "e2e: read + preprocess + infer + postprocess per frame."]
    notes = [f"[{i}] precision {precision_label(r)}" for i, r in enumerate(results, 1)
             if r.precision_run is not None and r.precision_run.note]
    if notes:
        lines += ["precision: what ran, read back from the device:"] + [f"  {n}" for n in notes]
    if per_layer:
        for i, r in enumerate(results, 1):
            lines += ["", f"[{i}] {r.entry.label}"] + format_per_layer(r, per_layer)
    return "\n".join(lines)


def precision_label(result: BenchResult) -> str:
    """What ran and why, e.g. ``bf16 (asked f16, CPU runs bf16: this CPU has BF16 but no FP16 arithmetic)``."""
    if result.precision_run is not None:
        return result.precision_run.label
    return result.precision or "?"


def _x(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.2f}"


# --------------------------------------------------------------------------------------------
# Command line (argparse stays here; the library above sees only BenchConfig)
# --------------------------------------------------------------------------------------------


def add_cli(sub) -> None:
    """Register ``enet-edge bench`` on an argparse subparsers object."""
    import argparse

    p = sub.add_parser(
        "bench", help="latency/throughput of exported models (OpenVINO, ONNX Runtime, TensorFlow)",
        description="Benchmark exported ENet models: model load/compile, first inference, latency "
                    "min/mean/median/p90/p99/max and FPS, separately for infer-only and end-to-end "
                    "(read + pre + infer + post). Several models: --compare, interleaved, ratios to the first.",
        epilog=ENTRY_SYNTAX, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", nargs="?", metavar="MODEL",
                   help="export directory or .xml/.onnx/.pb file, PATH[:BACKEND[:DEVICE[:PRECISION]]]")
    p.add_argument("--compare", nargs="+", metavar="ENTRY", default=None,
                   help="several entries measured interleaved, one table with ratios to the first "
                        "(MODEL, if given, is the first)")
    p.add_argument("--backend", choices=BACKENDS, help="default backend of entries that name none")
    p.add_argument("-d", "--device", default="CPU", help="default device (CPU, GPU, NPU, MYRIAD, AUTO, "
                                                         "HETERO:MYRIAD,CPU ...; default CPU)")
    p.add_argument("--precision", help="default inference precision hint: f32, f16, bf16 (OpenVINO)")
    p.add_argument("-m", "--mode", choices=MODES, default="latency",
                   help="latency: 1 request, sync; throughput: async, --nireq requests in flight (default latency)")
    stop = p.add_mutually_exclusive_group()
    stop.add_argument("-n", "--niter", "-niter", type=int,
                      help=f"timed iterations per model and phase (default {DEFAULT_NITER})")
    stop.add_argument("-t", "--time", type=float, dest="time_s", metavar="S",
                      help="seconds per model and phase instead of --niter")
    p.add_argument("--warmup", type=int, default=5, help="untimed iterations per phase after the first inference "
                                                         "(default 5)")
    p.add_argument("-i", "--images", metavar="DIR", help="frames from this folder (png/jpg/...), read each "
                                                         "iteration; default: seeded random frames")
    p.add_argument("--nireq", "-nireq", type=int, help="requests in flight in throughput mode "
                                                       "(default: the device's optimal number)")
    p.add_argument("--nstreams", "-nstreams", help="OpenVINO NUM_STREAMS: AUTO or a number")
    p.add_argument("--hint", "-hint", choices=HINTS, default="auto",
                   help="OpenVINO PERFORMANCE_HINT (auto: the mode's; none: do not set)")
    p.add_argument("--threads", type=int, help="inference threads (OpenVINO INFERENCE_NUM_THREADS, "
                                               "ONNX Runtime intra-op threads)")
    p.add_argument("--per-layer", "-pc", nargs="?", type=int, const=20, default=0, metavar="N",
                   help="OpenVINO per-layer counters, top N by real time (default N=20)")
    p.add_argument("--rounds", type=int, help=f"interleaved rounds (default 1 for one model, "
                                              f"{DEFAULT_ROUNDS} with --compare)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random frames")
    p.add_argument("--json", metavar="PATH", dest="json_path", help="write the results as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=run_cli)


def config_from_args(args) -> BenchConfig:
    """argparse namespace -> :class:`BenchConfig` (the only place that reads ``args``)."""
    specs = ([args.model] if args.model else []) + list(args.compare or [])
    if not specs:
        raise ConfigError("give a MODEL (export directory or .xml/.onnx/.pb) or --compare ENTRY ...")
    entries = tuple(parse_entry(s, args.backend, args.device, args.precision) for s in specs)
    return BenchConfig(entries=entries, mode=args.mode, niter=args.niter, time_s=args.time_s, warmup=args.warmup,
                       images=args.images, nireq=args.nireq, nstreams=args.nstreams, hint=args.hint,
                       threads=args.threads, per_layer=args.per_layer, rounds=args.rounds, seed=args.seed)


def run_cli(args) -> int:
    config = config_from_args(args)
    if args.json_path:  # fail before a long run, not after it
        _check_writable(Path(args.json_path))
    log = (lambda m: None) if args.quiet else (lambda m: print(f"bench: {m}", file=sys.stderr, flush=True))
    results = run_bench(config, log=log)
    machine = machine_info()
    compare = args.compare is not None
    if compare:
        print(format_compare(results, config.per_layer))
    else:
        print(format_report(results[0], config.per_layer))
    cpu = machine.get("cpu_model", "?")
    versions = machine["versions"]
    print(f"\nmachine: {cpu}, {machine.get('logical_cores')} logical cores, {machine['os']}, Python "
          f"{machine['python']}; openvino {versions.get('openvino') or '-'}, onnxruntime "
          f"{versions.get('onnxruntime') or '-'}, numpy {versions['numpy']}")
    if args.json_path:
        document = compare_document(results, machine) if compare else result_document(results[0], machine)
        print(f"wrote {write_json(document, args.json_path)}")
    return 0
