"""Tasks by name: what ``nograd train TASK`` trains on, and what ``nograd tasks`` lists."""

from __future__ import annotations

import inspect
from typing import Any

from nograd._validation import check_unknown_keys, unknown_name_error
from nograd.tasks.addition import AdditionTask
from nograd.tasks.base import ClassificationTask, SupervisedTask, Task
from nograd.tasks.images import CIFAR10Task, DigitsTask, FashionMNISTTask, ImageClassificationTask, MNISTTask

__all__ = [
    "Task",
    "SupervisedTask",
    "ClassificationTask",
    "AdditionTask",
    "ImageClassificationTask",
    "MNISTTask",
    "FashionMNISTTask",
    "CIFAR10Task",
    "DigitsTask",
    "TASKS",
    "register_task",
    "get_task",
    "task_options",
    "build_task",
]

TASKS: dict[str, type[Task]] = {}


def register_task(cls: type[Task]) -> type[Task]:
    TASKS[cls.name] = cls
    return cls


def get_task(name: str) -> type[Task]:
    if name not in TASKS:
        raise unknown_name_error("task", name, TASKS)
    return TASKS[name]


def task_options(name: str) -> dict[str, Any]:
    """The options of task ``name`` with their defaults (the seed and device are the run's)."""
    sig = inspect.signature(get_task(name).__init__)
    return {k: p.default for k, p in sig.parameters.items() if k not in ("self", "seed", "device")}


def build_task(name: str, seed: int = 0, device: str = "cpu", **options: Any) -> Task:
    check_unknown_keys(f"task '{name}'", options, task_options(name))
    return get_task(name)(seed=seed, device=device, **options)


register_task(AdditionTask)
for _cls in (MNISTTask, FashionMNISTTask, CIFAR10Task, DigitsTask):
    register_task(_cls)
