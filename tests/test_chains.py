"""vdlib.deep.chains: the batched many-chain SGD engine is the paper's model (equivalence with nn.Module +
torch.optim.SGD), its gradients, sampling, matched noise, recording, checkpoint/resume and bad input."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vdlib.deep import chains as ch
from vdlib.deep import models
from vdlib.analysis import trajectory as tj


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _blobs(n=256, k=4, seed=0, noise=1.0, dtype=torch.float32):
    """k Gaussian classes in 49 dimensions (separable enough that tiny-fc learns them)."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(k, 49, generator=g, dtype=torch.float64)
    y = torch.arange(n) % k
    X = centres[y] + noise * torch.randn(n, 49, generator=g, dtype=torch.float64)
    return X.to(dtype), y


# ------------------------------------------------------------------------------------------------
# the network
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,k", [("tiny-fc", 4), ("tiny-fc", 5), ("small-fc", 10)])
def test_layout_counts_match_the_modules(name, k):
    lay = ch.layout(name, k)
    assert lay.d == models.count_parameters(models.build(name, num_classes=k))
    nobn = ch.layout(name, k, batchnorm=False)
    assert nobn.d == lay.d - 2 * lay.hidden == models.count_parameters(ch.fc_module(nobn))
    sl = lay.slices
    assert sl["W1"].start == 0 and sl["b2"].stop == lay.d


def test_paper_counts():
    assert ch.layout("tiny-fc", 4).d == 900 and ch.layout("tiny-fc", 5).d == 917
    assert ch.layout("small-fc", 10).d == 3978


def test_nobn_module_shares_the_linear_initialisation_of_the_bn_module():
    bn, nobn = ch.layout("tiny-fc", 4), ch.layout("tiny-fc", 4, batchnorm=False)
    v, w = ch.init_weights(bn, [7])[0], ch.init_weights(nobn, [7])[0]
    for name in ("W1", "b1", "W2", "b2"):
        assert torch.equal(v[bn.slices[name]], w[nobn.slices[name]])
    assert torch.equal(v[bn.slices["gamma"]], torch.ones(16)) and torch.equal(v[bn.slices["beta"]], torch.zeros(16))
    assert not torch.equal(ch.init_weights(bn, [8])[0], v)


def test_vector_round_trip():
    lay = ch.layout("tiny-fc", 4)
    m = ch.fc_module(lay, seed=1)
    v = torch.randn(lay.d)
    ch.load_vector(m, v)
    assert torch.equal(ch.module_vector(m), v)
    with torch.no_grad():
        m.net[1].weight.zero_()
    assert v[0] != 0  # a copy, not a view of v
    assert torch.equal(m.net[4].bias.detach(), v[lay.slices["b2"]])
    with pytest.raises(ValueError, match="flat vector of 900"):
        ch.load_vector(m, torch.zeros(899))


# ------------------------------------------------------------------------------------------------
# gradients
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("batchnorm", [True, False])
@pytest.mark.parametrize("shared", [False, True])
def test_manual_backward_matches_autograd(batchnorm, shared):
    X, y = _blobs(dtype=torch.float64)
    lay = ch.layout("tiny-fc", 4, batchnorm=batchnorm)
    theta = ch.init_weights(lay, [0, 1, 2]).double() + 0.1 * torch.randn(3, lay.d, dtype=torch.float64,
                                                                        generator=torch.Generator().manual_seed(0))
    if shared:
        x, yy = X, y
    else:
        idx = torch.randint(0, len(y), (3, 32), generator=torch.Generator().manual_seed(1))
        x, yy = X[idx], y[idx]
    l1, w1, g1 = ch.forward_backward(theta, x, yy, lay)
    l2, w2, g2 = ch.forward_backward(theta, x, yy, lay, backend="autograd")
    assert torch.allclose(g1, g2, rtol=1e-10, atol=1e-13)
    assert torch.allclose(l1, l2, rtol=1e-12) and torch.equal(w1, w2)
    assert g1.abs().max() > 1e-3  # not trivially zero


@pytest.mark.parametrize("batchnorm", [True, False])
def test_each_chain_gets_its_own_module_gradient(batchnorm):
    X, y = _blobs(dtype=torch.float64)
    lay = ch.layout("tiny-fc", 4, batchnorm=batchnorm)
    theta = ch.init_weights(lay, [3, 4]).double()
    idx = torch.randint(0, len(y), (2, 40), generator=torch.Generator().manual_seed(2))
    loss, wrong, grad = ch.forward_backward(theta, X[idx], y[idx], lay)
    for c in range(2):
        m = ch.fc_module(lay).double()
        ch.load_vector(m, theta[c])
        m.train()
        out = m(X[idx[c]])
        ref = F.cross_entropy(out, y[idx[c]])
        ref.backward()
        g = torch.cat([p.grad.flatten() for p in m.parameters()])
        assert torch.allclose(grad[c], g, rtol=1e-9, atol=1e-12)
        assert math.isclose(float(loss[c]), ref.item(), rel_tol=1e-12)
        assert int(wrong[c]) == int((out.argmax(1) != y[idx[c]]).sum())


# ------------------------------------------------------------------------------------------------
# equivalence with the plain single-model reference (the paper's model + torch.optim.SGD)
# ------------------------------------------------------------------------------------------------
def _reference_run(X, y, lay, theta0, batches, lr, momentum, wd):
    model = ch.fc_module(lay)
    ch.load_vector(model, theta0)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=wd)
    for idx in batches:
        opt.zero_grad()
        F.cross_entropy(model(X[idx]), y[idx]).backward()
        opt.step()
    return ch.module_vector(model)


@pytest.mark.parametrize("batchnorm,replacement,n", [(True, False, 256), (True, True, 256), (False, False, 250)])
def test_batched_chains_match_nn_module_and_torch_sgd(batchnorm, replacement, n):
    """300 steps (n=250: ragged last batch of 58); every chain equals its own reference run."""
    X, y = _blobs(n=n)
    lay = ch.layout("tiny-fc", 4, batchnorm=batchnorm)
    theta0 = ch.init_weights(lay, [10, 11, 12])
    eng = ch.ChainEngine(X, y, theta0, lay, seeds=[0, 1, 2], lr=0.1, momentum=0.9, weight_decay=1e-4,
                         batch_size=64, replacement=replacement)
    batches = [[] for _ in range(3)]
    while eng.steps_done < 300:
        idx = eng.epoch_batches()
        for s in range(eng.steps_per_epoch):
            step_idx = idx[:, s * 64:(s + 1) * 64]
            eng.step(step_idx)
            for c in range(3):
                batches[c].append(step_idx[c])
    assert eng.steps_done == 300
    for c in range(3):
        ref = _reference_run(X, y, lay, theta0[c], batches[c], 0.1, 0.9, 1e-4)
        assert torch.allclose(eng.theta[c], ref, rtol=1e-4, atol=2e-5), (c, (eng.theta[c] - ref).abs().max())
        assert (eng.theta[c] - theta0[c]).abs().max() > 0.1  # the chains really moved


def test_run_epoch_is_step_on_its_own_batches_and_a_single_chain_run_equals_the_reference():
    X, y = _blobs(n=256)
    lay = ch.layout("tiny-fc", 4)
    theta0 = ch.init_weights(lay, [5])
    a = ch.ChainEngine(X, y, theta0, lay, seeds=[9], lr=0.05, momentum=0.9, batch_size=128)
    # the same seed draws the same permutations: replay them for the reference
    replay = ch.ChainEngine(X, y, theta0, lay, seeds=[9], lr=0.05, momentum=0.9, batch_size=128)
    batches = []
    for _ in range(100):
        a.run_epoch()
        perm = replay.epoch_batches()[0]
        batches += [perm[:128], perm[128:]]
    ref = _reference_run(X, y, lay, theta0[0], batches, 0.05, 0.9, 0.0)
    assert a.steps_done == 200 and a.epoch == 100
    assert torch.allclose(a.theta[0], ref, rtol=1e-4, atol=2e-5)


def test_per_chain_hyperparameters_mix_and_chains_do_not_depend_on_their_neighbours():
    X, y = _blobs(n=256)
    lay = ch.layout("tiny-fc", 4)
    theta0 = ch.init_weights(lay, [1, 2])
    mixed = ch.ChainEngine(X, y, theta0, lay, seeds=[3, 4], lr=[0.1, 0.02], momentum=[0.9, 0.0],
                           weight_decay=[0.0, 1e-3], batch_size=64)
    alone = [ch.ChainEngine(X, y, theta0[c], lay, seeds=[s], lr=lr, momentum=m, weight_decay=wd, batch_size=64)
             for c, (s, lr, m, wd) in enumerate([(3, 0.1, 0.9, 0.0), (4, 0.02, 0.0, 1e-3)])]
    for _ in range(20):
        mixed.run_epoch()
        for e in alone:
            e.run_epoch()
    for c in range(2):
        assert torch.allclose(mixed.theta[c], alone[c].theta[0], rtol=1e-5, atol=1e-6)
    assert not torch.allclose(alone[0].theta[0], alone[1].theta[0])


# ------------------------------------------------------------------------------------------------
# sampling and the full-batch / noise mode
# ------------------------------------------------------------------------------------------------
def test_sampling_without_replacement_is_one_permutation_per_chain_and_epoch():
    X, y = _blobs(n=100)
    lay = ch.layout("tiny-fc", 4)
    eng = ch.ChainEngine(X, y, ch.init_weights(lay, [0]), lay, seeds=[0, 1, 2], lr=0.1, batch_size=32)
    assert eng.steps_per_epoch == 4
    a, b = eng.epoch_batches(), eng.epoch_batches()
    for idx in (a, b):
        assert idx.shape == (3, 100)
        for row in idx:
            assert torch.equal(row.sort().values, torch.arange(100))
    assert not torch.equal(a[0], a[1]) and not torch.equal(a[0], b[0])
    again = ch.ChainEngine(X, y, ch.init_weights(lay, [0]), lay, seeds=[7, 1], lr=0.1, batch_size=32)
    assert torch.equal(again.epoch_batches()[1], a[1])  # a chain's batches depend on its seed only


def test_sampling_with_replacement_draws_iid_indices():
    X, y = _blobs(n=100)
    lay = ch.layout("tiny-fc", 4)
    eng = ch.ChainEngine(X, y, ch.init_weights(lay, [0]), lay, seeds=[0], lr=0.1, batch_size=30, replacement=True)
    idx = torch.cat([eng.epoch_batches() for _ in range(200)], 1)[0]
    assert eng.steps_per_epoch == 4 and idx.numel() == 200 * 120
    counts = torch.bincount(idx, minlength=100).double()
    expected = idx.numel() / 100
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < 99 + 5 * math.sqrt(2 * 99)  # uniform
    first = eng.epoch_batches()[0]
    assert len(set(first.tolist())) < 120  # repeats occur within an epoch


def test_full_batch_without_noise_is_gradient_descent_by_hand():
    X, y = _blobs(n=128, dtype=torch.float64)
    lay = ch.layout("tiny-fc", 4)
    theta0 = ch.init_weights(lay, [0]).double()
    eng = ch.ChainEngine(X, y, theta0, lay, seeds=[0], lr=0.05, momentum=0.9, full_batch=True, batch_size=32)
    assert eng.steps_per_epoch == 4
    eng.run_epoch()
    th, v = theta0.clone(), torch.zeros_like(theta0)
    for _ in range(4):
        _, _, g = ch.forward_backward(th, X, y, lay, backend="autograd")
        v = 0.9 * v + g
        th = th - 0.05 * v
    assert torch.allclose(eng.theta, th, rtol=1e-10, atol=1e-12)


def test_injected_noise_has_the_requested_variance():
    X, y = _blobs(n=64, dtype=torch.float64)
    lay = ch.layout("tiny-fc", 4, batchnorm=False)
    sigma = [0.3, 0.05]
    eng = ch.ChainEngine(X, y, ch.init_weights(lay, [0]).double(), lay, seeds=[1, 2], lr=0.01, momentum=0.0,
                         full_batch=True, noise_std=sigma, batch_size=64)
    zs = []
    for _ in range(40):
        before = eng.theta.clone()
        _, _, g = eng.gradients(None)
        eng.step()
        zs.append((before - eng.theta) / 0.01 - g)  # = σ ζ
    z = torch.stack(zs, 1)  # (2, 40, d)
    n = z[0].numel()
    for c in range(2):
        var = float(z[c].square().mean())
        assert abs(var / sigma[c] ** 2 - 1) < 5 * math.sqrt(2 / n), (c, var)
        assert abs(float(z[c].mean())) < 5 * sigma[c] / math.sqrt(n)
    assert abs(float((z[0] * z[1]).mean())) < 5 * sigma[0] * sigma[1] / math.sqrt(n)  # independent chains


@pytest.mark.parametrize("replacement", [True, False])
def test_noise_trace_matches_the_per_sample_diffusion_matrix(replacement):
    """No BN: per-sample gradients are defined, tr Σ_B = tr D / b (× (1 − b/N) N/(N − 1) without replacement)."""
    N, b = 64, 16
    X, y = _blobs(n=N, dtype=torch.float64)
    lay = ch.layout("tiny-fc", 4, batchnorm=False)
    theta = ch.init_weights(lay, [0]).double()
    # per-sample gradients: N "chains" with one example each
    _, _, G = ch.forward_backward(theta.expand(N, -1).contiguous(), X[:, None], y[:, None], lay)
    trD = float((G - G.mean(0)).square().sum(1).mean())
    expected = trD / b * (1.0 if replacement else (1 - b / N) * N / (N - 1))
    eng = ch.ChainEngine(X, y, theta, lay, seeds=[0], lr=0.1, batch_size=b, replacement=replacement)
    got = eng.noise_trace(n_batches=4000, seed=3)
    assert abs(float(got["trace"][0]) / expected - 1) < 0.08, (float(got["trace"][0]), expected)
    assert abs(float(got["bias_sq"][0])) < 0.05 * expected  # no BN: E g_B = ∇f
    full = float(G.mean(0).square().sum())
    assert math.isclose(float(got["full_grad_sq"][0]), full, rel_tol=1e-9)


def test_matched_noise_std_gives_the_trace_per_step():
    s = ch.matched_noise_std([0.9, 0.0], d=900)
    assert torch.allclose(s**2 * 900, torch.tensor([0.9, 0.0], dtype=torch.float64))
    with pytest.raises(ValueError, match="finite and >= 0"):
        ch.matched_noise_std([-1.0], d=900)


def test_module_export_reproduces_the_training_mode_output_and_eval_statistics():
    X, y = _blobs(n=200)
    lay = ch.layout("tiny-fc", 4)
    eng = ch.ChainEngine(X, y, ch.init_weights(lay, [0, 1]), lay, seeds=[0, 1], lr=0.1, momentum=0.9, batch_size=50)
    for _ in range(3):
        eng.run_epoch()
    m = eng.module(1)
    m.train()
    loss = F.cross_entropy(m(X), y)
    assert math.isclose(loss.item(), float(eng.evaluate()["loss"][1]), rel_tol=1e-5)
    m.eval()  # running statistics = full-batch statistics: eval output ≈ train output (up to n/(n-1) in var)
    assert torch.allclose(m(X).softmax(1), eng.module(1).train()(X).softmax(1), atol=2e-2)
    with pytest.raises(ValueError, match="2 chains"):
        eng.module(2)


# ------------------------------------------------------------------------------------------------
# recording, checkpoints and resume
# ------------------------------------------------------------------------------------------------
def _engines(X, y):
    lay, nobn = ch.layout("tiny-fc", 4), ch.layout("tiny-fc", 4, batchnorm=False)
    return {"sgd": ch.ChainEngine(X, y, ch.init_weights(lay, [0, 1]), lay, seeds=[0, 1], lr=0.05, momentum=0.9,
                                  batch_size=64),
            "noisy": ch.ChainEngine(X, y, ch.init_weights(nobn, [0, 1]), nobn, seeds=[2, 3], lr=0.05, momentum=0.9,
                                    batch_size=64, full_batch=True, noise_std=0.01)}


def test_recorded_rows_are_the_states_after_each_epoch():
    X, y = _blobs(n=128)
    recs = ch.run_network_chains(_engines(X, y), 6, record_fdr=True, progress=False)
    twin = _engines(X, y)
    for name, rec in recs.items():
        eng = twin[name]
        assert rec.weights.shape == (2, 7, eng.d) and rec.weights.dtype == np.float32 and rec.epochs_done == 6
        for t in range(7):
            ev = eng.evaluate()
            assert np.allclose(rec.weights[:, t], eng.theta.numpy(), atol=1e-6)
            assert np.allclose(rec.grad_norm[:, t], ev["grad_norm"].numpy(), rtol=1e-5)
            assert np.allclose(rec.loss[:, t], ev["loss"].numpy(), rtol=1e-5)
            assert np.allclose(rec.error[:, t], ev["error"].numpy())
            if t < 6:
                eng.run_epoch()
        # the FDR1 scalars are the recorded vectors' contractions
        assert np.allclose(rec.step_sq, (rec.dtheta.astype(np.float64) ** 2).sum(-1), rtol=1e-5)
        assert np.allclose(rec.theta_dot_grad, (rec.weights.astype(np.float64) * rec.grad).sum(-1), rtol=1e-4,
                           atol=1e-7)
        assert np.allclose(rec.grad_norm, np.linalg.norm(rec.grad.astype(np.float64), axis=-1) / math.sqrt(eng.d),
                           rtol=1e-5)
        # they feed vdlib.analysis.trajectory: vectors and scalars give the same FDR1
        full = rec.fdr1(start=1)
        assert isinstance(full, tj.FDR1) and np.isfinite(full.ratio)
        rec.grad, rec.dtheta = None, None
        light = rec.fdr1(start=1)
        assert math.isclose(full.lhs, light.lhs, rel_tol=1e-4) and math.isclose(full.rhs, light.rhs, rel_tol=1e-4)
        assert tj.increment_spectrum(rec.trajectory(0)).mean.shape[0] == 4


def test_a_killed_run_resumes_without_lost_or_duplicated_epochs(tmp_path):
    """Also: the resumed half runs the groups in 2 threads, which changes nothing."""
    X, y = _blobs(n=128)
    whole = ch.run_network_chains(_engines(X, y), 9, folder=tmp_path / "a", progress=False)
    part = ch.run_network_chains(_engines(X, y), 9, folder=tmp_path / "b", progress=False, stop_after=4,
                         checkpoint_every=1e9)
    assert part["sgd"].epochs_done == 4
    ck = torch.load(tmp_path / "b" / ch.CHECKPOINT_FILE, weights_only=True)
    assert ck["epoch"] == 4
    with pytest.raises(FileExistsError, match="resume=True"):
        ch.run_network_chains(_engines(X, y), 9, folder=tmp_path / "b", progress=False)
    with pytest.raises(ValueError, match="epochs=9"):
        ch.run_network_chains(_engines(X, y), 12, folder=tmp_path / "b", progress=False, resume=True)
    rest = ch.run_network_chains(_engines(X, y), 9, folder=tmp_path / "b", progress=False, resume=True, workers=2)
    assert rest["sgd"].start_epoch == 4 and rest["sgd"].epochs_done == 9
    for name in whole:
        a, b = ch.open_record(tmp_path / "a" / name), ch.open_record(tmp_path / "b" / name)
        assert a.epochs_done == b.epochs_done == 9
        for k in ("weights", "loss", "grad_norm", "error", "step_sq", "theta_dot_grad"):
            assert np.array_equal(np.asarray(getattr(a, k)), np.asarray(getattr(b, k))), (name, k)


def test_groups_recorded_apart_into_one_folder_keep_their_own_checkpoint_files(tmp_path):
    """checkpoint_file= names the checkpoint inside the folder: two calls (processes) recording different
    groups into one folder keep theirs apart, each resumes from its own, and the records are those of one
    call recording both groups."""
    X, y = _blobs(n=128)
    whole = ch.run_network_chains(_engines(X, y), 6, progress=False)
    eng = _engines(X, y)
    for name in eng:
        part = ch.run_network_chains({name: eng[name]}, 6, folder=tmp_path, progress=False, stop_after=3,
                             checkpoint_every=1e9, checkpoint_file=f"checkpoint-{name}.pt")
        assert part[name].epochs_done == 3
    assert sorted(f.name for f in tmp_path.glob("*.pt")) == ["checkpoint-noisy.pt", "checkpoint-sgd.pt"]
    ck = torch.load(tmp_path / "checkpoint-sgd.pt", weights_only=True)
    assert ck["epoch"] == 3 and list(ck["engines"]) == ["sgd"]
    with pytest.raises(FileExistsError, match="checkpoint-sgd.pt"):
        ch.run_network_chains({"sgd": _engines(X, y)["sgd"]}, 6, folder=tmp_path, progress=False,
                      checkpoint_file="checkpoint-sgd.pt")
    eng = _engines(X, y)
    for name in eng:
        rest = ch.run_network_chains({name: eng[name]}, 6, folder=tmp_path, progress=False, resume=True,
                             checkpoint_file=f"checkpoint-{name}.pt")
        assert rest[name].start_epoch == 3 and rest[name].epochs_done == 6
    assert not (tmp_path / ch.CHECKPOINT_FILE).exists()
    for name, a in whole.items():
        b = ch.open_record(tmp_path / name)
        for k in ("weights", "loss", "grad_norm", "error", "step_sq", "theta_dot_grad", "theta_dot_step_grad"):
            assert np.array_equal(np.asarray(getattr(a, k)), np.asarray(getattr(b, k))), (name, k)
    for bad in ("sub/checkpoint.pt", "", "..", 3):
        with pytest.raises(ValueError, match="plain file name"):
            ch.run_network_chains(_engines(X, y), 2, folder=tmp_path / "x", progress=False, checkpoint_file=bad)


def test_divergence_stops_with_a_clear_message_and_keeps_the_last_checkpoint(tmp_path):
    X, y = _blobs(n=128)
    lay = ch.layout("tiny-fc", 4, batchnorm=False)
    eng = ch.ChainEngine(X, y, ch.init_weights(lay, [0, 1]), lay, seeds=[0, 1], lr=[0.01, 30.0], momentum=0.9,
                         batch_size=64)
    with pytest.raises(ch.TrajectoryDiverged, match=r"chains \[1\].*Lower the learning rate") as info:
        ch.run_network_chains({"g": eng}, 200, folder=tmp_path, progress=False, checkpoint_every=0,
                              max_weight_norm=None, max_loss=None)  # the NaN/inf path: guard off
    err = info.value
    assert err.group == "g" and err.chains == [1] and err.checkpoint_epoch < err.epoch
    ck = torch.load(tmp_path / ch.CHECKPOINT_FILE, weights_only=True)
    assert ck["epoch"] == err.checkpoint_epoch
    assert torch.isfinite(ck["engines"]["g"]["theta"]).all()

    # no checkpoint written before the divergence (a long interval): the message must not claim one;
    # with weight decay on the diverged chain, the message names it too
    eng = ch.ChainEngine(X, y, ch.init_weights(lay, [0, 1]), lay, seeds=[0, 1], lr=[0.01, 30.0], momentum=0.9,
                         weight_decay=[0.0, 1e-4], batch_size=64)
    with pytest.raises(ch.TrajectoryDiverged, match=r"No checkpoint was written yet.*or the weight decay \(\[0.0001\]\)") \
            as info:
        ch.run_network_chains({"g": eng}, 200, folder=tmp_path / "late", progress=False, checkpoint_every=1e9)
    assert info.value.checkpoint_epoch is None and not (tmp_path / "late" / ch.CHECKPOINT_FILE).exists()


# ------------------------------------------------------------------------------------------------
# bad input
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(lr=0.0), ValueError, "learning rate"),
    (dict(lr=-0.1), ValueError, "learning rate"),
    (dict(batch_size=300), ValueError, "b <= N"),
    (dict(batch_size=0), ValueError, "at least 1"),
    (dict(batch_size=1), ValueError, "BatchNorm cannot"),
    (dict(batch_size=85), ValueError, "BatchNorm cannot"),  # 256 = 3·85 + 1
    (dict(momentum=1.0), ValueError, r"momentum must be in \[0, 1\)"),
    (dict(lr=[0.1, 0.2, 0.3]), ValueError, "one value or one per chain"),
    (dict(weight_decay=-1.0), ValueError, "weight_decay"),
    (dict(seeds=[]), ValueError, "seeds is empty"),
    (dict(backend="jit"), ValueError, "backend"),
])
def test_bad_engine_arguments_say_what_to_change(kwargs, exc, match):
    X, y = _blobs(n=256)
    lay = ch.layout("tiny-fc", 4)
    args = dict(seeds=[0, 1], lr=0.1, batch_size=64)
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        ch.ChainEngine(X, y, ch.init_weights(lay, [0]), lay, **args)


def test_bad_data_and_weights_say_what_to_change():
    X, y = _blobs(n=64)
    lay = ch.layout("tiny-fc", 4)
    th = ch.init_weights(lay, [0])
    with pytest.raises(ValueError, match="downsample"):
        ch.ChainEngine(torch.zeros(64, 28, 28), y, th, lay, seeds=[0], lr=0.1, batch_size=16)
    with pytest.raises(ValueError, match="relabel"):
        ch.ChainEngine(X, y + 1, th, lay, seeds=[0], lr=0.1, batch_size=16)
    with pytest.raises(ValueError, match=r"\(2, 900\)"):
        ch.ChainEngine(X, y, torch.zeros(3, 900), lay, seeds=[0, 1], lr=0.1, batch_size=16)
    with pytest.raises(ValueError, match="fully connected"):
        ch.layout("small-lenet", 10)
    with pytest.raises(ValueError, match="full-batch"):
        ch.ChainEngine(X, y, th, lay, seeds=[0], lr=0.1, batch_size=16, full_batch=True).step(torch.zeros(1, 4).long())
    with pytest.raises(ValueError, match="folder"):
        ch.run_network_chains({"g": ch.ChainEngine(X, y, th, lay, seeds=[0], lr=0.1, batch_size=16)}, 2, resume=True)
