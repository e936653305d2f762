"""Answer checks of chapter 0 (the toolkit) and chapter 1 (mini-batch gradient noise).

Registered on import (by :mod:`vdlib.book.exercises`): the numbered exercises ``chNN-exK`` and the warm-up
concept checks ``chNN-wK``. Each reference is computed by the vdlib functions the chapter's solution calls,
or by a few lines of SymPy, never typed in; functions decorated ``@_reference`` give it to
:func:`vdlib.book.exercises.reference`. Each numeric tolerance is stated in the check's message.
"""
from __future__ import annotations

import functools

import numpy as np
import sympy as sp

from .kit import (_array, _call, _choice, _float, _Invalid, _numeric_verdict, _reference, _register, _symbolic,
                  _symbolic_verdict, _Wrong)

# ------------------------------------------------------------------------------------------------
# chapter 0: the toolkit

CH00_W1_OPTIONS = {
    "a": "Σ(ΔW)² → T on every path (its spread T√(2/n) → 0), while Σ|ΔW| grows like √n",
    "b": "Σ(ΔW)² → 0 and Σ|ΔW| converges to a finite length, as for a differentiable path",
    "c": "Σ(ΔW)² → T only on average: each path keeps a random quadratic variation whose spread does not shrink",
    "d": "both sums grow without bound as the mesh shrinks",
}


@_register("ch00-w1", "toolkit_w1", 'a letter among "a", "b", "c", "d" (a string)')
def _ch00_w1(answer):
    return _choice(answer, CH00_W1_OPTIONS, "a", {
        "b": "that is the behaviour of a differentiable path; a Brownian increment is of size √h, so "
             "(ΔW)² ≈ h sums to T and |ΔW| ≈ √h sums to about √(2Tn/π) → ∞",
        "c": "the spread shrinks: the standard deviation of Σ(ΔW)² is T√(2/n) → 0, so on a fine mesh every path "
             "has Σ(ΔW)² ≈ T",
        "d": "E Σ(ΔW)² = nh = T for every n: the quadratic variation stays finite; only the total variation diverges",
    }, "the two variations of a Brownian path")


CH00_W2_VALUES = {"mu": 0.1, "s": 0.6, "T": 2.0}


@_reference("ch00-w2")
def _ch00_w2_ref(mu=CH00_W2_VALUES["mu"], s=CH00_W2_VALUES["s"], T=CH00_W2_VALUES["T"]):
    """E[log X_T − log X_0] for GBM dX = μX dt + sX dW: the dt coefficient of d log X (Itô's lemma) times T."""
    from vdlib.theory import toolkit as tk

    x, mu_, s_ = sp.Symbol("x", positive=True), sp.Symbol("mu", real=True), sp.Symbol("s", positive=True)
    rate, _ = tk.ito_differential(sp.log(x), [mu_ * x], [[s_ * x]], [x])
    return float(rate.subs({mu_: mu, s_: s})) * T


@_register("ch00-w2", "toolkit_w2", "E[log X_T − log X_0] at T = 2 (a float)")
def _ch00_w2(answer):
    value = _float(answer, "E[log X_T − log X_0]")
    mu, s, T = CH00_W2_VALUES["mu"], CH00_W2_VALUES["s"], CH00_W2_VALUES["T"]
    ref = _ch00_w2_ref()
    return _numeric_verdict(value, ref, 1e-3, 1e-6, [
        (mu * T, "that is ordinary calculus, d log X = dX/X; Itô's lemma adds ½f''(X)s²X² dt = −(s²/2) dt"),
        (ref / T, "that is the rate per unit time: multiply by T = 2"),
        ((mu - s**2) * T, "the Itô correction is −s²/2, not −s²: ½ · f''(X) · (sX)² with f''(X) = −1/X²"),
        ((mu + s**2 / 2) * T, "sign: f = log X is concave (f'' = −1/X²), so the correction lowers the drift"),
    ], "E[log X_T − log X_0] for μ = 0.1, s = 0.6, T = 2")


@functools.lru_cache(maxsize=1)
def _ch00_w3_symbols():
    return {"x": sp.Symbol("x", real=True), "theta": sp.Symbol("theta", positive=True),
            "beta": sp.Symbol("beta", positive=True)}


@_reference("ch00-w3")
def _ch00_w3_ref(phi=None):
    """L φ for the 1-D SDE dX = −θX dt + √(2β⁻¹) dW (f = θx²/2, D = 1), by default for φ = x³."""
    from vdlib.theory import symbolic as sym

    S = _ch00_w3_symbols()
    x, theta, beta = S["x"], S["theta"], S["beta"]
    phi = x**3 if phi is None else phi
    return sym.generator(phi, [-theta * x], 1, beta, [x])


@_register("ch00-w3", "toolkit_w3", "L x³, a SymPy expression in x, theta and beta")
def _ch00_w3(answer):
    S = _ch00_w3_symbols()
    x, theta = S["x"], S["theta"]
    expr = _symbolic(answer, S, "L x³")
    ref = _ch00_w3_ref()
    first_order = -theta * x * sp.diff(x**3, x)
    second = ref - first_order
    return _symbolic_verdict(expr, ref, [
        (first_order, "that is the chain rule of ordinary calculus; the generator adds the second-order term "
                      "β⁻¹D φ'' = 6x/β"),
        (first_order + 2 * second, "factor of 2: the second-order term is ½σ²φ'' = β⁻¹φ'' with σ² = 2β⁻¹, not σ²φ''"),
        (first_order + second / 2, "factor of 2: with σ² = 2β⁻¹ the second-order term ½σ²φ'' is β⁻¹φ'', not ½β⁻¹φ''"),
        (-first_order + second, "sign: the drift is −∇f = −θx, so the first-order term is −θx φ'(x)"),
    ], "L x³")


@functools.lru_cache(maxsize=1)
def _ch00_ex1_symbols():
    return {"W_T": sp.Symbol("W_T", real=True), "T": sp.Symbol("T", positive=True)}


@_reference("ch00-ex1")
@functools.lru_cache(maxsize=1)
def _ch00_ex1_ref():
    """lim Σ W(t_{i+1}) ΔW_i: the exact identity Σ W(t_{i+1})ΔW_i = W_T²/2 + ½Σ(ΔW_i)² (SymPy, 4 increments),
    with the quadratic variation Σ(ΔW_i)² replaced by its limit T."""
    S = _ch00_ex1_symbols()
    dW = sp.symbols("dW1:5", real=True)
    right = sum(sum(dW[:i + 1]) * dW[i] for i in range(len(dW)))
    excess = sp.expand(right - sum(dW)**2 / 2)              # = q · Σ(ΔW)²
    q = sp.simplify(excess / sum(d**2 for d in dW))
    if q.free_symbols:
        raise RuntimeError(f"the right-point sum is not W_T²/2 + q Σ(ΔW)²: {excess}")
    return S["W_T"]**2 / 2 + q * S["T"]


@_register("ch00-ex1", "toolkit_ex1", "the limit of Σ W(t_{i+1}) ΔW_i, a SymPy expression in W_T and T")
def _ch00_ex1(answer):
    S = _ch00_ex1_symbols()
    WT, T = S["W_T"], S["T"]
    expr = _symbolic(answer, S, "the limit of the right-point sums")
    return _symbolic_verdict(expr, _ch00_ex1_ref(), [
        ((WT**2 - T) / 2, "that is the Itô (left-point) limit; the right point adds Σ(ΔW_i)², which converges to T"),
        (WT**2 / 2, "that is the midpoint (Stratonovich) limit; the right point adds a full Σ(ΔW_i)² → T to "
                    "the left-point sum, not half of it"),
        (WT**2 / 2 + T, "add Σ(ΔW_i)² → T to the Itô value (W_T² − T)/2, not to W_T²/2"),
    ], "lim Σ W(t_{i+1}) ΔW_i")


@functools.lru_cache(maxsize=1)
def _ch00_ex2_symbols():
    w = sp.Symbol("W_t", real=True)
    return {"s": sp.Symbol("s", positive=True), "W_t": w, "W": w, "t": sp.Symbol("t", nonnegative=True)}


@_reference("ch00-ex2")
def _ch00_ex2_ref():
    """The dt coefficient of d e^{sW_t}, by Itô's lemma with X = (t, W): drift (1, 0), σ = (0, 1)ᵀ."""
    from vdlib.theory import toolkit as tk

    S = _ch00_ex2_symbols()
    rate, _ = tk.ito_differential(sp.exp(S["s"] * S["W_t"]), [1, 0], [[0], [1]], [S["t"], S["W_t"]])
    return rate


@_register("ch00-ex2", "toolkit_ex2", "the dt coefficient of d e^{sW_t}, a SymPy expression in s and W_t")
def _ch00_ex2(answer):
    S = _ch00_ex2_symbols()
    s, w = S["s"], S["W_t"]
    expr = _symbolic(answer, S, "the dt coefficient of d e^{sW_t}")
    E = sp.exp(s * w)
    return _symbolic_verdict(expr, _ch00_ex2_ref(), [
        (sp.Integer(0), "zero is the dt coefficient of dM for M = exp(sW − s²t/2), or ordinary calculus for "
                        "e^{sW}; Itô's lemma adds ½ f''(W) dt = ½ s² e^{sW} dt"),
        (s**2 * E, "factor of 2: the Itô term is ½ f''(W) (dW)² with f'' = s² e^{sW}"),
        (s * E, "s e^{sW} is the dW coefficient; the dt coefficient comes from ½ f''(W)"),
    ], "the dt coefficient of d e^{sW_t}")


@functools.lru_cache(maxsize=1)
def _ch00_ex3_symbols():
    return {"x_0": sp.Symbol("x_0", real=True), "theta": sp.Symbol("theta", positive=True),
            "beta": sp.Symbol("beta", positive=True), "t": sp.Symbol("t", positive=True)}


@_reference("ch00-ex3")
@functools.lru_cache(maxsize=1)
def _ch00_ex3_ref():
    """W_2²(ρ_t, ρ_∞) for dX = −θX dt + √(2β⁻¹) dW from x_0: the mean and variance solve the moment ODEs
    (from Itô's lemma), and between 1-D Gaussians W_2² = (m_1 − m_2)² + (s_1 − s_2)²."""
    S = _ch00_ex3_symbols()
    x0, theta, beta, t = S["x_0"], S["theta"], S["beta"], S["t"]
    m, v = sp.Function("m"), sp.Function("v")
    mean = sp.dsolve(sp.Eq(m(t).diff(t), -theta * m(t)), m(t), ics={m(0): x0}).rhs
    var = sp.dsolve(sp.Eq(v(t).diff(t), -2 * theta * v(t) + 2 / beta), v(t), ics={v(0): 0}).rhs
    var_inf = sp.limit(var, t, sp.oo)
    return mean**2 + (sp.sqrt(var) - sp.sqrt(var_inf))**2


@_register("ch00-ex3", "toolkit_ex3", "W_2(ρ_t, ρ_∞)², a SymPy expression in x_0, theta, beta and t")
def _ch00_ex3(answer):
    S = _ch00_ex3_symbols()
    x0, theta, beta, t = S["x_0"], S["theta"], S["beta"], S["t"]
    expr = _symbolic(answer, S, "W_2(ρ_t, ρ_∞)²")
    ref = _ch00_ex3_ref()
    decay = sp.exp(-2 * theta * t)
    v_t, v_inf = (1 - decay) / (beta * theta), 1 / (beta * theta)
    return _symbolic_verdict(expr, ref, [
        (sp.sqrt(ref), "that is W_2; the answer is its square W_2²"),
        (x0**2 * decay, "the variances differ too: add the term (√v_t − √v_∞)²"),
        (x0**2 * decay + (v_t - v_inf)**2, "W_2 compares standard deviations: the term is (√v_t − √v_∞)², "
                                           "not (v_t − v_∞)²"),
        (x0**2 * decay + (sp.sqrt(v_t / 2) - sp.sqrt(v_inf / 2))**2,
         "factor of 2 in the variances: the noise is σ² = 2β⁻¹, so v_∞ = σ²/(2θ) = 1/(βθ)"),
        (x0**2 * sp.exp(-theta * t) + (sp.sqrt(v_t) - sp.sqrt(v_inf))**2,
         "the mean is x_0 e^{−θt}, so its square decays like e^{−2θt}"),
    ], "W_2(ρ_t, ρ_∞)²")


# ------------------------------------------------------------------------------------------------
# chapter 1: random reshuffling

def _ch01_data():
    G = np.random.default_rng(11).normal(size=(12, 3)) * np.array([1.0, 0.5, 2.0])
    return G, 3  # N = 12 rows, b = 3: four batches per epoch


@_reference("ch01-ex3")
def _ch01_ex3_ref():
    def epoch_batch_gradients(G, b, rng):
        N, d = G.shape
        return G[rng.permutation(N)].reshape(N // b, b, d).mean(axis=1)
    return epoch_batch_gradients


@_register("ch01-ex3", "minibatch_noise_ex3",
           "your function epoch_batch_gradients(G, b, rng), returning the (N // b, d) array of one epoch's batch means")
def _ch01_ex3(fn):
    from vdlib.theory import minibatch_noise as noise

    G, b = _ch01_data()
    N, d = G.shape
    g = G.mean(axis=0)
    rng = np.random.default_rng(0)
    first = _call(fn, "the (N // b, d) array of batch gradients", G, b, rng)
    arr = np.asarray(first, dtype=float)
    if arr.shape == (d, N // b):
        raise _Invalid(f"got shape {arr.shape}, the transpose of (N // b, d) = {(N // b, d)}: one row per batch")
    arr = _array(arr, (N // b, d), "one row per batch")
    if np.allclose(arr.mean(axis=0), b * g):
        raise _Wrong("your batch gradients are sums: divide each by b to get the mini-batch mean")
    if not np.allclose(arr.mean(axis=0), g, atol=1e-10):
        raise _Wrong("the average of one epoch's batch gradients should be exactly g: the batches must partition "
                     "the data (shuffle the indices once with rng.permutation, then cut them into N // b groups)")
    epochs = 3000
    firsts = np.stack([first[0]] + [np.asarray(fn(G, b, rng), float)[0] for _ in range(epochs - 1)])
    if np.allclose(firsts, firsts[0]):
        raise _Wrong("every epoch gives the same batches: shuffle the rows with the rng you are given")
    exact = noise.minibatch_covariance(G, b, replacement=False)
    ratio = np.trace(np.cov(firsts.T, bias=True)) / np.trace(exact)
    # the relative standard error of a trace of a covariance from 3,000 draws is about sqrt(2/3000) = 2.6 %
    return _numeric_verdict(ratio, 1.0, 0.1, 0.0,
                            [(1 / (1 - b / N) * (N - 1) / N, "the first batch has the with-replacement covariance: "
                                                              "draw the b rows of a batch without replacement")],
                            "tr Cov(first batch) / tr Cov(without replacement), 3,000 epochs (about 4 standard errors)")


# ------------------------------------------------------------------------------------------------
# chapter 1: mini-batch gradient noise

CH01_W1_OPTIONS = {
    "a": "doubling the batch size b halves D",
    "b": "D is the covariance of the mini-batch gradient ∇f_b",
    "c": "D = (1/N) Σ_k g_k g_kᵀ, the second moment of the per-sample gradients",
    "d": "D(x) ⪰ 0 changes with x (through the per-sample gradients) but not with η or b",
}


@_register("ch01-w1", "minibatch_noise_w1", 'a letter among "a", "b", "c", "d" (a string)')
def _ch01_w1(answer):
    return _choice(answer, CH01_W1_OPTIONS, "d", {
        "a": "b is not in D: it enters only through the factor in front, Var(∇f_b) = D/b with replacement",
        "b": "D is the covariance of ONE per-sample gradient over the dataset; a mini-batch of b has covariance "
             "D/b (with replacement)",
        "c": "that is the raw second moment S; D subtracts g gᵀ, and the two agree only where the full gradient "
             "vanishes",
    }, "the diffusion matrix")


CH01_W2_SIZES = {"N": 20, "b": 10}


@_reference("ch01-w2")
def _ch01_w2_ref(N=CH01_W2_SIZES["N"], b=CH01_W2_SIZES["b"]):
    from vdlib.theory import minibatch_noise as noise
    return float(noise.without_replacement_factor(b, N))


@_register("ch01-w2", "minibatch_noise_w2", "the ratio Var(without replacement) / Var(with replacement) (a float)")
def _ch01_w2(answer):
    value = _float(answer, "the variance ratio")
    N, b = CH01_W2_SIZES["N"], CH01_W2_SIZES["b"]
    ref = _ch01_w2_ref()
    return _numeric_verdict(value, ref, 1e-3, 0.0, [
        (1 - b / N, "1 − b/N alone misses the factor N/(N − 1): c(b) = (1 − b/N) N/(N − 1)"),
        (1 / ref, "inverted: without replacement the variance is smaller, so the ratio is below one"),
        (N / (N - 1), "N/(N − 1) alone misses the main effect, the factor (1 − b/N)"),
        (1.0, "the two schemes coincide only at b = 1; here half the data are in the batch"),
    ], "Var(without) / Var(with) at N = 20, b = 10")


@functools.lru_cache(maxsize=1)
def _ch01_w3_symbols():
    return {"s": sp.Symbol("s", positive=True), "sigma": sp.Symbol("sigma", positive=True),
            "e": sp.Symbol("e", real=True)}


@_reference("ch01-w3")
@functools.lru_cache(maxsize=1)
def _ch01_w3_ref():
    """D(x) = E[g²] − E[g]² for g = a(a e − ε), a ~ N(0, s²), ε ~ N(0, σ²): Isserlis' theorem."""
    from vdlib.theory import symbolic as sym

    S = _ch01_w3_symbols()
    s, sigma, e = S["s"], S["sigma"], S["e"]
    a, eps = sp.symbols("a varepsilon", real=True)
    g = a * (a * e - eps)
    cov = sp.diag(s**2, sigma**2)
    return sp.expand(sym.gaussian_expectation(g**2, [a, eps], cov) - sym.gaussian_expectation(g, [a, eps], cov)**2)


@_register("ch01-w3", "minibatch_noise_w3", "D(x) for the 1-D Gaussian design, a SymPy expression in s, sigma and e")
def _ch01_w3(answer):
    S = _ch01_w3_symbols()
    s, sigma, e = S["s"], S["sigma"], S["e"]
    expr = _symbolic(answer, S, "D(x) in one dimension")
    return _symbolic_verdict(expr, _ch01_w3_ref(), [
        (sigma**2 * s**2 + 3 * s**4 * e**2, "that is E[g²]; D subtracts the squared mean gradient E[g]² = s⁴e²"),
        (sigma**2 * s**2 + s**4 * e**2, "E[a⁴] = 3s⁴ by Isserlis' theorem (three pairings), not s⁴: the rank-one "
                                        "term Σ_a e eᵀ Σ_a = s⁴e² is missing"),
        (sigma**2 * s**2, "that is D(x*) = σ²H; away from the minimum the residual a e adds noise of order e²"),
    ], "D(x) for a ~ N(0, s²), ε ~ N(0, σ²)")


@_reference("ch01-ex1")
def _ch01_ex1_ref():
    """The largest rank of D over N × d matrices G: the numerical rank of D for a random G (rank is generic)."""
    from vdlib.theory import minibatch_noise as noise

    def rank_bound(N, d):
        G = np.random.default_rng(1000 * N + d).normal(size=(N, d))
        return int(np.linalg.matrix_rank(noise.diffusion_matrix(G))) if N > 1 else 0
    return rank_bound


CH01_EX1_SHAPES = ((5, 3), (4, 10), (30, 10), (2, 5), (3, 3), (1, 4))


@_register("ch01-ex1", "minibatch_noise_ex1", "your function rank_bound(N, d), returning the largest possible rank of D (an int)")
def _ch01_ex1(fn):
    got = np.array([_float(_call(fn, "an int", N, d), "the rank bound") for N, d in CH01_EX1_SHAPES])
    ref = _ch01_ex1_ref()
    want = np.array([ref(N, d) for N, d in CH01_EX1_SHAPES], dtype=float)
    Ns, ds = np.array(CH01_EX1_SHAPES, dtype=float).T
    return _numeric_verdict(got, want, 0.0, 1e-9, [
        (np.minimum(ds, Ns), "centring costs one dimension: the rows of G − 1gᵀ sum to zero, so rank D ≤ N − 1"),
        (ds, "with fewer examples than parameters the rank is bounded by N − 1, not by d"),
        (Ns - 1, "D is d × d: its rank is at most d as well"),
    ], "rank bounds at (N, d) = " + ", ".join(f"({N}, {d})" for N, d in CH01_EX1_SHAPES))


@functools.lru_cache(maxsize=1)
def _ch01_ex2_symbols():
    from vdlib.theory import symbolic as sym
    return {"N": sym.N_SYM, "b": sym.B_SYM}


@_reference("ch01-ex2")
@functools.lru_cache(maxsize=1)
def _ch01_ex2_ref():
    """(A, B) of Var(∇f_b) = A S + B g gᵀ under Poisson sampling: independent Bernoulli(b/N) counts."""
    from vdlib.theory import symbolic as sym

    N, b = sym.N_SYM, sym.B_SYM
    q = b / N
    A, B = sym.covariance_coefficients(sym.CountMoments("Poisson", N, b, mean=q, second=q, cross=q**2))
    return sp.Matrix([A, B])


@_register("ch01-ex2", "minibatch_noise_ex2", "the pair (A, B) of SymPy expressions in N and b")
def _ch01_ex2(answer):
    from vdlib.theory import symbolic as sym

    S = _ch01_ex2_symbols()
    if not (isinstance(answer, (tuple, list, sp.MatrixBase, np.ndarray)) and np.size(answer) == 2):
        raise _Invalid(f"expected the pair (A, B), got {type(answer).__name__}"
                       + (f" of {np.size(answer)}" if isinstance(answer, (tuple, list)) else ""))
    expr = _symbolic(list(np.ravel(np.asarray(answer, dtype=object))), S, "the pair (A, B)")
    N, b = S["N"], S["b"]
    A_wo, _ = sym.covariance_coefficients(sym.count_moments(replacement=False))
    ref = _ch01_ex2_ref()
    A = ref[0]
    _symbolic_verdict(expr, ref, [
        (sp.Matrix([A_wo, -A_wo]), "those are the coefficients without replacement; Poisson counts are independent "
                                   "Bernoulli(b/N), so w = Cov(n_i, n_j) = 0"),
        (sp.Matrix([A, -A]), "the batch size is random, so the constraint Nv + N(N − 1)w = 0 fails: with w = 0, B = 0 "
                             "and not −A"),
        (sp.Matrix([1 / b, 0]), "Var(n_i) = q(1 − q) for a Bernoulli(q) count, not q: A = N v / b²"),
        (sp.Matrix([A / N, 0]), "A = N(v − w)/b²: the sum over i of Var(n_i) g_i g_iᵀ is N v S"),
    ], "(A, B) under Poisson sampling")
    A_ref, B_ref = (sp.sstr(sp.simplify(c)) for c in ref)
    return f"(A, B) under Poisson sampling = ({A_ref}, {B_ref}) (SymPy: simplify(answer − reference) = 0)"


CH01_EX4_CASES = (
    (np.diag([1.0, 4.0]), np.array([0.5, 0.25]), 1.0),
    (np.array([[2.0, 0.3, -0.1], [0.3, 1.0, 0.4], [-0.1, 0.4, 0.5]]), np.array([1.0, -2.0, 0.5]), 0.3),
    (np.array([[1.0, 0.9], [0.9, 1.0]]), np.array([3.0, -1.0]), 0.0),
)


@_reference("ch01-ex4")
def _ch01_ex4_ref():
    from vdlib.theory import regression

    def trace_D(Sigma_a, e, sigma2):
        e = np.asarray(e, dtype=float)
        return float(np.trace(regression.population_diffusion(e, np.zeros_like(e), Sigma_a, sigma2)))
    return trace_D


@_register("ch01-ex4", "minibatch_noise_ex4",
           "your function trace_D(Sigma_a, e, sigma2), returning tr D(x) (a float) for e = x − x*")
def _ch01_ex4(fn):
    got = np.array([_float(_call(fn, "a float", S.copy(), e.copy(), s2), "tr D(x)") for S, e, s2 in CH01_EX4_CASES])
    ref = _ch01_ex4_ref()
    want = np.array([ref(S, e, s2) for S, e, s2 in CH01_EX4_CASES])
    quad = np.array([e @ S @ e for S, e, _ in CH01_EX4_CASES])
    quad2 = np.array([e @ S @ S @ e for S, e, _ in CH01_EX4_CASES])
    tr = np.array([np.trace(S) for S, _, _ in CH01_EX4_CASES])
    s2 = np.array([c[2] for c in CH01_EX4_CASES])
    return _numeric_verdict(got, want, 1e-8, 1e-12, [
        ((s2 + quad) * tr, "the rank-one term Σ_a e eᵀ Σ_a is missing: its trace is eᵀΣ_a²e"),
        ((s2 + quad) * tr + 2 * quad2, "that is tr E[g gᵀ]; subtract |E g|² = eᵀΣ_a²e"),
        (s2 * tr + quad2, "the noise level σ² + eᵀΣ_a e multiplies tr Σ_a: it grows with e, like the loss"),
    ], f"tr D on {len(CH01_EX4_CASES)} (Σ_a, e, σ²) cases in d = 2 and 3")
