"""Answer checks of chapter 16 (momentum and the limiting dynamics) and chapter 17 (local entropy).

Registered on import (by :mod:`vdlib.book.exercises`): the numbered exercises ``chNN-exK`` and the warm-up
concept checks ``chNN-wK``. Each reference is computed by the vdlib functions the chapter's solution calls,
or by a few lines of SymPy, never typed in; functions decorated ``@_reference`` give it to
:func:`vdlib.book.exercises.reference`. Each numeric tolerance is stated in the check's message.
"""
from __future__ import annotations

import functools

import numpy as np
import sympy as sp

from .kit import (_array, _call, _choice, _close, _float, _fmt, _Invalid, _numeric_verdict, _reference,
                  _register, _symbolic, _symbolic_verdict, _Wrong)

# ------------------------------------------------------------------------------------------------
# chapter 16: momentum and the limiting dynamics

CH16_EX1_CASES = ((0.1, 0.9), (1.0, 0.9), (1.5, 0.9), (1.0, 0.5))


@_reference("ch16-ex1")
def _ch16_ex1_ref():
    from vdlib.theory import limiting_dynamics as ld

    def discrete_over_sde(eta_h, mu=0.9):
        disc = ld.additive_heavy_ball_covariance([[1.0]], [[1.0]], eta_h, mu)[0, 0]
        return disc / ld.phase_space_model([[1.0]], [[1.0]], eta_h, mu).P[0, 0]
    return discrete_over_sde


@_register("ch16-ex1", "ld_ex1", "your function discrete_over_sde(eta_h, mu=0.9), returning a ratio of variances (a float)")
def _ch16_ex1(fn):
    got = np.array([_float(_call(fn, "a float", e, mu=mu), "the variance ratio") for e, mu in CH16_EX1_CASES])
    want = np.array([_ch16_ex1_ref()(e, mu) for e, mu in CH16_EX1_CASES])
    eta = np.array([e for e, _ in CH16_EX1_CASES])
    return _numeric_verdict(got, want, 1e-8, 0.0, [
        (1 / want, "the ratio is discrete / SDE, not SDE / discrete"),
        (1 / (1 - eta / 2), "that is the ratio without momentum; with momentum the discrete term is ηh/(2(1+μ))"),
    ], "discrete/SDE variance ratio at (ηh, μ) = " + ", ".join(f"({e}, {mu})" for e, mu in CH16_EX1_CASES))


def _ch16_ex2_problem():
    H = np.array([[2.0, 0.3], [0.3, 0.5]])
    C = np.array([[1.0, -0.4], [-0.4, 0.3]])  # does not commute with H
    return H, C, 1e-3


@_reference("ch16-ex2")
def _ch16_ex2_ref():
    from vdlib.theory import limiting_dynamics as ld
    return lambda H, C, weight_decay: (ld.phase_space_model(H, C, 0.01, 0.9, weight_decay),
                                       ld.phase_space_model(H, C, 0.1, 0.0, weight_decay))


def _position_cov(model, d, what):
    if not hasattr(model, "P"):
        raise _Invalid(f"expected ld.phase_space_model results (with .P) for {what}, got {type(model).__name__}")
    return _array(model.P, (2 * d, 2 * d), what)[:d, :d]


@_register("ch16-ex2", "ld_ex2", "your function compare_effective_lr(H, C, weight_decay), returning the pair of "
                                 "ld.phase_space_model results at (η, μ) = (0.01, 0.9) and (0.1, 0)")
def _ch16_ex2(fn):
    from vdlib.theory import limiting_dynamics as ld
    H, C, lam = _ch16_ex2_problem()
    out = _call(fn, "a pair of models", H, C, lam)
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise _Invalid("expected a pair (with momentum, without momentum)")
    got = np.stack([_position_cov(m, 2, "the position covariance") for m in out])
    want = np.stack([m.P[:2, :2] for m in _ch16_ex2_ref()(H, C, lam)])
    no_decay = np.stack([m.P[:2, :2] for m in _ch16_ex2_ref()(H, C, 0.0)])
    add = np.stack([ld.additive_heavy_ball_covariance(H, C, 0.01, 0.9, lam)[:2, :2],
                    ld.additive_heavy_ball_covariance(H, C, 0.1, 0.0, lam)[:2, :2]])
    return _numeric_verdict(got, want, 1e-6, 1e-12, [
        (want[::-1], "the order is (with momentum (0.01, 0.9), without momentum (0.1, 0))"),
        (no_decay, "pass the weight decay to ld.phase_space_model"),
        (add, "that is the discrete heavy-ball covariance; the exercise compares the underdamped model's"),
    ], "position covariances P_θθ on a 2×2 H with non-commuting C, λ = 1e-3")


CH16_EX3_WINDOWS = ((1, 5), (5, 50), (20, 200))


@_reference("ch16-ex3")
def _ch16_ex3_ref():
    from vdlib.analysis import diffusion_exponent as de
    return lambda paths, windows: {w: de.diffusion_exponent(paths, de.log_lags(*w, 6)) for w in windows}


def _exponent(v, what):
    return _float(getattr(v, "c", v), what)


@_register("ch16-ex3", "ld_ex3", "your function exponents_by_window(paths, windows), returning {window: estimate with .c}")
def _ch16_ex3(fn):
    from vdlib.analysis import diffusion_exponent as de
    paths = de.ou_paths(20, 400, 20.0, seed=7)
    out = _call(fn, "a dict {window: estimate}", paths, list(CH16_EX3_WINDOWS))
    if not isinstance(out, dict) or set(out) != set(CH16_EX3_WINDOWS):
        raise _Invalid(f"expected a dict keyed by the windows {list(CH16_EX3_WINDOWS)}")
    got = np.array([_exponent(out[w], f"c for lags {w}") for w in CH16_EX3_WINDOWS])
    ref = _ch16_ex3_ref()(paths, CH16_EX3_WINDOWS)
    want = np.array([ref[w].c for w in CH16_EX3_WINDOWS])
    linear = np.array([de.diffusion_exponent(paths, np.arange(w[0], w[1] + 1)).c for w in CH16_EX3_WINDOWS])
    return _numeric_verdict(got, want, 1e-9, 1e-12, [
        (linear, "use log-spaced lags, de.log_lags(lag_min, lag_max, 6); evenly spaced lags weight the long end"),
        (2 * want, "c is the slope of log MSD against log lag, not twice it"),
    ], f"c on OU paths (τ = 20, 20 chains × 400 steps) over lags {list(CH16_EX3_WINDOWS)}")


# ------------------------------------------------------------------------------------------------
# chapter 16: momentum and the limiting dynamics

@functools.lru_cache(maxsize=1)
def _underdamped():
    from vdlib.theory import limiting_dynamics as ld
    return ld.underdamped_symbolic()


def _temperature_factor(mu_from: float, mu_to: float) -> float:
    """T(μ_to) / T(μ_from) at fixed η and C, from the SymPy temperature of the underdamped model."""
    from vdlib.theory import limiting_dynamics as ld
    T = _underdamped().temperature
    return float(sp.simplify(T.subs(ld.mu, mu_to) / T.subs(ld.mu, mu_from)))


@_reference("ch16-w1")
def _ch16_w1_ref():
    return _temperature_factor(0.0, 0.9)


@_register("ch16-w1", "ld_w1", "the factor T(μ = 0.9) / T(μ = 0) at fixed η and C (a float)")
def _ch16_w1(answer):
    value = _float(answer, "the temperature factor")
    want = _ch16_w1_ref()
    return _numeric_verdict(value, want, 1e-3, 0.0, [
        (1 / want, "inverted: momentum raises the temperature, T = ηC/(2(1−μ)) grows as μ → 1"),
        (1.9, "1 + μ enters the mass m = η(1+μ)/2, which leaves the position marginal alone; T has 1 − μ"),
        (1.0, "momentum is not neutral at fixed η: it acts as the learning rate η/(1−μ)"),
        (want * 1.9, "(1+μ)/(1−μ) mixes the mass into the temperature; only the friction 1 − μ enters T"),
    ], "T(μ = 0.9) / T(μ = 0)")


CH16_W2_OPTIONS = {
    "a": "the rotation in the (θ₁, v₁) plane",
    "b": "the rotation in the (θ₁, θ₂) plane",
    "c": "both rotations",
    "d": "neither: a stationary Gaussian law is always reversible",
}


@_register("ch16-w2", "ld_w2", 'a letter among "a", "b", "c", "d"')
def _ch16_w2(answer):
    momentum = ("a position–velocity rotation is momentum: u is odd under time reversal, and with the velocity "
                "flipped the process is reversible; it is there even with isotropic noise")
    return _choice(answer, CH16_W2_OPTIONS, "b", {
        "a": momentum,
        "c": momentum + "; only one of the two is irreversibility",
        "d": "a Gaussian law can carry a current: the (θ₁, θ₂) circulation is non-zero because D does not commute with H",
    }, "the rotation that is irreversibility in the sense of chapter 7")


CH16_W3_S = sp.Symbol("s", positive=True)


@_reference("ch16-w3")
def _ch16_w3_ref():
    s = CH16_W3_S
    msd = 1 - sp.exp(-s)  # the OU MSD in units of its plateau, s = lag / τ
    return sp.simplify(s * sp.diff(sp.log(msd), s))


@_register("ch16-w3", "ld_w3", "the local exponent c(s) = d log MSD / d log s, a SymPy expression in s = lag/τ")
def _ch16_w3(answer):
    s = CH16_W3_S
    expr = _symbolic(answer, {"s": s}, "c(s)")
    msd = 1 - sp.exp(-s)
    return _symbolic_verdict(expr, _ch16_w3_ref(), [
        (sp.diff(sp.log(msd), s), "that is d log MSD / ds; the exponent is the slope against log s: multiply by s"),
        (sp.log(msd) / sp.log(s), "the ratio log MSD / log s is not a slope; c is the derivative d log MSD / d log s"),
        (s * sp.diff(msd, s), "differentiate log MSD, not MSD: divide by 1 − e^{−s}"),
    ], "c(s)")


# ------------------------------------------------------------------------------------------------
# chapter 17: local entropy

@functools.lru_cache(maxsize=1)
def _symbolic_le():
    from vdlib.theory import local_entropy as le
    return le.symbolic_1d()


CH17_W1_OPTIONS = {
    "a": "the loss f itself, up to a constant",
    "b": "a very flat bowl around the mean of the global Gibbs measure e^{−βf}",
    "c": "the Moreau envelope min_{x′}[f(x′) + γ(x − x′)²/2]",
    "d": "f smoothed by a kernel whose width shrinks to zero",
}


@_register("ch17-w1", "local_entropy_w1", 'a letter among "a", "b", "c", "d"')
def _ch17_w1(answer):
    return _choice(answer, CH17_W1_OPTIONS, "b", {
        "a": "that is the limit γ → ∞, where the kernel shrinks to a point",
        "c": "the Moreau envelope is the limit β → ∞ at fixed γ, not γ → 0",
        "d": "the kernel's variance is 1/(βγ): it grows without bound as γ → 0",
    }, "the limit of −F_γ as γ → 0")


@_reference("ch17-w2")
def _ch17_w2_ref(gamma: float = 1.0):
    from vdlib.theory import local_entropy as le
    land = le.narrow_wide_1d()
    xs = np.linspace(-4.0, 5.0, 901)
    return float(xs[np.argmin(le.moreau_envelope_1d(land.f, xs, gamma))])


@_register("ch17-w2", "local_entropy_w2", "the x where −F_γ (γ = 1) is smallest as β → ∞, for the 1-D toy loss (a float)")
def _ch17_w2(answer):
    from vdlib.theory import local_entropy as le
    value = _float(answer, "the minimiser's x")
    land = le.narrow_wide_1d()
    wide = "that is the wide well: at zero temperature −F_γ is the Moreau envelope, whose minimiser is f's"
    return _numeric_verdict(value, _ch17_w2_ref(), 0.0, 0.05, [
        (land.wide[0], wide),
        (1.48, wide + " (the mode at β⁻¹ = 0.2 is a finite-temperature effect)"),
        (land.barrier, "the barrier is a maximum of the loss, not a minimiser of the envelope"),
    ], "argmin of −F_γ as β → ∞ at γ = 1")


CH17_W3_OPTIONS = {
    "a": "Φ's preference for the wide well can survive β⁻¹ → 0",
    "b": "local entropy needs noise that is larger where the curvature is",
    "c": "local entropy barely changes the masses of the two basins",
    "d": "at zero temperature, local entropy's minimiser is the minimiser of f",
}


@_register("ch17-w3", "local_entropy_w3", 'the letters of all true statements among "a", "b", "c", "d" (e.g. "ab")')
def _ch17_w3(answer):
    return _choice(answer, CH17_W3_OPTIONS, {"a", "c", "d"}, {
        "a": "(a) is true: the zero-temperature limit of Φ is ∫f′/D, not f, so a large noise gain keeps the wide well",
        "b": "(b) is false: local entropy needs only f (isotropic noise suffices); it is Φ that needs noise larger "
             "where the curvature is",
        "c": "(c) is true: a convolution moves mass only by about the kernel width",
        "d": "(d) is true: as β → ∞, −F_γ becomes the Moreau envelope, with f's minimiser and minimum",
    }, "the true statements about the two mechanisms")


# ------ exercise 1: the smoothed quadratic in d dimensions

CH17_EX1_CASES = (
    (np.array([[4.0, 1.5], [1.5, 1.0]]), 3.0),
    (np.diag([100.0, 1.0]), 3.0),
    (np.array([[2.0, 0.5, 0.0], [0.5, 1.0, -0.3], [0.0, -0.3, 0.5]]), 0.7),
)


@_reference("ch17-ex1")
def _ch17_ex1_ref():
    """γH(H + γI)⁻¹, built from the 1-D curvature of le.symbolic_1d in the eigenbasis of H."""
    S = _symbolic_le()
    curv = sp.lambdify((S.symbols["h"], S.symbols["gamma"]), S.quadratic_curvature, "numpy")

    def smoothed_hessian(H, gamma):
        h, V = np.linalg.eigh(np.asarray(H, dtype=float))
        return (V * curv(h, gamma)) @ V.T
    return smoothed_hessian


@_register("ch17-ex1", "local_entropy_ex1",
           "your function smoothed_hessian(H, gamma), returning the d×d Hessian of −F_γ for f = ½(x − a)ᵀH(x − a)")
def _ch17_ex1(fn):
    ref = _ch17_ex1_ref()
    got, want, entrywise, no_gamma, summed, inverse, unchanged = [], [], [], [], [], [], []
    for H, g in CH17_EX1_CASES:
        d = len(H)
        out = _call(fn, f"a {d}×{d} array", H.copy(), g)
        got.append(_array(out, (d, d), f"the Hessian for a {d}×{d} H").ravel())
        R = ref(H, g)
        want.append(R.ravel())
        with np.errstate(divide="ignore", invalid="ignore"):
            entrywise.append(np.where(H != 0, H * g / (H + g), 0.0).ravel())
        no_gamma.append((R / g).ravel())
        summed.append((H + g * np.eye(d)).ravel())
        inverse.append(np.linalg.inv(R).ravel())
        unchanged.append(H.ravel())
    got, want = np.concatenate(got), np.concatenate(want)
    tol = "tolerance 1e-08 relative + 1e-12 absolute"
    where = "on a non-diagonal 2×2 H (γ = 3), diag(100, 1) (γ = 3) and a 3×3 H (γ = 0.7)"
    if _close(got, want, 1e-8, 1e-12):
        return f"γH(H + γI)⁻¹ {where}; diag(100, 1): eigenvalues {_fmt(want[[4, 7]])} ({tol})"
    for candidate, hint in [
        (entrywise, "the 1-D formula hγ/(h + γ) applies to each eigenvalue of H, not to each entry: γH(H + γI)⁻¹"),
        (no_gamma, "a factor γ is missing: the Hessian is γH(H + γI)⁻¹, which tends to H as γ → ∞"),
        (summed, "the curvatures combine harmonically, 1/h_eff = 1/h + 1/γ, they do not add"),
        (inverse, "that is the inverse of the Hessian"),
        (unchanged, "that is H itself: the smoothing lowers every curvature h to hγ/(h + γ)"),
    ]:
        if _close(got, np.concatenate(candidate), 1e-8, 1e-12):
            raise _Wrong(f"{hint} [{where}; {tol}]")
    raise _Wrong(f"your Hessians differ from the reference {where} (largest difference "
                 f"{np.max(np.abs(got - want)):.3g}; {tol}); check a diagonal H first: diag(100, 1) gives "
                 f"diag({want[4]:.4g}, {want[7]:.4g})")


# ------ exercise 2: zero temperature

def _ch17_ex2_symbols():
    S = _symbolic_le()
    return S, {k: S.symbols[k] for k in ("beta", "gamma", "h", "x", "a")}


@_reference("ch17-ex2")
def _ch17_ex2_ref():
    """(−F_γ) − envelope for f = h(x′ − a)²/2, where Laplace's method is exact: the O(1/β) term."""
    S, sy = _ch17_ex2_symbols()
    x, xp, a, gamma, h = S.symbols["x"], S.symbols["xp"], sy["a"], sy["gamma"], sy["h"]
    inner = h / 2 * (xp - a) ** 2 + gamma / 2 * (x - xp) ** 2
    envelope = inner.subs(xp, sp.solve(sp.diff(inner, xp), xp)[0])
    return sp.simplify(-S.quadratic_F - envelope)


@_register("ch17-ex2", "local_entropy_ex2",
           "the gap −F_γ(x) − envelope(x) for f = h(x′ − a)²/2, a SymPy expression in beta, gamma, h")
def _ch17_ex2(answer):
    _, sy = _ch17_ex2_symbols()
    beta, gamma, h = sy["beta"], sy["gamma"], sy["h"]
    expr = _symbolic(answer, sy, "the gap")
    ref = _ch17_ex2_ref()
    _symbolic_verdict(expr, ref, [
        (-ref, "sign: −F_γ = −β⁻¹ log ∫…, and the Gaussian integral is √(2π/(β(h + γ))), so the gap is "
               "+(2β)⁻¹ log(β(h + γ)/2π)"),
        (sp.log(beta * h / (2 * sp.pi)) / (2 * beta), "the curvature of the inner problem is f″ + γ: the coupling "
                                                       "γ(x − x′)²/2 adds γ"),
        (2 * ref, "the Gaussian integral gives a square root: the factor is 1/(2β), not 1/β"),
        (sp.log(h + gamma) / (2 * beta), "keep β inside the logarithm: the inner variance is 1/(β(h + γ))"),
    ], "−F_γ − envelope")
    shown = sp.log(sp.simplify(sp.exp(2 * beta * ref))) / (2 * beta)
    return f"−F_γ − envelope = {sp.sstr(shown)} (SymPy: simplify(answer − reference) = 0)"


# ------ exercise 3: the inner loop

CH17_EX3_ALPHA = 0.25
CH17_EX3_CASES = ((0.2, 3.0, 0.05, 5), (-0.5, 1.0, 0.05, 8))  # (x, γ, η′, L)
CH17_EX3_QUAD = (2.0, 1.0)  # f = h(x′ − a)²/2 with (h, a)
CH17_EX3_CHAINS = 20_000


def _inner_moments(x, gamma, lr, L, *, h, a, alpha=CH17_EX3_ALPHA, sign=1.0, noise=2.0, mu0=None):
    """Exact mean and variance of μ after L steps of the inner loop on f = h(x′ − a)²/2 (a linear Gaussian
    recursion in (x′, μ)); ``sign``, ``noise`` and ``mu0`` give the typical mistakes."""
    k = 1 - lr * (h + sign * gamma)
    c = lr * (h * a + sign * gamma * x)
    A = np.array([[k, 0.0], [alpha * k, 1 - alpha]])
    b = np.array([c, alpha * c])
    q = np.array([1.0, alpha])
    m, P = np.array([x, x if mu0 is None else mu0]), np.zeros((2, 2))
    for _ in range(L):
        m, P = A @ m + b, A @ P @ A.T + noise * lr * np.outer(q, q)
    return m[1], P[1, 1]


def _ch17_ex3_ref():
    """Exact (mean, variance) of μ on the check's quadratic. Not in REFERENCES: the answer is a sampler, and the
    check compares its Monte Carlo moments with these."""
    h, a = CH17_EX3_QUAD
    return lambda x, gamma, lr, L: _inner_moments(x, gamma, lr, L, h=h, a=a)


@_register("ch17-ex3", "local_entropy_ex3",
           "your function inner_loop_mu(grad, x, gamma, lr, L, n_chains, rng), returning the (n_chains,) array of "
           "exponential averages μ after L steps")
def _ch17_ex3(fn):
    h, a = CH17_EX3_QUAD
    grad = lambda s: h * (np.asarray(s, dtype=float) - a)  # noqa: E731
    got, want, se, hints = [], [], [], {k: [] for k in ("sign", "noise", "mu0", "alpha")}
    for i, (x, g, lr, L) in enumerate(CH17_EX3_CASES):
        out = _call(fn, f"an array of {CH17_EX3_CHAINS} values of μ", grad, x, g, lr, L, CH17_EX3_CHAINS,
                    np.random.default_rng(100 + i))
        mu = _array(out, (CH17_EX3_CHAINS,), "one μ per chain")
        mean, var = _inner_moments(x, g, lr, L, h=h, a=a)
        got += [mu.mean(), mu.var(ddof=1)]
        want += [mean, var]
        se += [np.sqrt(var / mu.size), var * np.sqrt(2 / (mu.size - 1))]
        for key, kw in (("sign", dict(sign=-1.0)), ("noise", dict(noise=1.0)), ("mu0", dict(mu0=0.0)),
                        ("alpha", dict(alpha=1 - CH17_EX3_ALPHA))):
            hints[key] += list(_inner_moments(x, g, lr, L, h=h, a=a, **kw))
    got, want, tol = np.array(got), np.array(want), 5 * np.array(se)
    if np.all(np.abs(got - want) <= tol):
        return (f"mean and variance of μ = {np.round(got, 4)} (exact {np.round(want, 4)}, within 5 Monte Carlo "
                f"standard errors over {CH17_EX3_CHAINS:,} chains) on a quadratic f at (x, γ, η′, L) = {CH17_EX3_CASES}")
    text = {"sign": "the coupling pulls x′ towards x: the gradient of γ(x − x′)²/2 in x′ is −γ(x − x′), so the step is "
                    "x′ − η′(f′(x′) − γ(x − x′))",
            "noise": "the Langevin noise at β = 1 is √(2η′)·ξ, not √η′·ξ (the variance of μ is half what it should be)",
            "mu0": "start the average at μ = x (the chain's start), not at 0",
            "alpha": "α = 0.25 weighs the new sample: μ ← 0.75 μ + 0.25 x′"}
    for key, cand in hints.items():
        if np.all(np.abs(got - np.array(cand)) <= tol):
            raise _Wrong(text[key])
    raise _Wrong(f"mean and variance of μ = {np.round(got, 4)}, exact {np.round(want, 4)} (tolerance 5 Monte Carlo "
                 "standard errors): compare your loop with the update rule in the exercise")
