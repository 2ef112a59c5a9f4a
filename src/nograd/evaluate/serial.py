"""Serial evaluation: load each candidate into the model and run it, one after another.

The reference the vectorised backend is checked against, and the fallback for models ``vmap`` cannot batch.
"""

from __future__ import annotations

import torch
from torch import Tensor

from nograd.evaluate.base import Evaluator

__all__ = ["SerialEvaluator"]


class SerialEvaluator(Evaluator):
    name = "serial"

    def _evaluate(self, candidates: Tensor) -> Tensor:
        params = list(self.model.parameters())
        current = self.layout.flatten(params)
        x, y = self.batch()
        losses = torch.empty(len(candidates), dtype=candidates.dtype, device=candidates.device)
        try:
            for i, candidate in enumerate(candidates):
                self.layout.assign(params, candidate)
                losses[i] = self.task.loss(self.model(x), y)
        finally:
            self.layout.assign(params, current)
        return losses
