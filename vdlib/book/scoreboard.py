"""What each chapter finds about the paper, recorded as it executes; the results and errata pages read it.

A chapter opens its record once, in its setup cell, and records every paper item it tests where the
number is computed::

    board = scoreboard.chapter("chapters/10_gradient_noise_spectrum", "Gradient noise is non-isotropic")
    board.result("fig1a-rank", item="Fig. 1a: rank of D, small-lenet", paper="1.8 %",
                 book=f"{rank:.2f} %", verdict="partially", run="artifacts/spectrum/full",
                 data=data_source, seed=42, note="Fashion-MNIST, not MNIST")
    board.erratum("E3", evidence=f"the printed formula is off by {ratio:.3g}", holds=True)

Each call rewrites ``<results dir>/<chapter>.json`` atomically, so the file always holds what the
chapter computed in its latest execution (opening the record empties it). The results page and the
errata page of the book execute after the chapters and are built only from these files: a chapter
that changes a number changes the scoreboard.

The results folder is ``$VDLIB_RESULTS`` when set, else ``_build/results`` in the book's root (the
nearest folder above the working directory that holds ``_toc.yml``), else ``vdlib-results`` in the
working directory (a chapter run on its own, outside the repository).
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..files import write_json

__all__ = ["VERDICTS", "ENV_RESULTS", "ChapterRecord", "chapter", "results_dir", "load_records"]

VERDICTS = ("reproduced", "partially", "contradicted", "not run here")
ENV_RESULTS = "VDLIB_RESULTS"
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_ERRATUM = re.compile(r"^E([1-9][0-9]?)$")


def results_dir() -> Path:
    """The folder the records go to (see the module docstring); created on first write."""
    env = os.environ.get(ENV_RESULTS, "").strip()
    if env:
        return Path(env).expanduser()
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "_toc.yml").is_file():
            return folder / "_build" / "results"
    return here / "vdlib-results"


def _plain(value: Any, what: str) -> Any:
    """A JSON-safe scalar: str, bool, int or finite float (NumPy scalars converted)."""
    if hasattr(value, "item") and callable(value.item):  # NumPy / torch scalars
        value = value.item()
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"{what} is {value}: record a finite number, or a string that says what happened")
        return value
    raise TypeError(f"{what} must be a string or a number, got {type(value).__name__}: {value!r}")


@dataclass
class ChapterRecord:
    """The record of one chapter's execution. Create it with :func:`chapter`."""

    chapter: str
    title: str
    path: Path
    profile: str
    results: dict[str, dict] = field(default_factory=dict)
    errata: dict[str, dict] = field(default_factory=dict)

    def result(self, key: str, *, item: str, paper: Any, book: Any, verdict: str, run: str, data: str,
               seed: Any, note: str = "", section: str | None = None) -> dict:
        """Record one paper item (a statement or a figure) as this chapter tested it.

        ``paper`` is the paper's number or statement, ``book`` the number this execution computed,
        ``run`` what produced it (a live cell, or the artifact it loaded), ``data`` the data set and
        its source, ``seed`` the seed(s), ``verdict`` one of :data:`VERDICTS`, and ``section`` the
        label of the section that shows it (for the link). Recording the same key again replaces it.
        """
        if not isinstance(key, str) or not _KEY.match(key):
            raise ValueError(f"result key {key!r}: use letters, digits, '-', '_' or '.', e.g. 'fig1a-rank'")
        if verdict not in VERDICTS:
            raise ValueError(f"result {key!r}: verdict {verdict!r} is not one of {', '.join(VERDICTS)}")
        for name, text in (("item", item), ("run", run), ("data", data)):
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"result {key!r}: {name} must be a non-empty string")
        self.results[key] = {
            "key": key, "item": item, "paper": _plain(paper, f"result {key!r}: paper"),
            "book": _plain(book, f"result {key!r}: book"), "verdict": verdict, "run": run, "data": data,
            "seed": _plain(seed, f"result {key!r}: seed") if not isinstance(seed, (list, tuple))
            else [_plain(s, f"result {key!r}: seed") for s in seed],
            "profile": self.profile, "note": note, "section": section,
        }
        self._write()
        return self.results[key]

    def erratum(self, key: str, *, evidence: str, holds: bool, section: str | None = None) -> dict:
        """Record that this chapter demonstrates erratum ``key`` ("E1" … "E11") with computed ``evidence``.

        ``evidence`` is one sentence with the numbers this execution computed; ``holds`` says whether
        the computation confirms the correction (False means the erratum is not borne out here).
        """
        if not isinstance(key, str) or not _ERRATUM.match(key):
            raise ValueError(f"erratum key {key!r}: use the errata page's numbering, 'E1' … 'E11'")
        if not isinstance(evidence, str) or not evidence.strip():
            raise ValueError(f"erratum {key!r}: evidence must be a sentence with the computed numbers")
        if not isinstance(holds, bool):
            raise TypeError(f"erratum {key!r}: holds must be True or False, got {holds!r}")
        self.errata[key] = {"key": key, "evidence": evidence, "holds": holds, "section": section,
                            "profile": self.profile}
        self._write()
        return self.errata[key]

    def _write(self) -> None:
        from .. import __version__

        write_json(self.path, {
            "chapter": self.chapter, "title": self.title, "profile": self.profile, "vdlib": __version__,
            "written": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "results": list(self.results.values()), "errata": list(self.errata.values()),
        })


def chapter(docname: str, title: str, *, profile: str | None = None) -> ChapterRecord:
    """Open (and empty) the record of chapter ``docname``, e.g. ``"chapters/10_gradient_noise_spectrum"``."""
    if not isinstance(docname, str) or not re.match(r"^[A-Za-z0-9_./-]+$", docname) or ".." in docname:
        raise ValueError(f"chapter docname {docname!r}: give the path without suffix, e.g. 'chapters/01_minibatch_noise'")
    if profile is None:
        from ..config import current

        profile = current().profile
    path = results_dir() / (docname.replace("/", "__") + ".json")
    record = ChapterRecord(chapter=docname, title=title, path=path, profile=profile)
    record._write()
    return record


def load_records(folder: Path | str | None = None) -> list[dict]:
    """Every chapter record in ``folder`` (default :func:`results_dir`), sorted by chapter."""
    folder = Path(folder) if folder is not None else results_dir()
    records = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            records.append(json.loads(path.read_text()))
        except (OSError, json.JSONDecodeError) as e:
            raise ValueError(f"{path} is not a readable chapter record ({e}); rebuild the chapter that wrote it "
                             "(jupyter-book build --all) or delete the file") from e
    return sorted(records, key=lambda r: r.get("chapter", ""))
