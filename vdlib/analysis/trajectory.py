"""Statistics of long weight trajectories (Fig. 3 of the paper, and the tests it did not run).

A trajectory is a T×k array ``X``: row t holds k coordinates (weights, or their projection onto a
few directions) recorded once per epoch. Several independent chains are an (n_chains, T, k) array;
functions that take chains return error bars from the spread between chains, which are
independent, unlike the overlapping windows of one series.

* :func:`increment_spectrum`: |rFFT| of the per-epoch increments x_{t+1} − x_t, mean ± sd over
  coordinates (Fig. 3a). Normalised so that white-noise increments of variance s² give a flat
  spectrum: E A² = s² at every frequency.
* :func:`autocorrelation`: the biased autocorrelation estimator per coordinate, mean ± sd over
  coordinates, with the 95 %/99 % white-noise bands ±z/√T (Fig. 3b).
* :func:`ewma`: the exponentially weighted moving average used for ‖∇f‖/√d (Fig. 3c).
* :func:`pca`: principal directions of a trajectory.
* :func:`time_reversal_asymmetry`: (C(τ) − C(τ)ᵀ)/2, C(τ) = mean_t (x_t − μ)(x_{t+τ} − μ)ᵀ. A
  reversible (detailed-balance) stationary process has C(τ) = C(τ)ᵀ, so this is zero up to noise;
  it is the decisive statistic for broken detailed balance.
* :func:`area_rate`: the area-production rate ⟨y₁ẏ₂ − y₂ẏ₁⟩ of a 2-D projection.
* :func:`fdr1`: Yaida's first fluctuation–dissipation relation for SGD with heavy-ball momentum,
  ⟨θ·∇f⟩ = (1 + μ)/(2η) ⟨‖Δθ‖²⟩ at stationarity.

Used in: 11_sgd_does_not_converge, 12_practical_consequences (long trajectories); :mod:`vdlib.analysis.summaries`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import checks

__all__ = [
    "Spectrum", "Autocorrelation", "PCA", "Estimate", "FDR1",
    "increment_spectrum", "autocorrelation", "ewma", "pca", "time_reversal_asymmetry",
    "area_rate", "chain_estimate", "fdr1",
]

Z95, Z99 = 1.959963984540054, 2.5758293035489004


# --------------------------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------------------------
def _trajectory(X, name: str = "X", min_rows: int = 2) -> np.ndarray:
    """A finite T×k float array with at least ``min_rows`` rows (a 1-D series becomes T×1)."""
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2:
        raise ValueError(f"{name} must be a T×k array (rows = time), got shape {X.shape}")
    if X.shape[0] < min_rows:
        raise ValueError(
            f"{name} has {X.shape[0]} row(s); at least {min_rows} time points are needed: record a longer trajectory"
        )
    if X.shape[1] < 1:
        raise ValueError(f"{name} has no columns (shape {X.shape}): pass at least one coordinate")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{name} contains NaN or infinite entries: drop the diverged part of the run first")
    return X


def _chains(X, name: str = "X") -> np.ndarray:
    """An (n_chains, T, k) array; a single T×k trajectory becomes one chain."""
    X = np.asarray(X, dtype=float)
    if X.ndim == 2:
        X = X[None]
    if X.ndim != 3:
        raise ValueError(f"{name} must be T×k or (n_chains, T, k), got shape {X.shape}")
    for c in range(X.shape[0]):
        _trajectory(X[c], f"{name}[{c}]")
    return X


def _lag(lag, T: int) -> int:
    lag = checks.integer(lag, "lag", 0)
    if lag >= T:
        raise ValueError(f"lag={lag} must be smaller than the number of time points T={T}: use a lag < T")
    return lag


# --------------------------------------------------------------------------------------------
# Fig. 3a and 3b
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Spectrum:
    """``|rFFT|`` of the increments: ``freq`` in cycles per record (epoch), ``mean``/``sd`` over coordinates."""

    freq: np.ndarray
    mean: np.ndarray
    sd: np.ndarray
    n_increments: int


def increment_spectrum(X, n_bins: int | None = None) -> Spectrum:
    """Amplitude spectrum of the increments Δx_t = x_{t+1} − x_t of each coordinate (Fig. 3a).

    For each column i, A_i(ν) = ``|rFFT(Δx_i)(ν)|`` / √n with n = T − 1 increments, on the grid
    ``np.fft.rfftfreq(n)`` (cycles per record). White-noise increments of variance s² give
    E A_i² = s² at every frequency: a flat line (the mean amplitude is then √π/2·s ≈ 0.89 s). Returns the mean and standard deviation of A_i over
    the columns; ``n_bins`` keeps only the first bins (the paper plotted the first 1000, without
    the zero frequency it is the drift of the mean).
    """
    X = _trajectory(X, min_rows=3)
    dX = np.diff(X, axis=0)
    n = dX.shape[0]
    amp = np.abs(np.fft.rfft(dX, axis=0)) / np.sqrt(n)
    freq = np.fft.rfftfreq(n)
    if n_bins is not None:
        n_bins = checks.integer(n_bins, "n_bins", 1)
        freq, amp = freq[:n_bins], amp[:n_bins]
    sd = amp.std(axis=1, ddof=1) if amp.shape[1] > 1 else np.zeros(amp.shape[0])
    return Spectrum(freq=freq, mean=amp.mean(axis=1), sd=sd, n_increments=n)


@dataclass(frozen=True)
class Autocorrelation:
    """Biased autocorrelation at ``lags``: mean/sd over coordinates, and the white-noise bands ±z/√T."""

    lags: np.ndarray
    mean: np.ndarray
    sd: np.ndarray
    per_coordinate: np.ndarray
    band95: float
    band99: float


def autocorrelation(X, lags=None) -> Autocorrelation:
    """r_i(τ) = Σ_{t<T−τ} (x_t − μ)(x_{t+τ} − μ) / Σ_t (x_t − μ)² for each column i (Fig. 3b).

    The biased estimator (divide by T at every lag), as the paper's code did; default lags are 100
    evenly spaced values ``arange(0, T, T // 100)``. The bands ±1.96/√T and ±2.58/√T are where a
    white-noise series' autocorrelation at a lag τ > 0 lies with 95 % and 99 % probability.
    Columns with zero variance are refused (their autocorrelation is undefined).
    """
    X = _trajectory(X)
    T = X.shape[0]
    if lags is None:
        lags = np.arange(0, T, max(1, T // 100))
    lags = np.asarray([_lag(l, T) for l in np.atleast_1d(lags).tolist()], dtype=int)
    Y = X - X.mean(axis=0)
    var = np.einsum("ti,ti->i", Y, Y)
    if np.any(var == 0):
        raise ValueError(f"columns {np.flatnonzero(var == 0).tolist()} are constant: their autocorrelation is undefined")
    # all lags at once through the FFT (zero-padded to avoid circular wrap-around)
    nfft = 1 << int(np.ceil(np.log2(2 * T)))
    F = np.fft.rfft(Y, n=nfft, axis=0)
    acov = np.fft.irfft(F * np.conj(F), n=nfft, axis=0)[:T]
    r = acov[lags] / var
    sd = r.std(axis=1, ddof=1) if r.shape[1] > 1 else np.zeros(len(lags))
    return Autocorrelation(lags=lags, mean=r.mean(axis=1), sd=sd, per_coordinate=r,
                           band95=Z95 / np.sqrt(T), band99=Z99 / np.sqrt(T))


def ewma(x, com: float) -> np.ndarray:
    """Exponentially weighted moving average with centre of mass ``com`` (α = 1/(1 + com)).

    y_t = Σ_{s≤t} (1 − α)^{t−s} x_s / Σ_{s≤t} (1 − α)^{t−s}, the normalised ("adjusted") form, so the
    first values are not pulled towards zero. Works along axis 0.
    """
    x = np.asarray(x, dtype=float)
    if x.ndim == 0 or x.shape[0] == 0:
        raise ValueError("x must be a non-empty series (axis 0 is time)")
    if isinstance(com, bool) or not np.isfinite(com) or com < 0:
        raise ValueError(f"com must be a finite number >= 0, got {com!r}")
    decay = com / (1.0 + com)
    num = np.zeros(x.shape[1:])
    den = 0.0
    out = np.empty_like(x)
    for t in range(x.shape[0]):
        num = decay * num + x[t]
        den = decay * den + 1.0
        out[t] = num / den
    return out


@dataclass(frozen=True)
class PCA:
    """``components`` (rows, unit norm), ``explained_variance`` and its ``ratio``, ``scores`` = projections."""

    mean: np.ndarray
    components: np.ndarray
    explained_variance: np.ndarray
    ratio: np.ndarray
    scores: np.ndarray


def pca(X, n_components: int = 2) -> PCA:
    """Principal components of a trajectory (rows = time), by SVD of the centred data."""
    X = _trajectory(X)
    n_components = checks.integer(n_components, "n_components", 1)
    if n_components > min(X.shape):
        raise ValueError(f"n_components={n_components} exceeds min(T, k) = {min(X.shape)} for X of shape {X.shape}")
    mu = X.mean(axis=0)
    Y = X - mu
    U, s, Vt = np.linalg.svd(Y, full_matrices=False)
    # a deterministic sign: the largest |entry| of each component is positive
    signs = np.sign(Vt[np.arange(len(s)), np.argmax(np.abs(Vt), axis=1)])
    signs[signs == 0] = 1.0
    Vt, U = Vt * signs[:, None], U * signs[None, :]
    var = s**2 / (X.shape[0] - 1)
    return PCA(mean=mu, components=Vt[:n_components], explained_variance=var[:n_components],
               ratio=var[:n_components] / var.sum() if var.sum() > 0 else np.zeros(n_components),
               scores=U[:, :n_components] * s[:n_components])


# --------------------------------------------------------------------------------------------
# detailed balance: time-reversal asymmetry and area rates
# --------------------------------------------------------------------------------------------
def time_reversal_asymmetry(X, lag: int) -> np.ndarray:
    """(C(τ) − C(τ)ᵀ)/2 with C(τ) = mean over t of (x_t − μ)(x_{t+τ} − μ)ᵀ, for a T×k array X.

    μ is the time mean of X, the mean over t runs over the T − τ available pairs. For a
    stationary process in detailed balance C(τ) is symmetric at every lag, so the result is zero up
    to sampling noise; a non-zero value at any lag breaks detailed balance.
    """
    X = _trajectory(X)
    lag = _lag(lag, X.shape[0])
    Y = X - X.mean(axis=0)
    T = Y.shape[0]
    C = Y[: T - lag].T @ Y[lag:] / (T - lag)
    return 0.5 * (C - C.T)


@dataclass(frozen=True)
class Estimate:
    """A mean over independent chains with its standard error (``se`` = sd/√n; NaN for one chain)."""

    mean: float
    se: float
    per_chain: np.ndarray


def chain_estimate(values) -> Estimate:
    """Mean and standard error of per-chain values (independent chains)."""
    v = np.asarray(values, dtype=float).ravel()
    if v.size == 0:
        raise ValueError("no chains: pass at least one value")
    se = v.std(ddof=1) / np.sqrt(v.size) if v.size > 1 else float("nan")
    return Estimate(mean=float(v.mean()), se=float(se), per_chain=v)


def area_rate(Y, dt: float = 1.0, basis=None) -> Estimate:
    """Area-production rate ⟨y₁ẏ₂ − y₂ẏ₁⟩ of a 2-D (projected) trajectory, per unit time.

    Estimated from consecutive records as mean_t (y₁_t y₂_{t+1} − y₂_t y₁_{t+1}) / dt after centring,
    i.e. 2·A₁₂(1)/dt with A = :func:`time_reversal_asymmetry` at lag 1. ``Y`` is T×2, or
    (n_chains, T, 2) for error bars from independent chains; with ``basis`` (a k×2 matrix of
    directions, e.g. top eigenvectors of D or of the Hessian) Y is first projected from T×k.
    A positive rate means counter-clockwise circulation in the (y₁, y₂) plane.
    """
    Y = _chains(Y, "Y")
    if basis is not None:
        B = np.asarray(basis, dtype=float)
        if B.ndim != 2 or B.shape != (Y.shape[2], 2):
            raise ValueError(f"basis must be a k×2 matrix with k = {Y.shape[2]} rows, got shape {B.shape}")
        Y = Y @ B
    if Y.shape[2] != 2:
        raise ValueError(f"the area rate needs a 2-D trajectory, got {Y.shape[2]} columns: pass basis= to project")
    dt = checks.positive(dt, "dt (time between records)")
    rates = [2.0 * time_reversal_asymmetry(y, 1)[0, 1] / dt for y in Y]
    return chain_estimate(rates)


# --------------------------------------------------------------------------------------------
# Yaida's fluctuation–dissipation relation (a stationarity test)
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FDR1:
    """Both sides of ⟨θ·∇f⟩ = (1 + μ)/(2η)⟨‖Δθ‖²⟩, their standard errors and the ratio lhs/rhs."""

    lhs: float
    lhs_se: float
    rhs: float
    rhs_se: float

    @property
    def ratio(self) -> float:
        return self.lhs / self.rhs


def fdr1(theta, grad, dtheta, eta: float, momentum: float = 0.0) -> FDR1:
    """Yaida's FDR1 for heavy-ball SGD, θ_{t+1} = θ_t + v_{t+1}, v_{t+1} = μ v_t − η g_t.

    At stationarity ⟨θ·∇f⟩ = (1 + μ)/(2η) ⟨‖Δθ‖²⟩ with Δθ_t = θ_{t+1} − θ_t (derived from the
    stationarity of ⟨‖θ‖²⟩ and ⟨θ·v⟩; ∇f may be the full gradient since E[g | θ] = ∇f). ``theta``,
    ``grad`` and ``dtheta`` are T×d (one chain) or (n_chains, T, d) arrays of matching shape, sampled
    after burn-in; the standard errors come from independent chains (NaN for a single chain).
    Agreement within error bars is evidence of stationarity.
    """
    eta = checks.learning_rate(eta)
    if isinstance(momentum, bool) or not np.isfinite(momentum) or not 0 <= momentum < 1:
        raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
    th, g, dth = _chains(theta, "theta"), _chains(grad, "grad"), _chains(dtheta, "dtheta")
    if not (th.shape == g.shape == dth.shape):
        raise ValueError(f"theta, grad and dtheta must have the same shape, got {th.shape}, {g.shape}, {dth.shape}")
    lhs = chain_estimate(np.einsum("ctd,ctd->ct", th, g).mean(axis=1))
    rhs = chain_estimate((1.0 + momentum) / (2.0 * eta) * np.einsum("ctd,ctd->ct", dth, dth).mean(axis=1))
    return FDR1(lhs=lhs.mean, lhs_se=lhs.se, rhs=rhs.mean, rhs_se=rhs.se)
