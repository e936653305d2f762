"""A reader can take a chapter away: the wheel carries what the chapters need, and a chapter
downloaded as .ipynb runs in a fresh virtual environment outside the repository.

The wheel is built from this checkout (``pip wheel --no-deps``) and installed with ``--no-deps``
into a new virtual environment in a temporary folder. Its third-party packages (torch, SymPy,
Jupyter, ...) are made visible by one path line pointing at this environment's site-packages
(a ``.pth`` path entry: ``.pth`` files there, such as the editable install of vdlib, are *not*
run), so vdlib itself can only come from the wheel. The chapters are converted to .ipynb exactly
as the book build offers them (:func:`vdlib.book.sphinx_notebooks.notebook_from_source`) and
executed there, in a folder outside the checkout, with an empty HOME and no data variable.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from pathlib import Path

import nbformat
import pytest

from conftest import ROOT
from vdlib.book.sphinx_notebooks import (
    JUPYTER_BOOK_DEFAULT_REPOSITORY,
    TAKE_AWAY_NOTE,
    launch_buttons_enabled,
    notebook_from_source,
)

DERIVATION_CHAPTER = ROOT / "chapters" / "01_minibatch_noise.md"
PART_IV_CHAPTER = ROOT / "chapters" / "10_gradient_noise_spectrum.md"


def test_launch_buttons_need_the_books_own_repository():
    assert not launch_buttons_enabled(None)
    assert not launch_buttons_enabled("")
    assert not launch_buttons_enabled(JUPYTER_BOOK_DEFAULT_REPOSITORY + "/")
    assert launch_buttons_enabled("https://github.com/someone/sgd-vi-book")


def test_config_sets_launch_buttons_in_one_place():
    import yaml

    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["launch_buttons"]["binderhub_url"] and config["launch_buttons"]["colab_url"]
    assert "url" in config["repository"], "repository.url is the one switch for the launch buttons"
    assert "vdlib.book.sphinx_notebooks" in config["sphinx"]["extra_extensions"]


@pytest.mark.parametrize("chapter", [DERIVATION_CHAPTER, PART_IV_CHAPTER], ids=lambda p: p.stem)
def test_notebook_from_source_is_a_clean_notebook(chapter):
    nb = notebook_from_source(chapter)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.outputs == [] and c.execution_count is None for c in code)
    assert nb.cells[0].source == TAKE_AWAY_NOTE.format(source=chapter.name)
    assert "jupytext" not in nb.metadata and nb.metadata["kernelspec"]["name"] == "python3"
    assert "<org>" not in json.dumps(nb), "a placeholder reached the notebook"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    run = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
                         capture_output=True, text=True)
    assert run.returncode == 0, f"pip wheel failed:\n{run.stdout}\n{run.stderr}"
    (whl,) = out.glob("vdlib-*.whl")
    return whl


def test_wheel_carries_bundled_data_results_and_licences(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.startswith("vdlib/datasets/") and n.endswith(".npz") for n in names), "bundled data missing"
    assert any(n.startswith("vdlib/datasets/") and n.endswith(".md") for n in names), "data licence note missing"
    assert any(n.startswith("vdlib/results/") and n.endswith("meta.json") for n in names), "committed results missing"
    licences = [n for n in names if n.endswith(("/LICENSE", "/LICENSE-TEXT"))]
    assert len(licences) == 2, f"licence files in the wheel: {licences}"
    assert not any(n.startswith(("tests/", "chapters/", "artifacts/")) for n in names)


@pytest.fixture(scope="module")
def fresh_venv(wheel, tmp_path_factory) -> Path:
    venv = tmp_path_factory.mktemp("venv") / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(subprocess.check_output([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                        text=True).strip())
    (site / "outer_site_packages.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)],
                         capture_output=True, text=True)
    assert run.returncode == 0, f"installing the wheel failed:\n{run.stdout}\n{run.stderr}"
    return python


def test_vdlib_comes_from_the_wheel(fresh_venv, tmp_path):
    where = subprocess.check_output([str(fresh_venv), "-c", "import vdlib; print(vdlib.__file__)"],
                                    cwd=tmp_path, text=True, env=_clean_env(tmp_path)).strip()
    assert Path(where).is_relative_to(fresh_venv.parent.parent), f"vdlib imported from {where}, not from the wheel"


def _clean_env(tmp_path: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("VDLIB_DATA", "PYTHONPATH", "VIRTUAL_ENV")}
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env.update(HOME=str(home), VDLIB_PROFILE="ci", VDLIB_IGNORE_SYSTEM_DATA="1", VDLIB_RESULTS=str(tmp_path / "results"))
    return env


EXECUTE = textwrap.dedent("""
    import sys, nbformat
    from nbclient import NotebookClient
    from jupyter_client.kernelspec import NATIVE_KERNEL_NAME
    nb = nbformat.read(sys.argv[1], as_version=4)
    NotebookClient(nb, timeout=600, kernel_name=NATIVE_KERNEL_NAME,
                   resources={"metadata": {"path": sys.argv[2]}}).execute()
    nbformat.write(nb, sys.argv[1])
""")


@pytest.mark.parametrize("chapter", [DERIVATION_CHAPTER, PART_IV_CHAPTER], ids=lambda p: p.stem)
def test_downloaded_chapter_runs_outside_the_repository(chapter, fresh_venv, tmp_path):
    work = tmp_path / "reader"
    work.mkdir()
    target = work / f"{chapter.stem}.ipynb"
    nbformat.write(notebook_from_source(chapter), target)
    run = subprocess.run([str(fresh_venv), "-c", EXECUTE, str(target), str(work)], cwd=work,
                         capture_output=True, text=True, env=_clean_env(tmp_path))
    assert run.returncode == 0, f"{chapter.name} failed outside the repository:\n{run.stderr[-4000:]}"
    nb = nbformat.read(target, as_version=4)
    text = "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert str(ROOT) not in text, "the chapter reached into the checkout"
    assert "vdlib" in text
    if chapter == PART_IV_CHAPTER:  # bundled data and committed results, both found through the package
        venv_root = str(fresh_venv.parent.parent)
        assert "mnist-10k" in text, "the Part IV chapter did not say it used the bundled MNIST digits"
        assert "the result committed with vdlib" in text and venv_root in text, \
            "the committed full-scale result was not read from the installed package"
