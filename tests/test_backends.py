"""The backend table (enet_edge/runtime/backends.py): every row's factory, suffixes, artifact file and
precisions agree with what open_adapter does, on tiny models built here (no export)."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from enet_edge.errors import ArtifactError, ConfigError, DeviceError
from enet_edge.runtime import InferenceAdapter, open_adapter
from enet_edge.runtime.backends import (
    ARTIFACT_FILES,
    BACKENDS,
    KINDS,
    TABLE,
    RunRequest,
    adapter_options,
    artifact_file,
    backend,
    backend_for,
    export_kind,
    find_backend,
    kind_backend,
)
from enet_edge.runtime.precision import PRECISIONS

from conftest import REPO

SIZE = (8, 16)  # (height, width) of the tiny models
HAS_TF = importlib.util.find_spec("tensorflow") is not None


def _tiny_ir(directory: Path) -> Path:
    import openvino as ov
    import openvino.opset8 as ops

    image = ops.parameter([1, *SIZE, 3], ov.Type.u8, name="image")
    x = ops.transpose(ops.convert(image, "f32"), ops.constant(np.array([0, 3, 1, 2], np.int64)))
    w = ops.constant(np.random.default_rng(0).normal(size=(12, 3, 3, 3)).astype(np.float32))
    y = ops.convolution(x, w, [1, 1], [1, 1], [1, 1], [1, 1])
    logits = ops.transpose(y, ops.constant(np.array([0, 2, 3, 1], np.int64)))
    logits.output(0).get_tensor().set_names({"logits"})
    path = directory / "tiny.xml"
    ov.save_model(ov.Model([logits], [image], "tiny"), str(path), compress_to_fp16=False)
    return path


def _tiny_onnx(directory: Path) -> Path:
    import onnx
    from onnx import TensorProto, helper

    shape = [1, *SIZE, 3]
    graph = helper.make_graph([helper.make_node("Identity", ["image"], ["logits"])], "g",
                              [helper.make_tensor_value_info("image", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, shape)])
    path = directory / "tiny.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8), str(path))
    return path


def _tiny_pb(directory: Path) -> Path:
    tf = pytest.importorskip("tensorflow")

    graph = tf.Graph()
    with graph.as_default():
        image = tf.compat.v1.placeholder(tf.float32, [1, *SIZE, 3], name="image")
        tf.identity(image * 2.0, name="logits")
    path = directory / "tiny.pb"
    path.write_bytes(graph.as_graph_def().SerializeToString())
    return path


def _tiny_tflite(directory: Path) -> Path:
    tf = pytest.importorskip("tensorflow")
    pytest.importorskip("ai_edge_litert")

    @tf.function(input_signature=[tf.TensorSpec([1, *SIZE, 3], tf.float32, name="image")])
    def double(image):
        return {"logits": image * 2.0}

    converter = tf.lite.TFLiteConverter.from_concrete_functions([double.get_concrete_function()], double)
    path = directory / "tiny.tflite"
    path.write_bytes(converter.convert())
    return path


def _weights(directory: Path) -> Path:
    pytest.importorskip("tensorflow")
    return REPO / "weights" / "enet_camvid.npz"  # built at a tiny size below (height/width options)


def _opencv_runs(precision) -> bool:
    """Whether the installed cv2 runs ``precision`` on the CPU (f16: only where it lists DNN_TARGET_CPU_FP16)."""
    from enet_edge.runtime.adapters.opencv_dnn import DNN_PLAN, dnn_targets, import_cv2

    backend_name, target = DNN_PLAN[("CPU", precision or "f32")]
    return target in dnn_targets(import_cv2(), backend_name)


MODELS = {"openvino": _tiny_ir, "onnxruntime": _tiny_onnx, "tensorflow": _tiny_pb, "litert": _tiny_tflite,
          "opencv": _tiny_onnx, "keras": _weights}
OPTIONS = {"keras": {"height": 16, "width": 24}}  # the weights' own size is 360x480
RUNS_HERE = {"opencv": _opencv_runs}
"""A listed precision the installed build may lack on this machine (refused in one line saying what to ask for)."""


def test_the_table_is_consistent():
    assert BACKENDS == ("openvino", "onnxruntime", "tensorflow", "litert", "opencv", "keras")
    assert set(MODELS) == set(BACKENDS)
    owners = [row for row in TABLE if row.kind]  # opencv owns no kind: it runs the onnx kind, by name only
    assert [row.name for row in TABLE if not row.kind] == ["opencv"]
    assert len(set(KINDS)) == len(KINDS) == len(owners)
    assert len({row.suffixes[0] for row in owners}) == len(owners)
    for row in TABLE:
        for kind in row.kinds:  # a backend reads the files of every kind it runs
            assert kind_backend(kind).suffixes[0] in row.suffixes
    assert ARTIFACT_FILES == {"openvino_ir": "enet.xml", "onnx": "enet.onnx", "tensorflow": "enet_frozen.pb"}


def test_export_targets_take_their_file_names_from_the_table():
    from enet_edge.export.targets import ARTIFACT_FILES as TARGET_FILES
    from enet_edge.export.targets import ARTIFACTS

    assert list(TARGET_FILES) == list(ARTIFACTS) and all(TARGET_FILES[k] == artifact_file(k) for k in ARTIFACTS)


@pytest.mark.parametrize("row", TABLE, ids=lambda row: row.name)
def test_every_backend_row(row, tmp_path):
    # the factory imports (never its framework: that is imported when a model is opened)
    factory = row.load()
    assert issubclass(factory, InferenceAdapter) and factory.backend == row.name
    # suffixes round-trip; a row owning no kind is no file type's default, but reads its kinds' files
    default = backend_for(Path("m" + row.suffixes[0].upper()))
    assert backend(row.name) is row and (default is row) == bool(row.kind)
    for suffix in row.suffixes:
        assert find_backend(Path("m" + suffix)).suffixes[0] == suffix
        if row.sidecar and suffix == row.sidecar[0]:
            with pytest.raises(ArtifactError, match=f"m{row.sidecar[1]} is missing next to m{suffix}"):
                row.check_file(tmp_path / f"m{suffix}")
        else:
            assert row.check_file(tmp_path / f"m{suffix}") == tmp_path / f"m{suffix}"
    assert row.reads_file(tmp_path / f"m{row.suffixes[0].upper()}") and not row.reads_file(tmp_path / "m.engine")
    # options: the request fields it takes, and precision; nothing it does not take
    request = RunRequest(precision="f32", nireq=4, hint="latency", perf_counters=True, threads=2, streams="auto")
    options = adapter_options(row.name, request)
    assert options["precision"] == "f32" and set(options) <= {"precision", *row.options}
    assert row.async_queue == (options.get("nireq") == 4)
    assert all(options[key] == getattr(request, key) for key in options)
    with pytest.raises(ConfigError, match=f"the {row.name} backend takes no option bogus"):
        open_adapter(_any_file(tmp_path, row), backend=row.name, bogus=1)
    # devices: CPU everywhere; MYRIAD only where the row lists any device (checked against the machine when opened)
    assert row.runs_on("cpu") and row.runs_on("MYRIAD") == (row.devices is None or "MYRIAD" in row.devices)
    # artifact files round-trip
    assert all(kind_backend(kind).reads_file(Path("m" + kind_backend(kind).suffixes[0])) for kind in row.kinds)
    if row.kind is None:
        assert row.artifact_file is None and row.also_runs
    else:
        assert kind_backend(row.kind) is row
    if row.artifact_file is not None:
        assert artifact_file(row.kind) == row.artifact_file and export_kind(Path(row.artifact_file)) == row.kind
        assert backend_for(Path(row.artifact_file)) is row
    elif row.kind is not None:
        with pytest.raises(ArtifactError, match="not an export artifact"):
            artifact_file(row.kind)
        assert export_kind(Path("m" + row.suffixes[0])) is None
    # precisions: open_adapter refuses what the row does not list, before loading anything; runs what it lists
    if row.needs_tensorflow and not HAS_TF:
        pytest.skip("TensorFlow is not installed")
    model = MODELS[row.name](tmp_path)
    options = OPTIONS.get(row.name, {})
    for precision in PRECISIONS:
        if precision in row.precisions:
            continue
        with pytest.raises(DeviceError, match=f"the {row.name} backend .*not {precision}"):
            open_adapter(model, backend=row.name, precision=precision, **options)
    asked = [None if p == row.default_precision else p for p in row.precisions]  # None: the default
    for precision in asked + ([None] if row.default_precision is None else []):
        if not RUNS_HERE.get(row.name, lambda p: True)(precision):
            with pytest.raises(DeviceError, match=f"ask for f32.*--backend openvino"):
                open_adapter(model, backend=row.name, precision=precision, **options)
            continue
        adapter = open_adapter(model, backend=row.name, precision=precision, **options)
        try:
            assert adapter.backend == row.name and isinstance(adapter, factory)
            assert adapter.precision_run.requested == (precision or row.default_precision)
            logits = adapter.infer(np.zeros(adapter.input_spec.shape, adapter.input_spec.dtype))
            assert logits.shape[:3] == adapter.input_spec.shape[:3] and logits.dtype == np.float32
        finally:
            adapter.close()
    # devices: a device the row does not list is refused (OpenVINO: any name, checked against the machine)
    with pytest.raises(DeviceError, match="CPU only|CPU or GPU|is not available|MYRIAD is not among"):
        open_adapter(model, backend=row.name, device="MYRIAD", precision="f16" if "f16" in row.precisions else None,
                     **options)
    # another backend's own file type is refused by name
    other = next(r for r in TABLE if r.suffixes[0] not in row.suffixes)
    wrong = tmp_path / f"wrong{other.suffixes[0]}"
    wrong.write_bytes(b"x")
    with pytest.raises(ArtifactError, match=f"the {row.name} backend reads {row.reads}, not {wrong.name}"):
        open_adapter(wrong, backend=row.name)


def _any_file(directory: Path, row) -> Path:
    """A file of the row's own type (content irrelevant: options are refused before anything is read)."""
    path = directory / f"any{row.suffixes[0]}"
    path.write_bytes(b"x")
    if row.sidecar:
        path.with_suffix(row.sidecar[1]).write_bytes(b"x")
    return path


def test_adapter_options_per_backend():
    request = RunRequest(precision="FP16", nireq=0, hint="throughput", perf_counters=True, threads=3, streams="2")
    assert request.precision == "f16" and request.hint == "THROUGHPUT"
    assert adapter_options("openvino", request) == {"precision": "f16", "nireq": 0, "hint": "THROUGHPUT",
                                                   "perf_counters": True, "threads": 3, "streams": "2"}
    assert adapter_options("onnxruntime", request) == {"precision": "f16", "threads": 3}
    assert adapter_options("tensorflow", request) == adapter_options("keras", request) == {"precision": "f16"}
    assert adapter_options("onnxruntime", RunRequest()) == {"precision": None, "threads": None}
    with pytest.raises(DeviceError, match="unknown backend"):
        adapter_options("tensorrt", request)


@pytest.mark.parametrize("bad, message", [
    ({"precision": "f64"}, "precision 'f64' is not one of"), ({"nireq": -1}, "nireq=-1 must be an integer >= 0"),
    ({"hint": "fast"}, "hint='FAST' must be one of LATENCY"), ({"threads": 0}, "threads=0 must be an integer >= 1"),
    ({"streams": "many"}, "streams='MANY' must be AUTO or a positive integer"),
])
def test_run_request_is_checked(bad, message):
    with pytest.raises(ConfigError, match=message):
        RunRequest(**bad)


def test_artifact_is_weights_by_kind():
    from enet_edge.runtime.manifest import Artifact

    assert Artifact(Path("w.npz"), "keras", backend("keras").kind).is_weights
    assert not any(Artifact(Path(row.suffixes[0]), row.name, row.kind).is_weights for row in TABLE if row.artifact_file)


def test_adapters_load_through_the_table_only():
    """Importing the adapters package loads no concrete adapter module; an adapter class loads by its row."""
    code = ("import sys; import enet_edge.runtime as r; loaded = sorted(m for m in sys.modules if m.startswith("
            "'enet_edge.runtime.adapters.') and m.rpartition('.')[2] in ('openvino', 'onnxruntime', 'tensorflow')); "
            "cls = r.OnnxRuntimeAdapter; print(loaded, cls.__module__)")
    assert _python(code) == "[] enet_edge.runtime.adapters.onnxruntime"


def _python(code: str) -> str:
    """What ``code`` prints in a fresh interpreter (nothing imported before it)."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


def test_unknown_backend_and_suffix_are_clear_errors(tmp_path):
    with pytest.raises(DeviceError, match="unknown backend 'tensorrt'; choose one of openvino, onnxruntime"):
        backend("tensorrt")
    with pytest.raises(ArtifactError, match=r"type '\.engine'; give an \.xml, \.onnx, \.pb, \.tflite or \.npz file"):
        backend_for(tmp_path / "m.engine")
    assert find_backend(tmp_path / "m.engine") is None and export_kind(tmp_path / "m.tflite") is None
    with pytest.raises(ArtifactError, match="unknown artifact kind"):
        kind_backend("tensorrt")


def test_an_ir_needs_its_bin(tmp_path):
    xml = _tiny_ir(tmp_path)
    xml.with_suffix(".bin").unlink()
    with pytest.raises(ArtifactError, match="tiny.bin is missing next to tiny.xml: the model is both files"):
        open_adapter(xml)


def test_openvino_is_looked_up_through_the_package_attribute(tmp_path, monkeypatch):
    """Tests simulate CPUs by replacing enet_edge.runtime.adapters.import_openvino; every OpenVINO use sees it."""
    import enet_edge.runtime.adapters as adapters

    def fake():
        raise DeviceError("simulated: no OpenVINO")

    xml = _tiny_ir(tmp_path)
    monkeypatch.setattr(adapters, "import_openvino", fake)
    with pytest.raises(DeviceError, match="simulated"):
        open_adapter(xml)
    with pytest.raises(DeviceError, match="simulated"):
        adapters.openvino_devices()


def test_the_table_imports_no_framework():
    code = ("import sys; import enet_edge.runtime.backends as b; b.backend('keras'); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('openvino', 'onnxruntime', 'tensorflow', "
            "'keras') or m.startswith('enet_edge.model')))")
    assert _python(code) == "[]"


def test_keras_weights_adapter_stays_reachable_from_the_runtime():
    import enet_edge.runtime as runtime

    assert runtime.KerasWeightsAdapter is backend("keras").load()
    with pytest.raises(AttributeError):
        runtime.NoSuchAdapter  # noqa: B018


def test_first_line_of_a_framework_error():
    from enet_edge.runtime.adapters.base import first_line

    assert first_line(RuntimeError("cannot load\n  at frame 3\n")) == "cannot load"
    assert first_line(ValueError()) == "ValueError"


ONNX_RUNNERS = tuple(row for row in TABLE if "onnx" in row.kinds)
"""Every backend that runs an export's enet.onnx (openvino, onnxruntime, opencv): the same function as its IR."""


def test_the_onnx_runners_are_read_from_the_table():
    assert [row.name for row in ONNX_RUNNERS] == ["openvino", "onnxruntime", "opencv"]


@pytest.mark.parametrize("row", ONNX_RUNNERS, ids=lambda row: row.name)
def test_every_onnx_runner_gives_the_ir_logits_on_noise(row, tiny_export_dir, rng):
    """Exactness on noise frames (no flat regions, so no arg-max near-ties): the export's ONNX through each backend
    that reads it gives the f32 IR's logits (uint8 NHWC into the IR, the same values as float32 into the ONNX)."""
    from enet_edge.runtime import resolve_artifact

    ir = open_adapter(Path(tiny_export_dir) / "enet.xml", precision="f32")
    artifact = resolve_artifact(tiny_export_dir, row.name)
    assert artifact.kind in row.kinds and artifact.backend == row.name
    onnx_run = open_adapter(Path(tiny_export_dir) / "enet.onnx", backend=row.name, precision="f32")
    try:
        assert onnx_run.input_spec.shape == ir.input_spec.shape and onnx_run.input_spec.dtype == "float32"
        assert onnx_run.output_spec.shape == ir.output_spec.shape and onnx_run.precision == "f32"
        for _ in range(3):
            frame = rng.integers(0, 256, ir.input_spec.shape, dtype=np.uint8)
            want, got = ir.infer(frame), onnx_run.infer(frame.astype(np.float32))
            assert got.shape == want.shape and got.dtype == np.float32
            assert np.abs(got - want).max() <= 1e-4 * np.abs(want).max()
            assert np.array_equal(got.argmax(1), want.argmax(1))
    finally:
        ir.close()
        onnx_run.close()
