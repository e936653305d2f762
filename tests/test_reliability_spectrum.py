"""Reliability of the spectrum experiment, the trainer and the data layer: the thread count is part of a
run (recorded, refused on a resume with another), damaged saved state gives an error naming the file and
the fix (never a raw torch/numpy message), and misleading input is refused at the boundary."""
import fcntl
import io
import json
import os
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from vdlib import files
from vdlib.deep import data as D
from vdlib.deep import models as M
from vdlib.deep import train as T
from vdlib.deep.data import download
from vdlib.experiments import spectrum as S
from vdlib.experiments.__main__ import main
from vdlib.lifecycle import LOCK_FILE

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# one epoch of small-fc on 128 images, D from 32 of them, a rank-against-N curve: about two seconds
TINY = ["spectrum", "--profile", "ci", "--runs", "small-fc", "--n-train", "128", "--n-spectrum", "32",
        "--epochs", "1", "--no-progress"]
# what neither torch's nor numpy's own messages may pass on (it would run code from the file)
UNSAFE_ADVICE = ("weights_only", "allow_pickle", "Traceback")


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished tiny run made by the command line without --threads; tests copy it before changing it."""
    base = tmp_path_factory.mktemp("finished")
    out = base / "run"
    assert main([*TINY, "--out", str(out)]) == 0
    return out


@pytest.fixture
def run_copy(finished, tmp_path):
    """A copy of the finished run and its work folder: ``(out, work)``."""
    out, work = tmp_path / "run", tmp_path / "run_work"
    shutil.copytree(finished, out)
    shutil.copytree(finished.parent / "run_work", work)
    (out / LOCK_FILE).unlink(missing_ok=True)
    return out, work


def _resume(out, *extra):
    return main([*TINY, "--out", str(out), "--resume", *extra])


def _error(capsys) -> str:
    err = capsys.readouterr().err
    assert "error: " in err
    for advice in UNSAFE_ADVICE:
        assert advice not in err
    return err


def _small_fc_data(n=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 49, generator=g), torch.arange(n) % 10


# --------------------------------------------------------------------------------------------------
# 1. the thread count is part of a run
# --------------------------------------------------------------------------------------------------
def test_thread_count_defaults_to_one_and_is_recorded_in_the_protocol_and_the_checkpoints(finished):
    assert S.protocol("ci").threads == 1
    meta = json.loads((finished / "meta.json").read_text())
    assert meta["protocol"]["threads"] == 1 and "--threads" not in meta["command"]
    ckpt = T.load_checkpoint(finished.parent / "run_work" / "small-fc" / "epoch_0001.pt")
    assert ckpt["settings"]["num_threads"] == 1 == meta["training"]["small-fc"]["threads"]
    assert S.load(finished).protocol.threads == 1


def test_a_resume_with_another_thread_count_is_refused_naming_both(run_copy, capsys):
    out, _ = run_copy
    stamp = (out / "meta.json").stat().st_mtime_ns
    assert _resume(out, "--threads", "2") == 2
    err = _error(capsys)
    assert "started with --threads 1" in err and "asks for --threads 2" in err
    assert "Pass --threads 1" in err and "fresh --out" in err
    assert (out / "meta.json").stat().st_mtime_ns == stamp  # nothing written
    assert _resume(out) == 0  # the started count: accepted


def test_records_without_the_thread_count_still_load(run_copy, capsys):
    from vdlib import results as R

    # the committed results predate the field: their command names the count
    assert S.load(R.committed_result("spectrum/full").path).protocol.threads == 1
    assert S.Protocol.from_dict({"runs": ["small-fc"]}).threads is None  # unknown
    out, _ = run_copy
    meta = json.loads((out / "meta.json").read_text())
    del meta["protocol"]["threads"]
    meta["command"] = "python -m vdlib.experiments spectrum --threads=2"
    (out / "meta.json").write_text(json.dumps(meta))
    assert S.load(out).protocol.threads == 2
    assert _resume(out) == 2 and "started with --threads 2" in _error(capsys)
    meta["command"] = "python -m vdlib.experiments spectrum"  # no count anywhere: unknown, the resume says so
    (out / "meta.json").write_text(json.dumps(meta))
    assert S.load(out).protocol.threads is None
    assert _resume(out) == 0
    again = json.loads((out / "meta.json").read_text())
    assert again["protocol"]["threads"] == 1 and "did not record its count" in again["threads_note"]


def test_train_refuses_to_resume_with_another_thread_count(tmp_path):
    X, y = _small_fc_data()
    kw = dict(epochs=1, batch_size=8, seed=0, checkpoint_dir=tmp_path, checkpoint_epochs=(1,))
    T.train(M.build("small-fc", seed=0), X, y, **kw, num_threads=1)
    assert T.load_checkpoint(tmp_path / "last.pt")["settings"]["num_threads"] == 1
    with pytest.raises(ValueError, match=r"trained with 1 CPU thread\(s\) and this call uses 2.*num_threads=1"):
        T.train(M.build("small-fc", seed=0), X, y, **{**kw, "epochs": 2}, resume=True, num_threads=2)
    # a finished run trains no further: reading it back with another count is no hybrid
    T.train(M.build("small-fc", seed=0), X, y, **kw, resume=True, num_threads=2)
    # checkpoints written before the count was recorded: unknown, the resume goes on
    for name in ("last.pt", "epoch_0001.pt"):
        ck = T.load_checkpoint(tmp_path / name)
        del ck["settings"]["num_threads"]
        T.save_checkpoint(tmp_path / name, ck)
    res = T.train(M.build("small-fc", seed=0), X, y, **{**kw, "epochs": 2}, resume=True, num_threads=2)
    assert res.resumed_from == 1 and res.epochs_done == 2


# --------------------------------------------------------------------------------------------------
# 2. damaged saved state: the file, what is wrong, the fix; exit 2 on the command line
# --------------------------------------------------------------------------------------------------
def _damage(path: Path, how: str) -> None:
    raw = path.read_bytes()
    if how == "truncated":
        path.write_bytes(raw[:len(raw) // 2])
    elif how == "zeroed":
        path.write_bytes(bytes(len(raw)))
    elif how == "garbage":
        path.write_bytes(np.random.default_rng(0).bytes(len(raw)))
    elif how == "npy":  # a plain .npy array where an archive belongs
        buf = io.BytesIO()
        np.save(buf, np.arange(5.0))
        path.write_bytes(buf.getvalue())
    else:
        raise ValueError(how)


@pytest.mark.parametrize("how", ["truncated", "zeroed", "garbage"])
def test_a_damaged_last_checkpoint_names_the_file_and_the_fix(tmp_path, how):
    X, y = _small_fc_data()
    kw = dict(epochs=1, batch_size=8, seed=0, checkpoint_dir=tmp_path, checkpoint_epochs=(1,))
    T.train(M.build("small-fc", seed=0), X, y, **kw)
    _damage(tmp_path / "last.pt", how)
    for call in (lambda: T.latest_checkpoint(tmp_path),
                 lambda: T.train(M.build("small-fc", seed=0), X, y, **{**kw, "epochs": 2}, resume=True)):
        with pytest.raises(files.DamagedFile) as err:
            call()
        msg = str(err.value)
        assert str(tmp_path / "last.pt") in msg and "delete it and resume" in msg
        assert not any(a in msg for a in UNSAFE_ADVICE)
    _damage(tmp_path / "epoch_0001.pt", how)
    with pytest.raises(files.DamagedFile, match="epoch_0001.pt .*delete it, the later epoch_NNNN.pt files"):
        T.load_checkpoint(tmp_path / "epoch_0001.pt", M.build("small-fc"))


def test_a_checkpoint_of_another_network_says_so_in_one_sentence(tmp_path):
    X, y = _small_fc_data()
    T.train(M.build("small-fc", seed=0), X, y, epochs=1, batch_size=8, seed=0, checkpoint_dir=tmp_path,
            checkpoint_epochs=(1,))
    with pytest.raises(ValueError, match="holds the weights of another network .*small-fc.* 3978 parameters"):
        T.load_checkpoint(tmp_path / "epoch_0001.pt", M.build("tiny-fc"))


@pytest.mark.parametrize("piece,how", [("small-fc/snapshot_0001.npz", "garbage"),
                                       ("small-fc/snapshot_0001.npz", "truncated"),
                                       ("small-fc/snapshot_0001.npz", "npy"),
                                       ("small-fc/rank_vs_n.npz", "zeroed")])
def test_damaged_spectrum_files_exit_2_naming_the_file_and_the_fix(run_copy, capsys, piece, how):
    out, _ = run_copy
    _damage(out / piece, how)
    assert _resume(out) == 2
    err = _error(capsys)
    assert str(out / piece) in err and "delete it and rerun with --resume" in err
    with pytest.raises(files.DamagedFile, match="delete it and rerun with --resume"):
        S.load(out)


@pytest.mark.parametrize("text,problem", [('{"format": "vdlib.experiments.spectrum/1", "protoc', "is not valid JSON"),
                                          ('{"format": "vdlib.experiments.spectrum/1"}', "lacks the entries 'protocol'"),
                                          ('{"format": "vdlib.experiments.spectrum/1", "protocol": {"runs": 3}}',
                                           "holds a damaged protocol")])
def test_a_damaged_meta_json_exits_2_naming_the_file_and_the_fix(run_copy, capsys, text, problem):
    out, _ = run_copy
    (out / "meta.json").write_text(text)
    assert _resume(out) == 2
    err = _error(capsys)
    assert f"{out / 'meta.json'} {problem}" in err and f"move {out} aside" in err
    with pytest.raises(files.DamagedFile, match=problem):
        S.load(out)


def test_a_damaged_training_checkpoint_exits_2_naming_it(run_copy, capsys):
    out, work = run_copy
    (out / "small-fc" / "snapshot_0001.npz").unlink()  # so the resume needs the checkpoint of epoch 1
    _damage(work / "small-fc" / "epoch_0001.pt", "truncated")
    assert _resume(out) == 2
    err = _error(capsys)
    assert str(work / "small-fc" / "epoch_0001.pt") in err and "is truncated or damaged" in err
    assert "rerun with --resume" in err


# --------------------------------------------------------------------------------------------------
# 3. misleading input is refused
# --------------------------------------------------------------------------------------------------
def test_a_data_root_that_is_not_a_folder_is_refused_never_searched_past(tmp_path, capsys):
    nowhere, a_file = tmp_path / "nonexistent", tmp_path / "file"
    a_file.write_text("x")
    assert main([*TINY, "--out", str(tmp_path / "o"), "--data-root", str(nowhere)]) == 2
    assert f"{nowhere} does not exist: pass the folder that holds the data" in _error(capsys)
    for call in (lambda: D.mnist_choice("auto", nowhere), lambda: D.load("fashion-mnist", root=a_file),
                 lambda: D.available("cifar10", a_file), lambda: D.load("mnist-10k", root=nowhere)):
        with pytest.raises(D.DataNotFoundError, match="does not exist|is a file, not a folder"):
            call()
    assert not (tmp_path / "o").exists()  # refused before anything was written


def test_more_training_images_than_the_split_holds_are_refused(tmp_path, capsys):
    assert main([*TINY[:5], "--n-train", "10000000", "--n-spectrum", "32", "--epochs", "1",
                 "--out", str(tmp_path / "o")]) == 2
    err = _error(capsys)
    assert "n_train=10,000,000 exceeds the" in err and "use --n-train ≤" in err and "or omit it" in err
    assert not (tmp_path / "o" / "meta.json").exists()


def test_negative_labels_are_named_not_blamed_on_the_class_count():
    X, y = _small_fc_data()
    y[[3, 8]] = -1
    with pytest.raises(ValueError) as err:
        T.train(M.build("small-fc"), X, y, epochs=1, batch_size=8)
    msg = str(err.value)
    assert "2 negative labels (smallest -1, first at index 3)" in msg and "0..9" in msg
    assert "num_classes=" not in msg


def test_non_finite_inputs_are_named_not_blamed_on_the_learning_rate():
    X, y = _small_fc_data()
    X[5, 2], X[9, :3] = float("nan"), float("inf")
    for call in (lambda: T.train(M.build("small-fc"), X, y, epochs=1, batch_size=8),
                 lambda: T.evaluate(M.build("small-fc"), X, y)):
        with pytest.raises(ValueError) as err:
            call()
        msg = str(err.value)
        assert "X holds 4 non-finite values (1 NaN, 3 ±inf) in 2 of its 40 examples (first: example 5)" in msg
        assert "check the data" in msg and "learning rate" not in msg


def test_a_skipped_run_is_not_a_success(tmp_path, monkeypatch, capsys):
    for var, sub in (("XDG_CACHE_HOME", "cache"), ("KERAS_HOME", "keras")):  # no CIFAR anywhere
        monkeypatch.setenv(var, str(tmp_path / sub))
    monkeypatch.delenv(D.ENV_DATA, raising=False)
    (tmp_path / "data").mkdir()
    rc = main(["spectrum", "--profile", "ci", "--runs", "small-allcnn-cifar10", "--data-root", str(tmp_path / "data"),
               "--out", str(tmp_path / "o")])
    assert rc == 1
    err = _error(capsys)
    assert "skipped: small-allcnn-cifar10" in err and "--data-root DIR" in err and "--resume" in err


@pytest.mark.parametrize("option,value", [("--epochs", "0"), ("--n-spectrum", "-5"), ("--threads", "0"),
                                          ("--n-train", "1"), ("--seed", "-1"), ("--epochs", "nan"),
                                          ("--threads", "1.5"), ("--n-train", "inf"), ("--seed", str(2**32))])
def test_numeric_options_are_checked_at_the_command_line(tmp_path, capsys, option, value):
    with pytest.raises(SystemExit) as ex:
        main(["spectrum", "--profile", "ci", option, value, "--out", str(tmp_path / "o")])
    assert ex.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}: got {value!r}: pass a whole number" in err
    assert not (tmp_path / "o").exists()


# --------------------------------------------------------------------------------------------------
# 4. an unsafe archive, one writer per folder, stale temporaries
# --------------------------------------------------------------------------------------------------
def test_an_archive_that_would_write_outside_its_folder_is_a_data_error(tmp_path):
    target = tmp_path / "store"
    target.mkdir()
    with tarfile.open(target / "cifar-10-python.tar.gz", "w:gz") as tar:
        payload = b"not CIFAR"
        info = tarfile.TarInfo("cifar-10-batches-py/../../escaped")  # passes the folder prefix, leaves the folder
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    with pytest.raises(D.DataError) as err:
        download._extract_cifar("cifar10", target)
    msg = str(err.value)
    assert str(target / "cifar-10-python.tar.gz") in msg and "unsafe or damaged" in msg
    assert "download it again from the official source" in msg and "www.cs.toronto.edu" in msg
    assert not (tmp_path / "escaped").exists() and not (target / "cifar-10-batches-py").exists()


def test_a_folder_in_use_is_refused(tmp_path, capsys):
    out = tmp_path / "busy"
    out.mkdir()
    fd = os.open(out / LOCK_FILE, os.O_RDWR | os.O_CREAT)  # another writer's lock (flock: per open file)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert main([*TINY, "--out", str(out)]) == 2
        assert "is in use" in _error(capsys)
        assert not (out / "meta.json").exists()
    finally:
        os.close(fd)


def test_a_resume_removes_the_temporaries_a_killed_run_left(run_copy):
    out, work = run_copy
    stale = [out / "small-fc" / ".snapshot_0001.npz.abc123.tmp", out / ".meta.json.x1.tmp",
             work / "small-fc" / ".last.pt.q9.tmp"]
    for p in stale:
        p.write_bytes(b"half a file")
    assert _resume(out) == 0
    assert not any(p.exists() for p in stale)


# --------------------------------------------------------------------------------------------------
# 5. the documentation says what reproduces
# --------------------------------------------------------------------------------------------------
def test_the_thread_count_and_its_limits_are_documented(capsys):
    with pytest.raises(SystemExit):
        main(["spectrum", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for doc in (text, " ".join(S.__doc__.split())):
        assert "default 1" in doc or "default **1**" in doc
        assert "bitwise reproducible only" in doc and "not across machines or thread counts" in doc
