"""What a user would run instead of an enet-edge export: the peers ``make bench`` measures beside our variants.

* **OpenVINO's direct conversion** of the Keras model (``ov.convert_model(keras_model)`` then ``ov.save_model``,
  with its defaults: FP16-compressed weights, f32 input, no ONNX step, no pre-processing baked in), in three
  realizations of the same weights: the seed's (kwotsin/TensorFlow-ENet: ``max_pool_with_argmax`` +
  ``scatter_nd``), the default :class:`~enet_edge.model.config.Realization`, and the cpu target's.
* **LiteRT** (``ai-edge-litert``): ``tf.lite.TFLiteConverter.from_keras_model`` (f32, default optimizations off),
  run by the LiteRT interpreter with XNNPACK at the machine's threads.

Each peer file is made from the trained weights at the bench size under ``build/bench/<H>x<W>/peers/<name>/`` and
reused while its key (weights' sha256, size, realization, converter versions) holds. A conversion runs in a process
of its own (``python -m enet_edge.workstation.suite.peers NAME WEIGHTS HEIGHT WIDTH OUT``): the Keras model and the
converters' graphs would otherwise stay in the suite's memory for the rest of the run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Tuple

from enet_edge.errors import ArtifactError, DeviceError
from enet_edge.fileio import sha256_file
from enet_edge.model.config import REFERENCE_REALIZATION, Realization
from enet_edge.runtime.isa import environ_for


@dataclass(frozen=True)
class Peer:
    """One peer: ``converter`` ``openvino`` (an IR run by the openvino backend) or ``litert`` (a ``.tflite`` run
    by the litert backend); ``realization``: a :class:`Realization` or an export target's name (its realization)."""

    name: str
    title: str
    converter: str
    realization: object  # Realization | str

    def resolved_realization(self) -> Realization:
        if isinstance(self.realization, Realization):
            return self.realization
        from enet_edge.export.targets import load_target

        return load_target(str(self.realization)).realization

    @property
    def backend(self) -> str:
        return self.converter

    @property
    def file(self) -> str:
        return "enet.xml" if self.converter == "openvino" else "enet.tflite"


PEERS: Tuple[Peer, ...] = (
    Peer("peer-ov-seed", "ov.convert_model(Keras), the seed's realization (max_pool_with_argmax + scatter_nd)",
         "openvino", REFERENCE_REALIZATION),
    Peer("peer-ov-default", "ov.convert_model(Keras), the default realization", "openvino", Realization()),
    Peer("peer-ov-cpu", "ov.convert_model(Keras), the cpu target's realization (no ONNX step)", "openvino", "cpu"),
    Peer("peer-litert", "LiteRT (XNNPACK, f32), TFLiteConverter.from_keras_model, default realization", "litert",
         Realization()),
)
PEER_NAMES = tuple(peer.name for peer in PEERS)


def _versions(converter: str) -> dict:
    import tensorflow as tf

    if converter == "openvino":
        import openvino as ov

        return {"tensorflow": tf.__version__, "openvino": ov.__version__}
    return {"tensorflow": tf.__version__}


def convert(peer: Peer, weights: Path, size: Tuple[int, int], path: Path) -> None:
    """Write ``peer``'s model of ``weights`` at ``size`` (height, width), batch 1, to ``path``."""
    from enet_edge.model.weights import load_enet

    model, _, _ = load_enet(weights, realization=peer.resolved_realization(), height=size[0], width=size[1], batch=1)
    if peer.converter == "openvino":
        import openvino as ov

        ov.save_model(ov.convert_model(model), str(path))
        return
    import tensorflow as tf

    try:
        flat = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    except Exception as exc:  # noqa: BLE001 (the converter raises ConverterError, ValueError, RuntimeError...)
        raise ArtifactError(f"{peer.name}: TFLiteConverter failed: {str(exc).strip().splitlines()[0]}") from exc
    path.write_bytes(flat)


def ensure_peer(peer: Peer, weights: Path, size: Tuple[int, int], build_dir: Path,
                log: Callable[[str], None] = print) -> Path:
    """The model file of ``peer`` under ``build_dir/<H>x<W>/peers/<name>/``, made now unless its key holds.

    :class:`DeviceError` when the peer's converter is not installed here (the suite lists the peer as not run)."""
    try:
        key = {"weights": sha256_file(weights), "size": list(size), "realization": peer.resolved_realization().name,
               "converter": peer.converter, "versions": _versions(peer.converter)}
    except ImportError as exc:
        raise DeviceError(f"{peer.name} needs {exc.name or 'its converter'} installed") from exc
    out = Path(build_dir) / f"{size[0]}x{size[1]}" / "peers" / peer.name
    if (out / "key.json").is_file() and json.loads((out / "key.json").read_text()) == key and (out / peer.file).is_file():
        return out / peer.file
    log(f"converting {peer.name} at {size[0]}x{size[1]}: {peer.title}")
    tmp = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        command = [sys.executable, "-m", __name__, peer.name, str(weights), str(size[0]), str(size[1]),
                   str(tmp / peer.file)]
        done = subprocess.run(command, capture_output=True, text=True, env=environ_for(None, os.environ))
        if done.returncode != 0 or not (tmp / peer.file).is_file():
            why = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise ArtifactError(f"{peer.name}: the conversion failed: {why}")
        (tmp / "key.json").write_text(json.dumps(key, indent=2))
        shutil.rmtree(out, ignore_errors=True)
        tmp.replace(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out / peer.file


def peer_named(name: str) -> Optional[Peer]:
    return next((peer for peer in PEERS if peer.name == name), None)


def main(argv) -> int:
    """``NAME WEIGHTS HEIGHT WIDTH OUT``: :func:`convert` one peer (the process :func:`ensure_peer` starts)."""
    name, weights, height, width, out = argv
    peer = peer_named(name)
    if peer is None:
        print(f"unknown peer {name!r}; one of {', '.join(PEER_NAMES)}", file=sys.stderr)
        return 2
    try:
        convert(peer, Path(weights), (int(height), int(width)), Path(out))
    except ArtifactError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
