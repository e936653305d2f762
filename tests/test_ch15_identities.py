"""Every identity chapter 15 shows (non-reversible sampling), checked in SymPy or numerically."""
import numpy as np
import sympy as sp

from vdlib.theory import nonreversible as nr


def test_any_antisymmetric_J_keeps_exp_minus_U_stationary():
    for general in (True, False):
        residual, _ = nr.fp_stationary_residual(general_potential=general)
        assert sp.simplify(residual) == 0


def test_a_symmetric_perturbation_breaks_stationarity():
    """Control: the same computation with a symmetric non-identity factor does not vanish."""
    x, y, k = sp.symbols("x y k", real=True)
    U = (x**2 + 3 * y**2) / 2
    rho = sp.exp(-U)
    v = -sp.Matrix([[1, k], [k, 1]]) * sp.Matrix([sp.diff(U, x), sp.diff(U, y)])
    residual = -(sp.diff(v[0] * rho, x) + sp.diff(v[1] * rho, y)) + sp.diff(rho, x, 2) + sp.diff(rho, y, 2)
    assert sp.simplify(residual) != 0


def test_2d_trace_and_determinant():
    g = nr.gap_2d_symbolic()
    s = g["symbols"]
    assert sp.simplify(g["trace"] - (s["a"] + s["c"])) == 0
    assert sp.simplify(g["det"] - (1 + s["j"] ** 2) * (s["a"] * s["c"] - s["b"] ** 2)) == 0


def test_2d_discriminant_in_the_eigenbasis_and_the_optimal_threshold():
    l1, l2 = sp.symbols("lambda_1 lambda_2", positive=True)
    j = sp.symbols("j", real=True)
    tr, det = l1 + l2, (1 + j**2) * l1 * l2
    disc = sp.expand(tr**2 - 4 * det)
    assert sp.simplify(disc - ((l1 - l2) ** 2 - 4 * j**2 * l1 * l2)) == 0
    j_star = (l1 - l2) / (2 * sp.sqrt(l1 * l2))
    assert sp.simplify(disc.subs(j, j_star)) == 0


def test_2d_gap_formula_numerically():
    rng = np.random.default_rng(0)
    for _ in range(50):
        lam = np.sort(rng.uniform(0.2, 10, 2))
        Q, _ = np.linalg.qr(rng.normal(size=(2, 2)))
        A = Q @ np.diag(lam) @ Q.T
        jv = rng.uniform(-4, 4)
        J = np.array([[0.0, jv], [-jv, 0.0]])
        t, det = lam.sum() / 2, (1 + jv * jv) * lam.prod()
        closed = t - np.sqrt(max(0.0, t * t - det))
        assert abs(nr.spectral_gap(A, J) - closed) < 1e-9 * t


def test_2d_linear_variance_closed_form():
    sigma2, closed, _ = nr.linear_variance_2d_symbolic()
    assert sp.simplify(sigma2 - closed) == 0


def test_operator_inequality_behind_the_variance_reduction():
    """⟨f, M⁻¹f⟩ = ⟨f, S⁻¹f⟩ − ⟨Kg, S⁻¹Kg⟩ for M = S + K (S SPD, K antisymmetric), g = M⁻¹f."""
    rng = np.random.default_rng(1)
    for _ in range(50):
        d = int(rng.integers(2, 8))
        G = rng.normal(size=(d, d))
        S = G @ G.T + 0.1 * np.eye(d)
        K = rng.normal(size=(d, d))
        K = K - K.T
        f = rng.normal(size=d)
        g = np.linalg.solve(S + K, f)
        lhs = f @ g
        rhs = f @ np.linalg.solve(S, f) - (K @ g) @ np.linalg.solve(S, K @ g)
        assert abs(lhs - rhs) < 1e-9 * abs(f @ np.linalg.solve(S, f))


def test_euler_linear_variance_is_the_spectral_density_at_zero():
    """h(I − F)⁻¹(2hI)(I − F)⁻ᵀ = 2B⁻¹B⁻ᵀ = 2A⁻¹(I − J²)⁻¹A⁻¹ for every h."""
    rng = np.random.default_rng(2)
    G = rng.normal(size=(3, 3))
    A = G @ G.T + np.eye(3)
    J = rng.normal(size=(3, 3))
    J = J - J.T
    B = nr.drift_matrix(A, J)
    Ai = np.linalg.inv(A)
    target = 2 * Ai @ np.linalg.inv(np.eye(3) - J @ J) @ Ai
    assert np.allclose(2 * np.linalg.inv(B) @ np.linalg.inv(B).T, target)
    c = rng.normal(size=3)
    for h in (0.001, 0.3 * nr.stability_limit(A, J)):
        assert np.isclose(nr.asymptotic_variance(A, J, c, h=h), c @ target @ c, rtol=1e-8)
