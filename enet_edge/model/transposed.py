"""The 3x3 stride-2 SAME transposed convolution of kwotsin/TensorFlow-ENet's upsampling bottlenecks.

kwotsin's enet.py calls ``tf.nn.conv2d_transpose(x, filters[3,3,C,C], strides=2, output_shape=2x,
padding="SAME")``. Its windows overlap, so unlike the 2x2/2 transposed conv it is not a plain 1x1 conv
plus an interleave; but each of its four output phases is still a small ordinary convolution. With
TF's SAME padding (a 3x3/2 conv on 2h rows pads 0 rows on top and 1 at the bottom), along one axis::

    out[2m]     = x[m] * w[0] + x[m-1] * w[2]
    out[2m + 1] = x[m] * w[1]

so ONE 2x2 convolution over the input padded by one row/column on top/left, with 4*C output channels
(channel block k = 2*dy + dx holds phase (dy, dx), zero taps where a phase has none), followed by the
phase interleave of :func:`enet_edge.model.layers.interleave_phases`, computes the transposed conv with
the same products; only the summation order differs (exact up to float rounding; tests compare it
with ``tf.nn.conv2d_transpose``). The graph then holds Conv2D (explicit padding), StridedSlice,
Concat and Reshape: no Conv2DBackpropInput (no ConvolutionBackpropData in the ncs2 IR).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from enet_edge.errors import ConfigError
from enet_edge.model.config import Realization
from enet_edge.model.layers import interleave_phases

# _TAP[d, a, k] = 1 where output phase d (0 even, 1 odd) takes kernel index k from padded tap a
# (a=0: input row m-1, a=1: input row m); phase 1 has no tap at a=0.
_TAP = np.zeros((2, 2, 3), np.float32)
_TAP[0, 0, 2] = 1.0  # out[2m]   += x[m-1] * w[2]
_TAP[0, 1, 0] = 1.0  # out[2m]   += x[m]   * w[0]
_TAP[1, 1, 1] = 1.0  # out[2m+1] += x[m]   * w[1]

# top/left padding by one: tap a=0 of output row m reads input row m-1
_PADDING = [[0, 0], [1, 0], [1, 0], [0, 0]]


def phase_kernel(kernel: tf.Tensor) -> tf.Tensor:
    """(3, 3, Cout, Cin) transposed-conv kernel -> (2, 2, Cin, 4*Cout) conv kernel, block k = 2*dy + dx.

    Every entry is one kernel value times 1 (or an exact 0), so the values are the kernel's own.
    """
    if tuple(int(d) for d in kernel.shape[:2]) != (3, 3):
        raise ConfigError(f"phase_kernel needs a 3x3 kernel, got {tuple(kernel.shape)}")
    cout, cin = int(kernel.shape[2]), int(kernel.shape[3])
    tap = tf.constant(_TAP, kernel.dtype)
    # (dy, a, ky) x (dx, b, kx) x (ky, kx, co, ci) -> (a, b, ci, dy, dx, co)
    phases = tf.einsum("yak,xbl,klOI->abIyxO", tap, tap, kernel)
    return tf.reshape(phases, (2, 2, cin, 4 * cout))


def transposed_conv3x3_s2_as_conv(x: tf.Tensor, kernel: tf.Tensor, shuffle: str = "slice_concat") -> tf.Tensor:
    """``tf.nn.conv2d_transpose(x, kernel, output (N,2h,2w,Cout), strides 2, SAME)`` without the op.

    Args:
        x: (N, h, w, Cin) float32 NHWC, static shape.
        kernel: (3, 3, Cout, Cin), the ``tf.nn.conv2d_transpose`` / Keras Conv2DTranspose layout.
        shuffle: how the phases are interleaved (:data:`~enet_edge.model.config.SHUFFLE_REALIZATIONS`).
    Returns:
        (N, 2h, 2w, Cout).
    """
    packed = tf.nn.conv2d(x, phase_kernel(kernel), strides=1, padding=_PADDING)
    return interleave_phases(packed, shuffle)


def transposed_conv3x3_s2_reference(x: tf.Tensor, kernel: tf.Tensor) -> tf.Tensor:
    """kwotsin's op: ``tf.nn.conv2d_transpose`` to twice the size, strides 2, SAME padding."""
    n, h, w, _ = (int(d) for d in x.shape)
    return tf.nn.conv2d_transpose(x, kernel, output_shape=(n, 2 * h, 2 * w, int(kernel.shape[2])),
                                  strides=2, padding="SAME")


class TransposedConv3x3(keras.layers.Conv2DTranspose):
    """3x3/2 SAME Conv2DTranspose (output twice the input) with a selectable realization.

    ``Realization.upsample``: ``transposed_conv`` runs ``tf.nn.conv2d_transpose`` (Conv2DBackpropInput,
    kwotsin's op); ``conv_interleave`` runs :func:`transposed_conv3x3_s2_as_conv`. Same weights.
    """

    def __init__(self, filters: int, realization: Realization, **kwargs):
        super().__init__(filters, 3, strides=2, padding="same", **kwargs)
        self.realization = realization

    def call(self, inputs):
        if self.realization.upsample == "transposed_conv":
            out = transposed_conv3x3_s2_reference(inputs, self.kernel)
        else:
            out = transposed_conv3x3_s2_as_conv(inputs, self.kernel, self.realization.shuffle)
        if self.use_bias:
            out = tf.nn.bias_add(out, self.bias)
        return out

    def compute_output_spec(self, inputs):
        n, h, w, _ = inputs.shape
        return keras.KerasTensor((n, 2 * h, 2 * w, self.filters), dtype=self.compute_dtype)


class ReverseChannels(keras.layers.Layer):
    """BGR <-> RGB: the last axis reversed with three one-channel slices and a Concat.

    Slices and Concat are ops every target has (ReverseV2 is not in the MYRIAD table); values are
    moved, not computed, so it is exact.
    """

    def call(self, x):
        channels = int(x.shape[-1])
        return tf.concat([x[..., c : c + 1] for c in reversed(range(channels))], axis=-1)
