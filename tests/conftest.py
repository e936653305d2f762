"""Test-wide settings: every test (and every kernel it starts) runs under the ci profile."""
import os
import pathlib

os.environ.setdefault("VDLIB_PROFILE", "ci")

ROOT = pathlib.Path(__file__).resolve().parents[1]
