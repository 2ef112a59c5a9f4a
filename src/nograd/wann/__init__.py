"""Weight agnostic neural networks (Gaier & Ha, NeurIPS 2019): genomes, mutation, NSGA-II ranking, ask/tell search,
and evaluation of a whole population on every shared weight at once (swing-up by default in a compiled numba
kernel, ``nograd.wann.swingup_kernel``; otherwise as batched tensor ops).

Reference implementation: google/brain-tokyo-workshop, folder ``WANNRelease/WANN`` (each module cites the files
it follows).
"""

from nograd.wann.activations import ACTIVATION_NAMES, CLASSIFY_ACTIVATIONS, CONTROL_ACTIVATIONS
from nograd.wann.evaluate import SHARED_WEIGHTS, PackedPopulation, SwingUpPool, evaluate_plain, evaluate_swingup
from nograd.wann.export import GenomeModule, to_module
from nograd.wann.genome import ConnGene, Genome, GenomeError, NodeGene, node_layers
from nograd.wann.mutation import mutate
from nograd.wann.ranking import crowding_distance, nondominated_fronts, nsga_rank
from nograd.wann.search import WANN

__all__ = [
    "WANN",
    "Genome",
    "NodeGene",
    "ConnGene",
    "GenomeError",
    "node_layers",
    "mutate",
    "nsga_rank",
    "nondominated_fronts",
    "crowding_distance",
    "PackedPopulation",
    "evaluate_swingup",
    "SwingUpPool",
    "evaluate_plain",
    "SHARED_WEIGHTS",
    "GenomeModule",
    "to_module",
    "ACTIVATION_NAMES",
    "CONTROL_ACTIVATIONS",
    "CLASSIFY_ACTIVATIONS",
]
