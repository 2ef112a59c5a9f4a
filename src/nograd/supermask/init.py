"""The frozen random weights of a supermask and the initial scores, as Ramanujan et al. (2020) draw them.

"What's Hidden in a Randomly Weighted Neural Network?" (Ramanujan, Wortsman, Kembhavi, Farhadi, Rastegari, CVPR
2020, arXiv 1911.13299); the authors' code is github.com/allenai/hidden-networks (``utils/builder.py``,
``utils/conv_type.py``). Both weight inits use ``mode="fan_in"`` and ``nonlinearity="relu"`` (their ``args.py``
defaults), so the gain is √2:

- ``kaiming_normal``: w ~ N(0, gain²/fan_in)  (``nn.init.kaiming_normal_``).
- ``signed_constant``: w = ±gain/√fan_in with a fair random sign (the authors take the sign of PyTorch's default,
  symmetric, layer init). Their ``--scale-fan`` option is off in every small-scale config and is not offered here.

Scores start as PyTorch's default layer init, ``kaiming_uniform_(a=√5)``: U(−1/√fan_in, 1/√fan_in).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from nograd._validation import Options, validate_params

__all__ = ["INITS", "init_weight", "init_scores", "fan_in"]

INITS = ("signed_constant", "kaiming_normal")
GAIN = nn.init.calculate_gain("relu")  # √2


def fan_in(shape: torch.Size | tuple[int, ...]) -> int:
    """Inputs per output unit: ``in`` for a linear weight, ``in · kh · kw`` for a conv weight."""
    return int(math.prod(shape[1:]))


def init_weight(shape: tuple[int, ...], init: str) -> Tensor:
    """A frozen weight tensor of ``shape`` drawn from torch's global generator (seed it first)."""
    validate_params("init_weight", {"init": init}, {"init": Options(INITS)})
    std = GAIN / math.sqrt(fan_in(shape))
    if init == "signed_constant":
        return torch.empty(shape).uniform_(-1, 1).sign() * std
    return torch.empty(shape).normal_(0, std)


def init_scores(shape: tuple[int, ...]) -> Tensor:
    """Initial scores: ``kaiming_uniform_(a=√5)``, i.e. U(−1/√fan_in, 1/√fan_in), as the authors' SubnetConv."""
    scores = torch.empty(shape)
    nn.init.kaiming_uniform_(scores, a=math.sqrt(5))
    return scores
