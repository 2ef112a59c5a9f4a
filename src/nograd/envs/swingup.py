"""Cart-pole swing-up, as the WANN paper runs it: one plain episode at a time, or every episode at once in torch.

Reference: google/brain-tokyo-workshop, ``WANNRelease/WANN/domain/cartpole_swingup.py`` (after Zuo's DeepPILCO
version) and ``WANNRelease/WANN/wann_src/task.py: testInd``. Constants: g 9.82, cart and pole mass 0.5, pole
length 0.6, force 10 (the action is clipped to [-1, 1] first), dt 0.01, friction 0.1, 1000 steps. The start state
is N([0, 0, pi, 0], 0.2) per coordinate (the pole hangs down); the observation is [x, x', cos t, sin t, t'].

One step, explicit Euler with the *old* velocities moving the positions::

    xacc = (-2 m_p l t'^2 s + 3 m_p g s c + 4 F - 4 b x') / (4 (m_c + m_p) - 3 m_p c^2)
    tacc = (-3 m_p l t'^2 s c + 6 (m_c + m_p) g s + 6 (F - b x') c) / (4 l (m_c + m_p) - 3 m_p l c^2)
    x, t, x', t' = x + x' dt, t + t' dt, x' + xacc dt, t' + tacc dt

with s, c = sin t, cos t of the old angle. The reward of a step, from the new state, is
``(cos t + 1) / 2 * cos(x / 2.4 * pi / 2)``. An episode ends after the step that leaves |x| <= 2.4 (that step's
reward counts) or after 1000 steps. The batched version keeps stepping finished episodes (their state is
discarded) and masks their rewards, so a batch returns exactly what separate episodes return.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from nograd.seeding import addressed_generator

__all__ = ["SwingUp", "BatchedSwingUp", "swingup_initial_states", "GRAVITY", "X_LIMIT", "MAX_STEPS"]

GRAVITY = 9.82
CART_MASS = 0.5
POLE_MASS = 0.5
POLE_LENGTH = 0.6
FORCE = 10.0
DT = 0.01
FRICTION = 0.1
X_LIMIT = 2.4
MAX_STEPS = 1000
START_MEAN = (0.0, 0.0, math.pi, 0.0)
START_STD = 0.2

_TOTAL = CART_MASS + POLE_MASS
_MPL = POLE_MASS * POLE_LENGTH


def swingup_initial_states(seed: int, generation: int, reps: int, dtype: torch.dtype = torch.float64) -> Tensor:
    """[reps, 4] start states (x, x', t, t'), addressed by (seed, generation, rep): shared by every genome."""
    states = torch.empty(reps, 4, dtype=torch.float64)
    for r in range(reps):
        noise = torch.randn(4, generator=addressed_generator(seed, "swingup", generation, r), dtype=torch.float64)
        states[r] = torch.tensor(START_MEAN, dtype=torch.float64) + START_STD * noise
    return states.to(dtype)


def _observe(x: float, x_dot: float, theta: float, theta_dot: float) -> list[float]:
    return [x, x_dot, math.cos(theta), math.sin(theta), theta_dot]


class SwingUp:
    """One episode in plain Python floats: the reference to check the batched version against."""

    def __init__(self, state: tuple[float, float, float, float]):
        self.state = tuple(float(v) for v in state)
        self.t = 0
        self.done = False

    def observation(self) -> list[float]:
        return _observe(*self.state)

    def step(self, action: float) -> tuple[list[float], float, bool]:
        force = min(max(action, -1.0), 1.0) * FORCE if action == action else action
        x, x_dot, theta, theta_dot = self.state
        s, c = math.sin(theta), math.cos(theta)
        x_acc = (-2 * _MPL * theta_dot**2 * s + 3 * POLE_MASS * GRAVITY * s * c + 4 * force - 4 * FRICTION * x_dot) / (
            4 * _TOTAL - 3 * POLE_MASS * c**2
        )
        theta_acc = (
            -3 * _MPL * theta_dot**2 * s * c + 6 * _TOTAL * GRAVITY * s + 6 * (force - FRICTION * x_dot) * c
        ) / (4 * POLE_LENGTH * _TOTAL - 3 * _MPL * c**2)
        x, theta = x + x_dot * DT, theta + theta_dot * DT
        x_dot, theta_dot = x_dot + x_acc * DT, theta_dot + theta_acc * DT
        self.state = (x, x_dot, theta, theta_dot)
        self.t += 1
        self.done = x < -X_LIMIT or x > X_LIMIT or self.t >= MAX_STEPS
        reward = (math.cos(theta) + 1.0) / 2.0 * math.cos(x / X_LIMIT * (math.pi / 2.0))
        return self.observation(), reward, self.done


class BatchedSwingUp:
    """Any number of episodes stepped together; every tensor has the batch shape of ``states[..., 0]``.

    The observation lives in one [5, *batch] tensor, ``obs`` (rows x, x', cos t, sin t, t'), updated in place;
    pass ``obs`` to have it written straight into a buffer of your own (the WANN evaluator passes the input rows
    of its node values, so no copy is made). ``step(action)`` takes a [*batch] action, adds each episode's reward
    to ``returns`` (nothing for episodes that had already ended) and returns the reward.
    """

    def __init__(self, states: Tensor, obs: Tensor | None = None):
        batch = states.shape[:-1]
        if obs is None:
            obs = torch.empty((5, *batch), dtype=states.dtype)
        if obs.shape != (5, *batch):
            raise ValueError(f"obs must have shape {(5, *batch)}. Got {tuple(obs.shape)}.")
        self.obs = obs
        self.x, self.x_dot, self.cos, self.sin, self.theta_dot = obs.unbind(0)
        self.x.copy_(states[..., 0])
        self.x_dot.copy_(states[..., 1])
        self.theta = states[..., 2].to(obs.dtype, copy=True)
        self.theta_dot.copy_(states[..., 3])
        torch.cos(self.theta, out=self.cos)
        torch.sin(self.theta, out=self.sin)
        self.dead = torch.zeros(batch, dtype=torch.bool)
        self.returns = torch.zeros(batch, dtype=obs.dtype)
        # constants as 0-dim tensors: a Python float would be wrapped into a new tensor at every step
        self._four_total, self._force, self._half, self._x_limit, self._x_to_angle = (
            torch.tensor(v, dtype=obs.dtype) for v in (4 * _TOTAL, FORCE, 0.5, X_LIMIT, math.pi / 2.0 / X_LIMIT)
        )
        self.t = 0

    @property
    def alive(self) -> Tensor:
        return ~self.dead

    def observation(self) -> Tensor:
        return self.obs

    def step(self, action: Tensor) -> Tensor:
        """One Euler step of every episode (26 tensor ops; the formulas are rearranged, not changed).

        With F' = F - b x', q = t'^2 sin t and d = 4 (m_c + m_p) - 3 m_p cos^2 t:
        x'' = 4 (F' + 3/4 m_p g sin t cos t - 1/2 m_p l q) / d and
        t'' = 6 (cos t (F' - 1/2 m_p l q) + (m_c + m_p) g sin t) / (l d).
        """
        s, c = self.sin, self.cos
        net_force = action.clamp(-1.0, 1.0).mul_(self._force).sub_(self.x_dot, alpha=FRICTION)  # F - b x'
        q = self.theta_dot.square().mul_(s)
        denominator = torch.addcmul(self._four_total, c, c, value=-3 * POLE_MASS)
        x_num = torch.add(net_force, s * c, alpha=0.75 * POLE_MASS * GRAVITY).sub_(q, alpha=0.5 * _MPL)
        theta_num = net_force.sub_(q, alpha=0.5 * _MPL).mul_(c).add_(s, alpha=_TOTAL * GRAVITY)
        self.x.add_(self.x_dot, alpha=DT)  # positions move with the old velocities
        self.theta.add_(self.theta_dot, alpha=DT)
        self.x_dot.addcdiv_(x_num, denominator, value=4.0 * DT)
        self.theta_dot.addcdiv_(theta_num, denominator, value=6.0 * DT / POLE_LENGTH)
        torch.sin(self.theta, out=self.sin)
        torch.cos(self.theta, out=self.cos)
        reward = self.x.mul(self._x_to_angle).cos_()
        reward = torch.addcmul(reward, reward, self.cos).mul_(self._half)  # cos(x pi / 4.8) (1 + cos t) / 2
        reward.masked_fill_(self.dead, 0.0)
        self.returns.add_(reward)
        self.dead.logical_or_(self.x.abs() > self._x_limit)
        self.t += 1
        return reward
