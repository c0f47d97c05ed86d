"""How far a measured inference is from what the CPU can do: its compute peak and a memory stream of the activations.

Two bounds, both upper bounds on speed (a real network reaches neither):

* **Compute peak** (GMAC/s) = physical cores x clock (GHz) x MACs per cycle per core for the precision that ran,
  from the widest instruction the CPU's flags offer for it (:data:`ISA_MACS`: lanes per instruction x FMA ports, the
  vendor's figures, cited per row). The clock is the maximum the kernel reports (``cpuinfo_max_freq``), else the
  ``cpu MHz`` of ``/proc/cpuinfo`` (a VM's nominal clock); turbo and AVX-512 down-clocking are not modelled. Two
  FMA ports per core are assumed for AVX-512 (one-port Xeons reach half); AMD family 25 (Zen 3/4) executes a 512-bit
  instruction as two 256-bit halves, so its AVX-512 rows count 256-bit lanes.
* **Activation stream** (ms) = the bytes of every activation tensor written once and read once, at the element size
  of the precision that ran, over a copy bandwidth measured on the spot (numpy copy of a buffer larger than the
  caches, best of several; read + write bytes counted).

The reached rate is ``MACs / median latency``; ``compute_share`` = reached / peak and ``stream_share`` = stream time /
median say how close the measurement is to each bound (1.0: at the bound).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Mapping, Optional, Tuple

import numpy as np

from enet_edge.errors import ConfigError
from enet_edge.runtime.isa import capped_flags, capped_level


@dataclass(frozen=True)
class CpuSpec:
    """What the peak is computed from: ``flags`` (x86 feature flags), ``cores`` (physical), ``ghz`` (clock),
    ``vendor`` (``GenuineIntel`` / ``AuthenticAMD``) and ``family`` (the CPU family number)."""

    flags: Tuple[str, ...]
    cores: int
    ghz: float
    vendor: str = ""
    family: Optional[int] = None

    def __post_init__(self) -> None:
        if self.cores < 1 or not self.ghz > 0:
            raise ConfigError(f"CpuSpec needs cores >= 1 and a clock > 0 GHz (got {self.cores}, {self.ghz})")

    @property
    def halves_512(self) -> bool:
        """A 512-bit instruction runs as two 256-bit halves (AMD Zen 3/4, family 25)."""
        return self.vendor == "AuthenticAMD" and self.family == 25


ISA_MACS: Tuple[Tuple[str, str, int, bool, str], ...] = (
    # (precision, required flag, MACs per cycle per core, 512-bit vector instruction?, source)
    ("i8", "amx_int8", 1024, False, "Intel AMX TMUL: 2048 INT8 ops (1024 MACs) per cycle per core (Intel AMX overview)"),
    ("i8", "avx512_vnni", 128, True, "VPDPBUSD zmm: 64 u8*s8 MACs, 2 FMA ports (Intel Optimization Reference Manual)"),
    ("i8", "avx_vnni", 64, False, "VPDPBUSD ymm: 32 u8*s8 MACs, 2 ports"),
    ("bf16", "amx_bf16", 512, False, "Intel AMX TMUL: 1024 BF16 ops (512 MACs) per cycle per core"),
    ("bf16", "avx512_bf16", 64, True, "VDPBF16PS zmm: 32 bf16 MACs, 2 FMA ports"),
    ("f16", "amx_fp16", 512, False, "Intel AMX-FP16 TMUL: as BF16, 512 MACs per cycle per core"),
    ("f16", "avx512_fp16", 64, True, "VFMADDPH zmm: 32 f16 MACs, 2 FMA ports"),
    ("f32", "avx512f", 32, True, "VFMADD zmm: 16 f32 MACs, 2 FMA ports"),
    ("f32", "fma", 16, False, "VFMADD ymm (AVX2 + FMA3): 8 f32 MACs, 2 FMA ports"),
    ("f32", "sse2", 4, False, "MULPS + ADDPS xmm: 4 f32 MACs per cycle (no FMA)"),
)
"""Per precision, the widest instruction first; the first whose flag the CPU has sets the peak."""

ELEMENT_BYTES = {"f32": 4, "bf16": 2, "f16": 2, "i8": 1}
"""Bytes per activation element at each precision (INT8 models keep some float tensors: the stream is a bound)."""


def base_precision(precision: str) -> str:
    """The arithmetic that sets the peak of a precision label: ``i8+f32`` -> ``i8``, ``f32`` -> ``f32``."""
    name = precision.split("+")[0].strip().lower()
    if name not in ELEMENT_BYTES:
        raise ConfigError(f"no compute peak for precision {precision!r}; one of {', '.join(ELEMENT_BYTES)}")
    return name


def macs_per_cycle(precision: str, cpu: CpuSpec) -> Tuple[int, str]:
    """(MACs per cycle per core, the :data:`ISA_MACS` source) of the widest instruction ``cpu`` has for ``precision``."""
    name = base_precision(precision)
    for row_precision, flag, macs, wide, source in ISA_MACS:
        if row_precision == name and flag in cpu.flags:
            if wide and cpu.halves_512:
                return macs // 2, f"{source}; halved: AMD family 25 runs 512-bit as two 256-bit halves"
            return macs, source
    if name != "f32":  # the runtime falls back to f32 arithmetic where the CPU has no instruction for it
        return macs_per_cycle("f32", cpu)
    raise ConfigError(f"no x86 vector flag found for {precision} ({', '.join(cpu.flags[:8])}...)")


def peak_gmacs(precision: str, cpu: CpuSpec) -> float:
    """The compute peak in GMAC/s: cores x GHz x MACs per cycle per core (:func:`macs_per_cycle`)."""
    return cpu.cores * cpu.ghz * macs_per_cycle(precision, cpu)[0]


def read_cpu_spec(cpuinfo: str = "/proc/cpuinfo",
                  max_freq: str = "/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq",
                  environ: Optional[Mapping[str, str]] = None) -> CpuSpec:
    """:class:`CpuSpec` of this machine from ``/proc/cpuinfo`` (flags, vendor, family, physical cores, MHz) and the
    kernel's maximum frequency (kHz) where it exists. Under an ISA cap (``ONEDNN_MAX_CPU_ISA`` in ``environ``,
    default ``os.environ``: :mod:`enet_edge.runtime.isa`) the flags beyond the capped CPU kind are left out, so the
    peak is that kind's."""
    try:
        text = Path(cpuinfo).read_text(errors="replace")
    except OSError as exc:
        raise ConfigError(f"cannot read {cpuinfo} ({exc.strerror}); the compute peak needs the CPU's flags") from exc
    fields: Dict[str, str] = {}
    cores, processors = set(), 0
    physical = "0"
    for line in text.splitlines():
        key, _, value = (part.strip() for part in line.partition(":"))
        if key == "processor":
            processors += 1
        elif key == "physical id":
            physical = value
        elif key == "core id":
            cores.add((physical, value))
        if key and key not in fields:
            fields[key] = value
    mhz = float(fields.get("cpu MHz", 0) or 0)
    try:
        mhz = int(Path(max_freq).read_text().strip()) / 1000
    except (OSError, ValueError):
        pass
    family = fields.get("cpu family")
    level = capped_level(os.environ if environ is None else environ)
    return CpuSpec(capped_flags(fields.get("flags", "").split(), level), len(cores) or max(processors, 1), mhz / 1000,
                   fields.get("vendor_id", ""), int(family) if family and family.isdigit() else None)


def measure_bandwidth_gbs(megabytes: int = 256, repeats: int = 5) -> float:
    """Copy bandwidth of this machine now, GB/s (read + write bytes of ``np.copyto`` over ``megabytes``, best of
    ``repeats``): the rate a one-pass stream of the activations could reach."""
    if megabytes < 1 or repeats < 1:
        raise ConfigError("bandwidth measurement needs megabytes >= 1 and repeats >= 1")
    src = np.ones(megabytes * 2**20 // 8, np.float64)
    dst = np.empty_like(src)
    np.copyto(dst, src)  # first touch: page faults are not bandwidth
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - start)
    return 2 * src.nbytes / best / 1e9


def _significant(value: float, digits: int = 4) -> float:
    """``value`` to ``digits`` significant digits: a tiny model's share of the peak stays above zero."""
    return float(f"{value:.{digits}g}")


def roofline(macs: int, activation_elements: int, median_ms: float, precision: str, cpu: CpuSpec,
             bandwidth_gbs: float) -> Dict[str, object]:
    """The bounds of one measurement (JSON-ready): reached and peak GMAC/s, the one-pass activation stream time, and
    the shares of each (see the module docstring). ``precision``: what ran (e.g. ``f32``, ``bf16``, ``i8+f32``)."""
    if median_ms <= 0 or bandwidth_gbs <= 0:
        raise ConfigError("roofline needs a positive median latency and bandwidth")
    per_cycle, source = macs_per_cycle(precision, cpu)
    peak = cpu.cores * cpu.ghz * per_cycle
    reached = macs / (median_ms / 1e3) / 1e9
    stream_bytes = 2 * activation_elements * ELEMENT_BYTES[base_precision(precision)]
    stream_ms = stream_bytes / (bandwidth_gbs * 1e9) * 1e3
    return {"gmacs_reached": _significant(reached), "gmacs_peak": round(peak, 1),
            "compute_share": _significant(reached / peak),
            "stream_ms": _significant(stream_ms), "stream_share": _significant(stream_ms / median_ms),
            "bandwidth_gbs": round(bandwidth_gbs, 2), "macs_per_cycle_core": per_cycle, "peak_source": source,
            "cores": cpu.cores, "ghz": round(cpu.ghz, 3)}
