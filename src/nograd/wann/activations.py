"""The WANN activation table: ids 1..11, as in the reference's ``applyAct``.

Reference: google/brain-tokyo-workshop, ``WANNRelease/WANN/wann_src/ind.py`` (``applyAct``) and
``WANNRelease/WANN/domain/config.py`` (which ids each task may use for hidden nodes). Control tasks draw hidden
activations from 1..10, MNIST-256 from 1 and 3..10 (no step); inputs carry no activation and outputs stay linear.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

import torch
from torch import Tensor

__all__ = [
    "ACTIVATION_NAMES",
    "CONTROL_ACTIVATIONS",
    "CLASSIFY_ACTIVATIONS",
    "LINEAR",
    "activation",
    "activation_",
    "scalar_activation",
    "activation_ops",
    "ACTIVATION_ORDER",
    "PREMULTIPLY",
]

LINEAR = 1

ACTIVATION_NAMES: dict[int, str] = {
    1: "linear",
    2: "step",
    3: "sin",
    4: "gaussian",
    5: "tanh",
    6: "sigmoid",
    7: "inverse",
    8: "abs",
    9: "relu",
    10: "cos",
    11: "square",
}

#: Hidden activations of the control tasks (swing-up, biped): reference ``h_act=[1,...,10]``.
CONTROL_ACTIVATIONS: tuple[int, ...] = tuple(range(1, 11))
#: Hidden activations of the classification tasks: reference ``h_act=[1,3,...,10]`` ("No step function").
CLASSIFY_ACTIVATIONS: tuple[int, ...] = (1, 3, 4, 5, 6, 7, 8, 9, 10)


def activation_(act: int, x: Tensor) -> Tensor:
    """Apply activation ``act`` to ``x`` in place and return ``x``.

    Written for few kernel launches. The packed evaluator replays ``activation_ops`` instead: the same ops, bound
    once, with the constant factors of sin, cos and -x folded into its multiply by the weights.
    """
    if act == 1:  # linear
        return x
    if act == 2:  # step: 1 where x > 0 (0 for NaN, as the reference's 1.0 * (x > 0))
        return x.gt_(0)
    if act == 3:  # sin(pi x)
        return x.mul_(math.pi).sin_()
    if act == 4:  # exp(-x^2 / 2)
        return x.square_().mul_(-0.5).exp_()
    if act == 5:  # tanh
        return x.tanh_()
    if act == 6:  # (tanh(x/2) + 1) / 2, the reference's formula of the logistic sigmoid (see ``activation_ops``)
        return x.mul_(0.5).tanh_().add_(1.0).mul_(0.5)
    if act == 7:  # -x
        return x.neg_()
    if act == 8:  # |x|
        return x.abs_()
    if act == 9:  # relu
        return x.relu_()
    if act == 10:  # cos(pi x)
        return x.mul_(math.pi).cos_()
    if act == 11:  # x^2
        return x.square_()
    raise ValueError(f"Unknown WANN activation id {act}. Valid ids: 1..11.")


#: The order of activations within a layer of the packed evaluator: the two that cost nothing (linear, -x) first;
#: tanh just before the sigmoid, so the two groups can share one tanh op.
ACTIVATION_ORDER: dict[int, int] = {a: k for k, a in enumerate((1, 7, 3, 10, 4, 5, 6, 8, 9, 2, 11))}

#: What the packed evaluator multiplies a node's input by before ``activation_ops`` (it folds this into the one
#: multiply by the shared weight it does anyway): -x, the pi of sin(pi x) and cos(pi x) and the x/2 of the sigmoid
#: then cost no op.
PREMULTIPLY: dict[int, float] = {3: math.pi, 6: 0.5, 7: -1.0, 10: math.pi}


def activation_ops(act: int, x: Tensor, tanh_done: bool = False) -> list[Callable[[], Tensor]]:
    """Bound in-place ops that turn ``PREMULTIPLY.get(act, 1) * u``, held in ``x``, into ``activation(act, u)``,
    so a caller can replay them with no dispatch. They round as ``activation_`` does: scaling by -1 or 0.5 is exact,
    and so is the -0.5 of the gaussian wherever it is applied, and 0.5 + 0.5 t rounds as (t + 1) * 0.5 (halving
    is exact); Python scalars are given as 0-dim tensors (cheaper).

    Every op gives a value the same bits wherever it sits in ``x`` (torch's vectorised loops and their scalar
    tails agree for these ops), so a packed population's results do not depend on how it is split into batches.
    That is why the sigmoid is (tanh(x/2) + 1) / 2, the reference's own formula, and not ``sigmoid_``: torch's
    vectorised sigmoid and its scalar tail round differently. The sigmoid's first op is ``tanh_``, as the tanh's
    (its x holds u/2): a caller may apply one ``tanh_`` to both groups and pass ``tanh_done`` to get the rest."""
    zero = x.new_zeros(())
    if act in (1, 7):
        return []
    if act == 3:
        return [x.sin_]
    if act == 10:
        return [x.cos_]
    if act == 4:  # exp(0 + -0.5 x x): one op fewer than square, scale, exp
        return [partial(torch.addcmul, zero, x, x, value=-0.5, out=x), x.exp_]
    if act == 6:  # x holds u/2: tanh(u/2), then 0.5 + 0.5 tanh(u/2) in one op
        affine = partial(torch.add, x.new_full((), 0.5), x, alpha=0.5, out=x)
        return [affine] if tanh_done else [x.tanh_, affine]
    simple = {2: partial(x.gt_, zero), 5: x.tanh_, 8: x.abs_, 9: x.relu_, 11: x.square_}
    if act in simple:
        return [simple[act]]
    raise ValueError(f"Unknown WANN activation id {act}. Valid ids: 1..11.")


def activation(act: int, x: Tensor) -> Tensor:
    """Out-of-place version of ``activation_``."""
    return activation_(act, x.clone())


_SCALAR: dict[int, Callable[[float], float]] = {
    1: lambda x: x,
    2: lambda x: 1.0 if x > 0.0 else 0.0,
    3: lambda x: math.sin(math.pi * x),
    4: lambda x: math.exp(-(x * x) * 0.5),
    5: math.tanh,
    6: lambda x: (math.tanh(x * 0.5) + 1.0) * 0.5,
    7: lambda x: -x,
    8: abs,
    9: lambda x: max(0.0, x) if x == x else x,
    10: lambda x: math.cos(math.pi * x),
    11: lambda x: x * x,
}


def scalar_activation(act: int, x: float) -> float:
    """Activation ``act`` of one Python float: the plain evaluator's version, written independently."""
    try:
        fn = _SCALAR[act]
    except KeyError:
        raise ValueError(f"Unknown WANN activation id {act}. Valid ids: 1..11.") from None
    try:
        return float(fn(x))
    except ValueError:  # math.sin / math.cos of an infinity
        return math.nan
