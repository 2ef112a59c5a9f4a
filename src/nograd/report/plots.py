"""Learning curves from a run folder's metrics, drawn headless."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from nograd.runs.folder import RunFolder  # noqa: E402

__all__ = ["plot_learning_curve"]


def plot_learning_curve(run: RunFolder, title: str | None = None) -> Path | None:
    """Write ``learning_curve.png``: training loss (log scale) and accuracies against loss evaluations."""
    rows = run.read_metrics()
    if not rows:
        return None
    evals = [r["evaluations"] for r in rows]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    losses = [r["train_loss"] for r in rows]
    ax_loss.plot(evals, losses, color="tab:blue")
    if all(v > 0 and math.isfinite(v) for v in losses):
        ax_loss.set_yscale("log")
    ax_loss.set_xlabel("loss evaluations")
    ax_loss.set_ylabel("train loss")
    ax_acc.plot(evals, [r["train_acc"] for r in rows], label="train", color="tab:blue")
    ax_acc.plot(evals, [r["test_acc"] for r in rows], label="held-out", color="tab:orange")
    ax_acc.set_xlabel("loss evaluations")
    ax_acc.set_ylabel("accuracy")
    ax_acc.set_ylim(0, 1.02)
    ax_acc.legend(loc="lower right")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
    fig.suptitle(title or run.path.name)
    fig.tight_layout()
    out = run.path / "learning_curve.png"
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
