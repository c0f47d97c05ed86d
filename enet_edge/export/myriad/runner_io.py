"""The one MYRIAD X compile of a model: with the I/O element types enet-edge's runner asks of the stick.

The export's compile stage, ``make bench``'s compile table and ``enet-edge check`` all compile through
:func:`compile_for_runner`, so their stage counts, SHAVE stages and traffic are of the same compiled graph. The
runner feeds the deployed IR uint8 BGR frames (``u8`` in: the compiled graph converts them on the stick) and asks
the device for its output in :func:`~enet_edge.runtime.precision.device_output_type` of the output's element type
(``f16`` logits on MYRIAD, a class map's ``int32``/``uint8`` as it is). The export's ONNX stands for its IR
(OpenVINO 2021.4.2 cannot read IR v11), so it is compiled with the IR's I/O.

No TensorFlow, OpenVINO or onnx on import (``enet-edge check`` runs on a device install); :func:`model_io`
reads an ``.onnx`` with the onnx package.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional, Tuple

from enet_edge.errors import ArtifactError
from enet_edge.export.myriad.compiler import IO_PRECISIONS, compile_model
from enet_edge.runtime.precision import device_output_type

if TYPE_CHECKING:  # targets imports only .compiler (its options check), never this module
    from enet_edge.export.targets import TargetSpec

RUNNER_INPUT = "u8"
"""The element type the runner feeds the deployed IR: OpenCV frames as they are (uint8 BGR NHWC)."""

_FLOAT_NAMES = {"float32": "f32", "float16": "f16", "FP32": "f32", "FP16": "f16", "f32": "f32", "f16": "f16"}


def runner_precisions(device: str, output_type: Optional[str] = None, image_input: bool = True,
                      logits: Optional[str] = None) -> Tuple[Optional[str], Optional[str]]:
    """(input, output) element types the runner asks of ``device`` for a deployed model.

    ``output_type``: the deployed output's element type (``int32``/``uint8`` for a class map; None or a float type
    such as ``float32``: logits). Input: :data:`RUNNER_INPUT` where ``image_input`` (the model takes an image), else
    None (left as the model declares it). Output: :func:`device_output_type` of the output's type (``f16`` for logits
    on MYRIAD), or ``logits`` (``f32``/``f16``) where given and the output is logits: the compile table's row of an
    application that asks otherwise. None: left as the model declares it (an output type the compiler's API has no
    name for)."""
    declared = _FLOAT_NAMES.get(output_type or "f32", output_type)
    output = logits if logits is not None and declared in ("f32", "f16") else device_output_type(device, declared)
    return (RUNNER_INPUT if image_input else None), (output if output in IO_PRECISIONS else None)


def compile_for_runner(model: Path, target: "TargetSpec", log: Optional[Callable[[str], None]] = None, *,
                       output_type: Optional[str] = None, logits: Optional[str] = None, image_input: bool = True,
                       timeout: int = 600) -> dict:
    """Compile ``model`` (.onnx, or an IR v10 .xml) for ``target.device`` with the target's MYRIAD compiler options
    (none where it has no ``[myriad_compiler]`` table) and :func:`runner_precisions`; the compiler's record
    (:func:`~enet_edge.export.myriad.compiler.compile_model`: ``verdict``, ``stages``, ``io_precisions``, ...).

    ``output_type``: the deployed output's element type (a manifest's ``outputs[0].dtype``); None: the target's
    class map, else logits. ``logits``, ``image_input``: as in :func:`runner_precisions`."""
    input_precision, output_precision = runner_precisions(target.device, output_type or target.class_map,
                                                          image_input, logits)
    return compile_model(Path(model), target.myriad_compiler or {}, log, timeout,
                         input_precision=input_precision, output_precision=output_precision)


@dataclass(frozen=True)
class ModelIO:
    """What a model file declares: ``inputs``, the shape of each input (-1: a dynamic dimension); ``output``, the
    element type of its first output (``f32``, ``f16``, ``int32``, ``uint8``; ``other`` for another type, None
    where it has no output)."""

    inputs: Tuple[Tuple[int, ...], ...]
    output: Optional[str]

    @property
    def image_input(self) -> bool:
        """One 4D input with 3 channels (NHWC or NCHW): a frame, which the runner feeds as uint8 BGR."""
        return len(self.inputs) == 1 and len(self.inputs[0]) == 4 and 3 in (self.inputs[0][1], self.inputs[0][3])


_ONNX_TYPES = {1: "f32", 10: "f16", 6: "int32", 2: "uint8"}  # onnx.TensorProto's FLOAT, FLOAT16, INT32, UINT8
_IR_TYPES = {"FP32": "f32", "FP16": "f16", "I32": "int32", "U8": "uint8"}


def model_io(model: Path) -> ModelIO:
    """The inputs and output type an ``.onnx`` (graph inputs that are no initializer; needs the onnx package) or an
    IR ``.xml`` (Parameter layers; the port precision feeding its first Result) declares.
    :class:`ArtifactError` where the file cannot be read."""
    model = Path(model)
    if model.suffix.lower() == ".onnx":
        try:
            import onnx

            graph = onnx.load(str(model), load_external_data=False).graph
        except Exception as exc:  # ImportError, DecodeError, OSError
            raise ArtifactError(f"cannot read the inputs of {model} ({type(exc).__name__}: {exc})") from None
        constants = {init.name for init in graph.initializer}
        inputs = tuple(tuple(d.dim_value if d.HasField("dim_value") else -1 for d in i.type.tensor_type.shape.dim)
                       for i in graph.input if i.name not in constants)
        output = _ONNX_TYPES.get(graph.output[0].type.tensor_type.elem_type, "other") if graph.output else None
        return ModelIO(inputs, output)
    try:
        root = ET.parse(model).getroot()
    except (ET.ParseError, OSError) as exc:
        raise ArtifactError(f"cannot read the inputs of {model} ({exc})") from None
    layers = list(root.iter("layer"))
    inputs = tuple(tuple(int(d) if d.lstrip("-").isdigit() else -1
                         for d in ((dim.text or "").strip() for dim in layer.findall("./output/port/dim")))
                   for layer in layers if layer.get("type") == "Parameter")
    result = next((layer for layer in layers if layer.get("type") == "Result"), None)
    port = result.find("./input/port") if result is not None else None
    return ModelIO(inputs, _IR_TYPES.get(port.get("precision", ""), "other") if port is not None else None)
