"""Run folders and checkpoints: config, metrics, checkpoints and plots of one run, as plain files."""

from nograd.runs.checkpoint import atomic_write_text, load_checkpoint, save_checkpoint
from nograd.runs.folder import METRIC_COLUMNS, RunFolder

__all__ = ["RunFolder", "METRIC_COLUMNS", "save_checkpoint", "load_checkpoint", "atomic_write_text"]
