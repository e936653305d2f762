"""Non-reversible Langevin dynamics: the same invariant law, a larger spectral gap, a smaller variance.

The sampler dX = −(I + J)∇U(X) dt + √2 dW with J constant and antisymmetric keeps π ∝ e^{−U}
invariant for every J (∇·(J∇U e^{−U}) = 0). For U = ½xᵀAx (A symmetric positive definite) it is
an Ornstein–Uhlenbeck process with drift matrix B = (I + J)A and invariant law N(0, A⁻¹):

* :func:`drift_matrix`, :func:`spectral_gap` — B and its gap min Re λ(B) (≥ λ_min(A), ≤ Tr(A)/d);
* :func:`asymptotic_variance` — σ²_f = lim T·Var((1/T)∫₀ᵀ f(X_t)dt) for f(x) = cᵀx + xᵀMx, in
  closed form (linear part 2cᵀB⁻¹A⁻¹c; quadratic part 4 tr(ΣMΣP), BᵀP + PB = M) for the diffusion
  and, with ``h=``, exactly for its Euler–Maruyama chain;
* :func:`equal_diagonal_basis`, :func:`optimal_nonreversible_J` — the construction of Lelièvre,
  Nier & Pavliotis (2013) of a J for which every eigenvalue of (I + J)A has real part Tr(A)/d;
  :func:`optimize_gap` — the same optimum found by brute-force numerical search (d = 2, 3);
* :func:`euler_stationary_covariance`, :func:`stability_limit` — the Euler chain's own stationary
  covariance (the discretisation bias) and its largest stable step; :func:`covariance_bias` and
  :func:`step_for_bias` — that bias as one number, and the step that gives a chosen bias;
* :func:`simulate_ou_time_averages` — seeded Euler–Maruyama chains reduced to time averages;
* the symbolic checks :func:`fp_stationary_residual`, :func:`gap_2d_symbolic`,
  :func:`linear_variance_2d_symbolic`;
* a small Bayesian model (:func:`make_logistic_data`, :class:`LogisticPosterior`,
  :func:`posterior_moments_2d`) and a (stochastic-gradient) Langevin sampler with a non-reversible
  term, :func:`run_langevin`, that refuses a step size beyond its stability limit.

Used in: 15_nonreversible_sampling.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.optimize

from .. import checks
from ..progress import progress as _progress
from . import linear

__all__ = [
    "drift_matrix", "spectral_gap", "asymptotic_variance", "antisymmetric_from_params", "equal_diagonal_basis",
    "optimal_nonreversible_J", "GapOptimum", "optimize_gap", "euler_stationary_covariance", "stability_limit",
    "covariance_bias", "step_for_bias",
    "TimeAverages", "simulate_ou_time_averages", "fp_stationary_residual", "gap_2d_symbolic",
    "linear_variance_2d_symbolic", "make_logistic_data", "LogisticPosterior", "posterior_moments_2d",
    "LangevinRun", "run_langevin",
]


# ------------------------------------------------------------------------------------------------
# input checks
# ------------------------------------------------------------------------------------------------
def _spd(A, name: str = "A") -> np.ndarray:
    A = linear._as_square(name, A)
    linear._check_symmetric(name, A)
    A = (A + A.T) / 2
    lo = float(np.linalg.eigvalsh(A)[0])
    if lo <= 0:
        raise ValueError(f"{name} must be symmetric positive definite (the Hessian of U = ½xᵀ{name}x), but its "
                         f"smallest eigenvalue is {lo:.3g}; pass a positive definite matrix")
    return A


def _antisym(J, d: int, name: str = "J") -> np.ndarray:
    if J is None:
        return np.zeros((d, d))
    J = linear._as_square(name, J)
    if J.shape != (d, d):
        raise ValueError(f"{name} has shape {J.shape} but A is {d}×{d}: they must be the same size")
    scale = max(1.0, float(np.abs(J).max()))
    if not np.allclose(J, -J.T, rtol=0.0, atol=1e-10 * scale):
        raise ValueError(f"{name} must be antisymmetric ({name}ᵀ = −{name}), but max|{name} + {name}ᵀ| = "
                         f"{np.abs(J + J.T).max():.3g}; use ({name} − {name}.T) / 2")
    return (J - J.T) / 2


def _step(h) -> float:
    return checks.positive(h, "step size h")


# ------------------------------------------------------------------------------------------------
# the linear (OU) case
# ------------------------------------------------------------------------------------------------
def drift_matrix(A, J=None) -> np.ndarray:
    """B = (I + J)A, the drift matrix of dX = −(I + J)AX dt + √2 dW (A SPD, J antisymmetric)."""
    A = _spd(A)
    J = _antisym(J, A.shape[0])
    return (np.eye(A.shape[0]) + J) @ A


def spectral_gap(A, J=None) -> float:
    """min Re λ((I + J)A): the L²(π) spectral gap of the OU generator, its rate of convergence."""
    return float(np.linalg.eigvals(drift_matrix(A, J)).real.min())


def asymptotic_variance(A, J=None, c=None, M=None, h=None) -> float:
    """The asymptotic variance σ² = lim_T T·Var((1/T)∫₀ᵀ f(X_t)dt) of f(x) = cᵀx + xᵀMx.

    ``h=None``: the diffusion, σ² = 2cᵀB⁻¹Σc + 4 tr(ΣMΣP) with Σ = A⁻¹, BᵀP + PB = M. The two parts
    add because odd Gaussian moments vanish. ``h > 0``: the Euler–Maruyama chain
    x_{k+1} = (I − hB)x_k + √(2h)ξ_k, with time T = n h, in closed form: with F = I − hB and its
    stationary covariance Σ_h, σ²_h = h[2cᵀ(hB)⁻¹Σ_h c − cᵀΣ_h c] + h[4 tr(Σ_hMΣ_hP_h) − 2 tr(MΣ_hMΣ_h)],
    P_h = FᵀP_hF + M. Raises if the chain is unstable at this h.
    """
    A = _spd(A)
    d = A.shape[0]
    B = drift_matrix(A, J)
    if c is None and M is None:
        raise ValueError("asymptotic_variance: give the observable, a vector c (f = cᵀx) and/or a symmetric M "
                         "(f = xᵀMx)")
    c = np.zeros(d) if c is None else np.asarray(c, dtype=float).reshape(-1)
    if c.shape != (d,) or not np.all(np.isfinite(c)):
        raise ValueError(f"c must be a finite vector of length {d}, got {c!r}")
    M = np.zeros((d, d)) if M is None else linear._as_square("M", M)
    if M.shape != (d, d):
        raise ValueError(f"M must be {d}×{d}, got {M.shape}")
    M = (M + M.T) / 2
    if h is None:
        S = np.linalg.inv(A)
        lin = 2.0 * c @ np.linalg.solve(B, S @ c)
        P = scipy.linalg.solve_continuous_lyapunov(B.T, M)
        return float(lin + 4.0 * np.trace(S @ M @ S @ P))
    h = _step(h)
    S = euler_stationary_covariance(A, J, h)
    F = np.eye(d) - h * B
    lin = 2.0 * c @ np.linalg.solve(h * B, S @ c) - c @ S @ c
    P = scipy.linalg.solve_discrete_lyapunov(F.T, M)
    quad = 4.0 * np.trace(S @ M @ S @ P) - 2.0 * np.trace(M @ S @ M @ S)
    return float(h * (lin + quad))


def stability_limit(A, J=None) -> float:
    """The largest stable Euler step for drift matrix (I + J)A: min 2 Re μ / |μ|² over its eigenvalues μ."""
    return linear.max_stable_learning_rate(drift_matrix(A, J))


def euler_stationary_covariance(A, J=None, h=0.01, gradient_noise=None) -> np.ndarray:
    """Σ_h = FΣ_hFᵀ + 2hI + h²(I+J)V(I+J)ᵀ, F = I − h(I + J)A: the Euler chain's stationary covariance.

    ``gradient_noise`` V is the covariance of a stochastic gradient's error (SGLD); None means exact
    gradients. Σ_h → A⁻¹ as h → 0; the difference is the discretisation bias. Raises a ValueError naming the
    stability limit when h is beyond it.
    """
    A = _spd(A)
    d = A.shape[0]
    h = _step(h)
    J = _antisym(J, d)
    limit = stability_limit(A, J)
    if h >= limit:
        raise ValueError(f"step size h = {h:.4g} is beyond the Euler stability limit {limit:.4g} of the drift "
                         "(I + J)A (spectral radius of I − h(I + J)A ≥ 1): use h < that limit or a smaller J")
    G = np.eye(d) + J
    F = np.eye(d) - h * G @ A
    Q = 2.0 * h * np.eye(d)
    if gradient_noise is not None:
        V = linear._as_square("gradient_noise", gradient_noise)
        Q = Q + h * h * G @ V @ G.T
    S = scipy.linalg.solve_discrete_lyapunov(F, Q)
    return (S + S.T) / 2


def covariance_bias(A, J=None, h=0.01, gradient_noise=None) -> float:
    """‖Σ_h − A⁻¹‖_F / ‖A⁻¹‖_F: the relative stationary-covariance error of the Euler chain (linear model)."""
    A = _spd(A)
    Ainv = np.linalg.inv(A)
    S = euler_stationary_covariance(A, J, h, gradient_noise)
    return float(np.linalg.norm(S - Ainv) / np.linalg.norm(Ainv))


def step_for_bias(A, J, target: float, gradient_noise=None) -> float:
    """The step h at which :func:`covariance_bias` equals ``target`` (the bias grows with h up to the limit).

    Raises if even steps near the stability limit stay below ``target`` or the smallest tried exceed it.
    """
    target = checks.positive(target, "target")
    limit = stability_limit(A, J)
    lo, hi = 1e-8 * limit, 0.999 * limit

    def gap(h):
        return covariance_bias(A, J, h, gradient_noise) - target

    if gap(lo) > 0 or gap(hi) < 0:
        raise ValueError(f"no step in (0, {limit:.4g}) gives a covariance bias of {target:.3g}: the bias ranges "
                         f"from {gap(lo) + target:.3g} to {gap(hi) + target:.3g}")
    return float(scipy.optimize.brentq(gap, lo, hi, xtol=1e-14 * limit))


# ------------------------------------------------------------------------------------------------
# the optimal non-reversible perturbation
# ------------------------------------------------------------------------------------------------
def antisymmetric_from_params(params, d: int) -> np.ndarray:
    """The d×d antisymmetric matrix whose upper triangle (row by row) is ``params``."""
    d = checks.integer(d, "d", minimum=2)
    p = np.asarray(params, dtype=float).reshape(-1)
    if p.size != d * (d - 1) // 2:
        raise ValueError(f"a {d}×{d} antisymmetric matrix has {d * (d - 1) // 2} free entries, got {p.size}")
    J = np.zeros((d, d))
    J[np.triu_indices(d, 1)] = p
    return J - J.T


def equal_diagonal_basis(A) -> np.ndarray:
    """A real orthogonal Ψ such that every diagonal entry of ΨᵀAΨ equals Tr(A)/d.

    d − 1 plane rotations: each pairs an entry above the mean with one below it and turns the pair until
    the first equals the mean (by continuity, an angle in [0, π/2] does it).
    """
    A = _spd(A)
    d = A.shape[0]
    t = np.trace(A) / d
    Psi = np.eye(d)
    tol = 1e-13 * max(1.0, abs(t))
    for _ in range(d - 1):
        Mt = Psi.T @ A @ Psi
        diag = np.diag(Mt)
        above = [k for k in range(d) if diag[k] > t + tol]
        below = [k for k in range(d) if diag[k] < t - tol]
        if not above or not below:
            break
        i, j = above[0], below[0]

        def entry(theta, i=i, j=j, Mt=Mt):
            c, s = np.cos(theta), np.sin(theta)
            return c * c * Mt[i, i] + s * s * Mt[j, j] + 2 * s * c * Mt[i, j] - t

        theta = scipy.optimize.brentq(entry, 0.0, np.pi / 2, xtol=1e-15)
        c, s = np.cos(theta), np.sin(theta)
        pi, pj = Psi[:, i].copy(), Psi[:, j].copy()
        Psi[:, i], Psi[:, j] = c * pi + s * pj, -s * pi + c * pj
    return Psi


def optimal_nonreversible_J(A, weights=None) -> np.ndarray:
    """A J for which every eigenvalue of (I + J)A has real part Tr(A)/d (Lelièvre, Nier & Pavliotis 2013).

    With A^{1/2}(I + J)A^{1/2} = A + K (K = A^{1/2}JA^{1/2} antisymmetric), take Ψ from
    :func:`equal_diagonal_basis` (Ã = ΨᵀAΨ has constant diagonal t = Tr(A)/d) and distinct positive
    ``weights`` λ_k (default 1, …, d); set K̃_kl = (λ_k + λ_l)/(λ_k − λ_l) Ã_kl. Then
    Ã + K̃ = tI + diag(λ)G with G_kl = 2Ã_kl/(λ_k − λ_l) antisymmetric, whose eigenvalues are purely
    imaginary (diag(λ)G is similar to diag(λ)^{1/2} G diag(λ)^{1/2}). J = A^{-1/2} Ψ K̃ Ψᵀ A^{-1/2}.
    """
    A = _spd(A)
    d = A.shape[0]
    lam = np.arange(1.0, d + 1.0) if weights is None else np.asarray(weights, dtype=float).reshape(-1)
    if lam.shape != (d,) or np.any(lam <= 0) or len(np.unique(lam)) != d or not np.all(np.isfinite(lam)):
        raise ValueError(f"weights must be {d} distinct positive numbers, got {weights!r}")
    Psi = equal_diagonal_basis(A)
    At = Psi.T @ A @ Psi
    diff = lam[:, None] - lam[None, :]
    np.fill_diagonal(diff, 1.0)
    Kt = (lam[:, None] + lam[None, :]) / diff * At
    np.fill_diagonal(Kt, 0.0)
    K = Psi @ Kt @ Psi.T
    w, V = np.linalg.eigh(A)
    A_mhalf = V @ np.diag(w ** -0.5) @ V.T
    J = A_mhalf @ K @ A_mhalf
    return (J - J.T) / 2


@dataclass
class GapOptimum:
    """The best gap a numerical search found: ``gap``, the ``J`` that gives it, the bound Tr(A)/d."""

    gap: float
    J: np.ndarray
    bound: float
    restarts: int


def optimize_gap(A, restarts: int = 8, seed: int = 0, scale: float = 3.0) -> GapOptimum:
    """Maximise min Re λ((I + J)A) over antisymmetric J by Nelder–Mead from ``restarts`` random starts.

    A brute-force check of the optimum, independent of :func:`optimal_nonreversible_J`; meant for d = 2, 3.
    """
    A = _spd(A)
    d = A.shape[0]
    restarts = checks.integer(restarts, "restarts")
    scale = checks.positive(scale, "scale")
    rng = np.random.default_rng(seed)
    n = d * (d - 1) // 2

    def loss(p):
        return -float(np.linalg.eigvals((np.eye(d) + antisymmetric_from_params(p, d)) @ A).real.min())

    best = None
    for _ in range(restarts):
        res = scipy.optimize.minimize(loss, rng.normal(scale=scale, size=n), method="Nelder-Mead",
                                      options=dict(xatol=1e-10, fatol=1e-12, maxiter=20_000, maxfev=20_000))
        if best is None or res.fun < best.fun:
            best = res
    J = antisymmetric_from_params(best.x, d)
    return GapOptimum(gap=-float(best.fun), J=J, bound=float(np.trace(A) / d), restarts=restarts)


# ------------------------------------------------------------------------------------------------
# simulation of the OU process
# ------------------------------------------------------------------------------------------------
@dataclass
class TimeAverages:
    """Time averages of f = cᵀx + xᵀMx over ``chains`` Euler chains of duration T = n_steps·h.

    ``variance_T`` is T times their variance across chains (estimates σ²_h), ``se`` its standard error
    (Gaussian approximation √(2/(chains − 1))·variance_T).
    """

    averages: np.ndarray
    T: float
    variance_T: float
    se: float
    seed: int


def simulate_ou_time_averages(A, J, h, n_steps: int, chains: int, seed: int, c=None, M=None,
                              progress: bool = False) -> TimeAverages:
    """Euler–Maruyama for dX = −(I+J)AX dt + √2 dW, started in the chain's own stationary law.

    Seeded (NumPy generator ``seed``); returns the time average of f per chain (:class:`TimeAverages`).
    """
    A = _spd(A)
    d = A.shape[0]
    J = _antisym(J, d)
    h = _step(h)
    n_steps = checks.integer(n_steps, "n_steps", minimum=2)
    chains = checks.integer(chains, "chains", minimum=2)
    c = np.zeros(d) if c is None else np.asarray(c, dtype=float).reshape(d)
    M = np.zeros((d, d)) if M is None else np.asarray(M, dtype=float).reshape(d, d)
    S = euler_stationary_covariance(A, J, h)  # raises beyond the stability limit
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((chains, d)) @ np.linalg.cholesky(S).T
    Ft = (np.eye(d) - h * drift_matrix(A, J)).T
    total = np.zeros(chains)
    amp = np.sqrt(2.0 * h)
    quadratic = bool(np.any(M))
    for _ in _progress(range(n_steps), enabled=progress, desc="Euler-Maruyama", leave=False):
        total += x @ c
        if quadratic:
            total += ((x @ M) * x).sum(1)
        x = x @ Ft + amp * rng.standard_normal((chains, d))
    avg = total / n_steps
    T = n_steps * h
    var_T = float(T * avg.var(ddof=1))
    return TimeAverages(averages=avg, T=T, variance_T=var_T, se=var_T * np.sqrt(2.0 / (chains - 1)), seed=seed)


# ------------------------------------------------------------------------------------------------
# SymPy
# ------------------------------------------------------------------------------------------------
def fp_stationary_residual(general_potential: bool = True):
    """The stationary Fokker–Planck operator applied to e^{−U} for the 2-D drift −(I + J)∇U.

    J = [[0, j], [−j, 0]] with a symbol j. ``general_potential=True``: U(x, y) an undefined SymPy function;
    else U = ½(a x² + 2b xy + c y²). Returns ``(residual, symbols)``; the residual simplifies to 0.
    """
    import sympy as sp

    x, y, j, a, b, c = sp.symbols("x y j a b c", real=True)
    U = sp.Function("U")(x, y) if general_potential else (a * x**2 + 2 * b * x * y + c * y**2) / 2
    rho = sp.exp(-U)
    grad = sp.Matrix([sp.diff(U, x), sp.diff(U, y)])
    G = sp.Matrix([[1, j], [-j, 1]])
    v = -G * grad
    residual = -(sp.diff(v[0] * rho, x) + sp.diff(v[1] * rho, y)) + sp.diff(rho, x, 2) + sp.diff(rho, y, 2)
    return residual, dict(x=x, y=y, j=j, a=a, b=b, c=c, U=U)


def gap_2d_symbolic():
    """Trace, determinant and eigenvalues of B = (I + J)A for A = [[a, b], [b, c]], J = [[0, j], [−j, 0]]."""
    import sympy as sp

    a, c = sp.symbols("a c", positive=True)
    b, j = sp.symbols("b j", real=True)
    A = sp.Matrix([[a, b], [b, c]])
    B = (sp.eye(2) + sp.Matrix([[0, j], [-j, 0]])) * A
    return dict(A=A, B=B, trace=sp.expand(B.trace()), det=sp.factor(B.det()),
                eigenvalues=list(B.eigenvals().keys()), symbols=dict(a=a, b=b, c=c, j=j))


def linear_variance_2d_symbolic():
    """σ² = cᵀ(B⁻¹A⁻¹ + A⁻¹B⁻ᵀ)c for 2-D B = (I + J)A, and the closed form 2cᵀA⁻²c/(1 + j²)."""
    import sympy as sp

    a, c = sp.symbols("a c", positive=True)
    b, j, c1, c2 = sp.symbols("b j c_1 c_2", real=True)
    A = sp.Matrix([[a, b], [b, c]])
    J = sp.Matrix([[0, j], [-j, 0]])
    B = (sp.eye(2) + J) * A
    cv = sp.Matrix([c1, c2])
    Ainv = A.inv()
    sigma2 = (cv.T * (B.inv() * Ainv + Ainv * B.inv().T) * cv)[0, 0]
    closed = 2 * (cv.T * Ainv * Ainv * cv)[0, 0] / (1 + j**2)
    return sigma2, closed, dict(a=a, b=b, c=c, j=j, c1=c1, c2=c2)


# ------------------------------------------------------------------------------------------------
# a small Bayesian model: logistic regression with a Gaussian prior
# ------------------------------------------------------------------------------------------------
def make_logistic_data(n: int = 200, d: int = 2, seed: int = 0, correlation: float = 0.9,
                       theta_true=None):
    """Synthetic logistic-regression data: correlated Gaussian features, labels y ~ Bernoulli(σ(xᵀθ*)).

    Returns ``(X, y, theta_true)``; equicorrelated features make the posterior elongated (ill-conditioned).
    """
    n = checks.integer(n, "n", minimum=2)
    d = checks.integer(d, "d", minimum=1)
    if not isinstance(correlation, numbers.Real) or not -1.0 / max(d - 1, 1) < correlation < 1.0:
        raise ValueError(f"correlation must lie in (−1/(d−1), 1) for equicorrelated features, got {correlation!r}")
    rng = np.random.default_rng(seed)
    C = np.full((d, d), float(correlation)) + (1.0 - correlation) * np.eye(d)
    X = rng.standard_normal((n, d)) @ np.linalg.cholesky(C).T
    th = np.linspace(1.0, -0.5, d) if theta_true is None else np.asarray(theta_true, dtype=float).reshape(d)
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-X @ th))).astype(float)
    return X, y, th


@dataclass
class LogisticPosterior:
    """π(θ) ∝ exp(−U(θ)), U = Σ_i [log(1 + e^{x_iᵀθ}) − y_i x_iᵀθ] + |θ|²/(2 prior_var)."""

    X: np.ndarray
    y: np.ndarray
    prior_var: float = 10.0

    def __post_init__(self):
        self.X = np.asarray(self.X, dtype=float)
        self.y = np.asarray(self.y, dtype=float).reshape(-1)
        if self.X.ndim != 2 or self.X.shape[0] != self.y.shape[0]:
            raise ValueError(f"X must be n×d and y of length n, got X {self.X.shape}, y {self.y.shape}")
        if not np.all(np.isin(self.y, (0.0, 1.0))):
            raise ValueError("y must hold labels 0 and 1")
        self.prior_var = checks.positive(self.prior_var, "prior_var")

    @property
    def n(self) -> int:
        return self.X.shape[0]

    @property
    def d(self) -> int:
        return self.X.shape[1]

    def potential(self, theta) -> np.ndarray:
        """U at θ (shape (..., d)); returns shape (...)."""
        z = np.asarray(theta) @ self.X.T
        return np.logaddexp(0.0, z).sum(-1) - z @ self.y + (np.asarray(theta) ** 2).sum(-1) / (2 * self.prior_var)

    def grad(self, theta, idx=None) -> np.ndarray:
        """∇U at θ (shape (k, d)); with ``idx`` (k, b) an unbiased minibatch estimate (N/b)Σ_batch + prior."""
        theta = np.asarray(theta, dtype=float)
        if idx is None:
            r = 1.0 / (1.0 + np.exp(-(theta @ self.X.T))) - self.y  # (k, n)
            return r @ self.X + theta / self.prior_var
        Xb = self.X[idx]  # (k, b, d)
        r = 1.0 / (1.0 + np.exp(-np.einsum("kbd,kd->kb", Xb, theta))) - self.y[idx]
        return (self.n / idx.shape[1]) * np.einsum("kb,kbd->kd", r, Xb) + theta / self.prior_var

    def hessian(self, theta) -> np.ndarray:
        """∇²U at one θ (shape (d,))."""
        p = 1.0 / (1.0 + np.exp(-(self.X @ np.asarray(theta, dtype=float))))
        return (self.X * (p * (1 - p))[:, None]).T @ self.X + np.eye(self.d) / self.prior_var

    def mode(self) -> np.ndarray:
        """The posterior mode (MAP), by Newton–CG on U."""
        res = scipy.optimize.minimize(lambda t: float(self.potential(t)), np.zeros(self.d),
                                      jac=lambda t: self.grad(t[None])[0], hess=self.hessian, method="Newton-CG",
                                      options=dict(xtol=1e-12))
        return res.x

    def gradient_noise(self, theta, batch: int) -> np.ndarray:
        """Covariance of the minibatch gradient error at θ (batch drawn without replacement)."""
        batch = checks.batch_size(batch, self.n, replacement=False)
        p = 1.0 / (1.0 + np.exp(-(self.X @ np.asarray(theta, dtype=float))))
        G = self.X * (p - self.y)[:, None]
        return self.n ** 2 / batch * (1 - (batch - 1) / (self.n - 1)) * np.cov(G.T, bias=True)


def posterior_moments_2d(post: LogisticPosterior, grid: int = 401, width: float = 8.0):
    """Posterior mean and covariance of a 2-D model by quadrature on a grid of ±width Laplace s.d. around the mode."""
    if post.d != 2:
        raise ValueError(f"posterior_moments_2d is for d = 2, the model has d = {post.d}")
    grid = checks.integer(grid, "grid", minimum=11)
    m = post.mode()
    sd = np.sqrt(np.diag(np.linalg.inv(post.hessian(m))))
    axes = [np.linspace(m[k] - width * sd[k], m[k] + width * sd[k], grid) for k in range(2)]
    T = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 2)
    logp = -post.potential(T)
    w = np.exp(logp - logp.max())
    w /= w.sum()
    mean = w @ T
    Z = T - mean
    return mean, (Z * w[:, None]).T @ Z


@dataclass
class LangevinRun:
    """Samples ``theta`` (len(Js), chains, kept, d) of the discretised dynamics, one block per J; ``h`` the steps.

    ``grads_per_step`` is the cost of one step in full-gradient evaluations (b/N for SGLD, 1 otherwise).
    """

    theta: np.ndarray
    h: np.ndarray
    batch: int | None
    grads_per_step: float
    limits: np.ndarray
    seed: int


def run_langevin(post: LogisticPosterior, Js, h, n_steps: int, chains: int, seed: int,
                 batch: int | None = None, burn_in: int = 0, theta0=None, progress: bool = False) -> LangevinRun:
    """θ_{k+1} = θ_k − h(I + J)g(θ_k) + √(2h)ξ_k for every J in ``Js``, ``chains`` chains each.

    ``h`` is one step for all Js or one per J. g = ∇U (``batch=None``) or its minibatch estimate (SGLD,
    batches without replacement). All Js share the noise ξ and the batches (common random numbers; NumPy
    generator ``seed``). A step size at or beyond the Euler stability limit at the posterior mode
    (linearised drift (I + J)∇²U) raises a ValueError that gives the limit; a chain that still diverges
    raises a FloatingPointError.
    """
    n_steps = checks.integer(n_steps, "n_steps", minimum=2)
    chains = checks.integer(chains, "chains")
    burn_in = checks.integer(burn_in, "burn_in", minimum=0)
    if burn_in >= n_steps:
        raise ValueError(f"burn_in ({burn_in}) must be smaller than n_steps ({n_steps})")
    d = post.d
    Js = np.stack([_antisym(J, d) for J in Js])
    nJ = len(Js)
    if np.ndim(h) == 0:
        hs = np.full(nJ, _step(h))
    elif np.ndim(h) == 1 and len(h) == nJ:
        hs = np.array([_step(float(v)) for v in h])
    else:
        raise ValueError(f"h must be one step size or one per J ({nJ} of them), got {h!r}")
    mode = post.mode()
    H = post.hessian(mode)
    limits = np.array([stability_limit(H, J) for J in Js])
    bad = np.flatnonzero(hs >= limits)
    if bad.size:
        k = int(bad[0])
        raise ValueError(f"step size h = {hs[k]:.4g} is beyond the Euler stability limit {limits[k]:.4g} of the "
                         f"linearised drift (I + J)∇²U at the posterior mode for J number {k} "
                         f"(|J| = {np.linalg.norm(Js[k]):.3g}): the chain diverges or is badly biased; "
                         "use h below that limit or a smaller J")
    if batch is not None:
        batch = checks.batch_size(batch, post.n, replacement=False)
    rng = np.random.default_rng(seed)
    theta = np.tile(mode if theta0 is None else np.asarray(theta0, dtype=float).reshape(d), (nJ, chains, 1))
    G = hs[:, None, None] * (np.eye(d)[None] + Js)  # h(I + J), (nJ, d, d)
    out = np.empty((nJ, chains, n_steps - burn_in, d))
    amp = np.sqrt(2.0 * hs)[:, None, None]
    for k in _progress(range(n_steps), enabled=progress, desc="Langevin", leave=False):
        if batch is None:
            g = post.grad(theta.reshape(-1, d)).reshape(nJ, chains, d)
        else:
            idx = np.argpartition(rng.random((chains, post.n)), batch - 1, axis=1)[:, :batch]
            g = post.grad(theta.reshape(-1, d), np.tile(idx, (nJ, 1))).reshape(nJ, chains, d)
        xi = rng.standard_normal((chains, d))
        theta = theta - np.einsum("jab,jcb->jca", G, g) + amp * xi[None]
        if k >= burn_in:
            out[:, :, k - burn_in] = theta
    if not np.all(np.isfinite(out)):
        raise FloatingPointError(f"a Langevin chain diverged (steps {np.round(hs, 6)}); use a smaller step or J")
    return LangevinRun(theta=out, h=hs, batch=batch, grads_per_step=1.0 if batch is None else batch / post.n,
                       limits=limits, seed=seed)
