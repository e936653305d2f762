"""vdlib.deep.train: SGD on in-memory tensors, sampling, schedules, checkpoints, exact resume, divergence."""
import math
import os

import pytest
import torch
from torch import nn

from vdlib.deep import models
from vdlib.deep import train as T


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _blobs(n=240, k=4, seed=0, shape=(49,)):
    """k well-separated Gaussian classes: a linear classifier reaches ~0 error."""
    g = torch.Generator().manual_seed(seed)
    d = math.prod(shape)
    centres = 3.0 * torch.randn(k, d, generator=g) / math.sqrt(d) * 3
    y = torch.arange(n) % k
    X = centres[y] + 0.5 * torch.randn(n, d, generator=g)
    return X.view(n, *shape), y


class Recorder(nn.Module):
    """A linear model whose first input feature is the example's index; records every batch's indices."""

    def __init__(self, d=3, k=2):
        super().__init__()
        self.lin = nn.Linear(d, k)
        self.batches = []

    def forward(self, x):
        self.batches.append(x[:, 0].round().long().tolist())
        return self.lin(x)


def _indexed(n, d=3):
    X = torch.zeros(n, d)
    X[:, 0] = torch.arange(n, dtype=torch.float32)
    return X, torch.arange(n) % 2


def _same_state(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _strip(history):
    return [{k: v for k, v in row.items() if k != "seconds"} for row in history]


# ------------------------------------------------------------------------------------------------
# learning and the update rule
# ------------------------------------------------------------------------------------------------
def test_tiny_fc_learns_separable_data():
    X, y = _blobs(n=400, k=4)
    Xt, yt = _blobs(n=200, k=4, seed=0)
    model = models.build("tiny-fc", 4, seed=0)
    before = T.evaluate(model, X, y)
    res = T.train(model, X, y, epochs=8, lr=0.05, batch_size=32, seed=1, eval_data={"train": (X, y), "test": (Xt, yt)})
    assert before["error"] > 0.4  # chance is 0.75; the untrained net is far from a solution
    assert res.history[-1]["train_error"] < 0.05
    assert res.history[-1]["train_loss"] < before["loss"] / 4
    assert len(res.history) == res.epochs_done == 8
    assert [r["epoch"] for r in res.history] == list(range(1, 9))
    assert res.column("test_error")[-1] < 0.1


def test_full_batch_run_equals_hand_written_heavy_ball_with_weight_decay_and_steps():
    """b = N: every epoch is one gradient step on the whole set; compare with the textbook update."""
    X, y = _blobs(n=64, k=3)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(49, 3))
    ref = [p.detach().clone() for p in model.parameters()]
    mu, wd, steps = 0.9, 0.01, [(0, 0.2), (3, 0.05)]
    T.train(model, X, y, epochs=5, lr=steps, momentum=mu, weight_decay=wd, batch_size=64, seed=0)
    buf = [torch.zeros_like(p) for p in ref]
    for epoch in range(5):
        lr = 0.2 if epoch < 3 else 0.05
        W, c = ref[0].requires_grad_(), ref[1].requires_grad_()
        loss = nn.functional.cross_entropy(X @ W.T + c, y)
        grads = torch.autograd.grad(loss, [W, c])
        with torch.no_grad():
            for i, (p, g) in enumerate(zip(ref, grads)):
                g = g + wd * p
                buf[i] = g if epoch == 0 else mu * buf[i] + g
                ref[i] = (p - lr * buf[i]).detach()
    for p, q in zip(model.parameters(), ref):
        torch.testing.assert_close(p.detach(), q, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(ref[0], torch.zeros_like(ref[0]))


# ------------------------------------------------------------------------------------------------
# sampling
# ------------------------------------------------------------------------------------------------
def test_without_replacement_each_epoch_is_a_fresh_permutation():
    N, b, epochs = 50, 8, 4
    model = Recorder()
    T.train(model, *_indexed(N), epochs=epochs, lr=0.01, batch_size=b, seed=0)
    steps = math.ceil(N / b)
    assert len(model.batches) == steps * epochs
    assert [len(x) for x in model.batches[:steps]] == [8] * 6 + [2]
    perms = [sum(model.batches[e * steps:(e + 1) * steps], []) for e in range(epochs)]
    for p in perms:
        assert sorted(p) == list(range(N))
    assert len({tuple(p) for p in perms}) == epochs
    assert perms[0] != list(range(N))


def test_drop_last_drops_the_partial_batch():
    model = Recorder()
    T.train(model, *_indexed(50), epochs=2, lr=0.01, batch_size=8, drop_last=True, seed=0)
    assert [len(x) for x in model.batches] == [8] * 12
    assert len(set(sum(model.batches[:6], []))) == 48


def test_with_replacement_draws_iid_uniform_indices():
    """Duplicates inside a batch occur at the birthday-problem rate, and counts are uniform."""
    N, b, epochs = 50, 10, 150
    model = Recorder()
    T.train(model, *_indexed(N), epochs=epochs, lr=1e-3, batch_size=b, replacement=True, seed=2)
    assert len(model.batches) == epochs * (N // b) and all(len(x) == b for x in model.batches)
    p_dup = 1 - math.prod(1 - i / N for i in range(b))  # 0.62 for N=50, b=10
    frac = sum(len(set(x)) < b for x in model.batches) / len(model.batches)
    se = math.sqrt(p_dup * (1 - p_dup) / len(model.batches))
    assert abs(frac - p_dup) < 4 * se, (frac, p_dup)
    counts = torch.bincount(torch.tensor(sum(model.batches, [])), minlength=N).double()
    expected = counts.sum() / N
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < 49 + 5 * math.sqrt(2 * 49), chi2  # df = 49: mean 49, sd 9.9


def test_seed_and_generator_are_the_only_randomness():
    X, y = _blobs(n=96)
    runs = []
    for seed in (0, 0, 1):
        m = models.build("tiny-fc", 4, seed=5)
        T.train(m, X, y, epochs=2, lr=0.05, batch_size=32, seed=seed)
        runs.append(m.state_dict())
    assert _same_state(runs[0], runs[1]) and not _same_state(runs[0], runs[2])
    g = torch.Generator().manual_seed(0)
    m = models.build("tiny-fc", 4, seed=5)
    res = T.train(m, X, y, epochs=2, lr=0.05, batch_size=32, generator=g)
    assert res.generator is g and _same_state(m.state_dict(), runs[0])


def test_training_leaves_the_global_rng_untouched():
    X, y = _blobs(n=64, shape=(1, 28, 28), k=10)
    state = torch.get_rng_state()
    T.train(models.build("small-lenet", seed=0), X, y, epochs=1, lr=0.05, batch_size=32, seed=0)
    assert torch.equal(torch.get_rng_state(), state)


# ------------------------------------------------------------------------------------------------
# checkpoints and resume
# ------------------------------------------------------------------------------------------------
LENET_DATA = dict(n=192, shape=(1, 28, 28), k=10)


class Crash(Exception):
    pass


def _lenet_run(folder, epochs, *, replacement=False, resume=False, crash_after_forwards=None, **kw):
    X, y = _blobs(**LENET_DATA)
    model = models.build("small-lenet", seed=0)  # BN and dropout: every piece of state matters
    if crash_after_forwards is not None:
        calls = {"n": 0}

        def hook(module, inputs):
            calls["n"] += 1
            if calls["n"] > crash_after_forwards:
                raise Crash("power cut")

        model.register_forward_pre_hook(hook)
    res = T.train(model, X, y, epochs=epochs, lr=[(0, 0.05), (2, 0.02)], momentum=0.9, weight_decay=1e-3,
                  batch_size=64, replacement=replacement, seed=7, checkpoint_dir=folder,
                  checkpoint_epochs=(0, 2, epochs), resume=resume, **kw)
    return model, res


@pytest.mark.parametrize("replacement", [False, True])
def test_resume_after_interruptions_is_bit_identical(tmp_path, replacement):
    k = 4
    straight, res0 = _lenet_run(tmp_path / "straight", k, replacement=replacement)
    # (a) a clean stop after j = 1 epochs, then a call that continues to k
    _lenet_run(tmp_path / "stop", 1, replacement=replacement)
    stopped, res_a = _lenet_run(tmp_path / "stop", k, replacement=replacement, resume=True)
    # (b) a crash in the middle of epoch 3 (3 steps per epoch: forward #8), then resume
    with pytest.raises(Crash):
        _lenet_run(tmp_path / "crash", k, replacement=replacement, crash_after_forwards=7)
    assert T.load_checkpoint(tmp_path / "crash" / "last.pt")["epoch"] == 2
    crashed, res_b = _lenet_run(tmp_path / "crash", k, replacement=replacement, resume=True)

    assert res0.resumed_from is None and res_a.resumed_from == 1 and res_b.resumed_from == 2
    for other, res in ((stopped, res_a), (crashed, res_b)):
        assert _same_state(other.state_dict(), straight.state_dict())
        assert _strip(res.history) == _strip(res0.history)
    # the momentum buffers too
    a = T.load_checkpoint(tmp_path / "straight" / "last.pt")["optimizer"]["state"]
    b = T.load_checkpoint(tmp_path / "crash" / "last.pt")["optimizer"]["state"]
    assert a.keys() == b.keys() and all(torch.equal(a[i]["momentum_buffer"], b[i]["momentum_buffer"]) for i in a)
    # and the test is not vacuous: training moved the weights, and the epochs' batches differed
    init = T.load_checkpoint(tmp_path / "straight" / "epoch_0000.pt")["model"]
    assert not torch.equal(init["features.0.weight"], straight.state_dict()["features.0.weight"])


def test_resume_without_restoring_rng_would_differ(tmp_path):
    """Control for the resume test: resuming with a mismatched RNG stream gives other weights."""
    straight, _ = _lenet_run(tmp_path / "a", 3)
    _lenet_run(tmp_path / "b", 2)
    ck = T.load_checkpoint(tmp_path / "b" / "last.pt")
    ck["generator"] = torch.Generator().manual_seed(123).get_state()
    T.save_checkpoint(tmp_path / "b" / "last.pt", ck)
    other, _ = _lenet_run(tmp_path / "b", 3, resume=True)
    assert not _same_state(other.state_dict(), straight.state_dict())


def test_checkpoint_files_are_loadable_weights_only_and_kept_at_chosen_epochs(tmp_path):
    model, res = _lenet_run(tmp_path, 3)
    assert sorted(os.listdir(tmp_path)) == ["epoch_0000.pt", "epoch_0002.pt", "epoch_0003.pt", "last.pt"]
    assert list(res.checkpoints) == [0, 2, 3] and T.list_checkpoints(tmp_path) == res.checkpoints
    ck = torch.load(tmp_path / "epoch_0002.pt", weights_only=True)
    assert ck["epoch"] == 2 and len(ck["history"]) == 2 and ck["format"] == T.CHECKPOINT_FORMAT
    fresh = models.build("small-lenet", seed=0)
    assert _same_state(fresh.state_dict(), T.load_checkpoint(tmp_path / "epoch_0000.pt")["model"])
    T.load_checkpoint(tmp_path / "epoch_0003.pt", fresh)
    assert _same_state(fresh.state_dict(), model.state_dict())
    assert T.latest_checkpoint(tmp_path).name == "last.pt"
    # a finished run resumed again does nothing and returns its history
    again, res2 = _lenet_run(tmp_path, 3, resume=True)
    assert _same_state(again.state_dict(), model.state_dict()) and res2.history == res.history


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "c.pt"
    T.save_checkpoint(path, {"format": T.CHECKPOINT_FORMAT, "epoch": 1, "w": torch.ones(3)})

    def broken_save(obj, fh):
        fh.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        T.save_checkpoint(path, {"format": T.CHECKPOINT_FORMAT, "epoch": 2, "w": torch.zeros(3)})
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["c.pt"]  # no temporary file left behind
    assert T.load_checkpoint(path)["epoch"] == 1


def test_existing_checkpoints_need_resume_or_overwrite(tmp_path):
    _lenet_run(tmp_path, 1)
    with pytest.raises(FileExistsError, match="resume=True"):
        _lenet_run(tmp_path, 2)
    _, res = _lenet_run(tmp_path, 2, overwrite=True)
    assert res.resumed_from is None and len(res.history) == 2
    with pytest.raises(ValueError, match="batch_size: checkpoint 64, this call 32"):
        X, y = _blobs(**LENET_DATA)
        T.train(models.build("small-lenet"), X, y, epochs=3, batch_size=32, checkpoint_dir=tmp_path, resume=True)
    with pytest.raises(ValueError, match="training data differ"):
        T.train(models.build("small-lenet"), X + 1, y, epochs=3, batch_size=64, lr=0.05, weight_decay=1e-3,
                checkpoint_dir=tmp_path, resume=True)


# ------------------------------------------------------------------------------------------------
# divergence
# ------------------------------------------------------------------------------------------------
def test_divergence_stops_with_a_clear_message_and_keeps_the_last_good_checkpoint(tmp_path):
    X, y = _blobs(n=128)
    model = models.build("tiny-fc", 4, seed=0)
    with pytest.raises(T.TrainingDiverged, match=r"NaN or infinite in epoch 3 .* Lower the learning rate") as err:
        T.train(model, X, y, epochs=6, lr=lambda e: 0.05 if e < 2 else 1e38, batch_size=32, seed=0,
                checkpoint_dir=tmp_path)
    assert err.value.epoch == 3 and len(err.value.history) == 2
    good = T.load_checkpoint(tmp_path / "last.pt")
    assert good["epoch"] == 2 and err.value.checkpoint == tmp_path / "last.pt"
    assert all(torch.isfinite(v).all() for v in good["model"].values())
    assert _same_state(model.state_dict(), good["model"])  # the model was reloaded from it
    # resuming with a sane rate continues from epoch 2
    res = T.train(model, X, y, epochs=4, lr=0.01, batch_size=32, checkpoint_dir=tmp_path, resume=True)
    assert res.resumed_from == 2 and len(res.history) == 4


# ------------------------------------------------------------------------------------------------
# evaluation
# ------------------------------------------------------------------------------------------------
def test_evaluate_is_eval_mode_batched_and_matches_a_direct_computation():
    X, y = _blobs(n=130, shape=(1, 28, 28), k=10)
    model = models.build("small-lenet", seed=0)
    T.train(model, X, y, epochs=1, lr=0.05, batch_size=32, seed=0)  # non-trivial BN running stats
    model.train()
    r1 = T.evaluate(model, X, y, batch_size=7)
    r2 = T.evaluate(model, X, y, batch_size=1000)
    assert model.training  # mode restored
    with torch.no_grad():
        model.eval()
        out = model(X)
        model.train()
    loss = nn.functional.cross_entropy(out, y).item()
    err = (out.argmax(1) != y).double().mean().item()
    assert r1["error"] == r2["error"] == pytest.approx(err, abs=1e-12)
    assert r1["loss"] == pytest.approx(loss, rel=1e-5) and r2["loss"] == pytest.approx(loss, rel=1e-5)
    sq = sum((p.double() ** 2).sum().item() for p in model.parameters())
    r3 = T.evaluate(model, X, y, weight_decay=0.1)
    assert r3["loss"] == pytest.approx(r3["data_loss"] + 0.05 * sq, rel=1e-9)
    assert r3["n"] == 130


# ------------------------------------------------------------------------------------------------
# schedules and recipes
# ------------------------------------------------------------------------------------------------
def test_step_and_callable_schedules():
    s = T.make_schedule([(0, 0.1), (10, 0.01), (15, 0.001)])
    assert [s(e) for e in (0, 9, 10, 14, 15, 100)] == [0.1, 0.1, 0.01, 0.01, 0.001, 0.001]
    assert T.make_schedule(0.3)(7) == 0.3
    assert T.make_schedule(lambda e: 0.1 / (1 + e))(3) == pytest.approx(0.025)
    model = Recorder()
    res = T.train(model, *_indexed(20), epochs=3, lr=[(0, 0.1), (2, 0.01)], batch_size=10, seed=0)
    assert res.column("lr") == [0.1, 0.1, 0.01]


def test_recipes_run(tmp_path):
    r = T.recipe("small-allcnn")
    assert (r["epochs"], r["momentum"], r["weight_decay"], r["batch_size"]) == (50, 0.9, 1e-4, 128)
    assert T.recipe("small-lenet")["weight_decay"] == 0.0
    X, y = _blobs(n=300, k=10)
    res = T.train(models.build("small-fc", seed=0), X, y, seed=0, checkpoint_dir=tmp_path,
                  **T.recipe("small-fc", epochs=2, checkpoint_epochs=(0, 2)))
    assert res.history[-1]["lr"] == 0.1 and list(res.checkpoints) == [0, 2]


def test_progress_bar_and_thread_setting_run(capsys):
    X, y = _blobs(n=64)
    before = torch.get_num_threads()
    T.train(models.build("tiny-fc", 4), X, y, epochs=2, batch_size=32, progress=True, num_threads=1,
            eval_data={"test": (X, y)})
    assert torch.get_num_threads() == before
    err = capsys.readouterr().err  # tqdm writes the bar to stderr
    assert "tiny-fc" in err and "test_acc=" in err and "loss=" in err


# ------------------------------------------------------------------------------------------------
# bad input
# ------------------------------------------------------------------------------------------------
X0, Y0 = _blobs(n=64)


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(lr=0.0), ValueError, "learning rate eta must be a positive"),
        (dict(lr=-0.1), ValueError, "use learning rate eta > 0"),
        (dict(lr=[(0, 0.1), (1, 0.0)]), ValueError, "learning rate eta must be a positive"),
        (dict(lr=[(1, 0.1)]), ValueError, "must start at epoch 0"),
        (dict(lr=lambda e: 0.1 if e == 0 else -1), ValueError, "schedule returned -1 at epoch 1"),
        (dict(batch_size=65), ValueError, "larger than the dataset.*replacement=True"),
        (dict(batch_size=0), ValueError, "batch size b must be at least 1"),
        (dict(momentum=1.0), ValueError, r"momentum must be in \[0, 1\)"),
        (dict(weight_decay=-1e-4), ValueError, "weight_decay must be"),
        (dict(epochs=2.5), TypeError, "epochs must be an integer"),
        (dict(seed=None), ValueError, "pass seed=<int> or generator"),
        (dict(checkpoint_epochs=(1,)), ValueError, "resume=True and checkpoint_epochs need checkpoint_dir"),
        (dict(device="gpu"), ValueError, "unknown device 'gpu'"),
        (dict(batch_size=63), ValueError, "final batch of 1 example.*drop_last=True"),
    ],
)
def test_bad_training_arguments(kwargs, exc, match):
    args = dict(epochs=2, lr=0.1, batch_size=16)
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        T.train(models.build("tiny-fc", 4), X0, Y0, **args)


def test_batch_larger_than_data_is_fine_with_replacement():
    res = T.train(models.build("tiny-fc", 4), X0, Y0, epochs=1, batch_size=100, replacement=True, seed=0)
    assert res.epochs_done == 1


@pytest.mark.parametrize(
    "X, y, exc, match",
    [
        (X0, Y0[:-1], ValueError, "different lengths: X has 64 examples, y has 63 labels"),
        (X0.view(64, 7, 7)[:, :5], Y0, ValueError, r"expects \(49,\)"),
        ((X0 * 255).to(torch.uint8), Y0, TypeError, r"float\(\) / 255"),
        (X0, Y0.float(), TypeError, r"y.long\(\)"),
        (X0, Y0 + 1, ValueError, "labels in \\[1, 4\\], but the model has 4 classes"),
        (X0.numpy(), Y0, TypeError, "must be torch tensors"),
    ],
)
def test_bad_data(X, y, exc, match):
    with pytest.raises(exc, match=match):
        T.train(models.build("tiny-fc", 4), X, y, epochs=1, batch_size=16)


def test_wrong_image_shape_for_a_conv_net():
    with pytest.raises(ValueError, match=r"expects \(1, 28, 28\).*unsqueeze\(1\)"):
        T.train(models.build("small-lenet"), torch.zeros(8, 28, 28), torch.zeros(8, dtype=torch.long), epochs=1,
                batch_size=4)
