"""What the suite measures: the variants, the goals and :class:`SuiteConfig`."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

from enet_edge.device import bench
from enet_edge.errors import ConfigError
from enet_edge.export.myriad.compile_table import COMPILE_VARIANTS
from enet_edge.workstation.suite.peers import PEER_NAMES
from enet_edge.runtime.backends import artifact_file
from enet_edge.runtime.isa import ISA_LEVEL_NAMES

SCHEMA = "enet-edge-bench-suite/1"
README_START, README_END = "<!-- bench:start -->", "<!-- bench:end -->"


@dataclass(frozen=True)
class Variant:
    """One way to run ENet: an export target's artifact (or the trained weights) on a backend."""

    name: str
    title: str
    target: Optional[str]  # export target whose artifact runs; None: the trained weights (.npz)
    backend: str
    file: Optional[str] = None  # the artifact file in the export directory; None: the directory (its IR)
    precision: Optional[str] = None  # OpenVINO INFERENCE_PRECISION_HINT
    needs: Optional[str] = None  # an OpenVINO CPU OPTIMIZATION_CAPABILITIES entry this variant requires
    class_map: Optional[str] = None  # the IR ends in the arg-max and outputs class ids of this dtype

    @property
    def export_name(self) -> Optional[str]:
        """The directory under ``build/bench/<H>x<W>/`` holding this variant's export."""
        if self.target is None:
            return None
        return f"{self.target}-classmap-{self.class_map}" if self.class_map else self.target


VARIANTS: Tuple[Variant, ...] = (
    Variant("tf-keras", "TensorFlow, Keras model (trained weights)", None, "keras"),
    Variant("tf-graph", "TensorFlow, frozen graph (cpu realization)", "cpu", "tensorflow", artifact_file("tensorflow")),
    Variant("ort-fp32", "ONNX Runtime FP32 (cpu)", "cpu", "onnxruntime", artifact_file("onnx")),
    Variant("cv-fp32", "OpenCV DNN FP32 (cpu)", "cpu", "opencv", artifact_file("onnx")),
    Variant("ov-fp32", "OpenVINO FP32 (cpu)", "cpu", "openvino", precision="f32"),
    Variant("ov-bf16", "OpenVINO BF16 (cpu)", "cpu", "openvino", precision="bf16", needs="BF16"),
    Variant("ov-fp16", "OpenVINO FP16 arithmetic (cpu)", "cpu", "openvino", precision="f16", needs="FP16"),
    Variant("ov-ncs2-fp16ir", "OpenVINO, ncs2 FP16 IR emulated on CPU (FP16 weights, f32 math)", "ncs2", "openvino",
            precision="f32"),
    Variant("ov-int8", "OpenVINO INT8 (cpu-int8)", "cpu-int8", "openvino"),
    Variant("ov-fp32-cm", "OpenVINO FP32 (cpu), class-map output: arg-max in the IR", "cpu", "openvino",
            precision="f32", class_map="int32"),
    Variant("ov-int8-cm", "OpenVINO INT8 (cpu-int8), class-map output: arg-max in the IR", "cpu-int8", "openvino",
            class_map="int32"),
    Variant("ov-bf16-cm", "OpenVINO BF16 (cpu), class-map output: arg-max in the IR", "cpu", "openvino",
            precision="bf16", needs="BF16", class_map="int32"),
)
VARIANT_NAMES = tuple(v.name for v in VARIANTS)
COMPILE_VARIANT_NAMES = tuple(v.name for v in COMPILE_VARIANTS)
BASELINE = "tf-graph"
"""Ratios are to the TensorFlow frozen graph (the fastest TensorFlow form)."""


@dataclass(frozen=True)
class Goal:
    """A speed or accuracy goal: ``variant``'s metric at most ``limit`` x ``reference``'s (or points, for mIoU)."""

    text: str
    variant: str
    reference: str
    limit: float
    metric: str = "latency"  # latency: ratio of medians (latency mode, first size); miou_drop: points


GOALS = (
    Goal("cpu-int8 latency <= 0.5x the OpenVINO FP32 cpu IR", "ov-int8", "ov-fp32", 0.5),
    Goal("cpu-int8 faster than OpenVINO BF16 (CPUs with BF16 only)", "ov-int8", "ov-bf16", 1.0),
    Goal("cpu-int8 latency <= 0.15x the TensorFlow graph", "ov-int8", "tf-graph", 0.15),
    Goal("cpu-int8 latency <= 0.5x ONNX Runtime FP32", "ov-int8", "ort-fp32", 0.5),
    Goal("cpu-int8 loses <= 1 mIoU point against OpenVINO FP32", "ov-int8", "ov-fp32", 1.0, "miou_drop"),
    Goal("cpu FP32 latency <= 0.35x the TensorFlow graph", "ov-fp32", "tf-graph", 0.35),
)


@dataclass(frozen=True)
class SuiteConfig:
    """What ``make bench`` measures. ``time_s``/``niter``: per variant, phase and mode (one of them)."""

    sizes: Tuple[Tuple[int, int], ...] = ((360, 480), (720, 960))
    modes: Tuple[str, ...] = ("latency", "throughput")
    variants: Tuple[str, ...] = VARIANT_NAMES
    time_s: Optional[float] = 6.0
    niter: Optional[int] = None
    warmup: int = 5
    miou_frames: int = 0  # CamVid val frames for the mIoU column (0: all; -1: no mIoU)
    build_dir: Path = Path("build") / "bench"  # relative paths: to the repository root (benchmarks/run.py)
    out_dir: Path = Path("benchmarks") / "results"
    weights: Optional[Path] = None
    data_dir: Optional[Path] = None
    readme: Optional[Path] = Path("benchmarks") / "results" / "README.md"
    render: Optional[Path] = None  # re-render this saved document instead of measuring
    compile_variants: Tuple[str, ...] = COMPILE_VARIANT_NAMES  # rows of the MYRIAD X compile table (first size)
    peers: Tuple[str, ...] = PEER_NAMES  # what users would run instead (peers.PEERS), measured in the same rounds
    limits: bool = True  # per-layer counters of the recommended variant, per size (a pass after the timed runs)
    cpu_kinds: Tuple[str, ...] = ISA_LEVEL_NAMES  # CPU kinds below this machine's to emulate (.kinds), one run each
    cpu_kind: Optional[str] = None  # this run is one of those: set by .kinds in the process it starts, never by hand

    def __post_init__(self) -> None:
        if not self.sizes:
            raise ConfigError("give at least one size")
        for h, w in self.sizes:
            if h % 8 or w % 8 or h < 8 or w < 8:
                raise ConfigError(f"size {h}x{w}: height and width must be positive multiples of 8")
        for mode in self.modes:
            if mode not in bench.MODES:
                raise ConfigError(f"mode {mode!r} must be one of {', '.join(bench.MODES)}")
        unknown = set(self.variants) - set(VARIANT_NAMES)
        if unknown or not self.variants:
            raise ConfigError(f"unknown variant(s) {sorted(unknown)}; choose from {', '.join(VARIANT_NAMES)}")
        if (self.time_s is None) == (self.niter is None):
            raise ConfigError("give exactly one of --time or --niter")
        unknown = set(self.compile_variants) - set(COMPILE_VARIANT_NAMES)
        if unknown:
            raise ConfigError(f"unknown compile variant(s) {sorted(unknown)}; choose from "
                              f"{', '.join(COMPILE_VARIANT_NAMES)}")
        unknown = set(self.peers) - set(PEER_NAMES)
        if unknown:
            raise ConfigError(f"unknown peer(s) {sorted(unknown)}; choose from {', '.join(PEER_NAMES)}")
        unknown = set(self.cpu_kinds) - set(ISA_LEVEL_NAMES)
        if unknown or (self.cpu_kind is not None and self.cpu_kind not in ISA_LEVEL_NAMES):
            raise ConfigError(f"unknown CPU kind(s) {sorted(unknown) or [self.cpu_kind]}; choose from "
                              f"{', '.join(ISA_LEVEL_NAMES)}")
        if self.miou_frames < -1:
            raise ConfigError("--miou-frames must be >= -1 (-1: skip, 0: the whole val split)")


# --------------------------------------------------------------------------------------------
# Artifacts


def config_to_dict(config: SuiteConfig) -> Dict[str, Any]:
    """``config`` as JSON-ready values (paths as strings); :func:`config_from_dict` reads it back."""
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(config).items()}


def config_from_dict(values: Dict[str, Any]) -> SuiteConfig:
    """The :class:`SuiteConfig` that :func:`config_to_dict` wrote (lists back to tuples, strings back to paths)."""
    fields = {f.name: f for f in dataclasses.fields(SuiteConfig)}
    out: Dict[str, Any] = {}
    for name, value in values.items():
        if name not in fields:
            raise ConfigError(f"suite config: unknown field {name!r}")
        if name == "sizes":
            value = tuple(tuple(size) for size in value)
        elif isinstance(value, list):
            value = tuple(value)
        elif value is not None and name in PATH_FIELDS:
            value = Path(value)
        out[name] = value
    return SuiteConfig(**out)


PATH_FIELDS = ("build_dir", "out_dir", "weights", "data_dir", "readme", "render")

KIND_VARIANTS = ("ov-fp32", "ov-bf16", "ov-fp16", "ov-int8", "ov-fp32-cm", "ov-int8-cm", "ov-bf16-cm")
"""The variants measured again on each emulated CPU kind (:mod:`.kinds`): OpenVINO's, whose kernels the ISA cap
reaches; TensorFlow and ONNX Runtime detect the CPU themselves, and the ncs2 IR on the CPU is not a choice for speed."""

KIND_PEERS = ("peer-ov-default", "peer-ov-cpu", "peer-litert")
"""The peers measured on each emulated CPU kind: those of the goals and the closest (the seed's is 7x slower)."""


PEER_GOALS = (("peer-ov-default", 1.5), ("peer-litert", 2.0))
"""(peer, factor): the recommended variant's end-to-end median at least ``factor`` times faster than the peer's, at
every size (latency mode, the same interleaved run)."""


SCALING_INT8 = {"max_miou_drop": 100.0, "accuracy_control": False, "eval_frames": 10}
"""INT8 settings at the scaling sizes (not the first): CamVid frames upscaled to 720x960 are not the scale
the model was trained and gated at, so the mIoU gate applies at the first size only; speed is what the
other sizes measure."""
