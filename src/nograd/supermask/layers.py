"""Masked layers: frozen random weights (buffers, never written) and one learnable score per weight.

The forward pass uses ``weight * mask(scores)``. Two mask rules:

- ``top_k`` (edge-popup, Ramanujan et al. 2020): keep the weights whose |score| is among the top ``k`` fraction of
  their layer. As the authors' ``GetSubnet``: sort |scores|, zero the lowest ``int((1 − k)·n)``, keep the rest, and
  pass the gradient straight through to the scores on the backward pass (through ``abs``, as their
  ``clamped_scores`` does).
- ``sign``: keep the weights whose score is positive; the kept fraction is free. This is the rule the gradient-free
  mask search flips bits of (negating a score flips its bit). At init a random ``k`` fraction of the scores is made
  positive, so the search starts from a random mask that keeps about ``k`` of the weights.

Weights are registered as buffers, so ``parameters()`` holds only the scores: an optimizer over
``model.parameters()`` can never change a weight, and the weights still travel in ``state_dict()``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from nograd._validation import Interval, Options, validate_params
from nograd.supermask.init import INITS, init_scores, init_weight

__all__ = ["RULES", "MaskedLayer", "MaskedLinear", "MaskedConv2d", "top_k_mask", "TopKStraightThrough"]

RULES = ("top_k", "sign")


def top_k_mask(magnitudes: Tensor, k: float) -> Tensor:
    """A 0/1 tensor keeping the ``n − int((1 − k)·n)`` largest entries, the count the authors' ``GetSubnet`` keeps
    (it sorts and zeroes the lowest ``int((1 − k)·n)``; ``topk`` is 15× faster than a full sort on the CPU)."""
    flat = magnitudes.flatten()
    n = flat.numel()
    n_keep = n - int((1 - k) * n)
    if n_keep == n:
        return torch.ones_like(magnitudes)
    mask = torch.zeros_like(flat)
    mask[torch.topk(flat, n_keep, sorted=False).indices] = 1
    return mask.view_as(magnitudes)


class TopKStraightThrough(torch.autograd.Function):
    """Forward: the top-k mask of ``magnitudes``; backward: the gradient unchanged (straight-through)."""

    @staticmethod
    def forward(ctx, magnitudes: Tensor, k: float) -> Tensor:
        return top_k_mask(magnitudes, k)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:
        return grad, None


class MaskedLayer(nn.Module):
    """Shared by MaskedLinear and MaskedConv2d: the frozen weight, the scores, the mask rule.

    Args:
        shape: the weight's shape.
        init: ``"signed_constant"`` or ``"kaiming_normal"`` (default: ``"signed_constant"``).
        k: the kept fraction in (0, 1]: exact under ``top_k``, the initial one under ``sign`` (default: 0.5).
        rule: ``"top_k"`` or ``"sign"`` (default: ``"top_k"``).
    """

    _constraints = {
        "init": Options(INITS),
        "k": Interval(float, 0, 1, closed="right"),
        "rule": Options(RULES),
    }

    weight: Tensor

    def __init__(self, shape: tuple[int, ...], init: str = "signed_constant", k: float = 0.5, rule: str = "top_k"):
        super().__init__()
        validate_params(type(self).__name__, {"init": init, "k": k, "rule": rule}, self._constraints)
        self.init, self.k, self.rule = init, float(k), rule
        self.register_buffer("weight", init_weight(shape, init))
        scores = init_scores(shape)
        if rule == "sign":
            keep = torch.rand(shape) < k
            scores = torch.where(keep, scores.abs(), -scores.abs())
        self.scores = nn.Parameter(scores)
        self._cache: tuple[tuple[int, int, torch.device], Tensor] | None = None

    def mask(self) -> Tensor:
        """The 0/1 mask now in use (no gradient)."""
        with torch.no_grad():
            s = self.scores.detach()
            if not isinstance(self.scores, nn.Parameter):  # candidates swapped in by torch.func: no cache
                return top_k_mask(s.abs(), self.k) if self.rule == "top_k" else (s > 0).to(s.dtype)
            key = (self.scores._version, self.scores.data_ptr(), self.scores.device)
            if self._cache is None or self._cache[0] != key:
                mask = top_k_mask(s.abs(), self.k) if self.rule == "top_k" else (s > 0).to(s.dtype)
                self._cache = (key, mask.contiguous(memory_format=_layout(self.weight)))
            return self._cache[1]

    def masked_weight(self) -> Tensor:
        """``weight * mask``; with the straight-through gradient to the scores when they require one."""
        if torch.is_grad_enabled() and self.scores.requires_grad:
            if self.rule == "top_k":
                mask = TopKStraightThrough.apply(self.scores.abs(), self.k)
            else:  # straight-through for the sign rule too: d mask / d score taken as 1
                hard = (self.scores > 0).to(self.scores.dtype)
                mask = hard + self.scores - self.scores.detach()
            return self.weight * mask
        return self.weight * self.mask()

    def kept(self) -> int:
        return int(self.mask().sum())

    def extra_repr(self) -> str:
        return f"init={self.init}, k={self.k}, rule={self.rule}"


def _layout(t: Tensor) -> torch.memory_format:
    if t.dim() == 4 and t.is_contiguous(memory_format=torch.channels_last) and not t.is_contiguous():
        return torch.channels_last
    return torch.contiguous_format


class MaskedLinear(MaskedLayer):
    """A bias-free linear layer (the authors' nets have no biases) over a frozen random weight ``[out, in]``."""

    def __init__(self, in_features: int, out_features: int, **options):
        super().__init__((out_features, in_features), **options)
        self.in_features, self.out_features = in_features, out_features

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.masked_weight())

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, {super().extra_repr()}"


class MaskedConv2d(MaskedLayer):
    """A bias-free 2-D convolution over a frozen random weight ``[out, in, kh, kw]``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, padding: int = 1, **options):
        super().__init__((out_channels, in_channels, kernel_size, kernel_size), **options)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.padding = kernel_size, padding

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.masked_weight(), None, 1, self.padding)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, padding={self.padding}, "
            f"{super().extra_repr()}"
        )
