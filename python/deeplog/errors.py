"""The exceptions deeplog raises: one hierarchy under :class:`Error`.

Each carries the message the command line would print (for a model with
errors, the rendered diagnostics with their source lines) and, where the
error is about a place in a file, that place: ``file``, ``line`` and
``column`` (1-based), else ``None``.
"""

from __future__ import annotations

import builtins
from typing import Optional

__all__ = [
    "Error",
    "ModelError",
    "FileError",
    "GroundingError",
    "CompileError",
    "TimeoutError",
    "EvidenceError",
    "EvaluationError",
    "InputError",
    "DeviceError",
    "UnsupportedError",
]


class Error(Exception):
    """Anything deeplog refuses or cannot do."""

    def __init__(
        self,
        message: str,
        file: Optional[str] = None,
        line: Optional[int] = None,
        column: Optional[int] = None,
    ) -> None:
        super().__init__(message)
        #: What went wrong, as the command line prints it.
        self.message = message
        #: The file (or model name) it is about, where known.
        self.file = file
        #: 1-based line and column in ``file``, where known.
        self.line = line
        self.column = column

    @property
    def diagnostic(self) -> str:
        """The rendered diagnostic (the message, with source lines where it
        has them)."""
        return self.message

    def __reduce__(self):
        return (type(self), (self.message, self.file, self.line, self.column))


class ModelError(Error):
    """The model text does not read or does not check (syntax, arity,
    safety, stratification): ``message`` holds every diagnostic, rendered
    with its source line; ``line``/``column`` point at the first error."""


class FileError(Error, OSError):
    """A file cannot be read (missing, not UTF-8, too large) or is not a
    circuit file deeplog reads."""


class GroundingError(Error):
    """Grounding stopped at a place in the model: an instantiation or type
    error, a limit on atoms, rules, terms or depth."""


class CompileError(Error):
    """The knowledge compiler refused the ground program (its node budget,
    negation through recursion)."""


class TimeoutError(Error, builtins.TimeoutError):
    """The time limit (``timeout=``) ran out."""


class EvidenceError(Error):
    """The evidence is impossible: no world of the model agrees with it."""


class EvaluationError(Error):
    """The circuit could not be evaluated in the chosen semiring (a property
    it lacks, weights out of range)."""


class InputError(Error, ValueError):
    """An argument does not fit: a tensor's shape or dtype, a probability
    outside [0, 1], an unknown query or input name, a bad option."""


class DeviceError(InputError):
    """A tensor on a device that no evaluation path serves."""


class UnsupportedError(Error):
    """The model asks for something deeplog does not do (yet); the message
    says what to do instead."""
