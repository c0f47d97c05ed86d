"""Intel's accuracy_check reads enet-edge's logits IRs: a custom evaluator module, copied into each logits export.

Not imported by enet_edge: :func:`enet_edge.export.accuracy_check.write_accuracy_check` copies this file into an
export directory as ``enet_edge_accuracy_check.py`` and names it in ``accuracy-check.yml`` (``evaluations:``,
``module: enet_edge_accuracy_check.Evaluator``, ``python_path``: the export directory). accuracy_check
(``openvino-dev==2023.3.0``) imports it, which registers the adapter below, and evaluates the model with its own
launcher, reader, pre- and post-processing and ``mean_iou`` exactly as for a ``models:`` config.

Why: accuracy_check's ``segmentation`` adapter takes the output's layout from the *input's*
(``is_chw = input_shape[1] <= 4``): the IR takes a (1, H, W, 3) NHWC frame and gives (1, K, H, W) NCHW logits, so
it would arg-max the wrong axis. accuracy_check has no option that says the output's layout and loads no adapter
from a file except through a custom evaluator module, hence this file (docs/intel_tools.md).
"""

import numpy as np
from openvino.tools.accuracy_checker.adapters import Adapter
from openvino.tools.accuracy_checker.evaluators import ModelEvaluator
from openvino.tools.accuracy_checker.representation import SegmentationPrediction


class ChannelsFirstSegmentation(Adapter):
    """One frame's output (K, H, W) float logits, channels first -> (H, W) int64 class ids: the arg-max over axis 0
    (ties to the lowest class id, as numpy and enet-edge's runner), whatever layout the input has."""

    __provider__ = "segmentation_channels_first"
    prediction_types = (SegmentationPrediction,)

    def process(self, raw, identifiers, frame_meta):
        outputs = raw[0] if isinstance(raw, list) else raw
        self.select_output_blob(outputs)
        logits = outputs[self.output_blob]
        if logits.ndim != 4:
            raise ValueError("segmentation_channels_first expects (N, K, H, W) logits; output {} is {}".format(
                self.output_blob, logits.shape))
        return [SegmentationPrediction(identifier, np.argmax(frame, axis=0))
                for identifier, frame in zip(identifiers, logits)]


class Evaluator(ModelEvaluator):
    """accuracy_check's own model evaluator on ``module_config`` (launchers, datasets: a ``models:`` entry's)."""

    @classmethod
    def from_configs(cls, config, *args, **kwargs):
        name = (kwargs.get("orig_config") or {}).get("name", "enet")
        return super().from_configs(dict(config, name=name))

    @staticmethod
    def get_processing_info(config):
        return ModelEvaluator.get_processing_info(dict(config["module_config"], name=config["name"]))

    def print_metrics(self, ignore_results_formatting=False, ignore_metric_reference=False):
        return self.print_metrics_results(ignore_results_formatting, ignore_metric_reference)
