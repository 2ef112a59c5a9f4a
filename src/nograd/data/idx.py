"""The IDX format of MNIST and Fashion-MNIST: a magic number, big-endian dimension sizes, then raw values.

Files are parsed strictly, since a truncated download or a file of the wrong kind would otherwise turn into a
silently wrong array: the magic number, the type code, the dimensions and the payload length are all checked.
"""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from pathlib import Path

import numpy as np

from nograd.errors import DatasetError

__all__ = ["IDX_TYPES", "read_idx", "parse_idx", "write_idx", "maybe_decompress"]

#: IDX type codes and the big-endian numpy types they stand for.
IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


def maybe_decompress(raw: bytes, source: str | Path) -> bytes:
    """The payload of ``raw``: gunzipped when it starts with the gzip magic bytes, else as it is."""
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as err:
        raise DatasetError(
            f"File {source} is not a readable gzip file ({err}); delete it and download again."
        ) from None


def parse_idx(payload: bytes, source: str | Path = "<bytes>") -> np.ndarray:
    """The array held by the decompressed IDX bytes ``payload``; ``source`` names the file in errors."""
    if len(payload) < 4:
        raise DatasetError(f"IDX file {source} is too short ({len(payload)} bytes) to hold a header.")
    zero, type_code, ndim = struct.unpack(">HBB", payload[:4])
    if zero != 0:
        raise DatasetError(
            f"IDX file {source} has a bad magic number 0x{payload[:4].hex()}: an IDX file starts with two zero "
            "bytes, a type code and the number of dimensions. Is it an IDX file, and decompressed?"
        )
    if type_code not in IDX_TYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_TYPES)
        raise DatasetError(f"IDX file {source} has unknown type code 0x{type_code:02X}; known codes: {known}.")
    if ndim == 0:
        raise DatasetError(f"IDX file {source} declares 0 dimensions; it must have at least 1.")
    header = 4 + 4 * ndim
    if len(payload) < header:
        raise DatasetError(f"IDX file {source} is truncated: its {ndim} dimension sizes need {header} header bytes.")
    dims = struct.unpack(f">{ndim}I", payload[4:header])
    dtype = IDX_TYPES[type_code]
    expected = math.prod(dims) * dtype.itemsize
    if len(payload) - header != expected:
        what = "truncated" if len(payload) - header < expected else "longer than its header says"
        raise DatasetError(
            f"IDX file {source} is {what}: dimensions {dims} of {dtype.itemsize}-byte values need {expected} "
            f"payload bytes, but it has {len(payload) - header}; delete it and download again."
        )
    array = np.frombuffer(payload, dtype=dtype, offset=header).reshape(dims)
    # A native-order, writable copy: torch.from_numpy refuses read-only buffers and big-endian data.
    return array.astype(dtype.newbyteorder("="), copy=True)


def read_idx(path: str | Path) -> np.ndarray:
    """The array in the IDX file ``path``, raw or gzipped (told apart by content, not by name)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise DatasetError(f"Cannot read IDX file {path}: {err.strerror or err}.") from None
    return parse_idx(maybe_decompress(raw, path), path)


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write ``array`` as an IDX file, gzipped when ``path`` ends in ``.gz``; for tests and small exports."""
    array = np.asarray(array)
    codes = {dtype.newbyteorder("="): code for code, dtype in IDX_TYPES.items()}
    native = array.dtype.newbyteorder("=")
    if native not in codes:
        raise DatasetError(f"IDX cannot hold arrays of dtype {array.dtype}; use one of uint8, int8, int16, int32, ...")
    header = struct.pack(">HBB", 0, codes[native], array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.astype(IDX_TYPES[codes[native]], copy=False).tobytes()
    path = Path(path)
    path.write_bytes(gzip.compress(data, mtime=0) if path.suffix == ".gz" else data)
