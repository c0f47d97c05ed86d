"""One exception hierarchy. Every message says what to change.

The CLI catches :class:`EnetEdgeError` and prints its message on one line with a non-zero exit.
Anything else escaping is a bug in enet-edge, not a user error.
"""


class EnetEdgeError(Exception):
    """Base class of every error enet-edge raises on purpose."""

    exit_code = 2


class ConfigError(EnetEdgeError, ValueError):
    """A configuration value is out of range or inconsistent."""


class ArtifactError(EnetEdgeError):
    """An artifact (weights, .pb, .onnx, .xml/.bin, manifest) is missing, corrupt or inconsistent."""


class CompatibilityError(EnetEdgeError):
    """A graph contains ops that the export target does not accept."""

    def __init__(self, message, violations=()):
        super().__init__(message)
        self.violations = tuple(violations)


class ParityError(EnetEdgeError):
    """An exported artifact does not reproduce the TensorFlow reference within the target's thresholds."""


class AccuracyError(EnetEdgeError):
    """A quantized artifact loses more accuracy (mIoU) than its target allows."""


class DeviceError(EnetEdgeError):
    """The requested inference device or backend is not available here."""


class InputError(EnetEdgeError, ValueError):
    """An input (frame, image folder, video, dataset) is missing or has the wrong shape/dtype."""


class DataError(InputError):
    """The dataset directory is missing or malformed."""
