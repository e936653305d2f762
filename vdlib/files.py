"""Atomic file writes (a crash never leaves a half-written checkpoint, artifact or JSON file), and the
two reads that go with them: a file's SHA-256 and a JSON summary checked for its format tag.

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

__all__ = ["atomic_open", "save_torch", "write_json", "save_npz", "sha256", "read_summary",
           "remove_stale_temporaries"]


def _umask() -> int:
    """The process's umask, read without changing it where Linux allows (/proc), else set and restored."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_open(path, mode: str = "wb"):
    """Open a temporary file beside ``path`` for writing; on success it replaces ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; a written file gets the umask's mode, as open() gives
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def remove_stale_temporaries(folder) -> list[Path]:
    """Delete the temporary files a killed writer left in ``folder`` and its subfolders (the ``.NAME.*.tmp``
    of :func:`atomic_open`); returns them. Call it only while holding the folder's run lock."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    stale = [p for p in folder.rglob(".*.tmp") if p.is_file()]
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


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


def sha256(path) -> str:
    """The SHA-256 of a file's bytes (hex), read in 1 MiB pieces."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_summary(path, fmt: str, create: str) -> dict:
    """The JSON summary at ``path``, checked for its format tag ``fmt``; ``create`` says how to make one."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: create it with `{create}`")
    try:
        d = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not valid JSON ({e}): recreate it with `{create}`") from None
    if not isinstance(d, dict) or d.get("format") != fmt:
        got = d.get("format") if isinstance(d, dict) else type(d).__name__
        raise ValueError(f"{path} has format {got!r}, expected {fmt!r}: recreate it with `{create}`")
    return d
