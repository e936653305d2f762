"""Downloads (only with ``download=True`` or :func:`fetch`): canonical hosts, a temporary file, the
published MD5 checked before the file is renamed into place; CIFAR archives extracted the same way."""
from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

from ...progress import progress as progress_bar
from .locate import download_root
from .registry import (BUNDLED, ChecksumError, DEBIAN_PACKAGE, DataFormatError, DownloadError, ENV_DATA,
                       REGISTRY, RemoteFile, _CIFAR_DIRS, _CIFAR_MEMBERS, _CIFAR_META, canonical_name)


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
                         f"vdlib.deep.data.load({BUNDLED!r}) reads it")
    info = REGISTRY[name]
    target = download_root(root)
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
        try:
            with tarfile.open(archive, "r:gz") as tar:
                members = [m for m in tar.getmembers() if m.isfile() and m.name.startswith(_CIFAR_DIRS[name] + "/")]
                tar.extractall(tmp, members=members, filter="data")
        except tarfile.FilterError as exc:  # e.g. a member named .../../x: it would be written outside tmp
            raise DataFormatError(
                f"{archive} is unsafe or damaged: extracting it would write {exc.tarinfo.name!r} "
                f"({type(exc).__name__}: {exc}); nothing was kept. Delete it and download it again from the "
                f"official source ({REGISTRY[name].mirrors[0]}{REGISTRY[name].files[0].filename}, "
                "vdlib.deep.data.fetch checks its published MD5)") from None
        except (tarfile.TarError, EOFError, gzip.BadGzipFile, zlib.error) as exc:
            raise DataFormatError(
                f"{archive} is damaged: it cannot be extracted ({type(exc).__name__}: {exc}). Delete it and download "
                f"it again from the official source ({REGISTRY[name].mirrors[0]}{REGISTRY[name].files[0].filename})"
            ) from None
        os.replace(tmp / _CIFAR_DIRS[name], folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder
