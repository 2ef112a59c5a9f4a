"""Optimizers that train without backpropagation, one per file, all with the ``torch.optim`` contract."""

from nograd.optim.amc import AdaptiveMC
from nograd.optim.base import GradientFreeOptimizer, PopulationClosure
from nograd.optim.hill_climb import HillClimb
from nograd.optim.metropolis import Metropolis
from nograd.optim.random_search import RandomSearch
from nograd.optim.registry import METHODS, MethodSpec, build_optimizer, get_method, register_method
from nograd.optim.rso import RSO

__all__ = [
    "GradientFreeOptimizer",
    "PopulationClosure",
    "HillClimb",
    "RandomSearch",
    "RSO",
    "Metropolis",
    "AdaptiveMC",
    "METHODS",
    "MethodSpec",
    "build_optimizer",
    "get_method",
    "register_method",
]
