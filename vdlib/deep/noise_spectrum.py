"""The spectrum of the diffusion matrix D of a real network (Part IV-a): out of core, three routes, rank.

Convention (Definition 1 of the paper, the authors' ``compute_sigma.py``): D is the *centred*
covariance of the per-sample gradients with the population normalisation 1/N,

    D = (1/N) Σ_k (g_k − ḡ)(g_k − ḡ)ᵀ,    ḡ = (1/N) Σ_k g_k,

computed in evaluation mode. This is Definition 1 (:func:`vdlib.theory.minibatch_noise.diffusion_matrix`,
for a matrix G held in memory); the paper accumulated S = (1/N) Σ (g_k − g)(g_k − g)ᵀ in float32 with
a batch-1 loop. Centring means rank(D) ≤ N − 1: with N examples the spectrum can never show more than
N − 1 non-zero eigenvalues, whatever the network (see :func:`rank_vs_n`). The per-sample gradients
come from :mod:`vdlib.deep.persample` (a full N×d matrix, or its chunks streamed).

Routes to the eigenvalues (all return them in *descending* order; :func:`diffusion_spectrum`):

* ``"dxd"``: stream chunks of rows of G, accumulate the d×d matrix Σ (g − s)(g − s)ᵀ with a
  float64 symmetric rank-k update (BLAS ``dsyrk``, shifted by the first chunk's mean s to avoid
  cancellation; :func:`accumulate_diffusion_matrix`), correct to the centred D, then
  :func:`symmetric_eigenvalues`. Memory O(d²); G is never held.
* ``"gram"``: for N < d, the non-zero eigenvalues of D = (1/N) G_cᵀG_c are those of the N×N
  matrix (1/N) G_c G_cᵀ. The raw Gram matrix G Gᵀ is accumulated in float64 over column blocks
  of G and double-centred (H K H, H = I − 11ᵀ/N). Memory O(N·d) for G plus O(N²).
* ``"lanczos"``: the top-k eigenvalues, matrix-free: ``scipy.sparse.linalg.eigsh`` on a
  ``LinearOperator`` v ↦ (1/N) G_cᵀ(G_c v) over the stored G (float32 products).

:func:`route_memory` estimates each route's memory, so that ``route="auto"`` can choose one that
fits; :func:`numerical_rank`, :func:`rank_table` and :func:`rank_vs_n` read ranks off a spectrum.
The module needs only NumPy and SciPy (torch when a tensor is passed).

Used in: 10_gradient_noise_spectrum; ``python -m vdlib.experiments spectrum`` (:mod:`vdlib.experiments.spectrum`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import checks

#: float32 machine epsilon, the ε of the paper's rank threshold λ_max · d · ε (numpy's matrix_rank).
EPS_FLOAT32 = float(np.finfo(np.float32).eps)

#: Relative thresholds reported next to the paper's in chapter 10 (the headline rank depends on the threshold).
RELATIVE_RANK_TOLERANCES = (1e-2, 1e-3, 1e-4)

SPECTRUM_ROUTES = ("auto", "dxd", "gram", "lanczos")


class SpectrumMemoryError(MemoryError):
    """A spectrum route would need more memory than allowed; the message names the alternative."""


def _available_memory() -> int:
    """Bytes of memory available now (``MemAvailable``), or the physical memory as a fallback."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:  # pragma: no cover - non-Linux
        pass
    import os

    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))  # pragma: no cover


def _gb(nbytes: float) -> str:
    return f"{nbytes / 1e9:.2f} GB"


def route_memory(route: str, N: int, d: int, have_G: bool = False, gemm_dtype: str = "float64") -> int:
    """Estimated peak bytes of a spectrum route (beyond a G that the caller already holds).

    ``dxd``: the d×d float64 accumulator, one block of rows, a d×d float32
    block product when ``gemm_dtype="float32"``, and the eigenvalue solver's copy of the matrix
    (d² float64; :func:`symmetric_eigenvalues`). ``gram``: G in float32 unless held, the N×N
    float64 Gram matrix twice (centring, the solver's copy) and one float64 column block.
    ``lanczos``: G in float32 unless held, plus O(N + d) vectors.
    """
    N, d = int(N), int(d)
    g_bytes = 0 if have_G else 4 * N * d
    if route == "dxd":
        itemsize = 4 if gemm_dtype == "float32" else 8
        product = 4 * d * d if gemm_dtype == "float32" else 0
        return 16 * d * d + product + itemsize * _block_rows(d, itemsize) * d
    if route == "gram":
        return g_bytes + 16 * N * N + 64 * 2**20
    if route == "lanczos":
        return g_bytes + 64 * (N + d)
    raise ValueError(f"unknown route {route!r}; choose one of {', '.join(SPECTRUM_ROUTES[1:])}")


def symmetric_eigenvalues(A: np.ndarray, lower: bool = False) -> np.ndarray:
    """All eigenvalues (ascending, float64) of the real symmetric matrix held in one triangle of A.

    LAPACK's divide-and-conquer driver (``dsyevd``, eigenvalues only) as shipped with torch (MKL on
    x86), else SciPy's ``eigh``. A is not modified (the solver works on a copy: d² more floats). For
    the 13,338² D of small-lenet the reduction to tridiagonal form dominates and is bound by memory
    traffic; torch's solver was the fastest of those tried on the 2-core machine (SciPy's ``eigh``,
    LAPACK's two-stage ``dsyevd_2stage``): ``benchmarks/bench_noise.py --eig`` compares them.
    """
    A = np.asarray(A)
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError(f"expected a square matrix, got shape {A.shape}")
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency; the module is importable without it
        torch = None
    if torch is not None and A.dtype in (np.float32, np.float64):
        T = torch.from_numpy(A.astype(np.float64, copy=False))
        return torch.linalg.eigvalsh(T, UPLO="L" if lower else "U").numpy()
    from scipy.linalg import eigh

    return eigh(A, lower=lower, eigvals_only=True, overwrite_a=False, check_finite=False)


@dataclass(frozen=True)
class DiffusionSpectrum:
    """Eigenvalues of the diffusion matrix D and how they were obtained.

    Attributes
    ----------
    eigenvalues : numpy.ndarray
        float64, descending. All d of them for the ``dxd`` and ``gram`` routes (the Gram route
        appends the d − N exact zeros it knows of), the top k for ``lanczos``.
    route : str
        ``"dxd"``, ``"gram"`` or ``"lanczos"``.
    n_samples : int
        N, the number of per-sample gradients.
    dim : int
        d, the number of parameters (the size of D).
    trace : float
        tr D = (1/N) Σ ‖g_k − ḡ‖², computed directly (the mean eigenvalue is trace / dim).
    complete : bool
        Whether ``eigenvalues`` holds the whole spectrum.
    """

    eigenvalues: np.ndarray
    route: str
    n_samples: int
    dim: int
    trace: float
    complete: bool

    def rank(self, rtol="paper") -> int:
        """:func:`numerical_rank` of this spectrum (``rtol="paper"`` or a relative threshold)."""
        return numerical_rank(self, rtol=rtol)

    def ranks(self) -> dict:
        """Ranks at the paper's threshold and at 1e-2, 1e-3, 1e-4 · λ_max (see :func:`rank_table`)."""
        return rank_table(self)

    @property
    def max_rank(self) -> int:
        """min(N − 1, d): the largest rank a centred covariance of N gradients can have."""
        return min(self.n_samples - 1, self.dim)


class _ChunkSource:
    """Uniform view of G: a full (N, d) array/tensor, a :class:`vdlib.deep.persample.GradientChunks`,
    or any iterable of (m, d) chunks (or of ``(start, chunk)`` pairs)."""

    def __init__(self, source, chunk_rows: int = 256):
        self.full = None
        self.chunks = None
        if _is_matrix(source):
            A = _to_numpy(source)
            if A.ndim != 2:
                raise ValueError(f"G must be an N×d matrix of per-sample gradients, got shape {A.shape}")
            self.full = A
            self.n, self.d = A.shape
            self.chunk_rows = chunk_rows
        elif hasattr(source, "__iter__"):
            self.chunks = source
            self.n = getattr(source, "n", None)
            self.d = getattr(source, "d", None)
        else:
            raise TypeError(
                f"expected an N×d matrix (NumPy array or torch tensor) or an iterable of row chunks "
                f"(e.g. vdlib.deep.persample.per_sample_gradient_chunks(...)), got {type(source).__name__}"
            )

    def __iter__(self):
        if self.full is not None:
            for start in range(0, self.n, self.chunk_rows):
                yield self.full[start:start + self.chunk_rows]
            return
        for item in self.chunks:
            chunk = item[1] if isinstance(item, tuple) else item
            chunk = _to_numpy(chunk)
            if chunk.ndim != 2:
                raise ValueError(f"every chunk of G must be 2-D (rows × d), got shape {chunk.shape}")
            yield chunk

    def materialise(self) -> np.ndarray:
        """The whole G (float32 unless given as float64), allocated once when N and d are known."""
        if self.full is not None:
            return self.full
        if self.n is not None and self.d is not None:
            G = np.empty((self.n, self.d), dtype=np.float32)
            row = 0
            for chunk in self:
                G[row:row + chunk.shape[0]] = chunk
                row += chunk.shape[0]
            G = G[:row]
        else:
            parts = [np.array(c, dtype=np.float32, copy=True) for c in self]
            if not parts:
                raise ValueError("the gradient source yielded no rows (N = 0): pass at least two examples")
            G = np.concatenate(parts, axis=0)
        self.full, (self.n, self.d) = G, G.shape
        return G


def _is_matrix(x) -> bool:
    if isinstance(x, np.ndarray):
        return True
    try:
        import torch
    except ImportError:  # pragma: no cover
        return False
    return isinstance(x, torch.Tensor)


def _to_numpy(x) -> np.ndarray:
    if isinstance(x, np.ndarray):
        return x
    try:
        import torch
    except ImportError:  # pragma: no cover
        torch = None
    if torch is not None and isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _zeros(shape, dtype) -> np.ndarray:
    """Fortran-ordered zeros, written at once: ``np.empty`` memory is marked for transparent huge
    pages, so filling it is several times faster than the page faults of a lazy ``np.zeros``, and
    BLAS runs faster on it (fewer TLB misses)."""
    A = np.empty(shape, dtype=dtype, order="F")
    A.fill(0)
    return A


def _check_rows(N, d):
    if N is not None and N < 1:
        raise ValueError("G holds no per-sample gradients (N = 0): pass at least two examples")
    if N is not None and N < 2:
        raise ValueError(f"the covariance D needs at least two per-sample gradients, got N={N}")
    if d is not None and d < 1:
        raise ValueError("G has no columns (d = 0): the model has no trainable parameters")


def accumulate_diffusion_matrix(source, *, max_bytes: int | None = None, gemm_dtype: str = "float64",
                                full: bool = True) -> np.ndarray:
    """The d×d diffusion matrix D from streamed chunks of per-sample gradients (never holding G).

    Accumulates C = Σ_k (g_k − s)(g_k − s)ᵀ with BLAS ``syrk`` (a symmetric rank-m update per
    chunk of m rows) and m = Σ_k (g_k − s), with s the mean of the first chunk (a shift that keeps
    the subtraction below well conditioned); then D = C/N − (m/N)(m/N)ᵀ, exactly the centred
    covariance with 1/N (the paper's convention).

    Parameters
    ----------
    source : array, tensor or iterable of chunks
        G as an (N, d) matrix, or chunks of its rows, e.g.
        :func:`vdlib.deep.persample.per_sample_gradient_chunks`.
    max_bytes : int, optional
        Memory allowed; default 80 % of the currently available memory. A larger estimate
        (:func:`route_memory`) raises :class:`SpectrumMemoryError` naming the Gram route or
        Lanczos instead.
    gemm_dtype : {"float64", "float32"}
        Precision of the chunk products (the accumulator is float64 either way). ``"float32"`` is
        about twice as fast; each chunk's product then carries float32 rounding (≈1e-7 relative).
    full : bool
        Return the full symmetric matrix (else only the upper triangle is valid).
    """
    C, _N = _accumulate(_ChunkSource(source), max_bytes, gemm_dtype)
    if full:
        C = np.triu(C) + np.triu(C, 1).T
    return C


#: Bytes of one block of rows handed to ``syrk`` by the ``dxd`` route: large enough that ``syrk`` runs at
#: full speed and the d×d accumulator is read and written once per block, not once per chunk of the
#: gradient engine (those are a few hundred rows).
SYRK_BLOCK_BYTES = 256 * 2**20


def _block_rows(d: int, itemsize: int) -> int:
    """Rows per ``syrk`` block of the ``dxd`` route (256 to 4,096)."""
    return int(max(256, min(4096, SYRK_BLOCK_BYTES // (itemsize * max(int(d), 1)))))


def _add_upper(C: np.ndarray, T: np.ndarray, cols: int = 1024) -> None:
    """C += T on the upper triangle only (both Fortran-ordered): half the memory traffic of C += T."""
    d = C.shape[0]
    for j0 in range(0, d, cols):
        j1 = min(d, j0 + cols)
        C[:j1, j0:j1] += T[:j1, j0:j1]


def _accumulate(src, max_bytes, gemm_dtype):
    """(upper triangle of D as a Fortran-ordered float64 array, N) for the ``dxd`` route.

    Rows of G (minus the shift s) are copied into a reused block of :func:`_block_rows` rows and each
    full block is one ``syrk``. With ``gemm_dtype="float32"`` a block's product is formed in float32
    (``ssyrk``, about twice as fast) and added to the float64 accumulator, so float32 rounding enters
    within a block only (at most 4,096 rows), never across the N rows.
    """
    if gemm_dtype not in ("float64", "float32"):
        raise ValueError(f"gemm_dtype must be 'float64' or 'float32', got {gemm_dtype!r}")
    _check_rows(src.n, src.d)
    from scipy.linalg import blas

    single = gemm_dtype == "float32"
    dtype = np.float32 if single else np.float64
    budget = int(0.8 * _available_memory()) if max_bytes is None else int(max_bytes)
    if src.d is not None:
        src.chunk_rows = _block_rows(src.d, 8)
        need = route_memory("dxd", src.n or 0, src.d, gemm_dtype=gemm_dtype)
        if need > budget:
            raise SpectrumMemoryError(_dxd_refusal(src.d, src.n, need, budget))
    C = m = shift = tmp = block = None
    filled = N = 0

    def flush(k):
        nonlocal C, tmp
        if k == 0:
            return
        X = block[:k]
        if single:
            tmp = blas.ssyrk(1.0, X.T, beta=0.0, c=tmp, trans=0, lower=0, overwrite_c=1)
            _add_upper(C, tmp)
        else:
            C = blas.dsyrk(1.0, X.T, beta=1.0, c=C, trans=0, lower=0, overwrite_c=1)

    for chunk in src:
        if C is None:
            d = chunk.shape[1]
            _check_rows(None, d)
            if src.d is None:  # a plain iterable of chunks: d is known only now
                need = route_memory("dxd", src.n or 0, d, gemm_dtype=gemm_dtype)
                if need > budget:
                    raise SpectrumMemoryError(_dxd_refusal(d, src.n, need, budget))
            C = _zeros((d, d), np.float64)
            tmp = _zeros((d, d), np.float32) if single else None
            m = np.zeros(d, dtype=np.float64)
            shift = np.asarray(chunk).mean(axis=0, dtype=np.float64).astype(dtype)
            block = np.empty((_block_rows(d, np.dtype(dtype).itemsize), d), dtype=dtype)
        if chunk.shape[1] != C.shape[0]:
            raise ValueError(f"chunks of G must all have d={C.shape[0]} columns, got {chunk.shape[1]}")
        start = 0
        while start < chunk.shape[0]:
            take = min(block.shape[0] - filled, chunk.shape[0] - start)
            rows = block[filled:filled + take]
            np.subtract(chunk[start:start + take], shift, out=rows, casting="same_kind")
            if not np.isfinite(rows).all():
                raise ValueError("G contains NaN or infinite entries; check the model's loss and the inputs")
            m += rows.sum(axis=0, dtype=np.float64)
            filled += take
            start += take
            if filled == block.shape[0]:
                flush(filled)
                filled = 0
        N += chunk.shape[0]
    if C is None:
        raise ValueError("the gradient source yielded no rows (N = 0): pass at least two examples")
    flush(filled)
    block = tmp = None  # free the buffers before the rank-one update
    _check_rows(N, None)
    mean_shift = m / N
    C = blas.dsyrk(-1.0, mean_shift[:, None], beta=1.0 / N, c=C, trans=0, lower=0, overwrite_c=1)
    return C, N


def _dxd_refusal(d, N, need, budget):
    alt = []
    if N is not None:
        alt.append(f"route='gram' (N×N with N={N}: about {_gb(route_memory('gram', N, d))})")
    alt.append("route='lanczos' with k=<number of top eigenvalues> (matrix-free, about "
               f"{_gb(route_memory('lanczos', N or 0, d))} to hold G)")
    return (f"the d×d route needs about {_gb(need)} (a {d}×{d} float64 accumulator plus the eigenvalue solver's copy) "
            f"but only {_gb(budget)} is allowed (max_bytes); use " + " or ".join(alt) +
            ", or raise max_bytes if the memory is really there")


def _shifted_gram(G: np.ndarray, gemm_dtype: str = "float64", block: int | None = None) -> np.ndarray:
    """K = (G − 1ḡᵀ)(G − 1ḡᵀ)ᵀ (N×N, float64), accumulated over column blocks of G.

    Subtracting the mean first (in float64, block by block) removes the cancellation that the raw
    Gram matrix G Gᵀ would suffer when ‖ḡ‖ is large; a double centring of any leading block
    (:func:`_centre_gram`) then gives the centred Gram matrix of that subset exactly.
    """
    from scipy.linalg import blas

    if gemm_dtype not in ("float64", "float32"):
        raise ValueError(f"gemm_dtype must be 'float64' or 'float32', got {gemm_dtype!r}")
    N, d = G.shape
    if block is None:  # about 64 MB of float64 per column block
        block = max(64, (64 * 2**20) // (8 * N))
    K = _zeros((N, N), np.float64)
    tmp = None
    for c0 in range(0, d, block):
        B = np.asarray(G[:, c0:c0 + block], dtype=np.float64)
        B = B - B.mean(axis=0)
        if gemm_dtype == "float64":
            K = blas.dsyrk(1.0, B.T, beta=1.0, c=K, trans=1, lower=0, overwrite_c=1)
        else:
            if tmp is None:
                tmp = _zeros((N, N), np.float32)
            tmp = blas.ssyrk(1.0, B.astype(np.float32).T, beta=0.0, c=tmp, trans=1, lower=0, overwrite_c=1)
            K += tmp
    return np.triu(K) + np.triu(K, 1).T


def _centre_gram(K: np.ndarray) -> np.ndarray:
    r = K.mean(axis=0)
    return K - r[None, :] - r[:, None] + r.mean()


def _check_finite_matrix(G):
    if not np.all(np.isfinite(G)):
        raise ValueError("G contains NaN or infinite entries; check the model's loss and the inputs")


def diffusion_spectrum(source, *, route: str = "auto", k: int | None = None, max_bytes: int | None = None,
                       gemm_dtype: str = "float64", tol: float = 0.0, seed: int = 0) -> DiffusionSpectrum:
    """Eigenvalues of the diffusion matrix D = (1/N) Σ (g_k − ḡ)(g_k − ḡ)ᵀ (centred, 1/N: the paper's).

    Parameters
    ----------
    source : array, tensor or iterable of chunks
        The N×d per-sample gradient matrix G, or chunks of its rows such as
        ``vdlib.deep.persample.per_sample_gradient_chunks(model, loss_fn, X, y)``. Only the ``dxd`` route
        streams chunks without holding G; ``gram`` and ``lanczos`` collect G in float32 first.
    route : {"auto", "dxd", "gram", "lanczos"}
        ``"auto"``: ``lanczos`` when ``k`` is given, else ``dxd`` when N > d and ``gram`` when N ≤ d.
    k : int, optional
        Number of top eigenvalues (``lanczos`` only).
    max_bytes : int, optional
        Memory allowed (default 80 % of the available memory); a route whose estimate
        (:func:`route_memory`) exceeds it is refused with :class:`SpectrumMemoryError` naming an
        alternative.
    gemm_dtype : {"float64", "float32"}
        Precision of the matrix products of the ``dxd`` and ``gram`` routes (accumulation is
        float64 either way).
    tol, seed :
        Passed to ``eigsh`` (0 = machine precision) / seed of its start vector.

    Returns
    -------
    DiffusionSpectrum
    """
    if route not in SPECTRUM_ROUTES:
        raise ValueError(f"route must be one of {', '.join(map(repr, SPECTRUM_ROUTES))}, got {route!r}")
    if k is not None:
        k = checks.integer(k, "number of eigenvalues k")
        if route not in ("auto", "lanczos"):
            raise ValueError(f"k={k} asks for the top-k eigenvalues, which only route='lanczos' computes; "
                             f"drop k for route={route!r}")
        route = "lanczos"
    elif route == "lanczos":
        raise ValueError("route='lanczos' computes the top-k eigenvalues: pass k (e.g. k=20)")
    src = _ChunkSource(source)
    _check_rows(src.n, src.d)
    budget = int(0.8 * _available_memory()) if max_bytes is None else int(max_bytes)
    N, d = src.n, src.d
    if route == "auto":
        if N is None or d is None:
            src.materialise()
            N, d = src.n, src.d
            _check_rows(N, d)
        route = "dxd" if N > d else "gram"
        if route_memory(route, N, d, have_G=src.full is not None) > budget:
            other = "gram" if route == "dxd" else "dxd"
            if route_memory(other, N, d, have_G=src.full is not None) <= budget:
                route = other
    if route == "dxd":
        D, N = _accumulate(src, budget, gemm_dtype)
        trace = float(np.trace(D))
        d = D.shape[0]
        ev = symmetric_eigenvalues(D)
        del D
        return DiffusionSpectrum(ev[::-1].copy(), "dxd", N, d, trace, True)
    if N is not None and d is not None:
        need = route_memory(route, N, d, have_G=src.full is not None)
        if need > budget:
            raise SpectrumMemoryError(
                f"route={route!r} needs about {_gb(need)} for N={N}, d={d} but only {_gb(budget)} is allowed "
                f"(max_bytes); " + ("use route='lanczos' with k=<top eigenvalues>, or fewer examples"
                                   if route == "gram" else "use fewer examples (N) or raise max_bytes")
            )
    G = src.materialise()
    N, d = G.shape
    _check_rows(N, d)
    _check_finite_matrix(G)
    if route == "gram":
        Kc = _centre_gram(_shifted_gram(G, gemm_dtype))
        ev = symmetric_eigenvalues(Kc)[::-1] / N
        trace = float(np.trace(Kc)) / N
        full = np.zeros(d)
        full[:min(N, d)] = ev[:min(N, d)]
        full = np.sort(full)[::-1]
        return DiffusionSpectrum(full, "gram", N, d, trace, True)
    # lanczos
    if k >= d:
        raise ValueError(f"k={k} must be smaller than d={d} for Lanczos; use route='dxd' or 'gram' for all eigenvalues")
    ev = _lanczos_top(G, k, tol=tol, seed=seed)
    gbar = G.mean(axis=0, dtype=np.float64)
    sq = np.einsum("ij,ij->i", G, G, dtype=np.float64)
    trace = float(sq.mean() - gbar @ gbar)
    return DiffusionSpectrum(ev, "lanczos", N, d, trace, False)


def diffusion_operator(G):
    """``scipy.sparse.linalg.LinearOperator`` v ↦ D v = (1/N) G_cᵀ (G_c v), without forming D.

    G (N×d) is used as stored (float32 products when G is float32); centring is applied on the
    fly: G_c v = G v − 1 (ḡ·v), and G_cᵀ u = Gᵀ u for the centred u (its entries sum to zero).
    """
    from scipy.sparse.linalg import LinearOperator

    G = _to_numpy(G)
    N, d = G.shape
    gbar = G.mean(axis=0, dtype=np.float64)

    def matvec(v):
        v = np.asarray(v).reshape(-1)
        u = (G @ v.astype(G.dtype)).astype(np.float64)
        u -= gbar @ v
        return (G.T @ u.astype(G.dtype)).astype(np.float64) / N

    return LinearOperator((d, d), matvec=matvec, rmatvec=matvec, dtype=np.float64)


def _lanczos_top(G, k, tol=0.0, seed=0):
    from scipy.sparse.linalg import eigsh

    op = diffusion_operator(G)
    v0 = np.random.default_rng(seed).standard_normal(op.shape[0])
    ev = eigsh(op, k=k, which="LA", tol=tol, v0=v0, return_eigenvectors=False)
    return np.sort(ev)[::-1]


def paper_rank_threshold(lambda_max: float, dim: int) -> float:
    """The paper's threshold λ_max · d · ε_float32 (numpy ``matrix_rank``'s default, ITA footnote 1).

    For d = 13,338 it is ≈1.6e-3 λ_max; for d = 26,982 ≈3.2e-3 λ_max (d · ε_float32).
    """
    dim = checks.integer(dim, "dimension d")
    return float(lambda_max) * dim * EPS_FLOAT32


def numerical_rank(eigenvalues, rtol="paper", dim: int | None = None) -> int:
    """How many eigenvalues exceed a threshold relative to the largest one.

    Parameters
    ----------
    eigenvalues : array-like or DiffusionSpectrum
        The eigenvalues (any order). A :class:`DiffusionSpectrum` supplies ``dim`` itself.
    rtol : "paper" or float
        ``"paper"``: threshold λ_max · d · ε_float32 (:func:`paper_rank_threshold`); a float r in
        (0, 1): threshold r · λ_max (the book also reports 1e-2, 1e-3, 1e-4).
    dim : int, optional
        d, the size of the matrix; needed for ``"paper"`` when the eigenvalues are only the top k
        (default: their number).

    Returns
    -------
    int
        The number of eigenvalues strictly above the threshold (0 when λ_max ≤ 0). When only the
        top k eigenvalues are given and all k exceed the threshold, the true rank is at least k:
        a ``UserWarning`` says so.
    """
    complete = True
    if isinstance(eigenvalues, DiffusionSpectrum):
        dim = eigenvalues.dim if dim is None else dim
        complete = eigenvalues.complete
        eigenvalues = eigenvalues.eigenvalues
    ev = np.asarray(eigenvalues, dtype=float).reshape(-1)
    if ev.size == 0:
        raise ValueError("no eigenvalues given: pass the spectrum of D (at least one eigenvalue)")
    if not np.all(np.isfinite(ev)):
        raise ValueError("the eigenvalues contain NaN or inf; recompute the spectrum")
    if dim is None:
        dim = ev.size
    dim = checks.integer(dim, "dimension d")
    if ev.size > dim:
        raise ValueError(f"{ev.size} eigenvalues given but dim={dim}: a d×d matrix has at most d eigenvalues")
    complete = complete and ev.size == dim
    lmax = float(ev.max())
    if lmax <= 0:
        return 0
    if isinstance(rtol, str):
        if rtol != "paper":
            raise ValueError(f"rtol must be 'paper' or a number in (0, 1), got {rtol!r}")
        thresh = paper_rank_threshold(lmax, dim)
    else:
        r = checks.positive(rtol, "rtol")
        if r >= 1:
            raise ValueError(f"rtol is relative to λ_max and must be below 1, got {r}")
        thresh = r * lmax
    rank = int(np.count_nonzero(ev > thresh))
    if not complete and rank == ev.size:
        import warnings

        warnings.warn(
            f"all {ev.size} given eigenvalues exceed the threshold, so the rank is only known to be ≥ {rank}; "
            "ask Lanczos for more eigenvalues (larger k) or use the full spectrum",
            UserWarning,
            stacklevel=2,
        )
    return rank


def rank_table(eigenvalues, dim: int | None = None, rtols=("paper", *RELATIVE_RANK_TOLERANCES)) -> dict:
    """``{rtol: numerical_rank}`` for the paper's threshold and the relative ones (1e-2, 1e-3, 1e-4)."""
    return {r: numerical_rank(eigenvalues, rtol=r, dim=dim) for r in rtols}


def rank_vs_n(G, ns, *, rtols=("paper", *RELATIVE_RANK_TOLERANCES), rng=None, gemm_dtype: str = "float64") -> dict:
    """Numerical rank of D from the first n per-sample gradients, for each n in ``ns``.

    The rank of a centred covariance of n gradients is at most n − 1, so a rank measured from too
    few examples says more about n than about the network. This makes the dependence visible:
    one Gram matrix of all rows is formed once (float64) and the spectrum of every leading n×n
    block is taken (cheap). With ``rng`` (a seed or ``numpy.random.Generator``) the rows are first
    shuffled, so the subsets are nested random subsets instead of the first n.

    Returns
    -------
    dict
        ``{"n": array, "max_rank": min(n − 1, d), "trace": tr D_n, rtol: ranks, ...}`` (arrays).
    """
    G = _to_numpy(G)
    if G.ndim != 2:
        raise ValueError(f"G must be an N×d matrix of per-sample gradients, got shape {G.shape}")
    N, d = G.shape
    _check_rows(N, d)
    _check_finite_matrix(G)
    ns = [checks.integer(n, "subset size n", minimum=2) for n in np.atleast_1d(ns).tolist()]
    if max(ns) > N:
        raise ValueError(f"subset size n={max(ns)} exceeds the N={N} per-sample gradients available; use n ≤ {N}")
    if rng is not None:
        G = G[np.random.default_rng(rng).permutation(N)]
    G = G[:max(ns)]
    K = _shifted_gram(G, gemm_dtype)

    out = {"n": np.array(ns), "max_rank": np.array([min(n - 1, d) for n in ns]), "trace": np.zeros(len(ns))}
    for r in rtols:
        out[r] = np.zeros(len(ns), dtype=int)
    for i, n in enumerate(ns):
        Kc = _centre_gram(K[:n, :n])
        ev = symmetric_eigenvalues(Kc)[::-1] / n
        out["trace"][i] = np.trace(Kc) / n
        for r in rtols:
            padded = np.zeros(d)  # the d − n eigenvalues outside the Gram matrix are exactly zero
            padded[:min(n, d)] = ev[:min(n, d)]
            out[r][i] = numerical_rank(padded, rtol=r)
    return out
