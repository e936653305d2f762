"""The exercise checks of chapters 0 and 1 (vdlib.book.exercises.ch00_01): the chapters' solutions pass, typical
mistakes get their hint, placeholders are "not attempted", wrong types are "invalid" with what was expected, and
the references are computed (change an input, and the reference follows)."""
import numpy as np
import pytest
import sympy as sp

from helpers.exercise_cases import standard_exercise_tests
from vdlib.book import exercises as E
from vdlib.book.exercises import ch00_01 as M
from vdlib.book.exercises import check

# ------------------------------------------------------------------------------------------------
# the chapters' solutions, as their solution cells compute them

x = sp.Symbol("x", real=True)
theta, beta = sp.Symbol("theta", positive=True), sp.Symbol("beta", positive=True)
t_ = sp.Symbol("t", nonnegative=True)
s_ = sp.Symbol("s", positive=True)
x0s = sp.Symbol("x_0", real=True)


def _ch00_w2():
    from vdlib.theory import toolkit as tk
    rate, _ = tk.ito_differential(sp.log(x), [0.1 * x], [[0.6 * x]], [x])
    return float(rate) * 2.0


def _ch00_w3():
    from vdlib.theory import symbolic as sym
    return sym.generator(x**3, [-theta * x], 1, beta, [x])


def _ch00_ex1():
    W_T, T = sp.Symbol("W_T", real=True), sp.Symbol("T", positive=True)
    return (W_T**2 - T) / 2 + T


def _ch00_ex2():
    from vdlib.theory import toolkit as tk
    w = sp.Symbol("W_t", real=True)
    dt_E, _ = tk.ito_differential(sp.exp(s_ * w), [1, 0], [[0], [1]], [t_, w])
    return dt_E


def _ch00_ex3():
    v_t = (1 - sp.exp(-2 * theta * t_)) / (beta * theta)
    return (x0s * sp.exp(-theta * t_))**2 + (sp.sqrt(v_t) - 1 / sp.sqrt(beta * theta))**2


def _ch01_w2():
    from vdlib.theory import symbolic as sym
    return float(sym.minibatch_factor(replacement=False).subs({sym.N_SYM: 20, sym.B_SYM: 10}))


def _ch01_w3():
    from vdlib.theory import symbolic as sym
    s, sigma, e = sp.symbols("s sigma e", real=True)
    return sym.gaussian_design_diffusion_formula(sp.Matrix([[s**2]]), sp.Matrix([e]), sigma**2)[0, 0]


def _rank_bound(N, d):
    return min(d, N - 1)


def _ch01_ex2():
    from vdlib.theory import symbolic as sym
    q = sym.B_SYM / sym.N_SYM
    return sym.covariance_coefficients(sym.CountMoments("Poisson", sym.N_SYM, sym.B_SYM, mean=q, second=q, cross=q**2))


def _trace_D(Sigma_a, e, sigma2):
    Sigma_a, e = np.asarray(Sigma_a, dtype=float), np.asarray(e, dtype=float)
    return (sigma2 + e @ Sigma_a @ e) * np.trace(Sigma_a) + e @ Sigma_a @ Sigma_a @ e


# plain symbols, as a reader types them (renamed to the exercise's by name)
W, T, s, sigma, e, N, b = sp.symbols("W_T T s sigma e N b")
Wt, X0, th, be, tt = sp.symbols("W_t x_0 theta beta t")

# id: (the solution, a typical mistake, a phrase of its hint, a wrong type, what the message names as expected)
CASES = {
    "ch00-w1": (lambda: "a", lambda: "c", "spread shrinks", 3, "letter"),
    "ch00-w2": (_ch00_w2, lambda: 0.1 * 2, "ordinary calculus", "-0.16", "float"),
    "ch00-w3": (_ch00_w3, lambda: -3 * th * sp.Symbol("x")**3, "chain rule", "x**3", "SymPy expression"),
    "ch00-ex1": (_ch00_ex1, lambda: (W**2 - T) / 2, "Itô (left-point)", "(W_T**2 + T)/2", "SymPy expression"),
    "ch00-ex2": (_ch00_ex2, lambda: s**2 * sp.exp(s * Wt), "factor of 2", lambda w: w, "SymPy expression"),
    "ch00-ex3": (_ch00_ex3, lambda: X0**2 * sp.exp(-2 * th * tt), "variances differ", sp.Symbol("rho_t"), "W_2(ρ_t, ρ_∞)²"),
    "ch01-w1": (lambda: "d", lambda: "c", "raw second moment", ["d", 4], "letter"),
    "ch01-w2": (_ch01_w2, lambda: 0.5, "N/(N − 1)", [0.5, 0.5], "float"),
    "ch01-w3": (_ch01_w3, lambda: sigma**2 * s**2 + 3 * s**4 * e**2, "E[g]²", sp.Symbol("D") * e, "s, sigma and e"),
    "ch01-ex1": (lambda: _rank_bound, lambda: (lambda N, d: min(d, N)), "centring", 3, "function"),
    "ch01-ex2": (_ch01_ex2, lambda: ((1 - b / N) / b, -(1 - b / N) / b), "batch size is random", (1 / b,), "pair (A, B)"),
    "ch01-ex4": (lambda: _trace_D, lambda: (lambda S, v, s2: _trace_D(S, v, s2) + v @ S @ S @ v), "tr E[g gᵀ]",
                 np.eye(2), "function"),
}

globals().update(standard_exercise_tests(CASES))


def test_every_case_is_registered_by_this_module():
    mine = {i for i, ex in E.REGISTRY.items() if ex.checker.__module__ == M.__name__}
    assert set(CASES) <= mine  # ch01-ex3, also registered here, has its case in test_exercises.py
    # the multiple-choice checks have no computed value
    assert {i for i in E.REFERENCES if i in CASES} == set(CASES) - {"ch00-w1", "ch01-w1"}


@pytest.mark.parametrize("ex_id, mistake, hint", [
    ("ch00-w1", "b", "differentiable path"),
    ("ch00-w1", "d", "quadratic variation stays finite"),
    ("ch00-w2", -0.08, "rate per unit time"),
    ("ch00-w2", (0.1 - 0.36) * 2, "not −s²"),
    ("ch00-w3", -3 * th * x**3 + 12 * x / be, "not σ²φ''"),
    ("ch00-w3", 3 * th * x**3 + 6 * x / be, "sign"),
    ("ch00-ex1", W**2 / 2, "Stratonovich"),
    ("ch00-ex2", 0, "½ f''(W) dt"),
    ("ch00-ex2", s * sp.exp(s * Wt), "dW coefficient"),
    ("ch00-ex3", sp.sqrt(_ch00_ex3()), "its square"),
    ("ch00-ex3", X0**2 * sp.exp(-2 * th * tt) + ((1 - sp.exp(-2 * th * tt)) / (be * th) - 1 / (be * th))**2,
     "standard deviations"),
    ("ch00-ex3", X0**2 * sp.exp(-2 * th * tt) + (sp.sqrt((1 - sp.exp(-2 * th * tt)) / (2 * be * th))
                                                  - sp.sqrt(1 / (2 * be * th)))**2, "1/(βθ)"),
    ("ch01-w1", "a", "b is not in D"),
    ("ch01-w2", 19 / 10, "inverted"),
    ("ch01-w3", sigma**2 * s**2 + s**4 * e**2, "three pairings"),
    ("ch01-ex1", lambda N, d: d, "bounded by N − 1"),
    ("ch01-ex1", lambda N, d: N - 1, "at most d"),
    ("ch01-ex2", ((N - b) / (b * (N - 1)), -(N - b) / (b * (N - 1))), "without replacement"),
    ("ch01-ex2", (1 / b, 0), "q(1 − q)"),
    ("ch01-ex4", lambda S, v, s2: (s2 + v @ S @ v) * np.trace(S), "rank-one term"),
])
def test_more_typical_mistakes_get_their_hints(ex_id, mistake, hint):
    result = check(ex_id, mistake, quiet=True)
    assert result.status == "incorrect" and hint in result.message, result.message


def test_equivalent_forms_and_plain_symbols_are_accepted():
    # the closed form as the solution text writes it, with symbols that carry no assumptions
    w2sq = X0**2 * sp.exp(-2 * th * tt) + (1 - sp.sqrt(1 - sp.exp(-2 * th * tt)))**2 / (be * th)
    assert check("ch00-ex3", w2sq, quiet=True).status == "correct"
    assert check("ch00-ex2", s**2 * sp.exp(s * sp.Symbol("W")) / 2, quiet=True).status == "correct"
    assert check("ch01-ex2", sp.Matrix([(N - b) / (N * b), 0]), quiet=True).status == "correct"
    assert check("ch01-w1", " D ", quiet=True).status == "correct"
    assert check("ch01-w2", 10 / 19 * (1 + 5e-4), quiet=True).status == "correct"  # within the stated 1e-3


def test_a_stub_function_is_not_attempted():
    for ex_id in ("ch01-ex1", "ch01-ex4"):
        assert check(ex_id, lambda *args: None, quiet=True).status == "not attempted"


def test_the_references_are_computed_not_typed():
    from vdlib.theory import toolkit as tk
    # Itô's lemma: E log X_T follows μ, s and T as (μ − s²/2) T
    assert M._ch00_w2_ref(mu=0.3, s=0.2, T=5.0) == pytest.approx((0.3 - 0.02) * 5.0)
    # the generator acts on any φ: L x² = −2θx² + 2/β
    S = M._ch00_w3_symbols()
    assert sp.simplify(M._ch00_w3_ref(S["x"]**2) - (-2 * S["theta"] * S["x"]**2 + 2 / S["beta"])) == 0
    # W_2² at a point equals the numeric Gaussian W_2 of the toolkit
    S3 = M._ch00_ex3_symbols()
    th1, be1, x01, t1 = 1.5, 0.7, -1.2, 0.4
    v1 = (1 - np.exp(-2 * th1 * t1)) / (be1 * th1)
    value = float(M._ch00_ex3_ref().subs({S3["theta"]: th1, S3["beta"]: be1, S3["x_0"]: x01, S3["t"]: t1}))
    assert value == pytest.approx(tk.w2_gaussian([x01 * np.exp(-th1 * t1)], [[v1]], [0.0], [[1 / (be1 * th1)]])**2)
    # the finite-population factor follows N and b; the rank bound follows the shape
    assert M._ch01_w2_ref(N=100, b=1) == pytest.approx(1.0) and M._ch01_w2_ref(N=100, b=100) == pytest.approx(0.0)
    assert [M._ch01_ex1_ref()(N, d) for N, d in ((7, 4), (4, 7), (9, 9))] == [4, 3, 8]
    # tr D follows the closed form D(x) of vdlib.theory.regression
    Sig, v = np.array([[3.0, 1.0], [1.0, 2.0]]), np.array([0.4, -0.7])
    assert M._ch01_ex4_ref()(Sig, v, 0.5) == pytest.approx(_trace_D(Sig, v, 0.5))
    # the Poisson coefficients: A = (1 − b/N)/b, B = 0
    from vdlib.theory import symbolic as sym
    A, B = M._ch01_ex2_ref()
    assert float(A.subs({sym.N_SYM: 50, sym.B_SYM: 10})) == pytest.approx(0.08) and B == 0


def test_each_check_is_cheap():
    import time
    for ex_id, case in CASES.items():
        start = time.perf_counter()
        check(ex_id, case[0](), quiet=True)
        check(ex_id, case[1](), quiet=True)
        assert time.perf_counter() - start < 2.0, ex_id
