"""Atomic file writes: a crash never leaves a half-written checkpoint, artifact or JSON file.

Every writer goes through :func:`atomic_open`: the data go to a temporary file in the target's
folder, are flushed and fsync'ed, and :func:`os.replace` puts the file in place in one step; on any
error the temporary file is removed and the target is left as it was.

Used by: vdlib.deep.train, vdlib.deep.chains, vdlib.experiments.
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

__all__ = ["atomic_open", "save_torch", "write_json", "save_npz"]


@contextlib.contextmanager
def atomic_open(path, mode: str = "wb"):
    """Open a temporary file beside ``path`` for writing; on success it replaces ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_torch(path, payload) -> Path:
    """:func:`torch.save` ``payload`` to ``path`` atomically (read back with ``weights_only=True``)."""
    import torch

    with atomic_open(path, "wb") as fh:
        torch.save(payload, fh)
    return Path(path)


def write_json(path, obj) -> Path:
    """Write ``obj`` as indented, key-sorted JSON to ``path`` atomically."""
    with atomic_open(path, "w") as fh:
        json.dump(obj, fh, indent=1, sort_keys=True)
    return Path(path)


def save_npz(path, *, compressed: bool = True, **arrays) -> Path:
    """Write the named arrays to an ``.npz`` file at ``path`` atomically."""
    import numpy as np

    with atomic_open(path, "wb") as fh:
        (np.savez_compressed if compressed else np.savez)(fh, **arrays)
    return Path(path)
