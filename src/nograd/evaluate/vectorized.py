"""Vectorised evaluation: the whole population in one batched forward pass with ``torch.func``.

``vmap`` over ``functional_call`` turns the per-candidate matmuls into batched ones; when the candidates share
their input (the first layer) PyTorch's batching rule folds them into one large GEMM, which is where most of
the time of a wide first layer goes. Plain MLPs skip ``vmap`` for a written-out batched forward
(``batched_mlp``), which is several times faster for small networks.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.func import functional_call, vmap

from nograd.evaluate.base import Evaluator
from nograd.evaluate.batched_mlp import batched_sequential_forward
from nograd.evaluate.incremental import ChainPlan, StagePrefixes
from nograd.tasks.base import Task

__all__ = ["VectorizedEvaluator"]


class VectorizedEvaluator(Evaluator):
    name = "vectorized"

    def __init__(self, task: Task, model: nn.Module, chunk_size: int | None = None):
        super().__init__(task, model, chunk_size)
        buffers = dict(model.named_buffers())
        self._mlp_forward = batched_sequential_forward(model)
        self._chain = ChainPlan.build(model)
        self._names = {id(p): n for n, p in model.named_parameters()}
        self._stages = StagePrefixes.build(model)

        def loss_of(params: dict[str, Tensor], x: Tensor, y: Tensor) -> Tensor:
            return task.loss(functional_call(model, (params, buffers), (x,)), y)

        self._batched_loss = vmap(loss_of, in_dims=(0, None, None))

    @torch.no_grad()
    def evaluate_coordinate(self, param: Tensor, index: tuple[int, ...], values: Tensor) -> Tensor:
        """As the base class, but for chains of layers only the part of the network the weight reaches runs
        (``incremental``): RSO's fast path."""
        if self._chain is None or not self._chain.handles(param):
            return self._coordinate_resumed(param, index, values)
        with self.scoring():
            losses = self._chain.losses(
                self.task, lambda: self.batch()[0], self.targets(), self.batch_key(), param, index, values
            )
        self._count(len(values))
        return losses.to(torch.float64).nan_to_num(nan=math.inf).cpu()

    def _coordinate_resumed(self, param: Tensor, index: tuple[int, ...], values: Tensor) -> Tensor:
        """Models that resume mid-way (``StagePrefixes``): each value runs only the stages from ``param``'s on.
        (One value at a time: ``vmap`` over a conv weight is slower than a loop on the CPU, measured.)"""
        name = self._names.get(id(param))
        if self._stages is None or name is None:
            return super().evaluate_coordinate(param, index, values)
        x, y = self.batch()
        original = param[index].clone()
        losses = torch.empty(len(values), dtype=torch.float64)
        try:
            with self.scoring():
                resume = self._stages.resume_point(name, x, self.batch_key())
                for i, value in enumerate(values):
                    param[index] = value
                    losses[i] = float(self.task.loss(self.model(x, **resume), y))
        finally:
            param[index] = original
        self._count(len(values))
        return losses.nan_to_num(nan=math.inf)

    def _evaluate(self, candidates: Tensor) -> Tensor:
        x, y = self.batch()
        params = self.layout.unflatten(candidates)
        if self._mlp_forward is not None:
            return self.task.population_loss(self._mlp_forward(params, x), y)
        return self._batched_loss(params, x, y)
