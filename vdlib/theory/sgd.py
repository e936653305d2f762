"""Many independent SGD chains on least squares, vectorised in torch, and their theory.

The problem is a :class:`vdlib.theory.regression.LinearRegression`, f(x) = (1/2N) ‖Ax − y‖², with
per-sample gradients g_k(x) = a_k(a_kᵀx − y_k). One SGD step of every chain is

    x ← x − η (1/b) Σ_{k ∈ batch} g_k(x),

with a fresh batch per chain and per step: b i.i.d. uniform indices (``replacement=True``, the
model of Definition 1) or a uniformly random b-subset (``replacement=False``, Appendix A.2).
All chains advance together (one Python loop over steps, none over chains), and each chain keeps
running time averages after a burn-in, so that chains give independent estimates of the
stationary covariance and honest Monte Carlo error bars.

On least squares the stationary mean of SGD is exactly the minimiser x*, and the stationary
covariance is known exactly: it solves the discrete Lyapunov equation with D replaced by its
stationary average E_ρ[D(x)] (:func:`exact_sgd_covariance`). The constant-D predictions of
:mod:`vdlib.theory.linear` use D(x*).

Each SGD chain also accumulates the lag-one wedge products z_k ∧ z_{k+1} after the burn-in, so
that a run returns the stationary area (angular-momentum) rates ⟨z_i ż_j − z_j ż_i⟩ of Lemma 20
with their standard errors (:attr:`SGDChainsResult.area_rate`).

Used in: 02_sgd_as_sde, 07_linear_case.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from .. import checks
from .linear import _check_batch, _check_eta, max_stable_learning_rate, temperature
from .regression import LinearRegression
from .sde import _few_threads

__all__ = [
    "SGDChainsResult",
    "run_sgd_chains",
    "exact_sgd_covariance",
    "second_moment_spectral_radius",
    "ExactCovariance",
    "diffusion_field",
    "run_sde_chains",
    "exact_area_rate",
]


@dataclass
class SGDChainsResult:
    """The outcome of :func:`run_sgd_chains` (or :func:`run_sde_chains`); arrays are NumPy float64.

    * ``cov``, ``cov_se``: stationary covariance about x* (the exact stationary mean on least
      squares) and its Monte Carlo standard error, from the per-chain time averages over the steps
      after ``burn_in`` (independent chains: se = std over chains / √n_chains);
    * ``mean``, ``mean_se``: the stationary mean and its standard error;
    * ``per_chain_cov``: each chain's time-averaged (x − x*)(x − x*)ᵀ, shape (n_chains, d, d);
    * ``final``: every chain's last iterate, shape (n_chains, d): independent stationary draws;
    * ``snapshots``/``steps``: iterates every ``record_every`` steps (``None`` unless asked for);
    * ``area``, ``area_se``, ``per_chain_area`` (SGD chains only, else ``None``): the stationary
      area rates A_ij = ⟨z_i ż_j − z_j ż_i⟩ in time units of η, from the lag-one wedge products
      (z_{k,i} z_{k+1,j} − z_{k,j} z_{k+1,i})/η averaged over the steps after the burn-in, with
      z = x − x*; antisymmetric d×d matrices (per chain: shape (n_chains, d, d)).
      :attr:`area_rate` is A₁₂ = ⟨z₁ż₂ − z₂ż₁⟩ (counter-clockwise positive).

    Used in: 02_sgd_as_sde, 07_linear_case
    """

    eta: float
    b: int
    replacement: bool
    n_steps: int
    burn_in: int
    n_chains: int
    seed: int
    center: np.ndarray
    cov: np.ndarray
    cov_se: np.ndarray
    mean: np.ndarray
    mean_se: np.ndarray
    per_chain_cov: np.ndarray = field(repr=False)
    final: np.ndarray = field(repr=False)
    snapshots: np.ndarray | None = field(default=None, repr=False)
    steps: np.ndarray | None = field(default=None, repr=False)
    method: str = "sgd"
    elapsed_s: float = field(default=0.0, repr=False)
    area: np.ndarray | None = None
    area_se: np.ndarray | None = None
    per_chain_area: np.ndarray | None = field(default=None, repr=False)

    @property
    def noise_scale(self) -> float:
        """η/b, the factor in front of every constant-D prediction."""
        return self.eta / self.b

    def _area_entry(self, M) -> float:
        if M is None:
            raise ValueError(
                f"this result ({self.method}) has no area rates: they are accumulated by run_sgd_chains; "
                "for the OU process use vdlib.theory.linear.simulate_ou_area_rate"
            )
        if M.shape[-1] < 2:
            raise ValueError("an area rate needs d >= 2 coordinates")
        return float(M[0, 1])

    @property
    def area_rate(self) -> float:
        """⟨z₁ż₂ − z₂ż₁⟩ per unit time η (the lag-one estimate, averaged over chains).

        Used in: 07_linear_case
        """
        return self._area_entry(self.area)

    @property
    def area_rate_se(self) -> float:
        """The standard error of :attr:`area_rate` (spread over independent chains / √n_chains)."""
        return self._area_entry(self.area_se)


# --------------------------------------------------------------------------------------------
# checks
# --------------------------------------------------------------------------------------------
def _check_problem(problem) -> LinearRegression:
    if not isinstance(problem, LinearRegression):
        raise TypeError(
            f"problem must be a vdlib.theory.regression.LinearRegression (e.g. make_linear_regression()), "
            f"got {type(problem).__name__}"
        )
    return problem


def _check_run(n_steps, burn_in, n_chains, record_every, seed):
    n_steps = checks.integer(n_steps, "n_steps", 1)
    if burn_in is None:
        burn_in = n_steps // 2
    burn_in = checks.integer(burn_in, "burn_in", 0)
    if n_steps <= burn_in:
        raise ValueError(
            f"n_steps={n_steps} must exceed burn_in={burn_in}: the time averages use the steps after the burn-in; "
            "run more steps or lower burn_in"
        )
    n_chains = checks.integer(n_chains, "n_chains", 2)
    if record_every is not None:
        record_every = checks.integer(record_every, "record_every", 1)
    seed = checks.integer(seed, "seed", 0)
    return n_steps, burn_in, n_chains, record_every, seed


def _initial(problem, x0, n_chains, dtype, device):
    xs = problem.minimiser()
    if x0 is None:
        x = np.tile(xs, (n_chains, 1))
    else:
        x = np.asarray(x0, dtype=float)
        if x.shape == (problem.d,):
            x = np.tile(x, (n_chains, 1))
        elif x.shape != (n_chains, problem.d):
            raise ValueError(
                f"x0 must have shape (d,) = ({problem.d},) or (n_chains, d) = ({n_chains}, {problem.d}), got {x.shape}"
            )
        if not np.all(np.isfinite(x)):
            raise ValueError("x0 contains NaN or infinite entries")
    return xs, torch.as_tensor(x, dtype=dtype, device=device).clone()


# --------------------------------------------------------------------------------------------
# exact stationary covariance of SGD on least squares
# --------------------------------------------------------------------------------------------
@dataclass
class ExactCovariance:
    """:func:`exact_sgd_covariance`: Σ, the stationary average E_ρ[D(x)], and D(x*).

    Used in: 02_sgd_as_sde
    """

    sigma: np.ndarray
    mean_diffusion: np.ndarray
    diffusion_at_minimum: np.ndarray
    spectral_radius: float


def _fourth_moment(A: np.ndarray) -> np.ndarray:
    """K = (1/N) Σ_k (a_k a_kᵀ) ⊗ (a_k a_kᵀ) as a d²×d² matrix (row-major vec)."""
    outer = A[:, :, None] * A[:, None, :]
    flat = outer.reshape(A.shape[0], -1)
    return flat.T @ flat / A.shape[0]


def _covariance_operator(problem, eta, b, replacement):
    A, d, N = problem.A, problem.d, problem.N
    H = problem.hessian()
    c = 1.0 if replacement else (N - b) / (N - 1)
    M = np.eye(d) - eta * H
    K = _fourth_moment(A)
    HH = np.kron(H, H)
    op = np.kron(M, M) + (eta**2 * c / b) * (K - HH)
    return op, K, HH, c


def second_moment_spectral_radius(problem, eta, b, replacement: bool = True) -> float:
    """Spectral radius of SGD's exact covariance recursion on least squares (< 1: Σ converges).

    The recursion is vec Σ ← [M⊗M + (η²c/b)(K − H⊗H)] vec Σ + ..., with K = E_k[(a_k a_kᵀ)⊗(a_k a_kᵀ)];
    see :func:`exact_sgd_covariance`. The second term, from the random batch Hessian, can make
    the second moment diverge at learning rates where the mean (spectral radius of M) still
    converges.

    Used in: 02_sgd_as_sde
    """
    problem = _check_problem(problem)
    eta = _check_eta(eta)
    b = _check_batch(b, problem.N, replacement)
    op, *_ = _covariance_operator(problem, eta, b, replacement)
    return float(np.max(np.abs(np.linalg.eigvals(op))))


def exact_sgd_covariance(problem, eta, b, replacement: bool = True) -> ExactCovariance:
    """The exact stationary covariance of SGD on least squares (state-dependent noise included).

    With z = x − x*, a step is z ← (I − ηÂ) z − η ĝ*, where Â averages a_k a_kᵀ and ĝ* averages
    g_k(x*) over the batch. Taking second moments at stationarity (E z = 0) gives

        Σ = MΣM + (η²/b) c · E_ρ[D(x)],   E_ρ[D(x)] = D(x*) + E_k[a_k a_kᵀ Σ a_k a_kᵀ] − HΣH,

    with M = I − ηH and c = 1 with replacement, (N − b)/(N − 1) without. This is the discrete
    Lyapunov equation with D(x*) replaced by the average of D(x) over the stationary law; the
    extra term is a covariance, so the noise SGD feels is larger than D(x*). Solved as a linear
    system in vec Σ (d² unknowns).

    Used in: 02_sgd_as_sde
    """
    problem = _check_problem(problem)
    eta = _check_eta(eta)
    b = _check_batch(b, problem.N, replacement)
    d = problem.d
    Dstar = problem.diffusion(problem.minimiser())
    op, K, HH, c = _covariance_operator(problem, eta, b, replacement)
    rho = float(np.max(np.abs(np.linalg.eigvals(op))))
    if rho >= 1.0:
        raise ValueError(
            f"the second moment of SGD diverges at eta={eta:g}, b={b}: the spectral radius of the covariance "
            f"recursion is {rho:.4g} ≥ 1 (multiplicative noise from the random batch Hessian); lower eta or raise b"
        )
    rhs = (eta**2 * c / b) * Dstar.reshape(-1)
    vec = np.linalg.solve(np.eye(d * d) - op, rhs)
    S = vec.reshape(d, d)
    S = (S + S.T) / 2
    mean_D = Dstar + ((K - HH) @ S.reshape(-1)).reshape(d, d)
    return ExactCovariance(sigma=S, mean_diffusion=(mean_D + mean_D.T) / 2, diffusion_at_minimum=Dstar, spectral_radius=rho)


def exact_area_rate(problem, eta, b, replacement: bool = True) -> float:
    """The exact stationary area rate ⟨z₁ż₂ − z₂ż₁⟩ of SGD on least squares, per unit time η.

    The batch noise has conditional mean zero, E[z_{k+1} | z_k] = (I − ηH) z_k, so the lag-one
    statistic E[z_k ∧ z_{k+1}]/η equals (HΣ − ΣH)₁₂ exactly, with Σ the exact stationary
    covariance of :func:`exact_sgd_covariance` (state-dependent noise and finite η included).
    Compare :func:`vdlib.theory.linear.sgd_area_rate` (constant D = D(x*), continuous or discrete).

    Used in: 07_linear_case
    """
    from .linear import area_rate_from_covariance

    ex = exact_sgd_covariance(problem, eta, b, replacement)
    return area_rate_from_covariance(problem.hessian(), ex.sigma)


def _check_stable(problem, eta, b, replacement) -> None:
    H = problem.hessian()
    eta_max = max_stable_learning_rate(H)
    if eta >= eta_max:
        raise ValueError(
            f"SGD diverges at eta={eta:g}: the mean iterate needs eta < 2/λ_max(H) = {eta_max:.6g}; lower eta"
        )
    exact_sgd_covariance(problem, eta, b, replacement)  # raises if the second moment diverges


# --------------------------------------------------------------------------------------------
# batch sampling
# --------------------------------------------------------------------------------------------
def _sample_batches(n: int, N: int, b: int, replacement: bool, gen, device) -> torch.Tensor:
    """(n, b) indices: i.i.d. uniform, or n independent uniform b-subsets of {0..N-1}."""
    if replacement:
        return torch.randint(0, N, (n, b), generator=gen, device=device)
    if b == N:
        return torch.arange(N, device=device).expand(n, N)
    if b <= 16:
        # Floyd's algorithm (Bentley & Floyd 1987), vectorised over chains: b draws per step.
        idx = torch.empty(n, b, dtype=torch.long, device=device)
        for j, t in enumerate(range(N - b, N)):
            r = torch.randint(0, t + 1, (n,), generator=gen, device=device)
            if j:
                dup = (idx[:, :j] == r[:, None]).any(dim=1)
                r = torch.where(dup, torch.full_like(r, t), r)
            idx[:, j] = r
        return idx
    keys = torch.rand(n, N, generator=gen, device=device)
    return keys.topk(b, dim=1).indices


# --------------------------------------------------------------------------------------------
# SGD chains
# --------------------------------------------------------------------------------------------
def run_sgd_chains(
    problem,
    eta,
    b,
    n_steps,
    n_chains,
    *,
    seed: int = 0,
    replacement: bool = True,
    burn_in: int | None = None,
    x0=None,
    device: str | None = None,
    record_every: int | None = None,
    dtype: torch.dtype = torch.float64,
    check_stability: bool = True,
) -> SGDChainsResult:
    """Run ``n_chains`` independent SGD chains on a least-squares problem and estimate Σ.

    Every chain starts at ``x0`` (default: the minimiser x*) and takes ``n_steps`` steps with
    learning rate ``eta`` and batch size ``b``; the steps after ``burn_in`` (default
    ``n_steps // 2``) enter each chain's time average of (x − x*)(x − x*)ᵀ. Chains are
    independent, so the spread of the per-chain averages gives the standard error.
    ``record_every`` keeps every chain's iterate every so many steps.

    The random batches come from a private ``torch.Generator`` seeded with ``seed``: the same
    seed gives the same result. Before running, the stability of the mean (η < 2/λ_max(H)) and
    of the second moment is checked (``check_stability=False`` skips it); a NaN/inf during the
    run raises ``FloatingPointError`` naming the step.

    Used in: 02_sgd_as_sde
    """
    t0 = time.perf_counter()
    problem = _check_problem(problem)
    eta = _check_eta(eta)
    b = _check_batch(b, problem.N, replacement)
    n_steps, burn_in, n_chains, record_every, seed = _check_run(n_steps, burn_in, n_chains, record_every, seed)
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
    if check_stability:
        _check_stable(problem, eta, b, replacement)
    dev = torch.device(device or "cpu")
    xs, x = _initial(problem, x0, n_chains, dtype, dev)
    N, d = problem.N, problem.d
    c = torch.as_tensor(xs, dtype=torch.float64, device=dev)
    gen = torch.Generator(device=dev).manual_seed(seed)
    batch_gradient_sum = _batch_gradient_sum(problem, n_chains, b, dtype, dev)

    acc1 = torch.zeros(n_chains, d, dtype=torch.float64, device=dev)
    acc2 = torch.zeros(n_chains, d, d, dtype=torch.float64, device=dev)
    acc_lag = torch.zeros(n_chains, d, d, dtype=torch.float64, device=dev)  # Σ_k z_k z_{k+1}ᵀ
    z_prev = x.double() - c
    snaps, steps = ([], []) if record_every is not None else (None, None)
    if snaps is not None:
        snaps.append(x.double().cpu().numpy().copy())
        steps.append(0)
    step_size = eta / b
    with _few_threads(device=dev):
        for k in range(1, n_steps + 1):
            idx = _sample_batches(n_chains, N, b, replacement, gen, dev)
            x = x - step_size * batch_gradient_sum(idx, x)
            if not torch.isfinite(x.sum()):
                raise FloatingPointError(
                    f"SGD diverged at step {k}: an iterate became NaN or infinite; lower eta or raise b"
                )
            if k > burn_in:
                z = x.double() - c
                acc1 += z
                acc2 += z[:, :, None] * z[:, None, :]
                acc_lag += z_prev[:, :, None] * z[:, None, :]
                z_prev = z
            elif k == burn_in:
                z_prev = x.double() - c
            if snaps is not None and k % record_every == 0:
                snaps.append(x.double().cpu().numpy().copy())
                steps.append(k)

    res = _result(
        acc1, acc2, n_steps - burn_in, x, xs, snaps, steps,
        eta=eta, b=b, replacement=replacement, n_steps=n_steps, burn_in=burn_in, n_chains=n_chains,
        seed=seed, method="sgd", t0=t0,
    )
    lag = (acc_lag / (n_steps - burn_in)).cpu().numpy()
    per_area = (lag - lag.transpose(0, 2, 1)) / eta  # ⟨z_i ż_j − z_j ż_i⟩, time unit η
    res.per_chain_area = per_area
    res.area = per_area.mean(axis=0)
    res.area_se = per_area.std(axis=0, ddof=1) / np.sqrt(n_chains)
    res.elapsed_s = time.perf_counter() - t0
    return res


_MOMENT_PATH_MAX_D = 4


def _batch_gradient_sum(problem, n_chains, b, dtype, dev):
    """A function (idx (n, b), x (n, d)) → Σ_{k ∈ batch} a_k(a_kᵀx − y_k), shape (n, d).

    For small d the per-sample moments m_k = (a_k a_kᵀ, a_k y_k) are summed over each chain's
    batch as one sparse product C @ M, where row c of the (n × N) CSR matrix C holds chain c's
    batch indices (a repeated index counts twice); the gradient sum is then S x − v. This is the
    same sum as forming the residuals sample by sample, with several times less work per step.
    For larger d the residuals are formed per sample (two batched products).
    """
    import warnings

    A, y, d = problem.A, problem.y, problem.d
    N = problem.N
    if d <= _MOMENT_PATH_MAX_D:
        moments = np.hstack([(A[:, :, None] * A[:, None, :]).reshape(N, d * d), A * y[:, None]])
        P = torch.as_tensor(moments, dtype=dtype, device=dev).contiguous()
        crow = torch.arange(0, n_chains * b + 1, b, device=dev)
        ones = torch.ones(n_chains * b, dtype=dtype, device=dev)

        def grad_sum(idx, x):
            C = torch.sparse_csr_tensor(crow, idx.reshape(-1), ones, size=(n_chains, N))
            s = C @ P  # (n, d² + d): per-chain batch sums of the moments
            S, v = s[:, : d * d].view(-1, d, d), s[:, d * d:]
            return torch.bmm(S, x.unsqueeze(-1)).squeeze(-1) - v

        with warnings.catch_warnings():  # torch flags CSR as beta once per process; the product is exact
            warnings.simplefilter("ignore", UserWarning)
            grad_sum(torch.zeros(n_chains, b, dtype=torch.long, device=dev),
                     torch.zeros(n_chains, d, dtype=dtype, device=dev))
        return grad_sum

    # rows (a_k, −y_k): one gather per step gives the batch inputs and targets together
    Ay = torch.as_tensor(np.hstack([A, -y[:, None]]), dtype=dtype, device=dev).contiguous()
    ones = torch.ones(n_chains, 1, 1, dtype=dtype, device=dev)

    def grad_sum(idx, x):
        batch = Ay.index_select(0, idx.reshape(-1)).view(n_chains, b, d + 1)  # (n, b, d+1)
        r = torch.bmm(batch, torch.cat([x.unsqueeze(-1), ones], dim=1))  # residuals a·x − y, (n, b, 1)
        return torch.bmm(r.transpose(1, 2), batch).squeeze(1)[:, :d]  # Σ_batch a_k r_k, (n, d)

    return grad_sum


def _result(acc1, acc2, count, x, xs, snaps, steps, *, t0, **meta) -> SGDChainsResult:
    m = (acc1 / count).cpu().numpy()
    per = (acc2 / count).cpu().numpy()
    n = per.shape[0]
    sq = np.sqrt(n)
    return SGDChainsResult(
        center=np.asarray(xs, dtype=float),
        cov=per.mean(axis=0),
        cov_se=per.std(axis=0, ddof=1) / sq,
        mean=xs + m.mean(axis=0),
        mean_se=m.std(axis=0, ddof=1) / sq,
        per_chain_cov=per,
        final=x.double().cpu().numpy(),
        snapshots=None if snaps is None else np.stack(snaps),
        steps=None if steps is None else np.asarray(steps),
        elapsed_s=time.perf_counter() - t0,
        **meta,
    )


# --------------------------------------------------------------------------------------------
# the SDE counterpart (Lemma 2) on the same problem
# --------------------------------------------------------------------------------------------
def diffusion_field(problem, dtype: torch.dtype = torch.float64, device: str | None = None):
    """D(x) for least squares as a batched torch function (n, d) → (n, d, d), in closed form.

    With z = x − x*, the centred per-sample gradient is (a_k a_kᵀ − H) z + g_k(x*), so D is a
    quadratic polynomial in z: D(x* + z) = D(x*) + L(z) + Q(z, z), evaluated without a pass over
    the N examples. Agrees with ``problem.diffusion(x)``.

    Used in: 02_sgd_as_sde
    """
    problem = _check_problem(problem)
    A, N = problem.A, problem.N
    xs = problem.minimiser()
    H = problem.hessian()
    G = problem.per_sample_gradients(xs)
    Gc = G - G.mean(axis=0)
    Dstar = Gc.T @ Gc / N
    # L(z)_ij = Σ_l (B_ijl + B_jil) z_l with B_ijl = E_k[(a a ᵀ − H)_il g*_kj]
    outer = A[:, :, None] * A[:, None, :] - H  # (N, d, d)
    B = np.einsum("kil,kj->ijl", outer, Gc) / N
    Lt = B + B.transpose(1, 0, 2)
    Qt = np.einsum("kil,kjm->ijlm", outer, outer) / N  # Q(z)_ij = Σ_lm Qt_ijlm z_l z_m
    dev = torch.device(device or "cpu")
    t = lambda a: torch.as_tensor(a, dtype=dtype, device=dev)  # noqa: E731
    Dstar_t, Lt_t, Qt_t, xs_t = t(Dstar), t(Lt), t(Qt), t(xs)

    def D(x: torch.Tensor) -> torch.Tensor:
        z = x - xs_t
        return Dstar_t + torch.einsum("ijl,nl->nij", Lt_t, z) + torch.einsum("ijlm,nl,nm->nij", Qt_t, z, z)

    return D


def _psd_sqrt(M: torch.Tensor) -> torch.Tensor:
    """Symmetric square roots of a batch of PSD matrices (closed form for 2×2)."""
    if M.shape[-1] == 2:
        det = (M[..., 0, 0] * M[..., 1, 1] - M[..., 0, 1] * M[..., 1, 0]).clamp_min(0.0)
        s = det.sqrt()
        tr = (M[..., 0, 0] + M[..., 1, 1] + 2 * s).clamp_min(torch.finfo(M.dtype).tiny)
        eye = torch.eye(2, dtype=M.dtype, device=M.device)
        return (M + s[..., None, None] * eye) / tr.sqrt()[..., None, None]
    vals, vecs = torch.linalg.eigh(M)
    return (vecs * vals.clamp_min(0.0).sqrt()[..., None, :]) @ vecs.transpose(-1, -2)


def run_sde_chains(
    problem,
    eta,
    b,
    n_steps,
    n_chains,
    *,
    seed: int = 0,
    diffusion: str = "constant",
    replacement: bool = True,
    burn_in: int | None = None,
    x0=None,
    device: str | None = None,
    dtype: torch.dtype = torch.float64,
) -> SGDChainsResult:
    """Euler–Maruyama for the SDE (3) of Lemma 2 on a least-squares problem, with dt = η.

    dx = −∇f(x) dt + √(2β⁻¹ D) dW, β⁻¹ = :func:`vdlib.theory.linear.temperature`, with
    ``diffusion="constant"`` (D = D(x*): the Ornstein–Uhlenbeck model of the Lyapunov equations)
    or ``"state"`` (D = D(x), :func:`diffusion_field`). One EM step per SGD step (dt = η), so
    the result is comparable step for step with :func:`run_sgd_chains`; same return type.

    Used in: 02_sgd_as_sde
    """
    from .sde import euler_maruyama

    t0 = time.perf_counter()
    problem = _check_problem(problem)
    eta = _check_eta(eta)
    b = _check_batch(b, problem.N, replacement)
    n_steps, burn_in, n_chains, _, seed = _check_run(n_steps, burn_in, n_chains, None, seed)
    if diffusion not in ("constant", "state"):
        raise ValueError(f"diffusion must be 'constant' (D(x*)) or 'state' (D(x)), got {diffusion!r}")
    T = temperature(eta, b, replacement=replacement, N=problem.N)
    dev = torch.device(device or "cpu")
    xs, x = _initial(problem, x0, n_chains, dtype, dev)
    H = torch.as_tensor(problem.hessian(), dtype=dtype, device=dev)
    xs_t = torch.as_tensor(xs, dtype=dtype, device=dev)

    def drift(x):
        return -(x - xs_t) @ H  # −∇f(x) = −H(x − x*) for least squares (H symmetric)

    if diffusion == "constant":
        Dstar = torch.as_tensor(problem.diffusion(xs), dtype=dtype, device=dev)
        sigma = float(np.sqrt(2 * T)) * _psd_sqrt(Dstar)
    else:
        Dfield = diffusion_field(problem, dtype=dtype, device=device)
        scale = float(np.sqrt(2 * T))

        def sigma(x):
            return scale * _psd_sqrt(Dfield(x))

    res = euler_maruyama(drift, sigma, x, eta, n_steps, seed=seed, average_from=burn_in, device=device, dtype=dtype)
    cov, se = res.stationary_covariance(center=xs)
    per = res.per_particle_covariance(center=xs)
    m = res.mean
    sq = np.sqrt(n_chains)
    return SGDChainsResult(
        eta=eta, b=b, replacement=replacement, n_steps=n_steps, burn_in=burn_in, n_chains=n_chains, seed=seed,
        center=xs, cov=cov, cov_se=se, mean=m.mean(axis=0), mean_se=m.std(axis=0, ddof=1) / sq,
        per_chain_cov=per, final=res.final, method=f"sde-{diffusion}", elapsed_s=time.perf_counter() - t0,
    )
