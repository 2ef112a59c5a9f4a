"""Scoring WANN genomes on swing-up: the whole population x shared weights x repetitions as batched tensor ops.

``evaluate_swingup`` has two backends. By default ("auto") it runs the compiled numba kernel of
``nograd.wann.swingup_kernel``, which plays each genome's episodes to their ends in one loop: no per-op overhead
(a grown network's time step here is a hundred or more tiny tensor ops), every thread busy, and each episode
stopped when its cart leaves the track (see the wann-speed section of docs/benchmarks.md). This module's torch
evaluator, described below, is the fallback where numba is not installed, and stays selectable
(``backend="torch"``).

The reference (google/brain-tokyo-workshop, ``WANNRelease/WANN/wann_src/task.py: getDistFitness``) runs one
network, one weight, one time step at a time. Here all P genomes are packed into one graph
(``PackedPopulation``): every (genome, node) pair is a row of a node-value matrix whose columns are the W x R
rollouts of a genome (shared weight w, repetition r), so one time step is

    inputs  <- the environment writes its observation into the input rows (no copy)
    for each layer: values[layer rows] = act(f * w * (S_layer @ values))    (S_layer: sparse 0/1)
    action  <- the output rows, [n_out, P, W*R]

Rows are ordered by (packed layer, activation, genome, node), so each layer's rows are contiguous and every
activation is applied once per layer to a contiguous slice, whatever mixture of genomes is in the batch. A hidden
node's packed layer (its stage) may be later or earlier than its own layer, where its active connections allow and
a group of its activation already runs (``_schedule``: fewer groups, same results). The sum of a row's parents
(``embedding_bag`` in float32, a CSR product otherwise: both add the parents one by one, in a fixed order per
genome) is written into the layer's rows times one precomputed [rows, columns] scale, each row's factor f times each
column's weight w. f is -1 for -x, pi for sin(pi x) and cos(pi x) and 1/2 for the sigmoid, (tanh(x/2) + 1) / 2
(``PREMULTIPLY``), so linear and -x cost no op, sin and cos one and the sigmoid two (one where it shares a layer's
tanh op). Sums run over real parents only, so a non-finite value stays in its own genome's rollout. All
active connections (``Genome.active_conns``) carry the shared weight w, so w times the sum of the parents equals
the sum of w times each parent; the shared weights are powers of two, which makes that, and f w s = f (w s), exact.

Identical genomes (elites, and children whose mutation changed nothing) are scored once: rollout seeds are shared
across the population, so identical networks earn identical returns.

Every op gives each value the same bits wherever its row sits (``activation_ops``), so a population scored in
chunks and concatenated equals, bit for bit, the population scored whole; ``SwingUpPool`` scores the chunks in
worker processes (one core each: per-op Python overhead holds the GIL, so threads gain nothing).

``evaluate_plain`` is the one-network-at-a-time reference in Python floats; tests check that it, the torch
evaluator and the numba kernel agree.
"""

from __future__ import annotations

import multiprocessing
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import partial

import numpy as np
import torch
from torch import Tensor

from nograd.envs.swingup import MAX_STEPS, BatchedSwingUp, SwingUp, swingup_initial_states
from nograd.errors import MissingExtraError, WorkerError
from nograd.wann.activations import ACTIVATION_ORDER, PREMULTIPLY, activation_ops, scalar_activation
from nograd.wann.genome import Genome, node_layers

__all__ = [
    "SHARED_WEIGHTS",
    "BACKENDS",
    "resolve_backend",
    "numba_available",
    "PackedPopulation",
    "SwingUpPool",
    "WorkerError",
    "evaluate_swingup",
    "evaluate_plain",
    "genome_key",
    "distinct_genomes",
    "PlainNetwork",
]

#: The reference's "standard" weight set (``alg_wDist='standard'``, ``alg_nVals=6``).
SHARED_WEIGHTS: tuple[float, ...] = (-2.0, -1.0, -0.5, 0.5, 1.0, 2.0)


def genome_key(genome: Genome) -> tuple:
    """What the network computes depends on only this: active connections and node activations."""
    active = tuple(sorted((c.src, c.dst) for c in genome.active_conns()))
    return active, tuple((n.id, n.activation) for n in genome.nodes)


def distinct_genomes(genomes: Sequence[Genome]) -> tuple[list[Genome], list[int]]:
    """The first of each set of genomes that compute the same network, and each genome's index into that list."""
    keys: dict[tuple, int] = {}
    index = [keys.setdefault(genome_key(g), len(keys)) for g in genomes]
    unique: list[Genome] = []
    for g, k in zip(genomes, index):
        if k == len(unique):
            unique.append(g)
    return unique, index


class _Layer:
    """Rows [start, stop) of one layer: its parents in CSR form (row k's parents are the rows
    ``index[crow[k]:crow[k + 1]]``, sorted), each row's factor f and the layer's activation groups (relative
    slices; linear and -x, which need no op, left out)."""

    def __init__(
        self,
        start: int,
        stop: int,
        crow: list[int],
        index: list[int],
        factor: list[float],
        groups: list,
        device: torch.device | None = None,
    ):
        self.start, self.stop, self.groups = start, stop, groups
        self.crow = torch.tensor(crow, dtype=torch.int64, device=device)
        self.index = torch.tensor(index, dtype=torch.int64, device=device)
        self.factor = torch.tensor(factor, dtype=torch.float64, device=device).view(-1, 1)

    def parents(self, columns: int, dtype: torch.dtype) -> Tensor:
        """The sparse 0/1 [rows, columns] matrix of the layer's parents."""
        with warnings.catch_warnings():  # "Sparse CSR tensor support is in beta": CSR @ dense is all we use
            warnings.simplefilter("ignore")
            ones = torch.ones(len(self.index), dtype=dtype, device=self.index.device)
            size = (self.stop - self.start, columns)
            return torch.sparse_csr_tensor(self.crow, self.index, ones, size=size, check_invariants=False)


class PackedPopulation:
    """P genomes with the same inputs and outputs packed into one layered graph (see the module docstring).

    Row layout: the bias of genome p at row p; input i of genome p at row (1 + i) * P + p; hidden nodes sorted by
    (stage, activation, genome, node id); output o of genome p at ``output_start + o * P + p``. With
    ``shared_inputs`` (classification: every genome sees the same images) one bias row 0 and one row per input,
    1..n_inputs, serve every genome.

    ``device`` holds the index and scale tensors and the node values of ``new_values`` (default: the CPU); the
    ``values`` and ``weight`` passed to ``forward`` must be there too. The CPU computes what it always computed; a GPU
    sums the same parents in the same order, so it differs at most by the rounding of its own kernels.
    """

    def __init__(
        self,
        genomes: Sequence[Genome],
        dtype: torch.dtype = torch.float32,
        shared_inputs: bool = False,
        device: str | torch.device | None = None,
    ):
        if not genomes:
            raise ValueError("PackedPopulation needs at least one genome.")
        n_in, n_out = genomes[0].n_inputs, genomes[0].n_outputs
        if any((g.n_inputs, g.n_outputs) != (n_in, n_out) for g in genomes):
            raise ValueError("All genomes of a population must have the same numbers of inputs and outputs.")
        P = len(genomes)
        self.size, self.n_inputs, self.n_outputs, self.dtype = P, n_in, n_out, dtype
        self.shared_inputs = shared_inputs
        self.device = torch.device("cpu" if device is None else device)
        row: dict[tuple[int, int], int] = {}
        if not shared_inputs:  # shared inputs: node i <= n_inputs (bias, inputs) is row i of every genome
            for p in range(P):
                row[(p, 0)] = p
                for i in range(1, n_in + 1):
                    row[(p, i)] = i * P + p
        hidden = []  # (stage, activation, genome, node id)
        out_keys = []
        active = [genome.active_conns() for genome in genomes]  # once: a scan of every connection gene
        layers, stages = _schedule(genomes, active)
        for p, genome in enumerate(genomes):
            for n in genome.nodes:
                if n.kind == "hidden":
                    hidden.append((stages[p][n.id], n.activation, p, n.id))
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

        # Parents are summed in one fixed order per genome, by (layer, activation, id) (the row order without
        # scheduling), whatever stage the scheduler gives them: float addition is not associative.
        parents: dict[int, list[tuple[int, int]]] = {}
        for p, genome in enumerate(genomes):
            layer = layers[p]
            ranked = sorted(
                (layer[n.id], ACTIVATION_ORDER[n.activation] if layer[n.id] else 0, n.id) for n in genome.nodes
            )
            order = {node: k for k, (_, _, node) in enumerate(ranked)}
            for c in active[p]:
                src = c.src if shared_inputs and c.src <= n_in else row[(p, c.src)]
                parents.setdefault(row[(p, c.dst)], []).append((order[c.src], src))

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

    def _layer(self, start: int, stop: int, parents: dict[int, list], groups: list) -> _Layer:
        factor = [1.0] * (stop - start)
        for a, b, act in groups:
            factor[a:b] = [PREMULTIPLY.get(act, 1.0)] * (b - a)
        crow, cols = [0], []
        for r in range(start, stop):
            cols.extend(parent for _, parent in sorted(parents.get(r, [])))
            crow.append(len(cols))
        groups = [grp for grp in groups if grp[2] not in (1, 7)]
        return _Layer(start, stop, crow, cols, factor, groups, self.device)

    def new_values(self, columns: int) -> Tensor:
        """A [rows, columns] node-value buffer with the bias rows set to 1."""
        values = torch.zeros(self.rows, columns, dtype=self.dtype, device=self.device)
        values[: 1 if self.shared_inputs else self.size] = 1.0
        return values

    def input_rows(self, values: Tensor) -> Tensor:
        """The input rows of ``values``: [n_inputs, P, columns], or [n_inputs, columns] with ``shared_inputs``."""
        if self.shared_inputs:
            return values[1 : 1 + self.n_inputs]
        P = self.size
        return values[P : (1 + self.n_inputs) * P].view(self.n_inputs, P, -1)

    #: dtypes whose parents' sums use ``embedding_bag`` (float32: one fbgemm kernel, cheaper than a CSR product;
    #: in float64 it makes one BLAS call per parent, and the CSR product is cheaper). Both give the same bits.
    EMBEDDING_BAG_DTYPES: tuple[torch.dtype, ...] = (torch.float32,)

    def _bind(self, values: Tensor, weight: Tensor) -> list[Callable[[], object]]:
        """The whole forward pass as a list of bound ops on views of ``values``, made once per buffer and weight
        row, so a time step spends nothing on slicing or dispatch. Per layer: the parents' sums times the scale
        (each row's factor f times each column's weight, made here, once), written into the layer's rows, then
        the activations."""
        dtype = values.dtype
        ops: list[Callable[[], object]] = []
        for layer in [*self.layers, self.output_layer]:
            rows = values[layer.start : layer.stop]
            scale = layer.factor.to(dtype) * weight
            if dtype in self.EMBEDDING_BAG_DTYPES:
                ops.append(partial(_sum_parents, values, layer.index, layer.crow[:-1], scale, rows))
            else:
                parents = layer.parents(self.rows, dtype)
                ops += [partial(torch.mm, parents, values, out=rows), partial(rows.mul_, scale)]
            groups, k = layer.groups, 0
            while k < len(groups):
                a, b, act = groups[k]
                if act == 5 and k + 1 < len(groups) and groups[k + 1][2] == 6 and groups[k + 1][0] == b:
                    c = groups[k + 1][1]  # tanh rows, then sigmoid rows (holding u/2): one tanh_ for both
                    ops += [rows[a:c].tanh_, *activation_ops(6, rows[b:c], tanh_done=True)]
                    k += 2
                else:
                    ops += activation_ops(act, rows[a:b])
                    k += 1
        return ops

    def forward(self, values: Tensor, weight: Tensor) -> Tensor:
        """Fill the hidden and output rows of ``values`` layer by layer; return the outputs as [n_outputs, P, columns].

        ``weight`` is a [1, columns] row: the shared weight of each column. Each layer costs a sum of parents
        written, times the weights, straight into its rows (one op or two), and one op per activation present in
        the layer (two for the gaussian and the sigmoid; a layer's tanh and sigmoid groups share their tanh).
        """
        bound = getattr(self, "_bound_to", (None, None))
        if bound[0] is not values or bound[1] is not weight:
            self._ops, self._bound_to = self._bind(values, weight), (values, weight)
            self._outputs = values[self.output_start :].view(self.n_outputs, self.size, -1)
        for op in self._ops:
            op()
        return self._outputs


def _sum_parents(values: Tensor, index: Tensor, offsets: Tensor, scale: Tensor, out: Tensor) -> None:
    """``out = scale * (the rows of values summed bag by bag)``, in one kernel and one multiply."""
    torch.mul(torch.embedding_bag(values, index, offsets, False, 0, False, None, False)[0], scale, out=out)


def _schedule(
    genomes: Sequence[Genome], active: Sequence[list] | None = None
) -> tuple[list[dict[int, int]], list[dict[int, int]]]:
    """Per genome, ``node_layers`` and the stage (packed layer) of every hidden node.

    Every (stage, activation) group present costs an op or two per time step, so a node whose activation has a
    group in a stage between its parents' and its children's moves there (greedily, earliest
    first, nodes in layer order). Groups of nodes that cannot move later than their layer seed the set. Every
    activation op gives a value the same bits wherever it sits in its group (``activation_ops``), so moving a node
    changes no result.
    """
    layers = [node_layers(g) for g in genomes]
    if active is None:
        active = [genome.active_conns() for genome in genomes]
    nets = []
    for genome, layer, conns in zip(genomes, layers, active):
        hidden = sorted((layer[n.id], n.id, n.activation) for n in genome.nodes if n.kind == "hidden")
        parents: dict[int, list[int]] = {h: [] for _, h, _ in hidden}
        children: dict[int, list[int]] = {h: [] for _, h, _ in hidden}
        for c in conns:
            if c.src in parents and c.dst in parents:
                parents[c.dst].append(c.src)
                children[c.src].append(c.dst)
        nets.append((hidden, parents, children))
    depth = max((hidden[-1][0] for hidden, _, _ in nets if hidden), default=0)
    groups: set[tuple[int, int]] = set()
    latests = []
    for hidden, _, children in nets:
        latest: dict[int, int] = {}
        for own, h, act in reversed(hidden):
            last = depth
            for c in children[h]:
                last = min(last, latest[c] - 1)
            latest[h] = last
            if last == own and act not in (1, 7):
                groups.add((own, act))
        latests.append(latest)
    stages = []
    for (hidden, parents, _), latest in zip(nets, latests):
        stage: dict[int, int] = {}
        for _, h, act in hidden:
            first = 1
            for p in parents[h]:
                first = max(first, stage[p] + 1)
            if act in (1, 7):  # linear and -x cost nothing: as early as possible
                stage[h] = first
            else:
                stage[h] = first
                for s in range(first, latest[h] + 1):
                    if (s, act) in groups:
                        stage[h] = s
                        break
                groups.add((stage[h], act))
        stages.append(stage)
    return layers, stages


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
    pool: SwingUpPool | None = None,
    backend: str = "auto",
    threads: int | None = None,
) -> Tensor:
    """Returns [P, W, R]: the swing-up return of every genome with every shared weight on every repetition.

    Repetition r starts from ``swingup_initial_states(seed, generation, reps)[r]`` for every genome and weight.
    ``dedupe`` scores identical genomes once.

    ``backend`` (see ``resolve_backend``): "numba" runs every episode in the compiled kernel of
    ``nograd.wann.swingup_kernel``, on ``threads`` threads of this process (default ``torch.get_num_threads()``);
    each episode stops when it ends, and ``early_stop``, ``workers`` and ``pool`` are ignored. "torch" steps all
    episodes together as tensor ops (this module): ``early_stop`` checks every 64 steps whether every episode has
    ended and stops if so; ``pool`` (a ``SwingUpPool``, made once and reused) splits the genomes into one chunk
    per worker process, balanced by cost; ``workers`` > 1 with no pool makes a pool for this call only (its
    processes take a second or two to start). "auto" (default): numba where it is installed and the dtype is
    float32 or float64, else torch. Results depend on none of ``early_stop``, ``workers``, ``pool`` and
    ``threads``; the two backends agree up to rounding, not bit for bit.
    """
    backend = resolve_backend(backend, dtype)
    if dedupe:
        unique, index = distinct_genomes(genomes)
        if len(unique) < len(genomes):
            scores = evaluate_swingup(
                unique,
                seed,
                generation,
                reps,
                weights,
                steps,
                dtype,
                dedupe=False,
                early_stop=early_stop,
                workers=workers,
                pool=pool,
                backend=backend,
                threads=threads,
            )
            return scores[torch.tensor(index)]
    if backend == "numba":
        return _numba_rollouts(list(genomes), seed, generation, reps, weights, steps, dtype, threads)
    if pool is None and workers > 1 and len(genomes) > 1:
        with SwingUpPool(workers) as own:
            return own.evaluate(genomes, seed, generation, reps, weights, steps, dtype, early_stop)
    if pool is not None and pool.workers > 1 and len(genomes) > 1:
        return pool.evaluate(genomes, seed, generation, reps, weights, steps, dtype, early_stop)
    torch_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _rollouts(list(genomes), seed, generation, reps, weights, steps, dtype, early_stop)
    finally:
        torch.set_num_threads(torch_threads)


#: The backends of ``evaluate_swingup``.
BACKENDS: tuple[str, ...] = ("auto", "numba", "torch")
_NUMBA_HINT = "numba is not installed; install it with: pip install numba"
_numba_import: list[str | None] = []  # [None] once numba imported, [message] once it failed


def numba_available() -> bool:
    """Whether numba can be imported (checked once per process)."""
    if not _numba_import:
        try:
            import numba  # noqa: F401
        except ImportError as err:
            _numba_import.append(f"{_NUMBA_HINT} ({err})")
        else:
            _numba_import.append(None)
    return _numba_import[0] is None


def resolve_backend(backend: str, dtype: torch.dtype = torch.float32) -> str:
    """The swing-up backend that ``backend`` ("auto", "numba" or "torch") means for rollouts in ``dtype``.

    "auto" is "numba" where numba is installed and ``dtype`` is float32 or float64, else "torch". Asking for
    "numba" without numba raises ``MissingExtraError`` (an ImportError), with another dtype ValueError."""
    if backend not in BACKENDS:
        raise ValueError(f"Unknown swing-up backend {backend!r}; valid: {', '.join(BACKENDS)}.")
    if backend == "torch":
        return backend
    kernel_dtype = dtype in (torch.float32, torch.float64)
    if backend == "auto":
        return "numba" if kernel_dtype and numba_available() else "torch"
    if not numba_available():
        raise MissingExtraError(_numba_import[0])
    if not kernel_dtype:
        raise ValueError(f"The numba swing-up backend runs in float32 or float64. Got {dtype}.")
    return backend


def _numba_rollouts(
    genomes: list[Genome],
    seed: int,
    generation: int,
    reps: int,
    weights: Sequence[float],
    steps: int,
    dtype: torch.dtype,
    threads: int | None,
) -> Tensor:
    from nograd.wann import swingup_kernel

    compiled = swingup_kernel.compile_population(genomes)
    starts = swingup_initial_states(seed, generation, reps, dtype).numpy()
    np_dtype = np.float32 if dtype == torch.float32 else np.float64
    threads = torch.get_num_threads() if threads is None else threads
    return torch.from_numpy(swingup_kernel.rollouts(compiled, weights, starts, steps, np_dtype, threads))


class SwingUpPool:
    """Worker processes that score chunks of a swing-up population; made once, reused every generation, closed
    at the end (or used as a context manager).

    Each worker runs torch with one intra-op thread. Genomes go to the workers as plain picklable dataclasses,
    returns come back as arrays; a chunk's returns equal, bit for bit, those of the same genomes scored in one
    process (see the module docstring), so the result is the same for any number of workers. Processes are
    started with ``start_method`` (default "spawn": a fresh interpreter, safe whatever threads this process runs).
    """

    def __init__(self, workers: int, start_method: str = "spawn"):
        if workers < 1:
            raise ValueError(f"SwingUpPool needs at least one worker. Got {workers}.")
        self.workers = workers
        context = multiprocessing.get_context(start_method)
        self._executor: ProcessPoolExecutor | None = ProcessPoolExecutor(
            workers, mp_context=context, initializer=_init_worker
        )

    def __enter__(self) -> SwingUpPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        return self._executor is None

    def close(self) -> None:
        """Stop the worker processes (waits for them; pending chunks are cancelled). Safe to call twice."""
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)

    def evaluate(
        self,
        genomes: Sequence[Genome],
        seed: int,
        generation: int,
        reps: int,
        weights: Sequence[float],
        steps: int,
        dtype: torch.dtype,
        early_stop: bool,
    ) -> Tensor:
        """[P, W, R] returns of ``genomes`` (no dedupe: ``evaluate_swingup`` does that), one chunk per worker."""
        if self._executor is None:
            raise WorkerError("This SwingUpPool is closed.")
        if any((g.n_inputs, g.n_outputs) != (5, 1) for g in genomes):
            raise ValueError("Swing-up networks have 5 inputs and 1 output.")
        chunks = _balanced_chunks(genomes, min(self.workers, len(genomes)))
        args = (seed, generation, reps, tuple(weights), steps, dtype, early_stop)
        futures: list[Future] = []
        try:
            for part in chunks:
                futures.append(self._executor.submit(_worker_rollouts, [genomes[i] for i in part], *args))
            parts = [f.result() for f in futures]
        except BrokenProcessPool as err:
            self.close()
            raise WorkerError(
                "A WANN evaluation worker process died (out of memory or killed?); the pool is shut down. "
                "Run with --workers 1 to evaluate in this process."
            ) from err
        except Exception as err:
            self.close()
            raise WorkerError(
                f"A WANN evaluation worker failed with {type(err).__name__}: {err}; the pool is shut down. "
                "Run with --workers 1 to see the error in this process."
            ) from err
        out = torch.empty(len(genomes), len(weights), reps, dtype=dtype)
        for part, scores in zip(chunks, parts):
            out[torch.tensor(part)] = torch.from_numpy(scores)
        return out


def _init_worker() -> None:
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")


def _worker_rollouts(
    genomes: list[Genome],
    seed: int,
    generation: int,
    reps: int,
    weights: Sequence[float],
    steps: int,
    dtype: torch.dtype,
    early_stop: bool,
) -> np.ndarray:
    return _rollouts(genomes, seed, generation, reps, weights, steps, dtype, early_stop).numpy()


def _balanced_chunks(genomes: Sequence[Genome], parts: int) -> list[list[int]]:
    """Split genome indices into ``parts`` lists of about equal total size (nodes + active connections)."""
    cost = [len(g.nodes) + g.num_active for g in genomes]
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
    with torch.inference_mode():  # skips autograd's bookkeeping: about a tenth of the cost of these small ops
        for t in range(steps):
            action = packed.forward(values, weight)
            env.step(action[0])
            if early_stop and t % 64 == 63 and bool(env.dead.all()):
                break
    return env.returns.view(P, W, R)  # made outside inference mode, so callers may change it in place


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
        for c in genome.active_conns():
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
