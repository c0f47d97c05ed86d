"""FP16 range check: does any activation of the target realization leave FP16's range on the parity frames?

FP16 targets (NCS2/MYRIAD) compute in half precision, whose largest finite value is 65504. A trained network
whose activations exceed it overflows to inf/NaN there, and FP16 parity then fails with numbers that say
nothing (``max_abs_rel nan``). Before FP16 parity the export runs the parity frames through the target
realization at f32 (:func:`activation_ranges`), summarizes the largest |activation| of every layer
(:func:`fp16_range_record`, JSON-serializable for the manifest), stops with one line naming the first layer
beyond the limit (:func:`raise_on_overflow`) and writes one line for report.md (:func:`near_limit_text`).
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from enet_edge.errors import ParityError

FP16_MAX = 65504.0
"""Largest finite IEEE half-precision value."""
NEAR_FACTOR = 4.0
"""Layers with |x| > FP16_MAX / NEAR_FACTOR are listed as near the limit."""


def activation_ranges(model: Any, frames: Sequence[np.ndarray]) -> List[Tuple[str, float]]:
    """Largest |activation| of every layer of a Keras functional ``model`` over ``frames``, at f32.

    Args:
        model: a Keras functional model (e.g. :func:`enet_edge.model.enet.build_enet`), its layers not shared
            (each called once).
        frames: arrays of the model's input shape, e.g. (1,H,W,3) uint8 or float BGR 0..255; fed as float32.

    Returns:
        ``(layer name, largest |x|)`` for every non-input layer with at least one float output, in
        ``model.layers`` order (the model output included); a layer with several outputs gets the maximum
        over its float outputs (integer outputs such as argmax switches are skipped). A NaN anywhere in a
        layer's outputs makes its value NaN; an overflow to inf makes it inf.
    """
    import keras

    names: List[str] = []
    tensors: List[Any] = []
    owners: List[int] = []  # index into ``names`` of each tensor in ``tensors``
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        outputs = layer.output if isinstance(layer.output, (list, tuple)) else [layer.output]
        floats = [t for t in outputs if keras.backend.is_float_dtype(t.dtype)]
        if not floats:
            continue
        names.append(layer.name)
        tensors.extend(floats)
        owners.extend([len(names) - 1] * len(floats))
    probe = keras.Model(inputs=model.inputs, outputs=tensors, name=f"{model.name}_activation_ranges")
    largest = np.zeros(len(names), dtype=np.float64)
    for frame in frames:
        values = probe([np.asarray(frame, dtype=np.float32)], training=False)  # list: like model.inputs
        for owner, value in zip(owners, values):
            # np.maximum propagates NaN (max() would depend on the order)
            largest[owner] = np.maximum(largest[owner], float(np.max(np.abs(np.asarray(value)))))
    return [(name, float(value)) for name, value in zip(names, largest)]


def _entry(name: str, value: float) -> Dict[str, Any]:
    """``{"layer", "max_abs"}``; a non-finite value is stored as None with ``"nonfinite": True`` (valid JSON)."""
    if math.isfinite(value):
        return {"layer": name, "max_abs": float(value)}
    return {"layer": name, "max_abs": None, "nonfinite": True}


def fp16_range_record(ranges: Sequence[Tuple[str, float]], limit: float = FP16_MAX,
                      near_factor: float = NEAR_FACTOR) -> Dict[str, Any]:
    """Summary of :func:`activation_ranges` against ``limit``, JSON-serializable (no inf/NaN floats).

    Returns:
        ``{"limit", "near_factor", "max_abs", "max_layer", "overflow", "near_limit"}`` (plus
        ``"nonfinite": True`` when some layer is NaN/inf). ``overflow``: every layer with |x| > limit or a
        non-finite value; ``near_limit``: every layer with limit/near_factor < |x| <= limit; both in graph order
        as ``{"layer", "max_abs"}`` entries (a non-finite one has ``max_abs`` None and ``"nonfinite": True``).
        ``max_abs``/``max_layer``: the largest value and its first layer; ``max_abs`` is None when some layer is
        non-finite (``max_layer`` then names the first such layer); both None when ``ranges`` is empty.
    """
    near = limit / near_factor
    overflow = [_entry(n, v) for n, v in ranges if not math.isfinite(v) or v > limit]
    near_limit = [_entry(n, v) for n, v in ranges if math.isfinite(v) and near < v <= limit]
    nonfinite = [(n, v) for n, v in ranges if not math.isfinite(v)]
    finite = [(n, v) for n, v in ranges if math.isfinite(v)]
    max_layer: Optional[str] = None
    max_abs: Optional[float] = None
    if nonfinite:
        max_layer = nonfinite[0][0]
    elif finite:
        max_layer, max_abs = max(finite, key=lambda item: item[1])  # max keeps the first of equal values
        max_abs = float(max_abs)
    record: Dict[str, Any] = {"limit": float(limit), "near_factor": float(near_factor), "max_abs": max_abs,
                              "max_layer": max_layer, "overflow": overflow, "near_limit": near_limit}
    if nonfinite:
        record["nonfinite"] = True
    return record


def _listing(entries: List[Dict[str, Any]], most: int = 10) -> str:
    """``'a' 2.1e+04, 'b' inf/NaN`` for the first ``most`` entries, then ``and N more``."""
    text = ", ".join(f"'{e['layer']}' " + ("inf/NaN" if e.get("nonfinite") else f"{e['max_abs']:.3g}")
                     for e in entries[:most])
    return text + (f" and {len(entries) - most} more" if len(entries) > most else "")


def raise_on_overflow(record: Dict[str, Any], target: str) -> None:
    """Raise :class:`ParityError` (exit 1), one line naming the first overflowing layer, if ``record`` has one."""
    if not record["overflow"]:
        return
    first = record["overflow"][0]
    more = len(record["overflow"]) - 1
    others = f" ({more} more layer{'s' if more != 1 else ''} beyond it)" if more else ""
    reach = "reaches inf/NaN" if first.get("nonfinite") else f"reaches |x| = {first['max_abs']:.3g}"
    raise ParityError(
        f"target {target}: layer '{first['layer']}' {reach} on the parity frames at f32{others}, beyond FP16's "
        f"largest value {record['limit']:g}: the FP16 export would overflow (inf/NaN); retrain or rescale the "
        "weights (e.g. smaller logits), or export a FP32 target (cpu)")


def near_limit_text(record: Dict[str, Any]) -> str:
    """One line for report.md: the largest |activation| and the layers within the near factor of the limit."""
    limit = f"{record['limit']:g}"
    if record.get("nonfinite"):
        largest = f"FP16 range: some activation is inf/NaN at f32 (layer '{record['max_layer']}')"
    elif record["max_layer"] is None:
        largest = "FP16 range: no float activations"
    else:
        largest = f"FP16 range: largest |activation| {record['max_abs']:.3g} (layer '{record['max_layer']}')"
    if record["overflow"]:
        largest += f"; beyond {limit}: {_listing(record['overflow'])}"
    factor = f"{record.get('near_factor', NEAR_FACTOR):g}"
    if not record["near_limit"]:
        return f"{largest}; no layer within {factor}x of {limit}."
    return f"{largest}; layers within {factor}x of {limit}: {_listing(record['near_limit'])}."
