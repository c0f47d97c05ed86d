"""What an export is checked against: the op-table gates (:mod:`.gates`), parity against TensorFlow (:mod:`.parity`)
with its metrics and a target's thresholds (:mod:`.thresholds`), the FP16 range audit (:mod:`.fp16_range`) and the
checks made before building (:mod:`.preflight`)."""
