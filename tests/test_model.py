import numpy as np
import pytest

from enet_edge.model.config import ENetConfig, Realization
from enet_edge.errors import ArtifactError, ConfigError
from enet_edge.model import enet
from enet_edge.model.weights import get_weights, load_enet, read_weights, save_weights, set_weights
from helpers import layer_names

SMALL = ENetConfig(height=64, width=96)


@pytest.fixture(scope="module")
def small_model():
    """ENet at SMALL, built once for the tests that only read it (building costs seconds at any size)."""
    return enet.build_enet(SMALL)


def test_parameter_count_matches_enet(small_model):
    m = small_model  # the count does not depend on the input size
    # ENet has about 0.37 M parameters for 12 classes (paper: 0.37 M; PyTorch-ENet: 0.36 M)
    assert 350_000 <= enet.count_parameters(m) <= 380_000


def test_layer_names_read_like_the_paper(small_model):
    names = set(layer_names(small_model))
    for expected in ["initial_block_1_conv", "bottleneck1_0_downsampling_pool", "bottleneck2_2_dilated2_conv2",
                     "bottleneck2_3_asymmetric5_conv2a", "bottleneck3_8_dilated16_conv2",
                     "bottleneck4_0_upsampling_unpool", "bottleneck5_1_regular_conv3", "fullconv", "logits"]:
        assert expected in names


def test_dilations_are_built(small_model):
    m = small_model
    assert m.get_layer("bottleneck3_8_dilated16_conv2").dilation_rate == (16, 16)
    assert m.get_layer("bottleneck2_3_asymmetric5_conv2a").kernel_size == (5, 1)


def test_output_shape_and_static_input(small_model):
    m = small_model
    assert tuple(m.inputs[0].shape) == SMALL.input_shape
    assert tuple(m.outputs[0].shape) == SMALL.output_shape


@pytest.mark.parametrize("kwargs", [dict(stage_two_repeat=1), dict(num_initial_blocks=2), dict(skip_connections=True),
                                    dict(num_classes=3)])
def test_configurable_variants_build_and_run(kwargs, rng):
    cfg = SMALL.replace(**kwargs)
    m = enet.build_enet(cfg)
    out = m(rng.uniform(0, 255, cfg.input_shape).astype(np.float32), training=False)
    assert tuple(out.shape) == cfg.output_shape


@pytest.mark.parametrize(
    "kwargs, match",
    [(dict(height=100), "multiple of 8"), (dict(width=30), "multiple of 8"), (dict(num_classes=0), "num_classes"),
     (dict(stage_two_repeat=-1), "stage_two_repeat"), (dict(num_initial_blocks=0), "num_initial_blocks"),
     (dict(batch=0), "batch"), (dict(dropout_rest=1.0), "dropout_rest"), (dict(height=64.0), "integer")],
)
def test_bad_config_is_a_clear_error(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        ENetConfig(**kwargs)


@pytest.mark.parametrize("flavour, layer", [("paper", "initial_block_1_sum"), ("kwotsin", "initial_block_1_concat")])
def test_initial_block_sum_applies_where_bn_follows_the_join(flavour, layer, small_model):
    """kwotsin normalizes the conv branch alone, so its initial block stays a concat under ``initial="sum"``;
    either way the weights are the same variables (the parameter count does not change)."""
    cfg = SMALL.replace(flavour=flavour)
    summed = enet.build_enet(cfg, Realization(initial="sum"))
    # the paper's with the default realization is small_model (read here only for its layer names and variables)
    concat = small_model if cfg == SMALL else enet.build_enet(cfg, Realization())
    names = {lyr.name for lyr in summed.layers}
    assert layer in names and not {"initial_block_1_sum", "initial_block_1_concat"} - {layer} & names
    assert sorted(v.path for v in summed.weights) == sorted(v.path for v in concat.weights)
    assert enet.count_parameters(summed) == enet.count_parameters(concat)


def test_bad_realization_is_a_clear_error():
    with pytest.raises(ConfigError, match="initial"):
        Realization(initial="pad")
    with pytest.raises(ConfigError, match="switches"):
        Realization(switches="ones")
    with pytest.raises(ConfigError, match="unknown realization keys"):
        Realization.from_dict({"prelu": "native", "bogus": 1})


def test_dropout_only_in_training(small_model, rng):
    m = small_model
    x = rng.uniform(0, 255, SMALL.input_shape).astype(np.float32)
    a, b = m(x, training=False).numpy(), m(x, training=False).numpy()
    assert np.array_equal(a, b)
    assert not np.array_equal(m(x, training=True).numpy(), m(x, training=True).numpy())


def test_weights_round_trip_and_mismatch(enet_builds, tmp_path, rng):
    m = enet_builds.reference  # seeded random weights, BN statistics calibrated (48x64; built once per session)
    path = save_weights(m, tmp_path / "w.npz", enet_builds.config, meta={"note": "test"})
    m2, cfg, meta = load_enet(path, height=32, width=32)
    assert cfg.height == 32 and meta == {"note": "test"}
    weights, stored, _ = read_weights(path)  # the config as stored: an ENetConfig, not a dict
    assert stored == enet_builds.config and set(weights) == {v.path for v in m.weights}
    for v1, v2 in zip(m.weights, m2.weights):
        assert v1.path == v2.path and np.array_equal(v1.numpy(), v2.numpy())
    other = enet.build_enet(SMALL.replace(num_classes=5))
    with pytest.raises(ArtifactError, match="fullconv"):
        set_weights(other, get_weights(m))
    truncated = tmp_path / "t.npz"
    truncated.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ArtifactError, match="cannot read weights"):
        read_weights(truncated)
    with pytest.raises(ArtifactError, match="does not exist"):
        read_weights(tmp_path / "missing.npz")
