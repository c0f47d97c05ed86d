"""Runtime: artifact resolution, adapters, segmenter, async pipeline; TensorFlow-free and legacy OpenVINO runs."""

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from enet_edge.class_sets import CAMVID
from enet_edge.errors import ArtifactError, DeviceError, InputError
from enet_edge.runtime import AsyncPipeline, OpenVINOAdapter, Segmenter, open_adapter, resolve_artifact
from enet_edge.runtime.adapters import ov_message

from conftest import REPO
from tiny_models import TINY_SIZE

H, W = TINY_SIZE


@pytest.fixture(scope="module")
def cpu_dir(tiny_export_dir):
    """An export directory (the tiny IR + ONNX one: the runtime's mechanics do not depend on the model)."""
    return Path(tiny_export_dir)


@pytest.fixture(scope="module")
def ir_segmenter(cpu_dir):
    return Segmenter.open(cpu_dir)


def _frame(rng, h=100, w=130):
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


def _copy_ir(src: Path, dst: Path) -> Path:
    """enet.xml/.bin without the manifest (so nothing verifies them)."""
    dst.mkdir(parents=True, exist_ok=True)
    for name in ("enet.xml", "enet.bin"):
        shutil.copy(src / name, dst / name)
    return dst / "enet.xml"


# --------------------------------------------------------------------------------------------
# artifacts and manifest


def test_resolve_directory_picks_file_per_backend(tiny_tf_export_dir):
    cpu_dir = tiny_tf_export_dir  # IR, ONNX and frozen graph
    art = resolve_artifact(cpu_dir)
    assert art.path == cpu_dir / "enet.xml" and art.backend == "openvino" and art.kind == "openvino_ir"
    assert art.entry["sha256"] and art.classes == CAMVID
    assert resolve_artifact(cpu_dir, "onnxruntime").path.name == "enet.onnx"
    assert resolve_artifact(cpu_dir, "tensorflow").path.name == "enet_frozen.pb"
    single = resolve_artifact(cpu_dir / "enet.onnx")
    assert single.backend == "onnxruntime" and single.entry is not None  # manifest beside it was used


def test_manifest_sha256_mismatch_is_a_clear_error(cpu_dir, tmp_path):
    bad = tmp_path / "cpu"
    shutil.copytree(cpu_dir, bad)
    data = bytearray((bad / "enet.bin").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (bad / "enet.bin").write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="does not match its manifest sha256"):
        resolve_artifact(bad)
    with pytest.raises(ArtifactError, match="does not match its manifest sha256"):
        resolve_artifact(bad / "enet.xml")  # a file beside its manifest is verified too
    (bad / "manifest.json").write_text("{not json")
    with pytest.raises(ArtifactError, match="not readable JSON"):
        resolve_artifact(bad)


def test_directory_without_manifest(cpu_dir, tmp_path):
    xml = _copy_ir(cpu_dir, tmp_path / "bare")
    art = resolve_artifact(xml.parent)
    assert art.path == xml and art.manifest is None and art.entry is None
    with pytest.raises(ArtifactError, match="no manifest.json and no"):
        resolve_artifact(tmp_path / "bare", "onnxruntime")


def test_missing_and_unknown_paths(tmp_path):
    with pytest.raises(ArtifactError, match="does not exist"):
        resolve_artifact(tmp_path / "nope")
    (tmp_path / "model.engine").write_bytes(b"x")
    with pytest.raises(ArtifactError, match="unknown model type"):
        resolve_artifact(tmp_path / "model.engine")
    with pytest.raises(ArtifactError, match="does not exist"):
        open_adapter(tmp_path / "nope.xml")


def test_truncated_ir_and_onnx_are_one_line_artifact_errors(cpu_dir, tmp_path):
    xml = _copy_ir(cpu_dir, tmp_path / "t1")
    xml.write_bytes(xml.read_bytes()[:xml.stat().st_size // 2])
    with pytest.raises(ArtifactError) as info:
        open_adapter(xml)
    assert "OpenVINO cannot read" in str(info.value) and "\n" not in str(info.value)
    assert "Exception from" not in str(info.value)  # source locations are stripped

    xml = _copy_ir(cpu_dir, tmp_path / "t2")
    weights = xml.with_suffix(".bin")
    weights.write_bytes(weights.read_bytes()[:weights.stat().st_size // 3])
    with pytest.raises(ArtifactError, match="weights"):
        open_adapter(xml)

    xml = _copy_ir(cpu_dir, tmp_path / "t3")
    xml.with_suffix(".bin").unlink()
    with pytest.raises(ArtifactError, match="enet.bin is missing"):
        open_adapter(xml)

    onnx_file = tmp_path / "t.onnx"
    onnx_bytes = (cpu_dir / "enet.onnx").read_bytes()
    onnx_file.write_bytes(onnx_bytes[:len(onnx_bytes) // 2])
    with pytest.raises(ArtifactError, match="ONNX Runtime cannot load"):
        open_adapter(onnx_file)


def test_ov_message_keeps_the_informative_lines():
    exc = RuntimeError("Exception from src/inference/src/cpp/core.cpp:84:\nCheck 'res.status == pugi::status_ok' "
                       "failed at src/frontends/ir/src/input_model.cpp:219:\nError parsing start element tag\n\n")
    assert ov_message(exc) == "Error parsing start element tag"
    assert ov_message(RuntimeError("")) == "RuntimeError"


def test_inputs_get_c_strides_in_every_dimension():
    """``frame[None]`` has stride 0 on its new axis: OpenVINO 2022.3 refuses to wrap it (tests/test_export.py
    runs the real one); the adapters' inputs get C strides, without a copy where the data allows."""
    from enet_edge.runtime.adapters.base import c_strided

    frame = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    batch = frame[None]
    assert batch.strides[0] == 0 and batch.flags.c_contiguous  # what NumPy hands over
    fixed = c_strided(batch)
    assert fixed.strides == (24, 12, 4, 1) and np.shares_memory(fixed, frame) and fixed.flags.writeable
    np.testing.assert_array_equal(fixed, batch)
    assert c_strided(frame) is frame
    strided = c_strided(frame[:, ::2])  # not contiguous: one copy
    assert strided.strides == (8, 4, 1) and not np.shares_memory(strided, frame)
    frozen = frame.copy()
    frozen.flags.writeable = False
    assert c_strided(frozen).flags.writeable  # current OpenVINO wraps writeable memory only


class _Core:
    def __init__(self, plugin: bool):
        self.plugin = plugin

    def get_versions(self, device):
        if not self.plugin:
            raise RuntimeError(f'Device with "{device}" name is not registered in the OpenVINO Runtime')
        return {device: "2022.3"}


@pytest.mark.parametrize("version, plugin, says", [
    ("2026.4.1", False, "needs OpenVINO 2022.3 LTS, the last release with the MYRIAD plugin (this is OpenVINO 2026.4.1)"),
    ("2022.3.2", False, "this OpenVINO 2022.3.2 has no MYRIAD plugin: PyPI's openvino wheels never included it"),
    ("2022.3.2", True, "has the MYRIAD plugin but finds no stick: plug the Neural Compute Stick 2 in"),
])
def test_myriad_help_says_what_is_missing(version, plugin, says):
    from enet_edge.runtime.adapters.openvino_core import myriad_help

    text = myriad_help(_Core(plugin), version)
    assert says in text and "docs/ncs2.md" in text


def test_an_ir_newer_than_the_runtime_gets_a_hint():
    """What OpenVINO 2022.3 says of an opset11 IR (tests/test_runtime.py runs the real one), and the hint added."""
    from enet_edge.runtime.adapters.openvino_core import newer_opset_hint, openvino_version

    hint = newer_opset_hint(RuntimeError("Cannot create Interpolate layer Resize__191 id:515 from unsupported "
                                          "opset: opset11\n"))
    assert f"this OpenVINO, {openvino_version().split('-')[0]}, predates opset11" in hint and "ncs2 export" in hint
    assert newer_opset_hint(RuntimeError("Error parsing start element tag")) == ""


# --------------------------------------------------------------------------------------------
# devices


@pytest.mark.parametrize("device", ["MYRIAD", "NPU", "HETERO:MYRIAD,CPU", "GPU.3"])
def test_absent_device_lists_available_devices(cpu_dir, device):
    with pytest.raises(DeviceError) as info:
        OpenVINOAdapter(cpu_dir / "enet.xml", device)
    message = str(info.value)
    assert "is not available; available_devices: " in message and "CPU" in message and "\n" not in message


def test_non_openvino_backends_are_cpu_only(cpu_dir):
    with pytest.raises(DeviceError, match="CPU only"):
        open_adapter(cpu_dir / "enet.onnx", device="MYRIAD")
    with pytest.raises(DeviceError, match="unknown backend"):
        open_adapter(cpu_dir / "enet.onnx", backend="tensorrt")


# --------------------------------------------------------------------------------------------
# adapters and segmenter


def test_adapter_specs_and_input_checks(cpu_dir, rng):
    ir = open_adapter(cpu_dir / "enet.xml", precision="f32")  # the default is bf16 on BF16 CPUs
    assert ir.input_spec.shape == (1, H, W, 3) and ir.input_spec.dtype == "uint8"
    assert ir.output_spec.shape == (1, 12, H, W) and ir.output_spec.dtype == "float32"  # NCHW logits
    assert ir.precision == "f32" and ir.load_ms > 0
    ort = open_adapter(cpu_dir / "enet.onnx")
    assert ort.input_spec.dtype == "float32"
    good = rng.integers(0, 256, (1, H, W, 3), dtype=np.uint8)
    logits = ir.infer(good)
    assert logits.shape == (1, 12, H, W) and logits.dtype == np.float32
    assert ir.infer_only(good) is None
    with pytest.raises(InputError, match="shape"):
        ir.infer(good[:, :-1])
    with pytest.raises(InputError, match="dtype"):
        ir.infer(good.astype(np.float32))
    with pytest.raises(InputError, match="numpy array"):
        ir.infer(good.tolist())
    with pytest.raises(InputError, match="shape"):
        ort.infer(np.zeros((1, 3, H, W), np.float32))
    with pytest.raises(InputError, match="dtype"):
        ort.infer(good)  # uint8 into a float32 model
    ir.close()


def test_segmenter_any_frame_size_and_postprocessing(ir_segmenter, cpu_dir, rng):
    frame = _frame(rng)
    seg = ir_segmenter.infer(frame)
    assert seg.class_map.shape == (H, W) and seg.class_map.dtype == np.uint8
    assert seg.frame_class_map.shape == (100, 130) and seg.frame_class_map.dtype == np.uint8
    assert set(np.unique(seg.frame_class_map)) <= set(np.unique(seg.class_map))  # nearest: no new labels
    assert set(seg.timings_ns) == {"preprocess", "infer", "postprocess"} and seg.finished_ns > 0
    color = ir_segmenter.colorize(seg.class_map)
    assert color.shape == (H, W, 3) and color.dtype == np.uint8
    # palette is RGB in the manifest, colorize returns BGR: Road (3) is RGB (128, 64, 128)
    assert tuple(ir_segmenter.colorize(np.array([[3]], np.uint8))[0, 0]) == (128, 64, 128)
    assert tuple(ir_segmenter.colorize(np.array([[4]], np.uint8))[0, 0]) == (222, 40, 60)
    over = ir_segmenter.overlay(frame, seg.class_map, 0.4)
    assert over.shape == frame.shape and over.dtype == np.uint8
    with pytest.raises(InputError, match="alpha"):
        ir_segmenter.overlay(frame, seg.class_map, 1.5)
    # ONNX Runtime on float input gives the same segmentation
    ort = Segmenter.open(cpu_dir, backend="onnxruntime")
    assert (ort.infer(frame).class_map == seg.class_map).mean() > 0.99


@pytest.mark.parametrize("bad", [np.zeros((64, 96), np.uint8), np.zeros((64, 96, 3), np.float32),
                                 np.zeros((64, 96, 4), np.uint8), [[0, 0, 0]]])
def test_segmenter_rejects_bad_frames(ir_segmenter, bad):
    with pytest.raises(InputError, match=r"\(H, W, 3\) uint8 BGR"):
        ir_segmenter.infer(bad)


def test_async_pipeline_keeps_order(cpu_dir, ir_segmenter, rng):
    seg = Segmenter.open(cpu_dir, nireq=3)
    assert seg.adapter.num_requests == 3
    frames = [_frame(rng, 50 + i, 70 + i) for i in range(7)]
    pipeline = AsyncPipeline(seg)
    out = []
    for i, frame in enumerate(frames):
        out += pipeline.submit(frame, i)
    out += pipeline.drain()
    assert [u for u, _ in out] == list(range(7))
    for (i, result), frame in zip(out, frames):
        assert result.frame_class_map.shape == frame.shape[:2]
        assert np.array_equal(result.class_map, ir_segmenter.infer(frame).class_map)
        assert {"preprocess", "wait", "infer", "postprocess"} <= set(result.timings_ns)
    seg.adapter.close()


def test_async_callback_errors_surface_in_the_caller(cpu_dir):
    adapter = open_adapter(cpu_dir / "enet.xml", nireq=2)
    tensor = np.zeros(adapter.input_spec.shape, np.uint8)

    def boom(logits, userdata):
        raise ValueError(f"callback {userdata} failed")

    adapter.start_async(tensor, 1, boom)
    with pytest.raises(ValueError, match="callback 1 failed"):
        adapter.wait_all()
    adapter.close()


def test_optimal_nireq_and_per_layer_counters(cpu_dir):
    adapter = open_adapter(cpu_dir / "enet.xml", nireq=0, hint="THROUGHPUT", perf_counters=True)
    assert adapter.num_requests >= 1
    adapter.infer_only(np.zeros(adapter.input_spec.shape, np.uint8))
    rows = adapter.per_layer_counters()
    assert rows and any(r.real_time_us > 0 for r in rows)
    assert adapter.properties()["requested"]["PERF_COUNT"] == "YES"
    adapter.close()


def _onnx_model(path, in_shape, in_type="float", out_shape=None):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    elem = {"float": TensorProto.FLOAT, "int64": TensorProto.INT64}[in_type]
    x = helper.make_tensor_value_info("x", elem, in_shape)
    y = helper.make_tensor_value_info("y", elem, out_shape or in_shape)
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_foreign_models_are_rejected_clearly(tmp_path):
    dynamic = _onnx_model(tmp_path / "dyn.onnx", ["N", H, W, 3])
    with pytest.raises(ArtifactError, match="dynamic shape"):
        open_adapter(dynamic)
    with pytest.raises(ArtifactError, match="dynamic shape"):
        open_adapter(dynamic, backend="openvino")
    nchw = _onnx_model(tmp_path / "nchw.onnx", [1, 3, H, W])
    with pytest.raises(ArtifactError, match=r"needs a \(1, H, W, 3\) NHWC"):
        Segmenter.open(nchw)
    ints = _onnx_model(tmp_path / "int.onnx", [1, H, W, 3], "int64")
    with pytest.raises(ArtifactError, match="takes x as int64"):
        Segmenter.open(ints)
    three = _onnx_model(tmp_path / "three.onnx", [1, H, W, 3])  # output has 3 channels, not 12 classes
    with pytest.raises(ArtifactError, match=r"\(1, 12, H, W\) NCHW or \(1, H, W, 12\) NHWC"):
        Segmenter.open(three, backend="openvino")


# --------------------------------------------------------------------------------------------
# device-user world: Python 3.8 syntax, no TensorFlow, old OpenVINO


def test_runtime_and_bench_sources_parse_as_python38():
    package = REPO / "enet_edge"
    files = [p for part in ("runtime", "device") for p in sorted((package / part).rglob("*.py"))]
    files += [package / name for name in ("progress.py", "metrics.py", "camvid.py", "class_sets.py", "errors.py",
                                          "fileio.py", "command.py")]
    for path in files:
        ast.parse(path.read_text(), filename=str(path), feature_version=(3, 8))


NO_TF_SCRIPT = r"""
import io, json, sys, contextlib
sys.modules["tensorflow"] = None  # `import tensorflow` now raises ImportError
import enet_edge.runtime
import enet_edge.device.bench
from enet_edge.cli import main

model, images, pb, out = sys.argv[1:5]
assert main(["bench", model, "-n", "3", "--warmup", "1", "-q", "--json", out + "/bench.json"]) == 0
assert main(["bench", pb, "-n", "1", "-q"]) == 2   # tensorflow backend: one-line error, no traceback
rc = None
try:
    from enet_edge.device import demo
except ImportError:
    demo = None
if demo is not None:
    rc = main(["demo", "--source", images, "--model", model, "--no-show", "--limit", "2",
               "--json", out + "/demo.json"])
loaded = sorted(m for m, v in sys.modules.items() if v is not None and m.split(".")[0] == "tensorflow")
print(json.dumps({"tf_modules": loaded, "demo_rc": rc}))
"""


def test_runtime_bench_and_demo_run_without_tensorflow(tiny_tf_export_dir, tmp_path, rng):
    cpu_dir = tiny_tf_export_dir  # its enet_frozen.pb is what the TensorFlow-less bench must refuse
    import cv2

    images = tmp_path / "frames"
    images.mkdir()
    for i in range(2):
        cv2.imwrite(str(images / f"f{i}.png"), _frame(rng, 90, 120))
    done = subprocess.run(
        [sys.executable, "-c", NO_TF_SCRIPT, str(cpu_dir), str(images), str(cpu_dir / "enet_frozen.pb"), str(tmp_path)],
        capture_output=True, text=True, cwd=str(REPO), timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["tf_modules"] == []
    assert "needs TensorFlow" in done.stderr and "Traceback" not in done.stderr
    assert json.loads((tmp_path / "bench.json").read_text())["niter"] == 3
    if summary["demo_rc"] is not None:
        assert summary["demo_rc"] == 0
        assert (tmp_path / "demo.json").is_file()


LEGACY_SCRIPT = r"""
import json, sys
sys.modules["tensorflow"] = None
import numpy as np
import openvino.runtime as ov
from enet_edge.runtime import AsyncPipeline, Segmenter
from enet_edge.device.bench import BenchConfig, parse_entry, result_document, run_bench

model, frame_file = sys.argv[1:3]
frame = np.load(frame_file)
seg = Segmenter.open(model, nireq=2, precision="f32")  # what `expected` ran: f32 on every CPU kind
sync = seg.infer(frame)
pipe = AsyncPipeline(seg)
out = pipe.submit(frame, 0) + pipe.submit(frame, 1) + pipe.drain()
assert [u for u, _ in out] == [0, 1] and all(np.array_equal(s.class_map, sync.class_map) for _, s in out)
np.save(frame_file + ".cmap.npy", sync.frame_class_map)
docs = []
for mode in ("latency", "throughput"):
    config = BenchConfig(entries=(parse_entry(model),), mode=mode, niter=4, warmup=1, per_layer=3)
    docs.append(result_document(run_bench(config)[0], {}))
print(json.dumps({"version": ov.get_version(), "precision": seg.adapter.precision, "docs": docs}))
"""


LEGACY_REFUSALS = """
import json, sys
from enet_edge.errors import ArtifactError, DeviceError
from enet_edge.runtime import Segmenter
said = []
for model, device in ((sys.argv[1], "CPU"), (sys.argv[2], "MYRIAD")):
    try:
        Segmenter.open(model, device=device)
    except (ArtifactError, DeviceError) as exc:
        said.append(str(exc))
print(json.dumps(said))
"""


@pytest.mark.slow
def test_segmenter_and_bench_on_openvino_2022_3(small_exports, tmp_path, rng):
    """The NCS2 user's stack (OpenVINO 2022.3, Python 3.8-3.10): the ncs2 IR runs through the runner, the async
    pipeline and bench like on today's OpenVINO; the cpu IR (opset11 ops) is refused in one line that says why."""
    from legacy_openvino import LEGACY_SERIES, run_legacy

    frame = _frame(rng, 120, 150)
    np.save(tmp_path / "frame.npy", frame)
    expected = Segmenter.open(small_exports["ncs2"], precision="f32").infer(frame).frame_class_map
    stdout = run_legacy(LEGACY_SCRIPT, str(small_exports["ncs2"]), str(tmp_path / "frame.npy"))
    result = json.loads(stdout.strip().splitlines()[-1])
    assert result["version"].startswith(LEGACY_SERIES)
    latency, throughput = result["docs"]
    assert latency["mode"] == "latency" and latency["niter"] == 4 and latency["latency_ms"]["median"] > 0
    assert throughput["mode"] == "throughput" and throughput["throughput_fps"] > 0
    assert latency["per_layer"] and latency["machine"] == {}
    legacy_cmap = np.load(tmp_path / "frame.npy.cmap.npy")
    assert legacy_cmap.shape == frame.shape[:2]
    assert (legacy_cmap == expected).mean() > 0.99  # same FP16 IR, the older runtime: same segmentation
    cpu_ir, myriad = json.loads(run_legacy(LEGACY_REFUSALS, str(small_exports["cpu"]), str(small_exports["ncs2"])))
    assert "unsupported opset: opset11" in cpu_ir and "use an ncs2 export" in cpu_ir and "\n" not in cpu_ir
    # PyPI's 2022.3 wheels have no MYRIAD plugin: the message says where the plugin comes from
    assert "has no MYRIAD plugin" in myriad and "OpenVINO 2022.3 archive" in myriad


def test_exports_with_nhwc_logits_still_run(tmp_path, rng):
    """Exports made before the NCHW output have (1,H,W,K) logits: the segmenter finds the classes' axis either way."""
    from tiny_models import tiny_export

    from enet_edge.runtime.segmenter import Segmenter, logits_class_axis

    frame = rng.integers(0, 256, (45, 70, 3), dtype=np.uint8)
    maps = {}
    for layout in ("NCHW", "NHWC"):
        segmenter = Segmenter.open(tiny_export(tmp_path / layout, layout=layout), precision="f32")
        assert segmenter.class_axis == (1 if layout == "NCHW" else 3)
        maps[layout] = segmenter.infer(frame).frame_class_map
    np.testing.assert_array_equal(maps["NCHW"], maps["NHWC"])
    assert logits_class_axis((1, 12, 32, 48), 12, (32, 48)) == 1 and logits_class_axis((1, 32, 48, 12), 12) == 3
    assert logits_class_axis((1, 12, 12, 12), 12, (12, 12)) == 3  # both fit: NHWC, as before
    assert logits_class_axis((1, 5, 32, 48), 12, (32, 48)) is None and logits_class_axis((1, 12, 32), 12) is None
    with pytest.raises(InputError, match="class_axis=2"):
        Segmenter.class_map(np.zeros((1, 4, 5, 6), np.float32), 2)


@pytest.mark.parametrize("device, expect", [("MYRIAD", {"MYRIAD_HW_DILATION": "YES"}),
                                            ("myriad.1.2-ma2480", {"MYRIAD_HW_DILATION": "YES"}),
                                            ("CPU", {}), ("MULTI:MYRIAD,CPU", {}), ("AUTO", {})])
def test_the_stick_is_opened_with_the_options_its_export_compiled_with(monkeypatch, device, expect):
    """An export compiled with MYRIAD_HW_DILATION=YES (the ncs2 target) is opened on the stick with it again: the graph
    the stick builds is the one the export compiled and predicted; the caller's own config keys win; other devices and
    backends without an OpenVINO config get none."""
    from enet_edge.runtime import adapters
    from enet_edge.runtime.manifest import Artifact

    seen = {}
    monkeypatch.setattr(adapters, "open_adapter", lambda path, backend=None, device="CPU", **kw: seen.update(kw))
    manifest = {"artifacts": {}, "myriad_compiler": {"options": {"MYRIAD_HW_DILATION": "YES"}}}
    ir = Artifact(Path("enet.xml"), "openvino", "openvino_ir", manifest, None)
    assert ir.device_config(device) == expect
    adapters.open_artifact(ir, device=device, precision="f16")
    assert seen.get("config", {}) == expect and seen["precision"] == "f16"
    seen.clear()
    adapters.open_artifact(ir, device=device, config={"MYRIAD_HW_DILATION": "NO", "PERF_COUNT": "YES"})
    assert seen["config"] == {"MYRIAD_HW_DILATION": "NO", "PERF_COUNT": "YES"}
    seen.clear()
    adapters.open_artifact(Artifact(Path("enet.onnx"), "onnxruntime", "onnx", manifest, None), device=device)
    assert "config" not in seen
    assert Artifact(Path("enet.xml"), "openvino", "openvino_ir", {"artifacts": {}}, None).device_config(device) == {}
    assert Artifact(Path("enet.xml"), "openvino", "openvino_ir").device_config(device) == {}


def test_damaged_compiler_options_in_a_manifest_are_one_clear_error():
    from enet_edge.runtime.manifest import Artifact

    bad = Artifact(Path("enet.xml"), "openvino", "openvino_ir",
                   {"artifacts": {}, "myriad_compiler": {"options": {"MYRIAD_HW_DILATION": True}}}, None)
    with pytest.raises(ArtifactError, match="myriad_compiler.options .* re-export"):
        bad.device_config("MYRIAD")
