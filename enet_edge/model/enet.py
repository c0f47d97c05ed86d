"""ENet (Paszke et al. 2016, arXiv 1606.02147) as plain functions building a Keras functional model.

Every layer has a stable name that reads like the paper's table, e.g. ``bottleneck2_3_asymmetric5``
with sub-layers ``bottleneck2_3_asymmetric5_conv2a``; weights are stored by those names, so one set
of weights builds into any :class:`~enet_edge.model.config.Realization`.

Input: ``image``, (N, H, W, 3) float32, NHWC, **BGR** (OpenCV order), raw pixel values 0..255.
BGR is deliberate: a device feeds OpenCV frames straight in, with no channel swap in the graph.
(Flavour ``kwotsin``, trained on RGB, reverses the channels in the graph: the input stays BGR.)
Architecture flavours (``ENetConfig.flavour``, :class:`~enet_edge.model.config.Flavour`) switch the
details where kwotsin/TensorFlow-ENet differs from the paper; the code path is the same.
Output: ``logits``, (N, H, W, num_classes) float32, NHWC.

Weights files (read, write, build a model from one): :mod:`enet_edge.model.weights`.
"""

from __future__ import annotations

from typing import Optional

import keras
import numpy as np

from enet_edge.model.config import FLAVOURS, ENetConfig, Flavour, Realization
from enet_edge.model.layers import (MaxPoolWithSwitches, PaddedConv2D, PlaceChannels, PReLU, Scale, TransposedConv2x2,
                                    UnpoolWithSwitches, ZeroPadChannels)
from enet_edge.model.transposed import ReverseChannels, TransposedConv3x3

INPUT_NAME = "image"
OUTPUT_NAME = "logits"
BN_EPSILON = 1e-3
BN_MOMENTUM = 0.9
PAPER = FLAVOURS["paper"]


class Conv2D(keras.layers.Conv2D):
    """Keras Conv2D whose inference graph has one TF ``Conv2D`` op with its ``dilations`` attribute.

    Keras lowers dilated convolutions to SpaceToBatchND/Conv2D/BatchToSpaceND. In inference we emit
    the single op instead, so the frozen graph reads like the paper and target checks see the
    dilation where it matters (NCS1). Training keeps Keras' lowering: TensorFlow's CPU kernels have
    no gradient for a dilated Conv2D. Both compute the same convolution.
    """

    def call(self, inputs, training=None):
        if training or tuple(self.dilation_rate) == (1, 1):
            return super().call(inputs)
        import tensorflow as tf

        outputs = tf.nn.conv2d(
            inputs, self.kernel, strides=self.strides, padding=self.padding.upper(), dilations=self.dilation_rate
        )
        if self.use_bias:
            outputs = tf.nn.bias_add(outputs, self.bias)
        return outputs


def _conv(x, filters, kernel, name, strides=1, dilation=1, use_bias=False):
    return Conv2D(
        filters,
        kernel,
        strides=strides,
        dilation_rate=dilation,
        padding="same",  # TF 'SAME': a 3x3/2 conv on an even size pads one row/col at bottom/right
        use_bias=use_bias,
        kernel_initializer="he_normal",
        name=name,
    )(x)


def _bn(x, name, scale=True):
    return keras.layers.BatchNormalization(epsilon=BN_EPSILON, momentum=BN_MOMENTUM, scale=scale, name=name)(x)


def _act(x, name, decoder, realization: Realization):
    if decoder:
        return keras.layers.ReLU(name=name)(x)
    return PReLU(realization.prelu, name=name)(x)


def _conv_bn_act(x, filters, kernel, name, realization, decoder=False, strides=1, dilation=1,
                 flavour: Flavour = PAPER):
    x = _conv(x, filters, kernel, f"{name}", strides=strides, dilation=dilation, use_bias=flavour.conv_bias)
    x = _bn(x, f"{name}_bn", scale=flavour.bn_scale)
    return _act(x, f"{name}_act", decoder, realization)


def apply_initial_block(x, realization: Realization, name="initial_block_1", flavour: Flavour = PAPER):
    """3x3/2 conv with 13 filters concatenated with a 2x2/2 max-pool of the input -> 16 channels, 1/2 size.

    ``realization.initial`` ``sum``: the same channels as conv (13 filters + 3 zero ones) + the pooled channels
    placed at 13..15 (:class:`PaddedConv2D`, :class:`PlaceChannels`), no Concat.

    Paper: BN + PReLU after the concat. kwotsin: BN + PReLU on the conv branch only (``_conv_bn``,
    ``_conv_act``); the pooled input channels pass through unnormalized.
    """
    pool = keras.layers.MaxPooling2D(2, 2, name=f"{name}_pool")(x)
    if not flavour.initial_bn_on_concat:
        conv = _conv(x, 13, 3, f"{name}_conv", strides=2, use_bias=flavour.conv_bias)
        conv = _bn(conv, f"{name}_conv_bn", scale=flavour.bn_scale)
        conv = PReLU(realization.prelu, name=f"{name}_conv_act")(conv)
        return keras.layers.Concatenate(name=f"{name}_concat")([conv, pool])
    if realization.initial == "sum":
        # the same 16 channels as the concat: conv filters 13..15 are zeros, the pooled channels land there
        channels = 13 + int(x.shape[-1])
        conv = PaddedConv2D(13, 3, channels, strides=2, padding="same", use_bias=flavour.conv_bias,
                            kernel_initializer="he_normal", name=f"{name}_conv")(x)
        placed = PlaceChannels(13, channels, name=f"{name}_pool_placed")(pool)
        x = keras.layers.Add(name=f"{name}_sum")([conv, placed])
    else:
        conv = _conv(x, 13, 3, f"{name}_conv", strides=2, use_bias=flavour.conv_bias)
        x = keras.layers.Concatenate(name=f"{name}_concat")([conv, pool])
    x = _bn(x, f"{name}_bn")
    return PReLU(realization.prelu, name=f"{name}_act")(x)


def apply_extra_initial_block(x, realization: Realization, name):
    """Optional extra initial block (``num_initial_blocks`` > 1): 3x3/1 conv + BN + PReLU, shape kept."""
    return _conv_bn_act(x, int(x.shape[-1]), 3, f"{name}_conv", realization)


def apply_bottleneck(
    x,
    filters: int,
    name: str,
    realization: Realization,
    kind: str = "regular",
    dilation: int = 1,
    asymmetric: int = 0,
    dropout: float = 0.1,
    decoder: bool = False,
    flavour: Flavour = PAPER,
):
    """A regular, dilated or asymmetric ENet bottleneck; output = act(x + ext(x)).

    ext: 1x1 projection to filters/4, then a 3x3 (dilated) conv or a kx1 + 1xk pair, then a 1x1
    expansion to ``filters``, each followed by BN and PReLU (ReLU in the decoder), then spatial dropout.
    kwotsin: no BN/activation between the kx1 and 1xk convs, and one more activation after the dropout.
    """
    inner = filters // 4
    ext = _conv_bn_act(x, inner, 1, f"{name}_conv1", realization, decoder, flavour=flavour)
    if asymmetric:
        if flavour.bn_between_asymmetric:
            ext = _conv_bn_act(ext, inner, (asymmetric, 1), f"{name}_conv2a", realization, decoder, flavour=flavour)
        else:
            ext = _conv(ext, inner, (asymmetric, 1), f"{name}_conv2a", use_bias=flavour.conv_bias)
        ext = _conv_bn_act(ext, inner, (1, asymmetric), f"{name}_conv2b", realization, decoder, flavour=flavour)
    else:
        ext = _conv_bn_act(ext, inner, 3, f"{name}_conv2", realization, decoder, dilation=dilation, flavour=flavour)
    ext = _conv_bn_act(ext, filters, 1, f"{name}_conv3", realization, decoder, flavour=flavour)
    if dropout > 0:
        ext = keras.layers.SpatialDropout2D(dropout, name=f"{name}_dropout")(ext)
    if flavour.act_after_dropout:
        ext = _act(ext, f"{name}_dropout_act", decoder, realization)
    out = keras.layers.Add(name=f"{name}_add")([x, ext])
    return _act(out, f"{name}_out", decoder, realization)


def apply_downsampling_bottleneck(x, filters: int, name: str, realization: Realization, dropout: float,
                                  flavour: Flavour = PAPER):
    """Downsampling bottleneck; returns (output (N,H/2,W/2,filters), switches of the main-branch pool).

    main: 2x2/2 max-pool with switches, zero channels appended up to ``filters``.
    ext: 2x2/2 conv to filters/4 (kwotsin: input channels/4), 3x3 conv, 1x1 conv to ``filters``
    (BN + PReLU each), dropout.
    """
    pooled, switches = MaxPoolWithSwitches(realization, name=f"{name}_pool")(x)
    main = ZeroPadChannels(filters, name=f"{name}_pad")(pooled)
    inner = (int(x.shape[-1]) if flavour.inner_from_input else filters) // 4
    ext = _conv_bn_act(x, inner, 2, f"{name}_conv1", realization, strides=2, flavour=flavour)
    ext = _conv_bn_act(ext, inner, 3, f"{name}_conv2", realization, flavour=flavour)
    ext = _conv_bn_act(ext, filters, 1, f"{name}_conv3", realization, flavour=flavour)
    if dropout > 0:
        ext = keras.layers.SpatialDropout2D(dropout, name=f"{name}_dropout")(ext)
    out = keras.layers.Add(name=f"{name}_add")([main, ext])
    return PReLU(realization.prelu, name=f"{name}_out")(out), switches


def apply_upsampling_bottleneck(x, switches, filters: int, name: str, realization: Realization, dropout: float,
                                flavour: Flavour = PAPER):
    """Upsampling bottleneck (decoder, ReLU): output (N, 2h, 2w, filters).

    main: 1x1 conv to ``filters`` + BN, max-unpooled with the switches of the matching downsampling.
    ext: 1x1 conv to in/4, 2x2/2 transposed conv (kwotsin: 3x3/2 SAME), 1x1 conv to ``filters``
    (BN + ReLU each), dropout (kwotsin: then one more ReLU).
    """
    inner = int(x.shape[-1]) // 4
    main = _conv(x, filters, 1, f"{name}_main_conv", use_bias=flavour.conv_bias)
    main = _bn(main, f"{name}_main_bn", scale=flavour.bn_scale)
    main = UnpoolWithSwitches(realization, name=f"{name}_unpool")(main, switches)
    ext = _conv_bn_act(x, inner, 1, f"{name}_conv1", realization, decoder=True, flavour=flavour)
    if flavour.upsample_kernel == 3:
        ext = TransposedConv3x3(inner, realization, use_bias=False, kernel_initializer="glorot_uniform",
                                name=f"{name}_conv2")(ext)
    else:
        ext = TransposedConv2x2(inner, realization, use_bias=False, kernel_initializer="he_normal",
                                name=f"{name}_conv2")(ext)
    ext = _bn(ext, f"{name}_conv2_bn", scale=flavour.bn_scale)
    ext = keras.layers.ReLU(name=f"{name}_conv2_act")(ext)
    ext = _conv_bn_act(ext, filters, 1, f"{name}_conv3", realization, decoder=True, flavour=flavour)
    if dropout > 0:
        ext = keras.layers.SpatialDropout2D(dropout, name=f"{name}_dropout")(ext)
    if flavour.act_after_dropout:
        ext = keras.layers.ReLU(name=f"{name}_dropout_act")(ext)
    out = keras.layers.Add(name=f"{name}_add")([main, ext])
    return keras.layers.ReLU(name=f"{name}_out")(out)


# The paper's stage-2 sequence after the downsampling bottleneck: (suffix, dilation, asymmetric).
STAGE_TWO_SEQUENCE = (
    ("regular", 1, 0),
    ("dilated2", 2, 0),
    ("asymmetric5", 1, 5),
    ("dilated4", 4, 0),
    ("regular", 1, 0),
    ("dilated8", 8, 0),
    ("asymmetric5", 1, 5),
    ("dilated16", 16, 0),
)


def build_enet(config: Optional[ENetConfig] = None, realization: Optional[Realization] = None,
               dtype_policy: Optional[str] = None) -> keras.Model:
    """Build ENet as a Keras functional model with a static input shape.

    Args:
        config: network hyper-parameters and static input size; default CamVid 360x480, 12 classes.
        realization: which op realization to build (weights are shared by all realizations).
        dtype_policy: a Keras dtype policy for every layer, e.g. ``"float16"`` to emulate FP16
            arithmetic (weights and activations in half precision); default: the global policy.

    Returns:
        A ``keras.Model`` named ``enet`` mapping ``image`` (N,H,W,3) float32 BGR 0..255 to ``logits``
        (N,H,W,num_classes) float32. Dropout is active only when called with ``training=True``.
    """
    if dtype_policy is not None:
        previous = keras.config.dtype_policy()
        keras.config.set_dtype_policy(dtype_policy)
        try:
            return build_enet(config, realization)
        finally:
            keras.config.set_dtype_policy(previous)
    config = config or ENetConfig()
    realization = realization or Realization()
    flavour = config.flavour_spec
    image = keras.Input(batch_shape=config.input_shape, dtype="float32", name=INPUT_NAME)
    x = ReverseChannels(name="input_bgr_to_rgb")(image) if flavour.input_rgb else image
    x = Scale(1.0 / 255.0, name="input_scale")(x)
    x = apply_initial_block(x, realization, flavour=flavour)
    for i in range(2, config.num_initial_blocks + 1):
        x = apply_extra_initial_block(x, realization, f"initial_block_{i}")
    initial = x

    x, switches1 = apply_downsampling_bottleneck(x, 64, "bottleneck1_0_downsampling", realization,
                                                 config.dropout_stage1, flavour)
    for i in range(1, 5):
        x = apply_bottleneck(x, 64, f"bottleneck1_{i}_regular", realization, dropout=config.dropout_stage1,
                             flavour=flavour)
    stage1 = x

    x, switches2 = apply_downsampling_bottleneck(x, 128, "bottleneck2_0_downsampling", realization,
                                                 config.dropout_rest, flavour)
    for stage in range(2, 2 + config.stage_two_repeat):
        for i, (suffix, dilation, asymmetric) in enumerate(STAGE_TWO_SEQUENCE, start=1):
            x = apply_bottleneck(
                x,
                128,
                f"bottleneck{stage}_{i}_{suffix}",
                realization,
                dilation=dilation,
                asymmetric=asymmetric,
                dropout=config.dropout_rest,
                flavour=flavour,
            )

    up = 2 + config.stage_two_repeat  # stage number of the first decoder stage (4 in the paper)
    # kwotsin adds each skip right after the upsampling bottleneck, the paper's variant at the stage's end
    early_skip = config.skip_connections and flavour.skip_after_upsampling
    late_skip = config.skip_connections and not flavour.skip_after_upsampling
    x = apply_upsampling_bottleneck(x, switches2, 64, f"bottleneck{up}_0_upsampling", realization,
                                    config.dropout_rest, flavour)
    if early_skip:
        x = keras.layers.Add(name=f"bottleneck{up}_skip")([x, stage1])
    for i in range(1, 3):
        x = apply_bottleneck(x, 64, f"bottleneck{up}_{i}_regular", realization, dropout=config.dropout_rest,
                             decoder=True, flavour=flavour)
    if late_skip:
        x = keras.layers.Add(name=f"bottleneck{up}_skip")([x, stage1])

    x = apply_upsampling_bottleneck(
        x, switches1, 16, f"bottleneck{up + 1}_0_upsampling", realization, config.dropout_rest, flavour
    )
    if early_skip:
        x = keras.layers.Add(name=f"bottleneck{up + 1}_skip")([x, initial])
    x = apply_bottleneck(x, 16, f"bottleneck{up + 1}_1_regular", realization, dropout=config.dropout_rest,
                         decoder=True, flavour=flavour)
    if late_skip:
        x = keras.layers.Add(name=f"bottleneck{up + 1}_skip")([x, initial])

    logits = TransposedConv2x2(
        config.num_classes, realization, use_bias=True, kernel_initializer="he_normal", name="fullconv"
    )(x)
    logits = keras.layers.Identity(name=OUTPUT_NAME)(logits)
    return keras.Model(image, logits, name="enet")


def count_parameters(model: keras.Model) -> int:
    """Number of trainable parameters (BN moving statistics excluded)."""
    return int(sum(int(np.prod(v.shape)) for v in model.trainable_weights))


def randomize_statistics(model: keras.Model, seed: int = 0, calibrate: bool = True) -> None:
    """Give BN affines and PReLU slopes random, seeded values, then calibrate the BN statistics.

    A freshly built ENet has identity BN and alpha=0.25 everywhere, which hides realization bugs
    (e.g. a PReLU sign error); parity tests and the untrained default export use this instead.
    ``calibrate`` sets every BN's moving mean/variance to the batch statistics of one training-mode
    pass over seeded random images, so activations stay O(1) like a trained network's (random
    statistics make a 40-layer network explode, and then any rounding difference is amplified).
    """
    rng = np.random.default_rng(seed)
    for var in model.weights:
        shape = tuple(var.shape)
        leaf = var.path.rsplit("/", 1)[-1]
        if leaf == "alpha":
            var.assign(rng.uniform(-0.5, 1.5, shape).astype(np.float32))
        elif leaf == "gamma":
            var.assign(rng.uniform(0.5, 1.5, shape).astype(np.float32))
        elif leaf == "beta":
            var.assign(rng.normal(0.0, 0.1, shape).astype(np.float32))
    if not calibrate:
        return
    bn_layers = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    dropouts = [layer for layer in model.layers if isinstance(layer, keras.layers.SpatialDropout2D)]
    saved = [layer.momentum for layer in bn_layers], [layer.rate for layer in dropouts]
    try:
        for layer in bn_layers:
            layer.momentum = 0.0
        for layer in dropouts:
            layer.rate = 0.0  # deterministic: the calibration must not depend on unseeded dropout
        images = rng.uniform(0, 255, tuple(model.inputs[0].shape)).astype(np.float32)
        model(images, training=True)
    finally:
        for layer, momentum in zip(bn_layers, saved[0]):
            layer.momentum = momentum
        for layer, rate in zip(dropouts, saved[1]):
            layer.rate = rate
