"""vdlib.experiments.fig1_checks: mini-batch gradient covariances in training vs evaluation mode (chapter 10)."""
import json

import numpy as np
import pytest
import torch

from vdlib.deep.noise_spectrum import diffusion_spectrum
from vdlib.deep.persample import per_sample_gradients
from vdlib.config import torch_threads
from vdlib.experiments import fig1_checks as F


@pytest.fixture(autouse=True)
def one_thread():
    """Thousands of tiny backward passes: two threads on a busy 2-core machine are 30× slower than one."""
    with torch_threads(1):
        yield


def _plain_net(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)).double()


def _bn_net(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.BatchNorm1d(8), torch.nn.ReLU(),
                               torch.nn.Linear(8, 3)).double()


def _data(N=60, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(N, 5, generator=g, dtype=torch.float64), torch.randint(0, 3, (N,), generator=g)


def test_without_batchnorm_training_mode_is_the_mean_of_per_sample_gradients():
    model, (X, y) = _plain_net(), _data()
    G = per_sample_gradients(model, torch.nn.CrossEntropyLoss(reduction="none"), X, y).numpy()
    train = F.minibatch_gradients(model, X, y, 10, 50, mode="train", seed=3)
    evalm = F.minibatch_gradients(model, X, y, 10, 50, mode="eval", seed=3, G=G)
    np.testing.assert_allclose(train, evalm, rtol=1e-10, atol=1e-12)


def test_b_times_minibatch_covariance_is_D_times_the_finite_population_factor():
    """Known answer, no BatchNorm: b·Cov(g_B) = D·(N − b)/(N − 1) for batches drawn without replacement.

    Tolerance 5 % on the trace and 10 % on λ_max with M = 6,000 batches; the trace estimate's relative
    standard error is computed here and must be below a third of the tolerance, so 5 % is ≥ 3 standard errors.
    """
    model, (X, y) = _plain_net(), _data()
    N, b, M = 60, 10, 6000
    G = per_sample_gradients(model, torch.nn.CrossEntropyLoss(reduction="none"), X, y).numpy()
    sp = diffusion_spectrum(G)
    Gb = F.minibatch_gradients(model, X, y, b, M, mode="train", seed=5)
    c = F.finite_population_factor(N, b)
    assert c == pytest.approx(50 / 59)
    dev2 = ((Gb - Gb.mean(axis=0)) ** 2).sum(axis=1)
    rel_se = dev2.std(ddof=1) / np.sqrt(M) / dev2.mean()
    assert rel_se < 0.05 / 3
    cmp = F.compare_to_D(sp.eigenvalues, b * F.covariance_eigenvalues(Gb, sp.dim), n_batches=M)
    assert cmp["trace_ratio"] == pytest.approx(c, rel=0.05)
    assert cmp["lambda_max_ratio"] == pytest.approx(c, rel=0.10)
    assert cmp["rank_bound"] == min(M - 1, sp.dim)


def test_covariance_eigenvalues_match_numpy():
    rng = np.random.default_rng(0)
    Gb = rng.normal(size=(7, 12))
    ev = F.covariance_eigenvalues(Gb)
    ref = np.sort(np.clip(np.linalg.eigvalsh(np.cov(Gb.T)), 0, None))[::-1]
    np.testing.assert_allclose(ev, ref, atol=1e-12)
    assert np.count_nonzero(ev > 1e-12) <= 6  # rank ≤ M − 1
    tall = rng.normal(size=(30, 4))  # M > d: the d×d route
    np.testing.assert_allclose(F.covariance_eigenvalues(tall), np.sort(np.linalg.eigvalsh(np.cov(tall.T)))[::-1],
                               rtol=1e-10)


def test_batchnorm_training_mode_differs_and_the_model_is_left_as_it_was():
    model, (X, y) = _bn_net(), _data()
    model.eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    G = per_sample_gradients(model, torch.nn.CrossEntropyLoss(reduction="none"), X, y).numpy()
    train = F.minibatch_gradients(model, X, y, 10, 20, mode="train", seed=3)
    evalm = F.minibatch_gradients(model, X, y, 10, 20, mode="eval", seed=3, G=G)
    evalm_direct = F.minibatch_gradients(model, X, y, 10, 20, mode="eval", seed=3)
    np.testing.assert_allclose(evalm, evalm_direct, rtol=1e-9, atol=1e-12)
    assert np.abs(train - evalm).max() > 1e-3
    assert not model.training
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_bad_input_is_refused_with_a_message():
    model, (X, y) = _bn_net(), _data(N=20)
    with pytest.raises(ValueError, match="exceeds"):
        F.minibatch_gradients(model, X, y, 21, 5)
    with pytest.raises(ValueError, match="at least 2 examples"):
        F.minibatch_gradients(model, X, y, 1, 5, mode="train")
    with pytest.raises(ValueError, match="mode"):
        F.minibatch_gradients(model, X, y, 4, 5, mode="test")
    with pytest.raises(ValueError):
        F.minibatch_gradients(model, X, y, 4, 1)
    with pytest.raises(ValueError, match="rows"):
        F.minibatch_gradients(model, X, y, 4, 5, mode="eval", G=np.zeros((19, 3)))
    with pytest.raises(ValueError, match="examples but y"):
        F.minibatch_gradients(model, X[:19], y, 4, 5)
    with pytest.raises(ValueError, match="M ≥ 2"):
        F.covariance_eigenvalues(np.zeros((1, 4)))
    with pytest.raises(ValueError, match="NaN"):
        F.covariance_eigenvalues(np.full((3, 4), np.nan))
    with pytest.raises(ValueError, match="all d"):
        F.compare_to_D(np.ones(4), np.ones(3), n_batches=5)
    with pytest.raises(ValueError, match="exceeds"):
        F.finite_population_factor(10, 11)
    with pytest.raises(ValueError, match="profile"):
        F.run("huge")
    with pytest.raises(ValueError, match="unknown data sets"):
        F.run("ci", datasets=("cifar10",))


def test_command_line_ci_profile_writes_a_summary_with_its_provenance(tmp_path):
    from vdlib.experiments.__main__ import main

    out = tmp_path / "f1"
    assert main(["fig1-checks", "--profile", "ci", "--threads", "1", "--out", str(out)]) == 0
    s = F.load(out)
    assert s["profile"] == "ci" and s["seed"] == 42 and s["threads"] == 1
    assert json.loads((out / "summary.json").read_text())["command"].startswith("python -m vdlib.experiments")
    names = [c["case"] for c in s["cases"]]
    assert names == ["small-fc/mnist-10k", "small-fc/mnist-10k-classes01"]
    for c in s["cases"]:
        assert c["d"] == 3978 and c["source"] and c["dataset"] == "mnist-10k"
        assert set(c["minibatch"]) >= {"eval", "train", "b", "M"}
        assert c["minibatch"]["eval"]["rank"] <= c["minibatch"]["eval"]["rank_bound"]
    with pytest.raises(FileNotFoundError):
        F.load(tmp_path / "nothing")


def _fake_case(net, dataset, pct, two=False, eval_rank=None, train_rank=None, M=2000):
    d = 3978 if net == "small-fc" else 13338
    rank = round(pct * d / 100)
    mb = {"M": M, "b": 128, "eval": {"rank": eval_rank or rank, "rank_bound": M - 1},
          "train": {"rank": train_rank or rank, "rank_bound": M - 1}}
    return {"net": net, "dataset": dataset, "classes": [0, 1] if two else "all 10", "d": d, "N": 8000,
            "D": {"rank_pct": pct, "rank": rank}, "minibatch": mb}


def test_explanations_follow_their_stated_rules():
    s = {"cases": [_fake_case("small-fc", "mnist-10k", 8.0, train_rank=1990),
                   _fake_case("small-fc", "mnist-10k", 0.4, two=True),
                   _fake_case("small-fc", "fashion-mnist", 6.0)]}
    v = {e["candidate"].split(" ")[0]: e["verdict"] for e in F.explanations(s, 0.6)}
    assert v == {"data": "does not explain", "two": "explains", "training": "does not explain"}
    s["cases"][0]["minibatch"]["train"]["rank"] = 1999  # at the bound M − 1: the estimator cannot tell
    s["cases"][2]["D"]["rank_pct"] = 20.0  # halving without getting within a factor 2: moves toward
    v = {e["candidate"].split(" ")[0]: e["verdict"] for e in F.explanations(s, 0.6)}
    assert v["training"] == "not tested" and v["data"] == "moves toward"
    full_mnist = _fake_case("small-fc", "mnist", 1.0)  # full MNIST, when present, is the reference row
    s["cases"].insert(0, full_mnist)
    assert F.find_case(s, "small-fc") is full_mnist
    assert F.explanations({"cases": s["cases"][:1]}, 0.6, fashion_fc_pct=8.4)[0]["verdict"] == "explains"
    with pytest.raises(ValueError, match="no small-fc"):
        F.explanations({"cases": []}, 0.6)


def test_the_committed_summary_records_its_provenance():
    from vdlib.experiments import spectrum as S
    from vdlib.results import committed_result, packaged_path

    loc = committed_result("spectrum/fig1_checks", start=packaged_path("spectrum/fig1_checks").parent)
    s = F.load(packaged_path("spectrum/fig1_checks"))
    assert loc.path is not None
    assert s["profile"] == "full" and s["seed"] == 42 and s["threads"] == 1 and s["command"]
    assert s["sizes"] == {k: F.PROFILES["full"][k] for k in ("n_train", "epochs", "batch_size", "n_batches")}
    for c in s["cases"]:
        assert c["source"] and c["D"]["rank"] <= c["N"] - 1
        for mode in ("eval", "train"):
            assert c["minibatch"][mode]["rank"] <= c["minibatch"][mode]["rank_bound"]
    header, rows = F.rank_rows(s, S.PAPER)
    assert len(rows) == len(s["cases"]) and all(len(r) == len(header) for r in rows)
    header, rows = F.mode_rows(s)
    assert all(len(r) == len(header) for r in rows)
