"""The exercise checks of chapters 2 and 3 added in vdlib.book.exercises.ch02_03: the chapters' solutions
pass, a typical mistake gets its hint, placeholders are "not attempted", a wrong type is "invalid" with
what was expected, and the references are computed (change an input and the reference follows)."""
import numpy as np
import sympy as sp
from scipy.optimize import brentq

from helpers.exercise_cases import standard_exercise_tests
from vdlib.book.exercises import ch02_03 as M
from vdlib.book.exercises import check
from vdlib.theory import linear, sgd
from vdlib.theory import potentials as pot
from vdlib.theory import sgd_symbolic as sym
from vdlib.theory import symbolic
from vdlib.theory import vector_calculus as vc
from vdlib.theory.regression import make_linear_regression

x, y = sp.symbols("x y", real=True)
beta = sp.Symbol("beta", positive=True)


# ------------------------------------------------------------------------------------------------
# the chapters' solutions, as their solution cells compute them

def _ch02_ex3_solution():
    s = sp.Symbol("s", positive=True)
    eta, h, D, b = sym.eta, sym.h, sym.D1, sym.b
    var_kick = sp.simplify(sp.integrate(sp.exp(-2 * s * h) * 2 * (eta / (2 * b)) * D, (s, 0, eta)))
    return sp.simplify(var_kick / (1 - sp.exp(-2 * eta * h)))


def _ch02_ex4_solution():
    problem = make_linear_regression(N=2000, seed=0)
    eta_mean = linear.max_stable_learning_rate(problem.hessian())
    out = []
    for bb in (1, 2, 4, 8):
        def excess(e, bb=bb):
            return sgd.second_moment_spectral_radius(problem, e, bb) - 1.0
        hi = 0.999 * eta_mean
        out.append(brentq(excess, 1e-3, hi) if excess(hi) > 0 else float("nan"))
    return np.array(out)


def _ch03_w1_solution():
    h_s, D_s = sp.symbols("h D", positive=True)
    return symbolic.generator(x**2, [-h_s * x], D_s, beta, [x])


def _ch03_ex1_solution():
    modes = []
    for p in (1.0, 0.5, 0.0):
        modes.append(brentq(lambda z: pot.shift_grad(z) + p * pot.shift_dD(z) / 1.0, -2, 2))
    return np.array(modes)


def _ch03_ex3_solution():
    f_ex = x**2 / 2
    rot45 = sp.Matrix([[1, -1], [1, 1]]) / sp.sqrt(2)
    Dm = rot45 * sp.diag(1, 2) * rot45.T
    rho = sp.exp(-beta * f_ex)
    return sp.simplify(symbolic.probability_current(rho, -vc.gradient(f_ex, [x, y]), Dm, beta, [x, y]) / rho)


h_, D_, eta_, b_ = sym.h, sym.D1, sym.eta, sym.b

CASES = {
    "ch02-w1": (lambda: linear.temperature(0.05, 20, replacement=False, N=40)
                / linear.temperature(0.05, 10, replacement=False, N=40),
                lambda: 0.5, "with replacement", "a third", "expected a float"),
    "ch02-w2": (lambda: sym.one_dimensional().eta_max, lambda: 1 / h_, "lands exactly on the minimum",
                "2/h", "expected a SymPy expression"),
    "ch02-w3": (lambda: "b", lambda: "a", "linear-scaling rule", 2, "expected a letter"),
    "ch02-ex2": (lambda: sym.heavy_ball().Sxx, lambda: sym.heavy_ball().leading, "leading order",
                 "S_xx", "expected a SymPy expression"),
    "ch02-ex3": (_ch02_ex3_solution, lambda: sym.one_dimensional().discrete, "Euler–Maruyama",
                 sp.Matrix([1, 2]), "expected the 1-D variance"),
    "ch02-ex4": (_ch02_ex4_solution, lambda: _ch02_ex4_solution()[::-1], "order is reversed",
                 [0.2, 0.3], "expected an array of shape (4,)"),
    "ch03-w1": (_ch03_w1_solution, lambda: -2 * sp.Symbol("h") * x**2, "Itô term",
                "-2*h*x**2", "expected a SymPy expression"),
    "ch03-w2": (lambda: "b", lambda: "c", "LESS mass", "bc", "expected one letter"),
    "ch03-w3": (lambda: "ac", lambda: "acd", "confuses ∇·J = 0 with J = 0", ["a", "z"], "expected a letter"),
    "ch03-ex1": (_ch03_ex1_solution, lambda: -_ch03_ex1_solution(), "wrong side", 0.42,
                 "expected an array of shape (3,)"),
    "ch03-ex3": (_ch03_ex3_solution, lambda: -_ch03_ex3_solution(), "the sign", sp.Matrix([x, y, x]),
                 "expected a 2×1 SymPy matrix"),
}

globals().update(standard_exercise_tests(CASES))


# ------------------------------------------------------------------------------------------------
# more typical mistakes, and answers that should pass in another form

def test_more_mistakes_get_their_hints():
    eta, h, D, b = eta_, h_, D_, b_
    cases = [
        ("ch02-w1", 3.0, "inverted"),
        ("ch02-w1", 2 / 3, "prefactor η/(2b) halves"),
        ("ch02-w2", sp.oo, "the SDE's answer"),
        ("ch02-ex2", sym.one_dimensional().discrete, "plain SGD"),
        ("ch02-ex2", M._ch02_ex2_refs()[1], "noise enters x too"),
        ("ch02-ex2", sym.heavy_ball().Svv, "S_vv"),
        ("ch02-ex3", eta * D / (b * h), "factor of 2"),
        ("ch02-ex4", np.full(4, linear.max_stable_learning_rate(make_linear_regression(N=2000, seed=0).hessian())),
         "MEAN stops converging"),
        ("ch03-w1", -2 * sp.Symbol("h") * x**2 + 4 * sp.Symbol("D") / beta, "factor of 2"),
        ("ch03-w1", 2 * sp.Symbol("h") * x**2 + 2 * sp.Symbol("D") / beta, "sign of the drift"),
        ("ch03-w2", "a", "mean zero"),
        ("ch03-w3", "abc", "λJ^ss"),
        ("ch03-ex1", np.zeros(3), "Gibbs"),
        ("ch03-ex3", sp.zeros(2, 1), "diag(1, 2)"),
        ("ch03-ex3", _ch03_ex3_solution() * sp.exp(-beta * x**2 / 2), "divide it by ρ"),
        ("ch03-ex3", sp.Matrix([x / 2, x / 2]), "−45°"),
    ]
    for ex_id, wrong, hint in cases:
        result = check(ex_id, wrong, quiet=True)
        assert result.status == "incorrect" and hint in result.message, (ex_id, result.message)


def test_answers_in_other_forms_are_accepted():
    # plain symbols, without the chapter's assumptions; beta for the temperature; a row vector for J/ρ
    h, D, b, e = sp.symbols("h D b eta")
    assert check("ch02-w2", 2 / h, quiet=True).status == "correct"
    assert check("ch02-ex3", D / (sp.Symbol("beta") * h), quiet=True).status == "correct"
    assert check("ch02-ex3", e * D / (2 * b * h), quiet=True).status == "correct"
    assert check("ch03-ex3", sp.Matrix([[x / 2, -x / 2]]), quiet=True).status == "correct"
    assert check("ch03-ex3", [x / 2, -x / 2], quiet=True).status == "correct"
    assert check("ch02-w3", "B", quiet=True).status == "correct"
    assert check("ch03-w3", ["c", "a"], quiet=True).status == "correct"
    grid_modes = np.array([-0.425, -0.235, 0.005])  # the grid modes of the chapter's solution (spacing 0.01)
    assert check("ch03-ex1", grid_modes, quiet=True).status == "correct"


# ------------------------------------------------------------------------------------------------
# the references are computed: change an input and the reference follows

def test_the_temperature_ratio_follows_N():
    assert np.isclose(M._ch02_w1_ref(), 1 / 3)
    assert np.isclose(M._ch02_w1_ref(N=80), 0.5 * (1 - 20 / 80) / (1 - 10 / 80))
    assert np.isclose(M._ch02_w1_ref(N=10**9), 0.5)


def test_the_second_moment_thresholds_follow_the_problem():
    ref = M._ch02_ex4_ref()
    assert np.all(np.diff(ref) > 0) and np.all(ref < linear.max_stable_learning_rate(
        make_linear_regression(N=2000, seed=0).hessian()))
    other = M._ch02_ex4_ref(batches=(1, 2), seed=1)
    assert other.shape == (2,) and not np.allclose(other, ref[:2], rtol=1e-3)


def test_the_exactly_sampled_chain_has_the_continuous_variance_and_euler_the_discrete_one():
    assert sp.simplify(M._ch02_ex3_ref() - sym.one_dimensional().continuous) == 0
    assert sp.simplify(M._ch02_ex3_ref("euler") - sym.one_dimensional().discrete) == 0
    assert sp.simplify(M._ch02_ex3_ref("kick") - M._ch02_ex3_ref()) != 0


def test_the_modes_follow_beta_and_the_w2_letter_is_computed():
    assert M._ch03_ex1_ref()[2] == 0.0
    hot, cold = M._ch03_ex1_ref(beta=0.5), M._ch03_ex1_ref(beta=2.0)
    assert hot[0] < cold[0] < 0  # a hotter chain moves the Itô mode further from the noise
    assert M._ch03_ito_mode() < 0 and np.isclose(M._ch03_ito_mode(), M._ch03_ex1_ref()[0])


def test_the_current_follows_the_rotation():
    ref, _ = M._ch03_ex3_ref()
    assert sp.simplify(ref - sp.Matrix([x / 2, -x / 2])) == sp.zeros(2, 1)
    assert sp.simplify(M._ch03_ex3_ref(angle=0)[0]) == sp.zeros(2, 1)  # diag(1, 2): detailed balance


def test_the_generator_reference_follows_the_test_function():
    h, D = sp.symbols("h D", positive=True)
    assert sp.simplify(M._ch03_w1_ref(3) - (-3 * h * x**3 + 6 * D * x / beta)) == 0


def test_the_multiple_choice_answers_agree_with_the_chapters_computations():
    # ch02-w3 (b): equal η/b, the continuous prediction is the same, the discrete one larger at (0.08, 40),
    # most in the sharpest direction
    problem = make_linear_regression(N=2000, seed=0)
    H, D = problem.hessian(), problem.diffusion(problem.minimiser())
    cont = np.diag(linear.continuous_lyapunov_covariance(H, D, 0.08, 40)) / np.diag(
        linear.continuous_lyapunov_covariance(H, D, 0.02, 10))
    disc = np.diag(linear.discrete_sgd_covariance(H, D, 0.08, 40)) / np.diag(
        linear.discrete_sgd_covariance(H, D, 0.02, 10))
    assert np.allclose(cont, 1.0) and np.all(disc > 1.0)
    assert np.argmax(disc) == np.argmax(np.diag(H))
    # ch03-w3 (a, c): D = I gives J = 0 for e^{−βf}; Example 19 is stationary with J ≠ 0
    f = sp.Function("f")(x, y)
    assert symbolic.is_zero(symbolic.probability_current(sp.exp(-beta * f), -vc.gradient(f, [x, y]), sp.eye(2),
                                                         beta, [x, y]))
    lam = sp.Symbol("lambda", positive=True)
    Phi = (x**2 - 1)**2 / 4 + y**2 / 2
    Jss = sp.exp(-(x**2 + y**2)**2 / 4) * sp.Matrix([-y, x])
    b19 = -vc.gradient(Phi, [x, y]) + lam * sp.exp(Phi) * Jss
    assert symbolic.is_stationary(sp.exp(-Phi), b19, sp.eye(2), 1, [x, y])
    assert not symbolic.is_zero(symbolic.probability_current(sp.exp(-Phi), b19, sp.eye(2), 1, [x, y]))


def test_the_checks_are_cheap():
    import time
    for ex_id, (solution, *_rest) in CASES.items():
        answer = solution()
        t0 = time.perf_counter()
        check(ex_id, answer, quiet=True)
        assert time.perf_counter() - t0 < 2.0, ex_id
