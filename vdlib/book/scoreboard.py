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

The results folder is ``$VDLIB_RESULTS`` when set (a relative path is taken from the book's root),
else ``_build/.jupyter_cache/vdlib-results`` in the book's root (the nearest folder above the
working directory that holds ``_toc.yml``), else ``vdlib-results`` in the working directory (a
chapter run on its own, outside the repository). The records sit inside jupyter-book's execution
cache on purpose: a chapter served from that cache does not execute and so does not record again,
so the records must live and die with the cache (``jupyter-book clean`` keeps both,
``jupyter-book clean --all`` removes both). If records are missing anyway, the pages say which
chapters lack one and how to rebuild them.

Reading the records (the pages ``reference/results.md`` and ``reference/errata.md``):
:func:`load_records`, :func:`book_chapters`, :func:`summary_markdown`, :func:`results_markdown`,
:func:`missing_markdown`, :func:`errata_overview_markdown` and :func:`erratum_markdown` return MyST
Markdown (the book renders Markdown outputs as MyST, so links and math in it work). Record strings
are MyST too: ``$...$`` is math; ``|`` and line breaks are escaped for the tables.

Order and freshness: the two pages must execute after every chapter and on every build. Their front
matter sets ``mystnb: execution_mode: force`` (never served from the execution cache, which is keyed
on code only), and this module is also a Sphinx extension (:func:`setup`): listed in
``sphinx.extra_extensions`` it marks the pages as outdated on every build (Sphinx re-reads only
changed documents) and moves them to the end of the reading order (Sphinx reads, and myst-nb
executes, documents one by one in sorted order; ``reference/`` sorts after ``chapters/`` anyway).
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

__all__ = ["VERDICTS", "ERRATA", "ENV_RESULTS", "SCOREBOARD_PAGES", "ChapterRecord", "ChapterInfo", "chapter",
           "results_dir", "load_records", "book_root", "book_chapters", "label_index", "verdict_counts",
           "summary_markdown", "results_markdown", "missing_markdown", "errata_overview_markdown",
           "erratum_markdown", "setup"]

VERDICTS = ("reproduced", "partially", "contradicted", "not run here")
ERRATA = tuple(f"E{i}" for i in range(1, 12))  # the errata page's sections, labels erratum-e1 ... erratum-e11
SCOREBOARD_PAGES = ("reference/results", "reference/errata")  # the pages built from the records
ENV_RESULTS = "VDLIB_RESULTS"
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def results_dir() -> Path:
    """The folder the records go to (see the module docstring); created on first write."""
    env = os.environ.get(ENV_RESULTS, "").strip()
    root = book_root()
    if env:  # a relative path is taken from the book's root: chapters and pages run in different folders
        path = Path(env).expanduser()
        return path if path.is_absolute() else (root or Path.cwd().resolve()) / path
    if root is not None:
        return root / "_build" / ".jupyter_cache" / "vdlib-results"
    return Path.cwd().resolve() / "vdlib-results"


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
        if not isinstance(key, str) or key not in ERRATA:
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


# ---------------------------------------------------------------------------------------------------
# Reading the records: the results and errata pages
# ---------------------------------------------------------------------------------------------------

_LABEL = re.compile(r"^\(([A-Za-z0-9_.:-]+)\)=\s*$")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^(`{3,}|~{3,})")
# a chapter opens its record with scoreboard.chapter(...) or the display kit's setup("chapters/...", ...)
_OPENS_RECORD = re.compile(r"scoreboard\.chapter\(|\bsetup\(\s*[\"']")
_FIX = ("rebuild the book with `jupyter-book build --all .`; a chapter that jupyter-book serves from its "
        "execution cache does not execute and so does not record: clear that cache first with "
        "`jupyter-book clean --all .`")


@dataclass
class ChapterInfo:
    """A chapter of the book as its source file shows it (no execution needed)."""

    docname: str            # e.g. "chapters/01_minibatch_noise"
    title: str              # the first level-1 heading
    path: Path
    opens_record: bool      # the source calls scoreboard.chapter(...) or vdlib.book.display.setup(...)
    labels: dict[str, str]  # label -> title of the heading it marks (the label itself if none)
    text: str = field(repr=False, default="")


def book_root(start: Path | str | None = None) -> Path | None:
    """The nearest folder at or above ``start`` (default: the working directory) holding ``_toc.yml``."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "_toc.yml").is_file():
            return folder
    return None


def _root(root: Path | str | None) -> Path:
    found = Path(root) if root is not None else book_root()
    if found is None:
        raise FileNotFoundError("no _toc.yml above the working directory: pass root= (the book's folder)")
    return found


def _scan(text: str) -> tuple[str, dict[str, str]]:
    """The first level-1 heading and the ``(label)=`` targets of a MyST file, outside code fences."""
    lines, title, labels, fence = text.splitlines(), "", {}, None
    if lines and lines[0].strip() == "---":  # YAML front matter: its '#' lines are comments
        end = next((i for i, line in enumerate(lines[1:], 1) if line.strip() == "---"), 0)
        lines = [""] * (end + 1) + lines[end + 1:]
    for i, line in enumerate(lines):
        m = _FENCE.match(line.strip())
        if m:
            mark = m.group(1)
            if fence is None:
                fence = mark
            elif mark[0] == fence[0] and len(mark) >= len(fence) and line.strip() == mark:
                fence = None
            continue
        if fence is not None:
            continue
        h = _HEADING.match(line)
        if h and len(h.group(1)) == 1 and not title:
            title = h.group(2)
        lab = _LABEL.match(line)
        if lab:
            after = next((x for x in lines[i + 1:] if x.strip()), "")
            h = _HEADING.match(after)
            labels[lab.group(1)] = h.group(2) if h else lab.group(1)
    return title, labels


def book_chapters(root: Path | str | None = None) -> list[ChapterInfo]:
    """The chapters (``chapters/…`` entries of ``_toc.yml``) in reading order, read from their sources."""
    from .toc import toc_files

    root = _root(root)
    out = []
    for entry in toc_files(root):
        if not entry.startswith("chapters/"):
            continue
        path = next((root / f"{entry}{s}" for s in (".md", ".ipynb", "") if (root / f"{entry}{s}").is_file()), None)
        if path is None:
            continue
        text = path.read_text(encoding="utf-8")
        title, labels = _scan(text)
        out.append(ChapterInfo(entry, title or entry, path, bool(_OPENS_RECORD.search(text)), labels, text))
    return out


def label_index(root: Path | str | None = None) -> dict[str, tuple[str, str]]:
    """Every ``(label)=`` target of the documents in ``_toc.yml``: label -> (docname, heading title)."""
    from .toc import toc_files

    root = _root(root)
    index: dict[str, tuple[str, str]] = {}
    for entry in toc_files(root):
        path = root / f"{entry}.md"
        if path.is_file():
            for label, title in _scan(path.read_text(encoding="utf-8"))[1].items():
                index.setdefault(label, (entry, title))
    return index


def _context(records: list[dict], root: Path | str | None) -> tuple[list[ChapterInfo], dict[str, tuple[str, str]]]:
    """The book's chapters and labels; outside a book (a page downloaded as a notebook and run on its
    own) the chapters are those of the records, with no labels to link."""
    if root is None and book_root() is None:
        seen = {r["chapter"]: r for r in records if r.get("chapter")}
        return [ChapterInfo(d, r.get("title") or d, Path(d + ".md"), True, {}) for d, r in sorted(seen.items())], {}
    return book_chapters(root), label_index(root)


def _cell(value: Any) -> str:
    """A record value as the text of a MyST table cell."""
    if value is None or value == "":
        return "—"
    if isinstance(value, (list, tuple)):
        return ", ".join(_cell(v) for v in value)
    if isinstance(value, float):
        value = f"{value:.6g}"
    return _inline(str(value)).replace("|", "\\|")


def _inline(text: str) -> str:
    """One line of MyST; ``<`` before a letter is escaped so that it is not read as an HTML tag."""
    text = " ".join(str(text).split())
    return re.sub(r"<(?=[A-Za-z/!?])", "&lt;", text)


def _link_text(text: str) -> str:
    """Text for inside ``[...]``: no nested links, no brackets."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", _inline(text))
    return text.replace("[", "(").replace("]", ")")


def _doc_link(docname: str, text: str, page: str) -> str:
    rel = os.path.relpath(docname + ".md", os.path.dirname(page) or ".").replace(os.sep, "/")
    return f"[{_link_text(text)}]({rel})"


def _section_link(record: dict, section: str | None, labels: dict[str, tuple[str, str]], page: str) -> str:
    """A link to ``section`` (a label) if the book defines it, else a link to the chapter (and the label named)."""
    if section and section in labels:
        return f"[{_link_text(labels[section][1])}](#{section})"
    link = _doc_link(record["chapter"], record.get("title") or record["chapter"], page)
    return link if not section else f"{link} (no section labelled `{section}` in this book)"


def _records_in_book(records: list[dict], chapters: list[ChapterInfo]) -> list[dict]:
    names = {c.docname: i for i, c in enumerate(chapters)}
    kept = [r for r in records if r.get("chapter") in names]
    return sorted(kept, key=lambda r: names[r["chapter"]])


def _fmt_time(stamp: str | None) -> str:
    if not stamp:
        return "an unknown time"
    try:
        t = datetime.fromisoformat(stamp).astimezone(timezone.utc)
    except ValueError:
        return stamp
    return t.strftime("%Y-%m-%d %H:%M UTC")


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def verdict_counts(records: list[dict]) -> dict[str, int]:
    """How many recorded paper items have each verdict (every verdict listed, zeros included)."""
    counts = {v: 0 for v in VERDICTS}
    for record in records:
        for result in record.get("results", []):
            counts[result["verdict"]] = counts.get(result["verdict"], 0) + 1
    return counts


def _profiles(records: list[dict]) -> str:
    by_profile: dict[str, list[str]] = {}
    for record in records:
        by_profile.setdefault(record.get("profile", "?"), []).append(record.get("title") or record["chapter"])
    if len(by_profile) == 1:
        return f"`{next(iter(by_profile))}` (every chapter)"
    return "; ".join(f"`{p}` ({', '.join(titles)})" for p, titles in sorted(by_profile.items()))


def summary_markdown(records: list[dict] | None = None, *, root: Path | str | None = None) -> str:
    """The verdict counts, the run profile(s) and when the records were written."""
    records = load_records() if records is None else records
    chapters, _ = _context(records, root)
    records = _records_in_book(records, chapters)
    if not records:
        return ("No chapter has recorded results in this build, so there is nothing to count. "
                f"To fix it, {_FIX}.")
    counts = verdict_counts(records)
    total = sum(counts.values())
    lines = ["| verdict | paper items |", "|---|---|"]
    lines += [f"| {v} | {n} |" for v, n in counts.items()]
    lines.append(f"| **total** | **{total}** |")
    stamps = sorted(r.get("written", "") for r in records)
    versions = sorted({r.get("vdlib", "?") for r in records})
    when = (f"at {_fmt_time(stamps[0])}" if _fmt_time(stamps[0]) == _fmt_time(stamps[-1])
            else f"between {_fmt_time(stamps[0])} and {_fmt_time(stamps[-1])}")
    n_with = sum(1 for r in records if r.get("results"))
    return "\n".join([
        f"{_n(total, 'paper item')} recorded by {n_with} of the book's {_n(len(chapters), 'chapter')}.", "",
        *lines, "",
        f"Run profile: {_profiles(records)}. The records were written {when} by vdlib "
        f"{', '.join(versions)}, when the chapters last executed.",
    ])


def results_markdown(records: list[dict] | None = None, *, root: Path | str | None = None,
                     page: str = "reference/results") -> str:
    """One table per chapter of every paper item it recorded: paper's and book's numbers, verdict, provenance."""
    records = load_records() if records is None else records
    chapters, labels = _context(records, root)
    records = _records_in_book(records, chapters)
    blocks = []
    for record in records:
        results = record.get("results", [])
        if not results:
            continue
        head = (f"**{_doc_link(record['chapter'], record.get('title') or record['chapter'], page)}** — "
                f"{_n(len(results), 'item')}, profile `{record.get('profile', '?')}`, "
                f"recorded {_fmt_time(record.get('written'))}")
        rows = ["| # | paper item | paper | this book | verdict | section |", "|---|---|---|---|---|---|"]
        prov = ["| # | run | profile | data | seed |", "|---|---|---|---|---|"]
        notes = []
        for i, r in enumerate(results, 1):
            link = _section_link(record, r.get("section"), labels, page).replace("|", "\\|")
            rows.append(f"| {i} | {_cell(r['item'])} | {_cell(r['paper'])} | {_cell(r['book'])} | "
                        f"{_cell(r['verdict'])} | {link} |")
            prov.append(f"| {i} | {_cell(r['run'])} | {_cell(r.get('profile'))} | {_cell(r['data'])} | "
                        f"{_cell(r.get('seed'))} |")
            if r.get("note"):
                notes.append(f"- {i}: {_inline(r['note'])}")
        block = [head, "", *rows, "", "Where the numbers come from:", "", *prov]
        if notes:
            block += ["", "Notes:", "", *notes]
        blocks.append("\n".join(block))
    if not blocks:
        return f"No chapter has recorded a paper item in this build. To fix it, {_FIX}."
    return "\n\n".join(blocks)


def missing_markdown(records: list[dict] | None = None, *, root: Path | str | None = None,
                     page: str = "reference/results") -> str:
    """Which chapters have no record, why that can happen and how to fix it; records of unknown pages."""
    records = load_records() if records is None else records
    chapters, _ = _context(records, root)
    have = {r.get("chapter") for r in records}
    missing = [c for c in chapters if c.opens_record and c.docname not in have]
    silent = [c for c in chapters if not c.opens_record]
    stray = sorted(r.get("chapter", "?") for r in records if r.get("chapter") not in {c.docname for c in chapters})
    parts = []
    if missing:
        links = ", ".join(_doc_link(c.docname, c.title, page) for c in missing)
        parts.append(f"**Chapters without a record: {len(missing)}** ({links}). They record their results when "
                     f"they execute, and they have not executed since the records were last cleared, so this "
                     f"page cannot show their items. To fix it, {_FIX}.")
    else:
        n = len(chapters) - len(silent)
        parts.append("The only chapter that records results has a record in this build." if n == 1 else
                     f"All {n} chapters that record results have a record in this build.")
    if silent:
        parts.append("Chapters that record no paper items: "
                     + ", ".join(_doc_link(c.docname, c.title, page) for c in silent) + ".")
    if stray:
        parts.append("Ignored: records of pages that are not chapters of this book ("
                     + ", ".join(f"`{s}`" for s in stray) + "); delete them from the records folder.")
    return "\n\n".join(parts)


def _errata_entries(records: list[dict], chapters: list[ChapterInfo]) -> dict[str, list[tuple[dict, dict]]]:
    by_key: dict[str, list[tuple[dict, dict]]] = {}
    for record in _records_in_book(records, chapters):
        for e in record.get("errata", []):
            by_key.setdefault(e["key"], []).append((record, e))
    return by_key


def _mentions(key: str, chapters: list[ChapterInfo]) -> list[ChapterInfo]:
    pat = re.compile(rf"\b{key}\b|erratum-{key.lower()}\b")
    return [c for c in chapters if pat.search(c.text)]


def errata_overview_markdown(records: list[dict] | None = None, *, root: Path | str | None = None,
                             page: str = "reference/errata") -> str:
    """A table: each erratum, the chapters whose execution demonstrated it, and whether it held there."""
    records = load_records() if records is None else records
    chapters, _ = _context(records, root)
    by_key = _errata_entries(records, chapters)
    rows = ["| erratum | demonstrated in | holds |", "|---|---|---|"]
    for key in ERRATA:
        entries = by_key.get(key, [])
        where = ", ".join(_doc_link(r["chapter"], r.get("title") or r["chapter"], page) for r, _ in entries)
        holds = ", ".join("yes" if e["holds"] else "**no**" for _, e in entries)
        rows.append(f"| [{key}](#erratum-{key.lower()}) | {where or 'no record in this build'} | {holds or '—'} |")
    extra = sorted(set(by_key) - set(ERRATA))
    text = "\n".join(rows)
    if extra:
        text += ("\n\nRecorded under keys this page does not list: " + ", ".join(f"`{k}`" for k in extra)
                 + " (the errata are numbered E1–E11).")
    return text


def erratum_markdown(key: str, records: list[dict] | None = None, *, root: Path | str | None = None,
                     page: str = "reference/errata") -> str:
    """Where the book demonstrates erratum ``key``: each chapter's computed evidence and whether it held."""
    if key not in ERRATA:
        raise ValueError(f"erratum {key!r}: the errata page lists {', '.join(ERRATA)}")
    records = load_records() if records is None else records
    chapters, labels = _context(records, root)
    entries = _errata_entries(records, chapters).get(key, [])
    if entries:
        lines = []
        for record, e in entries:
            where = _doc_link(record["chapter"], record.get("title") or record["chapter"], page)
            if e.get("section"):
                if e["section"] in labels:
                    where += f", section [{_link_text(labels[e['section']][1])}](#{e['section']})"
                else:
                    where += f" (no section labelled `{e['section']}` in this book)"
            verdict = ("**The correction holds** in this execution." if e["holds"]
                       else "**The correction is not borne out** by this execution.")
            evidence = _inline(e["evidence"])
            evidence += "" if evidence.endswith((".", "!", "?")) else "."
            lines.append(f"- {where} (profile `{e.get('profile', record.get('profile', '?'))}`, recorded "
                         f"{_fmt_time(record.get('written'))}): {evidence} {verdict}")
        return "**Demonstrated in the book** (computed when the chapter executed):\n\n" + "\n".join(lines)
    mentioned = _mentions(key, chapters)
    text = f"**No chapter recorded a computation for {key} in this build.**"
    if mentioned:
        missing = [c for c in mentioned if c.opens_record and c.docname not in {r.get("chapter") for r in records}]
        text += (" It is discussed in " + ", ".join(_doc_link(c.docname, c.title, page) for c in mentioned) + ".")
        if missing:
            text += (f" {'That chapter has' if len(missing) == 1 else 'Some of these chapters have'} no record "
                     f"in this build; to fix it, {_FIX}.")
    else:
        text += " No chapter of the book discusses it."
    return text


# ---------------------------------------------------------------------------------------------------
# Sphinx extension: the scoreboard pages are read (and executed) last, on every build
# ---------------------------------------------------------------------------------------------------

def _outdated(app, env, added, changed, removed) -> list[str]:
    """``env-get-outdated``: the scoreboard pages are always re-read (the records may have changed)."""
    return [d for d in app.config.vdlib_scoreboard_pages if d in env.found_docs]


def _read_last(app, env, docnames: list[str]) -> None:
    """``env-before-read-docs``: read (and so execute) the scoreboard pages after every other document."""
    pages = [d for d in app.config.vdlib_scoreboard_pages if d in docnames]
    for d in pages:
        docnames.remove(d)
    docnames.extend(pages)


def setup(app) -> dict:
    """Sphinx entry point (``sphinx.extra_extensions: [vdlib.book.scoreboard]`` in ``_config.yml``)."""
    from .. import __version__

    app.add_config_value("vdlib_scoreboard_pages", list(SCOREBOARD_PAGES), "env")
    app.connect("env-get-outdated", _outdated)
    app.connect("env-before-read-docs", _read_last)
    return {"version": __version__, "parallel_read_safe": True, "parallel_write_safe": True}
