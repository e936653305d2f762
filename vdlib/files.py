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
           "remove_stale_temporaries", "DamagedFile", "load_torch", "load_json", "load_npy", "load_npz", "npy_layout"]


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


# --------------------------------------------------------------------------------------------------
# reading saved state back: every failure names the file, says what is wrong and gives the fix
# --------------------------------------------------------------------------------------------------
class DamagedFile(ValueError):
    """A saved file (checkpoint, record, metadata) cannot be used; the message names it and gives the fix.

    ``.path``, ``.problem`` (what is wrong) and ``.fix`` (what to do) are also attributes."""

    def __init__(self, path, problem: str, fix: str):
        self.path, self.problem, self.fix = Path(path), problem, fix
        super().__init__(f"{path} {problem}: {fix}")


def _missing_or_empty(path: Path, what: str, fix: str) -> None:
    if not path.is_file():
        raise DamagedFile(path, f"is missing (a {what} was expected here)", fix)
    if path.stat().st_size == 0:
        raise DamagedFile(path, f"is empty (0 bytes; a {what} was expected): it was cut off while being written", fix)


def load_torch(path, *, what: str, fix: str, map_location="cpu"):
    """``torch.load(path, weights_only=True)``; a truncated, zeroed or foreign file raises :class:`DamagedFile`.

    ``what`` names what the file should hold, without an article ("checkpoint of the long phase");
    ``fix`` says what to do. Torch's own advice about unpickling is never passed on (loading with
    ``weights_only=False`` would run arbitrary code from the file)."""
    import pickle

    import torch

    path = Path(path)
    _missing_or_empty(path, what, fix)
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head != b"PK\x03\x04":
        zeros = head == b"\0\0\0\0"
        raise DamagedFile(path, f"is not a {what} ({size:,} bytes, " +
                          ("zeroed" if zeros else "no archive header: damaged or another kind of file") + ")", fix)
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError:
        problem = f"is not a {what}: it holds objects other than tensors and plain data, which vdlib never writes"
    except (RuntimeError, EOFError, OSError, ValueError, KeyError, IndexError, AttributeError, TypeError):
        problem = f"is truncated or damaged ({size:,} bytes): not a complete {what}"
    raise DamagedFile(path, problem, fix) from None


def load_json(path, *, what: str, fix: str, keys=()) -> dict:
    """A JSON object from ``path`` holding at least ``keys``; anything else raises :class:`DamagedFile`."""
    path = Path(path)
    _missing_or_empty(path, what, fix)
    try:
        d = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DamagedFile(path, f"is not valid JSON (a {what} was expected; the text breaks off or "
                                f"is damaged at character {getattr(e, 'pos', getattr(e, 'start', '?'))})", fix) from None
    if not isinstance(d, dict):
        raise DamagedFile(path, f"holds a JSON {type(d).__name__}, not a {what}", fix)
    missing = [k for k in keys if k not in d]
    if missing:
        raise DamagedFile(path, f"lacks the entries {', '.join(map(repr, missing))} of a {what}", fix)
    return d


def load_npy(path, *, what: str, fix: str, mmap_mode=None):
    """A ``.npy`` array (never pickled objects); a damaged file raises :class:`DamagedFile`."""
    import numpy as np

    path = Path(path)
    _missing_or_empty(path, what, fix)
    with open(path, "rb") as fh:
        if fh.read(6) != b"\x93NUMPY":
            raise DamagedFile(path, f"is not a .npy array (no NumPy header: damaged or another kind of file; {what})",
                              fix)
    try:
        return np.load(path, mmap_mode=mmap_mode, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        problem = ("holds pickled objects, not a plain array" if "pickle" in str(e)
                   else "is not a .npy array (damaged header or truncated)")
        raise DamagedFile(path, f"{problem} ({what})", fix) from None


def npy_layout(path, *, what: str, fix: str) -> tuple[tuple[int, ...], object, int, int]:
    """``(shape, dtype, header bytes, expected file size)`` from a ``.npy`` header, without reading the data."""
    import numpy as np

    path = Path(path)
    _missing_or_empty(path, what, fix)
    try:
        with open(path, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read(fh)
            header = fh.tell()
    except (ValueError, OSError, EOFError) as e:
        raise DamagedFile(path, f"is not a .npy array (damaged header or another kind of file; a {what} was "
                                f"expected: {e})", fix) from None
    if dtype.hasobject:
        raise DamagedFile(path, f"holds pickled objects, not a plain array (a {what} was expected)", fix)
    return tuple(shape), dtype, header, header + int(np.prod(shape)) * dtype.itemsize


def load_npz(path, *, what: str, fix: str) -> dict:
    """All arrays of an ``.npz`` file as a dict (read fully; never pickled objects), or :class:`DamagedFile`."""
    import zipfile

    import numpy as np

    path = Path(path)
    _missing_or_empty(path, what, fix)
    with open(path, "rb") as fh:
        if fh.read(4) != b"PK\x03\x04":
            raise DamagedFile(path, f"is not an .npz archive (no archive header: damaged or another kind of file; "
                                    f"a {what} was expected)", fix)
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError) as e:
        problem = ("holds pickled objects, not plain arrays" if "pickle" in str(e)
                   else "is truncated or not an .npz archive")
        raise DamagedFile(path, f"{problem} ({what})", fix) from None
