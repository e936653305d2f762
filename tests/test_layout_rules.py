"""The package's layout rules, read from the source with ``ast`` (nothing is imported).

vdlib is layered: ``vdlib.theory`` (closed forms, SymPy, grid solvers) and the top-level helpers
(config, checks, files, ...) at the bottom, ``vdlib.deep`` (networks, per-sample gradients, the
chain engine) and ``vdlib.analysis`` (statistics of trajectories) above them, and only
``vdlib.book`` (what a chapter shows: display kit, plots, widgets, scoreboard) and
``vdlib.experiments`` (the long runs) may touch notebooks and plotting. These tests keep it so:

* nothing outside ``vdlib/book/`` and ``vdlib/experiments/`` imports matplotlib, ipywidgets,
  IPython or ``vdlib.book``;
* ``vdlib.theory`` never imports ``vdlib.deep`` or ``vdlib.analysis``;
* the modules of vdlib import each other without cycles (absolute and relative imports, also
  those inside functions);
* no module is longer than 800 lines;
* computation modules do not look up the run profile to decide on progress bars
  (``.show_progress`` only in config, the progress helper, book and experiments: a caller passes
  ``progress=``);
* the chapters define no display or setup helpers of their own: they use
  :mod:`vdlib.book.display`.
"""
from __future__ import annotations

import ast
from pathlib import Path

import jupytext
import pytest

from conftest import ROOT

PKG = ROOT / "vdlib"
PRESENTATION = ("book", "experiments")  # the subpackages that may show things
FORBIDDEN_OUTSIDE_PRESENTATION = ("matplotlib", "ipywidgets", "IPython", "vdlib.book")
MAX_LINES = 800
PROGRESS_ALLOWED = ("vdlib.config", "vdlib.progress")  # plus vdlib.book.* and vdlib.experiments.*


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PKG.rglob("*.py")) if "__pycache__" not in p.parts}
TREES = {name: ast.parse(path.read_text(encoding="utf-8"), filename=str(path)) for name, path in MODULES.items()}


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _absolute(module: str, node: ast.ImportFrom) -> str:
    """The absolute name of ``from <node.module> import ...`` written inside ``module``."""
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if not _is_package(module):
        base = base[:-1]  # a module's relative imports start from its package
    if node.level > 1:
        base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imported_names(module: str) -> list[tuple[str, int]]:
    """Every module name ``module`` imports, with its line (``from a import b`` gives ``a`` and
    ``a.b``, since b may be a submodule), anywhere in the file: top level, functions, classes."""
    out = []
    for node in ast.walk(TREES[module]):
        if isinstance(node, ast.Import):
            out += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = _absolute(module, node)
            out.append((target, node.lineno))
            out += [(f"{target}.{alias.name}", node.lineno) for alias in node.names if alias.name != "*"]
    return out


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _presentation(module: str) -> bool:
    return any(_within(module, f"vdlib.{sub}") for sub in PRESENTATION)


def intra_package_edges(module: str) -> set[str]:
    """The vdlib modules (files) that ``module`` imports: an imported name resolves to itself when it
    is a module of vdlib, else (``from .config import current``) to the module that holds it."""
    edges = set()
    for name, _ in imported_names(module):
        while name and name not in MODULES and "." in name:
            name = name.rsplit(".", 1)[0]
        if name in MODULES and name != module:
            edges.add(name)
    return edges


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` as a list of modules (first == last), or None."""
    WHITE, GREY, BLACK = 0, 1, 2
    colour = dict.fromkeys(graph, WHITE)
    stack: list[str] = []

    def visit(node):
        colour[node] = GREY
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if colour.get(nxt, BLACK) == GREY:
                return stack[stack.index(nxt):] + [nxt]
            if colour.get(nxt) == WHITE:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        colour[node] = BLACK
        return None

    for node in sorted(graph):
        if colour[node] == WHITE:
            found = visit(node)
            if found:
                return found
    return None


# ------------------------------------------------------------------------------------------------
# the helpers themselves


def test_the_rules_see_the_package():
    assert "vdlib" in MODULES and "vdlib.config" in MODULES, sorted(MODULES)
    assert len(MODULES) > 20


def test_relative_imports_resolve_to_absolute_names():
    tree = ast.parse("from . import a\nfrom .b import c\nfrom ..d import e\n")
    nodes = [n for n in tree.body]
    MODULES.setdefault("vdlib.theory.fake", MODULES["vdlib.config"])  # a module, not a package
    try:
        assert _absolute("vdlib.theory.fake", nodes[0]) == "vdlib.theory"
        assert _absolute("vdlib.theory.fake", nodes[1]) == "vdlib.theory.b"
        assert _absolute("vdlib.theory.fake", nodes[2]) == "vdlib.d"
        assert _absolute("vdlib", nodes[1]) == "vdlib.b"  # a package's own __init__
    finally:
        MODULES.pop("vdlib.theory.fake")


def test_the_cycle_finder_finds_cycles_and_only_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


# ------------------------------------------------------------------------------------------------
# the rules


def test_only_book_and_experiments_import_plotting_widgets_ipython_or_the_book():
    offences = []
    for module in MODULES:
        if _presentation(module):
            continue
        for name, line in imported_names(module):
            for forbidden in FORBIDDEN_OUTSIDE_PRESENTATION:
                if _within(name, forbidden):
                    offences.append(f"{MODULES[module].relative_to(ROOT)}:{line} imports {name}")
                    break
    assert not offences, ("computation modules must not import plotting, widgets, IPython or vdlib.book "
                          "(move the display code into vdlib/book/):\n  " + "\n  ".join(sorted(set(offences))))


def test_theory_does_not_import_deep_learning_or_analysis():
    assert any(_within(m, "vdlib.theory") for m in MODULES), "no vdlib/theory package"
    offences = [f"{MODULES[m].relative_to(ROOT)}:{line} imports {name}"
                for m in MODULES if _within(m, "vdlib.theory")
                for name, line in imported_names(m)
                if _within(name, "vdlib.deep") or _within(name, "vdlib.analysis")]
    assert not offences, "vdlib.theory must stand on its own:\n  " + "\n  ".join(offences)


def test_the_package_has_the_documented_subpackages():
    for sub in ("theory", "deep", "analysis", "book", "experiments"):
        assert f"vdlib.{sub}" in MODULES, f"no vdlib/{sub}/__init__.py"


def test_no_import_cycles_between_vdlib_modules():
    graph = {m: intra_package_edges(m) for m in MODULES}
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


@pytest.mark.parametrize("module", sorted(MODULES), ids=str)
def test_no_module_is_longer_than_800_lines(module):
    n = len(MODULES[module].read_text(encoding="utf-8").splitlines())
    assert n <= MAX_LINES, f"{MODULES[module].relative_to(ROOT)} has {n} lines (at most {MAX_LINES}): split it"


def test_computation_modules_do_not_choose_progress_bars_from_the_profile():
    offences = []
    for module, tree in TREES.items():
        if _presentation(module) or module in PROGRESS_ALLOWED:
            continue
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and node.attr == "show_progress") or \
                    (isinstance(node, ast.Name) and node.id == "show_progress"):
                offences.append(f"{MODULES[module].relative_to(ROOT)}:{node.lineno}")
    assert not offences, ("show_progress is read outside config/book/experiments; take a progress= argument "
                          "and let the caller decide:\n  " + "\n  ".join(offences))


# ------------------------------------------------------------------------------------------------
# the chapters use the display kit

CHAPTERS = sorted((ROOT / "chapters").glob("*.md")) + sorted((ROOT / "reference").glob("*.md"))
PRIVATE_HELPERS = {"show", "table", "md_table", "sci", "check", "check_identity", "setup", "find_artifact",
                   "find_summary"}
# the setup boilerplate that vdlib.book.display.setup does for every chapter
SETUP_CALLS = {"seed_everything", "book_style", "init_printing", "set_num_threads"}


def _code(path: Path) -> list[tuple[int, ast.Module]]:
    nb = jupytext.read(path)
    cells = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        source = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
        cells.append((i, ast.parse(source, filename=f"{path.name}, cell {i}")))
    return cells


def _called(node: ast.Call) -> str:
    f = node.func
    return f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_defines_no_display_or_setup_helpers(path):
    offences = []
    for i, tree in _code(path):
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in PRIVATE_HELPERS:
                offences.append(f"cell {i}, line {node.lineno}: def {node.name}")
            elif isinstance(node, ast.Call) and _called(node) in SETUP_CALLS:
                offences.append(f"cell {i}, line {node.lineno}: calls {_called(node)}()")
            elif isinstance(node, ast.Call) and _called(node) == "chapter" and isinstance(node.func, ast.Attribute) \
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "scoreboard":
                offences.append(f"cell {i}, line {node.lineno}: opens its record with scoreboard.chapter()")
    assert not offences, (f"{path.name} defines its own helpers or setup; use vdlib.book.display "
                          "(setup, show, check_identity, md_table, sci):\n  " + "\n  ".join(offences))


@pytest.mark.parametrize("path", sorted((ROOT / "chapters").glob("*.md")), ids=lambda p: p.name)
def test_chapter_starts_with_the_display_kits_setup(path):
    cells = _code(path)
    assert cells, f"{path.name} has no code cells"
    _, first = cells[0]
    kit = [n for n in ast.walk(first) if isinstance(n, ast.ImportFrom) and n.module == "vdlib.book.display"]
    assert kit and any(a.name == "setup" for n in kit for a in n.names), \
        f"{path.name}: the first code cell does not import setup from vdlib.book.display"
    calls = [n for n in ast.walk(first) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
             and n.func.id == "setup"]
    assert len(calls) == 1, f"{path.name}: the first code cell must call setup(docname, title, ...) once"
    docname = calls[0].args[0]
    assert isinstance(docname, ast.Constant) and docname.value == f"chapters/{path.stem}", \
        f"{path.name}: setup's docname must be 'chapters/{path.stem}'"
