"""Supermasks: accuracy from a frozen random network by choosing which weights to keep.

- ``layers``: ``MaskedLinear``/``MaskedConv2d``, frozen random weights (buffers) and one score per weight.
- ``init``: the signed-constant and Kaiming-normal weights of Ramanujan et al. (2020).
- ``nets``: FC 784-300-100-10 and Conv2/Conv4/Conv6, as ``supermask-fc`` … ``supermask-conv6`` in the model zoo.
- ``edge_popup``: SGD on the scores with the paper's cosine schedule (``--method edge-popup``).
- ``search``, ``flips``: gradient-free hill climbing over mask bits (``--method mask-search``).
- ``export``: the kept fraction, and the masked network as plain ``nn.Linear``/``nn.Conv2d``.
- ``convert``: ``to_supermask(model)`` turns an ordinary network's Linear/Conv2d layers into masked ones.
"""

from nograd.supermask.convert import to_supermask
from nograd.supermask.edge_popup import EdgePopup
from nograd.supermask.export import export_masked, kept_fraction, kept_per_layer
from nograd.supermask.flips import FlipScorer
from nograd.supermask.init import INITS, init_scores, init_weight
from nograd.supermask.layers import RULES, MaskedConv2d, MaskedLayer, MaskedLinear, top_k_mask
from nograd.supermask.nets import supermask_conv, supermask_fc
from nograd.supermask.search import MaskSearch

__all__ = [
    "INITS",
    "RULES",
    "EdgePopup",
    "FlipScorer",
    "MaskSearch",
    "MaskedConv2d",
    "MaskedLayer",
    "MaskedLinear",
    "export_masked",
    "init_scores",
    "init_weight",
    "kept_fraction",
    "kept_per_layer",
    "supermask_conv",
    "supermask_fc",
    "to_supermask",
    "top_k_mask",
]
