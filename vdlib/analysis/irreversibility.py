"""Is a recorded trajectory time-reversible? A test with a calibrated p-value.

A stationary process in detailed balance has a symmetric lagged covariance at every lag,
C(τ) = E[(x_t − μ)(x_{t+τ} − μ)ᵀ] = C(τ)ᵀ. The antisymmetric part A(τ) = (C(τ) − C(τ)ᵀ)/2 is
the statistic (its (1,2) entry is half the area swept per step in the (x₁, x₂) plane). The test
below asks whether all k(k−1)/2 entries of A are jointly zero.

**Why blocks.** Successive records are autocorrelated, so the variance of A cannot be taken from
the pairs as if they were independent. Each chain is cut into contiguous time blocks; A is
computed within each block; independent chains and blocks much longer than the correlation time
give nearly independent block estimates. Hotelling's T² of the block estimates (all entries
jointly) then has an exact F distribution under Gaussian block estimates, and an approximate one
otherwise: ``p_value``. The calibration (a reversible process rejects at the nominal rate) and
the power (an irreversible one is detected) are checked in ``tests/test_irreversibility.py`` and
must be shown again at the sample size of any claim.

**Directions must be shared.** Pooling chains only makes sense when all chains are projected on
the *same* fixed directions with the same signs: the sign of an eigenvector or a principal
component is arbitrary, and averaging signed A over chains whose directions differ cancels it.

**Stationarity first.** A trend (drifting weights, a loss still falling) makes C(τ) depend on t
and invalidates the premise. :func:`stationarity_check` tests for a trend in every coordinate;
:func:`irreversibility_test` runs it and warns with :class:`NonStationaryWarning` when it fails.

**Entropy production.** For a stationary Markov process, the relative entropy between the law of
a pair (x_t, x_{t+τ}) and its time-reversal is at most τ times the entropy-production rate (the
pair and the projection on k directions are functions of the path: data processing).
:func:`entropy_production_bound` estimates that pair divergence under a Gaussian model of the
projected pair, exact when the projected process is Gaussian (linear dynamics, OU), with a
jackknife interval over blocks.

The plain estimator without a test is :func:`vdlib.analysis.trajectory.time_reversal_asymmetry`.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

__all__ = [
    "IrreversibilityTest",
    "EntropyProduction",
    "NonStationaryWarning",
    "StationarityCheck",
    "irreversibility_test",
    "stationarity_check",
    "entropy_production_bound",
]

MIN_BLOCK_PAIRS = 10  # fewer lagged pairs per block than this makes a block estimate meaningless
TREND_SEGMENTS = 10   # per chain, for the trend test


class NonStationaryWarning(UserWarning):
    """The trajectory has a trend: a test that assumes stationarity may be misread."""


def _as_chains(X, name: str = "X") -> np.ndarray:
    """(chains, T, k) float64 from a (T, k) or (chains, T, k) array, with clear errors."""
    try:
        A = np.asarray(X, dtype=float)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{name} must be a numeric array of shape (T, k) or (chains, T, k): {e}") from None
    if A.ndim == 2:
        A = A[None]
    if A.ndim != 3:
        raise ValueError(f"{name} must have shape (T, k) or (chains, T, k), got shape {A.shape}")
    if A.shape[2] < 2:
        raise ValueError(f"{name} has k = {A.shape[2]} direction(s): a reversibility test needs k ≥ 2 "
                         "(project on at least two fixed directions)")
    bad = ~np.isfinite(A)
    if bad.any():
        c, t, j = np.argwhere(bad)[0]
        raise ValueError(f"{name} has {int(bad.sum())} NaN/inf value(s), the first at chain {c}, step {t}, "
                         f"direction {j}: cut the trajectory before the divergence or drop that chain")
    return A


def _lag(lag, T: int) -> int:
    if isinstance(lag, bool) or not isinstance(lag, (int, np.integer)) or lag < 1:
        raise ValueError(f"lag must be a positive integer number of steps, got {lag!r}")
    if lag >= T:
        raise ValueError(f"lag {lag} is not shorter than the trajectory (T = {T} steps)")
    return int(lag)


def _lagged_sums(Y: np.ndarray, lag: int) -> tuple[np.ndarray, int]:
    """Σ_t y_t y_{t+lag}ᵀ over the pairs inside Y (…, L, k) and the number of pairs per leading index."""
    L = Y.shape[-2]
    return np.einsum("...ti,...tj->...ij", Y[..., : L - lag, :], Y[..., lag:, :]), L - lag


def _antisym(C: np.ndarray) -> np.ndarray:
    return 0.5 * (C - np.swapaxes(C, -1, -2))


def _blocks(Y: np.ndarray, n_blocks: int, lag: int) -> np.ndarray:
    """(chains·n_blocks, L, k) contiguous blocks of each chain (the remainder at the end is dropped)."""
    chains, T, k = Y.shape
    L = T // n_blocks
    if L - lag < MIN_BLOCK_PAIRS:
        raise ValueError(
            f"trajectory too short for {n_blocks} blocks at lag {lag}: T = {T} steps gives blocks of {L} steps "
            f"and {L - lag} lagged pairs each (need ≥ {MIN_BLOCK_PAIRS}); pass fewer blocks, a smaller lag, "
            "or record longer")
    return Y[:, : L * n_blocks].reshape(chains * n_blocks, L, k)


@dataclass(frozen=True)
class StationarityCheck:
    """Trend test of every coordinate: slope of segment means against time, pooled over chains."""

    slope_z: np.ndarray      # (k,) t statistics of the slopes
    p_values: np.ndarray     # (k,) two-sided p-values
    p_min: float             # Bonferroni-adjusted smallest p-value over coordinates
    half_difference: np.ndarray  # (k,) mean of the second half − first half, in units of the coordinate's sd
    stationary: bool         # p_min ≥ alpha

    def __str__(self) -> str:
        worst = int(np.argmax(np.abs(self.slope_z)))
        verdict = "no detectable trend" if self.stationary else "TREND DETECTED"
        return (f"stationarity: {verdict} (Bonferroni p = {self.p_min:.3g}; largest |t| = "
                f"{abs(self.slope_z[worst]):.2f} in direction {worst}, second half − first half = "
                f"{self.half_difference[worst]:+.2f} sd)")


def stationarity_check(X, *, segments: int = TREND_SEGMENTS, alpha: float = 0.01) -> StationarityCheck:
    """Test every coordinate of X for a linear trend in time.

    Each chain is cut into ``segments`` contiguous pieces; the segment means are regressed on the
    segment index with a separate intercept per chain, and the slope's t statistic is referred to
    Student's t with n − chains − 1 degrees of freedom. Segment means of a strongly autocorrelated
    series are themselves correlated, so a slowly mixing stationary series can fail this test too:
    either way, the window is then too short to treat the trajectory as stationary.
    """
    from scipy import stats

    A = _as_chains(X)
    chains, T, k = A.shape
    if not (isinstance(segments, (int, np.integer)) and segments >= 3):
        raise ValueError(f"segments must be an integer ≥ 3, got {segments!r}")
    if T < 2 * segments:
        raise ValueError(f"trajectory too short for a trend test: T = {T} steps, need ≥ {2 * segments}")
    L = T // segments
    means = A[:, : L * segments].reshape(chains, segments, L, k).mean(axis=2)  # (chains, segments, k)
    s = np.arange(segments, dtype=float) - (segments - 1) / 2
    Sxx = chains * float(s @ s)
    centred = means - means.mean(axis=1, keepdims=True)
    slope = np.einsum("s,csk->k", s, centred) / Sxx
    resid = centred - s[None, :, None] * slope
    dof = chains * segments - chains - 1
    sigma2 = (resid**2).sum(axis=(0, 1)) / dof
    with np.errstate(divide="ignore", invalid="ignore"):
        z = slope / np.sqrt(sigma2 / Sxx)
    z = np.where(np.isfinite(z), z, np.where(slope == 0, 0.0, np.inf))
    p = 2 * stats.t.sf(np.abs(z), dof)
    p_min = float(min(1.0, p.min() * k))
    half = segments // 2
    sd = A.std(axis=(0, 1))
    diff = (means[:, segments - half:].mean(axis=(0, 1)) - means[:, :half].mean(axis=(0, 1))) / np.where(sd > 0, sd, 1.0)
    return StationarityCheck(slope_z=z, p_values=p, p_min=p_min, half_difference=diff, stationary=p_min >= alpha)


@dataclass(frozen=True)
class IrreversibilityTest:
    """Result of :func:`irreversibility_test`."""

    asym: np.ndarray         # (k, k) antisymmetric part of the pooled lagged covariance
    se: np.ndarray           # (k, k) standard errors of its entries, from the block estimates
    z: np.ndarray            # (k, k) asym / se (0 on the diagonal)
    p_value: float           # joint test of all k(k−1)/2 entries (Hotelling T², F reference)
    statistic: float         # Hotelling T²
    df: tuple[int, int]      # F degrees of freedom (m, n − m)
    per_chain: np.ndarray    # (chains, k, k) asym of each chain, centred on the pooled mean
    lag: int
    n_chains: int
    blocks_per_chain: int
    block_length: int
    stationarity: StationarityCheck | None

    @property
    def n_estimates(self) -> int:
        return self.n_chains * self.blocks_per_chain

    def __str__(self) -> str:
        k = self.asym.shape[0]
        i, j = np.triu_indices(k, 1)
        worst = int(np.argmax(np.abs(self.z[i, j])))
        lines = [f"irreversibility test, lag {self.lag}: p = {self.p_value:.3g} (Hotelling T² = {self.statistic:.3g}, "
                 f"F({self.df[0]}, {self.df[1]})) from {self.n_chains} chain(s) × {self.blocks_per_chain} block(s) "
                 f"of {self.block_length} steps",
                 f"largest entry: a[{i[worst]},{j[worst]}] = {self.asym[i[worst], j[worst]]:.3g} "
                 f"± {self.se[i[worst], j[worst]]:.2g} (z = {self.z[i[worst], j[worst]]:+.2f})"]
        if self.stationarity is not None:
            lines.append(str(self.stationarity))
        return "\n".join(lines)


def _default_blocks(chains: int, m: int) -> int:
    """Blocks per chain: enough estimates for a stable covariance of the m entries (≥ max(20, 4m) in all)."""
    return max(1, math.ceil(max(20, 4 * m) / chains))


def irreversibility_test(X, lag: int = 1, *, blocks: int | None = None, check_stationarity: bool = True,
                         trend_alpha: float = 0.01) -> IrreversibilityTest:
    """Test time-reversal symmetry of a trajectory projected on k ≥ 2 fixed directions.

    ``X``: shape ``(chains, T, k)`` (independent chains, the same directions for all) or ``(T, k)``.
    ``lag``: the lag τ in steps. ``blocks``: time blocks per chain (default: enough for ≥ max(20, 4m)
    block estimates in all, m = k(k−1)/2); choose blocks much longer than the correlation time.
    The pooled mean over all chains and times is removed first. Returns an
    :class:`IrreversibilityTest`; warns with :class:`NonStationaryWarning` when the trend test fails.
    """
    from scipy import stats

    A = _as_chains(X)
    chains, T, k = A.shape
    lag = _lag(lag, T)
    m = k * (k - 1) // 2
    if blocks is None:
        blocks = _default_blocks(chains, m)
    elif isinstance(blocks, bool) or not isinstance(blocks, (int, np.integer)) or blocks < 1:
        raise ValueError(f"blocks must be a positive integer (time blocks per chain), got {blocks!r}")
    n = chains * int(blocks)
    if n < m + 2:
        raise ValueError(f"{chains} chain(s) × {blocks} block(s) = {n} estimates cannot test the {m} entries of a "
                         f"{k}×{k} asymmetry jointly (need ≥ {m + 2}): use more blocks, more chains or fewer directions")
    Y = A - A.mean(axis=(0, 1))
    if not np.any(Y):
        raise ValueError("X is constant: there is no motion to test")
    sums, pairs = _lagged_sums(Y, lag)                              # (chains, k, k)
    asym = _antisym(sums.sum(axis=0) / (chains * pairs))
    per_chain = _antisym(sums / pairs)
    block_sums, block_pairs = _lagged_sums(_blocks(Y, int(blocks), lag), lag)
    iu = np.triu_indices(k, 1)
    V = _antisym(block_sums / block_pairs)[:, iu[0], iu[1]]           # (n, m)
    vbar = V.mean(axis=0)
    S = np.atleast_2d(np.cov(V, rowvar=False, ddof=1))
    try:
        t2 = float(n * vbar @ np.linalg.solve(S, vbar))
    except np.linalg.LinAlgError:
        raise ValueError("the block estimates are degenerate (singular covariance): some directions are "
                         "linearly dependent or constant; pass independent directions") from None
    F = (n - m) / (m * (n - 1)) * t2
    p = float(stats.f.sf(F, m, n - m))
    se = np.zeros((k, k))
    se[iu] = np.sqrt(np.diag(S) / n)
    se = se + se.T
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, asym / np.where(se > 0, se, 1.0), 0.0)
    check = None
    if check_stationarity:
        segments = min(TREND_SEGMENTS, T // 2)
        if segments >= 3:
            check = stationarity_check(A, segments=segments, alpha=trend_alpha)
            if not check.stationary:
                warnings.warn(f"{check}. The reversibility test assumes a stationary trajectory: a trend "
                              "makes the lagged covariance depend on time. Remove the transient (record "
                              "after burn-in, or in a regime with a steady state) before reading the p-value.",
                              NonStationaryWarning, stacklevel=2)
    return IrreversibilityTest(asym=asym, se=se, z=z, p_value=p, statistic=t2, df=(m, n - m),
                               per_chain=per_chain, lag=lag, n_chains=chains, blocks_per_chain=int(blocks),
                               block_length=T // int(blocks), stationarity=check)


@dataclass(frozen=True)
class EntropyProduction:
    """Lower bound on the entropy-production rate (nats per step) from the projected pairs."""

    rate: float              # KL(pair ‖ reversed pair) / lag, Gaussian model
    ci: tuple[float, float]  # jackknife interval over blocks (level ``level``)
    level: float
    lag: int
    n_blocks: int

    def __str__(self) -> str:
        return (f"entropy production ≥ {self.rate:.3g} nats/step (Gaussian pair estimate, lag {self.lag}; "
                f"{self.level:.0%} interval [{self.ci[0]:.3g}, {self.ci[1]:.3g}] from {self.n_blocks} blocks)")


def _pair_kl(S0: np.ndarray, C: np.ndarray) -> float:
    """KL between N(0, [[S0, C], [Cᵀ, S0]]) and its time reversal N(0, [[S0, Cᵀ], [C, S0]])."""
    k = S0.shape[0]
    forward = np.block([[S0, C], [C.T, S0]])
    backward = np.block([[S0, C.T], [C, S0]])
    return 0.5 * (float(np.trace(np.linalg.solve(backward, forward))) - 2 * k)


def entropy_production_bound(X, lag: int = 1, *, blocks: int | None = None, level: float = 0.95) -> EntropyProduction:
    """Gaussian estimate of KL(law of (x_t, x_{t+lag}) ‖ its time reversal) / lag, with a jackknife interval.

    For a stationary Markov process this is a lower bound on the entropy-production rate per step
    of the full process (data processing: the projected pair is a function of the path), exact as a
    pair divergence when the projected pair is Gaussian. Zero for a reversible process (up to a
    small positive bias of order k²/(number of pairs)).
    """
    from scipy import stats

    A = _as_chains(X)
    chains, T, k = A.shape
    lag = _lag(lag, T)
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    if blocks is None:
        blocks = _default_blocks(chains, k * (k - 1) // 2)
    Y = A - A.mean(axis=(0, 1))
    Yb = _blocks(Y, int(blocks), lag)                                 # (n, L, k)
    n = Yb.shape[0]
    if n < 3:
        raise ValueError(f"{n} block(s) cannot give an interval: use more blocks or chains")
    cross, pairs = _lagged_sums(Yb, lag)                              # (n, k, k)
    L = Yb.shape[1]
    # both ends of each pair enter the marginal covariance, so forward and reversed share it exactly
    second = np.einsum("nti,ntj->nij", Yb[:, : L - lag], Yb[:, : L - lag]) + np.einsum("nti,ntj->nij", Yb[:, lag:], Yb[:, lag:])

    def kl(idx):
        S0 = second[idx].sum(axis=0) / (2 * pairs * len(idx))
        C = cross[idx].sum(axis=0) / (pairs * len(idx))
        return _pair_kl(S0, C) / lag

    try:
        full = kl(np.arange(n))
        leave_one = np.array([kl(np.delete(np.arange(n), i)) for i in range(n)])
    except np.linalg.LinAlgError:
        raise ValueError("the pair covariance is singular: some directions are linearly dependent or constant") from None
    se = math.sqrt((n - 1) / n * float(((leave_one - leave_one.mean()) ** 2).sum()))
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * se
    return EntropyProduction(rate=full, ci=(full - half, full + half), level=level, lag=lag, n_blocks=n)
