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
