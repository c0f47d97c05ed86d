"""FP16 range check (enet_edge.export.checks.fp16_range): per-layer activation ranges, the record, the one-line error."""

import json
import math

import numpy as np
import pytest

from enet_edge.errors import GateError, ParityError
from enet_edge.export.checks.fp16_range import (FP16_MAX, NEAR_FACTOR, activation_ranges, fp16_range_record,
                                         near_limit_text, raise_on_overflow)
from enet_edge.model.config import ENetConfig

SMALL = ENetConfig(height=32, width=48)


@pytest.fixture(scope="module")
def ncs2_model():
    """ENet at 32x48 in the ncs2 target's realization, default random init from a fixed seed (unseeded, the draw
    followed whatever ran before in the process, and some draws overflow FP16 in bottleneck5_1)."""
    import keras

    from enet_edge.export.targets import load_target
    from enet_edge.model import enet

    keras.utils.set_random_seed(1234)
    return enet.build_enet(SMALL, load_target("ncs2").realization)


@pytest.fixture(scope="module")
def frames():
    rng = np.random.default_rng(7)
    return [rng.integers(0, 256, SMALL.input_shape, dtype=np.uint8) for _ in range(2)]


def _scaled_fullconv(model, factor):
    """Scale ``fullconv``'s kernel and bias by ``factor``; returns the original weights, to restore."""
    layer = model.get_layer("fullconv")
    original = layer.get_weights()
    layer.set_weights([w * np.float32(factor) for w in original])
    return original


def test_default_init_stays_in_range(ncs2_model, frames):
    import keras

    ranges = activation_ranges(ncs2_model, frames)
    expected = [layer.name for layer in ncs2_model.layers if not isinstance(layer, keras.layers.InputLayer)]
    assert [name for name, _ in ranges] == expected  # every layer of this realization has a float output
    assert expected[-2:] == ["fullconv", "logits"]
    assert all(math.isfinite(v) and v >= 0.0 for _, v in ranges)
    record = fp16_range_record(ranges)
    assert record["overflow"] == [] and "nonfinite" not in record
    assert record["limit"] == FP16_MAX and record["max_abs"] == max(v for _, v in ranges)
    raise_on_overflow(record, "ncs2")  # does not raise
    json.dumps(record)
    line = near_limit_text(record)
    assert "\n" not in line and line.startswith("FP16 range: largest |activation|")


def test_largest_is_over_all_frames(ncs2_model, frames):
    per_frame = [dict(activation_ranges(ncs2_model, [f])) for f in frames]
    both = activation_ranges(ncs2_model, frames)
    for name, value in both:
        assert value == max(p[name] for p in per_frame)


def test_scaled_logits_overflow_names_the_final_layer(ncs2_model, frames):
    original = _scaled_fullconv(ncs2_model, 1e6)
    try:
        ranges = activation_ranges(ncs2_model, frames)
    finally:
        ncs2_model.get_layer("fullconv").set_weights(original)
    record = fp16_range_record(ranges)
    assert [e["layer"] for e in record["overflow"]] == ["fullconv", "logits"]  # graph order, the first is fullconv
    assert record["overflow"][0]["max_abs"] > FP16_MAX
    json.dumps(record, allow_nan=False)
    with pytest.raises(ParityError) as info:
        raise_on_overflow(record, "ncs2")
    message = str(info.value)
    assert isinstance(info.value, GateError) and info.value.exit_code == 1
    assert "\n" not in message
    assert "'fullconv'" in message and "65504" in message and "target ncs2" in message


def test_nan_activations_count_as_overflow(ncs2_model, frames):
    layer = ncs2_model.get_layer("fullconv")
    original = layer.get_weights()
    layer.set_weights([original[0], np.full_like(original[1], np.nan)])  # NaN bias -> NaN logits
    try:
        record = fp16_range_record(activation_ranges(ncs2_model, frames[:1]))
    finally:
        layer.set_weights(original)
    assert record["nonfinite"] is True and record["max_abs"] is None and record["max_layer"] == "fullconv"
    assert record["overflow"][0] == {"layer": "fullconv", "max_abs": None, "nonfinite": True}
    json.dumps(record, allow_nan=False)
    with pytest.raises(ParityError, match="layer 'fullconv' reaches inf/NaN"):
        raise_on_overflow(record, "ncs2")


def test_near_limit_boundary():
    near = FP16_MAX / NEAR_FACTOR  # 16376.0
    ranges = [("a", 1.0), ("b", near), ("c", 16377.0), ("d", FP16_MAX), ("e", 3.0e4)]
    record = fp16_range_record(ranges)
    assert record["overflow"] == []
    assert record["near_limit"] == [{"layer": "c", "max_abs": 16377.0}, {"layer": "d", "max_abs": FP16_MAX},
                                    {"layer": "e", "max_abs": 3.0e4}]
    assert (record["max_layer"], record["max_abs"]) == ("d", FP16_MAX)  # 65504 itself is representable
    line = near_limit_text(record)
    assert line == ("FP16 range: largest |activation| 6.55e+04 (layer 'd'); layers within 4x of 65504: "
                    "'c' 1.64e+04, 'd' 6.55e+04, 'e' 3e+04.")
    raise_on_overflow(record, "ncs2")


def test_no_layer_near_the_limit_text():
    record = fp16_range_record([("x", 1200.0), ("y", 5.0)])
    expected = "FP16 range: largest |activation| 1.2e+03 (layer 'x'); no layer within 4x of 65504."
    assert near_limit_text(record) == expected


def test_overflow_in_graph_order_and_nonfinite_record():
    ranges = [("a", 2.0e4), ("b", 7.0e4), ("c", float("nan")), ("d", float("inf")), ("e", 1.0e5), ("f", 1.0)]
    record = fp16_range_record(ranges)
    assert [e["layer"] for e in record["overflow"]] == ["b", "c", "d", "e"]
    assert record["overflow"][0] == {"layer": "b", "max_abs": 7.0e4}
    assert record["overflow"][1] == {"layer": "c", "max_abs": None, "nonfinite": True}
    assert record["near_limit"] == [{"layer": "a", "max_abs": 2.0e4}]
    assert record["nonfinite"] is True and record["max_abs"] is None and record["max_layer"] == "c"
    text = json.dumps(record, allow_nan=False)  # no NaN/Infinity tokens
    assert json.loads(text) == record
    with pytest.raises(ParityError) as info:
        raise_on_overflow(record, "ncs2")
    message = str(info.value)
    assert "\n" not in message and "layer 'b' reaches |x| = 7e+04" in message and "3 more layers" in message
    line = near_limit_text(record)
    assert "\n" not in line and "'c' inf/NaN" in line and "'a' 2e+04" in line


def test_custom_limit_and_factor():
    record = fp16_range_record([("a", 3.0), ("b", 11.0)], limit=10.0, near_factor=2.0)
    assert [e["layer"] for e in record["overflow"]] == ["b"]
    assert record["near_limit"] == [] and record["limit"] == 10.0
    assert "within 2x of 10" in near_limit_text(record)


def test_empty_ranges():
    record = fp16_range_record([])
    assert record["max_abs"] is None and record["max_layer"] is None and record["overflow"] == []
    raise_on_overflow(record, "ncs2")
    assert "no layer within" in near_limit_text(record)
