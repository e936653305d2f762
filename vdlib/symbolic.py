"""SymPy helpers shared by the derivation chapters.

Used in: 01_minibatch_noise, 02_sgd_as_sde.
"""
from __future__ import annotations

import sympy as sp


def setup() -> None:
    """Print SymPy results as MathJax-typeset LaTeX in notebooks and in the HTML book."""
    sp.init_printing(use_latex="mathjax")


def is_zero(expr) -> bool:
    """True when ``expr`` simplifies to exactly zero (scalars or matrices)."""
    expr = sp.simplify(expr)
    if isinstance(expr, sp.MatrixBase):
        return all(sp.simplify(e) == 0 for e in expr)
    return expr == 0


def assert_identity(lhs, rhs, name: str = "identity") -> None:
    """Raise ``AssertionError`` naming the identity unless ``simplify(lhs - rhs) == 0``."""
    if not is_zero(sp.Matrix(lhs) - sp.Matrix(rhs) if isinstance(lhs, sp.MatrixBase) else lhs - rhs):
        raise AssertionError(f"{name} does not hold: lhs - rhs simplifies to {sp.simplify(lhs - rhs)}")


# ---------------------------------------------------------------------------------------------
# Chapter 01: mini-batch covariance from the moments of the counts c_i (how often example i is in
# the batch), with and without replacement, and brute-force enumeration of all batches.
# ---------------------------------------------------------------------------------------------

import itertools  # noqa: E402
from dataclasses import dataclass  # noqa: E402

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
    """The indicator variance and covariance as Appendix A.2 of the paper writes them (per the notes).

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
    """The redefined diffusion matrix that absorbs N/(N − 1), as reconstructed in the notes:

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


def aligned(rows):
    """Display-ready ``IPython.display.Math`` of short derivation steps, one ``lhs = rhs`` per line.

    ``rows`` is a list of ``(lhs_latex, rhs)`` where ``rhs`` is a SymPy object or a LaTeX string.
    Used in: 01_minibatch_noise
    """
    from IPython.display import Math

    lines = [f"{lhs} &= {rhs if isinstance(rhs, str) else sp.latex(rhs)}" for lhs, rhs in rows]
    return Math(r"\begin{aligned}" + r" \\ ".join(lines) + r"\end{aligned}")
