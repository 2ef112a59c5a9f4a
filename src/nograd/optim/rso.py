"""RSO: random search optimisation, one weight at a time (Tripathi & Singh 2020, arXiv 2005.05955).

"RSO: A Gradient Free Sampling Based Approach For Training Deep Neural Networks" reports MNIST 99.1% and
CIFAR-10 81.8%, and 98% on MNIST after only 5 updates per weight. This is the algorithm as the authors' code
runs it; every constant below is the paper's unless marked "chosen here".
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
from nograd.seeding import addressed_generator

__all__ = ["RSO", "CoordinateClosure", "rso_sigma"]

BN_SIGMA = 0.167  # the paper's σ for BatchNorm γ and β


class CoordinateClosure:
    """Protocol of a closure that can also score one weight at several values in one call.

    ``evaluate_coordinate(param, index, values)`` returns the loss with ``param[index]`` set to each of
    ``values`` (every other weight as it is now), without leaving the model changed. ``nograd.evaluate``'s
    evaluators implement it; the incremental one runs only the part of the network the weight affects.
    """

    def __call__(self) -> float: ...

    def evaluate_coordinate(self, param: Tensor, index: tuple[int, ...], values: Tensor) -> Tensor: ...


def rso_sigma(param: Tensor, bn_sigma: float = BN_SIGMA) -> float:
    """The initial σ of a tensor: its Kaiming-normal init std √(2/fan_in), or ``bn_sigma`` for 1-D (BatchNorm)."""
    if param.dim() >= 2:
        fan_in = param.shape[1] * math.prod(param.shape[2:])
        return math.sqrt(2.0 / fan_in)
    return bn_sigma


class RSO(Optimizer):
    r"""RSO: perturb one weight at a time, keep the best of w, w+Δ, w−Δ on a fresh minibatch.

    .. code-block:: text

        for cycle e = 0 .. T−1:
            for each tensor, from the output layer to the input (the reverse of parameters()' order):
                σ_e = σ · (0.1 + 0.9·(T − e)/T)          σ = √(2/fan_in), or 0.167 for BatchNorm γ/β
                for each weight w in it (conv: out → in → kh → kw; linear: out → in):
                    w ← w · (1 − weight_decay)
                    Δ ~ N(0, σ_e²)
                    L₀, L₊, L₋ = loss(w), loss(w + Δ), loss(w − Δ)     on this weight's minibatch
                    w ← argmin (ties keep w, then w + Δ)

    One ``step(closure)`` updates one weight: the closure is called three times (once if it implements
    ``evaluate_coordinate``, which scores the three values together). The caller gives each step a fresh
    minibatch; ``nograd train`` does (the task's batch for step k). Pass the parameters in forward order
    (``model.parameters()`` of a model whose layers are registered from input to output, as nograd's are).

    Args:
        params: the model's parameters, in forward order.
        cycles: T, the number of passes over all weights; σ anneals over them (default: 5, the paper's
            "5 updates per weight" setting).
        weight_decay: the multiplicative decay applied before each trial (default: 1e-4).
        bn_sigma: σ for 1-D tensors, BatchNorm's γ and β (default: 0.167).
        seed: seed of the addressed generator: Δ of weight i in tensor t in cycle e comes from (seed, e, t)
            (default: 0).
    """

    _parameter_constraints = {
        "cycles": Interval(int, 1, None),
        "weight_decay": Interval(float, 0, 1, closed="left"),
        "bn_sigma": Interval(float, 0, None, closed="neither"),
        "seed": Interval(int, 0, None),
    }

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict],
        cycles: int = 5,
        weight_decay: float = 1e-4,
        bn_sigma: float = BN_SIGMA,
        seed: int = 0,
    ):
        validate_params(
            "RSO",
            {"cycles": cycles, "weight_decay": weight_decay, "bn_sigma": bn_sigma, "seed": seed},
            self._parameter_constraints,
        )
        super().__init__(params, {"cycles": cycles, "weight_decay": weight_decay, "bn_sigma": bn_sigma})
        forward = [p for group in self.param_groups for p in group["params"]]
        if not forward:
            raise ConfigError("RSO got an empty parameter list.")
        self._order = list(reversed(forward))  # output layer first
        self._sizes = [p.numel() for p in self._order]
        self._offsets = [0]
        for n in self._sizes:
            self._offsets.append(self._offsets[-1] + n)
        self._global = self.state[forward[0]]
        self._global.update({"weight": 0, "seed": seed, "evaluations": 0, "accepted": 0, "loss": None})
        self._noise_key: tuple[int, int] | None = None
        self._noise: Tensor | None = None
        #: What the last step finished: "layer" and/or "cycle" (the trainer checkpoints and logs on these).
        self.events: frozenset[str] = frozenset()

    # -- progress ----------------------------------------------------------------------------------------
    @property
    def order(self) -> tuple[Tensor, ...]:
        """The tensors in visiting order: the output layer first."""
        return tuple(self._order)

    @property
    def weights_per_cycle(self) -> int:
        return self._offsets[-1]

    @property
    def total_steps(self) -> int:
        return self.weights_per_cycle * self.param_groups[0]["cycles"]

    @property
    def finished(self) -> bool:
        return self._global["weight"] >= self.total_steps

    def position(self, weight: int | None = None) -> tuple[int, int, int]:
        """(cycle, tensor number in visiting order, flat index in the tensor) of the ``weight``-th update."""
        weight = self._global["weight"] if weight is None else weight
        cycle, k = divmod(weight, self.weights_per_cycle)
        lo, hi = 0, len(self._sizes)
        while hi - lo > 1:  # the tensor whose offset range holds k
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if self._offsets[mid] <= k else (lo, mid)
        return cycle, lo, k - self._offsets[lo]

    def stats(self) -> dict[str, Any]:
        g = self._global
        cycle, tensor, _ = self.position(min(g["weight"], self.total_steps - 1))
        return {
            "step": g["weight"],
            "evaluations": g["evaluations"],
            "accepted": g["accepted"],
            "step_size": self.sigma(tensor, cycle),
            "cycle": cycle,
            "tensor": tensor,
        }

    def sigma(self, tensor: int, cycle: int) -> float:
        """σ_e of tensor ``tensor`` (visiting order) in cycle ``cycle``: linear annealing to 0.1σ."""
        cycles = self.param_groups[0]["cycles"]
        base = rso_sigma(self._order[tensor], self.param_groups[0]["bn_sigma"])
        return base * (0.1 + 0.9 * (cycles - cycle) / cycles)

    def _unit_noise(self, cycle: int, tensor: int) -> Tensor:
        if self._noise_key != (cycle, tensor):
            generator = addressed_generator("rso", self._global["seed"], cycle, tensor)
            self._noise = torch.randn(self._sizes[tensor], generator=generator, dtype=torch.float64)
            self._noise_key = (cycle, tensor)
        assert self._noise is not None
        return self._noise

    # -- the step ----------------------------------------------------------------------------------------
    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        if closure is None:
            raise ConfigError("RSO.step() needs a closure that returns the loss.")
        if self.finished:
            self.events = frozenset()
            return self._global["loss"]
        cycle, tensor, flat = self.position()
        param = self._order[tensor]
        index = tuple(int(i) for i in torch.unravel_index(torch.tensor(flat), param.shape))
        decayed = float(param[index]) * (1.0 - self.param_groups[0]["weight_decay"])
        delta = self.sigma(tensor, cycle) * float(self._unit_noise(cycle, tensor)[flat])
        values = torch.tensor([decayed, decayed + delta, decayed - delta], dtype=param.dtype, device=param.device)
        losses = self._evaluate(closure, param, index, values)
        best = 0
        for candidate in (1, 2):
            if losses[candidate] < losses[best]:  # strict: ties keep w
                best = candidate
        param[index] = values[best]
        g = self._global
        g["weight"] += 1
        g["evaluations"] += 3
        g["accepted"] += int(best != 0)
        g["loss"] = float(losses[best])
        events = set()
        if flat == self._sizes[tensor] - 1:
            events.add("layer")
            if tensor == len(self._order) - 1:
                events.add("cycle")
        self.events = frozenset(events)
        return g["loss"]

    @staticmethod
    def _evaluate(closure: Callable[[], float], param: Tensor, index: tuple[int, ...], values: Tensor) -> Tensor:
        if hasattr(closure, "evaluate_coordinate"):
            return torch.as_tensor(closure.evaluate_coordinate(param, index, values), dtype=torch.float64)
        original = param[index].clone()
        losses = []
        for value in values:
            param[index] = value
            loss = float(closure())
            losses.append(math.inf if math.isnan(loss) else loss)
        param[index] = original
        return torch.tensor(losses, dtype=torch.float64)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        self._global = self.state[self._order[-1]]
        self._noise_key = None
