"""Answer checks added for chapters 8 to 12: the warm-up concept checks (``chNN-wK``) and the checks of
exercises whose answer is a derived formula or number. Same contract as :mod:`vdlib.book.exercises`
(imported there, so ``check`` and ``exercise_ids()`` know these ids); registered on import.
"""
from __future__ import annotations

import functools

import numpy as np
import sympy as sp

from ._exercise_kit import _array, _choice, _float, _Invalid, _numeric_verdict, _register, _symbolic, _symbolic_verdict


def _number(answer, what: str) -> float:
    """A float answer; a SymPy number (e.g. 6*pi) is accepted too."""
    if isinstance(answer, sp.Basic):
        if answer.free_symbols:
            raise _Invalid(f"expected a number ({what}), got an expression in {sorted(map(str, answer.free_symbols))}")
        answer = float(answer)
    return _float(answer, what)


# ------------------------------------------------------------------------------------------------
# chapter 8: critical points move

CH08_W1 = {
    "a": "−(D+Q)∇Φ: the A-type SDE is already an Itô SDE with this drift",
    "b": "−(D+Q)∇Φ + β⁻¹∇·(D+Q)",
    "c": "−(D+Q)∇Φ − β⁻¹∇·(D+Q)",
    "d": "−D∇Φ + β⁻¹∇·D: Q drops out of the drift because it is antisymmetric",
}


@_register("ch08-w1", "critical_shift_w1", 'a letter among "a", "b", "c", "d"')
def _ch08_w1(answer):
    return _choice(answer, CH08_W1, "b", {
        "a": "read naively as Itô, the drift −(D+Q)∇Φ does not keep e^(−βΦ) stationary (the chapter's 'plain Itô' "
             "line): Ao's convention adds the drift β⁻¹∇·(D+Q)",
        "c": "the sign of the correction: it is +β⁻¹∇·(D+Q), the Γ term of the complete recipe with D̃ = D/β, Q̃ = Q/β",
        "d": "Q does not drop out: Q∇Φ is not zero in general and ∇·Q enters the correction; antisymmetry only makes "
             "the current β⁻¹∇·(Qρ) divergence-free",
    }, "the Itô drift of the A-type SDE")


@functools.lru_cache(maxsize=1)
def _ch08_w2_ref():
    from vdlib.theory import critical_shift as cs
    x, eta, b, h, d0, d1 = sp.symbols("x eta b h d_0 d_1", positive=True)
    v = cs.first_order_shift(h * x**2 / 2, sp.Matrix([[d0 + d1 * x]]), (x,)).v[0]
    syms = {"eta": eta, "b": b, "h": h, "d_0": d0, "d_1": d1}
    return syms, sp.simplify(eta / (2 * b) * v)


@_register("ch08-w2", "critical_shift_w2", "x*, a SymPy expression in eta, b, h, d_1 (and d_0 if it enters)")
def _ch08_w2(answer):
    syms, ref = _ch08_w2_ref()
    expr = _symbolic(answer, syms, "the first-order mode x*")
    h, d0 = syms["h"], syms["d_0"]
    return _symbolic_verdict(expr, ref, [
        (2 * ref, "a factor of 2: the temperature is β⁻¹ = η/(2b), not η/b"),
        (-ref, "the sign: the mode moves towards the low-noise side, against ∇·D = d₁"),
        (ref * h**2, "H⁻¹ = 1/h divides, it does not multiply: x* = −β⁻¹ H⁻¹ ∇·D"),
        (ref / d0, "no division by D(0) = d₀: x* = −β⁻¹ H⁻¹ ∇·D, with ∇·D = d₁"),
    ], "x*")


CH08_W3 = {
    "a": "the mean and the mode both move to about −η/(4b)",
    "b": "the mode moves to about −η/(4b); the mean stays at the minimum x = 0",
    "c": "the mean moves to about −η/(4b); the mode stays at the minimum x = 0",
    "d": "neither moves; only the spread grows",
}


@_register("ch08-w3", "critical_shift_w3", 'a letter among "a", "b", "c", "d"')
def _ch08_w3(answer):
    return _choice(answer, CH08_W3, "b", {
        "a": "take expectations of one step at stationarity: E[∇f(x)] = 0, and ∇f(x) = x is linear, so E[x] = 0: "
             "the mean cannot move",
        "c": "the other way round: ρ^ss is skewed, its peak moves; its mean is pinned by E[∇f(x)] = 0",
        "d": "the spread grows, but the state-dependent D also skews ρ^ss, and its mode moves by −η/(4b) to first order",
    }, "what moves in the 1-D example")


@functools.lru_cache(maxsize=1)
def _ch08_ex2_ref():
    from vdlib.theory import critical_shift as cs
    H = sp.Matrix([[1, sp.Rational(1, 2)], [sp.Rational(1, 2), 2]])
    D = sp.Matrix([[3, sp.Rational(-1, 3)], [sp.Rational(-1, 3), sp.Rational(1, 2)]])
    X = sp.Matrix([cs.x1, cs.x2])
    U = cs.first_order_shift((X.T * H * X)[0] / 2, D, (cs.x1, cs.x2)).U
    return (np.array(U, dtype=float), np.array(D.inv() * H, dtype=float), np.array(H, dtype=float))


@_register("ch08-ex2", "critical_shift_ex2",
           "U = ∇²Φ₀(0) for the exercise's H and D (a 2×2 SymPy matrix or array; Φ = ½ xᵀUx)")
def _ch08_ex2(answer):
    U, DinvH, H = _ch08_ex2_ref()
    got = _array(answer, (2, 2), "the matrix U")
    return _numeric_verdict(got, U, 1e-8, 1e-12, [
        (DinvH, "that is D⁻¹H, the detailed-balance answer; D and H do not commute here, so Q₀₀ ≠ 0 and "
                "U = (D + Q₀₀)⁻¹H (Lemma 20)"),
        (H, "Φ₀ is not f: U = (D + Q₀₀)⁻¹H, not H"),
        (np.linalg.inv(U), "that is U⁻¹ (the covariance over β⁻¹); U is the Hessian of Φ₀"),
    ], "U (tolerance 1e-8 relative)")


# ------------------------------------------------------------------------------------------------
# chapter 9: limit cycles

CH09_W1 = {
    "a": "only under Assumption 4 (∇·j = 0), which makes them level sets of Φ",
    "b": "by stationarity alone: they are streamlines of the divergence-free J^ss = jρ^ss, level curves of a "
         "stream function ψ",
    "c": "not in general: a volume-preserving flow is only recurrent",
    "d": "only in detailed balance (j = 0)",
}


@_register("ch09-w1", "limit_cycles_w1", 'a letter among "a", "b", "c", "d"')
def _ch09_w1(answer):
    return _choice(answer, CH09_W1, "b", {
        "a": "Assumption 4 only adds that the loops are level sets of Φ (ψ a function of Φ); Example 19 violates it, "
             "and its orbits are still closed circles",
        "c": "recurrence without closing is the picture for d > 2 (erratum E7); in the plane a divergence-free field is "
             "a rotated gradient J∇ψ, and its streamlines close",
        "d": "with j = 0 there is no motion ẋ = j at all; the question is about j ≠ 0",
    }, "when the orbits of ẋ = j close in 2-D")


@functools.lru_cache(maxsize=1)
def _ch09_w2_ref():
    w1, w2 = sp.Integer(1), sp.Rational(4, 3)
    periods = (2 * sp.pi / w1, 2 * sp.pi / w2)
    T = 2 * sp.pi * sp.lcm(1 / w1, 1 / w2)  # the first time both rotations are whole turns
    return float(T), tuple(float(p) for p in periods)


@_register("ch09-w2", "limit_cycles_w2", "the return time T (a float, in time units; a SymPy number such as 6*pi is fine)")
def _ch09_w2(answer):
    T, (T1, T2) = _ch09_w2_ref()
    value = _number(answer, "the return time")
    return _numeric_verdict(value, T, 1e-6, 0.0, [
        (T1, "that is the period of the (x₁, x₂) plane alone; the orbit returns when both planes have made whole turns"),
        (T2, "that is the period of the (x₃, x₄) plane alone; the orbit returns when both planes have made whole turns"),
        (T1 * T2, "not the product of the periods: the smallest common multiple"),
    ], "T")


CH09_W3 = {
    "a": "the density concentrates at the origin, the only critical point of f at λ = 1.5",
    "b": "the density stays e^(−Φ)/Z; only the mean angular momentum changes, from 0 to 2πλ/Z",
    "c": "nothing measurable: the density is the same, so every stationary average is the same",
    "d": "the density collapses onto a limit cycle of the noise-free flow around the origin",
}


@_register("ch09-w3", "limit_cycles_w3", 'a letter among "a", "b", "c", "d"')
def _ch09_w3(answer):
    return _choice(answer, CH09_W3, "b", {
        "a": "the stationary density is e^(−Φ)/Z for every λ, with its modes at (±1, 0): the particles do not settle at "
             "the critical point of f",
        "c": "the circulation ⟨x₁ẋ₂ − x₂ẋ₁⟩ is an average over increments, a property of the current J^ss, not of "
             "ρ^ss: it switches on although no histogram changes",
        "d": "the noise-free flow at λ = 1.5 has no limit cycle (a weak focus, erratum E8), and with noise the density "
             "stays e^(−Φ)/Z",
    }, "what λ changes in the stationary state")


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
