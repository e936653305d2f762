"""Answer checks for the exercises of chapters 1–12: ``from vdlib.book.exercises import check``.

Every exercise stub ends with ``answer = ...`` and ``check("chNN-exK", answer)``. The check never
raises (so "Run All" runs past an unsolved exercise); it prints and returns a
:class:`~vdlib.book._exercise_kit.CheckResult` whose ``status`` is "not attempted", "correct",
"incorrect" (with a hint for the exercise's typical mistakes) or "invalid" (wrong type or shape, with
what was expected). Each reference answer is computed here by the vdlib functions the chapter's
solution calls (or by the same few lines of SymPy), never typed in; each numeric tolerance is stated
in the message. Answers that are functions are called on small inputs so that a check stays cheap.
"""
from __future__ import annotations

import functools
import math
from types import SimpleNamespace

import numpy as np
import sympy as sp

from ._exercise_kit import (REGISTRY, STATUSES, CheckResult, _array, _call, _float, _Invalid, _numeric_verdict, _register, _symbolic, _symbolic_verdict, _Wrong, check, exercise_ids)

__all__ = ["check", "exercise_ids", "CheckResult", "STATUSES", "REGISTRY", "reference"]


def reference(exercise_id: str):
    """The reference answer of a registered exercise (a value, or for function exercises the reference function).

    ch11-ex3 has none: its values come from training runs, and its check tests their form only.
    """
    if exercise_id not in REFERENCES:
        raise KeyError(f"{exercise_id!r} has no computable reference; ids with one: {sorted(REFERENCES)}")
    return REFERENCES[exercise_id]()


REFERENCES: dict = {}


def _reference(ex_id):
    def deco(fn):
        REFERENCES[ex_id] = fn
        return fn
    return deco


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
# chapter 2: without replacement

@_reference("ch02-ex1")
@functools.lru_cache(maxsize=1)
def _ch02_ex1_ref():
    from vdlib.theory import sgd
    from vdlib.theory.regression import make_linear_regression

    small = make_linear_regression(N=40, noise="homoscedastic", seed=3)
    var = {r: np.diag(sgd.exact_sgd_covariance(small, 0.05, 20, r).sigma) for r in (False, True)}
    return var[False] / var[True]


@_register("ch02-ex1", "sgd_as_sde_ex1",
           "the ratio Var(without replacement) / Var(with replacement) of the stationary variances "
           "(a float, dimensionless, or an array with one ratio per coordinate)")
def _ch02_ex1(answer):
    ref = _ch02_ex1_ref()
    values = np.atleast_1d(np.asarray(answer, dtype=float)) if not isinstance(answer, (str, dict)) else None
    if values is None or values.ndim != 1 or values.size not in (1, ref.size):
        raise _Invalid(f"expected a float or {ref.size} ratios, got a {type(answer).__name__}")
    value = _array(values, values.shape, "variance ratios")
    target = ref if value.size == ref.size else ref.mean()
    b, N = 20, 40
    note = (f"; at this precision 1 − b/N = {1 - b / N:.3f} and (1 − b/N)N/(N − 1) = {(1 - b / N) * N / (N - 1):.3f} "
            "cannot be told apart: the solution explains which one the population D predicts")
    return _numeric_verdict(value, target, 0.04, 0.0,
                            [(1 / target, "your ratio is inverted: divide the variance WITHOUT replacement by the "
                                          "one WITH replacement"),
                             (np.ones_like(target), "no difference: did both runs use the same replacement flag?")],
                            "variance ratio (reference: exact least squares; 4 % is about 3 standard errors of a ratio from 1,000 chains)"
                            ) + note


# ------------------------------------------------------------------------------------------------
# chapter 3: the OU steady state

@functools.lru_cache(maxsize=1)
def _ch03_ex2_ref():
    beta = sp.Symbol("beta", positive=True)
    A = sp.Matrix([[1, -1], [1, 2]])
    D = sp.diag(1, sp.Rational(1, 2))

    def solve(A_, rhs):
        s11, s12, s22 = sp.symbols("s11 s12 s22")
        S = sp.Matrix([[s11, s12], [s12, s22]])
        sol = sp.solve(list(A_ * S + S * A_.T - rhs), [s11, s12, s22], dict=True)[0]
        return sp.simplify(S.subs(sol))
    return beta, solve(A, 2 * D / beta), solve(A.T, 2 * D / beta), solve(A, D / beta)


_reference("ch03-ex2")(lambda: _ch03_ex2_ref()[1])


@_register("ch03-ex2", "fokker_planck_ex2", "Sigma, the 2×2 SymPy matrix solving A Σ + Σ Aᵀ = 2D/β (in terms of beta)")
def _ch03_ex2(answer):
    beta, ref, transposed, half = _ch03_ex2_ref()
    S = _symbolic(answer, {"beta": beta}, "Σ in terms of beta")
    if not isinstance(S, sp.MatrixBase) or S.shape != (2, 2):
        raise _Invalid(f"expected a 2×2 matrix, got {type(S).__name__} of shape {getattr(S, 'shape', ())}")
    if beta not in S.free_symbols:
        raise _Wrong("Σ must depend on β (it is proportional to 1/β); keep beta symbolic")
    return _symbolic_verdict(S, ref, [
        (transposed, "you solved Aᵀ Σ + Σ A = 2D/β: the drift is −Ax, so the equation is A Σ + Σ Aᵀ = 2D/β"),
        (half, "off by a factor of 2: the right-hand side is 2D/β"),
        (-ref, "the sign is wrong: a covariance has a positive diagonal"),
    ], "Σ")


# ------------------------------------------------------------------------------------------------
# chapter 4: Φ_∞ of the double well

@_reference("ch04-ex3")
def _ch04_ex3_ref(weight=lambda d: 1 / d):
    from scipy.integrate import quad

    from vdlib.theory import potentials
    gf, Dr = potentials.double_well_1d_grad, potentials.shift_D
    return quad(lambda s: gf(s) * weight(Dr(s)), -1.0, 1.0)[0]


@_register("ch04-ex3", "potential_force_ex3", "the depth difference Φ_∞(1) − Φ_∞(−1) (a float, units of f)")
def _ch04_ex3(answer):
    value = _float(answer, "the depth difference Φ_∞(1) − Φ_∞(−1)")
    ref = _ch04_ex3_ref()
    return _numeric_verdict(value, ref, 1e-3, 1e-6, [
        (-ref, "the sign is reversed: compute Φ_∞(1) − Φ_∞(−1) = ∫ from −1 to 1 of f'/D"),
        (0.0, "that is f(1) − f(−1); Φ_∞ weights f' by 1/D, which differs on the two sides"),
        (_ch04_ex3_ref(lambda d: d), "you multiplied f' by D; Φ_∞ = ∫ f'/D dx divides by it"),
    ], "Φ_∞(1) − Φ_∞(−1)")


# ------------------------------------------------------------------------------------------------
# chapter 5: the free energy of a Gaussian

@functools.lru_cache(maxsize=1)
def _ch05_ex1_ref():
    from vdlib.theory import free_energy as fe

    m, s, k, F, _ = fe.gaussian_free_energy()
    H = sp.log(2 * sp.pi * sp.E * s**2) / 2
    E = F + H / fe.beta
    args = (m, s, k, fe.beta)
    variants = [(E + H / fe.beta, "the entropy enters with a minus sign: F = E[Φ] − β⁻¹H"),
                (E.subs(s, 0) - H / fe.beta, "E[Φ] misses the variance: E[x²] = m² + s²"),
                (E - sp.log(2 * sp.pi * s**2) / 2 / fe.beta, "the Gaussian entropy is ½ log(2πe s²): the e is missing"),
                (E - sp.log(2 * sp.pi * sp.E * s) / 2 / fe.beta, "the Gaussian entropy is ½ log(2πe s²), with s squared")]
    return sp.lambdify(args, F, "math"), [(sp.lambdify(args, v, "math"), h) for v, h in variants]


_reference("ch05-ex1")(lambda: _ch05_ex1_ref()[0])
_CH05_POINTS = ((0.3, 0.7, 2.0, 1.5), (-1.0, 0.4, 0.5, 3.0), (2.0, 1.3, 1.0, 0.5))


@_register("ch05-ex1", "variational_inference_ex1", "your function gaussian_F(m, s, k, beta), returning F(N(m, s²)) (a float)")
def _ch05_ex1(fn):
    ref, variants = _ch05_ex1_ref()
    got = np.array([_float(_call(fn, "F, a float", *p), "F(N(m, s²))") for p in _CH05_POINTS])
    want = np.array([ref(*p) for p in _CH05_POINTS])
    hints = [(np.array([v(*p) for p in _CH05_POINTS]), h) for v, h in variants]
    return _numeric_verdict(got, want, 1e-6, 1e-9, hints, "F at (m, s, k, β) = " + ", ".join(map(str, _CH05_POINTS)))


# ------------------------------------------------------------------------------------------------
# chapter 6: W2 between Gaussians

@functools.lru_cache(maxsize=1)
def _ch06_ex1_ref():
    z = sp.Symbol("z", real=True)
    m1, m2 = sp.symbols("m_1 m_2", real=True)
    s1, s2 = sp.symbols("s_1 s_2", positive=True)
    phi = sp.exp(-z**2 / 2) / sp.sqrt(2 * sp.pi)
    w2sq = sp.integrate(((m1 + s1 * z) - (m2 + s2 * z)) ** 2 * phi, (z, -sp.oo, sp.oo))
    return {"m_1": m1, "m_2": m2, "s_1": s1, "s_2": s2}, sp.simplify(w2sq)


_reference("ch06-ex1")(lambda: _ch06_ex1_ref()[1])


@_register("ch06-ex1", "wasserstein_jko_ex1", "W_2² as a SymPy expression in the symbols m_1, m_2, s_1, s_2")
def _ch06_ex1(answer):
    syms, ref = _ch06_ex1_ref()
    if isinstance(answer, (int, float, np.floating)):
        raise _Invalid(f"got the number {answer}; the exercise asks for the formula")
    expr = _symbolic(answer, syms, "W_2² in m_1, m_2, s_1, s_2")
    m1, m2, s1, s2 = syms.values()
    return _symbolic_verdict(expr, ref, [
        (sp.sqrt(ref), "that is W_2; the exercise asks for W_2² (no square root)"),
        ((m1 - m2) ** 2 + (s1 + s2) ** 2, "the cross term: ∫ z φ = 0 and ∫ z² φ = 1 give (s_1 − s_2)², not (s_1 + s_2)²"),
        ((m1 - m2) ** 2, "the spread term (s_1 − s_2)² is missing: ∫ z² φ(z) dz = 1"),
        ((m1 - m2) ** 2 + s1**2 + s2**2, "the cross term −2 s_1 s_2 ∫ z² φ is missing"),
    ], "W_2²")


# ------------------------------------------------------------------------------------------------
# chapter 7: isotropic noise, rotating drift

@_reference("ch07-ex1")
def _ch07_ex1_ref(a=1.0, omega=2.0, beta=2.0):
    from vdlib.theory import linear
    J = np.array([[0.0, -1.0], [1.0, 0.0]])
    return linear.area_rate_theory(a * np.eye(2) - omega * J, np.eye(2), beta)


@_register("ch07-ex1", "linear_case_ex1",
           "the stationary area rate ⟨x₁ẋ₂ − x₂ẋ₁⟩ for a = 1, ω = 2, β = 2 (a float, area per unit SDE time)")
def _ch07_ex1(answer):
    value = _float(answer, "the area rate")
    ref, beta = _ch07_ex1_ref(), 2.0
    return _numeric_verdict(value, ref, 0.05, 0.0, [
        (-ref, "the sign is reversed: ⟨x₁ẋ₂ − x₂ẋ₁⟩ = 2Q₁₂/β is positive for counter-clockwise rotation"),
        (ref / 2, "a factor of 2 is missing: the area rate is 2Q₁₂/β"),
        (ref * beta, "divide by β: the area rate is 2Q₁₂/β"),
    ], "area rate (5 % admits a simulated value)")


# ------------------------------------------------------------------------------------------------
# chapter 8: the shift of the mode; SGD's discrete factor

@functools.lru_cache(maxsize=1)
def _ch08_ex1_ref():
    from vdlib.theory import critical_shift as cs
    x1, x2 = cs.x1, cs.x2
    H1 = sp.Matrix([[1, sp.Rational(1, 2)], [sp.Rational(1, 2), 1]])
    f1 = (sp.Matrix([x1, x2]).T * H1 * sp.Matrix([x1, x2]))[0] / 2
    D1 = sp.eye(2) + sp.tanh(x1) / 2 * sp.diag(0, 1)
    return np.array(cs.first_order_shift(f1, D1, (x1, x2)).v, dtype=float).reshape(2)


_reference("ch08-ex1")(_ch08_ex1_ref)


@_register("ch08-ex1", "critical_shift_ex1", "v_ex1, the first-order shift v of the mode (2 numbers, mode ≈ β⁻¹ v)")
def _ch08_ex1(answer):
    v = _array(answer, (2,), "the shift v = (v₁, v₂)")
    ref = _ch08_ex1_ref()
    return _numeric_verdict(v, ref, 0.0, 0.02 * np.abs(ref).max(), [
        (np.zeros(2), "v = 0 is the prediction of ∇·D alone; here ∇·D = 0 but the divergence of Q₀ moves the mode"),
        (-ref, "the sign is reversed: the mode moves towards the low-noise side x₁ < 0"),
        (ref[::-1], "the components are swapped"),
    ], "v (tolerance 2 % of |v|, so a Fokker–Planck mode / β⁻¹ on a fine grid also passes)")


@functools.lru_cache(maxsize=1)
def _ch08_ex3_ref():
    eta, eps, d0, d1, V, K = sp.symbols("eta epsilon d_0 d_1 V K", positive=True)
    m = 1 - eta
    solV = sp.solve(sp.Eq(V, m**2 * V + eps * eta * d0), V)[0]
    solK = sp.solve(sp.Eq(K, m**3 * K + 3 * m * eps * eta * d1 * solV), K)[0]
    mode = sp.simplify(-solK / (2 * solV))
    factor = sp.simplify(mode / (-eps * d1 / 2))
    return {"eta": eta, "epsilon": eps, "d_1": d1, "d_0": d0}, factor, mode


_reference("ch08-ex3")(lambda: _ch08_ex3_ref()[1])


@_register("ch08-ex3", "critical_shift_ex3",
           "factor, the SymPy expression in eta with mode = −(ε d₁/2)·factor (dimensionless)")
def _ch08_ex3(answer):
    syms, factor, mode = _ch08_ex3_ref()
    if isinstance(answer, (int, float, np.floating)) and answer != 1:
        raise _Invalid(f"got the number {answer}; the exercise asks for a function of eta")
    expr = _symbolic(answer, syms, "the factor as a function of eta")
    eta = syms["eta"]
    return _symbolic_verdict(expr, factor, [
        (sp.Integer(1), "1 is the SDE value (the limit η → 0); keep the discrete-time terms in η"),
        (mode, "that is the whole first-order mode; the factor is the mode divided by −ε d₁/2"),
        (sp.simplify(factor / (1 - eta)), "the factor m = 1 − η from the cross term 3m ε η d₁ V is missing"),
    ], "the discrete-time factor")


# ------------------------------------------------------------------------------------------------
# chapter 9: critical points, periods, circulation

def _n_critical_points_ref(lam, n_starts=9):
    from vdlib.theory import potentials as pot
    from vdlib.theory import vector_fields as vf
    return len(vf.critical_points(lambda X, Y: pot.example19_drift(X, Y, lam), ((-2, 2), (-2, 2)),
                                  jacobian=lambda x, y: pot.example19_jacobian(x, y, lam), n_starts=n_starts))


_reference("ch09-ex1")(lambda: _n_critical_points_ref)
_CH09_LAMS = (0.5, 0.775, 1.5)  # λ_c = e^(−1/4) = 0.7788 lies between the second and third


@_register("ch09-ex1", "limit_cycles_ex1", "your function n_critical_points(lam), returning an int")
def _ch09_ex1(fn):
    got = []
    for lam in _CH09_LAMS:
        out = _call(fn, "the number of critical points, an int", lam)
        if isinstance(out, (bool, str)) or not float(out).is_integer():
            raise _Invalid(f"expected an int, got {out!r}")
        got.append(int(out))
    want = [_n_critical_points_ref(lam) for lam in _CH09_LAMS]
    if got == want:
        return f"counts {dict(zip(_CH09_LAMS, got))} (exact)"
    if got[1] < want[1] and got[0] == want[0]:
        raise _Wrong(f"at λ = 0.775 (just below λ_c) you count {got[1]}, not {want[1]}: the saddle at the origin is "
                     "missed; use an odd n_starts so that a start sits at the centre of the box")
    raise _Wrong(f"your counts {dict(zip(_CH09_LAMS, got))} differ from {dict(zip(_CH09_LAMS, want))}")


@functools.lru_cache(maxsize=1)
def _ch09_ex2_ref():
    c = sp.Symbol("c", positive=True)
    A = sp.pi * sp.sqrt(2 * c) ** 2
    return c, sp.diff(A, c) / (1 + c), A


_reference("ch09-ex2")(lambda: sp.lambdify(_ch09_ex2_ref()[0], _ch09_ex2_ref()[1], "math"))
_CH09_LEVELS = (0.1, 0.5, 2.0)


@_register("ch09-ex2", "limit_cycles_ex2", "your function period_formula(c), returning the period T(c) (a float)")
def _ch09_ex2(fn):
    c, T, A = _ch09_ex2_ref()
    got = np.array([_float(_call(fn, "the period, a float", lev), "the period") for lev in _CH09_LEVELS])
    f = {k: sp.lambdify(c, e, "numpy") for k, e in (("T", T), ("A", A / (1 + c)), ("noG", sp.diff(A, c)),
                                                     ("mul", sp.diff(A, c) * (1 + c)))}
    at = {k: np.array([float(fn_(lev)) for lev in _CH09_LEVELS]) for k, fn_ in f.items()}
    return _numeric_verdict(got, at["T"], 1e-8, 0.0, [
        (at["noG"], "the speed g(Φ) = 1 + Φ is missing: T(c) = A'(c)/g(c)"),
        (at["A"], "use the derivative A'(c) of the enclosed area, not A(c)"),
        (at["mul"], "divide by g(c): faster rotation means a shorter period"),
    ], "T(c) at c = " + ", ".join(map(str, _CH09_LEVELS)))


def _circulation_ref(lam, beta, beta_in_z=True):
    from scipy.integrate import quad
    bz = beta if beta_in_z else 1.0
    zx = quad(lambda s: np.exp(-bz * (s * s - 1) ** 2 / 4), -np.inf, np.inf)[0]
    return 2 * np.pi * lam / (np.sqrt(2 * np.pi / bz) * zx)


_reference("ch09-ex3")(lambda: _circulation_ref)
_CH09_CASES = ((1.5, 1.0), (1.0, 0.5), (2.0, 2.0))


@_register("ch09-ex3", "limit_cycles_ex3", "your function circulation(lam, beta), returning ⟨L⟩ (a float)")
def _ch09_ex3(fn):
    from vdlib.theory import potentials as pot
    got = np.array([_float(_call(fn, "the angular momentum, a float", *c), "⟨L⟩") for c in _CH09_CASES])
    want = np.array([_circulation_ref(*c) for c in _CH09_CASES])
    if abs(want[0] - pot.example19_angular_momentum(1.5)) > 1e-9:  # the β = 1 case is Example 19's
        raise RuntimeError("reference circulation disagrees with example19_angular_momentum")
    return _numeric_verdict(got, want, 1e-6, 0.0, [
        (np.array([_circulation_ref(*c, beta_in_z=False) for c in _CH09_CASES]),
         "Z must be Z_β = ∫ e^(−βΦ): at β ≠ 1 you used the β = 1 normaliser"),
        (want / (2 * np.pi), "the integral ∫ λ r² e^(−r⁴/4) dx = 2πλ: a factor 2π is missing"),
    ], "⟨L⟩ at (λ, β) = " + ", ".join(map(str, _CH09_CASES)))


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



from . import exercises_part5  # noqa: E402,F401  (registers the checks of chapters 13, 14 and 16 on import)
REFERENCES.update(exercises_part5.REFERENCES)

# the warm-up concept checks and the checks of derivation exercises, registered on import
from . import exercises_ch00_01, exercises_ch02_03, exercises_ch04_05, exercises_ch06_07  # noqa: E402
from . import exercises_ch08_12, exercises_ch13_15, exercises_ch16_17  # noqa: E402

CHECK_MODULES = (exercises_part5, exercises_ch00_01, exercises_ch02_03, exercises_ch04_05, exercises_ch06_07,
                 exercises_ch08_12, exercises_ch13_15, exercises_ch16_17)
for _module in CHECK_MODULES:
    REFERENCES.update(getattr(_module, "REFERENCES", {}))
