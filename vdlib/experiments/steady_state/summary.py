"""The statistics of a steady-state run, reduced to one small JSON file the chapters load.

Per unit (setting × group):

* **premise** — trend tests on the full-batch loss, ‖∇f‖/√d and ‖θ‖ over the window (one test per
  series, Bonferroni over the three; :func:`vdlib.analysis.stationarity_check`), their first-half and
  second-half means, and Yaida's FDR1 ⟨θ·g⟩ = (1 + μ)/(2η)⟨‖Δθ‖²⟩, which holds in any steady state;
* **irreversibility** — for each direction set and at lags of one step and one epoch, the pooled
  antisymmetric lagged covariance a₁₂, its dimensionless size ρ = a₁₂/√(Σ₁₁Σ₂₂), the block-based p-value,
  per-chain estimates, the exact sign flip of the time-reversed trajectories, and a lower bound on the
  entropy production;
* **power** — the rejection rate against the Ornstein–Uhlenbeck positive control (same chains, steps,
  lag and blocks, the data's own lag-one autocorrelations) at ρ = 1…4 standard errors, the smallest
  detectable ρ at power 0.8, and how much more data detecting the observed ρ would take;
* **verdict** — one sentence (:func:`verdict_sentence`). The primary test is the one-step lag (the
  time scale of the fastest relaxation, well inside an epoch), Bonferroni-corrected over the three
  direction sets, at level 0.05, and only if the premise holds.
"""
from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ... import files
from ...analysis import entropy_production_bound, irreversibility_test, stationarity_check
from ...analysis.power import detectable_effect, f_test_power, ou_power
from .protocol import DIRECTION_SETS, FORMAT, GROUPS, Setting, SteadyProtocol
from .runner import load_start, load_unit

ALPHA = 0.05          # the irreversibility test's level
TREND_ALPHA = 0.01    # the stationarity premise's level
SUMMARY = "summary.json"


def _mean_se(x: np.ndarray) -> list[float]:
    x = np.asarray(x, dtype=float)
    return [float(x.mean()), float(x.std(ddof=1) / math.sqrt(len(x))) if len(x) > 1 else float("nan")]


def _downsample(epochs, arr, n=120):
    idx = np.unique(np.linspace(0, len(epochs) - 1, min(n, len(epochs))).round().astype(int))
    return [int(e) for e in np.asarray(epochs)[idx]], [float(v) for v in np.asarray(arr)[idx]]


def premise(u: dict[str, Any]) -> dict[str, Any]:
    """Stationarity of the window (trend tests, halves) and Yaida's FDR1 for one unit."""
    loss, grad, norm = u["loss"], u["grad_norm"], u["weight_norm"]
    stacked = np.stack([np.log(loss), np.log(grad), norm], axis=2)
    chk = stationarity_check(stacked, alpha=TREND_ALPHA)
    half = loss.shape[1] // 2
    out: dict[str, Any] = {"trend_p": {k: float(v) for k, v in zip(("loss", "grad_norm", "weight_norm"), chk.p_values)},
                           "trend_p_min": chk.p_min, "stationary": bool(chk.stationary), "halves": {}}
    for name, arr in (("loss", loss), ("grad_norm", grad), ("weight_norm", norm), ("error", u["error"])):
        out["halves"][name] = {"first": _mean_se(arr[:, :half].mean(1)), "second": _mean_se(arr[:, half:].mean(1))}
    m = u["meta"]
    lhs = u["theta_dot_step_grad"].mean(1)
    rhs = (1 + m["momentum"]) / (2 * m["lr"]) * u["step_sq"].mean(1)
    out["fdr1"] = {"lhs": _mean_se(lhs), "rhs": _mean_se(rhs), "ratio": float(lhs.mean() / rhs.mean())}
    return out


def irreversibility(P: np.ndarray, lag: int) -> dict[str, Any]:
    """The test on one plane ``P`` (chains, T, 2) at ``lag``, with its per-chain and reversed versions."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = irreversibility_test(P, lag=lag)
    rev = irreversibility_test(P[:, ::-1], lag=lag, check_stationarity=False)
    S = np.cov(P.reshape(-1, 2).T)
    scale = math.sqrt(S[0, 0] * S[1, 1])
    try:  # one chain alone needs enough steps for its own blocks
        chains = [irreversibility_test(P[c], lag=lag, check_stationarity=False) for c in range(P.shape[0])]
    except ValueError:
        chains = []
    ep = entropy_production_bound(P, lag=lag)
    return {"lag": lag, "a12": float(res.asym[0, 1]), "se": float(res.se[0, 1]), "p": float(res.p_value),
            "rho": float(res.asym[0, 1] / scale), "rho_se": float(res.se[0, 1] / scale), "scale": scale,
            "reversed_a12": float(rev.asym[0, 1]), "blocks_per_chain": res.blocks_per_chain, "df": list(res.df),
            "block_length": res.block_length, "projection_trend_p": float(res.stationarity.p_min),
            "nonstationary_warning": any("trend" in str(w.message).lower() or "stationar" in str(w.message).lower()
                                         for w in caught),
            "per_chain": {"a12": [float(c.asym[0, 1]) for c in chains], "se": [float(c.se[0, 1]) for c in chains],
                          "p": [float(c.p_value) for c in chains]},
            "entropy_production": {"rate": float(ep.rate), "ci": [float(v) for v in ep.ci]},
            "lag1_autocorrelation": [float(np.corrcoef(P[:, :-1, j].ravel(), P[:, 1:, j].ravel())[0, 1])
                                     for j in range(2)]}


def burn_in_needed(u: dict[str, Any], pre: dict[str, Any]) -> dict[str, Any] | None:
    """A rough estimate of the burn-in after which the window would pass the trend test.

    The series with the smallest trend p-value, averaged over chains, is fitted over the second half of
    the burn-in and the two halves of the window by y(t) = c + a·exp(−t/τ). Its drift between the
    window's halves, ``|a|/τ · e^{−t/τ} · W/2``, must fall below one standard error of the difference of
    the half means (from the chains) for the premise to hold comfortably: that fixes t. None when the
    fit does not describe a relaxation (τ ≤ 0 or beyond reach)."""
    from scipy.optimize import curve_fit

    name = min(pre["trend_p"], key=pre["trend_p"].get)
    m = u["meta"]
    B, H, W = m["burn_in"], m["held_out"], m["window"]
    e = np.asarray(u["burn_epochs"], dtype=float)
    y = np.asarray(u["burn_" + name]).mean(0)
    keep = e >= e[-1] / 2
    h = pre["halves"][name]
    t = np.concatenate([e[keep], [B + H + W / 4, B + H + 3 * W / 4]])
    v = np.concatenate([y[keep], [h["first"][0], h["second"][0]]])
    se_diff = math.hypot(h["first"][1], h["second"][1])
    out = {"series": name, "fit": None, "epochs": None}
    try:
        a0 = v[0] - v[-1]
        popt, _ = curve_fit(lambda tt, c, a, tau: c + a * np.exp(-(tt - t[0]) / tau), t, v,
                            p0=(v[-1], a0 if a0 else 1e-6, max(1.0, (t[-1] - t[0]) / 3)), maxfev=20000)
    except (RuntimeError, ValueError):
        return out
    c, a, tau = (float(x) for x in popt)
    if not (math.isfinite(tau) and tau > 0 and se_diff > 0):
        return out
    out["fit"] = {"c": c, "a": a, "tau_epochs": tau, "t0": float(t[0])}
    # drift between the window's halves when the window starts at s: |a|/tau·exp(−(s − t0)/tau)·W/2 ≤ se_diff
    ratio = abs(a) * W / (2 * tau * se_diff)
    if ratio <= 1:
        out["epochs"] = int(B)
    else:
        out["epochs"] = int(math.ceil(t[0] + tau * math.log(ratio) - H))
    return out


def power(test: dict[str, Any], chains: int, T: int, reps: int, seed: int) -> dict[str, Any]:
    """Power of the same test: against the OU positive control at 2–4 of the data's standard errors of ρ
    (simulated, with its size at ρ = 0), and at the data's own standard error (non-central F): the
    smallest ρ detected with power 0.8, and how much more data detecting the observed ρ would take."""
    r1, r2 = (min(0.999, max(-0.999, r)) for r in test["lag1_autocorrelation"])
    rhos = [m * test["rho_se"] for m in (2, 3, 4)]
    curve = ou_power(r1, r2, rhos, chains=chains, T=T, lag=test["lag"], blocks=test["blocks_per_chain"], reps=reps,
                     seed=seed).as_dict()
    observed = abs(test["rho"])
    k80 = detectable_effect(tuple(test["df"]))
    curve["rho_80_data"] = k80 * test["rho_se"]
    curve["power_data"] = [f_test_power(m, tuple(test["df"])) for m in (2, 3, 4)]
    # the standard error falls as 1/sqrt(data): the data needed to detect the observed ρ with power 0.8
    curve["data_factor_for_observed"] = (curve["rho_80_data"] / observed) ** 2 if observed > 0 else float("inf")
    return curve


def unit_summary(u: dict[str, Any], reps: int, seed: int) -> dict[str, Any]:
    m = u["meta"]
    spe = m["steps_per_epoch"]
    out: dict[str, Any] = {k: m[k] for k in ("setting", "lr", "weight_decay", "group", "momentum", "burn_in",
                                             "held_out", "window", "steps_per_epoch", "d", "batchnorm", "timings_s")}
    out["chains"] = int(u["projections"].shape[0])
    burn = {}
    for k in ("loss", "grad_norm", "weight_norm"):
        e, v = _downsample(u["burn_epochs"], u["burn_" + k].mean(0))
        burn["epochs"], burn[k] = e, v
    out["burn"] = burn
    out["window_means"] = {k: _mean_se(u[k].mean(1)) for k in ("loss", "error", "grad_norm", "weight_norm")}
    out["premise"] = premise(u)
    if not out["premise"]["stationary"]:
        out["burn_in_needed"] = burn_in_needed(u, out["premise"])
    if len(u["matched_temperature"]):
        t = np.asarray(u["matched_temperature"])
        out["matched_temperature"] = {"burn_start": float(t[0]), "window_mean": float(t[-m["window"]:].mean()),
                                      "window_first_half": float(t[-m["window"]:-m["window"] // 2].mean()),
                                      "window_second_half": float(t[-m["window"] // 2:].mean())}
    tests: dict[str, Any] = {}
    names = list(DIRECTION_SETS)
    for i, name in enumerate(names):
        P = u["projections"][:, :, 2 * i:2 * i + 2]
        tests[name] = {}
        for label, lag in (("step", 1), ("epoch", spe)):
            t = irreversibility(P, lag)
            # the power matters where a test is read: only when the premise holds (it costs minutes)
            if label == "step":
                t["power"] = power(t, P.shape[0], P.shape[1], reps, seed + 17 * i) if out["premise"]["stationary"] else None
            tests[name][label] = t
    out["tests"] = tests
    primary = [tests[n]["step"]["p"] for n in names]
    out["primary_p_bonferroni"] = float(min(1.0, len(names) * min(primary)))
    out["verdict"] = verdict_sentence(out)
    return out


def compare_with_control(sgd: dict[str, Any], control: dict[str, Any]) -> dict[str, Any]:
    """SGD's a₁₂ against control (b)'s in the same plane (shared directions, independent chains): two-sided
    normal test of the difference, per plane, and Bonferroni over the planes. The control is reversible up to
    the discretisation of its Langevin dynamics at this η; the difference is SGD's excess irreversibility."""
    from scipy import stats

    out: dict[str, Any] = {"planes": {}}
    for plane in sgd["tests"]:
        a, b = sgd["tests"][plane]["step"], control["tests"][plane]["step"]
        diff, se = a["a12"] - b["a12"], math.hypot(a["se"], b["se"])
        z = diff / se if se > 0 else float("nan")
        out["planes"][plane] = {"diff": diff, "se": se, "z": z, "p": float(2 * stats.norm.sf(abs(z)))}
    out["p_bonferroni"] = float(min(1.0, len(out["planes"]) * min(v["p"] for v in out["planes"].values())))
    out["control_stationary"] = bool(control["premise"]["stationary"])
    return out


def verdict_sentence(s: dict[str, Any]) -> str:
    """One sentence with the numbers: detectably irreversible, not detectably (with the power), or undecided."""
    who = f"{s['group']} at η = {s['lr']:g}, λ = {s['weight_decay']:g}"
    pre = s["premise"]
    if not pre["stationary"]:
        worst = min(pre["trend_p"], key=pre["trend_p"].get)
        need = (s.get("burn_in_needed") or {}).get("epochs")
        longer = (f"a burn-in of roughly {int(float(f'{need:.2g}')):,} epochs (an exponential fit to the relaxation; this run had "
                  f"{s['burn_in']:,}) would be needed" if need and need > s["burn_in"]
                  else "a longer burn-in is needed (how much longer, this run cannot tell)")
        return (f"{who}: undecided, the window is not stationary (trend in {worst.replace('_', ' ')}: "
                f"p = {pre['trend_p'][worst]:.2g}); {longer} before the test means anything.")
    best = min(s["tests"], key=lambda n: s["tests"][n]["step"]["p"])
    t = s["tests"][best]["step"]
    vs = s.get("vs_control_b")
    beyond = ""
    if vs is not None:
        bp = min(vs["planes"], key=lambda n: vs["planes"][n]["p"])
        beyond = (" Beyond the reversible control (b) in the same planes: "
                  + ("detectably, " if vs["p_bonferroni"] < ALPHA else "not detectably, ")
                  + f"smallest p = {vs['p_bonferroni']:.2g} (Bonferroni; {bp} plane, z = {vs['planes'][bp]['z']:+.1f})"
                  + ("" if vs["control_stationary"] else ", but the control's window is not stationary") + ".")
    if s["primary_p_bonferroni"] < ALPHA:
        return (f"{who}: detectably irreversible: in the {best} plane ρ = {t['rho']:.2e} ± {t['rho_se']:.1e} per step, "
                f"p = {s['primary_p_bonferroni']:.2g} (Bonferroni over {len(s['tests'])} planes), "
                f"{s['chains']} chains × {s['window']} epochs." + beyond)
    pw = s["tests"][best]["step"]["power"]
    if pw is None:
        raise ValueError("a stationary unit's summary must hold the power of its test")
    factor = pw["data_factor_for_observed"]
    more = "more than 100×" if not math.isfinite(factor) or factor > 100 else f"about {max(1.0, factor):.1f}×"
    return (f"{who}: not detectably irreversible at this sample size: smallest p = {s['primary_p_bonferroni']:.2g} "
            f"(Bonferroni), |ρ| ≤ {abs(t['rho']) + 2 * t['rho_se']:.1e} per step in the {best} plane; at this sample size "
            f"the test detects ρ = {pw['rho_80_data']:.1e} with power 0.8 (the OU positive control already at "
            f"{pw['rho_80']:.1e}), and the observed ρ would need {more} the data."
            + beyond)


def _unit_job(job) -> dict[str, Any]:
    out, setting, group, reps, seed = job
    return unit_summary(load_unit(out, setting, group), reps, seed)


def summarise(out, *, reps: int = 100, seed: int = 0, write: bool = True, workers: int = 1) -> dict[str, Any]:
    """Reduce the run in ``out`` to the summary (written to ``out/summary.json`` unless ``write=False``);
    ``workers`` processes share the units (the result does not depend on it)."""
    out = Path(out)
    p = SteadyProtocol.from_dict(json.loads((out / "protocol.json").read_text()))
    res: dict[str, Any] = {"format": FORMAT, "protocol": p.as_dict(),
                           "data": json.loads((out / "data.json").read_text()), "starts": {}, "units": {},
                           "alpha": ALPHA, "trend_alpha": TREND_ALPHA, "power_reps": reps}
    for bn in sorted({g != "nobn" for _, g in p.units()}):
        st = load_start(out, bn)
        res["starts"]["bn" if bn else "nobn"] = {
            "pretrain_error": st["error"], "pretrain_epochs": st["epochs"],
            "noise_values": st["noise_values"].tolist(), "hessian_values": st["hessian_values"].tolist()}
    jobs = [(str(out), s.name, g, reps, seed) for s, g in p.units()]
    if workers <= 1:
        done = [_unit_job(j) for j in jobs]
    else:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
            done = list(pool.map(_unit_job, jobs))
    for (s, g), summ in zip(p.units(), done):
        summ["relaxation_epochs"] = p.relaxation_epochs(s, momentum=summ["momentum"])
        res["units"].setdefault(s.name, {})[g] = summ
    for groups in res["units"].values():
        if "sgd" in groups and "langevin" in groups:
            groups["sgd"]["vs_control_b"] = compare_with_control(groups["sgd"], groups["langevin"])
            groups["sgd"]["verdict"] = verdict_sentence(groups["sgd"])
    if write:
        files.write_json(out / SUMMARY, res)
    return res


def load_summary(folder) -> dict[str, Any]:
    """The summary of a steady-state run in ``folder`` (``summary.json``), checked for its format."""
    return files.read_summary(Path(folder) / SUMMARY, FORMAT,
                              "python -m vdlib.experiments steady-state --summarize FOLDER")


# --------------------------------------------------------------------------------------------------
# tables for the chapters (rows of strings; the chapter renders them)
# --------------------------------------------------------------------------------------------------
def _units(res):
    """(setting, group, unit summary) in the protocol's order of settings and the order of GROUPS."""
    order = [Setting(float(x["lr"]), float(x["weight_decay"]), tuple(x["groups"])).name
             for x in res["protocol"]["settings"]]
    for setting in sorted(res["units"], key=lambda n: order.index(n) if n in order else len(order)):
        groups = res["units"][setting]
        for g in sorted(groups, key=lambda n: list(GROUPS).index(n)):
            yield setting, g, groups[g]


def _pm(ms, fmt=".3g"):
    return f"{ms[0]:{fmt}} ± {ms[1]:.1g}"


PROTOCOL_HEADERS = ["η", "λ", "group", "momentum", "τ (epochs)", "burn-in", "held out", "window", "chains",
                    "steps recorded per chain"]


def protocol_rows(res) -> list[tuple]:
    rows = []
    for _, g, s in _units(res):
        tau = s["relaxation_epochs"]  # of the scale of the weights before BatchNorm: none without it
        rows.append((f"{s['lr']:g}", f"{s['weight_decay']:g}", g, f"{s['momentum']:g}",
                     "—" if not s["batchnorm"] else "∞" if not math.isfinite(tau) else f"{tau:,.0f}", f"{s['burn_in']:,}", f"{s['held_out']:,}",
                     f"{s['window']:,}", s["chains"], f"{s['window'] * s['steps_per_epoch'] + 1:,}"))
    return rows


PREMISE_HEADERS = ["η", "λ", "group", "trend p: loss / ‖∇f‖ / ‖θ‖", "‖θ‖ 1st → 2nd half", "loss 1st → 2nd half",
                   "training error", "FDR1 ⟨θ·g⟩ vs (1+μ)/(2η)⟨‖Δθ‖²⟩", "stationary"]


def premise_rows(res) -> list[tuple]:
    rows = []
    for _, g, s in _units(res):
        pr = s["premise"]
        tp = pr["trend_p"]
        h = pr["halves"]
        f = pr["fdr1"]
        rows.append((f"{s['lr']:g}", f"{s['weight_decay']:g}", g,
                     f"{tp['loss']:.2g} / {tp['grad_norm']:.2g} / {tp['weight_norm']:.2g}",
                     f"{h['weight_norm']['first'][0]:.3f} → {h['weight_norm']['second'][0]:.3f}",
                     f"{h['loss']['first'][0]:.4g} → {h['loss']['second'][0]:.4g}",
                     f"{s['window_means']['error'][0]:.2%}",
                     f"{_pm(f['lhs'])} vs {_pm(f['rhs'])} (ratio {f['ratio']:.2f})",
                     "yes" if pr["stationary"] else "**no**"))
    return rows


TEST_HEADERS = ["η", "λ", "group", "plane", "ρ ± se (lag 1 step)", "p", "ρ (lag 1 epoch)", "p (epoch)",
                "chains with p < 0.05", "ρ detected with power 0.8 (data's s.e. / OU control)"]


def test_rows(res, groups=None) -> list[tuple]:
    rows = []
    for _, g, s in _units(res):
        if groups is not None and g not in groups:
            continue
        for plane, t in s["tests"].items():
            st, ep = t["step"], t["epoch"]
            pc = st["per_chain"]["p"]
            rows.append((f"{s['lr']:g}", f"{s['weight_decay']:g}", g, plane, f"{st['rho']:+.2e} ± {st['rho_se']:.1e}",
                         f"{st['p']:.2g}", f"{ep['rho']:+.2e}", f"{ep['p']:.2g}",
                         f"{sum(p < 0.05 for p in pc)}/{len(pc)}" if pc else "—",
                         f"{st['power']['rho_80_data']:.1e} / {st['power']['rho_80']:.1e}" if st["power"]
                         else "— (premise fails)"))
    return rows


def verdicts(res) -> dict[str, dict[str, str]]:
    """``{setting: {group: sentence}}``."""
    out: dict[str, dict[str, str]] = {}
    for setting, g, s in _units(res):
        out.setdefault(setting, {})[g] = s["verdict"]
    return out


CONTROL_HEADERS = ["η", "λ", "plane", "a₁₂ SGD", "a₁₂ control (b)", "difference ± se", "z", "p"]


def control_rows(res) -> list[tuple]:
    """SGD against the reversible control (b), plane by plane (shared directions)."""
    rows = []
    for setting, g, s in _units(res):
        vs = s.get("vs_control_b")
        if g != "sgd" or vs is None:
            continue
        ctrl = res["units"][setting]["langevin"]
        for plane, v in vs["planes"].items():
            rows.append((f"{s['lr']:g}", f"{s['weight_decay']:g}", plane, f"{s['tests'][plane]['step']['a12']:+.2e}",
                         f"{ctrl['tests'][plane]['step']['a12']:+.2e}", f"{v['diff']:+.2e} ± {v['se']:.1e}",
                         f"{v['z']:+.1f}", f"{v['p']:.2g}"))
    return rows
