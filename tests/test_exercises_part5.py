"""The first exercise checks of Part V (ch13-ex2, ch14-ex1..3, ch16-ex1..3; in vdlib.book.exercises.ch13_15
and ch16_17): the chapters' own solutions pass, typical mistakes get their hint, placeholders are "not
attempted", wrong types are "invalid" with what was expected.
The other checks of these chapters are tested in
tests/test_exercises_ch00_01.py, test_exercises_ch13_15.py and test_exercises_ch16_17.py."""
import math

import numpy as np
import pytest

from helpers.exercise_cases import standard_exercise_tests
from vdlib.book import exercises as E
from vdlib.book.exercises import check

# ------------------------------------------------------------------------------------------------
# the chapters' solutions, as their solution cells compute them


def _predicted_alpha_t(nu, n):
    from vdlib.analysis import tails
    return tails.finite_variance_limit(tails.student_t_log_gap(nu), math.isqrt(n))


def _svag_gradient_moments(z, l, A, b, noise_var, n=200_000, seed=0, weights=None):
    from vdlib.theory import discrete_sgd as ds
    r = np.random.default_rng(seed)
    root = np.linalg.cholesky(A)

    def batch_gradients():
        x = r.standard_normal((n, b, len(z))) @ root.T
        resid = x @ z - math.sqrt(noise_var) * r.standard_normal((n, b))
        return np.einsum("nbd,nb->nd", x, resid) / b

    g1, g2 = batch_gradients(), batch_gradients()
    w1, w2 = ds.svag_weights(l) if weights is None else weights
    g = w1 * g1 + w2 * g2
    return g.mean(0), np.cov(g.T), g1.mean(0), np.cov(g1.T)


def _scaling_table(A, noise_var, ratio=0.2, batches=(1, 2, 4, 8), diverged=None):
    from vdlib.theory import discrete_sgd as ds
    out = {}
    for b in batches:
        try:
            out[b] = float(np.trace(A @ ds.label_noise_covariance(A, ratio * b, b, noise_var)))
        except ValueError:
            out[b] = diverged
    return out


def _late_rate(kl, last=10):
    t = np.arange(len(kl))[-last:]
    return float(np.exp(np.polyfit(t, np.log(kl[-last:]), 1)[0]))


def _discrete_over_sde(eta_h, mu=0.9):
    from vdlib.theory import limiting_dynamics as ld
    disc = ld.additive_heavy_ball_covariance([[1.0]], [[1.0]], eta_h, mu)[0, 0]
    return disc / ld.phase_space_model([[1.0]], [[1.0]], eta_h, mu).P[0, 0]


def _compare_effective_lr(H, C, weight_decay):
    from vdlib.theory import limiting_dynamics as ld
    return ld.phase_space_model(H, C, 0.01, 0.9, weight_decay), ld.phase_space_model(H, C, 0.1, 0.0, weight_decay)


def _exponents_by_window(paths, windows, lags=None):
    from vdlib.analysis import diffusion_exponent as de
    lags = lags or (lambda w: de.log_lags(*w, 6))
    return {w: de.diffusion_exponent(paths, lags(w)) for w in windows}


# id: (the solution, a typical mistake, a phrase of its hint, a wrong type, what the message names as expected)
CASES = {
    "ch13-ex2": (lambda: _predicted_alpha_t,
                 lambda: (lambda nu, n: _predicted_alpha_t(nu, n**2)), "K₁ = √n", [1.7, 1.8], "predicted_alpha_t"),
    "ch14-ex1": (lambda: _svag_gradient_moments,
                 lambda: (lambda *a, **k: _svag_gradient_moments(*a, **k, weights=(1.0, 0.0))), "ds.svag_weights",
                 np.eye(2), "svag_gradient_moments"),
    "ch14-ex2": (lambda: _scaling_table,
                 lambda: (lambda A, s2, ratio=0.2, batches=(1, 2, 4, 8): _scaling_table(A, s2, ratio, batches, diverged=np.inf)),
                 "return None", {1: 0.2}, "scaling_table"),
    "ch14-ex3": (lambda: _late_rate,
                 lambda: (lambda kl, last=10: math.log(_late_rate(kl, last))), "exp(slope)", 0.64, "late_rate"),
    "ch16-ex1": (lambda: _discrete_over_sde,
                 lambda: (lambda eta_h, mu=0.9: 1 / _discrete_over_sde(eta_h, mu)), "discrete / SDE", 1.027, "discrete_over_sde"),
    "ch16-ex2": (lambda: _compare_effective_lr,
                 lambda: (lambda H, C, lam: _compare_effective_lr(H, C, lam)[::-1]), "the order is", np.eye(2),
                 "compare_effective_lr"),
    "ch16-ex3": (lambda: _exponents_by_window,
                 lambda: (lambda paths, windows: _exponents_by_window(paths, windows, lambda w: np.arange(w[0], w[1] + 1))),
                 "log-spaced lags", [0.9, 0.4, 0.1], "exponents_by_window"),
}


def test_every_part5_exercise_has_a_case_and_every_case_is_registered():
    assert set(CASES) <= set(E.REGISTRY)
    assert set(CASES) - {"ch14-ex1"} <= set(E.REFERENCES)  # ch14-ex1: exact moments, no sampler
    assert "ch14-ex1" not in E.REFERENCES


globals().update(standard_exercise_tests(CASES))


@pytest.mark.parametrize("ex_id", sorted(CASES))
def test_the_correct_verdict_states_its_tolerance(ex_id):
    assert "tolerance" in check(ex_id, CASES[ex_id][0](), quiet=True).message


@pytest.mark.parametrize("ex_id", sorted(set(CASES) - {"ch14-ex1"}))
def test_the_reference_passes_its_own_check(ex_id):
    result = check(ex_id, E.reference(ex_id), quiet=True)
    assert result.status == "correct", result.message


@pytest.mark.parametrize("ex_id", sorted(CASES))
def test_a_stub_function_is_not_attempted_and_a_wrong_return_type_is_invalid(ex_id):
    def stub(*args, **kwargs):
        ...
    assert check(ex_id, stub, quiet=True).status == "not attempted"
    result = check(ex_id, lambda *a, **k: "text", quiet=True)
    assert result.status == "invalid" and CASES[ex_id][4] in result.message, result.message


@pytest.mark.parametrize("ex_id", sorted(CASES))
def test_a_function_that_raises_is_invalid_not_an_error(ex_id):
    def broken(*args, **kwargs):
        raise ZeroDivisionError("oops")
    result = check(ex_id, broken, quiet=True)
    assert result.status == "invalid" and "ZeroDivisionError" in result.message


def test_more_typical_mistakes_get_their_hints():
    assert "diverges" in check("ch14-ex2", lambda *a, **k: {1: 0.18, 2: 0.2, 4: 0.3, 8: 1.0}, quiet=True).message
    no_trace = check("ch14-ex2", lambda A_, s2, ratio=0.2, batches=(1, 2, 4, 8): {
        b: (None if v is None else float(np.trace(_cov(A_, ratio * b, b, s2))))
        for b, v in _scaling_table(A_, s2, ratio, batches).items()}, quiet=True)
    assert no_trace.status == "incorrect" and "tr(Σ)" in no_trace.message
    whole = check("ch14-ex3", lambda kl, last=10: _late_rate(kl, len(kl)), quiet=True)
    assert whole.status == "incorrect" and "last" in whole.message
    no_decay = check("ch16-ex2", lambda H, C, lam: _compare_effective_lr(H, C, 0.0), quiet=True)
    assert no_decay.status == "incorrect" and "weight decay" in no_decay.message
    no_momentum = check("ch16-ex1", lambda eta_h, mu=0.9: 1 / (1 - eta_h / 2), quiet=True)
    assert no_momentum.status == "incorrect" and "2(1+μ)" in no_momentum.message


def _cov(A, eta, b, s2):
    from vdlib.theory import discrete_sgd as ds
    return ds.label_noise_covariance(A, eta, b, s2)


def test_the_reference_is_computed_not_typed():
    # the references follow vdlib: change an input, and the reference changes as the formula says
    from vdlib.analysis import tails
    ref = E.reference("ch13-ex2")
    assert ref(3, 10_000) == pytest.approx(1 / (0.5 + tails.student_t_log_gap(3) / math.log(100)))
    assert E.reference("ch16-ex1")(1.0, 0.9) == pytest.approx(2 * 1.9 / (2 * 1.9 - 1.0))
    mg, Cg, m1, C1 = E.ch13_15._ch14_ex1_ref(l=9)
    assert np.allclose(Cg, 9 * C1) and np.allclose(mg, m1)
