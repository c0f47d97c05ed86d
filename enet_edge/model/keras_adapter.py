"""Trained ``.npz`` weights behind the device interface: the keras backend (needs TensorFlow).

It builds the Keras model, so it lives on the workstation side; the backend table
(:mod:`enet_edge.runtime.backends`) names it by dotted path and imports it only when a ``.npz`` is
opened. TensorFlow and the network are imported inside :class:`KerasWeightsAdapter`, so this module
imports with numpy alone and a missing TensorFlow is a one-line :class:`DeviceError`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import numpy as np

from enet_edge.errors import DeviceError
from enet_edge.runtime.adapters.base import InferenceAdapter, TensorSpec
from enet_edge.runtime.backends import KERAS_BACKEND
from enet_edge.runtime.precision import PrecisionRun


class KerasWeightsAdapter(InferenceAdapter):
    """Trained weights (``.npz`` from ``enet-edge train``) built into Keras ENet, behind the device interface.

    Input: (1, H, W, 3) float32 BGR 0..255, like the ONNX and frozen-graph artifacts; output: logits
    (1, H, W, K) float32 NHWC. H, W default to the size stored with the weights. Built with the
    ``depth_to_space`` realization (the fastest on CPU; every realization computes the same function).
    ``precision`` "f16": Keras float16 dtype policy, weights and activations in FP16 (the NCS2's
    arithmetic, emulated where the hardware has no FP16). Opened through
    :func:`~enet_edge.runtime.adapters.open_adapter`, which checks the file, the device and the precision.
    """

    backend = KERAS_BACKEND

    def __init__(self, path, device: str = "CPU", height: Optional[int] = None, width: Optional[int] = None,
                 precision: Optional[str] = "f32"):
        path = Path(path)
        try:
            import tensorflow as tf
        except ImportError as exc:
            raise DeviceError("evaluating .npz weights needs TensorFlow (pip install 'enet-edge[export]'); "
                              "on a device, evaluate an export directory instead") from exc
        from enet_edge.model.config import Realization
        from enet_edge.model.weights import load_enet

        if not tf.config.list_logical_devices(device):
            raise DeviceError(f"TensorFlow sees no {device} here")
        start = time.perf_counter_ns()
        self._device = f"/{device}:0"
        with tf.device(self._device):
            model, config, meta = load_enet(path, realization=Realization(shuffle="depth_to_space"),
                                            height=height, width=width, batch=1,
                                            dtype_policy="float16" if precision == "f16" else None)
        self._fn = tf.function(lambda x: model(x, training=False), jit_compile=False)
        self._tf = tf
        self.meta = meta
        self.path, self.device, self.precision = str(path), device, precision
        self.precision_run = PrecisionRun(precision, precision, device=device)
        self.input_spec = TensorSpec("image", tuple(config.input_shape), "float32")
        self.output_spec = TensorSpec("logits", tuple(config.output_shape), "float32")
        self.load_ms = (time.perf_counter_ns() - start) / 1e6

    def infer(self, tensor: np.ndarray) -> np.ndarray:
        """(1, H, W, 3) float32 BGR 0..255 -> logits (1, H, W, K) float32."""
        tensor = self.check_input(tensor)
        with self._tf.device(self._device):
            return np.asarray(self._fn(self._tf.constant(tensor)).numpy(), np.float32)
