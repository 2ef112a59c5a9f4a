"""Where dataset files are looked for, how they are checked, and how they are downloaded.

Every file is checked before use. A file passes when the MD5 of its bytes is the one its publisher lists, or the
SHA-256 of its decompressed payload is a known one: repackagers such as Debian recompress the ``.gz`` files, which
changes the first but not the second. A file that passed is remembered by path, size and modification time, so
loading it again in the same process costs no hashing.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from nograd.data.idx import maybe_decompress
from nograd.errors import DatasetError

__all__ = [
    "DataFile",
    "cache_root",
    "search_dirs",
    "file_signature",
    "verify_file",
    "read_verified",
    "download_file",
]

#: (resolved path, size, mtime_ns) and DataFile of the files that passed their checksum in this process.
_VERIFIED: set[tuple[tuple[str, int, int], DataFile]] = set()
_CHUNK = 1 << 20


@dataclass(frozen=True)
class DataFile:
    """One published file and the checksums that identify it.

    Attributes:
        name: the file name as published, e.g. ``train-images-idx3-ubyte.gz``.
        md5: MD5 of the file as published (for a ``.gz``, of the compressed bytes), or None if unknown.
        sha256: SHA-256 of the decompressed payload (for a file that is not compressed, of the file), or None.
    """

    name: str
    md5: str | None = None
    sha256: str | None = None

    @property
    def names(self) -> tuple[str, ...]:
        """Names it may have on disk: as published, and decompressed if published as ``.gz``."""
        return (self.name, self.name[:-3]) if self.name.endswith(".gz") else (self.name,)

    def find_in(self, folder: Path) -> Path | None:
        """The copy of this file in ``folder``, or None."""
        for name in self.names:
            if (folder / name).is_file():
                return folder / name
        return None


def cache_root() -> Path:
    """Where downloads go: ``$XDG_CACHE_HOME/nograd``, else ``~/.cache/nograd``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "nograd"


def search_dirs(name: str, data_dir: str | os.PathLike | None, system_dirs: Iterable[str] = ()) -> list[Path]:
    """Folders to look in, in order: ``data_dir``, ``$NOGRAD_DATA``, the system folders, then the cache.

    ``data_dir`` and ``$NOGRAD_DATA`` are tried as they are and with a ``<name>/`` subfolder.
    """
    dirs: list[Path] = []
    for base in (data_dir, os.environ.get("NOGRAD_DATA") or None):
        if base is not None:
            base = Path(base).expanduser()
            dirs += [base, base / name]
    dirs += [Path(d) for d in system_dirs]
    dirs.append(cache_root() / name)
    unique: list[Path] = []
    for d in dirs:
        if d not in unique:
            unique.append(d)
    return unique


def file_signature(path: Path) -> tuple[str, int, int]:
    """(resolved path, size, mtime_ns): changes when the file is replaced or rewritten."""
    stat = path.stat()
    return (str(path.resolve()), stat.st_size, stat.st_mtime_ns)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise DatasetError(f"Cannot read dataset file {path}: {err.strerror or err}.") from None


def _mismatch(path: Path, raw: bytes, spec: DataFile) -> tuple[bytes | None, str | None]:
    """(payload if it was decompressed, None) when ``raw`` passes, else (None, what was expected and got)."""
    md5 = hashlib.md5(raw, usedforsecurity=False).hexdigest()
    if spec.md5 is not None and md5 == spec.md5:
        return None, None
    payload = maybe_decompress(raw, path)
    sha256 = hashlib.sha256(payload).hexdigest()
    if spec.sha256 is not None and sha256 == spec.sha256:
        return payload, None
    expected = [f"md5 {spec.md5} (of the file as published)"] if spec.md5 else []
    expected += [f"sha256 {spec.sha256} (of its decompressed contents)"] if spec.sha256 else []
    return None, f"expected {' or '.join(expected) or 'a known checksum'}, got md5 {md5} and sha256 {sha256}"


def verify_file(path: str | Path, spec: DataFile) -> None:
    """Raise DatasetError unless the file at ``path`` is the one ``spec`` describes."""
    read_verified(path, spec)


def read_verified(path: str | Path, spec: DataFile) -> bytes:
    """The decompressed payload of ``path`` after checking it against ``spec`` (skipped if it passed before)."""
    path = Path(path)
    raw = _read(path)
    signature = (file_signature(path), spec)
    payload = None
    if signature not in _VERIFIED:
        payload, problem = _mismatch(path, raw, spec)
        if problem:
            raise DatasetError(f"Dataset file {path} fails its checksum: {problem}; delete it and download again.")
        _VERIFIED.add(signature)
    return payload if payload is not None else maybe_decompress(raw, path)


def download_file(urls: Sequence[str], dest: Path, spec: DataFile, timeout: float = 60.0) -> Path:
    """Download ``spec`` to ``dest``, trying ``urls`` in order; the file appears only once it passed its checksum.

    The bytes go to a temporary file beside ``dest`` that is checked, then renamed over ``dest`` (atomic on one
    file system), so an interrupted or corrupt download never leaves a file that looks complete.
    """
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DatasetError(f"Cannot create the download folder {dest.parent}: {err.strerror or err}.") from None
    failures = []
    for url in urls:
        try:
            fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
        except OSError as err:
            raise DatasetError(f"Cannot write to the download folder {dest.parent}: {err.strerror or err}.") from None
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
            _, problem = _mismatch(tmp, tmp.read_bytes(), spec)
            if problem:
                failures.append(f"{url}: the downloaded file fails its checksum: {problem}")
                continue
            os.replace(tmp, dest)
            _VERIFIED.add((file_signature(dest), spec))
            return dest
        except (urllib.error.URLError, OSError, DatasetError) as err:
            failures.append(f"{url}: {getattr(err, 'reason', None) or err}")
        finally:
            tmp.unlink(missing_ok=True)
    raise DatasetError(f"Could not download {spec.name} to {dest.parent}: " + "; ".join(failures) + ".")
