"""The evaluation layer: one interface that scores weights for every method.

An evaluator binds a task to a model. Called with no arguments it is a closure (the loss of the model's current
weights); ``evaluate_population(candidates)`` scores a ``[P, numel]`` batch of flat weight vectors at once.
Methods never know how the work is spread: in-process serial, vectorised, or on Ray actors (``distributed``).
"""

from __future__ import annotations

import contextlib
import math
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from nograd.errors import ConfigError
from nograd.models.batchnorm import batch_stats_only, has_batchnorm
from nograd.params import ParamLayout
from nograd.tasks.base import Task

__all__ = ["Evaluator"]


class Evaluator(ABC):
    """Scores weights of ``model`` on ``task``; counts loss evaluations and the examples they read.

    Args:
        task: the task whose ``train_batch(step)`` and ``loss`` are used.
        model: the model whose parameters are scored (its architecture; the weights are the candidates').
        chunk_size: the most candidates scored in one batched pass, to bound memory (default: all).
    """

    name: ClassVar[str]

    def __init__(self, task: Task, model: nn.Module, chunk_size: int | None = None):
        self.task = task
        self.model = model
        self.chunk_size = chunk_size
        self.layout = ParamLayout.from_module(model)
        self._has_batchnorm = has_batchnorm(model)
        self.evaluations = 0
        self.examples = 0
        self._step = 0
        self._batch: tuple[Tensor, Tensor] | None = None

    # -- the batch every candidate of a step is scored on ---------------------------------------------------
    def set_step(self, step: int) -> None:
        """Score on the training batch of ``step`` from now on."""
        if step != self._step or self._batch is None:
            self._step, self._batch = step, None

    def batch(self) -> tuple[Tensor, Tensor]:
        if self._batch is None:
            self._batch = self.task.train_batch(self._step)
        return self._batch

    def targets(self) -> Tensor:
        """The targets of the current batch, without gathering its inputs where the task can."""
        if self._batch is None and hasattr(self.task, "train_targets"):
            return self.task.train_targets(self._step)
        return self.batch()[1]

    def batch_key(self) -> object:
        """Identity of the current batch: equal keys mean the same examples (for caches)."""
        return self.task.batch_key(self._step)

    def scoring(self) -> contextlib.AbstractContextManager:
        """The model's state while it is scored: BatchNorm on batch statistics, running ones untouched."""
        return batch_stats_only(self.model) if self._has_batchnorm else contextlib.nullcontext()

    def _count(self, models: int) -> None:
        self.evaluations += models
        self.examples += models * len(self.batch()[0])

    # -- scoring ------------------------------------------------------------------------------------------
    @torch.no_grad()
    def __call__(self) -> float:
        """The loss of the model's current weights (a ``torch.optim`` closure)."""
        x, y = self.batch()
        with self.scoring():
            loss = float(self.task.loss(self.model(x), y))
        self._count(1)
        return math.inf if math.isnan(loss) else loss

    def loss_and_backward(self) -> float:
        """Closure for backprop baselines: zero the gradients, compute the loss, call ``backward``."""
        x, y = self.batch()
        self.model.zero_grad(set_to_none=True)
        loss = self.task.loss(self.model(x), y)
        loss.backward()
        self._count(1)
        return float(loss.detach())

    @torch.no_grad()
    def evaluate_population(self, candidates: Tensor) -> Tensor:
        """Losses (float64, NaN as +inf) of the flat weight vectors in ``candidates``, shape ``[P, numel]``."""
        self._check_candidates(candidates)
        losses = self._evaluate_all(candidates.to(device=next(self.model.parameters()).device))
        self._count(len(candidates))
        return losses.to(torch.float64).nan_to_num(nan=math.inf).cpu()

    def _check_candidates(self, candidates: Tensor) -> None:
        if candidates.dim() != 2 or candidates.shape[1] != self.layout.numel:
            raise ConfigError(
                f"Candidates must have shape [population, {self.layout.numel}] for this model. "
                f"Got {tuple(candidates.shape)} instead."
            )

    def _evaluate_all(self, candidates: Tensor) -> Tensor:
        """Losses of the whole population, ``chunk_size`` candidates at a time (where the work is spread)."""
        chunk = self.chunk_size or len(candidates)
        with self.scoring():
            return torch.cat([self._evaluate(candidates[i : i + chunk]) for i in range(0, len(candidates), chunk)])

    @torch.no_grad()
    def evaluate_coordinate(self, param: Tensor, index: tuple[int, ...], values: Tensor) -> Tensor:
        """Losses with ``param[index]`` set to each of ``values``, all else as now (float64, NaN as +inf).

        This plain version runs the whole network once per value; ``IncrementalEvaluator`` runs only the part
        of the network the weight reaches.
        """
        original = param[index].clone()
        x, y = self.batch()
        losses = torch.empty(len(values), dtype=torch.float64)
        try:
            with self.scoring():
                for i, value in enumerate(values):
                    param[index] = value
                    losses[i] = float(self.task.loss(self.model(x), y))
        finally:
            param[index] = original
        self._count(len(values))
        return losses.nan_to_num(nan=math.inf)

    @abstractmethod
    def _evaluate(self, candidates: Tensor) -> Tensor:
        """Losses of one chunk of candidates."""

    def start(self) -> None:
        """Start workers now rather than on the first population, if the backend has any (a bad cluster address
        fails here)."""
        return None  # in-process backends have none

    def close(self) -> None:
        """Release workers, if the backend has any (a later evaluation starts them again)."""
        return None

    # -- state --------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"evaluations": self.evaluations, "examples": self.examples}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.evaluations = int(state["evaluations"])
        self.examples = int(state["examples"])
