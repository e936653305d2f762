"""Mini-batch gradient noise: the diffusion matrix D and the exact mini-batch covariance.

Notation (paper, Definition 1): ``G`` is the N×d matrix whose row k is the per-sample gradient
g_k = ∇f_k(x); the full gradient is g = mean of the rows. The diffusion matrix is

    D = (1/N) Σ_k g_k g_kᵀ − g gᵀ        (population covariance of the rows of G).

The mini-batch gradient ∇f_b averages b rows. Its covariance is exactly

    with replacement:     D / b
    without replacement:  (1/b) (1 − b/N) · N/(N − 1) · D

Used in: 01_minibatch_noise, 02_sgd_as_sde.
"""
from __future__ import annotations

import numpy as np


def _as_gradient_matrix(G) -> np.ndarray:
    G = np.asarray(G, dtype=float)
    if G.ndim != 2:
        raise ValueError(
            f"G must be an N×d matrix of per-sample gradients (one row per example), got shape {G.shape}; "
            "reshape a 1-D array of scalar gradients with G[:, None]"
        )
    if G.shape[0] < 2:
        raise ValueError(f"G needs at least two rows (examples) to have a covariance, got N={G.shape[0]}")
    if not np.all(np.isfinite(G)):
        raise ValueError("G contains NaN or infinite entries")
    return G


def _check_batch_size(b, N: int, replacement: bool) -> int:
    if isinstance(b, bool) or not isinstance(b, (int, np.integer)):
        raise TypeError(f"batch size b must be an integer, got {b!r}")
    b = int(b)
    if b < 1:
        raise ValueError(f"batch size b must be at least 1, got {b}")
    if not replacement and b > N:
        raise ValueError(
            f"batch size b={b} is larger than the dataset (N={N}): without replacement a batch has at most N "
            "examples; use b <= N or replacement=True"
        )
    return b


def diffusion_matrix(G) -> np.ndarray:
    """D = (1/N) Σ g_k g_kᵀ − g gᵀ for the N×d per-sample gradient matrix ``G`` (Definition 1)."""
    G = _as_gradient_matrix(G)
    centred = G - G.mean(axis=0)
    return centred.T @ centred / G.shape[0]


def without_replacement_factor(b: int, N: int) -> float:
    """The factor (1 − b/N)·N/(N − 1) that sampling without replacement puts in front of D/b."""
    b = _check_batch_size(b, N, replacement=False)
    if N < 2:
        raise ValueError(f"need N >= 2 examples, got N={N}")
    return (1.0 - b / N) * N / (N - 1)


def minibatch_covariance(G, b: int, replacement: bool = True) -> np.ndarray:
    """Exact covariance of the mini-batch gradient ∇f_b = (1/b) Σ_{k∈batch} g_k.

    ``G`` is the N×d matrix of per-sample gradients, ``b`` the batch size. With replacement the
    b indices are i.i.d. uniform; without replacement the batch is a uniformly random b-subset.
    """
    G = _as_gradient_matrix(G)
    N = G.shape[0]
    b = _check_batch_size(b, N, replacement)
    D = diffusion_matrix(G)
    factor = 1.0 if replacement else without_replacement_factor(b, N)
    return factor * D / b


def sample_minibatch_gradients(G, b: int, draws: int, replacement: bool = True, rng=None, chunk: int = 50_000):
    """Monte Carlo: ``draws`` independent mini-batch gradients, as a draws×d array.

    ``rng`` is a ``numpy.random.Generator`` (or a seed). Without replacement each batch is a
    uniformly random b-subset, drawn by ranking i.i.d. uniforms (vectorised over draws).
    """
    G = _as_gradient_matrix(G)
    N, d = G.shape
    b = _check_batch_size(b, N, replacement)
    if isinstance(draws, bool) or not isinstance(draws, (int, np.integer)) or draws < 1:
        raise ValueError(f"draws must be a positive integer, got {draws!r}")
    rng = np.random.default_rng(rng)
    out = np.empty((int(draws), d))
    for start in range(0, draws, chunk):
        m = min(chunk, draws - start)
        if replacement:
            idx = rng.integers(0, N, size=(m, b))
        else:
            idx = np.argpartition(rng.random((m, N)), b - 1, axis=1)[:, :b] if b < N else np.tile(np.arange(N), (m, 1))
        out[start:start + m] = G[idx].mean(axis=1)
    return out
