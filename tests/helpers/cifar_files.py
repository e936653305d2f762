"""Tiny CIFAR-10 / CIFAR-100 files in the real on-disk layout (the python pickles of
``cifar-10-batches-py/`` and ``cifar-100-python/``), written by code independent of vdlib's reader.

Shared by tests/test_data.py (the reader) and tests/test_experiments_spectrum.py (the Fig. 2 runs end to end).
"""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np


def cifar_rows(x_nhwc: np.ndarray) -> np.ndarray:
    """CIFAR's on-disk row layout, written pixel by pixel: the R plane, then G, then B, each row-major."""
    n = len(x_nhwc)
    rows = np.empty((n, 3072), dtype=np.uint8)
    for c in range(3):
        for i in range(32):
            for j in range(32):
                rows[:, c * 1024 + i * 32 + j] = x_nhwc[:, i, j, c]
    return rows


def make_cifar(folder: Path, name: str, per_batch=6, n_test=5, seed=0, bytes_keys=False):
    """A CIFAR python folder with tiny batches; returns the NHWC arrays and labels it encodes.

    ``per_batch`` images in each training batch (CIFAR-10: five ``data_batch_*``, so 5·per_batch training
    images; CIFAR-100: the single ``train`` batch), ``n_test`` in the test batch; random pixels and labels
    from ``seed``.
    """
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    k = (lambda s: s.encode()) if bytes_keys else (lambda s: s)
    n_classes = 10 if name == "cifar10" else 100
    label_key = "labels" if name == "cifar10" else "fine_labels"
    batches = [f"data_batch_{i}" for i in range(1, 6)] if name == "cifar10" else ["train"]
    xs, ys = [], []
    for b in batches + ["test_batch" if name == "cifar10" else "test"]:
        n = n_test if b in ("test_batch", "test") else per_batch
        x = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
        y = rng.integers(0, n_classes, n)
        d = {k("data"): cifar_rows(x), k(label_key): [int(v) for v in y], k("batch_label"): k(b)}
        if name == "cifar100":
            d[k("coarse_labels")] = [int(v) // 5 for v in y]
        (folder / b).write_bytes(pickle.dumps(d, protocol=2))
        xs.append(x)
        ys.append(y)
    names = [f"class{i}" for i in range(n_classes)]
    meta_file, meta_key = ("batches.meta", "label_names") if name == "cifar10" else ("meta", "fine_label_names")
    (folder / meta_file).write_bytes(pickle.dumps({k(meta_key): names}, protocol=2))
    return {"x_train": np.concatenate(xs[:-1]), "y_train": np.concatenate(ys[:-1]), "x_test": xs[-1],
            "y_test": ys[-1], "classes": tuple(names)}
