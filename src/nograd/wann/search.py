"""WANN search (Gaier & Ha, NeurIPS 2019): ask/tell over genomes, state as a plain dict.

The generation loop of the reference (google/brain-tokyo-workshop, ``WANNRelease/WANN/wann_src/wann.py`` and
``_variation.py: recombine``; defaults from ``WANNRelease/WANN/p/default_wan.json``, per-task settings in
``p/swingup.json``, ``p/biped.json``, ``p/mnist256.json``):

1. ``ask`` at generation 0: ``population`` copies of the fully connected genome with no hidden nodes, each
   connection enabled with probability ``p_init_enable``.
2. ``tell(mean, max)``: fitness = mean over the shared weights, and the best weight's fitness.
3. ``ask`` afterwards: rank by NSGA-II (``ranking.nsga_rank``) on [mean, 1/connections] with probability
   ``prob_moo``, else [mean, max]; sort by rank; cull the worst ``floor(cull_ratio * P)``; of those left the best
   ``floor(elite_ratio * left)`` pass unchanged (and are evaluated again); every other child is one mutation
   (``mutation.mutate``) of a parent chosen by tournaments drawn with replacement from those left (best rank
   wins): the better winner of two tournaments of ``tournament_size``, as in the reference's ``recombine``, which
   draws parents A and B for a crossover that ``prob_crossover=0`` never makes and mutates the fitter of the two.
   The selection pressure is thus that of one tournament of ``2 * tournament_size``. No speciation, no crossover.

Genomes are expressed as the reference expresses them (``expression="reference"``, see ``nograd.wann.genome``): a
disabled connection between two hidden nodes still carries the signal and counts as a connection. ``"genes"``
gives disabled genes no effect (NEAT's meaning).

Randomness is addressed: generation g's initial population, ranking coin and tournaments come from
``(seed, 'wann', g, 'select')`` and child i's mutation from ``(seed, 'wann', g, 'child', i)``. Innovation numbers
and hidden node ids come from counters in the state, assigned in child order, so a run resumed from
``state_dict()`` makes exactly the generations it would have made.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from nograd._validation import Interval, Options, validate_params
from nograd.errors import CheckpointError
from nograd.seeding import addressed_generator
from nograd.wann.activations import ACTIVATION_NAMES, CONTROL_ACTIVATIONS
from nograd.wann.genome import EXPRESSIONS, Genome
from nograd.wann.mutation import Counters, mutate
from nograd.wann.ranking import CROWDING_RULES, nsga_rank

__all__ = ["WANN"]

STATE_FORMAT = "nograd-wann-search-v1"


class WANN:
    """Weight agnostic neural network search.

    Args:
        n_inputs, n_outputs: the task's input and output sizes.
        population: genomes per generation (default: 192, swing-up's setting).
        p_init_enable: chance that each initial connection is enabled (default: 0.5).
        tournament_size: size of each of the two tournaments a parent is the better winner of (default: 8).
        cull_ratio: share of the ranked population removed before selection (default: 0.2).
        elite_ratio: share of those left passed on unchanged (default: 0.2).
        prob_moo: chance of ranking on [mean, 1/connections] instead of [mean, max] (default: 0.8).
        crowding: the crowding-distance rule within a front, "reference" (the authors' code, default) or "nsga2"
            (each objective normalised by its range); see ``nograd.wann.ranking``.
        prob_add_conn, prob_add_node, prob_enable, prob_activation: roulette weights of the four topology
            mutations (default: 0.20, 0.25, 0.05, 0.50).
        activations: activation ids a hidden node may take (default: 1..10, the control tasks').
        expression: how the genomes' connection genes are expressed, "reference" (default: a disabled connection
            between two hidden nodes still works, as in the authors' code) or "genes"; see ``nograd.wann.genome``.
        seed: the run seed every random draw is addressed from (default: 0).
    """

    _constraints = {
        "population": Interval(int, 2, None),
        "p_init_enable": Interval(float, 0, 1),
        "tournament_size": Interval(int, 1, None),
        "cull_ratio": Interval(float, 0, 1, closed="left"),
        "elite_ratio": Interval(float, 0, 1, closed="left"),
        "prob_moo": Interval(float, 0, 1),
        "crowding": Options(CROWDING_RULES),
        "expression": Options(EXPRESSIONS),
        "prob_add_conn": Interval(float, 0, None),
        "prob_add_node": Interval(float, 0, None),
        "prob_enable": Interval(float, 0, None),
        "prob_activation": Interval(float, 0, None),
        "seed": Interval(int, 0, None),
    }

    def __init__(
        self,
        n_inputs: int,
        n_outputs: int,
        population: int = 192,
        p_init_enable: float = 0.5,
        tournament_size: int = 8,
        cull_ratio: float = 0.2,
        elite_ratio: float = 0.2,
        prob_moo: float = 0.8,
        crowding: str = "reference",
        prob_add_conn: float = 0.20,
        prob_add_node: float = 0.25,
        prob_enable: float = 0.05,
        prob_activation: float = 0.50,
        activations: tuple[int, ...] = CONTROL_ACTIVATIONS,
        expression: str = "reference",
        seed: int = 0,
    ):
        hyper = {k: v for k, v in locals().items() if k in self._constraints}
        validate_params("WANN", hyper, self._constraints)
        probs = (prob_add_conn, prob_add_node, prob_enable, prob_activation)
        if sum(probs) <= 0:
            raise ValueError("The WANN mutation probabilities must not all be 0.")
        activations = tuple(int(a) for a in activations)
        if not activations or any(a not in ACTIVATION_NAMES for a in activations):
            raise ValueError(f"The 'activations' parameter of WANN must be ids in 1..11. Got {activations!r} instead.")
        self.n_inputs, self.n_outputs = int(n_inputs), int(n_outputs)
        self.hyper = hyper
        self.probs = probs
        self.activations = activations
        self.seed = seed
        self.generation = 0
        self.population: list[Genome] = []
        self.fitness: np.ndarray | None = None  # mean over shared weights, per genome
        self.fitness_max: np.ndarray | None = None
        self.counters = Counters(innovation=(n_inputs + 1) * n_outputs, node=n_inputs + n_outputs + 1)
        self.last_mutations: list[str] = []
        self.last_parents: list[int] = []  # pool index (0 best) of each mutated child's parent, last generation

    # -- ask / tell -----------------------------------------------------------------------------------------
    def ask(self) -> list[Genome]:
        """The genomes of the current generation, to be scored (as one batch) and passed to ``tell``."""
        if self.fitness is None and self.population:
            return self.population  # asked twice without a tell
        if self.generation == 0:
            self.population = self._initial_population()
        else:
            self.population = self._next_population()
        self.fitness = self.fitness_max = None
        return self.population

    def tell(self, fitness: Any, fitness_max: Any) -> None:
        """Record each genome's mean (over shared weights) and best-weight fitness; higher is better; NaN worst."""
        mean = np.asarray(torch.as_tensor(fitness, dtype=torch.float64).cpu(), dtype=np.float64).reshape(-1)
        best = np.asarray(torch.as_tensor(fitness_max, dtype=torch.float64).cpu(), dtype=np.float64).reshape(-1)
        if len(mean) != len(self.population) or len(best) != len(self.population):
            raise ValueError(
                f"tell() needs one fitness per genome ({len(self.population)}). Got {len(mean)} and {len(best)}."
            )
        self.fitness, self.fitness_max = mean, best
        self.generation += 1

    # -- generations ----------------------------------------------------------------------------------------
    def _initial_population(self) -> list[Genome]:
        rng = addressed_generator(self.seed, "wann", 0, "select")
        count = (self.n_inputs + 1) * self.n_outputs
        p = self.hyper["p_init_enable"]
        return [
            Genome.fully_connected(
                self.n_inputs,
                self.n_outputs,
                (torch.rand(count, generator=rng, dtype=torch.float64) < p).tolist(),
                self.hyper["expression"],
            )
            for _ in range(self.hyper["population"])
        ]

    def rank(self, rng: torch.Generator) -> np.ndarray:
        """NSGA-II rank of each genome of the last told generation (0 best); draws the objective coin from rng."""
        assert self.fitness is not None and self.fitness_max is not None
        connections = np.array([max(g.num_active, 1) for g in self.population], dtype=np.float64)
        use_connections = float(torch.rand((), generator=rng, dtype=torch.float64)) < self.hyper["prob_moo"]
        second = 1.0 / connections if use_connections else self.fitness_max
        return nsga_rank(np.stack([self.fitness, second], axis=1), self.hyper["crowding"])

    def _next_population(self) -> list[Genome]:
        if self.fitness is None:
            raise RuntimeError("WANN.ask() was called again before tell() scored the last generation.")
        g = self.generation
        rng = addressed_generator(self.seed, "wann", g, "select")
        rank = self.rank(rng)
        ordered = [self.population[i] for i in np.argsort(rank, kind="stable")]
        size = self.hyper["population"]
        cull = math.floor(self.hyper["cull_ratio"] * len(ordered))
        pool = ordered[: len(ordered) - cull] if cull > 0 else ordered
        elites = min(math.floor(len(pool) * self.hyper["elite_ratio"]), size)
        children = [genome.copy() for genome in pool[:elites]]
        n_children = size - elites
        # Two tournaments per child, the better winner is the parent (the reference draws parents A and B for
        # crossover and, with crossover off, mutates the fitter of the two): a tournament of 2 * tournament_size.
        tournaments = torch.randint(len(pool), (2, n_children, self.hyper["tournament_size"]), generator=rng)
        winners = tournaments.amin(dim=(0, 2)).tolist()  # the pool is sorted, so the lowest index wins
        self.last_parents = winners
        self.last_mutations = []
        for i, parent in enumerate(winners):
            child_rng = addressed_generator(self.seed, "wann", g, "child", elites + i)
            child, kind, _ = mutate(pool[parent], child_rng, self.counters, self.probs, self.activations)
            children.append(child)
            self.last_mutations.append(kind)
        return children

    # -- state ------------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything the next generation depends on, as plain Python data (lists, dicts, numbers, strings)."""
        return {
            "format": STATE_FORMAT,
            "n_inputs": self.n_inputs,
            "n_outputs": self.n_outputs,
            "hyper": dict(self.hyper),
            "probs": list(self.probs),
            "activations": list(self.activations),
            "generation": self.generation,
            "population": [g.to_dict() for g in self.population],
            "fitness": None if self.fitness is None else self.fitness.tolist(),
            "fitness_max": None if self.fitness_max is None else self.fitness_max.tolist(),
            "counters": {"innovation": self.counters.innovation, "node": self.counters.node},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
            found = state.get("format") if isinstance(state, dict) else type(state).__name__
            raise CheckpointError(f"Not a WANN search state (format {found!r}; expected {STATE_FORMAT!r}).")
        if (state["n_inputs"], state["n_outputs"]) != (self.n_inputs, self.n_outputs):
            raise CheckpointError(
                f"The WANN state is for {state['n_inputs']} inputs and {state['n_outputs']} outputs; "
                f"this search has {self.n_inputs} and {self.n_outputs}."
            )
        # States saved before these options existed ranked and expressed genomes this way.
        self.hyper = {"crowding": "nsga2", "expression": "genes", **state["hyper"]}
        self.probs = tuple(float(p) for p in state["probs"])
        self.activations = tuple(int(a) for a in state["activations"])
        self.seed = int(self.hyper["seed"])
        self.generation = int(state["generation"])
        self.population = [Genome.from_dict(g) for g in state["population"]]
        self.fitness = None if state["fitness"] is None else np.asarray(state["fitness"], dtype=np.float64)
        self.fitness_max = None if state["fitness_max"] is None else np.asarray(state["fitness_max"], dtype=np.float64)
        self.counters = Counters(int(state["counters"]["innovation"]), int(state["counters"]["node"]))
