"""Execute every document in _toc.yml top to bottom in a fresh kernel (ci profile)."""
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
