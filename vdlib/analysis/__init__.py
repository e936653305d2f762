"""Analysis: statistics of recorded trajectories (NumPy and SciPy only: no networks, no plotting).

* :mod:`vdlib.analysis.trajectory` — the estimators: increment spectrum, autocorrelation, EWMA, PCA,
  the lagged-covariance asymmetry, area rates, error bars from independent chains, Yaida's FDR1.
* :mod:`vdlib.analysis.irreversibility` — a calibrated test of time-reversal symmetry (detailed
  balance) for trajectories projected on fixed directions, a stationarity check that warns before
  such a test is misread, and a lower bound on the entropy-production rate.
* :mod:`vdlib.analysis.power` — the test's positive control: a 2-D Ornstein–Uhlenbeck chain with a
  known irreversibility, and the test's power against it at the sample size of a claim.
* :mod:`vdlib.analysis.summaries` — a recorded group of chains reduced to the statistics the Part IV-b
  chapters plot (:func:`~vdlib.analysis.summaries.group_summary`); projections that need the network
  come in as a function (the experiment passes :func:`vdlib.deep.chains.top_directions`).
* :mod:`vdlib.analysis.tails` — the tail index of i.i.d. samples (log-of-block-sums estimator) and
  where it misleads: finite-variance tails, sums over a batch, pooled coordinates (ch. 13).
* :mod:`vdlib.analysis.ess` — effective sample sizes of a Markov chain's samples (Geyer's initial
  monotone sequence, batch means), calibrated on AR(1) (ch. 15).
* :mod:`vdlib.analysis.diffusion_exponent` — the anomalous-diffusion exponent c of
  ‖θ_t − θ_t₀‖² ∝ (t − t₀)^c from independent chains, calibrated on Brownian, fractional Brownian,
  ballistic and Ornstein–Uhlenbeck paths (ch. 16).

The irreversibility test's names are importable from here; the other modules load on first use.
"""
from __future__ import annotations

import importlib

from .irreversibility import (
    IrreversibilityTest,
    EntropyProduction,
    NonStationaryWarning,
    StationarityCheck,
    entropy_production_bound,
    irreversibility_test,
    stationarity_check,
)

_SUBMODULES = ("trajectory", "irreversibility", "power", "summaries", "tails", "ess", "diffusion_exponent")


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'vdlib.analysis' has no attribute {name!r}")


__all__ = [
    "IrreversibilityTest",
    "EntropyProduction",
    "NonStationaryWarning",
    "StationarityCheck",
    "entropy_production_bound",
    "irreversibility_test",
    "stationarity_check",
    *_SUBMODULES,
]
