"""The README's two commands are the ones .ci/run runs, verbatim."""
import re

from conftest import ROOT


def _readme_command(marker):
    text = (ROOT / "README.md").read_text()
    m = re.search(rf"<!-- {marker} -->\s*```bash\n(.+?)\n```", text, re.S)
    assert m, f"README.md has no command block after <!-- {marker} -->"
    lines = [ln for ln in m.group(1).splitlines() if ln.strip()]
    assert len(lines) == 1, f"the {marker} block must be exactly one command line"
    return lines[0].strip()


def test_ci_runs_the_readme_commands_verbatim():
    ci_lines = [ln.strip() for ln in (ROOT / ".ci/run").read_text().splitlines()]
    for marker in ("readme-command-setup", "readme-command-test"):
        cmd = _readme_command(marker)
        assert cmd in ci_lines, f".ci/run does not run the README command {cmd!r}"


def test_setup_command_builds_strictly():
    cmd = _readme_command("readme-command-setup")
    assert "pip install -r requirements.txt" in cmd
    assert "jupyter-book build . -n -W --keep-going" in cmd
    assert _readme_command("readme-command-test").endswith("pytest")
