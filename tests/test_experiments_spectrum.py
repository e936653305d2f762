"""vdlib.experiments.spectrum: protocol, statistics, the pipeline end to end on a tiny run, artifact and resume;
the CIFAR runs (Figs. 2a-c) end to end on tiny CIFAR files in the real on-disk layout."""
import json
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from vdlib.deep import data as D
from vdlib.deep import models as M
from vdlib.deep import persample, train as T
from vdlib.experiments import spectrum as S
from vdlib.theory import minibatch_noise

from helpers.cifar_files import make_cifar  # shared with tests/test_data.py

# a run that takes a few seconds: small-fc on 256 Fashion-MNIST images, D from 128 of them
TINY = dict(runs=("small-fc",), n_train=256, n_spectrum=128, epochs=2, rank_vs_n=(8, 32, 128))

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# the MNIST-net tests read the real (Fashion-)MNIST; the CIFAR tests bring their own files
needs_mnist = pytest.mark.skipif(not D.available("fashion-mnist") and not D.available("mnist"),
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
    T.make_schedule(sched)  # a valid schedule for vdlib.deep.train


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


@needs_mnist
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
        G = persample.per_sample_gradients(model, torch.nn.CrossEntropyLoss(reduction="none"), X[:128], Y[:128])
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


@needs_mnist
def test_rank_vs_n_is_bounded_by_n_minus_one(tiny_run):
    _, _, res = tiny_run
    c = res.rank_vs_n["small-fc"]
    assert list(c["n"]) == [8, 32, 128]
    assert np.all(c["rank_paper"] <= c["n"] - 1) and np.all(np.diff(c["rank_paper"]) >= 0)
    assert np.all(c["rank@0.01"] <= c["rank@0.0001"])


@needs_mnist
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


@needs_mnist
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


@needs_mnist
def test_command_line_writes_the_artifact(tmp_path):
    from vdlib.experiments.__main__ import main

    out = tmp_path / "cli"
    rc = main(["spectrum", "--profile", "ci", "--runs", "small-fc", "--n-train", "128", "--n-spectrum", "64",
               "--epochs", "1", "--out", str(out)])
    assert rc == 0 and (out / "small-fc" / "snapshot_0001.npz").is_file()
    assert main(["spectrum", "--profile", "ci", "--runs", "small-fc", "--n-train", "128", "--n-spectrum", "64",
                 "--epochs", "1", "--out", str(out)]) == 2  # exists: needs --resume
    assert main(["spectrum", "--profile", "ci", "--runs", "nope", "--out", str(out)]) == 2


# --------------------------------------------------------------------------------------------------
# the CIFAR runs (Figs. 2a-c) end to end, on tiny CIFAR files in the real on-disk layout
# --------------------------------------------------------------------------------------------------
CIFAR_RUNS = ("small-allcnn-cifar10", "small-allcnn-cifar100", "small-allcnn-cifar10-augment")
AUG, C10, C100 = "small-allcnn-cifar10-augment", "small-allcnn-cifar10", "small-allcnn-cifar100"
# 128 of the fixture's 135 training images (one batch of the recipe's 128 per epoch), 5 epochs (snapshots at
# epochs 1, 2, 5: 20, 40, 100 %), D from the first 12 of them
CIFAR_TINY = dict(runs=CIFAR_RUNS, n_train=128, n_spectrum=12, epochs=5, rank_vs_n=(4, 12))
CIFAR = {  # run -> dataset, its folder in CIFAR's python layout, classes, the paper's d
    C10: ("cifar10", "cifar-10-batches-py", 10, 26_982),
    C100: ("cifar100", "cifar-100-python", 100, 29_412),
    AUG: ("cifar10", "cifar-10-batches-py", 10, 26_982),
}


@pytest.fixture(scope="module")
def cifar_run(tmp_path_factory):
    """The three CIFAR runs in one call, on 5 × 27 (CIFAR-10) and 135 (CIFAR-100) training images + 8 test ones."""
    base = tmp_path_factory.mktemp("cifar")
    root = base / "data"
    ref = {"cifar10": make_cifar(root / "cifar-10-batches-py", "cifar10", per_batch=27, n_test=8, seed=0),
           # seed 0: the 135 training labels happen to miss class 99, the 100th class must still get its output
           "cifar100": make_cifar(root / "cifar-100-python", "cifar100", per_batch=135, n_test=8, seed=0)}
    p = S.protocol("ci", **CIFAR_TINY)
    out = base / "spec"
    res = S.run(p, out=out, data_root=root, num_threads=1)
    return SimpleNamespace(p=p, root=root, ref=ref, out=out, work=base / "spec_work", res=res)


def test_cifar_runs_compute_every_snapshot_from_the_cifar_files(cifar_run):
    c = cifar_run
    res = c.res
    assert res.meta["skipped"] == {} and res.meta["status"] == "complete"
    assert set(res.snapshots) == set(CIFAR_RUNS)
    assert c.ref["cifar100"]["y_train"].max() < 99  # the fixture's labels miss the last class (see cifar_run)
    epochs = S.snapshot_epochs(5)
    assert epochs == [1, 2, 5]
    back = S.load(c.out)
    for run, (name, folder, K, d_paper) in CIFAR.items():
        d = M.count_parameters(M.build("small-allcnn", num_classes=K))
        assert d == d_paper == S.PAPER[run]["d"]
        info = res.meta["data"][run]
        assert info["dataset"] == name and info["n_classes"] == K
        assert info["N"] == 128 and info["n_test"] == 8
        assert "CIFAR python pickles" in info["source"] and str(c.root / folder) in info["source"]
        assert res.dataset_label(run) == {"cifar10": "CIFAR-10", "cifar100": "CIFAR-100"}[name]
        snaps = res.snapshots[run]
        assert [s.epoch for s in snaps] == [s.epoch for s in back.snapshots[run]] == epochs
        for s, s_disk in zip(snaps, back.snapshots[run]):
            ev = s.eigenvalues
            assert s.dim == d and ev.shape == (d,) and ev.dtype == np.float64
            assert s.fraction == s.epoch / 5 and s.n_samples == 12 and s.route == "gram"
            assert np.all(np.isfinite(ev)) and np.all(np.diff(ev) <= 0) and ev[0] > 0
            assert 1 <= s.rank() <= min(s.n_samples - 1, d)  # a centred covariance of 12 gradients
            assert s.trace == pytest.approx(ev.sum(), rel=1e-6)
            assert math.isfinite(s.train_error) and math.isfinite(s.test_error)
            np.testing.assert_array_equal(s_disk.eigenvalues, ev)  # <out>/<run>/snapshot_EEEE.npz
        curve = res.rank_vs_n[run]
        assert list(curve["n"]) == [4, 12] and int(curve["epoch"]) == 5
        assert np.all(curve["rank_paper"] <= curve["n"] - 1)
    summary = res.summary()
    assert "[CIFAR-10]" in summary and "[CIFAR-100]" in summary and "skipped" not in summary


def test_cifar_augment_run_reuses_the_cifar10_network_and_really_augments(cifar_run):
    c = cifar_run
    res = c.res
    assert S.RUNS[AUG]["trained_as"] == C10 and S.RUNS[AUG]["augment"] and not S.RUNS[C10]["augment"]
    # one network per dataset: the augment run trained nothing of its own
    assert set(res.meta["training"]) == {C10, C100}
    assert sorted(f.name for f in c.work.iterdir()) == [C10, C100]
    assert res.meta["data"][AUG] == res.meta["data"][C10]  # the same images, preprocessed the same way
    for a, b in zip(res.snapshots[AUG], res.snapshots[C10]):
        assert a.epoch == b.epoch
        assert (a.train_error, a.test_error) == (b.train_error, b.test_error)  # the same training history
        # ... but a different D: the flipped / cropped images give other gradients. On white-noise images an
        # all-conv net with global average pooling is nearly flip/shift-invariant and the gradients are driven
        # by the labels, so the change is small, yet ~10^4 times the rounding level (the independent
        # recomputation below agrees with the run to ~1e-8·λ_max)
        assert np.abs(a.eigenvalues[:12] - b.eigenvalues[:12]).max() > 1e-4 * b.eigenvalues[0]
        assert a.trace != b.trace


def test_cifar_augmented_spectrum_is_reproducible_without_training_again(cifar_run, tmp_path):
    c = cifar_run
    ckdir = c.work / C10
    stamps = {f.name: f.stat().st_mtime_ns for f in ckdir.iterdir()}
    p = S.protocol("ci", **{**CIFAR_TINY, "runs": (AUG,)})  # the same augment_seed (1)
    again = S.run(p, out=tmp_path / "again", work=c.work, data_root=c.root, num_threads=1)
    # the finished checkpoints of small-allcnn-cifar10 are reused as they are: nothing retrained or rewritten
    assert {f.name: f.stat().st_mtime_ns for f in ckdir.iterdir()} == stamps
    assert set(again.meta["training"]) == {C10}
    assert again.meta["training"][C10]["epoch_seconds"] == c.res.meta["training"][C10]["epoch_seconds"]
    assert [s.epoch for s in again.snapshots[AUG]] == [1, 2, 5]
    for a, b in zip(again.snapshots[AUG], c.res.snapshots[AUG]):
        np.testing.assert_allclose(a.eigenvalues, b.eigenvalues, rtol=1e-10, atol=1e-12 * b.eigenvalues[0])


def _per_sample_gradients(model, X, Y):
    """N×d per-sample gradients of the cross-entropy, one backward pass per example, model in eval mode
    (BN running statistics): plain autograd, independent of vdlib.deep.persample."""
    model.eval()
    params = [q for q in model.parameters() if q.requires_grad]
    rows = []
    for x, y in zip(X, Y):
        loss = torch.nn.functional.cross_entropy(model(x[None]), y[None])
        rows.append(torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, params)]))
    return torch.stack(rows).double().numpy()


def _diffusion_spectrum_via_basis(G):
    """The non-zero eigenvalues (descending) and trace of D = minibatch_noise.diffusion_matrix(G), without the d×d matrix.

    D = (1/N) G_cᵀ G_c lives in the span of the centred rows; with an orthonormal basis Q (d×N) of a space
    containing them, D = Q (Qᵀ D Q) Qᵀ and Qᵀ D Q = diffusion_matrix(G Q), an N×N matrix.
    """
    Q, _ = np.linalg.qr((G - G.mean(axis=0)).T)
    DQ = minibatch_noise.diffusion_matrix(G @ Q)
    return np.linalg.eigvalsh(DQ)[::-1], float(np.trace(DQ))


def test_cifar_spectra_equal_the_diffusion_matrix_of_independent_per_sample_gradients(cifar_run):
    """At the last snapshot of small-allcnn-cifar10 and of its augment run: D from the checkpoint, recomputed
    here from the raw fixture images (GCN + ZCA fitted on all training images, the protocol's seeded subset,
    the same augmentation seed) and per-sample gradients taken one example at a time."""
    c = cifar_run
    p = c.p
    # the basis trick is exact (checked where D itself is small enough to form)
    G_small = np.random.default_rng(0).normal(size=(6, 40))
    ev_small, tr_small = _diffusion_spectrum_via_basis(G_small)
    dense = np.linalg.eigvalsh(minibatch_noise.diffusion_matrix(G_small))[::-1]
    np.testing.assert_allclose(ev_small, dense[:6], atol=1e-12)
    assert np.allclose(dense[6:], 0, atol=1e-12)
    assert tr_small == pytest.approx(np.trace(minibatch_noise.diffusion_matrix(G_small)))

    ref = c.ref["cifar10"]
    x = D.gcn(ref["x_train"].transpose(0, 3, 1, 2).astype(np.float32))  # NHWC -> NCHW, 135 images
    x = D.zca_apply(x, D.zca_fit(x))
    keep = np.random.default_rng(p.seed).permutation(len(x))[:p.n_train][:p.n_spectrum]
    Xs = torch.from_numpy(x[keep])
    Ys = torch.from_numpy(ref["y_train"][keep].astype(np.int64))
    model = M.build("small-allcnn", num_classes=10)
    T.load_checkpoint(c.work / C10 / "epoch_0005.pt", model)
    spectra = {}
    for run, X in ((C10, Xs), (AUG, D.augment(Xs, p.augment_seed))):
        s = c.res.snapshots[run][-1]
        assert s.epoch == 5
        ev, tr = _diffusion_spectrum_via_basis(_per_sample_gradients(model, X, Ys))
        assert len(ev) == 12
        # all d eigenvalues: these 12 and d − 12 zeros (outside the span of the gradients)
        full = np.sort(np.concatenate([ev, np.zeros(s.dim - len(ev))]))[::-1]
        np.testing.assert_allclose(s.eigenvalues, full, rtol=1e-6, atol=1e-6 * ev[0])
        assert s.trace == pytest.approx(tr, rel=1e-6)
        spectra[run] = ev
    # at this tolerance the plain and the augmented inputs are told apart (see the augment test above)
    assert np.abs(spectra[C10] - spectra[AUG]).max() > 1e-4 * spectra[C10][0]


@needs_mnist
def test_rank_vs_n_sizes_beyond_the_data_are_skipped_with_a_reason():
    tiny = dict(TINY, n_train=128, n_spectrum=32, epochs=1, rank_vs_n=(200, 300))
    res = S.run(S.protocol("ci", **tiny), num_threads=1)
    why = res.meta["skipped"]["small-fc/rank_vs_n"]
    assert "exceeds the 128 training examples" in why and "≤ 128" in why
    assert res.rank_vs_n == {} and len(res.snapshots["small-fc"]) >= 1
    assert "small-fc/rank_vs_n: skipped" in res.summary()
