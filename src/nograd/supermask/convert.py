"""``to_supermask``: the same architecture with every Linear/Conv2d replaced by a masked layer."""

from __future__ import annotations

import copy

from torch import nn

from nograd.errors import ConfigError
from nograd.supermask.layers import MaskedConv2d, MaskedLinear

__all__ = ["to_supermask"]


def to_supermask(model: nn.Module, init: str = "signed_constant", k: float = 0.5, rule: str = "top_k") -> nn.Module:
    """A copy of ``model`` whose ``nn.Linear``/``nn.Conv2d`` layers are masked layers with new frozen random
    weights (``init``, from torch's global generator) and scores; its ``parameters()`` are only the scores.

    Supported: bias-free layers (the supermask nets have none), convs with square kernels, stride 1, padding
    ``kernel // 2`` or as set, no groups or dilation. Anything else raises ConfigError naming the layer.
    """
    out = copy.deepcopy(model)
    options = {"init": init, "k": k, "rule": rule}
    _convert(out, options, "")
    return out


def _convert(module: nn.Module, options: dict, prefix: str) -> None:
    for name, child in module.named_children():
        path = f"{prefix}{name}"
        if isinstance(child, nn.Linear | nn.Conv2d) and child.bias is not None:
            raise ConfigError(f"Layer '{path}' has a bias; supermask layers have none (build it with bias=False).")
        if isinstance(child, nn.Linear):
            setattr(module, name, MaskedLinear(child.in_features, child.out_features, **options))
        elif isinstance(child, nn.Conv2d):
            kh, kw = child.kernel_size
            if kh != kw or child.stride != (1, 1) or child.groups != 1 or child.dilation != (1, 1):
                raise ConfigError(
                    f"Conv layer '{path}' must have a square kernel, stride 1, no groups or dilation to be masked."
                )
            if not isinstance(child.padding, tuple) or child.padding[0] != child.padding[1]:
                raise ConfigError(f"Conv layer '{path}' must have equal numeric padding to be masked.")
            masked = MaskedConv2d(child.in_channels, child.out_channels, kh, child.padding[0], **options)
            setattr(module, name, masked)
        else:
            _convert(child, options, path + ".")
