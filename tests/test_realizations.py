"""One set of weights, every realization: same outputs, declared op inventories, static shapes."""

import numpy as np
import pytest

from enet_edge.export.convert import freeze
from enet_edge.model.config import REFERENCE_REALIZATION, ENetConfig, Realization
from enet_edge.model import enet
from enet_edge.model.weights import get_weights, set_weights
from enet_edge.runtime.adapters.tensorflow import parse_graph_def
from helpers import graph_def_function

CPU_REALIZATION = Realization(prelu="native", switches="full_resolution", shuffle="depth_to_space",
                              upsample="transposed_conv", initial="sum")  # the cpu and cpu-int8 targets'
REALIZATIONS = [
    Realization(prelu=p, switches="argmax_free", shuffle=s, upsample=u)
    for p in ("native", "relu_only")
    for s in ("slice_concat", "depth_to_space")
    for u in ("transposed_conv", "conv_interleave")
] + [
    Realization(prelu="native", switches="full_resolution", shuffle="depth_to_space", upsample="transposed_conv"),
    Realization(prelu="relu_only", switches="full_resolution", shuffle="slice_concat", upsample="conv_interleave"),
    CPU_REALIZATION,
] + [Realization(prelu="relu_only", switches="reference"), REFERENCE_REALIZATION]
SMALL = ENetConfig(height=48, width=64)

# `make test-fast` runs a covering subset (each ~5-10 s: building and freezing ENet does not shrink with the input):
# every pair of (prelu, shuffle, upsample) values appears among the four argmax_free realizations below; with the
# full_resolution one (initial block as a sum) they include the ncs2, ncs1, cpu and cpu-int8 targets' own; the
# others run with `make test`.
PAIRWISE = {Realization(prelu="native", switches="argmax_free", shuffle="slice_concat", upsample="conv_interleave"),
            Realization(prelu="relu_only", switches="argmax_free", shuffle="slice_concat", upsample="transposed_conv"),
            Realization(prelu="native", switches="argmax_free", shuffle="depth_to_space", upsample="transposed_conv"),
            Realization(prelu="relu_only", switches="argmax_free", shuffle="depth_to_space", upsample="conv_interleave"),
            CPU_REALIZATION}
assert PAIRWISE <= set(REALIZATIONS)


def _params(fast):
    """REALIZATIONS as parameters, those outside ``fast`` marked slow."""
    return [pytest.param(r, id=r.name, marks=() if r in fast else pytest.mark.slow) for r in REALIZATIONS]


def _weights(config, seed=7):
    ref = enet.build_enet(config, REFERENCE_REALIZATION)
    enet.randomize_statistics(ref, seed)
    return ref, get_weights(ref)


def _assert_parity(out, ref):
    scale = np.abs(ref).max()
    assert scale > 0
    assert np.abs(out - ref).max() <= 1e-5 * scale


@pytest.fixture(scope="module")
def random_inputs_and_reference(enet_builds):
    """Two random inputs and the reference realization's logits on them: computed once, every realization below
    is compared with them (the shared reference model is read-only; inference is deterministic)."""
    assert enet_builds.config == SMALL
    rng = np.random.default_rng(0)
    inputs = [x.astype(np.float32)
              for x in (rng.uniform(0, 255, SMALL.input_shape), rng.integers(0, 4, SMALL.input_shape) * 85.0)]
    return [(x, enet_builds.reference(x, training=False).numpy()) for x in inputs]


# reference switches under the other PReLU (REFERENCE_REALIZATION against itself adds nothing quick)
@pytest.mark.parametrize("realization", _params(PAIRWISE | {Realization(prelu="relu_only", switches="reference")}))
def test_parity_on_random_inputs(realization, enet_builds, random_inputs_and_reference):
    m = enet_builds.model(realization)
    for x, ref in random_inputs_and_reference:
        _assert_parity(m(x, training=False).numpy(), ref)


@pytest.mark.slow
def test_parity_on_camvid_frames(camvid_frames):
    config = ENetConfig(height=360, width=480, batch=2)
    ref_model, weights = _weights(config)
    x = np.stack(camvid_frames).astype(np.float32)
    ref = ref_model(x, training=False).numpy()
    for realization in REALIZATIONS[:-1]:
        m = enet.build_enet(config, realization)
        set_weights(m, weights)
        out = m(x, training=False).numpy()
        _assert_parity(out, ref)
        assert np.mean(out.argmax(-1) == ref.argmax(-1)) > 0.9999, realization.name


@pytest.mark.parametrize("realization", _params(PAIRWISE | {REFERENCE_REALIZATION}))
def test_frozen_inventory_within_allowlist_and_static(realization, enet_builds):
    m = enet_builds.model(realization)
    graph_def = enet_builds.frozen(realization)  # freeze.freeze_model(m, SMALL)
    inventory = freeze.op_inventory(graph_def)
    allowed = freeze.realization_allowlist(realization)
    assert set(inventory) <= allowed, f"not allowed: {set(inventory) - allowed}"
    assert not set(inventory) & freeze.realization_forbidden(realization)
    assert freeze.unknown_shapes(graph_def) == []
    # no training ops left
    assert not {"VarHandleOp", "ReadVariableOp", "FusedBatchNormV3", "RandomUniform", "Rsqrt"} & set(inventory)
    # and the frozen graph computes what the model computes
    x = np.random.default_rng(1).uniform(0, 255, SMALL.input_shape).astype(np.float32)
    (out,) = graph_def_function(graph_def)(x)
    # constant folding reorders the BN arithmetic: rounding-level differences, which may even flip a
    # max-pool switch where two values tie within an ulp, so compare like the export's parity gate
    from enet_edge.export.checks.parity import compare

    result = compare(out, m(x, training=False).numpy())
    assert result.mean_abs_rel < 1e-5 and result.argmax_agreement > 0.999, result


def test_targets_realizations_are_tested_here():
    from enet_edge.export.targets import load_target

    for name in ("ncs2", "ncs1", "cpu", "cpu-int8"):
        assert load_target(name).realization in PAIRWISE, name
    assert CPU_REALIZATION.name.endswith("_initial-sum")
    assert Realization().name == "prelu-native_switches-argmax_free_shuffle-slice_concat_upsample-transposed_conv"


def test_argmax_free_forbids_what_the_issue_forbids():
    forbidden = freeze.realization_forbidden(Realization(prelu="relu_only", switches="argmax_free"))
    for op in ("ArgMax", "MaxPoolWithArgmax", "ScatterNd", "GatherNd", "Cast", "Where", "Abs", "Neg", "Greater",
               "RealDiv", "Pow", "Reciprocal"):
        assert op in forbidden
    # and the allowlist never contradicts it
    for r in REALIZATIONS:
        assert not freeze.realization_allowlist(r) & freeze.realization_forbidden(r)


def test_graph_def_io_errors(tmp_path):
    from enet_edge.errors import ArtifactError

    bad = tmp_path / "bad.pb"
    bad.write_bytes(b"\x00garbage\xff" * 10)
    with pytest.raises(ArtifactError):
        parse_graph_def(bad)
    with pytest.raises(ArtifactError, match="does not exist"):
        parse_graph_def(tmp_path / "none.pb")


def test_realization_ruleset_follows_the_models_flavour():
    """kwotsin's BGR->RGB slices are allowed for a kwotsin model only (the cpu realization itself has none)."""
    from enet_edge.export.checks.gates import ruleset_for
    from enet_edge.export.targets import load_target

    cpu = load_target("cpu")
    assert "StridedSlice" not in ruleset_for("tensorflow", "realization", cpu)["ops"]
    assert "StridedSlice" in ruleset_for("tensorflow", "realization", cpu, "kwotsin")["ops"]
