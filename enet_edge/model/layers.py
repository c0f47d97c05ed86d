"""ENet building blocks in TensorFlow, with interchangeable op realizations.

All tensors are NHWC float32 with static shapes. The two public functions that matter most:

* :func:`max_pool_with_switches` -- 2x2/2 max-pooling that also records, for every window and
  channel, which of the four elements was the maximum (the "switches");
* :func:`unpool_with_switches` -- the inverse placement used by ENet's upsampling bottleneck.

Their ``argmax_free`` realization uses only MaxPool, StridedSlice (or SpaceToDepth), Equal, Select,
Mul, Sub, Concat and Reshape (or DepthToSpace): no ArgMax, MaxPoolWithArgmax, ScatterNd, Gather,
Cast or Where. The ``full_resolution`` realization keeps the switches as a (N, H, W, C) mask and needs no
slices or concats at all: MaxPool, ResizeNearestNeighbor, Equal, Select, a depthwise convolution and Less. It is exactly equal to the ``reference`` realization (``tf.nn.max_pool_with_argmax``
+ ``tf.scatter_nd``), ties included: TensorFlow resolves a tie to the first maximum in row-major
window order, i.e. positions (0,0), (0,1), (1,0), (1,1), and so do we.
"""

from __future__ import annotations

from typing import List, Tuple

import keras
import numpy as np
import tensorflow as tf

from enet_edge.model.config import Realization
from enet_edge.errors import ConfigError

# Row-major order of the four positions of a 2x2 window: (dy, dx).
WINDOW_POSITIONS = ((0, 0), (0, 1), (1, 0), (1, 1))


def _static_shape(x: tf.Tensor) -> Tuple[int, int, int, int]:
    shape = tuple(x.shape)
    if len(shape) != 4 or any(d is None for d in shape):
        raise ConfigError(f"expected a 4-D NHWC tensor with a static shape, got {x.shape}")
    n, h, w, c = (int(d) for d in shape)
    if h % 2 or w % 2:
        raise ConfigError(f"2x2/2 pooling needs even height and width, got {h}x{w}")
    return n, h, w, c


def _split_phases(x: tf.Tensor, shuffle: str) -> List[tf.Tensor]:
    """The four 2x2 phases of ``x``: a list of (N, H/2, W/2, C) tensors in WINDOW_POSITIONS order."""
    if shuffle == "slice_concat":
        return [x[:, dy::2, dx::2, :] for dy, dx in WINDOW_POSITIONS]
    c = int(x.shape[-1])
    packed = tf.nn.space_to_depth(x, 2)  # channel block k = 2*dy + dx
    return [packed[..., k * c : (k + 1) * c] for k in range(4)]


def interleave_phases(packed: tf.Tensor, shuffle: str = "slice_concat") -> tf.Tensor:
    """Inverse of the phase split: (N, h, w, 4C) with block k = 2*dy + dx -> (N, 2h, 2w, C)."""
    if shuffle == "depth_to_space":
        return tf.nn.depth_to_space(packed, 2)
    n, h, w, c4 = (int(d) for d in packed.shape)
    c = c4 // 4
    # In NHWC memory, [block0 | block1] of a pixel reshaped to two pixels interleaves along width.
    top = tf.reshape(packed[..., : 2 * c], (n, h, 2 * w, c))
    bottom = tf.reshape(packed[..., 2 * c :], (n, h, 2 * w, c))
    # [top row | bottom row] of a row reshaped to two rows interleaves along height.
    return tf.reshape(tf.concat([top, bottom], axis=2), (n, 2 * h, 2 * w, c))


# full_resolution: position k of a 2x2 window (row-major) is worth WINDOW_BITS[k]; the window's code (a depthwise
# stride-2 convolution of the is-maximum mask) has the bits of every position that holds the maximum, so a position
# holds the *first* maximum exactly when it holds one and the code is below twice its own bit.
WINDOW_BITS = np.array([[8.0, 4.0], [2.0, 1.0]], np.float32)


def upsample_nearest2(t: tf.Tensor) -> tf.Tensor:
    """(N, h, w, C) -> (N, 2h, 2w, C), every value repeated over its 2x2 window (ResizeNearestNeighbor)."""
    n, h, w, c = (int(d) for d in t.shape)
    return tf.raw_ops.ResizeNearestNeighbor(images=t, size=tf.constant([2 * h, 2 * w], tf.int32),
                                            align_corners=False, half_pixel_centers=False)


def full_resolution_switches(x: tf.Tensor) -> Tuple[tf.Tensor, tf.Tensor]:
    """2x2/2 max-pooling with the switches as a full-resolution mask (no slices, concats or ArgMax).

    Args:
        x: (N, H, W, C) float32, NHWC, static shape, H and W even.

    Returns:
        pooled: (N, H/2, W/2, C) float32, equal to ``tf.nn.max_pool2d(x, 2, 2, "VALID")``.
        switches: (N, H, W, C) float32, 1 at the first maximum (row-major) of each window and channel, else 0;
            ``tf.nn.space_to_depth(switches, 2)`` equals the one-hot blocks of :func:`max_pool_with_switches`.
    """
    n, h, w, c = _static_shape(x)
    pooled = tf.nn.max_pool2d(x, ksize=2, strides=2, padding="VALID")
    one = tf.constant(1.0, x.dtype)
    zero = tf.constant(0.0, x.dtype)
    is_max = tf.where(tf.equal(x, upsample_nearest2(pooled)), one, zero)
    bits = tf.constant(np.tile(WINDOW_BITS[:, :, None, None], (1, 1, c, 1)), x.dtype)
    code = tf.nn.depthwise_conv2d(is_max, bits, strides=[1, 2, 2, 1], padding="VALID")  # sums of distinct powers of 2: exact
    limit = tf.constant(np.tile(2 * WINDOW_BITS, (h // 2, w // 2))[None, :, :, None], x.dtype)
    first = tf.where(tf.less(upsample_nearest2(code), limit), one, zero)
    return pooled, is_max * first


def max_pool_with_switches(
    x: tf.Tensor, shuffle: str = "slice_concat"
) -> Tuple[tf.Tensor, tf.Tensor]:
    """2x2/2 max-pooling that records where each maximum was, without ArgMax.

    Args:
        x: (N, H, W, C) float32, NHWC, static shape, H and W even.
        shuffle: ``slice_concat`` (StridedSlice; every target) or ``depth_to_space`` (SpaceToDepth).

    Returns:
        pooled: (N, H/2, W/2, C) float32, equal to ``tf.nn.max_pool2d(x, 2, 2, "VALID")``.
        switches: (N, H/2, W/2, 4*C) float32 one-hot masks. Channel block k (channels
            ``k*C:(k+1)*C``) is 1 where window position k = 2*dy + dx holds the first maximum in
            row-major order, else 0. Exactly one of the four blocks is 1 per window and channel.
    """
    _static_shape(x)
    pooled = tf.nn.max_pool2d(x, ksize=2, strides=2, padding="VALID")
    phases = _split_phases(x, shuffle)
    one = tf.constant(1.0, x.dtype)
    zero = tf.constant(0.0, x.dtype)
    remaining = None  # 1 where no earlier position held the maximum
    masks = []
    for phase in phases[:3]:
        is_max = tf.where(tf.equal(phase, pooled), one, zero)
        if remaining is None:
            mask = is_max
            remaining = one - mask
        else:
            mask = is_max * remaining
            remaining = remaining - mask
        masks.append(mask)
    masks.append(remaining)  # the last position is the maximum when no earlier one was
    return pooled, tf.concat(masks, axis=-1)


def unpool_with_switches(y: tf.Tensor, switches: tf.Tensor, shuffle: str = "slice_concat") -> tf.Tensor:
    """Place each value of ``y`` at its window's recorded maximum position; zeros elsewhere.

    Args:
        y: (N, h, w, C) float32, NHWC.
        switches: (N, h, w, 4*C) float32 one-hot masks from :func:`max_pool_with_switches`.
        shuffle: must match the one used for pooling only in spirit; both realizations produce
            the same layout (block k = 2*dy + dx).

    Returns:
        (N, 2h, 2w, C) float32.
    """
    n, h, w, c = (int(d) for d in y.shape)
    if tuple(int(d) for d in switches.shape) != (n, h, w, 4 * c):
        raise ConfigError(f"switches shape {switches.shape} does not match values {y.shape} (need 4*C channels)")
    placed = tf.concat([y, y, y, y], axis=-1) * switches
    return interleave_phases(placed, shuffle)


def max_pool_with_argmax_reference(x: tf.Tensor) -> Tuple[tf.Tensor, tf.Tensor]:
    """Reference pooling: ``tf.nn.max_pool_with_argmax`` (flat indices, batch included).

    Returns pooled (N, H/2, W/2, C) float32 and argmax (N, H/2, W/2, C) int64, where
    argmax = ((b*H + y)*W + x)*C + c of the maximum in the input.
    """
    _static_shape(x)
    return tf.nn.max_pool_with_argmax(x, ksize=2, strides=2, padding="VALID", include_batch_in_index=True)


def unpool_reference(y: tf.Tensor, argmax: tf.Tensor) -> tf.Tensor:
    """Reference unpooling with ``tf.scatter_nd`` (kwotsin/TensorFlow-ENet's design, with real indices).

    Args:
        y: (N, h, w, C) float32; argmax: (N, h, w, C) int64 from :func:`max_pool_with_argmax_reference`.
    Returns:
        (N, 2h, 2w, C) float32.
    """
    n, h, w, c = (int(d) for d in y.shape)
    flat_size = n * 2 * h * 2 * w * c
    flat = tf.scatter_nd(tf.reshape(argmax, (-1, 1)), tf.reshape(y, (-1,)), shape=(flat_size,))
    return tf.reshape(flat, (n, 2 * h, 2 * w, c))


def prelu(x: tf.Tensor, alpha: tf.Tensor, realization: str = "native") -> tf.Tensor:
    """PReLU, ``max(x, 0) + alpha * min(x, 0)`` per channel, as ``relu(x) - alpha * relu(-x)``.

    Args:
        x: (..., C) float32; alpha: (C,) float32.
        realization: ``native`` negates with Neg (converters fuse the pattern into one PReLU op);
            ``relu_only`` negates with a Mul by -1, so the graph has only Relu, Mul and Sub.
    Both give bit-identical results.
    """
    if realization == "native":
        negated = tf.negative(x)
    elif realization == "relu_only":
        negated = x * tf.constant(-1.0, x.dtype)
    else:
        raise ConfigError(f"unknown PReLU realization {realization!r}")
    return tf.nn.relu(x) - alpha * tf.nn.relu(negated)


# --------------------------------------------------------------------------------------------
# Keras layers wrapping the functions above (stable names -> stable weight paths).
# --------------------------------------------------------------------------------------------


class PReLU(keras.layers.Layer):
    """Per-channel PReLU (alpha initialised to 0.25) with a selectable realization."""

    def __init__(self, realization: str = "native", **kwargs):
        super().__init__(**kwargs)
        self.realization = realization

    def build(self, input_shape):
        self.alpha = self.add_weight(
            shape=(int(input_shape[-1]),), initializer=keras.initializers.Constant(0.25), name="alpha"
        )

    def call(self, x):
        return prelu(x, self.alpha, self.realization)

    def compute_output_spec(self, x):  # else Keras traces call() in a scratch graph for every symbolic call
        return keras.KerasTensor(x.shape, dtype=x.dtype)


class MaxPoolWithSwitches(keras.layers.Layer):
    """2x2/2 max-pooling returning ``[pooled, switches]`` in the chosen switch realization."""

    def __init__(self, realization: Realization, **kwargs):
        super().__init__(**kwargs)
        self.realization = realization

    def call(self, x):
        if self.realization.switches == "reference":
            pooled, argmax = max_pool_with_argmax_reference(x)
            return [pooled, argmax]
        if self.realization.switches == "full_resolution":
            return list(full_resolution_switches(x))
        return list(max_pool_with_switches(x, self.realization.shuffle))

    def compute_output_spec(self, x):
        n, h, w, c = x.shape
        pooled = keras.KerasTensor((n, h // 2, w // 2, c), dtype=x.dtype)
        if self.realization.switches == "reference":
            return [pooled, keras.KerasTensor((n, h // 2, w // 2, c), dtype="int64")]
        if self.realization.switches == "full_resolution":
            return [pooled, keras.KerasTensor((n, h, w, c), dtype=x.dtype)]
        return [pooled, keras.KerasTensor((n, h // 2, w // 2, 4 * c), dtype=x.dtype)]


class UnpoolWithSwitches(keras.layers.Layer):
    """Max-unpooling of ``y`` with switches from :class:`MaxPoolWithSwitches` (same realization)."""

    def __init__(self, realization: Realization, **kwargs):
        super().__init__(**kwargs)
        self.realization = realization

    def call(self, y, switches):
        if self.realization.switches == "reference":
            return unpool_reference(y, switches)
        if self.realization.switches == "full_resolution":
            return upsample_nearest2(y) * switches
        return unpool_with_switches(y, switches, self.realization.shuffle)

    def compute_output_spec(self, y, switches):
        n, h, w, c = y.shape
        return keras.KerasTensor((n, 2 * h, 2 * w, c), dtype=y.dtype)


class ZeroPadChannels(keras.layers.Layer):
    """Append zero channels (C -> ``channels``) with a fixed 1x1 convolution ``[I | 0]``.

    A Pad on the channel axis converts to an opset12 Pad in OpenVINO IR, which OpenVINO 2022.3
    (the last MYRIAD runtime) cannot read; a 1x1 conv with an identity kernel is exact (x*1 plus
    exact zeros), accepted by every target, and fuses with the following Add on CPU.
    """

    def __init__(self, channels: int, **kwargs):
        super().__init__(**kwargs)
        self.channels = channels

    def call(self, x):
        c = int(x.shape[-1])
        kernel = np.zeros((1, 1, c, self.channels), np.float32)
        kernel[0, 0, np.arange(c), np.arange(c)] = 1.0
        return tf.nn.conv2d(x, tf.constant(kernel, x.dtype), strides=1, padding="VALID")

    def compute_output_spec(self, x):
        return keras.KerasTensor(tuple(x.shape[:-1]) + (self.channels,), dtype=x.dtype)


def transposed_conv2x2_as_conv(x: tf.Tensor, kernel: tf.Tensor, shuffle: str = "slice_concat") -> tf.Tensor:
    """A 2x2/2 transposed convolution computed as a 1x1 convolution plus a phase interleave.

    Args:
        x: (N, h, w, Cin) float32 NHWC.
        kernel: (2, 2, Cout, Cin) float32, Keras/TF Conv2DTranspose layout.
    Returns:
        (N, 2h, 2w, Cout): out[2i+dy, 2j+dx, co] = sum_ci x[i, j, ci] * kernel[dy, dx, co, ci].
    """
    cout, cin = int(kernel.shape[2]), int(kernel.shape[3])
    # (dy, dx, co, ci) -> (ci, dy, dx, co): channel block k = 2*dy + dx of the 1x1 conv output
    pointwise = tf.reshape(tf.transpose(kernel, (3, 0, 1, 2)), (1, 1, cin, 4 * cout))
    return interleave_phases(tf.nn.conv2d(x, pointwise, strides=1, padding="VALID"), shuffle)


class TransposedConv2x2(keras.layers.Conv2DTranspose):
    """2x2/2 Conv2DTranspose (same weights) with a selectable realization (``Realization.upsample``)."""

    def __init__(self, filters: int, realization: Realization, **kwargs):
        super().__init__(filters, 2, strides=2, **kwargs)
        self.realization = realization

    def call(self, inputs):
        if self.realization.upsample == "transposed_conv":
            return super().call(inputs)
        out = transposed_conv2x2_as_conv(inputs, self.kernel, self.realization.shuffle)
        if self.use_bias:
            out = tf.nn.bias_add(out, self.bias)
        return out


class PaddedConv2D(keras.layers.Conv2D):
    """A Conv2D whose output has ``total`` channels: its ``filters`` first, then exact zeros.

    The stored kernel (and bias) keep ``filters`` filters, so weights load as for a plain Conv2D of that name;
    the graph convolves with the kernel padded by all-zero filters (a constant once frozen). No dilation.
    """

    def __init__(self, filters: int, kernel_size, total: int, **kwargs):
        if total < filters:
            raise ConfigError(f"PaddedConv2D: total={total} must be >= filters={filters}")
        super().__init__(filters, kernel_size, **kwargs)
        self.total = int(total)

    def call(self, inputs):
        extra = self.total - self.filters
        kernel = tf.pad(self.kernel, ((0, 0), (0, 0), (0, 0), (0, extra)))
        out = tf.nn.conv2d(inputs, kernel, strides=self.strides, padding=self.padding.upper())
        if self.use_bias:
            out = tf.nn.bias_add(out, tf.pad(self.bias, ((0, extra),)))
        return out

    def compute_output_shape(self, input_shape):
        return tuple(super().compute_output_shape(input_shape)[:-1]) + (self.total,)


class PlaceChannels(keras.layers.Layer):
    """(N,H,W,C) -> (N,H,W,``total``): the input's channels at ``offset``..``offset``+C-1, exact zeros elsewhere.

    A 1x1 convolution with a constant 0/1 kernel (no Pad or Concat): the CPU plugin fuses it, and the Add
    that joins it with another convolution, into jit kernels. No weights.
    """

    def __init__(self, offset: int, total: int, **kwargs):
        super().__init__(**kwargs)
        self.offset, self.total = int(offset), int(total)

    def call(self, x):
        c = int(x.shape[-1])
        if self.offset < 0 or self.offset + c > self.total:
            raise ConfigError(f"PlaceChannels: {c} channels at offset {self.offset} do not fit in {self.total}")
        kernel = np.zeros((1, 1, c, self.total), np.float32)
        kernel[0, 0, np.arange(c), self.offset + np.arange(c)] = 1.0
        return tf.nn.conv2d(x, tf.constant(kernel, x.dtype), strides=1, padding="VALID")

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.total,)


class Scale(keras.layers.Layer):
    """Multiply by a constant (input scaling of raw 0..255 pixels)."""

    def __init__(self, factor: float, **kwargs):
        super().__init__(**kwargs)
        self.factor = float(factor)

    def call(self, x):
        return x * tf.constant(self.factor, x.dtype)
