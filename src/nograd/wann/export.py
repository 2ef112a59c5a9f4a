"""A WANN genome as an ordinary ``torch.nn.Module``, with one trainable weight per active connection.

``to_module(genome, weight)`` returns a ``GenomeModule``: inputs [batch, n_inputs] -> outputs [batch, n_outputs].
The bias node is 1, and every hidden or output node is ``activation(sum over its active connections of
weight_c * parent)``, with the activations written in torch ops as ``scalar_activation`` writes them, so the module
computes what ``PlainNetwork`` computes (``PlainNetwork`` multiplies the sum by the shared weight; the module
multiplies each term by its connection's weight: equal up to rounding). ``module.weight`` is an ``nn.Parameter``
of shape [connections] in the order of ``module.connections`` (``Genome.active_conns``, by position), so Adam or
any torch optimizer can train it.

The network is computed layer by layer (``node_layers``): each layer is one matrix product of the values of all
earlier nodes with a dense [earlier nodes, layer nodes] matrix filled from the weights, then one op per activation
present in the layer. The same matrices serve a population of weight vectors: ``weights`` of shape [..., C] give
matrices [..., earlier, layer] and outputs [..., batch, n_outputs] (see ``GenomeModule.matrices``), which is how
``nograd.wann.tune`` rolls out many weight vectors of one genome at once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from nograd.wann.genome import Genome, node_layers

__all__ = ["GenomeModule", "to_module", "torch_activation", "active_connections"]


def torch_activation(act: int, x: Tensor) -> Tensor:
    """Activation ``act`` of ``x``, out of place and differentiable, written as ``scalar_activation`` writes it."""
    if act == 1:
        return x
    if act == 2:
        return (x > 0).to(x.dtype)
    if act == 3:
        return torch.sin(math.pi * x)
    if act == 4:
        return torch.exp(-(x * x) * 0.5)
    if act == 5:
        return torch.tanh(x)
    if act == 6:
        return (torch.tanh(x * 0.5) + 1.0) * 0.5
    if act == 7:
        return -x
    if act == 8:
        return torch.abs(x)
    if act == 9:
        return torch.relu(x)
    if act == 10:
        return torch.cos(math.pi * x)
    if act == 11:
        return x * x
    raise ValueError(f"Unknown WANN activation id {act}. Valid ids: 1..11.")


def active_connections(genome: Genome) -> list[tuple[int, int]]:
    """(src, dst) of every active connection, in the genome's order: the order of a module's weights."""
    return [(c.src, c.dst) for c in genome.active_conns()]


class GenomeModule(nn.Module):
    """One genome as a torch module (see the module docstring). ``weight`` is [C], one entry per connection."""

    def __init__(
        self, genome: Genome, weight: float | Sequence[float] | Tensor | None = 1.0, dtype: torch.dtype = torch.float32
    ):
        super().__init__()
        genome.validate()
        # the genome's structure as it was (its genes are frozen; the lists are copied): for the numba rollouts
        self.genome = Genome(
            genome.n_inputs, genome.n_outputs, list(genome.nodes), list(genome.conns), genome.expression
        )
        self.n_inputs, self.n_outputs = genome.n_inputs, genome.n_outputs
        self.connections = active_connections(genome)
        C = len(self.connections)
        if weight is None:  # the weights stored in the genome's connection genes
            weight = [c.weight for c in genome.active_conns()]
        if isinstance(weight, (int, float)):
            initial = torch.full((C,), float(weight), dtype=dtype)
        else:
            initial = torch.as_tensor(weight, dtype=dtype).detach().clone()
            if initial.shape != (C,):
                raise ValueError(f"weight must be a number or have one entry per active connection ({C}).")
        self.weight = nn.Parameter(initial)

        layer = node_layers(genome)
        act = genome.activation_of()
        # column order: bias, inputs, then every later layer with its nodes sorted by (activation, id)
        computed = [n.id for n in genome.nodes if n.kind in ("hidden", "output")]
        computed.sort(key=lambda n: (layer[n], act[n], n))
        column = {i: i for i in range(1 + genome.n_inputs)}
        for k, node in enumerate(computed):
            column[node] = 1 + genome.n_inputs + k
        self.columns = 1 + genome.n_inputs + len(computed)
        # layers: (start, stop, [(a, b, activation) slices relative to start])
        self.layers: list[tuple[int, int, list[tuple[int, int, int]]]] = []
        k = 0
        while k < len(computed):
            stop = k
            while stop < len(computed) and layer[computed[stop]] == layer[computed[k]]:
                stop += 1
            groups, g = [], k
            while g < stop:
                h = g
                while h < stop and act[computed[h]] == act[computed[g]]:
                    h += 1
                groups.append((g - k, h - k, act[computed[g]]))
                g = h
            self.layers.append((1 + genome.n_inputs + k, 1 + genome.n_inputs + stop, groups))
            k = stop
        # for each layer: which weights go where in its flattened [start, stop - start] matrix
        for i, (start, stop, _) in enumerate(self.layers):
            flat, which = [], []
            for c, (src, dst) in enumerate(self.connections):
                if start <= column[dst] < stop:
                    flat.append(column[src] * (stop - start) + column[dst] - start)
                    which.append(c)
            self.register_buffer(f"_flat{i}", torch.tensor(flat, dtype=torch.int64), persistent=False)
            self.register_buffer(f"_which{i}", torch.tensor(which, dtype=torch.int64), persistent=False)
        self.register_buffer(
            "_outputs", torch.tensor([column[o] for o in genome.output_ids], dtype=torch.int64), persistent=False
        )

    def extra_repr(self) -> str:
        return (
            f"inputs={self.n_inputs}, outputs={self.n_outputs}, connections={len(self.connections)}, "
            f"layers={len(self.layers)}"
        )

    # -- the computation --------------------------------------------------------------------------------------
    def matrices(self, weights: Tensor | None = None) -> list[Tensor]:
        """Per layer, the [..., start, stop - start] matrix of ``weights`` ([..., C]; default ``self.weight``)."""
        weights = self.weight if weights is None else weights
        lead = weights.shape[:-1]
        out = []
        for i, (start, stop, _) in enumerate(self.layers):
            flat = weights.new_zeros(*lead, start * (stop - start))
            flat = flat.index_copy(-1, getattr(self, f"_flat{i}"), weights[..., getattr(self, f"_which{i}")])
            out.append(flat.view(*lead, start, stop - start))
        return out

    def _layer(self, values: Tensor, matrix: Tensor, start: int, groups: list[tuple[int, int, int]]) -> Tensor:
        pre = torch.matmul(values[..., :start], matrix)
        parts = [torch_activation(act, pre[..., a:b]) for a, b, act in groups]
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=-1)

    def compute(self, x: Tensor, matrices: list[Tensor]) -> Tensor:
        """Outputs [..., batch, n_outputs] of inputs ``x`` [..., batch, n_inputs] with ``matrices`` (differentiable)."""
        bias = x.new_ones(*x.shape[:-1], 1)
        values = torch.cat([bias, x], dim=-1)
        for (start, _, groups), matrix in zip(self.layers, matrices):
            values = torch.cat([values, self._layer(values, matrix, start, groups)], dim=-1)
        return values[..., self._outputs]

    def fill(self, values: Tensor, matrices: list[Tensor]) -> Tensor:
        """In place: given ``values`` [..., batch, columns] with the bias column 1 and the input columns set, fill
        every later column and return the outputs [..., batch, n_outputs]. For rollouts (no autograd)."""
        for (start, stop, groups), matrix in zip(self.layers, matrices):
            values[..., start:stop] = self._layer(values, matrix, start, groups)
        return values[..., self._outputs]

    def new_values(self, *batch: int, dtype: torch.dtype | None = None) -> Tensor:
        """A [*batch, columns] buffer for ``fill`` with the bias column set to 1."""
        values = torch.zeros(*batch, self.columns, dtype=dtype or self.weight.dtype)
        values[..., 0] = 1.0
        return values

    def forward(self, x: Tensor) -> Tensor:
        return self.compute(x.to(self.weight.dtype), self.matrices())


def to_module(
    genome: Genome, weight: float | Sequence[float] | Tensor | None = 1.0, dtype: torch.dtype = torch.float32
) -> GenomeModule:
    """The genome as an ``nn.Module``; ``weight`` is one shared weight, one per active connection (in genome
    order), or None for the weights stored in the connection genes (a WANN stores 1; ``nograd wann eval`` saves
    the tuned individual weights that way in ``champion-tuned.json``)."""
    return GenomeModule(genome, weight, dtype)
