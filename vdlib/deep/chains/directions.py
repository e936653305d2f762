"""The top eigen-directions of SGD's mini-batch noise covariance or of the Hessian at given weights.

The long trajectories are projected on 2-D planes (:func:`vdlib.analysis.summaries.group_summary`,
chapters 11 and 12): the top principal components of the trajectory itself, or the top eigenvectors
of the noise covariance Σ_B (∝ D) or of the Hessian at the last recorded weights. The last two need the
network: :func:`top_directions` computes them through the chain engine's own forward pass.
"""
from __future__ import annotations

import numpy as np
import torch

from .batched import _forward
from .engine import ChainEngine
from .network import Layout

__all__ = ["top_directions", "DIRECTION_KINDS"]

DIRECTION_KINDS = ("noise", "hessian")


def top_directions(X, y, lay: Layout, theta, kind: str, *, k: int = 2, seed: int = 0, batch_size: int = 128,
                   replacement: bool = False, noise_batches: int = 64):
    """Top-``k`` eigenvectors (d×k, unit columns) and eigenvalues at weights ``theta`` (one chain's flat
    vector in the layout ``lay``).

    ``kind="noise"``: of the mini-batch noise covariance Σ_B, from ``max(noise_batches, k + 2)``
    training-mode mini-batch gradients of size ``batch_size`` drawn with SGD's own scheme
    (``replacement``) by a generator seeded with ``seed``: SGD's own noise, ∝ D. ``kind="hessian"``:
    of the full-batch Hessian of the training-mode loss (Lanczos on exact Hessian-vector products,
    ``torch.func.jvp`` of ``torch.func.grad``, float64; ``seed`` fixes the start vector).
    Eigenvalues in descending order.
    """
    from scipy.sparse.linalg import LinearOperator, eigsh

    if kind not in DIRECTION_KINDS:
        raise ValueError(f"kind must be one of {DIRECTION_KINDS}, got {kind!r}")
    Xd = X.double()
    th = torch.as_tensor(np.asarray(theta, dtype=np.float64))[None]
    # the learning rate does not enter gradients(); the engine only needs a valid one
    eng = ChainEngine(Xd, y, th, lay, seeds=[seed], lr=1.0, batch_size=batch_size, replacement=replacement)
    if kind == "noise":
        M = max(noise_batches, k + 2)
        gen = torch.Generator().manual_seed(seed)
        if replacement:
            idx = torch.randint(0, eng.N, (M, eng.batch_size), generator=gen)
        else:
            idx = torch.argsort(torch.rand(M, eng.N, generator=gen), dim=1)[:, :eng.batch_size]
        _, _, G = eng.gradients(idx, theta=th.expand(M, -1).contiguous())
        G = G.numpy() - G.numpy().mean(0)
        _, s, Vt = np.linalg.svd(G, full_matrices=False)
        return Vt[:k].T, (s[:k] ** 2 / (M - 1))
    Xf, yf = Xd.reshape(len(y), -1), y

    def loss(t):
        z, _ = _forward(t[None], Xf, lay, True)
        return torch.nn.functional.cross_entropy(z[0].t(), yf)

    grad = torch.func.grad(loss)
    t0 = th[0]

    def hv(v):
        v = torch.as_tensor(np.asarray(v, dtype=np.float64).ravel())
        return torch.func.jvp(grad, (t0,), (v,))[1].numpy()

    op = LinearOperator((lay.d, lay.d), matvec=hv, dtype=np.float64)
    vals, vecs = eigsh(op, k=k, which="LA", v0=np.random.default_rng(seed).standard_normal(lay.d), tol=1e-6)
    order = np.argsort(vals)[::-1]
    return vecs[:, order], vals[order]
