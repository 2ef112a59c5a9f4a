"""User-facing errors. The CLI prints any of these as one line and exits with code 2."""

from __future__ import annotations

__all__ = [
    "NogradError",
    "ConfigError",
    "RunFolderError",
    "CheckpointError",
    "DatasetError",
    "MissingExtraError",
    "WorkerError",
]


class NogradError(Exception):
    """A problem the user can fix: the message says what was wrong and what to do."""


class ConfigError(NogradError, ValueError):
    """An unknown name, a bad option value, or options that conflict."""


class RunFolderError(NogradError):
    """A run folder that is missing, incomplete or not a nograd run."""


class CheckpointError(NogradError):
    """A checkpoint that cannot be read: corrupt, truncated or of another kind."""


class DatasetError(NogradError):
    """A dataset file that is missing or fails its checksum."""


class MissingExtraError(NogradError, ImportError):
    """An optional dependency is not installed; the message says which extra to install (e.g. nograd[gym])."""


class WorkerError(NogradError, RuntimeError):
    """Evaluation workers failed: no worker is left (processes or Ray actors died), or scoring raised on one."""
