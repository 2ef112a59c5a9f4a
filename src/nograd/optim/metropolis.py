"""Metropolis Monte Carlo on the weights (Whitelam, Selin, Benlolo, Casert & Tamblyn 2022, arXiv 2205.07408).

"Training neural networks using Metropolis Monte Carlo and an adaptive variant" (Mach. Learn.: Sci. Technol. 3,
045026): perturb every weight at once with Gaussian noise and keep the move if the loss did not rise (zero
temperature), or with the Metropolis probability exp(−βΔL) at inverse temperature β. The authors' PyTorch code is
github.com/reproducible-science/aMC (``aMC_optimizer.py``; Metropolis is its ``epsilon=0`` and no-decay case).
The adaptive variant is ``AdaptiveMC`` in ``amc.py``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import Tensor

from nograd._validation import Interval
from nograd.optim.base import GradientFreeOptimizer

__all__ = ["Metropolis", "metropolis_accepts"]


def metropolis_accepts(delta: float, beta: float | None, uniform: float) -> bool:
    """The Metropolis rule: accept if ``delta`` ≤ 0, else with probability exp(−β·delta) (never at β = None/∞).

    ``uniform`` is a U(0, 1) draw; a NaN or +inf ``delta`` (a NaN or diverged candidate) is never accepted.
    """
    if math.isnan(delta) or delta == math.inf:
        return False
    if delta <= 0:
        return True
    if beta is None or beta == math.inf:
        return False
    return uniform < math.exp(-beta * delta)


class Metropolis(GradientFreeOptimizer):
    r"""Metropolis Monte Carlo: one move of all weights per step, kept by the Metropolis rule.

    .. code-block:: text

        for each step:
            ε ~ N(μ, σ²·I)                       μ = 0 here; AdaptiveMC learns it
            ΔL = L(x + ε) − L(x)                  both on this step's batch when re-evaluated
            accept if ΔL ≤ 0                      zero temperature (β = ∞, the paper's setting)
                   or if u < exp(−β·ΔL), u ~ U(0, 1)
            if accepted: x ← x + ε   else: x stays

    Closure calls per step: one (the candidate), plus one on the first step, or every step with ``reevaluate``,
    for the current weights. With ``reevaluate`` the two are scored on the same batch in one batched call (a
    ``PopulationClosure``), so ΔL compares like with like; ``nograd train`` turns it on for minibatch tasks, as the
    authors' code does in its ``minibatch`` mode.

    Args:
        params: the model's parameters (or param groups; each group may set its own ``sigma``).
        sigma: the move size σ (default: 1e-3, the paper's σ₀ for its MNIST nets).
        beta: inverse temperature β; None is zero temperature, the paper's setting (default: None).
        reevaluate: score the current weights again every step, on the step's batch (default: False).
        seed: seed of the addressed generator; step t's noise and acceptance draw come from (seed, t)
            (default: 0).
    """

    _parameter_constraints = {
        "sigma": Interval(float, 0, None, closed="neither"),
        "beta": Interval(float, 0, None, closed="neither", allow_none=True),
        "reevaluate": "boolean",
    }

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict],
        sigma: float = 1e-3,
        beta: float | None = None,
        reevaluate: bool = False,
        seed: int = 0,
    ):
        self._setup(params, {"sigma": sigma, "beta": beta, "reevaluate": reevaluate}, seed)

    def _setup(self, params: Iterable[Tensor] | Iterable[dict], defaults: dict, seed: int) -> None:
        """The base's set-up (which validates ``defaults``) plus the state every Monte Carlo variant keeps."""
        GradientFreeOptimizer.__init__(self, params, defaults, seed=seed)
        self._global.update({"scale": 1.0, "rejected_in_a_row": 0})
        self._move: Tensor | None = None
        self._uniform = 0.0

    def stats(self) -> dict[str, float]:
        return {**super().stats(), "step_size": self.param_groups[0]["sigma"] * self._global["scale"]}

    def _sigmas(self) -> Tensor:
        """σ of every weight (a group's σ times the adapted scale), on the parameters' device and dtype."""
        first = self._params[0]
        sigmas = torch.empty(self.layout.numel, dtype=first.dtype, device=first.device)
        for group, where in self._group_slices():
            sigmas[where] = group["sigma"] * self._global["scale"]
        return sigmas

    def _mean(self) -> Tensor | None:
        """μ, the mean of the moves (None: zero)."""
        return None

    def _ask(self, generator: torch.Generator) -> Tensor:
        self._uniform = float(torch.rand((), generator=generator, dtype=torch.float64))
        first = self._params[0]
        noise = torch.randn(self.layout.numel, generator=generator, dtype=first.dtype).to(first.device)
        move = noise.mul_(self._sigmas())
        mean = self._mean()
        if mean is not None:
            move.add_(mean)
        self._move = move
        return (self.flat_params() + move).unsqueeze(0)

    def _tell(self, candidates: Tensor, losses: Tensor) -> None:
        loss = float(losses[0])
        group = self.param_groups[0]
        if metropolis_accepts(loss - self._global["best_loss"], group["beta"], self._uniform):
            self._accept(candidates[0], loss)
            self._global["rejected_in_a_row"] = 0
            self._accepted(self._move)
        else:
            self._global["rejected_in_a_row"] += 1
            self._rejected()
        self._move = None

    # -- for the adaptive variant ----------------------------------------------------------------------------
    def _accepted(self, move: Tensor) -> None:
        """Called after a move ε was kept."""

    def _rejected(self) -> None:
        """Called after a move was refused (``rejected_in_a_row`` already counts it)."""
