"""Scoring WANN genomes on image classification: reward = -cross-entropy of the softmax outputs on a batch.

After the reference (google/brain-tokyo-workshop, ``WANNRelease/WANN/domain/classify_gym.py``): each rollout draws
a random batch of 1000 training images (a permutation's first 1000), the network's 10 outputs go through a softmax,
and the reward is minus the mean cross-entropy. The batch of repetition r in generation g is addressed by
(seed, 'classify', g, r) and shared by every genome and weight, as rollout seeds are for swing-up.

All genomes see the same images, so the packed graph keeps one row per input pixel for all of them
(``PackedPopulation(shared_inputs=True)``); columns are (shared weight, image). Genomes are scored in chunks that
keep the node-value matrix under ``max_elements``. Log-softmax replaces the reference's log of a softmax: the
same value, but a very confident wrong answer costs a large finite loss instead of an infinite one.

On a GPU (``device='cuda'``, or inputs already there) the images, the packed graph and the node values live on the
device and the chunks are much larger (``MAX_ELEMENTS``); the batches are drawn on the CPU as before, so both
devices score the same images, and the scores come back to the CPU.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from nograd.seeding import addressed_generator
from nograd.wann.evaluate import SHARED_WEIGHTS, PackedPopulation
from nograd.wann.genome import Genome

__all__ = ["evaluate_classification", "classification_batch", "MAX_ELEMENTS"]

#: Default size limit of one chunk's node-value matrix (rows x columns), per device type. On an H100 at population
#: 960 (6 weights x 1000 images: 6000 columns), limits from 2e7 to 3e9 scored within 1.5x of each other, 3e8 to 1e9
#: the fastest (docs/benchmarks.md, ``wann-mnist``); 1e9 (4 GB in float32) holds 960 genomes of ~170 nodes each.
MAX_ELEMENTS = {"cpu": 20_000_000, "cuda": 1_000_000_000}


def classification_batch(n_examples: int, batch: int, seed: int, generation: int, rep: int) -> Tensor:
    """Indices of the examples of one rollout: the first ``batch`` of an addressed permutation."""
    order = torch.randperm(n_examples, generator=addressed_generator(seed, "classify", generation, rep))
    return order[: min(batch, n_examples)]


def evaluate_classification(
    genomes: Sequence[Genome],
    inputs: Tensor,
    labels: Tensor,
    seed: int = 0,
    generation: int = 0,
    reps: int = 1,
    batch: int = 1000,
    weights: Sequence[float] = SHARED_WEIGHTS,
    dtype: torch.dtype = torch.float32,
    max_elements: int | None = None,
    device: str | torch.device | None = None,
) -> Tensor:
    """Returns [P, W, R] on the CPU: minus the mean cross-entropy of every genome with every shared weight on every
    batch.

    ``inputs`` is [N, n_inputs] (flattened images), ``labels`` int64 [N]. ``device`` (default: where ``inputs``
    are) computes the rollouts; move the images there once (``inputs.to(device)``) to spare a copy per call.
    ``max_elements`` (default ``MAX_ELEMENTS`` of the device type) caps one chunk's node-value matrix.
    """
    if inputs.ndim != 2 or labels.shape != (inputs.shape[0],):
        raise ValueError(
            f"inputs must be [N, n_inputs] and labels [N]. Got {tuple(inputs.shape)} and {tuple(labels.shape)}."
        )
    device = inputs.device if device is None else torch.device(device)
    if max_elements is None:
        max_elements = MAX_ELEMENTS.get(device.type, MAX_ELEMENTS["cpu"])
    inputs, labels = inputs.to(device), labels.to(device)
    P, W = len(genomes), len(weights)
    out = torch.empty(P, W, reps, dtype=dtype, device=device)
    for r in range(reps):
        idx = classification_batch(inputs.shape[0], batch, seed, generation, r).to(device)
        x = inputs[idx].to(dtype).t()  # [n_inputs, B]
        y = labels[idx]
        B = x.shape[1]
        columns = W * B
        weight = torch.tensor(weights, dtype=dtype, device=device).repeat_interleave(B).view(1, columns)
        start = 0
        while start < P:
            # grow the chunk while its node-value matrix stays under max_elements (at least one genome)
            stop, rows = start, 1 + inputs.shape[1]
            while stop < P:
                extra = len(genomes[stop].nodes) - 1 - inputs.shape[1]
                if stop > start and (rows + extra) * columns > max_elements:
                    break
                rows += extra
                stop += 1
            packed = PackedPopulation(genomes[start:stop], dtype, shared_inputs=True, device=device)
            values = packed.new_values(columns)
            packed.input_rows(values).copy_(x.repeat(1, W))
            logits = packed.forward(values, weight)  # [n_out, chunk, W*B]
            logp = torch.log_softmax(logits, dim=0)
            target = y.repeat(W).view(1, 1, columns).expand(1, stop - start, columns)
            nll = -logp.gather(0, target)[0].view(stop - start, W, B).mean(dim=2)
            out[start:stop, :, r] = -nll
            start = stop
    return out.cpu()
