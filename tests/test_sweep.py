"""``python -m vdlib.experiments sweep``: grids of an experiment's parameters as Dask tasks on a local cluster.

Bitwise: 1 worker against 2 workers, and a worker killed in the middle of a task (Dask runs it again,
it resumes from its checkpoint) against an uninterrupted run. Fault tolerance: a killed client loses
no finished task and leaves no process behind; a failed task is reported while the others go on. Bad
input is refused before any task starts. Tiny grids of the ci profile (each local cluster costs a few
seconds to start)."""
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT
from vdlib.deep import data as D

pytest.importorskip("distributed", reason="the sweep needs dask and distributed (pip install 'vdlib[sweep]')")
psutil = pytest.importorskip("psutil")

from vdlib.experiments import __main__ as cli  # noqa: E402
from vdlib.experiments import cluster, sweep  # noqa: E402

pytestmark = pytest.mark.skipif(not D.available("fashion-mnist"),
                                reason="needs Fashion-MNIST (apt-get install dataset-fashion-mnist)")

TINY = dict(epochs=10, burn_in=2, chains=2, control_chains=1, noise_batches=4)


def _spec(out, grid, experiment="trajectory", **parameters):
    return sweep.make_spec({"experiment": experiment, "out": str(out), "profile": "ci",
                            "parameters": {**(TINY if experiment == "trajectory" else {}), **parameters},
                            "grid": grid})


def _toml(path, out, grid, **parameters):
    lines = ['experiment = "trajectory"', f'out = "{out}"', 'profile = "ci"', "[parameters]"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in {**TINY, **parameters}.items()]
    lines += ["[grid]"] + [f"{k} = {json.dumps(v)}" for k, v in grid.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def _record_hashes(folder: Path) -> dict[str, str]:
    """SHA-256 of every array file of every task (the records; not meta.json/task.json, which hold timings)."""
    return {str(f.relative_to(folder)): hashlib.sha256(f.read_bytes()).hexdigest()
            for f in sorted(folder.rglob("*")) if f.suffix in (".npy", ".npz")}


GRID = {"lr": [0.05, 0.1], "group": ["sgd", "langevin"]}


@pytest.fixture(scope="module")
def one_worker(tmp_path_factory):
    """The uninterrupted sweep on a local cluster of one worker."""
    out = tmp_path_factory.mktemp("one") / "sweep"
    outcome = sweep.run_sweep(_spec(out, GRID), workers=1)
    assert outcome.ok and len(outcome.finished) == 4
    return out


def test_two_workers_record_bitwise_what_one_worker_records(one_worker, tmp_path, capsys):
    two = tmp_path / "two"
    outcome = sweep.run_sweep(_spec(two, GRID), workers=2)
    assert outcome.ok and sorted(outcome.finished) == sorted(t.name for t in _spec(two, GRID).tasks())
    hashes = _record_hashes(two)
    assert any("sgd/weights.npy" in k for k in hashes) and any("trajectory.npz" in k for k in hashes)
    assert hashes == _record_hashes(one_worker)
    # every task's folder holds the run's metadata and the task's record, named from its parameters
    meta = json.loads((two / "lr=0.1,group=sgd" / "meta.json").read_text())
    assert meta["protocol"]["lr"] == 0.1 and meta["protocol"]["controls"] == ["sgd"] and "versions" in meta
    task = sweep.read_task(two / "lr=0.1,group=sgd")
    assert task["parameters"] == {**TINY, "lr": 0.1, "group": "sgd"} and task["threads"] == 1
    rows = sweep.load_summary(two)
    assert [r["task"] for r in rows] == [t.name for t in _spec(two, GRID).tasks()]
    assert all(r["status"] == "complete" for r in rows)
    sgd = next(r for r in rows if r["task"] == "lr=0.1,group=sgd")
    assert sgd["sgd/grad_norm"] == task["headline"]["sgd/grad_norm"] > 0
    # a re-run finds every task finished and runs none
    capsys.readouterr()
    again = sweep.run_sweep(_spec(two, GRID), workers=2)
    assert again.ok and again.finished == [] and len(again.skipped) == 4
    assert "4 finished before, 0 to run" in capsys.readouterr().out


def test_a_worker_killed_mid_task_is_rerun_and_ends_with_the_uninterrupted_records(one_worker, tmp_path,
                                                                                   monkeypatch, capsys):
    grid = {"lr": [0.1], "group": ["sgd", "langevin"]}
    markers = tmp_path / "markers"
    monkeypatch.setenv(cluster.TEST_KILL_ENV, str(markers))  # the workers inherit it
    outcome = sweep.run_sweep(_spec(tmp_path / "killed", grid), workers=1)
    monkeypatch.delenv(cluster.TEST_KILL_ENV)
    # each task's first attempt recorded half its epochs and died; Dask ran it again on a new worker
    killed = sorted(p.name for p in markers.iterdir())
    assert killed == ["killed-lr=0.1,group=langevin", "killed-lr=0.1,group=sgd"]
    assert outcome.ok and len(outcome.finished) == 2
    pids = {json.loads((tmp_path / "killed" / t.name / "task.json").read_text())["pid"]
            for t in _spec(tmp_path, grid).tasks()}
    assert not pids & {int((markers / k).read_text()) for k in killed}  # finished by other processes
    want = {k: v for k, v in _record_hashes(one_worker).items() if k.startswith("lr=0.1,")}
    assert len(want) > 2 and _record_hashes(tmp_path / "killed") == want


def test_trajectory_groups_as_dask_tasks_survive_a_killed_worker(tmp_path, monkeypatch):
    """``trajectory --processes 2``: each group is a Dask task; a worker killed mid-task is rerun and resumes."""
    from vdlib.experiments import trajectory as T
    from test_experiments_trajectory import _assert_same_records

    p = T.protocol("ci", **{**TINY, "controls": ("sgd", "nobn")})
    one = T.run(p, out=tmp_path / "one")
    monkeypatch.setenv(cluster.TEST_KILL_ENV, str(tmp_path / "markers"))
    two = T.run(p, out=tmp_path / "two", processes=2, checkpoint_every=0)
    assert sorted(f.name for f in (tmp_path / "markers").iterdir()) == ["killed-nobn", "killed-sgd"]
    assert two.meta["status"] == "complete"
    _assert_same_records(one, two)


def test_steady_state_units_run_as_a_sweep(tmp_path):
    """Part IV: the steady-state protocol's units (setting × group) as tasks of a ci-sized sweep."""
    from vdlib.experiments import steady_state as S

    spec = tmp_path / "ss.yaml"
    spec.write_text(f"experiment: steady-state\nout: {tmp_path / 'ss'}\nprofile: ci\n"
                    "parameters: {chains: 2, control_b_chains: 2, burn_in: 10, burn_in_max: 10, held_out: 3, "
                    "window: 10}\ngrid:\n  group: [sgd, langevin]\n")
    assert cli.main(["sweep", str(spec), "--workers", "2"]) == 0
    for group in ("sgd", "langevin"):
        unit = S.load_unit(tmp_path / "ss" / f"group={group}", "lr0.1_wd0.0005", group)
        assert unit["meta"]["group"] == group and unit["loss"].shape == (2, unit["meta"]["window"] + 1)
        task = sweep.read_task(tmp_path / "ss" / f"group={group}")
        assert task["headline"]["loss"] == pytest.approx(float(unit["loss"].mean()))
    assert len(unit["matched_temperature"]) > 0  # control (b) matched to its own SGD chains


def test_a_failing_task_is_reported_with_its_parameters_and_traceback_while_the_others_finish(tmp_path, capsys):
    """Weight decay 30 at lr 0.1 makes momentum-free SGD diverge, not heavy-ball SGD (see the trajectory tests)."""
    spec = _toml(tmp_path / "s.toml", tmp_path / "out", {"group": ["sgd", "momentum0"]}, epochs=40, burn_in=1,
                 chains=1, pretrain_max_epochs=0, weight_decay=30.0)
    assert cli.main(["sweep", str(spec), "--workers", "2"]) == 1
    out, err = capsys.readouterr()
    assert "group=momentum0: FAILED with parameters {" in out and "'weight_decay': 30.0" in out
    assert "TrajectoryDiverged" in out and "Traceback (most recent call last)" in out
    assert "1 task(s) failed: group=momentum0" in err
    assert sweep.read_task(tmp_path / "out" / "group=sgd")["status"] == "complete"
    assert sweep.read_task(tmp_path / "out" / "group=momentum0") is None
    rows = {r["task"]: r["status"] for r in sweep.load_summary(tmp_path / "out")}
    assert rows == {"group=sgd": "complete", "group=momentum0": "unfinished"}


# ------------------------------------------------------------------------------------------------
# bad input: refused before any task starts, exit status 2
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("change,message", [
    (dict(experiment="nope"), "unknown experiment 'nope': choose one of trajectory, spectrum, steady-state"),
    (dict(grid={"learning_rate": [0.1]}), r"unknown parameter\(s\) \['learning_rate'\] in grid for trajectory"),
    (dict(grid={}), "the grid is empty"),
    (dict(grid={"seed": []}), "grid.seed must be a non-empty list"),
    (dict(grid={"lr": [0.0]}), "task lr=0: .*learning rate"),
    (dict(parameters={"epochs": 5, "burn_in": 9}), "burn_in=9 must be smaller than epochs=5"),
    (dict(threads=0), "threads must be a whole number"),
    (dict(grid={"threads": [1, 2]}), "threads is set at the top of the spec"),
])
def test_a_bad_spec_says_what_to_change(tmp_path, change, message):
    raw = {"experiment": "trajectory", "out": str(tmp_path / "o"), "profile": "ci", "grid": {"seed": [0, 1]}, **change}
    with pytest.raises(sweep.SpecError, match=message):
        sweep.make_spec(raw)


def test_bad_input_on_the_command_line_exits_2_before_any_task(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    cases = [
        (_toml(tmp_path / "bad.toml", tmp_path / "o1", {"momentum": [0.9]}, nonsense=1), "unknown parameter"),
        (_toml(tmp_path / "ro.toml", blocker / "sub", {"seed": [0]}), "cannot write to the output folder"),
        (tmp_path / "missing.toml", "no spec file at"),
    ]
    for spec, message in cases:
        assert cli.main(["sweep", str(spec)]) == 2
        assert message in capsys.readouterr().err
    # nothing listens on a port that was just free: the scheduler is unreachable
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    spec = _toml(tmp_path / "ok.toml", tmp_path / "o2", {"seed": [0]})
    t0 = time.monotonic()
    assert cli.main(["sweep", str(spec), "--scheduler", f"tcp://127.0.0.1:{port}", "--connect-timeout", "1"]) == 2
    assert "no Dask scheduler answered at tcp://127.0.0.1:" in capsys.readouterr().err
    assert time.monotonic() - t0 < 30
    assert cli.main(["sweep", str(spec), "--scheduler-file", str(tmp_path / "none.json")]) == 2
    assert "scheduler file" in capsys.readouterr().err
    assert not (tmp_path / "o2" / "seed=0").exists() and not (tmp_path / "o1").exists()


def test_yaml_and_toml_specs_describe_the_same_tasks(tmp_path):
    toml = _toml(tmp_path / "s.toml", tmp_path / "o", {"lr": [0.05, 0.1], "seed": [0, 1]})
    yaml_spec = tmp_path / "s.yaml"
    yaml_spec.write_text(f"experiment: trajectory\nout: {tmp_path / 'o'}\nprofile: ci\n"
                         f"parameters: {json.dumps(TINY)}\ngrid:\n  lr: [0.05, 0.1]\n  seed: [0, 1]\n")
    a, b = sweep.load_spec(toml), sweep.load_spec(yaml_spec)
    assert [t.name for t in a.tasks()] == ["lr=0.05,seed=0", "lr=0.05,seed=1", "lr=0.1,seed=0", "lr=0.1,seed=1"]
    assert a.tasks() == b.tasks()


# ------------------------------------------------------------------------------------------------
# a killed client: no process left behind, no finished task lost
# ------------------------------------------------------------------------------------------------
def _descendants(pid: int) -> list:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _alive(procs) -> list:
    out = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.NoSuchProcess:
            pass
    return out


def _start_and_kill(cmd, sig, ready, tmp_path):
    """Run ``cmd``, wait until ``ready()`` and its worker processes exist, send ``sig``; return its descendants."""
    log = open(tmp_path / f"log-{sig.name}.txt", "w")
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        kids = _descendants(proc.pid)
        if ready() and len(kids) >= 2:
            break
        time.sleep(0.2)
    assert proc.poll() is None, f"the run ended before it could be killed:\n{(tmp_path / log.name).read_text()}"
    kids = _descendants(proc.pid)
    os.kill(proc.pid, sig)
    proc.wait(timeout=60)
    log.close()
    return kids


def _assert_all_gone(kids, within=15.0):
    deadline = time.monotonic() + within
    while _alive(kids) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = _alive(kids)
    assert not left, f"processes left behind: {[(p.pid, p.cmdline()[:3]) for p in left]}"


SLOW = {"epochs": 100, "checkpoint_every": 0.5, "controls": "sgd"}


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
def test_a_killed_sweep_leaves_no_process_and_a_rerun_keeps_its_finished_tasks(tmp_path, sig):
    out = tmp_path / "out"
    spec = _toml(tmp_path / "s.toml", out, {"lr": [0.1], "seed": [0, 1, 2]}, **SLOW)
    cmd = [sys.executable, "-m", "vdlib.experiments", "sweep", str(spec), "--workers", "2"]
    kids = _start_and_kill(cmd, sig, lambda: any(out.glob("*/task.json")), tmp_path)
    assert len(kids) >= 2
    _assert_all_gone(kids)
    if sig != signal.SIGKILL:
        return
    finished = {f.parent.name: f.read_bytes() for f in out.glob("*/task.json")}
    assert 1 <= len(finished) < 3
    outcome = sweep.run_sweep(sweep.load_spec(spec), workers=2)
    assert outcome.ok and sorted(outcome.skipped) == sorted(finished)
    assert {f.parent.name: f.read_bytes() for f in out.glob("*/task.json") if f.parent.name in finished} == finished
    assert len(list(out.glob("*/task.json"))) == 3


def test_a_killed_trajectory_run_of_two_processes_leaves_no_process(tmp_path):
    out = tmp_path / "traj"
    cmd = [sys.executable, "-m", "vdlib.experiments", "trajectory", "--profile", "ci", "--epochs", "2000",
           "--burn-in", "2", "--chains", "1", "--control-chains", "1", "--controls", "sgd,nobn", "--processes", "2",
           "--out", str(out), "--checkpoint-every", "0.5", "--no-progress"]
    kids = _start_and_kill(cmd, signal.SIGKILL, lambda: any(out.glob("checkpoint-*.pt")), tmp_path)
    _assert_all_gone(kids)


def test_the_book_and_the_experiments_import_dask_only_when_they_run_tasks():
    code = ("import sys, vdlib.book, vdlib.experiments.trajectory, vdlib.experiments.steady_state, "
            "vdlib.experiments.sweep; print(sorted(m for m in ('dask', 'distributed') if m in sys.modules))")
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"
