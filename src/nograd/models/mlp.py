"""Multi-layer perceptrons, the model of the addition demo and of most small gradient-free experiments."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from nograd._validation import Options, validate_params
from nograd.errors import ConfigError

__all__ = ["MLP", "ACTIVATIONS"]

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "gelu": nn.GELU,
    "leaky_relu": nn.LeakyReLU,
    "identity": nn.Identity,
}


class MLP(nn.Sequential):
    """``in → hidden[0] → … → hidden[-1] → out``, an activation after every hidden layer, a linear output.

    Args:
        in_features: inputs per example (images are flattened first).
        hidden: widths of the hidden layers (default: (2, 2), the addition demo's 2 neurons per layer).
        out_features: outputs per example.
        activation: one of ``ACTIVATIONS`` (default: ``"relu"``).
        bias: whether layers have biases (default: True).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        hidden: Sequence[int] = (2, 2),
        activation: str = "relu",
        bias: bool = True,
    ):
        validate_params("MLP", {"activation": activation}, {"activation": Options(tuple(ACTIVATIONS))})
        if isinstance(hidden, int) or not all(isinstance(h, int) and h > 0 for h in hidden):
            raise ConfigError(f"The 'hidden' parameter of MLP must be a list of positive ints. Got {hidden!r} instead.")
        widths = [in_features, *hidden]
        layers: list[nn.Module] = [nn.Flatten()]
        for a, b in zip(widths[:-1], widths[1:]):
            layers += [nn.Linear(a, b, bias=bias), ACTIVATIONS[activation]()]
        layers.append(nn.Linear(widths[-1], out_features, bias=bias))
        super().__init__(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x)
