"""Test-only: kwotsin/TensorFlow-ENet's network re-implemented in plain TF ops from checkpoint values,
and checkpoints written with kwotsin's variable names.

The reference follows kwotsin's enet.py step by step (not our Keras code): slim conv2d (SAME, bias),
slim batch_norm (scale=False, epsilon 1e-3, moving statistics), prelu as ``relu(x) + alpha*(x-|x|)*0.5``,
``tf.nn.max_pool_with_argmax`` (SAME) + channel ``tf.pad``, unpooling by ``tf.scatter_nd`` of the flat
argmax indices, ``tf.nn.conv2d_transpose`` 3x3/2 SAME, the extra ``_prelu4`` after the (inference:
identity) spatial dropout, ReLU in the decoder, skip connections right after the upsampling
bottlenecks, every initial block applied to the input (the last one kept), and slim conv2d_transpose
2x2/2 for the logits. Input: RGB in [0, 1].

``calibrate=True`` replaces each batch norm's moving statistics by the batch statistics of its input
(written back into the variables), so random checkpoints have O(1) activations like trained ones.
"""

import re
from pathlib import Path
from typing import Dict, Optional, Tuple

import numpy as np
import tensorflow as tf

EPS = 1e-3


class KwotsinENet:
    def __init__(self, variables: Dict[str, np.ndarray], num_classes: int, num_initial_blocks: int = 1,
                 stage_two_repeat: int = 2, skip_connections: bool = False, scope: str = "ENet"):
        self.v = variables
        self.num_classes, self.num_initial_blocks = num_classes, num_initial_blocks
        self.stage_two_repeat, self.skip_connections, self.scope = stage_two_repeat, skip_connections, scope
        self.calibrate = False

    # -- slim building blocks ------------------------------------------------------------------------
    def var(self, name):
        return tf.constant(self.v[f"{self.scope}/{name}"], tf.float32)

    def conv(self, x, scope, stride=1, rate=1):
        y = tf.nn.conv2d(x, self.var(f"{scope}/weights"), strides=stride, padding="SAME", dilations=rate)
        return tf.nn.bias_add(y, self.var(f"{scope}/biases"))

    def batch_norm(self, x, scope):
        if self.calibrate:
            mean, variance = tf.nn.moments(x, axes=[0, 1, 2])
            self.v[f"{self.scope}/{scope}/moving_mean"] = mean.numpy()
            self.v[f"{self.scope}/{scope}/moving_variance"] = variance.numpy()
        channels = int(x.shape[-1])
        y, _, _ = tf.compat.v1.nn.fused_batch_norm(
            x, tf.ones([channels]), self.var(f"{scope}/beta"), mean=self.var(f"{scope}/moving_mean"),
            variance=self.var(f"{scope}/moving_variance"), epsilon=EPS, is_training=False)
        return y

    def prelu(self, x, scope, decoder=False):
        if decoder:
            return tf.nn.relu(x)
        alpha = self.var(f"{scope}alpha")
        return tf.nn.relu(x) + alpha * (x - tf.abs(x)) * 0.5

    @staticmethod
    def unpool(updates, mask, output_shape):
        mask = tf.cast(mask, tf.int32)
        n, h, w, c = output_shape
        ones = tf.ones_like(mask)
        b = ones * tf.reshape(tf.range(n, dtype=tf.int32), (n, 1, 1, 1))
        y = mask // (w * c)
        x = (mask // c) % w
        f = ones * tf.range(c, dtype=tf.int32)
        size = int(np.prod(updates.shape))
        indices = tf.transpose(tf.reshape(tf.stack([b, y, x, f]), [4, size]))
        return tf.scatter_nd(indices, tf.reshape(updates, [size]), output_shape)

    # -- enet.py's blocks ------------------------------------------------------------------------------
    def initial_block(self, inputs, scope):
        net_conv = self.conv(inputs, scope + "_conv", stride=2)
        net_conv = self.batch_norm(net_conv, scope + "_batchnorm")
        net_conv = self.prelu(net_conv, scope + "_prelu")
        net_pool = tf.nn.max_pool2d(inputs, 2, 2, "VALID")
        return tf.concat([net_conv, net_pool], axis=3)

    def bottleneck(self, inputs, output_depth, scope, kind="regular", decoder=False, rate=None,
                   pooling_indices=None, output_shape=None):
        reduced = int(int(inputs.shape[3]) / 4)
        p = lambda x, s: self.prelu(x, scope + s, decoder)  # noqa: E731
        if kind == "downsampling":
            net_main, indices = tf.nn.max_pool_with_argmax(inputs, [1, 2, 2, 1], [1, 2, 2, 1], "SAME")
            inputs_shape = [int(d) for d in inputs.shape]
            net_main = tf.pad(net_main, [[0, 0], [0, 0], [0, 0], [0, abs(inputs_shape[3] - output_depth)]])
            net = p(self.batch_norm(self.conv(inputs, scope + "_conv1", stride=2), scope + "_batch_norm1"), "_prelu1")
            net = p(self.batch_norm(self.conv(net, scope + "_conv2"), scope + "_batch_norm2"), "_prelu2")
            net = p(self.batch_norm(self.conv(net, scope + "_conv3"), scope + "_batch_norm3"), "_prelu3")
            net = net + net_main
            return p(net, "_last_prelu"), indices, inputs_shape
        if kind == "upsampling":
            net_unpool = self.batch_norm(self.conv(inputs, scope + "_main_conv1"), scope + "batch_norm1")
            net_unpool = self.unpool(net_unpool, pooling_indices, output_shape)
            net = p(self.batch_norm(self.conv(inputs, scope + "_conv1"), scope + "_batch_norm2"), "_prelu1")
            shape = [output_shape[0], output_shape[1], output_shape[2], reduced]
            net = tf.nn.conv2d_transpose(net, self.var(scope + "_transposed_conv2_filters"), shape, [1, 2, 2, 1])
            net = p(self.batch_norm(net, scope + "_batch_norm3"), "_prelu2")
            net = p(self.batch_norm(self.conv(net, scope + "_conv3"), scope + "_batch_norm4"), "_prelu3")
            net = p(net, "_prelu4")
            return p(net + net_unpool, "_last_prelu")
        net = p(self.batch_norm(self.conv(inputs, scope + "_conv1"), scope + "_batch_norm1"), "_prelu1")
        if kind == "dilated":
            net = self.conv(net, scope + "_dilated_conv2", rate=rate)
        elif kind == "asymmetric":
            net = self.conv(self.conv(net, scope + "_asymmetric_conv2a"), scope + "_asymmetric_conv2b")
        else:
            net = self.conv(net, scope + "_conv2")
        net = p(self.batch_norm(net, scope + "_batch_norm2"), "_prelu2")
        net = p(self.batch_norm(self.conv(net, scope + "_conv3"), scope + "_batch_norm3"), "_prelu3")
        net = p(net, "_prelu4")  # after the spatial dropout (identity at inference)
        return p(inputs + net, "_last_prelu")

    def __call__(self, images_rgb01, calibrate: bool = False):
        """(N,H,W,3) RGB in [0,1] -> logits (N,H,W,num_classes)."""
        self.calibrate = calibrate
        inputs = tf.constant(images_rgb01, tf.float32)
        for i in range(1, max(self.num_initial_blocks, 1) + 1):
            net = self.initial_block(inputs, f"initial_block_{i}")
        net_one = net
        net, idx1, shape1 = self.bottleneck(net, 64, "bottleneck1_0", "downsampling")
        for i in range(1, 5):
            net = self.bottleneck(net, 64, f"bottleneck1_{i}")
        net_two = net
        net, idx2, shape2 = self.bottleneck(net, 128, "bottleneck2_0", "downsampling")
        for i in range(2, max(self.stage_two_repeat, 2) + 2):
            s = f"bottleneck{i}"
            net = self.bottleneck(net, 128, s + "_1")
            net = self.bottleneck(net, 128, s + "_2", "dilated", rate=2)
            net = self.bottleneck(net, 128, s + "_3", "asymmetric")
            net = self.bottleneck(net, 128, s + "_4", "dilated", rate=4)
            net = self.bottleneck(net, 128, s + "_5")
            net = self.bottleneck(net, 128, s + "_6", "dilated", rate=8)
            net = self.bottleneck(net, 128, s + "_7", "asymmetric")
            net = self.bottleneck(net, 128, s + "_8", "dilated", rate=16)
        s = f"bottleneck{i + 1}"
        net = self.bottleneck(net, 64, s + "_0", "upsampling", True, pooling_indices=idx2, output_shape=shape2)
        if self.skip_connections:
            net = net + net_two
        net = self.bottleneck(net, 64, s + "_1", decoder=True)
        net = self.bottleneck(net, 64, s + "_2", decoder=True)
        s = f"bottleneck{i + 2}"
        net = self.bottleneck(net, 16, s + "_0", "upsampling", True, pooling_indices=idx1, output_shape=shape1)
        if self.skip_connections:
            net = net + net_one
        net = self.bottleneck(net, 16, s + "_1", decoder=True)
        n, h, w, _ = (int(d) for d in net.shape)
        logits = tf.nn.conv2d_transpose(net, self.var("fullconv/weights"), [n, 2 * h, 2 * w, self.num_classes],
                                        [1, 2, 2, 1], padding="SAME")
        return tf.nn.bias_add(logits, self.var("fullconv/biases")).numpy()


KWOTSIN_INDEX = Path(__file__).resolve().parents[2] / "shared" / "kwotsin" / "model.ckpt-13800"
"""The index of kwotsin's published CamVid checkpoint (names and shapes only; no values)."""


def published_shapes(model_only: bool = True) -> Dict[str, Tuple[int, ...]]:
    """Names and shapes of the published checkpoint (``tf.train.list_variables``); model variables only
    unless ``model_only`` is False (then Adam slots, beta1/2_power and global_step too)."""
    shapes = {name: tuple(shape) for name, shape in tf.train.list_variables(str(KWOTSIN_INDEX))}
    if model_only:
        shapes = {n: s for n, s in shapes.items() if n.startswith("ENet/") and not n.endswith(("/Adam", "/Adam_1"))}
    return shapes


def variant_shapes(base: Dict[str, Tuple[int, ...]], num_classes=12, num_initial_blocks=1, stage_two_repeat=2):
    """The variable list kwotsin's enet.py would save for other arguments, derived from the published one:
    initial_block_1 repeated, stage 3 repeated (stages 3..stage_two_repeat+1), decoder stages renumbered,
    the logits resized. Independent of enet-edge's own name mapping."""
    out = {}
    for name, shape in base.items():
        m = re.match(r"(.*?/)bottleneck(\d+)_(.*)", name)
        if m and int(m.group(2)) >= 4:
            out[f"{m.group(1)}bottleneck{int(m.group(2)) + stage_two_repeat - 2}_{m.group(3)}"] = shape
        elif m and int(m.group(2)) == 3:
            for stage in range(3, 2 + stage_two_repeat):
                out[f"{m.group(1)}bottleneck{stage}_{m.group(3)}"] = shape
        elif "/initial_block_1_" in name:
            for block in range(1, num_initial_blocks + 1):
                out[name.replace("/initial_block_1_", f"/initial_block_{block}_")] = shape
        else:
            out[name] = shape
    for name in list(out):
        if name.endswith("/fullconv/weights"):
            out[name] = (2, 2, num_classes, 16)
        elif name.endswith("/fullconv/biases"):
            out[name] = (num_classes,)
    return out


def random_variables(shapes, seed=0, gamma=None) -> Dict[str, np.ndarray]:
    """Random values for a kwotsin variable list: fan-in scaled weights, PReLU slopes in [-0.5, 1.5],
    small betas and means, variances in [0.5, 1.5]; gamma random (kwotsin's network ignores it) unless given."""
    rng = np.random.default_rng(seed)
    values = {}
    for name, shape in sorted(shapes.items()):
        shape = tuple(int(d) for d in shape)
        leaf = name.rsplit("/", 1)[-1]
        if name.endswith("alpha"):
            v = rng.uniform(-0.5, 1.5, shape)
        elif leaf in ("weights",) or name.endswith("_filters"):
            fan_in = int(np.prod(shape[:2])) * (shape[2] if not name.endswith(("_filters", "fullconv/weights"))
                                                 else shape[3])
            v = rng.normal(0.0, np.sqrt(2.0 / fan_in), shape)
        elif leaf in ("biases", "beta", "moving_mean"):
            v = rng.normal(0.0, 0.1, shape)
        elif leaf == "moving_variance":
            v = rng.uniform(0.5, 1.5, shape)
        elif leaf == "gamma":
            v = rng.uniform(0.5, 1.5, shape) if gamma is None else np.full(shape, gamma)
        elif not shape:
            v = np.asarray(rng.integers(0, 1000))
        else:
            v = rng.normal(0.0, 0.01, shape)
        values[name] = np.asarray(v, np.float32 if name != "global_step" else np.int64)
    return values


def calibrated_variables(shapes, height, width, seed=0, num_classes=12, num_initial_blocks=1, stage_two_repeat=2,
                         skip_connections=False, gamma=None, residual_gain=0.1, images=None) -> Dict[str, np.ndarray]:
    """:func:`random_variables` with every BN's moving statistics set from a pass over random images.

    ``images``: (N, height, width, 3) RGB in [0, 1] to calibrate on (default: 2 uniform-noise images).
    ``residual_gain``: the last BN of every bottleneck's branch gets its variance divided by its square,
    so branches add ~``residual_gain`` x unit variance, as in a trained network. Without it a random
    ENet is chaotic (FP16 weights alone move its logits by ~8%, the paper flavour's too; the shipped
    trained weights by 0.4%), and FP16 parity would measure the chaos, not the export.
    """
    values = random_variables(shapes, seed, gamma)
    net = KwotsinENet(values, num_classes, num_initial_blocks, stage_two_repeat, skip_connections)
    if images is None:  # RGB in [0, 1]
        images = np.random.default_rng(seed + 1).uniform(0, 1, (2, height, width, 3)).astype(np.float32)
    net(images, calibrate=True)
    for name in values:
        last = re.search(r"bottleneck\d+_\d+_batch_norm(\d)/moving_variance$", name)
        if last and (last.group(1) == "4" or (last.group(1) == "3" and "_transposed" not in name
                                                and f"{name.split('_batch_norm')[0]}_batch_norm4/moving_variance"
                                                not in values)):
            values[name] = (values[name] + EPS) / residual_gain ** 2 - EPS
    return values


def write_checkpoint(prefix, values: Dict[str, np.ndarray]) -> str:
    """A TF checkpoint (V2 format, readable by tf.train.load_checkpoint) holding ``values`` by name."""
    names = sorted(values)
    tf.raw_ops.SaveV2(prefix=str(prefix), tensor_names=names, shape_and_slices=[""] * len(names),
                      tensors=[tf.constant(values[n]) for n in names])
    return str(prefix)


def kwotsin_logits(values, frames_bgr_uint8, num_classes=12, num_initial_blocks=1, stage_two_repeat=2,
                   skip_connections=False, scope: Optional[str] = "ENet") -> np.ndarray:
    """kwotsin's preprocessing (RGB, convert_image_dtype: x * 1/255) and network on OpenCV frames."""
    rgb = tf.image.convert_image_dtype(tf.constant(np.asarray(frames_bgr_uint8)[..., ::-1].copy()), tf.float32)
    net = KwotsinENet(values, num_classes, num_initial_blocks, stage_two_repeat, skip_connections, scope)
    return net(rgb.numpy())
