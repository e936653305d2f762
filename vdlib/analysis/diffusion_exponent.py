"""The anomalous-diffusion exponent c of ‖θ_t − θ_{t₀}‖² ∝ (t − t₀)^c from many independent chains.

Kunin et al. (2021) report that, long after a deep network's loss has levelled off, the squared
distance travelled from a fixed time t₀ grows like a power of the lag with c < 1 (sub-diffusion).
This module estimates c and says how sure the estimate is:

* :func:`mean_squared_displacement`: per-chain MSD at given lags, from a fixed origin (Kunin et
  al.'s statistic, defined for non-stationary paths) or averaged over all origins ("sliding");
* :func:`diffusion_exponent`: the log-log slope of the chain-averaged MSD over the lags, with a
  confidence interval from the jackknife over whole chains (the chains are independent; the
  time points within a chain are not), and beside it the mean ± standard error of the chain-level
  slopes;
* calibration processes with a known exponent: :func:`brownian_paths` (c = 1),
  :func:`ou_paths` (c → 0 at lags ≫ the relaxation time, 1 at lags ≪ it), :func:`ballistic_paths`
  (c = 2), :func:`fbm_paths` (fractional Brownian motion with Hurst index H, c = 2H; Davies–Harte
  circulant embedding).

Used in: 16_momentum_limiting_dynamics
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

__all__ = [
    "log_lags",
    "mean_squared_displacement",
    "DiffusionExponent",
    "diffusion_exponent",
    "brownian_paths",
    "ou_paths",
    "ballistic_paths",
    "fbm_paths",
]


def _paths(paths) -> np.ndarray:
    X = np.asarray(paths, dtype=float)
    if X.ndim == 2:
        X = X[:, :, None]
    if X.ndim != 3 or X.shape[0] < 2 or X.shape[1] < 3:
        raise ValueError("paths must be an array (n_chains, n_times) or (n_chains, n_times, d) with at least 2 "
                         f"independent chains and 3 times, got shape {np.shape(paths)}")
    if not np.all(np.isfinite(X)):
        raise ValueError("paths contain NaN or inf; drop the diverged chains first")
    return X


def _int(name: str, v, minimum: int) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {v!r}")
    return int(v)


def log_lags(lag_min: int, lag_max: int, n: int = 12) -> np.ndarray:
    """About ``n`` distinct integer lags spaced evenly in log between ``lag_min`` and ``lag_max``."""
    lag_min, lag_max = _int("lag_min", lag_min, 1), _int("lag_max", lag_max, 2)
    if lag_max <= lag_min:
        raise ValueError(f"lag_max ({lag_max}) must exceed lag_min ({lag_min})")
    return np.unique(np.round(np.geomspace(lag_min, lag_max, _int("n", n, 2))).astype(int))


def _lags(lags, n_times: int) -> np.ndarray:
    L = np.asarray(lags)
    if L.ndim != 1 or L.size < 2 or not np.issubdtype(L.dtype, np.integer):
        raise ValueError(f"lags must be a 1-D array of at least two integers (see log_lags), got {lags!r}")
    if np.any(L < 1) or np.any(L >= n_times) or np.any(np.diff(L) <= 0):
        raise ValueError(f"lags must be increasing integers in 1..{n_times - 1} (the paths have {n_times} times)")
    return L.astype(int)


def mean_squared_displacement(paths, lags, origin: str = "fixed") -> np.ndarray:
    """(n_chains, n_lags) squared displacements ‖x_{t₀+τ} − x_{t₀}‖² per chain.

    ``origin="fixed"``: t₀ = 0, the first time of the array (Kunin et al.'s ‖θ_t − θ_{t₀}‖²; pass
    the paths after the burn-in). ``origin="sliding"``: averaged over every origin t₀ (for a
    stationary process; less noisy per chain).
    """
    X = _paths(paths)
    L = _lags(lags, X.shape[1])
    if origin == "fixed":
        return np.stack([np.sum((X[:, tau] - X[:, 0]) ** 2, axis=-1) for tau in L], axis=1)
    if origin == "sliding":
        return np.stack([np.mean(np.sum((X[:, tau:] - X[:, :-tau]) ** 2, axis=-1), axis=1) for tau in L], axis=1)
    raise ValueError(f"origin must be 'fixed' or 'sliding', got {origin!r}")


def _slope(logt: np.ndarray, logm: np.ndarray) -> np.ndarray:
    """OLS slopes of logm (..., n_lags) on logt (n_lags,)."""
    tc = logt - logt.mean()
    return ((logm - logm.mean(axis=-1, keepdims=True)) @ tc) / (tc @ tc)


@dataclass
class DiffusionExponent:
    """:func:`diffusion_exponent`: c with its confidence interval and what it was computed from."""

    c: float  # log-log slope of the chain-averaged MSD
    se: float  # jackknife standard error over chains
    ci: tuple[float, float]  # c ± t·se
    chain_slopes: np.ndarray  # one slope per chain (its own MSD)
    lags: np.ndarray
    msd: np.ndarray  # chain-averaged MSD at the lags
    level: float
    origin: str

    @property
    def chain_mean(self) -> float:
        return float(self.chain_slopes.mean())

    @property
    def chain_se(self) -> float:
        return float(self.chain_slopes.std(ddof=1) / np.sqrt(self.chain_slopes.size))

    def covers(self, value: float) -> bool:
        return bool(self.ci[0] <= value <= self.ci[1])

    def __str__(self) -> str:
        return (f"c = {self.c:.3f} ± {self.se:.3f} [{100 * self.level:.0f} % CI {self.ci[0]:.3f}, {self.ci[1]:.3f}] over lags "
                f"{self.lags[0]}-{self.lags[-1]} ({self.origin} origin, {self.chain_slopes.size} chains); chain-level "
                f"slopes {self.chain_mean:.3f} ± {self.chain_se:.3f}")


def diffusion_exponent(paths, lags, *, origin: str = "fixed", level: float = 0.95) -> DiffusionExponent:
    """Estimate c in MSD(τ) ∝ τ^c over ``lags`` from independent chains.

    ``paths``: (n_chains, n_times[, d]), one row per independent chain, equally spaced in time.
    The estimate is the least-squares slope of log MSD̄(τ) on log τ, MSD̄ the mean over chains. Its
    interval is c ± t_{n−1}·se with the jackknife standard error over chains (leave one chain out;
    the chains are independent, the times within a chain are not). On fractional Brownian motion
    and Brownian motion with 40 chains it covers the true c in 92–94 % of replicates at the 95 %
    level (a percentile bootstrap over chains covered only 87 %). The chain-level slopes (each
    chain's own log-log slope) are returned too: a cruder summary (the log of a noisy single-chain
    MSD is biased low).
    """
    from scipy import stats

    M = mean_squared_displacement(paths, lags, origin)
    L = np.asarray(lags, dtype=float)
    if isinstance(level, bool) or not isinstance(level, numbers.Real) or not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    if np.any(M <= 0):
        raise ValueError("a squared displacement is zero: the paths do not move at some lag (constant chains?)")
    logt = np.log(L)
    n = M.shape[0]
    c = float(_slope(logt, np.log(M.mean(0))))
    total = M.sum(0)
    jack = _slope(logt, np.log((total[None, :] - M) / (n - 1)))
    se = float(np.sqrt((n - 1) / n * np.sum((jack - jack.mean()) ** 2)))
    q = float(stats.t.ppf(0.5 + level / 2, n - 1))
    return DiffusionExponent(c=c, se=se, ci=(c - q * se, c + q * se), chain_slopes=_slope(logt, np.log(M)),
                             lags=np.asarray(lags), msd=M.mean(0), level=float(level), origin=origin)


# --------------------------------------------------------------------------------------------
# calibration processes
# --------------------------------------------------------------------------------------------
def _rng(seed):
    return np.random.default_rng(_int("seed", seed, 0))


def brownian_paths(n_chains: int, n_times: int, d: int = 1, *, seed: int) -> np.ndarray:
    """Random walks with N(0, 1) steps from 0: MSD(τ) = dτ, c = 1."""
    n, T, d = _int("n_chains", n_chains, 2), _int("n_times", n_times, 3), _int("d", d, 1)
    steps = _rng(seed).standard_normal((n, T - 1, d))
    return np.concatenate([np.zeros((n, 1, d)), np.cumsum(steps, axis=1)], axis=1)


def ou_paths(n_chains: int, n_times: int, tau: float, d: int = 1, *, seed: int) -> np.ndarray:
    """Stationary AR(1) x_{k+1} = a x_k + √(1 − a²) ξ, a = e^{−1/τ}: MSD(τ') = 2d(1 − e^{−τ'/τ})."""
    n, T, d = _int("n_chains", n_chains, 2), _int("n_times", n_times, 3), _int("d", d, 1)
    if isinstance(tau, bool) or not isinstance(tau, numbers.Real) or not tau > 0:
        raise ValueError(f"tau (the relaxation time in steps) must be positive, got {tau!r}")
    a = np.exp(-1.0 / tau)
    r = _rng(seed)
    x = np.empty((n, T, d))
    x[:, 0] = r.standard_normal((n, d))
    noise = r.standard_normal((n, T - 1, d)) * np.sqrt(1 - a * a)
    for k in range(T - 1):
        x[:, k + 1] = a * x[:, k] + noise[:, k]
    return x


def ballistic_paths(n_chains: int, n_times: int, d: int = 1, *, seed: int) -> np.ndarray:
    """x_k = k·w with a random velocity w ~ N(0, I): MSD(τ) = dτ², c = 2."""
    n, T, d = _int("n_chains", n_chains, 2), _int("n_times", n_times, 3), _int("d", d, 1)
    w = _rng(seed).standard_normal((n, 1, d))
    return np.arange(T)[None, :, None] * w


def fbm_paths(n_chains: int, n_times: int, hurst: float, *, seed: int) -> np.ndarray:
    """Fractional Brownian motion B_H at times 0..n_times−1 (Davies & Harte 1987): MSD(τ) = τ^{2H}.

    Fractional Gaussian noise (autocovariance γ(k) = ½(|k+1|^{2H} − 2|k|^{2H} + |k−1|^{2H})) is
    generated exactly by embedding its covariance in a circulant matrix and using the FFT; the
    path is its cumulative sum, started at 0.
    """
    n, T = _int("n_chains", n_chains, 2), _int("n_times", n_times, 3)
    if isinstance(hurst, bool) or not isinstance(hurst, numbers.Real) or not 0 < hurst < 1:
        raise ValueError(f"hurst must be in (0, 1) (0.5 is Brownian motion), got {hurst!r}")
    m = T - 1
    k = np.arange(m + 1, dtype=float)
    H2 = 2 * hurst
    gamma = 0.5 * (np.abs(k + 1) ** H2 - 2 * np.abs(k) ** H2 + np.abs(k - 1) ** H2)
    row = np.concatenate([gamma, gamma[-2:0:-1]])  # circulant of size 2m
    lam = np.fft.fft(row).real
    if np.min(lam) < -1e-10 * np.max(lam):
        raise ValueError("the circulant embedding is not positive semi-definite for this Hurst index")
    lam = np.clip(lam, 0, None)
    M = row.size
    r = _rng(seed)
    W = r.standard_normal((n, M)) + 1j * r.standard_normal((n, M))
    fgn = np.fft.fft(np.sqrt(lam / M) * W, axis=1).real[:, :m]
    return np.concatenate([np.zeros((n, 1)), np.cumsum(fgn, axis=1)], axis=1)
