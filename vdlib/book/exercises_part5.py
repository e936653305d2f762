"""Answer checks for the exercises of Part V (chapters 13, 14 and 16), registered on import.

Same contract as :mod:`vdlib.book.exercises` (imported there, so ``check`` and ``exercise_ids()`` know
these ids): each reference is computed by the vdlib functions the chapter's solution calls, each
tolerance is stated in the message, and each check calls the submitted function on small inputs.
"""
from __future__ import annotations

import math

import numpy as np

from ._exercise_kit import _array, _call, _float, _Invalid, _numeric_verdict, _register, _Wrong

REFERENCES: dict = {}


def _reference(ex_id):
    def deco(fn):
        REFERENCES[ex_id] = fn
        return fn
    return deco


# ------------------------------------------------------------------------------------------------
# chapter 13: heavy-tailed gradient noise

CH13_EX2_CASES = ((3, 10_000), (3, 1_000_000), (5, 100_000))


@_reference("ch13-ex2")
def _ch13_ex2_ref():
    from vdlib.analysis import tails
    return lambda nu, n: tails.finite_variance_limit(tails.student_t_log_gap(nu), math.isqrt(n))


@_register("ch13-ex2", "heavy_tails_ex2", "your function predicted_alpha_t(nu, n), returning the predicted α̂ (a float)")
def _ch13_ex2(fn):
    from vdlib.analysis import tails
    got = np.array([_float(_call(fn, "a float", nu, n), "the predicted α̂") for nu, n in CH13_EX2_CASES])
    want = np.array([_ch13_ex2_ref()(nu, n) for nu, n in CH13_EX2_CASES])
    gaps = [tails.student_t_log_gap(nu) for nu, _ in CH13_EX2_CASES]
    return _numeric_verdict(got, want, 1e-9, 0.0, [
        ([tails.finite_variance_limit(g, n) for g, (_, n) in zip(gaps, CH13_EX2_CASES)],
         "the block size is K₁ = √n (math.isqrt(n)), not n"),
        (np.full(len(want), 2.0), "a finite variance gives α = 2 only in the limit; the estimator sees 1/(1/2 + Δ_ν/log K₁)"),
        (1 / want, "you returned 1/2 + Δ_ν/log K₁; α̂ is its reciprocal"),
    ], "predicted α̂ at (ν, n) = " + ", ".join(f"({nu}, {n:,})" for nu, n in CH13_EX2_CASES))


# ------------------------------------------------------------------------------------------------
# chapter 16: momentum and the limiting dynamics

CH16_EX1_CASES = ((0.1, 0.9), (1.0, 0.9), (1.5, 0.9), (1.0, 0.5))


@_reference("ch16-ex1")
def _ch16_ex1_ref():
    from vdlib.theory import limiting_dynamics as ld

    def discrete_over_sde(eta_h, mu=0.9):
        disc = ld.additive_heavy_ball_covariance([[1.0]], [[1.0]], eta_h, mu)[0, 0]
        return disc / ld.phase_space_model([[1.0]], [[1.0]], eta_h, mu).P[0, 0]
    return discrete_over_sde


@_register("ch16-ex1", "ld_ex1", "your function discrete_over_sde(eta_h, mu=0.9), returning a ratio of variances (a float)")
def _ch16_ex1(fn):
    got = np.array([_float(_call(fn, "a float", e, mu=mu), "the variance ratio") for e, mu in CH16_EX1_CASES])
    want = np.array([_ch16_ex1_ref()(e, mu) for e, mu in CH16_EX1_CASES])
    eta = np.array([e for e, _ in CH16_EX1_CASES])
    return _numeric_verdict(got, want, 1e-8, 0.0, [
        (1 / want, "the ratio is discrete / SDE, not SDE / discrete"),
        (1 / (1 - eta / 2), "that is the ratio without momentum; with momentum the discrete term is ηh/(2(1+μ))"),
    ], "discrete/SDE variance ratio at (ηh, μ) = " + ", ".join(f"({e}, {mu})" for e, mu in CH16_EX1_CASES))


def _ch16_ex2_problem():
    H = np.array([[2.0, 0.3], [0.3, 0.5]])
    C = np.array([[1.0, -0.4], [-0.4, 0.3]])  # does not commute with H
    return H, C, 1e-3


@_reference("ch16-ex2")
def _ch16_ex2_ref():
    from vdlib.theory import limiting_dynamics as ld
    return lambda H, C, weight_decay: (ld.phase_space_model(H, C, 0.01, 0.9, weight_decay),
                                       ld.phase_space_model(H, C, 0.1, 0.0, weight_decay))


def _position_cov(model, d, what):
    if not hasattr(model, "P"):
        raise _Invalid(f"expected ld.phase_space_model results (with .P) for {what}, got {type(model).__name__}")
    return _array(model.P, (2 * d, 2 * d), what)[:d, :d]


@_register("ch16-ex2", "ld_ex2", "your function compare_effective_lr(H, C, weight_decay), returning the pair of "
                                 "ld.phase_space_model results at (η, μ) = (0.01, 0.9) and (0.1, 0)")
def _ch16_ex2(fn):
    from vdlib.theory import limiting_dynamics as ld
    H, C, lam = _ch16_ex2_problem()
    out = _call(fn, "a pair of models", H, C, lam)
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise _Invalid("expected a pair (with momentum, without momentum)")
    got = np.stack([_position_cov(m, 2, "the position covariance") for m in out])
    want = np.stack([m.P[:2, :2] for m in _ch16_ex2_ref()(H, C, lam)])
    no_decay = np.stack([m.P[:2, :2] for m in _ch16_ex2_ref()(H, C, 0.0)])
    add = np.stack([ld.additive_heavy_ball_covariance(H, C, 0.01, 0.9, lam)[:2, :2],
                    ld.additive_heavy_ball_covariance(H, C, 0.1, 0.0, lam)[:2, :2]])
    return _numeric_verdict(got, want, 1e-6, 1e-12, [
        (want[::-1], "the order is (with momentum (0.01, 0.9), without momentum (0.1, 0))"),
        (no_decay, "pass the weight decay to ld.phase_space_model"),
        (add, "that is the discrete heavy-ball covariance; the exercise compares the underdamped model's"),
    ], "position covariances P_θθ on a 2×2 H with non-commuting C, λ = 1e-3")


CH16_EX3_WINDOWS = ((1, 5), (5, 50), (20, 200))


@_reference("ch16-ex3")
def _ch16_ex3_ref():
    from vdlib.analysis import diffusion_exponent as de
    return lambda paths, windows: {w: de.diffusion_exponent(paths, de.log_lags(*w, 6)) for w in windows}


def _exponent(v, what):
    return _float(getattr(v, "c", v), what)


@_register("ch16-ex3", "ld_ex3", "your function exponents_by_window(paths, windows), returning {window: estimate with .c}")
def _ch16_ex3(fn):
    from vdlib.analysis import diffusion_exponent as de
    paths = de.ou_paths(20, 400, 20.0, seed=7)
    out = _call(fn, "a dict {window: estimate}", paths, list(CH16_EX3_WINDOWS))
    if not isinstance(out, dict) or set(out) != set(CH16_EX3_WINDOWS):
        raise _Invalid(f"expected a dict keyed by the windows {list(CH16_EX3_WINDOWS)}")
    got = np.array([_exponent(out[w], f"c for lags {w}") for w in CH16_EX3_WINDOWS])
    ref = _ch16_ex3_ref()(paths, CH16_EX3_WINDOWS)
    want = np.array([ref[w].c for w in CH16_EX3_WINDOWS])
    linear = np.array([de.diffusion_exponent(paths, np.arange(w[0], w[1] + 1)).c for w in CH16_EX3_WINDOWS])
    return _numeric_verdict(got, want, 1e-9, 1e-12, [
        (linear, "use log-spaced lags, de.log_lags(lag_min, lag_max, 6); evenly spaced lags weight the long end"),
        (2 * want, "c is the slope of log MSD against log lag, not twice it"),
    ], f"c on OU paths (τ = 20, 20 chains × 400 steps) over lags {list(CH16_EX3_WINDOWS)}")


# ------------------------------------------------------------------------------------------------
# chapter 14: discrete-time SGD

def _ch14_label_noise():
    return np.diag([1.0, 0.25]), 2, 1.0, np.array([1.0, -1.0])  # A, b, σ², z


def _ch14_ex1_ref(l=4):
    """Exact (mean, covariance) of the SVAG gradient and of one batch gradient, from ds.svag_weights.

    Not in REFERENCES: the answer is a sampler, and the check compares its Monte Carlo moments with these."""
    from vdlib.theory import discrete_sgd as ds
    A, b, s2, z = _ch14_label_noise()
    zz = np.outer(z, z)
    one_cov = (A @ zz @ A + np.trace(A @ zz) * A + s2 * A) / b   # D(z)/b of least squares with label noise
    w1, w2 = ds.svag_weights(l)
    return (w1 + w2) * A @ z, (w1**2 + w2**2) * one_cov, A @ z, one_cov


CH14_EX1_DRAWS = 100_000


@_register("ch14-ex1", "discrete_sgd_ex1", "your function svag_gradient_moments(z, l, A, b, noise_var, n, seed), "
                                           "returning (SVAG mean, SVAG covariance, one-batch mean, one-batch covariance)")
def _ch14_ex1(fn):
    A, b, s2, z = _ch14_label_noise()
    l = 4
    out = _call(fn, "a tuple of four arrays", z, l, A, b, s2, n=CH14_EX1_DRAWS, seed=0)
    if not isinstance(out, (tuple, list)) or len(out) != 4:
        raise _Invalid(f"expected (mean, covariance, mean, covariance), got {type(out).__name__}")
    shapes = ((2,), (2, 2), (2,), (2, 2))
    got = np.concatenate([_array(x, s, "a moment").ravel() for x, s in zip(out, shapes)])
    ref = _ch14_ex1_ref(l)
    want = np.concatenate([np.ravel(x) for x in ref])
    mg, Cg, m1, C1 = ref
    return _numeric_verdict(got, want, 0.08, 0.05, [
        (np.concatenate([mg, C1.ravel(), m1, C1.ravel()]),
         "the SVAG covariance equals one batch's: combine the two batches with w1, w2 = ds.svag_weights(l)"),
        (np.concatenate([mg, l**2 * C1.ravel(), m1, C1.ravel()]),
         "the covariance grows by l, not l²: the weights satisfy w1 + w2 = 1 and w1² + w2² = l"),
        (np.concatenate([b * mg, b**2 * Cg.ravel(), b * m1, b**2 * C1.ravel()]),
         "a batch gradient is the mean over its b examples: divide the sum by b"),
    ], f"SVAG moments at z = (1, −1), l = {l}, b = {b} ({CH14_EX1_DRAWS:,} draws; the tolerance is several "
       "times the Monte Carlo error)")


def _trace_table(A, noise_var, ratio, batches, model="sgd", eta_of=lambda ratio, b: ratio * b, weight=None):
    from vdlib.theory import discrete_sgd as ds
    out = {}
    for b in batches:
        try:
            S = ds.label_noise_covariance(A, eta_of(ratio, b), b, noise_var, model=model)
            out[b] = float(np.trace((A if weight is None else weight) @ S))
        except ValueError:
            out[b] = None
    return out


@_reference("ch14-ex2")
def _ch14_ex2_ref():
    return lambda A, noise_var, ratio=0.2, batches=(1, 2, 4, 8): _trace_table(A, noise_var, ratio, batches)


@_register("ch14-ex2", "discrete_sgd_ex2", "your function scaling_table(A, noise_var, ratio=0.2, batches=(1, 2, 4, 8)), "
                                           "returning {b: tr(AΣ) or None}")
def _ch14_ex2(fn):
    A, _, s2, _ = _ch14_label_noise()
    batches = (1, 2, 4, 8)
    out = _call(fn, "a dict {b: float or None}", A, s2, 0.2, batches)
    if not isinstance(out, dict) or set(out) != set(batches):
        raise _Invalid(f"expected a dict keyed by the batch sizes {list(batches)}")
    want = _ch14_ex2_ref()(A, s2, 0.2, batches)
    for b in batches:
        if (want[b] is None) != (out[b] is None):
            if want[b] is None:
                raise _Wrong(f"at b = {b} (η = {0.2 * b:.1f}) SGD's second moment diverges: ds.label_noise_covariance "
                             "raises ValueError there, return None")
            raise _Wrong(f"at b = {b} the second moment exists (η = {0.2 * b:.1f} is below the limit): return tr(AΣ)")
    keep = [b for b in batches if want[b] is not None]
    got = np.array([_float(out[b], f"tr(AΣ) at b = {b}") for b in keep])
    ref = np.array([want[b] for b in keep])
    const = _trace_table(A, s2, 0.2, keep, model="sde_constant")
    plain = _trace_table(A, s2, 0.2, keep, weight=np.eye(2))
    return _numeric_verdict(got, ref, 1e-8, 0.0, [
        ([const[b] for b in keep], "that is the constant-D SDE; the exact formula is ds.label_noise_covariance's default model"),
        ([plain[b] for b in keep], "the exercise asks for tr(AΣ), not tr(Σ)"),
    ], f"tr(AΣ) at η/b = 0.2 for b = {keep}")


@_reference("ch14-ex3")
def _ch14_ex3_ref():
    def late_rate(kl, last=10):
        t = np.arange(len(kl))[-last:]
        return float(np.exp(np.polyfit(t, np.log(kl[-last:]), 1)[0]))
    return late_rate


def _ch14_kl_path():
    """The KL from a far start to the chain's own invariant law, as chapter 14 computes it (30 steps)."""
    from vdlib.theory import discrete_sgd as ds
    H, C, eta = np.diag([2.0, 0.5]), np.array([[1.0, 0.6], [0.6, 1.0]]), 0.4
    M, Q = np.eye(2) - eta * H, eta**2 * C
    S = ds.additive_covariance(H, C, eta)
    means, covs = ds.gaussian_chain_moments(M, Q, np.array([1.5, -1.0]), 0.02 * np.eye(2), 30)
    return np.array([ds.kl_gaussian(mu, Sc, np.zeros(2), S) for mu, Sc in zip(means, covs)])


@_register("ch14-ex3", "discrete_sgd_ex3", "your function late_rate(kl, last=10), returning a rate per step (a float)")
def _ch14_ex3(fn):
    kl = _ch14_kl_path()
    rng = np.random.default_rng(3)
    synthetic = 2.0 * 0.7 ** np.arange(25) * (1 + rng.uniform(0, 0.3, 25) * 0.3 ** np.arange(25))
    cases = [(kl, 10), (kl, 5), (synthetic, 8)]
    got = np.array([_float(_call(fn, "a float", k.copy(), last=n), "the rate") for k, n in cases])
    ref = _ch14_ex3_ref()
    want = np.array([ref(k, n) for k, n in cases])
    return _numeric_verdict(got, want, 1e-6, 0.0, [
        (np.log(want), "return exp(slope): the slope of log KL is the log of the rate"),
        (np.array([ref(k, len(k)) for k, _ in cases]), "fit only the last `last` steps; the early path is not geometric yet"),
        (np.sqrt(want), "the rate of the KL, not of the mean: the KL falls like the squared mean offset"),
    ], "late geometric rate of the chapter's KL path (last 10 and 5 steps) and of a synthetic path (last 8)")
