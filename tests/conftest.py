"""Shared fixtures: tiny models and tasks, and a fixture that loops over the method registry."""

from __future__ import annotations

import pytest
import torch

from nograd.optim import METHODS


@pytest.fixture(autouse=True)
def _deterministic_threads():
    torch.set_num_threads(1)
    yield


@pytest.fixture(params=sorted(METHODS))
def method_name(request) -> str:
    """Every registered method: a new one is tested for free."""
    return request.param


def tiny_model(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))


def quadratic_closure(model: torch.nn.Module, grad: bool = False):
    """Loss of a tiny regression problem; with ``grad`` it calls backward, as backprop closures do."""
    g = torch.Generator().manual_seed(123)
    x = torch.randn(32, 3, generator=g)
    y = (x @ torch.tensor([[1.0], [-2.0], [0.5]])).tanh()

    def closure() -> float:
        with torch.set_grad_enabled(grad):
            if grad:
                model.zero_grad()
            loss = torch.nn.functional.mse_loss(model(x), y)
            if grad:
                loss.backward()
        return float(loss.detach())

    return closure
