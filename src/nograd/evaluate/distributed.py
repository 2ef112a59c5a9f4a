"""Population evaluation on Ray actors: the ``ray`` backend of ``nograd train``.

``RayEvaluator`` is an ``Evaluator`` like the in-process ones, so no method changes to run distributed. Each
actor of a ``RayActorPool`` holds the task and the model (put in the object store once) and a
``VectorizedEvaluator`` built from them; ``evaluate_population`` splits the candidates into chunks of
``chunk_size`` (default: one per actor), each actor scores its chunks vectorised on the step's minibatch, and the
losses come back in candidate order. Minibatches are addressed by step and candidates carry their weights, so the
losses are those the local ``vectorized`` backend computes, whatever actor scored them (bit for bit where a
candidate's loss does not depend on the other candidates of its batch, as for the batched MLPs; tested). A lost
actor's chunk runs again on another one; with no actor left ``WorkerError`` reaches the trainer, which writes its
checkpoint and stops (``nograd resume`` continues, on Ray or locally).

The single-model closure (``evaluator()``) and ``evaluate_coordinate`` (RSO) run in this process: only populations
are spread. Actors score on their CPUs; model buffers are copied once at the start (BatchNorm's running statistics
are not used in scoring: ``Evaluator.scoring``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from nograd.errors import ConfigError
from nograd.evaluate.base import Evaluator
from nograd.evaluate.ray_pool import RayActorPool
from nograd.tasks.base import Task

__all__ = ["RayEvaluator", "PopulationScorer"]


class PopulationScorer:
    """What every actor holds: the task and the model, and the vectorised evaluator it builds from them once."""

    def __init__(self, task: Task, model: nn.Module):
        self.task, self.model = task, model
        self._evaluator: Evaluator | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"task": self.task, "model": self.model, "_evaluator": None}

    def __call__(self, step: int, candidates: Tensor) -> Tensor:
        if self._evaluator is None:
            from nograd.evaluate.vectorized import VectorizedEvaluator

            self._evaluator = VectorizedEvaluator(self.task, self.model)
        self._evaluator.set_step(step)
        return self._evaluator.evaluate_population(candidates)


def _score_chunk(scorer: PopulationScorer, step: int, candidates: np.ndarray) -> np.ndarray:
    # arrays, not tensors, both ways: Ray ships numpy arrays without pickling them (about 1 ms less per call)
    return scorer(step, torch.tensor(candidates)).numpy()


class RayEvaluator(Evaluator):
    """Scores populations on Ray actors (see the module docstring).

    Args:
        task, model: as for every evaluator; the model must be on the CPU.
        chunk_size: candidates an actor scores in one call (default: the population split evenly over the actors).
            Smaller chunks balance uneven actors and lose less work when one dies; each costs a round trip.
        address: the Ray cluster (default ``RAY_ADDRESS``, else a local instance; "auto": the running cluster).
        workers: actors (default: one per free CPU of the cluster).
        cpus_per_worker: CPUs (and torch threads) of each actor.
    """

    name = "ray"

    def __init__(
        self,
        task: Task,
        model: nn.Module,
        chunk_size: int | None = None,
        address: str | None = None,
        workers: int | None = None,
        cpus_per_worker: int = 1,
    ):
        super().__init__(task, model, chunk_size)
        device = next(model.parameters()).device
        if device.type != "cpu":
            raise ConfigError(
                f"The ray backend scores on the actors' CPUs; the model is on {device}. Drop --device, or use the "
                "vectorized backend on the GPU."
            )
        self.address, self.workers, self.cpus_per_worker = address, workers, cpus_per_worker
        self.pool: RayActorPool | None = None  # started on the first population
        #: what an actor runs on a chunk (tests swap in one that kills its actor)
        self.function = _score_chunk

    def start(self) -> None:
        if self.pool is None:
            self.pool = RayActorPool(
                self.workers,
                PopulationScorer(self.task, self.model),
                address=self.address,
                cpus_per_worker=self.cpus_per_worker,
            )

    def _evaluate_all(self, candidates: Tensor) -> Tensor:
        self.start()
        assert self.pool is not None
        size = self.chunk_size or math.ceil(len(candidates) / max(1, self.pool.workers))
        chunks = [(self._step, candidates[i : i + size].numpy()) for i in range(0, len(candidates), size)]
        return torch.cat([torch.tensor(losses) for losses in self.pool.map(self.function, chunks)])

    def _evaluate(self, candidates: Tensor) -> Tensor:  # every population goes through _evaluate_all
        raise NotImplementedError

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
            self.pool = None
