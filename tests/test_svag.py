"""vdlib.deep.svag: SVAG(1) is plain SGD, SVAG(l) takes l times the steps at lr/l with the two-batch gradient."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vdlib.deep import models, svag
from vdlib.theory.discrete_sgd import svag_weights

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def task():
    g = torch.Generator().manual_seed(0)
    X = torch.rand(96, 49, generator=g)
    y = (X[:, :4].argmax(1)).long()  # a learnable 4-class rule
    return X, y


def _reference(X, y, l, lr, batch_size, steps, seed, init_seed=0):
    """SVAG written out with torch.optim.SGD and explicit per-parameter gradient copies."""
    net = models.build("tiny-fc", 4, seed=init_seed)
    net.train()
    opt = torch.optim.SGD(net.parameters(), lr=lr / l)
    gen = torch.Generator().manual_seed(seed)
    ws = svag_weights(l) if l > 1 else (1.0,)
    for _ in range(steps):
        grads = []
        for _w in ws:
            idx = torch.randint(0, len(y), (batch_size,), generator=gen)
            opt.zero_grad()
            F.cross_entropy(net(X[idx]), y[idx]).backward()
            grads.append([p.grad.clone() for p in net.parameters()])
        for k, p in enumerate(net.parameters()):
            p.grad = sum(w * g[k] for w, g in zip(ws, grads))
        opt.step()
    with torch.no_grad():
        return float(F.cross_entropy(net(X), y))


@pytest.mark.parametrize("l", [1, 3])
def test_svag_run_matches_a_written_out_reference(task, l):
    X, y = task
    run = svag.svag_run(X, y, l=l, lr=0.5, batch_size=8, sde_time=5.0, seed=4)
    assert run.steps == round(5.0 * l / 0.5)
    assert run.loss == pytest.approx(_reference(X, y, l, 0.5, 8, run.steps, 4), rel=1e-5)


def test_training_lowers_the_loss_and_seeds_differ(task):
    X, y = task
    net = models.build("tiny-fc", 4, seed=0)
    with torch.no_grad():
        start = float(F.cross_entropy(net(X), y))
    runs = [svag.svag_run(X, y, l=2, lr=0.5, batch_size=16, sde_time=20.0, seed=s) for s in (0, 1)]
    assert all(r.loss < 0.8 * start for r in runs)
    assert runs[0].loss != runs[1].loss


def test_tiny_task_gives_the_7x7_class_subset():
    X, y, info = svag.tiny_task(per_class=16)
    assert X.shape == (64, 49) and X.dtype == torch.float32 and 0 <= float(X.min()) and float(X.max()) <= 1
    assert sorted(torch.unique(y).tolist()) == [0, 1, 2, 3] and info["N"] == 64 and info["why"]


@pytest.mark.parametrize("kwargs, err, match", [
    (dict(l=0), ValueError, "at least 1"),
    (dict(lr=-1.0), ValueError, "positive"),
    (dict(batch_size=0), ValueError, "at least 1"),
    (dict(sde_time=0.01), ValueError, "shorter than one step"),
])
def test_bad_input_is_a_clear_error(task, kwargs, err, match):
    X, y = task
    args = dict(l=1, lr=0.5, batch_size=8, sde_time=1.0, seed=0) | kwargs
    with pytest.raises(err, match=match):
        svag.svag_run(X, y, **args)


def test_bad_data_is_a_clear_error():
    with pytest.raises(ValueError, match="tiny_task"):
        svag.svag_run(np.zeros((4, 49)), np.zeros(4), l=1, lr=0.1, batch_size=2, sde_time=1.0, seed=0)


def test_an_sde_time_that_is_not_a_whole_number_of_steps_is_refused(task):
    X, y = task
    with pytest.raises(ValueError, match="whole number of steps"):
        svag.svag_run(X, y, l=1, lr=0.6, batch_size=8, sde_time=4.0, seed=0)
