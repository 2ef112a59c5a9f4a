"""A fast path for populations of plain MLPs: the whole population's forward pass as a few large matmuls.

``vmap`` pays a fixed dispatch cost per operation that dominates small networks (the addition demo's net is 15
weights). For an ``nn.Sequential`` of Flatten, Linear and elementwise activations the batched forward is short
enough to write out: the first layer, whose input every candidate shares, is one GEMM over all candidates'
weights stacked (``x @ [W_1; …; W_P]^T``); later layers are batched matmuls; a LayerNorm after a Linear (the Monte
Carlo paper's MLP) normalises each example over the features with each candidate's own γ and β. Any other model
uses ``vmap``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.nn import functional as F

__all__ = ["batched_sequential_forward"]

#: Below this many inputs a layer is cheaper as a few broadcast multiply-adds than as P tiny GEMMs.
_BROADCAST_MAX_IN = 4

_ELEMENTWISE = (nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.Sigmoid, nn.GELU, nn.Identity, nn.ELU, nn.SiLU, nn.Softplus)

BatchedForward = Callable[[dict[str, Tensor], Tensor], Tensor]


def batched_sequential_forward(model: nn.Module) -> BatchedForward | None:
    """``f(params, x) -> outputs [P, N, out]`` (a strided view) for ``params`` with a leading population dim,
    or None if the model is not a plain MLP (then the caller falls back to ``vmap``)."""
    if not isinstance(model, nn.Sequential) or any(True for _ in model.buffers()):
        return None
    steps: list[tuple[str, nn.Module]] = []
    for name, module in model.named_children():
        if isinstance(module, nn.Linear | nn.Flatten) or isinstance(module, _ELEMENTWISE):
            steps.append((name, module))
        elif isinstance(module, nn.LayerNorm) and len(module.normalized_shape) == 1:
            if not any(isinstance(m, nn.Linear) for _, m in steps):
                return None  # a norm of the shared input with per-candidate γ, β: leave it to vmap
            steps.append((name, module))
        else:
            return None
    if isinstance(steps[0][1], nn.Flatten) and steps[0][1].start_dim != 1:
        return None
    if any(isinstance(m, nn.LayerNorm) for _, m in steps):
        return _rows_forward(steps)

    def forward(params: dict[str, Tensor], x: Tensor) -> Tensor:
        population = next(iter(params.values())).shape[0]
        # Hidden states are kept as [P, features, N]: every matmul then reads contiguous memory.
        h: Tensor | None = None
        for name, module in steps:
            if isinstance(module, nn.Flatten):
                if h is None:
                    x = x.flatten(1)
            elif isinstance(module, nn.Linear):
                weight, bias = params[f"{name}.weight"], params.get(f"{name}.bias")
                if h is None:  # shared input: one GEMM over every candidate's stacked weights
                    stacked = weight.reshape(population * module.out_features, module.in_features)
                    h = (stacked @ x.T).view(population, module.out_features, len(x))
                    if bias is not None:
                        h = h + bias.unsqueeze(-1)
                else:
                    h = _layer(h, weight, bias)
            elif h is None:
                x = module(x)  # an activation before any Linear acts on the shared input
            else:
                h = module(h)
        if h is None:
            return x.unsqueeze(0).expand(population, *x.shape)
        return h.transpose(1, 2)

    return forward


def _layer(h: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """``[P, in, N] -> [P, out, N]`` with each candidate's own ``weight [P, out, in]``."""
    if weight.shape[-1] <= _BROADCAST_MAX_IN:
        out = weight[:, :, :1] * h[:, :1, :]
        for j in range(1, weight.shape[-1]):
            out = out + weight[:, :, j : j + 1] * h[:, j : j + 1, :]
        return out if bias is None else out + bias.unsqueeze(-1)
    if bias is None:
        return torch.bmm(weight, h)
    return torch.baddbmm(bias.unsqueeze(-1), weight, h)


def _rows_forward(steps: list[tuple[str, nn.Module]]) -> BatchedForward:
    """The batched forward for chains with LayerNorm, hidden states kept as ``[P, N, features]``.

    Normalising over the features then reads contiguous rows (PyTorch's fused ``layer_norm``, without its affine
    part, which is per candidate here). On the Monte Carlo MLP, two candidates at batch 5000, this layout took
    about two thirds of the time of ``[P, features, N]`` with the reduction across rows (one interleaved
    measurement on a busy 2-core machine, so a rough figure).
    """

    def forward(params: dict[str, Tensor], x: Tensor) -> Tensor:
        population = next(iter(params.values())).shape[0]
        h: Tensor | None = None
        for name, module in steps:
            if isinstance(module, nn.Flatten):
                if h is None:
                    x = x.flatten(1)
            elif isinstance(module, nn.Linear):
                weight, bias = params[f"{name}.weight"], params.get(f"{name}.bias")
                if h is None:  # shared input: one GEMM over every candidate's stacked weights
                    stacked = weight.reshape(population * module.out_features, module.in_features)
                    h = (x @ stacked.T).view(len(x), population, module.out_features).transpose(0, 1)
                    if bias is not None:
                        h = h + bias.unsqueeze(1)
                elif bias is None:
                    h = torch.bmm(h, weight.transpose(1, 2))
                else:
                    h = torch.baddbmm(bias.unsqueeze(1), h, weight.transpose(1, 2))
            elif isinstance(module, nn.LayerNorm):
                h = F.layer_norm(h, module.normalized_shape, eps=module.eps)
                weight, bias = params.get(f"{name}.weight"), params.get(f"{name}.bias")
                if weight is not None and bias is not None:
                    h = torch.addcmul(bias.unsqueeze(1), h, weight.unsqueeze(1))  # one pass instead of two
                elif weight is not None:
                    h = h * weight.unsqueeze(1)
                elif bias is not None:
                    h = h + bias.unsqueeze(1)
            elif h is None:
                x = module(x)
            elif isinstance(module, nn.Tanh):
                h = h.tanh_()  # h is this forward's own buffer here: no copy
            else:
                h = module(h)
        if h is None:
            return x.unsqueeze(0).expand(population, *x.shape)
        return h

    return forward
