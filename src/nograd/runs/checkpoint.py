"""Checkpoints that survive a kill: written atomically, read back with safe deserialisation only."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from nograd.errors import CheckpointError

__all__ = ["save_checkpoint", "load_checkpoint", "atomic_write_text"]


def _atomic_replace(path: Path, write: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)  # atomic on POSIX: readers see the old file or the new one, never half of one
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_checkpoint(state: dict[str, Any], path: str | Path) -> None:
    """Save a plain dict of tensors, numbers, strings, lists and dicts to ``path`` atomically."""
    _atomic_replace(Path(path), lambda f: torch.save(state, f))


def atomic_write_text(text: str, path: str | Path) -> None:
    _atomic_replace(Path(path), lambda f: f.write(text.encode()))


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint written by ``save_checkpoint``; anything else is a clear ``CheckpointError``."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"Checkpoint {path} does not exist.")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises many types for truncated or foreign files
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"Checkpoint {path} is corrupt or not a nograd checkpoint ({reason[:200]}).") from None
    if not isinstance(state, dict) or "format" not in state:
        raise CheckpointError(f"Checkpoint {path} is not a nograd checkpoint (no 'format' entry).")
    return state
