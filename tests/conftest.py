"""Test-wide settings: every test (and every kernel it starts) runs under the ci profile."""
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
