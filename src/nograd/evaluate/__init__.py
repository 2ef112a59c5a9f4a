"""Evaluation backends by name: ``serial`` and ``vectorized`` in-process."""

from __future__ import annotations

from torch import nn

from nograd._validation import unknown_name_error
from nograd.evaluate.base import Evaluator
from nograd.evaluate.serial import SerialEvaluator
from nograd.evaluate.vectorized import VectorizedEvaluator
from nograd.tasks.base import Task

__all__ = ["Evaluator", "SerialEvaluator", "VectorizedEvaluator", "BACKENDS", "build_evaluator"]

BACKENDS: dict[str, type[Evaluator]] = {"serial": SerialEvaluator, "vectorized": VectorizedEvaluator}


def build_evaluator(backend: str, task: Task, model: nn.Module, chunk_size: int | None = None) -> Evaluator:
    if backend not in BACKENDS:
        raise unknown_name_error("backend", backend, BACKENDS)
    return BACKENDS[backend](task, model, chunk_size=chunk_size)
