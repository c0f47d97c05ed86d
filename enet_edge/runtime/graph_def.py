"""Read and write frozen GraphDefs without importing Keras (TensorFlow protobufs only).

They live with the TensorFlow backend (:mod:`enet_edge.runtime.adapters.tensorflow`), the one runtime
module allowed to import TensorFlow (inside functions); this name stays for existing callers.
"""

from enet_edge.runtime.adapters.tensorflow import parse_graph_def, write_graph_def  # noqa: F401
