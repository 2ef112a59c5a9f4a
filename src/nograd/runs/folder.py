"""Run folders: everything one training run leaves behind, as plain files.

    runs/<time>-<task>-<method>/
        config.yaml          the resolved config, written before step 1
        metrics.csv          one row per log point
        checkpoints/last.pt  the latest state, for ``nograd resume``
        checkpoints/best.pt  the weights with the best training loss so far
        summary.json         the final figures, written when the run completes
        learning_curve.png   loss and accuracy against evaluations

This module saves plain dicts and imports no algorithm.
"""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path
from typing import Any

import yaml

from nograd.errors import RunFolderError
from nograd.runs.checkpoint import atomic_write_text, load_checkpoint, save_checkpoint

__all__ = ["RunFolder", "METRIC_COLUMNS"]

METRIC_COLUMNS = (
    "step",
    "evaluations",
    "examples",
    "accepted",
    "wall_seconds",
    "step_size",
    "train_loss",
    "train_acc",
    "test_acc",
)


class RunFolder:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    # -- making and opening ---------------------------------------------------------------------------------
    @classmethod
    def create(cls, root: str | Path, task: str, method: str) -> RunFolder:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        base = Path(root) / f"{stamp}-{task}-{method}"
        path, n = base, 1
        while path.exists():
            n += 1
            path = base.with_name(f"{base.name}-{n}")
        (path / "checkpoints").mkdir(parents=True)
        return cls(path)

    @classmethod
    def open(cls, path: str | Path) -> RunFolder:
        folder = cls(path)
        if not folder.path.is_dir():
            raise RunFolderError(f"Run folder {folder.path} does not exist.")
        if not folder.config_path.is_file():
            raise RunFolderError(f"{folder.path} is not a nograd run folder: it has no config.yaml.")
        return folder

    # -- files --------------------------------------------------------------------------------------------
    @property
    def config_path(self) -> Path:
        return self.path / "config.yaml"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.csv"

    def checkpoint_path(self, name: str) -> Path:
        return self.path / "checkpoints" / f"{name}.pt"

    def write_config(self, config: dict[str, Any]) -> None:
        atomic_write_text(yaml.safe_dump(config, sort_keys=False), self.config_path)

    def read_config(self) -> dict[str, Any]:
        try:
            config = yaml.safe_load(self.config_path.read_text())
        except yaml.YAMLError as err:
            raise RunFolderError(f"{self.config_path} is not valid YAML: {str(err).splitlines()[0]}") from None
        if not isinstance(config, dict):
            raise RunFolderError(f"{self.config_path} does not hold a config mapping.")
        return config

    def append_metrics(self, row: dict[str, Any]) -> None:
        new = not self.metrics_path.exists()
        with self.metrics_path.open("a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=METRIC_COLUMNS, extrasaction="ignore")
            if new:
                writer.writeheader()
            writer.writerow({k: ("" if row.get(k) is None else row[k]) for k in METRIC_COLUMNS})

    def read_metrics(self) -> list[dict[str, float]]:
        if not self.metrics_path.exists():
            return []
        with self.metrics_path.open(newline="") as f:
            return [
                {k: float(v) if v not in ("", None) else float("nan") for k, v in row.items()}
                for row in csv.DictReader(f)
            ]

    def truncate_metrics(self, last_step: int) -> None:
        """Drop rows logged after ``last_step``: a resumed run writes them again."""
        rows = [r for r in self.read_metrics() if r["step"] <= last_step]
        self.metrics_path.unlink(missing_ok=True)
        for row in rows:
            self.append_metrics(
                {k: (int(v) if k in ("step", "evaluations", "examples", "accepted") else v) for k, v in row.items()}
            )

    def save_checkpoint(self, name: str, state: dict[str, Any]) -> None:
        save_checkpoint(state, self.checkpoint_path(name))

    def load_checkpoint(self, name: str) -> dict[str, Any]:
        return load_checkpoint(self.checkpoint_path(name))

    def write_summary(self, summary: dict[str, Any]) -> None:
        atomic_write_text(json.dumps(summary, indent=2) + "\n", self.path / "summary.json")
