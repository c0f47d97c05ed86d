"""The compute peak and activation-stream bounds of a measurement (enet_edge.runtime.roofline)."""

import pytest

from enet_edge.errors import ConfigError
from enet_edge.runtime.roofline import (CpuSpec, base_precision, macs_per_cycle, measure_bandwidth_gbs, peak_gmacs,
                                        read_cpu_spec, roofline)

AVX2 = CpuSpec(("sse2", "fma", "avx2"), cores=4, ghz=3.0, vendor="GenuineIntel", family=6)
SPR = CpuSpec(("sse2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8"), 2, 2.0,
              "GenuineIntel", 6)
ZEN4 = CpuSpec(("sse2", "fma", "avx512f", "avx512_vnni", "avx512_bf16"), 2, 3.7, "AuthenticAMD", 25)


@pytest.mark.parametrize("cpu, precision, per_cycle", [
    (AVX2, "f32", 16), (AVX2, "bf16", 16), (AVX2, "i8+f32", 16),  # no bf16/VNNI instruction: f32 arithmetic
    (SPR, "f32", 32), (SPR, "bf16", 512), (SPR, "i8+f32", 1024), (SPR, "f16", 32),
    (ZEN4, "f32", 16), (ZEN4, "bf16", 32), (ZEN4, "i8", 64),  # 512-bit as two halves
])
def test_macs_per_cycle_per_cpu_kind(cpu, precision, per_cycle):
    assert macs_per_cycle(precision, cpu)[0] == per_cycle


def test_peak_and_roofline():
    assert peak_gmacs("f32", AVX2) == 4 * 3.0 * 16
    result = roofline(macs=2_000_000_000, activation_elements=10_000_000, median_ms=20.0, precision="f32",
                      cpu=AVX2, bandwidth_gbs=10.0)
    assert result["gmacs_reached"] == 100.0 and result["gmacs_peak"] == 192.0
    assert result["compute_share"] == pytest.approx(100 / 192, abs=1e-4)
    assert result["stream_ms"] == pytest.approx(2 * 10e6 * 4 / 10e9 * 1e3)  # written and read once, 4 bytes
    assert result["stream_share"] == pytest.approx(8.0 / 20.0)
    assert roofline(2_000_000_000, 10_000_000, 20.0, "bf16", SPR, 10.0)["stream_ms"] == pytest.approx(4.0)
    with pytest.raises(ConfigError, match="positive"):
        roofline(1, 1, 0.0, "f32", AVX2, 1.0)


def test_precision_labels_and_bad_specs():
    assert base_precision("i8+f32") == "i8" and base_precision("BF16") == "bf16"
    with pytest.raises(ConfigError, match="no compute peak for precision 'fp64'"):
        base_precision("fp64")
    with pytest.raises(ConfigError, match="cores >= 1"):
        CpuSpec(("fma",), 0, 3.0)
    with pytest.raises(ConfigError, match="no x86 vector flag"):
        macs_per_cycle("f32", CpuSpec(("neon",), 1, 1.0))


def test_read_cpu_spec(tmp_path):
    info = tmp_path / "cpuinfo"
    block = ("processor\t: {p}\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\ncpu MHz\t\t: 2400.000\n"
             "physical id\t: 0\ncore id\t\t: {c}\nflags\t\t: fpu sse2 fma avx2 avx512f avx512_bf16\n\n")
    info.write_text("".join(block.format(p=p, c=p // 2) for p in range(4)))  # 4 threads on 2 cores
    spec = read_cpu_spec(str(info), str(tmp_path / "none"))
    assert spec == CpuSpec(("fpu", "sse2", "fma", "avx2", "avx512f", "avx512_bf16"), 2, 2.4, "AuthenticAMD", 25)
    (tmp_path / "max").write_text("3700000\n")
    assert read_cpu_spec(str(info), str(tmp_path / "max")).ghz == pytest.approx(3.7)
    with pytest.raises(ConfigError, match="cannot read"):
        read_cpu_spec(str(tmp_path / "missing"))
    assert read_cpu_spec().cores >= 1  # this machine


def test_bandwidth_is_measured():
    assert measure_bandwidth_gbs(megabytes=8, repeats=2) > 0.1
    with pytest.raises(ConfigError):
        measure_bandwidth_gbs(megabytes=0)
