"""vdlib.theory.potentials: gradients against finite differences and the Example 19 identities."""
import numpy as np
import pytest

from vdlib.theory import potentials as pt


def _fd(f, x, h=1e-6):
    return (f(x + h) - f(x - h)) / (2 * h)


X1 = np.linspace(-2.5, 2.5, 41)


@pytest.mark.parametrize(
    "f, g",
    [
        (pt.double_well_1d_f, pt.double_well_1d_grad),
        (pt.shift_f, pt.shift_grad),
        (pt.shift_D, pt.shift_dD),
    ],
)
def test_1d_derivatives_match_finite_differences(f, g):
    assert np.allclose(g(X1), _fd(f, X1), rtol=1e-7, atol=1e-7)


def test_1d_values():
    assert np.allclose(pt.double_well_1d_f([-1.0, 0.0, 1.0]), [0.0, 0.25, 0.0])
    assert np.allclose(pt.double_well_1d_grad([-1.0, 0.0, 1.0]), 0.0)
    D = pt.shift_D(np.linspace(-20, 20, 101))
    assert D.min() > 0.5 - 1e-12 and D.max() < 1.5 + 1e-12
    assert pt.shift_D(0.0) == 1.0 and pt.shift_dD(0.0) == 0.5
    # scalars broadcast like arrays
    assert np.shape(pt.shift_grad(0.3)) == ()


def _grid(n=81, L=2.5):
    x = np.linspace(-L, L, n)
    return np.meshgrid(x, x, indexing="ij")


def test_example19_grad_phi_matches_finite_differences():
    X, Y = _grid()
    h = 1e-6
    gx, gy = pt.example19_grad_phi(X, Y)
    fx = (pt.example19_phi(X + h, Y) - pt.example19_phi(X - h, Y)) / (2 * h)
    fy = (pt.example19_phi(X, Y + h) - pt.example19_phi(X, Y - h)) / (2 * h)
    assert np.allclose(gx, fx, atol=1e-6) and np.allclose(gy, fy, atol=1e-6)


def _div(Fx, Fy, X, Y, h):
    """∇·F by centred differences in the interior of the grid."""
    return (Fx[2:, 1:-1] - Fx[:-2, 1:-1]) / (2 * h) + (Fy[1:-1, 2:] - Fy[1:-1, :-2]) / (2 * h)


def test_example19_current_is_divergence_free_and_stationarity_holds():
    lam = 1.5
    for n in (161, 321):
        X, Y = _grid(n)
        h = X[1, 0] - X[0, 0]
        cx, cy = pt.example19_current(X, Y)
        assert np.max(np.abs(_div(cx, cy, X, Y, h))) < 2.0 * h**2  # second-order FD of an exact zero
        jx, jy = pt.example19_j(X, Y, lam)
        w = np.exp(-pt.example19_phi(X, Y))
        div_jrho = _div(jx * w, jy * w, X, Y, h)
        assert np.max(np.abs(div_jrho)) < 4.0 * h**2
    # j e^{-Φ} is exactly λ J^ss, pointwise
    assert np.allclose(jx * w, lam * cx, atol=1e-14) and np.allclose(jy * w, lam * cy, atol=1e-14)


def test_example19_violates_assumption_4():
    """∇·j = j·∇Φ = −λ x y (x² − 2) e^{Φ − r⁴/4} ≠ 0 (the notes' erratum on Assumption 4)."""
    lam = 1.5
    X, Y = _grid(321)
    h = X[1, 0] - X[0, 0]
    jx, jy = pt.example19_j(X, Y, lam)
    gx, gy = pt.example19_grad_phi(X, Y)
    closed = -lam * X * Y * (X**2 - 2) * np.exp(pt.example19_phi(X, Y) - (X**2 + Y**2) ** 2 / 4)
    assert np.allclose(jx * gx + jy * gy, closed, atol=1e-12)
    div_j = _div(jx, jy, X, Y, h)
    assert np.allclose(div_j, closed[1:-1, 1:-1], atol=2e-3)
    assert np.max(np.abs(closed)) > 0.1


def test_example19_drift_is_minus_grad_phi_plus_j():
    X, Y = _grid(31)
    for lam in (0.0, 0.5, 1.5):
        bx, by = pt.example19_drift(X, Y, lam)
        gx, gy = pt.example19_grad_phi(X, Y)
        jx, jy = pt.example19_j(X, Y, lam)
        assert np.allclose(bx, -gx + jx) and np.allclose(by, -gy + jy)
    # λ = 0 is a gradient flow; the origin is a critical point for every λ
    bx, by = pt.example19_drift(X, Y, 0.0)
    assert np.allclose(bx, -pt.example19_grad_phi(X, Y)[0])
    assert np.allclose(pt.example19_drift(0.0, 0.0, 1.5), 0.0)


def test_example19_j_does_not_overflow_far_out():
    jx, jy = pt.example19_j(np.array([30.0, -50.0]), np.array([40.0, 10.0]), 1.5)
    assert np.all(np.isfinite(jx)) and np.all(np.isfinite(jy))
