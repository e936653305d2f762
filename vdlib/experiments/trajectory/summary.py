""":func:`summarize` and :func:`load_summary`: a trajectory artifact reduced to the statistics the chapters
plot (computed by :func:`vdlib.analysis.summaries.group_summary`), written as ``summary.npz`` + ``meta.json``."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ... import checks, files, provenance
from ...analysis import summaries
from ...analysis.summaries import PLANES
from ...deep import chains as ch
from ...progress import progress as progress_bar
from .protocol import Protocol, _seed
from .pretraining import load_data
from .runner import TrajectoryResult, load

# --------------------------------------------------------------------------------------------------
# summary: the statistics the chapters plot, small enough to commit
# --------------------------------------------------------------------------------------------------
SUMMARY_FORMAT = "vdlib.experiments.trajectory.summary/1"


@dataclass
class TrajectorySummary:
    """What :func:`summarize` computed: ``arrays`` (``"<group>/<statistic>"`` -> numpy array) and ``meta``.

    ``meta`` holds the artifact's metadata (seed, versions, device, data source, protocol, date) under
    ``"artifact"`` and the summary's own settings under ``"summary"``. ``groups`` lists the groups.
    """

    arrays: dict[str, np.ndarray]
    meta: dict[str, Any]
    folder: Path | None = None

    @property
    def groups(self) -> list[str]:
        return list(self.meta["summary"]["groups"])

    @property
    def protocol(self) -> Protocol:
        return Protocol.from_dict(self.meta["artifact"]["protocol"])

    def __getitem__(self, key: str) -> np.ndarray:
        if key not in self.arrays:
            raise KeyError(f"no statistic {key!r} in this summary; keys look like 'sgd/spectrum_mean' "
                           f"(groups: {', '.join(self.groups)})")
        return self.arrays[key]

    def get(self, group: str, name: str) -> np.ndarray:
        return self[f"{group}/{name}"]

    def label(self) -> str:
        """``profile …, seed …, <dataset> (<source>)``: what the chapters print beside every number."""
        a = self.meta["artifact"]
        data = a.get("data", {})
        return (f"profile {a['protocol']['profile']}, seed {a['protocol']['seed']}, "
                f"{data.get('dataset', '?')} ({data.get('source', '?')})")


def summarize(source, out=None, *, n_bins: int = 1000, n_lags: int = 100, n_points: int = 400,
              com: float = 100.0, area_lags=(1, 2, 5, 10, 100, 1000), n_blocks: int = 4, k_pc: int = 10,
              planes=PLANES, chunk: int = 64, data_root=None, progress: bool = False) -> TrajectorySummary:
    """Reduce a trajectory artifact to the statistics the Part IV-b chapters plot (a few MB at most).

    Parameters
    ----------
    source : path or TrajectoryResult
        An artifact folder written by :func:`run` (weights read memory-mapped, a block of coordinates
        at a time), or a result in memory.
    out : path, optional
        Write ``summary.npz`` and ``meta.json`` there (default for a folder:
        ``artifacts/summaries/trajectory_<profile>``; for a result in memory: nothing is written).
    n_bins : int
        Increment-spectrum bins kept (the paper plotted the first 1000).
    n_lags : int
        Autocorrelation lags ``arange(0, T, T // n_lags)`` (the paper's 100). Coordinates that never
        move (e.g. the weights of a dead ReLU unit) have no autocorrelation and are left out of its
        mean and sd (the spectrum keeps them: their increments are zero).
    n_points : int
        Log-spaced epochs at which the series (EWMA of ‖∇f‖/√d, loss, error, ‖θ‖) are stored.
    com : float
        Centre of mass of the EWMA of ‖∇f‖/√d (the paper's 100).
    area_lags : sequence of int
        Lags τ (epochs) of the time-reversal asymmetry of the 2-D projections (those ≥ T are dropped).
    n_blocks : int
        Contiguous blocks per chain for a within-chain spread (the only spread for a one-chain group).
    k_pc : int
        Principal components kept per chain (explained variances, and the top-k subspace asymmetry).
    planes : subset of ("pc", "noise", "hessian")
        2-D projections: top-2 PCs of each chain's trajectory; top-2 eigenvectors of SGD's mini-batch
        noise covariance (∝ D) or of the Hessian, both at the chain's last recorded weights.

    Returns
    -------
    TrajectorySummary
        Arrays per group ``g`` (``C`` chains; all after the burn-in unless said otherwise):
        ``g/spectrum_freq`` (bins), ``g/spectrum_mean``, ``g/spectrum_sd`` (C × bins: mean/sd over the
        coordinates); ``g/acf_lags``, ``g/acf_mean``, ``g/acf_sd`` (C × lags), ``g/acf_band95``,
        ``g/acf_band99``; ``g/epochs`` (log-spaced rows from 0, burn-in included, as Fig. 3c) with
        ``g/grad_norm_ewma``, ``g/grad_norm``, ``g/loss``, ``g/error``, ``g/weight_norm`` (C × points);
        ``g/loss_mean``, ``g/loss_sd``, ``g/grad_norm_mean``, ``g/weight_norm_start``/``_end`` (C);
        ``g/fdr1_lhs``, ``g/fdr1_rhs`` (C: ⟨θ·∇f⟩ and (1+μ)/(2η)⟨‖Δθ‖²⟩), ``g/fdr1_lhs_step`` (C: ⟨θ·g⟩
        with the gradient the step applied), ``g/norm_sq_growth_per_step`` (C: (‖θ_end‖² − ‖θ_burn-in‖²)
        per step), ``g/start_weights``/``g/final_weights`` (C × d: rows burn-in and last), ``g/steps_per_epoch``, ``g/lr``, ``g/momentum``; ``g/pc_variance`` (C × k_pc);
        ``g/area_lags``; for each plane P: ``g/asym_P`` (C × lags: A₁₂(τ)/√(C₁₁(0)C₂₂(0)) of the
        projection), ``g/asym_P_blocks`` (C × n_blocks × lags), ``g/area_rate_P`` (C: ⟨y₁ẏ₂ − y₂ẏ₁⟩
        per epoch, :func:`vdlib.analysis.trajectory.area_rate`) and ``g/area_rate_P_norm`` (the same divided by
        √(C₁₁C₂₂)), ``g/top_eigenvalues_P`` (C × 2, noise and hessian planes); ``g/asym_subspace`` (C × lags: ‖A(τ)‖_F / ‖C(0)‖_F in the top-k_pc PC subspace).
    """
    if isinstance(source, TrajectoryResult):
        res = source
    else:
        res = load(source)
    p = res.protocol
    if res.meta.get("status") == "diverged":
        where = f" {res.folder}" if res.folder is not None else ""
        raise ValueError(f"the run{where} diverged ({res.meta.get('error', 'see its meta.json')}); its records "
                         "stop there and hold no steady state to summarize: rerun it with a lower learning rate")
    unknown = [pl for pl in planes if pl not in PLANES]
    if unknown:
        raise ValueError(f"planes must be chosen from {PLANES}, got {unknown}")
    checks.integer(n_bins, "n_bins", minimum=1)
    checks.integer(n_lags, "n_lags", minimum=1)
    checks.integer(n_points, "n_points", minimum=2)
    checks.integer(n_blocks, "n_blocks", minimum=1)
    checks.integer(k_pc, "k_pc", minimum=2)
    t_start = time.perf_counter()
    need_data = any(pl != "pc" for pl in planes)
    X = y = None
    if need_data:
        X, y, info = load_data(p, data_root)
        want = res.meta.get("data", {}).get("fingerprint")
        if want is not None and abs(info["fingerprint"] - want) > 1e-6 * abs(want):
            raise ValueError("the data found now differ from the artifact's (fingerprint mismatch): pass the "
                             "artifact's data_root, or planes=('pc',)")
    arrays: dict[str, np.ndarray] = {}
    groups = [g for g in p.controls if g in res.records]
    if not groups:
        raise ValueError("the artifact has no recorded group yet: wait for the run to write its first checkpoint")
    it = groups
    if progress:
        it = progress_bar(groups, enabled=True, desc="summarize")
    for g in it:
        lay = ch.layout(p.model, len(p.classes), batchnorm=(g != "nobn"))

        def directions(plane, c, weights, lay=lay):
            return ch.top_directions(X, y, lay, weights, plane, k=2, seed=_seed(p, 6, c), batch_size=p.batch_size,
                                     replacement=p.replacement, noise_batches=p.noise_batches)

        stats = summaries.group_summary(res.records[g], p.burn_in, name=g, n_bins=n_bins, n_lags=n_lags,
                                        n_points=n_points, com=com, area_lags=area_lags, n_blocks=n_blocks,
                                        k_pc=k_pc, planes=planes, chunk=chunk, directions=directions)
        arrays.update({f"{g}/{k}": v for k, v in stats.items()})
    meta_art = {k: res.meta.get(k) for k in ("format", "protocol", "data", "versions", "device", "command",
                                             "status", "epochs_done", "init_seeds", "pretrain", "seconds",
                                             "started", "finished", "date")
                if k in res.meta}
    meta_art["protocol"] = p.as_dict()
    meta_art["controls"] = {g: {k: v for k, v in d.items() if k != "seeds"}
                            for g, d in res.meta.get("controls", {}).items()}
    if res.folder is not None:
        mp = Path(res.folder) / "meta.json"
        if mp.is_file():
            meta_art["meta_json_modified"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(mp.stat().st_mtime))
    meta = {"format": SUMMARY_FORMAT, "artifact": meta_art,
            "summary": {"groups": groups, "n_bins": n_bins, "n_lags": n_lags, "n_points": n_points, "com": com,
                        "area_lags": list(map(int, area_lags)), "n_blocks": n_blocks, "k_pc": k_pc,
                        "planes": list(planes),
                        "plane_weights": "noise/hessian planes: eigenvectors at each chain's last recorded weights",
                        "source": str(res.folder) if res.folder is not None else "in memory",
                        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                        "seconds": time.perf_counter() - t_start, "versions": provenance.versions()}}
    summary = TrajectorySummary(arrays=arrays, meta=meta)
    if out is None and res.folder is not None:
        out = Path("artifacts") / "summaries" / f"trajectory_{p.profile}"
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        files.save_npz(out / "summary.npz", **arrays)
        files.write_json(out / "meta.json", meta)
        summary.folder = out
    return summary


def load_summary(folder) -> TrajectorySummary:
    """Load a summary folder written by :func:`summarize` (``summary.npz`` + ``meta.json``)."""
    folder = Path(folder)
    if not (folder / "summary.npz").is_file() or not (folder / "meta.json").is_file():
        raise FileNotFoundError(f"no trajectory summary in {folder}: create it with "
                                "`python -m vdlib.experiments trajectory --summarize ARTIFACT_FOLDER`")
    fix = ("recreate the summary with `python -m vdlib.experiments trajectory --summarize ARTIFACT_FOLDER "
           f"--summary-out {folder}`")
    meta = files.load_json(folder / "meta.json", what="trajectory summary's metadata", fix=fix, keys=("format",))
    if meta["format"] != SUMMARY_FORMAT:
        raise files.DamagedFile(folder / "meta.json", f"is not a {SUMMARY_FORMAT} summary", fix)
    arrays = files.load_npz(folder / "summary.npz", what="trajectory summary", fix=fix)
    return TrajectorySummary(arrays=arrays, meta=meta, folder=folder)
