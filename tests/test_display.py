"""The display kit every chapter uses (vdlib.book.display): the setup cell, aligned LaTeX, symbolic
checks, Markdown tables; what they print or display, and clear errors on bad input."""
import json

import numpy as np
import pytest
import sympy as sp
import torch

from vdlib import __version__
from vdlib.book import display as kit
from vdlib.book import scoreboard


@pytest.fixture
def shown(monkeypatch):
    """Everything the kit displays, in order (instead of sending it to a notebook)."""
    out = []
    monkeypatch.setattr(kit, "_display", out.append)
    return out


@pytest.fixture
def results(tmp_path, monkeypatch):
    folder = tmp_path / "results"
    monkeypatch.setenv(scoreboard.ENV_RESULTS, str(folder))
    return folder


# --------------------------------------------------------------------------------------------- setup

def test_setup_seeds_prints_and_opens_the_record(results, capsys):
    threads = torch.get_num_threads()
    try:
        book = kit.setup("chapters/99_demo", "A demo chapter", seed=3, data="none (synthetic, seed 3)",
                         torch_threads=1, versions=True)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(threads)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"vdlib {__version__} | profile: {book.cfg.profile} | device: cpu"
    assert lines[1].startswith(f"vdlib {__version__}, torch ") and lines[1].endswith(f"profile {book.cfg.profile}, device cpu")
    assert lines[2:] == ["data: none (synthetic, seed 3)"]
    rng, gen, cfg, board = book  # unpacks like the chapters' old setup cells
    assert rng.random() == np.random.default_rng(3).random()
    assert torch.rand(1, generator=gen).item() == torch.rand(1, generator=torch.Generator().manual_seed(3)).item()
    assert cfg.profile == "ci"
    record = json.loads((results / "chapters__99_demo.json").read_text())
    assert board.path == results / "chapters__99_demo.json"
    assert record["chapter"] == "chapters/99_demo" and record["title"] == "A demo chapter" and record["profile"] == "ci"
    assert book.elapsed() >= 0


def test_setup_prints_just_the_profile_and_the_data_by_default(results, capsys):
    kit.setup("chapters/99_demo", "Demo", data="Fashion-MNIST, /usr/share\n  why: no MNIST here",
              data_label="data of the live cells", sympy=False)
    assert capsys.readouterr().out.splitlines() == [
        f"vdlib {__version__} | profile: ci | device: cpu",
        "data of the live cells: Fashion-MNIST, /usr/share",
        "  why: no MNIST here",
    ]


def test_setup_seeds_the_global_generators_as_seed_everything_does(results):
    kit.setup("chapters/99_demo", "Demo", seed=7, data="none")
    a = (np.random.rand(), torch.rand(1).item())
    from vdlib.config import seed_everything

    seed_everything(7)
    assert (np.random.rand(), torch.rand(1).item()) == a


@pytest.mark.parametrize("kwargs, message", [
    (dict(docname="", title="T", data="none"), "docname"),
    (dict(docname="chapters/x", title="", data="none"), "title"),
    (dict(docname="chapters/x", title="T", data=""), "data= must say"),
    (dict(docname="chapters/x", title="T", data=None), "data= must say"),
    (dict(docname="chapters/x", title="T", data="none", torch_threads=0), "torch_threads"),
    (dict(docname="chapters/x", title="T", data="none", torch_threads=True), "torch_threads"),
    (dict(docname="chapters/x", title="T", data="none", seed=-1), "seed must be a non-negative integer"),
    (dict(docname="chapters/../x", title="T", data="none"), "chapter docname"),
])
def test_setup_rejects_bad_input_clearly(results, kwargs, message):
    docname = kwargs.pop("docname")
    title = kwargs.pop("title")
    with pytest.raises(ValueError, match=message):
        kit.setup(docname, title, **kwargs)


def test_setup_needs_the_data_line(results):
    with pytest.raises(TypeError, match="data"):
        kit.setup("chapters/x", "T")


# --------------------------------------------------------------------------------------------- equations

def test_show_displays_one_aligned_block(shown):
    kit.show(r"a &= b", r"&= c")
    assert len(shown) == 1
    assert shown[0].data == r"\begin{aligned}a &= b\\&= c\end{aligned}"


def test_show_rejects_no_rows_and_sympy_objects(shown):
    with pytest.raises(ValueError, match="at least one row"):
        kit.show()
    with pytest.raises(TypeError, match="LaTeX string.*sympy.latex"):
        kit.show(sp.Symbol("x"))
    assert not shown


def test_aligned_typesets_sympy_right_hand_sides():
    x = sp.Symbol("x")
    math = kit.aligned([("f", x**2 / 2), ("g", r"\frac12")])
    assert math.data == r"\begin{aligned}f &= \frac{x^{2}}{2} \\ g &= \frac12\end{aligned}"
    with pytest.raises(TypeError, match="pair"):
        kit.aligned([("f", x, 1)])
    with pytest.raises(ValueError, match="at least one row"):
        kit.aligned([])


def test_check_identity_asserts_and_says_so(capsys):
    x = sp.Symbol("x", positive=True)
    kit.check_identity(sp.sin(x) ** 2 + sp.cos(x) ** 2, 1, "Pythagoras")
    kit.check_identity(sp.Matrix([[x, 1]]) * 2, sp.Matrix([[2 * x, 2]]), "a matrix identity")
    kit.check_identity(x, x, "quiet", quiet=True)
    assert capsys.readouterr().out.splitlines() == ["checked symbolically: Pythagoras",
                                                    "checked symbolically: a matrix identity"]


def test_check_identity_wraps_long_names(capsys):
    kit.check_identity(1, 1, "word " * 30)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) > 1 and all(len(line) <= 76 for line in lines) and lines[1].startswith("    ")


def test_check_identity_fails_naming_the_identity(capsys):
    x = sp.Symbol("x")
    with pytest.raises(AssertionError, match="wrong identity"):
        kit.check_identity(x**2, x, "wrong identity")
    assert capsys.readouterr().out == ""
    with pytest.raises(ValueError, match="name the identity"):
        kit.check_identity(x, x, "")


# --------------------------------------------------------------------------------------------- tables

def test_markdown_table_text():
    assert kit.markdown_table(["a", "b"], [[1, 2.5], ("x", None)]) == (
        "| a | b |\n|---|---|\n| 1 | 2.5 |\n| x | None |")


def test_md_table_displays_markdown_with_an_optional_title(shown):
    kit.md_table(["a"], [[1]])
    kit.md_table(["a"], [[1]], title="Values $\\times 10^3$")
    assert shown[0].data == "| a |\n|---|\n| 1 |"
    assert shown[1].data == "**Values $\\times 10^3$**\n\n| a |\n|---|\n| 1 |"


def test_tables_reject_ragged_rows_and_a_bad_header(shown):
    with pytest.raises(ValueError, match="row 1 has 1 cells but the header has 2 columns"):
        kit.md_table(["a", "b"], [[1, 2], [3]])
    with pytest.raises(TypeError, match="header"):
        kit.markdown_table("ab", [])
    with pytest.raises(TypeError, match="header"):
        kit.markdown_table([], [])
    assert not shown


def test_sci():
    assert kit.sci(0.00123456) == "0.00123"
    assert kit.sci(123456.0, 2) == "1.2e+05"
    with pytest.raises(ValueError, match="digits"):
        kit.sci(1.0, 0)


def test_markdown_table_refuses_a_bare_pipe_that_would_split_a_row():
    with pytest.raises(ValueError, match=r"contains '\|'.*lVert"):
        kit.markdown_table(["ESS of $|x|^2$"], [[1]])
    with pytest.raises(ValueError, match="contains"):
        kit.markdown_table(["a"], [["x | y"]])
    assert "lVert" in kit.markdown_table([r"$\lVert x\rVert^2$"], [[1]])
