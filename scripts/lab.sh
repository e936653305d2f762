#!/usr/bin/env bash
# Open the book in JupyterLab: chapters (.md) open as notebooks (jupytext), MyST blocks render
# (jupyterlab-myst), widgets are live. Extra arguments go to `jupyter lab` (e.g. --allow-root).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export JUPYTER_CONFIG_PATH="$root/jupyter-config${JUPYTER_CONFIG_PATH:+:$JUPYTER_CONFIG_PATH}"
exec "$root/.venv/bin/jupyter" lab "$@"
