"""Methods by name: what ``nograd train --method NAME`` builds, and what ``nograd methods`` lists."""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor
from torch.optim import Optimizer

from nograd._validation import check_unknown_keys, unknown_name_error

__all__ = ["MethodSpec", "METHODS", "register_method", "get_method", "build_optimizer"]


@dataclass(frozen=True)
class MethodSpec:
    name: str
    cls: type[Optimizer]
    summary: str
    uses_gradients: bool = False
    #: Defaults that differ from the class signature's, for use through the trainer.
    overrides: tuple[tuple[str, Any], ...] = ()
    #: Task options this method expects unless the user sets them (RSO: minibatches of 5000, cycled).
    task_defaults: tuple[tuple[str, Any], ...] = ()
    #: The method knows when it is done (``optimizer.finished``) and marks layer/cycle ends (``optimizer.events``):
    #: with no budget it runs to the end, and it is logged at cycle ends and checkpointed at layer ends.
    runs_to_completion: bool = False
    #: Each step scores a population through ``evaluate_population``: what a distributed backend (Ray) spreads.
    scores_populations: bool = False

    def default_options(self) -> dict[str, Any]:
        """Every hyperparameter with its default, as the trainer resolves it (the seed is the run's)."""
        sig = inspect.signature(self.cls.__init__)
        options = {
            name: p.default
            for name, p in sig.parameters.items()
            if name not in ("self", "params", "seed")
            and p.default is not inspect.Parameter.empty
            and p.kind is not inspect.Parameter.VAR_KEYWORD
        }
        # torch's implementation switches (foreach, fused, ...) do not change the result: leave them out.
        options = {
            k: list(v) if isinstance(v, tuple) else v
            for k, v in options.items()
            if k not in _IMPLEMENTATION_FLAGS and (v is None or isinstance(v, bool | int | float | str | tuple))
        }
        options.update(dict(self.overrides))
        return options

    def takes_seed(self) -> bool:
        return "seed" in inspect.signature(self.cls.__init__).parameters


_IMPLEMENTATION_FLAGS = {"foreach", "fused", "capturable", "differentiable", "maximize"}

METHODS: dict[str, MethodSpec] = {}


def register_method(spec: MethodSpec) -> MethodSpec:
    METHODS[spec.name] = spec
    return spec


def get_method(name: str) -> MethodSpec:
    if name not in METHODS:
        raise unknown_name_error("method", name, METHODS)
    return METHODS[name]


def build_optimizer(name: str, params: Iterable[Tensor], seed: int = 0, **options: Any) -> Optimizer:
    """Build method ``name`` over ``params``; unknown options and bad values raise ConfigError."""
    spec = get_method(name)
    valid = spec.default_options()
    check_unknown_keys(f"method '{name}'", options, valid)
    kwargs = {**valid, **options}
    if spec.takes_seed():
        kwargs["seed"] = seed
    try:
        return spec.cls(params, **kwargs)
    except ValueError as err:  # torch.optim validates its own arguments ("Invalid learning rate: -1")
        from nograd.errors import ConfigError

        if isinstance(err, ConfigError):
            raise
        raise ConfigError(f"Bad option for method '{name}': {err}") from None


def _register_builtin() -> None:
    from nograd.optim.amc import AdaptiveMC
    from nograd.optim.hill_climb import HillClimb
    from nograd.optim.metropolis import Metropolis
    from nograd.optim.random_search import RandomSearch
    from nograd.optim.rso import RSO
    from nograd.supermask.edge_popup import EdgePopup
    from nograd.supermask.search import MaskSearch

    register_method(
        MethodSpec(
            "random",
            RandomSearch,
            "random search: new random weights each step, keep the best",
            scores_populations=True,
        )
    )
    register_method(
        MethodSpec(
            "hillclimb",
            HillClimb,
            "hill climbing: mutate the best, keep improvements, 1/5-rule step size",
            scores_populations=True,
        )
    )
    register_method(
        MethodSpec("metropolis", Metropolis, "Metropolis Monte Carlo: move all weights by N(0, σ²), keep if ΔL ≤ 0")
    )
    register_method(
        MethodSpec(
            "amc",
            AdaptiveMC,
            "adaptive Monte Carlo (Whitelam et al. 2022): Metropolis moves whose mean learns, σ shrinks on rejects",
        )
    )
    register_method(
        MethodSpec(
            "rso",
            RSO,
            "RSO (Tripathi & Singh 2020): one weight at a time, best of w, w+Δ, w−Δ on a fresh minibatch",
            task_defaults=(("batch_size", 5000), ("reshuffle", False)),
            runs_to_completion=True,
        )
    )
    register_method(
        MethodSpec("sgd", torch.optim.SGD, "backprop baseline: stochastic gradient descent", True, (("lr", 0.1),))
    )
    register_method(MethodSpec("adam", torch.optim.Adam, "backprop baseline: Adam", True, (("lr", 0.01),)))
    register_method(
        MethodSpec(
            "edge-popup",
            EdgePopup,
            "supermask (Ramanujan et al. 2020): SGD on scores, the top-k weights kept, weights never change",
            uses_gradients=True,
            task_defaults=(("batch_size", 128),),
            runs_to_completion=True,
        )
    )
    register_method(
        MethodSpec(
            "mask-search",
            MaskSearch,
            "gradient-free supermask: hill climbing over mask bits of a frozen random net (model.rule=sign)",
        )
    )


_register_builtin()
