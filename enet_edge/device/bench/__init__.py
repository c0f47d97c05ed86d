"""``enet-edge bench``: latency/throughput of exported models, infer-only and end-to-end.

Imports without TensorFlow (numpy, OpenCV and an inference runtime only). The command line part
(:func:`add_cli`) turns arguments into a frozen :class:`BenchConfig`; :func:`run_bench` measures and
returns :class:`BenchResult` objects; formatting happens only at output (:func:`format_report`,
:func:`format_compare`, :func:`result_document`).

Two timed phases per model, each ``niter`` iterations (or ``time_s`` seconds):

* **infer-only**: pre-processed input tensors (1, H, W, 3) NHWC fed back to back, output not
  fetched; what OpenVINO's ``benchmark_app`` measures.
* **end-to-end**: read a frame (an image file from ``--images`` or an in-memory random frame),
  pre-process (resize to the model, dtype), infer, post-process (argmax class map, resized back
  to the frame size).

Latency mode runs one request synchronously; throughput mode keeps ``nireq`` requests in flight
(OpenVINO ``AsyncInferQueue``; other backends run synchronously). With several entries
(``--compare``) every model is loaded first, then the timed iterations run in interleaved rounds
(round 1: A, B, C; round 2: A, B, C; ...), so that machine drift affects all entries alike.

All samples are ``time.perf_counter_ns`` integers; statistics are computed on nanoseconds and
converted to milliseconds only for output.

Modules: :mod:`.config` (entries, :class:`BenchConfig`), :mod:`.measure` (:func:`run_bench`),
:mod:`.results` (:class:`Stats`, :class:`BenchResult`), :mod:`.report` (JSON documents, text),
:mod:`.machine` (:func:`machine_info`), :mod:`.cli` (argparse). Everything public is importable from here.
"""

from enet_edge.device.bench.cli import add_cli, config_from_args, run_cli
from enet_edge.device.bench.config import (DEFAULT_NITER, DEFAULT_ROUNDS, ENTRY_SYNTAX, HINTS, MODES, PER_LAYER_RUNS,
                                         SCHEMA, STAGES, BenchConfig, BenchEntry, parse_entry)
from enet_edge.device.bench.machine import cpuinfo, machine_info
from enet_edge.device.bench.measure import FrameSource, run_bench
from enet_edge.device.bench.report import (LayerTypeTotal, compare_document, executed_layers, format_compare,
                                         format_per_layer, format_report, is_myriad, per_layer_by_type,
                                         precision_label, result_document, time_model_document, time_model_line,
                                         write_json)
from enet_edge.device.bench.results import BenchResult, PhaseResult, Stats
from enet_edge.progress import format_ms

__all__ = [
    "DEFAULT_NITER", "DEFAULT_ROUNDS", "ENTRY_SYNTAX", "HINTS", "MODES", "PER_LAYER_RUNS", "SCHEMA", "STAGES",
    "BenchConfig", "BenchEntry", "BenchResult", "FrameSource", "LayerTypeTotal", "PhaseResult", "Stats",
    "add_cli", "compare_document", "config_from_args", "cpuinfo", "executed_layers", "format_compare", "format_ms",
    "format_per_layer", "format_report", "is_myriad", "machine_info", "parse_entry", "per_layer_by_type",
    "precision_label", "result_document", "run_bench", "run_cli", "time_model_document", "time_model_line",
    "write_json",
]
