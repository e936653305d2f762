"""SGD with momentum and weight decay near a minimum: the underdamped model and its exact phase-space law.

Heavy-ball SGD (``torch.optim.SGD(momentum=μ, weight_decay=λ)`` with the velocity written as the
displacement per step, as in :func:`vdlib.theory.sgd_symbolic.heavy_ball`) is

    v_{k+1} = μ v_k − η (g_B(θ_k) + λ θ_k),      θ_{k+1} = θ_k + v_{k+1}.

Expanding θ_{k±1} to second order in the step with time t = kη (Kunin et al. 2021) gives the
second-order ("underdamped") equation

    m θ̈ + γ θ̇ = −∇f_λ(θ) + √(ηC) Ẇ,     m = η(1 + μ)/2,  γ = 1 − μ,  f_λ = f + (λ/2)‖θ‖²,

with C the covariance of one batch gradient (D/b in the book's notation). With u = θ̇ (= v/η) this
is a linear SDE in phase space z = (θ − θ*_λ, u) near the minimiser θ*_λ of f_λ:

    dz = −F z dt + √(2 D_z) dW,   F = [[0, −I], [H_λ/m, (γ/m) I]],   D_z = [[0, 0], [0, ηC/(2m²)]],

whose stationary covariance P solves the 2d-dimensional Lyapunov equation FP + PFᵀ = 2D_z and whose
decomposition F = (D_z + Q)P⁻¹ (:func:`vdlib.theory.linear.ou_decomposition` with β = 1) gives the
"modified loss" Ψ(z) = ½ zᵀP⁻¹z (the law is ∝ e^{−Ψ}) and the antisymmetric Q: the probability
current j = −QP⁻¹z p, a rotation in (θ, u) space.

* :func:`underdamped_symbolic`: the 1-D (one eigendirection) solution in SymPy: P, the modified
  loss (a Hamiltonian f_λ + ½m u² at the temperature T = ηC/(2(1 − μ))), the circulation rate,
  and the exact discrete heavy-ball covariance for comparison;
* :func:`phase_space_model`: the numerical d-dimensional model (P, Ψ's matrix U = P⁻¹, Q, area rates);
* :func:`exact_heavy_ball_covariance`: the exact stationary covariance of discrete heavy-ball SGD on
  least squares (multiplicative mini-batch noise included, sampling with replacement);
* :func:`simulate_heavy_ball`: many independent heavy-ball chains on least squares, with per-chain
  time averages of zzᵀ and of the lag-one wedge products (area rates) for standard errors.

Used in: 16_momentum_limiting_dynamics
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
import sympy as sp

from .linear import area_rate_from_covariance, ou_decomposition
from .regression import LinearRegression

__all__ = [
    "UnderdampedForms",
    "underdamped_symbolic",
    "PhaseSpaceModel",
    "phase_space_model",
    "regularised_minimiser",
    "noise_at_minimiser",
    "exact_heavy_ball_covariance",
    "additive_heavy_ball_covariance",
    "HeavyBallEstimate",
    "simulate_heavy_ball",
    "to_physical_velocity",
]

eta, mu, lam, h, C1 = sp.symbols("eta mu lambda h C", positive=True)


# --------------------------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------------------------
def _positive(name: str, x) -> float:
    if isinstance(x, bool) or not isinstance(x, numbers.Real) or not np.isfinite(x) or x <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {x!r}")
    return float(x)


def _momentum(x) -> float:
    if isinstance(x, bool) or not isinstance(x, numbers.Real) or not (0 <= x < 1):
        raise ValueError(f"momentum mu must be a number in [0, 1) (0.9 is the usual value), got {x!r}")
    return float(x)


def _weight_decay(x) -> float:
    if isinstance(x, bool) or not isinstance(x, numbers.Real) or not np.isfinite(x) or x < 0:
        raise ValueError(f"weight_decay must be a number >= 0, got {x!r}")
    return float(x)


def _square(name: str, M) -> np.ndarray:
    M = np.asarray(M, dtype=float)
    if M.ndim != 2 or M.shape[0] != M.shape[1] or not np.all(np.isfinite(M)):
        raise ValueError(f"{name} must be a finite square d×d matrix, got shape {M.shape}")
    return M


def _problem(problem) -> LinearRegression:
    if not isinstance(problem, LinearRegression):
        raise TypeError("problem must be a vdlib.theory.regression.LinearRegression "
                        "(build one with make_linear_regression)")
    return problem


def _batch(b, N) -> int:
    if isinstance(b, bool) or not isinstance(b, (int, np.integer)) or b < 1:
        raise ValueError(f"batch size b must be a positive integer, got {b!r}")
    return int(b)


# --------------------------------------------------------------------------------------------
# symbolic: one eigendirection
# --------------------------------------------------------------------------------------------
@dataclass
class UnderdampedForms:
    """:func:`underdamped_symbolic`: the 1-D underdamped model and discrete heavy-ball, in SymPy."""

    mass: sp.Expr  # m = η(1 + μ)/2
    friction: sp.Expr  # γ = 1 − μ
    F: sp.Matrix  # drift matrix of z = (θ, u)
    noise: sp.Matrix  # 2 D_z
    P: sp.Matrix  # stationary covariance of (θ, u)
    temperature: sp.Expr  # T = ηC/(2(1 − μ))
    modified_loss: sp.Expr  # Ψ(θ, u) with p ∝ e^{−Ψ}, in the symbols theta, u
    Q: sp.Matrix  # antisymmetric part of F = (D_z + Q)P⁻¹
    area_rate: sp.Expr  # ⟨θ u̇ − u θ̇⟩ = (FP − PFᵀ)_{θu}
    discrete: sp.Matrix  # exact stationary covariance of discrete heavy-ball in (θ, v = displacement/step)
    discrete_leading: sp.Matrix  # its leading order in η, in (θ, u = v/η)


theta_s, u_s = sp.symbols("theta u", real=True)


def underdamped_symbolic() -> UnderdampedForms:
    """Solve the 1-D phase-space Lyapunov equation and discrete heavy-ball in closed form.

    One eigendirection of H_λ with curvature h_λ = h + λ and gradient-noise variance C. The
    stationary covariance of the SDE is P = diag(T/h_λ, T/m) with T = ηC/(2(1 − μ)): a Gibbs law
    of the "Hamiltonian" f_λ + ½ m u². Discrete heavy-ball (additive noise) is solved exactly too,
    and its leading order in η (position variance, and velocity variance after u = v/η) equals P.

    Used in: 16_momentum_limiting_dynamics
    """
    m = eta * (1 + mu) / 2
    g = 1 - mu
    hl = h + lam
    F = sp.Matrix([[0, -1], [hl / m, g / m]])
    noise = sp.Matrix([[0, 0], [0, eta * C1 / m**2]])
    pxx, pxu, puu = sp.symbols("P_xx P_xu P_uu", real=True)
    P = sp.Matrix([[pxx, pxu], [pxu, puu]])
    eqs = F * P + P * F.T - noise
    sol = sp.solve([eqs[0, 0], eqs[0, 1], eqs[1, 1]], [pxx, pxu, puu], dict=True)[0]
    P = P.subs(sol).applyfunc(sp.simplify)
    T = sp.simplify(eta * C1 / (2 * (1 - mu)))
    z = sp.Matrix([theta_s, u_s])
    psi = sp.simplify((z.T * P.inv() * z)[0, 0] / 2)
    Q = sp.simplify((F * P - P * F.T) / 2)  # F = (D_z + Q)P⁻¹ with 2D_z = noise (Lemma 20, β = 1)
    area = sp.simplify((F * P - P * F.T)[0, 1])
    # discrete heavy-ball with additive noise: s' = A s + B ξ on s = (θ, v)
    sxx, sxv, svv = sp.symbols("S_xx S_xv S_vv", real=True)
    S = sp.Matrix([[sxx, sxv], [sxv, svv]])
    A = sp.Matrix([[1 - eta * hl, mu], [-eta * hl, mu]])
    Bn = sp.Matrix([-eta, -eta])
    deq = A * S * A.T + Bn * C1 * Bn.T - S
    dsol = sp.solve([deq[0, 0], deq[0, 1], deq[1, 1]], [sxx, sxv, svv], dict=True)[0]
    S = S.subs(dsol).applyfunc(sp.factor)
    lead = sp.Matrix([[sp.limit(S[0, 0] / eta, eta, 0) * eta, sp.limit(S[0, 1] / eta, eta, 0)],
                      [sp.limit(S[0, 1] / eta, eta, 0), sp.limit(S[1, 1] / eta**2, eta, 0)]]).applyfunc(sp.simplify)
    return UnderdampedForms(mass=m, friction=g, F=F, noise=noise, P=P, temperature=T, modified_loss=psi,
                            Q=Q, area_rate=area, discrete=S, discrete_leading=lead)


# --------------------------------------------------------------------------------------------
# numerical phase-space model
# --------------------------------------------------------------------------------------------
@dataclass
class PhaseSpaceModel:
    """:func:`phase_space_model`: the underdamped OU model of heavy-ball SGD in z = (θ − θ*_λ, u)."""

    F: np.ndarray  # 2d×2d drift matrix, dz = −Fz dt + √(2D_z) dW
    Dz: np.ndarray  # 2d×2d diffusion (only the velocity block is non-zero)
    P: np.ndarray  # stationary covariance
    U: np.ndarray  # P⁻¹: the modified loss Ψ(z) = ½ zᵀUz
    Q: np.ndarray  # antisymmetric: F = (D_z + Q)U
    mass: float
    friction: float
    eta: float
    mu: float
    weight_decay: float

    @property
    def d(self) -> int:
        return self.F.shape[0] // 2

    def area_rate(self, i: int, j: int) -> float:
        """⟨z_i ż_j − z_j ż_i⟩ in SDE time (per unit η): (FP − PFᵀ)_ij = 2Q_ij."""
        return area_rate_from_covariance(self.F, self.P, plane=(i, j))

    def gibbs_position_covariance(self, H, C) -> np.ndarray:
        """The θ-covariance if the law were e^{−f_λ/T} at the isotropic temperature η tr C / (2d(1 − μ))."""
        H = _square("H", H) + self.weight_decay * np.eye(self.d)
        T = self.eta * np.trace(_square("C", C)) / (2 * self.d * (1 - self.mu))
        return T * np.linalg.inv(H)


def phase_space_model(H, C, eta, mu, weight_decay: float = 0.0) -> PhaseSpaceModel:
    """The underdamped model of heavy-ball SGD on f = ½θᵀHθ with batch-gradient covariance C.

    ``H`` is the Hessian of f (symmetric, H + λI positive definite), ``C`` the covariance of one
    batch gradient (D/b), ``eta`` the learning rate, ``mu`` the momentum in [0, 1) and
    ``weight_decay`` λ. Time is SDE time t = kη; u = θ̇ is the displacement per step divided by η.

    Used in: 16_momentum_limiting_dynamics
    """
    H, C = _square("H", H), _square("C", C)
    if H.shape != C.shape:
        raise ValueError(f"H {H.shape} and C {C.shape} must have the same shape")
    if not np.allclose(H, H.T) or not np.allclose(C, C.T):
        raise ValueError("H and C must be symmetric")
    eta_, mu_, lam_ = _positive("eta", eta), _momentum(mu), _weight_decay(weight_decay)
    d = H.shape[0]
    Hl = H + lam_ * np.eye(d)
    if np.linalg.eigvalsh(Hl)[0] <= 0:
        raise ValueError("H + weight_decay·I must be positive definite (a strict minimum); add weight decay "
                         "or linearise at a minimum")
    m, g = eta_ * (1 + mu_) / 2, 1 - mu_
    I, Z = np.eye(d), np.zeros((d, d))
    F = np.block([[Z, -I], [Hl / m, g / m * I]])
    Dz = np.block([[Z, Z], [Z, eta_ * C / (2 * m**2)]])
    dec = ou_decomposition(F, Dz, 1.0)
    return PhaseSpaceModel(F=F, Dz=Dz, P=dec.Sigma, U=dec.U, Q=dec.Q, mass=m, friction=g, eta=eta_, mu=mu_,
                           weight_decay=lam_)


def to_physical_velocity(P_disc, eta) -> np.ndarray:
    """Rescale a covariance of (θ, v) with v the displacement per step into (θ, u = v/η)."""
    P_disc = _square("P_disc", P_disc)
    if P_disc.shape[0] % 2:
        raise ValueError("a phase-space covariance has an even size 2d")
    d = P_disc.shape[0] // 2
    s = np.concatenate([np.ones(d), np.full(d, 1.0 / _positive("eta", eta))])
    return P_disc * np.outer(s, s)


# --------------------------------------------------------------------------------------------
# least squares: exact discrete heavy-ball and simulation
# --------------------------------------------------------------------------------------------
def regularised_minimiser(problem, weight_decay: float = 0.0) -> np.ndarray:
    """θ*_λ = argmin f + (λ/2)‖θ‖² = (H + λI)⁻¹ Aᵀy/N."""
    problem = _problem(problem)
    lam_ = _weight_decay(weight_decay)
    return np.linalg.solve(problem.hessian() + lam_ * np.eye(problem.d), problem.A.T @ problem.y / problem.N)


def _per_sample_at(problem, weight_decay):
    x = regularised_minimiser(problem, weight_decay)
    G = problem.per_sample_gradients(x) + _weight_decay(weight_decay) * x  # mean zero at θ*_λ
    return x, G


def noise_at_minimiser(problem, b, weight_decay: float = 0.0) -> np.ndarray:
    """C = D_λ/b: the covariance of one batch gradient (with replacement) at θ*_λ."""
    problem = _problem(problem)
    b = _batch(b, problem.N)
    _, G = _per_sample_at(problem, weight_decay)
    return G.T @ G / problem.N / b


def exact_heavy_ball_covariance(problem, eta, b, mu, weight_decay: float = 0.0) -> np.ndarray:
    """Exact stationary covariance of discrete heavy-ball SGD on least squares, in s = (θ − θ*_λ, v).

    v is the displacement per step. Batches are drawn with replacement. With the batch Hessian
    H_B and the batch gradient at θ*_λ, c_B (mean zero), a step is s' = M_B s + w_B with
    M_B = [[I − η(H_B + λ), μI], [−η(H_B + λ), μI]] and w_B = −η(c_B, c_B). At stationarity E s = 0,
    so P = E[M_B P M_Bᵀ] + E[w_B w_Bᵀ], with E[ΔH ⊗ ΔH] = (K − H⊗H)/b: a linear system in vec P
    (4d² unknowns). Raises if the second moment diverges.

    Used in: 16_momentum_limiting_dynamics
    """
    problem = _problem(problem)
    eta_, mu_, lam_ = _positive("eta", eta), _momentum(mu), _weight_decay(weight_decay)
    b = _batch(b, problem.N)
    A, d, N = problem.A, problem.d, problem.N
    H = problem.hessian()
    Hl = H + lam_ * np.eye(d)
    I, Z = np.eye(d), np.zeros((d, d))
    M = np.block([[I - eta_ * Hl, mu_ * I], [-eta_ * Hl, mu_ * I]])
    L = np.vstack([I, I])
    R = np.hstack([I, Z])
    outer = (A[:, :, None] * A[:, None, :]).reshape(N, -1)
    K = outer.T @ outer / N
    dHdH = (K - np.kron(H, H)) / b
    op = np.kron(M, M) + eta_**2 * np.kron(L, L) @ dHdH @ np.kron(R, R)
    rho = float(np.max(np.abs(np.linalg.eigvals(op))))
    if rho >= 1:
        raise ValueError(f"the second moment of heavy-ball SGD diverges at eta={eta_:g}, b={b}, mu={mu_:g}: spectral "
                         f"radius {rho:.4g} >= 1; lower eta or raise b")
    C = noise_at_minimiser(problem, b, lam_)
    rhs = (eta_**2 * L @ C @ L.T).reshape(-1)
    P = np.linalg.solve(np.eye(4 * d * d) - op, rhs).reshape(2 * d, 2 * d)
    return (P + P.T) / 2


def additive_heavy_ball_covariance(H, C, eta, mu, weight_decay: float = 0.0) -> np.ndarray:
    """Stationary covariance of discrete heavy-ball with a constant noise C, in s = (θ − θ*_λ, v).

    P = MPMᵀ + η² L C Lᵀ with M = [[I − ηH_λ, μI], [−ηH_λ, μI]], L = (I; I): the discrete
    Lyapunov equation (no multiplicative noise), the discrete counterpart of :func:`phase_space_model`.

    Used in: 16_momentum_limiting_dynamics
    """
    import scipy.linalg

    H, C = _square("H", H), _square("C", C)
    if H.shape != C.shape:
        raise ValueError(f"H {H.shape} and C {C.shape} must have the same shape")
    eta_, mu_, lam_ = _positive("eta", eta), _momentum(mu), _weight_decay(weight_decay)
    d = H.shape[0]
    Hl = H + lam_ * np.eye(d)
    I = np.eye(d)
    M = np.block([[I - eta_ * Hl, mu_ * I], [-eta_ * Hl, mu_ * I]])
    if np.max(np.abs(np.linalg.eigvals(M))) >= 1:
        raise ValueError(f"heavy-ball is unstable at eta={eta_:g}, mu={mu_:g}: need eta·λ_max(H_λ) < 2(1 + mu)")
    L = np.vstack([I, I])
    P = scipy.linalg.solve_discrete_lyapunov(M, eta_**2 * L @ C @ L.T)
    return (P + P.T) / 2


@dataclass
class HeavyBallEstimate:
    """:func:`simulate_heavy_ball`: per-chain time averages after the burn-in, in s = (θ − θ*_λ, v)."""

    chain_cov: np.ndarray  # (n_chains, 2d, 2d) time averages of s sᵀ
    chain_wedge: np.ndarray  # (n_chains, 2d, 2d) time averages of s_k s_{k+1}ᵀ − s_{k+1} s_kᵀ
    n_steps: int
    burn_in: int

    @property
    def cov(self) -> np.ndarray:
        return self.chain_cov.mean(0)

    @property
    def cov_se(self) -> np.ndarray:
        return self.chain_cov.std(0, ddof=1) / np.sqrt(len(self.chain_cov))

    @property
    def wedge(self) -> np.ndarray:
        return self.chain_wedge.mean(0)

    @property
    def wedge_se(self) -> np.ndarray:
        return self.chain_wedge.std(0, ddof=1) / np.sqrt(len(self.chain_wedge))


def simulate_heavy_ball(problem, eta, b, mu, weight_decay: float = 0.0, *, n_chains: int, n_steps: int,
                        burn_in: int, seed: int, progress=None) -> HeavyBallEstimate:
    """Run ``n_chains`` independent heavy-ball SGD chains on least squares from θ*_λ with v = 0.

    Batches of size ``b`` are drawn with replacement (NumPy generator seeded with ``seed``). The
    steps after ``burn_in`` enter each chain's time averages of s sᵀ and of the lag-one wedge
    s_k s_{k+1}ᵀ − s_{k+1} s_kᵀ (whose expectation is PMᵀ − MP, M = E M_B: the discrete area rate).

    Used in: 16_momentum_limiting_dynamics
    """
    problem = _problem(problem)
    eta_, mu_, lam_ = _positive("eta", eta), _momentum(mu), _weight_decay(weight_decay)
    b = _batch(b, problem.N)
    for name, v in (("n_chains", n_chains), ("n_steps", n_steps)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 2:
            raise ValueError(f"{name} must be an integer >= 2, got {v!r}")
    if isinstance(burn_in, bool) or not isinstance(burn_in, (int, np.integer)) or not 0 <= burn_in < n_steps - 1:
        raise ValueError(f"burn_in must be an integer in [0, n_steps - 1), got {burn_in!r}")
    A, y, d, N = problem.A, problem.y, problem.d, problem.N
    xs = regularised_minimiser(problem, lam_)
    rng = np.random.default_rng(seed)
    x = np.tile(xs, (n_chains, 1))
    v = np.zeros((n_chains, d))
    acc = np.zeros((n_chains, 2 * d, 2 * d))
    wacc = np.zeros_like(acc)
    prev = None
    count = 0
    steps = range(n_steps) if progress is None else progress(range(n_steps))
    for k in steps:
        idx = rng.integers(0, N, size=(n_chains, b))
        a = A[idx]  # (n, b, d)
        r = np.einsum("nbd,nd->nb", a, x) - y[idx]
        g = np.einsum("nbd,nb->nd", a, r) / b + lam_ * x
        v = mu_ * v - eta_ * g
        x = x + v
        if k >= burn_in:
            s = np.hstack([x - xs, v])
            acc += s[:, :, None] * s[:, None, :]
            if prev is not None:
                w = prev[:, :, None] * s[:, None, :]
                wacc += w - w.transpose(0, 2, 1)
            prev = s
            count += 1
    return HeavyBallEstimate(chain_cov=acc / count, chain_wedge=wacc / (count - 1), n_steps=n_steps, burn_in=burn_in)
