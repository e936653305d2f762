"""Answer checks of chapter 6 (Wasserstein gradient flow, JKO) and chapter 7 (the linear case).

Registered on import (by :mod:`vdlib.book.exercises`): the numbered exercises ``chNN-exK`` and the warm-up
concept checks ``chNN-wK``. Each reference is computed by the vdlib functions the chapter's solution calls,
or by a few lines of SymPy, never typed in; functions decorated ``@_reference`` give it to
:func:`vdlib.book.exercises.reference`. Each numeric tolerance is stated in the check's message.
"""
from __future__ import annotations

import functools

import numpy as np
import sympy as sp

from .kit import (_array, _call, _choice, _equal, _float, _Invalid, _no_number, _numeric_verdict, _reference,
                  _register, _symbolic, _symbolic_verdict, _Wrong)

# ------------------------------------------------------------------------------------------------
# chapter 6: W2 between Gaussians

@functools.lru_cache(maxsize=1)
def _ch06_ex1_ref():
    z = sp.Symbol("z", real=True)
    m1, m2 = sp.symbols("m_1 m_2", real=True)
    s1, s2 = sp.symbols("s_1 s_2", positive=True)
    phi = sp.exp(-z**2 / 2) / sp.sqrt(2 * sp.pi)
    w2sq = sp.integrate(((m1 + s1 * z) - (m2 + s2 * z)) ** 2 * phi, (z, -sp.oo, sp.oo))
    return {"m_1": m1, "m_2": m2, "s_1": s1, "s_2": s2}, sp.simplify(w2sq)


_reference("ch06-ex1")(lambda: _ch06_ex1_ref()[1])


@_register("ch06-ex1", "wasserstein_jko_ex1", "W_2² as a SymPy expression in the symbols m_1, m_2, s_1, s_2")
def _ch06_ex1(answer):
    syms, ref = _ch06_ex1_ref()
    if isinstance(answer, (int, float, np.floating)):
        raise _Invalid(f"got the number {answer}; the exercise asks for the formula")
    expr = _symbolic(answer, syms, "W_2² in m_1, m_2, s_1, s_2")
    m1, m2, s1, s2 = syms.values()
    return _symbolic_verdict(expr, ref, [
        (sp.sqrt(ref), "that is W_2; the exercise asks for W_2² (no square root)"),
        ((m1 - m2) ** 2 + (s1 + s2) ** 2, "the cross term: ∫ z φ = 0 and ∫ z² φ = 1 give (s_1 − s_2)², not (s_1 + s_2)²"),
        ((m1 - m2) ** 2, "the spread term (s_1 − s_2)² is missing: ∫ z² φ(z) dz = 1"),
        ((m1 - m2) ** 2 + s1**2 + s2**2, "the cross term −2 s_1 s_2 ∫ z² φ is missing"),
    ], "W_2²")


# ------------------------------------------------------------------------------------------------
# chapter 6: Wasserstein gradient flow, JKO, Lemma 6

CH06_W1_OPTIONS = {
    "a": "the constant +1, which turns into the diffusion β⁻¹∇ρ",
    "b": "β⁻¹ log ρ, because ρ∇log ρ = ∇ρ",
    "c": "f, because ∇f ρ is the diffusion flux",
    "d": "none: the diffusion comes from the W₂ distance, not from F",
}


@_register("ch06-w1", "wasserstein_jko_w1", 'a letter, "a" to "d": the term of δF/δρ that becomes β⁻¹∇ρ')
def _ch06_w1(answer):
    return _choice(answer, CH06_W1_OPTIONS, "b", {
        "a": "a constant has zero gradient: the +1 drops out of ∇(δF/δρ) and contributes nothing",
        "c": "ρ∇f is the drift flux; the diffusion flux β⁻¹∇ρ comes from the entropy term",
        "d": "the metric fixes how mass moves (v = −∇ δF/δρ); which terms appear is decided by F, and its "
             "entropy term gives the diffusion",
    }, "the term that becomes diffusion")


@_reference("ch06-w2")
def _ch06_w2_ref(m1=1.0, s1=0.5, m2=1.0, s2=2.0):
    from vdlib.theory import transport as tr
    return tr.w2_gaussian_1d(m1, s1, m2, s2)


@_register("ch06-w2", "wasserstein_jko_w2", "W₂(N(1, 0.5²), N(1, 2²)) (a float)")
def _ch06_w2(answer):
    value = _float(answer, "W₂")
    ref = _ch06_w2_ref()
    s1, s2 = 0.5, 2.0
    return _numeric_verdict(value, ref, 1e-3, 0.0, [
        (ref**2, "that is W₂², the squared distance; take the square root"),
        (abs(s2**2 - s1**2), "that compares the variances; W₂ compares the standard deviations, |s₁ − s₂|"),
        (np.sqrt(abs(s2**2 - s1**2)), "√|s₂² − s₁²| compares variances; the quantile functions differ by (s₁ − s₂)z, "
                                      "so W₂ = |s₁ − s₂|"),
        (s1 + s2, "the cross term: ∫(s₁z − s₂z)²φ = (s₁ − s₂)², not (s₁ + s₂)²"),
        (0.0, "equal means do not make the distance zero: the spreads differ"),
    ], "W₂")


@functools.lru_cache(maxsize=1)
def _ch06_ex2_ref():
    from vdlib.theory import transport as tr
    gj = tr.gaussian_jko_step_symbolic()
    return gj


_reference("ch06-ex2")(lambda: _ch06_ex2_ref().s_new)


@_register("ch06-ex2", "wasserstein_jko_ex2", "s′, the standard deviation after one Gaussian JKO step, as a SymPy "
                                              "expression in the symbols s_0, tau, beta")
def _ch06_ex2(answer):
    gj = _ch06_ex2_ref()
    s0, tau, beta, s = gj.s0, gj.tau, gj.beta, gj.s
    _no_number(answer, "the formula for s′")
    expr = _symbolic(answer, {"s_0": s0, "tau": tau, "beta": beta}, "s′ in s_0, tau, beta")
    ref = gj.s_new

    def positive_root(poly):
        return [r for r in sp.solve(poly, s) if r.subs({s0: 1, tau: sp.Rational(1, 10), beta: 1}) > 0][0]

    negative = [r for r in sp.solve((1 + tau) * s**2 - s0 * s - tau / beta, s) if not _equal(r, ref)]
    return _symbolic_verdict(expr, ref, [
        *((r, "that is the negative root of (1 + τ)s′² − s₀s′ − τ/β = 0; a standard deviation is positive")
          for r in negative),
        (positive_root(s**2 - s0 * s - tau / beta),
         "the coefficient of s′² is (1 + τ): the term E f = (m² + s²)/2 contributes τs′ to the stationarity "
         "condition, besides the (s′ − s₀)/τ of the W₂ term"),
        (positive_root((1 + tau) * s**2 - s0 * s - tau),
         "β⁻¹ is missing: the entropy enters F as β⁻¹ log s"),
        (s0 + tau * (1 / (beta * s0) - s0),
         "that is the first-order (explicit Euler) expansion; the JKO step is implicit: give the exact positive root"),
    ], "s′")


@functools.lru_cache(maxsize=4)
def _ch06_ex3_ref(d11=3, d22=1):
    """∇Φ for f = x₁²/2 and D = diag(d11, d22): the zero-current condition D∇Φ = ∇f."""
    x1, x2 = sp.symbols("x_1 x_2", real=True)
    beta = sp.Symbol("beta", positive=True)
    grad_f = sp.Matrix([x1, 0])
    grad_phi = sp.diag(d11, d22).inv() * grad_f
    phi = sp.integrate(grad_phi[0], x1) + sp.integrate(grad_phi[1].subs(x1, 0), x2)
    return {"x_1": x1, "x_2": x2, "beta": beta}, phi


_reference("ch06-ex3")(lambda: _ch06_ex3_ref()[1])


@_register("ch06-ex3", "wasserstein_jko_ex3", "Φ for D = diag(3, 1) and f = x₁²/2, a SymPy expression in the "
                                              "symbols x_1, x_2 (up to an additive constant)")
def _ch06_ex3(answer):
    syms, ref = _ch06_ex3_ref()
    x1, x2, beta = syms["x_1"], syms["x_2"], syms["beta"]
    _no_number(answer, "Φ as a function of x_1, x_2")
    expr = _symbolic(answer, syms, "Φ in x_1, x_2")
    if isinstance(expr, sp.MatrixBase):
        raise _Invalid(f"got a matrix of shape {expr.shape}; Φ is a scalar expression")

    def grad(e):
        return sp.Matrix([sp.diff(e, x1), sp.diff(e, x2)])

    if beta in expr.free_symbols:
        if _equal(grad(-sp.log(expr) / beta), grad(ref)):
            raise _Wrong("that is the density e^{−βΦ}; set answer to the potential Φ itself")
        raise _Wrong("Φ does not depend on β here: for constant D the zero-current condition D∇Φ = ∇f has no β")
    if _equal(grad(expr), grad(ref)):
        return f"∇Φ = {list(grad(ref))}, so Φ = {ref} up to a constant (SymPy: the gradients agree)"
    f = x1**2 / 2
    for candidate, hint in (
            (f, "Φ = f holds for D = diag(1, a), where ∇f = (x₁, 0) is an eigenvector of D with eigenvalue 1; "
                "here D₁₁ = 3"),
            (3 * f, "inverted: the noise along ∇f is three times larger, which flattens the density, Φ = f/D₁₁ "
                    "from D∇Φ = ∇f"),
            (x1**2 / 2 + x2**2 / 2, "f = x₁²/2 does not depend on x₂, and neither does Φ")):
        if _equal(grad(expr), grad(candidate)):
            raise _Wrong(hint)
    raise _Wrong(f"∇Φ = {list(grad(expr))} does not satisfy the zero-current condition D∇Φ = ∇f")


CH06_W3_OPTIONS = {
    "a": "with isotropic constant noise D = cI the stationary density is e^{−βf/c}, for every loss f",
    "b": "if Φ = f, the noise must be isotropic",
    "c": "zero stationary current (detailed balance) implies Φ = f",
    "d": "for a constant non-isotropic D the stationary density is never e^{−βf}",
}


@_register("ch06-w3", "wasserstein_jko_w3", 'a letter, "a" to "d": the true statement about Lemma 6')
def _ch06_w3(answer):
    e6 = ("erratum E6: D = diag(1, 2) with f = x₁²/2 has zero current for e^{−βf}, so Φ = f without isotropic "
          "noise; the converse holds for quadratic losses with an invertible Hessian only")
    return _choice(answer, CH06_W3_OPTIONS, "a", {
        "b": e6,
        "c": "erratum E11: commuting H and D give J = 0 and j = 0 with Φ = ½xᵀD⁻¹Hx ≠ f",
        "d": e6,
    }, "the true statement")


# ------------------------------------------------------------------------------------------------
# chapter 7: isotropic noise, rotating drift

@_reference("ch07-ex1")
def _ch07_ex1_ref(a=1.0, omega=2.0, beta=2.0):
    from vdlib.theory import linear
    J = np.array([[0.0, -1.0], [1.0, 0.0]])
    return linear.area_rate_theory(a * np.eye(2) - omega * J, np.eye(2), beta)


@_register("ch07-ex1", "linear_case_ex1",
           "the stationary area rate ⟨x₁ẋ₂ − x₂ẋ₁⟩ for a = 1, ω = 2, β = 2 (a float, area per unit SDE time)")
def _ch07_ex1(answer):
    value = _float(answer, "the area rate")
    ref, beta = _ch07_ex1_ref(), 2.0
    return _numeric_verdict(value, ref, 0.05, 0.0, [
        (-ref, "the sign is reversed: ⟨x₁ẋ₂ − x₂ẋ₁⟩ = 2Q₁₂/β is positive for counter-clockwise rotation"),
        (ref / 2, "a factor of 2 is missing: the area rate is 2Q₁₂/β"),
        (ref * beta, "divide by β: the area rate is 2Q₁₂/β"),
    ], "area rate (5 % admits a simulated value)")


# ------------------------------------------------------------------------------------------------
# chapter 7: the linear case

@_reference("ch07-w1")
def _ch07_w1_ref(h=(1.0, 4.0), beta=2.0):
    from vdlib.theory import linear
    return float(linear.solve_lyapunov(np.diag(h), 2 * np.eye(2) / beta)[1, 1])


@_register("ch07-w1", "linear_case_w1", "Σ₂₂ for H = diag(1, 4), D = I, β = 2 (a float)")
def _ch07_w1(answer):
    value = _float(answer, "Σ₂₂")
    ref, beta, h1, h2 = _ch07_w1_ref(), 2.0, 1.0, 4.0
    return _numeric_verdict(value, ref, 1e-3, 0.0, [
        (2 * ref, "a factor of 2: HΣ + ΣHᵀ = 2h₂Σ₂₂ on the diagonal, so Σ₂₂ = β⁻¹D₂₂/h₂"),
        (ref / 2, "a factor of 2: 2h₂Σ₂₂ = 2β⁻¹D₂₂ gives Σ₂₂ = β⁻¹/h₂"),
        (1 / (beta * h1), "that is Σ₁₁: the variance along x₂ belongs to the curvature h₂ = 4"),
        (beta * h2, "inverted: stiffer directions have smaller variance, Σ₂₂ = 1/(βh₂)"),
    ], "Σ₂₂")


@functools.lru_cache(maxsize=1)
def _ch07_ex2_ref():
    """A(θ) = (HΣ − ΣH)₁₂ with HΣ + ΣH = 2β⁻¹D, H = diag(h₁, h₂), D = vvᵀ, v = (cos θ, sin θ)."""
    theta = sp.Symbol("theta", real=True)
    h1, h2, beta = sp.symbols("h_1 h_2 beta", positive=True)
    s11, s12, s22 = sp.symbols("s11 s12 s22")
    H = sp.diag(h1, h2)
    v = sp.Matrix([sp.cos(theta), sp.sin(theta)])
    S = sp.Matrix([[s11, s12], [s12, s22]])
    sol = sp.solve(list(H * S + S * H - 2 * v * v.T / beta), [s11, s12, s22], dict=True)[0]
    S = S.subs(sol)
    area = sp.simplify((H * S - S * H)[0, 1])
    return {"theta": theta, "h_1": h1, "h_2": h2, "beta": beta}, area


_reference("ch07-ex2")(lambda: _ch07_ex2_ref()[1])


@_register("ch07-ex2", "linear_case_ex2", "the area rate A(θ) for H = diag(h_1, h_2), D = v_θv_θᵀ, as a SymPy "
                                          "expression in the symbols theta, h_1, h_2, beta")
def _ch07_ex2(answer):
    syms, ref = _ch07_ex2_ref()
    h1, h2 = syms["h_1"], syms["h_2"]
    _no_number(answer, "A(θ) as a formula")
    expr = _symbolic(answer, syms, "A(θ) in theta, h_1, h_2, beta")
    return _symbolic_verdict(expr, ref, [
        (-ref, "the sign: [H, vvᵀ]₁₂ = (h₁ − h₂) cos θ sin θ, and A = 2[H, D]₁₂/(β tr H)"),
        (ref / 2, "a factor of 2 is missing: 2/β replaces η/b, and 2 sin θ cos θ = sin 2θ"),
        (2 * ref, "a factor of 2 too many: A = (2/β)(h₁ − h₂) sin θ cos θ/(h₁ + h₂) = (h₁ − h₂) sin 2θ/(β(h₁ + h₂))"),
        (ref * (h1 + h2), "divide by tr H = h₁ + h₂: in 2-D Q = [H, D]/tr H"),
    ], "A(θ)")


def _ch07_ex3_inputs():
    rng = np.random.default_rng(3)
    A = rng.normal(size=(3, 3))
    H = A + (np.abs(np.linalg.eigvals(A)).max() + 0.5) * np.eye(3)  # stable, non-symmetric
    G = rng.normal(size=(3, 3))
    return [(H, G @ G.T + 0.1 * np.eye(3)), (np.array([[2.0, 0.5], [0.5, 1.0]]), np.diag([1.0, 0.2]))]


@_reference("ch07-ex3")
def _ch07_ex3_ref():
    from vdlib.theory import linear
    return lambda H, D: linear.ou_decomposition(H, D, beta=1.0).Q


@_register("ch07-ex3", "linear_case_ex3", "your function q_from_drift(H, D), returning the antisymmetric Q of "
                                          "Lemma 20 (a d×d array) without computing Σ")
def _ch07_ex3(fn):
    from vdlib.theory import linear
    ref_fn = _ch07_ex3_ref()
    for H, D in _ch07_ex3_inputs():
        d = len(H)
        got = _array(_call(fn, f"Q, a {d}×{d} array", H.copy(), D.copy()), (d, d), "Q")
        ref = ref_fn(H, D)
        wrong_rhs = linear.solve_lyapunov(H, H @ D - D @ H)
        U = linear.ou_decomposition(H, D, beta=1.0).U
        _numeric_verdict(got, ref, 0.0, 1e-8 * max(1.0, np.abs(ref).max()), [
            (-ref, "the sign (or Q transposed): with G = D + Q, GHᵀ = HGᵀ gives HQ + QHᵀ = HD − DHᵀ"),
            (wrong_rhs, "for a non-symmetric drift the right-hand side is HD − DHᵀ, not HD − DH"),
            (U, "that is U = (D + Q)⁻¹H; the exercise asks for Q"),
        ], f"Q for the {d}×{d} test drift")
    return "Q matches ou_decomposition on a non-symmetric 3×3 drift and a symmetric 2×2 one (absolute tolerance 1e-8 · max(1, max|Q|))"


@functools.lru_cache(maxsize=1)
def _ch07_ex4_ref():
    """η · A_SGD with A = 2κ/β (eq-ou-area, κ = [H, D]₁₂/tr H) and β = 2b/η: the area per SGD step."""
    eta, b, kappa, beta = sp.symbols("eta b kappa beta", positive=True)
    per_time = 2 * kappa / beta
    per_step = sp.simplify(eta * per_time.subs(beta, 2 * b / eta))
    return {"eta": eta, "b": b, "kappa": kappa}, per_step, per_time.subs(beta, 2 * b / eta)


_reference("ch07-ex4")(lambda: _ch07_ex4_ref()[1])


@_register("ch07-ex4", "linear_case_ex4", "the area per SGD step to leading order, a SymPy expression in the "
                                          "symbols eta, b, kappa (kappa = [H, D]₁₂/tr H)")
def _ch07_ex4(answer):
    syms, ref, per_time = _ch07_ex4_ref()
    eta, b, kappa = syms.values()
    _no_number(answer, "the formula in eta, b, kappa")
    expr = _symbolic(answer, syms, "the per-step area rate in eta, b, kappa")
    return _symbolic_verdict(expr, ref, [
        (per_time, "that is the rate per unit time η; one step lasts Δt = η, so multiply by η"),
        (ref / 2, "a factor of 2: β⁻¹ = η/(2b), so 2/β = η/b"),
        (2 * ref, "a factor of 2: β⁻¹ = η/(2b), so 2/β = η/b"),
        (per_time / eta, "κ/b has lost η: the rate per unit time is (η/b)κ, and per step it is multiplied by η"),
        (ref / b, "b enters once, through 2/β = η/b"),
    ], "η𝒜")


CH07_W2_OPTIONS = {
    "a": "Q = 0 and Φ = f",
    "b": "Q = 0 (detailed balance), but Φ = ½xᵀD⁻¹Hx ≠ f",
    "c": "Q ≠ 0: anisotropic noise always makes the process circulate",
    "d": "Q ≠ 0 and Φ = f",
}


@_register("ch07-w2", "linear_case_w2", 'a letter, "a" to "d": the true statement for H = diag(1, 4), D = diag(1, 0.1)')
def _ch07_w2(answer):
    return _choice(answer, CH07_W2_OPTIONS, "b", {
        "a": "Φ = f needs U = H, i.e. D = I; here U = D⁻¹H = diag(1, 40) (caveat E11: equilibrium is not Φ = f)",
        "c": "Q = 0 exactly when HD = DH; two diagonal matrices commute, so there is no circulation",
        "d": "two diagonal matrices commute, so Q = 0; and Φ = f would need D = I",
    }, "the true statement")


@_reference("ch07-w3")
def _ch07_w3_ref(eta=0.1, b=4):
    from vdlib.theory import linear
    H = np.diag([1.0, 4.0])
    c, s = np.cos(np.pi / 6), np.sin(np.pi / 6)
    R = np.array([[c, -s], [s, c]])
    D = R @ np.diag([1.0, 0.1]) @ R.T
    return linear.sgd_area_rate(H, D, 2 * eta, 2 * b) / linear.sgd_area_rate(H, D, eta, b)


@_register("ch07-w3", "linear_case_w3", "the factor by which the OU area rate changes when η and b both double (a float)")
def _ch07_w3(answer):
    value = _float(answer, "the factor")
    ref = _ch07_w3_ref()
    return _numeric_verdict(value, ref, 1e-3, 0.0, [
        (2 * ref, "factor 2 is the per-step area, η𝒜 ∝ η²/b; per unit time only η/b enters"),
        (4 * ref, "the rate is linear in η/b, not in η²"),
        (ref / 2, "doubling b halves the rate, but doubling η doubles it back: only η/b enters"),
        (0.0, "the factor multiplies the rate; a factor 0 would mean the circulation stops"),
    ], "factor")
