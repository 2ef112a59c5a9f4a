"""Scoring WANN genomes on swing-up: the whole population x shared weights x repetitions as batched tensor ops.

The reference (google/brain-tokyo-workshop, ``WANNRelease/WANN/wann_src/task.py: getDistFitness``) runs one
network, one weight, one time step at a time. Here all P genomes are packed into one graph
(``PackedPopulation``): every (genome, node) pair is a row of a node-value matrix whose columns are the W x R
rollouts of a genome (shared weight w, repetition r), so one time step is

    inputs  <- the environment writes its observation into the input rows (no copy)
    for each layer: values[layer rows] = act(w * (S_layer @ values))      (S_layer: sparse 0/1, CSR)
    action  <- the output rows, [n_out, P, W*R]

Rows are ordered by (layer, activation, genome, node), so each layer's rows are contiguous and every activation
is applied once per layer to a contiguous slice, whatever mixture of genomes is in the batch (linear costs
nothing, and neither does -x: its rows of S carry -1, which is exact). Sparse matrices
sum only real parents, so a non-finite value stays in its own genome's rollout. All enabled connections carry
the shared weight w, so w times the sum of the parents equals the sum of w times each parent (the shared weights
are powers of two, which makes that exact).

Identical genomes (elites, and children whose mutation changed nothing) are scored once: rollout seeds are shared
across the population, so identical networks earn identical returns.

``evaluate_plain`` is the one-network-at-a-time reference in Python floats; a test checks both agree.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import torch
from torch import Tensor

from nograd.envs.swingup import MAX_STEPS, BatchedSwingUp, SwingUp, swingup_initial_states
from nograd.wann.activations import ACTIVATION_ORDER, activation_ops, scalar_activation
from nograd.wann.genome import Genome, node_layers

__all__ = ["SHARED_WEIGHTS", "PackedPopulation", "evaluate_swingup", "evaluate_plain", "genome_key", "PlainNetwork"]

#: The reference's "standard" weight set (``alg_wDist='standard'``, ``alg_nVals=6``).
SHARED_WEIGHTS: tuple[float, ...] = (-2.0, -1.0, -0.5, 0.5, 1.0, 2.0)


def genome_key(genome: Genome) -> tuple:
    """What the network computes depends on only this: enabled connections and node activations."""
    enabled = tuple(sorted((c.src, c.dst) for c in genome.conns if c.enabled))
    return enabled, tuple((n.id, n.activation) for n in genome.nodes)


class _Layer:
    """Rows [start, stop) of one layer, its sparse parents matrix and its activation groups (relative slices)."""

    def __init__(self, start: int, stop: int, parents: Tensor, groups: list[tuple[int, int, int]]):
        self.start, self.stop, self.parents, self.groups = start, stop, parents, groups


class PackedPopulation:
    """P genomes with the same inputs and outputs packed into one layered graph (see the module docstring).

    Row layout: the bias of genome p at row p; input i of genome p at row (1 + i) * P + p; hidden nodes sorted by
    (layer, activation, genome, node id); output o of genome p at ``output_start + o * P + p``. With
    ``shared_inputs`` (classification: every genome sees the same images) one bias row 0 and one row per input,
    1..n_inputs, serve every genome.
    """

    def __init__(self, genomes: Sequence[Genome], dtype: torch.dtype = torch.float32, shared_inputs: bool = False):
        if not genomes:
            raise ValueError("PackedPopulation needs at least one genome.")
        n_in, n_out = genomes[0].n_inputs, genomes[0].n_outputs
        if any((g.n_inputs, g.n_outputs) != (n_in, n_out) for g in genomes):
            raise ValueError("All genomes of a population must have the same numbers of inputs and outputs.")
        P = len(genomes)
        self.size, self.n_inputs, self.n_outputs, self.dtype = P, n_in, n_out, dtype
        self.shared_inputs = shared_inputs
        row: dict[tuple[int, int], int] = {}
        for p in range(P):
            row[(p, 0)] = 0 if shared_inputs else p
            for i in range(1, n_in + 1):
                row[(p, i)] = i if shared_inputs else i * P + p
        hidden = []  # (layer, activation, genome, node id)
        out_keys = []
        for p, genome in enumerate(genomes):
            layer = node_layers(genome)
            for n in genome.nodes:
                if n.kind == "hidden":
                    hidden.append((layer[n.id], n.activation, p, n.id))
        hidden.sort(key=lambda h: (h[0], ACTIVATION_ORDER[h[1]], h[2], h[3]))
        base = (1 + n_in) * (1 if shared_inputs else P)
        for k, (_, _, p, node) in enumerate(hidden):
            row[(p, node)] = base + k
        self.output_start = base + len(hidden)
        for p, genome in enumerate(genomes):
            for o, node in enumerate(genome.output_ids):
                row[(p, node)] = self.output_start + o * P + p
                out_keys.append((self.output_start + o * P + p, genome.nodes[1 + n_in + o].activation))
        self.rows = self.output_start + n_out * P
        self.hidden_count = len(hidden)

        parents: dict[int, list[int]] = {}
        for p, genome in enumerate(genomes):
            for c in genome.conns:
                if c.enabled:
                    parents.setdefault(row[(p, c.dst)], []).append(row[(p, c.src)])

        self.layers: list[_Layer] = []
        k = 0
        while k < len(hidden):
            stop = k
            while stop < len(hidden) and hidden[stop][0] == hidden[k][0]:
                stop += 1
            groups, g = [], k
            while g < stop:
                h = g
                while h < stop and hidden[h][1] == hidden[g][1]:
                    h += 1
                groups.append((g - k, h - k, hidden[g][1]))
                g = h
            self.layers.append(self._layer(base + k, base + stop, parents, groups))
            k = stop
        out_keys.sort()
        acts = [a for _, a in out_keys]
        groups, g = [], 0
        while g < len(acts):  # outputs are ordered by (output, genome); group runs of one activation
            h = g
            while h < len(acts) and acts[h] == acts[g]:
                h += 1
            groups.append((g, h, acts[g]))
            g = h
        self.output_layer = self._layer(self.output_start, self.rows, parents, groups)

    def _layer(self, start: int, stop: int, parents: dict[int, list[int]], groups: list) -> _Layer:
        sign = [1.0] * (stop - start)
        for a, b, act in groups:
            if act == 7:  # -x: negate the row's entries instead, which is exact, and spend no op on it
                sign[a:b] = [-1.0] * (b - a)
        crow, cols, vals = [0], [], []
        for r in range(start, stop):
            mine = sorted(parents.get(r, []))
            cols.extend(mine)
            vals.extend([sign[r - start]] * len(mine))
            crow.append(len(cols))
        with warnings.catch_warnings():  # "Sparse CSR tensor support is in beta": CSR @ dense is all we use
            warnings.simplefilter("ignore")
            matrix = torch.sparse_csr_tensor(
                torch.tensor(crow, dtype=torch.int64),
                torch.tensor(cols, dtype=torch.int64),
                torch.tensor(vals, dtype=self.dtype),
                size=(stop - start, self.rows),
                check_invariants=False,  # built sorted and in range just above
            )
        return _Layer(start, stop, matrix, [grp for grp in groups if grp[2] not in (1, 7)])

    def new_values(self, columns: int) -> Tensor:
        """A [rows, columns] node-value buffer with the bias rows set to 1."""
        values = torch.zeros(self.rows, columns, dtype=self.dtype)
        values[: 1 if self.shared_inputs else self.size] = 1.0
        return values

    def input_rows(self, values: Tensor) -> Tensor:
        """The input rows of ``values``: [n_inputs, P, columns], or [n_inputs, columns] with ``shared_inputs``."""
        if self.shared_inputs:
            return values[1 : 1 + self.n_inputs]
        P = self.size
        return values[P : (1 + self.n_inputs) * P].view(self.n_inputs, P, -1)

    def _bind(self, values: Tensor) -> list[tuple[Tensor, Tensor, list[Callable[[], Tensor]]]]:
        """Per layer: (parents, the layer's rows of ``values``, its activations as bound in-place ops on views),
        made once per buffer, so a time step spends nothing on slicing or dispatch. Adjacent sin and cos rows
        share one multiply by pi."""
        bound = []
        for layer in [*self.layers, self.output_layer]:
            rows = values[layer.start : layer.stop]
            ops: list[Callable[[], Tensor]] = []
            groups = list(layer.groups)
            k = 0
            while k < len(groups):
                a, b, act = groups[k]
                if act == 3 and k + 1 < len(groups) and groups[k + 1][2] == 10 and groups[k + 1][0] == b:
                    c = groups[k + 1][1]
                    ops += [partial(rows[a:c].mul_, math.pi), rows[a:b].sin_, rows[b:c].cos_]
                    k += 2
                    continue
                ops += activation_ops(act, rows[a:b])
                k += 1
            bound.append((layer.parents, rows, ops))
        return bound

    def forward(self, values: Tensor, weight: Tensor) -> Tensor:
        """Fill the hidden and output rows of ``values`` layer by layer; return the outputs as [n_outputs, P, columns].

        ``weight`` is a [1, columns] row: the shared weight of each column. Each layer costs one sparse product
        written straight into its rows, one multiply by the weights, and one in-place op or a few per activation
        present in the layer.
        """
        if getattr(self, "_bound_to", None) is not values:
            self._bound, self._bound_to = self._bind(values), values
        for parents, rows, ops in self._bound:
            torch.mm(parents, values, out=rows)  # reads only rows of earlier layers
            rows.mul_(weight)
            for op in ops:
                op()
        return values[self.output_start :].view(self.n_outputs, self.size, -1)


def evaluate_swingup(
    genomes: Sequence[Genome],
    seed: int = 0,
    generation: int = 0,
    reps: int = 3,
    weights: Sequence[float] = SHARED_WEIGHTS,
    steps: int = MAX_STEPS,
    dtype: torch.dtype = torch.float32,
    dedupe: bool = True,
    early_stop: bool = True,
    workers: int = 1,
) -> Tensor:
    """Returns [P, W, R]: the swing-up return of every genome with every shared weight on every repetition.

    Repetition r starts from ``swingup_initial_states(seed, generation, reps)[r]`` for every genome and weight.
    ``dedupe`` scores identical genomes once; ``early_stop`` checks every 64 steps whether every episode has
    ended and stops if so (the returns are the same either way). ``workers`` > 1 splits the genomes into that many
    packed batches stepped in parallel threads, each with one intra-op thread (torch releases the GIL inside its
    ops, and small tensors gain nothing from intra-op threads, which only contend). Results do not depend on it.
    """
    if dedupe:
        keys: dict[tuple, int] = {}
        index = [keys.setdefault(genome_key(g), len(keys)) for g in genomes]
        if len(keys) < len(genomes):
            unique: list[Genome] = []
            for g, k in zip(genomes, index):
                if k == len(unique):
                    unique.append(g)
            scores = evaluate_swingup(unique, seed, generation, reps, weights, steps, dtype, False, early_stop, workers)
            return scores[torch.tensor(index)]
    if workers > 1 and len(genomes) >= 2 * workers:
        chunks = _balanced_chunks(genomes, workers)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            with ThreadPoolExecutor(workers) as pool:
                parts = list(
                    pool.map(
                        lambda part: _rollouts(
                            [genomes[i] for i in part], seed, generation, reps, weights, steps, dtype, early_stop
                        ),
                        chunks,
                    )
                )
        finally:
            torch.set_num_threads(threads)
        out = torch.empty(len(genomes), len(weights), reps, dtype=dtype)
        for part, scores in zip(chunks, parts):
            out[torch.tensor(part)] = scores
        return out
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _rollouts(list(genomes), seed, generation, reps, weights, steps, dtype, early_stop)
    finally:
        torch.set_num_threads(threads)


def _balanced_chunks(genomes: Sequence[Genome], parts: int) -> list[list[int]]:
    """Split genome indices into ``parts`` lists of about equal total size (nodes + enabled connections)."""
    cost = [len(g.nodes) + g.num_enabled for g in genomes]
    chunks: list[list[int]] = [[] for _ in range(parts)]
    load = [0] * parts
    for i in sorted(range(len(genomes)), key=lambda i: -cost[i]):
        k = load.index(min(load))
        chunks[k].append(i)
        load[k] += cost[i]
    return [sorted(c) for c in chunks if c]


def _rollouts(
    genomes: list[Genome],
    seed: int,
    generation: int,
    reps: int,
    weights: Sequence[float],
    steps: int,
    dtype: torch.dtype,
    early_stop: bool,
) -> Tensor:
    packed = PackedPopulation(genomes, dtype)
    if packed.n_inputs != 5 or packed.n_outputs != 1:
        raise ValueError(f"Swing-up networks have 5 inputs and 1 output. Got {packed.n_inputs} and {packed.n_outputs}.")
    P, W, R = len(genomes), len(weights), reps
    starts = swingup_initial_states(seed, generation, reps, dtype)  # [R, 4]
    states = starts.view(1, 1, R, 4).expand(P, W, R, 4).reshape(P, W * R, 4)
    values = packed.new_values(W * R)
    env = BatchedSwingUp(states, obs=packed.input_rows(values))
    weight = torch.tensor(weights, dtype=dtype).repeat_interleave(R).view(1, W * R)
    for t in range(steps):
        action = packed.forward(values, weight)
        env.step(action[0])
        if early_stop and t % 64 == 63 and bool(env.dead.all()):
            break
    return env.returns.view(P, W, R)


class PlainNetwork:
    """One genome as a plain Python network: nodes in layer order, each the activation of w times its parents' sum."""

    def __init__(self, genome: Genome, conn_weights: dict[tuple[int, int], float] | None = None):
        """``conn_weights`` maps (src, dst) to a weight of that connection's own; the call's weight then scales
        them (pass 1.0 for individual weights only)."""
        self.conn_weights = conn_weights or {}
        layer = node_layers(genome)
        self.genome = genome
        self.activation = genome.activation_of()
        self.order = [
            n.id for n in sorted(genome.nodes, key=lambda n: (layer[n.id], n.id)) if n.kind in ("hidden", "output")
        ]
        self.parents: dict[int, list[int]] = {n: [] for n in self.order}
        for c in genome.conns:
            if c.enabled:
                self.parents[c.dst].append(c.src)

    def __call__(self, weight: float, inputs: Sequence[float]) -> list[float]:
        value = {0: 1.0}
        value.update({i + 1: float(inputs[i]) for i in range(self.genome.n_inputs)})
        cw = self.conn_weights
        for node in self.order:
            if cw:
                pre = sum(cw.get((s, node), 1.0) * value[s] for s in self.parents[node])
            else:
                pre = sum(value[s] for s in self.parents[node])
            value[node] = scalar_activation(self.activation[node], weight * pre)
        return [value[o] for o in self.genome.output_ids]


def evaluate_plain(
    genome: Genome,
    weight: float,
    start: Sequence[float],
    steps: int = MAX_STEPS,
    conn_weights: dict[tuple[int, int], float] | None = None,
) -> float:
    """One episode of one network with one shared weight, node by node in Python floats (the reference's way).

    With ``conn_weights`` every connection has its own weight (times ``weight``).
    """
    network = PlainNetwork(genome, conn_weights)
    env = SwingUp(tuple(float(v) for v in start))
    obs, total = env.observation(), 0.0
    for _ in range(steps):
        obs, reward, done = env.step(network(weight, obs)[0])
        total += reward
        if done:
            break
    return total
