"""Any gymnasium environment as a WANN task: the whole population x shared weights x repetitions per time step.

Swing-up and the classification tasks are vectorised natively (``nograd.envs.swingup``, ``nograd.wann.classify``);
everything else goes through this adapter. gymnasium is an optional extra (``pip install "nograd[gym]"``), and
BipedalWalker also needs Box2D (``pip install "nograd[box2d]"``).

One time step of ``GymEvaluator.evaluate``::

    inputs  <- the observations of all P x W x R episodes, written into the packed graph's input rows
    outputs <- ONE forward of the packed population (``PackedPopulation``), [n_out, P, W*R]
    actions <- outputs as actions (``ActionMap``): Box spaces clip to the bounds, Discrete ones take the argmax
    every episode that is still running steps its own environment; finished ones stop adding reward

The environments themselves are plain gymnasium objects stepped one by one, so this is as fast as the environment's
Python ``step``; the network costs one batched forward per step. Every episode gets a new environment object (made
at the start, closed as soon as it ends): a reused one can carry state past ``reset`` (Box2D keeps its world, and a
reused BipedalWalker returns slightly different rewards after reset with the same seed), which would make a
genome's return depend on which episode its environment served before, and a resumed run differ from an
uninterrupted one.

Seeds: repetition r of generation g resets with ``gym_episode_seeds(seed, g, reps)[r]`` for every genome and
every shared weight, as swing-up shares its start states, so identical networks earn identical returns and
identical genomes are scored once. An episode's return is the sum of its rewards until it terminates, is truncated
(the environment's own time limit, e.g. 500 steps for CartPole-v1, 1600 for BipedalWalker-v3) or reaches ``steps``.

Reference for BipedalWalker (google/brain-tokyo-workshop, ``WANNRelease/WANN/domain/config.py``): 24 inputs,
4 linear outputs passed on as they are (``actionSelect='all'``), 1600 steps; the environment clips the action to
[-1, 1] itself, as ``ActionMap`` does for every Box space. A NaN output becomes 0 in a Box action (physics engines
do not take NaN), and is never the argmax of a Discrete one.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from nograd.errors import ConfigError, MissingExtraError
from nograd.seeding import address_seed
from nograd.wann.evaluate import SHARED_WEIGHTS, PackedPopulation, PlainNetwork, distinct_genomes
from nograd.wann.genome import Genome

__all__ = [
    "require_gymnasium",
    "make_env",
    "ActionMap",
    "GymEvaluator",
    "evaluate_gym",
    "evaluate_gym_plain",
    "gym_episode_seeds",
    "env_sizes",
]

GYM_HINT = 'gymnasium is not installed; install it with: pip install "nograd[gym]"'
BOX2D_HINT = 'Box2D is not installed (BipedalWalker needs it); install it with: pip install "nograd[box2d]"'


def require_gymnasium() -> Any:
    """The ``gymnasium`` module, or a MissingExtraError that says how to install it."""
    try:
        return importlib.import_module("gymnasium")
    except ImportError:
        raise MissingExtraError(GYM_HINT) from None


def make_env(env_id: str) -> Any:
    """``gymnasium.make(env_id)`` with nograd's errors: a missing extra, an unknown id."""
    gym = require_gymnasium()
    try:
        return gym.make(env_id, disable_env_checker=True)
    except gym.error.DependencyNotInstalled as err:
        if "box2d" in str(err).lower():
            raise MissingExtraError(BOX2D_HINT) from None
        raise MissingExtraError(
            f"The gymnasium environment {env_id!r} needs a package that is missing: {err}"
        ) from None
    except gym.error.Error as err:
        raise ConfigError(f"Unknown gymnasium environment {env_id!r}: {err}") from None


def env_sizes(env: Any) -> tuple[int, int]:
    """(network inputs, network outputs) for ``env``: the flattened Box observation, and the Box action's size or
    the Discrete action's count."""
    gym = require_gymnasium()
    obs_space, act_space = env.observation_space, env.action_space
    name = env.spec.id if env.spec is not None else type(env).__name__
    if not isinstance(obs_space, gym.spaces.Box):
        raise ConfigError(f"WANN needs a Box observation space; {name} has {obs_space}.")
    if isinstance(act_space, gym.spaces.Box):
        return int(np.prod(obs_space.shape)), int(np.prod(act_space.shape))
    if isinstance(act_space, gym.spaces.Discrete):
        return int(np.prod(obs_space.shape)), int(act_space.n)
    raise ConfigError(f"WANN needs a Box or Discrete action space; {name} has {act_space}.")


def gym_episode_seeds(seed: int, generation: int, reps: int) -> list[int]:
    """The reset seed of each repetition, addressed by (seed, generation, rep): shared by every genome and weight."""
    return [address_seed(seed, "gym", generation, r) for r in range(reps)]


class ActionMap:
    """Network outputs [N, n_outputs] (numpy) to N actions of ``space``: Box clips to its bounds (NaN -> 0) and
    takes the space's dtype and shape; Discrete takes ``start + argmax`` (NaN never wins)."""

    def __init__(self, space: Any):
        gym = require_gymnasium()
        self.discrete = isinstance(space, gym.spaces.Discrete)
        if self.discrete:
            self.start = int(space.start)
        else:
            self.shape, self.dtype = space.shape, space.dtype
            self.low = np.asarray(space.low, dtype=np.float64).reshape(-1)
            self.high = np.asarray(space.high, dtype=np.float64).reshape(-1)

    def __call__(self, outputs: np.ndarray) -> list[Any]:
        outputs = np.asarray(outputs, dtype=np.float64)
        if self.discrete:
            picks = np.where(np.isnan(outputs), -np.inf, outputs).argmax(axis=1) + self.start
            return [int(a) for a in picks]
        actions = np.clip(np.nan_to_num(outputs, nan=0.0), self.low, self.high).astype(self.dtype)
        return [a.reshape(self.shape) for a in actions]


class GymEvaluator:
    """Scores WANN genomes on one gymnasium environment (a new environment object per episode)."""

    def __init__(self, env_id: str):
        self.env_id = env_id
        probe = make_env(env_id)  # the spaces and the time limit; fails early on a bad id or a missing extra
        try:
            self.n_inputs, self.n_outputs = env_sizes(probe)
            self.action_map = ActionMap(probe.action_space)
            self.max_episode_steps: int | None = None if probe.spec is None else probe.spec.max_episode_steps
        finally:
            probe.close()

    def evaluate(
        self,
        genomes: Sequence[Genome],
        seed: int = 0,
        generation: int = 0,
        reps: int = 1,
        weights: Sequence[float] = SHARED_WEIGHTS,
        steps: int | None = None,
        dtype: torch.dtype = torch.float32,
        dedupe: bool = True,
    ) -> Tensor:
        """Returns [P, W, R] float64: the episode return of every genome with every shared weight on every
        repetition. ``steps`` caps an episode below the environment's own time limit; ``dtype`` is the network's."""
        if dedupe:
            unique, index = distinct_genomes(genomes)
            if len(unique) < len(genomes):
                scores = self.evaluate(unique, seed, generation, reps, weights, steps, dtype, dedupe=False)
                return scores[torch.tensor(index)]
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # small tensors: intra-op threads only contend with the environments
        try:
            return self._rollouts(list(genomes), seed, generation, reps, weights, steps, dtype)
        finally:
            torch.set_num_threads(threads)

    def _rollouts(
        self,
        genomes: list[Genome],
        seed: int,
        generation: int,
        reps: int,
        weights: Sequence[float],
        steps: int | None,
        dtype: torch.dtype,
    ) -> Tensor:
        packed = PackedPopulation(genomes, dtype)
        if (packed.n_inputs, packed.n_outputs) != (self.n_inputs, self.n_outputs):
            raise ValueError(
                f"{self.env_id} networks have {self.n_inputs} inputs and {self.n_outputs} outputs. "
                f"Got {packed.n_inputs} and {packed.n_outputs}."
            )
        P, W, R = len(genomes), len(weights), reps
        N = P * W * R  # episode i = (p * W + w) * R + r: the column order of the packed graph
        envs = [make_env(self.env_id) for _ in range(N)]
        episode_seeds = gym_episode_seeds(seed, generation, reps)
        obs = np.empty((N, self.n_inputs), dtype=np.float64)
        for i, env in enumerate(envs):
            first, _ = env.reset(seed=episode_seeds[i % R])
            obs[i] = np.asarray(first, dtype=np.float64).reshape(-1)
        values = packed.new_values(W * R)
        inputs = packed.input_rows(values)  # [n_in, P, W*R], a view of ``values``
        weight = torch.tensor(weights, dtype=dtype).repeat_interleave(R).view(1, W * R)
        returns = np.zeros(N, dtype=np.float64)
        running = list(range(N))
        obs_t = torch.from_numpy(obs)  # shares memory with ``obs``
        limit = steps if steps is not None else self.max_episode_steps
        t = 0
        while running and (limit is None or t < limit):
            inputs.copy_(obs_t.view(P, W * R, self.n_inputs).permute(2, 0, 1))
            outputs = packed.forward(values, weight).permute(1, 2, 0).reshape(N, self.n_outputs)
            chosen = outputs[running].to(torch.float64).numpy()
            still = []
            for i, action in zip(running, self.action_map(chosen)):
                ob, reward, terminated, truncated, _ = envs[i].step(action)
                returns[i] += float(reward)
                if terminated or truncated:
                    envs[i].close()
                    continue
                obs[i] = np.asarray(ob, dtype=np.float64).reshape(-1)
                still.append(i)
            running = still
            t += 1
        for i in running:
            envs[i].close()
        return torch.from_numpy(returns).view(P, W, R)


def evaluate_gym(
    genomes: Sequence[Genome],
    env_id: str,
    seed: int = 0,
    generation: int = 0,
    reps: int = 1,
    weights: Sequence[float] = SHARED_WEIGHTS,
    steps: int | None = None,
    dtype: torch.dtype = torch.float32,
    dedupe: bool = True,
) -> Tensor:
    """[P, W, R] returns of ``genomes`` on gymnasium's ``env_id`` (see ``GymEvaluator.evaluate``)."""
    return GymEvaluator(env_id).evaluate(genomes, seed, generation, reps, weights, steps, dtype, dedupe)


def evaluate_gym_plain(
    genome: Genome, env_id: str, weight: float, episode_seed: int, steps: int | None = None
) -> float:
    """One episode of one network with one shared weight on a new environment, node by node in Python floats: the
    reference for ``GymEvaluator`` (same reset seed, same ``ActionMap``)."""
    env = make_env(env_id)
    network = PlainNetwork(genome)
    action_map = ActionMap(env.action_space)
    ob, _ = env.reset(seed=episode_seed)
    limit = steps if steps is not None else (env.spec.max_episode_steps if env.spec is not None else None)
    total, t = 0.0, 0
    while limit is None or t < limit:
        out = network(weight, np.asarray(ob, dtype=np.float64).reshape(-1).tolist())
        ob, reward, terminated, truncated, _ = env.step(action_map(np.array([out]))[0])
        total += float(reward)
        t += 1
        if terminated or truncated:
            break
    env.close()
    return total
