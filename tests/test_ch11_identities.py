"""Every identity chapter 11 (SGD does not converge, Fig. 3) displays, checked against an independent
oracle: the AR(1) increment spectrum (eq-traj-ar1-increments) by simulation and symbolically, the
growth-corrected FDR1 (eq-traj-fdr1-growth) on a toy with a free direction, the heavy-ball phase-space
asymmetry (E10) from the exact discrete Lyapunov solution against simulation, and BatchNorm's scale
invariance (θ_s·∇_s f = 0) on the chain engine."""
import math

import numpy as np
import pytest
import scipy.linalg as sla
import sympy as sp
import torch

from vdlib.deep import chains as ch
from vdlib.analysis import trajectory as tj


def ar1_increment_power(omega, a, s=1.0):
    return s**2 * (2 - 2 * np.cos(omega)) / (1 - 2 * a * np.cos(omega) + a**2)


def test_ar1_increment_spectrum_symbolically():
    """|(z − 1)/(z − a)|² on the unit circle equals the closed form of eq-traj-ar1-increments."""
    w, a = sp.symbols("omega a", real=True)
    z = sp.exp(sp.I * w)
    H = (z - 1) / (z - a)
    lhs = sp.simplify(sp.expand_complex(H * sp.conjugate(H)))
    rhs = (2 - 2 * sp.cos(w)) / (1 - 2 * a * sp.cos(w) + a**2)
    for wv, av in ((0.3, 0.5), (1.7, -0.4), (3.0, 0.98)):
        assert abs(float(lhs.subs({w: wv, a: av})) - float(rhs.subs({w: wv, a: av}))) < 1e-12


@pytest.mark.parametrize("a", [0.9, 0.5])
def test_ar1_increment_spectrum_by_simulation(a):
    n_t, k = 2048, 300
    r = np.random.default_rng(0)
    x = np.zeros((n_t, k))
    x[0] = r.standard_normal(k) / math.sqrt(1 - a * a)
    for t in range(1, n_t):
        x[t] = a * x[t - 1] + r.standard_normal(k)
    sp_ = tj.increment_spectrum(x)
    amp2 = (np.abs(np.fft.rfft(np.diff(x, axis=0), axis=0)) ** 2 / (n_t - 1)).mean(1)
    th = ar1_increment_power(2 * np.pi * sp_.freq, a)
    band = (sp_.freq > 0.01) & (sp_.freq < 0.49)
    # mean of k exponential variables: relative error ~ 1/sqrt(k) per bin; average over the band
    assert abs(np.mean(amp2[band] / th[band]) - 1) < 0.03
    assert th[1] < 0.1 * th[-1]  # not flat: small at low frequency (a confined, reversible process)


def fdr1_toy(eta, mu, h=1.0, sigma=0.5, n_chains=4000, n_steps=2500, seed=0, free=True):
    r = np.random.default_rng(seed)
    th = np.zeros((n_chains, 2))
    v = np.zeros((n_chains, 2))
    lhs, vsq, norm = [], [], []
    hh = np.array([h, 0.0 if free else h])
    for _ in range(n_steps):
        g = th * hh + sigma * r.standard_normal((n_chains, 2))
        lhs.append((th * g).sum(1).mean())
        v = mu * v - eta * g
        th = th + v
        vsq.append((v**2).sum(1).mean())
        norm.append((th**2).sum(1).mean())
    k = n_steps // 2
    G = (norm[-1] - norm[k - 1]) / (n_steps - k)
    return np.mean(lhs[k:]), (1 + mu) / (2 * eta) * np.mean(vsq[k:]), G


@pytest.mark.parametrize("mu", [0.0, 0.9])
def test_fdr1_with_a_free_direction_needs_the_growth_term(mu):
    eta = 0.1
    L, R, G = fdr1_toy(eta, mu)
    corrected = R - (1 - mu) / (2 * eta) * G
    assert G > 0 and abs(L - corrected) < 0.05 * abs(R - L)  # the correction closes the gap
    assert abs(R - L) > 0.2 * abs(L)                          # the plain relation fails
    L2, R2, G2 = fdr1_toy(eta, mu, free=False)                # confined: Yaida's relation holds
    assert abs(L2 - R2) < 0.03 * R2 and abs(G2) < 0.01 * R2


def heavy_ball_lag1(H, noise_cov, eta, mu):
    k = H.shape[0]
    I = np.eye(k)
    M = np.block([[I - eta * H, mu * I], [-eta * H, mu * I]])
    B = np.vstack([-eta * I, -eta * I])
    Sig = sla.solve_discrete_lyapunov(M, B @ noise_cov @ B.T)
    return M @ Sig, Sig, M, B


def test_heavy_ball_phase_space_rotation_is_reversible_in_positions():
    H = np.array([[1.0, 0.3], [0.3, 0.5]])
    for mu in (0.0, 0.9):
        C1, Sig, M, B = heavy_ball_lag1(H, 0.1 * np.eye(2), 0.1, mu)
        assert np.allclose(Sig, M @ Sig @ M.T + B @ (0.1 * np.eye(2)) @ B.T)
        assert abs(C1[0, 1] - C1[1, 0]) < 1e-12 * abs(C1).max()    # positions: symmetric
        if mu > 0:
            assert abs(C1[0, 2] - C1[2, 0]) > 1e-3 * abs(C1).max()  # (x, v): rotation
    C1, _, _, _ = heavy_ball_lag1(H, np.diag([0.18, 0.02]), 0.1, 0.9)
    assert abs(C1[0, 1] - C1[1, 0]) > 1e-3 * abs(C1).max()          # non-commuting noise: circulation


def test_heavy_ball_lag1_covariance_matches_simulation():
    H, Dn, eta, mu = np.array([[1.0, 0.3], [0.3, 0.5]]), np.diag([0.18, 0.02]), 0.1, 0.9
    C1, Sig, M, B = heavy_ball_lag1(H, Dn, eta, mu)
    r = np.random.default_rng(1)
    n, T = 400, 3000
    z = np.zeros((n, 4))
    L = np.linalg.cholesky(Dn)
    acc, cnt = np.zeros((4, 4)), 0
    for t in range(T):
        zn = z @ M.T + (r.standard_normal((n, 2)) @ L.T) @ B.T
        if t > 1000:
            acc += z.T @ zn / n
            cnt += 1
        z = zn
    emp = acc / cnt  # E[z_t z_{t+1}^T] = Σ Mᵀ = C(1)ᵀ
    a_emp = 0.5 * (emp[1, 0] - emp[0, 1])
    a_th = 0.5 * (C1[0, 1] - C1[1, 0])
    assert abs(a_emp - a_th) < 0.2 * abs(a_th)


def test_batchnorm_makes_the_first_layer_scale_invariant():
    """θ_s · ∇_s f = 0 on (W1, b1) with BN, up to BN's ε = 1e-5 in var + ε (the reason the weight norm
    drifts), and clearly non-zero without BN."""
    torch.manual_seed(0)
    X = torch.rand(64, 49, dtype=torch.float64)
    y = torch.randint(0, 4, (64,))
    for bn in (True, False):
        lay = ch.layout("tiny-fc", 4, batchnorm=bn)
        th = ch.init_weights(lay, [3]).double()
        _, _, g = ch.forward_backward(th, X, y, lay)
        sl = slice(0, lay.slices["b1"].stop)
        dot = float((th[0, sl] * g[0, sl]).sum())
        scale = float(th[0, sl].norm() * g[0, sl].norm())
        if bn:
            assert abs(dot) < 1e-3 * scale
        else:
            assert abs(dot) > 1e-2 * scale


def test_heavy_ball_phase_per_step():
    """The rotation angle of the heavy-ball map equals arccos((1 + μ − ηλ) / (2√μ)) when oscillating."""
    eta, mu, lam = 0.1, 0.9, 5.0
    ev = np.linalg.eigvals(np.array([[1 + mu - eta * lam, -mu], [1.0, 0.0]]))
    assert np.allclose(np.abs(ev), math.sqrt(mu))
    assert np.isclose(np.abs(np.angle(ev)).max(), math.acos((1 + mu - eta * lam) / (2 * math.sqrt(mu))))


# ------------------------------------------------------------------ the steady-state section (sec-traj-verdict)
def _heavy_ball_wd(theta0, grad, eta, lam, mu, steps, noise):
    """torch.optim.SGD's heavy-ball with weight decay; noise[t] is added to the gradient of step t."""
    th, v = theta0.copy(), None
    out = [th.copy()]
    for t in range(steps):
        g = grad(th) + lam * th + noise[t]
        v = g if v is None else mu * v + g
        th = th - eta * v
        out.append(th.copy())
    return np.array(out)


def _scale_invariant_grad(th):
    """∇ of f(θ) = h(θ/‖θ‖) with h(u) = Σ_i cos(3 u_i) u_i²: f(cθ) = f(θ) for every c > 0."""
    r = np.linalg.norm(th)
    u = th / r
    dh = -3 * np.sin(3 * u) * u**2 + 2 * u * np.cos(3 * u)
    return (dh - u * (u @ dh)) / r


@pytest.mark.parametrize("c", [0.1, 3.0])
def test_steady_state_scaling_eta_lambda(c):
    """eq-traj-ss-scaling: for f(cθ) = f(θ), (η, λ) from θ0 and (c²η, λ/c²) from cθ0 give θ'_t = cθ_t."""
    rng = np.random.default_rng(0)
    d, steps, eta, lam, mu = 20, 400, 0.05, 5e-3, 0.9
    theta0 = rng.standard_normal(d)
    noise = 0.1 * rng.standard_normal((steps, d))
    # scale invariance of the loss itself: the gradient is orthogonal to θ and scales as 1/c
    np.testing.assert_allclose(_scale_invariant_grad(c * theta0), _scale_invariant_grad(theta0) / c, rtol=1e-12)
    assert abs(_scale_invariant_grad(theta0) @ theta0) < 1e-12
    # the same mini-batch noise means the same noise in the loss's gradient: ξ(cθ) = ξ(θ)/c for a scale-invariant f_B
    a = _heavy_ball_wd(theta0, lambda t: _scale_invariant_grad(t), eta, lam, mu, steps, noise / np.linalg.norm(theta0))
    b = _heavy_ball_wd(c * theta0, lambda t: _scale_invariant_grad(t), c * c * eta, lam / (c * c), mu, steps,
                       noise / np.linalg.norm(theta0) / c)
    np.testing.assert_allclose(b, c * a, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("eta,lam,mu", [(0.1, 5e-4, 0.9), (1e-3, 5e-2, 0.9), (0.1, 5e-4, 0.0)])
def test_weight_norm_relaxation_time(eta, lam, mu):
    """eq-traj-relaxation: with θ·∇f = 0, ‖θ‖² relaxes at the rate 2ηλ/(1 − μ) per step (τ = (1−μ)/(2ηλ)),
    measured on the noiseless heavy-ball from rest, within 2 % (the O(ηλ) corrections are smaller)."""
    tau = (1 - mu) / (2 * eta * lam)
    steps = int(3 * tau)
    th = _heavy_ball_wd(np.ones(5), lambda t: _scale_invariant_grad(t), eta, lam, mu, steps, np.zeros((steps, 5)))
    n2 = (th**2).sum(1)
    late = np.arange(steps // 3, steps)  # past the momentum transient
    slope = np.polyfit(late, np.log(n2[late]), 1)[0]
    assert slope == pytest.approx(-1 / tau, rel=0.02)
