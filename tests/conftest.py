"""Test-wide settings: every test (and every kernel it starts) runs under the ci profile, and the
chapters' scoreboard records go to a temporary folder (never into the book's own execution cache)."""
import os
import pathlib

os.environ.setdefault("VDLIB_PROFILE", "ci")

ROOT = pathlib.Path(__file__).resolve().parents[1]


import pytest  # noqa: E402


@pytest.fixture(scope="module")
def one_torch_thread():
    """Run a module's torch work on one thread (small tensors: thread hand-offs cost more than
    they save on a small shared CPU), restoring the setting afterwards. Use with
    ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    from vdlib.config import torch_threads

    with torch_threads(1):
        yield


@pytest.fixture(scope="session", autouse=True)
def results_folder(tmp_path_factory):
    """Point ``VDLIB_RESULTS`` at a fresh folder for the whole session: chapters executed by the tests
    (and every kernel or book build they start) write their scoreboard records there."""
    from vdlib.book.scoreboard import ENV_RESULTS

    before = os.environ.get(ENV_RESULTS)
    folder = tmp_path_factory.mktemp("vdlib-results")
    os.environ[ENV_RESULTS] = str(folder)
    yield folder
    if before is None:
        os.environ.pop(ENV_RESULTS, None)
    else:
        os.environ[ENV_RESULTS] = before
