import importlib

import numpy as np
import pytest
import torch

import vdlib
from vdlib import config


def test_profile_from_argument_and_environment(monkeypatch):
    monkeypatch.setenv("VDLIB_PROFILE", "full")
    assert config.current().profile == "full"
    assert config.current("ci").profile == "ci"  # the argument wins
    monkeypatch.delenv("VDLIB_PROFILE")
    assert config.current().profile == config.DEFAULT_PROFILE == "book"


@pytest.mark.parametrize("bad", ["CI", "fast", "books"])
def test_unknown_profile_is_a_clear_error(monkeypatch, bad):
    with pytest.raises(config.ProfileError, match="choose one of ci, book, full"):
        config.current(bad)
    monkeypatch.setenv("VDLIB_PROFILE", bad)
    with pytest.raises(config.ProfileError, match="VDLIB_PROFILE"):
        config.current()


def test_sizes_grow_with_the_profile():
    """Sizes never shrink from ci to book to full; None means "all of it" (e.g. every training
    image, the recipe's epochs) and ranks above every number."""
    ci, book, full = (config.current(p) for p in config.PROFILES)

    def rank(value):
        return float("inf") if value is None else value

    for key in config.SIZES:
        assert set(config.SIZES[key]) == set(config.PROFILES), key
        sizes = [cfg.size(key) for cfg in (ci, book, full)]
        if isinstance(sizes[0], tuple):  # a list of sizes (e.g. N values): compare the largest
            sizes = [max(s) for s in sizes]
        assert rank(sizes[0]) <= rank(sizes[1]) <= rank(sizes[2]), (key, sizes)


def test_unknown_size_key_names_the_known_ones():
    with pytest.raises(config.ProfileError, match="no problem size named 'nope'.*sgd_chains"):
        config.current("ci").size("nope")


def test_choose_needs_every_profile():
    cfg = config.current("book")
    assert cfg.choose(ci=1, book=2, full=3) == 2
    with pytest.raises(config.ProfileError, match="missing"):
        cfg.choose(ci=1, book=2)


def test_seed_everything_reproduces_numpy_and_torch():
    rng1, gen1 = vdlib.seed_everything(123)
    a = (rng1.normal(size=3), torch.randn(3, generator=gen1), torch.randn(2))
    rng2, gen2 = vdlib.seed_everything(123)
    b = (rng2.normal(size=3), torch.randn(3, generator=gen2), torch.randn(2))
    np.testing.assert_array_equal(a[0], b[0])
    assert torch.equal(a[1], b[1]) and torch.equal(a[2], b[2])  # the global torch RNG too
    rng3, _ = vdlib.seed_everything(124)
    assert not np.array_equal(a[0], rng3.normal(size=3))


@pytest.mark.parametrize("bad", [-1, 1.5, "0", True])
def test_seed_must_be_a_non_negative_integer(bad):
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        vdlib.seed_everything(bad)


def test_device_selection(monkeypatch):
    monkeypatch.delenv("VDLIB_DEVICE", raising=False)
    assert config.select_device() == "cpu"  # CPU unless asked
    assert config.select_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="'cpu', 'cuda' or 'auto'"):
        config.select_device("gpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="torch.cuda.is_available"):
            config.select_device("cuda")
    monkeypatch.setenv("VDLIB_DEVICE", "auto")
    assert config.current("ci").device == config.select_device("auto")


def test_config_prints_version_profile_and_device(capsys):
    config.current("ci", verbose=True)
    out = capsys.readouterr().out
    assert f"vdlib {vdlib.__version__}" in out and "profile: ci" in out and "device: cpu" in out


def test_submodules_load_lazily_and_unknown_names_fail():
    assert vdlib.theory.__name__ == "vdlib.theory"
    assert vdlib.theory.sde.__name__ == "vdlib.theory.sde"
    with pytest.raises(AttributeError):
        vdlib.not_a_module


def test_torch_threads_limits_torch_and_blas_and_restores_them():
    importlib.import_module("scipy.linalg")  # loads SciPy's OpenBLAS
    from threadpoolctl import threadpool_info

    def blas_threads():
        return {i["filepath"]: i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}

    before_torch, before_blas = torch.get_num_threads(), blas_threads()
    assert before_blas, "NumPy/SciPy load a BLAS that threadpoolctl can see"
    target = 1 if before_torch != 1 else 2
    with config.torch_threads(target):
        assert torch.get_num_threads() == target
        assert set(blas_threads().values()) == {target}
    assert torch.get_num_threads() == before_torch and blas_threads() == before_blas
    with config.torch_threads(None):
        assert torch.get_num_threads() == before_torch and blas_threads() == before_blas
