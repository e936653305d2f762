"""pyflakes finds nothing in vdlib/ or tests/: no unused imports or variables, no undefined names."""
import subprocess
import sys

from conftest import ROOT


def test_pyflakes_reports_nothing():
    run = subprocess.run([sys.executable, "-m", "pyflakes", "vdlib", "tests"], cwd=ROOT,
                         capture_output=True, text=True)
    messages = (run.stdout + run.stderr).strip()
    assert run.returncode == 0 and not messages, f"pyflakes:\n{messages}"
