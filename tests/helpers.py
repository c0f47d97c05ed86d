"""Test-only helpers on top of the model and the frozen graph (not part of the package)."""

from typing import Iterable, List

import numpy as np

from enet_edge.model.enet import INPUT_NAME, OUTPUT_NAME


def layer_names(model) -> List[str]:
    """Names of every layer of a Keras model, in order."""
    return [layer.name for layer in model.layers]


def graph_def_function(graph_def, inputs: Iterable[str] = (INPUT_NAME,), outputs: Iterable[str] = (OUTPUT_NAME,)):
    """Wrap a frozen GraphDef as a callable ``f(*arrays) -> list of np.ndarray`` (run in TensorFlow)."""
    import tensorflow as tf

    inputs, outputs = list(inputs), list(outputs)

    def _import():
        tf.compat.v1.import_graph_def(graph_def, name="")

    wrapped = tf.compat.v1.wrap_function(_import, [])
    graph = wrapped.graph
    fn = wrapped.prune([graph.get_tensor_by_name(f"{n}:0") for n in inputs],
                       [graph.get_tensor_by_name(f"{n}:0") for n in outputs])

    def run(*arrays: np.ndarray) -> List[np.ndarray]:
        return [t.numpy() for t in fn(*[tf.constant(a) for a in arrays])]

    return run


class ENetBuilds:
    """ENet at one size with one set of seeded random weights (BN statistics calibrated), built and frozen at most
    once per realization: building and freezing ENet costs seconds whatever the input size, and several test
    modules need the same graphs. Treat the models and graphs as read-only."""

    def __init__(self, config, seed: int = 7):
        from enet_edge.model import enet
        from enet_edge.model.config import REFERENCE_REALIZATION
        from enet_edge.model.weights import get_weights

        self.config = config
        self.reference = enet.build_enet(config, REFERENCE_REALIZATION)
        enet.randomize_statistics(self.reference, seed)
        self.weights = get_weights(self.reference)
        self._models = {REFERENCE_REALIZATION: self.reference}
        self._frozen = {}

    def model(self, realization):
        """The Keras model of ``realization`` with the shared weights."""
        from enet_edge.model import enet
        from enet_edge.model.weights import set_weights

        if realization not in self._models:
            model = enet.build_enet(self.config, realization)
            set_weights(model, self.weights)
            self._models[realization] = model
        return self._models[realization]

    def frozen(self, realization):
        """The frozen GraphDef of :meth:`model` (``enet_edge.export.convert.freeze.freeze_model``)."""
        from enet_edge.export.convert import freeze

        if realization not in self._frozen:
            self._frozen[realization] = freeze.freeze_model(self.model(realization), self.config)
        return self._frozen[realization]


def throwaway_venv(root, *pip_args: str, timeout: int = 900):
    """A venv in ``root`` (no pip of its own) into which ``.venv``'s pip installs ``pip_args`` without dependencies
    (each tool's requirements are pinned by the test); returns the venv's Python. Intel's tools are tested there,
    with no enet-edge code on their path."""
    import subprocess
    import sys
    import venv
    from pathlib import Path

    venv.create(Path(root) / "venv", with_pip=False, clear=True)
    python = Path(root) / "venv" / "bin" / "python"
    done = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
                           "--disable-pip-version-check", *pip_args], capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return python
