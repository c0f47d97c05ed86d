"""benchmarks/cpu_kinds_ab.py: one model as several CPU kinds, alternating processes."""

import importlib.util
import json

import pytest

from conftest import REPO
from enet_edge.errors import ConfigError


@pytest.fixture(scope="module")
def ab():
    spec = importlib.util.spec_from_file_location("cpu_kinds_ab", REPO / "benchmarks" / "cpu_kinds_ab.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_kinds_are_checked_against_the_cpu(ab):
    from test_isa import HASWELL, SAPPHIRE_RAPIDS

    ab.check_kinds(["native", "avx2", "avx512-bf16"], SAPPHIRE_RAPIDS)
    with pytest.raises(ConfigError, match=r"this CPU \(avx2\) cannot run as amx: it lacks amx_bf16, amx_int8"):
        ab.check_kinds(["native", "amx"], HASWELL)
    with pytest.raises(ConfigError, match="at least two different kinds"):
        ab.check_kinds(["avx2", "avx2"], SAPPHIRE_RAPIDS)
    with pytest.raises(ConfigError, match="unknown CPU kind"):
        ab.check_kinds(["native", "neon"], SAPPHIRE_RAPIDS)


def test_table_is_medians_of_rounds_against_the_first_kind(ab):
    results = {"native": [{"infer_ms": 10.0, "e2e_ms": 12.0, "precision": "i8+f32"},
                          {"infer_ms": 14.0, "e2e_ms": 16.0, "precision": "i8+f32"}],
               "avx2": [{"infer_ms": 18.0, "e2e_ms": 21.0, "precision": "i8+f32"},
                        {"infer_ms": 30.0, "e2e_ms": 35.0, "precision": "i8+f32"}]}
    text = ab.table(results)
    assert "| native | i8+f32 | 12.00 ms | 1.000x | 14.00 ms | 1.000x |" in text
    assert "| avx2 | i8+f32 | 24.00 ms | 2.000x | 28.00 ms | 2.000x |" in text


def test_a_real_alternating_run(ab, tiny_export_dir, tmp_path, capsys):
    out = tmp_path / "ab.json"
    assert ab.main([str(tiny_export_dir), "--kinds", "native", "avx2", "--rounds", "2", "--niter", "3",
                    "--precision", "f32", "--json", str(out)]) == 0
    document = json.loads(out.read_text())
    assert [len(document["results"][k]) for k in ("native", "avx2")] == [2, 2]
    assert all(r["precision"] == "f32" and r["infer_ms"] > 0 for k in ("native", "avx2")
               for r in document["results"][k])
    assert "| avx2 | f32 |" in capsys.readouterr().out
    assert ab.main([str(tmp_path / "missing"), "--kinds", "native", "avx2", "--rounds", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("benchmarks/cpu_kinds_ab.py: error: enet-edge bench as native failed:")
