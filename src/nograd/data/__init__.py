"""Real datasets for the image tasks: file formats, checksums, lookup and download, and a registry by name.

>>> images, labels = load_dataset("mnist", "test", data_dir="shared/data/mnist-test")  # doctest: +SKIP
>>> images.shape, images.dtype, labels.dtype  # doctest: +SKIP
(torch.Size([10000, 1, 28, 28]), torch.uint8, torch.int64)
"""

from __future__ import annotations

from nograd.data.cifar import RestrictedUnpickler, parse_cifar_batch, read_cifar_archive, read_cifar_folder
from nograd.data.files import DataFile, cache_root, download_file, search_dirs, verify_file
from nograd.data.idx import parse_idx, read_idx, write_idx
from nograd.data.registry import clear_cache, find_split, load_dataset
from nograd.data.specs import DATASETS, DatasetSpec, dataset_spec

__all__ = [
    "DATASETS",
    "DatasetSpec",
    "DataFile",
    "dataset_spec",
    "load_dataset",
    "find_split",
    "clear_cache",
    "cache_root",
    "search_dirs",
    "verify_file",
    "download_file",
    "read_idx",
    "parse_idx",
    "write_idx",
    "RestrictedUnpickler",
    "parse_cifar_batch",
    "read_cifar_folder",
    "read_cifar_archive",
]
