"""SGD as a discrete-time Markov chain: exact finite-η covariances, SVAG, and KL to the invariant law.

Three pieces, all exact on quadratic losses and checked by simulation:

* **Finite-η stationary covariances.** Additive noise of covariance C on f = ½θᵀHθ: the discrete
  Lyapunov equation Σ = (I − ηH)Σ(I − ηH)ᵀ + η²C, i.e. HΣ + ΣH − ηHΣH = ηC
  (:func:`additive_symbolic`, :func:`additive_covariance`). Multiplicative mini-batch noise of
  online least squares with Gaussian inputs x ~ N(0, A) and label noise of variance σ²
  (:func:`label_noise_symbolic`, :func:`label_noise_covariance`): the gradient noise of a batch
  of S fresh samples at z = θ − θ* has covariance C(z) = (AzzᵀA + tr(Azzᵀ)A + σ²A)/S, and
  the stationary Σ solves AΣ + ΣA − λAΣA = (λm/S)(AΣA + tr(AΣ)A + σ²A), with λ the step and m
  the noise multiplier (m = 1 for SGD, λ = η/l and m = l for SVAG).
* **SVAG** (Li, Malladi & Arora 2021): step η/l, gradient ½(1+√(2l−1))g₁ + ½(1−√(2l−1))g₂ from two
  independent batches, l times the steps. Same mean, l times the noise covariance, so the same
  SDE; as l → ∞ the chain converges to it (:func:`svag_weights`,
  :func:`label_noise_second_moment_path`, :func:`label_noise_sde_second_moment`).
* **KL to the invariant law** decreases along any Markov chain (data processing):
  :func:`markov_kl_path` for finite chains, :func:`gaussian_chain_moments` and :func:`kl_gaussian`
  for the linear Gaussian (OU / SGD) chain.

The simulators (:func:`simulate_additive_sgd`, :func:`simulate_label_noise_sgd`) run many
independent chains at once in NumPy and return per-chain time averages, so that chains give
independent estimates and honest standard errors.

Used in: 14_discrete_time_sgd.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.linalg
import sympy as sp

from .. import checks
from .linear import _as_square

__all__ = [
    "AdditiveForms", "additive_symbolic", "LabelNoiseForms", "label_noise_symbolic",
    "additive_covariance", "label_noise_covariance", "label_noise_stability_limit",
    "ChainEstimate", "simulate_additive_sgd", "simulate_label_noise_sgd",
    "svag_weights", "steps_for", "label_noise_second_moment_path", "label_noise_sde_second_moment",
    "stationary_distribution", "kl_categorical", "markov_kl_path", "kl_gaussian", "gaussian_chain_moments",
]

eta, h, C1, lam, m, S, sigma2 = sp.symbols("eta h C lambda m b sigma^2", positive=True)  # S: the batch size b


# --------------------------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------------------------
def _spd(name: str, M) -> np.ndarray:
    M = _as_square(name, M)  # square, finite (a scalar is 1×1)
    if not np.allclose(M, M.T, rtol=1e-10, atol=1e-12):
        raise ValueError(f"{name} must be symmetric (a Hessian or a covariance); symmetrise it as (M + M.T) / 2")
    return (M + M.T) / 2


def _pd(name: str, M) -> np.ndarray:
    M = _spd(name, M)
    if np.linalg.eigvalsh(M)[0] <= 0:
        raise ValueError(f"{name} must be positive definite (a strict minimum / a non-degenerate input "
                         f"covariance), but its smallest eigenvalue is {np.linalg.eigvalsh(M)[0]:.3g}")
    return M


def _psd(name: str, M) -> np.ndarray:
    M = _spd(name, M)
    lo = np.linalg.eigvalsh(M)[0]
    if lo < -1e-10 * max(1.0, np.abs(M).max()):
        raise ValueError(f"{name} must be positive semi-definite (a covariance), smallest eigenvalue {lo:.3g}")
    return M


def _svag_l(l) -> int:
    return checks.integer(l, "SVAG factor l", minimum=1)


# --------------------------------------------------------------------------------------------
# SymPy: the additive and the label-noise equations
# --------------------------------------------------------------------------------------------
def _symmetric(name: str, d: int) -> sp.Matrix:
    return sp.Matrix(d, d, lambda i, j: sp.Symbol(f"{name}_{min(i, j) + 1}{max(i, j) + 1}", real=True))


@dataclass
class AdditiveForms:
    """:func:`additive_symbolic`: the discrete Lyapunov equation, its rearranged form, the 1-D solutions."""

    H: sp.Matrix
    C: sp.Matrix
    Sigma: sp.Matrix
    discrete: sp.Matrix  # MΣMᵀ + η²C − Σ, M = I − ηH
    rearranged: sp.Matrix  # HΣ + ΣH − ηHΣH − ηC
    var_sgd: sp.Expr  # 1-D: ηC/(h(2 − ηh))
    var_sde: sp.Expr  # 1-D: ηC/(2h)
    ratio: sp.Expr  # var_sgd / var_sde
    stable_eta_h: sp.Set  # {ηh : |1 − ηh| < 1}


def additive_symbolic(d: int = 2) -> AdditiveForms:
    """θ' = (I − ηH)θ − ηξ, Cov ξ = C: the stationary covariance equations, and their 1-D solutions.

    The SDE of the book, dθ = −Hθ dt + √(2β⁻¹D) dW with 2β⁻¹D = ηC (β⁻¹ = η/2b, C = D/b), has
    HΣ + ΣH = ηC; SGD has the same equation with the extra term −ηHΣH.

    Used in: 14_discrete_time_sgd
    """
    d = checks.integer(d, "dimension d")
    H, C, Sig = _symmetric("h", d), _symmetric("c", d), _symmetric(r"\Sigma", d)
    M = sp.eye(d) - eta * H
    discrete = (M * Sig * M.T + eta**2 * C - Sig).applyfunc(sp.expand)
    rearranged = (H * Sig + Sig * H - eta * H * Sig * H - eta * C).applyfunc(sp.expand)
    s = sp.Symbol("s", positive=True)
    var_sgd = sp.solve(sp.Eq(s, (1 - eta * h) ** 2 * s + eta**2 * C1), s)[0]
    var_sde = sp.solve(sp.Eq(2 * h * s, eta * C1), s)[0]
    u = sp.Symbol("u", real=True)
    stable = sp.solve_univariate_inequality((1 - u) ** 2 < 1, u, relational=False)
    return AdditiveForms(H=H, C=C, Sigma=Sig, discrete=discrete, rearranged=rearranged,
                         var_sgd=sp.factor(var_sgd), var_sde=var_sde,
                         ratio=sp.simplify(var_sgd / var_sde), stable_eta_h=stable)


@dataclass
class LabelNoiseForms:
    """:func:`label_noise_symbolic`: the solved 2-D system and the closed form it equals."""

    A: sp.Matrix  # diag(a1, a2): the input covariance (= the Hessian) in its eigenbasis
    equation: sp.Matrix  # AΣ + ΣA − λAΣA − (λm/S)(AΣA + tr(AΣ)A + σ²A), Σ symbolic
    solved: sp.Matrix  # Σ from solving the linear system
    closed_form: sp.Matrix  # (λmσ²/S)/(1 − λmκ/S) · G⁻¹, G = 2I − λ(1 + m/S)A, κ = tr(AG⁻¹)
    var_1d: sp.Expr  # 1-D SGD (m = 1): λσ²/(S(2 − λa(1 + 2/S)))
    var_1d_sde: sp.Expr  # 1-D state-dependent SDE: λσ²/(S(2 − λa·2/S))
    var_1d_sde_constant: sp.Expr  # 1-D SDE with D frozen at the minimum: λσ²/(2S)


def label_noise_symbolic() -> LabelNoiseForms:
    """Solve the stationary equation of online least squares with Gaussian inputs, in 2-D, exactly.

    Σ = MΣM + λ²m·E[C(z)], M = I − λA, E[C(z)] = (AΣA + tr(AΣ)A + σ²A)/S, divided by λ. The
    Gaussian input law is rotation invariant, so A = diag(a₁, a₂) loses no generality.

    Used in: 14_discrete_time_sgd
    """
    a1, a2 = sp.symbols("a1 a2", positive=True)
    A = sp.diag(a1, a2)
    Sig = _symmetric(r"\Sigma", 2)
    rhs = (A * Sig * A + (A * Sig).trace() * A + sigma2 * A) * lam * m / S
    equation = (A * Sig + Sig * A - lam * A * Sig * A - rhs).applyfunc(sp.expand)
    unknowns = [Sig[0, 0], Sig[0, 1], Sig[1, 1]]
    sol = sp.solve([equation[0, 0], equation[0, 1], equation[1, 1]], unknowns, dict=True)[0]
    solved = Sig.subs(sol).applyfunc(sp.factor)
    G = 2 * sp.eye(2) - lam * (1 + m / S) * A
    kappa = (A * G.inv()).trace()
    closed = (lam * m * sigma2 / S) / (1 - lam * m * kappa / S) * G.inv()
    a = sp.Symbol("a", positive=True)
    s = sp.Symbol("s", positive=True)
    one_d = lambda mult, step: sp.solve(  # noqa: E731
        sp.Eq(2 * a * s - step * a**2 * s, (lam * mult / S) * (2 * a**2 * s + sigma2 * a)), s)[0]
    return LabelNoiseForms(
        A=A, equation=equation, solved=solved, closed_form=closed.applyfunc(sp.factor),
        var_1d=sp.factor(one_d(1, lam)), var_1d_sde=sp.factor(one_d(1, 0)),
        var_1d_sde_constant=sp.factor(sp.solve(sp.Eq(2 * a * s, lam / S * sigma2 * a), s)[0]))


# --------------------------------------------------------------------------------------------
# numeric closed forms
# --------------------------------------------------------------------------------------------
def additive_covariance(H, C, eta, model: str = "sgd") -> np.ndarray:
    """Stationary covariance of θ' = (I − ηH)θ − ηξ, Cov ξ = C (``model="sgd"``), or of its SDE
    (``model="sde"``: HΣ + ΣH = ηC).

    Used in: 14_discrete_time_sgd
    """
    H, C = _pd("H", H), _psd("C", C)
    if H.shape != C.shape:
        raise ValueError(f"H and C must have the same shape, got {H.shape} and {C.shape}")
    eta = checks.learning_rate(eta)
    if model == "sde":
        return scipy.linalg.solve_continuous_lyapunov(H, eta * C)
    if model != "sgd":
        raise ValueError(f"model must be 'sgd' or 'sde', got {model!r}")
    lam_max = float(np.linalg.eigvalsh(H)[-1])
    if eta * lam_max >= 2:
        raise ValueError(f"SGD diverges at eta={eta:g}: eta·λ_max(H) = {eta * lam_max:.4g} ≥ 2 (the stability "
                         f"limit); use eta < {2 / lam_max:.6g}")
    M = np.eye(H.shape[0]) - eta * H
    S_ = scipy.linalg.solve_discrete_lyapunov(M, eta**2 * C)
    return (S_ + S_.T) / 2


def _label_noise_parts(A, eta, batch, noise_var, svag_l):
    A = _pd("A (input covariance)", A)
    eta = checks.learning_rate(eta)
    batch = checks.batch_size(batch)
    noise_var = checks.positive(noise_var, "label-noise variance")
    return A, eta, batch, noise_var, _svag_l(svag_l)


def label_noise_covariance(A, eta, batch, noise_var, model: str = "sgd", svag_l: int = 1) -> np.ndarray:
    """Stationary covariance of θ − θ* for online least squares, inputs N(0, A), label noise σ².

    * ``model="sgd"``: the exact discrete chain (SVAG with factor ``svag_l``; 1 is plain SGD):
      Σ = (λmσ²/S)/(1 − λmκ/S) · G⁻¹ with λ = η/l, m = l, G = 2I − λ(1 + m/S)A, κ = tr(AG⁻¹).
    * ``model="sde"``: the SDE with the state-dependent noise (the l → ∞ limit): G = 2I − (η/S)A.
    * ``model="sde_constant"``: the SDE with D frozen at the minimum, D(θ*) = σ²A: Σ = ησ²/(2S)·I.

    Raises ValueError where the second moment diverges (G not positive definite or λmκ/S ≥ 1).

    Used in: 14_discrete_time_sgd
    """
    A, eta, batch, noise_var, l = _label_noise_parts(A, eta, batch, noise_var, svag_l)
    a, V = np.linalg.eigh(A)
    if model == "sde_constant":
        return eta * noise_var / (2 * batch) * np.eye(A.shape[0])
    if model == "sgd":
        step, mult = eta / l, float(l)
        g = 2 - step * (1 + mult / batch) * a
    elif model == "sde":
        g = 2 - (eta / batch) * a
    else:
        raise ValueError(f"model must be 'sgd', 'sde' or 'sde_constant', got {model!r}")
    kappa = float(np.sum(a / g)) if np.all(g > 0) else np.inf
    denom = 1 - eta * kappa / batch
    if np.any(g <= 0) or denom <= 0:
        raise ValueError(f"the second moment diverges at eta={eta:g}, batch={batch}, l={l} ({model}): "
                         f"the multiplicative noise exceeds the contraction; lower eta below "
                         f"{label_noise_stability_limit(A, batch, model=model, svag_l=l):.6g} or raise the batch")
    s = (eta * noise_var / batch) / denom / g
    return (V * s) @ V.T


def label_noise_stability_limit(A, batch, model: str = "sgd", svag_l: int = 1) -> float:
    """The largest η at which :func:`label_noise_covariance` is finite (supremum, not attained).

    1-D SGD: η a < 2S/(S + 2), below the additive limit 2: the noise grows with the iterate.

    Used in: 14_discrete_time_sgd
    """
    A = _pd("A (input covariance)", A)
    batch = checks.batch_size(batch)
    l = _svag_l(svag_l)
    a = np.linalg.eigvalsh(A)

    def margin(e):
        g = 2 - (e / l) * (1 + l / batch) * a if model == "sgd" else 2 - (e / batch) * a
        if np.any(g <= 0):
            return -1.0
        return 1 - e * float(np.sum(a / g)) / batch

    if model not in ("sgd", "sde"):
        raise ValueError(f"model must be 'sgd' or 'sde' (the constant-D SDE has no limit), got {model!r}")
    hi = 2 * l * batch / a[-1] if model == "sgd" else 2 * batch / a[-1]
    lo = 0.0
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if margin(mid) > 0 else (lo, mid)
    return lo


# --------------------------------------------------------------------------------------------
# simulation: many independent chains
# --------------------------------------------------------------------------------------------
@dataclass
class ChainEstimate:
    """Stationary covariance from independent chains: the mean over chains of each chain's time
    average of zzᵀ after the burn-in, its standard error over chains, and the final iterates."""

    cov: np.ndarray
    cov_se: np.ndarray
    final: np.ndarray  # (n_chains, d)
    n_chains: int
    n_steps: int
    burn_in: int

    def z_scores(self, target) -> np.ndarray:
        """(estimate − target)/se, entry by entry: a check against a predicted covariance."""
        target = np.asarray(target, dtype=float)
        if target.shape != self.cov.shape:
            raise ValueError(f"target must have shape {self.cov.shape}, got {target.shape}")
        return (self.cov - target) / self.cov_se


def _run_chains(step, z0, n_chains, n_steps, burn_in, progress):
    z = np.repeat(np.asarray(z0, dtype=float)[None, :], n_chains, axis=0)
    acc = np.zeros((n_chains, z.shape[1], z.shape[1]))
    it = range(n_steps)
    if progress is not None:
        it = progress(it)
    for k in it:
        z = step(z)
        if not np.all(np.abs(z) < 1e100):  # also catches inf and nan
            raise FloatingPointError(f"a chain diverged at step {k}: lower eta (below the stability limit)")
        if k >= burn_in:
            acc += z[:, :, None] * z[:, None, :]
    per_chain = acc / (n_steps - burn_in)
    cov = per_chain.mean(axis=0)
    se = per_chain.std(axis=0, ddof=1) / math.sqrt(n_chains)
    return ChainEstimate(cov=cov, cov_se=se, final=z, n_chains=n_chains, n_steps=n_steps, burn_in=burn_in)


def _check_run(n_chains, n_steps, burn_in):
    n_chains = checks.integer(n_chains, "n_chains", minimum=2)
    n_steps = checks.integer(n_steps, "n_steps")
    burn_in = checks.integer(burn_in, "burn_in", minimum=0)
    if burn_in >= n_steps:
        raise ValueError(f"burn_in={burn_in} leaves no recorded steps out of n_steps={n_steps}; lower burn_in")
    return n_chains, n_steps, burn_in


def simulate_additive_sgd(H, C, eta, *, n_chains: int, n_steps: int, burn_in: int, seed: int,
                          progress=None) -> ChainEstimate:
    """n_chains independent chains θ' = (I − ηH)θ − ηξ, ξ ~ N(0, C), from θ = 0.

    Used in: 14_discrete_time_sgd
    """
    H, C = _pd("H", H), _psd("C", C)
    eta = checks.learning_rate(eta)
    n_chains, n_steps, burn_in = _check_run(n_chains, n_steps, burn_in)
    rng = np.random.default_rng(seed)
    M = np.eye(H.shape[0]) - eta * H
    w, V = np.linalg.eigh(C)
    root = V * np.sqrt(np.clip(w, 0, None))

    def step(z):
        return z @ M.T - eta * rng.standard_normal(z.shape) @ root.T

    return _run_chains(step, np.zeros(H.shape[0]), n_chains, n_steps, burn_in, progress)


def svag_weights(l) -> tuple[float, float]:
    """SVAG's weights (½(1 + √(2l − 1)), ½(1 − √(2l − 1))): they sum to 1 and their squares to l.

    Used in: 14_discrete_time_sgd
    """
    r = math.sqrt(2 * _svag_l(l) - 1)
    return (1 + r) / 2, (1 - r) / 2


def simulate_label_noise_sgd(A, eta, batch, noise_var, *, n_chains: int, n_steps: int, burn_in: int, seed: int,
                             svag_l: int = 1, z0=None, progress=None) -> ChainEstimate:
    """Online least squares: every step draws fresh inputs x ~ N(0, A) and labels y = θ*ᵀx + ε.

    In z = θ − θ*, a batch gradient is (1/S) Σ x(xᵀz − ε). With ``svag_l = l > 1`` this is SVAG:
    step η/l, the gradient ``w₁g₁ + w₂g₂`` of two independent batches (:func:`svag_weights`);
    ``n_steps`` and ``burn_in`` count SVAG steps (l per unit η of SDE time).

    Used in: 14_discrete_time_sgd
    """
    A, eta, batch, noise_var, l = _label_noise_parts(A, eta, batch, noise_var, svag_l)
    n_chains, n_steps, burn_in = _check_run(n_chains, n_steps, burn_in)
    d = A.shape[0]
    rng = np.random.default_rng(seed)
    root = np.linalg.cholesky(A)
    sd = math.sqrt(noise_var)
    step_size = eta / l
    weights = svag_weights(l) if l > 1 else (1.0,)

    def grad(z):
        x = rng.standard_normal((z.shape[0], batch, d)) @ root.T
        resid = np.einsum("nbd,nd->nb", x, z) - sd * rng.standard_normal((z.shape[0], batch))
        return np.einsum("nbd,nb->nd", x, resid) / batch

    def step(z):
        g = sum(w * grad(z) for w in weights)
        return z - step_size * g

    z0 = np.zeros(d) if z0 is None else np.asarray(z0, dtype=float)
    if z0.shape != (d,):
        raise ValueError(f"z0 must have shape ({d},), got {z0.shape}")
    return _run_chains(step, z0, n_chains, n_steps, burn_in, progress)


# --------------------------------------------------------------------------------------------
# SVAG: exact second-moment paths
# --------------------------------------------------------------------------------------------
def steps_for(sde_time: float, step: float) -> int:
    """The number of steps of size ``step`` that make up ``sde_time``; refuses a non-integer count.

    Used in: 14_discrete_time_sgd
    """
    n = sde_time / step
    if abs(n - round(n)) > 1e-9 * max(1.0, n) or round(n) < 1:
        raise ValueError(f"sde_time={sde_time:g} is not a whole number of steps of size {step:g} (it is {n:.4g}); "
                         "choose sde_time as a multiple of eta/l, or compare at the nearest such time")
    return int(round(n))


def label_noise_second_moment_path(A, eta, batch, noise_var, P0, sde_time: float, svag_l: int = 1) -> np.ndarray:
    """Exact E[zzᵀ] after SDE time ``sde_time`` (sde_time·l/η SVAG steps, a whole number) from E[z₀z₀ᵀ] = P0.

    P ← MPM + (λ²m/S)(APA + tr(AP)A + σ²A), M = I − λA, λ = η/l, m = l (Gaussian fourth moments).

    Used in: 14_discrete_time_sgd
    """
    A, eta, batch, noise_var, l = _label_noise_parts(A, eta, batch, noise_var, svag_l)
    P = _psd("P0", P0)
    if P.shape != A.shape:
        raise ValueError(f"P0 must have A's shape {A.shape}, got {P.shape}")
    sde_time = checks.positive(sde_time, "sde_time")
    step = eta / l
    n = steps_for(sde_time, step)
    M = np.eye(A.shape[0]) - step * A
    for _ in range(n):
        P = M @ P @ M + (step**2 * l / batch) * (A @ P @ A + np.trace(A @ P) * A + noise_var * A)
    return P


def label_noise_sde_second_moment(A, eta, batch, noise_var, P0, sde_time: float) -> np.ndarray:
    """The l → ∞ limit of :func:`label_noise_second_moment_path`: the SDE's E[zzᵀ] at ``sde_time``.

    dP/dt = −AP − PA + (η/S)(APA + tr(AP)A + σ²A), a linear ODE in vec P, solved with one matrix
    exponential of the augmented system.

    Used in: 14_discrete_time_sgd
    """
    A, eta, batch, noise_var, _ = _label_noise_parts(A, eta, batch, noise_var, 1)
    P0 = _psd("P0", P0)
    sde_time = checks.positive(sde_time, "sde_time")
    d = A.shape[0]
    eye = np.eye(d)
    vecA = A.reshape(-1)
    L = -np.kron(A, eye) - np.kron(eye, A) + (eta / batch) * (np.kron(A, A) + np.outer(vecA, vecA))
    c = (eta / batch) * noise_var * vecA
    aug = np.zeros((d * d + 1, d * d + 1))
    aug[:-1, :-1], aug[:-1, -1] = L, c
    y = scipy.linalg.expm(aug * sde_time) @ np.append(P0.reshape(-1), 1.0)
    P = y[:-1].reshape(d, d)
    return (P + P.T) / 2


# --------------------------------------------------------------------------------------------
# KL to the invariant law
# --------------------------------------------------------------------------------------------
def _stochastic(P) -> np.ndarray:
    P = np.asarray(P, dtype=float)
    if P.ndim != 2 or P.shape[0] != P.shape[1]:
        raise ValueError(f"a transition matrix must be square, got shape {P.shape}")
    if np.any(P < 0) or not np.allclose(P.sum(axis=1), 1.0):
        raise ValueError("a transition matrix needs non-negative entries and rows summing to 1; normalise its rows")
    return P


def _distribution(name: str, p, n: int) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    if p.shape != (n,) or np.any(p < 0) or not np.isclose(p.sum(), 1.0):
        raise ValueError(f"{name} must be a probability vector of length {n} (non-negative, summing to 1)")
    return p


def stationary_distribution(P) -> np.ndarray:
    """The invariant law π = πP of an irreducible finite chain (left eigenvector for eigenvalue 1).

    Used in: 14_discrete_time_sgd
    """
    P = _stochastic(P)
    w, V = np.linalg.eig(P.T)
    k = int(np.argmin(np.abs(w - 1)))
    if np.sum(np.abs(w - 1) < 1e-9) > 1:
        raise ValueError("the chain has several invariant laws (it is reducible); pass an irreducible chain")
    pi = np.real(V[:, k])
    return pi / pi.sum()


def kl_categorical(p, q) -> float:
    """KL(p ‖ q) = Σ p log(p/q) for probability vectors (inf where p > 0 = q).

    Used in: 14_discrete_time_sgd
    """
    p = np.asarray(p, dtype=float)
    q = _distribution("q", q, p.shape[0] if p.ndim == 1 else -1)
    p = _distribution("p", p, q.shape[0])
    mask = p > 0
    if np.any(q[mask] == 0):
        return math.inf
    return float(np.sum(p[mask] * np.log(p[mask] / q[mask])))


def markov_kl_path(P, mu0, n_steps: int, reference=None) -> np.ndarray:
    """KL(μ₀Pᵏ ‖ reference) for k = 0..n_steps; the reference defaults to the invariant law π.

    Used in: 14_discrete_time_sgd
    """
    P = _stochastic(P)
    mu = _distribution("mu0", mu0, P.shape[0])
    n_steps = checks.integer(n_steps, "n_steps", minimum=0)
    ref = stationary_distribution(P) if reference is None else _distribution("reference", reference, P.shape[0])
    out = [kl_categorical(mu, ref)]
    for _ in range(n_steps):
        mu = mu @ P
        out.append(kl_categorical(mu, ref))
    return np.array(out)


def kl_gaussian(m0, S0, m1, S1) -> float:
    """KL(N(m0, S0) ‖ N(m1, S1)) = ½[tr(S1⁻¹S0) + (m1 − m0)ᵀS1⁻¹(m1 − m0) − d + log det S1/det S0].

    Used in: 14_discrete_time_sgd
    """
    S0, S1 = _pd("S0", S0), _pd("S1", S1)
    m0, m1 = np.atleast_1d(np.asarray(m0, dtype=float)), np.atleast_1d(np.asarray(m1, dtype=float))
    d = S0.shape[0]
    if S1.shape != S0.shape or m0.shape != (d,) or m1.shape != (d,):
        raise ValueError(f"shapes disagree: means {m0.shape}, {m1.shape}, covariances {S0.shape}, {S1.shape}")
    diff = m1 - m0
    sol = np.linalg.solve(S1, np.column_stack([S0, diff]))
    logdet = np.linalg.slogdet(S1)[1] - np.linalg.slogdet(S0)[1]
    return float(0.5 * (np.trace(sol[:, :d]) + diff @ sol[:, d] - d + logdet))


def gaussian_chain_moments(M, Q, m0, S0, n_steps: int):
    """Means and covariances of x' = Mx + ζ, ζ ~ N(0, Q), from N(m0, S0): lists of length n_steps + 1.

    SGD on f = ½θᵀHθ with additive noise is this chain with M = I − ηH, Q = η²C.

    Used in: 14_discrete_time_sgd
    """
    M = np.asarray(M, dtype=float)
    Q = _psd("Q", Q)
    S = _psd("S0", S0)
    m_ = np.atleast_1d(np.asarray(m0, dtype=float))
    if M.shape != Q.shape or S.shape != Q.shape or m_.shape != (Q.shape[0],):
        raise ValueError(f"shapes disagree: M {M.shape}, Q {Q.shape}, S0 {S.shape}, m0 {m_.shape}")
    n_steps = checks.integer(n_steps, "n_steps", minimum=0)
    means, covs = [m_], [S]
    for _ in range(n_steps):
        m_, S = M @ m_, M @ S @ M.T + Q
        means.append(m_)
        covs.append(S)
    return means, covs
