"""Topology mutations: exactly one per child, chosen by roulette.

After the reference (google/brain-tokyo-workshop, ``WANNRelease/WANN/wann_src/_variation.py``: ``topoMutate``,
``mutAddConn``, ``mutAddNode``; probabilities from ``WANNRelease/WANN/p/default_wan.json``):

- add connection (0.20): sources are tried in a random order; the first with any valid destination gets a
  connection to one of them drawn uniformly. Valid: in a strictly higher layer, not already connected (enabled or
  not). New connections are enabled, with weight 1.
- add node (0.25): split an enabled connection drawn uniformly: disable it, add a hidden node with a random hidden
  activation, connect source -> new node (weight 1) and new node -> destination (the old weight).
- enable (0.05): enable a disabled connection drawn uniformly.
- change activation (0.50): give a hidden node drawn uniformly a different hidden activation drawn uniformly.

A mutation with nothing to act on (no hidden node, no disabled connection, no valid new connection) leaves the
child as it is, as in the reference. No crossover: WANN children have one parent.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from nograd.wann.genome import ConnGene, Genome, NodeGene, node_layers

__all__ = ["MUTATIONS", "Counters", "choose_mutation", "mutate", "add_connection", "add_node", "enable_connection"]

#: Roulette slots in the reference's order: (name, default probability).
MUTATIONS: tuple[tuple[str, float], ...] = (
    ("add_connection", 0.20),
    ("add_node", 0.25),
    ("enable", 0.05),
    ("activation", 0.50),
)


@dataclass
class Counters:
    """Search-wide counters: the next innovation number and the next hidden node id."""

    innovation: int
    node: int


def _rand(rng: torch.Generator) -> float:
    return float(torch.rand((), generator=rng, dtype=torch.float64))


def _randint(rng: torch.Generator, n: int) -> int:
    return int(torch.randint(n, (), generator=rng))


def choose_mutation(rng: torch.Generator, probs: tuple[float, float, float, float]) -> str:
    """Spin the roulette once: a name from ``MUTATIONS`` with chance proportional to ``probs``."""
    spin = _rand(rng) * sum(probs)
    edge = 0.0
    for (name, _), p in zip(MUTATIONS, probs):
        edge += p
        if spin < edge:
            return name
    return MUTATIONS[-1][0]


def add_connection(genome: Genome, rng: torch.Generator, counters: Counters) -> bool:
    layer = node_layers(genome)
    ids = [n.id for n in genome.nodes]
    existing: dict[int, set[int]] = {}
    for c in genome.conns:
        existing.setdefault(c.src, set()).add(c.dst)
    later: dict[int, list[int]] = {}  # per layer, the ids of the nodes in later layers, in node order
    for k in torch.randperm(len(ids), generator=rng).tolist():
        src = ids[k]
        level = layer[src]
        if level not in later:
            later[level] = [d for d in ids if layer[d] > level]
        taken = existing.get(src, ())
        options = [d for d in later[level] if d not in taken]
        if options:
            dst = options[_randint(rng, len(options))]
            genome.conns.append(ConnGene(counters.innovation, src, dst, 1.0, True))
            counters.innovation += 1
            return True
    return False


def add_node(genome: Genome, rng: torch.Generator, counters: Counters, activations: tuple[int, ...]) -> bool:
    active = [i for i, c in enumerate(genome.conns) if c.enabled]
    if not active:
        return False
    split = active[_randint(rng, len(active))]
    old = genome.conns[split]
    act = activations[_randint(rng, len(activations))]
    node = counters.node
    counters.node += 1
    genome.nodes.append(NodeGene(node, "hidden", act))
    genome.with_conn(split, enabled=False)
    genome.conns.append(ConnGene(counters.innovation, old.src, node, 1.0, True))
    genome.conns.append(ConnGene(counters.innovation + 1, node, old.dst, old.weight, True))
    counters.innovation += 2
    return True


def enable_connection(genome: Genome, rng: torch.Generator) -> bool:
    disabled = [i for i, c in enumerate(genome.conns) if not c.enabled]
    if not disabled:
        return False
    genome.with_conn(disabled[_randint(rng, len(disabled))], enabled=True)
    return True


def change_activation(genome: Genome, rng: torch.Generator, activations: tuple[int, ...]) -> bool:
    hidden = [i for i, n in enumerate(genome.nodes) if n.kind == "hidden"]
    if not hidden:
        return False
    index = hidden[_randint(rng, len(hidden))]
    node = genome.nodes[index]
    pool = [a for a in activations if a != node.activation]
    if not pool:
        return False
    genome.nodes[index] = NodeGene(node.id, node.kind, pool[_randint(rng, len(pool))])
    return True


def mutate(
    parent: Genome,
    rng: torch.Generator,
    counters: Counters,
    probs: tuple[float, float, float, float] = tuple(p for _, p in MUTATIONS),  # type: ignore[assignment]
    activations: tuple[int, ...] = tuple(range(1, 11)),
) -> tuple[Genome, str, bool]:
    """A mutated copy of ``parent``: (child, the mutation drawn, whether it changed anything)."""
    child = parent.copy()
    choice = choose_mutation(rng, probs)
    if choice == "add_connection":
        changed = add_connection(child, rng, counters)
    elif choice == "add_node":
        changed = add_node(child, rng, counters, activations)
    elif choice == "enable":
        changed = enable_connection(child, rng)
    else:
        changed = change_activation(child, rng, activations)
    return child, choice, changed
