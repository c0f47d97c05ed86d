"""x86 CPU kinds by instruction set, and running as one of them on a CPU that has more (an ISA cap).

Users' CPUs differ in what decides CNN speed: AVX2 only (Haswell to Comet Lake, Zen 2/3), AVX-512 with VNNI and
BF16 but no AMX (Zen 4, Cooper Lake), AMX (Sapphire Rapids and later). :data:`ISA_LEVELS` names them, with what
OpenVINO does on each: which arithmetic its CPU plugin offers (``OPTIMIZATION_CAPABILITIES``) and which precision it
runs when none is asked (bf16 wherever BF16 exists).

A CPU emulates a lower kind with oneDNN's ``ONEDNN_MAX_CPU_ISA`` (set before OpenVINO is loaded): the convolutions,
deconvolutions and most other kernels of OpenVINO's CPU plugin come from oneDNN and stop at the cap. What the cap
does not reach:

* OpenVINO's own decisions read CPUID, not the cap: it still reports BF16 and picks bf16 by default, so a capped
  run asks every precision explicitly (:meth:`IsaLevel.precision_for`);
* some of OpenVINO's own JIT kernels (fused element-wise subgraphs) keep the real ISA; the per-layer counters name
  the ISA of each kernel, and :func:`share_above` measures the time spent above the cap;
* libraries with their own CPU detection (XNNPACK in LiteRT, ONNX Runtime's MLAS) ignore it.

Memory, caches, clock and core count stay this machine's: an emulated kind measures the instruction set, not a chip.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Mapping, Optional, Sequence, Tuple

from enet_edge.errors import ConfigError

ISA_CAP_VARIABLE = "ONEDNN_MAX_CPU_ISA"
"""oneDNN's environment variable: the highest instruction set its kernels may use, read once when it loads."""


@dataclass(frozen=True)
class IsaLevel:
    """One CPU kind. ``flags``: the /proc/cpuinfo flags (of those that matter for CNNs) a CPU of this kind has;
    ``onednn_cap``: its ``ONEDNN_MAX_CPU_ISA`` value; ``arithmetic``: the OpenVINO CPU capabilities it offers
    (``FP32``, ``INT8``, ``BF16``, ``FP16``); ``default_precision``: what OpenVINO runs when nothing is asked;
    ``above``: a pattern of OpenVINO kernel names (``exec_type``) that use an instruction set beyond this kind."""

    name: str
    title: str
    flags: Tuple[str, ...]
    onednn_cap: str
    arithmetic: Tuple[str, ...]
    default_precision: str
    above: str

    def __post_init__(self) -> None:
        if self.default_precision not in ("f32", "bf16", "f16"):
            raise ConfigError(f"CPU kind {self.name}: default precision {self.default_precision!r} must be f32, bf16 "
                              "or f16")
        re.compile(self.above)

    def fits(self, flags: Iterable[str]) -> bool:
        """Whether a CPU with ``flags`` can run as this kind (it has every flag of the kind)."""
        return set(self.flags) <= set(flags)

    def capabilities(self, reported: Sequence[str]) -> Tuple[str, ...]:
        """OpenVINO's ``reported`` CPU capabilities as a CPU of this kind reports them: arithmetic it lacks removed."""
        arithmetic = {"FP32", "INT8", "BF16", "FP16"}
        return tuple(c for c in reported if c not in arithmetic or c in self.arithmetic)

    def precision_for(self, asked: Optional[str]) -> str:
        """The precision to ask of a capped OpenVINO for ``asked`` (None: the CPU's default), so that it computes
        what a CPU of this kind would: its default, and f32 for arithmetic the kind does not have."""
        if asked is None:
            return self.default_precision
        wanted = {"f32": "FP32", "bf16": "BF16", "f16": "FP16"}.get(asked)
        return asked if wanted is None or wanted in self.arithmetic else "f32"

    def is_above(self, exec_type: str) -> bool:
        """Whether an OpenVINO kernel name (``brgconv_avx512_amx_1x1_i8``) uses an instruction set beyond this kind."""
        return bool(re.search(self.above, exec_type or ""))


_AVX2 = ("avx2", "fma", "f16c")
_AVX512_BF16 = _AVX2 + ("avx512f", "avx512_vnni", "avx512_bf16")
ISA_LEVELS: Tuple[IsaLevel, ...] = (
    IsaLevel("avx2", "AVX2 + FMA, no AVX-512 (Haswell to Comet Lake, Zen 2/3)", _AVX2, "AVX2",
             ("FP32", "INT8"), "f32", r"avx512|amx"),
    IsaLevel("avx512-bf16", "AVX-512 with VNNI and BF16, no AMX (Zen 4, Cooper Lake)", _AVX512_BF16,
             "AVX512_CORE_BF16", ("FP32", "INT8", "BF16"), "bf16", r"amx"),
    IsaLevel("amx", "AMX INT8/BF16 (Sapphire Rapids, Emerald Rapids, Granite Rapids)",
             _AVX512_BF16 + ("amx_tile", "amx_int8", "amx_bf16"), "AVX512_CORE_AMX", ("FP32", "INT8", "BF16", "FP16"),
             "bf16", r"amx_fp16"),
)
ISA_LEVEL_NAMES = tuple(level.name for level in ISA_LEVELS)


def isa_level(name: str) -> IsaLevel:
    """The :data:`ISA_LEVELS` entry called ``name``."""
    for level in ISA_LEVELS:
        if level.name == name:
            return level
    raise ConfigError(f"unknown CPU kind {name!r}; choose from {', '.join(ISA_LEVEL_NAMES)}")


def native_level(flags: Iterable[str]) -> Optional[IsaLevel]:
    """The highest :data:`ISA_LEVELS` kind a CPU with ``flags`` is (None: not even AVX2)."""
    fitting = [level for level in ISA_LEVELS if level.fits(flags)]
    return fitting[-1] if fitting else None


def capped_level(environ: Mapping[str, str]) -> Optional[IsaLevel]:
    """The kind whose cap ``environ`` sets (``ONEDNN_MAX_CPU_ISA``), None when it sets none of ours."""
    cap = (environ.get(ISA_CAP_VARIABLE) or "").strip().upper()
    return next((level for level in ISA_LEVELS if level.onednn_cap == cap), None)


def capped_flags(flags: Sequence[str], level: Optional[IsaLevel]) -> Tuple[str, ...]:
    """``flags`` without the CNN-relevant ones a CPU of ``level`` lacks (AVX-512 and AMX flags beyond it); all of
    them when ``level`` is None."""
    if level is None:
        return tuple(flags)
    beyond = re.compile(r"^(avx512\w*|amx_\w+|avx_vnni\w*|avx_ne_convert|avx_ifma)$")
    return tuple(f for f in flags if f in level.flags or not beyond.match(f))


def share_above(level: IsaLevel, times: Iterable[Tuple[str, float]]) -> float:
    """The fraction of the time in ``times`` ((exec_type, time) pairs) spent in kernels beyond ``level``."""
    total = above = 0.0
    for exec_type, t in times:
        total += t
        if level.is_above(exec_type):
            above += t
    return above / total if total else 0.0


def environ_for(level: Optional[IsaLevel], environ: Mapping[str, str]) -> dict:
    """A copy of ``environ`` for a child process that runs as ``level`` (None: uncapped, the machine's own ISA)."""
    out = {k: v for k, v in environ.items() if k != ISA_CAP_VARIABLE}
    if level is not None:
        out[ISA_CAP_VARIABLE] = level.onednn_cap
    return out
