"""Evaluation backends by name: ``serial`` and ``vectorized`` in-process, ``ray`` on Ray actors."""

from __future__ import annotations

from typing import Any

from torch import nn

from nograd._validation import unknown_name_error
from nograd.errors import ConfigError
from nograd.evaluate.base import Evaluator
from nograd.evaluate.distributed import RayEvaluator
from nograd.evaluate.serial import SerialEvaluator
from nograd.evaluate.vectorized import VectorizedEvaluator
from nograd.tasks.base import Task

__all__ = [
    "Evaluator",
    "SerialEvaluator",
    "VectorizedEvaluator",
    "RayEvaluator",
    "BACKENDS",
    "DISTRIBUTED",
    "build_evaluator",
]

BACKENDS: dict[str, type[Evaluator]] = {
    "serial": SerialEvaluator,
    "vectorized": VectorizedEvaluator,
    "ray": RayEvaluator,
}
#: Backends that spread populations over workers; they take ``address`` and ``workers``.
DISTRIBUTED = ("ray",)


def build_evaluator(
    backend: str,
    task: Task,
    model: nn.Module,
    chunk_size: int | None = None,
    address: str | None = None,
    workers: int | None = None,
) -> Evaluator:
    """The evaluator of ``backend``; ``address`` and ``workers`` are the Ray cluster's and its actors."""
    if backend not in BACKENDS:
        raise unknown_name_error("backend", backend, BACKENDS)
    options: dict[str, Any] = {}
    if backend in DISTRIBUTED:
        options = {"address": address, "workers": workers}
    elif address is not None or workers is not None:
        raise ConfigError(f"ray_address and workers are options of the ray backend; the backend is {backend!r}.")
    return BACKENDS[backend](task, model, chunk_size=chunk_size, **options)
