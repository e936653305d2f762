"""Every identity chapter 13 shows: SymPy for the algebra (simplify(lhs − rhs) == 0), numerical checks
with stated tolerances where an integral or a distribution is involved."""
import math

import numpy as np
import pytest
import sympy as sp
from scipy import integrate, special, stats

from vdlib.analysis import tails
from vdlib.theory import levy

t, sigma, alpha, n, K1, w, eps, h, x, c = sp.symbols("t sigma alpha n K_1 w epsilon h x c", positive=True)
z = sp.symbols("z", real=True)


def _zero(expr) -> bool:
    return sp.simplify(expr) == 0


def test_stability_eq_tails_stability():
    """The characteristic function of a sum of n copies is that of n^{1/α} X (eq-tails-cf, eq-tails-stability)."""
    phi_sum = sp.exp(-sigma ** alpha * t ** alpha) ** n
    phi_scaled = sp.exp(-sigma ** alpha * (n ** (1 / alpha) * t) ** alpha)
    assert _zero(sp.powsimp(sp.expand_power_base(phi_sum - phi_scaled, force=True), force=True))


def test_estimator_eq_tails_estimator():
    """E log|K1^{1/α} X| − E log|X| = (1/α) log K1."""
    EX = sp.Symbol("E_logX")
    assert _zero(sp.expand_log(sp.log(K1 ** (1 / alpha)) + EX - EX, force=True) - sp.log(K1) / alpha)


@pytest.mark.parametrize("a", [0.5, 1.2, 1.5, 1.9])
def test_levy_constant_two_forms(a):
    """c_α = Γ(1+α) sin(πα/2)/π equals α C_α / 2 with Samorodnitsky–Taqqu's C_α = (1−α)/(Γ(2−α) cos(πα/2))."""
    C = (1 - a) / (math.gamma(2 - a) * math.cos(math.pi * a / 2))
    assert levy.levy_constant(a) == pytest.approx(a * C / 2, rel=1e-12)


def test_mean_log_abs_gaussian():
    """m0 = E log|Z| = −(γ + log 2)/2."""
    phi = sp.exp(-x ** 2 / 2) / sp.sqrt(2 * sp.pi)
    m0 = 2 * sp.integrate(sp.log(x) * phi, (x, 0, sp.oo))
    assert _zero(m0 - (-(sp.EulerGamma + sp.log(2)) / 2))
    assert float(tails.EULER_LOG_ABS_GAUSSIAN) == pytest.approx(float(-(sp.EulerGamma + sp.log(2)) / 2), rel=1e-14)


@pytest.mark.parametrize("nu", [3, 4, 6])
def test_mean_log_abs_student_t_numerically(nu):
    """E log|t_ν| = m0 − ½(ψ(ν/2) − log(ν/2)), against quadrature (tolerance 1e-7)."""
    val = 2 * integrate.quad(lambda y: math.log(y) * stats.t.pdf(y, nu), 0, 1)[0] \
        + 2 * integrate.quad(lambda y: math.log(y) * stats.t.pdf(y, nu), 1, np.inf)[0]
    assert tails.student_t_mean_log_abs(nu) == pytest.approx(val, abs=1e-7)


def test_student_t_gap_eq_tails_t_gap():
    """Δ_ν = ½ log(ν/(ν−2)) + m0 − E log|t_ν| simplifies to ½(ψ(ν/2) − log(ν/2 − 1))."""
    mu = sp.Symbol("mu", positive=True)
    nu = mu + 2  # ν > 2: a finite variance
    m0 = sp.Symbol("m0")
    E_t = m0 - (sp.polygamma(0, nu / 2) - sp.log(nu / 2)) / 2
    gap = sp.log(sp.sqrt(nu / (nu - 2))) + m0 - E_t
    target = (sp.polygamma(0, nu / 2) - sp.log(nu / 2 - 1)) / 2
    assert _zero(sp.expand_log(gap - target, force=True))
    for v in (3, 4, 6):
        assert tails.student_t_log_gap(v) == pytest.approx(0.5 * (special.digamma(v / 2) - math.log(v / 2 - 1)), rel=1e-14)


def test_finite_variance_limit_eq_tails_fv_limit():
    """(½ log K1 + log σ + m0 − E log|X|)/log K1 = ½ + Δ/log K1 with Δ = log σ + m0 − E log|X|."""
    m0, EX = sp.symbols("m0 E_logX")
    delta = sp.log(sigma) + m0 - EX
    assert _zero((sp.log(K1) / 2 + sp.log(sigma) + m0 - EX) / sp.log(K1) - (sp.Rational(1, 2) + delta / sp.log(K1)))
    assert tails.finite_variance_limit(0.0, 447) == pytest.approx(2.0)


def test_edgeworth_step_of_eq_tails_crossover():
    """E[log|Z| He4(Z)] = −2, so with density φ(1 + κ_b He4/24): E log|X| = m0 − κ_b/12, i.e. Δ_b = κ_b/12."""
    phi = sp.exp(-x ** 2 / 2) / sp.sqrt(2 * sp.pi)
    he4 = x ** 4 - 6 * x ** 2 + 3
    val = 2 * sp.integrate(sp.log(x) * he4 * phi, (x, 0, sp.oo))
    assert _zero(val + 2)
    kb = sp.Symbol("kappa_b")
    m0 = -(sp.EulerGamma + sp.log(2)) / 2
    E_logX = m0 + kb / 24 * val  # E log|X| under the one-term Edgeworth density (unit variance)
    assert _zero((m0 - E_logX) - kb / 12)


def test_edgeworth_gap_against_monte_carlo():
    """Δ_b for means of b Laplace draws (κ = 3) against κ/(12 b): within 20 % at b = 8 (Monte Carlo, 2·10⁶ draws;
    the next Edgeworth terms are O(1/b²))."""
    rng = np.random.default_rng(0)
    b, kappa = 8, 3.0
    m = rng.laplace(size=(2_000_000, b)).mean(axis=1)
    gap = math.log(m.std()) + tails.EULER_LOG_ABS_GAUSSIAN - np.log(np.abs(m)).mean()
    assert gap == pytest.approx(kappa / (12 * b), rel=0.2)


def test_crossover_algebra_eq_tails_crossover():
    """1/(½ + ε) = 2 − 4ε + O(ε²); 2 − κ/(3 b log K1) = 2 − δ at b* = κ/(3 δ log K1)."""
    e, kappa, b, delta = sp.symbols("varepsilon kappa b delta", positive=True)
    assert _zero(sp.series(1 / (sp.Rational(1, 2) + e), e, 0, 2).removeO() - (2 - 4 * e))
    first_order = 2 - 4 * (kappa / (12 * b * sp.log(K1)))
    assert _zero(first_order - (2 - kappa / (3 * b * sp.log(K1))))
    (b_star,) = sp.solve(sp.Eq(first_order, 2 - delta), b)
    assert _zero(b_star - kappa / (3 * delta * sp.log(K1)))
    assert tails.clt_crossover_batch(60, 100, 0.1) == pytest.approx(float(b_star.subs({kappa: 60, delta: 0.1, K1: 100})))


def test_kramers_prefactor():
    """U = h((x/w)² − 1)²: U''(−w) = 8h/w², U''(0) = −4h/w², and π/sqrt(U''(−w)|U''(0)|) = π w²/(4√2 h)."""
    y = sp.Symbol("y", real=True)
    U = h * ((y / w) ** 2 - 1) ** 2
    Ua, Us = sp.diff(U, y, 2).subs(y, -w), sp.diff(U, y, 2).subs(y, 0)
    assert _zero(Ua - 8 * h / w ** 2) and _zero(Us + 4 * h / w ** 2)
    assert _zero(sp.pi / sp.sqrt(Ua * (-Us)) - sp.pi * w ** 2 / (4 * sp.sqrt(2) * h))
    assert levy.kramers_exit_time(1.3, 0.8, 0.9) == pytest.approx(
        float((sp.pi * w ** 2 / (4 * sp.sqrt(2) * h) * sp.exp(2 * h / eps ** 2)).subs({h: 1.3, w: 0.8, eps: 0.9})))


def test_imkeller_pavlyukevich_rate_eq_tails_ip():
    """Rate of jumps longer than w: ε^α ∫_w^∞ c y^{−1−α} dy = c ε^α w^{−α}/α; the mean time is its inverse."""
    y = sp.Symbol("y", positive=True)
    a = sp.Symbol("a", positive=True)
    rate = eps ** a * sp.integrate(c * y ** (-1 - a), (y, w, sp.oo), conds="none")
    assert _zero(rate - c * eps ** a * w ** (-a) / a)
    assert levy.levy_exit_time(1.4, 0.1, 1.5) == pytest.approx(1.5 * 1.4 ** 1.5 / (levy.levy_constant(1.5) * 0.1 ** 1.5))


def test_samples_needed_for_student_t3():
    """n = exp(2 Δ_3 / (1/1.9 − 1/2)) ≈ 1.1·10¹² puts eq-tails-fv-limit at 1.9 (K1 = √n)."""
    gap = tails.student_t_log_gap(3)
    n_needed = math.exp(2 * gap / (1 / 1.9 - 1 / 2))
    assert 1e12 < n_needed < 1.3e12
    assert tails.finite_variance_limit(gap, math.isqrt(int(n_needed))) == pytest.approx(1.9, abs=1e-3)
