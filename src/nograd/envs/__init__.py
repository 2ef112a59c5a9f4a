"""Environments written for nograd: a plain one-episode version and a batched torch version of each."""

from nograd.envs.swingup import BatchedSwingUp, SwingUp, swingup_initial_states

__all__ = ["SwingUp", "BatchedSwingUp", "swingup_initial_states"]
