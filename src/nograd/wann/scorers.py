"""How the WANN trainer scores a population: one scorer per kind of task, run here or on Ray actors.

A scorer is called as ``scorer(genomes, seed, generation, reps)`` and returns the [P, W, R] returns of every genome
with every shared weight on every repetition (float64 or the rollouts' dtype, on the CPU). Episodes and image
batches are addressed by (seed, generation, rep) and shared by every genome, so a genome's returns depend on the
genome alone, never on the others scored with it: a population split into chunks scores as it does in one piece.
Identical genomes are scored once; ``distinct=True`` says the caller has already made sure there are none.

- ``SwingUpScorer``: the native swing-up (``evaluate_swingup``: the numba kernel on this process's threads, or torch
  in ``workers`` processes).
- ``ClassifyScorer``: an image task; the images live in the scorer (``evaluate_classification``).
- ``GymScorer``: any gymnasium environment (``GymEvaluator``).
- ``RayScorer``: wraps one of them. Long-lived actors (``RayActorPool``) each hold a copy of the scorer, put in
  Ray's object store once, so a dataset is shipped once per actor and a generation sends only genomes. Identical
  genomes are scored once, the rest are split into chunks of about equal cost (nodes + connections), and the returns
  come back in population order: equal to the local scorer's, bit for bit (tested), whichever actor ran a chunk and
  also when an actor dies and its chunk runs again elsewhere.
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import torch
from torch import Tensor

from nograd.evaluate.ray_pool import RayActorPool
from nograd.wann.evaluate import SwingUpPool, _balanced_chunks, distinct_genomes, evaluate_swingup
from nograd.wann.genome import Genome

if TYPE_CHECKING:
    from nograd.envs.gym_adapter import GymEvaluator

__all__ = ["Scorer", "SwingUpScorer", "ClassifyScorer", "GymScorer", "RayScorer"]


class Scorer(Protocol):
    def __call__(
        self, genomes: Sequence[Genome], seed: int, generation: int, reps: int, distinct: bool = False
    ) -> Tensor: ...

    def start(self) -> None:
        """Start workers now rather than on first use (a bad cluster address fails here)."""

    def close(self) -> None:
        """Stop the workers, if any (a later call starts them again)."""


class SwingUpScorer:
    """Swing-up with ``kernel`` ("numba" or "torch", see ``evaluate_swingup``); with torch, ``workers`` > 1 worker
    processes, started on first use and kept until ``close``."""

    def __init__(self, steps: int, dtype: torch.dtype, kernel: str, workers: int = 1):
        self.steps, self.dtype, self.kernel, self.workers = steps, dtype, kernel, workers
        self.pool: SwingUpPool | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "pool": None}  # worker processes stay where they were started

    def __call__(
        self, genomes: Sequence[Genome], seed: int, generation: int, reps: int, distinct: bool = False
    ) -> Tensor:
        processes = self.kernel == "torch" and self.workers > 1  # numba runs on threads instead
        if processes and (self.pool is None or self.pool.closed):
            self.pool = SwingUpPool(self.workers)
        return evaluate_swingup(
            genomes,
            seed=seed,
            generation=generation,
            reps=reps,
            steps=self.steps,
            dtype=self.dtype,
            pool=self.pool if processes else None,
            backend=self.kernel,
            dedupe=not distinct,
        )

    def start(self) -> None:
        pass

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
            self.pool = None


class ClassifyScorer:
    """An image task: ``inputs`` [N, pixels] and ``labels`` [N], ``batch`` images per rollout, on ``device``."""

    def __init__(self, inputs: Tensor, labels: Tensor, batch: int, dtype: torch.dtype, device: str = "cpu"):
        self.inputs, self.labels = inputs.to(device), labels.to(device)
        self.batch, self.dtype, self.device = batch, dtype, device

    def __call__(
        self, genomes: Sequence[Genome], seed: int, generation: int, reps: int, distinct: bool = False
    ) -> Tensor:
        from nograd.wann.classify import evaluate_classification

        return evaluate_classification(
            genomes, self.inputs, self.labels, seed, generation, reps, self.batch, dtype=self.dtype, device=self.device
        )

    def start(self) -> None:
        pass

    def close(self) -> None:
        pass


class GymScorer:
    """A gymnasium environment (a ``GymEvaluator``); ``steps`` caps an episode (None: its time limit)."""

    def __init__(self, evaluator: GymEvaluator, steps: int | None, dtype: torch.dtype):
        self.evaluator, self.steps, self.dtype = evaluator, steps, dtype

    def __call__(
        self, genomes: Sequence[Genome], seed: int, generation: int, reps: int, distinct: bool = False
    ) -> Tensor:
        return self.evaluator.evaluate(
            genomes,
            seed=seed,
            generation=generation,
            reps=reps,
            steps=self.steps,
            dtype=self.dtype,
            dedupe=not distinct,
        )

    def start(self) -> None:
        pass

    def close(self) -> None:
        pass


def score_chunk(scorer: Scorer, genomes: bytes, seed: int, generation: int, reps: int) -> np.ndarray:
    """What a Ray actor runs: its copy of the scorer on one chunk of distinct genomes (pickled by the driver)."""
    return scorer(pickle.loads(genomes), seed, generation, reps, distinct=True).numpy()


class RayScorer:
    """``scorer`` run on Ray actors (see the module docstring).

    Args:
        scorer: the local scorer each actor gets a copy of (with no worker processes of its own).
        address: the Ray cluster (default ``RAY_ADDRESS``, else a local instance; "auto": the running cluster).
        workers: actors (default: one per free CPU of the cluster).
        chunk_size: about how many distinct genomes an actor scores in one call (default: one chunk per actor).
    """

    def __init__(
        self, scorer: Scorer, address: str | None = None, workers: int | None = None, chunk_size: int | None = None
    ):
        self.scorer, self.address, self.workers, self.chunk_size = scorer, address, workers, chunk_size
        self.pool: RayActorPool | None = None  # started on first use
        #: what an actor runs on a chunk (tests swap in one that kills its actor)
        self.function = score_chunk

    def start(self) -> None:
        if self.pool is None:
            self.pool = RayActorPool(self.workers, self.scorer, address=self.address)

    def __call__(
        self, genomes: Sequence[Genome], seed: int, generation: int, reps: int, distinct: bool = False
    ) -> Tensor:
        self.start()
        assert self.pool is not None
        unique, index = (list(genomes), list(range(len(genomes)))) if distinct else distinct_genomes(genomes)
        parts = self.pool.workers if self.chunk_size is None else math.ceil(len(unique) / self.chunk_size)
        chunks = _balanced_chunks(unique, max(1, min(parts, len(unique))))
        # genomes pickled here with the standard pickler: about 3x faster than Ray's cloudpickle of the same list
        packed = [pickle.dumps([unique[i] for i in chunk], protocol=pickle.HIGHEST_PROTOCOL) for chunk in chunks]
        results = self.pool.map(self.function, [(genomes, seed, generation, reps) for genomes in packed])
        parts = [torch.tensor(r) for r in results]  # a copy: Ray's arrays are read-only views of its object store
        out = torch.empty((len(unique), *parts[0].shape[1:]), dtype=parts[0].dtype)
        for chunk, scores in zip(chunks, parts):
            out[torch.tensor(chunk)] = scores
        return out[torch.tensor(index)]

    @property
    def failures(self) -> int:
        """Chunks that ran again because their actor was lost."""
        return 0 if self.pool is None else self.pool.failures

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
            self.pool = None
