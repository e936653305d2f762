"""Entropy-SGD (Chaudhari et al., ICLR 2017) against plain SGD on the book's small networks, at equal gradients.

Entropy-SGD descends the negative local entropy −F_γ (:mod:`vdlib.theory.local_entropy`), whose gradient
is γ(x − ⟨x′⟩). Each outer step estimates ⟨x′⟩ with L steps of stochastic-gradient Langevin dynamics
(SGLD) on f(x′) + γ/2 ‖x − x′‖², started at x, and an exponential average μ (Algorithm 1 of the paper):

    x′, μ ← x;  for l = 1..L:  x′ ← x′ − η′(∇f_B(x′) − γ(x − x′)) + ε√(2η′) ξ,  μ ← (1 − α)μ + αx′;
    x ← x − η(x − μ);  γ ← γ(1 + scoping).

Algorithm 1 writes the outer step as x ← x − ηγ(x − μ); the authors' code (``ucla-vision/entropy-sgd``)
folds γ into η, and so does this module.

One outer step costs L mini-batch gradients, so a run of G gradient evaluations has G // L outer steps;
plain SGD gets the same G mini-batch gradients (:func:`sgd_run`).

The networks have BatchNorm. Every mini-batch gradient uses its batch statistics; before any
evaluation the running statistics are set to the exact statistics of the whole training set
(:func:`calibrate_batchnorm`) and the network is evaluated in eval mode, so train loss, test error and
the flatness measures are functions of the weights alone.

Flatness: :func:`top_hessian_eigenvalue` (power iteration on Hessian-vector products of the full-batch
training loss; :func:`power_iteration` is the generic routine, calibrated on known matrices in the
tests) and :func:`perturbed_loss_increase` (mean loss increase under random weight perturbations of
fixed norm relative to ‖θ‖).

Used in: 17_local_entropy.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .. import checks
from . import data as vdata
from . import models

__all__ = ["small_task", "RunResult", "sgd_run", "entropy_sgd_run", "calibrate_batchnorm", "evaluate",
           "power_iteration", "top_hessian_eigenvalue", "perturbed_loss_increase"]


def small_task(dataset: str = "auto", classes=tuple(range(10)), per_class: int = 100, test_per_class: int = 100,
               seed: int = 0, root=None):
    """``(X, y, X_test, y_test, info)``: 7×7 images (N, 49) in [0, 1] of ``classes``, ``per_class`` each for training.

    ``dataset="auto"`` uses :func:`vdlib.deep.data.mnist_choice`; ``info`` says which data, from where and why.

    Used in: 17_local_entropy
    """
    per_class = checks.integer(per_class, "per_class", minimum=1)
    test_per_class = checks.integer(test_per_class, "test_per_class", minimum=1)
    name, why = vdata.mnist_choice(dataset, root)
    ds = vdata.load(name, root)
    out = []
    for split, n in (("train", per_class), ("test", test_per_class)):
        x, y = ds.split(split)
        xs, ys = vdata.class_subset(x, y, classes, per_class=n, seed=seed)
        x7 = vdata.downsample(xs, 7, method="bilinear").reshape(len(ys), 49) / np.float32(255.0)
        out += [torch.from_numpy(np.ascontiguousarray(x7, dtype=np.float32)),
                torch.from_numpy(np.asarray(ys, dtype=np.int64))]
    info = {"dataset": name, "source": ds.source, "why": why, "N": int(len(out[1])), "N_test": int(len(out[3])),
            "classes": list(classes)}
    return (*out, info)


@dataclass
class RunResult:
    """The end of one run: losses and errors (BatchNorm calibrated on the training set), settings."""

    method: str
    seed: int
    grad_evals: int
    train_loss: float
    train_error: float
    test_loss: float
    test_error: float
    settings: dict = field(default_factory=dict)
    net: nn.Module | None = field(default=None, repr=False)


def _check_data(X, y, name="X"):
    if not (torch.is_tensor(X) and torch.is_tensor(y)) or X.ndim != 2 or y.ndim != 1 or len(X) != len(y):
        raise ValueError(f"{name} must be a (N, features) tensor and its labels an (N,) tensor; use small_task()")


@torch.no_grad()
def calibrate_batchnorm(net: nn.Module, X: torch.Tensor) -> nn.Module:
    """Set every BatchNorm's running mean and variance to the exact statistics of ``X`` (one full batch).

    Used in: 17_local_entropy
    """
    bns = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average: after one batch, exactly that batch's statistics
    net.train()
    net(X)
    for m, mom in zip(bns, saved):
        m.momentum = mom
    net.eval()
    return net


@torch.no_grad()
def evaluate(net: nn.Module, X: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """(mean cross-entropy, error rate) of ``net`` in eval mode.

    Used in: 17_local_entropy
    """
    net.eval()
    out = net(X)
    return float(F.cross_entropy(out, y)), float((out.argmax(1) != y).float().mean())


def _fresh(model, X, y, init_seed):
    net = models.build(model, int(y.max()) + 1, seed=init_seed, n_inputs=X.shape[1])
    net.train()
    return net, [p for p in net.parameters() if p.requires_grad]


def _batch_grad(net, params, X, y, idx):
    net.zero_grad(set_to_none=True)
    F.cross_entropy(net(X[idx]), y[idx]).backward()
    return [p.grad for p in params]


def _finish(method, net, X, y, X_test, y_test, seed, grad_evals, settings, keep_net):
    calibrate_batchnorm(net, X)
    tr_loss, tr_err = evaluate(net, X, y)
    te_loss, te_err = evaluate(net, X_test, y_test)
    if not np.isfinite(tr_loss):
        raise FloatingPointError(f"{method} run diverged (seed {seed}); lower the learning rate")
    return RunResult(method=method, seed=int(seed), grad_evals=int(grad_evals), train_loss=tr_loss, train_error=tr_err,
                     test_loss=te_loss, test_error=te_err, settings=settings, net=net if keep_net else None)


def sgd_run(X, y, X_test, y_test, *, model: str = "small-fc", lr: float, batch_size: int, grad_evals: int, seed: int,
            init_seed: int | None = None, keep_net: bool = False, progress: Callable | None = None) -> RunResult:
    """Plain SGD (no momentum, no weight decay): ``grad_evals`` steps, batches drawn with replacement (seed ``seed``).

    The weights start from ``init_seed`` (default: ``seed``).

    Used in: 17_local_entropy
    """
    _check_data(X, y)
    _check_data(X_test, y_test, "X_test")
    lr = checks.learning_rate(lr)
    batch_size = checks.batch_size(batch_size, len(y))
    grad_evals = checks.integer(grad_evals, "grad_evals", minimum=1)
    net, params = _fresh(model, X, y, seed if init_seed is None else init_seed)
    gen = torch.Generator().manual_seed(int(seed))
    it = range(grad_evals) if progress is None else progress(range(grad_evals))
    for _ in it:
        grads = _batch_grad(net, params, X, y, torch.randint(0, len(y), (batch_size,), generator=gen))
        with torch.no_grad():
            torch._foreach_add_(params, grads, alpha=-lr)
    return _finish("sgd", net, X, y, X_test, y_test, seed, grad_evals,
                   dict(lr=lr, batch_size=batch_size, model=model), keep_net)


def entropy_sgd_run(X, y, X_test, y_test, *, model: str = "small-fc", lr: float = 1.0, gamma: float = 0.03,
                    scoping: float = 1e-3, inner_lr: float = 0.1, inner_steps: int = 20, noise: float = 1e-4,
                    alpha: float = 0.25, batch_size: int, grad_evals: int, seed: int, init_seed: int | None = None,
                    keep_net: bool = False, progress: Callable | None = None) -> RunResult:
    """Entropy-SGD for ``grad_evals // inner_steps`` outer steps, as the authors' code does it (without momentum).

    Inner SGLD: x′ ← x′ − η′(∇f_B(x′) − γ(x − x′)) + ε√(2η′) ξ, μ ← (1 − α)μ + αx′ (``inner_lr`` η′,
    ``noise`` ε, ``alpha`` α, ``inner_steps`` L); outer: x ← x − η(x − μ) with ``lr`` η (the code's form of
    Algorithm 1's x ← x − ηγ(x − μ), γ folded into η; η = 1 moves x to μ); then γ ← γ(1 + ``scoping``).
    Defaults: the code's η′ = 0.1, α = 0.25, L = 20, ε = 10⁻⁴, scoping 10⁻³, and the paper's CIFAR γ = 0.03.

    Used in: 17_local_entropy
    """
    _check_data(X, y)
    _check_data(X_test, y_test, "X_test")
    lr = checks.positive(lr, "lr (the outer step)")
    gamma = checks.positive(gamma, "gamma")
    inner_lr = checks.learning_rate(inner_lr)
    inner_steps = checks.integer(inner_steps, "inner_steps", minimum=1)
    batch_size = checks.batch_size(batch_size, len(y))
    grad_evals = checks.integer(grad_evals, "grad_evals", minimum=1)
    if scoping < 0 or noise < 0 or not 0 < alpha <= 1:
        raise ValueError(f"need scoping >= 0, noise >= 0 and 0 < alpha <= 1 (got {scoping}, {noise}, {alpha})")
    outer = grad_evals // inner_steps
    if outer < 1:
        raise ValueError(f"grad_evals={grad_evals} is less than one outer step of inner_steps={inner_steps} gradients")
    net, params = _fresh(model, X, y, seed if init_seed is None else init_seed)
    gen = torch.Generator().manual_seed(int(seed))
    noise_gen = torch.Generator().manual_seed(int(seed) + 10_000)
    noise_scale = noise * float(np.sqrt(2 * inner_lr))
    g_t = gamma
    it = range(outer) if progress is None else progress(range(outer))
    for _ in it:
        with torch.no_grad():
            anchor = [p.detach().clone() for p in params]
            mu = [p.detach().clone() for p in params]
        for _ in range(inner_steps):
            grads = _batch_grad(net, params, X, y, torch.randint(0, len(y), (batch_size,), generator=gen))
            with torch.no_grad():
                pull = torch._foreach_sub(anchor, params)              # x − x′
                torch._foreach_add_(params, grads, alpha=-inner_lr)    # −η′∇f_B(x′)
                torch._foreach_add_(params, pull, alpha=inner_lr * g_t)  # +η′γ(x − x′)
                if noise_scale > 0:
                    torch._foreach_add_(params, [torch.randn(p.shape, generator=noise_gen) for p in params],
                                        alpha=noise_scale)
                torch._foreach_mul_(mu, 1 - alpha)
                torch._foreach_add_(mu, params, alpha=alpha)
        with torch.no_grad():
            for p, a, m in zip(params, anchor, mu):
                p.copy_(a - lr * (a - m))
        g_t *= 1 + scoping
    return _finish("entropy-sgd", net, X, y, X_test, y_test, seed, outer * inner_steps,
                   dict(lr=lr, gamma=gamma, scoping=scoping, inner_lr=inner_lr, inner_steps=inner_steps, noise=noise,
                        alpha=alpha, batch_size=batch_size, model=model, final_gamma=g_t), keep_net)


# ------------------------------------------------------------------------------------------
# flatness
# ------------------------------------------------------------------------------------------
def power_iteration(matvec: Callable[[torch.Tensor], torch.Tensor], dim: int, *, iters: int = 50, tol: float = 1e-4,
                    seed: int = 0) -> tuple[float, int]:
    """The eigenvalue of largest magnitude of a symmetric operator, and the iterations used.

    Stops when the Rayleigh quotient changes by less than ``tol`` (relative) or after ``iters`` steps.

    Used in: 17_local_entropy
    """
    dim = checks.integer(dim, "dim", minimum=1)
    iters = checks.integer(iters, "iters", minimum=1)
    v = torch.randn(dim, generator=torch.Generator().manual_seed(int(seed)), dtype=torch.float64)
    v /= v.norm()
    lam = 0.0
    for k in range(1, iters + 1):
        w = matvec(v.to(torch.get_default_dtype())).to(torch.float64)
        new = float(v @ w)
        nrm = w.norm()
        if nrm == 0:
            return 0.0, k
        v = w / nrm
        if k > 1 and abs(new - lam) <= tol * abs(new):
            return new, k
        lam = new
    return lam, iters


def _flat_loss(net, X, y):
    params = [p for p in net.parameters() if p.requires_grad]
    shapes = [p.shape for p in params]
    sizes = [p.numel() for p in params]
    theta0 = torch.cat([p.detach().reshape(-1) for p in params])
    names = [n for n, p in net.named_parameters() if p.requires_grad]

    def loss(theta):
        chunks = torch.split(theta, sizes)
        pd = {n: c.reshape(s) for n, c, s in zip(names, chunks, shapes)}
        return F.cross_entropy(torch.func.functional_call(net, pd, (X,)), y)

    return loss, theta0


def top_hessian_eigenvalue(net: nn.Module, X: torch.Tensor, y: torch.Tensor, *, iters: int = 50, tol: float = 1e-4,
                           seed: int = 0) -> float:
    """Largest-magnitude eigenvalue of the Hessian of the full-batch training loss (eval mode), by power iteration.

    Used in: 17_local_entropy
    """
    _check_data(X, y)
    net.eval()
    loss, theta0 = _flat_loss(net, X, y)

    theta = theta0.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(loss(theta), theta, create_graph=True)

    def hvp(v):
        return torch.autograd.grad(grad, theta, grad_outputs=v, retain_graph=True)[0].detach()

    return power_iteration(hvp, theta0.numel(), iters=iters, tol=tol, seed=seed)[0]


@torch.no_grad()
def perturbed_loss_increase(net: nn.Module, X: torch.Tensor, y: torch.Tensor, *, relative_radius: float,
                            n_directions: int = 20, seed: int = 0) -> tuple[float, float]:
    """Mean and standard error of L(θ + r‖θ‖u) − L(θ) over ``n_directions`` uniform unit vectors u (eval mode).

    Used in: 17_local_entropy
    """
    _check_data(X, y)
    r = checks.positive(relative_radius, "relative_radius")
    n = checks.integer(n_directions, "n_directions", minimum=2)
    net.eval()
    loss, theta0 = _flat_loss(net, X, y)
    base = float(loss(theta0))
    gen = torch.Generator().manual_seed(int(seed))
    rises = []
    for _ in range(n):
        u = torch.randn(theta0.shape, generator=gen, dtype=theta0.dtype)
        rises.append(float(loss(theta0 + r * theta0.norm() * u / u.norm())) - base)
    rises = np.asarray(rises)
    return float(rises.mean()), float(rises.std(ddof=1) / np.sqrt(n))
