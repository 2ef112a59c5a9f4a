"""Random search: draw completely new weights every step and keep the best seen.

The first method of the well-known "training a neural network with random numbers" demo: no gradient, no
memory of where good weights were, only a better score wins. A baseline every other method must beat.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import Tensor

from nograd._validation import Interval, Options
from nograd.optim.base import GradientFreeOptimizer

__all__ = ["RandomSearch"]

INITS = ("normal", "uniform", "pytorch")


class RandomSearch(GradientFreeOptimizer):
    r"""Pure random search over all weights.

    .. code-block:: text

        for each step:
            draw λ weight vectors w_1..w_λ ~ init        (independent of the current weights)
            L_i = loss(w_i)
            if min_i L_i < L_best: keep argmin_i w_i

    Args:
        params: the model's parameters (or param groups).
        population: candidates drawn per step, λ (default: 64). Closure calls per step: λ, plus one on the
            first step to score the starting weights.
        init: how weights are drawn (default: ``"normal"``): ``"normal"`` N(0, scale²); ``"uniform"``
            U(−scale, scale); ``"pytorch"`` PyTorch's default layer init, U(−b, b) with b = scale/√fan_in
            (biases use their layer's fan-in).
        scale: the std or bound of ``init`` (default: 1.0).
        seed: seed of the addressed generator (default: 0).

    Constants are chosen here; the method has no paper constants.
    """

    _parameter_constraints = {
        "population": Interval(int, 1, None),
        "init": Options(INITS),
        "scale": Interval(float, 0, None, closed="neither"),
    }

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict],
        population: int = 64,
        init: str = "normal",
        scale: float = 1.0,
        seed: int = 0,
    ):
        super().__init__(params, {"population": population, "init": init, "scale": scale}, seed=seed)
        self._bounds = self._fan_in_bounds()

    def _fan_in_bounds(self) -> Tensor:
        """1/√fan_in for every weight, as PyTorch's Linear/Conv defaults use it (a bias takes its layer's)."""
        per_param, last_fan_in = [], 1
        for p in self._params:
            if p.dim() >= 2:
                last_fan_in = p.shape[1] * math.prod(p.shape[2:])
            per_param.append(torch.full((p.numel(),), 1.0 / math.sqrt(last_fan_in)))
        return torch.cat(per_param)

    def _ask(self, generator: torch.Generator) -> Tensor:
        rows, population = [], self.param_groups[0]["population"]
        for group, where in self._group_slices():
            shape = (population, where.stop - where.start)
            if group["init"] == "normal":
                rows.append(torch.randn(shape, generator=generator) * group["scale"])
            else:
                u = torch.rand(shape, generator=generator) * 2 - 1
                bound = group["scale"] if group["init"] == "uniform" else group["scale"] * self._bounds[where]
                rows.append(u * bound)
        first = self._params[0]
        return torch.cat(rows, dim=1).to(dtype=first.dtype, device=first.device)

    def _tell(self, candidates: Tensor, losses: Tensor) -> None:
        best = int(torch.argmin(losses))
        if float(losses[best]) < self._global["best_loss"]:
            self._accept(candidates[best], float(losses[best]))
