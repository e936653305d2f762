"""vdlib.experiments.trajectory.summarize: the reduced statistics the Part IV-b chapters load.

Oracles: the same statistics computed directly with vdlib.analysis.trajectory on the artifact's arrays, a
synthetic artifact whose circulation and stationarity are known, and the command line round trip."""
import json

import numpy as np
import pytest
import torch

from vdlib.deep import chains as ch
from vdlib.deep import data as D
from vdlib.analysis import trajectory as tj
from vdlib.experiments import __main__ as cli
from vdlib.experiments import trajectory as T

pytestmark = pytest.mark.skipif(not D.available("fashion-mnist"),
                                reason="needs Fashion-MNIST (apt-get install dataset-fashion-mnist)")

ARGS = ["--epochs", "16", "--burn-in", "3", "--chains", "2", "--control-chains", "1"]


def synthetic_result(W, lr=0.1, momentum=0.9):
    """A TrajectoryResult around given weights W (chains, T+1, d): no data, no training."""
    C, n, d = W.shape
    z = np.zeros((C, n))
    rec = ch.Record(weights=W.astype(np.float32), loss=z + 1.0, error=z.copy(), grad_norm=z + 1e-3,
                      theta_dot_grad=z.copy(), step_sq=np.zeros((C, n - 1)) + 1e-4,
                      theta_dot_step_grad=np.zeros((C, n - 1)),
                      settings={"lr": [lr] * C, "momentum": [momentum] * C, "steps_per_epoch": 16},
                      epochs_done=n - 1)
    p = T.protocol("ci", epochs=n - 1, burn_in=2, chains=C, controls=("sgd",))
    return T.TrajectoryResult(protocol=p, records={"sgd": rec}, meta={"data": {"dataset": "synthetic"}})


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("traj") / "run"
    assert cli.main(["trajectory", "--profile", "ci", *ARGS, "--controls", "sgd,langevin", "--out", str(out)]) == 0
    torch.set_num_threads(before)
    return out


@pytest.fixture(scope="module")
def summary(artifact, tmp_path_factory):
    dest = tmp_path_factory.mktemp("summ") / "trajectory_ci"
    assert cli.main(["trajectory", "--summarize", str(artifact), "--summary-out", str(dest)]) == 0
    return T.load_summary(dest)


def test_summary_matches_the_statistics_computed_directly(artifact, summary):
    res = T.load(artifact)
    b0 = res.protocol.burn_in
    for g in ("sgd", "langevin"):
        rec = res.records[g]
        for c in range(rec.n_chains):
            X = rec.trajectory(c, start=b0).astype(np.float64)
            sp = tj.increment_spectrum(X, n_bins=1000)
            np.testing.assert_allclose(summary[f"{g}/spectrum_freq"], sp.freq)
            np.testing.assert_allclose(summary[f"{g}/spectrum_mean"][c], sp.mean, rtol=1e-6)
            np.testing.assert_allclose(summary[f"{g}/spectrum_sd"][c], sp.sd, rtol=1e-5, atol=1e-12)
            moving = X.std(0) > 0  # coordinates that never move have no autocorrelation (left out)
            ac = tj.autocorrelation(X[:, moving], summary[f"{g}/acf_lags"])
            np.testing.assert_allclose(summary[f"{g}/acf_mean"][c], ac.mean, atol=1e-9)
            np.testing.assert_allclose(summary[f"{g}/acf_sd"][c], ac.sd, atol=1e-7)
            assert np.isclose(summary[f"{g}/acf_band99"], ac.band99)
            pc = tj.pca(X, 2)
            area = tj.area_rate(pc.scores)
            assert np.isclose(summary[f"{g}/area_rate_pc"][c], area.mean, rtol=1e-6, atol=1e-14)
            lag = int(summary[f"{g}/area_lags"][1])
            Z = pc.scores - pc.scores.mean(0)
            want = tj.time_reversal_asymmetry(pc.scores, lag)[0, 1] / np.sqrt(np.prod((Z ** 2).mean(0)))
            assert np.isclose(summary[f"{g}/asym_pc"][c, 1], want, rtol=1e-6, atol=1e-12)
        fd = rec.fdr1(start=b0)
        assert np.isclose(summary[f"{g}/fdr1_lhs"].mean(), fd.lhs) and np.isclose(summary[f"{g}/fdr1_rhs"].mean(), fd.rhs)
        gn = np.asarray(rec.grad_norm[:, :rec.epochs_done + 1])
        pts = summary[f"{g}/epochs"]
        assert pts[0] == 0 and pts[-1] == rec.epochs_done and np.all(np.diff(pts) > 0)
        np.testing.assert_allclose(summary[f"{g}/grad_norm_ewma"], tj.ewma(gn.T, 100.0).T[:, pts])
        np.testing.assert_allclose(summary[f"{g}/loss_mean"], np.asarray(rec.loss[:, b0:]).mean(1))


def test_noise_and_hessian_planes_are_unit_eigenvectors_of_the_right_operators(artifact):
    res = T.load(artifact)
    p = res.protocol
    X, y, _ = T.load_data(p)
    lay = ch.layout(p.model, len(p.classes))
    theta = np.asarray(res.records["sgd"].weights[0, -1], dtype=np.float64)
    B, vals = ch.top_directions(X, y, lay, theta, "hessian", k=2)
    assert np.allclose(B.T @ B, np.eye(2), atol=1e-6) and vals[0] >= vals[1]
    # oracle: the Hessian of nn.Module's training-mode loss on the full batch (another code path)
    model = ch.load_vector(ch.fc_module(lay), torch.as_tensor(theta, dtype=torch.float32)).double().train()
    names = [n for n, _ in model.named_parameters()]
    shapes = [q.shape for q in model.parameters()]

    def f(vec):
        parts, o = {}, 0
        for n, shp in zip(names, shapes):
            k = int(np.prod(shp))
            parts[n] = vec[o:o + k].view(shp)
            o += k
        out = torch.func.functional_call(model, parts, (X.double(),))
        return torch.nn.functional.cross_entropy(out, y)

    H = torch.autograd.functional.hessian(f, torch.as_tensor(theta), vectorize=True).numpy()
    ev, V = np.linalg.eigh(H)
    np.testing.assert_allclose(vals, ev[::-1][:2], rtol=1e-6, atol=1e-9)
    assert abs(abs(B[:, 0] @ V[:, -1]) - 1) < 1e-4
    Bn, s2 = ch.top_directions(X, y, lay, theta, "noise", k=2, batch_size=p.batch_size,
                               replacement=p.replacement, noise_batches=p.noise_batches)
    assert np.allclose(Bn.T @ Bn, np.eye(2), atol=1e-8) and s2[0] >= s2[1] > 0


def test_summary_is_small_and_carries_the_artifact_metadata(artifact, summary):
    meta = json.loads((artifact / "meta.json").read_text())
    size = (summary.folder / "summary.npz").stat().st_size
    assert size < 5e6
    a = summary.meta["artifact"]
    assert a["protocol"] == meta["protocol"] and a["data"]["source"] == meta["data"]["source"]
    assert a["versions"] == meta["versions"] and a["device"] == meta["device"]
    assert summary.groups == ["sgd", "langevin"]
    assert "profile ci" in summary.label() and meta["data"]["dataset"] in summary.label()
    with pytest.raises(KeyError, match="keys look like"):
        summary["sgd/no_such_statistic"]


def test_a_synthetic_rotation_is_detected_and_a_reversible_one_is_not(tmp_path):
    """Summarise in-memory results whose circulation is known: a noisy rotation in the (w0, w1) plane
    (area rate > 0) against a reversible AR(1) process (area rate 0 within its error)."""
    rng = np.random.default_rng(0)
    n, d = 3000, 6
    W = 0.01 * rng.standard_normal((2, n, d))
    for c, omega in ((0, 0.3), (1, 0.0)):
        Rm = 0.9 * np.array([[np.cos(omega), -np.sin(omega)], [np.sin(omega), np.cos(omega)]])
        z = np.zeros(2)
        for t in range(n):
            z = Rm @ z + rng.standard_normal(2)
            W[c, t, :2] = z  # dominates the other coordinates: the top-2 PC plane
    res = synthetic_result(W)
    s = T.summarize(res, planes=("pc",), area_lags=(1,))
    assert s.folder is None  # in memory: nothing written
    a = s["sgd/asym_pc"][:, 0]
    # AR(1) with rotation: a12(1) = 0.9 sin(0.3) (Var stationary, isotropic) ≈ 0.266 in size; 0 without
    assert abs(abs(a[0]) - 0.9 * np.sin(0.3)) < 0.05 and abs(a[1]) < 0.05
    blocks = s["sgd/asym_pc_blocks"][:, :, 0]
    assert np.all(np.abs(np.abs(blocks[0]) - 0.9 * np.sin(0.3)) < 0.1)


def test_bad_inputs_name_the_fix(tmp_path, summary):
    with pytest.raises(FileNotFoundError, match="--summarize"):
        T.load_summary(tmp_path)
    with pytest.raises(FileNotFoundError, match="meta.json missing"):
        T.summarize(tmp_path / "nothing")
    W = np.random.default_rng(0).standard_normal((1, 20, 4))
    with pytest.raises(ValueError, match="planes must be chosen"):
        T.summarize(synthetic_result(W), planes=("eigen",))
    with pytest.raises(ValueError, match="too few to summarise"):
        T.summarize(synthetic_result(W[:, :5]), planes=("pc",))
    assert cli.main(["trajectory", "--summarize", str(tmp_path / "nothing")]) == 2
