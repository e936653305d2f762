"""Every identity that chapter 01 (mini-batch gradient noise) displays, asserted exactly in SymPy.

The tests call the same vdlib.theory.symbolic helpers as the chapter, and compare them with independently
written expressions (textbook formulas typed here, brute-force counting, a second Gaussian-moment
method), so that a wrong helper makes a test fail.
"""
import itertools
from fractions import Fraction

import numpy as np
import pytest
import sympy as sp

from vdlib.book.display import aligned
from vdlib.theory import regression
from vdlib.theory import symbolic as sym

N, b = sym.N_SYM, sym.B_SYM


def assert_zero(expr, what):
    """sp.simplify(lhs - rhs) == 0, entrywise for matrices."""
    if isinstance(expr, sp.MatrixBase):
        bad = [e for e in expr if sp.simplify(e) != 0]
        assert not bad, f"{what}: nonzero entries {bad}"
    else:
        assert sp.simplify(expr) == 0, f"{what}: {sp.simplify(expr)} != 0"


# ------------------------------------------------------------------ count / indicator moments

def test_with_replacement_count_moments_are_multinomial():
    m = sym.count_moments(replacement=True)
    p = 1 / N
    assert_zero(m.mean - b * p, "E n_i")
    assert_zero(m.var - b * p * (1 - p), "Var n_i (multinomial)")
    assert_zero(m.cov - (-b * p * p), "Cov(n_i, n_j) (multinomial)")
    assert_zero(m.batch_size_constraint, "N v + N(N-1) w")


def test_without_replacement_indicator_moments_match_appendix_a2():
    m = sym.count_moments(replacement=False)
    assert_zero(m.mean - b / N, "P(i in b)")
    assert_zero(m.second - m.mean, "indicator squared")
    assert_zero(m.cross - b * (b - 1) / (N * (N - 1)), "P(i, j in b)")
    assert_zero(m.var - (b / N - b**2 / N**2), "Var 1_{i in b} (A2)")
    assert_zero(m.cov - (-b * (N - b) / (N**2 * (N - 1))), "Cov(1_i, 1_j) (A2)")
    var_a2, cov_a2 = sym.paper_a2_indicator_moments()
    assert_zero(m.var - var_a2, "Var vs paper_a2_indicator_moments")
    assert_zero(m.cov - cov_a2, "Cov vs paper_a2_indicator_moments")
    assert_zero(m.batch_size_constraint, "N v + N(N-1) w")


def _counted_moments(n, k, replacement):
    """E n_1, E n_1^2, E n_1 n_2 by visiting every equally likely batch, with exact fractions."""
    batches = list(itertools.product(range(n), repeat=k) if replacement else itertools.combinations(range(n), k))
    tot = len(batches)
    n1 = [bt.count(0) for bt in batches]
    n2 = [bt.count(1) for bt in batches]
    return (Fraction(sum(n1), tot), Fraction(sum(c * c for c in n1), tot),
            Fraction(sum(c * d for c, d in zip(n1, n2)), tot))


@pytest.mark.parametrize("replacement", [True, False])
@pytest.mark.parametrize("n,k", [(2, 1), (3, 2), (4, 2), (5, 3), (6, 4), (6, 6)])
def test_count_moments_agree_with_counting_every_batch(replacement, n, k):
    m = sym.count_moments(replacement)
    mean, second, cross = _counted_moments(n, k, replacement)
    subs = {N: n, b: k}
    for derived, counted, name in [(m.mean, mean, "E n_i"), (m.second, second, "E n_i^2"), (m.cross, cross, "E n_i n_j")]:
        assert_zero(derived.subs(subs) - sp.Rational(counted.numerator, counted.denominator), f"{name} at N={n}, b={k}")


# ------------------------------------------------------------------ the covariance lemma and the factor

def test_count_lemma_algebra():
    """Var = b^-2 [v N S + w (N^2 m - N S)] = A S + B m, and B = -A when N v + N(N-1) w = 0."""
    v, w, S, m = sp.symbols("v w S m")
    var = (v * N * S + w * (N**2 * m - N * S)) / b**2
    A, B = N * (v - w) / b**2, N**2 * w / b**2
    assert_zero(var - (A * S + B * m), "Var = A S + B m")
    assert_zero((A + B).subs(v, -(N - 1) * w), "A + B under the batch-size constraint")


@pytest.mark.parametrize("replacement", [True, False])
def test_covariance_coefficients_give_a_multiple_of_D(replacement):
    A, B = sym.covariance_coefficients(sym.count_moments(replacement))
    assert_zero(A + B, "A + B")


def test_factors():
    assert_zero(sym.minibatch_factor(True) - 1, "c(b) with replacement")
    c = sym.minibatch_factor(False)
    assert_zero(c - (1 - b / N) * N / (N - 1), "c(b) without replacement")
    assert_zero(c - sym.without_replacement_factor_expr(), "c(b) vs without_replacement_factor_expr")
    assert_zero(c.subs(b, 1) - 1, "c(1) = 1")
    assert_zero(c.subs(b, N), "c(N) = 0")
    A, _ = sym.covariance_coefficients(sym.count_moments(False))
    assert_zero(A - (1 / b) * (1 - b / N) * N / (N - 1), "Var(grad f_b) = (1/b)(1-b/N) N/(N-1) D")


def test_poisson_sampling_exercise():
    q = b / N
    poisson = sym.CountMoments("Poisson", N, b, mean=q, second=q, cross=q**2)
    A, B = sym.covariance_coefficients(poisson)
    assert_zero(A - (1 - b / N) / b, "Poisson A")
    assert_zero(B, "Poisson B")
    assert_zero(poisson.batch_size_constraint - b * (N - b) / N, "Poisson Var(sum n_i)")
    with pytest.raises(AssertionError):
        assert_zero(A + B, "Poisson is not a multiple of D")


def test_minibatch_factor_rejects_a_non_multiple_of_D(monkeypatch):
    q = b / N
    monkeypatch.setattr(sym, "count_moments", lambda replacement, N=N, b=b: sym.CountMoments("x", N, b, q, q, q**2))
    with pytest.raises(AssertionError, match="not a multiple of D"):
        sym.minibatch_factor(True)


# ------------------------------------------------------------------ brute-force enumeration

@pytest.mark.parametrize("n,k", [(3, 1), (3, 2), (3, 3), (4, 2), (5, 2), (5, 3)])
def test_enumeration_equals_formulas(n, k):
    Gs = sym.gradient_symbols(n, 2)
    D = sym.diffusion_matrix_symbolic(Gs)
    with_enum = sym.enumerated_minibatch_covariance_symbolic(Gs, k, replacement=True)
    without_enum = sym.enumerated_minibatch_covariance_symbolic(Gs, k, replacement=False)
    assert_zero(with_enum - D / k, f"with replacement, N={n}, b={k}")
    assert_zero(without_enum - sym.without_replacement_factor_expr(n, k) * D / k, f"without, N={n}, b={k}")
    if 1 < k:  # the two schemes really differ, so the comparison above can fail
        assert not sym.is_zero(without_enum - D / k)


def test_symbolic_diffusion_matrix_two_forms():
    Gs = sym.gradient_symbols(4, 3)
    g = sum((Gs.row(i).T for i in range(4)), sp.zeros(3, 1)) / 4
    centred = sum(((Gs.row(i).T - g) * (Gs.row(i).T - g).T for i in range(4)), sp.zeros(3, 3)) / 4
    assert_zero(sym.diffusion_matrix_symbolic(Gs) - centred, "two forms of D")


def test_paper_packaging_of_the_factors():
    """D~ = N/(N-1) D, eta Var_with = 2 beta^-1 D, eta Var_without = 2 beta'^-1 D~ (Remark 12)."""
    eta = sp.Symbol("eta", positive=True)
    n, k = 5, 3
    Gs = sym.gradient_symbols(n, 2)
    D = sym.diffusion_matrix_symbolic(Gs)
    D_tilde = sym.paper_a2_diffusion_symbolic(Gs)
    assert_zero(D_tilde - sp.Rational(n, n - 1) * D, "D~ = N/(N-1) D")
    beta_inv = eta / (2 * k)
    beta_prime_inv = eta / (2 * k) * (1 - sp.Rational(k, n))
    var_with = sym.enumerated_minibatch_covariance_symbolic(Gs, k, True)
    var_without = sym.enumerated_minibatch_covariance_symbolic(Gs, k, False)
    assert_zero(eta * var_with - 2 * beta_inv * D, "with replacement: 2 beta^-1 D")
    assert_zero(eta * var_without - 2 * beta_prime_inv * D_tilde, "without: 2 beta'^-1 D~")
    # and the general symbolic statement behind it
    assert_zero((1 - b / N) * N / (N - 1) / b - (1 / b) * (1 - b / N) * (N / (N - 1)), "factor split")


def test_enumeration_rejects_bad_batch_sizes():
    Gs = sym.gradient_symbols(3, 1)
    with pytest.raises(ValueError, match="b"):
        sym.enumerated_minibatch_covariance_symbolic(Gs, 4, replacement=False)
    with pytest.raises(ValueError, match="b"):
        sym.enumerated_minibatch_covariance_symbolic(Gs, 0)


# ------------------------------------------------------------------ Gaussian moments

def test_isserlis_known_moments():
    s = sp.Symbol("s", positive=True)
    z = sp.Symbol("z")
    assert_zero(sym.gaussian_expectation(z**4, [z], [[s]]) - 3 * s**2, "E z^4")
    assert_zero(sym.gaussian_expectation(z**6, [z], [[s]]) - 15 * s**3, "E z^6")
    assert_zero(sym.gaussian_expectation(z**5 + z, [z], [[s]]), "odd moments")
    Sig = sym.symmetric_matrix_symbols(2)
    a1, a2 = sp.symbols("a1 a2")
    assert_zero(sym.gaussian_expectation(a1**2 * a2**2, [a1, a2], Sig) - (Sig[0, 0] * Sig[1, 1] + 2 * Sig[0, 1] ** 2),
                "E a1^2 a2^2")


def test_isserlis_agrees_with_the_moment_generating_function():
    Sig = sym.symmetric_matrix_symbols(3)
    z = sp.symbols("z1:4")
    c = sp.Symbol("c")
    poly = (z[0] * z[1] + c * z[2] ** 2 - z[0]) ** 2 + z[0] * z[1] * z[2] ** 2 + c * z[1] ** 4 + 7
    assert_zero(sym.gaussian_expectation(poly, z, Sig, method="isserlis")
                - sym.gaussian_expectation(poly, z, Sig, method="mgf"), "Isserlis vs MGF")


def test_gaussian_expectation_rejects_bad_input():
    z = sp.symbols("z1:3")
    with pytest.raises(ValueError, match="cov must be 2×2"):
        sym.gaussian_expectation(z[0] * z[1], z, sp.eye(3))
    with pytest.raises(ValueError, match="method"):
        sym.gaussian_expectation(z[0] * z[1], z, sp.eye(2), method="monte-carlo")


@pytest.mark.parametrize("d", [2, 3])
def test_gaussian_design_diffusion(d):
    gm = sym.gaussian_design_moments(d)
    assert_zero(gm.mean_grad - gm.Sigma * gm.e, "E g = Sigma e")
    assert_zero(gm.H - gm.Sigma, "H = Sigma")
    assert_zero(gm.D - sym.gaussian_design_diffusion_formula(gm.Sigma, gm.e, gm.sigma2), "D(x) closed form")
    # written out independently of the helper
    quad = (gm.e.T * gm.Sigma * gm.e)[0]
    assert_zero(gm.D - ((gm.sigma2 + quad) * gm.Sigma + gm.Sigma * gm.e * gm.e.T * gm.Sigma), "D(x) typed form")
    D_star = gm.D.subs({ei: 0 for ei in gm.e})
    assert_zero(D_star - gm.sigma2 * gm.H, "D(x*) = sigma^2 H")
    assert_zero(D_star * gm.H - gm.H * D_star, "[H, D(x*)] = 0")


def test_gaussian_design_via_mgf_agrees():
    gm_i = sym.gaussian_design_moments(2, method="isserlis")
    gm_m = sym.gaussian_design_moments(2, method="mgf")
    assert_zero(gm_i.D - gm_m.D, "D via Isserlis vs via MGF")


def test_trace_of_D_exercise():
    gm = sym.gaussian_design_moments(3)
    loss = (gm.sigma2 + (gm.e.T * gm.Sigma * gm.e)[0]) / 2
    claim = 2 * loss * gm.Sigma.trace() + (gm.e.T * gm.Sigma * gm.Sigma * gm.e)[0]
    assert_zero(gm.D.trace() - claim, "tr D = 2 f tr Sigma + e^T Sigma^2 e")


def test_numeric_population_diffusion_is_the_symbolic_formula():
    """vdlib.theory.regression.population_diffusion (numpy) evaluates the derived SymPy expression."""
    gm = sym.gaussian_design_moments(2)
    rng = np.random.default_rng(0)
    M = rng.normal(size=(2, 2))
    S = M @ M.T + 0.2 * np.eye(2)
    x, x_star, s2 = rng.normal(size=2), rng.normal(size=2), 0.37
    e = x - x_star
    subs = {gm.sigma2: s2, gm.e[0]: e[0], gm.e[1]: e[1],
            gm.Sigma[0, 0]: S[0, 0], gm.Sigma[0, 1]: S[0, 1], gm.Sigma[1, 1]: S[1, 1]}
    D_sym = np.array(gm.D.subs(subs).evalf(), dtype=float)
    np.testing.assert_allclose(regression.population_diffusion(x, x_star, S, s2), D_sym, rtol=1e-12)


def test_aligned_display_is_short_latex():
    math = aligned([(r"c(b)", sym.minibatch_factor(False)), ("x", r"\frac12")])
    latex = math.data
    assert latex.startswith(r"\begin{aligned}") and latex.count(r"\\") == 1
    assert len(latex) < 200
