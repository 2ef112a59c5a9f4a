"""Hill climbing: mutate the best weights with Gaussian noise, keep a candidate only if it is better.

A (1+λ) evolution strategy with Rechenberg's 1/5 success rule for the step size (Rechenberg 1973; the
exponential form of Kern et al. 2004, "Learning probability distributions in continuous evolutionary
algorithms"): grow σ after a success, shrink it after a failure, so that about one step in five succeeds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import Tensor

from nograd._validation import Interval, Options
from nograd.errors import ConfigError
from nograd.optim.base import GradientFreeOptimizer

__all__ = ["HillClimb"]


class HillClimb(GradientFreeOptimizer):
    r"""(1+λ) hill climbing with an adaptive step size.

    .. code-block:: text

        for each step:
            w_i = w + σ·s·ε_i,  ε_i ~ N(0, I),  i = 1..λ        (s: the adapted scale, starts at 1)
            L_i = loss(w_i)
            success = min_i L_i < L(w)      (≤ with accept_equal: neutral moves drift across flat regions)
            if success: w ← argmin_i w_i
            if adapt == "one_fifth": s ← s·exp((success − p) / (d·(1 − p)))   clipped to [s_min, s_max]

    With p = 1/5 and d = 3 this is ×exp(1/3) after a success and ×exp(−1/12) after a failure (Kern et al. 2004).

    Args:
        params: the model's parameters (or param groups; each group may set its own ``sigma``).
        sigma: initial mutation std σ (default: 0.1, chosen here).
        population: candidates per step, λ (default: 16, chosen here). Closure calls per step: λ, plus one on
            the first step (or every step with ``reevaluate``) to score the current weights.
        adapt: ``"one_fifth"`` or ``"none"`` (default: ``"one_fifth"``).
        target_success: the success rate p the rule steers to (default: 0.2, Rechenberg).
        damping: d, larger is slower adaptation (default: 3.0, Kern et al. 2004).
        min_scale, max_scale: bounds on s (default: 1e-6, 1e3, chosen here).
        accept_equal: accept a candidate whose loss ties the current one (default: True, chosen here): a
            network with dead units sits on a plateau, and neutral drift (with the step size growing) leaves it.
        reevaluate: score the current weights again every step, for losses on changing minibatches
            (default: False).
        seed: seed of the addressed generator (default: 0).
    """

    _parameter_constraints = {
        "sigma": Interval(float, 0, None, closed="neither"),
        "population": Interval(int, 1, None),
        "adapt": Options(("one_fifth", "none")),
        "target_success": Interval(float, 0, 1, closed="neither"),
        "damping": Interval(float, 0, None, closed="neither"),
        "min_scale": Interval(float, 0, None, closed="neither"),
        "max_scale": Interval(float, 0, None, closed="neither"),
        "accept_equal": "boolean",
        "reevaluate": "boolean",
    }

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict],
        sigma: float = 0.1,
        population: int = 16,
        adapt: str = "one_fifth",
        target_success: float = 0.2,
        damping: float = 3.0,
        min_scale: float = 1e-6,
        max_scale: float = 1e3,
        accept_equal: bool = True,
        reevaluate: bool = False,
        seed: int = 0,
    ):
        defaults = {
            "sigma": sigma,
            "population": population,
            "adapt": adapt,
            "target_success": target_success,
            "damping": damping,
            "min_scale": min_scale,
            "max_scale": max_scale,
            "accept_equal": accept_equal,
            "reevaluate": reevaluate,
        }
        super().__init__(params, defaults, seed=seed)
        if min_scale > max_scale:
            raise ConfigError(f"min_scale ({min_scale}) must not exceed max_scale ({max_scale}).")
        self._global["scale"] = 1.0

    def stats(self) -> dict[str, float]:
        return {**super().stats(), "step_size": self.param_groups[0]["sigma"] * self._global["scale"]}

    def _ask(self, generator: torch.Generator) -> Tensor:
        population = self.param_groups[0]["population"]
        noise = torch.randn((population, self.layout.numel), generator=generator, dtype=torch.float64)
        sigmas = torch.empty(self.layout.numel, dtype=torch.float64)
        for group, where in self._group_slices():
            sigmas[where] = group["sigma"]
        first = self._params[0]
        step = (noise * (sigmas * self._global["scale"])).to(dtype=first.dtype, device=first.device)
        return self.flat_params().unsqueeze(0) + step

    def _tell(self, candidates: Tensor, losses: Tensor) -> None:
        best = int(torch.argmin(losses))
        group = self.param_groups[0]
        loss, incumbent = float(losses[best]), self._global["best_loss"]
        success = loss < incumbent or (group["accept_equal"] and loss == incumbent)
        if success:
            self._accept(candidates[best], loss)
        if group["adapt"] == "one_fifth":
            p, d = group["target_success"], group["damping"]
            factor = math.exp((float(success) - p) / (d * (1 - p)))
            self._global["scale"] = min(max(self._global["scale"] * factor, group["min_scale"]), group["max_scale"])
