"""The steady-state protocol of Part IV (vdlib.experiments.steady_state) and the irreversibility test's
positive control (vdlib.analysis.power): the control's construction, its size and power, the protocol's
checks, a ci-sized run (shapes, matched control, bitwise reproducibility, resume, damaged files), the
summary's statistics and the verdict sentences."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from scipy import linalg

from vdlib.analysis import irreversibility_test
from vdlib.analysis.power import ou_for_rho, ou_power, ou_rho, simulate_ou
from vdlib.experiments import steady_state as ss
from vdlib.experiments.steady_state import runner
from vdlib.experiments.steady_state.protocol import Setting


# --------------------------------------------------------------------------------------------------
# the positive control
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("r1,r2,rho", [(0.9, 0.9, 0.05), (0.95, 0.7, 0.02), (0.99, 0.5, -0.01)])
def test_ou_for_rho_hits_the_requested_irreversibility(r1, r2, rho):
    A = ou_for_rho(r1, r2, rho)
    assert A[0, 0] == r1 and A[1, 1] == r2
    assert ou_rho(A) == pytest.approx(rho, rel=1e-8)


def test_ou_at_rho_zero_is_reversible():
    A = ou_for_rho(0.9, 0.6, 0.0)
    np.testing.assert_array_equal(A, A.T)
    S = linalg.solve_discrete_lyapunov(A, np.eye(2))
    C1 = S @ A.T
    np.testing.assert_allclose(C1, C1.T, atol=1e-12)


def test_ou_for_rho_refuses_bad_input():
    with pytest.raises(ValueError, match="autocorrelation"):
        ou_for_rho(1.0, 0.5, 0.01)
    with pytest.raises(ValueError, match="beyond"):
        ou_for_rho(0.9, 0.9, 0.99)


def test_simulated_ou_has_its_stationary_law_and_irreversibility():
    A = ou_for_rho(0.95, 0.8, 0.03)
    X = simulate_ou(A, 16, 20_000, np.random.default_rng(3))
    S = linalg.solve_discrete_lyapunov(A, np.eye(2))
    np.testing.assert_allclose(np.cov(X.reshape(-1, 2).T), S, rtol=0.05, atol=0.05 * S.max())
    res = irreversibility_test(X, check_stationarity=False)
    rho_hat = res.asym[0, 1] / np.sqrt(S[0, 0] * S[1, 1])
    assert abs(rho_hat - 0.03) < 4 * res.se[0, 1] / np.sqrt(S[0, 0] * S[1, 1])


def test_f_test_power_matches_simulation_and_detectable_effect():
    """The non-central F power at the data's own standard error, against simulated block estimates."""
    from vdlib.analysis.power import detectable_effect, f_test_power

    rng = np.random.default_rng(5)
    n, k = 24, 2.5  # 24 independent estimates, true mean 2.5 standard errors of their mean
    x = rng.standard_normal((20_000, n)) + k / np.sqrt(n)
    t2 = n * x.mean(1) ** 2 / x.var(1, ddof=1)
    from scipy import stats
    simulated = float((t2 > stats.f.ppf(0.95, 1, n - 1)).mean())
    assert f_test_power(k, (1, n - 1)) == pytest.approx(simulated, abs=0.015)
    assert f_test_power(0.0, (1, n - 1)) == pytest.approx(0.05, abs=1e-9)
    k80 = detectable_effect((1, n - 1))
    assert f_test_power(k80, (1, n - 1)) == pytest.approx(0.8, abs=1e-6)
    assert 2.8 < k80 < 3.1  # ≈ 2.8 for a normal test, a little more with 23 degrees of freedom
    with pytest.raises(ValueError, match="one antisymmetric entry"):
        f_test_power(2.0, (3, 20))


def test_power_curve_size_and_power():
    """Size at the nominal rate (binomial 99.9 % band for 150 reps at 0.05) and power near 1 at a large effect."""
    curve = ou_power(0.9, 0.8, [0.002, 0.02], chains=8, T=2000, reps=150, seed=1)
    assert 0.005 <= curve.size <= 0.11
    assert curve.power[1] >= 0.95
    assert curve.power[0] < curve.power[1]
    assert 0.002 <= curve.detectable(0.8) <= 0.02
    assert curve.as_dict()["rho_80"] == curve.detectable(0.8)


# --------------------------------------------------------------------------------------------------
# the protocol
# --------------------------------------------------------------------------------------------------
def test_protocol_round_trip_and_units():
    p = ss.protocol("full")
    assert ss.SteadyProtocol.from_dict(json.loads(json.dumps(p.as_dict()))) == p
    names = [(s.name, g) for s, g in p.units()]
    assert ("lr0.1_wd0.0005", "sgd") in names and ("lr0.001_wd0.05", "langevin") in names
    assert ("lr0.001_wd0.0005", "sgd") in names and ("lr0.001_wd0.0005", "langevin") not in names


def test_relaxation_time_and_burn_in():
    p = ss.protocol("full")
    s = Setting(0.1, 5e-4, ("sgd",))
    # tau = (1 - mu) / (2 eta lambda) steps = 0.1 / 1e-4 = 1000 steps = 62.5 epochs of 16 steps
    assert p.relaxation_epochs(s) == pytest.approx(62.5)
    assert p.relaxation_epochs(s, momentum=0.0) == pytest.approx(625.0)
    assert p.relaxation_epochs(Setting(1e-3, 5e-2, ("sgd",))) == pytest.approx(62.5)  # same eta * lambda
    assert p.burn_in_epochs(s, "sgd") == p.burn_in
    assert p.burn_in_epochs(s, "momentum0") == 10000  # 16 τ of momentum 0
    assert p.burn_in_epochs(Setting(1e-3, 5e-4, ("sgd",)), "sgd") == p.burn_in_max  # τ ≈ 6,250 epochs: capped
    assert p.burn_in_epochs(Setting(1e-3, 5e-2, ("sgd",), burn_in=10000), "sgd") == 10000


@pytest.mark.parametrize("change,match", [
    (dict(settings=(Setting(0.1, 5e-4, ("bogus",)),)), "groups"),
    (dict(settings=(Setting(0.1, 5e-4, ("langevin",)),)), "matched"),
    (dict(settings=()), "empty"),
    (dict(held_out=2), "held_out"),
    (dict(settings=(Setting(0.1, -1.0, ("sgd",)),)), "weight_decay"),
    (dict(momentum=1.0), "momentum"),
])
def test_protocol_refuses_bad_settings(change, match):
    with pytest.raises(ValueError, match=match):
        ss.protocol("ci", **change)


def test_protocol_refuses_unknown_names():
    with pytest.raises(TypeError, match="unknown"):
        ss.protocol("ci", epochz=3)


# --------------------------------------------------------------------------------------------------
# a ci-sized run
# --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ci_run(tmp_path_factory):
    torch.set_num_threads(1)
    p = ss.protocol("ci")
    out = tmp_path_factory.mktemp("steady") / "run"
    ss.run(p, out, workers=1)
    return p, out


def test_unit_arrays(ci_run):
    p, out = ci_run
    s = p.settings[0]
    u = ss.load_unit(out, s, "sgd")
    m = u["meta"]
    spe = m["steps_per_epoch"]
    assert u["projections"].shape == (p.chains, p.window * spe + 1, 6)
    assert ss.load_unit(out, s, "langevin")["projections"].shape[0] == p.control_b_chains
    assert u["loss"].shape == (p.chains, p.window + 1) and np.isfinite(u["loss"]).all()
    assert m["burn_in"] == p.burn_in_epochs(s, "sgd") and m["torch_threads"] == 1
    # the projections at epoch boundaries are the recorded weights projected: norm consistent
    assert np.all(np.abs(u["projections"]) <= u["weight_norm"].max() + 1e-9)
    lang = ss.load_unit(out, s, "langevin")
    t = lang["matched_temperature"]
    assert len(t) == m["burn_in"] + p.held_out + p.window and np.all(t > 0) and np.isfinite(t).all()


def test_units_are_bitwise_reproducible_and_resume_exactly(ci_run, tmp_path):
    p, out = ci_run
    again = tmp_path / "again"
    ss.run(p, again, workers=1, stop_after=2)  # a killed run: two units done
    done = json.loads((again / "units" / "manifest.json").read_text())
    assert len(done) == 2
    with pytest.raises(FileExistsError, match="resume"):
        ss.run(p, again, workers=1)
    ss.run(p, again, workers=2, resume=True)
    for s, g in p.units():
        a, b = ss.load_unit(out, s, g), ss.load_unit(again, s, g)
        for k in ("projections", "loss", "grad_norm", "weight_norm", "matched_temperature", "V_pca"):
            np.testing.assert_array_equal(a[k], b[k], err_msg=f"{s.name}/{g}: {k}")


def test_resume_refuses_damaged_unit_and_other_protocol(ci_run, tmp_path):
    p, out = ci_run
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    path = copy / "units" / p.settings[0].name / "sgd.npz"
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="SHA-256"):
        ss.run(p, copy, workers=1, resume=True)
    with pytest.raises(ValueError, match="another protocol"):
        ss.run(ss.protocol("ci", seed=1), out, workers=1, resume=True)


def test_summary_statistics(ci_run):
    p, out = ci_run
    res = ss.summarise(out, reps=10, write=False)
    assert res["data"]["dataset"] == "mnist-10k"
    s = res["units"][p.settings[0].name]["sgd"]
    for name in ss.DIRECTION_SETS:
        t = s["tests"][name]["step"]
        assert t["reversed_a12"] == pytest.approx(-t["a12"], rel=1e-9, abs=1e-15)  # exact sign flip
        assert 0 <= t["p"] <= 1 and t["se"] > 0
        assert len(t["per_chain"]["a12"]) in (0, p.chains)
        # the ci windows are too short to be stationary: no power is computed for a test that is not read
        assert (t["power"] is None) == (not s["premise"]["stationary"])
    assert isinstance(s["premise"]["stationary"], bool)
    assert s["verdict"].startswith("sgd at η = 0.1")


def _fake(stationary=True, p=0.5, rho=1e-4, rho_se=1e-4, rho_80=3e-4):
    step = {"p": p, "rho": rho, "rho_se": rho_se, "power": {"rho_80": rho_80 / 2, "rho_80_data": rho_80,
                                                            "data_factor_for_observed": (rho_80 / rho) ** 2}}
    return {"group": "sgd", "lr": 0.1, "weight_decay": 5e-4, "chains": 24, "window": 1500,
            "premise": {"stationary": stationary, "trend_p": {"loss": 0.3, "grad_norm": 1e-5, "weight_norm": 0.2}},
            "tests": {n: {"step": dict(step)} for n in ss.DIRECTION_SETS},
            "primary_p_bonferroni": min(1.0, 3 * p)}


def test_verdict_sentences_follow_the_numbers():
    assert "undecided" in ss.verdict_sentence(_fake(stationary=False)) and "grad norm" in ss.verdict_sentence(_fake(stationary=False))
    yes = ss.verdict_sentence(_fake(p=1e-6, rho=5e-4))
    assert "detectably irreversible" in yes and "not detectably" not in yes
    no = ss.verdict_sentence(_fake(p=0.4, rho=1e-4))
    assert "not detectably irreversible" in no and "about 9.0×" in no


# --------------------------------------------------------------------------------------------------
# the committed full-profile summary that chapters 11 and 12 show
# --------------------------------------------------------------------------------------------------
def test_committed_summary_is_the_full_protocol_and_its_verdicts_follow_its_numbers(tmp_path):
    from vdlib.results import committed_result

    found = committed_result("steady_state/full", start=tmp_path)
    assert found.origin == "committed"
    res = ss.load_summary(found.path)
    assert ss.SteadyProtocol.from_dict(res["protocol"]) == ss.protocol("full")
    assert res["data"]["dataset"] == "mnist-10k" and res["data"]["N"] == 2048
    for setting, groups in res["units"].items():
        for g, s in groups.items():
            assert ss.verdict_sentence(s) == s["verdict"], (setting, g)
            assert s["primary_p_bonferroni"] == pytest.approx(min(1.0, 3 * min(t["step"]["p"] for t in s["tests"].values())))
            for plane, t in s["tests"].items():
                st = t["step"]
                # exact in exact arithmetic; in floating point up to round-off on the scale of the covariance
                assert st["reversed_a12"] == pytest.approx(-st["a12"], rel=1e-9, abs=1e-12 * st["scale"])
                # the positive control's size at the data's own sample size: the test holds its level
                # (binomial 99.9 % band for the number of simulations)
                if not s["premise"]["stationary"]:
                    assert st["power"] is None and "undecided" in s["verdict"]
                    continue
                reps = st["power"]["reps"]
                assert st["power"]["size"] <= 0.05 + 3.3 * np.sqrt(0.05 * 0.95 / reps), (setting, g, plane)
                assert st["power"]["chains"] == s["chains"] and st["power"]["T"] == s["window"] * s["steps_per_epoch"] + 1


def test_recorded_fdr1_scalars_are_those_of_the_epochs_first_step(ci_run):
    """θ_t·g_t and ‖Δθ_t‖² of the window's first step, recomputed on an identical engine (same seeds)."""
    from vdlib.deep import chains as ch
    from vdlib.experiments.steady_state.protocol import chain_seeds

    p, out = ci_run
    s, g = p.settings[0], "sgd"
    u = ss.load_unit(out, s, g)
    X, y, _ = runner.load_data(p)
    start = runner.load_start(out, True)
    eng = ch.ChainEngine(X, y, start["theta"].to(X.dtype)[None], ch.layout(p.model, len(p.classes)),
                         seeds=chain_seeds(p, s, g), lr=s.lr, momentum=p.momentum, weight_decay=s.weight_decay,
                         batch_size=p.batch_size)
    for _ in range(u["meta"]["burn_in"] + p.held_out):
        eng.run_epoch()
    th = eng.theta.double().clone()
    dtheta, grad = eng.run_epoch(first_step=True)
    np.testing.assert_allclose(u["theta_dot_step_grad"][:, 0], (th * grad.double()).sum(1).numpy(), rtol=1e-12)
    np.testing.assert_allclose(u["step_sq"][:, 0], dtheta.double().square().sum(1).numpy(), rtol=1e-12)
    np.testing.assert_allclose(u["projections"][:, 0], (th @ torch.as_tensor(np.concatenate(
        [start["noise"].numpy(), start["hessian"].numpy(), u["V_pca"]], axis=1))).numpy(), rtol=1e-12, atol=1e-14)


def test_chapter_11_narrative_matches_the_committed_verdicts(tmp_path):
    """The prose of chapter 11's verdict section ('What the numbers say') against the committed summary."""
    from vdlib.results import committed_result

    res = ss.load_summary(committed_result("steady_state/full", start=tmp_path).path)
    u = res["units"]
    fast, paper = "lr0.1_wd0.0005", "lr0.001_wd0.05"
    sgd = u[fast]["sgd"]
    assert sgd["premise"]["stationary"] and sgd["primary_p_bonferroni"] < 0.05
    assert sgd["vs_control_b"]["p_bonferroni"] < 0.05
    noise = sgd["tests"]["noise"]
    assert noise["step"]["p"] < noise["epoch"]["p"]  # weaker once per epoch
    m0 = u[fast]["momentum0"]
    assert m0["premise"]["stationary"] and m0["primary_p_bonferroni"] < 0.05
    assert not u[fast]["langevin"]["premise"]["stationary"]
    assert all(abs(t["step"]["rho"]) < abs(sgd["tests"][n]["step"]["rho"]) or n == "pca"
               for n, t in u[fast]["langevin"]["tests"].items())
    # the positive control scatters less than the data: power near 1 at two of the data's standard errors
    assert noise["step"]["power"]["power"][0] > 0.9
    assert not any(s["premise"]["stationary"] for s in u[paper].values())
    assert 0.01 < u[paper]["sgd"]["window_means"]["error"][0] < 0.1  # "a few per cent training error"
    assert 1e5 <= u[paper]["sgd"]["burn_in_needed"]["epochs"] < 1e6  # "of the order of 10^5 epochs, > 10× this run's"
    assert not u["lr0.001_wd0.0005"]["sgd"]["premise"]["stationary"]
    assert not u[fast]["nobn"]["premise"]["stationary"] and not u[paper]["nobn"]["premise"]["stationary"]


def test_burn_in_needed_recovers_a_known_relaxation():
    """An exponential relaxation with τ = 2,000 epochs, observed to epoch 5,000 + a 1,500-epoch window."""
    from vdlib.experiments.steady_state.summary import burn_in_needed

    tau, a, c, B, H, W = 2000.0, 0.5, 10.0, 5000, 200, 1500
    e = np.arange(0, B + 1, 25)
    rng = np.random.default_rng(0)
    curve = c + a * np.exp(-e / tau)
    u = {"meta": {"burn_in": B, "held_out": H, "window": W}, "burn_epochs": e,
         "burn_weight_norm": curve[None] + 1e-5 * rng.standard_normal((4, e.size))}
    half = lambda t0, t1: c + a * tau / (t1 - t0) * (np.exp(-t0 / tau) - np.exp(-t1 / tau))  # noqa: E731
    se = 1e-4
    pre = {"trend_p": {"loss": 0.5, "grad_norm": 0.5, "weight_norm": 1e-9},
           "halves": {"weight_norm": {"first": [half(B + H, B + H + W / 2), se], "second": [half(B + H + W / 2, B + H + W), se]}}}
    out = burn_in_needed(u, pre)
    assert out["series"] == "weight_norm"
    assert out["fit"]["tau_epochs"] == pytest.approx(tau, rel=0.1)
    # the drift between halves, |a|/τ·e^{−t/τ}·W/2, equals one standard error of their difference at the answer
    t = out["epochs"] + H
    assert a / tau * np.exp(-t / tau) * W / 2 == pytest.approx(np.hypot(se, se), rel=0.15)
