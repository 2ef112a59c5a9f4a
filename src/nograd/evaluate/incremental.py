"""Scoring one weight at several values by running only the part of the network that weight reaches.

RSO tries w, w+Δ, w−Δ for one weight at a time. In a chain of layers, everything before the weight's layer is
fixed while that layer is searched, so the layer's input is computed once per minibatch and cached. A conv weight
(c, i, kh, kw) changes only output channel c, by Δ times one shifted input plane; channel-wise layers after it
(BatchNorm, activations, pooling) keep the change in channel c; the next conv or linear layer (the "mixer") sees a
change in one input channel, so its output moves by a one-input-channel convolution. Only the layers after the
mixer run in full, for all candidates at once. Caches follow the weights: before a minibatch is scored again,
the channels whose weights changed since it was last seen are recomputed from the cached input.

Supported: an ``nn.Sequential`` of Conv2d (groups 1, zero padding), Linear, BatchNorm1d/2d, elementwise
activations, AvgPool2d, MaxPool2d, AdaptiveAvgPool2d and Flatten; searched tensors are conv/linear weights and
BatchNorm γ/β. Anything else goes through the plain full-network path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn
from torch.nn import functional as F

__all__ = ["ChainPlan", "StagePrefixes"]

_ELEMENTWISE = (nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.Sigmoid, nn.GELU, nn.Identity, nn.ELU, nn.SiLU)
_CHANNELWISE = (nn.BatchNorm1d, nn.BatchNorm2d, nn.AvgPool2d, nn.MaxPool2d, nn.AdaptiveAvgPool2d, nn.Flatten)
_MIXERS = (nn.Conv2d, nn.Linear)
_BN = (nn.BatchNorm1d, nn.BatchNorm2d)


def _supported(module: nn.Module) -> bool:
    if isinstance(module, nn.Conv2d):
        return module.groups == 1 and module.padding_mode == "zeros" and isinstance(module.padding, tuple)
    return isinstance(module, _MIXERS + _ELEMENTWISE + _CHANNELWISE)


@dataclass
class _BatchCache:
    x: Tensor  # input of the searched layer
    z: Tensor  # its output, all channels (for BatchNorm: its normalised input, before γ and β)
    h: Tensor  # output of the channel-wise layers after it: the mixer's input (before any Flatten)
    y: Tensor | None  # the mixer's output, or None when nothing mixes after the searched layer
    version: list[Tensor] = field(default_factory=list)  # the searched layer's parameters the caches reflect


class ChainPlan:
    """The incremental scorer for one ``nn.Sequential``; ``None`` from ``build`` if the model is not a chain."""

    def __init__(self, model: nn.Sequential):
        self.modules = list(model.children())
        self.owner: dict[int, tuple[int, str]] = {}
        for j, module in enumerate(self.modules):
            if isinstance(module, _MIXERS) and getattr(module, "bias", None) is None:
                self.owner[id(module.weight)] = (j, "weight")
            elif isinstance(module, _BN) and module.affine:
                self.owner[id(module.weight)] = (j, "gamma")
                self.owner[id(module.bias)] = (j, "beta")
        self._layer: int | None = None
        self._mixer: int | None = None
        self._caches: dict[object, _BatchCache] = {}

    @classmethod
    def build(cls, model: nn.Module) -> ChainPlan | None:
        if not isinstance(model, nn.Sequential) or not all(_supported(m) for m in model.children()):
            return None
        return cls(model)

    def handles(self, param: Tensor) -> bool:
        return id(param) in self.owner

    # -- scoring -----------------------------------------------------------------------------------------
    def losses(
        self, task, inputs: Callable[[], Tensor], y: Tensor, key: object, param: Tensor, index, values: Tensor
    ) -> Tensor:
        """Loss for each of ``values`` at ``param[index]`` on the batch ``key`` (targets ``y``; ``inputs`` gives its
        inputs, read only when that batch's caches are built); the model is in batch-statistics mode."""
        j, role = self.owner[id(param)]
        if self._layer != j:
            self._layer, self._caches = j, {}
            self._mixer = self._next_mixer(j)
        mixer = self._mixer
        cache = self._caches.get(key)
        if cache is None:
            cache = self._caches[key] = self._build(inputs(), j)
        self._sync(cache, j)
        channel = index[0]
        z = self._candidate_outputs(cache, j, role, channel, index, values)  # [P, N, ...] of the one channel
        h = self._channel_ops(z, j, mixer, channel)  # [P, N, ...]
        if mixer is None:  # the searched layer's output is the network's output
            out = cache.h.unsqueeze(0).repeat(len(values), *([1] * cache.h.dim()))
            out[:, :, channel] = h
            return task.population_loss(out, y)
        # One candidate at a time through the rest: PyTorch's own layers on ordinary [N, ...] batches
        # (BatchNorm statistics per candidate, fused kernels, the model's memory format).
        assert cache.y is not None
        outputs = []
        for hp in h:
            out = self._mix(hp - cache.h[:, channel], mixer, channel).add_(cache.y)  # fresh: safe in place
            for module in self.modules[mixer + 1 :]:
                # ReLU in place on the tail's own temporaries: no new buffer per candidate and layer
                out = torch.relu_(out) if type(module) is nn.ReLU else module(out)
            outputs.append(out)
        return task.population_loss(torch.stack(outputs), y)

    def _next_mixer(self, j: int) -> int | None:
        for k in range(j + 1, len(self.modules)):
            if isinstance(self.modules[k], _MIXERS):
                return k
        return None

    def _build(self, x: Tensor, j: int) -> _BatchCache:
        for module in self.modules[:j]:
            x = module(x)
        return _BatchCache(x, *self._from_input(x, j), self._params(j))

    def _from_input(self, x: Tensor, j: int) -> tuple[Tensor, Tensor, Tensor | None]:
        """``z``, ``h`` and ``y`` of the caches, computed in full from the searched layer's input ``x``."""
        mixer = self._mixer
        layer = self.modules[j]
        if isinstance(layer, _BN):
            z = _normalise(x, (0, *range(2, x.dim())), layer.eps)
            h = z * _per_channel(layer.weight, z) + _per_channel(layer.bias, z)
        else:
            z = h = layer(x)
        for module in self.modules[j + 1 : mixer if mixer is not None else len(self.modules)]:
            if isinstance(module, nn.Flatten):
                continue  # kept per channel; the mixer reads the channel's block of features
            h = module(h)
        y = self.modules[mixer](h.flatten(1) if self._flattens(j, mixer) else h) if mixer is not None else None
        return z, h, y

    def _params(self, j: int) -> list[Tensor]:
        module = self.modules[j]
        if isinstance(module, _BN):
            return [module.weight.detach().clone(), module.bias.detach().clone()]
        return [module.weight.detach().clone()]

    def _flattens(self, j: int, mixer: int | None) -> bool:
        end = mixer if mixer is not None else len(self.modules)
        return any(isinstance(m, nn.Flatten) for m in self.modules[j + 1 : end])

    def _sync(self, cache: _BatchCache, j: int) -> None:
        """Bring the caches up to the searched layer's current weights, channel by channel."""
        mixer = self._mixer
        current = self._params(j)
        changed: set[int] = set()
        for now, seen in zip(current, cache.version):
            diff = (now != seen).reshape(now.shape[0], -1).any(1)
            changed.update(int(c) for c in torch.nonzero(diff).flatten())
        layer = self.modules[j]
        if len(changed) > max(1, len(current[0]) // 4):
            # Many channels moved since this batch was last seen (a layer with few weights per channel):
            # one full pass from the cached input costs less than that many one-channel updates.
            cache.z, cache.h, cache.y = self._from_input(cache.x, j)
            cache.version = current
            return
        for channel in sorted(changed):
            if isinstance(layer, nn.Conv2d):
                w = layer.weight[channel : channel + 1]
                cache.z[:, channel] = F.conv2d(cache.x, w, None, layer.stride, layer.padding, layer.dilation)[:, 0]
            elif isinstance(layer, nn.Linear):
                cache.z[:, channel] = cache.x @ layer.weight[channel]
            z = self._candidate_outputs(cache, j, None, channel, None, None)
            h = self._channel_ops(z, j, mixer, channel)[0]
            if mixer is not None:
                assert cache.y is not None
                cache.y += self._mix(h - cache.h[:, channel], mixer, channel)
            cache.h[:, channel] = h
        cache.version = current

    def _candidate_outputs(self, cache: _BatchCache, j: int, role, channel: int, index, values) -> Tensor:
        """Output channel ``channel`` of layer j: ``[P, N, ...]`` for each value, or ``[1, N, ...]`` as it is."""
        module = self.modules[j]
        base = cache.z[:, channel]
        if isinstance(module, _BN):  # γ·x̂ + β for the channel's normalised input x̂
            gamma, beta = module.weight[channel], module.bias[channel]
            if values is None:
                return (base * gamma + beta).unsqueeze(0)
            shape = (-1,) + (1,) * base.dim()
            if role == "gamma":
                return values.view(shape) * base.unsqueeze(0) + beta
            return base.unsqueeze(0) * gamma + values.view(shape)
        if values is None:
            return base.unsqueeze(0)
        delta = values - module.weight[index]
        if isinstance(module, nn.Conv2d):
            _, i, kh, kw = index
            tap = self._tap(cache.x[:, i], module, kh, kw)
            return base.unsqueeze(0) + delta.view(-1, 1, 1, 1) * tap.unsqueeze(0)
        return base.unsqueeze(0) + delta.view(-1, 1) * cache.x[:, index[1]].unsqueeze(0)

    @staticmethod
    def _tap(plane: Tensor, conv: nn.Conv2d, kh: int, kw: int) -> Tensor:
        """The input plane as weight (·, ·, kh, kw) of ``conv`` sees it: padded, shifted, strided."""
        ph, pw = conv.padding
        sh, sw = conv.stride
        dh, dw = conv.dilation
        padded = F.pad(plane, (pw, pw, ph, ph))
        h_out = (plane.shape[-2] + 2 * ph - dh * (conv.kernel_size[0] - 1) - 1) // sh + 1
        w_out = (plane.shape[-1] + 2 * pw - dw * (conv.kernel_size[1] - 1) - 1) // sw + 1
        top, left = kh * dh, kw * dw
        return padded[:, top : top + sh * (h_out - 1) + 1 : sh, left : left + sw * (w_out - 1) + 1 : sw]

    def _channel_ops(self, z: Tensor, j: int, mixer: int | None, channel: int) -> Tensor:
        """Apply the channel-wise layers between layer j and the mixer to one channel, ``[P, N, ...]``."""
        for module in self.modules[j + 1 : mixer if mixer is not None else len(self.modules)]:
            if isinstance(module, nn.Flatten):
                continue
            if isinstance(module, _BN):
                z = _normalise(z, tuple(range(1, z.dim())), module.eps) * module.weight[channel] + module.bias[channel]
            elif isinstance(module, _ELEMENTWISE):
                z = module(z)
            else:  # pooling: acts per channel on [P·N, 1, H, W]
                p, n = z.shape[:2]
                out = module(z.reshape(p * n, 1, *z.shape[2:]))
                z = out.reshape(p, n, *out.shape[2:])
        return z

    def _mix(self, dh: Tensor, mixer: int, channel: int) -> Tensor:
        """How the mixer's output moves when its input channel ``channel`` moves by ``dh`` ``[N, ...]``."""
        module = self.modules[mixer]
        if isinstance(module, nn.Conv2d):
            # Match the layout of the mixer's cached output, or the add that follows runs strided and slow.
            layout = torch.channels_last if module.weight.is_contiguous(memory_format=torch.channels_last) else None
            w, plane = module.weight[:, channel : channel + 1], dh.unsqueeze(1)
            if layout is not None:
                w, plane = w.contiguous(memory_format=layout), plane.contiguous(memory_format=layout)
            return F.conv2d(plane, w, None, module.stride, module.padding, module.dilation)
        block = dh.reshape(len(dh), -1)  # the channel's features (one, or its flattened spatial block)
        width = block.shape[-1]
        return block @ module.weight[:, channel * width : (channel + 1) * width].T


class StagePrefixes:
    """For models made of stages that can resume mid-way (``prefix(x, k)`` and ``forward(x, start=k, outputs=…)``,
    e.g. the residual ``ResidualChain``): the outputs of the stages before the searched one, cached per batch, so
    each candidate runs only the stages from the searched one on. The caches are checked against the earlier
    stages' weights, so they stay right whatever order the weights are visited in."""

    def __init__(self, model: nn.Module):
        self.model = model
        self._stage: int | None = None
        self._caches: dict[object, tuple[list[Tensor], Tensor]] = {}

    @classmethod
    def build(cls, model: nn.Module) -> StagePrefixes | None:
        ok = all(callable(getattr(model, attr, None)) for attr in ("prefix", "stage_of"))
        return cls(model) if ok else None

    def resume_point(self, name: str, x: Tensor, key: object) -> dict[str, object]:
        """``forward`` keyword arguments that resume at the stage owning parameter ``name``."""
        stage = self.model.stage_of(name)  # type: ignore[operator]
        if stage == 0:
            return {}
        if stage != self._stage:
            self._stage, self._caches = stage, {}
        before = torch.cat([p.detach().reshape(-1) for n, p in self.model.named_parameters() if self._precedes(n)])
        cached = self._caches.get(key)
        if cached is None or not torch.equal(cached[1], before):
            cached = self._caches[key] = (self.model.prefix(x, stage), before.clone())  # type: ignore[operator]
        return {"start": stage, "outputs": cached[0]}

    def _precedes(self, name: str) -> bool:
        return self.model.stage_of(name) < self._stage  # type: ignore[operator]


def _per_channel(v: Tensor, like: Tensor) -> Tensor:
    """A per-channel vector shaped to broadcast over ``like`` ``[N, C, ...]``."""
    return v.view(1, -1, *([1] * (like.dim() - 2)))


def _normalise(t: Tensor, dims: tuple[int, ...], eps: float) -> Tensor:
    """BatchNorm's training-mode normalisation over ``dims`` (biased variance), two-pass.

    ``Tensor.var`` over non-adjacent dimensions is ten times slower on the CPU than these two reductions.
    """
    centred = t - t.mean(dim=dims, keepdim=True)
    var = centred.square().mean(dim=dims, keepdim=True)
    return centred * torch.rsqrt(var + eps)
