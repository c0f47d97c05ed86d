"""Measuring: load every entry, warm up, run the timed phases in interleaved rounds (:func:`run_bench`).

All samples are ``time.perf_counter_ns`` integers.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from enet_edge.device.bench.config import (MAX_INFER_TENSORS, PER_LAYER_RUNS, RANDOM_FRAMES, STAGES, BenchConfig,
                                         BenchEntry)
from enet_edge.device.bench.results import BenchResult, PhaseResult, Stats
from enet_edge.device.frames import IMAGE_SUFFIXES, image_files, read_image
from enet_edge.errors import ArtifactError, ConfigError, DeviceError, InputError
from enet_edge.runtime import backends
from enet_edge.runtime.backends import OPENVINO_BACKEND, adapter_options
from enet_edge.runtime.adapters import InferenceAdapter, LayerCounter, open_artifact
from enet_edge.runtime.adapters.openvino_core import request_devices
from enet_edge.runtime.complexity import Complexity, ir_complexity
from enet_edge.runtime.roofline import CpuSpec, measure_bandwidth_gbs, read_cpu_spec, roofline
from enet_edge.runtime.manifest import Artifact, resolve_artifact
from enet_edge.runtime.segmenter import AsyncPipeline, Segmenter


class FrameSource:
    """Frames for the end-to-end phase: image files read with OpenCV on every call, or random frames.

    ``read(i)`` -> (H0, W0, 3) uint8 BGR, indexed (cycling). Random frames are generated once (seeded)
    at ``size`` (the model size), so their "read" stage costs next to nothing. The demo plays its
    frames in order instead (:mod:`enet_edge.device.demo.sources`); both read through :mod:`enet_edge.device.frames`.
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
        files = image_files(directory.iterdir())
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
        return read_image(self.files[index % len(self.files)])


# --------------------------------------------------------------------------------------------
# Measurement
# --------------------------------------------------------------------------------------------


class _Session:
    """One loaded entry, its inputs and its accumulating samples."""

    def __init__(self, entry: BenchEntry, config: BenchConfig, source: Optional[FrameSource],
                 artifact: Artifact, verify_ms: float, log):
        self.entry, self.config = entry, config
        self.artifact, self.verify_ms = artifact, verify_ms
        log(f"loading {entry.label}: {artifact.path} ({artifact.backend}, {entry.device})")
        options = {**adapter_options(artifact.backend, config.run_request(entry)), **dict(entry.options)}
        self.adapter: InferenceAdapter = open_artifact(artifact, device=entry.device, **options)
        try:
            self.segmenter = Segmenter.for_artifact(self.adapter, artifact)
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
                         "device_config": artifact.device_config(self.entry.device),  # the export's, e.g. on MYRIAD
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
            rounds=self.config.total_rounds, per_layer=self.per_layer, infer_samples_ns=tuple(self.infer_ns),
            complexity=_complexity(artifact), parameters=(manifest.get("complexity") or {}).get("parameters"),
            predicted=manifest_prediction(manifest))

    def close(self) -> None:
        self.adapter.close()


def manifest_prediction(manifest: Optional[dict]) -> Optional[Dict[str, Any]]:
    """The MYRIAD X time model's prediction an export's manifest holds (``myriad_compiler.predicted``); None where
    it has none (no manifest, no compile, a refused one, or an export made before the time model)."""
    compiled = (manifest or {}).get("myriad_compiler")
    predicted = compiled.get("predicted") if isinstance(compiled, dict) else None
    return predicted if isinstance(predicted, dict) else None


def _complexity(artifact: Artifact) -> Optional[Complexity]:
    """MACs of a model OpenVINO reads (.xml, .onnx); None for other files or where it cannot be read."""
    if not backends.backend(OPENVINO_BACKEND).reads_file(artifact.path):
        return None
    try:
        return ir_complexity(artifact.path)
    except (ArtifactError, DeviceError):
        return None


def _resolve(entry: BenchEntry) -> Tuple[Artifact, float]:
    """The entry's artifact (manifest sha256 verified) and the milliseconds that took."""
    t0 = time.perf_counter_ns()
    artifact = resolve_artifact(entry.model, entry.backend)
    verify_ms = (time.perf_counter_ns() - t0) / 1e6
    backends.backend(artifact.backend).check_precision(entry.precision)  # now, before any (slow) load
    return artifact, verify_ms


def _more(done: int, count: Optional[int], deadline: Optional[int]) -> bool:
    if count is not None:
        return done < count
    return done == 0 or time.perf_counter_ns() < deadline


def _split(total: int, parts: int) -> List[int]:
    """``total`` iterations over ``parts`` rounds, as evenly as possible (earlier rounds get the extra)."""
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def _timed_rounds(config: BenchConfig, sessions: List["_Session"], log: Callable[[str], None]) -> None:
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
        interrupted = False
        devices: Dict[int, Tuple[Dict[str, Any], ...]] = {}
        try:
            _timed_rounds(config, sessions, log)
            for index, session in enumerate(sessions):
                devices[index] = _each_device_alone(config, session, source, log)
        except KeyboardInterrupt:  # Ctrl-C: what was measured is the result (flagged), if anything was
            if not any(s.infer_ns or s.e2e_ns for s in sessions):
                raise
            interrupted = True
            log("interrupted: reporting the iterations measured so far")
        results = [dataclasses.replace(session.result(), interrupted=interrupted, devices=devices.get(i, ()))
                   for i, session in enumerate(sessions)]
    finally:
        for session in sessions:
            session.close()
    return with_bounds(results, log)


def _each_device_alone(config: BenchConfig, session: "_Session", source: Optional[FrameSource],
                       log: Callable[[str], None]) -> Tuple[Dict[str, Any], ...]:
    """Throughput mode on an ``AUTO:``/``MULTI:`` device list: each listed device alone, with the same settings
    (a cumulative-throughput hint becomes the device's throughput hint), infer-only for one round's share; a row per
    device: ``device``, ``requests`` (in flight) and ``fps`` alone. OpenVINO does not say which device served which
    request, so the combined run's FPS is the total and these are what each device gives by itself. () otherwise."""
    members = request_devices(session.entry.device)
    if not session.throughput or not members:
        return ()
    count = None if config.total_niter is None else max(1, config.total_niter // config.total_rounds)
    seconds = None if config.time_s is None else config.time_s / config.total_rounds
    hint = "THROUGHPUT" if config.ov_hint == "CUMULATIVE_THROUGHPUT" else config.ov_hint
    rows = []
    for member in members:
        entry = dataclasses.replace(session.entry, device=member, label=f"{session.entry.label} on {member} alone",
                                    options=tuple(session.entry.options) + ((("hint", hint),) if hint else ()))
        alone = _Session(entry, config, source, session.artifact, 0.0, log)
        try:
            alone.warm_up(config.warmup)
            alone.run_infer(count, seconds)
            fps = PhaseResult(Stats.from_ns(alone.infer_ns), alone.infer_wall).fps
            rows.append({"device": member, "requests": alone.adapter.num_requests, "fps": round(fps, 2)})
        finally:
            alone.close()
    return tuple(rows)


def with_bounds(results: List[BenchResult], log: Callable[[str], None]) -> List[BenchResult]:
    """``results`` with their :func:`roofline_of`; the CPU is read and its copy bandwidth measured once, after the
    timed rounds (never during them)."""
    if not any(r.complexity is not None for r in results):
        return results
    try:
        cpu = read_cpu_spec()
    except ConfigError as exc:
        log(f"no compute peak: {exc}")
        return results
    bandwidth = measure_bandwidth_gbs()
    return [dataclasses.replace(r, roofline=roofline_of(r, cpu, bandwidth)) for r in results]


def roofline_of(result: BenchResult, cpu: CpuSpec, bandwidth_gbs: float) -> Optional[Dict[str, Any]]:
    """The bounds of one CPU result (:func:`enet_edge.runtime.roofline.roofline`) at its infer-only median and the
    precision that ran; None for other devices, models without counted MACs, or a precision with no known peak."""
    median = result.infer.latency.ms().get("median")
    if result.complexity is None or not median or result.device.upper() != "CPU":
        return None
    try:
        return roofline(result.complexity.macs, result.complexity.activations, median, result.precision or "f32",
                        cpu, bandwidth_gbs)
    except ConfigError:
        return None

