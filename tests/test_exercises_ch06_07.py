"""The exercise checks of chapters 6 and 7 (vdlib.book.exercises.ch06_07): the chapters' own solutions pass,
typical mistakes get their hint, placeholders are "not attempted", wrong types are "invalid" with what was
expected, and the references are computed (they follow their inputs)."""
import numpy as np
import pytest
import sympy as sp

from helpers.exercise_cases import standard_exercise_tests
from vdlib.book.exercises import REFERENCES
from vdlib.book.exercises import ch06_07 as M
from vdlib.book.exercises import check

# ------------------------------------------------------------------------------------------------
# the chapters' solutions, as their solution cells compute them


def _ch06_w2_solution():
    from vdlib.theory import transport as tr
    return tr.w2_gaussian_1d(1.0, 0.5, 1.0, 2.0)


def _ch06_ex2_solution():
    from vdlib.theory import transport as tr
    return tr.gaussian_jko_step_symbolic().s_new


def _s0_tau_beta():
    return sp.symbols("s_0 tau beta", positive=True)


def _ch06_ex2_unit_coefficient():
    s0, tau, beta = _s0_tau_beta()
    return (s0 + sp.sqrt(s0**2 + 4 * tau / beta)) / 2  # the root of s² − s₀s − τ/β: (1 + τ) forgotten


def _ch06_ex3_solution():
    x1 = sp.Symbol("x_1", real=True)
    f_e6 = x1**2 / 2
    return f_e6 / 3


def _ch07_w1_solution():
    from vdlib.theory import linear
    return linear.solve_lyapunov(np.diag([1.0, 4.0]), 2 * np.eye(2) / 2.0)[1, 1]


def _ch07_w3_solution():
    from vdlib.theory import linear
    c, s = np.cos(np.pi / 6), np.sin(np.pi / 6)
    R = np.array([[c, -s], [s, c]])
    D = R @ np.diag([1.0, 0.1]) @ R.T
    H = np.diag([1.0, 4.0])
    return linear.sgd_area_rate(H, D, 0.2, 8) / linear.sgd_area_rate(H, D, 0.1, 4)


def _ch07_ex2_solution(sign=1):
    theta = sp.Symbol("theta", real=True)
    h1, h2 = sp.symbols("h_1 h_2", positive=True)
    beta = sp.Symbol("beta", positive=True)
    v, H = sp.Matrix([sp.cos(theta), sp.sin(theta)]), sp.diag(h1, h2)
    comm = (H * v * v.T - v * v.T * H)[0, 1]
    return sp.simplify(2 * sign * comm / (beta * H.trace()))


def _q_from_drift(H, D):
    from vdlib.theory import linear
    return linear.solve_lyapunov(H, H @ D - D @ H.T)


def _q_wrong_rhs(H, D):
    from vdlib.theory import linear
    return linear.solve_lyapunov(H, H @ D - D @ H)


def _ch07_ex4_solution(per_step=True):
    eta, b, kappa, beta = sp.symbols("eta b kappa beta", positive=True)
    area = 2 * kappa / beta
    return sp.simplify(((eta if per_step else 1) * area).subs(beta, 2 * b / eta))


CASES = {
    "ch06-w1": (lambda: "b", lambda: "a", "zero gradient", 2, "a letter among"),
    "ch06-w2": (_ch06_w2_solution, lambda: _ch06_w2_solution() ** 2, "W₂²", "1.5", "float"),
    "ch06-w3": (lambda: "a", lambda: "c", "E11", "ab", "one letter"),
    "ch06-ex2": (_ch06_ex2_solution, _ch06_ex2_unit_coefficient, "(1 + τ)", 0.3, "formula"),
    "ch06-ex3": (_ch06_ex3_solution, lambda: 3 * sp.Symbol("x_1") ** 2 / 2, "inverted", "x_1**2/6",
                 "SymPy expression"),
    "ch07-w1": (_ch07_w1_solution, lambda: 2 * _ch07_w1_solution(), "factor of 2", np.eye(2), "float"),
    "ch07-w2": (lambda: "b", lambda: "c", "commute", ["b", 3], "a letter among"),
    "ch07-w3": (_ch07_w3_solution, lambda: 2.0, "per-step", "one", "float"),
    "ch07-ex2": (_ch07_ex2_solution, lambda: _ch07_ex2_solution(-1), "sign", sp.Symbol("phi"), "symbols"),
    "ch07-ex3": (lambda: _q_from_drift, lambda: _q_wrong_rhs, "HD − DHᵀ", np.zeros((3, 3)), "function"),
    "ch07-ex4": (_ch07_ex4_solution, lambda: _ch07_ex4_solution(per_step=False), "per unit time", 0.01, "formula"),
}

globals().update(standard_exercise_tests(CASES))


MORE_MISTAKES = [
    ("ch06-w1", "d", "metric"),
    ("ch06-w2", 2.5, "cross term"),
    ("ch06-w2", 3.75, "variances"),
    ("ch06-w3", "b", "E6"),
    ("ch06-ex2", lambda: _ch06_ex2_solution().subs(sp.Symbol("beta", positive=True), 1), "β⁻¹ is missing"),
    ("ch06-ex2", lambda: (lambda s0, tau, beta: s0 + tau * (1 / (beta * s0) - s0))(*_s0_tau_beta()), "explicit Euler"),
    ("ch06-ex3", lambda: sp.Symbol("x_1") ** 2 / 2, "eigenvector"),
    ("ch06-ex3", lambda: sp.exp(-sp.Symbol("beta") * sp.Symbol("x_1") ** 2 / 6), "density"),
    ("ch07-w1", 0.5, "Σ₁₁"),
    ("ch07-w2", "a", "E11"),
    ("ch07-w3", 0.5, "only η/b"),
    ("ch07-ex2", lambda: _ch07_ex2_solution() / 2, "factor of 2"),
    ("ch07-ex2", lambda: _ch07_ex2_solution() * (sp.Symbol("h_1") + sp.Symbol("h_2")), "tr H"),
    ("ch07-ex3", lambda: (lambda H, D: -_q_from_drift(H, D)), "sign"),
    ("ch07-ex4", lambda: _ch07_ex4_solution() / 2, "2/β = η/b"),
]


@pytest.mark.parametrize("ex_id, wrong, hint", MORE_MISTAKES)
def test_more_typical_mistakes_get_their_hint(ex_id, wrong, hint):
    result = check(ex_id, wrong() if callable(wrong) else wrong, quiet=True)
    assert result.status == "incorrect", result.message
    assert hint in result.message, result.message


def test_the_negative_root_of_the_jko_quadratic_is_named():
    s0, tau, beta = _s0_tau_beta()
    negative = (s0 - sp.sqrt(s0**2 + 4 * tau * (1 + tau) / beta)) / (2 * (1 + tau))
    result = check("ch06-ex2", negative, quiet=True)
    assert result.status == "incorrect" and "negative root" in result.message, result.message


def test_a_constant_shift_of_phi_is_accepted_and_a_stub_function_is_not_attempted():
    assert check("ch06-ex3", _ch06_ex3_solution() + 7, quiet=True).status == "correct"
    assert check("ch07-ex3", lambda H, D: None, quiet=True).status == "not attempted"


def test_the_references_are_computed_not_typed():
    # change an input: the reference follows
    assert M._ch06_w2_ref(0.0, 1.0, 3.0, 5.0) == pytest.approx(5.0)
    x1 = sp.Symbol("x_1", real=True)
    assert sp.simplify(M._ch06_ex3_ref(5, 1)[1] - x1**2 / 10) == 0
    assert sp.simplify(M._ch06_ex3_ref(1, 3)[1] - x1**2 / 2) == 0  # D = diag(1, a): Φ = f (erratum E6)
    assert M._ch07_w1_ref((1.0, 4.0), 1.0) == pytest.approx(0.25)
    assert M._ch07_w1_ref((2.0, 5.0), 2.0) == pytest.approx(0.1)
    assert M._ch07_w3_ref(0.05, 3) == pytest.approx(1.0)
    # the JKO step: s′ solves (1 + τ)s′² − s₀s′ − τ/β = 0 and is positive
    gj = M._ch06_ex2_ref()
    s_new = gj.s_new.subs({gj.s0: 0.3, gj.tau: 0.2, gj.beta: 2})
    assert float((1.2 * s_new**2 - 0.3 * s_new - 0.1)) == pytest.approx(0.0, abs=1e-12) and float(s_new) > 0
    # A(θ) at 45° for H = diag(1, 4), β = 2 matches vdlib.theory.linear.area_rate_theory
    from vdlib.theory import linear
    syms, area = M._ch07_ex2_ref()
    v = np.array([np.cos(np.pi / 4), np.sin(np.pi / 4)])
    num = linear.area_rate_theory(np.diag([1.0, 4.0]), np.outer(v, v), 2.0)
    assert float(area.subs({syms["theta"]: sp.pi / 4, syms["h_1"]: 1, syms["h_2"]: 4, syms["beta"]: 2})) == pytest.approx(num)
    assert set(REFERENCES) >= {"ch06-w2", "ch06-ex2", "ch06-ex3", "ch07-w1", "ch07-ex2", "ch07-ex3", "ch07-ex4", "ch07-w3"}


def test_the_area_per_step_is_the_rate_times_the_step():
    syms, per_step, per_time = M._ch07_ex4_ref()
    assert sp.simplify(per_step - syms["eta"] * per_time) == 0
    assert sp.simplify(per_time - syms["eta"] * syms["kappa"] / syms["b"]) == 0
