"""Summaries of recorded trajectories: the statistics the Part IV-b chapters plot, from a group's records.

:func:`group_summary` reduces one group of chains (a :class:`vdlib.deep.chains.Record`, or anything with
its arrays: ``weights`` (C, T+1, d), ``loss``, ``error``, ``grad_norm``, ``theta_dot_grad``,
``step_sq``, ``theta_dot_step_grad``, ``settings``, ``epochs_done``) to a few MB of arrays: the
increment spectrum and autocorrelation (mean and sd over coordinates), the top principal components,
the time-reversal asymmetry and area rate of 2-D projections, the gradient-norm, loss, error and
weight-norm series at log-spaced epochs, and Yaida's FDR1 terms. It reads the weights a block of
coordinates or of time at a time, so memory-mapped records of 10⁵ epochs fit in memory.

Projections on planes other than the trajectory's own principal components (the top eigenvectors of
SGD's noise covariance or of the Hessian) need the network: the caller passes them as a function
``directions(plane, chain, weights) -> (B, eigenvalues)`` (the experiment uses
:func:`vdlib.deep.chains.top_directions`), so this module needs only NumPy.

:func:`vdlib.experiments.trajectory.summarize` does the I/O around it (loading the artifact and the
data, the metadata, ``summary.npz``).
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from . import trajectory as tj

__all__ = ["PLANES", "log_points", "spectrum_acf_pcs", "asymmetry_stats", "group_summary"]

#: The 2-D projections a summary can hold: the top-2 PCs of each chain's trajectory, the top-2
#: eigenvectors of SGD's mini-batch noise covariance (∝ D), or of the Hessian.
PLANES = ("pc", "noise", "hessian")


def log_points(T: int, n: int) -> np.ndarray:
    """About ``n`` distinct row indices 0..T, log-spaced (plus 0 and T)."""
    pts = np.unique(np.concatenate([[0, T], np.round(np.geomspace(1, max(T, 1), n)).astype(int)]))
    return pts[pts <= T]


def spectrum_acf_pcs(W: np.ndarray, n_bins: int, lags: np.ndarray, k_pc: int, chunk: int):
    """Increment spectrum and autocorrelation (mean/sd over coordinates) and the top PCs of one
    chain's T×d trajectory, processed in blocks of ``chunk`` coordinates (memory ~ T·chunk)."""
    T, d = W.shape
    n = T - 1
    nb = min(n_bins, n // 2 + 1)
    s1 = np.zeros(nb)
    s2 = np.zeros(nb)
    a1 = np.zeros(len(lags))
    a2 = np.zeros(len(lags))
    nfft = 1 << int(np.ceil(np.log2(2 * T)))
    mean = np.zeros(d)
    cov = np.zeros((d, d)) if T > 2 * d else None
    cols_used = 0
    for j0 in range(0, d, chunk):
        Xc = np.asarray(W[:, j0:j0 + chunk], dtype=np.float64)
        amp = np.abs(np.fft.rfft(np.diff(Xc, axis=0), axis=0)[:nb]) / np.sqrt(n)
        s1 += amp.sum(1)
        s2 += (amp ** 2).sum(1)
        Y = Xc - Xc.mean(0)
        mean[j0:j0 + Xc.shape[1]] = Xc.mean(0)
        var = np.einsum("ti,ti->i", Y, Y)
        ok = var > 0
        if ok.any():
            F = np.fft.rfft(Y[:, ok], n=nfft, axis=0)
            r = np.fft.irfft(F * np.conj(F), n=nfft, axis=0)[lags] / var[ok]
            a1 += r.sum(1)
            a2 += (r ** 2).sum(1)
            cols_used += int(ok.sum())
    if T <= 2 * d:  # short series: SVD of the centred T×d data (T²d) instead of the d×d covariance (d³)
        _, sv, Vt = np.linalg.svd(np.asarray(W, dtype=np.float64) - mean, full_matrices=False)
        ev = np.zeros(d)
        ev[:len(sv)] = sv ** 2 / max(T - 1, 1)
        V = Vt[:k_pc].T
        if V.shape[1] < k_pc:  # fewer rows than components: pad with zero directions
            V = np.hstack([V, np.zeros((d, k_pc - V.shape[1]))])
    else:  # the d×d covariance in blocks of rows (time)
        for t0 in range(0, T, 8192):
            Y = np.asarray(W[t0:t0 + 8192], dtype=np.float64) - mean
            cov += Y.T @ Y
        cov /= max(T - 1, 1)
        ev, V = np.linalg.eigh(cov)
        V = V[:, ::-1][:, :k_pc]
        ev = ev[::-1]
    sign = np.sign(V[np.argmax(np.abs(V), axis=0), np.arange(V.shape[1])])
    V = V * np.where(sign == 0, 1.0, sign)
    sp_mean = s1 / d
    sp_sd = np.sqrt(np.maximum(s2 - d * sp_mean ** 2, 0) / max(d - 1, 1))
    m = max(cols_used, 1)
    ac_mean = a1 / m
    ac_sd = np.sqrt(np.maximum(a2 - m * ac_mean ** 2, 0) / max(m - 1, 1))
    return sp_mean, sp_sd, ac_mean, ac_sd, V, ev, mean


def asymmetry_stats(Y: np.ndarray, lags, n_blocks: int):
    """For a T×2 projection: the normalised antisymmetric lagged covariance a(τ) = A₁₂(τ)/√(C₁₁C₂₂)
    at each lag, over the whole series and over ``n_blocks`` contiguous blocks (NaN where a block is
    too short), with A = :func:`vdlib.analysis.trajectory.time_reversal_asymmetry`."""
    def one(Z):
        Z = Z - Z.mean(0)
        v = np.sqrt(np.prod(np.einsum("ti,ti->i", Z, Z) / len(Z)))
        out = np.full(len(lags), np.nan)
        for i, lag in enumerate(lags):
            if lag < len(Z) - 1 and v > 0:
                out[i] = tj.time_reversal_asymmetry(Z, int(lag))[0, 1] / v
        return out

    whole = one(Y)
    blocks = np.stack([one(B) for B in np.array_split(Y, n_blocks)]) if len(Y) >= 4 * n_blocks else \
        np.full((n_blocks, len(lags)), np.nan)
    return whole, blocks


def group_summary(rec, burn_in: int, *, name: str = "group", n_bins: int = 1000, n_lags: int = 100,
                  n_points: int = 400, com: float = 100.0, area_lags: Sequence[int] = (1, 2, 5, 10, 100, 1000),
                  n_blocks: int = 4, k_pc: int = 10, planes: Sequence[str] = PLANES, chunk: int = 64,
                  directions: Callable | None = None) -> dict[str, np.ndarray]:
    """The statistics of one group of chains after ``burn_in`` (see :func:`vdlib.experiments.trajectory.summarize`
    for the meaning of each array and of the parameters; ``name`` only labels error messages).

    ``directions(plane, chain, weights)`` returns the d×2 basis and its two eigenvalues for a plane
    other than ``"pc"``, at the chain's last recorded ``weights`` (float64); it is needed only when
    ``planes`` holds such a plane.
    """
    unknown = [pl for pl in planes if pl not in PLANES]
    if unknown:
        raise ValueError(f"planes must be chosen from {PLANES}, got {unknown}")
    if directions is None and any(pl != "pc" for pl in planes):
        raise ValueError("the noise and hessian planes need directions=(plane, chain, weights) -> (basis, "
                         "eigenvalues), e.g. from vdlib.deep.chains.top_directions; or pass planes=('pc',)")
    done = rec.epochs_done
    b0 = burn_in
    if done - b0 < 4:
        raise ValueError(f"group {name!r} has {done} recorded epochs, burn-in {b0}: too few to summarise")
    T = done - b0 + 1
    lags = np.arange(0, T, max(1, T // n_lags))
    alags = np.array([l for l in area_lags if 0 < l < T - 1], dtype=int)
    C = rec.n_chains
    sp_m, sp_s, ac_m, ac_s, pcv = [], [], [], [], []
    asym = {pl: [] for pl in planes}
    asym_b = {pl: [] for pl in planes}
    rate = {pl: [] for pl in planes}
    rate_n = {pl: [] for pl in planes}
    top_vals = {pl: [] for pl in planes if pl != "pc"}
    sub = []
    for c in range(C):
        W = rec.weights[c, b0:done + 1]
        sm, ss, am, asd, V, ev, mu = spectrum_acf_pcs(W, n_bins, lags, min(k_pc, rec.d), chunk)
        sp_m.append(sm), sp_s.append(ss), ac_m.append(am), ac_s.append(asd)
        pcv.append(ev[:k_pc])
        # projections onto the top-k PCs (T × k), in blocks of time
        P = np.concatenate([(np.asarray(W[t0:t0 + 8192], dtype=np.float64) - mu) @ V
                            for t0 in range(0, T, 8192)])
        c0 = np.einsum("ti,tj->ij", P, P) / T
        sub.append([np.linalg.norm(tj.time_reversal_asymmetry(P, int(l))) / np.linalg.norm(c0) for l in alags])
        last = np.asarray(rec.weights[c, done], dtype=np.float64)
        for pl in planes:
            if pl == "pc":
                Y = P[:, :2]
            else:
                B, vals = directions(pl, c, last)
                top_vals[pl].append(vals)
                Y = np.concatenate([(np.asarray(W[t0:t0 + 8192], dtype=np.float64) - mu) @ B
                                    for t0 in range(0, T, 8192)])
            a, ab = asymmetry_stats(Y, alags, n_blocks)
            asym[pl].append(a), asym_b[pl].append(ab)
            r = tj.area_rate(Y).mean
            Z = Y - Y.mean(0)
            rate[pl].append(r)
            rate_n[pl].append(r / np.sqrt(np.prod(np.einsum("ti,ti->i", Z, Z) / len(Z))))
    freq = np.fft.rfftfreq(T - 1)[:len(sp_m[0])]
    out: dict[str, np.ndarray] = {
        "spectrum_freq": freq, "spectrum_mean": np.array(sp_m),
        "spectrum_sd": np.array(sp_s), "spectrum_n_increments": np.array(T - 1),
        "acf_lags": lags, "acf_mean": np.array(ac_m), "acf_sd": np.array(ac_s),
        "acf_band95": np.array(tj.Z95 / np.sqrt(T)),
        "acf_band99": np.array(tj.Z99 / np.sqrt(T)),
        "pc_variance": np.array(pcv), "area_lags": alags,
        "asym_subspace": np.array(sub)}
    for pl in planes:
        out[f"asym_{pl}"] = np.array(asym[pl])
        out[f"asym_{pl}_blocks"] = np.array(asym_b[pl])
        out[f"area_rate_{pl}"] = np.array(rate[pl])
        out[f"area_rate_{pl}_norm"] = np.array(rate_n[pl])
        if pl != "pc":
            out[f"top_eigenvalues_{pl}"] = np.array(top_vals[pl])
    # series at log-spaced epochs (burn-in included, as Fig. 3c)
    pts = log_points(done, n_points)
    gn = np.asarray(rec.grad_norm[:, :done + 1], dtype=np.float64)
    out["epochs"] = pts
    out["grad_norm_ewma"] = tj.ewma(gn.T, com).T[:, pts]
    out["grad_norm"] = gn[:, pts]
    out["loss"] = np.asarray(rec.loss[:, pts], dtype=np.float64)
    out["error"] = np.asarray(rec.error[:, pts], dtype=np.float64)
    out["weight_norm"] = np.stack([np.linalg.norm(np.asarray(rec.weights[c, pts], dtype=np.float64), axis=1)
                                  for c in range(C)])
    post = slice(b0, done + 1)
    loss = np.asarray(rec.loss[:, post], dtype=np.float64)
    out["loss_mean"] = loss.mean(1)
    out["loss_sd"] = loss.std(1, ddof=1)
    out["grad_norm_mean"] = gn[:, post].mean(1)
    out["weight_norm_start"] = np.linalg.norm(np.asarray(rec.weights[:, b0], dtype=np.float64), axis=1)
    out["weight_norm_end"] = np.linalg.norm(np.asarray(rec.weights[:, done], dtype=np.float64), axis=1)
    out["start_weights"] = np.asarray(rec.weights[:, b0], dtype=np.float32)
    out["final_weights"] = np.asarray(rec.weights[:, done], dtype=np.float32)
    eta = np.asarray(rec.settings["lr"], dtype=np.float64)
    mom = np.asarray(rec.settings["momentum"], dtype=np.float64)
    out["fdr1_lhs"] = np.asarray(rec.theta_dot_grad[:, b0:done], dtype=np.float64).mean(1)
    out["fdr1_rhs"] = (1 + mom) / (2 * eta) * np.asarray(rec.step_sq[:, b0:done], dtype=np.float64).mean(1)
    out["fdr1_lhs_step"] = np.asarray(rec.theta_dot_step_grad[:, b0:done], dtype=np.float64).mean(1)
    spe = int(rec.settings["steps_per_epoch"])
    out["steps_per_epoch"] = np.array(spe)
    out["lr"], out["momentum"] = eta, mom
    out["norm_sq_growth_per_step"] = (out["weight_norm_end"] ** 2
                                      - out["weight_norm_start"] ** 2) / ((done - b0) * spe)
    return out
