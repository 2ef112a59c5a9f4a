"""The model zoo: ``nn.Module`` builders by name, each taking the task's input shape and output count."""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from typing import Any

from torch import nn

from nograd._validation import check_unknown_keys, unknown_name_error
from nograd.errors import ConfigError
from nograd.models.mc_mlp import mc_mlp
from nograd.models.mlp import ACTIVATIONS, MLP
from nograd.models.rso_nets import count_weights, rso_cifar10_net, rso_mnist_net
from nograd.supermask.nets import supermask_conv, supermask_fc

__all__ = [
    "count_weights",
    "rso_mnist_net",
    "rso_cifar10_net",
    "MLP",
    "mc_mlp",
    "ACTIVATIONS",
    "MODELS",
    "register_model",
    "build_model",
    "model_options",
]

ModelBuilder = Callable[..., nn.Module]
MODELS: dict[str, ModelBuilder] = {}


def register_model(name: str) -> Callable[[ModelBuilder], ModelBuilder]:
    def wrap(builder: ModelBuilder) -> ModelBuilder:
        MODELS[name] = builder
        return builder

    return wrap


@register_model("mlp")
def _mlp(input_shape: tuple[int, ...], num_outputs: int, hidden=(2, 2), activation="relu", bias=True) -> nn.Module:
    return MLP(
        math.prod(input_shape),
        num_outputs,
        hidden=tuple(hidden) if isinstance(hidden, list | tuple) else hidden,
        activation=activation,
        bias=bias,
    )


@register_model("mc-mlp")
def _mc_mlp(
    input_shape: tuple[int, ...],
    num_outputs: int,
    hidden=(64, 64, 64, 64),
    activation="tanh",
    layernorm=True,
    init_std=1e-3,
) -> nn.Module:
    """The Monte Carlo paper's MLP: 784→64→64→64→64→10, Linear → LayerNorm → tanh, weights N(0, 1e-3²)."""
    hidden = tuple(hidden) if isinstance(hidden, list | tuple) else hidden
    return mc_mlp(math.prod(input_shape), num_outputs, hidden, activation, layernorm, init_std)


@register_model("rso-mnist")
def _rso_mnist(input_shape: tuple[int, ...], num_outputs: int, channels=16) -> nn.Module:
    """The RSO paper's MNIST net: six 16-channel 3×3 convs with BatchNorm, 11,824 weights."""
    return rso_mnist_net(input_shape[0], num_outputs, channels)


@register_model("rso-cifar10")
def _rso_cifar10(input_shape: tuple[int, ...], num_outputs: int) -> nn.Module:
    """The RSO paper's CIFAR-10 net: nine convs with residual adds, 56,560 weights."""
    return rso_cifar10_net(input_shape[0], num_outputs)


@register_model("supermask-fc")
def _supermask_fc(
    input_shape: tuple[int, ...], num_outputs: int, init="signed_constant", k=0.5, rule="top_k"
) -> nn.Module:
    """FC 784-300-100-10 with frozen random weights and learnable masks (Ramanujan et al. 2020)."""
    return supermask_fc(input_shape, num_outputs, init=init, k=k, rule=rule)


def _supermask_conv_builder(depth: int) -> ModelBuilder:
    def build(input_shape: tuple[int, ...], num_outputs: int, init="signed_constant", k=0.5, rule="top_k") -> nn.Module:
        return supermask_conv(input_shape, num_outputs, depth, init=init, k=k, rule=rule)

    build.__doc__ = f"Conv{depth} then FC 256-256-10, frozen random weights and learnable masks."
    return build


for _depth in (2, 4, 6):
    register_model(f"supermask-conv{_depth}")(_supermask_conv_builder(_depth))


def model_options(name: str) -> dict[str, Any]:
    """The options of model ``name`` with their defaults."""
    if name not in MODELS:
        raise unknown_name_error("model", name, MODELS)
    sig = inspect.signature(MODELS[name])
    return {
        k: list(p.default) if isinstance(p.default, tuple) else p.default for k, p in list(sig.parameters.items())[2:]
    }


def build_model(name: str, input_shape: tuple[int, ...], num_outputs: int, **options: Any) -> nn.Module:
    check_unknown_keys(f"model '{name}'", options, model_options(name))
    try:
        return MODELS[name](tuple(input_shape), num_outputs, **options)
    except (TypeError, ValueError) as err:
        if isinstance(err, ConfigError):
            raise
        raise ConfigError(f"Bad option for model '{name}': {err}") from None
