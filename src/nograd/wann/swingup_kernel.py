"""Scoring WANN genomes on swing-up in compiled code: a numba kernel plays each episode to its end.

The torch evaluator (``nograd.wann.evaluate``) steps every rollout together, so each time step costs a hundred or
more tiny tensor ops, and for grown networks their per-op overhead, not the arithmetic, is what takes the time. Here
the rollouts of one genome (shared weight w, repetition r: its *columns*) run their whole episodes in one compiled
loop, a block of up to ``BLOCK`` columns at a time:

    for each step, while a column of the block is live:
        values[inputs] <- [x, x', cos t, sin t, t'] of each column      (the bias row holds 1)
        for each hidden node, in layer order, then the output, for each column:
            values[node] = act(w * sum of values[parents])
        for each column: F <- clip(output, -1, 1) * force; one Euler step as ``BatchedSwingUp.step``; add the
        reward; a column whose cart left |x| <= 2.4 is done and leaves the block

The same kernel rolls out individual connection weights (``rollouts(..., edge_weights=...)``, what
``nograd.wann.tune.rollout_weights`` runs for CMA-ES): a column is then a weight *vector* and a repetition (or a
vector's own start state), and a node is act(w * sum over its connections of edge weight * parent), the semantics
of ``PlainNetwork(genome, conn_weights)``; each block keeps its columns' edge weights beside their node values.
numba compiles the shared-weight and the per-connection case as two specialisations of the one kernel
(``edge_weights`` None or an array), so the shared-weight loop is unchanged.

A node is computed for all of the block's columns in one loop: one column alone would wait on each node's latency in
turn (a grown network is a chain of 20 layers, each step depending on the last), while independent columns
overlap. Each column stops when its episode ends, so a generation costs the steps its episodes last, not 1000
steps of each.

``compile_population`` turns genomes into flat arrays (``CompiledPopulation``): per genome its rows in evaluation
order (bias, inputs, hidden nodes sorted by (layer, activation rank, id) as the packed evaluator sorts them,
outputs), per row its activation id and its parents' rows (CSR) from ``Genome.active_conns``, so each node
adds its parents in the packed evaluator's order, and per parent entry its connection's position in
``Genome.active_conns`` (where its edge weight is read). The activations are ``scalar_activation``'s formulas (the
sigmoid is (tanh(x/2) + 1) / 2, step is x > 0), the physics is ``BatchedSwingUp.step``'s rearrangement. State,
node values and returns stay in the requested dtype (float32 or float64): every constant is read from an array of
that dtype, so no operation widens to float64. Results agree with the torch evaluator up to rounding (a
transcendental function here and there rounds its last bit differently; over a closed-loop episode such
differences grow), not bit for bit.

Each column's arithmetic is the same wherever it sits in a block, so ``rollouts`` hands blocks to threads in any
order (the costliest first, each thread taking the next one left; the kernel releases the GIL) and every return
is the same, bit for bit, whatever the number of threads. The kernel is compiled once per dtype and case on first
use and cached on disk (``cache=True``): a few seconds the first time, a fraction of a second to load after that.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numba
import numpy as np

from nograd.envs.swingup import CART_MASS, DT, FORCE, FRICTION, GRAVITY, POLE_LENGTH, POLE_MASS, X_LIMIT
from nograd.wann.activations import ACTIVATION_NAMES, ACTIVATION_ORDER
from nograd.wann.genome import Genome, node_layers

__all__ = ["CompiledPopulation", "compile_population", "rollouts", "KERNEL_DTYPES"]

#: The numpy dtypes the kernel is compiled for.
KERNEL_DTYPES: tuple[type, ...] = (np.float32, np.float64)

_TOTAL = CART_MASS + POLE_MASS
_MPL = POLE_MASS * POLE_LENGTH
#: The kernel's constants, by index (``_constants`` turns them into an array of the rollout's dtype).
_CONSTANTS = (
    0.0,  # 0
    1.0,  # 1
    0.5,  # 2
    math.pi,  # 3
    FORCE,  # 4
    FRICTION,  # 5
    4 * _TOTAL,  # 6: the denominator is 4 (m_c + m_p) - 3 m_p cos^2 t
    3 * POLE_MASS,  # 7
    0.75 * POLE_MASS * GRAVITY,  # 8
    0.5 * _MPL,  # 9
    _TOTAL * GRAVITY,  # 10
    DT,  # 11
    4.0 * DT,  # 12
    6.0 * DT / POLE_LENGTH,  # 13
    math.pi / 2.0 / X_LIMIT,  # 14
    X_LIMIT,  # 15
)


@dataclass(frozen=True)
class CompiledPopulation:
    """P genomes as flat arrays. Genome p owns rows ``row_start[p]:row_start[p + 1]`` in evaluation order: the
    bias, the inputs, the hidden nodes, the outputs. Row k computes ``act[k]`` of the weight times the sum of the
    rows ``row_start[p] + parents[crow[k]:crow[k + 1]]`` (parents as indices within the genome's rows, in the order
    they are added); bias and input rows have ``act`` 0 and no parents. ``edge_conn[e]`` says which connection
    parent entry e is: genome p's connections are numbered ``crow[row_start[p]]`` on, in ``Genome.active_conns``
    order (the order of ``GenomeModule.connections``), which is how ``rollouts`` reads ``edge_weights``."""

    n_inputs: int
    n_outputs: int
    row_start: np.ndarray  # int64 [P + 1]
    act: np.ndarray  # int64 [rows]
    crow: np.ndarray  # int64 [rows + 1]
    parents: np.ndarray  # int64 [sum of active connections]
    edge_conn: np.ndarray  # int64 [sum of active connections]

    @property
    def size(self) -> int:
        return len(self.row_start) - 1


def compile_population(genomes: Sequence[Genome]) -> CompiledPopulation:
    """Flat arrays of ``genomes`` (see ``CompiledPopulation``); every genome must have the first's inputs and
    outputs. Hidden nodes are sorted by (layer, ``ACTIVATION_ORDER``, id) and each node's parents by that rank, so
    a node adds its parents in the order ``PackedPopulation`` adds them."""
    if not genomes:
        raise ValueError("compile_population needs at least one genome.")
    n_in, n_out = genomes[0].n_inputs, genomes[0].n_outputs
    row_start, act, crow, parents, edge_conn = [0], [], [0], [], []
    for genome in genomes:
        if (genome.n_inputs, genome.n_outputs) != (n_in, n_out):
            raise ValueError("All genomes of a population must have the same numbers of inputs and outputs.")
        for n in genome.nodes:
            if n.kind in ("hidden", "output") and n.activation not in ACTIVATION_NAMES:
                raise ValueError(f"Unknown WANN activation id {n.activation} (node {n.id}). Valid ids: 1..11.")
        layer = node_layers(genome)
        fixed = [n for n in genome.nodes if n.kind in ("bias", "input")]
        hidden = sorted(
            (n for n in genome.nodes if n.kind == "hidden"),
            key=lambda n: (layer[n.id], ACTIVATION_ORDER[n.activation], n.id),
        )
        outputs = [n for n in genome.nodes if n.kind == "output"]
        order = fixed + hidden + outputs
        row = {n.id: k for k, n in enumerate(order)}
        into: dict[int, list[tuple[int, int]]] = {}
        first = len(parents)  # this genome's connections are numbered from here
        for i, c in enumerate(genome.active_conns()):
            into.setdefault(c.dst, []).append((row[c.src], first + i))
        for n in order:
            act.append(0 if n.kind in ("bias", "input") else n.activation)
            for parent, conn in sorted(into.get(n.id, [])):
                parents.append(parent)
                edge_conn.append(conn)
            crow.append(len(parents))
        row_start.append(row_start[-1] + len(order))
    arrays = (np.asarray(a, dtype=np.int64) for a in (row_start, act, crow, parents, edge_conn))
    return CompiledPopulation(n_in, n_out, *arrays)


def _rollout_blocks(units, row_start, act, crow, parents, weights, edge_weights, starts, steps, const, out):
    """Run the columns of ``units`` to the end of their episodes; write each column's return into ``out``.

    ``units`` is [U, 3]: (genome p, first column, stop column), a block of one genome's columns; column c is
    (weight ``c // R``, repetition ``c % R``) and starts from ``starts[c // R, c % R]`` (``starts`` [W, R, 4]) or
    ``starts[0, c % R]`` ([1, R, 4]). Row k of column c is ``act[k](weights[c // R] * s)``, s the sum of its
    parents, or with ``edge_weights`` ([edges, W]; None: all 1) the sum over its parent entries e of
    ``edge_weights[e, c // R] * parent``. numba compiles the two cases apart (``edge_weights is None`` is decided
    at compile time), so the shared-weight kernel pays nothing for the option. A block's node values are one
    [rows, columns] array, so each
    node is computed for all of the block's columns in one loop (independent iterations: the CPU overlaps them,
    while one column alone would wait on each node's latency in turn). A column that ends leaves the block (the
    last live column takes its place), so every loop runs over live columns only. Each column's arithmetic is the
    same wherever it sits, so the results do not depend on the blocks.

    Plain Python that numba compiles (``_kernel``); every float is an element of an array of the rollout's dtype
    (``const`` holds the constants, see ``_CONSTANTS``), so float32 rollouts stay float32."""
    R = out.shape[2]
    zero, one, half, pi = const[0], const[1], const[2], const[3]
    force, friction, four_total, three_mp = const[4], const[5], const[6], const[7]
    x_coef, q_coef, tg, dt = const[8], const[9], const[10], const[11]
    x_dot_dt, theta_dot_dt, x_to_angle, x_limit = const[12], const[13], const[14], const[15]
    width = 0
    for u in range(units.shape[0]):
        width = max(width, units[u, 2] - units[u, 1])
    rows, links = 0, 0
    for p in range(out.shape[0]):
        rows = max(rows, row_start[p + 1] - row_start[p])
        links = max(links, crow[row_start[p + 1]] - crow[row_start[p]])
    values = np.empty((rows, width), dtype=out.dtype)
    state = np.empty((8, width), dtype=out.dtype)  # x, x', t, t', cos t, sin t, weight, return
    column = np.empty(width, dtype=np.int64)
    if edge_weights is not None:  # the block's columns' edge weights, [edges of the genome, columns]
        block_weights = np.empty((links, width), dtype=out.dtype)
    for u in range(units.shape[0]):
        p, first, n = units[u, 0], units[u, 1], units[u, 2] - units[u, 1]
        start, size = row_start[p], row_start[p + 1] - row_start[p]
        first_edge, edges = crow[start], crow[start + size] - crow[start]
        x, x_dot, theta, theta_dot = state[0], state[1], state[2], state[3]
        cos_t, sin_t, w, total = state[4], state[5], state[6], state[7]
        for j in range(n):
            col = first + j
            column[j] = col
            r, s = col % R, col // R if starts.shape[0] > 1 else 0
            x[j], x_dot[j], theta[j], theta_dot[j] = starts[s, r, 0], starts[s, r, 1], starts[s, r, 2], starts[s, r, 3]
            cos_t[j], sin_t[j] = math.cos(theta[j]), math.sin(theta[j])
            w[j] = weights[col // R]
            total[j] = zero
            values[0, j] = one
            if edge_weights is not None:
                for e in range(edges):
                    block_weights[e, j] = edge_weights[first_edge + e, col // R]
        for _ in range(steps):
            if n == 0:
                break
            for j in range(n):
                values[1, j] = x[j]
                values[2, j] = x_dot[j]
                values[3, j] = cos_t[j]
                values[4, j] = sin_t[j]
                values[5, j] = theta_dot[j]
            for k in range(6, size):  # bias and 5 inputs, then the computed rows
                row = start + k
                for j in range(n):
                    values[k, j] = zero
                for e in range(crow[row], crow[row + 1]):
                    parent = parents[e]
                    if edge_weights is None:
                        for j in range(n):
                            values[k, j] += values[parent, j]
                    else:
                        for j in range(n):
                            values[k, j] += block_weights[e - first_edge, j] * values[parent, j]
                a = act[row]
                if a == 1:  # linear
                    for j in range(n):
                        values[k, j] = w[j] * values[k, j]
                elif a == 2:  # step (0 for NaN)
                    for j in range(n):
                        values[k, j] = one if w[j] * values[k, j] > zero else zero
                elif a == 3:  # sin(pi x)
                    for j in range(n):
                        values[k, j] = math.sin(pi * (w[j] * values[k, j]))
                elif a == 4:  # gaussian
                    for j in range(n):
                        v = w[j] * values[k, j]
                        values[k, j] = math.exp(-(v * v) * half)
                elif a == 5:  # tanh
                    for j in range(n):
                        values[k, j] = math.tanh(w[j] * values[k, j])
                elif a == 6:  # sigmoid, the reference's formula
                    for j in range(n):
                        values[k, j] = (math.tanh(w[j] * values[k, j] * half) + one) * half
                elif a == 7:  # -x
                    for j in range(n):
                        values[k, j] = -(w[j] * values[k, j])
                elif a == 8:  # |x|
                    for j in range(n):
                        values[k, j] = abs(w[j] * values[k, j])
                elif a == 9:  # relu (NaN stays NaN)
                    for j in range(n):
                        v = w[j] * values[k, j]
                        values[k, j] = zero if v <= zero else v
                elif a == 10:  # cos(pi x)
                    for j in range(n):
                        values[k, j] = math.cos(pi * (w[j] * values[k, j]))
                else:  # 11: x^2
                    for j in range(n):
                        v = w[j] * values[k, j]
                        values[k, j] = v * v
            for j in range(n):
                action = values[size - 1, j]
                if action > one:  # clip to [-1, 1]; NaN stays NaN
                    action = one
                elif action < -one:
                    action = -one
                sin_old, cos_old = sin_t[j], cos_t[j]
                net_force = action * force - friction * x_dot[j]  # F - b x'
                q = theta_dot[j] * theta_dot[j] * sin_old
                denominator = four_total - three_mp * cos_old * cos_old
                x_num = net_force + x_coef * (sin_old * cos_old) - q_coef * q
                theta_num = (net_force - q_coef * q) * cos_old + tg * sin_old
                x[j] = x[j] + x_dot[j] * dt  # positions move with the old velocities
                theta[j] = theta[j] + theta_dot[j] * dt
                x_dot[j] = x_dot[j] + x_dot_dt * (x_num / denominator)
                theta_dot[j] = theta_dot[j] + theta_dot_dt * (theta_num / denominator)
                sin_t[j], cos_t[j] = math.sin(theta[j]), math.cos(theta[j])
                reward = math.cos(x[j] * x_to_angle)
                total[j] += (reward + reward * cos_t[j]) * half  # cos(x pi / 4.8) (1 + cos t) / 2
            j = 0
            while j < n:  # a column whose cart left |x| <= 2.4 is done: the last live column takes its place
                if x[j] > x_limit or x[j] < -x_limit:
                    out[p, column[j] // R, column[j] % R] = total[j]
                    n -= 1
                    for f in range(8):
                        state[f, j] = state[f, n]
                    column[j] = column[n]
                    if edge_weights is not None:
                        for e in range(edges):
                            block_weights[e, j] = block_weights[e, n]
                else:
                    j += 1
        for j in range(n):
            out[p, column[j] // R, column[j] % R] = total[j]


_kernel = numba.njit(nogil=True, cache=True)(_rollout_blocks)


#: The most columns of one genome in one block of the kernel (a search's genome has 6 weights x 3 reps = 18).
BLOCK = 64


def _units(compiled: CompiledPopulation, columns: int) -> np.ndarray:
    """[U, 3] blocks (genome, first column, stop column) of at most ``BLOCK`` columns, the costliest first."""
    units = [(p, c, min(c + BLOCK, columns)) for p in range(compiled.size) for c in range(0, columns, BLOCK)]
    rows = np.diff(compiled.row_start)
    links = compiled.crow[compiled.row_start[1:]] - compiled.crow[compiled.row_start[:-1]]
    units.sort(key=lambda unit: -(rows[unit[0]] + links[unit[0]]) * (unit[2] - unit[1]))
    return np.array(units, dtype=np.int64).reshape(-1, 3)


def _constants(dtype: type) -> np.ndarray:
    return np.array(_CONSTANTS, dtype=dtype)


def rollouts(
    compiled: CompiledPopulation,
    weights: Sequence[float],
    starts: np.ndarray,
    steps: int,
    dtype: type = np.float32,
    threads: int = 1,
    edge_weights: np.ndarray | None = None,
) -> np.ndarray:
    """[P, W, R] swing-up returns: genome p with weight ``weights[w]`` from start state ``starts[r]`` ([R, 4]: x,
    x', t, t') or ``starts[w, r]`` ([W, R, 4]: each weight its own starts), at most ``steps`` steps, in ``dtype``
    (np.float32 or np.float64), on ``threads`` threads (the calling one and threads - 1 more, each taking the next
    block of columns left). The result does not depend on ``threads``.

    ``edge_weights`` ([W, connections], connections = ``len(compiled.parents)``: genome 0's active connections in
    ``Genome.active_conns`` order, then genome 1's, ...) gives every connection its own weight for each w: a node
    is then act(weights[w] * sum over its connections c of edge_weights[w, c] * parent), what ``PlainNetwork(genome,
    conn_weights)(weights[w], inputs)`` computes (up to the order of the sum)."""
    dtype = np.dtype(dtype).type
    if dtype not in KERNEL_DTYPES:
        raise ValueError(f"The swing-up kernel runs in float32 or float64. Got {np.dtype(dtype).name}.")
    if (compiled.n_inputs, compiled.n_outputs) != (5, 1):
        raise ValueError(
            f"Swing-up networks have 5 inputs and 1 output. Got {compiled.n_inputs} and {compiled.n_outputs}."
        )
    weights = np.asarray(weights, dtype=dtype)
    if weights.ndim != 1:
        raise ValueError(f"weights must be [W]. Got {weights.shape}.")
    W = len(weights)
    starts = np.asarray(starts, dtype=dtype)
    if starts.ndim == 2:
        starts = starts[None]
    if starts.ndim != 3 or starts.shape[2] != 4 or starts.shape[0] not in (1, W):
        raise ValueError(f"starts must be [R, 4] or [{W}, R, 4]. Got {starts.shape}.")
    starts = np.ascontiguousarray(starts)
    if edge_weights is not None:
        edge_weights = np.asarray(edge_weights, dtype=dtype)
        if edge_weights.shape != (W, len(compiled.parents)):
            raise ValueError(
                f"edge_weights must be [{W}, {len(compiled.parents)}] (one per weight and connection). "
                f"Got {edge_weights.shape}."
            )
        edge_weights = np.ascontiguousarray(edge_weights.T[compiled.edge_conn])  # [parent entries, W]
    P, R = compiled.size, starts.shape[1]
    out = np.zeros((P, W, R), dtype=dtype)
    if out.size == 0 or steps <= 0:
        return out
    units = _units(compiled, W * R)
    c = compiled
    args = (c.row_start, c.act, c.crow, c.parents, weights, edge_weights, starts, int(steps), _constants(dtype), out)
    threads = max(1, min(int(threads), len(units)))
    if threads == 1:
        _kernel(units, *args)
        return out
    lock, taken, errors = threading.Lock(), [0], []

    def work() -> None:  # take the next unit until none is left (the costliest first)
        try:
            while True:
                with lock:
                    u = taken[0]
                    taken[0] += 1
                if u >= len(units) or errors:
                    return
                _kernel(units[u : u + 1], *args)
        except BaseException as err:  # re-raised in the calling thread
            errors.append(err)

    helpers = [threading.Thread(target=work, daemon=True) for _ in range(threads - 1)]
    for helper in helpers:
        helper.start()
    work()
    for helper in helpers:
        helper.join()
    if errors:
        raise errors[0]
    return out
