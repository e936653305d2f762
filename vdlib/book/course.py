"""The course map (reference/course_map.md): what each chapter needs, its exercises, reading and run time.

Everything the page shows is read from the chapters' sources and from the book build, not typed:

* :func:`exercise_blocks` and :func:`exercise_labels` — the labels of a chapter's exercises
  (``exercise-start`` / ``exercise`` blocks), in order, with their difficulty (the directive's title:
  warm-up, core or research);
* :func:`prose_words` and :func:`reading_minutes` — the words of a chapter's prose (code cells,
  the header, math, directive options and comments left out) and the reading time at
  :data:`WORDS_PER_MINUTE`;
* :func:`prerequisites` — chapter → earlier chapters it cross-references (``{doc}``, ``{ref}``,
  ``{eq}``, ``{numref}``, ``{prf:ref}`` roles and Markdown links to ``.md`` files), i.e. the
  dependency graph of the book as its authors wired it;
* :func:`execution_seconds` — how long each chapter took to execute, as recorded by jupyter-cache
  (the ``execution_seconds`` that myst-nb stores with each cached notebook) for the *current*
  source of the chapter; ``None`` where the cache holds no run of that source;
* :data:`WEEKS` and :func:`plan_problems` — the 14-week plan and the checks that it covers every
  chapter once and never schedules a chapter before one it needs.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

WORDS_PER_MINUTE = 200
PROFILE_NOTE = "not measured in this build"
ENV_CACHE = "VDLIB_JUPYTER_CACHE"  # the build's jupyter-cache folder, when not <book>/_build/.jupyter_cache

# (week, chapter stems, theme). A lecturer's choice; plan_problems checks it against the chapters.
WEEKS: tuple[tuple[int, tuple[str, ...], str], ...] = (
    (1, ("00_toolkit", "01_minibatch_noise"), "tools; the mini-batch gradient and its covariance D(x)"),
    (2, ("02_sgd_as_sde",), "SGD as a stochastic differential equation; temperature η/2b"),
    (3, ("03_fokker_planck",), "the Fokker–Planck equation, currents, detailed balance"),
    (4, ("04_potential_and_force",), "the potential Φ and the force j"),
    (5, ("05_variational_inference",), "SGD minimises a free energy: variational inference"),
    (6, ("06_wasserstein_jko",), "Wasserstein gradient flow and the JKO scheme"),
    (7, ("07_linear_case",), "the linear (Ornstein–Uhlenbeck) case in closed form"),
    (8, ("08_critical_points_move",), "critical points of Φ are not those of f"),
    (9, ("09_limit_cycles",), "non-equilibrium: limit cycles"),
    (10, ("10_gradient_noise_spectrum",), "the noise spectrum of deep networks"),
    (11, ("11_sgd_does_not_converge", "12_practical_consequences"),
     "trajectories that never settle; what to do in practice"),
    (12, ("13_heavy_tailed_noise", "14_discrete_time_sgd"), "beyond the paper: heavy tails, discrete time"),
    (13, ("15_nonreversible_sampling", "16_momentum_limiting_dynamics"),
     "beyond the paper: non-reversible sampling, momentum"),
    (14, ("17_local_entropy",), "beyond the paper: local entropy; project presentations"),
)

_FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.S)
_CODE_CELL = re.compile(r"^```\{code-cell\}.*?^```[ \t]*$", re.S | re.M)
_FENCE = re.compile(r"^(`{3,}|:{3,})\s*\{?([A-Za-z:-]*)\}?.*$")
_DISPLAY_MATH = re.compile(r"\$\$.*?\$\$", re.S)
_INLINE_MATH = re.compile(r"\$[^$\n]+\$")
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_ROLE = re.compile(r"\{(doc|ref|eq|numref|prf:ref|download)\}`([^`]*)`")
_MD_LINK = re.compile(r"\]\(([^)\s#]+\.md)(?:#[^)]*)?\)")
_TARGET = re.compile(r"^\(([A-Za-z0-9_.:-]+)\)=\s*$", re.M)
_LABEL = re.compile(r"^:label:\s*(\S+)\s*$", re.M)
_WORD = re.compile(r"[A-Za-zÀ-ÿ0-9][A-Za-zÀ-ÿ0-9_'’-]*")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")


def _strip_code_and_header(text: str) -> str:
    return _CODE_CELL.sub("", _FRONT_MATTER.sub("", text, count=1))


DIFFICULTIES = ("warm-up", "core", "research")


def exercise_blocks(text: str) -> list[tuple[str, str]]:
    """``(label, difficulty)`` of every ``exercise-start`` or ``exercise`` block of a chapter source, in order.

    The difficulty is the directive's title (``warm-up``, ``core`` or ``research``; ``""`` when it has none).
    An exercise without a label is an error: it could not be assigned by name.
    """
    blocks = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = _FENCE.match(line.strip())
        if not m or m.group(2) not in ("exercise-start", "exercise"):
            continue
        title = line.strip().split("}", 1)[1].strip() if "}" in line else ""
        label = None
        for option in lines[i + 1:]:
            s = option.strip()
            if not s.startswith(":"):
                break
            if s.startswith(":label:"):
                label = s.split(":label:", 1)[1].strip()
        if not label:
            raise ValueError(f"the exercise at line {i + 1} has no :label: option; give it one "
                             "(e.g. :label: chapter_ex1) so that the course map can assign it")
        blocks.append((label, title if title in DIFFICULTIES else ""))
    return blocks


def exercise_labels(text: str) -> list[str]:
    """The ``:label:`` of every ``exercise-start`` or ``exercise`` block of a chapter source, in order."""
    return [label for label, _ in exercise_blocks(text)]


def _assignment(blocks, numbered: bool = False, unnumbered_chapters: dict[str, str] | None = None) -> str:
    """A week's exercises by difficulty: core and research by label, warm-ups counted.

    ``numbered=True`` writes each as a ``{numref}`` role, which the built page shows as the exercise's
    number ("2.3"), linked to it. An unnumbered chapter's exercises are numbered 1, 2, ... on their own:
    ``unnumbered_chapters`` maps a label prefix (e.g. ``"toolkit_"``) to the name shown before the number."""
    def ref(label):
        if not numbered:
            return f"`{label}`"
        prefix = next((name + " " for p, name in (unnumbered_chapters or {}).items() if label.startswith(p)), "")
        return f"{{numref}}`{prefix}%s <{label}>`"

    parts = []
    for level in ("core", "research", ""):
        labels = [ref(label) for label, d in blocks if d == level]
        if labels:
            parts.append(f"{level or 'untagged'}: {', '.join(labels)}")
    warm = sum(d == "warm-up" for _, d in blocks)
    if warm:
        parts.append(f"warm-up: {warm} concept check{'s' if warm > 1 else ''}")
    return " · ".join(parts)


def prose_words(text: str) -> int:
    """The number of words a reader reads: code cells, the header, math, comments and directive lines left out."""
    body = _COMMENT.sub("", _strip_code_and_header(text))
    body = _DISPLAY_MATH.sub(" ", body)
    kept = []
    in_math = False
    for line in body.splitlines():
        s = line.strip()
        m = _FENCE.match(s)
        if m and m.group(2) == "math":
            in_math = True
            continue
        if in_math:
            in_math = not s.startswith(("```", ":::"))
            continue
        if m or s.startswith(":") and re.match(r":[a-z-]+:", s) or _TARGET.match(s):
            continue
        line = _LINK.sub(r"\1", _INLINE_MATH.sub(" x ", line))  # a link reads as its text
        kept.append(_ROLE.sub(lambda r: r.group(2).split("<")[0], line))  # a role as its text
    return len(_WORD.findall("\n".join(kept)))


def reading_minutes(words: int, wpm: int = WORDS_PER_MINUTE) -> float:
    """Reading time in minutes at ``wpm`` words per minute."""
    if isinstance(words, bool) or not isinstance(words, int) or words < 0:
        raise ValueError(f"words must be a non-negative integer, got {words!r}")
    if isinstance(wpm, bool) or not isinstance(wpm, (int, float)) or wpm <= 0:
        raise ValueError(f"wpm must be a positive number of words per minute, got {wpm!r}")
    return words / wpm


def defined_labels(text: str) -> set[str]:
    """The cross-reference targets a chapter defines: ``(name)=`` lines and ``:label:`` options."""
    return set(_TARGET.findall(text)) | set(_LABEL.findall(text))


def referenced(text: str) -> tuple[set[str], set[str]]:
    """(labels, documents) a chapter source refers to; documents are file stems (``02_sgd_as_sde``)."""
    labels, docs = set(), set()
    for role, content in _ROLE.findall(_strip_code_and_header(text)):
        target = content.split("<")[-1].rstrip(">").strip() if "<" in content else content.strip()
        if role == "doc":
            docs.add(Path(target).stem)
        elif role != "download":
            labels.add(target)
    docs |= {Path(link).stem for link in _MD_LINK.findall(text)}
    return labels, docs


def prerequisites(sources: dict[str, str]) -> dict[str, list[str]]:
    """Chapter stem → the earlier chapters (by their number) it cross-references, in order.

    ``sources`` maps chapter stems (``"02_sgd_as_sde"``) to their MyST source. References to later
    chapters are pointers ahead, not prerequisites, and are left out; so are references to pages
    outside ``sources``.
    """
    owner: dict[str, str] = {}
    for stem, text in sources.items():
        for label in defined_labels(text):
            owner.setdefault(label, stem)
    order = sorted(sources)
    needs = {}
    for stem, text in sources.items():
        labels, docs = referenced(text)
        refs = {owner[label] for label in labels if label in owner} | (docs & set(sources))
        needs[stem] = [s for s in order if s in refs and s < stem]
    return needs


def plan_problems(weeks, needs: dict[str, list[str]], chapters: list[str]) -> list[str]:
    """What is wrong with a plan: chapters missing or repeated, unknown, or before a chapter they need."""
    problems = []
    when: dict[str, int] = {}
    for week, stems, _theme in weeks:
        for stem in stems:
            if stem in when:
                problems.append(f"{stem} is scheduled twice (weeks {when[stem]} and {week})")
            when.setdefault(stem, week)
    for stem in chapters:
        if stem not in when:
            problems.append(f"{stem} is in no week")
    for stem in when:
        if stem not in chapters:
            problems.append(f"{stem} (week {when[stem]}) is not a chapter of the book")
    for stem, required in needs.items():
        for r in required:
            if stem in when and r in when and when[r] > when[stem]:
                problems.append(f"{stem} (week {when[stem]}) needs {r}, scheduled later (week {when[r]})")
    return problems


def execution_seconds(cache_dir: Path | str, paths: list[Path]) -> dict[Path, float | None]:
    """Seconds each notebook took to execute, as jupyter-cache recorded it for its current source.

    ``cache_dir`` is the build's jupyter-cache folder (``_build/.jupyter_cache``). A path gets
    ``None`` when the cache is absent or holds no execution of the file as it is now (never run, or
    edited since). The cache is only read: a missing folder is not created.
    """
    cache_dir = Path(cache_dir)
    out: dict[Path, float | None] = {Path(p).resolve(): None for p in paths}
    if not (cache_dir / "global.db").is_file():
        return out
    from jupyter_cache import get_cache

    cache = get_cache(cache_dir)
    project = {Path(r.uri).resolve(): r for r in cache.list_project_records()}
    for path in out:
        record = project.get(path)
        if record is None:
            continue
        try:
            cached = cache.get_cached_project_nb(record.pk)
        except Exception:  # an unreadable source or a cache of another version: not measured
            cached = None
        if cached is not None:
            seconds = (cached.data or {}).get("execution_seconds")
            out[path] = float(seconds) if seconds is not None else None
    return out


@dataclass(frozen=True)
class ChapterFacts:
    stem: str
    title: str
    words: int
    exercises: tuple[str, ...]
    difficulties: tuple[str, ...] = ()

    @property
    def reading_minutes(self) -> float:
        return reading_minutes(self.words)


def chapter_facts(path: Path | str) -> ChapterFacts:
    """Title, prose words and exercise labels of one chapter source."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    title = next((line[2:].strip() for line in _strip_code_and_header(text).splitlines() if line.startswith("# ")),
                 path.stem)
    blocks = exercise_blocks(text)
    return ChapterFacts(path.stem, title, prose_words(text), tuple(b[0] for b in blocks), tuple(b[1] for b in blocks))


# --------------------------------------------------------------------------------------------
# the page's tables


def _chapter_paths(root: Path) -> dict[str, Path]:
    return {p.stem: p for p in sorted((root / "chapters").glob("[0-9][0-9]_*.md"))}


def _toc_chapters(root: Path) -> set[str]:
    from .toc import toc_files

    return {Path(e).stem for e in toc_files(root) if e.startswith("chapters/")}


def _minutes(x: float) -> str:
    return f"{x:.0f} min"


def _link(stem: str, title: str, in_toc: set[str], page_dir: str = "reference") -> str:
    if stem in in_toc:
        return f"[{title}](../chapters/{stem}.md)" if page_dir else f"[{title}](chapters/{stem}.md)"
    return f"{title} (not in this build's table of contents)"


def course_tables(root: Path | str, cache_dir: Path | str | None = None, records: list[dict] | None = None) -> dict[str, str]:
    """The course map's Markdown tables: ``weeks``, ``needs`` and ``chapters``.

    ``root`` is the book's folder; ``cache_dir`` its jupyter-cache folder (default
    ``$VDLIB_JUPYTER_CACHE``, else ``root/_build/.jupyter_cache``, where ``jupyter-book build root``
    keeps it; a build with ``--path-output OUT`` keeps it in ``OUT/_build/.jupyter_cache``); ``records`` the scoreboard records (they say under which profile
    each chapter last executed). Chapters of :data:`WEEKS` without a source are listed as in
    preparation; times the cache does not hold read :data:`PROFILE_NOTE`.
    """
    root = Path(root)
    paths = _chapter_paths(root)
    in_toc = _toc_chapters(root)
    facts = {stem: chapter_facts(p) for stem, p in paths.items()}
    needs = prerequisites({stem: p.read_text(encoding="utf-8") for stem, p in paths.items()})
    if cache_dir is None:
        cache_dir = os.environ.get(ENV_CACHE, "").strip() or root / "_build" / ".jupyter_cache"
    seconds = execution_seconds(cache_dir, list(paths.values()))
    profiles = {Path(r.get("chapter", "")).name: r.get("profile") for r in records or []}

    def name(stem):
        return _link(stem, facts[stem].title, in_toc) if stem in facts else f"{stem} (in preparation)"

    weeks = ["| week | chapters | theme | exercises to assign | reading |", "|---|---|---|---|---:|"]
    for week, stems, theme in WEEKS:
        ex = _assignment([b for s in stems if s in facts for b in zip(facts[s].exercises, facts[s].difficulties)],
                         numbered=all(s in in_toc for s in stems if s in facts),
                         unnumbered_chapters={"toolkit_": "toolkit"})
        read = sum(facts[s].reading_minutes for s in stems if s in facts)
        weeks.append(f"| {week} | {'; '.join(name(s) for s in stems)} | {theme} | {ex or '—'} | "
                     f"{_minutes(read)} |")

    need_rows = ["| chapter | builds on (earlier chapters it cross-references) |", "|---|---|"]
    for stem in paths:
        req = ", ".join(f"{int(r[:2])}" for r in needs[stem]) or "— (no cross-reference to an earlier chapter)"
        need_rows.append(f"| {int(stem[:2])}. {name(stem)} | {req} |")

    chapters = ["| chapter | words | reading (200 wpm) | execution time | profile |", "|---|---:|---:|---:|---|"]
    total_read, total_run, unmeasured = 0.0, 0.0, 0
    for stem, path in paths.items():
        f = facts[stem]
        s = seconds[path.resolve()]
        total_read += f.reading_minutes
        if s is None:
            unmeasured += 1
        else:
            total_run += s
        run = PROFILE_NOTE if s is None else f"{s:.0f} s"
        chapters.append(f"| {int(stem[:2])}. {name(stem)} | {f.words:,} | {_minutes(f.reading_minutes)} | {run} | "
                        f"{profiles.get(stem) or '—'} |")
    chapters.append(f"| **all {len(paths)} chapters** | {sum(f.words for f in facts.values()):,} | "
                    f"{_minutes(total_read)} | {total_run / 60:.1f} min"
                    f"{f' ({unmeasured} not measured)' if unmeasured else ''} | |")
    return {"weeks": "\n".join(weeks), "needs": "\n".join(need_rows), "chapters": "\n".join(chapters)}
