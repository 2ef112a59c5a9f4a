"""Gradient-free supermask search: hill climbing over mask bits, no gradient anywhere.

A (1+λ) hill climber whose mutation is a one-bit flip of the mask. The parameters are the scores of masked layers
with the ``sign`` rule (a weight is kept while its score is positive), so flipping a bit is negating a score and the
weights are never touched. Each step, on the step's minibatch:

.. code-block:: text

    L₀ = loss(current mask)                                   (the incumbent, re-scored on this batch)
    draw λ distinct bits b_1 … b_λ                            (addressed by (seed, step))
    L_c = loss(mask with bit b_c flipped)       c = 1..λ     (each flip alone)
    S = the (at most max_accept) flips with L_c < L₀, best first
    flip every bit of S; if |S| > 1 score the combination, L_S, and keep it only if L_S ≤ min_c L_c,
    else keep the best single flip alone

Every kept move is a measured improvement on the step's batch. Accepting several independent improvements per step
(the flips mostly touch different units) is what makes the search fast enough for networks of 10⁵ bits; the check
of the combination keeps it greedy. Constants are chosen here (measured in ``benchmarks/supermask.py``).

Scoring: a closure that is one of nograd's evaluators (it has ``model``, ``batch()`` and ``task``) and whose model is
a sign-rule masked MLP gets the incremental scorer of ``nograd.supermask.flips`` (each flip runs only the part of the
network it reaches). Any other closure is called once per candidate with the bit flipped in place.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor
from torch.optim import Optimizer

from nograd._validation import Interval, validate_params
from nograd.errors import ConfigError
from nograd.params import ParamLayout
from nograd.seeding import addressed_generator
from nograd.supermask.flips import FlipScorer
from nograd.supermask.layers import MaskedLayer

__all__ = ["MaskSearch"]


class MaskSearch(Optimizer):
    """Hill climbing over one-bit mask flips (see the module docstring).

    Args:
        params: the scores of a model built with ``rule="sign"`` masked layers (its ``parameters()``).
        population: λ, bits tried per step (default: 256, chosen here).
        max_accept: the most improving flips kept per step (default: 64, chosen here: on Fashion-MNIST, 100 s
            runs reached 71.8%, 75.8% and 75.0% test accuracy with 16, 64 and 256).
        layer_share: how bits are drawn: ``"size"``, uniformly over all bits; ``"equal"``, a uniformly chosen
            tensor first, then a bit in it, so small layers (the output layer) are tried as often as large ones; or
            a list of one non-negative weight per tensor, the odds of drawing it (default: ``"equal"``, chosen
            here: on digits it reached 79% in 30 s where ``"size"`` reached 33%).
        seed: seed of the addressed generator (default: 0).

    Closure calls per step (generic closures): 1 + λ (+1 when several flips are combined). The counters say the
    same for the incremental scorer, which counts one loss evaluation per flip scored.
    """

    _parameter_constraints = {
        "population": Interval(int, 1, None),
        "max_accept": Interval(int, 1, None),
    }

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict],
        population: int = 256,
        max_accept: int = 64,
        layer_share: str = "equal",
        seed: int = 0,
    ):
        if isinstance(layer_share, tuple):
            layer_share = list(layer_share)
        defaults = {"population": population, "max_accept": max_accept, "layer_share": layer_share}
        validate_params("MaskSearch", defaults, self._parameter_constraints)
        validate_params("MaskSearch", {"seed": seed}, {"seed": Interval(int, 0, None)})
        super().__init__(params, defaults)
        self._params = [p for group in self.param_groups for p in group["params"]]
        if not self._params:
            raise ConfigError("MaskSearch got an empty parameter list.")
        self.layout = ParamLayout.from_tensors(self._params)
        self._offsets = torch.tensor([0, *self.layout.numels]).cumsum(0)
        _check_share(layer_share, len(self._params))
        self._pending: Tensor | None = None
        self._scorer: tuple[int, FlipScorer | None] | None = None
        self._global = self.state[self._params[0]]
        self._global.update({"step": 0, "seed": int(seed), "best_loss": None, "evaluations": 0, "accepted": 0})

    # -- state ---------------------------------------------------------------------------------------------
    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        self._global = self.state[self._params[0]]

    @property
    def best_loss(self) -> float | None:
        return self._global["best_loss"]

    def stats(self) -> dict[str, Any]:
        g = self._global
        return {"step": g["step"], "evaluations": g["evaluations"], "accepted": g["accepted"]}

    # -- ask / tell ----------------------------------------------------------------------------------------
    @torch.no_grad()
    def ask(self) -> Tensor:
        """This step's distinct flat bit indices (into the concatenated parameters), shape ``[≤ population]``."""
        group = self.param_groups[0]
        generator = addressed_generator("mask-search", self._global["seed"], self._global["step"])
        population, numel = group["population"], self.layout.numel
        if population >= numel:
            flat = torch.randperm(numel, generator=generator)
        elif group["layer_share"] == "size":
            flat = torch.randint(numel, (population,), generator=generator)
        else:
            sizes = torch.tensor(self.layout.numels, dtype=torch.float64)
            share = group["layer_share"]
            odds = torch.ones(len(sizes), dtype=torch.float64) if share == "equal" else torch.tensor(share).double()
            tensor = torch.multinomial(odds, population, replacement=True, generator=generator)
            within = (torch.rand(population, generator=generator, dtype=torch.float64) * sizes[tensor]).long()
            flat = self._offsets[tensor] + within
        self._pending = torch.unique(flat)  # sorted, distinct: two flips of one bit would cancel
        return self._pending

    @torch.no_grad()
    def tell(self, losses: Tensor, incumbent_loss: float) -> Tensor:
        """Flip the best improving bits of the last ``ask``; returns them (best first)."""
        if self._pending is None:
            raise RuntimeError("tell() needs a preceding ask().")
        losses = torch.as_tensor(losses, dtype=torch.float64).flatten().nan_to_num(nan=math.inf)
        if losses.numel() != len(self._pending):
            raise ConfigError(f"tell() needs one loss per flip: expected {len(self._pending)}, got {losses.numel()}.")
        incumbent = _as_loss(incumbent_loss)
        order = torch.argsort(losses, stable=True)[: self.param_groups[0]["max_accept"]]
        order = order[losses[order] < incumbent]
        chosen = self._pending[order]
        self.flip(chosen)
        self._global["best_loss"] = float(losses[order[0]]) if len(order) else incumbent
        self._global["evaluations"] += len(losses) + 1
        self._global["accepted"] += len(chosen)
        self._global["step"] += 1
        self._pending = None
        return chosen

    @torch.no_grad()
    def flip(self, flat: Tensor) -> None:
        """Negate the scores at the flat indices ``flat``: each one's mask bit flips."""
        which = torch.bucketize(flat, self._offsets[1:], right=True)
        for t, param in enumerate(self._params):
            local = flat[which == t] - int(self._offsets[t])
            if len(local):
                view = param.view(-1)
                view[local.to(param.device)] *= -1

    # -- the step ------------------------------------------------------------------------------------------
    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float:  # type: ignore[override]
        """Ask, score every flip, keep the best improving ones (see the class docstring). Returns the loss kept."""
        if closure is None:
            raise ConfigError("MaskSearch.step() needs a closure that returns the loss.")
        scorer = self._fast_scorer(closure)
        flips = self.ask()
        if scorer is not None:
            x, y = closure.batch()  # type: ignore[attr-defined]
            task = closure.task  # type: ignore[attr-defined]
            incumbent = _as_loss(task.loss(scorer.prepare(x), y))
            losses = task.population_loss(scorer.outputs(flips.to(x.device)), y).cpu()
            closure._count(1 + len(flips))  # type: ignore[attr-defined]
        else:
            incumbent = _as_loss(closure())
            losses = torch.empty(len(flips), dtype=torch.float64)
            for c in range(len(flips)):
                self.flip(flips[c : c + 1])
                losses[c] = _as_loss(closure())
                self.flip(flips[c : c + 1])
        best_single = float(losses.nan_to_num(nan=math.inf).min()) if len(losses) else math.inf
        chosen = self.tell(losses, incumbent)
        if len(chosen) > 1:
            if scorer is not None:
                combined = _as_loss(task.loss(scorer.prepare(x), y))
                closure._count(1)  # type: ignore[attr-defined]
            else:
                combined = _as_loss(closure())
            self._global["evaluations"] += 1
            if combined <= best_single:
                self._global["best_loss"] = combined
            else:  # the flips interfere: keep the best one alone
                self.flip(chosen[1:])
                self._global["accepted"] -= len(chosen) - 1
        return self._global["best_loss"]

    def _fast_scorer(self, closure: Callable[[], float]) -> FlipScorer | None:
        model = getattr(closure, "model", None)
        if model is None or not all(hasattr(closure, a) for a in ("batch", "task", "_count")):
            return None
        if self._scorer is None or self._scorer[0] != id(model):
            masked = [m for m in model.modules() if isinstance(m, MaskedLayer)]
            if any(m.rule != "sign" for m in masked):
                raise ConfigError(
                    "MaskSearch flips mask bits by negating scores, which needs masked layers with rule 'sign'. "
                    "Got a model with rule 'top_k' (build it with model.rule=sign)."
                )
            scorer = FlipScorer.build(model)
            if scorer is not None and [id(s) for s in scorer.scores()] != [id(p) for p in self._params]:
                scorer = None
            self._scorer = (id(model), scorer)
        return self._scorer[1]


def _check_share(share: Any, tensors: int) -> None:
    if share in ("size", "equal"):
        return
    ok = (
        isinstance(share, list)
        and len(share) == tensors
        and all(isinstance(w, int | float) and not isinstance(w, bool) and w >= 0 for w in share)
        and sum(share) > 0
    )
    if not ok:
        raise ConfigError(
            "The 'layer_share' parameter of MaskSearch must be 'size', 'equal' or a list of one non-negative weight "
            f"per tensor ({tensors} here, not all zero). Got {share!r} instead."
        )


def _as_loss(value: Any) -> float:
    loss = float(value)
    return math.inf if math.isnan(loss) else loss
