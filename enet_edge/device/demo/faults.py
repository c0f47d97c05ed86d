"""Faults a demo running for days survives: a live camera that stops (reopened with backoff for ``camera_timeout``)
and an inference or device error (the model closed and reopened on the same device through the adapter interface,
``device_retries`` times per fault, then ``fallback_device``). Each event is one log line and a count in the summary;
a bound ends the run with :class:`SourceLost` / :class:`DeviceLost` (the frame loop finalizes the outputs first).

:class:`Recovery` is a mixin of :class:`~enet_edge.device.demo.loop.FrameLoop`: it uses the loop's ``session``,
``pipeline``, ``faults``, ``recovered``, ``captured``, ``emitted`` and ``_set_header``.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import replace
from typing import Any, List, Tuple

import numpy as np

from enet_edge.device.demo.model import open_model
from enet_edge.errors import ArtifactError, DeviceError, DeviceLost, SourceLost
from enet_edge.runtime.adapters.base import first_line

DEVICE_FAULTS = (DeviceError, RuntimeError)
"""What an inference raises when the device fails: the OpenVINO adapters' :class:`DeviceError` (a stick that
reset or was unplugged), or a runtime's own RuntimeError."""
REOPEN_FAULTS = (DeviceError, ArtifactError, RuntimeError, OSError)
"""What reopening the model may raise while the device is still away (counted as one more attempt)."""


class Recovery:
    """Camera and device recovery of the frame loop (a mixin; see the module docstring)."""

    def _state(self, state: str) -> None:
        if self.session.server is not None:
            self.session.server.set_state(state)

    def _backoff(self, attempt: int) -> float:
        first, longest = self.session.config.retry_backoff
        return float(min(longest, first * 2 ** max(0, attempt - 1)))

    # -- faults -------------------------------------------------------------------------------

    def reconnect_source(self) -> Tuple[np.ndarray, int]:
        """A live camera that failed a read: reopen it with backoff until a frame comes (returned with the ns its
        read took) or ``camera_timeout`` passes (:class:`SourceLost`)."""
        s = self.session
        source, timeout = s.source, s.config.camera_timeout
        self.faults["camera"] += 1
        s.log(f"demo: {source.description} delivered no frame after {self.captured} frame(s); reopening it "
              f"(camera fault {self.faults['camera']}, for up to {timeout:g} s)")
        self._state("camera lost: reopening")
        started, attempt = time.monotonic(), 0
        while True:
            attempt += 1
            left = timeout - (time.monotonic() - started)
            time.sleep(max(0.0, min(self._backoff(attempt), left)))
            if source.reopen():
                t0 = time.perf_counter_ns()
                frame = source.read()
                if frame is not None:
                    self.recovered["camera"] += 1
                    s.log(f"demo: {source.description} is back after {time.monotonic() - started:.1f} s "
                          f"({attempt} attempt(s))")
                    self._state("running")
                    return frame, time.perf_counter_ns() - t0
            if time.monotonic() - started >= timeout:
                raise SourceLost(f"{source.description} lost: no frame for {timeout:g} s after {self.captured} "
                                 f"frame(s) ({attempt} reopen attempt(s)); check its cable and power and that no "
                                 f"other program holds it, or raise --camera-timeout")

    def device_fault(self, exc: BaseException) -> None:
        """An inference failed: close the model, reopen it on the same device with backoff (the fallback device
        once ``device_retries`` attempts are spent); :class:`DeviceLost` when none is left. Returns once a model is
        open again: the caller infers the same frame(s) again."""
        s = self.session
        config = s.config
        if self._device_attempts == 0:
            self.faults["device"] += 1
            s.log(f"demo: device fault on {s.device} after {self.emitted} frame(s): {first_line(exc)}; reopening "
                  f"the model (device fault {self.faults['device']})")
            self._state("device fault: reopening")
        self._close_model()
        last = exc
        while True:
            self._device_attempts += 1
            if self._device_attempts > config.device_retries:
                if config.fallback_device and self.fallback_used is None:
                    self.fallback_used = config.fallback_device
                    s.log(f"demo: {s.device} did not come back after {config.device_retries} reopen attempt(s); "
                          f"going on with --fallback-device {config.fallback_device}")
                    s.device = config.fallback_device
                    self._device_attempts = 0
                    continue
                tried = s.device if self.fallback_used is None else f"{s.device} (the fallback)"
                raise DeviceLost(f"device {tried} lost after {self.emitted} frame(s): inference still failed after "
                                 f"{config.device_retries} reopen attempt(s) ({first_line(last)}); check the stick "
                                 f"(replug it, a powered USB hub), raise --device-retries or name a --fallback-device")
            time.sleep(self._backoff(self._device_attempts))
            try:
                segmenter, _, _, _ = open_model(replace(config, device=s.device), s.log)
            except REOPEN_FAULTS as reopen_error:
                last = reopen_error
                continue
            s.segmenter = segmenter
            self.model_open = True
            if self.pipeline is not None:
                from enet_edge.runtime.segmenter import AsyncPipeline

                self.pipeline = AsyncPipeline(segmenter)
            self._set_header()
            return

    def _close_model(self) -> None:
        if self.model_open:
            self.model_open = False
            with contextlib.suppress(*DEVICE_FAULTS):  # a stick that is gone may fail its close too
                self.session.segmenter.adapter.close()

    def _infer(self, frame: np.ndarray):
        """One frame through the model, reopening it after device faults (:meth:`device_fault`)."""
        while True:
            try:
                return self.session.segmenter.infer(frame)
            except DEVICE_FAULTS as exc:
                self.device_fault(exc)

    def _submit(self, queue: List[Any]) -> List[Any]:
        """Submit ``queue`` (userdata tuples, in capture order) to the pipeline; after a device fault, the frames
        still in flight and the rest of the queue go to the reopened model, in order. Results ready so far."""
        out, queue = [], list(queue)
        while queue:
            try:
                out.extend(self.pipeline.submit(queue[0][1], queue[0]))
                queue.pop(0)
            except DEVICE_FAULTS as exc:
                lost = self.pipeline.unfinished()
                self.device_fault(exc)
                queue = sorted({ud[0]: ud for ud in lost + queue}.values(), key=lambda ud: ud[0])
        return out

    def _drain(self) -> List[Any]:
        out: List[Any] = []
        while True:
            try:
                return out + self.pipeline.drain()
            except DEVICE_FAULTS as exc:
                lost = self.pipeline.unfinished()
                self.device_fault(exc)
                out += self._submit(lost)
