"""Inference backends behind one small interface (OpenVINO, ONNX Runtime, TensorFlow frozen graph, Keras weights).

Task logic (pre/post-processing, benchmark, demo, evaluation) talks to :class:`InferenceAdapter`
only and never imports a concrete backend: :func:`open_adapter` looks the backend up in the table
(:mod:`enet_edge.runtime.backends`), checks file, device and precision there, and only then loads
the backend's adapter class by the row's factory string. Backends import their framework when a
model is opened, so this package imports with numpy alone; the adapter classes are attributes
loaded on first use (``adapters.OpenVINOAdapter``).

Tensors are NHWC. An adapter's :attr:`input_spec` says what it takes: the OpenVINO IR exported by
enet-edge takes uint8 BGR (1,H,W,3); ONNX and frozen graphs take float32 BGR 0..255 (1,H,W,3).
Every adapter returns the model's output as it is: logits (1,K,H,W) NCHW (ONNX and IR exports) or (1,H,W,K) NHWC
(TensorFlow, Keras, earlier exports), or a class map (1,H,W).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from enet_edge.errors import ArtifactError, ConfigError
from enet_edge.runtime.adapters.base import InferenceAdapter, LayerCounter, TensorSpec
from enet_edge.runtime.adapters.openvino_core import (
    MYRIAD_HELP,
    VIRTUAL_DEVICES,
    import_openvino,
    openvino_capabilities,
    openvino_devices,
    openvino_version,
    ov_message,
)
from enet_edge.runtime.backends import BACKENDS, KERAS_BACKEND, TABLE, backend, backend_for
from enet_edge.runtime.precision import PRECISION_PROPERTY, check_device_precision

__all__ = [
    "BACKENDS", "KERAS_BACKEND", "MYRIAD_HELP", "VIRTUAL_DEVICES", "InferenceAdapter", "LayerCounter", "TensorSpec",
    "import_openvino", "open_adapter", "open_artifact", "openvino_capabilities", "openvino_devices", "openvino_version",
    "ov_message",
]


def open_adapter(path, backend: Optional[str] = None, device: str = "CPU", **options) -> InferenceAdapter:
    """Open ``path`` (.xml, .onnx, .pb, .npz) with ``backend`` (default: by file type; .onnx -> onnxruntime).

    The one place that checks a model before it is loaded: the file (type, sidecar), the device and
    the precision (the backend's, and the device's own: MYRIAD computes in f16 only), and the options
    (the row's :attr:`~enet_edge.runtime.backends.Backend.options`; build them with
    :func:`~enet_edge.runtime.backends.adapter_options`). ``precision``: every backend; an OpenVINO
    ``config`` holding ``INFERENCE_PRECISION_HINT`` asks for that precision too.
    """
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"model file {path} does not exist")
    row = backend_for(path) if backend is None else _backend(backend)
    row.check_file(path)
    unknown = sorted(set(options) - set(row.options) - {"precision"})
    if unknown:
        raise ConfigError(f"the {row.name} backend takes no option {', '.join(unknown)}; it takes "
                          f"{', '.join(('precision',) + row.options)}")
    asked = options.pop("precision", None)
    if options.get("config") and PRECISION_PROPERTY in options["config"]:
        config = dict(options["config"])
        asked = asked or config.pop(PRECISION_PROPERTY)
        options["config"] = config
    device = row.check_device(device)
    precision = check_device_precision(device, row.check_precision(asked))
    return row.load()(path, device, precision=precision, **options)


def open_artifact(artifact, device: str = "CPU", **options) -> InferenceAdapter:
    """:func:`open_adapter` for a resolved :class:`~enet_edge.runtime.manifest.Artifact`, with the plugin config its
    export compiled with for ``device`` (:meth:`~enet_edge.runtime.manifest.Artifact.device_config`: on MYRIAD the
    manifest's ``myriad_compiler.options``) under the caller's own ``config`` (a key the caller sets wins). A
    backend without a ``config`` option gets none (ONNX Runtime, TensorFlow): the options are OpenVINO's."""
    extra = artifact.device_config(device)
    if extra and "config" in _backend(artifact.backend).options:
        options["config"] = {**extra, **(options.get("config") or {})}
    return open_adapter(artifact.path, backend=artifact.backend, device=device, **options)


_backend = backend  # open_adapter's parameter shadows the table's function


def __getattr__(name: str):
    """An adapter class by its name (``OpenVINOAdapter``), loaded through its row's factory on first use."""
    for row in TABLE:
        if row.factory.rpartition(":")[2] == name:
            return row.load()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
