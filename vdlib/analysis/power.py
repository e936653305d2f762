"""The positive control of the irreversibility test: a 2-D linear process (an exact discretisation of an
Ornstein–Uhlenbeck process) with a known, tunable irreversibility, simulated at a given sample size.

A recorded trajectory projected on two fixed directions gives the test's statistic a₁₂ and its
standard error. Whether "not significant" means "reversible" depends on the test's **power** at that
sample size: :func:`ou_power` answers it. The reference process is the AR(1) chain

    x_{t+1} = A x_t + ξ_t,   ξ_t ~ N(0, I₂),   A = [[r₁, −w], [w, r₂]],

whose coordinates have the lag-one autocorrelations of the data (``r₁, r₂``) when ``w = 0`` (then A
is symmetric, the noise isotropic, and the chain reversible) and which rotates, breaking detailed
balance, when ``w ≠ 0``. Its irreversibility is measured in the dimensionless unit the data is
reported in,

    ρ = a₁₂ / √(Σ₁₁ Σ₂₂),   a₁₂ = (C(1) − C(1)ᵀ)₁₂ / 2,   C(1) = E[x_t x_{t+1}ᵀ] = Σ Aᵀ,

with Σ the stationary covariance (discrete Lyapunov equation Σ = A Σ Aᵀ + I). :func:`ou_for_rho`
finds the ``w`` that gives a requested ρ; :func:`simulate_ou` draws chains started in the stationary
law (each complex eigen-mode of A is a scalar AR(1), filtered with :func:`scipy.signal.lfilter`, so
long chains cost milliseconds).

The simulated control matches the data only in its lag-one autocorrelations, so its sampling
variance of ρ need not be the data's. The power *at the data's own standard error* follows from the
test's reference distribution: with one antisymmetric entry (k = 2) Hotelling's T² is F(1, n − 1)
under reversibility and non-central F(1, n − 1, δ²) when the true a₁₂ is δ standard errors from zero
(:func:`f_test_power`, :func:`detectable_effect`), valid where the test is calibrated (its size is
checked on the simulated control).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .irreversibility import irreversibility_test

__all__ = ["ou_matrix", "ou_rho", "ou_for_rho", "simulate_ou", "ou_power", "PowerCurve", "f_test_power",
           "detectable_effect"]


def ou_matrix(r1: float, r2: float, w: float) -> np.ndarray:
    return np.array([[r1, -w], [w, r2]], dtype=float)


def _stationary_cov(A: np.ndarray) -> np.ndarray:
    from scipy import linalg

    if np.max(np.abs(np.linalg.eigvals(A))) >= 1:
        raise ValueError(f"A = {A.tolist()} is not stable (spectral radius ≥ 1): no stationary law")
    return linalg.solve_discrete_lyapunov(A, np.eye(A.shape[0]))


def ou_rho(A: np.ndarray) -> float:
    """ρ = a₁₂/√(Σ₁₁Σ₂₂) of the stationary AR(1) chain with matrix ``A`` and unit isotropic noise."""
    S = _stationary_cov(A)
    C1 = S @ A.T
    a12 = 0.5 * (C1[0, 1] - C1[1, 0])
    return float(a12 / np.sqrt(S[0, 0] * S[1, 1]))


def ou_for_rho(r1: float, r2: float, rho: float) -> np.ndarray:
    """The matrix ``A`` (lag-one autocorrelations r₁, r₂ on the diagonal) whose chain has irreversibility ρ."""
    for name, r in (("r1", r1), ("r2", r2)):
        if not (np.isfinite(r) and -1 < r < 1):
            raise ValueError(f"{name} must be a lag-one autocorrelation in (−1, 1), got {r!r}")
    if rho == 0:
        return ou_matrix(r1, r2, 0.0)
    # |ρ| grows with |w| up to the edge of stability; bisection on w in (0, w_max)
    w_max = np.sqrt(max(1e-300, 1 - max(r1 * r1, r2 * r2))) * (1 - 1e-9)
    lo, hi = 0.0, w_max
    target = abs(rho)
    if abs(ou_rho(ou_matrix(r1, r2, hi * (1 - 1e-6)))) < target:
        raise ValueError(f"|ρ| = {target:g} is beyond what a stable chain with r = ({r1:g}, {r2:g}) reaches")
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if abs(ou_rho(ou_matrix(r1, r2, mid))) < target:
            lo = mid
        else:
            hi = mid
    w = 0.5 * (lo + hi)
    A = ou_matrix(r1, r2, w)
    return A if np.sign(ou_rho(A)) == np.sign(rho) else ou_matrix(r1, r2, -w)


def simulate_ou(A: np.ndarray, chains: int, T: int, rng: np.random.Generator) -> np.ndarray:
    """``(chains, T, 2)`` draws of x_{t+1} = A x_t + ξ_t started in the stationary law."""
    from scipy.signal import lfilter

    A = np.asarray(A, dtype=float)
    S = _stationary_cov(A)
    lam, V = np.linalg.eig(A.astype(complex))
    Vinv = np.linalg.inv(V)
    x0 = rng.multivariate_normal(np.zeros(2), S, size=chains)  # (chains, 2)
    xi = rng.standard_normal((chains, T - 1, 2))
    z0 = x0 @ Vinv.T  # modes
    e = xi @ Vinv.T
    z = np.empty((chains, T, 2), dtype=complex)
    z[:, 0] = z0
    for j in range(2):
        zi = (lam[j] * z0[:, j])[:, None]  # initial condition of the filter: y[-1] = z0
        out, _ = lfilter([1.0], [1.0, -lam[j]], e[:, :, j], axis=1, zi=zi)
        z[:, 1:, j] = out
    return (z @ V.T).real


@dataclass(frozen=True)
class PowerCurve:
    """Rejection rates of :func:`irreversibility_test` on the positive control at one sample size."""

    rho: np.ndarray        # the effects tried (dimensionless ρ)
    power: np.ndarray      # rejection rate at level ``alpha`` for each
    size: float            # rejection rate at ρ = 0 (should be ≈ alpha)
    reps: int
    alpha: float
    chains: int
    T: int
    lag: int
    blocks: int | None
    r: tuple[float, float]

    def detectable(self, target: float = 0.8) -> float:
        """The smallest ρ with power ≥ ``target`` (linear interpolation; inf when none reaches it)."""
        rho, pw = np.asarray(self.rho), np.asarray(self.power)
        order = np.argsort(rho)
        rho, pw = rho[order], pw[order]
        if not (pw >= target).any():
            return float("inf")
        i = int(np.argmax(pw >= target))
        if i == 0:
            return float(rho[0])
        return float(rho[i - 1] + (target - pw[i - 1]) * (rho[i] - rho[i - 1]) / (pw[i] - pw[i - 1]))

    def as_dict(self) -> dict:
        return {"rho": [float(v) for v in self.rho], "power": [float(v) for v in self.power],
                "size": float(self.size), "reps": self.reps, "alpha": self.alpha, "chains": self.chains,
                "T": self.T, "lag": self.lag, "blocks": self.blocks, "r": list(self.r),
                "rho_80": self.detectable(0.8)}


def ou_power(r1: float, r2: float, rhos, *, chains: int, T: int, lag: int = 1, blocks: int | None = None,
             reps: int = 200, alpha: float = 0.05, seed: int = 0) -> PowerCurve:
    """Power of the irreversibility test against the positive control, at the sample size of a claim.

    ``chains`` × ``T`` steps, lag ``lag`` and ``blocks`` per chain as in the test applied to the data;
    ``rhos``: the irreversibilities to try. Also returns the size (the rate at ρ = 0).
    """
    if reps < 10:
        raise ValueError(f"reps = {reps} is too few for a rejection rate: use ≥ 100")
    rng = np.random.default_rng(seed)

    def rate(rho):
        A = ou_for_rho(r1, r2, rho)
        hits = 0
        for _ in range(reps):
            X = simulate_ou(A, chains, T, rng)
            hits += irreversibility_test(X, lag=lag, blocks=blocks, check_stationarity=False).p_value < alpha
        return hits / reps

    rhos = np.asarray(list(rhos), dtype=float)
    return PowerCurve(rho=rhos, power=np.array([rate(r) for r in rhos]), size=rate(0.0), reps=reps, alpha=alpha,
                      chains=chains, T=T, lag=lag, blocks=blocks, r=(float(r1), float(r2)))


def f_test_power(effect_se: float, df: tuple[int, int], alpha: float = 0.05) -> float:
    """Power of the one-entry (k = 2) test when a₁₂ is ``effect_se`` standard errors from zero: non-central F."""
    from scipy import stats

    m, den = int(df[0]), int(df[1])
    if m != 1:
        raise ValueError(f"the power at a given effect is defined here for one antisymmetric entry (k = 2), got m = {m}")
    if den < 1:
        raise ValueError(f"the denominator degrees of freedom must be ≥ 1, got {den}")
    crit = stats.f.ppf(1 - alpha, m, den)
    nc = float(effect_se) ** 2
    if nc == 0:  # scipy's non-central F is unreliable at non-centrality 0: the central F is exact there
        return float(stats.f.sf(crit, m, den))
    return float(stats.ncf.sf(crit, m, den, nc))


def detectable_effect(df: tuple[int, int], power: float = 0.8, alpha: float = 0.05) -> float:
    """The effect (in standard errors) that the one-entry test detects with probability ``power``."""
    if not 0 < power < 1:
        raise ValueError(f"power must be in (0, 1), got {power}")
    lo, hi = 0.0, 50.0
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        if f_test_power(mid, df, alpha) < power:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)
