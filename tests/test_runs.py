"""vdlib.deep.runs: the short live runs of chapters 11 and 12 (weight paths, SGD or the reversible
control from given weights, learning-rate groups with divergence frozen at NaN)."""
import numpy as np
import pytest
import torch

from vdlib.deep import chains as ch
from vdlib.deep import runs

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def problem():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(96, 49, generator=g)
    y = torch.randint(0, 4, (96,), generator=g)
    lay = ch.layout("tiny-fc", 4)
    theta0 = ch.init_weights(lay, [5])[0]
    return X, y, lay, theta0


def _by_hand(X, y, theta0, lay, epochs, **kw):
    eng = ch.ChainEngine(X, y, theta0, lay, **kw)
    W = [eng.theta.numpy().copy()]
    for _ in range(epochs):
        eng.run_epoch()
        W.append(eng.theta.numpy().copy())
    return np.stack(W, axis=1)


def test_weight_path_records_the_start_and_every_epoch(problem):
    X, y, lay, theta0 = problem
    eng = ch.ChainEngine(X, y, theta0, lay, seeds=[0, 1], lr=0.1, batch_size=32)
    W = runs.weight_path(eng, 3)
    assert W.shape == (2, 4, lay.d) and eng.epoch == 3
    np.testing.assert_array_equal(W[:, 0], np.stack([theta0.numpy()] * 2))
    np.testing.assert_array_equal(W[:, -1], eng.theta.numpy())
    assert runs.weight_path(eng, 0).shape == (2, 1, lay.d)
    with pytest.raises(ValueError, match="epochs must be at least 0"):
        runs.weight_path(eng, -1)


def test_short_run_is_the_engine_loop_with_seeds_first_seed_plus_i(problem):
    X, y, lay, theta0 = problem
    W = runs.short_run(X, y, theta0, lay, lr=0.1, batch_size=32, momentum=0.9, epochs=3, chains=2, first_seed=4)
    ref = _by_hand(X, y, theta0.expand(2, -1), lay, 3, seeds=[4, 5], lr=0.1, momentum=0.9, batch_size=32)
    np.testing.assert_array_equal(W, ref)
    assert not np.array_equal(W[0], W[1]), "the two chains draw different batches"


def test_the_langevin_control_matches_sgds_noise_trace_at_the_start(problem):
    X, y, lay, theta0 = problem
    W = runs.short_run(X, y, theta0, lay, lr=0.05, batch_size=32, momentum=0.0, epochs=2, chains=2,
                       first_seed=1, langevin=True, noise_batches=8)
    probe = ch.ChainEngine(X, y, theta0, lay, seeds=[1, 2], lr=0.05, batch_size=32)
    sigma = ch.matched_noise_std(probe.noise_trace(8, seed=1)["trace"], lay.d)
    ref = _by_hand(X, y, theta0, lay, 2, seeds=[1, 2], lr=0.05, batch_size=32, full_batch=True, noise_std=sigma)
    np.testing.assert_array_equal(W, ref)
    plain = runs.short_run(X, y, theta0, lay, lr=0.05, batch_size=32, momentum=0.0, epochs=2, chains=2, first_seed=1)
    assert not np.allclose(W, plain)


def test_lr_groups_runs_every_rate_in_one_engine(problem):
    X, y, lay, theta0 = problem
    out, eng = runs.lr_groups(X, y, theta0, lay, [0.05, 0.1], 32, chains=2, epochs=3, momentum=0.9, first_seed=7)
    assert eng.seeds == [7, 8, 9, 10] and eng.lr == [0.05, 0.05, 0.1, 0.1]
    assert list(out) == [0.05, 0.1]
    for r in out.values():
        assert r["loss"].shape == r["grad_norm"].shape == r["norm"].shape == (2, 4)
        assert r["disp"].shape == (2, 3) and not r["diverged"].any()
        assert np.isfinite(r["loss"]).all()
    ref = _by_hand(X, y, theta0, lay, 3, seeds=[7, 8, 9, 10], lr=[0.05, 0.05, 0.1, 0.1], momentum=0.9,
                   batch_size=32)
    np.testing.assert_allclose(out[0.1]["norm"][:, -1], np.linalg.norm(ref[2:, -1], axis=1), rtol=1e-6)
    np.testing.assert_allclose(out[0.05]["disp"], np.square(np.diff(ref[:2], axis=1)).sum(-1), rtol=1e-5)
    ev = ch.ChainEngine(X, y, theta0, lay, seeds=[0], lr=0.1, batch_size=32).evaluate()
    np.testing.assert_allclose(out[0.05]["loss"][:, 0], ev["loss"].numpy()[0])


def test_lr_groups_freezes_a_diverging_group_at_nan(problem):
    X, y, lay, theta0 = problem
    out, _ = runs.lr_groups(X, y, theta0, lay, [0.05, 1e6], 32, chains=1, epochs=3, momentum=0.9)
    assert not out[0.05]["diverged"].any() and np.isfinite(out[0.05]["loss"]).all()
    assert out[1e6]["diverged"].all() and np.isnan(out[1e6]["loss"][:, -1]).all()


def test_lr_groups_bad_input(problem):
    X, y, lay, theta0 = problem
    with pytest.raises(ValueError, match="lrs is empty"):
        runs.lr_groups(X, y, theta0, lay, [], 32, chains=1, epochs=1)
    with pytest.raises(ValueError, match="chains must be at least 1"):
        runs.lr_groups(X, y, theta0, lay, [0.1], 32, chains=0, epochs=1)
    with pytest.raises(TypeError, match="epochs must be an integer"):
        runs.short_run(X, y, theta0, lay, lr=0.1, batch_size=32, momentum=0.0, epochs=1.5)
