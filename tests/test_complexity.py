"""Compute cost from the IR: MACs per layer, weights, shares; in the export manifest and bench output."""

import json

import numpy as np
import pytest

from enet_edge.errors import ArtifactError
from enet_edge.runtime.complexity import Complexity, LayerCost, ir_complexity, model_complexity, node_macs, share_table

from tiny_models import tiny_ir


@pytest.mark.parametrize("op_type, inputs, output, expected", [
    ("Convolution", ((1, 3, 8, 8), (16, 3, 3, 3)), (1, 16, 8, 8), 16 * 64 * 27),
    ("GroupConvolution", ((1, 8, 4, 4), (8, 1, 1, 3, 3)), (1, 8, 4, 4), 8 * 16 * 9),
    ("ConvolutionBackpropData", ((1, 4, 5, 5), (4, 2, 2, 2)), (1, 2, 10, 10), 4 * 25 * 8),
    ("MatMul", ((2, 7), (7, 3)), (2, 3), 2 * 3 * 7),
    ("Add", ((1, 3), (1, 3)), (1, 3), 0),
])
def test_node_macs(op_type, inputs, output, expected):
    assert node_macs(op_type, inputs, output) == expected


def test_tiny_ir_counts(tmp_path):
    cost = ir_complexity(tiny_ir(tmp_path / "t.xml", size=(32, 48), classes=12))
    assert cost.macs == 32 * 48 * 12 * 27 and len(cost.layers) == 1
    assert cost.weights == 12 * 3 * 3 * 3  # the float constants; the transpose orders are integers
    assert cost.to_dict()["gflops"] == pytest.approx(round(2 * cost.gmac, 4))
    assert cost.layers[0].mflops == pytest.approx(2 * cost.macs / 1e6)
    # image, its u8->f32 Convert and NCHW Transpose (3 channels), the convolution (12; the logits are NCHW)
    assert cost.activations == 3 * (32 * 48 * 3) + 32 * 48 * 12 == cost.to_dict()["activation_elements"]
    fp16 = ir_complexity(tiny_ir(tmp_path / "h.xml", size=(32, 48), classes=12, fp16=True))
    assert fp16.activations == cost.activations  # the weights' decompression is not an activation


def test_dynamic_shapes_are_refused():
    import openvino as ov
    import openvino.opset8 as ops

    x = ops.parameter(ov.PartialShape([1, 3, -1, -1]), ov.Type.f32)
    y = ops.convolution(x, ops.constant(np.ones((2, 3, 1, 1), np.float32)), [1, 1], [0, 0], [0, 0], [1, 1])
    with pytest.raises(ArtifactError, match="dynamic shape"):
        model_complexity(ov.Model([y], [x]))


def test_unreadable_ir_is_an_artifact_error(tmp_path):
    bad = tmp_path / "bad.xml"
    bad.write_text("<net>")
    with pytest.raises(ArtifactError, match="cannot read"):
        ir_complexity(bad)


def test_share_table():
    costs = {"a": LayerCost("a", "Convolution", 300), "b": LayerCost("b", "Convolution", 100)}
    shares = share_table(costs, [("a", 10.0), ("b", 30.0), ("pool", 60.0)])
    assert shares["a"] == (0.75, 0.1) and shares["b"] == (0.25, 0.3) and shares["pool"] == (None, 0.6)
    assert Complexity(0, 0).by_name() == {}


def test_bench_reports_compute_and_per_layer_mflops(tiny_export_dir):
    from enet_edge.device import bench

    config = bench.BenchConfig(entries=(bench.BenchEntry(str(tiny_export_dir)),), niter=3, warmup=0, per_layer=5)
    (result,) = bench.run_bench(config)
    text = bench.format_report(result, per_layer=5)
    assert "compute    " in text and "GMAC" in text and "MFLOPs" in text
    doc = bench.result_document(result, {})
    assert doc["complexity"]["macs"] == 32 * 48 * 12 * 27 and doc["complexity"]["gflops_per_s"] > 0
    convs = [row for row in doc["per_layer"] if row["node_type"] == "Convolution"]
    assert convs and convs[0]["mflops"] == pytest.approx(2 * 32 * 48 * 12 * 27 / 1e6, rel=1e-3)


def test_export_manifest_and_report_record_complexity(small_exports):
    manifest = json.loads((small_exports["ncs2"] / "manifest.json").read_text())
    entry = manifest["complexity"]
    assert entry["parameters"] == 372_859 and entry["counted_layers"] > 80 and entry["gmac"] > 0
    assert "GMAC" in (small_exports["ncs2"] / "report.md").read_text()
