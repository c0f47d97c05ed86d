"""Export targets: one declarative TOML file per target in ``export/`` (a registry by file name).

Adding a target means adding a file; no code path. Schema::

    name = "ncs2"
    description = "..."
    mode = "export"                  # "export": gates fail the export; "check-only": report, no runtime artifacts
    device = "MYRIAD"                # OpenVINO device the IR is meant for
    [realization]                    # enet_edge.model.config.Realization fields
    [input]    height = 360, width = 480
    [onnx]     opset = 13
               rewrites = ["prelu", "prelu_split"]   # optional: enet_edge.export.rewrite.rewrites.REWRITES, in order
    [openvino] precision = "FP16"    # FP32 | FP16 | INT8 (INT8 needs [quantization])
               inference_precision = "f32"   # optional: the float arithmetic the IR asks for (rt_info), see TargetSpec
    [output]   class_map = "int32"   # optional: the IR and ONNX output (1,H,W) class ids (int32 | uint8), not logits
    [quantization]                   # QuantizationSpec fields: NNCF post-training quantization + mIoU gate
    [myriad_compiler]                # optional: compile the ONNX with the MYRIAD X compiler (OpenVINO 2021.4.2)
               options = { MYRIAD_HW_DILATION = "YES" }   # plugin config keys for that compile (default none)
    [checks]   tensorflow = "realization" | ruleset, onnx = ruleset, openvino_ir = ruleset
    [parity]   frames = 3, random = 1
    [parity.thresholds.<artifact or fp16_arithmetic>]   max_abs_rel, mean_abs_rel, share_off_2pct, l2_rel, argmax_agreement
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Optional, Tuple

from enet_edge.model.config import ENetConfig, Realization
from enet_edge.errors import ConfigError
from enet_edge.export.checks.thresholds import ParityThresholds
from enet_edge.resources import TARGET_DIR, read_toml  # TARGET_DIR: export/ in the repository, package data when installed
from enet_edge.runtime.backends import artifact_file
from enet_edge.runtime.precision import PRECISIONS, device_precision

ARTIFACTS = ("tensorflow", "onnx", "openvino_ir")
"""Artifact kinds in pipeline order: frozen GraphDef, ONNX, OpenVINO IR."""

PARITY_EXTRA = ("fp16_arithmetic", "openvino_ir_f16")
"""Parity rows that are not artifacts: FP16 targets also run an FP16-arithmetic emulation, and the
FP16 IR in f16 on CPUs with FP16 arithmetic."""

ARTIFACT_FILES = {kind: artifact_file(kind) for kind in ARTIFACTS}
"""Artifact kind -> its file name in an export directory, in pipeline order (the backend table's facts)."""


@dataclass(frozen=True)
class QuantizationSpec:
    """INT8 post-training quantization of the FP32 IR (NNCF), gated on CamVid mIoU.

    ``calibration_frames`` frames of ``calibration_split`` (evenly spaced, at the model size) calibrate
    the activation ranges; ``eval_split`` (all frames when ``eval_frames`` is 0) measures the mIoU of the
    FP32 IR and the INT8 IR through the runner. The export fails when INT8 loses more than
    ``max_miou_drop`` points, after trying ``nncf.quantize_with_accuracy_control`` when ``accuracy_control``.
    ``ignored_patterns`` (regular expressions over IR node names) stay in float: NNCF's ``IgnoredScope``.
    """

    preset: str = "performance"
    calibration_split: str = "train"
    calibration_frames: int = 100
    fast_bias_correction: bool = True
    eval_split: str = "val"
    eval_frames: int = 0
    max_miou_drop: float = 1.0
    accuracy_control: bool = True
    ignored_patterns: Tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "ignored_patterns", tuple(self.ignored_patterns))  # TOML gives a list
        for pattern in self.ignored_patterns:
            try:
                re.compile(pattern)
            except (re.error, TypeError) as exc:
                raise ConfigError(f"[quantization] ignored_patterns entry {pattern!r} is not a regular "
                                  f"expression ({exc})") from None
        if self.preset not in ("performance", "mixed"):
            raise ConfigError(f"[quantization] preset={self.preset!r} must be 'performance' or 'mixed'")
        if self.calibration_frames < 1:
            raise ConfigError(f"[quantization] calibration_frames={self.calibration_frames} must be >= 1")
        if self.eval_frames < 0:
            raise ConfigError(f"[quantization] eval_frames={self.eval_frames} must be >= 0 (0: the whole split)")
        if not 0 <= self.max_miou_drop <= 100:
            raise ConfigError(f"[quantization] max_miou_drop={self.max_miou_drop} must be in 0..100 points")


@dataclass(frozen=True)
class TargetSpec:
    name: str
    description: str
    realization: Realization
    height: int = 360
    width: int = 480
    mode: str = "export"
    device: str = "CPU"
    onnx_opset: int = 13
    ir_precision: str = "FP32"  # how the IR stores its weights ([openvino] precision); never the arithmetic
    artifacts: Tuple[str, ...] = ARTIFACTS
    checks: Dict[str, str] = field(default_factory=dict)
    parity_frames: int = 3
    parity_random: int = 1
    thresholds: Dict[str, ParityThresholds] = field(default_factory=dict)
    quantization: Optional[QuantizationSpec] = None
    class_map: Optional[str] = None  # "int32" | "uint8": the IR and ONNX end in the arg-max; None: logits
    # The float arithmetic the IR asks its runtime for when the caller asks for none (f32 | f16 | bf16; None: the
    # device's default), stored in the IR's rt_info/model_info/inference_precision and the manifest.
    inference_precision: Optional[str] = None
    onnx_rewrites: Tuple[str, ...] = ()  # enet_edge.export.rewrite.rewrites.REWRITES names, applied in order
    # MYRIAD X compiler options of the export's compile check; None: the target is not compiled for the stick
    myriad_compiler: Optional[Dict[str, str]] = None
    source: str = ""

    def __post_init__(self) -> None:
        if self.mode not in ("export", "check-only"):
            raise ConfigError(f"target {self.name}: mode={self.mode!r} must be 'export' or 'check-only'")
        if self.ir_precision not in ("FP32", "FP16", "INT8"):
            raise ConfigError(f"target {self.name}: openvino precision={self.ir_precision!r} must be FP32, FP16 or INT8")
        if (self.ir_precision == "INT8") != (self.quantization is not None):
            raise ConfigError(f"target {self.name}: precision INT8 and a [quantization] table go together")
        if self.ir_precision == "INT8" and "openvino_ir" not in self.artifacts:
            raise ConfigError(f"target {self.name}: INT8 quantizes the OpenVINO IR; list the openvino_ir artifact")
        unknown = set(self.artifacts) - set(ARTIFACTS)
        if unknown or not self.artifacts or self.artifacts[0] != "tensorflow":
            raise ConfigError(f"target {self.name}: artifacts must start with 'tensorflow' and be among {ARTIFACTS}")
        for kind in self.checks:
            if kind not in ARTIFACTS:
                raise ConfigError(f"target {self.name}: [checks] key {kind!r} is not one of {ARTIFACTS}")
        for kind in self.thresholds:
            if kind not in ARTIFACTS + PARITY_EXTRA:
                raise ConfigError(f"target {self.name}: [parity.thresholds] key {kind!r} is not one of "
                                  f"{ARTIFACTS + PARITY_EXTRA}")
        if self.inference_precision is not None:
            if self.inference_precision not in PRECISIONS:
                raise ConfigError(f"target {self.name}: [openvino] inference_precision={self.inference_precision!r} "
                                  f"must be one of {', '.join(PRECISIONS)}")
            if "openvino_ir" not in self.artifacts:
                raise ConfigError(f"target {self.name}: [openvino] inference_precision is stored in the OpenVINO IR; "
                                  f"list the openvino_ir artifact")
            fixed = device_precision(self.device)
            if fixed and self.inference_precision != fixed:
                raise ConfigError(f"target {self.name}: {self.device} computes in {fixed} only; inference_precision="
                                  f"{self.inference_precision!r} cannot run there")
        from enet_edge.export.rewrite.rewrites import REWRITES

        object.__setattr__(self, "onnx_rewrites", tuple(self.onnx_rewrites))
        unknown = [name for name in self.onnx_rewrites if name not in REWRITES]
        if unknown or (self.onnx_rewrites and "onnx" not in self.artifacts):
            raise ConfigError(f"target {self.name}: [onnx] rewrites {unknown or list(self.onnx_rewrites)} must be "
                              f"among {', '.join(REWRITES)} and need the onnx artifact")
        if self.myriad_compiler is not None:
            if "onnx" not in self.artifacts:
                raise ConfigError(f"target {self.name}: [myriad_compiler] compiles the ONNX; list the onnx artifact")
            from enet_edge.export.myriad.compiler import check_options

            object.__setattr__(self, "myriad_compiler", check_options(self.myriad_compiler))
        if self.class_map not in (None, "int32", "uint8"):
            raise ConfigError(f"target {self.name}: [output] class_map={self.class_map!r} must be int32 or uint8")
        if self.class_map and "openvino_ir" not in self.artifacts:
            raise ConfigError(f"target {self.name}: [output] class_map shapes the OpenVINO IR; list the openvino_ir "
                              f"artifact")
        ENetConfig(height=self.height, width=self.width)  # validates the size
        if self.parity_frames < 0 or self.parity_random < 0 or self.parity_frames + self.parity_random < 1:
            raise ConfigError(f"target {self.name}: parity needs at least one frame or random input")

    def with_class_map(self, dtype: Optional[str]) -> "TargetSpec":
        """This target with its IR and ONNX ending in the arg-max (``int32``/``uint8`` class ids), or logits (None)."""
        return dataclasses.replace(self, class_map=dtype)

    def with_quantization(self, ir_argmax_agreement: Optional[float] = None, **changes) -> "TargetSpec":
        """This INT8 target with ``changes`` to its :class:`QuantizationSpec` (e.g. ``calibration_frames=6``).

        ``ir_argmax_agreement`` replaces the OpenVINO IR's argmax-agreement parity threshold: off the size
        the gate was set for (small test sizes, upscaled benchmark sizes) INT8 flips more argmaxes.
        """
        if self.quantization is None:
            raise ConfigError(f"target {self.name} has no [quantization] table to change")
        thresholds = dict(self.thresholds)
        if ir_argmax_agreement is not None:
            thresholds["openvino_ir"] = dataclasses.replace(thresholds["openvino_ir"],
                                                            argmax_agreement=ir_argmax_agreement)
        return dataclasses.replace(self, quantization=dataclasses.replace(self.quantization, **changes),
                                   thresholds=thresholds)

    def model_config(self, base: Optional[ENetConfig] = None, height: Optional[int] = None,
                     width: Optional[int] = None) -> ENetConfig:
        base = base or ENetConfig()
        return base.replace(height=self.height if height is None else height,
                            width=self.width if width is None else width, batch=1)


_TABLES = {"realization": dict, "input": dict, "onnx": dict, "openvino": dict, "checks": dict, "parity": dict,
           "quantization": dict, "output": dict, "myriad_compiler": dict}
_KEYS = {"": {"name", "description", "mode", "device", "artifacts", *_TABLES}, "input": {"height", "width"},
         "onnx": {"opset", "rewrites"}, "myriad_compiler": {"options"}, "openvino": {"precision", "inference_precision"}, "output": {"class_map"}, "parity": {"frames", "random", "thresholds"},
         "quantization": {f.name for f in dataclasses.fields(QuantizationSpec)}}


_SCALARS = (("input", "height", int, "height"), ("input", "width", int, "width"), ("", "mode", str, "mode"),
            ("", "device", str, "device"), ("onnx", "opset", int, "onnx_opset"),
            ("openvino", "precision", str, "ir_precision"), ("parity", "frames", int, "parity_frames"),
            ("parity", "random", int, "parity_random"), ("output", "class_map", str, "class_map"),
            ("openvino", "inference_precision", str, "inference_precision"))
"""(table, key, type, TargetSpec field) of a target file's single values; an absent one takes TargetSpec's default."""


def _typed(value, kind, where: str, source: str):
    """``value`` when it is a ``kind`` (int: not a bool, not a float), else :class:`ConfigError` naming the key."""
    ok = isinstance(value, kind) and not (kind in (int, float) and isinstance(value, bool))
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        ok = True
    if not ok:
        names = {int: "an integer", str: "a string", dict: "a table", list: "a list", float: "a number"}
        raise ConfigError(f"target file {source}: {where} = {value!r} must be {names.get(kind, kind.__name__)}")
    return value


def _check_keys(table: dict, source: str) -> None:
    for section, allowed in _KEYS.items():
        part = table if not section else table.get(section, {})
        unknown = sorted(set(part) - allowed)
        if unknown:
            where = f"[{section}] " if section else ""
            raise ConfigError(f"target file {source}: unknown {where}key(s) {', '.join(unknown)}; "
                              f"known: {', '.join(sorted(allowed))}")


def _from_table(table: dict, source: str) -> TargetSpec:
    """A :class:`TargetSpec` from a parsed target file; :class:`ConfigError` naming the key for a missing key,
    an unknown key or a value of the wrong type."""
    for key, kind in _TABLES.items():
        if key in table:
            _typed(table[key], kind, f"[{key}]", source)
    _check_keys(table, source)

    def get(section: str, key: str, kind, default):
        part = table.get(section, {}) if section else table
        where = f"[{section}] {key}" if section else key
        return _typed(part[key], kind, where, source) if key in part else default

    try:
        name = _typed(table["name"], str, "name", source)
        parity = table.get("parity", {})
        thresholds = {}
        for kind, limits in _typed(parity.get("thresholds", {}), dict, "[parity.thresholds]", source).items():
            limits = _typed(limits, dict, f"[parity.thresholds.{kind}]", source)
            for metric, value in limits.items():
                _typed(value, float, f"[parity.thresholds.{kind}] {metric}", source)
            thresholds[kind] = ParityThresholds(**limits)
        artifacts = get("", "artifacts", list, [])
        for item in artifacts:
            _typed(item, str, "artifacts entry", source)
        checks = get("", "checks", dict, {})
        for kind, ruleset in checks.items():
            _typed(ruleset, str, f"[checks] {kind}", source)
        rewrites = get("onnx", "rewrites", list, [])
        for item in rewrites:
            _typed(item, str, "[onnx] rewrites entry", source)
        compiler = None
        if "myriad_compiler" in table:
            compiler = dict(_typed(table["myriad_compiler"].get("options", {}), dict, "[myriad_compiler] options",
                                   source))
            for key, value in compiler.items():
                _typed(value, str, f"[myriad_compiler] options.{key}", source)
        return TargetSpec(
            name=name,
            description=get("", "description", str, ""),
            realization=Realization.from_dict(table.get("realization", {})),
            checks=dict(checks),
            thresholds=thresholds,
            quantization=QuantizationSpec(**table["quantization"]) if "quantization" in table else None,
            onnx_rewrites=tuple(rewrites),
            myriad_compiler=compiler,
            source=source,
            **({"artifacts": tuple(artifacts)} if "artifacts" in table else {}),
            **{field: get(section, key, kind, None) for section, key, kind, field in _SCALARS  # absent: the defaults
               if key in (table.get(section, {}) if section else table)},
        )
    except KeyError as exc:
        raise ConfigError(f"target file {source} lacks {exc}") from exc
    except (TypeError, ValueError) as exc:  # ConfigError is a ValueError too
        if str(exc).startswith("target file "):
            raise
        raise ConfigError(f"target file {source}: {exc}") from exc


def available_targets(directory: Path = TARGET_DIR) -> Tuple[str, ...]:
    return tuple(sorted(p.stem for p in directory.glob("*.toml")))


def load_target(name_or_path: str, directory: Path = TARGET_DIR) -> TargetSpec:
    """A target by name (``export/<name>.toml``) or by path to a TOML file."""
    path = Path(name_or_path)
    if path.suffix != ".toml":
        path = directory / f"{name_or_path}.toml"
    if not path.is_file():
        raise ConfigError(f"unknown target {name_or_path!r}; available: {', '.join(available_targets(directory))}")
    try:
        table = read_toml(path)
    except ValueError as exc:  # tomllib.TOMLDecodeError, UnicodeDecodeError
        raise ConfigError(f"target file {path} is not valid TOML: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read target file {path}: {exc.strerror or exc}") from exc
    return _from_table(table, str(path))
