import numpy as np
import pytest
import tensorflow as tf

from enet_edge.model import layers
from enet_edge.errors import ConfigError

SHUFFLES = ("slice_concat", "depth_to_space")
SHAPES = [(1, 2, 2, 1), (1, 4, 6, 3), (2, 8, 8, 5), (1, 16, 24, 16), (3, 6, 10, 7)]


def _reference(x, y):
    pooled, argmax = layers.max_pool_with_argmax_reference(tf.constant(x))
    return pooled.numpy(), layers.unpool_reference(tf.constant(y), argmax).numpy()


def _argmax_free(x, y, shuffle):
    pooled, switches = layers.max_pool_with_switches(tf.constant(x), shuffle=shuffle)
    return pooled.numpy(), switches.numpy(), layers.unpool_with_switches(tf.constant(y), switches, shuffle).numpy()


def _inputs(kind, shape, rng):
    n, h, w, c = shape
    if kind == "random":
        x = rng.standard_normal(shape)
    elif kind == "integer_ties":
        x = rng.integers(0, 3, size=shape)  # three values: ties in almost every window
    elif kind == "pixels":
        x = rng.integers(0, 256, size=shape) // 64 * 64  # quantised 8-bit pixels
    elif kind == "all_equal":
        x = np.full(shape, 7.0)
    elif kind == "negative":
        x = -rng.integers(1, 4, size=shape).astype(np.float64) - rng.random(shape).round(1)
    elif kind == "zeros_and_negative_zero":
        x = np.where(rng.random(shape) < 0.5, 0.0, -0.0)
    else:
        raise AssertionError(kind)
    y = rng.standard_normal((n, h // 2, w // 2, c))
    return x.astype(np.float32), y.astype(np.float32)


@pytest.mark.parametrize("shuffle", SHUFFLES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("kind", ["random", "integer_ties", "pixels", "all_equal", "negative", "zeros_and_negative_zero"])
def test_argmax_free_equals_reference_exactly(kind, shape, shuffle, rng):
    x, y = _inputs(kind, shape, rng)
    ref_pooled, ref_unpooled = _reference(x, y)
    pooled, switches, unpooled = _argmax_free(x, y, shuffle)
    assert np.array_equal(pooled, ref_pooled)
    assert np.array_equal(unpooled, ref_unpooled)
    # exactly one switch set per window and channel
    n, h, w, c = pooled.shape
    assert set(np.unique(switches)) <= {0.0, 1.0}
    np.testing.assert_array_equal(switches.reshape(n, h, w, 4, c).sum(axis=3), 1.0)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("kind", ["random", "integer_ties", "pixels", "all_equal", "negative", "zeros_and_negative_zero"])
def test_full_resolution_switches_equal_reference_exactly(kind, shape, rng):
    x, y = _inputs(kind, shape, rng)
    ref_pooled, ref_unpooled = _reference(x, y)
    pooled, switches = layers.full_resolution_switches(tf.constant(x))
    unpooled = (layers.upsample_nearest2(tf.constant(y)) * switches).numpy()
    assert np.array_equal(pooled.numpy(), ref_pooled)
    assert np.array_equal(unpooled, ref_unpooled)
    assert switches.shape == x.shape
    # the same one-hot masks as the argmax_free realization, at full resolution
    _, blocks = layers.max_pool_with_switches(tf.constant(x), "depth_to_space")
    assert np.array_equal(tf.nn.space_to_depth(switches, 2).numpy(), blocks.numpy())


def test_upsample_nearest2_repeats_each_value_over_its_window():
    t = np.arange(6, dtype=np.float32).reshape(1, 2, 3, 1)
    np.testing.assert_array_equal(layers.upsample_nearest2(tf.constant(t)).numpy()[0, :, :, 0],
                                  np.repeat(np.repeat(t[0, :, :, 0], 2, axis=0), 2, axis=1))


def test_tie_resolves_to_first_maximum_in_row_major_order():
    # window [[0, 1], [1, 1]]: TensorFlow's argmax is flat index 1, i.e. position (0, 1)
    x = np.array([0, 1, 1, 1], np.float32).reshape(1, 2, 2, 1)
    _, argmax = layers.max_pool_with_argmax_reference(tf.constant(x))
    assert int(argmax.numpy().ravel()[0]) == 1
    _, switches = layers.max_pool_with_switches(tf.constant(x))
    assert switches.numpy().ravel().tolist() == [0.0, 1.0, 0.0, 0.0]
    up = layers.unpool_with_switches(tf.constant([[[[5.0]]]]), switches).numpy()
    assert up.reshape(2, 2).tolist() == [[0.0, 5.0], [0.0, 0.0]]
    _, full = layers.full_resolution_switches(tf.constant(x))
    assert full.numpy().reshape(2, 2).tolist() == [[0.0, 1.0], [0.0, 0.0]]


def test_switch_layout_is_documented_block_order():
    # maximum at (1, 0) of the window -> block k = 2*1 + 0 = 2 of the channels
    x = np.zeros((1, 2, 2, 3), np.float32)
    x[0, 1, 0, :] = 1.0
    _, switches = layers.max_pool_with_switches(tf.constant(x))
    blocks = switches.numpy().reshape(4, 3)
    np.testing.assert_array_equal(blocks, [[0] * 3, [0] * 3, [1] * 3, [0] * 3])


@pytest.mark.parametrize("realization", ["native", "relu_only"])
def test_prelu_matches_definition(realization, rng):
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    alpha = rng.random(5).astype(np.float32)
    got = layers.prelu(tf.constant(x), tf.constant(alpha), realization).numpy()
    expected = np.where(x > 0, x, alpha * x)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)


def test_prelu_realizations_are_bit_identical(rng):
    x = tf.constant(rng.standard_normal((1, 4, 4, 8)).astype(np.float32))
    alpha = tf.constant(rng.random(8).astype(np.float32) * 2)
    assert np.array_equal(layers.prelu(x, alpha, "native").numpy(), layers.prelu(x, alpha, "relu_only").numpy())


def test_zero_pad_channels_is_exact(rng):
    x = rng.standard_normal((1, 4, 4, 5)).astype(np.float32)
    out = layers.ZeroPadChannels(9)(tf.constant(x)).numpy()
    assert out.shape == (1, 4, 4, 9)
    assert np.array_equal(out[..., :5], x)
    assert not out[..., 5:].any()


def test_bad_shapes_give_clear_errors():
    with pytest.raises(ConfigError, match="even"):
        layers.max_pool_with_switches(tf.zeros((1, 3, 4, 1)))
    with pytest.raises(ConfigError, match="4\\*C"):
        layers.unpool_with_switches(tf.zeros((1, 2, 2, 3)), tf.zeros((1, 2, 2, 3)))
    with pytest.raises(ConfigError, match="PReLU"):
        layers.prelu(tf.zeros((1, 2)), tf.zeros((2,)), "abs")


@pytest.mark.parametrize("shuffle", SHUFFLES)
@pytest.mark.parametrize("bias", [False, True])
def test_transposed_conv_as_conv_interleave_matches_conv2d_transpose(shuffle, bias, rng):
    from enet_edge.model.config import Realization

    x = rng.standard_normal((2, 3, 5, 6)).astype(np.float32)
    native = layers.TransposedConv2x2(4, Realization(upsample="transposed_conv"), use_bias=bias, name="t")
    other = layers.TransposedConv2x2(4, Realization(upsample="conv_interleave", shuffle=shuffle), use_bias=bias, name="t")
    expected = native(x).numpy()
    other.build(x.shape)
    for src, dst in zip(native.weights, other.weights):
        dst.assign(src.numpy() + (0.1 if "bias" in src.path else 0.0))
        src.assign(dst.numpy())
    expected = native(x).numpy()
    got = other(x).numpy()
    assert got.shape == (2, 6, 10, 4)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("bias", [False, True])
def test_padded_conv_is_the_conv_followed_by_zero_channels(bias, rng):
    x = rng.standard_normal((2, 6, 8, 3)).astype(np.float32)
    plain = tf.keras.layers.Conv2D(5, 3, strides=2, padding="same", use_bias=bias, name="c")
    padded = layers.PaddedConv2D(5, 3, 8, strides=2, padding="same", use_bias=bias, name="c")
    expected = plain(x).numpy()
    padded.build(x.shape)
    assert [tuple(v.shape) for v in padded.weights] == [tuple(v.shape) for v in plain.weights]  # same weights file
    for src, dst in zip(plain.weights, padded.weights):
        dst.assign(src.numpy() + (0.5 if "bias" in src.path else 0.0))
        src.assign(dst.numpy())
    expected = plain(x).numpy()
    got = padded(x).numpy()
    assert got.shape == (2, 3, 4, 8) and padded.compute_output_shape(x.shape) == (2, 3, 4, 8)
    np.testing.assert_array_equal(got[..., :5], expected)
    np.testing.assert_array_equal(got[..., 5:], 0.0)
    with pytest.raises(ConfigError, match="total=4 must be >= filters=5"):
        layers.PaddedConv2D(5, 3, 4)


def test_place_channels_puts_the_input_at_its_offset_and_zeros_elsewhere(rng):
    x = rng.standard_normal((2, 3, 4, 3)).astype(np.float32)
    # exact for every normal float (subnormals flush to zero in TensorFlow's and OpenVINO's kernels alike)
    x[0, 0, 0] = [np.float32(-0.0), np.float32(1e-30), np.float32(-3e38)]
    out = layers.PlaceChannels(13, 16)(x).numpy()
    assert out.shape == (2, 3, 4, 16)
    np.testing.assert_array_equal(out[..., 13:], x)
    np.testing.assert_array_equal(out[..., :13], 0.0)
    with pytest.raises(ConfigError, match="do not fit in 15"):
        layers.PlaceChannels(13, 15)(x)


@pytest.mark.parametrize("kind", ["pixels", "random"])
def test_initial_block_sum_equals_the_concat(kind, rng):
    """The initial block's ``sum`` realization computes the concat's numbers exactly (every added term is 0)."""
    import keras

    from enet_edge.model.config import Realization
    from enet_edge.model.enet import apply_initial_block

    def block(initial):
        x = keras.Input(batch_shape=(2, 8, 12, 3))
        return keras.Model(x, apply_initial_block(x, Realization(initial=initial)))

    concat, summed = block("concat"), block("sum")
    assert sorted(v.path for v in concat.weights) == sorted(v.path for v in summed.weights)
    for v in concat.weights:  # non-trivial BN statistics and PReLU slopes, shared by name
        v.assign(rng.standard_normal(v.shape).astype(np.float32) * (0.1 if "variance" not in v.path else 0.0) + (
            1.0 if "variance" in v.path else 0.0))
    weights = {v.path: v.numpy() for v in concat.weights}
    for v in summed.weights:
        v.assign(weights[v.path])
    x = (rng.integers(0, 256, (2, 8, 12, 3)) if kind == "pixels" else rng.standard_normal((2, 8, 12, 3))) / 255.0
    x = x.astype(np.float32)
    a, b = concat(x, training=False).numpy(), summed(x, training=False).numpy()
    assert a.shape == b.shape == (2, 4, 6, 16)
    np.testing.assert_array_equal(b, a)
