"""Where data are looked for (``root=``, ``$VDLIB_DATA``, vdlib's download folder, Keras' cache, Debian's
``dataset-fashion-mnist``), what was found there, and the message that lists every place tried."""
from __future__ import annotations

import os
from pathlib import Path

from .bundled import bundled_mnist_file
from .readers import FoundCopy
from .registry import (BUNDLED, DEBIAN_PACKAGE, ENV_DATA, ENV_IGNORE_SYSTEM, REGISTRY, DataNotFoundError,
                       _CIFAR_DIRS, _CIFAR_MEMBERS, _CIFAR_META, _IDX_FILES, canonical_name)

#: Debian's dataset-fashion-mnist package (:data:`~vdlib.deep.data.registry.DEBIAN_PACKAGE`): dpkg's list
#: of its files, and the folder it installs (seen with ``dpkg -L dataset-fashion-mnist``).
DEBIAN_FILE_LIST = Path("/var/lib/dpkg/info/dataset-fashion-mnist.list")
DEBIAN_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")


# ------------------------------------------------------------------------------ locating data


def default_download_root() -> Path:
    """Where ``download=True`` puts files when neither ``root`` nor ``$VDLIB_DATA`` is given."""
    cache = os.environ.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
    return Path(cache) / "vdlib" / "data"


def _keras_root() -> Path:
    home = os.environ.get("KERAS_HOME", "").strip()
    return Path(home) / "datasets" if home else Path.home() / ".keras" / "datasets"


def check_root(root, *, destination: bool = False) -> None:
    """Refuse a ``root=`` (``--data-root``) that is not a folder, instead of quietly searching elsewhere.

    A root that does not exist or is a file raises :class:`DataNotFoundError`: searching on would find
    another copy of the data (or none) and report it as if the folder had been used. With
    ``destination=True`` (``download=True``, where the root is where files go) a missing folder is
    allowed; a file still is not. ``None`` (no root given) passes.
    """
    if root is None:
        return
    path = Path(root).expanduser()
    if path.is_dir() or (destination and not path.exists()):
        return
    what = "is a file, not a folder" if path.exists() else "does not exist"
    raise DataNotFoundError(
        f"data root (root= / --data-root) {path} {what}: pass the folder that holds the data (MNIST's or "
        "Fashion-MNIST's four IDX files or Keras' mnist.npz, CIFAR's cifar-10-batches-py/ or cifar-100-python/ "
        f"folder or its .tar.gz), or leave it out to search ${ENV_DATA}, vdlib's download folder and Keras' cache")


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


def _idx_subdirs(name: str) -> tuple[str, ...]:
    if name == "mnist":
        return ("MNIST/raw", "mnist", "MNIST", "")
    return ("FashionMNIST/raw", "fashion-mnist", "fashion_mnist", "fashion", "FashionMNIST", "")


def _candidates(name: str, root) -> tuple[list[FoundCopy], list[str]]:
    """Every complete copy of ``name`` in search order, and a line per place that was tried."""
    found: list[FoundCopy] = []
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
                    found.append(FoundCopy("npz", path, description.format(path)))
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
            found.append(FoundCopy("idx", path, description.format(path), files))
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
                found.append(FoundCopy("cifar-dir", path, f"CIFAR python pickles in {path} (via {how})"))
            tar = base / archive
            if tar.is_file():
                found.append(FoundCopy("cifar-tar", tar, f"CIFAR archive {tar}, read without extracting (via {how})"))
            else:
                tried.append(f"{tar}: no such file")
    return found, tried


def search_paths(name: str, root=None) -> list[str]:
    """Every place :func:`load` looks for ``name``, in order, with what was (not) found there."""
    name = canonical_name(name)
    check_root(root)
    if name == BUNDLED:
        f = bundled_mnist_file()
        return [f"found: bundled file {f}" if f.is_file() else f"{f}: missing (package data of vdlib)"]
    found, tried = _candidates(name, root)
    return [f"found: {f.description}" for f in found] + tried


def _not_found_message(name: str, root, tried: list[str], rejected: list[str]) -> str:
    info = REGISTRY[name]
    target = download_root(root)
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
    lines.append(f"  - vdlib.deep.data.load({name!r}, download=True)   (fetches from {info.mirrors[0]} into {target}, "
                 "checking the published MD5)")
    if name in ("mnist", "fashion-mnist"):
        lines.append(f"  - or use the 10,000 real MNIST digits bundled with vdlib: vdlib.deep.data.load({BUNDLED!r}) "
                     "(8,000 train + 2,000 test; not the full 60,000)")
    return "\n".join(lines)


def available(name: str, root=None) -> bool:
    """True when :func:`load` (without downloading) would find a copy of ``name``; never raises for missing data.

    An unknown dataset name still raises ``ValueError`` (a typo is a bug, not missing data), and a ``root``
    that is not a folder raises :class:`DataNotFoundError` (:func:`check_root`: a mistyped folder must not
    read as "no data there"). Only file presence is checked, not the content, so this is fast.
    """
    name = canonical_name(name)
    check_root(root)
    if name == BUNDLED:
        return bundled_mnist_file().is_file()
    try:
        found, _ = _candidates(name, root)
    except OSError:
        return False
    return bool(found)


def download_root(root) -> Path:
    """Where downloads go: ``root``, else the first ``$VDLIB_DATA`` folder, else :func:`default_download_root`."""
    if root is not None:
        return Path(root).expanduser()
    for part in os.environ.get(ENV_DATA, "").split(os.pathsep):
        if part.strip():
            return Path(part.strip()).expanduser()
    return default_download_root()
