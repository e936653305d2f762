"""scripts/lab.sh starts JupyterLab with the repository's settings: chapters open as notebooks."""
import json
import os
import socket
import subprocess
import time
import urllib.request

import pytest

from conftest import ROOT


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab_server(tmp_path_factory):
    port, token = _free_port(), "vdlib-test"
    args = [str(ROOT / "scripts/lab.sh"), "--no-browser", f"--port={port}", f"--ServerApp.token={token}",
            "--ServerApp.open_browser=False"]
    if os.geteuid() == 0:
        args.append("--allow-root")
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path_factory.mktemp("jupyter-runtime"))}
    log = tmp_path_factory.mktemp("lab") / "lab.log"
    with log.open("w") as fh:
        proc = subprocess.Popen(args, stdout=fh, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=1)
                break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail(f"JupyterLab exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
                time.sleep(0.5)
        else:
            pytest.fail(f"JupyterLab did not answer within 60 s:\n{log.read_text()[-3000:]}")
        yield base, token
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _get(base, token, path):
    with urllib.request.urlopen(f"{base}{path}?token={token}", timeout=10) as r:
        return json.load(r)


def test_markdown_chapters_open_as_jupytext_notebooks(lab_server):
    settings = _get(*lab_server, "/lab/api/settings/@jupyterlab/docmanager-extension:plugin")
    # default_setting_overrides.json becomes the schema default (the user's own settings still win)
    viewers = settings["schema"]["properties"]["defaultViewers"]["default"]
    assert viewers.get("markdown") == "Jupytext Notebook", viewers
    assert viewers.get("myst") == "Jupytext Notebook", viewers


def test_jupytext_serves_a_chapter_as_a_notebook(lab_server):
    base, token = lab_server
    model = _get(base, token, "/api/contents/chapters/01_minibatch_noise.md")
    if model.get("type") != "notebook":  # jupytext answers notebook requests for .md files
        with urllib.request.urlopen(f"{base}/api/contents/chapters/01_minibatch_noise.md?type=notebook&token={token}") as r:
            model = json.load(r)
    assert model["type"] == "notebook"
    cells = model["content"]["cells"]
    assert any(c["cell_type"] == "code" and "setup(" in "".join(c["source"]) for c in cells)  # the setup cell
