"""CIFAR-10 in its "python version": pickled batches, in ``cifar-10-python.tar.gz`` or extracted.

Pickle can run arbitrary code, so these files are read with an unpickler that resolves only the three numpy names
a pickled uint8 array needs; anything else (``os.system``, ``builtins.eval``, ...) is refused before it is called.
"""

from __future__ import annotations

import io
import pickle
import tarfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from nograd.data.files import DataFile, read_verified
from nograd.errors import DatasetError

__all__ = [
    "CIFAR_FOLDER",
    "CIFAR_BATCHES",
    "RestrictedUnpickler",
    "restricted_loads",
    "parse_cifar_batch",
    "read_cifar_folder",
    "read_cifar_archive",
]

#: The folder the archive unpacks to, and the batch files of each split.
CIFAR_FOLDER = "cifar-10-batches-py"
CIFAR_BATCHES: dict[str, tuple[str, ...]] = {
    "train": tuple(f"data_batch_{i}" for i in range(1, 6)),
    "test": ("test_batch",),
}
_IMAGE_SHAPE = (3, 32, 32)


def _reconstruct() -> Any:
    try:
        from numpy._core.multiarray import _reconstruct as fn  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core.multiarray import _reconstruct as fn
    return fn


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler for pickled dicts of numpy arrays, lists, numbers and strings, and nothing else."""

    #: (module, name) pairs that may be resolved: numpy 1 (and Python 2) and numpy 2 spell the first differently.
    ALLOWED: frozenset[tuple[str, str]] = frozenset(
        {
            ("numpy.core.multiarray", "_reconstruct"),
            ("numpy._core.multiarray", "_reconstruct"),
            ("numpy", "ndarray"),
            ("numpy", "dtype"),
        }
    )

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"global '{module}.{name}' is forbidden")
        if name == "_reconstruct":
            return _reconstruct()
        return getattr(np, name)

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("persistent ids are forbidden")


def restricted_loads(data: bytes, source: str | Path = "<bytes>") -> Any:
    """Unpickle ``data`` with ``RestrictedUnpickler``; any failure is a DatasetError naming ``source``."""
    try:
        # latin1 turns Python 2 byte strings (array buffers, dict keys) into str the way numpy expects.
        return RestrictedUnpickler(io.BytesIO(data), encoding="latin1").load()
    except pickle.UnpicklingError as err:
        raise DatasetError(f"CIFAR file {source} is refused by the safe unpickler: {err}.") from None
    except Exception as err:  # a damaged pickle raises almost anything: EOFError, ValueError, KeyError, ...
        raise DatasetError(
            f"CIFAR file {source} is not a readable pickle ({type(err).__name__}: {err}); delete it and download again."
        ) from None


def _get(batch: Mapping[Any, Any], key: str) -> Any:
    for k in (key, key.encode()):
        if k in batch:
            return batch[k]
    raise KeyError(key)


def parse_cifar_batch(data: bytes, source: str | Path = "<bytes>") -> tuple[np.ndarray, np.ndarray]:
    """Images (uint8 [N, 3, 32, 32]) and labels (int64 [N]) of one pickled batch."""
    batch = restricted_loads(data, source)
    if not isinstance(batch, Mapping):
        raise DatasetError(f"CIFAR file {source} holds a {type(batch).__name__}, not a batch dict.")
    try:
        images, labels = _get(batch, "data"), _get(batch, "labels")
    except KeyError as err:
        raise DatasetError(f"CIFAR file {source} has no '{err.args[0]}' entry; is it a CIFAR-10 batch?") from None
    size = int(np.prod(_IMAGE_SHAPE))
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 2 or images.shape[1] != size:
        got = f"{images.dtype} {images.shape}" if isinstance(images, np.ndarray) else type(images).__name__
        raise DatasetError(f"CIFAR file {source} must hold uint8 images of shape [N, {size}]. Got {got} instead.")
    try:
        labels = np.asarray(labels, dtype=np.int64)
    except (TypeError, ValueError):
        raise DatasetError(f"CIFAR file {source} has labels that are not integers.") from None
    if labels.shape != (len(images),):
        raise DatasetError(f"CIFAR file {source} has {len(images)} images but {labels.size} labels.")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise DatasetError(f"CIFAR file {source} has labels outside 0..9: {labels.min()}..{labels.max()}.")
    return images.reshape(-1, *_IMAGE_SHAPE).copy(), labels


def _concat(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def read_cifar_folder(
    folder: str | Path, split: str, checksums: Mapping[str, DataFile] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The ``split`` of an extracted ``cifar-10-batches-py`` folder; each batch is checked if ``checksums`` is given."""
    folder = Path(folder)
    parts = []
    for name in CIFAR_BATCHES[split]:
        path = folder / name
        if checksums is not None:
            data = read_verified(path, checksums[name])
        else:
            try:
                data = path.read_bytes()
            except OSError as err:
                raise DatasetError(f"Cannot read CIFAR file {path}: {err.strerror or err}.") from None
        parts.append(parse_cifar_batch(data, path))
    return _concat(parts)


def read_cifar_archive(
    archive: str | Path, split: str, checksum: DataFile | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The ``split`` read straight from ``cifar-10-python.tar.gz`` (checked if ``checksum`` is given); nothing is
    extracted to disk."""
    parts = []
    try:
        if checksum is not None:
            tar = tarfile.open(fileobj=io.BytesIO(read_verified(archive, checksum)), mode="r:")
        else:
            tar = tarfile.open(archive, "r:gz")
        with tar:
            for name in CIFAR_BATCHES[split]:
                member = f"{CIFAR_FOLDER}/{name}"
                try:
                    info = tar.getmember(member)
                except KeyError:
                    raise DatasetError(f"CIFAR archive {archive} has no member {member}.") from None
                stream = tar.extractfile(info) if info.isfile() else None
                if stream is None:
                    raise DatasetError(f"CIFAR archive {archive}: {member} is not a regular file.")
                parts.append(parse_cifar_batch(stream.read(), f"{archive}:{member}"))
    except (tarfile.TarError, OSError, EOFError) as err:
        raise DatasetError(f"CIFAR archive {archive} cannot be read ({err}); delete it and download again.") from None
    return _concat(parts)
