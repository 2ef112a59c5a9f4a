"""Networks in the reference's matrix file format, as nograd genomes.

The WANN reference (google/brain-tokyo-workshop, ``WANNRelease/WANN/wann_src/ind.py: exportNet/importNet``;
``WANNRelease/WANN/champions/*.out``) writes a network as an N x (N + 1) comma-separated matrix: the first N columns
are the weight matrix (row = source, column = destination) and the last column holds each node's activation id. The
nodes are in evaluation order: the bias (always 1), the inputs, the hidden nodes in a topological order, then the
outputs. A 0 entry means no connection; NaN marks a connection gene that exists but is disabled (it computes
nothing); any other value is an enabled connection with that weight. The weight values are only placeholders in a
WANN (the search sets every weight to 1; the authors' weight-tuning tool overwrites them).

``load_reference_matrix`` gives a nograd ``Genome`` (bias id 0, inputs 1..n, outputs next, hidden nodes numbered
after them in the file's order) whose connection genes keep the file's values in ``ConnGene.weight``;
``conn_weights`` turns them into the ``{(src, dst): weight}`` dict of ``evaluate_plain``. ``tool_weights`` reads the
tuned-weights JSON of the authors' tool (``WANNRelease/WANNTool/zoo/*.wann.json``: a list of parameters, one per
enabled connection in row-major order of the matrix, to which the task's ``weight_bias`` is added).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from nograd.wann.genome import ConnGene, Genome, GenomeError, NodeGene

__all__ = ["load_reference_matrix", "parse_reference_matrix", "conn_weights", "tool_weights"]


def parse_reference_matrix(text: str, n_inputs: int, n_outputs: int) -> Genome:
    """The genome of a reference matrix given as text (see the module docstring)."""
    rows = [[float(v) for v in line.split(",")] for line in text.strip().splitlines() if line.strip()]
    n = len(rows)
    if n == 0 or any(len(r) != n + 1 for r in rows):
        raise GenomeError(
            f"A reference network matrix must be N x (N + 1). Got {n} rows of lengths {sorted({len(r) for r in rows})}."
        )
    fixed_in = 1 + n_inputs
    if n < fixed_in + n_outputs:
        raise GenomeError(f"The matrix has {n} nodes; it needs at least {fixed_in + n_outputs}.")
    n_hidden = n - fixed_in - n_outputs
    # matrix position -> nograd node id
    ids = list(range(fixed_in))
    ids += [fixed_in + n_outputs + h for h in range(n_hidden)]
    ids += [fixed_in + o for o in range(n_outputs)]
    acts = [int(round(r[-1])) for r in rows]
    nodes = [NodeGene(0, "bias")] + [NodeGene(i, "input") for i in range(1, fixed_in)]
    nodes += [NodeGene(fixed_in + o, "output", acts[fixed_in + n_hidden + o]) for o in range(n_outputs)]
    nodes += [NodeGene(ids[fixed_in + h], "hidden", acts[fixed_in + h]) for h in range(n_hidden)]
    conns = []
    for i in range(n):
        for j in range(n):
            v = rows[i][j]
            if v == 0.0:
                continue
            enabled = not math.isnan(v)
            conns.append(ConnGene(len(conns), ids[i], ids[j], v if enabled else 1.0, enabled))
    genome = Genome(n_inputs, n_outputs, nodes, conns)
    genome.validate()
    return genome


def load_reference_matrix(path: str | Path, n_inputs: int = 5, n_outputs: int = 1) -> Genome:
    """The genome of the reference matrix file at ``path`` (defaults: swing-up's 5 inputs and 1 output)."""
    return parse_reference_matrix(Path(path).read_text(), n_inputs, n_outputs)


def conn_weights(genome: Genome) -> dict[tuple[int, int], float]:
    """Each active connection's stored weight, as ``evaluate_plain``'s ``conn_weights``."""
    return {(c.src, c.dst): c.weight for c in genome.active_conns()}


def tool_weights(genome: Genome, path: str | Path, weight_bias: float = -1.5) -> dict[tuple[int, int], float]:
    """Tuned weights of the authors' tool (JSON ``[[params...], score]``) for a genome made by
    ``load_reference_matrix``: parameter k plus ``weight_bias`` (swing-up: -1.5) is the k-th enabled connection's
    weight in row-major matrix order, which is the order of the genome's enabled connections."""
    params = json.loads(Path(path).read_text())[0]
    enabled = genome.active_conns()
    if len(params) != len(enabled):
        raise GenomeError(f"{path} has {len(params)} weights; the genome has {len(enabled)} enabled connections.")
    return {(c.src, c.dst): float(p) + weight_bias for c, p in zip(enabled, params)}
