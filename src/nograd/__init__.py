"""nograd: train neural networks without backpropagation.

Random search, hill climbing, RSO, Monte Carlo, supermasks and weight-agnostic networks, with the
``torch.optim`` contract, vectorised population evaluation, and run folders you can resume.
"""

from nograd.optim import RSO, HillClimb, RandomSearch

__version__ = "0.1.0"
__all__ = ["HillClimb", "RandomSearch", "RSO", "__version__"]
