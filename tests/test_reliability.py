"""Long runs never lose or fake data: damaged records are refused on resume, killed parents leave no
workers behind, one writer per folder, the thread count is part of the protocol, every damaged file is
named with its fix, and bad command-line values are refused before anything runs.

Each test reproduces one defect of the experiment command lines (trajectory, ``ci`` profile) and checks
the behaviour that replaced it. Spectrum, training and data loading: tests/test_reliability_spectrum.py;
SIGKILL at random points: tests/test_fault_injection.py.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from vdlib import files
from vdlib.experiments import __main__ as cli
from vdlib.lifecycle import LOCK_FILE, RunLock

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["trajectory", "--profile", "ci", "--epochs", "30", "--burn-in", "1", "--controls", "sgd,nobn",
         "--checkpoint-every", "0"]


def _run(capsys, *extra):
    code = cli.main([*SMALL, *map(str, extra)])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished small trajectory run (copied by each test that changes it)."""
    out = tmp_path_factory.mktemp("finished") / "run"
    assert cli.main([*SMALL, "--out", str(out)]) == 0
    return out


@pytest.fixture
def run_copy(finished, tmp_path):
    dst = tmp_path / "run"
    shutil.copytree(finished, dst)
    return dst


def _no_raw_advice(err: str) -> None:
    assert "Traceback" not in err
    assert "weights_only" not in err and "allow_pickle" not in err and "UnpicklingError" not in err


# ---------------------------------------------------------------- 1. checked record files
def test_a_truncated_record_is_refused_on_resume_not_padded_with_zeros(run_copy, capsys):
    path = run_copy / "sgd" / "weights.npy"
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        fh.truncate(size // 2)
    code, _, err = _run(capsys, "--out", run_copy, "--resume")
    assert code == 2
    assert str(path) in err and "truncated" in err and f"{size // 2:,} bytes" in err
    assert "rerun without --resume" in err
    assert path.stat().st_size == size // 2  # refused before anything was written: not padded
    _no_raw_advice(err)


def test_changed_rows_fail_their_checksum_on_resume(run_copy, capsys):
    path = run_copy / "nobn" / "loss.npy"
    arr = np.load(path, mmap_mode="r+")
    arr[0, 5] += 1.0  # same size, one checkpointed value changed
    arr.flush()
    del arr
    code, _, err = _run(capsys, "--out", run_copy, "--resume")
    assert code == 2
    assert str(path) in err and "checksum" in err and "cannot be recovered" in err


def test_resume_with_nothing_to_resume_says_so_instead_of_starting_fresh(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = _run(capsys, "--out", empty, "--resume")
    assert code == 2 and "nothing to resume" in err and "without --resume" in err
    assert not (empty / "meta.json").exists()


def test_the_checkpoint_keeps_checksums_of_every_completed_row(finished):
    state = files.load_torch(finished / "checkpoint.pt", what="checkpoint", fix="-")
    assert state["epoch"] == 30
    for g in ("sgd", "nobn"):
        segs = state["row_sha256"][g]
        assert segs["weights"][-1][1] == 31 and segs["step_sq"][-1][1] == 30
        a, b, digest = segs["loss"][3]
        rows = np.ascontiguousarray(np.load(finished / g / "loss.npy")[:, a:b])
        import hashlib

        assert hashlib.sha256(rows.tobytes()).hexdigest() == digest


# ---------------------------------------------------------------- 3. threads in the protocol
def test_the_thread_count_is_recorded_and_a_resume_with_another_is_refused(run_copy, capsys):
    meta = json.loads((run_copy / "meta.json").read_text())
    assert meta["protocol"]["threads"] == 1  # a fixed default, not the machine's core count
    code, _, err = _run(capsys, "--out", run_copy, "--resume", "--threads", "2")
    assert code == 2
    assert "1 torch thread(s)" in err and "--threads 1" in err
    assert _run(capsys, "--out", run_copy, "--resume")[0] == 0  # the same count resumes


def test_a_checkpoint_from_another_thread_count_is_refused_by_the_recorder(tmp_path):
    import torch
    from vdlib.deep import chains as ch

    X = torch.randn(64, 49)
    y = torch.arange(64) % 4
    lay = ch.layout("tiny-fc", 4)

    def engines():
        return {"g": ch.ChainEngine(X, y, ch.init_weights(lay, [0]), lay, seeds=[0], lr=0.1, batch_size=16)}

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        ch.run_network_chains(engines(), 6, folder=tmp_path, stop_after=3, checkpoint_every=0)
        torch.set_num_threads(2)
        with pytest.raises(ValueError, match=r"recorded with 1 torch thread\(s\) and this process has 2"):
            ch.run_network_chains(engines(), 6, folder=tmp_path, resume=True, checkpoint_every=0)
    finally:
        torch.set_num_threads(before)


# ---------------------------------------------------------------- 4. damaged saved state
@pytest.mark.parametrize("damage", ["truncated", "zeroed", "garbage", "empty"])
def test_a_damaged_checkpoint_is_named_with_its_fix_and_no_unpickling_advice(run_copy, capsys, damage):
    path = run_copy / "checkpoint.pt"
    raw = path.read_bytes()
    data = {"truncated": raw[:len(raw) // 2], "zeroed": bytes(len(raw)), "garbage": os.urandom(len(raw)),
            "empty": b""}[damage]
    path.write_bytes(data)
    code, _, err = _run(capsys, "--out", run_copy, "--resume")
    assert code == 2
    assert str(path) in err and ("cannot be recovered" in err)
    _no_raw_advice(err)


def test_a_garbage_record_array_is_named(run_copy, capsys):
    path = run_copy / "sgd" / "loss.npy"
    path.write_bytes(os.urandom(path.stat().st_size))
    code, _, err = _run(capsys, "--out", run_copy, "--resume")
    assert code == 2 and str(path) in err and "not a .npy array" in err
    _no_raw_advice(err)


@pytest.mark.parametrize("text, what", [('{"format": "vdlib.exp', "not valid JSON"),
                                        ('{"format": "vdlib.experiments.trajectory/1"}', "'protocol'")])
def test_a_bad_meta_json_is_named(run_copy, capsys, text, what):
    path = run_copy / "meta.json"
    path.write_text(text)
    code, _, err = _run(capsys, "--out", run_copy, "--resume")
    assert code == 2 and str(path) in err and what in err
    _no_raw_advice(err)
    code = cli.main(["trajectory", "--summarize", str(run_copy)])
    err = capsys.readouterr().err
    assert code == 2 and str(path) in err


def test_a_damaged_pretrained_file_is_named(run_copy, capsys):
    path = run_copy / "pretrained.pt"
    path.write_bytes(path.read_bytes()[:100])
    code, _, err = _run(capsys, "--out", run_copy, "--resume")
    assert code == 2 and str(path) in err and "pre-training is repeated" in err
    _no_raw_advice(err)


# ---------------------------------------------------------------- 5. input at the command line
@pytest.mark.parametrize("value", ["nan", "inf", "-1"])
def test_checkpoint_every_must_be_finite_and_not_negative(tmp_path, capsys, value):
    code, _, err = _run(capsys, "--out", tmp_path / "x", "--checkpoint-every", value)
    assert code == 2 and "--checkpoint-every must be a finite number" in err
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("opt, value", [("--max-weight-norm", "nan"), ("--max-loss", "-3"), ("--threads", "0"),
                                        ("--lr", "nan"), ("--momentum", "nan"), ("--weight-decay", "inf")])
def test_other_numeric_options_are_checked_before_anything_runs(tmp_path, capsys, opt, value):
    code, _, err = _run(capsys, "--out", tmp_path / "x", opt, value)
    assert code == 2 and err.startswith("error:")
    assert not (tmp_path / "x").exists()


def test_a_run_that_blows_up_while_finite_is_stopped_by_the_divergence_guard(tmp_path, capsys):
    out = tmp_path / "lr1e6"
    code, _, err = _run(capsys, "--out", out, "--lr", "1e6")
    assert code == 1 and "max_weight_norm=10000" in err and "divergence guard" in err
    meta = json.loads((out / "meta.json").read_text())
    assert meta["status"] == "diverged" and "divergence guard" in meta["error"]
    assert cli.main(["trajectory", "--summarize", str(out)]) == 2  # a clear refusal, not a crash
    err = capsys.readouterr().err
    assert "diverged" in err and "lower learning rate" in err and "Traceback" not in err


def test_the_guard_can_be_turned_off(tmp_path, capsys):
    """Without it, lr = 1e6 ends 'complete' with |θ| far beyond anything a trained net has: what the
    guard exists to stop."""
    code, _, err = _run(capsys, "--out", tmp_path / "g", "--lr", "1e6", "--max-weight-norm", "0",
                        "--max-loss", "0")
    meta = json.loads((tmp_path / "g" / "meta.json").read_text())
    assert meta["protocol"]["max_weight_norm"] is None and meta["protocol"]["max_loss"] is None
    if code == 0:
        w = np.load(tmp_path / "g" / "sgd" / "weights.npy")[:, -1].astype(np.float64)
        assert not np.isfinite(w).all() or np.abs(w).max() > 1e4
    else:
        assert code == 1 and "NaN/inf" in err


# ---------------------------------------------------------------- 6. temporaries and permissions
def test_temporary_files_left_by_a_kill_are_removed_on_resume(run_copy, capsys):
    stale = [run_copy / ".meta.json.k1ll3d.tmp", run_copy / "sgd" / ".record.json.k1ll3d.tmp",
             run_copy / ".checkpoint.pt.k1ll3d.tmp"]
    for p in stale:
        p.write_bytes(b"half a file")
    assert _run(capsys, "--out", run_copy, "--resume")[0] == 0
    assert not any(p.exists() for p in stale)


def test_written_files_keep_the_umask_permissions(tmp_path):
    old = os.umask(0o027)
    try:
        files.write_json(tmp_path / "m.json", {"a": 1})
        files.save_npz(tmp_path / "a.npz", x=np.zeros(2))
    finally:
        os.umask(old)
    assert (tmp_path / "m.json").stat().st_mode & 0o777 == 0o640
    assert (tmp_path / "a.npz").stat().st_mode & 0o777 == 0o640


def test_run_files_get_the_umask_permissions(finished):
    mask = os.umask(0o022)
    os.umask(mask)
    for name in ("meta.json", "checkpoint.pt", "pretrained.pt", "sgd/record.json", "sgd/weights.npy",
                 "trajectory.npz"):
        assert (finished / name).stat().st_mode & 0o777 == 0o666 & ~mask, name


# ---------------------------------------------------------------- 2. one writer, no orphans
def _holder(folder: Path) -> subprocess.Popen:
    code = ("import sys, time; from vdlib.lifecycle import RunLock; RunLock(sys.argv[1], what='test holder')"
            ".acquire(); print('locked', flush=True); time.sleep(120)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(folder)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_a_second_writer_is_refused_while_a_run_holds_the_folder(tmp_path, capsys):
    out = tmp_path / "busy"
    holder = _holder(out)
    try:
        code, _, err = _run(capsys, "--out", out)
        assert code == 2 and "is in use by pid" in err and "test holder" in err
        assert not (out / "meta.json").exists()
    finally:
        holder.kill()
        holder.wait()
    assert _run(capsys, "--out", out)[0] == 0  # the kernel dropped the lock with its holder
    assert (out / LOCK_FILE).is_file()


def test_the_lock_is_reentrant_in_one_process_and_released(tmp_path):
    with RunLock(tmp_path):
        with RunLock(tmp_path):
            pass
        proc = subprocess.run([sys.executable, "-c", "import sys; from vdlib.lifecycle import RunLock;"
                               "RunLock(sys.argv[1]).acquire()", str(tmp_path)], cwd=ROOT, capture_output=True,
                              text=True)
        assert proc.returncode != 0 and "FolderInUse" in proc.stderr
    proc = subprocess.run([sys.executable, "-c", "import sys; from vdlib.lifecycle import RunLock;"
                           "RunLock(sys.argv[1]).acquire()", str(tmp_path)], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0


def _descendants(pid: int) -> set[int]:
    import psutil

    try:
        return {c.pid for c in psutil.Process(pid).children(recursive=True)}
    except psutil.NoSuchProcess:
        return set()


def _alive(pids) -> set[int]:
    import psutil

    return {p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE}


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_workers_stop_when_the_parent_of_a_multi_process_run_is_killed(tmp_path, sig):
    out = tmp_path / "mp"
    cmd = [sys.executable, "-m", "vdlib.experiments", "trajectory", "--profile", "ci", "--epochs", "200000",
           "--burn-in", "1", "--controls", "sgd,nobn", "--processes", "2", "--checkpoint-every", "1",
           "--out", str(out)]
    parent = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not all((out / g / "record.json").is_file() for g in ("sgd", "nobn")):  # both recording
            assert parent.poll() is None and time.monotonic() < deadline, "the run did not start recording"
            time.sleep(0.2)
        workers = _descendants(parent.pid)
        assert len(workers) >= 2
        parent.send_signal(sig)
        parent.wait(30)
        deadline = time.monotonic() + 15
        while _alive(workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(workers), f"orphaned workers still running after {sig.name} of their parent"
    finally:
        for p in _alive(_descendants(parent.pid)) | ({parent.pid} if parent.poll() is None else set()):
            os.kill(p, signal.SIGKILL)
    # and the folder is free for a resume at once
    with RunLock(out):
        pass


# ---------------------------------------------------------------- the steady-state experiment
def test_steady_state_resume_with_nothing_to_resume_says_so(tmp_path, capsys):
    code = cli.main(["steady-state", "--profile", "ci", "--out", str(tmp_path / "none"), "--resume", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "nothing to resume" in err and "without --resume" in err


def test_steady_state_a_damaged_unit_or_manifest_is_named(tmp_path):
    from vdlib.experiments import steady_state as S
    from vdlib.experiments.steady_state import runner

    p = S.protocol("ci")
    s, g = next(iter(p.units()))
    path = runner.unit_path(tmp_path, s, g)
    path.parent.mkdir(parents=True)
    path.write_bytes(os.urandom(400))
    manifest = tmp_path / runner.UNITS / runner.MANIFEST
    files.write_json(manifest, {f"{s.name}/{g}": files.sha256(path)})  # the manifest agrees: the file itself is bad
    with pytest.raises(files.DamagedFile, match=r"is not an \.npz archive.*the unit is run again") as info:
        runner.unit_is_complete(p, tmp_path, s, g)
    assert info.value.path == path
    files.write_json(manifest, {f"{s.name}/{g}": "0" * 64})
    with pytest.raises(files.DamagedFile, match="does not match its SHA-256"):
        runner.unit_is_complete(p, tmp_path, s, g)
    manifest.write_text("{not json")
    with pytest.raises(files.DamagedFile, match="manifest of finished units"):
        runner.unit_is_complete(p, tmp_path, s, g)


@pytest.mark.parametrize("opt", ["--workers", "--reps", "--chains", "--window"])
def test_steady_state_counts_must_be_positive(tmp_path, capsys, opt):
    code = cli.main(["steady-state", "--profile", "ci", "--out", str(tmp_path / "x"), opt, "-1", "--quiet"])
    assert code == 2 and f"{opt} must be at least 1" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_loading_a_run_with_a_damaged_record_names_it(run_copy):
    from vdlib.experiments import trajectory as T

    path = run_copy / "sgd" / "grad_norm.npy"
    with open(path, "r+b") as fh:
        fh.truncate(path.stat().st_size - 8)
    with pytest.raises(files.DamagedFile, match="truncated or padded") as info:
        T.load(run_copy)
    assert info.value.path == path


def test_a_damaged_summary_is_named(finished, tmp_path, capsys):
    from vdlib.experiments import trajectory as T

    out = tmp_path / "summary"
    assert cli.main(["trajectory", "--summarize", str(finished), "--summary-out", str(out)]) == 0
    T.load_summary(out)
    (out / "summary.npz").write_bytes(b"PK\x03\x04 but nothing more")
    with pytest.raises(files.DamagedFile, match="truncated or not an .npz archive.*--summarize"):
        T.load_summary(out)
