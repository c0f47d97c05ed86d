"""Bench configuration: what to measure (:class:`BenchConfig`) and which models (:class:`BenchEntry`).

Frozen, validated on construction (:class:`~enet_edge.errors.ConfigError`); no argparse here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Tuple

from enet_edge.errors import ConfigError
from enet_edge.runtime.adapters import BACKENDS, VIRTUAL_DEVICES
from enet_edge.runtime.backends import RunRequest
from enet_edge.runtime.precision import normalize_precision

SCHEMA = "enet-edge-bench/1"
MODES = ("latency", "throughput")
HINTS = ("auto", "latency", "throughput", "cumulative_throughput", "none")
DEFAULT_NITER = 100
DEFAULT_ROUNDS = 10
PER_LAYER_RUNS = 10
MAX_INFER_TENSORS = 8  # distinct pre-processed inputs cycled through in the infer-only phase
RANDOM_FRAMES = 4
STAGES = ("read", "preprocess", "wait", "infer", "collect", "postprocess")
MAX_TIME_S = 86400.0  # --time: one day per model and phase
MAX_NIREQ = 64
MAX_NITER = 10_000_000  # --niter, --warmup: a sanity cap (days of a 30 ms model)
NOISY_P90_OVER_MEDIAN = 1.5
"""A phase whose p90 exceeds its median by more than this factor was measured on a busy machine."""

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
        object.__setattr__(self, "precision", normalize_precision(self.precision))  # checked where it runs
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
        if self.niter is not None and not 1 <= self.niter <= MAX_NITER:
            raise ConfigError(f"niter={self.niter} must be >= 1" + (f" and at most {MAX_NITER}" if self.niter > 1 else ""))
        if self.time_s is not None and not 0 < self.time_s <= MAX_TIME_S:
            raise ConfigError(f"time={self.time_s} must be > 0 and at most {MAX_TIME_S:g} seconds")
        if not 0 <= self.warmup <= MAX_NITER:
            raise ConfigError(f"warmup={self.warmup} must be within 0..{MAX_NITER}")
        if self.nireq is not None:
            if not 1 <= self.nireq <= MAX_NIREQ:
                raise ConfigError(f"nireq={self.nireq} must be within 1..{MAX_NIREQ}")
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
        if not 0 <= self.seed < 2**32:
            raise ConfigError(f"seed={self.seed} must be within 0..{2**32 - 1}")

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

    def run_request(self, entry: BenchEntry) -> RunRequest:
        """What ``entry`` asks of its backend: its precision, and this config's requests (latency mode: 1;
        throughput: ``nireq``, else 0 for the device's optimal number), hint, counters, threads and streams."""
        return RunRequest(precision=entry.precision, nireq=1 if self.mode == "latency" else (self.nireq or 0),
                          hint=self.ov_hint, perf_counters=self.per_layer > 0, threads=self.threads,
                          streams=self.nstreams)
