"""Flat views of a model's parameters: the one vector layout every population method and evaluator shares.

Optimizers see ``model.parameters()``; evaluators see ``model.named_parameters()``. Both iterate in the same
order, so a flat vector built by one is read correctly by the other.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from nograd.errors import ConfigError

__all__ = ["ParamLayout"]


@dataclass(frozen=True)
class ParamLayout:
    """Names, shapes and offsets of a list of tensors laid end to end in one vector."""

    names: tuple[str, ...]
    shapes: tuple[torch.Size, ...]

    @classmethod
    def from_tensors(cls, tensors: Sequence[Tensor], names: Sequence[str] | None = None) -> ParamLayout:
        names = tuple(names) if names is not None else tuple(str(i) for i in range(len(tensors)))
        return cls(names, tuple(t.shape for t in tensors))

    @classmethod
    def from_module(cls, module: torch.nn.Module) -> ParamLayout:
        named = list(module.named_parameters())
        return cls(tuple(n for n, _ in named), tuple(p.shape for _, p in named))

    @property
    def numels(self) -> tuple[int, ...]:
        return tuple(int(torch.Size(s).numel()) for s in self.shapes)

    @property
    def numel(self) -> int:
        return sum(self.numels)

    def flatten(self, tensors: Iterable[Tensor]) -> Tensor:
        return torch.cat([t.detach().reshape(-1) for t in tensors])

    def unflatten(self, flat: Tensor) -> dict[str, Tensor]:
        """Views of ``flat`` (shape ``[..., numel]``) as a name -> tensor dict, keeping leading batch dims."""
        if flat.shape[-1] != self.numel:
            raise ConfigError(
                f"A flat parameter vector must have {self.numel} entries for this model. "
                f"Got shape {tuple(flat.shape)} instead."
            )
        lead = flat.shape[:-1]
        parts = torch.split(flat, self.numels, dim=-1)
        return {n: p.reshape(*lead, *s) for n, p, s in zip(self.names, parts, self.shapes)}

    def assign(self, tensors: Sequence[Tensor], flat: Tensor) -> None:
        """Copy one flat vector into ``tensors`` in place."""
        for t, part in zip(tensors, torch.split(flat, self.numels)):
            t.copy_(part.view_as(t))
