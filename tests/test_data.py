"""Dataset loaders and image tasks: formats, checksums, lookup, download (mocked), the safe unpickler, real files."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import os
import pickle
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch

from nograd.data import (
    DATASETS,
    DataFile,
    clear_cache,
    dataset_spec,
    find_split,
    load_dataset,
    parse_cifar_batch,
    read_cifar_folder,
    read_idx,
    verify_file,
    write_idx,
)
from nograd.data import files as data_files
from nograd.errors import ConfigError, DatasetError
from nograd.models import build_model
from nograd.tasks import build_task, task_options

MNIST_TEST = (Path(__file__).resolve().parents[1] / "../shared/data/mnist-test").resolve()
FASHION_SYSTEM = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No $NOGRAD_DATA, a private cache folder, no network, and no arrays remembered from another test."""
    monkeypatch.delenv("NOGRAD_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))

    def no_network(*args, **kwargs):
        raise AssertionError("a test tried to download")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    clear_cache()
    yield
    clear_cache()


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _fake_mnist(folder: Path, n: int = 20, prefixes=("train", "t10k")) -> dict[str, tuple[DataFile, ...]]:
    """Tiny IDX files in ``folder``, and the DataFiles (with their real checksums) that describe them."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    files = {}
    for split, prefix in zip(("train", "test"), ("train", "t10k")):
        if prefix not in prefixes:
            continue
        entries = []
        for kind, array in (
            ("images-idx3", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)),
            ("labels-idx1", (np.arange(n) % 10).astype(np.uint8)),
        ):
            path = folder / f"{prefix}-{kind}-ubyte.gz"
            write_idx(path, array)
            raw = path.read_bytes()
            entries.append(DataFile(path.name, _md5(raw), _sha256(gzip.decompress(raw))))
        files[split] = tuple(entries)
    return files


def _patch_spec(monkeypatch, name: str, **changes) -> None:
    monkeypatch.setitem(DATASETS, name, dataclasses.replace(DATASETS[name], **changes))


# --- IDX ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.float64])
def test_idx_round_trip(tmp_path, suffix, dtype):
    array = (np.arange(2 * 3 * 5).reshape(2, 3, 5) * 7 % 256).astype(dtype)
    path = tmp_path / f"a.idx{suffix}"
    write_idx(path, array)
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype) and back.shape == (2, 3, 5)
    np.testing.assert_array_equal(back, array)
    assert path.read_bytes()[:2] == (b"\x1f\x8b" if suffix else b"\x00\x00")


def test_idx_bad_magic(tmp_path):
    path = tmp_path / "bad.idx"
    path.write_bytes(b"\x12\x34\x08\x01" + b"\x00\x00\x00\x02" + b"ab")
    with pytest.raises(DatasetError, match=r"bad\.idx has a bad magic number 0x12340801"):
        read_idx(path)


def test_idx_unknown_type_code(tmp_path):
    path = tmp_path / "code.idx"
    path.write_bytes(b"\x00\x00\x07\x01\x00\x00\x00\x01x")
    with pytest.raises(DatasetError, match="unknown type code 0x07"):
        read_idx(path)


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_truncated_payload(tmp_path, suffix):
    path = tmp_path / f"short.idx{suffix}"
    write_idx(path, np.zeros((4, 28, 28), np.uint8))
    data = gzip.decompress(path.read_bytes()) if suffix else path.read_bytes()
    data = data[:-10]
    path.write_bytes(gzip.compress(data) if suffix else data)
    with pytest.raises(DatasetError, match=r"short\.idx.* is truncated: .*need 3136 payload bytes, but it has 3126"):
        read_idx(path)


def test_idx_truncated_header_and_broken_gzip(tmp_path):
    short = tmp_path / "header.idx"
    short.write_bytes(b"\x00\x00\x08\x03\x00\x00\x00\x01")
    with pytest.raises(DatasetError, match="truncated: its 3 dimension sizes need 16 header bytes"):
        read_idx(short)
    broken = tmp_path / "broken.idx.gz"
    noise = np.random.default_rng(0).integers(0, 256, 1000, dtype=np.uint8).tobytes()
    broken.write_bytes(gzip.compress(noise)[:-4])
    with pytest.raises(DatasetError, match=r"broken\.idx\.gz is not a readable gzip file"):
        read_idx(broken)


# --- checksums, lookup, download ---------------------------------------------------------------------------------


def test_fake_mnist_loads_and_verification_is_cached(tmp_path, monkeypatch):
    folder = tmp_path / "mnist-files"
    _patch_spec(monkeypatch, "mnist", files=_fake_mnist(folder))
    images, labels = load_dataset("mnist", "train", data_dir=folder)
    assert images.shape == (20, 1, 28, 28) and images.dtype == torch.uint8
    assert labels.dtype == torch.int64 and labels.tolist() == [i % 10 for i in range(20)]
    assert len(data_files._VERIFIED) == 2
    images[0] = 0  # the caller's copy: the next load is unaffected
    again, _ = load_dataset("mnist", "train", data_dir=folder)
    assert again[0].any()


def test_recompressed_file_passes_by_decompressed_sha256(tmp_path, monkeypatch):
    """Debian recompresses Fashion-MNIST: the .gz MD5 differs but the payload is the published one."""
    folder = tmp_path / "mnist-files"
    files = _fake_mnist(folder)
    path = folder / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes()), compresslevel=1, mtime=12345))
    assert _md5(path.read_bytes()) != files["train"][0].md5
    verify_file(path, files["train"][0])
    # An uncompressed copy passes too.
    plain = tmp_path / "train-images-idx3-ubyte"
    plain.write_bytes(gzip.decompress(path.read_bytes()))
    verify_file(plain, files["train"][0])


def test_checksum_mismatch_is_a_clear_error(tmp_path, monkeypatch):
    folder = tmp_path / "mnist-files"
    files = _fake_mnist(folder)
    _patch_spec(monkeypatch, "mnist", files=files)
    path = folder / "t10k-labels-idx1-ubyte.gz"
    labels = np.arange(20, dtype=np.uint8) % 10
    labels[3] = 9  # same size, different content
    write_idx(path, labels)
    with pytest.raises(DatasetError) as info:
        load_dataset("mnist", "test", data_dir=folder)
    message = str(info.value)
    assert str(path) in message and "fails its checksum" in message
    assert f"md5 {files['test'][1].md5}" in message and f"sha256 {files['test'][1].sha256}" in message
    assert "delete it and download again" in message


def test_missing_files_name_files_places_and_sources(tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("NOGRAD_DATA", str(tmp_path / "env"))
    with pytest.raises(DatasetError) as info:
        load_dataset("mnist", "train", data_dir=empty)  # the autouse fixture fails the test if it downloads
    message = str(info.value)
    for needed in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", str(empty), str(empty / "mnist")):
        assert needed in message
    assert str(tmp_path / "env" / "mnist") in message and str(tmp_path / "cache" / "nograd" / "mnist") in message
    assert "https://ossci-datasets.s3.amazonaws.com/mnist/" in message and "download=True" in message
    assert find_split("mnist", "train", empty) is None


def test_missing_fashion_mnist_names_the_debian_package(tmp_path, monkeypatch):
    _patch_spec(monkeypatch, "fashion-mnist", system_dirs=(str(tmp_path / "usr-share"),))
    with pytest.raises(DatasetError, match="apt-get install dataset-fashion-mnist") as info:
        load_dataset("fashion-mnist", "test")
    assert "t10k-images-idx3-ubyte.gz" in str(info.value) and str(tmp_path / "usr-share") in str(info.value)


def test_cifar_missing_names_archive_and_folder(tmp_path):
    with pytest.raises(DatasetError, match="cifar-10-python.tar.gz, or its extracted folder cifar-10-batches-py/"):
        load_dataset("cifar10", "test", data_dir=tmp_path)


def test_lookup_order_and_nograd_data_subfolder(tmp_path, monkeypatch):
    first, second = tmp_path / "first", tmp_path / "root"
    files = _fake_mnist(first)
    _fake_mnist(second / "mnist")
    _patch_spec(monkeypatch, "mnist", files=files)
    monkeypatch.setenv("NOGRAD_DATA", str(second))
    assert find_split("mnist", "test") == second / "mnist"
    assert find_split("mnist", "test", data_dir=first) == first


def test_bad_arguments():
    with pytest.raises(ConfigError, match="The 'split' parameter of load_dataset must be one of 'train', 'test'"):
        load_dataset("mnist", "validation")
    with pytest.raises(ConfigError, match="Unknown dataset 'svhn'"):
        dataset_spec("svhn")


class _Response(io.BytesIO):
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def test_download_is_checked_and_atomic(tmp_path, monkeypatch):
    source = tmp_path / "published"
    files = _fake_mnist(source)
    _patch_spec(monkeypatch, "mnist", files=files, urls=("https://mirror-a.invalid/", "https://mirror-b.invalid/"))
    asked = []

    def fake_urlopen(url, timeout=None):
        asked.append(url)
        if "mirror-a" in url:  # a broken mirror: serves a corrupt file, then the good one is tried
            return _Response(b"not the file")
        return _Response((source / url.rsplit("/", 1)[1]).read_bytes())

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    images, labels = load_dataset("mnist", "test", download=True)
    assert images.shape == (20, 1, 28, 28)
    cache = tmp_path / "cache" / "nograd" / "mnist"
    assert sorted(p.name for p in cache.iterdir()) == ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    assert asked[:2] == ["https://mirror-a.invalid/t10k-images-idx3-ubyte.gz"] + [
        "https://mirror-b.invalid/t10k-images-idx3-ubyte.gz"
    ]


def test_failed_download_leaves_nothing(tmp_path, monkeypatch):
    _patch_spec(monkeypatch, "mnist", files=_fake_mnist(tmp_path / "published"), urls=("https://m.invalid/",))

    def offline(url, timeout=None):
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(DatasetError, match="Could not download t10k-images-idx3-ubyte.gz .*no route to host"):
        load_dataset("mnist", "test", download=True)
    cache = tmp_path / "cache" / "nograd" / "mnist"
    assert not cache.exists() or list(cache.iterdir()) == []


# --- CIFAR-10 ----------------------------------------------------------------------------------------------------


class _Evil:
    def __init__(self, target: Path):
        self.target = target

    def __reduce__(self):
        return (os.system, (f"touch {self.target}",))


def test_restricted_unpickler_refuses_code(tmp_path):
    target = tmp_path / "pwned"
    for payload in (_Evil(target), {"data": _Evil(target)}):
        with pytest.raises(DatasetError, match=r"refused by the safe unpickler: global '(posix|os)\.system'"):
            parse_cifar_batch(pickle.dumps(payload), "evil_batch")
    assert not target.exists()
    eval_pickle = b"cbuiltins\neval\n(S'1+1'\ntR."
    with pytest.raises(DatasetError, match="global 'builtins.eval' is forbidden"):
        parse_cifar_batch(eval_pickle, "eval_batch")


def _fake_cifar(folder: Path, n: int = 4) -> dict[str, DataFile]:
    folder.mkdir(parents=True, exist_ok=True)
    checksums = {}
    for i, name in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        data = np.full((n, 3072), i, dtype=np.uint8)
        data[:, 1024:2048] = 100 + i  # the green plane
        batch = {"batch_label": name, "data": data, "labels": [(i + j) % 10 for j in range(n)]}
        if name == "data_batch_2":  # as Python 3 reads the originals with encoding="bytes"
            batch = {k.encode(): v for k, v in batch.items()}
        raw = pickle.dumps(batch, protocol=4)
        (folder / name).write_bytes(raw)
        checksums[name] = DataFile(name, _md5(raw))
    return checksums


def test_fake_cifar_folder_loads(tmp_path):
    _fake_cifar(tmp_path / "cifar-10-batches-py")
    images, labels = read_cifar_folder(tmp_path / "cifar-10-batches-py", "train")
    assert images.shape == (20, 3, 32, 32) and images.dtype == np.uint8 and labels.dtype == np.int64
    assert (images[:4, 0] == 0).all() and (images[:4, 1] == 100).all() and (images[4:8, 1] == 101).all()
    assert labels[:4].tolist() == [0, 1, 2, 3]


def test_fake_cifar_through_registry_folder_and_archive(tmp_path, monkeypatch):
    folder = tmp_path / "extracted" / "cifar-10-batches-py"
    checksums = _fake_cifar(folder)
    archive = tmp_path / "archived" / "cifar-10-python.tar.gz"
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="cifar-10-batches-py")
    files = {
        "train": tuple(checksums[f"data_batch_{k}"] for k in range(1, 6)),
        "test": (checksums["test_batch"],),
    }
    _patch_spec(monkeypatch, "cifar10", files=files, archive=DataFile(archive.name, _md5(archive.read_bytes())))
    from_folder = load_dataset("cifar10", "train", data_dir=tmp_path / "extracted")
    from_archive = load_dataset("cifar10", "train", data_dir=archive.parent)
    assert from_folder[0].shape == (20, 3, 32, 32)
    assert torch.equal(from_folder[0], from_archive[0]) and torch.equal(from_folder[1], from_archive[1])
    (folder / "test_batch").write_bytes(pickle.dumps({"data": np.zeros((1, 3072), np.uint8), "labels": [0]}))
    with pytest.raises(DatasetError, match="test_batch fails its checksum"):
        load_dataset("cifar10", "test", data_dir=folder)


def test_cifar_batch_with_wrong_shape_is_refused():
    raw = pickle.dumps({"data": np.zeros((2, 100), np.uint8), "labels": [0, 1]})
    with pytest.raises(DatasetError, match=r"must hold uint8 images of shape \[N, 3072\]"):
        parse_cifar_batch(raw, "odd_batch")


# --- real data ---------------------------------------------------------------------------------------------------

needs_mnist_test = pytest.mark.skipif(not MNIST_TEST.is_dir(), reason=f"MNIST test set not at {MNIST_TEST}")


@needs_mnist_test
def test_real_mnist_test_set():
    spec = dataset_spec("mnist")
    for datafile in spec.files["test"]:
        verify_file(MNIST_TEST / datafile.name, datafile)
    images, labels = load_dataset("mnist", "test", data_dir=MNIST_TEST)
    assert images.shape == (10000, 1, 28, 28) and images.dtype == torch.uint8
    assert labels.shape == (10000,) and labels.dtype == torch.int64
    assert labels.bincount().tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@needs_mnist_test
def test_mnist_task_on_a_split_of_the_test_set():
    task = build_task("mnist", seed=3, split_test=0.5, data_dir=str(MNIST_TEST))
    assert task.x_train.shape == (5000, 1, 28, 28) and task.x_test.shape == (5000, 1, 28, 28)
    assert task.x_train.dtype == torch.float32 and abs(float(task.x_train.mean())) < 0.1
    model = build_model("mlp", task.input_shape, task.num_outputs, **{"hidden": [8]})
    metrics = task.metrics(model)
    assert set(metrics) == {"train_loss", "train_acc", "test_acc"}
    assert 0 < metrics["train_loss"] < 10 and 0 <= metrics["test_acc"] <= 1
    same = build_task("mnist", seed=3, split_test=0.5, data_dir=str(MNIST_TEST))
    assert torch.equal(same.y_train, task.y_train)


@needs_mnist_test
def test_mnist_task_with_only_test_files_says_so():
    with pytest.raises(DatasetError, match="Only the test split of 'mnist' was found .*split_test=0.5"):
        build_task("mnist", data_dir=str(MNIST_TEST))


@pytest.mark.skipif(not FASHION_SYSTEM.is_dir(), reason="no Debian dataset-fashion-mnist package installed")
def test_real_fashion_mnist_from_the_debian_package():
    assert find_split("fashion-mnist", "train") == FASHION_SYSTEM
    images, labels = load_dataset("fashion-mnist", "train")
    assert images.shape == (60000, 1, 28, 28) and labels.bincount().tolist() == [6000] * 10
    images, labels = load_dataset("fashion-mnist", "test")
    assert images.shape == (10000, 1, 28, 28) and labels.bincount().tolist() == [1000] * 10


def test_digits_split_is_fixed_and_disjoint():
    pytest.importorskip("sklearn")
    x_train, y_train = load_dataset("digits", "train")
    x_test, y_test = load_dataset("digits", "test")
    assert x_train.shape == (1438, 1, 8, 8) and x_test.shape == (359, 1, 8, 8) and int(x_train.max()) == 16
    rows = {tuple(r) for r in x_train.flatten(1).tolist()}
    assert not any(tuple(r) in rows for r in x_test.flatten(1).tolist())  # digits has no duplicate images
    task = build_task("digits", seed=0, train_subset=100, batch_size=10)
    assert task.x_train.shape == (100, 1, 8, 8) and task.train_batch(0)[0].shape == (10, 1, 8, 8)
    assert torch.equal(task.y_train, build_task("digits", seed=0, train_subset=100).y_train)
    assert not torch.equal(task.y_train, build_task("digits", seed=1, train_subset=100).y_train)
    assert "data_dir" not in task_options("digits") and task_options("mnist")["download"] is False


def test_image_task_options_are_validated():
    with pytest.raises(ConfigError, match="The 'split_test' parameter of MNISTTask must be a float in \\(0, 1\\)"):
        build_task("mnist", split_test=1.5)
    with pytest.raises(ConfigError, match="The 'train_subset' option of task 'digits' must be at most"):
        build_task("digits", train_subset=10_000)
