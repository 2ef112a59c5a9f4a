"""The shared base of nograd's loss-only optimizers.

Every optimizer here follows ``torch.optim.Optimizer``: ``Opt(model.parameters(), ...)`` and ``step(closure)``,
where the closure returns the loss of the model's current weights without calling ``backward``. Population
methods also speak ask/tell: ``ask()`` proposes flat candidate vectors, an evaluator scores them in one batch,
``tell(losses)`` keeps what is better. ``step(closure)`` is ask, evaluate, tell.

Randomness is addressed, not shared: the noise of step ``t`` comes from a generator seeded with ``(seed, t)``,
so a resumed run, or one whose candidates were scored elsewhere, draws exactly the same numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any, ClassVar, Protocol, runtime_checkable

import torch
from torch import Tensor
from torch.optim import Optimizer

from nograd._validation import Interval, validate_params
from nograd.errors import ConfigError
from nograd.params import ParamLayout
from nograd.seeding import addressed_generator

__all__ = ["GradientFreeOptimizer", "PopulationClosure"]


@runtime_checkable
class PopulationClosure(Protocol):
    """A closure that can also score many flat parameter vectors at once (see ``nograd.evaluate``)."""

    def __call__(self) -> float: ...

    def evaluate_population(self, candidates: Tensor) -> Tensor: ...


def _as_loss(value: Any) -> float:
    loss = float(value)
    return math.inf if math.isnan(loss) else loss


class GradientFreeOptimizer(Optimizer):
    """Base class: parameter bookkeeping, addressed RNG, candidate evaluation and the step counters.

    Global state (step, best loss, counters, adapted step size) lives in ``self.state`` under the first
    parameter, as ``torch.optim.LBFGS`` keeps it, so ``state_dict()`` carries it and loading casts it.

    Subclasses set ``_parameter_constraints`` and implement ``_ask(generator)`` and ``_tell(candidates, losses)``.
    """

    _parameter_constraints: ClassVar[dict[str, Any]] = {}
    #: How many candidates ``ask`` proposes; subclasses read it from their hyperparameters.
    population_key: ClassVar[str | None] = "population"

    def __init__(self, params: Iterable[Tensor] | Iterable[dict], defaults: dict[str, Any], seed: int = 0):
        owner = type(self).__name__
        validate_params(owner, defaults, self._parameter_constraints)
        validate_params(owner, {"seed": seed}, {"seed": Interval(int, 0, None)})
        super().__init__(params, defaults)
        self._params: list[Tensor] = [p for group in self.param_groups for p in group["params"]]
        if not self._params:
            raise ConfigError(f"{owner} got an empty parameter list.")
        self.layout = ParamLayout.from_tensors(self._params)
        self._pending: Tensor | None = None
        self._global = self.state[self._params[0]]
        self._global.update({"step": 0, "seed": int(seed), "best_loss": None, "evaluations": 0, "accepted": 0})

    # -- state ---------------------------------------------------------------------------------------------
    @property
    def best_loss(self) -> float | None:
        """Loss of the weights now in the model (the best kept so far), or None before the first step."""
        return self._global["best_loss"]

    def stats(self) -> dict[str, float]:
        """Counters for the metrics file: steps, loss evaluations, accepted updates and the step size."""
        g = self._global
        return {"step": g["step"], "evaluations": g["evaluations"], "accepted": g["accepted"]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        self._global = self.state[self._params[0]]

    # -- ask / tell ----------------------------------------------------------------------------------------
    def flat_params(self) -> Tensor:
        """The model's current weights as one vector."""
        return self.layout.flatten(self._params)

    def generator(self, step: int | None = None) -> torch.Generator:
        """The CPU generator for ``step`` (default: the coming step), seeded from (seed, step)."""
        step = self._global["step"] if step is None else step
        return addressed_generator("optimizer", self._global["seed"], step)

    @torch.no_grad()
    def ask(self) -> Tensor:
        """Propose this step's candidates, shape ``[population, numel]``."""
        candidates = self._ask(self.generator())
        self._pending = candidates
        return candidates

    @torch.no_grad()
    def tell(self, losses: Tensor, incumbent_loss: float | None = None) -> None:
        """Keep what is better among the last ``ask``'s candidates; ``losses`` has one entry per candidate.

        ``incumbent_loss``, if given, replaces the stored loss of the current weights first (re-evaluation on a
        new minibatch). NaN losses count as +inf and are never accepted.
        """
        if self._pending is None:
            raise RuntimeError("tell() needs a preceding ask().")
        losses = torch.as_tensor(losses, dtype=torch.float64).flatten().nan_to_num(nan=math.inf)
        if losses.numel() != self._pending.shape[0]:
            raise ConfigError(
                f"tell() needs one loss per candidate: expected {self._pending.shape[0]}, got {losses.numel()}."
            )
        if incumbent_loss is not None:
            self._global["best_loss"] = _as_loss(incumbent_loss)
        self._global["evaluations"] += losses.numel()
        self._tell(self._pending, losses)
        self._pending = None
        self._global["step"] += 1

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float:  # type: ignore[override]
        """Ask, evaluate, tell. Returns the loss of the weights kept.

        Closure calls per step: ``population`` (plus one on the first step, or every step when the incumbent
        is re-evaluated). A ``PopulationClosure`` scores them all in one batched call instead.
        """
        if closure is None:
            raise ConfigError(f"{type(self).__name__}.step() needs a closure that returns the loss.")
        reevaluate = self._global["best_loss"] is None or self.param_groups[0].get("reevaluate", False)
        candidates = self.ask()
        if reevaluate:
            batch = torch.cat([self.flat_params().unsqueeze(0), candidates])
            losses = self._evaluate(closure, batch)
            self._global["evaluations"] += 1
            self.tell(losses[1:], incumbent_loss=float(losses[0]))
        else:
            self.tell(self._evaluate(closure, candidates))
        return self._global["best_loss"]

    def _evaluate(self, closure: Callable[[], float], candidates: Tensor) -> Tensor:
        if isinstance(closure, PopulationClosure):
            return closure.evaluate_population(candidates)
        current = self.flat_params()
        losses = []
        for candidate in candidates:
            self.layout.assign(self._params, candidate)
            losses.append(_as_loss(closure()))
        self.layout.assign(self._params, current)
        return torch.tensor(losses, dtype=torch.float64)

    def _accept(self, candidate: Tensor, loss: float) -> None:
        self.layout.assign(self._params, candidate)
        self._global["best_loss"] = loss
        self._global["accepted"] += 1

    def _group_slices(self) -> list[tuple[dict, slice]]:
        """Each param group with the slice of the flat vector its parameters occupy."""
        out, offset = [], 0
        for group in self.param_groups:
            n = sum(p.numel() for p in group["params"])
            out.append((group, slice(offset, offset + n)))
            offset += n
        return out

    # -- for subclasses ------------------------------------------------------------------------------------
    def _ask(self, generator: torch.Generator) -> Tensor:
        raise NotImplementedError

    def _tell(self, candidates: Tensor, losses: Tensor) -> None:
        raise NotImplementedError
