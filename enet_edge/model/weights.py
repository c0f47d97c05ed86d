"""ENet weights: one ``.npz``, keyed by stable variable path, loadable without pickle.

Keys are Keras variable paths, e.g. ``bottleneck1_1_regular_conv1/kernel`` (trainable variables and
BN statistics), plus two JSON string entries: the :class:`~enet_edge.model.config.ENetConfig`
(``__enet_config__``) and free-form metadata (``__enet_meta__``: epoch, val mIoU, ...). Weights are
size-free: one file builds into any input size and any realization.

Reading a file needs only numpy; building a model from it (:func:`load_enet`) needs Keras.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Dict, Optional, Tuple

import numpy as np

from enet_edge.errors import ArtifactError, ConfigError
from enet_edge.fileio import atomic_savez
from enet_edge.model.config import ENetConfig, Realization

if TYPE_CHECKING:  # Keras only for the annotations: importing this module does not import TensorFlow
    import keras

CONFIG_KEY = "__enet_config__"
META_KEY = "__enet_meta__"


def get_weights(model: "keras.Model") -> Dict[str, np.ndarray]:
    """All variables (trainable and BN statistics) by stable path, e.g. ``bottleneck1_1_regular_conv1/kernel``."""
    return {v.path: np.asarray(v.numpy()) for v in model.weights}


def set_weights(model: "keras.Model", weights: Dict[str, np.ndarray], source: str = "weights") -> None:
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


def save_weights(model: "keras.Model", path, config: ENetConfig, meta: Optional[dict] = None) -> Path:
    """Write ``model``'s weights and config to an ``.npz`` (atomically: temp file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = get_weights(model)
    arrays[CONFIG_KEY] = np.array(json.dumps(config.to_dict()))
    arrays[META_KEY] = np.array(json.dumps(meta or {}))
    return atomic_savez(path, arrays)


def write_weights(path, arrays: Dict[str, np.ndarray], config: ENetConfig, meta: Optional[dict] = None) -> Path:
    """Write weights given as arrays by variable path (e.g. imported ones), like :func:`save_weights`."""
    arrays = {k: np.asarray(v, np.float32) for k, v in arrays.items()}
    arrays[CONFIG_KEY] = np.array(json.dumps(config.to_dict()))
    arrays[META_KEY] = np.array(json.dumps(meta or {}))
    return atomic_savez(Path(path), arrays)


def read_weights(path, flag: str = "weights file") -> Tuple[Dict[str, np.ndarray], ENetConfig, dict]:
    """Read an ``.npz`` written by :func:`save_weights`: (weights by variable path, float arrays of the
    variables' shapes; the :class:`ENetConfig` stored with them; meta dict).

    Every problem is an :class:`ArtifactError` naming the file (and ``flag``, the option that gave it): missing,
    not an npz (zip) file, truncated, holding pickled objects, or without a valid ENet config entry."""
    path = Path(path)
    if not path.is_file():
        what = "is a directory, not" if path.is_dir() else "does not exist; give"
        raise ArtifactError(f"{flag} {path} {what} a weights .npz (from `enet-edge train`)")
    if not zipfile.is_zipfile(path):
        raise ArtifactError(f"cannot read weights: {flag} {path} is not an .npz file (not a zip archive: empty, truncated or another "
                            f"format); give a weights .npz written by `enet-edge train`")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except ValueError as exc:  # numpy refuses object arrays without allow_pickle
        if "pickle" not in str(exc):
            raise ArtifactError(f"cannot read weights: {flag} {path} is not a readable .npz ({exc}); give weights from `enet-edge train`") from exc
        raise ArtifactError(f"cannot read weights: {flag} {path} holds pickled Python objects; enet-edge weights are plain arrays "
                            f"(written by `enet-edge train`), and pickles are never loaded") from exc
    except (OSError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        raise ArtifactError(f"cannot read weights: {flag} {path} is a damaged .npz ({type(exc).__name__}: {exc}); is it a complete "
                            f"file from `enet-edge train`?") from exc
    try:
        config = json.loads(str(arrays.pop(CONFIG_KEY)))
        meta = json.loads(str(arrays.pop(META_KEY, np.array("{}"))))
    except (KeyError, ValueError) as exc:
        raise ArtifactError(f"{flag} {path} has no ENet config entry ({CONFIG_KEY}); it was not written by "
                            f"enet-edge") from exc
    if not isinstance(config, dict) or not isinstance(meta, dict):
        raise ArtifactError(f"{flag} {path}: its {CONFIG_KEY}/{META_KEY} entries are not JSON objects")
    try:
        config = ENetConfig.from_dict(config)
    except (ConfigError, TypeError) as exc:
        raise ArtifactError(f"{flag} {path}: its ENet config is invalid ({exc})") from exc
    bad = sorted(k for k, v in arrays.items() if not np.issubdtype(v.dtype, np.number))
    if bad:
        raise ArtifactError(f"{flag} {path}: {bad[:3]} are not numeric arrays; not enet-edge weights")
    return arrays, config, meta


def load_enet(
    path, realization: Optional[Realization] = None, height: Optional[int] = None, width: Optional[int] = None,
    batch: Optional[int] = None, dtype_policy: Optional[str] = None,
) -> Tuple["keras.Model", ENetConfig, dict]:
    """Build ENet from a weights file, optionally at another static input size (weights are size-free).

    ``dtype_policy`` "float16": weights and activations in FP16 (the arithmetic of the NCS2).
    """
    weights, config, meta = read_weights(path)  # first: a bad file fails without importing TensorFlow
    from enet_edge.model.enet import build_enet

    changes = {k: v for k, v in (("height", height), ("width", width), ("batch", batch)) if v is not None}
    config = config.replace(**changes)
    model = build_enet(config, realization, dtype_policy=dtype_policy)
    set_weights(model, weights, source=str(path))
    return model, config, meta
