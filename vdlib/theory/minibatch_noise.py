"""Mini-batch gradient noise: the diffusion matrix D and the exact mini-batch covariance.

Notation (paper, Definition 1): ``G`` is the N×d matrix whose row k is the per-sample gradient
g_k = ∇f_k(x); the full gradient is g = mean of the rows. The diffusion matrix is

    D = (1/N) Σ_k g_k g_kᵀ − g gᵀ        (population covariance of the rows of G).

The mini-batch gradient ∇f_b averages b rows. Its covariance is exactly

    with replacement:     D / b
    without replacement:  (1/b) (1 − b/N) · N/(N − 1) · D

Three independent routes to these numbers live here: the formula (:func:`minibatch_covariance`),
brute-force enumeration of every possible batch (:func:`enumerate_minibatch_covariance`), and
Monte Carlo (:func:`sample_minibatch_gradients` with :func:`empirical_covariance`).

Used in: 01_minibatch_noise, 12_practical_consequences (and, through :mod:`vdlib.theory.regression`, 02).
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from .. import checks

#: Largest number of batches :func:`enumerate_minibatch_covariance` will visit by default.
MAX_ENUMERATED_BATCHES = 2_000_000


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
        raise ValueError("G contains NaN or infinite entries; check the per-sample gradients")
    return G


def diffusion_matrix(G) -> np.ndarray:
    """D = (1/N) Σ g_k g_kᵀ − g gᵀ for the N×d per-sample gradient matrix ``G`` (Definition 1).

    Computed as the mean of the centred outer products, which is numerically safer than the
    difference of the two terms when ‖g‖ is large compared with the spread of the g_k.

    Used in: 01_minibatch_noise, 02_sgd_as_sde
    """
    G = _as_gradient_matrix(G)
    centred = G - G.mean(axis=0)
    return centred.T @ centred / G.shape[0]


def diffusion_matrix_stderr(G) -> np.ndarray:
    """Entrywise standard error of :func:`diffusion_matrix` when the rows of ``G`` are i.i.d. draws.

    Treats the N rows as a sample from a population of per-sample gradients (e.g. a data
    distribution) and returns std_k[(g_k − ḡ)_i (g_k − ḡ)_j] / √N, the error of D̂ as an
    estimate of the population D. It says nothing about a fixed finite dataset, whose D is exact.

    Used in: 01_minibatch_noise
    """
    G = _as_gradient_matrix(G)
    centred = G - G.mean(axis=0)
    products = centred[:, :, None] * centred[:, None, :]
    return products.std(axis=0, ddof=1) / math.sqrt(G.shape[0])


def without_replacement_factor(b: int, N: int) -> float:
    """The factor (1 − b/N)·N/(N − 1) that sampling without replacement puts in front of D/b.

    It equals 1 at b = 1 (one example: with and without replacement coincide) and 0 at b = N
    (the batch is the whole dataset, so there is no noise).

    Used in: 01_minibatch_noise
    """
    N = checks.integer(N, "dataset size N", minimum=2)
    b = checks.batch_size(b, N, replacement=False)
    return (1.0 - b / N) * N / (N - 1)


def minibatch_covariance(G, b: int, replacement: bool = True) -> np.ndarray:
    """Exact covariance of the mini-batch gradient ∇f_b = (1/b) Σ_{k∈batch} g_k.

    ``G`` is the N×d matrix of per-sample gradients, ``b`` the batch size. With replacement the
    b indices are i.i.d. uniform; without replacement the batch is a uniformly random b-subset.

    Used in: 01_minibatch_noise, 02_sgd_as_sde
    """
    G = _as_gradient_matrix(G)
    N = G.shape[0]
    b = checks.batch_size(b, N, replacement)
    D = diffusion_matrix(G)
    factor = 1.0 if replacement else without_replacement_factor(b, N)
    return factor * D / b


def number_of_batches(N: int, b: int, replacement: bool = True) -> int:
    """How many equally likely batches there are: N**b ordered tuples, or C(N, b) subsets.

    Used in: 01_minibatch_noise
    """
    N = checks.integer(N, "dataset size N")
    b = checks.batch_size(b, N, replacement)
    return N**b if replacement else math.comb(N, b)


def enumerate_minibatch_covariance(G, b: int, replacement: bool = True, max_batches: int = MAX_ENUMERATED_BATCHES):
    """The covariance of ∇f_b computed by visiting every equally likely batch (no formula used).

    With replacement the batches are all N**b ordered index tuples; without replacement all
    C(N, b) subsets. Each has the same probability, so the covariance is the plain average of
    (m − g)(m − g)ᵀ over the batch means m. Meant for small N (a check of
    :func:`minibatch_covariance`); refuses more than ``max_batches`` batches.

    Used in: 01_minibatch_noise
    """
    G = _as_gradient_matrix(G)
    N, d = G.shape
    b = checks.batch_size(b, N, replacement)
    count = number_of_batches(N, b, replacement)
    if count > max_batches:
        raise ValueError(
            f"enumerating {count} batches (N={N}, b={b}, replacement={replacement}) exceeds max_batches={max_batches}; "
            "use a smaller N or b, or raise max_batches"
        )
    batches = itertools.product(range(N), repeat=b) if replacement else itertools.combinations(range(N), b)
    idx = np.fromiter(itertools.chain.from_iterable(batches), dtype=np.int64, count=count * b).reshape(count, b)
    means = G[idx].mean(axis=1)
    centred = means - G.mean(axis=0)
    return centred.T @ centred / count


def sample_minibatch_gradients(G, b: int, draws: int, replacement: bool = True, rng=None, chunk: int = 50_000):
    """Monte Carlo: ``draws`` independent mini-batch gradients, as a draws×d array.

    ``rng`` is a ``numpy.random.Generator`` (or a seed). Without replacement each batch is a
    uniformly random b-subset, drawn by ranking i.i.d. uniforms (vectorised over draws).
    ``chunk`` bounds the memory used per step (chunk×N uniforms).

    Used in: 01_minibatch_noise
    """
    G = _as_gradient_matrix(G)
    N, d = G.shape
    b = checks.batch_size(b, N, replacement)
    draws = checks.integer(draws, "draws")
    chunk = checks.integer(chunk, "chunk")
    rng = np.random.default_rng(rng)
    out = np.empty((draws, d))
    for start in range(0, draws, chunk):
        m = min(chunk, draws - start)
        if replacement:
            idx = rng.integers(0, N, size=(m, b))
        elif b < N:
            idx = np.argpartition(rng.random((m, N)), b - 1, axis=1)[:, :b]
        else:
            idx = np.tile(np.arange(N), (m, 1))
        out[start:start + m] = G[idx].mean(axis=1)
    return out


def _as_samples(samples) -> np.ndarray:
    X = np.asarray(samples, dtype=float)
    if X.ndim != 2:
        raise ValueError(f"samples must be a draws×d array (one mini-batch gradient per row), got shape {X.shape}")
    if X.shape[0] < 2:
        raise ValueError(f"need at least 2 draws to estimate a covariance and its error, got {X.shape[0]}")
    return X


def _centre(X: np.ndarray, mean):
    """Samples minus ``mean`` (or minus their own mean) and the matching M/(M − 1) correction."""
    M, d = X.shape
    if mean is None:
        return X - X.mean(axis=0), M / (M - 1)
    mean = np.asarray(mean, dtype=float)
    if mean.shape != (d,):
        raise ValueError(f"mean must have shape ({d},) to match the samples, got {mean.shape}")
    return X - mean, 1.0


def empirical_covariance(samples, mean=None):
    """Monte Carlo covariance of ``samples`` (draws×d) and its entrywise standard error.

    With ``mean`` given (the exact mean; for mini-batch gradients the full gradient g, since
    ∇f_b is unbiased) the estimate is C = (1/M) Σ_m (s_m − mean)(s_m − mean)ᵀ, an average of M
    i.i.d. outer products, and the standard error of each entry is the sample standard
    deviation of those products over √M. Without ``mean`` the sample mean is used (with the
    M/(M − 1) correction); the error formula is then correct to leading order in 1/M.
    Returns ``(C, se)``.

    Used in: 01_minibatch_noise
    """
    X = _as_samples(samples)
    M = X.shape[0]
    centred, correction = _centre(X, mean)
    products = centred[:, :, None] * centred[:, None, :]
    C = products.mean(axis=0) * correction
    se = products.std(axis=0, ddof=1) / math.sqrt(M) * correction
    return C, se


def trace_ratio(samples, exact_cov, mean=None):
    """tr(Ĉ)/tr(C_exact) for Monte Carlo ``samples`` and its standard error; returns ``(ratio, se)``.

    The trace of the empirical covariance is the average of ‖s_m − mean‖², so its standard
    error is the standard deviation of those squared norms over √M (see
    :func:`empirical_covariance` for the role of ``mean``).

    Used in: 01_minibatch_noise
    """
    X = _as_samples(samples)
    M, d = X.shape
    exact_cov = np.asarray(exact_cov, dtype=float)
    if exact_cov.shape != (d, d):
        raise ValueError(f"exact_cov must be {d}×{d} to match the samples, got shape {exact_cov.shape}")
    scale = float(np.trace(exact_cov))
    if not scale > 0:
        raise ValueError(f"the exact covariance has trace {scale}; a ratio needs a positive trace")
    centred, correction = _centre(X, mean)
    sq = np.einsum("md,md->m", centred, centred)
    return float(sq.mean() * correction / scale), float(sq.std(ddof=1) / math.sqrt(M) * correction / scale)


def measured_factors(G, batch_sizes, draws: int, replacement: bool, rng=None):
    """Monte Carlo estimate of the factor c(b) in Var(∇f_b) = c(b)·D/b, for each b in ``batch_sizes``.

    The estimate is b·tr(Ĉ_b)/tr(D), with Ĉ_b the empirical covariance of ``draws`` mini-batch
    gradients around the exact full gradient. The exact value is 1 with replacement and
    (1 − b/N)N/(N − 1) without. Returns ``(factors, standard_errors)`` as arrays.

    Used in: 01_minibatch_noise
    """
    G = _as_gradient_matrix(G)
    rng = np.random.default_rng(rng)
    D = diffusion_matrix(G)
    g = G.mean(axis=0)
    factors, errors = [], []
    for b in batch_sizes:
        samples = sample_minibatch_gradients(G, b, draws, replacement=replacement, rng=rng)
        ratio, se = trace_ratio(samples, D / b, mean=g)
        factors.append(ratio)
        errors.append(se)
    return np.array(factors), np.array(errors)

