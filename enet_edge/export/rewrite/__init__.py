"""ONNX graph rewrites for the MYRIAD X compiler: graph helpers (:mod:`.graph`), the transpose sinking tf2onnx's
NHWC graph needs (:mod:`.layout`), the named rewrites a target lists (:mod:`.rewrites`) and the phase
(interleave / unpool) rewrites they use (:mod:`.phases`). Needs the ``onnx`` package when a rewrite runs."""
