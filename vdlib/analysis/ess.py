"""Effective sample size of a Markov chain: Geyer's initial monotone sequence and batch means.

For a stationary series x_1..x_n with autocorrelations ρ_k the integrated autocorrelation time is
τ = 1 + 2Σ_{k≥1} ρ_k and the effective sample size ESS = n/τ: the mean of the chain has the variance
of the mean of ESS independent draws. For an AR(1) series with coefficient ρ, τ = (1 + ρ)/(1 − ρ) and
ESS = n(1 − ρ)/(1 + ρ) exactly (the calibration target of the tests).

* :func:`integrated_autocorrelation_time` — Geyer's (1992) initial monotone sequence estimator: sums of
  adjacent pairs Γ_m = γ_{2m} + γ_{2m+1} are summed while positive, made non-increasing;
* :func:`effective_sample_size` — n/τ, per chain (rows of a 2-D array);
* :func:`batch_means_ess` — the batch-means estimator (√n batches), an independent cross-check;
* :func:`ar1` — a seeded AR(1) series with unit stationary variance (the known process).
"""
from __future__ import annotations

import numpy as np
import scipy.signal

from .. import checks

__all__ = ["integrated_autocorrelation_time", "effective_sample_size", "batch_means_ess", "ar1"]


def _series(x, name: str = "x") -> np.ndarray:
    x = np.asarray(x, dtype=float)
    if x.ndim == 1:
        x = x[None]
    if x.ndim != 2:
        raise ValueError(f"{name} must be a series (n,) or one series per row (chains, n), got shape {x.shape}")
    if x.shape[1] < 16:
        raise ValueError(f"{name} has {x.shape[1]} steps; an autocorrelation time needs at least 16 (better 1000s)")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains NaN or infinite values: drop the diverged chains first")
    return x


def _autocovariance(x: np.ndarray) -> np.ndarray:
    """Biased autocovariances γ_0..γ_{n-1} of each row, by FFT."""
    n = x.shape[1]
    z = x - x.mean(axis=1, keepdims=True)
    size = 1 << int(np.ceil(np.log2(2 * n)))
    f = np.fft.rfft(z, size, axis=1)
    return np.fft.irfft(f * np.conj(f), size, axis=1)[:, :n] / n


def integrated_autocorrelation_time(x) -> np.ndarray:
    """τ̂ = 1 + 2Σρ̂_k per row, by Geyer's initial monotone sequence (floored at 1/n, so ESS ≤ n²)."""
    x = _series(x)
    n = x.shape[1]
    gam = _autocovariance(x)
    out = np.empty(x.shape[0])
    for r, g in enumerate(gam):
        if g[0] <= 0:
            raise ValueError("a constant series has no autocorrelation time: check that the chain moves")
        m_max = (n - 1) // 2
        pairs = g[0:2 * m_max:2] + g[1:2 * m_max + 1:2]
        neg = np.flatnonzero(pairs <= 0)
        pairs = pairs[:neg[0]] if neg.size else pairs
        pairs = np.minimum.accumulate(pairs)
        tau = (2.0 * pairs.sum() - g[0]) / g[0]
        out[r] = max(tau, 1.0 / n)
    return out


def effective_sample_size(x) -> np.ndarray:
    """n/τ̂ per row (Geyer's initial monotone sequence)."""
    x = _series(x)
    return x.shape[1] / integrated_autocorrelation_time(x)


def batch_means_ess(x, n_batches: int | None = None) -> np.ndarray:
    """ESS per row from batch means: n·Var(x)/(b·Var(batch means)), b = n/n_batches (default √n batches)."""
    x = _series(x)
    n = x.shape[1]
    n_batches = int(np.sqrt(n)) if n_batches is None else checks.integer(n_batches, "n_batches", minimum=4)
    if n_batches > n // 2:
        raise ValueError(f"n_batches = {n_batches} leaves fewer than 2 steps per batch for n = {n}")
    b = n // n_batches
    means = x[:, :b * n_batches].reshape(x.shape[0], n_batches, b).mean(axis=2)
    return n * x.var(axis=1, ddof=1) / (b * means.var(axis=1, ddof=1))


def ar1(rho: float, n: int, chains: int = 1, seed: int = 0) -> np.ndarray:
    """Stationary AR(1) series x_{k+1} = ρx_k + √(1 − ρ²)ε_k (unit variance), shape (chains, n)."""
    if not isinstance(rho, (int, float)) or not -1.0 < rho < 1.0:
        raise ValueError(f"rho must be a number in (−1, 1) for a stationary AR(1), got {rho!r}")
    n = checks.integer(n, "n", minimum=2)
    chains = checks.integer(chains, "chains")
    rng = np.random.default_rng(seed)
    eps = rng.standard_normal((chains, n))
    eps[:, 1:] *= np.sqrt(1.0 - rho * rho)  # x_0 ~ N(0, 1): stationary from the start
    return scipy.signal.lfilter([1.0], [1.0, -rho], eps, axis=1)
