"""vdlib.deep.entropy_sgd: the Entropy-SGD loop, SGD, BatchNorm calibration and the flatness measures."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vdlib.deep import entropy_sgd as es
from vdlib.deep import models


def _toy(n=64, d=6, k=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g)
    y = (X[:, 0] > 0).long() + (X[:, 1] > 0.5).long()
    return X, y, X[: n // 2], y[: n // 2]


def test_power_iteration_finds_the_top_eigenvalue():
    rng = np.random.default_rng(0)
    Q, _ = np.linalg.qr(rng.standard_normal((30, 30)))
    for top in (7.0, -9.0):  # largest magnitude, positive or negative
        evals = np.concatenate([[top], rng.uniform(-3, 3, 29)])
        A = torch.tensor(Q @ np.diag(evals) @ Q.T)
        lam, _ = es.power_iteration(lambda v: A.to(v.dtype) @ v, 30, iters=500, tol=1e-10)
        assert lam == pytest.approx(top, rel=1e-6)


def test_top_hessian_eigenvalue_matches_the_exact_hessian():
    X, y, _, _ = _toy()
    net = models.build("tiny-fc", 3, seed=0, hidden=4, n_inputs=6)
    es.calibrate_batchnorm(net, X)
    loss, theta0 = es._flat_loss(net, X, y)
    H = torch.autograd.functional.hessian(loss, theta0.detach())
    ev = torch.linalg.eigvalsh(H.double())
    top = float(ev[torch.argmax(ev.abs())])
    assert es.top_hessian_eigenvalue(net, X, y, iters=2000, tol=1e-9) == pytest.approx(top, rel=1e-3)


def test_perturbation_rise_matches_half_trace_over_d_for_small_radius():
    """E[L(θ + r‖θ‖u) − L(θ)] ≈ ½ r²‖θ‖² tr(H)/d for uniform unit u (the gradient term averages out)."""
    X, y, _, _ = _toy()
    net = models.build("tiny-fc", 3, seed=0, hidden=4, n_inputs=6)
    es.calibrate_batchnorm(net, X)
    loss, theta0 = es._flat_loss(net, X, y)
    H = torch.autograd.functional.hessian(loss, theta0.detach())
    r = 1e-3
    pred = 0.5 * r**2 * float(theta0.norm()) ** 2 * float(torch.trace(H)) / theta0.numel()
    mean, se = es.perturbed_loss_increase(net, X, y, relative_radius=r, n_directions=1000, seed=1)
    assert abs(mean - pred) < 4 * se + 0.05 * abs(pred)


def test_calibrate_batchnorm_sets_exact_training_statistics():
    X, y, _, _ = _toy()
    net = models.build("tiny-fc", 3, seed=0, hidden=4, n_inputs=6)
    es.calibrate_batchnorm(net, X)
    lin, bn = net.net[1], net.net[2]
    with torch.no_grad():
        z = lin(X)
    assert torch.allclose(bn.running_mean, z.mean(0), atol=1e-6)
    assert not net.training


def test_entropy_sgd_with_one_inner_step_and_full_averaging_is_sgd():
    """L = 1, alpha = 1, noise 0, outer lr 1: x' = x − η'∇f_B(x) (γ term zero), μ = x', x ← μ: plain SGD."""
    X, y, Xt, yt = _toy()
    a = es.sgd_run(X, y, Xt, yt, model="tiny-fc", lr=0.1, batch_size=8, grad_evals=30, seed=3)
    b = es.entropy_sgd_run(X, y, Xt, yt, model="tiny-fc", lr=1.0, gamma=0.5, inner_lr=0.1, inner_steps=1,
                           noise=0.0, alpha=1.0, batch_size=8, grad_evals=30, seed=3)
    assert b.train_loss == pytest.approx(a.train_loss, rel=1e-5)
    assert b.test_error == a.test_error


def test_entropy_sgd_counts_gradients_and_coupling_matters():
    X, y, Xt, yt = _toy()
    r = es.entropy_sgd_run(X, y, Xt, yt, model="tiny-fc", batch_size=8, grad_evals=45, inner_steps=10, seed=0)
    assert r.grad_evals == 40 and r.settings["final_gamma"] == pytest.approx(0.03 * 1.001**4)
    strong = es.entropy_sgd_run(X, y, Xt, yt, model="tiny-fc", batch_size=8, grad_evals=40, inner_steps=10, seed=0,
                                gamma=50.0, inner_lr=0.01, noise=0.0)
    weak = es.entropy_sgd_run(X, y, Xt, yt, model="tiny-fc", batch_size=8, grad_evals=40, inner_steps=10, seed=0,
                              gamma=1e-6, inner_lr=0.01, noise=0.0)
    assert strong.train_loss != pytest.approx(weak.train_loss, rel=1e-6)


def test_training_lowers_the_loss():
    X, y, Xt, yt = _toy(n=128)
    net = models.build("tiny-fc", 3, seed=0, hidden=16, n_inputs=6)
    es.calibrate_batchnorm(net, X)
    with torch.no_grad():
        start = float(F.cross_entropy(net(X), y))
    for run in (es.sgd_run(X, y, Xt, yt, model="tiny-fc", lr=0.1, batch_size=16, grad_evals=200, seed=0, init_seed=0),
                es.entropy_sgd_run(X, y, Xt, yt, model="tiny-fc", batch_size=16, grad_evals=200, inner_steps=5,
                                   seed=0, init_seed=0)):
        assert run.train_loss < start


@pytest.mark.parametrize("kwargs, match", [
    (dict(grad_evals=5, inner_steps=10), "less than one outer step"),
    (dict(grad_evals=20, alpha=1.5), "alpha"),
    (dict(grad_evals=20, gamma=0.0), "gamma"),
    (dict(grad_evals=20, noise=-1.0), "noise"),
])
def test_entropy_sgd_bad_input(kwargs, match):
    X, y, Xt, yt = _toy()
    with pytest.raises(ValueError, match=match):
        es.entropy_sgd_run(X, y, Xt, yt, model="tiny-fc", batch_size=8, seed=0, **kwargs)


def test_bad_data_shapes_are_refused():
    X, y, Xt, yt = _toy()
    with pytest.raises(ValueError, match="small_task"):
        es.sgd_run(X[:, None], y, Xt, yt, model="tiny-fc", lr=0.1, batch_size=8, grad_evals=2, seed=0)
    with pytest.raises(ValueError, match="X_test"):
        es.sgd_run(X, y, Xt, yt[:3], model="tiny-fc", lr=0.1, batch_size=8, grad_evals=2, seed=0)
