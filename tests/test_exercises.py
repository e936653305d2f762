"""The first exercise checks of chapters 1–12 (the ids in CASES; the warm-ups and the other exercises are
tested in tests/test_exercises_ch*.py) and the contract of vdlib.book.exercises.check: the chapters' own
solutions pass, typical mistakes get their hint, placeholders are "not attempted", wrong types are "invalid"
with what was expected, an unknown id lists the valid ones, and ``check`` never raises. That the chapters
call registered checks and never stop "Run All" is tests/test_exercise_coverage.py's part."""
import functools
import math
from types import SimpleNamespace

import numpy as np
import pytest
import sympy as sp

from helpers.exercise_cases import standard_exercise_tests
from vdlib.book import exercises as E
from vdlib.book.exercises import check

# ------------------------------------------------------------------------------------------------
# the chapters' solutions, as their solution cells compute them


def _ch01_solution(G, b, rng):
    N, d = G.shape
    if N % b:
        raise ValueError(f"b={b} must divide N={N} for equal batches")
    order = rng.permutation(N)
    return G[order].reshape(N // b, b, d).mean(axis=1)


@functools.lru_cache(maxsize=1)
def _ch02_solution():
    from vdlib.theory import sgd
    from vdlib.theory.regression import make_linear_regression
    small = make_linear_regression(N=40, noise="homoscedastic", seed=3)
    run = {repl: sgd.run_sgd_chains(small, 0.05, 20, 600, 400, seed=30 + repl, replacement=repl)
           for repl in (False, True)}
    return np.diag(run[False].cov) / np.diag(run[True].cov)


def _ch03_solution():
    beta = sp.Symbol("beta", positive=True)
    A = sp.Matrix([[1, -1], [1, 2]])
    D_ou = sp.diag(1, sp.Rational(1, 2))
    s11, s12, s22 = sp.symbols("s11 s12 s22")
    Sig = sp.Matrix([[s11, s12], [s12, s22]])
    sol = sp.solve(list(A * Sig + Sig * A.T - 2 * D_ou / beta), [s11, s12, s22], dict=True)[0]
    return Sig.subs(sol)


def _ch04_solution():
    from scipy.integrate import quad

    from vdlib.theory import potentials
    gf, Dr = potentials.double_well_1d_grad, potentials.shift_D
    return quad(lambda s: gf(s) / Dr(s), -1.0, 1.0)[0]


def _ch05_solution(m, s, k, beta):
    return k * (m**2 + s**2) / 2 - math.log(2 * math.pi * math.e * s**2) / 2 / beta


def _ch06_solution():
    z = sp.Symbol("z", real=True)
    m1s, m2s = sp.symbols("m_1 m_2", real=True)
    s1s, s2s = sp.symbols("s_1 s_2", positive=True)
    phi_z = sp.exp(-z**2 / 2) / sp.sqrt(2 * sp.pi)
    return sp.integrate(((m1s + s1s * z) - (m2s + s2s * z)) ** 2 * phi_z, (z, -sp.oo, sp.oo))


def _ch07_solution():
    from vdlib.theory import linear
    a, omega, beta_ex = 1.0, 2.0, 2.0
    J = np.array([[0.0, -1.0], [1.0, 0.0]])
    _, _, Q_r = linear.ou_decomposition(a * np.eye(2) - omega * J, np.eye(2), beta_ex)
    return 2 * Q_r[0, 1] / beta_ex


def _ch08_ex1_solution():
    from vdlib.theory import critical_shift as cs
    x1, x2 = cs.x1, cs.x2
    H1 = sp.Matrix([[1, sp.Rational(1, 2)], [sp.Rational(1, 2), 1]])
    f1 = (sp.Matrix([x1, x2]).T * H1 * sp.Matrix([x1, x2]))[0] / 2
    D1 = sp.eye(2) + sp.tanh(x1) / 2 * sp.diag(0, 1)
    return cs.first_order_shift(f1, D1, (x1, x2)).v


def _ch08_ex3_solution():
    eta_s, eps, dd0, dd1, V, K = sp.symbols("eta epsilon d_0 d_1 V K", positive=True)
    m_s = 1 - eta_s
    solV = sp.solve(sp.Eq(V, m_s**2 * V + eps * eta_s * dd0), V)[0]
    solK = sp.solve(sp.Eq(K, m_s**3 * K + 3 * m_s * eps * eta_s * dd1 * solV), K)[0]
    return sp.simplify(-solK / (2 * solV)) / (-eps * dd1 / 2)


def _n_critical_points(lam, n_starts=9):
    from vdlib.theory import potentials as pot
    from vdlib.theory import vector_fields as vf
    return len(vf.critical_points(lambda X, Y: pot.example19_drift(X, Y, lam), ((-2, 2), (-2, 2)),
                                  jacobian=lambda x_, y_: pot.example19_jacobian(x_, y_, lam), n_starts=n_starts))


def _circulation(lam, beta):
    from scipy.integrate import quad
    zx = quad(lambda s: np.exp(-beta * (s * s - 1) ** 2 / 4), -np.inf, np.inf)[0]
    return 2 * np.pi * lam / (np.sqrt(2 * np.pi / beta) * zx)


def _first_unconstrained_n(G, ns):
    from vdlib.deep import noise_spectrum as noise
    cur = noise.rank_vs_n(G, ns, rng=0)
    for n, r in zip(cur["n"], cur["paper"]):
        if r < (n - 1) / 2:
            return int(n), cur
    return None, cur


def _spectrum_stats(model, X, y):
    import torch

    from vdlib.deep import noise_spectrum as noise
    from vdlib.deep import persample
    from vdlib.experiments import spectrum
    ce = torch.nn.CrossEntropyLoss(reduction="none")
    sp_ = noise.diffusion_spectrum(persample.per_sample_gradients(model, ce, X, y))
    return spectrum.paper_statistics(sp_.eigenvalues, sp_.dim) | {"trace": sp_.trace}


def _matched_lr(lr_ref, trace_ref, d_ref, trace, d):
    return lr_ref * (trace_ref / d_ref) / (trace / d)


def _ar_chains(A, n_chains=8, n_steps=20_000, seed=0):
    r = np.random.default_rng(seed)
    x = np.zeros((n_chains, 2))
    out = np.empty((n_chains, n_steps, 2))
    for k in range(n_steps):
        x = x @ A.T + r.standard_normal((n_chains, 2))
        out[:, k] = x
    return out[:, 2000:]


def _fdr1_toy(eta=0.1, mu=0.9, h=1.0, sigma=0.5, n_chains=2000, n_steps=3000, seed=0, corrected=True):
    r = np.random.default_rng(seed)
    th = np.zeros((n_chains, 2))
    v = np.zeros((n_chains, 2))
    lhs, vsq, norm = [], [], []
    for t in range(n_steps):
        g = np.stack([h * th[:, 0], np.zeros(n_chains)], 1) + sigma * r.standard_normal((n_chains, 2))
        lhs.append((th * g).sum(1).mean())
        v = mu * v - eta * g
        th = th + v
        vsq.append((v ** 2).sum(1).mean())
        norm.append((th ** 2).sum(1).mean())
    k = n_steps - 1000
    L, V = np.mean(lhs[k:]), np.mean(vsq[k:])
    G = (norm[-1] - norm[k - 1]) / (n_steps - k) if corrected else 0.0
    return L, (1 + mu) / (2 * eta) * V, (1 + mu) / (2 * eta) * V - (1 - mu) / (2 * eta) * G


def _sgd_1d_variance(eta, b, h=1.0, D=1.0, n_chains=4000, n_steps=4000, seed=0, noise_sd=None):
    r = np.random.default_rng(seed)
    x = np.zeros(n_chains)
    sd = math.sqrt(D / b) if noise_sd is None else noise_sd(D, b)
    for _ in range(n_steps):
        x = x - eta * (h * x + sd * r.standard_normal(n_chains))
    return x.var()


def _exact_without_replacement(G, b):
    from vdlib.theory import minibatch_noise as noise
    return noise.enumerate_minibatch_covariance(G, b, replacement=False)


def _detectable_difference(est_a, est_b, z=2.0):
    return z * math.sqrt(est_a.se**2 + est_b.se**2) / est_a.mean


# ------------------------------------------------------------------------------------------------
# per exercise: the solution, a typical mistake with a fragment of its hint, a wrong type and what the
# message must name

def _with_replacement_epochs(G, b, rng):
    N, d = G.shape
    return G[rng.integers(0, N, size=N)].reshape(N // b, b, d).mean(axis=1)


CASES = {
    "ch01-ex3": (lambda: _ch01_solution, lambda: _with_replacement_epochs, "partition", [1, 2, 3], "function"),
    "ch02-ex1": (_ch02_solution, lambda: 1 / _ch02_solution(), "inverted", "0.5", "float"),
    "ch03-ex2": (_ch03_solution, lambda: _ch03_solution() / 2, "factor of 2", [1.0, 2.0, 3.0], "2×2"),
    "ch04-ex3": (_ch04_solution, lambda: -_ch04_solution(), "sign", [0.1, 0.2, 0.3], "float"),
    "ch05-ex1": (lambda: _ch05_solution,
                 lambda: lambda m, s, k, beta: k * (m**2 + s**2) / 2 + math.log(2 * math.pi * math.e * s**2) / 2 / beta,
                 "minus sign", 3.0, "function"),
    "ch06-ex1": (_ch06_solution, lambda: sp.sqrt(_ch06_solution()), "W_2²", 2.5, "SymPy expression"),
    "ch07-ex1": (_ch07_solution, lambda: -_ch07_solution(), "sign", {"rate": 2.0}, "float"),
    "ch08-ex1": (_ch08_ex1_solution, lambda: np.zeros(2), "divergence of Q", [1.0, 2.0, 3.0], "shape (2,)"),
    "ch08-ex3": (_ch08_ex3_solution, lambda: sp.Integer(1), "η → 0", "eta", "SymPy expression"),
    "ch09-ex1": (lambda: _n_critical_points, lambda: (lambda lam: _n_critical_points(lam, n_starts=8)),
                 "odd n_starts", 3, "function"),
    "ch09-ex2": (lambda: (lambda c: 2 * np.pi / (1 + c)), lambda: (lambda c: 2 * np.pi), "g(Φ)", 2.0, "function"),
    "ch09-ex3": (lambda: _circulation,
                 lambda: (lambda lam, beta: _circulation(lam, 1.0)), "normaliser", 1.0, "function"),
    "ch10-ex1": (lambda: _first_unconstrained_n,
                 lambda: (lambda G, ns: next(n for n in ns if np.linalg.matrix_rank(G[:n]) < n - 1)),
                 "(n − 1)/2", 50, "function"),
    "ch10-ex2": (lambda: _spectrum_stats,
                 lambda: (lambda m, X, y: {k: v * (40 / 39 if k in ("mean", "sd") else 1)
                                           for k, v in _spectrum_stats(m, X, y).items()}),
                 "population covariance", {"mean": 1.0}, "function"),
    "ch10-ex3": (lambda: _matched_lr, lambda: (lambda lr, tr_ref, d_ref, tr, d: lr * tr_ref / tr),
                 "tr D/d", 0.1, "function"),
    "ch11-ex1": (lambda: _ar_chains, lambda: (lambda A, **kw: _ar_chains(A.T, **kw)), "x @ A.T", "chains",
                 "function"),
    "ch11-ex2": (lambda: _fdr1_toy, lambda: (lambda **kw: _fdr1_toy(corrected=False, **kw)), "growth of ⟨|θ|²⟩",
                 [1.0], "function"),
    "ch11-ex3": (lambda: {0.9: (3.2, 0.05), 0.0: (1.4, 0.01)}, lambda: {0.9: (1.0, 0.1), 0.0: (1.0, 0.1)},
                 "identical", [0.9, 0.0], "dict"),
    "ch12-ex1": (lambda: _sgd_1d_variance,
                 lambda: (lambda *a, **kw: _sgd_1d_variance(*a, noise_sd=lambda D, b: math.sqrt(D) / b, **kw)),
                 "divided its standard deviation by b", 0.04, "function"),
    "ch12-ex2": (lambda: _exact_without_replacement,
                 lambda: (lambda G, b: np.cov(G.T, bias=True) / b), "with-replacement", np.eye(2), "function"),
    "ch12-ex3": (lambda: _detectable_difference,
                 lambda: (lambda a, b, z=2.0: z * (a.se + b.se) / a.mean), "quadrature", 0.05, "function"),
}


def test_every_registered_exercise_has_a_case_and_every_case_is_registered():
    # the checks of vdlib.book.exercises itself; the other modules have their own test files
    assert set(CASES) <= set(E.REGISTRY)  # the other ids have their cases in tests/test_exercises_ch*.py
    assert len(CASES) == 21


globals().update(standard_exercise_tests(CASES))


def test_a_stub_function_that_returns_nothing_is_not_attempted():
    def stub(*args, **kwargs):
        ...
    for ex_id, case in CASES.items():
        if case[4] == "function":
            assert check(ex_id, stub, quiet=True).status == "not attempted", ex_id


def test_an_unknown_id_lists_the_valid_ids(capsys):
    for bad in ("ch99-ex1", "ch02-ex9", 3, None):
        result = check(bad, 1.0)
        assert result.status == "invalid" and "unknown exercise id" in result.message
        assert all(ex_id in result.message for ex_id in CASES)
    assert "ch02-ex1" in capsys.readouterr().out


def test_a_float_answer_gets_the_expected_type_in_words():
    msg = check("ch04-ex3", [1.0, 2.0, 3.0], quiet=True).message
    assert "expected a float" in msg and "got a list of 3" in msg


def test_a_function_that_raises_is_invalid_not_an_error():
    def broken(*args, **kwargs):
        raise ZeroDivisionError("oops")
    result = check("ch12-ex3", broken, quiet=True)
    assert result.status == "invalid" and "ZeroDivisionError" in result.message


def test_the_reference_is_computed_not_typed():
    # the reference changes when the exercise's inputs change: it is computed by vdlib
    assert E.ch06_07._ch07_ex1_ref(1.0, 3.0, 2.0) == pytest.approx(2 * 3.0 / (1.0 * 2.0))
    assert E.ch10_12._discrete_variance(0.2, 4) == pytest.approx(0.2 / (4 * (2 - 0.2)))
    with pytest.raises(KeyError, match="no computable reference"):
        E.reference("ch11-ex3")


def test_the_estimates_object_in_ch12_is_duck_typed():
    a = SimpleNamespace(mean=1.0, se=0.1)
    assert check("ch12-ex3", lambda x, y, z=2.0: _detectable_difference(x, y, z), quiet=True).status == "correct"
    assert _detectable_difference(a, a) == pytest.approx(2 * math.sqrt(0.02))


def _transposed_lyapunov():
    beta = sp.Symbol("beta", positive=True)
    A = sp.Matrix([[1, -1], [1, 2]]).T
    s11, s12, s22 = sp.symbols("s11 s12 s22")
    Sig = sp.Matrix([[s11, s12], [s12, s22]])
    sol = sp.solve(list(A * Sig + Sig * A.T - 2 * sp.diag(1, sp.Rational(1, 2)) / beta), [s11, s12, s22], dict=True)[0]
    return Sig.subs(sol)


def _m_s():
    return sp.symbols("m_1 m_2 s_1 s_2")


MORE_MISTAKES = [
    ("ch01-ex3", lambda: (lambda G, b, rng: b * _ch01_solution(G, b, rng)), "sums"),
    ("ch01-ex3", lambda: (lambda G, b, rng: G.reshape(len(G) // b, b, -1).mean(axis=1)), "same batches"),
    ("ch03-ex2", _transposed_lyapunov, "Aᵀ Σ + Σ A"),
    ("ch05-ex1", lambda: (lambda m, s, k, beta: k * (m**2 + s**2) / 2 - math.log(2 * math.pi * s**2) / 2 / beta),
     "e is missing"),
    ("ch06-ex1", lambda: (lambda m1, m2, s1, s2: (m1 - m2) ** 2 + (s1 + s2) ** 2)(*_m_s()), "cross term"),
    ("ch08-ex3", lambda: _ch08_ex3_solution() * (-sp.Symbol("epsilon") * sp.Symbol("d_1") / 2), "whole first-order mode"),
    ("ch09-ex2", lambda: (lambda c: 2 * np.pi * c / (1 + c)), "derivative"),
    ("ch12-ex2", lambda: (lambda G, b: (1 - b / len(G)) * np.cov(G.T, bias=True) / b), "N/(N − 1)"),
    ("ch12-ex3", lambda: (lambda a, b, z=2.0: z * math.hypot(a.se, b.se)), "relative"),
]


@pytest.mark.parametrize("ex_id, wrong, hint", MORE_MISTAKES, ids=[f"{m[0]}-{m[2]}" for m in MORE_MISTAKES])
def test_more_typical_mistakes_get_their_hints(ex_id, wrong, hint):
    result = check(ex_id, wrong(), quiet=True)
    assert result.status == "incorrect" and hint in result.message, result.message


def test_symbols_are_matched_by_name_whatever_their_assumptions():
    eta = sp.Symbol("eta")  # no positive=True, unlike the reference's
    assert check("ch08-ex3", 3 * (1 - eta) / (eta**2 - 3 * eta + 3), quiet=True).status == "correct"
    assert check("ch08-ex3", 3 * (1 - sp.Symbol("x")), quiet=True).status == "invalid"


def test_printed_verdicts_wrap_at_the_print_width(capsys):
    from vdlib.book.exercises.kit import PRINT_WIDTH
    for ex_id in E.exercise_ids():
        check(ex_id)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) > len(E.exercise_ids())  # some long messages were wrapped
    assert max(len(line) for line in lines) <= PRINT_WIDTH
    assert check("ch02-w1", quiet=True).message.count("\n") == 0  # the returned message is not wrapped
