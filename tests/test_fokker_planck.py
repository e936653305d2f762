"""vdlib.theory.fokker_planck: stationary laws against closed forms, evolution properties, input checks."""
import numpy as np
import pytest
from scipy.integrate import quad

from vdlib.theory import fokker_planck as fp
from vdlib.theory import linear
from vdlib.theory import potentials as pt


def centres(a, b, n):
    h = (b - a) / n
    return a + (np.arange(n) + 0.5) * h, h


def l1(p, q, cell):
    return float(np.abs(p - q).sum() * cell)


def gibbs(f_values, beta, cell):
    w = np.exp(-beta * (f_values - f_values.min()))
    return w / (w.sum() * cell)


# --------------------------------------------------------------------------------------------
# 1-D
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("beta", [1.0, 4.0])
def test_1d_gibbs_second_order(beta):
    errs = []
    for n in (100, 200, 400):
        x, h = centres(-3.0, 3.0, n)
        rho = fp.stationary_1d(pt.double_well_1d_grad, lambda x: np.ones_like(x), beta, x)
        assert rho.min() >= 0 and np.isclose(rho.sum() * h, 1.0, rtol=0, atol=1e-12)
        errs.append(l1(rho, gibbs(pt.double_well_1d_f(x), beta, h), h))
    assert errs[-1] < 1e-3
    ratios = np.array(errs[:-1]) / np.array(errs[1:])
    assert np.all(np.abs(ratios - 4.0) < 0.4), ratios


def test_1d_stationary_is_null_vector_of_generator():
    x, h = centres(-3.0, 3.0, 120)
    L = fp.generator_1d(pt.shift_grad, pt.shift_D, 2.0, x)
    rho = fp.stationary_1d(pt.shift_grad, pt.shift_D, 2.0, x)
    assert np.max(np.abs(L @ rho)) < 1e-10 * np.max(np.abs(L.diagonal())) * rho.max()
    assert np.max(np.abs(np.asarray(L.sum(axis=0)))) < 1e-10 * np.max(np.abs(L.diagonal()))  # mass conservation
    off = L - np.diag(L.diagonal())
    assert off.min() >= 0  # M-matrix: non-negative off-diagonal rates


def _shift_closed_form(x, beta):
    """ρ ∝ D⁻¹ exp(−β ∫₀ˣ f′/D), the integral by adaptive quadrature."""
    I = np.array([quad(lambda s: pt.shift_grad(s) / pt.shift_D(s), 0.0, xi, epsabs=1e-13, epsrel=1e-12)[0] for xi in x])
    return np.exp(-beta * I) / pt.shift_D(x)


@pytest.mark.parametrize("beta", [0.5, 3.0])
def test_1d_state_dependent_D_matches_closed_form(beta):
    errs = []
    for n in (80, 160):
        x, h = centres(-6.0, 6.0, n)
        rho = fp.stationary_1d(pt.shift_grad, pt.shift_D, beta, x)
        ex = _shift_closed_form(x, beta)
        errs.append(l1(rho, ex / (ex.sum() * h), h))
    assert errs[-1] < 2e-3
    assert 3.3 < errs[0] / errs[1] < 4.7
    # the mode sits at x* = −β⁻¹ D′(x*) (to grid resolution), i.e. left of the minimum of f
    x, h = centres(-6.0, 6.0, 4000)
    rho = fp.stationary_1d(pt.shift_grad, pt.shift_D, beta, x)
    xs = x[np.argmax(rho)]
    assert xs < 0 and abs(xs + pt.shift_dD(xs) / beta) < 2 * h


def test_1d_constant_D_accepts_a_scalar():
    x, h = centres(-3.0, 3.0, 50)
    a = fp.stationary_1d(pt.double_well_1d_grad, 0.7, 2.0, x)
    b = fp.stationary_1d(pt.double_well_1d_grad, lambda x: 0.7 + 0 * x, 2.0, x)
    assert np.allclose(a, b)


def test_evolve_1d_conserves_mass_positive_kl_monotone():
    x, h = centres(-3.0, 3.0, 80)
    rho0 = 3.0 * np.exp(-((x - 1.5) ** 2) / 0.05)  # not normalised: evolve normalises it
    ev = fp.evolve_1d(pt.shift_grad, pt.shift_D, 2.0, x, rho0, 10.0, dt=0.02, record_every=5)
    assert ev.rho.shape == (ev.times.size, x.size) and ev.times[0] == 0 and np.isclose(ev.times[-1], 10.0)
    assert np.allclose(ev.mass, 1.0, atol=1e-12)
    assert ev.rho.min() >= 0
    assert np.all(np.diff(ev.kl) <= 1e-14)
    assert ev.kl[0] > 1.0 and ev.kl[-1] < 1e-6
    assert np.allclose(ev.free_energy, ev.kl / ev.beta, atol=1e-12)
    assert np.allclose(ev.stationary, fp.stationary_1d(pt.shift_grad, pt.shift_D, 2.0, x))


def test_evolve_1d_large_dt_stays_positive():
    x, h = centres(-3.0, 3.0, 60)
    ev = fp.evolve_1d(pt.double_well_1d_grad, 1.0, 1.0, x, np.exp(-x**2), 50.0, dt=10.0)
    assert ev.rho.min() >= 0 and np.allclose(ev.mass, 1.0)
    assert np.all(np.diff(ev.kl) <= 1e-14)


# --------------------------------------------------------------------------------------------
# 2-D
# --------------------------------------------------------------------------------------------
def _grid2(n, L):
    x, h = centres(-L, L, n)
    X, Y = np.meshgrid(x, x, indexing="ij")
    return x, h, X, Y


def _f2(X, Y):
    return pt.double_well_1d_f(X) + 0.5 * Y**2 + 0.3 * X * Y


def _grad_f2(X, Y):
    return pt.double_well_1d_grad(X) + 0.3 * Y, Y + 0.3 * X


@pytest.mark.parametrize("D", [np.eye(2), np.diag([0.5, 2.0]), np.array([[1.0, 0.5], [0.5, 0.8]])])
def test_2d_gibbs_for_preconditioned_gradient_drift(D):
    """b = −D∇f with constant SPD D has the Gibbs law e^{−βf}/Z (zero current), second order."""
    beta = 1.5

    def drift(X, Y):
        gx, gy = _grad_f2(X, Y)
        return -(D[0, 0] * gx + D[0, 1] * gy), -(D[1, 0] * gx + D[1, 1] * gy)

    errs = []
    for n in (40, 80):
        x, h, X, Y = _grid2(n, 3.5)
        rho = fp.stationary_2d(drift, D, beta, x, x)
        assert rho.shape == (n, n) and rho.min() >= 0 and np.isclose(rho.sum() * h * h, 1.0)
        errs.append(l1(rho, gibbs(_f2(X, Y), beta, h * h), h * h))
    assert errs[-1] < 5e-3
    assert 3.3 < errs[0] / errs[1] < 4.7, errs


@pytest.mark.parametrize("commuting", [True, False])
def test_2d_linear_drift_matches_lyapunov_covariance(commuting):
    """dx = −Hx dt + √(2β⁻¹D) dW: Gaussian with HΣ + ΣHᵀ = 2β⁻¹D (vdlib.theory.linear.solve_lyapunov)."""
    H = np.array([[1.0, 0.3], [0.3, 2.0]])
    if commuting:
        D = 0.5 * H + 0.2 * np.eye(2)  # commutes with H: Σ = β⁻¹ H⁻¹D, still not isotropic
    else:
        D = np.array([[1.0, 0.6], [0.6, 0.7]])
    assert np.allclose(H @ D, D @ H) == commuting
    beta = 2.0
    S = linear.solve_lyapunov(H, 2.0 / beta * D)
    errs = []
    for n in (128, 256):
        x, h, X, Y = _grid2(n, 5.0)
        rho = fp.stationary_2d(lambda X, Y: (-(H[0, 0] * X + H[0, 1] * Y), -(H[1, 0] * X + H[1, 1] * Y)), D, beta, x, x)
        c = h * h
        m = np.array([(rho * X).sum() * c, (rho * Y).sum() * c])
        C = np.array([[(rho * X * X).sum(), (rho * X * Y).sum()], [(rho * X * Y).sum(), (rho * Y * Y).sum()]]) * c
        assert np.max(np.abs(m)) < 1e-10
        errs.append(np.max(np.abs(C - S)))
    if commuting:
        # D⁻¹b = −D⁻¹Hx is the gradient of a quadratic (D⁻¹H is symmetric), and exponential fitting
        # is exact for it: the discrete law is the sampled Gaussian, whose midpoint moments are
        # spectrally accurate
        assert errs[-1] < 1e-10 * np.max(np.abs(S))
    else:
        assert errs[-1] < 3e-3 * np.max(np.abs(S))
        assert errs[0] / errs[1] > 3.0  # converges at second order


def test_2d_state_dependent_anisotropic_D_gibbs():
    """D(x, y) SPD and varying, drift b = −D∇f + β⁻¹∇·D: the stationary law is again e^{−βf}/Z."""
    beta = 1.0

    def D(X, Y):
        out = np.empty(X.shape + (2, 2))
        out[..., 0, 0] = 1.0 + 0.5 * np.tanh(X)
        out[..., 1, 1] = 1.0 + 0.3 * np.sin(Y)
        out[..., 0, 1] = out[..., 1, 0] = 0.2 * np.cos(X)
        return out

    def drift(X, Y):
        Dm = D(X, Y)
        gx, gy = _grad_f2(X, Y)
        # (∇·D)_x = ∂x D_xx + ∂y D_xy, (∇·D)_y = ∂x D_yx + ∂y D_yy
        divx = 0.5 / np.cosh(X) ** 2
        divy = -0.2 * np.sin(X) + 0.3 * np.cos(Y)
        bx = -(Dm[..., 0, 0] * gx + Dm[..., 0, 1] * gy) + divx / beta
        by = -(Dm[..., 1, 0] * gx + Dm[..., 1, 1] * gy) + divy / beta
        return bx, by

    errs = []
    for n in (40, 80):
        x, h, X, Y = _grid2(n, 3.5)
        rho = fp.stationary_2d(drift, D, beta, x, x)
        errs.append(l1(rho, gibbs(_f2(X, Y), beta, h * h), h * h))
        Jx, Jy = fp.current_2d(rho, drift, D, beta, x, x)
        assert np.max(np.abs(Jx)) + np.max(np.abs(Jy)) < 0.05 * rho.max()  # reversible: current ≈ 0
    assert errs[-1] < 5e-3 and errs[0] / errs[1] > 3.0, errs


def test_example19_stationary_is_exp_minus_phi_and_current_is_lambda_Jss():
    lam = 1.5
    drift = lambda X, Y: pt.example19_drift(X, Y, lam)  # noqa: E731
    errs, cerrs = [], []
    for n in (48, 96):
        x, h, X, Y = _grid2(n, 3.5)
        rho = fp.stationary_2d(drift, np.eye(2), 1.0, x, x)
        w = np.exp(-pt.example19_phi(X, Y))
        Z = w.sum() * h * h
        errs.append(l1(rho, w / Z, h * h))
        Jx, Jy = fp.current_2d(rho, drift, np.eye(2), 1.0, x, x)
        cx, cy = pt.example19_current(X, Y)
        scale = lam * np.max(np.abs(cx)) / Z
        cerrs.append(max(np.max(np.abs(Jx - lam * cx / Z)), np.max(np.abs(Jy - lam * cy / Z))) / scale)
    assert errs[-1] < 2e-3 and 3.3 < errs[0] / errs[1] < 4.7, errs
    assert cerrs[-1] < 0.02 and cerrs[0] / cerrs[1] > 3.0, cerrs  # the current is not zero: j ≠ 0


def test_evolve_2d_example19_kl_monotone_to_zero():
    x, h, X, Y = _grid2(40, 3.5)
    drift = lambda X, Y: pt.example19_drift(X, Y, 1.5)  # noqa: E731
    rho0 = np.exp(-((X + 1.0) ** 2 + (Y - 1.0) ** 2) / 0.2)
    ev = fp.evolve_2d(drift, np.eye(2), 1.0, x, x, rho0, 6.0, dt=0.02, record_every=10)
    assert ev.rho.shape == (ev.times.size, 40, 40)
    assert np.allclose(ev.mass, 1.0, atol=1e-12) and ev.rho.min() >= 0
    assert np.all(np.diff(ev.kl) < 0)
    assert ev.kl[0] > 1.0 and ev.kl[-1] < 1e-4
    # free energy with the exact Φ: F = β⁻¹ KL(ρ‖e^{−Φ}/Z) − β⁻¹ log Z, on the grid
    phi = pt.example19_phi(X, Y)
    Z = np.exp(-phi).sum() * h * h
    exact = np.exp(-phi) / Z
    for r in ev.rho[::5]:
        F = fp.free_energy(r, phi, 1.0, h * h)
        assert np.isclose(F, fp.kl_divergence(r, exact, h * h) - np.log(Z), atol=1e-10)


def test_evolve_2d_with_cross_diffusion():
    x, h, X, Y = _grid2(48, 4.0)
    D = np.array([[1.0, 0.4], [0.4, 0.8]])
    H = np.array([[1.0, 0.0], [0.5, 1.5]])  # non-symmetric: a non-gradient linear drift
    ev = fp.evolve_2d(lambda X, Y: (-(H[0, 0] * X + H[0, 1] * Y), -(H[1, 0] * X + H[1, 1] * Y)), D, 1.0, x, x,
                      np.exp(-((X - 1) ** 2 + Y**2) / 0.3), 8.0, dt=0.05, record_every=4)
    assert np.allclose(ev.mass, 1.0, atol=1e-12) and ev.rho.min() >= 0
    assert np.all(np.diff(ev.kl) < 1e-12) and ev.kl[-1] < 1e-4


# --------------------------------------------------------------------------------------------
# functionals
# --------------------------------------------------------------------------------------------
def test_kl_and_entropy():
    x, h = centres(-6, 6, 600)
    p = np.exp(-x**2 / 2) / np.sqrt(2 * np.pi)
    q = np.exp(-((x - 1) ** 2) / 2) / np.sqrt(2 * np.pi)
    assert fp.kl_divergence(p, p, h) == 0.0
    assert np.isclose(fp.kl_divergence(p, q, h), 0.5, atol=1e-6)  # KL(N(0,1)‖N(1,1)) = 1/2
    assert np.isclose(fp.entropy(p, h), 0.5 * np.log(2 * np.pi * np.e), atol=1e-6)
    z = p.copy()
    z[:10] = 0.0
    assert fp.kl_divergence(p, z, h) == np.inf and np.isfinite(fp.kl_divergence(z, p, h))


# --------------------------------------------------------------------------------------------
# bad inputs
# --------------------------------------------------------------------------------------------
X3 = np.linspace(-2, 2, 21)
G1 = pt.double_well_1d_grad


@pytest.mark.parametrize(
    "x, match",
    [
        (np.array([0.0, 1.0]), "at least 3 points"),
        (np.array([0.0, 2.0, 1.0, 3.0]), "strictly increasing"),
        (np.array([0.0, 1.0, 3.0, 4.0]), "uniform"),
        (np.zeros((3, 3)), "1-D array"),
    ],
)
def test_bad_grids(x, match):
    with pytest.raises(ValueError, match=match):
        fp.stationary_1d(G1, 1.0, 1.0, x)
    with pytest.raises(ValueError, match=match):
        fp.stationary_2d(lambda X, Y: (-X, -Y), np.eye(2), 1.0, X3, x)


@pytest.mark.parametrize("beta", [0.0, -1.0, np.inf])
def test_bad_beta(beta):
    with pytest.raises(ValueError, match="beta must be a positive"):
        fp.stationary_1d(G1, 1.0, beta, X3)
    with pytest.raises(ValueError, match="beta must be a positive"):
        fp.stationary_2d(lambda X, Y: (-X, -Y), np.eye(2), beta, X3, X3)


def test_bad_diffusions():
    with pytest.raises(ValueError, match="D must be positive"):
        fp.stationary_1d(G1, lambda x: np.tanh(x), 1.0, X3)
    with pytest.raises(ValueError, match="symmetric positive definite"):
        fp.stationary_2d(lambda X, Y: (-X, -Y), np.array([[1.0, 2.0], [2.0, 1.0]]), 1.0, X3, X3)
    with pytest.raises(ValueError, match="symmetric"):
        fp.stationary_2d(lambda X, Y: (-X, -Y), np.array([[1.0, 0.2], [0.1, 1.0]]), 1.0, X3, X3)
    with pytest.raises(ValueError, match="2×2"):
        fp.stationary_2d(lambda X, Y: (-X, -Y), np.eye(3), 1.0, X3, X3)
    with pytest.raises(ValueError, match="shape"):
        fp.stationary_2d(lambda X, Y: (-X, -Y), lambda X, Y: np.eye(2), 1.0, X3, X3)


def test_bad_rho0_and_dt():
    with pytest.raises(ValueError, match="non-negative"):
        fp.evolve_1d(G1, 1.0, 1.0, X3, -np.ones(21), 1.0, dt=0.1)
    with pytest.raises(ValueError, match="shape"):
        fp.evolve_1d(G1, 1.0, 1.0, X3, np.ones(20), 1.0, dt=0.1)
    with pytest.raises(ValueError, match="zero total mass"):
        fp.evolve_1d(G1, 1.0, 1.0, X3, np.zeros(21), 1.0, dt=0.1)
    for dt in (0.0, -0.1):
        with pytest.raises(ValueError, match="dt must be a positive"):
            fp.evolve_1d(G1, 1.0, 1.0, X3, np.ones(21), 1.0, dt=dt)
        with pytest.raises(ValueError, match="dt must be a positive"):
            fp.evolve_2d(lambda X, Y: (-X, -Y), np.eye(2), 1.0, X3, X3, np.ones((21, 21)), 1.0, dt=dt)
    with pytest.raises(ValueError, match="shape"):
        fp.evolve_2d(lambda X, Y: (-X, -Y), np.eye(2), 1.0, X3, X3, np.ones((21, 20)), 1.0, dt=0.1)


def test_nan_drift_is_reported():
    with pytest.raises(ValueError, match="NaN or infinite"), np.errstate(invalid="ignore"):
        fp.stationary_1d(lambda x: np.log(x), 1.0, 1.0, X3)


def test_blow_up_names_the_step_and_suggests_smaller_dt(monkeypatch):
    """Backward Euler on an M-matrix cannot blow up, so a failing linear solve is simulated."""
    real_splu = fp.spla.splu

    class Broken:
        def __init__(self, lu):
            self.lu, self.calls = lu, 0

        def solve(self, r):
            self.calls += 1
            out = self.lu.solve(r)
            return out * np.nan if self.calls >= 3 else out

    monkeypatch.setattr(fp.spla, "splu", lambda A: Broken(real_splu(A)))
    with pytest.raises(FloatingPointError, match=r"step 3 \(t = 0\.3\).*smaller dt"):
        fp.evolve_1d(G1, 1.0, 1.0, X3, np.ones(21), 1.0, dt=0.1)


def test_strong_cross_diffusion_on_a_coarse_grid_raises_clearly():
    H = np.array([[1.0, 0.3], [0.3, 2.0]])
    D = np.array([[1.0, 0.6], [0.6, 0.7]])
    x, h = centres(-5, 5, 32)
    with pytest.raises(ValueError, match="negative values.*cross-diffusion"):
        fp.stationary_2d(lambda X, Y: (-(H[0, 0] * X + H[0, 1] * Y), -(H[1, 0] * X + H[1, 1] * Y)), D, 2.0, x, x)


def test_stationary_2d_survives_a_pin_cell_whose_density_underflows():
    """Wide box, cold temperature: the first pinned cell (smallest outflow rate) lies where ρ
    underflows; the solver must re-pin at the largest |ρ| (a signed argmax re-picked the same cell
    and the result was rejected as hugely negative)."""
    from vdlib.theory import linear
    from vdlib.theory import potentials as pt
    from vdlib.theory.critical_shift import gaussian_box

    beta = 2 / 0.003
    D0 = pt.ch08_D(np.zeros(1), np.zeros(1))[0]
    Sigma = linear.solve_lyapunov(np.array([[1.0, 0.5], [0.5, 1.0]]), 2 / beta * D0)
    wide = fp.stationary_2d(pt.ch08_drift, pt.ch08_D, beta, *gaussian_box(Sigma, 201, 8.0))
    snug = fp.stationary_2d(pt.ch08_drift, pt.ch08_D, beta, *gaussian_box(Sigma, 141, 5.5))
    assert np.all(wide >= 0)
    assert wide.max() == pytest.approx(snug.max(), rel=1e-3)
