"""What each dataset is: its files and their checksums, where they are published, image shape and statistics."""

from __future__ import annotations

from dataclasses import dataclass, field

from nograd._validation import unknown_name_error
from nograd.data.cifar import CIFAR_BATCHES
from nograd.data.files import DataFile

__all__ = ["SPLITS", "DatasetSpec", "DATASETS", "dataset_spec"]

SPLITS = ("train", "test")


@dataclass(frozen=True)
class DatasetSpec:
    """What a dataset is and where its files come from.

    Attributes:
        name: registry name (``mnist``, ``fashion-mnist``, ``cifar10``, ``digits``).
        title: human name.
        format: ``idx``, ``cifar`` (pickled batches) or ``sklearn`` (bundled with scikit-learn, no files).
        shape: (C, H, W) of one image.
        classes: class names, indexed by label.
        sizes: examples per split.
        mean, std: per-channel statistics of the [0, 1]-scaled training images, for normalisation.
        pixel_max: the largest pixel value (255, or 16 for digits); images are divided by it to lie in [0, 1].
        files: per split, the files it needs, all in one folder.
        archive: one archive that holds every split (CIFAR-10), as an alternative to ``files``.
        homepage: where the dataset is described.
        urls: base URLs the files are downloaded from, tried in order.
        system_dirs: folders where an operating-system package puts the files.
        install_hint: how to install such a package.
    """

    name: str
    title: str
    format: str
    shape: tuple[int, int, int]
    classes: tuple[str, ...]
    sizes: dict[str, int]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    pixel_max: int = 255
    files: dict[str, tuple[DataFile, ...]] = field(default_factory=dict)
    archive: DataFile | None = None
    homepage: str = ""
    urls: tuple[str, ...] = ()
    system_dirs: tuple[str, ...] = ()
    install_hint: str | None = None


def _idx_files(prefix: str, md5s: tuple[str, str], sha256s: tuple[str | None, str | None]) -> tuple[DataFile, ...]:
    return (
        DataFile(f"{prefix}-images-idx3-ubyte.gz", md5s[0], sha256s[0]),
        DataFile(f"{prefix}-labels-idx1-ubyte.gz", md5s[1], sha256s[1]),
    )


_CIFAR_MD5 = {
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "40351d587109b95175f43aff81a1287e",
}
DIGITS = ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9")

# Checksums. MD5s are the publishers' (as torchvision lists them): of the .gz files, and of CIFAR-10's archive and
# batches. SHA-256s are of the decompressed IDX files: for MNIST test and all of Fashion-MNIST computed here from
# files holding the published content (MNIST test: its .gz MD5 matches; Fashion-MNIST: Debian's recompressed
# package); for MNIST train taken from several third-party listings that agree with each other and with ours.
DATASETS: dict[str, DatasetSpec] = {
    "mnist": DatasetSpec(
        name="mnist",
        title="MNIST handwritten digits",
        format="idx",
        shape=(1, 28, 28),
        classes=DIGITS,
        sizes={"train": 60_000, "test": 10_000},
        mean=(0.1307,),
        std=(0.3081,),
        files={
            "train": _idx_files(
                "train",
                ("f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432"),
                (
                    "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
                    "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
                ),
            ),
            "test": _idx_files(
                "t10k",
                ("9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c"),
                (
                    "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
                    "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
                ),
            ),
        },
        homepage="http://yann.lecun.com/exdb/mnist/",
        urls=("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
    ),
    "fashion-mnist": DatasetSpec(
        name="fashion-mnist",
        title="Fashion-MNIST (Zalando article images)",
        format="idx",
        shape=(1, 28, 28),
        classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Boot"),
        sizes={"train": 60_000, "test": 10_000},
        mean=(0.2860,),
        std=(0.3530,),
        files={
            "train": _idx_files(
                "train",
                ("8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe"),
                (
                    "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
                    "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
                ),
            ),
            "test": _idx_files(
                "t10k",
                ("bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310"),
                (
                    "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
                    "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
                ),
            ),
        },
        homepage="https://github.com/zalandoresearch/fashion-mnist",
        urls=(
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        ),
        system_dirs=("/usr/share/datasets/fashion-mnist",),
        install_hint="apt-get install dataset-fashion-mnist",
    ),
    "cifar10": DatasetSpec(
        name="cifar10",
        title="CIFAR-10 tiny colour images",
        format="cifar",
        shape=(3, 32, 32),
        classes=("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
        sizes={"train": 50_000, "test": 10_000},
        mean=(0.4914, 0.4822, 0.4465),
        std=(0.2470, 0.2435, 0.2616),
        files={split: tuple(DataFile(n, _CIFAR_MD5[n]) for n in names) for split, names in CIFAR_BATCHES.items()},
        archive=DataFile("cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a"),
        homepage="https://www.cs.toronto.edu/~kriz/cifar.html",
        urls=("https://www.cs.toronto.edu/~kriz/",),
    ),
    "digits": DatasetSpec(
        name="digits",
        title="scikit-learn's 8x8 handwritten digits (UCI optdigits test set)",
        format="sklearn",
        shape=(1, 8, 8),
        classes=DIGITS,
        sizes={"train": 1438, "test": 359},
        # Over all 1797 images: the split is ours, so no statistic of it is more official than another.
        mean=(0.3053,),
        std=(0.3760,),
        pixel_max=16,
        homepage="https://scikit-learn.org/stable/modules/generated/sklearn.datasets.load_digits.html",
    ),
}


def dataset_spec(name: str) -> DatasetSpec:
    """The spec of dataset ``name``; ConfigError for an unknown name."""
    if name not in DATASETS:
        raise unknown_name_error("dataset", name, DATASETS)
    return DATASETS[name]
