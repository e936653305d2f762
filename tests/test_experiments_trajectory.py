"""vdlib.experiments.trajectory and ``python -m vdlib.experiments``: the Fig. 3 protocol, its controls,
the artifact the chapters load, resume, and the command line's errors."""
import json
import os
import re
import runpy
import sys

import numpy as np
import pytest
import torch

from vdlib.deep import chains as ch
from vdlib import config
from vdlib.deep import data as D
from vdlib.analysis import trajectory as tj
from vdlib.experiments import COMMANDS, command_module
from vdlib.experiments import __main__ as cli
from vdlib.experiments import trajectory as T

pytestmark = [
    pytest.mark.usefixtures("one_torch_thread"),
    pytest.mark.skipif(not D.available("fashion-mnist"),
                       reason="needs Fashion-MNIST (apt-get install dataset-fashion-mnist)"),
]

SMALL = dict(epochs=10, burn_in=2, chains=2, control_chains=2, pretrain_max_epochs=8, noise_batches=8)
ARGS = ["--epochs", "10", "--burn-in", "2", "--chains", "2", "--control-chains", "2"]




@pytest.fixture(scope="module")
def small():
    p = T.protocol("ci", **SMALL)
    return p, T.run(p)


def test_protocol_sizes_come_from_the_profile_table():
    for prof in config.PROFILES:
        p = T.protocol(prof)
        cfg = config.current(prof)
        assert p.epochs == cfg.size("trajectory_epochs") and p.chains == cfg.size("trajectory_chains")
        assert p.n_chains("langevin") == cfg.size("trajectory_control_chains") and p.n_chains("sgd") == p.chains
        assert p.burn_in == cfg.size("trajectory_burn_in") and p.per_class == cfg.size("trajectory_per_class")
        assert p.profile == prof
    full = T.protocol("full")
    assert full.epochs == 100_000 and full.burn_in == 1_000 and full.per_class * len(full.classes) == 2048
    assert (full.lr, full.momentum, full.batch_size, full.weight_decay) == (0.1, 0.9, 128, 0.0)
    assert T.Protocol.from_dict(json.loads(json.dumps(full.as_dict()))) == full


@pytest.mark.parametrize("kw,match", [
    (dict(lr=0.0), "learning rate"),
    (dict(burn_in=50, epochs=40), "burn_in=50 must be smaller"),
    (dict(controls=("sgd", "adam")), "controls must be distinct names"),
    (dict(chains=0), "chains must be at least 1"),
    (dict(momentum=1.5), "momentum must be in"),
])
def test_bad_protocols_say_what_to_change(kw, match):
    with pytest.raises(ValueError, match=match):
        T.protocol("ci", **kw)
    with pytest.raises(TypeError, match="unknown protocol settings"):
        T.protocol("ci", learning_rate=0.1)


def test_data_are_the_paper_sized_7x7_class_subset_and_say_where_they_came_from():
    p = T.protocol("ci", per_class=32)
    X, y, info = T.load_data(p)
    assert X.shape == (128, 49) and X.dtype == torch.float32 and 0 <= float(X.min()) and float(X.max()) <= 1
    assert torch.equal(torch.bincount(y), torch.full((4,), 32))
    assert info["N"] == 128 and info["source"]
    if not D.available("mnist"):
        assert info["dataset"] == "fashion-mnist" and "MNIST was not found" in info["note"]


def test_run_has_every_control_paired_starts_and_the_matched_noise(small):
    p, res = small
    assert set(res.records) == {"sgd", "momentum0", "langevin", "nobn"}
    assert res.record("sgd").d == 900 and res.record("nobn").d == 868
    for g, rec in res.records.items():
        assert rec.weights.shape == (2, p.epochs + 1, rec.d) and rec.epochs_done == p.epochs
        assert np.all(np.isfinite(rec.weights)) and np.all(np.isfinite(rec.grad_norm))
        assert rec.grad is not None  # record_fdr outside the full profile
    # chain i of every BN control starts from the same pre-trained weights
    start = res.record("sgd").weights[:, 0]
    for g in ("momentum0", "langevin"):
        assert np.array_equal(res.record(g).weights[:, 0], start)
    assert not np.array_equal(start[0], start[1])
    # the dynamics differ: momentum, full batch + noise
    m = res.meta["controls"]
    assert m["sgd"]["momentum"] == 0.9 and m["momentum0"]["momentum"] == 0.0 and m["langevin"]["full_batch"]
    assert res.record("momentum0").settings["momentum"] == [0.0, 0.0]
    sigma = np.array(m["langevin"]["noise_std"])
    assert np.allclose(sigma**2 * 900, m["langevin"]["noise_trace_start"])  # E‖σζ‖² = tr Σ_B
    assert np.all(sigma > 0) and m["sgd"]["noise_std"] == [0.0, 0.0]
    assert res.record("langevin").settings["noise_std"] == pytest.approx(sigma.tolist())
    # the sampling streams of different groups differ
    assert len({tuple(m[g]["seeds"]) for g in m}) == 4


def test_groups_may_have_fewer_chains_than_the_paper_group_and_stay_paired():
    p = T.protocol("ci", epochs=3, burn_in=1, chains=3, control_chains=1, controls=("sgd", "langevin"),
                   pretrain_max_epochs=2, noise_batches=4)
    res = T.run(p)
    assert res.record("sgd").n_chains == 3 and res.record("langevin").n_chains == 1
    assert np.array_equal(res.record("langevin").weights[0, 0], res.record("sgd").weights[0, 0])
    assert len(res.meta["pretrain"]["bn"]["error"]) == 3 and res.meta["pretrain"]["nobn"] is None


def test_pretraining_reports_the_error_it_reached(small):
    p, res = small
    X, y, _ = T.load_data(p)
    pre = T.pretrain(X, y, p, batchnorm=True)
    lay = ch.layout("tiny-fc", 4)
    ev = ch.ChainEngine(X, y, pre["theta"], lay, seeds=[0, 1], lr=0.1, batch_size=p.batch_size).evaluate()
    assert np.allclose(ev["error"].numpy(), pre["error"])
    assert pre["reached_zero"] == [e == 0 for e in pre["error"]]
    assert all(0 <= e <= p.pretrain_max_epochs for e in pre["epochs"])
    assert res.meta["pretrain"]["bn"]["error"] == pre["error"]  # deterministic given the seed


def test_outputs_feed_the_trajectory_statistics(small):
    p, res = small
    X = res.trajectory("sgd", 0)
    assert X.shape == (p.epochs - p.burn_in + 1, 900)
    spec = tj.increment_spectrum(X)
    assert spec.mean.shape == spec.freq.shape and np.all(spec.mean > 0)
    ac = tj.autocorrelation(X[:, :50])
    assert ac.mean[0] == pytest.approx(1.0)
    assert tj.ewma(res.record("sgd").grad_norm[0], com=100).shape == (p.epochs + 1,)
    f = res.record("sgd").fdr1(start=p.burn_in)
    assert np.isfinite(f.lhs) and np.isfinite(f.rhs) and f.rhs > 0


def test_cli_writes_a_loadable_artifact_and_resumes_a_killed_run(tmp_path):
    out, killed = tmp_path / "whole", tmp_path / "killed"
    assert cli.main(["trajectory", "--profile", "ci", *ARGS, "--out", str(out)]) == 0
    res = T.load(out)
    meta = json.loads((out / "meta.json").read_text())
    assert meta["status"] == "complete" and meta["epochs_done"] == 10 and meta["format"] == T.ARTIFACT_FORMAT
    assert meta["versions"]["torch"] == torch.__version__ and meta["device"].startswith("cpu")
    assert meta["data"]["source"] and meta["protocol"]["seed"] == 0 and meta["protocol"]["epochs"] == 10
    assert meta["command"].startswith("python -m vdlib.experiments trajectory")
    npz = np.load(out / "trajectory.npz")
    for g in ("sgd", "momentum0", "langevin", "nobn"):
        assert np.array_equal(npz[f"{g}/grad_norm"], res.record(g).grad_norm)
        assert isinstance(res.record(g).weights, np.memmap)
    # a run killed after 4 epochs, then resumed from the command line, equals the uninterrupted one
    p = T.protocol("ci", epochs=10, burn_in=2, chains=2, control_chains=2)
    stopped = T.run(p, out=killed, stop_after=4, checkpoint_every=1e9)
    assert stopped.meta["status"] == "stopped" and stopped.meta["epochs_done"] == 4
    assert cli.main(["trajectory", "--profile", "ci", *ARGS, "--out", str(killed), "--resume"]) == 0
    again = T.load(killed)
    assert again.meta["status"] == "complete"
    for g in res.records:
        a, b = res.record(g), again.record(g)
        for k in ("weights", "loss", "grad_norm", "error", "step_sq"):
            assert np.array_equal(np.asarray(getattr(a, k)), np.asarray(getattr(b, k))), (g, k)


def test_a_diverging_run_stops_with_a_clear_message_and_says_so_in_the_metadata(tmp_path, capsys, monkeypatch):
    """Chain 1 of the group blows up to NaN in epoch 7 (tiny-fc on these data stays finite even at absurd
    learning rates: dead ReLUs and BN keep it bounded, so the blow-up is injected)."""
    run_epoch = ch.ChainEngine.run_epoch

    def blow_up(self, first_step=False):
        out = run_epoch(self, first_step)
        if first_step and self.epoch == 7:  # the recorded phase (run_network_chains asks for the first step)
            self.theta[1, 0] = float("inf")
        return out

    monkeypatch.setattr(ch.ChainEngine, "run_epoch", blow_up)
    args = ["trajectory", "--profile", "ci", "--epochs", "20", "--burn-in", "1", "--controls", "nobn",
            "--control-chains", "2", "--checkpoint-every", "0", "--out", str(tmp_path)]
    assert cli.main(args) == 1
    err = capsys.readouterr().err
    assert "'nobn' diverged at epoch 7: chains [1]" in err and "Lower the learning rate" in err
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert meta["status"] == "diverged" and meta["epochs_done"] == 6
    ck = torch.load(tmp_path / ch.CHECKPOINT_FILE, weights_only=True)
    assert ck["epoch"] == 6 and torch.isfinite(ck["engines"]["nobn"]["theta"]).all()


def test_cli_errors_name_the_fix(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(["trajectory", "--profile", "ci", *ARGS, "--controls", "sgd", "--out", str(out)]) == 0
    capsys.readouterr()
    assert cli.main(["trajectory", "--profile", "ci", *ARGS, "--controls", "sgd", "--out", str(out)]) == 2
    assert "--resume" in capsys.readouterr().err
    assert cli.main(["trajectory", "--profile", "ci", *ARGS, "--controls", "sgd", "--out", str(out), "--resume",
                     "--lr", "0.05"]) == 2
    assert "protocol differs in lr" in capsys.readouterr().err
    assert cli.main(["trajectory", "--profile", "ci", "--lr", "-1", "--out", str(tmp_path / "x")]) == 2
    assert "learning rate" in capsys.readouterr().err
    with pytest.raises(FileNotFoundError, match="python -m vdlib.experiments trajectory"):
        T.load(tmp_path / "nothing")


def test_the_module_entry_point_lists_the_subcommands(monkeypatch, capsys):
    """``python -m vdlib.experiments --help`` (run in-process through runpy, as -m does)."""
    assert "trajectory" in COMMANDS and command_module("trajectory") is T
    monkeypatch.delitem(sys.modules, "vdlib.experiments.__main__", raising=False)  # as in a fresh `python -m`
    monkeypatch.setattr(sys, "argv", ["python -m vdlib.experiments", "--help"])
    with pytest.raises(SystemExit) as stop:
        runpy.run_module("vdlib.experiments", run_name="__main__", alter_sys=False)
    assert stop.value.code == 0 and "trajectory" in capsys.readouterr().out
    monkeypatch.setattr(sys, "argv", ["python -m vdlib.experiments", "trajectory", "--help"])
    with pytest.raises(SystemExit):
        runpy.run_module("vdlib.experiments", run_name="__main__", alter_sys=False)
    assert "--resume" in capsys.readouterr().out
    with pytest.raises(ValueError, match="unknown experiment"):
        command_module("nope")


# ------------------------------------------------------------------------------------------------
# several recording processes (processes=): the same records, resume, errors
# ------------------------------------------------------------------------------------------------
MP = dict(epochs=10, burn_in=2, chains=2, control_chains=1)
MP_ARGS = ["--epochs", "10", "--burn-in", "2", "--chains", "2", "--control-chains", "1"]
KEYS = ("weights", "loss", "error", "grad_norm", "theta_dot_grad", "step_sq", "theta_dot_step_grad", "grad", "dtheta")


def _assert_same_records(a, b):
    assert list(a.records) == list(b.records)
    for g in a.records:
        ra, rb = a.record(g), b.record(g)
        assert ra.epochs_done == rb.epochs_done
        for k in KEYS:
            assert np.array_equal(np.asarray(getattr(ra, k)), np.asarray(getattr(rb, k))), (g, k)


@pytest.fixture(scope="module")
def one_process(tmp_path_factory):
    """The uninterrupted run of the MP protocol, recorded by one process into a folder."""
    p = T.protocol("ci", **MP)
    return p, T.run(p, out=tmp_path_factory.mktemp("one") / "run")


@pytest.fixture(scope="module")
def stopped_two(tmp_path_factory):
    """The MP protocol recorded by 2 processes, stopped after 4 epochs (tests copy the folder)."""
    p = T.protocol("ci", **MP)
    out = tmp_path_factory.mktemp("stopped") / "run"
    res = T.run(p, out=out, processes=2, stop_after=4, checkpoint_every=1e9)
    assert res.meta["status"] == "stopped" and res.meta["epochs_done"] == 4
    assert all(r.epochs_done == 4 for r in res.records.values())
    return out


def _copy(src, tmp_path):
    import shutil

    return shutil.copytree(src, tmp_path / "run")


def test_two_processes_record_bitwise_what_one_process_records(one_process, tmp_path, capsys):
    p, one = one_process
    two = T.run(p, out=tmp_path / "two", processes=2, verbose=True)
    parts = two.meta["processes"]
    assert f"recording {len(parts)} tasks on 2 Dask workers: {' | '.join(', '.join(b) for b in parts)}" in capsys.readouterr().out
    assert parts == [[g] for g in p.controls]  # one Dask task per group
    assert two.meta["checkpoint_files"] == [f"checkpoint-{'+'.join(b)}.pt" for b in parts]
    assert sorted(f.name for f in (tmp_path / "two").glob("checkpoint*.pt")) == sorted(two.meta["checkpoint_files"])
    assert one.meta["processes"] == [list(p.controls)] and one.meta["checkpoint_files"] == [ch.CHECKPOINT_FILE]
    assert two.meta["status"] == "complete" and two.meta["epochs_done"] == p.epochs
    assert [d["groups"] for d in two.meta["seconds"]["record_phase_per_process"]] == parts
    _assert_same_records(one, two)
    _assert_same_records(one, T.load(tmp_path / "two"))
    assert two.meta["controls"] == one.meta["controls"]  # seeds, noise traces at the start and the end
    a, b = np.load(one.folder / "trajectory.npz"), np.load(tmp_path / "two" / "trajectory.npz")
    assert a.files == b.files and all(np.array_equal(a[k], b[k]) for k in a.files)


def test_a_stopped_run_of_two_processes_resumes_to_the_uninterrupted_records(one_process, stopped_two, tmp_path,
                                                                              capsys):
    p, one = one_process
    out = _copy(stopped_two, tmp_path)
    parts = json.loads((out / "meta.json").read_text())["processes"]
    # any processes > 1 reuses the stored tasks
    assert cli.main(["trajectory", "--profile", "ci", *MP_ARGS, "--out", str(out), "--resume", "--processes", "3"]) == 0
    assert f"recording {len(parts)} tasks on 3 Dask workers: {' | '.join(', '.join(b) for b in parts)} (reused " \
        "from meta.json" in capsys.readouterr().out
    again = T.load(out)
    assert again.meta["status"] == "complete" and again.meta["processes"] == parts
    _assert_same_records(one, again)


def test_resuming_with_another_split_or_number_of_processes_is_refused_and_names_the_files(stopped_two, tmp_path):
    p = T.protocol("ci", **MP)
    out = _copy(stopped_two, tmp_path)
    meta = json.loads((out / "meta.json").read_text())
    files = re.escape(", ".join(sorted(meta["checkpoint_files"])))
    with pytest.raises(ValueError, match=rf"with processes=1: it holds the checkpoint files {files}.*"
                                         r"recorded as 4 tasks of several processes .*pass processes=2 or more"):
        T.run(p, out=out, resume=True)
    other = [[g] for g in p.controls[:2]] + [list(p.controls[2:])]
    (out / "meta.json").write_text(json.dumps(dict(meta, processes=other)))
    with pytest.raises(ValueError, match=rf"it holds the checkpoint files {files}, and a run of several processes "
                                         r"uses checkpoint-sgd\.pt, checkpoint-momentum0\.pt.*partition into "
                                         r"processes in meta.json \(sgd \| momentum0 \| langevin\+nobn\) does not "
                                         r"match them"):
        T.run(p, out=out, resume=True, processes=2)
    # a folder recorded by one process resumes with one process only
    single = tmp_path / "single"
    T.run(p, out=single, stop_after=3, checkpoint_every=1e9)
    with pytest.raises(ValueError, match=r"checkpoint files checkpoint\.pt.*recorded by one process: pass processes=1"):
        T.run(p, out=single, resume=True, processes=2)
    # so the command line's --resume defaults to what the run was started with
    (out / "meta.json").write_text(json.dumps(meta))
    assert T.cli._default_processes("full", out, resume=True) > 1  # several processes, as it was started
    assert T.cli._default_processes("full", single, resume=True) == 1
    assert T.cli._default_processes("full", tmp_path / "new", resume=False) == min(2, os.cpu_count())
    assert T.cli._default_processes("ci", tmp_path / "new", resume=False) == 1


def test_an_error_in_a_recording_process_is_raised_with_its_traceback(stopped_two, tmp_path):
    p = T.protocol("ci", **MP)
    out = _copy(stopped_two, tmp_path)
    groups = next(b for b in json.loads((out / "meta.json").read_text())["processes"] if "sgd" in b)
    np.save(out / "sgd" / "weights.npy", np.zeros((1, 2, 3), np.float32))  # not this run's array
    name = re.escape("+".join(groups))
    with pytest.raises(ValueError, match=rf"(?s)the process recording {name} failed: ValueError: .*"
                                         r"belongs to another run.*its traceback.*Traceback \(most recent call"):
        T.run(p, out=out, resume=True, processes=2)


def test_processes_need_a_folder_and_a_positive_count(tmp_path, capsys):
    p = T.protocol("ci", **MP)
    with pytest.raises(ValueError, match="processes=2 needs out=<folder>.*or processes=1"):
        T.run(p, processes=2)
    with pytest.raises(ValueError, match="processes must be at least 1, got 0"):
        T.run(p, out=tmp_path / "x", processes=0)
    with pytest.raises(TypeError, match="processes must be an integer"):
        T.run(p, out=tmp_path / "x", processes=1.5)
    assert cli.main(["trajectory", "--profile", "ci", *MP_ARGS, "--processes", "0", "--out", str(tmp_path / "y")]) == 2
    assert "processes must be at least 1" in capsys.readouterr().err
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_a_group_diverging_in_a_recording_process_raises_there_as_with_one_process(tmp_path):
    """Weight decay 30 at lr 0.1 (ηλ = 3) makes momentum-free SGD unstable (ηλ > 2) but not heavy-ball
    with μ = 0.9 (ηλ < 2(1 + μ)): only the momentum0 group blows up."""
    p = T.protocol("ci", epochs=40, burn_in=1, chains=1, control_chains=1, controls=("sgd", "momentum0"),
                   pretrain_max_epochs=0, noise_batches=4, weight_decay=30.0)
    with pytest.raises(ch.TrajectoryDiverged) as one:
        T.run(p, out=tmp_path / "one", checkpoint_every=0)
    with pytest.raises(ch.TrajectoryDiverged) as two:
        T.run(p, out=tmp_path / "two", checkpoint_every=0, processes=2)
    a, b = one.value, two.value
    assert a.group == "momentum0" and a.checkpoint_epoch == a.epoch - 1
    assert (b.epoch, b.group, b.chains, b.checkpoint_epoch) == (a.epoch, a.group, a.chains, a.checkpoint_epoch)
    assert str(b) == str(a).replace(str(tmp_path / "one" / ch.CHECKPOINT_FILE),
                                    str(tmp_path / "two" / "checkpoint-momentum0.pt"))
    meta = json.loads((tmp_path / "two" / "meta.json").read_text())
    assert meta["status"] == "diverged" and meta["epochs_done"] == b.checkpoint_epoch and meta["error"] == str(b)
    assert meta["processes"] == [["sgd"], ["momentum0"]]
