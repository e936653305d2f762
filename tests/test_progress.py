"""vdlib.progress: a bar is shown exactly when the caller enables it; the profile decides only in the
caller (``progress=cfg.show_progress``: on under ``full``, off in CI and the book)."""
import pytest

from vdlib import config
from vdlib.progress import progress


def test_a_bar_is_shown_only_when_enabled():
    assert progress(range(3), enabled=False).disable
    assert not progress(range(3), enabled=True).disable
    with progress(total=5, enabled=False) as bar:
        bar.update(5)
    assert list(progress(range(3), enabled=False)) == [0, 1, 2]


def test_enabled_must_be_a_bool():
    with pytest.raises(TypeError, match="enabled must be True or False"):
        progress(range(3), enabled=None)


def test_the_callers_choice_is_the_profiles():
    assert [config.current(p).show_progress for p in config.PROFILES] == [False, False, True]
