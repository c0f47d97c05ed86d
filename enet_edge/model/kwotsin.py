"""kwotsin/TensorFlow-ENet checkpoints -> enet-edge weights (flavour ``kwotsin``).

kwotsin's enet.py (TF1 slim) names its variables by scope, e.g. ``ENet/bottleneck2_3_asymmetric_conv2a/weights``
or ``ENet/bottleneck4_0_transposed_conv2_filters``. :func:`variable_map` gives, for an
:class:`~enet_edge.model.config.ENetConfig` of flavour ``kwotsin``, the checkpoint name of every variable of
our network (Keras path -> checkpoint name); :func:`convert` places a checkpoint's values with it and
accounts for every checkpoint variable:

* model variables are placed (shapes checked) or the import fails naming them;
* optimizer state (``<var>/Adam``, ``<var>/Adam_1``, other ``<var>/<slot>`` entries, ``global_step``,
  ``beta1_power``, ``beta2_power``) is skipped;
* batch-norm ``gamma``: kwotsin's ``slim.batch_norm`` keeps slim's default ``scale=False``, so gamma is not
  part of the network. TF <= 1.1's fused batch norm still created it, non-trainable, at 1.0 (the
  published CamVid checkpoint has gamma but no Adam slots for it). It is skipped (with a warning when
  it is not 1); a *trained* gamma (with optimizer slots) means a modified enet.py and fails the import;
* initial blocks 1..N-1 of ``num_initial_blocks`` N: kwotsin's loop applies every initial block to the
  input and keeps the last, so only block N reaches the output; the others are skipped and listed.

Reading a checkpoint needs TensorFlow (imported inside :func:`read_checkpoint`); the rest is numpy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Tuple

import numpy as np

from enet_edge.errors import ArtifactError, ConfigError
from enet_edge.model.config import ENetConfig

STAGE_TWO_SUFFIXES = ("regular", "dilated2", "asymmetric5", "dilated4", "regular", "dilated8", "asymmetric5",
                      "dilated16")
"""Our names of kwotsin's ``bottleneck{s}_{1..8}`` (same sequence as the paper's stages 2 and 3)."""

OPTIMIZER_SCALARS = ("global_step", "beta1_power", "beta2_power")
SCOPE = "ENet"


def _conv(out: Dict[str, str], ours: str, theirs: str, bias: bool = True) -> None:
    out[f"{ours}/kernel"] = f"{theirs}/weights"
    if bias:
        out[f"{ours}/bias"] = f"{theirs}/biases"


def _bn(out: Dict[str, str], ours: str, theirs: str) -> None:
    for leaf in ("beta", "moving_mean", "moving_variance"):
        out[f"{ours}/{leaf}"] = f"{theirs}/{leaf}"


def _prelu(out: Dict[str, str], ours: str, theirs: str) -> None:
    out[f"{ours}/alpha"] = f"{theirs}alpha"  # kwotsin: tf.get_variable(scope + 'alpha')


def _encoder_bottleneck(out, ours: str, theirs: str, suffix: str, decoder: bool) -> None:
    """Regular / dilated / asymmetric bottleneck ``theirs`` (e.g. ENet/bottleneck2_3) as ``ours``."""
    _conv(out, f"{ours}_conv1", f"{theirs}_conv1")
    _bn(out, f"{ours}_conv1_bn", f"{theirs}_batch_norm1")
    if suffix.startswith("asymmetric"):
        _conv(out, f"{ours}_conv2a", f"{theirs}_asymmetric_conv2a")
        _conv(out, f"{ours}_conv2b", f"{theirs}_asymmetric_conv2b")
        second = f"{ours}_conv2b"
    else:
        _conv(out, f"{ours}_conv2", f"{theirs}_dilated_conv2" if suffix.startswith("dilated") else f"{theirs}_conv2")
        second = f"{ours}_conv2"
    _bn(out, f"{second}_bn", f"{theirs}_batch_norm2")
    _conv(out, f"{ours}_conv3", f"{theirs}_conv3")
    _bn(out, f"{ours}_conv3_bn", f"{theirs}_batch_norm3")
    if not decoder:  # the decoder's "prelu" is a ReLU: no variable
        _prelu(out, f"{ours}_conv1_act", f"{theirs}_prelu1")
        _prelu(out, f"{second}_act", f"{theirs}_prelu2")
        _prelu(out, f"{ours}_conv3_act", f"{theirs}_prelu3")
        _prelu(out, f"{ours}_dropout_act", f"{theirs}_prelu4")
        _prelu(out, f"{ours}_out", f"{theirs}_last_prelu")


def _downsampling(out, ours: str, theirs: str) -> None:
    for i in (1, 2, 3):
        _conv(out, f"{ours}_conv{i}", f"{theirs}_conv{i}")
        _bn(out, f"{ours}_conv{i}_bn", f"{theirs}_batch_norm{i}")
        _prelu(out, f"{ours}_conv{i}_act", f"{theirs}_prelu{i}")
    _prelu(out, f"{ours}_out", f"{theirs}_last_prelu")


def _upsampling(out, ours: str, theirs: str) -> None:
    _conv(out, f"{ours}_main_conv", f"{theirs}_main_conv1")
    _bn(out, f"{ours}_main_bn", f"{theirs}batch_norm1")  # sic: no underscore in kwotsin's scope name
    _conv(out, f"{ours}_conv1", f"{theirs}_conv1")
    _bn(out, f"{ours}_conv1_bn", f"{theirs}_batch_norm2")
    out[f"{ours}_conv2/kernel"] = f"{theirs}_transposed_conv2_filters"
    _bn(out, f"{ours}_conv2_bn", f"{theirs}_batch_norm3")
    _conv(out, f"{ours}_conv3", f"{theirs}_conv3")
    _bn(out, f"{ours}_conv3_bn", f"{theirs}_batch_norm4")


def variable_map(config: ENetConfig, initial_block: int = 1, scope: str = SCOPE) -> Dict[str, str]:
    """Keras variable path of our kwotsin-flavour ENet -> kwotsin checkpoint variable name.

    ``initial_block``: which of kwotsin's initial blocks feeds the network (its ``num_initial_blocks``).
    """
    if config.flavour != "kwotsin":
        raise ConfigError(f"variable_map is for flavour kwotsin, not {config.flavour!r}")
    out: Dict[str, str] = {}
    block = f"{scope}/initial_block_{initial_block}"
    _conv(out, "initial_block_1_conv", f"{block}_conv")
    _bn(out, "initial_block_1_conv_bn", f"{block}_batchnorm")
    _prelu(out, "initial_block_1_conv_act", f"{block}_prelu")
    _downsampling(out, "bottleneck1_0_downsampling", f"{scope}/bottleneck1_0")
    for i in range(1, 5):
        _encoder_bottleneck(out, f"bottleneck1_{i}_regular", f"{scope}/bottleneck1_{i}", "regular", False)
    _downsampling(out, "bottleneck2_0_downsampling", f"{scope}/bottleneck2_0")
    for stage in range(2, 2 + config.stage_two_repeat):
        for i, suffix in enumerate(STAGE_TWO_SUFFIXES, start=1):
            _encoder_bottleneck(out, f"bottleneck{stage}_{i}_{suffix}", f"{scope}/bottleneck{stage}_{i}", suffix, False)
    up = 2 + config.stage_two_repeat
    _upsampling(out, f"bottleneck{up}_0_upsampling", f"{scope}/bottleneck{up}_0")
    for i in (1, 2):
        _encoder_bottleneck(out, f"bottleneck{up}_{i}_regular", f"{scope}/bottleneck{up}_{i}", "regular", True)
    _upsampling(out, f"bottleneck{up + 1}_0_upsampling", f"{scope}/bottleneck{up + 1}_0")
    _encoder_bottleneck(out, f"bottleneck{up + 1}_1_regular", f"{scope}/bottleneck{up + 1}_1", "regular", True)
    _conv(out, "fullconv", f"{scope}/fullconv")
    return out


def read_checkpoint(prefix) -> Dict[str, np.ndarray]:
    """Every variable of a TF checkpoint (``model.ckpt-13800``, its ``.index``, or a directory with a
    ``checkpoint`` file) as numpy arrays by name."""
    import tensorflow as tf

    prefix = str(prefix)
    for suffix in (".index", ".meta"):
        if prefix.endswith(suffix):
            prefix = prefix[: -len(suffix)]
    if tf.io.gfile.isdir(prefix):
        latest = tf.train.latest_checkpoint(prefix)
        if latest is None:
            raise ArtifactError(f"{prefix} is a directory without a 'checkpoint' file; give the checkpoint prefix, "
                                "e.g. log/model.ckpt-13800")
        prefix = latest
    try:
        reader = tf.train.load_checkpoint(prefix)
        names = sorted(reader.get_variable_to_shape_map())
        return {name: np.asarray(reader.get_tensor(name)) for name in names}
    except (tf.errors.OpError, ValueError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ArtifactError(f"cannot read TensorFlow checkpoint {prefix} ({message}); give the prefix of a "
                            "complete checkpoint (its .index and .data-* files)") from None


@dataclass(frozen=True)
class Architecture:
    """What a checkpoint's variable names say about kwotsin's ENet arguments."""

    scope: str
    num_classes: int
    num_initial_blocks: int
    stage_two_repeat: int


def infer_architecture(names: Mapping[str, Tuple[int, ...]]) -> Architecture:
    """``num_classes``, ``num_initial_blocks`` and ``stage_two_repeat`` from variable names and shapes."""
    fullconv = [n for n in names if n.endswith("/fullconv/weights")]
    if len(fullconv) != 1:
        raise ArtifactError("no '<scope>/fullconv/weights' variable: this is not a kwotsin/TensorFlow-ENet "
                            f"checkpoint (found {len(names)} variables, e.g. {sorted(names)[:3]})")
    scope = fullconv[0][: -len("/fullconv/weights")]
    num_classes = int(names[fullconv[0]][2])
    blocks = [int(m.group(1)) for n in names if (m := re.fullmatch(re.escape(scope) + r"/initial_block_(\d+)_conv/weights", n))]
    stages = {int(m.group(1)) for n in names
              if (m := re.fullmatch(re.escape(scope) + r"/bottleneck(\d+)_8_dilated_conv2/weights", n))}
    repeat = 0
    while 2 + repeat in stages:
        repeat += 1
    if not blocks or repeat < 1:
        raise ArtifactError(f"{scope}/initial_block_*_conv and {scope}/bottleneck2_8_dilated_conv2 are missing: "
                            "not a kwotsin/TensorFlow-ENet checkpoint")
    return Architecture(scope, num_classes, max(blocks), repeat)


def _is_optimizer_state(name: str, names) -> bool:
    if name.rsplit("/", 1)[-1] in OPTIMIZER_SCALARS:
        return True
    head = name
    while "/" in head:  # '<variable>/<slot>' (Adam, Adam_1, Momentum, RMSProp, ExponentialMovingAverage, ...)
        head = head.rsplit("/", 1)[0]
        if head in names:
            return True
    return False


@dataclass
class Conversion:
    """:func:`convert`'s result: our weights, the config, and how every checkpoint variable was accounted for."""

    weights: Dict[str, np.ndarray]
    config: ENetConfig
    architecture: Architecture
    placed: int
    parameters: int
    skipped: Dict[str, List[str]] = field(default_factory=dict)  # reason -> checkpoint names
    warnings: List[str] = field(default_factory=list)


def convert(variables: Mapping[str, np.ndarray], skip_connections: bool = False,
            num_initial_blocks: Optional[int] = None, stage_two_repeat: Optional[int] = None) -> Conversion:
    """Place a kwotsin checkpoint's variables into our kwotsin-flavour ENet's weights.

    ``num_initial_blocks`` / ``stage_two_repeat``: what the user says kwotsin was run with; they must
    agree with the checkpoint (which is what decides). ``skip_connections`` has no variables: the user's word.
    """
    shapes = {name: tuple(np.shape(value)) for name, value in variables.items()}
    arch = infer_architecture(shapes)
    for flag, given, found in (("--num-initial-blocks", num_initial_blocks, arch.num_initial_blocks),
                               ("--stage-two-repeat", stage_two_repeat, arch.stage_two_repeat)):
        if given is not None and given != found:
            raise ConfigError(f"{flag} {given} disagrees with the checkpoint, whose variables are those of {found}")
    config = ENetConfig(num_classes=arch.num_classes, stage_two_repeat=arch.stage_two_repeat,
                        skip_connections=skip_connections, flavour="kwotsin")
    mapping = variable_map(config, arch.num_initial_blocks, arch.scope)
    weights: Dict[str, np.ndarray] = {}
    missing = []
    for ours, theirs in mapping.items():
        if theirs not in variables:
            missing.append(theirs)
            continue
        weights[ours] = np.asarray(variables[theirs], np.float32)
    if missing:
        raise ArtifactError(f"the checkpoint lacks {len(missing)} variable(s) of kwotsin's ENet "
                            f"(num_classes={arch.num_classes}, stage_two_repeat={arch.stage_two_repeat}), "
                            f"e.g. {missing[:5]}")
    used = set(mapping.values())
    skipped: Dict[str, List[str]] = {}
    warnings: List[str] = []
    unplaced = []
    dead = re.compile(re.escape(arch.scope) + r"/initial_block_(\d+)_")
    for name in sorted(variables):
        if name in used:
            continue
        if _is_optimizer_state(name, variables):
            skipped.setdefault("optimizer state", []).append(name)
        elif (m := dead.match(name)) and int(m.group(1)) < arch.num_initial_blocks:
            skipped.setdefault(f"initial blocks before the last ({arch.num_initial_blocks}): kwotsin applies each "
                               "to the input and keeps only the last", []).append(name)
        elif name.endswith("/gamma") and name.startswith(arch.scope + "/"):
            skipped.setdefault("batch-norm gamma (slim.batch_norm scale=False: not used by kwotsin's network)",
                               []).append(name)
        else:
            unplaced.append(name)
    if unplaced:
        raise ArtifactError(f"{len(unplaced)} checkpoint variable(s) have no place in kwotsin's ENet: "
                            f"{', '.join(unplaced[:8])}{' ...' if len(unplaced) > 8 else ''}; is this "
                            "kwotsin/TensorFlow-ENet's enet.py, unmodified?")
    gammas = skipped.get(next((k for k in skipped if k.startswith("batch-norm gamma")), ""), [])
    trained = [g for g in gammas if any(n.startswith(g + "/") for n in variables)]
    if trained:
        raise ArtifactError(f"batch-norm gamma was trained ({trained[0]} has optimizer slots, {len(trained)} in all): "
                            "kwotsin's enet.py uses slim.batch_norm with scale=False, so this checkpoint comes from "
                            "a modified network that enet-edge cannot reproduce")
    off = [g for g in gammas if not np.allclose(variables[g], 1.0)]
    if off:
        warnings.append(f"{len(off)} batch-norm gamma variable(s) are not 1.0 (e.g. {off[0]}); kwotsin's network "
                        "does not use them (slim.batch_norm scale=False), so neither does the import")
    parameters = int(sum(v.size for v in weights.values()))
    return Conversion(weights, config, arch, len(mapping), parameters, skipped, warnings)


def check_shapes(weights: Mapping[str, np.ndarray], expected: Mapping[str, Tuple[int, ...]],
                 mapping: Mapping[str, str]) -> None:
    """Raise naming the checkpoint variables whose shapes differ from the network's."""
    bad = [f"{mapping.get(path, path)} {tuple(weights[path].shape)} (needs {tuple(shape)})"
           for path, shape in expected.items() if path in weights and tuple(weights[path].shape) != tuple(shape)]
    if bad:
        raise ArtifactError(f"{len(bad)} checkpoint variable(s) do not fit kwotsin's ENet: {'; '.join(bad[:5])}")
