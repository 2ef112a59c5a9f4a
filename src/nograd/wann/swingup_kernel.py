"""Scoring WANN genomes on swing-up in compiled code: a numba kernel runs whole episodes, one rollout at a time.

The torch evaluator (``nograd.wann.evaluate``) steps every rollout together, so each time step costs a hundred or
more tiny tensor ops, and for grown networks their per-op overhead, not the arithmetic, is what takes the time. Here
every rollout (genome p, shared weight w, repetition r; a *column*) runs its whole episode in one compiled loop,
with its state and node values in registers and a few cache lines:

    values <- [1, x, x', cos t, sin t, t']            (bias, then the observation in the input rows)
    for each hidden node, in layer order, then the output:
        values[node] = act(w * sum of values[parents])
    F <- clip(output, -1, 1) * force; one Euler step as ``BatchedSwingUp.step``; add the reward
    stop after the step that leaves |x| <= 2.4, or after ``steps`` steps

``compile_population`` turns genomes into flat arrays (``CompiledPopulation``): per genome its rows in evaluation
order (bias, inputs, hidden nodes sorted by (layer, activation rank, id) as the packed evaluator sorts them,
outputs), and per row its activation id and its parents' rows (CSR) from ``Genome.active_conns``, so each node
adds its parents in the packed evaluator's order. The activations are ``scalar_activation``'s formulas (the
sigmoid is (tanh(x/2) + 1) / 2, step is x > 0), the physics is ``BatchedSwingUp.step``'s rearrangement. State,
node values and returns stay in the requested dtype (float32 or float64): every constant is read from an array of
that dtype, so no operation widens to float64. Results agree with the torch evaluator up to rounding (a
transcendental function here and there rounds its last bit differently; over a closed-loop episode such
differences grow), not bit for bit.

Columns are independent, so ``rollouts`` splits them over threads (column k goes to thread k mod threads; the
kernel releases the GIL) and every column's return is the same whatever the number of threads. The kernel is
compiled once per dtype on first use and cached on disk (``cache=True``): a few seconds the first time, a
fraction of a second to load after that.
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
    they are added); bias and input rows have ``act`` 0 and no parents."""

    n_inputs: int
    n_outputs: int
    row_start: np.ndarray  # int64 [P + 1]
    act: np.ndarray  # int64 [rows]
    crow: np.ndarray  # int64 [rows + 1]
    parents: np.ndarray  # int64 [sum of active connections]

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
    row_start, act, crow, parents = [0], [], [0], []
    for genome in genomes:
        if (genome.n_inputs, genome.n_outputs) != (n_in, n_out):
            raise ValueError("All genomes of a population must have the same numbers of inputs and outputs.")
        layer = node_layers(genome)
        fixed = [n for n in genome.nodes if n.kind in ("bias", "input")]
        hidden = sorted(
            (n for n in genome.nodes if n.kind == "hidden"),
            key=lambda n: (layer[n.id], ACTIVATION_ORDER[n.activation], n.id),
        )
        outputs = [n for n in genome.nodes if n.kind == "output"]
        order = fixed + hidden + outputs
        row = {n.id: k for k, n in enumerate(order)}
        into: dict[int, list[int]] = {}
        for c in genome.active_conns():
            into.setdefault(c.dst, []).append(row[c.src])
        for n in order:
            if n.kind in ("bias", "input"):
                act.append(0)
            elif n.activation in ACTIVATION_NAMES:
                act.append(n.activation)
            else:
                raise ValueError(f"Unknown WANN activation id {n.activation} (node {n.id}). Valid ids: 1..11.")
            parents.extend(sorted(into.get(n.id, [])))
            crow.append(len(parents))
        row_start.append(row_start[-1] + len(order))
    arrays = (np.asarray(a, dtype=np.int64) for a in (row_start, act, crow, parents))
    return CompiledPopulation(n_in, n_out, *arrays)


def _rollout_columns(first, stride, row_start, act, crow, parents, weights, starts, steps, const, out):
    """Run columns ``first, first + stride, ...`` of ``out`` ([P, W, R], flattened) to the end of their episodes.

    Plain Python that numba compiles (``_kernel``); every float is an element of an array of the rollout's dtype
    (``const`` holds the constants, see ``_CONSTANTS``), so float32 rollouts stay float32."""
    P, W, R = out.shape
    zero, one, half, pi = const[0], const[1], const[2], const[3]
    force, friction, four_total, three_mp = const[4], const[5], const[6], const[7]
    x_coef, q_coef, tg, dt = const[8], const[9], const[10], const[11]
    x_dot_dt, theta_dot_dt, x_to_angle, x_limit = const[12], const[13], const[14], const[15]
    n_fixed = 6  # bias and 5 inputs
    for column in range(first, P * W * R, stride):
        p = column // (W * R)
        w = weights[(column // R) % W]
        r = column % R
        start, stop = row_start[p], row_start[p + 1]
        values = np.empty(stop - start, dtype=out.dtype)
        x, x_dot, theta, theta_dot = starts[r, 0], starts[r, 1], starts[r, 2], starts[r, 3]
        cos_t, sin_t = math.cos(theta), math.sin(theta)
        total = zero
        for _ in range(steps):
            values[0] = one
            values[1] = x
            values[2] = x_dot
            values[3] = cos_t
            values[4] = sin_t
            values[5] = theta_dot
            for k in range(n_fixed, stop - start):
                row = start + k
                s = zero
                for j in range(crow[row], crow[row + 1]):
                    s += values[parents[j]]
                u = w * s
                a = act[row]
                if a == 1:  # linear
                    v = u
                elif a == 2:  # step (0 for NaN)
                    v = one if u > zero else zero
                elif a == 3:  # sin(pi x)
                    v = math.sin(pi * u)
                elif a == 4:  # gaussian
                    v = math.exp(-(u * u) * half)
                elif a == 5:  # tanh
                    v = math.tanh(u)
                elif a == 6:  # sigmoid, the reference's formula
                    v = (math.tanh(u * half) + one) * half
                elif a == 7:  # -x
                    v = -u
                elif a == 8:  # |x|
                    v = abs(u)
                elif a == 9:  # relu (NaN stays NaN)
                    v = zero if u <= zero else u
                elif a == 10:  # cos(pi x)
                    v = math.cos(pi * u)
                else:  # 11: x^2
                    v = u * u
                values[k] = v
            action = values[stop - start - 1]
            if action > one:  # clip to [-1, 1]; NaN stays NaN
                action = one
            elif action < -one:
                action = -one
            net_force = action * force - friction * x_dot  # F - b x'
            q = theta_dot * theta_dot * sin_t
            denominator = four_total - three_mp * cos_t * cos_t
            x_num = net_force + x_coef * (sin_t * cos_t) - q_coef * q
            theta_num = (net_force - q_coef * q) * cos_t + tg * sin_t
            x = x + x_dot * dt  # positions move with the old velocities
            theta = theta + theta_dot * dt
            x_dot = x_dot + x_dot_dt * (x_num / denominator)
            theta_dot = theta_dot + theta_dot_dt * (theta_num / denominator)
            sin_t, cos_t = math.sin(theta), math.cos(theta)
            reward = math.cos(x * x_to_angle)
            total += (reward + reward * cos_t) * half  # cos(x pi / 4.8) (1 + cos t) / 2
            if x > x_limit or x < -x_limit:
                break
        out[p, (column // R) % W, r] = total


_kernel = numba.njit(nogil=True, cache=True)(_rollout_columns)


def _constants(dtype: type) -> np.ndarray:
    return np.array(_CONSTANTS, dtype=dtype)


def rollouts(
    compiled: CompiledPopulation,
    weights: Sequence[float],
    starts: np.ndarray,
    steps: int,
    dtype: type = np.float32,
    threads: int = 1,
) -> np.ndarray:
    """[P, W, R] swing-up returns: genome p with shared weight ``weights[w]`` from start state ``starts[r]``
    ([R, 4]: x, x', t, t'), at most ``steps`` steps, in ``dtype`` (np.float32 or np.float64), on ``threads``
    threads (the calling one and threads - 1 more). The result does not depend on ``threads``."""
    dtype = np.dtype(dtype).type
    if dtype not in KERNEL_DTYPES:
        raise ValueError(f"The swing-up kernel runs in float32 or float64. Got {np.dtype(dtype).name}.")
    if (compiled.n_inputs, compiled.n_outputs) != (5, 1):
        raise ValueError(
            f"Swing-up networks have 5 inputs and 1 output. Got {compiled.n_inputs} and {compiled.n_outputs}."
        )
    starts = np.ascontiguousarray(starts, dtype=dtype)
    if starts.ndim != 2 or starts.shape[1] != 4:
        raise ValueError(f"starts must be [R, 4]. Got {starts.shape}.")
    weights = np.asarray(weights, dtype=dtype)
    P, W, R = compiled.size, len(weights), len(starts)
    out = np.zeros((P, W, R), dtype=dtype)
    if out.size == 0 or steps <= 0:
        return out
    threads = max(1, min(int(threads), out.size))
    args = (compiled.row_start, compiled.act, compiled.crow, compiled.parents, weights, starts, int(steps))
    const = _constants(dtype)
    if threads == 1:
        _kernel(0, 1, *args, const, out)
        return out
    errors: list[BaseException] = []

    def run(first: int) -> None:
        try:
            _kernel(first, threads, *args, const, out)
        except BaseException as err:  # re-raised in the calling thread
            errors.append(err)

    helpers = [threading.Thread(target=run, args=(k,), daemon=True) for k in range(1, threads)]
    for helper in helpers:
        helper.start()
    run(0)
    for helper in helpers:
        helper.join()
    if errors:
        raise errors[0]
    return out
