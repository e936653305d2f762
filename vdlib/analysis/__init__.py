"""Analysis: statistics of recorded trajectories (no networks, no plotting).

* :mod:`vdlib.analysis.irreversibility` — a calibrated test of time-reversal symmetry
  (detailed balance) for trajectories projected on fixed directions, a stationarity check that
  warns before such a test is misread, and a lower bound on the entropy-production rate.

The plain estimators (increment spectrum, autocorrelation, PCA, the lagged-covariance asymmetry
itself) are in :mod:`vdlib.trajectory`.
"""
from .irreversibility import (
    IrreversibilityTest,
    EntropyProduction,
    NonStationaryWarning,
    StationarityCheck,
    entropy_production_bound,
    irreversibility_test,
    stationarity_check,
)

__all__ = [
    "IrreversibilityTest",
    "EntropyProduction",
    "NonStationaryWarning",
    "StationarityCheck",
    "entropy_production_bound",
    "irreversibility_test",
    "stationarity_check",
]
