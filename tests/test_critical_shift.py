"""vdlib.theory.critical_shift (modes, moment sums, fits, ensembles, the symbolic solver's input checks)
and the chapter-08 example appended to vdlib.theory.potentials."""
import numpy as np
import pytest
import sympy as sp

from vdlib.theory import critical_shift as cs
from vdlib.theory import potentials as pot


# ------------------------------------------------------------------ the 2-D example
P = np.linspace(-2.0, 2.0, 9)
XX, YY = np.meshgrid(P, P, indexing="ij")


def test_ch08_gradient_and_divergence_match_finite_differences():
    h = 1e-6
    gx, gy = pot.ch08_grad(XX, YY)
    assert np.allclose(gx, (pot.ch08_f(XX + h, YY) - pot.ch08_f(XX - h, YY)) / (2 * h), atol=1e-7)
    assert np.allclose(gy, (pot.ch08_f(XX, YY + h) - pot.ch08_f(XX, YY - h)) / (2 * h), atol=1e-7)
    bx, by = pot.ch08_drift(XX, YY)
    assert np.allclose(bx, -gx) and np.allclose(by, -gy)
    dDx = (pot.ch08_D(XX + h, YY) - pot.ch08_D(XX - h, YY)) / (2 * h)
    dDy = (pot.ch08_D(XX, YY + h) - pot.ch08_D(XX, YY - h)) / (2 * h)
    div = pot.ch08_div_D(XX, YY)
    assert np.allclose(div[0], dDx[..., 0, 0] + dDy[..., 0, 1], atol=1e-6)
    assert np.allclose(div[1], dDx[..., 1, 0] + dDy[..., 1, 1], atol=1e-6)
    assert np.allclose(pot.ch08_div_D(0.0, 0.0), (2 * pot.CH08_SCALE * pot.CH08_AMPLITUDE, 0.0))


def test_ch08_D_is_symmetric_positive_definite_up_to_the_bound():
    a = pot.CH08_MAX_AMPLITUDE - 1e-3
    big = np.linspace(-30, 30, 61)
    X, Y = np.meshgrid(big, big, indexing="ij")
    D = pot.ch08_D(X, Y, amplitude=a)
    assert np.allclose(D, np.swapaxes(D, -1, -2))
    assert np.linalg.eigvalsh(D).min() > 0
    assert np.allclose(pot.ch08_D(0.0, 0.0), pot.CH08_SCALE * pot.CH08_D0)
    # the bound is sharp: just above it D is indefinite at tanh x1 = tanh x2 = 1
    D_bad = pot.CH08_D0 + (pot.CH08_MAX_AMPLITUDE + 1e-3) * (pot.CH08_A1 + pot.CH08_A2)
    assert np.linalg.eigvalsh(D_bad).min() < 0
    assert not np.allclose(pot.CH08_H @ pot.CH08_D0, pot.CH08_D0 @ pot.CH08_H)  # non-commuting


@pytest.mark.parametrize("kw, msg", [(dict(amplitude=0.5), "amplitude must lie"),
                                     (dict(amplitude=-0.1), "amplitude must lie"),
                                     (dict(scale=0.0), "scale must be a positive")])
def test_ch08_bad_parameters_are_clear_errors(kw, msg):
    with pytest.raises(ValueError, match=msg):
        pot.ch08_D(0.0, 0.0, **kw)


def test_ch08_symbolic_matches_numeric():
    f, D, (x1, x2) = cs.ch08_symbolic()
    Dn = sp.lambdify((x1, x2), D)
    assert np.allclose(np.array(Dn(0.3, -0.7), dtype=float), pot.ch08_D(0.3, -0.7))
    assert np.isclose(float(f.subs({x1: 0.3, x2: -0.7})), pot.ch08_f(0.3, -0.7))


# ------------------------------------------------------------------ modes
def test_mode_grid_is_exact_for_gaussians():
    x = np.linspace(-3, 3, 61)
    assert abs(cs.mode_grid(np.exp(-((x - 0.137) ** 2) / 0.5), x) - 0.137) < 1e-12
    y = np.linspace(-2, 2.5, 51)
    X, Y = np.meshgrid(x, y, indexing="ij")
    m = np.array([0.21, -0.33])
    Prec = np.array([[2.0, 0.7], [0.7, 1.5]])
    Z = np.stack([X - m[0], Y - m[1]], -1)
    rho = np.exp(-0.5 * np.einsum("...i,ij,...j->...", Z, Prec, Z))
    assert np.allclose(cs.mode_grid(rho, x, y), m, atol=1e-10)


def test_mode_grid_errors():
    x = np.linspace(0, 1, 11)
    with pytest.raises(ValueError, match="edge of the grid"):
        cs.mode_grid(np.exp(x), x)
    with pytest.raises(ValueError, match="shape"):
        cs.mode_grid(np.ones((3, 3)), x, x)
    with pytest.raises(ValueError, match="uniformly spaced"):
        cs.mode_grid(np.ones(3), [0.0, 1.0, 3.0])


def test_edgeworth_mode_is_exact_for_a_gamma_density():
    """For Gamma(k, θ): μ − κ₃/(2σ²) = kθ − θ, the exact mode (k − 1)θ."""
    k, th = 6.0, 0.3
    x = np.linspace(1e-6, 20, 200_001)
    w = x ** (k - 1) * np.exp(-x / th)
    assert abs(cs.edgeworth_mode(x, w)[0] - (k - 1) * th) < 1e-6


def test_edgeworth_mode_of_symmetric_samples_is_the_mean():
    rng = np.random.default_rng(0)
    Z = rng.standard_normal((1000, 2))
    S = np.concatenate([Z, -Z]) + np.array([0.5, -1.0])
    assert np.allclose(cs.edgeworth_mode(S), [0.5, -1.0], atol=1e-12)
    with pytest.raises(ValueError, match="weights"):
        cs.edgeworth_mode(S, np.ones(3))
    with pytest.raises(ValueError, match="non-negative"):
        cs.edgeworth_mode(S, -np.ones(len(S)))


def test_moment_sums_match_direct_moments():
    rng = np.random.default_rng(1)
    S = rng.gamma(3.0, 1.0, size=(5000, 2)) @ np.array([[1.0, 0.3], [0.0, 1.0]])
    m = cs.MomentSums(2)
    for chunk in np.array_split(S, 7):
        m.add(chunk)
    assert m.n == len(S)
    assert np.allclose(m.mean(), S.mean(0))
    assert np.allclose(m.cov(), np.cov(S.T, bias=True))
    assert np.allclose(m.mode(), cs.edgeworth_mode(S))
    with pytest.raises(ValueError, match="add more samples"):
        cs.MomentSums(2).mode()


def test_gaussian_box_and_fit():
    x, y = cs.gaussian_box(np.diag([4.0, 0.25]), 10, k=3.0)
    assert np.isclose(x[-1] - x[0] + (x[1] - x[0]), 12.0) and np.isclose(y[-1] - y[0] + (y[1] - y[0]), 3.0)
    r = np.array([0.1, 0.2, 0.4])
    coef, se, chi2, dof = cs.fit_through_origin(r, 2 * r - 3 * r**2, np.full(3, 0.01), degree=2)
    assert np.allclose(coef, [2, -3]) and chi2 < 1e-20 and dof == 1 and se.shape == (2,)
    with pytest.raises(ValueError, match="positive"):
        cs.fit_through_origin(r, r, np.zeros(3))


def test_cholesky_small():
    rng = np.random.default_rng(2)
    A = rng.standard_normal((50, 2, 2))
    D = A @ np.swapaxes(A, 1, 2) + 0.1 * np.eye(2)
    L = cs._cholesky_small(D)
    assert np.allclose(L @ np.swapaxes(L, 1, 2), D) and np.allclose(L[:, 0, 1], 0)
    with pytest.raises(ValueError, match="positive definite"):
        cs._cholesky_small(-D)


# ------------------------------------------------------------------ ensembles
def test_run_chains_sgd_matches_discrete_stationary_variance():
    """SGD on f = x²/2 with constant D = 1: Var = (η²/b)/(1 − (1 − η)²), mean 0, no skew."""
    eta, b = 0.2, 2
    r = cs.run_moment_chains(lambda X: X, lambda X: np.ones_like(X), eta / (2 * b), eta, n_chains=400,
                      n_steps=600, burn_in=50, x0=[0.0], seed=3, edges=[np.linspace(-1, 1, 21)])
    var = np.mean([g.cov()[0, 0] for g in r.groups])
    assert abs(var / ((eta**2 / b) / (1 - (1 - eta) ** 2)) - 1) < 0.05
    m, se = r.mean()
    assert abs(m[0]) < 4 * se[0]
    mo, mse = r.mode()
    assert abs(mo[0]) < 4 * mse[0]
    assert r.hist.sum() > 0 and r.modes.shape == (10, 1)


def test_run_chains_input_errors():
    g, D = (lambda X: X), (lambda X: np.ones_like(X))
    with pytest.raises(ValueError, match="burn_in"):
        cs.run_moment_chains(g, D, 0.1, 0.1, n_chains=10, n_steps=5, burn_in=5, x0=[0.0])
    with pytest.raises(ValueError, match="n_groups"):
        cs.run_moment_chains(g, D, 0.1, 0.1, n_chains=5, n_steps=5, burn_in=1, n_groups=10, x0=[0.0])
    with pytest.raises(ValueError, match="x0 is required"):
        cs.run_moment_chains(g, D, 0.1, 0.1, n_chains=10, n_steps=5, burn_in=1)
    with pytest.raises(ValueError, match="positive"):
        cs.run_moment_chains(g, D, -0.1, 0.1, n_chains=10, n_steps=5, burn_in=1, x0=[0.0])


# ------------------------------------------------------------------ symbolic solver input checks
def test_first_order_shift_input_errors():
    x1, x2 = cs.x1, cs.x2
    x3 = sp.Symbol("x_3")
    with pytest.raises(ValueError, match="d = 1 or 2"):
        cs.first_order_shift(x1**2 + x2**2 + x3**2, sp.eye(3), (x1, x2, x3))
    with pytest.raises(ValueError, match="critical point"):
        cs.first_order_shift((x1 - 1) ** 2, sp.Matrix([[1]]), (x1,))
    with pytest.raises(ValueError, match="symmetric"):
        cs.first_order_shift(x1**2 + x2**2, sp.Matrix([[1, x1], [0, 1]]), (x1, x2))
    with pytest.raises(ValueError, match="positive definite"):
        cs.first_order_shift(x1**2 - x2**2, sp.eye(2), (x1, x2))
    with pytest.raises(ValueError, match="D\\(0\\) must be positive definite"):
        cs.first_order_shift(x1**2, sp.Matrix([[-1]]), (x1,))
