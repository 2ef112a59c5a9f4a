"""BatchNorm for searches that only evaluate: batch statistics without side effects, then re-estimated stats.

Gradient-free methods run thousands of forward passes per step. In training mode each would move BatchNorm's
running statistics, so scoring a candidate would change the model. During a search BatchNorm therefore uses the
batch's statistics and leaves the running ones alone; before a test evaluation the running statistics are
re-estimated from training data (as the RSO paper does).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import torch
from torch import Tensor, nn

__all__ = ["has_batchnorm", "batch_stats_only", "recalibrate_batchnorm"]

_BN = nn.modules.batchnorm._BatchNorm


def has_batchnorm(model: nn.Module) -> bool:
    return any(isinstance(m, _BN) for m in model.modules())


@contextmanager
def batch_stats_only(model: nn.Module) -> Iterator[None]:
    """Inside, BatchNorm layers normalise with the batch's statistics and do not update running ones.

    Works under ``torch.func.vmap`` too: with ``track_running_stats`` off no running buffer is touched.
    """
    layers = [m for m in model.modules() if isinstance(m, _BN)]
    saved = [(m.training, m.track_running_stats) for m in layers]
    for m in layers:
        m.train()
        m.track_running_stats = False
    try:
        yield
    finally:
        for m, (training, tracking) in zip(layers, saved):
            m.train(training)
            m.track_running_stats = tracking


@torch.no_grad()
def recalibrate_batchnorm(model: nn.Module, batches: Iterable[Tensor]) -> None:
    """Re-estimate every BatchNorm's running mean and variance as the average over ``batches``."""
    layers = [m for m in model.modules() if isinstance(m, _BN) and m.track_running_stats]
    if not layers:
        return
    was_training = model.training
    momenta = [m.momentum for m in layers]
    for m in layers:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average: every batch counts equally
    model.train()
    try:
        for x in batches:
            model(x)
    finally:
        for m, momentum in zip(layers, momenta):
            m.momentum = momentum
        model.train(was_training)
