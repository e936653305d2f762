"""reference/api.md, the book's library reference: every object it documents exists and has a docstring,
it covers the functions readers reuse, and it is in the table of contents. (The book build, with
``-n -W``, checks the rendering; this test needs no build.)"""
import importlib
import re

from vdlib.book import toc_files

from conftest import ROOT

PAGE = ROOT / "reference" / "api.md"
DIRECTIVE = re.compile(r"^\.\. (currentmodule|autofunction|autoclass|autodata|automodule):: (\S+)", re.M)


def documented():
    module, out = None, []
    for kind, name in DIRECTIVE.findall(PAGE.read_text()):
        if kind == "currentmodule":
            module = name
        else:
            out.append((kind, name if "." in name and kind == "automodule" else f"{module}.{name}"))
    return out


def _resolve(dotted):
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ModuleNotFoundError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


def test_every_documented_object_exists_and_has_a_docstring():
    objects = documented()
    assert len(objects) > 40
    missing_doc = []
    for kind, name in objects:
        obj = _resolve(name)
        if kind in ("autofunction", "autoclass") and not (obj.__doc__ or "").strip():
            missing_doc.append(name)
    assert not missing_doc, f"documented without a docstring: {missing_doc}"


def test_the_page_covers_the_functions_readers_reuse():
    names = {name for _, name in documented()}
    for name in ("vdlib.deep.persample.per_sample_gradients", "vdlib.deep.noise_spectrum.diffusion_spectrum",
                 "vdlib.analysis.trajectory.increment_spectrum", "vdlib.analysis.trajectory.time_reversal_asymmetry",
                 "vdlib.analysis.irreversibility.irreversibility_test", "vdlib.theory.linear.ou_decomposition",
                 "vdlib.theory.fokker_planck.stationary_2d", "vdlib.theory.fokker_planck.evolve_1d"):
        assert name in names, f"reference/api.md does not document {name}"


def test_the_page_is_in_the_reference_part_of_the_toc():
    assert "reference/api" in toc_files(ROOT)
