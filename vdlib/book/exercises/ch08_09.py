"""Answer checks of chapter 8 (critical points move) and chapter 9 (limit cycles).

Registered on import (by :mod:`vdlib.book.exercises`): the numbered exercises ``chNN-exK`` and the warm-up
concept checks ``chNN-wK``. Each reference is computed by the vdlib functions the chapter's solution calls,
or by a few lines of SymPy, never typed in; functions decorated ``@_reference`` give it to
:func:`vdlib.book.exercises.reference`. Each numeric tolerance is stated in the check's message.
"""
from __future__ import annotations

import functools

import numpy as np
import sympy as sp

from .kit import (_array, _call, _choice, _float, _Invalid, _number, _numeric_verdict, _reference, _register,
                  _symbolic, _symbolic_verdict, _Wrong)

# ------------------------------------------------------------------------------------------------
# chapter 8: the shift of the mode; SGD's discrete factor

@functools.lru_cache(maxsize=1)
def _ch08_ex1_ref():
    from vdlib.theory import critical_shift as cs
    x1, x2 = cs.x1, cs.x2
    H1 = sp.Matrix([[1, sp.Rational(1, 2)], [sp.Rational(1, 2), 1]])
    f1 = (sp.Matrix([x1, x2]).T * H1 * sp.Matrix([x1, x2]))[0] / 2
    D1 = sp.eye(2) + sp.tanh(x1) / 2 * sp.diag(0, 1)
    return np.array(cs.first_order_shift(f1, D1, (x1, x2)).v, dtype=float).reshape(2)


_reference("ch08-ex1")(_ch08_ex1_ref)


@_register("ch08-ex1", "critical_shift_ex1", "v_ex1, the first-order shift v of the mode (2 numbers, mode ≈ β⁻¹ v)")
def _ch08_ex1(answer):
    v = _array(answer, (2,), "the shift v = (v₁, v₂)")
    ref = _ch08_ex1_ref()
    return _numeric_verdict(v, ref, 0.0, 0.02 * np.abs(ref).max(), [
        (np.zeros(2), "v = 0 is the prediction of ∇·D alone; here ∇·D = 0 but the divergence of Q₀ moves the mode"),
        (-ref, "the sign is reversed: the mode moves towards the low-noise side x₁ < 0"),
        (ref[::-1], "the components are swapped"),
    ], "v (tolerance 2 % of |v|, so a Fokker–Planck mode / β⁻¹ on a fine grid also passes)")


@functools.lru_cache(maxsize=1)
def _ch08_ex3_ref():
    eta, eps, d0, d1, V, K = sp.symbols("eta epsilon d_0 d_1 V K", positive=True)
    m = 1 - eta
    solV = sp.solve(sp.Eq(V, m**2 * V + eps * eta * d0), V)[0]
    solK = sp.solve(sp.Eq(K, m**3 * K + 3 * m * eps * eta * d1 * solV), K)[0]
    mode = sp.simplify(-solK / (2 * solV))
    factor = sp.simplify(mode / (-eps * d1 / 2))
    return {"eta": eta, "epsilon": eps, "d_1": d1, "d_0": d0}, factor, mode


_reference("ch08-ex3")(lambda: _ch08_ex3_ref()[1])


@_register("ch08-ex3", "critical_shift_ex3",
           "factor, the SymPy expression in eta with mode = −(ε d₁/2)·factor (dimensionless)")
def _ch08_ex3(answer):
    syms, factor, mode = _ch08_ex3_ref()
    if isinstance(answer, (int, float, np.floating)) and answer != 1:
        raise _Invalid(f"got the number {answer}; the exercise asks for a function of eta")
    expr = _symbolic(answer, syms, "the factor as a function of eta")
    eta = syms["eta"]
    return _symbolic_verdict(expr, factor, [
        (sp.Integer(1), "1 is the SDE value (the limit η → 0); keep the discrete-time terms in η"),
        (mode, "that is the whole first-order mode; the factor is the mode divided by −ε d₁/2"),
        (sp.simplify(factor / (1 - eta)), "the factor m = 1 − η from the cross term 3m ε η d₁ V is missing"),
    ], "the discrete-time factor")


# ------------------------------------------------------------------------------------------------
# chapter 8: critical points move

CH08_W1 = {
    "a": "−(D+Q)∇Φ: the A-type SDE is already an Itô SDE with this drift",
    "b": "−(D+Q)∇Φ + β⁻¹∇·(D+Q)",
    "c": "−(D+Q)∇Φ − β⁻¹∇·(D+Q)",
    "d": "−D∇Φ + β⁻¹∇·D: Q drops out of the drift because it is antisymmetric",
}


@_register("ch08-w1", "critical_shift_w1", 'a letter among "a", "b", "c", "d"')
def _ch08_w1(answer):
    return _choice(answer, CH08_W1, "b", {
        "a": "read naively as Itô, the drift −(D+Q)∇Φ does not keep e^(−βΦ) stationary (the chapter's 'plain Itô' "
             "line): Ao's convention adds the drift β⁻¹∇·(D+Q)",
        "c": "the sign of the correction: it is +β⁻¹∇·(D+Q), the Γ term of the complete recipe with D̃ = D/β, Q̃ = Q/β",
        "d": "Q does not drop out: Q∇Φ is not zero in general and ∇·Q enters the correction; antisymmetry only makes "
             "the current β⁻¹∇·(Qρ) divergence-free",
    }, "the Itô drift of the A-type SDE")


@functools.lru_cache(maxsize=1)
def _ch08_w2_ref():
    from vdlib.theory import critical_shift as cs
    x, eta, b, h, d0, d1 = sp.symbols("x eta b h d_0 d_1", positive=True)
    v = cs.first_order_shift(h * x**2 / 2, sp.Matrix([[d0 + d1 * x]]), (x,)).v[0]
    syms = {"eta": eta, "b": b, "h": h, "d_0": d0, "d_1": d1}
    return syms, sp.simplify(eta / (2 * b) * v)


@_register("ch08-w2", "critical_shift_w2", "x*, a SymPy expression in eta, b, h, d_1 (and d_0 if it enters)")
def _ch08_w2(answer):
    syms, ref = _ch08_w2_ref()
    expr = _symbolic(answer, syms, "the first-order mode x*")
    h, d0 = syms["h"], syms["d_0"]
    return _symbolic_verdict(expr, ref, [
        (2 * ref, "a factor of 2: the temperature is β⁻¹ = η/(2b), not η/b"),
        (-ref, "the sign: the mode moves towards the low-noise side, against ∇·D = d₁"),
        (ref * h**2, "H⁻¹ = 1/h divides, it does not multiply: x* = −β⁻¹ H⁻¹ ∇·D"),
        (ref / d0, "no division by D(0) = d₀: x* = −β⁻¹ H⁻¹ ∇·D, with ∇·D = d₁"),
    ], "x*")


CH08_W3 = {
    "a": "the mean and the mode both move to about −η/(4b)",
    "b": "the mode moves to about −η/(4b); the mean stays at the minimum x = 0",
    "c": "the mean moves to about −η/(4b); the mode stays at the minimum x = 0",
    "d": "neither moves; only the spread grows",
}


@_register("ch08-w3", "critical_shift_w3", 'a letter among "a", "b", "c", "d"')
def _ch08_w3(answer):
    return _choice(answer, CH08_W3, "b", {
        "a": "take expectations of one step at stationarity: E[∇f(x)] = 0, and ∇f(x) = x is linear, so E[x] = 0: "
             "the mean cannot move",
        "c": "the other way round: ρ^ss is skewed, its peak moves; its mean is pinned by E[∇f(x)] = 0",
        "d": "the spread grows, but the state-dependent D also skews ρ^ss, and its mode moves by −η/(4b) to first order",
    }, "what moves in the 1-D example")


@functools.lru_cache(maxsize=1)
def _ch08_ex2_ref():
    from vdlib.theory import critical_shift as cs
    H = sp.Matrix([[1, sp.Rational(1, 2)], [sp.Rational(1, 2), 2]])
    D = sp.Matrix([[3, sp.Rational(-1, 3)], [sp.Rational(-1, 3), sp.Rational(1, 2)]])
    X = sp.Matrix([cs.x1, cs.x2])
    U = cs.first_order_shift((X.T * H * X)[0] / 2, D, (cs.x1, cs.x2)).U
    return (np.array(U, dtype=float), np.array(D.inv() * H, dtype=float), np.array(H, dtype=float))


@_register("ch08-ex2", "critical_shift_ex2",
           "U = ∇²Φ₀(0) for the exercise's H and D (a 2×2 SymPy matrix or array; Φ = ½ xᵀUx)")
def _ch08_ex2(answer):
    U, DinvH, H = _ch08_ex2_ref()
    got = _array(answer, (2, 2), "the matrix U")
    return _numeric_verdict(got, U, 1e-8, 1e-12, [
        (DinvH, "that is D⁻¹H, the detailed-balance answer; D and H do not commute here, so Q₀₀ ≠ 0 and "
                "U = (D + Q₀₀)⁻¹H (Lemma 20)"),
        (H, "Φ₀ is not f: U = (D + Q₀₀)⁻¹H, not H"),
        (np.linalg.inv(U), "that is U⁻¹ (the covariance over β⁻¹); U is the Hessian of Φ₀"),
    ], "U (tolerance 1e-8 relative)")


# ------------------------------------------------------------------------------------------------
# chapter 9: critical points, periods, circulation

def _n_critical_points_ref(lam, n_starts=9):
    from vdlib.theory import potentials as pot
    from vdlib.theory import vector_fields as vf
    return len(vf.critical_points(lambda X, Y: pot.example19_drift(X, Y, lam), ((-2, 2), (-2, 2)),
                                  jacobian=lambda x, y: pot.example19_jacobian(x, y, lam), n_starts=n_starts))


_reference("ch09-ex1")(lambda: _n_critical_points_ref)
_CH09_LAMS = (0.5, 0.775, 1.5)  # λ_c = e^(−1/4) = 0.7788 lies between the second and third


@_register("ch09-ex1", "limit_cycles_ex1", "your function n_critical_points(lam), returning an int")
def _ch09_ex1(fn):
    got = []
    for lam in _CH09_LAMS:
        out = _call(fn, "the number of critical points, an int", lam)
        if isinstance(out, (bool, str)) or not float(out).is_integer():
            raise _Invalid(f"expected an int, got {out!r}")
        got.append(int(out))
    want = [_n_critical_points_ref(lam) for lam in _CH09_LAMS]
    if got == want:
        return f"counts {dict(zip(_CH09_LAMS, got))} (exact)"
    if got[1] < want[1] and got[0] == want[0]:
        raise _Wrong(f"at λ = 0.775 (just below λ_c) you count {got[1]}, not {want[1]}: the saddle at the origin is "
                     "missed; use an odd n_starts so that a start sits at the centre of the box")
    raise _Wrong(f"your counts {dict(zip(_CH09_LAMS, got))} differ from {dict(zip(_CH09_LAMS, want))}")


@functools.lru_cache(maxsize=1)
def _ch09_ex2_ref():
    c = sp.Symbol("c", positive=True)
    A = sp.pi * sp.sqrt(2 * c) ** 2
    return c, sp.diff(A, c) / (1 + c), A


_reference("ch09-ex2")(lambda: sp.lambdify(_ch09_ex2_ref()[0], _ch09_ex2_ref()[1], "math"))
_CH09_LEVELS = (0.1, 0.5, 2.0)


@_register("ch09-ex2", "limit_cycles_ex2", "your function period_formula(c), returning the period T(c) (a float)")
def _ch09_ex2(fn):
    c, T, A = _ch09_ex2_ref()
    got = np.array([_float(_call(fn, "the period, a float", lev), "the period") for lev in _CH09_LEVELS])
    f = {k: sp.lambdify(c, e, "numpy") for k, e in (("T", T), ("A", A / (1 + c)), ("noG", sp.diff(A, c)),
                                                     ("mul", sp.diff(A, c) * (1 + c)))}
    at = {k: np.array([float(fn_(lev)) for lev in _CH09_LEVELS]) for k, fn_ in f.items()}
    return _numeric_verdict(got, at["T"], 1e-8, 0.0, [
        (at["noG"], "the speed g(Φ) = 1 + Φ is missing: T(c) = A'(c)/g(c)"),
        (at["A"], "use the derivative A'(c) of the enclosed area, not A(c)"),
        (at["mul"], "divide by g(c): faster rotation means a shorter period"),
    ], "T(c) at c = " + ", ".join(map(str, _CH09_LEVELS)))


def _circulation_ref(lam, beta, beta_in_z=True):
    from scipy.integrate import quad
    bz = beta if beta_in_z else 1.0
    zx = quad(lambda s: np.exp(-bz * (s * s - 1) ** 2 / 4), -np.inf, np.inf)[0]
    return 2 * np.pi * lam / (np.sqrt(2 * np.pi / bz) * zx)


_reference("ch09-ex3")(lambda: _circulation_ref)
_CH09_CASES = ((1.5, 1.0), (1.0, 0.5), (2.0, 2.0))


@_register("ch09-ex3", "limit_cycles_ex3", "your function circulation(lam, beta), returning ⟨L⟩ (a float)")
def _ch09_ex3(fn):
    from vdlib.theory import potentials as pot
    got = np.array([_float(_call(fn, "the angular momentum, a float", *c), "⟨L⟩") for c in _CH09_CASES])
    want = np.array([_circulation_ref(*c) for c in _CH09_CASES])
    if abs(want[0] - pot.example19_angular_momentum(1.5)) > 1e-9:  # the β = 1 case is Example 19's
        raise RuntimeError("reference circulation disagrees with example19_angular_momentum")
    return _numeric_verdict(got, want, 1e-6, 0.0, [
        (np.array([_circulation_ref(*c, beta_in_z=False) for c in _CH09_CASES]),
         "Z must be Z_β = ∫ e^(−βΦ): at β ≠ 1 you used the β = 1 normaliser"),
        (want / (2 * np.pi), "the integral ∫ λ r² e^(−r⁴/4) dx = 2πλ: a factor 2π is missing"),
    ], "⟨L⟩ at (λ, β) = " + ", ".join(map(str, _CH09_CASES)))


# ------------------------------------------------------------------------------------------------
# chapter 9: limit cycles

CH09_W1 = {
    "a": "only under Assumption 4 (∇·j = 0), which makes them level sets of Φ",
    "b": "by stationarity alone: they are streamlines of the divergence-free J^ss = jρ^ss, level curves of a "
         "stream function ψ",
    "c": "not in general: a volume-preserving flow is only recurrent",
    "d": "only in detailed balance (j = 0)",
}


@_register("ch09-w1", "limit_cycles_w1", 'a letter among "a", "b", "c", "d"')
def _ch09_w1(answer):
    return _choice(answer, CH09_W1, "b", {
        "a": "Assumption 4 only adds that the loops are level sets of Φ (ψ a function of Φ); Example 19 violates it, "
             "and its orbits are still closed circles",
        "c": "recurrence without closing is the picture for d > 2 (erratum E7); in the plane a divergence-free field is "
             "a rotated gradient J∇ψ, and its streamlines close",
        "d": "with j = 0 there is no motion ẋ = j at all; the question is about j ≠ 0",
    }, "when the orbits of ẋ = j close in 2-D")


@functools.lru_cache(maxsize=1)
def _ch09_w2_ref():
    w1, w2 = sp.Integer(1), sp.Rational(4, 3)
    periods = (2 * sp.pi / w1, 2 * sp.pi / w2)
    T = 2 * sp.pi * sp.lcm(1 / w1, 1 / w2)  # the first time both rotations are whole turns
    return float(T), tuple(float(p) for p in periods)


@_register("ch09-w2", "limit_cycles_w2", "the return time T (a float, in time units; a SymPy number such as 6*pi is fine)")
def _ch09_w2(answer):
    T, (T1, T2) = _ch09_w2_ref()
    value = _number(answer, "the return time")
    return _numeric_verdict(value, T, 1e-6, 0.0, [
        (T1, "that is the period of the (x₁, x₂) plane alone; the orbit returns when both planes have made whole turns"),
        (T2, "that is the period of the (x₃, x₄) plane alone; the orbit returns when both planes have made whole turns"),
        (T1 * T2, "not the product of the periods: the smallest common multiple"),
    ], "T")


CH09_W3 = {
    "a": "the density concentrates at the origin, the only critical point of f at λ = 1.5",
    "b": "the density stays e^(−Φ)/Z; only the mean angular momentum changes, from 0 to 2πλ/Z",
    "c": "nothing measurable: the density is the same, so every stationary average is the same",
    "d": "the density collapses onto a limit cycle of the noise-free flow around the origin",
}


@_register("ch09-w3", "limit_cycles_w3", 'a letter among "a", "b", "c", "d"')
def _ch09_w3(answer):
    return _choice(answer, CH09_W3, "b", {
        "a": "the stationary density is e^(−Φ)/Z for every λ, with its modes at (±1, 0): the particles do not settle at "
             "the critical point of f",
        "c": "the circulation ⟨x₁ẋ₂ − x₂ẋ₁⟩ is an average over increments, a property of the current J^ss, not of "
             "ρ^ss: it switches on although no histogram changes",
        "d": "the noise-free flow at λ = 1.5 has no limit cycle (a weak focus, erratum E8), and with noise the density "
             "stays e^(−Φ)/Z",
    }, "what λ changes in the stationary state")
