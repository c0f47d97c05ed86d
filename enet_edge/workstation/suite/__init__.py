"""``make bench``: ENet on every runtime and precision of this machine, interleaved in one run.

Variants (one table row each; see :data:`VARIANTS`): TensorFlow (the Keras model from the trained weights
and the frozen graph), ONNX Runtime FP32, OpenVINO FP32 / BF16 / FP16 (the last two only where the CPU
computes in them), the ncs2 FP16 IR run on the CPU (FP16 weights, f32 arithmetic: the price of
Movidius-safety next to the cpu realization), OpenVINO INT8 (``cpu-int8``), and the class-map exports
(the arg-max inside the IR) of FP32, BF16 and INT8.

For every input size, the artifacts are exported (or reused when they were exported from the same
weights, realization, quantization settings and output) under ``build/bench/<H>x<W>/<target>/``; then, per
mode (latency: 1 synchronous request; throughput: asynchronous requests, OpenVINO THROUGHPUT hint), all
variants are measured in interleaved rounds by :func:`enet_edge.device.bench.run_bench`, so that machine
drift hits every variant alike. The mIoU column is measured on CamVid val through the same runner at the
first size.

Writes ``<out_dir>/<date>-<cpu>.json`` (everything), ``.md`` (tables with ratios to the
TensorFlow graph) and ``.png`` (latency distributions, latency vs mIoU, scaling with input size), and
puts the markdown between the ``<!-- bench:start -->`` / ``<!-- bench:end -->`` markers of
benchmarks/results/README.md (the latest results, linked from the top README).

Modules: :mod:`.config` (variants, goals, :class:`~.config.SuiteConfig`), :mod:`.run` (exports and measuring),
:mod:`.report` (goals, recommendation, markdown, files), :mod:`.plot` (the PNG), :mod:`.kinds` (the CPU kinds
below this machine's, each in a capped process: :mod:`.kind_child`), :mod:`.cli` (``benchmarks/run.py``).
"""
