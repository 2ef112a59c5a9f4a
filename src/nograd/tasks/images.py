"""Image classification on real datasets: MNIST, Fashion-MNIST, CIFAR-10 and scikit-learn's 8x8 digits.

Inputs are scaled to [0, 1] and then normalised with the dataset's fixed per-channel mean and std, the same
constants for every run, so runs on subsets or on a split of the test set stay comparable. Subsets and the test-set
split are drawn from addressed streams of the run's seed, so the same seed always trains on the same examples.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

import torch
from torch import Tensor

from nograd._validation import Interval, validate_params
from nograd.data import dataset_spec, find_split, load_dataset
from nograd.data.specs import DatasetSpec
from nograd.errors import ConfigError, DatasetError
from nograd.seeding import addressed_generator
from nograd.tasks.base import ClassificationTask

__all__ = ["ImageClassificationTask", "MNISTTask", "FashionMNISTTask", "CIFAR10Task", "DigitsTask"]


class ImageClassificationTask(ClassificationTask):
    """Ten-class image classification on the dataset named by ``dataset``.

    Args:
        data_dir: folder holding the dataset's files; None looks in ``$NOGRAD_DATA``, system folders and
            ``~/.cache/nograd/<dataset>`` (default: None).
        batch_size: minibatch size, or None for the whole training set (default: 1000).
        train_subset: train on this many examples, a seeded subset, or None for all (default: None).
        test_subset: measure test accuracy on this many examples, a seeded subset, or None for all (default: None).
        split_test: when set, ignore the official training set and split the official test set instead: this
            fraction of it is the training set and the rest the test set (default: None). This is how a copy that
            holds only the test files, such as the MNIST test set in ``shared/data``, is used as a sanity split.
        download: download missing files from the official sources into ``~/.cache/nograd`` (default: False).
        reshuffle: a new shuffle of the training set every epoch, or one cycled through (default: True).
    """

    dataset: ClassVar[str]
    num_outputs = 10
    default_model: ClassVar[dict[str, Any]] = {"name": "mlp", "hidden": [32], "activation": "relu"}

    def __init__(
        self,
        seed: int = 0,
        device: str | torch.device = "cpu",
        data_dir: str | None = None,
        batch_size: int | None = 1000,
        train_subset: int | None = None,
        test_subset: int | None = None,
        split_test: float | None = None,
        download: bool = False,
        reshuffle: bool = True,
    ):
        super().__init__(seed, device, batch_size, reshuffle)
        owner = type(self).__name__
        validate_params(
            owner,
            {
                "train_subset": train_subset,
                "test_subset": test_subset,
                "split_test": split_test,
                "download": download,
            },
            {
                "train_subset": Interval(int, 1, None, allow_none=True),
                "test_subset": Interval(int, 1, None, allow_none=True),
                "split_test": Interval(float, 0, 1, closed="neither", allow_none=True),
                "download": "boolean",
            },
        )
        if data_dir is not None and not isinstance(data_dir, str | os.PathLike):
            raise ConfigError(f"The 'data_dir' parameter of {owner} must be a path or None. Got {data_dir!r} instead.")
        self.spec: DatasetSpec = dataset_spec(self.dataset)
        self.data_dir, self.split_test = data_dir, split_test
        if split_test is None:
            x_train, y_train = self._load("train", download)
            x_test, y_test = load_dataset(self.dataset, "test", data_dir, download)
        else:
            x_train, y_train, x_test, y_test = self._split_test_set(split_test, download)
        x_train, y_train = self._subset(x_train, y_train, train_subset, "train_subset", "train")
        x_test, y_test = self._subset(x_test, y_test, test_subset, "test_subset", "test")
        self._set_data(self._inputs(x_train), y_train, self._inputs(x_test), y_test)

    def _load(self, split: str, download: bool) -> tuple[Tensor, Tensor]:
        """The official ``split``; when only the test files exist, say how to use them instead."""
        try:
            return load_dataset(self.dataset, split, self.data_dir, download)
        except DatasetError as err:
            if split != "train" or find_split(self.dataset, "train", self.data_dir) is not None:
                raise
            test_at = find_split(self.dataset, "test", self.data_dir)
            if test_at is None:
                raise
            raise DatasetError(
                f"Only the test split of '{self.dataset}' was found (in {test_at}). Pass the task option "
                f"split_test=0.5 to train and test on a seeded split of it, or get the training files. {err}"
            ) from None

    def _split_test_set(self, fraction: float, download: bool) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        images, labels = load_dataset(self.dataset, "test", self.data_dir, download)
        n_train = round(fraction * len(labels))
        if not 0 < n_train < len(labels):
            raise ConfigError(
                f"The 'split_test' option of task '{self.name}' must leave examples on both sides of the split of "
                f"the {len(labels)} test examples. Got {fraction!r} instead."
            )
        order = torch.randperm(len(labels), generator=addressed_generator("split-test", self.dataset, self.seed))
        train, test = order[:n_train].sort().values, order[n_train:].sort().values
        return images[train], labels[train], images[test], labels[test]

    def _subset(self, x: Tensor, y: Tensor, size: int | None, option: str, split: str) -> tuple[Tensor, Tensor]:
        if size is None:
            return x, y
        if size > len(y):
            raise ConfigError(
                f"The '{option}' option of task '{self.name}' must be at most the {split} set size ({len(y)}). "
                f"Got {size} instead."
            )
        order = torch.randperm(len(y), generator=addressed_generator("subset", self.dataset, split, self.seed))
        keep = order[:size].sort().values
        return x[keep], y[keep]

    def _inputs(self, images: Tensor) -> Tensor:
        """uint8 images to float32: scaled to [0, 1], then standardised per channel."""
        mean = torch.tensor(self.spec.mean, dtype=torch.float32).view(-1, 1, 1)
        std = torch.tensor(self.spec.std, dtype=torch.float32).view(-1, 1, 1)
        return (images.to(torch.float32) / self.spec.pixel_max - mean) / std


class MNISTTask(ImageClassificationTask):
    name = "mnist"
    summary = "MNIST handwritten digits, 28x28 grey, 10 classes (60k train / 10k test)"
    dataset = "mnist"


class FashionMNISTTask(ImageClassificationTask):
    name = "fashion-mnist"
    summary = "Fashion-MNIST article images, 28x28 grey, 10 classes (60k train / 10k test)"
    dataset = "fashion-mnist"


class CIFAR10Task(ImageClassificationTask):
    name = "cifar10"
    summary = "CIFAR-10 colour images, 32x32x3, 10 classes (50k train / 10k test)"
    dataset = "cifar10"


class DigitsTask(ImageClassificationTask):
    """scikit-learn's 8x8 digits with a fixed seeded 80/20 split; bundled with scikit-learn, so no files.

    Args:
        batch_size, train_subset, test_subset, split_test, reshuffle: as for the other image tasks.
    """

    name = "digits"
    summary = "scikit-learn's 8x8 handwritten digits, 10 classes (1438 train / 359 test, fixed split)"
    dataset = "digits"

    def __init__(
        self,
        seed: int = 0,
        device: str | torch.device = "cpu",
        batch_size: int | None = 1000,
        train_subset: int | None = None,
        test_subset: int | None = None,
        split_test: float | None = None,
        reshuffle: bool = True,
    ):
        super().__init__(seed, device, None, batch_size, train_subset, test_subset, split_test, False, reshuffle)
