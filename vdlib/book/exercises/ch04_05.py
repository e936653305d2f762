"""Answer checks of chapter 4 (the potential Φ and the force j) and chapter 5 (variational inference).

Registered on import (by :mod:`vdlib.book.exercises`): the numbered exercises ``chNN-exK`` and the warm-up
concept checks ``chNN-wK``. Each reference is computed by the vdlib functions the chapter's solution calls,
or by a few lines of SymPy, never typed in; functions decorated ``@_reference`` give it to
:func:`vdlib.book.exercises.reference`. Each numeric tolerance is stated in the check's message.
"""
from __future__ import annotations

import functools

import numpy as np
import sympy as sp
from sympy.core.function import AppliedUndef

from .kit import (_call, _choice, _float, _Invalid, _no_matrix, _numeric_verdict, _reference, _register,
                  _symbolic, _symbolic_verdict, _Wrong)

# ------------------------------------------------------------------------------------------------
# chapter 4: Φ_∞ of the double well

@_reference("ch04-ex3")
def _ch04_ex3_ref(weight=lambda d: 1 / d):
    from scipy.integrate import quad

    from vdlib.theory import potentials
    gf, Dr = potentials.double_well_1d_grad, potentials.shift_D
    return quad(lambda s: gf(s) * weight(Dr(s)), -1.0, 1.0)[0]


@_register("ch04-ex3", "potential_force_ex3", "the depth difference Φ_∞(1) − Φ_∞(−1) (a float, units of f)")
def _ch04_ex3(answer):
    value = _float(answer, "the depth difference Φ_∞(1) − Φ_∞(−1)")
    ref = _ch04_ex3_ref()
    return _numeric_verdict(value, ref, 1e-3, 1e-6, [
        (-ref, "the sign is reversed: compute Φ_∞(1) − Φ_∞(−1) = ∫ from −1 to 1 of f'/D"),
        (0.0, "that is f(1) − f(−1); Φ_∞ weights f' by 1/D, which differs on the two sides"),
        (_ch04_ex3_ref(lambda d: d), "you multiplied f' by D; Φ_∞ = ∫ f'/D dx divides by it"),
    ], "Φ_∞(1) − Φ_∞(−1)")


# ================================================================================================
# chapter 4: the potential Φ and the force j

# ------------------------------------------------------------------------------------------------
# ch04-w1: what j = 0 means (multiple choice)

CH04_W1_OPTIONS = {
    "a": "j = 0 implies Φ = f",
    "b": "j = 0 exactly when the stationary current J^ss vanishes (detailed balance)",
    "c": "the paper calls j conservative because j is the gradient of a potential",
    "d": "at stationarity ∇·j = 0 always holds",
}


@_register("ch04-w1", "potential_force_w1", 'one letter, "a", "b", "c" or "d"')
def _ch04_w1(answer):
    return _choice(answer, CH04_W1_OPTIONS, "b", {
        "a": "detailed balance does not make Φ equal to f: ∇Φ = D⁻¹(∇f + β⁻¹∇·D), which is ∇f only for D = I",
        "c": "the paper's 'conservative' means that j conserves the free energy F; as a vector field j is the "
             "rotational, non-gradient part of the drift",
        "d": "stationarity is ∇·(jρ^ss) = 0, i.e. ∇·j = β j·∇Φ; ∇·j = 0 is the extra Assumption 4",
    }, "the statement about the force j that is true")


# ------------------------------------------------------------------------------------------------
# ch04-w2: how the mode moves when b doubles at fixed η

@functools.lru_cache(maxsize=4)
def _ch04_w2_ref(batch_factor=2):
    """|x*(η, kb)| / |x*(η, b)| to first order in η/b, for f = x²/2 and D = 1 + tanh(x)/2."""
    from vdlib.theory import potential_symbolic as ps

    eta, b = sp.symbols("eta b", positive=True)
    series = ps.critical_point_series(ps.x**2 / 2, 1 + sp.tanh(ps.x) / 2, order=1)
    ratio = sp.limit(series.subs(ps.T, eta / (2 * batch_factor * b)) / series.subs(ps.T, eta / (2 * b)), eta, 0)
    return float(ratio)


@_register("ch04-w2", "potential_force_w2", "the factor by which the displacement of the mode changes (a float)")
def _ch04_w2(answer):
    value = _float(answer, "the factor |x*(η, 2b)| / |x*(η, b)|")
    ref = _ch04_w2_ref()
    return _numeric_verdict(value, ref, 1e-3, 0.0, [
        (1 / ref, "inverted: doubling b halves the temperature η/(2b), and the displacement is proportional to it"),
        (ref ** 0.5, "the displacement is linear in the temperature η/(2b), not in the standard deviation "
                     "of the gradient noise (∝ 1/√b)"),
        (ref ** 2, "the displacement is linear in η/b to first order, not quadratic"),
        (-ref, "the mode stays on the same side (left, towards smaller D): the factor is positive"),
    ], "|x*(η, 2b)| / |x*(η, b)|")


# ------------------------------------------------------------------------------------------------
# ch04-w3: when the linear drift has j ≠ 0 (multiple choice)

CH04_W3_OPTIONS = {
    "a": "whenever D is not a multiple of the identity",
    "b": "exactly when HD ≠ DH",
    "c": "whenever D is not diagonal",
    "d": "never: for a quadratic loss Φ = f and j = 0",
}


@_register("ch04-w3", "potential_force_w3", 'one letter, "a", "b", "c" or "d"')
def _ch04_w3(answer):
    return _choice(answer, CH04_W3_OPTIONS, "b", {
        "a": "an anisotropic D that commutes with H (both diagonal, say) gives Q = 0 and j = 0; it changes Φ, "
             "not the detailed balance",
        "c": "'diagonal' depends on the basis: with H = I every D commutes with H and j = 0; what matters is "
             "whether H and D share their eigenvectors",
        "d": "the chapter's example, H = diag(1, 4) with D rotated by 30°, has j = −QUx ≠ 0 and Φ = ½xᵀUx ≠ f",
    }, "the condition for a non-zero force j")


# ------------------------------------------------------------------------------------------------
# ch04-ex1: Φ for commuting (diagonal) H and D

def _ch04_ex1_symbols():
    from vdlib.theory import potential_symbolic as ps

    h1, h2, d1, d2 = sp.symbols("h_1 h_2 d_1 d_2", positive=True)
    x1, x2 = sp.symbols("x_1 x_2", real=True)  # the coordinates ps.ou_potential_force uses
    return {"h_1": h1, "h_2": h2, "d_1": d1, "d_2": d2, "x_1": x1, "x_2": x2, "beta": ps.beta}


def _ch04_ex1_phi(H, D):
    """Φ = ½xᵀUx of ps.ou_potential_force for the drift −Hx and the constant D."""
    from vdlib.theory import potential_symbolic as ps
    return sp.simplify(ps.ou_potential_force(H, D).Phi)


@functools.lru_cache(maxsize=1)
def _ch04_ex1_ref():
    """The exercise's symbols and Φ for H = diag(h_1, h_2), D = diag(d_1, d_2)."""
    s = _ch04_ex1_symbols()
    return s, _ch04_ex1_phi(sp.diag(s["h_1"], s["h_2"]), sp.diag(s["d_1"], s["d_2"]))


@_register("ch04-ex1", "potential_force_ex1",
           "Φ(x_1, x_2) as a SymPy expression in h_1, h_2, d_1, d_2, x_1, x_2")
def _ch04_ex1(answer):
    syms, ref = _ch04_ex1_ref()
    expr = _no_matrix(_symbolic(answer, syms, "Φ in h_1, h_2, d_1, d_2, x_1, x_2"), "Φ")
    h1, h2, d1, d2, x1, x2 = (syms[n] for n in ("h_1", "h_2", "d_1", "d_2", "x_1", "x_2"))
    beta = syms["beta"]
    f = (h1 * x1**2 + h2 * x2**2) / 2
    if beta in expr.free_symbols:
        raise _Wrong("Φ does not depend on β here: Σ ∝ β⁻¹ and U = β⁻¹Σ⁻¹, so the β cancels")
    return _symbolic_verdict(expr, ref, [
        (f, "that is f: with Q = 0 the decomposition (D + Q)U = H gives U = D⁻¹H, so each curvature is "
            "divided by its noise level"),
        ((d1 * h1 * x1**2 + d2 * h2 * x2**2) / 2, "you multiplied by D; (D + Q)U = H with Q = 0 gives U = D⁻¹H"),
        (2 * ref, "Φ = ½xᵀUx: the factor ½ is missing"),
        ((d1 * x1**2 / h1 + d2 * x2**2 / h2) / 2, "inverted ratio: U = D⁻¹H, curvature over noise, not noise "
                                                  "over curvature"),
    ], "Φ")


# ------------------------------------------------------------------------------------------------
# ch04-ex2: the force for D = c(x, y) I and the guess Φ = f/c

@functools.lru_cache(maxsize=4)
def _ch04_ex2_ref(component=0):
    """j_component for D = c(x, y)I, Φ = f/c: j = −∇f + D∇Φ − β⁻¹∇·D (eq. (8)), built by ps.force_identities."""
    from vdlib.theory import potential_symbolic as ps

    g = ps.general_2d()
    c = sp.Function("c", positive=True)(*g.coords)
    g_var = ps.General2D(g.coords, g.f, g.f / c, c * sp.eye(2), sp.exp(-ps.beta * g.f / c), g.rho)
    j = ps.force_identities(g_var).j.applyfunc(sp.simplify)
    x, y = g.coords
    syms = {"x": x, "y": y, "beta": ps.beta}
    return syms, {"f": g.f.func, "c": c.func}, j[component]


def _rename_functions(expr, functions: dict, what: str):
    """Replace the undefined functions of ``expr`` by the exercise's, matched by name (ignoring assumptions)."""
    key = {name.lower(): fn for name, fn in functions.items()}
    found = {a for a in expr.atoms(AppliedUndef)}
    unknown = sorted({a.func.__name__ for a in found if a.func.__name__.lower() not in key})
    if unknown:
        raise _Invalid(f"your expression uses the functions {unknown}; the exercise's are {sorted(functions)} ({what})")
    return expr.xreplace({a: key[a.func.__name__.lower()](*a.args) for a in found})


@_register("ch04-ex2", "potential_force_ex2",
           "j_1 as a SymPy expression in x, y, beta and the functions f(x, y), c(x, y)")
def _ch04_ex2(answer):
    syms, functions, ref = _ch04_ex2_ref()
    what = "j_1 in x, y, beta, f(x, y), c(x, y)"
    expr = _no_matrix(_symbolic(answer, syms, what), "j_1 (the first component)")
    expr = _rename_functions(expr, functions, what)
    x, beta = syms["x"], syms["beta"]
    f, c = functions["f"](x, syms["y"]), functions["c"](x, syms["y"])
    cx = sp.Derivative(c, x)
    if sp.simplify(expr) == 0:
        raise _Wrong("j_1 = 0 holds for a constant c; when c varies the product rule "
                     "c∂_x(f/c) = ∂_x f − (f/c)∂_x c leaves terms in ∂_x c")
    return _symbolic_verdict(expr, ref, [
        (-f / c * cx, "the divergence term is missing: for D = c(x, y)I, (∇·D)_1 = ∂_x c, and j contains −β⁻¹∇·D"),
        (-cx / beta, "c∂_x(f/c) is not ∂_x f when c varies: the product rule gives ∂_x f − (f/c)∂_x c"),
        (-ref, "the sign is reversed: j = −∇f + D∇Φ − β⁻¹∇·D"),
    ], "j_1")


# ------------------------------------------------------------------------------------------------
# chapter 5: the free energy of a Gaussian

@functools.lru_cache(maxsize=1)
def _ch05_ex1_ref():
    from vdlib.theory import free_energy as fe

    m, s, k, F, _ = fe.gaussian_free_energy()
    H = sp.log(2 * sp.pi * sp.E * s**2) / 2
    E = F + H / fe.beta
    args = (m, s, k, fe.beta)
    variants = [(E + H / fe.beta, "the entropy enters with a minus sign: F = E[Φ] − β⁻¹H"),
                (E.subs(s, 0) - H / fe.beta, "E[Φ] misses the variance: E[x²] = m² + s²"),
                (E - sp.log(2 * sp.pi * s**2) / 2 / fe.beta, "the Gaussian entropy is ½ log(2πe s²): the e is missing"),
                (E - sp.log(2 * sp.pi * sp.E * s) / 2 / fe.beta, "the Gaussian entropy is ½ log(2πe s²), with s squared")]
    return sp.lambdify(args, F, "math"), [(sp.lambdify(args, v, "math"), h) for v, h in variants]


_reference("ch05-ex1")(lambda: _ch05_ex1_ref()[0])
_CH05_POINTS = ((0.3, 0.7, 2.0, 1.5), (-1.0, 0.4, 0.5, 3.0), (2.0, 1.3, 1.0, 0.5))


@_register("ch05-ex1", "variational_inference_ex1", "your function gaussian_F(m, s, k, beta), returning F(N(m, s²)) (a float)")
def _ch05_ex1(fn):
    ref, variants = _ch05_ex1_ref()
    got = np.array([_float(_call(fn, "F, a float", *p), "F(N(m, s²))") for p in _CH05_POINTS])
    want = np.array([ref(*p) for p in _CH05_POINTS])
    hints = [(np.array([v(*p) for p in _CH05_POINTS]), h) for v, h in variants]
    return _numeric_verdict(got, want, 1e-6, 1e-9, hints, "F at (m, s, k, β) = " + ", ".join(map(str, _CH05_POINTS)))


# ================================================================================================
# chapter 5: SGD performs variational inference

# ------------------------------------------------------------------------------------------------
# ch05-w1: shifting Φ by a constant

@functools.lru_cache(maxsize=1)
def _ch05_w1_ref():
    """min F for the potential Φ + c minus min F for Φ, from the integrand of fe.free_energy_split."""
    from vdlib.theory import free_energy as fe

    split = fe.free_energy_split()
    c = sp.Symbol("c", real=True)
    beta, Z, Phi = fe.beta, fe.Z, split.Phi

    def f_min(shift, Z_shift):
        rho_ss = sp.exp(-beta * (Phi + shift)) / Z_shift
        integrand = split.energetic_entropic.subs(Phi, Phi + shift).subs(split.rho, rho_ss)
        return sp.simplify(sp.expand_log(integrand / rho_ss, force=True))  # ∫ρ^ss = 1

    Z_c = Z * sp.exp(-beta * c)  # ∫e^{−β(Φ+c)} = e^{−βc} Z
    return {"c": c, "beta": beta, "Z": Z}, sp.simplify(f_min(c, Z_c) - f_min(0, Z))


@_register("ch05-w1", "variational_inference_w1", "the change of min F, a SymPy expression in c and beta")
def _ch05_w1(answer):
    syms, ref = _ch05_w1_ref()
    expr = _no_matrix(_symbolic(answer, syms, "the change of min F in c and beta"), "the change")
    c, beta = syms["c"], syms["beta"]
    return _symbolic_verdict(expr, ref, [
        (sp.Integer(0), "ρ^ss does not change, but F does: E_ρ[Φ + c] = E_ρ[Φ] + c for every density ρ"),
        (c / beta, "the shift enters the energetic term E_ρ[Φ], which carries no factor β⁻¹"),
        (beta * c, "the shift enters the energetic term E_ρ[Φ], which carries no factor β"),
        (-c, "the sign: Z becomes e^{−βc}Z, so −β⁻¹log Z grows by c"),
    ], "the change of min F")


# ------------------------------------------------------------------------------------------------
# ch05-w2: why the j-term of dF/dt vanishes (multiple choice)

CH05_W2_OPTIONS = {
    "a": "because of Assumption 4, ∇·j = 0",
    "b": "by stationarity, ∇·(jρ^ss) = 0, for every ρ",
    "c": "because its integrand ρ j·∇(δF/δρ) vanishes at every point",
    "d": "only at ρ = ρ^ss; away from it the j-term can make F grow",
}


@_register("ch05-w2", "variational_inference_w2", 'one letter, "a", "b", "c" or "d"')
def _ch05_w2(answer):
    return _choice(answer, CH05_W2_OPTIONS, "b", {
        "a": "that is the paper's route; it is not needed (erratum E3): the j-term is "
             "−β⁻¹∫(ρ/ρ^ss)∇·(jρ^ss), zero by stationarity alone, and Example 19 has ∇·j ≠ 0",
        "c": "the integrand is not small pointwise: it is positive in some places and negative in others, "
             "and only its integral vanishes",
        "d": "the identity for the j-term holds for every density ρ = uρ^ss, not only at the steady state",
    }, "the reason the j-term of dF/dt is zero")


# ------------------------------------------------------------------------------------------------
# ch05-w3: linear scaling

@functools.lru_cache(maxsize=4)
def _ch05_w3_ref(batch_factor=4):
    """The factor on η that keeps β⁻¹ = η/(2b) fixed when b → batch_factor·b (fe.temperatures)."""
    from vdlib.theory import free_energy as fe

    eta, b, _, T_with, _ = fe.temperatures()
    a = sp.Symbol("a", positive=True)
    (sol,) = sp.solve(sp.Eq(T_with.subs({eta: a * eta, b: batch_factor * b}), T_with), a)
    return float(sol)


@_register("ch05-w3", "variational_inference_w3", "the factor on the learning rate η (a float)")
def _ch05_w3(answer):
    value = _float(answer, "the factor on η")
    ref = _ch05_w3_ref()
    return _numeric_verdict(value, ref, 1e-6, 0.0, [
        (ref ** 0.5, "square-root scaling η ∝ √b keeps the per-step update variance η²/b fixed, not the "
                     "temperature η/(2b)"),
        (1 / ref, "inverted: a larger batch lowers the temperature η/(2b), so η must grow with b"),
        (ref ** 2, "the temperature η/(2b) is linear in η: scale η by the same factor as b"),
    ], "the factor on η")


# ------------------------------------------------------------------------------------------------
# ch05-ex2: the asymptotic decay rate of KL for the OU process

@functools.lru_cache(maxsize=1)
def _ch05_ex2_ref():
    """lim −d/dt log KL(t) from fe.ou_kl, for m_0 ≠ 0 and for m_0 = 0."""
    from vdlib.theory import free_energy as fe

    t, k, m0, s0, kl = fe.ou_kl()

    def rate(expr):
        return sp.simplify(sp.limit(-sp.diff(sp.log(expr), t), t, sp.oo))

    syms = {"k": k, "beta": fe.beta, "m_0": m0, "s_0": s0}
    return syms, rate(kl), rate(kl.subs(m0, 0))


@_register("ch05-ex2", "variational_inference_ex2",
           "the asymptotic decay rate of KL(t) for m_0 ≠ 0, a SymPy expression in k")
def _ch05_ex2(answer):
    syms, ref, centred = _ch05_ex2_ref()
    expr = _no_matrix(_symbolic(answer, syms, "the rate in k"), "the rate")
    k = syms["k"]
    if not expr.free_symbols and sp.simplify(expr - ref.subs(k, 2)) == 0:
        raise _Wrong("that is the rate at k = 2; give it as an expression in k")
    return _symbolic_verdict(expr, ref, [
        (centred, "that is the rate of a centred start, m_0 = 0; with m_0 ≠ 0 the mean term m_t²/(2v) ∝ e^{−2kt} "
                  "decays more slowly and dominates"),
        (ref / 2, "k is the relaxation rate of the mean; KL is quadratic in the deviation m_t, so it decays twice as fast"),
        (-ref, "the sign: KL(t) ∝ e^{−rate·t}, with a positive rate"),
    ], "the decay rate")


# ------------------------------------------------------------------------------------------------
# ch05-ex3: the relative Fisher information on a grid

def _ch05_ex3_grids():
    """Two test problems on rectangular grids (different spacings, indexing "ij"): ρ a displaced anisotropic
    Gaussian, ρ^ss the Gaussian e^{−|x|²/2} and Example 19's e^{−Φ}, each normalised by cell sums."""
    from vdlib.theory import potentials as pot

    def centres(lo, hi, n):
        edges = np.linspace(lo, hi, n + 1)
        return 0.5 * (edges[1:] + edges[:-1])

    xs, ys = centres(-5.0, 5.0, 80), centres(-6.0, 6.0, 90)
    X, Y = np.meshgrid(xs, ys, indexing="ij")
    cell = (xs[1] - xs[0]) * (ys[1] - ys[0])

    def normalised(w):
        return w / (w.sum() * cell)

    rho = normalised(np.exp(-(X - 0.6) ** 2 / (2 * 0.8**2) - (Y + 0.4) ** 2 / (2 * 1.1**2)))
    return [(rho, normalised(np.exp(-(X**2 + Y**2) / 2)), xs, ys),
            (rho, normalised(np.exp(-pot.example19_phi(X, Y))), xs, ys)]


def _ch05_ex3_ref(rho, rho_ss, xs, ys):
    """I(ρ‖ρ^ss) = ∫ρ|∇log(ρ/ρ^ss)|² by fe.log_ratio_gradient and cell sums, as the chapter's solution."""
    from vdlib.theory import free_energy as fe

    gx, gy = fe.log_ratio_gradient(rho, rho_ss, xs, ys)
    return float(np.sum(rho * (gx**2 + gy**2)) * (xs[1] - xs[0]) * (ys[1] - ys[0]))


@_register("ch05-ex3", "variational_inference_ex3",
           "your function relative_fisher(rho, rho_ss, xs, ys), returning I(ρ‖ρ^ss) on the grid (a float)")
def _ch05_ex3(fn):
    problems = _ch05_ex3_grids()
    got = np.array([_float(_call(fn, "I(ρ‖ρ^ss), a float", *p), "I(ρ‖ρ^ss)") for p in problems])
    want = np.array([_ch05_ex3_ref(*p) for p in problems])
    swapped, plain = [], []
    for rho, rho_ss, xs, ys in problems:
        dx, dy = xs[1] - xs[0], ys[1] - ys[0]
        gx, gy = np.gradient(np.log(rho) - np.log(rho_ss), dy, dx, edge_order=2)
        swapped.append(np.sum(rho * (gx**2 + gy**2)) * dx * dy)
        plain.append(_ch05_ex3_ref(rho, np.ones_like(rho), xs, ys))
    cells = np.array([(xs[1] - xs[0]) * (ys[1] - ys[0]) for _, _, xs, ys in problems])
    return _numeric_verdict(got, want, 1e-3, 0.0, [
        (want / cells, "multiply the sum by the cell area dx·dy: the integral is a cell sum"),
        (np.array(plain), "that is the Fisher information of ρ alone; the relative one differentiates "
                          "log(ρ/ρ^ss)"),
        (np.array(swapped), "the spacings are swapped: with indexing \"ij\", axis 0 is x (spacing dx) and "
                            "axis 1 is y (spacing dy)"),
    ], "I(ρ‖ρ^ss) on two 80 × 90 grids (ρ^ss Gaussian, and Example 19's e^{−Φ})")


# ------------------------------------------------------------------------------------------------
# ch05-ex4: Example 19 away from β = 1

@functools.lru_cache(maxsize=1)
def _ch05_ex4_ref():
    """∇·(je^{−βΦ}) / (e^{−βΦ} j·∇Φ) for Example 19 (fe.example19_symbolic), and the two wrong product rules."""
    from vdlib.theory import free_energy as fe
    from vdlib.theory import vector_calculus as vc

    beta, c = fe.beta, fe.COORDS
    ex = fe.example19_symbolic()
    rho_beta = sp.exp(-beta * ex.Phi)
    j_dot = (ex.j.T * vc.gradient(ex.Phi, c))[0]
    denominator = rho_beta * j_dot
    ratio = sp.simplify(vc.divergence(ex.j * rho_beta, c) / denominator)
    paper = sp.simplify(rho_beta * (vc.divergence(ex.j, c) - j_dot) / denominator)  # App. C, no β
    assumption4 = sp.simplify(rho_beta * (-beta * j_dot) / denominator)  # ∇·j dropped
    return {"beta": beta}, ratio, paper, assumption4


@_register("ch05-ex4", "variational_inference_ex4",
           "the ratio ∇·(j e^{−βΦ}) / (e^{−βΦ} j·∇Φ), a SymPy expression in beta")
def _ch05_ex4(answer):
    syms, ref, paper, assumption4 = _ch05_ex4_ref()
    expr = _no_matrix(_symbolic(answer, syms, "the ratio in beta"), "the ratio")
    return _symbolic_verdict(expr, ref, [
        (paper, "that is what the uncorrected product rule of Appendix C predicts (erratum E2): it misses the "
                "factor β on j·∇Φ, and would certify e^{−βΦ} as stationary at every β"),
        (assumption4, "you dropped ∇·j, as if Assumption 4 held; for Example 19 ∇·j = j·∇Φ ≠ 0"),
        (-ref, "the sign: ∇(e^{−βΦ}) = −βe^{−βΦ}∇Φ, so the ratio is ∇·j/(j·∇Φ) − β"),
    ], "∇·(j e^{−βΦ}) / (e^{−βΦ} j·∇Φ)")
