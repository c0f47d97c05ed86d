"""CPU kinds by instruction set (enet_edge.runtime.isa) and the ISA cap that emulates a lower kind."""

import pytest

from enet_edge.errors import ConfigError
from enet_edge.runtime import isa
from enet_edge.runtime.roofline import read_cpu_spec

SAPPHIRE_RAPIDS = ("fma", "avx2", "f16c", "avx512f", "avx512_vnni", "avx512_bf16", "avx512_fp16", "avx_vnni",
                   "amx_tile", "amx_int8", "amx_bf16", "sse4_2")
ZEN4 = ("fma", "avx2", "f16c", "avx512f", "avx512_vnni", "avx512_bf16", "sse4_2")
HASWELL = ("fma", "avx2", "f16c", "sse4_2")


def test_levels_are_ordered_and_each_kind_has_the_flags_of_the_ones_below():
    assert isa.ISA_LEVEL_NAMES == ("avx2", "avx512-bf16", "amx")
    for lower, higher in zip(isa.ISA_LEVELS, isa.ISA_LEVELS[1:]):
        assert set(lower.flags) < set(higher.flags)
        assert set(lower.arithmetic) <= set(higher.arithmetic)
    assert isa.isa_level("avx2").onednn_cap == "AVX2"
    with pytest.raises(ConfigError, match="unknown CPU kind 'sse'.*avx2, avx512-bf16, amx"):
        isa.isa_level("sse")
    with pytest.raises(ConfigError, match="default precision"):
        isa.IsaLevel("x", "x", (), "AVX2", ("FP32",), "f64", "amx")


@pytest.mark.parametrize("flags, native", [(SAPPHIRE_RAPIDS, "amx"), (ZEN4, "avx512-bf16"), (HASWELL, "avx2"),
                                           (("sse4_2",), None)])
def test_native_level(flags, native):
    level = isa.native_level(flags)
    assert (level.name if level else None) == native


def test_what_openvino_offers_and_runs_on_each_kind():
    reported = ("BF16", "WINOGRAD", "FP32", "FP16", "INT8", "BIN", "EXPORT_IMPORT")  # OpenVINO on Sapphire Rapids
    avx2, zen4, amx = isa.ISA_LEVELS
    assert avx2.capabilities(reported) == ("WINOGRAD", "FP32", "INT8", "BIN", "EXPORT_IMPORT")
    assert zen4.capabilities(reported) == ("BF16", "WINOGRAD", "FP32", "INT8", "BIN", "EXPORT_IMPORT")
    assert amx.capabilities(reported) == reported
    assert [avx2.precision_for(p) for p in (None, "f32", "bf16", "f16")] == ["f32", "f32", "f32", "f32"]
    assert [zen4.precision_for(p) for p in (None, "f32", "bf16", "f16")] == ["bf16", "f32", "bf16", "f32"]
    assert [amx.precision_for(p) for p in (None, "f32", "bf16", "f16")] == ["bf16", "f32", "bf16", "f16"]


def test_kernels_beyond_a_kind_and_their_share_of_the_time():
    avx2, zen4, _ = isa.ISA_LEVELS
    times = [("brgconv_avx512_amx_1x1_i8", 3.0), ("jit_avx512_f32", 1.0), ("jit_avx2_I8", 4.0), ("unknown_f32", 2.0)]
    assert avx2.is_above("jit_avx512_f32") and not avx2.is_above("jit_avx2_1x1_I8") and not avx2.is_above("")
    assert zen4.is_above("brgconv_avx512_amx_i8") and not zen4.is_above("jit_avx512_f32")
    assert isa.share_above(avx2, times) == pytest.approx(0.4)
    assert isa.share_above(zen4, times) == pytest.approx(0.3)
    assert isa.share_above(avx2, []) == 0.0


def test_the_cap_in_the_environment_and_the_flags_it_leaves():
    assert isa.capped_level({"ONEDNN_MAX_CPU_ISA": "avx512_core_bf16"}).name == "avx512-bf16"
    assert isa.capped_level({"ONEDNN_MAX_CPU_ISA": "SSE41"}) is None and isa.capped_level({}) is None
    assert isa.capped_flags(SAPPHIRE_RAPIDS, isa.isa_level("avx2")) == HASWELL
    assert set(isa.capped_flags(SAPPHIRE_RAPIDS, isa.isa_level("avx512-bf16"))) == set(ZEN4)
    assert isa.capped_flags(SAPPHIRE_RAPIDS, None) == SAPPHIRE_RAPIDS
    env = {"PATH": "/bin", "ONEDNN_MAX_CPU_ISA": "AVX2"}
    assert isa.environ_for(None, env) == {"PATH": "/bin"}
    assert isa.environ_for(isa.isa_level("avx512-bf16"), env) == {"PATH": "/bin",
                                                                   "ONEDNN_MAX_CPU_ISA": "AVX512_CORE_BF16"}
    assert env["ONEDNN_MAX_CPU_ISA"] == "AVX2"  # a copy


def test_the_compute_peak_of_a_capped_run_is_the_kind_s(tmp_path):
    from enet_edge.runtime.roofline import peak_gmacs

    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\ncpu MHz\t\t: 2000.000\n"
                    f"physical id\t: 0\ncore id\t\t: 0\nflags\t\t: {' '.join(SAPPHIRE_RAPIDS)}\n\n")
    native = read_cpu_spec(str(info), str(tmp_path / "none"), environ={})
    avx2 = read_cpu_spec(str(info), str(tmp_path / "none"), environ={"ONEDNN_MAX_CPU_ISA": "AVX2"})
    assert native.flags == SAPPHIRE_RAPIDS and avx2.flags == HASWELL
    assert peak_gmacs("i8", native) == pytest.approx(2.0 * 1024)  # AMX
    assert peak_gmacs("i8", avx2) < peak_gmacs("i8", native) / 10
