"""`make bench` (benchmarks/run.py, enet_edge.workstation.suite): one small real run over every variant, and its
documents."""

import dataclasses
import importlib.util
import json
import subprocess
import sys

import pytest

from conftest import REPO, SMALL_SIZE
from enet_edge.errors import ArtifactError, ConfigError
from enet_edge.workstation.suite import cli, exports, report, run
from enet_edge.workstation.suite import config as suite_config

SIZE = f"{SMALL_SIZE[0]}x{SMALL_SIZE[1]}"


def _small_bench_target(target, gated, class_map=None):
    """``bench_target`` as the small exports were made (test-size quantization), so the suite reuses them."""
    from conftest import small_target

    return small_target(target).with_class_map(class_map)


@pytest.fixture(scope="module")
def small_suite(small_exports, camvid, tmp_path_factory):
    """The suite at 64x96 over the session's small exports (no re-export: same weights and size)."""
    root = tmp_path_factory.mktemp("suite")
    build = root / "build" / SIZE
    build.mkdir(parents=True)
    for name, path in small_exports.items():
        (build / name).symlink_to(path, target_is_directory=True)
    from enet_edge.export.pipeline import ExportRequest, export
    from conftest import small_target

    for variant in suite_config.VARIANTS:  # the class-map variants' exports (the arg-max appended to the IR)
        if variant.class_map and not (build / variant.export_name).exists():
            request = ExportRequest(target=small_target(variant.target).with_class_map(variant.class_map),
                                    out_dir=build / variant.export_name, height=SMALL_SIZE[0], width=SMALL_SIZE[1])
            export(request, log=lambda m: None)
    readme = root / "README.md"
    readme.write_text(f"intro\n{suite_config.README_START}\nold table\n{suite_config.README_END}\nrest\n")
    config = suite_config.SuiteConfig(sizes=(SMALL_SIZE,), time_s=None, niter=3, warmup=1, miou_frames=2,
                               build_dir=root / "build", out_dir=root / "results", data_dir=camvid, readme=readme,
                               compile_variants=("ncs2", "no-hw-dilation"), cpu_kinds=())
    logs = []
    with pytest.MonkeyPatch.context() as patch:  # the suite's targets as the small exports were quantized
        patch.setattr(exports, "bench_target", _small_bench_target)
        document = run.run_suite(config, log=logs.append)
    paths = report.write_outputs(document, config)
    return document, paths, readme, logs


def test_every_variant_is_measured_or_skipped_with_a_reason(small_suite):
    document, _, _, logs = small_suite
    assert not any(line.startswith("exporting") for line in logs)  # the small exports were reused
    measured = {doc["variant"] for run in document["runs"] for doc in run["results"]}
    for name in suite_config.VARIANT_NAMES:
        assert name in measured or name in document["skipped"], name
    assert {"tf-keras", "tf-graph", "ort-fp32", "cv-fp32", "ov-fp32", "ov-ncs2-fp16ir", "ov-int8", "ov-fp32-cm",
            "ov-int8-cm"} <= measured
    assert [(r["size"], r["mode"]) for r in document["runs"]] == [(list(SMALL_SIZE), "latency"),
                                                                    (list(SMALL_SIZE), "throughput")]
    for one_run in document["runs"]:
        for doc in one_run["results"]:
            assert doc["niter"] == 3 and len(doc["samples_ms"]) == 3
            assert doc["latency_ms"]["median"] > 0 and doc["throughput_fps"] > 0
    int8 = report._result(document, "ov-int8", SMALL_SIZE, "latency")
    assert int8["precision"] == "i8+f32" and int8["model_precision"] == "INT8"  # float layers: what the IR asks for
    ours = measured - set(suite_config.PEER_NAMES)
    assert set(document["miou"]) == ours and all(0 <= v <= 1 for v in document["miou"].values())
    assert set(document["peer_miou"]) == measured - ours and all(0 <= v <= 1 for v in document["peer_miou"].values())


def test_documents_tables_plot_and_readme(small_suite):
    document, paths, readme, _ = small_suite
    saved = json.loads(paths["json"].read_text())
    assert saved["schema"] == suite_config.SCHEMA and saved["machine"]["logical_cores"]
    assert [g["goal"] for g in saved["goals"]] == [g.text for g in suite_config.GOALS]
    md = paths["md"].read_text()
    assert "| `tf-graph`" in md and "1.00x" in md and "Goals" in md
    assert "| params | GMAC |" in md and "Class-map output" in md and "On this CPU use `" in md
    bf16 = set() if "ov-bf16-cm" in saved["skipped"] else {"ov-bf16-cm"}  # measured on CPUs with BF16 only
    assert {c["class_map"] for c in saved["class_map"]} == {"ov-fp32-cm", "ov-int8-cm"} | bf16
    assert saved["recommendation"]["variant"] in saved["miou"]
    assert paths["png"].stat().st_size > 10_000
    assert [row["variant"] for row in saved["myriad_compile"]["rows"]] == ["ncs2", "no-hw-dilation"]
    assert saved["myriad_compile"]["rows"][1]["options"] == {"MYRIAD_HW_DILATION": "NO"}
    assert "MYRIAD X compiler" in md and "| ncs2 as `make export` writes it | compiled |" in md
    assert "goal: predicted " in md and "(proxies, not goals:" in md
    assert saved["myriad_compile"]["ranking"]["size"] == list(SMALL_SIZE) and "Ranking by predicted time" in md
    # peers: made from the weights, measured in the same rounds, against the recommended variant
    measured = {doc["variant"] for r in saved["runs"] for doc in r["results"]}
    for peer in suite_config.PEER_NAMES:
        assert peer in measured or f"{peer}@{SIZE}" in saved["skipped"], peer
    assert {"peer-ov-default", "peer-litert"} <= measured and set(saved["peer_miou"]) <= measured
    assert [g["peer"] for g in saved["peer_goals"]] == ["peer-ov-default", "peer-litert"]
    assert all(g["value"] > 0 and g["variant"] == saved["recommendation"]["variant"] for g in saved["peer_goals"])
    assert "Peers: what a user would run instead" in md and "| goal | size | measured | met |" in md
    # the bounds: compute peak and activation stream per OpenVINO result, and for the recommended variant
    bound = run_result(saved, "ov-fp32")["roofline"]
    assert 0 < bound["compute_share"] < 1 and bound["stream_ms"] > 0 and bound["gmacs_peak"] > 0
    assert "| % of peak | stream / median |" in md and "Bounds of `" in md
    # what limits the recommended variant: its per-layer counters by op type, in a pass of their own
    if saved["recommendation"]["variant"].startswith("ov-"):
        limit = saved["limits"][0]
        assert limit["variant"] == saved["recommendation"]["variant"] and limit["size"] == list(SMALL_SIZE)
        assert limit["by_type"] and limit["by_type"][0]["ms"] > 0 and "What limits `" in md
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("rest\n") and "old table" not in text
    assert "| `ov-int8`" in text and paths["png"].name in text


def _doc(variant, median, e2e=None, post=None):
    return {"variant": variant, "latency_ms": {"median": median}, "precision": "f32",
            "e2e_latency_ms": {"median": e2e if e2e is not None else median + 5},
            "e2e_stages_ms": {"postprocess": {"median": post}}}


def test_goals_are_computed_from_the_latency_table():
    document = {"runs": [{"size": [8, 8], "mode": "latency",
                          "results": [_doc("tf-graph", 100.0), _doc("ort-fp32", 60.0), _doc("ov-fp32", 30.0),
                                      _doc("ov-int8", 20.0), _doc("ov-bf16", 25.0)]}],
                "miou": {"ov-fp32": 0.60, "ov-int8": 0.585}}
    goals = {g["goal"]: g for g in report.evaluate_goals(document)}
    expected = {"cpu-int8 latency <= 0.5x the OpenVINO FP32 cpu IR": (2 / 3, False),
                "cpu-int8 faster than OpenVINO BF16 (CPUs with BF16 only)": (0.8, True),
                "cpu-int8 latency <= 0.15x the TensorFlow graph": (0.2, False),
                "cpu-int8 latency <= 0.5x ONNX Runtime FP32": (1 / 3, True),
                "cpu-int8 loses <= 1 mIoU point against OpenVINO FP32": (1.5, False),
                "cpu FP32 latency <= 0.35x the TensorFlow graph": (0.3, True)}
    assert set(goals) == set(expected)
    for text, (value, met) in expected.items():
        assert goals[text]["value"] == pytest.approx(value) and goals[text]["met"] is met, text
    document["runs"][0]["results"].pop()  # no BF16 on this CPU: not measured, not failed
    assert {g["goal"]: g for g in report.evaluate_goals(document)}[
        "cpu-int8 faster than OpenVINO BF16 (CPUs with BF16 only)"]["met"] is None


def test_recommendation_is_the_fastest_end_to_end_within_a_point_of_the_best_miou():
    document = {"runs": [{"size": [8, 8], "mode": "latency",
                          "results": [_doc("ov-fp32", 30.0, 40.0, 6.0), _doc("ov-fp32-cm", 31.0, 35.0, 1.0),
                                      _doc("ov-int8", 20.0, 28.0, 6.0), _doc("ov-int8-cm", 21.0, 23.0, 1.0)]}],
                "miou": {"ov-fp32": 0.634, "ov-fp32-cm": 0.634, "ov-int8": 0.632, "ov-int8-cm": 0.632}}
    rec = report.recommend(document)
    assert rec["variant"] == "ov-int8-cm" and rec["runner_up"]["variant"] == "ov-int8"
    assert rec["export"] == "enet-edge export --target cpu-int8 --class-map int32"
    assert "On this CPU use `ov-int8-cm`" in report.recommendation_text(rec)
    document["miou"]["ov-int8-cm"] = document["miou"]["ov-int8"] = 0.62  # 1.4 points lost: not recommended
    assert report.recommend(document)["variant"] == "ov-fp32-cm"
    savings = {c["class_map"]: c for c in report.class_map_savings(document)}
    assert savings["ov-int8-cm"]["saved_ms"] == pytest.approx(5.0) and savings["ov-int8-cm"]["post_ms"] == [6.0, 1.0]
    assert savings["ov-fp32-cm"]["saved_ms"] == pytest.approx(5.0)
    assert report.recommend({"runs": [], "miou": {}}) is None


def test_recommendation_names_the_precision_to_ask_for():
    """On a BF16 CPU a bf16 variant can win; it runs as measured only when asked (f32 ones too: bf16 is the default)."""
    document = {"runs": [{"size": [8, 8], "mode": "latency",
                          "results": [_doc("ov-int8-cm", 21.0, 23.0, 1.0), _doc("ov-bf16-cm", 18.0, 20.0, 1.0)]}],
                "miou": {"ov-int8-cm": 0.632, "ov-bf16-cm": 0.633}}
    rec = report.recommend(document)
    assert rec["variant"] == "ov-bf16-cm" and rec["run_flags"] == "--precision bf16"
    assert rec["export"] == "enet-edge export --target cpu --class-map int32"
    assert "and run it with `--precision bf16`" in report.recommendation_text(rec)
    document["miou"]["ov-bf16-cm"] = 0.61
    rec = report.recommend(document)
    assert rec["variant"] == "ov-int8-cm" and rec["run_flags"] is None  # INT8: the float layers run the default
    assert "run it with" not in report.recommendation_text(rec)


@pytest.mark.parametrize("kind, measured, skipped", [
    ("avx512_bf16", {"ov-bf16", "ov-bf16-cm"}, {"ov-fp16"}),
    ("amx_fp16", {"ov-bf16", "ov-bf16-cm", "ov-fp16"}, set()),
])
def test_suite_on_simulated_cpu_kinds(small_suite, monkeypatch, tmp_path, kind, measured, skipped):
    """`make bench` on CPUs this machine is not: the variants a CPU kind computes are measured and labelled with
    what ran, the others are skipped with a reason, and the bf16 goal gets a value where BF16 exists."""
    from simulated_cpu import simulate

    _, paths, _, _ = small_suite
    cpu = simulate(monkeypatch, kind)
    monkeypatch.setattr(exports, "bench_target", _small_bench_target)
    build = paths["json"].parent.parent / "build"  # the small suite's exports
    names = ("ov-fp32", "ov-bf16", "ov-bf16-cm", "ov-fp16", "ov-int8")
    config = suite_config.SuiteConfig(sizes=(SMALL_SIZE,), modes=("latency",), variants=names, time_s=None, niter=2,
                               warmup=1, miou_frames=1, build_dir=build, out_dir=tmp_path / "results", readme=None,
                               compile_variants=(), peers=(), limits=False, cpu_kinds=())
    logs = []
    document = run.run_suite(config, log=logs.append)
    assert not any(line.startswith("exporting") for line in logs)  # every export already there
    ran = {doc["variant"]: doc["precision"] for doc in document["runs"][0]["results"]}
    assert set(ran) == {"ov-fp32", "ov-int8"} | measured and set(document["skipped"]) == skipped
    assert all("FP16" in document["skipped"][name] for name in skipped)
    assert ran["ov-fp32"] == "f32" and ran["ov-bf16"] == ran["ov-bf16-cm"] == "bf16"
    assert ran["ov-int8"] == "i8+f32"  # the INT8 IR asks for exact float layers, whatever the CPU's default
    if "ov-fp16" in ran:
        assert ran["ov-fp16"] == "f16"
    assert document["openvino_cpu_capabilities"] == list(cpu.capabilities)
    bf16_goal = next(g for g in document["goals"] if "BF16" in g["goal"])
    assert bf16_goal["value"] > 0 and bf16_goal["met"] in (True, False)
    assert {c["class_map"] for c in document["class_map"]} == {"ov-bf16-cm"}


def test_config_and_cli_errors(capsys):
    with pytest.raises(ConfigError, match="multiples of 8"):
        suite_config.SuiteConfig(sizes=((60, 80),))
    with pytest.raises(ConfigError, match="unknown variant"):
        suite_config.SuiteConfig(variants=("tf-graph", "caffe"))
    with pytest.raises(ConfigError, match="exactly one"):
        suite_config.SuiteConfig(time_s=None, niter=None)
    with pytest.raises(ConfigError, match=r"unknown compile variant\(s\) \['ncs1'\]"):
        suite_config.SuiteConfig(compile_variants=("ncs2", "ncs1"))
    assert cli.parse_args(["--compile-variants"]).compile_variants == ()
    assert cli.parse_args([]).compile_variants == suite_config.COMPILE_VARIANT_NAMES
    assert cli.parse_args(["--peers"]).peers == () and cli.parse_args([]).peers == suite_config.PEER_NAMES
    assert cli.parse_args(["--no-limits"]).limits is False and cli.parse_args([]).limits is True
    with pytest.raises(ConfigError, match=r"unknown peer\(s\) \['tvm'\]"):
        suite_config.SuiteConfig(peers=("tvm",))
    assert cli.main(["--weights", "/nonexistent.npz", "--no-readme", "--variants", "tf-keras"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not found" in err[0]


def test_the_entry_script_runs_the_suite_with_the_repository_paths(tmp_path):
    config = cli.parse_args(["--no-readme"], root=tmp_path)
    assert config.build_dir == tmp_path / "build" / "bench" and config.out_dir == tmp_path / "benchmarks" / "results"
    assert cli.parse_args([], root=tmp_path).readme == tmp_path / "benchmarks" / "results" / "README.md"
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "run.py"), "--help"], capture_output=True,
                          text=True, cwd=tmp_path)
    assert done.returncode == 0 and "--compile-variants" in done.stdout and str(REPO) in done.stdout


def run_result(document, variant):
    return report._result(document, variant, document["runs"][0]["size"], "latency")


def _peer_doc(ours_ms, peer_ms):
    result = lambda name, ms: {"variant": name, "precision": "f32", "latency_ms": {"median": ms / 2},
                               "e2e_latency_ms": {"median": ms}}
    return {"runs": [{"size": [360, 480], "mode": "latency",
                      "results": [result("ov-int8", ours_ms), result("peer-ov-default", peer_ms),
                                  result("peer-litert", 2.5 * ours_ms)]}],
            "recommendation": {"variant": "ov-int8"}, "peer_miou": {"peer-litert": 0.6},
            "peers": [{"name": "peer-ov-default", "title": "direct"}, {"name": "peer-litert", "title": "lite"}]}


def test_peer_goals_and_their_text():
    document = _peer_doc(10.0, 12.0)
    goals = report.evaluate_peer_goals(document)
    assert [(g["peer"], g["value"], g["met"]) for g in goals] == [("peer-ov-default", 1.2, False),
                                                                   ("peer-litert", 2.5, True)]
    document["peer_goals"] = goals
    text = "\n".join(report.peers_text(document))
    row = next(line for line in text.splitlines() if "`peer-ov-default` | direct" in line)
    assert row.startswith("| 360x480 |") and row.endswith("| 1.20x | – |")
    assert "**NO**: 20% short" in text and "| 2.50x | yes |" in text and "60.00%" in text
    assert report.evaluate_peer_goals({**document, "recommendation": None})[0]["met"] is None
    assert report.bounds_text(document) == []  # no roofline recorded
    assert report.limits_text(document) == []
    document["limits"] = [{"size": [360, 480], "variant": "ov-int8", "total_ms": 9.0,
                           "by_type": [{"node_type": "Convolution", "exec_type": "brgconv_avx512_amx_I8", "layers": 40,
                                        "ms": 4.5, "share": 0.5}]}]
    assert "| 360x480 | Convolution | brgconv_avx512_amx_I8 | 40 | 4.500 | 50.0% |" in report.limits_text(document)


def test_readme_without_markers_is_left_alone(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("no markers\n")
    assert not report.update_readme(readme, "table", "plot.png")
    assert readme.read_text() == "no markers\n"


def test_render_rederives_documents_from_a_saved_run(small_suite, tmp_path, capsys):
    _, paths, _, _ = small_suite
    out = tmp_path / "again"
    assert cli.main(["--render", str(paths["json"]), "--out-dir", str(out), "--no-readme"]) == 0
    again = json.loads((out / paths["json"].name).read_text())
    saved = json.loads(paths["json"].read_text())
    assert again["runs"] == saved["runs"] and again["recommendation"] == saved["recommendation"]
    assert (out / paths["png"].name).stat().st_size > 10_000 and "On this CPU use" in capsys.readouterr().out


def test_page_says_when_the_weights_were_trained_on_val(small_suite):
    from enet_edge.model.weights import read_weights
    from enet_edge.resources import DEFAULT_WEIGHTS

    document = small_suite[0]  # run with the shipped weights
    assert document["weights_val_trained_on"] == bool(read_weights(DEFAULT_WEIGHTS)[2].get("val_trained_on"))
    for trained_on_val in (True, False):
        page = report.render_markdown({**document, "weights_val_trained_on": trained_on_val})
        assert ("not a held-out score" in page) == trained_on_val


def test_render_refuses_what_is_not_a_results_document(tmp_path, capsys):
    bad = tmp_path / "x.json"
    bad.write_text('{"schema": "something-else"}')
    assert cli.main(["--render", str(bad), "--no-readme", "--out-dir", str(tmp_path)]) == 2
    assert cli.main(["--render", str(tmp_path / "missing.json"), "--no-readme"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("benchmarks/run.py: error: --render") for line in err)


def test_an_export_quantized_otherwise_is_not_reused():
    """A changed [quantization] (here the preset) re-exports: the bench measures what the target says."""
    from enet_edge.export.targets import load_target

    spec = load_target("cpu-int8")
    q = spec.quantization
    manifest = {"quantization": {"preset": q.preset, "fast_bias_correction": q.fast_bias_correction,
                                 "ignored_patterns": list(q.ignored_patterns),
                                 "calibration": {"split": q.calibration_split, "frames": q.calibration_frames}}}
    assert exports.quantization_matches(manifest, spec)
    other = "mixed" if q.preset == "performance" else "performance"
    assert not exports.quantization_matches({"quantization": {**manifest["quantization"], "preset": other}}, spec)
    assert not exports.quantization_matches({"quantization": {**manifest["quantization"],
                                                          "fast_bias_correction": not q.fast_bias_correction}}, spec)
    assert not exports.quantization_matches({}, spec)  # an FP32 export where INT8 is wanted
    assert exports.quantization_matches({}, load_target("cpu")) and not exports.quantization_matches(manifest,
                                                                                             load_target("cpu"))


def test_a_peer_that_cannot_be_converted_says_why(tmp_path):
    """The conversion runs in a process of its own; its failure is one line naming the peer, and nothing is left."""
    from enet_edge.errors import ArtifactError
    from enet_edge.workstation.suite import peers

    bad = tmp_path / "w.npz"
    bad.write_bytes(b"not weights")
    with pytest.raises(ArtifactError, match=r"peer-ov-default: the conversion failed: "):
        peers.ensure_peer(peers.peer_named("peer-ov-default"), bad, (64, 96), tmp_path / "build", log=lambda m: None)
    assert not list((tmp_path / "build").rglob("*.xml")) and not list((tmp_path / "build").rglob(".*.tmp"))
    assert peers.main(["tvm", str(bad), "64", "96", str(tmp_path / "x")]) == 2


@pytest.mark.slow
def test_exports_run_in_a_process_of_their_own_and_are_reused(camvid, tmp_path):
    """make bench exports in a child process (the suite's own memory stays small) and records the key it used: the
    same key reuses the export, another code digest makes it again; a failing export is one line."""
    variant = next(v for v in suite_config.VARIANTS if v.target == "cpu" and not v.class_map)
    config = suite_config.SuiteConfig(sizes=((32, 48),), build_dir=tmp_path / "build", out_dir=tmp_path / "r",
                                      data_dir=camvid, readme=None)
    logs = []
    out = exports.ensure_export(variant, (32, 48), config, logs.append)
    assert logs[0].startswith("exporting cpu at 32x48") and any(line.startswith("  [1/5] freeze") for line in logs)
    assert (out / "manifest.json").is_file() and json.loads((out / exports.KEY_FILE).read_text())["size"] == [32, 48]
    logs.clear()
    assert exports.ensure_export(variant, (32, 48), config, logs.append) == out and logs == []
    key = json.loads((out / exports.KEY_FILE).read_text())
    (out / exports.KEY_FILE).write_text(json.dumps({**key, "code": "older"}))  # made by other code: made again
    exports.ensure_export(variant, (32, 48), config, logs.append)
    assert logs[0].startswith("exporting cpu at 32x48") and json.loads((out / exports.KEY_FILE).read_text()) == key
    with pytest.raises(ConfigError, match="unknown target 'nope'"):  # checked here, before a process starts
        exports.ensure_export(dataclasses.replace(variant, target="nope"), (32, 48), config, logs.append)
    with pytest.raises(ArtifactError, match=r"exporting cpu at 36x48 failed: .*36"):  # the child's one line
        exports.ensure_export(variant, (36, 48), config, logs.append)


def test_which_cpu_kinds_a_machine_measures():
    from test_isa import HASWELL, SAPPHIRE_RAPIDS, ZEN4
    from enet_edge.workstation.suite import kinds

    config = suite_config.SuiteConfig()
    assert importlib.util.find_spec(kinds.CHILD) is not None  # the module a kind's process runs
    runs, not_run = kinds.plan_kinds(config, SAPPHIRE_RAPIDS)
    assert [level.name for level in runs] == ["avx2", "avx512-bf16"] and list(not_run) == ["amx"]
    assert "this machine is of this kind" in not_run["amx"]
    runs, not_run = kinds.plan_kinds(config, ZEN4)
    assert [level.name for level in runs] == ["avx2"]
    assert not_run["amx"].startswith("this CPU lacks amx_bf16, amx_int8, amx_tile;")
    runs, not_run = kinds.plan_kinds(config, HASWELL)
    assert runs == [] and set(not_run) == {"avx2", "avx512-bf16", "amx"}
    runs, not_run = kinds.plan_kinds(dataclasses.replace(config, variants=("tf-graph",)), ZEN4)
    assert runs == [] and "none of its variants" in not_run["avx2"]
    kind = kinds.kind_config(config, runs and runs[0] or kinds.isa_level("avx2"))
    assert kind.modes == ("latency",) and kind.variants == suite_config.KIND_VARIANTS and kind.cpu_kind == "avx2"
    assert kind.peers == suite_config.KIND_PEERS and kind.compile_variants == () and kind.readme is None
    assert kind.cpu_kinds == () and kind.sizes == config.sizes
    assert suite_config.config_from_dict(json.loads(json.dumps(suite_config.config_to_dict(kind)))) == kind
    with pytest.raises(ConfigError, match="unknown CPU kind"):
        suite_config.SuiteConfig(cpu_kinds=("avx2", "neon"))
    with pytest.raises(ConfigError, match="unknown field"):
        suite_config.config_from_dict({"colour": 1})
    assert cli.parse_args(["--cpu-kinds"]).cpu_kinds == () and cli.parse_args([]).cpu_kinds == ("avx2", "avx512-bf16",
                                                                                                    "amx")


def test_a_run_as_a_cpu_kind_refuses_to_start_without_the_cap(monkeypatch):
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    config = suite_config.SuiteConfig(cpu_kind="avx2", compile_variants=(), peers=())
    with pytest.raises(ConfigError, match="needs ONEDNN_MAX_CPU_ISA=AVX2 set before OpenVINO loads"):
        run.run_suite(config, log=lambda m: None)


def test_goals_per_cpu_kind_text():
    native = _peer_doc(10.0, 16.0)
    zen4 = _peer_doc(10.0, 12.0)
    zen4["limits"] = [{"size": [360, 480], "variant": "ov-int8", "total_ms": 9.0, "above_cap_share": 0.031,
                       "by_type": [{"node_type": "Convolution", "exec_type": "jit_avx512_I8", "layers": 40,
                                    "ms": 4.5, "share": 0.5}]}]
    zen4["miou"], zen4["skipped"] = {"ov-int8": 0.66}, {"ov-fp16": "this CPU has no FP16 arithmetic"}
    zen4["openvino_cpu_capabilities"] = ["FP32", "INT8", "BF16"]
    zen4["cpu_kind"] = {"kind": "avx512-bf16", "title": "AVX-512 (Zen 4)", "onednn_cap": "AVX512_CORE_BF16"}
    for doc in (native, zen4):
        doc["peer_goals"] = report.evaluate_peer_goals(doc)
    native["cpu_kinds"] = {"native": "amx", "runs": [{"kind": "avx512-bf16", "title": "AVX-512 (Zen 4)",
                                                      "onednn_cap": "AVX512_CORE_BF16", "document": zen4}],
                           "not_run": {"amx": "this machine is of this kind", "avx2": "the avx2 run failed: boom"}}
    text = "\n".join(report.kinds_text(native))
    assert ("| this machine (amx, native) | `ov-int8` (f32) | 360x480 | 10.00 ms | 1.60x (goal 1.5x) | 2.50x (goal 2x) "
            "| met | – |") in text
    assert ("| avx512-bf16: AVX-512 (Zen 4), **emulated** on this machine | `ov-int8` (f32) | 360x480 | 10.00 ms "
            "| 1.20x emulated (goal 1.5x) | 2.50x emulated (goal 2x) | not measured: needs a real avx512-bf16 CPU "
            "| 3.1% |") in text
    assert "no goal is judged on them" in text
    assert all("| met |" not in line and "**NO**" not in line for line in text.splitlines() if "**emulated**" in line)
    assert "As avx512-bf16, **emulated** (`ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16` on this machine; figures not judged " \
           "against the goals; OpenVINO CPU capabilities as such a CPU reports them: FP32, INT8, BF16)" in text
    assert "| 360x480 | `ov-int8` | f32 | 5.00 ms | 10.00 ms | 66.00% |" in text
    assert "| 360x480 | Convolution | jit_avx512_I8 | 40 | 4.500 | 50.0% |" in text
    assert "`ov-fp16`: this CPU has no FP16 arithmetic" in text
    assert "- CPU kind avx2 not measured: the avx2 run failed: boom" in text and "CPU kind amx" not in text
    assert "Faster on this machine" not in text  # the kind's recommendation is not faster than this machine's
    assert report.kinds_text(_peer_doc(1.0, 2.0)) == []
    native["recommendation"] = {"variant": "ov-bf16-cm", "size": [360, 480], "e2e_median_ms": 12.5}
    zen4["recommendation"].update(size=[360, 480], e2e_median_ms=10.0)
    assert report.faster_kinds_text(native) == [
        "- Faster on this machine than its own recommendation: `ov-int8` as avx512-bf16 (emulated: oneDNN capped on this "
        "machine, not a real such CPU), 10.00 ms against 12.50 ms end to end at 360x480 (0.80x; separate processes, so confirm it in alternating rounds with "
        "`benchmarks/cpu_kinds_ab.py`). A process runs so with `ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16` in its "
        "environment (for every model it loads).", ""]
    zen4["recommendation"], native["miou"] = None, {"ov-int8": 0.66}
    report.derive(native)  # derives the kinds' documents too
    assert native["cpu_kinds"]["runs"][0]["document"]["recommendation"]["variant"] == "ov-int8"


def test_a_run_as_a_lower_cpu_kind(small_suite, tmp_path):
    """The AVX2 kind in a process of its own with oneDNN capped: what such a CPU offers is measured at its
    precisions (f32 for the peers' default), the rest is skipped, and the counters say what ran above the cap."""
    from enet_edge.runtime.isa import isa_level
    from enet_edge.workstation.suite import kinds

    _, paths, _, _ = small_suite
    build = paths["json"].parent.parent / "build"
    config = suite_config.SuiteConfig(sizes=(SMALL_SIZE,), time_s=None, niter=2, warmup=1, miou_frames=1,
                                      build_dir=build, out_dir=tmp_path, readme=None,
                                      variants=("ov-fp32", "ov-bf16", "ov-fp32-cm"), peers=("peer-ov-default",))
    logs = []
    document = kinds.run_kind(config, isa_level("avx2"), logs.append)
    assert not any("exporting" in line for line in logs)  # the small suite's exports and peers were reused
    assert document["cpu_kind"] == {"kind": "avx2", "title": isa_level("avx2").title, "onednn_cap": "AVX2",
                                    "emulated": True}
    assert document["measurement"]["emulated"]  # a capped run is an emulation: no goal is judged on it
    assert "BF16" not in document["openvino_cpu_capabilities"] and "ov-bf16" in document["skipped"]
    ran = {r["variant"]: r["precision"] for r in document["runs"][0]["results"]}
    assert ran == {"ov-fp32": "f32", "ov-fp32-cm": "f32", "peer-ov-default": "f32"}
    assert [r["mode"] for r in document["runs"]] == ["latency"] and "cpu_kinds" not in document
    assert document["recommendation"]["variant"] in ran
    assert 0.0 <= document["limits"][0]["above_cap_share"] <= 1.0
    assert not {"avx512f", "amx_int8"} & set(document["machine"]["cpu_flags_of_note"])
