"""Inference precision: asked for explicitly, read back from the device, and labelled.

OpenVINO's CPU plugin chooses the arithmetic itself unless told: on a CPU with BF16 (Intel Xeon
since Sapphire Rapids, AMD EPYC since Zen 4) its *default* is bf16, and an ``f16`` hint runs as bf16
where the CPU has no FP16 arithmetic (only AMX-FP16 CPUs such as Xeon 6 run f16). On an AVX2-only
CPU every hint runs f32. So every compile states what it asks for (``INFERENCE_PRECISION_HINT``,
or ``None`` for the device's default) and reads back what the compiled model runs.

The policy of the commands built on this module:

* export parity and ``eval`` measure exact numbers: they ask for a precision (f32 unless told) and
  refuse to measure when the device runs something else (:func:`require_exact`);
* ``bench`` and ``demo`` run what the model asks for (:data:`MODEL_PRECISION_KEY`), else the device's
  default, unless asked, and label what ran
  (:attr:`PrecisionRun.label`), saying so when it differs from what was asked.

This module imports nothing beyond the standard library.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Iterable, Optional, Tuple

from enet_edge.errors import ConfigError, DeviceError

PRECISIONS: Tuple[str, ...] = ("f32", "f16", "bf16")
"""Inference precisions one can ask OpenVINO for (``INFERENCE_PRECISION_HINT`` values)."""

_ALIASES = {"f32": "f32", "fp32": "f32", "float32": "f32", "f16": "f16", "fp16": "f16", "float16": "f16",
            "bf16": "bf16", "bfloat16": "bf16"}

# OpenVINO CPU OPTIMIZATION_CAPABILITIES entry that makes a precision real arithmetic
CAPABILITY = {"f32": "FP32", "f16": "FP16", "bf16": "BF16"}


PRECISION_PROPERTY = "INFERENCE_PRECISION_HINT"
"""The OpenVINO property that asks for an inference precision (and reads back what runs)."""

_DEVICE_PRECISION = {"MYRIAD": "f16"}  # devices that compute in one precision only, whatever is asked


MODEL_PRECISION_KEY: Tuple[str, str] = ("model_info", "inference_precision")
"""Where an IR states the float precision it needs (its ``rt_info``): enet-edge's INT8 exports ask for f32, since
their float parts (the max-pool switches) must be exact. Runtimes ask for it when their caller asks for none."""


def normalize_precision(value: Optional[str]) -> Optional[str]:
    """``FP16``/``fp16``/``f16`` -> ``f16`` (likewise f32, bf16); None or "" -> None (the device's default)."""
    if not value:
        return None
    precision = _ALIASES.get(str(value).strip().lower())
    if precision is None:
        raise ConfigError(f"precision {value!r} is not one of {', '.join(PRECISIONS)}")
    return precision


def type_name(value) -> str:
    """An OpenVINO element type as read back (``Type`` in 2023+, maybe a string in 2022.3) -> ``f32``/``bf16``/..."""
    if hasattr(value, "get_type_name"):
        return str(value.get_type_name())
    text = str(value).strip().lower()
    return _ALIASES.get(text, text)


def openvino_config(precision: Optional[str]) -> Dict[str, str]:
    """The OpenVINO properties that ask for ``precision`` (empty for the device's default)."""
    precision = normalize_precision(precision)
    return {PRECISION_PROPERTY: precision} if precision else {}


def device_precision(device: str) -> Optional[str]:
    """The one precision ``device`` computes in whatever is asked (``MYRIAD``, ``MYRIAD.1.2-ma2480``: f16);
    None where the device computes in what it is asked for or chooses (CPU, GPU, and AUTO/HETERO lists)."""
    return _DEVICE_PRECISION.get(str(device).partition(":")[0].split(".")[0].upper())


def device_output_type(device: str, ir_type: str) -> str:
    """The element type a runner asks ``device`` to write for an IR output of ``ir_type`` (``f32``, ``i32`` ...):
    ``f16`` for a float output on a device that computes in f16 only (MYRIAD): the device's own values, with no
    conversion stage on the device and half the bytes over USB; the runner widens them to ``ir_type`` on the host.
    Otherwise ``ir_type``. The MYRIAD X compile check compiles with the same output type."""
    fixed = device_precision(device)
    return fixed if fixed and ir_type in ("f32", "f16") else ir_type


def check_device_precision(device: str, precision: Optional[str]) -> Optional[str]:
    """``precision`` (normalized) where ``device`` can compute in it; :class:`DeviceError` where the device
    computes in another one only (MYRIAD: f16). None stays None (the device's own)."""
    precision = normalize_precision(precision)
    fixed = device_precision(device)
    if precision and fixed and precision != fixed:
        raise DeviceError(f"{device} computes in {fixed} only; it cannot run {precision} (ask for {fixed} or none)")
    return precision


def has_arithmetic(precision: str, capabilities: Iterable[str]) -> bool:
    """True when a device with OpenVINO ``OPTIMIZATION_CAPABILITIES`` ``capabilities`` computes in ``precision``."""
    return CAPABILITY[normalize_precision(precision)] in set(capabilities)


@dataclass(frozen=True)
class PrecisionRun:
    """What was asked and what ran on one compiled model.

    ``requested``: f32/f16/bf16, or None for the device's default. ``ran``: the compiled model's
    ``INFERENCE_PRECISION_HINT`` read back ("" where the device does not report it). ``quantized``:
    the model holds INT8 (FakeQuantize) layers, which run in INT8 while the rest runs in ``ran``.
    ``by_model``: nobody asked; ``requested`` is what the model itself asks for (its rt_info, see
    :data:`MODEL_PRECISION_KEY`).
    """

    requested: Optional[str]
    ran: str
    quantized: bool = False
    device: str = "CPU"
    by_model: bool = False

    @property
    def substituted(self) -> bool:
        """The device runs something other than what was explicitly asked."""
        return bool(self.requested and self.ran and self.ran != self.requested)

    @property
    def name(self) -> str:
        """Short name of what runs: ``f32``, ``bf16``, ``i8+f32`` (INT8 layers, the rest in f32) ..."""
        ran = self.ran or self.requested or "?"
        return f"i8+{ran}" if self.quantized else ran

    @property
    def note(self) -> str:
        """Why ``ran`` is what it is, in words; "" when it is exactly what was asked."""
        if self.substituted:
            return f"asked {self.requested}, {self.device} runs {self.ran}: {self._why()}"
        if self.by_model:
            return f"the model asks for {self.requested}"
        if self.requested is None and self.ran:
            return f"{self.device}'s default"
        if not self.ran:
            return f"{self.device} does not report what its devices run"
        return ""

    @property
    def label(self) -> str:
        """``name`` plus its note, e.g. ``bf16 (asked f16, CPU runs bf16: ...)`` or ``bf16 (CPU's default)``."""
        return f"{self.name} ({self.note})" if self.note else self.name

    def _why(self) -> str:
        if self.requested == "f16" and self.ran == "bf16":
            return "this CPU has BF16 but no FP16 arithmetic"
        if self.ran == "f32":
            return f"this device has no {CAPABILITY[self.requested]} arithmetic"
        return "the device chose it"

    def to_dict(self) -> Dict[str, object]:
        return {"requested": self.requested or "default",
                "asked_by": "model" if self.by_model else ("caller" if self.requested else "nobody"),
                "ran": self.ran, "quantized": self.quantized,
                "name": self.name, "substituted": self.substituted, "note": self.note}


def require_exact(run: PrecisionRun, what: str) -> None:
    """Refuse to measure ``what`` when the device runs something other than what was asked.

    Raises :class:`DeviceError` naming what ran and what to ask instead.
    """
    if run.requested is None:
        raise DeviceError(f"{what}: no precision was asked for; exact measurements name one (f32, f16, bf16)")
    if run.substituted:
        raise DeviceError(f"{what}: {run.note}; measuring {run.ran} in place of {run.requested} would be wrong. "
                          f"Ask for --precision {run.ran} to measure {run.ran}, or f32 for the model's exact number")
