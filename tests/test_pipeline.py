"""The export pipeline as a list of stages: which stages a target runs, their order and log lines, and the
temp-dir-then-rename safety when a stage fails (tiny model, seeded random weights: seconds, not minutes)."""

import dataclasses
import json

import pytest

from enet_edge.errors import ArtifactError
from enet_edge.export import pipeline
from enet_edge.export.pipeline import ExportContext, ExportRequest, Stage, export, run_stages, stages_for
from enet_edge.export.targets import load_target

TINY = (48, 64)  # (height, width): the size of the session's shared ENet builds (conftest enet_builds)


def _names(target):
    return [stage.name for stage in stages_for(target)]


def test_stage_list_follows_the_target():
    assert _names(load_target("ncs1")) == ["freeze", "gates", "parity", "write"]
    assert _names(load_target("ncs2")) == ["freeze", "onnx", "openvino_ir", "gates", "parity", "myriad_compile",
                                           "write"]  # a model that fails parity never waits for the compiler
    assert _names(load_target("cpu-int8")) == ["freeze", "onnx", "openvino_ir", "quantize", "gates", "parity",
                                               "write"]
    tf_only = dataclasses.replace(load_target("cpu"), artifacts=("tensorflow",), checks={"tensorflow": "realization"},
                                  thresholds={})
    assert _names(tf_only) == ["freeze", "gates", "parity", "write"]


def test_run_stages_numbers_the_announced_stages_only(tmp_path):
    ran, lines = [], []
    stages = [Stage("a", lambda c: ran.append("a"), describe=lambda c: "first"),
              Stage("quiet", lambda c: ran.append("quiet")),
              Stage("b", lambda c: ran.append("b"), describe=lambda c: f"second at {c.config}")]
    ctx = ExportContext(request=None, config="32x48", weights={}, weights_info={}, tmp=tmp_path, log=lines.append)
    run_stages(ctx, stages)
    assert ran == ["a", "quiet", "b"]
    assert lines == ["[1/2] first", "[2/2] second at 32x48"]


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory, enet_builds):
    """Seeded random weights (BN statistics calibrated) in a weights file (the session's shared ENet build)."""
    from enet_edge.model.weights import save_weights

    assert (enet_builds.config.height, enet_builds.config.width) == TINY
    return save_weights(enet_builds.reference, tmp_path_factory.mktemp("weights") / "tiny.npz", enet_builds.config)


def _tiny_request(out_dir, weights):
    """ncs1 (frozen graph only) at 32x48 with one random parity frame: freeze, gates, parity, write."""
    target = dataclasses.replace(load_target("ncs1"), parity_frames=0, parity_random=1)
    return ExportRequest(target=target, out_dir=out_dir, weights=weights, height=TINY[0], width=TINY[1])


@pytest.fixture(scope="module")
def tiny_export(tmp_path_factory, tiny_weights):
    out = tmp_path_factory.mktemp("tiny") / "ncs1"
    lines = []
    result = export(_tiny_request(out, tiny_weights), log=lines.append)
    return result, lines


def test_tiny_export_runs_its_stages(tiny_export):
    result, lines = tiny_export
    assert [line.split("] ")[0] + "]" for line in lines] == ["[1/3]", "[2/3]", "[3/3]"]
    assert lines[0] == f"[1/3] freeze {load_target('ncs1').realization.name} at {TINY[0]}x{TINY[1]}"
    assert lines[1].startswith("[2/3] compatibility gates: tensorflow=")
    assert sorted(p.name for p in result.out_dir.iterdir()) == ["enet_frozen.pb", "manifest.json", "report.md"]
    manifest = json.loads((result.out_dir / "manifest.json").read_text())
    assert manifest == result.manifest and list(manifest["artifacts"]) == ["tensorflow"]
    assert manifest["parity"]["inputs"] == ["random:0"] and "tensorflow" in manifest["parity"]["results"]
    assert manifest["weights"]["trained"] and manifest["model"]["height"] == TINY[0]


def _failing(name, exc, check=lambda ctx: None):
    """STAGES with stage ``name`` raising ``exc`` (after ``check(ctx)``) where it would have run."""

    def fail(ctx):
        check(ctx)
        raise exc

    return tuple(dataclasses.replace(s, run=fail) if s.name == name else s for s in pipeline.STAGES)


@pytest.mark.parametrize("stage, exc", [("gates", KeyboardInterrupt()), ("write", ArtifactError("disk full"))],
                         ids=["interrupted-at-gates", "error-at-write"])
def test_a_failing_stage_keeps_the_previous_export_and_no_temp_dir(tiny_export, tiny_weights, enet_builds, monkeypatch,
                                                                   stage, exc):
    result, _ = tiny_export
    out = result.out_dir
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    seen = []
    # The freeze stage runs (builds the network, writes enet_frozen.pb into the temp dir); its TensorFlow freezing
    # comes from the session's cache: the same freeze_model of the same network (these weights, ncs1's realization,
    # 48x64), which tiny_export above has just run for real.
    realization = load_target("ncs1").realization

    def cached_freeze(model, config):
        assert (config.height, config.width) == TINY and config == enet_builds.config
        assert [v.path for v in model.weights] == [v.path for v in enet_builds.model(realization).weights]
        return enet_builds.frozen(realization)

    monkeypatch.setattr(pipeline, "freeze_model", cached_freeze)

    def check(ctx):  # the stage runs in the temp dir beside the destination, with the frozen graph written
        seen.append(ctx.tmp)
        assert ctx.tmp.parent == out.parent and ctx.tmp != out and (ctx.tmp / "enet_frozen.pb").is_file()

    monkeypatch.setattr(pipeline, "STAGES", _failing(stage, exc, check))
    with pytest.raises(type(exc)):
        export(_tiny_request(out, tiny_weights), log=lambda m: None)
    assert seen and not seen[0].exists()
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in out.parent.iterdir()] == [out.name]
