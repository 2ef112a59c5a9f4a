"""WANN genomes: node genes and connection genes, feed-forward layers, JSON files.

Encoding after the reference (google/brain-tokyo-workshop, ``WANNRelease/WANN/wann_src/ind.py`` and
``wann.py: initPop``): node 0 is the bias (value 1), nodes 1..n_inputs the inputs, the next n_outputs ids the
outputs, and hidden nodes take ids from a counter that runs over the whole search. A connection gene is
(innovation, source, destination, weight, enabled); in a WANN every enabled connection takes the one shared weight,
so the stored weight is 1 and is kept only for the file format.

Layers (``node_layers``) follow the reference's ``getLayer``: bias and inputs are layer 0, a hidden node sits one
above its highest hidden parent (layer 1 when all its parents are inputs), and all outputs share the layer above
the highest hidden one. One deliberate difference: the reference layers hidden nodes by their *enabled* connections
only, so re-enabling a connection can close a cycle; here every connection gene, enabled or not, counts, so every
genome stays feed-forward whatever is enabled later.

Which connection genes carry a signal (``Genome.active_conns``) depends on the genome's ``expression``:

- ``"genes"``: the enabled ones, as the genes say (NEAT's meaning; genomes built by hand or loaded from files).
- ``"reference"``: the enabled ones *and every disabled connection between two hidden nodes*, as the reference's
  code expresses a genome: ``ind.py: getNodeOrder`` marks disabled genes NaN in the weight matrix, then sets the
  hidden block of that matrix to 1 wherever it is nonzero through a view (``connMat[connMat!=0] = 1``), and NaN is
  nonzero, so a split hidden-to-hidden connection keeps working beside the new node's path and counts in ``nConn``.
  The paper's networks were searched, scored and exported this way; the WANN search makes its genomes with it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from nograd.errors import NogradError
from nograd.wann.activations import ACTIVATION_NAMES, LINEAR

__all__ = ["NodeGene", "ConnGene", "Genome", "GenomeError", "node_layers", "GENOME_FORMAT", "EXPRESSIONS"]

GENOME_FORMAT = "nograd-wann-genome-v1"
KINDS = ("bias", "input", "output", "hidden")
#: How connection genes are expressed (see the module docstring).
EXPRESSIONS = ("genes", "reference")


class GenomeError(NogradError, ValueError):
    """A genome that is not well formed: a bad file, a cycle, a connection to a missing node."""


@dataclass(frozen=True)
class NodeGene:
    id: int
    kind: str  # 'bias', 'input', 'output' or 'hidden'
    activation: int = LINEAR


@dataclass(frozen=True)
class ConnGene:
    innovation: int
    src: int
    dst: int
    weight: float = 1.0
    enabled: bool = True


@dataclass
class Genome:
    """A feed-forward network: nodes in the order bias, inputs, outputs, hidden (by id); connections by innovation."""

    n_inputs: int
    n_outputs: int
    nodes: list[NodeGene] = field(default_factory=list)
    conns: list[ConnGene] = field(default_factory=list)
    expression: str = "genes"

    # -- construction ---------------------------------------------------------------------------------------
    @classmethod
    def fully_connected(
        cls, n_inputs: int, n_outputs: int, enabled: list[bool] | None = None, expression: str = "genes"
    ) -> Genome:
        """No hidden nodes; one connection from every input and the bias to every output, as in ``initPop``.

        Connection k runs from node ``k % (n_inputs + 1)`` to output ``k // (n_inputs + 1)`` and has innovation k.
        """
        nodes = [NodeGene(0, "bias")]
        nodes += [NodeGene(i, "input") for i in range(1, n_inputs + 1)]
        nodes += [NodeGene(n_inputs + 1 + o, "output") for o in range(n_outputs)]
        n_src = n_inputs + 1
        count = n_src * n_outputs
        if enabled is None:
            enabled = [True] * count
        if len(enabled) != count:
            raise GenomeError(f"'enabled' must have {count} entries (inputs+bias × outputs). Got {len(enabled)}.")
        conns = [ConnGene(k, k % n_src, n_src + k // n_src, 1.0, bool(enabled[k])) for k in range(count)]
        return cls(n_inputs, n_outputs, nodes, conns, expression)

    def copy(self) -> Genome:
        return Genome(self.n_inputs, self.n_outputs, list(self.nodes), list(self.conns), self.expression)

    # -- views -------------------------------------------------------------------------------------------------
    @property
    def hidden(self) -> list[NodeGene]:
        return [n for n in self.nodes if n.kind == "hidden"]

    @property
    def output_ids(self) -> list[int]:
        return [self.n_inputs + 1 + o for o in range(self.n_outputs)]

    @property
    def num_enabled(self) -> int:
        """Enabled connection genes."""
        return sum(c.enabled for c in self.conns)

    def active_conns(self) -> list[ConnGene]:
        """The connection genes that carry a signal, in gene order (see ``expression`` in the module docstring)."""
        if self.expression == "genes":
            return [c for c in self.conns if c.enabled]
        hidden = {n.id for n in self.nodes if n.kind == "hidden"}
        if not hidden:
            return [c for c in self.conns if c.enabled]
        return [c for c in self.conns if c.enabled or (c.src in hidden and c.dst in hidden)]

    @property
    def num_active(self) -> int:
        """Connections that carry a signal: the reference's ``nConn``, the second objective's denominator."""
        return len(self.active_conns())

    def activation_of(self) -> dict[int, int]:
        return {n.id: n.activation for n in self.nodes}

    def with_conn(self, index: int, **changes: Any) -> None:
        self.conns[index] = replace(self.conns[index], **changes)

    # -- checks and files --------------------------------------------------------------------------------------
    def validate(self) -> None:
        """Raise GenomeError unless ids, kinds, activations and connections describe a feed-forward network."""
        if not (isinstance(self.n_inputs, int) and self.n_inputs >= 1):
            raise GenomeError(f"A genome needs n_inputs >= 1. Got {self.n_inputs!r}.")
        if not (isinstance(self.n_outputs, int) and self.n_outputs >= 1):
            raise GenomeError(f"A genome needs n_outputs >= 1. Got {self.n_outputs!r}.")
        if self.expression not in EXPRESSIONS:
            raise GenomeError(f"Unknown genome expression {self.expression!r}; valid: {', '.join(EXPRESSIONS)}.")
        fixed = 1 + self.n_inputs + self.n_outputs
        head = [(n.id, n.kind) for n in self.nodes[:fixed]]
        expect = [(0, "bias")] + [(i, "input") for i in range(1, self.n_inputs + 1)]
        expect += [(i, "output") for i in self.output_ids]
        if head != expect:
            raise GenomeError("A genome's first nodes must be the bias (id 0), the inputs (1..n_inputs), then outputs.")
        ids = set()
        for n in self.nodes:
            if n.kind not in KINDS:
                raise GenomeError(f"Node {n.id} has kind {n.kind!r}; valid kinds: {', '.join(KINDS)}.")
            if n.activation not in ACTIVATION_NAMES:
                raise GenomeError(f"Node {n.id} has activation {n.activation!r}; valid ids: 1..11.")
            if n.id in ids:
                raise GenomeError(f"Node id {n.id} appears twice.")
            ids.add(n.id)
        if any(n.kind != "hidden" for n in self.nodes[fixed:]):
            raise GenomeError("Only hidden nodes may follow the bias, input and output nodes.")
        kinds = {n.id: n.kind for n in self.nodes}
        pairs, innovations = set(), set()
        for c in self.conns:
            if c.src not in kinds or c.dst not in kinds:
                raise GenomeError(f"Connection {c.innovation} joins missing nodes ({c.src} -> {c.dst}).")
            if kinds[c.dst] in ("bias", "input") or kinds[c.src] == "output":
                raise GenomeError(
                    f"Connection {c.innovation} ({c.src} -> {c.dst}) runs into an input or out of an output."
                )
            if (c.src, c.dst) in pairs:
                raise GenomeError(f"Connection {c.src} -> {c.dst} appears twice.")
            if c.innovation in innovations:
                raise GenomeError(f"Innovation number {c.innovation} appears twice.")
            pairs.add((c.src, c.dst))
            innovations.add(c.innovation)
        node_layers(self)  # raises on a cycle

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": GENOME_FORMAT,
            "n_inputs": self.n_inputs,
            "n_outputs": self.n_outputs,
            # written out rather than by dataclasses.asdict, which costs several times more (a population of 960
            # image genomes holds 2.5 million connection genes)
            "nodes": [{"id": n.id, "kind": n.kind, "activation": n.activation} for n in self.nodes],
            "conns": [
                {"innovation": c.innovation, "src": c.src, "dst": c.dst, "weight": c.weight, "enabled": c.enabled}
                for c in self.conns
            ],
            "expression": self.expression,
        }

    @classmethod
    def from_dict(cls, data: Any) -> Genome:
        if not isinstance(data, dict) or data.get("format") != GENOME_FORMAT:
            found = data.get("format") if isinstance(data, dict) else type(data).__name__
            raise GenomeError(f"Not a nograd WANN genome (format {found!r}; expected {GENOME_FORMAT!r}).")
        try:
            nodes = [NodeGene(int(n["id"]), str(n["kind"]), int(n["activation"])) for n in data["nodes"]]
            conns = [
                ConnGene(int(c["innovation"]), int(c["src"]), int(c["dst"]), float(c["weight"]), bool(c["enabled"]))
                for c in data["conns"]
            ]
            # Files written before the field existed were searched and scored with the genes' own meaning.
            expression = str(data.get("expression", "genes"))
            genome = cls(int(data["n_inputs"]), int(data["n_outputs"]), nodes, conns, expression)
        except (KeyError, TypeError, ValueError) as err:
            raise GenomeError(f"A WANN genome entry is missing or malformed: {err!r}.") from None
        genome.validate()
        return genome

    def save(self, path: str | Path) -> None:
        """Write the genome as JSON, atomically."""
        from nograd.runs import atomic_write_text

        atomic_write_text(json.dumps(self.to_dict(), indent=1) + "\n", path)

    @classmethod
    def load(cls, path: str | Path) -> Genome:
        path = Path(path)
        if not path.is_file():
            raise GenomeError(f"Genome file {path} does not exist.")
        try:
            data = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise GenomeError(f"Genome file {path} is not valid JSON: {err}.") from None
        try:
            return cls.from_dict(data)
        except GenomeError as err:
            raise GenomeError(f"Genome file {path}: {err}") from None


def node_layers(genome: Genome) -> dict[int, int]:
    """Layer of every node (see the module docstring), from all connection genes, enabled or not.

    Raises GenomeError if the hidden nodes' connections contain a cycle.
    """
    hidden = [n.id for n in genome.nodes if n.kind == "hidden"]
    parents: dict[int, list[int]] = {h: [] for h in hidden}
    children: dict[int, list[int]] = {h: [] for h in hidden}
    if hidden:
        for c in genome.conns:
            if c.src in parents and c.dst in parents:
                parents[c.dst].append(c.src)
                children[c.src].append(c.dst)
    layer = {n.id: 0 for n in genome.nodes if n.kind in ("bias", "input")}
    waiting = {h: len(parents[h]) for h in hidden}
    ready = [h for h in hidden if waiting[h] == 0]
    for h in ready:
        layer[h] = 1
    done = 0
    while done < len(ready):
        h = ready[done]
        done += 1
        for child in children[h]:
            layer[child] = max(layer.get(child, 1), layer[h] + 1)
            waiting[child] -= 1
            if waiting[child] == 0:
                ready.append(child)
    if len(ready) != len(hidden):
        raise GenomeError("The genome's hidden connections contain a cycle; WANN networks are feed-forward.")
    top = 1 + max((layer[h] for h in hidden), default=0)
    for o in genome.output_ids:
        layer[o] = top
    return layer
