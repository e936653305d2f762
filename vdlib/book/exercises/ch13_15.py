"""Answer checks of chapters 13–15 (heavy-tailed noise, discrete-time SGD, non-reversible sampling).

Registered on import (by :mod:`vdlib.book.exercises`): the numbered exercises ``chNN-exK`` and the warm-up
concept checks ``chNN-wK``. Each reference is computed by the vdlib functions the chapter's solution calls,
or by a few lines of SymPy, never typed in; functions decorated ``@_reference`` give it to
:func:`vdlib.book.exercises.reference`. Each numeric tolerance is stated in the check's message.
"""
from __future__ import annotations

import functools
import math

import numpy as np
import sympy as sp

from .kit import (_array, _call, _choice, _float, _Invalid, _number_verdict, _numeric_verdict, _reference,
                  _register, _symbolic, _symbolic_verdict, _Wrong)

# ------------------------------------------------------------------------------------------------
# chapter 13: heavy-tailed gradient noise

CH13_EX2_CASES = ((3, 10_000), (3, 1_000_000), (5, 100_000))


@_reference("ch13-ex2")
def _ch13_ex2_ref():
    from vdlib.analysis import tails
    return lambda nu, n: tails.finite_variance_limit(tails.student_t_log_gap(nu), math.isqrt(n))


@_register("ch13-ex2", "heavy_tails_ex2", "your function predicted_alpha_t(nu, n), returning the predicted α̂ (a float)")
def _ch13_ex2(fn):
    from vdlib.analysis import tails
    got = np.array([_float(_call(fn, "a float", nu, n), "the predicted α̂") for nu, n in CH13_EX2_CASES])
    want = np.array([_ch13_ex2_ref()(nu, n) for nu, n in CH13_EX2_CASES])
    gaps = [tails.student_t_log_gap(nu) for nu, _ in CH13_EX2_CASES]
    return _numeric_verdict(got, want, 1e-9, 0.0, [
        ([tails.finite_variance_limit(g, n) for g, (_, n) in zip(gaps, CH13_EX2_CASES)],
         "the block size is K₁ = √n (math.isqrt(n)), not n"),
        (np.full(len(want), 2.0), "a finite variance gives α = 2 only in the limit; the estimator sees 1/(1/2 + Δ_ν/log K₁)"),
        (1 / want, "you returned 1/2 + Δ_ν/log K₁; α̂ is its reciprocal"),
    ], "predicted α̂ at (ν, n) = " + ", ".join(f"({nu}, {n:,})" for nu, n in CH13_EX2_CASES))


# ------------------------------------------------------------------------------------------------
# chapter 13: heavy-tailed gradient noise

def _ch13_w1_ref():
    """σ'/σ for the mean of b i.i.d. SαS(σ) draws, from the stability property X₁+…+X_b = b^{1/α} X."""
    b, alpha = sp.symbols("b alpha", positive=True)
    return {"b": b, "alpha": alpha}, sp.simplify(b ** (1 / alpha) / b)


@_register("ch13-w1", "heavy_tails_w1", "σ'/σ, the scale of a mean of b SαS draws over that of one draw: "
                                        "a SymPy expression in b and alpha")
def _ch13_w1(answer):
    symbols, ref = _ch13_w1_ref()
    b, alpha = symbols["b"], symbols["alpha"]
    expr = _symbolic(answer, symbols, "σ'/σ in b and alpha")
    return _symbolic_verdict(expr, ref, [
        (b ** (1 / alpha), "that is the scale of the sum b^{1/α}; the mean divides the sum by b"),
        (1 / sp.sqrt(b), "that is the Gaussian 1/√b; by eq-tails-stability the α-stable mean shrinks like b^{1/α}/b"),
        (b ** (-1 / alpha), "the exponent is 1/α − 1: the sum grows like b^{1/α}, then divide by b"),
    ], "σ'/σ")


CH13_W2_OPTIONS = {
    "a": "α̂ is well below 2 with a small standard error",
    "b": "α̂ stays at the same value when the noise is averaged over b = 16 or 64 draws",
    "c": "α̂ of all coordinates pooled into one sample is lower still",
    "d": "α̂ does not change when the samples are multiplied by 10⁻⁶",
}


@_register("ch13-w2", "heavy_tails_w2", 'one letter, "a"–"d"')
def _ch13_w2(answer):
    return _choice(answer, CH13_W2_OPTIONS, "b", {
        "a": "a finite-variance law also gives α̂ < 2 at any feasible n (eq-tails-fv-limit: a bias that fades "
             "like 1/log n), so a low α̂ alone does not tell the two pictures apart",
        "c": "pooling coordinates of different scales makes even Gaussian noise look heavy-tailed: it measures "
             "the spread of the scales, not the tail",
        "d": "the estimator is scale-free for every law, heavy-tailed or not: this says nothing about α",
    }, "the observation that supports the α-stable picture")


def _ch13_w3_ref(alpha=1.5, factor=2.0, eps=0.1):
    from vdlib.theory import levy
    return levy.levy_exit_time(factor, eps, alpha) / levy.levy_exit_time(1.0, eps, alpha)


@_register("ch13-w3", "heavy_tails_w3", "the factor by which the mean exit time grows when w doubles (a float)")
def _ch13_w3(answer):
    value = _float(answer, "the factor T(2w)/T(w)")
    ref = _ch13_w3_ref()
    return _number_verdict(value, ref, [
        (1.0, "the Lévy exit time does not depend on the height, but it does on the width: the particle must "
              "jump a distance w, and such jumps come at a rate ∝ w^{−α}"),
        (4.0, "that is the Gaussian w² of Kramers' prefactor; under α-stable noise T ∝ w^α"),
        (2.0 ** (1 / 1.5), "the exponent is α, not 1/α: T ≈ α w^α / (c_α ε^α)"),
        (1 / ref, "inverted: a wider well takes longer to leave"),
    ], "T(2w)/T(w) at α = 1.5 (eq. eq-tails-ip)")


def _ch13_ex1_ref(drift_growth=1):
    """The limit of α̂ on uncentred samples X + μ, μ ≠ 0, as n → ∞ (K₁ = √n → ∞).

    The block sums are K₁μ plus noise of size √K₁, so E log|Y| = drift_growth·log K₁ + log|μ| + o(1), while
    the mean of log|X_k + μ| is a constant m; 1/α̂ = (E log|Y| − m)/log K₁."""
    K1 = sp.Symbol("K1", positive=True)
    mu, m = sp.symbols("mu m", positive=True)
    inv_alpha = sp.limit((drift_growth * sp.log(K1) + sp.log(mu) - m) / sp.log(K1), K1, sp.oo)
    return float(1 / inv_alpha)


@_register("ch13-ex1", "heavy_tails_ex1", "the value α̂ tends to on shifted samples X + μ (μ ≠ 0) as n → ∞ (a float)")
def _ch13_ex1(answer):
    value = _float(answer, "the limit of α̂(X + μ)")
    ref = _ch13_ex1_ref()
    if ref * (1 + 1e-4) < value < 1.5:
        raise _Wrong("that is a finite-n estimate: the offset (log|μ| − E log|X+μ|)/log K₁ still lowers 1/α̂ there, "
                     "and fades like 1/log n; give the n → ∞ limit")
    return _number_verdict(value, ref, [
        (2.0, "a shift is not a rescaling: the block sums gain K₁μ, which outgrows the √K₁ of the noise"),
        (0.5, "that is 1/α̂ of Gaussian noise; the block sums of X + μ grow like K₁, so 1/α̂ → 1"),
    ], "lim α̂(X + μ)")


@functools.lru_cache(maxsize=1)
def _ch13_ex3_ref():
    """b* from α̂(b) ≈ 1/(1/2 + ε), ε = Δ_b/log K₁, Δ_b = κ/(12 b), expanded to first order in ε."""
    kappa, delta, K1, b, e = sp.symbols("kappa delta K1 b epsilon", positive=True)
    first_order = sp.series(1 / (sp.Rational(1, 2) + e), e, 0, 2).removeO()
    alpha_b = first_order.subs(e, kappa / (12 * b) / sp.log(K1))
    (b_star,) = sp.solve(sp.Eq(alpha_b, 2 - delta), b)
    return {"kappa": kappa, "delta": delta, "K1": K1}, sp.simplify(b_star)


@_register("ch13-ex3", "heavy_tails_ex3", "b*, a SymPy expression in kappa, delta and K1")
def _ch13_ex3(answer):
    symbols, ref = _ch13_ex3_ref()
    expr = _symbolic(answer, symbols, "b* in kappa, delta, K1")
    return _symbolic_verdict(expr, ref, [
        (ref / 4, "1/(1/2 + ε) = 2 − 4ε to first order: the factor 4 turns κ/12 into κ/3"),
        (ref / 2, "a factor 2 too small: with K₁ = √n, log n = 2 log K₁; the formula has log K₁"),
        (1 / ref, "inverted: b* grows with the kurtosis κ and falls with the tolerance δ"),
        (ref * sp.log(symbols["K1"]), "the estimator divides the gap Δ_b by log K₁: b* keeps a log K₁ in its "
                                      "denominator"),
    ], "b*")


# ------------------------------------------------------------------------------------------------
# chapter 14: discrete-time SGD

def _ch14_label_noise():
    return np.diag([1.0, 0.25]), 2, 1.0, np.array([1.0, -1.0])  # A, b, σ², z


def _ch14_ex1_ref(l=4):
    """Exact (mean, covariance) of the SVAG gradient and of one batch gradient, from ds.svag_weights.

    Not in REFERENCES: the answer is a sampler, and the check compares its Monte Carlo moments with these."""
    from vdlib.theory import discrete_sgd as ds
    A, b, s2, z = _ch14_label_noise()
    zz = np.outer(z, z)
    one_cov = (A @ zz @ A + np.trace(A @ zz) * A + s2 * A) / b   # D(z)/b of least squares with label noise
    w1, w2 = ds.svag_weights(l)
    return (w1 + w2) * A @ z, (w1**2 + w2**2) * one_cov, A @ z, one_cov


CH14_EX1_DRAWS = 100_000


@_register("ch14-ex1", "discrete_sgd_ex1", "your function svag_gradient_moments(z, l, A, b, noise_var, n, seed), "
                                           "returning (SVAG mean, SVAG covariance, one-batch mean, one-batch covariance)")
def _ch14_ex1(fn):
    A, b, s2, z = _ch14_label_noise()
    l = 4
    out = _call(fn, "a tuple of four arrays", z, l, A, b, s2, n=CH14_EX1_DRAWS, seed=0)
    if not isinstance(out, (tuple, list)) or len(out) != 4:
        raise _Invalid(f"expected (mean, covariance, mean, covariance), got {type(out).__name__}")
    shapes = ((2,), (2, 2), (2,), (2, 2))
    got = np.concatenate([_array(x, s, "a moment").ravel() for x, s in zip(out, shapes)])
    ref = _ch14_ex1_ref(l)
    want = np.concatenate([np.ravel(x) for x in ref])
    mg, Cg, m1, C1 = ref
    return _numeric_verdict(got, want, 0.08, 0.05, [
        (np.concatenate([mg, C1.ravel(), m1, C1.ravel()]),
         "the SVAG covariance equals one batch's: combine the two batches with w1, w2 = ds.svag_weights(l)"),
        (np.concatenate([mg, l**2 * C1.ravel(), m1, C1.ravel()]),
         "the covariance grows by l, not l²: the weights satisfy w1 + w2 = 1 and w1² + w2² = l"),
        (np.concatenate([b * mg, b**2 * Cg.ravel(), b * m1, b**2 * C1.ravel()]),
         "a batch gradient is the mean over its b examples: divide the sum by b"),
    ], f"SVAG moments at z = (1, −1), l = {l}, b = {b} ({CH14_EX1_DRAWS:,} draws; the tolerance is several "
       "times the Monte Carlo error)")


def _trace_table(A, noise_var, ratio, batches, model="sgd", eta_of=lambda ratio, b: ratio * b, weight=None):
    from vdlib.theory import discrete_sgd as ds
    out = {}
    for b in batches:
        try:
            S = ds.label_noise_covariance(A, eta_of(ratio, b), b, noise_var, model=model)
            out[b] = float(np.trace((A if weight is None else weight) @ S))
        except ValueError:
            out[b] = None
    return out


@_reference("ch14-ex2")
def _ch14_ex2_ref():
    return lambda A, noise_var, ratio=0.2, batches=(1, 2, 4, 8): _trace_table(A, noise_var, ratio, batches)


@_register("ch14-ex2", "discrete_sgd_ex2", "your function scaling_table(A, noise_var, ratio=0.2, batches=(1, 2, 4, 8)), "
                                           "returning {b: tr(AΣ) or None}")
def _ch14_ex2(fn):
    A, _, s2, _ = _ch14_label_noise()
    batches = (1, 2, 4, 8)
    out = _call(fn, "a dict {b: float or None}", A, s2, 0.2, batches)
    if not isinstance(out, dict) or set(out) != set(batches):
        raise _Invalid(f"expected a dict keyed by the batch sizes {list(batches)}")
    want = _ch14_ex2_ref()(A, s2, 0.2, batches)
    for b in batches:
        if (want[b] is None) != (out[b] is None):
            if want[b] is None:
                raise _Wrong(f"at b = {b} (η = {0.2 * b:.1f}) SGD's second moment diverges: ds.label_noise_covariance "
                             "raises ValueError there, return None")
            raise _Wrong(f"at b = {b} the second moment exists (η = {0.2 * b:.1f} is below the limit): return tr(AΣ)")
    keep = [b for b in batches if want[b] is not None]
    got = np.array([_float(out[b], f"tr(AΣ) at b = {b}") for b in keep])
    ref = np.array([want[b] for b in keep])
    const = _trace_table(A, s2, 0.2, keep, model="sde_constant")
    plain = _trace_table(A, s2, 0.2, keep, weight=np.eye(2))
    return _numeric_verdict(got, ref, 1e-8, 0.0, [
        ([const[b] for b in keep], "that is the constant-D SDE; the exact formula is ds.label_noise_covariance's default model"),
        ([plain[b] for b in keep], "the exercise asks for tr(AΣ), not tr(Σ)"),
    ], f"tr(AΣ) at η/b = 0.2 for b = {keep}")


@_reference("ch14-ex3")
def _ch14_ex3_ref():
    def late_rate(kl, last=10):
        t = np.arange(len(kl))[-last:]
        return float(np.exp(np.polyfit(t, np.log(kl[-last:]), 1)[0]))
    return late_rate


def _ch14_kl_path():
    """The KL from a far start to the chain's own invariant law, as chapter 14 computes it (30 steps)."""
    from vdlib.theory import discrete_sgd as ds
    H, C, eta = np.diag([2.0, 0.5]), np.array([[1.0, 0.6], [0.6, 1.0]]), 0.4
    M, Q = np.eye(2) - eta * H, eta**2 * C
    S = ds.additive_covariance(H, C, eta)
    means, covs = ds.gaussian_chain_moments(M, Q, np.array([1.5, -1.0]), 0.02 * np.eye(2), 30)
    return np.array([ds.kl_gaussian(mu, Sc, np.zeros(2), S) for mu, Sc in zip(means, covs)])


@_register("ch14-ex3", "discrete_sgd_ex3", "your function late_rate(kl, last=10), returning a rate per step (a float)")
def _ch14_ex3(fn):
    kl = _ch14_kl_path()
    rng = np.random.default_rng(3)
    synthetic = 2.0 * 0.7 ** np.arange(25) * (1 + rng.uniform(0, 0.3, 25) * 0.3 ** np.arange(25))
    cases = [(kl, 10), (kl, 5), (synthetic, 8)]
    got = np.array([_float(_call(fn, "a float", k.copy(), last=n), "the rate") for k, n in cases])
    ref = _ch14_ex3_ref()
    want = np.array([ref(k, n) for k, n in cases])
    return _numeric_verdict(got, want, 1e-6, 0.0, [
        (np.log(want), "return exp(slope): the slope of log KL is the log of the rate"),
        (np.array([ref(k, len(k)) for k, _ in cases]), "fit only the last `last` steps; the early path is not geometric yet"),
        (np.sqrt(want), "the rate of the KL, not of the mean: the KL falls like the squared mean offset"),
    ], "late geometric rate of the chapter's KL path (last 10 and 5 steps) and of a synthetic path (last 8)")


# ------------------------------------------------------------------------------------------------
# chapter 14: discrete-time SGD

def _ch14_w1_ref(eta_h=1.5):
    from vdlib.theory import discrete_sgd as ds
    return float(ds.additive_covariance([[1.0]], [[1.0]], eta_h)[0, 0]
                 / ds.additive_covariance([[1.0]], [[1.0]], eta_h, model="sde")[0, 0])


@_register("ch14-w1", "discrete_sgd_w1", "Σ_SGD/Σ_SDE at ηh = 1.5 (a float)")
def _ch14_w1(answer):
    value = _float(answer, "Σ_SGD/Σ_SDE")
    ref = _ch14_w1_ref()
    return _number_verdict(value, ref, [
        (1 / ref, "inverted: SGD's variance is the larger one (the SDE under-estimates it)"),
        (1 + 1.5 / 2, "1 + ηh/2 is only the first order; the exact ratio is 1/(1 − ηh/2)"),
        (1.5 / 2, "that is the relative under-estimate 1 − Σ_SDE/Σ_SGD = ηh/2; the question asks for the ratio"),
    ], "Σ_SGD/Σ_SDE at ηh = 1.5")


@functools.lru_cache(maxsize=1)
def _ch14_w2_ref(model="sde"):
    """ηa at which a 1-D label-noise variance of ds.label_noise_symbolic() diverges: the state-dependent SDE's
    (``var_1d_sde``) by default, SGD's (``var_1d``) with model="sgd"."""
    from vdlib.theory import discrete_sgd as ds
    forms = ds.label_noise_symbolic()
    var = forms.var_1d_sde if model == "sde" else forms.var_1d
    a = next(s for s in var.free_symbols if s.name == "a")
    (lam_max,) = sp.solve(sp.denom(sp.together(var)), ds.lam)
    return {"b": ds.S}, sp.simplify(lam_max * a)


@_register("ch14-w2", "discrete_sgd_w2", "the value of ηa at which the state-dependent SDE's stationary variance "
                                         "diverges: a SymPy expression in b")
def _ch14_w2(answer):
    symbols, ref = _ch14_w2_ref()
    expr = _symbolic(answer, symbols, "the threshold of ηa in b")
    return _symbolic_verdict(expr, ref, [
        (_ch14_w2_ref("sgd")[1], "that is SGD's threshold 2b/(b + 2); the SDE drops the discrete term λAΣA, and "
                                 "keeps only the feedback tr(AΣ)A"),
        (sp.Integer(2), "2 is the discrete chain's stability limit of the mean; the SDE has no step, and its "
                        "variance diverges only through the noise's feedback"),
        (1 / ref, "inverted: the threshold grows with the batch size"),
    ], "threshold of ηa for the SDE with D(z)")


CH14_W3_OPTIONS = {
    "a": "it stays 0: ρ^ss is stationary",
    "b": "it decreases: the KL to a stationary law never increases along a Markov chain",
    "c": "it rises from 0 and levels off at KL(π_η‖ρ^ss) > 0",
    "d": "it grows without bound: the chain diverges at η = 0.4",
}


@_register("ch14-w3", "discrete_sgd_w3", 'one letter, "a"–"d"')
def _ch14_w3(answer):
    return _choice(answer, CH14_W3_OPTIONS, "c", {
        "a": "ρ^ss is stationary for the SDE, not for the SGD chain: the chain's invariant law is π_η",
        "b": "data processing makes the KL decrease only to a law that the chain leaves invariant, its own π_η; "
             "ρ^ss is not one",
        "d": "η·λ_max(H) = 0.8 < 2: the chain is stable and converges to π_η",
    }, "what KL(μ_t‖ρ^ss) does")


# ------------------------------------------------------------------------------------------------
# chapter 15: non-reversible sampling

def _ch15_w1_ref(eigenvalues=(1.0, 10.0)):
    from vdlib.theory import nonreversible as nr
    A = np.diag(np.asarray(eigenvalues, dtype=float))
    return nr.spectral_gap(A, nr.optimal_nonreversible_J(A))


@_register("ch15-w1", "nonreversible_w1", "the largest spectral gap an antisymmetric J can give (a float)")
def _ch15_w1(answer):
    value = _float(answer, "the largest gap")
    ref = _ch15_w1_ref()
    return _number_verdict(value, ref, [
        (10.0, "λ_max(A) is out of reach: the real parts of the eigenvalues of (I+J)A average to Tr(A)/d, so the "
               "smallest cannot exceed the mean"),
        (1.0, "that is the reversible gap λ_min(A); J can raise it"),
        (11.0, "that is Tr(A); the bound is the mean eigenvalue Tr(A)/d"),
    ], "max over J of the gap, λ(A) = {1, 10}", rtol=1e-6)


def _ch15_w2_ref():
    from vdlib.theory import nonreversible as nr
    _, closed, syms = nr.linear_variance_2d_symbolic()
    s = sp.Symbol("s", real=True)
    return {"s": s}, sp.simplify((closed / closed.subs(syms["j"], 0)).subs(syms["j"], s))


@_register("ch15-w2", "nonreversible_w2", "σ_f²(s)/σ_f²(0) for a linear f in 2-D: a SymPy expression in s")
def _ch15_w2(answer):
    symbols, ref = _ch15_w2_ref()
    s = symbols["s"]
    expr = _symbolic(answer, symbols, "the variance ratio in s")
    return _symbolic_verdict(expr, ref, [
        (1 / (1 + s), "J enters only through J² = −s²I: the ratio is even in s"),
        (1 + s**2, "inverted: a non-reversible drift never increases the asymptotic variance"),
        (1 / (1 - s**2), "the sign: (I − J²)⁻¹ with −J² = JᵀJ = s²I, positive semidefinite"),
    ], "σ_f²(s)/σ_f²(0)")


CH15_W3_OPTIONS = {
    "a": "ESS measures how well a chain estimates its own stationary mean, and the Euler chain's stationary "
         "law moves away from the posterior as s grows",
    "b": "Geyer's estimator over-states the ESS of non-reversible chains",
    "c": "a non-reversible step costs more gradient evaluations than a reversible one",
    "d": "the spectral gap of (I + sJ₀)H does not grow with s, so the gain must be an artefact",
}


@_register("ch15-w3", "nonreversible_w3", 'one letter, "a"–"d"')
def _ch15_w3(answer):
    return _choice(answer, CH15_W3_OPTIONS, "a", {
        "b": "the ESS estimate is not what misleads: a chain can estimate its own stationary mean very well and "
             "still be biased; look at the covariance-bias columns",
        "c": "every s costs the same: one gradient (SGLD: b/N of one) per step, and all s share the noise and batches",
        "d": "the gap of B_s does grow with s, up to Tr(H)/d (table of the stability section): the continuous-time "
             "gain is real",
    }, "why a higher ESS per gradient at a fixed step is not yet a better sampler")


def _ch15_ex1_symbols():
    a11, a12, a13, a22, a23, a33, j1, j2, j3 = sp.symbols("a11 a12 a13 a22 a23 a33 j1 j2 j3", real=True)
    A3 = sp.Matrix([[a11, a12, a13], [a12, a22, a23], [a13, a23, a33]])
    J3 = sp.Matrix([[0, j1, j2], [-j1, 0, j3], [-j2, -j3, 0]])
    names = dict(a11=a11, a12=a12, a13=a13, a22=a22, a23=a23, a33=a33, j1=j1, j2=j2, j3=j3)
    return names, A3, J3


@functools.lru_cache(maxsize=1)
def _ch15_ex1_ref():
    """B A⁻¹ with B = (I + J)A, simplified: the product the proof of invariance needs."""
    names, A3, J3 = _ch15_ex1_symbols()
    return sp.simplify((sp.eye(3) + J3) * A3 * A3.inv())


@_register("ch15-ex1", "nonreversible_ex1", "B A⁻¹, a 3×3 SymPy matrix in the symbols j1, j2, j3 (and a11…a33 if "
                                            "they remain)")
def _ch15_ex1(answer):
    names, A3, J3 = _ch15_ex1_symbols()
    expr = _symbolic(answer, names, "B A⁻¹")
    if not isinstance(expr, sp.MatrixBase) or expr.shape != (3, 3):
        raise _Invalid(f"expected a 3×3 matrix, got {type(expr).__name__} of shape {getattr(expr, 'shape', ())}")
    ref = _ch15_ex1_ref()
    return _symbolic_verdict(expr, ref, [
        (ref.T, "that is A⁻¹Bᵀ = (I + J)ᵀ = I − J, the other half of the Lyapunov sum; the question asks for BA⁻¹"),
        (ref + ref.T, "that is the whole sum BA⁻¹ + A⁻¹Bᵀ; give BA⁻¹ alone"),
        (sp.eye(3), "J does not cancel: BA⁻¹ = (I + J)AA⁻¹"),
    ], "B A⁻¹")


CH15_J0 = np.array([[0.0, 1.0], [-1.0, 0.0]])


CH15_EX2_EIGENVALUES = (1.0, 4.0)


def _ch15_ex2_ref(eigenvalues=CH15_EX2_EIGENVALUES, j=0.5):
    """(gap of (I + jJ₀)A, the smallest |j| at which the gap reaches Tr(A)/2) for A = diag(eigenvalues)."""
    from vdlib.theory import nonreversible as nr
    l1, l2 = np.asarray(eigenvalues, dtype=float)
    return np.array([nr.spectral_gap(np.diag([l1, l2]), j * CH15_J0), abs(l1 - l2) / (2 * np.sqrt(l1 * l2))])


@_register("ch15-ex2", "nonreversible_ex2", "the pair (gap at j = 1/2, smallest |j| reaching the optimum): two floats")
def _ch15_ex2(answer):
    value = _array(answer, (2,), "(gap at j = 1/2, j*)")
    ref = _ch15_ex2_ref()
    larger = sum(CH15_EX2_EIGENVALUES) - ref[0]  # μ₊ = Tr(A) − μ₋
    return _numeric_verdict(value, ref, 1e-6, 1e-12, [
        (np.array([larger, ref[1]]), "that is the larger real part μ₊; the gap is the smaller one, μ₋"),
        (np.array([1.0, ref[1]]), "that is the reversible gap: det((I + J)A) = (1 + j²) det A, so J moves the eigenvalues"),
        (np.array([ref[0], 2 * ref[1]]), "j* = |λ₁ − λ₂|/(2√(λ₁λ₂)): the 2 in the denominator is missing"),
        (np.array([ref[0], ref[1] ** 2]), "that is j*²: take the square root"),
    ], "(gap at j = 1/2, j*) for A = diag(1, 4)")


@functools.lru_cache(maxsize=1)
def _ch15_ex3_ref():
    """σ² of f = cos x for dX = v dt + √2 dW on the circle: E[f(X_t)|X₀ = x] = e^{−t} cos(x + vt), then
    Cov = (1/2π)∫ cos x e^{−t} cos(x + vt) dx and σ² = 2∫₀^∞ Cov dt."""
    v = sp.Symbol("v", real=True)
    x, t = sp.symbols("x t", nonnegative=True)
    cov = sp.integrate(sp.cos(x) * sp.exp(-t) * sp.cos(x + v * t), (x, 0, 2 * sp.pi)) / (2 * sp.pi)
    return {"v": v}, sp.simplify(2 * sp.integrate(sp.simplify(cov), (t, 0, sp.oo), conds="none"))


@_register("ch15-ex3", "nonreversible_ex3", "σ_f² of f = cos x on the circle: a SymPy expression in v")
def _ch15_ex3(answer):
    symbols, ref = _ch15_ex3_ref()
    v = symbols["v"]
    expr = _symbolic(answer, symbols, "σ_f² in v")
    return _symbolic_verdict(expr, ref, [
        (2 * ref, "under the uniform law Var(cos X) = 1/2: Cov(f(X₀), f(X_t)) = ½e^{−t}cos(vt)"),
        (ref / 2, "σ_f² = 2∫₀^∞ Cov dt: the factor 2 is missing"),
        (sp.Integer(1), "the gap does not depend on v, but the variance does: the covariance oscillates like cos(vt)"),
        (1 / (1 - v**2), "∫₀^∞ e^{−t}cos(vt) dt = 1/(1 + v²): check the sign"),
    ], "σ_f²(v)")


def _ch15_running_A():
    rot = np.array([[np.cos(np.pi / 6), -np.sin(np.pi / 6)], [np.sin(np.pi / 6), np.cos(np.pi / 6)]])
    return rot @ np.diag([1.0, 10.0]) @ rot.T


def _ch15_ex4_cases():
    A2 = _ch15_running_A()
    r = np.random.default_rng(5)
    Q, _ = np.linalg.qr(r.normal(size=(3, 3)))
    A3 = Q @ np.diag([0.5, 2.0, 6.0]) @ Q.T
    G = r.normal(size=(3, 3))
    return [(A2, s * CH15_J0, 0.01) for s in (0.0, 1.0, 2.0, 4.0)] + [(A3, 0.7 * (G - G.T), 0.005)]


def _ch15_ex4_ref(rhs=lambda B, Ainv, A: B @ Ainv @ B.T, transpose=False, norm="fro"):
    import scipy.linalg

    def first_order_bias(A, J, h):
        Ainv = np.linalg.inv(A)
        B = (np.eye(len(A)) + J) @ A
        X = scipy.linalg.solve_continuous_lyapunov(B.T if transpose else B, rhs(B, Ainv, A))
        return float(np.linalg.norm(h * X, norm) / np.linalg.norm(Ainv, norm))
    return first_order_bias


@_register("ch15-ex4", "nonreversible_ex4", "your function first_order_bias(A, J, h), returning ‖hX‖_F/‖A⁻¹‖_F "
                                            "(a float)")
def _ch15_ex4(fn):
    from vdlib.theory import nonreversible as nr
    cases = _ch15_ex4_cases()
    got = np.array([_float(_call(fn, "a float", A.copy(), J.copy(), h), "the first-order bias") for A, J, h in cases])
    want = np.array([_ch15_ex4_ref()(A, J, h) for A, J, h in cases])

    def variant(**kw):
        return np.array([_ch15_ex4_ref(**kw)(A, J, h) for A, J, h in cases])
    exact = np.array([nr.covariance_bias(A, J, h) for A, J, h in cases])
    return _numeric_verdict(got, want, 1e-6, 1e-12, [
        (want / np.array([h for _, _, h in cases]), "multiply X by h: Σ_h − A⁻¹ ≈ hX"),
        (variant(transpose=True), "the equation is B X + X Bᵀ = B A⁻¹ Bᵀ (scipy.linalg.solve_continuous_lyapunov(B, Q) "
                                  "solves BX + XBᴴ = Q); you solved it with Bᵀ"),
        (variant(rhs=lambda B, Ainv, A: B @ A @ B.T), "the right-hand side is B A⁻¹ Bᵀ, with the inverse of A"),
        (exact, "that is the exact bias of the Euler chain (nr.covariance_bias); the exercise asks for the "
                "first-order prediction hX"),
        (variant(norm=2), "the chapter's relative bias uses the Frobenius norm, not the spectral norm"),
    ], "first-order relative bias on the running example at s = 0, 1, 2, 4 (h = 0.01) and on a 3-D case")
