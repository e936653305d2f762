"""The exercise checks of chapters 8 to 12 (vdlib.book.exercises.ch08_09 and ch10_12): the chapters' own solutions pass,
typical mistakes get their hint, placeholders are "not attempted", wrong types are "invalid" with what was
expected, and the references are computed (they follow their inputs)."""
import numpy as np
import sympy as sp

from helpers.exercise_cases import standard_exercise_tests
from vdlib.book.exercises import ch08_09 as M
from vdlib.book.exercises import ch10_12 as M10
from vdlib.book.exercises import check

# ------------------------------------------------------------------------------------------------
# the chapters' solutions, as their solution cells compute them


def _ch08_w2_solution(factor=1):
    from vdlib.theory import critical_shift as cs
    xw, hw, d0w, d1w, eta_w, b_w = sp.symbols("x h d_0 d_1 eta b", positive=True)
    v = cs.first_order_shift(hw * xw**2 / 2, sp.Matrix([[d0w + d1w * xw]]), (xw,)).v[0]
    return factor * eta_w / (2 * b_w) * v


def _ch08_ex2_solution():
    from vdlib.theory import critical_shift as cs
    x1, x2 = cs.x1, cs.x2
    Hc = sp.Matrix([[1, sp.Rational(1, 2)], [sp.Rational(1, 2), 2]])
    Dc = sp.Matrix([[3, sp.Rational(-1, 3)], [sp.Rational(-1, 3), sp.Rational(1, 2)]])
    fc = (sp.Matrix([x1, x2]).T * Hc * sp.Matrix([x1, x2]))[0] / 2
    return cs.first_order_shift(fc, Dc, (x1, x2)).U


def _ch08_ex2_detailed_balance():
    Hc = sp.Matrix([[1, sp.Rational(1, 2)], [sp.Rational(1, 2), 2]])
    Dc = sp.Matrix([[3, sp.Rational(-1, 3)], [sp.Rational(-1, 3), sp.Rational(1, 2)]])
    return Dc.inv() * Hc


def _ch09_w2_solution():
    w_1, w_2 = sp.Integer(1), sp.Rational(4, 3)
    return 2 * sp.pi * sp.lcm(1 / w_1, 1 / w_2)


def _ch10_w1_solution():
    import torch

    from vdlib.deep import noise_spectrum as noise
    from vdlib.deep import persample
    ce = torch.nn.CrossEntropyLoss(reduction="none")
    lin = torch.nn.Linear(8, 5)
    gen = torch.Generator().manual_seed(0)
    X, y = torch.randn(200, 8, generator=gen), torch.randint(0, 5, (200,), generator=gen)
    ev = noise.diffusion_spectrum(persample.per_sample_gradients(lin, ce, X, y)).eigenvalues
    return int((ev < 1e-6 * ev.max()).sum())


def _ch11_w2_solution():
    eta_w, g_w, t_w = sp.symbols("eta g t", positive=True)
    theta_w, grad_w = sp.Matrix([t_w, 0]), sp.Matrix([0, g_w])
    step_w = theta_w - eta_w * grad_w
    return sp.expand(step_w.dot(step_w) - theta_w.dot(theta_w))


def _ch12_w1_solution():
    eta_ref, b_ref, eta_new, b_new, epochs_ref = 0.1, 1.0, 0.2, 4.0, 10
    return epochs_ref * (eta_ref / b_ref) / (eta_new / b_new)


def _ch12_w2_solution():
    from vdlib.theory import minibatch_noise as noise
    G8 = np.random.default_rng(0).standard_normal((8, 3))
    tr_without = np.trace(noise.enumerate_minibatch_covariance(G8, 4, replacement=False))
    tr_with = np.trace(noise.enumerate_minibatch_covariance(G8, 4, replacement=True))
    return tr_without / tr_with


eta = sp.Symbol("eta")

CASES = {
    "ch08-w1": (lambda: "b", lambda: "a", "Ao's convention adds", 3, 'expected a letter among "a"'),
    "ch08-w2": (_ch08_w2_solution, lambda: _ch08_w2_solution(2), "a factor of 2", "x*",
                "expected a SymPy expression"),
    "ch08-w3": (lambda: "b", lambda: "c", "its mean is pinned", "bd", "expected one letter"),
    "ch08-ex2": (_ch08_ex2_solution, _ch08_ex2_detailed_balance, "the detailed-balance answer", np.zeros(3),
                 "expected an array of shape (2, 2)"),
    "ch09-w1": (lambda: "b", lambda: "a", "Example 19 violates it", "z", 'expected a letter among "a"'),
    "ch09-w2": (_ch09_w2_solution, lambda: 2 * np.pi, "the (x₁, x₂) plane alone", sp.Symbol("omega"),
                "expected a number"),
    "ch09-w3": (lambda: "b", lambda: "c", "a property of the current", 2.0, 'expected a letter among "a"'),
    "ch10-w1": (_ch10_w1_solution, lambda: 8, "the bias column", "nine", "expected a float"),
    "ch10-w2": (lambda: "b", lambda: "a", "its bound N − 1", ["b", 1], 'expected a letter among "a"'),
    "ch10-w3": (lambda: "b", lambda: "a", "eigenvectors stay put", "e", 'expected a letter among "a"'),
    "ch11-w1": (lambda: "d", lambda: "a", "reversible AR(1)", 4, 'expected a letter among "a"'),
    "ch11-w2": (_ch11_w2_solution, lambda: 0, "Pythagoras", eta**2 * sp.Symbol("norm_g") ** 2,
                "the exercise's are"),
    "ch11-w3": (lambda: "b", lambda: "a", "does not commute with H", "ab", "expected one letter"),
    "ch12-w1": (_ch12_w1_solution, lambda: 40.0, "each step lasts η", [10, 20], "expected a float"),
    "ch12-w2": (_ch12_w2_solution, lambda: 0.5, "misses the factor N/(N − 1)", "4/7", "expected a float"),
    "ch12-w3": (lambda: "abc", lambda: "abcd", "(d) is false", "xyz", 'expected a letter among "a"'),
}

globals().update(standard_exercise_tests(CASES))


# ------------------------------------------------------------------------------------------------
# the references are computed, and they follow their inputs


def test_every_id_of_the_module_has_a_case():
    from vdlib.book.exercises import REGISTRY
    ids = {k for k, ex in REGISTRY.items() if ex.checker.__module__ in (M.__name__, M10.__name__)}
    assert set(CASES) <= ids  # the other checks of chapters 8-12 have their cases in test_exercises.py


def test_select_all_needs_every_true_statement():
    result = check("ch12-w3", "ab", quiet=True)
    assert result.status == "incorrect" and "(c) is true" in result.message


def test_the_softmax_zero_count_follows_h_and_not_k():
    assert [M10._softmax_zero_count(h, K) for h, K in ((3, 4), (3, 7), (6, 3))] == [4, 4, 7]


def test_the_lemma20_reference_comes_from_first_order_shift(monkeypatch):
    from vdlib.theory import critical_shift as cs
    original, U0, x0 = cs.first_order_shift, np.array(_ch08_ex2_solution(), dtype=float), _ch08_w2_solution()

    def doubled(*args, **kwargs):
        out = original(*args, **kwargs)

        class Scaled:
            U, v = 2 * out.U, 2 * out.v
        return Scaled

    monkeypatch.setattr(cs, "first_order_shift", doubled)
    U = M._ch08_ex2_ref.__wrapped__()[0]
    assert np.allclose(U, 2 * U0)
    _, x_star = M._ch08_w2_ref.__wrapped__()
    assert sp.simplify(x_star - 2 * x0) == 0


def test_the_replacement_ratio_is_the_finite_population_factor():
    from vdlib.theory import minibatch_noise as noise
    ratio, b, N = M10._ch12_w2_ref()
    assert abs(ratio - noise.without_replacement_factor(b, N)) < 1e-12
    assert abs(ratio - 4 / 7) < 1e-12


def test_the_return_time_closes_both_planes_and_no_earlier_one_does():
    T = M._ch09_w2_ref()[0]
    omegas = np.array([1.0, 4.0 / 3.0])
    assert np.allclose(np.exp(1j * omegas * T), 1.0)
    grid = np.linspace(0.01, T - 0.01, 20_000)
    assert not np.any(np.all(np.abs(np.exp(1j * np.outer(grid, omegas)) - 1) < 1e-3, axis=1))


def test_the_sde_epochs_follow_eta_and_b():
    assert M10._sde_epochs(10, 0.1, 1.0, 0.1, 2.0) == 20.0
    assert M10._sde_epochs(10, 0.1, 1.0, 0.05, 0.5) == 10.0  # equal η/b: equal SDE time per epoch
