"""The opencv backend's pieces (enet_edge/runtime/adapters/opencv_dnn.py): its ONNX I/O reader, the DNN plan per
device and precision against what a cv2 build offers (fake builds: with OpenVINO inside, with CPU FP16), its
one-line messages. Its runs against the IR: test_backends.py's loops over the table."""

import types
from pathlib import Path

import numpy as np
import pytest

from enet_edge.errors import ArtifactError, DeviceError
from enet_edge.runtime import open_adapter
from enet_edge.runtime.adapters import opencv_dnn
from enet_edge.runtime.adapters.opencv_dnn import cv2_message, dnn_plan, dnn_targets, import_cv2, read_onnx_io


def _fake_cv2(targets, version="4.8.1"):
    """A cv2 whose dnn lists ``targets`` ({backend name: (target names)}) as getAvailableTargets would."""
    ids = {"DNN_BACKEND_OPENCV": 3, "DNN_BACKEND_INFERENCE_ENGINE": 2, "DNN_TARGET_CPU": 0, "DNN_TARGET_MYRIAD": 3,
           "DNN_TARGET_CPU_FP16": 10}

    class Error(Exception):
        pass

    def available(backend_id):
        name = next(n for n, i in ids.items() if n.startswith("DNN_BACKEND") and i == backend_id)
        return [ids[t] for t in targets.get(name, ())]

    dnn = types.SimpleNamespace(getAvailableTargets=available, readNetFromONNX=None, **ids)
    return types.SimpleNamespace(__version__=version, dnn=dnn, error=Error)


def test_import_cv2_has_the_onnx_reader():
    cv2 = import_cv2()
    assert hasattr(cv2.dnn, "readNetFromONNX") and "DNN_TARGET_CPU" in dnn_targets(cv2, "DNN_BACKEND_OPENCV")
    assert dnn_targets(cv2, "DNN_BACKEND_NO_SUCH") == ()


@pytest.mark.parametrize("device, precision, targets, plan", [
    ("CPU", None, {"DNN_BACKEND_OPENCV": ("DNN_TARGET_CPU",)}, ("DNN_BACKEND_OPENCV", "DNN_TARGET_CPU", "f32")),
    ("cpu", "f16", {"DNN_BACKEND_OPENCV": ("DNN_TARGET_CPU", "DNN_TARGET_CPU_FP16")},
     ("DNN_BACKEND_OPENCV", "DNN_TARGET_CPU_FP16", "f16")),
    ("MYRIAD", None, {"DNN_BACKEND_INFERENCE_ENGINE": ("DNN_TARGET_CPU", "DNN_TARGET_MYRIAD")},
     ("DNN_BACKEND_INFERENCE_ENGINE", "DNN_TARGET_MYRIAD", "f16")),
])
def test_dnn_plan_where_the_build_has_it(device, precision, targets, plan):
    assert dnn_plan(_fake_cv2(targets), device, precision) == plan


@pytest.mark.parametrize("device, precision, says", [
    ("MYRIAD", None, r"MYRIAD is not among OpenCV 4\.8\.1's DNN targets \(DNN_BACKEND_INFERENCE_ENGINE: none\): "
                     r"pip's opencv-python has no OpenVINO inside; .*--backend openvino -d MYRIAD"),
    ("CPU", "f16", r"OpenCV 4\.8\.1 has no DNN_TARGET_CPU_FP16 on this CPU \(its CPU targets: DNN_TARGET_CPU\): "
                   r"ask for f32"),
    ("MYRIAD", "f32", "not MYRIAD in f32"), ("GPU", None, "not GPU in f32"),
])
def test_dnn_plan_says_what_to_change(device, precision, says):
    with pytest.raises(DeviceError, match=says) as info:
        dnn_plan(_fake_cv2({"DNN_BACKEND_OPENCV": ("DNN_TARGET_CPU",)}), device, precision)
    assert "\n" not in str(info.value)


def test_cv2_message_is_one_line():
    where = ("OpenCV(4.5.5) /io/opencv/modules/dnn/src/onnx/onnx_importer.cpp:928: error: (-2:Unspecified error) in "
             "function 'handleNode'\n> Node [Where@ai.onnx]:(pool/Select:0) parse error: OpenCV(4.5.5) "
             "/io/opencv/modules/dnn/src/dnn.cpp:621: error: (-2:Unspecified error) Can't create layer "
             "\"pool/Select:0\" of type \"Where\" in function 'getLayerInstance'\n")
    assert cv2_message(RuntimeError(where)) == ("node Where 'pool/Select:0': Can't create layer \"pool/Select:0\" of "
                                                "type \"Where\"")
    plain = "OpenCV(5.0.0) /src/net.cpp:12: error: (-215:Assertion failed) total > 0 in function 'x'\n"
    assert cv2_message(RuntimeError(plain)) == "total > 0 in function 'x'"
    assert cv2_message(RuntimeError("")) == "RuntimeError"


def test_read_onnx_io_matches_the_onnx_package(tiny_export_dir, tmp_path):
    onnx = pytest.importorskip("onnx")
    path = Path(tiny_export_dir) / "enet.onnx"
    inputs, outputs = read_onnx_io(path)
    model = onnx.load(str(path))
    initializers = {t.name for t in model.graph.initializer}
    for specs, infos in ((inputs, [i for i in model.graph.input if i.name not in initializers]),
                         (outputs, model.graph.output)):
        assert [s.name for s in specs] == [i.name for i in infos]
        assert [s.shape for s in specs] == [tuple(d.dim_value for d in i.type.tensor_type.shape.dim) for i in infos]
        assert [s.dtype for s in specs] == [onnx.helper.tensor_dtype_to_np_dtype(i.type.tensor_type.elem_type).name
                                            for i in infos]
    # truncated, another format, a dynamic shape: one line each
    truncated = tmp_path / "t.onnx"
    truncated.write_bytes(path.read_bytes()[:len(path.read_bytes()) // 2])
    with pytest.raises(ArtifactError, match="is not a readable ONNX model"):
        read_onnx_io(truncated)
    (tmp_path / "x.onnx").write_bytes(b"<?xml version='1.0'?><net/>")
    with pytest.raises(ArtifactError, match="is not a readable ONNX model"):
        read_onnx_io(tmp_path / "x.onnx")
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "batch"
    onnx.save(model, str(tmp_path / "dyn.onnx"))
    with pytest.raises(ArtifactError, match="has a dynamic shape \\['batch', "):
        read_onnx_io(tmp_path / "dyn.onnx")


def test_the_adapter_reports_what_ran(tiny_export_dir, tmp_path):
    adapter = open_adapter(Path(tiny_export_dir) / "enet.onnx", backend="opencv")
    assert adapter.precision == "f32" and adapter.precision_run.label == "f32 (CPU's default)"
    assert adapter.properties()["dnn_backend"] == "DNN_BACKEND_OPENCV"
    assert adapter.properties()["dnn_target"] == "DNN_TARGET_CPU" and adapter.load_ms > 0
    out = adapter.infer(np.zeros(adapter.input_spec.shape, np.float32))
    assert out.shape == adapter.output_spec.shape and out.dtype == np.float32
    # a graph OpenCV cannot read: one line naming what to change
    bad = tmp_path / "bad.onnx"
    bad.write_bytes((Path(tiny_export_dir) / "enet.onnx").read_bytes()[:-40])
    with pytest.raises(ArtifactError) as info:
        open_adapter(bad, backend="opencv")
    assert "\n" not in str(info.value)


def test_opencv_is_chosen_by_name_only(tiny_export_dir):
    """The export's onnx runs with onnxruntime unless opencv is asked for (opencv owns no artifact kind)."""
    from enet_edge.runtime import resolve_artifact
    from enet_edge.runtime.backends import backend_for

    assert backend_for(Path("m.onnx")).name == "onnxruntime"
    artifact = resolve_artifact(tiny_export_dir, "opencv")
    assert (artifact.backend, artifact.kind, artifact.path.name) == ("opencv", "onnx", "enet.onnx")
    assert opencv_dnn.OpenCVDNNAdapter.backend == "opencv"
