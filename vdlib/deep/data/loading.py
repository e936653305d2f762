""":func:`load`: the one entry point that returns a :class:`~vdlib.deep.data.registry.Dataset` and says
where it came from (local copies first; downloads only when asked)."""
from __future__ import annotations

from .bundled import _load_bundled
from .download import fetch
from .locate import _candidates, _not_found_message, check_root
from .readers import _identity_problem, _read_found
from .registry import BUNDLED, DataNotFoundError, Dataset, canonical_name


def load(name: str, root=None, download: bool = False, base_url: str | None = None, *,
         timeout: float = 60.0, progress: bool = False) -> Dataset:
    """Load a real image dataset and say where it came from.

    Parameters
    ----------
    name : str
        ``"mnist"``, ``"fashion-mnist"`` (also ``"fashion"``), ``"cifar10"``, ``"cifar100"``, or
        ``"mnist-10k"`` (the digits bundled with vdlib; ``root`` and ``download`` do not apply).
    root : path, optional
        A folder to look in first (see the module docstring for the layouts recognised); also the
        download destination when ``download=True``.
    download : bool
        Only if True, and only if no local copy is found, fetch the files from the canonical host
        (or ``base_url``), verify their MD5 and store them under ``root`` (else the first
        ``$VDLIB_DATA`` folder, else :func:`default_download_root`). Never implied.
    base_url : str, optional
        Replaces the canonical host(s), e.g. a local mirror; files are fetched from
        ``base_url + filename``.
    timeout : float
        Seconds to wait on the network per request.
    progress : bool
        Show a progress bar while downloading (the caller decides, e.g. ``progress=cfg.show_progress``).

    Returns
    -------
    Dataset
        With ``source`` naming the files read, e.g.
        ``"Debian package dataset-fashion-mnist at /usr/share/datasets/fashion-mnist"``.

    Raises
    ------
    DataNotFoundError
        No local copy and ``download=False``: the message lists every place tried and the fixes. Also
        a ``root`` that is a file, or that does not exist (unless ``download=True``: then it is created).
    ChecksumError, DownloadError
        ``download=True`` and no mirror delivered a file with the published checksum.
    """
    name = canonical_name(name)
    check_root(root, destination=download)
    if name == BUNDLED:  # package data: nothing to search for or download
        return _load_bundled()
    found, tried = _candidates(name, root)
    rejected: list[str] = []
    for f in found:
        ds = _read_found(name, f)
        problem = _identity_problem(name, ds.y_train)
        if problem is None:
            return ds
        rejected.append(f"{f.path}: {problem}")
    if not download:
        raise DataNotFoundError(_not_found_message(name, root, tried, rejected))
    where = fetch(name, root=root, base_url=base_url, timeout=timeout, progress=progress)
    found, tried = _candidates(name, where.root)
    for f in found:
        if f.path == where.path or where.path in f.path.parents or f.path in where.path.parents:
            ds = _read_found(name, f)
            return Dataset(ds.name, ds.x_train, ds.y_train, ds.x_test, ds.y_test, ds.classes,
                           f"{where.description}; read as {f.description}")
    raise DataNotFoundError(  # pragma: no cover - fetch() guarantees the files exist
        f"downloaded {name} to {where.path} but could not read it back:\n" + "\n".join(tried))
