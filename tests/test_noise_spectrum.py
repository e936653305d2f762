"""Tests of the spectrum of D (vdlib.deep.noise_spectrum): the three routes, out-of-core accumulation,
ranks and memory refusals.

Oracle: numpy ``eigvalsh`` of the explicit covariance ``np.cov(G.T, bias=True)``; D itself against
Definition 1 (:func:`vdlib.theory.minibatch_noise.diffusion_matrix`).
"""
import numpy as np
import pytest
import torch
from torch import nn

from vdlib.deep import noise_spectrum, persample
from vdlib.deep.persample import per_sample_gradients
from vdlib.theory import minibatch_noise

CE = nn.CrossEntropyLoss(reduction="none")


def data(n=24, shape=(1, 12, 12), classes=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn((n, *shape), generator=g), torch.randint(0, classes, (n,), generator=g)


# ------------------------------------------------------------------ the spectrum of D

def random_gradients(N, d, seed, mean_scale=5.0):
    rng = np.random.default_rng(seed)
    G = rng.normal(size=(N, d)) * rng.uniform(0.1, 3.0, size=d) + mean_scale * rng.normal(size=d)
    return G.astype(np.float32)


def explicit_spectrum(G):
    return np.sort(np.linalg.eigvalsh(np.cov(G.astype(float).T, bias=True)))[::-1]


@pytest.mark.parametrize("N,d", [(60, 12), (9, 40), (30, 30)])
@pytest.mark.parametrize("gemm_dtype", ["float64", "float32"])
def test_routes_agree_with_explicit_covariance(N, d, gemm_dtype):
    G = random_gradients(N, d, seed=N + d)
    ref = explicit_spectrum(G)
    tol = 1e-12 if gemm_dtype == "float64" else 1e-6  # relative to λ_max
    for route in ("dxd", "gram", "auto"):
        sp = noise_spectrum.diffusion_spectrum(G, route=route, gemm_dtype=gemm_dtype)
        assert sp.complete and sp.eigenvalues.shape == (d,) and sp.dim == d and sp.n_samples == N
        assert np.all(np.diff(sp.eigenvalues) <= 0)
        np.testing.assert_allclose(sp.eigenvalues, ref, rtol=0, atol=tol * ref[0])
        np.testing.assert_allclose(sp.trace, ref.sum(), rtol=1e-6)
    assert noise_spectrum.diffusion_spectrum(G).route == ("dxd" if N > d else "gram")
    D = noise_spectrum.accumulate_diffusion_matrix(G)
    np.testing.assert_allclose(D, minibatch_noise.diffusion_matrix(G), rtol=0, atol=1e-12 * ref[0])


def test_lanczos_top_k_matches_full_spectrum():
    G = random_gradients(80, 300, seed=7)
    full = noise_spectrum.diffusion_spectrum(G, route="gram").eigenvalues
    top = noise_spectrum.diffusion_spectrum(torch.from_numpy(G), k=6)
    assert top.route == "lanczos" and not top.complete and top.eigenvalues.shape == (6,)
    np.testing.assert_allclose(top.eigenvalues, full[:6], rtol=1e-5)
    np.testing.assert_allclose(top.trace, full.sum(), rtol=1e-5)


def test_streamed_model_chunks_give_the_same_spectrum():
    torch.manual_seed(8)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 4), nn.ReLU(), nn.Linear(4, 3))
    X, y = data(n=50, shape=(16,), classes=3)
    G = per_sample_gradients(model, CE, X, y)  # N = 50 < d = 83
    chunks = persample.per_sample_gradient_chunks(model, CE, X, y, chunk_size=7)
    ref = explicit_spectrum(G.numpy())
    for route in ("dxd", "gram"):
        sp = noise_spectrum.diffusion_spectrum(chunks, route=route)
        np.testing.assert_allclose(sp.eigenvalues, ref, rtol=0, atol=1e-10 * ref[0])
    # centred: never more than N − 1 non-zero eigenvalues
    sp = noise_spectrum.diffusion_spectrum(G)
    assert sp.max_rank == 49 and sp.rank(1e-4) <= 49 and sp.rank("paper") <= 49


@pytest.mark.parametrize("gemm_dtype", ["float64", "float32"])
def test_dxd_blocks_that_straddle_chunks_give_the_covariance(monkeypatch, gemm_dtype):
    """Rows are regrouped into syrk blocks independent of the source's chunking: blocks of 7 rows
    over chunks of 5, 11 and 1 rows (and a last, partial block) give the same D."""
    monkeypatch.setattr(noise_spectrum, "_block_rows", lambda d, itemsize: 7)
    G = random_gradients(61, 9, seed=12) + 3.0  # a large mean: the shift must cancel it
    sizes = [5, 11, 1, 20, 24]
    starts = np.cumsum([0] + sizes[:-1])
    chunks = [G[a:a + n] for a, n in zip(starts, sizes)]
    ref = minibatch_noise.diffusion_matrix(G)
    tol = 1e-12 if gemm_dtype == "float64" else 1e-6
    for source in (G, chunks, [(int(a), c) for a, c in zip(starts, chunks)]):
        D = noise_spectrum.accumulate_diffusion_matrix(source, gemm_dtype=gemm_dtype)
        np.testing.assert_allclose(D, ref, rtol=0, atol=tol * np.abs(ref).max())
        np.testing.assert_array_equal(D, D.T)


def test_symmetric_eigenvalues_reads_one_triangle():
    rng = np.random.default_rng(13)
    A = rng.standard_normal((40, 40))
    A = A + A.T
    ref = np.linalg.eigvalsh(A)
    upper = np.triu(A).copy(order="F")
    upper[np.tril_indices(40, -1)] = np.nan  # must never be read
    lower = np.tril(A)
    lower[np.triu_indices(40, 1)] = np.nan
    np.testing.assert_allclose(noise_spectrum.symmetric_eigenvalues(upper), ref, rtol=0, atol=1e-12 * np.abs(ref).max())
    np.testing.assert_allclose(noise_spectrum.symmetric_eigenvalues(lower, lower=True), ref, rtol=0,
                               atol=1e-12 * np.abs(ref).max())
    assert np.isnan(upper[5, 0])  # the input is left as it was
    with pytest.raises(ValueError, match="square"):
        noise_spectrum.symmetric_eigenvalues(np.zeros((3, 4)))


def test_route_memory_counts_the_float32_product():
    d = 13_338
    f64, f32 = noise_spectrum.route_memory("dxd", 60_000, d), noise_spectrum.route_memory("dxd", 60_000, d, gemm_dtype="float32")
    assert f64 >= 16 * d * d and f32 >= f64 + 4 * d * d - 8 * 4096 * d


def test_rank_never_exceeds_n_minus_one_and_rank_vs_n_shows_it():
    G = random_gradients(40, 200, seed=9)
    sp = noise_spectrum.diffusion_spectrum(G)
    assert sp.rank() == 39  # generic gradients: exactly N − 1, the centring removes one direction
    table = noise_spectrum.rank_vs_n(G, [2, 5, 10, 40])
    np.testing.assert_array_equal(table["max_rank"], [1, 4, 9, 39])
    for r in ("paper", 1e-2, 1e-3, 1e-4):
        assert np.all(table[r] <= table["max_rank"]) and np.all(np.diff(table[r]) >= 0)
    np.testing.assert_array_equal(table["paper"], table["max_rank"])
    # low-rank gradients: the rank saturates at the true rank, not at n − 1
    rng = np.random.default_rng(10)
    low = (rng.normal(size=(60, 3)) @ rng.normal(size=(3, 200))).astype(np.float32)
    table = noise_spectrum.rank_vs_n(low, [2, 3, 10, 60], rng=1)
    np.testing.assert_array_equal(table["paper"], [1, 2, 3, 3])
    assert table["trace"][-1] == pytest.approx(np.trace(minibatch_noise.diffusion_matrix(low)), rel=1e-6)


def test_numerical_rank_on_constructed_spectra():
    d = 1000
    lmax = 2.0
    t = lmax * d * noise_spectrum.EPS_FLOAT32  # the paper's threshold, ≈1.2e-4 · λ_max here
    ev = np.concatenate([[lmax, 0.5, 3e-2, 3e-3, 3e-4], [1.01 * t, 0.99 * t], np.zeros(d - 7)])
    rng = np.random.default_rng(0)
    shuffled = rng.permutation(ev)
    assert noise_spectrum.numerical_rank(shuffled) == 6
    assert noise_spectrum.numerical_rank(shuffled, rtol=1e-2) == 3
    assert noise_spectrum.numerical_rank(shuffled, rtol=1e-3) == 4
    assert noise_spectrum.numerical_rank(shuffled, rtol=1e-4) == 7
    assert noise_spectrum.rank_table(shuffled) == {"paper": 6, 1e-2: 3, 1e-3: 4, 1e-4: 7}
    assert noise_spectrum.paper_rank_threshold(1.0, 13_338) == pytest.approx(1.59e-3, rel=1e-2)
    assert noise_spectrum.numerical_rank(np.zeros(5)) == 0
    # the paper's threshold scales with d: the same top eigenvalues in a larger matrix
    assert noise_spectrum.numerical_rank(ev[:7], dim=10 * d) == 4  # threshold 2.4e-3 now
    with pytest.warns(UserWarning, match="only known to be ≥ 3"):
        assert noise_spectrum.numerical_rank(ev[:3], dim=d) == 3
    with pytest.raises(ValueError, match="at most d eigenvalues"):
        noise_spectrum.numerical_rank(ev, dim=10)
    with pytest.raises(ValueError, match="rtol"):
        noise_spectrum.numerical_rank(ev, rtol=2.0)
    with pytest.raises(ValueError, match="rtol must be 'paper'"):
        noise_spectrum.numerical_rank(ev, rtol="numpy")


def test_spectrum_bad_inputs_and_memory_refusal():
    G = random_gradients(20, 50, seed=11)
    with pytest.raises(noise_spectrum.SpectrumMemoryError, match="route='gram'.*route='lanczos'"):
        noise_spectrum.diffusion_spectrum(G, route="dxd", max_bytes=10_000)
    with pytest.raises(noise_spectrum.SpectrumMemoryError, match="route='lanczos'"):
        noise_spectrum.diffusion_spectrum(G, route="gram", max_bytes=1_000)
    with pytest.raises(ValueError, match="pass k"):
        noise_spectrum.diffusion_spectrum(G, route="lanczos")
    with pytest.raises(ValueError, match="only route='lanczos'"):
        noise_spectrum.diffusion_spectrum(G, route="dxd", k=3)
    with pytest.raises(ValueError, match="smaller than d"):
        noise_spectrum.diffusion_spectrum(G, k=50)
    with pytest.raises(ValueError, match="at least two"):
        noise_spectrum.diffusion_spectrum(G[:1])
    with pytest.raises(ValueError, match="N = 0"):
        noise_spectrum.diffusion_spectrum(G[:0])
    bad = G.copy()
    bad[3, 4] = np.nan
    for route in ("dxd", "gram"):
        with pytest.raises(ValueError, match="NaN"):
            noise_spectrum.diffusion_spectrum(bad, route=route)
    with pytest.raises(ValueError, match="route must be one of"):
        noise_spectrum.diffusion_spectrum(G, route="svd")
    with pytest.raises(ValueError, match="exceeds the N=20"):
        noise_spectrum.rank_vs_n(G, [5, 21])
    with pytest.raises(TypeError, match="iterable of row chunks"):
        noise_spectrum.diffusion_spectrum(3.0)
