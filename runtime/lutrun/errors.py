"""One error tree, so callers and the CLI can tell causes apart.

Errors caused by bad user input also subclass ``ValueError``.
"""
from __future__ import annotations


class LutrunError(Exception):
    """Base of every error lutrun raises on purpose."""


class ModelFormatError(LutrunError, ValueError):
    """A model file or model object breaks the format; ``field`` names the culprit."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class ConfigError(LutrunError, ValueError):
    """A setting, flag or argument is invalid."""


class InputShapeError(LutrunError, ValueError):
    """Frames or bits do not match the model's input geometry."""


class DataError(LutrunError, ValueError):
    """A dataset file is missing, truncated or corrupt."""


class BackendUnavailableError(LutrunError):
    """An engine cannot run here (extension not built, no board, no simulator)."""


class NativeError(LutrunError):
    """The C library reported a failure."""


class HardwareError(LutrunError):
    """A camera, board or other device failed."""


class PipelineError(LutrunError):
    """The streaming pipeline could not start or run."""
