"""Simulated x86 CPU kinds for OpenVINO's CPU plugin: what it reports, not what it computes.

OpenVINO decides the CPU's arithmetic from its instruction set: AVX2-only CPUs run f32 whatever is
asked; CPUs with BF16 (Xeon Sapphire Rapids, EPYC Zen 4) run bf16 by default and turn an f16 hint
into bf16; AMX-FP16 CPUs (Xeon 6) run f16 when asked. :func:`simulate` makes the OpenVINO module that
enet-edge imports report one of these kinds (``OPTIMIZATION_CAPABILITIES`` and the
``INFERENCE_PRECISION_HINT`` read back from a compiled model) while the real plugin computes in f32,
so tests check every decision enet-edge takes on each kind from any machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Tuple


@dataclass(frozen=True)
class CpuKind:
    name: str
    capabilities: Tuple[str, ...]
    default: str  # what runs when nothing is asked
    runs: Dict[str, str]  # asked -> runs


_BASE = ("FP32", "INT8", "BIN", "EXPORT_IMPORT")
CPU_KINDS = {
    "avx2": CpuKind("avx2", _BASE, "f32", {"f32": "f32", "f16": "f32", "bf16": "f32"}),
    "avx512_bf16": CpuKind("avx512_bf16", _BASE[:2] + ("BF16",) + _BASE[2:], "bf16",
                           {"f32": "f32", "f16": "bf16", "bf16": "bf16"}),
    "amx_fp16": CpuKind("amx_fp16", _BASE[:2] + ("BF16", "FP16") + _BASE[2:], "bf16",
                        {"f32": "f32", "f16": "f16", "bf16": "bf16"}),
    # a plugin that ignores what it is asked (never seen; proves that exact measurements refuse it)
    "ignores_hints": CpuKind("ignores_hints", _BASE[:2] + ("BF16",) + _BASE[2:], "bf16",
                             {"f32": "bf16", "f16": "bf16", "bf16": "bf16"}),
}


class _Compiled:
    def __init__(self, real, ran: str):
        self._real, self._ran = real, ran

    def get_property(self, name):
        if name == "INFERENCE_PRECISION_HINT":
            return self._ran  # a string, as OpenVINO 2022.3 may give
        return self._real.get_property(name)

    def __getattr__(self, name):
        return getattr(self._real, name)


class _Core:
    def __init__(self, ov, kind: CpuKind):
        self._real, self._kind = ov.Core(), kind

    def get_property(self, device, name):
        if device == "CPU" and name == "OPTIMIZATION_CAPABILITIES":
            return list(self._kind.capabilities)
        return self._real.get_property(device, name)

    def compile_model(self, model, device="CPU", config: Optional[dict] = None):
        config = dict(config or {})
        asked = config.pop("INFERENCE_PRECISION_HINT", None)
        config["INFERENCE_PRECISION_HINT"] = "f32"  # the real computation here
        compiled = self._real.compile_model(model, device, config)
        if device != "CPU":
            return compiled
        ran = self._kind.runs[str(asked)] if asked else self._kind.default
        return _Compiled(compiled, ran)

    def __getattr__(self, name):
        return getattr(self._real, name)


class _OpenVINO:
    def __init__(self, ov, kind: CpuKind):
        self._ov, self._kind = ov, kind

    def Core(self):  # noqa: N802 (OpenVINO's name)
        return _Core(self._ov, self._kind)

    def __getattr__(self, name):
        return getattr(self._ov, name)


def simulate(monkeypatch, kind: str) -> CpuKind:
    """Make enet-edge's OpenVINO report CPU kind ``kind`` (a key of :data:`CPU_KINDS`) for this test."""
    import enet_edge.runtime.adapters as adapters

    cpu = CPU_KINDS[kind]
    real = adapters.import_openvino()
    monkeypatch.setattr(adapters, "import_openvino", lambda: _OpenVINO(real, cpu))
    return cpu
