"""Workstation side: freeze, convert, quantize, gate and parity-check an export (TensorFlow lazily).

The pipeline (:mod:`.pipeline`) reads its target (:mod:`.targets`) and runs the stages: :mod:`.convert` (TF freeze,
ONNX and IR conversion, INT8), :mod:`.rewrite` (the ONNX graph rewrites for the MYRIAD X compiler), :mod:`.checks`
(gates, parity, FP16 range, preflight), :mod:`.myriad` (the stick's own compiler and its compiled graphs); then
:mod:`.report` and :mod:`.outdir` write the directory. :mod:`.cli`: ``enet-edge export`` and ``check``."""
