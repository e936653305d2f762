"""Identities displayed in chapter 10 (the gradient-noise spectrum), checked against independent oracles."""
import numpy as np
import pytest

from vdlib.deep import noise_spectrum, persample
from vdlib.experiments import spectrum as S
from vdlib.theory import minibatch_noise

EPS32 = float(np.finfo(np.float32).eps)


def _low_rank_gradients(N, d, r, seed=0):
    """N per-sample gradients that span an r-dimensional affine subspace (plus a common mean)."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((N, r)) @ rng.standard_normal((r, d)) + rng.standard_normal(d)


def test_eq_spec_D_is_the_centred_one_over_N_covariance():
    G = np.random.default_rng(1).standard_normal((40, 12))
    Gc = G - G.mean(0)
    D = minibatch_noise.diffusion_matrix(G)
    np.testing.assert_allclose(D, Gc.T @ Gc / 40, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(D, np.cov(G, rowvar=False, bias=True), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("N,d", [(10, 50), (60, 20)])
def test_eq_spec_rank_bound_rank_at_most_min_N_minus_1_d(N, d):
    G = np.random.default_rng(N).standard_normal((N, d))
    sp = noise_spectrum.diffusion_spectrum(G)
    exact = np.linalg.matrix_rank(minibatch_noise.diffusion_matrix(G))
    assert exact == min(N - 1, d) == sp.max_rank
    assert sp.rank(1e-8) == exact


def test_rank_bound_is_attained_only_by_diverse_gradients():
    G = _low_rank_gradients(50, 30, r=4)  # 50 gradients in a 4-dim affine subspace: rank 4 < N - 1
    assert noise_spectrum.diffusion_spectrum(G).rank(1e-9) == 4


def test_gram_route_has_the_same_nonzero_eigenvalues_as_the_dxd_route():
    G = np.random.default_rng(3).standard_normal((25, 40))
    dxd = noise_spectrum.diffusion_spectrum(G, route="dxd").eigenvalues
    gram = noise_spectrum.diffusion_spectrum(G, route="gram").eigenvalues
    ref = np.sort(np.linalg.eigvalsh(np.cov(G, rowvar=False, bias=True)))[::-1]
    np.testing.assert_allclose(dxd, ref, atol=1e-12)
    np.testing.assert_allclose(gram, ref, atol=1e-12)
    assert np.all(np.abs(gram[24:]) < 1e-12)  # d − (N − 1) exact zeros


def test_trace_is_the_sum_of_eigenvalues_and_the_mean_squared_deviation():
    G = np.random.default_rng(4).standard_normal((30, 20)) * np.linspace(0.1, 3, 20)
    sp = noise_spectrum.diffusion_spectrum(G)
    msd = np.mean(np.sum((G - G.mean(0)) ** 2, axis=1))
    assert sp.trace == pytest.approx(msd, rel=1e-12)
    assert sp.eigenvalues.sum() == pytest.approx(msd, rel=1e-10)


@pytest.mark.parametrize("d,rel", [(13_338, 1.6e-3), (26_982, 3.2e-3), (3_978, 4.7e-4)])
def test_eq_spec_threshold_is_lambda_max_d_eps_float32(d, rel):
    assert noise_spectrum.paper_rank_threshold(2.0, d) == pytest.approx(2.0 * d * EPS32)
    assert d * EPS32 == pytest.approx(rel, rel=0.02)  # the values quoted in the chapter and paper notes


def test_paper_threshold_rank_is_numpys_matrix_rank_convention():
    """The paper's rank is what numpy.linalg.matrix_rank returns for a symmetric matrix in float32."""
    noise_ = 1e-4 * np.random.default_rng(6).standard_normal((200, 60))
    G = _low_rank_gradients(200, 60, r=15, seed=5) + noise_
    D = minibatch_noise.diffusion_matrix(G)
    ev = np.linalg.eigvalsh(D)
    tol = ev.max() * 60 * EPS32  # matrix_rank's default tol = S.max() * max(M, N) * eps for float32
    assert noise_spectrum.numerical_rank(ev, rtol="paper") == np.linalg.matrix_rank(D, tol=tol)


def test_paper_counts_match_the_quoted_numbers_of_eigenvalues():
    """1.8 % of 13,338 ≈ 240; 0.6 % of 3,978 ≈ 24; 0.34 % of 26,982 ≈ 92; 0.47 % of 29,412 ≈ 138
    (the counts quoted in the paper notes)."""
    quoted = {"small-lenet": 240, "small-fc": 24, "small-allcnn-cifar10": 92, "small-allcnn-cifar100": 138}
    for run, n in quoted.items():
        ref = S.PAPER[run]
        assert abs(ref["rank_pct"] / 100 * ref["d"] - n) <= 0.02 * n


def test_clipped_mean_exceeds_trace_over_d_by_at_most_the_threshold():
    ev = np.concatenate([[5.0, 1.0, 0.2], np.zeros(997)])
    st = S.paper_statistics(ev)
    assert st["mean_unclipped"] == pytest.approx(ev.sum() / 1000)
    assert 0 < st["mean"] - st["mean_unclipped"] <= st["threshold"]
    full_rank = np.linspace(1.0, 2.0, 50)  # nothing below the threshold: clipping changes nothing
    assert S.paper_statistics(full_rank)["mean"] == pytest.approx(full_rank.mean())


def test_eq_spec_temperature_is_the_mean_per_coordinate_noise_of_one_step_over_eta():
    """One SGD step with replacement has noise covariance η² D / b, so its mean per-coordinate variance
    divided by η is (η/b) tr D / d; checked exactly from the mini-batch covariance and by sampling."""
    G = np.random.default_rng(7).standard_normal((80, 10)) * np.arange(1, 11)
    eta, b = 0.05, 8
    D = minibatch_noise.diffusion_matrix(G)
    cov_step = eta ** 2 * minibatch_noise.minibatch_covariance(G, b, replacement=True)
    T = S.temperature(eta, b, float(np.trace(D)), 10)
    assert np.trace(cov_step) / 10 / eta == pytest.approx(T, rel=1e-12)
    rng = np.random.default_rng(8)
    idx = rng.integers(0, 80, size=(20_000, b))
    steps = eta * G[idx].mean(axis=1)
    assert steps.var(axis=0).sum() / 10 / eta == pytest.approx(T, rel=0.05)


def test_temperature_scales_with_eta_over_b_only():
    t = S.temperature(0.1, 128, 7.0, 100)
    assert S.temperature(0.2, 256, 7.0, 100) == pytest.approx(t)
    assert S.temperature(0.2, 128, 7.0, 100) == pytest.approx(2 * t)


def test_softmax_gives_D_at_least_h_plus_1_exact_zero_eigenvalues():
    """Cross-entropy's gradient in the logits sums to zero over the K classes, so for the last layer
    (h -> K) the sum over classes of each weight column's gradient, and of the bias gradient, vanishes
    for every example: h + 1 null directions of D (65 for small-fc, 129 for small-lenet)."""
    import torch

    from vdlib.deep import models

    net = models.build("small-fc", seed=0)
    gen = torch.Generator().manual_seed(0)
    X, y = torch.randn(300, 49, generator=gen), torch.randint(0, 10, (300,), generator=gen)
    G = persample.per_sample_gradients(net, torch.nn.CrossEntropyLoss(reduction="none"), X, y).double().numpy()
    blocks = {b.name: b for b in persample.parameter_layout(net)}
    W, bias = blocks["net.4.weight"], blocks["net.4.bias"]
    h = W.shape[1]
    null = np.zeros((h + 1, G.shape[1]))
    for j in range(h):  # all classes k of column j: entries W.start + k * h + j
        null[j, W.start + j + h * np.arange(10)] = 1.0
    null[h, bias.start:bias.stop] = 1.0
    scale = np.abs(G).max()
    assert np.abs(G @ null.T).max() < 1e-5 * scale  # float32 gradients: zero to rounding
    # the last layer's block of D (650 × 650, N = 1000 > 650): exactly h + 1 zero eigenvalues
    X2, y2 = torch.randn(1000, 49, generator=gen), torch.randint(0, 10, (1000,), generator=gen)
    G2 = persample.per_sample_gradients(net, torch.nn.CrossEntropyLoss(reduction="none"), X2, y2).double().numpy()
    ev = noise_spectrum.diffusion_spectrum(G2[:, W.start:bias.stop], route="dxd").eigenvalues
    assert np.count_nonzero(ev < 1e-9 * ev[0]) == h + 1
