"""File readers: IDX files (gzipped or not), Keras' ``mnist.npz``, CIFAR's python pickles (in a folder or
inside the downloaded ``.tar.gz``), with the checks that tell a damaged or mislabelled copy apart."""
from __future__ import annotations

import gzip
import io
import math
import pickle
import struct
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .registry import DataFormatError, Dataset, REGISTRY, _CIFAR_MEMBERS, _CIFAR_META

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


@dataclass
class FoundCopy:
    kind: str  # "idx", "npz", "cifar-dir", "cifar-tar"
    path: Path
    description: str
    files: dict = field(default_factory=dict)


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


def _read_found(name: str, f: FoundCopy) -> Dataset:
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


def _read_cifar(name: str, f: FoundCopy):
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
