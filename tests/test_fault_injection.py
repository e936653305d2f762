"""Fault injection: a trajectory run SIGKILLed at 20 random moments (fixed seed), resumed after each kill,
loses nothing and ends bitwise equal to an uninterrupted run.

The kill moments are drawn at random (fixed seed) in two kinds: a quarter anywhere in a process's start
(import, data loading, pre-training, the first metadata), the rest while it records, a random time after
it wrote its first checkpoint (checkpoints are written every 0.05 s, so kills also land inside
checkpoint writes). After every kill the rows its checkpoint says are complete are compared bitwise with the
uninterrupted run's, and at the end every record array and the summary archive are.
"""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from vdlib import files

ROOT = Path(__file__).resolve().parents[1]
KILLS = 20
SEED = 20261204
ARGS = ["trajectory", "--profile", "ci", "--epochs", "1500", "--burn-in", "1", "--controls", "sgd,langevin",
        "--threads", "1", "--checkpoint-every", "0.05"]
GROUPS = ("sgd", "langevin")
ARRAYS = ("weights", "loss", "error", "grad_norm", "theta_dot_grad", "step_sq", "theta_dot_step_grad", "grad",
          "dtheta")


def _command(out: Path, resume: bool) -> list[str]:
    return [sys.executable, "-m", "vdlib.experiments", *ARGS, "--out", str(out), *(["--resume"] if resume else [])]


def _checkpoint_epoch(out: Path) -> int:
    path = out / "checkpoint.pt"
    if not path.is_file():
        return 0
    return int(files.load_torch(path, what="checkpoint", fix="-")["epoch"])


def _rows(name: str, epoch: int) -> int:
    return epoch if name in ("step_sq", "theta_dot_step_grad", "dtheta") else epoch + 1


def _start(out: Path, resume: bool) -> subprocess.Popen:
    return subprocess.Popen(_command(out, resume), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait_for_new_checkpoint(proc: subprocess.Popen, out: Path, since: float) -> bool:
    """Wait until ``proc`` has written a checkpoint after ``since`` (True) or has ended (False)."""
    path = out / "checkpoint.pt"
    while proc.poll() is None:
        if path.is_file() and path.stat().st_mtime > since:
            return True
        time.sleep(0.01)
    return False


def test_twenty_sigkills_at_random_moments_lose_nothing_and_resume_bitwise(tmp_path):
    ref = tmp_path / "uninterrupted"
    t0 = time.time()
    proc = _start(ref, False)
    assert _wait_for_new_checkpoint(proc, ref, 0.0)
    startup = time.time() - t0
    assert proc.wait() == 0, proc.stderr.read().decode()[-2000:]

    out = tmp_path / "killed"
    rng = np.random.default_rng(SEED)
    landed_in_recording = 0
    progress = []
    for _ in range(KILLS):
        before = _checkpoint_epoch(out)
        t0 = time.time()
        proc = _start(out, (out / "meta.json").is_file())
        if rng.random() < 0.25:  # somewhere in the start
            delay = rng.uniform(0.05, startup)
        else:  # while recording
            _wait_for_new_checkpoint(proc, out, t0)
            delay = rng.uniform(0.0, 0.3)
        try:
            proc.wait(delay)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate()
        assert proc.returncode in (0, -signal.SIGKILL), err.decode()[-2000:]
        after = _checkpoint_epoch(out)
        landed_in_recording += after > before
        progress.append(after)
        for g in GROUPS:  # every row the checkpoint calls complete is the uninterrupted run's, bit for bit
            for k in ARRAYS:
                if after and (out / g / f"{k}.npy").is_file():
                    n = _rows(k, after)
                    a = np.load(out / g / f"{k}.npy", mmap_mode="r")[:, :n]
                    b = np.load(ref / g / f"{k}.npy", mmap_mode="r")[:, :n]
                    assert np.array_equal(a, b, equal_nan=True), (g, k, after)
    assert progress == sorted(progress), "a resume went back behind its checkpoint"
    assert landed_in_recording >= KILLS // 2, f"only {landed_in_recording} kills landed while recording"
    assert progress[-1] < 1500, "the run finished before the last kill: raise --epochs"

    done = subprocess.run(_command(out, True), cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    for g in GROUPS:
        for k in ARRAYS:
            assert np.array_equal(np.load(out / g / f"{k}.npy"), np.load(ref / g / f"{k}.npy"), equal_nan=True), (g, k)
    with np.load(out / "trajectory.npz") as za, np.load(ref / "trajectory.npz") as zb:
        assert sorted(za.files) == sorted(zb.files)
        for k in za.files:
            assert np.array_equal(za[k], zb[k], equal_nan=True), k
    meta, meta_ref = (json.loads((d / "meta.json").read_text()) for d in (out, ref))
    assert meta["status"] == "complete" and meta["epochs_done"] == meta_ref["epochs_done"] == 1500
    assert meta["protocol"] == meta_ref["protocol"]
    assert not list(out.rglob(".*.tmp"))
    print(f"{KILLS} kills ({landed_in_recording} while recording), {KILLS} resumes, checkpointed epochs "
          f"{progress}; records bitwise equal to the uninterrupted run")
