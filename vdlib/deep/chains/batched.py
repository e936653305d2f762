"""The forward and backward pass of C chains at once (:func:`forward_backward`): batched matrix products,
BatchNorm with per-chain batch statistics, and the backward pass written out by hand (autograd through the
same forward pass is the test oracle)."""
from __future__ import annotations

import torch

from .network import Layout

BN_EPS = 1e-5  # nn.BatchNorm1d's default


# --------------------------------------------------------------------------------------------------
# batched forward and backward
# --------------------------------------------------------------------------------------------------
def _views(theta: torch.Tensor, lay: Layout) -> dict[str, torch.Tensor]:
    C = theta.shape[0]
    return {n: theta[:, sl].view(C, *shp) for n, (sl, shp) in lay._parts}


def _onehot(y: torch.Tensor, C: int, K: int, dtype) -> torch.Tensor:
    """(C, K, n) one-hot labels from (C, n) or shared (n,) labels."""
    oh = torch.nn.functional.one_hot(y, K).to(dtype)  # (..., n, K)
    oh = oh.transpose(-1, -2)
    return oh.unsqueeze(0).expand(C, K, y.shape[0]) if y.dim() == 1 else oh


def _forward(theta, x, lay: Layout, track: bool):
    """Logits ``z (C, K, n)`` and what the backward pass needs; activations are laid out (C, hidden, n).

    ``x`` is (C, n, I) (one batch per chain) or (n, I) (one batch shared by all chains: then the first
    layer is a single matrix product). BatchNorm in training mode normalises each (chain, unit) over the
    n examples of the batch: ``native_batch_norm`` on the (1, C·hidden, n) view does exactly that.
    ``track=True`` builds the autograd graph (the oracle); else the saved statistics are kept for the
    hand-written backward pass.
    """
    p = _views(theta, lay)
    C = theta.shape[0]
    if x.dim() == 2:
        a = torch.matmul(p["W1"], x.t())  # (C, H, I) @ (I, n): one GEMM
        a = a + p["b1"].unsqueeze(2)
    else:
        a = torch.baddbmm(p["b1"].unsqueeze(2), p["W1"], x.transpose(1, 2))  # (C, H, n)
    n = a.shape[2]
    cache = {"x": x, "n": n}
    if lay.batchnorm:
        flat = a.view(1, C * lay.hidden, n)
        gamma, beta = p["gamma"].reshape(-1), p["beta"].reshape(-1)
        if track:
            h = torch.nn.functional.batch_norm(flat, None, None, gamma, beta, training=True, eps=BN_EPS)
        else:
            h, mean, invstd = torch.native_batch_norm(flat, gamma, beta, None, None, True, 0.0, BN_EPS)
            cache.update(a=flat, gamma=gamma, mean=mean, invstd=invstd)
        h = h.view(C, lay.hidden, n)
    else:
        h = a
    r = h.clamp_min(0)
    z = torch.baddbmm(p["b2"].unsqueeze(2), p["W2"], r)  # (C, K, n)
    cache.update(r=r, p=p)
    return z, cache


def _wrong(logp: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """Misclassified examples per chain: the true class's log-probability is below the largest.

    (``argmax`` over the short class axis is ~100× slower than ``amax`` on the CPU; exact ties, which
    argmax would break by index, have probability zero.)"""
    return (true < logp.amax(1)).sum(1)


def _gather(X: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """``X[idx]`` for a flat index vector (``F.embedding`` is several times faster than advanced indexing)."""
    if X.ndim == 2:
        return torch.nn.functional.embedding(idx, X)
    return X.index_select(0, idx)


def forward_backward(theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor, lay: Layout, *,
                     need_loss: bool = True, backend: str = "manual", onehot: torch.Tensor | None = None):
    """Per-chain mean cross-entropy, error count and gradient for a batch of chains.

    Parameters
    ----------
    theta : (C, d) tensor
        The weights of C chains in the layout ``lay``.
    x : (C, n, n_inputs) or (n, n_inputs) tensor
        Each chain's batch, or one batch shared by all chains (the full-batch gradient).
    y : (C, n) or (n,) int64 tensor
        Labels in ``0 .. K-1``.
    lay : Layout
    need_loss : bool
        Compute the loss and error count (the SGD step does not need them).
    backend : {"manual", "autograd"}
        The hand-written backward pass, or autograd through the same forward pass (the oracle).
    onehot : (C, K, n) tensor, optional
        The labels one-hot encoded (the engine prepares them once per epoch).

    Returns
    -------
    loss : (C,) tensor or None
        Mean cross-entropy over the n examples, per chain (BatchNorm in training mode, batch statistics).
    wrong : (C,) int64 tensor or None
        Misclassified examples per chain.
    grad : (C, d) tensor
        The gradient of each chain's own loss with respect to its own weights.
    """
    C = theta.shape[0]
    if backend not in ("manual", "autograd"):
        raise ValueError(f"backend must be 'manual' or 'autograd', got {backend!r}")
    if onehot is None:
        onehot = _onehot(y, C, lay.num_classes, theta.dtype)
    if backend == "autograd":
        with torch.enable_grad():
            th = theta.detach().requires_grad_(True)
            z, cache = _forward(th, x, lay, track=True)
            logp = torch.log_softmax(z, 1)
            true = (logp * onehot).sum(1)
            loss = -true.mean(1)
            (grad,) = torch.autograd.grad(loss.sum(), th)
        return loss.detach(), _wrong(logp.detach(), true.detach()), grad
    z, cache = _forward(theta, x, lay, track=False)
    n, p, r = cache["n"], cache["p"], cache["r"]
    loss = wrong = None
    if need_loss:
        logp = torch.log_softmax(z, 1)
        true = (logp * onehot).sum(1)  # (C, n)
        loss = -true.mean(1)
        wrong = _wrong(logp, true)
        dz = logp.exp_()
    else:
        dz = torch.softmax(z, 1)
    dz.sub_(onehot).mul_(1.0 / n)  # d(mean CE)/dz, (C, K, n)
    dW2 = torch.bmm(dz, r.transpose(1, 2))  # (C, K, H)
    db2 = dz.sum(2)
    dh = torch.ops.aten.threshold_backward(torch.bmm(p["W2"].transpose(1, 2), dz), r, 0)  # (C, H, n)
    if lay.batchnorm:
        da, dgamma, dbeta = torch.ops.aten.native_batch_norm_backward(
            dh.view(1, C * lay.hidden, n), cache["a"], cache["gamma"], None, None, cache["mean"], cache["invstd"],
            True, BN_EPS, [True, True, True])
        da = da.view(C, lay.hidden, n)
    else:
        da = dh
    x = cache["x"]
    dW1 = torch.matmul(da, x)  # (C, H, n) @ (C, n, I) or shared (n, I): (C, H, I)
    db1 = da.sum(2)
    parts = [dW1.reshape(C, -1), db1]
    if lay.batchnorm:
        parts += [dgamma.view(C, -1), dbeta.view(C, -1)]
    parts += [dW2.reshape(C, -1), db2]
    return loss, wrong, torch.cat(parts, 1)
