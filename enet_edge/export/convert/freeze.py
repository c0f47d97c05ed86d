"""Freeze a Keras ENet into a TensorFlow GraphDef and take its op inventory.

The frozen graph has one input node ``image`` (Placeholder, float32, (N,H,W,3) NHWC BGR 0..255)
and one output node ``logits`` ((N,H,W,classes) float32 NHWC); no variables, no training ops
(dropout is the identity in inference), batch norm reduced to constant Mul/Add by constant folding.
"""

from __future__ import annotations

import collections
from typing import Dict, List, Set

import tensorflow as tf
from tensorflow.core.protobuf import config_pb2, meta_graph_pb2, rewriter_config_pb2
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2
from tensorflow.python.grappler import tf_optimizer

from enet_edge.model.config import ENetConfig, Realization
from enet_edge.model.enet import INPUT_NAME, OUTPUT_NAME
from enet_edge.resources import load_table

GraphDef = tf.compat.v1.GraphDef

# The TF1-style graph utilities we rely on (extract_sub_graph, wrap_function) log deprecation
# warnings on every call; they are stable in TF 2.x and the noise hides our own progress lines.
tf.get_logger().setLevel("ERROR")


def _fold_constants(graph_def: GraphDef, outputs: List[str]) -> GraphDef:
    """Run grappler's constant folding only (BN statistics -> one constant per Mul/Add)."""
    graph = tf.Graph()
    with graph.as_default():
        tf.import_graph_def(graph_def, name="")
        meta = tf.compat.v1.train.export_meta_graph(graph=graph)
    fetch = meta_graph_pb2.CollectionDef()
    fetch.node_list.value.extend(outputs)
    meta.collection_def["train_op"].CopyFrom(fetch)
    config = config_pb2.ConfigProto()
    rewrite = config.graph_options.rewrite_options
    rewrite.optimizers[:] = ["constfold"]
    rewrite.meta_optimizer_iterations = rewriter_config_pb2.RewriterConfig.ONE
    return tf_optimizer.OptimizeGraph(config, meta, graph_id=b"enet")


def freeze_model(model, config: ENetConfig) -> GraphDef:
    """Freeze ``model`` (built for ``config``) for inference.

    Returns a GraphDef with input node ``image`` and output node ``logits``; all shapes static.
    """

    @tf.function(input_signature=[tf.TensorSpec(config.input_shape, tf.float32, name=INPUT_NAME)])
    def serve(image):
        return tf.identity(model(image, training=False), name=OUTPUT_NAME)

    frozen = convert_variables_to_constants_v2(serve.get_concrete_function())
    graph_def = tf.compat.v1.graph_util.extract_sub_graph(frozen.graph.as_graph_def(), [OUTPUT_NAME])
    graph_def = _fold_constants(graph_def, [OUTPUT_NAME])
    return tf.compat.v1.graph_util.extract_sub_graph(graph_def, [OUTPUT_NAME])


def op_inventory(graph_def: GraphDef) -> Dict[str, int]:
    """Count of nodes per op type, sorted by op type."""
    counts = collections.Counter(node.op for node in graph_def.node)
    return dict(sorted(counts.items()))


def realization_allowlist(realization: Realization, flavour: str = "paper") -> Set[str]:
    """TF op types a frozen graph of ``realization`` (of architecture ``flavour``) may contain
    (from ``data/realization_ops.toml``)."""
    table = load_table("realization_ops")
    allowed = set(table["base"]["ops"]) | set(table["flavour"][flavour]["ops"])
    allowed |= set(table["prelu"][realization.prelu]["ops"])
    allowed |= set(table["switches"][realization.switches]["ops"])
    allowed |= set(table["upsample"][realization.upsample]["ops"])
    allowed |= set(table["initial"][realization.initial]["ops"])
    if realization.switches == "argmax_free" or realization.upsample == "conv_interleave":  # what splits phases
        allowed |= set(table["shuffle"][realization.shuffle]["ops"])
    return allowed


def realization_forbidden(realization: Realization) -> Set[str]:
    """TF op types a realization promises never to contain."""
    table = load_table("realization_ops")
    forbidden: Set[str] = set()
    forbidden |= set(table["forbidden"].get(realization.switches, {}).get("ops", ()))
    if realization.prelu == "relu_only":
        forbidden |= set(table["forbidden"]["relu_only"]["ops"])
    return forbidden


def unknown_shapes(graph_def: GraphDef) -> List[str]:
    """Names of tensors whose shape is not fully static (empty for a good export)."""
    graph = tf.Graph()
    with graph.as_default():
        tf.import_graph_def(graph_def, name="")
    bad = []
    for op in graph.get_operations():
        for out in op.outputs:
            if not out.shape.is_fully_defined():
                bad.append(out.name)
    return bad
