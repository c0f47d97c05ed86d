"""The conversions of an export: TensorFlow freeze (:mod:`.freeze`), ONNX and OpenVINO IR (:mod:`.onnx_ir`) and INT8
post-training quantization (:mod:`.quantize`). Workstation code: TensorFlow, tf2onnx, OpenVINO, NNCF."""
