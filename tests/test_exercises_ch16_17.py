"""The checks of vdlib.book.exercises.ch16_17 (chapters 16 and 17): the warm-up concept checks and the
numbered exercises of chapter 17. The chapters' own solutions pass, typical mistakes get their hint,
placeholders are "not attempted", wrong types are "invalid" with what was expected, and the references
follow their inputs (they are computed, not typed in)."""
import time

import numpy as np
import pytest
import sympy as sp

from helpers.exercise_cases import standard_exercise_tests
from vdlib.book.exercises import ch16_17 as M
from vdlib.book import exercises as E
from vdlib.book.exercises import REGISTRY, check

# ------------------------------------------------------------------------------------------------
# the chapters' solutions, as their solution cells compute them


def _temperature_factor():
    from vdlib.theory import limiting_dynamics as ld
    U1 = ld.underdamped_symbolic()
    return float(U1.temperature.subs(ld.mu, 0.9) / U1.temperature.subs(ld.mu, 0))


S_LAG = sp.Symbol("s", positive=True)


def _local_exponent():
    s = S_LAG
    return sp.simplify(s * sp.diff(sp.log(1 - sp.exp(-s)), s))


def _envelope_minimiser(gamma=1.0):
    from vdlib.theory import local_entropy as le
    L1 = le.narrow_wide_1d()
    xs = np.linspace(-4.0, 5.0, 901)
    return float(xs[np.argmin(le.moreau_envelope_1d(L1.f, xs, gamma))])


def _smoothed_hessian(H, gamma):
    H = np.asarray(H, dtype=float)
    return gamma * H @ np.linalg.inv(H + gamma * np.eye(len(H)))


def _laplace_gap():
    from vdlib.theory import local_entropy as le
    S = le.symbolic_1d()
    sy = S.symbols
    inner_q = sy["h"] / 2 * (sy["xp"] - sy["a"]) ** 2 + sy["gamma"] / 2 * (sy["x"] - sy["xp"]) ** 2
    envelope_q = inner_q.subs(sy["xp"], sp.solve(sp.diff(inner_q, sy["xp"]), sy["xp"])[0])
    return sp.simplify(-S.quadratic_F - envelope_q)


def _inner_loop_mu(grad, x, gamma, lr, L, n_chains, rng, sign=1.0, noise=2.0, mu0=None, alpha=0.25):
    xp_ = np.full(n_chains, float(x))
    mu_ = xp_.copy() if mu0 is None else np.full(n_chains, mu0)
    for _ in range(L):
        xp_ = xp_ - lr * (grad(xp_) - sign * gamma * (x - xp_)) + np.sqrt(noise * lr) * rng.standard_normal(n_chains)
        mu_ = (1 - alpha) * mu_ + alpha * xp_
    return mu_


def _mistake(**kw):
    return lambda grad, x, gamma, lr, L, n, rng: _inner_loop_mu(grad, x, gamma, lr, L, n, rng, **kw)


beta, gamma, h = sp.symbols("beta gamma h")

# id: (the solution, a typical mistake, a phrase of its hint, a wrong type, what the message names as expected)
CASES = {
    "ch16-w1": (_temperature_factor, lambda: 0.1, "inverted", "ten", "expected a float"),
    "ch16-w2": (lambda: "b", lambda: "a", "odd under time reversal", 2, "expected a letter among"),
    "ch16-w3": (_local_exponent, lambda: 1 / (sp.exp(S_LAG) - 1), "multiply by s", "s/(exp(s) - 1)",
                "expected a SymPy expression"),
    "ch17-w1": (lambda: "b", lambda: "c", "Moreau envelope is the limit β → ∞", ["b", 2], "expected a letter among"),
    "ch17-w2": (_envelope_minimiser, lambda: 1.5, "wide well", [-1.0, 1.5], "expected a float"),
    "ch17-w3": (lambda: "acd", lambda: "abcd", "(b) is false", 3, "expected a letter among"),
    "ch17-ex1": (lambda: _smoothed_hessian, lambda: (lambda H, g: H * g / (H + g)), "each eigenvalue",
                 np.eye(2), "expected a function"),
    "ch17-ex2": (_laplace_gap, lambda: -_laplace_gap(), "sign", "log(beta*(gamma + h)/(2*pi))/(2*beta)",
                 "expected a SymPy expression"),
    "ch17-ex3": (lambda: _inner_loop_mu, lambda: _mistake(noise=1.0), "√(2η′)", 0.35, "expected a function"),
}

OWN_REFERENCES = sorted(i for i in E.REFERENCES if i in CASES)

globals().update(standard_exercise_tests(CASES))


def test_every_id_of_the_module_has_a_case():
    assert set(CASES) <= {i for i, ex in REGISTRY.items() if ex.checker.__module__ == M.__name__}
    assert set(OWN_REFERENCES) == set(CASES) - {"ch16-w2", "ch17-w1", "ch17-w3", "ch17-ex3"}  # MC; a sampler


@pytest.mark.parametrize("ex_id", sorted(OWN_REFERENCES))
def test_the_reference_passes_its_own_check(ex_id):
    assert check(ex_id, E.reference(ex_id), quiet=True).status == "correct"


def test_more_typical_mistakes_get_their_hints():
    expected = {
        ("ch16-w1", 1.9): "mass",
        ("ch16-w1", 1.0): "not neutral",
        ("ch16-w2", "c"): "only one of the two",
        ("ch16-w2", "d"): "does not commute",
        ("ch16-w3", sp.log(1 - sp.exp(-S_LAG)) / sp.log(S_LAG)): "not a slope",
        ("ch16-w3", S_LAG * sp.exp(-S_LAG)): "divide by 1 − e^{−s}",
        ("ch17-w1", "a"): "γ → ∞",
        ("ch17-w1", "d"): "grows without bound",
        ("ch17-w3", "ac"): "(d) is true",
        ("ch17-w3", "acdb"): "(b) is false",
        ("ch17-ex1", lambda H, g: _smoothed_hessian(H, g) / g): "a factor γ is missing",
        ("ch17-ex1", lambda H, g: H + g * np.eye(len(H))): "harmonically",
        ("ch17-ex1", lambda H, g: np.linalg.inv(_smoothed_hessian(H, g))): "inverse",
        ("ch17-ex1", lambda H, g: H): "H itself",
        ("ch17-ex2", sp.log(beta * h / (2 * sp.pi)) / (2 * beta)): "adds γ",
        ("ch17-ex2", 2 * _laplace_gap()): "1/(2β)",
        ("ch17-ex2", sp.log(h + gamma) / (2 * beta)): "inside the logarithm",
        ("ch17-ex3", _mistake(sign=-1.0)): "pulls x′ towards x",
        ("ch17-ex3", _mistake(mu0=0.0)): "μ = x",
        ("ch17-ex3", _mistake(alpha=0.75)): "weighs the new sample",
    }
    for (ex_id, answer), phrase in expected.items():
        result = check(ex_id, answer, quiet=True)
        assert result.status == "incorrect" and phrase in result.message, (ex_id, result.message)


def test_other_wrong_answers_are_incorrect_without_a_false_hint():
    r = check("ch17-ex3", _mistake(noise=4.0), quiet=True)
    assert r.status == "incorrect" and "compare your loop" in r.message
    r = check("ch17-ex1", lambda H, g: 2 * _smoothed_hessian(H, g), quiet=True)
    assert r.status == "incorrect" and "diagonal H first" in r.message
    assert check("ch16-w1", 5.0, quiet=True).status == "incorrect"
    assert check("ch17-w2", 0.0, quiet=True).status == "incorrect"


def test_invalid_answers_say_what_was_expected():
    assert "one letter" in check("ch16-w2", "ab", quiet=True).message
    assert "the exercise's are" in check("ch16-w3", sp.Symbol("t"), quiet=True).message
    assert "the exercise's are" in check("ch17-ex2", sp.Symbol("eta"), quiet=True).message
    assert "shape (2, 2)" in check("ch17-ex1", lambda H, g: np.ones(3), quiet=True).message
    assert "shape (20000,)" in check("ch17-ex3", lambda *a: np.ones(5), quiet=True).message


@pytest.mark.parametrize("ex_id", ["ch17-ex1", "ch17-ex3"])
def test_a_stub_or_a_broken_function(ex_id):
    def stub(*args, **kwargs):
        ...

    def broken(*args, **kwargs):
        raise ZeroDivisionError("oops")
    assert check(ex_id, stub, quiet=True).status == "not attempted"
    result = check(ex_id, broken, quiet=True)
    assert result.status == "invalid" and "ZeroDivisionError" in result.message


def test_symbols_are_matched_by_name_whatever_their_assumptions():
    b, g, hh = sp.symbols("beta gamma h", positive=True)
    assert check("ch17-ex2", sp.log(b * (hh + g) / (2 * sp.pi)) / (2 * b), quiet=True).status == "correct"
    s = sp.Symbol("s")
    assert check("ch16-w3", s * sp.exp(-s) / (1 - sp.exp(-s)), quiet=True).status == "correct"


def test_the_references_are_computed_not_typed():
    # change an input, and the reference follows the formula
    assert M._temperature_factor(0.0, 0.5) == pytest.approx(2.0)
    assert M._temperature_factor(0.5, 0.9) == pytest.approx(5.0)
    ref = E.reference("ch17-ex1")
    for hv, g in ((100.0, 3.0), (1.0, 0.1), (7.0, 7.0)):
        assert ref(np.diag([hv]), g)[0, 0] == pytest.approx(hv * g / (hv + g))
    R = np.linalg.qr(np.random.default_rng(0).normal(size=(3, 3)))[0]
    H = R @ np.diag([5.0, 1.0, 0.2]) @ R.T
    assert np.allclose(ref(H, 2.0), _smoothed_hessian(H, 2.0))
    gap = E.reference("ch17-ex2")
    vals = {str(s): s for s in gap.free_symbols}
    assert set(vals) == {"beta", "gamma", "h"}
    assert float(gap.subs({vals["beta"]: 3.0, vals["gamma"]: 2.0, vals["h"]: 5.0})) == pytest.approx(
        np.log(3.0 * 7.0 / (2 * np.pi)) / 6.0)
    inner = M._ch17_ex3_ref()
    hq, aq = M.CH17_EX3_QUAD
    mean_long, _ = inner(0.2, 3.0, 0.05, 400)
    assert mean_long == pytest.approx((hq * aq + 3.0 * 0.2) / (hq + 3.0))  # the stationary local mean
    assert inner(0.2, 3.0, 0.05, 0)[0] == pytest.approx(0.2)  # no step: μ is the start
    assert float(E.reference("ch16-w3").subs(S_LAG, 1)) == pytest.approx(1 / (np.e - 1))
    assert M._ch17_w2_ref(10.0) == pytest.approx(M._ch17_w2_ref(1.0))  # the envelope keeps f's minimiser


def test_the_checks_are_cheap():
    for ex_id, case in CASES.items():
        answer = case[0]()
        t0 = time.perf_counter()
        check(ex_id, answer, quiet=True)
        assert time.perf_counter() - t0 < 2.0, ex_id
