"""The exercise checks of chapters 4 and 5 (vdlib.book.exercises.ch04_05): the chapters' solutions pass,
typical mistakes get their hint, placeholders are "not attempted", wrong types are "invalid" with what was
expected; and each reference is computed (a changed input changes it)."""
import numpy as np
import pytest
import sympy as sp

from helpers.exercise_cases import standard_exercise_tests
from vdlib.book.exercises import ch04_05 as M
from vdlib.book.exercises import check

# ------------------------------------------------------------------------------------------------
# the chapters' solutions, as their solution cells compute them


def _ch04_w2_solution():
    from vdlib.theory import potential_symbolic as ps
    T, x = ps.T, ps.x
    eta, b = sp.symbols("eta b", positive=True)
    series = ps.critical_point_series(x**2 / 2, 1 + sp.tanh(x) / 2, order=3)
    lead = series.coeff(T, 1) * T
    return float(lead.subs(T, eta / (4 * b)) / lead.subs(T, eta / (2 * b)))


def _ch04_ex1_solution():
    from vdlib.theory import potential_symbolic as ps
    hh1, hh2, dd1, dd2 = sp.symbols("h_1 h_2 d_1 d_2", positive=True)
    return ps.ou_potential_force(sp.diag(hh1, hh2), sp.diag(dd1, dd2)).Phi


def _ch04_ex2_solution(component=0):
    from vdlib.theory import potential_symbolic as ps
    g = ps.general_2d()
    cxy = sp.Function("c", positive=True)(*g.coords)
    g_var = ps.General2D(g.coords, g.f, g.f / cxy, cxy * sp.eye(2), sp.exp(-ps.beta * g.f / cxy), g.rho)
    return ps.force_identities(g_var).j.applyfunc(sp.simplify)[component]


def _plain_ch04_ex2():
    """The same objects a reader builds by hand: plain symbols and functions without assumptions."""
    x, y, beta = sp.symbols("x y beta")
    f, c = sp.Function("f")(x, y), sp.Function("c")(x, y)
    return x, y, beta, f, c


def _ch05_w1_solution():
    from vdlib.theory import free_energy as fe
    c_shift = sp.Symbol("c", real=True)
    Z_shift = fe.Z * sp.exp(-fe.beta * c_shift)
    return sp.simplify(sp.expand_log(-sp.log(Z_shift) / fe.beta + sp.log(fe.Z) / fe.beta, force=True))


def _ch05_w3_solution():
    from vdlib.theory import free_energy as fe
    eta_s, b_s, _, T_with, _ = fe.temperatures()
    a_ = sp.Symbol("a", positive=True)
    (factor,) = sp.solve(sp.Eq(T_with.subs({eta_s: a_ * eta_s, b_s: 4 * b_s}), T_with), a_)
    return float(factor)


def _ch05_ex2_solution():
    from vdlib.theory import free_energy as fe
    t_, _, _, _, kl_ou = fe.ou_kl()
    return sp.limit(-sp.diff(sp.log(kl_ou), t_), t_, sp.oo)


def _relative_fisher(rho, rho_ss, xs, ys):
    from vdlib.theory import free_energy as fe
    gx_, gy_ = fe.log_ratio_gradient(rho, rho_ss, xs, ys)
    return np.sum(rho * (gx_**2 + gy_**2)) * (xs[1] - xs[0]) * (ys[1] - ys[0])


def _ch05_ex4_solution():
    from vdlib.theory import free_energy as fe
    from vdlib.theory import vector_calculus as vc
    ex, beta = fe.example19_symbolic(), fe.beta
    rho_beta = sp.exp(-beta * ex.Phi)
    lhs_b = sp.simplify(vc.divergence(ex.j * rho_beta, fe.COORDS))
    j_dot_gphi = (ex.j.T * vc.gradient(ex.Phi, fe.COORDS))[0]
    return sp.simplify(lhs_b / (rho_beta * j_dot_gphi))


_k, _beta, _c = sp.Symbol("k"), sp.Symbol("beta"), sp.Symbol("c")

CASES = {
    "ch04-w1": (lambda: "b", lambda: "d", "Assumption 4", 3, "expected a letter"),
    "ch04-w2": (_ch04_w2_solution, lambda: 2 ** -0.5, "standard deviation", "half", "expected a float"),
    "ch04-w3": (lambda: "b", lambda: "a", "commutes with H", ["b", 1], "expected a letter"),
    "ch04-ex1": (_ch04_ex1_solution,
                 lambda: (sp.Symbol("h_1") * sp.Symbol("x_1") ** 2 + sp.Symbol("h_2") * sp.Symbol("x_2") ** 2) / 2,
                 "that is f", "Phi", "expected a SymPy expression"),
    "ch04-ex2": (_ch04_ex2_solution,
                 lambda: -_plain_ch04_ex2()[3] / _plain_ch04_ex2()[4] * sp.diff(_plain_ch04_ex2()[4], sp.Symbol("x")),
                 "divergence term is missing", sp.Matrix([1, 2]), "single expression"),
    "ch05-w1": (_ch05_w1_solution, lambda: sp.Integer(0), "ρ^ss does not change", "c", "expected a SymPy expression"),
    "ch05-w2": (lambda: "b", lambda: "a", "erratum E3", 2, "expected a letter"),
    "ch05-w3": (_ch05_w3_solution, lambda: 2.0, "square-root scaling", [1.0, 2.0], "expected a float"),
    "ch05-ex2": (_ch05_ex2_solution, lambda: 4 * _k, "centred start", "2*k", "expected a SymPy expression"),
    "ch05-ex3": (lambda: _relative_fisher,
                 lambda: (lambda r, rs, xs, ys: _relative_fisher(r, rs, xs, ys) / ((xs[1] - xs[0]) * (ys[1] - ys[0]))),
                 "cell area", 0.7, "expected a function"),
    "ch05-ex4": (_ch05_ex4_solution, lambda: sp.Integer(0), "uncorrected product rule",
                 sp.Matrix([1 - _beta, 0]), "single expression"),
}

globals().update(standard_exercise_tests(CASES))


def _status(ex_id, answer):
    return check(ex_id, answer, quiet=True)


# ------------------------------------------------------------------------------------------------
# the other hints


@pytest.mark.parametrize("ex_id, wrong, hint", [
    ("ch04-w1", "a", "does not make Φ equal to f"),
    ("ch04-w1", "c", "conserves the free energy"),
    ("ch04-w2", 2.0, "inverted"),
    ("ch04-w2", 0.25, "not quadratic"),
    ("ch04-w2", -0.5, "same side"),
    ("ch04-w3", "c", "depends on the basis"),
    ("ch04-w3", "d", "rotated by 30°"),
    ("ch05-w1", _c / _beta, "no factor β⁻¹"),
    ("ch05-w1", -_c, "the sign"),
    ("ch05-w2", "c", "not small pointwise"),
    ("ch05-w2", "d", "for every density"),
    ("ch05-w3", 0.25, "inverted"),
    ("ch05-w3", 16.0, "linear in η"),
    ("ch05-ex2", _k, "twice as fast"),
    ("ch05-ex2", -2 * _k, "positive rate"),
    ("ch05-ex2", 4, "rate at k = 2"),
    ("ch05-ex4", -_beta, "Assumption 4"),
    ("ch05-ex4", _beta - 1, "the sign"),
])
def test_more_typical_mistakes_get_their_hint(ex_id, wrong, hint):
    result = _status(ex_id, wrong)
    assert result.status == "incorrect" and hint in result.message, result.message


def test_ch04_ex1_hints():
    h1, h2, d1, d2, x1, x2, beta = sp.symbols("h_1 h_2 d_1 d_2 x_1 x_2 beta")
    phi = h1 * x1**2 / (2 * d1) + h2 * x2**2 / (2 * d2)
    assert _status("ch04-ex1", phi).status == "correct"
    assert "multiplied by D" in _status("ch04-ex1", (d1 * h1 * x1**2 + d2 * h2 * x2**2) / 2).message
    assert "factor ½" in _status("ch04-ex1", 2 * phi).message
    assert "inverted ratio" in _status("ch04-ex1", (d1 * x1**2 / h1 + d2 * x2**2 / h2) / 2).message
    assert "does not depend on β" in _status("ch04-ex1", beta * phi).message
    assert _status("ch04-ex1", sp.Symbol("g_1") * x1**2).status == "invalid"


def test_ch04_ex2_accepts_plain_symbols_and_functions_and_gives_its_hints():
    x, y, beta, f, c = _plain_ch04_ex2()
    cx = sp.diff(c, x)
    assert _status("ch04-ex2", -(f / c + 1 / beta) * cx).status == "correct"
    assert _status("ch04-ex2", -(f / c + 1 / beta) * sp.diff(c, y)).status == "incorrect"  # that is j_2
    assert "j_1 = 0 holds for a constant c" in _status("ch04-ex2", 0).message
    assert "product rule" in _status("ch04-ex2", -cx / beta).message
    assert "sign is reversed" in _status("ch04-ex2", (f / c + 1 / beta) * cx).message
    result = _status("ch04-ex2", sp.Function("g")(x, y))
    assert result.status == "invalid" and "functions ['g']" in result.message


def test_ch05_ex3_hints():
    def plain(r, rs, xs, ys):
        return _relative_fisher(r, np.ones_like(r), xs, ys)

    def swapped(r, rs, xs, ys):
        gx, gy = np.gradient(np.log(r) - np.log(rs), ys[1] - ys[0], xs[1] - xs[0], edge_order=2)
        return np.sum(r * (gx**2 + gy**2)) * (xs[1] - xs[0]) * (ys[1] - ys[0])

    def np_gradient(r, rs, xs, ys):  # another correct discretisation: np.gradient with coordinates
        gx, gy = np.gradient(np.log(r / rs), xs, ys)
        return np.sum(r * (gx**2 + gy**2)) * (xs[1] - xs[0]) * (ys[1] - ys[0])

    assert "Fisher information of ρ alone" in _status("ch05-ex3", plain).message
    assert "spacings are swapped" in _status("ch05-ex3", swapped).message
    assert _status("ch05-ex3", np_gradient).status == "correct"
    assert _status("ch05-ex3", lambda *a: None).status == "not attempted"


# ------------------------------------------------------------------------------------------------
# the references are computed: change an input, the reference follows


def test_the_mode_shift_factor_follows_the_batch_factor():
    assert M._ch04_w2_ref(2) == pytest.approx(0.5)
    assert M._ch04_w2_ref(4) == pytest.approx(0.25)


def test_the_linear_scaling_factor_follows_the_batch_factor():
    assert M._ch05_w3_ref(4) == pytest.approx(4.0)
    assert M._ch05_w3_ref(9) == pytest.approx(9.0)


def test_the_potential_follows_H_and_D():
    s = M._ch04_ex1_symbols()
    h1, h2, x1, x2 = s["h_1"], s["h_2"], s["x_1"], s["x_2"]
    H = sp.diag(h1, h2)
    assert sp.simplify(M._ch04_ex1_phi(H, sp.eye(2)) - (h1 * x1**2 + h2 * x2**2) / 2) == 0  # D = I: Φ = f
    D = sp.Matrix([[1, sp.Rational(1, 2)], [sp.Rational(1, 2), 1]])
    U_naive = D.inv() * H  # not the answer when H and D do not commute
    naive = sp.expand((sp.Matrix([x1, x2]).T * (U_naive + U_naive.T) / 2 * sp.Matrix([x1, x2]))[0] / 2)
    assert sp.simplify(M._ch04_ex1_phi(H, D) - naive) != 0


def test_the_force_reference_is_built_from_eq_8():
    x, y, beta, f, c = _plain_ch04_ex2()
    j2 = M._ch04_ex2_ref(1)[2]  # the second component: ∂_y c where j_1 has ∂_x c
    assert _status("ch04-ex2", -(f / c + 1 / beta) * sp.diff(c, x)).status == "correct"
    assert sp.simplify(j2 - M._ch04_ex2_ref(0)[2]) != 0
    syms, functions, _ = M._ch04_ex2_ref(1)
    c_ref = functions["c"](syms["x"], syms["y"])
    assert sp.Derivative(c_ref, syms["y"]) in j2.atoms(sp.Derivative)
    assert sp.Derivative(c_ref, syms["x"]) not in j2.atoms(sp.Derivative)
    assert _status("ch04-ex2", _ch04_ex2_solution(1)).status == "incorrect"  # j_2 is not j_1


def test_the_fisher_reference_follows_the_densities():
    rho, rho_ss, xs, ys = M._ch05_ex3_grids()[0]
    assert M._ch05_ex3_ref(rho, rho, xs, ys) == pytest.approx(0.0, abs=1e-20)
    # ρ = N((0.6, −0.4), diag(0.8², 1.1²)), ρ^ss = N(0, I): I = Σ_i E[((1 − 1/s_i²)x_i + m_i/s_i²)²]
    exact = sum((1 - 1 / s**2) ** 2 * (s**2 + m**2) + 2 * (1 - 1 / s**2) * m**2 / s**2 + m**2 / s**4
                for m, s in ((0.6, 0.8), (-0.4, 1.1)))
    assert M._ch05_ex3_ref(rho, rho_ss, xs, ys) == pytest.approx(exact, rel=1e-5)


def test_the_shift_reference_is_c_and_the_ratio_reference_is_one_minus_beta():
    syms, ref = M._ch05_w1_ref()
    assert sp.simplify(ref - syms["c"]) == 0
    syms, ratio, paper, assumption4 = M._ch05_ex4_ref()
    beta = syms["beta"]
    assert sp.simplify(ratio.subs(beta, 1)) == 0  # stationary at β = 1, as the chapter shows
    assert paper == 0 and sp.simplify(assumption4 + beta) == 0


def test_the_decay_rates():
    syms, ref, centred = M._ch05_ex2_ref()
    assert sp.simplify(centred - 2 * ref) == 0 and ref.free_symbols == {syms["k"]}
