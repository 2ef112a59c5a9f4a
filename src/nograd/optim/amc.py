"""Adaptive Monte Carlo, aMC (Whitelam, Selin, Benlolo, Casert & Tamblyn 2022, arXiv 2205.07408).

Metropolis moves whose mean μ learns the direction of recent accepted moves and whose size σ shrinks when moves
keep failing. The rule and the constants are the paper's and those of the authors' code,
github.com/reproducible-science/aMC (``aMC_optimizer.py``): on a reject streak of ``n_reset`` the counter restarts,
σ ← 0.95σ and μ ← 0.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import Tensor

from nograd._validation import Interval
from nograd.optim.metropolis import Metropolis

__all__ = ["AdaptiveMC"]

#: With ``plateau``: a new low of the running average must undercut the last by this fraction (chosen here: on
#: Fashion-MNIST at minibatch 5000 the paper's rule left σ at σ₀ while the training loss crept down by about 0.15%
#: per 500 steps and test accuracy stood at 80% from step 15k to 18k; at 0.1% this option never fired there).
PLATEAU_THRESHOLD = 5e-3


class AdaptiveMC(Metropolis):
    r"""aMC: Metropolis moves with an adapted mean μ and a shrinking step size σ.

    .. code-block:: text

        μ = 0, σ = σ₀, n = 0
        for each step:
            ε ~ N(μ, σ²·I);  ΔL = L(x + ε) − L(x)            (both on this step's batch when re-evaluated)
            if ΔL ≤ 0 (or u < exp(−β·ΔL)):                     the Metropolis rule, as ``Metropolis``
                x ← x + ε;  μ ← μ + ε_rate·(ε − μ);  n ← 0
            else:
                n ← n + 1
                if n = n_reset:  σ ← σ·sigma_decay;  μ ← 0;  n ← 0
            with plateau = P (not in the paper, off by default):
                m ← m + (L_kept − m)/P                        an average of the kept weights' loss
                if m has not fallen 0.5% below its last low for P steps:  σ ← σ·sigma_decay;  μ ← 0

    Closure calls per step: as ``Metropolis`` (one, plus one for the current weights when re-evaluated).

    Args:
        params: the model's parameters (or param groups; each group may set its own ``sigma``, all shrink together).
        sigma: σ₀, the initial move size (default: 1e-3, the paper's).
        epsilon: ε_rate, how fast μ follows accepted moves (default: 1e-3, the paper's).
        n_reset: consecutive rejections that shrink σ and reset μ (default: 100, the paper's).
        sigma_decay: the factor σ shrinks by (default: 0.95, the paper's).
        plateau: also shrink σ (and reset μ) when a running average of the kept weights' loss, over about this
            many steps, has not reached a new low for this many steps; None is off, the paper's rule only
            (default: None). Not in the paper; meant for small noisy minibatches, where the batch-to-batch noise
            keeps the acceptance near one half, so the reject streaks that shrink σ never come (a plain aMC loop
            at minibatch 1000 on Fashion-MNIST peaked at 76% test accuracy and drifted down to 59%). It costs no
            evaluations: the kept weights' loss is the one already measured. Off by default because it changes
            the method and has not been benchmarked against the paper's rule here.
        beta: inverse temperature β; None is zero temperature, the paper's setting (default: None).
        reevaluate: score the current weights again every step, on the step's batch (default: False;
            ``nograd train`` turns it on for minibatch tasks).
        seed: seed of the addressed generator (default: 0).

    The state (``state_dict()["state"][0]``) holds the RNG address (seed, step), μ as one flat vector, the scale
    σ/σ₀, the reject streak and the counters, so a resumed run continues bit for bit.
    """

    _parameter_constraints = {
        **Metropolis._parameter_constraints,
        "epsilon": Interval(float, 0, 1, closed="both"),
        "n_reset": Interval(int, 1, None),
        "sigma_decay": Interval(float, 0, 1, closed="right"),
        "plateau": Interval(int, 1, None, allow_none=True),
    }

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict],
        sigma: float = 1e-3,
        epsilon: float = 1e-3,
        n_reset: int = 100,
        sigma_decay: float = 0.95,
        plateau: int | None = None,
        beta: float | None = None,
        reevaluate: bool = False,
        seed: int = 0,
    ):
        defaults = {
            "sigma": sigma,
            "epsilon": epsilon,
            "n_reset": n_reset,
            "sigma_decay": sigma_decay,
            "plateau": plateau,
            "beta": beta,
            "reevaluate": reevaluate,
        }
        self._setup(params, defaults, seed)
        first = self._params[0]
        self._global.update(
            {
                "mu": torch.zeros(self.layout.numel, dtype=first.dtype, device=first.device),
                "sigma_resets": 0,
                "loss_average": None,
                "lowest_average": None,
                "steps_since_low": 0,
            }
        )

    @property
    def mu(self) -> Tensor:
        """μ, the mean of the moves, as one flat vector in ``parameters()`` order."""
        return self._global["mu"]

    @property
    def sigma_scale(self) -> float:
        """σ / σ₀: the product of every decay so far."""
        return self._global["scale"]

    def stats(self) -> dict[str, float]:
        return {**super().stats(), "sigma_resets": self._global["sigma_resets"]}

    def _tell(self, candidates: Tensor, losses: Tensor) -> None:
        super()._tell(candidates, losses)
        window = self.param_groups[0]["plateau"]
        if window is not None:
            self._watch_plateau(window)

    def _watch_plateau(self, window: int) -> None:
        g, loss = self._global, self._global["best_loss"]
        if not math.isfinite(loss):
            return
        g["loss_average"] = (
            loss if g["loss_average"] is None else g["loss_average"] + (loss - g["loss_average"]) / window
        )
        if g["lowest_average"] is None or g["loss_average"] < g["lowest_average"] * (1 - PLATEAU_THRESHOLD):
            g["lowest_average"], g["steps_since_low"] = g["loss_average"], 0
            return
        g["steps_since_low"] += 1
        if g["steps_since_low"] >= window:
            self._shrink(self.param_groups[0]["sigma_decay"])
            g["lowest_average"], g["steps_since_low"] = g["loss_average"], 0

    def _mean(self) -> Tensor | None:
        return self._global["mu"]

    def _accepted(self, move: Tensor) -> None:
        mu = self._global["mu"]
        mu.add_(move.to(mu) - mu, alpha=self.param_groups[0]["epsilon"])

    def _rejected(self) -> None:
        group = self.param_groups[0]
        if self._global["rejected_in_a_row"] >= group["n_reset"]:
            self._shrink(group["sigma_decay"])

    def _shrink(self, factor: float) -> None:
        self._global["scale"] *= factor
        self._global["mu"].zero_()
        self._global["rejected_in_a_row"] = 0
        self._global["sigma_resets"] += 1
