"""Image data for WANN classification, prepared as the reference prepares it.

Reference: google/brain-tokyo-workshop, ``WANNRelease/WANN/domain/classify_gym.py``. MNIST-256: 28x28 images
scaled to [0, 1] and resized to 16x16 (256 inputs). The reference also deskews each image with OpenCV; nograd does
not (a difference to keep in mind when comparing accuracies). Fashion-MNIST gets the same treatment. ``digits``
keeps scikit-learn's 8x8 images as 64 inputs scaled by 1/16, as the reference's ``digits`` task does.

Where only a dataset's test files are on disk (MNIST in ``shared/data/mnist-test``), ``halve_test_split`` cuts the
test split into two fixed halves: the first is searched on (``nograd wann train --data-split test``) and tuned on
(``nograd wann eval``), the second is only ever measured on. The cut is one permutation addressed by a constant,
the same for every run and every seed, so a search's images never reach the measuring half.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from nograd._validation import unknown_name_error
from nograd.data import dataset_spec, load_dataset
from nograd.seeding import addressed_generator

__all__ = ["WANN_IMAGE_DATASETS", "wann_images", "halve_test_split", "halves_of_test_split"]

WANN_IMAGE_DATASETS = ("mnist", "fashion-mnist", "digits")
#: The address of the permutation that halves a test split: a constant, not a run's seed.
HALVES_ADDRESS = ("wann-images", "test-split-halves")


def wann_images(
    name: str, split: str = "train", data_dir: str | None = None, download: bool = False
) -> tuple[Tensor, Tensor]:
    """(inputs float32 [N, 256] or [N, 64] for digits, labels int64 [N]) of ``split`` of dataset ``name``."""
    if name not in WANN_IMAGE_DATASETS:
        raise unknown_name_error("WANN image dataset", name, WANN_IMAGE_DATASETS)
    images, labels = load_dataset(name, split, data_dir, download)
    x = images.to(torch.float32) / dataset_spec(name).pixel_max
    if name != "digits":
        x = F.interpolate(x, size=(16, 16), mode="bilinear", align_corners=False, antialias=False)
    return x.flatten(1), labels


def halves_of_test_split(n: int) -> tuple[Tensor, Tensor]:
    """(search and tuning half, measuring half) of ``n`` test examples: the first ``n // 2`` and the rest of a
    permutation addressed by ``HALVES_ADDRESS``, each sorted. Disjoint, together all ``n``, the same every call."""
    order = torch.randperm(n, generator=addressed_generator(*HALVES_ADDRESS))
    half = n // 2
    return order[:half].sort().values, order[half:].sort().values


def halve_test_split(inputs: Tensor, labels: Tensor) -> tuple[tuple[Tensor, Tensor], tuple[Tensor, Tensor]]:
    """((inputs, labels) searched and tuned on, (inputs, labels) measured on) of a test split; see
    ``halves_of_test_split``."""
    a, b = halves_of_test_split(labels.shape[0])
    return (inputs[a], labels[a]), (inputs[b], labels[b])
