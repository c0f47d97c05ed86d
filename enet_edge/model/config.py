"""Frozen, validated configuration of the network and of its op realizations.

Nothing here imports TensorFlow, so exported manifests can be read on a device.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Dict, Tuple

from enet_edge.errors import ConfigError

PRELU_REALIZATIONS = ("native", "relu_only")
"""``native``: ``relu(x) - alpha*relu(neg(x))``, the form converters fuse into one PReLU op.
``relu_only``: ``relu(x) - alpha*relu(x * -1)``: Relu, Mul and Sub with constants only."""

SWITCH_REALIZATIONS = ("reference", "argmax_free", "full_resolution")
"""``reference``: ``tf.nn.max_pool_with_argmax`` + ``tf.scatter_nd`` (kwotsin/TensorFlow-ENet's unpooling).
``argmax_free``: MaxPool, Equal and Select; no ArgMax, scatter, gather, Cast or Where.
``full_resolution``: argmax-free too, the switches a (N,H,W,C) mask: Equal with the nearest-upsampled maximum,
a depthwise conv codes which positions tie, Less keeps the first; no slices or Concat (which OpenVINO's CPU
plugin runs with reference kernels in channels-last layouts). The shuffle setting does not apply to it."""

SHUFFLE_REALIZATIONS = ("slice_concat", "depth_to_space")
"""How the argmax-free switches split a tensor into its four 2x2 phases and interleaves them back:
``slice_concat`` with StridedSlice, Concat and Reshape (ops every target has);
``depth_to_space`` with SpaceToDepth/DepthToSpace (one op each, fast on CPU, absent on MYRIAD)."""

UPSAMPLE_REALIZATIONS = ("transposed_conv", "conv_interleave")
"""How the 2x2/2 transposed convolutions are built: ``transposed_conv`` as one Conv2DBackpropInput
(ConvolutionBackpropData in OpenVINO, whose MYRIAD support the docs contradict), or
``conv_interleave`` as a 1x1 Conv2D to 4*C channels interleaved like the unpooling phases
(the same arithmetic: a 2x2/2 transposed conv has no overlapping windows)."""

INITIAL_REALIZATIONS = ("concat", "sum")
"""How the initial block joins its 13 conv channels and 3 pooled input channels: ``concat`` with one Concat;
``sum`` as the sum of the conv run with 3 extra all-zero filters and the pooled channels placed at 13..15 by a
1x1 conv with a constant 0/1 kernel (the same numbers: every added term is an exact zero). OpenVINO's CPU plugin
has no jit kernel for a u8 Concat at a 13-channel offset and reorders around the f32 one; the Add fuses into the
convolution. Flavours with BN + PReLU on the conv branch only (kwotsin) keep the concat."""


def _check_choice(name: str, value: str, choices: Tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"{name}={value!r} is not one of {', '.join(choices)}")



def _from_dict(cls, data: Dict[str, Any], what: str, hint: str = ""):
    """``cls(**data)`` for a frozen config dataclass; :class:`ConfigError` naming keys it does not have."""
    unknown = set(data) - {f.name for f in dataclasses.fields(cls)}
    if unknown:
        raise ConfigError(f"unknown {what} {sorted(unknown)}{hint}")
    return cls(**data)

@dataclass(frozen=True)
class Realization:
    """Which graph realization of the same weights to build.

    Every realization computes the same function (tests prove it); they differ only in the ops
    they use, so each export target can pick the one its hardware accepts or runs fastest.
    """

    prelu: str = "native"
    switches: str = "argmax_free"
    shuffle: str = "slice_concat"
    upsample: str = "transposed_conv"
    initial: str = "concat"

    def __post_init__(self) -> None:
        _check_choice("prelu", self.prelu, PRELU_REALIZATIONS)
        _check_choice("switches", self.switches, SWITCH_REALIZATIONS)
        _check_choice("shuffle", self.shuffle, SHUFFLE_REALIZATIONS)
        _check_choice("upsample", self.upsample, UPSAMPLE_REALIZATIONS)
        _check_choice("initial", self.initial, INITIAL_REALIZATIONS)

    @property
    def name(self) -> str:
        """Short stable name, e.g. ``prelu-native_switches-argmax_free_shuffle-slice_concat_upsample-...``
        (``_initial-sum`` at the end only for that choice, so the names of earlier realizations stay)."""
        name = f"prelu-{self.prelu}_switches-{self.switches}_shuffle-{self.shuffle}_upsample-{self.upsample}"
        return name if self.initial == "concat" else f"{name}_initial-{self.initial}"

    def to_dict(self) -> Dict[str, str]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "Realization":
        return _from_dict(cls, data, "realization keys", "; use prelu, switches, shuffle, upsample, initial")


REFERENCE_REALIZATION = Realization(prelu="native", switches="reference", shuffle="slice_concat", upsample="transposed_conv")


@dataclass(frozen=True)
class Flavour:
    """How an architecture flavour differs from the paper's ENet (``ENetConfig.flavour`` picks one).

    One network-building code path (:mod:`enet_edge.model.enet`) reads these switches; weights of a
    flavour fit only that flavour's layers.

    Attributes:
        name: ``paper`` (this toolkit's ENet) or ``kwotsin`` (kwotsin/TensorFlow-ENet's enet.py).
        input_rgb: the network was trained on RGB: the graph reverses the BGR frame before scaling.
        conv_bias: every convolution carries a bias (slim.conv2d's default) except the transposed 3x3.
        bn_scale: batch norm multiplies by gamma (Keras) or not (slim.batch_norm's default scale=False).
        initial_bn_on_concat: BN + PReLU after the initial block's concat (paper) or on its 13-channel
            conv branch only, the pooled RGB channels passed through as they are (kwotsin).
        inner_from_input: a downsampling bottleneck projects to input channels/4 (kwotsin) instead of
            output channels/4 (paper).
        bn_between_asymmetric: BN + activation between the kx1 and 1xk convs (paper) or not (kwotsin).
        act_after_dropout: an extra PReLU (ReLU in the decoder) after the spatial dropout of every
            non-downsampling bottleneck (kwotsin's ``_prelu4``).
        upsample_kernel: kernel of the upsampling bottleneck's stride-2 transposed conv, 2 or 3 (SAME).
        skip_after_upsampling: skip connections are added right after the upsampling bottleneck
            (kwotsin) instead of at the end of the stage (paper).
    """

    name: str
    input_rgb: bool = False
    conv_bias: bool = False
    bn_scale: bool = True
    initial_bn_on_concat: bool = True
    inner_from_input: bool = False
    bn_between_asymmetric: bool = True
    act_after_dropout: bool = False
    upsample_kernel: int = 2
    skip_after_upsampling: bool = False


FLAVOURS: Dict[str, Flavour] = {
    "paper": Flavour("paper"),
    "kwotsin": Flavour("kwotsin", input_rgb=True, conv_bias=True, bn_scale=False, initial_bn_on_concat=False,
                       inner_from_input=True, bn_between_asymmetric=False, act_after_dropout=True,
                       upsample_kernel=3, skip_after_upsampling=True),
}
"""Architecture flavours by name; see :class:`Flavour` and docs/import.md."""


@dataclass(frozen=True)
class ENetConfig:
    """ENet hyper-parameters and the static input shape (NHWC).

    Attributes:
        num_classes: number of output channels of the logits (CamVid: 12, void included).
        height, width: input size in pixels; both divisible by 8 (three 2x2 poolings).
        batch: static batch size baked into the graph.
        num_initial_blocks: 1 is the paper's initial block; each extra one is a stride-1
            3x3 conv + BN + PReLU refinement at 1/2 resolution (keeps the shapes).
        stage_two_repeat: how many stage-2-like stages follow stage 1 (paper: 2, i.e. stages 2 and 3).
        skip_connections: add stage-1 output to stage-4 output and initial output to stage-5 output.
        dropout_stage1, dropout_rest: spatial (channel-wise) dropout rates, active only in training.
        flavour: architecture flavour (:data:`FLAVOURS`): ``paper`` (default) or ``kwotsin``
            (kwotsin/TensorFlow-ENet's network, for imported checkpoints; ``num_initial_blocks`` 1).
    """

    num_classes: int = 12
    height: int = 360
    width: int = 480
    batch: int = 1
    num_initial_blocks: int = 1
    stage_two_repeat: int = 2
    skip_connections: bool = False
    dropout_stage1: float = 0.01
    dropout_rest: float = 0.1
    flavour: str = "paper"

    def __post_init__(self) -> None:
        _check_choice("flavour", self.flavour, tuple(FLAVOURS))
        if self.flavour == "kwotsin" and self.num_initial_blocks != 1:
            raise ConfigError(
                f"num_initial_blocks={self.num_initial_blocks} with flavour kwotsin: kwotsin's enet.py applies "
                "every initial block to the input and keeps the last one, so the network has exactly one; "
                "use num_initial_blocks=1 (enet-edge import keeps the last block's weights)")
        for name in ("num_classes", "height", "width", "batch", "num_initial_blocks", "stage_two_repeat"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"{name} must be an integer, got {value!r}")
        if self.num_classes < 1:
            raise ConfigError(f"num_classes must be >= 1, got {self.num_classes}")
        if self.batch < 1:
            raise ConfigError(f"batch must be >= 1, got {self.batch}")
        if self.num_initial_blocks < 1:
            raise ConfigError(f"num_initial_blocks must be >= 1, got {self.num_initial_blocks}")
        if self.stage_two_repeat < 1:
            raise ConfigError(f"stage_two_repeat must be >= 1, got {self.stage_two_repeat}")
        for name in ("height", "width"):
            value = getattr(self, name)
            if value < 8 or value % 8:
                raise ConfigError(f"{name}={value} must be a positive multiple of 8 (ENet pools three times by 2)")
        for name in ("dropout_stage1", "dropout_rest"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise ConfigError(f"{name}={value} must be in [0, 1)")

    @property
    def flavour_spec(self) -> Flavour:
        """The :class:`Flavour` this config builds."""
        return FLAVOURS[self.flavour]

    @property
    def input_shape(self) -> Tuple[int, int, int, int]:
        """(batch, height, width, 3), NHWC."""
        return (self.batch, self.height, self.width, 3)

    @property
    def output_shape(self) -> Tuple[int, int, int, int]:
        """(batch, height, width, num_classes), NHWC logits."""
        return (self.batch, self.height, self.width, self.num_classes)

    def replace(self, **changes: Any) -> "ENetConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "ENetConfig":
        return _from_dict(cls, data, "model config keys")
