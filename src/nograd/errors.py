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


def run_stopped(failure: WorkerError, finished: str, run_dir: object, local: str) -> WorkerError:
    """The error a trainer raises after ``failure`` stopped it with its checkpoint written: where it stopped
    (``finished``: "step 17", "generation 1"), and how to go on (in run folder ``run_dir``, if any, or with the
    in-process backend ``local``)."""
    where = "" if run_dir is None else f" Continue it with `nograd resume {run_dir}`."
    return WorkerError(
        f"{failure} The run stopped after {finished}, its last finished one, and its checkpoint is written.{where} "
        f"(--backend {local} goes on in this process.)"
    )
