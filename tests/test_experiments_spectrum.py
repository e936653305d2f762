"""vdlib.experiments.spectrum: protocol, statistics, the pipeline end to end on a tiny run, artifact and resume."""
import json

import numpy as np
import pytest
import torch

from vdlib import data as D
from vdlib import models as M
from vdlib import noise, train as T
from vdlib.experiments import spectrum as S

# a run that takes a few seconds: small-fc on 256 Fashion-MNIST images, D from 128 of them
TINY = dict(runs=("small-fc",), n_train=256, n_spectrum=128, epochs=2, rank_vs_n=(8, 32, 128))

pytestmark = pytest.mark.skipif(not D.available("fashion-mnist") and not D.available("mnist"),
                                reason="neither Fashion-MNIST (apt-get install dataset-fashion-mnist) nor MNIST found")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("spec") / "tiny"
    p = S.protocol("ci", **TINY)
    return p, out, S.run(p, out=out)


def test_snapshot_epochs_are_the_papers_20_40_100_percent():
    assert S.snapshot_epochs(20) == [4, 8, 20]
    assert S.snapshot_epochs(50) == [10, 20, 50]  # small-allcnn: epochs 10, 20, 50 as in Fig. 2
    assert S.snapshot_epochs(2) == [1, 2]         # tiny runs: distinct, at least epoch 1
    with pytest.raises(ValueError):
        S.snapshot_epochs(0)


def test_lr_schedule_is_the_recipe_at_its_epochs_and_stretches_otherwise():
    assert S.lr_schedule("small-lenet", 20) == [tuple(s) for s in T.RECIPES["small-lenet"]["lr"]]
    sched = S.lr_schedule("small-fc", 8)
    assert sched[0] == (0, 0.1) and [e for e, _ in sched] == sorted({e for e, _ in sched})
    assert [r for _, r in sched] == [0.1, 0.01, 0.001]
    T.make_schedule(sched)  # a valid schedule for vdlib.train


def test_paper_statistics_clip_at_the_threshold_and_count_the_rank():
    d = 1000
    ev = np.zeros(d)
    ev[:5] = [1.0, 0.5, 0.1, 1e-3, 1e-5]
    st = S.paper_statistics(ev)
    thr = 1.0 * d * float(np.finfo(np.float32).eps)  # lambda_max * d * eps_float32
    assert st["threshold"] == pytest.approx(thr)
    assert st["rank"] == 4 and st["rank_pct"] == pytest.approx(0.4)  # 1e-3 > 1.19e-4 > 1e-5
    clipped = np.maximum(ev, thr)
    assert st["mean"] == pytest.approx(clipped.mean()) and st["sd"] == pytest.approx(clipped.std(ddof=1))
    assert st["mean_unclipped"] == pytest.approx(ev.mean())
    assert st["mean_unclipped"] < st["mean"]
    with pytest.raises(ValueError, match="all d=2000 eigenvalues"):
        S.paper_statistics(ev, dim=2000)


def test_temperature_is_eta_over_b_times_mean_eigenvalue_and_rejects_bad_input():
    assert S.temperature(0.1, 128, 3.0, 1000) == pytest.approx(0.1 / 128 * 3.0 / 1000)
    with pytest.raises(ValueError):
        S.temperature(-0.1, 128, 3.0, 1000)
    with pytest.raises(ValueError, match="tr D"):
        S.temperature(0.1, 128, float("nan"), 1000)


def test_protocol_rejects_bad_settings_with_the_fix():
    with pytest.raises(ValueError, match="unknown runs"):
        S.protocol("ci", runs=("resnet",))
    with pytest.raises(ValueError, match="n_spectrum=600 exceeds n_train=500"):
        S.protocol("ci", n_train=500, n_spectrum=600)
    with pytest.raises(ValueError, match="all eigenvalues"):
        S.protocol("ci", route="lanczos")
    with pytest.raises(TypeError, match="unknown protocol settings"):
        S.protocol("ci", batch=3)
    p = S.protocol("ci", **TINY)
    assert S.Protocol.from_dict(json.loads(json.dumps(p.as_dict()))) == p


def test_tiny_run_spectrum_matches_a_direct_computation(tiny_run):
    p, out, res = tiny_run
    snaps = res.snapshots["small-fc"]
    assert [s.epoch for s in snaps] == [1, 2]
    X, Y, _, _, info = S.load_data("small-fc", p)
    model = M.build("small-fc", seed=p.seed)
    work = out.parent / f"{out.name}_work" / "small-fc"
    for s in snaps:
        ev = s.eigenvalues
        assert ev.shape == (M.count_parameters(model),) == (3978,)
        assert np.all(np.diff(ev) <= 1e-15) and s.n_samples == 128
        # oracle: the centred 1/N covariance of per-sample gradients of the checkpointed net, via its Gram matrix
        T.load_checkpoint(work / f"epoch_{s.epoch:04d}.pt", model)
        G = noise.per_sample_gradients(model, torch.nn.CrossEntropyLoss(reduction="none"), X[:128], Y[:128])
        Gc = G.double().numpy() - G.double().numpy().mean(0)
        ref = np.sort(np.linalg.eigvalsh(Gc @ Gc.T / 128))[::-1]
        np.testing.assert_allclose(ev[:127], ref[:127], rtol=1e-6, atol=1e-9 * ref[0])
        assert s.trace == pytest.approx((Gc ** 2).sum() / 128, rel=1e-8)
        assert s.rank() <= s.n_samples - 1  # a centred covariance of N gradients
    assert info["dataset"] in ("mnist", "fashion-mnist") and info["source"]
    assert res.meta["data"]["small-fc"]["source"] == info["source"]
    if info["dataset"] == "fashion-mnist":
        assert "Fashion-MNIST" in res.meta["data"]["small-fc"]["note"]
        assert res.dataset_label("small-fc") == "Fashion-MNIST"
        assert "[Fashion-MNIST]" in res.summary()


def test_rank_vs_n_is_bounded_by_n_minus_one(tiny_run):
    _, _, res = tiny_run
    c = res.rank_vs_n["small-fc"]
    assert list(c["n"]) == [8, 32, 128]
    assert np.all(c["rank_paper"] <= c["n"] - 1) and np.all(np.diff(c["rank_paper"]) >= 0)
    assert np.all(c["rank@0.01"] <= c["rank@0.0001"])


def test_artifact_round_trip_and_metadata(tiny_run):
    p, out, res = tiny_run
    back = S.load(out)
    assert back.protocol == p
    for a, b in zip(res.snapshots["small-fc"], back.snapshots["small-fc"]):
        np.testing.assert_array_equal(a.eigenvalues, b.eigenvalues)
        assert a.trace == b.trace and a.epoch == b.epoch
    meta = json.loads((out / "meta.json").read_text())
    for key in ("versions", "device", "machine", "data", "protocol", "started"):
        assert meta[key], key
    assert meta["protocol"]["seed"] == 42 and meta["status"] == "complete"
    assert back.summary_rows()[0]["rank"] == res.summary_rows()[0]["rank"]
    with pytest.raises(FileNotFoundError, match="python -m vdlib.experiments spectrum"):
        S.load(out.parent / "nothing-here")


def test_resume_recomputes_only_missing_pieces_and_refuses_other_settings(tiny_run):
    p, out, res = tiny_run
    with pytest.raises(FileExistsError, match="resume=True"):
        S.run(p, out=out)
    with pytest.raises(ValueError, match="n_spectrum"):
        S.run(S.protocol("ci", **{**TINY, "n_spectrum": 64}), out=out, resume=True)
    first = out / "small-fc" / "snapshot_0001.npz"
    last = out / "small-fc" / "snapshot_0002.npz"
    stamp = last.stat().st_mtime_ns
    first.unlink()  # a run killed after the first snapshot... of the other order: recompute only this one
    again = S.run(p, out=out, resume=True)
    assert first.is_file() and last.stat().st_mtime_ns == stamp
    np.testing.assert_allclose(again.snapshots["small-fc"][0].eigenvalues, res.snapshots["small-fc"][0].eigenvalues,
                               rtol=1e-10, atol=1e-14)


def test_cifar_runs_are_skipped_with_instructions_not_faked(tmp_path, monkeypatch):
    if D.available("cifar10"):
        pytest.skip("CIFAR-10 is available here; the skip path is not reachable")
    res = S.run(S.protocol("ci", runs=("small-allcnn-cifar10",)), data_root=tmp_path)
    assert res.snapshots == {}
    why = res.meta["skipped"]["small-allcnn-cifar10"]
    assert "VDLIB_DATA" in why and "--data-root" in why
    assert "skipped" in res.summary()


def test_command_line_writes_the_artifact(tmp_path):
    from vdlib.experiments.__main__ import main

    out = tmp_path / "cli"
    rc = main(["spectrum", "--profile", "ci", "--runs", "small-fc", "--n-train", "128", "--n-spectrum", "64",
               "--epochs", "1", "--out", str(out)])
    assert rc == 0 and (out / "small-fc" / "snapshot_0001.npz").is_file()
    assert main(["spectrum", "--profile", "ci", "--runs", "small-fc", "--n-train", "128", "--n-spectrum", "64",
                 "--epochs", "1", "--out", str(out)]) == 2  # exists: needs --resume
    assert main(["spectrum", "--profile", "ci", "--runs", "nope", "--out", str(out)]) == 2
