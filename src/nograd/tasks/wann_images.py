"""Image data for WANN classification, prepared as the reference prepares it.

Reference: google/brain-tokyo-workshop, ``WANNRelease/WANN/domain/classify_gym.py``. MNIST-256: 28x28 images
scaled to [0, 1] and resized to 16x16 (256 inputs). The reference also deskews each image with OpenCV; nograd does
not (a difference to keep in mind when comparing accuracies). Fashion-MNIST gets the same treatment. ``digits``
keeps scikit-learn's 8x8 images as 64 inputs scaled by 1/16, as the reference's ``digits`` task does.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from nograd._validation import unknown_name_error
from nograd.data import dataset_spec, load_dataset

__all__ = ["WANN_IMAGE_DATASETS", "wann_images"]

WANN_IMAGE_DATASETS = ("mnist", "fashion-mnist", "digits")


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
