"""Answer checks of chapter 2 (SGD as an SDE) and chapter 3 (the Fokker–Planck equation).

Registered on import (by :mod:`vdlib.book.exercises`): the numbered exercises ``chNN-exK`` and the warm-up
concept checks ``chNN-wK``. Each reference is computed by the vdlib functions the chapter's solution calls,
or by a few lines of SymPy, never typed in; functions decorated ``@_reference`` give it to
:func:`vdlib.book.exercises.reference`. Each numeric tolerance is stated in the check's message.
"""
from __future__ import annotations

import functools

import numpy as np
import sympy as sp

from .kit import (_array, _choice, _float, _Invalid, _matrix_symbolic, _numeric_verdict, _reference, _register,
                  _symbolic, _symbolic_verdict, _Wrong)

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


# ================================================================================================
# chapter 2: SGD as a stochastic differential equation

def _ch02_symbols():
    from vdlib.theory import sgd_symbolic as sym
    return {"eta": sym.eta, "h": sym.h, "D": sym.D1, "b": sym.b, "mu": sym.mu}


# ---- ch02-w1: the temperature without replacement ----------------------------------------------

def _ch02_w1_ref(b_from=10, b_to=20, N=40, eta=0.05):
    from vdlib.theory import linear
    return (linear.temperature(eta, b_to, replacement=False, N=N)
            / linear.temperature(eta, b_from, replacement=False, N=N))


@_register("ch02-w1", "sgd_as_sde_w1",
           "the factor β'⁻¹(b = 20) / β'⁻¹(b = 10) by which the temperature without replacement changes "
           "(a float, dimensionless)")
def _ch02_w1(answer):
    from vdlib.theory import linear
    value = _float(answer, "the temperature ratio")
    ref = _ch02_w1_ref()
    with_repl = linear.temperature(0.05, 20) / linear.temperature(0.05, 10)
    only_fpc = (1 - 20 / 40) / (1 - 10 / 40)
    return _numeric_verdict(value, ref, 1e-3, 0.0, [
        (with_repl, "that is the factor with replacement, 1/2 from the 1/b alone; without replacement the "
                    "factor (1 − b/N) also drops, from 3/4 to 1/2"),
        (1 / ref, "your ratio is inverted: the temperature falls when b grows, so the factor is below 1"),
        (only_fpc, "you kept only the change of (1 − b/N); the prefactor η/(2b) halves as well"),
        (with_repl**2, "the temperature is proportional to 1/b, not 1/b² (it is the covariance D/b of the "
                       "batch gradient, times η/2)"),
    ], "β'⁻¹(b = 20) / β'⁻¹(b = 10) at N = 40")


# ---- ch02-w2: the stability limit of 1-D SGD ---------------------------------------------------

@_register("ch02-w2", "sgd_as_sde_w2",
           "the learning rate at which SGD's stationary variance on f = ½hx² diverges (a SymPy expression in h)")
def _ch02_w2(answer):
    from vdlib.theory import sgd_symbolic as sym
    h = sym.h
    expr = _symbolic(answer, {"h": h}, "the critical learning rate, in terms of h")
    if isinstance(expr, sp.MatrixBase):
        raise _Invalid(f"expected a single expression (the critical learning rate), got a matrix of shape {expr.shape}")
    if expr.has(sp.oo, sp.zoo):
        raise _Wrong("an infinite learning rate is the SDE's answer: its variance ηD/(2bh) is finite for every η; "
                     "SGD's, ηD/(bh(2 − ηh)), is not")
    ref = sym.one_dimensional().eta_max
    return _symbolic_verdict(expr, ref, [
        (ref / 2, "at η = 1/h one step lands exactly on the minimum (1 − ηh = 0), and the chain still contracts; "
                  "the variance diverges only when |1 − ηh| reaches 1"),
        (1 / ref, "inverted: a learning rate has the units of 1/h, and the sharper the minimum, the smaller the limit"),
        (2 * ref, "the chain contracts while |1 − ηh| < 1, i.e. ηh < 2, not ηh < 4"),
    ], "η_max")


# ---- ch02-w3: equal η/b --------------------------------------------------------------------------

CH02_W3_OPTIONS = {
    "a": "both runs have the same stationary covariance, because only η/b enters the temperature",
    "b": "the SDE predicts the same covariance for both; SGD's is larger at (0.08, 40), most in the sharpest direction",
    "c": "SGD's covariance is larger at (0.02, 10), because the smaller batch is noisier",
    "d": "both the SDE and SGD predict a larger covariance at (0.08, 40), because the larger step is hotter",
}


@_register("ch02-w3", "sgd_as_sde_w3", 'one letter, "a", "b", "c" or "d"')
def _ch02_w3(answer):
    return _choice(answer, CH02_W3_OPTIONS, "b", {
        "a": "that is the linear-scaling rule, exact only for the SDE: SGD's covariance solves "
             "HΣ + ΣH − ηHΣH = (η/b)D, whose correction depends on η alone",
        "c": "the batch noise is D/b, but at equal η/b the step η grows with b in the same ratio: the temperature "
             "η/(2b) is the same; what differs is the discretisation term ηHΣH",
        "d": "the SDE's temperature is η/(2b), equal for both runs; only SGD's discrete equation sees η on its own",
    }, "runs at equal η/b")


# ---- ch02-ex2: heavy-ball momentum ------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def _ch02_ex2_refs():
    from vdlib.theory import sgd_symbolic as sym
    eta, h, D, b, mu = (sym.eta, sym.h, sym.D1, sym.b, sym.mu)
    hb = sym.heavy_ball()
    A = sp.Matrix([[1 - eta * h, mu], [-eta * h, mu]])

    def sxx(noise, transposed=False):
        s = sp.symbols("s_xx s_xv s_vv")
        S = sp.Matrix([[s[0], s[1]], [s[1], s[2]]])
        R = (A.T * S * A if transposed else A * S * A.T) + noise * (D / b) * noise.T - S
        return sp.factor(sp.solve([R[0, 0], R[0, 1], R[1, 1]], s, dict=True)[0][s[0]])
    kick = sp.Matrix([-eta, -eta])
    return hb, sxx(sp.Matrix([0, -eta])), sxx(kick, transposed=True)


@_register("ch02-ex2", "sgd_as_sde_ex2",
           "the exact stationary variance S_xx of x under heavy-ball SGD (a SymPy expression in eta, h, D, b, mu)")
def _ch02_ex2(answer):
    from vdlib.theory import sgd_symbolic as sym
    expr = _symbolic(answer, _ch02_symbols(), "S_xx in terms of eta, h, D, b, mu")
    if isinstance(expr, sp.MatrixBase):
        raise _Invalid(f"expected the single entry S_xx, got a matrix of shape {expr.shape}")
    hb, v_only, transposed = _ch02_ex2_refs()
    return _symbolic_verdict(expr, hb.Sxx, [
        (hb.leading, "that is the leading order in η; the exercise asks for the exact S_xx, which carries the "
                     "factor 1/(1 − ηh/(2(1 + μ)))"),
        (sym.one_dimensional().discrete, "this is plain SGD (μ = 0): the velocity must keep μv_k"),
        (v_only, "the noise enters x too: x_{k+1} = x_k + v_{k+1} carries the kick −ηξ_k, so the noise vector is "
                 "−η(1, 1), not (0, −η)"),
        (transposed, "you solved S = AᵀSA + Q; the covariance of s_{k+1} = As_k + Bξ_k is ASAᵀ + Q"),
        (hb.Svv, "that is S_vv, the variance of the velocity; the exercise asks for S_xx"),
    ], "S_xx")


# ---- ch02-ex3: exact sampling of the OU process -------------------------------------------------

def _ch02_ex3_ref(kind="exact"):
    """1-D stationary variance of the chain sampled at times kη: exact OU transition or Euler–Maruyama."""
    from vdlib.theory import sgd_symbolic as sym
    eta, h, D, b = sym.eta, sym.h, sym.D1, sym.b
    s = sp.Symbol("s", positive=True)
    temperature = eta / (2 * b)
    if kind == "kick":  # the variance of one exact kick
        return sp.simplify(sp.integrate(sp.exp(-2 * s * h) * 2 * temperature * D, (s, 0, eta)))
    if kind == "euler":  # the discrete Lyapunov equation of SGD
        return sym.one_dimensional().discrete
    return sp.simplify(_ch02_ex3_ref("kick") / (1 - sp.exp(-2 * eta * h)))


@_register("ch02-ex3", "sgd_as_sde_ex3",
           "the stationary variance of the exactly sampled chain in one dimension "
           "(a SymPy expression in eta, h, D, b; beta is accepted and read as 2b/eta)")
def _ch02_ex3(answer):
    from vdlib.theory import sgd_symbolic as sym
    beta = sp.Symbol("beta", positive=True)
    expr = _symbolic(answer, {**_ch02_symbols(), "beta": beta}, "the stationary variance")
    if isinstance(expr, sp.MatrixBase):
        raise _Invalid(f"expected the 1-D variance, a single expression, got a matrix of shape {expr.shape}")
    expr = expr.subs(beta, 2 * sym.b / sym.eta)
    ref = _ch02_ex3_ref()
    return _symbolic_verdict(expr, ref, [
        (_ch02_ex3_ref("euler"), "that is the Euler–Maruyama (SGD) chain, with 1 − ηh in place of e^{−ηh}: the "
                                 "discrete Lyapunov equation"),
        (_ch02_ex3_ref("kick"), "that is the variance of one kick ε_k; the stationary variance solves "
                                "σ² = e^{−2ηh}σ² + Var ε"),
        (2 * ref, "off by a factor of 2: 2β⁻¹D = ηD/b, so the continuous equation is 2hσ² = ηD/b"),
    ], "stationary variance")


# ---- ch02-ex4: the second-moment instability ---------------------------------------------------

CH02_EX4_BATCHES = (1, 2, 4, 8)


def _ch02_ex4_ref(batches=CH02_EX4_BATCHES, N=2000, seed=0):
    from scipy.optimize import brentq

    from vdlib.theory import linear, sgd
    from vdlib.theory.regression import make_linear_regression
    problem = make_linear_regression(N=N, seed=seed)
    hi = 0.999 * linear.max_stable_learning_rate(problem.hessian())
    out = []
    for bb in batches:
        def excess(e, bb=bb):
            return sgd.second_moment_spectral_radius(problem, e, bb) - 1.0
        out.append(brentq(excess, 1e-3, hi) if excess(hi) > 0 else float("nan"))
    return np.array(out)


_ch02_ex4_cached = functools.lru_cache(maxsize=1)(_ch02_ex4_ref)


@_register("ch02-ex4", "sgd_as_sde_ex4",
           "the learning rates η_c(b) for b = 1, 2, 4, 8 at which the second moment starts to diverge "
           "(an array of 4 floats, in this order)")
def _ch02_ex4(answer):
    from vdlib.theory import linear
    from vdlib.theory.regression import make_linear_regression
    value = _array(answer, (len(CH02_EX4_BATCHES),), "η_c for b = 1, 2, 4, 8")
    ref = _ch02_ex4_cached()
    eta_mean = linear.max_stable_learning_rate(make_linear_regression(N=2000, seed=0).hessian())
    return _numeric_verdict(value, ref, 1e-3, 0.0, [
        (np.full(ref.shape, eta_mean), "that is 2/λ_max(H), where the MEAN stops converging; the second moment "
                                       "diverges earlier: find where second_moment_spectral_radius crosses 1"),
        (ref[::-1], "the order is reversed: list b = 1, 2, 4, 8; the threshold grows with b"),
    ], "η_c(b), b = 1, 2, 4, 8 (brentq on the spectral radius)")


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


# ================================================================================================
# chapter 3: the Fokker–Planck equation

def _ch03_symbols():
    return {"x": sp.Symbol("x", real=True), "y": sp.Symbol("y", real=True),
            "beta": sp.Symbol("beta", positive=True), "h": sp.Symbol("h", positive=True),
            "D": sp.Symbol("D", positive=True)}


# ---- ch03-w1: the generator on x² ----------------------------------------------------------------

def _ch03_w1_ref(phi_power=2, with_noise=True):
    """L x^power for dx = −hx dt + √(2β⁻¹D) dW (``with_noise=False``: the drift part b·φ' alone)."""
    from vdlib.theory import symbolic as sym
    S = _ch03_symbols()
    x, h, D, beta = S["x"], S["h"], S["D"], S["beta"]
    return sp.expand(sym.generator(x**phi_power, [-h * x], D if with_noise else 0, beta, [x]))


@_register("ch03-w1", "fokker_planck_w1",
           "L applied to φ(x) = x² for dx = −hx dt + √(2β⁻¹D) dW with constant D "
           "(a SymPy expression in x, h, D, beta)")
def _ch03_w1(answer):
    S = _ch03_symbols()
    expr = _symbolic(answer, {k: S[k] for k in ("x", "h", "D", "beta")}, "Lφ in terms of x, h, D, beta")
    if isinstance(expr, sp.MatrixBase):
        raise _Invalid(f"expected a single expression (Lφ), got a matrix of shape {expr.shape}")
    ref = _ch03_w1_ref()
    drift = _ch03_w1_ref(with_noise=False)
    ito = ref - drift
    return _symbolic_verdict(expr, ref, [
        (drift, "the Itô term β⁻¹Dφ'' is missing: E[dW²] = dt keeps it at first order in dt"),
        (drift + 2 * ito, "off by a factor of 2 in the Itô term: it is ½σ²φ'' = β⁻¹Dφ'', with σ² = 2β⁻¹D"),
        (drift + ito / 2, "the Itô term is β⁻¹Dφ'' with φ'' = 2 for φ = x²"),
        (-drift + ito, "the sign of the drift term: b·φ' = (−hx)(2x) = −2hx²"),
    ], "L x²")


# ---- ch03-w2: where the Itô density puts its mode -----------------------------------------------

CH03_W2_OPTIONS = {
    "a": "at x = 0, the minimum of f: the noise has mean zero, so it cannot move the mode",
    "b": "left of 0: the Itô density carries the factor 1/D, less mass where the noise is large",
    "c": "right of 0: the kicks are larger on the right, so the particles spread further there and spend more time there",
    "d": "at x = 0 by symmetry: the stationary density of a gradient drift is always e^{−βf}",
}


def _ch03_ito_mode(beta=1.0):
    """The mode of the Itô stationary density of f = x²/2, D = 1 + ½ tanh x: f'(x*) = −β⁻¹D'(x*)."""
    from scipy.optimize import brentq

    from vdlib.theory import potentials as pot
    return brentq(lambda z: pot.shift_grad(z) + pot.shift_dD(z) / beta, -2.0, 2.0)


@_register("ch03-w2", "fokker_planck_w2", 'one letter, "a", "b", "c" or "d"')
def _ch03_w2(answer):
    mode = _ch03_ito_mode()
    correct = "b" if mode < 0 else "c"  # the side of the mode, computed
    return _choice(answer, CH03_W2_OPTIONS, correct, {
        "a": "the noise has mean zero, but its size depends on x: in the density the factor 1/D and the weight "
             "f'/D in the exponent move the mode",
        "c": "larger kicks carry particles OUT of the noisy region faster: in the Fickian form of (FP) the drift is "
             "b − β⁻¹D', pushed away from large noise, and ρ ∝ e^{−β∫f'/D}/D has LESS mass where D is large",
        "d": "e^{−βf} is stationary only for constant D (with a gradient drift); with D(x) it is not, as the "
             "Itô/Stratonovich comparison shows",
    }, "the mode of the Itô stationary density")


# ---- ch03-w3: stationary versus detailed balance -------------------------------------------------

CH03_W3_OPTIONS = {
    "a": "for D = I and b = −∇f, e^{−βf} is stationary with J = 0",
    "b": "in Example 19 with λ ≠ 0, e^{−Φ} is stationary and J = 0",
    "c": "a steady state needs only ∇·J^ss = 0",
    "d": "on ℝ^d every stationary density has J = 0, since probability cannot pile up anywhere",
}


@_register("ch03-w3", "fokker_planck_w3", 'the letters of all true statements, e.g. "ab"')
def _ch03_w3(answer):
    return _choice(answer, CH03_W3_OPTIONS, {"a", "c"}, {
        "a": "(a) is true: the chapter checks that J[e^{−βf}] = 0 for D = I and any f (detailed balance)",
        "b": "(b) is false: e^{−Φ} is stationary, but its current is λJ^ss ≠ 0, a rotation around the origin",
        "c": "(c) is true: stationarity is ∂tρ = −∇·J = 0, nothing more; J = 0 is the stronger detailed balance",
        "d": "(d) confuses ∇·J = 0 with J = 0: a divergence-free current can circulate without piling up "
             "probability anywhere (Example 19)",
    }, "stationary versus detailed balance")


# ---- ch03-ex1: the modes of the three readings ----------------------------------------------------

def _ch03_ex1_ref(beta=1.0, sign=1.0):
    """Modes of ρ ∝ D^{−p} e^{−β∫f'/D} for p = 1, ½, 0: f'(x*) = −p β⁻¹ D'(x*) (sign −1 for the hint)."""
    from scipy.optimize import brentq

    from vdlib.theory import potentials as pot
    return np.array([brentq(lambda z: pot.shift_grad(z) + sign * p * pot.shift_dD(z) / beta, -2.0, 2.0)
                     for p in (1.0, 0.5, 0.0)])


@_register("ch03-ex1", "fokker_planck_ex1",
           "the modes x* of the stationary density under the Itô, Stratonovich and isothermal readings "
           "(an array of 3 floats, in this order)")
def _ch03_ex1(answer):
    value = _array(answer, (3,), "the modes: Itô, Stratonovich, isothermal")
    ref = _ch03_ex1_ref()
    return _numeric_verdict(value, ref, 0.0, 0.006, [
        (_ch03_ex1_ref(sign=-1.0), "the modes sit on the wrong side: the mode moves AWAY from the noisier side, "
                                   "f'(x*) = −pβ⁻¹D'(x*)"),
        (ref[::-1], "the order is reversed: list Itô (p = 1), Stratonovich (p = ½), isothermal (p = 0)"),
        (np.zeros(3), "all three at the minimum of f would be the Gibbs density; only the isothermal reading "
                      "(p = 0) has its mode there"),
    ], "modes (Itô, Stratonovich, isothermal); grid modes, spacing 0.01, pass too")


# ---- ch03-ex3: the current of the Gibbs density under rotated noise -------------------------------

def _ch03_ex3_ref(angle=sp.pi / 4, sign=1):
    """J/ρ for ρ = e^{−βf}, f = x²/2, b = −∇f and D = R diag(1, 2) Rᵀ, R the rotation by ``angle``."""
    from vdlib.theory import symbolic as sym
    from vdlib.theory import vector_calculus as vc
    S = _ch03_symbols()
    x, y, beta = S["x"], S["y"], S["beta"]
    R = sp.Matrix([[sp.cos(angle), -sp.sin(angle)], [sp.sin(angle), sp.cos(angle)]])
    D = R * sp.diag(1, 2) * R.T
    f = x**2 / 2
    rho = sp.exp(-beta * f)
    J = sym.probability_current(rho, -vc.gradient(f, [x, y]), D, beta, [x, y])
    return sp.simplify(sign * J / rho), rho


@_register("ch03-ex3", "fokker_planck_ex3",
           "J/ρ for ρ = e^{−βf} and the rotated D (a 2×1 SymPy matrix in x, y, beta)")
def _ch03_ex3(answer):
    S = _ch03_symbols()
    expr = _matrix_symbolic(answer, {k: S[k] for k in ("x", "y", "beta")}, (2, 1), "J/ρ")
    ref, rho = _ch03_ex3_ref()
    if _symbolic_equal(expr / rho, ref):
        raise _Wrong("that is J itself; divide it by ρ = e^{−βf} (J/ρ is a polynomial in x)")
    return _symbolic_verdict(expr, ref, [
        (-ref, "the sign: the current is J = bρ − β⁻¹∇·(Dρ) with b = −∇f (the paper's flux ∇fρ + β⁻¹∇·(Dρ) is −J)"),
        (sp.zeros(2, 1), "that is the current for D = diag(1, 2), which vanishes; rotate D by 45° first"),
        (_ch03_ex3_ref(angle=-sp.pi / 4)[0], "you rotated by −45°: D = R diag(1, 2) Rᵀ with R the rotation by +45°"),
    ], "J/ρ")


def _symbolic_equal(a, b) -> bool:
    try:
        return all(sp.simplify(u - v) == 0 for u, v in zip(a, b))
    except Exception:
        return False
