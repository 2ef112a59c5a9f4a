"""Two-digit + two-digit addition, the classic "train a network with random numbers" demo.

The network reads the two numbers (scaled to [0, 1)) and outputs their sum (scaled by 1/(2·base)); a
prediction is right when the rounded, unscaled output equals the true sum. Accuracy is measured on pairs never
seen in training: no test pair appears in the training set in either order.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor
from torch.nn import functional as F

from nograd._validation import Interval, validate_params
from nograd.seeding import addressed_generator
from nograd.tasks.base import SupervisedTask

__all__ = ["AdditionTask"]


class AdditionTask(SupervisedTask):
    """a + b for a, b in [0, base): mean squared error on the scaled sum.

    Args:
        train_size: training pairs (default: 1000; the demo used 100 and 1000).
        base: numbers are in [0, base) (default: 100, two digits).
        batch_size: minibatch size, or None for the whole training set (default: None).
        reshuffle: a new shuffle of the training set every epoch, or one cycled through (default: True).
    """

    name = "addition"
    summary = "two-digit + two-digit addition, held-out accuracy of the rounded sum"
    default_model: ClassVar[dict[str, Any]] = {"name": "mlp", "hidden": [2, 2], "activation": "leaky_relu"}
    num_outputs = 1

    def __init__(
        self,
        seed: int = 0,
        device: str | torch.device = "cpu",
        train_size: int = 1000,
        base: int = 100,
        batch_size: int | None = None,
        reshuffle: bool = True,
    ):
        super().__init__(seed, device, batch_size, reshuffle)
        validate_params(
            "AdditionTask",
            {"train_size": train_size, "base": base},
            {"train_size": Interval(int, 1, None), "base": Interval(int, 2, None)},
        )
        self.base = base
        a, b = torch.meshgrid(torch.arange(base), torch.arange(base), indexing="ij")
        pairs = torch.stack([a.flatten(), b.flatten()], dim=1)
        unordered = torch.sort(pairs, dim=1).values
        key = unordered[:, 0] * base + unordered[:, 1]
        generator = addressed_generator("addition-split", seed)
        order = torch.randperm(len(pairs), generator=generator)
        if train_size >= len(pairs):
            from nograd.errors import ConfigError

            raise ConfigError(
                f"The 'train_size' option of task 'addition' must leave held-out pairs: at most {len(pairs) - base}"
                f" of the {len(pairs)} pairs with base {base}. Got {train_size} instead."
            )
        train_idx = order[:train_size]
        held_out = ~torch.isin(key, key[train_idx])
        self._set_data(
            self._inputs(pairs[train_idx]),
            pairs[train_idx].sum(1).float(),
            self._inputs(pairs[held_out]),
            pairs[held_out].sum(1).float(),
        )

    def _inputs(self, pairs: Tensor) -> Tensor:
        return pairs.float() / self.base

    def _scaled(self, outputs: Tensor) -> Tensor:
        return outputs.squeeze(-1) * (2 * self.base)

    def loss(self, outputs: Tensor, targets: Tensor) -> Tensor:
        return F.mse_loss(outputs.squeeze(-1), targets / (2 * self.base))

    def population_loss(self, outputs: Tensor, targets: Tensor) -> Tensor:
        return (outputs.squeeze(-1) - targets / (2 * self.base)).square().mean(-1)

    def correct(self, outputs: Tensor, targets: Tensor) -> Tensor:
        return torch.round(self._scaled(outputs)) == targets
