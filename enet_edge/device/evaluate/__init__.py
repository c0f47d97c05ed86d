"""``enet-edge eval``: mIoU and friends of any model form on a CamVid split, through the device runner.

MODEL is an export directory (manifest and sha256 verified), an OpenVINO IR ``.xml``, an ``.onnx``, a
frozen ``.pb`` or trained weights ``.npz``. Every form runs through
:class:`~enet_edge.runtime.Segmenter`, the runner a device uses: a frame (H0, W0, 3) uint8 BGR is
resized to the model's input size, inferred by an :class:`~enet_edge.runtime.InferenceAdapter`, and
its class map is resized back with nearest-neighbour to the frame (= label) size. The confusion
matrix is always accumulated at the label resolution, void (label 11) ignored, so the number printed
for an export is the exported model's number.

This module imports without TensorFlow (a device user evaluates IRs); only ``.npz`` weights import
it, in :class:`~enet_edge.model.keras_adapter.KerasWeightsAdapter`. The confusion-matrix PNG needs matplotlib.

Modules: :mod:`.config`, :mod:`.report`, :mod:`.run`, :mod:`.cli`. Everything public is importable from here.
"""

from enet_edge.device.evaluate.cli import add_cli, run_cli
from enet_edge.device.evaluate.config import (DEFAULT_OUT_DIR, EVAL_BACKENDS, EvalConfig, EvalResult, METRIC_CLASSES,
                                              confusion_png_path, model_name)
from enet_edge.device.evaluate.report import format_result, plot_confusion, row_normalize, write_json
from enet_edge.device.evaluate.run import check_model_classes, evaluate, open_segmenter

__all__ = ["DEFAULT_OUT_DIR", "EVAL_BACKENDS", "EvalConfig", "EvalResult", "METRIC_CLASSES", "add_cli",
    "check_model_classes", "confusion_png_path", "evaluate", "format_result", "model_name", "open_segmenter",
    "plot_confusion", "row_normalize", "run_cli", "write_json"]
