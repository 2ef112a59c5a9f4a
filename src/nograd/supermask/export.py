"""After the search: how much of the network a mask keeps, and the masked network as plain PyTorch layers."""

from __future__ import annotations

import copy

import torch
from torch import nn

from nograd.supermask.layers import MaskedConv2d, MaskedLayer, MaskedLinear

__all__ = ["kept_fraction", "kept_per_layer", "export_masked"]


def kept_per_layer(model: nn.Module) -> dict[str, tuple[int, int]]:
    """``{layer name: (kept weights, weights)}`` for every masked layer of ``model``."""
    return {name: (m.kept(), m.weight.numel()) for name, m in model.named_modules() if isinstance(m, MaskedLayer)}


def kept_fraction(model: nn.Module) -> float:
    """Kept weights over all weights of the masked layers of ``model``."""
    counts = kept_per_layer(model).values()
    total = sum(n for _, n in counts)
    return sum(k for k, _ in counts) / total if total else 0.0


@torch.no_grad()
def export_masked(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with every masked layer replaced by an ordinary ``nn.Linear``/``nn.Conv2d`` (no bias)
    holding ``weight * mask``: it computes the same outputs and needs nothing from nograd to run."""
    out = copy.deepcopy(model)
    _replace(out)
    return out


def _replace(module: nn.Module) -> None:
    for name, child in module.named_children():
        if isinstance(child, MaskedLinear):
            plain: nn.Module = nn.Linear(child.in_features, child.out_features, bias=False)
        elif isinstance(child, MaskedConv2d):
            plain = nn.Conv2d(
                child.in_channels, child.out_channels, child.kernel_size, padding=child.padding, bias=False
            )
        else:
            _replace(child)
            continue
        plain = plain.to(device=child.weight.device, dtype=child.weight.dtype)
        plain.weight.copy_(child.weight * child.mask())
        setattr(module, name, plain)
