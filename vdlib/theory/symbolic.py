"""SymPy helpers shared by the derivation chapters: the zero test, mini-batch covariances from count
moments, Gaussian moments, and the Fokker–Planck operator, generator, current and Itô's lemma.

:func:`is_zero` is the library's one test of "this expression is identically zero"; every symbolic
identity of the book (the chapters' checks, :func:`assert_identity`,
:func:`vdlib.book.display.check_identity`, the tests) goes through it. Gradients and divergences come
from :mod:`vdlib.theory.vector_calculus` (its docstring states the matrix-divergence convention).

Used in: 01_minibatch_noise, 02_sgd_as_sde, 03_fokker_planck, 04_potential_and_force,
05_variational_inference, 06_wasserstein_jko.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import sympy as sp

from .vector_calculus import as_matrix, as_vector, coordinates, divergence, matrix_divergence


def is_zero(expr) -> bool:
    """True when ``expr`` (a scalar or a matrix, entry by entry) is identically zero.

    First ``sympy.simplify(expr) == 0``; failing that, the expression is simplified again after
    expanding logarithms (log(ab) = log a + log b, log aᵏ = k log a: the quantities inside the logs
    of the book are densities and other positive functions) and combining powers, which is what
    the free-energy identities of chapter 05 need.
    """
    if isinstance(expr, sp.MatrixBase):
        return all(is_zero(e) for e in sp.simplify(expr))
    if sp.simplify(expr) == 0:
        return True
    e = sp.expand(sp.expand_log(sp.sympify(expr).doit(), force=True))
    return sp.simplify(sp.powsimp(e)) == 0


def assert_identity(lhs, rhs, name: str = "identity") -> None:
    """Raise ``AssertionError`` naming the identity unless ``lhs − rhs`` is zero (:func:`is_zero`)."""
    if not is_zero(sp.Matrix(lhs) - sp.Matrix(rhs) if isinstance(lhs, sp.MatrixBase) else lhs - rhs):
        raise AssertionError(f"{name} does not hold: lhs - rhs simplifies to {sp.simplify(lhs - rhs)}")


# ---------------------------------------------------------------------------------------------
# Chapter 01: mini-batch covariance from the moments of the counts c_i (how often example i is in
# the batch), with and without replacement, and brute-force enumeration of all batches.
# ---------------------------------------------------------------------------------------------

#: Dataset size and batch size as SymPy symbols (positive integers).
N_SYM, B_SYM = sp.symbols("N b", positive=True, integer=True)


@dataclass(frozen=True)
class CountMoments:
    """First and second moments of the counts c_i = number of times example i is in the batch.

    ``mean`` = E[c_i], ``second`` = E[c_i²], ``cross`` = E[c_i c_j] for i ≠ j (the same for every
    i, j by symmetry). Used in: 01_minibatch_noise
    """

    scheme: str
    N: sp.Expr
    b: sp.Expr
    mean: sp.Expr
    second: sp.Expr
    cross: sp.Expr

    @property
    def var(self) -> sp.Expr:
        """Var(c_i)."""
        return sp.simplify(self.second - self.mean**2)

    @property
    def cov(self) -> sp.Expr:
        """Cov(c_i, c_j) for i ≠ j."""
        return sp.simplify(self.cross - self.mean**2)

    @property
    def batch_size_constraint(self) -> sp.Expr:
        """Var(Σ_i c_i) = N Var(c_i) + N(N − 1) Cov(c_i, c_j); zero because Σ_i c_i = b is fixed."""
        return sp.simplify(self.N * self.var + self.N * (self.N - 1) * self.cov)


def count_moments(replacement: bool, N=N_SYM, b=B_SYM) -> CountMoments:
    """Derive E[c_i], E[c_i²], E[c_i c_j] for a batch of size b from a dataset of size N.

    * With replacement, c_i = Σ_{t=1}^b u_{t,i} with u_{t,i} = 1[I_t = i] and I_1..I_b i.i.d. uniform:
      E u_{t,i} = 1/N, u_{t,i}² = u_{t,i}, u_{t,i}u_{t,j} = 0 (one draw hits one example), and draws
      t ≠ s are independent. Summing over the b diagonal and b(b − 1) off-diagonal pairs (t, s)
      gives the moments (the multinomial(b, 1/N) moments).
    * Without replacement, c_i = 1[i ∈ batch] and the batch is a uniform b-subset:
      P(i ∈ batch) = C(N−1, b−1)/C(N, b), P(i, j ∈ batch) = C(N−2, b−2)/C(N, b), and c_i² = c_i.

    Used in: 01_minibatch_noise
    """
    N, b = sp.sympify(N), sp.sympify(b)
    if replacement:
        p = 1 / N
        e_u, e_uu_same, e_uu_other = p, p, sp.Integer(0)  # E u_{t,i}, E u_{t,i}^2, E u_{t,i} u_{t,j}
        mean = b * e_u
        second = b * e_uu_same + b * (b - 1) * e_u * e_u
        cross = b * e_uu_other + b * (b - 1) * e_u * e_u
        scheme = "with replacement"
    else:
        total = sp.binomial(N, b)
        mean = sp.combsimp(sp.binomial(N - 1, b - 1) / total)
        cross = sp.combsimp(sp.binomial(N - 2, b - 2) / total)
        second = mean
        scheme = "without replacement"
    return CountMoments(scheme, N, b, sp.simplify(mean), sp.simplify(second), sp.simplify(cross))


def paper_a2_indicator_moments(N=N_SYM, b=B_SYM):
    """The indicator variance and covariance as Appendix A.2 of the paper writes them.

    Returns ``(var, cov)`` = (b/N − b²/N², −b(N − b)/(N²(N − 1))). Used in: 01_minibatch_noise
    """
    N, b = sp.sympify(N), sp.sympify(b)
    return b / N - b**2 / N**2, -b * (N - b) / (N**2 * (N - 1))


def covariance_coefficients(moments: CountMoments):
    """Var(∇f_b) = A·S + B·g gᵀ with S = (1/N) Σ_i g_i g_iᵀ; returns ``(A, B)``.

    From ∇f_b = (1/b) Σ_i c_i g_i: Var(∇f_b) = (1/b²) Σ_{i,j} Cov(c_i, c_j) g_i g_jᵀ
    = (1/b²)[Var(c_i) Σ_i g_i g_iᵀ + Cov(c_i, c_j) Σ_{i≠j} g_i g_jᵀ], and Σ_i g_i g_iᵀ = N S,
    Σ_{i≠j} g_i g_jᵀ = N² g gᵀ − N S. So A = N(Var − Cov)/b², B = N² Cov/b². When B = −A the
    covariance is A·D. Used in: 01_minibatch_noise
    """
    N, b = moments.N, moments.b
    A = sp.simplify(N * (moments.var - moments.cov) / b**2)
    B = sp.simplify(N**2 * moments.cov / b**2)
    return A, B


def minibatch_factor(replacement: bool, N=N_SYM, b=B_SYM) -> sp.Expr:
    """The factor c(b) in Var(∇f_b) = c(b) D/b, derived through :func:`count_moments`.

    Raises if the derivation does not give a multiple of D (B ≠ −A). Used in: 01_minibatch_noise
    """
    A, B = covariance_coefficients(count_moments(replacement, N, b))
    if sp.simplify(A + B) != 0:
        raise AssertionError(f"the covariance is not a multiple of D: A = {A}, B = {B}")
    return sp.simplify(b * A)


def without_replacement_factor_expr(N=N_SYM, b=B_SYM) -> sp.Expr:
    """(1 − b/N)·N/(N − 1), the paper's form of the finite-population factor. Used in: 01_minibatch_noise"""
    N, b = sp.sympify(N), sp.sympify(b)
    return (1 - b / N) * N / (N - 1)


def gradient_symbols(N: int, d: int, name: str = "g") -> sp.Matrix:
    """An N×d matrix of real symbols g_{k,j}: symbolic per-sample gradients (row k = g_k).

    Used in: 01_minibatch_noise
    """
    if N < 1 or d < 1:
        raise ValueError(f"need N >= 1 and d >= 1, got N={N}, d={d}")
    return sp.Matrix(N, d, lambda k, j: sp.Symbol(f"{name}_{{{k + 1},{j + 1}}}", real=True))


def diffusion_matrix_symbolic(Gs: sp.Matrix) -> sp.Matrix:
    """D = (1/N) Σ_k g_k g_kᵀ − g gᵀ for a SymPy N×d matrix of per-sample gradients (Definition 1).

    Used in: 01_minibatch_noise
    """
    N = Gs.rows
    g = sum((Gs.row(k).T for k in range(N)), sp.zeros(Gs.cols, 1)) / N
    S = sum((Gs.row(k).T * Gs.row(k) for k in range(N)), sp.zeros(Gs.cols, Gs.cols)) / N
    return (S - g * g.T).applyfunc(sp.expand)


def paper_a2_diffusion_symbolic(Gs: sp.Matrix) -> sp.Matrix:
    """The redefined diffusion matrix that absorbs N/(N − 1), our reading of Appendix A.2 of the paper:

        D̃ = 1/(N − 1) Σ_k g_k g_kᵀ − N/(N − 1) g gᵀ   (= N/(N − 1) D).

    Used in: 01_minibatch_noise
    """
    N = Gs.rows
    g = sum((Gs.row(k).T for k in range(N)), sp.zeros(Gs.cols, 1)) / N
    S = sum((Gs.row(k).T * Gs.row(k) for k in range(N)), sp.zeros(Gs.cols, Gs.cols))
    return (S / (N - 1) - sp.Rational(N, N - 1) * g * g.T).applyfunc(sp.expand)


def enumerated_minibatch_covariance_symbolic(Gs: sp.Matrix, b: int, replacement: bool = True) -> sp.Matrix:
    """Exact Var(∇f_b) by averaging over every equally likely batch (no formula used).

    With replacement: all N**b ordered index tuples; without: all C(N, b) subsets.
    Used in: 01_minibatch_noise
    """
    N, d = Gs.shape
    if not isinstance(b, int) or b < 1 or (not replacement and b > N):
        raise ValueError(f"need an integer 1 <= b (<= N={N} without replacement), got b={b!r}")
    batches = list(itertools.product(range(N), repeat=b) if replacement else itertools.combinations(range(N), b))
    g = sum((Gs.row(k).T for k in range(N)), sp.zeros(d, 1)) / N
    total = sp.zeros(d, d)
    for batch in batches:
        m = sum((Gs.row(k).T for k in batch), sp.zeros(d, 1)) / b - g
        total += m * m.T
    return (total / len(batches)).applyfunc(sp.expand)


# ---------------------------------------------------------------------------------------------
# Gaussian moments (Isserlis / Wick) and the diffusion matrix of linear regression.
# ---------------------------------------------------------------------------------------------


def _isserlis(indices: tuple, cov: sp.Matrix, cache: dict) -> sp.Expr:
    """E[z_{i1} ... z_{in}] for z ~ N(0, cov): the sum over pairings of products of covariances."""
    if indices in cache:
        return cache[indices]
    if len(indices) == 0:
        value = sp.Integer(1)
    elif len(indices) % 2:
        value = sp.Integer(0)
    else:
        first, rest = indices[0], indices[1:]
        value = sp.Integer(0)
        for k, partner in enumerate(rest):
            value += cov[first, partner] * _isserlis(rest[:k] + rest[k + 1:], cov, cache)
    cache[indices] = value
    return value


def gaussian_expectation(expr, variables, cov, method: str = "isserlis") -> sp.Expr:
    """Exact E[p(z)] for a polynomial ``expr`` in ``variables`` z ~ N(0, cov) (zero mean).

    ``method="isserlis"`` sums over pairings (Isserlis' theorem); ``method="mgf"``
    differentiates the moment-generating function exp(½ tᵀ cov t) at t = 0. The two are
    independent routes, compared in the tests. Other symbols in ``expr`` are constants.
    Used in: 01_minibatch_noise
    """
    variables = list(variables)
    cov = sp.Matrix(cov)
    if cov.shape != (len(variables), len(variables)):
        raise ValueError(f"cov must be {len(variables)}×{len(variables)} for {len(variables)} variables, got {cov.shape}")
    poly = sp.Poly(sp.expand(expr), *variables)
    if method == "isserlis":
        cache: dict = {}
        moment = lambda monom: _isserlis(tuple(i for i, k in enumerate(monom) for _ in range(k)), cov, cache)  # noqa: E731
    elif method == "mgf":
        t = sp.symbols(f"t_0:{len(variables)}")
        tv = sp.Matrix(t)
        mgf = sp.exp((tv.T * cov * tv)[0] / 2)

        def moment(monom):
            deriv = mgf
            for ti, k in zip(t, monom):
                if k:
                    deriv = sp.diff(deriv, ti, k)
            return deriv.subs({ti: 0 for ti in t})
    else:
        raise ValueError(f"method must be 'isserlis' or 'mgf', got {method!r}")
    return sp.expand(sum((coeff * moment(monom) for monom, coeff in poly.terms()), sp.Integer(0)))


def symmetric_matrix_symbols(d: int, name: str = r"\Sigma") -> sp.Matrix:
    """A symmetric d×d matrix of real symbols Σ_{ij} = Σ_{ji}. Used in: 01_minibatch_noise"""
    syms = {(i, j): sp.Symbol(f"{name}_{{{i + 1}{j + 1}}}", real=True) for i in range(d) for j in range(i, d)}
    return sp.Matrix(d, d, lambda i, j: syms[(min(i, j), max(i, j))])


@dataclass(frozen=True)
class GaussianDesignMoments:
    """Moments of the per-sample gradient g = a r of linear regression with a Gaussian design.

    Model: a ~ N(0, Σ), y = aᵀx* + ε with ε ~ N(0, σ²) independent of a; residual
    r = aᵀx − y = aᵀe − ε with e = x − x*. Fields hold the symbols and the derived expectations.
    Used in: 01_minibatch_noise
    """

    a: sp.Matrix
    eps: sp.Symbol
    Sigma: sp.Matrix
    e: sp.Matrix
    sigma2: sp.Symbol
    mean_grad: sp.Matrix  # E[g] = ∇f(x)
    second_moment: sp.Matrix  # E[g gᵀ]
    D: sp.Matrix  # E[g gᵀ] − E[g] E[g]ᵀ
    H: sp.Matrix  # E[a aᵀ], the Hessian of f(x) = E ½ r²


def gaussian_design_moments(d: int = 2, method: str = "isserlis") -> GaussianDesignMoments:
    """Derive E[g], E[g gᵀ], D(x) and H for the Gaussian-design linear regression, exactly.

    Every expectation is a polynomial Gaussian moment in z = (a, ε) with covariance
    diag(Σ, σ²), evaluated by :func:`gaussian_expectation`. Used in: 01_minibatch_noise
    """
    a = sp.Matrix(sp.symbols(f"a_1:{d + 1}", real=True))
    eps = sp.Symbol(r"\varepsilon", real=True)
    e = sp.Matrix(sp.symbols(f"e_1:{d + 1}", real=True))
    sigma2 = sp.Symbol(r"\sigma^2", positive=True)
    Sigma = symmetric_matrix_symbols(d)
    z = list(a) + [eps]
    cov_z = sp.diag(Sigma, sigma2)
    r = (a.T * e)[0] - eps
    g = a * r
    E = lambda expr: gaussian_expectation(expr, z, cov_z, method=method)  # noqa: E731
    mean_grad = g.applyfunc(E)
    second = (g * g.T).applyfunc(E)
    D = (second - mean_grad * mean_grad.T).applyfunc(sp.expand)
    H = (a * a.T).applyfunc(E)
    return GaussianDesignMoments(a, eps, Sigma, e, sigma2, mean_grad, second, D, H)


def gaussian_design_diffusion_formula(Sigma: sp.Matrix, e: sp.Matrix, sigma2) -> sp.Matrix:
    """(σ² + eᵀΣe) Σ + Σ e eᵀ Σ: the closed form that :func:`gaussian_design_moments` should give.

    Used in: 01_minibatch_noise
    """
    return ((sigma2 + (e.T * Sigma * e)[0]) * Sigma + Sigma * e * e.T * Sigma).applyfunc(sp.expand)


# ---------------------------------------------------------------------------------------------
# Chapter 03: the Fokker–Planck operator, the generator, the probability current, Itô's lemma,
# the Itô/Stratonovich drift correction and the free-energy functional (d-dimensional, SymPy).
#
# Convention (shared with vdlib.theory.fokker_planck): dx = b(x) dt + √(2β⁻¹D(x)) dW, and the matrix
# divergence is taken row by row, (∇·M)_i = Σ_j ∂_j M_ij (vdlib.theory.vector_calculus).  ``drift`` is a
# d-vector (list or sympy Matrix), ``D`` a d×d SymPy matrix (a scalar is allowed in 1-D), ``xs`` the
# list of coordinates.
# ---------------------------------------------------------------------------------------------


def generator(phi, drift, D, beta, xs) -> sp.Expr:
    """The backward (Kolmogorov) generator of dx = b dt + √(2β⁻¹D) dW acting on a function φ:

        Lφ = b·∇φ + β⁻¹ D:∇∇φ = Σ_i b_i ∂_iφ + β⁻¹ Σ_ij D_ij ∂_i∂_jφ .

    ``drift`` is b (a d-vector), ``D`` a d×d matrix (a scalar in 1-D), ``xs`` the coordinates.
    Used in: 03_fokker_planck
    """
    xs = coordinates(xs)
    d = len(xs)
    b, D = as_vector(drift, d, "drift"), as_matrix(D, d, "D")
    first = sum((b[i] * sp.diff(phi, xs[i]) for i in range(d)), sp.Integer(0))
    second = sum((D[i, j] * sp.diff(phi, xs[i], xs[j]) for i in range(d) for j in range(d)), sp.Integer(0))
    return first + second / beta


def probability_current(rho, drift, D, beta, xs) -> sp.Matrix:
    """The probability current J = bρ − β⁻¹∇·(Dρ), with (∇·(Dρ))_i = Σ_j ∂_j(D_ij ρ).

    The Fokker–Planck equation is the continuity equation ∂tρ + ∇·J = 0; the paper's flux inside
    (FP), ∇f ρ + β⁻¹∇·(Dρ), is −J for b = −∇f. Returns a column vector. Used in: 03_fokker_planck
    """
    xs = coordinates(xs)
    d = len(xs)
    b, D = as_vector(drift, d, "drift"), as_matrix(D, d, "D")
    return b * rho - matrix_divergence(D * rho, xs) / beta


def fp_operator(rho, drift, D, beta, xs) -> sp.Expr:
    """The Fokker–Planck (forward) operator L*ρ = −∇·(bρ) + β⁻¹ Σ_ij ∂_i∂_j(D_ij ρ) = −∇·J.

    ∂tρ = L*ρ is the paper's (FP) with b = −∇f; L* is the L²-adjoint of :func:`generator`.
    Matrix divergence row by row: (∇·(Dρ))_i = Σ_j ∂_j(D_ij ρ). Used in: 03_fokker_planck
    """
    return -divergence(probability_current(rho, drift, D, beta, xs), xs)


def is_stationary(rho, drift, D, beta, xs) -> bool:
    """True when ∇·J = 0 for the density ρ (i.e. L*ρ simplifies to exactly 0).

    ``rho`` need not be normalised (the operator is linear). Used in: 03_fokker_planck
    """
    expr = fp_operator(rho, drift, D, beta, xs)
    if expr == 0:
        return True
    return is_zero(sp.simplify(expr / rho))


def adjoint_boundary_flux(phi, rho, drift, D, beta, xs) -> sp.Matrix:
    """The vector B with ρ·Lφ − φ·L*ρ = ∇·B (Green's identity for the FP operator):

        B_i = b_i φ ρ + β⁻¹ Σ_j (D_ij ρ ∂_jφ − φ ∂_j(D_ij ρ)).

    Integrating over a domain, ∫ρLφ − ∫φL*ρ is a boundary integral of B·n, which vanishes for
    test functions with compact support: so L* is the adjoint of L. Used in: 03_fokker_planck
    """
    xs = coordinates(xs)
    d = len(xs)
    b, D = as_vector(drift, d, "drift"), as_matrix(D, d, "D")
    return sp.Matrix([b[i] * phi * rho + sum((D[i, j] * rho * sp.diff(phi, xs[j])
                                              - phi * sp.diff(D[i, j] * rho, xs[j]) for j in range(d)),
                                             sp.Integer(0)) / beta for i in range(d)])


@dataclass(frozen=True)
class ItoExpansion:
    """Itô's lemma by a second-order Taylor expansion of φ(x + dx).

    ``increment`` is the Taylor polynomial of φ(x + b dt + σ dW) − φ(x) (second order in dx);
    ``expected_rate`` = E[increment]/dt with E[dW] = 0, E[dW dWᵀ] = I dt, terms o(dt) dropped.
    Used in: 03_fokker_planck
    """

    dt: sp.Symbol
    dW: tuple
    increment: sp.Expr
    expected_rate: sp.Expr


def ito_expansion(phi, drift, sigma, xs) -> ItoExpansion:
    """Expand φ(x + dx), dx = b dt + σ dW, to second order and take the expectation.

    ``sigma`` is a d×m matrix (any square root of 2β⁻¹D). With dW_k symbols, E[dW_k] = 0,
    E[dW_k dW_l] = δ_kl dt and all terms of order dt^{3/2} or higher dropped, the result
    ``expected_rate`` equals b·∇φ + ½ (σσᵀ):∇∇φ, i.e. :func:`generator` when σσᵀ = 2β⁻¹D.
    Used in: 03_fokker_planck
    """
    xs = coordinates(xs)
    d = len(xs)
    b = as_vector(drift, d, "drift")
    sigma = sp.Matrix(sigma) if isinstance(sigma, (list, tuple, sp.MatrixBase)) else sp.Matrix([[sigma]])
    if sigma.rows != d:
        raise ValueError(f"sigma must have {d} rows, got shape {sigma.shape}")
    m = sigma.cols
    dt = sp.Symbol("dt", positive=True)
    dW = sp.symbols(f"dW_1:{m + 1}", real=True)
    dx = b * dt + sigma * sp.Matrix(dW)
    inc = sum((sp.diff(phi, xs[i]) * dx[i] for i in range(d)), sp.Integer(0))
    inc += sum((sp.diff(phi, xs[i], xs[j]) * dx[i] * dx[j] for i in range(d) for j in range(d)),
               sp.Integer(0)) / 2
    poly = sp.Poly(sp.expand(inc), *dW, dt)
    rate = sp.Integer(0)
    for monom, coeff in poly.terms():
        w, k = monom[:m], monom[m]
        # E[dW^w] for independent N(0, dt): zero unless all powers are even; Π (p-1)!! dt^{p/2}
        if any(p % 2 for p in w):
            continue
        moment = sp.Integer(1)
        for p in w:
            moment *= sp.factorial2(p - 1) if p else 1
        order = k + sum(w) // 2  # the power of dt of this term's expectation
        if order == 1:
            rate += coeff * moment
    return ItoExpansion(dt, tuple(dW), inc, sp.expand(rate))


def stratonovich_correction(sigma, xs) -> sp.Matrix:
    """The noise-induced drift c_i = ½ Σ_{j,k} σ_kj ∂_k σ_ij that converts Stratonovich to Itô.

    dx = b dt + σ∘dW (Stratonovich) is the Itô SDE dx = (b + c) dt + σ dW. In 1-D with
    σ = √(2β⁻¹D(x)), c = ½σσ′ = ½β⁻¹D′. Used in: 03_fokker_planck
    """
    xs = coordinates(xs)
    d = len(xs)
    sigma = sp.Matrix(sigma) if isinstance(sigma, (list, tuple, sp.MatrixBase)) else sp.Matrix([[sigma]])
    if sigma.rows != d:
        raise ValueError(f"sigma must have {d} rows, got shape {sigma.shape}")
    return sp.Matrix([sum((sigma[k, j] * sp.diff(sigma[i, j], xs[k])
                           for j in range(sigma.cols) for k in range(d)), sp.Integer(0)) / 2
                      for i in range(d)])


def free_energy_density(rho, Phi, beta) -> sp.Expr:
    """The integrand of F(ρ) = E_ρ[Φ] − β⁻¹H(ρ) = ∫ (ρΦ + β⁻¹ ρ log ρ) dx (Theorem 5).

    Used in: 03_fokker_planck
    """
    return rho * Phi + rho * sp.log(rho) / beta


def first_variation(density, rho, xs) -> sp.Expr:
    """δF/δρ for F(ρ) = ∫ density(x, ρ, ∇ρ, …) dx: the Euler–Lagrange expression
    ∂density/∂ρ − Σ_i ∂_i (∂density/∂(∂_iρ)) + …, via ``sympy.euler_equations``.

    ``rho`` is an applied SymPy function ρ(x…). For :func:`free_energy_density` this gives
    Φ + β⁻¹(log ρ + 1) (the paper's eq. (A3)). Used in: 03_fokker_planck
    """
    from sympy.calculus.euler import euler_equations

    (eq,) = euler_equations(density, [rho], coordinates(xs))
    return sp.simplify(eq.lhs)
