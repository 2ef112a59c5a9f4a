"""The network of the Monte Carlo training paper (Whitelam et al. 2022, arXiv 2205.07408).

Built as the authors' MNIST script builds it (github.com/reproducible-science/aMC, ``mnist_fc.py``, class
``amc_net`` and ``init_net``): each hidden layer is ``Linear(bias=False) → LayerNorm → tanh`` (the norm acts on
the pre-activations, so the hidden layers need no bias), the output layer is a plain ``Linear`` with a bias, and
every ``Linear`` weight is drawn from N(0, 1e-3²) (the same 1e-3 as σ₀); the output bias keeps PyTorch's default
init and LayerNorm starts at γ = 1, β = 0, as in that script. Their MNIST net is 784→64→64→64→64→10
(``hidden_dim = 64``, an input layer plus ``num_hidden_layers = 3``): 63,626 parameters.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from nograd._validation import Interval, Options, validate_params
from nograd.errors import ConfigError
from nograd.models.mlp import ACTIVATIONS

__all__ = ["mc_mlp"]


def mc_mlp(
    in_features: int,
    out_features: int,
    hidden: Sequence[int] = (64, 64, 64, 64),
    activation: str = "tanh",
    layernorm: bool = True,
    init_std: float | None = 1e-3,
) -> nn.Sequential:
    """``Flatten → [Linear → LayerNorm → act] × len(hidden) → Linear``.

    Args:
        in_features, out_features: inputs per example (images are flattened) and outputs.
        hidden: widths of the hidden layers (default: (64, 64, 64, 64), the paper's).
        activation: one of ``ACTIVATIONS`` (default: ``"tanh"``, the paper's).
        layernorm: LayerNorm on every hidden layer's pre-activations (default: True, the paper's); without it the
            hidden ``Linear`` layers get biases, as in the authors' script.
        init_std: std of the normal init of every ``Linear`` weight (default: 1e-3, the paper's); None keeps
            PyTorch's default init.
    """
    validate_params(
        "mc-mlp",
        {"activation": activation, "layernorm": layernorm, "init_std": init_std},
        {
            "activation": Options(tuple(ACTIVATIONS)),
            "layernorm": "boolean",
            "init_std": Interval(float, 0, None, closed="neither", allow_none=True),
        },
    )
    if isinstance(hidden, int) or not hidden or not all(isinstance(h, int) and h > 0 for h in hidden):
        raise ConfigError(f"The 'hidden' parameter of mc-mlp must be a list of positive ints. Got {hidden!r} instead.")
    layers: list[nn.Module] = [nn.Flatten()]
    widths = [in_features, *hidden]
    for a, b in zip(widths[:-1], widths[1:]):
        layers.append(nn.Linear(a, b, bias=not layernorm))
        if layernorm:
            layers.append(nn.LayerNorm(b))
        layers.append(ACTIVATIONS[activation]())
    layers.append(nn.Linear(widths[-1], out_features))
    model = nn.Sequential(*layers)
    if init_std is not None:
        for module in model.modules():
            if isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, std=init_std)
    return model
