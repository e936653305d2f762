"""The checks of vdlib.book.exercises.ch13_15 (warm-ups and derivation exercises of chapters 13–15): the
chapters' own solutions pass, a typical mistake gets its hint, placeholders are "not attempted", wrong types
are "invalid" with what was expected, and the references are computed (change an input, they follow)."""
import math
import time

import numpy as np
import pytest
import scipy.integrate
import scipy.linalg
import sympy as sp

from helpers.exercise_cases import standard_exercise_tests
from vdlib.book.exercises import ch13_15 as M
from vdlib.book.exercises import REGISTRY, check

# ------------------------------------------------------------------------------------------------
# the chapters' solutions, as their solution cells compute them


def _ch13_w1():
    b, alpha = sp.symbols("b alpha", positive=True)
    return b ** (1 / alpha) / b


def _ch13_w3():
    from vdlib.theory import levy
    return levy.levy_exit_time(2.0, 0.1, 1.5) / levy.levy_exit_time(1.0, 0.1, 1.5)


def _ch13_ex1():
    K1, mu, m = sp.symbols("K1 mu m", positive=True)
    return float(1 / sp.limit((sp.log(K1 * mu) - m) / sp.log(K1), K1, sp.oo))


def _ch13_ex3():
    kappa, delta, K1, b, eps = sp.symbols("kappa delta K1 b epsilon", positive=True)
    alpha_b = sp.series(1 / (sp.Rational(1, 2) + eps), eps, 0, 2).removeO().subs(eps, kappa / (12 * b * sp.log(K1)))
    return sp.solve(sp.Eq(alpha_b, 2 - delta), b)[0]


def _ch14_w1():
    from vdlib.theory import discrete_sgd as ds
    return (ds.additive_covariance([[1.0]], [[1.0]], 1.5)[0, 0]
            / ds.additive_covariance([[1.0]], [[1.0]], 1.5, model="sde")[0, 0])


def _ch14_w2():
    from vdlib.theory import discrete_sgd as ds
    L = ds.label_noise_symbolic()
    a = sp.Symbol("a", positive=True)
    return sp.simplify(sp.solve(sp.denom(sp.together(L.var_1d_sde)), ds.lam)[0] * a)


def _ch15_w1():
    from vdlib.theory import nonreversible as nr
    A = np.diag([1.0, 10.0])
    return nr.spectral_gap(A, nr.optimal_nonreversible_J(A))


def _ch15_w2():
    from vdlib.theory import nonreversible as nr
    _, closed, vs = nr.linear_variance_2d_symbolic()
    s = sp.Symbol("s", real=True)
    return sp.simplify((closed / closed.subs(vs["j"], 0)).subs(vs["j"], s))


def _ch15_ex1(sign=1):
    a11, a12, a13, a22, a23, a33, j1, j2, j3 = sp.symbols("a11 a12 a13 a22 a23 a33 j1 j2 j3", real=True)
    A3 = sp.Matrix([[a11, a12, a13], [a12, a22, a23], [a13, a23, a33]])
    J3 = sp.Matrix([[0, j1, j2], [-j1, 0, j3], [-j2, -j3, 0]])
    B3 = (sp.eye(3) + sign * J3) * A3
    return sp.simplify(B3 * A3.inv())


J0 = np.array([[0.0, 1.0], [-1.0, 0.0]])


def _ch15_ex2():
    from vdlib.theory import nonreversible as nr
    A_ex = np.diag([1.0, 4.0])
    lam = np.linalg.eigvalsh(A_ex)
    return nr.spectral_gap(A_ex, 0.5 * J0), (lam[1] - lam[0]) / (2 * np.sqrt(lam.prod()))


def _ch15_ex3():
    v, x, t = sp.symbols("v x t", real=True)
    cov = sp.integrate(sp.cos(x) * sp.exp(-t) * sp.cos(x + v * t), (x, 0, 2 * sp.pi)) / (2 * sp.pi)
    return sp.simplify(2 * sp.integrate(sp.simplify(cov), (t, 0, sp.oo), conds="none"))


def _first_order_bias(A, J, h, transpose=False):
    from vdlib.theory import nonreversible as nr
    Ainv = np.linalg.inv(A)
    B = nr.drift_matrix(A, J)
    X = scipy.linalg.solve_continuous_lyapunov(B.T if transpose else B, B @ Ainv @ B.T)
    return float(np.linalg.norm(h * X) / np.linalg.norm(Ainv))


_b, _s, _v = sp.Symbol("b"), sp.Symbol("s"), sp.Symbol("v")
_kappa, _delta, _K1 = sp.symbols("kappa delta K_1")

# id: (the solution, a typical mistake, a phrase of its hint, a wrong type, what the message names as expected)
CASES = {
    "ch13-w1": (_ch13_w1, lambda: _ch13_w1() * sp.Symbol("b"), "scale of the sum", "b**(1/alpha - 1)",
                "a SymPy expression"),
    "ch13-w2": (lambda: "b", lambda: "a", "1/log n", 2, "a letter among"),
    "ch13-w3": (_ch13_w3, lambda: 4.0, "Kramers", "2.83", "expected a float"),
    "ch13-ex1": (_ch13_ex1, lambda: 2.0, "not a rescaling", [1.0, 2.0], "expected a float"),
    "ch13-ex3": (_ch13_ex3, lambda: _kappa / (12 * _delta * sp.log(_K1)), "2 − 4ε", "kappa / (3 delta log K1)",
                 "a SymPy expression"),
    "ch14-w1": (_ch14_w1, lambda: 1.75, "only the first order", np.eye(2), "expected a float"),
    "ch14-w2": (_ch14_w2, lambda: 2 * _b / (_b + 2), "SGD's threshold", sp.Symbol("eta") * _b, "the exercise's are"),
    "ch14-w3": (lambda: "c", lambda: "b", "leaves invariant", "e", "a letter among"),
    "ch15-w1": (_ch15_w1, lambda: 10.0, "average to Tr(A)/d", "5.5", "expected a float"),
    "ch15-w2": (_ch15_w2, lambda: 1 / (1 + _s), "J² = −s²I", lambda s: 1 / (1 + s**2), "a SymPy expression"),
    "ch15-w3": (lambda: "a", lambda: "c", "every s costs the same", ["a", "b"], "expected one letter"),
    "ch15-ex1": (_ch15_ex1, lambda: _ch15_ex1(sign=-1), "A⁻¹Bᵀ", sp.eye(2), "expected a 3×3 matrix"),
    "ch15-ex2": (_ch15_ex2, lambda: (5.0 - _ch15_ex2()[0], 0.75), "larger real part", 1.38, "shape (2,)"),
    "ch15-ex3": (_ch15_ex3, lambda: 2 / (1 + _v**2), "Var(cos X) = 1/2", "1/(1+v**2)", "a SymPy expression"),
    "ch15-ex4": (lambda: _first_order_bias, lambda: (lambda A, J, h: _first_order_bias(A, J, h, transpose=True)),
                 "solved it with Bᵀ", np.eye(2), "expected a function"),
}

globals().update(standard_exercise_tests(CASES))


def test_every_registered_id_of_the_module_has_a_case():
    assert set(CASES) <= {i for i, ex in REGISTRY.items() if ex.checker.__module__ == M.__name__}


@pytest.mark.parametrize("ex_id", sorted(CASES))
def test_a_check_is_cheap(ex_id):
    check(ex_id, CASES[ex_id][0](), quiet=True)  # warm any cache
    t0 = time.perf_counter()
    check(ex_id, CASES[ex_id][1](), quiet=True)
    assert time.perf_counter() - t0 < 2.0


def test_more_typical_mistakes_get_their_hints():
    from vdlib.theory import nonreversible as nr
    kappa, delta, K1 = sp.symbols("kappa delta K1")
    assert "log n = 2 log K₁" in check("ch13-ex3", kappa / (6 * delta * sp.log(K1)), quiet=True).message
    assert "finite-n estimate" in check("ch13-ex1", 1.07, quiet=True).message
    assert "the exercise's are" in check("ch13-ex3", sp.Symbol("n"), quiet=True).message
    assert "j*²" in check("ch15-ex2", (_ch15_ex2()[0], 0.5625), quiet=True).message
    assert "exact bias" in check("ch15-ex4", nr.covariance_bias, quiet=True).message
    assert "multiply X by h" in check("ch15-ex4", lambda A, J, h: _first_order_bias(A, J, h) / h, quiet=True).message
    assert "J does not cancel" in check("ch15-ex1", sp.eye(3), quiet=True).message


def test_a_symbolic_answer_with_other_assumptions_is_matched_by_name():
    b = sp.Symbol("b", integer=True, positive=True)
    alpha = sp.Symbol("alpha")
    assert check("ch13-w1", b ** (1 / alpha - 1), quiet=True).status == "correct"
    assert check("ch15-w2", 1 / (1 + sp.Symbol("s", positive=True) ** 2), quiet=True).status == "correct"


# ------------------------------------------------------------------------------------------------
# the references are computed: change an input, and the reference follows


def test_the_chapter_13_references_follow_their_inputs():
    from vdlib.analysis import tails
    syms, ref = M._ch13_w1_ref()
    assert sp.simplify(ref.subs(syms["alpha"], 2) - 1 / sp.sqrt(syms["b"])) == 0  # the Gaussian CLT at α = 2
    assert M._ch13_w3_ref(alpha=1.2, factor=3.0) == pytest.approx(3.0**1.2)
    assert M._ch13_ex1_ref(drift_growth=sp.Rational(1, 2)) == pytest.approx(2.0)  # noise-like growth gives α̂ = 2
    syms, b_star = M._ch13_ex3_ref()
    for kappa, k1, delta in ((30.0, 100, 0.1), (200.0, 1000, 0.05)):
        value = float(b_star.subs({syms["kappa"]: kappa, syms["K1"]: k1, syms["delta"]: delta}))
        assert value == pytest.approx(tails.clt_crossover_batch(kappa, k1, tolerance=delta), rel=1e-12)


def test_the_chapter_14_references_follow_their_inputs():
    from vdlib.theory import discrete_sgd as ds
    for eta_h in (0.5, 1.0, 1.9):
        assert M._ch14_w1_ref(eta_h) == pytest.approx(1 / (1 - eta_h / 2))
    for model in ("sde", "sgd"):
        syms, threshold = M._ch14_w2_ref(model)
        for b in (1, 2, 8):
            limit = ds.label_noise_stability_limit(np.diag([1.0]), b, model=model)
            assert float(threshold.subs(syms["b"], b)) == pytest.approx(limit, rel=1e-6)


def test_the_chapter_15_references_follow_their_inputs():
    from vdlib.theory import nonreversible as nr
    assert M._ch15_w1_ref((2.0, 3.0, 7.0)) == pytest.approx(4.0, rel=1e-8)
    gap, j_star = M._ch15_ex2_ref((1.0, 9.0), 2.0)
    assert j_star == pytest.approx(4 / 3) and gap == pytest.approx(5.0)  # j = 2 ≥ j*: the optimum Tr(A)/2
    syms, var = M._ch15_ex3_ref()
    for v in (0.0, 3.0):
        num = scipy.integrate.quad(lambda t: math.exp(-t) * math.cos(v * t), 0, np.inf, limit=200)[0]
        assert float(var.subs(syms["v"], v)) == pytest.approx(num, rel=1e-8)
    # the first-order bias is the exact Euler bias to leading order in h
    A = M._ch15_running_A()
    for s in (0.0, 2.0):
        first = M._ch15_ex4_ref()(A, s * J0, 1e-4)
        assert first == pytest.approx(nr.covariance_bias(A, s * J0, 1e-4), rel=0.02)
