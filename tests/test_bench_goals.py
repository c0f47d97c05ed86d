"""make bench's goals are judged on native measurements only: an emulated CPU kind (oneDNN capped on this machine)
shows its figures, labelled emulated, and every goal of it reads "not measured" (enet_edge/workstation/suite/report.py
:func:`verdict`). The documents are built here: no measuring, nothing depends on the CPU the tests run on."""

import copy

import pytest

from enet_edge.workstation.suite import report
from enet_edge.workstation.suite.config import GOALS, PEER_GOALS

XEON = "Intel(R) Xeon(R) Processor"


def _doc(ours_ms=10.0, peer_ms=40.0, cpu_kind=None, measurement=None):
    """A suite document whose every goal would be met by its figures (ours far faster than every reference)."""
    def result(name, ms):
        return {"variant": name, "precision": "f32", "latency_ms": {"median": ms / 2, "p90": ms / 2},
                "e2e_latency_ms": {"median": ms}, "throughput_fps": 1000 / ms, "backend": "openvino"}

    names = {g.reference for g in GOALS} | {p for p, _ in PEER_GOALS}
    results = [result("ov-int8", ours_ms)] + [result(name, peer_ms) for name in sorted(names)]
    doc = {"runs": [{"size": [360, 480], "mode": "latency", "results": results}],
           "miou": {"ov-int8": 0.66, "ov-fp32": 0.664, "ov-bf16": 0.664, "tf-graph": 0.664, "ort-fp32": 0.664},
           "peer_miou": {}, "peers": [{"name": p, "title": p} for p, _ in PEER_GOALS], "skipped": {},
           "machine": {"cpu_model": XEON}, "cpu_kind": cpu_kind, "variants": [], "baseline": "tf-graph",
           "created": "2026-12-04T00:00:00+00:00", "miou_frames": "all"}
    if measurement is not None:
        doc["measurement"] = measurement
    return report.derive(doc)


ZEN4_EMULATED = {"kind": "avx512-bf16", "title": "AVX-512 with VNNI and BF16, no AMX (Zen 4, Cooper Lake)",
                 "onednn_cap": "AVX512_CORE_BF16", "emulated": True}


def test_native_measurements_get_verdicts():
    doc = _doc(measurement=report.measurement(None, None, "", "amx", XEON))
    assert not report.is_emulated(doc) and doc["measurement"]["kind"] == "amx"
    assert all(g["met"] is True and not g["emulated"] for g in doc["peer_goals"]) and doc["peer_goals"]
    assert all(g["met"] in (True, False) for g in doc["goals"])  # judged, whichever way
    slow = _doc(ours_ms=10.0, peer_ms=12.0, measurement=report.measurement(None, None, "", "amx", XEON))
    assert [g["met"] for g in slow["peer_goals"]] == [False, False]  # 1.2x: short of 1.5x and 2x


@pytest.mark.parametrize("cpu_kind, measurement", [
    (ZEN4_EMULATED, None),  # a run as a CPU kind (documents saved before "measurement" existed)
    (ZEN4_EMULATED, report.measurement("avx512-bf16", "Zen 4", "AVX512_CORE_BF16", "amx", XEON)),
    (None, report.measurement(None, None, "AVX2", "amx", XEON)),  # the main run with a cap set by hand
])
def test_an_emulated_kind_never_gets_a_verdict(cpu_kind, measurement):
    """Its figures would meet every goal (4x the peers): still no goal is met, none failed; all "not measured"."""
    doc = _doc(cpu_kind=cpu_kind, measurement=measurement)
    assert report.is_emulated(doc)
    assert doc["peer_goals"] and all(g["value"] == 4.0 and g["met"] is None and g["emulated"] for g in doc["peer_goals"])
    assert all(g["met"] is None for g in doc["goals"]) and any(g["value"] is not None for g in doc["goals"])
    text = report.render_markdown(doc)
    assert "| yes |" not in text and "**NO**" not in text
    assert "4.00x emulated | not measured (emulated CPU kind) |" in text
    assert "EMULATED CPU kind" in report.measurement_text(doc) and "no goal is judged" in report.measurement_text(doc)


def test_verdict_is_the_only_judge():
    native, emulated = _doc(), _doc(cpu_kind=ZEN4_EMULATED)
    assert report.verdict(native, 1.46, False) is False and report.verdict(native, 2.0, True) is True
    assert report.verdict(native, None, True) is None
    assert report.verdict(emulated, 3.31, True) is None and report.verdict(emulated, 1.46, False) is None


def test_measurement_records_what_the_figures_are():
    assert report.measurement(None, None, "", "amx", XEON) == {
        "emulated": False, "kind": "amx", "title": "amx", "on": XEON, "how": f"native: measured on {XEON} itself"}
    zen4 = report.measurement("avx512-bf16", "Zen 4", "AVX512_CORE_BF16", "amx", XEON)
    assert zen4["emulated"] and zen4["kind"] == "avx512-bf16" and "ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16" in zen4["how"]
    assert report.measurement(None, None, "AVX2", "amx", XEON)["kind"] == "capped at AVX2"
    assert report.measurement(None, None, "", None, XEON)["title"] == "below AVX2"


def test_a_saved_document_is_rejudged_on_render():
    """`--render` of a document saved with verdicts on an emulated kind (the 2026-12-03 page's 3.31x "met") drops
    them: derive recomputes every verdict."""
    native = _doc(measurement=report.measurement(None, None, "", "amx", XEON))
    kind_doc = _doc(cpu_kind=ZEN4_EMULATED)
    for g in kind_doc["peer_goals"]:
        g["met"] = True  # as the old code wrote it
    native["cpu_kinds"] = {"native": "amx", "not_run": {}, "runs": [
        {"kind": "avx512-bf16", "title": "Zen 4", "onednn_cap": "AVX512_CORE_BF16", "document": kind_doc}]}
    again = report.derive(copy.deepcopy(native))
    assert all(g["met"] is None for g in again["cpu_kinds"]["runs"][0]["document"]["peer_goals"])
    assert all(g["met"] is True for g in again["peer_goals"])
