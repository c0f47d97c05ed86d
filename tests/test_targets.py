"""Target files (export/*.toml): a key a file leaves out takes TargetSpec's default, written once on the dataclass."""

import dataclasses

import pytest

from enet_edge.errors import ConfigError
from enet_edge.export.targets import _SCALARS, TargetSpec, load_target


def test_absent_keys_take_the_dataclass_defaults(tmp_path):
    path = tmp_path / "bare.toml"
    path.write_text('name = "bare"\n[checks]\ntensorflow = "realization"\n')
    target = load_target(str(path))
    defaults = {f.name: f.default for f in dataclasses.fields(TargetSpec) if f.default is not dataclasses.MISSING}
    for _, _, _, field in _SCALARS:
        assert getattr(target, field) == defaults[field], field
    assert target.artifacts == defaults["artifacts"] and target.onnx_rewrites == () and target.myriad_compiler is None


def test_given_keys_override_the_defaults(tmp_path):
    path = tmp_path / "given.toml"
    path.write_text('name = "given"\ndevice = "MYRIAD"\nartifacts = ["tensorflow", "onnx", "openvino_ir"]\n'
                    '[input]\nheight = 64\nwidth = 96\n[onnx]\nopset = 11\n'
                    '[openvino]\nprecision = "FP16"\ninference_precision = "f16"\n[parity]\nframes = 0\nrandom = 2\n')
    target = load_target(str(path))
    assert (target.device, target.height, target.width, target.onnx_opset, target.ir_precision) == \
        ("MYRIAD", 64, 96, 11, "FP16")
    assert (target.inference_precision, target.parity_frames, target.parity_random) == ("f16", 0, 2)
    path.write_text('name = "given"\nartifacts = []\n')
    with pytest.raises(ConfigError, match="artifacts must start with 'tensorflow'"):  # an empty list is not absent
        load_target(str(path))
    path.write_text('name = "given"\n[input]\nheight = "64"\n')
    with pytest.raises(ConfigError, match=r"\[input\] height = '64' must be an integer"):
        load_target(str(path))
