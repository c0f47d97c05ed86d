"""One exception hierarchy and the exit codes of every command. Every message says what to change.

The CLI (:func:`enet_edge.cli.main`) catches :class:`EnetEdgeError` and prints its message as ONE line
``enet-edge <command>: error: <message>`` on stderr (the last line there), exiting with the error's
:attr:`~EnetEdgeError.exit_code`; lines after the first line of a message (tables of violations) are
printed before that line. The rule, for every command (docs/errors.md):

=====  ==========================================================================================
  0    success: the input was acceptable and the result is correct
  1    a check or gate failed: ``check`` found violations; ``export`` stopped at a compatibility
       gate, a parity threshold or the INT8 accuracy gate (:class:`GateError`)
  2    usage or input error: bad flag or value, missing/corrupt file, unwritable output, absent
       device (every other :class:`EnetEdgeError`; argparse's usage errors exit 2 too)
  3    internal error: an exception that is not an :class:`EnetEdgeError` (a bug in enet-edge)
130    interrupted (Ctrl-C, SIGINT); 143: terminated (SIGTERM). Outputs are finalized or removed as
       docs/errors.md says, never left half-written.
=====  ==========================================================================================
"""

EXIT_OK = 0
EXIT_FAILED = 1
"""A check or gate failed (:class:`GateError`)."""
EXIT_USAGE = 2
"""Usage or input error (every other :class:`EnetEdgeError`, and argparse)."""
EXIT_INTERNAL = 3
"""An unexpected exception: a bug in enet-edge (the CLI prints one line; ENET_EDGE_DEBUG=1 shows the traceback)."""
EXIT_INTERRUPTED = 130
"""Ctrl-C (SIGINT): 128 + 2."""
EXIT_TERMINATED = 143
"""SIGTERM: 128 + 15."""


class EnetEdgeError(Exception):
    """Base class of every error enet-edge raises on purpose."""

    exit_code = EXIT_USAGE


class ConfigError(EnetEdgeError, ValueError):
    """A configuration value is out of range or inconsistent."""


class ArtifactError(EnetEdgeError):
    """An artifact (weights, .pb, .onnx, .xml/.bin, manifest) is missing, corrupt or inconsistent."""


class OutputError(EnetEdgeError):
    """An output path (``--out``, ``--json``, ``--output``, ``--run-dir`` ...) cannot be written."""


class GateError(EnetEdgeError):
    """A check or gate failed: the input was read fine, the result does not pass (exit 1)."""

    exit_code = EXIT_FAILED


class CompatibilityError(GateError):
    """A graph contains ops that the export target does not accept."""

    def __init__(self, message, violations=()):
        super().__init__(message)
        self.violations = tuple(violations)


class ParityError(GateError):
    """An exported artifact does not reproduce the TensorFlow reference within the target's thresholds."""


class AccuracyError(GateError):
    """A quantized artifact loses more accuracy (mIoU) than its target allows."""


class CheckFailed(GateError):
    """``enet-edge check`` found violations (the table is printed above the error line)."""


class DeviceError(EnetEdgeError):
    """The requested inference device or backend is not available here."""


class InputError(EnetEdgeError, ValueError):
    """An input (frame, image folder, video, dataset) is missing or has the wrong shape/dtype."""


class SourceLost(InputError):
    """A live camera stopped delivering frames and did not come back within ``--camera-timeout`` (the demo)."""


class DeviceLost(DeviceError):
    """Inference kept failing after ``--device-retries`` reopens of the model (and of any fallback device)."""


class DataError(InputError):
    """The dataset directory is missing or malformed."""


class Interrupted(EnetEdgeError):
    """The run was interrupted (Ctrl-C) after its outputs were finalized; exits 130."""

    exit_code = EXIT_INTERRUPTED


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C so that every cleanup path runs; exits 143."""
