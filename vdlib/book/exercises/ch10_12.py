"""Answer checks of chapters 10–12 (the noise spectrum, SGD does not converge, practical consequences).

Registered on import (by :mod:`vdlib.book.exercises`): the numbered exercises ``chNN-exK`` and the warm-up
concept checks ``chNN-wK``. Each reference is computed by the vdlib functions the chapter's solution calls,
or by a few lines of SymPy, never typed in; functions decorated ``@_reference`` give it to
:func:`vdlib.book.exercises.reference`. Each numeric tolerance is stated in the check's message.
"""
from __future__ import annotations

import functools
import math
from types import SimpleNamespace

import numpy as np
import sympy as sp

from .kit import (_array, _call, _choice, _float, _Invalid, _number, _numeric_verdict, _reference, _register,
                  _symbolic, _symbolic_verdict, _Wrong)

# ------------------------------------------------------------------------------------------------
# chapter 10: rank vs N, spectrum statistics, matched temperatures

def _ch10_lowrank():
    r = np.random.default_rng(10)
    return r.normal(size=(200, 15)) @ r.normal(size=(15, 40)), [20, 50, 100, 200]  # rank 15


def _first_unconstrained_n(G, ns, strict=True, cur=None):
    """The chapter's rule: the first n whose rank at the paper's threshold is below (n − 1)/2 (n − 1 if not strict)."""
    from vdlib.deep import noise_spectrum as noise
    cur = noise.rank_vs_n(G, ns, rng=0) if cur is None else cur
    for n, r in zip(cur["n"], cur["paper"]):
        if (r < (n - 1) / 2) if strict else (r < n - 1):
            return int(n)
    return None


_reference("ch10-ex1")(lambda: _first_unconstrained_n)


@_register("ch10-ex1", "spectrum_ex1",
           "your function first_unconstrained_n(G, ns), returning the smallest n (an int; or a tuple starting with it)")
def _ch10_ex1(fn):
    from vdlib.deep import noise_spectrum as noise
    G, ns = _ch10_lowrank()
    out = _call(fn, "the smallest n, an int", G, ns)
    if isinstance(out, tuple) and out:
        out = out[0]
    n = _float(out, "the smallest n")
    cur = noise.rank_vs_n(G, ns, rng=0)
    return _numeric_verdict(n, _first_unconstrained_n(G, ns, cur=cur), 0.0, 0.0, [
        (_first_unconstrained_n(G, ns, strict=False, cur=cur),
         "compare the rank with (n − 1)/2, not with the bound n − 1 itself"),
    ], "the first n (on a rank-15 test matrix with ns = 20, 50, 100, 200)")


def _ch10_tiny():
    import torch
    torch.manual_seed(0)
    model = torch.nn.Linear(5, 3)
    gen = torch.Generator().manual_seed(1)
    return model, torch.randn(40, 5, generator=gen), torch.randint(0, 3, (40,), generator=gen)


@_reference("ch10-ex2")
def _ch10_ex2_ref():
    import torch

    from vdlib.deep import noise_spectrum as noise
    from vdlib.deep import persample
    from vdlib.experiments import spectrum
    ce = torch.nn.CrossEntropyLoss(reduction="none")

    def spectrum_stats(model, X, y):
        sp_ = noise.diffusion_spectrum(persample.per_sample_gradients(model, ce, X, y))
        return spectrum.paper_statistics(sp_.eigenvalues, sp_.dim) | {"trace": sp_.trace}
    return spectrum_stats


@_register("ch10-ex2", "spectrum_ex2",
           "your function spectrum_stats(model, X, y), returning spectrum.paper_statistics's dict (with 'mean', 'sd', 'rank_pct')")
def _ch10_ex2(fn):
    model, X, y = _ch10_tiny()
    out = _call(fn, "a dict of statistics", model, X, y)
    if not isinstance(out, dict):
        raise _Invalid(f"expected a dict with keys 'mean', 'sd', 'rank_pct', got {type(out).__name__}")
    missing = [k for k in ("mean", "sd", "rank_pct") if k not in out]
    if missing:
        raise _Invalid(f"the dict lacks {missing}")
    want = _ch10_ex2_ref()(model, X, y)
    keys = ("mean", "sd", "rank_pct")
    got = np.array([_float(out[k], k) for k in keys])
    ref = np.array([want[k] for k in keys])
    return _numeric_verdict(got, ref, 1e-4, 0.0, [
        (ref * [40 / 39, 40 / 39, 1], "D is the population covariance (1/N) ΣG̃ᵀG̃; use diffusion_spectrum of the "
                                      "per-sample gradients, not a sample covariance with N − 1"),
    ], "(mean, sd, rank %) on a 5→3 linear model with 40 random examples (float32 gradients)")


@_reference("ch10-ex3")
def _ch10_ex3_ref():
    from vdlib.experiments import spectrum

    def matched_lr(lr_ref, trace_ref, d_ref, trace, d, b=128):
        # the temperature (η/b) tr D / d is linear in η: scale η = 1 to the reference temperature
        return spectrum.temperature(lr_ref, b, trace_ref, d_ref) / spectrum.temperature(1.0, b, trace, d)
    return matched_lr


_CH10_TEMPS = ((0.1, 5.0, 100, 2.0, 400), (0.05, 1.0, 10, 3.0, 30))


@_register("ch10-ex3", "spectrum_ex3", "your function matched_lr(lr_ref, trace_ref, d_ref, trace, d), returning η (a float)")
def _ch10_ex3(fn):
    ref = _ch10_ex3_ref()
    got = np.array([_float(_call(fn, "the learning rate, a float", *c), "η") for c in _CH10_TEMPS])
    want = np.array([ref(*c) for c in _CH10_TEMPS])
    inverted = np.array([c[0] ** 2 / ref(*c) for c in _CH10_TEMPS])
    no_d = np.array([c[0] * c[1] / c[3] for c in _CH10_TEMPS])
    return _numeric_verdict(got, want, 1e-9, 0.0, [
        (inverted, "the ratio is inverted: a network with a larger tr D/d needs a smaller η"),
        (no_d, "compare mean eigenvalues tr D/d, not traces: divide each trace by its d"),
    ], "η for " + ", ".join(map(str, _CH10_TEMPS)))


# ------------------------------------------------------------------------------------------------
# chapter 10: the spectrum of D

def _softmax_zero_count(h: int, K: int, n: int = 200, seed: int = 0) -> int:
    """Exact zeros of D for softmax regression h → K (weights and bias) on random data: per-sample gradients
    (p − e_y) ⊗ (x, 1), then a count of the eigenvalues below 1e-10 λ_max."""
    from vdlib.theory import minibatch_noise as noise
    r = np.random.default_rng(seed)
    X, W = r.normal(size=(n, h)), r.normal(size=(h + 1, K))
    Xb = np.column_stack([X, np.ones(n)])
    logits = Xb @ W
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    err = p - np.eye(K)[r.integers(0, K, size=n)]
    G = (err[:, :, None] * Xb[:, None, :]).reshape(n, K * (h + 1))
    lam = np.linalg.eigvalsh(noise.diffusion_matrix(G))
    return int(np.sum(lam < 1e-10 * lam.max()))


@_register("ch10-w1", "spectrum_w1", "the number of exactly zero eigenvalues (an int)")
def _ch10_w1(answer):
    h, K = 8, 5
    value = _number(answer, "the number of zero eigenvalues")
    zeros = _softmax_zero_count(h, K)
    return _numeric_verdict(value, zeros, 0.0, 1e-9, [
        (h, "the bias column sums to zero over the classes too: one more"),
        (K, "the constraint is one per input column (h of them, plus the bias), each summed over the K classes"),
        (K - 1, "the constraint is one per input column (h of them, plus the bias), each summed over the K classes"),
        ((h + 1) * K - zeros, "that is the number of non-zero eigenvalues, d minus the zeros"),
    ], f"zeros of D for h = {h}, K = {K} (counted on random data)")


CH10_W2 = {
    "a": "the noise of this network spans 499 directions, 3.7 % of d",
    "b": "little about the network: rank D ≤ N − 1 = 499, so the count is set by the sample",
    "c": "D is nearly isotropic, since almost every sampled direction carries noise",
    "d": "with all 60,000 examples the rank would be about 499 × 120 ≈ 60,000",
}


@_register("ch10-w2", "spectrum_w2", 'a letter among "a", "b", "c", "d"')
def _ch10_w2(answer):
    return _choice(answer, CH10_W2, "b", {
        "a": "the rank sits at its bound N − 1: every example added a direction, so the number measures the sample, "
             "not the network",
        "c": "isotropy would need all d = 13,338 eigenvalues comparable; from 500 examples at most 499 can be non-zero",
        "d": "the rank cannot exceed d, and the rank-vs-N curve bends away from N − 1 once N is a few times the "
             "effective rank, then flattens",
    }, "what a rank of N − 1 says")


CH10_W3 = {
    "a": "D(x) is constant during training, eigenvectors included, so it may be treated as a fixed matrix",
    "b": "the shape of the spectrum is similar; its scale tr D moves, and the eigenvectors are not tested",
    "c": "D shrinks towards zero as training converges, so the noise eventually vanishes",
    "d": "nothing: spectra of different snapshots cannot be compared",
}


@_register("ch10-w3", "spectrum_w3", 'a letter among "a", "b", "c", "d"')
def _ch10_w3(answer):
    return _choice(answer, CH10_W3, "b", {
        "a": "eigenvalues alone say nothing about whether the eigenvectors stay put, which is what 'D(x) constant' "
             "would need",
        "c": "tr D moves by a modest factor between the snapshots; the measurement does not show it vanishing",
        "d": "eigenvalue histograms with the same threshold convention compare in shape and scale; what they cannot "
             "show is the eigenvectors",
    }, "what Remark 13's measurement supports")


# ------------------------------------------------------------------------------------------------
# chapter 11: AR(1) chains, the FDR growth term, momentum

def _ch11_A():
    th = 0.5
    return 0.8 * np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])


@_reference("ch11-ex1")
def _ch11_ex1_ref():
    def ar_chains(A, n_chains=8, n_steps=20_000, seed=0):
        r = np.random.default_rng(seed)
        x = np.zeros((n_chains, 2))
        out = np.empty((n_chains, n_steps, 2))
        for k in range(n_steps):
            x = x @ A.T + r.standard_normal((n_chains, 2))
            out[:, k] = x
        return out[:, 2000:]
    return ar_chains


@_register("ch11-ex1", "sgd_not_converge_ex1",
           "your function ar_chains(A, n_chains, n_steps, seed), returning an (n_chains, steps, 2) array")
def _ch11_ex1(fn):
    from vdlib.theory import linear
    A = _ch11_A()
    out = np.asarray(_call(fn, "an (n_chains, steps, 2) array", A, n_chains=200, n_steps=2600, seed=1), float)
    if out.ndim != 3 or out.shape[0] != 200 or out.shape[2] != 2 or out.shape[1] < 300:
        raise _Invalid(f"with n_chains=200, n_steps=2600 expected shape (200, steps ≥ 300, 2), got {out.shape}")
    x = out[:, -300:]
    X0, X1 = x[:, :-1].reshape(-1, 2), x[:, 1:].reshape(-1, 2)
    Sigma = X0.T @ X0 / len(X0)
    A_hat = (X1.T @ X0 / len(X0)) @ np.linalg.inv(Sigma)
    exact = linear.solve_lyapunov(A, np.eye(2), kind="discrete")
    if np.allclose(A_hat, A.T, atol=0.05):
        raise _Wrong("your chains follow x' = Aᵀx: with row vectors write x @ A.T (or (A @ x.T).T)")
    # 200 chains × 300 steps, correlation time ~ 1/(1 − 0.8): entries of Â and Σ have standard errors ≲ 1 %
    return _numeric_verdict(np.r_[A_hat.ravel(), np.diag(Sigma) / np.diag(exact)], np.r_[A.ravel(), 1.0, 1.0], 0.0, 0.06,
                            [(np.r_[A.ravel(), 0.5, 0.5], "the noise variance is 1 per coordinate: use standard_normal, "
                                                          "not a scale of 1/√2")],
                            "(Â entries, Var / exact Lyapunov variance) on A = 0.8·R(0.5) (±0.06 ≈ 5 standard errors)")


def _fdr1_exact(eta=0.1, mu=0.9, h=1.0, sigma=0.5):
    """Stationary heavy-ball moments of the confined coordinate and the free coordinate's velocity."""
    from vdlib.theory import linear
    A = np.array([[1 - eta * h, mu], [-eta * h, mu]])           # state (x, v) after one step
    S = linear.solve_lyapunov(A, (eta * sigma) ** 2 * np.ones((2, 2)), kind="discrete")
    v_free = (eta * sigma) ** 2 / (1 - mu**2)
    growth = (eta * sigma / (1 - mu)) ** 2                       # d E[x_free²] / d step, long run
    lhs = h * S[0, 0]
    yaida = (1 + mu) / (2 * eta) * (S[1, 1] + v_free)
    return lhs, yaida, yaida - (1 - mu) / (2 * eta) * growth


_reference("ch11-ex2")(lambda: _fdr1_exact)


@_register("ch11-ex2", "sgd_not_converge_ex2",
           "your function fdr1_toy(...), returning (⟨θ·g⟩, Yaida's right-hand side, the corrected one), three floats")
def _ch11_ex2(fn):
    out = _call(fn, "a tuple of three floats", n_chains=2000, n_steps=2000, seed=1)
    vals = _array(out, (3,), "(lhs, yaida_rhs, corrected_rhs)")
    lhs, yaida, corrected = _fdr1_exact()
    # the θ·ξ term of ⟨θ·g⟩ has sd σ·sqrt(E|θ|²) ≈ 0.5·sqrt(0.25·2000) ≈ 11 per draw; over 2,000 chains × 1,000 steps
    # its standard error is about 0.01, so ±0.05 is about 5 standard errors (the other terms are less noisy)
    return _numeric_verdict(vals, [lhs, yaida, corrected], 0.0, 0.05, [
        ([lhs, yaida, yaida], "your corrected side equals Yaida's: subtract (1 − μ)/(2η) × the growth of ⟨|θ|²⟩ per step"),
        ([lhs, yaida * (1 - 0.9) / (1 + 0.9), corrected], "Yaida's side is (1 + μ)/(2η) ⟨|v|²⟩, with 1 + μ"),
    ], "(⟨θ·g⟩, Yaida, corrected) vs the exact stationary values (±0.05 ≈ 5 standard errors)")


@_register("ch11-ex3", "sgd_not_converge_ex3",
           "res = compare_momentum(WIDGET_EPOCHS), a dict {0.9: (low/high ratio, a12), 0.0: (low/high ratio, a12)}")
def _ch11_ex3(answer):
    if not isinstance(answer, dict):
        raise _Invalid(f"expected a dict {{momentum: (ratio, a12)}}, got {type(answer).__name__}")
    if set(answer) != {0.9, 0.0}:
        raise _Invalid(f"expected the momenta 0.9 and 0.0 as keys, got {sorted(map(str, answer))}")
    vals = {mu: _array(v, (2,), "(low/high ratio, a12)") for mu, v in answer.items()}
    for mu, (ratio, a12) in vals.items():
        if ratio <= 0:
            raise _Wrong(f"momentum {mu}: a ratio of two spectral powers must be positive, got {ratio:.3g}")
        if abs(a12) > 2:  # |a12(1)| / sqrt(var1 var2) ≤ 2 by Cauchy–Schwarz
            raise _Wrong(f"momentum {mu}: |a12(1)| = {abs(a12):.3g} > 2: divide by sqrt(var₁·var₂) of the PC scores")
    if np.allclose(vals[0.9], vals[0.0]):
        raise _Wrong("both momenta give identical statistics: pass mu (and η = 1 at μ = 0) to short_run")
    return ("well formed: two positive ratios and normalised asymmetries (|a12| ≤ 2); the values depend on the "
            "run, so compare them with the solution's printout")


# ------------------------------------------------------------------------------------------------
# chapter 11: SGD does not converge

CH11_W1 = {
    "a": "an increment spectrum that is not flat (Fig. 3a)",
    "b": "an autocorrelation above the 99 % band at lags of thousands of epochs (Fig. 3b)",
    "c": "a gradient norm that does not vanish (Fig. 3c)",
    "d": "an antisymmetric part a₁₂(τ) of the lagged covariance beyond the error bars from independent chains",
}


@_register("ch11-w1", "sgd_not_converge_w1", 'a letter among "a", "b", "c", "d"')
def _ch11_w1(answer):
    return _choice(answer, CH11_W1, "d", {
        "a": "a reversible AR(1) process already has a non-flat increment spectrum, vanishing as ω → 0: only a free "
             "particle (Brownian motion) has flat increments",
        "b": "a reversible AR(1) process with a close to 1 has the autocorrelation a^τ, above any band for thousands "
             "of lags",
        "c": "any noisy stationary process sits at a finite distance from the critical point, where the gradient "
             "balances the noise, in or out of equilibrium",
    }, "evidence of broken detailed balance")


@functools.lru_cache(maxsize=1)
def _ch11_w2_ref():
    eta, g, t = sp.symbols("eta g t", positive=True)
    theta, grad = sp.Matrix([t, 0]), sp.Matrix([0, g])  # θ_s · g_s = 0 (scale invariance)
    new = theta - eta * grad
    growth = sp.expand((new.T * new)[0] - (theta.T * theta)[0])
    return {"eta": eta, "g": g}, growth


@_register("ch11-w2", "sgd_not_converge_w2", "the growth of ‖θ_s‖² in one step, a SymPy expression in eta and g")
def _ch11_w2(answer):
    syms, ref = _ch11_w2_ref()
    expr = _symbolic(answer, syms, "the growth of ‖θ_s‖²")
    eta, g = syms["eta"], syms["g"]
    return _symbolic_verdict(expr, ref, [
        (sp.Integer(0), "the step is orthogonal to θ_s, and an orthogonal step lengthens a vector (Pythagoras)"),
        (eta * g**2, "square the whole step η g_s: its squared length is η²‖g_s‖²"),
        (-ref, "the sign: with no radial component the norm can only grow"),
    ], "‖θ_s − η g_s‖² − ‖θ_s‖²")


CH11_W3 = {
    "a": "both a(x₁, x₂) and a(x₁, v₁): momentum makes the process irreversible",
    "b": "a(x₁, v₁) only: a phase-space rotation, present in a reversible process",
    "c": "a(x₁, x₂) only: momentum makes the weights circulate",
    "d": "neither: with isotropic noise the process is reversible, so every asymmetry vanishes",
}


@_register("ch11-w3", "sgd_not_converge_w3", 'a letter among "a", "b", "c", "d"')
def _ch11_w3(answer):
    return _choice(answer, CH11_W3, "b", {
        "a": "position–position circulation needs noise that does not commute with H; with isotropic noise all blocks "
             "of Σ and M are functions of H and commute",
        "c": "the other way round: the rotation is in the (x, v) plane, and with isotropic noise positions alone do "
             "not circulate",
        "d": "v is odd under time reversal: an underdamped particle circulates in the (x, v) plane even in "
             "equilibrium",
    }, "which asymmetries momentum produces")


# ------------------------------------------------------------------------------------------------
# chapter 12: the discrete correction, enumeration, detectable differences

def _discrete_variance(eta, b, h=1.0, D=1.0):
    from vdlib.theory import linear
    return float(linear.solve_lyapunov(np.array([[1 - eta * h]]), np.array([[eta**2 * D / b]]), kind="discrete")[0, 0])


_reference("ch12-ex1")(lambda: _discrete_variance)


@_register("ch12-ex1", "practical_ex1", "your function sgd_1d_variance(eta, b, ...), returning the variance (a float)")
def _ch12_ex1(fn):
    eta, b, chains = 0.8, 16, 20_000
    value = _float(_call(fn, "the variance, a float", eta, b, n_chains=chains, n_steps=200, seed=1), "the variance")
    exact = _discrete_variance(eta, b)
    rtol = 5 * math.sqrt(2 / chains)   # five standard errors of a variance from independent chains
    return _numeric_verdict(value, exact, rtol, 0.0, [
        (exact / b, "the noise is sqrt(D/b)·ξ; you divided its standard deviation by b"),
        (exact * b, "the noise variance is D/b: divide by b"),
        (exact / eta**2, "the noise enters multiplied by η: x' = x − η(hx + sqrt(D/b) ξ)"),
    ], f"variance at η = {eta}, b = {b} ({chains:,} chains; tolerance 5 standard errors)")


@_reference("ch12-ex2")
def _ch12_ex2_ref():
    from vdlib.theory import minibatch_noise as noise
    return lambda G, b: noise.minibatch_covariance(G, b, replacement=False)


@_register("ch12-ex2", "practical_ex2", "your function exact_without_replacement(G, b), returning a d×d covariance matrix")
def _ch12_ex2(fn):
    from vdlib.theory import minibatch_noise as noise
    G, b = np.random.default_rng(5).normal(size=(7, 2)) * [1.0, 2.0], 3
    N = len(G)
    C = _array(_call(fn, "a d×d matrix", G, b), (2, 2), "the covariance of the mini-batch mean")
    D = noise.diffusion_matrix(G)
    return _numeric_verdict(C, _ch12_ex2_ref()(G, b), 1e-8, 1e-12, [
        (D / b, "that is the with-replacement D/b; enumerate subsets without replacement"),
        ((1 - b / N) * D / b, "the factor N/(N − 1) is missing (D is the population covariance)"),
        (N / (N - 1) * D / b, "the finite-population factor (1 − b/N) is missing"),
    ], f"Cov on a 7×2 G with b = {b}")


@_reference("ch12-ex3")
def _ch12_ex3_ref():
    return lambda est_a, est_b, z=2.0: z * math.hypot(est_a.se, est_b.se) / est_a.mean


@_register("ch12-ex3", "practical_ex3", "your function detectable_difference(est_a, est_b, z=2.0), returning a relative difference (a float)")
def _ch12_ex3(fn):
    a, b_ = SimpleNamespace(mean=2.0, se=0.1), SimpleNamespace(mean=2.2, se=0.2)
    got = np.array([_float(_call(fn, "a float", a, b_), "the detectable difference"),
                    _float(_call(fn, "a float", a, b_, z=3.0), "the detectable difference")])
    ref = _ch12_ex3_ref()
    want = np.array([ref(a, b_), ref(a, b_, 3.0)])
    return _numeric_verdict(got, want, 1e-9, 0.0, [
        (want * (0.1 + 0.2) / math.hypot(0.1, 0.2), "standard errors add in quadrature: sqrt(se_a² + se_b²)"),
        (want * 2.0, "divide by est_a.mean: the difference is relative"),
        (want / [2.0, 3.0], "multiply by z"),
    ], "relative difference for (mean, se) = (2.0, 0.1), (2.2, 0.2) at z = 2 and 3")


# ------------------------------------------------------------------------------------------------
# chapter 12: practical consequences

def _sde_epochs(epochs_ref, eta_ref, b_ref, eta, b, N=1.0):
    """Epochs of (eta, b) covering the SDE time of epochs_ref epochs of (eta_ref, b_ref): an epoch lasts η N / b."""
    return epochs_ref * (eta_ref * N / b_ref) / (eta * N / b)


@_register("ch12-w1", "practical_w1", "a number of epochs (a float)")
def _ch12_w1(answer):
    value = _number(answer, "the number of epochs")
    want = _sde_epochs(10, 0.1, 1.0, 0.2, 4.0)
    steps = 10 * 1.0 / (1.0 / 4.0)  # the reference's steps, in units of N / b₀, over steps per epoch of (0.2, 4b₀)
    return _numeric_verdict(value, want, 1e-6, 0.0, [
        (10.0, "an epoch is not a fixed SDE time: it has N/b steps of length η, so it lasts ηN/b"),
        (10 * 10 / want, "the ratio is inverted: (0.2, 4b₀) covers less SDE time per epoch, so it needs more epochs"),
        (steps, "that matches the number of steps; each step lasts η, so match η × steps"),
    ], "epochs of (0.2, 4b₀)")


@functools.lru_cache(maxsize=1)
def _ch12_w2_ref():
    from vdlib.theory import minibatch_noise as noise
    G = np.random.default_rng(12).normal(size=(8, 3))
    b = 4
    without = np.trace(noise.enumerate_minibatch_covariance(G, b, replacement=False))
    with_ = np.trace(noise.enumerate_minibatch_covariance(G, b, replacement=True))
    return without / with_, b, len(G)


@_register("ch12-w2", "practical_w2", "the ratio tr Σ_without / tr Σ_with (a float)")
def _ch12_w2(answer):
    ratio, b, N = _ch12_w2_ref()
    value = _number(answer, "the ratio without / with")
    return _numeric_verdict(value, ratio, 1e-6, 0.0, [
        (1 - b / N, "(1 − b/N) alone misses the factor N/(N − 1): D is the population covariance, with 1/N"),
        (1 / ratio, "inverted: sampling without replacement gives the smaller noise (erratum E1)"),
        (1.0, "the two differ: a batch without repeats leaves less of the data out"),
    ], f"the ratio at N = {N}, b = {b} (enumerated over all batches)")


CH12_W3 = {
    "a": "heavy-ball leaves its stability region once ηλ_max > 2(1 + μ)",
    "b": "at fixed η/b the discrete stationary covariance still changes with η",
    "c": "as b approaches N without replacement, the noises of an epoch cancel",
    "d": "scaling η and b together changes the SDE temperature η/(2b)",
}


@_register("ch12-w3", "practical_w3", 'the set of true statements, letters among "a", "b", "c", "d" (e.g. "ab")')
def _ch12_w3(answer):
    return _choice(answer, CH12_W3, {"a", "b", "c"}, {
        "a": "(a) is true: heavy-ball is stable in a direction of curvature λ only for 0 < ηλ < 2(1 + μ)",
        "b": "(b) is true: HΣ + ΣH − η HΣH = (η/b) D, so at fixed η/b the covariance still depends on η",
        "c": "(c) is true: without replacement the batches of an epoch partition the data, so keeping η/b does not "
             "keep the noise over an epoch",
        "d": "(d) is false: the rule keeps η/b, so the SDE temperature is unchanged; that is why it works at all",
    }, "what limits the linear-scaling rule")
