"""The networks of the RSO paper (Tripathi & Singh 2020, arXiv 2005.05955), as their code builds them.

Both are plain chains of named layers so a search can walk them from the output to the input:

- ``rso-mnist``: six 3×3 convs of 16 channels (pad 1, no bias), each followed by BatchNorm; ReLU at the start of
  the next layer; 2×2 average pooling after conv1 and conv3; global average pooling; linear 16→10.
  11,824 weights + 192 BatchNorm parameters.
- ``rso-cifar10``: nine 3×3 convs with channels [16,16,16,32,32,32,32,32,32]; average pooling after conv2 and
  conv4; residual adds into conv2, conv4, conv6 and conv8 from two layers back (a 1×1 conv + BN projection
  16→32 into conv4); global average pooling; linear 32→10. 56,560 weights. (Layers are numbered from 0 here, so
  conv0 is the first; where the paper's text is silent, the add comes after the BatchNorm and before pooling.)

Initialisation as the paper: Kaiming-normal weights (fan-in, ReLU gain), no biases, BatchNorm γ=1, β=0.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import Tensor, nn

__all__ = ["rso_mnist_net", "rso_cifar10_net", "ResidualChain", "kaiming_init", "count_weights"]


def kaiming_init(model: nn.Module) -> nn.Module:
    for module in model.modules():
        if isinstance(module, nn.Conv2d | nn.Linear):
            nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm2d | nn.BatchNorm1d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
    return model


def rso_mnist_net(in_channels: int = 1, num_outputs: int = 10, channels: int = 16) -> nn.Sequential:
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    for k in range(1, 7):
        if k > 1:
            layers[f"relu{k}"] = nn.ReLU()
        layers[f"conv{k}"] = nn.Conv2d(in_channels if k == 1 else channels, channels, 3, padding=1, bias=False)
        layers[f"bn{k}"] = nn.BatchNorm2d(channels)
        if k in (1, 3):
            layers[f"pool{k}"] = nn.AvgPool2d(2)
    layers["relu"] = nn.ReLU()
    layers["gap"] = nn.AdaptiveAvgPool2d(1)
    layers["flatten"] = nn.Flatten()
    layers["fc"] = nn.Linear(channels, num_outputs, bias=False)
    return kaiming_init(nn.Sequential(layers))


class ResidualStage(nn.Module):
    """conv → BN, plus an optional projection (1×1 conv → BN) of the skip input. Registered in forward order."""

    def __init__(self, in_channels: int, width: int, skip_channels: int | None):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, width, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(width)
        self.projection = None
        if skip_channels is not None and skip_channels != width:
            self.projection = nn.Sequential(nn.Conv2d(skip_channels, width, 1, bias=False), nn.BatchNorm2d(width))


class ResidualChain(nn.Module):
    """conv → BN stages where stage k may add the output of stage k−2 (projected if the width differs).

    Stage k computes ``a_k = pool_k(BN_k(conv_k(relu(a_{k−1}))) + skip_k(a_{k−2}))`` (no ReLU before stage 0).
    Modules are registered in forward order, so ``parameters()`` lists them from the input to the output.
    """

    def __init__(
        self,
        in_channels: int,
        widths: list[int],
        residual_into: set[int],
        pool_after: set[int],
        num_outputs: int,
    ):
        super().__init__()
        self.residual_into, self.pool_after = set(residual_into), set(pool_after)
        self.stages = nn.ModuleList(
            ResidualStage(
                in_channels if k == 0 else widths[k - 1], width, widths[k - 2] if k in self.residual_into else None
            )
            for k, width in enumerate(widths)
        )
        self.fc = nn.Linear(widths[-1], num_outputs, bias=False)
        kaiming_init(self)

    def forward(self, x: Tensor, start: int = 0, outputs: list[Tensor] | None = None) -> Tensor:
        """The logits; with ``start`` > 0, resume at stage ``start`` from ``outputs`` = the first ``start`` stage
        outputs of ``x`` (see ``prefix``), as a search does while everything before that stage is fixed."""
        outputs = list(outputs) if outputs is not None else []
        if len(outputs) != start:
            raise ValueError(f"resuming at stage {start} needs {start} stage outputs, got {len(outputs)}")
        outputs = self._run(x, start, len(self.stages), outputs)
        return self.fc(torch.relu(outputs[-1]).mean((2, 3)))

    def prefix(self, x: Tensor, stop: int) -> list[Tensor]:
        """The outputs of stages ``0 … stop−1`` for input ``x``: what ``forward(x, start=stop, …)`` resumes from."""
        return self._run(x, 0, stop, [])

    def _run(self, x: Tensor, start: int, stop: int, outputs: list[Tensor]) -> list[Tensor]:
        for k in range(start, stop):
            stage = self.stages[k]
            h = stage.bn(stage.conv(x if k == 0 else torch.relu(outputs[-1])))
            if k in self.residual_into:
                skip = outputs[k - 2]
                h = h + (stage.projection(skip) if stage.projection is not None else skip)
            if k in self.pool_after:
                h = nn.functional.avg_pool2d(h, 2)
            outputs.append(h)
        return outputs

    def stage_of(self, name: str) -> int:
        """The stage a parameter (by its ``named_parameters`` name) belongs to; the head counts as the last+1."""
        parts = name.split(".")
        return int(parts[1]) if parts[0] == "stages" else len(self.stages)


def rso_cifar10_net(in_channels: int = 3, num_outputs: int = 10) -> ResidualChain:
    return ResidualChain(
        in_channels,
        [16, 16, 16, 32, 32, 32, 32, 32, 32],
        residual_into={2, 4, 6, 8},
        pool_after={2, 4},
        num_outputs=num_outputs,
    )


def count_weights(model: nn.Module) -> tuple[int, int]:
    """(conv and linear weights, BatchNorm parameters)."""
    weights = sum(m.weight.numel() for m in model.modules() if isinstance(m, nn.Conv2d | nn.Linear))
    bn = sum(m.weight.numel() + m.bias.numel() for m in model.modules() if isinstance(m, nn.BatchNorm2d))
    return weights, bn
