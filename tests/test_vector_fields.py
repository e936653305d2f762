"""vdlib.theory.vector_fields (critical points, orbits, circulation) and the chapter-09 additions to
vdlib.theory.potentials and vdlib.book.plotting: known answers, cross-checks and clear errors on bad input."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from vdlib.book import plotting  # noqa: E402
from vdlib.theory import sde  # noqa: E402
from vdlib.theory import potentials as pot  # noqa: E402
from vdlib.theory import vector_fields as vf  # noqa: E402


# ------------------------------------------------------------------------------ classify
@pytest.mark.parametrize(
    "J, kind",
    [
        (np.diag([1.0, -1.0]), "saddle"),
        (np.diag([-1.0, -2.0]), "stable node"),
        (np.diag([1.0, 2.0]), "unstable node"),
        (np.array([[-0.1, -1.0], [1.0, -0.1]]), "stable focus"),
        (np.array([[0.1, -1.0], [1.0, 0.1]]), "unstable focus"),
        (np.array([[0.0, -2.0], [2.0, 0.0]]), "centre (linear)"),
        (np.array([[1.0, -3.0], [3.0, -1.0]]), "centre (linear)"),  # trace 0, det 8 (non-normal)
        (np.array([[0.0, 0.0], [0.0, 1.0]]), "degenerate"),
        (np.array([[-1.0, 1.0], [0.0, -1.0]]), "stable node"),  # Jordan block: tau^2 = 4 det
    ],
)
def test_classify_known_matrices(J, kind):
    assert vf.classify(J) == kind


@pytest.mark.parametrize("bad", [np.eye(3), [[1.0, np.nan], [0.0, 1.0]], [1.0, 2.0]])
def test_classify_rejects_bad_matrices(bad):
    with pytest.raises(ValueError, match="finite 2x2"):
        vf.classify(bad)


# ------------------------------------------------------------------------------ jacobian and roots
def _linear(M, c):
    M, c = np.asarray(M, float), np.asarray(c, float)
    return lambda X, Y: (M[0, 0] * (X - c[0]) + M[0, 1] * (Y - c[1]), M[1, 0] * (X - c[0]) + M[1, 1] * (Y - c[1]))


def test_numerical_jacobian_of_a_linear_field_is_exact():
    M = np.array([[0.3, -1.2], [2.0, 0.5]])
    J = vf.numerical_jacobian(_linear(M, (0.1, 0.2)), (0.7, -0.4))
    assert np.allclose(J, M, atol=1e-8)


def test_example19_jacobian_matches_finite_differences():
    rng = np.random.default_rng(0)
    for lam in (0.0, 0.5, 1.5, 3.0):
        field = lambda X, Y: pot.example19_drift(X, Y, lam)  # noqa: E731
        for p in rng.uniform(-2, 2, size=(6, 2)):
            assert np.allclose(pot.example19_jacobian(*p, lam), vf.numerical_jacobian(field, p), atol=1e-7)
    a = 1.5 * np.exp(0.25)
    assert np.allclose(pot.example19_jacobian(0.0, 0.0, 1.5), [[1, -a], [a, -1]])


def test_critical_points_of_a_field_with_three_roots():
    # u = x (1 - x^2), v = -y: zeros at x = -1, 0, 1 on y = 0
    field = lambda X, Y: (X * (1 - X * X), -Y)  # noqa: E731
    cps = vf.critical_points(field, ((-2, 2), (-2, 2)))
    assert [round(float(c.point[0]), 8) for c in cps] == [-1.0, 0.0, 1.0]
    assert [c.kind for c in cps] == ["stable node", "saddle", "stable node"]
    assert all(c.residual < 1e-10 for c in cps)
    assert [c.stable for c in cps] == [True, False, True]
    # the analytic Jacobian gives the same points
    jac = lambda x, y: np.array([[1 - 3 * x * x, 0.0], [0.0, -1.0]])  # noqa: E731
    cps2 = vf.critical_points(field, ((-2, 2), (-2, 2)), jacobian=jac)
    assert np.allclose([c.point for c in cps], [c.point for c in cps2])


def test_critical_points_respect_the_box_and_find_an_off_centre_root():
    M = np.array([[-1.0, 0.5], [-0.5, -1.0]])
    cps = vf.critical_points(_linear(M, (0.3, -0.7)), ((-1, 1), (-1, 1)), n_starts=4)
    assert len(cps) == 1 and np.allclose(cps[0].point, [0.3, -0.7]) and cps[0].kind == "stable focus"
    assert vf.critical_points(_linear(M, (3.0, 0.0)), ((-1, 1), (-1, 1)), n_starts=4) == []


def test_critical_points_example19_r5():
    """R5: (±1, 0) → ±(0.902, 0.389) → only the origin."""
    def cps(lam):
        return vf.critical_points(lambda X, Y: pot.example19_drift(X, Y, lam), ((-2, 2), (-2, 2)),
                                  jacobian=lambda x, y: pot.example19_jacobian(x, y, lam))

    c0, c05, c15 = cps(0.0), cps(0.5), cps(1.5)
    assert np.allclose([c.point for c in c0], [[-1, 0], [0, 0], [1, 0]], atol=1e-9)
    assert np.allclose([c.point for c in c05], [[-0.9024, -0.3888], [0, 0], [0.9024, 0.3888]], atol=1e-4)
    assert len(c15) == 1 and np.allclose(c15[0].point, 0) and c15[0].kind == "centre (linear)"
    assert c15[0].stable is None


def test_critical_points_bad_input_is_explained():
    f = lambda X, Y: (X, Y)  # noqa: E731
    with pytest.raises(TypeError, match="callable"):
        vf.critical_points(3.0)
    with pytest.raises(ValueError, match="xmin < xmax"):
        vf.critical_points(f, ((1, -1), (-1, 1)))
    with pytest.raises(ValueError, match=r"\(\(xmin, xmax\), \(ymin, ymax\)\)"):
        vf.critical_points(f, (-1, 1))
    with pytest.raises(ValueError, match="at least 2"):
        vf.critical_points(f, n_starts=1)
    with pytest.raises(ValueError, match="2x2 array"):
        vf.critical_points(f, jacobian=lambda x, y: np.eye(3))
    with pytest.raises(ValueError, match=r"pair \(U, V\)"):
        vf.critical_points(lambda X, Y: X)


# ------------------------------------------------------------------------------ orbits
def test_rotation_orbit_period_and_radius():
    orb = vf.integrate_orbit(lambda X, Y: (-2.0 * Y, 2.0 * X), (1.5, 0.0), 20.0)
    _, periods = vf.orbit_periods(orb)
    assert np.allclose(periods, np.pi, atol=1e-9)
    assert np.allclose(orb.radius(np.linspace(0, 20, 101)), 1.5, atol=1e-9)
    assert abs(orb.max_radius(20.0, 5.0) - 1.5) < 1e-9
    # a clockwise orbit never crosses counter-clockwise
    cw = vf.integrate_orbit(lambda X, Y: (Y, -X), (1.0, 0.0), 20.0)
    assert cw.crossing_times.size == 0
    with pytest.raises(ValueError, match="at least 2 crossings"):
        vf.orbit_periods(cw)


def test_ray_at_an_angle_and_an_off_centre_orbit():
    c = np.array([1.0, -0.5])
    field = lambda X, Y: (-(Y - c[1]), X - c[0])  # noqa: E731
    orb = vf.integrate_orbit(field, c + [0.0, 0.8], 15.0, center=c, ray_angle=np.pi / 2)
    z = orb.sol(orb.crossing_times)
    assert np.allclose(z[0], c[0], atol=1e-8) and np.all(z[1] > c[1])  # on the upward ray
    assert np.allclose(np.diff(orb.crossing_times), 2 * np.pi, atol=1e-8)


def test_amplitude_decay_of_a_cubic_spiral():
    """r' = -r^3 (with rotation): r = r0 / sqrt(1 + 2 r0^2 t), so r ~ (2t)^(-1/2)."""
    field = lambda X, Y: (-Y - X * (X * X + Y * Y), X - Y * (X * X + Y * Y))  # noqa: E731
    orb = vf.integrate_orbit(field, (0.5, 0.0), 600.0)
    fit = vf.amplitude_decay(orb)
    # exact local slope at t: -1/2 * 2 r0^2 t / (1 + 2 r0^2 t) -> about -0.497 on [300, 600]
    assert abs(fit.exponent + 0.5) < 0.01
    # r decreases monotonically, so each revolution's maximum is its radius at the start
    r_exact = 0.5 / np.sqrt(1 + 2 * 0.25 * orb.crossing_times[:-1])
    assert np.allclose(fit.amplitudes, r_exact, rtol=1e-6)
    assert np.allclose(fit(fit.times[fit.fitted]), fit.amplitudes[fit.fitted], rtol=0.01)


def test_orbit_bad_input_is_explained():
    f = lambda X, Y: (-Y, X)  # noqa: E731
    with pytest.raises(ValueError, match="shape \\(2,\\)"):
        vf.integrate_orbit(f, (1.0, 0.0, 0.0), 1.0)
    with pytest.raises(ValueError, match="t_max"):
        vf.integrate_orbit(f, (1.0, 0.0), -1.0)
    with pytest.raises(ValueError, match="finite"):
        vf.integrate_orbit(f, (np.nan, 0.0), 1.0)
    orb = vf.integrate_orbit(f, (1.0, 0.0), 10.0)
    with pytest.raises(ValueError, match="outside the integrated interval"):
        orb.max_radius(20.0, 5.0)
    with pytest.raises(ValueError, match="at least 4 ray crossings"):
        vf.amplitude_decay(orb)
    long = vf.integrate_orbit(f, (1.0, 0.0), 40.0)
    with pytest.raises(ValueError, match="lower t_min"):
        vf.amplitude_decay(long, t_min=39.0)


# ------------------------------------------------------------------------------ circulation
def test_angular_momentum_of_a_deterministic_rotation():
    t = np.linspace(0, 2, 2001)
    dt = t[1] - t[0]
    radii = np.array([0.5, 1.0, 2.0])
    snaps = np.stack([radii * np.cos(3 * t)[:, None], radii * np.sin(3 * t)[:, None]], axis=-1)
    L, se = vf.angular_momentum(snaps, dt)
    assert abs(L - 3 * np.mean(radii**2)) < 1e-4
    L_dr, _ = vf.angular_momentum_drift(snaps[0], lambda X, Y: (-3 * Y, 3 * X))
    assert abs(L_dr - 3 * np.mean(radii**2)) < 1e-12
    # about another centre the same circles have a different angular momentum
    L_c, _ = vf.angular_momentum(snaps + 1.0, dt, center=(1.0, 1.0))
    assert abs(L_c - L) < 1e-12


def test_angular_momentum_of_a_rotating_ou_ensemble():
    """dx = (-x + w Jx) dt + sqrt(2) dW: stationary N(0, I), <x1 b2 - x2 b1> = w <r^2> = 2w."""
    w, n, dt = 0.7, 2000, 0.01
    R = torch.tensor([[-1.0, w], [-w, -1.0]], dtype=torch.float64)  # x @ R = (-x1 - w x2, w x1 - x2)
    x0 = np.random.default_rng(1).standard_normal((n, 2))
    run = sde.euler_maruyama(lambda x: x @ R, np.sqrt(2.0), x0, dt, 400, seed=4, record_every=1,
                             dtype=torch.float64)
    L, se = vf.angular_momentum(run.snapshots, dt)
    Ld, sed = vf.angular_momentum_drift(run.snapshots[::20], lambda X, Y: (-X - w * Y, w * X - Y))
    exact = 2 * w / (1 - dt / 2)  # EM's stationary covariance is I / (1 - dt/2) to first order
    assert abs(L - exact) < 4 * se and abs(Ld - exact) < 4 * sed
    assert se < 0.1 * exact  # the test has power


def test_angular_momentum_bad_input_is_explained():
    with pytest.raises(ValueError, match=r"\(T, n_particles, 2\)"):
        vf.angular_momentum(np.zeros((5, 3)), 0.1)
    with pytest.raises(ValueError, match="at least 2 snapshots"):
        vf.angular_momentum(np.zeros((1, 3, 2)), 0.1)
    with pytest.raises(ValueError, match="dt"):
        vf.angular_momentum(np.zeros((4, 3, 2)), 0.0)
    with pytest.raises(ValueError, match=r"\(n_particles, 2\)"):
        vf.angular_momentum_drift(np.zeros((3, 3)), lambda X, Y: (X, Y))


# ------------------------------------------------------------------------------ torch drift
def test_torch_drift_matches_numpy_and_takes_one_lambda_per_particle():
    rng = np.random.default_rng(2)
    z = rng.uniform(-2.5, 2.5, size=(30, 2))
    lams = np.repeat([0.0, 0.5, 1.5], 10)
    out = vf.example19_torch_drift(lams)(torch.tensor(z)).numpy()
    ref = np.vstack([np.column_stack(pot.example19_drift(z[i:i + 10, 0], z[i:i + 10, 1], lams[i]))
                     for i in (0, 10, 20)])
    assert np.allclose(out, ref, rtol=1e-12, atol=1e-12)
    scalar = vf.example19_torch_drift(1.5)(torch.tensor(z)).numpy()
    assert np.allclose(scalar, np.column_stack(pot.example19_drift(z[:, 0], z[:, 1], 1.5)))
    assert vf.example19_torch_drift(torch.tensor(1.5))(torch.tensor(z, dtype=torch.float32)).dtype == torch.float32


def test_torch_drift_bad_input_is_explained():
    with pytest.raises(TypeError, match="number or a sequence"):
        vf.example19_torch_drift("1.5")
    with pytest.raises(ValueError, match="one value per particle"):
        vf.example19_torch_drift(np.ones((2, 2)))
    d = vf.example19_torch_drift([0.0, 1.0])
    with pytest.raises(ValueError, match="2 values but there are 3 particles"):
        d(torch.zeros(3, 2))
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        vf.example19_torch_drift(1.0)(torch.zeros(3, 3))


# ------------------------------------------------------------------------------ potentials (ch09)
def _grid(n=1201, L=6.0):
    s = np.linspace(-L, L, n)
    return s, np.meshgrid(s, s, indexing="ij")


def test_partition_function_and_angular_momentum_by_grid_quadrature():
    s, (X, Y) = _grid()
    cell = (s[1] - s[0]) ** 2
    Z_grid = np.exp(-pot.example19_phi(X, Y)).sum() * cell
    assert abs(pot.example19_partition_function() - Z_grid) < 1e-8 * Z_grid
    assert abs(pot.example19_partition_function() - 7.6235) < 1e-4
    bx, by = pot.example19_drift(X, Y, 1.5)
    L_grid = ((X * by - Y * bx) * np.exp(-pot.example19_phi(X, Y))).sum() * cell / Z_grid
    assert abs(pot.example19_angular_momentum(1.5) - L_grid) < 1e-8
    assert abs(pot.example19_angular_momentum(1.5) - 1.2363) < 1e-4


@pytest.mark.parametrize("beta", [1.0, 0.7, 1.4])
def test_bin_probabilities_match_grid_quadrature(beta):
    s, (X, Y) = _grid(2401)
    cell = (s[1] - s[0]) ** 2
    w = np.exp(-beta * pot.example19_phi(X, Y))
    w /= w.sum() * cell
    xe, ye = np.array([-3.0, -1.0, 0.0, 0.5, 3.0]), np.array([-2.0, 0.0, 1.0])
    p = pot.example19_bin_probabilities(xe, ye, beta)
    grid_p = np.array([[w[(X >= a) & (X < b) & (Y >= c) & (Y < d)].sum() * cell
                        for c, d in zip(ye[:-1], ye[1:])] for a, b in zip(xe[:-1], xe[1:])])
    assert p.shape == (4, 2) and np.allclose(p, grid_p, atol=2e-3)
    assert p.sum() < 1


def test_bin_probabilities_bad_input_is_explained():
    with pytest.raises(ValueError, match="strictly increasing"):
        pot.example19_bin_probabilities([0.0, -1.0], [0.0, 1.0])
    with pytest.raises(ValueError, match="beta"):
        pot.example19_bin_probabilities([0.0, 1.0], [0.0, 1.0], beta=0.0)


def test_exact_samples_follow_the_bin_probabilities():
    z = pot.example19_sample(200_000, np.random.default_rng(3))
    xe, ye = np.linspace(-3, 3, 13), np.linspace(-3, 3, 7)
    p = pot.example19_bin_probabilities(xe, ye)
    H = np.histogram2d(z[:, 0], z[:, 1], bins=[xe, ye])[0] / len(z)
    se = np.sqrt(p * (1 - p) / len(z))
    assert np.all(np.abs(H - p) < 5 * se + 1e-12)
    with pytest.raises(TypeError, match="Generator"):
        pot.example19_sample(10, 3)
    with pytest.raises(ValueError, match="positive integer"):
        pot.example19_sample(0, np.random.default_rng(0))


# ------------------------------------------------------------------------------ plotting (ch09)
def _field_grid(indexing):
    x, y = np.linspace(-1, 1, 21), np.linspace(-2, 2, 31)
    X, Y = np.meshgrid(x, y, indexing=indexing)
    return X, Y, -Y, X


@pytest.mark.parametrize("indexing", ["xy", "ij"])
def test_streamlines_accepts_both_meshgrid_orders(indexing):
    fig, ax = plt.subplots()
    X, Y, U, V = _field_grid(indexing)
    sp_ = plotting.streamlines(ax, X, Y, U, V, density=0.6)
    segs = sp_.lines.get_segments()
    assert len(segs) > 10
    # the drawn lines rotate counter-clockwise around the origin, whatever the indexing
    seg = segs[len(segs) // 2]
    cross = seg[0, 0] * (seg[1, 1] - seg[0, 1]) - seg[0, 1] * (seg[1, 0] - seg[0, 0])
    assert cross > 0
    widths = np.atleast_1d(sp_.lines.get_linewidth())
    assert widths.min() >= 0.4 - 1e-12 and widths.max() <= 2.4 + 1e-12 and np.ptp(widths) > 0
    plt.close(fig)


def test_streamlines_bad_input_is_explained():
    fig, ax = plt.subplots()
    X, Y, U, V = _field_grid("xy")
    with pytest.raises(ValueError, match="grid's shape"):
        plotting.streamlines(ax, X, Y, U.T, V.T)
    with pytest.raises(ValueError, match="finite"):
        plotting.streamlines(ax, X, Y, U * np.nan, V)
    with pytest.raises(ValueError, match="lw_range"):
        plotting.streamlines(ax, X, Y, U, V, lw_range=(2.0, 1.0))
    with pytest.raises(ValueError, match="meshgrid"):
        plotting.streamlines(ax, np.random.rand(4, 4), np.random.rand(4, 4), U[:4, :4], V[:4, :4])
    plt.close(fig)


def test_critical_point_markers():
    fig, ax = plt.subplots()
    cps = vf.critical_points(lambda X, Y: (X * (1 - X * X), -Y), ((-2, 2), (-2, 2)))
    handles = plotting.critical_points_markers(ax, cps)
    assert len(handles) == 3
    labels = [h.get_label() for h in handles]
    assert labels.count("stable node") == 1 and labels.count("saddle") == 1  # one legend entry per kind
    plotting.critical_points_markers(ax, [((0.0, 0.0), "centre (linear)")], legend=False)
    with pytest.raises(ValueError, match="unknown critical-point kind"):
        plotting.critical_points_markers(ax, [((0.0, 0.0), "vortex")])
    plt.close(fig)
