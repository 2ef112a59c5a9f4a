"""Loading datasets by name: finding a split's files, checking them, downloading them when asked, decoding them.

``load_dataset(name, split)`` gives uint8 images [N, C, H, W] and int64 labels [N]. Files are looked for in
``data_dir``, ``$NOGRAD_DATA``, system folders (Debian's ``dataset-fashion-mnist``) and ``~/.cache/nograd/<name>``,
and downloaded there only when asked. Decoded arrays are kept for the life of the process, keyed by the files' path,
size and modification time, so a second load of the same split costs a copy.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from nograd._validation import Options, validate_params
from nograd.data.cifar import CIFAR_FOLDER, read_cifar_archive, read_cifar_folder
from nograd.data.files import DataFile, cache_root, download_file, file_signature, read_verified, search_dirs
from nograd.data.idx import parse_idx
from nograd.data.specs import DATASETS, SPLITS, DatasetSpec, dataset_spec
from nograd.errors import ConfigError, DatasetError
from nograd.seeding import addressed_generator

__all__ = ["DatasetSpec", "DATASETS", "dataset_spec", "find_split", "load_dataset", "clear_cache"]

#: Decoded (images, labels) by (dataset, split, files' signatures).
_ARRAYS: dict[tuple, tuple[Tensor, Tensor]] = {}


def clear_cache() -> None:
    """Forget decoded arrays (and the files that passed their checksums) of this process."""
    from nograd.data import files

    _ARRAYS.clear()
    files._VERIFIED.clear()


def _locate_in(spec: DatasetSpec, split: str, folder: Path) -> Path | None:
    """The batch folder, archive or IDX folder in ``folder`` holding ``split``, or None."""
    if spec.format == "cifar":
        for candidate in (folder / CIFAR_FOLDER, folder):
            if all(f.find_in(candidate) for f in spec.files[split]):
                return candidate
        if spec.archive is not None and (folder / spec.archive.name).is_file():
            return folder / spec.archive.name
        return None
    return folder if all(f.find_in(folder) for f in spec.files[split]) else None


def _check_args(name: str, split: str, data_dir: object) -> DatasetSpec:
    spec = dataset_spec(name)
    validate_params("load_dataset", {"split": split}, {"split": Options(SPLITS)})
    if data_dir is not None and not isinstance(data_dir, str | os.PathLike):
        raise ConfigError(f"The 'data_dir' parameter of load_dataset must be a path or None. Got {data_dir!r} instead.")
    return spec


def find_split(name: str, split: str = "train", data_dir: str | os.PathLike | None = None) -> Path | None:
    """Where the files of ``split`` of dataset ``name`` are (a folder, or CIFAR-10's archive), or None.

    Files are not checked here; ``digits`` needs no files and gives None.
    """
    spec = _check_args(name, split, data_dir)
    if spec.format == "sklearn":
        return None
    for folder in search_dirs(name, data_dir, spec.system_dirs):
        found = _locate_in(spec, split, folder)
        if found is not None:
            return found
    return None


def _not_found(spec: DatasetSpec, split: str, data_dir: str | os.PathLike | None) -> DatasetError:
    needed = spec.files[split]
    names = ", ".join(f.name for f in needed)
    what = f"the files {names} (gzipped or not) in one folder"
    if spec.archive is not None:
        what = f"{spec.archive.name}, or its extracted folder {CIFAR_FOLDER}/ with {names}"
    looked = ", ".join(str(d) for d in search_dirs(spec.name, data_dir, spec.system_dirs))
    sources = " or ".join(spec.urls) if spec.archive is None else spec.urls[0] + spec.archive.name
    hint = f", or install them with `{spec.install_hint}`" if spec.install_hint else ""
    return DatasetError(
        f"Dataset '{spec.name}' ({split} split) was not found: it needs {what}. Looked in: {looked} (set "
        f"$NOGRAD_DATA or pass data_dir to look elsewhere). Get the files from {sources} (see {spec.homepage}){hint}, "
        f"or pass download=True (on the command line: task.download=true) to download them into "
        f"{cache_root() / spec.name}."
    )


def _download(spec: DatasetSpec, split: str) -> Path:
    dest = cache_root() / spec.name
    if spec.archive is not None:
        return download_file([u + spec.archive.name for u in spec.urls], dest / spec.archive.name, spec.archive)
    for f in spec.files[split]:
        if f.find_in(dest) is None:
            download_file([u + f.name for u in spec.urls], dest / f.name, f)
    return dest


def _files_used(spec: DatasetSpec, split: str, location: Path) -> list[tuple[Path, DataFile]]:
    if location.is_file():  # CIFAR-10's archive
        assert spec.archive is not None
        return [(location, spec.archive)]
    return [(f.find_in(location), f) for f in spec.files[split]]  # type: ignore[misc]


def _read_idx_split(spec: DatasetSpec, used: list[tuple[Path, DataFile]]) -> tuple[np.ndarray, np.ndarray]:
    (image_path, image_file), (label_path, label_file) = used
    images = parse_idx(read_verified(image_path, image_file), image_path)
    labels = parse_idx(read_verified(label_path, label_file), label_path)
    _, height, width = spec.shape
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (height, width):
        raise DatasetError(
            f"IDX file {image_path} must hold uint8 images of shape [N, {height}, {width}]. "
            f"Got {images.dtype} {list(images.shape)} instead."
        )
    if labels.dtype != np.uint8 or labels.ndim != 1 or len(labels) != len(images):
        raise DatasetError(
            f"IDX file {label_path} must hold {len(images)} uint8 labels, one per image in {image_path}. "
            f"Got {labels.dtype} {list(labels.shape)} instead."
        )
    if labels.size and labels.max() >= len(spec.classes):
        raise DatasetError(f"IDX file {label_path} has label {labels.max()}; labels must be below {len(spec.classes)}.")
    return images[:, None], labels.astype(np.int64)


def _load_digits(split: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise DatasetError("Dataset 'digits' needs scikit-learn: pip install 'scikit-learn>=1.3'.") from None
    bunch = load_digits()
    images = bunch.images.astype(np.uint8)[:, None]  # values 0..16
    labels = bunch.target.astype(np.int64)
    # A fixed split, the same in every run and process: 20% of the images, chosen once by an addressed stream.
    order = torch.randperm(len(labels), generator=addressed_generator("digits-split")).numpy()
    n_test = round(0.2 * len(labels))
    index = order[:n_test] if split == "test" else order[n_test:]
    return images[np.sort(index)], labels[np.sort(index)]


def load_dataset(
    name: str, split: str = "train", data_dir: str | os.PathLike | None = None, download: bool = False
) -> tuple[Tensor, Tensor]:
    """Images (uint8 [N, C, H, W], values 0..``pixel_max``) and labels (int64 [N]) of ``split`` of ``name``.

    Every file is checked against its checksum before use. When no folder holds the files, they are downloaded
    into ``~/.cache/nograd/<name>`` if ``download`` is True; otherwise one DatasetError says which files are
    needed, where they were looked for and where to get them. The tensors are the caller's to modify.
    """
    spec = _check_args(name, split, data_dir)
    validate_params("load_dataset", {"download": download}, {"download": "boolean"})
    if spec.format == "sklearn":
        key: tuple = (name, split)
        if key not in _ARRAYS:
            images, labels = _load_digits(split)
            _ARRAYS[key] = (torch.from_numpy(images), torch.from_numpy(labels))
    else:
        location = find_split(name, split, data_dir)
        if location is None:
            if not download:
                raise _not_found(spec, split, data_dir)
            location = _locate_in(spec, split, _download(spec, split))
            assert location is not None
        used = _files_used(spec, split, location)
        key = (name, split, tuple(file_signature(path) for path, _ in used))
        if key not in _ARRAYS:
            if spec.format == "idx":
                images, labels = _read_idx_split(spec, used)
            elif location.is_file():
                images, labels = read_cifar_archive(location, split, checksum=spec.archive)
            else:
                images, labels = read_cifar_folder(location, split, checksums={f.name: f for _, f in used})
            _ARRAYS[key] = (torch.from_numpy(images), torch.from_numpy(labels))
    images, labels = _ARRAYS[key]
    return images.clone(), labels.clone()
