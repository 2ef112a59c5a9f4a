"""edge-popup: SGD on the scores of a supermask, with the cosine schedule of Ramanujan et al. (2020).

"What's Hidden in a Randomly Weighted Neural Network?" (arXiv 1911.13299), section 4.1 and the authors' small-scale
configs (github.com/allenai/hidden-networks, ``configs/smallscale/fc/fc_usc_unsigned.yml`` and the Conv ones): SGD,
lr 0.1 with ``cosine_lr``, momentum 0.9, weight decay 1e-4, batch 128, 100 epochs. Their ``main.py`` puts every
parameter that requires a gradient in the SGD groups with the same weight decay, so the scores are decayed too (their
``--no-bn-decay`` exempts only BatchNorm parameters, and these nets have none). Their ``cosine_lr`` sets the rate
once per epoch, with no warm-up (``warmup_length`` 0):

    lr_e = ½ · (1 + cos(π · e / epochs)) · lr        for epoch e = 0 … epochs − 1

The straight-through top-k forward and backward live in the model (``MaskedLinear``/``MaskedConv2d``); this is the
optimizer that moves the scores.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor

from nograd._validation import Interval, validate_params

__all__ = ["EdgePopup"]


class EdgePopup(torch.optim.SGD):
    """SGD with momentum and weight decay whose learning rate follows the authors' per-epoch cosine schedule.

    One ``step(closure)`` calls the closure once (it computes the loss and calls ``backward``). After
    ``epochs · steps_per_epoch`` steps ``finished`` is True: ``nograd train`` then stops, as it does for RSO.

    Args:
        params: the scores (a supermask model's ``parameters()``).
        lr: the initial learning rate (default: 0.1, the paper's).
        momentum: (default: 0.9, the paper's).
        weight_decay: on the scores (default: 1e-4, the paper's).
        epochs: the cosine schedule's length in epochs (default: 100, the paper's).
        steps_per_epoch: steps per epoch (default: 468, Fashion-MNIST's or MNIST's 60,000 examples in the
            trainer's batches of 128; set it to ``train size // batch size`` for other data).
    """

    _parameter_constraints = {
        "lr": Interval(float, 0, None, closed="neither"),
        "momentum": Interval(float, 0, 1, closed="left"),
        "weight_decay": Interval(float, 0, None),
        "epochs": Interval(int, 1, None),
        "steps_per_epoch": Interval(int, 1, None),
    }

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict],
        lr: float = 0.1,
        momentum: float = 0.9,
        weight_decay: float = 1e-4,
        epochs: int = 100,
        steps_per_epoch: int = 468,
    ):
        hyper = {
            "lr": lr,
            "momentum": momentum,
            "weight_decay": weight_decay,
            "epochs": epochs,
            "steps_per_epoch": steps_per_epoch,
        }
        validate_params("EdgePopup", hyper, self._parameter_constraints)
        super().__init__(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
        for group in self.param_groups:
            # Kept in the param groups so that state_dict() carries the schedule's position.
            group.update({"initial_lr": lr, "epochs": epochs, "steps_per_epoch": steps_per_epoch, "scheduled": 0})
        self.events: frozenset[str] = frozenset()

    @property
    def schedule_step(self) -> int:
        return int(self.param_groups[0]["scheduled"])

    @property
    def total_steps(self) -> int:
        group = self.param_groups[0]
        return group["epochs"] * group["steps_per_epoch"]

    @property
    def finished(self) -> bool:
        return self.schedule_step >= self.total_steps

    def learning_rate(self, step: int | None = None) -> float:
        """The rate of ``step`` (default: the coming one): cosine over epochs, constant within one."""
        group = self.param_groups[0]
        step = self.schedule_step if step is None else step
        epoch = min(step // group["steps_per_epoch"], group["epochs"])
        return 0.5 * (1 + math.cos(math.pi * epoch / group["epochs"])) * group["initial_lr"]

    def stats(self) -> dict[str, Any]:
        return {"step": self.schedule_step, "step_size": self.learning_rate()}

    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        for group in self.param_groups:
            lr0 = self.param_groups[0]["initial_lr"]
            group["lr"] = self.learning_rate() * group["initial_lr"] / lr0
        loss = super().step(closure)
        for group in self.param_groups:
            group["scheduled"] += 1
        per_epoch = self.param_groups[0]["steps_per_epoch"]
        # An epoch's end is a "cycle" for the trainer: a metrics row and a checkpoint.
        self.events = frozenset({"cycle", "layer"}) if self.schedule_step % per_epoch == 0 else frozenset()
        return loss
