"""ENet (Paszke et al. 2016, arXiv 1606.02147) as plain functions building a Keras functional model.

Every layer has a stable name that reads like the paper's table, e.g. ``bottleneck2_3_asymmetric5``
with sub-layers ``bottleneck2_3_asymmetric5_conv2a``; weights are stored by those names, so one set
of weights builds into any :class:`~enet_edge.model.config.Realization`.

Input: ``image``, (N, H, W, 3) float32, NHWC, **BGR** (OpenCV order), raw pixel values 0..255.
BGR is deliberate: a device feeds OpenCV frames straight in, with no channel swap in the graph.
Output: ``logits``, (N, H, W, num_classes) float32, NHWC.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import keras
import numpy as np

from enet_edge.model.config import ENetConfig, Realization
from enet_edge.errors import ArtifactError
from enet_edge.fileio import atomic_savez
from enet_edge.model.layers import MaxPoolWithSwitches, PReLU, Scale, TransposedConv2x2, UnpoolWithSwitches, ZeroPadChannels

INPUT_NAME = "image"
OUTPUT_NAME = "logits"
BN_EPSILON = 1e-3
BN_MOMENTUM = 0.9


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


def _conv(x, filters, kernel, name, strides=1, dilation=1):
    return Conv2D(
        filters,
        kernel,
        strides=strides,
        dilation_rate=dilation,
        padding="same",  # TF 'SAME': a 3x3/2 conv on an even size pads one row/col at bottom/right
        use_bias=False,
        kernel_initializer="he_normal",
        name=name,
    )(x)


def _bn(x, name):
    return keras.layers.BatchNormalization(epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=name)(x)


def _act(x, name, decoder, realization: Realization):
    if decoder:
        return keras.layers.ReLU(name=name)(x)
    return PReLU(realization.prelu, name=name)(x)


def _conv_bn_act(x, filters, kernel, name, realization, decoder=False, strides=1, dilation=1):
    x = _conv(x, filters, kernel, f"{name}", strides=strides, dilation=dilation)
    x = _bn(x, f"{name}_bn")
    return _act(x, f"{name}_act", decoder, realization)


def apply_initial_block(x, realization: Realization, name="initial_block_1"):
    """3x3/2 conv with 13 filters concatenated with a 2x2/2 max-pool of the input -> 16 channels, 1/2 size."""
    conv = _conv(x, 13, 3, f"{name}_conv", strides=2)
    pool = keras.layers.MaxPooling2D(2, 2, name=f"{name}_pool")(x)
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
):
    """A regular, dilated or asymmetric ENet bottleneck; output = act(x + ext(x)).

    ext: 1x1 projection to filters/4, then a 3x3 (dilated) conv or a kx1 + 1xk pair, then a 1x1
    expansion to ``filters``, each followed by BN and PReLU (ReLU in the decoder), then spatial dropout.
    """
    inner = filters // 4
    ext = _conv_bn_act(x, inner, 1, f"{name}_conv1", realization, decoder)
    if asymmetric:
        ext = _conv_bn_act(ext, inner, (asymmetric, 1), f"{name}_conv2a", realization, decoder)
        ext = _conv_bn_act(ext, inner, (1, asymmetric), f"{name}_conv2b", realization, decoder)
    else:
        ext = _conv_bn_act(ext, inner, 3, f"{name}_conv2", realization, decoder, dilation=dilation)
    ext = _conv_bn_act(ext, filters, 1, f"{name}_conv3", realization, decoder)
    if dropout > 0:
        ext = keras.layers.SpatialDropout2D(dropout, name=f"{name}_dropout")(ext)
    out = keras.layers.Add(name=f"{name}_add")([x, ext])
    return _act(out, f"{name}_out", decoder, realization)


def apply_downsampling_bottleneck(x, filters: int, name: str, realization: Realization, dropout: float):
    """Downsampling bottleneck; returns (output (N,H/2,W/2,filters), switches of the main-branch pool).

    main: 2x2/2 max-pool with switches, zero channels appended up to ``filters``.
    ext: 2x2/2 conv to filters/4, 3x3 conv, 1x1 conv to ``filters`` (BN + PReLU each), dropout.
    """
    pooled, switches = MaxPoolWithSwitches(realization, name=f"{name}_pool")(x)
    main = ZeroPadChannels(filters, name=f"{name}_pad")(pooled)
    inner = filters // 4
    ext = _conv_bn_act(x, inner, 2, f"{name}_conv1", realization, strides=2)
    ext = _conv_bn_act(ext, inner, 3, f"{name}_conv2", realization)
    ext = _conv_bn_act(ext, filters, 1, f"{name}_conv3", realization)
    if dropout > 0:
        ext = keras.layers.SpatialDropout2D(dropout, name=f"{name}_dropout")(ext)
    out = keras.layers.Add(name=f"{name}_add")([main, ext])
    return PReLU(realization.prelu, name=f"{name}_out")(out), switches


def apply_upsampling_bottleneck(x, switches, filters: int, name: str, realization: Realization, dropout: float):
    """Upsampling bottleneck (decoder, ReLU): output (N, 2h, 2w, filters).

    main: 1x1 conv to ``filters`` + BN, max-unpooled with the switches of the matching downsampling.
    ext: 1x1 conv to in/4, 2x2/2 transposed conv, 1x1 conv to ``filters`` (BN + ReLU each), dropout.
    """
    inner = int(x.shape[-1]) // 4
    main = _conv(x, filters, 1, f"{name}_main_conv")
    main = _bn(main, f"{name}_main_bn")
    main = UnpoolWithSwitches(realization, name=f"{name}_unpool")(main, switches)
    ext = _conv_bn_act(x, inner, 1, f"{name}_conv1", realization, decoder=True)
    ext = TransposedConv2x2(inner, realization, use_bias=False, kernel_initializer="he_normal", name=f"{name}_conv2")(ext)
    ext = _bn(ext, f"{name}_conv2_bn")
    ext = keras.layers.ReLU(name=f"{name}_conv2_act")(ext)
    ext = _conv_bn_act(ext, filters, 1, f"{name}_conv3", realization, decoder=True)
    if dropout > 0:
        ext = keras.layers.SpatialDropout2D(dropout, name=f"{name}_dropout")(ext)
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
    image = keras.Input(batch_shape=config.input_shape, dtype="float32", name=INPUT_NAME)
    x = Scale(1.0 / 255.0, name="input_scale")(image)
    x = apply_initial_block(x, realization)
    for i in range(2, config.num_initial_blocks + 1):
        x = apply_extra_initial_block(x, realization, f"initial_block_{i}")
    initial = x

    x, switches1 = apply_downsampling_bottleneck(x, 64, "bottleneck1_0_downsampling", realization, config.dropout_stage1)
    for i in range(1, 5):
        x = apply_bottleneck(x, 64, f"bottleneck1_{i}_regular", realization, dropout=config.dropout_stage1)
    stage1 = x

    x, switches2 = apply_downsampling_bottleneck(x, 128, "bottleneck2_0_downsampling", realization, config.dropout_rest)
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
            )

    up = 2 + config.stage_two_repeat  # stage number of the first decoder stage (4 in the paper)
    x = apply_upsampling_bottleneck(x, switches2, 64, f"bottleneck{up}_0_upsampling", realization, config.dropout_rest)
    for i in range(1, 3):
        x = apply_bottleneck(x, 64, f"bottleneck{up}_{i}_regular", realization, dropout=config.dropout_rest, decoder=True)
    if config.skip_connections:
        x = keras.layers.Add(name=f"bottleneck{up}_skip")([x, stage1])

    x = apply_upsampling_bottleneck(
        x, switches1, 16, f"bottleneck{up + 1}_0_upsampling", realization, config.dropout_rest
    )
    x = apply_bottleneck(x, 16, f"bottleneck{up + 1}_1_regular", realization, dropout=config.dropout_rest, decoder=True)
    if config.skip_connections:
        x = keras.layers.Add(name=f"bottleneck{up + 1}_skip")([x, initial])

    logits = TransposedConv2x2(
        config.num_classes, realization, use_bias=True, kernel_initializer="he_normal", name="fullconv"
    )(x)
    logits = keras.layers.Identity(name=OUTPUT_NAME)(logits)
    return keras.Model(image, logits, name="enet")


def count_parameters(model: keras.Model) -> int:
    """Number of trainable parameters (BN moving statistics excluded)."""
    return int(sum(int(np.prod(v.shape)) for v in model.trainable_weights))


# --------------------------------------------------------------------------------------------
# Weights: one .npz, keyed by stable variable path, loadable without pickle.
# --------------------------------------------------------------------------------------------

_CONFIG_KEY = "__enet_config__"
_META_KEY = "__enet_meta__"


def get_weights(model: keras.Model) -> Dict[str, np.ndarray]:
    """All variables (trainable and BN statistics) by stable path, e.g. ``bottleneck1_1_regular_conv1/kernel``."""
    return {v.path: np.asarray(v.numpy()) for v in model.weights}


def set_weights(model: keras.Model, weights: Dict[str, np.ndarray], source: str = "weights") -> None:
    """Assign ``weights`` to ``model``; every variable must be present with the right shape."""
    variables = {v.path: v for v in model.weights}
    missing = sorted(set(variables) - set(weights))
    unexpected = sorted(set(weights) - set(variables))
    if missing or unexpected:
        raise ArtifactError(
            f"{source} does not fit this ENet config: {len(missing)} missing (e.g. {missing[:3]}), "
            f"{len(unexpected)} unexpected (e.g. {unexpected[:3]}); check num_classes, stage_two_repeat, "
            "num_initial_blocks and skip_connections"
        )
    for path, var in variables.items():
        value = weights[path]
        if tuple(value.shape) != tuple(var.shape):
            raise ArtifactError(f"{source}: {path} has shape {value.shape}, the model needs {tuple(var.shape)}")
        var.assign(value.astype(np.float32))


def save_weights(model: keras.Model, path, config: ENetConfig, meta: Optional[dict] = None) -> Path:
    """Write ``model``'s weights and config to an ``.npz`` (atomically: temp file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = get_weights(model)
    arrays[_CONFIG_KEY] = np.array(json.dumps(config.to_dict()))
    arrays[_META_KEY] = np.array(json.dumps(meta or {}))
    return atomic_savez(path, arrays)


def read_weights(path) -> Tuple[Dict[str, np.ndarray], dict, dict]:
    """Read an ``.npz`` written by :func:`save_weights`; returns (weights, config dict, meta dict)."""
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"weights file {path} does not exist; pass --weights with an .npz from `enet-edge train`")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise ArtifactError(f"cannot read weights {path}: {exc}; is it a complete .npz from `enet-edge train`?") from exc
    try:
        config = json.loads(str(arrays.pop(_CONFIG_KEY)))
        meta = json.loads(str(arrays.pop(_META_KEY, np.array("{}"))))
    except (KeyError, ValueError) as exc:
        raise ArtifactError(f"{path} has no ENet config entry; it was not written by enet-edge") from exc
    return arrays, config, meta


def load_enet(
    path, realization: Optional[Realization] = None, height: Optional[int] = None, width: Optional[int] = None,
    batch: Optional[int] = None, dtype_policy: Optional[str] = None,
) -> Tuple[keras.Model, ENetConfig, dict]:
    """Build ENet from a weights file, optionally at another static input size (weights are size-free).

    ``dtype_policy`` "float16": weights and activations in FP16 (the arithmetic of the NCS2).
    """
    weights, config_dict, meta = read_weights(path)
    config = ENetConfig.from_dict(config_dict)
    changes = {k: v for k, v in (("height", height), ("width", width), ("batch", batch)) if v is not None}
    config = config.replace(**changes)
    model = build_enet(config, realization, dtype_policy=dtype_policy)
    set_weights(model, weights, source=str(path))
    return model, config, meta


def layer_names(model: keras.Model) -> List[str]:
    return [layer.name for layer in model.layers]


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
