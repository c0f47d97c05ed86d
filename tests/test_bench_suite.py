"""`make bench` (benchmarks/run.py): one small real run over every variant, and its documents."""

import importlib.util
import json
import sys

import pytest

from conftest import REPO, SMALL_SIZE
from enet_edge.errors import ConfigError

spec = importlib.util.spec_from_file_location("bench_suite", REPO / "benchmarks" / "run.py")
suite = importlib.util.module_from_spec(spec)
sys.modules["bench_suite"] = suite  # dataclasses look their module up while the class is created
spec.loader.exec_module(suite)

SIZE = f"{SMALL_SIZE[0]}x{SMALL_SIZE[1]}"


@pytest.fixture(scope="module")
def small_suite(small_exports, camvid, tmp_path_factory):
    """The suite at 64x96 over the session's small exports (no re-export: same weights and size)."""
    root = tmp_path_factory.mktemp("suite")
    build = root / "build" / SIZE
    build.mkdir(parents=True)
    for name, path in small_exports.items():
        (build / name).symlink_to(path, target_is_directory=True)
    readme = root / "README.md"
    readme.write_text(f"intro\n{suite.README_START}\nold table\n{suite.README_END}\nrest\n")
    config = suite.SuiteConfig(sizes=(SMALL_SIZE,), time_s=None, niter=3, warmup=1, miou_frames=2,
                               build_dir=root / "build", out_dir=root / "results", data_dir=camvid, readme=readme)
    logs = []
    document = suite.run_suite(config, log=logs.append)
    paths = suite.write_outputs(document, config)
    return document, paths, readme, logs


def test_every_variant_is_measured_or_skipped_with_a_reason(small_suite):
    document, _, _, logs = small_suite
    assert not any(line.startswith("exporting") for line in logs)  # the small exports were reused
    measured = {doc["variant"] for run in document["runs"] for doc in run["results"]}
    for name in suite.VARIANT_NAMES:
        assert name in measured or name in document["skipped"], name
    assert {"tf-keras", "tf-graph", "ort-fp32", "ov-fp32", "ov-ncs2-fp16ir", "ov-int8"} <= measured
    assert [(run["size"], run["mode"]) for run in document["runs"]] == [(list(SMALL_SIZE), "latency"),
                                                                          (list(SMALL_SIZE), "throughput")]
    for run in document["runs"]:
        for doc in run["results"]:
            assert doc["niter"] == 3 and len(doc["samples_ms"]) == 3
            assert doc["latency_ms"]["median"] > 0 and doc["throughput_fps"] > 0
    int8 = suite._result(document, "ov-int8", SMALL_SIZE, "latency")
    assert int8["precision"].startswith("i8+") and int8["model_precision"] == "INT8"  # float layers: the CPU's default
    assert set(document["miou"]) == measured and all(0 <= v <= 1 for v in document["miou"].values())


def test_documents_tables_plot_and_readme(small_suite):
    document, paths, readme, _ = small_suite
    saved = json.loads(paths["json"].read_text())
    assert saved["schema"] == suite.SCHEMA and saved["machine"]["logical_cores"]
    assert [g["goal"] for g in saved["goals"]] == [g.text for g in suite.GOALS]
    md = paths["md"].read_text()
    assert "| `tf-graph`" in md and "1.00x" in md and "Goals" in md
    assert paths["png"].stat().st_size > 10_000
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("rest\n") and "old table" not in text
    assert "| `ov-int8`" in text and paths["png"].name in text


def test_goals_are_computed_from_the_latency_table():
    def doc(variant, median):
        return {"variant": variant, "latency_ms": {"median": median}}

    document = {"runs": [{"size": [8, 8], "mode": "latency",
                          "results": [doc("tf-graph", 100.0), doc("ort-fp32", 60.0), doc("ov-fp32", 30.0),
                                      doc("ov-int8", 20.0)]}],
                "miou": {"ov-fp32": 0.60, "ov-int8": 0.585}}
    goals = {g["goal"]: g for g in suite.evaluate_goals(document)}
    assert goals[suite.GOALS[0].text]["value"] == pytest.approx(0.2) and goals[suite.GOALS[0].text]["met"] is False
    assert goals[suite.GOALS[1].text]["value"] == pytest.approx(1 / 3) and goals[suite.GOALS[1].text]["met"]
    assert goals[suite.GOALS[2].text]["value"] == pytest.approx(1.5) and goals[suite.GOALS[2].text]["met"] is False
    assert goals[suite.GOALS[3].text]["value"] == pytest.approx(0.3) and goals[suite.GOALS[3].text]["met"]


def test_config_and_cli_errors(capsys):
    with pytest.raises(ConfigError, match="multiples of 8"):
        suite.SuiteConfig(sizes=((60, 80),))
    with pytest.raises(ConfigError, match="unknown variant"):
        suite.SuiteConfig(variants=("tf-graph", "caffe"))
    with pytest.raises(ConfigError, match="exactly one"):
        suite.SuiteConfig(time_s=None, niter=None)
    assert suite.main(["--weights", "/nonexistent.npz", "--no-readme", "--variants", "tf-keras"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not found" in err[0]


def test_readme_without_markers_is_left_alone(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("no markers\n")
    assert not suite.update_readme(readme, "table", "plot.png")
    assert readme.read_text() == "no markers\n"
