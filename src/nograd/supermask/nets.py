"""The networks of the supermask papers, built from masked layers.

From Frankle & Carbin's lottery-ticket paper, as Ramanujan et al. (2020) use them (the authors'
``models/frankle.py``): no biases, no BatchNorm (their builder never adds one to these nets), ReLU after every layer
but the last.

- ``fc``: 784-300-100-10.
- ``conv2``/``conv4``/``conv6``: 3×3 convs (padding 1) 64-64-pool[-128-128-pool[-256-256-pool]], each pool a 2×2
  max-pool, then fully connected 256-256-10. The authors' nets are for 32×32 CIFAR-10 (the first FC layer reads
  64·16·16, 128·8·8 or 256·4·4 features); here the first FC layer reads whatever the task's images give
  (Fashion-MNIST 28×28: 64·14·14, 128·7·7, 256·3·3).

Every builder returns an ``nn.Sequential``, which the gradient-free mask search's fast scorer needs for the FC net.
"""

from __future__ import annotations

import math

from torch import nn

from nograd.errors import ConfigError
from nograd.supermask.layers import MaskedConv2d, MaskedLinear

__all__ = ["CONV_STAGES", "supermask_fc", "supermask_conv"]

#: Conv2, Conv4, Conv6: channels per stage; every stage is two 3×3 convs and a 2×2 max-pool.
CONV_STAGES = {2: (64,), 4: (64, 128), 6: (64, 128, 256)}


def supermask_fc(input_shape: tuple[int, ...], num_outputs: int, hidden=(300, 100), **options) -> nn.Sequential:
    """FC ``in-300-100-out`` (LeNet-300-100), every layer masked; ``options`` go to the masked layers."""
    widths = [math.prod(input_shape), *hidden]
    layers: list[nn.Module] = [nn.Flatten()]
    for a, b in zip(widths[:-1], widths[1:]):
        layers += [MaskedLinear(a, b, **options), nn.ReLU()]
    layers.append(MaskedLinear(widths[-1], num_outputs, **options))
    return nn.Sequential(*layers)


def supermask_conv(input_shape: tuple[int, ...], num_outputs: int, depth: int, **options) -> nn.Sequential:
    """Conv2/Conv4/Conv6 (``depth`` convs) then FC 256-256-out, every layer masked."""
    if depth not in CONV_STAGES:
        raise ConfigError(f"The 'depth' of a supermask conv net must be one of 2, 4, 6. Got {depth!r} instead.")
    if len(input_shape) != 3:
        raise ConfigError(f"Conv{depth} needs image inputs (channels, height, width). Got shape {input_shape}.")
    channels, height, width = input_shape
    layers: list[nn.Module] = []
    for out in CONV_STAGES[depth]:
        layers += [MaskedConv2d(channels, out, **options), nn.ReLU(), MaskedConv2d(out, out, **options), nn.ReLU()]
        layers.append(nn.MaxPool2d(2))
        channels, height, width = out, height // 2, width // 2
    if height == 0 or width == 0:
        raise ConfigError(f"Conv{depth} pools the input {depth // 2} times; {input_shape} is too small.")
    layers.append(nn.Flatten())
    widths = [channels * height * width, 256, 256]
    for a, b in zip(widths[:-1], widths[1:]):
        layers += [MaskedLinear(a, b, **options), nn.ReLU()]
    layers.append(MaskedLinear(widths[-1], num_outputs, **options))
    return nn.Sequential(*layers)
