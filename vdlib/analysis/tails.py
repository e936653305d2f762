"""The tail index α of i.i.d. samples, its failure modes, and mini-batch gradient noise to apply it to.

**The estimator** (Mohammadi, Mohammadpour & Ogata 2015, Corollary 2.4; the one Şimşekli, Sagun &
Gürbüzbalaban 2019 used). If X is strictly α-stable, a sum of K₁ independent copies has the law of
``K₁^{1/α} X``, so ``E log|X₁ + … + X_{K₁}| − E log|X| = (1/α) log K₁``. Cut n = K₁K₂ samples into
K₂ blocks of K₁, sum each block to ``Y_i`` and estimate

``1/α̂ = ( mean_i log|Y_i| − mean_k log|X_k| ) / log K₁``.

The block terms ``Z_i = log|Y_i| − mean_{k ∈ block i} log|X_k|`` are i.i.d., and ``1/α̂`` is their mean
divided by log K₁, which gives an exact standard error (:func:`tail_index_estimate`). The estimate
is **scale-free** (multiplying every sample by c adds log|c| to both means) and needs no choice of
an upper-order-statistic threshold. Default block length ``K₁ = ⌊√n⌋``.

**What it measures.** The estimator reports how block sums grow, ``|Y| ~ K₁^{1/α}``. For an
α-stable law that is the tail index at every K₁. For a finite-variance law the block sums of K₁
terms are nearly Gaussian, and the estimate tends to

``1/α̂ → 1/2 + Δ / log K₁``,  ``Δ = E log|N(0, σ²)| − E log|X|``  (:func:`finite_variance_limit`),

which approaches 2 only like 1/log n. Laws with heavier tails than the Gaussian at equal variance
have Δ > 0 and give α̂ < 2 although the central limit theorem applies: Student-t with ν = 3
(:func:`student_t_log_gap`: Δ = ½[ψ(ν/2) − log(ν/2 − 1)]) gives α̂ ≈ 1.79 at n = 2·10⁵. Mini-batch
means of b such samples have ``Δ_b ≈ κ/(12 b)`` (κ the excess kurtosis of one sample, Edgeworth), so
the estimate of b-batch noise reaches 2 − δ at about ``b* = κ / (3 δ log K₁)``
(:func:`clt_crossover_batch`); for a genuinely α-stable noise it stays at α for every b.

**Mini-batch noise.** :func:`minibatch_noise` draws i.i.d. mini-batches (indices with replacement)
from a matrix of per-sample gradients and returns ``g_B − ḡ``: the noise SGD sees on that training
set.

Used in: chapter 13 (is gradient noise heavy-tailed?).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["MIN_SAMPLES", "TailIndex", "tail_index", "tail_index_estimate", "tail_index_columns",
           "EULER_LOG_ABS_GAUSSIAN", "gaussian_mean_log_abs", "student_t_mean_log_abs", "student_t_log_gap",
           "finite_variance_limit", "clt_crossover_batch", "minibatch_noise", "tail_index_vs_batch"]

#: Fewest samples :func:`tail_index` accepts (10 blocks of 10).
MIN_SAMPLES = 100
#: ``E log|Z|`` for Z ~ N(0, 1): ``−(γ + log 2)/2``.
EULER_LOG_ABS_GAUSSIAN = -(np.euler_gamma + math.log(2.0)) / 2


@dataclass(frozen=True)
class TailIndex:
    """One tail-index estimate: ``alpha`` (= 1/``inv_alpha``), the standard error of 1/α from the
    i.i.d. block terms and of α by the delta method, the block length K₁ and the number of blocks K₂."""

    alpha: float
    se: float
    inv_alpha: float
    inv_alpha_se: float
    block: int
    n_blocks: int

    def __str__(self) -> str:
        return f"α = {self.alpha:.3f} ± {self.se:.3f} (blocks of {self.block} × {self.n_blocks})"


def _samples(samples, name: str = "samples") -> np.ndarray:
    try:
        x = np.asarray(samples, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a 1-D array of numbers, got {type(samples).__name__}") from None
    if x.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array (one scalar per draw), got shape {x.shape}; "
                         "for one estimate per column use tail_index_columns")
    return x


def _block(n: int, block) -> tuple[int, int]:
    if block is None:
        k1 = int(math.isqrt(n))
    else:
        if isinstance(block, bool) or not isinstance(block, (int, np.integer)):
            raise TypeError(f"block must be an integer ≥ 2, got {block!r}")
        k1 = int(block)
        if k1 < 2 or n // k1 < 2:
            raise ValueError(f"block = {block} needs 2 ≤ block ≤ n/2 = {n // 2} for n = {n} samples")
    return k1, n // k1


def _check_matrix(X: np.ndarray, block) -> tuple[int, int]:
    n = X.shape[0]
    if n < MIN_SAMPLES:
        raise ValueError(f"the tail index needs at least {MIN_SAMPLES} samples, got {n}: draw more samples")
    bad = ~np.isfinite(X)
    if bad.any():
        raise ValueError(f"samples contain {int(bad.sum())} NaN or infinite value(s) (first at row "
                         f"{int(np.argwhere(bad)[0][0])}): remove them or fix what produced them")
    spread = X.max(axis=0) - X.min(axis=0)
    if (spread == 0).any():
        cols = np.flatnonzero(spread == 0)
        where = "" if X.shape[1] == 1 else f" (columns {cols[:5].tolist()}{' ...' if cols.size > 5 else ''})"
        raise ValueError(f"samples are constant{where}: a tail index needs a distribution with spread")
    zeros = X == 0
    if zeros.any():
        raise ValueError(f"samples contain {int(zeros.sum())} exact zero(s): the estimator takes log|x|; drop "
                         "them (an atom at 0 is no tail) or estimate on a continuous quantity")
    return _block(n, block)


def _block_terms(X: np.ndarray, k1: int, k2: int) -> np.ndarray:
    """Z (K₂ × columns): log|block sum| − mean log|X| within the block."""
    blocks = X[: k1 * k2].reshape(k2, k1, -1)
    sums = np.abs(blocks.sum(axis=1))
    if (sums == 0).any():
        raise ValueError("a block of samples sums to exactly 0 (discrete data?): the estimator takes the log "
                         "of block sums; use a different block= or continuous samples")
    return np.log(sums) - np.log(np.abs(blocks)).mean(axis=1)


def tail_index_estimate(samples, block: int | None = None) -> TailIndex:
    """The tail index of i.i.d. (symmetric) samples with its standard error (see the module
    docstring). ``block`` is the block length K₁ (default ⌊√n⌋); n mod K₁ trailing samples are
    unused. Values above 2 mean "no heavier than Gaussian at this sample size", not a larger tail
    index: stable laws have α ≤ 2.

    Raises ``ValueError`` for fewer than :data:`MIN_SAMPLES` samples, NaN or infinite values,
    constant samples, exact zeros, or a block length that leaves fewer than 2 blocks.
    """
    x = _samples(samples)
    k1, k2 = _check_matrix(x[:, None], block)
    z = _block_terms(x[:, None], k1, k2)[:, 0]
    log_k1 = math.log(k1)
    inv = float(z.mean() / log_k1)
    inv_se = float(z.std(ddof=1) / math.sqrt(k2) / log_k1)
    if inv <= 0:
        return TailIndex(alpha=float("inf"), se=float("inf"), inv_alpha=inv, inv_alpha_se=inv_se, block=k1, n_blocks=k2)
    return TailIndex(alpha=1 / inv, se=inv_se / inv ** 2, inv_alpha=inv, inv_alpha_se=inv_se, block=k1, n_blocks=k2)


def tail_index(samples, block: int | None = None) -> float:
    """The tail index α̂ of i.i.d. (symmetric) samples (1-D array): the log-of-block-sums estimator
    of Mohammadi, Mohammadpour & Ogata (2015). See :func:`tail_index_estimate` for its error."""
    return tail_index_estimate(samples, block).alpha


def tail_index_columns(samples, block: int | None = None) -> np.ndarray:
    """α̂ of each column of an (n, c) array: c independent estimates, e.g. one per coordinate of a
    gradient-noise vector (rows are independent draws). Same checks as :func:`tail_index`."""
    try:
        X = np.asarray(samples, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"samples must be a 2-D array of numbers, got {type(samples).__name__}") from None
    if X.ndim != 2:
        raise ValueError(f"samples must be a 2-D array (draws × columns), got shape {X.shape}")
    k1, k2 = _check_matrix(X, block)
    inv = _block_terms(X, k1, k2).mean(axis=0) / math.log(k1)
    with np.errstate(divide="ignore"):
        return np.where(inv > 0, 1 / inv, np.inf)


def gaussian_mean_log_abs(sigma) -> float:
    """``E log|X|`` for X ~ N(0, σ²): ``log σ − (γ + log 2)/2``."""
    s = float(sigma)
    if not (math.isfinite(s) and s > 0):
        raise ValueError(f"sigma must be a positive finite number, got {sigma!r}")
    return math.log(s) + EULER_LOG_ABS_GAUSSIAN


def _nu(nu) -> float:
    v = float(nu)
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"nu (degrees of freedom) must be a positive finite number, got {nu!r}")
    return v


def student_t_mean_log_abs(nu) -> float:
    """``E log|T|`` for Student's t with ν degrees of freedom (unit scale):
    ``−(γ + log 2)/2 − ½ (ψ(ν/2) − log(ν/2))``."""
    from scipy.special import digamma

    v = _nu(nu)
    return EULER_LOG_ABS_GAUSSIAN - 0.5 * (float(digamma(v / 2)) - math.log(v / 2))


def student_t_log_gap(nu) -> float:
    """``Δ = E log|N(0, σ²)| − E log|T|`` for Student's t with ν > 2 and its variance σ² = ν/(ν − 2):
    ``½ (ψ(ν/2) − log(ν/2 − 1))`` (positive: at equal variance the t law has more mass near 0 and far
    out)."""
    from scipy.special import digamma

    v = _nu(nu)
    if v <= 2:
        raise ValueError(f"Student's t has a finite variance only for nu > 2, got nu = {nu!r}")
    return 0.5 * (float(digamma(v / 2)) - math.log(v / 2 - 1))


def finite_variance_limit(gap, block):
    """What :func:`tail_index` tends to on a finite-variance law once block sums are Gaussian:
    ``1 / (1/2 + Δ/log K₁)`` with Δ = ``gap`` (e.g. :func:`student_t_log_gap`; an array gives an array) and K₁ = ``block``."""
    k1 = int(block)
    if k1 < 2:
        raise ValueError(f"block must be an integer ≥ 2, got {block!r}")
    out = 1.0 / (0.5 + np.asarray(gap, dtype=float) / math.log(k1))
    return float(out) if out.ndim == 0 else out


def clt_crossover_batch(excess_kurtosis, block, tolerance: float = 0.1) -> float:
    """The batch size b* at which the estimate of b-batch mean noise reaches ``2 − tolerance``:
    ``κ / (3 δ log K₁)``, from ``Δ_b ≈ κ/(12 b)`` (first Edgeworth term) and
    ``α̂ ≈ 2 − 4 Δ_b / log K₁``. Needs a finite fourth moment (κ = excess kurtosis of one sample)."""
    k = float(excess_kurtosis)
    if not math.isfinite(k):
        raise ValueError(f"excess_kurtosis must be finite (a finite fourth moment), got {excess_kurtosis!r}")
    d = float(tolerance)
    if not (0 < d < 2):
        raise ValueError(f"tolerance must lie in (0, 2), got {tolerance!r}")
    k1 = int(block)
    if k1 < 2:
        raise ValueError(f"block must be an integer ≥ 2, got {block!r}")
    return max(k, 0.0) / (3 * d * math.log(k1))


def minibatch_noise(per_sample, batch_size: int, n_draws: int, rng=None, *,
                    max_bytes: int = 64 * 2**20) -> np.ndarray:
    """``n_draws`` independent draws of the mini-batch noise ``g_B − ḡ`` (shape ``(n_draws, c)``).

    ``per_sample`` is the (N, c) matrix whose rows are per-sample gradients (or any per-sample
    quantity: selected coordinates, projections on fixed directions); ḡ is its row mean and g_B the
    mean of ``batch_size`` rows drawn uniformly with replacement, independently for every draw.
    Work is chunked so that at most about ``max_bytes`` of gathered rows exist at once.
    """
    try:
        G = np.asarray(per_sample, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"per_sample must be an (N, c) array of numbers, got {type(per_sample).__name__}") from None
    if G.ndim != 2 or G.shape[0] < 2 or G.shape[1] < 1:
        raise ValueError(f"per_sample must be an (N, c) array with N ≥ 2 rows, got shape {G.shape}")
    if not np.isfinite(G).all():
        raise ValueError("per_sample contains NaN or infinite values: fix the gradients first")
    for name, v in (("batch_size", batch_size), ("n_draws", n_draws)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    Gc = G - G.mean(axis=0)
    rng = np.random.default_rng(rng)
    out = np.empty((int(n_draws), G.shape[1]))
    per_draw = int(batch_size) * G.shape[1] * 8
    chunk = max(1, int(max_bytes // per_draw))
    for start in range(0, int(n_draws), chunk):
        stop = min(int(n_draws), start + chunk)
        idx = rng.integers(0, G.shape[0], size=(stop - start, int(batch_size)))
        out[start:stop] = Gc[idx].mean(axis=1)
    return out


def tail_index_vs_batch(per_sample, batch_sizes, n_draws: int, rng=None) -> np.ndarray:
    """α̂ of every column of the mini-batch noise at each batch size: an array of shape
    ``(len(batch_sizes), c)``, from ``n_draws`` draws of :func:`minibatch_noise` per batch size
    (block length ⌊√n_draws⌋). For an α-stable noise every row estimates the same α; for a
    finite-variance noise the rows rise towards 2 as b grows."""
    sizes = list(batch_sizes)
    if not sizes:
        raise ValueError("batch_sizes is empty: give at least one batch size, e.g. (1, 4, 16, 64)")
    rng = np.random.default_rng(rng)
    return np.stack([tail_index_columns(minibatch_noise(per_sample, b, n_draws, rng)) for b in sizes])
