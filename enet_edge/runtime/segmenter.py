"""Task logic: frames in, class maps out. Talks to an :class:`InferenceAdapter` only.

A *frame* is what OpenCV delivers: (H0, W0, 3) uint8 BGR, any size. Pre-processing resizes it to the
model size and converts it to the adapter's input dtype; post-processing takes logits -- (1, K, H, W) NCHW
(enet-edge's ONNX and IR exports, as OpenVINO's model_api expects) or (1, H, W, K) NHWC (TensorFlow, and exports
made before the NCHW output) -- to a class map (H, W) uint8 and, on request, back to (H0, W0) with
nearest-neighbour resizing (labels must never be interpolated).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from enet_edge.class_sets import CAMVID_CLASSES, CAMVID_PALETTE_RGB, VOID_LABEL, ClassSet
from enet_edge.errors import ArtifactError, InputError
from enet_edge.runtime.adapters import InferenceAdapter, open_artifact
from enet_edge.runtime.manifest import Artifact, resolve_artifact

FRAME_DTYPES = ("uint8", "float32", "float16")  # model input dtypes a BGR 0..255 frame converts to


def resize_to_model(frame: np.ndarray, height: int, width: int) -> np.ndarray:
    """(H0, W0, C) frame -> (height, width, C), bilinear (OpenCV INTER_LINEAR); returned as is when it
    already has that size. The one resize between a frame and the model input: the runner, the INT8
    calibration and the export's parity frames all feed what this returns."""
    import cv2

    if frame.shape[:2] != (height, width):
        frame = cv2.resize(frame, (width, height), interpolation=cv2.INTER_LINEAR)
    return frame


CLASS_MAP_DTYPES = ("int32", "uint8")
"""Element types of a class-map output (class ids, the arg-max inside the model)."""


def logits_class_axis(shape: Sequence[int], num_classes: int, size: Optional[Tuple[int, int]] = None) -> Optional[int]:
    """Where the classes are in 4-D logits of ``shape``: 1 for (1, K, H, W) NCHW, 3 for (1, H, W, K) NHWC, None
    for neither. ``size``: the (H, W) the logits must have (ENet's output is its input's size), which settles a
    shape that could be both (K equal to H); NHWC where it still is."""
    shape = tuple(int(d) for d in shape)
    if len(shape) != 4:
        return None
    fits = {axis: shape[axis] == num_classes and (size is None or tuple(d for i, d in enumerate(shape[1:], 1)
                                                                        if i != axis) == tuple(size))
            for axis in (3, 1)}
    return next((axis for axis, ok in fits.items() if ok), None)


class ChannelArgMax:
    """The arg-max over the classes of logits, exactly ``np.argmax`` (ties to the lowest id), faster on the host.

    NCHW logits: a loop over the K channels keeps the running maxima in a preallocated plane ``best`` and writes
    ``c`` into the class ids where channel ``c`` is strictly greater (``np.greater``, ``np.maximum``,
    ``np.putmask``), so a tie keeps the lower id as ``np.argmax`` does; each channel is one contiguous (H, W)
    plane. float16 logits are first widened into a preallocated float32 copy (exact: every f16 is an f32, so every
    comparison is the same), since numpy compares f16 in software; NHWC float16 logits are widened into an NCHW
    float32 copy the same way. NHWC float32 logits go to ``np.argmax`` itself, which is already fastest there
    (a contiguous last axis); other element types (float64, integers) too.

    NaN: ``np.maximum`` carries a NaN into ``best``, so a pixel with any NaN logit ends with a NaN maximum; when the
    frame has one, the whole frame is done by ``np.argmax`` instead (the index of the first NaN, numpy's rule), so
    the result equals ``np.argmax`` for NaN too, at numpy's speed for that frame.

    The buffers (``best``, the mask, the f32 copy) are kept per instance, keyed by shape, and reused frame after
    frame; the class ids returned are a new array each call (the caller keeps them: a :class:`Segmentation`, an
    :class:`AsyncPipeline`'s queue). A call that finds the buffers in use by another thread uses fresh ones."""

    def __init__(self) -> None:
        self._buffers: Dict[Tuple[Tuple[int, ...], str], Tuple[np.ndarray, ...]] = {}
        self._lock = threading.Lock()

    def __call__(self, logits: np.ndarray, class_axis: int) -> np.ndarray:
        """(K, H, W) logits (``class_axis`` 0) or (H, W, K) (``class_axis`` 2) -> (H, W) uint8 class ids."""
        if logits.ndim != 3 or class_axis not in (0, 2):
            raise InputError(f"logits of shape {logits.shape}, class axis {class_axis}: (K, H, W) with 0 or "
                             "(H, W, K) with 2")
        if logits.dtype not in (np.float32, np.float16) or (class_axis == 2 and logits.dtype == np.float32):
            return np.argmax(logits, axis=class_axis).astype(np.uint8)
        planes = logits if class_axis == 0 else np.moveaxis(logits, 2, 0)
        if not self._lock.acquire(blocking=False):
            return self._run(logits, planes, class_axis, self._make(planes))
        try:
            key = (planes.shape, planes.dtype.str)
            buffers = self._buffers.get(key)
            if buffers is None:
                self._buffers = {key: self._make(planes)}  # one shape at a time: a new size drops the old buffers
                buffers = self._buffers[key]
            return self._run(logits, planes, class_axis, buffers)
        finally:
            self._lock.release()

    @staticmethod
    def _make(planes: np.ndarray) -> Tuple[np.ndarray, ...]:
        size = planes.shape[1:]
        wide = None if planes.dtype == np.float32 else np.empty(planes.shape, np.float32)
        return np.empty(size, np.float32), np.empty(size, np.bool_), wide

    @staticmethod
    def _run(logits: np.ndarray, planes: np.ndarray, class_axis: int, buffers: Tuple[np.ndarray, ...]) -> np.ndarray:
        best, mask, wide = buffers
        if wide is not None:
            np.copyto(wide, planes)  # f16 -> f32 (and NHWC -> NCHW): exact
            planes = wide
        ids = np.zeros(best.shape, np.uint8)
        np.copyto(best, planes[0])
        for c in range(1, planes.shape[0]):
            np.greater(planes[c], best, out=mask)  # strictly: a tie keeps the lower id
            np.maximum(best, planes[c], out=best)
            np.putmask(ids, mask, c)
        if np.isnan(best).any():  # a NaN logit: numpy's rule (the first NaN's index), from numpy itself
            return np.argmax(logits, axis=class_axis).astype(np.uint8)
        return ids


_SHARED_ARGMAX = ChannelArgMax()
"""The arg-max of :meth:`Segmenter.class_map` called without a segmenter (its buffers, shared; thread-safe)."""


def is_class_map(output: np.ndarray) -> bool:
    """True for a class-map output: (1, H, W) integer class ids rather than 4-D float logits."""
    return output.ndim == 3 and np.issubdtype(output.dtype, np.integer)


def resize_labels(class_map: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of a (H, W) uint8 class map to (height, width) ``size`` (labels are never
    interpolated); returned as is when it already has that size."""
    import cv2

    if class_map.shape == tuple(size):
        return class_map
    return cv2.resize(class_map, (size[1], size[0]), interpolation=cv2.INTER_NEAREST)


def colorize(class_map: np.ndarray, palette_bgr: np.ndarray) -> np.ndarray:
    """(H, W) class ids -> (H, W, 3) uint8 BGR colours of ``palette_bgr`` (K, 3); ids past K take the last."""
    return palette_bgr[np.clip(class_map, 0, len(palette_bgr) - 1)]


def overlay(frame: np.ndarray, class_map: np.ndarray, palette_bgr: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """Blend the colorized class map (resized to the frame, nearest) over ``frame``; alpha in [0, 1]
    (1: the class colours alone)."""
    import cv2

    if not 0.0 <= alpha <= 1.0:
        raise InputError(f"alpha={alpha} must be within 0..1")
    mask = colorize(resize_labels(class_map, frame.shape[:2]), palette_bgr)
    return cv2.addWeighted(mask, alpha, frame, 1.0 - alpha, 0.0)


@dataclass(frozen=True)
class Segmentation:
    """Result of one frame: class map at model size and at the frame's size, plus stage timings (ns).

    ``timings_ns`` holds "preprocess", "infer", "postprocess" and, from :class:`AsyncPipeline`,
    "wait" (waiting for a free infer request before the inference started) and "collect" (from the
    end of the inference until the caller's thread picked its result up).
    """

    class_map: np.ndarray  # (H, W) uint8, model size
    frame_class_map: np.ndarray  # (H0, W0) uint8, original frame size
    timings_ns: Dict[str, int] = field(default_factory=dict)
    finished_ns: int = 0  # time.perf_counter_ns() when post-processing ended


class Segmenter:
    """Pre-process, infer and post-process frames with any adapter."""

    def __init__(self, adapter: InferenceAdapter, classes: Sequence[str] = CAMVID_CLASSES,
                 palette_rgb: Sequence[Sequence[int]] = CAMVID_PALETTE_RGB, ignore_label: Optional[int] = -1):
        """``ignore_label``: the label id the metric skips (-1: CamVid's void for CamVid's classes, else none)."""
        spec, out = adapter.input_spec, adapter.output_spec
        if len(spec.shape) != 4 or spec.shape[0] != 1 or spec.shape[3] != 3:
            raise ArtifactError(f"{adapter.path} takes {spec.name} {tuple(spec.shape)}; the segmenter needs a "
                                f"(1, H, W, 3) NHWC BGR input as enet-edge exports it")
        if spec.dtype not in FRAME_DTYPES:
            raise ArtifactError(f"{adapter.path} takes {spec.name} as {spec.dtype}; the segmenter feeds "
                                f"{' or '.join(FRAME_DTYPES)} BGR 0..255")
        class_ids = len(out.shape) == 3 and out.shape[0] == 1 and out.dtype in CLASS_MAP_DTYPES
        axis = logits_class_axis(out.shape, len(classes), (spec.height, spec.width))
        if not class_ids and (axis is None or out.shape[0] != 1):
            raise ArtifactError(f"{adapter.path} returns {out.name} {tuple(out.shape)} {out.dtype}; the segmenter "
                                f"needs logits of its input's size, one channel per class: (1, {len(classes)}, H, W) "
                                f"NCHW or (1, H, W, {len(classes)}) NHWC, or a (1, H, W) "
                                f"{' or '.join(CLASS_MAP_DTYPES)} class map")
        self.class_axis = axis if axis is not None else 3  # of the logits; unused for a class map
        self.adapter = adapter
        self.classes = tuple(classes)
        palette = np.asarray(palette_rgb, np.uint8)
        if palette.shape != (len(self.classes), 3):
            raise InputError(f"palette has shape {palette.shape}, expected ({len(self.classes)}, 3)")
        self.palette_bgr = palette[:, ::-1].copy()
        if ignore_label == -1:
            ignore_label = VOID_LABEL if self.classes == tuple(CAMVID_CLASSES) else None
        self.ignore_label = ignore_label
        self.artifact: Optional[Artifact] = None  # what it was opened from (for_artifact), else None
        self._argmax = ChannelArgMax()  # its buffers, reused frame after frame

    @property
    def class_set(self) -> ClassSet:
        """The model's classes, palette and ignore label (what eval scores over)."""
        return ClassSet(self.classes, tuple(tuple(int(c) for c in rgb) for rgb in self.palette_bgr[:, ::-1]),
                        self.ignore_label)

    @classmethod
    def open(cls, path, backend: Optional[str] = None, device: str = "CPU", **options) -> "Segmenter":
        """Open an export directory (manifest verified) or a single .xml/.onnx/.pb file."""
        artifact: Artifact = resolve_artifact(path, backend)
        adapter = open_artifact(artifact, device=device, **options)
        try:
            return cls.for_artifact(adapter, artifact)
        except BaseException:
            adapter.close()
            raise

    @classmethod
    def for_artifact(cls, adapter: InferenceAdapter, artifact: Artifact) -> "Segmenter":
        """A segmenter of ``adapter`` (``artifact`` opened) with ``artifact.classes`` (its manifest's, a weights
        file's meta, else CamVid's): names, palette and the ignore label eval leaves out."""
        classes = artifact.classes
        segmenter = cls(adapter, classes.names, classes.palette_rgb, classes.ignore_label)
        segmenter.artifact = artifact
        return segmenter

    @property
    def model_size(self) -> Tuple[int, int]:
        """(height, width) the model takes."""
        spec = self.adapter.input_spec
        return spec.height, spec.width

    def preprocess(self, frame: np.ndarray) -> np.ndarray:
        """(H0, W0, 3) uint8 BGR -> the adapter's input tensor (1, H, W, 3), its dtype."""
        if not isinstance(frame, np.ndarray) or frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            got = f"{frame.shape} {frame.dtype}" if isinstance(frame, np.ndarray) else type(frame).__name__
            raise InputError(f"a frame must be (H, W, 3) uint8 BGR, got {got}")
        return resize_to_model(frame, *self.model_size)[None].astype(self.adapter.input_spec.dtype, copy=False)

    @staticmethod
    def class_map(output: np.ndarray, class_axis: int = 3, argmax: Optional[ChannelArgMax] = None) -> np.ndarray:
        """A model output -> (H, W) uint8 class ids: float logits, the arg-max over ``class_axis`` (1: (1, K, H, W)
        NCHW; 3: (1, H, W, K) NHWC; :func:`logits_class_axis`), or (1, H, W) integer class ids from a class-map
        export (the arg-max ran inside the model). Ties go to the lowest class id: the result is ``np.argmax``'s,
        computed by ``argmax`` (:class:`ChannelArgMax`; a segmenter passes its own, whose buffers it reuses)."""
        if is_class_map(output):
            return output[0].astype(np.uint8, copy=False)
        if class_axis not in (1, 3):
            raise InputError(f"class_axis={class_axis}: 1 (NCHW logits) or 3 (NHWC)")
        return (argmax or _SHARED_ARGMAX)(output[0], class_axis - 1)

    resize_labels = staticmethod(resize_labels)

    def infer(self, frame: np.ndarray) -> Segmentation:
        t0 = time.perf_counter_ns()
        tensor = self.preprocess(frame)
        t1 = time.perf_counter_ns()
        logits = self.adapter.infer(tensor)
        t2 = time.perf_counter_ns()
        result = self._finish(logits, frame.shape[:2])
        t3 = time.perf_counter_ns()
        return Segmentation(result[0], result[1], {"preprocess": t1 - t0, "infer": t2 - t1, "postprocess": t3 - t2}, t3)

    def _finish(self, logits: np.ndarray, frame_size) -> Tuple[np.ndarray, np.ndarray]:
        cmap = self.class_map(logits, self.class_axis, self._argmax)
        return cmap, self.resize_labels(cmap, tuple(frame_size))

    def colorize(self, class_map: np.ndarray) -> np.ndarray:
        """(H, W) class ids -> (H, W, 3) uint8 BGR colours of the palette (:func:`colorize`)."""
        return colorize(class_map, self.palette_bgr)

    def overlay(self, frame: np.ndarray, class_map: np.ndarray, alpha: float = 0.5) -> np.ndarray:
        """Blend the colorized class map (resized to the frame, nearest) over ``frame`` (:func:`overlay`)."""
        return overlay(frame, class_map, self.palette_bgr, alpha)


class AsyncPipeline:
    """Keep up to ``adapter.num_requests`` frames in flight; results come out in submission order.

    Post-processing runs on the caller's thread (inside ``submit`` / ``drain``), never on a
    runtime thread.

    ``submit(frame, userdata)`` returns the results (in order) that completed meanwhile, each as
    ``(userdata, Segmentation)``; ``drain()`` waits for and returns the rest.
    """

    def __init__(self, segmenter: Segmenter):
        self.segmenter = segmenter
        self._next_id = 0
        self._next_out = 0
        self._done: Dict[int, Tuple[Any, Segmentation]] = {}
        self._pending: Dict[int, Tuple[Any, Tuple[int, int], Dict[str, int], int]] = {}

    def _callback(self, logits: np.ndarray, token: int) -> None:
        userdata, size, timings, started = self._pending.pop(token)
        t0 = time.perf_counter_ns()
        infer_ns = self.segmenter.adapter.last_request_ns or (t0 - started)
        cmap, frame_cmap = self.segmenter._finish(logits, size)
        t1 = time.perf_counter_ns()
        timings = dict(timings, infer=infer_ns, collect=max(0, t0 - started - infer_ns), postprocess=t1 - t0)
        self._done[token] = (userdata, Segmentation(cmap, frame_cmap, timings, t1))

    def _ready(self) -> List[Tuple[Any, Segmentation]]:
        out = []
        while self._next_out in self._done:
            out.append(self._done.pop(self._next_out))
            self._next_out += 1
        return out

    def submit(self, frame: np.ndarray, userdata: Any = None) -> List[Tuple[Any, Segmentation]]:
        """Pre-process ``frame`` ((H0, W0, 3) uint8 BGR) and start its inference; may block while all
        requests are busy. Returns the results completed so far, in submission order."""
        t0 = time.perf_counter_ns()
        tensor = self.segmenter.preprocess(frame)
        t1 = time.perf_counter_ns()
        self.segmenter.adapter.wait_idle()
        t2 = time.perf_counter_ns()
        token = self._next_id
        self._next_id += 1
        self._pending[token] = (userdata, frame.shape[:2], {"preprocess": t1 - t0, "wait": t2 - t1}, t2)
        self.segmenter.adapter.start_async(tensor, token, self._callback)
        return self._ready()

    def drain(self) -> List[Tuple[Any, Segmentation]]:
        self.segmenter.adapter.wait_all()
        return self._ready()

    def unfinished(self) -> List[Any]:
        """The userdata of every frame submitted and not returned yet (in flight, or done and waiting for an
        earlier one), in submission order; the pipeline forgets them. After a device fault (an exception from
        :meth:`submit` or :meth:`drain`), submit them again to a pipeline of the reopened model: no frame is lost."""
        tokens = sorted(set(self._pending) | set(self._done))
        out = [self._pending[t][0] if t in self._pending else self._done[t][0] for t in tokens]
        self._pending.clear()
        self._done.clear()
        self._next_out = self._next_id
        return out
