"""Scoring many one-bit mask flips of a masked MLP at once, running only the part of the network a flip reaches.

For a chain ``Flatten → MaskedLinear → act → … → MaskedLinear`` (no biases), with the layer inputs a₀ … a_{L−1},
pre-activations z₁ … z_L and masked weights W̃ₗ of the current mask cached for one batch, flipping bit (l, j, i)
changes one pre-activation column by Δ = ±Wₗ[j, i] · a_{l−1}[:, i] (+ turning the weight on, − off). For the last
layer that is the output column j itself; otherwise unit j's activation moves by
δ = act(zₗ[:, j] + Δ) − act(zₗ[:, j]), the next layer's pre-activations by the rank-one update δ ⊗ W̃_{l+1}[:, j],
and only the layers after that run in full, for all candidates of the layer at once as batched matmuls. On
LeNet-300-100 a first-layer flip costs about 1/240 of a forward pass per example instead of all of it.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from nograd.supermask.layers import MaskedLinear

__all__ = ["FlipScorer"]

_ACTIVATIONS = (nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.Sigmoid, nn.Identity)
#: The most floats one batched pass of candidates may hold (chunks bound the memory).
_MAX_ELEMENTS = 1 << 22


class FlipScorer:
    """Losses of one-bit flips of a sign-rule masked MLP; ``None`` from ``build`` for any other model."""

    def __init__(self, layers: list[MaskedLinear], activations: list[nn.Module | None]):
        self.layers, self.activations = layers, activations
        self.numels = [layer.scores.numel() for layer in layers]
        self.offsets = torch.tensor([0, *self.numels]).cumsum(0)
        self._inputs: list[Tensor] = []
        self._pre: list[Tensor] = []
        self._weights: list[Tensor] = []
        self._masks: list[Tensor] = []

    @classmethod
    def build(cls, model: nn.Module) -> FlipScorer | None:
        if not isinstance(model, nn.Sequential):
            return None
        children = list(model.children())
        if children and isinstance(children[0], nn.Flatten) and children[0].start_dim == 1:
            children = children[1:]
        layers: list[MaskedLinear] = []
        activations: list[nn.Module | None] = []
        for module in children:
            if isinstance(module, MaskedLinear) and module.rule == "sign":
                layers.append(module)
                activations.append(None)
            elif isinstance(module, _ACTIVATIONS) and layers and activations[-1] is None:
                activations[-1] = module
            else:
                return None
        if not layers or activations[-1] is not None:
            return None
        return cls(layers, activations)

    def scores(self) -> list[Tensor]:
        return [layer.scores for layer in self.layers]

    @torch.no_grad()
    def prepare(self, x: Tensor) -> Tensor:
        """Run the current mask on ``x`` and cache what the flips need; returns the outputs."""
        a = x.flatten(1)
        self._inputs, self._pre, self._weights, self._masks = [], [], [], []
        for layer, act in zip(self.layers, self.activations):
            mask = layer.mask()
            w = layer.weight * mask
            z = a @ w.T
            self._inputs.append(a)
            self._pre.append(z)
            self._weights.append(w)
            self._masks.append(mask)
            a = act(z) if act is not None else z
        return a

    @torch.no_grad()
    def outputs(self, flat: Tensor) -> Tensor:
        """Outputs ``[P, N, out]`` with each of the flat bit indices ``flat`` (``[P]``) flipped, one at a time."""
        n = len(self._inputs[0])
        out = torch.empty(len(flat), n, self._pre[-1].shape[1], dtype=self._pre[-1].dtype, device=flat.device)
        which = torch.bucketize(flat, self.offsets[1:].to(flat.device), right=True)
        for l in range(len(self.layers)):  # noqa: E741 - the layer index of the docstring's notation
            rows = torch.nonzero(which == l).flatten()
            if len(rows) == 0:
                continue
            local = flat[rows] - int(self.offsets[l])
            width = self._pre[l].shape[1] if l == len(self.layers) - 1 else self._pre[l + 1].shape[1]
            chunk = max(1, _MAX_ELEMENTS // (n * max(width, 1)))
            for start in range(0, len(rows), chunk):
                part = slice(start, start + chunk)
                out[rows[part]] = self._flip_outputs(l, local[part])
        return out

    def _flip_outputs(self, l: int, local: Tensor) -> Tensor:  # noqa: E741
        layer = self.layers[l]
        j, i = local // layer.in_features, local % layer.in_features
        sign = 1 - 2 * self._masks[l][j, i]  # +1 turns a weight on, −1 turns it off
        delta = (sign * layer.weight[j, i]).unsqueeze(-1) * self._inputs[l][:, i].T  # [P, N]
        last = len(self.layers) - 1
        if l == last:
            out = self._pre[l].unsqueeze(0).repeat(len(local), 1, 1)
            out[torch.arange(len(local)), :, j] += delta
            return out
        act = self.activations[l]
        assert act is not None
        before = self._pre[l][:, j].T  # [P, N]
        moved = act(before + delta) - act(before)
        z = self._pre[l + 1].unsqueeze(0) + moved.unsqueeze(-1) * self._weights[l + 1][:, j].T.unsqueeze(1)
        for m in range(l + 1, last):  # hidden layers after the mixer run in full
            act_m = self.activations[m]
            assert act_m is not None
            a = act_m(z)
            # One GEMM over all candidates' rows: a broadcast matmul would run P small, copied ones.
            z = (a.reshape(-1, a.shape[-1]) @ self._weights[m + 1].T).view(*a.shape[:-1], -1)
        return z
